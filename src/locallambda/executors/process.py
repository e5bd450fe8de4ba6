"""The process executor: an execution environment is a child process on the host.

This is LocalStack's old ``local`` executor (``LAMBDA_EXECUTOR=local``): no isolation, fastest
start. The runtime client is the official one where it exists (awslambdaric for Python), our own
bootstrap otherwise (Node.js, Java), or the function's own ``bootstrap`` (provided.*).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from locallambda.executors.base import Executor, ExecutorError, OutputSink, RuntimeProcess
from locallambda.executors.runtime_commands import InvalidEntrypointError, RuntimeCommands, extension_commands
from locallambda.invoke.models import FunctionSpec

__all__ = ["ProcessExecutor", "ChildProcess"]

log = logging.getLogger("locallambda.executor.process")


class ChildProcess(RuntimeProcess):
    """A runtime running as a process group of its own, its output pumped to a sink.

    ``companions`` are the function's external extensions: they write to the same sink (whole
    lines, so that their output never splits a line of the runtime's) and are killed with it.
    """

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        output: OutputSink,
        companions: list[asyncio.subprocess.Process] | None = None,
    ) -> None:
        self._proc = proc
        self._memory_mb: int | None = None
        self._memory_read_at = -1.0
        self._output = output
        self._companions = list(companions or [])
        loop = asyncio.get_running_loop()
        self._pump = loop.create_task(self._read())
        self._companion_pumps = [loop.create_task(_pump_lines(c, output)) for c in self._companions]

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def _read(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            self._output(chunk)

    async def wait(self) -> int:
        code = await self._proc.wait()
        # What the runtime started shares its output pipe: were it left running, the output would
        # not end (and the runtime's death be reported a second late). The environment ends anyway.
        _kill_group(self._proc)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
        return code

    def kill(self) -> None:
        for companion in self._companions:
            _kill_group(companion)
        _kill_group(self._proc)

    def max_memory_mb(self) -> int | None:
        # Read at most every 100 ms: warm invokes in a row would otherwise pay a /proc read each.
        now = time.monotonic()
        if now - self._memory_read_at < 0.1:
            return self._memory_mb
        self._memory_read_at = now
        self._memory_mb = self._read_memory()
        return self._memory_mb

    def _read_memory(self) -> int | None:
        try:
            with open(f"/proc/{self._proc.pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) // 1024
        except (OSError, ValueError, IndexError):
            return None
        return None


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL a child started in a session of its own, and everything it started. Never raises.

    The group is signalled even when the child itself has already exited: what it started (a
    runtime's subprocesses, a bootstrap's children) may still be running in its group. Linux does
    not reuse a pid while it names a live process group, so this cannot reach a stranger.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def _pump_lines(proc: asyncio.subprocess.Process, output: OutputSink) -> None:
    """Forward a companion's output to ``output`` in whole lines (the last one completed)."""
    stream = proc.stdout
    assert stream is not None
    partial = b""
    while chunk := await stream.read(65536):
        data = partial + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            output(data[:cut])
        partial = data[cut:]
    if partial:
        output(partial + b"\n")


class ProcessExecutor(Executor):
    name = "process"
    starts_extensions = True

    def __init__(self, commands: RuntimeCommands, host_path: str = "/usr/local/bin:/usr/bin:/bin") -> None:
        self._commands = commands
        self._host_path = host_path  # the server's PATH: where node, java and bash are found

    async def prepare(self, spec: FunctionSpec) -> str | None:
        return await self._commands.check(spec)

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        base = {"PATH": self._host_path, "HOME": "/tmp", **environment}
        argv, extra_env = await self._commands.command(spec, spec.code_dir, base_env=base)
        env = {**base, **extra_env}
        # AWS starts the external extensions (/opt/extensions/*) first, with the function's
        # environment; they register on the same Runtime API as the runtime.
        extensions = await _start_extensions(extension_commands(list(spec.layers)), env)
        try:
            proc = await _spawn(argv, spec.code_dir, env)
        except OSError as exc:
            for ext in extensions:
                _kill_group(ext)
            # AWS names a failed exec as Go does: "fork/exec /var/task/bootstrap: permission denied".
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise InvalidEntrypointError(f"fork/exec {argv[0]}: {reason}") from exc
        return ChildProcess(proc, output, extensions)


async def _spawn(argv: list[str], cwd: Path, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """A child in a session of its own (so that killing its group kills what it started), its
    stdout and stderr merged into one pipe. Raises ``OSError`` when it cannot be executed."""
    return await asyncio.create_subprocess_exec(
        *argv, cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


async def _start_extensions(paths: list[Path], env: Mapping[str, str]) -> list[asyncio.subprocess.Process]:
    """Start each extension in a session of its own. Raises ``ExecutorError`` (after stopping
    those already started) when one cannot be started."""
    started: list[asyncio.subprocess.Process] = []
    for path in paths:
        try:
            started.append(await _spawn([str(path)], path.parent.parent, env))
        except OSError as exc:
            for ext in started:
                _kill_group(ext)
            raise ExecutorError(f"Could not start the extension {path.name}: {exc}") from exc
    return started
