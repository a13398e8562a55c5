#!/usr/bin/env python3
"""Chaos: 300 real papers and 2 poison papers through 3 workers while the
fake LLM injects transient faults, one worker is killed with -9, the broker
is restarted, and the ledger is killed with -9 and restarted. At the end
every paper is terminal, both poison papers are parked, none is lost, and
every success is stored once."""
import json
import os
import random
import unittest

import pq

SAMPLE = pq.fixture("sample.jsonl")
LIMIT = 5


def make_input(path):
    """300 papers: the 200 of sample.jsonl and 100 of them again under new
    ids, plus two poison papers whose requests hang the worker every time."""
    recs = pq.read_jsonl(SAMPLE)
    out = list(recs)
    for r in recs[:100]:
        out.append(dict(r, id=r["id"] + "-b"))
    poison = [dict(recs[i], id="poison-%d" % i, title="POISON-%d " % i + recs[i]["title"])
              for i in (1, 2)]
    with open(path, "w") as f:
        for r in out + poison:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return [r["id"] for r in out], [r["id"] for r in poison]


class TestChaos(unittest.TestCase):
    def test_chaos(self):
        faults = dict(p429=0.03, retry_after=0.2, p500=0.04, preset=0.02, ptruncate=0.02,
                      pmalformed=0.02, latency_ms=300, jitter_ms=300, seed=11,
                      rule=["POISON-1=hang", "POISON-2=hang"])
        with pq.FakeLLM(**faults) as fake, \
                pq.Pipeline("chaos", fake=fake, PAPERQ_BROKER_DELIVERY_LIMIT=LIMIT,
                            PAPERQ_RETRY_MAX_ATTEMPTS=8, PAPERQ_BROKER_HEARTBEAT_S=5,
                            PAPERQ_BROKER_RECONNECT_MAX_S=2) as p:
            good, poison = make_input(p.path("in.jsonl"))
            total = len(good) + len(poison)
            ledger = p.start_ledger()
            workers = [p.start_worker(PAPERQ_WORKER_CONCURRENCY=8) for _ in range(3)]
            r = p.run_producer("--input", p.path("in.jsonl"))
            self.assertEqual(r.returncode, 0, r.stderr)
            print(r.stdout.strip())

            done_events = set()
            counts = {"worker kills": 0, "poison kills": 0, "broker restarts": 0, "ledger kills": 0}
            seen_hits = {}

            def succeeded():
                try:
                    return p.report()["papers"]["succeeded"]
                except AssertionError:
                    return -1  # the ledger is down

            def kill_poison_holders():
                """Kill -9 the worker holding a hung poison paper (found by the
                worker id of its latest job.started in the ledger)."""
                hits = fake.stats()["rule_hits"]
                for pid_name in ("POISON-1", "POISON-2"):
                    if hits.get(pid_name, 0) <= seen_hits.get(pid_name, 0):
                        continue
                    paper = "poison-%s" % pid_name[-1]
                    r = p.ledger("show", paper, "--json")
                    if r.returncode != 0:
                        continue
                    s = json.loads(r.stdout)
                    if s["state"] == "parked" or not s["attempts"]:
                        continue
                    holder = str(s["attempts"][-1].get("worker", ""))
                    for i, w in enumerate(workers):
                        if w.poll() is None and holder.endswith(":%d" % w.pid):
                            p.kill9(w)
                            workers[i] = p.start_worker(PAPERQ_WORKER_CONCURRENCY=8)
                            counts["poison kills"] += 1
                            seen_hits[pid_name] = hits.get(pid_name, 0)

            def step():
                kill_poison_holders()
                n = succeeded()
                if n >= 60 and "worker" not in done_events:
                    done_events.add("worker")
                    victim = random.Random(1).randrange(3)
                    p.kill9(workers[victim])
                    workers[victim] = p.start_worker(PAPERQ_WORKER_CONCURRENCY=8)
                    counts["worker kills"] += 1
                if n >= 120 and "broker" not in done_events:
                    done_events.add("broker")
                    pq.broker_restart()
                    counts["broker restarts"] += 1
                if n >= 180 and "ledger" not in done_events:
                    done_events.add("ledger")
                    nonlocal ledger
                    p.kill9(ledger)
                    counts["ledger kills"] += 1
                    ledger = p.start_ledger()
                rep = p.report() if n >= 0 else None
                if not rep:
                    return None
                pp = rep["papers"]
                if pp["total"] == total and pp["succeeded"] + pp["parked"] == total \
                        and len(done_events) == 3:
                    return rep
                return None

            rep = p.wait_for(step, 600, "every paper terminal after the chaos", interval=0.5)
            print("chaos: %s; final report papers: %s" % (counts, rep["papers"]))
            self.assertEqual(rep["papers"]["total"], total)
            self.assertEqual(rep["papers"]["succeeded"], len(good), rep["papers"])
            self.assertEqual(rep["papers"]["parked"], 2, rep["papers"])
            for paper in poison:
                s = json.loads(p.ledger("show", paper, "--json").stdout)
                self.assertEqual(s["state"], "parked", s)
            # Each success stored once: one exported file per good paper.
            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            files = [f for f in os.listdir(out) if f.endswith(".json")]
            self.assertEqual(sorted(f[:-5] for f in files), sorted(good))
            self.assertGreaterEqual(counts["poison kills"], 2)


if __name__ == "__main__":
    pq.main()
