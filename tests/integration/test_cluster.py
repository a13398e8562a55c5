#!/usr/bin/env python3
"""A three-node RabbitMQ cluster loses nodes mid-run and nothing is lost.

scripts/cluster.sh starts three nodes on loopback; every program gets all
three addresses (PAPERQ_BROKER_URL, comma-separated).

First the producer: its first address is a relay to node 1 that drops the
connection in the middle of the run and then refuses connections, as a dead
node would. The producer moves to node 2, publishes again what was not yet
confirmed, and every paper reaches the ledger and the jobs queue.

Then the fleet: 500 papers go through
three workers and the fake LLM with latency. Mid-run the test kill -9s the
node that leads the jobs queue (which is also the node the workers and the
ledger are connected to: the first address that answers), then brings it
back, then kill -9s the node the workers moved to. At the end every paper
has succeeded, each translation is stored once, the queues are empty, and
no worker and no ledger exited.

It prints the figures docs/deployment.md quotes (one JSON line, "cluster
figures:"): failover time per worker, papers/s before, during and after
each loss, and how many papers were translated twice and deduplicated.
Also writes them to $PQ_CLUSTER_FIGURES when set."""
import json
import os
import re
import socket
import sqlite3
import threading
import time
import unittest
from datetime import datetime

import pq

SAMPLE = pq.fixture("sample.jsonl")
PAPERS = 500
WORKERS = 3
CONCURRENCY = 3
LATENCY_MS = 1000
JITTER_MS = 200
KILL_LEADER_AT = 80  # papers succeeded when the jobs queue's leader is killed
RESTART_AFTER = 50  # ... and this many more (made on two nodes) before it comes back
CONNECTED = re.compile(r"^(\S+) worker\[\d+\] info: broker: connected to 127\.0\.0\.1:(\d+) ")


def make_input(path, papers=PAPERS):
    """papers papers: sample.jsonl's 200, then the same under new ids."""
    recs = pq.read_jsonl(SAMPLE)
    out = []
    n = 0
    while len(out) < papers:
        for r in recs:
            if len(out) == papers:
                break
            out.append(dict(r, id=r["id"] if n == 0 else "%s-%d" % (r["id"], n)))
        n += 1
    with open(path, "w") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return [r["id"] for r in out]


def log_ts(text):
    """Unix time of a log line's ISO timestamp (2026-12-03T08:14:42.204Z)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp()


def connections(proc):
    """[(unix time, AMQP port)] of every broker connection a worker made."""
    out = []
    with open(proc.err, errors="replace") as f:
        for line in f:
            m = CONNECTED.match(line)
            if m:
                out.append((log_ts(m.group(1)), int(m.group(2))))
    if not out:  # the log may go to stdout
        with open(proc.out, errors="replace") as f:
            for line in f:
                m = CONNECTED.match(line)
                if m:
                    out.append((log_ts(m.group(1)), int(m.group(2))))
    return out


class CutProxy:
    """A TCP relay to one node that drops the connection once the client has
    sent cut_after bytes, then refuses every new connection: a node lost in
    the middle of a run, at a point the test chooses."""

    def __init__(self, port, cut_after):
        self.target = port
        self.cut_after = cut_after
        self.sent = 0
        self.cut = threading.Event()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            client, _ = self.ls.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", self.target))

        def back():
            try:
                while True:
                    data = server.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
            except OSError:
                pass
        threading.Thread(target=back, daemon=True).start()
        try:
            while self.sent < self.cut_after:
                data = client.recv(65536)
                if not data:
                    break
                server.sendall(data)
                self.sent += len(data)
        except OSError:
            pass
        # Reset, not a clean close: the client sees its connection die.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        for s in (client, server, self.ls):
            try:
                s.close()
            except OSError:
                pass
        self.cut.set()


def rate(finished, a, b):
    """Papers/s finished in [a, b) (unix seconds)."""
    n = sum(1 for t in finished if a <= t < b)
    return round(n / (b - a), 2) if b > a else None


def longest_gap(finished, a, b):
    """Longest stretch in [a, b) without a paper finishing, seconds."""
    ts = [a] + sorted(t for t in finished if a <= t < b) + [b]
    return round(max(y - x for x, y in zip(ts, ts[1:])), 2)


class TestCluster(unittest.TestCase):
    cluster = None
    failed = False

    @classmethod
    def setUpClass(cls):
        cls.t_begin = time.monotonic()
        cls.cluster = pq.Cluster(3).__enter__()

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            err = AssertionError if cls.failed else None
            cls.cluster.__exit__(err, None, None)

    def run(self, result=None):
        result = super().run(result)
        if result and (result.failures or result.errors):
            type(self).failed = True
        return result

    def test_1_producer_fails_over(self):
        cluster = self.cluster
        n = 1000
        with pq.Pipeline("cluster-producer", cluster=cluster) as p:
            make_input(p.path("in.jsonl"), n)
            p.start_ledger()
            # About a fifth of the way through (a paper is ~5 KB: job + event).
            proxy = CutProxy(cluster.ports[0], 1 << 20)
            urls = cluster.url.split(",")
            urls[0] = "amqp://guest:guest@127.0.0.1:%d/" % proxy.port
            r = p.run_producer("--input", p.path("in.jsonl"), PAPERQ_BROKER_URL=",".join(urls))
            print(r.stdout.strip(), flush=True)
            self.assertTrue(proxy.cut.is_set(), "the relay never cut the connection")
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            self.assertRegex(r.stdout, r"queued %d\b" % n)
            m = re.search(r"(\d+) published again after a broker failover", r.stdout)
            self.assertTrue(m and int(m.group(1)) > 0, r.stdout + r.stderr[-2000:])
            again = int(m.group(1))
            # Every paper reached the ledger, and its job the queue (some twice).
            rep = p.wait_for(lambda: (lambda x: x if x["papers"]["total"] == n else None)(p.report()),
                             60, "the ledger to know all %d papers" % n)
            self.assertEqual(rep["papers"]["queued"], n, rep["papers"])
            jobs = p.prefix + ".jobs"
            seen = []

            def settled_depth():
                # The broker's queue metrics lag: wait for the same count
                # three times in a row.
                seen.append(cluster.queue_depths(p.prefix).get(jobs, 0))
                return seen[-1] if seen[-1] >= n and seen[-3:] == [seen[-1]] * 3 else None
            depth = p.wait_for(settled_depth, 60, "%d jobs in %s" % (n, jobs), interval=0.5)
            self.assertLessEqual(depth, n + again)
            print("producer failover: %d bytes sent before the cut, %d papers published again, "
                  "%d jobs queued for %d papers" % (proxy.sent, again, depth, n), flush=True)
            cluster.delete_queues(p.prefix)

    def test_2_nodes_lost_mid_run(self):
        t_begin = self.t_begin
        cluster = self.cluster
        with pq.FakeLLM(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS, seed=16) as fake, \
                pq.Pipeline("cluster", fake=fake, cluster=cluster,
                            PAPERQ_BROKER_RECONNECT_MAX_S=2, PAPERQ_WORKER_HEARTBEAT_S=5) as p:
            ids = make_input(p.path("in.jsonl"))
            ledger = p.start_ledger()
            workers = [p.start_worker(PAPERQ_WORKER_CONCURRENCY=CONCURRENCY)
                       for _ in range(WORKERS)]
            r = p.run_producer("--input", p.path("in.jsonl"))
            self.assertEqual(r.returncode, 0, r.stderr)
            t_queued = time.time()
            jobs = p.prefix + ".jobs"

            ev = {}  # what happened when (unix time), and to which node

            def where_workers_are():
                ports = set()
                for w in workers:
                    c = connections(w)
                    if c:
                        ports.add(c[-1][1])
                return sorted(cluster.node_of_port(x) for x in ports)

            def succeeded():
                return p.report()["papers"]["succeeded"]

            def step():
                n = succeeded()
                if "kill1" not in ev and n >= KILL_LEADER_AT:
                    leader = cluster.leader(jobs)
                    on = where_workers_are()
                    ev["kill1"] = {"node": leader, "workers_on": on, "at_succeeded": n,
                                   "t": time.time()}
                    cluster.kill(leader)
                    print("killed node %d (leader of %s; workers on %s) at %d succeeded"
                          % (leader, jobs, on, n), flush=True)
                elif "kill1" in ev and "restart" not in ev \
                        and n >= ev["kill1"]["at_succeeded"] + RESTART_AFTER:
                    node = ev["kill1"]["node"]
                    t0 = time.time()
                    cluster.restart(node)
                    ev["restart"] = {"node": node, "t0": t0, "t": time.time(), "at_succeeded": n}
                    print("node %d back after %.1f s of restart, at %d succeeded"
                          % (node, time.time() - t0, n), flush=True)
                elif "restart" in ev and "kill2" not in ev:
                    on = where_workers_are()
                    # The node the workers moved to: the second loss hits them again.
                    victim = max(set(on), key=on.count)
                    ev["kill2"] = {"node": victim, "workers_on": on, "at_succeeded": n,
                                   "jobs_leader": cluster.leader(jobs), "t": time.time()}
                    cluster.kill(victim)
                    print("killed node %d (workers on %s) at %d succeeded" % (victim, on, n),
                          flush=True)
                if "kill2" not in ev:
                    return None
                rep = p.report()
                pp = rep["papers"]
                done = pp["total"] == PAPERS and pp["succeeded"] + pp["parked"] == PAPERS
                return rep if done else None

            rep = p.wait_for(step, 300, "every paper terminal after two nodes were lost",
                             interval=0.5)
            t_done = time.time()

            # Nothing lost, nothing parked, nothing stored twice.
            pp = rep["papers"]
            self.assertEqual(pp["total"], PAPERS, pp)
            self.assertEqual(pp["succeeded"], PAPERS, pp)
            self.assertEqual(pp["parked"], 0, pp)
            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            files = sorted(f[:-5] for f in os.listdir(out) if f.endswith(".json"))
            self.assertEqual(files, sorted(ids))
            db = sqlite3.connect(p.path("ledger.db"))
            stored = db.execute("SELECT count(*), count(DISTINCT paper_id) FROM translations").fetchone()
            self.assertEqual(stored, (PAPERS, PAPERS), "translations rows, distinct papers")
            dup_attempts = db.execute(
                "SELECT count(*) FROM attempts WHERE outcome = 'duplicate'").fetchone()[0]
            finished = [row[0] / 1000.0 for row in db.execute(
                "SELECT finished_ms FROM papers WHERE state = 'succeeded'")]
            db.close()
            # Nothing stuck in a queue either (the parked queue included).
            p.wait_queues_empty(timeout=60, ignore=())

            # The losses hit what they were meant to, and everyone failed over.
            self.assertIn(ev["kill1"]["node"], ev["kill1"]["workers_on"],
                          "the jobs leader was also a node the workers used")
            self.assertIn(ev["kill2"]["node"], ev["kill2"]["workers_on"])
            failover = {}
            for k in ("kill1", "kill2"):
                dead_port = cluster.ports[ev[k]["node"] - 1]
                times = []
                for w in workers:
                    c = connections(w)
                    before = [x for x in c if x[0] <= ev[k]["t"]]
                    if not before or before[-1][1] != dead_port:
                        continue  # this worker was elsewhere
                    # From the kill command to the worker's next connection.
                    after = [x for x in c if x[0] > ev[k]["t"] and x[1] != dead_port]
                    self.assertTrue(after, "%s: worker %s did not reconnect to another node"
                                    % (k, w.name))
                    times.append(round(after[0][0] - ev[k]["t"], 2))
                self.assertTrue(times, "%s: no worker was on node %d" % (k, ev[k]["node"]))
                failover[k] = times
            for proc in workers + [ledger]:
                self.assertIsNone(proc.poll(), "%s exited during the run" % proc.name)

            stats = fake.stats()
            k1, rs, k2 = ev["kill1"]["t"], ev["restart"]["t"], ev["kill2"]["t"]
            figures = {
                "papers": PAPERS, "workers": WORKERS, "concurrency": CONCURRENCY,
                "latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS,
                "cluster_start_s": round(cluster.start_s, 1),
                "restart_s": round(ev["restart"]["t"] - ev["restart"]["t0"], 1),
                "kill1": {k: v for k, v in ev["kill1"].items() if k != "t"},
                "kill2": {k: v for k, v in ev["kill2"].items() if k != "t"},
                "worker_failover_s": failover,
                "papers_per_s": {
                    "before_kill1": rate(finished, t_queued, k1),
                    "kill1_to_restart": rate(finished, k1, rs),
                    "restart_to_kill2": rate(finished, rs, k2),
                    "after_kill2": rate(finished, k2, t_done),
                },
                "longest_gap_s": {
                    "before_kill1": longest_gap(finished, t_queued + 3, k1),
                    "after_kill1": longest_gap(finished, k1, rs),
                    "after_kill2": longest_gap(finished, k2, max(finished)),
                },
                "llm_requests": stats["requests"],
                "duplicate_successes_absorbed": dup_attempts,
                "duplicate_events_ignored": rep["events"]["duplicates"],
                "run_s": round(t_done - t_queued, 1),
                "test_s": round(time.monotonic() - t_begin, 1),
            }
            print("cluster figures: %s" % json.dumps(figures, sort_keys=True), flush=True)
            if os.environ.get("PQ_CLUSTER_FIGURES"):
                with open(os.environ["PQ_CLUSTER_FIGURES"], "w") as f:
                    json.dump(figures, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    pq.main()
