"""The app factory: builds every component from one ``Settings`` and connects their seams.

This is the one place where packages meet: the store is shared by the control plane and the
invoke engine, the engine's ``prepare``/``provision``/``on_change`` become the control plane's
seams, the operation handlers of every resource module are collected into the dispatcher, and
one task scope holds every background task. No module globals: two apps built in one process
share nothing (tests rely on it).
"""

from __future__ import annotations

import asyncio
import functools
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
from locallambda.control.event_source_mappings import EventSourceMappingsApi, MappingSeams
from locallambda.control.function_settings import FunctionSettingsApi
from locallambda.control.functions import FunctionsApi
from locallambda.control.layers import LayersApi
from locallambda.control.lifecycle import Lifecycle
from locallambda.control.permissions import PermissionsApi
from locallambda.control.plane import ControlPlane
from locallambda.control.state_transfer import StateTransfer
from locallambda.control.tags import TagsApi
from locallambda.control.urls import UrlsApi
from locallambda.control.versions import VersionsApi
from locallambda.edge.app import EdgeApp
from locallambda.edge.callers import origin_of
from locallambda.edge.credentials import chain, issued_keys, local_keys
from locallambda.edge.dashboard import dashboard_routes
from locallambda.edge.function_urls import FunctionUrls
from locallambda.edge.internal import internal_routes
from locallambda.edge.journal import journal_routes
from locallambda.edge.state import state_routes
from locallambda.event_sources.sources import EventSources
from locallambda.executors.base import Executor
from locallambda.executors.docker import DockerExecutor
from locallambda.executors.process import ProcessExecutor
from locallambda.executors.sandbox import SandboxExecutor
from locallambda.invoke.api import InvocationsApi, event_config
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.destinations import Destinations
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.journal import Trigger
from locallambda.invoke.logs import LogStore
from locallambda.model.clock import Clock, SystemClock
from locallambda.model.lifecycle import EnvState
from locallambda.model.operations import operations_of
from locallambda.model.refs import FunctionRef, parse_function_name
from locallambda.model.spec import FunctionSpec, InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.neighbours.apigateway import install_apigateway
from locallambda.neighbours.bridge import LambdaBridge
from locallambda.neighbours.catalogue import parse_services_setting
from locallambda.neighbours.cloudformation import install_lambda_resources
from locallambda.neighbours.embedded import Neighbours
from locallambda.neighbours.execute_api import ExecuteApi
from locallambda.neighbours.log_delivery import LogDelivery, moto_logs, ships_logs
from locallambda.neighbours.objects import ObjectReader
from locallambda.neighbours.persistence import Snapshots
from locallambda.neighbours.schedules import Scheduler
from locallambda.neighbours.sqs_direct import EmbeddedSqs
from locallambda.neighbours.stream_patches import install as install_stream_patches
from locallambda.protocol.dispatch import Dispatcher
from locallambda.protocol.model import Router, load_service_model
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.settings import ExecutorMode, Settings
from locallambda.store.code import CodeStore
from locallambda.store.collect import Collector
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import FunctionRegistry
from locallambda.store.layers import LayerStore

__all__ = ["Application", "build_app"]

log = logging.getLogger(__name__)


class Application:
    """Everything one server runs: the ASGI app plus the components behind it."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, executors: dict[str, Executor] | None = None
    ) -> None:
        """``executors`` replaces the executors chosen from settings (tests pass a fake one,
        under the name ``process``); ``clock`` the system clock."""
        self.settings = settings
        self.clock = clock or SystemClock()
        self.tasks = TaskScope("locallambda")
        self._temp_dir: Path | None = None
        if settings.persistence:
            data_dir = settings.data_dir or Path.home() / ".locallambda"
        else:
            # Persistence off: nothing is written outside a temporary directory.
            self._temp_dir = Path(tempfile.mkdtemp(prefix="locallambda-"))
            data_dir = self._temp_dir
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)

        # -- state
        self.store = DocumentStore(data_dir / "state.sqlite3" if settings.persistence else None)
        self.code = CodeStore(data_dir / "code")
        self.functions = FunctionRegistry(self.store)
        self.layer_store = LayerStore(self.store, self.code)

        # -- execution
        # Function logs also go to CloudWatch Logs (the embedded moto, loaded by the shipper's own
        # thread), unless SERVICES leaves logs out.
        self.log_delivery = LogDelivery(moto_logs(self._load_neighbours)) if ships_logs(settings.services) else None
        self.logs = LogStore(settings.truncate_stdout, ship=self.log_delivery.put if self.log_delivery else None)
        self.runtime_commands = RuntimeCommands(settings.cache_dir, settings.java_home, settings.nodejs_runtime_dir)
        if executors is not None:
            self.executors, self.executor_name = dict(executors), "process"
        else:
            self.executors, self.executor_name = self._choose_executors()
        self.engine = InvokeEngine(
            self.functions,
            self.code,
            self.layer_store,
            settings,
            self.executor_for,
            self.logs,
            self.tasks.child("engine"),
            self.clock,
        )
        # Finished events go to their destinations and dead-letter queues through our own endpoint.
        self.destinations = Destinations(self.functions, settings.endpoint_url, settings.region)
        base_delay = settings.lambda_retry_base_delay
        self.events = EventQueue(
            self.run_event,
            event_config(self.functions),
            self.tasks.child("events"),
            self.clock,
            self.store,
            retry_delays=(base_delay, 2 * base_delay),
            deliver=self.destinations.deliver,
            blocked=self.destinations.blocked,
        )

        # -- the services around Lambda, on the same port
        self.schedules = Scheduler()
        # With persistence on, moto's state is snapshotted under the data dir, restored at load.
        self.snapshots = Snapshots(data_dir / "neighbours") if settings.persistence else None
        self.neighbours = Neighbours(
            settings.account_id,
            (settings.host, settings.port),
            parse_services_setting(settings.services),
            workers=32,  # event source pollers hold some in long polls
            after_call=self.snapshots.after_call if self.snapshots else None,
            # A reader of CloudWatch Logs sees every line written before its request.
            before_call={"logs": self.log_delivery.flush} if self.log_delivery is not None else None,
            on_load=[
                *([self.snapshots.restore] if self.snapshots else []),
                LambdaBridge(settings.host, settings.port, settings.account_id).install,
                self.schedules.start,
                functools.partial(install_lambda_resources, settings.endpoint_url),
                install_apigateway,
                install_stream_patches,
            ],
        )

        # -- control plane, its seams filled by the engine
        self._control_tasks = self.tasks.child("control")
        self.plane = ControlPlane(
            settings,
            self.store,
            self.code,
            self.functions,
            self._control_tasks,
            preparer=self.engine.prepare,
            provisioner=self.engine.provision,
            objects=ObjectReader(self.neighbours, settings.account_id).read,
        )
        self.lifecycle = Lifecycle(self.plane)
        # Stored code that nothing references any more is removed in the background.
        self.collector = Collector(
            self.code,
            self.functions,
            self.layer_store,
            self.store,
            self.tasks.child("collect"),
            self.clock,
            in_use=self._code_in_use,
        )
        layers = LayersApi(self.plane, self.layer_store, released=self.collector.request)
        concurrency = ConcurrencyApi(self.plane)
        permissions = PermissionsApi(self.plane)
        self.plane.listeners += [
            self.engine.on_change,
            concurrency.on_change,
            permissions.on_change,
            self.collector.on_change,
        ]
        self.plane.code_size_sources.append(layers.code_size)
        # Event source mappings: the control plane's API, the pollers behind it.
        self.event_sources = EventSources(
            settings.event_source_endpoint or settings.endpoint_url,
            settings.region,
            self.invoke_mapped,
            self._mapping_result,
            self._function_role,
            self.store,
            self.tasks.child("event-sources"),
            sqs_wait_seconds=settings.event_source_sqs_wait_seconds,
            # Mappings on the embedded SQS read it in process; another endpoint through its API.
            direct_sqs=None if settings.event_source_endpoint else EmbeddedSqs(self.neighbours, settings.account_id),
        )
        self.mappings = EventSourceMappingsApi(
            self.plane,
            MappingSeams(self.event_sources.check_source, self.event_sources.check_filters, self.event_sources.changed),
        )
        urls = UrlsApi(self.plane)
        apis = [
            self.mappings,
            FunctionsApi(self.plane, self.layer_store, self.lifecycle),
            VersionsApi(self.plane),
            InvocationsApi(self.engine, self.events, response_limit=settings.limits_max_function_payload_size_bytes),
            layers,
            AliasesApi(self.plane),
            urls,
            permissions,
            TagsApi(self.plane),
            concurrency,
            AccountApi(self.plane),
            EventInvokeConfigApi(self.plane),
            FunctionSettingsApi(self.plane),
            CodeSigningApi(self.plane),
        ]

        # -- the edge
        self.model = load_service_model()
        self.handlers = operations_of(*apis)
        self.dispatcher = Dispatcher(
            Router(self.model),
            self.handlers,
            default_region=settings.region,
            account_id=settings.account_id,
            durable=self.store.flush,
            origin_of=functools.partial(origin_of, server_port=settings.port),
        )
        self.asgi = EdgeApp(
            self.dispatcher,
            internal_routes(self.code, self.health, self.logs)
            + journal_routes(self.engine.journal, self.engine.replay)
            + state_routes(
                StateTransfer(self.plane, self.layer_store, self.lifecycle, self.mappings),
                functools.partial(origin_of, server_port=settings.port),
            )
            + dashboard_routes(
                settings,
                self.functions,
                lambda: self.engine.pool.environments,
                self.clock.monotonic,
                self.executor_name,
                self.neighbours,
            ),
            startup=self.startup,
            shutdown=self.shutdown,
            function_urls=FunctionUrls(
                urls.index,
                self.engine,
                chain(local_keys(settings.account_id, self.engine.pool, self.functions), issued_keys),
            ),
            neighbours=self.neighbours,
            # REST APIs' Lambda proxy integrations invoke synchronously, as the pollers do
            execute_api=ExecuteApi(
                self.neighbours,
                functools.partial(self.invoke_mapped, source="apigateway"),
                settings.account_id,
                settings.port,
            ),
        )

    def _choose_executors(self) -> tuple[dict[str, Executor], str]:
        """The executors this server uses, and the name of the one zip functions run in.

        ``LAMBDA_EXECUTOR``: local → process, sandbox, docker (a fresh container per invoke),
        docker-reuse (warm containers); unset → sandbox where the host supports it, otherwise
        process. Image functions always use docker. No silent fallback: an explicit choice
        that cannot work makes functions Failed with the reason.
        """
        mode = self.settings.executor
        commands = self.runtime_commands
        executors: dict[str, Executor] = {
            "process": ProcessExecutor(commands, self.tasks.child("process"), self.settings.host_path),
            "docker": DockerExecutor(
                commands, self.settings, self.tasks.child("docker"), reuse=mode is not ExecutorMode.DOCKER
            ),
        }
        sandbox_problem = SandboxExecutor.supported()
        if mode is ExecutorMode.SANDBOX or (mode is ExecutorMode.AUTO and sandbox_problem is None):
            executors["sandbox"] = SandboxExecutor(commands, self.settings, self.tasks.child("sandbox"))
            return executors, "sandbox"
        if mode in (ExecutorMode.DOCKER, ExecutorMode.DOCKER_REUSE):
            return executors, "docker"
        if mode is ExecutorMode.AUTO and sandbox_problem is not None:
            log.info("sandbox executor unavailable (%s): using the process executor", sandbox_problem)
        return executors, "process"

    def _load_neighbours(self) -> None:
        self.neighbours.load()

    def _code_in_use(self) -> list[Path]:
        """The code directories and /opt trees of every live environment: kept even when their
        version was deleted meanwhile."""
        return [
            path
            for env in self.engine.pool.environments
            for path in (env.spec.code_dir, *env.spec.layers)
            if path is not None
        ]

    def executor_for(self, spec: FunctionSpec) -> Executor:
        if spec.package_type == "Image" and "docker" in self.executors:
            return self.executors["docker"]
        return self.executors[self.executor_name]

    async def invoke_mapped(self, function_arn: str, payload: bytes, source: str) -> InvocationResult:
        """The pollers' seam (a synchronous invoke of a mapping's function), and API Gateway's;
        ``source`` (sqs, kinesis, dynamodb, apigateway) is the journal's trigger."""
        ref = parse_function_name(
            function_arn, _arn_region(function_arn, self.settings.region), self.settings.account_id
        )
        return await self.engine.invoke(ref, payload, trigger=Trigger(source))

    def _mapping_result(self, uuid: str, result: str) -> None:
        self.mappings.record_result(uuid, result)

    def _function_role(self, function_arn: str) -> str | None:
        ref = parse_function_name(
            function_arn, _arn_region(function_arn, self.settings.region), self.settings.account_id
        )
        record = self.functions.get(ref.region, ref.name)
        return str(record.latest.config.get("Role")) if record is not None else None

    async def run_event(self, ref: FunctionRef, payload: bytes, request_id: str, trigger: Trigger) -> InvocationResult:
        return await self.engine.invoke(ref, payload, request_id=request_id, trigger=trigger)

    def health(self) -> dict[str, Any]:
        return {
            "edition": "locallambda",
            "executor": self.executor_name,
            "persistence": self.settings.persistence,
            "services": {"lambda": "running", **self.neighbours.states()},
            "runtime_substitutions": dict(self.runtime_commands.substitutions),
            "environments": self._environment_counts(),
            "features": {
                "operations_implemented": len(self.dispatcher.implemented),
                "operations_in_model": len(self.model.operation_names),
            },
        }

    def _environment_counts(self) -> dict[str, Any]:
        """Live execution environments (``locallambda status``): how many, by state, by function."""
        envs = [env for env in self.engine.pool.environments if env.state is not EnvState.STOPPED]
        states: dict[str, int] = {}
        functions: dict[str, int] = {}
        for env in envs:
            states[env.state.value] = states.get(env.state.value, 0) + 1
            functions[env.spec.key] = functions.get(env.spec.key, 0) + 1
        return {"total": len(envs), "states": states, "functions": functions}

    async def startup(self) -> None:
        for executor in self.executors.values():
            executor.open()
        self.engine.start()
        await self.lifecycle.resume()
        await self.collector.start()
        self.events.start()
        self.mappings.resume()
        self.tasks.spawn(self._start_pollers(), name="event-sources-start")
        if self.snapshots is not None:
            if self.snapshots.exist():  # restored before the first neighbour request is answered
                self.tasks.spawn(asyncio.to_thread(self._load_neighbours), name="neighbours-restore")
            self.tasks.spawn(self.snapshots.periodically(self.neighbours.run), name="neighbours-snapshots")
        log.info("locallambda ready on %s (data: %s)", self.settings.endpoint_url, self.data_dir)

    async def _start_pollers(self) -> None:
        await asyncio.sleep(0)  # after the lifespan startup: the server answers the pollers' requests
        self.event_sources.start()

    async def shutdown(self) -> None:
        """Stop everything this server started, in order, each step with a deadline."""
        self.collector.close()
        await self.event_sources.close()
        await self.events.close()
        await self._control_tasks.close()
        await self.engine.close()
        for executor in self.executors.values():
            await executor.close()
        await self.tasks.close()
        self.schedules.stop()
        if self.log_delivery is not None:
            await self.log_delivery.close()
        if self.snapshots is not None:
            await asyncio.to_thread(self.snapshots.save_all)
        self.neighbours.close()
        self.store.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def _arn_region(arn: str, default: str) -> str:
    """The region an ARN names (a mapping's function is in the mapping's region, not always the
    server's default one)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" and parts[3] else default


def build_app(settings: Settings, **kwargs: Any) -> Application:
    return Application(settings, **kwargs)
