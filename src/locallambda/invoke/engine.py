"""The invocation engine: qualifier → version → concurrency slot → environment → result.

It reads function state from the store, never HTTP and never the control plane. ``invoke``
returns an ``InvocationResult`` for everything the function (or its runtime) did, and raises our
errors for what the caller did wrong (not found, wrong state, throttled). The app factory hands
``prepare``, ``provision`` and ``on_change`` to the control plane as its seams.
``invoke_streaming`` runs the same invocation for a caller that takes the answer as it is
streamed (``invoke.streaming``). Every invocation passes ``invoke``, which records it in the
``journal`` (``invoke.journal``) with the ``Trigger`` its caller gives; ``replay`` runs a
recorded one again. With Lambda Debug Mode a debugged version runs one invocation at a time,
under its runtime's debugger (``invoke.debugging``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable

from locallambda.errors import (
    ExecutorError,
    LambdaError,
    PlatformError,
    ResourceConflictError,
    ResourceNotFoundError,
    ServiceError,
    TooManyRequestsError,
)
from locallambda.executors.base import Executor
from locallambda.invoke.concurrency import ConcurrencyGate
from locallambda.invoke.debugging import DebugMode
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.invoke.hot_reload import HotReloadWatcher
from locallambda.invoke.journal import API, STREAM, Entry, Journal, Trigger
from locallambda.invoke.logs import LogStore
from locallambda.invoke.pool import EnvironmentPool
from locallambda.invoke.specs import SpecCache
from locallambda.invoke.streaming import StreamedInvocation
from locallambda.model.clock import Clock, SystemClock
from locallambda.model.lifecycle import FunctionState
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.model.spec import FunctionSpec, Invocation, InvocationResult
from locallambda.model.streams import ResponseStream
from locallambda.model.tasks import TaskScope
from locallambda.settings import Settings
from locallambda.store.code import CodeStore
from locallambda.store.functions import Change, FunctionRecord, FunctionRegistry, VersionRecord
from locallambda.store.layers import LayerStore

__all__ = ["InvokeEngine"]

log = logging.getLogger(__name__)

_ON_DEMAND = "\x00on-demand"  # the gate's key for a function's invocations outside its provisioned share


def _on_demand_share(record: FunctionRecord, qualifier: str | None) -> int | None:
    """How many invocations of a qualifier without provisioned concurrency may run at once when
    the function's reserved concurrency also holds provisioned concurrency: the reservation minus
    what is provisioned (AWS throttles $LATEST with ReservedFunctionConcurrentInvocationLimitExceeded
    when provisioned concurrency takes the whole reservation). ``None``: no such limit."""
    if record.reserved_concurrency is None or not record.provisioned_concurrency:
        return None
    if qualifier is not None and qualifier in record.provisioned_concurrency:
        return None
    provisioned = sum(
        int(c.get("RequestedProvisionedConcurrentExecutions", 0)) for c in record.provisioned_concurrency.values()
    )
    return max(0, record.reserved_concurrency - provisioned)


class InvokeEngine:
    def __init__(
        self,
        functions: FunctionRegistry,
        code: CodeStore,
        layers: LayerStore,
        settings: Settings,
        executor_for: Callable[[FunctionSpec], Executor],
        logs: LogStore,
        tasks: TaskScope,
        clock: Clock | None = None,
    ) -> None:
        self._functions = functions
        self._layers = layers
        self._executor_for = executor_for
        self.logs = logs
        self._clock = clock or SystemClock()
        self.gate = ConcurrencyGate(settings.limits_concurrent_executions)
        self.hot_reload = HotReloadWatcher(self._on_code_changed, tasks.child("hot-reload"))
        self.specs = SpecCache(code, layers, self.hot_reload)
        # LAMBDA_DEBUG_MODE: raises ValueError for a config file that cannot be used.
        self.debugging = DebugMode.from_settings(settings.lambda_debug_mode, settings.lambda_debug_mode_config_path)
        self._debug_tasks = tasks.child("debug-mode")
        self.pool = EnvironmentPool(
            executor_for,
            keepalive_ms=settings.keepalive_ms,
            stay_open=settings.stay_open,
            endpoint_url=None if settings.disable_aws_endpoint_url else settings.endpoint_url,
            log_line=logs.line,
            startup_timeout_s=float(settings.lambda_runtime_environment_timeout),
            tasks=tasks.child("pool"),
            clock=self._clock,
            stale=self.debugging.stale if self.debugging.path is not None else None,  # only a watched file changes
        )
        self._provisioned: dict[tuple[str, str], list[ExecutionEnvironment]] = {}
        self._response_limit = settings.limits_max_function_payload_size_bytes
        self.journal = Journal(settings.journal_size, settings.journal_payload_bytes)
        self._streams = tasks.child("streams")  # invocations whose answers are streamed

    def start(self) -> None:
        self.pool.start()
        self.debugging.watch(self.pool.sweep, self._debug_tasks, self._clock)

    async def close(self) -> None:
        await self.hot_reload.close()
        await self.pool.close()

    # -- control plane seams ----------------------------------------------------------------

    async def prepare(self, record: FunctionRecord) -> str | None:
        """Whether the function can run: None, or the reason it cannot (its StateReason)."""
        layers = [layer["Arn"] for layer in record.latest.config.get("Layers") or []]
        if layers:
            # Merging the layers into one /opt tree copies files: do it off the event loop now,
            # so that building the spec (on the invoke path) only finds the finished tree.
            try:
                await asyncio.to_thread(self._layers.opt_tree, layers)
            except PlatformError as exc:
                return str(exc)
        try:
            spec = self.specs.spec(record, record.latest)
            return await self._executor_for(spec).prepare(spec)
        except PlatformError as exc:
            return str(exc)

    def on_change(self, record: FunctionRecord, change: Change) -> None:
        """A function changed or was deleted: no environment of older code serves again."""
        self.specs.forget(record.key)
        if change is Change.DELETED:
            self.hot_reload.unwatch(record.key)
            self.pool.forget(record.key, record.incarnation)
            for pkey in [k for k in self._provisioned if k[0] == record.key]:
                for env in self._provisioned.pop(pkey):
                    env.stop()
        else:
            versions = frozenset({LATEST, *record.versions})
            self.pool.update(record.key, record.incarnation, self.specs.generation(record), versions)

    def _on_code_changed(self, key: str) -> None:
        region, _, name = key.partition("/")
        record = self._functions.get(region, name)
        if record is None:
            self.hot_reload.unwatch(key)
            return
        self.specs.code_changed(key)
        self.pool.update(key, record.incarnation, self.specs.generation(record))

    # -- invoking ---------------------------------------------------------------------------

    def resolve(self, ref: FunctionRef) -> tuple[FunctionRecord, VersionRecord, str]:
        """The record, the version to run and the ARN the function was invoked with.

        Weighted aliases pick a version at random by their RoutingConfig. Raises
        ``ResourceNotFoundError``, and ``AccessDeniedError`` for a reference to another account's
        function (it must not reach the caller's function of the same name).
        """
        ref.require_own()
        record = self._functions.get(ref.region, ref.name)
        if record is not None and record.account_id != ref.account_id:
            record = None
        q = ref.qualifier
        resolved = record.resolve(q, random.random()) if record is not None else None
        if record is None or resolved is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn(q or LATEST)}")
        return record, resolved[0], ref.arn(q)

    @staticmethod
    def ensure_active(version: VersionRecord) -> None:
        """Raises ``ResourceConflictError`` unless the version can be invoked (state Active)."""
        state = version.config.get("State")
        if state != FunctionState.ACTIVE.value:
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
        stream: ResponseStream | None = None,
        trigger: Trigger = API,
    ) -> InvocationResult:
        """Run the function synchronously (``stream``: the caller takes a streamed answer there),
        recorded in the journal with its ``trigger`` (a throttle and a failure of ours too).
        Raises ``ResourceNotFoundError``, ``ResourceConflictError`` (not Active),
        ``TooManyRequestsError`` (throttled) and ``ServiceError`` (no environment could start)."""
        record, version, invoked_arn = self.resolve(ref)
        self.ensure_active(version)
        spec = self.debugging.apply(self.specs.spec(record, version))
        invocation = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            payload=payload,
            invoked_arn=invoked_arn,
            client_context=client_context,
            stream=stream,
            response_limit=self._response_limit,
        )
        if stream is not None:
            stream.executed_version = spec.version
        reserved_total = self._functions.reserved_total(ref.region)
        share = _on_demand_share(record, ref.qualifier)
        on_demand = (
            self.gate.slot(record.key + _ON_DEMAND, share, reserved_total)
            if share is not None
            else contextlib.nullcontext()
        )
        journal = self.journal if self.journal.enabled else None
        started = self._clock.time() if journal is not None else 0.0
        try:
            with (
                self.gate.slot(record.key, record.reserved_concurrency, reserved_total),
                on_demand,
                self.debugging.lease(spec) if spec.debug is not None else contextlib.nullcontext(),
            ):
                try:
                    async with self.pool.lease(spec) as env:
                        result = await env.invoke(invocation)
                except ExecutorError as exc:
                    raise ServiceError(f"Failed to start an execution environment: {exc}") from exc
        except LambdaError as exc:
            if journal is not None:
                journal.not_run(
                    spec,
                    ref.qualifier or LATEST,
                    trigger,
                    invocation.request_id,
                    payload,
                    started,
                    duration_ms=(self._clock.time() - started) * 1000,
                    refusal=(exc.code, exc.message),
                    throttled=isinstance(exc, TooManyRequestsError),
                )
            raise
        if journal is not None:  # a deque append: the journal does its work when it is read
            journal.ran(spec, ref.qualifier or LATEST, trigger, payload, started, result)
        return result

    async def invoke_streaming(
        self,
        ref: FunctionRef,
        payload: bytes,
        *,
        client_context: str | None = None,
        request_id: str | None = None,
        trigger: Trigger = STREAM,
    ) -> StreamedInvocation:
        """Start a synchronous invocation for a caller that takes its answer as it is streamed;
        returns once the answer has begun (the runtime started streaming it, or gave it whole).
        Raises what ``invoke`` raises, before anything is answered."""
        stream = ResponseStream()
        task = self._streams.spawn(
            self._streamed(ref, payload, stream, client_context, request_id, trigger), name="streamed invocation"
        )
        try:
            await asyncio.wait((stream.started, task), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            stream.close()  # nobody takes it; the invocation runs on
            raise
        outcome = task.result() if task.done() else None
        if isinstance(outcome, LambdaError):
            raise outcome  # the caller's error (not found, throttled): raised here
        return StreamedInvocation(stream, task)

    async def _streamed(
        self,
        ref: FunctionRef,
        payload: bytes,
        stream: ResponseStream,
        client_context: str | None,
        request_id: str | None,
        trigger: Trigger,
    ) -> InvocationResult | LambdaError:
        try:
            return await self.invoke(
                ref, payload, client_context=client_context, request_id=request_id, stream=stream, trigger=trigger
            )
        except LambdaError as exc:
            return exc  # for the caller to raise: not a failure of the task
        finally:
            stream.end()  # a timeout or a crash ends the stream too

    def dry_run(self, ref: FunctionRef, payload: bytes, request_id: str, trigger: Trigger) -> None:
        """Check that the function could be invoked, and record the DryRun in the journal.
        Raises what ``resolve`` and ``ensure_active`` raise."""
        record, version, _ = self.resolve(ref)
        self.ensure_active(version)
        if self.journal.enabled:
            spec = self.specs.spec(record, version)
            self.journal.not_run(spec, ref.qualifier or LATEST, trigger, request_id, payload, self._clock.time())

    async def replay(self, entry: Entry) -> tuple[InvocationResult, Entry | None]:
        """Invoke a recorded invocation's function and qualifier again with its payload,
        synchronously; the result and the new entry (``None`` if it is no longer in the journal).
        Raises what ``invoke`` raises (``ResourceNotFoundError`` for a function deleted since), and
        ``ValueError`` for an entry whose request was truncated (it cannot be repeated)."""
        if entry.request.truncated:
            raise ValueError(
                f"The request of invocation {entry.id} was kept truncated ({len(entry.request.data)} of "
                f"{entry.request.size} bytes): it cannot be replayed (LOCALLAMBDA_JOURNAL_PAYLOAD_BYTES)"
            )
        account = entry.function_arn.split(":")[4]
        qualifier = None if entry.qualifier == LATEST else entry.qualifier
        ref = FunctionRef(entry.function_name, qualifier, entry.region, account)
        request_id = str(uuid.uuid4())
        trigger = Trigger("replay", replay_of=entry.id)
        result = await self.invoke(ref, entry.request.data or b"{}", request_id=request_id, trigger=trigger)
        return result, self.journal.of_request(request_id)

    async def provision(self, record: FunctionRecord, qualifier: str, count: int) -> None:
        """Keep ``count`` environments of a version or alias initialized (provisioned concurrency).

        Replaces the environments provisioned before for the same qualifier; 0 releases them.
        Returns once every environment has initialized. Raises ``ExecutorError`` when one cannot.
        """
        for env in self._provisioned.pop((record.key, qualifier), []):
            env.stop()
        if count <= 0:
            return
        resolved = record.resolve(qualifier)  # an alias: its primary version, not a weighted pick
        if resolved is None:
            raise ResourceNotFoundError(f"Function not found: {record.latest.config['FunctionArn']}:{qualifier}")
        spec = self.specs.spec(record, resolved[0])
        envs: list[ExecutionEnvironment] = []
        try:
            for _ in range(count):
                envs.append(await self.pool.create(spec, provisioned=True))
            await asyncio.gather(*(env.wait_initialized() for env in envs))
        except BaseException:
            for env in envs:
                env.stop()
            raise
        self._provisioned[(record.key, qualifier)] = envs
        for env in envs:
            self.pool.park(env)
