#!/usr/bin/env python3
"""Seed corpora for the libFuzzer targets, from the real records in
tests/fixtures: seeds.py ROOT OUTDIR TARGET... writes OUTDIR/<target>/<n>.
Each seed is a message or file the programs really meet."""
import json
import os
import sys

ROOT, OUT, TARGETS = sys.argv[1], sys.argv[2], sys.argv[3:]
FIX = os.path.join(ROOT, "tests", "fixtures")


def lines(name, n):
    out = []
    with open(os.path.join(FIX, name), "rb") as f:
        for line in f:
            if len(out) == n:
                break
            out.append(line)
    return out


def records(name, n):
    recs = []
    for line in lines(name, n * 2):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("id"), str):
            recs.append(r)
    return recs[:n]


def normalized(r):
    keep = {k: r[k] for k in ("id", "title", "abstract", "authors", "keywords", "subjects",
                               "date", "year", "license", "source_url", "pdf_url", "body")
            if k in r}
    keep["origin"] = "records50.jsonl:1"
    return keep


def write(target, seeds):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        if isinstance(s, str):
            s = s.encode("utf-8")
        with open(os.path.join(d, "%03d" % i), "wb") as f:
            f.write(s)


def js(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


recs = records("records50.jsonl", 12)
full = [r for r in records("fulltext.jsonl", 6) if len(js(r)) < 60000][:3]
seeds = {}
seeds["record"] = lines("records50.jsonl", 8) + lines("bad_records.jsonl", 10) + \
    [b"".join(lines("records50.jsonl", 3))] + [js(r) + "\n" for r in full]
with open(os.path.join(FIX, "ia_sample.json"), encoding="utf-8") as f:
    ia = json.load(f)
seeds["record"].append(json.dumps(ia[:3], ensure_ascii=False, indent=1))

jobs = []
for r in recs[:6] + full:
    n = normalized(r)
    jobs.append(js({"v": 1, "paper_id": n["id"], "gen": 0, "record": n}))
n = normalized(recs[0])
jobs.append(js({"v": 1, "paper_id": n["id"], "gen": 2, "record": n,
                "done": {"title": "A title $x$", "abstract": "An abstract.", "kw:0": "kw"}}))
jobs.append(js({"v": 1, "paper_id": n["id"], "gen": 0, "record": n, "model": "m/fallback"}))
tr = {"title_en": "T", "abstract_en": "A", "keywords_en": ["k"], "subjects_en": [],
      "authors_en": ["Wang Ying"], "body_en": []}
jobs.append(js({"v": 1, "paper_id": n["id"], "gen": 0, "record": n, "translation": tr,
                "done": {"judge:z-ai/glm-4.6": True}}))
seeds["job"] = jobs

ev = []
base = {"v": 1, "ts": 1764406800123, "paper_id": n["id"], "gen": 0, "attempt": 1,
        "worker": "host:12"}
kinds = [
    {"kind": "job.queued", "record": n, "origin": "records50.jsonl:1"},
    {"kind": "job.started"},
    {"kind": "job.succeeded", "translation": tr, "model": "deepseek/deepseek-v3.2-exp",
     "dry_run": False, "usage": {"prompt_tokens": 1200, "completion_tokens": 900, "requests": 3},
     "cost_usd": 0.0013, "timings": {"started_ms": 1764406800000, "finished_ms": 1764406830000,
                                     "llm_ms": 29000}, "checks": {"cjk_ratio": 0}},
    {"kind": "job.failed", "error_class": "transient", "error": "http 500: upstream",
     "retryable": True, "next_delay_ms": 10000, "usage": {"prompt_tokens": 10}, "cost_usd": 0.0001},
    {"kind": "job.parked", "reason": "max_attempts: http 500"},
    {"kind": "qa.scored", "judge": "z-ai/glm-4.6", "scores": {"accuracy": 9, "fluency": 9,
     "terminology": 8, "completeness": 9, "overall": 9}, "comments": "good",
     "usage": {"prompt_tokens": 3000, "completion_tokens": 100}, "cost_usd": 0.001},
    {"kind": "qa.failed", "error_class": "permanent", "error": "no JSON", "usage": {}},
    {"kind": "worker.heartbeat", "in_flight": 3, "done": 10, "failed": 1,
     "started_ms": 1764406700000, "concurrency": 16},
    {"kind": "worker.fatal", "error": "http 401: invalid API key", "model": "m"},
    {"kind": "worker.stopped", "reason": "sigterm"},
]
for i, k in enumerate(kinds):
    e = dict(base, id="%032x" % (i + 1))
    e.update(k)
    ev.append(b"\x00" + js(e).encode("utf-8"))
ev.append(b"\x05" + jobs[0].encode("utf-8"))   # parked by a worker, with a reason
ev.append(b"\x19" + jobs[1].encode("utf-8"))   # dead-lettered (delivery limit)
ev.append(b"\x02" + jobs[-1].encode("utf-8"))  # parked QA job
seeds["event"] = ev

seeds["control"] = ['{"v":1,"cmd":"pause","reason":"budget: $5.0000 spent"}',
                    '{"v":1,"cmd":"resume","reason":"budget raised","ts":1764406800000}',
                    '{"cmd":"drain"}']


def reply(status, body):
    return bytes([status >> 8, status & 0xFF]) + js(body).encode("utf-8")


abstract = recs[0].get("abstract", "")
chat = [
    reply(200, {"id": "c1", "model": "deepseek/deepseek-v3.2-exp", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "An English abstract."},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 812, "completion_tokens": 301,
                                              "cost": 0.00034}}),
    reply(200, {"choices": [{"message": {"content": abstract}, "finish_reason": "length"}]}),
    reply(200, {"error": {"message": "model not found", "code": 404}}),
    reply(401, {"error": {"message": "No auth credentials found", "code": 401}}),
    reply(402, {"error": {"message": "Insufficient credits", "code": 402}}),
    reply(403, {"error": {"message": "Key limit exceeded", "code": 403}}),
    reply(403, {"error": {"message": "Input flagged by moderation", "code": 403,
                          "metadata": {"reasons": ["violence"]}}}),
    reply(429, {"error": {"message": "Rate limit exceeded", "code": 429}}),
    reply(400, {"error": {"message": "invalid model ID", "code": 400}}),
    reply(500, {"error": {"message": "Internal Server Error"}}),
    bytes([1, 247]) + b"<html>bad gateway</html>",
    b"\x00\xc8" + b"120",
]
seeds["chat"] = chat

seeds["qa"] = [
    '{"accuracy": 9, "fluency": 8, "terminology": 9, "completeness": 10, "overall": 9, '
    '"comments": "Faithful."}',
    '```json\n{"accuracy": 7, "fluency": 7, "terminology": 6, "completeness": 8, "overall": 7, '
    '"comments": "Some terms off."}\n```',
    'Here is my evaluation:\n{"accuracy": "9", "fluency": 9, "terminology": 9, '
    '"completeness": 9, "overall": 9.5, "comments": ""}',
    '{"scores": {"accuracy": 11}}',
]

texts = [r.get("abstract", "") for r in recs if "$" in r.get("abstract", "")][:6]
texts += [r.get("title", "") for r in recs[:3]]
texts.append(r"质量 $E=mc^2$ 与 \(a+b\) 以及 \[x^2\] \begin{equation}y\end{equation} \cite{k1}")
seeds["mask"] = [t.encode("utf-8") + b"\xff" + b"[[M1]] answer [[M2]]" for t in texts]

chunks = []
for r in full:
    body = [b.get("text", "") for b in r.get("body", [])][:12]
    chunks.append(bytes([40]) + b"\xff".join(t.encode("utf-8") for t in body))
chunks.append(bytes([3]) + "第一段。第二句！\xff<<<2>>>\n\xffanswer".encode("utf-8"))
chunks.append(bytes([0]) + "<<<1>>>\nOne.\n<<<2>>>\nTwo.".encode("utf-8"))
# marker-shaped lines inside the paper's own text (issue 13: they must split
# back in chunks of any size)
for r in full[:4]:
    body = [b.get("text", "") for b in r.get("body", [])][:8]
    body = [t.replace("。", "。\n<<<%d>>>\n" % (i % 3 + 1), 1) for i, t in enumerate(body)]
    chunks.append(bytes([40]) + b"\xff".join(t.encode("utf-8") for t in body))
chunks.append(bytes([200]) + "甲。\n<<<2>>>\n乙。\xff<<<1>>>\xff<<< 3 >>> 丙。\xffanswer".encode("utf-8"))
seeds["chunk"] = chunks

with open(os.path.join(ROOT, "config", "paperq.conf"), encoding="utf-8") as f:
    conf = f.read()
seeds["config"] = [conf, "worker: { concurrency = 4294967312; };\n",
                   'retry: { delays_ms = "10,,20"; };\nprices = ( { model = "m"; input = 0.27; '
                   'output = 0.40; } );\n',
                   'broker: { url = "amqp://u:secret@h/"; prefix = ""; };\n@include "x"\n']

for t in TARGETS:
    if t not in seeds:
        sys.exit("seeds.py: no seeds for target %s" % t)
    write(t, seeds[t])
