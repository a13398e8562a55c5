#!/usr/bin/env python3
"""Idle workers step out of the fleet's rate share (issue 12).

The fleet shares the provider's R: each worker paces R / N, N being the
broker's consumer count of the jobs queue. A worker that holds a whole batch
(it had prefetched every paper before the others started) used to stay at
R / N while the N - 1 others sat idle: a batch that fits one worker's
prefetch, and the last papers of every batch, ran at a fraction of R.

Here worker A takes all 50 papers, then B and C start with nothing to do.
Asserted: A counts B and C in its fleet (its share drops to R / 3), then,
once they step out, its share returns to (nearly) the whole R while it still
has papers; every paper succeeds and the provider's bucket refuses at most 2%
of requests. Without stepping out, A's share stays at R / 3 to the end. The
pace is the limiter's setting as the worker logs it, not a measured speed:
nothing here is timed."""
import re
import time
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")
PAPERS = 50
R = 120  # requests per minute: 50 papers last about 25 s at the whole R

LINE = re.compile(r"^(\S+Z) worker\[\d+\] (\w+): (.*)$")
PACE = re.compile(r"progress: .* (\d+) in flight, .*pace (\d+)/min")
FLEET = re.compile(r"fleet: (\d+) workers share \d+ requests/min; this one paces (\d+)/min")


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

            # A's limiter logs each change of the fleet's size and its pace.
            fleet = [(ts, int(m.group(1)), int(m.group(2)))
                     for ts, msg in log_lines(a) for m in [FLEET.search(msg)] if m]
            paces = [(ts, int(m.group(1)), int(m.group(2)))
                     for ts, msg in log_lines(a) for m in [PACE.search(msg)] if m]
            print("worker A's fleet (time, workers, its pace/min): %s" % fleet)
            print("worker A's progress (time, papers in flight, pace/min): %s" % paces)
            print("fake: %d requests, %d refused by the bucket" % (st["requests"], st["limit_429"]))
            shared = [i for i, (ts, n, pace) in enumerate(fleet) if n >= 3]
            self.assertTrue(shared, "A never counted B and C in its fleet")
            back = [(ts, n, pace) for ts, n, pace in fleet[shared[0] + 1:] if pace >= 0.9 * R]
            self.assertTrue(back, "A's share stayed below R after B and C went idle")
            self.assertTrue([ts for ts, held, pace in paces if ts > back[0][0] and held > 0],
                            "A had no papers left when its share came back")
            self.assertLessEqual(st["limit_429"], 0.02 * st["requests"], st)
            for w in (b, c):
                self.assertIsNotNone(first_time(w, "stepping out of the fleet"),
                                     "%s never stepped out" % w.name)

if __name__ == "__main__":
    pq.main()
