"""The output pipe: a FIFO on this host that a container's runtime writes stdout and stderr to.

Docker's log stream lags the runtime by a millisecond or so: lines printed just before a
response would miss that invocation's log (``LogType=Tail``). A FIFO read on the event loop
keeps a pipe's ordering, as the process executor has, so that a function's last lines land in
its own invocation's log. It needs the daemon on this machine (the FIFO is bind-mounted at
``OUTPUT_TARGET``) and a ``/bin/sh`` in the image (``redirected`` points the entrypoint's output
at it). Without either, the container's output comes from docker's log stream instead
(``container.py``).

Contract: ``OutputPipe(directory)`` raises ``OSError`` when no FIFO can be made there; after
that nothing raises. A read error counts as the end of the output; ``close`` delivers what is
left and removes the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path

from locallambda.executors.base import OutputSink

__all__ = ["OUTPUT_TARGET", "OutputPipe", "redirected"]

log = logging.getLogger(__name__)

# Where the FIFO appears inside the container.
OUTPUT_TARGET = "/var/locallambda/output"
_CHUNK = 65536


def redirected(argv: list[str]) -> list[str]:
    """``argv`` run with its stdout and stderr appended to the FIFO at ``OUTPUT_TARGET``."""
    return ["/bin/sh", "-c", f'exec "$@" >>{OUTPUT_TARGET} 2>&1', "locallambda", *argv]


class OutputPipe:
    """A FIFO in a directory of its own, read without blocking on the event loop."""

    def __init__(self, directory: Path) -> None:
        """Make ``directory`` (which must not exist) and the FIFO in it. Raises ``OSError``."""
        directory.mkdir(parents=True)
        self.directory = directory
        self.path = directory / "output"
        os.mkfifo(self.path)
        os.chmod(self.path, 0o666)  # whatever user the image runs as may write it
        self._rd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writer end: the reader never sees EOF before the container opens its end.
        self._keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: OutputSink | None = None

    def attach(self, sink: OutputSink) -> None:
        """Deliver what arrives to ``sink``, from the running event loop."""
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._rd, self._read)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._rd, _CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # the FIFO broke: its output is over
                log.debug("output pipe %s: %s", self.path, exc)
                chunk = b""
            if not chunk:
                return
            if self._sink is not None:
                self._sink(chunk)

    def close(self) -> None:
        """Deliver what is left, then release the FIFO. Idempotent."""
        if self._rd < 0:
            return
        self._read()
        if self._loop is not None:
            with contextlib.suppress(Exception):  # the loop may already be closed
                self._loop.remove_reader(self._rd)
        for fd in (self._rd, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._rd = self._keep = -1
        shutil.rmtree(self.directory, ignore_errors=True)
