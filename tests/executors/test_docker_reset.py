"""The docker executor's reset after a failed invocation: the container stays, its runtime starts
again, its ``/tmp`` is kept.

AWS (lambda-runtime-environment.html, "Failures during the invoke phase"): a timeout or a crash
during an invocation resets the execution environment; the runtime is initialized again as part
of the next invocation (not reported apart: no Init Duration), and ``/tmp`` is not cleared.
With ``docker-reuse`` the environment is the container: it is kept, and started again.

The images come from scripts/build-test-images.sh (see test_docker.py); without a daemon or
the images the tests skip with the reason, under CI=true they fail instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.executors.test_docker import MAPPING, containers, require_docker
from tests.invoke.conftest import stop_checked

pytestmark = pytest.mark.docker

# Appends to /tmp/marker on every invocation and returns it with its pid and a token drawn at
# import (a container's pid namespace starts anew with it, so pids may repeat across restarts);
# hangs past its timeout, exits or runs out of memory when the event says so.
MARKER = """\
import os, time, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    with open("/tmp/marker", "a") as fh:
        fh.write(event["write"] + "\\n")
    if event.get("how") == "hang":
        time.sleep(60)
    if event.get("how") == "exit":
        os._exit(1)
    if event.get("how") == "oom":
        hog = bytearray(400 << 20)
    with open("/tmp/marker") as fh:
        return {"marker": fh.read().splitlines(), "pid": os.getpid(), "token": TOKEN}
"""


@pytest.fixture(scope="module")
def reuse_server() -> Iterator[Server]:
    require_docker()
    server = Server(
        env={
            "LAMBDA_EXECUTOR": "docker-reuse",
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_RUNTIME_IMAGE_MAPPING": MAPPING,
            "LAMBDA_DOCKER_NETWORK": "host",
        }
    ).start()
    try:
        yield server
    finally:
        stop_checked(server)


def invoke(server: Server, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    out = server.client().invoke(FunctionName=name, Payload=json.dumps(payload), LogType="Tail")
    out["Payload"] = json.loads(out["Payload"].read())
    out["Log"] = base64.b64decode(out.get("LogResult", "")).decode()
    return out


@pytest.mark.parametrize(
    ("how", "error_type", "message"),
    [
        ("hang", "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
        ("exit", "Runtime.ExitError", "Runtime exited with error: exit status 1"),
        # AWS counts memory exhaustion among the invoke failures that reset an environment.
        ("oom", "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"),
    ],
    ids=["timeout", "runtime-exit", "out-of-memory"],
)
def test_the_container_is_kept_and_its_runtime_starts_again(
    reuse_server: Server, fn_name: str, how: str, error_type: str, message: str
) -> None:
    client = reuse_server.client()
    client.create_function(
        FunctionName=fn_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": MARKER})},
        Timeout=1 if how == "hang" else 30,  # only the timeout case waits for one
    )
    arn = wait_active(client, fn_name)["FunctionArn"]
    first = invoke(reuse_server, fn_name, {"write": "before"})
    assert first["Payload"]["marker"] == ["before"], first["Payload"]
    assert "Init Duration" in first["Log"]
    [container] = containers(f"locallambda.function={arn}")

    failed = invoke(reuse_server, fn_name, {"write": how, "how": how})
    rid = failed["ResponseMetadata"]["RequestId"]
    assert failed.get("FunctionError") == "Unhandled"
    assert failed["Payload"] == {"errorType": error_type, "errorMessage": f"RequestId: {rid} Error: {message}"}

    after = invoke(reuse_server, fn_name, {"write": "after"})
    assert "FunctionError" not in after, after["Payload"]
    # The same container, its /tmp as it was; a new runtime process (a new import).
    assert after["Payload"]["marker"] == ["before", how, "after"]
    assert after["Payload"]["token"] != first["Payload"]["token"]
    assert containers(f"locallambda.function={arn}") == [container]
    assert "Init Duration" not in after["Log"]  # a suppressed init, as AWS reports it
    assert invoke(reuse_server, fn_name, {"write": "warm"})["Payload"]["token"] == after["Payload"]["token"]
