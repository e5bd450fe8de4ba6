"""Why uvicorn + uvloop + httptools: the same app under each server stack, measured in one run.

    python bench/http_server.py

For each stack it starts the locallambda app in a child process and prints the keep-alive round
trip (p50/p99 of GET /_localstack/health from one client) and wrk's requests/s at 8 connections.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

STACKS = [("uvloop", "httptools"), ("asyncio", "httptools"), ("asyncio", "h11")]

CHILD = """
import sys, uvicorn
from locallambda.app import build_app
from locallambda.settings import Settings
app = build_app(Settings(port=int(sys.argv[1])))
uvicorn.run(app.asgi, host="127.0.0.1", port=int(sys.argv[1]), loop=sys.argv[2], http=sys.argv[3],
            lifespan="on", access_log=False, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), 0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def measure(port: int, n: int = 3000) -> tuple[float, float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for i in range(n + 200):
        t = time.perf_counter()
        conn.request("GET", "/_localstack/health")
        conn.getresponse().read()
        if i >= 200:
            times.append((time.perf_counter() - t) * 1000)
    conn.close()
    rps = float("nan")
    if shutil.which("wrk"):
        out = subprocess.run(
            ["wrk", "-t2", "-c8", "-d3s", f"http://127.0.0.1:{port}/_localstack/health"], capture_output=True, text=True
        ).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        rps = float(m.group(1)) if m else rps
    return statistics.median(times), sorted(times)[int(n * 0.99)], rps


def main() -> None:
    print("| loop | http | round trip p50 / p99 (ms) | wrk 8 conn (req/s) |")
    print("|---|---|---|---|")
    for loop, http_impl in STACKS:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(port), loop, http_impl])
        try:
            wait_port(port)
            p50, p99, rps = measure(port)
            print(f"| {loop} | {http_impl} | {p50:.3f} / {p99:.3f} | {rps:.0f} |", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
