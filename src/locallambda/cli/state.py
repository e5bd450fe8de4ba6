"""``locallambda state export FILE`` and ``locallambda state import FILE [--merge]`` (issue 12).

The whole Lambda state of a running server as one file (``GET /_aws/lambda/state``), and such a
file applied to a server (``POST /_aws/lambda/state?mode=replace|merge``): ``edge/state.py``
describes the endpoints, ``control/state_archive.py`` the file. ``FILE`` may be ``-``: the file
on stdout (export) or read from stdin (import). An export is written next to ``FILE`` and
renamed into place, so an interrupted one leaves no half file. A summary goes to stderr.

Both show the bytes transferred so far on stderr (``cli/output.py``'s ``Progress``) when it is a
terminal, or with ``--progress`` wherever it goes: the download of an export, the upload of an
import (the server then applies it before it answers).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from locallambda.cli.output import Progress
from locallambda.cli.remote import CliError, Remote

__all__ = ["register", "run"]

PATH = "/_aws/lambda/state"
TIMEOUT_S = 600.0  # an import extracts every code archive
CHUNK = 64 * 1024  # bytes read or sent between two looks at the progress
_PROGRESS_HELP = "show the bytes transferred on stderr even when it is not a terminal"


def register(parser: argparse.ArgumentParser, remote_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``export`` and ``import`` under the ``state`` command's ``parser``; ``remote_options``
    gives each the options every client command takes."""
    sub = parser.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    exp = sub.add_parser("export", help="write the whole Lambda state to FILE", description=export.__doc__)
    exp.add_argument("file", help="the state file to write (- for stdout)")
    exp.add_argument("--progress", action="store_true", help=_PROGRESS_HELP)
    remote_options(exp)
    imp = sub.add_parser("import", help="apply a state file (replacing the Lambda state)", description=import_.__doc__)
    imp.add_argument("file", help="the state file to read (- for stdin)")
    imp.add_argument("--merge", action="store_true", help="add to the server's state instead of replacing it")
    imp.add_argument("--progress", action="store_true", help=_PROGRESS_HELP)
    remote_options(imp)


def run(args: argparse.Namespace, remote: Remote) -> int:
    return export(args, remote) if args.state_command == "export" else import_(args, remote)


def export(args: argparse.Namespace, remote: Remote) -> int:
    """Write the server's functions, versions, aliases, layers, mappings, policies, tags and
    settings, with their code, to one file."""
    data = _call(remote, "GET", PATH, None, Progress(sys.stderr, "exporting", forced=args.progress))
    counts = _counts(data)
    if args.file == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        _write(Path(args.file), data)
    where = "stdout" if args.file == "-" else args.file
    print(f"exported {_summary(counts)} ({len(data)} bytes) to {where}", file=sys.stderr)
    return 0


def import_(args: argparse.Namespace, remote: Remote) -> int:
    """Apply a state file written by ``state export``: it replaces the server's Lambda state,
    or with --merge is added to it (the file wins where both have the same resource)."""
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    mode = "merge" if args.merge else "replace"
    progress = Progress(sys.stderr, "importing", len(data), forced=args.progress)
    answer = json.loads(_call(remote, "POST", f"{PATH}?mode={mode}", data, progress))
    print(f"imported {_summary(answer)} ({mode})", file=sys.stderr)
    return 0


def _call(remote: Remote, method: str, path: str, body: bytes | None, progress: Progress) -> bytes:
    """The answer's body; ``progress`` counts the bytes sent (a ``body``) or else received.
    Raises ``CliError``."""
    req = urllib.request.Request(remote.url + path, data=_sent(body, progress) if body else body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/zip")
        req.add_header("Content-Length", str(len(body)))  # urllib's rule for an iterable body
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            if body is not None:
                return bytes(resp.read())
            length = resp.headers.get("Content-Length")
            progress.total = int(length) if length and length.isdigit() else None
            chunks = []
            while chunk := resp.read(CHUNK):
                chunks.append(chunk)
                progress.advance(len(chunk))
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise CliError(f"{method} {path.partition('?')[0]} answered {exc.code}: {_message(exc.read())}") from None
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CliError(f"cannot reach {remote.url}: {reason} (is `locallambda start` running?)") from None
    finally:
        progress.finish()  # the line ends before whatever follows it


def _sent(body: bytes, progress: Progress) -> Iterator[bytes]:
    """``body`` in chunks, each counted once it is handed to the connection."""
    view = memoryview(body)
    for start in range(0, len(body), CHUNK):
        yield bytes(view[start : start + CHUNK])
        progress.advance(min(CHUNK, len(body) - start))
    progress.finish()


def _message(raw: bytes) -> str:
    text = raw.decode(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(no body)"
    if isinstance(body, dict):
        for key in ("Message", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return text.strip()[:300]


def _counts(data: bytes) -> dict[str, int]:
    """The counts the file's manifest states (empty when it cannot be read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
        return {str(k): int(v) for k, v in manifest.get("Counts", {}).items()}
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError):
        return {}


def _summary(counts: dict[str, int]) -> str:
    parts = [
        f"{counts.get(key, 0)} {label}"
        for key, label in (
            ("Functions", "functions"),
            ("Layers", "layers"),
            ("EventSourceMappings", "event source mappings"),
        )
    ]
    return ", ".join(parts)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, renamed."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
