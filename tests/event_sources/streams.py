"""Helpers of the stream tests (Kinesis, DynamoDB Streams): streams and tables written record by
record, a function that reports every batch it gets and answers what its records ask for, and the
on-failure destinations read back.

What a record asks for is a JSON object: the Kinesis record's data, or the ``ask`` attribute of a
DynamoDB item's image. ``{"fail": true}`` makes the whole invocation raise, ``{"report": true}``
reports the record in ``batchItemFailures``, ``{"answer": ...}`` is returned as it is,
``{"sleep": s}`` holds the invocation ``s`` seconds, ``{"big_state": n}`` answers a state of n
bytes and more. With a tumbling window the function answers
``{"state": {"count": <records seen in the window>}}``. An event too big for the sink is reported
without the records' ``pad`` and with a big state replaced by ``{"size": <its size>}``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from tests.conftest import Server
from tests.invoke.conftest import Functions

__all__ = [
    "STREAM_FUNCTION",
    "Batch",
    "DynamoDBTable",
    "KinesisStream",
    "Stream",
    "StreamRecorder",
    "make_stream",
    "on_failure_queue",
    "on_failure_topic",
    "read_queue",
    "wait_until",
]

STREAM_FUNCTION = r"""
import base64, json, os, time, boto3
sqs = boto3.client("sqs")

def _ask(record):
    try:
        if "kinesis" in record:
            asked = json.loads(base64.b64decode(record["kinesis"]["data"]))
        else:
            change = record["dynamodb"]
            image = change.get("NewImage") or change.get("OldImage") or {}
            asked = json.loads(image["ask"]["S"]) if "ask" in image else {}
    except (ValueError, KeyError):
        return {}
    return asked if isinstance(asked, dict) else {}

def _sequence(record):
    return record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"]

def _small(event, asks):
    # what the sink queue takes (256 KB): records without padding, a big state by its size
    small = dict(event)
    small["Records"] = [dict(r) for r in event.get("Records") or []]
    for record, ask in zip(small["Records"], asks):
        lean = {k: v for k, v in ask.items() if k != "pad"}
        if "kinesis" in record:
            record["kinesis"] = dict(record["kinesis"], data=base64.b64encode(json.dumps(lean).encode()).decode())
        else:
            change = dict(record["dynamodb"])
            for image in ("NewImage", "OldImage"):
                if image in change:
                    change[image] = {"ask": {"S": json.dumps(lean)}}
            record["dynamodb"] = change
    if len(json.dumps(small.get("state"))) > 10000:
        small["state"] = {"size": len(json.dumps(small["state"]))}
    return small

def handler(event, context):
    started = time.time()
    records = event.get("Records") or []
    asks = [_ask(r) for r in records]
    time.sleep(sum(float(a.get("sleep", 0)) for a in asks))
    report = {"event": event, "started": started, "ended": time.time(), "requestId": context.aws_request_id}
    if len(json.dumps(report)) > 200000:
        report["event"] = _small(event, asks)
        report["size"] = len(json.dumps(event))
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(report))
    if any(a.get("fail") for a in asks):
        raise RuntimeError("asked to fail")
    for a in asks:
        if "answer" in a:
            return a["answer"]
        if "big_state" in a:
            return {"state": {"big": "x" * a["big_state"]}}
    failed = [{"itemIdentifier": _sequence(r)} for r, a in zip(records, asks) if a.get("report")]
    if failed:
        return {"batchItemFailures": failed}
    if "window" in event:
        state = dict(event.get("state") or {})
        state["count"] = state.get("count", 0) + len(records)
        return {"state": state}
    return None
"""


def wait_until(check: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s")
        time.sleep(interval)


def read_queue(sqs: Any, url: str, count: int, timeout: float = 30, settle: float = 0.0) -> list[Any]:
    """The JSON bodies of the first ``count`` messages of a queue (then ``settle`` seconds more)."""
    got: list[Any] = []

    def receive() -> None:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        receive()
    end = time.monotonic() + settle
    while time.monotonic() < end:
        receive()
    return got


class Batch:
    """One invocation the function reported: its event, records, what they asked, when it ran."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.event: dict[str, Any] = report["event"]
        self.started: float = report["started"]
        self.ended: float = report["ended"]
        self.request_id: str = report["requestId"]
        self.size: int = report.get("size") or len(json.dumps(report["event"]))  # of the event
        self.records: list[dict[str, Any]] = self.event.get("Records") or []

    @property
    def asks(self) -> list[dict[str, Any]]:
        return [ask_of(r) for r in self.records]

    @property
    def ns(self) -> list[Any]:
        """The ``n`` each record carries (the tests number their records)."""
        return [a.get("n") for a in self.asks]

    @property
    def sequences(self) -> list[str]:
        return [sequence_of(r) for r in self.records]

    def __repr__(self) -> str:
        return (
            f"Batch(ns={self.ns}, window={self.event.get('window')}, final={self.event.get('isFinalInvokeForWindow')})"
        )


def ask_of(record: dict[str, Any]) -> dict[str, Any]:
    if "kinesis" in record:
        try:
            asked = json.loads(base64.b64decode(record["kinesis"]["data"]))
        except ValueError:
            return {}
    else:
        change = record["dynamodb"]
        image = change.get("NewImage") or change.get("OldImage") or {}
        asked = json.loads(image["ask"]["S"]) if "ask" in image else {}
    return asked if isinstance(asked, dict) else {}


def sequence_of(record: dict[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"])


class StreamRecorder:
    """The reporting function and its sink queue, on one server."""

    def __init__(self, server: Server, functions: Functions, timeout: int = 30, region: str = "us-east-1") -> None:
        self.sqs = server.client("sqs", region=region)
        self.sink = self.sqs.create_queue(QueueName=f"sink-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        if region != functions.client.meta.region_name:
            functions.client = server.client(region=region)
        self.name = functions.python(STREAM_FUNCTION, timeout=timeout, env={"SINK": self.sink})

    def batches(self, count: int, timeout: float = 30, settle: float = 0.0) -> list[Batch]:
        """The first ``count`` invocations (then ``settle`` seconds more), in the order they started."""
        got = [Batch(r) for r in read_queue(self.sqs, self.sink, count, timeout, settle)]
        return sorted(got, key=lambda b: b.started)


class Stream:
    """A Kinesis stream or a DynamoDB table's stream, written one record at a time."""

    kind = ""
    arn = ""

    def put(self, ask: dict[str, Any], key: str | None = None) -> str:
        """Write one record asking ``ask`` (``key``: its partition key or item key); returns its
        sequence number."""
        raise NotImplementedError

    def put_all(self, asks: list[dict[str, Any]], key: str | None = None) -> list[str]:
        return [self.put(ask, key) for ask in asks]

    def shard_id(self) -> str:
        """The id of the stream's (first) shard."""
        raise NotImplementedError

    def rebind(self, server: Server) -> None:
        """Talk to ``server`` from now on (the same data after a restart)."""
        raise NotImplementedError


class KinesisStream(Stream):
    kind = "kinesis"

    def __init__(self, server: Server, shards: int = 1, region: str = "us-east-1") -> None:
        self.region = region
        self.client = server.client("kinesis", region=region)
        self.name = f"stream-{uuid.uuid4().hex[:8]}"
        self.client.create_stream(StreamName=self.name, ShardCount=shards)
        summary = self.client.describe_stream_summary(StreamName=self.name)["StreamDescriptionSummary"]
        self.arn = summary["StreamARN"]

    def put(self, ask: dict[str, Any], key: str | None = None) -> str:
        answer = self.client.put_record(StreamName=self.name, Data=json.dumps(ask).encode(), PartitionKey=key or "key")
        return str(answer["SequenceNumber"])

    def shard_id(self) -> str:
        return str(self.client.list_shards(StreamName=self.name)["Shards"][0]["ShardId"])

    def rebind(self, server: Server) -> None:
        self.client = server.client("kinesis", region=self.region)


class DynamoDBTable(Stream):
    """A table with a stream; ``put`` writes an item (a new one unless ``key`` names one)."""

    kind = "dynamodb"

    def __init__(self, server: Server, view: str = "NEW_AND_OLD_IMAGES", region: str = "us-east-1") -> None:
        self.region = region
        self.client = server.client("dynamodb", region=region)
        self.streams = server.client("dynamodbstreams", region=region)
        self.name = f"table-{uuid.uuid4().hex[:8]}"
        self.client.create_table(
            TableName=self.name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        self.arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]

    def put(self, ask: dict[str, Any], key: str | None = None) -> str:
        self.client.put_item(
            TableName=self.name, Item={"id": {"S": key or uuid.uuid4().hex[:12]}, "ask": {"S": json.dumps(ask)}}
        )
        return self.last_sequence()

    def rebind(self, server: Server) -> None:
        self.client = server.client("dynamodb", region=self.region)
        self.streams = server.client("dynamodbstreams", region=self.region)

    def shard_id(self) -> str:
        return str(self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"])

    def last_sequence(self) -> str:
        iterator = self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard_id(), ShardIteratorType="TRIM_HORIZON"
        )
        records = self.streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        return str(records[-1]["dynamodb"]["SequenceNumber"])


def make_stream(server: Server, kind: str) -> Stream:
    return KinesisStream(server) if kind == "kinesis" else DynamoDBTable(server)


def on_failure_queue(server: Server) -> tuple[str, str]:
    """A queue for on-failure records: (url, arn)."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def on_failure_topic(server: Server) -> tuple[str, str]:
    """A topic for on-failure records, with a queue subscribed to it: (queue url, topic arn)."""
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"failures-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, queue_arn = on_failure_queue(server)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return url, topic
