"""Hot reload benchmark: from a file saved in a hot-reloaded code directory to the new code
answering, beside a bare round trip and a cold start of the same function.

    python bench/hot_reload.py [--edits 20] [--executor local|sandbox]

Starts its own server on loopback; a Python function whose code is a directory (LocalStack's
``hot-reload`` bucket). Each edit writes a new ``handler.py`` (another version number), then
invokes on a keep-alive connection as fast as it can until the new number comes back: the time
from the write to that answer is the reload latency (it includes the change being noticed, the
warm environment retired and the cold start of the next one). Between edits the function is
invoked warm a few times. Prints p50/p99 of each; no thresholds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server  # noqa: E402

VERSION = "def handler(event, context):\n    return {{'version': {n}}}\n"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--executor", default="local")
    args = parser.parse_args()
    code = Path(tempfile.mkdtemp(prefix="hot-reload-bench-"))
    (code / "handler.py").write_text(VERSION.format(n=0))
    server = Server(env={"LAMBDA_EXECUTOR": args.executor, "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        lam = server.client()
        lam.create_function(
            FunctionName="hot",
            Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
            Role=ROLE,
            Handler="handler.handler",
            Code={"S3Bucket": "hot-reload", "S3Key": str(code)},
        )
        conn = http.client.HTTPConnection("127.0.0.1", server.port)

        def call(method: str, path: str, body: bytes | None = None) -> bytes:
            conn.request(method, path, body=body)
            return conn.getresponse().read()

        invoke = "/2015-03-31/functions/hot/invocations"
        bare = []
        for _ in range(200):
            t = time.perf_counter()
            call("GET", "/_aws/lambda/runtimes")
            bare.append((time.perf_counter() - t) * 1000)
        reloads: list[float] = []
        polls: list[int] = []
        for n in range(1, args.edits + 1):
            for _ in range(5):  # warm: the old code's environment is up
                call("POST", invoke, b"{}")
            time.sleep(0.3)  # nothing pending from the last edit
            t = time.perf_counter()
            (code / "handler.py").write_text(VERSION.format(n=n))
            tries = 0
            while True:
                tries += 1
                answer = json.loads(call("POST", invoke, b"{}"))
                if answer == {"version": n}:
                    break
                if time.perf_counter() - t > 10:
                    raise RuntimeError(f"edit {n} not served after 10 s: {answer}")
            reloads.append((time.perf_counter() - t) * 1000)
            polls.append(tries)
        print(f"executor {args.executor}, {args.edits} edits")
        print(
            f"bare round trip (GET /_aws/lambda/runtimes)  p50 {statistics.median(bare):7.2f} ms  p99 {pct(bare, 0.99):7.2f} ms"
        )
        print(
            f"file saved -> new code answering          p50 {statistics.median(reloads):7.2f} ms  "
            f"p99 {pct(reloads, 0.99):7.2f} ms  (invokes until then: median {statistics.median(polls):.0f})"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
