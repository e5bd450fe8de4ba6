"""Kinesis → function: records in order with AWS's shape, OnFailure after the retries."""

from __future__ import annotations

import base64
import json
import time

from tests.conftest import Server
from tests.event_sources.conftest import Recorder


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
