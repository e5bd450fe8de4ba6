"""Peer benchmark: locallambda beside serverless-offline, in alternating rounds on one machine.

    python bench/peers.py [--rounds 3] [--seconds 3] [--executor local]

Installs serverless-offline (npm, the versions pinned below) into ``.venv/peers`` the first time,
and runs, for the same Python echo function (``python3.11``, returning its event):

- locallambda (its own server on loopback, the ``--executor`` given, ``SERVICES=lambda`` so that
  nothing but Lambda runs), invoked on ``/2015-03-31/functions/echo/invocations``;
- ``serverless offline`` with its Lambda endpoint (``--lambdaPort``), invoked on
  ``/2015-03-31/functions/bench-dev-echo/invocations``, the way the AWS SDKs reach it.

Each round measures both, one after the other, with the order swapped every round (ABBA...):
warm invoke p50 through one keep-alive HTTP client, and invokes per second with wrk at 1, 8 and
32 connections (after a warm-up run at the same count); then the cold start: a second server of
each where every invocation starts a new environment (locallambda with ``LAMBDA_KEEPALIVE_MS=0``,
serverless-offline with ``--reloadHandler``), invoked 0.2 s apart, the round trip's p50. It prints
the medians over the rounds and the ratios (> 1: locallambda is better). No thresholds. The SAM CLI is not part of it: its warm
containers need the Lambda images from a registry this machine cannot reach.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from invoke import keepalive_latency, wrk  # noqa: E402
from tests.conftest import ROLE, Server, free_port, make_zip  # noqa: E402

PEERS = ROOT / ".venv" / "peers"
PINNED = {"serverless": "3.40.0", "serverless-offline": "13.9.0"}
ECHO = "def handler(event, context):\n    return event\n"
PAYLOAD = b'{"hello": "world", "n": 1}'
SERVERLESS_YML = """\
service: bench
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: us-east-1
plugins:
  - serverless-offline
functions:
  echo:
    handler: handler.handler
"""


def ensure_serverless_offline() -> Path:
    stamp = PEERS / f".installed-{'-'.join(f'{k}@{v}' for k, v in PINNED.items())}"
    if not stamp.exists():
        print(f"installing {', '.join(f'{k}@{v}' for k, v in PINNED.items())} into {PEERS} (npm)", flush=True)
        shutil.rmtree(PEERS, ignore_errors=True)
        PEERS.mkdir(parents=True)
        (PEERS / "package.json").write_text(json.dumps({"name": "peers", "private": True}))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *(f"{k}@{v}" for k, v in PINNED.items())],
            cwd=PEERS,
            check=True,
        )
        stamp.touch()
    return PEERS / "node_modules" / "serverless" / "bin" / "serverless.js"


class Offline:
    """``serverless offline`` serving the echo function; its Lambda endpoint on ``port``."""

    def __init__(self, cli: Path, *flags: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-sls-"))
        (self.dir / "serverless.yml").write_text(SERVERLESS_YML)
        (self.dir / "handler.py").write_text(ECHO)
        (self.dir / "node_modules").symlink_to(PEERS / "node_modules")
        self.port = free_port()
        env = {
            **os.environ,
            "SLS_TELEMETRY_DISABLED": "1",
            "SLS_NOTIFICATIONS_MODE": "off",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }
        self.log = open(self.dir / "offline.log", "wb")  # noqa: SIM115 - open while the peer runs
        self.proc = subprocess.Popen(
            ["node", str(cli), "offline", "--httpPort", str(free_port()), "--lambdaPort", str(self.port), *flags],
            cwd=self.dir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.path = "/2015-03-31/functions/bench-dev-echo/invocations"
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", self.path, body=PAYLOAD)
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serverless offline did not start:\n{(self.dir / 'offline.log').read_text()}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(port: int, path: str, seconds: int) -> dict[str, float]:
    out = {"warm_p50": statistics.median(keepalive_latency(port, "POST", path, PAYLOAD, 500))}
    for c in (1, 8, 32):
        wrk(port, path, c, 2, post=True)  # warm-up: as many environments as connections
        out[f"wrk_{c}"] = wrk(port, path, c, seconds, post=True)
    return out


def cold_p50(port: int, path: str, n: int = 30) -> float:
    """The round trip p50 of ``n`` invocations 0.2 s apart, each a cold start (after two more)."""
    times = []
    for i in range(n + 2):
        time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        t = time.perf_counter()
        conn.request("POST", path, body=PAYLOAD, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST {path} -> {resp.status}")
        if i >= 2:
            times.append((time.perf_counter() - t) * 1000)
        conn.close()
    return statistics.median(times)


def create_echo(server: Server) -> None:
    server.client().create_function(
        FunctionName="echo",
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": ECHO})},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--executor", default="local")
    args = parser.parse_args()
    cli = ensure_serverless_offline()
    env = {"LAMBDA_EXECUTOR": args.executor, "LAMBDA_SYNCHRONOUS_CREATE": "1", "SERVICES": "lambda"}
    server = Server(env=env)
    cold_server = Server(env={**env, "LAMBDA_KEEPALIVE_MS": "0"})
    server.start()
    cold_server.start()
    offline = Offline(cli)
    cold_offline = Offline(cli, "--reloadHandler")
    results: dict[str, list[dict[str, float]]] = {"locallambda": [], "serverless-offline": []}
    try:
        create_echo(server)
        create_echo(cold_server)
        path = "/2015-03-31/functions/echo/invocations"
        ours = (server.port, path, cold_server.port, path)
        theirs = (offline.port, offline.path, cold_offline.port, cold_offline.path)
        for r in range(args.rounds):
            order = [("locallambda", ours), ("serverless-offline", theirs)]
            for name, (port, path, cold_port, cold_path) in order if r % 2 == 0 else reversed(order):
                figures = measure(port, path, args.seconds)
                figures["cold_p50"] = cold_p50(cold_port, cold_path)
                results[name].append(figures)
                print(f"round {r + 1} {name:<19} {figures}", flush=True)
    finally:
        offline.stop()
        cold_offline.stop()
        server.stop()
        cold_server.stop()
    rows = (
        [("warm invoke p50, keep-alive (ms)", "warm_p50", False)]
        + [(f"wrk invokes/s, {c} connection{'s' if c > 1 else ''}", f"wrk_{c}", True) for c in (1, 8, 32)]
        + [("cold start p50, 0.2 s apart (ms)", "cold_p50", False)]
    )
    print(f"\n{args.rounds} rounds, executor {args.executor}; medians; ratio > 1: locallambda better")
    print(f"| measure | locallambda {args.executor} | serverless-offline {PINNED['serverless-offline']} | ratio |")
    print("|---|---|---|---|")
    for label, key, higher_better in rows:
        a = statistics.median(x[key] for x in results["locallambda"])
        b = statistics.median(x[key] for x in results["serverless-offline"])
        ratio = a / b if higher_better else b / a
        fmt = "{:,.0f}" if higher_better else "{:.2f}"
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
