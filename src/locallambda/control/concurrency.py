"""Reserved and provisioned concurrency, and the account's concurrency arithmetic.

Reserved concurrency (``record.reserved_concurrency``) is per function; provisioned concurrency
configurations (``record.provisioned_concurrency[qualifier]``) are per published version or
alias. Both take from the region's account limit (``settings.limits_concurrent_executions``):
a function with reserved concurrency claims exactly that (its provisioned concurrency must fit
inside it); a function without claims the sum of its provisioned concurrency. What is left is
the account's UnreservedConcurrentExecutions, which may never go below
``settings.limits_minimum_unreserved_concurrency`` (AWS docs, "Configuring reserved concurrency").

A provisioned configuration starts ``IN_PROGRESS`` and becomes ``READY`` once the invoke
engine has pre-started its environments. The engine plugs in through ``plane.provisioner``
(``control.seams.Provisioner``), called with the configured qualifier (a version number or an
alias name) and the number of environments to keep ready (0 when a configuration is deleted).
Returning marks the configuration ``READY``; raising marks it ``FAILED`` with the exception's
text as StatusReason.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.control.seams import Provisioner
from locallambda.errors import (
    InvalidParameterValueError,
    ProvisionedConcurrencyConfigNotFoundError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from locallambda.model.clock import aws_timestamp
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import Change, FunctionRecord, new_revision_id

__all__ = [
    "ConcurrencyApi",
    "function_claim",
    "provision_and_record",
    "provisioned_total",
    "unreserved_concurrency",
]

_VERSION = re.compile(r"[0-9]+")
_ALIAS = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]+")
_REQUESTED = "RequestedProvisionedConcurrentExecutions"
_WIRE = (
    _REQUESTED,
    "AvailableProvisionedConcurrentExecutions",
    "AllocatedProvisionedConcurrentExecutions",
    "Status",
    "StatusReason",
    "LastModified",
)


def provisioned_total(record: FunctionRecord, exclude: str | None = None) -> int:
    """Sum of the function's provisioned concurrency, leaving out the configuration ``exclude``."""
    return sum(c[_REQUESTED] for q, c in record.provisioned_concurrency.items() if q != exclude)


def function_claim(record: FunctionRecord) -> int:
    """How much of the account's concurrency one function takes away from the others."""
    if record.reserved_concurrency is not None:
        return record.reserved_concurrency
    return provisioned_total(record)


def unreserved_concurrency(plane: ControlPlane, region: str, exclude: FunctionRecord | None = None) -> int:
    """The account's UnreservedConcurrentExecutions in ``region`` (ignoring ``exclude``'s claim)."""
    claimed = sum(function_claim(r) for r in plane.functions.in_region(region) if r is not exclude)
    return plane.settings.limits_concurrent_executions - claimed


_UNQUALIFIED_ONLY = (
    "This operation is permitted on Lambda functions only. Aliases and versions do not support this "
    "operation. Please specify either a function name or an unqualified function ARN."
)


class ConcurrencyApi:
    """Handlers for reserved (function) and provisioned (version/alias) concurrency."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self._resumed = False

    @property
    def _provisioner(self) -> Provisioner:
        return self.plane.provisioner

    def resume_provisioning(self) -> None:
        """Provision every stored configuration again (they survive a restart; environments do
        not): each goes back to ``IN_PROGRESS`` until the provisioner is done. Runs once, on the
        event loop; the provisioned-concurrency handlers call it on first use, and the app may
        call it at startup so that nothing waits for an API call."""
        if self._resumed:
            return
        self._resumed = True
        for record in self.plane.functions.all():
            for q, config in record.provisioned_concurrency.items():
                token = new_revision_id()
                config.update(
                    {
                        "Status": "IN_PROGRESS",
                        "AvailableProvisionedConcurrentExecutions": 0,
                        "AllocatedProvisionedConcurrentExecutions": 0,
                        "_token": token,
                    }
                )
                config.pop("StatusReason", None)
                self.plane.spawn(self._provision(record, q, config[_REQUESTED], token))
            if record.provisioned_concurrency:
                self.plane.functions.save(record)

    # -- reserved concurrency -------------------------------------------------------------

    def _unqualified(self, ctx: RequestContext, p: dict[str, Any]) -> FunctionRef:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        if ref.qualifier is not None:
            raise InvalidParameterValueError(_UNQUALIFIED_ONLY)
        return ref

    @operation("PutFunctionConcurrency")
    async def put_function_concurrency(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises InvalidParameterValue (qualified name, unreserved minimum, below provisioned)
        and ResourceNotFound (AWS names the function's ``$LATEST`` ARN here)."""
        ref = self._unqualified(ctx, p)
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn(LATEST)}")
        value: int = p["ReservedConcurrentExecutions"]
        s = self.plane.settings
        # The function's current claim is replaced, not added to (AWS lets a function lower or
        # keep its own reservation when the account is otherwise at its minimum).
        if (
            unreserved_concurrency(self.plane, ref.region, exclude=record) - value
            < s.limits_minimum_unreserved_concurrency
        ):
            raise InvalidParameterValueError(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{s.limits_minimum_unreserved_concurrency}]."
            )
        provisioned = provisioned_total(record)
        if provisioned > value:
            # AWS's own spacing (recorded in LocalStack's test_lambda_provisioned_concurrency_...).
            raise InvalidParameterValueError(
                f" ReservedConcurrentExecutions  {value} should not be lower than function's total provisioned "
                f"concurrency [{provisioned}]."
            )
        record.reserved_concurrency = value
        self.plane.functions.save(record)
        return {"ReservedConcurrentExecutions": value}

    @operation("GetFunctionConcurrency")
    async def get_function_concurrency(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Without reserved concurrency the answer is empty (AWS omits the member)."""
        record = self.plane.get_function(self._unqualified(ctx, p))
        if record.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": record.reserved_concurrency}

    @operation("DeleteFunctionConcurrency")
    async def delete_function_concurrency(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record = self.plane.get_function(self._unqualified(ctx, p))
        if record.reserved_concurrency is not None:
            record.reserved_concurrency = None
            self.plane.functions.save(record)
        return {}

    # -- provisioned concurrency ----------------------------------------------------------

    def _resolve(self, ctx: RequestContext, p: dict[str, Any], latest_text: str) -> tuple[FunctionRecord, str]:
        """The function and the version/alias a provisioned-concurrency call names.

        Raises InvalidParameterValue for ``$LATEST`` (checked first), ResourceNotFound
        "Cannot find alias arn" for an alias-shaped qualifier (even when the function itself is
        missing) and "Function not found" (qualified ARN) otherwise.
        """
        self.resume_provisioning()
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        q = ref.qualifier or ""
        if q == LATEST:
            raise InvalidParameterValueError(latest_text)
        record = self.plane.functions.get(ref.region, ref.name)
        if _ALIAS.fullmatch(q):
            if record is None or q not in record.aliases:
                raise ResourceNotFoundError(f"Cannot find alias arn: {ref.arn()}")
            return record, q
        if record is None or not _VERSION.fullmatch(q) or q not in record.versions:
            raise ResourceNotFoundError(f"Function not found: {ref.arn()}")
        return record, q

    @staticmethod
    def _public(config: dict[str, Any]) -> dict[str, Any]:
        return {k: config[k] for k in _WIRE if k in config}

    @operation("PutProvisionedConcurrencyConfig")
    async def put_provisioned_concurrency_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises InvalidParameterValue ($LATEST, limits), ResourceNotFound and ResourceConflict
        (a version and an alias pointing to it cannot both be provisioned)."""
        record, q = self._resolve(
            ctx, p, "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
        requested: int = p["ProvisionedConcurrentExecutions"]
        if q in record.aliases:
            version = record.aliases[q].get("FunctionVersion")
            if version in record.provisioned_concurrency:
                raise ResourceConflictError(
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
                )
        elif any(
            a.get("FunctionVersion") == q and name in record.provisioned_concurrency
            for name, a in record.aliases.items()
        ):
            raise ResourceConflictError("Version is pointed by a Provisioned Concurrency alias")
        self._check_provisioned_limits(record, q, requested)

        previous = record.provisioned_concurrency.get(q) or {}
        allocated = min(previous.get("AllocatedProvisionedConcurrentExecutions", 0), requested)
        token = new_revision_id()
        config: dict[str, Any] = {
            _REQUESTED: requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": "IN_PROGRESS",
            "LastModified": aws_timestamp(),
            "_token": token,
        }
        record.provisioned_concurrency[q] = config
        self.plane.functions.save(record)
        self.plane.spawn(self._provision(record, q, requested, token))
        return self._public(config)

    def _check_provisioned_limits(self, record: FunctionRecord, qualifier: str, requested: int) -> None:
        s = self.plane.settings
        others = provisioned_total(record, exclude=qualifier)
        if record.reserved_concurrency is not None:
            # Provisioned concurrency is carved out of the function's reservation.
            if others + requested > record.reserved_concurrency:
                raise InvalidParameterValueError(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                    "for function"
                )
            return
        available = unreserved_concurrency(self.plane, record.region, exclude=record) - others
        if requested > available:
            raise InvalidParameterValueError(
                f"Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [{available}]."
            )
        if available - requested < s.limits_minimum_unreserved_concurrency:
            raise InvalidParameterValueError(
                "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{s.limits_minimum_unreserved_concurrency}]."
            )

    async def _provision(self, record: FunctionRecord, qualifier: str, count: int, token: str) -> None:
        await provision_and_record(self.plane, record, qualifier, count, token)

    async def _release(self, record: FunctionRecord, qualifier: str) -> None:
        try:
            await self._provisioner(record, qualifier, 0)
        except asyncio.CancelledError:
            raise
        except Exception:  # nothing to report to: the configuration is already gone
            pass

    @operation("GetProvisionedConcurrencyConfig")
    async def get_provisioned_concurrency_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ProvisionedConcurrencyConfigNotFound when the version/alias has no configuration."""
        record, q = self._resolve(ctx, p, "The function resource provided must be an alias or a published version.")
        config = record.provisioned_concurrency.get(q)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundError("No Provisioned Concurrency Config found for this function")
        return self._public(config)

    @operation("DeleteProvisionedConcurrencyConfig")
    async def delete_provisioned_concurrency_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Deleting a configuration that does not exist succeeds, as on AWS."""
        record, q = self._resolve(ctx, p, "The function resource provided must be an alias or a published version.")
        if record.provisioned_concurrency.pop(q, None) is not None:
            self.plane.functions.save(record)
            self.plane.spawn(self._release(record, q))
        return {}

    @operation("ListProvisionedConcurrencyConfigs")
    async def list_provisioned_concurrency_configs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        self.resume_provisioning()
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        items = []
        for q in sorted(record.provisioned_concurrency, key=_order):
            items.append({"FunctionArn": ref.arn(q), **self._public(record.provisioned_concurrency[q])})
        page, marker = paginate(
            items, p.get("Marker"), p.get("MaxItems"), key=lambda i: _order(i["FunctionArn"].rsplit(":", 1)[1])
        )
        out: dict[str, Any] = {"ProvisionedConcurrencyConfigs": page}
        if marker:
            out["NextMarker"] = marker
        return out

    # -- consistency ----------------------------------------------------------------------

    def on_change(self, record: FunctionRecord, change: Change) -> None:
        """A deleted alias or version takes its provisioned configuration with it; a deleted
        function releases all of them."""
        if change is Change.DELETED:
            for q in record.provisioned_concurrency:
                self.plane.spawn(self._release(record, q))
            return
        if change is not Change.UPDATED:
            return
        gone = [q for q in record.provisioned_concurrency if q not in record.versions and q not in record.aliases]
        if not gone:
            return
        for q in gone:
            del record.provisioned_concurrency[q]
            self.plane.spawn(self._release(record, q))
        self.plane.functions.save(record)


def _order(qualifier: str) -> str:
    """Versions in numeric order, then aliases by name."""
    return "0" + qualifier.rjust(12, "0") if _VERSION.fullmatch(qualifier) else "1" + qualifier


async def provision_and_record(
    plane: ControlPlane, record: FunctionRecord, qualifier: str, count: int, token: str
) -> None:
    """Ask the engine to pre-start ``count`` environments, then record the outcome in the
    qualifier's configuration, unless it was replaced (another ``_token``), deleted, or the
    function deleted meanwhile. Used by PutProvisionedConcurrencyConfig, a restart and a state import."""
    reason: str | None = None
    try:
        await plane.provisioner(record, qualifier, count)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the engine's failure becomes the configuration's state
        reason = str(exc) or type(exc).__name__
    config = record.provisioned_concurrency.get(qualifier)
    if config is None or config.get("_token") != token or plane.functions.get(record.region, record.name) is not record:
        return
    if reason is None:
        config["Status"] = "READY"
        config["AvailableProvisionedConcurrentExecutions"] = count
        config["AllocatedProvisionedConcurrentExecutions"] = count
        config.pop("StatusReason", None)
    else:
        config["Status"] = "FAILED"
        config["StatusReason"] = reason
    plane.functions.save(record)
