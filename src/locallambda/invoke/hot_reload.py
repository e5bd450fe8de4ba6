"""Hot reloading: functions whose code is a directory on this machine (LocalStack's
``hot-reload`` bucket, ``BUCKET_MARKER_LOCAL``) get fresh environments when a file changes.

A watcher is told of a change to such a directory by inotify (``invoke/file_events.py``) as it
happens, and tells the engine ``debounce`` seconds after the last event of a burst (an editor's
save is several events), which then retires the function's warm environments so that the next
invoke loads the new code. Where inotify cannot watch the tree (another OS, the per-user limit,
more than ``file_events.MAX_DIRECTORIES`` directories, a directory that does not exist yet or was
removed), the directory is polled twice a second instead: a fingerprint of every file's path,
size and modification time, in a worker thread (a file written after watching began counts as a
change even before the first look). ``__pycache__``, ``.git`` and ``.cache`` directories are not
watched: a function's own imports write there.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from locallambda.invoke import file_events
from locallambda.model.tasks import TaskScope

__all__ = ["HotReloadWatcher", "fingerprint"]

log = logging.getLogger(__name__)

_MAX_FILES = 20_000
_SKIP = {"__pycache__", ".git", "node_modules/.cache"}
_SKIP_NAMES = frozenset({"__pycache__", ".git", ".cache"})


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
    def __init__(
        self,
        on_change: Callable[[str], None],
        tasks: TaskScope,
        interval: float = 0.5,
        debounce: float = 0.01,
        use_inotify: bool = True,
    ) -> None:
        self._on_change = on_change
        self._tasks = tasks
        self._interval = interval
        self._debounce = debounce
        self._use_inotify = use_inotify and file_events.available()
        self._roots: dict[str, Path] = {}
        self._trees: dict[str, file_events.TreeWatch] = {}  # keys watched through inotify
        self._due: dict[str, asyncio.TimerHandle] = {}
        # polled keys: key → (root, last fingerprint or None before the first look, when
        # watching began in ns)
        self._watched: dict[str, tuple[Path, str | None, int]] = {}
        self._running = False

    def watch(self, key: str, root: Path) -> None:
        """Watch ``root`` for function ``key`` (idempotent; a new root replaces the old). Call on
        the event loop."""
        if self._roots.get(key) == root:
            return
        self.unwatch(key)
        self._roots[key] = root
        since = time.time_ns()
        if self._use_inotify:
            tree = file_events.TreeWatch(root, _SKIP_NAMES, functools.partial(self._event, key))
            self._trees[key] = tree
            self._tasks.spawn(self._open(key, tree, since), name="hot-reload inotify watch")
            return
        self._poll(key, root, since)

    async def _open(self, key: str, tree: file_events.TreeWatch, since: int) -> None:
        """Add the tree's watches off the event loop, then read its events on it; a file written
        while the watches were being added counts as a change (as before the first poll)."""

        def opened() -> int:
            tree.open()
            return _scan(tree.root)[1]

        try:
            newest = await asyncio.to_thread(opened)
        except OSError as exc:
            tree.close()
            if self._trees.get(key) is tree:
                del self._trees[key]
                log.info("hot reload of %s polls %s: %s", key.split("/", 1)[-1], tree.root, exc)
                self._poll(key, tree.root, since)
            return
        if self._trees.get(key) is not tree:  # unwatched (or watching another root) meanwhile
            tree.close()
            return
        tree.listen()
        if newest >= since:
            self._event(key)

    def unwatch(self, key: str) -> None:
        self._roots.pop(key, None)
        self._watched.pop(key, None)
        tree = self._trees.pop(key, None)
        if tree is not None:
            tree.close()
        due = self._due.pop(key, None)
        if due is not None:
            due.cancel()

    def _poll(self, key: str, root: Path, since: int) -> None:
        self._watched[key] = (root, None, since)
        if not self._running:
            self._running = True
            self._tasks.spawn(self._run(), name="hot-reload watcher")

    def _event(self, key: str) -> None:
        tree = self._trees.get(key)
        if tree is None:
            return
        if tree.lost:  # the directory went away (or events were lost): polled until it is back
            tree.close()
            del self._trees[key]
            self._poll(key, tree.root, 0)
        due = self._due.pop(key, None)
        if due is not None:
            due.cancel()
        self._due[key] = asyncio.get_running_loop().call_later(self._debounce, self._fire, key)

    def _fire(self, key: str) -> None:
        self._due.pop(key, None)
        root = self._roots.get(key)
        if root is not None:
            log.info("code of %s changed in %s: new environments from now on", key.split("/", 1)[1], root)
            self._on_change(key)

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
        for key in list(self._trees):
            self.unwatch(key)
        await self._tasks.close()
