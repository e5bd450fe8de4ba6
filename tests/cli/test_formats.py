"""The CLI's pure parts (log lines, times, tables) and the plugin's packaging of user code, in process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from locallambda.cli.output import Painter, format_time, log_lines, table
from locallambda.testing.deploy import NODE_RUNTIME, PYTHON_RUNTIME, package


def test_a_traceback_event_becomes_red_lines() -> None:
    event = "[ERROR] KeyError: 'x'\rTraceback (most recent call last):\r\xa0\xa0File \"/var/task/h.py\", line 2"
    assert list(log_lines(["START RequestId: r Version: $LATEST", "plain", event])) == [
        ("START RequestId: r Version: $LATEST", "dim"),
        ("plain", ""),
        ("[ERROR] KeyError: 'x'", "red"),
        ("Traceback (most recent call last):", "red"),
        ('\xa0\xa0File "/var/task/h.py", line 2', "red"),
    ]
    # the formats of AWS's Python runtime (logging) and Node's (console.warn, console.error)
    styles = [style for _, style in log_lines(["[WARNING]\t2024-01-01T00:00:00.000Z\tabc\tcareful"])]
    styles += [style for _, style in log_lines(["2024-01-01T00:00:00.000Z\tabc\tWARN\tcareful"])]
    styles += [style for _, style in log_lines(["2024-01-01T00:00:00.000Z\tabc\tERROR\tInvoke Error \t{}"])]
    assert styles == ["yellow", "yellow", "red"]


def test_colours_follow_the_stream() -> None:
    assert Painter(io.StringIO()).paint("x", "red") == "x"  # not a terminal
    assert Painter(io.StringIO(), "always").paint("x", "red") == "\x1b[31mx\x1b[0m"
    out = io.StringIO()
    table(("A", "LONGER"), [("wide cell", "b")], Painter(out, "never"))
    assert out.getvalue() == "A          LONGER\nwide cell  b\n"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2024-01-02T03:04:05.000+0000", "2024-01-02 03:04:05"),  # Lambda's LastModified
        ("2024-01-02T03:04:05.123Z", "2024-01-02 03:04:05"),
        ("2024-01-02T05:04:05+02:00", "2024-01-02 03:04:05"),
        (1704164645, "2024-01-02 03:04:05"),
        (1704164645123, "2024-01-02 03:04:05"),  # milliseconds
        ("yesterday", "yesterday"),
        (None, ""),
    ],
)
def test_times(value: object, shown: str) -> None:
    assert format_time(value) == shown


def _names(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: (info.external_attr >> 16) & 0o777 for info in zf.infolist()}


def test_inline_sources() -> None:
    data, handler, runtime = package("def handler(event, context):\n    return 1\n", handler=None, runtime=None)
    assert (_names(data), handler, runtime) == ({"index.py": 0o644}, "index.handler", PYTHON_RUNTIME)
    _, handler, _ = package("def lambda_handler(event, context):\n    return 1\n", handler=None, runtime=None)
    assert handler == "index.lambda_handler"
    data, handler, runtime = package("export const handler = async () => 1;\n", handler=None, runtime="nodejs20.x")
    assert (list(_names(data)), handler, runtime) == (["index.mjs"], "index.handler", "nodejs20.x")
    data, _, _ = package("exports.handler = async () => 1;\n", handler=None, runtime="nodejs20.x")
    assert list(_names(data)) == ["index.js"]
    data, handler, _ = package("#!/bin/sh\necho\n", handler=None, runtime="provided.al2023")
    assert (_names(data), handler) == ({"bootstrap": 0o755}, "bootstrap")


def test_directories_files_and_mappings(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def lambda_handler(event, context):\n    return 1\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    data, handler, runtime = package(tmp_path, handler=None, runtime=None)
    assert _names(data) == {"app.py": 0o644, "lib/util.py": 0o644, "run.sh": 0o755}
    assert (handler, runtime) == ("app.lambda_handler", PYTHON_RUNTIME)

    assert package({"index.js": "exports.handler = 1"}, handler=None, runtime=None)[1:] == (
        "index.handler",
        NODE_RUNTIME,
    )
    assert package({"worker.py": "def handler(e, c): pass"}, handler=None, runtime=None)[1] == "worker.handler"
    zipped = tmp_path / "built.zip"
    zipped.write_bytes(data)
    assert package(zipped, handler=None, runtime=None) == (data, "app.lambda_handler", PYTHON_RUNTIME)
    with pytest.raises(ValueError, match="cannot tell the handler"):
        package({"a.py": "", "b.py": ""}, handler=None, runtime=None)
    assert package({"a.py": "", "b.py": ""}, handler="a.go", runtime=None)[1:] == ("a.go", PYTHON_RUNTIME)
