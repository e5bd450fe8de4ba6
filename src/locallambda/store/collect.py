"""Removing stored code that nothing references any more: what is reachable stays, the rest goes.

Under the code root (``store/code.py``, ``store/layers.py``)::

    zips/<sha>.zip, trees/<sha>/   one archive, as uploaded and extracted
    opt/<digest>/                  the merged /opt of one list of layers

Reachable, recomputed from the records on every run (content addressing lets one archive serve
several functions, versions and layers, so nothing is counted by deletion events):

- every function's $LATEST and published versions: their code, and the /opt of their Layers;
- every layer version not deleted: its archive. A deleted one stays while a function version
  still lists it (AWS keeps running those functions with its content, Docs: API_DeleteLayerVersion);
  a tombstone no function lists is dropped first (``LayerStore.drop_tombstones``, which keeps
  the layer's version counter);
- what a live execution environment uses (its code directory and /opt), even of a version
  deleted meanwhile (the ``in_use`` seam, filled by the factory from the environment pool);
- what a writer guards now or guarded after the run began (``CodeStore.guard``/``retire``): an
  archive stored or an /opt tree built for a record not saved yet.

Hot-reloaded code is the user's own directory: never under the code root, never touched (a
hot-reload path that points into the root is kept too).

When: ``request()`` after something may have stopped referencing code (the plane's change
listener ``on_change``: a function or version deleted, code or layers replaced; and
DeleteLayerVersion), ``delay`` seconds later, requests meanwhile coalesced; ``start()`` once at
startup, which also removes what a crash left (``.staging-*`` that existed before this server
started, ``.trash-*``). A run that kept something only for now (in use, guarded, or stopped at
its deadline) runs again later, backing off, until nothing is held back.

Safety: only names this store writes are considered (hex digests and our dot-prefixed
leftovers). An entry is first renamed to ``.trash-*`` in its own directory (a reader sees it
whole or not at all), then deleted without following links: a link is unlinked, ``rmtree``
never descends through one, and a directory of the root that is a link or resolves elsewhere is
left alone. The state is flushed before anything is deleted, so a record the collector saw
deleted stays deleted after a crash. The walk runs in a worker thread, within ``budget_s`` and
until shutdown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from locallambda.errors import StoreError
from locallambda.model.clock import Clock, Timer
from locallambda.model.tasks import TaskScope
from locallambda.store.code import TRASH_PREFIX, CodeStore
from locallambda.store.documents import DocumentStore
from locallambda.store.files import STAGING_PREFIX
from locallambda.store.functions import Change, FunctionRecord, FunctionRegistry
from locallambda.store.layers import KIND as LAYER_KIND
from locallambda.store.layers import OPT_DIR, LayerStore

__all__ = ["CodeInUse", "Collection", "Collector"]

log = logging.getLogger(__name__)

# The paths live execution environments use (code directories, /opt trees). Called on the loop.
CodeInUse = Callable[[], Iterable[Path]]

_SHA = re.compile(r"[0-9a-f]{64}")
_OPT = re.compile(r"[0-9a-f]{40}")


@dataclasses.dataclass(slots=True)
class Collection:
    """What one run did."""

    removed: int = 0  # entries deleted (a digest's zip and tree count as one)
    held: int = 0  # unreferenced but kept for now: in use, guarded, or not reached in time
    failed: int = 0  # could not be deleted (logged; a later run tries the trash again)


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What a run may not remove, computed on the event loop; the sweep only reads it."""

    mark: int
    archives: frozenset[str]
    opt: frozenset[str]
    in_use: frozenset[str]  # normalized absolute paths
    leftovers: frozenset[str]  # staging entries of an earlier server, to remove


class Collector:
    """Removes the zips, trees and /opt trees nothing reaches; one run at a time."""

    def __init__(
        self,
        code: CodeStore,
        functions: FunctionRegistry,
        layers: LayerStore,
        store: DocumentStore,
        tasks: TaskScope,
        clock: Clock,
        *,
        in_use: CodeInUse,
        delay_s: float = 1.0,
        retry_s: float = 2.0,
        max_retry_s: float = 60.0,
        budget_s: float = 30.0,
    ) -> None:
        self._code = code
        self._functions = functions
        self._layers = layers
        self._store = store
        self._tasks = tasks
        self._clock = clock
        self._in_use = in_use
        self._delay_s = delay_s
        self._retry_s = retry_s
        self._backoff_s = retry_s
        self._max_retry_s = max_retry_s
        self._budget_s = budget_s
        self._wanted = False
        self._task: asyncio.Task[None] | None = None
        self._timer: Timer | None = None
        self._leftovers: frozenset[str] = frozenset()
        self._stop = threading.Event()  # tells a sweep in its thread to end at the next entry

    # -- triggers -------------------------------------------------------------------------------

    async def start(self) -> None:
        """At startup: note the staging leftovers of an earlier server (before any request can
        stage anew), then collect in the background."""
        self._leftovers = await asyncio.to_thread(self._find_leftovers)
        self.request()

    def request(self) -> None:
        """Collect soon (``delay_s`` from the first request of a burst). Never raises."""
        if self._stop.is_set():
            return
        self._wanted = True
        if self._task is None:
            try:
                self._task = self._tasks.spawn(self._run(), name="code collector")
            except RuntimeError:  # the scope is closed: shutting down
                self._stop.set()

    def on_change(self, record: FunctionRecord, change: Change) -> None:
        """The plane's change listener: any change may leave code unreferenced."""
        self.request()

    def close(self) -> None:
        """Start nothing more; a sweep running in its thread ends at its next entry."""
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- a run ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        outcome = Collection()
        try:
            while self._wanted and not self._stop.is_set():
                self._wanted = False
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                # The mark precedes the delay: whatever was guarded before it has been saved
                # (or abandoned) by the time the records are read.
                mark = self._code.mark()
                await self._clock.sleep(self._delay_s)
                outcome = await self.collect(mark)
        finally:
            self._task = None
        if outcome.held and not self._stop.is_set():
            self._timer = self._clock.call_later(self._backoff_s, self.request)
            self._backoff_s = min(self._backoff_s * 2, self._max_retry_s)
        else:
            self._backoff_s = self._retry_s

    async def collect(self, mark: int | None = None) -> Collection:
        """One run now: plan on the loop, make the state durable, sweep in a worker thread.

        Background runs come from ``request``; calling this directly (tests, tools) must not
        overlap one. ``mark`` (``CodeStore.mark``) defaults to now. A failing state flush
        removes nothing (the run counts as held back, to try again).
        """
        damaged = self._store.damaged & {FunctionRegistry.KIND, LAYER_KIND}
        if damaged:
            # A record that could not be read may reference any archive: none is judged unused.
            log.warning(
                "stored code not collected: unreadable %s records were skipped at start (repair or "
                "remove them, then restart)",
                ", ".join(sorted(damaged)),
            )
            return Collection()
        plan = self._plan(self._code.mark() if mark is None else mark)
        try:
            await self._store.flush()
        except StoreError as exc:
            log.warning("stored code not collected: %s", exc)
            return Collection(held=1)
        try:
            outcome = await asyncio.to_thread(self._sweep, plan)
        except asyncio.CancelledError:
            self._stop.set()
            raise
        if plan.leftovers:  # any a sweep cut short did not reach are tried again next run
            self._leftovers = await asyncio.to_thread(_existing, plan.leftovers)
        if outcome.removed or outcome.failed:
            log.info(
                "stored code collected: %d removed, %d kept for now, %d failed",
                outcome.removed,
                outcome.held,
                outcome.failed,
            )
        return outcome

    def _plan(self, mark: int) -> _Plan:
        archives: set[str] = set()
        opt: set[str] = set()
        kept: set[str] = set()
        used_layers: set[str] = set()
        for record in self._functions.all():
            for version in (record.latest, *record.versions.values()):
                if version.code_sha256_hex:
                    archives.add(version.code_sha256_hex)
                hot = version.config.get("_HotReloadPath")
                if hot:
                    kept.add(_norm(hot))
                arns = [layer["Arn"] for layer in version.config.get("Layers") or []]
                used_layers.update(arns)
                digest = self._layers.opt_digest(arns) if arns else None
                if digest is not None:
                    opt.add(digest)
        self._layers.drop_tombstones(used_layers)
        archives |= self._layers.archives()
        kept.update(_norm(path) for path in self._in_use())
        return _Plan(mark, frozenset(archives), frozenset(opt), frozenset(kept), self._leftovers)

    # -- in the worker thread -------------------------------------------------------------------

    def _kind_dir(self, kind: str) -> str | None:
        """``<root>/<kind>`` when it is a real directory of the root (never a link out of it)."""
        root = os.path.realpath(self._code.root)
        path = os.path.join(str(self._code.root), kind)
        if not os.path.lexists(path):
            return None
        if os.path.islink(path) or os.path.realpath(path) != os.path.join(root, kind):
            log.warning("%s is not a directory of the code root; nothing in it is collected", path)
            return None
        return path

    def _find_leftovers(self) -> frozenset[str]:
        found: set[str] = set()
        for kind in ("zips", "trees", OPT_DIR):
            path = self._kind_dir(kind)
            if path is not None:
                found.update(os.path.join(path, n) for n in os.listdir(path) if n.startswith(STAGING_PREFIX))
        return frozenset(found)

    def _sweep(self, plan: _Plan) -> Collection:
        outcome = Collection()
        deadline = time.monotonic() + self._budget_s
        digests: set[str] = set()
        for kind in ("zips", "trees", OPT_DIR):
            path = self._kind_dir(kind)
            if path is None:
                continue
            for name in sorted(os.listdir(path)):
                entry = os.path.join(path, name)
                if name.startswith(TRASH_PREFIX) or entry in plan.leftovers:
                    outcome.removed += self._delete(entry, outcome)
                elif kind == "zips" and name.endswith(".zip") and _SHA.fullmatch(name[:-4]):
                    digests.add(name[:-4])
                elif kind == "trees" and _SHA.fullmatch(name):
                    digests.add(name)
                elif kind == OPT_DIR and _OPT.fullmatch(name) and name not in plan.opt:
                    self._retire([self._layers.opt_path(name)], plan, outcome)
                if self._stop.is_set() or time.monotonic() > deadline:
                    outcome.held += 1
                    return outcome
        for sha in sorted(digests - plan.archives):
            self._retire([self._code.zip_path(sha), self._code.tree_path(sha)], plan, outcome)
            if self._stop.is_set() or time.monotonic() > deadline:
                outcome.held += 1
                break
        return outcome

    def _retire(self, entries: list[Path], plan: _Plan, outcome: Collection) -> None:
        if any(_norm(path) in plan.in_use for path in entries):
            outcome.held += 1
            return
        try:
            moved = self._code.retire(entries, plan.mark)
        except OSError as exc:
            log.warning("cannot remove %s: %s", entries[-1], exc)
            outcome.failed += 1
            return
        if moved is None:
            outcome.held += 1
            return
        deleted = [self._delete(trash, outcome) for trash in moved]
        if moved and all(deleted):
            outcome.removed += 1

    @staticmethod
    def _delete(path: str | Path, outcome: Collection) -> bool:
        """Delete one entry of a directory of the root: a link or file is unlinked, a directory
        removed without following the links inside it. False (and logged) when it cannot be."""
        try:
            if os.path.islink(path) or not os.path.isdir(path):
                os.unlink(path)
            else:
                shutil.rmtree(path)
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.warning("cannot remove %s: %s", path, exc)
            outcome.failed += 1
            return False
        return True


def _existing(paths: frozenset[str]) -> frozenset[str]:
    return frozenset(path for path in paths if os.path.lexists(path))


def _norm(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(path))
