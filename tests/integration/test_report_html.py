#!/usr/bin/env python3
"""`paperq-ledger report --html FILE` after a real run (8 papers, one parked
after two 500s, two judges on every paper, one title full of markup), opened
in Debian's headless chromium: no console error (a control page proves the
check sees one), the DOM has every chart and table the issue asks for, the
hostile title is text and not markup, nothing is loaded from anywhere, no
secret is in the page. The screenshot is kept as an artifact in
$PQ_ARTIFACTS_DIR (default: the build directory's artifacts/)."""
import html.parser
import json
import os
import shutil
import struct
import subprocess
import unittest

import pq

N = 8
JUDGES = "z-ai/glm-4.6,qwen/qwen-max"
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">&amp; "quoted" \'single\''
CHROMIUM = "/usr/bin/chromium"
WINDOW = (1000, 2800)


def records(path):
    rows = pq.read_jsonl(pq.fixture("records50.jsonl"))[:N]
    rows[0]["title"] = HOSTILE + rows[0]["title"]
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return rows


def chromium(*args, timeout=120):
    """Runs headless chromium; returns (stdout, console lines)."""
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--enable-logging=stderr", "--v=0",
                        "--window-size=%d,%d" % WINDOW] + list(args),
                       capture_output=True, text=True, errors="replace", timeout=timeout)
    console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
    if r.returncode != 0:
        raise AssertionError("chromium exited %d:\n%s" % (r.returncode, r.stderr[-3000:]))
    return r.stdout, console


class DOM(html.parser.HTMLParser):
    """What the rendered page holds: elements with their attributes, and
    the text of the document."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self):
        return {a.get("id") for _, a in self.elements if a.get("id")}

    def count(self, tag, cls=None):
        return sum(1 for t, a in self.elements
                   if t == tag and (cls is None or cls in (a.get("class") or "").split()))


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


class TestReportHtml(unittest.TestCase):
    def test_page_in_chromium(self):
        if not os.access(CHROMIUM, os.X_OK):
            raise pq.SetupError("%s is missing: scripts/test.sh installs Debian's chromium" % CHROMIUM)
        # The parked paper: every request for its title is answered 500.
        parked_title = pq.read_jsonl(pq.fixture("records50.jsonl"))[3]["title"]
        with pq.FakeLLM(latency_ms=50, rule=["%s=500" % parked_title[:12]]) as fake, \
                pq.Pipeline("report-html", fake=fake, PAPERQ_QA_JUDGES=JUDGES,
                            PAPERQ_QA_SAMPLE_RATE=1, PAPERQ_RETRY_MAX_ATTEMPTS=2) as p:
            rows = records(p.path("in.jsonl"))
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=4)
            self.assertEqual(p.run_producer("--input", p.path("in.jsonl")).returncode, 0)
            rep = p.wait_drained(N)
            self.assertEqual(rep["papers"]["parked"], 1, rep["papers"])
            p.wait_for(lambda: p.report()["qa"]["judgements"] == 2 * (N - 1), 120,
                       "two judgements of each succeeded paper")

            out = p.path("report.html")
            r = p.ledger("report", "--html", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("wrote %s" % out, r.stdout)
            with open(out, encoding="utf-8") as f:
                page = f.read()
            print("page: %d bytes" % len(page))

            # Self-contained: no script, nothing fetched, nothing secret.
            self.assertNotIn("<script", page)
            for attr in (" src=", " href=", "@import", "url("):
                self.assertNotIn(attr, page.replace("&lt;img src=x", ""), attr)
            self.assertNotIn(pq.FAKE_KEY, page)
            self.assertIn("Content-Security-Policy", page)

            # The control: the console check does see an error.
            bad = p.path("bad.html")
            with open(bad, "w") as f:
                f.write("<!DOCTYPE html><p>x</p><script>console.error('control error')</script>")
            _, console = chromium("--dump-dom", "file://" + bad)
            self.assertTrue(any("control error" in l for l in console), console)

            dom_text, console = chromium("--dump-dom", "file://" + out)
            self.assertEqual(console, [], "console messages: %s" % console)
            shot = p.path("report.png")
            _, console = chromium("--screenshot=" + shot, "file://" + out)
            self.assertEqual(console, [], "console messages: %s" % console)
            self.assertEqual(png_size(shot), WINDOW)
            self.assertGreater(os.path.getsize(shot), 20000, "a blank screenshot?")
            art = os.environ.get("PQ_ARTIFACTS_DIR") or os.path.join(pq.bin_dir(), "artifacts")
            os.makedirs(art, exist_ok=True)
            shutil.copy(shot, os.path.join(art, "report_html.png"))
            shutil.copy(out, os.path.join(art, "report.html"))
            print("artifacts: %s/report_html.png, report.html" % art)

            dom = DOM()
            dom.feed(dom_text)
            text = "".join(dom.text)
            ids = dom.ids()
            for want in ("summary", "progress", "chart-progress", "throughput", "chart-throughput",
                         "spend", "chart-spend", "qa", "failures", "chart-failures",
                         "slowest-papers", "slowest"):
                self.assertIn(want, ids)
            self.assertEqual(dom.count("script"), 0, "a script element in the rendered DOM")
            self.assertEqual(dom.count("img"), 0, "the hostile title's <img> became an element")
            self.assertEqual(dom.count("svg", "qa"), 2, "one QA histogram per judge")
            for judge in JUDGES.split(","):
                self.assertIn(judge, text)
            self.assertGreaterEqual(dom.count("polyline"), 3)  # progress x2, spend
            self.assertGreaterEqual(dom.count("rect", "b1"), 1)  # throughput bars
            # The slowest table lists every succeeded paper (7 < 10 rows),
            # the hostile title as text; the parked one is not there.
            parked_id = rows[3]["id"]
            for r_ in rows:
                (self.assertNotIn if r_["id"] == parked_id else self.assertIn)(r_["id"], text)
            self.assertTrue(rows[0]["title"].startswith(HOSTILE))
            self.assertIn(rows[0]["title"], text)
            self.assertIn("%d of %d" % (N, N), text)
            self.assertGreaterEqual(dom.count("rect", "b3"), 1, "no bar in the failures chart")
            self.assertIn("parked papers", text)


if __name__ == "__main__":
    pq.main()
