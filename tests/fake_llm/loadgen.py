#!/usr/bin/env python3
"""Load generator for fake_llm.py: N keep-alive connections, each sending
requests back to back for D seconds; prints requests/s and status counts.

    python3 tests/fake_llm/loadgen.py --url http://127.0.0.1:PORT/v1 -c 64 -d 5
    python3 tests/fake_llm/loadgen.py --url ... -c 1024 --idle   # hold 1024 conns

Standard library only.  Records a sample abstract (~370 CJK characters, the
corpus median) so the server does a realistic amount of "translation".
"""
import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlparse

SAMPLE = ("本文提出了一种基于深度学习的方法，用于预测温度为 $2 5 ~ ^ { \\circ } \\mathrm { C }$ "
          "时材料的热导率。实验结果表明，该方法的精度优于传统方法。[[M1]] ") * 6


async def client(host, port, path, body, deadline, counts, key):
    reader, writer = await asyncio.open_connection(host, port)
    req = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
           "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
           % (path, host, key, len(body))).encode() + body
    try:
        while time.monotonic() < deadline:
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            n = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            await reader.readexactly(n)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()


async def idle(host, port, n, hold_s):
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection(host, port))
    print("holding %d idle connections for %.0f s" % (n, hold_s))
    await asyncio.sleep(hold_s)
    for _, w in conns:
        w.close()


async def amain(a):
    u = urlparse(a.url)
    path = u.path.rstrip("/") + "/chat/completions"
    body = json.dumps({"model": a.model, "messages": [
        {"role": "system", "content": "Translate the user's Chinese text into English."},
        {"role": "user", "content": SAMPLE}]}, ensure_ascii=False).encode()
    if a.idle:
        await idle(u.hostname, u.port, a.concurrency, a.duration)
        return
    counts = {}
    t0 = time.monotonic()
    deadline = t0 + a.duration
    await asyncio.gather(*[client(u.hostname, u.port, path, body, deadline, counts, a.key)
                           for _ in range(a.concurrency)])
    dt = time.monotonic() - t0
    total = sum(counts.values())
    print("%d requests in %.1f s with %d connections: %.0f requests/s; statuses %s"
          % (total, dt, a.concurrency, total / dt, counts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("-c", "--concurrency", type=int, default=64)
    ap.add_argument("-d", "--duration", type=float, default=5.0)
    ap.add_argument("--model", default="fake-model")
    ap.add_argument("--key", default="test-key")
    ap.add_argument("--idle", action="store_true")
    asyncio.run(amain(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
