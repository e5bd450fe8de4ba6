"""What holds the processes of a local environment, however they detach (the process executor).

The process executor starts a runtime in a session of its own and kills the session's group
when the environment stops; a process that leaves the group (``setsid``, ``setpgid``, a double
fork of its own) would outlive it, and everything would outlive a server killed with SIGKILL.
``Containment`` starts each runtime and holds its processes by the best means the host allows:

1. **A cgroup per environment** (``cgroups.CgroupTree.tracking``), wherever a cgroup hierarchy is
   writable (root, or a delegated subtree; no controller or limit is needed). The runtime starts
   through a gate already waiting in a fresh cgroup (``gates.py``), so it is inside before it can
   fork, and so is everything it ever starts. When the environment ends (keep-alive expiry,
   update, delete, shutdown, the runtime's death) everything in the cgroup is killed and the
   cgroup removed; what a server killed with SIGKILL left in its tree is killed at the next
   start (the discovery's sweep, begun in the background by ``open``).
2. **The server as subreaper** (``orphans.py``) where no cgroup is usable: the runtime is spawned
   directly; what it detaches is reparented to the server, and killed when the environment ends
   if it still carries the environment's variables. Not after a SIGKILL of the server.
3. Neither (not Linux): only the session's group is killed.

The log says once which holds and what is then not guaranteed. Nothing here fails a function: an
environment that cannot have a gate (no cgroup left, a variable the shell cannot export) is
spawned directly and held as in 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from locallambda.executors.cgroups import CgroupTree, EnvCgroup, remove_cgroup
from locallambda.executors.gates import GatePool, exec_problem, gate_script
from locallambda.executors.orphans import become_subreaper, collect
from locallambda.executors.spawn import Child, spawn
from locallambda.executors.zygotes import Zygotes, job, zygote_shape
from locallambda.model.tasks import TaskScope

__all__ = ["MARKERS", "Containment", "Hold"]

log = logging.getLogger(__name__)

# Variables whose values belong to one environment alone: a process whose environment holds
# all of them was started by it (how the subreaper tells; the credentials: invoke/envvars.py).
MARKERS = ("AWS_LAMBDA_RUNTIME_API", "AWS_ACCESS_KEY_ID")


class Hold:
    """What holds one environment's processes: its cgroup, or its markers for the subreaper, or
    nothing. ``kill`` any time; ``release`` once the runtime has ended."""

    def __init__(self, cgroup: EnvCgroup | None, markers: tuple[str, ...], released: Callable[[Hold], None]) -> None:
        self.cgroup = cgroup
        self._markers = markers
        self._released = released
        self._done = False

    def kill(self) -> None:
        """Kill everything in the cgroup now (the subreaper's part waits for ``release``).
        Idempotent, never raises."""
        if self.cgroup is not None:
            self.cgroup.kill_all()

    async def release(self) -> None:
        """Kill what is left of the environment and remove its cgroup. Once; never raises."""
        if self._done:
            return
        self._done = True
        try:
            if self.cgroup is not None:
                self.cgroup.kill_all()
                await remove_cgroup(self.cgroup)
            elif self._markers:
                await asyncio.to_thread(collect, self._markers)
        finally:
            self._released(self)


async def _spawn(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Child:
    """A child in a session of its own (so that killing its group kills what it started), its
    stdout and stderr merged into one pipe. Raises ``OSError`` when it cannot be executed."""
    return await spawn(argv, cwd=str(cwd), env=env, stdin=subprocess.DEVNULL, output=True)


class Containment:
    """How this server starts and holds its local environments (see the module's docstring)."""

    def __init__(self, tasks: TaskScope, *, use_cgroups: bool = True) -> None:
        """``use_cgroups=False`` skips cgroups even where they are usable (tests use it to prove
        the subreaper)."""
        self._tasks = tasks
        self._use_cgroups = use_cgroups
        self._ready: asyncio.Task[None] | None = None
        self._tree: CgroupTree | None = None
        self._gates: GatePool | None = None
        self._zygotes: Zygotes | None = None
        self._without = "no cgroup"  # why there is no tree, when there is none
        self._subreaper: bool | None = None
        self._holds: set[Hold] = set()
        self._closing = False

    def open(self) -> None:
        """Find (or make) the cgroup tree in the background; this kills what servers killed
        earlier left in theirs. On the event loop; does not block."""
        if self._ready is None and not self._closing:
            self._ready = self._tasks.spawn(self._discover(), name="cgroups of local environments")

    async def _discover(self) -> None:
        if not self._use_cgroups:
            self._without = "cgroups not used"
            return
        try:
            tree, how = await asyncio.to_thread(CgroupTree.tracking)
        except Exception as exc:  # a host surprise means no cgroups, never a failed function
            tree, how = None, f"cgroups could not be set up: {exc}"
        if tree is None:
            self._without = how
            return
        if self._closing:
            await asyncio.to_thread(tree.close)
            return
        log.info(
            "local environments: each in a cgroup (%s); everything a function starts is killed with"
            " its environment, and what a killed server left is killed at the next start",
            how,
        )
        self._tree = tree
        self._gates = GatePool(tree, self._tasks.child("gates"))
        self._zygotes = Zygotes(tree, self._tasks.child("zygotes"))

    async def spawn(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], python_site: str | None = None
    ) -> tuple[Child, Hold]:
        """Start ``argv`` in ``cwd`` with exactly ``env`` (the environment's variables among
        them), its stdout and stderr merged into one pipe, and what holds it. ``python_site``:
        ``argv`` is the Python bootstrap's command and this is where its awslambdaric is; a
        zygote (``zygotes.py``) becomes it when one is ready.

        Raises ``OSError`` when ``argv`` cannot be executed (its errno as ``execve`` would give
        it), ``ValueError`` for a NUL in an argument or a variable.
        """
        self.open()
        if self._ready is not None:
            await asyncio.shield(self._ready)
        gates = self._gates
        if gates is not None and not self._closing:
            code = exec_problem(argv[0], env.get("PATH"), cwd)
            if code is not None:
                raise OSError(code, os.strerror(code))
            zygotes = self._zygotes
            if python_site is not None and zygotes is not None and zygote_shape(argv):
                made = await self._from_zygote(zygotes, argv, cwd, env, python_site)
                if made is not None:
                    return made
            script = gate_script(argv, str(cwd), env)
            if script is None:
                log.warning("a local environment starts without its cgroup: a variable the shell cannot export")
            else:
                try:
                    gate = await gates.take()
                    try:
                        gate.send(script)
                    except OSError:
                        gates.discard(gate)
                        raise
                except OSError as exc:
                    log.warning("a local environment starts without its cgroup: %s", exc)
                else:
                    return gate.proc, self._hold(gate.cgroup, ())
        proc = await _spawn(argv, cwd, env)
        markers = tuple(f"{k}={env[k]}" for k in MARKERS if k in env)
        return proc, self._hold(None, markers if self._can_reap() else ())

    async def _from_zygote(
        self, zygotes: Zygotes, argv: Sequence[str], cwd: Path, env: Mapping[str, str], site: str
    ) -> tuple[Child, Hold] | None:
        """The command started by a zygote; None when there is none yet (or it cannot be sent)."""
        data = job(argv, str(cwd), env)
        try:
            zygote = await zygotes.take(argv, site, env)
        except OSError as exc:
            log.warning("no zygote for a local environment: %s", exc)
            return None
        if zygote is None:
            return None
        try:
            zygote.send(data)
        except OSError:
            zygotes.discard(zygote)
            return None
        return zygote.proc, self._hold(zygote.cgroup, ())

    def _hold(self, cgroup: EnvCgroup | None, markers: tuple[str, ...]) -> Hold:
        made = Hold(cgroup, markers, self._holds.discard)
        self._holds.add(made)
        return made

    def _can_reap(self) -> bool:
        """Make the server a subreaper the first time it is needed; False where it cannot be."""
        if self._subreaper is None:
            self._subreaper = become_subreaper()
            if self._subreaper:
                log.info(
                    "local environments: %s; the server adopts what a function detaches and kills it with"
                    " its environment, unless it changed its environment variables; after a SIGKILL of the"
                    " server, detached processes are left running",
                    self._without,
                )
            else:
                log.warning(
                    "local environments: %s and no subreaper here: processes a function detaches from its"
                    " session (setsid, setpgid) outlive its environment and the server",
                    self._without,
                )
        return self._subreaper

    async def close(self, timeout_s: float) -> None:
        """Release the holds still held, dispose of the spare gate, then kill what is left in the
        tree and remove it; each wait bounded by ``timeout_s``. Called once, after every
        environment was stopped."""
        self._closing = True
        ready = self._ready
        if ready is not None and not ready.done():
            await asyncio.wait([ready], timeout=timeout_s)
        holds = [asyncio.ensure_future(h.release()) for h in list(self._holds)]
        if holds:
            await asyncio.wait(holds, timeout=timeout_s)
        if self._gates is not None:
            await self._gates.close(timeout_s)
        if self._zygotes is not None:
            await self._zygotes.close(timeout_s)
        tree, self._tree = self._tree, None
        if tree is not None:
            await asyncio.to_thread(tree.close)
