"""A running sandbox, as the rest of the server sees it: a ``RuntimeProcess``.

It is the bwrap process (a ``ChildProcess``: its output pumped to the environment's sink), the
sandbox's cgroup when there is one, and its memory limit (MemorySize). What it adds to the
process executor's child:

- **Memory.** It samples its anonymous memory when the guard asks (``memory.py``); past
  MemorySize it stops itself. A kill by the guard or by the kernel (the cgroup's hard limit,
  counted in ``memory.events``) makes ``out_of_memory`` true: the invocation then ends with
  ``Runtime.OutOfMemory``. ``max_memory_mb`` is the peak of the samples (REPORT's Max Memory
  Used).
- **Exit status.** bwrap exits with 128+N when the runtime was killed by signal N; that is
  reported as the signal, as the process executor does (``Runtime.ExitError`` "signal: killed").
- **Cleanup.** Once it has ended, every process left in its cgroup is killed and the cgroup
  removed (within 1 s).
"""

from __future__ import annotations

import logging
import time

from locallambda.executors.base import RuntimeProcess
from locallambda.executors.cgroups import EnvCgroup, remove_cgroup
from locallambda.executors.process import ChildProcess
from locallambda.executors.sandbox.memory import AnonMemory, MemoryGuard

__all__ = ["SandboxProcess"]

log = logging.getLogger(__name__)

# Samples older than this are refreshed when the peak is asked for (warm invokes in a row
# should not each pay a read).
_FRESH_S = 0.1


class SandboxProcess(RuntimeProcess):
    """A running sandbox: the bwrap process (a ``ChildProcess``), its cgroup, its memory limit."""

    def __init__(self, child: ChildProcess, cgroup: EnvCgroup | None, memory_limit: int, guard: MemoryGuard) -> None:
        self._child = child
        self._cgroup = cgroup
        self._anon = AnonMemory(cgroup, child.pid)
        self._limit = memory_limit
        self._guard = guard
        self._peak = 0
        self._sampled_at = 0.0
        self._oom = False
        self._ended = False
        guard.watch(self)

    @property
    def pid(self) -> int:
        return self._child.pid

    def sample(self) -> None:
        """Record the anonymous memory in use; past MemorySize, stop the sandbox as AWS does
        (the invocation then ends with Runtime.OutOfMemory)."""
        if self._ended:
            return
        self._sampled_at = time.monotonic()
        anon = self._anon.read()
        if anon is None:
            return
        self._peak = max(self._peak, anon)
        if anon > self._limit:
            self._oom = True
            self.kill()

    async def wait(self) -> int:
        code = await self._child.wait()
        self._ended = True
        self._guard.unwatch(self)
        if self._cgroup is not None:
            if self._cgroup.oom_kills() > 0:
                self._oom = True
            self._cgroup.kill_all()
            await remove_cgroup(self._cgroup)
        # bwrap exits with 128+N when the runtime was killed by signal N: report the signal,
        # as the process executor does (Runtime.ExitError "signal: killed").
        if 128 < code < 160:
            code = -(code - 128)
        return code

    def kill(self) -> None:
        # bwrap's pid 1 dies with bwrap (--die-with-parent), and the kernel then kills every
        # process of the pid namespace; the cgroup catches anything that would escape.
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
