"""Create/UpdateEventSourceMapping's checks for queues and streams, in AWS's words: the
AWS-recorded answers of LocalStack's parity snapshots (TestLambdaEventSourceMappings,
test_lambda_integration_{sqs,kinesis,dynamodbstreams}) and AWS's answers quoted in public issue
threads (see ``control/event_source_rules.py``)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server
from tests.event_sources.api_calls import ddb_stream, error, gone, invalid, kinesis_stream, queue, without_ids
from tests.event_sources.conftest import Recorder, wait_state

_WINDOW = "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"


def _unsupported(member: str) -> dict[str, Any]:
    return invalid(f"Unsupported '{member}' parameter for given event source mapping type.")


def test_sqs_batch_sizes(srv: Server, recorder: Recorder) -> None:
    """test_event_source_mapping_default_batch_size and test_sqs_event_source_mapping_batch_size:
    more than 10 needs a batching window (on create and on update), up to 10,000 with one."""
    lam = srv.client()
    _, arn = queue(srv)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=recorder.name)
    assert created["BatchSize"] == 10
    wait_state(lam, created["UUID"], "Enabled")
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], FunctionName=recorder.name, BatchSize=11) == (
        invalid(_WINDOW)
    )
    _, other = queue(srv)
    assert error(lam.create_event_source_mapping, EventSourceArn=other, FunctionName=recorder.name, BatchSize=11) == (
        invalid(_WINDOW)
    )
    big = lam.create_event_source_mapping(
        EventSourceArn=other, FunctionName=recorder.name, BatchSize=10000, MaximumBatchingWindowInSeconds=1
    )
    assert (big["BatchSize"], big["MaximumBatchingWindowInSeconds"]) == (10000, 1)
    too_big = error(
        lam.update_event_source_mapping, UUID=big["UUID"], BatchSize=10001, MaximumBatchingWindowInSeconds=1
    )
    assert too_big == {
        "Code": "ValidationException",
        "Status": 400,
        "Message": "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    }
    for uuid_ in (created["UUID"], big["UUID"]):
        wait_state(lam, uuid_, "Enabled")
        lam.delete_event_source_mapping(UUID=uuid_)


def test_sqs_fifo_limits(srv: Server, recorder: Recorder) -> None:
    """FIFO queues: no batching window, at most 10 a batch; a plain FIFO mapping is as AWS
    recorded it (test_fifo_message_group_parallelism, created disabled, then enabled)."""
    lam = srv.client()
    _, arn = queue(srv, fifo=True)
    assert error(
        lam.create_event_source_mapping,
        EventSourceArn=arn,
        FunctionName=recorder.name,
        BatchSize=100,
        MaximumBatchingWindowInSeconds=5,
    ) == invalid("Batching window is not supported for FIFO queues")
    assert error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name, BatchSize=11) == (
        invalid("Maximum batch size must be between 1 and 10 inclusive")
    )
    created = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, BatchSize=1, Enabled=False
    )
    recorded = {
        "BatchSize": 1,
        "EventSourceArn": arn,
        "FunctionArn": lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"],
        "FunctionResponseTypes": [],
        "MaximumBatchingWindowInSeconds": 0,
        "State": "Disabled",
        "StateTransitionReason": "USER_INITIATED",
    }
    assert without_ids(created) == recorded
    assert without_ids(lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)) == {
        **recorded,
        "State": "Enabling",
    }
    assert without_ids(wait_state(lam, created["UUID"], "Enabled")) == {**recorded, "State": "Enabled"}
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], MaximumBatchingWindowInSeconds=1) == invalid(
        "Batching window is not supported for FIFO queues"
    )
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])


def test_members_a_queue_does_not_take(srv: Server, recorder: Recorder) -> None:
    """An SQS mapping refuses the stream and Kafka members, on create and on update."""
    lam = srv.client()
    _, arn = queue(srv)
    given: dict[str, Any] = {
        "parallelizationFactor": {"ParallelizationFactor": 2},
        "tumblingWindowInSeconds": {"TumblingWindowInSeconds": 10},
        "bisectBatchOnFunctionError": {"BisectBatchOnFunctionError": True},
        "maximumRetryAttempts": {"MaximumRetryAttempts": 2},
        "maximumRecordAgeInSeconds": {"MaximumRecordAgeInSeconds": 100},
        "topics": {"Topics": ["orders"]},
        "queues": {"Queues": ["orders"]},
        "selfManagedKafkaEventSourceConfig": {"SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g"}},
    }
    for member, kw in given.items():
        assert error(lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name, **kw) == (
            _unsupported(member)
        ), member
    assert error(
        lam.create_event_source_mapping, EventSourceArn=arn, FunctionName=recorder.name, StartingPosition="LATEST"
    ) == invalid("StartingPosition is not valid for SQS event sources.")
    for destination in ({"OnFailure": {"Destination": arn}}, {"OnSuccess": {"Destination": arn}}):
        assert error(
            lam.create_event_source_mapping,
            EventSourceArn=arn,
            FunctionName=recorder.name,
            DestinationConfig=destination,
        ) == invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
    created = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, ScalingConfig={"MaximumConcurrency": 2}
    )
    assert created["ScalingConfig"] == {"MaximumConcurrency": 2}
    wait_state(lam, created["UUID"], "Enabled")
    assert error(lam.update_event_source_mapping, UUID=created["UUID"], ParallelizationFactor=2) == _unsupported(
        "parallelizationFactor"
    )
    assert error(
        lam.update_event_source_mapping, UUID=created["UUID"], DestinationConfig={"OnFailure": {"Destination": arn}}
    ) == invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])


def test_stream_checks(srv: Server, recorder: Recorder) -> None:
    """Starting positions as AWS recorded them (test_create_event_source_validation{,_kinesis}),
    and the members a stream does not take."""
    lam = srv.client()
    kinesis, dynamodb = kinesis_stream(srv), ddb_stream(srv)
    for arn in (kinesis, dynamodb):
        assert error(lam.create_event_source_mapping, FunctionName=recorder.name, EventSourceArn=arn) == invalid(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
            "Member must not be null."
        )
        assert error(
            lam.create_event_source_mapping, FunctionName=recorder.name, EventSourceArn=arn, StartingPosition="invalid"
        ) == {
            "Code": "ValidationException",
            "Status": 400,
            "Message": "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy "
            "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
        }
        base = {"FunctionName": recorder.name, "EventSourceArn": arn, "StartingPosition": "LATEST"}
        assert error(lam.create_event_source_mapping, **base, ScalingConfig={"MaximumConcurrency": 2}) == (
            _unsupported("scalingConfig")
        )
        assert error(
            lam.create_event_source_mapping, **base, DestinationConfig={"OnSuccess": {"Destination": arn}}
        ) == invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
        assert error(lam.create_event_source_mapping, **base, Topics=["orders"]) == _unsupported("topics")
    assert error(
        lam.create_event_source_mapping,
        FunctionName=recorder.name,
        EventSourceArn=dynamodb,
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp="1741010802",
    ) == invalid(f"Unsupported starting position for arn type: {dynamodb}")


def test_empty_filter_criteria_is_not_shown(srv: Server, recorder: Recorder) -> None:
    """test_create_event_filter_criteria_validation: ``FilterCriteria={"Filters": []}`` is
    accepted and the mapping shows none; an update to no filters removes them."""
    lam = srv.client()
    stream = ddb_stream(srv)
    created = lam.create_event_source_mapping(
        FunctionName=recorder.name, EventSourceArn=stream, StartingPosition="LATEST", FilterCriteria={"Filters": []}
    )
    assert without_ids(created) == {
        "BatchSize": 100,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {}},
        "EventSourceArn": stream,
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
    wait_state(lam, created["UUID"], "Enabled")
    pattern = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}
    assert lam.update_event_source_mapping(UUID=created["UUID"], FilterCriteria=pattern)["FilterCriteria"] == pattern
    wait_state(lam, created["UUID"], "Enabled")
    cleared = lam.update_event_source_mapping(UUID=created["UUID"], FilterCriteria={"Filters": []})
    assert "FilterCriteria" not in cleared
    wait_state(lam, created["UUID"], "Enabled")
    lam.delete_event_source_mapping(UUID=created["UUID"])
