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
  5. random faults   one seeded draw per request against the cumulative
                     probabilities p429, p500, p503, p400, phang, preset,
                     pmalformed, ptruncate, puntranslated (so they are
                     mutually exclusive; keep their sum <= 1)
  6. a normal answer after --latency-ms (+ uniform 0..--jitter-ms)

Control endpoints: POST /_control {json options} changes options live (same
names as the flags with underscores; "rules" replaces the rule list, "add_rules"
appends), GET /_config shows them, GET /_stats, POST /_reset_stats.
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


def judge_reply(model, user):
    h = hashlib.sha256((model + "\x00" + user).encode("utf-8", "surrogatepass")).digest()
    keys = ("accuracy", "fluency", "terminology", "completeness")
    scores = {k: 7 + h[i] % 4 for i, k in enumerate(keys)}
    scores["overall"] = 7 + h[4] % 4
    scores["comments"] = "fake judge %s: deterministic scores" % model
    return json.dumps(scores)


def approx_tokens(s):
    return max(1, len(s.encode("utf-8", "surrogatepass")) // 3)


ACTIONS = ("500", "400", "401", "429", "hang", "reset", "malformed", "truncate",
           "untranslated", "ok", "503", "runaway")


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


FAULTS = ("p429", "p500", "p503", "p400", "phang", "preset", "pmalformed",
          "ptruncate", "puntranslated")

OPTION_DEFAULTS = {
    "require_key": None, "unknown_models": [], "latency_ms": 0.0, "jitter_ms": 0.0,
    "rpm": 0.0, "burst": 0.0, "seed": 1, "retry_after": 1.0, "hang_s": -1.0,
    "report_cost": False, "verbose": False, "runaway_bytes": 3000000,
    **{f: 0.0 for f in FAULTS},
}


class Fake:
    def __init__(self, opts):
        self.opts = dict(OPTION_DEFAULTS)
        self.rules = []
        self.rng = random.Random(1)
        self.bucket_tokens = 0.0
        self.bucket_time = time.monotonic()
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
            elif key == "unknown_models":
                if isinstance(value, str):
                    value = [m for m in value.split(",") if m]
                self.opts[key] = list(value or [])
            elif key == "require_key":
                self.opts[key] = value or None
            elif key == "seed":
                self.opts[key] = int(value)
                self.rng = random.Random(int(value))
            elif key in ("report_cost", "verbose"):
                self.opts[key] = bool(value)
            elif key in OPTION_DEFAULTS:
                self.opts[key] = float(value)
                if key in ("rpm", "burst"):
                    self.bucket_tokens = self._burst()
                    self.bucket_time = time.monotonic()
            else:
                raise ValueError("unknown option %r" % key)

    def config_json(self):
        d = dict(self.opts)
        d["rules"] = [r.to_json() for r in self.rules]
        return d

    def reset_stats(self):
        self.stats = {
            "requests": 0, "by_status": {}, "by_model": {}, "in_flight": 0,
            "max_in_flight": 0, "hangs_now": 0, "rule_hits": {},
            "judge_requests": 0, "connections": 0, "max_connections": 0,
            "started": time.time(),
        }

    def count_status(self, status):
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
        """x-ratelimit-* headers; empty when no --rpm is set."""
        rpm = self.opts["rpm"]
        if rpm <= 0:
            return []
        self._refill()
        rate = rpm / 60.0
        reset = max(0.0, (self._burst() - self.bucket_tokens) / rate)
        return [("x-ratelimit-limit-requests", "%d" % rpm),
                ("x-ratelimit-remaining-requests", "%d" % max(0, math.floor(self.bucket_tokens))),
                ("x-ratelimit-reset-requests", _duration(reset))]

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
    def decide(self, model, all_text):
        """Returns (action, extra) for a request that passed auth/model checks."""
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
            return "429", wait
        u = self.rng.random()
        acc = 0.0
        for f in FAULTS:
            acc += self.opts[f]
            if u < acc:
                return {"p429": "429", "p500": "500", "p503": "503", "p400": "400",
                        "phang": "phang", "preset": "reset", "pmalformed": "malformed",
                        "ptruncate": "truncate", "puntranslated": "untranslated"}[f], "random"
        return "ok", None

    def latency(self):
        ms = self.opts["latency_ms"]
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
           404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
           429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


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
        st["in_flight"] += 1
        st["max_in_flight"] = max(st["max_in_flight"], st["in_flight"])
        try:
            return await self._chat(headers, body, writer, reader, keep)
        finally:
            st["in_flight"] -= 1

    async def _chat(self, headers, body, writer, reader, keep):
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

        action, why = fake.decide(model, all_text)
        rl = fake.ratelimit_headers()

        if action == "429":
            if why == "rule" or why == "random":
                ra = opts["retry_after"]
            else:
                ra = why
            ra_s = max(1, math.ceil(ra))
            return reply(429, error_body("Rate limit reached for requests (fake)", "requests", "rate_limit_exceeded"),
                         [("Retry-After", str(ra_s)), ("retry-after-ms", "%d" % (ra * 1000))] + rl)
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
            return reply(503, error_body("The engine is currently overloaded (fake)",
                                         "server_error", None), rl)
        if action == "malformed":
            fake.count_status("malformed")
            return reply(200, '{"id": "chatcmpl-broken", "choices": [{"message": <html>upstream', rl)

        judge = "rubric" in system.lower()
        finish = "stop"
        if judge:
            st["judge_requests"] += 1
            content = judge_reply(model, user)
        elif action == "untranslated":
            content = user
        else:
            content = translate(user)
        if action == "truncate":
            content = content[: len(content) // 2]
            finish = "length"
        if action == "runaway":
            # A real LLM failure: the answer repeats itself until the
            # completion budget runs out (finish_reason "length").
            loop = " and the results show that the results show that"
            content += loop * max(1, (int(opts["runaway_bytes"]) - len(content)) // len(loop))
            finish = "length"
        pt = approx_tokens(all_text)
        ct = approx_tokens(content)
        self.req_seq += 1
        usage = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
        if opts["report_cost"]:
            usage["cost"] = round((pt * 0.27 + ct * 0.40) / 1e6, 10)
        resp = {
            "id": "chatcmpl-fake-%d" % self.req_seq,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish}],
            "usage": usage,
        }
        return reply(200, json.dumps(resp, ensure_ascii=False), rl)


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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--retry-after", type=float, default=1.0, help="Retry-After for injected 429s (s)")
    ap.add_argument("--hang-s", type=float, default=-1.0, help="phang sleeps this long (<0: never answer)")
    for f in FAULTS:
        ap.add_argument("--" + f, type=float, default=0.0, help="probability 0..1")
    ap.add_argument("--rule", action="append", default=[], metavar="SUBSTRING=ACTION[:N]",
                    help="actions: " + ", ".join(ACTIONS))
    ap.add_argument("--report-cost", action="store_true", help="add usage.cost")
    ap.add_argument("--runaway-bytes", type=int, default=3000000,
                    help="length of a 'runaway' answer (repeats itself, finish_reason length)")
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
