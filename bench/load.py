"""Load benchmark: many concurrent clients for a while, latency percentiles and errors.

    python bench/load.py [--connections 128] [--seconds 30] [--executor local]

Starts its own server on loopback, creates a Python echo function, and runs wrk (a C load
generator) with ``--connections`` keep-alive clients invoking it for ``--seconds``, from a cold
function (the first invocations start the environments), then prints the latency distribution
(p50/p90/p99/max), requests per second and every error wrk saw (socket errors, timeouts,
non-2xx answers); beside it, the same run against the bare health endpoint of the same server.
No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server, make_zip  # noqa: E402

PAYLOAD = '{"hello": "world"}'
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(port: int, path: str, connections: int, seconds: int, post: bool) -> dict[str, object]:
    args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    if post:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115 - wrk reads it by name
        script.write(f"wrk.method = 'POST'\nwrk.body = '{PAYLOAD}'\nwrk.headers['Content-Type'] = 'application/json'\n")
        script.close()
        args += ["-s", script.name]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    result["max"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in", out)
    result["requests"] = int(m.group(1)) if m else 0
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = ", ".join(
        part for part in (errors.group(1) if errors else "", f"non-2xx {non2xx.group(1)}" if non2xx else "") if part
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=128)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--executor", default="local")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian's wrk; scripts/bootstrap.sh installs it for the tests)")
    server = Server(env={"LAMBDA_EXECUTOR": args.executor, "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        client = server.client()
        client.create_function(
            FunctionName="echo",
            Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": "def handler(event, context):\n    return event\n"})},
            Timeout=30,
        )
        time.sleep(15)  # moto's import at the first neighbour call settles; see the README
        rows = [
            ("bare GET /_localstack/health", run_wrk(server.port, "/_localstack/health", args.connections, 5, False)),
            (
                f"Invoke echo, cold, {args.connections} clients",
                run_wrk(server.port, "/2015-03-31/functions/echo/invocations", args.connections, args.seconds, True),
            ),
        ]
        print(f"{args.connections} connections, {args.seconds} s, executor {args.executor}")
        print(f"{'':40} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>9} {'req/s':>8}  errors")
        for name, r in rows:
            print(
                f"{name:40} {r['p50']:8.2f} {r['p90']:8.2f} {r['p99']:8.2f} {r['max']:9.2f} {r['rps']:8.0f}"
                f"  {r['errors'] or 'none'} ({r['requests']} requests)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
