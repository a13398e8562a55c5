// Opens a site made by `paperq-ledger export --site` from disk (file://) in
// Debian's headless chromium, as a reader would, and checks what
// tests/integration/test_site.py asks (a JSON file, argv[2]):
//   {"site": DIR, "ids": [every exported paper id],
//    "search": [{"query": "...", "expect": "paper id"}, ...],
//    "math_page": "papers/<stem>.html", "math": true|false,
//    "screenshot": "FILE.png" (optional)}
// Prints one JSON object of findings on stdout; exit 0 when every check
// passed, 1 otherwise (each failure named on stderr).
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const want = JSON.parse(readFileSync(process.argv[2], "utf8"));
const url = (p) => pathToFileURL(`${want.site}/${p}`).href;
const failures = [];
const found = { console_errors: [] };
const check = (ok, what) => { if (!ok) failures.push(what); };

const browser = await chromium.launch({
  executablePath: process.env.PQ_CHROMIUM || "/usr/bin/chromium",
  // The machine's network is closed: no background connections, no updates.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-file-access-from-files"],
});
try {
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.type() === "error") found.console_errors.push(`${page.url()}: ${m.text()}`); });
  page.on("pageerror", (e) => found.console_errors.push(`${page.url()}: ${e.message}`));

  // 1. The index, page after page, lists every exported paper once.
  await page.goto(url("index.html"));
  await page.waitForSelector("#pager #next");
  const seen = [];
  for (let guard = 0; guard < 1000; guard++) {
    seen.push(...await page.$$eval("#papers tbody tr", (rows) => rows.map((r) => r.dataset.id)));
    if (await page.isDisabled("#next")) break;
    await page.click("#next");
  }
  found.index_ids = seen.length;
  found.pages_info = await page.textContent("#page-info");
  check(seen.length === want.ids.length && new Set(seen).size === seen.length &&
    want.ids.every((id) => seen.includes(id)),
  `index: ${seen.length} rows over its pages, ${new Set(seen).size} distinct; want the ${want.ids.length} exported papers once each`);

  // Sorting by title puts the rows in title order.
  await page.click("th[data-key=title] button");
  const titles = await page.$$eval("#papers tbody tr td:first-child a", (as) => as.map((a) => a.textContent));
  const sortedTitles = [...titles].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  check(JSON.stringify(titles) === JSON.stringify(sortedTitles), "index: sorting by title did not sort the rows by title");

  // 2. Searching for a word of one abstract finds that paper.
  await page.waitForSelector("#search-engine[data-ready]", { timeout: 60000 });
  found.engine = await page.textContent("#search-engine");
  found.index_ms = await page.evaluate(() => window.PQ_INDEX_MS);
  found.search = [];
  for (const s of want.search) {
    await page.fill("#q", s.query);
    await page.waitForSelector("#result-count");
    await page.waitForFunction((q) => document.querySelector("#result-count").textContent.includes(q), s.query);
    const ids = await page.$$eval("#results li", (lis) => lis.map((li) => li.dataset.id));
    found.search.push({ query: s.query, results: ids.length, first: ids[0] });
    check(ids.includes(s.expect), `search "${s.query}": ${s.expect} not among ${ids.length} results`);
  }

  // 3. A paper with formulas: KaTeX renders them, or the page says it cannot.
  await page.goto(url(want.math_page));
  await page.waitForLoadState("load");
  if (want.math) {
    await page.waitForSelector("body[data-math-rendered=katex]", { timeout: 10000 }).catch(() => {});
    found.katex_nodes = await page.$$eval(".katex", (n) => n.length);
    found.katex_errors = await page.$$eval(".katex-error", (n) => n.map((e) => e.getAttribute("title")));
    check(found.katex_nodes > 0, `${want.math_page}: no formula rendered by KaTeX`);
    check(await page.isHidden("#math-notice"), `${want.math_page}: the "formulas as LaTeX source" notice shows although KaTeX is there`);
  } else {
    check(await page.isVisible("#math-notice"), `${want.math_page}: without KaTeX the page does not say that formulas are LaTeX source`);
    found.katex_nodes = await page.$$eval(".katex", (n) => n.length);
    check(found.katex_nodes === 0, "KaTeX nodes on a site built without KaTeX");
  }
  check(await page.isVisible("#mt-notice"), `${want.math_page}: no machine-translation notice`);
  if (want.screenshot) await page.screenshot({ path: want.screenshot, fullPage: false });
  check(found.console_errors.length === 0, `console errors: ${found.console_errors.join(" | ")}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(found));
for (const f of failures) console.error(`FAIL: ${f}`);
process.exit(failures.length ? 1 : 0);
