"""provided.al2023: the function's own ``bootstrap`` speaks the Runtime API.

The first function is AWS's custom-runtime tutorial (runtimes-walkthrough.html) file for file: a
``#!/bin/sh`` script using bash features (``set -o pipefail``, ``source``, ``function``), as
/bin/sh is bash on Amazon Linux, talking to the Runtime API with curl. Entrypoint failures give
AWS's Runtime.InvalidEntrypoint answers.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.invoke.conftest import Functions

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

RUNTIME = "provided.al2023"

TUTORIAL_BOOTSTRAP = """\
#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
"""

TUTORIAL_FUNCTION = """\
function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
"""

# A bootstrap that reports errors through the Runtime API, as a custom runtime does.
ERROR_BOOTSTRAP = """\
#!/bin/bash
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  RID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -o /dev/null -X POST "$API/invocation/$RID/error" -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \\
    -d '{"errorMessage": "it went wrong", "errorType": "Custom.Failure", "stackTrace": []}'
done
"""

INIT_ERROR_BOOTSTRAP = """\
#!/bin/bash
curl -sS -o /dev/null -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \\
  -H "Lambda-Runtime-Function-Error-Type: Runtime.ConfigError" -d '{"errorMessage": "no config", "errorType": "Runtime.ConfigError"}'
exit 1
"""


def provided(
    functions: Functions, files: dict[str, str | bytes], modes: dict[str, int] | None = None, **kw: object
) -> str:
    return functions.create(files, runtime=RUNTIME, handler="function.handler", modes=modes, **kw)  # type: ignore[arg-type]


def test_aws_tutorial_custom_runtime(functions: Functions) -> None:
    name = provided(
        functions, {"bootstrap": TUTORIAL_BOOTSTRAP, "function.sh": TUTORIAL_FUNCTION}, modes={"bootstrap": 0o755}
    )
    out = functions.invoke(name, b'{"text":"Hello"}', LogType="Tail")
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    assert out["Payload"] == b"""Echoing request: '{"text":"Hello"}'"""
    # the event written to stderr is part of the function's log
    assert '{"text":"Hello"}' in out["Log"].split("\n")
    # the same process serves the next event
    again = functions.invoke(name, b'{"n":2}', LogType="Tail")
    assert again["Payload"] == b"""Echoing request: '{"n":2}'"""
    assert "Init Duration" not in again["Log"]


def test_cli_invoke(functions: Functions, tmp_path: object) -> None:
    name = provided(
        functions, {"bootstrap": TUTORIAL_BOOTSTRAP, "function.sh": TUTORIAL_FUNCTION}, modes={"bootstrap": 0o755}
    )
    out = tmp_path / "response.txt"  # type: ignore[operator]
    proc = functions.server.cli("lambda", "invoke", "--function-name", name, "--payload", '{"via":"cli"}', str(out))
    assert json.loads(proc.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert out.read_text() == """Echoing request: '{"via":"cli"}'"""


def test_error_through_runtime_api(functions: Functions) -> None:
    name = provided(functions, {"bootstrap": ERROR_BOOTSTRAP}, modes={"bootstrap": 0o755})
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"]) == {
        "errorMessage": "it went wrong",
        "errorType": "Custom.Failure",
        "stackTrace": [],
    }


def test_init_error(functions: Functions) -> None:
    name = provided(functions, {"bootstrap": INIT_ERROR_BOOTSTRAP}, modes={"bootstrap": 0o755})
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"]) == {"errorMessage": "no config", "errorType": "Runtime.ConfigError"}


def test_missing_bootstrap(functions: Functions) -> None:
    name = provided(functions, {"function.sh": TUTORIAL_FUNCTION})
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    rid = resp["ResponseMetadata"]["RequestId"]
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(
        rf"RequestId: {rid} Error: Couldn't find valid bootstrap\(s\): \[/\S+/bootstrap( /\S+/bootstrap)*\]",
        body["errorMessage"],
    ), body


def test_bootstrap_not_executable(functions: Functions) -> None:
    name = provided(
        functions, {"bootstrap": TUTORIAL_BOOTSTRAP, "function.sh": TUTORIAL_FUNCTION}, modes={"bootstrap": 0o644}
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}")
    rid = resp["ResponseMetadata"]["RequestId"]
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(
        rf"RequestId: {rid} Error: fork/exec /\S+/bootstrap: permission denied", body["errorMessage"]
    ), body


def test_bootstrap_exits(functions: Functions) -> None:
    name = provided(functions, {"bootstrap": "#!/bin/sh\necho 'cannot start'\nexit 3\n"}, modes={"bootstrap": 0o755})
    resp = functions.client.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    rid = resp["ResponseMetadata"]["RequestId"]
    assert json.loads(resp["Payload"].read()) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
    }
    import base64

    assert "cannot start" in base64.b64decode(resp["LogResult"]).decode()
