"""Provisioned concurrency pre-starts environments: IN_PROGRESS → READY, then invokes are warm."""

from __future__ import annotations

import concurrent.futures
import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.invoke.conftest import EXECUTOR, Functions, runtime_processes

PID = "import os\ndef handler(event, context):\n    return {'pid': os.getpid()}\n"


def wait_ready(client: Any, name: str, qualifier: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        cfg: dict[str, Any] = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if cfg["Status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return cfg
        time.sleep(0.05)


def test_provisioned_environments_are_started_ahead_and_serve_warm(functions: Functions) -> None:
    c = functions.client
    name = functions.python(PID, Publish=True)
    before = set(runtime_processes(functions.server))
    out = c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert out["Status"] == "IN_PROGRESS"
    cfg = wait_ready(c, name, "1")
    assert cfg["Status"] == "READY"
    assert cfg["AvailableProvisionedConcurrentExecutions"] == 2
    # Two runtimes were started before any invoke.
    started = set(runtime_processes(functions.server)) - before
    assert len([p for p in started if "awslambdaric" in runtime_processes(functions.server)[p]]) == 2

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: functions.invoke(name, {}, Qualifier="1", LogType="Tail"), range(2)))
    for r in results:
        assert "FunctionError" not in r
        # No init on the invoke path: the REPORT line carries no Init Duration.
        assert "Init Duration" not in r["Log"]


def test_provisioned_for_an_alias_and_released_on_delete(functions: Functions) -> None:
    c = functions.client
    name = functions.python(PID, Publish=True)
    c.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert wait_ready(c, name, "live")["Status"] == "READY"
    out = functions.invoke(name, {}, Qualifier="live", LogType="Tail")
    assert "Init Duration" not in out["Log"]
    assert out["ExecutedVersion"] == "1"
    pid = __import__("json").loads(out["Payload"])["pid"]
    c.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    if EXECUTOR != "local":
        return  # the pid is the sandbox's own, not the host's: nothing to look for here
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the provisioned environment was not stopped after its configuration was deleted")


INIT_TYPE = "import os\ndef handler(event, context):\n    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"


def test_provisioned_concurrency_counts_against_reserved(functions: Functions) -> None:
    """AWS's recorded scenario (LocalStack's test_provisioned_concurrency_on_reserved...): with
    reserved concurrency 2 all taken by provisioned concurrency on version 1, $LATEST is
    throttled, the reservation cannot go below the provisioned total, and no more can be
    provisioned; the provisioned environments say so in AWS_LAMBDA_INITIALIZATION_TYPE."""
    c = functions.client
    name = functions.python(INIT_TYPE, Publish=True)
    c.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert wait_ready(c, name, "1")["Status"] == "READY"
    assert functions.invoke_json(name, {}, Qualifier="1") == "provisioned-concurrency"

    with pytest.raises(ClientError) as throttled:
        c.invoke(FunctionName=name, Payload=b"{}")
    err = throttled.value.response
    assert (err["Error"]["Code"], err["Error"]["Message"], err["Reason"]) == (
        "TooManyRequestsException",
        "Rate Exceeded.",
        "ReservedFunctionConcurrentInvocationLimitExceeded",
    )
    with pytest.raises(ClientError) as lower:
        c.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert lower.value.response["Error"]["Message"] == (
        " ReservedConcurrentExecutions  1 should not be lower than function's total provisioned concurrency [2]."
    )
    c.publish_version(FunctionName=name, Description="v2")
    with pytest.raises(ClientError) as more:
        c.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=3)
    assert more.value.response["Error"]["Message"] == (
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function"
    )
    # Without provisioned concurrency taking it all, $LATEST runs on demand.
    c.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert functions.invoke_json(name, {}) == "on-demand"
