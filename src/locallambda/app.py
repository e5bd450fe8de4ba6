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
from locallambda.control.invocations import InvocationsApi, event_config
from locallambda.control.plane import ControlPlane
from locallambda.edge.app import EdgeApp
from locallambda.executors.base import Executor
from locallambda.executors.process import ProcessExecutor
from locallambda.executors.runtime_commands import RuntimeCommands
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.logs import LogStore
from locallambda.invoke.models import FunctionSpec
from locallambda.edge.internal import internal_routes
from locallambda.protocol.dispatch import Dispatcher, Handler
from locallambda.protocol.model import Router, load_service_model
from locallambda.settings import Settings
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
        self.runtime_commands = RuntimeCommands(data_dir / "cache")
        self.executors: dict[str, Executor] = {"process": ProcessExecutor(self.runtime_commands)}
        self.executor_name = "process"
        self.engine = InvokeEngine(self.plane, settings, self.executor_for, self.logs)
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
            internal_routes(self.code, self.health),
            startup=self.startup,
            shutdown=self.shutdown,
        )

    def _apis(self) -> list[Any]:
        return [
            FunctionsApi(self.plane),
            InvocationsApi(self.plane, self.engine, self.events),
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

    def executor_for(self, spec: FunctionSpec) -> Executor:
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
