"""Faults of functions and runtimes: what is left behind, and what the next invocation sees.

An environment that timed out or whose runtime died is discarded with everything its runtime
started; a runtime that dies between invocations is replaced without the caller noticing; a
server that stops in the middle of an invocation leaves no process behind.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import EXECUTOR, Functions, runtime_processes, stop_checked

# These look at the runtime's processes from the host (pids, /tmp): process executor only.
host_processes = pytest.mark.skipif(EXECUTOR != "local", reason="needs host pids and /tmp (process executor)")

# The handler starts a grandchild (``sleep``) in the runtime's session, then misbehaves.
SPAWNER = """\
import os, subprocess, time

def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])
    with open(event["pidfile"], "w") as fh:
        fh.write(str(child.pid))
    if event["how"] == "hang":
        time.sleep(60)
    if event["how"] == "exit":
        os._exit(2)
    return child.pid
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


@host_processes
def test_timeout_kills_what_the_runtime_started(functions: Functions, tmp_path: Any) -> None:
    name = functions.python(SPAWNER, timeout=1)
    pidfile = tmp_path / "pid"
    out = functions.invoke(name, {"pidfile": str(pidfile), "how": "hang"})
    assert json.loads(out["Payload"])["errorType"] == "Sandbox.Timedout"
    assert wait_gone(int(pidfile.read_text())), "the runtime's child outlived its discarded environment"


@host_processes
def test_runtime_exit_kills_what_it_started(functions: Functions, tmp_path: Any) -> None:
    name = functions.python(SPAWNER)
    pidfile = tmp_path / "pid"
    out = functions.invoke(name, {"pidfile": str(pidfile), "how": "exit"})
    assert json.loads(out["Payload"])["errorType"] == "Runtime.ExitError"
    assert wait_gone(int(pidfile.read_text())), "the dead runtime's child outlived its environment"


def test_runtime_dying_between_invocations_is_replaced(functions: Functions) -> None:
    name = functions.python(
        "import os, threading, time, uuid\n\nTOKEN = uuid.uuid4().hex\n\n"
        "def handler(event, context):\n"
        "    if event.get('die_later'):\n"
        "        threading.Thread(target=lambda: (time.sleep(0.2), os._exit(1))).start()\n"
        "    return TOKEN\n"
    )
    first = functions.invoke_json(name, {"die_later": True})
    time.sleep(0.6)  # the runtime is gone by now
    out = functions.invoke(name, {}, LogType="Tail")
    assert "FunctionError" not in out
    assert json.loads(out["Payload"]) != first
    assert "\tInit Duration: " in out["Log"]  # a new environment, started for this invocation


def test_garbage_output_does_not_hurt(functions: Functions) -> None:
    name = functions.python(
        "import sys\n\ndef handler(event, context):\n"
        "    sys.stdout.buffer.write(bytes(range(256)) * 100 + b'\\r\\n' + b'z' * 300000)\n"
        "    sys.stdout.flush()\n"
        "    return 'still fine'\n"
    )
    for _ in range(3):
        out = functions.invoke(name, {}, LogType="Tail")
        assert json.loads(out["Payload"]) == "still fine"
        assert out["Log"].rstrip("\n").split("\n")[-1].startswith("REPORT RequestId: ")


def test_server_stop_during_invocation_leaves_nothing(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server()
    fns = Functions(server)
    name = fns.python("import os, time\n\ndef handler(event, context):\n    time.sleep(30)\n", timeout=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            fns.invoke(name, {})
        except BaseException as exc:  # the connection drops when the server stops
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not runtime_processes(server) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runtime_processes(server), "the runtime never started"
    started = time.monotonic()
    stop_checked(server)  # asserts that no process of the server survives
    # uvicorn lets in-flight requests finish for up to 5 s (timeout_graceful_shutdown), then cancels them
    assert time.monotonic() - started < 10
    thread.join(10)
    assert not thread.is_alive()


def test_many_failing_functions_at_once(functions: Functions) -> None:
    kinds = {
        "raise": "def handler(event, context):\n    raise ValueError('no')\n",
        "exit": "import os\n\ndef handler(event, context):\n    os._exit(7)\n",
        "import": "import nope_nope\n",
        "ok": "def handler(event, context):\n    return 'ok'\n",
    }
    names = {kind: functions.python(src) for kind, src in kinds.items()}
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}

    def run(kind: str) -> None:
        for _ in range(3):
            results[kind].append(functions.invoke(names[kind], {}))

    threads = [threading.Thread(target=run, args=(k,)) for k in kinds for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(json.loads(r["Payload"])["errorType"] == "ValueError" for r in results["raise"])
    assert all(json.loads(r["Payload"])["errorType"] == "Runtime.ExitError" for r in results["exit"])
    assert all(json.loads(r["Payload"])["errorType"] == "Runtime.ImportModuleError" for r in results["import"])
    assert [json.loads(r["Payload"]) for r in results["ok"]] == ["ok"] * 6
    assert sum(len(v) for v in results.values()) == 24


def test_server_stop_leaves_no_runtime(spawn_server: Callable[..., Server]) -> None:
    """Warm environments of every kind are stopped with the server: no awslambdaric, node or
    bootstrap process of it remains."""
    import shutil

    server = spawn_server()
    fns = Functions(server)
    names = [fns.python("def handler(event, context):\n    return 1\n")]
    if shutil.which("node"):
        names.append(
            fns.create(
                {"index.js": "exports.handler = async () => 1;\n"}, runtime="nodejs20.x", handler="index.handler"
            )
        )
    names.append(
        fns.create(
            {
                "bootstrap": "#!/bin/bash\nAPI=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime\nwhile true; do\n"
                "  RID=$(curl -sS -D - -o /dev/null $API/invocation/next | grep -Fi Lambda-Runtime-Aws-Request-Id"
                " | tr -d '[:space:]' | cut -d: -f2)\n"
                "  curl -sS -o /dev/null -X POST $API/invocation/$RID/response -d 1\ndone\n"
            },
            modes={"bootstrap": 0o755},
            runtime="provided.al2023",
            handler="x.y",
        )
    )
    for name in names:
        assert fns.invoke_json(name, {}) == 1
    running = runtime_processes(server)
    assert any("awslambdaric" in cmd for cmd in running.values()), running
    assert len(running) >= len(names)
    stop_checked(server)
    assert not runtime_processes(server)


SLOW_INIT = "import time\ntime.sleep(10.5)\ndef handler(event, context):\n    return 'initialized late'\n"


def test_init_over_ten_seconds_goes_on_within_the_function_timeout(functions: Functions) -> None:
    """AWS's init phase limit is 10 s; an init still running then continues inside the first
    invocation under the function's timeout, so a 10.5 s init with a 3 s timeout succeeds."""
    name = functions.python(SLOW_INIT, timeout=3)
    started = time.monotonic()
    assert functions.invoke_json(name, {}) == "initialized late"
    assert time.monotonic() - started >= 10
