"""Marker/MaxItems pagination as the Lambda list operations use it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

from locallambda.errors import InvalidParameterValueError

__all__ = ["paginate"]

T = TypeVar("T")


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterValueError("Invalid marker") from exc


def paginate(
    items: Sequence[T], marker: str | None, max_items: int | None, key: Callable[[T], str], default: int = 50
) -> tuple[list[T], str | None]:
    """One page of ``items`` (already in order) after ``marker``, and the marker of the next page.

    Markers are opaque to clients; ours encode the key of the last item returned, so pages stay
    correct when items are added or removed between calls.
    """
    limit = max_items or default
    start = 0
    if marker:
        last = _decode(marker)
        keys = [key(i) for i in items]
        start = (
            next((n for n, k in enumerate(keys) if k > last), len(items)) if last not in keys else keys.index(last) + 1
        )
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (_encode(key(page[-1])) if more and page else None)
