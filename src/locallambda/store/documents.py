"""State storage: JSON documents in SQLite, keyed by (kind, key).

The control plane keeps its working copy in memory and writes every change through to this
store, so reads never touch the disk and a restart with persistence reloads everything.
A shared database could replace SQLite behind the same three calls.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["DocumentStore"]


class DocumentStore:
    """A tiny document store. ``path=None`` keeps everything in memory (persistence off)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS documents (kind TEXT NOT NULL, key TEXT NOT NULL, "
            "body TEXT NOT NULL, PRIMARY KEY (kind, key))"
        )

    def load(self, kind: str) -> dict[str, Any]:
        """Every document of one kind, by key."""
        with self._lock:
            rows = self._db.execute("SELECT key, body FROM documents WHERE kind = ?", (kind,)).fetchall()
        return {key: json.loads(body) for key, body in rows}

    def put(self, kind: str, key: str, doc: Any) -> None:
        body = json.dumps(doc, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (kind, key, body) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                (kind, key, body),
            )

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))

    def close(self) -> None:
        with self._lock:
            self._db.close()
