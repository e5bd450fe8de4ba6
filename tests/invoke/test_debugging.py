"""Lambda Debug Mode: a real debugger attaches to a function started under it.

The server runs with LocalStack's ``LAMBDA_DEBUG_MODE=1`` and a ``LAMBDA_DEBUG_MODE_CONFIG_PATH``
file giving each function a port. A Python function starts under debugpy: a client speaking the
Debug Adapter Protocol itself (Content-Length framed JSON over TCP, as VS Code does) attaches, sets
a breakpoint in the handler, sees the invocation stop there, reads a local variable and continues;
the invocation then returns the handler's result, its timeout lifted meanwhile. Two functions are
debugged at once, on two ports. A Node.js function starts under its inspector: a Chrome DevTools
Protocol client (a WebSocket client written here on the standard library) evaluates ``1+1``. A
Java function starts under JDWP: a client of the wire protocol shakes hands, asks the VM's version
and resumes it.

Hot-reloaded code (the ``hot-reload`` bucket) is what one debugs: the runtime then names the
handler's file by the user's own path (the process executor) or ``/var/task`` (the sandbox).
Runs in the process executor, and in the sandbox with ``LOCALLAMBDA_TEST_EXECUTOR=sandbox``;
tests/executors/test_docker_debugging.py runs the same tests in the docker executor.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import ROLE, Server, wait_active
from tests.invoke.conftest import CLI_ENV, EXECUTOR, HOST_PYTHON_RUNTIME, decode_tail, stop_checked, unique

HANDLER = """\
import time

def handler(event, context):
    answer = event["a"] * 2
    remaining = context.get_remaining_time_in_millis()
    return {"answer": answer, "remaining_ms": remaining}
"""
BREAK_LINE = 5  # `remaining = ...`: `answer` is set when the invocation stops there

NODE_HANDLER = "export const handler = async (event) => ({ node: event.a + 1 });\n"

JAVA_HANDLER = """\
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Handler implements RequestHandler<Map<String, Integer>, Map<String, Integer>> {
    @Override
    public Map<String, Integer> handleRequest(Map<String, Integer> event, Context context) {
        return Map.of("java", event.get("a") * 3);
    }
}
"""

PY_ONE, PY_TWO, PY_THREE, PY_BUSY, NODE, JAVA = (
    unique(f"debug-{n}") for n in ("py1", "py2", "py3", "busy", "node", "java")
)


def debug_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999): one the kernel does not hand out
    meanwhile to a socket bound to port 0 (the environments' Runtime APIs are)."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


PORTS = {name: debug_port() for name in (PY_ONE, PY_TWO, PY_THREE, PY_BUSY, NODE, JAVA)}
WAIT_S = 60.0


class Functions:
    """The module's server (its debug config made for the functions below) and its client."""

    def __init__(self, server: Server, code: Path, task_root: str | None = None) -> None:
        """``task_root``: where the runtime sees the code (by default where the executor puts it)."""
        self.server = server
        self.code = code
        self.task_root = task_root or ("/var/task" if EXECUTOR == "sandbox" else str(code))
        self.client = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
        )

    def create(
        self, name: str, runtime: str = HOST_PYTHON_RUNTIME, handler: str = "handler.handler", code: Path | None = None
    ) -> None:
        self.client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"S3Bucket": "hot-reload", "S3Key": str(code or self.code)},
            Timeout=1,  # lifted by debug mode: a stop at a breakpoint outlasts it
        )
        wait_active(self.client, name)

    def invoke(self, name: str, payload: Any) -> dict[str, Any]:
        out = self.client.invoke(FunctionName=name, Payload=json.dumps(payload), LogType="Tail")
        out["Payload"] = json.loads(out["Payload"].read())
        out["Log"] = decode_tail(out["LogResult"])
        return out

    def handler_path(self) -> str:
        """The handler's file as its runtime names it (``co_filename``)."""
        return f"{self.task_root}/handler.py"


def write_config(root: Path) -> tuple[Path, Path]:
    """The functions' code and the debug mode file giving each of them its port, under ``root``."""
    code = root / "code"
    code.mkdir()
    (code / "handler.py").write_text(HANDLER)
    (code / "index.mjs").write_text(NODE_HANDLER)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:"
    # YAML as LocalStack's docs write it: an unqualified ARN ($LATEST), a qualified one, names.
    config = root / "debug.yaml"
    config.write_text(
        "functions:\n"
        f"  {arn}{PY_ONE}:\n    debug-port: {PORTS[PY_ONE]}\n"
        f"  {arn}{PY_TWO}:$LATEST:\n    debug-port: {PORTS[PY_TWO]}\n"
        f"  {PY_THREE}:\n    debug-port: {PORTS[PY_THREE]}\n"
        f"  {PY_BUSY}:$LATEST:\n    debug-port: {PORTS[PY_BUSY]}\n"
        f"  {NODE}:\n    debug-port: {PORTS[NODE]}\n    enforce-timeouts: false\n"
        f"  {JAVA}:\n    debug-port: {PORTS[JAVA]}\n"
    )
    return code, config


@pytest.fixture(scope="module")
def fns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Functions]:
    code, config = write_config(tmp_path_factory.mktemp("debugging"))
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_EXECUTOR": EXECUTOR,
            "LAMBDA_DEBUG_MODE": "1",
            "LAMBDA_DEBUG_MODE_CONFIG_PATH": str(config),
            **CLI_ENV,
        }
    ).start()
    try:
        yield Functions(server, code)
    finally:
        stop_checked(server)


# -- the Debug Adapter Protocol, spoken directly -------------------------------------------------


class Dap:
    """A DAP client over TCP: requests, their responses and the events between them."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:  # the runtime starts with the first invocation: its adapter listens soon after
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buffer = b""
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.responses: dict[int, dict[str, Any]] = {}

    def close(self) -> None:
        """Detach as VS Code does (the function runs on), then hang up."""
        try:
            self.request("disconnect", restart=False, terminateDebuggee=False)
        except (OSError, ConnectionError):
            pass
        self.sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        message: dict[str, Any] = json.loads(body)
        return message

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the debug adapter closed the connection")
        self.buffer += chunk

    def response(self, seq: int) -> dict[str, Any]:
        while seq not in self.responses:
            message = self._read()
            if message["type"] == "response":
                self.responses[message["request_seq"]] = message
            elif message["type"] == "event":
                self.events.append(message)
        found = self.responses.pop(seq)
        assert found["success"], found
        return found.get("body") or {}

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self.response(self.send(command, **arguments))

    def event(self, name: str) -> dict[str, Any]:
        while True:
            for i, event in enumerate(self.events):
                if event["event"] == name:
                    return self.events.pop(i).get("body") or {}
            message = self._read()
            if message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "response":
                self.responses[message["request_seq"]] = message


def attach(port: int, path: str, line: int) -> Dap:
    """Attach to the debugpy on ``port`` with a breakpoint at ``path:line``, as VS Code's
    ``"request": "attach"`` does: initialize, attach, (initialized) setBreakpoints,
    configurationDone; the runtime's init then goes on."""
    dap = Dap(port)
    dap.request("initialize", clientID="tests", adapterID="debugpy", pathFormat="path", linesStartAt1=True)
    attach_seq = dap.send("attach", justMyCode=True)
    dap.event("initialized")
    body = dap.request("setBreakpoints", source={"path": path}, breakpoints=[{"line": line}])
    assert len(body["breakpoints"]) == 1, body
    dap.request("configurationDone")
    dap.response(attach_seq)
    return dap


def stopped_locals(dap: Dap) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Wait for the stop at the breakpoint: its thread, its top frame and the frame's locals."""
    stopped = dap.event("stopped")
    assert stopped["reason"] == "breakpoint", stopped
    thread = stopped["threadId"]
    frame = dap.request("stackTrace", threadId=thread, startFrame=0, levels=1)["stackFrames"][0]
    scopes = dap.request("scopes", frameId=frame["id"])["scopes"]
    local_scope = next(s for s in scopes if s["name"] == "Locals")
    variables = dap.request("variables", variablesReference=local_scope["variablesReference"])["variables"]
    return thread, frame, {v["name"]: v["value"] for v in variables}


# -- tests ---------------------------------------------------------------------------------------


def test_a_breakpoint_stops_the_invocation_and_continue_returns_its_result(fns: Functions) -> None:
    fns.create(PY_ONE)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        invocation = pool.submit(fns.invoke, PY_ONE, {"a": 21})
        dap = attach(PORTS[PY_ONE], fns.handler_path(), BREAK_LINE)
        try:
            thread, frame, local_vars = stopped_locals(dap)
            assert frame["name"] == "handler" and frame["line"] == BREAK_LINE, frame
            assert frame["source"]["path"] == fns.handler_path(), frame
            assert local_vars["answer"] == "42", local_vars
            assert "event" in local_vars and "context" in local_vars, local_vars
            time.sleep(1.5)  # longer than the function's Timeout (1 s): debug mode lifted it
            assert not invocation.done()
            dap.request("continue", threadId=thread)
            out = invocation.result(WAIT_S)
        finally:
            dap.close()
    assert "FunctionError" not in out, out
    assert out["Payload"]["answer"] == 42
    # The deadline the runtime got is debug mode's hour, not the configured second.
    assert out["Payload"]["remaining_ms"] > 3_000_000, out["Payload"]
    assert (
        f"locallambda: debug mode: {PY_ONE} waits for a debugger on 127.0.0.1:{PORTS[PY_ONE]} (debugpy (DAP)) "
        "before its init; timeout not enforced (1 s lifted to 3600 s)"
    ) in out["Log"], out["Log"]
    # The environment stays, its debugger attached: the next invocation stops at the breakpoint too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        dap = attach(PORTS[PY_ONE], fns.handler_path(), BREAK_LINE)
        try:
            invocation = pool.submit(fns.invoke, PY_ONE, {"a": 5})
            thread, _, local_vars = stopped_locals(dap)
            assert local_vars["answer"] == "10", local_vars
            dap.request("continue", threadId=thread)
            assert invocation.result(WAIT_S)["Payload"]["answer"] == 10
        finally:
            dap.close()


def test_two_functions_are_debugged_at_once(fns: Functions) -> None:
    fns.create(PY_TWO)
    fns.create(PY_THREE)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(fns.invoke, PY_TWO, {"a": 1})
        second = pool.submit(fns.invoke, PY_THREE, {"a": 100})
        daps = [attach(PORTS[name], fns.handler_path(), BREAK_LINE) for name in (PY_TWO, PY_THREE)]
        try:
            stops = [stopped_locals(dap) for dap in daps]
            # Both invocations are held at their breakpoints at the same time.
            assert [local_vars["answer"] for _, _, local_vars in stops] == ["2", "200"]
            assert not first.done() and not second.done()
            for dap, (thread, _, _) in zip(daps, stops, strict=True):
                dap.request("continue", threadId=thread)
            assert first.result(WAIT_S)["Payload"]["answer"] == 2
            assert second.result(WAIT_S)["Payload"]["answer"] == 200
        finally:
            for dap in daps:
                dap.close()


def test_a_debugged_function_runs_one_invocation_at_a_time(fns: Functions) -> None:
    """LocalStack's single lease: an invocation while another one is held is throttled."""
    fns.create(PY_BUSY)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(fns.invoke, PY_BUSY, {"a": 3})
        dap = attach(PORTS[PY_BUSY], fns.handler_path(), BREAK_LINE)
        try:
            thread, _, _ = stopped_locals(dap)
            with pytest.raises(fns.client.exceptions.TooManyRequestsException) as caught:
                fns.client.invoke(FunctionName=PY_BUSY, Payload=b'{"a": 4}')
            error = caught.value.response
            assert error["Error"]["Message"] == "Rate Exceeded."
            assert error["Reason"] == "SingleLeaseEnforcement", error
            dap.request("continue", threadId=thread)
            assert held.result(WAIT_S)["Payload"]["answer"] == 6
        finally:
            dap.close()
    # Once the held invocation is over the next one runs (the debugger gone, it stops nowhere).
    assert fns.invoke(PY_BUSY, {"a": 7})["Payload"]["answer"] == 14


# -- the Node.js inspector, over the Chrome DevTools Protocol ------------------------------------


class WebSocket:
    """The least of RFC 6455 a CDP client needs: the handshake, masked text frames out, text
    frames in (unfragmented, as the inspector sends them)."""

    def __init__(self, url: str) -> None:
        assert url.startswith("ws://"), url
        authority, _, path = url[len("ws://") :].partition("/")
        host, _, port = authority.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=WAIT_S)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.seq = 0

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the inspector closed the connection")
            data += chunk
        return data

    def receive(self) -> str:
        first, second = self._exactly(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._exactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exactly(8))[0]
        assert first & 0x0F == 0x1, first  # a text frame
        return self._exactly(n).decode()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.seq += 1
        self.send(json.dumps({"id": self.seq, "method": method, "params": params}))
        while True:
            message: dict[str, Any] = json.loads(self.receive())
            if message.get("id") == self.seq:
                assert "error" not in message, message
                return message["result"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.sock.close()


def inspector_targets(port: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                targets: list[dict[str, Any]] = json.load(answer)
            if targets:
                return targets
        except (OSError, ValueError, http.client.HTTPException):  # not listening yet, or not answering whole
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no inspector on port {port}")
        time.sleep(0.05)


def test_the_node_inspector_is_reached_with_a_cdp_client(fns: Functions) -> None:
    fns.create(NODE, runtime="nodejs20.x", handler="index.handler")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        invocation = pool.submit(fns.invoke, NODE, {"a": 41})
        targets = inspector_targets(PORTS[NODE])
        assert len(targets) == 1 and targets[0]["type"] == "node", targets
        ws = WebSocket(targets[0]["webSocketDebuggerUrl"])
        try:
            assert ws.call("Runtime.evaluate", expression="1+1")["result"] == {
                "type": "number",
                "value": 2,
                "description": "2",
            }
            # The runtime waits for its debugger before its init.
            assert not invocation.done(), invocation.result()
            ws.call("Runtime.runIfWaitingForDebugger")
            out = invocation.result(WAIT_S)
        finally:
            ws.close()
    assert out["Payload"] == {"node": 42}
    assert f"waits for a debugger on 127.0.0.1:{PORTS[NODE]} (the Node.js inspector)" in out["Log"], out["Log"]


# -- Java under JDWP ----------------------------------------------------------------------------


def jdwp(sock: socket.socket, packet_id: int, command_set: int, command: int) -> bytes:
    """One JDWP command without data; the data of its reply (error code 0 asserted). Commands
    from the JVM in between (its VMStart event) are passed over."""
    sock.sendall(struct.pack(">IIBBB", 11, packet_id, 0, command_set, command))
    while True:
        length, reply_id, flags, error = struct.unpack(">IIBH", exactly(sock, 11))
        data = exactly(sock, length - 11)
        if flags == 0x80 and reply_id == packet_id:
            assert error == 0, error
            return data


def exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the JVM closed the connection")
        data += chunk
    return data


def test_java_waits_for_a_jdwp_debugger(fns: Functions, tmp_path: Path) -> None:
    from locallambda.runtimes.java_bootstrap import SOURCE_DIR

    source = tmp_path / "src" / "example" / "Handler.java"
    source.parent.mkdir(parents=True)
    source.write_text(JAVA_HANDLER)
    classes = tmp_path / "classes"
    subprocess.run(
        ["javac", "--release", "17", "-sourcepath", str(SOURCE_DIR), "-d", str(classes), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    shutil.rmtree(classes / "com", ignore_errors=True)  # the API classes are the runtime's, as on AWS
    fns.create(JAVA, runtime="java21", handler="example.Handler::handleRequest", code=classes)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        invocation = pool.submit(fns.invoke, JAVA, {"a": 14})
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", PORTS[JAVA]), timeout=WAIT_S)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        try:
            sock.sendall(b"JDWP-Handshake")
            assert exactly(sock, 14) == b"JDWP-Handshake"
            version = jdwp(sock, 1, 1, 1)  # VirtualMachine.Version: description, JDWP major/minor ...
            (size,) = struct.unpack(">I", version[:4])
            assert b"Java Debug Wire Protocol" in version[4 : 4 + size], version
            assert not invocation.done()  # suspend=y: the JVM waits for its debugger
            jdwp(sock, 2, 1, 9)  # VirtualMachine.Resume
            out = invocation.result(WAIT_S)
        finally:
            sock.close()
    assert out["Payload"] == {"java": 42}, out
    assert f"waits for a debugger on 127.0.0.1:{PORTS[JAVA]} (JDWP)" in out["Log"], out["Log"]


# -- the config file, watched -------------------------------------------------------------------


def wait_logged(server: Server, text: str, count: int) -> None:
    """Until the server's log holds ``text`` ``count`` times."""
    deadline = time.monotonic() + WAIT_S
    while server.log().count(text) < count:
        assert time.monotonic() < deadline, server.log()[-3000:]
        time.sleep(0.05)


@pytest.fixture()
def executor_env() -> tuple[dict[str, str], str | None]:
    """The variables of a server in this module's executor, and where its runtimes see the code."""
    return {"LAMBDA_EXECUTOR": EXECUTOR}, None


def test_the_config_file_is_watched(tmp_path: Path, executor_env: tuple[dict[str, str], str | None]) -> None:
    """LocalStack's debug mode reloads its file while it runs: a function added to it starts
    under its debugger at its next cold start (its warm environment is retired); removed from it,
    it runs without one again (the debugged environment is retired, its port closed)."""
    code, _ = write_config(tmp_path)
    config = tmp_path / "watched.yaml"
    config.write_text("functions: {}\n")
    name, port = unique("debug-watched"), debug_port()
    env, task_root = executor_env
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            **env,
            "LAMBDA_DEBUG_MODE": "1",
            "LAMBDA_DEBUG_MODE_CONFIG_PATH": str(config),
            **CLI_ENV,
        }
    ).start()
    changed = f"Lambda debug mode: {config} changed"
    try:
        fns = Functions(server, code, task_root)
        fns.create(name)
        out = fns.invoke(name, {"a": 1})
        assert out["Payload"]["answer"] == 2 and out["Payload"]["remaining_ms"] <= 1000, out
        assert "debug mode" not in out["Log"], out["Log"]

        config.write_text(f"functions:\n  {name}:\n    debug-port: {port}\n")
        wait_logged(server, changed, 1)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            invocation = pool.submit(fns.invoke, name, {"a": 2})
            dap = attach(port, fns.handler_path(), BREAK_LINE)
            try:
                thread, _, local_vars = stopped_locals(dap)
                assert local_vars["answer"] == "4", local_vars
                dap.request("continue", threadId=thread)
                out = invocation.result(WAIT_S)
            finally:
                dap.close()
        assert out["Payload"]["answer"] == 4 and out["Payload"]["remaining_ms"] > 3_000_000, out
        assert f"waits for a debugger on 127.0.0.1:{port}" in out["Log"], out["Log"]

        config.write_text("functions: {}\n")
        wait_logged(server, changed, 2)
        out = fns.invoke(name, {"a": 3})
        assert out["Payload"]["answer"] == 6 and out["Payload"]["remaining_ms"] <= 1000, out
        assert "debug mode" not in out["Log"], out["Log"]
        deadline = time.monotonic() + WAIT_S
        while True:  # the debugged environment is gone, and its debugger with it
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                break
            assert time.monotonic() < deadline, f"port {port} still listens"
            time.sleep(0.05)
    finally:
        stop_checked(server)
