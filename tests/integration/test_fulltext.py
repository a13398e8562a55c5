#!/usr/bin/env python3
"""Whole papers: the 60 full-text papers come back with the same blocks in
the same order, every formula byte for byte, equations copied, no Chinese
left; with the fake truncating or answering in Chinese for a share of
requests, no such answer is ever stored as a translation."""
import json
import os
import unittest

import pq

FULLTEXT = pq.fixture("fulltext.jsonl")


def check_exports(test, p, records):
    out = p.path("export-%d" % len(os.listdir(p.tmp)))
    r = p.ledger("export", "--out", out, "--markdown")
    test.assertEqual(r.returncode, 0, r.stderr)
    formulas = requests = prompt = completion = 0
    for rec in records:
        with open(os.path.join(out, rec["id"] + ".json")) as f:
            doc = json.load(f)
        test.assertTrue(os.path.exists(os.path.join(out, rec["id"] + ".md")))
        body, body_en = rec["body"], doc["body_en"]
        test.assertEqual(len(body_en), len(body), rec["id"])
        for src, dst in zip(body, body_en):
            test.assertEqual(dst["kind"], src["kind"], rec["id"])
            if src["kind"] == "equation":
                test.assertEqual(dst["text"], src["text"])
                continue
            for formula in pq.formulas(src["text"]):
                test.assertIn(formula, dst["text"], rec["id"])
            test.assertFalse(pq.cjk_outside_formulas(dst["text"]), (rec["id"], dst["text"][:200]))
        for field in ("title_en", "abstract_en"):
            test.assertFalse(pq.cjk_outside_formulas(doc[field]), (rec["id"], field, doc[field][:200]))
        for formula in pq.formulas(rec["abstract"]):
            test.assertIn(formula, doc["abstract_en"])
        for kw in doc["keywords_en"] + doc["subjects_en"] + doc["authors_en"]:
            test.assertFalse(pq.CJK.search(kw), (rec["id"], kw))
        formulas += doc["checks"]["formulas"]
        requests += doc["usage"]["requests"]
        prompt += doc["usage"]["prompt_tokens"]
        completion += doc["usage"]["completion_tokens"]
    n = len(records)
    print("%d papers: %.1f requests/paper, %.0f prompt and %.0f completion tokens/paper, "
          "%d formulas checked" % (n, requests / n, prompt / n, completion / n, formulas))
    return formulas


class TestFulltext(unittest.TestCase):
    def test_sixty_fulltext_papers(self):
        records = pq.read_jsonl(FULLTEXT)
        self.assertEqual(len(records), 60)
        with pq.FakeLLM() as fake, pq.Pipeline("fulltext", fake=fake) as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            self.assertEqual(p.run_producer("--input", FULLTEXT).returncode, 0)
            rep = p.wait_drained(60, timeout=240)
            self.assertEqual(rep["papers"]["succeeded"], 60, rep["papers"])
            formulas = check_exports(self, p, records)
            self.assertGreater(formulas, 1000)

    def test_bad_answers_never_stored(self):
        records = pq.read_jsonl(FULLTEXT)[:20]
        with pq.FakeLLM(ptruncate=0.15, puntranslated=0.15, seed=3) as fake, \
                pq.Pipeline("fulltext-bad", fake=fake, PAPERQ_RETRY_MAX_ATTEMPTS=10) as p:
            src = p.path("in.jsonl")
            with open(src, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            rep = p.wait_drained(20, timeout=240)
            self.assertEqual(rep["papers"]["succeeded"], 20, rep["papers"])
            print("fake answered %d requests" % fake.stats()["requests"])
            check_exports(self, p, records)
            # The rejected answers are recorded with the paper.
            rejected = 0
            for rec in records:
                s = json.loads(p.ledger("show", rec["id"], "--json").stdout)
                checks = (s.get("translation") or {}).get("checks") or s.get("checks") or {}
                rejected += sum(checks.get("rejected_answers", {}).values())
            print("answers rejected by a check: %d" % rejected)
            self.assertGreater(rejected, 0)

    def test_retry_pays_only_for_what_is_missing(self):
        """A paper whose attempt fails on one chunk is retried with the
        chunks already translated carried in the job: the retry sends only
        the failed one."""
        rec = max(pq.read_jsonl(FULLTEXT), key=lambda r: len(r["body"]))
        late = [b["text"] for b in rec["body"] if b["kind"] == "paragraph" and "$" not in b["text"]
                and len(b["text"]) > 40][-1]
        marker = late[5:25]
        counts = []
        for name, rules in (("spend-clean", []), ("spend-retry", ["%s=500:1" % marker])):
            with pq.FakeLLM(rule=rules) as fake, pq.Pipeline(name, fake=fake) as p:
                src = p.path("one.jsonl")
                with open(src, "w") as f:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                p.start_ledger()
                p.start_worker()
                self.assertEqual(p.run_producer("--input", src).returncode, 0)
                rep = p.wait_drained(1, timeout=60)
                self.assertEqual(rep["papers"]["succeeded"], 1)
                counts.append(fake.stats()["requests"])
                if rules:
                    s = json.loads(p.ledger("show", rec["id"], "--json").stdout)
                    self.assertEqual(len(s["attempts"]), 2, s["attempts"])
        print("requests for %s: %d clean, %d with one failed chunk" % (rec["id"], counts[0], counts[1]))
        self.assertGreater(counts[0], 3)
        self.assertEqual(counts[1], counts[0] + 1)


if __name__ == "__main__":
    pq.main()
