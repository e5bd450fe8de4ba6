"""A fake executor: environments whose runtime is a task of this process.

The runtime speaks the real Runtime API over HTTP to the environment's own address and runs a
Python callable per function name, ``handler(event: bytes, context: dict) -> bytes`` (or async).
``Faults`` script the rest: a failing preparation, a slow or failing init, an exit. Delays are
manual-clock seconds; the only real-time waits are deadlines for loopback I/O.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import signal
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from locallambda.errors import ExecutorError, InvalidEntrypointError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.model.clock import Clock, SystemClock
from locallambda.model.refs import LATEST, function_arn
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.runtime import PREFIX

__all__ = [
    "KILLED",
    "ExitRuntime",
    "FakeExecutor",
    "FakeRuntime",
    "Faults",
    "Handler",
    "echo",
    "exits",
    "function_spec",
    "hang",
]

KILLED = -signal.SIGKILL  # what ``wait`` returns after ``kill``, as for a real process

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
    reinit_exit: int | None = None  # ... during an init after a reset (its first one succeeds)


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
    """One fake environment and its runtime: a task polling ``/next`` on the environment's address.

    ``tmp`` stands for the environment's ``/tmp``: handlers find it in their context, and it
    survives a reset when the executor restarts runtimes in place (``restarts_in_place``), as a
    sandbox's or a container's does. ``context["start"]`` counts the runtime's starts.
    """

    def __init__(
        self, executor: FakeExecutor, spec: FunctionSpec, runtime_api: str, env: Mapping[str, str], output: OutputSink
    ) -> None:
        host, _, port = runtime_api.rpartition(":")
        self.spec = spec
        self.environment = dict(env)
        self.invocations = 0
        self.killed = False
        self.resets = 0
        self.starts = 1
        self._reset_start = 0
        self.tmp: dict[str, Any] = {}
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
        task = self._task
        await asyncio.wait({task})
        return KILLED if self.killed or task.cancelled() else task.result()

    def kill(self) -> None:
        self.killed = True
        self._task.cancel()  # the handler too, wherever it waits

    def reset(self) -> None:
        if not self._executor.restarts_in_place:
            self.kill()
            return
        if self._reset_start < self.starts:  # counted once per start (reset is idempotent)
            self._reset_start = self.starts
            self.resets += 1
        self._task.cancel()

    async def restart(self) -> bool:
        if self.killed or not self._executor.restarts_in_place:
            return False
        self.starts += 1
        self._oom = False
        self._handler = self._executor.handlers.get(self.spec.name, self._executor.default)
        self._faults = self._executor.faults_for(self.spec)
        self._task = self._executor.tasks.spawn(self._main(), name=f"fake runtime of {self.spec.name}")
        return True

    def out_of_memory(self) -> bool:
        return self._oom

    async def _main(self) -> int:
        """The runtime's life; returns its exit status."""
        try:
            if self._faults.init_seconds > 0:
                await self._executor.clock.sleep(self._faults.init_seconds)
            if self._faults.init_exit is not None:
                return self._faults.init_exit
            if self._faults.reinit_exit is not None and self.starts > 1:
                return self._faults.reinit_exit
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
            "tmp": self.tmp,
            "start": self.starts,
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
    a runtime starts. ``clock`` times the scripted delays (pass the app's ``ManualClock``).
    ``restarts_in_place``: a reset environment keeps its ``tmp`` and starts its runtime again in
    place (False: the environment is killed, and a new one started). ``starts``, ``kills``,
    ``resets`` and ``running`` count environments; ``received`` holds every (event, context)
    given to a handler."""

    name = "fake"

    def __init__(
        self,
        handlers: Mapping[str, Handler] | None = None,
        *,
        default: Handler = echo,
        faults: Mapping[str, Faults] | None = None,
        clock: Clock | None = None,
        reuse: bool = True,
        restarts_in_place: bool = True,
    ) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.default = default
        self.faults: dict[str, Faults] = dict(faults or {})
        self.clock: Clock = clock or SystemClock()
        self.reuse = reuse
        self.restarts_in_place = restarts_in_place
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
    def resets(self) -> int:
        return sum(r.resets for r in self.runtimes)

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
