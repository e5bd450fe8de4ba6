"""Helpers of the event source mapping API tests: an error as AWS recorded it, queues, streams,
waiting for a mapping to settle or to go."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

__all__ = ["ddb_stream", "error", "gone", "invalid", "kinesis_stream", "queue", "without_ids"]

# What differs between runs: identifiers and timestamps (LocalStack's snapshots replace them too).
_IDS = ("UUID", "EventSourceMappingArn", "LastModified", "ResponseMetadata")


def error(call: Any, **kw: Any) -> dict[str, Any]:
    """The error ``call(**kw)`` answers: code, HTTP status and message."""
    with pytest.raises(ClientError) as info:
        call(**kw)
    response = info.value.response
    return {
        "Code": response["Error"]["Code"],
        "Status": response["ResponseMetadata"]["HTTPStatusCode"],
        "Message": response["Error"]["Message"],
    }


def invalid(message: str) -> dict[str, Any]:
    return {"Code": "InvalidParameterValueException", "Status": 400, "Message": message}


def without_ids(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in _IDS}


def queue(server: Server, fifo: bool = False) -> tuple[str, str]:
    """A new queue: its URL and ARN."""
    sqs = server.client("sqs")
    name = f"api-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def kinesis_stream(server: Server) -> str:
    kinesis = server.client("kinesis")
    name = f"api-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return str(kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


def ddb_stream(server: Server) -> str:
    ddb = server.client("dynamodb")
    name = f"api-{uuid.uuid4().hex[:8]}"
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return str(table["TableDescription"]["LatestStreamArn"])


def gone(lam: Any, uuid_: str, timeout: float = 10) -> bool:
    """Whether the mapping is gone (GetEventSourceMapping answers 404) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            lam.get_event_source_mapping(UUID=uuid_)
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ResourceNotFoundException"
        time.sleep(0.05)
    return False
