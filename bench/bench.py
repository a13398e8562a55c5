#!/usr/bin/env python3
"""paperq benchmarks: end-to-end throughput and CPU per paper, latency
efficiency at hundreds of requests in flight, rate-limit convergence, ledger
ingest.  Prints figures, never pass/fail.  Run it through bench/run.sh, which
builds, starts a private RabbitMQ and exports what this script needs:

  PAPERQ_TEST_BROKER_URL, PQ_BROKER_DIR   the private broker (scripts/broker.sh)
  PQ_BIN_DIR                              the Release build dir

    bench/run.sh                      # everything (~20 min on 2 cores), writes docs/benchmarks.md
    bench/run.sh --quick              # smaller N and shorter windows (~5 min), no doc unless --doc
    bench/run.sh e2e latency          # a subset; its sections of the doc are updated

Standard library only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FAKE_LLM = os.path.join(ROOT, "tests", "fake_llm", "fake_llm.py")
LOADGEN = os.path.join(ROOT, "tests", "fake_llm", "loadgen.py")
BROKER_SH = os.path.join(ROOT, "scripts", "broker.sh")
RESULTS = os.path.join(HERE, "results.json")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
CLK = os.sysconf("SC_CLK_TCK")
KEY_ENV, KEY = "PQ_BENCH_KEY", "bench-key"
SECTIONS = ("e2e", "latency", "ratelimit", "ledger", "memory", "rehearsal")


def _on_sigterm(signum, frame):
    # Unwind through the finally blocks so every started program is stopped.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class BenchError(Exception):
    """A run could not be measured (a program failed, a deadline passed)."""


# ---- output: everything printed also goes into the section's raw log -------
class Out:
    def __init__(self):
        self.lines = []

    def say(self, fmt="", *args):
        line = fmt % args if args else fmt
        print(line, flush=True)
        self.lines.append(line)

    def take(self):
        lines, self.lines = self.lines, []
        return "\n".join(lines)


OUT = Out()
say = OUT.say


# ---- /proc helpers -----------------------------------------------------------------
def proc_cpu_s(pid):
    """utime + stime of a live process in seconds, None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK


def broker_pid():
    d = os.environ.get("PQ_BROKER_DIR")
    try:
        with open(os.path.join(d, "beam.pid")) as f:
            return int(f.read().strip())
    except (OSError, TypeError, ValueError):
        return None


def broker_ctl(*args, timeout=120):
    return subprocess.run(["bash", BROKER_SH, "ctl", os.environ["PQ_BROKER_DIR"]] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def delete_queues(prefix, names=("jobs", "ledger")):
    """Drop what a run leaves in the broker (unworked jobs) so later runs
    measure a broker that is not carrying it."""
    for n in names:
        broker_ctl("delete_queue", "%s.%s" % (prefix, n))


# ---- programs -------------------------------------------------------------------------
class Prog:
    """A started program, reaped with os.wait4 so its rusage (CPU, peak RSS)
    is exact at exit.  Never use the Popen's own wait/poll on it."""

    def __init__(self, name, argv, env, logdir, stdout=None):
        self.name = name
        self.log = os.path.join(logdir, name + ".log")
        self._logf = open(self.log, "ab")
        self.popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=stdout if stdout is not None else self._logf,
                                      stderr=self._logf, cwd=logdir)
        self.pid = self.popen.pid
        self.rc = None
        self.rusage = None
        self.last_cpu = 0.0
        self.hwm_kb = None  # VmHWM, last seen: ru_maxrss would include the forking Python's
        self.started = time.monotonic()

    def peek(self):
        """Remember CPU and peak RSS while the process lives (the last
        values seen before it exits are what is left of it)."""
        c = proc_cpu_s(self.pid)
        if c is not None:
            self.last_cpu = c
        kb = proc_status_kb(self.pid, "VmHWM")
        if kb:
            self.hwm_kb = kb

    def alive(self):
        if self.rc is not None:
            return False
        try:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.rc = -1
            return False
        if pid == 0:
            self.peek()
            return True
        self.rusage = ru
        self.rc = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.rc  # keep Popen from reaping again
        self._logf.close()
        return False

    def wait(self, timeout, what=None):
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise BenchError("%s did not exit within %.0f s (%s); log %s:\n%s"
                                 % (self.name, timeout, what or "waiting", self.log, tail(self.log)))
            time.sleep(0.05)
        return self.rc

    def term(self, timeout=60):
        if self.alive():
            self.peek()
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self.wait(timeout, "after SIGTERM")
        except BenchError:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)
            raise

    def kill(self):
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.wait(15)
            except (BenchError, ProcessLookupError):
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.wait(10)

    def cpu_s(self):
        if self.rusage is not None:
            return self.rusage.ru_utime + self.rusage.ru_stime
        c = proc_cpu_s(self.pid)
        return c if c is not None else self.last_cpu

    def maxrss_mb(self):
        # Not ru_maxrss: Linux carries the parent's peak across fork+exec,
        # so every child would report at least the Python driver's RSS.
        if self.rusage is None:
            self.peek()
        return self.hwm_kb / 1024.0 if self.hwm_kb else None

    def wait_log(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            with open(self.log, "rb") as f:
                if rx.search(f.read().decode("utf-8", "replace")):
                    return
            if not self.alive():
                raise BenchError("%s exited (%s) before logging %r:\n%s"
                                 % (self.name, self.rc, pattern, tail(self.log)))
            time.sleep(0.02)
        raise BenchError("%s did not log %r within %d s:\n%s" % (self.name, pattern, timeout, tail(self.log)))


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            return "\n".join("    " + l for l in f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError as e:
        return "    (cannot read %s: %s)" % (path, e)


class Fake:
    """tests/fake_llm/fake_llm.py on a free port."""

    def __init__(self, logdir, **opts):
        port_file = os.path.join(logdir, "fake.port.%s" % secrets.token_hex(3))
        args = [sys.executable, FAKE_LLM, "--port", "0", "--port-file", port_file,
                "--require-key", KEY]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        self.proc = Prog("fake", args, dict(os.environ), logdir)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            if not self.proc.alive() or time.monotonic() > deadline:
                raise BenchError("fake_llm.py did not start:\n%s" % tail(self.proc.log))
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d" % self.port
        self.base_url = self.url + "/v1"
        self.pid = self.proc.pid

    def stats(self):
        with urllib.request.urlopen(self.url + "/_stats", timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.kill()


def completed(stats, status="200"):
    return stats["by_status"].get(status, 0)


class Sampler(threading.Thread):
    """Samples CPU seconds of some pids (and the fake's /_stats) every
    `interval` s; each sample is (wall time, {name: cpu s}, stats or None)."""

    def __init__(self, pids, fake=None, interval=0.5, extra=None, watch=()):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.watch = watch  # Progs (a live list) whose peak RSS to keep up to date
        self.fake = fake
        self.interval = interval
        self.extra = extra or {}
        self.samples = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self):
        st = None
        if self.fake is not None:
            try:
                a = time.time()
                st = self.fake.stats()
                t = (a + time.time()) / 2  # the count was taken in between
            except Exception:  # noqa: BLE001 - a missed sample is fine
                st, t = None, time.time()
        else:
            t = time.time()
        cpu = {n: proc_cpu_s(p) for n, p in self.pids.items() if p}
        cpu["machine"] = machine_busy_s()
        cpu["driver"] = time.process_time()  # this script, sampler included
        for p in self.watch:
            if p.rc is None:
                p.peek()
        ext = {n: f() for n, f in self.extra.items()}
        self.samples.append((t, cpu, st, ext))

    def stop(self):
        self._halt.set()
        self.join()
        self.sample()

    def cpu_between(self, name, t0, t1):
        """CPU seconds of `name` between wall times t0 and t1 (interpolated)."""
        pts = [(t, c[name]) for t, c, _, _ in self.samples if c.get(name) is not None]
        return interp(pts, t1) - interp(pts, t0) if len(pts) >= 2 else None


def slope(pts):
    """Least-squares slope of y over x."""
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else float("nan")


def interp(pts, t):
    if t <= pts[0][0]:
        return pts[0][1]
    for (ta, va), (tb, vb) in zip(pts, pts[1:]):
        if ta <= t <= tb:
            return va + (vb - va) * ((t - ta) / (tb - ta) if tb > ta else 0)
    return pts[-1][1]


# ---- the pipeline's environment ------------------------------------------------------
class Ctx:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin_dir)
        self.quick = args.quick
        self.tmp = tempfile.mkdtemp(prefix="pq-bench-")
        self.data_dir = args.data_dir
        self.inputs = {}
        self.base_records = None

    def program(self, name):
        path = os.path.join(self.bin, name, "paperq-" + name)
        if not os.access(path, os.X_OK):
            raise BenchError("%s is missing: build first (bench/run.sh builds)" % path)
        return path

    def rundir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        return d

    def env(self, prefix, rundir, fake, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERQ_")}
        env.update({
            "PAPERQ_CONFIG": os.path.join(ROOT, "config", "paperq.conf"),
            "PAPERQ_BROKER_URL": os.environ["PAPERQ_TEST_BROKER_URL"],
            "PAPERQ_BROKER_PREFIX": prefix,
            "PAPERQ_LEDGER_DB": os.path.join(rundir, "ledger.db"),
            "PAPERQ_TRANSLATE_PROVIDER": "openai",
            "PAPERQ_TRANSLATE_BASE_URL": fake.base_url,
            "PAPERQ_TRANSLATE_API_KEY_ENV": KEY_ENV,
            KEY_ENV: KEY,
        })
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def base(self):
        """Real ChinaXiv records: the shared 2,000 when present, else the
        200 bundled with the tests."""
        if self.base_records is None:
            shared = os.path.join(self.data_dir, "records.jsonl") if self.data_dir else None
            path = shared if shared and os.path.exists(shared) else os.path.join(
                ROOT, "tests", "fixtures", "sample.jsonl")
            with open(path, encoding="utf-8") as f:
                self.base_records = [json.loads(l) for l in f if l.strip()]
            self.base_path = path
        return self.base_records

    def papers(self, n):
        """A JSONL file of n papers: the real records, re-id'd (.bK suffix)
        beyond the first pass so every id is new."""
        if n in self.inputs:
            return self.inputs[n]
        recs = self.base()
        path = os.path.join(self.tmp, "papers-%d.jsonl" % n)
        with open(path, "w", encoding="utf-8") as f:
            for i in range(n):
                r = recs[i % len(recs)]
                k = i // len(recs)
                if k:
                    r = dict(r, id="%s.b%d" % (r["id"], k))
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        self.inputs[n] = path
        return path

    def report(self, env, rundir):
        r = subprocess.run([self.program("ledger"), "report", "--json"], env=env, cwd=rundir,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise BenchError("paperq-ledger report exited %d: %s" % (r.returncode, r.stderr.strip()))
        return json.loads(r.stdout)

    def wait_report(self, env, rundir, pred, timeout, what, interval=0.3):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.report(env, rundir)
                if pred(last):
                    return last
            except (BenchError, ValueError) as e:
                last = str(e)
            time.sleep(interval)
        raise BenchError("timed out after %d s waiting for %s; last report: %s"
                         % (timeout, what, json.dumps(last)[:400]))


def new_prefix(kind):
    return "bench-%s-%s" % (kind, secrets.token_hex(3))


def fmt_mb(v):
    return "%.1f MB" % v if v is not None else "?"


def pct(a, b):
    return 100.0 * a / b if b else float("nan")


# ---- 1. end to end with an instant LLM -----------------------------------------------
def e2e_run(ctx, n, workers, concurrency):
    prefix = new_prefix("e2e")
    rundir = ctx.rundir(prefix)
    inp = ctx.papers(n)
    progs = []
    fake = Fake(rundir, latency_ms=0)
    try:
        env = ctx.env(prefix, rundir, fake, PAPERQ_WORKER_IDLE_EXIT_S=3,
                      PAPERQ_WORKER_CONCURRENCY=concurrency)
        ledger = Prog("ledger", [ctx.program("ledger"), "serve"], env, rundir)
        progs.append(ledger)
        ledger.wait_log(r"consuming")
        ws = []
        for i in range(workers):
            w = Prog("worker%d" % (i + 1), [ctx.program("worker")], env, rundir)
            progs.append(w)
            ws.append(w)
        for w in ws:
            w.wait_log(r"consuming")
        sampler = Sampler({"broker": broker_pid(), "fake": fake.pid}, interval=0.2, watch=progs)
        sampler.start()
        t0 = time.time()
        prod = Prog("producer", [ctx.program("producer"), "--input", inp], env, rundir)
        progs.append(prod)
        if prod.wait(600, "queueing %d papers" % n) != 0:
            raise BenchError("producer exited %s:\n%s" % (prod.rc, tail(prod.log)))
        t_prod = time.time() - t0
        for w in ws:
            if w.wait(600 + n / 50, "translating") != 0:
                raise BenchError("%s exited %s:\n%s" % (w.name, w.rc, tail(w.log)))
        rep = ctx.wait_report(env, rundir, lambda r: r["papers"]["succeeded"] >= n, 300,
                              "%d papers succeeded in the ledger" % n)
        ledger.term()
        sampler.stop()
        t_end = time.time()
        st = fake.stats()
        # `paperq-ledger report` as a user runs it, on this ledger.
        rt = []
        for _ in range(5):
            a = time.monotonic()
            ctx.report(env, rundir)
            rt.append((time.monotonic() - a) * 1000)
    finally:
        for p in progs:
            p.kill()
        fake.stop()
    first = rep["first_queued_ms"] / 1000.0
    last = rep["last_finished_ms"] / 1000.0
    elapsed = rep["elapsed_s"]
    cpu = {"producer": prod.cpu_s(), "ledger": ledger.cpu_s()}
    for w in ws:
        cpu[w.name] = w.cpu_s()
    own = sum(cpu.values())
    broker_win = sampler.cpu_between("broker", first, last)
    fake_win = sampler.cpu_between("fake", first, last)
    broker_all = sampler.cpu_between("broker", t0, t_end)
    fake_all = sampler.cpu_between("fake", t0, t_end)
    # What the rest of the machine used meanwhile: how quiet it was.
    others = (sampler.cpu_between("machine", t0, t_end) - (broker_all or 0) - (fake_all or 0)
              - sampler.cpu_between("driver", t0, t_end) - own)
    res = {
        "papers": n, "workers": workers, "concurrency": concurrency,
        "requests": st["requests"], "requests_per_paper": st["requests"] / n,
        "elapsed_s": elapsed, "papers_per_s": n / elapsed if elapsed else None,
        "producer_s": t_prod,
        "cpu_s": cpu, "own_cpu_s": own, "own_cpu_ms_per_paper": own * 1000 / n,
        "worker_cpu_ms_per_paper": sum(v for k, v in cpu.items() if k.startswith("worker")) * 1000 / n,
        "broker_cpu_s_window": broker_win, "fake_cpu_s_window": fake_win,
        "broker_cpu_s_run": broker_all, "fake_cpu_s_run": fake_all,
        "broker_cpu_ms_per_paper": broker_win * 1000 / n if broker_win is not None else None,
        "fake_cpu_ms_per_paper": fake_win * 1000 / n if fake_win is not None else None,
        "rss_mb": {p.name: p.maxrss_mb() for p in [prod, ledger] + ws},
        "report_cli_ms": sorted(rt)[len(rt) // 2],
        "others_cpu_pct": 100.0 * others / (t_end - t0),
        "statuses": st["by_status"],
    }
    say("  %6d papers, %d worker%s (concurrency %d): %.0f papers/s (%.2f s from first queued to last "
        "succeeded; %.2f requests/paper)", n, workers, "s" if workers > 1 else "", concurrency,
        res["papers_per_s"], elapsed, res["requests_per_paper"])
    say("         paperq CPU %.3f ms/paper (%.2f s: %s); worker(s) alone %.3f ms/paper",
        res["own_cpu_ms_per_paper"], own,
        ", ".join("%s %.2f" % (k, v) for k, v in cpu.items()), res["worker_cpu_ms_per_paper"])
    say("         broker (beam.smp) %.2f s = %.3f ms/paper, fake LLM %.2f s = %.3f ms/paper "
        "(between first queued and last succeeded)", broker_win or 0, res["broker_cpu_ms_per_paper"] or 0,
        fake_win or 0, res["fake_cpu_ms_per_paper"] or 0)
    say("         peak RSS: %s; `paperq-ledger report --json` on this ledger: %.0f ms (median of 5); "
        "other processes on the machine meanwhile: %.0f%% of a core",
        ", ".join("%s %s" % (k, fmt_mb(v)) for k, v in res["rss_mb"].items()), res["report_cli_ms"],
        res["others_cpu_pct"])
    shutil.rmtree(rundir, ignore_errors=True)
    return res


def bench_e2e(ctx):
    say("== 1. End to end, instant fake LLM (latency 0): producer + worker(s) + ledger serve")
    sizes = [2000] if ctx.quick else [2000, 10000]
    runs = []
    for n in sizes:
        for workers in (1, 2):
            runs.append(e2e_run(ctx, n, workers, 64))
    # The shipped default (16 papers in flight) for comparison.
    if not ctx.quick:
        runs.append(e2e_run(ctx, sizes[-1], 1, 16))
    return {"runs": runs, "input": ctx.base_path}


# ---- 2. latency: requests in flight vs the ideal rate --------------------------------
def latency_run(ctx, lat_ms, inflight, window, cap, concurrency=None, jitter_ms=0):
    """One worker with `inflight` HTTP requests allowed (worker.max_requests)
    and `concurrency` papers (default the same; prefetch follows it).  With
    jitter the fake answers after lat_ms + uniform(0, jitter_ms): the ideal
    uses the mean latency."""
    concurrency = concurrency or inflight
    lat = (lat_ms + jitter_ms / 2.0) / 1000.0
    ideal = inflight / lat
    # With nothing known about the provider the worker starts slowly (4
    # probes, then one more request in flight per success: doubling every
    # round trip, like TCP's slow start), so 1,024 in flight are reached after
    # about 8 latencies. The window measures the steady state after that;
    # "ramp" reports how long the climb took.
    ramp = max(3.0, 10 * lat)
    papers = min(cap, int(ideal * (ramp + window + 3)) + inflight)
    prefix = new_prefix("lat")
    rundir = ctx.rundir(prefix)
    inp = ctx.papers(papers)
    progs = []
    fake = Fake(rundir, latency_ms=lat_ms, jitter_ms=jitter_ms)
    try:
        env = ctx.env(prefix, rundir, fake, PAPERQ_WORKER_CONCURRENCY=concurrency,
                      PAPERQ_WORKER_MAX_REQUESTS=inflight)
        ledger = Prog("ledger", [ctx.program("ledger"), "serve"], env, rundir)
        progs.append(ledger)
        ledger.wait_log(r"consuming")
        a = time.monotonic()
        prod = Prog("producer", [ctx.program("producer"), "--input", inp], env, rundir)
        progs.append(prod)
        if prod.wait(600, "queueing") != 0:
            raise BenchError("producer exited %s:\n%s" % (prod.rc, tail(prod.log)))
        t_prod = time.monotonic() - a
        # The ledger records every job.queued before the clock starts, so its
        # catching up does not compete with the worker in the window.
        ctx.wait_report(env, rundir, lambda r: r["papers"]["total"] >= papers, 300,
                        "%d papers queued in the ledger" % papers, interval=0.5)
        w = Prog("worker", [ctx.program("worker")], env, rundir)
        progs.append(w)
        sampler = Sampler({"worker": w.pid, "fake": fake.pid, "broker": broker_pid(),
                           "ledger": ledger.pid}, fake=fake, interval=0.5, watch=progs,
                          extra={"rss_kb": lambda: proc_status_kb(w.pid, "VmRSS")})
        sampler.start()
        t_first = None
        deadline = time.time() + ramp + window + 120
        dry_at = papers - inflight  # past this many answers the queue is running dry
        while time.time() < deadline:
            time.sleep(0.25)
            s = sampler.samples[-1]
            if t_first is None and s[2] and s[2]["requests"] > 0:
                t_first = s[0]
            if t_first is not None and s[0] >= t_first + ramp + window:
                break
            if s[2] and completed(s[2]) >= dry_at:
                break
            if not w.alive():
                raise BenchError("worker exited %s:\n%s" % (w.rc, tail(w.log)))
        sampler.stop()
        w.term(120)
        ledger.term(120)
    finally:
        for p in progs:
            p.kill()
        fake.stop()
    if t_first is None:
        raise BenchError("the fake saw no request")
    samples = [s for s in sampler.samples if s[2]]
    t_start = t_first + ramp
    t_end = t_start + window
    dry = [s[0] for s in samples if completed(s[2]) >= dry_at]
    if dry and dry[0] < t_end:
        t_end = dry[0]
    if t_end - t_start < 1:
        raise BenchError("no steady window: the queue ran dry %.1f s after the first request"
                         % (t_end - t_first))
    # With a fixed latency the answers come in waves (a staircase of
    # completions), so the rate is the least-squares slope of the count over
    # the window (the window is a whole number of latencies, its ends
    # interpolated), not the difference of its two ends, which is off by up to
    # one wave.
    done = [(s[0], completed(s[2])) for s in samples]
    dt = t_end - t_start
    n_done = interp(done, t_end) - interp(done, t_start)
    pts = [(t_start, interp(done, t_start))] + [p for p in done if t_start < p[0] < t_end] + \
        [(t_end, interp(done, t_end))]
    rate = slope(pts)
    win = [s for s in samples if t_start <= s[0] <= t_end]
    inflight_avg = sum(s[2]["in_flight"] for s in win) / len(win) if win else float("nan")
    full = [s[0] for s in samples if s[2]["in_flight"] >= 0.95 * inflight]
    ramp_s = full[0] - t_first if full else None

    def cpu_pct(name):
        c = sampler.cpu_between(name, t_start, t_end)
        return 100.0 * c / dt if c is not None else None
    wcpu = sampler.cpu_between("worker", t_start, t_end)
    res = {
        "latency_ms": lat_ms, "jitter_ms": jitter_ms, "in_flight": inflight, "concurrency": concurrency,
        "papers_queued": papers, "producer_s": t_prod, "window_s": dt, "ideal_rps": ideal,
        "rps": rate, "efficiency_pct": pct(rate, ideal), "fake_in_flight_avg": inflight_avg,
        "fake_max_in_flight": samples[-1][2]["max_in_flight"],
        "requests": samples[-1][2]["requests"],
        "non_200": {k: v for k, v in samples[-1][2]["by_status"].items() if k != "200"},
        "cpu_pct": {n: cpu_pct(n) for n in ("worker", "fake", "broker", "ledger", "driver", "machine")},
        "worker_peak_rss_mb": w.maxrss_mb(),
        "worker_cpu_ms_per_request": wcpu * 1000 / max(1, n_done) if wcpu is not None else None,
        "window_clipped": dt < window - 0.5, "ramp_s": ramp_s,
    }
    c = res["cpu_pct"]
    res["cpu_pct"]["others"] = c["machine"] - sum(c[n] or 0 for n in ("worker", "fake", "broker", "ledger", "driver"))
    # Little's law at the fake: observed service time = in flight / rate.
    res["fake_latency_ms"] = inflight_avg / rate * 1000 if rate else None
    say("  %4d ms%s x %4d in flight%s: %7.1f req/s of ideal %6.0f = %5.1f%%  (window %.1f s%s; fake held "
        "%.0f in flight avg, %.0f ms per answer; 95%% of the in flight reached %s after the first "
        "request; peak worker RSS %s)", lat_ms,
        " +0..%d" % jitter_ms if jitter_ms else "", inflight,
        " (concurrency %d)" % concurrency if concurrency != inflight else "", rate, ideal,
        res["efficiency_pct"], dt, ", CLIPPED: queue ran dry" if res["window_clipped"] else "",
        inflight_avg, res["fake_latency_ms"] or 0,
        "%.1f s" % ramp_s if ramp_s is not None else "never", fmt_mb(res["worker_peak_rss_mb"]))
    say("         CPU in window (%% of one core): worker %.0f, fake %.0f, broker %.0f, ledger %.0f, this "
        "driver %.0f; machine busy %.0f of %d00, other processes %.0f; worker %.3f ms CPU/request; "
        "%d papers queued (producer %.1f s)%s",
        *[res["cpu_pct"][n] or 0 for n in ("worker", "fake", "broker", "ledger", "driver", "machine")],
        os.cpu_count(), res["cpu_pct"]["others"],
        res["worker_cpu_ms_per_request"] or 0, papers, t_prod,
        "; non-200: %s" % res["non_200"] if res["non_200"] else "")
    delete_queues(prefix, ("jobs",))  # the unworked rest; the ledger consumed its queue
    shutil.rmtree(rundir, ignore_errors=True)
    return res


def fake_alone(ctx, lat_ms, inflight, duration):
    """The fake under loadgen.py (Python asyncio, same machine) at the same
    concurrency and latency: what the fake can serve with no paperq at all."""
    rundir = ctx.rundir("loadgen-%d-%d" % (lat_ms, inflight))
    fake = Fake(rundir, latency_ms=lat_ms)
    try:
        s = Sampler({"fake": fake.pid}, fake=fake, interval=0.5)
        s.start()
        lg = subprocess.run([sys.executable, LOADGEN, "--url", fake.base_url, "-c", str(inflight),
                             "-d", str(duration), "--key", KEY], capture_output=True, text=True,
                            timeout=duration + 120)
        s.stop()
    finally:
        fake.stop()
    ideal = inflight / (lat_ms / 1000.0)
    pts = [x for x in s.samples if x[2]]
    # Skip the first latency + 1 s (connections opening, first answers).
    t_start = pts[0][0] + lat_ms / 1000.0 + 1.0
    win = [x for x in pts if x[0] >= t_start]
    win = win[:-1] if len(win) > 2 else win  # the last sample is after loadgen stopped
    rate = cpu = None
    if len(win) >= 2:
        dt = win[-1][0] - win[0][0]
        rate = slope([(x[0], completed(x[2])) for x in win])  # see latency_run
        cpu = 100.0 * (win[-1][1]["fake"] - win[0][1]["fake"]) / dt
    res = {"latency_ms": lat_ms, "in_flight": inflight, "rps": rate, "ideal_rps": ideal,
           "efficiency_pct": pct(rate, ideal) if rate else None, "fake_cpu_pct": cpu,
           "loadgen": lg.stdout.strip() or lg.stderr.strip()[-300:]}
    say("  fake alone (loadgen.py) %4d ms x %4d: %7.1f req/s = %5.1f%% of ideal, fake CPU %.0f%% of a core",
        lat_ms, inflight, rate or 0, res["efficiency_pct"] or 0, cpu or 0)
    shutil.rmtree(rundir, ignore_errors=True)
    return res


def bench_latency(ctx):
    say("== 2. Latency: one worker, concurrency = max_requests = requests in flight")
    if ctx.quick:
        combos, window, cap = [(200, 256), (2000, 1024)], 8, 20000
    else:
        combos = [(200, 64), (200, 256), (200, 1024), (2000, 64), (2000, 256), (2000, 1024)]
        window, cap = 20, 60000
    runs = [latency_run(ctx, l, c, window, cap) for l, c in combos]
    if not ctx.quick:
        say("-- the same with twice as many papers as requests (worker.concurrency = 2 x max_requests): "
            "a paper is ready to start when a request ends, instead of after the broker confirms the "
            "outcome, gets the ack and delivers the next job")
        runs.append(latency_run(ctx, 200, 256, window, cap, concurrency=512))
    say("-- the fake alone under loadgen.py, same latency and concurrency (what the fake can serve)")
    alone = [fake_alone(ctx, l, c, window if not ctx.quick else 8) for l, c in combos]
    return {"runs": runs, "fake_alone": alone, "window_s": window}


# ---- 3. rate limit -----------------------------------------------------------------------
def ratelimit_run(ctx, rpm, workers, static, duration, warmup, lat_ms, jitter_ms, concurrency):
    prefix = new_prefix("rl")
    rundir = ctx.rundir(prefix)
    rate = rpm / 60.0
    papers = int(rate * (duration + 10) * 1.2) + concurrency * workers
    inp = ctx.papers(papers)
    progs = []
    fake = Fake(rundir, rpm=rpm, latency_ms=lat_ms, jitter_ms=jitter_ms)
    try:
        extra = {"PAPERQ_WORKER_CONCURRENCY": concurrency, "PAPERQ_WORKER_MAX_REQUESTS": concurrency}
        if static:
            extra["PAPERQ_TRANSLATE_REQUESTS_PER_MINUTE"] = int(rpm)  # the fleet's (issue 12)
        env = ctx.env(prefix, rundir, fake, **extra)
        ledger = Prog("ledger", [ctx.program("ledger"), "serve"], env, rundir)
        progs.append(ledger)
        ledger.wait_log(r"consuming")
        prod = Prog("producer", [ctx.program("producer"), "--input", inp], env, rundir)
        progs.append(prod)
        if prod.wait(600, "queueing") != 0:
            raise BenchError("producer exited %s:\n%s" % (prod.rc, tail(prod.log)))
        ws = [Prog("worker%d" % (i + 1), [ctx.program("worker")], env, rundir) for i in range(workers)]
        progs += ws
        pids = {"fake": fake.pid, "broker": broker_pid(), "ledger": ledger.pid}
        pids.update({w.name: w.pid for w in ws})
        sampler = Sampler(pids, fake=fake, interval=1.0, watch=progs)
        sampler.start()
        t_first = None
        deadline = time.time() + duration + 60
        while time.time() < deadline:
            time.sleep(0.25)
            s = sampler.samples[-1]
            if t_first is None and s[2] and s[2]["requests"] > 0:
                t_first = s[0]
            if t_first is not None and s[0] >= t_first + duration:
                break
            for w in ws:
                if not w.alive():
                    raise BenchError("%s exited %s:\n%s" % (w.name, w.rc, tail(w.log)))
        sampler.stop()
        for w in ws:
            w.term(120)
        ledger.term(120)
        decreases = 0
        for w in ws:
            with open(w.log, "rb") as f:
                decreases += f.read().count(b"rate limited; concurrency now")
    finally:
        for p in progs:
            p.kill()
        fake.stop()
    pts = [s for s in sampler.samples if s[2] and s[0] <= t_first + duration + 0.01]

    def window(t_a, t_b):
        w = [s for s in pts if t_a - 0.01 <= s[0] <= t_b + 0.01]
        a, b = w[0], w[-1]
        dt = b[0] - a[0]
        ok = completed(b[2]) - completed(a[2])
        r429 = completed(b[2], "429") - completed(a[2], "429")
        allr = sum(b[2]["by_status"].values()) - sum(a[2]["by_status"].values())
        return {"s": dt, "ok_per_min": ok / dt * 60, "of_rpm_pct": pct(ok / dt * 60, rpm),
                "answers": allr, "ok": ok, "r429": r429, "r429_pct": pct(r429, allr),
                "other": allr - ok - r429}
    whole = window(pts[0][0], pts[-1][0])
    steady = window(pts[0][0] + warmup, pts[-1][0])
    t0, t1 = pts[0][0], pts[-1][0]

    def cpu_pct(name):
        c = sampler.cpu_between(name, t0, t1)
        return 100.0 * c / (t1 - t0) if c is not None else 0.0
    wpct = sum(cpu_pct(w.name) for w in ws)
    known = wpct + sum(cpu_pct(n) for n in ("fake", "broker", "ledger", "driver"))
    res = {"rpm": rpm, "workers": workers, "static_cap": int(rpm) if static else 0, "fleet_rpm": True,
           "latency_ms": lat_ms, "jitter_ms": jitter_ms, "concurrency": concurrency,
           "whole": whole, "steady": steady, "aimd_decreases": decreases,
           "worker_cpu_pct": wpct, "worker_peak_rss_mb": max(w.maxrss_mb() or 0 for w in ws),
           "cpu_pct": {"fake": cpu_pct("fake"), "broker": cpu_pct("broker"), "ledger": cpu_pct("ledger"),
                       "others": cpu_pct("machine") - known}}
    say("  R=%5d/min, %d worker%s, %-22s: steady %.0f s: %5.1f%% of R, %4.1f%% 429  |  whole %.0f s: "
        "%5.1f%% of R, %4.1f%% 429 (%d ok, %d 429, %d other; %d AIMD halvings; CPU %% of a core: "
        "workers %.0f, fake %.0f, broker %.0f, other processes %.0f)",
        rpm, workers, "s" if workers > 1 else " ", "R = %d/min set (fleet)" % res["static_cap"]
        if static else "headers only", steady["s"], steady["of_rpm_pct"], steady["r429_pct"],
        whole["s"], whole["of_rpm_pct"], whole["r429_pct"], whole["ok"], whole["r429"], whole["other"],
        decreases, wpct, res["cpu_pct"]["fake"], res["cpu_pct"]["broker"], res["cpu_pct"]["others"])
    shutil.rmtree(rundir, ignore_errors=True)
    return res


def bench_ratelimit(ctx):
    lat, jit, conc = 1000, 1000, 64
    if ctx.quick:
        duration, warmup = 25, 8
        combos = [(1200, 1, False), (1200, 4, False), (1200, 1, True), (1200, 4, True)]
    else:
        duration, warmup = 75, 15
        combos = [(600, 1, False), (600, 4, False), (1200, 1, False), (1200, 4, False),
                  (600, 1, True), (600, 4, True), (1200, 1, True), (1200, 4, True)]
    say("== 3. Rate limit: fake admits R requests/min (token bucket, burst 1 s), latency %d-%d ms, "
        "worker concurrency = max_requests = %d; %d s per run, steady window = last %d s",
        lat, lat + jit, conc, duration, duration - warmup)
    runs = [ratelimit_run(ctx, r, w, s, duration, warmup, lat, jit, conc) for r, w, s in combos]
    return {"runs": runs, "duration_s": duration, "warmup_s": warmup}


# ---- 5. the rehearsal: the seed's production run at scale (issue 12) -------------------
REHEARSAL_FAULTS = dict(p429=0.01, p500=0.01, p503=0.01, preset=0.005, pmalformed=0.005)


def uptime_load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rehearsal_run(ctx, papers, rpm, workers, headers, lat_ms, sigma, timeout):
    """One rehearsal: `papers` queued, the fake admitting `rpm` (token bucket,
    one second of burst) and telling it with `headers` (openai or none),
    lognormal latency, mixed faults, two judges on 10%; `workers` workers with
    default settings (and, without headers, the fleet's R); the first one is
    killed -9 when half the papers are done and a new one started at once."""
    prefix = new_prefix("reh")
    rundir = ctx.rundir(prefix)
    inp = ctx.papers(papers)
    progs = []
    load_before = uptime_load()
    fake = Fake(rundir, rpm=rpm, rate_headers=headers, latency_ms=lat_ms, latency_sigma=sigma,
                seed=12, **REHEARSAL_FAULTS)
    extra = {"PAPERQ_QA_JUDGES": "judge-a,judge-b"}
    if headers == "none":
        extra["PAPERQ_TRANSLATE_REQUESTS_PER_MINUTE"] = int(rpm)
    env = ctx.env(prefix, rundir, fake, **extra)
    killed_at = None
    try:
        ledger = Prog("ledger", [ctx.program("ledger"), "serve"], env, rundir)
        progs.append(ledger)
        ledger.wait_log(r"consuming")
        prod = Prog("producer", [ctx.program("producer"), "--input", inp], env, rundir)
        progs.append(prod)
        if prod.wait(600, "queueing") != 0:
            raise BenchError("producer exited %s:\n%s" % (prod.rc, tail(prod.log)))
        ws = [Prog("worker%d" % (i + 1), [ctx.program("worker")], env, rundir) for i in range(workers)]
        progs += ws
        pids = {"fake": fake.pid, "broker": broker_pid(), "ledger": ledger.pid}
        sampler = Sampler(pids, fake=fake, interval=1.0, watch=progs)
        sampler.start()
        deadline = time.monotonic() + timeout
        quiet_since, last_requests = None, -1
        while True:
            if time.monotonic() > deadline:
                raise BenchError("not done within %d s" % timeout)
            time.sleep(0.5)
            rep = ctx.report(env, rundir)
            pp = rep["papers"]
            if killed_at is None and pp["succeeded"] >= papers // 2:
                victim = ws[0]
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait(10)
                killed_at = time.time()
                w = Prog("worker%d" % (len(ws) + 1), [ctx.program("worker")], env, rundir)
                ws.append(w)
                progs.append(w)
            for w in ws:
                if w is not ws[0] and not w.alive():
                    raise BenchError("%s exited %s:\n%s" % (w.name, w.rc, tail(w.log)))
            st = fake.stats()
            if pp["succeeded"] + pp["parked"] == papers and pp["remaining"] == 0:
                # Done when the judges are done too: the fake has gone quiet.
                if st["requests"] != last_requests or st["in_flight"]:
                    quiet_since, last_requests = time.monotonic(), st["requests"]
                elif time.monotonic() - quiet_since >= 3:
                    break
        sampler.stop()
        load_after = uptime_load()
        for w in ws[1:]:
            w.term(120)
        ledger.term(120)
        rep = ctx.report(env, rundir)
    finally:
        for p in progs:
            p.kill()
        fake.stop()
    by = st["by_status"]
    answers = sum(by.values())
    refused = st["limit_429"]
    admitted = answers - refused  # every request that took a token
    ok = by.get("200", 0)
    span = st["last_answer_t"] - st["first_request_t"]
    pp = rep["papers"]
    # Refusals by the limit in the first 5 s, in the 5 s after the kill, and
    # the rest (a fleet that learns R from refusals pays at its start).
    def refused_by(t):
        seen = [x[2]["limit_429"] for x in sampler.samples if x[2] and x[0] <= t]
        return seen[-1] if seen else 0
    t0 = st["first_request_t"]
    early = refused_by(t0 + 5)
    at_kill = refused_by(killed_at + 5) - refused_by(killed_at) if killed_at else 0
    res_late = refused - early - at_kill
    res = {
        "refused_first_5s": early, "refused_kill_5s": at_kill, "refused_rest": res_late,
        "papers": papers, "rpm": rpm, "workers": workers, "headers": headers, "latency_ms": lat_ms,
        "latency_sigma": sigma, "faults": REHEARSAL_FAULTS,
        "makespan_s": span, "ideal_s": admitted / (rpm / 60.0), "ideal_ok_s": ok / (rpm / 60.0),
        "of_rpm_pct": pct(admitted / span * 60, rpm), "ok_of_rpm_pct": pct(ok / span * 60, rpm),
        "answers": answers, "admitted": admitted, "ok": ok, "limit_429": refused,
        "refused_pct": pct(refused, answers), "injected_429": by.get("429", 0) - refused,
        "other_faults": admitted - ok - (by.get("429", 0) - refused),
        "succeeded": pp["succeeded"], "parked": pp["parked"],
        "lost": papers - pp["succeeded"] - pp["parked"],
        "duplicate_events": rep["events"]["duplicates"],
        "judgements": rep["qa"]["judgements"], "papers_judged": rep["qa"]["papers_judged"],
        "spend_used_usd": rep["cost_usd"], "spend_billed_usd": st["billed_usd"],
        "spend_thrown_usd": st["billed_usd"] - rep["cost_usd"],
        "worker_peak_rss_mb": max(w.maxrss_mb() or 0 for w in ws),
        "killed_after_s": killed_at - st["first_request_t"] if killed_at else None,
        "load_before": load_before, "load_after": load_after,
    }
    say("  %5d papers, R=%d/min, %2d worker%s, headers %-6s: makespan %.1f s vs ideal %.1f s (admitted %d / R): "
        "%.1f%% of R; 200s alone %.1f%% of R; refused by the limit %d of %d answers = %.2f%% "
        "(+%d injected 429s, %d other faults); %d succeeded, %d parked, %d lost, %d duplicate events; "
        "QA %d papers, %d judgements; spend $%.4f used, $%.4f billed, $%.4f thrown away; worker peak RSS %.1f MB; "
        "kill -9 at %.0f s; load %s -> %s; refused in the first 5 s %d, in the 5 s after the kill %d, "
        "the rest %d",
        papers, rpm, workers, "s" if workers > 1 else " ", headers, span, res["ideal_s"], admitted,
        res["of_rpm_pct"], res["ok_of_rpm_pct"], refused, answers, res["refused_pct"], res["injected_429"],
        res["other_faults"], res["succeeded"], res["parked"], res["lost"], res["duplicate_events"],
        res["papers_judged"], res["judgements"], res["spend_used_usd"], res["spend_billed_usd"],
        res["spend_thrown_usd"], res["worker_peak_rss_mb"], res["killed_after_s"] or -1, load_before,
        load_after, early, at_kill, res_late)
    if not os.environ.get("PQ_BENCH_KEEP"):
        shutil.rmtree(rundir, ignore_errors=True)
    else:
        say("  kept %s", rundir)
    return res


def bench_rehearsal(ctx):
    # At least the seed's 3,400 papers (issue 12). Scaled down in time, the
    # last papers' latency, their judges and the last retries are a fixed
    # tail of 3-5 s; 6,800 papers keep it near what it is in a run of hours.
    papers = int(os.environ.get("PQ_REH_PAPERS", "6800"))
    rpm, lat, sigma = 3000, 1000, 0.4
    sizes = (1, 4, 10)
    styles = ("none", "openai")
    if ctx.quick:
        papers, sizes = 1000, (1, 4)
    if os.environ.get("PQ_REH_ONLY"):  # e.g. PQ_REH_ONLY=4,openai: one run
        w, h = os.environ["PQ_REH_ONLY"].split(",")
        sizes, styles = (int(w),), (h,)
    say("== 5. Rehearsal (issue 12): %d papers, fake admits R = %d requests/min (token bucket, burst 1 s), "
        "latency lognormal median %d ms sigma %.1f, faults %s, two judges on 10%%; workers with default "
        "settings (without headers: translate.requests_per_minute = R, the fleet's), the first killed -9 "
        "halfway and replaced", papers, rpm, lat, sigma,
        ", ".join("%s %.1f%%" % (k, v * 100) for k, v in REHEARSAL_FAULTS.items()))
    runs = []
    for headers in styles:
        for n in sizes:
            runs.append(rehearsal_run(ctx, papers, rpm, n, headers, lat, sigma, timeout=900))
    return {"runs": runs}


# ---- 4. ledger ---------------------------------------------------------------------------
def bench_ledger(ctx):
    n = 100000 if ctx.quick else 1000000
    exe = os.path.join(ctx.bin, "ledger", "bench_ledger_ingest")
    if not os.access(exe, os.X_OK):
        raise BenchError("%s is missing: configure with -DPAPERQ_BUILD_BENCH=ON" % exe)
    say("== 4. Ledger: bench/ledger_ingest.c on %d papers (in-process, no broker)" % n)
    d = ctx.rundir("ledger-ingest")
    a = time.monotonic()
    env = dict(os.environ, PQ_BENCH_KEEP="1")
    r = subprocess.run([exe, str(n), d], capture_output=True, text=True, timeout=3600, env=env)
    wall = time.monotonic() - a
    for line in (r.stdout + r.stderr).strip().splitlines():
        say("  " + line)
    if r.returncode != 0:
        raise BenchError("bench_ledger_ingest exited %d" % r.returncode)
    m = re.search(r"(\d+) events \(", r.stdout)
    eps = re.search(r"([\d.]+) events/s", r.stdout)
    rep = re.search(r"best ([\d.]+) ms, worst ([\d.]+) ms", r.stdout)
    db = re.search(r": (\d+) MB", r.stdout)
    res = {"papers": n, "events": int(m.group(1)) if m else None,
           "events_per_s": float(eps.group(1)) if eps else None,
           "report_best_ms": float(rep.group(1)) if rep else None,
           "report_worst_ms": float(rep.group(2)) if rep else None,
           "db_mb": int(db.group(1)) if db else None, "wall_s": wall}
    kept = re.search(r"kept: PAPERQ_LEDGER_DB=(\S+)", r.stdout)
    if kept:
        # `paperq-ledger report` as a user runs it: process start, open, build, print.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERQ_")}
        env.update(PAPERQ_LEDGER_DB=kept.group(1), PAPERQ_CONFIG=os.path.join(ROOT, "config", "paperq.conf"))
        for args, key in ((["report"], "report_cli_ms"), (["report", "--json"], "report_json_cli_ms")):
            times = []
            for _ in range(5):
                a = time.monotonic()
                c = subprocess.run([ctx.program("ledger")] + args, env=env, capture_output=True, text=True,
                                   timeout=600)
                times.append((time.monotonic() - a) * 1000)
                if c.returncode != 0:
                    raise BenchError("paperq-ledger %s exited %d: %s" % (" ".join(args), c.returncode, c.stderr))
            res[key] = {"median": sorted(times)[2], "worst": max(times), "first": times[0]}
            say("  `paperq-ledger %s` on it (process included): first %.0f ms, median %.0f ms, worst %.0f ms (5 runs)",
                " ".join(args), times[0], sorted(times)[2], max(times))
    say("  (wall %.0f s)" % wall)
    shutil.rmtree(d, ignore_errors=True)
    return res


# ---- 5. bounded memory (issue 13) ----------------------------------------------------------
def rss_mb(pid, key="VmRSS"):
    kb = proc_status_kb(pid, key)
    return kb / 1024.0 if kb else None


def producer_rss(ctx, name, inp, env, rundir, watch_s=None):
    """Peak RSS of the producer on one input; with watch_s, RSS after 1 s and
    after watch_s s of an input that never ends (then it is killed)."""
    prod = Prog("producer-" + name, [ctx.program("producer"), "--input", inp], env, rundir)
    if watch_s is None:
        if prod.wait(1200, "queueing " + name) not in (0, 1):
            raise BenchError("producer on %s exited %s:\n%s" % (name, prod.rc, tail(prod.log)))
        return {"peak_mb": prod.maxrss_mb()}
    time.sleep(1)
    at1 = rss_mb(prod.pid)
    time.sleep(watch_s - 1)
    at_end = rss_mb(prod.pid)
    peak = rss_mb(prod.pid, "VmHWM")
    os.kill(prod.pid, signal.SIGKILL)
    prod.wait(10)
    return {"rss_1s_mb": at1, "rss_end_mb": at_end, "peak_mb": peak, "seconds": watch_s}


def bench_memory(ctx):
    say("== 5. Bounded memory: the producer on any input, the worker over papers whose answers fail")
    prefix = new_prefix("mem")
    rundir = ctx.rundir(prefix)
    res = {"producer": {}}
    fake = Fake(rundir, latency_ms=0, p500=0.4, pmalformed=0.2, ptruncate=0.2, puntranslated=0.2)
    progs = []
    try:
        env = ctx.env(prefix, rundir, fake, PAPERQ_RETRY_MAX_ATTEMPTS=1)
        n_ok = 2000 if ctx.quick else 10000
        inputs = [("%d real records" % n_ok, ctx.papers(n_ok), None)]
        big = os.path.join(rundir, "long-line.jsonl")
        with open(big, "wb") as f:  # one 200 MB line, then ten good records
            chunk = b"x" * (1 << 20)
            f.write(b'{"id":"long-1","title":"')
            for _ in range(200):
                f.write(chunk)
            f.write(b'"}\n')
            with open(ctx.papers(10), "rb") as g:
                f.write(g.read())
        inputs.append(("a 200 MB line + 10 records", big, None))
        inputs.append(("/dev/zero", "/dev/zero", 10))
        for name, inp, watch in inputs:
            r = producer_rss(ctx, name.split()[0] if name[0] != "/" else "devzero", inp, env, rundir, watch)
            res["producer"][name] = r
            if watch:
                say("  producer on %-28s RSS %.1f MB after 1 s, %.1f MB after %d s (peak %.1f MB)",
                    name + ":", r["rss_1s_mb"], r["rss_end_mb"], watch, r["peak_mb"])
            else:
                say("  producer on %-28s peak RSS %.1f MB", name + ":", r["peak_mb"])
        os.unlink(big)
        delete_queues(prefix)

        # The worker over n papers whose every answer fails (500, malformed,
        # truncated, untranslated), each parked after its one attempt.
        n = 2000 if ctx.quick else 10000
        ledger = Prog("ledger", [ctx.program("ledger"), "serve"], env, rundir)
        progs.append(ledger)
        ledger.wait_log(r"consuming")
        w = Prog("worker", [ctx.program("worker")], env, rundir)
        progs.append(w)
        w.wait_log(r"consuming")
        prod = Prog("producer", [ctx.program("producer"), "--input", ctx.papers(n), "--force"], env, rundir)
        progs.append(prod)
        samples = []  # (papers parked, worker RSS MB)
        deadline = time.monotonic() + 1800
        parked = 0
        while parked < n:
            if time.monotonic() > deadline:
                raise BenchError("only %d of %d papers parked after 30 min" % (parked, n))
            if not w.alive():
                raise BenchError("the worker exited %s:\n%s" % (w.rc, tail(w.log)))
            parked = ctx.report(env, rundir)["papers"]["parked"]
            samples.append((parked, rss_mb(w.pid)))
            time.sleep(2)
        st = fake.stats()
        peak = rss_mb(w.pid, "VmHWM")
        marks = {}
        for want in (n // 10, n // 2, n):
            got = [m for p_, m in samples if p_ >= want and m]
            marks[want] = got[0] if got else None
        res["worker"] = {"papers": n, "requests": st["requests"], "statuses": st["by_status"],
                         "rss_mb_at": marks, "peak_mb": peak}
        say("  worker over %d papers whose answers all fail (%d requests: %s): RSS %s; peak %.1f MB",
            n, st["requests"], ", ".join("%s %d" % kv for kv in sorted(st["by_status"].items())),
            ", ".join("%.1f MB at %d parked" % (v, k) for k, v in marks.items() if v), peak)
    finally:
        for p in progs:
            p.kill()
        fake.stop()
        delete_queues(prefix)
    shutil.rmtree(rundir, ignore_errors=True)
    return res


# ---- machine and results -------------------------------------------------------------------
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GB" % (int(line.split()[1]) / 1024 / 1024)
    rabbit = sh("dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null") or "?"
    erl = sh("dpkg-query -W -f '${Version}' erlang-base 2>/dev/null") or "?"
    curl = sh("dpkg-query -W -f '${Version}' libcurl4 2>/dev/null") or "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "kernel": platform.release(),
            "rabbitmq": rabbit, "erlang": erl, "libcurl": curl,
            "python": platform.python_version(), "git": sh("git -C %s rev-parse --short HEAD" % ROOT),
            "dirty": bool(sh("git -C %s status --porcelain -- common producer worker ledger" % ROOT))}


def load_results():
    try:
        with open(RESULTS) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_results(results):
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, RESULTS)


def main():
    ap = argparse.ArgumentParser(description="paperq benchmarks (figures, not pass/fail)")
    ap.add_argument("sections", nargs="*", help="subset of: %s (default: all)" % " ".join(SECTIONS))
    ap.add_argument("--quick", action="store_true", help="smaller N, shorter windows (~5 min)")
    ap.add_argument("--doc", dest="doc", action="store_true", default=None,
                    help="write docs/benchmarks.md (default: yes unless --quick)")
    ap.add_argument("--no-doc", dest="doc", action="store_false")
    ap.add_argument("--bin-dir", default=os.environ.get("PQ_BIN_DIR", os.path.join(ROOT, "build-bench")))
    ap.add_argument("--data-dir", default=os.environ.get("PQ_DATA_DIR", "/work/shared/data/chinaxiv"))
    ap.add_argument("--command", default=None, help="the command line to record in the doc")
    args = ap.parse_args()
    sections = args.sections or list(SECTIONS)
    for s in sections:
        if s not in SECTIONS:
            ap.error("unknown benchmark %r (choose from %s)" % (s, ", ".join(SECTIONS)))
    write_doc = (not args.quick) if args.doc is None else args.doc
    if any(s != "ledger" for s in sections) and not os.environ.get("PAPERQ_TEST_BROKER_URL"):
        ap.error("PAPERQ_TEST_BROKER_URL is not set: run through bench/run.sh, which starts a broker")
    ctx = Ctx(args)
    mach = machine()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = args.command or "bench/bench.py " + " ".join(sys.argv[1:])
    say("paperq benchmarks, %s, on %d x %s, %s RAM, kernel %s, RabbitMQ %s (git %s%s)",
        date, mach["nproc"], mach["cpu"], mach["ram"], mach["kernel"], mach["rabbitmq"], mach["git"],
        ", modified sources" if mach["dirty"] else "")
    say("command: %s", command)
    OUT.take()
    results = load_results() if write_doc else {}
    fns = {"e2e": bench_e2e, "latency": bench_latency, "ratelimit": bench_ratelimit, "ledger": bench_ledger,
           "memory": bench_memory, "rehearsal": bench_rehearsal}
    failed = []
    try:
        for s in SECTIONS:
            if s not in sections:
                continue
            a = time.monotonic()
            try:
                figures = fns[s](ctx)
                err = None
            except BenchError as e:
                say("  NOT MEASURED: %s", e)
                figures, err = None, str(e)
                failed.append(s)
            say("  (%s took %.0f s)", s, time.monotonic() - a)
            say()
            entry = {"date": date, "command": command, "machine": mach, "quick": args.quick,
                     "figures": figures, "error": err, "raw": OUT.take()}
            if write_doc:
                results[s] = entry
                save_results(results)
                import benchdoc
                benchdoc.write(DOC, results)
    finally:
        if not os.environ.get("PQ_BENCH_KEEP"):  # keep the ledgers and logs to look into
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    if write_doc:
        print("wrote %s and %s" % (os.path.relpath(DOC, ROOT), os.path.relpath(RESULTS, ROOT)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
