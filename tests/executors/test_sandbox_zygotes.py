"""Spare sandboxes with a zygote (``executors/sandbox/zygotes.py``): a Python function's next cold
start comes from a sandbox made ahead for it, a reset in such a sandbox keeps its ``/tmp`` and
starts the runtime again, and spares are kept for the two functions cold-started last.

What the function sees there is a fresh interpreter's: tests/invoke/test_zygotes.py proves it
for the executor the suite runs (``LOCALLAMBDA_TEST_EXECUTOR=sandbox`` in CI's sandbox pass).

Skipped with the reason when this machine cannot run sandboxes, except under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from locallambda.executors.sandbox import SandboxExecutor
from locallambda.executors.sandbox.zygotes import KEPT
from tests.conftest import Server
from tests.invoke.conftest import Functions, _descendants, stop_checked

PROBLEM = SandboxExecutor.supported()

CODE = """\
import os, socket, sys, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    if "hold" in event:  # keep this environment busy until the test lets go
        with socket.create_connection(("127.0.0.1", event["hold"])) as conn:
            conn.recv(1)
        return "released"
    with open("/tmp/marker", "a") as fh:
        fh.write(event["write"] + "\\n")
    hold = [b"\\x01" * (8 << 20) for _ in range(event.get("mb", 0) // 8)]
    with open("/tmp/marker") as fh:
        return {"marker": fh.read().splitlines(), "token": TOKEN, "held": len(hold) * 8,
                "zygote": "_zygote" in sys.orig_argv[4]}
"""


def _server(**env: str) -> Server:
    if PROBLEM is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox executor must work in CI: {PROBLEM}")
        pytest.skip(f"sandbox executor unavailable here: {PROBLEM}")
    return Server(env={"LAMBDA_EXECUTOR": "sandbox", "LAMBDA_SYNCHRONOUS_CREATE": "1", **env}).start()


@pytest.fixture()
def functions() -> Iterator[Functions]:
    server = _server()
    fns = Functions(server)
    try:
        yield fns
    finally:
        fns.cleanup()
        stop_checked(server)


def test_a_second_environment_starts_in_a_spare_and_survives_a_reset(functions: Functions) -> None:
    name = functions.python(CODE, memory=128, timeout=60)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        held: dict[str, Any] = {}
        holder = threading.Thread(
            target=lambda: held.update(functions.invoke(name, {"hold": listener.getsockname()[1]}))
        )
        holder.start()
        conn, _ = listener.accept()  # the first environment (an ordinary cold start) is busy now
        try:
            first = functions.invoke(name, {"write": "b"}, LogType="Tail")
            body = json.loads(first["Payload"])
            assert body["zygote"] and body["marker"] == ["b"], body
            assert "Init Duration" in first["Log"]
            # An out-of-memory kill resets the environment: the same sandbox, its /tmp kept.
            out = functions.invoke(name, {"write": "c", "mb": 1024})
            assert json.loads(out["Payload"])["errorType"] == "Runtime.OutOfMemory", out["Payload"]
            after = functions.invoke(name, {"write": "d", "mb": 16}, LogType="Tail")
            again = json.loads(after["Payload"])
            assert "FunctionError" not in after, again
            assert again["marker"] == ["b", "c", "d"] and again["held"] == 16
            assert again["token"] != body["token"] and again["zygote"]  # started again, as a zygote
            assert "Init Duration" not in after["Log"]
        finally:
            conn.close()
        holder.join(60)
    assert json.loads(held["Payload"]) == "released"


def _spares(server: Server) -> list[int]:
    """The server's zygotes still waiting for a job in a spare sandbox (no runtime in them)."""
    assert server.proc is not None
    procs = _descendants(server.proc.pid)
    waiting = []
    for pid, cmdline in procs.items():
        if "_zygote" not in cmdline:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"AWS_LAMBDA_RUNTIME_API=" not in environ:  # /proc shows a zygote's own environment
            waiting.append(pid)
    return waiting


def test_spares_are_kept_for_the_functions_cold_started_last() -> None:
    server = _server(LAMBDA_KEEPALIVE_MS="0")
    fns = Functions(server)
    try:
        # Each its own code (the same code would make the same sandbox: one spare for them all).
        names = [fns.python(CODE + f"# {n}\n") for n in range(KEPT + 1)]
        for name in names:
            body = fns.invoke_json(name, {"write": name})
            assert not body["zygote"]  # a function's first cold start makes its spare
        again = fns.invoke_json(names[-1], {"write": "again"})
        assert again["zygote"] and again["marker"] == ["again"]  # a new sandbox: its own /tmp
        deadline = time.monotonic() + 30
        while len(_spares(server)) != KEPT and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_spares(server)) == KEPT
        # The first function's spare was disposed of: its next cold start is an ordinary one.
        assert not fns.invoke_json(names[0], {"write": "x"})["zygote"]
    finally:
        fns.cleanup()
        stop_checked(server)
