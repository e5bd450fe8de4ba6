"""Content-addressed storage of code archives and their extracted trees.

``<root>/zips/<sha256 hex>.zip`` holds the archive as uploaded (served back by GetFunction's
Code.Location); ``<root>/trees/<sha256 hex>/`` holds it extracted, read by the executors.
The same archive uploaded twice is stored once.

Code nothing references any more is removed by ``store/collect.py``, which decides from the
records. A path being written or read for a record not saved yet is referenced by nothing so
far: ``guard`` marks it while ``put_zip`` stores an archive or ``LayerStore.opt_tree`` finds or
builds a tree, and ``retire``, the one step that takes entries away, refuses a path guarded now
or after the collector's ``mark``. Both take the same lock, so an entry is either retired before
a writer looks (which then writes it anew) or kept.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from locallambda.store.archive import extract_zip
from locallambda.store.files import staged_dir, write_atomically

__all__ = ["TRASH_PREFIX", "CodeStore", "StoredCode", "tree_size"]

# Entries renamed out of the way, to be deleted: a reader sees a digest whole or not at all.
TRASH_PREFIX = ".trash-"


@dataclasses.dataclass(frozen=True, slots=True)
class StoredCode:
    sha256_hex: str
    size: int
    unzipped_size: int

    @property
    def sha256_b64(self) -> str:
        """AWS's CodeSha256: base64 of the raw SHA-256 digest of the zip."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


def tree_size(root: Path) -> int:
    """Bytes in the regular files under ``root`` (links not followed). Blocking: walks the tree."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    total += os.stat(path).st_size
    return total


class CodeStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "zips").mkdir(parents=True, exist_ok=True)
        (root / "trees").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._busy: collections.Counter[Path] = collections.Counter()  # paths inside a guard now
        self._uses = 0  # guards ended so far
        self._used: dict[Path, int] = {}  # path → the value of _uses when its last guard ended

    def zip_path(self, sha256_hex: str) -> Path:
        return self.root / "zips" / f"{sha256_hex}.zip"

    def tree_path(self, sha256_hex: str) -> Path:
        return self.root / "trees" / sha256_hex

    def put_zip(self, data: bytes, unzipped_limit: int) -> StoredCode:
        """Store and extract an archive (blocking: call from a worker thread).

        Raises ``InvalidParameterValueError`` with AWS's text for a bad or oversized archive;
        nothing is left behind in that case.
        """
        digest = hashlib.sha256(data).hexdigest()
        tree = self.tree_path(digest)
        zpath = self.zip_path(digest)
        with self.guard(tree, zpath):
            if tree.is_dir() and zpath.is_file():
                return StoredCode(digest, len(data), tree_size(tree))
            with staged_dir(tree) as staging:
                written = extract_zip(data, staging, unzipped_limit)
                write_atomically(zpath, data)
            return StoredCode(digest, len(data), written)

    @contextlib.contextmanager
    def guard(self, *paths: Path) -> Iterator[None]:
        """Keep ``paths`` (entries of this store) from ``retire`` during the block, and from every
        collection whose ``mark`` was taken before the block ended. Thread-safe."""
        with self._lock:
            self._busy.update(paths)
        try:
            yield
        finally:
            with self._lock:
                self._busy.subtract(paths)
                self._uses += 1
                for path in paths:
                    if not self._busy[path]:
                        del self._busy[path]
                    self._used[path] = self._uses

    def mark(self) -> int:
        """A point in the sequence of guards, for ``retire``: taken when a collection begins."""
        with self._lock:
            return self._uses

    def retire(self, entries: Sequence[Path], mark: int) -> list[Path] | None:
        """Take ``entries`` (one digest's zip and tree, or one /opt tree) out of the store, unless
        one of them is guarded now or was after ``mark``: then ``None``, and nothing changes.

        Returns the entries renamed away (``.trash-*`` in their own directory; a link is moved,
        never followed); the caller deletes them. Blocking. Raises ``OSError`` when a rename
        fails (what was renamed before stays renamed).
        """
        with self._lock:
            if any(self._busy[path] or self._used.get(path, -1) > mark for path in entries):
                return None
            moved: list[Path] = []
            for path in entries:
                self._used.pop(path, None)
                if os.path.lexists(path):
                    trash = path.with_name(f"{TRASH_PREFIX}{uuid.uuid4().hex}")
                    os.rename(path, trash)
                    moved.append(trash)
            return moved

    def read_zip(self, sha256_hex: str) -> bytes | None:
        path = self.zip_path(sha256_hex)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
