"""The five EventSourceMapping operations: AWS-recorded shapes, states and errors (LocalStack's
parity snapshots, TestLambdaEventSourceMappings and test_lambda_integration_*)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.event_sources.api_calls import ddb_stream, error, gone, invalid, queue, without_ids
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


def test_function_name_variations(srv: Server, recorder: Recorder) -> None:
    """Every form of FunctionName gives the FunctionArn AWS recorded (test_function_name_variations)."""
    lam = srv.client()
    _, arn = queue(srv)
    version = lam.publish_version(FunctionName=recorder.name)
    alias = lam.create_alias(FunctionName=recorder.name, FunctionVersion=version["Version"], Name="myalias")
    fn_arn = lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"]
    names = {
        recorder.name: fn_arn,
        f"{recorder.name}:$LATEST": f"{fn_arn}:$LATEST",
        f"{recorder.name}:1": f"{fn_arn}:1",
        f"{recorder.name}:myalias": f"{fn_arn}:myalias",
        fn_arn: fn_arn,
        version["FunctionArn"]: f"{fn_arn}:1",
        alias["AliasArn"]: f"{fn_arn}:myalias",
    }
    for name, expected in names.items():
        created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn)
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
        assert without_ids(created) == {
            "BatchSize": 10,
            "EventSourceArn": arn,
            "FunctionArn": expected,
            "FunctionResponseTypes": [],
            "MaximumBatchingWindowInSeconds": 0,
            "State": "Creating",
            "StateTransitionReason": "USER_INITIATED",
        }, name
        wait_state(lam, created["UUID"], "Enabled")
        lam.delete_event_source_mapping(UUID=created["UUID"])
        assert gone(lam, created["UUID"])
    assert error(lam.create_event_source_mapping, FunctionName=f"{recorder.name}:7", EventSourceArn=arn) == invalid(
        "Function does not exist"
    )


def test_stream_mapping_outlives_its_function(srv: Server, recorder: Recorder) -> None:
    """AWS's recorded lifecycle of a DynamoDB mapping whose function is deleted
    (test_event_source_mapping_lifecycle_delete_function)."""
    lam = srv.client()
    stream = ddb_stream(srv)
    _, destination = queue(srv)
    created = lam.create_event_source_mapping(
        FunctionName=recorder.name,
        EventSourceArn=stream,
        DestinationConfig={"OnFailure": {"Destination": destination}},
        BatchSize=1,
        StartingPosition="TRIM_HORIZON",
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=1,
    )
    recorded = {
        "BatchSize": 1,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {"Destination": destination}},
        "EventSourceArn": stream,
        "FunctionArn": lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"],
        "FunctionResponseTypes": [],
        "LastProcessingResult": "No records processed",
        "MaximumBatchingWindowInSeconds": 1,
        "MaximumRecordAgeInSeconds": -1,
        "MaximumRetryAttempts": 1,
        "ParallelizationFactor": 1,
        "StartingPosition": "TRIM_HORIZON",
        "State": "Creating",
        "StateTransitionReason": "User action",
        "TumblingWindowInSeconds": 0,
    }
    assert without_ids(created) == recorded
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    assert without_ids(wait_state(lam, created["UUID"], "Enabled")) == {**recorded, "State": "Enabled"}
    lam.delete_function(FunctionName=recorder.name)
    assert without_ids(lam.get_event_source_mapping(UUID=created["UUID"])) == {**recorded, "State": "Enabled"}
    deleted = lam.delete_event_source_mapping(UUID=created["UUID"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert without_ids(deleted) == {**recorded, "State": "Deleting"}
    assert gone(lam, created["UUID"])


def test_changes_refused_while_in_transition(srv: Server, recorder: Recorder) -> None:
    """ResourceInUseException for an update of a mapping still Creating, Updating or Deleting,
    and for a delete while Updating (the API reference's errors of these operations)."""
    lam = srv.client()
    _, arn = queue(srv)
    created = lam.create_event_source_mapping(FunctionName=recorder.name, EventSourceArn=arn)
    in_use = {"Code": "ResourceInUseException", "Status": 400}
    update_refused = {**in_use, "Message": "Cannot update the event source mapping because it is in use."}
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], BatchSize=5) == update_refused
    wait_state(lam, created["UUID"], "Enabled")
    assert lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)["State"] == "Updating"
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], BatchSize=6) == update_refused
    assert error(lam.delete_event_source_mapping, UUID=created["UUID"]) == {
        **in_use,
        "Message": "Cannot delete the event source mapping because it is in use.",
    }
    wait_state(lam, created["UUID"], "Enabled")
    assert lam.delete_event_source_mapping(UUID=created["UUID"])["State"] == "Deleting"
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], Enabled=False) == update_refused
    assert gone(lam, created["UUID"])


def test_tags_of_a_mapping(srv: Server, recorder: Recorder) -> None:
    """Tags on create and TagResource/UntagResource/ListTags on the mapping's ARN, as AWS
    recorded them (TestLambdaTag, event_source_mapping)."""
    lam = srv.client()
    _, arn = queue(srv)
    created = lam.create_event_source_mapping(
        FunctionName=recorder.name, EventSourceArn=arn, BatchSize=1, Tags={"testtag": "custom"}
    )
    esm_arn = created["EventSourceMappingArn"]
    region, account = esm_arn.split(":")[3:5]
    assert esm_arn == f"arn:aws:lambda:{region}:{account}:event-source-mapping:{created['UUID']}"
    assert "Tags" not in wait_state(lam, created["UUID"], "Enabled")
    assert lam.list_tags(Resource=esm_arn)["Tags"] == {"testtag": "custom"}
    lam.untag_resource(Resource=esm_arn, TagKeys=["testtag"])
    steps: list[tuple[str, Any, dict[str, str]]] = [
        ("tag", {"A": "tag-a"}, {"A": "tag-a"}),
        ("tag", {"B": "tag-b", "C": "tag-c"}, {"A": "tag-a", "B": "tag-b", "C": "tag-c"}),
        (
            "tag",
            {"C": "tag-c-newsuffix", "D": "tag-d"},
            {"A": "tag-a", "B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"},
        ),
        ("untag", ["A"], {"B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"}),
        ("untag", ["B", "C"], {"D": "tag-d"}),
        ("untag", ["F"], {"D": "tag-d"}),
        ("untag", ["D", "F"], {}),
    ]
    for step, given, expected in steps:
        if step == "tag":
            answer = lam.tag_resource(Resource=esm_arn, Tags=given)
        else:
            answer = lam.untag_resource(Resource=esm_arn, TagKeys=given)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert lam.list_tags(Resource=esm_arn)["Tags"] == expected
    missing = esm_arn.replace(created["UUID"], "0c7f6cbd-9c4e-4a3a-9d1f-3d5a8e2b6f10")
    not_found = {
        "Code": "ResourceNotFoundException",
        "Status": 404,
        "Message": f"Event source mapping not found: {missing}",
    }
    assert error(lam.tag_resource, Resource=missing, Tags={"A": "B"}) == not_found
    assert error(lam.untag_resource, Resource=missing, TagKeys=["A"]) == not_found
    assert error(lam.list_tags, Resource=missing) == not_found
    aliased = error(lam.list_tags, Resource=f"{missing}:alias")
    assert (aliased["Code"], aliased["Status"]) == ("ValidationException", 400)
    assert aliased["Message"].startswith(
        f"1 validation error detected: Value '{missing}:alias' at 'resource' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:"
    )
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])
    assert error(lam.list_tags, Resource=esm_arn)["Code"] == "ResourceNotFoundException"


def test_list_filters_and_pages(srv: Server, recorder: Recorder, functions: Any) -> None:
    """ListEventSourceMappings by FunctionName (name, partial ARN, ARN, qualified ARN) and by
    EventSourceArn, paged with Marker/MaxItems in creation order; filters naming nothing that
    exists answer an empty list (test_event_source_mapping_exceptions)."""
    lam = srv.client()
    other = functions.python("def handler(event, context):\n    return 1\n")
    lam.publish_version(FunctionName=recorder.name)
    arns = [queue(srv)[1] for _ in range(4)]
    fn_arn = lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"]
    made = [
        lam.create_event_source_mapping(FunctionName=recorder.name, EventSourceArn=arns[0]),
        lam.create_event_source_mapping(FunctionName=f"{recorder.name}:1", EventSourceArn=arns[1]),
        lam.create_event_source_mapping(FunctionName=recorder.name, EventSourceArn=arns[2], Enabled=False),
        lam.create_event_source_mapping(FunctionName=other, EventSourceArn=arns[0]),
        lam.create_event_source_mapping(FunctionName=other, EventSourceArn=arns[3]),
    ]
    ids = [m["UUID"] for m in made]
    for m in made[:2] + made[3:]:
        wait_state(lam, m["UUID"], "Enabled")
    lam.update_event_source_mapping(UUID=ids[0], BatchSize=3)  # a newer LastModified moves nothing

    def listed(**kw: Any) -> list[str]:
        return [m["UUID"] for m in lam.list_event_source_mappings(**kw)["EventSourceMappings"]]

    mine = ids[:3]
    account = fn_arn.split(":")[4]
    for name in (recorder.name, fn_arn, f"{account}:function:{recorder.name}"):
        assert [u for u in listed(FunctionName=name) if u in ids] == mine, name
    assert listed(FunctionName=f"{fn_arn}:1") == [ids[1]]
    assert listed(FunctionName=f"{recorder.name}:1") == [ids[1]]
    assert listed(FunctionName=f"{fn_arn}:$LATEST") == []
    assert listed(EventSourceArn=arns[0]) == [ids[0], ids[3]]
    assert listed(EventSourceArn=arns[0], FunctionName=other) == [ids[3]]
    assert listed(FunctionName="doesnotexist") == []
    assert listed(EventSourceArn=arns[0] + "-none") == []
    pages: list[str] = []
    marker: str | None = None
    while True:
        kw: dict[str, Any] = {"MaxItems": 2, **({"Marker": marker} if marker else {})}
        page = lam.list_event_source_mappings(**kw)
        assert len(page["EventSourceMappings"]) <= 2
        pages += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [u for u in pages if u in ids] == ids
    assert len(pages) == len(set(pages))
    first = lam.list_event_source_mappings(MaxItems=1)
    assert listed(Marker=first["NextMarker"], MaxItems=1) == [pages[1]]
    for uuid_ in ids:
        wait_state(lam, uuid_, "Enabled" if uuid_ != ids[2] else "Disabled")
        lam.delete_event_source_mapping(UUID=uuid_)
