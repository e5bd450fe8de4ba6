"""The sandbox's first process: a shell that starts the runtime, and starts it again on request.

After a timeout or a crash during an invocation AWS resets the environment: the runtime and its
extensions are shut down, the environment and its ``/tmp`` are kept, and the next invocation
starts them again (lambda-runtime-environment.html, "Failures during the invoke phase"). A
sandbox's ``/tmp`` is a tmpfs of its mount namespace, which lives as long as the sandbox: so the
sandbox does not run the runtime itself but ``SUPERVISOR``, a POSIX shell (the host's
``/bin/sh``, as the launcher's), which needs no privilege beyond the sandbox's own.

It talks to the server over its stdin, one end of a socket pair (``Supervisor`` holds the
other), one line at a time:

- it starts the runtime's command (its extensions first, in the same command) at once, with
  stdin from ``/dev/null`` (but see ``job``); when that command ends it says ``exit <status>`` (128+N for a signal).
  The command comes shell-quoted in ``RUNTIME_VAR``, which it takes out of the environment: the
  supervisor's own command line does not name the runtime's (``ps`` shows the runtime once);
- ``stop``: it kills every other process of the sandbox (``kill -KILL -1``: in a pid namespace
  that is everything but its pid 1, bwrap's reaper, and the caller), reaps its own children and
  says ``stopped``;
- ``start``: it starts the runtime's command again;
- ``job <n>`` followed by n bytes: the runtime's command starts with those bytes as its stdin,
  a pipe that ends after them (``head -c``, which reads no further, copies them while the
  supervisor waits: nothing else reads the socket meanwhile). A zygote (``executors/zygotes.py``)
  reads its job that way. A spare sandbox's supervisor (started with ``spare``) starts the
  command at once, its stdin the pipe that the sandbox's stdout was (its output is on stderr
  alone), which the server fills at the cold start (``Launcher.send_job``);
- at the end of its input (the server closed its end, or died) it exits, and bwrap with it:
  the kernel then kills whatever is left in the sandbox's pid namespace.

``Supervisor`` reads the lines on the event loop (no task of its own) and hands them to a
callback; ``send`` and ``close`` never block. Nothing here raises but ``send`` (``OSError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import socket
from collections.abc import Callable, Sequence

__all__ = ["RUNTIME_VAR", "SUPERVISOR", "Supervisor", "job_order", "supervised"]

log = logging.getLogger(__name__)

RUNTIME_VAR = "LOCALLAMBDA_RUNTIME_COMMAND"
# fd 3: the control socket (stdin is /dev/null for everything it starts, as it is for a
# non-interactive shell's background jobs anyway); the runtime does not inherit it.
SUPERVISOR = f"""exec 3<&0 0</dev/null
runtime=${RUNTIME_VAR}
unset {RUNTIME_VAR}
run() {{ ( eval "$runtime" 3>&-; echo "exit $?" >&3 ) & }}
fed() {{ ( eval "$runtime" 0<&4 4<&- 3>&-; echo "exit $?" >&3 ) & }}
if [ "$1" = spare ]; then
  exec 4<&1 1>&2
  fed
  exec 4<&-
else
  run
fi
while read -r order <&3; do
  case $order in
    start) run ;;
    "job "*) head -c "${{order#job }}" <&3 | {{ exec 4<&0; fed; }} ;;
    stop) kill -KILL -1 2>/dev/null; kill -KILL -1 2>/dev/null; wait; echo stopped >&3 ;;
  esac
done
"""
_ARGV = ("/bin/sh", "-c", SUPERVISOR, "supervisor")

Report = Callable[[str, int | None], None]  # ("exit", status) | ("stopped", None) | ("closed", None)


def supervised(argv: Sequence[str], *, spare: bool = False) -> tuple[list[str], dict[str, str]]:
    """The command that runs ``argv`` under ``SUPERVISOR`` (talking over its stdin), and the
    variable that hands ``argv`` to it. ``spare``: it waits for a ``job`` before starting it."""
    return [*_ARGV, *(["spare"] if spare else [])], {RUNTIME_VAR: shlex.join(argv)}


def job_order(data: bytes) -> bytes:
    """The order that starts a spare sandbox's runtime with ``data`` as its stdin."""
    return b"job %d\n" % len(data) + data


class Supervisor:
    """The server's end of a supervisor's control socket (non-blocking, read on the loop)."""

    def __init__(self, sock: socket.socket, start: bytes = b"start\n") -> None:
        """``start``: the order that starts the runtime again (a spare's ``job_order``)."""
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._start = start
        self._buffer = b""
        self._report: Report | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, report: Report) -> None:
        """Hand every line the supervisor says to ``report``, from the running event loop;
        ``("closed", None)`` once, when the socket ends."""
        self._report = report
        if self._sock is not None:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._sock.fileno(), self._read)

    def send(self, order: str) -> None:
        """Say ``stop`` (or another order of one line). Raises ``OSError`` when the supervisor
        is gone."""
        self._send(order.encode() + b"\n")

    def start(self) -> None:
        """Have the runtime started (again). Raises ``OSError`` when the supervisor is gone."""
        self._send(self._start)

    def _send(self, data: bytes) -> None:
        if self._sock is None:
            raise ConnectionResetError("the supervisor's socket is closed")
        # Into a socket buffer the supervisor has emptied (orders come one at a time; a job is
        # some kB against a buffer of some hundred): never short.
        sent = self._sock.send(data)
        if sent != len(data):
            raise BlockingIOError("the supervisor does not read its orders")

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("supervisor socket: %s", exc)
            chunk = b""
        if not chunk:
            self.close()
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            kind, _, value = line.decode("ascii", "replace").partition(" ")
            if self._report is not None:
                self._report(kind, int(value) if value.strip().isdigit() else None)

    def close(self) -> None:
        """Close the socket (the supervisor then ends, and the sandbox with it). Idempotent."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):  # the loop may be closed already
                self._loop.remove_reader(sock.fileno())
        sock.close()
        if self._report is not None:
            self._report("closed", None)
