"""One execution environment: a runtime (started by an executor) and its own Runtime API.

The environment's state follows ``model.lifecycle.EnvState`` (STARTING → IDLE ⇄ BUSY →
STOPPED). An invocation is handed to the runtime's parked ``/next`` (or to its next ``/next``);
the answer comes back on ``/response`` or ``/error``. Timeouts, init failures and a runtime that
dies become the ``Fault`` AWS reports as the invocation's result, and the environment is then
discarded. Docs: lambda-runtime-environment.html (init phase, timeouts, shutdown).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Callable

from locallambda.errors import (
    ExecutorError,
    Fault,
    FunctionInitError,
    InvalidEntrypoint,
    InvalidEntrypointError,
    RuntimeExit,
    RuntimeOutOfMemory,
    SandboxTimeout,
)
from locallambda.executors.base import Executor, RuntimeProcess
from locallambda.invoke.envvars import function_environment, log_stream_name
from locallambda.invoke.invocation_log import InvocationLog
from locallambda.model.clock import Clock, within
from locallambda.model.lifecycle import EnvState, IllegalTransition
from locallambda.model.spec import FunctionSpec, Invocation, InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.extensions import ExtensionsHub
from locallambda.runtime_api.http import Exchange, HttpServer
from locallambda.runtime_api.runtime import runtime_routes
from locallambda.runtimes.commands import extension_commands

__all__ = ["INIT_PHASE_S", "SHUTDOWN_GRACE_S", "ExecutionEnvironment"]

log = logging.getLogger(__name__)

INIT_PHASE_S = 10.0  # AWS's init phase limit for on-demand functions
SHUTDOWN_GRACE_S = 2.0  # how long extensions may work after SHUTDOWN (runtimes-extensions-api.html)

_Answer = tuple[bytes, str | None]  # (payload, function error)


class _InitFailure(Exception):
    """The init ended without the runtime asking for an event; ``fault`` words it per request."""

    def __init__(self, fault: Callable[[str], Fault], lines: Callable[[str], tuple[str, ...]] | None = None) -> None:
        super().__init__("init failed")
        self.fault = fault
        self.lines = lines or (lambda _rid: ())


class _Pending:
    __slots__ = ("delivered", "future", "invocation")

    def __init__(self, invocation: Invocation, future: asyncio.Future[_Answer]) -> None:
        self.invocation = invocation
        self.future = future
        self.delivered = False


class ExecutionEnvironment:
    def __init__(
        self,
        spec: FunctionSpec,
        executor: Executor,
        *,
        endpoint_url: str | None,
        log_line: Callable[[str, str], None],
        tasks: TaskScope,
        clock: Clock,
        bind_host: str = "127.0.0.1",
        startup_timeout_s: float = 20.0,
        provisioned: bool = False,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.spec = spec
        self.state = EnvState.STARTING
        self.invocations = 0
        self._executor = executor
        self._endpoint_url = endpoint_url
        self._tasks = tasks
        self._clock = clock
        self.last_used = clock.monotonic()
        self._bind_host = bind_host
        self._startup_timeout_s = startup_timeout_s
        self.extensions = ExtensionsHub(
            tasks, clock, function_name=spec.name, function_version=spec.version, handler=spec.handler or ""
        )
        self._api = HttpServer(runtime_routes(self).extend(self.extensions.routes()))
        self.log = InvocationLog(spec.key, spec.version, spec.memory_mb, log_line, self.extensions.logs)
        self._process: RuntimeProcess | None = None
        self._parked_next: Exchange | None = None
        self._pending: _Pending | None = None
        loop = asyncio.get_running_loop()
        self._initialized: asyncio.Future[None] = loop.create_future()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._started_at = 0.0
        self.init_duration_ms: float | None = None
        self._init_reported = False
        self._provisioned = provisioned
        self.log_stream = log_stream_name(spec.version)
        self._expected_extensions = len(extension_commands(list(spec.layers))) if executor.starts_extensions else 0

    @property
    def provisioned(self) -> bool:
        return self._provisioned

    @property
    def executor(self) -> Executor:
        return self._executor

    def mark_ready(self) -> None:
        """A pre-started (provisioned) environment joins the pool as idle; its init is not
        reported on its first invocation, as AWS reports none for provisioned concurrency."""
        self._provisioned = True
        self._init_reported = True
        self.log.forget_init()
        if self.state is EnvState.STARTING:
            self._move(EnvState.IDLE)

    async def wait_initialized(self, timeout: float | None = None) -> None:
        """Until the runtime has asked for its first event (at most ``timeout`` seconds, by default
        ``LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT``). Raises ``ExecutorError`` when the init fails,
        the runtime exits, or the time runs out."""
        timeout = self._startup_timeout_s if timeout is None else timeout
        try:
            await within(self._clock, self._initialized, timeout)
        except TimeoutError as exc:
            raise ExecutorError(f"the runtime did not initialize within {timeout:.0f}s") from exc
        except _InitFailure as exc:
            raise ExecutorError(f"the runtime failed to initialize: {exc.fault('-').message}") from exc

    # -- lifecycle ------------------------------------------------------------------------

    def _move(self, new: EnvState) -> None:
        if not self.state.can_become(new):
            raise IllegalTransition(f"environment {self.state} → {new}")
        self.state = new

    async def start(self) -> None:
        """Start the Runtime API and the runtime. Raises ``ExecutorError`` (also when the
        executor takes longer than ``LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT`` to start it)."""
        await self._api.start(self._bind_host, 0)
        env = function_environment(
            self.spec,
            runtime_api=self._api.address,
            task_root=str(self.spec.code_dir) if self.spec.code_dir else "/var/task",
            runtime_dir="/var/runtime",
            endpoint_url=self._endpoint_url,
            log_stream=self.log_stream,
            provisioned=self._provisioned,
        )
        self._started_at = self._clock.monotonic()
        try:
            self._process = await asyncio.wait_for(
                self._executor.start(self.spec, self._api.address, env, self.log.output), self._startup_timeout_s
            )
        except InvalidEntrypointError as exc:
            # Not a platform failure: AWS answers the invocation with Runtime.InvalidEntrypoint
            # (``invoke`` reports it), and the environment is then discarded.
            self._api.close()
            reason = str(exc)
            self._fail_init(
                _InitFailure(
                    lambda rid: InvalidEntrypoint(rid, reason),
                    lambda rid: (f"RequestId: {rid} Error: {reason}", "Runtime.InvalidEntrypoint"),
                )
            )
            return
        except TimeoutError as exc:
            self._api.close()
            self._move(EnvState.STOPPED)
            raise ExecutorError(f"the environment did not start within {self._startup_timeout_s:.0f}s") from exc
        except ExecutorError:
            self._api.close()
            self._move(EnvState.STOPPED)
            raise
        self._tasks.spawn(self._watch(self._process), name=f"environment {self.id}")

    def _fail_init(self, failure: _InitFailure) -> None:
        if not self._initialized.done():
            self._initialized.set_exception(failure)
            self._initialized.exception()  # retrieved: an invocation reports it, if one comes

    async def _watch(self, process: RuntimeProcess) -> None:
        code = await process.wait()
        if not self._exited.done():
            self._exited.set_result(code)
        self.log.flush_partial()
        self._fail_init(_InitFailure(lambda rid: RuntimeExit.for_status(rid, code)))
        pending = self._pending
        if pending is not None and not pending.future.done():
            rid = pending.invocation.request_id
            fault = RuntimeOutOfMemory(rid) if process.out_of_memory() else RuntimeExit.for_status(rid, code)
            pending.future.set_result((fault.payload(), "Unhandled"))
        self.stop()

    def stop(self) -> None:
        """Kill the runtime and close the API. Idempotent."""
        if self.state is EnvState.STOPPED:
            return
        self._move(EnvState.STOPPED)
        self._parked_next = None
        self.extensions.logs.flush_all()
        if self.extensions.shutdown(grace_s=SHUTDOWN_GRACE_S):
            # Extensions that asked for SHUTDOWN get their grace period before the kill.
            self._clock.call_later(SHUTDOWN_GRACE_S, self._kill)
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
            await within(self._clock, self._exited, timeout)
        except TimeoutError:
            log.warning("environment %s did not exit within %.0fs", self.id, timeout)

    # -- invoking -------------------------------------------------------------------------

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one invocation to its end: the function's answer, its error, or AWS's fault result."""
        self._move(EnvState.BUSY)
        self.invocations += 1
        rid = invocation.request_id
        pending = _Pending(invocation, asyncio.get_running_loop().create_future())
        self._pending = pending
        self.log.begin()
        timeout = self.spec.timeout_s
        # Not initialised yet, or failed before any invocation (a bad entrypoint): wait or report.
        if not self._initialized.done() or self._initialized.exception() is not None:
            try:
                # AWS gives the init phase 10 s; an init still running then goes on within the
                # invocation, under the function's own timeout (lambda-runtime-environment.html).
                await within(self._clock, self._initialized, INIT_PHASE_S + timeout)
            except TimeoutError:
                return self._init_failed(pending, SandboxTimeout(rid, timeout), ())
            except _InitFailure as failure:
                return self._init_failed(pending, failure.fault(rid), failure.lines(rid))
        if self._expected_extensions:
            await self._wait_extensions()
        self.log.start(rid)
        started = self._clock.monotonic()
        invocation.deadline_ms = int((self._clock.time() + timeout) * 1000)
        self._deliver(pending)
        # A timer rather than asyncio.wait_for: no extra task per invocation on the hot path.
        timer = self._clock.call_later(timeout, _expire, pending.future)
        try:
            payload, function_error = await pending.future
        except TimeoutError:
            payload, function_error = SandboxTimeout(rid, timeout).payload(), "Unhandled"
            self.log.timed_out(rid, timeout, self._clock.time())
            self.stop()
        finally:
            timer.cancel()
        duration = (self._clock.monotonic() - started) * 1000
        self._pending = None
        # Output written just before the response may still sit in the pipe: let it in first.
        await asyncio.sleep(0)
        if self.state is EnvState.BUSY:
            self._move(EnvState.IDLE)
            self.last_used = self._clock.monotonic()
        return self._finish(pending, payload, function_error, duration)

    async def _wait_extensions(self) -> None:
        """Hold the first event until every external extension is waiting for events."""
        ready = self._tasks.spawn(self.extensions.wait_ready(self._expected_extensions), name="extensions ready")
        try:
            await within(self._clock, ready, INIT_PHASE_S)
        except TimeoutError:
            ready.cancel()
            log.warning(
                "%s: not every extension registered within %.0fs; invoking without them", self.spec.name, INIT_PHASE_S
            )
        self._expected_extensions = 0

    def _init_failed(self, pending: _Pending, fault: Fault, lines: tuple[str, ...]) -> InvocationResult:
        """The result of an invocation whose environment never became ready; the environment is
        discarded (the next invocation starts a new one, as AWS retries the init)."""
        self._pending = None
        self.stop()
        # AWS logs the invocation's START even then, after the init's own output.
        self.log.start(pending.invocation.request_id)
        for line in lines:
            self.log.line(line)
        return self._finish(pending, fault.payload(), "Unhandled", 0.0)

    def _finish(
        self, pending: _Pending, payload: bytes, function_error: str | None, duration: float
    ) -> InvocationResult:
        init = None
        if not self._init_reported and self.init_duration_ms is not None:
            init = self.init_duration_ms
            self._init_reported = True
        memory = self._process.max_memory_mb() if self._process is not None else None
        rid = pending.invocation.request_id
        text = self.log.end(rid, duration, init, memory, failed=function_error is not None)
        return InvocationResult(
            request_id=rid,
            payload=payload,
            executed_version=self.spec.version,
            function_error=function_error,
            log=text,
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
            ("Lambda-Runtime-Trace-Id", inv.trace_id or _trace_id(self._clock.time())),
        ]
        if inv.client_context:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        pending.delivered = True
        exchange.respond(200, inv.payload, headers)
        self.extensions.invoke_event(inv)

    # -- the Runtime API's host (runtime_api.runtime.RuntimeHost) --------------------------

    def _mark_initialized(self) -> None:
        if not self._initialized.done():
            self.init_duration_ms = (self._clock.monotonic() - self._started_at) * 1000
            self._initialized.set_result(None)

    def next_invocation(self, exchange: Exchange) -> None:
        self._mark_initialized()
        pending = self._pending
        if (
            pending is not None
            and not pending.delivered
            and self.state is EnvState.BUSY
            and pending.invocation.deadline_ms
        ):
            self._send_event(exchange, pending)
        else:
            self._parked_next = exchange

    def invocation_result(self, request_id: str, body: bytes, error_type: str | None, failed: bool) -> bool:
        pending = self._pending
        if pending is None or pending.invocation.request_id != request_id or pending.future.done():
            return False
        if failed:
            pending.future.set_result((body or _error_document(error_type or "Unhandled"), "Unhandled"))
        else:
            pending.future.set_result((body, None))
        return True

    def init_error(self, body: bytes, error_type: str | None) -> None:
        document = body or _error_document(error_type or "Runtime.Unknown")
        if not self._initialized.done():
            self.init_duration_ms = (self._clock.monotonic() - self._started_at) * 1000
            self._fail_init(_InitFailure(lambda rid: FunctionInitError(rid, document)))
        elif self._pending is not None and not self._pending.future.done():
            self._pending.future.set_result((document, "Unhandled"))


def _error_document(error_type: str) -> bytes:
    """What a runtime that reports an error without a body is taken to have said."""
    return json.dumps({"errorType": error_type, "errorMessage": ""}).encode()


def _trace_id(now: float) -> str:
    # X-Ray's format; the ids need to be unique, not secret, so a fast PRNG is enough.
    bits = random.getrandbits(160)
    return f"Root=1-{int(now):08x}-{bits >> 64:024x};Parent={bits & 0xFFFFFFFFFFFFFFFF:016x};Sampled=0"


def _expire(future: asyncio.Future[_Answer]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
