#!/usr/bin/env python3
"""`paperq-ledger watch` during a real run: in a pseudo-terminal it redraws one
screen in place (cursor home, no scrolling) and shows the progress moving to
"20 of 20"; in a pipe it prints one plain line per interval, with no escape
sequences, whose counts rise to the end. Both exit 0 on Ctrl-C / SIGTERM.
A title carrying a terminal escape reaches the screen defused."""
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import unittest

import pq

N = 20
HOSTILE = "\x1b]0;owned\x07\x1b[2J"  # set the window title, then clear the screen


def records(path):
    rows = pq.read_jsonl(pq.fixture("records50.jsonl"))[:N]
    rows[-1]["title"] = HOSTILE + rows[-1]["title"]
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return [r["id"] for r in rows]


class Reader(threading.Thread):
    """Collects everything a file descriptor yields until EOF (or EIO, which
    is how a pty's master reports that the child closed its end)."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = b""
        self.lock = threading.Lock()

    def run(self):
        while True:
            r, _, _ = select.select([self.fd], [], [], 0.5)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.data += chunk

    def text(self):
        with self.lock:
            return self.data.decode("utf-8", "replace")


class TestWatch(unittest.TestCase):
    def test_watch_tty_and_pipe(self):
        with pq.FakeLLM(latency_ms=400) as fake, pq.Pipeline("watch", fake=fake) as p:
            ids = records(p.path("in.jsonl"))
            p.start_ledger()
            p.wait_for(lambda: os.path.exists(p.path("ledger.db")), 30, "serve to create ledger.db")
            cmd = [pq.program("ledger"), "watch", "--interval", "0.3"]

            # The terminal: 100 x 50, as a user's would be.
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
            tty = subprocess.Popen(cmd, env=p.env, cwd=p.tmp, stdin=slave, stdout=slave,
                                   stderr=subprocess.PIPE, start_new_session=True)
            os.close(slave)
            screen = Reader(master)
            screen.start()

            # The pipe.
            pipe = subprocess.Popen(cmd, env=p.env, cwd=p.tmp, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            lines = Reader(pipe.stdout.fileno())
            lines.start()
            try:
                p.wait_for(lambda: " of " in screen.text(), 30,
                           "the first frame on the terminal")
                p.start_worker(PAPERQ_WORKER_CONCURRENCY=2)
                r = p.run_producer("--input", p.path("in.jsonl"))
                self.assertEqual(r.returncode, 0, r.stderr)
                p.wait_drained(N, timeout=180)
                # Both views catch up with the ledger within a few intervals.
                p.wait_for(lambda: "%d of %d" % (N, N) in screen.text(), 30,
                           "the terminal to show %d of %d" % (N, N))
                p.wait_for(lambda: "done %d/%d" % (N, N) in lines.text(), 30,
                           "the pipe to print done %d/%d" % (N, N))
            finally:
                for proc, sig in ((tty, signal.SIGINT), (pipe, signal.SIGTERM)):
                    if proc.poll() is None:
                        proc.send_signal(sig)
            self.assertEqual(tty.wait(20), 0, tty.stderr.read())
            self.assertEqual(pipe.wait(20), 0, pipe.stderr.read())
            screen.join(5)
            lines.join(5)
            os.close(master)
            for f in (tty.stderr, pipe.stdout, pipe.stderr):
                f.close()

            out = screen.text()
            frames = out.split("\x1b[H")[1:]
            print("terminal: %d frames, %d bytes; last frame:\n%s" % (len(frames), len(out), frames[-1]))
            self.assertGreaterEqual(len(frames), 3, out[-2000:])
            # Redrawn in place: every frame starts at home and ends by clearing
            # below; the cursor is hidden while watching and shown at the end.
            self.assertTrue(out.startswith("\x1b[?25l"), repr(out[:40]))
            self.assertTrue(out.rstrip("\r\n").endswith("\x1b[?25h"), repr(out[-40:]))
            for f in frames:
                self.assertIn("\x1b[J", f)
                self.assertLessEqual(f.count("\n"), 49, "a frame taller than the terminal scrolls")
            done = [int(m.group(1)) for m in re.finditer(r"(\d+) of %d\b" % N, out)]
            self.assertEqual(done, sorted(done), "progress went backwards: %s" % done)
            self.assertEqual(done[-1], N)
            self.assertLess(done[0], N, "watch never saw the run in progress")
            last = frames[-1]
            for want in ("succeeded %d" % N, "rate ", "ETA ", "spend    $", "workers  1 live",
                         "recent completions", "failures by reason class", "QA "):
                self.assertIn(want, last)
            self.assertTrue(any(i in last for i in ids), "no recent completion named")
            # The hostile title is shown, its escapes are not obeyed.
            self.assertNotIn("\x1b]0;", out)
            self.assertEqual(out.count("\x1b[2J"), 1, "only watch's own clear at start")

            text = lines.text()
            rows = text.splitlines()
            print("pipe: %d lines; first: %s\nlast: %s" % (len(rows), rows[0], rows[-1]))
            self.assertNotIn("\x1b", text)
            self.assertGreaterEqual(len(rows), 3)
            pat = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ done (\d+)/(\d+) \([\d.]+%\): "
                             r"succeeded \d+, parked \d+, queued \d+, running \d+, retrying \d+; "
                             r"rate [\d.]+/min; ETA [^;]+; spent \$[\d.]+[^;]*; workers \d+ live, "
                             r"\d+ stale, \d+ in flight; failed attempts \d+; QA (-|[\d.]+)$")
            counts = []
            for row in rows:
                m = pat.match(row)
                self.assertIsNotNone(m, "not a watch line: %r" % row)
                counts.append(int(m.group(1)))
            self.assertEqual(counts, sorted(counts))
            self.assertLess(counts[0], N)
            self.assertEqual(counts[-1], N)
            self.assertIn("ETA done", rows[-1])


if __name__ == "__main__":
    pq.main()
