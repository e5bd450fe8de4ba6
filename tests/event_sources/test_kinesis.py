"""Kinesis → function: records in order with AWS's shape, OnFailure after the retries,
AT_TIMESTAMP, filters on the decoded data (the shared stream behaviours: test_stream_features.py,
test_stream_failures.py)."""

from __future__ import annotations

import base64
import datetime
import json
import time

from tests.conftest import Server
from tests.event_sources.conftest import Recorder
from tests.event_sources.streams import KinesisStream, StreamRecorder
from tests.invoke.conftest import Functions


def test_records_arrive_in_order_with_aws_shape(srv: Server, recorder: Recorder) -> None:
    kinesis = srv.client("kinesis")
    kinesis.create_stream(StreamName="kin-order", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="kin-order")["StreamDescriptionSummary"]["StreamARN"]
    for n in range(5):
        kinesis.put_record(StreamName="kin-order", Data=json.dumps({"n": n}).encode(), PartitionKey=f"k{n}")
    srv.client().create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    events = recorder.events(3)
    records = [r for e in events for r in e["Records"]]
    assert [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"] for r in records] == [0, 1, 2, 3, 4]
    first = records[0]
    assert first["eventSource"] == "aws:kinesis" and first["eventName"] == "aws:kinesis:record"
    assert first["eventVersion"] == "1.0" and first["eventSourceARN"] == arn
    assert first["eventID"] == f"shardId-000000000000:{first['kinesis']['sequenceNumber']}"
    assert first["invokeIdentityArn"].startswith("arn:aws:iam::")
    assert set(first["kinesis"]) == {
        "kinesisSchemaVersion",
        "partitionKey",
        "sequenceNumber",
        "data",
        "approximateArrivalTimestamp",
    }


def test_a_failing_batch_goes_to_the_on_failure_queue(srv: Server, recorder: Recorder) -> None:
    sqs = srv.client("sqs")
    dest = sqs.create_queue(QueueName="kin-failures")["QueueUrl"]
    dest_arn = sqs.get_queue_attributes(QueueUrl=dest, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    kinesis = srv.client("kinesis")
    kinesis.create_stream(StreamName="kin-fail", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="kin-fail")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.put_record(StreamName="kin-fail", Data=b'{"fail": true}', PartitionKey="a")
    srv.client().create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )
    deadline = time.monotonic() + 30
    got: list[dict[str, object]] = []
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=dest, WaitTimeSeconds=1).get("Messages", [])
    body = json.loads(got[0]["Body"])  # type: ignore[arg-type]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2
    assert body["responseContext"]["functionError"] == "Unhandled"
    assert body["KinesisBatchInfo"]["batchSize"] == 1 and body["KinesisBatchInfo"]["streamArn"] == arn


def test_at_timestamp_starts_at_the_first_record_written_at_or_after_it(srv: Server, functions: Functions) -> None:
    recorder = StreamRecorder(srv, functions)
    stream = KinesisStream(srv)
    stream.put_all([{"n": 0}, {"n": 1}])
    time.sleep(0.2)  # the arrival times of the two groups apart
    since = datetime.datetime.now(datetime.UTC)
    time.sleep(0.2)
    stream.put_all([{"n": 2}, {"n": 3}])
    esm = srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=since,
        BatchSize=10,
    )
    assert esm["StartingPosition"] == "AT_TIMESTAMP"
    assert [n for b in recorder.batches(1, settle=0.5) for n in b.ns] == [2, 3]


def test_filter_criteria_on_the_decoded_data_keep_only_matching_records(srv: Server, functions: Functions) -> None:
    recorder = StreamRecorder(srv, functions)
    stream = KinesisStream(srv)
    stream.put_all([{"n": 0, "color": "blue"}, {"n": 1, "color": "red"}, {"n": 2, "color": "green"}])
    stream.client.put_record(StreamName=stream.name, Data=b"not json", PartitionKey="key")
    pattern = {"data": {"color": ["red"]}}
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )
    batches = recorder.batches(1, settle=1.0)
    assert [b.ns for b in batches] == [[1]]
