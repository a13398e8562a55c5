#!/usr/bin/env python3
"""What a RabbitMQ cluster costs and what losing a node costs. Prints
figures, never pass/fail; docs/deployment.md quotes them.

  1. End to end with an instant fake LLM, N papers (default 5000), W workers
     (default 2) with 64 papers in flight each: once against one node, once
     against a 3-node cluster (every queue a quorum queue with 3 replicas),
     both started here on loopback. papers/s is the ledger's own clock (first
     job.queued to last job.succeeded); broker CPU is every beam.smp's
     utime+stime over the run (/proc), per paper.
  2. Losing nodes mid-run: runs tests/integration/test_cluster.py R times
     (default 1) and collects its "cluster figures" (failover time, papers/s
     before, during and after, duplicates).

    PQ_BIN_DIR=build python3 bench/cluster.py [--papers N] [--workers W] [--failover-runs R]
    [--json FILE]

Needs a build (PQ_BIN_DIR, default build/), rabbitmq-server and python3.
Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("PQ_SOURCE_DIR", ROOT)
os.environ.setdefault("PQ_BIN_DIR", os.path.join(ROOT, "build"))
import pq  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def beam_cpu_s(pids):
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def beam_pids(dirs):
    out = []
    for d in dirs:
        try:
            with open(os.path.join(d, "beam.pid")) as f:
                out.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    return out


def machine_busy_s():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK


class Single:
    """One node (scripts/broker.sh), shaped like pq.Cluster for Pipeline."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="pq-bench-node-")
        r = subprocess.run(["bash", pq.BROKER_SH, "start", self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("broker.sh start failed: %s" % r.stderr)
        with open(os.path.join(self.dir, "broker.conf")) as f:
            port = [line.split("=")[1].strip() for line in f if line.startswith("NODE_PORT=")][0]
        self.url = "amqp://guest:guest@127.0.0.1:%s/" % port
        self.node_dirs = [self.dir]
        return self

    def __exit__(self, *exc):
        subprocess.run(["bash", pq.BROKER_SH, "stop", self.dir], capture_output=True, text=True)
        subprocess.run(["rm", "-rf", self.dir])
        return False


def papers_file(path, n):
    recs = pq.read_jsonl(pq.fixture("sample.jsonl"))
    with open(path, "w") as f:
        for i in range(n):
            r = recs[i % len(recs)]
            k = i // len(recs)
            f.write(json.dumps(dict(r, id=r["id"] if k == 0 else "%s.b%d" % (r["id"], k)),
                               ensure_ascii=False) + "\n")


def e2e(broker, label, n, workers):
    with pq.FakeLLM(latency_ms=0) as fake, \
            pq.Pipeline("bench-" + label, fake=fake, cluster=broker,
                        PAPERQ_WORKER_CONCURRENCY=64, PAPERQ_LOG_LEVEL="warn") as p:
        papers_file(p.path("in.jsonl"), n)
        p.start_ledger()
        ws = [p.start_worker() for _ in range(workers)]
        p.wait_for(lambda: p.report()["workers"], 60, "workers registered")
        pids = beam_pids(broker.node_dirs)
        # How busy the machine is before the run (idle brokers, the idle fleet,
        # and whatever else runs on it): a lower bound of the others' share.
        b0, tb = machine_busy_s(), time.time()
        time.sleep(3)
        before_pct = 100 * (machine_busy_s() - b0) / (time.time() - tb)
        c0, m0, t0 = beam_cpu_s(pids), machine_busy_s(), time.time()
        r = p.run_producer("--input", p.path("in.jsonl"), timeout=600)
        if r.returncode != 0:
            raise RuntimeError("producer: %s" % r.stderr)
        rep = p.wait_for(lambda: (lambda x: x if x["papers"]["succeeded"] >= n else None)(p.report()),
                         900, "%d papers succeeded" % n, interval=0.5)
        c1, m1, t1 = beam_cpu_s(pids), machine_busy_s(), time.time()
        for w in ws:
            assert w.poll() is None, "a worker exited"
    res = {
        "broker": label, "nodes": len(broker.node_dirs), "papers": n, "workers": workers,
        "papers_per_s": round(n / rep["elapsed_s"], 1),
        "broker_cpu_ms_per_paper": round((c1 - c0) * 1000 / n, 3),
        "machine_busy_pct": round(100 * (m1 - m0) / (t1 - t0), 0),
        "machine_busy_before_pct": round(before_pct, 0),
    }
    print("  %-9s %d papers, %d workers: %.0f papers/s, broker CPU %.3f ms/paper (all nodes), "
          "machine %d%% busy during the run, %d%% in the 3 s before it (of %d00%%)"
          % (label, n, workers, res["papers_per_s"], res["broker_cpu_ms_per_paper"],
             res["machine_busy_pct"], res["machine_busy_before_pct"], os.cpu_count()), flush=True)
    return res


def failover(runs):
    out = []
    for i in range(runs):
        fig = tempfile.mktemp(prefix="pq-cluster-fig-")
        env = dict(os.environ, PQ_CLUSTER_FIGURES=fig)
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "integration", "test_cluster.py")],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(fig):
            print(r.stdout[-3000:], r.stderr[-3000:])
            raise RuntimeError("test_cluster.py failed (run %d)" % (i + 1))
        with open(fig) as f:
            out.append(json.load(f))
        os.unlink(fig)
        print("  run %d: %s" % (i + 1, json.dumps(out[-1], sort_keys=True)), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--failover-runs", type=int, default=1)
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()
    results = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "git": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip()}
    if not a.skip_e2e:
        print("== 1. end to end, instant fake LLM: one node vs a 3-node cluster", flush=True)
        with Single() as one:
            results["one_node"] = e2e(one, "one-node", a.papers, a.workers)
        with pq.Cluster(3) as c:
            c.node_dirs = [os.path.join(c.dir, "n%d" % i) for i in range(1, 4)]
            results["cluster3"] = e2e(c, "cluster-3", a.papers, a.workers)
    if a.failover_runs:
        print("== 2. nodes lost mid-run (tests/integration/test_cluster.py)", flush=True)
        results["failover"] = failover(a.failover_runs)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
