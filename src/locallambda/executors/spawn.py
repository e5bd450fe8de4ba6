"""Child processes started without forking the server: ``subprocess.Popen`` (``vfork`` on Linux)
watched on the event loop through a pidfd.

uvloop starts a subprocess with ``fork``: the kernel copies the server's page tables, and the
event loop waits meanwhile (7.2 ms at 338 MB resident, against 1.1 ms for ``Popen``'s ``vfork``,
measured here; the server is larger once moto is loaded). Spares are started after every cold
start, so that pause fell on whatever else the server was doing. ``spawn`` returns what the
executors use of ``asyncio.subprocess.Process``: ``pid``, ``returncode``, ``stdout`` (a
``StreamReader``, when asked for), ``wait()``, ``kill()``; the exit is noticed when the pidfd
becomes readable, and reaped then (only this child: ``waitpid`` of its pid).

Everything started here is a function's (a runtime, a gate, a zygote, a sandbox's launcher, and
so what they start in turn): it runs at ``FUNCTION_NICE``, a little below the server, so that
under load the woken runtimes do not take the core from the one event loop that serves them all
(measured with wrk, 6 rounds alternated on 2 cores: median 2,017 against 1,760 invokes/s at 8
connections, 1,697 against 1,521 at 32). Alone on the machine a function runs as fast as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

__all__ = ["FUNCTION_NICE", "Child", "Forked", "Spawned", "read_output", "spawn"]

FUNCTION_NICE = 5  # added to the server's niceness (nice(1)'s default is 10)


class _Output(asyncio.StreamReaderProtocol):
    """The child's output pipe: closed once it ends. uvloop keeps a read pipe open after EOF
    when the protocol says so (``StreamReaderProtocol`` does), and closes its descriptor when
    the transport is collected, while the pipe's file object (``Popen.stdout``) would close the
    same number again, by then perhaps another connection's."""

    def eof_received(self) -> bool:
        super().eof_received()
        return False  # the transport closes now, the file object with it


class _Exits:
    """A child whose exit settles ``_exited``: waiting for it, signalling it while it runs."""

    pid: int
    returncode: int | None
    _exited: asyncio.Future[int]

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Spawned(_Exits):
    """A child started by ``spawn``."""

    def __init__(self, popen: subprocess.Popen[bytes], stdout: asyncio.StreamReader | None) -> None:
        self._popen = popen  # kept: a dropped Popen would be reaped by subprocess's own cleanup
        self.pid = popen.pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        try:
            _, status = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere: its status is lost
            code = -signal.SIGKILL
        self.returncode = self._popen.returncode = code
        if not self._exited.done():
            self._exited.set_result(code)


async def spawn(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdin: int | IO[Any] | None,
    output: bool,
    start_new_session: bool = True,
    pass_fds: Sequence[int] = (),
    stdout: int | None = None,
) -> Spawned:
    """Start ``argv``; with ``output``, its stdout and stderr merged into one pipe read as
    ``stdout``. ``stdout``: a descriptor that is the child's stdout instead (the pipe is then its
    stderr alone). Raises ``OSError`` as ``Popen`` does."""
    own_stdout = stdout is not None
    # vfork and exec: what the event loop waits for is the child's exec, not a copy of the server.
    popen = subprocess.Popen(  # noqa: ASYNC220
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=stdin,
        stdout=stdout if stdout is not None else subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=(subprocess.PIPE if own_stdout else subprocess.STDOUT) if output else subprocess.DEVNULL,
        start_new_session=start_new_session,
        pass_fds=tuple(pass_fds),
    )
    with contextlib.suppress(OSError):  # already gone: its exit is noticed below as any other
        os.setpriority(os.PRIO_PROCESS, popen.pid, os.getpriority(os.PRIO_PROCESS, 0) + FUNCTION_NICE)
    reader: asyncio.StreamReader | None = None
    if output:
        pipe = popen.stderr if own_stdout else popen.stdout
        assert pipe is not None
        reader = await read_output(pipe)
    return Spawned(popen, reader)


async def read_output(pipe: IO[bytes]) -> asyncio.StreamReader:
    """A reader of a child's output pipe, on the running loop (the pipe closed at its end)."""
    reader = asyncio.StreamReader(limit=2**20)
    await asyncio.get_running_loop().connect_read_pipe(lambda: _Output(reader), pipe)
    return reader


class Forked(_Exits):
    """A child of another process of ours (a zygote fork server, ``forkserver.py``), which reaps it
    and reports its exit: what the executors use of a ``Spawned``."""

    def __init__(self, pid: int, stdout: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdout: asyncio.StreamReader | None = stdout
        self.returncode: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def exited(self, code: int) -> None:
        """Its parent reaped it: ``code`` as ``waitstatus_to_exitcode`` gives it (-N: signal N)."""
        if self.returncode is None:
            self.returncode = code
            self._exited.set_result(code)


Child = asyncio.subprocess.Process | Spawned | Forked  # what the executors hold of a started process
