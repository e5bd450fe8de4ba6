"""Response streaming: RESPONSE_STREAM function URLs and InvokeWithResponseStream, for real.

Every streaming function here writes a first part, then waits at a *gate* (a tiny HTTP server of
the test, on loopback) that the test opens only once that first part has reached it; then it
writes the rest. A server that gathered the answer before passing it on never delivers the
first part, the gate never opens, and the function runs into its timeout: so each of these
tests proves the order "first bytes at the client before the function's last write" without a
clock. Node.js functions stream with ``awslambda.streamifyResponse``; a custom runtime
(``provided.al2023``, a Python ``bootstrap``) streams through the Runtime API itself, chunked,
with error trailers.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.invoke.conftest import Functions

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

NODE = "nodejs20.x"


class Gate:
    """Long-polled ``GET /<name>``s that answer only once the test opens ``name`` (or a
    ``GET /open/<name>`` does)."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        gate = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/")
                if name.startswith("open/"):  # a client of the test opens a gate itself
                    gate.open(name.removeprefix("open/"))
                opened = gate._event(name.removeprefix("open/")).wait(30)
                body = b"open" if opened else b"closed"
                self.send_response(200 if opened else 504)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _event(self, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def open(self, name: str) -> None:
        self._event(name).set()

    def close(self) -> None:
        for event in list(self._events.values()):
            event.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture()
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


# -- functions -------------------------------------------------------------------------------

# Writes "first", waits for the gate, then the rest; HttpResponseStream when asked (the input:
# the payload, or a function URL request's JSON body).
GATED_NODE = """
export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
  const input = event.requestContext ? JSON.parse(event.body || '{}') : event;
  if (input.prelude) stream = awslambda.HttpResponseStream.from(stream, input.prelude);
  else if (input.contentType) stream.setContentType(input.contentType);
  stream.write('first|');
  const res = await fetch(process.env.GATE + '/' + (input.gate || 'g'));
  stream.write('gate ' + await res.text() + '|');
  if (input.fail) throw new Error('boom after the first bytes');
  stream.end('last');
});
"""

BINARY_NODE = """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, {statusCode: 200, headers: {'content-type': 'image/png'}});
  stream.write(Buffer.from([...Array(256).keys()]));
  stream.write(Buffer.alloc(16));
  stream.end();
});
"""

# Fails before writing anything; or writes and never ends, into its timeout.
FAILING_NODE = """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  if (event.hang) { stream.write('started|'); await new Promise(() => setInterval(() => {}, 1000)); }
  throw new TypeError('nothing written');
});
"""

# Writes event.mb MiB of "a", heeding the stream's back-pressure.
BIG_NODE = """
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  const part = Buffer.alloc(1024 * 1024, 97);
  for (let i = 0; i < event.mb; i++) {
    if (!stream.write(part)) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
});
"""

PY_URL = """
def handler(event, context):
    if event.get("rawPath") == "/boom":
        raise RuntimeError("boom")
    return {"statusCode": 201, "headers": {"x-a": "b"}, "body": "not interpreted"}
"""

PY_PLAIN = """
def handler(event, context):
    print("a log line")
    if event.get("fail"):
        raise ValueError("python failed")
    return {"echo": event}
"""

# A custom runtime streaming through the Runtime API: chunked, trailers for an error.
STREAMING_BOOTSTRAP = r"""#!/usr/bin/env python3
import base64, http.client, json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
host, port = api.rsplit(":", 1)
while True:
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    res = conn.getresponse()
    event = json.loads(res.read())
    rid = res.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.putrequest("POST", f"/2018-06-01/runtime/invocation/{rid}/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    conn.endheaders()
    def chunk(data):
        conn.send(b"%x\r\n%s\r\n" % (len(data), data))
    chunk(b"first|")
    opened = urllib.request.urlopen(os.environ["GATE"] + "/" + event.get("gate", "g"), timeout=30).read()
    chunk(b"gate " + opened + b"|")
    if event.get("fail"):
        doc = json.dumps({"errorType": "Custom.StreamFailure", "errorMessage": "custom failed"}).encode()
        conn.send(b"0\r\nLambda-Runtime-Function-Error-Type: Custom.StreamFailure\r\n"
                  b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc) + b"\r\n\r\n")
    else:
        chunk(b"last")
        conn.send(b"0\r\n\r\n")
    answer = conn.getresponse()
    answer.read()
    print("runtime API answered", answer.status, flush=True)
"""


def node(functions: Functions, source: str, gate: Gate | None = None, **kw: Any) -> str:
    env = {"GATE": gate.url} if gate is not None else None
    return functions.create({"index.mjs": source}, runtime=NODE, handler="index.handler", env=env, **kw)


def stream_url(functions: Functions, name: str) -> str:
    return str(
        functions.client.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM")[
            "FunctionUrl"
        ]
    )


def url_request(url: str, body: Any = None, path: str = "/") -> tuple[http.client.HTTPConnection, Any]:
    """POST to a function URL; the response with its body unread."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    data = json.dumps(body).encode() if body is not None else b""
    conn.request("POST", path, body=data, headers={"Host": parts.netloc, "Content-Type": "application/json"})
    return conn, conn.getresponse()


def read_until(resp: Any, marker: bytes) -> bytes:
    """What the response's body has brought so far, read until ``marker`` has come."""
    got = b""
    while marker not in got:
        part = resp.read1(65536)
        assert part, f"the body ended before {marker!r}: {got!r}"
        got += part
    return got


# -- function URLs ---------------------------------------------------------------------------


def test_url_streams_the_first_bytes_before_the_function_ends(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    conn, resp = url_request(stream_url(functions, name), {"contentType": "text/plain", "gate": "url"})
    assert resp.status == 200
    assert resp.getheader("content-type") == "text/plain"
    assert resp.getheader("transfer-encoding") == "chunked"
    first = read_until(resp, b"first|")
    gate.open("url")  # only now can the function go on
    assert first + resp.read() == b"first|gate open|last"
    conn.close()


def test_url_prelude_gives_status_headers_and_cookies(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    prelude = {
        "statusCode": 418,
        "headers": {"x-custom": "yes", "content-type": "text/html"},
        "cookies": ["a=1", "b=2"],
    }
    conn, resp = url_request(stream_url(functions, name), {"prelude": prelude, "gate": "prelude"})
    assert resp.status == 418
    assert resp.getheader("x-custom") == "yes"
    assert resp.getheader("content-type") == "text/html"
    assert resp.msg.get_all("set-cookie") == ["a=1", "b=2"]
    first = read_until(resp, b"first|")
    gate.open("prelude")
    assert first + resp.read() == b"first|gate open|last"  # no prelude, no NUL bytes in the body
    conn.close()


def test_url_default_content_type_and_binary_body(functions: Functions, gate: Gate) -> None:
    plain = node(functions, GATED_NODE, gate, timeout=20)
    gate.open("default")
    conn, resp = url_request(stream_url(functions, plain), {"gate": "default"})
    assert resp.getheader("content-type") == "application/octet-stream"
    assert resp.read() == b"first|gate open|last"
    conn.close()
    binary = node(functions, BINARY_NODE)
    conn, resp = url_request(stream_url(functions, binary))
    assert resp.status == 200 and resp.getheader("content-type") == "image/png"
    assert resp.read() == bytes(range(256)) + bytes(16)
    conn.close()


def test_url_error_after_the_first_bytes_cuts_the_body(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    gate.open("fail")
    conn, resp = url_request(stream_url(functions, name), {"fail": True, "gate": "fail"})
    assert resp.status == 200  # sent with the first bytes: it cannot change
    with pytest.raises(http.client.IncompleteRead) as cut:
        resp.read()
    assert cut.value.partial == b"first|gate open|"
    conn.close()


def test_url_error_before_any_byte_is_a_502(functions: Functions) -> None:
    name = node(functions, FAILING_NODE)
    conn, resp = url_request(stream_url(functions, name))
    assert resp.status == 502 and resp.read() == b"Internal Server Error"
    conn.close()


def test_python_function_behind_a_streaming_url_answers_its_payload_as_is(functions: Functions) -> None:
    name = functions.python(PY_URL)
    url = stream_url(functions, name)
    conn, resp = url_request(url)
    # AWS (recorded: test_lambda_url_echo_invoke[RESPONSE_STREAM]): 200, the result itself as the body
    assert resp.status == 200
    assert json.loads(resp.read()) == {"statusCode": 201, "headers": {"x-a": "b"}, "body": "not interpreted"}
    conn.close()
    conn, resp = url_request(url, path="/boom")
    assert resp.status == 502
    conn.close()


def test_custom_runtime_streams_through_the_runtime_api(functions: Functions, gate: Gate) -> None:
    name = functions.create(
        {"bootstrap": STREAMING_BOOTSTRAP},
        runtime="provided.al2023",
        handler="function.handler",
        modes={"bootstrap": 0o755},
        env={"GATE": gate.url},
        timeout=20,
    )
    url = stream_url(functions, name)
    conn, resp = url_request(url)  # the event's own "gate" key is absent: the gate is "g"
    assert resp.status == 200 and resp.getheader("content-type") == "text/csv"
    first = read_until(resp, b"first|")
    gate.open("g")
    assert first + resp.read() == b"first|gate open|last"
    conn.close()
    # an error in the trailers, after the first bytes
    out = functions.client.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"fail": True}))
    events = list(out["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events[:-1]) == b"first|gate open|"
    assert events[-1] == {"InvokeComplete": {"ErrorCode": "Custom.StreamFailure", "ErrorDetails": "custom failed"}}
    # the runtime was answered 202 both times, and serves on
    log = functions.invoke(name, {}, LogType="Tail")
    assert log["Payload"] == b"first|gate open|last" and "FunctionError" not in log


# -- InvokeWithResponseStream ----------------------------------------------------------------


def test_invoke_with_response_stream_through_boto3(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    out = functions.client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"gate": "boto3"}), LogType="Tail"
    )
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    assert out["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = iter(out["EventStream"])
    assert next(events) == {"PayloadChunk": {"Payload": b"first|"}}
    gate.open("boto3")
    rest = list(events)
    assert b"".join(e["PayloadChunk"]["Payload"] for e in rest[:-1]) == b"gate open|last"
    complete = rest[-1]["InvokeComplete"]
    assert set(complete) == {"LogResult"}
    assert "REPORT RequestId" in base64.b64decode(complete["LogResult"]).decode()


def test_invoke_with_response_stream_passes_the_prelude_through(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    gate.open("raw")
    out = functions.client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"gate": "raw", "prelude": {"statusCode": 201}})
    )
    body = b"".join(e["PayloadChunk"]["Payload"] for e in out["EventStream"] if "PayloadChunk" in e)
    assert body == b'{"statusCode":201}' + bytes(8) + b"first|gate open|last"


def test_invoke_with_response_stream_error_mid_stream(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    gate.open("err")
    out = functions.client.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps({"gate": "err", "fail": 1})
    )
    events = list(out["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events[:-1]) == b"first|gate open|"
    assert events[-1] == {"InvokeComplete": {"ErrorCode": "Error", "ErrorDetails": "boom after the first bytes"}}


def test_invoke_with_response_stream_timeout_mid_stream(functions: Functions) -> None:
    name = node(functions, FAILING_NODE, timeout=1)
    out = functions.client.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"hang": True}))
    events = list(out["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b"started|"}}
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert complete["ErrorDetails"].endswith("Task timed out after 1.00 seconds")


def test_non_streaming_function_answers_one_chunk(functions: Functions) -> None:
    name = functions.python(PY_PLAIN)
    out = functions.client.invoke_with_response_stream(FunctionName=name, Payload=b'{"n": 1}', LogType="Tail")
    events = list(out["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b'{"echo": {"n": 1}}'}}
    assert list(events[1]) == ["InvokeComplete"] and set(events[1]["InvokeComplete"]) == {"LogResult"}
    assert "a log line" in base64.b64decode(events[1]["InvokeComplete"]["LogResult"]).decode()
    assert len(events) == 2
    failed = list(
        functions.client.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')["EventStream"]
    )
    assert failed == [{"InvokeComplete": {"ErrorCode": "ValueError", "ErrorDetails": "python failed"}}]


def test_plain_invoke_of_a_streaming_function_gets_the_whole_answer(functions: Functions, gate: Gate) -> None:
    name = node(functions, GATED_NODE, gate, timeout=20)
    gate.open("whole")
    out = functions.invoke(name, {"gate": "whole"})
    assert out["Payload"] == b"first|gate open|last" and "FunctionError" not in out
    failed = functions.invoke(name, {"gate": "whole", "fail": True})
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"])["errorMessage"] == "boom after the first bytes"


def test_streamed_answers_have_their_own_limit(functions: Functions) -> None:
    name = node(functions, BIG_NODE, timeout=60)
    # streamed, 7 MiB is well within AWS's 200 MB
    out = functions.client.invoke_with_response_stream(FunctionName=name, Payload=b'{"mb": 7}')
    events = list(out["EventStream"])
    assert sum(len(e["PayloadChunk"]["Payload"]) for e in events[:-1]) == 7 * 1024 * 1024
    assert events[-1] == {"InvokeComplete": {}}
    # gathered for a plain Invoke, it is over the synchronous limit, as a buffered answer would be
    whole = functions.invoke(name, {"mb": 7})
    assert whole["FunctionError"] == "Unhandled"
    assert json.loads(whole["Payload"]) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert functions.invoke(name, {"mb": 1})["Payload"] == b"a" * 1024 * 1024  # and it serves on


def test_invoke_with_response_stream_checks_its_request(functions: Functions) -> None:
    name = functions.python(PY_PLAIN)
    client = functions.client
    dry = client.invoke_with_response_stream(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204 and list(dry["EventStream"]) == []  # AWS answers the status alone
    with pytest.raises(ClientError) as bad_type:
        client.invoke_with_response_stream(FunctionName=name, InvocationType="Event", Payload=b"{}")
    assert bad_type.value.response["Error"]["Code"] == "ValidationException"
    assert "'Event' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set" in str(
        bad_type.value
    )
    with pytest.raises(ClientError) as bad_log:
        client.invoke_with_response_stream(FunctionName=name, LogType="All", Payload=b"{}")
    assert bad_log.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as missing:
        client.invoke_with_response_stream(FunctionName=name, Qualifier="nope", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as context:
        client.invoke_with_response_stream(FunctionName=name, ClientContext="not base64!", Payload=b"{}")
    assert context.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as payload:
        client.invoke_with_response_stream(FunctionName=name, Payload=b"{not json")
    assert payload.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as unknown:
        client.invoke_with_response_stream(FunctionName="no-such-function", Payload=b"{}")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


SDK_SCRIPT = """
const { LambdaClient, InvokeWithResponseStreamCommand } = require('@aws-sdk/client-lambda');
(async () => {
  const client = new LambdaClient({
    endpoint: process.env.ENDPOINT, region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const out = await client.send(new InvokeWithResponseStreamCommand({
    FunctionName: process.env.FUNCTION, Payload: Buffer.from(JSON.stringify({ gate: 'sdk' })),
  }));
  const events = [];
  for await (const event of out.EventStream) {
    if (event.PayloadChunk) {
      events.push({ chunk: Buffer.from(event.PayloadChunk.Payload).toString() });
      if (events.length === 1) await fetch(process.env.GATE_OPEN);  // the first part is here
    } else events.push(event);
  }
  console.log(JSON.stringify({ status: out.StatusCode, version: out.ExecutedVersion, events }));
})().catch((err) => { console.error(err); process.exit(1); });
"""


def test_invoke_with_response_stream_through_the_sdk_for_javascript(
    functions: Functions, gate: Gate, tmp_path: Path
) -> None:
    modules = Path(sys.prefix) / "node-runtime" / "node_modules"
    if not (modules / "@aws-sdk" / "client-lambda").is_dir():
        pytest.skip("the SDK for JavaScript is not installed (scripts/bootstrap.sh)")
    name = node(functions, GATED_NODE, gate, timeout=20)
    script = tmp_path / "invoke.js"
    script.write_text(SDK_SCRIPT)
    proc = subprocess.run(
        ["node", str(script)],
        env={
            **os.environ,
            "NODE_PATH": str(modules),
            "ENDPOINT": functions.server.url,
            "FUNCTION": name,
            "GATE_OPEN": f"{gate.url}/open/sdk",  # the script opens the gate on its first chunk
        },
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == 200 and out["version"] == "$LATEST"
    chunks = [e["chunk"] for e in out["events"] if "chunk" in e]
    assert chunks[0] == "first|" and "".join(chunks) == "first|gate open|last"
    assert out["events"][-1] == {"InvokeComplete": {}}
