"""Asynchronous invocations: InvocationType=Event and the deprecated InvokeAsync.

AWS answers 202 at once with an empty payload (its recorded test_invocation_type_event), then
runs the function in the background with the same request id; InvokeAsync answers
``{"Status": 202}``. Every test waits for the background run it started, seen in the function's
log history (``/_aws/lambda/logs``, what ``locallambda logs`` reads).
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.invoke.conftest import Functions

# The function's log line is the proof it ran (the log history works with every executor).
MARKER = """\
import json, time

def handler(event, context):
    print("event run", context.aws_request_id, context.function_version, json.dumps(event, sort_keys=True))
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("failing on purpose")
    return "not returned to anyone"
"""


def history(server_url: str, name: str) -> list[str]:
    with urllib.request.urlopen(f"{server_url}/_aws/lambda/logs/us-east-1/{name}") as resp:
        return [entry["line"] for entry in json.load(resp)["lines"]]


def wait_for_run(fns: Functions, name: str, rid: str, timeout: float = 10.0) -> list[str]:
    """The log history once the invocation ``rid`` has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = history(fns.server.url, name)
        if any(line.startswith(f"REPORT RequestId: {rid}\t") for line in lines):
            return lines
        time.sleep(0.02)
    raise AssertionError(f"the function never ran {rid}")


def runs(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("event run ")]


def test_event_invoke(functions: Functions) -> None:
    name = functions.python(MARKER, timeout=10)
    resp = functions.client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"k": "v", "sleep": 3}')
    rid = resp["ResponseMetadata"]["RequestId"]
    # Answered at once: the run (3 s) has not ended when the 202 arrives.
    assert not any(line.startswith(f"REPORT RequestId: {rid}") for line in history(functions.server.url, name))
    assert resp["StatusCode"] == 202
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp and "ExecutedVersion" not in resp and "LogResult" not in resp
    # the function runs in the background, with the invocation's request id
    lines = wait_for_run(functions, name, rid)
    assert runs(lines) == [f'event run {rid} $LATEST {{"k": "v", "sleep": 3}}']
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    assert lines[start + 2] == f"END RequestId: {rid}"


def test_event_invoke_of_a_version(functions: Functions) -> None:
    name = functions.python(MARKER)
    functions.client.publish_version(FunctionName=name)
    resp = functions.client.invoke(FunctionName=name, Qualifier="1", InvocationType="Event", Payload=b"{}")
    assert resp["StatusCode"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    assert runs(wait_for_run(functions, name, rid)) == [f"event run {rid} 1 {{}}"]


def test_event_invoke_cli(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    proc = functions.server.cli(
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--invocation-type",
        "Event",
        "--payload",
        '{"via": "cli"}',
        str(tmp_path / "out.json"),
    )
    assert json.loads(proc.stdout) == {"StatusCode": 202}
    assert (tmp_path / "out.json").read_bytes() == b""
    deadline = time.monotonic() + 10
    while not runs(history(functions.server.url, name)) and time.monotonic() < deadline:
        time.sleep(0.02)
    [line] = runs(history(functions.server.url, name))
    assert line.endswith(' $LATEST {"via": "cli"}')


def test_failed_event_without_retries_runs_once(functions: Functions) -> None:
    name = functions.python(MARKER)
    functions.client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    resp = functions.client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    assert resp["StatusCode"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    wait_for_run(functions, name, rid)
    time.sleep(0.5)
    lines = history(functions.server.url, name)
    assert len(runs(lines)) == 1
    assert any("failing on purpose" in line for line in lines)


def test_event_invoke_not_found(functions: Functions) -> None:
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName="no-such-function", InvocationType="Event", Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_invoke_async(functions: Functions) -> None:
    name = functions.python(MARKER)
    resp = functions.client.invoke_async(FunctionName=name, InvokeArgs=b'{"old": "api"}')
    assert resp["Status"] == 202
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    rid = resp["ResponseMetadata"]["RequestId"]
    assert runs(wait_for_run(functions, name, rid)) == [f'event run {rid} $LATEST {{"old": "api"}}']
