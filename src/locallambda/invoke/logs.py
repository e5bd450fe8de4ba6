"""Function logs: a bounded recent history per function, live followers, and the console.

Every line a runtime writes (and the START/END/REPORT lines Lambda adds) lands here. The server
console shows the function's own output (cut at ``LAMBDA_TRUNCATE_STDOUT`` characters); the
platform lines go to the console at debug level only.

Contract: the history is bounded three ways, the oldest lines dropped first: per function in
lines (``history``) and in bytes (``function_bytes``), and across every function in bytes
(``total_bytes``). A line counts the memory its text holds (``sys.getsizeof``); a function's
newest line is kept whatever its size (the invocation log cuts lines at 256 KB, so that is
bounded too). A line never takes longer to store than to count: eviction is amortised O(1).
Nothing here raises.

A line that comes with a ``LogDestination`` is also handed to ``ship`` (the CloudWatch Logs
shipper the factory connects): with the time it was stored, its text and the JSON record that
replaces the text there, if any. ``ship`` must return at once; it never sees a line without one.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from locallambda.invoke.invocation_log import LogDestination

__all__ = ["FUNCTION_BYTES", "HISTORY_LINES", "TOTAL_BYTES", "LogStore", "Ship"]

console = logging.getLogger("locallambda.functions")

_PLATFORM = ("START RequestId:", "END RequestId:", "REPORT RequestId:")

HISTORY_LINES = 5000  # recent lines kept per function
FUNCTION_BYTES = 4 * 1024 * 1024  # memory kept per function
TOTAL_BYTES = 64 * 1024 * 1024  # memory kept across every function

# (destination, time, text, JSON record or None) → CloudWatch Logs
Ship = Callable[[LogDestination, float, str, "dict[str, Any] | None"], None]


class _Line(NamedTuple):
    seq: int  # the store's own order, across functions
    time: float
    text: str
    size: int


class LogStore:
    def __init__(
        self,
        truncate: int,
        history: int = HISTORY_LINES,
        function_bytes: int = FUNCTION_BYTES,
        total_bytes: int = TOTAL_BYTES,
        ship: Ship | None = None,
    ) -> None:
        self._truncate = truncate
        self._ship = ship
        self._history = history
        self._function_bytes = function_bytes
        self._total_bytes = total_bytes
        self._lines: dict[str, collections.deque[_Line]] = {}
        self._bytes: dict[str, int] = {}  # per function
        self._total = 0
        self._count = 0  # lines kept, across functions
        # (seq, key) of every line stored, oldest first: the global eviction order. Lines
        # dropped by a function's own bounds (or forgotten) leave stale entries, skipped when
        # met and swept out once they outnumber the live ones.
        self._order: collections.deque[tuple[int, str]] = collections.deque()
        self._seq = itertools.count()
        self._followers: dict[str, set[asyncio.Queue[str]]] = {}

    def line(
        self, key: str, text: str, destination: LogDestination | None = None, record: dict[str, Any] | None = None
    ) -> None:
        now = self._store(key, text)
        if destination is not None and self._ship is not None:
            self._ship(destination, now, text, record)
        followers = self._followers.get(key)
        if followers:
            for q in followers:
                if q.qsize() < 10_000:
                    q.put_nowait(text)
        if text.startswith(_PLATFORM):
            if console.isEnabledFor(logging.DEBUG):
                console.debug("[%s] %s", key.split("/", 1)[1], text)
        elif console.isEnabledFor(logging.INFO):
            shown = text if len(text) <= self._truncate else text[: self._truncate] + "..."
            console.info("[%s] %s", key.split("/", 1)[1], shown)

    def _store(self, key: str, text: str) -> float:
        """Keep the line; returns its time."""
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = collections.deque()
            self._bytes[key] = 0
        entry = _Line(next(self._seq), time.time(), text, sys.getsizeof(text))
        lines.append(entry)
        self._order.append((entry.seq, key))
        self._bytes[key] += entry.size
        self._total += entry.size
        self._count += 1
        while len(lines) > 1 and (len(lines) > self._history or self._bytes[key] > self._function_bytes):
            self._drop_oldest(key, lines)
        while self._total > self._total_bytes and self._order:
            seq, oldest = self._order.popleft()
            kept = self._lines.get(oldest)
            if kept and kept[0].seq == seq:
                self._drop_oldest(oldest, kept)
        if len(self._order) > 2 * self._count + 1024:
            self._sweep()
        return entry.time

    def _drop_oldest(self, key: str, lines: collections.deque[_Line]) -> None:
        entry = lines.popleft()
        self._bytes[key] -= entry.size
        self._total -= entry.size
        self._count -= 1

    def _sweep(self) -> None:
        """The eviction order without its stale entries (lines no longer kept)."""
        live = collections.deque[tuple[int, str]]()
        for seq, key in self._order:
            lines = self._lines.get(key)
            if lines and seq >= lines[0].seq:
                live.append((seq, key))
        self._order = live

    def recent(self, key: str, limit: int = 1000, since: float = 0.0) -> list[tuple[float, str]]:
        """The last ``limit`` (at least 1) kept lines of a function written after ``since``, as
        (time, text), oldest first."""
        lines = self._lines.get(key)
        if not lines:
            return []
        out: list[tuple[float, str]] = []
        for entry in reversed(lines):
            if entry.time > since:  # the wall clock may step back: no early stop on time
                out.append((entry.time, entry.text))
                if len(out) >= limit:
                    break
        out.reverse()
        return out

    def follow(self, key: str) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue()
        self._followers.setdefault(key, set()).add(q)
        return q

    def unfollow(self, key: str, q: asyncio.Queue[str]) -> None:
        self._followers.get(key, set()).discard(q)

    def forget(self, key: str) -> None:
        lines = self._lines.pop(key, None)
        if lines is None:
            return
        self._total -= self._bytes.pop(key)
        self._count -= len(lines)
