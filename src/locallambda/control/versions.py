"""Versions: publishing $LATEST as an immutable numbered version, and listing them.

Docs: configuration-versions.html. AWS publishes nothing new when $LATEST has not changed since
the last version (the existing version is returned), even if a new Description is given. A
version published while $LATEST's code is still being prepared is itself Pending, without an
update status, until the preparation ends.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from locallambda.control.lifecycle import Lifecycle
from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.control.views import public_config, version_sort_key
from locallambda.errors import InvalidParameterValueError, PreconditionFailedError
from locallambda.model.lifecycle import VersionStatus
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, function_arn
from locallambda.store.functions import Change, FunctionRecord, VersionRecord, new_revision_id

__all__ = ["VersionsApi", "check_revision", "publish"]

_VOLATILE = {
    "RevisionId",
    "Version",
    "FunctionArn",
    "LastModified",
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
    "_PublishedFrom",
}


def check_revision(given: str | None, current: str, api: str = "GetFunction/GetAlias") -> None:
    """Raises ``PreconditionFailedError`` (AWS's text) when a RevisionId does not match."""
    if given is not None and given != current:
        raise PreconditionFailedError(
            "The Revision Id provided does not match the latest Revision Id. "
            f"Call the {api} API to retrieve the latest Revision Id"
        )


def _same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in _VOLATILE}

    return strip(a) == strip(b)


def _fingerprint(cfg: dict[str, Any]) -> str:
    """What identifies the state of $LATEST for publishing: code and configuration, not status."""
    stable = {k: v for k, v in cfg.items() if k not in _VOLATILE}  # _HotReloadPath counts
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def publish(record: FunctionRecord, description: str | None) -> VersionRecord:
    """Snapshot $LATEST as the next version (or return the last one if nothing changed)."""
    latest = record.latest.config
    if record.versions:
        last = record.versions[str(max(int(v) for v in record.versions))]
        # The version's own description is not compared, the state of $LATEST it was published from is.
        source = last.config.get("_PublishedFrom")
        unchanged = source == _fingerprint(latest) if source else _same_config(last.config, latest)
        if unchanged:
            return last
    number = str(record.next_version)
    record.next_version += 1
    version = record.latest.snapshot()
    cfg = version.config
    cfg["Version"] = number
    cfg["FunctionArn"] = function_arn(record.region, record.account_id, record.name, number)
    cfg["RevisionId"] = new_revision_id()
    cfg["_PublishedFrom"] = _fingerprint(latest)
    if VersionStatus(latest).settling:
        VersionStatus(cfg).begin_create()
    if description is not None:
        cfg["Description"] = description
    record.versions[number] = version
    return version


class VersionsApi:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    @operation("PublishVersion")
    async def publish_version(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        latest = record.latest.config
        check_revision(p.get("RevisionId"), latest["RevisionId"])
        sha = p.get("CodeSha256")
        if sha is not None and sha != latest.get("CodeSha256"):
            raise InvalidParameterValueError(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.get('CodeSha256')}). Please try again with the CodeSHA256 in $LATEST."
            )
        Lifecycle.ensure_updatable(record)
        version = publish(record, p.get("Description"))
        self.plane.functions.save(record)
        self.plane.notify(record, Change.UPDATED)
        return public_config(version.config)

    @operation("ListVersionsByFunction")
    async def list_versions_by_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        latest = public_config(record.latest.config, listing=True)
        latest["FunctionArn"] = record.latest.config["FunctionArn"] + ":" + LATEST
        items = [latest] + [
            public_config(record.versions[n].config, listing=True) for n in sorted(record.versions, key=int)
        ]
        page, marker = paginate(items, p.get("Marker"), p.get("MaxItems"), key=version_sort_key)
        out: dict[str, Any] = {"Versions": page}
        if marker:
            out["NextMarker"] = marker
        return out
