"""The event source tests use the invocation tests' servers and function factories, plus a
recorder: a function (warmed up once) that forwards every event it gets to a queue of its own,
and answers what the event's records ask for (``{"fail": true}`` in a body raises, ``{"answer": ...}`` is returned)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import Functions, client, functions, spawn_server, srv

__all__ = ["Recorder", "client", "functions", "recorder", "spawn_server", "srv"]

RECORDER = """
import base64, json, os, boto3
sqs = boto3.client("sqs")

def _body(record):
    if "body" in record:
        return record["body"]
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return "{}"

def handler(event, context):
    if event.get("warm"):  # the recorder's own warm-up: not recorded
        return "warm"
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(event))
    for record in event.get("Records", []):
        try:
            asked = json.loads(_body(record))
        except ValueError:
            continue
        if isinstance(asked, dict) and asked.get("fail"):
            raise RuntimeError("asked to fail")
        if isinstance(asked, dict) and "answer" in asked:
            return asked["answer"]
    return "ok"
"""


class Recorder:
    def __init__(self, server: Server, functions: Functions) -> None:
        self.sqs = server.client("sqs")
        self.sink = self.sqs.create_queue(QueueName=f"sink-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        self.name = functions.python(RECORDER, timeout=30, env={"SINK": self.sink})
        # Warm, so that a first batch is not still running when a short visibility timeout
        # makes its messages visible again (the poller receives on while batches run).
        assert functions.invoke_json(self.name, {"warm": True}) == "warm"

    def events(self, count: int, timeout: float = 30, settle: float = 0.0) -> list[Any]:
        """The first ``count`` events the function got (then ``settle`` seconds more)."""
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(got) < count:
            answer = self.sqs.receive_message(QueueUrl=self.sink, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.sink, ReceiptHandle=message["ReceiptHandle"])
        end = time.monotonic() + settle
        while time.monotonic() < end:
            answer = self.sqs.receive_message(QueueUrl=self.sink, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.sink, ReceiptHandle=message["ReceiptHandle"])
        return got


@pytest.fixture()
def recorder(srv: Server, functions: Functions) -> Recorder:
    return Recorder(srv, functions)


def wait_state(lam: Any, uuid_: str, state: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid_)
        if got["State"] == state or time.monotonic() > deadline:
            return got
        time.sleep(0.05)
