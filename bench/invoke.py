"""Invoke benchmark: warm and cold latency, throughput, side by side with a bare round trip.

    python bench/invoke.py [--executors process,sandbox,docker] [--quick]

Starts its own servers on loopback (one per executor and keep-alive setting) and prints, in one
run: the bare HTTP round trip to the same server (GET /_localstack/health), warm invoke p50/p99
of a Python echo function through a keep-alive HTTP client and through boto3, cold start p50/p99
(LAMBDA_KEEPALIVE_MS=0), and throughput at 1, 8 and 32 connections measured with wrk (a C load
generator: a Python client saturates long before the server does). No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server, make_zip  # noqa: E402

ECHO = "def handler(event, context):\n    return event\n"
PAYLOAD = b'{"hello": "world", "n": 1}'
DOCKER_IMAGE = "locallambda-test/python:3.11"


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def keepalive_latency(port: int, method: str, path: str, body: bytes | None, n: int, warmup: int = 100) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    out = []
    for i in range(warmup + n):
        t = time.perf_counter()
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path} → {resp.status}")
        if i >= warmup:
            out.append((time.perf_counter() - t) * 1000)
    conn.close()
    return out


def boto_latency(server: Server, name: str, n: int) -> list[float]:
    client = server.client()
    for _ in range(20):
        client.invoke(FunctionName=name, Payload=PAYLOAD)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.invoke(FunctionName=name, Payload=PAYLOAD)
        out.append((time.perf_counter() - t) * 1000)
    return out


def wrk(port: int, path: str, connections: int, seconds: int, post: bool) -> float:
    if not shutil.which("wrk"):
        return float("nan")
    script = None
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s"]
    if post:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115 - wrk reads it by name
        script.write(
            f"wrk.method = 'POST'\nwrk.body = '{PAYLOAD.decode()}'\nwrk.headers['Content-Type'] = 'application/json'\n"
        )
        script.close()
        args += ["-s", script.name]
    args.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30).stdout
    if script:
        os.unlink(script.name)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"    (wrk saw {errors.group(1)} non-2xx responses at c={connections})")
    return float(m.group(1)) if m else float("nan")


def create(server: Server, name: str, zip_bytes: bytes) -> None:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": zip_bytes},
        Timeout=30,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def idle_rss_mb(server: Server, executor: str) -> float:
    """Memory one idle environment holds after a warm invoke: the RSS of every process the
    server started (process, sandbox), or the container's own usage as docker reports it."""
    assert server.proc is not None
    if executor.startswith("docker"):
        out = subprocess.run(
            [
                "docker",
                "stats",
                "--no-stream",
                "--format",
                "{{.MemUsage}}",
                *[
                    c
                    for c in subprocess.run(
                        ["docker", "ps", "-q", "--filter", "label=locallambda.server"], capture_output=True, text=True
                    ).stdout.split()
                ],
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        if not out:  # the plain docker executor keeps no container between invokes
            return float("nan")
        value = out[0]
        number = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
        return number / 1024 if value.endswith("KiB") else number * 1024 if value.endswith("GiB") else number
    return sum(_rss_kb(p) for p in _descendants(server.proc.pid)) / 1024


def run_executor(executor: str, quick: bool) -> dict[str, float]:
    n = 500 if quick else 3000
    cold_n = 20 if quick else 60
    if executor == "docker":  # a fresh container per invoke: every invoke is a cold start
        n, cold_n = 30, 10
    res: dict[str, float] = {}
    zip_bytes = make_zip({"handler.py": ECHO})
    env = {"LAMBDA_EXECUTOR": executor, "LAMBDA_SYNCHRONOUS_CREATE": "1"}
    if executor.startswith("docker"):
        # No registry here: the Lambda-like image scripts/build-test-images.sh builds locally.
        env["LAMBDA_RUNTIME_IMAGE_MAPPING"] = json.dumps({"python3.11": DOCKER_IMAGE})
        env["LAMBDA_DOCKER_NETWORK"] = "host"
    with Server(env=env) as server:
        create(server, "echo", zip_bytes)
        path = "/2015-03-31/functions/echo/invocations"
        bare = keepalive_latency(server.port, "GET", "/_localstack/health", None, n)
        warm = keepalive_latency(server.port, "POST", path, PAYLOAD, n)
        res["bare_p50"], res["bare_p99"] = statistics.median(bare), pct(bare, 0.99)
        res["warm_p50"], res["warm_p99"] = statistics.median(warm), pct(warm, 0.99)
        b = boto_latency(server, "echo", n // 5)
        res["boto_p50"], res["boto_p99"] = statistics.median(b), pct(b, 0.99)
        res["idle_rss_mb"] = idle_rss_mb(server, executor) if executor != "docker" else float("nan")
        secs = 3 if quick else 5
        res["wrk_bare_8"] = wrk(server.port, "/_localstack/health", 8, secs, post=False)
        for c in (1, 8, 32) if executor != "docker" else ():
            wrk(server.port, path, c, 2, post=True)  # warm-up: start the c environments first
            res[f"wrk_invoke_{c}"] = wrk(server.port, path, c, secs, post=True)
    with Server(env={**env, "LAMBDA_KEEPALIVE_MS": "0"}) as server:
        create(server, "echo", zip_bytes)
        cold = keepalive_latency(
            server.port, "POST", "/2015-03-31/functions/echo/invocations", PAYLOAD, cold_n, warmup=2
        )
        res["cold_p50"], res["cold_p99"] = statistics.median(cold), pct(cold, 0.99)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executors", default="process")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    results = {}
    for name in args.executors.split(","):
        ex = "local" if name == "process" else name
        try:
            results[ex] = run_executor(ex, args.quick)
        except Exception as exc:  # report and go on with the other executors
            print(f"{ex}: failed: {exc}")
    rows = [
        ("bare HTTP round trip p50 / p99 (ms)", "bare_p50", "bare_p99"),
        ("warm invoke, keep-alive client p50 / p99 (ms)", "warm_p50", "warm_p99"),
        ("warm invoke, boto3 p50 / p99 (ms)", "boto_p50", "boto_p99"),
        ("cold start p50 / p99 (ms)", "cold_p50", "cold_p99"),
    ]
    names = list(results)
    print()
    print("| measure | " + " | ".join("process" if n == "local" else n for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for label, a, b in rows:
        print(f"| {label} | " + " | ".join(f"{results[n][a]:.2f} / {results[n][b]:.2f}" for n in names) + " |")
    for label, key in [
        ("bare GET, wrk 8 connections (req/s)", "wrk_bare_8"),
        ("warm invokes/s, wrk 1 connection", "wrk_invoke_1"),
        ("warm invokes/s, wrk 8 connections", "wrk_invoke_8"),
        ("warm invokes/s, wrk 32 connections", "wrk_invoke_32"),
        ("memory of one idle environment (MB)", "idle_rss_mb"),
    ]:
        cells = [results[n].get(key, float("nan")) for n in names]
        print(
            f"| {label} | "
            + " | ".join(
                ("n/a" if math.isnan(v) else f"{v:.0f}" if key.startswith("wrk") else f"{v:.1f}") for v in cells
            )
            + " |"
        )
    print()
    print(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
