"""The environment a function sees, as AWS sets it.

The names and values come from AWS's recorded introspection (test_introspection_invoke in
LocalStack's test_lambda_common snapshots); paths differ by design (the process executor runs the
code where it is stored, not in /var/task). ``AWS_ENDPOINT_URL`` points SDK calls made inside a
function back at the server, unless ``LAMBDA_DISABLE_AWS_ENDPOINT_URL=1``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions

PY_INTROSPECT = """\
import os

def handler(event, context):
    return {"env": dict(os.environ), "cwd": os.getcwd(), "stream": context.log_stream_name,
            "files": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"]))}
"""

NODE_INTROSPECT = """\
exports.handler = async (event, context) => ({env: process.env, cwd: process.cwd(), stream: context.logStreamName});
"""

# What AWS sets for every runtime, with the values that do not depend on the host.
AWS_KEYS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "LANG",
    "PATH",
    "TZ",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
}
STREAM = re.compile(r"\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}")


def check_common(
    env: dict[str, str], name: str, *, memory: str, version: str = "$LATEST", region: str = "us-east-1", handler: str
) -> None:
    missing = AWS_KEYS - set(env)
    assert not missing, f"missing: {sorted(missing)}"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == version
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == memory
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert STREAM.fullmatch(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert f"[{version}]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == region
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])  # host:port, no scheme
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["_HANDLER"] == handler
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    if "AWS_EXECUTION_ENV" in env:  # a managed runtime (a provided bootstrap is a shell script of its own)
        assert env["SHLVL"] == "0"  # as AWS's runtimes show it (LocalStack's test_introspection_invoke)
    assert "PYTHONUNBUFFERED" not in env  # AWS sets none
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == f"{env['_AWS_XRAY_DAEMON_ADDRESS']}:{env['_AWS_XRAY_DAEMON_PORT']}"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert env[key], key


def test_python_environment(functions: Functions) -> None:
    name = functions.python(PY_INTROSPECT, memory=256, env={"TEST_KEY": "TEST_VAL"})
    seen = functions.invoke_json(name, {"simple": "payload"})
    env = seen["env"]
    check_common(env, name, memory="256", handler="handler.handler")
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{HOST_PYTHON_RUNTIME}"
    assert env["TEST_KEY"] == "TEST_VAL"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["stream"]
    # the task root holds the function's code and is the working directory
    assert os.path.realpath(env["LAMBDA_TASK_ROOT"]) == os.path.realpath(seen["cwd"])
    assert seen["files"] == ["handler.py"]
    # awslambdaric sets the trace header of the invocation
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    # none of the server's own environment leaks in
    assert "LAMBDA_SYNCHRONOUS_CREATE" not in env and "LAMBDA_EXECUTOR" not in env


def test_published_version_and_region(srv: Server) -> None:
    fns = Functions(srv)
    fns.client = srv.client(region="eu-west-1")
    try:
        name = fns.python(PY_INTROSPECT)
        fns.client.publish_version(FunctionName=name)
        env = fns.invoke_json(name, {}, Qualifier="1")["env"]
        check_common(env, name, memory="128", version="1", region="eu-west-1", handler="handler.handler")
    finally:
        fns.cleanup()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_environment(functions: Functions) -> None:
    name = functions.create(
        {"index.js": NODE_INTROSPECT}, runtime="nodejs20.x", handler="index.handler", env={"TEST_KEY": "TEST_VAL"}
    )
    seen = functions.invoke_json(name, {})
    env = seen["env"]
    check_common(env, name, memory="128", handler="index.handler")
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["TEST_KEY"] == "TEST_VAL"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == seen["stream"]
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_provided_environment(functions: Functions) -> None:
    bootstrap = (
        '#!/bin/bash\nset -eu\nAPI="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"\n'
        'while true; do\n  H=$(mktemp)\n  curl -sS -D "$H" -o /dev/null "$API/invocation/next"\n'
        "  RID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | cut -d: -f2)\n"
        '  jq -n env | curl -sS -o /dev/null -X POST "$API/invocation/$RID/response" --data-binary @-\ndone\n'
    )
    name = functions.create(
        {"bootstrap": bootstrap}, modes={"bootstrap": 0o755}, runtime="provided.al2023", handler="function.handler"
    )
    env = functions.invoke_json(name, {})
    check_common(env, name, memory="128", handler="function.handler")
    # an OS-only runtime has no AWS_EXECUTION_ENV (AWS's introspection of provided.al2023)
    assert "AWS_EXECUTION_ENV" not in env


def test_user_variables_override_the_modifiable_defaults(functions: Functions) -> None:
    name = functions.python(PY_INTROSPECT, env={"TZ": "Europe/Berlin", "LANG": "C.UTF-8", "MY_VAR": "x y z"})
    env = functions.invoke_json(name, {})["env"]
    assert (env["TZ"], env["LANG"], env["MY_VAR"]) == ("Europe/Berlin", "C.UTF-8", "x y z")


def test_reserved_variables_are_refused(functions: Functions) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as exc:
        functions.python(PY_INTROSPECT, env={"AWS_REGION": "eu-north-1"})
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterValueException"
    assert err["Message"].endswith("Reserved keys used in this request: AWS_REGION")


SDK_INSIDE = """\
import os
import boto3

def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"endpoint": os.environ.get("AWS_ENDPOINT_URL"), "names": names}
"""


def test_sdk_calls_inside_reach_the_server(functions: Functions) -> None:
    pytest.importorskip("boto3")
    name = functions.python(SDK_INSIDE, timeout=10)
    seen = functions.invoke_json(name, {})
    assert seen["endpoint"] == functions.server.url
    assert name in seen["names"]


def test_disable_aws_endpoint_url(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LAMBDA_DISABLE_AWS_ENDPOINT_URL="1")
    fns = Functions(server)
    name = fns.python(PY_INTROSPECT)
    env: dict[str, Any] = fns.invoke_json(name, {})["env"]
    assert "AWS_ENDPOINT_URL" not in env
    check_common(env, name, memory="128", handler="handler.handler")


# -- AWS_LAMBDA_EXEC_WRAPPER (runtimes-modify.html#runtime-wrapper) -----------------------------

WRAPPER = '#!/bin/sh\nexport WRAPPER_VAR="set by the wrapper"\nexec "$@"\n'


@pytest.mark.parametrize("runtime", ["python", "nodejs20.x"])
def test_exec_wrapper_starts_the_runtime(functions: Functions, runtime: str) -> None:
    if runtime == "python":
        code: dict[str, str | bytes] = {"handler.py": PY_INTROSPECT, "wrapper": WRAPPER}
        kw: dict[str, Any] = {}
    else:
        code, kw = {"index.js": NODE_INTROSPECT, "wrapper": WRAPPER}, {"runtime": runtime, "handler": "index.handler"}
    name = functions.create(code, env={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper"}, modes={"wrapper": 0o755}, **kw)
    env = functions.invoke_json(name, {})["env"]
    assert env["WRAPPER_VAR"] == "set by the wrapper"
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/var/task/wrapper"


def test_missing_exec_wrapper_is_an_exit_error(functions: Functions) -> None:
    # AWS's answer, recorded in LocalStack's test_lambda_runtime_wrapper_not_found.
    name = functions.create({"handler.py": PY_INTROSPECT}, env={"AWS_LAMBDA_EXEC_WRAPPER": "/idontexist.sh"})
    out = functions.invoke(name, {})
    rid = out["ResponseMetadata"]["RequestId"]
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"]) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 127",
    }
