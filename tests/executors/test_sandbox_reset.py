"""The sandbox executor's reset after an out-of-memory kill: the sandbox and its ``/tmp`` stay.

AWS counts memory exhaustion among the invoke failures after which it resets the execution
environment, and a reset does not clear ``/tmp`` (lambda-runtime-environment.html, "Failures
during the invoke phase"). The sandbox's ``/tmp`` is a tmpfs of its own namespaces: it is there
for the next invocation only because the sandbox is kept and its runtime started again in it.
Timeouts and crashes are proved in every executor by tests/invoke/test_environment_reset.py.

Skipped with the reason when this machine cannot run sandboxes, except under ``CI=true``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from locallambda.executors.sandbox import SandboxExecutor
from tests.conftest import Server
from tests.invoke.conftest import Functions, stop_checked

PROBLEM = SandboxExecutor.supported()

HOG = """\
import os, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    with open("/tmp/marker", "a") as fh:
        fh.write(event["write"] + "\\n")
    hold = [b"\\x01" * (8 << 20) for _ in range(event.get("mb", 0) // 8)]
    with open("/tmp/marker") as fh:
        return {"marker": fh.read().splitlines(), "token": TOKEN, "held": len(hold) * 8}
"""


@pytest.fixture(scope="module")
def sbx() -> Iterator[Server]:
    if PROBLEM is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox executor must work in CI: {PROBLEM}")
        pytest.skip(f"sandbox executor unavailable here: {PROBLEM}")
    server = Server(env={"LAMBDA_EXECUTOR": "sandbox", "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def functions(sbx: Server) -> Iterator[Functions]:
    fns = Functions(sbx)
    yield fns
    fns.cleanup()


def test_tmp_survives_an_out_of_memory_kill(functions: Functions) -> None:
    name = functions.python(HOG, memory=128, timeout=30)
    first = functions.invoke_json(name, {"write": "before"})
    out = functions.invoke(name, {"write": "hog", "mb": 1024})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out.get("FunctionError") == "Unhandled"
    assert json.loads(out["Payload"]) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
    }
    after = functions.invoke(name, {"write": "after", "mb": 16}, LogType="Tail")
    assert "FunctionError" not in after, after["Payload"]
    body = json.loads(after["Payload"])
    assert body["marker"] == ["before", "hog", "after"] and body["held"] == 16
    assert body["token"] != first["token"]  # the runtime started again
    assert "Init Duration" not in after["Log"]
