"""The server as a subreaper: what a local environment detached, found and killed without cgroups.

Where no cgroup can hold an environment's processes, the server makes itself a child subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4+, no privilege needed; through ctypes, not a
``preexec_fn``, which would make every spawn a full fork). A process whose parent dies is then
reparented to the server rather than to init, so whatever a runtime detached (``setsid``,
``setpgid``, a double fork) ends up a child of the server once its own parents are gone.

``collect`` runs when an environment has ended: it kills the server's children whose environment
holds the environment's markers (``AWS_LAMBDA_RUNTIME_API`` and the credentials AWS gives each
environment, both of this environment alone), waits for each, and goes on while killing them
hands the server more. It also reaps the zombies of orphans that ended by themselves and were
never in a session of their own (nobody else waits for those).

What this cannot guarantee, and the executor's log says once: a process that cleared or replaced
its environment variables is not recognised; one adopted by a subreaper of the function's own is
out of reach; a detached process that ends by itself in a session of its own stays a zombie until
the server exits; and a server killed with SIGKILL leaves its environments' detached processes
running (they go to init, and nothing names them any more).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

__all__ = ["COLLECT_TIMEOUT_S", "become_subreaper", "collect"]

log = logging.getLogger(__name__)

# How long ``collect`` goes on killing and waiting (a process in uninterruptible sleep cannot die).
COLLECT_TIMEOUT_S = 2.0
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants; False where that cannot be done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        return False
    if done != 0:
        log.debug("prctl(PR_SET_CHILD_SUBREAPER): %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def _children(parent: int) -> list[tuple[int, str, int]]:
    """(pid, state, session id) of every child of ``parent``."""
    found: list[tuple[int, str, int]] = []
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return found
    for name in names:
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            # state ppid pgrp session ... after the command name, which may hold spaces and ')'
            fields = stat[stat.rfind(b")") + 2 :].split()
            if int(fields[1]) == parent:
                found.append((int(name), fields[0].decode(), int(fields[3])))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return b"\0" + fh.read()
    except OSError:
        return b""


def _reap(pid: int, deadline: float) -> None:
    """Wait for a child of ours (killed, or a zombie) until ``deadline``."""
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done == pid or time.monotonic() > deadline:
            return
        time.sleep(0.005)


def collect(markers: Sequence[str], timeout_s: float = COLLECT_TIMEOUT_S) -> int:
    """Kill and reap this process's children whose environment holds every one of ``markers``
    (``NAME=value`` entries), until none is left or ``timeout_s`` has passed; returns how many
    were killed. Blocking (a thread's work); never raises."""
    if not markers:
        return 0
    needles = [b"\0" + os.fsencode(m) + b"\0" for m in markers]
    me, own_session = os.getpid(), os.getsid(0)
    deadline = time.monotonic() + timeout_s
    killed = 0
    while True:
        found: list[int] = []
        for pid, state, session in _children(me):
            if state == "Z":
                # Forked by a descendant, never a session leader: an orphan nobody waits for.
                # (Our own children lead a session of their own or share ours.)
                if session not in (pid, own_session):
                    _reap(pid, deadline)
                continue
            environ = _environ(pid)
            if all(n in environ for n in needles):
                found.append(pid)
        if not found or time.monotonic() > deadline:
            return killed
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed += len(found)
        # Once each is gone, what it started is ours: the next round finds it.
        for pid in found:
            _reap(pid, deadline)
