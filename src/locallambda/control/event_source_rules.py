"""What AWS checks in a Create/UpdateEventSourceMapping request, and the defaults it fills in.

The kind of a mapping follows from its source: the service of ``EventSourceArn`` (``sqs``,
``kinesis``, ``dynamodb``, ``kafka`` for MSK, ``mq``, ``rds`` for DocumentDB) or
``SelfManagedEventSource`` (self-managed Kafka). Each kind shows its own set of members: an SQS
mapping has no ``StartingPosition`` or ``DestinationConfig``, a stream mapping shows its retry
settings. The texts and shapes are the AWS-recorded ones of LocalStack's parity snapshots
(``TestLambdaEventSourceMappings``, ``test_lambda_integration_{sqs,kinesis,dynamodbstreams}``);
defaults are those of the CreateEventSourceMapping API reference
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html).
"""

from __future__ import annotations

import enum
from typing import Any

from locallambda.errors import InvalidParameterValueError, ValidationError

__all__ = [
    "SourceKind",
    "apply_defaults",
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
        return self in (SourceKind.KINESIS, SourceKind.DYNAMODB)

    @property
    def is_broker(self) -> bool:
        """Sources read through a broker's own protocol, which this server cannot reach."""
        return self in (SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA, SourceKind.MQ, SourceKind.DOCUMENTDB)


_UNRECOGNIZED = "Unrecognized event source."

# Members every kind shows, then the members of each kind (AWS-recorded create responses).
_COMMON = ("UUID", "BatchSize", "FunctionArn", "LastModified", "State", "StateTransitionReason")
_OPTIONAL = (
    "FilterCriteria",
    "ScalingConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "ProvisionedPollerConfig",
    "FilterCriteriaError",
)
_MEMBERS: dict[SourceKind, tuple[str, ...]] = {
    SourceKind.SQS: (
        "EventSourceArn",
        "EventSourceMappingArn",
        "FunctionResponseTypes",
        "MaximumBatchingWindowInSeconds",
    ),
    SourceKind.KINESIS: (
        "EventSourceArn",
        "EventSourceMappingArn",
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
    SourceKind.MSK: (
        "EventSourceArn",
        "EventSourceMappingArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "LastProcessingResult",
        "Topics",
        "SourceAccessConfigurations",
        "AmazonManagedKafkaEventSourceConfig",
        "DestinationConfig",
        "MaximumBatchingWindowInSeconds",
    ),
    SourceKind.SELF_MANAGED_KAFKA: (
        "EventSourceMappingArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "LastProcessingResult",
        "Topics",
        "SourceAccessConfigurations",
        "SelfManagedEventSource",
        "SelfManagedKafkaEventSourceConfig",
        "DestinationConfig",
    ),
    SourceKind.MQ: (
        "EventSourceArn",
        "EventSourceMappingArn",
        "LastProcessingResult",
        "Queues",
        "SourceAccessConfigurations",
        "MaximumBatchingWindowInSeconds",
    ),
    SourceKind.DOCUMENTDB: (
        "EventSourceArn",
        "EventSourceMappingArn",
        "StartingPosition",
        "StartingPositionTimestamp",
        "LastProcessingResult",
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


def kind_of(p: dict[str, Any]) -> SourceKind:
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


def _batch_limit(kind: SourceKind, arn: str) -> int:
    if kind is SourceKind.SQS and arn.endswith(".fifo"):
        return 10  # FIFO queues: at most 10 per batch (AWS's "Using Lambda with Amazon SQS")
    return 10_000


def check_request(kind: SourceKind, doc: dict[str, Any]) -> None:
    """AWS's checks of a mapping as it would be stored (a create request with defaults applied,
    or an existing mapping with an update merged in).

    Raises ``InvalidParameterValueError`` or ``ValidationError`` with AWS's recorded wording.
    """
    destination = doc.get("DestinationConfig") or {}
    if destination.get("OnSuccess") or (kind is SourceKind.SQS and destination.get("OnFailure")):
        # Only OnFailure, and only for stream and Kafka sources (ESM "Retaining discarded batches").
        raise InvalidParameterValueError("Unsupported DestinationConfig parameter for given event source mapping type.")
    if kind in (SourceKind.SELF_MANAGED_KAFKA,) and not doc.get("SourceAccessConfigurations"):
        raise InvalidParameterValueError("Required 'sourceAccessConfigurations' parameter is missing.")
    if kind.is_stream or kind in (SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA, SourceKind.DOCUMENTDB):
        position = doc.get("StartingPosition")
        if not position:
            raise InvalidParameterValueError(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                "Member must not be null."
            )
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
    elif kind is SourceKind.SQS and doc.get("StartingPosition"):
        raise InvalidParameterValueError("StartingPosition is not valid for SQS event sources.")
    if kind in (SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA) and not doc.get("Topics"):
        raise InvalidParameterValueError("Required 'topics' parameter is missing.")
    if kind is SourceKind.MQ and not doc.get("Queues"):
        raise InvalidParameterValueError("Required 'queues' parameter is missing.")
    batch = int(doc["BatchSize"])
    limit = _batch_limit(kind, str(doc.get("EventSourceArn") or ""))
    if batch > limit:
        raise InvalidParameterValueError(
            f"BatchSize must be between 1 and {limit} for this event source."  # FIFO queues: 10
        )
    if kind is SourceKind.SQS and batch > 10 and not doc.get("MaximumBatchingWindowInSeconds"):
        raise InvalidParameterValueError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    age = doc.get("MaximumRecordAgeInSeconds")
    if kind.is_stream and age is not None and age != -1 and age < 60:
        # -1 means infinite; otherwise 60 to 604800 (the API reference's range for this member).
        raise InvalidParameterValueError(
            f"1 validation error detected: Value '{age}' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 60"
        )
    scaling = doc.get("ScalingConfig") or {}
    if scaling and kind is not SourceKind.SQS:
        raise InvalidParameterValueError("ScalingConfig is not supported for this event source type.")
    tumbling = doc.get("TumblingWindowInSeconds")
    if tumbling and not kind.is_stream:
        raise InvalidParameterValueError("Unsupported TumblingWindowInSeconds parameter for given event source type.")


def apply_defaults(kind: SourceKind, doc: dict[str, Any]) -> None:
    """Fill in the members AWS shows with their default values (API reference, per source)."""
    doc.setdefault("BatchSize", 10 if kind is SourceKind.SQS else 100)
    if kind is not SourceKind.SELF_MANAGED_KAFKA:
        doc.setdefault("MaximumBatchingWindowInSeconds", 0)
    if kind in (SourceKind.SQS, SourceKind.KINESIS, SourceKind.DYNAMODB):
        doc.setdefault("FunctionResponseTypes", [])
    if kind.is_stream:
        doc.setdefault("BisectBatchOnFunctionError", False)
        doc.setdefault("MaximumRecordAgeInSeconds", -1)
        doc.setdefault("MaximumRetryAttempts", -1)
        doc.setdefault("ParallelizationFactor", 1)
        doc.setdefault("TumblingWindowInSeconds", 0)
    if kind.is_stream or kind in (SourceKind.MSK, SourceKind.SELF_MANAGED_KAFKA):
        destination = doc.get("DestinationConfig") or {}
        doc["DestinationConfig"] = {"OnFailure": dict(destination.get("OnFailure") or {})}
    if kind is SourceKind.SELF_MANAGED_KAFKA:
        config = doc.setdefault("SelfManagedKafkaEventSourceConfig", {})
        config.setdefault("ConsumerGroupId", doc["UUID"])
    if kind is SourceKind.MSK:
        config = doc.setdefault("AmazonManagedKafkaEventSourceConfig", {})
        config.setdefault("ConsumerGroupId", doc["UUID"])
    if kind is not SourceKind.SQS:
        doc.setdefault("LastProcessingResult", "No records processed")
    if kind is SourceKind.SQS:
        # FIFO queues: AWS keeps BatchSize ≤ 10, nothing to fill in.
        pass


def visible_members(kind: SourceKind, doc: dict[str, Any]) -> dict[str, Any]:
    """The mapping as the API shows it: the kind's members that are set, no private ones."""
    names = (*_COMMON, *_MEMBERS[kind], *_OPTIONAL)
    return {name: doc[name] for name in sorted(names) if doc.get(name) is not None}
