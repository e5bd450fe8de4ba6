"""Services that call Lambda call ours, asynchronously, with AWS's event shapes: an SNS publish,
an S3 PutObject and an EventBridge PutEvents each invoke a function exactly once.

The function records each event it gets in an SQS queue (of the embedded SQS), so the test reads
what arrived, how often, and in which shape. Shapes are checked against AWS's documented sample
events (with-sns.html, notification-content-structure.html, eb events structure).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import Functions, unique

RECORDER = """
import json, os, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(event))
    return "ok"
"""


@pytest.fixture()
def recorder(srv: Server, functions: Functions) -> tuple[str, str]:
    """A function that forwards each event to a fresh queue: (function ARN, queue URL)."""
    sink = srv.client("sqs").create_queue(QueueName=unique("sink"))["QueueUrl"]
    name = functions.python(RECORDER, timeout=30, env={"SINK": sink})
    arn = functions.client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return arn, sink


def _events(srv: Server, sink: str, expected: int, settle: float = 1.5) -> list[Any]:
    """Events that reached the function: waits for ``expected``, then a little longer to catch
    duplicates."""
    sqs = srv.client("sqs")
    got: list[Any] = []
    deadline = time.monotonic() + 30
    quiet_until = None
    while time.monotonic() < deadline:
        out = sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in out.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=sink, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= expected:
            quiet_until = quiet_until or time.monotonic() + settle
            if time.monotonic() >= quiet_until:
                break
    return got


def test_sns_publish_invokes_once(srv: Server, recorder: tuple[str, str]) -> None:
    arn, sink = recorder
    sns = srv.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)["SubscriptionArn"]
    sent = sns.publish(
        TopicArn=topic,
        Message="hello from sns",
        Subject="greeting",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )
    events = _events(srv, sink, 1)
    assert len(events) == 1
    (record,) = events[0]["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    msg = record["Sns"]
    assert msg["Type"] == "Notification"
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["TopicArn"] == topic
    assert msg["Subject"] == "greeting"
    assert msg["Message"] == "hello from sns"
    assert msg["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}
    assert set(msg) >= {"SignatureVersion", "Timestamp", "Signature", "SigningCertUrl", "UnsubscribeUrl"}


def test_sns_filter_policy_applies(srv: Server, recorder: tuple[str, str]) -> None:
    arn, sink = recorder
    sns = srv.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=arn, Attributes={"FilterPolicy": json.dumps({"color": ["red"]})}
    )
    sns.publish(
        TopicArn=topic, Message="blue one", MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}}
    )
    sns.publish(
        TopicArn=topic, Message="red one", MessageAttributes={"color": {"DataType": "String", "StringValue": "red"}}
    )
    events = _events(srv, sink, 1)
    assert [e["Records"][0]["Sns"]["Message"] for e in events] == ["red one"]


def test_s3_put_object_invokes_once(srv: Server, recorder: tuple[str, str]) -> None:
    arn, sink = recorder
    s3 = srv.client("s3")
    bucket = unique("notified")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "on-upload",
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": "uploads/"},
                                {"Name": "suffix", "Value": ".txt"},
                            ]
                        }
                    },
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="other/skip.txt", Body=b"not matched")
    s3.put_object(Bucket=bucket, Key="uploads/skip.bin", Body=b"not matched")
    put = s3.put_object(Bucket=bucket, Key="uploads/a file.txt", Body=b"12345")
    events = _events(srv, sink, 1)
    assert len(events) == 1
    (record,) = events[0]["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventVersion"] == "2.1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["awsRegion"] == "us-east-1"
    assert set(record) >= {"eventTime", "userIdentity", "requestParameters", "responseElements", "s3"}
    s3rec = record["s3"]
    assert s3rec["s3SchemaVersion"] == "1.0"
    assert s3rec["configurationId"] == "on-upload"
    assert s3rec["bucket"]["name"] == bucket
    assert s3rec["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert "principalId" in s3rec["bucket"]["ownerIdentity"]
    assert s3rec["object"]["key"] == "uploads/a+file.txt"  # URL-encoded, as S3 sends it
    assert s3rec["object"]["size"] == 5
    assert s3rec["object"]["eTag"] == put["ETag"].strip('"')
    assert s3rec["object"]["sequencer"]


def test_eventbridge_put_events_invokes_once(srv: Server, recorder: tuple[str, str]) -> None:
    arn, sink = recorder
    events_client = srv.client("events")
    rule = unique("rule")
    events_client.put_rule(Name=rule, EventPattern=json.dumps({"source": ["my.app"], "detail-type": ["order"]}))
    events_client.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": arn}])
    events_client.put_events(Entries=[{"Source": "other.app", "DetailType": "order", "Detail": json.dumps({"n": 0})}])
    out = events_client.put_events(
        Entries=[{"Source": "my.app", "DetailType": "order", "Detail": json.dumps({"n": 1})}]
    )
    events = _events(srv, sink, 1)
    assert len(events) == 1
    event = events[0]
    assert event["id"] == out["Entries"][0]["EventId"]
    assert event["source"] == "my.app"
    assert event["detail-type"] == "order"
    assert event["detail"] == {"n": 1}
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert set(event) >= {"version", "time", "resources"}


def test_eventbridge_target_input_and_transformer(srv: Server, recorder: tuple[str, str]) -> None:
    arn, sink = recorder
    events_client = srv.client("events")
    rule = unique("rule")
    events_client.put_rule(Name=rule, EventPattern=json.dumps({"source": ["shaped"]}))
    events_client.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "const", "Arn": arn, "Input": json.dumps({"constant": True})},
            {"Id": "path", "Arn": arn, "InputPath": "$.detail"},
        ],
    )
    events_client.put_events(Entries=[{"Source": "shaped", "DetailType": "x", "Detail": json.dumps({"k": "v"})}])
    events = _events(srv, sink, 2)
    assert sorted(json.dumps(e, sort_keys=True) for e in events) == sorted(
        [json.dumps({"constant": True}), json.dumps({"k": "v"})]
    )


@pytest.mark.slow
def test_scheduled_rule_invokes_each_minute(srv: Server, recorder: tuple[str, str]) -> None:
    """A cron rule of every minute fires at the next minute boundary with AWS's Scheduled Event."""
    arn, sink = recorder
    events_client = srv.client("events")
    rule = unique("every-minute")
    rule_arn = events_client.put_rule(Name=rule, ScheduleExpression="cron(* * * * ? *)")["RuleArn"]
    events_client.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": arn}])
    sqs = srv.client("sqs")
    deadline = time.monotonic() + 75
    event = None
    while event is None and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=sink, WaitTimeSeconds=5).get("Messages", []):
            event = json.loads(m["Body"])
    events_client.remove_targets(Rule=rule, Ids=["fn"])
    assert event is not None, "the scheduled rule did not fire within 75 s"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert event["time"].endswith(":00Z")
