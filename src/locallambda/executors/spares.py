"""Processes started before they are needed: each waits, in its cgroup, for what it is to run.

Entering a cgroup costs the kernel an RCU grace period (about 10 ms here), so the sandbox's bwrap
launchers and the local executor's gates are started ahead, one spare at a time: a cold start
takes the spare, hands it its input through a pipe and a new spare is made in the background.

- ``Waiting``: a started process blocked reading a pipe until ``send``; killed (its group) and
  reaped, its cgroup removed, when it is not used.
- ``SparePool``: one spare kept ready by a maker, replaced as soon as it is taken; every wait of
  ``close`` has a deadline.
- ``start_waiting``: the local executor's kind of spare (gates, zygotes) started in a fresh cgroup
  of its own, which it enters itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

from locallambda.executors.cgroups import CgroupTree, EnvCgroup, remove_cgroup
from locallambda.executors.spawn import Child, spawn
from locallambda.model.tasks import TaskScope

__all__ = ["DISPOSE_TIMEOUT_S", "SparePool", "Waiting", "start_waiting", "write_and_close"]

log = logging.getLogger(__name__)

# A killed process ends at once; this only bounds the wait should the kernel be slow.
DISPOSE_TIMEOUT_S = 5.0


class Waiting:
    """A process in its own session (and ``cgroup``, when given), blocked reading ``input_fd``."""

    what = "waiting process"  # how log lines name it

    def __init__(self, proc: Child, cgroup: EnvCgroup | None, input_fd: int) -> None:
        self.proc = proc
        self.cgroup = cgroup
        self._input_fd: int | None = input_fd

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    @property
    def ready(self) -> bool:
        """Whether it would start its input at once (a zygote may still be importing)."""
        return True

    def send(self, data: bytes) -> None:
        """Hand the process its input and let it go (once). Raises ``OSError`` when it is gone."""
        fd, self._input_fd = self._input_fd, None
        assert fd is not None, f"a {self.what} is sent its input once"
        write_and_close(fd, data)

    def kill(self) -> None:
        """Kill it unused (its group, and close its pipe). Idempotent, never raises."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._input_fd is not None:
            os.close(self._input_fd)
            self._input_fd = None

    async def dispose(self, timeout_s: float = DISPOSE_TIMEOUT_S) -> None:
        """Kill it unused, wait for it to end (at most ``timeout_s`` seconds), remove its cgroup."""
        self.kill()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("%s %d did not end within %.0fs", self.what, self.proc.pid, timeout_s)
            return
        if self.cgroup is not None:
            await remove_cgroup(self.cgroup)


def write_and_close(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, then close it (whatever happened). Raises ``OSError``
    (``BlockingIOError`` from a non-blocking pipe that is full)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


W = TypeVar("W", bound=Waiting)


class SparePool(Generic[W]):
    """One spare made by ``make`` (which raises ``OSError`` when it cannot), kept ready."""

    def __init__(
        self,
        make: Callable[[], Awaitable[W]],
        scope: TaskScope,
        what: str,
        make_now: Callable[[], Awaitable[W]] | None = None,
    ) -> None:
        """``make_now``: how ``take`` makes one when no spare is ready (``make`` when not given)."""
        self._make = make
        self._make_now = make_now or make
        self._scope = scope
        self._what = what
        self._spare: W | None = None
        self._refilling: asyncio.Task[None] | None = None
        self._closing = False

    async def take(self) -> W:
        """The spare when there is one alive, else a new one; a spare is made for the next.
        Raises ``OSError``."""
        spare, self._spare = self._spare, None
        if spare is not None and not spare.alive:
            self.discard(spare)
            spare = None
        if spare is not None and not spare.ready and self._make_now is not self._make:
            self._spare = spare  # kept for the next one; this one is made now
            return await self._make_now()
        if not self._closing:
            # The next one enters its cgroup while this one starts.
            asyncio.get_running_loop().call_soon(self.refill)
        return spare if spare is not None else await self._make_now()

    def refill(self) -> None:
        """Make a spare in the background, unless there is one, one is coming, or the pool closes."""
        if self._spare is not None or self._closing:
            return
        if self._refilling is not None and not self._refilling.done():
            return
        self._refilling = self._scope.spawn(self._refill(), name=f"spare {self._what}")

    async def _refill(self) -> None:
        try:
            spare = await self._make()
        except OSError as exc:
            log.warning("no spare %s: %s", self._what, exc)
            return
        if self._closing:
            await spare.dispose()
            return
        self._spare = spare

    def discard(self, spare: W) -> None:
        """Kill one that will not be used; reap it and remove its cgroup in the background."""
        spare.kill()
        if not self._closing:
            self._scope.spawn(spare.dispose(), name=f"dispose of {self._what} {spare.proc.pid}")

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


async def start_waiting(
    tree: CgroupTree,
    name: str,
    argv: Callable[[EnvCgroup], Sequence[str]],
    env: Mapping[str, str],
    pass_fds: Sequence[int] = (),
) -> tuple[Child, EnvCgroup, int]:
    """A process started in ``/`` with exactly ``env``, given ``argv(cgroup)`` for a fresh cgroup
    of ``tree`` named after ``name`` (the process enters it itself, through its ``procs_files``),
    blocked reading its input from a pipe: the process, its cgroup and the pipe's write end.

    Raises ``OSError`` (``ENOSPC`` when no cgroup can be made); the cgroup and the pipe are
    removed then (a process already started reads EOF and exits).
    """
    cgroup = tree.create(f"{name}-{os.urandom(3).hex()}")
    if cgroup is None:
        raise OSError(errno.ENOSPC, "no cgroup could be made")
    try:
        read_fd, write_fd = os.pipe()
    except BaseException:
        cgroup.remove()
        raise
    try:
        proc = await spawn(argv(cgroup), cwd="/", env=dict(env), stdin=read_fd, output=True, pass_fds=pass_fds)
    except BaseException:  # OSError, or cancelled
        os.close(write_fd)
        cgroup.remove()
        raise
    finally:
        os.close(read_fd)
    return proc, cgroup, write_fd
