#!/usr/bin/env python3
"""Real providers and real judges (issue 11): every documented provider
behaviour (docs/providers.md) against the real programs.

- 300 papers while the provider shows every behaviour at a few percent each
  and the judges write decimals, fences, <think> blocks, numeric strings and
  trailing commas: every stored translation is the complete answer, the fleet
  never stops, only the papers whose input is flagged are parked, every
  sampled paper is judged, the key appears nowhere.
- Fatal refusals (no credit, key limit, insufficient_quota, unpaid accounts)
  stop the worker without burning a paper.
- A 402 weight_exceeds_budget is answered with a smaller max_tokens.
- Judges that think by default, given no reasoning setting, answer nothing:
  their QA job is parked within qa.max_requests_per_paper, the log names the
  setting, the report shows the thrown-away spend and warns."""
import json
import unittest

import pq
import providers_scenario

RECORDS = pq.fixture("records50.jsonl")


class TestProviders(unittest.TestCase):
    def test_300_papers_every_behaviour(self):
        f = providers_scenario.run(300)
        text = f.pop("report_text")
        print("figures: %s" % json.dumps({k: v for k, v in f.items() if k != "by_action"}, default=str))
        print("by action: %s" % json.dumps(f["by_action"]))
        # the provider did show the behaviours
        for action in ("402_inflight", "402_weight", "error200_402", "finish_error", "content_filter",
                       "refusal", "echo_key", "429_or", "429_date", "429_ms", "truncate", "503",
                       "408", "524", "529", "403_moderation"):
            self.assertGreater(f["by_action"].get(action, 0), 0, action)
        for style in ("decimal", "string", "fence", "prose", "think", "trailing_comma"):
            self.assertGreater(f["judge_styles"].get(style, 0), 0, style)
        self.assertTrue(f["finished"], "every paper terminal, QA queues empty")
        self.assertEqual(f["partial"], [], "stored translations that are not the complete answer")
        self.assertEqual(f["worker_exits"], [], "the fleet stopped")
        self.assertEqual(f["parked"], len(f["flagged"]), f["parked_papers"])
        self.assertEqual(sorted(pid for pid, _ in f["parked_papers"]), sorted(f["flagged"]))
        for pid, why in f["parked_papers"]:
            self.assertIn("content_filter", why, pid)
        self.assertEqual(f["succeeded"], 300 - len(f["flagged"]))
        self.assertGreater(f["sampled"], 15)
        self.assertEqual(f["judged"], f["sampled"], "every sampled paper judged")
        self.assertEqual(f["judgements"], 2 * f["sampled"])
        self.assertEqual(f["qa_parked"], 0)
        self.assertEqual(f["key_leaks"], [], "the API key was written out")
        # the spend is accounted: what the ledger counts is what was billed
        # (within the estimate of abandoned requests), and part of it is
        # reported as thrown away, with reasons
        self.assertGreater(f["ledger_wasted_usd"], 0)
        self.assertLess(abs(f["ledger_cost_usd"] - f["billed_usd"]), 0.05 * f["billed_usd"], f)
        reasons = {w["reason"] for w in f["ledger_wasted_by"]}
        self.assertTrue({"provider_error", "content_filter", "length"} <= reasons, reasons)
        self.assertIn("thrown away", text)

    def test_fatal_refusals_stop_the_worker_and_burn_nothing(self):
        with pq.FakeLLM(latency_ms=5) as fake, pq.Pipeline("fatal", fake=fake) as p:
            p.start_ledger()
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            for action, says in (("402_credits", "no_credit"), ("403_key_limit", "key_limit"),
                                 ("429_quota", "insufficient_quota"), ("zai_1113", "1113"),
                                 ("dsc_arrearage", "Arrearage")):
                fake.control({"rules": ["translate Chinese=%s" % action]})
                w = p.start_worker()
                self.assertEqual(p.wait_exit(w, 60, action), 3, action)
                with open(w.err) as f:
                    err = f.read()
                self.assertIn(says, err, action)
                rep = p.report()
                self.assertEqual(rep["papers"]["parked"], 0, action)
                self.assertEqual(rep["papers"]["succeeded"], 0, action)
            fake.control({"rules": []})
            p.start_worker()
            rep = p.wait_drained(50, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep["papers"])

    def test_weight_exceeds_budget_lowers_max_tokens(self):
        # OpenRouter: one request's estimate (prompt + max_tokens) is over the
        # in-flight budget; 8192 -> 4096 -> 2048 fits.
        with pq.FakeLLM(budget_max_tokens=3000) as fake, pq.Pipeline("weight", fake=fake) as p:
            p.start_ledger()
            p.start_worker()
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            rep = p.wait_drained(50, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 50, rep["papers"])
            seen = fake.stats()["max_tokens_seen"]
            self.assertIn("8192", seen)
            self.assertIn("2048", seen)
            self.assertEqual(fake.stats()["by_action"].get("402_weight"), seen["8192"] + seen["4096"])

    def test_thinking_judges_without_a_reasoning_setting(self):
        # GLM-4.6 thinks by default; with qa.reasoning "" (send none) its
        # max_tokens go to reasoning and it answers nothing.
        with pq.FakeLLM(reasoning_models="z-ai/glm-4.6", reasoning_tokens=2000,
                        judge_styles="decimal", report_cost=True) as fake, \
                pq.Pipeline("thinking", fake=fake, PAPERQ_QA_JUDGES="z-ai/glm-4.6",
                            PAPERQ_QA_SAMPLE_RATE=0.2, PAPERQ_QA_REASONING="",
                            PAPERQ_QA_MAX_REQUESTS_PER_PAPER=3) as p:
            p.start_ledger()
            w = p.start_worker()
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            p.wait_drained(50, timeout=120)
            rep = p.wait_for(lambda: (lambda r: r if r["qa"]["jobs_parked"] > 0 and
                                      pq.queue_depths(p.prefix).get(p.prefix + ".qa", 1) == 0
                                      else None)(p.report()), 120, "QA jobs parked")
            self.assertEqual(rep["qa"]["judgements"], 0)
            judge_requests = fake.stats()["judge_requests"]
            self.assertEqual(judge_requests, 3 * rep["qa"]["jobs_parked"], "the cap held")
            with open(w.err) as f:
                err = f.read()
            self.assertIn("qa.reasoning", err)
            cost = rep["cost"]
            self.assertTrue(cost["wasted_warning"], cost)
            self.assertEqual(cost["wasted_by"][0]["reason"], "reasoning_only", cost)
            text = p.ledger("report").stdout
            self.assertIn("thrown away; top reasons: reasoning_only", text)


if __name__ == "__main__":
    pq.main()
