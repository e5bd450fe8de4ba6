"""GetAccountSettings: the account's limits (from settings) and its usage in the region.

TotalCodeSize counts the stored code of every version of every zip function ($LATEST and each
published version: AWS counts a version's code even when it equals $LATEST's) plus whatever the
other code stores report through ``plane.code_size_sources`` (the factory adds the layers').
"""

from __future__ import annotations

from typing import Any

from locallambda.control.concurrency import unreserved_concurrency
from locallambda.control.plane import ControlPlane
from locallambda.model.operations import RequestContext, operation
from locallambda.store.functions import FunctionRecord

__all__ = ["AccountApi", "function_code_size"]


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

    @operation("GetAccountSettings")
    async def get_account_settings(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        s = self.plane.settings
        functions = self.plane.functions.in_region(ctx.region)
        code_size = sum(function_code_size(r) for r in functions)
        code_size += sum(source(ctx.region) for source in self.plane.code_size_sources)
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
