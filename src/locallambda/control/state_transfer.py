"""State export and import (issue 12): the whole Lambda state out as one file, and back in.

``export`` takes a consistent picture on the event loop (every record copied at one moment),
then reads the code archives those records reference and writes the file
(``control/state_archive.py``) in a worker thread.

``import_state`` applies a file in three steps, so that a refused file changes nothing and an
accepted one never leaves the store half-imported:

1. check: the whole file is read and checked in a worker thread (``read_state``), hot-reloaded
   directories are judged (only a caller on this host may name host directories, as for
   CreateFunction, and only below ``LOCALLAMBDA_HOT_RELOAD_ROOTS`` when that is set), and every
   code archive is stored and extracted with the code store's own checks (``put_zip``: a
   refused archive leaves nothing behind; archives stored but never referenced are the
   collector's). Any failure raises ``StateFileError`` (or ``AccessDeniedError``) here.
2. apply: one synchronous step on the event loop, no await inside, so no request sees half of
   it: ``replace`` (the default) removes every function, layer, mapping and code signing
   configuration first; ``merge`` keeps them, the file's records winning on the same key (a
   layer's versions are merged number by number). Each function removed or added is told to the
   plane's listeners as a delete or an update does (the invoke engine drops its environments,
   the URL index and the collector follow); each mapping is handed to the pollers as ``resume``
   does after a restart (transitional states settled, ``Deleting`` ones dropped).
3. settle: what a restart would do for the new records: versions left ``Pending`` or
   ``InProgress`` are settled by the lifecycle, every function is prepared in the background
   (its layers' ``/opt`` built), provisioned concurrency is provisioned again; the store is
   flushed before the answer.

Imported functions keep their configurations (RevisionId, LastModified, State) as exported;
only the incarnation is new, so that no environment of a function of the same name serves them.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
import os
import uuid

from locallambda import __version__
from locallambda.control.code import within_roots
from locallambda.control.code_signing import REGISTRY_KIND as CODE_SIGNING_KIND
from locallambda.control.concurrency import provision_and_record
from locallambda.control.event_source_mappings import EventSourceMappingsApi
from locallambda.control.lifecycle import Lifecycle
from locallambda.control.plane import ControlPlane
from locallambda.control.state_archive import (
    FORMAT,
    FORMAT_VERSION,
    StateContent,
    StateFileError,
    read_state,
    write_state,
)
from locallambda.errors import AccessDeniedError, InvalidParameterValueError, PlatformError
from locallambda.model.lifecycle import VersionStatus
from locallambda.store.functions import Change, FunctionRecord, new_revision_id
from locallambda.store.layers import LayerStore

__all__ = ["StateTransfer"]

log = logging.getLogger(__name__)

_REQUESTED = "RequestedProvisionedConcurrentExecutions"


class StateTransfer:
    """Export and import of the Lambda state of one server."""

    def __init__(
        self, plane: ControlPlane, layers: LayerStore, lifecycle: Lifecycle, mappings: EventSourceMappingsApi
    ) -> None:
        self._plane = plane
        self._layers = layers
        self._lifecycle = lifecycle
        self._mappings = mappings

    # -- export -----------------------------------------------------------------------------

    def snapshot(self) -> StateContent:
        """Every record as it is now (deep copies), without code. On the event loop."""
        functions = [FunctionRecord.from_doc(copy.deepcopy(r.to_doc())) for r in self._plane.functions.all()]
        functions.sort(key=lambda r: r.key)
        content = StateContent(
            functions=functions,
            layers={key: copy.deepcopy(doc) for key, doc in self._layers.docs.items()},
            mappings={key: copy.deepcopy(doc) for key, doc in self._mappings.mappings.items()},
            code_signing={key: copy.deepcopy(doc) for key, doc in self._plane.registry(CODE_SIGNING_KIND).items()},
            blobs={},
        )
        accounts = {r.account_id for r in functions} | {d["_Account"] for d in content.mappings.values()}
        accounts |= {key.split("/")[1] for key in content.layers}
        regions = {r.region for r in functions} | {d["_Region"] for d in content.mappings.values()}
        regions |= {key.split("/")[0] for key in content.layers}
        content.manifest = {
            "Format": FORMAT,
            "FormatVersion": FORMAT_VERSION,
            "ServerVersion": __version__,
            "Created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "Accounts": sorted(accounts),
            "Regions": sorted(regions),
            "Counts": content.counts(),
        }
        return content

    async def export(self) -> bytes:
        """The state file of everything this server holds. Raises ``PlatformError`` when a code
        archive a record references is missing from the code store."""
        content = self.snapshot()
        shas = sorted(content.referenced())
        code = self._plane.code
        # Guarded while read: the collector must not take an archive away meanwhile.
        with code.guard(*(code.zip_path(sha) for sha in shas)):
            return await asyncio.to_thread(self._write, content, shas)

    def _write(self, content: StateContent, shas: list[str]) -> bytes:
        for sha in shas:
            data = self._plane.code.read_zip(sha)
            if data is None:
                raise PlatformError(f"The code archive {sha} is referenced but missing from the code store.")
            content.blobs[sha] = data
        return write_state(content)

    # -- import -----------------------------------------------------------------------------

    async def import_state(self, data: bytes, *, merge: bool, host_caller: bool) -> dict[str, int]:
        """Apply a state file (module docstring). ``host_caller``: whether the caller may name
        host directories (hot reloading). Returns the counts imported.

        Raises ``StateFileError`` for a file refused (nothing changed), ``AccessDeniedError``
        for hot-reloaded code from a caller that may not name host directories.
        """
        content = await asyncio.to_thread(read_state, data)
        await self._check_hot_reload(content, host_caller)
        code = self._plane.code
        limit = self._plane.settings.limits_code_size_unzipped
        paths = [p for sha in content.blobs for p in (code.zip_path(sha), code.tree_path(sha))]
        with code.guard(*paths):  # stored, not referenced yet: kept from the collector
            for sha, blob in content.blobs.items():
                try:
                    await asyncio.to_thread(code.put_zip, blob, limit)
                except InvalidParameterValueError as exc:
                    raise StateFileError(
                        f"The state file's code archive code/{sha}.zip is refused: {exc.message}"
                    ) from None
            self._apply(content, merge)
        self._settle(content)
        await self._plane.store.flush()
        counts = content.counts()
        log.info("imported the state (%s): %s", "merge" if merge else "replace", counts)
        return {k: counts[k] for k in ("Functions", "Layers", "EventSourceMappings")}

    async def _check_hot_reload(self, content: StateContent, host_caller: bool) -> None:
        paths = content.hot_reload_paths()
        if not paths:
            return
        if not host_caller:
            raise AccessDeniedError(
                "The state file has hot-reloaded functions (host directories as code): only clients on this "
                "machine, outside any function's sandbox or container, may import them."
            )
        roots = self._plane.settings.hot_reload_roots
        if roots:
            outside = [p for p in paths if not await asyncio.to_thread(within_roots, p, roots)]
            if outside:
                raise StateFileError(
                    f"The hot-reload directory {outside[0]} is not below any of LOCALLAMBDA_HOT_RELOAD_ROOTS "
                    f"({os.pathsep.join(str(r) for r in roots)})."
                )

    def _apply(self, content: StateContent, merge: bool) -> None:
        """Step 2: synchronous, so that no request sees a half-applied state."""
        plane = self._plane
        incoming = {r.key for r in content.functions}
        for record in plane.functions.all():
            if not merge or record.key in incoming:
                plane.functions.remove(record)
                plane.notify(record, Change.DELETED)
        for record in content.functions:
            record.incarnation = uuid.uuid4().hex
            plane.functions.add(record)
            plane.notify(record, Change.UPDATED)

        layer_docs = self._layers.docs
        if not merge:
            for key, _ in list(layer_docs.items()):
                layer_docs.delete(key)
        for key, doc in content.layers.items():
            current = layer_docs.get(key) if merge else None
            if current is not None:
                versions = {**current["versions"], **doc["versions"]}
                numbers = max(int(current["next_version"]), int(doc["next_version"]))
                doc = {**current, **doc, "versions": versions, "next_version": numbers}  # noqa: PLW2901
            layer_docs.put(key, doc)

        signing = plane.registry(CODE_SIGNING_KIND)
        if not merge:
            for key, _ in list(signing.items()):
                signing.delete(key)
        for key, doc in content.code_signing.items():
            signing.put(key, doc)

        registry, changed = self._mappings.mappings, self._mappings.seams.changed
        for key, _ in list(registry.items()):
            if not merge or key in content.mappings:
                registry.delete(key)
                changed(key, None)
        for key, doc in content.mappings.items():
            # As ``EventSourceMappingsApi.resume`` after a restart.
            if doc["State"] == "Deleting":
                continue
            if doc["State"] in ("Creating", "Updating", "Enabling"):
                doc["State"] = "Enabled"
            elif doc["State"] == "Disabling":
                doc["State"] = "Disabled"
            registry.put(key, doc)
            changed(key, copy.deepcopy(doc))

    def _settle(self, content: StateContent) -> None:
        """Step 3: what a restart does for stored records."""
        for record in content.functions:
            if self._plane.functions.get(record.region, record.name) is not record:
                continue
            if any(VersionStatus(v.config).settling for v in (record.latest, *record.versions.values())):
                self._plane.spawn(self._lifecycle.settle(record))
            else:
                self._plane.spawn(self._prepare(record))
            for qualifier, config in record.provisioned_concurrency.items():
                token = new_revision_id()
                config.update(
                    Status="IN_PROGRESS",
                    AvailableProvisionedConcurrentExecutions=0,
                    AllocatedProvisionedConcurrentExecutions=0,
                    _token=token,
                )
                config.pop("StatusReason", None)
                self._plane.spawn(provision_and_record(self._plane, record, qualifier, int(config[_REQUESTED]), token))
            if record.provisioned_concurrency:
                self._plane.functions.save(record)

    async def _prepare(self, record: FunctionRecord) -> None:
        """Build what the function needs ahead of its first invocation (its layers' /opt); a
        failure shows at that invocation, as after a restart."""
        reason = await self._plane.preparer(record)
        if reason is not None:
            log.warning("imported function %s cannot run here: %s", record.key, reason)
