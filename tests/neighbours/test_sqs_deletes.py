"""The embedded SQS's DeleteMessageBatch and receive bookkeeping (``neighbours/sqs_speed.py``
replaces moto's per-message scans): the answers SQS gives for current, earlier, repeated and
invalid receipt handles, through boto3 on a real server."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.conftest import Server


def _queue(server: Server, **attrs: str) -> str:
    url: str = server.client("sqs").create_queue(QueueName=f"deletes-{uuid.uuid4().hex[:8]}", Attributes=attrs)[
        "QueueUrl"
    ]
    return url


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_batch_deletes_current_earlier_and_repeated_handles_and_names_invalid_ones(server: Server) -> None:
    sqs = server.client("sqs")
    url = _queue(server)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(6)])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert len(first) == 6
    again = {m["MessageId"]: m for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]}
    assert set(again) == {m["MessageId"] for m in first}
    by_body = {m["Body"]: m for m in first}
    entries = [
        {"Id": "current", "ReceiptHandle": again[by_body["m0"]["MessageId"]]["ReceiptHandle"]},
        {"Id": "earlier", "ReceiptHandle": by_body["m1"]["ReceiptHandle"]},  # a handle of the first receive
        {"Id": "invalid", "ReceiptHandle": "not-a-receipt-handle"},
        {"Id": "last", "ReceiptHandle": again[by_body["m5"]["MessageId"]]["ReceiptHandle"]},
    ]
    answer = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(e["Id"] for e in answer["Successful"]) == ["current", "earlier", "last"]
    assert answer["Failed"] == [
        {
            "Id": "invalid",
            "SenderFault": True,
            "Code": "ReceiptHandleIsInvalid",
            "Message": 'The input receipt handle "not-a-receipt-handle" is not a valid receipt handle.',
        }
    ]
    assert _counts(sqs, url) == (0, 3)
    # Deleting again is accepted, as SQS accepts it.
    repeated = sqs.delete_message_batch(QueueUrl=url, Entries=entries[:2])
    assert sorted(e["Id"] for e in repeated["Successful"]) == ["current", "earlier"]
    assert "Failed" not in repeated or repeated["Failed"] == []
    left = sorted(m["Body"] for m in first if m["Body"] not in ("m0", "m1", "m5"))
    assert left == ["m2", "m3", "m4"]


def test_received_messages_come_back_after_their_visibility_timeout_with_counts(server: Server) -> None:
    sqs = server.client("sqs")
    url = _queue(server)
    sqs.send_message(QueueUrl=url, MessageBody="once")
    before = int(time.time() * 1000)
    (got,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, AttributeNames=["All"])["Messages"]
    assert got["Attributes"]["ApproximateReceiveCount"] == "1"
    first_receive = int(got["Attributes"]["ApproximateFirstReceiveTimestamp"])
    assert before - 5 <= first_receive <= int(time.time() * 1000) + 5
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    (back,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["All"])["Messages"]
    assert back["MessageId"] == got["MessageId"] and back["ReceiptHandle"] != got["ReceiptHandle"]
    assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    assert back["Attributes"]["ApproximateFirstReceiveTimestamp"] == str(first_receive)
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": back["ReceiptHandle"]}])
    assert _counts(sqs, url) == (0, 0)
