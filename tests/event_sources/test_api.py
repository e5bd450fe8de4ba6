"""The five EventSourceMapping operations: AWS-recorded shapes, states and errors (LocalStack's
parity snapshots, TestLambdaEventSourceMappings and test_lambda_integration_*)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.event_sources.conftest import Recorder, wait_state


def _error(call: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return {"Code": info.value.response["Error"]["Code"], "Message": info.value.response["Error"]["Message"]}


def test_sqs_mapping_lifecycle_and_shape(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="api-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    created.pop("ResponseMetadata")
    assert set(created) == {
        "BatchSize",
        "EventSourceArn",
        "EventSourceMappingArn",
        "FunctionArn",
        "FunctionResponseTypes",
        "LastModified",
        "MaximumBatchingWindowInSeconds",
        "State",
        "StateTransitionReason",
        "UUID",
    }
    assert (created["BatchSize"], created["MaximumBatchingWindowInSeconds"], created["State"]) == (10, 0, "Creating")
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    assert wait_state(lam, created["UUID"], "Enabled")["State"] == "Enabled"
    assert _error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name) == {
        "Code": "ResourceConflictException",
        "Message": f'An event source mapping with SQS arn (" {arn} ") and function (" {recorder.name} ") already '
        f"exists. Please update or delete the existing mapping with UUID {created['UUID']}",
    }
    updated = lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)
    assert updated["State"] == "Disabling"
    assert wait_state(lam, created["UUID"], "Disabled")["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)["State"] == "Enabling"
    wait_state(lam, created["UUID"], "Enabled")
    assert lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)["State"] == "Updating"
    assert wait_state(lam, created["UUID"], "Enabled")["BatchSize"] == 5
    lam.tag_resource(Resource=created["EventSourceMappingArn"], Tags={"A": "tag-a"})
    assert lam.list_tags(Resource=created["EventSourceMappingArn"])["Tags"] == {"A": "tag-a"}
    listed = lam.list_event_source_mappings(FunctionName=recorder.name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    assert lam.list_event_source_mappings(EventSourceArn=arn + "x")["EventSourceMappings"] == []
    assert lam.delete_event_source_mapping(UUID=created["UUID"])["State"] == "Deleting"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            lam.get_event_source_mapping(UUID=created["UUID"])
        except ClientError:
            break
        time.sleep(0.05)
    assert _error(lam.get_event_source_mapping, UUID=created["UUID"])["Code"] == "ResourceNotFoundException"


def test_errors_as_aws_words_them(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="api-errors")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    missing = "00000000-0000-0000-0000-000000000000"
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping, lam.update_event_source_mapping):
        assert _error(call, UUID=missing) == {
            "Code": "ResourceNotFoundException",
            "Message": "The resource you requested does not exist.",
        }
    assert _error(lam.create_event_source_mapping, FunctionName=recorder.name) == {
        "Code": "InvalidParameterValueException",
        "Message": "Unrecognized event source.",
    }
    assert _error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName="doesnotexist") == {
        "Code": "InvalidParameterValueException",
        "Message": "Function does not exist",
    }
    assert _error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name, BatchSize=20) == {
        "Code": "InvalidParameterValueException",
        "Message": "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    }
    assert (
        _error(
            lam.create_event_source_mapping,
            EventSourceArn=arn,
            FunctionName=recorder.name,
            DestinationConfig={"OnSuccess": {"Destination": arn}},
        )["Message"]
        == "Unsupported DestinationConfig parameter for given event source mapping type."
    )
    assert (
        _error(
            lam.create_event_source_mapping,
            EventSourceArn=arn,
            FunctionName=recorder.name,
            FilterCriteria={"Filters": [{"Pattern": "simple string"}]},
        )["Message"]
        == "Invalid filter pattern definition."
    )
    assert _error(
        lam.create_event_source_mapping, EventSourceArn=arn.replace("api-errors", "nope"), FunctionName=recorder.name
    )["Message"] == (
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
        "SQS Error Message: The specified queue does not exist."
    )
    fake = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:" + missing
    assert _error(lam.list_tags, Resource=fake)["Message"] == f"Event source mapping not found: {fake}"


def test_stream_mapping_defaults_and_checks(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    kinesis = srv.client("kinesis")
    kinesis.create_stream(StreamName="api-stream", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="api-stream")["StreamDescriptionSummary"]["StreamARN"]
    assert _error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name)["Message"] == (
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null."
    )
    missing = arn.replace("api-stream", "nope")
    assert (
        _error(
            lam.create_event_source_mapping,
            EventSourceArn=missing,
            FunctionName=recorder.name,
            StartingPosition="LATEST",
        )["Message"]
        == f"Stream not found: {missing}"
    )
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name, StartingPosition="LATEST")
    created.pop("ResponseMetadata")
    assert {k: v for k, v in created.items() if k not in ("UUID", "EventSourceMappingArn", "LastModified")} == {
        "BatchSize": 100,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {}},
        "EventSourceArn": arn,
        "FunctionArn": lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"],
        "FunctionResponseTypes": [],
        "LastProcessingResult": "No records processed",
        "MaximumBatchingWindowInSeconds": 0,
        "MaximumRecordAgeInSeconds": -1,
        "MaximumRetryAttempts": -1,
        "ParallelizationFactor": 1,
        "StartingPosition": "LATEST",
        "State": "Creating",
        "StateTransitionReason": "User action",
        "TumblingWindowInSeconds": 0,
    }
    assert _error(
        lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name, StartingPosition="LATEST"
    )["Message"] == (
        f'The event source arn (" {arn} ") and function (" {recorder.name} ") provided mapping already exists. '
        f"Please update or delete the existing mapping with UUID {created['UUID']}"
    )
    lam.delete_event_source_mapping(UUID=created["UUID"])
