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
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from locallambda.executors.base import Executor, ExecutorError, OutputSink, RuntimeProcess
from locallambda.executors.runtime_commands import RuntimeCommands
from locallambda.invoke.models import FunctionSpec

__all__ = ["ProcessExecutor", "ChildProcess"]

log = logging.getLogger("locallambda.executor.process")


class ChildProcess(RuntimeProcess):
    """A runtime running as a process group of its own, its output pumped to a sink."""

    def __init__(self, proc: asyncio.subprocess.Process, output: OutputSink) -> None:
        self._proc = proc
        self._output = output
        self._pump = asyncio.get_running_loop().create_task(self._read())

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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
        return code

    def kill(self) -> None:
        if self._proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    def max_memory_mb(self) -> int | None:
        try:
            with open(f"/proc/{self._proc.pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) // 1024
        except (OSError, ValueError, IndexError):
            return None
        return None


class ProcessExecutor(Executor):
    name = "process"

    def __init__(self, commands: RuntimeCommands) -> None:
        self._commands = commands

    async def prepare(self, spec: FunctionSpec) -> str | None:
        if spec.package_type == "Image":
            return "Container image functions need the docker executor."
        return await self._commands.check(spec)

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        argv, extra_env = await self._commands.command(spec, spec.code_dir)
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": "/tmp", **environment, **extra_env}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(spec.code_dir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutorError(f"Could not start the runtime: {exc}") from exc
        return ChildProcess(proc, output)


def host_python() -> str:
    return sys.executable or shutil.which("python3") or "python3"


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
