"""Hot reloading (LocalStack's ``hot-reload`` bucket): the code is a local directory, and a change
to it reaches the next invoke without any API call."""

from __future__ import annotations

import json
import os
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
