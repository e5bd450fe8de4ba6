"""Content-addressed storage of code archives and their extracted trees.

``<root>/zips/<sha256 hex>.zip`` holds the archive as uploaded (served back by GetFunction's
Code.Location); ``<root>/trees/<sha256 hex>/`` holds it extracted, read by the executors.
The same archive uploaded twice is stored once.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from locallambda.store.archive import extract_zip

__all__ = ["CodeStore", "StoredCode"]


@dataclasses.dataclass(frozen=True, slots=True)
class StoredCode:
    sha256_hex: str
    size: int
    unzipped_size: int

    @property
    def sha256_b64(self) -> str:
        """AWS's CodeSha256: base64 of the raw SHA-256 digest of the zip."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


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
            size = sum(f.stat().st_size for f in tree.rglob("*") if f.is_file() and not f.is_symlink())
            return StoredCode(digest, len(data), size)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root / "trees"))
        try:
            os.chmod(staging, 0o755)  # mkdtemp makes 0700: the tree must be readable by a sandbox user
            written = extract_zip(data, staging, unzipped_limit)
            fd, tmp_zip = tempfile.mkstemp(prefix=".staging-", dir=self.root / "zips")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp_zip, zpath)
            try:
                os.rename(staging, tree)
            except OSError:  # a concurrent upload of the same archive won
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return StoredCode(digest, len(data), written)

    def read_zip(self, sha256_hex: str) -> bytes | None:
        path = self.zip_path(sha256_hex)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
