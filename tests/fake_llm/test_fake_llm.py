#!/usr/bin/env python3
"""Tests of the fake chat-completions server itself: if these fail, the
integration tests' verdicts about paperq mean nothing."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_llm.py")
CJK = re.compile("[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff5e]")


class FakeServer:
    def __init__(self, *args):
        self.tmp = tempfile.mkdtemp(prefix="fake-llm-test-")
        port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--port-file", port_file] + list(args),
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake_llm did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def chat(self, content, model="m", system="Translate into English.", key=None, conn=None, timeout=10,
             **extra):
        c = conn or self.conn(timeout)
        req = {"model": model, "messages": [{"role": "system", "content": system},
                                            {"role": "user", "content": content}]}
        req.update(extra)
        body = json.dumps(req)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = "Bearer " + key
        c.request("POST", "/v1/chat/completions", body, headers)
        try:
            r = c.getresponse()
            data = r.read()
        finally:
            if conn is None:
                c.close()
        return r, data

    def get(self, path):
        c = self.conn()
        try:
            c.request("GET", path)
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def control(self, d):
        c = self.conn()
        c.request("POST", "/_control", json.dumps(d))
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200, r.status


class TestFake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = FakeServer("--report-cost")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def setUp(self):
        self.srv.control({"rules": [], "require_key": None, "rpm": 0, "tpm": 0, "tpm_burst": 0, "p500": 0,
                          "hold": False,
                          "rate_headers": "openai", "latency_sigma": 0,
                          "budget_max_tokens": 0, "reasoning_models": [], "judge_styles": ["int"]})

    def test_translation_keeps_math_and_placeholders(self):
        src = ("在温度为 $x^2$ 时，使用GPU计算[[M1]]（见表1）。\n<<<PQ 2>>>\n"
               "“结果”、《书》！ＡＢＣ１２３\u3000αβ ℃ Ⅱ ± $$\\int_0^1 f$$ \\cite{a}")
        r, data = self.srv.chat(src, model="trans-model")
        self.assertEqual(r.status, 200)
        resp = json.loads(data)
        self.assertEqual(resp["object"], "chat.completion")
        self.assertEqual(resp["model"], "trans-model")
        ch = resp["choices"][0]
        self.assertEqual(ch["finish_reason"], "stop")
        self.assertEqual(ch["message"]["role"], "assistant")
        out = ch["message"]["content"]
        for keep in ("$x^2$", "[[M1]]", "GPU", "\n<<<PQ 2>>>\n", "αβ ℃ Ⅱ ±",
                     "$$\\int_0^1 f$$ \\cite{a}", "ABC123", '"', "(", ")"):
            self.assertIn(keep, out)
        self.assertIsNone(CJK.search(out), out)
        # deterministic
        self.assertEqual(json.loads(self.srv.chat(src)[1])["choices"][0]["message"]["content"], out)
        u = resp["usage"]
        self.assertGreaterEqual(u["prompt_tokens"], 1)
        self.assertGreaterEqual(u["completion_tokens"], 1)
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertIn("cost", u)

    def test_judge(self):
        scores = []
        for model in ("judge-a", "judge-b"):
            r, data = self.srv.chat("原文与译文", model=model, system="Score it using this RUBRIC, JSON only.")
            self.assertEqual(r.status, 200)
            s = json.loads(json.loads(data)["choices"][0]["message"]["content"])
            for k in ("accuracy", "fluency", "terminology", "completeness", "overall"):
                self.assertTrue(7 <= s[k] <= 10, s)
            self.assertIsInstance(s["comments"], str)
            scores.append(s)
        self.assertGreaterEqual(self.srv.get("/_stats")["judge_requests"], 2)

    def test_401(self):
        self.srv.control({"require_key": "right"})
        r, data = self.srv.chat("你好", key="wrong")
        self.assertEqual(r.status, 401)
        self.assertEqual(json.loads(data)["error"]["code"], "invalid_api_key")
        r, _ = self.srv.chat("你好", key="right")
        self.assertEqual(r.status, 200)

    def test_unknown_model(self):
        self.srv.control({"unknown_models": "gone-model"})
        r, data = self.srv.chat("你好", model="gone-model")
        self.assertEqual(r.status, 404)
        self.assertEqual(json.loads(data)["error"]["code"], "model_not_found")
        self.srv.control({"unknown_models": []})

    def test_rate_limit(self):
        self.srv.control({"rpm": 60})  # 1/s, burst 1
        c = self.srv.conn()
        statuses = []
        for _ in range(3):
            r, _ = self.srv.chat("你好", conn=c)
            statuses.append(r.status)
            self.assertIsNotNone(r.getheader("x-ratelimit-limit-requests"))
            self.assertIsNotNone(r.getheader("x-ratelimit-remaining-requests"))
            self.assertIsNotNone(r.getheader("x-ratelimit-reset-requests"))
            if r.status == 429:
                self.assertGreaterEqual(int(r.getheader("Retry-After")), 1)
        c.close()
        self.assertEqual(statuses[0], 200)
        self.assertIn(429, statuses)

    def test_rate_header_styles(self):
        # OR-LIM: OpenRouter states its limit only on 429s, reset in epoch ms;
        # a provider without headers sends a bare 429. Injected 429s are
        # counted apart from the bucket's.
        for style in ("openrouter", "none"):
            self.srv.control({"rpm": 60, "rate_headers": style})
            before = self.srv.get("/_stats")["limit_429"]
            c = self.srv.conn()
            answers = [self.srv.chat("你好", conn=c)[0] for _ in range(3)]
            c.close()
            self.assertEqual([r.status for r in answers][0], 200)
            refused = [r for r in answers if r.status == 429]
            self.assertTrue(refused)
            self.assertEqual(self.srv.get("/_stats")["limit_429"] - before, len(refused))
            for r in answers:
                self.assertIsNone(r.getheader("x-ratelimit-limit-requests"))
            for r in refused:
                self.assertIsNone(r.getheader("Retry-After"))
                if style == "openrouter":
                    self.assertEqual(r.getheader("X-RateLimit-Limit"), "60")
                    self.assertGreater(int(r.getheader("X-RateLimit-Reset")), time.time() * 1000)
                else:
                    self.assertIsNone(r.getheader("X-RateLimit-Reset"))

    def test_tokens_per_minute(self):
        # Cerebras/Databricks: a request is admitted when the bucket holds its
        # prompt plus max_tokens; the answer gives back what it did not use.
        # 600 TPM = 10 tokens/s (so refill is negligible here), bucket 1000.
        self.srv.control({"tpm": 600, "tpm_burst": 1000})
        before = self.srv.get("/_stats")
        c = self.srv.conn()
        a, data = self.srv.chat("你好", conn=c, max_tokens=500)  # reserves ~510
        self.assertEqual(a.status, 200)
        used = json.loads(data)["usage"]["total_tokens"]
        self.assertLess(used, 30)
        self.assertEqual(a.getheader("x-ratelimit-limit-tokens"), "600")
        # Only because A gave back ~490 unused tokens does B (~910) fit.
        b, _ = self.srv.chat("你好", conn=c, max_tokens=900)
        self.assertEqual(b.status, 200)
        # its own reservation is held while it is answered
        self.assertLess(int(b.getheader("x-ratelimit-remaining-tokens")), 100)
        # C reserves ~1000, more than is left: refused, told when it fits.
        r, data = self.srv.chat("你好", conn=c, max_tokens=990)
        c.close()
        self.assertEqual(r.status, 429)
        err = json.loads(data)["error"]
        self.assertEqual(err["type"], "tokens")
        self.assertIn("tokens per min (TPM)", err["message"])
        self.assertGreaterEqual(int(r.getheader("Retry-After")), 1)
        self.assertIsNotNone(r.getheader("x-ratelimit-reset-tokens"))
        after = self.srv.get("/_stats")
        self.assertEqual(after["limit_429_tokens"] - before["limit_429_tokens"], 1)
        self.assertEqual(after["limit_429"] - before["limit_429"], 1)
        self.assertGreaterEqual(after["usage_tokens"] - before["usage_tokens"], 2 * used - 2)
        # OpenRouter style: a token refusal is an upstream provider's hint,
        # Retry-After only; X-RateLimit-* are OpenRouter's request limits.
        self.srv.control({"tpm": 600, "tpm_burst": 1000, "rate_headers": "openrouter"})
        r, _ = self.srv.chat("你好", max_tokens=2000)
        self.assertEqual(r.status, 429)
        self.assertIsNotNone(r.getheader("Retry-After"))
        self.assertIsNone(r.getheader("X-RateLimit-Limit"))
        self.assertIsNone(r.getheader("x-ratelimit-limit-tokens"))

    def test_openrouter_limit_hit(self):
        # OR-LIM: an injected 429_or names the limit that was hit: the
        # fake's --rpm when it has one, else --or-limit (20, free models).
        self.srv.control({"rules": ["OR-HIT=429_or"]})
        r, _ = self.srv.chat("OR-HIT")
        self.assertEqual(r.status, 429)
        self.assertEqual(r.getheader("X-RateLimit-Limit"), "20")
        self.assertEqual(r.getheader("X-RateLimit-Remaining"), "0")
        self.assertIsNone(r.getheader("Retry-After"))
        self.srv.control({"rpm": 600})
        r, _ = self.srv.chat("OR-HIT")
        self.assertEqual(r.getheader("X-RateLimit-Limit"), "600")

    def test_rule_counts_and_ok(self):
        self.srv.control({"rules": ["PAPER-X=500:2", "PAPER-Y=400"]})
        got = [self.srv.chat("论文 PAPER-X")[0].status for _ in range(3)]
        self.assertEqual(got, [500, 500, 200])
        self.assertEqual(self.srv.chat("PAPER-Y 标题")[0].status, 400)
        self.assertEqual(self.srv.chat("其他论文")[0].status, 200)
        hits = self.srv.get("/_stats")["rule_hits"]
        self.assertEqual(hits["PAPER-X"], 2)

    def test_rule_truncate_untranslated_malformed(self):
        self.srv.control({"rules": ["T1=truncate", "U1=untranslated", "M1=malformed"]})
        resp = json.loads(self.srv.chat("T1 中文中文中文中文")[1])
        self.assertEqual(resp["choices"][0]["finish_reason"], "length")
        resp = json.loads(self.srv.chat("U1 中文")[1])
        self.assertEqual(resp["choices"][0]["message"]["content"], "U1 中文")
        r, data = self.srv.chat("M1 中文")
        self.assertEqual(r.status, 200)
        with self.assertRaises(ValueError):
            json.loads(data)

    def test_rule_reset(self):
        self.srv.control({"rules": ["RESET-ME=reset:1"]})
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            self.srv.chat("RESET-ME")
        self.assertEqual(self.srv.chat("RESET-ME")[0].status, 200)

    def test_rule_hang(self):
        self.srv.control({"rules": ["HANG-ME=hang"]})
        t0 = time.monotonic()
        with self.assertRaises(socket.timeout):
            self.srv.chat("HANG-ME", timeout=1.0)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        # other requests are not blocked while one hangs
        c = self.srv.conn()
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "HANG-ME"}]})
        c.request("POST", "/v1/chat/completions", body)
        deadline = time.monotonic() + 5
        while self.srv.get("/_stats")["hangs_now"] < 1:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(self.srv.chat("不挂")[0].status, 200)
        c.close()

    def test_hold(self):
        """Held requests wait, unanswered, until the hold is lifted; then each
        one is answered normally."""
        self.srv.control({"hold": True})
        try:
            c = self.srv.conn(timeout=10)
            c.request("POST", "/v1/chat/completions",
                      json.dumps({"model": "m", "messages": [{"role": "user", "content": "等一下"}]}))
            deadline = time.monotonic() + 5
            while self.srv.get("/_stats")["held_now"] < 1:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            with self.assertRaises(socket.timeout):
                self.srv.chat("也等一下", timeout=0.5)
        finally:
            self.srv.control({"hold": False})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertNotRegex(json.loads(r.read())["choices"][0]["message"]["content"], CJK)
        c.close()
        # The request that timed out above leaves the hold within a poll
        # (50 ms) of its lifting: nothing stays held.
        deadline = time.monotonic() + 5
        while self.srv.get("/_stats")["held_now"] != 0:
            self.assertLess(time.monotonic(), deadline, "a request stayed held after the hold was lifted")
            time.sleep(0.02)

    def test_hold_lets_pass_exactly_n(self):
        """{"pass": 2} under a hold answers two requests and holds the third."""
        self.srv.control({"hold": True, "pass": 2})
        try:
            self.assertEqual(self.srv.chat("第一")[0].status, 200)
            self.assertEqual(self.srv.chat("第二")[0].status, 200)
            with self.assertRaises(socket.timeout):
                self.srv.chat("第三", timeout=0.5)
            self.assertEqual(self.srv.get("/_config")["pass"], 0)
        finally:
            self.srv.control({"hold": False, "pass": 0})

    def test_random_faults_seeded(self):
        a = FakeServer("--p500", "0.5", "--seed", "7")
        b = FakeServer("--p500", "0.5", "--seed", "7")
        try:
            sa = [a.chat("你好")[0].status for _ in range(20)]
            sb = [b.chat("你好")[0].status for _ in range(20)]
        finally:
            a.close()
            b.close()
        self.assertEqual(sa, sb)
        self.assertIn(500, sa)
        self.assertIn(200, sa)

    def test_stats(self):
        c = self.srv.conn()
        c.request("POST", "/_reset_stats", "")
        c.getresponse().read()
        c.close()
        self.srv.chat("你好", model="stat-model")
        s = self.srv.get("/_stats")
        self.assertEqual(s["requests"], 1)
        self.assertEqual(s["by_model"], {"stat-model": 1})
        self.assertEqual(s["by_status"], {"200": 1})
        for k in ("in_flight", "max_in_flight", "hangs_now", "rule_hits", "judge_requests", "started"):
            self.assertIn(k, s)

    # ---- issue 11: provider behaviours, shaped as the providers document them

    def _rule(self, action):
        self.srv.control({"rules": ["TRIGGER=%s" % action]})
        r, data = self.srv.chat("TRIGGER 你好世界", key="sk-or-v1-0123456789abcdef")
        return r, (json.loads(data) if data.strip() else None)

    def test_openrouter_error_shapes(self):
        # OR-ERR: {"error": {"code": <number>, "message", "metadata"?}}, status = code
        for action, status in (("408", 408), ("502", 502), ("524", 524), ("529", 529),
                               ("503", 503), ("402_credits", 402), ("403_key_limit", 403)):
            r, body = self._rule(action)
            self.assertEqual(r.status, status, action)
            self.assertEqual(body["error"]["code"], status, action)
            self.assertIsInstance(body["error"]["message"], str)
        # OR-ERR: Retry-After on 503
        r, _ = self._rule("503")
        self.assertEqual(r.getheader("Retry-After"), "1")

    def test_in_flight_budget_and_weight_402(self):
        r, body = self._rule("402_inflight")  # OR-LIM: transient, with Retry-After
        self.assertEqual(r.status, 402)
        md = body["error"]["metadata"]
        self.assertEqual(md["reason"], "in_flight_budget_exhausted")
        self.assertEqual(md["limit_source"], "openrouter_in_flight_budget")
        self.assertIn("remedy_hint", md)
        self.assertIsNotNone(r.getheader("Retry-After"))
        # weight_exceeds_budget: by max_tokens, so a smaller max_tokens passes
        self.srv.control({"rules": [], "budget_max_tokens": 4000})
        r, data = self.srv.chat("你好", max_tokens=8192)
        self.assertEqual(r.status, 402)
        md = json.loads(data)["error"]["metadata"]
        self.assertEqual((md["reason"], md["limit_source"]), ("weight_exceeds_budget", "openrouter_credits"))
        r, _ = self.srv.chat("你好", max_tokens=4000)
        self.assertEqual(r.status, 200)

    def test_moderation_and_guardrail_403(self):
        r, body = self._rule("403_moderation")
        self.assertEqual(r.status, 403)
        md = body["error"]["metadata"]
        self.assertEqual(md["reasons"], ["violence"])
        self.assertIn("TRIGGER", md["flagged_input"])
        self.assertLessEqual(len(md["flagged_input"]), 100)
        self.assertEqual(set(md), {"reasons", "flagged_input", "provider_name", "model_slug"})
        r, body = self._rule("403_guardrail")
        self.assertEqual(r.status, 403)
        self.assertTrue(body["error"]["message"].startswith("Request blocked"))
        self.assertIn("patterns", body["error"]["metadata"])

    def test_rate_limit_hints(self):
        r, body = self._rule("429_or")  # OR-LIM: X-RateLimit-* on 429s, reset in epoch ms
        self.assertEqual(r.status, 429)
        self.assertIsNone(r.getheader("Retry-After"))
        self.assertEqual(r.getheader("X-RateLimit-Remaining"), "0")
        self.assertGreater(int(r.getheader("X-RateLimit-Reset")), time.time() * 1000)
        r, _ = self._rule("429_date")
        self.assertTrue(r.getheader("Retry-After").endswith(" GMT"))
        r, _ = self._rule("429_ms")
        self.assertEqual(r.getheader("retry-after-ms"), "1000")
        self.assertIsNone(r.getheader("Retry-After"))
        r, body = self._rule("429_quota")  # OpenAI: no money, not a rate limit
        self.assertEqual((r.status, body["error"]["code"]), (429, "insufficient_quota"))

    def test_errors_inside_200(self):
        for action, code in (("error200_502", 502), ("error200_429", 429), ("error200_402", 402)):
            r, body = self._rule(action)
            self.assertEqual(r.status, 200, action)
            self.assertEqual(body["error"]["code"], code, action)
            self.assertNotIn("choices", body)
        r, body = self._rule("finish_error")
        self.assertEqual(r.status, 200)
        ch = body["choices"][0]
        self.assertEqual(ch["finish_reason"], "error")
        self.assertEqual(ch["error"]["metadata"]["error_type"], "provider_unavailable")
        self.assertTrue(ch["message"]["content"])  # partial content
        self.assertGreater(body["usage"]["completion_tokens"], 0)  # and billed

    def test_filter_refusal_echo_blank(self):
        r, body = self._rule("content_filter")
        self.assertEqual(body["choices"][0]["finish_reason"], "content_filter")
        r, body = self._rule("refusal")
        msg = body["choices"][0]["message"]
        self.assertIsNone(msg["content"])
        self.assertTrue(msg["refusal"])
        r, body = self._rule("echo_key")
        self.assertEqual(r.status, 502)
        self.assertIn("Bearer sk-or-v1-0123456789abcdef", body["error"]["message"])
        self.srv.control({"rules": ["TRIGGER=leading_blank"]})
        r, data = self.srv.chat("TRIGGER 你好")
        self.assertTrue(data.startswith(b"\n\n"))
        self.assertEqual(json.loads(data)["choices"][0]["finish_reason"], "stop")
        for action, status, code in (("zai_1113", 429, "1113"), ("zai_1301", 400, "1301")):
            r, body = self._rule(action)
            self.assertEqual((r.status, body["error"]["code"]), (status, code))
        r, body = self._rule("dsc_arrearage")
        self.assertEqual((r.status, body["code"]), (400, "Arrearage"))

    def test_reasoning_model_spends_the_budget(self):
        self.srv.control({"reasoning_models": ["glm"], "reasoning_tokens": 600})
        rubric = "Score it using this RUBRIC, JSON only."
        r, data = self.srv.chat("原文", model="glm", system=rubric, max_tokens=512)
        resp = json.loads(data)
        ch = resp["choices"][0]
        self.assertEqual((ch["finish_reason"], ch["message"]["content"]), ("length", ""))
        self.assertEqual(resp["usage"]["completion_tokens_details"]["reasoning_tokens"], 512)
        self.assertTrue(resp["provider"])
        # OR-RSN: effort "none" turns thinking off; a budget leaves room
        for reasoning in ({"effort": "none"}, {"enabled": False}, {"max_tokens": 100}):
            r, data = self.srv.chat("原文", model="glm", system=rubric, max_tokens=512, reasoning=reasoning)
            ch = json.loads(data)["choices"][0]
            self.assertEqual(ch["finish_reason"], "stop", reasoning)
            self.assertIn("accuracy", ch["message"]["content"])

    def test_judge_styles(self):
        styles = ("decimal", "string", "fence", "prose", "think", "trailing_comma", "no_comments")
        self.srv.control({"judge_styles": list(styles)})
        seen = {}
        for i in range(60):
            r, data = self.srv.chat("原文 %d" % i, model="j", system="RUBRIC")
            seen[json.loads(data)["choices"][0]["message"]["content"][:1]] = True
        self.assertGreaterEqual(set(self.srv.get("/_stats")["judge_styles"]), set(styles))

    def test_billing(self):
        c = self.srv.conn()
        c.request("POST", "/_reset_stats", "")
        c.getresponse().read()
        c.close()
        self.srv.chat("你好")
        self._rule("content_filter")
        self._rule("502")
        s = self.srv.get("/_stats")
        self.assertEqual(s["billed_requests"], 2)  # the 502 never reached a model
        self.assertGreater(s["billed_usd"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
