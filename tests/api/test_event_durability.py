"""Accepted Event invocations are never lost: with persistence on they survive SIGTERM and kill -9
(the restarted server runs what was left, at least once, as AWS delivers async events); with it off,
a SIGTERM runs what is queued before the server exits.

The function leaves one marker file per event it ran (the process executor shares the host's file
system, so the test can count them across restarts).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip, wait_active

EVENTS = 200

MARKER = """\
import os, time

def handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "1")))
    path = os.path.join(os.environ["MARKS"], str(event["n"]))
    with open(path, "a") as fh:
        fh.write(context.aws_request_id + "\\n")
    return event["n"]
"""


def _server(data: Path | None, **env: str) -> Server:
    args = ["--persistence", "on", "--data-dir", str(data)] if data is not None else []
    return Server(env={"LAMBDA_EXECUTOR": "local", **env}, args=args)


def _create(client: Any, marks: Path, sleep: float = 1.0) -> None:
    client.create_function(
        FunctionName="durable",
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Timeout=10,
        Code={"ZipFile": make_zip({"handler.py": MARKER})},
        Environment={"Variables": {"MARKS": str(marks), "SLEEP": str(sleep)}},
    )
    wait_active(client, "durable")


def _submit(client: Any, count: int) -> list[str]:
    ids = []
    for n in range(count):
        resp = client.invoke(FunctionName="durable", InvocationType="Event", Payload=json.dumps({"n": n}).encode())
        assert resp["StatusCode"] == 202
        ids.append(resp["ResponseMetadata"]["RequestId"])
    return ids


def _ran(marks: Path) -> set[int]:
    return {int(p.name) for p in marks.iterdir()}


def _wait_all(marks: Path, count: int, timeout: float = 120.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(_ran(marks)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return _ran(marks)


@pytest.mark.parametrize("stop", ["sigterm", "kill-9"])
def test_accepted_events_survive_a_stop_with_persistence(tmp_path: Path, stop: str) -> None:
    data, marks = tmp_path / "data", tmp_path / "marks"
    marks.mkdir()
    srv = _server(data)
    srv.start()
    try:
        client = srv.client()
        _create(client, marks)
        _submit(client, EVENTS)
        assert srv.proc is not None
        if stop == "sigterm":
            srv.proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(srv.proc.pid, signal.SIGKILL)  # the server and whatever it started
        srv.proc.wait(30)
        left = EVENTS - len(_ran(marks))
        assert left > 0, "every event had run before the stop: the test proves nothing, submit more"
    finally:
        srv.stop()
    with _server(data) as again:
        ran = _wait_all(marks, EVENTS)
        assert ran == set(range(EVENTS)), f"lost events: {sorted(set(range(EVENTS)) - ran)[:20]}"
        again.client().get_function(FunctionName="durable")


def test_queued_events_run_before_a_sigterm_without_persistence(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    srv = _server(None)
    srv.start()
    try:
        client = srv.client()
        _create(client, marks, sleep=0.1)  # 200 events of 0.1 s fit in the drain's 10 s
        _submit(client, EVENTS)
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(60)
    finally:
        srv.stop()
    assert _ran(marks) == set(range(EVENTS))
