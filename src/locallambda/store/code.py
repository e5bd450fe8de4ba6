"""Content-addressed storage of code archives and their extracted trees.

``<root>/zips/<sha256 hex>.zip`` holds the archive as uploaded (served back by GetFunction's
Code.Location); ``<root>/trees/<sha256 hex>/`` holds it extracted, read by the executors.
The same archive uploaded twice is stored once.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
from pathlib import Path

from locallambda.store.archive import extract_zip
from locallambda.store.files import staged_dir, write_atomically

__all__ = ["CodeStore", "StoredCode", "tree_size"]


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
        if tree.is_dir() and zpath.is_file():
            return StoredCode(digest, len(data), tree_size(tree))
        with staged_dir(tree) as staging:
            written = extract_zip(data, staging, unzipped_limit)
            write_atomically(zpath, data)
        return StoredCode(digest, len(data), written)

    def read_zip(self, sha256_hex: str) -> bytes | None:
        path = self.zip_path(sha256_hex)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
