"""CloudFormation's ``AWS::Lambda::EventSourceMapping`` (and SAM's SQS, Kinesis and DynamoDB
events) make real mappings of this server: a message sent to the stack's queue invokes the
stack's function, Ref and Fn::GetAtt are AWS's, an update changes the mapping in place or
replaces it as CloudFormation's resource schema says, and deleting the stack deletes the
mapping. Black-box: boto3 and the AWS CLI against a real server, functions run for real."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME

# Every function of these stacks tells the sink queue what it got, and who it is.
FORWARDER = """\
import json, os, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SINK"],
                     MessageBody=json.dumps({"function": context.function_name, "event": event}))
    return "ok"
"""


def _stack_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _described(cfn: Any, stack: str) -> dict[str, Any]:
    described: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return described


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = _described(cfn, stack)
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), described
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _function(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": HOST_PYTHON_RUNTIME,
            "Handler": "index.handler",
            "Role": ROLE,
            "Timeout": 30,
            "Code": {"ZipFile": FORWARDER},
            "Environment": {"Variables": {"SINK": {"Ref": "Sink"}}},
            "Tags": [{"Key": "name", "Value": name}],
        },
    }


def _sink_events(srv: Server, sink_url: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The first ``count`` messages the functions sent to the sink."""
    sqs = srv.client("sqs")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=sink_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=sink_url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) >= count, f"the functions sent {got} within {timeout} s, {count} expected"
    return got


def _queue_template(batch_size: int | str, target: str, source: str, tags: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {
                "Sink": {"Type": "AWS::SQS::Queue"},
                "Source": {"Type": "AWS::SQS::Queue"},
                "OtherSource": {"Type": "AWS::SQS::Queue"},
                "First": _function("first"),
                "Second": _function("second"),
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "EventSourceArn": {"Fn::GetAtt": [source, "Arn"]},
                        "FunctionName": {"Ref": target},
                        "BatchSize": batch_size,
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    },
                },
            },
            "Outputs": {
                "MappingRef": {"Value": {"Ref": "Mapping"}},
                "MappingId": {"Value": {"Fn::GetAtt": ["Mapping", "Id"]}},
                "MappingArn": {"Value": {"Fn::GetAtt": ["Mapping", "EventSourceMappingArn"]}},
                "SourceUrl": {"Value": {"Ref": "Source"}},
                "SourceArn": {"Value": {"Fn::GetAtt": ["Source", "Arn"]}},
                "OtherSourceUrl": {"Value": {"Ref": "OtherSource"}},
                "OtherSourceArn": {"Value": {"Fn::GetAtt": ["OtherSource", "Arn"]}},
                "SinkUrl": {"Value": {"Ref": "Sink"}},
                "First": {"Value": {"Ref": "First"}},
                "FirstArn": {"Value": {"Fn::GetAtt": ["First", "Arn"]}},
                "Second": {"Value": {"Ref": "Second"}},
                "SecondArn": {"Value": {"Fn::GetAtt": ["Second", "Arn"]}},
            },
        }
    )


def test_a_stack_maps_its_queue_to_its_function(srv: Server) -> None:
    cfn, lam, sqs = srv.client("cloudformation"), srv.client("lambda"), srv.client("sqs")
    stack = _stack_name("esm-stack")
    stack_id = cfn.create_stack(
        StackName=stack, TemplateBody=_queue_template("3", "First", "Source", {"team": "blue"})
    )["StackId"]
    out = _outputs(cfn, stack)

    # Ref and Fn::GetAtt Id are the mapping's UUID, EventSourceMappingArn its ARN
    mapping_id = out["MappingRef"]
    assert out["MappingId"] == mapping_id
    assert out["MappingArn"] == f"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{mapping_id}"
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}["Mapping"] == mapping_id

    # the mapping is this server's, settled (Enabled) when the stack is complete
    mapping = lam.get_event_source_mapping(UUID=mapping_id)
    assert mapping["State"] == "Enabled"
    assert mapping["EventSourceArn"] == out["SourceArn"]
    assert mapping["FunctionArn"] == out["FirstArn"]
    assert mapping["BatchSize"] == 3  # a String in the template, an Integer to the API
    assert mapping["EventSourceMappingArn"] == out["MappingArn"]
    assert lam.list_tags(Resource=out["MappingArn"])["Tags"] == {
        "team": "blue",
        "aws:cloudformation:stack-name": stack,
        "aws:cloudformation:stack-id": stack_id,
        "aws:cloudformation:logical-id": "Mapping",
    }

    # a message sent to the queue invokes the function with the queue's record
    sqs.send_message(QueueUrl=out["SourceUrl"], MessageBody='{"n": 1}')
    (got,) = _sink_events(srv, out["SinkUrl"], 1)
    assert got["function"] == out["First"]
    (record,) = got["event"]["Records"]
    assert record["body"] == '{"n": 1}' and record["eventSourceARN"] == out["SourceArn"]

    # BatchSize, FunctionName and Tags change in place: the same mapping, now to the second function
    cfn.update_stack(StackName=stack, TemplateBody=_queue_template(5, "Second", "Source", {"team": "red"}))
    assert _outputs(cfn, stack)["MappingRef"] == mapping_id
    mapping = lam.get_event_source_mapping(UUID=mapping_id)
    assert (mapping["State"], mapping["BatchSize"], mapping["FunctionArn"]) == ("Enabled", 5, out["SecondArn"])
    assert lam.list_tags(Resource=out["MappingArn"])["Tags"]["team"] == "red"
    sqs.send_message(QueueUrl=out["SourceUrl"], MessageBody='{"n": 2}')
    (got,) = _sink_events(srv, out["SinkUrl"], 1)
    assert got["function"] == out["Second"]
    assert got["event"]["Records"][0]["body"] == '{"n": 2}'

    # another EventSourceArn requires replacement: a new mapping, the old one deleted
    cfn.update_stack(StackName=stack, TemplateBody=_queue_template(5, "Second", "OtherSource", {"team": "red"}))
    replaced = _outputs(cfn, stack)["MappingRef"]
    assert replaced != mapping_id
    with pytest.raises(ClientError) as err:
        lam.get_event_source_mapping(UUID=mapping_id)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    mapping = lam.get_event_source_mapping(UUID=replaced)
    assert (mapping["State"], mapping["EventSourceArn"]) == ("Enabled", out["OtherSourceArn"])
    sqs.send_message(QueueUrl=out["OtherSourceUrl"], MessageBody='{"n": 3}')
    (got,) = _sink_events(srv, out["SinkUrl"], 1)
    assert got["event"]["Records"][0]["eventSourceARN"] == out["OtherSourceArn"]

    # deleting the stack deletes the mapping and the functions
    cfn.delete_stack(StackName=stack)
    uuids = {m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    assert replaced not in uuids
    assert lam.list_event_source_mappings(FunctionName=out["SecondArn"])["EventSourceMappings"] == []
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=out["Second"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _stream_template(starting_position: str, *, retries: bool = True) -> str:
    retry_settings = {"MaximumRetryAttempts": "2", "BisectBatchOnFunctionError": "true"} if retries else {}
    return json.dumps(
        {
            "Resources": {
                "Sink": {"Type": "AWS::SQS::Queue"},
                "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
                "Fn": _function("reader"),
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
                        "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                        "StartingPosition": starting_position,
                        "BatchSize": 10,
                        **retry_settings,
                    },
                },
            },
            "Outputs": {
                "MappingId": {"Value": {"Ref": "Mapping"}},
                "StreamName": {"Value": {"Ref": "Stream"}},
                "StreamArn": {"Value": {"Fn::GetAtt": ["Stream", "Arn"]}},
                "SinkUrl": {"Value": {"Ref": "Sink"}},
                "Fn": {"Value": {"Ref": "Fn"}},
            },
        }
    )


def test_a_kinesis_mapping_in_a_template(srv: Server) -> None:
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    stack = _stack_name("esm-kinesis")
    cfn.create_stack(StackName=stack, TemplateBody=_stream_template("TRIM_HORIZON"))
    out = _outputs(cfn, stack)
    mapping = lam.get_event_source_mapping(UUID=out["MappingId"])
    assert mapping["State"] == "Enabled"
    assert mapping["EventSourceArn"] == out["StreamArn"]
    assert (mapping["StartingPosition"], mapping["MaximumRetryAttempts"]) == ("TRIM_HORIZON", 2)
    assert mapping["BisectBatchOnFunctionError"] is True

    srv.client("kinesis").put_record(StreamName=out["StreamName"], Data=b'{"n": 1}', PartitionKey="k")
    (got,) = _sink_events(srv, out["SinkUrl"], 1)
    assert got["function"] == out["Fn"]
    (record,) = got["event"]["Records"]
    assert record["eventSource"] == "aws:kinesis" and record["eventSourceARN"] == out["StreamArn"]
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"n": 1}

    # StartingPosition requires replacement; the new mapping is made before the old one is
    # deleted, and Lambda refuses a second mapping of the same stream and function: the update
    # fails and rolls back, as on AWS
    cfn.update_stack(StackName=stack, TemplateBody=_stream_template("LATEST"))
    described = _described(cfn, stack)
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failed = [
        e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert [e["LogicalResourceId"] for e in failed] == ["Mapping"]
    assert "provided mapping already exists" in failed[0]["ResourceStatusReason"]
    assert "HandlerErrorCode: AlreadyExists" in failed[0]["ResourceStatusReason"]
    assert lam.get_event_source_mapping(UUID=out["MappingId"])["StartingPosition"] == "TRIM_HORIZON"
    assert len(lam.list_event_source_mappings(EventSourceArn=out["StreamArn"])["EventSourceMappings"]) == 1

    # properties dropped from the template go back to Lambda's defaults, in place
    cfn.update_stack(StackName=stack, TemplateBody=_stream_template("TRIM_HORIZON", retries=False))
    assert _outputs(cfn, stack)["MappingId"] == out["MappingId"]
    mapping = lam.get_event_source_mapping(UUID=out["MappingId"])
    assert (mapping["MaximumRetryAttempts"], mapping["BisectBatchOnFunctionError"]) == (-1, False)
    assert mapping["State"] == "Enabled"

    cfn.delete_stack(StackName=stack)
    assert lam.list_event_source_mappings(EventSourceArn=out["StreamArn"])["EventSourceMappings"] == []


def test_a_mapping_of_a_missing_queue_rolls_the_stack_back(srv: Server) -> None:
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    stack = _stack_name("esm-missing")
    missing = "arn:aws:sqs:us-east-1:000000000000:no-such-queue"
    template = {
        "Resources": {
            "Sink": {"Type": "AWS::SQS::Queue"},
            "Fn": _function("orphan"),
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {"EventSourceArn": missing, "FunctionName": {"Ref": "Fn"}},
            },
        }
    }
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    described = _described(cfn, stack)
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [
        e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert [(e["LogicalResourceId"], e["ResourceType"]) for e in failed] == [
        ("Mapping", "AWS::Lambda::EventSourceMapping")
    ]
    assert failed[0]["ResourceStatusReason"].startswith("Resource handler returned message: ")
    assert "HandlerErrorCode: InvalidRequest" in failed[0]["ResourceStatusReason"]
    assert lam.list_event_source_mappings(EventSourceArn=missing)["EventSourceMappings"] == []
    cfn.delete_stack(StackName=stack)


_INLINE = "".join(f"        {line}\n" for line in FORWARDER.splitlines())
SAM_TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Sink:
    Type: AWS::SQS::Queue
  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {HOST_PYTHON_RUNTIME}
      Handler: index.handler
      Timeout: 30
      Environment:
        Variables:
          SINK: !Ref Sink
      InlineCode: |
{_INLINE}      Events:
        FromJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 2
        FromItems:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 1
Outputs:
  Worker:
    Value: !Ref Worker
  JobsUrl:
    Value: !Ref Jobs
  JobsArn:
    Value: !GetAtt Jobs.Arn
  ItemsName:
    Value: !Ref Items
  ItemsStream:
    Value: !GetAtt Items.StreamArn
  SinkUrl:
    Value: !Ref Sink
"""


def test_sam_sqs_and_dynamodb_events_through_aws_cloudformation_deploy(srv: Server, tmp_path: Any) -> None:
    """SAM turns the function's SQS and DynamoDB events into AWS::Lambda::EventSourceMapping
    resources (``<function><event>``), which become mappings here."""
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    template = tmp_path / "template.yaml"
    template.write_text(SAM_TEMPLATE)
    stack = _stack_name("sam-esm")
    deployed = srv.cli(
        "cloudformation",
        "deploy",
        "--template-file",
        str(template),
        "--stack-name",
        stack,
        "--capabilities",
        "CAPABILITY_IAM",
    )
    assert f"Successfully created/updated stack - {stack}" in deployed.stdout
    out = _outputs(cfn, stack)
    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}
    assert resources["WorkerFromJobs"]["ResourceType"] == "AWS::Lambda::EventSourceMapping"
    assert resources["WorkerFromItems"]["ResourceType"] == "AWS::Lambda::EventSourceMapping"
    mappings = {
        m["EventSourceArn"]: m
        for m in lam.list_event_source_mappings(FunctionName=out["Worker"])["EventSourceMappings"]
    }
    assert set(mappings) == {out["JobsArn"], out["ItemsStream"]}
    assert mappings[out["JobsArn"]]["UUID"] == resources["WorkerFromJobs"]["PhysicalResourceId"]
    assert mappings[out["JobsArn"]]["BatchSize"] == 2
    assert mappings[out["ItemsStream"]]["StartingPosition"] == "TRIM_HORIZON"

    srv.client("sqs").send_message(QueueUrl=out["JobsUrl"], MessageBody="job 1")
    srv.client("dynamodb").put_item(TableName=out["ItemsName"], Item={"id": {"S": "item-1"}})
    got = _sink_events(srv, out["SinkUrl"], 2)
    records = [r for g in got for r in g["event"]["Records"]]
    assert {r["eventSourceARN"] for r in records} == {out["JobsArn"], out["ItemsStream"]}
    (job,) = [r for r in records if r["eventSourceARN"] == out["JobsArn"]]
    assert job["body"] == "job 1"
    (item,) = [r for r in records if r["eventSourceARN"] == out["ItemsStream"]]
    assert item["eventSource"] == "aws:dynamodb" and item["eventName"] == "INSERT"
    assert item["dynamodb"]["NewImage"] == {"id": {"S": "item-1"}}

    srv.cli("cloudformation", "delete-stack", "--stack-name", stack)
    assert lam.list_event_source_mappings(FunctionName=out["Worker"])["EventSourceMappings"] == []
