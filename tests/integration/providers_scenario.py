#!/usr/bin/env python3
"""The issue-11 run: N papers (300 by default) while the fake provider shows
every documented behaviour at a few percent each and the judges write
decimals, numeric strings, fences, prose, <think> blocks and trailing commas.
Two papers carry input that the provider's moderation flags.

Used by tests/integration/test_providers.py (which asserts the outcome) and
by bench/providers.sh (which runs it against any build, e.g. an older commit,
and prints the figures):

    PQ_BIN_DIR=build python3 tests/integration/providers_scenario.py [papers]

The thrown-away spend is measured from the provider's side: the fake bills
every reply the model produced (and abandoned requests in full), so
billed_usd(faulty run) - billed_usd(clean run of the same papers) is what the
faults cost, whatever paperq believes. The ledger's own split is printed
beside it."""
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fake_llm"))

import pq  # noqa: E402
import fake_llm  # noqa: E402  (its deterministic "translation", to compare with)

JUDGES = "z-ai/glm-4.6,qwen/qwen-max"
KEY = "sk-or-v1-5ec12e7c0ffee0ddba11f00d5eed1e55"
FLAG = "FLAGGED-INPUT-7731"
FLAGGED = 2
P = 0.012  # each behaviour, per request

FAULTS = dict(
    p429=P, p500=P, p503=P, p408=P, p502=P, p524=P, p529=P, phang=P / 2,
    p402_inflight=P, p402_weight=P, p429_or=P, p429_date=P, p429_ms=P,
    perror200_502=P, perror200_429=P, perror200_402=P, pfinish_error=P,
    pcontent_filter=P, prefusal=P, pecho_key=P, pleading_blank=P, ptruncate=P,
    pmalformed=P, preset=P / 2,
)
JUDGE_STYLES = "decimal,string,fence,prose,think,trailing_comma,no_comments,int"


def records(n):
    """n records from the fixtures, ids unique; the first FLAGGED carry
    input that moderation flags."""
    base, seen = [], set()
    for r in pq.read_jsonl(pq.fixture("sample.jsonl")) + pq.read_jsonl(pq.fixture("records50.jsonl")):
        if r["id"] not in seen:
            seen.add(r["id"])
            base.append(r)
    out = []
    i = 0
    while len(out) < n:
        r = dict(base[i % len(base)])
        if i >= len(base):
            r["id"] = "%s-r%d" % (r["id"], i // len(base))
        if len(out) < FLAGGED:
            r["abstract"] = r["abstract"] + " " + FLAG
        out.append(r)
        i += 1
    return out


def fnv1a64(s):
    h = 1469598103934665603  # as common/src/util.c: pq_hash64 (its offset basis, digit for digit)
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def sampled(pid, rate):
    return (fnv1a64(pid) % 1000000) < rate * 1000000.0


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def run(n=300, faults=True, seed=2964, timeout=600, tag="prov"):
    """Runs the scenario; returns a dict of figures and what was checked."""
    recs = records(n)
    fake_opts = dict(require_key=KEY, seed=seed, retry_after=0.3, report_cost=True,
                     judge_styles=JUDGE_STYLES, reasoning_models="z-ai/glm-4.6",
                     reasoning_tokens=800, providers="DeepInfra,Chutes,Novita",
                     rule=["%s=403_moderation" % FLAG])
    if faults:
        fake_opts.update(FAULTS)
        # An injected 429_or names the limit it says was hit (OR-LIM), and
        # the worker paces what it names: a limit far above this run's rate,
        # so that random refusals do not turn into a real one.
        fake_opts["or_limit"] = 60000
        fake_opts["filter_models"] = "deepseek/deepseek-v3.2-exp"
    env = dict(PQ_FAKE_KEY=KEY, PAPERQ_QA_JUDGES=JUDGES, PAPERQ_QA_SAMPLE_RATE=0.1,
               PAPERQ_TRANSLATE_FALLBACK_MODEL="fallback/model", PAPERQ_TRANSLATE_TIMEOUT_S=3,
               PAPERQ_RETRY_MAX_ATTEMPTS=8, PAPERQ_RETRY_DELAYS_MS="200,500,1000",
               PAPERQ_WORKER_CONCURRENCY=32)
    t0 = time.monotonic()
    with pq.FakeLLM(**fake_opts) as fake, pq.Pipeline(tag, fake=fake, **env) as p:
        path = p.path("records.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        p.start_ledger()
        workers = [p.start_worker()]
        assert p.run_producer("--input", path).returncode == 0
        exits = []

        def drained():
            # A worker that stops is restarted (as compose's restart policy
            # would): the run of an older build goes on, and its stops count.
            for w in list(workers):
                code = w.poll()
                if code is not None:
                    exits.append(code)
                    workers.remove(w)
                    workers.append(p.start_worker())
            rep = p.report()
            pp = rep["papers"]
            if pp["total"] != n or pp["queued"] + pp["running"] + pp["retrying"]:
                return None
            # QA jobs wait in the qa queue or in its retry tiers
            busy = {q: d for q, d in pq.queue_depths(p.prefix).items()
                    if d and not q.endswith(".parked")}
            if busy or pq.queue_depths(p.prefix).get(p.prefix + ".qa") is None:
                return None
            return rep
        # An older build may never finish (a flagged paper stopped its
        # workers again and again): then it is measured as it stands.
        deadline = time.monotonic() + timeout
        finished = False
        while time.monotonic() < deadline:
            try:
                if drained():
                    finished = True
                    break
            except AssertionError:
                pass
            time.sleep(1)
        # QA finishes after its translation: give the last verdicts a minute
        # to arrive (an older build may never get there; it is measured as is)
        want = len([r for r in recs[FLAGGED:] if sampled(r["id"], 0.1)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            qa = p.report()["qa"]
            if qa["papers_judged"] >= want and qa["judgements"] >= 2 * want:
                break
            time.sleep(1)
        time.sleep(1.5)  # the last events' spend
        rep = p.report()
        text = p.ledger("report").stdout
        stats = fake.stats()
        out = p.path("export")
        p.ledger("export", "--out", out)
        exported = {}
        for name in os.listdir(out):
            with open(os.path.join(out, name), encoding="utf-8") as f:
                exported[name[:-5]] = json.load(f)
        partial = []
        for r in recs:
            doc = exported.get(r["id"])
            if not doc:
                continue
            for field, src in (("title_en", r["title"]), ("abstract_en", r["abstract"])):
                want = norm(fake_llm.translate(src))
                got = norm(doc.get(field))
                if got != want:
                    partial.append((r["id"], field, len(got), len(want)))
        fr = p.ledger("failed", "--json")
        parked = json.loads(fr.stdout)["papers"] if fr.returncode == 0 else []
        # Where the key could end up: logs, the ledger, the report.
        leaks = []
        for name in os.listdir(p.tmp):
            fp = os.path.join(p.tmp, name)
            if os.path.isfile(fp):
                with open(fp, "rb") as f:
                    if KEY.encode() in f.read():
                        leaks.append(name)
        if KEY in text or KEY in json.dumps(rep):
            leaks.append("report")
        sampled_ok = [r["id"] for r in recs if sampled(r["id"], 0.1) and r["id"] in exported]
        qa = rep["qa"]
        cost = rep["cost"]
        figures = dict(
            papers=n, finished=finished, seconds=round(time.monotonic() - t0, 1),
            succeeded=rep["papers"]["succeeded"], parked=rep["papers"]["parked"],
            parked_papers=[(x.get("paper_id"), x.get("reason") or x.get("park_reason") or x.get("error"))
                           for x in parked],
            worker_exits=exits, partial=partial, key_leaks=leaks,
            sampled=len(sampled_ok), judged=qa.get("papers_judged"), judgements=qa.get("judgements"),
            qa_parked=qa.get("jobs_parked"),
            billed_usd=round(stats["billed_usd"], 6), ledger_cost_usd=round(rep["cost_usd"], 6),
            ledger_wasted_usd=cost.get("wasted_usd"), ledger_wasted_by=cost.get("wasted_by"),
            requests=stats["requests"], by_action=stats["by_action"],
            judge_styles=stats["judge_styles"],
            wasted_warning=cost.get("wasted_warning"), report_text=text,
            flagged=[r["id"] for r in recs[:FLAGGED]],
        )
        return figures


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    timeout = int(os.environ.get("BENCH_TIMEOUT", "600"))
    clean = run(n, faults=False, tag="provclean", timeout=timeout)
    faulty = run(n, faults=True, tag="provfaulty", timeout=timeout)
    wasted = faulty["billed_usd"] - clean["billed_usd"]
    for name, f in (("clean", clean), ("faulty", faulty)):
        g = dict(f)
        g.pop("report_text")
        g.pop("by_action")
        print("%s: %s" % (name, json.dumps(g, default=str)))
    print("by action (faulty run): %s" % json.dumps(faulty["by_action"]))
    print("provider billed: clean $%.6f, faulty $%.6f; thrown away (difference) $%.6f = %.1f%% of "
          "the faulty run's bill" % (clean["billed_usd"], faulty["billed_usd"], wasted,
                                     100 * wasted / faulty["billed_usd"] if faulty["billed_usd"] else 0))
    print("ledger: cost $%s, of it thrown away $%s" % (faulty["ledger_cost_usd"], faulty["ledger_wasted_usd"]))
    print("report:\n" + faulty["report_text"])


if __name__ == "__main__":
    main()
