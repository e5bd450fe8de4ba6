"""How stored configurations are shown: internal members (``_``-prefixed) left out, and the
lifecycle members left out of listings, as AWS's ListFunctions and ListVersionsByFunction do."""

from __future__ import annotations

from typing import Any

__all__ = ["public_config", "version_sort_key"]

_NOT_LISTED = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
    "RuntimeVersionConfig",
)


def public_config(cfg: dict[str, Any], listing: bool = False) -> dict[str, Any]:
    """The configuration as the API shows it."""
    out = {k: v for k, v in cfg.items() if not k.startswith("_")}
    if listing:
        for k in _NOT_LISTED:
            out.pop(k, None)
    return out


def version_sort_key(cfg: dict[str, Any]) -> str:
    """$LATEST first, then versions in numeric order (a key that grows along a listing)."""
    v = cfg["Version"]
    return "0" * 12 if v == "$LATEST" else v.rjust(12, "0")
