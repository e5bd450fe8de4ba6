"""Control-plane benchmark: API latency next to a bare round trip, and how fast a function is ready.

    python bench/control_plane.py [--requests 2000] [--functions 10]

Starts its own server on loopback and prints, in one run: the bare HTTP round trip to that
server (GET /_localstack/health on one keep-alive ``http.client`` connection), GetFunction
p50/p99 on the same keep-alive connection (raw GET /2015-03-31/functions/<name>) and through
boto3, and for a 1 MB zip of incompressible data the CreateFunction call itself and the time
from sending CreateFunction until GetFunction first shows ``State: Active`` (p50/p99 over a few
functions). No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server  # noqa: E402

HANDLER = "def handler(event, context):\n    return event\n"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def timed(fn: Callable[[], object], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"GET {path} → {resp.status}: {body[:200]!r}")
    return body


def big_zip(size: int) -> bytes:
    """A deployment package of ``size`` random bytes (incompressible) plus a handler."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", HANDLER)
        zf.writestr("blob.bin", os.urandom(size))
    return buf.getvalue()


def create_to_active(
    server: Server, conn: http.client.HTTPConnection, n: int, size: int
) -> tuple[list[float], list[float]]:
    client = server.client()
    calls, ready = [], []
    for i in range(n + 1):  # the first one warms up the code path
        name = f"bench-create-{i}-{os.getpid()}"
        code = big_zip(size)  # fresh random bytes: no deduplication between functions
        t = time.perf_counter()
        client.create_function(
            FunctionName=name, Runtime="python3.12", Handler="handler.handler", Role=ROLE, Code={"ZipFile": code}
        )
        t_call = time.perf_counter()
        deadline = t + 60
        while json.loads(get(conn, f"/2015-03-31/functions/{name}"))["Configuration"]["State"] != "Active":
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{name} not Active after 60 s")
            time.sleep(0.001)
        t_active = time.perf_counter()
        if i:
            calls.append((t_call - t) * 1000)
            ready.append((t_active - t) * 1000)
    return calls, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per latency figure")
    parser.add_argument("--functions", type=int, default=10, help="functions created for the create → Active figure")
    parser.add_argument("--zip-mb", type=float, default=1.0, help="size of the random payload in the zip")
    args = parser.parse_args()
    size = int(args.zip_mb * 1024 * 1024)

    with Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "0"}) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        health = json.loads(get(conn, "/_localstack/health"))
        client = server.client()
        client.create_function(
            FunctionName="bench-get",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": big_zip(1024)},
        )
        client.get_waiter("function_active_v2").wait(FunctionName="bench-get", WaiterConfig={"Delay": 0.05})

        n, warm = args.requests, min(200, args.requests)
        bare = timed(lambda: get(conn, "/_localstack/health"), n, warm)
        raw = timed(lambda: get(conn, "/2015-03-31/functions/bench-get"), n, warm)
        boto = timed(lambda: client.get_function(FunctionName="bench-get"), max(n // 4, 1), 50)
        calls, ready = create_to_active(server, conn, args.functions, size)
        zip_size = len(big_zip(size))
        conn.close()

    rows = [
        (f"bare HTTP round trip (GET /_localstack/health), n={n}", bare),
        (f"GetFunction, keep-alive raw HTTP, n={n}", raw),
        (f"GetFunction, boto3, n={len(boto)}", boto),
        (f"CreateFunction call, {zip_size / 1e6:.2f} MB zip, n={len(calls)}", calls),
        (f"CreateFunction → Active, {zip_size / 1e6:.2f} MB zip, n={len(ready)}", ready),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"locallambda control plane (executor: {health.get('executor')}, python {sys.version.split()[0]})")
    print(f"{'':{width}}  {'p50 ms':>8}  {'p99 ms':>8}")
    for label, xs in rows:
        print(f"{label:{width}}  {pct(xs, 0.50):8.2f}  {pct(xs, 0.99):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
