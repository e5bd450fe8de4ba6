"""The process executor: an execution environment is a child process on the host.

This is LocalStack's old ``local`` executor (``LAMBDA_EXECUTOR=local``): no isolation, fastest
start. The runtime client is the official one where it exists (awslambdaric for Python), our own
bootstrap otherwise (Node.js, Java), or the function's own ``bootstrap`` (provided.*).

Nothing an environment starts outlives it, however it detaches: each environment is held by a
cgroup of its own where the host allows, else by the server as subreaper (``containment.py``);
what a server killed with SIGKILL left running is killed at the next start (``open``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping

from locallambda.errors import ExecutorError, InvalidEntrypointError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.executors.containment import Containment, Hold
from locallambda.executors.extensions import with_extensions
from locallambda.executors.spawn import Child
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.commands import RuntimeCommands, exec_wrapper, extension_commands, on_host, with_exec_wrapper

__all__ = ["CLOSE_TIMEOUT_S", "ChildProcess", "ProcessExecutor"]

log = logging.getLogger(__name__)

# Bounds each wait of ``close``: the cgroup discovery, the environments' holds still held.
CLOSE_TIMEOUT_S = 5.0


class ChildProcess(RuntimeProcess):
    """A runtime running as a process group of its own (its extensions in it too), its output
    pumped to a sink by a task of ``tasks``; with a ``hold``, what left the group is killed too."""

    def __init__(self, proc: Child, output: OutputSink, tasks: TaskScope, hold: Hold | None = None) -> None:
        self._proc = proc
        self._hold = hold
        self._memory_mb: int | None = None
        self._memory_read_at = -1.0
        self._output = output
        self._pump = tasks.spawn(self._read(), name=f"output of pid {proc.pid}")

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
        if self._hold is not None:
            await self._hold.release()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
        return code

    def kill(self) -> None:
        _kill_group(self._proc)
        if self._hold is not None:
            self._hold.kill()

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


def _kill_group(proc: Child) -> None:
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


class ProcessExecutor(Executor):
    name = "process"
    starts_extensions = True

    def __init__(
        self,
        commands: RuntimeCommands,
        tasks: TaskScope,
        host_path: str = "/usr/local/bin:/usr/bin:/bin",
        *,
        use_cgroups: bool = True,
    ) -> None:
        """``use_cgroups=False`` holds environments without cgroups even where they are writable
        (the subreaper; tests use it to prove that path)."""
        self._commands = commands
        self._tasks = tasks
        self._host_path = host_path  # the server's PATH: where node, java and bash are found
        self._containment = Containment(tasks.child("containment"), use_cgroups=use_cgroups)

    def open(self) -> None:
        # In the background: what servers killed earlier left running is killed now.
        self._containment.open()

    async def prepare(self, spec: FunctionSpec) -> str | None:
        return await self._commands.check(spec)

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        # No HOME: AWS's runtimes set none (their recorded test_introspection_invoke); Node's
        # os.homedir(), Java's user.home and the SDKs' ~/.aws lookups fall back to the passwd entry.
        # Paths the runtime's variables name (NODE_PATH, NODE_EXTRA_CA_CERTS) are AWS's
        # directories where they are on this host: /opt is the layers' tree, /var/task the code,
        # /var/runtime the bundled SDK's directory (RuntimeCommands, AWS's order kept).
        base = {"PATH": self._host_path, **environment}
        argv, extra_env = await self._commands.command(spec, spec.code_dir, base_env=base)
        env = {**base, **extra_env}
        notice = self._commands.notice(spec)
        if notice is not None:
            output(notice.encode() + b"\n")
        wrapper = exec_wrapper(spec)
        if wrapper is not None:
            argv = with_exec_wrapper(argv, on_host(wrapper, spec.code_dir, list(spec.layers)))
        extensions = extension_commands(list(spec.layers))
        command = with_extensions(argv, [str(p) for p in extensions], str(spec.layers[0])) if extensions else argv
        # Python's own bootstrap, nothing around it: a zygote may become it (zygotes.py).
        site = self._commands.python_site(command[0]) if command is argv and wrapper is None else None
        try:
            proc, hold = await self._containment.spawn(command, spec.code_dir, env, python_site=site)
        except OSError as exc:
            # AWS names a failed exec as Go does: "fork/exec /var/task/bootstrap: permission denied".
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise InvalidEntrypointError(f"fork/exec {argv[0]}: {reason}") from exc
        return ChildProcess(proc, output, self._tasks, hold)

    async def close(self) -> None:
        """Kill what is left of every environment and remove the cgroups; called once, after
        every kill."""
        await self._containment.close(CLOSE_TIMEOUT_S)
