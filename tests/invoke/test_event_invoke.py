"""Asynchronous invocations: InvocationType=Event and the deprecated InvokeAsync.

AWS answers 202 at once with an empty payload (its recorded test_invocation_type_event), then
runs the function in the background with the same request id; InvokeAsync answers
``{"Status": 202}``. Every test waits for the background run it started.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.invoke.conftest import Functions

MARKER = """\
import json, os

def handler(event, context):
    print("event run", context.aws_request_id)
    with open(os.path.join(event["dir"], context.aws_request_id), "w") as fh:
        json.dump({"event": event, "version": context.function_version}, fh)
    if event.get("fail"):
        raise RuntimeError("failing on purpose")
    return "not returned to anyone"
"""


def wait_for(path: Path, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.02)
    raise AssertionError(f"the function never ran ({path.name} missing)")


def history(server_url: str, name: str) -> list[str]:
    with urllib.request.urlopen(f"{server_url}/_aws/lambda/logs/us-east-1/{name}") as resp:
        return [entry["line"] for entry in json.load(resp)["lines"]]


def test_event_invoke(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    started = time.monotonic()
    resp = functions.client.invoke(FunctionName=name, InvocationType="Event",
                                   Payload=json.dumps({"dir": str(tmp_path), "k": "v"}))
    assert time.monotonic() - started < 1.0
    assert resp["StatusCode"] == 202
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp and "ExecutedVersion" not in resp and "LogResult" not in resp
    rid = resp["ResponseMetadata"]["RequestId"]
    # the function runs in the background, with the invocation's request id
    ran = wait_for(tmp_path / rid)
    assert ran == {"event": {"dir": str(tmp_path), "k": "v"}, "version": "$LATEST"}
    # and its run is in the function's log history
    deadline = time.monotonic() + 5
    while f"END RequestId: {rid}" not in history(functions.server.url, name) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = history(functions.server.url, name)
    assert f"START RequestId: {rid} Version: $LATEST" in lines
    assert f"event run {rid}" in lines
    assert any(line.startswith(f"REPORT RequestId: {rid}\tDuration: ") for line in lines)


def test_event_invoke_of_a_version(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    functions.client.publish_version(FunctionName=name)
    resp = functions.client.invoke(FunctionName=name, Qualifier="1", InvocationType="Event",
                                   Payload=json.dumps({"dir": str(tmp_path)}))
    assert resp["StatusCode"] == 202
    assert wait_for(tmp_path / resp["ResponseMetadata"]["RequestId"])["version"] == "1"


def test_event_invoke_cli(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    proc = functions.server.cli("lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
                                "--payload", json.dumps({"dir": str(tmp_path)}), str(tmp_path / "out.json"))
    assert json.loads(proc.stdout) == {"StatusCode": 202}
    assert (tmp_path / "out.json").read_bytes() == b""
    deadline = time.monotonic() + 10
    while not [p for p in tmp_path.iterdir() if p.name != "out.json"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p for p in tmp_path.iterdir() if p.name != "out.json"], "the function never ran"


def test_failed_event_without_retries_runs_once(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    functions.client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    resp = functions.client.invoke(FunctionName=name, InvocationType="Event",
                                   Payload=json.dumps({"dir": str(tmp_path), "fail": True}))
    assert resp["StatusCode"] == 202
    wait_for(tmp_path / resp["ResponseMetadata"]["RequestId"])
    time.sleep(0.5)
    assert len(list(tmp_path.iterdir())) == 1


def test_event_invoke_not_found(functions: Functions) -> None:
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName="no-such-function", InvocationType="Event", Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_invoke_async(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(MARKER)
    resp = functions.client.invoke_async(FunctionName=name, InvokeArgs=json.dumps({"dir": str(tmp_path), "old": "api"}))
    assert resp["Status"] == 202
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 202
    ran = wait_for(tmp_path / resp["ResponseMetadata"]["RequestId"])
    assert ran["event"] == {"dir": str(tmp_path), "old": "api"}
