#!/usr/bin/env python3
"""Transient faults at a high rate (429 with Retry-After, 500, 503, resets,
malformed JSON, truncation, untranslated answers): every paper still
succeeds, once, and the retries are recorded. A paper whose every request
fails is parked after exactly retry.max_attempts, with each attempt's error."""
import json
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


def show(p, paper_id):
    r = p.ledger("show", paper_id, "--json")
    if r.returncode != 0:
        raise AssertionError("show %s: %s" % (paper_id, r.stderr))
    return json.loads(r.stdout)


class TestRetries(unittest.TestCase):
    def test_transient_faults_all_succeed(self):
        faults = dict(p429=0.08, retry_after=0.2, p500=0.08, p503=0.04, preset=0.04,
                      pmalformed=0.04, ptruncate=0.04, puntranslated=0.04, seed=7)
        with pq.FakeLLM(**faults) as fake, \
                pq.Pipeline("retries", fake=fake, PAPERQ_RETRY_MAX_ATTEMPTS=8,
                            PAPERQ_TRANSLATE_CHECK_RETRIES=0) as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            r = p.run_producer("--input", RECORDS)
            self.assertEqual(r.returncode, 0, r.stderr)
            rep = p.wait_drained(50, timeout=300)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep)
            self.assertEqual(rep["papers"]["parked"], 0, rep)
            stats = fake.stats()
            by = stats["by_status"]
            print("fake answered: %s" % json.dumps(by))
            self.assertGreater(by.get("429", 0), 0)
            self.assertGreater(by.get("500", 0), 0)
            # Some papers needed more than one attempt, and the ledger knows.
            retried = 0
            for rec in pq.read_jsonl(RECORDS):
                s = show(p, rec["id"])
                self.assertEqual(s["state"], "succeeded")
                if len(s["attempts"]) > 1:
                    retried += 1
                    self.assertTrue(any(a.get("error") for a in s["attempts"]), s["attempts"])
            print("papers that needed a retry: %d of 50" % retried)
            self.assertGreater(retried, 0)
            # Nothing stored is still Chinese or lost a formula.
            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            for rec in pq.read_jsonl(RECORDS):
                with open("%s/%s.json" % (out, rec["id"])) as f:
                    doc = json.load(f)
                self.assertFalse(pq.cjk_outside_formulas(doc["abstract_en"]), doc["abstract_en"][:200])
                for formula in pq.formulas(rec["abstract"]):
                    self.assertIn(formula, doc["abstract_en"])

    def test_always_failing_paper_parked_after_max_attempts(self):
        records = pq.read_jsonl(RECORDS)[:10]
        target = records[3]
        marker = target["title"][:10]
        with pq.FakeLLM(rule=["%s=500" % marker]) as fake, \
                pq.Pipeline("maxattempts", fake=fake, PAPERQ_RETRY_MAX_ATTEMPTS=3) as p:
            src = p.path("ten.jsonl")
            with open(src, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            p.start_worker()
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            rep = p.wait_drained(10, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 9, rep)
            self.assertEqual(rep["papers"]["parked"], 1, rep)
            s = show(p, target["id"])
            self.assertEqual(s["state"], "parked")
            failed = [a for a in s["attempts"] if a.get("error")]
            self.assertEqual(len(failed), 3, s["attempts"])
            for a in failed:
                self.assertIn("500", a["error"])
            self.assertIn("max_attempts", s.get("park_reason", "") or "")
            self.assertEqual(fake.stats()["rule_hits"].get(marker), 3)
            r = p.ledger("failed")
            self.assertEqual(r.returncode, 0)
            self.assertIn(target["id"], r.stdout)


if __name__ == "__main__":
    pq.main()
