"""Filter criteria applied to a mapping's records (``filters.py`` holds the pattern language).

Any pattern that matches keeps a record; what a pattern sees is ``filters.record_view`` of the
record (Lambda developer guide, "Event filtering").
"""

from __future__ import annotations

from typing import Any

from locallambda.event_sources import filters

__all__ = ["Filter", "check_filters"]


def check_filters(criteria: dict[str, Any], source: str | None = None) -> None:
    """Raises ``InvalidParameterValueError`` with AWS's text for invalid criteria."""
    filters.validate_filter_criteria(criteria, source)


class Filter:
    """The parsed patterns of one mapping's FilterCriteria (none: every record is kept)."""

    def __init__(self, criteria: dict[str, Any] | None, source: str) -> None:
        self.source = source
        self.patterns = filters.parse_patterns(criteria or {}, source) if criteria else []

    def keeps(self, record: dict[str, Any]) -> bool:
        if not self.patterns:
            return True
        return filters.matches_any(self.patterns, filters.record_view(self.source, record))
