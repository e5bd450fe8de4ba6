"""Filter criteria of event source mappings: checked at create, matched against every record.

The contract, as AWS documents it (Lambda developer guide, "Control which events Lambda sends to
your function", invocation-eventfiltering.html):

- ``FilterCriteria`` holds up to five filters (``MAX_FILTERS``; AWS raises the quota to ten on
  request only); they are ORed: a record that matches one of them reaches the function, the
  others are discarded (an SQS message is deleted from its queue, a stream's iterator moves
  past the record). No filters: every record passes.
- A pattern is EventBridge's event-pattern syntax (``filter_syntax.py``); AWS refuses a
  malformed one at CreateEventSourceMapping/UpdateEventSourceMapping with
  ``InvalidParameterValueException: Invalid filter pattern definition.``. The length limit of a
  pattern (4,096 characters) is the service model's and checked by ``protocol.validation``.
- What a pattern sees is ``record_view(source, record)``: the record with its data member
  (SQS ``body``, Kinesis ``data``, DynamoDB ``dynamodb``) as JSON. When that member is not JSON
  while the pattern filters it as an object, or the reverse, the record is dropped (the tables of
  "Properly filtering Amazon SQS messages" and "... Kinesis and DynamoDB messages").

Matching follows EventBridge: members AND, alternatives OR, an array in the event matches when
one of its elements does (objects in an array are matched one at a time), ``exists`` looks at
leaf values only (an object is not a leaf: recorded against AWS with DynamoDB's ``NewImage``),
strings are compared character by character and numbers by their written form except under
``numeric``, which compares values.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import operator
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Final

from locallambda.errors import InvalidParameterValueError

from .filter_syntax import (
    AnythingBut,
    Cidr,
    EqualsIgnoreCase,
    Exact,
    Exists,
    Leaf,
    Numeric,
    ObjectPattern,
    Pattern,
    Prefix,
    Rule,
    Scalar,
    Suffix,
    Wildcard,
    invalid,
    parse_pattern,
)

__all__ = [
    "DATA_KEYS",
    "MAX_FILTERS",
    "DecodedData",
    "Pattern",
    "matches",
    "matches_any",
    "parse_patterns",
    "record_view",
    "validate_filter_criteria",
]

# invocation-eventfiltering.html: "By default, you can define up to five different filters for
# a single event source mapping" (a quota raised to 10 on request, which a local server has no
# one to ask).
MAX_FILTERS: Final = 5
# AWS answers "an error" above the quota without a recorded text; this wording is ours.
_TOO_MANY = f"The number of filters in FilterCriteria exceeds the maximum of {MAX_FILTERS}."

# The member that carries a record's data, per source (invocation-eventfiltering.html, "Data
# properties": "For Kinesis event sources, the data key is data. For Amazon SQS event sources,
# the data key is body. For DynamoDB event sources, the data key is dynamodb.").
DATA_KEYS: Final = {"sqs": "body", "kinesis": "data", "dynamodb": "dynamodb"}

_MISSING: Final = object()
_COMPARE: Final[dict[str, Callable[[Decimal, Decimal], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class DecodedData(dict[str, Any]):
    """A record's data member decoded as a JSON object in a ``record_view``.

    It is a plain dict to every reader; the matcher alone tells it apart: a pattern that filters
    it as a plain value (``{"body": ["text"]}``, ``{"body": [{"exists": false}]}``) never
    matches, since AWS drops a JSON body filtered as a plain string (with-sqs-filtering.html,
    "Valid JSON" body, "Plain string" pattern: "Lambda drops the message").
    """

    __slots__ = ()


# -- the criteria ---------------------------------------------------------------------------


def validate_filter_criteria(criteria: dict[str, Any], source: str | None = None) -> None:
    """Check ``FilterCriteria`` (``{"Filters": [{"Pattern": "<json>"}, ...]}``) as AWS does at
    CreateEventSourceMapping and UpdateEventSourceMapping.

    ``source`` (``"sqs"``, ``"kinesis"``, ``"dynamodb"``), when given, adds the source's own
    rule: a stream's data member must be filtered as a JSON object. Raises
    ``InvalidParameterValueError`` with AWS's text.
    """
    parse_patterns(criteria, source)


def parse_patterns(criteria: dict[str, Any], source: str | None = None) -> list[Pattern]:
    """The patterns of ``FilterCriteria``, parsed once; an absent or empty ``Filters`` gives
    none (AWS accepts ``{"Filters": []}`` and ``{}``, which clear the criteria). Raises as
    ``validate_filter_criteria``."""
    filters = criteria.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise invalid()
    if len(filters) > MAX_FILTERS:
        raise InvalidParameterValueError(_TOO_MANY)
    patterns: list[Pattern] = []
    for entry in filters:
        text = entry.get("Pattern") if isinstance(entry, dict) else None
        if not isinstance(text, str):
            raise invalid()
        pattern = parse_pattern(text)
        if source in ("kinesis", "dynamodb"):
            _check_stream_data(pattern.root, DATA_KEYS[source])
        patterns.append(pattern)
    return patterns


def _check_stream_data(node: ObjectPattern, data_key: str) -> None:
    # invocation-eventfiltering.html, "Properly filtering Kinesis and DynamoDB messages": a
    # non-JSON filter pattern for the data properties makes Lambda "throw an exception at the
    # time of the event source mapping creation or update".
    for key, sub in node.members:
        if key == data_key and isinstance(sub, Leaf):
            raise invalid()
    for alternative in node.any_of:
        _check_stream_data(alternative, data_key)


# -- the records ----------------------------------------------------------------------------


def record_view(source: str, record: dict[str, Any]) -> dict[str, Any]:
    """What AWS matches the patterns against, for a record of ``source`` as the function would
    receive it. The record itself is not changed, and the view is for matching only: the
    function gets the record (the view's numbers with a fraction are ``Decimal``, to keep their
    written form). Raises ``ValueError`` for an unknown source.

    - ``sqs``: the record with ``body`` decoded when it is a JSON object; any other body stays
      the plain string (with-sqs-filtering.html: "To filter based on the contents of your Amazon
      SQS messages, use the body key"; the plain-string/JSON table of
      invocation-eventfiltering.html#filtering-sqs).
    - ``kinesis``: the record with ``kinesis.data`` base64-decoded and decoded as JSON when it
      is a JSON object; the ``kinesis`` members are also seen at the top level, where AWS's
      examples filter them (``{"partitionKey": ["1"], "data": {"Location": [...]}}``,
      invocation-eventfiltering.html "Filtering examples"; ``{"data": {...}}``,
      with-kinesis-filtering.html). Data that is not JSON stays base64 text, so a pattern on
      ``data`` drops the record ("Non-JSON" data, "Valid JSON" pattern: "Lambda drops the
      record").
    - ``dynamodb``: the record as it is, ``dynamodb.NewImage.<attribute>.S`` and so on
      (with-ddb-filtering.html; a pattern must name the attribute's type: recorded against AWS,
      ``{"NewImage": {"k": ["v"]}}`` does not match ``{"NewImage": {"k": {"S": "v"}}}``).
    """
    if source == "sqs":
        view = dict(record)
        body = record.get("body")
        if isinstance(body, str):
            decoded = _json_object(body)
            if decoded is not None:
                view["body"] = decoded
        return view
    if source == "kinesis":
        inner = dict(record.get("kinesis") or {})
        data = inner.get("data")
        if isinstance(data, str):
            decoded = _base64_json_object(data)
            if decoded is not None:
                inner["data"] = decoded
        view = {**inner, **record}
        view["kinesis"] = inner
        if "data" in inner:
            view["data"] = inner["data"]
        return view
    if source == "dynamodb":
        view = dict(record)
        if isinstance(record.get("dynamodb"), dict):
            view["dynamodb"] = DecodedData(record["dynamodb"])
        return view
    raise ValueError(f"unknown event source {source!r}")


def _json_object(text: str) -> DecodedData | None:
    try:
        value = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None
    return DecodedData(value) if isinstance(value, dict) else None


def _base64_json_object(data: str) -> DecodedData | None:
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return _json_object(text)


# -- matching -------------------------------------------------------------------------------


def matches_any(patterns: list[Pattern], record: dict[str, Any]) -> bool:
    """Whether ``record`` (a ``record_view``) passes the criteria: no patterns, or one that
    matches (filters are ORed)."""
    return not patterns or any(matches(p, record) for p in patterns)


def matches(pattern: Pattern, record: dict[str, Any]) -> bool:
    """Whether ``record`` (a ``record_view``) matches ``pattern``."""
    return _match_object(pattern.root, record)


def _match_object(node: ObjectPattern, event: dict[str, Any]) -> bool:
    if not all(_match_member(sub, event.get(key, _MISSING)) for key, sub in node.members):
        return False
    return not node.any_of or any(_match_object(alternative, event) for alternative in node.any_of)


def _match_member(sub: Leaf | ObjectPattern, value: Any) -> bool:
    if isinstance(sub, Leaf):
        if isinstance(value, DecodedData):
            return False
        return _match_leaf(sub, list(_leaves(value)))
    if value is _MISSING:
        # A nested pattern on an absent member sees nothing: only "exists": false can hold.
        return _match_object(sub, {})
    if isinstance(value, dict):
        return _match_object(sub, value)
    if isinstance(value, list):
        objects = list(_objects(value))
        if not objects:
            return _match_object(sub, {})
        return any(_match_object(sub, element) for element in objects)
    # A plain value filtered as an object: AWS drops the record ("Plain string" body, "Valid
    # JSON" pattern; "Non-JSON" stream data, "Valid JSON" pattern).
    return False


def _leaves(value: Any) -> Iterator[Scalar]:
    """The leaf values at a member: none when it is absent or an object, the scalars of an
    array (flattened), else the value itself."""
    if value is _MISSING or isinstance(value, dict):
        return
    if isinstance(value, list):
        for element in value:
            yield from _leaves(element)
        return
    yield value


def _objects(values: list[Any]) -> Iterator[dict[str, Any]]:
    for element in values:
        if isinstance(element, dict):
            yield element
        elif isinstance(element, list):
            yield from _objects(element)


def _match_leaf(leaf: Leaf, leaves: list[Scalar]) -> bool:
    for rule in leaf.rules:
        if isinstance(rule, Exists):
            if rule.present == bool(leaves):
                return True
        elif any(_accepts(rule, value) for value in leaves):
            return True
    return False


def _accepts(rule: Rule, value: Scalar) -> bool:
    if isinstance(rule, Exact):
        return _same(rule.value, value)
    if isinstance(rule, Prefix):
        if not isinstance(value, str):
            return False
        return value.lower().startswith(rule.text.lower()) if rule.ignore_case else value.startswith(rule.text)
    if isinstance(rule, Suffix):
        if not isinstance(value, str):
            return False
        return value.lower().endswith(rule.text.lower()) if rule.ignore_case else value.endswith(rule.text)
    if isinstance(rule, EqualsIgnoreCase):
        return isinstance(value, str) and value.lower() == rule.text.lower()
    if isinstance(rule, Wildcard):
        return isinstance(value, str) and rule.regex.fullmatch(value) is not None
    if isinstance(rule, AnythingBut):
        return not any(_accepts(excluded, value) for excluded in rule.excluded)
    if isinstance(rule, Numeric):
        return _within(rule, value)
    if isinstance(rule, Cidr):
        return _in_network(rule, value)
    return False  # Exists is decided on the member, not on one of its values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _number_text(value: int | float | Decimal) -> str:
    """A number's written form, normalised only as far as JSON parsing goes: ``300`` and
    ``300.0`` and ``3.0e2`` stay three (invocation-eventfiltering.html: "For numbers, Lambda
    also uses string representation")."""
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value)


def _same(expected: Scalar, value: Scalar) -> bool:
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected == value
    if isinstance(expected, str) or isinstance(value, str):
        return isinstance(expected, str) and isinstance(value, str) and expected == value
    return _number_text(expected) == _number_text(value)


def _within(rule: Numeric, value: Scalar) -> bool:
    if not _is_number(value):
        return False  # strings never match numeric, not even "101" (DynamoDB's N, recorded)
    assert isinstance(value, int | float | Decimal)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return False
    return all(_COMPARE[op](number, bound) for op, bound in rule.bounds)


def _in_network(rule: Cidr, value: Scalar) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == rule.network.version and address in rule.network
