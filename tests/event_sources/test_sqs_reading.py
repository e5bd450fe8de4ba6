"""How SQS mappings read the embedded SQS (in process, ``neighbours.sqs_direct``): the records
are those the API gives, concurrency scales out and is capped by ``ScalingConfig``, and what the
pollers deleted stays deleted across a kill -9 with persistence on."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest

from tests.conftest import Server
from tests.event_sources.conftest import Recorder, wait_state
from tests.event_sources.test_sqs import _left, _queue, _wait_empty
from tests.invoke.conftest import Functions


@pytest.fixture()
def reads() -> str:
    """How this module's server reads the queue (the server's log says it)."""
    return "in process"


# Sleeps, then says when it ran: overlapping runs are concurrent batches.
SLEEPER = """
import json, os, time, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    started = time.time()
    time.sleep(0.4)
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps({"start": started, "end": time.time()}))
"""


def _attributes() -> dict[str, Any]:
    return {
        "Text": {"DataType": "String", "StringValue": "John"},
        "Count": {"DataType": "Number.int", "StringValue": "3"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }


def test_records_carry_what_receive_message_gives_for_the_same_message(
    srv: Server, recorder: Recorder, reads: str
) -> None:
    """A FIFO message with attributes sent to two queues: one read through the API with every
    attribute, the other delivered by a mapping. Same body, checksums, system attributes and
    message attributes (in the event's lower-camel form)."""
    sqs, lam = srv.client("sqs"), srv.client()
    name = uuid.uuid4().hex[:8]
    read_url, _ = _queue(srv, f"read-{name}.fifo", FifoQueue="true")
    mapped_url, mapped_arn = _queue(srv, f"mapped-{name}.fifo", FifoQueue="true")
    for url in (read_url, mapped_url):
        sqs.send_message(
            QueueUrl=url,
            MessageBody='{"same": "message"}',
            MessageAttributes=_attributes(),
            MessageGroupId="g1",
            MessageDeduplicationId="d1",
            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}},
        )
    (read,) = sqs.receive_message(
        QueueUrl=read_url, AttributeNames=["All"], MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    esm = lam.create_event_source_mapping(EventSourceArn=mapped_arn, FunctionName=recorder.name)
    wait_state(lam, esm["UUID"], "Enabled")
    (event,) = recorder.events(1)
    (record,) = event["Records"]
    assert record["body"] == read["Body"]
    assert record["md5OfBody"] == read["MD5OfBody"]
    assert record["md5OfMessageAttributes"] == read["MD5OfMessageAttributes"]
    assert set(record["attributes"]) == set(read["Attributes"])
    for key in ("SenderId", "ApproximateReceiveCount", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader"):
        assert record["attributes"][key] == read["Attributes"][key], key
    assert record["attributes"]["SequenceNumber"].isdigit()
    expected = {
        key: {
            **({"stringValue": v["StringValue"]} if "StringValue" in v else {}),
            **({"binaryValue": base64.b64encode(v["BinaryValue"]).decode()} if "BinaryValue" in v else {}),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": v["DataType"],
        }
        for key, v in read["MessageAttributes"].items()
    }
    assert record["messageAttributes"] == expected
    assert _wait_empty(srv, mapped_url) == 0
    assert f"event source mapping {esm['UUID']} reads {mapped_arn} {reads}" in srv.log()


def _overlap(runs: list[dict[str, float]]) -> int:
    """The most runs under way at one moment."""
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _runs(srv: Server, functions: Functions, count: int, **mapping: Any) -> list[dict[str, float]]:
    sqs, lam = srv.client("sqs"), srv.client()
    sink = sqs.create_queue(QueueName=f"sink-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    fn = functions.python(SLEEPER, timeout=30, env={"SINK": sink})
    url, arn = _queue(srv, f"scaling-{uuid.uuid4().hex[:8]}")
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": "{}"} for n in range(min(10, count - start))]
        )
    esm = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=1, **mapping)
    runs: list[dict[str, float]] = []
    deadline = time.monotonic() + 60
    while len(runs) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            runs.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=sink, ReceiptHandle=message["ReceiptHandle"])
    lam.delete_event_source_mapping(UUID=esm["UUID"])
    assert len(runs) == count
    assert _wait_empty(srv, url) == 0
    return runs


def test_batches_run_concurrently_up_to_maximum_concurrency(srv: Server, functions: Functions) -> None:
    capped = _runs(srv, functions, 12, ScalingConfig={"MaximumConcurrency": 2})
    assert _overlap(capped) == 2
    free = _runs(srv, functions, 20)
    assert _overlap(free) >= 5  # AWS starts with five concurrent batches


def test_what_a_mapping_deleted_stays_deleted_after_kill_9(spawn_server: Any, tmp_path: Any) -> None:
    env = {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}
    first = spawn_server(**env)
    recorder = Recorder(first, Functions(first))
    url, arn = _queue(first, "esm-kept-deletes")
    sqs = first.client("sqs")
    for start in range(0, 30, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": json.dumps({"n": start + n})} for n in range(10)]
        )
    esm = first.client().create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name, BatchSize=10)
    wait_state(first.client(), esm["UUID"], "Enabled")
    seen = sum(len(e["Records"]) for e in recorder.events(3))
    assert _wait_empty(first, url) == 0
    first.client().delete_event_source_mapping(UUID=esm["UUID"])
    assert seen == 30
    assert first.proc is not None
    first.proc.kill()
    first.proc.wait(10)
    first.proc = None
    second = spawn_server(**env)
    assert _left(second, url) == 0
    assert "Messages" not in second.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1)
