"""Warm environments, held per function version and reused.

Idle environments wait in a LIFO stack per (function, version); an invoke takes the most recently
used one (the warmest) or starts a new one. ``LAMBDA_KEEPALIVE_MS`` stops environments idle for
longer (0: none is kept); ``LAMBDA_STAY_OPEN_MODE=0`` discards every environment after one
invoke. Environments of an older generation of a function (before an update) are never reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from locallambda.control.arns import LATEST
from locallambda.executors.base import Executor
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.invoke.models import EnvState, FunctionSpec

__all__ = ["EnvironmentPool"]

log = logging.getLogger("locallambda.pool")

PoolKey = tuple[str, str]  # (function key, version)


class EnvironmentPool:
    def __init__(
        self,
        executor_for: Callable[[FunctionSpec], Executor],
        *,
        keepalive_ms: int,
        stay_open: bool,
        endpoint_url: str | None,
        log_line: Callable[[str, str], None],
    ) -> None:
        self._executor_for = executor_for
        self._keepalive_s = keepalive_ms / 1000
        self._stay_open = stay_open
        self._endpoint_url = endpoint_url
        self._log_line = log_line
        self._idle: dict[PoolKey, list[ExecutionEnvironment]] = {}
        self._all: set[ExecutionEnvironment] = set()
        # Per function: the incarnation and $LATEST generation environments must match to be
        # reused; incarnations of deleted functions never serve again.
        self._current: dict[str, tuple[str, int]] = {}
        self._dead: set[str] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._keepalive_s > 0:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def acquire(self, spec: FunctionSpec) -> ExecutionEnvironment:
        """A warm environment for ``spec``, or a newly started one. Raises ``ExecutorError``."""
        stack = self._idle.get((spec.key, spec.version))
        while stack:
            env = stack.pop()
            if (
                env.state is EnvState.IDLE
                and env.spec.incarnation == spec.incarnation
                and env.spec.generation == spec.generation
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
        # Published versions never change; only $LATEST environments age with updates.
        return spec.version != LATEST or spec.generation == generation

    async def create(self, spec: FunctionSpec) -> ExecutionEnvironment:
        if self._closing:
            raise asyncio.CancelledError()
        executor = self._executor_for(spec)
        env = ExecutionEnvironment(
            spec, executor, endpoint_url=self._endpoint_url, log_line=self._log_line,
            bind_host=executor.runtime_api_host,
        )
        self._all.add(env)
        try:
            await env.start()
        except BaseException:
            self._all.discard(env)
            raise
        return env

    def release(self, env: ExecutionEnvironment) -> None:
        """Give an environment back after an invoke (stopped ones are dropped)."""
        if (
            env.state is not EnvState.IDLE
            or not env.executor.reuse
            or (not env.provisioned and (not self._stay_open or self._keepalive_s <= 0))
            or self._closing
            or not self._is_current(env.spec)
        ):
            self._discard(env)
            return
        self._idle.setdefault((env.spec.key, env.spec.version), []).append(env)

    def park(self, env: ExecutionEnvironment) -> None:
        """Put a pre-started (provisioned) environment in the idle stack."""
        env.mark_ready()
        self.release(env)

    def _discard(self, env: ExecutionEnvironment) -> None:
        env.stop()
        self._all.discard(env)
        stack = self._idle.get((env.spec.key, env.spec.version))
        if stack and env in stack:
            stack.remove(env)

    def update(self, key: str, incarnation: str, generation: int) -> None:
        """A function changed: drop idle environments that no longer match it (busy ones are
        dropped when they come back)."""
        self._current[key] = (incarnation, generation)
        self._drop_stale(key)

    def forget(self, key: str, incarnation: str) -> None:
        """A function was deleted: none of its environments serves again."""
        self._dead.add(incarnation)
        self._current.pop(key, None)
        self._drop_stale(key)

    def _drop_stale(self, key: str) -> None:
        for (k, _), stack in list(self._idle.items()):
            if k == key:
                for env in list(stack):
                    if not self._is_current(env.spec):
                        self._discard(env)

    async def _reap(self) -> None:
        interval = max(0.05, min(1.0, self._keepalive_s / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for stack in list(self._idle.values()):
                for env in list(stack):
                    # Provisioned environments stay warm for as long as their configuration exists.
                    if not env.provisioned and now - env.last_used >= self._keepalive_s:
                        log.debug("keep-alive expired for environment %s of %s", env.id, env.spec.key)
                        self._discard(env)

    async def close(self) -> None:
        """Stop every environment this pool started and wait for them to exit."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        envs = list(self._all)
        for env in envs:
            env.stop()
        await asyncio.gather(*(env.wait_stopped() for env in envs), return_exceptions=True)
        self._all.clear()
        self._idle.clear()
