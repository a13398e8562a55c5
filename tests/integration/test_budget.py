#!/usr/bin/env python3
"""Budget: when the ledger's total spend reaches budget.max_usd the fleet
stops starting papers (in-flight ones finish), nothing is lost, the queue
stays intact and the report says the budget stopped the run. Raising the
budget (restarting the ledger with the new value) resumes where it stopped."""
import time
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


class TestBudget(unittest.TestCase):
    def test_budget_pauses_and_resumes(self):
        with pq.FakeLLM(latency_ms=200) as fake, \
                pq.Pipeline("budget", fake=fake, PAPERQ_WORKER_HEARTBEAT_S=1) as p:
            ledger = p.start_ledger(PAPERQ_BUDGET_MAX_USD="0.002")
            w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=2)
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            rep = p.wait_for(lambda: (lambda r: r if r["budget"]["stopped"] else None)(p.report()),
                             120, "the budget to stop the run")
            # In-flight papers finish (at most worker.concurrency of them)...
            last = [None]

            def settled():
                n = p.report()["papers"]["succeeded"]
                same, last[0] = n == last[0], n
                return n if same else None
            stopped_at = rep["papers"]["succeeded"]
            done = p.wait_for(settled, 30, "in-flight papers to finish", interval=1.5)
            self.assertLessEqual(done - stopped_at, 2 + 2, "more papers finished than were in flight")
            # ... then nothing new starts, and the rest wait in the queue.
            time.sleep(3)
            rep = p.report()
            print("budget stop: %d of 50 succeeded, $%.5f spent of $0.002" %
                  (rep["papers"]["succeeded"], rep["budget"]["spent_usd"]))
            self.assertEqual(rep["papers"]["succeeded"], done, "papers kept starting after the stop")
            self.assertLess(done, 50)
            self.assertGreaterEqual(rep["budget"]["spent_usd"], 0.002)
            self.assertEqual(rep["papers"]["parked"], 0)
            self.assertEqual(rep["papers"]["total"], 50)
            depth = p.wait_for(lambda: pq.queue_depths(p.prefix).get(p.prefix + ".jobs") == 50 - done
                               and 50 - done, 20, "the unstarted papers still in the queue")
            print("queue holds %d papers while paused" % depth)
            text = p.ledger("report").stdout
            self.assertRegex(text, r"(?i)budget")
            self.assertIsNone(w.poll(), "a paused worker waits; it does not exit")
            # Raise the budget: restart the ledger with it; the workers resume.
            self.assertEqual(p.stop(ledger), 0)
            p.start_ledger(PAPERQ_BUDGET_MAX_USD="1.0")
            rep = p.wait_drained(50, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep["papers"])
            self.assertFalse(rep["budget"]["stopped"])


if __name__ == "__main__":
    pq.main()
