/* paperq's static site: the index (sort, pages), search, and formulas.
 * Embedded into paperq-ledger at build time and written to assets/paperq.js.
 * Data comes from assets/papers.js (window.PQ_PAPERS), loaded by <script>,
 * not fetch(): pages opened from disk (file://) cannot fetch. Search uses
 * MiniSearch when the site was built with it (assets/minisearch/), else a
 * plain scan of the same fields. */
(function () {
  "use strict";

  var papers = window.PQ_PAPERS || [];
  var pageSize = window.PQ_PAGE_SIZE || 50;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  /* Words for the index: Latin words lower-cased; runs of Chinese characters
   * as overlapping pairs (and single characters), since Chinese has no spaces. */
  function tokenize(text) {
    var out = [];
    var parts = String(text || "").toLowerCase().match(/[\u3400-\u9fff\uf900-\ufaff]+|[\p{L}\p{N}]+/gu) || [];
    parts.forEach(function (w) {
      if (/^[\u3400-\u9fff\uf900-\ufaff]+$/.test(w)) {
        if (w.length === 1) out.push(w);
        for (var i = 0; i + 1 < w.length; i++) out.push(w.substr(i, 2));
      } else {
        out.push(w);
      }
    });
    return out;
  }

  /* The Chinese abstract is shown on each paper's page but not indexed: its
   * character pairs would triple the time to build the index (docs/site.md). */
  var FIELDS = ["title", "title_zh", "abstract", "keywords", "keywords_zh", "authors", "authors_zh"];

  function scan(q) {
    var words = tokenize(q);
    return papers.filter(function (p) {
      var hay = " " + FIELDS.map(function (f) { return tokenize(p[f]).join(" "); }).join(" ") + " ";
      return words.every(function (w) { return hay.indexOf(" " + w) >= 0; });
    });
  }

  /* MiniSearch's index is built in chunks after the page has loaded, so the
   * page never freezes; until it is ready the plain scan answers (the same
   * words match, only slower). onReady is called once it is. */
  function makeSearch(onReady) {
    if (typeof window.MiniSearch !== "function") {
      setTimeout(onReady, 0);
      return { engine: "scan", run: scan };
    }
    var ms = new window.MiniSearch({
      fields: FIELDS,
      storeFields: [],
      tokenize: tokenize,
      searchOptions: { tokenize: tokenize, boost: { title: 3, keywords: 2, authors: 2 }, prefix: true, combineWith: "AND" }
    });
    var ready = false;
    var t0 = Date.now();
    ms.addAllAsync(papers, { chunkSize: 50 }).then(function () {
      ready = true;
      window.PQ_INDEX_MS = Date.now() - t0;
      onReady();
    });
    return {
      engine: "MiniSearch",
      run: function (q) {
        if (!ready) return scan(q);
        return ms.search(q).map(function (r) { return papers[r.id]; });
      }
    };
  }

  function row(p) {
    var tr = el("tr", { "data-id": p.paper_id });
    var td = el("td");
    var a = el("a", { href: p.url }, p.title || p.title_zh || p.paper_id);
    td.appendChild(a);
    if (p.title_zh) td.appendChild(el("div", { "class": "zh", lang: "zh" }, p.title_zh));
    tr.appendChild(td);
    tr.appendChild(el("td", null, p.authors));
    tr.appendChild(el("td", { "class": "date" }, p.date));
    tr.appendChild(el("td", null, p.subjects));
    tr.appendChild(el("td", { "class": "num" }, p.qa === null || p.qa === undefined ? "" : p.qa.toFixed(1)));
    return tr;
  }

  function initIndex() {
    var table = document.getElementById("papers");
    if (!table) return;
    var tbody = table.querySelector("tbody");
    var pager = document.getElementById("pager");
    var state = { key: "date", dir: -1, page: 0 };
    var keys = { title: "title", authors: "authors", date: "date", subjects: "subjects", qa: "qa" };

    function sorted() {
      var k = keys[state.key];
      return papers.slice().sort(function (a, b) {
        var x = a[k], y = b[k];
        if (x === null || x === undefined) x = state.dir < 0 ? -Infinity : Infinity;
        if (y === null || y === undefined) y = state.dir < 0 ? -Infinity : Infinity;
        if (x < y) return -state.dir;
        if (x > y) return state.dir;
        return a.paper_id < b.paper_id ? -1 : 1;
      });
    }

    function render() {
      var list = sorted();
      var pages = Math.max(1, Math.ceil(list.length / pageSize));
      if (state.page >= pages) state.page = pages - 1;
      tbody.textContent = "";
      list.slice(state.page * pageSize, (state.page + 1) * pageSize).forEach(function (p) { tbody.appendChild(row(p)); });
      pager.textContent = "";
      var prev = el("button", { type: "button", id: "prev" }, "\u2190 previous");
      var next = el("button", { type: "button", id: "next" }, "next \u2192");
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      prev.onclick = function () { state.page--; render(); };
      next.onclick = function () { state.page++; render(); };
      pager.appendChild(prev);
      pager.appendChild(el("span", { id: "page-info" }, "page " + (state.page + 1) + " of " + pages + " (" + list.length + " papers)"));
      pager.appendChild(next);
      table.querySelectorAll("th[data-key]").forEach(function (th) {
        th.setAttribute("aria-sort", th.getAttribute("data-key") === state.key ? (state.dir < 0 ? "descending" : "ascending") : "none");
      });
    }

    table.querySelectorAll("th[data-key]").forEach(function (th) {
      var b = el("button", { type: "button" }, th.textContent);
      th.textContent = "";
      th.appendChild(b);
      b.onclick = function () {
        var k = th.getAttribute("data-key");
        state.dir = state.key === k ? -state.dir : (k === "date" || k === "qa" ? -1 : 1);
        state.key = k;
        state.page = 0;
        render();
      };
    });
    render();
  }

  function initSearch() {
    var input = document.getElementById("q");
    var out = document.getElementById("results");
    if (!input || !out) return;
    var label = document.getElementById("search-engine");
    var search = makeSearch(function () {
      label.setAttribute("data-ready", "1");
      label.textContent = search.engine === "MiniSearch" ? "MiniSearch, in this page: no server"
        : "a plain scan (MiniSearch was not installed when this site was built)";
    });
    label.textContent = search.engine === "MiniSearch" ? "MiniSearch (building its index\u2026)" : "a plain scan";
    var timer = null;
    function run() {
      var q = input.value.trim();
      out.textContent = "";
      if (!q) { out.hidden = true; return; }
      var hits = search.run(q);
      out.hidden = false;
      out.appendChild(el("p", { id: "result-count" }, hits.length + (hits.length === 1 ? " paper" : " papers") + " for \u201c" + q + "\u201d"));
      var ol = el("ol");
      hits.slice(0, 100).forEach(function (p) {
        var li = el("li", { "data-id": p.paper_id });
        li.appendChild(el("a", { href: p.url }, p.title || p.title_zh || p.paper_id));
        if (p.authors) li.appendChild(el("span", { "class": "meta" }, " \u2014 " + p.authors));
        ol.appendChild(li);
      });
      out.appendChild(ol);
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 120); });
    var m = /[?&]q=([^&]*)/.exec(location.search);
    if (m) { input.value = decodeURIComponent(m[1].replace(/\+/g, " ")); run(); }
  }

  function initMath() {
    var notice = document.getElementById("math-notice");
    if (!document.body.hasAttribute("data-math")) return;
    if (typeof window.renderMathInElement !== "function") {
      if (notice) notice.hidden = false;
      return;
    }
    window.renderMathInElement(document.getElementById("paper"), {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
        { left: "$", right: "$", display: false }
      ],
      throwOnError: false,
      strict: "ignore"
    });
    document.body.setAttribute("data-math-rendered", "katex");
  }

  function init() {
    initIndex();
    initSearch();
    initMath();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
