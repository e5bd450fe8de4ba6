"""Hot reloading: functions whose code is a directory on this machine (LocalStack's
``hot-reload`` bucket, ``BUCKET_MARKER_LOCAL``) get fresh environments when a file changes.

A watcher polls each such directory twice a second (a fingerprint of every file's path, size and
modification time, in a worker thread; a file written after watching began counts as a change
even before the first look) and tells the engine, which then retires the function's
warm environments so that the next invoke loads the new code.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from locallambda.model.tasks import TaskScope

__all__ = ["HotReloadWatcher", "fingerprint"]

log = logging.getLogger(__name__)

_MAX_FILES = 20_000
_SKIP = {"__pycache__", ".git", "node_modules/.cache"}


def fingerprint(root: Path) -> str:
    """A digest of the tree's file names, sizes and modification times ("" if it is missing)."""
    return _scan(root)[0]


def _scan(root: Path) -> tuple[str, int]:
    """The fingerprint, and the newest modification time in the tree (ns since the epoch)."""
    digest = hashlib.blake2b(digest_size=16)
    count = 0
    newest = 0
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP)
        for name in sorted(files):
            path = os.path.join(base, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            newest = max(newest, st.st_mtime_ns)
            count += 1
            if count >= _MAX_FILES:
                return digest.hexdigest(), newest
    return (digest.hexdigest() if count else ""), newest


class HotReloadWatcher:
    def __init__(self, on_change: Callable[[str], None], tasks: TaskScope, interval: float = 0.5) -> None:
        self._on_change = on_change
        self._tasks = tasks
        self._interval = interval
        # key → (root, last fingerprint or None before the first look, when watching began in ns)
        self._watched: dict[str, tuple[Path, str | None, int]] = {}
        self._running = False

    def watch(self, key: str, root: Path) -> None:
        """Watch ``root`` for function ``key`` (idempotent; a new root replaces the old)."""
        current = self._watched.get(key)
        if current is None or current[0] != root:
            self._watched[key] = (root, None, time.time_ns())
            if not self._running:
                self._running = True
                self._tasks.spawn(self._run(), name="hot-reload watcher")

    def unwatch(self, key: str) -> None:
        self._watched.pop(key, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            for key, (root, seen, since) in list(self._watched.items()):
                now, newest = await asyncio.to_thread(_scan, root)
                if self._watched.get(key, (None,))[0] != root:
                    continue
                self._watched[key] = (root, now, since)
                # Before the first look there is nothing to compare with: a file written since
                # watching began is a change (the environment may have loaded the old code).
                changed = now != seen if seen is not None else newest >= since
                if changed:
                    log.info("code of %s changed in %s: new environments from now on", key.split("/", 1)[1], root)
                    self._on_change(key)

    async def close(self) -> None:
        await self._tasks.close()
