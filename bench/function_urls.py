"""Function URL benchmark: a URL request beside a bare round trip and a plain Invoke, and the
time to first byte of a streamed response.

    python bench/function_urls.py [--executor process|sandbox] [--quick]

Starts its own server on loopback and prints, from one keep-alive HTTP client each:

- the bare round trip (GET /_localstack/health) and a warm Invoke of a Python echo function
  (POST .../invocations), the baseline;
- the same function behind a BUFFERED function URL (the payload-2.0 event in, the response out);
- a Node.js function behind a RESPONSE_STREAM URL that writes its answer at once: the streamed
  path's own cost;
- time to first byte and to the last one of a streamed response whose function writes a first
  part, waits ``--gap`` ms, then the rest: the first byte arrives before the function is done
  (time to first byte well under the gap), where a buffered answer would come after it;
- the same through InvokeWithResponseStream (boto3 iterating the event stream).

No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server, make_zip  # noqa: E402

ECHO = "def handler(event, context):\n    return event\n"
PAYLOAD = b'{"hello": "world", "n": 1}'
AT_ONCE = """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  stream.end('streamed at once');
});
"""
WITH_GAP = """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  stream.write('first part|');
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.GAP_MS)));
  stream.end('the rest');
});
"""


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def create(server: Server, name: str, files: dict[str, str], runtime: str, handler: str, gap_ms: int = 0) -> None:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": make_zip(files)},
        Timeout=30,
        Environment={"Variables": {"GAP_MS": str(gap_ms)}},
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def url_of(server: Server, name: str, mode: str) -> str:
    config = server.client().create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode=mode)
    return str(config["FunctionUrl"])


def latency(port: int, method: str, path: str, body: bytes | None, n: int, host: str | None = None) -> list[float]:
    """Milliseconds per request (the whole body read) over one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json", **({"Host": host} if host else {})}
    out = []
    for i in range(n + n // 5):
        t = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {host or ''}{path} → {resp.status}")
        if i >= n // 5:  # the first fifth warms up
            out.append((time.perf_counter() - t) * 1000)
    conn.close()
    return out


def first_and_last_byte(port: int, host: str, n: int) -> tuple[list[float], list[float]]:
    """Milliseconds to the first body byte and to the end of a streamed URL response."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    first, last = [], []
    for i in range(n + 2):
        t = time.perf_counter()
        conn.request("GET", "/", headers={"Host": host})
        resp = conn.getresponse()
        resp.read1(1)
        t_first = time.perf_counter()
        resp.read()
        t_last = time.perf_counter()
        if i >= 2:
            first.append((t_first - t) * 1000)
            last.append((t_last - t) * 1000)
    conn.close()
    return first, last


def stream_invoke(server: Server, name: str, n: int) -> tuple[list[float], list[float]]:
    """The same through InvokeWithResponseStream: to the first PayloadChunk, and to InvokeComplete."""
    client = server.client()
    first, last = [], []
    for i in range(n + 2):
        t = time.perf_counter()
        t_first = None
        for event in client.invoke_with_response_stream(FunctionName=name, Payload=b"{}")["EventStream"]:
            if t_first is None and "PayloadChunk" in event:
                t_first = time.perf_counter()
        t_last = time.perf_counter()
        if i >= 2 and t_first is not None:
            first.append((t_first - t) * 1000)
            last.append((t_last - t) * 1000)
    return first, last


def row(label: str, xs: list[float]) -> str:
    return f"| {label} | {statistics.median(xs):.2f} | {pct(xs, 0.99):.2f} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executor", default="process")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--gap", type=int, default=200, help="ms the streaming function waits after its first part")
    args = ap.parse_args()
    n = 300 if args.quick else 2000
    n_gap = 10 if args.quick else 40
    if shutil.which("node") is None:
        sys.exit("node is needed for the streaming functions")
    executor = "local" if args.executor == "process" else args.executor
    with Server(env={"LAMBDA_EXECUTOR": executor, "LAMBDA_SYNCHRONOUS_CREATE": "1"}) as server:
        create(server, "echo", {"handler.py": ECHO}, "python3.11", "handler.handler")
        create(server, "at-once", {"index.mjs": AT_ONCE}, "nodejs20.x", "index.handler")
        create(server, "with-gap", {"index.mjs": WITH_GAP}, "nodejs20.x", "index.handler", gap_ms=args.gap)
        buffered = urlsplit(url_of(server, "echo", "BUFFERED")).netloc
        streamed = urlsplit(url_of(server, "at-once", "RESPONSE_STREAM")).netloc
        gapped = urlsplit(url_of(server, "with-gap", "RESPONSE_STREAM")).netloc
        bare = latency(server.port, "GET", "/_localstack/health", None, n)
        invoke = latency(server.port, "POST", "/2015-03-31/functions/echo/invocations", PAYLOAD, n)
        url = latency(server.port, "POST", "/some/path?x=1", PAYLOAD, n, host=buffered)
        url_streamed = latency(server.port, "POST", "/", PAYLOAD, n, host=streamed)
        ttfb, total = first_and_last_byte(server.port, gapped, n_gap)
        sdk_first, sdk_last = stream_invoke(server, "with-gap", n_gap)
    print()
    print(f"executor: {args.executor}; the streaming function waits {args.gap} ms after its first part")
    print()
    print("| measure (ms) | p50 | p99 |")
    print("|---|---|---|")
    print(row("bare HTTP round trip", bare))
    print(row("warm Invoke, Python echo", invoke))
    print(row("BUFFERED function URL request, Python echo", url))
    print(row("RESPONSE_STREAM URL request, Node.js writing at once", url_streamed))
    print(row("RESPONSE_STREAM URL, time to first byte", ttfb))
    print(row("RESPONSE_STREAM URL, time to last byte", total))
    print(row("InvokeWithResponseStream (boto3), first PayloadChunk", sdk_first))
    print(row("InvokeWithResponseStream (boto3), InvokeComplete", sdk_last))
    print()
    figures = {
        "bare": bare,
        "invoke": invoke,
        "url_buffered": url,
        "url_streamed": url_streamed,
        "ttfb": ttfb,
        "ttlb": total,
        "iwrs_first": sdk_first,
        "iwrs_last": sdk_last,
    }
    print(json.dumps({k: {"p50": statistics.median(v), "p99": pct(v, 0.99)} for k, v in figures.items()}, indent=1))


if __name__ == "__main__":
    main()
