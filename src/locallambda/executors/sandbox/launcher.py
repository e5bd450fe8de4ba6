"""Pre-spawned launchers: a bwrap started before the function is known, waiting in its cgroup.

bwrap takes the mounts and the environment from a pipe (``--args``), so a launcher can be
started before the function is known. Moving a process into a cgroup waits for an RCU grace
period (~10 ms on a busy host, measured on cgroup v1), so one launcher is kept waiting in a
fresh cgroup and replaced as soon as used: the wait then falls between cold starts instead of
inside one, and a cold start costs bwrap's namespace setup (~3 ms) and a shell that execs the
runtime, on top of the runtime's own start.

A launcher's stdin is one end of a socket pair whose other end it keeps (``control``): the
sandbox's first process, the supervisor (``supervisor.py``), reads its orders there.

``LauncherPool.start`` is the one place where a failure to start a sandbox (a process that cannot
be spawned, a pipe that cannot be written, an argument holding a NUL) becomes ``ExecutorError``
("Could not start the sandbox: ..."). The spare is made in the pool's task scope; a launcher
that is not used is killed at once and reaped there. ``close`` waits, each time with a deadline,
for a spare being made, disposes of the spare, and closes the scope.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Sequence

from locallambda.errors import ExecutorError
from locallambda.executors.cgroups import CgroupTree, EnvCgroup
from locallambda.executors.sandbox.args import args_payload, launcher_argv
from locallambda.executors.spares import SparePool, Waiting, write_and_close
from locallambda.executors.spawn import Child, spawn
from locallambda.model.tasks import TaskScope

__all__ = ["PIDS_MAX", "Launcher", "LauncherPool", "new_launcher"]

log = logging.getLogger(__name__)

# Lambda quotas: "Processes and threads: 1,024" per execution environment.
PIDS_MAX = 1024


class Launcher(Waiting):
    """A bwrap started (in its cgroup) and blocked reading its arguments (``args.args_payload``)
    from a pipe; ``control`` is the server's end of the socket that is its stdin."""

    what = "sandbox launcher"

    def __init__(
        self, proc: Child, cgroup: EnvCgroup | None, input_fd: int, control: socket.socket, job_fd: int | None = None
    ) -> None:
        super().__init__(proc, cgroup, input_fd)
        self.control: socket.socket | None = control
        self._job_fd = job_fd

    def send_job(self, data: bytes) -> None:
        """Write ``data`` into the pipe that is the sandbox's stdout (a spare's: its supervisor
        starts the runtime at once with that pipe as stdin) and close it. Once; raises ``OSError``."""
        fd, self._job_fd = self._job_fd, None
        assert fd is not None, "a spare sandbox is sent its job once"
        # Non-blocking: the whole job fits in the pipe (made 1 MB where the host allows it;
        # 64 kB at least) even before the zygote reads; one that does not is refused
        # (BlockingIOError) rather than stalling the event loop.
        write_and_close(fd, data)

    def take_control(self) -> socket.socket:
        """The control socket, now the caller's to close (once)."""
        control, self.control = self.control, None
        assert control is not None, "a launcher's control socket is taken once"
        return control

    def kill(self) -> None:
        super().kill()
        if self.control is not None:
            self.control.close()
            self.control = None
        if self._job_fd is not None:
            os.close(self._job_fd)
            self._job_fd = None


async def _spawn(bwrap: str, cgroup: EnvCgroup | None, job: bool = False) -> Launcher:
    """A bwrap in ``cgroup`` (when given), blocked until it is sent its arguments, its stdin one
    end of a socket pair (the other is the launcher's ``control``); with ``job``, its stdout the
    read end of a pipe (``Launcher.send_job``), its output on stderr alone.

    Raises ``OSError`` (the pipes and the sockets are closed again then).
    """
    control, inside = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_fd, write_fd = os.pipe()
    job_read, job_write = os.pipe() if job else (None, None)
    if job_write is not None:
        os.set_blocking(job_write, False)
        with contextlib.suppress(OSError):
            fcntl.fcntl(job_write, fcntl.F_SETPIPE_SZ, 1 << 20)
    argv = launcher_argv(bwrap, read_fd, cgroup.procs_files if cgroup is not None else ())
    try:
        proc = await spawn(
            argv, cwd="/", env={}, stdin=inside.fileno(), output=True, pass_fds=(read_fd,), stdout=job_read
        )
    except BaseException:  # OSError, or cancelled: a bwrap already started reads EOF and exits
        os.close(write_fd)
        if job_write is not None:
            os.close(job_write)
        control.close()
        raise
    finally:
        os.close(read_fd)
        if job_read is not None:
            os.close(job_read)
        inside.close()
    return Launcher(proc, cgroup, write_fd, control, job_write)


class LauncherPool(SparePool[Launcher]):
    """One spare launcher, kept ready and replaced as soon as it is used."""

    def __init__(self, bwrap: str, cgroups: CgroupTree | None, scope: TaskScope) -> None:
        super().__init__(self._new, scope, "sandbox launcher")
        self._bwrap = bwrap
        self._cgroups = cgroups
        self._count = 0

    async def start(self, args: Sequence[str], memory_bytes: int) -> Launcher:
        """A launcher sent ``args``, its cgroup (if any) limited to ``memory_bytes`` and
        ``PIDS_MAX`` processes: the spare when there is one, else a new one.

        Raises ``ExecutorError`` when the sandbox cannot be started.
        """
        try:
            payload = args_payload(args)
            launcher = await self.take()
            if launcher.cgroup is not None:
                launcher.cgroup.set_limits(memory_bytes, PIDS_MAX)
            try:
                launcher.send(payload)
            except OSError:
                self.discard(launcher)
                raise
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"Could not start the sandbox: {exc}") from exc
        return launcher

    async def _new(self) -> Launcher:
        self._count += 1
        return await new_launcher(self._bwrap, self._cgroups, f"env-{self._count}")


async def new_launcher(bwrap: str, cgroups: CgroupTree | None, name: str, job: bool = False) -> Launcher:
    """A launcher in a fresh cgroup named after ``name`` (when there are cgroups); ``job``: a
    spare's, whose stdout is the pipe of ``Launcher.send_job``. Raises ``OSError``."""
    cgroup = None
    if cgroups is not None:
        cgroup = cgroups.create(f"{name}-{os.urandom(3).hex()}")
    try:
        return await _spawn(bwrap, cgroup, job)
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
