"""Throttling: reserved concurrency and the account's concurrency limit.

AWS's recorded answers (test_lambda.py::TestLambdaConcurrency): 429 TooManyRequestsException,
message ``Rate Exceeded.``, ``Reason`` ReservedFunctionConcurrentInvocationLimitExceeded for a
function at its reserved concurrency (0 included), ConcurrentInvocationLimitExceeded when the
account's unreserved pool is used up.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.invoke.conftest import EXECUTOR, Functions

# Held invocations meet the test in the host's /tmp.
host_tmp = pytest.mark.skipif(EXECUTOR != "local", reason="shares /tmp with the function (process executor)")

# Holds its execution until the test releases it: started → writes ``started``; then waits
# (at most 5 s) for ``release`` to exist.
HOLDER = """\
import os, time

def handler(event, context):
    if "dir" in event:
        open(os.path.join(event["dir"], context.aws_request_id), "w").close()
        deadline = time.time() + 5
        while not os.path.exists(os.path.join(event["dir"], "release")) and time.time() < deadline:
            time.sleep(0.01)
    return "done"
"""


class Held:
    """Invocations running in threads until released."""

    def __init__(self, fns: Functions, tmp_path: Path) -> None:
        self.fns = fns
        self.dir = tmp_path
        self.threads: list[threading.Thread] = []
        self.results: list[Any] = []

    def start(self, name: str) -> None:
        before = self.running()
        thread = threading.Thread(target=lambda: self.results.append(self.fns.invoke(name, {"dir": str(self.dir)})))
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 10
        while self.running() == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.running() == before + 1, "the held invocation did not start"

    def running(self) -> int:
        return sum(1 for p in self.dir.iterdir() if p.name != "release")

    def release(self) -> list[Any]:
        (self.dir / "release").touch()
        for t in self.threads:
            t.join(10)
        return [json.loads(r["Payload"]) for r in self.results]


def assert_throttled(err: dict[str, Any], reason: str) -> None:
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert err["Reason"] == reason
    assert err["Type"] == "User"


@host_tmp
def test_reserved_concurrency_one(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(HOLDER, timeout=8)
    put = functions.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1
    held = Held(functions, tmp_path)
    held.start(name)
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=b"{}")
    assert_throttled(exc.value.response, "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert held.release() == ["done"]
    # the slot is free again once the first invocation ended
    assert functions.invoke_json(name, {}) == "done"


def test_reserved_concurrency_zero_throttles_everything(functions: Functions) -> None:
    name = functions.python(HOLDER)
    functions.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            functions.client.invoke(FunctionName=name, Payload=b"{}")
        assert_throttled(exc.value.response, "ReservedFunctionConcurrentInvocationLimitExceeded")
    # an Event invoke is still accepted (AWS then hands the event to the on-failure destination)
    assert functions.client.invoke(FunctionName=name, Payload=b"{}", InvocationType="Event")["StatusCode"] == 202
    # the CLI shows the same error
    proc = functions.server.cli("lambda", "invoke", "--function-name", name, "/dev/null", check=False)
    assert proc.returncode != 0
    assert "TooManyRequestsException" in proc.stderr and "Rate Exceeded." in proc.stderr
    # removing the reservation lifts the throttle
    functions.client.delete_function_concurrency(FunctionName=name)
    assert functions.invoke_json(name, {}) == "done"


@host_tmp
def test_account_limit(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    server = spawn_server(LAMBDA_LIMITS_CONCURRENT_EXECUTIONS="2")
    fns = Functions(server)
    a = fns.python(HOLDER, timeout=8)
    b = fns.python(HOLDER, timeout=8)
    held = Held(fns, tmp_path)
    held.start(a)
    held.start(b)  # the account's two executions are in use
    with pytest.raises(ClientError) as exc:
        fns.client.invoke(FunctionName=a, Payload=b"{}")
    assert_throttled(exc.value.response, "ConcurrentInvocationLimitExceeded")
    assert held.release() == ["done", "done"]
    assert fns.invoke_json(a, {}) == "done"
