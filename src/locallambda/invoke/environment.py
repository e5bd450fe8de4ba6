"""One execution environment: a runtime (started by an executor) and its own Runtime API.

The environment is a small state machine (STARTING → IDLE ⇄ BUSY → STOPPED; anything may go to
STOPPED, nothing leaves it). An invocation is handed to the runtime's parked ``/next`` (or to its
next ``/next``); the answer comes back on ``/response`` or ``/error``. Timeouts, init failures
and a runtime that dies are turned into the results AWS reports, and the environment is then
discarded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from locallambda.executors.base import Executor, ExecutorError, RuntimeProcess
from locallambda.executors.runtime_commands import InvalidEntrypointError
from locallambda.executors.runtime_commands import extension_commands
from locallambda.invoke.envvars import function_environment, log_stream_name
from locallambda.invoke.extensions import ExtensionsHub
from locallambda.invoke.models import EnvState, FunctionSpec, Invocation, InvocationResult
from locallambda.runtime_api.http import Exchange, HttpServer

__all__ = ["ExecutionEnvironment", "INIT_TIMEOUT_S"]

log = logging.getLogger("locallambda.environment")

INIT_TIMEOUT_S = 10.0  # AWS's init phase limit for on-demand functions
SHUTDOWN_GRACE_S = 2.0  # how long extensions may work after SHUTDOWN (runtimes-extensions-api.html)
_PREFIX = "/2018-06-01/runtime/"
_LEGAL = {
    EnvState.STARTING: {EnvState.IDLE, EnvState.BUSY, EnvState.STOPPED},
    EnvState.IDLE: {EnvState.BUSY, EnvState.STOPPED},
    EnvState.BUSY: {EnvState.IDLE, EnvState.STOPPED},
    EnvState.STOPPED: set(),
}


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class _Pending:
    __slots__ = ("invocation", "future", "delivered_at", "error_type")

    def __init__(self, invocation: Invocation, future: asyncio.Future[tuple[bytes, str | None]]) -> None:
        self.invocation = invocation
        self.future = future
        self.delivered_at = 0.0
        self.error_type: str | None = None


class ExecutionEnvironment:
    def __init__(
        self,
        spec: FunctionSpec,
        executor: Executor,
        *,
        endpoint_url: str | None,
        log_line: Callable[[str, str], None],
        bind_host: str = "127.0.0.1",
    ) -> None:
        self.id = uuid.uuid4().hex
        self.spec = spec
        self.state = EnvState.STARTING
        self.last_used = time.monotonic()
        self.invocations = 0
        self._executor = executor
        self._endpoint_url = endpoint_url
        self._log_line = log_line  # (function key, line) → log store
        self._bind_host = bind_host
        self._api = HttpServer(self._on_request)
        self._process: RuntimeProcess | None = None
        self._parked_next: Exchange | None = None
        self._pending: _Pending | None = None
        self._loop = asyncio.get_running_loop()
        self._initialized: asyncio.Future[None] = self._loop.create_future()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._started_at = 0.0
        self.init_duration_ms: float | None = None
        self._init_reported = False
        self._provisioned = False
        self._watcher: asyncio.Task[None] | None = None
        self._buffer: list[str] = []
        self._collecting = False  # lines belong to the current invocation's log
        self._partial = b""
        self.extensions = ExtensionsHub(self._loop)
        self.log_stream = log_stream_name(spec.version)
        self._expected_extensions = (
            len(extension_commands(list(spec.layers))) if executor.starts_extensions else 0
        )
        self.extensions.function_name = spec.name
        self.extensions.function_version = spec.version
        self.extensions.handler = spec.handler or ""

    @property
    def provisioned(self) -> bool:
        return self._provisioned

    def mark_ready(self) -> None:
        """A pre-started (provisioned) environment joins the pool as idle; its init is not
        reported on its first invocation, as AWS reports none for provisioned concurrency."""
        self._provisioned = True
        self._init_reported = True
        if self.state is EnvState.STARTING:
            self._move(EnvState.IDLE)

    async def wait_initialized(self, timeout: float = INIT_TIMEOUT_S) -> None:
        """Until the runtime has asked for its first event. Raises ``ExecutorError`` when the init
        fails, the runtime exits, or ``timeout`` passes."""
        try:
            await asyncio.wait_for(asyncio.shield(self._initialized), timeout)
        except asyncio.TimeoutError as exc:
            raise ExecutorError(f"the runtime did not initialize within {timeout:.0f}s") from exc
        except Exception as exc:
            raise ExecutorError(f"the runtime failed to initialize: {exc}") from exc

    @property
    def executor(self) -> Executor:
        return self._executor

    # -- lifecycle ------------------------------------------------------------------------

    def _move(self, new: EnvState) -> None:
        if new not in _LEGAL[self.state]:
            raise RuntimeError(f"illegal environment transition {self.state} → {new}")
        self.state = new

    async def start(self) -> None:
        """Start the Runtime API and the runtime. Raises ``ExecutorError``."""
        await self._api.start(self._bind_host, 0)
        env = function_environment(
            self.spec,
            runtime_api=self._api.address,
            task_root=str(self.spec.code_dir) if self.spec.code_dir else "/var/task",
            runtime_dir="/var/runtime",
            endpoint_url=self._endpoint_url,
            log_stream=self.log_stream,
        )
        self._started_at = time.perf_counter()
        try:
            self._process = await self._executor.start(self.spec, self._api.address, env, self._on_output)
        except InvalidEntrypointError as exc:
            # Not a platform failure: AWS answers the invocation with Runtime.InvalidEntrypoint
            # (``invoke`` reports it), and the environment is then discarded.
            self._api.close()
            self._initialized.set_exception(_BadEntrypoint(str(exc)))
            self._initialized.exception()  # mark retrieved
            return
        except ExecutorError:
            self._api.close()
            self._move(EnvState.STOPPED)
            raise
        # Held: the loop keeps only weak references to tasks.
        self._watcher = self._loop.create_task(self._watch())

    async def _watch(self) -> None:
        assert self._process is not None
        code = await self._process.wait()
        if not self._exited.done():
            self._exited.set_result(code)
        self._flush_partial()
        pending = self._pending
        if pending is not None and not pending.future.done():
            if self._process.out_of_memory():
                msg = f"RequestId: {pending.invocation.request_id} Error: Runtime exited with error: signal: killed"
                pending.future.set_result((_error_payload("Runtime.OutOfMemory", msg), "Unhandled"))
            else:
                pending.future.set_result((self._exit_payload(pending.invocation.request_id, code), "Unhandled"))
        self.stop()

    @staticmethod
    def _exit_payload(request_id: str, code: int) -> bytes:
        if code < 0:
            reason = f"signal: {_signal_name(-code)}"
        elif code == 0:
            return _error_payload("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited without providing a reason")
        else:
            reason = f"exit status {code}"
        return _error_payload("Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited with error: {reason}")

    def stop(self) -> None:
        """Kill the runtime and close the API. Idempotent."""
        if self.state is EnvState.STOPPED:
            return
        self._move(EnvState.STOPPED)
        self._parked_next = None
        self.extensions.logs.flush_all()
        if self.extensions.shutdown(grace_s=SHUTDOWN_GRACE_S):
            # Extensions that asked for SHUTDOWN get their grace period before the kill.
            self._loop.call_later(SHUTDOWN_GRACE_S, self._kill)
        else:
            self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
        self._api.close()

    async def wait_stopped(self, timeout: float = 5.0) -> None:
        if self._process is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), timeout)
        except asyncio.TimeoutError:
            log.warning("environment %s did not exit within %.0fs", self.id, timeout)

    # -- invoking -------------------------------------------------------------------------

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one invocation to its end: the function's answer, its error, or AWS's fault result."""
        self._move(EnvState.BUSY)
        self.invocations += 1
        rid = invocation.request_id
        pending = _Pending(invocation, self._loop.create_future())
        self._pending = pending
        self._buffer = []
        self._collecting = True
        # Not initialised yet, or failed before any invocation (a bad entrypoint): wait or report.
        if not self._initialized.done() or self._initialized.exception() is not None:
            try:
                # AWS gives the init phase 10 s; an init still running then goes on within the
                # invocation, under the function's own timeout (lambda-runtime-environment.html).
                await asyncio.wait_for(asyncio.shield(self._initialized), INIT_TIMEOUT_S + self.spec.timeout_s)
            except asyncio.TimeoutError:
                return self._fail_init(pending, _error_payload(
                    "Sandbox.Timedout",
                    f"RequestId: {rid} Error: Task timed out after {self.spec.timeout_s:.2f} seconds",
                ))
            except _InitFailed as failed:
                return self._fail_init(pending, failed.payload)
            except _EarlyExit as early:
                return self._fail_init(pending, self._exit_payload(rid, early.code))
            except _BadEntrypoint as bad:
                message = f"RequestId: {rid} Error: {bad.reason}"
                return self._fail_init(
                    pending, _error_payload("Runtime.InvalidEntrypoint", message),
                    (message, "Runtime.InvalidEntrypoint"),
                )
        if self._expected_extensions:
            await self._wait_extensions()
        self._emit(f"START RequestId: {rid} Version: {self.spec.version}")
        self._platform("platform.start", {"requestId": rid, "version": self.spec.version})
        started = time.perf_counter()
        invocation.deadline_ms = int(time.time() * 1000 + self.spec.timeout_s * 1000)
        self._deliver(pending)
        # A timer rather than asyncio.wait_for: no extra task per invocation on the hot path.
        timer = self._loop.call_later(self.spec.timeout_s, _expire, pending.future)
        try:
            payload, function_error = await pending.future
        except asyncio.TimeoutError:
            payload = _error_payload(
                "Sandbox.Timedout", f"RequestId: {rid} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
            )
            function_error = "Unhandled"
            self._emit(f"{_now_iso()} {rid} Task timed out after {self.spec.timeout_s:.2f} seconds")
            self.stop()
        finally:
            timer.cancel()
        duration = (time.perf_counter() - started) * 1000
        self._pending = None
        # Output written just before the response may still sit in the pipe: let it in first.
        await asyncio.sleep(0)
        if self.state is EnvState.BUSY:
            self._move(EnvState.IDLE)
            self.last_used = time.monotonic()
        return self._finish(pending, payload, function_error, duration)

    async def _wait_extensions(self) -> None:
        """Hold the first event until every external extension is waiting for events."""
        try:
            await asyncio.wait_for(self.extensions.wait_ready(self._expected_extensions), INIT_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("%s: not every extension registered within %.0fs; invoking without them",
                        self.spec.name, INIT_TIMEOUT_S)
        self._expected_extensions = 0

    def _fail_init(self, pending: _Pending, payload: bytes, lines: tuple[str, ...] = ()) -> InvocationResult:
        """The result of an invocation whose environment never became ready; the environment is
        discarded (the next invocation starts a new one, as AWS retries the init)."""
        self._pending = None
        self.stop()
        # AWS logs the invocation's START even then, after the init's own output.
        self._emit(f"START RequestId: {pending.invocation.request_id} Version: {self.spec.version}")
        for line in lines:
            self._emit(line)
        return self._finish(pending, payload, "Unhandled", 0.0)

    def _finish(self, pending: _Pending, payload: bytes, function_error: str | None, duration: float) -> InvocationResult:
        rid = pending.invocation.request_id
        init = None
        if not self._init_reported and self.init_duration_ms is not None:
            init = self.init_duration_ms
            self._init_reported = True
        # Output the function left without a final newline (Java's LambdaLogger.log, Python's
        # print(end="")) belongs to this invocation, not to the next one.
        if self._partial:
            self._emit(self._partial.decode("utf-8", "replace").rstrip("\r"))
            self._partial = b""
        self._emit(f"END RequestId: {rid}")
        memory = self._process.max_memory_mb() if self._process is not None else None
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, math.ceil(duration))} ms\t"
            f"Memory Size: {self.spec.memory_mb} MB\tMax Memory Used: {memory or 0} MB"
        )
        if init is not None:
            report += f"\tInit Duration: {init:.2f} ms"
        self._emit(report + "\t")
        if self.extensions.logs.active:
            status = "success" if function_error is None else "error"
            metrics: dict[str, Any] = {
                "durationMs": round(duration, 3), "billedDurationMs": max(1, math.ceil(duration)),
                "memorySizeMB": self.spec.memory_mb, "maxMemoryUsedMB": memory or 0,
            }
            if init is not None:
                metrics["initDurationMs"] = round(init, 3)
            self._platform("platform.runtimeDone", {"requestId": rid, "status": status})
            self._platform("platform.report", {"requestId": rid, "status": status, "metrics": metrics})
        log_text = "\n".join(self._buffer) + "\n"
        self._buffer = []
        self._collecting = False
        return InvocationResult(
            request_id=rid,
            payload=payload,
            executed_version=self.spec.version,
            function_error=function_error,
            log=log_text,
            init_duration_ms=init,
            duration_ms=duration,
        )

    def _deliver(self, pending: _Pending) -> None:
        nxt = self._parked_next
        if nxt is not None and nxt.connected:
            self._parked_next = None
            self._send_event(nxt, pending)

    def _send_event(self, exchange: Exchange, pending: _Pending) -> None:
        inv = pending.invocation
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(inv.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", inv.invoked_arn),
            ("Lambda-Runtime-Trace-Id", inv.trace_id or _trace_id()),
        ]
        if inv.client_context:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        pending.delivered_at = time.perf_counter()
        exchange.respond(200, inv.payload, headers)
        self.extensions.invoke_event(inv)

    # -- runtime API ----------------------------------------------------------------------

    def _on_request(self, ex: Exchange) -> None:
        path = ex.path
        if path.startswith(_PREFIX):
            rest = path[len(_PREFIX):]
            if rest == "invocation/next" and ex.method == "GET":
                self._on_next(ex)
                return
            if rest.startswith("invocation/") and ex.method == "POST":
                _, rid, kind = (rest.split("/", 2) + ["", ""])[:3]
                self._on_result(ex, rid, kind)
                return
            if rest == "init/error" and ex.method == "POST":
                self._on_init_error(ex)
                return
        elif path.startswith("/2020-01-01/extension/") or path.startswith("/2020-08-15/logs") or path.startswith("/2022-07-01/telemetry"):
            self.extensions.handle(ex)
            return
        ex.respond(404, b'{"errorMessage":"Not Found","errorType":"InvalidRequest"}')

    def _on_next(self, ex: Exchange) -> None:
        if not self._initialized.done():
            self.init_duration_ms = (time.perf_counter() - self._started_at) * 1000
            self._initialized.set_result(None)
        pending = self._pending
        if pending is not None and pending.delivered_at == 0.0 and self.state is EnvState.BUSY and pending.invocation.deadline_ms:
            self._send_event(ex, pending)
        else:
            self._parked_next = ex

    def _on_result(self, ex: Exchange, rid: str, kind: str) -> None:
        pending = self._pending
        if pending is None or pending.invocation.request_id != rid or pending.future.done():
            ex.respond(400, b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}')
            return
        if kind == "response":
            pending.future.set_result((ex.body, None))
        elif kind == "error":
            body = ex.body or _error_payload(ex.headers.get("lambda-runtime-function-error-type", "Unhandled"), "")
            pending.future.set_result((body, "Unhandled"))
        else:
            ex.respond(404, b'{"errorMessage":"Not Found","errorType":"InvalidRequest"}')
            return
        ex.respond(202, b'{"status":"OK"}')

    def _on_init_error(self, ex: Exchange) -> None:
        ex.respond(202, b'{"status":"OK"}')
        body = ex.body or _error_payload(ex.headers.get("lambda-runtime-function-error-type", "Runtime.Unknown"), "")
        if not self._initialized.done():
            self.init_duration_ms = (time.perf_counter() - self._started_at) * 1000
            self._initialized.set_exception(_InitFailed(body))
        elif self._pending is not None and not self._pending.future.done():
            self._pending.future.set_result((body, "Unhandled"))

    # -- output ---------------------------------------------------------------------------

    def _on_output(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            self._emit(text)
            if self.extensions.logs.active:
                self.extensions.logs.publish("function", text)

    def _flush_partial(self) -> None:
        if self._partial:
            self._emit(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        if not self._initialized.done() and self._exited.done():
            self._initialized.set_exception(_EarlyExit(self._exited.result()))
            self._initialized.exception()  # mark retrieved

    def _platform(self, kind: str, record: dict[str, Any]) -> None:
        if self.extensions.logs.active:
            self.extensions.logs.publish(kind, record)

    def _emit(self, line: str) -> None:
        if self._collecting:
            self._buffer.append(line)
        self._log_line(self.spec.key, line)


class _InitFailed(Exception):
    def __init__(self, payload: bytes) -> None:
        super().__init__("init failed")
        self.payload = payload


class _BadEntrypoint(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _EarlyExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"runtime exited with {code} during init")
        self.code = code


def _signal_name(num: int) -> str:
    import signal

    try:
        return {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGTERM: "terminated",
                signal.SIGABRT: "aborted"}.get(signal.Signals(num), signal.Signals(num).name.lower())
    except ValueError:
        return str(num)


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.datetime.now().microsecond // 1000:03d}Z"


def _trace_id() -> str:
    # X-Ray's format; the ids need to be unique, not secret, so a fast PRNG is enough.
    bits = random.getrandbits(160)
    return f"Root=1-{int(time.time()):08x}-{bits >> 64:024x};Parent={bits & 0xFFFFFFFFFFFFFFFF:016x};Sampled=0"


def _expire(future: asyncio.Future[tuple[bytes, str | None]]) -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError())
