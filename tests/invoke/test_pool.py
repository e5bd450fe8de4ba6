"""The environment pool: warm reuse, keep-alive, stay-open mode, parallel environments.

Each environment is told apart by a token its module draws once at import (and, with the process
executor, its pid); a cold start is also visible in the REPORT line, which carries ``Init
Duration`` only then.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import Server
from tests.invoke.conftest import EXECUTOR, Functions, runtime_processes

IDENTITY = """\
import os, time, uuid

TOKEN = uuid.uuid4().hex
CALLS = 0

def handler(event, context):
    global CALLS
    CALLS += 1
    started = time.time()
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"token": TOKEN, "pid": os.getpid(), "calls": CALLS, "started": started, "ended": time.time()}
"""


def call(fns: Functions, name: str, payload: dict[str, Any] | None = None, **kw: Any) -> tuple[dict[str, Any], bool]:
    """The function's answer, and whether this invocation was a cold start."""
    out = fns.invoke(name, payload or {}, LogType="Tail", **kw)
    assert "FunctionError" not in out, out["Payload"]
    return json.loads(out["Payload"]), "\tInit Duration: " in out["Log"]


def test_warm_reuse(functions: Functions) -> None:
    name = functions.python(IDENTITY)
    results = [call(functions, name) for _ in range(5)]
    assert [cold for _, cold in results] == [True, False, False, False, False]
    assert len({r["token"] for r, _ in results}) == 1
    assert [r["calls"] for r, _ in results] == [1, 2, 3, 4, 5]


def test_versions_have_their_own_environments(functions: Functions) -> None:
    name = functions.python(IDENTITY)
    functions.client.publish_version(FunctionName=name)
    latest, _ = call(functions, name)
    v1, cold = call(functions, name, Qualifier="1")
    assert cold and v1["token"] != latest["token"]
    assert call(functions, name, Qualifier="1")[0]["token"] == v1["token"]
    assert call(functions, name)[0]["token"] == latest["token"]


def test_parallel_invocations_start_more_environments(functions: Functions) -> None:
    name = functions.python(IDENTITY, timeout=10)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run() -> None:
        answer, _ = call(functions, name, {"sleep": 1})
        with lock:
            results.append(answer)

    for round_ in range(2):
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        batch = results[round_ * 4 :]
        assert len(batch) == 4
        # They ran at the same time: every invocation started before any of them ended.
        assert max(r["started"] for r in batch) < min(r["ended"] for r in batch), f"round {round_} ran in turns"
    first, second = results[:4], results[4:]
    if EXECUTOR == "local":
        assert len({r["pid"] for r in first}) == 4  # four runtime processes on the host
    assert len({r["token"] for r in first}) == 4
    # the second round is served by the four warm environments of the first
    assert {r["token"] for r in second} == {r["token"] for r in first}
    assert sorted(r["calls"] for r in second) == [2, 2, 2, 2]


def test_keepalive_zero_makes_every_invoke_cold(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    fns = Functions(server)
    name = fns.python(IDENTITY)
    results = [call(fns, name) for _ in range(3)]
    assert [cold for _, cold in results] == [True, True, True]
    assert len({r["token"] for r, _ in results}) == 3
    assert [r["calls"] for r, _ in results] == [1, 1, 1]
    deadline = time.monotonic() + 3
    while runtime_processes(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not runtime_processes(server), "no environment is kept with LAMBDA_KEEPALIVE_MS=0"


def test_keepalive_expiry(spawn_server: Callable[..., Server]) -> None:
    # The exact window is tested in-process with a manual clock (tests/unit/test_pool.py); here
    # a real server stops an idle environment once the keep-alive has passed.
    server = spawn_server(LAMBDA_KEEPALIVE_MS="2000")
    fns = Functions(server)
    name = fns.python(IDENTITY)
    first, cold1 = call(fns, name)
    second, cold2 = call(fns, name)  # idle far less than 2 s: warm
    assert (cold1, cold2) == (True, False) and second["token"] == first["token"]
    assert runtime_processes(server)
    deadline = time.monotonic() + 30
    while runtime_processes(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not runtime_processes(server), "the idle environment outlived LAMBDA_KEEPALIVE_MS"
    third, cold3 = call(fns, name)
    assert cold3 and third["token"] != first["token"] and third["calls"] == 1


def test_stay_open_mode_off_starts_a_runtime_per_invoke(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LAMBDA_STAY_OPEN_MODE="0")
    fns = Functions(server)
    name = fns.python(IDENTITY)
    results = [call(fns, name) for _ in range(3)]
    assert [cold for _, cold in results] == [True, True, True]
    assert len({r["token"] for r, _ in results}) == 3
    assert [r["calls"] for r, _ in results] == [1, 1, 1]
