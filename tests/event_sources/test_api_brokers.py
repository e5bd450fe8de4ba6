"""Kafka (Amazon MSK and self-managed), Amazon MQ and DocumentDB mappings: checked, stored, listed
and tagged as AWS does; nothing polls them here, and once Enabled they say so with AWS's
connection-error LastProcessingResult.

Shapes and texts: the AWS-recorded ``test_create_event_source_self_managed`` (LocalStack's
parity snapshots), the developer guide's MQ example ("Using Lambda with Amazon MQ"), and the
service model's documentation of which member applies to which source."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Server
from tests.event_sources.api_calls import error, gone, invalid, without_ids
from tests.event_sources.conftest import Recorder, wait_state

_UNREACHABLE = "PROBLEM: Connection error. Please check your event source connection configuration."
_SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:broker-login-AbCdEf"


def _unsupported(member: str) -> dict[str, Any]:
    return invalid(f"Unsupported '{member}' parameter for given event source mapping type.")


def _servers(*names: str) -> dict[str, Any]:
    return {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list(names)}}


def test_self_managed_kafka_as_aws_recorded(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    host = f"kafka-{uuid.uuid4().hex[:6]}"
    auth = [{"Type": "BASIC_AUTH", "URI": _SECRET}]
    fn_arn = lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"]
    assert error(
        lam.create_event_source_mapping,
        Topics=["topic"],
        FunctionName=recorder.name,
        SelfManagedEventSource=_servers(f"{host}:1000"),
    ) == invalid("Required 'sourceAccessConfigurations' parameter is missing.")
    default = lam.create_event_source_mapping(
        Topics=["topic"],
        FunctionName=recorder.name,
        SourceAccessConfigurations=auth,
        SelfManagedEventSource=_servers(f"{host}:1000"),
    )
    recorded = {
        "BatchSize": 100,
        "FunctionArn": fn_arn,
        "LastProcessingResult": "No records processed",
        "SelfManagedEventSource": _servers(f"{host}:1000"),
        "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": default["UUID"]},
        "SourceAccessConfigurations": auth,
        "StartingPosition": "TRIM_HORIZON",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "Topics": ["topic"],
    }
    assert default["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert without_ids(default) == recorded
    conflict = (
        f'An event source mapping with event source ("{{}}"), function ("{fn_arn}"), topics ("topic") already '
        f"exists. Please update or delete the existing mapping with UUID {default['UUID']}"
    )
    assert error(
        lam.create_event_source_mapping,
        Topics=["topic"],
        FunctionName=recorder.name,
        SourceAccessConfigurations=auth,
        SelfManagedEventSource=_servers(f"{host}:1000"),
    ) == {"Code": "ResourceConflictException", "Status": 409, "Message": conflict.format(f"{host}:1000")}
    values = lam.create_event_source_mapping(
        Topics=["topic_2"],
        FunctionName=recorder.name,
        SourceAccessConfigurations=auth,
        SelfManagedEventSource=_servers(f"{host}:1000"),
        BatchSize=1,
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "random_id"},
        StartingPosition="LATEST",
    )
    assert without_ids(values) == {
        **recorded,
        "BatchSize": 1,
        "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "random_id"},
        "StartingPosition": "LATEST",
        "Topics": ["topic_2"],
    }
    assert error(
        lam.create_event_source_mapping,
        Topics=["topic"],
        FunctionName=recorder.name,
        SourceAccessConfigurations=auth,
        SelfManagedEventSource=_servers(f"{host}:1000", f"{host}:2000"),
        BatchSize=1,
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "random_id"},
    ) == {
        "Code": "ResourceConflictException",
        "Status": 409,
        "Message": conflict.format(f"{host}:1000,{host}:2000"),
    }
    enabled = wait_state(lam, default["UUID"], "Enabled")
    assert without_ids(enabled) == {**recorded, "State": "Enabled", "LastProcessingResult": _UNREACHABLE}
    esm_arn = default["EventSourceMappingArn"]
    lam.tag_resource(Resource=esm_arn, Tags={"team": "orders"})
    assert lam.list_tags(Resource=esm_arn)["Tags"] == {"team": "orders"}
    listed = {m["UUID"] for m in lam.list_event_source_mappings(FunctionName=recorder.name)["EventSourceMappings"]}
    assert listed == {default["UUID"], values["UUID"]}
    for made in (default, values):
        wait_state(lam, made["UUID"], "Enabled")
        lam.delete_event_source_mapping(UUID=made["UUID"])
        assert gone(lam, made["UUID"])


def test_msk_mapping(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    cluster = f"arn:aws:kafka:us-east-1:000000000000:cluster/orders/{uuid.uuid4()}-3"
    fn_arn = lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"]
    base = {"FunctionName": recorder.name, "EventSourceArn": cluster}
    assert error(lam.create_event_source_mapping, **base, StartingPosition="LATEST") == invalid(
        "Required 'topics' parameter is missing."
    )
    assert error(
        lam.create_event_source_mapping, **base, Topics=["orders"], ScalingConfig={"MaximumConcurrency": 2}
    ) == _unsupported("scalingConfig")
    assert error(lam.create_event_source_mapping, **base, Topics=["orders"], ParallelizationFactor=2) == _unsupported(
        "parallelizationFactor"
    )
    assert error(
        lam.create_event_source_mapping,
        **base,
        Topics=["orders"],
        DestinationConfig={"OnSuccess": {"Destination": "kafka://done"}},
    ) == invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
    created = lam.create_event_source_mapping(
        **base,
        Topics=["orders"],
        StartingPosition="LATEST",
        BatchSize=10000,
        MaximumRetryAttempts=3,
        DestinationConfig={"OnFailure": {"Destination": "kafka://failed-orders"}},
    )
    recorded = {
        "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": created["UUID"]},
        "BatchSize": 10000,
        "DestinationConfig": {"OnFailure": {"Destination": "kafka://failed-orders"}},
        "EventSourceArn": cluster,
        "FunctionArn": fn_arn,
        "LastProcessingResult": "No records processed",
        "MaximumRetryAttempts": 3,
        "StartingPosition": "LATEST",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "Topics": ["orders"],
    }
    assert without_ids(created) == recorded
    assert without_ids(wait_state(lam, created["UUID"], "Enabled")) == {
        **recorded,
        "State": "Enabled",
        "LastProcessingResult": _UNREACHABLE,
    }
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)["State"] == "Disabling"
    assert wait_state(lam, created["UUID"], "Disabled")["State"] == "Disabled"
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=cluster)["EventSourceMappings"]] == [
        created["UUID"]
    ]
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])


def test_mq_mapping(srv: Server, recorder: Recorder) -> None:
    """The developer guide's RabbitMQ example: create, update the batch size, get."""
    lam = srv.client()
    broker = f"arn:aws:mq:us-east-1:000000000000:broker:ExampleMQBroker:b-{uuid.uuid4()}"
    fn_arn = lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"]
    access = [{"Type": "VIRTUAL_HOST", "URI": "/"}, {"Type": "BASIC_AUTH", "URI": _SECRET}]
    base = {"FunctionName": fn_arn, "EventSourceArn": broker}
    assert error(lam.create_event_source_mapping, **base) == invalid("Required 'queues' parameter is missing.")
    for member, kw in {
        "startingPosition": {"StartingPosition": "LATEST"},
        "functionResponseTypes": {"FunctionResponseTypes": ["ReportBatchItemFailures"]},
        "maximumRetryAttempts": {"MaximumRetryAttempts": 1},
        "topics": {"Topics": ["orders"]},
    }.items():
        assert error(lam.create_event_source_mapping, **base, Queues=["ExampleQueue"], **kw) == _unsupported(member)
    created = lam.create_event_source_mapping(**base, Queues=["ExampleQueue"], SourceAccessConfigurations=access)
    documented = {
        "BatchSize": 100,
        "EventSourceArn": broker,
        "FunctionArn": fn_arn,
        "LastProcessingResult": "No records processed",
        "Queues": ["ExampleQueue"],
        "SourceAccessConfigurations": access,
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
    }
    assert without_ids(created) == documented
    wait_state(lam, created["UUID"], "Enabled")
    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=2)
    assert (updated["BatchSize"], updated["State"]) == (2, "Updating")
    got = wait_state(lam, created["UUID"], "Enabled")
    assert without_ids(got) == {
        **documented,
        "BatchSize": 2,
        "State": "Enabled",
        "LastProcessingResult": _UNREACHABLE,
    }
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])


def test_documentdb_mapping(srv: Server, recorder: Recorder) -> None:
    lam = srv.client()
    cluster = f"arn:aws:rds:us-east-1:000000000000:cluster:docdb-{uuid.uuid4().hex[:8]}"
    base = {
        "FunctionName": recorder.name,
        "EventSourceArn": cluster,
        "DocumentDBEventSourceConfig": {"DatabaseName": "shop", "CollectionName": "orders"},
        "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": _SECRET}],
    }
    assert error(lam.create_event_source_mapping, **base) == invalid(
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null."
    )
    assert error(lam.create_event_source_mapping, **base, StartingPosition="LATEST", Queues=["q"]) == _unsupported(
        "queues"
    )
    created = lam.create_event_source_mapping(**base, StartingPosition="LATEST")
    assert without_ids(created) == {
        "BatchSize": 100,
        "DocumentDBEventSourceConfig": {"DatabaseName": "shop", "CollectionName": "orders"},
        "EventSourceArn": cluster,
        "FunctionArn": lam.get_function(FunctionName=recorder.name)["Configuration"]["FunctionArn"],
        "LastProcessingResult": "No records processed",
        "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": _SECRET}],
        "StartingPosition": "LATEST",
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
    }
    assert wait_state(lam, created["UUID"], "Enabled")["LastProcessingResult"] == _UNREACHABLE
    lam.delete_event_source_mapping(UUID=created["UUID"])
    assert gone(lam, created["UUID"])
