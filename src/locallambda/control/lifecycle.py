"""The function lifecycle as AWS runs it: Pending → Active (or Failed), InProgress → Successful.

Docs: functions-states.html. After a create or an update the version waits while the invoke
engine's preparer checks that it can run (an executor is there, the layers' /opt is built); the
preparer's answer settles every version that waits. ``LAMBDA_SYNCHRONOUS_CREATE`` makes the
request itself wait. The transitions are those of ``model.lifecycle.VersionStatus``.
"""

from __future__ import annotations

from locallambda.control.plane import ControlPlane
from locallambda.errors import ResourceConflictError
from locallambda.model.clock import aws_timestamp
from locallambda.model.lifecycle import FunctionState, UpdateStatus, VersionStatus
from locallambda.store.functions import Change, FunctionRecord, VersionRecord, new_revision_id

__all__ = ["Lifecycle"]


class Lifecycle:
    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane

    async def settle(self, record: FunctionRecord) -> None:
        """A change was stored: prepare the function now (synchronous create) or in the background."""
        record.generation += 1
        if self._plane.settings.synchronous_create:
            await self._become_active(record, record.generation)
        else:
            self._plane.spawn(self._become_active(record, record.generation))

    async def _become_active(self, record: FunctionRecord, generation: int) -> None:
        reason = await self._plane.preparer(record)
        if record.generation != generation or self._plane.functions.get(record.region, record.name) is not record:
            return  # superseded by a later update, or deleted meanwhile
        for version in [record.latest, *record.versions.values()]:
            status = VersionStatus(version.config)
            if status.settling:
                status.settle(reason)
                version.config["RevisionId"] = new_revision_id()
        self._plane.functions.save(record)
        self._plane.notify(record, Change.UPDATED)

    async def resume(self) -> None:
        """Finish the transitions a previous run left open (call once at startup, on the loop).

        A function saved while ``Pending`` or ``InProgress`` (the server stopped before its
        preparation ended) would otherwise stay so forever with persistence on.
        """
        for record in self._plane.functions.all():
            versions = [record.latest, *record.versions.values()]
            if any(VersionStatus(v.config).settling for v in versions):
                await self.settle(record)

    @staticmethod
    def ensure_updatable(record: FunctionRecord) -> None:
        """Raises ``ResourceConflictError`` (AWS's texts) while $LATEST is Pending or updating."""
        cfg = record.latest.config
        status = VersionStatus(cfg)
        if status.state is FunctionState.PENDING:
            raise ResourceConflictError(
                "The operation cannot be performed at this time. The function is currently in the "
                "following state: Pending"
            )
        if status.update is UpdateStatus.IN_PROGRESS:
            raise ResourceConflictError(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {cfg['FunctionArn']}"
            )

    @staticmethod
    def begin_update(version: VersionRecord) -> None:
        """$LATEST changed: a new RevisionId and LastModified, LastUpdateStatus InProgress."""
        cfg = version.config
        cfg["LastModified"] = aws_timestamp()
        cfg["RevisionId"] = new_revision_id()
        VersionStatus(cfg).begin_update()
