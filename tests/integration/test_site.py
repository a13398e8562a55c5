#!/usr/bin/env python3
"""`paperq-ledger export --site DIR` in a real browser: papers translated
through the real pipeline (fake LLM), a site made from the ledger, then
Debian's headless chromium opens it from disk and checks that the index lists
every exported paper, that a word of one abstract finds that paper, and that a
paper page with formulas renders with KaTeX without console errors; built
without KaTeX, the page says formulas are LaTeX source.

Needs /usr/bin/chromium (scripts/test.sh installs Debian's package) and npm
(KaTeX and MiniSearch via scripts/site-assets.sh, playwright-core to drive the
browser via tests/site/install.sh): missing, the test fails, never skips."""
import json
import os
import re
import shutil
import subprocess
import time
import unittest

import pq

HERE = os.path.dirname(os.path.abspath(__file__))
SITE_TESTS = os.path.join(pq.SOURCE_DIR, "tests", "site")
JUDGES = "z-ai/glm-4.6,qwen/qwen-max"
WORD = re.compile(r"[^\W_]+", re.U)
HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def words(text):
    return set(w.lower() for w in WORD.findall(text or "") if not HAN.search(w))


def han_pairs(text):
    return set(run[i:i + 2] for run in HAN.findall(text or "") for i in range(len(run) - 1))


def setup_tools():
    """KaTeX + MiniSearch, and playwright-core, installed by the project's own
    scripts into the build directory (they do nothing when up to date)."""
    t = time.monotonic()
    assets = os.path.join(pq.bin_dir(), "site-assets")
    node = os.path.join(pq.bin_dir(), "site-test-node")
    for cmd in ([os.path.join(pq.SOURCE_DIR, "scripts", "site-assets.sh"), assets],
                [os.path.join(SITE_TESTS, "install.sh"), node]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise pq.SetupError("%s failed:\n%s\n%s" % (" ".join(cmd), r.stdout, r.stderr))
    if not os.access("/usr/bin/chromium", os.X_OK):
        raise pq.SetupError("/usr/bin/chromium is missing: scripts/test.sh installs Debian's chromium")
    print("site tools ready in %.1f s" % (time.monotonic() - t), flush=True)
    return assets, node


def browse(node, want, path):
    with open(path, "w") as f:
        json.dump(want, f)
    # An ES module finds its imports from where it lies: run it beside node_modules.
    script = os.path.join(node, "browser_check.mjs")
    shutil.copy(os.path.join(SITE_TESTS, "browser_check.mjs"), script)
    t = time.monotonic()
    r = subprocess.run(["node", script, path], capture_output=True, text=True, timeout=180,
                       cwd=node)
    print("browser: %.1f s, %s" % (time.monotonic() - t, r.stdout.strip()[:2000]), flush=True)
    return r


class TestSite(unittest.TestCase):
    def test_site_in_a_browser(self):
        assets, node = setup_tools()
        with open(pq.fixture("records50.jsonl"), encoding="utf-8") as f:
            records = [json.loads(line) for line in f][:30]
        # An id that is legal for a paper but not as a file name on every
        # system: the site must not use it as a path.
        odd = dict(records[0], id="chinaxiv:2016.odd-1")
        records.append(odd)
        with pq.FakeLLM() as fake, pq.Pipeline("site", fake=fake, PAPERQ_QA_JUDGES=JUDGES,
                                               PAPERQ_QA_SAMPLE_RATE=0.3) as p:
            src = p.path("papers.jsonl")
            with open(src, "w", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            p.start_ledger()
            p.start_worker(PAPERQ_WORKER_CONCURRENCY=16)
            self.assertEqual(p.run_producer("--input", src).returncode, 0)
            p.wait_drained(len(records), timeout=180)
            p.wait_for(lambda: p.report()["qa"]["papers_judged"] > 0, 60, "some papers judged")

            out = p.path("export")
            r = p.ledger("export", "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            exported = {}
            for name in os.listdir(out):
                with open(os.path.join(out, name), encoding="utf-8") as f:
                    doc = json.load(f)
                exported[doc["paper_id"]] = doc
            self.assertEqual(len(exported), len(records))

            # Built without KaTeX and MiniSearch: still a whole site.
            bare = p.path("site-bare")
            r = p.ledger("export", "--site", bare, PAPERQ_SITE_ASSETS_DIR=p.path("none"),
                         PAPERQ_SITE_PAGE_SIZE=7)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("KaTeX not installed", r.stdout)
            pages = os.listdir(os.path.join(bare, "papers"))
            self.assertEqual(len(pages), len(records))
            self.assertTrue(all(re.fullmatch(r"[A-Za-z0-9._-]+\.html", n) for n in pages), pages)
            self.assertFalse(os.path.exists(os.path.join(bare, "assets", "katex")))

            site = p.path("site")
            r = p.ledger("export", "--site", site, PAPERQ_SITE_ASSETS_DIR=assets,
                         PAPERQ_SITE_PAGE_SIZE=10)  # 4 pages: the paging is exercised
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("formulas: KaTeX; search: MiniSearch", r.stdout)

            # A word of one paper's English abstract found in no other paper's
            # searchable text; a pair of characters of one Chinese title
            # found in no other paper.
            def searchable(d):
                return " ".join([d.get("title_en", ""), d.get("abstract_en", "")] +
                                d.get("keywords_en", []) + d.get("authors_en", []))

            def zh(d):  # the Chinese abstract is not indexed (docs/site.md)
                return " ".join([d.get("title", "")] + d.get("keywords", []) + d.get("authors", []))
            search = []
            for pid, d in sorted(exported.items()):
                others = set().union(*(words(searchable(o)) for q, o in exported.items() if q != pid))
                mine = sorted(w for w in words(d.get("abstract_en")) - others
                              if len(w) >= 6 and w.isalpha())
                if mine:
                    search.append({"query": mine[0], "expect": pid})
                    break
            for pid, d in sorted(exported.items()):
                others = set().union(*(han_pairs(zh(o)) for q, o in exported.items() if q != pid))
                mine = sorted(han_pairs(d.get("title")) - others)
                if mine and pid != search[0]["expect"]:
                    search.append({"query": mine[0], "expect": pid})
                    break
            self.assertEqual(len(search), 2, "no word unique to one paper in the fixture")
            with_math = next(pid for pid, d in sorted(exported.items())
                             if "$" in d.get("abstract_en", "") and pid != odd["id"])
            index = open(os.path.join(site, "index.html"), encoding="utf-8").read()
            stem = re.search(r'data-id="%s"><td><a href="papers/([^"]+)\.html"'
                             % re.escape(with_math), index).group(1)
            odd_page = re.search(r'data-id="%s"><td><a href="(papers/[^"]+)"'
                                 % re.escape(odd["id"]), index).group(1)
            self.assertNotIn(":", odd_page)

            shot = p.path("paper.png")
            r = browse(node, {"site": site, "ids": sorted(exported), "search": search,
                              "math_page": "papers/%s.html" % stem, "math": True,
                              "screenshot": shot}, p.path("want.json"))
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            got = json.loads(r.stdout)
            self.assertIn("MiniSearch", got["engine"])
            self.assertGreater(got["katex_nodes"], 0)
            if os.environ.get("PQ_SITE_SHOT"):
                shutil.copy(shot, os.environ["PQ_SITE_SHOT"])

            r = browse(node, {"site": bare, "ids": sorted(exported), "search": search[:1],
                              "math_page": "papers/%s.html" % stem, "math": False},
                       p.path("want-bare.json"))
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            self.assertIn("plain scan", json.loads(r.stdout)["engine"])


if __name__ == "__main__":
    unittest.main()
