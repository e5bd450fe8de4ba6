"""How AWS words validation failures: values printed as Java prints them, enum sets in AWS's
order, and the ``N validation error(s) detected: ...`` sentence.

Shared by the model-driven validator (protocol/) and the resource modules that check a member
themselves (control/), so that both speak with the same words.
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["enum_text", "format_value", "validation_message"]


def _java_hash(s: str) -> int:
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h


@cache
def _enum_order(values: tuple[str, ...]) -> tuple[str, ...]:
    # AWS prints enum sets in the iteration order of a hash set, not in model order. Bucketing
    # the Java String hash into 32 slots reproduces every small enum AWS printed in the
    # recorded snapshots ([Terminate, Allow], [RESPONSE_STREAM, BUFFERED], [x86_64, arm64], ...).
    buckets: dict[int, list[str]] = {}
    for v in values:
        buckets.setdefault(_java_hash(v) & 31, []).append(v)
    return tuple(v for k in sorted(buckets) for v in buckets[k])


def enum_text(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_enum_order(tuple(values))) + "]"


def format_value(value: Any) -> str:
    """Java-style rendering of a value inside AWS's validation text (without the quotes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    return str(value)


def validation_message(errors: list[str]) -> str:
    n = len(errors)
    noun = "error" if n == 1 else "errors"
    return f"{n} validation {noun} detected: " + "; ".join(errors)
