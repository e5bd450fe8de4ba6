"""How the CLI writes: colours only on a terminal, tables, function log lines, progress.

A Python function's traceback is one log event whose lines AWS's runtime joins with ``\\r``
(awslambdaric's ``log_error`` replaces newlines so that CloudWatch keeps the traceback in one
event); on a terminal each of those lines is printed as its own line.

Progress of a long transfer (``state export``/``import``) goes to stderr: on a terminal one line
rewritten in place (``\r``, the rest of the line cleared) at most ten times a second; elsewhere,
when asked for (``--progress``), a line every second or so. Either way it ends with a line of the
total, so that what follows starts on a line of its own.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

__all__ = ["Painter", "Progress", "format_size", "format_time", "log_lines", "table"]

_RESET = "\x1b[0m"
_STYLES = {
    "dim": "\x1b[2m",
    "bold": "\x1b[1m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "cyan": "\x1b[36m",
}


class Painter:
    """ANSI styles for one stream: on with ``mode`` ``always``, off with ``never``, and with
    ``auto`` only when the stream is a terminal."""

    def __init__(self, stream: TextIO, mode: str = "auto") -> None:
        self.stream = stream
        if mode == "always":
            self.enabled = True
        elif mode == "never":
            self.enabled = False
        else:
            isatty = getattr(stream, "isatty", None)
            self.enabled = bool(isatty and isatty())

    def paint(self, text: str, style: str) -> str:
        if not self.enabled or not style:
            return text
        return f"{_STYLES[style]}{text}{_RESET}"

    def write(self, text: str = "", style: str = "") -> None:
        print(self.paint(text, style), file=self.stream, flush=True)

    def log(self, lines: Iterable[str]) -> None:
        """Function log lines, tracebacks split, platform lines dimmed, errors in red."""
        for text, style in log_lines(lines):
            self.write(text, style)


def log_lines(lines: Iterable[str]) -> Iterable[tuple[str, str]]:
    """Each printed line of ``lines`` with its style: a ``\\r``-joined event becomes several
    lines (all of them red when the event is an ``[ERROR]``)."""
    for line in lines:
        parts = line.split("\r")
        style = _style_of(parts[0])
        for part in parts:
            yield part, style


def _style_of(line: str) -> str:
    """Python's runtime starts a record with its level (``[ERROR]\t<time>\t<request id>\t…``),
    Node's puts it third (``<time>\t<request id>\tERROR\t…``)."""
    if line.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START", "EXTENSION")):
        return "dim"
    level = line.split("\t", 3)[2] if line.count("\t") >= 3 else ""
    if line.startswith(("[ERROR]", "[CRITICAL]", "Traceback (most recent call last)")) or level in ("ERROR", "FATAL"):
        return "red"
    if line.startswith("[WARNING]") or level == "WARN":
        return "yellow"
    return ""


def table(header: Sequence[str], rows: Sequence[Sequence[str]], painter: Painter) -> None:
    """Columns padded to their widest cell, the header in bold; nothing but the header when
    there are no rows."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    painter.write(line(header), "bold")
    for row in rows:
        painter.write(line(row))


def format_time(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC): AWS's ``2024-01-02T03:04:05.000+0000``
    strings, ISO 8601, or epoch seconds/milliseconds; anything else as it is."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else float(value)  # epoch milliseconds
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("+0000", "+00:00").replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_size(n: int) -> str:
    """Bytes as a person reads them: ``512 B``, ``1.5 KiB``, ``12.3 MiB``, ``2.0 GiB``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """The bytes of one transfer so far (``advance``), of ``total`` when known, on ``stream``.

    Shown when ``forced`` or when ``stream`` is a terminal; otherwise every call does nothing.
    ``finish`` writes the last line (with the final count); calling it again does nothing.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        total: int | None = None,
        *,
        forced: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self._terminal = _isatty(stream)
        self.enabled = forced or self._terminal
        self._interval = 0.1 if self._terminal else 1.0
        self._clock = clock
        self._shown_at: float | None = None
        self._shown = ""
        self._finished = False

    def line(self) -> str:
        """What the progress line says now."""
        text = f"{self.label}: {format_size(self.done)}"
        if self.total:
            text += f" of {format_size(self.total)} ({min(100, self.done * 100 // self.total)}%)"
        return text

    def advance(self, n: int) -> None:
        """``n`` more bytes transferred; the line is shown again if it is due."""
        self.done += n
        if not self.enabled or self._finished:
            return
        now = self._clock()
        if self._shown_at is None or now - self._shown_at >= self._interval:
            self._shown_at = now
            self._show(final=False)

    def finish(self) -> None:
        """The last line: the count reached (no more lines after it)."""
        if self.enabled and not self._finished and (self._shown_at is not None or self.done):
            self._show(final=True)
        self._finished = True

    def _show(self, *, final: bool) -> None:
        line = self.line()
        again = line == self._shown  # the last line already says it: only end it
        self._shown = line
        if self._terminal:
            self.stream.write(("" if again else f"\r{line}\x1b[K") + ("\n" if final else ""))
        elif not again:
            self.stream.write(line + "\n")
        self.stream.flush()
