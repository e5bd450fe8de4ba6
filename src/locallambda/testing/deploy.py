"""Functions for the pytest plugin: code packaged from inline source, a directory, a file or a
mapping, the handler and runtime guessed when not given, and a deployed function to invoke.

``package`` raises ``ValueError`` when it cannot tell the handler; ``DeployedFunction.when_active``
raises ``DeployError`` when the function becomes ``Failed`` or is not ``Active`` in time.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import re
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DeployError", "DeployedFunction", "InvokeResult", "package"]

PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
NODE_RUNTIME = "nodejs22.x"
PROVIDED_RUNTIME = "provided.al2023"

_PY_MODULES = ("lambda_function", "app", "index", "handler", "main")
_NODE_FILES = ("index.mjs", "index.js", "index.cjs")
_SKIPPED_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache"}


class DeployError(AssertionError):
    """A function did not become Active (it is Failed, with AWS's StateReason, or still Pending)."""


@dataclasses.dataclass(frozen=True, slots=True)
class InvokeResult:
    """One invocation: the payload (parsed JSON, else the text), the function error, the log tail."""

    payload: Any
    raw: bytes
    status_code: int
    function_error: str | None
    logs: str
    executed_version: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class DeployedFunction:
    """A function the plugin deployed; ``configuration`` is GetFunctionConfiguration's answer."""

    name: str
    arn: str
    configuration: dict[str, Any]
    client: Any = dataclasses.field(repr=False, compare=False)

    @classmethod
    def when_active(cls, client: Any, name: str, timeout: float = 120) -> DeployedFunction:
        deadline = time.monotonic() + timeout
        while True:
            config = client.get_function_configuration(FunctionName=name)
            state = config.get("State")
            if state == "Failed":
                raise DeployError(f"{name} is Failed: {config.get('StateReason')} ({config.get('StateReasonCode')})")
            if state == "Active":
                config.pop("ResponseMetadata", None)
                return cls(name, str(config["FunctionArn"]), config, client)
            if time.monotonic() > deadline:
                raise DeployError(f"{name} is still {state} after {timeout:g} s")
            time.sleep(0.05)

    def invoke(self, event: Any = None, *, qualifier: str | None = None, payload: bytes | None = None) -> InvokeResult:
        """Invoke it synchronously with ``event`` as JSON (or the bytes ``payload``) and the log tail."""
        params: dict[str, Any] = {"FunctionName": self.name, "LogType": "Tail"}
        if qualifier:
            params["Qualifier"] = qualifier
        if payload is not None:
            params["Payload"] = payload
        elif event is not None:
            params["Payload"] = json.dumps(event).encode()
        resp = self.client.invoke(**params)
        raw: bytes = resp["Payload"].read()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        logs = base64.b64decode(resp["LogResult"]).decode(errors="replace") if resp.get("LogResult") else ""
        return InvokeResult(
            parsed, raw, int(resp["StatusCode"]), resp.get("FunctionError"), logs, resp.get("ExecutedVersion")
        )


def package(
    code: str | os.PathLike[str] | Mapping[str, str | bytes], *, handler: str | None, runtime: str | None
) -> tuple[bytes, str, str]:
    """(zip, handler, runtime) of ``code``: a ``str`` is inline source; a directory is zipped
    (file modes kept); a ``.zip`` file is taken as it is; another file is the one module; a
    mapping is file name → content. Raises ``ValueError`` when the handler cannot be told."""
    if isinstance(code, str):
        return _inline(code, handler, runtime)
    if isinstance(code, Mapping):
        files = {name: (text.encode() if isinstance(text, str) else text, 0o644) for name, text in code.items()}
        return _guessed(files, handler, runtime)
    path = Path(code)
    if path.is_dir():
        return _guessed(_tree(path), handler, runtime)
    if path.suffix == ".zip":
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {n: (zf.read(n) if n.endswith(".py") else b"", 0o644) for n in zf.namelist() if "/" not in n}
        _, guessed_handler, guessed_runtime = _guessed(names, handler, runtime)
        return data, guessed_handler, guessed_runtime
    return _guessed({path.name: (path.read_bytes(), path.stat().st_mode & 0o777)}, handler, runtime)


def _inline(source: str, handler: str | None, runtime: str | None) -> tuple[bytes, str, str]:
    runtime = runtime or PYTHON_RUNTIME
    if runtime.startswith("nodejs"):
        name = "index.mjs" if re.search(r"^\s*export\s", source, re.M) else "index.js"
    elif runtime.startswith("provided"):
        name = "bootstrap"
    else:
        name = "index.py"
    mode = 0o755 if name == "bootstrap" else 0o644
    return _guessed({name: (source.encode(), mode)}, handler, runtime)


def _guessed(files: dict[str, tuple[bytes, int]], handler: str | None, runtime: str | None) -> tuple[bytes, str, str]:
    guess = _guess(files)
    if handler is None:
        if guess is None:
            raise ValueError(f"cannot tell the handler of {sorted(files)[:10]}: pass handler=")
        handler = guess[0]
    if runtime is None:
        runtime = guess[1] if guess is not None else PYTHON_RUNTIME
    return _zip(files), handler, runtime


def _guess(files: Mapping[str, tuple[bytes, int]]) -> tuple[str, str] | None:
    for module in _PY_MODULES:
        if f"{module}.py" in files:
            return f"{module}.{_python_function(files[f'{module}.py'][0])}", PYTHON_RUNTIME
    for name in _NODE_FILES:
        if name in files:
            return "index.handler", NODE_RUNTIME
    if "bootstrap" in files:
        return "bootstrap", PROVIDED_RUNTIME
    modules = [n for n in files if n.endswith(".py") and "/" not in n]
    if len(modules) == 1:
        return f"{modules[0][:-3]}.{_python_function(files[modules[0]][0])}", PYTHON_RUNTIME
    return None


def _python_function(source: bytes) -> str:
    if re.search(rb"^(async\s+)?def\s+lambda_handler\s*\(", source, re.M):
        return "lambda_handler"
    return "handler"


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            files[path.relative_to(root).as_posix()] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return files


def _zip(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (mode | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()
