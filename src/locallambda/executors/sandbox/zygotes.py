"""Spare sandboxes for Python functions: a sandbox made ahead for a function that was cold-started,
a zygote (``executors/zygotes.py``) waiting in it (the sandbox executor's Python cold starts).

A sandbox's cold start was bwrap's namespaces and mounts, the supervisor's shell, then a fresh
interpreter importing awslambdaric: ~70 ms here, nearly all before the runtime's first ``/next``.
None of it depends on the invocation, but the mounts depend on the function (its code at
``/var/task``, its layers at ``/opt``, the size of its ``/tmp``). So after a Python function's cold
start, one sandbox is made for its next one: the same bwrap arguments but for the environment
(only the variables an interpreter reads when it starts), its supervisor started as ``spare``, its
runtime the zygote, which does its imports at once. At the next cold start the supervisor is sent
the zygote's job (``supervisor.job_order``: the command, the directory, every variable), and the
zygote becomes the runtime as it does in the local executor. A reset (a timeout, a crash) sends
the same job again: the runtime starts as a fresh zygote, in the same namespaces and ``/tmp``.

A spare is kept for the two functions cold-started last (their arguments are the key: the same
arguments make the same sandbox), replaced as soon as it is taken, and only where sandboxes have
cgroups (a spare's memory limit is set when it is taken, as a launcher's is). The key holds the
identity of the code and layer directories too: a directory deleted and made again under the same
name is another one, which a spare's mount would not show. Every spare is disposed of at ``close``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence

from locallambda.executors.cgroups import CgroupTree
from locallambda.executors.sandbox.args import args_payload
from locallambda.executors.sandbox.launcher import Launcher, new_launcher
from locallambda.executors.spares import SparePool
from locallambda.model.tasks import TaskScope

__all__ = ["KEPT", "SandboxZygotes", "identity"]

log = logging.getLogger(__name__)

KEPT = 2  # functions with a spare sandbox

Key = tuple[str, ...]


def identity(paths: Sequence[str]) -> tuple[str, ...]:
    """The device and inode of each directory of ``paths`` (``-`` for one that is not there).
    Blocking: a stat each."""
    out = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            out.append("-")
        else:
            out.append(f"{info.st_dev}:{info.st_ino}")
    return tuple(out)


class SandboxZygotes:
    """Spare sandboxes with a zygote waiting, for the ``KEPT`` functions cold-started last."""

    def __init__(self, bwrap: str, cgroups: CgroupTree, scope: TaskScope) -> None:
        self._bwrap = bwrap
        self._cgroups = cgroups
        self._scope = scope
        self._pools: OrderedDict[Key, SparePool[Launcher]] = OrderedDict()
        self._count = 0

    async def take(self, key: Key, args: Sequence[str]) -> Launcher | None:
        """A sandbox started with ``args`` (``key``: them and what else tells it apart), its
        zygote waiting; None the first time (one is made for the next cold start). Raises
        ``OSError`` when one cannot be started, ``ValueError`` for an argument holding a NUL."""
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return await pool.take()
        payload = args_payload(args)
        pool = self._pools[key] = SparePool(lambda: self._new(payload), self._scope.child("sandbox zygotes"), "sandbox")
        pool.refill()
        while len(self._pools) > KEPT:
            _, oldest = self._pools.popitem(last=False)
            self._scope.spawn(oldest.close(5.0), name="spare sandboxes of a function no longer kept")
        return None

    async def _new(self, payload: bytes) -> Launcher:
        self._count += 1
        launcher = await new_launcher(self._bwrap, self._cgroups, f"spare-{self._count}", job=True)
        try:
            launcher.send(payload)
        except OSError:
            launcher.kill()
            await launcher.dispose()
            raise
        return launcher

    def discard(self, launcher: Launcher) -> None:
        """A spare that could not be used: killed, reaped and its cgroup removed in the background."""
        launcher.kill()
        self._scope.spawn(launcher.dispose(), name=f"dispose of spare sandbox {launcher.proc.pid}")

    async def close(self, timeout_s: float) -> None:
        """Dispose of every spare (those being made too) and close the scope; each wait bounded
        by ``timeout_s``."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        if pools:
            await asyncio.gather(*(p.close(timeout_s) for p in pools))
        await self._scope.close(timeout_s)
