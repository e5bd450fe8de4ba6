"""Fixtures of the invocation tests: servers that run functions for real, and function factories.

Each test module gets its own server with ``LAMBDA_SYNCHRONOUS_CREATE=1`` (a function is Active
as soon as CreateFunction returns), so functions can be invoked at once. Tests that need other
settings (keep-alive, stay-open, limits) start private servers through ``spawn_server``.

Every server is stopped by ``stop_checked``, which fails the test when a runtime process the
server started is still alive afterwards: shutting down must leave nothing behind.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip, wait_active, wait_updated

__all__ = [
    "EXECUTOR",
    "HOST_PYTHON_RUNTIME",
    "Functions",
    "decode_tail",
    "runtime_processes",
    "stop_checked",
    "unique",
]

# The runtime that runs on the host's own interpreter (no "python3.x not found" fallback).
HOST_PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

# These tests prove the process executor (LAMBDA_EXECUTOR=local) unless told otherwise, e.g.
# LOCALLAMBDA_TEST_EXECUTOR=sandbox runs the same invocations in the sandbox executor.
EXECUTOR = os.environ.get("LOCALLAMBDA_TEST_EXECUTOR", "local")

# The AWS CLI retries throttles and 5xx with backoff; the tests want the first answer.
CLI_ENV = {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}


# -- processes --------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (ppid, cmdline) of every process we can see."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # the command name in stat may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie is gone for our purposes
            continue
        table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def _descendants(root: int) -> dict[int, str]:
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = table[pid][1]
        todo.extend(children.get(pid, []))
    return found


def runtime_processes(server: Server) -> dict[int, str]:
    """Processes whose environment points back at ``server`` (the runtimes it started), and the
    zygotes of ``server`` that became runtimes (``executors/zygotes.py``: their environment was
    set after they started, so /proc shows the zygote's; one that became a runtime has its stdin
    from /dev/null, while an idle one reads its job from a pipe and a fork server its requests
    from a socket)."""
    needle = f"AWS_ENDPOINT_URL={server.url}\0".encode()
    children = _descendants(server.proc.pid) if server.proc is not None else {}
    found: dict[int, str] = {}
    for pid, (_, cmdline) in _proc_table().items():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            became = pid in children and "_zygote" in cmdline and os.readlink(f"/proc/{pid}/fd/0") == os.devnull
        except OSError:
            continue
        if needle in environ + b"\0" or became:
            found[pid] = cmdline
    return found


def stop_checked(server: Server, timeout: float = 5.0) -> None:
    """Stop ``server`` and assert that no process it started (awslambdaric, node, java, a
    bootstrap and what that started) outlives it."""
    if server.proc is None:
        return
    started = _descendants(server.proc.pid)
    started.update(runtime_processes(server))
    server.stop()
    deadline = time.monotonic() + timeout
    alive: dict[int, str] = {}
    while time.monotonic() < deadline:
        table = _proc_table()
        alive = {pid: cmd for pid, cmd in started.items() if pid in table and table[pid][1] == cmd}
        alive.update(runtime_processes(server))
        if not alive:
            return
        time.sleep(0.05)
    for pid in alive:  # do not leak them into other tests
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    raise AssertionError(f"processes outlived the server on port {server.port}: {alive}")


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    """A server of this test module; functions are Active when CreateFunction returns."""
    server = Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR, **CLI_ENV}).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def client(srv: Server) -> Any:
    return srv.client()


@pytest.fixture()
def spawn_server() -> Iterator[Callable[..., Server]]:
    """Start private servers with extra settings; each is stopped (and checked) after the test."""
    servers: list[Server] = []

    def spawn(**env: str) -> Server:
        server = Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR, **CLI_ENV, **env})
        servers.append(server)
        return server.start()

    yield spawn
    errors = []
    for server in servers:
        try:
            stop_checked(server)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, errors


# -- functions --------------------------------------------------------------------------------


def unique(prefix: str = "fn") -> str:
    return f"{prefix[:40]}-{uuid.uuid4().hex[:8]}"


class Functions:
    """Creates functions on one server and deletes them at the end of the test."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.client = server.client()
        self.names: list[str] = []

    def create(
        self,
        code: dict[str, str | bytes] | bytes,
        *,
        name: str | None = None,
        runtime: str = HOST_PYTHON_RUNTIME,
        handler: str = "handler.handler",
        timeout: int = 3,
        memory: int = 128,
        env: dict[str, str] | None = None,
        modes: dict[str, int] | None = None,
        wait: bool = True,
        **kw: Any,
    ) -> str:
        """Create a function (code: files or a zip) and wait until it is Active; returns its name."""
        name = name or unique()
        zipped = code if isinstance(code, bytes) else make_zip(code, modes)
        args: dict[str, Any] = dict(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zipped},
            Timeout=timeout,
            MemorySize=memory,
            **kw,
        )
        if env is not None:
            args["Environment"] = {"Variables": env}
        self.client.create_function(**args)
        self.names.append(name)
        if wait:
            wait_active(self.client, name)
        return name

    def python(self, source: str, **kw: Any) -> str:
        """A Python function whose ``handler.py`` is ``source``."""
        return self.create({"handler.py": source}, **kw)

    def update_code(self, name: str, code: dict[str, str | bytes], **kw: Any) -> dict[str, Any]:
        self.client.update_function_code(FunctionName=name, ZipFile=make_zip(code), **kw)
        return wait_updated(self.client, name)

    def invoke(self, name: str, payload: Any = None, **kw: Any) -> dict[str, Any]:
        """Invoke and read the answer: the response dict with ``Payload`` as bytes and ``Log`` decoded."""
        if payload is not None and not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        if payload is not None:
            kw["Payload"] = payload
        out = self.client.invoke(FunctionName=name, **kw)
        out["Payload"] = out["Payload"].read()
        if "LogResult" in out:
            out["Log"] = decode_tail(out["LogResult"])
        return out

    def invoke_json(self, name: str, payload: Any = None, **kw: Any) -> Any:
        out = self.invoke(name, payload, **kw)
        assert "FunctionError" not in out, out["Payload"]
        return json.loads(out["Payload"])

    def cleanup(self) -> None:
        for name in self.names:
            try:
                self.client.delete_function(FunctionName=name)
            except Exception:  # already deleted by the test, or the server is gone
                pass


@pytest.fixture()
def functions(srv: Server) -> Iterator[Functions]:
    fns = Functions(srv)
    yield fns
    fns.cleanup()


def decode_tail(log_result: str) -> str:
    return base64.b64decode(log_result).decode("utf-8", "replace")
