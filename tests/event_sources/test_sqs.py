"""SQS → function, end to end: AWS's records, deletes, partial failures, redrive, FIFO order,
batching window, restart."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import Server
from tests.event_sources.conftest import Recorder, wait_state
from tests.invoke.conftest import Functions


def _queue(srv: Server, name: str, **attrs: str) -> tuple[str, str]:
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _left(srv: Server, url: str) -> int:
    attrs = srv.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _wait_empty(srv: Server, url: str, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while (left := _left(srv, url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_message_reaches_the_function_as_aws_record_and_is_deleted(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    url, arn = _queue(srv, "esm-basic")
    esm = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name)
    wait_state(lam, esm["UUID"], "Enabled")
    srv.client("sqs").send_message(
        QueueUrl=url,
        MessageBody='{"foo": "bar"}',
        MessageAttributes={"Author": {"DataType": "String", "StringValue": "John"}},
    )
    (event,) = recorder.events(1)
    (record,) = event["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"foo": "bar"}'
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert set(record["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["messageAttributes"] == {
        "Author": {"stringValue": "John", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert _wait_empty(srv, url) == 0


def test_a_failed_batch_returns_after_the_visibility_timeout_and_redrives_to_the_dlq(
    srv: Server, recorder: Recorder
) -> None:
    lam = srv.client()
    dlq_url, dlq_arn = _queue(srv, "esm-dlq")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = _queue(srv, "esm-failing", VisibilityTimeout="1", RedrivePolicy=policy)
    esm = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name, BatchSize=1)
    wait_state(lam, esm["UUID"], "Enabled")
    srv.client("sqs").send_message(QueueUrl=url, MessageBody='{"fail": true}')
    events = recorder.events(2)
    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in events]
    assert counts == ["1", "2"]
    sqs = srv.client("sqs")
    deadline = time.monotonic() + 15
    moved: list[Any] = []
    while not moved and time.monotonic() < deadline:
        moved = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in moved] == ['{"fail": true}']


def test_report_batch_item_failures_deletes_only_the_successes(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    # Longer than the batching window: the batch is invoked before its messages are visible again.
    url, arn = _queue(srv, "esm-partial", VisibilityTimeout="3")
    sqs = srv.client("sqs")
    first = sqs.send_message(QueueUrl=url, MessageBody='{"n": 1}')["MessageId"]
    answer = {"batchItemFailures": [{"itemIdentifier": first}]}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 2, "answer": answer}))
    esm = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=recorder.name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    events = recorder.events(2)
    assert len(events[0]["Records"]) == 2
    assert [r["messageId"] for r in events[1]["Records"]] == [first]  # only the failed one came back


def test_a_malformed_failure_report_fails_the_whole_batch(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    url, arn = _queue(srv, "esm-malformed", VisibilityTimeout="1")
    body = json.dumps({"answer": {"batchItemFailures": [{"foo": "notvalid"}]}})
    srv.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    events = recorder.events(2)
    assert [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in events] == ["1", "2"]


def test_fifo_keeps_order_per_message_group(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    url, arn = _queue(srv, "esm-order.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    sqs = srv.client("sqs")
    for n in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}), MessageGroupId=f"g{n % 2}")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name, BatchSize=1)
    events = recorder.events(6)
    seen: dict[str, list[int]] = {}
    numbers: dict[int, int] = {}
    for event in events:
        (record,) = event["Records"]
        assert record["attributes"]["MessageGroupId"] in ("g0", "g1")
        assert "MessageDeduplicationId" in record["attributes"]
        n = json.loads(record["body"])["n"]
        seen.setdefault(record["attributes"]["MessageGroupId"], []).append(n)
        # AWS's FIFO records carry the queue's SequenceNumber: 20 digits, increasing
        sequence = record["attributes"]["SequenceNumber"]
        assert sequence.isdigit() and len(sequence) == 20
        numbers[n] = int(sequence)
    assert seen == {"g0": [0, 2, 4], "g1": [1, 3, 5]}
    assert [numbers[n] for n in range(6)] == sorted(numbers.values())  # in the order they were sent


def test_a_batching_window_gathers_messages_into_one_batch(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    url, arn = _queue(srv, "esm-window")
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, BatchSize=50, MaximumBatchingWindowInSeconds=2
    )
    sqs = srv.client("sqs")
    time.sleep(0.5)
    for chunk in range(3):
        entries = [{"Id": str(n), "MessageBody": json.dumps({"n": chunk * 10 + n})} for n in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    events = recorder.events(1, settle=2.5)
    assert sum(len(e["Records"]) for e in events) == 30
    assert len(events) < 30  # gathered, not one invocation per message


def test_non_matching_messages_are_deleted_unseen(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    url, arn = _queue(srv, "esm-filter")
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=recorder.name,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
    )
    sqs = srv.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody='{"keep": false}')
    sqs.send_message(QueueUrl=url, MessageBody='{"keep": true}')
    events = recorder.events(1, settle=1.5)
    assert [json.loads(r["body"]) for e in events for r in e["Records"]] == [{"keep": True}]
    assert _wait_empty(srv, url) == 0


def test_mappings_survive_a_restart(spawn_server: Any, tmp_path: Any) -> None:
    env = {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}
    first = spawn_server(**env)
    functions = Functions(first)
    recorder = Recorder(first, functions)
    url, arn = _queue(first, "esm-restart")
    esm = first.client().create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name)
    wait_state(first.client(), esm["UUID"], "Enabled")
    first.stop()
    second = spawn_server(**env)
    got = wait_state(second.client(), esm["UUID"], "Enabled")
    assert got["EventSourceArn"] == arn
    second.client("sqs").send_message(QueueUrl=url, MessageBody='{"after": "restart"}')
    recorder.sqs = second.client("sqs")
    (event,) = recorder.events(1)
    assert event["Records"][0]["body"] == '{"after": "restart"}'
