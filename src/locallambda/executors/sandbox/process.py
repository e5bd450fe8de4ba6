"""A running sandbox, as the rest of the server sees it: a ``RuntimeProcess``.

It is the bwrap process (a ``ChildProcess``: its output pumped to the environment's sink), the
supervisor inside it that starts the runtime (``supervisor.py``), the sandbox's cgroup when
there is one, and its memory limit (MemorySize). What it adds to the process executor's child:

- **Starts of the runtime.** ``wait`` follows the runtime's current start, which ends when the
  supervisor says the runtime's command ended, or when the sandbox does. ``reset`` has the
  supervisor kill every process of the sandbox but itself (the runtime, what it started, the
  extensions); ``restart`` then has it start the runtime again, in the same namespaces: the
  private ``/tmp`` (a tmpfs of the sandbox's mount namespace), the cgroup and its limits stay,
  as AWS keeps ``/tmp`` across a reset (lambda-runtime-environment.html, "Failures during the
  invoke phase").
- **Memory.** It samples its anonymous memory when the guard asks (``memory.py``); past
  MemorySize it has the runtime stopped (a reset). A kill by the guard or by the kernel (the
  cgroup's hard limit, counted in ``memory.events``) makes ``out_of_memory`` true for that start:
  the invocation then ends with ``Runtime.OutOfMemory``, and AWS resets the environment as after
  any crash. ``max_memory_mb`` is the peak of the samples since the runtime's last start.
- **Exit status.** A runtime killed by signal N ends with 128+N (the shell's and bwrap's
  convention); that is reported as the signal, as the process executor does
  (``Runtime.ExitError`` "signal: killed").
- **Cleanup.** Once the sandbox has ended, every process left in its cgroup is killed and the
  cgroup removed (within 1 s); the supervisor's socket is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from locallambda.executors.base import RuntimeProcess
from locallambda.executors.cgroups import EnvCgroup, remove_cgroup
from locallambda.executors.process import ChildProcess
from locallambda.executors.sandbox.memory import AnonMemory, MemoryGuard
from locallambda.executors.sandbox.supervisor import Supervisor
from locallambda.model.tasks import TaskScope

__all__ = ["SandboxProcess"]

log = logging.getLogger(__name__)

# Samples older than this are refreshed when the peak is asked for (warm invokes in a row
# should not each pay a read).
_FRESH_S = 0.1
_KILLED = -9
_SIGNAL_BASE = 128


def _status(code: int) -> int:
    # 128+N when the runtime was killed by signal N: report the signal, as the process executor
    # does (Runtime.ExitError "signal: killed").
    return -(code - _SIGNAL_BASE) if _SIGNAL_BASE < code < _SIGNAL_BASE + 32 else code


class _Start:
    """One start of the runtime: its end (its status) and the end of the ``stop`` sent for it."""

    __slots__ = ("ended", "oom_kills", "stop_sent", "stopped")

    def __init__(self, oom_kills: int) -> None:
        loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[int] = loop.create_future()
        self.stopped: asyncio.Future[None] = loop.create_future()
        self.stop_sent = False
        self.oom_kills = oom_kills  # the cgroup's count when it started

    def end(self, code: int) -> None:
        if not self.ended.done():
            self.ended.set_result(code)

    def settle(self, code: int) -> None:
        """Its processes are gone (stopped, or the sandbox ended)."""
        self.end(code)
        if not self.stopped.done():
            self.stopped.set_result(None)


class SandboxProcess(RuntimeProcess):
    """A running sandbox: the bwrap process (a ``ChildProcess``), the supervisor's socket, its
    cgroup, its memory limit. Made on the event loop; ``tasks`` holds the watch of its end."""

    def __init__(
        self,
        child: ChildProcess,
        supervisor: Supervisor,
        cgroup: EnvCgroup | None,
        memory_limit: int,
        guard: MemoryGuard,
        tasks: TaskScope,
    ) -> None:
        self._child = child
        self._supervisor = supervisor
        self._cgroup = cgroup
        self._anon = AnonMemory(cgroup, child.pid)
        self._limit = memory_limit
        self._guard = guard
        self._peak = 0
        self._sampled_at = 0.0
        self._oom = False
        self._ended = False
        self._killed = False
        self._start = _Start(0)  # a fresh cgroup: no kill counted yet
        supervisor.attach(self._said)
        self._gone = tasks.spawn(self._watch(), name=f"sandbox {child.pid}")
        guard.watch(self)

    @property
    def pid(self) -> int:
        return self._child.pid

    def _said(self, kind: str, value: int | None) -> None:
        """A line of the supervisor's (``supervisor.py``)."""
        start = self._start
        if kind == "exit" and value is not None:
            self._count_oom_kills(start)
            start.end(_status(value))
        elif kind == "stopped":
            start.settle(_KILLED)

    def _count_oom_kills(self, start: _Start) -> None:
        if self._cgroup is not None and self._cgroup.oom_kills() > start.oom_kills:
            self._oom = True

    async def _watch(self) -> None:
        """The sandbox's end: its cgroup emptied and removed, the runtime's start ended."""
        code = await self._child.wait()
        self._ended = True
        self._guard.unwatch(self)
        self._supervisor.close()
        if self._cgroup is not None:
            self._count_oom_kills(self._start)
            self._cgroup.kill_all()
            await remove_cgroup(self._cgroup)
        self._start.settle(_KILLED if self._killed else _status(code))

    def sample(self) -> None:
        """Record the anonymous memory in use; past MemorySize, stop the runtime as AWS does
        (the invocation then ends with Runtime.OutOfMemory)."""
        if self._ended:
            return
        self._sampled_at = time.monotonic()
        anon = self._anon.read()
        if anon is None:
            return
        self._peak = max(self._peak, anon)
        if anon > self._limit and not self._start.stop_sent:
            self._oom = True
            self.reset()

    async def wait(self) -> int:
        return await asyncio.shield(self._start.ended)  # after kill: when the sandbox is gone

    def reset(self) -> None:
        start = self._start
        if start.stop_sent or self._ended or self._killed:
            return
        start.stop_sent = True
        try:
            self._supervisor.send("stop")
        except OSError as exc:
            log.debug("sandbox %d: no supervisor to stop the runtime (%s)", self.pid, exc)
            self.kill()

    async def stopped(self) -> None:
        if self._killed:
            await asyncio.shield(self._gone)  # the sandbox's end, its cgroup removed
        else:
            await asyncio.shield(self._start.stopped)  # the supervisor's "stopped"

    async def restart(self) -> bool:
        if self._ended or self._killed or not self._start.stopped.done():
            return False
        self._start = _Start(self._cgroup.oom_kills() if self._cgroup is not None else 0)
        self._oom = False
        self._peak = 0
        try:
            self._supervisor.start()
        except OSError:
            self.kill()
            return False
        return True

    def kill(self) -> None:
        # bwrap's pid 1 dies with bwrap (--die-with-parent), and the kernel then kills every
        # process of the pid namespace; the cgroup catches anything that would escape.
        self._killed = True
        self._guard.unwatch(self)
        self._child.kill()
        if self._cgroup is not None:
            self._cgroup.kill_all()

    def max_memory_mb(self) -> int | None:
        # The guard's samples, refreshed here when older than 100 ms.
        if time.monotonic() - self._sampled_at > _FRESH_S:
            self.sample()
        return -(-self._peak // (1024 * 1024)) if self._peak else None

    def out_of_memory(self) -> bool:
        return self._oom
