"""What AWS checks in a Create/UpdateEventSourceMapping request, and the defaults it fills in.

The kind of a mapping follows from its source: the service of ``EventSourceArn`` (``sqs``,
``kinesis``, ``dynamodb``, ``kafka`` for MSK, ``mq``, ``rds`` for DocumentDB) or
``SelfManagedEventSource`` (self-managed Kafka). Each kind accepts and shows its own set of
members: an SQS mapping has no ``StartingPosition`` or ``DestinationConfig``, a stream mapping
shows its retry settings, a Kafka mapping its topic and consumer group.

Where the texts come from:

- the AWS-recorded answers of LocalStack's parity snapshots (``TestLambdaEventSourceMappings``,
  ``test_lambda_integration_{sqs,kinesis,dynamodbstreams}``): missing/invalid/unsupported
  starting positions, the SQS batch window rule, ``sourceAccessConfigurations``, DestinationConfig;
- AWS's answers quoted in public issue threads: ``Unsupported '<member>' parameter for given
  event source mapping type.`` (pulumi/pulumi-aws#1418, an MSK mapping given a batching window in
  2021), ``Batching window is not supported for FIFO queues`` (aws/aws-lambda-dotnet#1758,
  relayed by CloudFormation), ``Maximum batch size must be between 1 and 10 inclusive``
  (pulumi/pulumi-aws-serverless#20, the SQS limit of 2018 that FIFO queues keep);
- which member applies to which source: the service model's documentation of each
  CreateEventSourceMapping member ("(Kinesis and DynamoDB Streams only)", ...), and the
  defaults of the API reference
  (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from locallambda.errors import InvalidParameterValueError, ValidationError

__all__ = [
    "CREATE_ONLY",
    "SETTABLE",
    "SourceKind",
    "apply_defaults",
    "check_members",
    "check_request",
    "kind_of",
    "visible_members",
]


class SourceKind(enum.Enum):
    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"
    MSK = "kafka"
    SELF_MANAGED_KAFKA = "self-managed-kafka"
    MQ = "mq"
    DOCUMENTDB = "rds"

    @property
    def is_stream(self) -> bool:
        return self in _STREAMS

    @property
    def is_kafka(self) -> bool:
        return self in _KAFKA

    @property
    def is_broker(self) -> bool:
        """Sources read through a broker's own protocol, which this server cannot reach."""
        return self in (SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA, SourceKind.MQ, SourceKind.DOCUMENTDB)


_STREAMS = frozenset({SourceKind.KINESIS, SourceKind.DYNAMODB})
_KAFKA = frozenset({SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA})
_POSITIONED = _STREAMS | _KAFKA | {SourceKind.DOCUMENTDB}

# The members that apply to some kinds only (the service model's documentation of each member);
# a request giving one to another kind is refused with AWS's "Unsupported '<member>'" answer.
_APPLIES: dict[str, frozenset[SourceKind]] = {
    "ParallelizationFactor": _STREAMS,
    "TumblingWindowInSeconds": _STREAMS,
    "BisectBatchOnFunctionError": _STREAMS | _KAFKA,
    "MaximumRecordAgeInSeconds": _STREAMS | _KAFKA,
    "MaximumRetryAttempts": _STREAMS | _KAFKA,
    "ScalingConfig": frozenset({SourceKind.SQS}),
    "ProvisionedPollerConfig": _KAFKA | {SourceKind.SQS},
    "LoggingConfig": _KAFKA,
    "FunctionResponseTypes": _STREAMS | _KAFKA | {SourceKind.SQS},
    "StartingPosition": _POSITIONED,
    "StartingPositionTimestamp": _POSITIONED,
    "Topics": _KAFKA,
    "Queues": frozenset({SourceKind.MQ}),
    "SourceAccessConfigurations": _KAFKA | {SourceKind.MQ, SourceKind.DOCUMENTDB},
    "AmazonManagedKafkaEventSourceConfig": frozenset({SourceKind.MSK}),
    "SelfManagedKafkaEventSourceConfig": frozenset({SourceKind.SELF_MANAGED_KAFKA}),
    "DocumentDBEventSourceConfig": frozenset({SourceKind.DOCUMENTDB}),
}

_UNRECOGNIZED = "Unrecognized event source."
_DESTINATION = "Unsupported DestinationConfig parameter for given event source mapping type."
_NULL_POSITION = (
    "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
    "Member must not be null."
)

# Members every kind shows, then the members of each kind (AWS-recorded create responses; the
# MQ one of the developer guide's "Using Lambda with Amazon MQ").
_COMMON = ("UUID", "BatchSize", "FunctionArn", "LastModified", "State", "StateTransitionReason")
_OPTIONAL = (
    "EventSourceMappingArn",
    "FilterCriteria",
    "KMSKeyArn",
    "MetricsConfig",
    "ProvisionedPollerConfig",
    "FilterCriteriaError",
)
_KAFKA_MEMBERS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "LastProcessingResult",
    "Topics",
    "SourceAccessConfigurations",
    "DestinationConfig",
    "MaximumBatchingWindowInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "FunctionResponseTypes",
    "LoggingConfig",
)
_MEMBERS: dict[SourceKind, tuple[str, ...]] = {
    SourceKind.SQS: (
        "EventSourceArn",
        "FunctionResponseTypes",
        "MaximumBatchingWindowInSeconds",
        "ScalingConfig",
    ),
    SourceKind.KINESIS: (
        "EventSourceArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "BisectBatchOnFunctionError",
        "DestinationConfig",
        "FunctionResponseTypes",
        "LastProcessingResult",
        "MaximumBatchingWindowInSeconds",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    ),
    SourceKind.MSK: ("EventSourceArn", "AmazonManagedKafkaEventSourceConfig", *_KAFKA_MEMBERS),
    SourceKind.SELF_MANAGED_KAFKA: ("SelfManagedEventSource", "SelfManagedKafkaEventSourceConfig", *_KAFKA_MEMBERS),
    SourceKind.MQ: (
        "EventSourceArn",
        "LastProcessingResult",
        "Queues",
        "SourceAccessConfigurations",
        "MaximumBatchingWindowInSeconds",
    ),
    SourceKind.DOCUMENTDB: (
        "EventSourceArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "LastProcessingResult",
        "SourceAccessConfigurations",
        "DocumentDBEventSourceConfig",
        "MaximumBatchingWindowInSeconds",
    ),
}
_MEMBERS[SourceKind.DYNAMODB] = _MEMBERS[SourceKind.KINESIS]

# Members a request may set, and whether Update may change them.
SETTABLE = (
    "BatchSize",
    "FilterCriteria",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "ScalingConfig",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "SourceAccessConfigurations",
    "FunctionResponseTypes",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
)
CREATE_ONLY = (
    "EventSourceArn",
    "StartingPosition",
    "StartingPositionTimestamp",
    "Topics",
    "Queues",
    "SelfManagedEventSource",
)


def kind_of(p: Mapping[str, Any]) -> SourceKind:
    """The kind of source a request names. Raises ``InvalidParameterValueError``
    ("Unrecognized event source.") when it names none this API knows."""
    if p.get("SelfManagedEventSource") is not None:
        return SourceKind.SELF_MANAGED_KAFKA
    arn = p.get("EventSourceArn")
    if not arn:
        raise InvalidParameterValueError(_UNRECOGNIZED)
    parts = str(arn).split(":")
    service = parts[2] if len(parts) > 5 and parts[0] == "arn" else ""
    try:
        return SourceKind(service)
    except ValueError:
        raise InvalidParameterValueError(_UNRECOGNIZED) from None


def _unsupported(member: str) -> InvalidParameterValueError:
    # AWS names the member as its request field (camelCase), quoted.
    return InvalidParameterValueError(
        f"Unsupported '{member[0].lower()}{member[1:]}' parameter for given event source mapping type."
    )


def check_members(kind: SourceKind, p: Mapping[str, Any]) -> None:
    """AWS's refusal of the members a request gives that do not apply to its kind of source
    (checked on the request itself, before any default is filled in).

    Raises ``InvalidParameterValueError``.
    """
    destination = p.get("DestinationConfig") or {}
    if "OnSuccess" in destination or (
        destination.get("OnFailure") is not None and not (kind.is_stream or kind.is_kafka)
    ):
        # Only OnFailure, and only for stream and Kafka sources ("Retaining discarded batches").
        raise InvalidParameterValueError(_DESTINATION)
    for member, kinds in _APPLIES.items():
        if p.get(member) is None or kind in kinds:
            continue
        if member == "StartingPosition" and kind is SourceKind.SQS:
            raise InvalidParameterValueError("StartingPosition is not valid for SQS event sources.")
        raise _unsupported(member)


def _is_fifo(kind: SourceKind, doc: Mapping[str, Any]) -> bool:
    return kind is SourceKind.SQS and str(doc.get("EventSourceArn") or "").endswith(".fifo")


def _check_position(kind: SourceKind, doc: Mapping[str, Any]) -> None:
    position = doc.get("StartingPosition")
    if not position:
        raise InvalidParameterValueError(_NULL_POSITION)
    if position not in ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"):
        raise ValidationError(
            f"1 validation error detected: Value '{position}' at 'startingPosition' failed to satisfy "
            "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]"
        )
    if kind is SourceKind.DYNAMODB and position == "AT_TIMESTAMP":
        # DynamoDB Streams have no AT_TIMESTAMP iterator.
        raise InvalidParameterValueError(f"Unsupported starting position for arn type: {doc['EventSourceArn']}")
    if position == "AT_TIMESTAMP" and doc.get("StartingPositionTimestamp") is None:
        raise InvalidParameterValueError(
            "StartingPositionTimestamp must be provided when StartingPosition is AT_TIMESTAMP."
        )


def _check_batching(kind: SourceKind, doc: Mapping[str, Any]) -> None:
    batch = int(doc["BatchSize"])
    window = doc.get("MaximumBatchingWindowInSeconds")
    if _is_fifo(kind, doc):
        # FIFO queues: no batching window, at most 10 messages a batch ("Using Lambda with
        # Amazon SQS", batching behaviour).
        if window:
            raise InvalidParameterValueError("Batching window is not supported for FIFO queues")
        if batch > 10:
            raise InvalidParameterValueError("Maximum batch size must be between 1 and 10 inclusive")
    if kind is SourceKind.SQS and batch > 10 and not window:
        raise InvalidParameterValueError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )


def check_request(kind: SourceKind, doc: Mapping[str, Any]) -> None:
    """AWS's checks of a mapping as it would be stored (a create request with defaults applied,
    or an existing mapping with an update merged in).

    Raises ``InvalidParameterValueError`` or ``ValidationError`` with AWS's recorded wording.
    """
    if kind is SourceKind.SELF_MANAGED_KAFKA and not doc.get("SourceAccessConfigurations"):
        raise InvalidParameterValueError("Required 'sourceAccessConfigurations' parameter is missing.")
    if kind in _POSITIONED:
        _check_position(kind, doc)
    if kind.is_kafka and not doc.get("Topics"):
        raise InvalidParameterValueError("Required 'topics' parameter is missing.")
    if kind is SourceKind.MQ and not doc.get("Queues"):
        raise InvalidParameterValueError("Required 'queues' parameter is missing.")
    _check_batching(kind, doc)
    age = doc.get("MaximumRecordAgeInSeconds")
    if age is not None and age != -1 and age < 60:
        # -1 means infinite; otherwise 60 to 604800 (the API reference's range for this member).
        raise InvalidParameterValueError(
            f"1 validation error detected: Value '{age}' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 60"
        )


def apply_defaults(kind: SourceKind, doc: dict[str, Any]) -> None:
    """Fill in the members AWS shows with their default values (API reference, per source).

    Only SQS and streams show a batching window by default: the brokers' default is 500 ms,
    which the API's whole seconds cannot show (the AWS-recorded self-managed Kafka mapping and
    the developer guide's MQ one have none). Kafka mappings start at ``TRIM_HORIZON`` when no
    position is given, as AWS recorded for self-managed Kafka (``test_create_event_source_self_managed``).
    """
    doc.setdefault("BatchSize", 10 if kind is SourceKind.SQS else 100)
    if kind is SourceKind.SQS or kind.is_stream:
        doc.setdefault("MaximumBatchingWindowInSeconds", 0)
        doc.setdefault("FunctionResponseTypes", [])
    if kind.is_stream:
        doc.setdefault("BisectBatchOnFunctionError", False)
        doc.setdefault("MaximumRecordAgeInSeconds", -1)
        doc.setdefault("MaximumRetryAttempts", -1)
        doc.setdefault("ParallelizationFactor", 1)
        doc.setdefault("TumblingWindowInSeconds", 0)
        destination = doc.get("DestinationConfig") or {}
        doc["DestinationConfig"] = {"OnFailure": dict(destination.get("OnFailure") or {})}
    if kind.is_kafka:
        doc.setdefault("StartingPosition", "TRIM_HORIZON")
        name = "AmazonManagedKafkaEventSourceConfig" if kind is SourceKind.MSK else "SelfManagedKafkaEventSourceConfig"
        config = doc.setdefault(name, {})
        config.setdefault("ConsumerGroupId", doc["UUID"])
    if kind is not SourceKind.SQS:
        doc.setdefault("LastProcessingResult", "No records processed")


def visible_members(kind: SourceKind, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping as the API shows it: the kind's members that are set, no private ones.

    A ``FilterCriteria`` without filters is not shown (AWS's recorded answer to
    ``FilterCriteria={"Filters": []}``, ``test_create_event_filter_criteria_validation``).
    """
    names = (*_COMMON, *_MEMBERS[kind], *_OPTIONAL)
    out = {name: doc[name] for name in sorted(set(names)) if doc.get(name) is not None}
    if not (out.get("FilterCriteria") or {}).get("Filters"):
        out.pop("FilterCriteria", None)
    return out
