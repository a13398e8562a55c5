#!/usr/bin/env python3
"""Recovery without manual SQL: a parked paper is listed by `failed` with its
error and put back by `requeue --parked` with a fresh attempt budget; it then
succeeds, once, and its history keeps both generations."""
import json
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


class TestRequeue(unittest.TestCase):
    def test_requeue_parked(self):
        records = pq.read_jsonl(RECORDS)[:10]
        target = records[4]
        marker = target["title"][:10]
        # The provider rejects this paper once (a 400 parks at once), then heals.
        with pq.FakeLLM(rule=["%s=400:1" % marker]) as fake, pq.Pipeline("requeue", fake=fake) as p:
            src = p.path("ten.jsonl")
            with open(src, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            p.start_worker()
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            rep = p.wait_drained(10, timeout=60)
            self.assertEqual(rep["papers"]["parked"], 1, rep["papers"])
            r = p.ledger("failed")
            self.assertIn(target["id"], r.stdout)
            self.assertIn("400", r.stdout)
            r = p.ledger("requeue", "--parked", "--paper", target["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
            print(r.stdout.strip())
            rep = p.wait_for(lambda: (lambda x: x if x["papers"]["succeeded"] == 10 else None)(p.report()),
                             60, "the requeued paper to succeed")
            self.assertEqual(rep["papers"]["parked"], 0, rep["papers"])
            self.assertEqual(rep["papers"]["total"], 10, rep["papers"])
            s = json.loads(p.ledger("show", target["id"], "--json").stdout)
            self.assertEqual(s["state"], "succeeded")
            self.assertGreaterEqual(s["gen"], 1)
            self.assertEqual(fake.stats()["rule_hits"].get(marker), 1)
            # The parking queue no longer holds the stale copy.
            p.wait_queues_empty(timeout=30, ignore=())


if __name__ == "__main__":
    pq.main()
