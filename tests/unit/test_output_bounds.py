"""The invocation log and the log store without HTTP: lines cut the same however output arrives,
every buffer bounded, the history's byte bounds dropping the oldest lines first."""

from __future__ import annotations

import random
import sys

from locallambda.invoke.invocation_log import MAX_EVENT_BYTES, TAIL_KEPT, InvocationLog, split_event
from locallambda.invoke.logs import LogStore


class _NoSubscribers:
    active = False

    def publish(self, kind: str, record: object) -> None:
        raise AssertionError("nobody subscribed")


def _log(lines: list[str]) -> InvocationLog:
    return InvocationLog("us-east-1/fn", "$LATEST", 128, lambda key, text: lines.append(text), _NoSubscribers())  # type: ignore[arg-type]


def _feed(log: InvocationLog, data: bytes, sizes: random.Random | None) -> None:
    i = 0
    while i < len(data):
        n = sizes.randint(1, 300_000) if sizes else len(data)
        log.output(data[i : i + n])
        i += n


def test_lines_are_cut_the_same_however_the_output_arrives() -> None:
    data = (
        b"short\r\n"
        + b"a" * (3 * MAX_EVENT_BYTES + 5)
        + b"\n\n"
        + "\u00e9".encode() * 300_000
        + b"\r\n"
        + b"b" * MAX_EVENT_BYTES
        + b"\nend without newline"
    )
    whole: list[str] = []
    log = _log(whole)
    _feed(log, data, None)
    log.flush_partial()
    assert [len(line.encode()) for line in whole] == [
        5,
        *[MAX_EVENT_BYTES] * 3,
        5,
        0,
        *[MAX_EVENT_BYTES] * 2,
        75_764,
        MAX_EVENT_BYTES,
        19,
    ]
    assert "\ufffd" not in "".join(whole)
    for seed in range(5):
        chunked: list[str] = []
        log = _log(chunked)
        _feed(log, data, random.Random(seed))
        log.flush_partial()
        assert chunked == whole, seed


def test_split_event_keeps_characters_whole() -> None:
    data = ("x" + "\u20ac" * 10).encode()  # one byte, then three-byte characters
    pieces = [bytes(p) for p in split_event(data, 8)]
    assert b"".join(pieces) == data
    assert all(len(p) <= 8 for p in pieces)
    assert [p.decode() for p in pieces] == [
        "x\u20ac\u20ac",
        "\u20ac\u20ac",
        "\u20ac\u20ac",
        "\u20ac\u20ac",
        "\u20ac\u20ac",
    ]
    assert list(split_event(b"", 8)) == []


def test_the_invocations_own_log_keeps_its_tail_only() -> None:
    lines: list[str] = []
    log = _log(lines)
    log.begin()
    log.start("rid")
    block = b"y" * 1023 + b"\n"
    for _ in range(100 * 1024):  # 100 MB
        log.output(block)
    text = log.end("rid", 1.0, None, None, failed=False)
    assert len(text) < TAIL_KEPT + MAX_EVENT_BYTES
    assert text.endswith("\t\n") and "\nEND RequestId: rid\n" in text
    assert len(text.encode()) > 4096 + 200  # LogType=Tail still gets a full 4 KB of it
    assert len(lines) == 100 * 1024 + 3  # the store saw every line


def test_history_bounds_per_function_in_lines_and_bytes() -> None:
    store = LogStore(truncate=10, history=10, function_bytes=10 * 1024, total_bytes=1 << 30)
    for i in range(100):
        store.line("us-east-1/a", f"{i:04d}")
    assert [text for _, text in store.recent("us-east-1/a", 1000)] == [f"{i:04d}" for i in range(90, 100)]
    for i in range(100):
        store.line("us-east-1/b", f"{i:04d}" + "x" * 1000)
    kept = store.recent("us-east-1/b", 1000)
    assert sum(sys.getsizeof(text) for _, text in kept) <= 10 * 1024
    assert kept[-1][1].startswith("0099") and len(kept) == 9
    # the newest line stays whatever its size
    store.line("us-east-1/b", "z" * 50_000)
    assert [text[0] for _, text in store.recent("us-east-1/b")] == ["z"]


def test_history_bound_across_functions_drops_the_oldest_first() -> None:
    size = sys.getsizeof("x" * 1000)
    store = LogStore(truncate=10, history=1000, function_bytes=1 << 30, total_bytes=10 * size)
    for i in range(6):
        store.line("us-east-1/old", f"{i}".ljust(1000, "x"))
    for i in range(6):
        store.line("us-east-1/new", f"{i}".ljust(1000, "x"))
    assert [text[0] for _, text in store.recent("us-east-1/old")] == ["2", "3", "4", "5"]
    assert len(store.recent("us-east-1/new")) == 6
    store.forget("us-east-1/old")
    for i in range(6, 10):
        store.line("us-east-1/new", f"{i}".ljust(1000, "x"))
    assert [text[0] for _, text in store.recent("us-east-1/new")] == [str(i) for i in range(10)]


def test_history_eviction_order_stays_small() -> None:
    store = LogStore(truncate=10, history=5, function_bytes=1 << 30, total_bytes=1 << 30)
    for i in range(100_000):
        store.line(f"us-east-1/f{i % 3}", "line")
    assert len(store._order) <= 2 * 15 + 1024  # stale entries are swept out
    assert all(len(store.recent(f"us-east-1/f{i}")) == 5 for i in range(3))


def test_recent_takes_since_and_limit() -> None:
    store = LogStore(truncate=10)
    for i in range(10):
        store.line("us-east-1/a", str(i))
    t3 = store.recent("us-east-1/a", 1000)[3][0]
    assert [text for _, text in store.recent("us-east-1/a", 2)] == ["8", "9"]
    assert [text for _, text in store.recent("us-east-1/a", 1000, since=t3)] == [
        text for t, text in store.recent("us-east-1/a", 1000) if t > t3
    ]
    assert store.recent("us-east-1/none") == []
