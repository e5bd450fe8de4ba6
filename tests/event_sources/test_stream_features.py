"""Kinesis and DynamoDB Streams alike: starting positions, batch size and batching window,
ParallelizationFactor, tumbling windows (Lambda developer guide, "Using AWS Lambda with Amazon
Kinesis" and "... with Amazon DynamoDB": "Configuring a stream as an event source", "Time windows").
"""

from __future__ import annotations

import datetime
import itertools
import time
from typing import Any

import pytest

from tests.conftest import Server
from tests.event_sources.conftest import wait_state
from tests.event_sources.streams import Batch, StreamRecorder, make_stream, on_failure_queue, read_queue, wait_until
from tests.invoke.conftest import Functions

KINDS = ["kinesis", "dynamodb"]


@pytest.fixture()
def recorder(srv: Server, functions: Functions) -> StreamRecorder:
    return StreamRecorder(srv, functions)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _ns(batches: list[Batch]) -> list[Any]:
    return [n for b in batches for n in b.ns]


# -- starting positions -----------------------------------------------------------------------


def test_trim_horizon_delivers_what_was_written_before_the_mapping(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    stream = make_stream(srv, kind)
    stream.put_all([{"n": n} for n in range(3)])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    assert _ns(recorder.batches(1, settle=0.5)) == [0, 1, 2]


def test_latest_skips_what_was_written_before_the_mapping(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    lam = srv.client()
    stream = make_stream(srv, kind)
    stream.put_all([{"n": "before"}, {"n": "before"}])
    esm = lam.create_event_source_mapping(
        EventSourceArn=stream.arn, FunctionName=recorder.name, StartingPosition="LATEST", BatchSize=10
    )
    wait_state(lam, esm["UUID"], "Enabled")
    got: list[Batch] = []

    def delivered() -> list[Batch]:
        # the poller takes its position shortly after Enabled: write until one record arrives
        stream.put({"n": "after"})
        got.extend(recorder.batches(1, timeout=1))
        return got

    wait_until(delivered, timeout=30, interval=0)
    got.extend(recorder.batches(0, settle=0.5))
    assert set(_ns(got)) == {"after"}


# -- batching ---------------------------------------------------------------------------------


def test_batch_size_splits_the_backlog(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    stream = make_stream(srv, kind)
    stream.put_all([{"n": n} for n in range(5)])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    assert [b.ns for b in recorder.batches(3, settle=0.5)] == [[0, 1], [2, 3], [4]]


def test_a_batching_window_gathers_records_written_one_by_one(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    lam = srv.client()
    stream = make_stream(srv, kind)
    esm = lam.create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=3,
    )
    wait_state(lam, esm["UUID"], "Enabled")
    stream.put_all([{"n": n} for n in range(4)])
    assert [b.ns for b in recorder.batches(1, settle=0.5)] == [[0, 1, 2, 3]]


# -- ParallelizationFactor --------------------------------------------------------------------


def test_parallelization_factor_overlaps_batches_of_one_shard_in_order_per_key(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    # "Lambda can process up to 10 batches in each shard simultaneously ... Lambda still ensures
    # in-order processing at the partition-key level" (with-kinesis; for DynamoDB: per item).
    stream = make_stream(srv, kind)
    for n in range(3):
        for key in ("a", "b"):
            stream.put({"n": n, "key": key, "sleep": 0.6}, key=key)
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        ParallelizationFactor=2,
    )
    batches = recorder.batches(6, timeout=60, settle=0.5)
    assert len(batches) == 6
    by_key: dict[str, list[Batch]] = {}
    for batch in batches:
        (ask,) = batch.asks
        by_key.setdefault(ask["key"], []).append(batch)
    for key_batches in by_key.values():
        assert [b.ns[0] for b in key_batches] == [0, 1, 2]
        # one key's batches one after the other
        assert all(a.ended <= b.started for a, b in itertools.pairwise(key_batches))
    overlapping = [(a, b) for a in by_key["a"] for b in by_key["b"] if a.started < b.ended and b.started < a.ended]
    assert overlapping, [(b.ns, b.started, b.ended) for b in batches]


# -- tumbling windows -------------------------------------------------------------------------


def _iso(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def _arrival(record: dict[str, Any]) -> float:
    if "kinesis" in record:
        return float(record["kinesis"]["approximateArrivalTimestamp"])
    return float(record["dynamodb"]["ApproximateCreationDateTime"])


def test_tumbling_windows_carry_state_and_end_with_a_final_invocation(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    lam = srv.client()
    stream = make_stream(srv, kind)
    esm = lam.create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        TumblingWindowInSeconds=3,
    )
    assert esm["TumblingWindowInSeconds"] == 3
    stream.put_all([{"n": n} for n in range(3)])
    batches: list[Batch] = []

    def all_windows_final() -> bool:
        batches.extend(recorder.batches(1, timeout=1))
        finals = [b for b in batches if b.event.get("isFinalInvokeForWindow")]
        return sum(b.event["state"].get("count", 0) for b in finals) == 3

    wait_until(all_windows_final, timeout=30, interval=0)
    batches.sort(key=lambda b: b.started)
    shard = stream.shard_id()
    windows: dict[str, list[Batch]] = {}
    for batch in batches:
        event = batch.event
        assert set(event) == {
            "Records",
            "window",
            "state",
            "shardId",
            "eventSourceARN",
            "isFinalInvokeForWindow",
            "isWindowTerminatedEarly",
        }
        assert event["shardId"] == shard and event["eventSourceARN"] == stream.arn
        assert event["isWindowTerminatedEarly"] is False
        start, end = _iso(event["window"]["start"]), _iso(event["window"]["end"])
        assert end - start == 3 and start % 3 == 0
        for record in batch.records:
            assert start <= _arrival(record) < end
        windows.setdefault(event["window"]["start"], []).append(batch)
    carried = False
    for window in windows.values():
        *aggregating, final = window
        seen = 0
        for batch in aggregating:
            assert batch.event["isFinalInvokeForWindow"] is False
            assert batch.event["state"] == ({"count": seen} if seen else {})
            carried = carried or seen > 0
            seen += len(batch.records)
        assert final.event["isFinalInvokeForWindow"] is True
        assert final.records == [] and final.event["state"] == {"count": seen}
    assert carried  # three records a moment apart: at least two share a window
    assert sorted(_ns(batches)) == [0, 1, 2]


def test_records_of_two_windows_in_one_read_reach_both_windows(
    srv: Server, recorder: StreamRecorder, kind: str
) -> None:
    stream = make_stream(srv, kind)
    stream.put({"n": 0})
    time.sleep(1.1)  # the next record in the next one-second window
    stream.put({"n": 1})
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        TumblingWindowInSeconds=1,
    )
    batches: list[Batch] = []

    def both_final() -> bool:
        batches.extend(recorder.batches(1, timeout=1))
        return len([b for b in batches if b.event.get("isFinalInvokeForWindow")]) == 2

    wait_until(both_final, timeout=30, interval=0)
    batches.sort(key=lambda b: b.started)
    # the first window ends before the second one's record is delivered
    assert [(b.ns, b.event["isFinalInvokeForWindow"]) for b in batches] == [
        ([0], False),
        ([], True),
        ([1], False),
        ([], True),
    ]
    assert batches[1].event["state"] == {"count": 1} and batches[3].event["state"] == {"count": 1}
    assert batches[0].event["window"] == batches[1].event["window"] != batches[2].event["window"]


def test_an_answer_without_state_fails_a_windowed_invocation(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    # "If the response does not contain a state property, Lambda considers this a failed
    # invocation" (with-kinesis, "Time windows")
    url, dest = on_failure_queue(srv)
    stream = make_stream(srv, kind)
    stream.put({"n": 0, "answer": {"batchItemFailures": []}})
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        TumblingWindowInSeconds=1,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    (record,) = read_queue(srv.client("sqs"), url, 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] is None
    aggregating = [b for b in recorder.batches(3, settle=0.5) if not b.event["isFinalInvokeForWindow"]]
    assert [b.ns for b in aggregating] == [[0], [0]]


def test_a_state_over_1_mb_terminates_the_window_early(srv: Server, recorder: StreamRecorder, kind: str) -> None:
    # "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates
    # the window early."
    stream = make_stream(srv, kind)
    stream.put_all([{"n": 0, "big_state": 1024 * 1024 + 1}, {"n": 1}])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        TumblingWindowInSeconds=60,
    )
    first, early, second = recorder.batches(3)
    assert first.ns == [0] and first.event["isWindowTerminatedEarly"] is False
    assert early.records == [] and early.event["isFinalInvokeForWindow"] is True
    assert early.event["isWindowTerminatedEarly"] is True
    assert early.event["state"]["size"] > 1024 * 1024  # the big state, as the function reported it
    assert second.ns == [1] and second.event["state"] == {}  # afresh
    assert second.event["isWindowTerminatedEarly"] is False


# -- the payload limit ------------------------------------------------------------------------


def test_batches_stay_under_the_6_mb_payload_limit(srv: Server, recorder: StreamRecorder) -> None:
    # "until it has gathered a full batch, the batching window expires, or the batch reaches the
    # payload limit of 6 MB" (with-kinesis)
    stream = make_stream(srv, "kinesis")
    stream.put_all([{"n": n, "pad": "x" * 900_000} for n in range(7)])
    srv.client().create_event_source_mapping(
        EventSourceArn=stream.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    batches: list[Batch] = []
    wait_until(lambda: batches.extend(recorder.batches(1, timeout=1)) or len(_ns(batches)) >= 7, timeout=60)
    batches.sort(key=lambda b: b.started)
    assert _ns(batches) == list(range(7))
    assert len(batches) > 1
    assert all(b.size <= 6 * 1024 * 1024 for b in batches), [b.size for b in batches]
