"""Tests for the Node.js runtime client (src/locallambda/runtimes/nodejs/bootstrap.mjs).

Each test writes a tiny function into tmp_path, starts ``node bootstrap.mjs`` with
cwd = that dir against a FakeRuntimeAPI, and checks what the client posts back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .fake_runtime_api import FakeRuntimeAPI

BOOTSTRAP = Path(__file__).resolve().parents[2] / "src/locallambda/runtimes/nodejs/bootstrap.mjs"
NODE = shutil.which("node") or "/usr/bin/node"
pytestmark = pytest.mark.skipif(not os.path.exists(NODE), reason="node not installed")

ECHO_CJS = "exports.handler = async (event) => event;\n"


class Fn:
    """A running bootstrap process plus its fake Runtime API."""

    def __init__(self, api: FakeRuntimeAPI, proc: subprocess.Popen, out: Path):
        self.api, self.proc, self.out = api, proc, out

    def invoke(self, payload=b"{}", timeout=5.0, **kw):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        return self.api.invoke(payload, timeout=timeout, **kw)

    def stdout(self) -> str:
        return self.out.read_bytes().decode()  # keep \r (AWS turns \n into \r)


@pytest.fixture
def start(tmp_path):
    apis, procs = [], []

    def _start(files: dict[str, str], handler: str = "index.handler", **env_extra) -> Fn:
        code = tmp_path / "code"
        code.mkdir(exist_ok=True)
        for name, text in files.items():
            (code / name).parent.mkdir(parents=True, exist_ok=True)
            (code / name).write_text(text)
        api = FakeRuntimeAPI().start()
        apis.append(api)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER", "NODE_"))}
        env.update(
            AWS_LAMBDA_RUNTIME_API=api.address,
            _HANDLER=handler,
            LAMBDA_TASK_ROOT=str(code),
            AWS_LAMBDA_FUNCTION_NAME="fn",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_REGION="us-east-1",
            AWS_LAMBDA_LOG_GROUP_NAME="/aws/lambda/fn",
            AWS_LAMBDA_LOG_STREAM_NAME="stream1",
        )
        env.update(env_extra)
        out = tmp_path / f"stdout{len(procs)}.txt"
        with open(out, "wb") as fh:
            proc = subprocess.Popen([NODE, str(BOOTSTRAP)], cwd=code, env=env, stdout=fh, stderr=subprocess.STDOUT)
        procs.append(proc)
        return Fn(api, proc, out)

    yield _start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=5)
    for a in apis:
        a.close()


def test_async_echo_and_undefined_is_null(start):
    fn = start({"index.js": "exports.handler = async (e) => e.missing ? undefined : e;\n"})
    res = fn.invoke({"hello": "world", "n": [1, 2]})
    assert res.kind == "response" and res.json() == {"hello": "world", "n": [1, 2]}
    assert fn.invoke({"missing": True}).body == b"null"


@pytest.mark.parametrize(
    "files,handler",
    [
        ({"index.mjs": "export const handler = async (e) => ({esm: e.x});\n"}, "index.handler"),
        (
            {"index.js": "export const handler = async (e) => ({esm: e.x});\n", "package.json": '{"type": "module"}'},
            "index.handler",
        ),
        ({"index.cjs": "module.exports.handler = async (e) => ({esm: e.x});\n"}, "index.handler"),
        ({"src/app.js": "exports.handler = async (e) => ({esm: e.x});\n"}, "src/app.handler"),
        ({"lib/mod.mjs": "export const nested = {fn: async (e) => ({esm: e.x})};\n"}, "lib/mod.nested.fn"),
        ({"node_modules/pkg/index.js": "exports.handler = async (e) => ({esm: e.x});\n"}, "pkg.handler"),
    ],
    ids=["mjs", "type-module", "cjs", "nested-dir", "nested-export", "node_modules"],
)
def test_module_kinds(start, files, handler):
    fn = start(files, handler)
    assert fn.invoke({"x": 7}).json() == {"esm": 7}


def test_callback_handlers(start):
    fn = start(
        {
            "index.js": """
exports.handler = (e, ctx, cb) => {
  if (e.mode === 'err') return cb(new TypeError('bad ' + e.mode));
  if (e.mode === 'nowait') { ctx.callbackWaitsForEmptyEventLoop = false; setTimeout(() => {}, 20000); }
  if (e.mode === 'wait') setTimeout(() => {}, 300);
  setTimeout(() => cb(null, {mode: e.mode}), 5);
};
"""
        }
    )
    assert fn.invoke({"mode": "plain"}).json() == {"mode": "plain"}
    t0 = time.monotonic()
    assert fn.invoke({"mode": "wait"}).json() == {"mode": "wait"}
    assert time.monotonic() - t0 >= 0.25  # waited for the empty event loop
    t0 = time.monotonic()
    assert fn.invoke({"mode": "nowait"}).json() == {"mode": "nowait"}
    assert time.monotonic() - t0 < 20.0  # did not wait for the 20 s timer
    err = fn.invoke({"mode": "err"})
    assert err.kind == "error" and err.json()["errorType"] == "TypeError"


def test_sync_handler_return_value_is_ignored_like_aws(start):
    fn = start({"index.js": "exports.handler = function (e) { return 42; };\n"})
    assert fn.invoke({}).body == b"null"


def test_context_fields(start, monkeypatch):
    fn = start(
        {
            "index.js": """
exports.handler = async (e, ctx) => ({
  fn: ctx.functionName, ver: ctx.functionVersion, arn: ctx.invokedFunctionArn,
  mem: ctx.memoryLimitInMB, id: ctx.awsRequestId, rem: ctx.getRemainingTimeInMillis(),
  group: ctx.logGroupName, stream: ctx.logStreamName, cc: ctx.clientContext, ident: ctx.identity,
  waits: ctx.callbackWaitsForEmptyEventLoop, trace: process.env._X_AMZN_TRACE_ID,
  legacy: [typeof ctx.done, typeof ctx.succeed, typeof ctx.fail],
});
"""
        }
    )
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn:prod"
    deadline = int(time.time() * 1000) + 42_000
    body = fn.invoke(
        {},
        request_id="req-123",
        deadline_ms=deadline,
        function_arn=arn,
        client_context={"custom": {"k": "v"}},
        cognito_identity={"cognitoIdentityId": "i"},
        trace_id="Root=1-abc;Sampled=1",
    ).json()
    assert body["fn"] == "fn" and body["ver"] == "$LATEST" and body["arn"] == arn
    assert body["mem"] == "256" and body["id"] == "req-123"
    assert 40_000 < body["rem"] <= 42_000
    assert body["group"] == "/aws/lambda/fn" and body["stream"] == "stream1"
    assert body["cc"] == {"custom": {"k": "v"}} and body["ident"] == {"cognitoIdentityId": "i"}
    assert body["waits"] is True and body["trace"] == "Root=1-abc;Sampled=1"
    assert body["legacy"] == ["function"] * 3


def test_errors_are_reported_and_runtime_survives(start):
    fn = start(
        {
            "index.js": """
class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }
exports.handler = async (e) => {
  if (e.kind === 'error') throw new Error('boom');
  if (e.kind === 'custom') throw new MyError('mine');
  if (e.kind === 'string') throw 'just a string';
  if (e.kind === 'reject') return Promise.reject(new RangeError('range'));
  return 'ok';
};
"""
        }
    )
    res = fn.invoke({"kind": "error"})
    assert res.kind == "error"
    body = res.json()
    assert body["errorType"] == "Error" and body["errorMessage"] == "boom"
    assert body["trace"][0] == "Error: boom" and any("index.js" in line for line in body["trace"])
    assert res.error_type_header == "Error"
    res = fn.invoke({"kind": "custom"})
    assert res.json()["errorType"] == "MyError" and res.error_type_header == "MyError"
    assert fn.invoke({"kind": "string"}).json() == {"errorType": "string", "errorMessage": "just a string", "trace": []}
    assert fn.invoke({"kind": "reject"}).json()["errorType"] == "RangeError"
    assert fn.invoke({}).json() == "ok"
    assert fn.proc.poll() is None
    assert "\tERROR\tInvoke Error \t{" in fn.stdout()


@pytest.mark.parametrize(
    "files,handler,etype,msg",
    [
        ({}, "index.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'index'"),
        (
            {"index.js": "exports.other = () => 1;\n"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = 5;\n"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            {"index.js": "exports.handler = async () => {\n"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
        ),
        ({"index.mjs": "export const handler = ;\n"}, "index.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: "),
        ({"index.js": ECHO_CJS}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
        ({"index.js": "throw new Error('init failed');\n"}, "index.handler", "Error", "init failed"),
    ],
    ids=["no-module", "no-export", "not-function", "syntax-cjs", "syntax-esm", "malformed", "init-throw"],
)
def test_init_errors(start, files, handler, etype, msg):
    fn = start(files, handler)
    err = fn.api.wait_init_error(timeout=5)
    body = err.json()
    assert body["errorType"] == etype and body["errorMessage"].startswith(msg)
    assert isinstance(body["trace"], list) and err.error_type_header == etype
    assert fn.proc.wait(timeout=5) != 0
    assert fn.api.next_call_count == 0


def test_many_sequential_invokes_reuse_process(start):
    fn = start({"index.js": "let n = 0;\nexports.handler = async (e) => ({n: ++n, pid: process.pid, i: e.i});\n"})
    pids = set()
    for i in range(200):
        body = fn.invoke({"i": i}).json()
        assert body["n"] == i + 1 and body["i"] == i
        pids.add(body["pid"])
    assert pids == {fn.proc.pid}


def test_large_response_and_event(start):
    fn = start({"index.js": "exports.handler = async (e) => 'x'.repeat(6 * 1024 * 1024 - 100) + e.s.length;\n"})
    res = fn.invoke({"s": "y" * (5 * 1024 * 1024)}, timeout=10)
    assert res.kind == "response" and len(res.body) == 6 * 1024 * 1024 - 100 + 2 + 7


def test_console_format(start):
    fn = start(
        {
            "index.js": """
console.log('at init');
exports.handler = async (e) => {
  console.log('hello %d', 42, {a: 1});
  console.info('two\\nlines'); console.warn('w'); console.error(new Error('e1').message); console.debug('d');
  return 1;
};
"""
        }
    )
    res = fn.invoke({}, request_id="rid-1")
    assert res.json() == 1
    lines = fn.stdout().split("\n")
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(ts + r"\tundefined\tINFO\tat init", lines[0])
    assert re.fullmatch(ts + r"\trid-1\tINFO\thello 42 \{ a: 1 \}", lines[1])
    assert lines[2].endswith("\trid-1\tINFO\ttwo\rlines")
    assert [ln.split("\t")[2:] for ln in lines[3:6]] == [["WARN", "w"], ["ERROR", "e1"], ["DEBUG", "d"]]


def test_json_log_format(start):
    fn = start(
        {"index.js": "exports.handler = async () => { console.warn('hi', 1); return 1; };\n"},
        AWS_LAMBDA_LOG_FORMAT="JSON",
    )
    fn.invoke({}, request_id="rid-j")
    rec = json.loads(fn.stdout().splitlines()[0])
    assert rec["level"] == "WARN" and rec["requestId"] == "rid-j" and rec["message"] == "hi 1"


def test_unhandled_rejection_fails_invoke_and_exits(start):
    fn = start(
        {
            "index.js": """
exports.handler = async (e) => { Promise.reject(new Error('lost')); await new Promise(r => setTimeout(r, 200)); return 1; };
"""
        }
    )
    res = fn.invoke({})
    assert res.kind == "error"
    assert res.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert res.json()["errorMessage"] == "Error: lost"
    assert fn.proc.wait(timeout=5) == 128


def test_async_handler_never_settling_reports_nodejs_exit(start):
    fn = start({"index.js": "exports.handler = async () => new Promise(() => {});\n"})
    res = fn.invoke({})
    assert res.kind == "error" and res.json()["errorType"] == "Runtime.NodeJsExit"
    assert fn.invoke({"again": 1}).kind == "error"  # still alive


def test_streaming_handler(start):
    fn = start(
        {
            "index.mjs": """
export const handler = awslambda.streamifyResponse(async (e, stream) => {
  stream.setContentType('text/plain'); stream.write('a'); stream.write('b'); stream.end('c');
});
"""
        }
    )
    res = fn.invoke({})
    assert res.kind == "response" and res.body == b"abc"
    assert res.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert res.headers["content-type"] == "text/plain"
