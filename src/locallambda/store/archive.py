"""Safe extraction of untrusted code archives.

A zip from a user may try to escape the target directory (``../x``, absolute names, symlinks
pointing outside), or expand without bound. Every entry is checked before a byte is written;
the limit on unzipped size is enforced on the declared sizes and again on the bytes actually
written (declared sizes can lie). File modes (the executable bit) are kept.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from locallambda.errors import InvalidParameterValueError

__all__ = ["extract_zip", "unzipped_size", "BAD_ZIP_MESSAGE", "check_zip"]

BAD_ZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 16
_MAX_ENTRIES = 100_000


def _too_big(limit: int) -> InvalidParameterValueError:
    return InvalidParameterValueError(f"Unzipped size must be smaller than {limit} bytes")


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise InvalidParameterValueError(BAD_ZIP_MESSAGE) from exc


def _safe_name(name: str) -> PurePosixPath | None:
    """The entry's relative path, or ``None`` when it would land outside the target."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        return None
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def unzipped_size(data: bytes) -> int:
    """Sum of the declared uncompressed sizes. Raises ``InvalidParameterValueError`` for a bad zip."""
    with _open(data) as zf:
        return sum(i.file_size for i in zf.infolist())


def check_zip(data: bytes, limit: int) -> int:
    """Validate an archive without extracting it; returns the declared unzipped size.

    Raises ``InvalidParameterValueError`` with AWS's text for a corrupt archive, an entry that
    escapes, or a declared size at or over ``limit``.
    """
    with _open(data) as zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ENTRIES:
            raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
        total = 0
        for info in infos:
            if _safe_name(info.filename) is None:
                raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
            total += info.file_size
        if total >= limit:
            raise _too_big(limit)
        try:
            bad = zf.testzip()
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as exc:
            raise InvalidParameterValueError(BAD_ZIP_MESSAGE) from exc
        if bad is not None:
            raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
        return total


def extract_zip(data: bytes, target: Path, limit: int) -> int:
    """Extract ``data`` into ``target`` (created), refusing escapes; returns bytes written.

    Symlinks are recreated only when they resolve inside ``target``. Raises
    ``InvalidParameterValueError`` (AWS's texts) for corrupt archives, escaping entries and
    archives whose content reaches ``limit`` bytes.
    """
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    written = 0
    with _open(data) as zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ENTRIES:
            raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
        if sum(i.file_size for i in infos) >= limit:
            raise _too_big(limit)
        links: list[tuple[Path, str]] = []
        for info in infos:
            rel = _safe_name(info.filename)
            if rel is None:
                raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
            dest = (root / rel) if str(rel) != "." else root
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if _is_symlink(info):
                links.append((dest, zf.read(info).decode("utf-8", "replace")))
                continue
            mode = (info.external_attr >> 16) & 0o777 if info.create_system == 3 else 0
            try:
                with zf.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written >= limit:
                            raise _too_big(limit)
                        out.write(chunk)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError) as exc:
                raise InvalidParameterValueError(BAD_ZIP_MESSAGE) from exc
            # AWS keeps the archive's modes; entries without Unix modes become 0644.
            os.chmod(dest, (mode or 0o644) | 0o400)
        for dest, link_target in links:
            resolved = (dest.parent / link_target).resolve()
            if os.path.isabs(link_target) or not resolved.is_relative_to(root):
                raise InvalidParameterValueError(BAD_ZIP_MESSAGE)
            if dest.exists() or dest.is_symlink():
                dest.unlink()
            os.symlink(link_target, dest)
    return written
