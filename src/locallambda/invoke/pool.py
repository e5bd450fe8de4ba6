"""Warm environments, held per function version and reused.

Idle environments wait in a LIFO stack per (function, version); an invoke leases the most
recently used one (the warmest) or starts a new one, and gives it back when done.
``LAMBDA_KEEPALIVE_MS`` stops environments idle for longer (0: none is kept);
``LAMBDA_STAY_OPEN_MODE=0`` discards every environment after one invoke. Environments of an
older generation of a function (before an update) are never reused. An environment reset after a
failed invocation (``EnvState.RESET``: its runtime shut down, its ``/tmp`` kept) goes back to the
stack like an idle one, and the invocation that leases it starts its runtime again, as AWS reuses
a reset environment (lambda-runtime-environment.html, "Failures during the invoke phase").
Provisioned and debugged (``invoke.debugging``) environments are kept whatever the keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from locallambda.executors.base import Executor
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.model.clock import Clock
from locallambda.model.refs import LATEST
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope

__all__ = ["EnvironmentPool", "PoolClosed"]

log = logging.getLogger(__name__)

PoolKey = tuple[str, str]  # (function key, version), a debugged version's apart


def _slot(spec: FunctionSpec) -> PoolKey:
    # A debugged version's environments (debug mode) and its provisioned, undebugged ones never
    # serve each other's invocations.
    return (spec.key, spec.version if spec.debug is None else f"{spec.version} debug:{spec.debug.port}")


def _kept(env: ExecutionEnvironment) -> bool:
    """Whether an idle environment stays however long it idles: a provisioned one, and a debugged
    one (its debugger stays attached; LocalStack's debug environments are provisioned ones)."""
    return env.provisioned or env.spec.debug is not None


class PoolClosed(RuntimeError):
    """The pool is shutting down and starts no environment."""


class EnvironmentPool:
    def __init__(
        self,
        executor_for: Callable[[FunctionSpec], Executor],
        *,
        keepalive_ms: int,
        stay_open: bool,
        endpoint_url: str | None,
        log_line: Callable[[str, str], None],
        tasks: TaskScope,
        clock: Clock,
        startup_timeout_s: float = 20.0,
        stale: Callable[[FunctionSpec], bool] | None = None,
    ) -> None:
        """``stale``: whether an environment's spec is no longer what its function runs (Lambda
        debug mode's changed configuration); such an environment serves no more invocations."""
        self._executor_for = executor_for
        self._keepalive_s = keepalive_ms / 1000
        self._stay_open = stay_open
        self._endpoint_url = endpoint_url
        self._log_line = log_line
        self._tasks = tasks
        self._clock = clock
        self._startup_timeout_s = startup_timeout_s
        self._stale = stale or (lambda spec: False)
        self._idle: dict[PoolKey, list[ExecutionEnvironment]] = {}
        self._all: set[ExecutionEnvironment] = set()
        # Per function: the incarnation and $LATEST generation environments must match to be
        # reused; incarnations of deleted functions never serve again.
        self._current: dict[str, tuple[str, int]] = {}
        self._versions: dict[str, frozenset[str]] = {}  # per function: the versions that exist
        self._dead: set[str] = set()
        self._closing = False

    @property
    def environments(self) -> frozenset[ExecutionEnvironment]:
        """Every environment started and not yet discarded."""
        return frozenset(self._all)

    def start(self) -> None:
        if self._keepalive_s > 0:
            self._tasks.spawn(self._reap(), name="keep-alive reaper")

    @contextlib.asynccontextmanager
    async def lease(self, spec: FunctionSpec) -> AsyncIterator[ExecutionEnvironment]:
        """A warm environment for ``spec`` (or a new one) for the duration of the block; given
        back, or discarded, afterwards. Raises ``ExecutorError`` when none can be started."""
        env = await self.acquire(spec)
        try:
            yield env
        finally:
            self.release(env)

    async def acquire(self, spec: FunctionSpec) -> ExecutionEnvironment:
        """A warm environment for ``spec``, or a newly started one. Raises ``ExecutorError``."""
        stack = self._idle.get(_slot(spec))
        while stack:
            env = stack.pop()
            if (
                env.state.leasable
                and env.spec.incarnation == spec.incarnation
                and env.spec.generation == spec.generation
                and env.spec.debug == spec.debug
            ):
                return env
            self._discard(env)
        return await self.create(spec)

    def _is_current(self, spec: FunctionSpec) -> bool:
        if spec.incarnation in self._dead:
            return False
        current = self._current.get(spec.key)
        if current is None:
            return True
        incarnation, generation = current
        if spec.incarnation != incarnation:
            return False
        versions = self._versions.get(spec.key)
        if versions is not None and spec.version not in versions:
            return False  # a deleted version serves no more invocations
        # Published versions never change; only $LATEST environments age with updates.
        return spec.version != LATEST or spec.generation == generation

    async def create(self, spec: FunctionSpec, *, provisioned: bool = False) -> ExecutionEnvironment:
        """Start a new environment (not yet initialized; ``provisioned``: pre-started for
        provisioned concurrency). Raises ``ExecutorError`` and ``PoolClosed``."""
        if self._closing:
            raise PoolClosed("the server is shutting down")
        executor = self._executor_for(spec)
        env = ExecutionEnvironment(
            spec,
            executor,
            endpoint_url=self._endpoint_url,
            log_line=self._log_line,
            bind_host=executor.runtime_api_host,
            tasks=self._tasks,
            clock=self._clock,
            startup_timeout_s=self._startup_timeout_s,
            provisioned=provisioned,
        )
        self._all.add(env)
        try:
            await env.start()
        except BaseException:
            self._all.discard(env)
            raise
        return env

    def release(self, env: ExecutionEnvironment) -> None:
        """Give an environment back after an invoke (stopped ones are dropped; reset ones are
        kept, as idle ones are)."""
        if (
            not env.state.leasable
            or not env.executor.reuse
            or (not _kept(env) and (not self._stay_open or self._keepalive_s <= 0))
            or self._closing
            or not self._is_current(env.spec)
            or self._stale(env.spec)
        ):
            # Once the answer has left (this is the invocation's last step on the event loop
            # before it is written): the teardown, processes killed and their cgroup emptied
            # (~1.5 ms here), is not the caller's to wait for. Nothing leases it meanwhile: it
            # is in no idle stack.
            asyncio.get_running_loop().call_soon(self._discard, env)
            return
        env.last_used = self._clock.monotonic()
        self._idle.setdefault(_slot(env.spec), []).append(env)

    def park(self, env: ExecutionEnvironment) -> None:
        """Put a pre-started (provisioned) environment in the idle stack."""
        env.mark_ready()
        self.release(env)

    def _discard(self, env: ExecutionEnvironment) -> None:
        env.stop()
        self._all.discard(env)
        stack = self._idle.get(_slot(env.spec))
        if stack and env in stack:
            stack.remove(env)

    def update(self, key: str, incarnation: str, generation: int, versions: frozenset[str] | None = None) -> None:
        """A function changed: drop idle environments that no longer match it, or whose version
        is no longer among ``versions`` (busy ones are dropped when they come back)."""
        self._current[key] = (incarnation, generation)
        if versions is not None:
            self._versions[key] = versions
        self._drop_stale(key)

    def forget(self, key: str, incarnation: str) -> None:
        """A function was deleted: none of its environments serves again."""
        self._dead.add(incarnation)
        self._current.pop(key, None)
        self._versions.pop(key, None)
        self._drop_stale(key)

    def _drop_stale(self, key: str) -> None:
        for (k, _), stack in list(self._idle.items()):
            if k == key:
                for env in list(stack):
                    if not self._is_current(env.spec):
                        self._discard(env)

    def sweep(self) -> None:
        """Stop the idle environments whose spec is ``stale`` now (busy ones when they come back)."""
        for stack in list(self._idle.values()):
            for env in list(stack):
                if self._stale(env.spec):
                    self._discard(env)

    def reap(self) -> None:
        """Stop the environments idle for longer than the keep-alive (provisioned ones stay)."""
        now = self._clock.monotonic()
        for stack in list(self._idle.values()):
            for env in list(stack):
                if not _kept(env) and now - env.last_used >= self._keepalive_s:
                    log.debug("keep-alive expired for environment %s of %s", env.id, env.spec.key)
                    self._discard(env)

    async def _reap(self) -> None:
        interval = max(0.05, min(1.0, self._keepalive_s / 4))
        while True:
            await self._clock.sleep(interval)
            self.reap()

    async def close(self) -> None:
        """Stop every environment this pool started and wait for them to exit."""
        self._closing = True
        envs = list(self._all)
        for env in envs:
            env.stop()
        await asyncio.gather(*(env.wait_stopped() for env in envs), return_exceptions=True)
        await self._tasks.close()
        self._all.clear()
        self._idle.clear()
