#!/usr/bin/env python3
"""The programs' command line: help and version, config errors that name the
file, line and key before anything connects, env overrides checked, an
unreachable broker reported quickly, bad input records reported one by one."""
import os
import re
import time
import unittest

import pq

PROGRAMS = ("producer", "worker", "ledger")
BAD = pq.fixture("bad_records.jsonl")


def closed_port_url():
    return "amqp://guest:guest@127.0.0.1:%d/" % pq.free_port()


def args_for(prog):
    """Arguments that would make prog start real work."""
    return {"producer": ["--input", pq.fixture("records50.jsonl")],
            "worker": [],
            "ledger": ["serve"]}[prog]


class TestCli(unittest.TestCase):
    def test_help_and_version(self):
        with pq.Pipeline("cli-help") as p:
            for prog in PROGRAMS:
                r = p.run(prog, ["--help"], timeout=15)
                self.assertEqual(r.returncode, 0, "%s --help: %s" % (prog, r.stderr))
                self.assertRegex(r.stdout, r"(?i)usage", "%s --help prints no usage" % prog)
                self.assertIn("--config", r.stdout, "%s --help does not mention --config" % prog)
                r = p.run(prog, ["--version"], timeout=15)
                self.assertEqual(r.returncode, 0, "%s --version: %s" % (prog, r.stderr))
                self.assertRegex(r.stdout, r"\d+\.\d+", "%s --version prints no version" % prog)

    def test_bad_config_value_names_file_line_key(self):
        with pq.Pipeline("cli-conf") as p:
            with open(os.path.join(pq.SOURCE_DIR, "config", "paperq.conf"), encoding="utf-8") as f:
                lines = f.read().split("\n")
            idx = next(i for i, l in enumerate(lines) if re.match(r"\s*concurrency\s*=", l))
            lines[idx] = "  concurrency = -3;"
            bad = p.path("bad.conf")
            with open(bad, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
            lineno = idx + 1
            for prog in PROGRAMS:
                t0 = time.monotonic()
                # A closed broker port: the config error must come first.
                r = p.run(prog, ["--config", bad] + args_for(prog), timeout=15,
                          PAPERQ_BROKER_URL=closed_port_url())
                msg = r.stderr
                self.assertNotEqual(r.returncode, 0, "%s accepted concurrency = -3" % prog)
                if prog == "producer":
                    self.assertEqual(r.returncode, 2, "producer: config errors exit 2\n" + msg)
                self.assertIn("bad.conf", msg, "%s: message does not name the file:\n%s" % (prog, msg))
                self.assertRegex(msg, r"\b%d\b" % lineno, "%s: message does not name line %d:\n%s" % (prog, lineno, msg))
                self.assertIn("concurrency", msg, "%s: message does not name the key:\n%s" % (prog, msg))
                self.assertLess(time.monotonic() - t0, 10, "%s took too long to reject its config" % prog)

    def test_config_syntax_error_names_file_and_line(self):
        with pq.Pipeline("cli-syntax") as p:
            bad = p.path("syntax.conf")
            with open(bad, "w", encoding="utf-8") as f:
                f.write("# broken on purpose\nworker: {\n  concurrency = ;\n};\n")
            for prog in PROGRAMS:
                r = p.run(prog, ["--config", bad] + args_for(prog), timeout=15,
                          PAPERQ_BROKER_URL=closed_port_url())
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("syntax.conf", r.stderr, "%s:\n%s" % (prog, r.stderr))
                self.assertRegex(r.stderr, r"\b3\b", "%s: line 3 not named:\n%s" % (prog, r.stderr))

    def test_bad_env_override_names_variable(self):
        with pq.Pipeline("cli-env") as p:
            for prog in PROGRAMS:
                r = p.run(prog, args_for(prog), timeout=15, PAPERQ_WORKER_CONCURRENCY="abc",
                          PAPERQ_BROKER_URL=closed_port_url())
                self.assertNotEqual(r.returncode, 0, "%s accepted PAPERQ_WORKER_CONCURRENCY=abc" % prog)
                self.assertIn("PAPERQ_WORKER_CONCURRENCY", r.stderr, "%s:\n%s" % (prog, r.stderr))

    def test_print_config_masks_secrets(self):
        with pq.Pipeline("cli-print") as p:
            for prog in PROGRAMS:
                r = p.run(prog, ["--print-config"], timeout=15, PAPERQ_WORKER_CONCURRENCY=7,
                          PAPERQ_BROKER_URL="amqp://guest:sekrit-pw-123@127.0.0.1:1/",
                          PAPERQ_BROKER_PASSWORD="sekrit-pw-456")
                self.assertEqual(r.returncode, 0, "%s --print-config: %s" % (prog, r.stderr))
                self.assertRegex(r.stdout, r"concurrency\s*[=:]\s*7", "%s: env override not shown" % prog)
                for secret in ("sekrit-pw-123", "sekrit-pw-456"):
                    self.assertNotIn(secret, r.stdout + r.stderr, "%s printed a secret" % prog)

    def test_producer_unreachable_broker(self):
        with pq.Pipeline("cli-nobroker") as p:
            t0 = time.monotonic()
            r = p.run_producer("--input", pq.fixture("records50.jsonl"), timeout=30,
                               PAPERQ_BROKER_URL=closed_port_url())
            took = time.monotonic() - t0
            self.assertNotEqual(r.returncode, 0, "producer succeeded without a broker")
            self.assertEqual(r.returncode, 1, "broker errors exit 1:\n" + r.stderr)
            self.assertRegex(r.stderr, r"(?i)broker", r.stderr)
            self.assertLess(took, 15, "producer took %.1f s to give up" % took)

    def test_producer_bad_records(self):
        with pq.Pipeline("cli-bad") as p:
            p.start_ledger()
            r = p.run_producer("--input", BAD)
            self.assertEqual(r.returncode, 0, "rejects alone must not fail the run:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"queued 3\b", r.stdout)
            self.assertRegex(r.stdout, r"rejected 7\b", r.stdout)
            err = r.stderr.splitlines()
            bad_lines = {2: None, 3: None, 4: "bad-no-text-1", 6: "bad-too-long-1", 7: None,
                         8: "bad/slash-1", 9: "bad space 1"}
            for n, pid in bad_lines.items():
                hits = [l for l in err if "bad_records.jsonl:%d:" % n in l]
                self.assertTrue(hits, "line %d not reported as FILE:LINE:\n%s" % (n, r.stderr))
                if pid:
                    self.assertIn(pid, hits[0], "line %d: paper id not named" % n)
            for n in (1, 5, 10, 11):
                self.assertFalse([l for l in err if "bad_records.jsonl:%d:" % n in l],
                                 "line %d is good or empty but was reported:\n%s" % (n, r.stderr))
            self.assertNotIn("x" * 200, r.stderr, "the over-long abstract was echoed")

            def queued():
                rep = p.report()
                return rep if rep["papers"]["total"] == 3 and rep["papers"]["queued"] == 3 else None
            p.wait_for(queued, 60, "the 3 good records recorded as queued")
            for pid in ("chinaxiv-201601.00051", "good-title-only-1", "chinaxiv-201601.00052"):
                r = p.ledger("show", pid)
                self.assertEqual(r.returncode, 0, "show %s: %s" % (pid, r.stderr))


if __name__ == "__main__":
    pq.main()
