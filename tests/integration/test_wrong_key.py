#!/usr/bin/env python3
"""A stale API key (HTTP 401) must not burn a single paper: the worker stops,
hands its jobs back, says why on stderr and in the ledger, and exits 3.
With the key fixed, every paper succeeds."""
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


class TestWrongKey(unittest.TestCase):
    def test_wrong_key_parks_nothing(self):
        with pq.FakeLLM(latency_ms=50) as fake, pq.Pipeline("wrongkey", fake=fake) as p:
            p.start_ledger()
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            w = p.start_worker(PQ_FAKE_KEY="stale-key", PAPERQ_WORKER_CONCURRENCY=16)
            code = p.wait_exit(w, 60, "worker stopping on 401")
            self.assertEqual(code, 3, "exit code for a fatal provider error")
            with open(w.err) as f:
                err = f.read()
            self.assertIn("401", err)
            self.assertIn("PQ_FAKE_KEY", err, "stderr should name the key variable to fix")
            self.assertNotIn("stale-key", err, "the key itself must never be logged")
            rep = p.wait_for(lambda: (lambda r: r if r["workers"]["fatal"] else None)(p.report()),
                             30, "the ledger to record the worker's fatal error")
            self.assertEqual(rep["papers"]["parked"], 0, rep)
            self.assertEqual(rep["papers"]["succeeded"], 0, rep)
            self.assertEqual(rep["papers"]["retrying"], 0, rep)
            fatal = rep["workers"]["fatal"]
            self.assertTrue(fatal and "401" in str(fatal), rep["workers"])
            r = p.ledger("report")
            self.assertIn("401", r.stdout)
            # Every job is back in the queue, attempt budget intact.
            depths = p.wait_for(lambda: pq.queue_depths(p.prefix).get(p.prefix + ".jobs") == 50
                                and pq.queue_depths(p.prefix), 30, "50 jobs back in the queue")
            print("queues after the fatal stop: %s" % depths)
            self.assertEqual(depths.get(p.prefix + ".parked", 0), 0)
            # Fix the key: everything goes through, nothing was lost.
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            rep = p.wait_drained(50, timeout=180)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep)
            self.assertEqual(rep["papers"]["parked"], 0, rep)


if __name__ == "__main__":
    pq.main()
