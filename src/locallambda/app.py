"""The app factory: builds every component from one ``Settings`` and wires them together.

No module globals: two apps built in one process share nothing (tests rely on it).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from locallambda.control.account import AccountApi
from locallambda.control.aliases import AliasesApi
from locallambda.control.code_signing import CodeSigningApi
from locallambda.control.concurrency import ConcurrencyApi
from locallambda.control.event_invoke_config import EventInvokeConfigApi
from locallambda.control.function_settings import FunctionSettingsApi
from locallambda.control.permissions import PermissionsApi
from locallambda.control.tags import TagsApi
from locallambda.control.urls import UrlsApi
from locallambda.control.functions import FunctionsApi
from locallambda.control.layers import LayersApi
from locallambda.control.invocations import InvocationsApi, event_config
from locallambda.control.plane import ControlPlane
from locallambda.edge.app import EdgeApp
from locallambda.edge.function_urls import FunctionUrls
from locallambda.executors.base import Executor
from locallambda.executors.docker import DockerExecutor
from locallambda.executors.sandbox import SandboxExecutor
from locallambda.executors.process import ProcessExecutor
from locallambda.executors.runtime_commands import RuntimeCommands
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.logs import LogStore
from locallambda.invoke.models import FunctionSpec
from locallambda.edge.internal import internal_routes
from locallambda.protocol.dispatch import Dispatcher, Handler
from locallambda.protocol.model import Router, load_service_model
from locallambda.settings import ExecutorMode, Settings
from locallambda.store.code import CodeStore
from locallambda.store.documents import DocumentStore

__all__ = ["Application", "build_app"]

log = logging.getLogger("locallambda")


class Application:
    """Everything one server runs: the ASGI app plus the components behind it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._temp_dir: Path | None = None
        if settings.persistence:
            data_dir = settings.data_dir or Path.home() / ".locallambda"
        else:
            # Persistence off: nothing is written outside a temporary directory.
            self._temp_dir = Path(tempfile.mkdtemp(prefix="locallambda-"))
            data_dir = self._temp_dir
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = DocumentStore(data_dir / "state.sqlite3" if settings.persistence else None)
        self.code = CodeStore(data_dir / "code")
        self.plane = ControlPlane(settings, self.store, self.code)
        self.logs = LogStore(settings.truncate_stdout)
        self.runtime_commands = RuntimeCommands(settings.cache_dir)
        self.executors, self.executor_name = self._choose_executors()
        self.layers = LayersApi(self.plane)
        self.functions_api = FunctionsApi(self.plane)
        self.engine = InvokeEngine(self.plane, settings, self.executor_for, self.logs, self.layers.opt_paths)
        self.events = EventQueue(self.engine_run_event, event_config(self.plane))
        self.model = load_service_model()
        handlers: dict[str, Handler] = {}
        for api in self._apis():
            handlers.update(api.handlers())
        self.dispatcher = Dispatcher(
            Router(self.model), handlers, default_region=settings.region, account_id=settings.account_id
        )
        self.asgi = EdgeApp(
            self.dispatcher,
            internal_routes(self.code, self.health, self.logs),
            startup=self.startup,
            shutdown=self.shutdown,
            function_urls=FunctionUrls(self.plane, self.engine),
        )

    def _apis(self) -> list[Any]:
        return [
            self.functions_api,
            InvocationsApi(self.plane, self.engine, self.events),
            self.layers,
            AliasesApi(self.plane),
            UrlsApi(self.plane),
            PermissionsApi(self.plane),
            TagsApi(self.plane),
            ConcurrencyApi(self.plane),
            AccountApi(self.plane),
            EventInvokeConfigApi(self.plane),
            FunctionSettingsApi(self.plane),
            CodeSigningApi(self.plane),
        ]

    def _choose_executors(self) -> tuple[dict[str, Executor], str]:
        """The executors this server uses, and the name of the one zip functions run in.

        ``LAMBDA_EXECUTOR``: local → process, sandbox, docker (a fresh container per invoke),
        docker-reuse (warm containers); unset → sandbox where the host supports it, otherwise
        process. Image functions always use docker. No silent fallback: an explicit choice
        that cannot work makes functions Failed with the reason.
        """
        mode = self.settings.executor
        commands = self.runtime_commands
        executors: dict[str, Executor] = {"process": ProcessExecutor(commands, self.settings.host_path)}
        reuse = mode != ExecutorMode.DOCKER
        executors["docker"] = DockerExecutor(commands, self.settings, reuse=reuse)
        sandbox_problem = SandboxExecutor.supported()
        if mode == ExecutorMode.SANDBOX or (mode == ExecutorMode.AUTO and sandbox_problem is None):
            executors["sandbox"] = SandboxExecutor(commands, self.settings)
            return executors, "sandbox"
        if mode in (ExecutorMode.DOCKER, ExecutorMode.DOCKER_REUSE):
            return executors, "docker"
        if mode == ExecutorMode.AUTO and sandbox_problem is not None:
            log.info("sandbox executor unavailable (%s): using the process executor", sandbox_problem)
        return executors, "process"

    def executor_for(self, spec: FunctionSpec) -> Executor:
        if spec.package_type == "Image":
            return self.executors["docker"]
        return self.executors[self.executor_name]

    async def engine_run_event(self, ref: Any, payload: bytes, request_id: str) -> Any:
        return await self.engine.invoke(ref, payload, request_id=request_id)

    def health(self) -> dict[str, Any]:
        return {
            "edition": "locallambda",
            "executor": self.executor_name,
            "persistence": self.settings.persistence,
            "services": {"lambda": "running"},
            "features": {
                "operations_implemented": len(self.dispatcher.implemented),
                "operations_in_model": len(self.model.operation_names),
            },
        }

    async def startup(self) -> None:
        self.engine.start()
        self.events.start()
        await self.functions_api.resume()
        log.info("locallambda ready on %s (data: %s)", self.settings.endpoint_url, self.data_dir)

    async def shutdown(self) -> None:
        await self.events.close()
        await self.plane.close()
        await self.engine.close()
        for executor in self.executors.values():
            await executor.close()
        self.store.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def build_app(settings: Settings) -> Application:
    return Application(settings)
