"""Writes docs/benchmarks.md from bench/results.json (bench/bench.py calls
it after every section it measured).  The text between the NOTES markers is
kept from the existing file: that is where people write what the figures
mean; everything else is regenerated."""
import os
import re

NOTES_BEGIN = "<!-- NOTES: kept across regenerations; write the analysis here -->"
NOTES_END = "<!-- END NOTES -->"


def _f(v, fmt="%.1f", none="n/a"):
    return fmt % v if isinstance(v, (int, float)) else none


def _holds(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**no**")


def _stamp(entry):
    m = entry["machine"]
    q = " (`--quick`: smaller N, shorter windows)" if entry.get("quick") else ""
    return ("Measured %s on %s x %s, git %s%s, with `%s`%s."
            % (entry["date"], m["nproc"], m["cpu"], m["git"],
               " (uncommitted changes in the sources)" if m.get("dirty") else "", entry["command"], q))


def _raw(entry):
    return "<details><summary>raw output</summary>\n\n```\n%s\n```\n</details>\n" % entry["raw"].rstrip()


def _e2e_rows(fig):
    rows = ["| papers | workers | papers in flight per worker | papers/s | paperq CPU ms/paper | of which worker(s) "
            "| producer / ledger CPU s | broker CPU ms/paper | fake LLM CPU ms/paper | peak RSS worker / ledger | report CLI "
            "| other processes |",
            "|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|"]
    for r in fig["runs"]:
        wr = max(v or 0 for k, v in r["rss_mb"].items() if k.startswith("worker"))
        rows.append("| %d | %d | %d | %.0f | %.3f | %.3f | %.2f / %.2f | %.3f | %.3f | %.1f / %.1f MB | %.0f ms | %s |" % (
            r["papers"], r["workers"], r["concurrency"], r["papers_per_s"], r["own_cpu_ms_per_paper"],
            r["worker_cpu_ms_per_paper"], r["cpu_s"]["producer"], r["cpu_s"]["ledger"],
            r["broker_cpu_ms_per_paper"] or 0, r["fake_cpu_ms_per_paper"] or 0, wr,
            r["rss_mb"].get("ledger") or 0, r["report_cli_ms"], _f(r.get("others_cpu_pct"), "%.0f%%")))
    return "\n".join(rows)


def _lat_rows(fig):
    alone = {(a["latency_ms"], a["in_flight"]): a for a in fig.get("fake_alone", [])}
    rows = ["| latency | requests in flight | papers in flight | req/s | ideal | efficiency | fake alone (loadgen) | paperq ÷ fake alone "
            "| avg in flight at the fake | fake's time per answer | worker CPU ms/request | CPU % worker / fake / broker / ledger / other processes | worker peak RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in fig["runs"]:
        a = alone.get((r["latency_ms"], r["in_flight"])) if not r.get("jitter_ms") else None
        c = r["cpu_pct"]
        rows.append("| %s ms | %d | %d | %.0f | %.0f | **%.1f%%**%s | %s | %s | %.0f | %.0f ms | %s | %s | %s MB |" % (
            "%d+0..%d" % (r["latency_ms"], r["jitter_ms"]) if r.get("jitter_ms") else r["latency_ms"],
            r["in_flight"], r.get("concurrency") or r["in_flight"], r["rps"], r["ideal_rps"], r["efficiency_pct"],
            " (window cut short)" if r.get("window_clipped") else "",
            "%.1f%%" % a["efficiency_pct"] if a and a.get("efficiency_pct") else "n/a",
            "%.0f%%" % (100.0 * r["rps"] / a["rps"]) if a and a.get("rps") else "n/a",
            r["fake_in_flight_avg"], r["fake_latency_ms"] or 0, _f(r.get("worker_cpu_ms_per_request"), "%.3f"),
            " / ".join(_f(c.get(k), "%.0f") for k in ("worker", "fake", "broker", "ledger", "others")),
            _f(r["worker_peak_rss_mb"])))
    return "\n".join(rows)


def _rl_rows(fig):
    rows = ["| R (req/min) | workers | translate.requests_per_minute | steady: % of R | steady: 429 share | whole run: % of R "
            "| whole run: 429 share | answers (ok / 429 / other) | AIMD halvings | worker CPU % |",
            "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in fig["runs"]:
        s, w = r["steady"], r["whole"]
        rows.append("| %d | %d | %s | **%.1f%%** | **%.2f%%** | %.1f%% | %.2f%% | %d / %d / %d | %d | %s |" % (
            r["rpm"], r["workers"],
            ("%d (the fleet's)" if r.get("fleet_rpm") else "%d per worker (before issue 12)") % r["static_cap"]
            if r["static_cap"] else "0 (headers only)", s["of_rpm_pct"], s["r429_pct"],
            w["of_rpm_pct"], w["r429_pct"], w["ok"], w["r429"], w["other"], r["aimd_decreases"],
            _f(r.get("worker_cpu_pct"), "%.0f")))
    return "\n".join(rows)


def _reh_rows(fig):
    rows = ["| workers | rate-limit headers | set | makespan / ideal | **% of R** | **refused by the limit** "
            "| injected 429 / other faults | papers lost / parked / duplicate events | QA papers (judgements) "
            "| spend used / billed / thrown away | worker peak RSS | load (1/5/15 min) before → after |",
            "|---:|---|---|---|---:|---:|---|---|---|---|---:|---|"]
    for r in fig["runs"]:
        rows.append("| %d | %s | %s | %.1f s / %.1f s | **%.1f%%** | **%.2f%%** (%d of %d) | %d / %d | %d / %d / %d "
                    "| %d (%d) | $%.4f / $%.4f / $%.4f | %.1f MB | %s → %s |" % (
                        r["workers"], "OpenAI x-ratelimit-*" if r["headers"] == "openai" else "none",
                        "R = %d/min" % r["rpm"] if r["headers"] == "none" else "nothing",
                        r["makespan_s"], r["ideal_s"], r["of_rpm_pct"], r["refused_pct"], r["limit_429"],
                        r["answers"], r["injected_429"], r["other_faults"], r["lost"], r["parked"],
                        r["duplicate_events"], r["papers_judged"], r["judgements"], r["spend_used_usd"],
                        r["spend_billed_usd"], r["spend_thrown_usd"], r["worker_peak_rss_mb"],
                        r["load_before"], r["load_after"]))
    return "\n".join(rows)


def _ledger_rows(fig):
    cli = fig.get("report_cli_ms") or {}
    cj = fig.get("report_json_cli_ms") or {}
    return "\n".join([
        "| papers | events | events/s | report build (best / worst of 5) | `report` CLI (median / worst) "
        "| `report --json` CLI (median / worst) | database |",
        "|---:|---:|---:|---|---|---|---:|",
        "| %d | %s | **%s** | %s / %s ms | %s / %s ms | %s / %s ms | %s MB |" % (
            fig["papers"], fig.get("events"), _f(fig.get("events_per_s"), "%.0f"),
            _f(fig.get("report_best_ms")), _f(fig.get("report_worst_ms")),
            _f(cli.get("median"), "%.0f"), _f(cli.get("worst"), "%.0f"),
            _f(cj.get("median"), "%.0f"), _f(cj.get("worst"), "%.0f"), fig.get("db_mb"))])


def _summary(results):
    rows = ["| figure | target | measured | holds |", "|---|---|---|---|"]
    e = (results.get("e2e") or {}).get("figures")
    if e:
        big = max(r["papers"] for r in e["runs"])
        for r in e["runs"]:
            if r["papers"] == big and r["concurrency"] == e["runs"][0]["concurrency"]:
                rows.append("| CPU of paperq's processes per paper, instant LLM, %d papers, %d worker%s | ≤ 0.25 ms "
                            "| %.3f ms (%.0f papers/s) | %s |" % (
                                big, r["workers"], "s" if r["workers"] > 1 else "", r["own_cpu_ms_per_paper"],
                                r["papers_per_s"], _holds(r["own_cpu_ms_per_paper"] <= 0.25)))
    lat = (results.get("latency") or {}).get("figures")
    if lat:
        for r in lat["runs"]:
            if r.get("jitter_ms") or (r.get("concurrency") or r["in_flight"]) != r["in_flight"]:
                continue
            if (r["latency_ms"], r["in_flight"]) == (200, 256):
                rows.append("| efficiency, 200 ms latency, 256 in flight | ≥ 98%% | %.1f%% | %s |"
                            % (r["efficiency_pct"], _holds(r["efficiency_pct"] >= 98)))
            if (r["latency_ms"], r["in_flight"]) == (2000, 1024):
                rows.append("| efficiency, 2 s latency, 1,024 in flight | ≥ 95%% | %.1f%% | %s |"
                            % (r["efficiency_pct"], _holds(r["efficiency_pct"] >= 95)))
                rows.append("| worker peak RSS, 1,024 in flight | ≤ 64 MB | %.1f MB | %s |"
                            % (r["worker_peak_rss_mb"], _holds(r["worker_peak_rss_mb"] <= 64)))
    rl = (results.get("ratelimit") or {}).get("figures")
    if rl:
        for r in rl["runs"]:
            s = r["steady"]
            rows.append("| rate limit R = %d/min, %d worker%s, %s (steady window) | ≥ 95%% of R, ≤ 2%% 429 | %.1f%% of R, %.2f%% 429 "
                        "| %s |" % (r["rpm"], r["workers"], "s" if r["workers"] > 1 else "",
                                    ("R set (%d/min, the fleet's)" if r.get("fleet_rpm") else "static cap %d/min each")
                                    % r["static_cap"] if r["static_cap"] else "headers only",
                                    s["of_rpm_pct"], s["r429_pct"],
                                    _holds(s["of_rpm_pct"] >= 95 and s["r429_pct"] <= 2)))
    reh = (results.get("rehearsal") or {}).get("figures")
    if reh:
        for r in reh["runs"]:
            rows.append("| rehearsal, %d papers, R = %d/min, %d worker%s, %s | ≥ 95%% of R, ≤ 2%% refused, 0 lost "
                        "| %.1f%% of R, %.2f%% refused, %d lost | %s |" % (
                            r["papers"], r["rpm"], r["workers"], "s" if r["workers"] > 1 else "",
                            "headers, nothing set" if r["headers"] == "openai" else "no headers, R set",
                            r["of_rpm_pct"], r["refused_pct"], r["lost"],
                            _holds(r["of_rpm_pct"] >= 95 and r["refused_pct"] <= 2 and r["lost"] == 0)))
    led = (results.get("ledger") or {}).get("figures")
    if led:
        rows.append("| ledger ingest, %d papers | ≥ 20,000 events/s | %.0f events/s | %s |"
                    % (led["papers"], led["events_per_s"], _holds(led["events_per_s"] >= 20000)))
        cli = led.get("report_cli_ms")
        if cli:
            rows.append("| `paperq-ledger report` on %d papers (whole process) | ≤ 200 ms | worst of 5 %.0f ms, "
                        "median %.0f ms (the report build alone: %.1f ms) | %s |"
                        % (led["papers"], cli["worst"], cli["median"], led["report_best_ms"],
                           _holds(cli["worst"] <= 200)))
        else:
            rows.append("| `report` build on %d papers | ≤ 200 ms | %.1f ms (worst of 5: %.1f ms) | %s |"
                        % (led["papers"], led["report_best_ms"], led["report_worst_ms"],
                           _holds(led["report_worst_ms"] <= 200)))
    return "\n".join(rows)


def _machine(results):
    latest = max((v for v in results.values() if v), key=lambda v: v["date"])
    m = latest["machine"]
    return "\n".join([
        "| | |", "|---|---|",
        "| CPUs (nproc) | %s |" % m["nproc"], "| CPU model | %s |" % m["cpu"], "| RAM | %s |" % m["ram"],
        "| kernel | %s |" % m["kernel"], "| RabbitMQ | %s (Erlang %s) |" % (m["rabbitmq"], m["erlang"]),
        "| libcurl | %s |" % m["libcurl"], "| Python (fake LLM, driver) | %s |" % m["python"],
        "| paperq | git %s%s |" % (m["git"], ", uncommitted changes in the sources" if m.get("dirty") else ""),
    ])


def _section(results, key, title, how, table_fn):
    e = results.get(key)
    out = ["## %s" % title, "", how.strip(), ""]
    if not e:
        out += ["Not measured yet: `bench/run.sh %s`." % key, ""]
        return out
    out += [_stamp(e), ""]
    if e.get("error"):
        out += ["**Not measured**: %s" % e["error"].splitlines()[0], ""]
    elif table_fn:
        out += [table_fn(e["figures"]), ""]
    out += [_raw(e), ""]
    return out


MEM_HOW = """
Issue 13: memory must not follow the input. The producer reads N real
records, then one file holding a single 200 MB line followed by ten good
records (the line is skipped with an error, never held), then `/dev/zero`
(killed after 10 s; it reads forever, in constant memory). Its peak RSS is
`VmHWM`. The worker then takes N papers whose every answer fails (the fake
LLM's 500s, malformed JSON, truncated and untranslated answers, one each of
the random draws) with `retry.max_attempts = 1`, so every paper is parked;
its RSS (`VmRSS`) is read as the ledger counts 10%, 50% and 100% of them
parked.
"""


def _mem_rows(r):
    rows = ["| what | RSS |", "|---|---|"]
    for name, v in (r.get("producer") or {}).items():
        if "rss_1s_mb" in v:
            rows.append("| producer on %s | %.1f MB after 1 s, %.1f MB after %d s |"
                        % (name, v["rss_1s_mb"], v["rss_end_mb"], v["seconds"]))
        else:
            rows.append("| producer on %s | peak %.1f MB |" % (name, v["peak_mb"]))
    w = r.get("worker") or {}
    for k, v in sorted((w.get("rss_mb_at") or {}).items(), key=lambda kv: int(kv[0])):
        if v:
            rows.append("| worker after %s papers parked (answers all fail) | %.1f MB |" % (k, v))
    if w.get("peak_mb"):
        rows.append("| worker peak over %d papers (%d requests) | %.1f MB |"
                    % (w["papers"], w["requests"], w["peak_mb"]))
    return "\n".join(rows)


E2E_HOW = """
N real ChinaXiv records (`records.jsonl` from the shared data dir, or the
200 test fixtures; beyond the first pass they are re-id'd with a `.bK`
suffix) go through the whole pipeline: `paperq-ledger serve` and the
worker(s) start first and wait; the clock is the ledger's own, from the
first `job.queued` to the last `job.succeeded` (`report --json`:
`elapsed_s`), while `paperq-producer` publishes everything. The fake LLM
answers at once (`--latency-ms 0`); each paper of these abstract-only records
is one chat request. Workers run with `worker.idle_exit_s = 3`, so they exit
by themselves; the ledger is sent SIGTERM once it has recorded every paper.

**paperq CPU per paper** = (utime + stime of the producer, every worker and
the ledger, read with `wait4` when each exits) ÷ N. It includes start-up and
the workers' 3 idle seconds (both negligible: an idle worker uses < 10 ms).
The broker (`beam.smp`) and the fake (Python) are sampled from
`/proc/PID/stat` every 0.2 s and reported separately for the same
first-queued-to-last-succeeded span. Peak RSS is `VmHWM` from
`/proc/PID/status` (not `ru_maxrss`, which Linux carries over from the
forking Python driver). "report CLI" is the wall time of
`paperq-ledger report --json` on that run's ledger (median of 5), process
start included. Everything else is the shipped `config/paperq.conf` (log
level `info`). "other processes" is what the rest of the machine used
meanwhile (`/proc/stat` minus the benchmark's own processes), in % of one
core: how quiet the machine was.
"""

LAT_HOW = """
One worker with `worker.max_requests` = `worker.concurrency` = the requests
in flight (the prefetch follows concurrency); a fake LLM that answers every
request after exactly the given latency. Enough papers are queued (and the
ledger has recorded their `job.queued`) before the worker starts to keep the
pipe full; the producer and the ledger run as in production. The fake's
`/_stats` is sampled every 0.5 s; the window starts max(3 s, 10 x latency)
after the first request and lasts 20 s (a whole number of latencies: with a
fixed latency answers come in waves), with the counts interpolated at its
ends. The 10 latencies skip the worker's slow start: knowing nothing of the
provider, it sends 4 probes, then one more request in flight per success
(doubling every round trip), so 1,024 in flight take about 8 latencies to
reach; the raw output says when the fake first held 95% of them. **efficiency** = answers per second in the window ÷ (in flight ÷
latency).

"avg in flight at the fake" and "fake's time per answer" split the loss:
the fake counts a request from when it has read it until it has answered it,
so (in flight at the fake ÷ requests in flight) is the share of slots the
worker kept busy, and (latency ÷ fake's time per answer, Little's law) the
share the fake lost being late. **fake alone** is the fake's own ceiling:
`tests/fake_llm/loadgen.py` (Python asyncio, keep-alive connections) at the
same concurrency and latency, no paperq at all; "paperq ÷ fake alone" is
paperq's rate as a share of that ceiling. CPU columns are % of one
core in the window (the machine has `nproc` cores); "other processes" is
what the rest of the machine used (`/proc/stat` minus everything listed),
i.e. how quiet the machine was. Worker peak RSS is `VmHWM`.
"""

RL_HOW = """
The fake admits R requests per minute (token bucket of R/60 per second,
burst one second's worth) and answers the rest 429 with `Retry-After` (whole
seconds, at least 1) and `x-ratelimit-*` headers; admitted requests take
1–2 s (latency 1000 ms + uniform jitter 0–1000 ms), like a real provider.
Each worker may keep 64 requests in flight (enough for ~40 requests/s, far
above R), so only the rate limit holds them back. "headers only" sets no
rate (before issue 12: "adaptive only", the worker's AIMD on 429s; since,
the worker paces its share of the stated `x-ratelimit-limit-requests`);
"R set" sets `translate.requests_per_minute` (before issue 12: R ÷ workers,
a cap per process; since, R itself, the fleet's).
Counts come from the fake's `/_stats` every second: **% of R** = answers
200 per minute ÷ R; **429 share** = 429 answers ÷ all answers. The steady
window leaves out the first seconds (the workers start with their full
concurrency and must find the limit); the whole run is shown too.
"AIMD halvings" counts the workers' `rate limited; concurrency now N` log
lines.
"""

REH_HOW = """
The seed's production run (3,411 papers, QA on 10%) at scale, as issue 12
describes it: 6,800 real ChinaXiv records (re-id'd beyond the first 2,000;
`PQ_REH_PAPERS` changes it, at least 3,400: scaled down in time, the last
papers' latency, their judges and the last retries are a fixed tail of
3–5 s, which twice the papers halves) are queued first; the fake admits R = 3,000 requests per minute (token
bucket, one second of burst) and answers the rest 429; latency is lognormal
(median 1 s, sigma 0.4); 4% of requests get a fault (1% 429 unrelated to the
limit, 1% 500, 1% 503, 0.5% connection reset, 0.5% malformed JSON); two
judges score 10% of the papers. Workers run with default settings; the only
key set is the fleet's `translate.requests_per_minute = R` in the runs
without rate-limit headers, and nothing at all with OpenAI's
`x-ratelimit-*` headers. When half the papers have succeeded the first
worker is killed -9 and a new one started. **makespan** runs from the
fake's first request to its last answer; **ideal** = requests that took a
token (every answer but the limit's refusals) ÷ R; **% of R** = ideal ÷
makespan. **refused by the limit** = the bucket's 429s ÷ all answers (the
injected 429s are faults, shown apart). Lost = papers neither succeeded nor
parked at the end. Spend: "used" is the ledger's total, "billed" what the
fake charged (every reply the model produced), "thrown away" the difference
(the killed worker's answers, failed attempts). Load is `/proc/loadavg`
before and after each run: the machine is shared.
"""

LEDGER_HOW = """
`bench/ledger_ingest.c` (built as `bench_ledger_ingest`) applies, for N
papers, `job.queued`, `job.started`, `job.succeeded` and, for 10% of papers,
two `qa.scored` events through the ledger's own `ledger_db_apply`, in
transactions of `ledger.batch` (500) events, into a fresh SQLite file, then
builds the `report --json` document 5 times on the result. It measures the
ledger's database work without the broker (the end-to-end runs above show
the ledger's CPU with the broker). Its output is quoted as printed. The
database is then kept (`PQ_BENCH_KEEP=1`) and `paperq-ledger report` and
`report --json` are timed on it as a user runs them, process start
included, 5 times each (the first run is the coldest).
"""


def write(path, results):
    notes = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
        m = re.search(re.escape(NOTES_BEGIN) + r"\n(.*?)" + re.escape(NOTES_END), old, re.S)
        if m:
            notes = m.group(1)
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by bench/run.sh (bench/benchdoc.py) from bench/results.json. Edit only the",
        "     notes section; everything else is rewritten on the next run. -->",
        "",
        "Figures, not pass/fail: what paperq does on one machine, against the targets of",
        "issue 5. Reproduce with one command (it builds a Release tree in `build-bench/`,",
        "starts a private RabbitMQ and fake LLMs, stops them all at the end):",
        "",
        "```sh",
        "bench/run.sh                        # everything, ~35 min on 2 cores; rewrites this file",
        "bench/run.sh --quick                # smaller N, shorter windows, ~5 min; prints only (add --doc to write)",
        "bench/run.sh e2e latency            # a subset: e2e latency ratelimit ledger memory rehearsal; updates its sections",
        "bench/run.sh rehearsal              # issue 12's rehearsal alone (~20 min); updates its section",
        "```",
        "",
        "The machine is shared and has 2 cores: the broker, the fake LLM (Python), the",
        "driver and paperq all run on them, and other sessions' processes may too. Every",
        "latency run reports how busy the rest of the machine was; figures from a busy",
        "machine are lower bounds.",
        "",
        "## Summary",
        "",
        _summary(results),
        "",
        "## Machine",
        "",
        _machine(results),
        "",
    ]
    out += _section(results, "e2e", "1. End to end with an instant LLM", E2E_HOW, _e2e_rows)
    out += _section(results, "latency", "2. Latency: requests in flight vs the ideal rate", LAT_HOW, _lat_rows)
    out += _section(results, "ratelimit", "3. Rate limit", RL_HOW, _rl_rows)
    out += _section(results, "ledger", "4. Ledger ingest and report", LEDGER_HOW, _ledger_rows)
    out += _section(results, "memory", "5. Bounded memory on hostile input", MEM_HOW, _mem_rows)
    out += _section(results, "rehearsal", "6. Rehearsal: the seed's production run at scale (issue 12)", REH_HOW,
                    _reh_rows)
    out += ["## Notes", "", NOTES_BEGIN] + ([notes.strip("\n")] if notes.strip() else []) + [NOTES_END, ""]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(tmp, path)
