"""The services around Lambda on the same port: each one's basic calls through boto3 and the AWS
CLI, in this server's account, and SERVICES limiting what is served."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

ACCOUNT = "000000000000"


def test_s3_objects_path_style(srv: Server) -> None:
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="nb-objects")
    s3.put_object(Bucket="nb-objects", Key="dir/a b.txt", Body=b"hello", Metadata={"owner": "me"})
    got = s3.get_object(Bucket="nb-objects", Key="dir/a b.txt")
    assert got["Body"].read() == b"hello"
    assert got["Metadata"] == {"owner": "me"}
    assert s3.head_object(Bucket="nb-objects", Key="dir/a b.txt")["ContentLength"] == 5
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="nb-objects")["Contents"]] == ["dir/a b.txt"]
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="nb-objects", Key="missing")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_s3_bucket_named_like_a_lambda_path(srv: Server) -> None:
    """A bucket may be named like the Lambda API's version prefix: a request signed for S3
    reaches S3 (and the Lambda API stays the Lambda API)."""
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="2015-03-31")
    s3.put_object(Bucket="2015-03-31", Key="functions/", Body=b"x")
    assert s3.get_object(Bucket="2015-03-31", Key="functions/")["Body"].read() == b"x"
    assert "Functions" in srv.client("lambda").list_functions()


def _signed(
    srv: Server, service: str, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Send a request signed for ``service`` to ``url``'s path and Host, over a connection to
    this server (so hosts that only resolve on the internet can be used)."""
    headers = {"Host": urllib.parse.urlsplit(url).netloc, **(headers or {})}
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    split = urllib.parse.urlsplit(prepared.url)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request(
            method,
            split.path + (f"?{split.query}" if split.query else ""),
            body=body or None,
            headers=dict(prepared.headers),
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_s3_virtual_host_style(srv: Server) -> None:
    """``<bucket>.s3.localhost.localstack.cloud`` names the bucket, as on LocalStack (the name
    resolves to 127.0.0.1 on the internet; here the connection goes to 127.0.0.1 directly)."""
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="nb-vhost")
    s3.put_object(Bucket="nb-vhost", Key="k.txt", Body=b"virtual")
    status, body = _signed(srv, "s3", "GET", f"http://nb-vhost.s3.localhost.localstack.cloud:{srv.port}/k.txt")
    assert (status, body) == (200, b"virtual")
    # the bare S3 host is path style
    status, body = _signed(srv, "s3", "GET", f"http://s3.localhost.localstack.cloud:{srv.port}/nb-vhost/k.txt")
    assert (status, body) == (200, b"virtual")
    # and a put through the virtual host lands in the bucket
    status, _ = _signed(
        srv, "s3", "PUT", f"http://nb-vhost.s3.localhost.localstack.cloud:{srv.port}/new.txt", b"via vhost"
    )
    assert status == 200
    assert s3.get_object(Bucket="nb-vhost", Key="new.txt")["Body"].read() == b"via vhost"


def test_s3_presigned_url(srv: Server) -> None:
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="nb-presigned")
    s3.put_object(Bucket="nb-presigned", Key="p", Body=b"signed in the url")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "nb-presigned", "Key": "p"}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.read() == b"signed in the url"


def test_sqs_json_and_query_protocols(srv: Server) -> None:
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="nb-queue")["QueueUrl"]
    assert url == f"{srv.url}/{ACCOUNT}/nb-queue"  # a queue URL that points back here
    sqs.send_message(QueueUrl=url, MessageBody="one")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in messages] == ["one"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:us-east-1:{ACCOUNT}:nb-queue"
    # the query protocol (older SDKs): form-encoded, XML back
    body = b"Action=ListQueues&Version=2012-11-05"
    status, answer = _signed(
        srv, "sqs", "POST", f"{srv.url}/", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    text = answer.decode()
    assert status == 200
    assert "<ListQueuesResponse" in text and "nb-queue" in text


def test_sns_topic_and_subscription(srv: Server) -> None:
    sns = srv.client("sns")
    arn = sns.create_topic(Name="nb-topic")["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:{ACCOUNT}:nb-topic"
    sqs = srv.client("sqs")
    q = sqs.create_queue(QueueName="nb-topic-sink")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=arn, Message="fanned out")
    messages = sqs.receive_message(QueueUrl=q, WaitTimeSeconds=2)["Messages"]
    assert messages[0]["Body"] == "fanned out"


def test_dynamodb_and_streams(srv: Server) -> None:
    ddb = srv.client("dynamodb")
    table = ddb.create_table(
        TableName="nb-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    assert table["TableArn"] == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/nb-table"
    ddb.put_item(TableName="nb-table", Item={"id": {"S": "1"}, "v": {"N": "7"}})
    assert ddb.get_item(TableName="nb-table", Key={"id": {"S": "1"}})["Item"]["v"] == {"N": "7"}
    streams = srv.client("dynamodbstreams")
    stream = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]
    shard = stream["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=table["LatestStreamArn"], ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert records[0]["eventName"] == "INSERT"
    assert records[0]["dynamodb"]["NewImage"]["v"] == {"N": "7"}


def test_kinesis_put_and_get(srv: Server) -> None:
    kinesis = srv.client("kinesis")
    kinesis.create_stream(StreamName="nb-stream", ShardCount=1)
    desc = kinesis.describe_stream(StreamName="nb-stream")["StreamDescription"]
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/nb-stream"
    kinesis.put_record(StreamName="nb-stream", Data=b"payload", PartitionKey="p")
    it = kinesis.get_shard_iterator(
        StreamName="nb-stream", ShardId=desc["Shards"][0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"payload"]


def test_logs_iam_sts_events_secrets_ssm(srv: Server) -> None:
    logs = srv.client("logs")
    logs.create_log_group(logGroupName="/nb/group")
    assert any(g["logGroupName"] == "/nb/group" for g in logs.describe_log_groups()["logGroups"])

    iam = srv.client("iam")
    role = iam.create_role(
        RoleName="nb-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    assert role["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/nb-role"

    assert srv.client("sts").get_caller_identity()["Account"] == ACCOUNT

    events = srv.client("events")
    rule = events.put_rule(Name="nb-rule", EventPattern=json.dumps({"source": ["nb"]}))
    assert rule["RuleArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nb-rule"

    secrets = srv.client("secretsmanager")
    secrets.create_secret(Name="nb-secret", SecretString="s3cr3t")
    assert secrets.get_secret_value(SecretId="nb-secret")["SecretString"] == "s3cr3t"

    ssm = srv.client("ssm")
    ssm.put_parameter(Name="/nb/param", Value="v", Type="String")
    assert ssm.get_parameter(Name="/nb/param")["Parameter"]["Value"] == "v"


def test_cloudformation_stack_of_a_queue(srv: Server) -> None:
    cfn = srv.client("cloudformation")
    template = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "nb-cfn-queue"}}}}
    cfn.create_stack(StackName="nb-stack", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="nb-stack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/nb-stack/")
    assert srv.client("sqs").get_queue_url(QueueName="nb-cfn-queue")["QueueUrl"]


@pytest.mark.parametrize(
    "args",
    [
        ("sqs", "list-queues"),
        ("iam", "list-roles"),
        ("sts", "get-caller-identity"),
        ("cloudformation", "list-stacks"),
        ("s3api", "list-buckets"),
        ("sns", "list-topics"),
        ("dynamodb", "list-tables"),
    ],
)
def test_aws_cli_speaks_to_each(srv: Server, args: tuple[str, ...]) -> None:
    out = srv.cli(*args, "--output", "json")
    assert out.returncode == 0
    json.loads(out.stdout or "{}")


def test_services_setting_limits_what_is_served(spawn_server: Any) -> None:
    server = spawn_server(SERVICES="s3,lambda")
    server.client("s3").list_buckets()
    with pytest.raises(ClientError) as err:
        server.client("sqs").list_queues()
    error = err.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert error["Message"] == "Service 'sqs' is not enabled. Please check your 'SERVICES' configuration variable."
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    # a query-protocol client gets XML it can parse, naming the service
    out = server.cli("sts", "get-caller-identity", check=False)
    assert out.returncode != 0
    assert "Service 'sts' is not enabled" in out.stderr, out.stderr
    assert "invalid XML" not in out.stderr
    health = json.loads(urllib.request.urlopen(f"{server.url}/_localstack/health", timeout=10).read())
    assert health["services"]["sqs"] == "disabled"
    assert health["services"]["s3"] == "running"
    assert health["services"]["lambda"] == "running"
    assert server.client("lambda").list_functions()["Functions"] == []


def test_health_lists_each_service(srv: Server) -> None:
    health = json.loads(urllib.request.urlopen(f"{srv.url}/_localstack/health", timeout=10).read())
    for name in (
        "s3",
        "sqs",
        "sns",
        "dynamodb",
        "kinesis",
        "logs",
        "iam",
        "sts",
        "events",
        "cloudformation",
        "secretsmanager",
        "ssm",
    ):
        assert health["services"][name] in ("available", "running"), name


def test_unknown_route_without_signature_is_not_a_500(srv: Server) -> None:
    try:
        urllib.request.urlopen(f"{srv.url}/no/such/thing", timeout=10)
    except urllib.error.HTTPError as err:
        assert err.code < 500
