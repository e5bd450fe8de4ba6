"""Java functions (java17, java21) run for real with locallambda's Java runtime client.

The handler is compiled here against the API classes shipped with the runtime client (the
``com.amazonaws.services.lambda.runtime`` interfaces), and only the function's own classes go in
its zip, as with a function built against aws-lambda-java-core. Error documents have Java's shape
(errorMessage, errorType, stackTrace), as AWS's recorded answers show
(test_uncaught_exception_invoke[java17]).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import make_zip
from tests.invoke.conftest import Functions

try:
    from locallambda.runtimes.java_bootstrap import SOURCE_DIR
except ImportError as exc:  # the runtime client is being written by another engineer
    SOURCE_DIR = None
    _IMPORT_PROBLEM = f"the Java runtime client is not importable yet: {exc}"
else:
    _IMPORT_PROBLEM = ""

pytestmark = [
    pytest.mark.skipif(not (shutil.which("java") and shutil.which("javac")), reason="needs a JDK (java and javac)"),
    pytest.mark.skipif(bool(_IMPORT_PROBLEM), reason=_IMPORT_PROBLEM or "-"),
]

HANDLER_JAVA = """\
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private static int calls = 0;

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        if (event.containsKey("error_msg")) {
            throw new RuntimeException("Error: " + event.get("error_msg"));
        }
        calls++;
        context.getLogger().log("hello from java");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        out.put("requestId", context.getAwsRequestId());
        out.put("functionName", context.getFunctionName());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("calls", calls);
        return out;
    }
}
"""


@pytest.fixture(scope="module")
def handler_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    work = tmp_path_factory.mktemp("java")
    src = work / "example" / "Handler.java"
    src.parent.mkdir(parents=True)
    src.write_text(HANDLER_JAVA)
    out = work / "classes"
    subprocess.run(
        ["javac", "--release", "17", "-sourcepath", str(SOURCE_DIR), "-d", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    classes = {str(p.relative_to(out)): p.read_bytes() for p in (out / "example").glob("*.class")}
    return make_zip(classes)


@pytest.mark.parametrize("runtime", ["java17", "java21"])
def test_request_handler_echo(functions: Functions, handler_zip: bytes, runtime: str) -> None:
    name = functions.create(
        handler_zip, runtime=runtime, handler="example.Handler::handleRequest", memory=512, timeout=20
    )
    resp = functions.client.invoke(FunctionName=name, Payload=b'{"hello": "java", "n": 3}', LogType="Tail")
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    body = json.loads(resp["Payload"].read())
    assert body == {
        "event": {"hello": "java", "n": 3},
        "requestId": resp["ResponseMetadata"]["RequestId"],
        "functionName": name,
        "memory": 512,
        "calls": 1,
    }
    import base64

    log = base64.b64decode(resp["LogResult"]).decode()
    assert "hello from java" in log
    assert "\tInit Duration: " in log
    # warm: the same JVM serves the next invoke
    again = functions.invoke_json(name, {"k": 1})
    assert again["calls"] == 2


def test_uncaught_exception(functions: Functions, handler_zip: bytes) -> None:
    name = functions.create(handler_zip, runtime="java17", handler="example.Handler::handleRequest", timeout=20)
    out = functions.invoke(name, {"error_msg": "some_error_msg"})
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"])
    assert body["errorMessage"] == "Error: some_error_msg"
    assert body["errorType"] == "java.lang.RuntimeException"
    assert any("example.Handler.handleRequest" in frame for frame in body["stackTrace"])


def test_class_not_found(functions: Functions, handler_zip: bytes) -> None:
    name = functions.create(handler_zip, runtime="java17", handler="example.Missing::handleRequest", timeout=20)
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    body = json.loads(out["Payload"])
    assert body["errorType"] == "java.lang.ClassNotFoundException"
    assert body["errorMessage"] == "Class not found: example.Missing"
