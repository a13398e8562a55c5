#!/usr/bin/env python3
"""Prometheus /metrics of `paperq-ledger serve` (the fleet, from the database)
and of a worker (its own requests), scraped over and over while 30 papers
flow through a fake provider that answers two requests 429 and one 500.
Every scrape must parse as the text exposition format (checked here against
the format's rules: HELP/TYPE before samples, counters named _total,
histogram buckets cumulative up to +Inf = _count); counters never go back;
the figures in flight show the run moving; at the end they agree with the
ledger's report and with what the fake provider counted."""
import math
import re
import time
import unittest
import urllib.error
import urllib.request

import pq

N = 30
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'(%s)="((?:[^"\\\n]|\\["\\n])*)"(,|$)' % r"[a-zA-Z_][a-zA-Z0-9_]*")


def parse(text):
    """{family: {"type", "help", "samples": [(name, {labels}, value)]}} from
    exposition text; raises AssertionError naming the line that breaks the
    format."""
    fams = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        where = "line %d: %r" % (n, line)
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name), where
            fams.setdefault(name, {"samples": []})["help"] = help_
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), where
            fam = fams.setdefault(name, {"samples": []})
            assert "type" not in fam and not fam["samples"], "TYPE after samples or twice: " + where
            fam["type"] = typ
            continue
        assert not line.startswith("#"), where
        m = SAMPLE.match(line)
        assert m, "not a sample: " + where
        name, labels_text, value = m.group(1), m.group(2), m.group(3)
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL.match(labels_text, pos)
                assert lm, "bad labels: " + where
                assert lm.group(1) not in labels, "label twice: " + where
                labels[lm.group(1)] = lm.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                pos = lm.end()
        v = float(value)  # accepts NaN, +Inf, -Inf as the format does
        base = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in fams and \
                    fams[name[: -len(suffix)]].get("type") == "histogram":
                base = name[: -len(suffix)]
        assert base in fams and "type" in fams[base], "sample without TYPE: " + where
        fams[base]["samples"].append((name, labels, v))
    for name, fam in fams.items():
        assert "help" in fam and "type" in fam, "%s lacks HELP or TYPE" % name
        assert name.startswith("paperq_"), "%s: not under the paperq_ prefix" % name
        if fam["type"] == "counter":
            assert name.endswith("_total"), "counter %s is not named _total" % name
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return fams


def check_histogram(name, samples):
    buckets = [(float(l["le"]), v) for n, l, v in samples if n == name + "_bucket"]
    count = [v for n, _, v in samples if n == name + "_count"]
    total = [v for n, _, v in samples if n == name + "_sum"]
    assert buckets and count and total, "%s: buckets, _sum and _count all needed" % name
    les = [le for le, _ in buckets]
    assert les == sorted(les) and math.isinf(les[-1]), "%s: le not ascending to +Inf" % name
    values = [v for _, v in buckets]
    assert values == sorted(values), "%s: buckets not cumulative: %s" % (name, values)
    assert values[-1] == count[0], "%s: +Inf bucket %s != _count %s" % (name, values[-1], count[0])


def value(fams, name, **labels):
    fam = fams.get(name) or fams[re.sub(r"_(bucket|sum|count)$", "", name)]
    for n, l, v in fam["samples"]:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            return v
    raise AssertionError("no sample %s%s" % (name, labels))


def total(fams, name):
    return sum(v for n, _, v in fams[name]["samples"] if n == name)


def counters(fams):
    out = {}
    for name, fam in fams.items():
        if fam["type"] in ("counter", "histogram"):
            for n, l, v in fam["samples"]:
                out[(n, tuple(sorted(l.items())))] = v
    return out


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.status == 200
        ctype = r.headers["Content-Type"]
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        return parse(r.read().decode("utf-8"))


class TestMetrics(unittest.TestCase):
    def test_scraped_while_papers_flow(self):
        lport, wport = pq.free_port(), pq.free_port()
        # Two 429s for one paper, one 500 for another: known counts to find.
        with pq.FakeLLM(latency_ms=250, jitter_ms=100, retry_after=0.2,
                        rule=["语义揭示与组织=429:2", "STKOS=500:1"]) as fake, \
                pq.Pipeline("metrics", fake=fake,
                            PAPERQ_LEDGER_METRICS_LISTEN="127.0.0.1:%d" % lport,
                            PAPERQ_WORKER_METRICS_LISTEN="127.0.0.1:%d" % wport) as p:
            p.start_ledger()
            worker = p.start_worker(PAPERQ_WORKER_CONCURRENCY=4)
            p.wait_for(lambda: scrape(lport) and scrape(wport), 30, "both /metrics to answer")

            # Any other path is a 404, not the metrics.
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen("http://127.0.0.1:%d/" % lport, timeout=10)
            self.assertEqual(cm.exception.code, 404)

            r = p.run_producer("--input", pq.fixture("records50.jsonl"), "--limit", str(N))
            self.assertEqual(r.returncode, 0, r.stderr)

            scrapes = 0
            mid_ledger = mid_worker = 0
            last_l, last_w = {}, {}
            deadline = time.monotonic() + 240
            while True:
                lf, wf = scrape(lport), scrape(wport)
                scrapes += 1
                for last, now in ((last_l, counters(lf)), (last_w, counters(wf))):
                    for k, v in now.items():
                        self.assertGreaterEqual(v, last.get(k, 0), "counter %s went back" % (k,))
                    last.update(now)
                done = value(lf, "paperq_papers", state="succeeded") + value(lf, "paperq_papers", state="parked")
                if 0 < done < N:
                    mid_ledger += 1
                if value(wf, "paperq_worker_papers_in_flight") > 0 and \
                        value(wf, "paperq_worker_http_requests_running") > 0:
                    mid_worker += 1
                if done == N and value(lf, "paperq_papers", state="queued") == 0:
                    break
                self.assertLess(time.monotonic(), deadline, "papers did not finish: %s" % done)
                time.sleep(0.2)
            print("scrapes: %d; mid-run: ledger %d, worker %d" % (scrapes, mid_ledger, mid_worker))
            self.assertGreater(mid_ledger, 0, "no scrape saw the run in progress")
            self.assertGreater(mid_worker, 0, "no scrape saw the worker with requests running")

            rep = p.wait_drained(N)
            # The worker's counts settle once its last answers are in.
            stats = fake.stats()
            p.wait_for(lambda: total(scrape(wport), "paperq_worker_http_requests_total") >= stats["requests"],
                       30, "the worker to count %d requests" % stats["requests"])
            lf, wf = scrape(lport), scrape(wport)
            stats = fake.stats()
            print("fake: %s" % stats["by_status"])

            # The ledger's figures are the report's.
            for state in ("queued", "running", "retrying", "succeeded", "parked"):
                self.assertEqual(value(lf, "paperq_papers", state=state), rep["papers"][state], state)
            self.assertAlmostEqual(total(lf, "paperq_spend_usd_total"), rep["cost_usd"], places=9)
            self.assertGreater(value(lf, "paperq_spend_usd_total", kind="translate_used"), 0)
            self.assertEqual(value(lf, "paperq_tokens_total", kind="translate", type="prompt"),
                             rep["tokens"]["prompt"])
            self.assertEqual(value(lf, "paperq_ledger_messages_total", outcome="applied"),
                             rep["events"]["applied"])
            self.assertEqual(value(lf, "paperq_workers", state="live"), 1)

            # The worker's figures are what the provider saw.
            self.assertEqual(total(wf, "paperq_worker_http_requests_total"), stats["requests"])
            self.assertEqual(value(wf, "paperq_worker_http_requests_total", outcome="rate_limited"),
                             stats["by_status"].get("429", 0))
            self.assertEqual(value(wf, "paperq_worker_http_rate_limited_total"),
                             stats["by_status"].get("429", 0))
            self.assertEqual(stats["by_status"].get("429", 0), 2, stats)
            self.assertEqual(stats["by_status"].get("500", 0), 1, stats)
            self.assertEqual(value(wf, "paperq_worker_http_requests_total", outcome="server_error"),
                             stats["by_status"].get("500", 0))
            self.assertEqual(value(wf, "paperq_worker_http_request_duration_seconds_count"),
                             stats["requests"])
            # Answers take 250-350 ms; only the 3 faults may come back sooner.
            self.assertLessEqual(value(wf, "paperq_worker_http_request_duration_seconds_bucket", le="0.25"), 3)
            mean = value(wf, "paperq_worker_http_request_duration_seconds_sum") / stats["requests"]
            self.assertTrue(0.2 <= mean <= 2.0, mean)
            self.assertEqual(value(wf, "paperq_worker_papers_total", outcome="succeeded"), rep["papers"]["succeeded"])
            # The adaptive limit stays between 1 and the configured ceiling.
            conf = p.run("worker", ["--print-config"]).stdout
            ceiling = int(re.search(r"max_requests = (\d+);", conf).group(1))
            limit = value(wf, "paperq_worker_http_concurrency_limit")
            self.assertTrue(1 <= limit <= ceiling, (limit, ceiling))
            self.assertEqual(value(wf, "paperq_worker_amqp_reconnects_total"), 0)
            self.assertEqual(p.stop(worker), 0)


if __name__ == "__main__":
    pq.main()
