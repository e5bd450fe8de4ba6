"""Progress of ``locallambda state export`` and ``state import``: the bytes transferred on stderr,
on a terminal (a pseudo-terminal here) or with ``--progress``, and nothing otherwise.

The state holds a function whose code does not compress (3 MB of random bytes), so that the
transfer takes many chunks; the commands run as their own processes, as from a shell.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from locallambda.cli.output import Progress, format_size
from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.invoke.conftest import EXECUTOR, HOST_PYTHON_RUNTIME, stop_checked, unique

LINE = re.compile(r"(exporting|importing): ([0-9.]+ [KMG]?i?B) of ([0-9.]+ [KMG]?i?B) \((\d+)%\)")


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    server = Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR}).start()
    try:
        client = server.client()
        name = unique("progress")
        code = make_zip(
            {"handler.py": "def handler(event, context):\n    return 1\n", "blob.bin": os.urandom(3_000_000)}
        )
        client.create_function(
            FunctionName=name, Runtime=HOST_PYTHON_RUNTIME, Role=ROLE, Handler="handler.handler", Code={"ZipFile": code}
        )
        wait_active(client, name)
        yield server
    finally:
        stop_checked(server)


def state(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """``locallambda state ARGS``, its stderr a pipe."""
    return subprocess.run(
        [sys.executable, "-m", "locallambda", "state", *args, "--endpoint-url", srv.url],
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def on_a_terminal(srv: Server, *args: str) -> str:
    """What ``locallambda state ARGS`` writes to its stderr (and stdout) when they are a terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locallambda", "state", *args, "--endpoint-url", srv.url],
        env=srv.env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(60) == 0
    return b"".join(chunks).decode(errors="replace")


def progress_of(text: str, label: str) -> list[tuple[str, str, int]]:
    """The (done, total, percent) of each progress line of ``label`` in ``text``."""
    return [(done, total, int(pct)) for what, done, total, pct in LINE.findall(text) if what == label]


def test_export_and_import_show_progress_with_the_flag(srv: Server, tmp_path: Path) -> None:
    path = tmp_path / "state.zip"
    out = state(srv, "export", str(path), "--progress")
    assert out.returncode == 0, out.stderr
    size = format_size(path.stat().st_size)
    lines = progress_of(out.stderr, "exporting")
    assert lines, out.stderr
    # Not on a terminal: whole lines, the last one the total, before the summary.
    assert "\r" not in out.stderr
    assert lines[-1] == (size, size, 100), out.stderr
    assert [pct for _, _, pct in lines] == sorted(pct for _, _, pct in lines)
    assert out.stderr.rstrip().splitlines()[-1].startswith("exported 1 functions"), out.stderr

    out = state(srv, "import", str(path), "--progress")
    assert out.returncode == 0, out.stderr
    lines = progress_of(out.stderr, "importing")
    assert lines and lines[-1] == (size, size, 100), out.stderr
    assert out.stderr.rstrip().splitlines()[-1] == "imported 1 functions, 0 layers, 0 event source mappings (replace)"


def test_no_progress_on_a_pipe_without_the_flag(srv: Server, tmp_path: Path) -> None:
    path = tmp_path / "state.zip"
    out = state(srv, "export", str(path))
    assert out.returncode == 0 and not progress_of(out.stderr, "exporting"), out.stderr
    assert out.stderr.startswith("exported 1 functions"), out.stderr
    out = state(srv, "import", str(path), "--merge")
    assert out.returncode == 0 and out.stderr.startswith("imported 1 functions"), out.stderr


def test_progress_on_a_terminal_is_one_line_rewritten(srv: Server, tmp_path: Path) -> None:
    path = tmp_path / "state.zip"
    text = on_a_terminal(srv, "export", str(path))
    size = format_size(path.stat().st_size)
    # Each update starts at the line's beginning and clears what is left of the previous one;
    # the last one (the total) ends the line, and the summary follows on its own.
    assert text.startswith("\rexporting: "), repr(text)
    assert f"\rexporting: {size} of {size} (100%)\x1b[K\r\nexported 1 functions" in text, repr(text)
    text = on_a_terminal(srv, "import", str(path))
    assert f"\rimporting: {size} of {size} (100%)\x1b[K\r\nimported 1 functions" in text, repr(text)


def test_progress_lines_are_spaced_in_time() -> None:
    """In process, on a clock of the test's: off a terminal a line a second at most, and the
    final count unless the last line said it; nothing at all when not asked for."""
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(stream, "exporting", 4096, forced=True, clock=lambda: now[0])
    for _ in range(4):
        progress.advance(512)  # at t=0: only the first is shown
    now[0] = 1.0
    progress.advance(1024)
    progress.finish()
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "exporting: 512 B of 4.0 KiB (12%)",
        "exporting: 3.0 KiB of 4.0 KiB (75%)",
    ]
    progress = Progress(stream := io.StringIO(), "exporting", 100, forced=True, clock=lambda: now[0])
    progress.advance(50)
    progress.advance(50)  # within the second: shown by finish
    progress.finish()
    assert stream.getvalue() == "exporting: 50 B of 100 B (50%)\nexporting: 100 B of 100 B (100%)\n"
    quiet = io.StringIO()
    progress = Progress(quiet, "importing", 10)
    progress.advance(10)
    progress.finish()
    assert quiet.getvalue() == ""
    assert [format_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2, 3 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
    ]
