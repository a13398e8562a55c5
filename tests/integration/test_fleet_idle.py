#!/usr/bin/env python3
"""Idle workers step out of the fleet's rate share (issue 12).

The fleet shares the provider's R: each worker paces R / N, N being the
broker's consumer count of the jobs queue. A worker that holds a whole batch
(it had prefetched every paper before the others started) used to stay at
R / N while the N - 1 others sat idle: a batch that fits one worker's
prefetch, and the last papers of every batch, ran at a fraction of R.

Here worker A takes all 50 papers, then B and C start with nothing to do.
Asserted: B and C step out of the fleet; after they have connected, A's pace
returns to (nearly) the whole R while it still has papers; every paper
succeeds and the provider's bucket refuses at most 2% of requests. Without
stepping out, A's pace after B and C connect stays at R / 3. The pace is the
limiter's setting as the worker logs it, not a measured speed: nothing here
is timed."""
import re
import time
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")
PAPERS = 50
R = 120  # requests per minute: 50 papers last about 25 s at the whole R

LINE = re.compile(r"^(\S+Z) worker\[\d+\] (\w+): (.*)$")
PACE = re.compile(r"progress: .* (\d+) in flight, .*pace (\d+)/min")


def log_lines(proc):
    with open(proc.err, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if m:
                yield m.group(1), m.group(3)


def first_time(proc, text):
    for ts, msg in log_lines(proc):
        if text in msg:
            return ts
    return None


class TestFleetIdle(unittest.TestCase):
    def test_idle_workers_leave_the_rate_to_the_busy_one(self):
        with pq.FakeLLM(rpm=R, burst=R / 60.0, latency_ms=200, rate_headers="none") as fake, \
                pq.Pipeline("fleetidle", fake=fake, PAPERQ_TRANSLATE_REQUESTS_PER_MINUTE=R,
                            PAPERQ_WORKER_HEARTBEAT_S=1) as p:
            p.start_ledger()
            a = p.start_worker()
            p.wait_for(lambda: first_time(a, "connected; consuming"), 60, "worker A connected")
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            # A holds every paper (its prefetch is 128) before B and C exist.
            p.wait_for(lambda: fake.stats()["requests"] >= 2, 60, "A's first requests")
            b, c = p.start_worker(), p.start_worker()
            rep = p.wait_drained(PAPERS, timeout=240)
            st = fake.stats()
            for w in (a, b, c):
                self.assertEqual(p.stop(w), 0)
            self.assertEqual(rep["papers"]["succeeded"], PAPERS, rep)

            joined = max(first_time(b, "connected; consuming"), first_time(c, "connected; consuming"))
            paces = [(ts, int(m.group(1)), int(m.group(2)))
                     for ts, msg in log_lines(a) for m in [PACE.search(msg)] if m]
            print("worker A's pace (time, papers in flight, requests/min): %s" % paces)
            print("B and C connected by %s; fake: %d requests, %d refused by the bucket"
                  % (joined, st["requests"], st["limit_429"]))
            after = [pace for ts, held, pace in paces if ts > joined and held > 0]
            self.assertTrue(after, "A logged no progress after B and C connected")
            self.assertGreaterEqual(max(after), 0.9 * R,
                                    "A's share stayed below R after B and C went idle: %s" % after)
            self.assertLessEqual(st["limit_429"], 0.02 * st["requests"], st)
            for w in (b, c):
                self.assertIsNotNone(first_time(w, "stepping out of the fleet"),
                                     "%s never stepped out" % w.name)


if __name__ == "__main__":
    pq.main()
