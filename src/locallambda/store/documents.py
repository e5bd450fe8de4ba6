"""State storage: JSON documents in SQLite, keyed by (kind, key), written off the event loop.

The control plane keeps its working copy in memory and writes every change through to this
store, so reads never touch the disk and a restart with persistence reloads everything. Writes
are queued (``put``/``delete`` return at once) and committed by one writer thread, several at a
time, the newest document of a key winning. ``flush`` waits until everything queued before it is
committed: the API awaits it before it acknowledges a request, so an acknowledged write survives
a kill of the server. With ``path=None`` (persistence off) nothing is written anywhere.

A shared database could replace SQLite behind the same calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from locallambda.errors import StoreError

__all__ = ["DocumentStore"]

log = logging.getLogger(__name__)

_Key = tuple[str, str]


class DocumentStore:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._cond = threading.Condition()  # guards the queue
        self._db_lock = threading.Lock()  # guards the connection
        self._pending: dict[_Key, str | None] = {}  # None: delete
        self._queued = 0  # writes queued so far
        self._committed = 0  # writes committed so far (all of those queued before some moment)
        self._failure: StoreError | None = None
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closing = False
        # Kinds of which a stored document could not be read at start (it was skipped): what such
        # a document referenced is unknown, so nothing may be judged unreferenced (store/collect.py).
        self.damaged: set[str] = set()
        self._writer: threading.Thread | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS documents (kind TEXT NOT NULL, key TEXT NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (kind, key))"
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}") from exc
        self._writer = threading.Thread(target=self._write_loop, name="locallambda-store", daemon=True)
        self._writer.start()

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def load(self, kind: str) -> dict[str, Any]:
        """Every stored document of one kind, by key (read once, at start).

        A row that is not a JSON document under a text key (written by something else, or
        damaged) is logged and skipped: one bad row must not keep the server from starting.
        Raises ``StoreError`` when the database cannot be read at all.
        """
        if self._db is None:
            return {}
        try:
            with self._db_lock:
                rows = self._db.execute("SELECT key, body FROM documents WHERE kind = ?", (kind,)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {kind} documents: {exc}") from exc
        docs: dict[str, Any] = {}
        for key, body in rows:
            try:
                if not isinstance(key, str):
                    raise TypeError(f"its key is a {type(key).__name__}")
                docs[key] = json.loads(body)
            except (TypeError, ValueError, RecursionError) as exc:
                log.error("skipped the unreadable %s document %r: %s", kind, key, exc)
                self.damaged.add(kind)
        return docs

    def put(self, kind: str, key: str, doc: Any) -> None:
        if self._db is not None:
            self._queue((kind, key), json.dumps(doc, separators=(",", ":")))

    def delete(self, kind: str, key: str) -> None:
        if self._db is not None:
            self._queue((kind, key), None)

    def _queue(self, key: _Key, body: str | None) -> None:
        with self._cond:
            self._pending[key] = body
            self._queued += 1
            self._cond.notify()

    async def flush(self) -> None:
        """Until every write queued before this call is committed. Raises ``StoreError``."""
        target = self._queued
        if self._committed >= target:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._committed >= target:
                return
            self._waiters.append((target, loop, future))
        await future

    def _write_loop(self) -> None:
        assert self._db is not None
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending and self._closing:
                    return
                batch, self._pending = self._pending, {}
                upto = self._queued
            failure: StoreError | None = None
            try:
                self._commit(batch)
            except sqlite3.Error as exc:
                failure = StoreError(f"cannot write the state database: {exc}")
                log.error("%s", failure)
            with self._cond:
                if failure is None:
                    self._committed = upto
                else:
                    for key, body in batch.items():  # kept for the next attempt unless superseded
                        self._pending.setdefault(key, body)
                self._wake(upto, failure)
            if failure is not None:
                with self._cond:
                    self._cond.wait(1.0)  # do not spin on a full disk

    def _commit(self, batch: dict[_Key, str | None]) -> None:
        with self._db_lock:
            assert self._db is not None
            self._commit_locked(self._db, batch)

    @staticmethod
    def _commit_locked(db: sqlite3.Connection, batch: dict[_Key, str | None]) -> None:
        db.execute("BEGIN")
        try:
            for (kind, key), body in batch.items():
                if body is None:
                    db.execute("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
                else:
                    db.execute(
                        "INSERT INTO documents (kind, key, body) VALUES (?, ?, ?) "
                        "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                        (kind, key, body),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _wake(self, upto: int, failure: StoreError | None) -> None:
        """Resolve the waiters the last commit covers (or fails). Holds ``_cond``."""
        keep = []
        for target, loop, future in self._waiters:
            if target <= upto:
                loop.call_soon_threadsafe(_settle, future, failure)
            else:
                keep.append((target, loop, future))
        self._waiters = keep

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued (waiting at most ``timeout`` seconds) and close the database."""
        if self._db is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._writer is not None:
            self._writer.join(timeout)
            if self._writer.is_alive():
                log.error("the state writer did not finish within %.0fs; recent writes may be lost", timeout)
                return
        with self._db_lock:
            self._db.close()
            self._db = None


def _settle(future: asyncio.Future[None], failure: StoreError | None) -> None:
    if future.done():
        return
    if failure is None:
        future.set_result(None)
    else:
        future.set_exception(failure)
