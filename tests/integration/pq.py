"""Harness for paperq's integration tests: real binaries, a real RabbitMQ, the
fake chat-completions server.  Modelled on mosquitto's test/broker/*.py.

    import pq
    with pq.FakeLLM() as fake, pq.Pipeline("pipeline", fake=fake) as p:
        p.start_ledger()
        p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
        p.run_producer("--input", pq.fixture("records50.jsonl"))
        p.wait_for(lambda: p.report()["papers"]["succeeded"] == 50, 120, "50 papers succeeded")

Environment (set by CTest and scripts/test.sh):
  PQ_BIN_DIR              CMake build dir holding producer/ worker/ ledger/
  PQ_SOURCE_DIR           the source tree
  PAPERQ_TEST_BROKER_URL  the private broker (scripts/broker.sh)
  PQ_BROKER_DIR           its directory, for broker_restart()
  PQ_KEEP_TMP=1           keep every test's temp dir, not only failed ones

One test by hand, against a broker of your own:
    scripts/broker.sh start /tmp/pqb && . /tmp/pqb/env
    PQ_BIN_DIR=build python3 tests/integration/test_pipeline.py
    scripts/broker.sh stop /tmp/pqb
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PQ_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
FAKE_LLM = os.path.join(SOURCE_DIR, "tests", "fake_llm", "fake_llm.py")
BROKER_SH = os.path.join(SOURCE_DIR, "scripts", "broker.sh")
CLUSTER_SH = os.path.join(SOURCE_DIR, "scripts", "cluster.sh")
FAKE_KEY = "test-key"

# Han ideographs (and the kana/CJK-punctuation blocks) that a translation must
# not contain.
CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
FORMULA = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)


def _on_sigterm(signum, frame):
    # Unwind through the context managers so started programs are stopped.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class SetupError(AssertionError):
    """The test environment is missing something: a failure, never a skip."""


def bin_dir():
    d = os.environ.get("PQ_BIN_DIR")
    if not d:
        d = os.path.join(SOURCE_DIR, "build")
        if not os.path.isdir(d):
            raise SetupError("PQ_BIN_DIR is not set: run the tests with ./scripts/test.sh "
                             "(or ctest from the build directory)")
    return d


def program(name):
    """Path of paperq-<name>; fails clearly when it has not been built."""
    path = os.path.join(bin_dir(), name, "paperq-" + name)
    if not os.access(path, os.X_OK):
        raise SetupError("%s is missing or not executable: build first (./scripts/test.sh builds)" % path)
    return path


def broker_url():
    url = os.environ.get("PAPERQ_TEST_BROKER_URL")
    if not url:
        raise SetupError(
            "PAPERQ_TEST_BROKER_URL is not set: integration tests need a real RabbitMQ. "
            "Run them with ./scripts/test.sh, which starts a private broker, or start one "
            "with 'scripts/broker.sh start DIR' and 'source DIR/env' before ctest.")
    return url


def fixture(name):
    return os.path.join(SOURCE_DIR, "tests", "fixtures", name)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def formulas(text):
    """The $...$ and $$...$$ formulas of a text, in order."""
    return FORMULA.findall(text or "")


def cjk_outside_formulas(text):
    """CJK characters left in a translation, ignoring formulas (kept verbatim)."""
    return CJK.findall(FORMULA.sub("", text or ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return lines[-n:]
    except OSError as e:
        return ["(cannot read: %s)" % e]


def _flag(key):
    return "--" + key.replace("_", "-")


class FakeLLM:
    """The fake chat-completions server on a free port.

    Options are fake_llm.py's flags with underscores: FakeLLM(p500=0.2,
    rule=["PAPER-1=400"], latency_ms=50).  require_key defaults to the key the
    Pipeline gives the programs; pass require_key=None to accept any key.
    """

    def __init__(self, **options):
        options.setdefault("require_key", FAKE_KEY)
        self.options = options
        self.proc = None
        self.tmp = None
        self.port = None
        self.base_url = None
        self.log_path = None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="pq-fake-")
        port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "fake_llm.log")
        args = [sys.executable, FAKE_LLM, "--port", "0", "--port-file", port_file]
        for key, value in self.options.items():
            if value is None or value is False:
                continue
            if value is True:
                args.append(_flag(key))
            elif isinstance(value, (list, tuple)):
                for v in value:
                    args += [_flag(key), str(v)]
            else:
                args += [_flag(key), str(value)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None:
                raise SetupError("fake_llm.py exited with %s:\n%s"
                                 % (self.proc.returncode, "\n".join(_tail(self.log_path))))
            if time.monotonic() > deadline:
                raise SetupError("fake_llm.py did not start within 20 s")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port
        self.base_url = self.url + "/v1"
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
        self.proc = None

    def _call(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise AssertionError("fake_llm %s %s: %s %s" % (method, path, e.code, e.read()[:500]))

    def control(self, options):
        """Change options live (same names as the flags); returns the new config."""
        return self._call("POST", "/_control", options)

    def stats(self):
        return self._call("GET", "/_stats")

    def reset_stats(self):
        return self._call("POST", "/_reset_stats", {})


class Proc:
    """A program started by a Pipeline: its Popen and where its output goes."""

    def __init__(self, name, popen, out, err):
        self.name = name
        self.popen = popen
        self.out = out
        self.err = err

    @property
    def pid(self):
        return self.popen.pid

    def poll(self):
        return self.popen.poll()

    def __repr__(self):
        return "<%s pid %d %s>" % (self.name, self.popen.pid,
                                    "running" if self.popen.poll() is None else "exit %s" % self.popen.returncode)


class Pipeline:
    """A temp dir, a unique broker prefix and the programs' environment.

    Every program started here is stopped on exit (SIGTERM, then SIGKILL).  The
    temp dir is deleted unless the block raised (or PQ_KEEP_TMP=1), in which
    case its path is printed.  Queues under the prefix are left on the private
    broker, which scripts/test.sh deletes with its data at the end of the run.
    """

    def __init__(self, name, fake=None, cluster=None, **env):
        self.name = name
        self.fake = fake
        self.cluster = cluster  # a Cluster: its nodes instead of the test broker
        self.extra_env = env
        self.procs = []
        self.tmp = None
        self.seq = 0
        self._dumped = False

    def __enter__(self):
        url = self.cluster.url if self.cluster else broker_url()
        for p in ("producer", "worker", "ledger"):
            program(p)
        self.tmp = tempfile.mkdtemp(prefix="pq-%s-" % self.name)
        self.prefix = "t-%s-%s" % (self.name, secrets.token_hex(3))
        env = dict(os.environ)
        # A stray setting in the developer's shell must not leak into a test.
        for k in list(env):
            if k.startswith("PAPERQ_"):
                del env[k]
        env.update({
            "PAPERQ_BROKER_URL": url,
            "PAPERQ_BROKER_PREFIX": self.prefix,
            "PAPERQ_LEDGER_DB": os.path.join(self.tmp, "ledger.db"),
            "PAPERQ_TRANSLATE_PROVIDER": "openai",
            "PAPERQ_TRANSLATE_API_KEY_ENV": "PQ_FAKE_KEY",
            "PQ_FAKE_KEY": FAKE_KEY,
            "PAPERQ_RETRY_DELAYS_MS": "200,500",
            "PAPERQ_CONFIG": os.path.join(SOURCE_DIR, "config", "paperq.conf"),
        })
        if self.fake is not None:
            env["PAPERQ_TRANSLATE_BASE_URL"] = self.fake.base_url
        env.update({k: str(v) for k, v in self.extra_env.items()})
        self.env = env
        print("pipeline %s: prefix %s, temp dir %s" % (self.name, self.prefix, self.tmp), flush=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        if failed and not self._dumped:
            self.dump_logs()
        self.stop_all()
        if failed or os.environ.get("PQ_KEEP_TMP") == "1":
            print("pipeline %s: kept temp dir %s (logs, ledger.db)" % (self.name, self.tmp), flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    # ---- environment ---------------------------------------------------------
    def _env(self, overrides):
        env = dict(self.env)
        for k, v in overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    # ---- long-running programs ----------------------------------------------------
    def start(self, prog, args, **env):
        self.seq += 1
        base = os.path.join(self.tmp, "%s.%d" % (prog, self.seq))
        out, err = base + ".out", base + ".err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            popen = subprocess.Popen([program(prog)] + list(args), env=self._env(env),
                                     stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                     cwd=self.tmp)
        proc = Proc("%s.%d" % (prog, self.seq), popen, out, err)
        self.procs.append(proc)
        return proc

    def start_ledger(self, *args, **env):
        return self.start("ledger", ["serve"] + list(args), **env)

    def start_worker(self, *args, **env):
        return self.start("worker", list(args), **env)

    def stop(self, proc, timeout=30):
        """SIGTERM, wait, return the exit code (negative: killed by a signal)."""
        p = proc.popen
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.dump_logs()
                raise AssertionError("%s did not exit within %s s of SIGTERM" % (proc.name, timeout))
        return p.returncode

    def kill9(self, proc):
        if proc.popen.poll() is None:
            proc.popen.kill()
        proc.popen.wait()
        return proc.popen.returncode

    def stop_all(self):
        live = [p for p in self.procs if p.popen.poll() is None]
        for p in live:
            p.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in live:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print("pipeline %s: %s ignored SIGTERM for 15 s, killing it" % (self.name, p.name), flush=True)
                p.popen.kill()
                p.popen.wait()

    # ---- one-shot commands ---------------------------------------------------------
    def run(self, prog, args, timeout=120, **env):
        try:
            return subprocess.run([program(prog)] + list(args), env=self._env(env), cwd=self.tmp,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.dump_logs()
            raise AssertionError("paperq-%s %s did not finish within %s s; output so far:\n%s\n%s"
                                 % (prog, " ".join(args), timeout, e.stdout, e.stderr))

    def run_producer(self, *args, timeout=120, **env):
        return self.run("producer", args, timeout=timeout, **env)

    def ledger(self, *args, timeout=60, **env):
        return self.run("ledger", args, timeout=timeout, **env)

    def report(self):
        r = self.ledger("report", "--json")
        if r.returncode != 0:
            raise AssertionError("paperq-ledger report --json exited %d: %s" % (r.returncode, r.stderr.strip()))
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError("paperq-ledger report --json printed no JSON (%s): %r" % (e, r.stdout[:500]))

    # ---- waiting ---------------------------------------------------------------------
    def wait_for(self, predicate, timeout, what, interval=0.2):
        """Poll predicate() until it is true; on timeout raise with the last
        value seen and every process's log tail.  A predicate that raises
        counts as false (say, the ledger DB not created yet)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except AssertionError as e:
                last = "raised: %s" % e
            except Exception as e:  # noqa: BLE001 - reported below
                last = "raised: %r" % e
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        self.dump_logs()
        raise AssertionError("timed out after %s s waiting for %s; last value: %s; processes: %s"
                             % (timeout, what, _short(last), self.procs))

    def wait_exit(self, proc, timeout, what=None):
        try:
            return proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.dump_logs()
            raise AssertionError("%s did not exit within %s s (%s)" % (proc.name, timeout, what or "waiting for exit"))

    def wait_queues_empty(self, timeout=120, settle=1.5, ignore=(".parked",)):
        """Wait until every queue under the prefix (but those ending in
        `ignore`) reads 0 messages for `settle` seconds in a row (the broker's
        queue metrics lag: see queue_depths)."""
        since = [None]
        depths = self.cluster.queue_depths if self.cluster else queue_depths

        def empty():
            busy = {q: n for q, n in depths(self.prefix).items()
                    if n and not q.endswith(tuple(ignore))}
            if busy:
                since[0] = None
                return None
            now = time.monotonic()
            if since[0] is None:
                since[0] = now
            return now - since[0] >= settle
        return self.wait_for(empty, timeout, "every queue under %s empty for %.1f s" % (self.prefix, settle))

    def wait_drained(self, total, timeout=180):
        """Wait until every one of `total` papers is terminal; returns the report."""
        def done():
            rep = self.report()
            pp = rep["papers"]
            ok = (pp["total"] == total and pp["queued"] + pp["running"] + pp["retrying"] == 0
                  and pp["succeeded"] + pp["parked"] == total)
            return rep if ok else None
        return self.wait_for(done, timeout, "all %d papers terminal (succeeded or parked)" % total)

    # ---- diagnostics -----------------------------------------------------------------
    def dump_logs(self, n=40):
        self._dumped = True
        out = sys.stderr
        for p in self.procs:
            for path in (p.out, p.err):
                if os.path.exists(path) and os.path.getsize(path):
                    print("---- %s: last %d lines of %s" % (p, n, path), file=out)
                    for line in _tail(path, n):
                        print("  " + line, file=out)
        if self.fake is not None and self.fake.log_path and os.path.exists(self.fake.log_path):
            print("---- fake_llm log tail", file=out)
            for line in _tail(self.fake.log_path, n):
                print("  " + line, file=out)
            try:
                print("---- fake_llm stats: %s" % json.dumps(self.fake.stats()), file=out)
            except Exception as e:  # noqa: BLE001
                print("---- fake_llm stats unavailable: %r" % e, file=out)
        out.flush()


def _short(v, n=600):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def broker_ctl(*args, timeout=120):
    """rabbitmqctl against the test broker (needs PQ_BROKER_DIR)."""
    d = os.environ.get("PQ_BROKER_DIR")
    if not d:
        raise SetupError("PQ_BROKER_DIR is not set: run the tests with ./scripts/test.sh")
    return subprocess.run(["bash", BROKER_SH, "ctl", d] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def broker_restart(timeout=180):
    """Stop the test broker and start it again on the same port and data."""
    d = os.environ.get("PQ_BROKER_DIR")
    if not d:
        raise SetupError("PQ_BROKER_DIR is not set: run the tests with ./scripts/test.sh")
    r = subprocess.run(["bash", BROKER_SH, "restart", d], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("broker restart failed:\n%s\n%s" % (r.stdout, r.stderr))
    return r


def queue_depths(prefix):
    """{queue name: messages (ready + unacked)} for the queues under prefix.

    These are the broker's metrics, not a live count: quorum queues publish
    them on a tick (scripts/broker.sh sets it to 0.5 s; RabbitMQ's default is
    5 s), so right after a publish a queue can still read 0.  To wait for
    "drained", use Pipeline.wait_queues_empty, which wants the zeros to hold
    for a while, or better a count the test controls (ledger report, fake
    stats)."""
    r = broker_ctl("list_queues", "name", "messages", "--quiet", "--no-table-headers")
    if r.returncode != 0:
        raise AssertionError("rabbitmqctl list_queues failed: %s" % r.stderr)
    return _parse_depths(r.stdout, prefix)


def _parse_depths(stdout, prefix):
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith(prefix):
            out[parts[0]] = int(parts[1])
    return out


class Cluster:
    """A private RabbitMQ cluster of n nodes (scripts/cluster.sh) in a temp
    dir, stopped on exit; its data and logs are kept if the block raised.

        with pq.Cluster(3) as c, pq.Pipeline("x", fake=fake, cluster=c) as p:
            c.kill(1); c.restart(1)

    Nodes are numbered from 1, in the order of c.url's addresses."""

    def __init__(self, n=3):
        self.n = n
        self.dir = None
        self.url = None
        self.ports = []
        self.down = set()

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="pq-cluster-")
        t0 = time.monotonic()
        r = subprocess.run(["bash", CLUSTER_SH, "start", self.dir, str(self.n)], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            self._stop()
            raise SetupError("scripts/cluster.sh start failed:\n%s\n%s" % (r.stdout, r.stderr))
        self.start_s = time.monotonic() - t0
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                m = re.match(r"export PAPERQ_BROKER_URL=(\S+)", line)
                if m:
                    self.url = m.group(1)
        self.ports = [int(re.search(r":(\d+)/?$", u).group(1)) for u in self.url.split(",")]
        print("cluster: %d nodes up in %.1f s (%s)" % (self.n, self.start_s, self.dir), flush=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stop()
        if exc_type is not None or os.environ.get("PQ_KEEP_TMP") == "1":
            print("cluster: kept %s (node data and logs in n1..n%d/)" % (self.dir, self.n), flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def _stop(self):
        subprocess.run(["bash", CLUSTER_SH, "stop", self.dir], capture_output=True, text=True,
                       timeout=300)

    def _run(self, *args, timeout=300):
        r = subprocess.run(["bash", CLUSTER_SH] + [args[0], self.dir] + [str(a) for a in args[1:]],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("cluster.sh %s failed:\n%s\n%s" % (" ".join(map(str, args)), r.stdout,
                                                                     r.stderr))
        return r.stdout

    def kill(self, i):
        """kill -9 node i; returns once its process is gone."""
        self._run("kill", i)
        self.down.add(i)

    def restart(self, i):
        """Bring node i back; returns once it runs in the cluster again."""
        self._run("restart", i)
        self.down.discard(i)

    def up(self):
        return [i for i in range(1, self.n + 1) if i not in self.down]

    def leader(self, queue):
        """The number of the node that leads quorum queue `queue`."""
        return int(self._run("leader", queue).strip())

    def node_of_port(self, port):
        return self.ports.index(port) + 1

    def ctl(self, *args, timeout=120):
        """rabbitmqctl against a running node; returns the CompletedProcess."""
        return subprocess.run(["bash", CLUSTER_SH, "ctl", self.dir, str(self.up()[0])]
                              + [str(a) for a in args], capture_output=True, text=True,
                              timeout=timeout)

    def delete_queues(self, prefix):
        """Deletes every queue under prefix (a finished test's leftovers)."""
        for q in self.queue_depths(prefix):
            self.ctl("delete_queue", q)

    def queue_depths(self, prefix):
        """Like queue_depths(), asked of a running node."""
        r = subprocess.run(["bash", CLUSTER_SH, "ctl", self.dir, str(self.up()[0]), "list_queues",
                            "name", "messages", "--quiet", "--no-table-headers"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("rabbitmqctl list_queues failed: %s" % r.stderr)
        return _parse_depths(r.stdout, prefix)


def main(test_module_name="__main__"):
    """Run a test script's unittest cases; exit non-zero on failure."""
    import unittest
    prog = unittest.main(module=test_module_name, exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
