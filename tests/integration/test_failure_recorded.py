#!/usr/bin/env python3
"""A paper whose LLM calls are answered 400 (permanent for that input) ends
parked with the reason in `paperq-ledger show`; the other papers succeed."""
import re
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")


def distinctive_substring(records, target):
    """A run of the target's abstract found in no other record (the fake's
    rule matches on request content)."""
    text = target["abstract"]
    others = [r["title"] + r["abstract"] for r in records if r["id"] != target["id"]]
    for start in range(0, max(1, len(text) - 12)):
        cand = text[start:start + 12]
        if "$" in cand or not pq.CJK.search(cand) or cand != cand.strip():
            continue
        if not any(cand in o for o in others):
            return cand
    raise AssertionError("no distinctive substring in %s" % target["id"])


class TestFailureRecorded(unittest.TestCase):
    def test_400_parks_one_paper(self):
        records = pq.read_jsonl(RECORDS)
        target = next(r for r in records[5:] if "$" not in r["abstract"] and len(r["abstract"]) > 100)
        marker = distinctive_substring(records, target)
        with pq.FakeLLM(rule=["%s=400" % marker]) as fake, \
                pq.Pipeline("failure", fake=fake, PAPERQ_RETRY_MAX_ATTEMPTS=3) as p:
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            r = p.run_producer("--input", RECORDS)
            self.assertEqual(r.returncode, 0, "producer failed:\n%s\n%s" % (r.stdout, r.stderr))

            rep = p.wait_drained(50, timeout=240)
            self.assertEqual(rep["papers"]["succeeded"], 49, rep)
            self.assertEqual(rep["papers"]["parked"], 1, rep)

            r = p.ledger("show", target["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?i)parked", r.stdout)
            self.assertRegex(r.stdout, r"\b400\b", "reason should name the HTTP status:\n" + r.stdout)

            other = next(x for x in records if x["id"] != target["id"])
            r = p.ledger("show", other["id"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?i)succeeded", r.stdout)

            hits = fake.stats()["rule_hits"].get(marker, 0)
            print("requests answered 400 for %s: %d" % (target["id"], hits))
            self.assertGreaterEqual(hits, 1)
            # Bounded by the attempt budget (issue 3 wants a 400 parked at once: 1).
            self.assertLessEqual(hits, 3)


if __name__ == "__main__":
    pq.main()
