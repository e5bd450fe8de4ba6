"""A small, fake AWS Lambda Runtime API server for testing runtime clients.

It speaks the ``2018-06-01`` Runtime API that a runtime client ("bootstrap")
talks to, on ``127.0.0.1`` with an ephemeral port, so any language's client
(Node.js, Java, ...) can be started as a child process against it::

    from .fake_runtime_api import FakeRuntimeAPI   # from a test module in tests/runtimes/

    with FakeRuntimeAPI() as api:
        env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address}   # "127.0.0.1:PORT"
        proc = subprocess.Popen([...bootstrap...], env=env)
        rid = api.push_event(b'{"x": 1}')                  # queue one invocation
        res = api.wait_result(rid, timeout=5)              # Result(kind="response"|"error", ...)
        assert res.kind == "response" and res.json() == {"x": 1}
        # for init failures (bad handler, missing module, ...):
        #   err = api.wait_init_error(timeout=5); err.json()["errorType"]

Endpoints served (all under ``/2018-06-01``):

``GET  /runtime/invocation/next``
    Long poll: blocks until an event is pushed, then answers 200 with the
    payload as body and the headers ``Lambda-Runtime-Aws-Request-Id``,
    ``Lambda-Runtime-Deadline-Ms``, ``Lambda-Runtime-Invoked-Function-Arn``,
    ``Lambda-Runtime-Trace-Id`` and, when given, ``Lambda-Runtime-Client-Context``
    / ``Lambda-Runtime-Cognito-Identity``.
``POST /runtime/invocation/{id}/response``  -> 202, recorded as ``Result(kind="response")``
``POST /runtime/invocation/{id}/error``     -> 202, recorded as ``Result(kind="error")``
``POST /runtime/init/error``                -> 202, recorded as an init error (a ``Result``
                                               with ``kind="init_error"`` and ``request_id=None``)

Anything else answers 404 and is recorded in :attr:`FakeRuntimeAPI.unexpected`.
A response/error for a request id that was never handed out is answered 400
(``InvalidRequestID``) and also recorded in ``unexpected``.

Request bodies may be sent with ``Content-Length`` or ``Transfer-Encoding: chunked``.
HTTP/1.1 keep-alive is supported. Header names in :attr:`Result.headers` are
lower-cased; HTTP trailers of a chunked body (as sent by streaming responses that
fail midway: ``Lambda-Runtime-Function-Error-Type`` / ``-Error-Body``) are merged
into them. Every ``wait_*`` method takes a timeout (seconds) and raises
``TimeoutError`` when it expires.

The server is deliberately simple (thread per connection); it is not meant for
measuring per-invoke latency.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Event", "FakeRuntimeAPI", "Result"]

PREFIX = "/2018-06-01"


@dataclass
class Result:
    """What the runtime client posted back."""

    kind: str  # "response", "error" or "init_error"
    body: bytes
    headers: dict[str, str]  # lower-cased names
    request_id: str | None
    received_at: float = 0.0  # time.monotonic() when the post arrived

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type_header(self) -> str | None:
        """The ``Lambda-Runtime-Function-Error-Type`` header, if sent."""
        return self.headers.get("lambda-runtime-function-error-type")


@dataclass
class Event:
    """One queued invocation, as handed to the client by ``/next``."""

    request_id: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delivered_at: float | None = None  # time.monotonic() when /next returned it


def _encode_json_header(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime client killed mid-connection is normal in tests; stay quiet.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeRuntimeAPI:
    """Fake Runtime API; use as a context manager or call :meth:`start`/:meth:`close`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._events: queue.Queue[Event] = queue.Queue()
        self._cond = threading.Condition()
        self._results: dict[str, Result] = {}
        self._init_errors: list[Result] = []
        self._issued: dict[str, Event] = {}
        self._next_calls: list[float] = []  # monotonic times of GET /next arrivals
        self._stop = threading.Event()
        self.unexpected: list[tuple[str, str, bytes]] = []  # (method, path, body)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeRuntimeAPI:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeRuntimeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        """``host:port`` -- the value for ``AWS_LAMBDA_RUNTIME_API``."""
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    # ------------------------------------------------------------------ test API
    def push_event(
        self,
        payload: bytes | str = b"{}",
        request_id: str | None = None,
        deadline_ms: int | None = None,
        function_arn: str | None = None,
        client_context: Any = None,
        cognito_identity: Any = None,
        trace_id: str | None = None,
        timeout_s: float = 30.0,
        extra_headers: dict[str, str] | None = None,
    ) -> str:
        """Queue an invocation; returns its request id.

        ``deadline_ms`` is a unix time in milliseconds (default: now + ``timeout_s``).
        ``client_context`` / ``cognito_identity`` may be dicts (JSON-encoded) or strings.
        """
        if isinstance(payload, str):
            payload = payload.encode()
        rid = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": function_arn
            or "arn:aws:lambda:us-east-1:000000000000:function:test",
            "Lambda-Runtime-Trace-Id": trace_id or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        }
        cc = _encode_json_header(client_context)
        if cc is not None:
            headers["Lambda-Runtime-Client-Context"] = cc
        ci = _encode_json_header(cognito_identity)
        if ci is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = ci
        headers.update(extra_headers or {})
        ev = Event(rid, payload, headers)
        with self._cond:
            self._issued[rid] = ev
        self._events.put(ev)
        return rid

    def invoke(self, payload: bytes | str = b"{}", timeout: float = 10.0, **kw: Any) -> Result:
        """``push_event`` + ``wait_result`` in one call."""
        return self.wait_result(self.push_event(payload, **kw), timeout)

    def wait_result(self, request_id: str, timeout: float = 10.0) -> Result:
        """Wait for the response or error posted for ``request_id``."""
        with self._cond:
            if not self._cond.wait_for(lambda: request_id in self._results, timeout):
                raise TimeoutError(f"no result for {request_id} within {timeout}s")
            return self._results[request_id]

    def wait_init_error(self, timeout: float = 10.0) -> Result:
        """Wait for the first ``/runtime/init/error`` post."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._init_errors), timeout):
                raise TimeoutError(f"no init error within {timeout}s")
            return self._init_errors[0]

    def wait_next_call(self, count: int = 1, timeout: float = 10.0) -> float:
        """Wait until ``GET /next`` has been called ``count`` times in total;
        returns the ``time.monotonic()`` at which the ``count``-th call arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._next_calls) >= count, timeout):
                raise TimeoutError(f"/next not called {count} times within {timeout}s")
            return self._next_calls[count - 1]

    @property
    def results(self) -> dict[str, Result]:
        with self._cond:
            return dict(self._results)

    @property
    def init_errors(self) -> list[Result]:
        with self._cond:
            return list(self._init_errors)

    @property
    def next_call_count(self) -> int:
        with self._cond:
            return len(self._next_calls)

    def event(self, request_id: str) -> Event:
        with self._cond:
            return self._issued[request_id]

    # ------------------------------------------------------------------ internals
    def _next_event(self) -> Event | None:
        with self._cond:
            self._next_calls.append(time.monotonic())
            self._cond.notify_all()
        while not self._stop.is_set():
            try:
                ev = self._events.get(timeout=0.05)
            except queue.Empty:
                continue
            ev.delivered_at = time.monotonic()
            return ev
        return None

    def _record(self, res: Result) -> bool:
        with self._cond:
            if res.kind == "init_error":
                self._init_errors.append(res)
            elif res.request_id not in self._issued:
                return False
            else:
                self._results.setdefault(res.request_id, res)
            self._cond.notify_all()
        return True


class _Handler(BaseHTTPRequestHandler):
    api: FakeRuntimeAPI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # avoid 40 ms delayed-ACK stalls on keep-alive

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _read_body(self) -> tuple[bytes, dict[str, str]]:
        """Returns (body, trailers); trailer names lower-cased."""
        trailers: dict[str, str] = {}
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                        name, _, value = line.decode("latin-1").partition(":")
                        trailers[name.strip().lower()] = value.strip()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks), trailers
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n else b""), trailers

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # one write for status line, headers and body
        self._headers_buffer.append(b"\r\n")
        self.wfile.write(b"".join(self._headers_buffer) + body)
        self._headers_buffer = []

    def do_GET(self) -> None:
        if self.path != PREFIX + "/runtime/invocation/next":
            self.api.unexpected.append(("GET", self.path, b""))
            self._send(404, b'{"errorType":"NotFound"}')
            return
        ev = self.api._next_event()
        if ev is None:  # server closing
            self.close_connection = True
            self._send(500, b'{"errorType":"ShuttingDown"}')
            return
        self._send(200, ev.payload, ev.headers)

    def do_POST(self) -> None:
        body, trailers = self._read_body()
        path = self.path
        headers = {k.lower(): v for k, v in self.headers.items()}
        headers.update(trailers)  # e.g. streaming errors: lambda-runtime-function-error-type/-body
        now = time.monotonic()
        res: Result | None = None
        if path == PREFIX + "/runtime/init/error":
            res = Result("init_error", body, headers, None, now)
        elif path.startswith(PREFIX + "/runtime/invocation/"):
            rest = path[len(PREFIX + "/runtime/invocation/") :]
            rid, _, kind = rest.rpartition("/")
            if rid and kind in ("response", "error"):
                res = Result(kind, body, headers, rid, now)
        if res is None:
            self.api.unexpected.append(("POST", path, body))
            self._send(404, b'{"errorType":"NotFound"}')
        elif not self.api._record(res):
            self.api.unexpected.append(("POST", path, body))
            self._send(400, b'{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}')
        else:
            self._send(202, b'{"status":"OK"}')
