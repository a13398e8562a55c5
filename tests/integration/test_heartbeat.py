#!/usr/bin/env python3
"""One worker keeps its broker connection alive while every LLM call takes
far longer than the AMQP heartbeat: 32 calls of 7 s in flight against a 2 s
heartbeat (the broker drops a connection after two missed heartbeats). The
fleet's rate is set (far above what 32 calls of 7 s use), so the worker
starts all 32 at once: with no rate known it would probe with 4 and double
every 7 s round trip (worker/ratelimit.c)."""
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


class TestHeartbeat(unittest.TestCase):
    def test_long_calls_keep_connection(self):
        with pq.FakeLLM(latency_ms=7000) as fake, \
                pq.Pipeline("heartbeat", fake=fake, PAPERQ_BROKER_HEARTBEAT_S=2) as p:
            p.start_ledger()
            w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=32, PAPERQ_WORKER_MAX_REQUESTS=256,
                               PAPERQ_TRANSLATE_REQUESTS_PER_MINUTE=60000)
            self.assertEqual(p.run_producer("--input", RECORDS, "--limit", "36").returncode, 0)
            rep = p.wait_drained(36, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 36, rep)
            stats = fake.stats()
            print("max requests in flight at the fake: %d" % stats["max_in_flight"])
            self.assertGreaterEqual(stats["max_in_flight"], 32)
            self.assertEqual(p.stop(w), 0)
            with open(w.err) as f:
                log = f.read()
            self.assertNotIn("lost the broker connection", log)
            self.assertNotIn("connection lost", log)


if __name__ == "__main__":
    pq.main()
