"""Safe extraction of untrusted code archives.

A zip from a user may try to escape the target directory (``../x``, absolute names, symlinks
pointing outside, chains of symlinks that only point outside once all exist), or expand without
bound. Every entry name is checked before a byte is written; the limit on unzipped size is
enforced on the declared sizes and again on the bytes actually written (declared sizes can lie);
only the STORED and DEFLATED methods are accepted, because Python's bzip2 and LZMA readers
decompress a whole read at once with no output bound. File modes (the executable bit) are kept.

Every failure is raised as AWS's ``InvalidParameterValueException``: a corrupt or hostile archive
as ``Could not unzip uploaded file. Please check your file, then try to upload again.``, an
oversized one as ``Unzipped size must be smaller than <limit> bytes``.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from locallambda.errors import InvalidParameterValueError

__all__ = ["BAD_ZIP_MESSAGE", "check_zip", "extract_zip", "unzipped_size"]

BAD_ZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 16
_MAX_ENTRIES = 100_000
# zipfile bounds the output of each read only for these two methods.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# What a broken or hostile archive can raise while it is read or written out.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    ValueError,
    OSError,
    UnicodeDecodeError,
)


def _bad_zip() -> InvalidParameterValueError:
    return InvalidParameterValueError(BAD_ZIP_MESSAGE)


def _too_big(limit: int) -> InvalidParameterValueError:
    return InvalidParameterValueError(f"Unzipped size must be smaller than {limit} bytes")


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise _bad_zip() from exc


def _safe_name(name: str) -> PurePosixPath | None:
    """The entry's relative path, or ``None`` when it would land outside the target or has no
    name at all (zipfile cuts a name at its first NUL, so that is an empty name too)."""
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        return None
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _checked_infos(zf: zipfile.ZipFile, limit: int) -> list[zipfile.ZipInfo]:
    """Entries after the checks that need no decompression: count, names, methods, declared size."""
    infos = zf.infolist()
    if len(infos) > _MAX_ENTRIES:
        raise _bad_zip()
    total = 0
    for info in infos:
        if _safe_name(info.filename) is None or info.compress_type not in _METHODS:
            raise _bad_zip()
        total += info.file_size
    if total >= limit:
        raise _too_big(limit)
    return infos


def unzipped_size(data: bytes) -> int:
    """Sum of the declared uncompressed sizes. Raises ``InvalidParameterValueError`` for a bad zip."""
    with _open(data) as zf:
        return sum(i.file_size for i in zf.infolist())


def check_zip(data: bytes, limit: int) -> int:
    """Validate an archive without writing anything; returns the declared unzipped size.

    Reads every entry once (CRC check). Raises ``InvalidParameterValueError`` with AWS's text for
    a corrupt archive, an entry that escapes, an unsupported compression method, or a declared
    size at or over ``limit``.
    """
    with _open(data) as zf:
        infos = _checked_infos(zf, limit)
        try:
            bad = zf.testzip()
        except _READ_ERRORS as exc:
            raise _bad_zip() from exc
        if bad is not None:
            raise _bad_zip()
        return sum(i.file_size for i in infos)


def extract_zip(data: bytes, target: Path, limit: int) -> int:
    """Extract ``data`` into ``target`` (created), refusing escapes; returns bytes written.

    Symlinks are recreated only when, once every entry exists, each of them resolves inside
    ``target`` (a later link can redirect an earlier one, so they are checked again at the end).
    Raises ``InvalidParameterValueError`` (AWS's texts) for corrupt archives, escaping entries
    and archives whose content reaches ``limit`` bytes; the caller removes ``target`` then.
    """
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    written = 0
    with _open(data) as zf:
        infos = _checked_infos(zf, limit)
        links: list[tuple[Path, str]] = []
        try:
            for info in infos:
                rel = _safe_name(info.filename)
                assert rel is not None  # _checked_infos refused the others
                dest = root / rel
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                if _is_symlink(info):
                    links.append((dest, zf.read(info).decode("utf-8")))
                    continue
                mode = (info.external_attr >> 16) & 0o777 if info.create_system == 3 else 0
                with zf.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written >= limit:
                            raise _too_big(limit)
                        out.write(chunk)
                # AWS keeps the archive's modes; entries without Unix modes become 0644.
                os.chmod(dest, (mode or 0o644) | 0o400)
            for dest, link_target in links:
                if not link_target or os.path.isabs(link_target) or "\x00" in link_target:
                    raise _bad_zip()
                if not (dest.parent / link_target).resolve().is_relative_to(root):
                    raise _bad_zip()
                if dest.is_symlink() or dest.is_file():
                    dest.unlink()
                os.symlink(link_target, dest)
            # Links created later may have redirected earlier ones (a -> "b/..", then b -> "."):
            # judge every link on the finished tree.
            for dest, _ in links:
                if not dest.resolve(strict=False).is_relative_to(root):
                    raise _bad_zip()
        except InvalidParameterValueError:
            raise
        except _READ_ERRORS as exc:  # corrupt data, bad CRC, name clashes, symlink loops
            raise _bad_zip() from exc
    return written
