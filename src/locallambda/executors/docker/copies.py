"""What reaches a container by copy: one tar stream, put at its ``/`` before it starts.

An engine that does not see this machine's directories (``LAMBDA_DOCKER_CODE=copy``, the
default for any ``DOCKER_HOST`` but this machine's unix socket) gets the function's code, its
``/opt`` and the runtime files a non-AWS Node.js image lacks as copies, through the Docker API's
``PUT /containers/{id}/archive`` (docs.docker.com/engine/api, "Extract an archive of files or
folders to a directory in a container"; what ``docker cp`` does), into the created container.

Each copy is ``(source on this host, target path inside)``: a directory's contents go into the
target directory (the directory itself is not an entry, so an existing one keeps its owner and
mode; a missing one is made, 0755, by the engine), a file becomes the target file (a symlink is
followed). Copies are laid down in order and a later one replaces what an earlier one put at the
same path, as later layers win on AWS. Owners become root (uid and gid 0), as a zip's files are
on AWS; modes are kept.

The archive of a tree that cannot change (a content-addressed code or layer tree, the bundled
SDK) is made once and kept (``Archives``, at most ``MAX_KEPT_BYTES`` in all, least recently used
first out); a tree that can change (hot-reloaded code) is archived afresh for every container, so
that a new environment gets the code as it is now.

Blocking, for worker threads; raises ``OSError`` for a source that cannot be read.
"""

from __future__ import annotations

import collections
import io
import os
import tarfile
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MAX_KEPT_BYTES", "Archives", "members"]

MAX_KEPT_BYTES = 256 * 1024 * 1024
_END = b"\0" * (2 * tarfile.BLOCKSIZE)  # the end-of-archive marker: two zero blocks
_ATTEMPTS = 3


class Archives:
    """Tar streams of the copies into a container, the parts of unchanging trees kept. Thread-safe."""

    def __init__(self, max_kept_bytes: int = MAX_KEPT_BYTES) -> None:
        self._max = max_kept_bytes
        self._kept: collections.OrderedDict[tuple[Path, str], bytes] = collections.OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def archive(self, copies: Iterable[tuple[Path, str]], changing: Iterable[Path] = ()) -> bytes:
        """One tar stream of ``copies`` in order (its entries relative to ``/``); the sources in
        ``changing`` are read afresh, any other's part is kept. Raises ``OSError``."""
        fresh = set(changing)
        parts = [self._part(source, target, keep=source not in fresh) for source, target in copies]
        return b"".join(parts) + _END

    def _part(self, source: Path, target: str, *, keep: bool) -> bytes:
        key = (source, target)
        if keep:
            with self._lock:
                part = self._kept.get(key)
                if part is not None:
                    self._kept.move_to_end(key)
                    return part
        part = _read(source, target, attempts=1 if keep else _ATTEMPTS)
        if keep and len(part) <= self._max:
            with self._lock:
                if key not in self._kept:
                    self._kept[key] = part
                    self._size += len(part)
                while self._size > self._max:
                    _, dropped = self._kept.popitem(last=False)
                    self._size -= len(dropped)
        return part


def _read(source: Path, target: str, *, attempts: int) -> bytes:
    """``members``, tried again when a file vanished under it: a tree being edited (an editor's
    save replaces files) is read again, up to ``attempts`` times in all."""
    for _ in range(attempts - 1):
        try:
            return members(source, target)
        except FileNotFoundError:
            if not source.exists():
                raise
    return members(source, target)


def members(source: Path, target: str) -> bytes:
    """The tar entries (no end marker) laying ``source`` down at ``target``. Raises ``OSError``."""
    base = target.strip("/")
    buf = io.BytesIO()
    root = source.resolve()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if root.is_dir():
            for entry in sorted(os.listdir(root)):
                tar.add(os.path.join(root, entry), arcname=f"{base}/{entry}", filter=_as_root)
        else:
            tar.add(str(root), arcname=base, filter=_as_root)
        end = tar.offset  # where the last entry ends
    # Closing wrote the end marker (and padded the record): only the whole stream's end has one.
    return buf.getvalue()[:end]


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
