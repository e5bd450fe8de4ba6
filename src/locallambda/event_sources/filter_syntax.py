"""The syntax of filter patterns: a pattern's JSON text parsed into typed rules, or refused.

Lambda's filter rules are EventBridge's event patterns (Lambda developer guide, "Control which
events Lambda sends to your function", invocation-eventfiltering.html, "Filter rule syntax";
EventBridge user guide, "Content filtering in Amazon EventBridge event patterns",
eb-event-patterns-content-based-filtering.html). A pattern is a JSON object; each member is
either a nested object (a pattern for the event's nested object) or a non-empty array of
alternatives; ``"$or"`` holds at least two such objects, one of which must match. An
alternative is a plain value (string, number, boolean, null) or an object with exactly one
operator: ``prefix``, ``suffix`` (each a string or ``{"equals-ignore-case": ...}``),
``equals-ignore-case``, ``wildcard``, ``anything-but``, ``numeric``, ``exists`` or ``cidr``.

Whatever AWS refuses raises ``InvalidParameterValueError`` with the one text AWS answers for
every malformed pattern, ``Invalid filter pattern definition.`` (recorded against AWS in
LocalStack's parity snapshots: a pattern that is not JSON, ``null``, a member whose value is
not an array, an empty array). Numbers are kept as parsed (``int`` or ``Decimal``), so that an
exact match compares them as AWS does, by their written form.

Nothing here does I/O; ``filters.py`` matches records against what this module builds.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

from locallambda.errors import InvalidParameterValueError

__all__ = [
    "INVALID_PATTERN",
    "AnythingBut",
    "Cidr",
    "EqualsIgnoreCase",
    "Exact",
    "Exists",
    "Leaf",
    "Node",
    "Numeric",
    "ObjectPattern",
    "Pattern",
    "Prefix",
    "Rule",
    "Scalar",
    "Suffix",
    "Wildcard",
    "invalid",
    "parse_pattern",
]

INVALID_PATTERN = "Invalid filter pattern definition."

# A value of a parsed JSON document: numbers written with a fraction or an exponent are
# ``Decimal`` (their written form kept), floats arrive only from records built in Python.
Scalar: TypeAlias = str | int | float | Decimal | bool | None

# EventBridge's comparison operators of ``numeric``: a lone "=" or bound, or a lower bound
# followed by an upper one.
_LOWER = frozenset({">", ">="})
_UPPER = frozenset({"<", "<="})
_OPERATORS = _LOWER | _UPPER | {"="}


def invalid() -> InvalidParameterValueError:
    return InvalidParameterValueError(INVALID_PATTERN)


@dataclass(frozen=True, slots=True)
class Exact:
    """A plain value: strings character by character, numbers by their written form
    (``300``, ``300.0`` and ``3.0e2`` differ, invocation-eventfiltering.html), ``null`` only
    an explicit null."""

    value: Scalar


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*`` stands for any run of characters; ``\\*`` and ``\\\\`` for themselves."""

    source: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Numeric:
    """Bounds as ``(operator, number)`` pairs; every one must hold."""

    bounds: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool


@dataclass(frozen=True, slots=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Matches a value that none of ``excluded`` matches."""

    excluded: tuple[Exact | Prefix | Suffix | EqualsIgnoreCase | Wildcard, ...]


Rule: TypeAlias = Exact | Prefix | Suffix | EqualsIgnoreCase | Wildcard | Numeric | Exists | Cidr | AnythingBut


@dataclass(frozen=True, slots=True)
class Leaf:
    """The alternatives of one member: the member matches when one of them does."""

    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class ObjectPattern:
    """Every member must match (AND); with ``any_of``, one of those patterns too (``$or``)."""

    members: tuple[tuple[str, Node], ...]
    any_of: tuple[ObjectPattern, ...] = ()


Node: TypeAlias = Leaf | ObjectPattern


@dataclass(frozen=True, slots=True)
class Pattern:
    """One filter's pattern, parsed once (at CreateEventSourceMapping) and matched many times."""

    text: str
    root: ObjectPattern


def parse_pattern(text: str) -> Pattern:
    """The pattern of one filter's ``Pattern`` string; raises ``InvalidParameterValueError``
    (``Invalid filter pattern definition.``) for anything AWS refuses."""
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise invalid() from None
    if not isinstance(document, dict):
        raise invalid()  # "null", a string, an array: AWS refuses them (recorded)
    try:
        return Pattern(text, _object(document))
    except RecursionError:
        raise invalid() from None


def _refuse_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _object(document: dict[str, Any]) -> ObjectPattern:
    # EventBridge refuses empty objects at any level of a pattern (an empty object would
    # otherwise match every event).
    if not document:
        raise invalid()
    members: list[tuple[str, Node]] = []
    any_of: tuple[ObjectPattern, ...] = ()
    for key, value in document.items():
        if key == "$or":
            # EventBridge: "$or" takes an array of at least two patterns (eb-create-pattern-
            # operators.html, "Or matching on multiple fields").
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise invalid()
            any_of = tuple(_object(v) for v in value)
        elif isinstance(value, dict):
            members.append((key, _object(value)))
        elif isinstance(value, list):
            members.append((key, _leaf(value)))
        else:
            raise invalid()  # {"eventSource": "aws:sqs"}: a value outside an array (recorded)
    return ObjectPattern(tuple(members), any_of)


def _leaf(values: list[Any]) -> Leaf:
    if not values:
        raise invalid()  # {"eventSource": []} (recorded)
    return Leaf(tuple(_rule(v) for v in values))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _rule(value: Any) -> Rule:
    if isinstance(value, dict):
        return _operator(value)
    if isinstance(value, list):
        raise invalid()
    return Exact(value)


def _operator(spec: dict[str, Any]) -> Rule:
    if len(spec) != 1:
        raise invalid()
    ((name, argument),) = spec.items()
    if name == "prefix":
        text, ignore_case = _affix(argument)
        return Prefix(text, ignore_case)
    if name == "suffix":
        text, ignore_case = _affix(argument)
        return Suffix(text, ignore_case)
    if name == "equals-ignore-case":
        return EqualsIgnoreCase(_string(argument))
    if name == "wildcard":
        return _wildcard(argument)
    if name == "anything-but":
        return _anything_but(argument)
    if name == "numeric":
        return _numeric(argument)
    if name == "exists":
        if not isinstance(argument, bool):
            raise invalid()
        return Exists(argument)
    if name == "cidr":
        return _cidr(argument)
    raise invalid()


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid()
    return value


def _affix(argument: Any) -> tuple[str, bool]:
    """``"text"`` or ``{"equals-ignore-case": "text"}`` (EventBridge: "Prefix matching while
    ignoring case", "Suffix matching while ignoring case")."""
    if isinstance(argument, str):
        return argument, False
    if isinstance(argument, dict) and len(argument) == 1 and "equals-ignore-case" in argument:
        return _string(argument["equals-ignore-case"]), True
    raise invalid()


def _wildcard(argument: Any) -> Wildcard:
    """EventBridge's wildcard: ``*`` for any characters, a backslash escapes ``*`` and
    itself; two consecutive wildcard characters, and any other escape, are refused."""
    text = _string(argument)
    parts: list[str] = []
    i = 0
    previous_star = False
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise invalid()
            parts.append(re.escape(text[i + 1]))
            i += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise invalid()
            parts.append(".*")
            previous_star = True
        else:
            parts.append(re.escape(char))
            previous_star = False
        i += 1
    return Wildcard(text, re.compile("".join(parts), re.DOTALL))


def _anything_but(argument: Any) -> AnythingBut:
    """A string, a number, an array of them, or one of ``prefix``, ``suffix`` (a string),
    ``equals-ignore-case``, ``wildcard`` (a string or an array of strings); EventBridge's
    "Anything-but matching" section lists exactly these forms."""
    if isinstance(argument, str) or _is_number(argument):
        return AnythingBut((Exact(argument),))
    if isinstance(argument, list):
        if not argument or not all(isinstance(v, str) or _is_number(v) for v in argument):
            raise invalid()
        return AnythingBut(tuple(Exact(v) for v in argument))
    if isinstance(argument, dict) and len(argument) == 1:
        ((name, inner),) = argument.items()
        if name == "prefix":
            return AnythingBut((Prefix(_string(inner)),))
        if name == "suffix":
            return AnythingBut((Suffix(_string(inner)),))
        if name == "equals-ignore-case":
            return AnythingBut(tuple(EqualsIgnoreCase(s) for s in _strings(inner)))
        if name == "wildcard":
            return AnythingBut(tuple(_wildcard(s) for s in _strings(inner)))
    raise invalid()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise invalid()


def _numeric(argument: Any) -> Numeric:
    """``[op, n]`` or ``[lower-op, n, upper-op, m]`` with ``n < m`` (EventBridge: "Numeric
    matching"); the numbers are JSON numbers, never strings."""
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise invalid()
    bounds: list[tuple[str, Decimal]] = []
    for op, number in zip(argument[::2], argument[1::2], strict=True):
        if not isinstance(op, str) or op not in _OPERATORS or not _is_number(number):
            raise invalid()
        bounds.append((op, Decimal(number)))
    if len(bounds) == 2:
        (low_op, low), (high_op, high) = bounds
        if low_op not in _LOWER or high_op not in _UPPER or not low < high:
            raise invalid()
    return Numeric(tuple(bounds))


def _cidr(argument: Any) -> Cidr:
    """An IPv4 or IPv6 network (EventBridge: "IP address matching")."""
    text = _string(argument)
    try:
        return Cidr(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise invalid() from None
