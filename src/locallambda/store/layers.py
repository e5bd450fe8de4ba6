"""Layer versions as stored, and the merged ``/opt`` trees built from them for the executors.

State: one document per layer in the ``layer`` registry, keyed ``region/account/name``::

    {"next_version": 3,
     "versions": {"1": {"config": {...wire fields...}, "sha_hex": ..., "unzipped_size": ...,
                        "deleted": false, "policy": {"revision_id": ..., "statements": [...]}}}}

A deleted version stays as a tombstone (``deleted``): AWS lets functions that reference it keep
running with its content and keep showing it in their configuration, so ``opt_tree`` must still
find its archive, while every API call treats it as gone. Once no function version references a
tombstone, ``drop_tombstones`` removes it (``store/collect.py`` then removes its archive if
nothing else shares it); the document and its ``next_version`` stay, so numbering never
restarts (Docs: API_PublishLayerVersion — each call creates the next version number).

At run time AWS extracts a function's layers in order into ``/opt``, later layers overwriting the
files of earlier ones (Docs: chapter-layers.html). ``opt_tree`` builds that merged tree once per
distinct list of layers (hard links into the extracted archives, copies where links fail) under
``<code root>/opt/<digest>`` (``opt_digest``); executors put its ``python``, ``nodejs``,
``java/lib``, ``bin``, ``lib``, ``bootstrap`` and ``extensions`` where each runtime expects them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from locallambda.errors import PlatformError
from locallambda.model.refs import LayerRef, parse_layer_version_arn
from locallambda.store.code import CodeStore
from locallambda.store.documents import DocumentStore
from locallambda.store.files import staged_dir
from locallambda.store.functions import Registry

__all__ = ["OPT_DIR", "LayerStore", "merge_trees"]

log = logging.getLogger(__name__)

KIND = "layer"
OPT_DIR = "opt"  # under the code root


class LayerStore:
    """Every layer's document, and the trees built from their archives."""

    def __init__(self, store: DocumentStore, code: CodeStore) -> None:
        self.docs = Registry(store, KIND)
        self._code = code

    def version(self, ref: LayerRef, version: str, *, deleted_too: bool = False) -> dict[str, Any] | None:
        """One version's entry; deleted versions only with ``deleted_too``."""
        doc = self.docs.get(ref.key)
        if doc is None:
            return None
        entry: dict[str, Any] | None = doc["versions"].get(version)
        if entry is None or (entry.get("deleted") and not deleted_too):
            return None
        return entry

    def version_by_arn(self, arn: str, *, deleted_too: bool = False) -> dict[str, Any] | None:
        parsed = parse_layer_version_arn(arn)
        return self.version(*parsed, deleted_too=deleted_too) if parsed is not None else None

    def live_versions(self, ref: LayerRef) -> list[dict[str, Any]]:
        """The versions not deleted, newest first."""
        doc = self.docs.get(ref.key)
        if doc is None:
            return []
        entries = [e for e in doc["versions"].values() if not e.get("deleted")]
        return sorted(entries, key=lambda e: -int(e["config"]["Version"]))

    def code_size(self, region: str) -> int:
        """Bytes stored by the live layer versions of a region."""
        total = 0
        for key, doc in self.docs.items():
            if key.startswith(f"{region}/"):
                total += sum(
                    int(v["config"]["Content"]["CodeSize"]) for v in doc["versions"].values() if not v.get("deleted")
                )
        return total

    def drop_tombstones(self, used_arns: set[str]) -> list[str]:
        """Remove the deleted versions no function references (``used_arns``: the LayerVersionArns
        in every function version's Layers). Keeps each layer's document and ``next_version``.
        Returns the ARNs dropped."""
        dropped: list[str] = []
        for key, doc in list(self.docs.items()):
            gone = [
                number
                for number, entry in doc["versions"].items()
                if entry.get("deleted") and entry["config"]["LayerVersionArn"] not in used_arns
            ]
            if gone:
                for number in gone:
                    dropped.append(doc["versions"].pop(number)["config"]["LayerVersionArn"])
                self.docs.put(key, doc)
        return dropped

    def archives(self) -> set[str]:
        """The digests of every stored version's archive, tombstones included."""
        return {entry["sha_hex"] for _key, doc in self.docs.items() for entry in doc["versions"].values()}

    def _parts(self, layer_arns: list[str]) -> list[tuple[str, str]]:
        parts: list[tuple[str, str]] = []
        for arn in layer_arns:
            entry = self.version_by_arn(arn, deleted_too=True)
            if entry is not None:
                parts.append((arn, entry["sha_hex"]))
        return parts

    @staticmethod
    def _digest(parts: list[tuple[str, str]]) -> str:
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]

    def opt_digest(self, layer_arns: list[str]) -> str | None:
        """The name under ``<code root>/opt`` of the merged tree of these layers (``None``: no
        stored layer among them). The same list always names the same tree."""
        parts = self._parts(layer_arns)
        return self._digest(parts) if parts else None

    def opt_tree(self, layer_arns: list[str]) -> Path | None:
        """The function's /opt: one directory merging its layers in order (later layers win).

        Deleted layer versions still count (AWS keeps serving functions that use them). Built
        once per distinct list, staged and renamed into place, so a reader never sees half a
        tree. Blocking (it copies files): call it off the event loop unless the tree exists.
        Raises ``PlatformError`` when the tree cannot be written.
        """
        parts = self._parts(layer_arns)
        stored = {arn for arn, _ in parts}
        for arn in layer_arns:
            if arn not in stored:
                log.warning("layer %s is not stored here; it is left out of /opt", arn)
        if not parts:
            return None
        target = self.opt_path(self._digest(parts))
        # Guarded: a tree found or built for a record the collector has not seen yet stays.
        with self._code.guard(target):
            if target.is_dir():
                return target
            try:
                with staged_dir(target) as staging:
                    merge_trees([self._code.tree_path(sha) for _, sha in parts], staging)
            except OSError as exc:
                raise PlatformError(f"The layers of the function could not be prepared: {exc}") from exc
            return target

    def opt_path(self, digest: str) -> Path:
        """Where the merged tree named ``digest`` (``opt_digest``) lives."""
        return self._code.root / OPT_DIR / digest


def _clear(dest: str) -> None:
    """Make room for a new entry at ``dest``: a later layer replaces what an earlier one put there."""
    if os.path.islink(dest) or os.path.isfile(dest):
        os.unlink(dest)
    elif os.path.isdir(dest):
        shutil.rmtree(dest)


def merge_trees(sources: list[Path], target: Path) -> None:
    """Overlay ``sources`` in order into ``target`` (created): later sources win, file by file.

    Files are hard-linked (copied where the file system refuses), symbolic links are recreated
    as they are (the archive extractor only lets through links that stay inside their tree).
    Raises ``OSError``.
    """
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        src_root = str(source)
        for dirpath, dirnames, filenames in os.walk(src_root):
            rel = os.path.relpath(dirpath, src_root)
            dest_dir = str(target) if rel == "." else os.path.join(str(target), rel)
            if not os.path.isdir(dest_dir) or os.path.islink(dest_dir):
                _clear(dest_dir)
                os.makedirs(dest_dir, exist_ok=True)
            linked_dirs = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for name in linked_dirs + filenames:
                src = os.path.join(dirpath, name)
                dest = os.path.join(dest_dir, name)
                _clear(dest)
                if os.path.islink(src):
                    os.symlink(os.readlink(src), dest)
                    continue
                try:
                    os.link(src, dest)
                except OSError:
                    shutil.copy2(src, dest)
            dirnames[:] = [d for d in dirnames if d not in linked_dirs]
