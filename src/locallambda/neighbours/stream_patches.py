"""moto's DynamoDB Streams made to write what AWS writes, for its readers (the event source
mappings among them).

``install`` (an ``on_load`` hook: run once, right after moto is imported) changes, where moto
differs from AWS:

- a stream record's ``eventVersion`` is ``1.1`` and its ``awsRegion`` the table's region, as in
  the Lambda developer guide's sample DynamoDB event and the AWS-recorded records of LocalStack's
  parity snapshots (``test_dynamodb_event_source_mapping``); moto wrote ``1.0`` and
  ``us-east-1`` whatever the table's region;
- ``ApproximateCreationDateTime`` is rounded down to the second: "The approximate date and time
  when the stream record was created, in UNIX epoch time format and rounded down to the closest
  second" (DynamoDB Streams API Reference, ``StreamRecord``);
- ``SizeBytes`` is the size of the record's keys and images by DynamoDB's item-size rules
  ("DynamoDB item sizes and formats", DynamoDB developer guide: attribute names and values,
  numbers at one byte per two significant digits plus one, lists and maps 3 bytes plus one per
  element); moto gave the length of the record's JSON. Recorded against AWS: 70 for the keys
  ``{"my_partition_key": "hello world"}`` and the image adding ``{"binary_key": b"foobar"}``;
- a write that changes nothing writes no record: "If you perform a PutItem or UpdateItem
  operation that does not change any data in an item, DynamoDB Streams does not write a stream
  record for that operation." (DynamoDB developer guide, "Change data capture for DynamoDB
  Streams");
- shard iterators expire: "A shard iterator expires 15 minutes after it is returned to the
  requester" (DynamoDB Streams API Reference, ``GetShardIterator``); moto kept every iterator it
  ever issued (a poller asks for several a second) in its backend, which persistence also
  pickles. Expired ones are forgotten; using one answers ``ExpiredIteratorException``.

Records and iterators stay moto's own classes (their methods are wrapped), so snapshots taken
before the patches load after them.
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["install", "item_size"]

ITERATOR_LIFETIME = 15 * 60  # seconds
_ISSUED = "_locallambda_issued"  # the monotonic time an iterator was issued at


def _number_size(text: str) -> int:
    """One byte per two significant digits, plus one (leading and trailing zeros trimmed)."""
    try:
        digits = Decimal(text).as_tuple().digits
    except (InvalidOperation, ValueError):
        digits = tuple(int(c) for c in text if c.isdigit())
    significant = "".join(str(d) for d in digits).strip("0")
    return (len(significant) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(str(value)))
    except ValueError:
        return len(str(value).encode())


def _value_size(value: Any) -> int:
    """The size of one attribute value (``{"S": "text"}``, ``{"M": {...}}``, ...)."""
    if not isinstance(value, dict) or len(value) != 1:
        return 0
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(_binary_size(b) for b in inner)
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(str(k).encode()) + _value_size(v) + 1 for k, v in inner.items())
    return 0


def item_size(attributes: dict[str, Any]) -> int:
    """An item's size (attribute names and values) by DynamoDB's rules."""
    return sum(len(str(name).encode()) + _value_size(value) for name, value in attributes.items())


def _fix_record(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, table: Any, *args: Any, **kwargs: Any) -> None:
        init(self, table, *args, **kwargs)
        record = self.record
        record["eventVersion"] = "1.1"
        record["awsRegion"] = table.region_name
        change = record["dynamodb"]
        created = change.get("ApproximateCreationDateTime")
        if hasattr(created, "replace"):
            change["ApproximateCreationDateTime"] = created.replace(microsecond=0)
        change["SizeBytes"] = sum(
            item_size(change[part]) for part in ("Keys", "NewImage", "OldImage") if isinstance(change.get(part), dict)
        )

    return __init__


def _skip_unchanged(add: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(add)
    def wrapped(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return
        add(self, old, new)

    return wrapped


def _stamp_iterator(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        setattr(self, _ISSUED, time.monotonic())

    return __init__


def _forget_expired(iterators: dict[str, Any], now: float) -> None:
    """Drop iterators issued more than 15 minutes ago (the dict is in the order they were issued;
    one restored from a snapshot counts from now)."""
    for key in list(iterators):
        issued = getattr(iterators[key], _ISSUED, None)
        if issued is None:
            setattr(iterators[key], _ISSUED, now)
            continue
        if now - issued <= ITERATOR_LIFETIME:
            break
        iterators.pop(key, None)


def _expiring_get_records(get_records: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    from moto.core.exceptions import JsonRESTError

    @functools.wraps(get_records)
    def wrapped(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        _forget_expired(self.shard_iterators, time.monotonic())
        if iterator_arn not in self.shard_iterators:
            raise JsonRESTError(
                "ExpiredIteratorException", "Iterator expired. The iterator was created more than 15 minutes ago."
            )
        return get_records(self, iterator_arn, limit)

    return wrapped


def install() -> None:
    """Patch moto's DynamoDB Streams (call once, after moto is imported)."""
    from moto.dynamodb.models.table import StreamRecord, StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    StreamRecord.__init__ = _fix_record(StreamRecord.__init__)  # type: ignore[method-assign]
    StreamShard.add = _skip_unchanged(StreamShard.add)  # type: ignore[method-assign]
    ShardIterator.__init__ = _stamp_iterator(ShardIterator.__init__)  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = _expiring_get_records(  # type: ignore[method-assign]
        DynamoDBStreamsBackend.get_records
    )
