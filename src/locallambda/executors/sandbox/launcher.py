"""Pre-spawned launchers: a bwrap started before the function is known, waiting in its cgroup.

bwrap takes the mounts and the environment from a pipe (``--args``), so a launcher can be
started before the function is known. Moving a process into a cgroup waits for an RCU grace
period (~10 ms on a busy host, measured on cgroup v1), so one launcher is kept waiting in a
fresh cgroup and replaced as soon as used: the wait then falls between cold starts instead of
inside one, and a cold start costs bwrap's namespace setup (~3 ms) and a shell that execs the
runtime, on top of the runtime's own start.

``LauncherPool.start`` is the one place where a failure to start a sandbox (a process that cannot
be spawned, a pipe that cannot be written, an argument holding a NUL) becomes ``ExecutorError``
("Could not start the sandbox: ..."). The spare is made in the pool's task scope; a launcher
that is not used is killed at once and reaped there. ``close`` waits, each time with a deadline,
for a spare being made, disposes of the spare, and closes the scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Sequence

from locallambda.errors import ExecutorError
from locallambda.executors.cgroups import CgroupTree, EnvCgroup, remove_cgroup
from locallambda.executors.sandbox.args import args_payload, launcher_argv
from locallambda.model.tasks import TaskScope

__all__ = ["DISPOSE_TIMEOUT_S", "PIDS_MAX", "Launcher", "LauncherPool"]

log = logging.getLogger(__name__)

# Lambda quotas: "Processes and threads: 1,024" per execution environment.
PIDS_MAX = 1024
# A killed launcher ends at once; this only bounds the wait should the kernel be slow.
DISPOSE_TIMEOUT_S = 5.0


class Launcher:
    """A bwrap started (in its cgroup) and blocked reading its arguments from a pipe."""

    def __init__(self, proc: asyncio.subprocess.Process, cgroup: EnvCgroup | None, args_fd: int) -> None:
        self.proc = proc
        self.cgroup = cgroup
        self._args_fd: int | None = args_fd

    def send(self, payload: bytes) -> None:
        """Hand bwrap its arguments (``args.args_payload``) and let it go (once).

        Raises ``OSError`` when bwrap is gone.
        """
        fd, self._args_fd = self._args_fd, None
        assert fd is not None, "a launcher is sent its arguments once"
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def kill(self) -> None:
        """Kill it unused (and close its pipe). Idempotent, never raises."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._args_fd is not None:
            os.close(self._args_fd)
            self._args_fd = None

    async def dispose(self, timeout_s: float = DISPOSE_TIMEOUT_S) -> None:
        """Kill it unused, wait for it to end (at most ``timeout_s`` seconds), remove its cgroup."""
        self.kill()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("sandbox launcher %d did not end within %.0fs", self.proc.pid, timeout_s)
            return
        if self.cgroup is not None:
            await remove_cgroup(self.cgroup)


async def _spawn(bwrap: str, cgroup: EnvCgroup | None) -> Launcher:
    """A bwrap in ``cgroup`` (when given), blocked until it is sent its arguments.

    Raises ``OSError`` (the pipe is closed again then).
    """
    read_fd, write_fd = os.pipe()
    argv = launcher_argv(bwrap, read_fd, cgroup.procs_files if cgroup is not None else ())
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd="/",
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(read_fd,),
        )
    except BaseException:  # OSError, or cancelled: a bwrap already started reads EOF and exits
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    return Launcher(proc, cgroup, write_fd)


class LauncherPool:
    """One spare launcher, kept ready and replaced as soon as it is used."""

    def __init__(self, bwrap: str, cgroups: CgroupTree | None, scope: TaskScope) -> None:
        self._bwrap = bwrap
        self._cgroups = cgroups
        self._scope = scope
        self._count = 0
        self._spare: Launcher | None = None
        self._refilling: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self, args: Sequence[str], memory_bytes: int) -> Launcher:
        """A launcher sent ``args``, its cgroup (if any) limited to ``memory_bytes`` and
        ``PIDS_MAX`` processes: the spare when there is one, else a new one.

        Raises ``ExecutorError`` when the sandbox cannot be started.
        """
        try:
            payload = args_payload(args)
            launcher = self._take()
            if launcher is None:
                launcher = await self._new()
            if launcher.cgroup is not None:
                launcher.cgroup.set_limits(memory_bytes, PIDS_MAX)
            try:
                launcher.send(payload)
            except OSError:
                self._discard(launcher)
                raise
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"Could not start the sandbox: {exc}") from exc
        return launcher

    def _take(self) -> Launcher | None:
        launcher, self._spare = self._spare, None
        if launcher is not None and launcher.proc.returncode is not None:
            self._discard(launcher)
            return None
        if launcher is not None and not self._closing:
            # The next sandbox's launcher enters its cgroup while this one starts.
            asyncio.get_running_loop().call_soon(self.refill)
        return launcher

    async def _new(self) -> Launcher:
        """A launcher in a fresh cgroup (when there are cgroups). Raises ``OSError``."""
        cgroup = None
        if self._cgroups is not None:
            self._count += 1
            cgroup = self._cgroups.create(f"env-{self._count}-{os.urandom(3).hex()}")
        try:
            return await _spawn(self._bwrap, cgroup)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

    def refill(self) -> None:
        """Make a spare in the background, unless there is one, one is coming, or the pool closes."""
        if self._spare is not None or self._closing:
            return
        if self._refilling is not None and not self._refilling.done():
            return
        self._refilling = self._scope.spawn(self._refill(), name="spare sandbox launcher")

    async def _refill(self) -> None:
        try:
            spare = await self._new()
        except OSError as exc:
            log.warning("no spare sandbox launcher: %s", exc)
            return
        if self._closing:
            await spare.dispose()
            return
        self._spare = spare

    def _discard(self, launcher: Launcher) -> None:
        """Kill an unused launcher now; reap it and remove its cgroup in the background."""
        launcher.kill()
        if not self._closing:
            self._scope.spawn(launcher.dispose(), name=f"dispose of sandbox launcher {launcher.proc.pid}")

    async def close(self, timeout_s: float) -> None:
        """Dispose of the spare (one being made included) and close the scope; each wait is
        bounded by ``timeout_s`` seconds."""
        self._closing = True
        refilling = self._refilling
        if refilling is not None and not refilling.done():
            await asyncio.wait([refilling], timeout=timeout_s)
        spare, self._spare = self._spare, None
        if spare is not None:
            await spare.dispose(timeout_s)
        await self._scope.close(timeout_s)
