"""Function output benchmark: what a flood of output costs the server, and whether it stalls others.

    python bench/output.py [--executors process,docker-reuse] [--mb-line 20] [--mb-flood 100]

For each executor, and for each scenario on a fresh server (so that its peak RSS is the
scenario's own), it prints: the wall time of the invoke, the server process's peak RSS
(``VmHWM``) and its RSS once the invoke is over (what the log history retained), and the
latency of a small function invoked over and over on another connection while the flood runs,
next to the same function's idle latency measured first on that server. Scenarios:

- ``baseline`` — a function printing one small line;
- ``one-line`` — one line of ``--mb-line`` MB without a newline (``sys.stdout.write``);
- ``flood`` — ``--mb-flood`` MB of output in 1 MB lines.

A small invoke that fails during the flood (e.g. a false ``Sandbox.Timedout`` because the
server's event loop was blocked) is counted. No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server, make_zip  # noqa: E402

SMALL = "def handler(event, context):\n    print('a small line')\n    return 'ok'\n"
ONE_LINE = """\
import sys

def handler(event, context):
    sys.stdout.write("x" * (event["mb"] * 1024 * 1024))
    sys.stdout.flush()
    return "ok"
"""
FLOOD = """\
import sys

def handler(event, context):
    line = "y" * (1024 * 1024 - 1) + "\\n"
    for _ in range(event["mb"]):
        sys.stdout.write(line)
    sys.stdout.flush()
    return "ok"
"""
DOCKER_IMAGE = "locallambda-test/python:3.11"


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def create(server: Server, name: str, source: str, timeout: int) -> None:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"handler.py": source})},
        Timeout=timeout,
        MemorySize=1024,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def small_latencies(client: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.invoke(FunctionName="small", Payload=b"{}")
        out.append((time.perf_counter() - t) * 1000)
    return out


def scenario(executor: str, kind: str, mb_line: int, mb_flood: int) -> dict[str, float]:
    env = {"LAMBDA_EXECUTOR": executor, "LAMBDA_SYNCHRONOUS_CREATE": "1"}
    if executor.startswith("docker"):
        env["LAMBDA_RUNTIME_IMAGE_MAPPING"] = json.dumps({"python3.11": DOCKER_IMAGE})
        env["LAMBDA_DOCKER_NETWORK"] = "host"
    res: dict[str, float] = {}
    with Server(env=env) as server:
        assert server.proc is not None
        pid = server.proc.pid
        create(server, "small", SMALL, timeout=3)
        source, payload = {
            "baseline": (SMALL, {}),
            "one-line": (ONE_LINE, {"mb": mb_line}),
            "flood": (FLOOD, {"mb": mb_flood}),
        }[kind]
        create(server, "heavy", source, timeout=120)
        small = server.client()
        heavy = server.client()
        small_latencies(small, 10)  # warm the small function's environment
        heavy.invoke(FunctionName="heavy", Payload=json.dumps({"mb": 0} if kind != "baseline" else {}))  # warm
        idle = small_latencies(small, 50)
        res["idle_p50_ms"] = statistics.median(idle)
        res["idle_max_ms"] = max(idle)
        res["rss_before_mb"] = _status_kb(pid, "VmRSS:") / 1024

        during: list[float] = []
        failures = [0]
        done = threading.Event()

        def poke() -> None:
            while not done.is_set():
                t = time.perf_counter()
                out = small.invoke(FunctionName="small", Payload=b"{}")
                body = out["Payload"].read()
                during.append((time.perf_counter() - t) * 1000)
                if "FunctionError" in out:
                    failures[0] += 1
                    print(f"    small invoke failed during {kind}: {body[:200]!r}")

        poker = threading.Thread(target=poke)
        poker.start()
        time.sleep(0.2)  # the poker is running before the flood starts
        t = time.perf_counter()
        out = heavy.invoke(FunctionName="heavy", Payload=json.dumps(payload), LogType="Tail")
        res["invoke_s"] = time.perf_counter() - t
        out["Payload"].read()
        done.set()
        poker.join(120)
        res["heavy_failed"] = float("FunctionError" in out)
        res["during_n"] = len(during)
        res["during_p50_ms"] = statistics.median(during) if during else float("nan")
        res["during_max_ms"] = max(during) if during else float("nan")
        res["during_failures"] = failures[0]
        res["peak_rss_mb"] = _status_kb(pid, "VmHWM:") / 1024
        res["rss_after_mb"] = _status_kb(pid, "VmRSS:") / 1024
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--executors", default="process")
    ap.add_argument("--mb-line", type=int, default=20)
    ap.add_argument("--mb-flood", type=int, default=100)
    args = ap.parse_args()
    kinds = ["baseline", "one-line", "flood"]
    labels = {
        "baseline": "small line",
        "one-line": f"one {args.mb_line} MB line, no newline",
        "flood": f"{args.mb_flood} MB in 1 MB lines",
    }
    print(
        "| executor | scenario | invoke (s) | peak RSS (MB) | RSS before / after (MB) "
        "| small invoke idle p50 / max (ms) | during p50 / max (ms), n | failures |"
    )
    print("|---|---|---|---|---|---|---|---|")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.executors.split(","):
        ex = "local" if name == "process" else name
        for kind in kinds:
            try:
                r = scenario(ex, kind, args.mb_line, args.mb_flood)
            except Exception as exc:  # report and go on
                print(f"| {name} | {labels[kind]} | failed: {exc} |")
                continue
            results.setdefault(name, {})[kind] = r
            print(
                f"| {name} | {labels[kind]} | {r['invoke_s']:.2f} | {r['peak_rss_mb']:.0f} "
                f"| {r['rss_before_mb']:.0f} / {r['rss_after_mb']:.0f} "
                f"| {r['idle_p50_ms']:.1f} / {r['idle_max_ms']:.1f} "
                f"| {r['during_p50_ms']:.1f} / {r['during_max_ms']:.1f}, {r['during_n']:.0f} "
                f"| {r['during_failures']:.0f}{' (heavy invoke failed)' if r['heavy_failed'] else ''} |",
                flush=True,
            )
    print()
    print(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
