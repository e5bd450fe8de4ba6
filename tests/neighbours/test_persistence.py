"""Persistence of the neighbour services: with it on, moto's state (buckets and objects, queues
and messages, tables and items, streams, log groups, roles, parameters, secrets, topics) survives
a restart of the server, after kill -9 as after SIGTERM; with it off nothing is written for them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.conftest import Server

SMALL = os.urandom(1024)
LARGE = os.urandom(1024 * 1024)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def env_for(data: Path) -> dict[str, str]:
    return {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(data)}


def kill_9(srv: Server) -> None:
    assert srv.proc is not None
    srv.proc.kill()
    srv.proc.wait(10)
    srv.proc = None


def populate(srv: Server) -> dict[str, Any]:
    """Create one of everything; returns what the checks need (URLs, ARNs, an iterator)."""
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="keep-bucket")
    s3.put_object(Bucket="keep-bucket", Key="small.bin", Body=SMALL)
    s3.put_object(Bucket="keep-bucket", Key="dir/large.bin", Body=LARGE)

    sqs = srv.client("sqs")
    queue = sqs.create_queue(QueueName="keep-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="first")
    sqs.send_message(QueueUrl=queue, MessageBody="second")

    ddb = srv.client("dynamodb")
    ddb.create_table(
        TableName="keep-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    for n in range(3):
        ddb.put_item(TableName="keep-table", Item={"id": {"S": f"item-{n}"}, "n": {"N": str(n)}})

    kinesis = srv.client("kinesis")
    kinesis.create_stream(StreamName="keep-stream", ShardCount=1)
    kinesis.put_record(StreamName="keep-stream", Data=b"record-1", PartitionKey="p")
    shard = kinesis.describe_stream(StreamName="keep-stream")["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="keep-stream", ShardId=shard, ShardIteratorType="TRIM_HORIZON")

    logs = srv.client("logs")
    logs.create_log_group(logGroupName="/keep/group")
    logs.create_log_stream(logGroupName="/keep/group", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/keep/group",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "line one"}, {"timestamp": now + 1, "message": "line two"}],
    )

    srv.client("iam").create_role(RoleName="keep-role", AssumeRolePolicyDocument=TRUST)
    srv.client("ssm").put_parameter(Name="/keep/param", Value="param-value", Type="String")
    srv.client("secretsmanager").create_secret(Name="keep-secret", SecretString="s3cr3t")

    sns = srv.client("sns")
    topic = sns.create_topic(Name="keep-topic")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return {"queue": queue, "topic": topic, "shard": shard, "iterator": iterator["ShardIterator"]}


def check(srv: Server, made: dict[str, Any]) -> None:
    """Everything ``populate`` made is there and readable."""
    s3 = srv.client("s3")
    assert s3.get_object(Bucket="keep-bucket", Key="small.bin")["Body"].read() == SMALL
    assert s3.get_object(Bucket="keep-bucket", Key="dir/large.bin")["Body"].read() == LARGE
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="keep-bucket")["Contents"]]
    assert sorted(keys) == ["dir/large.bin", "small.bin"]

    bodies = receive_all(srv, made["queue"], 2)
    assert sorted(bodies) == ["first", "second"]

    ddb = srv.client("dynamodb")
    items = ddb.scan(TableName="keep-table")["Items"]
    assert sorted(i["id"]["S"] for i in items) == ["item-0", "item-1", "item-2"]
    assert ddb.get_item(TableName="keep-table", Key={"id": {"S": "item-2"}})["Item"]["n"] == {"N": "2"}
    stream_arn = ddb.describe_table(TableName="keep-table")["Table"]["LatestStreamArn"]
    streams = srv.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records] == ["item-0", "item-1", "item-2"]

    kinesis = srv.client("kinesis")
    it = kinesis.get_shard_iterator(StreamName="keep-stream", ShardId=made["shard"], ShardIteratorType="TRIM_HORIZON")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]] == [b"record-1"]
    # An iterator handed out before the restart still reads.
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=made["iterator"])["Records"]] == [b"record-1"]

    events = srv.client("logs").get_log_events(logGroupName="/keep/group", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in events["events"]] == ["line one", "line two"]

    assert srv.client("iam").get_role(RoleName="keep-role")["Role"]["RoleName"] == "keep-role"
    assert srv.client("ssm").get_parameter(Name="/keep/param")["Parameter"]["Value"] == "param-value"
    assert srv.client("secretsmanager").get_secret_value(SecretId="keep-secret")["SecretString"] == "s3cr3t"
    subs = srv.client("sns").list_subscriptions_by_topic(TopicArn=made["topic"])["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["sqs"]


def receive_all(srv: Server, queue: str, count: int) -> list[str]:
    sqs = srv.client("sqs")
    bodies: list[str] = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
        bodies += [m["Body"] for m in got]
        if len(bodies) >= count:
            break
    return bodies


def test_state_survives_kill_9(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        made = populate(srv)
        kill_9(srv)
        srv.start()
        check(srv, made)
    assert (tmp_path / "neighbours" / "s3.pickle").is_file()
    # The objects' bytes are stored once each by content, not inside the snapshot.
    assert len(list((tmp_path / "neighbours" / "blobs").iterdir())) == 2
    assert (tmp_path / "neighbours" / "s3.pickle").stat().st_size < len(LARGE)


def test_state_survives_a_clean_restart(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        made = populate(srv)
    with Server(env=env) as srv:
        check(srv, made)


def test_a_write_acknowledged_right_before_kill_9_is_kept(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        s3, sqs = srv.client("s3"), srv.client("sqs")
        s3.create_bucket(Bucket="last-bucket")
        queue = sqs.create_queue(QueueName="last-queue")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="acknowledged")
        s3.put_object(Bucket="last-bucket", Key="last.txt", Body=b"acknowledged")
        kill_9(srv)
        srv.start()
        assert srv.client("s3").get_object(Bucket="last-bucket", Key="last.txt")["Body"].read() == b"acknowledged"
        assert receive_all(srv, queue, 1) == ["acknowledged"]


def test_messages_in_flight_come_back_after_their_visibility_timeout(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        sqs = srv.client("sqs")
        queue = sqs.create_queue(QueueName="flight-queue")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="in-flight")
        sqs.send_message(QueueUrl=queue, MessageBody="delayed", DelaySeconds=1)
        got = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=1)["Messages"]
        assert [m["Body"] for m in got] == ["in-flight"]
        kill_9(srv)
        srv.start()
        # Visibility and delays are wall-clock times in the snapshot: both become receivable.
        assert sorted(receive_all(srv, queue, 2)) == ["delayed", "in-flight"]
        attrs = srv.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
        assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_deleted_object_is_gone_after_a_restart_and_its_bytes_too(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        s3 = srv.client("s3")
        s3.create_bucket(Bucket="gone-bucket")
        s3.put_object(Bucket="gone-bucket", Key="kept", Body=b"kept")
        s3.put_object(Bucket="gone-bucket", Key="gone", Body=b"gone")
        s3.delete_object(Bucket="gone-bucket", Key="gone")
        kill_9(srv)
        srv.start()
        keys = [o["Key"] for o in srv.client("s3").list_objects_v2(Bucket="gone-bucket")["Contents"]]
        assert keys == ["kept"]
    assert len(list((tmp_path / "neighbours" / "blobs").iterdir())) == 1


def test_with_persistence_off_nothing_is_written_for_the_neighbours(tmp_path: Path) -> None:
    with Server(env={"PERSISTENCE": "0", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}) as srv:
        srv.client("s3").create_bucket(Bucket="temp-bucket")
        srv.client("sqs").create_queue(QueueName="temp-queue")
    assert not (tmp_path / "neighbours").exists()
    with Server(env={"PERSISTENCE": "0", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}) as srv:
        assert srv.client("s3").list_buckets()["Buckets"] == []


def test_a_corrupted_snapshot_is_skipped_and_the_others_restored(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with Server(env=env) as srv:
        srv.client("s3").create_bucket(Bucket="fine-bucket")
        srv.client("sqs").create_queue(QueueName="broken-queue")
    (tmp_path / "neighbours" / "sqs.pickle").write_bytes(b"not a snapshot")
    with Server(env=env) as srv:
        assert [b["Name"] for b in srv.client("s3").list_buckets()["Buckets"]] == ["fine-bucket"]
        assert srv.client("sqs").list_queues().get("QueueUrls", []) == []
        assert "sqs.pickle is unreadable" in srv.log()
