"""Telemetry/Logs API subscriptions buffer as AWS documents (telemetry-api.html, "Buffering"):
a batch goes out at maxItems, at maxBytes or after timeoutMs, whichever comes first; batches an
extension does not take fast enough are dropped, oldest first, never held without bound."""

from __future__ import annotations

from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.telemetry import MAX_PENDING_BATCHES, LogSubscriptions
from locallambda.testing import ManualClock, async_test

UNREACHABLE = "http://sandbox.localdomain:9/"  # the discard port: nothing listens, deliveries fail


def subscriptions(**buffering: int) -> tuple[LogSubscriptions, ManualClock, TaskScope]:
    clock, tasks = ManualClock(), TaskScope("telemetry")
    subs = LogSubscriptions(tasks, clock)
    subs.subscribe(
        {"destination": {"protocol": "HTTP", "URI": UNREACHABLE}, "types": ["function"], "buffering": buffering}
    )
    return subs, clock, tasks


@async_test
async def test_a_batch_goes_out_at_max_bytes() -> None:
    subs, clock, tasks = subscriptions(maxBytes=262_144, maxItems=10_000, timeoutMs=30_000)
    [sub] = subs._subscribers
    subs.publish("function", "x" * 100_000)
    subs.publish("function", "x" * 100_000)
    assert len(sub.buffer) == 2 and not sub.pending and not sub.sending
    subs.publish("function", "x" * 100_000)  # 300,000 bytes ≥ maxBytes: out it goes
    assert sub.buffer == [] and sub.buffered == 0
    await tasks.close()
    assert clock.pending == 0


@async_test
async def test_a_batch_goes_out_after_timeout_ms() -> None:
    subs, clock, tasks = subscriptions(timeoutMs=500)
    [sub] = subs._subscribers
    subs.publish("function", "a line")
    await clock.advance(0.4)
    assert len(sub.buffer) == 1
    await clock.advance(0.1)
    assert sub.buffer == []
    await tasks.close()


@async_test
async def test_batches_beyond_the_pending_limit_are_dropped_oldest_first() -> None:
    subs, _clock, tasks = subscriptions(maxItems=1)
    [sub] = subs._subscribers
    for i in range(MAX_PENDING_BATCHES + 10):
        subs.publish("function", f"line {i}")  # maxItems=1: every line is a batch
    # The first batch is being sent; of the rest, at most MAX_PENDING_BATCHES wait.
    assert len(sub.pending) <= MAX_PENDING_BATCHES
    assert sub.dropped >= 10 - 1
    await tasks.close()
