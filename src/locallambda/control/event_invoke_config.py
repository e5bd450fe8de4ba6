"""Event-invoke configurations: retries, maximum event age and destinations of async invokes.

One configuration per qualifier (``$LATEST``, a version or an alias), kept in
``record.event_invoke_configs[qualifier]`` as the FunctionEventInvokeConfig AWS returns:
``FunctionArn`` always qualified (``...:function:f:$LATEST`` when no qualifier was named),
``LastModified`` as epoch seconds (the model's ``Date`` is a timestamp, which boto3 turns into a
datetime), ``DestinationConfig`` always with both ``OnSuccess`` and ``OnFailure`` (empty when
unset), and the two numeric members only when they were given.

Put replaces the whole configuration, Update merges the members it is given into an existing one.
AWS's errors differ per operation and are recorded in LocalStack's parity snapshots
(``TestLambdaEventInvokeConfig``): writes on a missing function or qualifier say "The function
doesn't exist.", reads and deletes say "The function <qualified arn> doesn't have an
EventInvokeConfig" whether the function exists or not.

The async invocation engine reads the configuration through ``event_invoke_config_for``.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.errors import InvalidParameterValueError, ResourceNotFoundError
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef, function_arn
from locallambda.store.functions import FunctionRecord

__all__ = ["EventInvokeConfigApi", "event_invoke_config_for"]

_NO_FUNCTION = "The function doesn't exist."
_NOTHING_GIVEN = "You must specify at least one of error handling or destination setting."
_SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")

# Services a destination may name. AWS documents SQS, SNS, Lambda and EventBridge for both
# outcomes and S3 buckets for on-failure only (async invocation destinations, 2024-11).
_SUCCESS_SERVICES = frozenset({"sqs", "sns", "lambda", "events"})
_FAILURE_SERVICES = _SUCCESS_SERVICES | {"s3"}

_LAMBDA_ARN = re.compile(
    r"arn:[^:]*:lambda:(?P<region>[^:]*):(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9-_\.]+)(?::[^:]+)?"
)


def event_invoke_config_for(record: FunctionRecord, qualifier: str | None) -> dict[str, Any] | None:
    """The configuration that governs async invokes of ``qualifier`` (``None`` means $LATEST).

    AWS keys configurations by the qualifier the caller invoked: an invoke through an alias uses
    the alias's configuration, not the one of the version it points to.
    """
    return record.event_invoke_configs.get(qualifier or LATEST)


def _missing_config(ref: FunctionRef, qualifier: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"The function {ref.arn(qualifier)} doesn't have an EventInvokeConfig")


def _destination(part: dict[str, Any] | None) -> dict[str, Any]:
    dest = (part or {}).get("Destination")
    return {"Destination": dest} if dest else {}


def _normalized(config: dict[str, Any] | None) -> dict[str, Any]:
    """A DestinationConfig as AWS echoes it: both outcomes present, empty when unset."""
    config = config or {}
    return {"OnSuccess": _destination(config.get("OnSuccess")), "OnFailure": _destination(config.get("OnFailure"))}


class EventInvokeConfigApi:
    """Handlers for the five FunctionEventInvokeConfig operations."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    # -- lookups --------------------------------------------------------------------------

    def _ref(self, ctx: RequestContext, p: dict[str, Any]) -> FunctionRef:
        return self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))

    def _writable(self, ref: FunctionRef) -> tuple[FunctionRecord, str]:
        """The function and qualifier a write names. Raises ``ResourceNotFoundError`` when either is missing."""
        record = self.plane.functions.get(ref.region, ref.name)
        q = ref.qualifier or LATEST
        if record is None or (q != LATEST and q not in record.versions and q not in record.aliases):
            raise ResourceNotFoundError(_NO_FUNCTION)
        return record, q

    def _existing(self, ref: FunctionRef) -> tuple[FunctionRecord, str, dict[str, Any]]:
        """The stored configuration a read or delete names; ``ResourceNotFoundError`` with AWS's text if none."""
        q = ref.qualifier or LATEST
        record = self.plane.functions.get(ref.region, ref.name)
        config = record.event_invoke_configs.get(q) if record is not None else None
        if record is None or config is None:
            raise _missing_config(ref, q)
        return record, q, config

    def _check_destinations(self, record: FunctionRecord, ctx: RequestContext, config: dict[str, Any]) -> None:
        """Apply AWS's destination checks.

        Raises ``InvalidParameterValueError``: a Lambda destination that does not exist, the
        function itself as destination, or a service that cannot be a destination (AWS then
        prints the whole configuration in its Java ``toString`` form).
        """
        on_success = (config.get("OnSuccess") or {}).get("Destination") or None
        on_failure = (config.get("OnFailure") or {}).get("Destination") or None
        bad = False
        for arn, allowed in ((on_failure, _FAILURE_SERVICES), (on_success, _SUCCESS_SERVICES)):
            if arn is None:
                continue
            parts = arn.split(":")
            service = parts[2] if len(parts) > 2 and arn.startswith("arn:") else ""
            if service not in allowed:
                bad = True
            elif service == "lambda":
                self._check_lambda_destination(record, ctx, arn)
        if bad:
            success_text = f"OnSuccess(destination={on_success})" if on_success else "null"
            failure_text = f"OnFailure(destination={on_failure})" if on_failure else "null"
            raise InvalidParameterValueError(
                f"The provided destination config DestinationConfig(onSuccess={success_text}, "
                f"onFailure={failure_text}) is invalid."
            )

    def _check_lambda_destination(self, record: FunctionRecord, ctx: RequestContext, arn: str) -> None:
        m = _LAMBDA_ARN.fullmatch(arn)
        if m is None:
            raise InvalidParameterValueError(f"The destination ARN {arn} is invalid.")
        if m.group("account") != record.account_id:
            return  # another account's function: nothing here to check it against
        region = m.group("region") or ctx.region
        if self.plane.functions.get(region, m.group("name")) is None:
            raise InvalidParameterValueError(f"The destination ARN {arn} is invalid.")
        if region == record.region and m.group("name") == record.name:
            raise InvalidParameterValueError("You can't specify the function as a destination for itself.")

    # -- operations -----------------------------------------------------------------------

    @operation("PutFunctionEventInvokeConfig")
    async def put_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Create or replace the configuration of a qualifier (members not given are dropped)."""
        if all(p.get(k) is None for k in _SETTINGS):  # checked before the function is looked up
            raise InvalidParameterValueError(_NOTHING_GIVEN)
        ref = self._ref(ctx, p)
        record, q = self._writable(ref)
        if p.get("DestinationConfig") is not None:
            self._check_destinations(record, ctx, p["DestinationConfig"])
        config: dict[str, Any] = {
            "LastModified": round(time.time(), 3),
            "FunctionArn": function_arn(record.region, record.account_id, record.name, q),
            "DestinationConfig": _normalized(p.get("DestinationConfig")),
        }
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if p.get(key) is not None:
                config[key] = p[key]
        record.event_invoke_configs[q] = config
        self.plane.functions.save(record)
        return copy.deepcopy(config)

    @operation("UpdateFunctionEventInvokeConfig")
    async def update_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Merge the given members into an existing configuration.

        Raises ``InvalidParameterValueError`` when nothing is given, ``ResourceNotFoundError``
        when the function, the qualifier or the configuration is missing.
        """
        ref = self._ref(ctx, p)
        if all(p.get(k) is None for k in _SETTINGS):
            raise InvalidParameterValueError(_NOTHING_GIVEN)
        record, q = self._writable(ref)
        current = record.event_invoke_configs.get(q)
        if current is None:
            raise _missing_config(ref, q)
        if p.get("DestinationConfig") is not None:
            self._check_destinations(record, ctx, p["DestinationConfig"])
        config = copy.deepcopy(current)
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if p.get(key) is not None:
                config[key] = p[key]
        if p.get("DestinationConfig") is not None:
            config["DestinationConfig"] = _normalized(p["DestinationConfig"])
        config["LastModified"] = round(time.time(), 3)
        record.event_invoke_configs[q] = config
        self.plane.functions.save(record)
        return copy.deepcopy(config)

    @operation("GetFunctionEventInvokeConfig")
    async def get_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        _, _, config = self._existing(self._ref(ctx, p))
        return copy.deepcopy(config)

    @operation("DeleteFunctionEventInvokeConfig")
    async def delete_config(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        record, q, _ = self._existing(self._ref(ctx, p))
        del record.event_invoke_configs[q]
        self.plane.functions.save(record)

    @operation("ListFunctionEventInvokeConfigs")
    async def list_configs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(_NO_FUNCTION)
        configs = sorted(record.event_invoke_configs.values(), key=lambda c: str(c["FunctionArn"]))
        page, marker = paginate(
            configs, p.get("Marker"), p.get("MaxItems"), key=lambda c: str(c["FunctionArn"]), default=50
        )
        out: dict[str, Any] = {"FunctionEventInvokeConfigs": copy.deepcopy(page)}
        if marker:
            out["NextMarker"] = marker
        return out
