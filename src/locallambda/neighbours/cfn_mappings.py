"""``AWS::Lambda::EventSourceMapping``: a stack's event source mappings, created, updated and
deleted through this server's Lambda API, so that its pollers read the queue or stream
(aws-resource-lambda-eventsourcemapping.html and the resource's registry schema).

- ``Ref`` and ``Fn::GetAtt Id`` are the mapping's UUID; ``Fn::GetAtt EventSourceMappingArn`` is
  its ARN (the schema's read-only ``Id`` and ``EventSourceMappingArn``).
- Every property of the schema reaches CreateEventSourceMapping; where the two differ the
  template's form is translated: ``KmsKeyArn`` is the API's ``KMSKeyArn``,
  ``SelfManagedEventSource.Endpoints.KafkaBootstrapServers`` its ``KAFKA_BOOTSTRAP_SERVERS``,
  ``Tags: [{Key, Value}]`` its map, numbers and booleans given as strings become numbers and
  booleans.
- Tags: the template's plus the stack's and ``aws:cloudformation:{stack-name,stack-id,logical-id}``
  (the schema's ``cloudFormationSystemTags``; as recorded against AWS in LocalStack's
  test_cfn_resource ``test_adding_tags`` snapshot), changed in place with Tag/UntagResource.
- ``EventSourceArn``, ``StartingPosition``, ``StartingPositionTimestamp`` and
  ``SelfManagedEventSource`` require replacement (the schema's ``createOnlyProperties``); so do
  ``Topics`` and ``Queues`` here, which UpdateEventSourceMapping cannot change. The new mapping
  is created before the old one is deleted (using-cfn-updating-stacks-update-behaviors.html,
  "Replacement"): a stream mapping whose ``StartingPosition`` changes therefore fails with
  Lambda's "mapping already exists" conflict, as it does on AWS (aws-sam issue 1690). Every
  other property, ``FunctionName`` included, is updated in place with UpdateEventSourceMapping;
  one dropped from the template goes back to Lambda's default where the CreateEventSourceMapping
  API reference gives one (``BatchSize`` 10 for a queue, 100 for the others; no filters, no
  retry limits, ...); the broker settings (access configurations, consumer groups, DocumentDB,
  logging and poller configurations), which have none, keep their values.
- A created or updated mapping completes when it has left its transitional state (``Enabled``
  or ``Disabled``: the AWS-recorded ``GetEventSourceMapping`` right after a stack is created
  says ``Enabled``), a deleted one when GetEventSourceMapping no longer finds it (a delete
  handler completes only once the resource is gone: resource-type-test-contract.html).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, ClassVar

from locallambda.neighbours.cfn_base import (
    LambdaResource,
    Placement,
    as_bool,
    as_float,
    as_int,
    properties_of,
    tag_list,
)
from locallambda.neighbours.lambda_api import ResourceFailed

__all__ = ["EventSourceMapping"]

# Template properties that CreateEventSourceMapping takes as they are, once numbers and
# booleans are converted.
_INTEGERS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
)
_BOOLEANS = ("Enabled", "BisectBatchOnFunctionError")
_STRUCTURES = (
    "FilterCriteria",
    "DestinationConfig",
    "FunctionResponseTypes",
    "ScalingConfig",
    "MetricsConfig",
    "LoggingConfig",
    "ProvisionedPollerConfig",
    "SourceAccessConfigurations",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
)
_RENAMED = {"KmsKeyArn": "KMSKeyArn"}
# createOnlyProperties of the schema, and what UpdateEventSourceMapping has no member for.
_REPLACING = (
    "EventSourceArn",
    "StartingPosition",
    "StartingPositionTimestamp",
    "SelfManagedEventSource",
    "Topics",
    "Queues",
)
_UPDATABLE = ("FunctionName", *_INTEGERS, *_BOOLEANS, *_STRUCTURES, "KmsKeyArn")
# What a property dropped from the template goes back to (the API reference's defaults).
_DEFAULTS: dict[str, Any] = {
    "Enabled": True,
    "MaximumBatchingWindowInSeconds": 0,
    "FunctionResponseTypes": [],
    "FilterCriteria": {"Filters": []},
    "ScalingConfig": {},
    "MetricsConfig": {"Metrics": []},
    "KmsKeyArn": "",
    "BisectBatchOnFunctionError": False,
    "MaximumRecordAgeInSeconds": -1,
    "MaximumRetryAttempts": -1,
    "ParallelizationFactor": 1,
    "TumblingWindowInSeconds": 0,
    "DestinationConfig": {"OnFailure": {}},
}
_SETTLED = ("Enabled", "Disabled")
_DEADLINE = 120.0
_POLL = 0.05


def _nested_ints(value: Any, *names: str) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: (as_int(v) if k in names else v) for k, v in value.items()}


def _member(name: str, value: Any) -> Any:
    """A template property's value as the API's member takes it."""
    if name in _INTEGERS:
        return as_int(value)
    if name in _BOOLEANS:
        return as_bool(value)
    if name == "ScalingConfig":
        return _nested_ints(value, "MaximumConcurrency")
    if name == "ProvisionedPollerConfig":
        return _nested_ints(value, "MinimumPollers", "MaximumPollers")
    if name == "StartingPositionTimestamp":
        return as_float(value)  # seconds since the epoch, as boto3 sends a number
    if name == "SelfManagedEventSource" and isinstance(value, dict):
        endpoints = value.get("Endpoints") or {}
        servers = endpoints.get("KafkaBootstrapServers", endpoints.get("KAFKA_BOOTSTRAP_SERVERS", []))
        return {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": list(servers)}}
    return value


def _kind_default_batch(props: dict[str, Any]) -> int:
    arn = str(props.get("EventSourceArn") or "")
    return 10 if arn.startswith("arn:") and arn.split(":")[2:3] == ["sqs"] else 100


class EventSourceMapping(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::EventSourceMapping"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("Id", "EventSourceMappingArn")

    def __init__(self, placement: Placement, resource: dict[str, Any], physical_id: str, arn: str) -> None:
        super().__init__(placement, resource, physical_id)
        self.attributes = {"Id": physical_id, "EventSourceMappingArn": arn}

    @property
    def uuid(self) -> str:
        return self.physical_id

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> EventSourceMapping:
        props = properties_of(resource)
        params: dict[str, Any] = {"FunctionName": props.get("FunctionName", "")}
        for key in (*_REPLACING, *_UPDATABLE):
            if key in props and key != "FunctionName":
                params[_RENAMED.get(key, key)] = _member(key, props[key])
        tags = {**placement.stack_tags(), **tag_list(props.get("Tags"))}
        if tags:
            params["Tags"] = tags
        created = cls.api.call(placement.region, "create_event_source_mapping", **params)
        mapping = cls(placement, resource, created["UUID"], created["EventSourceMappingArn"])
        try:
            mapping._settled()
        except ResourceFailed:
            # a resource that failed is not left behind (CloudFormation rolls it back); the
            # failure reported is the creation's
            with contextlib.suppress(ResourceFailed):
                mapping.remove()
            raise
        return mapping

    def update(self, resource: dict[str, Any]) -> EventSourceMapping:
        old, new = self.properties, properties_of(resource)
        if any(new.get(k) != old.get(k) for k in _REPLACING):
            return self.replaced_by(type(self).create(self.placement, resource))
        changes: dict[str, Any] = {}
        for key in _UPDATABLE:
            if key in new:
                if new[key] != old.get(key):
                    changes[_RENAMED.get(key, key)] = _member(key, new[key])
            elif key in old:
                default = _kind_default_batch(new) if key == "BatchSize" else _DEFAULTS.get(key)
                if default is not None:
                    changes[_RENAMED.get(key, key)] = default
        if changes:
            self.api.call(self.region, "update_event_source_mapping", UUID=self.uuid, **changes)
            self._settled()
        self._retag(old, new)
        self.resource = resource
        return self

    def remove(self) -> None:
        self.api.call_absent_ok(self.region, "delete_event_source_mapping", UUID=self.uuid)
        deadline = time.monotonic() + _DEADLINE
        while time.monotonic() < deadline:
            try:
                self.api.call(self.region, "get_event_source_mapping", UUID=self.uuid)
            except ResourceFailed as exc:
                if exc.code == "ResourceNotFoundException":
                    return
                raise
            time.sleep(_POLL)
        raise ResourceFailed(f"Event source mapping {self.uuid} was not deleted within {_DEADLINE:.0f} s")

    # -- helpers

    def _settled(self) -> dict[str, Any]:
        """Wait until the mapping is ``Enabled`` or ``Disabled``; its configuration. Raises
        ``ResourceFailed`` when the deadline passes first."""
        deadline = time.monotonic() + _DEADLINE
        while True:
            config = self.api.call(self.region, "get_event_source_mapping", UUID=self.uuid)
            if config.get("State") in _SETTLED:
                return config
            if time.monotonic() >= deadline:
                raise ResourceFailed(
                    f"Event source mapping {self.uuid} did not stabilize within {_DEADLINE:.0f} s"
                    f" (State {config.get('State')})"
                )
            time.sleep(_POLL)

    def _retag(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        stack_tags = self.placement.stack_tags()
        before = {**stack_tags, **tag_list(old.get("Tags"))}
        after = {**stack_tags, **tag_list(new.get("Tags"))}
        if before == after:
            return
        arn = self.attributes["EventSourceMappingArn"]
        gone = [k for k in before if k not in after]
        if gone:
            self.api.call(self.region, "untag_resource", Resource=arn, TagKeys=gone)
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if changed:
            self.api.call(self.region, "tag_resource", Resource=arn, Tags=changed)
