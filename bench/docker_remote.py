"""The docker executor against a remote engine beside the local one: cold start and warm invoke.

    python bench/docker_remote.py [--remote tcp://127.0.0.1:23750] [--quick]

Three set-ups, one server each (``docker-reuse``, host networking, the test image of
scripts/build-test-images.sh): the engine on this machine's unix socket with the code mounted
(the default there), the same engine with the code copied (``LAMBDA_DOCKER_CODE=copy``: the cost
of copying alone), and the second engine of scripts/docker-remote-up.sh on a loopback TCP socket
(copied, as for any ``tcp://`` ``DOCKER_HOST``). For each: warm invoke p50/p99 of a Python echo
function through a keep-alive HTTP client, and cold start p50/p99 (``LAMBDA_KEEPALIVE_MS=0``: a
new container per invoke) of that function and of one with 8 MB of code. No thresholds: figures
only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.invoke import DOCKER_IMAGE, ECHO, PAYLOAD, create, keepalive_latency, pct  # noqa: E402

from tests.conftest import Server, make_zip  # noqa: E402

PATH = "/2015-03-31/functions/{}/invocations"


def _big_zip() -> bytes:
    # Incompressible: the archive copied in is as large as the code.
    files: dict[str, str | bytes] = {"handler.py": ECHO}
    files.update({f"data/blob{i}.bin": os.urandom(1024 * 1024) for i in range(8)})
    return make_zip(files)


def run(env: dict[str, str], quick: bool) -> dict[str, float]:
    n, cold_n = (300, 10) if quick else (2000, 30)
    base = {
        "LAMBDA_EXECUTOR": "docker-reuse",
        "LAMBDA_SYNCHRONOUS_CREATE": "1",
        "LAMBDA_RUNTIME_IMAGE_MAPPING": json.dumps({"python3.11": DOCKER_IMAGE}),
        "LAMBDA_DOCKER_NETWORK": "host",
        **env,
    }
    res: dict[str, float] = {}
    with Server(env=base) as server:
        create(server, "echo", make_zip({"handler.py": ECHO}))
        warm = keepalive_latency(server.port, "POST", PATH.format("echo"), PAYLOAD, n)
        res["warm_p50"], res["warm_p99"] = statistics.median(warm), pct(warm, 0.99)
    with Server(env={**base, "LAMBDA_KEEPALIVE_MS": "0"}) as server:
        create(server, "echo", make_zip({"handler.py": ECHO}))
        create(server, "big", _big_zip())
        for name, key in (("echo", "cold"), ("big", "cold_8mb")):
            cold = keepalive_latency(server.port, "POST", PATH.format(name), PAYLOAD, cold_n, warmup=2)
            res[f"{key}_p50"], res[f"{key}_p99"] = statistics.median(cold), pct(cold, 0.99)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--remote", default=os.environ.get("LOCALLAMBDA_TEST_DOCKER_REMOTE", "tcp://127.0.0.1:23750"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    setups = {
        "local engine, mounted": {"DOCKER_HOST": "unix:///var/run/docker.sock"},
        "local engine, copied": {"DOCKER_HOST": "unix:///var/run/docker.sock", "LAMBDA_DOCKER_CODE": "copy"},
        "remote engine (tcp), copied": {"DOCKER_HOST": args.remote},
    }
    results = {name: run(env, args.quick) for name, env in setups.items()}
    print()
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for label, key in (
        ("warm invoke p50 / p99 (ms)", "warm"),
        ("cold start p50 / p99 (ms)", "cold"),
        ("cold start, 8 MB of code, p50 / p99 (ms)", "cold_8mb"),
    ):
        cells = [f"{r[key + '_p50']:.2f} / {r[key + '_p99']:.2f}" for r in results.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
