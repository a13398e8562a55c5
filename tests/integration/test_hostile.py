#!/usr/bin/env python3
"""Hostile input through the real programs (issue 13; the unit-level items
are in tests/unit/test_hostile.c):

- item 1: a job with 1.2 million body blocks is parked with a reason naming
  the bound; the worker that took it keeps working (it used to die of a
  stack overflow, every worker in turn, until the delivery limit);
- item 4: jobs with gen -1 or 1e300 or attempt 2^31-1 (or 2^32+1 sent as
  a 64-bit header, which an int would read as 1) are parked, not
  translated and paid for and then refused by the ledger (the paper and its
  spend used to vanish);
- item 3: an event that crashes the ledger is set aside in P.ledger.parked
  after broker.delivery_limit deliveries, and the ledger goes on;
- item 2: papers whose answers are 3 MB runaways (re-asked, then failed) do
  not grow the worker: each re-ask used to leak its whole response buffer
  (the issue saw 40 such papers take a worker to 3.5 GB; 12 show it here);
- fuzz_chunk's finding: a paper whose text holds marker-shaped lines
  ("<<<2>>>" alone on a line) translates like any other, with those lines
  kept, in as many requests as its twin with ordinary lines there.
"""
import json
import os
import subprocess
import unittest

import pq

RECORDS = pq.fixture("records50.jsonl")
FULLTEXT = pq.fixture("fulltext.jsonl")
MARK = "HOSTILE-MARK"
RUNAWAY = "You translate Chinese scientific papers"


def publish(p, exchange, rk, typ, attempt, body):
    path = p.path("msg-%d.json" % len(os.listdir(p.tmp)))
    with open(path, "wb") as f:
        f.write(body)
    tool = os.path.join(pq.bin_dir(), "tests", "integration", "pq_publish")
    r = subprocess.run([tool, exchange, rk, typ, str(attempt), path], env=p.env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("pq_publish failed: %s" % r.stderr)


def job(paper_id, gen_text="0", body_blocks=0):
    rec = {"id": paper_id, "title": MARK + " 标题", "abstract": MARK + " 摘要", "authors": [],
           "keywords": [], "subjects": []}
    text = json.dumps(rec, ensure_ascii=False)
    if body_blocks:
        blocks = ",".join(['{"kind":"paragraph","text":"' + MARK + '"}'] * body_blocks)
        text = text[:-1] + ',"body":[' + blocks + "]}"
    return ('{"v":1,"paper_id":"%s","gen":%s,"record":%s}' % (paper_id, gen_text, text)).encode()


def show(p, paper_id):
    r = p.ledger("show", paper_id, "--json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM for pid %d" % pid)


def sanitizer_reports(pid):
    """Sanitizer reports written by process pid (scripts/test.sh with
    PAPERQ_SANITIZE=1 sends them to PQ_SANITIZER_LOG_DIR), or None when this
    is not a sanitizer build."""
    d = os.environ.get("PQ_SANITIZER_LOG_DIR")
    if not d:
        return None
    return [n for n in os.listdir(d) if n.endswith(".%d" % pid)]


class TestHostile(unittest.TestCase):
    def test_hostile_jobs_parked_worker_survives(self):
        good = pq.read_jsonl(RECORDS)[:3]
        with pq.FakeLLM(rule=[MARK + "=ok"]) as fake, \
                pq.Pipeline("hostile", fake=fake, PAPERQ_BROKER_DELIVERY_LIMIT=3) as p:
            src = p.path("in.jsonl")
            with open(src, "w") as f:
                for rec in good:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=4)
            publish(p, "jobs", "job", "paperq.job", 1, job("hostile-huge", body_blocks=1200000))
            publish(p, "jobs", "job", "paperq.job", 1, job("hostile-gen-neg", "-1"))
            publish(p, "jobs", "job", "paperq.job", 1, job("hostile-gen-big", "1e300"))
            publish(p, "jobs", "job", "paperq.job", 2147483647, job("hostile-attempt"))
            # 2^32 + 1 as a 64-bit header: read into an int it would be 1.
            publish(p, "jobs", "job", "paperq.job", 4294967297, job("hostile-attempt64"))
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            # A 36 MB job is parsed by the worker and the ledger: slow under
            # the sanitizers on a busy machine, hence the long deadline.
            rep = p.wait_drained(8, timeout=600)
            self.assertEqual(rep["papers"]["succeeded"], 3, rep)
            self.assertEqual(rep["papers"]["parked"], 5, rep)
            self.assertIsNone(w.poll(), "the worker died on a hostile job")
            reasons = {pid: (show(p, pid) or {}).get("park_reason") or ""
                       for pid in ("hostile-huge", "hostile-gen-neg", "hostile-gen-big",
                                   "hostile-attempt", "hostile-attempt64")}
            print("park reasons: %s" % json.dumps(reasons, indent=1))
            self.assertIn("record.body has 1200000 blocks (limit 10000)", reasons["hostile-huge"])
            self.assertIn("gen must be an integer", reasons["hostile-gen-neg"])
            self.assertIn("gen must be an integer", reasons["hostile-gen-big"])
            self.assertIn("x-paperq-attempt 2147483647 is out of range", reasons["hostile-attempt"])
            self.assertIn("x-paperq-attempt 4294967297 is out of range",
                          reasons["hostile-attempt64"])
            # Nothing of theirs was sent to the provider (nothing was paid).
            self.assertEqual(fake.stats()["rule_hits"].get(MARK, 0), 0, fake.stats())
            self.assertEqual(p.stop(w), 0)

    def test_runaway_answers_do_not_grow_the_worker(self):
        records = pq.read_jsonl(RECORDS)[:12]
        # Every translation request carries the worker's system prompt.
        with pq.FakeLLM(rule=[RUNAWAY + "=runaway"], runaway_bytes=3000000) as fake, \
                pq.Pipeline("runaway", fake=fake, PAPERQ_RETRY_MAX_ATTEMPTS=1,
                            PAPERQ_TRANSLATE_CHECK_RETRIES=1) as p:
            src = p.path("in.jsonl")
            with open(src, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            w = p.start_worker(PAPERQ_WORKER_CONCURRENCY=4, PAPERQ_WORKER_MAX_REQUESTS=4)
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            rep = p.wait_drained(12, timeout=600)
            self.assertEqual(rep["papers"]["parked"], 12, rep)
            st = fake.stats()
            asks = st["rule_hits"].get(RUNAWAY, 0)
            rss = peak_rss_mb(w.pid)
            print("runaway answers: %d of 3 MB, worker peak RSS %.0f MB" % (asks, rss))
            self.assertGreaterEqual(asks, 12 * 2, st)  # every chunk asked twice
            self.assertIsNone(w.poll(), "the worker died")
            self.assertEqual(p.stop(w), 0)
            reports = sanitizer_reports(w.pid)
            if reports is not None:
                # Sanitizer build: LeakSanitizer says whether anything leaked;
                # RSS means little there (ASan keeps freed memory quarantined).
                self.assertEqual(reports, [], "sanitizer reports from the worker")
            else:
                # Every re-ask leaked its 3 MB buffer (half the answers here,
                # 80+ of them: 250+ MB); 4 requests in flight with their parsed
                # copies stay well under 150 MB.
                self.assertLess(rss, 150, "worker peak RSS %.0f MB" % rss)

    def test_marker_lines_in_the_text(self):
        base = pq.read_jsonl(FULLTEXT)[7]
        # Marker-shaped lines as a hostile or odd paper has them, and a twin
        # with ordinary lines of the same length (same chunking).
        lines = ["<<<2>>>", "<<<1>>>", "<<< 3 >>> 附注"]
        twin = ["(((2)))", "(((1)))", "((( 3 ))) 附注"]
        papers = {}
        for name, inserted in (("marks", lines), ("plain", twin)):
            rec = json.loads(json.dumps(base))
            rec["id"] = base["id"] + "-" + name
            k = 0
            for b in rec["body"]:
                if b["kind"] == "paragraph" and "。" in b["text"]:
                    b["text"] = b["text"].replace("。", "。\n%s\n" % inserted[k % 3], 1)
                    k += 1
            papers[name] = rec
        self.assertGreater(k, 6)
        with pq.FakeLLM() as fake, pq.Pipeline("markers", fake=fake) as p:
            src = p.path("in.jsonl")
            with open(src, "w") as f:
                for rec in papers.values():
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            p.start_ledger()
            p.start_worker()
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            rep = p.wait_drained(2, timeout=120)
            self.assertEqual(rep["papers"]["succeeded"], 2, rep["papers"])
            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            docs = {}
            for name, rec in papers.items():
                with open(os.path.join(out, rec["id"] + ".json")) as f:
                    docs[name] = json.load(f)
            # (the fake translates 附注 but keeps ASCII byte for byte)
            kept = sum(1 for b in docs["marks"]["body_en"]
                       if any("\n" + line.split(" 附注")[0] in b["text"] for line in lines))
            requests = {name: d["usage"]["requests"] for name, d in docs.items()}
            print("marker lines: %d of %d kept; requests %s" % (kept, k, requests))
            self.assertEqual(kept, k)
            self.assertEqual(requests["marks"], requests["plain"])
            rejected = docs["marks"]["checks"].get("rejected_answers", {})
            self.assertEqual(rejected, {}, "answers refused")

    def test_event_that_crashes_the_ledger_is_set_aside(self):
        # Item 3: the ledger queue has a delivery limit and a parking place.
        # pq_crash_consumer stands for a ledger that dies on one event (the
        # fixed ledger no longer does); after broker.delivery_limit deliveries
        # the event is in P.ledger.parked and what follows it is applied.
        with pq.Pipeline("ledgerlimit", PAPERQ_BROKER_DELIVERY_LIMIT=2) as p:
            tool = os.path.join(pq.bin_dir(), "tests", "integration", "pq_crash_consumer")
            ev = {"v": 1, "id": "%032x" % 7, "kind": "worker.heartbeat", "ts": 1764406800000,
                  "worker": "poison:1", "in_flight": 0}
            publish(p, "events", "worker.heartbeat", "paperq.event", 0, json.dumps(ev).encode())
            crashes = 0
            while True:
                r = subprocess.run([tool, "ledger"], env=p.env, capture_output=True, text=True,
                                   timeout=60)
                if r.returncode == 0:
                    break  # nothing left to crash on
                self.assertEqual(r.returncode, 3, r.stderr)
                crashes += 1
                self.assertLessEqual(crashes, 5, "the event keeps coming back: %s" % r.stdout)
            print("crashed on it %d times (delivery limit 2)" % crashes)
            depths = p.wait_for(lambda: pq.queue_depths(p.prefix).get(p.prefix + ".ledger.parked") == 1
                                and pq.queue_depths(p.prefix), 30, "the event in P.ledger.parked")
            self.assertEqual(depths.get(p.prefix + ".ledger", 0), 0, depths)
            # The real ledger then goes on with what comes next.
            p.start_ledger()
            ev2 = dict(ev, id="%032x" % 8, worker="fine:1")
            publish(p, "events", "worker.heartbeat", "paperq.event", 0, json.dumps(ev2).encode())
            p.wait_for(lambda: any(w.get("worker") == "fine:1" for w in p.report()["workers"]["list"]),
                       60, "the next event applied")


if __name__ == "__main__":
    pq.main()
