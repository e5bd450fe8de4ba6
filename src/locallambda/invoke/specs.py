"""``FunctionSpec``s: what an executor needs to run one version, built from its stored record.

Specs are cached per (function, version, generation). $LATEST's generation grows with every
update and every change of hot-reloaded code, so a changed function never gets a stale spec;
published versions never change.
"""

from __future__ import annotations

from pathlib import Path

from locallambda.invoke.hot_reload import HotReloadWatcher
from locallambda.model.refs import LATEST
from locallambda.model.spec import FunctionSpec
from locallambda.store.code import CodeStore
from locallambda.store.functions import FunctionRecord, VersionRecord
from locallambda.store.layers import LayerStore

__all__ = ["SpecCache"]


class SpecCache:
    def __init__(self, code: CodeStore, layers: LayerStore, hot_reload: HotReloadWatcher) -> None:
        self._code = code
        self._layers = layers
        self._hot_reload = hot_reload
        self._specs: dict[tuple[str, str, int], FunctionSpec] = {}
        self._hot_epoch: dict[str, int] = {}  # per function: code changes seen by the watcher

    def generation(self, record: FunctionRecord) -> int:
        """$LATEST's generation: updates plus hot-reload changes (both only grow, so their sum
        changes whenever either does)."""
        return record.generation + self._hot_epoch.get(record.key, 0)

    def code_changed(self, key: str) -> None:
        """The watcher saw hot-reloaded code change: $LATEST ages by one."""
        self._hot_epoch[key] = self._hot_epoch.get(key, 0) + 1
        self.forget(key)

    def forget(self, key: str) -> None:
        self._specs = {k: v for k, v in self._specs.items() if k[0] != key}

    def spec(self, record: FunctionRecord, version: VersionRecord) -> FunctionSpec:
        """The spec of one version. Raises ``PlatformError`` when its /opt cannot be built
        (normally already built by the preparer, off the event loop)."""
        cfg = version.config
        generation = self.generation(record) if cfg["Version"] == LATEST else 0
        cache_key = (record.key, cfg["Version"], generation)
        spec = self._specs.get(cache_key)
        if spec is not None:
            return spec
        code_dir: Path | None = None
        if cfg.get("_HotReloadPath"):
            code_dir = Path(cfg["_HotReloadPath"])
            self._hot_reload.watch(record.key, code_dir)
        elif version.code_sha256_hex:
            code_dir = self._code.tree_path(version.code_sha256_hex)
        opt = self._layers.opt_tree([layer["Arn"] for layer in cfg["Layers"]]) if cfg.get("Layers") else None
        logging = cfg.get("LoggingConfig") or {}
        spec = FunctionSpec(
            key=record.key,
            name=record.name,
            arn=cfg["FunctionArn"].rsplit(":", 1)[0] if cfg["Version"] != LATEST else cfg["FunctionArn"],
            version=cfg["Version"],
            generation=generation,
            incarnation=record.incarnation,
            region=record.region,
            account_id=record.account_id,
            runtime=cfg.get("Runtime"),
            handler=cfg.get("Handler"),
            package_type=cfg.get("PackageType", "Zip"),
            code_dir=code_dir,
            image_uri=version.image_uri,
            image_config=(cfg.get("ImageConfigResponse") or {}).get("ImageConfig") or {},
            memory_mb=int(cfg.get("MemorySize", 128)),
            timeout_s=int(cfg.get("Timeout", 3)),
            ephemeral_mb=int((cfg.get("EphemeralStorage") or {}).get("Size", 512)),
            environment=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            layers=(opt,) if opt is not None else (),
            architectures=tuple(cfg.get("Architectures") or ["x86_64"]),
            log_group=logging.get("LogGroup", f"/aws/lambda/{record.name}"),
            log_format=logging.get("LogFormat", "Text"),
            hot_reload=bool(cfg.get("_HotReloadPath")),
        )
        self._specs[cache_key] = spec
        return spec
