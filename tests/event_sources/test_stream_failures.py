"""Kinesis and DynamoDB Streams alike, when the function fails: retries, BisectBatchOnFunctionError,
ReportBatchItemFailures, and the on-failure destinations (SQS, SNS) with AWS's invocation record.

AWS's rules: "Error handling" and "Reporting batch item failures" of "Using AWS Lambda with Amazon
Kinesis" (Lambda developer guide); the records are the AWS-recorded ones of LocalStack's parity
snapshots (``test_kinesis_event_source_mapping_with_on_failure_destination_config``,
``..._with_sns_on_failure_destination_config``, ``test_kinesis_report_batch_item_failures``, and
their DynamoDB twins).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import Server
from tests.event_sources.streams import StreamRecorder, make_stream, on_failure_queue, on_failure_topic, read_queue
from tests.invoke.conftest import Functions

KINDS = ["kinesis", "dynamodb"]
BATCH_INFO = {"kinesis": "KinesisBatchInfo", "dynamodb": "DDBStreamBatchInfo"}
# Kinesis writes its arrival times with milliseconds, DynamoDB Streams in whole seconds.
ARRIVAL = {
    "kinesis": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"),
    "dynamodb": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture()
def recorder(srv: Server, functions: Functions) -> StreamRecorder:
    return StreamRecorder(srv, functions)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _failures(srv: Server, url: str, count: int = 1, settle: float = 0.0) -> list[dict[str, Any]]:
    got = read_queue(srv.client("sqs"), url, count, settle=settle)
    # through SNS, the record is the notification's Message
    return [json.loads(m["Message"]) if m.get("Type") == "Notification" else m for m in got]


# -- on-failure destinations ------------------------------------------------------------------


@pytest.mark.parametrize("destination", ["sqs", "sns"])
def test_a_discarded_batch_goes_to_the_destination_as_aws_records_it(
    srv: Server, recorder: StreamRecorder, kind: str, destination: str
) -> None:
    url, dest = on_failure_queue(srv) if destination == "sqs" else on_failure_topic(srv)
    stream = make_stream(srv, kind)
    first, last = stream.put_all([{"n": 0, "fail": True}, {"n": 1}])
    lam = srv.client()
    esm = lam.create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = _failures(srv, url)
    batches = recorder.batches(2)
    assert [b.ns for b in batches] == [[0, 1], [0, 1]]
    function_arn = esm["FunctionArn"]
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", BATCH_INFO[kind]}
    assert record["requestContext"] == {
        "requestId": batches[-1].request_id,
        "functionArn": function_arn,
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["version"] == "1.0" and TIMESTAMP.match(record["timestamp"])
    info = record[BATCH_INFO[kind]]
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    assert info["shardId"] == stream.shard_id() and info["streamArn"] == stream.arn
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (first, last, 2)
    assert ARRIVAL[kind].match(info["approximateArrivalOfFirstRecord"])
    assert ARRIVAL[kind].match(info["approximateArrivalOfLastRecord"])


# -- bisect -----------------------------------------------------------------------------------


def test_bisect_isolates_a_poison_record_and_processes_the_rest(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    url, dest = on_failure_queue(srv)
    stream = make_stream(srv, kind)
    sequences = stream.put_all([{"n": 0}, {"n": 1}, {"n": 2, "fail": True}, {"n": 3}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = _failures(srv, url)
    info = record[BATCH_INFO[kind]]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[2],
        sequences[2],
        1,
    )
    # "Splitting a batch does not count towards the retry quota": the poison record alone is
    # tried once and retried once.
    assert record["requestContext"]["approximateInvokeCount"] == 2
    batches = recorder.batches(6, settle=1.0)
    assert [b.ns for b in batches] == [[0, 1, 2, 3], [0, 1], [2, 3], [2], [2], [3]]


# -- ReportBatchItemFailures ------------------------------------------------------------------


def test_reported_failures_move_the_checkpoint_to_the_first_of_them(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    url, dest = on_failure_queue(srv)
    stream = make_stream(srv, kind)
    asks = [{"n": 0}, {"n": 1}, {"n": 2, "report": True}, {"n": 3}, {"n": 4, "report": True}]
    sequences = stream.put_all(asks)
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=5,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = _failures(srv, url)
    # the lowest reported sequence number is the checkpoint; the retry starts there
    assert [b.ns for b in recorder.batches(2, settle=1.0)] == [[0, 1, 2, 3, 4], [2, 3, 4]]
    info = record[BATCH_INFO[kind]]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[2],
        sequences[4],
        3,
    )
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] is None


@pytest.mark.parametrize(
    "answer",
    ["", [], None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}],
    ids=["empty-string", "empty-list", "null", "empty-dict", "empty-failures", "null-failures"],
)
def test_answers_that_report_nothing_are_a_success(
    srv: Server, recorder: StreamRecorder, kind: str, answer: Any
) -> None:
    stream = make_stream(srv, kind)
    stream.put_all([{"n": 0, "answer": answer}, {"n": 1}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert [b.ns for b in recorder.batches(2, settle=1.0)] == [[0], [1]]


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": 123}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"foo": 123}]},
        {"batchItemFailures": [{"itemIdentifier": "49590338271490256608559692538361571095921575989136588898"}]},
    ],
    ids=["not-a-string", "empty-string", "null", "bad-key", "not-in-the-batch"],
)
def test_invalid_reports_fail_the_whole_batch(srv: Server, recorder: StreamRecorder, kind: str, answer: Any) -> None:
    url, dest = on_failure_queue(srv)
    stream = make_stream(srv, kind)
    first, last = stream.put_all([{"n": 0}, {"n": 1, "answer": answer}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = _failures(srv, url)
    assert [b.ns for b in recorder.batches(2, settle=0.5)] == [[0, 1], [0, 1]]
    info = record[BATCH_INFO[kind]]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (first, last, 2)
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] is None


def test_a_function_error_fails_the_whole_batch_despite_reports(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    url, dest = on_failure_queue(srv)
    stream = make_stream(srv, kind)
    stream.put_all([{"n": 0}, {"n": 1, "report": True}, {"n": 2, "fail": True}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = _failures(srv, url)
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record[BATCH_INFO[kind]]["batchSize"] == 3
    assert [b.ns for b in recorder.batches(2, settle=0.5)] == [[0, 1, 2], [0, 1, 2]]


def test_processing_goes_on_after_a_discarded_batch(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    stream = make_stream(srv, kind)
    stream.put_all([{"n": 0, "fail": True}, {"n": 1}, {"n": 2}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=0,
    )
    assert [b.ns for b in recorder.batches(3, settle=0.5)] == [[0], [1], [2]]


def test_throttled_batches_do_not_use_up_the_retries(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    # "Retry attempts ... This doesn't apply to service errors or throttles where the batch didn't
    # reach the function" (with-kinesis, "Configuring a stream as an event source")
    url, dest = on_failure_queue(srv)
    lam = srv.client()
    lam.put_function_concurrency(FunctionName=recorder.name, ReservedConcurrentExecutions=0)
    stream = make_stream(srv, kind)
    stream.put({"n": 0})
    lam.create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    assert _failures(srv, url, count=0, settle=2.0) == []  # throttled all along: nothing discarded
    lam.delete_function_concurrency(FunctionName=recorder.name)
    assert [b.ns for b in recorder.batches(1)] == [[0]]
    assert _failures(srv, url, count=0, settle=0.5) == []
