"""Following a function's log group with a real client, as ``aws logs tail --follow`` does.

``aws logs tail`` exists only in AWS CLI version 2, which is not published as a Python package
(only version 1 is, and it has no ``logs tail``); the SAM CLI's ``sam logs --tail`` is the
installable client that follows a group the same way (FilterLogEvents polled with a moving start
time). It must show the lines of invocations made after it started, each once.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time

from tests.conftest import Server
from tests.invoke.conftest import Functions
from tests.neighbours.test_sam_deploy import sam_cli

SAYER = """\
def handler(event, context):
    print("said", event["n"])
    return event["n"]
"""


def _lines(proc: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.put(line)


def _wait_for(lines: queue.Queue[str], seen: list[str], text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never shown; shown: {seen}"
        try:
            seen.append(lines.get(timeout=min(left, 1)))
        except queue.Empty:
            pass


def test_sam_logs_tail_follows_later_invocations(srv: Server, functions: Functions) -> None:
    name = functions.python(SAYER)
    functions.invoke_json(name, {"n": 1})  # the group exists before the client looks for it
    env = {**srv.env, "AWS_ENDPOINT_URL": srv.url, "SAM_CLI_TELEMETRY": "0"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [sam_cli(), "logs", "--cw-log-group", f"/aws/lambda/{name}", "--tail"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=os.environ.get("TMPDIR", "/tmp"),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(lines, seen, "said 1")  # tail starts with what is already there
        for n in (2, 3):
            assert functions.invoke_json(name, {"n": n}) == n
            _wait_for(lines, seen, f"said {n}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    said = [line.rstrip("\n").split(" ", 2)[-1] for line in seen if "said" in line]
    assert said == ["said 1", "said 2", "said 3"], seen
    starts = [line for line in seen if " START RequestId: " in line]
    assert len(starts) == 3, seen
    streams = {line.split(" ", 1)[0] for line in starts}
    assert len(streams) == 1 and re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams.pop()), seen
