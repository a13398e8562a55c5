#!/usr/bin/env python3
"""A poison paper, whose processing hangs the worker every time (the worker
is then killed with -9, as an operator or an OOM killer would), ends parked
after broker.delivery_limit deliveries instead of looping forever; the
other papers succeed."""
import json
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")
LIMIT = 3


class TestPoison(unittest.TestCase):
    def test_poison_parked_after_delivery_limit(self):
        records = pq.read_jsonl(RECORDS)[:20]
        poison = dict(records[0], id="poison-paper-1", title="POISON-PILL " + records[0]["title"])
        with pq.FakeLLM(rule=["POISON-PILL=hang"]) as fake, \
                pq.Pipeline("poison", fake=fake, PAPERQ_BROKER_DELIVERY_LIMIT=LIMIT) as p:
            src = p.path("in.jsonl")
            with open(src, "w") as f:
                for rec in records[1:] + [poison]:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=8)
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            p.wait_for(lambda: p.report()["papers"]["succeeded"] == 19, 60, "19 good papers")
            kills, seen = 0, 0

            def hits():
                return fake.stats()["rule_hits"].get("POISON-PILL", 0)

            while True:
                # Each delivery of the poison hangs one request at the fake.
                p.wait_for(lambda: hits() > seen or p.report()["papers"]["parked"] == 1, 60,
                           "the poison hanging a worker again")
                if p.report()["papers"]["parked"] == 1:
                    break
                seen = hits()
                p.kill9(w)
                kills += 1
                self.assertLessEqual(kills, LIMIT + 2, "poison still looping after %d kills" % kills)
                w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=8)
            print("worker kills before the poison was parked: %d (delivery limit %d)" % (kills, LIMIT))
            rep = p.wait_drained(20, timeout=60)
            self.assertEqual(rep["papers"]["succeeded"], 19, rep)
            self.assertEqual(rep["papers"]["parked"], 1, rep)
            r = p.ledger("show", "poison-paper-1", "--json")
            s = json.loads(r.stdout)
            self.assertEqual(s["state"], "parked")
            self.assertIn("delivery", (s.get("park_reason") or "").lower())
            depths = p.wait_for(lambda: pq.queue_depths(p.prefix).get(p.prefix + ".parked") == 1
                                and pq.queue_depths(p.prefix), 30, "the poison in the parking queue")
            self.assertEqual(depths.get(p.prefix + ".jobs", 0), 0, depths)


if __name__ == "__main__":
    pq.main()
