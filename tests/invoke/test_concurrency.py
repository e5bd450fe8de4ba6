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
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.invoke.conftest import Functions

SLEEPER = """\
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return "done"
"""


def parallel(fns: Functions, name: str, n: int, sleep: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Invoke ``n`` times at once; (successes, error responses)."""
    ok: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        time.sleep(0.3 * (i > 0))  # the first one is surely running when the others arrive
        try:
            out = fns.invoke(name, {"sleep": sleep})
            with lock:
                ok.append(out)
        except ClientError as exc:
            with lock:
                errors.append(exc.response)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return ok, errors


def assert_throttled(err: dict[str, Any], reason: str) -> None:
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert err["Reason"] == reason
    assert err["Type"] == "User"


def test_reserved_concurrency_one(functions: Functions) -> None:
    name = functions.python(SLEEPER, timeout=5)
    put = functions.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert put["ReservedConcurrentExecutions"] == 1
    ok, errors = parallel(functions, name, 2, sleep=1.0)
    assert [json.loads(o["Payload"]) for o in ok] == ["done"]
    assert len(errors) == 1
    assert_throttled(errors[0], "ReservedFunctionConcurrentInvocationLimitExceeded")
    # the slot is free again once the first invocation ended
    assert functions.invoke_json(name, {}) == "done"


def test_reserved_concurrency_zero_throttles_everything(functions: Functions) -> None:
    name = functions.python(SLEEPER)
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


def test_account_limit(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LAMBDA_LIMITS_CONCURRENT_EXECUTIONS="2")
    fns = Functions(server)
    a = fns.python(SLEEPER, timeout=5)
    b = fns.python(SLEEPER, timeout=5)
    results: dict[str, Any] = {}

    def hold(key: str, name: str) -> None:
        results[key] = fns.invoke(name, {"sleep": 1.0})

    holders = [threading.Thread(target=hold, args=("a", a)), threading.Thread(target=hold, args=("b", b))]
    for t in holders:
        t.start()
    time.sleep(0.5)  # both running: the account's two executions are in use
    with pytest.raises(ClientError) as exc:
        fns.client.invoke(FunctionName=a, Payload=b"{}")
    assert_throttled(exc.value.response, "ConcurrentInvocationLimitExceeded")
    for t in holders:
        t.join(10)
    assert json.loads(results["a"]["Payload"]) == json.loads(results["b"]["Payload"]) == "done"
    assert fns.invoke_json(a, {}) == "done"
