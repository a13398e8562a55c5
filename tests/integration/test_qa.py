#!/usr/bin/env python3
"""QA by two judges on a deterministic 10% sample: 200 papers give about 20
judged papers with two judgements each; the report shows the means, the
judges' agreement and the success metrics; a second run judges the very same
papers. Judge replies that are malformed or out of range are retried and
never stored; a failing judge never fails or delays a translation."""
import json
import unittest

import pq

SAMPLE = pq.fixture("sample.jsonl")
JUDGES = "z-ai/glm-4.6,qwen/qwen-max"


def judged_papers(p):
    r = p.ledger("report", "--json")
    rep = json.loads(r.stdout)
    return rep, rep["qa"]


def run_once(test, name, **fake_opts):
    with pq.FakeLLM(**fake_opts) as fake, \
            pq.Pipeline(name, fake=fake, PAPERQ_QA_JUDGES=JUDGES, PAPERQ_QA_SAMPLE_RATE=0.1) as p:
        p.start_ledger()
        p.start_worker(PAPERQ_WORKER_CONCURRENCY=32)
        test.assertEqual(p.run_producer("--input", SAMPLE).returncode, 0)
        rep = p.wait_drained(200, timeout=240)
        test.assertEqual(rep["papers"]["succeeded"], 200, rep["papers"])
        rep = p.wait_for(lambda: (lambda r: r if r["qa"]["judgements"] > 0 and
                                  r["qa"]["judgements"] == 2 * r["qa"]["papers_judged"] and
                                  pq.queue_depths(p.prefix).get(p.prefix + ".qa", 1) == 0
                                  else None)(p.report()),
                         120, "every sampled paper judged by both judges")
        text = p.ledger("report").stdout
        stats = fake.stats()
        return rep, text, stats, p


class TestQA(unittest.TestCase):
    def test_sampled_judged_twice_and_reported(self):
        # A share of judge replies are malformed JSON: retried, never stored.
        rep, text, stats, _ = run_once(self, "qa1", rule=["rubric=malformed:5"])
        qa = rep["qa"]
        print("judged %d papers, %d judgements; mean overall %.2f; agreement %s"
              % (qa["papers_judged"], qa["judgements"], qa["mean_overall"], qa.get("agreement_mad")))
        self.assertTrue(12 <= qa["papers_judged"] <= 30, qa)
        self.assertEqual(qa["judgements"], 2 * qa["papers_judged"])
        self.assertEqual(sorted(qa["by_judge"]), sorted(JUDGES.split(",")))
        for judge, s in qa["by_judge"].items():
            self.assertEqual(s["count"], qa["papers_judged"], judge)
            for k in ("accuracy", "fluency", "terminology", "completeness", "overall"):
                self.assertTrue(1 <= s[k] <= 10, (judge, k, s[k]))
        self.assertEqual(stats["rule_hits"].get("rubric"), 5)
        names = {t["name"] for t in rep["targets"]}
        self.assertTrue({"qa_min", "max_failed_ratio", "budget_usd", "max_hours"} <= names, names)
        for t in rep["targets"]:
            self.assertIn(t["holds"], (True, False))
        self.assertIn("glm-4.6", text)
        self.assertRegex(text, r"(?i)agreement")

    def test_same_papers_judged_on_a_second_run(self):
        ids = []
        for name in ("qa2a", "qa2b"):
            with pq.FakeLLM() as fake, \
                    pq.Pipeline(name, fake=fake, PAPERQ_QA_JUDGES=JUDGES,
                                PAPERQ_QA_SAMPLE_RATE=0.1) as p:
                p.start_ledger()
                p.start_worker(PAPERQ_WORKER_CONCURRENCY=32)
                self.assertEqual(p.run_producer("--input", SAMPLE, "--limit", "100").returncode, 0)
                p.wait_drained(100, timeout=180)
                p.wait_for(lambda: pq.queue_depths(p.prefix).get(p.prefix + ".qa", 1) == 0 and
                           p.report()["qa"]["judgements"] == 2 * p.report()["qa"]["papers_judged"],
                           60, "QA drained")
                judged = set()
                for rec in pq.read_jsonl(SAMPLE)[:100]:
                    s = json.loads(p.ledger("show", rec["id"], "--json").stdout)
                    if s.get("qa"):
                        judged.add(rec["id"])
                ids.append(judged)
        print("judged on run 1: %d, run 2: %d" % (len(ids[0]), len(ids[1])))
        self.assertTrue(ids[0])
        self.assertEqual(ids[0], ids[1])

    def test_failing_judges_do_not_touch_translations(self):
        # Every judge request fails: all papers still succeed; QA jobs retry
        # and finally park without marking any paper.
        with pq.FakeLLM(rule=["rubric=500"]) as fake, \
                pq.Pipeline("qa3", fake=fake, PAPERQ_QA_JUDGES=JUDGES, PAPERQ_QA_SAMPLE_RATE=0.2,
                            PAPERQ_RETRY_MAX_ATTEMPTS=2) as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=32)
            self.assertEqual(p.run_producer("--input", SAMPLE, "--limit", "60").returncode, 0)
            rep = p.wait_drained(60, timeout=180)
            self.assertEqual(rep["papers"]["succeeded"], 60, rep["papers"])
            self.assertEqual(rep["papers"]["parked"], 0, rep["papers"])
            self.assertEqual(rep["qa"]["judgements"], 0)
            self.assertGreater(fake.stats()["rule_hits"].get("rubric", 0), 0)
            # The qa.failed events were understood (a 500 carries no usage to count).
            rep = p.wait_for(lambda: (lambda r: r if r["qa"]["jobs_parked"] > 0 else None)(p.report()),
                             60, "QA jobs parked after their attempts")
            self.assertEqual(rep["bad_messages"], 0, rep.get("bad_latest"))
            self.assertEqual(rep["papers"]["parked"], 0)

    def test_requeue_low_scorers_with_fallback(self):
        """requeue --qa-below X --fallback sends the low scorers back to be
        translated by the fallback model; their old judgements stay history."""
        with pq.FakeLLM() as fake, \
                pq.Pipeline("qa4", fake=fake, PAPERQ_QA_JUDGES=JUDGES, PAPERQ_QA_SAMPLE_RATE=0.3,
                            PAPERQ_TRANSLATE_FALLBACK_MODEL="fallback/model") as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=32)
            self.assertEqual(p.run_producer("--input", SAMPLE, "--limit", "60").returncode, 0)
            p.wait_drained(60, timeout=120)
            rep = p.wait_for(lambda: (lambda r: r if r["qa"]["judgements"] > 0 and
                                      r["qa"]["judgements"] == 2 * r["qa"]["papers_judged"]
                                      else None)(p.report()), 60, "QA done")
            low = [x for x in rep["qa"]["lowest"]]
            r = p.ledger("requeue", "--qa-below", "8.5", "--fallback")
            self.assertEqual(r.returncode, 0, r.stderr)
            print(r.stdout.strip())
            m = __import__("re").search(r"requeued (\d+)", r.stdout)
            self.assertTrue(m, r.stdout)
            n = int(m.group(1))
            self.assertGreater(n, 0, "the fake's judges give some scores below 8.5")
            p.wait_for(lambda: fake.stats()["by_model"].get("fallback/model", 0) >= n, 60,
                       "the fallback model to translate the requeued papers")
            rep = p.wait_drained(60, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 60)
            self.assertGreater(rep["qa"]["judgements_all"], rep["qa"]["judgements"] - 1)
            print("lowest before: %s" % low[:2])


if __name__ == "__main__":
    pq.main()
