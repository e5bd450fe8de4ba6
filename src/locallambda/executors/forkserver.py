"""Zygote fork servers: an initialised zygote that forks zygotes for a burst (``zygotes.py``).

A zygote started from scratch is an interpreter's start and awslambdaric's imports: ~40 ms of
CPU here. One spare is kept per pool, so cold starts that came faster than that (a burst of
concurrent invocations, a client invoking with keep-alive 0 in a loop) each waited for a zygote
still importing, or started one more. The first cold start that finds no spare ready starts the
pool's fork server (the ``fork`` mode of the zygote program), and it and every such cold start
for the next second (``zygotes.BURST_S``) take a fork of it instead, as does the spare made
after them: the imports were done once, and a fork costs ~1 ms; the child enters its own cgroup,
then waits for its job exactly as a zygote started from scratch does. A forked child shares the
fork server's interpreter state as it was after its imports, which is what a new zygote's would
be, but for the per-process secret of ``hash()`` of strings (set when an interpreter starts: the
children of one fork server share it, as processes started with the same ``PYTHONHASHSEED`` do).
Outside bursts, spares are still started from scratch: a fork's first moments copy the pages it
writes, ~2.5 ms more of Init Duration here.

The server's end (``ForkServer``): a ``SOCK_SEQPACKET`` socket that is the fork server's stdin.
Each request carries the child's stdin (the read end of its job pipe) and its output pipe, and
names the cgroup it is to enter; the answer is its pid (``forked <pid>``), and when the fork
server has reaped it, its exit (``exit <pid> <code>``), which ends its ``spawn.Forked``. A fork
server whose socket ends (it died, or was killed) fails what waits for it, and the children it
still had are killed: their exits could not be known. ``close`` ends it (it exits at the end of
its input) and removes its cgroup; the children are the pools' to dispose of.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Sequence

from locallambda.executors.cgroups import CgroupTree, EnvCgroup, remove_cgroup
from locallambda.executors.spawn import Forked, Spawned, read_output, spawn

__all__ = ["FORK_TIMEOUT_S", "ForkServer"]

log = logging.getLogger(__name__)

# A fork server's first answer waits for its imports (tens of milliseconds; seconds on a machine
# under load): past this, the cold start goes on without it.
FORK_TIMEOUT_S = 10.0


class ForkServer:
    """The server's end of a fork server; made by ``start``, on the event loop."""

    def __init__(self, proc: Spawned, sock: socket.socket, cgroup: EnvCgroup) -> None:
        self.proc = proc
        self._sock: socket.socket | None = sock
        self._cgroup = cgroup
        self._loop = asyncio.get_running_loop()
        self._waiting: deque[asyncio.Future[int]] = deque()
        self._children: dict[int, Forked] = {}
        self._early: dict[int, int] = {}  # exits reported before their pid was taken
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._read)
        self._said = asyncio.ensure_future(self._log_output())

    @classmethod
    async def start(cls, tree: CgroupTree, name: str, argv: Sequence[str], env: dict[str, str]) -> ForkServer:
        """Start the fork server ``argv`` (its cgroup.procs files appended) with exactly ``env``,
        in a fresh cgroup of ``tree``. Raises ``OSError``."""
        cgroup = tree.create(f"{name}-{os.urandom(3).hex()}")
        if cgroup is None:
            raise OSError("no cgroup could be made")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await spawn([*argv, *cgroup.procs_files], cwd="/", env=env, stdin=theirs.fileno(), output=True)
        except BaseException:
            ours.close()
            cgroup.remove()
            raise
        finally:
            theirs.close()
        return cls(proc, ours, cgroup)

    @property
    def alive(self) -> bool:
        return self._sock is not None

    async def fork(self, cgroup: EnvCgroup) -> tuple[Forked, int]:
        """A child that enters ``cgroup`` and reads its job from a pipe: it, and the pipe's write
        end. Raises ``OSError`` (the pipes are closed then)."""
        sock = self._sock
        if sock is None:
            raise ConnectionResetError("the zygote fork server has ended")
        job_read, job_write = os.pipe()
        out_read, out_write = os.pipe()
        try:
            request = "\n".join(["fork", *cgroup.procs_files]).encode()
            sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [job_read, out_write]))])
            answer = self._loop.create_future()
            self._waiting.append(answer)
            try:
                pid = await asyncio.wait_for(asyncio.shield(answer), FORK_TIMEOUT_S)
            except TimeoutError as exc:
                raise TimeoutError("the zygote fork server did not answer") from exc
        except BaseException:
            os.close(job_write)
            os.close(out_read)
            raise
        finally:
            os.close(job_read)
            os.close(out_write)
        child = Forked(pid, await read_output(os.fdopen(out_read, "rb", buffering=0)))
        self._children[pid] = child
        if pid in self._early:
            self._ended(child, self._early.pop(pid))
        return child, job_write

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            message = sock.recv(256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message = b""
        if not message:
            self.close()
            return
        kind, _, rest = message.decode("ascii", "replace").partition(" ")
        if kind == "forked" and self._waiting:
            answer = self._waiting.popleft()
            if not answer.done():
                answer.set_result(int(rest))
            # else: the caller gave up (its timeout): the child reads EOF and exits
        elif kind == "refused" and self._waiting:
            answer = self._waiting.popleft()
            if not answer.done():
                answer.set_exception(OSError("the zygote fork server refused a request"))
        elif kind == "exit":
            pid_text, _, code_text = rest.partition(" ")
            pid, code = int(pid_text), int(code_text)
            child = self._children.get(pid)
            if child is None:
                self._early[pid] = code
            else:
                self._ended(child, code)

    def _ended(self, child: Forked, code: int) -> None:
        self._children.pop(child.pid, None)
        child.exited(code)

    async def _log_output(self) -> None:
        stream = self.proc.stdout
        if stream is None:
            return
        while line := await stream.readline():
            log.warning("zygote fork server %d: %s", self.proc.pid, line.decode(errors="replace").rstrip())

    def close(self) -> None:
        """End the fork server (it exits at the end of its input); fail what waits for it; kill the
        children it still has (their exits cannot be known now). Idempotent, never raises."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(Exception):  # the loop may be closed already
            self._loop.remove_reader(sock.fileno())
        sock.close()
        while self._waiting:
            answer = self._waiting.popleft()
            if not answer.done():
                answer.set_exception(ConnectionResetError("the zygote fork server has ended"))
        for child in list(self._children.values()):
            child.kill()
            self._ended(child, -9)

    async def dispose(self, timeout_s: float) -> None:
        """``close``, then wait (at most ``timeout_s``) for it to end and remove its cgroup."""
        self.close()
        self.proc.kill()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("zygote fork server %d did not end within %.0fs", self.proc.pid, timeout_s)
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._said, timeout_s)
        await remove_cgroup(self._cgroup)
