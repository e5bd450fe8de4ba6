"""Small per-function settings: recursive-loop detection and runtime management.

Recursion (``Get/PutFunctionRecursionConfig``) is one value per function,
``record.recursive_loop``: ``Terminate`` (AWS's default, the loop is stopped after about 16
invocations) or ``Allow``. The enum is checked by the service-model validator with AWS's text
(``Member must satisfy enum value set: [Terminate, Allow]``).

Runtime management (``Get/PutRuntimeManagementConfig``) is per version: ``$LATEST`` or a
published version number, kept in ``record.runtime_management[qualifier]`` as
``{"UpdateRuntimeOn": ..., "RuntimeVersionArn": ...}``. A version without a stored setting is in
AWS's default mode, ``Auto``. AWS returns ``RuntimeVersionArn`` only in ``Manual`` mode ("If the
runtime update mode is Auto or Function update, ... null is returned for the ARN",
API_GetRuntimeManagementConfig), and ``Manual`` needs one ("When using Manual mode, you must
also provide the runtime version ARN", runtime-management-configure-settings). ``FunctionArn``
is the unqualified ARN when no qualifier was named (the CLI guide's example) and the qualified
one otherwise.
"""

from __future__ import annotations

from typing import Any

from locallambda.control.plane import ControlPlane
from locallambda.errors import InvalidParameterValueError, ResourceNotFoundError
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import FunctionRecord

__all__ = ["DEFAULT_RECURSIVE_LOOP", "DEFAULT_UPDATE_RUNTIME_ON", "FunctionSettingsApi"]

DEFAULT_RECURSIVE_LOOP = "Terminate"
DEFAULT_UPDATE_RUNTIME_ON = "Auto"


class FunctionSettingsApi:
    """Handlers for the recursion and runtime-management configuration operations."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    # -- recursion ------------------------------------------------------------------------

    @operation("GetFunctionRecursionConfig")
    async def get_recursion_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` ("Function not found: <arn>") for a missing function."""
        record = self.plane.get_function(self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"]))
        return {"RecursiveLoop": record.recursive_loop or DEFAULT_RECURSIVE_LOOP}

    @operation("PutFunctionRecursionConfig")
    async def put_recursion_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` ("Function not found: <arn>") for a missing function."""
        record = self.plane.get_function(self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"]))
        record.recursive_loop = p["RecursiveLoop"]
        self.plane.functions.save(record)
        return {"RecursiveLoop": record.recursive_loop}

    # -- runtime management ---------------------------------------------------------------

    def _version(self, ctx: RequestContext, p: dict[str, Any]) -> tuple[FunctionRecord, FunctionRef, str]:
        """The function and version a request names.

        Raises ``ResourceNotFoundError`` ("Function not found: <arn>", qualified when a
        qualifier was named) when the function or the version does not exist. Aliases are not
        versions: the setting belongs to a version (AWS: "$LATEST or a published version number").
        """
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        record = self.plane.functions.get(ref.region, ref.name)
        q = ref.qualifier or LATEST
        if record is None or (q != LATEST and q not in record.versions):
            raise ResourceNotFoundError(f"Function not found: {ref.arn()}")
        return record, ref, q

    @staticmethod
    def _view(ref: FunctionRef, setting: dict[str, Any] | None) -> dict[str, Any]:
        setting = setting or {}
        out: dict[str, Any] = {
            "UpdateRuntimeOn": setting.get("UpdateRuntimeOn", DEFAULT_UPDATE_RUNTIME_ON),
            "FunctionArn": ref.arn(),
        }
        if out["UpdateRuntimeOn"] == "Manual" and setting.get("RuntimeVersionArn"):
            out["RuntimeVersionArn"] = setting["RuntimeVersionArn"]
        return out

    @operation("GetRuntimeManagementConfig")
    async def get_runtime_management_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record, ref, q = self._version(ctx, p)
        return self._view(ref, record.runtime_management.get(q))

    @operation("PutRuntimeManagementConfig")
    async def put_runtime_management_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Set the update mode of one version.

        Raises ``ResourceNotFoundError`` for a missing function or version and
        ``InvalidParameterValueError`` for ``Manual`` without a ``RuntimeVersionArn``.
        """
        record, ref, q = self._version(ctx, p)
        mode = p["UpdateRuntimeOn"]
        arn = p.get("RuntimeVersionArn")
        if mode == "Manual" and not arn:
            # The wording is ours: no recorded AWS answer for this case was available.
            raise InvalidParameterValueError("RuntimeVersionArn is required when UpdateRuntimeOn is Manual.")
        setting: dict[str, Any] = {"UpdateRuntimeOn": mode}
        if mode == "Manual":
            setting["RuntimeVersionArn"] = arn
        record.runtime_management[q] = setting
        self.plane.functions.save(record)
        return self._view(ref, setting)
