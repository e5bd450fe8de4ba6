"""The environment pool (invoke/pool.py) in process: warm reuse, concurrency, keep-alive by the
manual clock, no stale or deleted environment ever served, LAMBDA_STAY_OPEN_MODE off."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.invoke.pool import EnvironmentPool
from locallambda.model.lifecycle import EnvState
from locallambda.model.spec import FunctionSpec, Invocation
from locallambda.model.tasks import TaskScope
from locallambda.testing import FakeExecutor, ManualClock, async_test, echo, exits, function_spec

_ids = itertools.count(1)


class Rig:
    def __init__(self, pool: EnvironmentPool, executor: FakeExecutor, clock: ManualClock) -> None:
        self.pool = pool
        self.executor = executor
        self.clock = clock

    async def invoke(self, spec: FunctionSpec) -> ExecutionEnvironment:
        """One invocation through a lease; the environment that served it."""
        async with self.pool.lease(spec) as env:
            await env.invoke(Invocation(request_id=f"r{next(_ids)}", payload=b"{}", invoked_arn=spec.arn))
        await asyncio.sleep(0)  # the caller's step over: an environment not kept is stopped now
        return env


@contextlib.asynccontextmanager
async def rig(
    *, keepalive_ms: int = 600_000, stay_open: bool = True, reuse: bool = True, start: bool = False
) -> AsyncIterator[Rig]:
    clock = ManualClock()
    executor = FakeExecutor(clock=clock, reuse=reuse)
    pool = EnvironmentPool(
        lambda _spec: executor, keepalive_ms=keepalive_ms, stay_open=stay_open, endpoint_url=None,
        log_line=lambda _key, _line, *_: None, tasks=TaskScope("pool"), clock=clock,
    )  # fmt: skip
    if start:
        pool.start()
    try:
        yield Rig(pool, executor, clock)
    finally:
        await pool.close()
        await executor.close()
        assert executor.running == 0 and not pool.environments
        assert asyncio.all_tasks() == {asyncio.current_task()}


def stopped(env: ExecutionEnvironment) -> bool:
    return env.state is EnvState.STOPPED


@async_test
async def test_a_warm_environment_serves_the_next_invocation() -> None:
    async with rig() as r:
        spec = function_spec()
        first = await r.invoke(spec)
        second = await r.invoke(spec)
        assert first is second and first.state is EnvState.IDLE
        assert (r.executor.starts, r.executor.kills, first.invocations) == (1, 0, 2)


@async_test
async def test_concurrent_leases_get_environments_of_their_own_and_the_warmest_comes_back_first() -> None:
    async with rig() as r:
        spec = function_spec()
        inv = [Invocation(request_id=f"c{i}", payload=b"{}", invoked_arn=spec.arn) for i in range(2)]
        async with r.pool.lease(spec) as a, r.pool.lease(spec) as b:
            assert a is not b
            await asyncio.gather(a.invoke(inv[0]), b.invoke(inv[1]))
        assert r.executor.starts == 2 and len(r.pool.environments) == 2
        # b was given back first, a last: a is the warmest.
        assert await r.invoke(spec) is a
        assert r.executor.starts == 2


@async_test
async def test_versions_of_one_function_do_not_share_environments() -> None:
    async with rig() as r:
        latest = await r.invoke(function_spec())
        one = await r.invoke(function_spec(version="1"))
        assert latest is not one and r.executor.starts == 2


@async_test
async def test_an_environment_idle_past_the_keep_alive_is_reaped() -> None:
    async with rig(keepalive_ms=1000) as r:
        env = await r.invoke(function_spec())
        await r.clock.advance(0.5)
        r.pool.reap()
        assert not stopped(env)
        await r.clock.advance(0.5)
        r.pool.reap()
        assert stopped(env) and r.executor.kills == 1
        assert not r.pool.environments
        assert await r.invoke(function_spec()) is not env


@async_test
async def test_the_reaper_runs_on_the_clock() -> None:
    async with rig(keepalive_ms=1000, start=True) as r:
        env = await r.invoke(function_spec())
        await r.clock.advance(0.6)
        assert not stopped(env)
        await r.clock.advance(0.6)
        assert stopped(env) and not r.pool.environments


@async_test
async def test_use_renews_the_keep_alive() -> None:
    async with rig(keepalive_ms=1000) as r:
        env = await r.invoke(function_spec())
        for _ in range(3):
            await r.clock.advance(0.8)
            r.pool.reap()
            assert await r.invoke(function_spec()) is env
        assert r.executor.starts == 1


@async_test
async def test_after_an_update_no_environment_of_the_older_generation_is_reused() -> None:
    async with rig() as r:
        old = function_spec(generation=0)
        async with r.pool.lease(old) as busy:
            idle = await r.invoke(old)  # a second environment, idle after its invocation
            r.pool.update(old.key, old.incarnation, 1)
            assert stopped(idle)  # idle: dropped at once
            await busy.invoke(Invocation(request_id="during", payload=b"{}", invoked_arn=old.arn))
        # Busy during the update: dropped when it came back, once its caller's step (the answer
        # written) is over.
        assert not stopped(busy)
        await asyncio.sleep(0)
        assert stopped(busy)
        new = function_spec(generation=1)
        fresh = await r.invoke(new)
        assert fresh not in (idle, busy) and fresh.spec.generation == 1
        assert await r.invoke(new) is fresh  # the new generation is warm in turn


@async_test
async def test_an_update_drops_idle_environments_of_latest_and_keeps_published_versions() -> None:
    async with rig() as r:
        latest = await r.invoke(function_spec())
        published = await r.invoke(function_spec(version="1"))
        r.pool.update(latest.spec.key, latest.spec.incarnation, 1)
        assert stopped(latest) and not stopped(published)
        assert await r.invoke(function_spec(version="1")) is published


@async_test
async def test_a_deleted_functions_environments_never_serve_again() -> None:
    async with rig() as r:
        old = function_spec(incarnation="first")
        async with r.pool.lease(old) as busy:
            idle = await r.invoke(old)
            r.pool.forget(old.key, old.incarnation)
            assert stopped(idle)
            await busy.invoke(Invocation(request_id="during", payload=b"{}", invoked_arn=old.arn))
        await asyncio.sleep(0)
        assert stopped(busy)
        # A function created anew under the same name is another incarnation.
        again = function_spec(incarnation="second")
        r.pool.update(again.key, again.incarnation, 0)
        fresh = await r.invoke(again)
        assert fresh not in (idle, busy) and fresh.state is EnvState.IDLE
        assert r.executor.starts == 3


@async_test
async def test_stay_open_mode_off_discards_every_environment_after_one_invocation() -> None:
    async with rig(stay_open=False) as r:
        envs = [await r.invoke(function_spec()) for _ in range(3)]
        assert len(set(envs)) == 3 and all(map(stopped, envs))
        assert (r.executor.starts, r.executor.kills) == (3, 3)


@async_test
async def test_a_keep_alive_of_zero_keeps_nothing() -> None:
    async with rig(keepalive_ms=0) as r:
        first = await r.invoke(function_spec())
        assert stopped(first) and await r.invoke(function_spec()) is not first


@async_test
async def test_an_executor_without_reuse_serves_one_invocation_per_environment() -> None:
    async with rig(reuse=False) as r:
        first = await r.invoke(function_spec())
        assert stopped(first) and r.executor.kills == 1


@async_test
async def test_closing_the_pool_stops_every_environment() -> None:
    async with rig() as r:
        spec = function_spec()
        idle = await r.invoke(spec)
        started = await r.pool.create(function_spec("other"))
        await r.pool.close()
        assert stopped(idle) and stopped(started)
        assert r.executor.running == 0 and not r.pool.environments


@async_test
async def test_a_deleted_versions_environments_are_stopped() -> None:
    async with rig() as r:
        one, two = function_spec(version="1"), function_spec(version="2")
        env_one, env_two = await r.invoke(one), await r.invoke(two)
        r.pool.update(one.key, one.incarnation, 0, frozenset({"$LATEST", "2"}))  # version 1 deleted
        assert stopped(env_one) and not stopped(env_two)
        assert await r.invoke(two) is env_two


@async_test
async def test_a_reset_environment_goes_back_to_the_pool_and_serves_the_next_invocation() -> None:
    # AWS reuses an environment reset after a crash: the next invocation starts its runtime
    # again there (lambda-runtime-environment.html, "Failures during the invoke phase").
    async with rig() as r:
        r.executor.handlers["crash"] = exits(1)
        crash = function_spec("crash")
        first = await r.invoke(crash)
        assert first.state is EnvState.RESET and r.pool.environments == {first}
        r.executor.handlers["crash"] = echo
        second = await r.invoke(crash)
        assert second is first and second.state is EnvState.IDLE
        assert (r.executor.starts, r.executor.kills, r.executor.resets) == (1, 0, 1)


@async_test
async def test_a_reset_environment_past_the_keep_alive_is_reaped() -> None:
    async with rig(keepalive_ms=1000) as r:
        r.executor.handlers["crash"] = exits(1)
        env = await r.invoke(function_spec("crash"))
        await r.clock.advance(1)
        r.pool.reap()
        assert stopped(env) and not r.pool.environments
