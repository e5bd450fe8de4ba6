"""The memory limit of a sandbox: what counts, where it is read, and the guard that enforces it.

MemorySize limits the function's anonymous memory, which is what AWS's limit amounts to (its
``/tmp`` is a disk and does not count). Where it is read (``AnonMemory``): the sandbox's cgroup
(``anon`` of ``memory.stat`` on v2, ``total_rss`` on v1) when there is one; otherwise the sum of
``RssAnon`` of the processes of the sandbox's pid namespace, read through that namespace's own
``/proc``. The cgroup's hard limit (``cgroup_memory_limit``) is MemorySize + EphemeralStorage:
tmpfs pages are charged to the cgroup that writes them, so a full ``/tmp`` must fit beside the
memory; it is the kernel's backstop, the guard the limit.

``MemoryGuard`` is one timer for every running sandbox, in a task scope of its own: every 50 ms
it asks each watched sandbox to sample itself (a sandbox past MemorySize stops itself, and the
invocation ends with ``Runtime.OutOfMemory``). The reads are small files of ``/proc`` and
``/sys/fs/cgroup``, done on the event loop as a ``ps`` would.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Protocol

from locallambda.executors.cgroups import EnvCgroup
from locallambda.model.tasks import TaskScope

__all__ = ["GUARD_INTERVAL_S", "AnonMemory", "MemoryGuard", "Sampled", "cgroup_memory_limit"]

log = logging.getLogger(__name__)

GUARD_INTERVAL_S = 0.05
_MIB = 1024 * 1024


def cgroup_memory_limit(memory_mb: int, ephemeral_mb: int) -> int:
    """The hard limit of a sandbox's cgroup, in bytes: its memory and a full ``/tmp``."""
    # tmpfs pages are charged to the writer: /tmp must fit beside the function's memory.
    return (memory_mb + ephemeral_mb) * _MIB


def _proc_anon_bytes(init_pid: int) -> int | None:
    """Sum of RssAnon of the processes of a pid namespace, read through its own /proc."""
    try:
        # Until bwrap has switched to the sandbox's root, /proc/<pid>/root/proc is the host's.
        if os.path.samestat(os.stat(f"/proc/{init_pid}/root"), os.stat("/")):
            return None
        root = f"/proc/{init_pid}/root/proc"
        names = [n for n in os.listdir(root) if n.isdigit()]
    except OSError:
        return None
    total = 0
    for name in names:
        try:
            with open(f"{root}/{name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"RssAnon:"):  # "RssAnon:\t    1234 kB"
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def _child_of(pid: int) -> int | None:
    """The first process whose parent is ``pid`` (the sandbox's pid 1 for a bwrap pid)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid).encode():
            return int(name)
    return None


class AnonMemory:
    """The anonymous memory of one sandbox: from its cgroup, or from its pid namespace's /proc."""

    def __init__(self, cgroup: EnvCgroup | None, bwrap_pid: int) -> None:
        self._cgroup = cgroup
        self._bwrap_pid = bwrap_pid
        self._ns_init: int | None = None

    def read(self) -> int | None:
        """Bytes in use now; None while it cannot be told (the sandbox is still being built)."""
        if self._cgroup is not None:
            return self._cgroup.anon_bytes()
        if self._ns_init is None:
            self._ns_init = _child_of(self._bwrap_pid)
            if self._ns_init is None:
                return None
        return _proc_anon_bytes(self._ns_init)


class Sampled(Protocol):
    """What the guard watches: a sandbox that samples its memory (and stops itself past its limit)."""

    def sample(self) -> None: ...


class MemoryGuard:
    """One timer for every running sandbox: samples each one's memory every 50 ms.

    The timer runs in ``scope`` while something is watched; ``close`` stops it (with a deadline).
    """

    def __init__(self, scope: TaskScope) -> None:
        self._scope = scope
        self._watched: set[Sampled] = set()
        self._timer: asyncio.Task[None] | None = None

    def watch(self, sandbox: Sampled) -> None:
        """Sample ``sandbox`` from now on. Raises ``RuntimeError`` once the guard is closed."""
        self._watched.add(sandbox)
        if self._timer is None or self._timer.done():
            self._timer = self._scope.spawn(self._run(), name="sandbox memory guard")

    def unwatch(self, sandbox: Sampled) -> None:
        self._watched.discard(sandbox)

    async def _run(self) -> None:
        while self._watched:
            for sandbox in list(self._watched):
                sandbox.sample()
            await asyncio.sleep(GUARD_INTERVAL_S)

    async def close(self, timeout_s: float) -> None:
        """Stop watching; the timer ends within ``timeout_s`` seconds."""
        self._watched.clear()
        await self._scope.close(timeout_s)
