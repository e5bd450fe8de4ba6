"""Our transport for awslambdaric (runtimes/python/runtime_client.py) beside awslambdaric's own C
client, side by side: the same handlers, the same scripted Runtime API (a recording server here),
and what each sends, prints and exits with compared whole.

The stock run is ``python -m awslambdaric`` with its C ``runtime_client``; ours is the very program
the server starts (``python_bootstrap``). Pipelining is the one difference on the wire: ours sends
``GET /next`` in the same write as a post, and the recording server answers requests in order
whatever their grouping, as an HTTP/1.1 server must.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import awslambdaric
import pytest

from locallambda.runtimes.commands import python_bootstrap

SITE = str(Path(awslambdaric.__file__).resolve().parent.parent)

HANDLERS = """\
import json, sys
def echo(event, context):
    return event
def context_of(event, context):
    print("a line from the handler", flush=True)
    return {
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_positive": context.get_remaining_time_in_millis() > 0,
        "client_context": context.client_context.custom if context.client_context else None,
        "identity": context.identity.cognito_identity_id if context.identity else None,
        "tenant": getattr(context, "tenant_id", None),
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "trace": __import__("os").environ.get("_X_AMZN_TRACE_ID"),
    }
def fails(event, context):
    raise ValueError("nope: " + str(event))
def unserializable(event, context):
    return {"s": {1, 2}}
def big(event, context):
    return "x" * event["n"]
"""


class Recorder:
    """A Runtime API that serves ``events`` in turn, answers every post with ``post_status``,
    records every request whole, and closes the connection once the events are out."""

    def __init__(self, events: list[tuple[bytes, dict[str, str]]], post_status: int = 202) -> None:
        self.events = list(events)
        self.post_status = post_status
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, rest = buffer.split(b"\r\n\r\n", 1)
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if len(rest) < length:
                        break
                    body, buffer = rest[:length], rest[length:]
                    self.requests.append(head + b"\r\n\r\n" + body)
                    if not self._answer(conn, head.split(b" ", 2)[1].decode()):
                        return

    def _answer(self, conn: socket.socket, path: str) -> bool:
        if path.endswith("/next"):
            if not self.events:
                return False  # closed: the runtime's next() fails
            body, headers = self.events.pop(0)
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return True
        status = self.post_status if "/invocation/" in path else 202
        reply = b'{"status":"OK"}' if status == 202 else b'{"errorMessage":"no","errorType":"InvalidRequest"}'
        conn.sendall(
            b"HTTP/1.1 %d Status\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (status, len(reply))
            + reply
        )
        return True

    def close(self) -> None:
        self.sock.close()


def event(n: int, body: object, **extra: str) -> tuple[bytes, dict[str, str]]:
    headers = {
        "Lambda-Runtime-Aws-Request-Id": f"rid-{n}",
        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 600_000),
        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
        "Lambda-Runtime-Trace-Id": f"Root=1-5759e988-bd862e3fe1be46a99427230{n};Parent=53995c3f42cd8ad8;Sampled=1",
        **extra,
    }
    return json.dumps(body).encode(), headers


def run(client: str, handler: str, recorder: Recorder, code: Path) -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{recorder.port}",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
        "LAMBDA_TASK_ROOT": str(code),
        "PYTHONPATH": str(code),
    }
    if client == "stock":
        argv = [sys.executable, "-u", "-m", "awslambdaric", handler]
        env["PYTHONPATH"] = f"{code}{os.pathsep}{SITE}"
    else:  # the server's own interpreter gets the client compiled; another one its source
        python = sys.executable if client == "ours" else ""
        argv = [sys.executable, "-u", "-S", "-c", python_bootstrap(SITE, "python3.11", python=python), handler]
    done = subprocess.run(argv, cwd=code, env=env, capture_output=True, timeout=60)
    recorder.close()
    port = str(recorder.port).encode()
    return {
        "requests": [r.replace(port, b"PORT") for r in recorder.requests],
        "stdout": re.sub(
            rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", b"TIME", re.sub(rb"\[\d{13}\]", b"[TS]", done.stdout)
        ),
        "stderr_last": done.stderr.strip().splitlines()[-1:],
        "exit": done.returncode,
    }


def handlers_in(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "handlers.py").write_text(HANDLERS)
    return code


SCENARIOS = {
    "echo and unicode": (
        "handlers.echo",
        [event(1, {"hello": "wörld ☃", "n": [1, 2.5, None, True]}), event(2, "a string"), event(3, [])],
        202,
    ),
    "context and log lines": (
        "handlers.context_of",
        [
            event(
                1,
                {},
                **{
                    "Lambda-Runtime-Client-Context": json.dumps({"custom": {"k": "v"}, "env": {}, "client": {}}),
                    "Lambda-Runtime-Cognito-Identity": json.dumps(
                        {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "p"}
                    ),
                    "Lambda-Runtime-Aws-Tenant-Id": "tenant-7",
                },
            ),
            event(2, {}),
        ],
        202,
    ),
    "errors": ("handlers.fails", [event(1, {"a": 1}), event(2, "b")], 202),
    "unserializable result": ("handlers.unserializable", [event(1, {})], 202),
    "large payloads": ("handlers.big", [event(1, {"n": 300_000}), event(2, {"n": 3})], 202),
    "the post refused": ("handlers.echo", [event(1, {"a": 1}), event(2, {"a": 2})], 413),
    "missing handler module": ("nowhere.handler", [event(1, {})], 202),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_requests_output_and_exit_as_awslambdaric(scenario: str, tmp_path: Path) -> None:
    handler, events, post_status = SCENARIOS[scenario]
    code = handlers_in(tmp_path)
    stock = run("stock", handler, Recorder(events, post_status), code)
    ours = run("ours", handler, Recorder(events, post_status), code)
    if post_status != 202:
        # The one difference: the GET /next that went out with the refused post (both clients
        # then fail the same way, and the process exits).
        assert ours["requests"][-1].startswith(b"GET /2018-06-01/runtime/invocation/next ")
        ours["requests"] = ours["requests"][:-1]  # type: ignore[index]
    assert ours["requests"] == stock["requests"]
    assert ours["stdout"] == stock["stdout"]
    assert ours["stderr_last"] == stock["stderr_last"]
    assert ours["exit"] == stock["exit"]
    assert stock["requests"], "the stock client sent nothing: the scenario proves nothing"


def test_a_kept_connection_the_server_closed_is_opened_again(tmp_path: Path) -> None:
    """libcurl reconnects when the server closed an idle kept connection; so does ours."""
    code = handlers_in(tmp_path)

    class Closing(Recorder):
        def _answer(self, conn: socket.socket, path: str) -> bool:
            return super()._answer(conn, path) and not path.endswith("/response")  # closed after a 202

    results = {}
    for client in ("stock", "ours"):
        recorder = Closing([event(1, {"a": 1}), event(2, {"a": 2})])
        results[client] = run(client, "handlers.echo", recorder, code)
    assert results["ours"]["requests"] == results["stock"]["requests"]
    assert len(results["ours"]["requests"]) == 5  # next, response, next, response, next


@pytest.mark.parametrize("scenario", ["echo and unicode", "errors"])
def test_an_interpreter_of_another_version_gets_the_same_client_from_its_source(scenario: str, tmp_path: Path) -> None:
    handler, events, post_status = SCENARIOS[scenario]
    code = handlers_in(tmp_path)
    compiled = run("ours", handler, Recorder(events, post_status), code)
    source = run("ours from source", handler, Recorder(events, post_status), code)
    assert source == compiled
    assert b"marshal" in python_bootstrap(SITE, python=sys.executable).encode()
    assert b"marshal" not in python_bootstrap(SITE, python="/usr/bin/python3.99").encode()
