"""The transport of awslambdaric, in the function's process: a module named ``runtime_client``.

awslambdaric's own ``runtime_client`` is a C extension around aws-lambda-cpp and libcurl. The
Python bootstrap (``runtimes/commands.py``) registers this module under that name before
awslambdaric imports it, so that everything awslambdaric does (marshalling, error payloads, log
formats, the context object) stays its own and only the HTTP exchanges are ours: the same four
functions, the same requests byte for byte (method, path, headers and body as libcurl sends them;
``tests/invoke/test_python_client.py`` compares the two on one recording server), the same results
and the same failures (``RuntimeError`` with the C client's message, its ``LAMBDA_RUNTIME`` line
written to the process's standard output as aws-lambda-cpp writes it).

What differs is the cost: one kept connection read and written directly (libcurl's per-request
setup and its header callbacks into Python are gone), and, after a result or an error is posted,
the next ``GET /next`` goes out in the same write (HTTP/1.1 pipelining) instead of after the
``202``: one exchange fewer on the loopback per invocation, for the runtime and the server.

Run inside the function's interpreter: standard library only, names kept private, the
environment read once when imported (as the C client reads it once).
"""

from __future__ import annotations

import _socket
import os as _os
import time as _time
from os import environ as _environ

_ADDRESS = _environ.get("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001"
_PREFIX = "/2018-06-01/runtime/invocation/"
_NEXT_HEAD = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\n" % _ADDRESS.encode()
# The headers next() hands awslambdaric, as the C client names them; the ones it leaves None
# when they are absent or empty (the others are "" then).
_NULLABLE = (
    ("lambda-runtime-trace-id", "Lambda-Runtime-Trace-Id"),
    ("lambda-runtime-client-context", "Lambda-Runtime-Client-Context"),
    ("content-type", "Content-Type"),
    ("lambda-runtime-cognito-identity", "Lambda-Runtime-Cognito-Identity"),
    ("lambda-runtime-aws-tenant-id", "Lambda-Runtime-Aws-Tenant-Id"),
    ("lambda-runtime-invocation-id", "Lambda-Runtime-Invocation-Id"),
)


class _Connection:
    """The kept connection to the Runtime API and what was read ahead on it."""

    def __init__(self) -> None:
        self.sock: _socket.socket | None = None
        self.buffer = b""
        self.user_agent = b""
        self.next_sent = False  # a GET /next went out behind the last post
        self.answered = False  # bytes of the current response arrived


_conn = _Connection()


def _log_error(message: str) -> None:
    # aws-lambda-cpp's logging::log_error: straight to the process's standard output.
    line = f"[ERROR] [{int(_time.time() * 1000)}] LAMBDA_RUNTIME {message}\n"
    try:
        _os.write(1, line.encode())
    except OSError:
        pass


def _connect() -> _socket.socket:
    host, _, port = _ADDRESS.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    candidates: list[tuple[int, tuple[str, int]]] = []
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        candidates = [(family, (host, int(port)))]  # an address: no resolver (libcurl asks none either)
    if not candidates:
        resolved = _socket.getaddrinfo(host, int(port), 0, _socket.SOCK_STREAM)
        candidates = [(f, (str(a[0]), int(a[1]))) for f, _k, _p, _n, a in resolved]
    last: OSError = OSError("no address")
    for family, address in candidates:
        sock = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise last


def _drop() -> None:
    sock, _conn.sock = _conn.sock, None
    _conn.buffer = b""
    _conn.next_sent = False
    if sock is not None:
        sock.close()


def _read_response(sock: _socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response from the connection: (status, headers in lower case, body)."""
    buffer = _conn.buffer
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the Runtime API closed the connection")
        _conn.answered = True
        buffer += chunk
    lines = buffer[:end].decode("latin-1").split("\r\n")
    rest = buffer[end + 4 :]
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    # The Runtime API answers with a Content-Length (runtime_api/http.py), never chunked.
    length = int(headers.get("content-length") or 0)
    parts, have = [rest], len(rest)
    while have < length:  # a large event: its parts joined once
        chunk = sock.recv(max(65536, length - have))
        if not chunk:
            raise ConnectionResetError("the Runtime API closed the connection")
        parts.append(chunk)
        have += len(chunk)
    rest = parts[0] if len(parts) == 1 else b"".join(parts)
    _conn.buffer = rest[length:]
    return status, headers, rest[:length]


def _exchange(request: bytes, responses: int) -> tuple[int, dict[str, str], bytes] | None:
    """Send ``request`` and read the first of its ``responses``; None when no answer came (a kept
    connection the server had closed is opened again once, as libcurl does)."""
    for _attempt in range(2):
        reused = _conn.sock is not None
        _conn.answered = bool(_conn.buffer)
        try:
            if _conn.sock is None:
                _conn.sock = _connect()
            sock = _conn.sock
            sock.sendall(request)
            _conn.next_sent = responses > 1
            return _read_response(sock)
        except (OSError, ValueError, IndexError):
            answered = _conn.answered
            _drop()
            if not reused or answered:
                return None
    return None


def initialize_client(user_agent: str) -> None:
    _conn.user_agent = b"User-Agent: %s\r\n" % user_agent.encode()


def next() -> tuple[bytes, dict[str, object]]:  # the C client's name
    """The next invocation: (event body, headers by the names awslambdaric reads)."""
    got: tuple[int, dict[str, str], bytes] | None
    if _conn.next_sent and _conn.sock is not None:
        _conn.next_sent = False
        try:
            got = _read_response(_conn.sock)
        except (OSError, ValueError, IndexError):
            _drop()
            got = _exchange(_NEXT_HEAD + _conn.user_agent + b"\r\n", 1)
    else:
        got = _exchange(_NEXT_HEAD + _conn.user_agent + b"\r\n", 1)
    if got is None:
        _log_error("Failed to get next invocation. No Response from endpoint")
        raise RuntimeError("Failed to get next")
    status, headers, body = got
    if not 200 <= status < 300:
        _log_error(f"Failed to get next invocation. Http Response code: {status}")
        raise RuntimeError("Failed to get next")
    request_id = headers.get("lambda-runtime-aws-request-id")
    if request_id is None:
        _log_error("Failed to find header lambda-runtime-aws-request-id in response")
        raise RuntimeError("Failed to get next")
    deadline = headers.get("lambda-runtime-deadline-ms", "")
    digits = len(deadline) - len(deadline.lstrip("0123456789"))
    out: dict[str, object] = {
        "Lambda-Runtime-Aws-Request-Id": request_id,
        "Lambda-Runtime-Invoked-Function-Arn": headers.get("lambda-runtime-invoked-function-arn", ""),
        "Lambda-Runtime-Deadline-Ms": int(deadline[:digits]) if digits else 0,
    }
    for low, name in _NULLABLE:
        out[name] = headers.get(low) or None
    return body, out


def _post(path: str, body: bytes, content_type: str, extra: bytes, failure: str) -> None:
    head = b"POST %s HTTP/1.1\r\nHost: %s\r\nAccept: */*\r\ncontent-type: %s\r\n%s%scontent-length: %d\r\n\r\n" % (
        path.encode(),
        _ADDRESS.encode(),
        (content_type or "text/html").encode(),
        extra,
        _conn.user_agent,
        len(body),
    )
    got = _exchange(head + body + _NEXT_HEAD + _conn.user_agent + b"\r\n", 2)
    if got is None:
        raise RuntimeError(failure)
    status, _headers, answer = got
    if not 200 <= status < 300:
        # awslambdaric's aws-lambda-cpp adds the answer's body to the line.
        _log_error(f"Failed to post handler success response. Http response code: {status}. {answer.decode()}")
        raise RuntimeError(failure)


def _invocation_header(invocation_id: str | None) -> bytes:
    return b"lambda-runtime-invocation-id: %s\r\n" % invocation_id.encode() if invocation_id else b""


def post_invocation_result(request_id: str, body: bytes, content_type: str, invocation_id: str | None = None) -> None:
    _post(
        _PREFIX + request_id + "/response",
        body,
        content_type,
        _invocation_header(invocation_id),
        "Failed to post invocation response",
    )


def post_error(request_id: str, error: str, xray_fault: str, invocation_id: str | None = None) -> None:
    cause = b"lambda-runtime-function-xray-error-cause: %s\r\n" % xray_fault.encode() if xray_fault else b""
    _post(
        _PREFIX + request_id + "/error",
        error.encode(),
        "application/json",
        cause + _invocation_header(invocation_id),
        "Failed to post invocation error",
    )
