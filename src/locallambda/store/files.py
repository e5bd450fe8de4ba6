"""Writing into the data directory so that no reader ever sees half a result.

A directory is built under a staging name beside its target and renamed into place in one
step; a file is written to a temporary name and renamed. When two writers build the same
content-addressed target at once, the first rename wins and the other's staging is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["STAGING_PREFIX", "staged_dir", "write_atomically"]

STAGING_PREFIX = ".staging-"  # the names of what is being built; a crash may leave them behind


@contextlib.contextmanager
def staged_dir(target: Path, mode: int = 0o755) -> Iterator[Path]:
    """Yield an empty staging directory; when the block ends, it becomes ``target``.

    If ``target`` already exists by then (built meanwhile by another writer) the staging is
    discarded. If the block raises, nothing is left behind. ``mode`` is applied to the
    directory (``mkdtemp`` makes 0700; code and /opt trees must be readable by a sandbox user).
    Raises ``OSError`` when the rename fails for another reason.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target.parent))
    try:
        os.chmod(staging, mode)
        yield staging
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place. Raises ``OSError``."""
    fd, tmp = tempfile.mkstemp(prefix=STAGING_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
