"""A request whose body never arrives in full is not held open forever: after a bounded time
without progress the server answers (408, in AWS's error shape) and closes the connection."""

from __future__ import annotations

import socket
import time

from tests.conftest import Server

# The edge's no-progress limit is 10 s; the test allows for a loaded machine.
BOUND_S = 25.0


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the connection was still open after {BOUND_S}s; received {data!r}")


def test_a_body_shorter_than_its_content_length_times_out(server: Server) -> None:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"FunctionName": "slow"'
        )
        data = read_until_closed(sock, start + BOUND_S)
    elapsed = time.monotonic() - start
    assert elapsed >= 5, f"closed after {elapsed:.1f}s: too eager for a slow client"
    head = data.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 408"), data[:300]
    assert b"\r\nx-amzn-errortype: requesttimeoutexception\r\n" in data.lower(), data[:500]
    assert b"\r\nconnection: close\r\n" in data.lower(), data[:500]
    # The server is healthy and serves the next client at once.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /_localstack/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock, time.monotonic() + 5).startswith(b"HTTP/1.1 200")


def test_a_body_that_keeps_arriving_is_not_cut_off(server: Server) -> None:
    # Progress resets the limit: a body trickling in (slower than nothing, faster than the limit)
    # is read to its end and answered.
    body = b'{"FunctionName": "x"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /2015-03-31/functions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        for i in range(0, len(body), 7):
            sock.sendall(body[i : i + 7])
            time.sleep(2)
        data = read_until_closed(sock, time.monotonic() + BOUND_S)
    assert data.startswith(b"HTTP/1.1 400"), data[:300]  # a validation error: the body was read
