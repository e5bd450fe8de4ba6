"""Function logs: a bounded recent history per function, live followers, and the console.

Every line a runtime writes (and the START/END/REPORT lines Lambda adds) lands here. The server
console shows the function's own output (cut at ``LAMBDA_TRUNCATE_STDOUT`` characters); the
platform lines go to the console at debug level only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

__all__ = ["LogStore"]

console = logging.getLogger("locallambda.functions")

_PLATFORM = ("START RequestId:", "END RequestId:", "REPORT RequestId:")


class LogStore:
    def __init__(self, truncate: int, history: int = 5000) -> None:
        self._truncate = truncate
        self._history = history
        self._lines: dict[str, collections.deque[tuple[float, str]]] = {}
        self._followers: dict[str, set[asyncio.Queue[str]]] = {}

    def line(self, key: str, text: str) -> None:
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = collections.deque(maxlen=self._history)
        lines.append((time.time(), text))
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

    def recent(self, key: str, limit: int = 1000) -> list[tuple[float, str]]:
        lines = self._lines.get(key)
        return list(lines)[-limit:] if lines else []

    def follow(self, key: str) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue()
        self._followers.setdefault(key, set()).add(q)
        return q

    def unfollow(self, key: str, q: asyncio.Queue[str]) -> None:
        self._followers.get(key, set()).discard(q)

    def forget(self, key: str) -> None:
        self._lines.pop(key, None)
