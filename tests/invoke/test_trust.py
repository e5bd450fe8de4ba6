"""The trust model: code inside a sandbox (or a container) cannot get host files through the API.

A function can reach the API on loopback (its SDK points here). The hot-reload bucket would let
it create a function whose code is any host directory and read it; the server refuses that to
callers inside an execution environment, whether they sign with the credentials the environment
got or not (the connection's process is looked up). Clients on the host keep hot reloading, and
``LOCALLAMBDA_HOT_RELOAD_ROOTS`` limits where it may point for everyone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active
from tests.invoke.conftest import EXECUTOR, HOST_PYTHON_RUNTIME, Functions

# Tries to publish a function whose code is the host's /etc, then to invoke it and read a file.
ESCAPE = """\
import json, os, urllib.request
import boto3

def attempt(client):
    try:
        client.create_function(FunctionName=os.environ["TARGET"], Runtime="python3.12", Role=os.environ["ROLE"],
                               Handler="x.handler", Code={"S3Bucket": "hot-reload", "S3Key": "/etc"})
        return "created"
    except Exception as exc:
        return getattr(exc, "response", {}).get("Error", {}).get("Code", repr(exc))

def handler(event, context):
    signed = boto3.client("lambda", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    # Someone else's credentials: the connection still tells where the call comes from.
    borrowed = boto3.client("lambda", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                            aws_access_key_id="test", aws_secret_access_key="test", aws_session_token=None)
    body = json.dumps({"FunctionName": os.environ["TARGET"] + "-raw", "Runtime": "python3.12",
                       "Role": os.environ["ROLE"], "Handler": "x.handler",
                       "Code": {"S3Bucket": "hot-reload", "S3Key": "/etc"}}).encode()
    raw = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/2015-03-31/functions", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        urllib.request.urlopen(raw, timeout=10)
        unsigned = "created"
    except urllib.error.HTTPError as err:
        unsigned = err.headers.get("x-amzn-ErrorType", str(err.code))
    return {"signed": attempt(signed), "borrowed": attempt(borrowed), "unsigned": unsigned,
            "key": os.environ["AWS_ACCESS_KEY_ID"][:4]}
"""


@pytest.mark.skipif(EXECUTOR == "local", reason="the local executor is trusted with the host (README)")
def test_a_sandboxed_function_cannot_mount_host_directories(functions: Functions) -> None:
    target = f"escape-{os.urandom(4).hex()}"
    name = functions.python(ESCAPE, env={"TARGET": target, "ROLE": ROLE}, timeout=30)
    seen = functions.invoke_json(name, {})
    assert seen == {
        "signed": "AccessDeniedException",
        "borrowed": "AccessDeniedException",
        "unsigned": "AccessDeniedException",
        "key": "LLFN",
    }
    names = {f["FunctionName"] for f in functions.client.list_functions()["Functions"]}
    assert target not in names and f"{target}-raw" not in names  # nothing was stored


def test_the_host_keeps_hot_reloading(functions: Functions, tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return 'hot'\n")
    name = f"hot-{os.urandom(4).hex()}"
    functions.client.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(tmp_path)},
    )
    functions.names.append(name)
    wait_active(functions.client, name)
    assert functions.invoke_json(name, {}) == "hot"


def test_hot_reload_roots_limit_where_code_may_come_from(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    allowed, elsewhere = tmp_path / "projects", tmp_path / "other"
    for d in (allowed / "fn", elsewhere):
        d.mkdir(parents=True)
    server = spawn_server(LOCALLAMBDA_HOT_RELOAD_ROOTS=str(allowed))
    client = server.client()
    kw = {"Runtime": HOST_PYTHON_RUNTIME, "Role": ROLE, "Handler": "handler.handler"}
    client.create_function(FunctionName="inside", Code={"S3Bucket": "hot-reload", "S3Key": str(allowed / "fn")}, **kw)
    for path in (str(elsewhere), str(allowed / "fn" / ".." / ".." / "other"), "/etc"):
        with pytest.raises(ClientError) as refused:
            client.create_function(FunctionName="outside", Code={"S3Bucket": "hot-reload", "S3Key": path}, **kw)
        err = refused.value.response["Error"]
        assert err["Code"] == "InvalidParameterValueException" and "LOCALLAMBDA_HOT_RELOAD_ROOTS" in err["Message"]
    assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == ["inside"]
    assert json.dumps(client.get_function(FunctionName="inside")["Configuration"]["CodeSha256"])
