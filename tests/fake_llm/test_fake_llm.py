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

    def chat(self, content, model="m", system="Translate into English.", key=None, conn=None, timeout=10):
        c = conn or self.conn(timeout)
        body = json.dumps({"model": model, "messages": [{"role": "system", "content": system},
                                                        {"role": "user", "content": content}]})
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
        self.srv.control({"rules": [], "require_key": None, "rpm": 0, "p500": 0})

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
