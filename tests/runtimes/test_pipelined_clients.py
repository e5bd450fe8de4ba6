"""Our Runtime API clients for Python (awslambdaric over runtimes/python/runtime_client.py) and
Node.js (runtimes/nodejs/bootstrap.mjs) on the wire: after each result, the next ``GET /next``
comes in the same read as the post, and a 202 answered together with the next event is taken
as both answers. A raw socket server on loopback records what arrives read by read."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import awslambdaric
import pytest

from locallambda.runtimes.commands import python_bootstrap

BOOTSTRAP = Path(__file__).resolve().parents[2] / "src/locallambda/runtimes/nodejs/bootstrap.mjs"
SITE = str(Path(awslambdaric.__file__).resolve().parent.parent)
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"


def event(rid: str, payload: dict[str, int]) -> bytes:
    body = json.dumps(payload).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
        b"Lambda-Runtime-Deadline-Ms: 9999999999999\r\n"
        b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:f\r\n"
        b"Content-Length: %d\r\n\r\n" % (rid.encode(), len(body))
    ) + body


ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"OK"}'


def read_request(conn: socket.socket) -> bytes:
    """What one read brings once a whole request (or more) is in."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        assert chunk, f"the runtime closed the connection after {data!r}"
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            continue
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(rest) >= length:
            return data


def start(client: str, code: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "s",
        "LAMBDA_TASK_ROOT": str(code),
        "PYTHONPATH": str(code),
    }
    if client == "python":
        (code / "handler.py").write_text("def handler(event, context):\n    return {'got': event['n']}\n")
        program = python_bootstrap(SITE, "python3.11", python=sys.executable)
        argv = [sys.executable, "-u", "-S", "-c", program, "handler.handler"]
    else:
        (code / "index.js").write_text("exports.handler = async (event) => ({ got: event.n });\n")
        env["_HANDLER"] = "index.handler"
        argv = [shutil.which("node") or "node", str(BOOTSTRAP)]
    return subprocess.Popen(argv, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("client", ["python", "node"])
def test_the_next_request_rides_with_the_result(client: str, tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(20)
    proc = start(client, tmp_path, server.getsockname()[1])
    try:
        conn, _ = server.accept()
        conn.settimeout(20)
        with conn:
            assert read_request(conn).startswith(NEXT)
            conn.sendall(event("r1", {"n": 1}))
            first = read_request(conn)
            assert first.startswith(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n")
            assert json.loads(first.split(b"\r\n\r\n", 1)[1].split(NEXT)[0]) == {"got": 1}
            assert NEXT in first, f"the GET /next did not come with the result: {first!r}"
            conn.sendall(ACCEPTED + event("r2", {"n": 2}))  # the 202 and the next event, one write
            second = read_request(conn)
            assert second.startswith(b"POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\n")
            body = second.split(b"\r\n\r\n", 1)[1].split(NEXT)[0]
            assert json.loads(body) == {"got": 2}
            assert NEXT in second
    finally:
        proc.kill()
        proc.wait(timeout=5)
        server.close()
