#!/usr/bin/env python3
"""A stand-in for the Internet Archive's search and item services, for
paperq's harvest tests.  Python standard library only.

Built from the service's own documentation (docs/harvest.md lists the pages
and what each says), never from our client:

  GET /services/search/v1/scrape?q=&fields=&count=&cursor=&total_only=
      the scraping API: `count` at least 100 (at most 10000), results in
      identifier order, answer {"items": [...], "count": n, "total": t,
      "cursor": c}; `total` counts the results from this cursor point on;
      the last page has no "cursor".  A field with one value is a string,
      with several an array.
  GET /advancedsearch.php?q=&fl[]=&rows=&page=&output=json
      the paged search: sorted paging stops at the 10,000th result.
  GET /metadata/IDENTIFIER        {"metadata": {...}, "files": [...]}; {} if unknown
  GET /download/IDENTIFIER/FILE   the item's file (a small stand-in PDF)
  GET /details/IDENTIFIER         the item's page

Queries: `collection:NAME`, `date:[A TO B]` ranges joined by AND, and a
parenthesised OR of date ranges; that is all `harvest` sends.

Misbehaviours, each on the Nth request to the scrape API (1-based; `*` =
every request), from --fault KIND@N (repeatable) or POST /_control
{"faults": ["KIND@N", ...]}:
  429        Too Many Requests with Retry-After: 1
  503        Service Unavailable with Retry-After: 1
  500        Internal Server Error, no Retry-After
  malformed  200 with the JSON page cut in the middle (Content-Length right)
  partial    200 announcing the whole page in Content-Length, then closing
             after half of it (a partial download)
  expire     the cursor sent is no longer known: 400 {"error": ...}
  400        a plain 400 whatever the request
Cursors also expire on their own after --cursor-ttl seconds.

GET /_stats: every request seen (path, query, User-Agent, time, status).
Start: fake_ia.py --items FILE [--host H] --port 0 --port-file F (writes the port to F).
"""

import argparse
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {
    "items": [],        # scrape hits, sorted by identifier
    "collection": "chinaxivmirror",
    "faults": {},       # request number (int) or "*" -> kind
    "scrape_requests": 0,
    "cursors": {},      # token -> (query, offset, created)
    "cursor_ttl": 600.0,
    "log": [],
}

DATE_RANGE = re.compile(r"date:\[(\S+) TO (\S+)\]")


def parse_faults(specs):
    faults = {}
    for spec in specs:
        kind, _, n = spec.partition("@")
        if kind not in ("429", "503", "500", "malformed", "partial", "expire", "400") or not n:
            raise ValueError("bad fault %r (KIND@N)" % spec)
        for part in n.split(","):
            faults["*" if part == "*" else int(part)] = kind
    return faults


def matcher(q):
    """A predicate on items for the query subset harvest sends."""
    m = re.search(r"collection:(\S+)", q)
    collection = m.group(1) if m else None
    any_of = []
    group = re.search(r"\(([^()]*)\)", q)
    rest = q
    if group:
        any_of = DATE_RANGE.findall(group.group(1))
        rest = q[:group.start()] + q[group.end():]
    all_of = DATE_RANGE.findall(rest)

    def in_range(date, lo, hi):
        return lo <= date[:len(lo)] and date[:len(hi)] <= hi

    def ok(item):
        if collection != STATE["collection"]:
            return False
        date = item.get("date", "")
        if any(not in_range(date, lo, hi) for lo, hi in all_of):
            return False
        if any_of and not any(in_range(date, lo, hi) for lo, hi in any_of):
            return False
        return True
    return ok


def select(item, fields):
    if not fields:
        return {"identifier": item["identifier"]}
    return {f: item[f] for f in fields if f in item}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=(), cut=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True
        with LOCK:
            STATE["log"].append({"path": self.path.split("?")[0], "query": self.path,
                                 "user_agent": self.headers.get("User-Agent", ""),
                                 "t": time.time(), "status": status})

    def do_POST(self):
        if self.path != "/_control":
            return self.send(404, {"error": "not found"})
        n = int(self.headers.get("Content-Length", "0"))
        opts = json.loads(self.rfile.read(n) or b"{}")
        with LOCK:
            if "faults" in opts:
                STATE["faults"] = parse_faults(opts["faults"])
                STATE["scrape_requests"] = 0
            if "cursor_ttl" in opts:
                STATE["cursor_ttl"] = float(opts["cursor_ttl"])
        self.send(200, {"ok": True})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        args = urllib.parse.parse_qs(url.query)
        path = url.path
        if path == "/_stats":
            with LOCK:
                stats = {"requests": list(STATE["log"]),
                         "scrape_requests": STATE["scrape_requests"]}
            return self.send(200, stats)
        if path == "/services/search/v1/scrape":
            return self.scrape(args)
        if path == "/advancedsearch.php":
            return self.advancedsearch(args)
        m = re.fullmatch(r"/metadata/([^/]+)", path)
        if m:
            item = self.find(m.group(1))
            if not item:
                return self.send(200, {})
            name = item["identifier"] + ".pdf"
            return self.send(200, {"metadata": item, "files": [
                {"name": name, "source": "original", "format": "Text PDF", "size": "1024"}]})
        m = re.fullmatch(r"/download/([^/]+)/([^/]+)", path)
        if m:
            item = self.find(m.group(1))
            if not item or m.group(2) != item["identifier"] + ".pdf":
                return self.send(404, "not found", "text/plain")
            return self.send(200, b"%PDF-1.4\n% stand-in for " + item["identifier"].encode() +
                             b"\n%%EOF\n", "application/pdf")
        m = re.fullmatch(r"/details/([^/]+)", path)
        if m and self.find(m.group(1)):
            return self.send(200, "<html><title>%s</title></html>" % m.group(1), "text/html")
        return self.send(404, {"error": "not found"})

    def find(self, identifier):
        for item in STATE["items"]:
            if item["identifier"] == identifier:
                return item
        return None

    def scrape(self, args):
        with LOCK:
            STATE["scrape_requests"] += 1
            n = STATE["scrape_requests"]
            fault = STATE["faults"].get(n) or STATE["faults"].get("*")
        if fault == "429":
            return self.send(429, {"error": "Too Many Requests"}, headers=[("Retry-After", "1")])
        if fault == "503":
            return self.send(503, "Service Unavailable", "text/html",
                             headers=[("Retry-After", "1")])
        if fault == "500":
            return self.send(500, "Internal Server Error", "text/html")
        if fault == "400":
            return self.send(400, {"error": "bad request (injected)"})
        q = args.get("q", [""])[0]
        try:
            count = int(args.get("count", ["5000"])[0])
        except ValueError:
            return self.send(400, {"error": "count must be a number"})
        if count < 100 or count > 10000:
            return self.send(400, {"error": "count must be between 100 and 10000"})
        fields = [f for f in args.get("fields", [""])[0].split(",") if f]
        cursor = args.get("cursor", [None])[0]
        offset = 0
        if cursor is not None:
            with LOCK:
                known = STATE["cursors"].get(cursor)
                if known and time.time() - known[2] > STATE["cursor_ttl"]:
                    known = None
                if fault == "expire":
                    known = None
            if not known or known[0] != q:
                return self.send(400, {"error": "cursor expired or unknown: start again"})
            offset = known[1]
        ok = matcher(q)
        hits = [i for i in STATE["items"] if ok(i)]
        total = len(hits) - offset
        if args.get("total_only", [""])[0] in ("true", "1"):
            return self.send(200, {"total": total, "count": 0})
        page = [select(i, fields) for i in hits[offset:offset + count]]
        body = {"items": page, "count": len(page), "total": total}
        if offset + count < len(hits):
            token = secrets.token_urlsafe(24)
            with LOCK:
                STATE["cursors"][token] = (q, offset + count, time.time())
            body["cursor"] = token
        data = json.dumps(body, ensure_ascii=False).encode()
        if fault == "malformed":
            data = data[:len(data) // 2]
        if fault == "partial":
            return self.send(200, data, cut=len(data) // 2)
        return self.send(200, data)

    def advancedsearch(self, args):
        q = args.get("q", [""])[0]
        rows = int(args.get("rows", ["50"])[0])
        page = int(args.get("page", ["1"])[0])
        if page * rows > 10000:
            return self.send(400, {"error": "paged sorted results stop at the 10,000th result; "
                                            "use the scraping API"})
        fields = args.get("fl[]", [])
        ok = matcher(q)
        hits = [i for i in STATE["items"] if ok(i)]
        start = (page - 1) * rows
        docs = [select(i, fields) for i in hits[start:start + rows]]
        return self.send(200, {"responseHeader": {"status": 0, "params": {"q": q}},
                               "response": {"numFound": len(hits), "start": start, "docs": docs}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", required=True, help="JSON array of scrape hits")
    ap.add_argument("--collection", default="chinaxivmirror")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--cursor-ttl", type=float, default=600.0)
    a = ap.parse_args()
    with open(a.items, encoding="utf-8") as f:
        STATE["items"] = sorted(json.load(f), key=lambda i: i["identifier"])
    STATE["collection"] = a.collection
    STATE["faults"] = parse_faults(a.fault)
    STATE["cursor_ttl"] = a.cursor_ttl
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, a.port_file)
    print("fake_ia listening on %s:%d" % (a.host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
