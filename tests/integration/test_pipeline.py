#!/usr/bin/env python3
"""50 real papers through ledger + one worker (concurrency 16) against the
fake LLM: 50 succeeded, each exported once with formulas intact and no Chinese
left, and a second run of the producer adds no duplicate success."""
import json
import os
import re
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


class TestPipeline(unittest.TestCase):
    def test_50_papers_one_worker(self):
        records = {r["id"]: r for r in pq.read_jsonl(RECORDS)}
        self.assertEqual(len(records), 50)
        # 100 ms per call keeps requests overlapping, so concurrency shows.
        with pq.FakeLLM(latency_ms=100) as fake, pq.Pipeline("pipeline", fake=fake) as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)

            r = p.run_producer("--input", RECORDS)
            self.assertEqual(r.returncode, 0, "producer failed:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"queued 50\b")
            self.assertRegex(r.stdout, r"rejected 0\b")

            rep = p.wait_drained(50, timeout=240)
            papers = rep["papers"]
            self.assertEqual(papers["total"], 50, rep)
            self.assertEqual(papers["succeeded"], 50, rep)
            self.assertEqual(papers["parked"], 0, rep)
            self.assertGreater(rep["tokens"]["prompt"], 0, rep)
            self.assertGreater(rep["tokens"]["completion"], 0, rep)
            tokens_first = rep["tokens"]

            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_export(out, records)

            stats = fake.stats()
            print("fake stats: %s" % json.dumps(stats))
            self.assertGreaterEqual(stats["by_status"].get("200", 0), 50, stats)
            self.assertNotIn("401", stats["by_status"], "the worker did not send the API key")
            # One worker process, many requests at once.
            self.assertGreaterEqual(stats["max_in_flight"], 4, stats)
            requests_first = stats["requests"]

            # Same input again: the producer skips what the ledger knows...
            r = p.run_producer("--input", RECORDS)
            self.assertEqual(r.returncode, 0, "second producer run failed:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"queued 0\b", r.stdout)
            self.assertRegex(r.stdout, r"skipped 50\b", r.stdout)
            # ...and with --force real duplicates go through the fleet:
            # at-least-once delivery, exactly-once effect.
            r = p.run_producer("--input", RECORDS, "--force")
            self.assertEqual(r.returncode, 0, "forced producer run failed:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"queued 50\b", r.stdout)
            # The duplicates cost what the first run cost (same input, no
            # faults): wait until the fake has answered them and the ledger
            # has counted their spend, then check nothing succeeded twice.
            p.wait_for(lambda: fake.stats()["requests"] >= 2 * requests_first, 240,
                       "the fake to answer the forced run's %d requests" % requests_first)

            def spend_counted():
                t = p.report()["tokens"]
                return t["prompt"] >= 2 * tokens_first["prompt"] and t["completion"] >= 2 * tokens_first["completion"]
            p.wait_for(spend_counted, 120, "the ledger to count the duplicates' tokens (2 x %s)" % tokens_first)
            rep = p.wait_drained(50, timeout=60)
            self.assertEqual(rep["papers"]["total"], 50, rep)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep)
            self.assertEqual(rep["papers"]["parked"], 0, rep)
            stats = fake.stats()
            print("fake requests: first run %d, after the forced run %d" % (requests_first, stats["requests"]))
            self.assertEqual(stats["requests"], 2 * requests_first, stats)

            out2 = p.path("export2")
            r = p.ledger("export", "--out", out2)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(out2)), sorted(os.listdir(out)))

    def check_export(self, out, records):
        files = sorted(os.listdir(out))
        self.assertEqual(files, sorted(pid + ".json" for pid in records))
        for name in files:
            with open(os.path.join(out, name), encoding="utf-8") as f:
                doc = json.load(f)
            pid = name[:-5]
            src = records[pid]
            self.assertEqual(doc["paper_id"], pid)
            self.assertIs(doc.get("dry_run"), False, "%s: dry_run should be false" % pid)
            self.assertTrue(doc.get("model"), "%s: no model" % pid)
            for field, source in (("title_en", src["title"]), ("abstract_en", src["abstract"])):
                text = doc.get(field)
                self.assertIsInstance(text, str, "%s: %s missing" % (pid, field))
                self.assertTrue(text.strip(), "%s: %s empty" % (pid, field))
                left = pq.cjk_outside_formulas(text)
                self.assertEqual(left, [], "%s: %s still has Chinese: %r" % (pid, field, "".join(left[:20])))
                for formula in pq.formulas(source):
                    self.assertIn(formula, text, "%s: formula %r not kept in %s" % (pid, formula, field))


if __name__ == "__main__":
    pq.main()
