"""Hot reloading (LocalStack's ``hot-reload`` bucket): the code is a local directory, and a change
to it reaches the next invoke without any API call."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from tests.conftest import ROLE, wait_active
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions

VERSION = "def handler(event, context):\n    return {{'version': {n}}}\n"


def test_changed_code_is_served_without_an_update(functions: Functions, tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "handler.py").write_text(VERSION.format(n=1))
    c = functions.client
    name = "hot-reload-" + os.urandom(4).hex()
    cfg = c.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(code)},
    )
    functions.names.append(name)
    assert cfg["CodeSha256"] == "hot-reloading-hash-not-available"
    wait_active(c, name)
    assert functions.invoke_json(name, {}) == {"version": 1}
    assert functions.invoke_json(name, {}) == {"version": 1}  # warm

    (code / "handler.py").write_text(VERSION.format(n=2))
    deadline = time.monotonic() + 10
    seen = None
    while time.monotonic() < deadline:
        seen = functions.invoke_json(name, {})
        if seen == {"version": 2}:
            break
        time.sleep(0.2)
    assert seen == {"version": 2}, json.dumps(seen)


def _hot_function(functions: Functions, code: Path) -> str:
    name = "hot-reload-" + os.urandom(4).hex()
    functions.client.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(code)},
    )
    functions.names.append(name)
    wait_active(functions.client, name)
    return name


def _until(functions: Functions, name: str, want: object, timeout: float = 10) -> object:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = functions.invoke_json(name, {})
        if seen == want:
            break
        time.sleep(0.05)
    return seen


IDENTITY = """\
import os, helpers.value as value
BORN = os.urandom(4).hex()

def handler(event, context):
    return {"born": BORN, "value": value.VALUE}
"""


def test_a_change_in_a_new_subdirectory_is_noticed_and_bytecode_is_not_a_change(
    functions: Functions, tmp_path: Path
) -> None:
    """Changes deep in the tree count, in directories made after watching began too; what the
    function's own imports write (``__pycache__``) does not retire its environment."""
    code = tmp_path / "fn"
    (code / "helpers").mkdir(parents=True)
    (code / "helpers" / "__init__.py").write_text("")
    (code / "helpers" / "value.py").write_text("VALUE = 1\n")
    (code / "handler.py").write_text(IDENTITY)
    name = _hot_function(functions, code)
    first = functions.invoke_json(name, {})
    assert first["value"] == 1
    time.sleep(1.2)  # longer than any debounce or poll: bytecode written by the import settled
    assert functions.invoke_json(name, {}) == first  # the same environment: not reloaded

    (code / "helpers" / "value.py").write_text("VALUE = 2\n")
    seen = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = functions.invoke_json(name, {})
        if seen["value"] == 2:
            break
        time.sleep(0.05)
    assert seen is not None and seen["value"] == 2 and seen["born"] != first["born"]

    (code / "more" / "deeper").mkdir(parents=True)  # a directory that did not exist before
    time.sleep(0.1)
    born = seen["born"]
    (code / "more" / "deeper" / "data.txt").write_text("x")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = functions.invoke_json(name, {})
        if seen["born"] != born:
            break
        time.sleep(0.05)
    assert seen["born"] != born


def test_a_directory_removed_and_made_again_is_still_watched(functions: Functions, tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "handler.py").write_text(VERSION.format(n=1))
    name = _hot_function(functions, code)
    assert functions.invoke_json(name, {}) == {"version": 1}
    shutil.rmtree(code)
    time.sleep(0.3)
    code.mkdir()
    (code / "handler.py").write_text(VERSION.format(n=3))
    assert _until(functions, name, {"version": 3}) == {"version": 3}
