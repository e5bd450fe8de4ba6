"""Unit tests of safe archive extraction (store/archive.py) and the code store (store/code.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from locallambda.errors import InvalidParameterValueError
from locallambda.store.archive import BAD_ZIP_MESSAGE, check_zip, extract_zip, unzipped_size
from locallambda.store.code import CodeStore

LIMIT = 1 << 20


def build(entries: list[tuple[str, bytes | str, int | None]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of (name, content, unix mode or None) entries; a mode with S_IFLNK makes a symlink."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            if mode is None:
                info.create_system = 0  # as made on Windows: no Unix mode bits
            else:
                info.create_system = 3
                info.external_attr = mode << 16
            zf.writestr(info, content)
    return buf.getvalue()


def files(**contents: str) -> bytes:
    return build([(name.replace("__", "/"), text, stat.S_IFREG | 0o644) for name, text in contents.items()])


def link(name: str, target: str) -> tuple[str, str, int]:
    return (name, target, stat.S_IFLNK | 0o777)


def refused(data: bytes, target: Path, limit: int = LIMIT) -> str:
    with pytest.raises(InvalidParameterValueError) as e:
        extract_zip(data, target, limit)
    return e.value.message


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture()
def target(tmp_path: Path) -> Path:
    return tmp_path / "sandbox" / "tree"


# -- good archives --------------------------------------------------------------------------


def test_extracts_files_dirs_and_modes(target: Path) -> None:
    data = build(
        [
            ("handler.py", "def handler(e, c): pass\n", stat.S_IFREG | 0o644),
            ("bin/", b"", stat.S_IFDIR | 0o755),
            ("bin/run", "#!/bin/sh\n", stat.S_IFREG | 0o755),
            ("lib/deep/mod.py", "x = 1\n", None),  # made on Windows: no Unix mode
            ("./dot/slash.txt", "ok", stat.S_IFREG | 0o600),
        ]
    )
    written = extract_zip(data, target, LIMIT)
    assert written == len("def handler(e, c): pass\n") + len("#!/bin/sh\n") + len("x = 1\n") + 2
    assert stat.S_IMODE((target / "bin" / "run").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "handler.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "lib" / "deep" / "mod.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "dot" / "slash.txt").stat().st_mode) == 0o600
    assert (target / "lib" / "deep" / "mod.py").read_text() == "x = 1\n"


def test_mode_without_owner_read_gets_it(target: Path) -> None:
    extract_zip(build([("f", "x", stat.S_IFREG | 0o044)]), target, LIMIT)
    assert stat.S_IMODE((target / "f").stat().st_mode) == 0o444


def test_symlinks_inside_are_kept(target: Path) -> None:
    data = build([("pkg/real.py", "x", stat.S_IFREG | 0o644), link("alias.py", "pkg/real.py"), link("pkg/up", "..")])
    extract_zip(data, target, LIMIT)
    assert os.readlink(target / "alias.py") == "pkg/real.py"
    assert (target / "alias.py").read_text() == "x"
    assert (target / "pkg" / "up").resolve() == target.resolve()


def test_check_zip_returns_declared_size_and_writes_nothing(tmp_path: Path) -> None:
    data = files(a="12345", b__c="678")
    before = listing(tmp_path)
    assert check_zip(data, LIMIT) == 8
    assert unzipped_size(data) == 8
    assert listing(tmp_path) == before


# -- escapes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/etc/evil", "C:\\evil", "..\\evil", "a/../../../evil"])
def test_names_that_escape(target: Path, name: str) -> None:
    data = build([("ok.py", "x", None), (name, "evil", None)])
    assert refused(data, target) == BAD_ZIP_MESSAGE
    assert not list(target.parent.parent.rglob("evil")), "wrote outside the target"
    assert not list(target.rglob("*")), "nothing is written when one name escapes"
    with pytest.raises(InvalidParameterValueError):
        check_zip(data, LIMIT)


@pytest.mark.parametrize(
    "links",
    [
        [link("passwd", "/etc/passwd")],
        [link("up", "../../outside")],
        [link("deep/up", "../../x")],
        # each alone resolves inside; once both exist, "a" is the parent of the tree
        [link("a", "b/.."), link("b", ".")],
        [link("b", "."), link("a", "b/..")],
        [link("a", "b"), link("b", "a")],  # a loop
        [link("a", "a")],
        [link("empty", "")],
    ],
)
def test_symlinks_that_escape(target: Path, links: list[tuple[str, str, int]]) -> None:
    data = build([("handler.py", "x", stat.S_IFREG | 0o644), *links])
    assert refused(data, target) == BAD_ZIP_MESSAGE


def test_file_written_through_a_directory_symlink_is_refused(target: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = build([link("d", str(outside)), ("d/evil", "x", None)])
    assert refused(data, target) == BAD_ZIP_MESSAGE
    assert not (outside / "evil").exists()


# -- corrupt and hostile content ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a zipfile, just a random string",
        b"PK\x03\x04" + bytes(100),
        files(a="x" * 1000)[:-30],  # truncated central directory
    ],
)
def test_corrupt_archives(target: Path, data: bytes) -> None:
    assert refused(data, target) == BAD_ZIP_MESSAGE


def test_bad_crc(target: Path) -> None:
    data = bytearray(build([("a.txt", "hello world " * 10, None)], method=zipfile.ZIP_STORED))
    offset = data.index(b"hello world")
    data[offset] ^= 0xFF
    assert refused(bytes(data), target) == BAD_ZIP_MESSAGE
    with pytest.raises(InvalidParameterValueError):
        check_zip(bytes(data), LIMIT)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_methods_without_an_output_bound_are_refused(target: Path, method: int) -> None:
    # bzip2 turns a few bytes into megabytes in one read call; only STORED and DEFLATED pass.
    data = build([("a", bytes(1000), None)], method=method)
    assert refused(data, target) == BAD_ZIP_MESSAGE


def test_name_clash_between_file_and_directory(target: Path) -> None:
    data = build([("a", "file", None), ("a/b", "under a file", None)])
    assert refused(data, target) == BAD_ZIP_MESSAGE


def test_entry_named_like_the_root(target: Path) -> None:
    assert refused(build([(".", "x", None)]), target) == BAD_ZIP_MESSAGE


def test_encrypted_entry(target: Path) -> None:
    data = bytearray(build([("a", "secret", None)]))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(sig) + flag_at
        data[at] |= 0x01  # "encrypted" bit
    assert refused(bytes(data), target) == BAD_ZIP_MESSAGE


# -- sizes --------------------------------------------------------------------------------


def test_declared_size_over_the_limit(target: Path) -> None:
    data = build([("zeros", bytes(LIMIT), None)])  # honest headers: 1 MB of zeros, 1 KB zipped
    assert len(data) < 5000
    assert refused(data, target) == f"Unzipped size must be smaller than {LIMIT} bytes"
    assert not list(target.rglob("*"))
    with pytest.raises(InvalidParameterValueError, match="Unzipped size"):
        check_zip(data, LIMIT)


def test_sum_of_entries_counts(target: Path) -> None:
    data = build([(f"f{i}", bytes(LIMIT // 4), None) for i in range(4)])
    assert refused(data, target) == f"Unzipped size must be smaller than {LIMIT} bytes"
    extract_zip(build([(f"f{i}", bytes(LIMIT // 4), None) for i in range(3)]), target, LIMIT)


def lie(data: bytes, real: int, declared: int, fix_crc: bool) -> bytes:
    out = bytearray(data)
    local, central = out.index(b"PK\x03\x04"), out.index(b"PK\x01\x02")
    assert out[central + 24 : central + 28] == struct.pack("<I", real)
    out[local + 22 : local + 26] = out[central + 24 : central + 28] = struct.pack("<I", declared)
    if fix_crc:
        out[local + 14 : local + 18] = out[central + 16 : central + 20] = struct.pack("<I", zlib.crc32(bytes(declared)))
    return bytes(out)


def test_lying_declared_size_never_expands(target: Path) -> None:
    real = 8 * LIMIT
    data = build([("bomb", bytes(real), None)])
    # The CRC of the whole data no longer matches what the declared size lets out: corrupt.
    assert refused(lie(data, real, 100, fix_crc=False), target) == BAD_ZIP_MESSAGE
    # A lie consistent with itself is cut at the declared size: 100 bytes, not 8 MB.
    written = extract_zip(lie(data, real, 100, fix_crc=True), target / "second", LIMIT)
    assert written == 100 and (target / "second" / "bomb").stat().st_size == 100


def test_too_many_entries(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from locallambda.store import archive

    monkeypatch.setattr(archive, "_MAX_ENTRIES", 3)
    assert refused(build([(f"f{i}", "x", None) for i in range(4)]), target) == BAD_ZIP_MESSAGE


# -- the code store -------------------------------------------------------------------------


def test_code_store_put_and_dedupe(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    data = build([("handler.py", "x = 1\n", stat.S_IFREG | 0o755)])
    stored = store.put_zip(data, LIMIT)
    digest = hashlib.sha256(data)
    assert stored.sha256_hex == digest.hexdigest()
    assert stored.sha256_b64 == base64.b64encode(digest.digest()).decode()
    assert (stored.size, stored.unzipped_size) == (len(data), 6)
    assert store.read_zip(stored.sha256_hex) == data
    tree = store.tree_path(stored.sha256_hex)
    assert stat.S_IMODE((tree / "handler.py").stat().st_mode) == 0o755
    again = store.put_zip(data, LIMIT)
    assert again == stored
    assert store.read_zip("0" * 64) is None


def test_code_store_refusal_leaves_nothing(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code")
    before = listing(tmp_path)
    for bad in (build([("../evil", "x", None)]), b"garbage", build([("z", bytes(LIMIT), None)])):
        with pytest.raises(InvalidParameterValueError):
            store.put_zip(bad, LIMIT)
    assert listing(tmp_path) == before
