"""The reset after a failed invocation: the runtime starts again, ``/tmp`` is kept.

AWS (lambda-runtime-environment.html, "Failures during the invoke phase"): when a function
times out or its runtime crashes during an invocation, Lambda resets the execution environment.
It shuts down the runtime, sends SHUTDOWN (with the reason) to the external extensions, and
initializes the runtime and the extensions again as part of the next invocation; that init is
not reported apart (no Init Duration: a "suppressed init", counted in the Duration). The reset
does not clear ``/tmp``.

Every test runs in the executor of ``LOCALLAMBDA_TEST_EXECUTOR`` (the process executor by
default, whose ``/tmp`` is the host's; the sandbox's is a tmpfs of its own, which only the
reset keeps). The files live under a name of their own in ``/tmp``, removed afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_zip
from tests.invoke.conftest import EXECUTOR, Functions

# Appends the event's "write" to its marker file in /tmp and returns the file, its pid and what
# the extension (if any) wrote; then hangs past its timeout, or exits, when the event says so.
MARKER = """\
import json, os, time

def _read(path):
    try:
        with open(path) as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []

def handler(event, context):
    path = os.environ["MARKER"]
    with open(path, "a") as fh:
        fh.write(event["write"] + "\\n")
    if event.get("how") == "hang":
        time.sleep(60)
    if event.get("how") == "exit":
        os._exit(1)
    return {"marker": _read(path), "pid": os.getpid(), "extension": _read(path + ".ext")}
"""

# Notes each start (with its pid) and the SHUTDOWN it gets in the marker's ".ext" file, then exits.
EXTENSION = """\
#!/usr/bin/env python3
import json, os, urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/"

def note(text, create=False):
    # A SHUTDOWN after the test (its function deleted) finds the file gone and leaves it so.
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
    try:
        fd = os.open(os.environ["MARKER"] + ".ext", flags, 0o644)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\\n")

note(f"start {os.getpid()}", create=True)
register = urllib.request.Request(api + "register", data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                                  headers={"Lambda-Extension-Name": "reset-ext"}, method="POST")
with urllib.request.urlopen(register) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
while True:
    nxt = urllib.request.Request(api + "event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(nxt) as r:
        event = json.loads(r.read())
    if event["eventType"] == "SHUTDOWN":
        note("shutdown " + event["shutdownReason"])
        break
"""


@pytest.fixture()
def marker() -> Iterator[str]:
    """A file name of this test's own in /tmp (the host's, in the process executor)."""
    path = f"/tmp/locallambda-reset-{uuid.uuid4().hex}"
    yield path
    for leftover in (path, path + ".ext"):
        Path(leftover).unlink(missing_ok=True)


def failing(functions: Functions, name: str, how: str) -> dict[str, Any]:
    """Invoke ``name`` so that it fails by ``how``; the error document (checked as AWS's)."""
    out = functions.invoke(name, {"write": how, "how": how}, LogType="Tail")
    assert out.get("FunctionError") == "Unhandled", out["Payload"]
    error: dict[str, Any] = json.loads(out["Payload"])
    rid = out["ResponseMetadata"]["RequestId"]
    if how == "hang":  # the timeout's result and log line are AWS's, as before the reset existed
        assert error == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
        }
        assert f"{rid} Task timed out after 1.00 seconds" in out["Log"]
    else:
        assert error == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 1",
        }
    return error


@pytest.mark.parametrize("how", ["hang", "exit"], ids=["timeout", "runtime-exit"])
def test_tmp_survives_the_reset_and_the_runtime_starts_again(functions: Functions, marker: str, how: str) -> None:
    name = functions.python(MARKER, timeout=1 if how == "hang" else 30, env={"MARKER": marker})
    first = functions.invoke(name, {"write": "before"}, LogType="Tail")
    assert json.loads(first["Payload"])["marker"] == ["before"]
    assert "\tInit Duration: " in first["Log"]
    failing(functions, name, how)
    out = functions.invoke(name, {"write": "after"}, LogType="Tail")
    assert "FunctionError" not in out, out["Payload"]
    after = json.loads(out["Payload"])
    # What was written before the failure is still in /tmp; the runtime is a new process.
    assert after["marker"] == ["before", how, "after"]
    assert after["pid"] != json.loads(first["Payload"])["pid"]
    # The init after a reset is a suppressed init: not reported apart (no Init Duration).
    assert "Init Duration" not in out["Log"]
    assert out["Log"].rstrip("\n").split("\n")[-1].startswith("REPORT RequestId: ")
    # And the environment is warm again: the next invocation is served by the same runtime.
    assert functions.invoke_json(name, {"write": "warm"})["pid"] == after["pid"]


@pytest.mark.parametrize(("how", "reason"), [("hang", "timeout"), ("exit", "failure")], ids=["timeout", "runtime-exit"])
def test_extensions_get_shutdown_and_start_again_after_a_reset(
    functions: Functions, marker: str, how: str, reason: str
) -> None:
    layer = functions.client.publish_layer_version(
        LayerName=f"reset-ext-{uuid.uuid4().hex[:8]}",
        Content={"ZipFile": make_zip({"extensions/reset-ext": EXTENSION}, {"extensions/reset-ext": 0o755})},
    )["LayerVersionArn"]
    name = functions.python(MARKER, timeout=1 if how == "hang" else 30, env={"MARKER": marker}, Layers=[layer])
    first = functions.invoke_json(name, {"write": "before"})
    assert [line.split()[0] for line in first["extension"]] == ["start"]
    failing(functions, name, how)
    after = functions.invoke_json(name, {"write": "after"})
    assert after["marker"] == ["before", how, "after"]
    notes = after["extension"]
    # Started again for the next invocation (a new process), after the SHUTDOWN of the reset
    # with its reason (runtimes-extensions-api.html: TIMEOUT, or FAILURE for an error).
    starts = [line for line in notes if line.startswith("start ")]
    assert len(starts) == 2 and starts[0] != starts[1], notes
    if how == "hang" or EXECUTOR != "local":
        # The process executor kills a runtime's process group when the runtime exits, its
        # extensions with it: they are started again, but hear no SHUTDOWN after a crash.
        assert notes == [starts[0], f"shutdown {reason}", starts[1]]
