"""Validation of parsed input against the service model, worded as AWS words it.

AWS (Coral) reports every violated constraint as
``Value '<v>' at '<path>' failed to satisfy constraint: <constraint>`` and joins them as
``N validation error(s) detected: a; b``. Paths use the member names with a lower-case first
letter, joined by dots. Values print like Java's ``toString``: lists ``[a, b]``, maps ``{k=v}``;
values of shapes the model marks sensitive are not printed at all (``Value at '<path>'``).
Constraints of list elements and map entries are folded into one bracketed message ending with
``Member must not be null`` — except for list elements that are strings of minimum length 0
(observed in AWS's answers recorded by LocalStack's parity tests).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

import regex
from botocore.model import ListShape, MapShape, Shape, StructureShape

from locallambda.errors import ValidationError
from locallambda.model.wording import enum_text, format_value, validation_message
from locallambda.runtimes.catalogue import ALL_RUNTIMES, VALID_RUNTIMES_TEXT

__all__ = ["SKIP_ENUM_SHAPES", "enum_text", "format_value", "validate", "validation_message"]

# Shapes whose enum AWS checks elsewhere, with a different error (Runtime: InvalidParameterValue).
SKIP_ENUM_SHAPES = frozenset({"Runtime"})


def _quoted(value: Any) -> str:
    return "null" if value is None else f"'{format_value(value)}'"


def _as_parsed(shape: Shape, value: Any) -> Any:
    """The value as AWS's (Java) parser holds it: a JSON integer sent for a float member is a
    double there, so it prints as ``2.0``."""
    t = shape.type_name
    if t in ("float", "double") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_as_parsed(shape.member, v) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _as_parsed(shape.value, v) for k, v in value.items()}
    return value


def _subject(shape: Shape, value: Any) -> str:
    """``Value '<v>'``, or a bare ``Value`` for members the model marks sensitive: AWS never
    echoes those (``Value at 'environment.variables' failed to satisfy constraint: ...``)."""
    if shape.metadata.get("sensitive"):
        return "Value"
    return f"Value {_quoted(_as_parsed(shape, value))}"


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _size(value: Any) -> int | None:
    if isinstance(value, (str, list, dict, bytes, bytearray)):
        return len(value)
    return None


# Patterns AWS quotes differently from botocore's model (its recorded answers in LocalStack's
# parity snapshots): the layer version ARN without the model's outer parentheses
# (test_layer_exceptions, test_layer_function_exceptions), the taggable resource ARN as AWS's own
# service knows it (test_tag_exceptions).
_PATTERN_TEXT = {
    "LayerVersionArn": (
        r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
        r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
    ),
    "TaggableResource": (
        r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
        r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
        r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"
    ),
}


def _pattern_text(shape: Shape) -> str:
    return _PATTERN_TEXT.get(shape.name) or str(shape.metadata["pattern"])


def _layer_runtimes(value: Any) -> str | None:
    """PublishLayerVersion's CompatibleRuntimes: any runtime AWS knows, deprecated ones included
    (test_layer_compatibilities), but the refusal lists the supported set (test_layer_exceptions)."""
    if isinstance(value, list) and any(v not in ALL_RUNTIMES for v in value):
        return f"Member must satisfy enum value set: {VALID_RUNTIMES_TEXT}"
    return None


# Members AWS checks itself, before the rest of their structure: (input shape, member) → the
# constraint text of a violation, or None.
_FIRST_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("PublishLayerVersionRequest", "CompatibleRuntimes"): _layer_runtimes,
}


def _scalar_constraints(shape: Shape) -> list[str]:
    """Every constraint a shape carries, in AWS's order, for the bracketed element message."""
    meta = shape.metadata
    out: list[str] = []
    if shape.type_name in ("string", "list", "map", "blob"):
        if "max" in meta:
            out.append(f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta:
            out.append(f"Member must have length greater than or equal to {meta['min']}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if "max" in meta:
            out.append(f"Member must have value less than or equal to {_num(meta['max'], shape)}")
        if "min" in meta:
            out.append(f"Member must have value greater than or equal to {_num(meta['min'], shape)}")
    if "pattern" in meta:
        out.append(f"Member must satisfy regular expression pattern: {_pattern_text(shape)}")
    enum = getattr(shape, "enum", None)
    if enum and shape.name not in SKIP_ENUM_SHAPES:
        out.append(f"Member must satisfy enum value set: {enum_text(enum)}")
    return out


def _num(bound: Any, shape: Shape) -> str:
    if shape.type_name in ("float", "double"):
        return repr(float(bound))
    return str(int(bound))


@cache
def _regex(pattern: str) -> Any:
    # The model's patterns are Java regular expressions; the ``regex`` module understands their
    # Unicode classes (``\p{L}``, ``\p{Z}``, ``\p{N}``) that ``re`` rejects.
    return regex.compile(pattern, regex.DOTALL)


@lru_cache(maxsize=4096)
def _pattern_ok(pattern: str, value: str) -> bool:
    # Cached: the same names and qualifiers come back on every invoke of a function.
    try:
        return _regex(pattern).fullmatch(value) is not None
    except regex.error:  # a construct neither engine knows: do not refuse what we cannot judge
        return True


def _violations(shape: Shape, value: Any) -> list[str]:
    """Constraint texts a scalar (or a collection's own size) violates."""
    meta = shape.metadata
    out: list[str] = []
    t = shape.type_name
    if t in ("string", "list", "map", "blob"):
        n = _size(value)
        if n is not None:
            if "max" in meta and n > meta["max"]:
                out.append(f"Member must have length less than or equal to {meta['max']}")
            if "min" in meta and n < meta["min"]:
                out.append(f"Member must have length greater than or equal to {meta['min']}")
    elif t in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "max" in meta and value > meta["max"]:
            out.append(f"Member must have value less than or equal to {_num(meta['max'], shape)}")
        if "min" in meta and value < meta["min"]:
            out.append(f"Member must have value greater than or equal to {_num(meta['min'], shape)}")
    if t == "string" and isinstance(value, str):
        if "pattern" in meta and not _pattern_ok(meta["pattern"], value):
            out.append(f"Member must satisfy regular expression pattern: {_pattern_text(shape)}")
        enum = getattr(shape, "enum", None)
        if enum and shape.name not in SKIP_ENUM_SHAPES and value not in enum:
            out.append(f"Member must satisfy enum value set: {enum_text(enum)}")
    return out


def _may_be_empty(shape: Shape) -> bool:
    # AWS leaves "Member must not be null" out of the bracket for list elements that are strings
    # of minimum length 0 (vpcConfig.subnetIds, vpcConfig.securityGroupIds) and keeps it for the
    # others (architectures: an enum; layers: min 1), as its recorded answers show.
    return bool(shape.type_name == "string" and shape.metadata.get("min") == 0)


def _element_bad(shape: Shape, value: Any) -> bool:
    return value is None or bool(_violations(shape, value))


def _walk(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if value is None:
        return
    for text in _violations(shape, value):
        errors.append(f"{_subject(shape, value)} at '{path}' failed to satisfy constraint: {text}")
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        _walk_structure(shape, value, path, errors)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        member = shape.member
        if isinstance(member, StructureShape):
            for i, item in enumerate(value):
                at = f"{path}.{i + 1}.member"
                if item is None:  # a handler must never meet a null where a structure belongs
                    errors.append(f"Value null at '{at}' failed to satisfy constraint: Member must not be null")
                _walk(member, item, at, errors)
        elif any(_element_bad(member, v) for v in value):
            constraints = _scalar_constraints(member)
            if not _may_be_empty(member):
                constraints.append("Member must not be null")
            errors.append(
                f"{_subject(shape, value)} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy constraint: [{', '.join(constraints)}]"
            )
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        if any(_violations(shape.key, k) for k in value):
            constraints = _scalar_constraints(shape.key)
            errors.append(
                f"{_subject(shape, value)} at '{path}' failed to satisfy constraint: "
                f"Map keys must satisfy constraint: [{', '.join(constraints)}]"
            )
        if any(_element_bad(shape.value, v) for v in value.values()):
            constraints = [*_scalar_constraints(shape.value), "Member must not be null"]
            errors.append(
                f"{_subject(shape, value)} at '{path}' failed to satisfy constraint: "
                f"Map value must satisfy constraint: [{', '.join(constraints)}]"
            )


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{_lower_first(name)}" if prefix else _lower_first(name)


def _walk_structure(shape: StructureShape, value: dict[str, Any], prefix: str, errors: list[str]) -> None:
    for (owner, name), check in _FIRST_CHECKS.items():
        if owner == shape.name and value.get(name) is not None and (text := check(value[name])) is not None:
            errors.append(
                f"{_subject(shape.members[name], value[name])} at '{_path(prefix, name)}' failed to satisfy constraint: {text}"
            )
    required = shape.required_members
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None:
            if name in required:
                errors.append(
                    f"Value null at '{_path(prefix, name)}' failed to satisfy constraint: Member must not be null"
                )
            continue
        _walk(member, item, _path(prefix, name), errors)


def validate(shape: StructureShape | None, params: dict[str, Any]) -> None:
    """Check ``params`` (wire member names) against ``shape``.

    Raises ``ValidationError`` carrying AWS's text for every violation found.
    """
    if shape is None:
        return
    errors: list[str] = []
    _walk_structure(shape, params, "", errors)
    if errors:
        raise ValidationError(validation_message(errors))
