"""Test helpers shipped with the package: a manual clock, a fake executor, an in-process app.

- ``ManualClock``: a ``model.clock.Clock`` whose time moves only by ``await clock.advance(s)``,
  which fires due timers in time order (also those scheduled by fired callbacks) and gives the
  loop a few turns after each. Progress that needs real I/O (a runtime on loopback) is awaited
  (``FakeExecutor.wait_for_invocations``, the invocation's task), not advanced.
- ``FakeExecutor``: environments whose runtime is a task of this process speaking the real
  Runtime API over HTTP to the environment's own address, running a Python callable per function
  name, ``handler(event: bytes, context: dict) -> bytes`` (or async). ``Faults`` script the rest:
  a failing preparation, a slow or failing init, an exit.
- ``running_app``: an ``Application`` with both, its operation handlers called in process.
- ``async_test``: an ``async def`` test under ``asyncio.run``, with a real-time deadline.

Nothing here sleeps real seconds; the only real-time waits are deadlines for loopback I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import heapq
import inspect
import io
import itertools
import json
import signal
import traceback
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any, ParamSpec

from locallambda.app import Application, build_app
from locallambda.errors import ExecutorError, InvalidEntrypointError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.model.clock import Clock, SystemClock
from locallambda.model.operations import RequestContext
from locallambda.model.refs import LATEST, function_arn
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.runtime import PREFIX
from locallambda.settings import Settings

__all__ = [
    "EPOCH",
    "ROLE",
    "AppHarness",
    "ExitRuntime",
    "FakeExecutor",
    "FakeRuntime",
    "Faults",
    "Handler",
    "ManualClock",
    "ManualTimer",
    "async_test",
    "code_zip",
    "echo",
    "exits",
    "function_spec",
    "hang",
    "running_app",
]

EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z: where every manual clock starts
_MONOTONIC_BASE = 10_000.0  # not 0, so that no code can mistake "the start" for "unset"
KILLED = -signal.SIGKILL  # what ``wait`` returns after ``kill``, as for a real process
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

_P = ParamSpec("_P")


# -- the manual clock -----------------------------------------------------------------------


class ManualTimer:
    """A timer of a ``ManualClock``; ``cancel`` before it is due and it never fires."""

    __slots__ = ("_args", "_callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self._callback = callback
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        self.cancel()  # spent
        self._callback(*self._args)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock:
    """A ``Clock`` whose time moves only by ``advance``; starts at ``EPOCH``.

    ``yields`` is how many turns the event loop gets after each fired timer (and before and after
    an ``advance``): enough for a chain of woken tasks that do no I/O.
    """

    def __init__(self, start: float = EPOCH, *, yields: int = 20) -> None:
        self._start = start
        self._elapsed = 0.0
        self._heap: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()
        self._yields = yields

    def time(self) -> float:
        return self._start + self._elapsed

    def monotonic(self) -> float:
        return _MONOTONIC_BASE + self._elapsed

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> ManualTimer:
        timer = ManualTimer(self._elapsed + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.when, next(self._order), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(delay, _wake, future)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Timers scheduled and neither fired nor cancelled."""
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    async def settle(self) -> None:
        """Give the event loop ``yields`` turns (tasks woken without I/O run to their next wait)."""
        for _ in range(self._yields):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way in time order.

        A callback's exception propagates to the caller (it is a bug the test should see).
        Raises ``ValueError`` for a negative amount: time never goes back.
        """
        if seconds < 0:
            raise ValueError("time never goes back")
        target = self._elapsed + seconds
        await self.settle()
        while self._heap and self._heap[0][0] <= target:
            when, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._elapsed = max(self._elapsed, when)
            timer.fire()
            await self.settle()
        self._elapsed = target
        await self.settle()


# -- the fake executor ----------------------------------------------------------------------

Handler = Callable[[bytes, dict[str, Any]], bytes | Awaitable[bytes]]


class ExitRuntime(Exception):
    """Raised by a handler: the runtime ends now with ``status`` without answering the event.

    ``out_of_memory``: as if the memory limit killed it (status -9, ``out_of_memory()`` true).
    """

    def __init__(self, status: int = 1, *, out_of_memory: bool = False) -> None:
        super().__init__(f"exit {status}")
        self.status = KILLED if out_of_memory else status
        self.out_of_memory = out_of_memory


@dataclasses.dataclass(frozen=True, slots=True)
class Faults:
    """What a fake function does besides running its handler (all manual-clock seconds)."""

    prepare_error: str | None = None  # ``prepare`` answers this reason: the function goes Failed
    prepare_seconds: float = 0.0  # ``prepare`` takes this long (the function stays Pending)
    start_error: str | None = None  # ``start`` raises ExecutorError with this message
    invalid_entrypoint: str | None = None  # ``start`` raises InvalidEntrypointError with this
    init_seconds: float = 0.0  # the init takes this long before the first ``/next``
    init_error: tuple[str, str] | None = None  # (errorType, errorMessage) to ``/init/error``; exit 1
    init_exit: int | None = None  # the runtime exits with this status during its init


def echo(event: bytes, context: dict[str, Any]) -> bytes:
    return event  # the default function


async def hang(event: bytes, context: dict[str, Any]) -> bytes:
    """A function that never answers (until its environment is killed)."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")


def exits(status: int = 1, *, out_of_memory: bool = False) -> Handler:
    """A function whose runtime exits with ``status`` when it gets an event."""

    def handler(event: bytes, context: dict[str, Any]) -> bytes:
        raise ExitRuntime(status, out_of_memory=out_of_memory)

    return handler


class FakeRuntime(RuntimeProcess):
    """One fake environment's runtime: a task polling ``/next`` on the environment's address."""

    def __init__(
        self, executor: FakeExecutor, spec: FunctionSpec, runtime_api: str, env: Mapping[str, str], output: OutputSink
    ) -> None:
        host, _, port = runtime_api.rpartition(":")
        self.spec = spec
        self.environment = dict(env)
        self.invocations = 0
        self.killed = False
        self._host, self._port = host.strip("[]"), int(port)
        self._output = output
        self._executor = executor
        self._handler = executor.handlers.get(spec.name, executor.default)
        self._faults = executor.faults_for(spec)
        self._oom = False
        self._task = executor.tasks.spawn(self._main(), name=f"fake runtime of {spec.name}")

    @property
    def done(self) -> bool:
        return self._task.done()

    async def wait(self) -> int:
        await asyncio.wait({self._task})
        return KILLED if self.killed or self._task.cancelled() else self._task.result()

    def kill(self) -> None:
        self.killed = True
        self._task.cancel()  # the handler too, wherever it waits

    def out_of_memory(self) -> bool:
        return self._oom

    async def _main(self) -> int:
        """The runtime's life; returns its exit status."""
        try:
            if self._faults.init_seconds > 0:
                await self._executor.clock.sleep(self._faults.init_seconds)
            if self._faults.init_exit is not None:
                return self._faults.init_exit
            if self._faults.init_error is not None:
                error_type, message = self._faults.init_error
                doc = {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
                await self._request("POST", f"{PREFIX}/init/error", json.dumps(doc).encode(), error_type)
                return 1  # as awslambdaric does after reporting its init error
            while True:
                await self._invocation()
        except ExitRuntime as exc:
            self._oom = exc.out_of_memory
            return exc.status
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return 1  # the Runtime API went away: a real runtime dies of it too

    async def _invocation(self) -> None:
        status, headers, event = await self._request("GET", f"{PREFIX}/invocation/next")
        if status != 200:
            raise ConnectionResetError(f"/next answered {status}")
        rid = headers.get("lambda-runtime-aws-request-id", "")
        self.invocations += 1
        context: dict[str, Any] = {
            "aws_request_id": rid,
            "deadline_ms": int(headers.get("lambda-runtime-deadline-ms", "0")),
            "invoked_function_arn": headers.get("lambda-runtime-invoked-function-arn", ""),
            "trace_id": headers.get("lambda-runtime-trace-id"),
            "client_context": headers.get("lambda-runtime-client-context"),
            "function_name": self.spec.name,
            "function_version": self.spec.version,
            "environment": self.environment,
            "log": self._log,
        }
        self._executor.received_event(event, context)
        try:
            answer = self._handler(event, context)
            if inspect.isawaitable(answer):
                answer = await answer
        except ExitRuntime:
            raise
        except Exception as exc:
            # awslambdaric's error document, and its log line.
            self._log(f"[ERROR] {type(exc).__name__}: {exc}")
            doc: dict[str, Any] = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": rid}
            doc["stackTrace"] = traceback.format_tb(exc.__traceback__)
            await self._request("POST", f"{PREFIX}/invocation/{rid}/error", json.dumps(doc).encode(), "Unhandled")
            return
        await self._request("POST", f"{PREFIX}/invocation/{rid}/response", bytes(answer))

    def _log(self, text: str) -> None:
        self._output(text.encode() + b"\n")

    async def _request(
        self, method: str, path: str, body: bytes = b"", error_type: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP/1.1 exchange on a connection of its own. Raises ``OSError`` and
        ``IncompleteReadError`` when the Runtime API closes the connection."""
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}", f"Content-Length: {len(body)}"]
            if error_type is not None:
                head.append(f"Lambda-Runtime-Function-Error-Type: {error_type}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionResetError("the Runtime API closed the connection")
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            data = await reader.readexactly(int(headers.get("content-length", "0")))
            return int(status_line.split()[1]), headers, data
        finally:
            writer.close()


class FakeExecutor(Executor):
    """Environments whose runtime is a task of this process running a Python handler.

    ``handlers`` and ``faults`` are by function name (``default`` serves the others), read when
    an environment starts. ``clock`` times the scripted delays (pass the app's ``ManualClock``).
    ``starts``, ``kills`` and ``running`` count environments; ``received`` holds every (event,
    context) given to a handler."""

    name = "fake"

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        default: Handler = echo,
        faults: Mapping[str, Faults] | None = None,
        clock: Clock | None = None,
        reuse: bool = True,
    ) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.default = default
        self.faults: dict[str, Faults] = dict(faults or {})
        self.clock: Clock = clock or SystemClock()
        self.reuse = reuse
        self.runtimes: list[FakeRuntime] = []
        self.received: list[tuple[bytes, dict[str, Any]]] = []
        self.tasks = TaskScope("fake-executor")  # the runtimes' tasks
        self._event = asyncio.Event()

    @property
    def starts(self) -> int:
        return len(self.runtimes)

    @property
    def kills(self) -> int:
        return sum(1 for r in self.runtimes if r.killed)

    @property
    def running(self) -> int:
        return sum(1 for r in self.runtimes if not r.done)

    def faults_for(self, spec: FunctionSpec) -> Faults:
        return self.faults.get(spec.name, Faults())

    async def prepare(self, spec: FunctionSpec) -> str | None:
        faults = self.faults_for(spec)
        if faults.prepare_seconds > 0:
            await self.clock.sleep(faults.prepare_seconds)
        return faults.prepare_error

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> FakeRuntime:
        faults = self.faults_for(spec)
        if faults.invalid_entrypoint is not None:
            raise InvalidEntrypointError(faults.invalid_entrypoint)
        if faults.start_error is not None:
            raise ExecutorError(faults.start_error)
        runtime = FakeRuntime(self, spec, runtime_api, environment, output)
        self.runtimes.append(runtime)
        return runtime

    def received_event(self, event: bytes, context: dict[str, Any]) -> None:
        self.received.append((event, context))
        self._event.set()

    async def wait_for_invocations(self, count: int, deadline_s: float = 5.0) -> None:
        """Until handlers have been given ``count`` events in all (at most ``deadline_s`` real
        seconds: the events travel over loopback). Raises ``TimeoutError``."""
        async with asyncio.timeout(deadline_s):
            while len(self.received) < count:
                self._event.clear()
                await self._event.wait()

    async def close(self) -> None:
        """Kill every runtime still running and wait for their tasks to end."""
        for runtime in self.runtimes:
            if not runtime.done:
                runtime.kill()
        await self.tasks.close()


def function_spec(name: str = "fn", **changes: Any) -> FunctionSpec:
    """A ``FunctionSpec`` of $LATEST in us-east-1 (no code on disk: the fake needs none)."""
    # fmt: off
    spec = FunctionSpec(
        key=f"us-east-1/{name}", name=name, arn=function_arn("us-east-1", "000000000000", name),
        version=LATEST, generation=0, incarnation="incarnation-1", region="us-east-1",
        account_id="000000000000", runtime="python3.12", handler="index.handler", package_type="Zip",
        code_dir=None, image_uri=None, image_config={}, memory_mb=128, timeout_s=3, ephemeral_mb=512,
        environment={}, layers=(), architectures=("x86_64",), log_group=f"/aws/lambda/{name}",
        log_format="Text",
    )
    # fmt: on
    return dataclasses.replace(spec, **changes)


# -- the app, in process --------------------------------------------------------------------


def code_zip(files: Mapping[str, str] | None = None) -> bytes:
    """A function's deployment package (by default an ``index.py`` with ``handler``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (files or {"index.py": "def handler(event, context):\n    return event\n"}).items():
            zf.writestr(name, text)
    return buf.getvalue()


class AppHarness:
    """An ``Application`` running in this process with a ``ManualClock`` and a ``FakeExecutor``."""

    def __init__(self, app: Application, clock: ManualClock, executor: FakeExecutor) -> None:
        self.app = app
        self.clock = clock
        self.executor = executor

    async def call(self, operation: str, /, **params: Any) -> dict[str, Any]:
        """Run one operation's handler as the dispatcher would after parsing and validation
        (members by their model names, blobs as bytes). Raises what the handler raises."""
        settings = self.app.settings
        ctx = RequestContext(operation, settings.region, settings.account_id, str(uuid.uuid4()), {})
        return dict(await self.app.handlers[operation](ctx, params) or {})

    async def create_function(self, name: str, **params: Any) -> dict[str, Any]:
        """CreateFunction of a python3.12 zip function (``params`` override the defaults)."""
        params = {"Runtime": "python3.12", "Handler": "index.handler", "Role": ROLE, **params}
        params.setdefault("Code", {"ZipFile": code_zip()})
        return await self.call("CreateFunction", FunctionName=name, **params)

    async def invoke(self, name: str, payload: bytes = b"{}", **params: Any) -> dict[str, Any]:
        return await self.call("Invoke", FunctionName=name, Payload=payload, **params)


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings | None = None,
    *,
    handlers: Mapping[str, Handler] | None = None,
    faults: Mapping[str, Faults] | None = None,
    clock: ManualClock | None = None,
    executor: FakeExecutor | None = None,
) -> AsyncIterator[AppHarness]:
    """An app started for the block, shut down after it (``settings`` default to
    ``Settings(synchronous_create=True)``). Without ``executor``, a ``FakeExecutor`` of
    ``handlers`` and ``faults`` on ``clock`` is made; one passed in should share ``clock``."""
    clock = clock or ManualClock()
    executor = executor or FakeExecutor(handlers, faults=faults, clock=clock)
    app = build_app(settings or Settings(synchronous_create=True), clock=clock, executors={"process": executor})
    await app.startup()
    try:
        yield AppHarness(app, clock, executor)
    finally:
        await app.shutdown()


def async_test(fn: Callable[_P, Coroutine[Any, Any, None]], *, deadline: float = 10.0) -> Callable[_P, None]:
    """Run an ``async def`` test under ``asyncio.run``, failing it after ``deadline`` real seconds
    rather than hanging (pytest-asyncio is not needed)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> None:
        async def bounded() -> None:  # one task: the test's own (asyncio.wait_for would add one)
            async with asyncio.timeout(deadline):
                await fn(*args, **kwargs)

        asyncio.run(bounded())

    return run
