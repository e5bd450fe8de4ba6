"""Python functions run for real (awslambdaric) through boto3 and the AWS CLI.

Expected payloads and texts are AWS's, from its recorded answers (LocalStack's parity snapshots
of test_lambda.py and test_lambda_common.py): the handler error document, Sandbox.Timedout,
Runtime.ExitError, the init error passed through, DryRun's 204, the payload checks.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, make_zip, wait_active, wait_updated
from tests.invoke.conftest import Functions, unique

ECHO = "def handler(event, context):\n    return event\n"


def request_id(resp: dict[str, Any]) -> str:
    return resp["ResponseMetadata"]["RequestId"]


# -- the happy path ---------------------------------------------------------------------------


def test_echo(functions: Functions) -> None:
    name = functions.python(ECHO)
    out = functions.invoke(name, {"hello": "world", "n": [1, 2.5, None]})
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out
    assert json.loads(out["Payload"]) == {"hello": "world", "n": [1, 2.5, None]}
    # no payload at all: the function receives {}
    assert functions.invoke_json(name) == {}
    # a qualified ARN works the same
    arn = functions.client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert functions.invoke_json(f"{arn}:$LATEST", {"q": 1}) == {"q": 1}


def test_functions_run_a_little_below_the_server(functions: Functions) -> None:
    """executors/spawn.py's FUNCTION_NICE (local and sandbox executors; a container's processes
    are the engine's)."""
    from locallambda.executors.spawn import FUNCTION_NICE

    name = functions.python("import os\ndef handler(event, context):\n    return os.getpriority(os.PRIO_PROCESS, 0)\n")
    assert functions.server.proc is not None
    server = os.getpriority(os.PRIO_PROCESS, functions.server.proc.pid)
    assert functions.invoke_json(name) == server + FUNCTION_NICE


def test_echo_large_payload(functions: Functions) -> None:
    # AWS's test_large_payloads: ~5 MB in, the same 5 MB out.
    name = functions.python(ECHO)
    payload = {"test": "test123456" * 100 * 1000 * 5}
    assert functions.invoke_json(name, payload) == payload


def test_context_and_request_id(functions: Functions) -> None:
    name = functions.python(
        "def handler(event, context):\n"
        "    return {'rid': context.aws_request_id, 'name': context.function_name,\n"
        "            'version': context.function_version, 'arn': context.invoked_function_arn,\n"
        "            'memory': context.memory_limit_in_mb, 'group': context.log_group_name,\n"
        "            'stream': context.log_stream_name,\n"
        "            'remaining': context.get_remaining_time_in_millis()}\n",
        memory=256,
        timeout=5,
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}")
    ctx = json.loads(resp["Payload"].read())
    arn = functions.client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    # The Lambda request id is the Invoke's x-amzn-RequestId.
    assert ctx["rid"] == request_id(resp)
    assert ctx["name"] == name and ctx["version"] == "$LATEST" and ctx["arn"] == arn
    assert ctx["memory"] == "256"
    assert ctx["group"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["stream"])
    assert 4000 < ctx["remaining"] <= 5000


def test_cli_invoke(functions: Functions, tmp_path: Any) -> None:
    name = functions.python(ECHO)
    outfile = tmp_path / "out.json"
    proc = functions.server.cli(
        "lambda", "invoke", "--function-name", name, "--payload", '{"via": "cli"}', str(outfile)
    )
    assert json.loads(proc.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(outfile.read_text()) == {"via": "cli"}


# -- errors of the function -------------------------------------------------------------------


def test_handler_error(functions: Functions) -> None:
    # AWS's test_lambda_handler_error and test_uncaught_exception_invoke[python].
    name = functions.python('def handler(event, context):\n    raise Exception("Handler fails")\n')
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert resp["ExecutedVersion"] == "$LATEST"
    body = json.loads(resp["Payload"].read())
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorMessage"] == "Handler fails"
    assert body["errorType"] == "Exception"
    assert body["requestId"] == request_id(resp)
    assert len(body["stackTrace"]) == 1
    assert re.fullmatch(
        r'  File "/.+/handler\.py", line 2, in handler\n    raise Exception\("Handler fails"\)\n', body["stackTrace"][0]
    )
    # the environment survives a handled exception: the next invoke is warm
    again = functions.invoke(name, {}, LogType="Tail")
    assert again["FunctionError"] == "Unhandled"
    assert "Init Duration" not in again["Log"]


def test_custom_exception_type(functions: Functions) -> None:
    name = functions.python(
        "class MyError(Exception):\n    pass\n\n"
        "def handler(event, context):\n    raise MyError(f\"Failed: {event.get('error_msg')}\")\n"
    )
    out = functions.invoke(name, {"error_msg": "some_error_msg"})
    body = json.loads(out["Payload"])
    assert out["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("MyError", "Failed: some_error_msg")


def test_timeout(functions: Functions) -> None:
    name = functions.python(
        "import time, uuid\n\nTOKEN = uuid.uuid4().hex  # one per environment\n\ndef handler(event, context):\n"
        "    if event.get('sleep'):\n        print('sleeping')\n        time.sleep(event['sleep'])\n"
        "    return TOKEN\n",
        timeout=1,
    )
    first_env = functions.invoke_json(name, {})
    started = time.monotonic()
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"sleep": 10}', LogType="Tail")
    elapsed = time.monotonic() - started
    rid = request_id(resp)
    assert elapsed >= 1.0  # it waited for the timeout ...
    assert elapsed < 10.0  # ... and not for the function's own 10 s sleep
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "sleeping" in log
    assert re.search(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1\.00 seconds", log)
    # The environment was reset: the next invoke starts its runtime again, an init AWS does not
    # report apart (lambda-runtime-environment.html, "Failures during the invoke phase").
    after = functions.invoke(name, {}, LogType="Tail")
    assert "FunctionError" not in after
    assert json.loads(after["Payload"]) != first_env
    assert "Init Duration" not in after["Log"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("os._exit(1)", "Runtime exited with error: exit status 1"),
        # AWS's test_lambda_handler_exit: sys.exit(0) in the handler
        ("sys.exit(0)", "Runtime exited without providing a reason"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "Runtime exited with error: signal: killed"),
    ],
    ids=["exit1", "sys-exit0", "sigkill"],
)
def test_runtime_exits_mid_invoke(functions: Functions, code: str, message: str) -> None:
    name = functions.python(
        f"import os, signal, sys, uuid\n\nTOKEN = uuid.uuid4().hex\n\ndef handler(event, context):\n"
        f"    if event.get('die'):\n        {code}\n"
        "    return TOKEN\n"
    )
    first_env = functions.invoke_json(name, {})
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"die": true}')
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(resp)} Error: {message}",
    }
    # a new environment serves the next invoke
    assert functions.invoke_json(name, {}) != first_env


def test_import_error(functions: Functions) -> None:
    name = functions.python("import module_that_does_not_exist\n\ndef handler(event, context):\n    return 1\n")
    for _ in range(2):  # every invoke retries the init, and fails the same way
        out = functions.invoke(name, {}, LogType="Tail")
        assert out["StatusCode"] == 200
        assert out["FunctionError"] == "Unhandled"
        assert json.loads(out["Payload"]) == {
            "errorMessage": "Unable to import module 'handler': No module named 'module_that_does_not_exist'",
            "errorType": "Runtime.ImportModuleError",
            "requestId": "",
            "stackTrace": [],
        }
        assert "Runtime.ImportModuleError" in out["Log"]
        assert re.search(r"^END RequestId: ", out["Log"], re.M)


def test_handler_not_found(functions: Functions) -> None:
    name = functions.python(ECHO, handler="handler.nope")
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"])
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'nope' missing on module 'handler'"


def test_init_exception(functions: Functions) -> None:
    # AWS's test_lambda_runtime_error: an exception at import time is reported as is.
    name = functions.python('raise Exception("Runtime startup fails")\n')
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"])
    assert (body["errorMessage"], body["errorType"], body["requestId"]) == ("Runtime startup fails", "Exception", "")
    assert re.fullmatch(
        r'  File "/.+/handler\.py", line 1, in <module>\n    raise Exception\("Runtime startup fails"\)\n',
        body["stackTrace"][-1],
    )


def test_runtime_exit_during_init(functions: Functions) -> None:
    # AWS's test_lambda_runtime_exit: sys.exit(0) while the module loads.
    name = functions.python("import sys\nsys.exit(0)\n")
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}")
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id(resp)} Error: Runtime exited without providing a reason",
    }


def test_misbehaving_function_never_blocks_others(functions: Functions) -> None:
    stuck = functions.python(
        "import time\n\ndef handler(event, context):\n    print('stuck', flush=True)\n    time.sleep(30)\n", timeout=8
    )
    fine = functions.python(ECHO)
    functions.invoke_json(fine, {})  # warm
    results: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: results.append(functions.invoke(stuck, {})))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while f"[{stuck}] stuck" not in functions.server.log() and time.monotonic() < deadline:
            time.sleep(0.02)
        for i in range(5):
            assert functions.invoke_json(fine, {"i": i}) == {"i": i}
        assert thread.is_alive() and not results, "the other function was served only after the stuck one ended"
    finally:
        thread.join(20)
    assert json.loads(results[0]["Payload"])["errorType"] == "Sandbox.Timedout"


# -- request members --------------------------------------------------------------------------


def test_client_context(functions: Functions) -> None:
    name = functions.python(
        "def handler(event, context):\n"
        "    cc = context.client_context\n"
        "    return {'custom': cc.custom, 'env': cc.env,\n"
        "            'client': {k: getattr(cc.client, k) for k in\n"
        "                       ('installation_id', 'app_title', 'app_version_name', 'app_version_code', 'app_package_name')}}\n"
    )
    document = {
        "custom": {"foo": "bar"},
        "env": {"platform": "linux"},
        "client": {
            "installation_id": "i-1",
            "app_title": "t",
            "app_version_name": "1.0",
            "app_version_code": "10",
            "app_package_name": "com.example",
        },
    }
    cc = base64.b64encode(json.dumps(document).encode()).decode()
    assert functions.invoke_json(name, {}, ClientContext=cc) == document


def test_client_context_invalid(functions: Functions) -> None:
    name = functions.python(ECHO)
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=b"{}", ClientContext="not base64 json!")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Message"] == "Client context must be a valid Base64-encoded JSON object."


def test_log_tail(functions: Functions) -> None:
    name = functions.python(
        "def handler(event, context):\n"
        "    print('hello from the function')\n"
        "    if event.get('lines'):\n"
        "        for i in range(event['lines']):\n            print(f'line {i:05d} ' + 'x' * 90)\n"
        "    return 'ok'\n"
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    rid = request_id(resp)
    log = base64.b64decode(resp["LogResult"]).decode()
    lines = log.split("\n")
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[1] == "hello from the function"
    assert lines[2] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
        r"Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t",
        lines[3],
    )
    assert lines[4:] == [""]
    # Without LogType there is no LogResult.
    assert "LogResult" not in functions.client.invoke(FunctionName=name, Payload=b"{}")
    # A long log: only its last 4 KB come back.
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"lines": 200}', LogType="Tail")
    raw = base64.b64decode(resp["LogResult"])
    assert len(raw) == 4096
    text = raw.decode()
    assert "line 00199 " in text and "line 00100 " not in text
    assert text.rstrip("\n").split("\n")[-1].startswith(f"REPORT RequestId: {request_id(resp)}\tDuration: ")


# -- versions, aliases, invocation types ------------------------------------------------------


def test_executed_version(functions: Functions) -> None:
    name = functions.python(
        "import os\n\ndef handler(event, context):\n"
        "    return [os.environ['AWS_LAMBDA_FUNCTION_VERSION'], context.function_version, 'v1']\n"
    )
    c = functions.client
    assert c.publish_version(FunctionName=name)["Version"] == "1"
    functions.update_code(
        name,
        {
            "handler.py": "import os\n\ndef handler(event, context):\n"
            "    return [os.environ['AWS_LAMBDA_FUNCTION_VERSION'], context.function_version, 'v2']\n"
        },
    )
    assert c.publish_version(FunctionName=name)["Version"] == "2"
    c.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    cases = [
        (None, "$LATEST", "v2"),
        ("$LATEST", "$LATEST", "v2"),
        ("1", "1", "v1"),
        ("2", "2", "v2"),
        ("live", "1", "v1"),
    ]
    for qualifier, executed, code in cases:
        kw = {"Qualifier": qualifier} if qualifier else {}
        out = functions.invoke(name, {}, **kw)
        assert out["ExecutedVersion"] == executed, qualifier
        assert json.loads(out["Payload"]) == [executed, executed, code]
    # the qualifier may also be the ARN's suffix
    arn = c.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert functions.invoke(f"{arn}:live", {})["ExecutedVersion"] == "1"
    # an unknown qualifier is not found
    with pytest.raises(ClientError) as exc:
        c.invoke(FunctionName=name, Qualifier="9", Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert exc.value.response["Error"]["Message"] == f"Function not found: {arn}:9"


def test_weighted_alias(functions: Functions) -> None:
    name = functions.python("def handler(event, context):\n    return context.function_version\n")
    c = functions.client
    c.publish_version(FunctionName=name)
    functions.update_code(
        name, {"handler.py": "def handler(event, context):\n    return 'two:' + context.function_version\n"}
    )
    c.publish_version(FunctionName=name)
    c.create_alias(
        FunctionName=name, Name="split", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    seen: dict[str, int] = {"1": 0, "2": 0}
    for _ in range(100):
        out = functions.invoke(name, {}, Qualifier="split")
        version = out["ExecutedVersion"]
        seen[version] += 1
        # the executed version is the one that really ran
        assert json.loads(out["Payload"]) == ("1" if version == "1" else "two:2")
    assert seen["1"] + seen["2"] == 100
    assert 20 <= seen["1"] <= 80, seen  # 50/50: both versions run (P(fail) < 1e-9)


def test_not_found(functions: Functions) -> None:
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName="doesnotexist", Payload=b"{}")
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert (
        err["Error"]["Message"]
        == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:doesnotexist:$LATEST"
    )


def test_dry_run(functions: Functions) -> None:
    name = functions.python("def handler(event, context):\n    raise Exception('must not run')\n")
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}", InvocationType="DryRun", LogType="Tail")
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    # AWS answers DryRun with the status alone (no executed version, no function error, no log)
    assert "FunctionError" not in resp and "LogResult" not in resp and "ExecutedVersion" not in resp
    # nothing ran
    assert "must not run" not in functions.server.log()


# -- payload checks ---------------------------------------------------------------------------


def test_sync_payload_too_large(functions: Functions) -> None:
    name = functions.python(ECHO)
    payload = b'{"a": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=payload)
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_async_payload_too_large(functions: Functions) -> None:
    name = functions.python(ECHO)
    payload = b'{"a": "' + b"x" * (1024 * 1024) + b'"}'
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=payload, InvocationType="Event")
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err["Error"]["Message"] == (
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )
    # just under the limit is accepted
    small = b'{"a": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    assert functions.client.invoke(FunctionName=name, Payload=small, InvocationType="Event")["StatusCode"] == 202


def test_response_too_large(functions: Functions) -> None:
    # AWS's test_lambda_too_large_response
    name = functions.python("def handler(event, context):\n    return 'a' * event['n']\n")
    out = functions.invoke(name, {"n": 6 * 1024 * 1024 + 200})
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"]) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    # AWS's test_lambda_large_response: exactly 6 MB of content is fine
    assert functions.invoke_json(name, {"n": 6 * 1024 * 1024}) == "a" * (6 * 1024 * 1024)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        # AWS's test_lambda_invoke_payload_encoding_error, both recorded cases
        (
            b"n\x87r\x9e\xe9\xb5\xd7I\xee\x9bmt",
            "Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 start byte 0x87\n"
            " at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 3]",
        ),
        (
            b"\x99\xeb,j\x07\xa1zYh",
            "Could not parse request body into json: Could not parse payload into json: Unexpected character "
            "((CTRL-CHAR, code 153)): expected a valid value (JSON String, Number, Array, Object or token 'null', "
            "'true' or 'false')\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); "
            "line: 1, column: 1]",
        ),
    ],
    ids=["body", "message"],
)
def test_invalid_json_payload(functions: Functions, payload: bytes, message: str) -> None:
    name = functions.python(ECHO)
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=payload)
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidRequestContentException"
    assert err["Error"]["Message"] == message


def test_invalid_json_text(functions: Functions) -> None:
    name = functions.python(ECHO)
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=b"{not json")
    err = exc.value.response
    assert err["Error"]["Code"] == "InvalidRequestContentException"
    assert err["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )


# -- states and updates -----------------------------------------------------------------------


def test_failed_function_is_not_invoked(functions: Functions) -> None:
    # A runtime this host cannot run: the function goes Failed, and invoking it is a conflict.
    name = functions.create({"handler.rb": "def handler(event:, context:) end"}, runtime="ruby3.3", wait=False)
    c = functions.client
    deadline = time.monotonic() + 10
    while c.get_function_configuration(FunctionName=name)["State"] == "Pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    cfg = c.get_function_configuration(FunctionName=name)
    if cfg["State"] == "Active":
        pytest.skip("this host can run ruby3.3 functions now: nothing to make Failed")
    assert cfg["State"] == "Failed"
    assert cfg["StateReasonCode"] == "InternalError" and cfg["StateReason"]
    with pytest.raises(ClientError) as exc:
        c.invoke(FunctionName=name, Payload=b"{}")
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert err["Error"]["Code"] == "ResourceConflictException"
    assert err["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the following state: Failed"
    )


def test_updated_function_never_serves_stale_code(functions: Functions) -> None:
    name = functions.python("def handler(event, context):\n    return 'v0'\n")
    assert functions.invoke_json(name, {}) == "v0"  # a warm environment now holds v0
    for i in range(1, 4):
        functions.update_code(name, {"handler.py": f"def handler(event, context):\n    return 'v{i}'\n"})
        assert functions.invoke_json(name, {}) == f"v{i}"
    # configuration updates too: the environment is rebuilt with the new variables
    functions.client.update_function_configuration(FunctionName=name, Environment={"Variables": {"KEY": "new"}})
    wait_updated(functions.client, name)
    functions.update_code(
        name, {"handler.py": "import os\n\ndef handler(event, context):\n    return os.environ.get('KEY')\n"}
    )
    assert functions.invoke_json(name, {}) == "new"
    functions.client.update_function_configuration(FunctionName=name, Environment={"Variables": {"KEY": "newer"}})
    wait_updated(functions.client, name)
    assert functions.invoke_json(name, {}) == "newer"


def test_pending_function_is_not_invoked(spawn_server: Any) -> None:
    """Invoking right after CreateFunction, before the function is Active, is a conflict.

    Python functions become Active within one turn of the server's loop, so Pending is observed on
    a server that creates asynchronously with a Java function (its first one compiles the runtime
    client, which takes a while). Without a JDK the test is skipped.
    """
    import shutil

    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("needs a JDK to hold a function in Pending")
    import tempfile

    # A cache of its own: the Java runtime client is built anew, which holds the function in Pending.
    cache = tempfile.mkdtemp(prefix="locallambda-cache-")
    server = spawn_server(LAMBDA_SYNCHRONOUS_CREATE="0", LOCALLAMBDA_CACHE_DIR=cache)
    c = server.client()
    name = unique("pending")
    c.create_function(
        FunctionName=name,
        Runtime="java17",
        Role=ROLE,
        Handler="example.Handler::handleRequest",
        Code={"ZipFile": make_zip({"example/Handler.class": b"\xca\xfe\xba\xbe"})},
    )
    cfg = c.get_function_configuration(FunctionName=name)
    if cfg["State"] != "Pending":
        pytest.skip("the function left Pending before it could be invoked")
    with pytest.raises(ClientError) as exc:
        c.invoke(FunctionName=name, Payload=b"{}")
    err = exc.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert err["Error"]["Code"] == "ResourceConflictException"
    assert err["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    )
    wait_active(c, name)
    c.delete_function(FunctionName=name)
    shutil.rmtree(cache, ignore_errors=True)


def test_a_runtime_served_by_another_python_says_so_where_the_user_looks(functions: Functions) -> None:
    # No python3.14 with awslambdaric on these machines: the host's Python serves it, and the
    # function's own log (its first invocation's tail) and the health endpoint say so.
    name = functions.python(ECHO, runtime="python3.14")
    first = functions.invoke(name, {"a": 1}, LogType="Tail")
    served = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    assert first["Log"].startswith(
        f"locallambda: python3.14 is not installed on this machine; this function runs on {served}\n"
    )
    assert json.loads(first["Payload"]) == {"a": 1}
    with urllib.request.urlopen(f"{functions.server.url}/_localstack/health") as resp:
        assert json.load(resp)["runtime_substitutions"]["python3.14"] == served


ISOLATION = """\
import importlib.util

def handler(event, context):
    import boto3, botocore  # bundled with AWS's Python runtimes
    return {name: importlib.util.find_spec(name) is not None for name in ("uvicorn", "locallambda", "httptools", "mine")}
"""


def test_python_functions_see_their_code_and_the_bundled_sdk_not_the_servers_packages(functions: Functions) -> None:
    name = functions.create({"handler.py": ISOLATION, "mine.py": "X = 1\n"})
    assert functions.invoke_json(name, {}) == {"uvicorn": False, "locallambda": False, "httptools": False, "mine": True}


def test_a_functions_own_copy_of_a_bundled_package_wins(functions: Functions) -> None:
    own = {"handler.py": "import boto3\n\ndef handler(event, context):\n    return boto3.WHOSE\n",
           "boto3/__init__.py": "WHOSE = 'the function'\n"}  # fmt: skip
    assert functions.invoke_json(functions.create(own), {}) == "the function"
