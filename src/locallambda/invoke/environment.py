"""One execution environment: a runtime (started by an executor) and its own Runtime API.

The environment's state follows ``model.lifecycle.EnvState`` (STARTING → IDLE ⇄ BUSY →
STOPPED, BUSY → RESET → BUSY). An invocation is handed to the runtime's parked ``/next`` (or to
its next ``/next``); the answer comes back on ``/response`` or ``/error``. Timeouts, init failures
and a runtime that dies become the ``Fault`` AWS reports as the invocation's result.
Docs: lambda-runtime-environment.html (init phase, timeouts, shutdown).

What follows a fault is AWS's ("Failures during the invoke phase"): after a timeout, a crash or
an out-of-memory kill during an invocation the environment is *reset*: its extensions get
SHUTDOWN (reason ``timeout`` or ``failure``, runtimes-extensions-api.html), the runtime and the
extensions are killed, and the environment itself (its ``/tmp``) is kept. The next invocation
starts them again in it (``RuntimeProcess.restart``, or a new start where the executor's
environment is no more than its processes) and waits for their init; that init is not reported
apart (a *suppressed init*: no Init Duration, its time counted in the invocation's Duration).
A runtime that fails its init, or that exits between invocations, ends the environment instead:
the next invocation gets a new one, as AWS retries an init.
"""

from __future__ import annotations

import asyncio
import logging
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
from locallambda.invoke.invocation_log import InvocationLog, LogDestination
from locallambda.invoke.pending import InitFailure, Pending, error_document, event_headers, expire
from locallambda.invoke.streaming import open_sink
from locallambda.model.clock import Clock, Timer, within
from locallambda.model.lifecycle import EnvState, IllegalTransition
from locallambda.model.spec import FunctionSpec, Invocation, InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.extensions import ExtensionsHub
from locallambda.runtime_api.http import Exchange, HttpServer, Routes, StreamedExchange
from locallambda.runtime_api.runtime import ResponseSink, runtime_routes
from locallambda.runtimes.commands import extension_commands

__all__ = ["INIT_PHASE_S", "SHUTDOWN_GRACE_S", "ExecutionEnvironment"]

log = logging.getLogger(__name__)

INIT_PHASE_S = 10.0  # AWS's init phase limit for on-demand functions
SHUTDOWN_GRACE_S = 2.0  # how long extensions may work after SHUTDOWN (runtimes-extensions-api.html)
KILLED = -9  # the exit status of a runtime killed with its environment


class ExecutionEnvironment:
    """One environment of ``spec`` on ``executor``; ``start`` it, then ``invoke`` it."""

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
        self.created = self.last_used  # on the clock's monotonic time: its age (the dashboard's)
        self._bind_host = bind_host
        self._startup_timeout_s = startup_timeout_s
        self._log_line = log_line
        self.log_stream = log_stream_name(spec)  # before the log, which writes to this stream
        # The extensions (and log subscriptions) of one start of the runtime: a restart after a
        # reset makes new ones, as the extensions it starts register and subscribe anew.
        self.extensions, self.log, self._routes = self._runtime_api()
        self._api = HttpServer(self._route)
        self._process: RuntimeProcess | None = None
        self._env: dict[str, str] = {}
        self._generation = 0  # the start of the runtime whose end is news (0: none is)
        self._watcher: asyncio.Task[None] | None = None
        self._shutdown_timer: Timer | None = None  # the reset's kill, after the extensions' grace
        self._shutdown_ends = 0.0
        self._live = True  # False from a reset until the runtime is started again
        self._parked_next: Exchange | None = None
        self._pending: Pending | None = None
        loop = asyncio.get_running_loop()
        self._initialized: asyncio.Future[None] = loop.create_future()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._started_at = 0.0
        self.init_duration_ms: float | None = None
        self._init_reported = False
        self._provisioned = provisioned
        self._expected_extensions = self._extension_count()

    def _runtime_api(self) -> tuple[ExtensionsHub, InvocationLog, Routes]:
        spec = self.spec
        hub = ExtensionsHub(
            self._tasks, self._clock, function_name=spec.name, function_version=spec.version, handler=spec.handler or ""
        )
        destination = LogDestination.of(spec, self.log_stream)
        log_ = InvocationLog(spec.key, spec.version, spec.memory_mb, self._log_line, hub.logs, destination)
        return hub, log_, runtime_routes(self).extend(hub.routes())

    def _extension_count(self) -> int:
        if not self._executor.starts_extensions:
            return 0
        return len(extension_commands(list(self.spec.layers)))

    def _output(self, chunk: bytes) -> None:
        self.log.output(chunk)  # the log of the runtime's current start

    def _route(self, exchange: Exchange) -> None:
        self._routes(exchange)  # the routes of the runtime's current start

    @property
    def provisioned(self) -> bool:
        return self._provisioned

    @property
    def executor(self) -> Executor:
        return self._executor

    @property
    def credentials(self) -> tuple[str, str, str] | None:
        """(access key, secret key, session token) its processes got; ``None`` before its start."""
        env = self._env
        return (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) if env else None

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
        except InitFailure as exc:
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
        self._env = function_environment(
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
                self._executor.start(self.spec, self._api.address, self._env, self._output), self._startup_timeout_s
            )
        except InvalidEntrypointError as exc:
            # Not a platform failure: AWS answers the invocation with Runtime.InvalidEntrypoint
            # (``invoke`` reports it), and the environment is then discarded.
            self._api.close()
            reason = str(exc)
            self._fail_init(
                InitFailure(
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
        self._watch_runtime(self._process)

    def _watch_runtime(self, process: RuntimeProcess) -> None:
        self._generation += 1
        self._watcher = self._tasks.spawn(self._watch(process, self._generation), name=f"environment {self.id}")

    def _fail_init(self, failure: InitFailure) -> None:
        if not self._initialized.done():
            self._initialized.set_exception(failure)
            self._initialized.exception()  # retrieved: an invocation reports it, if one comes

    async def _watch(self, process: RuntimeProcess, generation: int) -> None:
        """Until the runtime's start ``generation`` ends (none: the stopped environment's end,
        after a reset); what its end means, when it is still news."""
        code = await process.wait() if generation else KILLED
        if generation == self._generation and self.state is not EnvState.RESET:
            self._runtime_ended(process, code)
        if self.state is EnvState.STOPPED and process is self._process:
            await process.stopped()  # killed: until the environment is gone
            if not self._exited.done():
                self._exited.set_result(code)

    def _runtime_ended(self, process: RuntimeProcess, code: int) -> None:
        """The runtime ended (killed with its stopped environment, or by itself): the invocation
        in progress gets the fault. A crash during an invocation resets the environment (AWS:
        lambda-runtime-environment.html, "Failures during the invoke phase"); an exit during its
        init or between invocations ends it (the next invocation gets a new one)."""
        self.log.flush_partial()
        initialized = self._initialized.done() and self._initialized.exception() is None
        self._fail_init(InitFailure(lambda rid: RuntimeExit.for_status(rid, code)))
        pending = self._pending
        crashed = pending is not None and not pending.future.done()
        if pending is not None and crashed:
            rid = pending.invocation.request_id
            fault = RuntimeOutOfMemory(rid) if process.out_of_memory() else RuntimeExit.for_status(rid, code)
            pending.future.set_result((fault.payload(), "Unhandled"))
        if crashed and initialized and self.state is EnvState.BUSY:
            # shutdownReason FAILURE: "Error condition, such as an out-of-memory event".
            self._reset("failure")
        else:
            self.stop()

    def _reset(self, reason: str) -> None:
        """AWS's reset after a failed invocation: SHUTDOWN to the extensions that asked for it
        (their 2 s of grace first), then the runtime and the extensions killed; the environment
        kept for the next invocation, which starts them again (``_restart``)."""
        self._move(EnvState.RESET)
        self._generation += 1  # the end of this start of the runtime is no longer news
        self._live = False
        self._parked_next = None
        self.extensions.logs.flush_all()
        process = self._process
        if process is None:
            return
        if self.extensions.shutdown(reason, grace_s=SHUTDOWN_GRACE_S):
            self._shutdown_timer = self._clock.call_later(SHUTDOWN_GRACE_S, process.reset)
            self._shutdown_ends = self._clock.monotonic() + SHUTDOWN_GRACE_S
        else:
            process.reset()

    async def _restart(self) -> None:
        """Start the runtime and its extensions again after a reset (still RESET meanwhile): in
        the same environment when the executor can, else in a new one. Raises ``ExecutorError``
        (the environment is then stopped)."""
        if self._shutdown_timer is not None:
            # The reset behaves like a Shutdown phase: the extensions keep the rest of their grace.
            await self._clock.sleep(self._shutdown_ends - self._clock.monotonic())
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        process, watcher = self._process, self._watcher
        assert process is not None and watcher is not None
        process.reset()
        try:
            await asyncio.wait_for(asyncio.gather(asyncio.shield(watcher), process.stopped()), self._startup_timeout_s)
            stopped = True
        except TimeoutError:
            stopped = False
            log.warning("environment %s: the reset runtime did not end; starting a new environment", self.id)
        # Nothing of the reset runtime speaks any more: what comes to the Runtime API from here
        # is the new start's (its init, its extensions' registrations).
        self.log.flush_partial()
        self.extensions, self.log, self._routes = self._runtime_api()
        self._initialized = asyncio.get_running_loop().create_future()
        self._expected_extensions = self._extension_count()
        self._live = True
        self._started_at = self._clock.monotonic()
        try:
            in_place = stopped and self.state is EnvState.RESET
            if in_place and not await asyncio.wait_for(process.restart(), self._startup_timeout_s):
                in_place = False
            if not in_place and self.state is EnvState.RESET:
                process.kill()
                self._process = process = await asyncio.wait_for(
                    self._executor.start(self.spec, self._api.address, self._env, self._output),
                    self._startup_timeout_s,
                )
        except (ExecutorError, InvalidEntrypointError, TimeoutError) as exc:
            self.stop()
            raise ExecutorError(f"the runtime could not be started again: {exc or 'not in time'}") from exc
        self._watch_runtime(process)
        if self.state is not EnvState.RESET:  # stopped meanwhile: so is what was started
            process.kill()
            raise ExecutorError("the environment was stopped")

    def stop(self) -> None:
        """Kill the runtime and close the API. Idempotent."""
        if self.state is EnvState.STOPPED:
            return
        was = self.state
        self._move(EnvState.STOPPED)
        self._parked_next = None
        self.extensions.logs.flush_all()
        if was is EnvState.RESET:
            # The runtime is shut down already (or its extensions are in their grace): the
            # environment goes now, and is watched until it is gone.
            if self._shutdown_timer is not None:
                self._shutdown_timer.cancel()
            self._kill()
            if self._process is not None and (self._watcher is None or self._watcher.done()):
                self._watcher = self._tasks.spawn(self._watch(self._process, 0), name=f"environment {self.id}")
        elif self.extensions.shutdown(grace_s=SHUTDOWN_GRACE_S):
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
        """Run one invocation to its end: the function's answer, its error, or AWS's fault result.

        Raises ``ExecutorError`` when the runtime of a reset environment cannot be started again."""
        resumed = self.state is EnvState.RESET
        if resumed:
            await self._restart()
        self._move(EnvState.BUSY)
        self.invocations += 1
        rid = invocation.request_id
        pending = Pending(invocation, asyncio.get_running_loop().create_future())
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
            except InitFailure as failure:
                return self._init_failed(pending, failure.fault(rid), failure.lines(rid))
        if self._expected_extensions:
            await self._wait_extensions()
        self.log.start(rid)
        # A suppressed init (after a reset) is not reported apart: AWS counts it in the
        # invocation's Duration (lambda-runtime-environment.html, "Failures during the invoke phase").
        started = self._started_at if resumed else self._clock.monotonic()
        invocation.deadline_ms = int((self._clock.time() + timeout) * 1000)
        self._deliver(pending)
        # A timer rather than asyncio.wait_for: no extra task per invocation on the hot path.
        timer = self._clock.call_later(timeout, expire, pending.future)
        try:
            payload, function_error = await pending.future
        except TimeoutError:
            payload, function_error = SandboxTimeout(rid, timeout).payload(), "Unhandled"
            self.log.timed_out(rid, timeout, self._clock.time())
            self._reset("timeout")  # shutdownReason TIMEOUT: "Duration limit timed out"
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

    def _init_failed(self, pending: Pending, fault: Fault, lines: tuple[str, ...]) -> InvocationResult:
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
        self, pending: Pending, payload: bytes, function_error: str | None, duration: float
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

    def _deliver(self, pending: Pending) -> None:
        nxt = self._parked_next
        if nxt is not None and nxt.connected:
            self._parked_next = None
            self._send_event(nxt, pending)

    def _send_event(self, exchange: Exchange, pending: Pending) -> None:
        inv = pending.invocation
        pending.delivered = True
        exchange.respond(200, inv.payload, event_headers(inv, self._clock.time()))
        self.extensions.invoke_event(inv)

    # -- the Runtime API's host (runtime_api.runtime.RuntimeHost) --------------------------

    def _mark_initialized(self) -> None:
        if not self._initialized.done():
            self.init_duration_ms = (self._clock.monotonic() - self._started_at) * 1000
            self._initialized.set_result(None)

    def next_invocation(self, exchange: Exchange) -> None:
        if not self._live:
            return  # the reset runtime, in its last moments: it gets no event
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
            pending.future.set_result((body or error_document(error_type or "Unhandled"), "Unhandled"))
        else:
            pending.future.set_result((body, None))
        return True

    def invocation_stream(self, request_id: str, exchange: StreamedExchange) -> ResponseSink | None:
        return open_sink(self._pending, request_id, exchange)

    def init_error(self, body: bytes, error_type: str | None) -> None:
        document = body or error_document(error_type or "Runtime.Unknown")
        if not self._initialized.done():
            self.init_duration_ms = (self._clock.monotonic() - self._started_at) * 1000
            self._fail_init(InitFailure(lambda rid: FunctionInitError(rid, document)))
        elif self._pending is not None and not self._pending.future.done():
            self._pending.future.set_result((document, "Unhandled"))
