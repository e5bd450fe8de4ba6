"""What a function's answer to a batch means: ``ReportBatchItemFailures``.

AWS's rules ("Implementing partial batch responses", Lambda developer guide for SQS, Kinesis and
DynamoDB): the batch is a complete success when the answer is null, not an object, an object
without ``batchItemFailures``, or with it null or empty; it is a complete failure when the answer
is not JSON, or an entry has no ``itemIdentifier``, a null or empty one, or one that names no
record of the batch. Otherwise the named records failed.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

__all__ = ["ALL_FAILED", "failed_items"]

# The whole batch failed.
ALL_FAILED: frozenset[str] = frozenset({"\0all"})


def failed_items(payload: bytes, identifiers: Collection[str]) -> frozenset[str]:
    """The identifiers (SQS message ids, stream sequence numbers) the answer reports as
    failed: empty for a complete success, ``ALL_FAILED`` for a complete failure."""
    try:
        answer: Any = json.loads(payload) if payload.strip() else None
    except ValueError:
        return ALL_FAILED
    if not isinstance(answer, dict):
        return frozenset()
    entries = answer.get("batchItemFailures")
    if not entries:
        return frozenset()
    if not isinstance(entries, list):
        return ALL_FAILED
    failed: set[str] = set()
    for entry in entries:
        ident = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(ident, str) or not ident or ident not in identifiers:
            return ALL_FAILED
        failed.add(ident)
    return frozenset(failed)
