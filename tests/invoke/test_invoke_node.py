"""Node.js functions run for real (``node`` + locallambda's bootstrap) through boto3 and the AWS CLI.

The first test is LocalStack's Lambda guide, command for command (AWS CLI v1 syntax). Error
documents have Node's shape (errorType, errorMessage, trace), as AWS's recorded answers show
(test_uncaught_exception_invoke[nodejs20.x]).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.invoke.conftest import Functions

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

RUNTIME = "nodejs20.x"

GUIDE_INDEX_JS = """\
exports.handler = async (event) => {
    let body = JSON.parse(event.body);
    const product = body.num1 * body.num2;
    const response = {
        statusCode: 200,
        body: "The product of " + body.num1 + " and " + body.num2 + " is " + product,
    };
    return response;
};
"""


def node(functions: Functions, files: dict[str, str], handler: str = "index.handler", **kw: Any) -> str:
    return functions.create(files, runtime=RUNTIME, handler=handler, **kw)


def test_localstack_guide(functions: Functions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """https://docs.localstack.cloud/user-guide/aws/lambda/ — create, wait, invoke with the CLI."""
    import zipfile

    monkeypatch.chdir(tmp_path)
    (tmp_path / "index.js").write_text(GUIDE_INDEX_JS)
    with zipfile.ZipFile("function.zip", "w") as zf:
        zf.write("index.js")
    server = functions.server
    name = "localstack-lambda-url-example"
    functions.names.append(name)  # deleted after the test
    created = server.cli_json(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "nodejs18.x",
        "--zip-file",
        "fileb://function.zip",
        "--handler",
        "index.handler",
        "--role",
        "arn:aws:iam::000000000000:role/lambda-role",
    )
    assert created["FunctionName"] == name
    server.cli("lambda", "wait", "function-active-v2", "--function-name", name)
    proc = server.cli(
        "lambda",
        "invoke",
        "--function-name",
        name,
        "--payload",
        '{"body": "{\\"num1\\": \\"10\\", \\"num2\\": \\"10\\"}" }',
        "output.txt",
    )
    assert json.loads(proc.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads((tmp_path / "output.txt").read_text()) == {
        "statusCode": 200,
        "body": "The product of 10 and 10 is 100",
    }


def test_async_handler(functions: Functions) -> None:
    name = node(
        functions,
        {
            "index.js": "exports.handler = async (event, context) => ({event, rid: context.awsRequestId,"
            " name: context.functionName, memory: context.memoryLimitInMB});\n"
        },
        memory=256,
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"a": [1, "b"]}')
    body = json.loads(resp["Payload"].read())
    assert body == {
        "event": {"a": [1, "b"]},
        "rid": resp["ResponseMetadata"]["RequestId"],
        "name": name,
        "memory": "256",
    }


def test_callback_handler(functions: Functions) -> None:
    name = node(
        functions,
        {
            "index.js": "exports.handler = (event, context, callback) => {\n"
            "  setTimeout(() => callback(null, {got: event.x * 2}), 10);\n};\n"
        },
    )
    assert functions.invoke_json(name, {"x": 21}) == {"got": 42}


def test_esm_handler(functions: Functions) -> None:
    name = node(
        functions,
        {
            "index.mjs": "import os from 'node:os';\n"
            "export const handler = async (event) => ({esm: true, echo: event, t: typeof os.hostname});\n"
        },
    )
    assert functions.invoke_json(name, {"k": "v"}) == {"esm": True, "echo": {"k": "v"}, "t": "function"}


def test_nested_handler_path(functions: Functions) -> None:
    name = node(functions, {"src/app.js": "exports.main = async () => 'nested';\n"}, handler="src/app.main")
    assert functions.invoke_json(name, {}) == "nested"


def test_uncaught_exception(functions: Functions) -> None:
    # AWS's test_uncaught_exception_invoke[nodejs20.x]
    name = node(
        functions,
        {
            "index.js": "exports.handler = async function(event, context) {\n"
            "    throw Error(`Error: ${event.error_msg}`)\n};\n"
        },
    )
    out = functions.invoke(name, {"error_msg": "some_error_msg"}, LogType="Tail")
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    assert out["ExecutedVersion"] == "$LATEST"
    body = json.loads(out["Payload"])
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert body["errorType"] == "Error" and body["errorMessage"] == "Error: some_error_msg"
    assert body["trace"][0] == "Error: Error: some_error_msg"
    assert any("index.js:2" in frame for frame in body["trace"])
    # Node logs the error with the request id, tab-separated, as AWS's runtime does
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tERROR\tInvoke Error \t", out["Log"])


def test_callback_error(functions: Functions) -> None:
    name = node(
        functions,
        {
            "index.js": "exports.handler = (event, context, callback) => {\n"
            "  const e = new TypeError('bad input'); callback(e);\n};\n"
        },
    )
    out = functions.invoke(name, {})
    body = json.loads(out["Payload"])
    assert out["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad input")


def test_console_in_log_tail(functions: Functions) -> None:
    name = node(
        functions, {"index.js": "exports.handler = async (event) => { console.log('hello', {n: 1}); return 1; };\n"}
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    import base64

    rid = resp["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(resp["LogResult"]).decode()
    lines = log.split("\n")
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tINFO\thello {{ n: 1 }}", lines[1])
    assert lines[2] == f"END RequestId: {rid}"
    assert lines[3].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "\tInit Duration: " in lines[3]


def test_import_error(functions: Functions) -> None:
    name = node(functions, {"index.js": "require('module-that-does-not-exist');\nexports.handler = async () => 1;\n"})
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"])
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Error: Cannot find module 'module-that-does-not-exist'\nRequire stack:\n- ")


def test_handler_not_found(functions: Functions) -> None:
    name = node(functions, {"index.js": "exports.other = async () => 1;\n"})
    body = json.loads(functions.invoke(name, {})["Payload"])
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "index.handler is undefined or not exported"


def test_process_exit(functions: Functions) -> None:
    name = node(
        functions,
        {
            "index.js": "const token = Math.random();\n"
            "exports.handler = async (e) => { if (e.die) process.exit(3); return token; };\n"
        },
    )
    first_env = functions.invoke_json(name, {})
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"die": true}')
    assert resp["FunctionError"] == "Unhandled"
    rid = resp["ResponseMetadata"]["RequestId"]
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
    }
    assert functions.invoke_json(name, {}) != first_env


def test_timeout(functions: Functions) -> None:
    name = node(
        functions, {"index.js": "exports.handler = () => new Promise(() => setInterval(() => {}, 1000));\n"}, timeout=1
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}")
    rid = resp["ResponseMetadata"]["RequestId"]
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }


def test_warm_module_state(functions: Functions) -> None:
    name = node(functions, {"index.js": "let n = 0;\nexports.handler = async () => ++n;\n"})
    assert [functions.invoke_json(name, {}) for _ in range(3)] == [1, 2, 3]
