"""How the CLI writes: colours only on a terminal, tables, and function log lines.

A Python function's traceback is one log event whose lines AWS's runtime joins with ``\\r``
(awslambdaric's ``log_error`` replaces newlines so that CloudWatch keeps the traceback in one
event); on a terminal each of those lines is printed as its own line.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TextIO

__all__ = ["Painter", "format_time", "log_lines", "table"]

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
