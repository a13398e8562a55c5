#!/usr/bin/env python3
"""A fake OpenAI chat-completions server for paperq's tests, with fault injection.

Python standard library only: one asyncio event loop, a hand-rolled HTTP/1.1
parser with keep-alive, so a single process holds a thousand idle connections
and answers thousands of requests per second when --latency-ms is 0.

"Translation" is deterministic and needs no model: every CJK ideograph becomes
an ASCII syllable, CJK punctuation becomes ASCII, and everything else (LaTeX,
placeholders, marker lines, Latin text, digits, Greek) is kept byte for byte.
A system message mentioning "rubric" gets a judge's JSON scores instead.

Decision order for each POST .../chat/completions request:
  1. --require-key   wrong or missing bearer key        -> 401
  2. --unknown-models                                    -> 404 model_not_found
  3. --rule SUBSTRING=ACTION[:N]  first matching rule with hits left decides the
     whole outcome (rate limit and random faults are skipped for it)
  4. --rpm R         token bucket: R/60 tokens per second, burst --burst
                     (default max(1, R/60), i.e. one second's worth)  -> 429
                     --rate-headers says how the limit is told (issue 12):
                       openai      x-ratelimit-limit/remaining/reset-requests
                                   on every reply, Retry-After and
                                   retry-after-ms on 429s (OAI rate-limit guide)
                       openrouter  X-RateLimit-Limit/Remaining/Reset (epoch ms)
                                   on 429s only, no Retry-After (OR-LIM)
                       none        nothing: a bare 429 (a provider that does
                                   not publish its limits, e.g. DS)
                     /_stats "limit_429" counts the bucket's refusals apart
                     from injected 429s
     --tpm T     tokens per minute, as Cerebras, Databricks and Azure OpenAI
                 document it: a token bucket of T/60 per second holding
                 --tpm-burst tokens (default one second's worth, like --burst:
                 OpenAI's help centre says limits per minute may be enforced
                 per second); a request is admitted only when the bucket holds
                 its estimated prompt (the messages' text, as usage counts it)
                 plus its max_tokens (--tpm-default-max-tokens when absent),
                 else 429; when it is answered the bucket gets back what the
                 answer did not use (Databricks: "credits the difference");
                 a refusal uses nothing. A request larger than --tpm-burst is
                 never admitted. With --rate-headers openai every reply also
                 carries x-ratelimit-limit/remaining/reset-tokens; with
                 openrouter a token refusal carries Retry-After only (an
                 upstream provider's hint, OR-LIM), as X-RateLimit-* describe
                 OpenRouter's own request limits. /_stats "limit_429_tokens"
                 counts the token refusals (also in "limit_429"),
                 "usage_tokens" the prompt + completion tokens billed.
  5. random faults   one seeded draw per request against the cumulative
                     probabilities p429, p500, p503, p400, phang, preset,
                     pmalformed, ptruncate, puntranslated (so they are
                     mutually exclusive; keep their sum <= 1)
  6. a normal answer after --latency-ms (+ uniform 0..--jitter-ms); with
     --latency-sigma S the latency is lognormal: --latency-ms times
     exp(N(0, S)), so --latency-ms is its median

Provider behaviours (issue 11), each from the provider's own documentation,
never from paperq's parser.  Sources: OR-ERR = OpenRouterTeam/docs
api_reference/errors-and-debugging.mdx; OR-LIM = api_reference/limits.mdx;
OR-RSN = guides/best-practices/reasoning-tokens.mdx; OAI = OpenAI's rate-limit
and error-code guides and openai-python's _base_client.py (retry-after-ms);
ZAI = Zhipu error codes; DSC = DashScope error codes; DS = DeepSeek rate limit.
  408 502 524 529         status errors with OpenRouter's error shape (OR-ERR)
  503                     with Retry-After (OR-ERR: "on 429 and 503")
  402_inflight            402 reason in_flight_budget_exhausted, limit_source
                          openrouter_in_flight_budget, Retry-After (OR-LIM)
  402_weight              402 reason weight_exceeds_budget (OR-LIM); also sent
                          for every request whose max_tokens exceeds
                          --budget-max-tokens
  402_credits 403_key_limit 429_quota zai_1113 dsc_arrearage   no money / no access
  403_moderation          metadata reasons, flagged_input, provider_name,
                          model_slug (OR-ERR "Moderation errors")
  403_guardrail           "Request blocked: ..." with metadata.patterns (OR-ERR)
  zai_1301 dsc_inspection content refused by Zhipu / DashScope
  429_or                  OpenRouter's platform 429: X-RateLimit-Limit/Remaining/
                          Reset (epoch ms), no Retry-After (OR-LIM); the limit
                          is --rpm when set, else --or-limit (default 20 a
                          minute, the free models' limit); Remaining 0, Reset
                          --retry-after from now
  429_date 429_ms         Retry-After as an HTTP date; retry-after-ms only (OAI)
  error200_502 error200_429 error200_402   HTTP 200 whose body is an error
                          object (OR-ERR: errors after the model started)
  finish_error            200, partial content, finish_reason "error" and
                          choices[0].error (OR-ERR "Chat Completions" skin)
  content_filter          finish_reason content_filter, partial content
  refusal                 message.refusal, content null (OpenAI)
  echo_key                502 whose message echoes the Authorization header
  leading_blank           blank lines before the JSON (DS keep-alive)
Reasoning (OR-RSN): a model in --reasoning-models thinks by default
(--reasoning-tokens, or what the request's reasoning asks: effort as a share of
max_tokens, max_tokens, "none"/enabled:false = off); thinking counts as output,
and when it leaves no room the answer is empty with finish_reason "length".
Every reply names a serving "provider" (--providers) and carries usage (with
reasoning_tokens, cached_tokens and, with --report-cost, cost) when the model
ran, errors included.  /_stats "billed_usd" is what a real provider would
charge: every reply the model produced, and abandoned (hung) requests in full.
Judges: --judge-styles picks how each verdict is written (int, decimal,
string, fence, prose, think, trailing_comma, no_comments, garbage).

Control endpoints: POST /_control {json options} changes options live (same
names as the flags with underscores; "rules" replaces the rule list, "add_rules"
appends), GET /_config shows them, GET /_stats, POST /_reset_stats.
{"hold": true} keeps every request waiting (before its latency) until
{"hold": false}; {"pass": N} lets the next N requests through a hold (those
waiting first). A test can so bound the work done between two of its steps,
whatever the machine's speed; /_stats "held_now" counts the requests waiting.
"""

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import re
import resource
import socket
import struct
import sys
import time

MAX_HEADER = 64 * 1024
MAX_BODY = 64 * 1024 * 1024

# Syllables for ideographs: table[codepoint % len(table)].  Pinyin-looking so
# output reads like text; no syllable is a substring that tests look for.
SYLLABLES = (
    "ba bo bi bu da de di du fa fo fu ga ge gu ha he hu ji ju ka ke ku la le li "
    "lu ma mo mi mu na ne ni nu pa po pi pu qi qu ran re ru sa se su ta te ti tu "
    "wa wo wu xi xu ya ye yi yu za ze zu an en ang eng ong ai ei ao ou chen shi "
    "zhao qian sun zhou wang feng xiang liang ming"
).split()

# U+3400-U+4DBF, U+4E00-U+9FFF, U+F900-U+FAFF (the brief's ranges) plus the
# rest of what a "no CJK left" check may count: radicals, CJK symbols not
# mapped below, kana, extension B+ ideographs.
CJK_RUN = re.compile(
    "[\u2e80-\u2fdf\u3001-\u303f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\U00020000-\U0003134f]+")

PUNCT = {
    "\uff0c": ", ",   # ，
    "\u3002": ". ",   # 。
    "\uff1a": ": ",   # ：
    "\uff1b": "; ",   # ；
    "\uff08": " (",   # （
    "\uff09": ") ",   # ）
    "\u201c": '"',    # “
    "\u201d": '"',    # ”
    "\u3001": ", ",   # 、
    "\u300a": '"',    # 《
    "\u300b": '"',    # 》
    "\uff01": "! ",   # ！
    "\uff1f": "? ",   # ？
    "\u3000": " ",    # ideographic space
    "\u3010": "[",    # 【
    "\u3011": "]",    # 】
    "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"',
    "\u3008": "<", "\u3009": ">",
    "\u3014": "(", "\u3015": ")",
    "\u301c": "~",
}
TRANSLATE_TABLE = {0xFF01 + i: chr(0x21 + i) for i in range(0x5E)}  # full width
TRANSLATE_TABLE.update({ord(k): v for k, v in PUNCT.items()})
PUNCT_CHARS = frozenset(PUNCT)


def _syllable(ch):
    return SYLLABLES[ord(ch) % len(SYLLABLES)]


def _run_to_ascii(m):
    """One run of CJK: syllables joined by spaces, punctuation left for
    translate(), a space added where the run touches a letter or digit."""
    text = m.string
    out = []
    prev_word = False
    for ch in m.group(0):
        if ch in PUNCT_CHARS:
            out.append(ch)
            prev_word = False
        else:
            if prev_word:
                out.append(" ")
            out.append(_syllable(ch))
            prev_word = True
    s = "".join(out)
    start, end = m.start(), m.end()
    if start > 0 and text[start - 1].isalnum() and text[start] not in PUNCT_CHARS:
        s = " " + s
    if end < len(text) and text[end].isalnum() and prev_word:
        s = s + " "
    return s


def translate(text):
    """Deterministic zh -> "en": no CJK left, everything else byte for byte."""
    return CJK_RUN.sub(_run_to_ascii, text).translate(TRANSLATE_TABLE)


def judge_scores(model, user):
    """The verdict's numbers: deterministic per (judge, excerpt), in 7.0..10.0
    with one decimal, so that integer and decimal styles say the same."""
    h = hashlib.sha256((model + "\x00" + user).encode("utf-8", "surrogatepass")).digest()
    keys = ("accuracy", "fluency", "terminology", "completeness", "overall")
    return {k: 7 + (h[i] % 31) / 10.0 for i, k in enumerate(keys)}


def judge_reply(model, user, style="int"):
    """A verdict written the way judges in the wild write them (FastChat's
    llm_judge and DeepEval accept these): decimals, numeric strings, JSON in
    fences or prose, a <think> block first, trailing commas, no comments.
    "garbage" is a reply with no usable verdict."""
    scores = judge_scores(model, user)
    if style == "int":
        scores = {k: int(round(v)) for k, v in scores.items()}
    if style == "string":
        scores = {k: "%.1f" % v for k, v in scores.items()}
    if style != "no_comments":
        scores["comments"] = "fake judge %s: deterministic scores" % model
    text = json.dumps(scores)
    if style == "fence":
        return "Here is my assessment:\n```json\n%s\n```\n" % json.dumps(scores, indent=2)
    if style == "prose":
        return "I compared the texts carefully. My scores: %s Overall it reads well." % text
    if style == "think":
        return ("<think>The user wants scores. A first draft: {\"accuracy\": 1} is too harsh; "
                "let me reconsider the terminology.</think>\n%s" % text)
    if style == "trailing_comma":
        return text[:-1] + ",\n}"
    if style == "garbage":
        return "The translation is good overall, I would rate it highly."
    return text


def approx_tokens(s):
    return max(1, len(s.encode("utf-8", "surrogatepass")) // 3)


ACTIONS = ("500", "400", "401", "429", "hang", "reset", "malformed", "truncate", "runaway",
           "untranslated", "ok", "503", "408", "502", "524", "529", "402_inflight",
           "402_weight", "402_credits", "403_key_limit", "403_moderation", "403_guardrail",
           "429_quota", "429_or", "429_date", "429_ms", "error200_502", "error200_429",
           "error200_402", "finish_error", "content_filter", "refusal", "echo_key",
           "leading_blank", "zai_1113", "zai_1301", "dsc_arrearage", "dsc_inspection")

# Random behaviours: option pNAME draws action NAME (cumulative, exclusive).
NEW_FAULTS = ("p408", "p502", "p524", "p529", "p402_inflight", "p402_weight", "p429_or",
              "p429_date", "p429_ms", "perror200_502", "perror200_429", "perror200_402",
              "pfinish_error", "pcontent_filter", "prefusal", "pecho_key", "pleading_blank")

JUDGE_STYLES = ("int", "decimal", "string", "fence", "prose", "think", "trailing_comma",
                "no_comments", "garbage")

# Prices the fake bills at (USD per 1M tokens), as --report-cost reports them.
PRICE_IN, PRICE_OUT = 0.27, 0.40


class Rule:
    __slots__ = ("substring", "action", "remaining")

    def __init__(self, substring, action, remaining):
        if action not in ACTIONS:
            raise ValueError("unknown rule action %r (one of %s)" % (action, ", ".join(ACTIONS)))
        self.substring = substring
        self.action = action
        self.remaining = remaining  # None = unlimited

    @classmethod
    def parse(cls, spec):
        if isinstance(spec, dict):
            n = spec.get("count", spec.get("n"))
            return cls(str(spec["match"]), str(spec["action"]), None if n is None else int(n))
        sub, sep, act = str(spec).rpartition("=")
        if not sep or not sub:
            raise ValueError("rule %r: want SUBSTRING=ACTION[:N]" % spec)
        n = None
        if ":" in act:
            act, n = act.split(":", 1)
            n = int(n)
        return cls(sub, act, n)

    def to_json(self):
        return {"match": self.substring, "action": self.action, "count": self.remaining}


RATE_HEADER_STYLES = ("openai", "openrouter", "none")

FAULTS = ("p429", "p500", "p503", "p400", "phang", "preset", "pmalformed",
          "ptruncate", "puntranslated") + NEW_FAULTS

OPTION_DEFAULTS = {
    "require_key": None, "unknown_models": [], "latency_ms": 0.0, "jitter_ms": 0.0,
    "rpm": 0.0, "burst": 0.0, "seed": 1, "retry_after": 1.0, "hang_s": -1.0,
    "rate_headers": "openai", "latency_sigma": 0.0,
    "tpm": 0.0, "tpm_burst": 0.0, "tpm_default_max_tokens": 4096.0, "or_limit": 20.0,
    "report_cost": False, "verbose": False, "hold": False, "runaway_bytes": 3000000,
    "budget_max_tokens": 0.0, "reasoning_models": [], "reasoning_tokens": 600.0,
    "providers": ["FakeInfra"], "judge_styles": ["int"], "filter_models": [],
    **{f: 0.0 for f in FAULTS},
}
LIST_OPTIONS = ("unknown_models", "reasoning_models", "providers", "judge_styles", "filter_models")


class Fake:
    def __init__(self, opts):
        self.opts = dict(OPTION_DEFAULTS)
        self.rules = []
        self.rng = random.Random(1)
        # The random faults draw from a stream of their own: the k-th draw
        # gives the same behaviour whatever latencies and judge styles were
        # drawn meanwhile, so a seed fixes which behaviours a run shows.
        self.fault_rng = random.Random(1)
        self.bucket_tokens = 0.0
        self.bucket_time = time.monotonic()
        self.tpm_tokens = 0.0
        self.tpm_time = time.monotonic()
        self.passes = 0  # requests that may still go through a hold
        self.reset_stats()
        self.apply(opts)

    # ---- options ------------------------------------------------------------
    def apply(self, changes):
        for key, value in changes.items():
            key = key.replace("-", "_")
            if key == "rules":
                self.rules = [Rule.parse(r) for r in (value or [])]
            elif key in ("add_rules", "rule"):
                self.rules += [Rule.parse(r) for r in (value if isinstance(value, list) else [value])]
            elif key in LIST_OPTIONS:
                if isinstance(value, str):
                    value = [m.strip() for m in value.split(",") if m.strip()]
                value = list(value or [])
                if key == "judge_styles":
                    bad = [v for v in value if v not in JUDGE_STYLES]
                    if bad:
                        raise ValueError("unknown judge style %r (one of %s)" % (bad[0], ", ".join(JUDGE_STYLES)))
                self.opts[key] = value
            elif key == "pass":
                self.passes = int(value)
            elif key == "require_key":
                self.opts[key] = value or None
            elif key == "rate_headers":
                if value not in RATE_HEADER_STYLES:
                    raise ValueError("unknown rate_headers %r (one of %s)" % (value, ", ".join(RATE_HEADER_STYLES)))
                self.opts[key] = value
            elif key == "seed":
                self.opts[key] = int(value)
                self.rng = random.Random(int(value))
                self.fault_rng = random.Random(int(value))
            elif key in ("report_cost", "verbose", "hold"):
                self.opts[key] = bool(value)
            elif key in OPTION_DEFAULTS:
                self.opts[key] = float(value)
                if key in ("rpm", "burst"):
                    self.bucket_tokens = self._burst()
                    self.bucket_time = time.monotonic()
                if key in ("tpm", "tpm_burst"):
                    self.tpm_tokens = self._tpm_burst()
                    self.tpm_time = time.monotonic()
            else:
                raise ValueError("unknown option %r" % key)

    def config_json(self):
        d = dict(self.opts)
        d["rules"] = [r.to_json() for r in self.rules]
        d["pass"] = self.passes
        return d

    def reset_stats(self):
        self.stats = {
            "requests": 0, "by_status": {}, "by_model": {}, "in_flight": 0,
            "max_in_flight": 0, "hangs_now": 0, "held_now": 0, "rule_hits": {},
            "judge_requests": 0, "connections": 0, "max_connections": 0,
            "started": time.time(), "by_action": {}, "billed_usd": 0.0, "limit_429": 0,
            "limit_429_tokens": 0, "usage_tokens": 0,
            "first_request_t": None, "last_answer_t": None,
            "billed_requests": 0, "judge_styles": {}, "max_tokens_seen": {},
        }

    def count_status(self, status):
        self.stats["last_answer_t"] = time.time()
        key = str(status)
        bs = self.stats["by_status"]
        bs[key] = bs.get(key, 0) + 1

    # ---- rate limit (token bucket) -------------------------------------------
    def _burst(self):
        rpm = self.opts["rpm"]
        return self.opts["burst"] or max(1.0, rpm / 60.0)

    def _refill(self):
        now = time.monotonic()
        rate = self.opts["rpm"] / 60.0
        self.bucket_tokens = min(self._burst(), self.bucket_tokens + (now - self.bucket_time) * rate)
        self.bucket_time = now

    def ratelimit_headers(self):
        """x-ratelimit-* headers (OpenAI style, on every reply) for requests
        (--rpm) and tokens (--tpm); empty when neither is set or another
        --rate-headers style is chosen."""
        if self.opts["rate_headers"] != "openai":
            return []
        out = []
        rpm = self.opts["rpm"]
        if rpm > 0:
            self._refill()
            reset = max(0.0, (self._burst() - self.bucket_tokens) / (rpm / 60.0))
            out += [("x-ratelimit-limit-requests", "%d" % rpm),
                    ("x-ratelimit-remaining-requests", "%d" % max(0, math.floor(self.bucket_tokens))),
                    ("x-ratelimit-reset-requests", _duration(reset))]
        tpm = self.opts["tpm"]
        if tpm > 0:
            self._tpm_refill()
            reset = max(0.0, (self._tpm_burst() - self.tpm_tokens) / (tpm / 60.0))
            out += [("x-ratelimit-limit-tokens", "%d" % tpm),
                    ("x-ratelimit-remaining-tokens", "%d" % max(0, math.floor(self.tpm_tokens))),
                    ("x-ratelimit-reset-tokens", _duration(reset))]
        return out

    def refusal_headers(self, wait_s, kind="requests"):
        """The headers of a 429 telling the client to wait wait_s seconds,
        in the chosen --rate-headers style; kind is the limit that refused
        ("requests" or "tokens")."""
        style = self.opts["rate_headers"]
        if style == "none":
            return []
        if style == "openrouter" and kind == "tokens":
            return [("Retry-After", str(max(1, math.ceil(wait_s))))]
        if style == "openrouter":
            # OR-LIM: X-RateLimit-* on 429s only, the reset in epoch ms.
            rpm = self.opts["rpm"]
            self._refill()
            return [("X-RateLimit-Limit", "%d" % rpm),
                    ("X-RateLimit-Remaining", "%d" % max(0, math.floor(self.bucket_tokens))),
                    ("X-RateLimit-Reset", "%d" % int((time.time() + wait_s) * 1000))]
        return [("Retry-After", str(max(1, math.ceil(wait_s)))),
                ("retry-after-ms", "%d" % (wait_s * 1000))] + self.ratelimit_headers()

    # ---- tokens per minute (token bucket of LLM tokens) ------------------------
    def _tpm_burst(self):
        return self.opts["tpm_burst"] or max(1.0, self.opts["tpm"] / 60.0)

    def _tpm_refill(self):
        now = time.monotonic()
        rate = self.opts["tpm"] / 60.0
        self.tpm_tokens = min(self._tpm_burst(), self.tpm_tokens + (now - self.tpm_time) * rate)
        self.tpm_time = now

    def request_tokens(self, prompt_tokens, max_tokens):
        """What a request reserves: its prompt plus its completion cap."""
        return prompt_tokens + (max_tokens or int(self.opts["tpm_default_max_tokens"]))

    def admit_tokens(self, reserve):
        """Reserve `reserve` tokens; None if admitted, else seconds until the
        bucket holds them (never, for more than --tpm-burst: still a wait)."""
        tpm = self.opts["tpm"]
        if tpm <= 0:
            return None
        self._tpm_refill()
        if self.tpm_tokens >= reserve:
            self.tpm_tokens -= reserve
            return None
        return (reserve - self.tpm_tokens) / (tpm / 60.0)

    def settle_tokens(self, reserved, used):
        """The answer is out: what it did not use goes back to the bucket."""
        if self.opts["tpm"] <= 0 or reserved <= 0:
            return
        self._tpm_refill()
        self.tpm_tokens = min(self._tpm_burst(), self.tpm_tokens + reserved - used)

    def admit(self):
        """Take a token; returns None if admitted, else seconds until one is there."""
        rpm = self.opts["rpm"]
        if rpm <= 0:
            return None
        self._refill()
        if self.bucket_tokens >= 1.0:
            self.bucket_tokens -= 1.0
            return None
        return (1.0 - self.bucket_tokens) / (rpm / 60.0)

    # ---- the decision --------------------------------------------------------
    def decide(self, model, all_text, reserve=0):
        """Returns (action, extra) for a request that passed auth/model checks:
        ("429", wait_s) or ("429_tokens", wait_s) when a limit refuses it,
        ("ok", "admitted") after reserving `reserve` tokens (settle_tokens
        gives back what the answer does not use)."""
        for rule in self.rules:
            if rule.remaining is not None and rule.remaining <= 0:
                continue
            if rule.substring in all_text:
                if rule.remaining is not None:
                    rule.remaining -= 1
                hits = self.stats["rule_hits"]
                hits[rule.substring] = hits.get(rule.substring, 0) + 1
                return rule.action, "rule"
        wait = self.admit()
        if wait is not None:
            self.stats["limit_429"] += 1
            return "429", wait
        wait = self.admit_tokens(reserve)
        if wait is not None:
            if self.opts["rpm"] > 0:
                self.bucket_tokens += 1.0  # refused: it did not use a request either
            self.stats["limit_429"] += 1
            self.stats["limit_429_tokens"] += 1
            return "429_tokens", wait
        u = self.fault_rng.random()
        acc = 0.0
        for f in FAULTS:
            acc += self.opts[f]
            if u < acc:
                action = {"p429": "429", "p500": "500", "p503": "503", "p400": "400",
                          "phang": "phang", "preset": "reset", "pmalformed": "malformed",
                          "ptruncate": "truncate", "puntranslated": "untranslated"}.get(f, f[1:])
                if action in ("content_filter", "refusal") and self.opts["filter_models"] \
                        and model not in self.opts["filter_models"]:
                    return "ok", None  # this model's filter does not fire
                return action, "random"
        return "ok", None

    def bill(self, prompt_tokens, completion_tokens):
        """What a provider charges for a request the model ran (OR: abandoned
        non-streaming requests are billed in full)."""
        self.stats["billed_usd"] += (prompt_tokens * PRICE_IN + completion_tokens * PRICE_OUT) / 1e6
        self.stats["billed_requests"] += 1
        self.stats["usage_tokens"] += prompt_tokens + completion_tokens

    def judge_style(self):
        styles = self.opts["judge_styles"] or ["int"]
        style = styles[self.rng.randrange(len(styles))]
        js = self.stats["judge_styles"]
        js[style] = js.get(style, 0) + 1
        return style

    def latency(self):
        ms = self.opts["latency_ms"]
        if self.opts["latency_sigma"] > 0:
            ms *= self.rng.lognormvariate(0.0, self.opts["latency_sigma"])
        if self.opts["jitter_ms"] > 0:
            ms += self.rng.uniform(0, self.opts["jitter_ms"])
        return ms / 1000.0


def _duration(seconds):
    if seconds <= 0:
        return "0s"
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        return "%dm%ds" % (m, math.ceil(s))
    return ("%.3f" % seconds).rstrip("0").rstrip(".") + "s"


def error_body(message, etype, code):
    return json.dumps({"error": {"message": message, "type": etype, "param": None, "code": code}})


REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
           402: "Payment Required", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 524: "A Timeout Occurred", 529: "Site Overloaded"}


class HttpError(Exception):
    pass


class Server:
    def __init__(self, fake):
        self.fake = fake
        self.req_seq = 0

    # ---- HTTP plumbing ----------------------------------------------------------
    async def handle_conn(self, reader, writer):
        st = self.fake.stats
        st["connections"] += 1
        st["max_connections"] = max(st["max_connections"], st["connections"])
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    return
                try:
                    method, path, version, headers = _parse_head(head)
                    if headers.get("expect", "").lower() == "100-continue":
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await _read_body(reader, headers)
                except HttpError as e:
                    self._send(writer, 400, error_body(str(e), "invalid_request_error", None), [], False)
                    return
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                keep = _keep_alive(version, headers)
                keep = await self.dispatch(method, path, headers, body, writer, reader, keep)
                if not keep:
                    return
                if writer.transport.get_write_buffer_size() > 256 * 1024:
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            st["connections"] -= 1
            try:
                writer.close()
            except Exception:
                pass

    def _send(self, writer, status, body, headers, keep):
        if writer.transport.is_closing():
            return
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogatepass")
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
                 "Content-Type: application/json",
                 "Content-Length: %d" % len(body),
                 "Connection: %s" % ("keep-alive" if keep else "close")]
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    # ---- routing ------------------------------------------------------------------
    async def dispatch(self, method, path, headers, body, writer, reader, keep):
        p = path.split("?", 1)[0]
        if p.endswith("/chat/completions"):
            if method != "POST":
                self._send(writer, 405, error_body("use POST", "invalid_request_error", None), [], keep)
                return keep
            return await self.chat(headers, body, writer, reader, keep)
        if p == "/_stats" and method == "GET":
            self._send(writer, 200, json.dumps(self.fake.stats), [], keep)
        elif p == "/_config" and method == "GET":
            self._send(writer, 200, json.dumps(self.fake.config_json()), [], keep)
        elif p == "/_control" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("want a JSON object")
                self.fake.apply(changes)
            except (ValueError, KeyError, TypeError) as e:
                self._send(writer, 400, error_body("bad control: %s" % e, "invalid_request_error", None), [], keep)
                return keep
            self._send(writer, 200, json.dumps(self.fake.config_json()), [], keep)
        elif p == "/_reset_stats" and method == "POST":
            self.fake.reset_stats()
            self._send(writer, 200, "{}", [], keep)
        elif p.endswith("/models") and method == "GET":
            self._send(writer, 200, json.dumps({"object": "list", "data": []}), [], keep)
        else:
            self._send(writer, 404, error_body("no route %s %s" % (method, p), "invalid_request_error", None), [], keep)
        return keep

    async def chat(self, headers, body, writer, reader, keep):
        fake = self.fake
        st = fake.stats
        st["requests"] += 1
        if st["first_request_t"] is None:
            st["first_request_t"] = time.time()
        st["in_flight"] += 1
        st["max_in_flight"] = max(st["max_in_flight"], st["in_flight"])
        tokens = {"reserved": 0, "used": 0}  # tokens per minute: reserved, then used
        try:
            return await self._chat(headers, body, writer, reader, keep, tokens)
        finally:
            st["in_flight"] -= 1
            fake.settle_tokens(tokens["reserved"], tokens["used"])

    async def _chat(self, headers, body, writer, reader, keep, tokens):
        fake = self.fake
        st = fake.stats
        opts = fake.opts

        def reply(status, payload, extra=()):
            fake.count_status(status)
            self._send(writer, status, payload, list(extra), keep)
            if opts["verbose"]:
                print("fake_llm: %s %d" % (model, status), file=sys.stderr)
            return keep

        model = "?"
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise ValueError("body is not a JSON object")
            model = str(req.get("model") or "")
            messages = req.get("messages")
            if not model or not isinstance(messages, list) or not messages:
                raise ValueError("need model and messages")
        except (ValueError, UnicodeDecodeError) as e:
            return reply(400, error_body("could not parse request: %s" % e, "invalid_request_error", None))

        key = opts["require_key"]
        if key is not None:
            auth = headers.get("authorization", "")
            if auth != "Bearer " + key:
                return reply(401, error_body("Invalid API key", "invalid_request_error", "invalid_api_key"))
        if model in opts["unknown_models"]:
            return reply(404, error_body("The model `%s` does not exist" % model,
                                         "invalid_request_error", "model_not_found"))
        bm = st["by_model"]
        bm[model] = bm.get(model, 0) + 1

        system, user, texts = "", None, []
        for m in messages:
            if not isinstance(m, dict):
                continue
            c = _content_text(m.get("content"))
            texts.append(c)
            if m.get("role") == "system":
                system += c
            elif m.get("role") == "user":
                user = c
        if user is None:
            return reply(400, error_body("no user message", "invalid_request_error", None))
        all_text = "\n".join(texts)

        max_tokens = req.get("max_tokens") or req.get("max_completion_tokens") or 0
        try:
            max_tokens = int(max_tokens)
        except (TypeError, ValueError):
            max_tokens = 0
        mts = st["max_tokens_seen"]
        mts[str(max_tokens)] = mts.get(str(max_tokens), 0) + 1
        pt = approx_tokens(all_text)
        reserve = fake.request_tokens(pt, max_tokens)
        action, why = fake.decide(model, all_text, reserve)
        if opts["tpm"] > 0 and why != "rule" and action not in ("429", "429_tokens"):
            tokens["reserved"] = reserve
        elif action == "429" and why == "random":
            tokens["reserved"] = reserve  # an injected 429 after admission: nothing used

        def bill(prompt_tokens, completion_tokens):
            fake.bill(prompt_tokens, completion_tokens)
            tokens["used"] = prompt_tokens + completion_tokens
        if action == "ok" and opts["budget_max_tokens"] > 0 and max_tokens > opts["budget_max_tokens"]:
            action, why = "402_weight", "budget"
        ba = st["by_action"]
        ba[action] = ba.get(action, 0) + 1
        rl = fake.ratelimit_headers()
        ra_s = max(1, math.ceil(opts["retry_after"]))
        provider = opts["providers"][self.req_seq % len(opts["providers"])] if opts["providers"] else None

        def or_error(status, message, metadata=None, headers=(), code=None):
            e = {"code": status if code is None else code, "message": message}
            if metadata is not None:
                e["metadata"] = metadata
            return reply(status, json.dumps({"error": e}), list(headers) + rl)

        if action == "429":
            if why == "rule" or why == "random":
                ra = opts["retry_after"]
            else:
                ra = why
            return reply(429, error_body("Rate limit reached for requests (fake)", "requests", "rate_limit_exceeded"),
                         fake.refusal_headers(ra))
        if action == "429_tokens":
            # OAI: "Rate limit reached for ... on tokens per min (TPM): Limit L, Used U, Requested R."
            msg = ("Rate limit reached for %s on tokens per min (TPM): Limit %d, Used %d, Requested %d. (fake)"
                   % (model, opts["tpm"], max(0, fake._tpm_burst() - fake.tpm_tokens), reserve))
            return reply(429, error_body(msg, "tokens", "rate_limit_exceeded"),
                         fake.refusal_headers(why, "tokens"))
        if action == "429_or":
            # OR-LIM: platform 429s carry X-RateLimit-*, the reset in epoch ms.
            reset = int(time.time() * 1000 + opts["retry_after"] * 1000)
            # They describe the limit that was hit: --rpm when the fake has
            # one, else --or-limit (default 20 a minute, OR's free models).
            limit = opts["rpm"] if opts["rpm"] > 0 else opts["or_limit"]
            return or_error(429, "Rate limit exceeded", {"error_type": "rate_limit_exceeded"},
                            [("X-RateLimit-Limit", "%d" % limit), ("X-RateLimit-Remaining", "0"),
                             ("X-RateLimit-Reset", str(reset))])
        if action == "429_date":
            when = time.time() + max(1.0, opts["retry_after"]) + 1  # HTTP dates have whole seconds
            return or_error(429, "Rate limit exceeded", {"error_type": "rate_limit_exceeded"},
                            [("Retry-After", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when)))])
        if action == "429_ms":
            return reply(429, error_body("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                         [("retry-after-ms", "%d" % (opts["retry_after"] * 1000))] + rl)
        if action == "429_quota":
            return reply(429, error_body("You exceeded your current quota, please check your plan and billing details.",
                                         "insufficient_quota", "insufficient_quota"), rl)
        if action == "zai_1113":
            return reply(429, json.dumps({"error": {"code": "1113", "message": "Insufficient balance or no resource package."}}), rl)
        if action == "zai_1301":
            return reply(400, json.dumps({"error": {"code": "1301", "message": "System detected potentially unsafe or sensitive content in input or generation."}}), rl)
        if action == "dsc_arrearage":
            return reply(400, json.dumps({"code": "Arrearage", "message": "Access denied, please make sure your account is in good standing.", "request_id": "fake-%d" % self.req_seq}), rl)
        if action == "dsc_inspection":
            return reply(400, json.dumps({"code": "DataInspectionFailed", "message": "Input data may contain inappropriate content.", "request_id": "fake-%d" % self.req_seq}), rl)
        if action == "402_inflight":
            return or_error(402, "This request would exceed your available credits given your current in-flight "
                                 "requests. Retry after in-flight requests settle, or add credits.",
                            {"reason": "in_flight_budget_exhausted", "limit_source": "openrouter_in_flight_budget",
                             "remedy_hint": "Retry after your in-flight requests settle (see the Retry-After header)."},
                            [("Retry-After", str(ra_s))])
        if action == "402_weight":
            return or_error(402, "This request's estimated cost exceeds your in-flight spending budget.",
                            {"reason": "weight_exceeds_budget", "limit_source": "openrouter_credits",
                             "remedy_hint": "Lower max_tokens or the prompt size, or add credits."})
        if action == "402_credits":
            return or_error(402, "Insufficient credits. Add more using https://openrouter.ai/credits",
                            {"limit_source": "openrouter_credits",
                             "remedy_hint": "Add credits."})
        if action == "403_key_limit":
            return or_error(403, "Key limit exceeded (workspace budget). Manage it using https://openrouter.ai/settings/keys")
        if action == "403_moderation":
            flagged = user if len(user) <= 100 else user[:48] + "..." + user[-49:]
            return or_error(403, "%s requires moderation on OpenAI. Your input was flagged for \"violence\"." % model,
                            {"reasons": ["violence"], "flagged_input": flagged,
                             "provider_name": "OpenAI", "model_slug": model})
        if action == "403_guardrail":
            return or_error(403, "Request blocked: prompt injection patterns detected",
                            {"patterns": ["ignore all previous instructions"]})
        if action == "401":
            return reply(401, error_body("Invalid API key", "invalid_request_error", "invalid_api_key"))
        if action == "400":
            return reply(400, error_body("This request was rejected (fake 400 for this input)",
                                         "invalid_request_error", "invalid_request"), rl)
        if action == "reset":
            fake.count_status("reset")
            _reset(writer)
            return False
        if action == "hang" or (action == "phang" and opts["hang_s"] < 0):
            fake.count_status("hang")
            st["hangs_now"] += 1
            # OR streaming: an abandoned non-streaming request is billed in full.
            bill(pt, max(1, min(max_tokens or 1000, approx_tokens(user) * 2)))
            try:
                # Hold the connection open until the client gives up.
                while await reader.read(65536):
                    pass
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                st["hangs_now"] -= 1
            return False
        if action == "phang":
            st["hangs_now"] += 1
            try:
                await asyncio.sleep(opts["hang_s"])
            finally:
                st["hangs_now"] -= 1
            action = "ok"

        if opts["hold"]:
            st["held_now"] += 1
            try:
                while fake.opts["hold"] and not writer.transport.is_closing():
                    if fake.passes > 0:
                        fake.passes -= 1
                        break
                    await asyncio.sleep(0.05)
            finally:
                st["held_now"] -= 1
        delay = fake.latency()
        if delay > 0:
            await asyncio.sleep(delay)
        if writer.transport.is_closing():
            fake.count_status("client_gone")
            return False

        if action == "500":
            return reply(500, error_body("The server had an error processing your request (fake)",
                                         "server_error", None), rl)
        if action == "503":
            return or_error(503, "No available model provider meets your routing requirements (fake)",
                            {"error_type": "provider_overloaded"}, [("Retry-After", str(ra_s))])
        if action in ("408", "502", "524", "529"):
            status = int(action)
            msgs = {408: "Your request timed out", 502: "Your chosen model is down or we received an invalid response from it",
                    524: "A timeout occurred", 529: "Provider returned error: overloaded"}
            return or_error(status, msgs[status], {"error_type": "timeout" if status in (408, 524) else
                                                   "provider_unavailable"})
        if action == "echo_key":
            return or_error(502, "Upstream rejected the request headers: {'Authorization': '%s', "
                                 "'Content-Type': 'application/json'}" % headers.get("authorization", ""))
        if action == "error200_502":
            return or_error(200, "Provider returned error", {"error_type": "provider_unavailable"}, code=502)
        if action == "error200_429":
            return or_error(200, "Rate limit exceeded", {"error_type": "rate_limit_exceeded"}, code=429)
        if action == "error200_402":
            return or_error(200, "This request would exceed your available credits given your current in-flight requests.",
                            {"reason": "in_flight_budget_exhausted", "limit_source": "openrouter_in_flight_budget"},
                            [("Retry-After", str(ra_s))], code=402)
        if action == "malformed":
            fake.count_status("malformed")
            return reply(200, '{"id": "chatcmpl-broken", "choices": [{"message": <html>upstream', rl)

        judge = "rubric" in system.lower()
        finish = "stop"
        message = {"role": "assistant"}
        if judge:
            st["judge_requests"] += 1
            content = judge_reply(model, user, fake.judge_style())
        elif action == "untranslated":
            content = user
        else:
            content = translate(user)
        ct = approx_tokens(content)
        think = self.reasoning_budget(model, req, max_tokens)
        choice = {"index": 0, "message": message, "finish_reason": finish}
        if think > 0:
            message["reasoning"] = "Let me work through this step by step. " * min(5, max(1, think // 100))
            if max_tokens and think + ct > max_tokens:
                # OR-RSN: thinking counts as output; nothing left for the answer.
                think = max_tokens
                content, ct = "", 0
                choice["finish_reason"] = "length"
        if action == "truncate":
            content = content[: len(content) // 2]
            choice["finish_reason"] = "length"
        elif action == "runaway":
            # A real LLM failure: the answer repeats itself until the
            # completion budget runs out (finish_reason "length").
            loop = " and the results show that the results show that"
            content += loop * max(1, (int(opts["runaway_bytes"]) - len(content)) // len(loop))
            choice["finish_reason"] = "length"
        elif action == "finish_error":
            content = content[: len(content) // 2]
            choice["finish_reason"] = "error"
            choice["error"] = {"code": 502, "message": "Provider disconnected mid-stream",
                               "metadata": {"error_type": "provider_unavailable"}}
        elif action == "content_filter":
            content = content[: len(content) // 3]
            choice["finish_reason"] = "content_filter"
        elif action == "refusal":
            content = None
            message["refusal"] = "I'm sorry, but I can't help with that request."
        message["content"] = content
        ct = approx_tokens(content or "") + think
        self.req_seq += 1
        usage = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                 "prompt_tokens_details": {"cached_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": think}}
        if opts["report_cost"]:
            usage["cost"] = round((pt * PRICE_IN + ct * PRICE_OUT) / 1e6, 10)
        bill(pt, ct)
        resp = {
            "id": "chatcmpl-fake-%d" % self.req_seq,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": usage,
        }
        if provider:
            resp["provider"] = provider
        payload = json.dumps(resp, ensure_ascii=False)
        if action == "leading_blank":
            payload = "\n\n\n" + payload  # DS: blank lines while the request waits
        return reply(200, payload, rl)

    def reasoning_budget(self, model, req, max_tokens):
        """Reasoning tokens a request spends (OR-RSN): models in
        --reasoning-models think by default; the request's reasoning object
        (effort as a share of max_tokens, max_tokens, enabled, "none") or
        OpenAI's reasoning_effort changes that."""
        if model not in self.fake.opts["reasoning_models"]:
            return 0
        default = int(self.fake.opts["reasoning_tokens"])
        r = req.get("reasoning")
        effort = req.get("reasoning_effort")
        if isinstance(r, dict):
            if r.get("enabled") is False:
                return 0
            if isinstance(r.get("max_tokens"), (int, float)):
                return int(r["max_tokens"])
            effort = r.get("effort", effort)
        if effort is None:
            return default
        share = {"none": 0, "minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8,
                 "xhigh": 0.95, "max": 0.95}.get(effort)
        if share is None:
            return default
        return int(share * (max_tokens or 4096))


def _content_text(c):
    if isinstance(c, str):
        return c
    if isinstance(c, list):  # [{"type":"text","text":...}]
        return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def _parse_head(head):
    try:
        text = head.decode("latin-1")
    except Exception:
        raise HttpError("bad header bytes")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpError("bad request line")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        k, sep, v = line.partition(":")
        if not sep:
            raise HttpError("bad header line")
        headers[k.strip().lower()] = v.strip()
    return parts[0], parts[1], parts[2], headers


async def _read_body(reader, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            total += n
            if total > MAX_BODY:
                raise HttpError("body too large")
            chunks.append(await reader.readexactly(n))
            await reader.readexactly(2)
    n = headers.get("content-length")
    if n is None:
        return b""
    try:
        n = int(n)
    except ValueError:
        raise HttpError("bad content-length")
    if n < 0 or n > MAX_BODY:
        raise HttpError("body too large")
    return await reader.readexactly(n) if n else b""


def _keep_alive(version, headers):
    conn = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        return conn == "keep-alive"
    return conn != "close"


def _reset(writer):
    """Close with a TCP RST: the client sees 'connection reset', no response."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--require-key", help="answer 401 unless 'Authorization: Bearer KEY'")
    ap.add_argument("--unknown-models", default="", help="comma-separated models answered 404 model_not_found")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--rpm", type=float, default=0.0, help="token bucket: RPM/60 per second")
    ap.add_argument("--burst", type=float, default=0.0, help="bucket size (default max(1, RPM/60))")
    ap.add_argument("--rate-headers", default="openai", choices=RATE_HEADER_STYLES,
                    help="how the limit is told: x-ratelimit-* on every reply (openai), X-RateLimit-* on "
                         "429s only (openrouter), or nothing (none)")
    ap.add_argument("--tpm", type=float, default=0.0,
                    help="tokens per minute: prompt + max_tokens reserved on admission, the unused part "
                         "given back with the answer (0 = no limit)")
    ap.add_argument("--tpm-burst", type=float, default=0.0, help="token bucket size (default max(1, TPM/60))")
    ap.add_argument("--tpm-default-max-tokens", type=float, default=4096.0,
                    help="what a request without max_tokens reserves for its answer")
    ap.add_argument("--or-limit", type=float, default=20.0,
                    help="X-RateLimit-Limit of an injected 429_or when --rpm is not set")
    ap.add_argument("--latency-sigma", type=float, default=0.0,
                    help="lognormal latency: --latency-ms x exp(N(0, SIGMA)) (0 = fixed)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--retry-after", type=float, default=1.0, help="Retry-After for injected 429s (s)")
    ap.add_argument("--hang-s", type=float, default=-1.0, help="phang sleeps this long (<0: never answer)")
    for f in FAULTS:
        ap.add_argument("--" + f.replace("_", "-"), type=float, default=0.0, help="probability 0..1")
    ap.add_argument("--rule", action="append", default=[], metavar="SUBSTRING=ACTION[:N]",
                    help="actions: " + ", ".join(ACTIONS))
    ap.add_argument("--report-cost", action="store_true", help="add usage.cost")
    ap.add_argument("--runaway-bytes", type=int, default=3000000,
                    help="length of a 'runaway' answer (repeats itself, finish_reason length)")
    ap.add_argument("--budget-max-tokens", type=float, default=0.0,
                    help="402 weight_exceeds_budget for requests whose max_tokens exceed this (0 = off)")
    ap.add_argument("--reasoning-models", default="", help="comma-separated models that think by default")
    ap.add_argument("--reasoning-tokens", type=float, default=600.0, help="default thinking per request")
    ap.add_argument("--providers", default="FakeInfra", help="comma-separated serving providers, in turn")
    ap.add_argument("--judge-styles", default="int", help="comma-separated: " + ", ".join(JUDGE_STYLES))
    ap.add_argument("--filter-models", default="",
                    help="random content_filter/refusal only for these models (\"\" = all)")
    ap.add_argument("--hold", action="store_true",
                    help="start holding every request until POST /_control {\"hold\": false}")
    ap.add_argument("--verbose", action="store_true")
    return ap.parse_args(argv)


async def amain(args):
    opts = {k: v for k, v in vars(args).items()
            if k not in ("host", "port", "port_file", "rule")}
    opts["rules"] = args.rule
    fake = Fake(opts)
    srv = Server(fake)
    server = await asyncio.start_server(srv.handle_conn, args.host, args.port,
                                        backlog=4096, limit=MAX_HEADER, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("listening on %d" % port, flush=True)
    async with server:
        await server.serve_forever()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 8192:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    except (ValueError, OSError):
        pass
    try:
        Fake({"rules": args.rule})  # validate rules before listening
    except ValueError as e:
        print("fake_llm: %s" % e, file=sys.stderr)
        return 2
    try:
        asyncio.run(amain(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
