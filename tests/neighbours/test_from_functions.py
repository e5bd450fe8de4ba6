"""Functions reach the neighbours through AWS_ENDPOINT_URL, with nothing configured: boto3 in a
Python function writes to S3 and reads it back, sends to SQS and reads a DynamoDB item."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.executors.test_docker import _docker_server, require_docker
from tests.invoke.conftest import Functions, stop_checked

CODE = """
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=event["bucket"])
    s3.put_object(Bucket=event["bucket"], Key="hello.txt", Body=b"written by a function")
    body = s3.get_object(Bucket=event["bucket"], Key="hello.txt")["Body"].read().decode()
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=event["bucket"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="from inside")
    ident = boto3.client("sts").get_caller_identity()
    return {"body": body, "queue": url, "account": ident["Account"]}
"""


def test_python_function_uses_s3_sqs_sts(srv: Server, functions: Functions) -> None:
    name = functions.python(CODE, timeout=30)
    out = functions.invoke_json(name, {"bucket": "from-a-function"})
    assert out["body"] == "written by a function"
    assert out["account"] == "000000000000"
    # what the function wrote is there for the host's clients too
    assert (
        srv.client("s3").get_object(Bucket="from-a-function", Key="hello.txt")["Body"].read()
        == b"written by a function"
    )
    messages = srv.client("sqs").receive_message(QueueUrl=out["queue"], WaitTimeSeconds=1)["Messages"]
    assert messages[0]["Body"] == "from inside"


@pytest.mark.docker
def test_python_function_in_docker_uses_s3_sqs_sts() -> None:
    """The same from a container (docker-reuse, host network): AWS_ENDPOINT_URL leads back here."""
    require_docker()
    server = _docker_server("docker-reuse").start()
    try:
        client = server.client()
        client.create_function(
            FunctionName="neighbours-in-docker",
            Runtime="python3.11",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": CODE})},
            Timeout=60,
        )
        wait_active(client, "neighbours-in-docker")
        out = client.invoke(FunctionName="neighbours-in-docker", Payload=json.dumps({"bucket": "from-a-container"}))
        body = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, body
        assert body["body"] == "written by a function"
        assert body["account"] == "000000000000"
        got = server.client("s3").get_object(Bucket="from-a-container", Key="hello.txt")["Body"].read()
        assert got == b"written by a function"
    finally:
        stop_checked(server)


NODE_CODE = """
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { SQSClient, CreateQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";

export const handler = async (event) => {
  const s3 = new S3Client({ forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: event.bucket }));
  await s3.send(new PutObjectCommand({ Bucket: event.bucket, Key: "node.txt", Body: "written by node" }));
  const got = await s3.send(new GetObjectCommand({ Bucket: event.bucket, Key: "node.txt" }));
  const sqs = new SQSClient({});
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: event.bucket }));
  await sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: "from node" }));
  return { body: await got.Body.transformToString(), queue: queue.QueueUrl };
};
"""


def test_node_function_uses_the_bundled_sdk_v3(srv: Server, functions: Functions) -> None:
    """The AWS SDK v3 that nodejs18.x+ bundle reaches the neighbours through AWS_ENDPOINT_URL."""
    name = functions.create({"index.mjs": NODE_CODE}, runtime="nodejs20.x", handler="index.handler", timeout=30)
    out = functions.invoke_json(name, {"bucket": "from-node"})
    assert out["body"] == "written by node"
    assert srv.client("s3").get_object(Bucket="from-node", Key="node.txt")["Body"].read() == b"written by node"
    messages = srv.client("sqs").receive_message(QueueUrl=out["queue"], WaitTimeSeconds=1)["Messages"]
    assert messages[0]["Body"] == "from node"
