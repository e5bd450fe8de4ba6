#!/usr/bin/env python3
"""Cold and warm invoke latency and idle memory: sandbox executor vs process executor.

Usage: .venv/bin/python scripts/bench_sandbox.py [--cold 30] [--warm 300]

Both executors are measured in the same run, their servers side by side, invoked in turn:
- cold: a server with LAMBDA_KEEPALIVE_MS=0 (no environment is kept), ``--cold`` sequential
  invokes of a Python echo; every one starts an environment. Prints the client-side latency and
  the Init Duration of the REPORT line (start of the sandbox/process until the runtime's first
  ``/next``), p50 and p90.
- warm: a server with the default keep-alive, one cold invoke, then ``--warm`` sequential invokes.
- idle memory: RSS and PSS summed over the processes of one idle environment (for the sandbox:
  both bwrap processes and the runtime).
"""

from __future__ import annotations

import argparse
import base64
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import ROLE, Server, make_zip  # noqa: E402

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ECHO = "def handler(event, context):\n    return event\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def create(client: Any, name: str) -> None:
    client.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": ECHO})},
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def invoke(client: Any, name: str) -> tuple[float, float | None]:
    started = time.perf_counter()
    out = client.invoke(FunctionName=name, Payload=b'{"a": 1}', LogType="Tail")
    elapsed = (time.perf_counter() - started) * 1000
    assert "FunctionError" not in out, out["Payload"].read()
    out["Payload"].read()
    tail = base64.b64decode(out["LogResult"]).decode()
    m = re.search(r"Init Duration: ([\d.]+) ms", tail)
    return elapsed, float(m.group(1)) if m else None


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def env_processes(server: Server) -> list[int]:
    """The runtimes started for ``server`` (their environment points back at it) and every
    process between them and the server (the sandbox's bwrap processes)."""
    assert server.proc is not None
    needle = f"AWS_ENDPOINT_URL={server.url}\0".encode()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle not in (entry / "environ").read_bytes() + b"\0":
                    continue
            except OSError:
                continue
            pid = int(entry.name)
            while pid > 1 and pid != server.proc.pid and pid not in found:
                found.add(pid)
                pid = _parent(pid)
    return sorted(found)


def memory_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def bench(executors: list[str], cold_n: int, warm_n: int) -> list[dict[str, Any]]:
    """Both executors' servers run side by side and are invoked in turn, so that the load of the
    machine weighs on each alike."""
    results: dict[str, dict[str, Any]] = {
        e: {"executor": e, "cold_ms": [], "init_ms": [], "warm_ms": []} for e in executors
    }
    servers = {
        e: Server(env={"LAMBDA_EXECUTOR": e, "LAMBDA_KEEPALIVE_MS": "0", "LAMBDA_SYNCHRONOUS_CREATE": "1"})
        for e in executors
    }
    try:
        clients = {}
        for e, srv in servers.items():
            srv.start()
            clients[e] = srv.client()
            create(clients[e], "cold")
            invoke(clients[e], "cold")  # the first start of anything (imports, page cache)
        for _ in range(cold_n):
            for e in executors:
                elapsed, init = invoke(clients[e], "cold")
                results[e]["cold_ms"].append(elapsed)
                if init is not None:
                    results[e]["init_ms"].append(init)
    finally:
        for srv in servers.values():
            srv.stop()
    servers = {e: Server(env={"LAMBDA_EXECUTOR": e, "LAMBDA_SYNCHRONOUS_CREATE": "1"}) for e in executors}
    try:
        clients = {}
        for e, srv in servers.items():
            srv.start()
            clients[e] = srv.client()
            create(clients[e], "warm")
            for _ in range(20):
                invoke(clients[e], "warm")
        for _ in range(warm_n):
            for e in executors:
                results[e]["warm_ms"].append(invoke(clients[e], "warm")[0])
        time.sleep(0.5)
        for e, srv in servers.items():
            pids = env_processes(srv)
            mem = [memory_kb(p) for p in pids]
            results[e]["processes"] = len(pids)
            results[e]["rss_kb"] = sum(m[0] for m in mem)
            results[e]["pss_kb"] = sum(m[1] for m in mem)
    finally:
        for srv in servers.values():
            srv.stop()
    return [results[e] for e in executors]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--executors", default="local,sandbox")
    args = parser.parse_args()
    rows = bench(args.executors.split(","), args.cold, args.warm)
    print(
        f"{'executor':<9} {'cold p50':>9} {'cold p90':>9} {'init p50':>9} {'warm p50':>9} {'warm p90':>9}"
        f" {'procs':>5} {'idle RSS':>9} {'idle PSS':>9}"
    )
    for r in rows:
        print(
            f"{r['executor']:<9} {statistics.median(r['cold_ms']):>7.1f}ms {pct(r['cold_ms'], 0.9):>7.1f}ms"
            f" {statistics.median(r['init_ms']):>7.1f}ms {statistics.median(r['warm_ms']):>7.2f}ms"
            f" {pct(r['warm_ms'], 0.9):>7.2f}ms {r['processes']:>5} {r['rss_kb'] / 1024:>7.1f}MB {r['pss_kb'] / 1024:>7.1f}MB"
        )


if __name__ == "__main__":
    main()
