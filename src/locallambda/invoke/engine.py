"""The invocation engine: qualifier → version → concurrency slot → environment → result.

It reads function state from the control plane, never HTTP. ``invoke`` returns an
``InvocationResult`` for everything the function (or its runtime) did, and raises our errors for
what the caller did wrong (not found, wrong state, throttled).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from pathlib import Path

from locallambda.control.arns import LATEST, FunctionRef
from locallambda.control.plane import ControlPlane
from locallambda.control.state import FunctionRecord, VersionRecord
from locallambda.errors import ResourceConflictError, ResourceNotFoundError, ServiceError
from locallambda.executors.base import Executor, ExecutorError
from locallambda.invoke.concurrency import ConcurrencyGate
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.invoke.hot_reload import HotReloadWatcher
from locallambda.invoke.logs import LogStore
from locallambda.invoke.models import FunctionSpec, Invocation, InvocationResult
from locallambda.invoke.pool import EnvironmentPool
from locallambda.settings import Settings

__all__ = ["InvokeEngine"]

log = logging.getLogger("locallambda.invoke")


class InvokeEngine:
    def __init__(
        self,
        plane: ControlPlane,
        settings: Settings,
        executor_for: Callable[[FunctionSpec], Executor],
        logs: LogStore,
        layer_paths: Callable[[list[str]], list[Path]] | None = None,
    ) -> None:
        self._plane = plane
        self._settings = settings
        self._executor_for = executor_for
        self.logs = logs
        self._layer_paths = layer_paths
        self.gate = ConcurrencyGate(settings.limits_concurrent_executions)
        self.pool = EnvironmentPool(
            executor_for,
            keepalive_ms=settings.keepalive_ms,
            stay_open=settings.stay_open,
            endpoint_url=None if settings.disable_aws_endpoint_url else settings.endpoint_url,
            log_line=logs.line,
        )
        self._specs: dict[tuple[str, str, int], FunctionSpec] = {}
        self._provisioned: dict[tuple[str, str], list[ExecutionEnvironment]] = {}
        self._hot_epoch: dict[str, int] = {}  # per function: code changes seen by the watcher
        self.hot_reload = HotReloadWatcher(self._on_code_changed)
        plane.preparer = self.prepare
        plane.provisioner = self.provision
        plane.listeners.append(self._on_change)

    def start(self) -> None:
        self.pool.start()

    async def close(self) -> None:
        await self.hot_reload.close()
        await self.pool.close()

    # -- control plane seams ----------------------------------------------------------------

    async def prepare(self, record: FunctionRecord) -> str | None:
        layers = [layer["Arn"] for layer in record.latest.config.get("Layers") or []]
        if layers and self._layer_paths is not None:
            # Merging the layers into one /opt tree copies files: do it off the event loop now,
            # so that spec_for (on the invoke path) only finds the finished tree.
            try:
                await asyncio.to_thread(self._layer_paths, layers)
            except Exception as exc:  # a layer that cannot be merged fails the function
                return f"The layers could not be prepared: {exc}"
        spec = self.spec_for(record, record.latest)
        try:
            return await self._executor_for(spec).prepare(spec)
        except ExecutorError as exc:
            return str(exc)

    def _on_code_changed(self, key: str) -> None:
        region, _, name = key.partition("/")
        record = self._plane.functions.get(region, name)
        if record is None:
            self.hot_reload.unwatch(key)
            return
        self._hot_epoch[key] = self._hot_epoch.get(key, 0) + 1
        self._specs = {k: v for k, v in self._specs.items() if k[0] != key}
        self.pool.update(key, record.incarnation, record.generation + self._hot_epoch[key])

    def _on_change(self, record: FunctionRecord, event: str) -> None:
        self._specs = {k: v for k, v in self._specs.items() if k[0] != record.key}
        if event == "deleted":
            self.hot_reload.unwatch(record.key)
            self.pool.forget(record.key, record.incarnation)
            for pkey in [k for k in self._provisioned if k[0] == record.key]:
                for env in self._provisioned.pop(pkey):
                    env.stop()
        else:
            self.pool.update(record.key, record.incarnation, record.generation + self._hot_epoch.get(record.key, 0))

    # -- specs ------------------------------------------------------------------------------

    def spec_for(self, record: FunctionRecord, version: VersionRecord) -> FunctionSpec:
        cfg = version.config
        # $LATEST ages with every update and every change of hot-reloaded code (both only grow,
        # so their sum changes whenever either does); published versions never change.
        generation = record.generation + self._hot_epoch.get(record.key, 0) if cfg["Version"] == LATEST else 0
        cache_key = (record.key, cfg["Version"], generation)
        spec = self._specs.get(cache_key)
        if spec is not None:
            return spec
        code_dir: Path | None = None
        if cfg.get("_HotReloadPath"):
            code_dir = Path(cfg["_HotReloadPath"])
            self.hot_reload.watch(record.key, code_dir)
        elif version.code_sha256_hex:
            code_dir = self._plane.code.tree_path(version.code_sha256_hex)
        layers: tuple[Path, ...] = ()
        if self._layer_paths is not None and cfg.get("Layers"):
            layers = tuple(self._layer_paths([layer["Arn"] for layer in cfg["Layers"]]))
        image_config = (cfg.get("ImageConfigResponse") or {}).get("ImageConfig") or {}
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
            image_config=image_config,
            memory_mb=int(cfg.get("MemorySize", 128)),
            timeout_s=int(cfg.get("Timeout", 3)),
            ephemeral_mb=int((cfg.get("EphemeralStorage") or {}).get("Size", 512)),
            environment=dict((cfg.get("Environment") or {}).get("Variables") or {}),
            layers=layers,
            architectures=tuple(cfg.get("Architectures") or ["x86_64"]),
            log_group=(cfg.get("LoggingConfig") or {}).get("LogGroup", f"/aws/lambda/{record.name}"),
            log_format=(cfg.get("LoggingConfig") or {}).get("LogFormat", "Text"),
            hot_reload=bool(cfg.get("_HotReloadPath")),
        )
        self._specs[cache_key] = spec
        return spec

    # -- invoking ---------------------------------------------------------------------------

    def resolve(self, ref: FunctionRef) -> tuple[FunctionRecord, VersionRecord, str]:
        """The record, the version to run and the ARN the function was invoked with.

        Weighted aliases pick a version at random by their RoutingConfig. Raises
        ``ResourceNotFoundError``.
        """
        record = self._plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn(ref.qualifier or LATEST)}")
        q = ref.qualifier
        if q is None or q == LATEST:
            return record, record.latest, ref.arn(q)
        version = record.versions.get(q)
        if version is not None:
            return record, version, ref.arn(q)
        alias = record.aliases.get(q)
        if alias is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn(q)}")
        target = alias["FunctionVersion"]
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if weights:
            roll = random.random()
            acc = 0.0
            for v, w in weights.items():
                acc += float(w)
                if roll < acc:
                    target = v
                    break
        chosen = record.version(target)
        if chosen is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn(target)}")
        return record, chosen, ref.arn(q)

    @staticmethod
    def ensure_active(version: VersionRecord) -> None:
        """Raises ``ResourceConflictError`` unless the version can be invoked (state Active)."""
        state = version.config.get("State")
        if state != "Active":
            raise ResourceConflictError(
                "The operation cannot be performed at this time. The function is currently in the "
                f"following state: {state}"
            )

    async def invoke(
        self,
        ref: FunctionRef,
        payload: bytes,
        *,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvocationResult:
        """Run the function synchronously. Raises ``ResourceNotFoundError``,
        ``ResourceConflictError`` (not Active) and ``TooManyRequestsError`` (throttled)."""
        record, version, invoked_arn = self.resolve(ref)
        self.ensure_active(version)
        spec = self.spec_for(record, version)
        invocation = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            payload=payload,
            invoked_arn=invoked_arn,
            client_context=client_context,
        )
        reserved_total = self._plane.functions.reserved_total(ref.region)
        with self.gate.slot(record.key, record.reserved_concurrency, reserved_total):
            try:
                env = await self.pool.acquire(spec)
            except ExecutorError as exc:
                raise ServiceError(f"Failed to start an execution environment: {exc}") from exc
            try:
                result = await env.invoke(invocation)
            finally:
                self.pool.release(env)
        return result

    async def provision(self, record: FunctionRecord, qualifier: str, count: int) -> None:
        """Keep ``count`` environments of a version or alias initialized (provisioned concurrency).

        Replaces the environments provisioned before for the same qualifier; 0 releases them.
        Returns once every environment has initialized. Raises ``ExecutorError`` when one cannot.
        """
        for env in self._provisioned.pop((record.key, qualifier), []):
            env.stop()
        if count <= 0:
            return
        ref = FunctionRef(record.name, qualifier, record.region, record.account_id)
        _, version, _ = self.resolve(ref)
        alias = record.aliases.get(qualifier)
        if alias is not None:  # provisioned for an alias: its primary version, not a weighted pick
            version = record.version(alias["FunctionVersion"]) or version
        spec = self.spec_for(record, version)
        envs: list[ExecutionEnvironment] = []
        try:
            for _ in range(count):
                envs.append(await self.pool.create(spec))
            await asyncio.gather(*(env.wait_initialized() for env in envs))
        except BaseException:
            for env in envs:
                env.stop()
            raise
        self._provisioned[(record.key, qualifier)] = envs
        for env in envs:
            self.pool.park(env)
