"""Aliases: named pointers to a function version, optionally splitting traffic with a second one.

An alias is kept in ``record.aliases[name]`` as the AliasConfiguration AWS returns (AliasArn,
Name, FunctionVersion, Description, RoutingConfig when it has weights, RevisionId). Every change,
even an UpdateAlias that changes nothing, gets a new RevisionId, as AWS does; alias changes do not
touch the RevisionId of the function or its versions.

Weighted routing follows AWS's rules, checked in AWS's order (LocalStack's parity snapshots
``test_notfound_and_invalid_routingconfigs`` record the texts): at most one additional version;
it must differ from the primary; the primary cannot be ``$LATEST`` then; the additional version
must exist. Weight range (0.0–1.0) and key pattern (``[0-9]+``, so no ``$LATEST``) are checked
generically from the service model before a handler runs.
"""

from __future__ import annotations

from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.permissions import drop_policy
from locallambda.control.plane import ControlPlane
from locallambda.control.versions import check_revision
from locallambda.errors import InvalidParameterValueError, ResourceConflictError, ResourceNotFoundError
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import Change, FunctionRecord, new_revision_id

__all__ = ["AliasesApi", "alias_weights"]


def alias_weights(alias: dict[str, Any]) -> dict[str, float]:
    """The additional version weights of a stored alias (empty when it routes to one version)."""
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def _check_version_exists(record: FunctionRecord, ref: FunctionRef, version: str) -> None:
    """Raises ``ResourceNotFoundError`` naming the qualified ARN, as AWS does for a missing version."""
    if record.version(version) is None:
        raise ResourceNotFoundError(f"Function not found: {ref.arn(version)}")


def _check_routing(record: FunctionRecord, ref: FunctionRef, version: str, weights: dict[str, float]) -> None:
    """Apply AWS's routing-configuration rules for an alias pointing at ``version``.

    Raises ``InvalidParameterValueError`` (too many entries, the primary version repeated, a
    ``$LATEST`` primary with routing) or ``ResourceNotFoundError`` (additional version missing).
    """
    if len(weights) > 1:
        # AWS's model allows a map, but the service accepts a single additional version only.
        raise InvalidParameterValueError("Number of items in AdditionalVersionWeights cannot be greater than 1")
    for extra in weights:
        if extra == version:
            raise InvalidParameterValueError(
                f"Invalid function version {version}. Function version {version} is already included "
                "in routing configuration."
            )
        if version == LATEST:
            raise InvalidParameterValueError("$LATEST is not supported for an alias pointing to more than 1 version")
        _check_version_exists(record, ref, extra)


def _routing_weights(routing_config: dict[str, Any] | None) -> dict[str, float]:
    weights = (routing_config or {}).get("AdditionalVersionWeights") or {}
    return {str(k): float(v) for k, v in weights.items()}


def _set_routing(alias: dict[str, Any], weights: dict[str, float]) -> None:
    # AWS omits RoutingConfig altogether when no additional version is set (also after an
    # UpdateAlias with empty AdditionalVersionWeights).
    if weights:
        alias["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    else:
        alias.pop("RoutingConfig", None)


class AliasesApi:
    """Handlers for CreateAlias, GetAlias, UpdateAlias, DeleteAlias and ListAliases."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def _function(self, ctx: RequestContext, p: dict[str, Any]) -> tuple[FunctionRecord, FunctionRef]:
        """The function named by ``FunctionName`` (a qualifier in the name is ignored).

        Raises ``ResourceNotFoundError`` with the unqualified ARN.
        """
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        ref = FunctionRef(name=ref.name, qualifier=None, region=ref.region, account_id=ref.account_id)
        return self.plane.get_function(ref), ref

    @staticmethod
    def _view(alias: dict[str, Any]) -> dict[str, Any]:
        out = dict(alias)
        if "RoutingConfig" in out:
            out["RoutingConfig"] = {"AdditionalVersionWeights": alias_weights(alias)}
        return out

    @operation("CreateAlias")
    async def create_alias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` (function or version missing, ARN qualified with the
        requested version), ``ResourceConflictError`` (name taken) and the routing errors."""
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        ref = FunctionRef(name=ref.name, qualifier=None, region=ref.region, account_id=ref.account_id)
        version = p["FunctionVersion"]
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            # AWS looks the target version up first, so a missing function is reported with the
            # version-qualified ARN.
            raise ResourceNotFoundError(f"Function not found: {ref.arn(version)}")
        _check_version_exists(record, ref, version)
        name = p["Name"]
        if name in record.aliases:
            raise ResourceConflictError(f"Alias already exists: {ref.arn(name)}")
        weights = _routing_weights(p.get("RoutingConfig"))
        _check_routing(record, ref, version, weights)
        alias: dict[str, Any] = {
            "AliasArn": ref.arn(name),
            "Name": name,
            "FunctionVersion": version,
            "Description": p.get("Description") or "",
            "RevisionId": new_revision_id(),
        }
        _set_routing(alias, weights)
        record.aliases[name] = alias
        self.plane.functions.save(record)
        return self._view(alias)

    @operation("GetAlias")
    async def get_alias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` ("Cannot find alias arn: ...") for an unknown alias."""
        record, ref = self._function(ctx, p)
        alias = record.aliases.get(p["Name"])
        if alias is None:
            raise ResourceNotFoundError(f"Cannot find alias arn: {ref.arn(p['Name'])}")
        return self._view(alias)

    @operation("UpdateAlias")
    async def update_alias(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` ("Alias not found: ..." — AWS words it differently
        from GetAlias), ``PreconditionFailedError`` for a stale RevisionId, and the version and
        routing errors of CreateAlias."""
        record, ref = self._function(ctx, p)
        name = p["Name"]
        current = record.aliases.get(name)
        if current is None:
            raise ResourceNotFoundError(f"Alias not found: {ref.arn(name)}")
        check_revision(p.get("RevisionId"), current["RevisionId"])
        version = p.get("FunctionVersion") or current["FunctionVersion"]
        if "FunctionVersion" in p:
            _check_version_exists(record, ref, version)
        weights = _routing_weights(p["RoutingConfig"]) if p.get("RoutingConfig") is not None else alias_weights(current)
        # The kept weights are checked again too: moving the primary onto the additional
        # version would otherwise leave an alias AWS would never have accepted.
        _check_routing(record, ref, version, weights)
        alias = dict(current)
        alias["FunctionVersion"] = version
        if p.get("Description") is not None:
            alias["Description"] = p["Description"]
        _set_routing(alias, weights)
        # AWS issues a new RevisionId on every UpdateAlias, even one that changes nothing.
        alias["RevisionId"] = new_revision_id()
        record.aliases[name] = alias
        self.plane.functions.save(record)
        return self._view(alias)

    @operation("DeleteAlias")
    async def delete_alias(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        """Deleting an alias that does not exist succeeds (AWS answers 204 as well).

        Raises ``ResourceNotFoundError`` when the function does not exist.
        """
        record, _ = self._function(ctx, p)
        name = p["Name"]
        if record.aliases.pop(name, None) is None:
            return None
        # What hangs off the alias goes with it: its provisioned concurrency and function URL.
        record.provisioned_concurrency.pop(name, None)
        record.url_configs.pop(name, None)
        record.event_invoke_configs.pop(name, None)
        drop_policy(record, name)
        self.plane.functions.save(record)
        self.plane.notify(record, Change.UPDATED)
        return None

    @operation("ListAliases")
    async def list_aliases(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Aliases by name, optionally only those whose primary version is ``FunctionVersion``."""
        record, _ = self._function(ctx, p)
        wanted = p.get("FunctionVersion")
        items = [
            self._view(record.aliases[n])
            for n in sorted(record.aliases)
            if wanted is None or record.aliases[n]["FunctionVersion"] == wanted
        ]
        page, marker = paginate(items, p.get("Marker"), p.get("MaxItems"), key=lambda a: a["Name"])
        out: dict[str, Any] = {"Aliases": page}
        if marker:
            out["NextMarker"] = marker
        return out
