#!/usr/bin/env python3
"""A fleet whose limit is the provider's tokens per minute (issue 12).

The fake admits tokens per minute as providers document it (Cerebras,
Databricks: a request reserves its prompt plus max_tokens, the answer gives
back what it did not use) and refuses the rest with 429. Two workers share
the limit: once with OpenAI's x-ratelimit-*-tokens headers and nothing set,
once without headers and translate.tokens_per_minute set for the fleet.
Asserted: every paper succeeds, at most 2% of requests are refused by the
token limit, and the limit was binding (the run used 2.5 times what the
provider's bucket holds, so the fleet had to wait for it to refill). Never
time."""
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")
PAPERS = 50
TPM = 240000  # the fixtures' 50 papers use about 44,000 tokens: 11 s of it
BURST = TPM / 15  # the provider's bucket: 4 s of its TPM, about 10 reservations
# (the two workers' first 4-request probes, before an answer states the
# limit, reserve about 8 of them)


class TestTokensPerMinute(unittest.TestCase):
    def run_fleet(self, tag, headers):
        fake_opts = dict(tpm=TPM, tpm_burst=BURST, latency_ms=300, latency_sigma=0.4,
                         rate_headers="openai" if headers else "none")
        # 4 papers a worker at a time, so that both workers get papers (the
        # first consumer would prefetch all 50).
        env = dict(PAPERQ_TRANSLATE_MAX_TOKENS=1024, PAPERQ_WORKER_CONCURRENCY=4)
        if not headers:
            env["PAPERQ_TRANSLATE_TOKENS_PER_MINUTE"] = TPM
        with pq.FakeLLM(**fake_opts) as fake, pq.Pipeline(tag, fake=fake, **env) as p:
            p.start_ledger()
            workers = [p.start_worker(), p.start_worker()]
            self.assertEqual(p.run_producer("--input", RECORDS).returncode, 0)
            rep = p.wait_drained(PAPERS, timeout=300)
            st = fake.stats()
            for w in workers:
                self.assertEqual(p.stop(w), 0)
            requests = sum(st["by_model"].values())
            refused = st["limit_429_tokens"]
            span = (st["last_answer_t"] or 0) - (st["first_request_t"] or 0)
            print("%s: %d papers succeeded, %d requests, %d refused by the token limit (%.2f%%), "
                  "%d tokens used = %.1f x the provider's bucket; %.0f%% of TPM over the fake's "
                  "first request to last answer (%.1f s; not asserted)"
                  % (tag, rep["papers"]["succeeded"], requests, refused, 100.0 * refused / requests,
                     st["usage_tokens"], st["usage_tokens"] / BURST,
                     100.0 * st["usage_tokens"] / (TPM * span / 60.0) if span > 0 else 0, span))
            self.assertEqual(rep["papers"]["succeeded"], PAPERS, rep)
            self.assertLessEqual(refused, 0.02 * requests)
            self.assertGreaterEqual(st["usage_tokens"], 2.5 * BURST)

    def test_headers_nothing_set(self):
        self.run_fleet("tpm-headers", headers=True)

    def test_no_headers_fleet_tpm_set(self):
        self.run_fleet("tpm-config", headers=False)


if __name__ == "__main__":
    pq.main()
