"""GetAccountSettings: the account's limits (from settings) and its usage in the region.

TotalCodeSize counts the stored code of every version of every zip function ($LATEST and each
published version: AWS counts a version's code even when it equals $LATEST's) plus whatever the
other code stores report. Those plug in through ``plane.code_size_sources``, a list of
callables ``(region) -> int`` (layers add the size of their versions there)::

    code_size_sources(plane).append(lambda region: ...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locallambda.control.concurrency import unreserved_concurrency
from locallambda.control.plane import ControlPlane
from locallambda.control.state import FunctionRecord
from locallambda.requests import Handler, RequestContext

__all__ = ["AccountApi", "CodeSizeSource", "code_size_sources", "function_code_size"]

CodeSizeSource = Callable[[str], int]


def code_size_sources(plane: ControlPlane) -> list[CodeSizeSource]:
    """The plane's list of extra code-size contributors, created on first use."""
    sources: list[CodeSizeSource] | None = getattr(plane, "code_size_sources", None)
    if sources is None:
        sources = []
        plane.code_size_sources = sources  # type: ignore[attr-defined]
    return sources


def function_code_size(record: FunctionRecord) -> int:
    """Bytes of code a function stores over all its versions (image functions count nothing:
    their code counts against ECR's quotas)."""
    total = 0
    for version in [record.latest, *record.versions.values()]:
        if version.config.get("PackageType", "Zip") == "Zip":
            total += int(version.config.get("CodeSize") or 0)
    return total


class AccountApi:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        code_size_sources(plane)

    def handlers(self) -> dict[str, Handler]:
        return {"GetAccountSettings": self.get_account_settings}

    async def get_account_settings(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        s = self.plane.settings
        functions = self.plane.functions.in_region(ctx.region)
        code_size = sum(function_code_size(r) for r in functions)
        code_size += sum(source(ctx.region) for source in code_size_sources(self.plane))
        return {
            "AccountLimit": {
                "TotalCodeSize": s.limits_total_code_size,
                "CodeSizeUnzipped": s.limits_code_size_unzipped,
                "CodeSizeZipped": s.limits_code_size_zipped,
                "ConcurrentExecutions": s.limits_concurrent_executions,
                "UnreservedConcurrentExecutions": unreserved_concurrency(self.plane, ctx.region),
            },
            "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(functions)},
        }
