"""Stream mappings across a restart of the server with persistence on: the checkpoint of each shard
is kept, so what was processed before is not delivered again and what comes after is ("Lambda keeps
track of the last record processed and resumes processing from that point", with-kinesis)."""

from __future__ import annotations

from typing import Any

from tests.event_sources.conftest import wait_state
from tests.event_sources.streams import DynamoDBTable, KinesisStream, Stream, StreamRecorder
from tests.invoke.conftest import Functions


def _seen(batches: Any) -> list[tuple[str, int]]:
    return sorted((a["kind"], a["n"]) for b in batches for a in b.asks)


def test_checkpoints_survive_a_restart(spawn_server: Any, tmp_path: Any) -> None:
    env = {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}
    first = spawn_server(**env)
    recorder = StreamRecorder(first, Functions(first))
    streams: list[Stream] = [KinesisStream(first), DynamoDBTable(first)]
    lam = first.client()
    mappings = []
    for stream in streams:
        stream.put_all([{"kind": stream.kind, "n": n} for n in range(2)])
        esm = lam.create_event_source_mapping(
            EventSourceArn=stream.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=10
        )
        mappings.append(esm["UUID"])
    assert _seen(recorder.batches(2, settle=0.5)) == [("dynamodb", 0), ("dynamodb", 1), ("kinesis", 0), ("kinesis", 1)]
    first.stop()

    second = spawn_server(**env)
    recorder.sqs = second.client("sqs")
    for stream in streams:
        stream.rebind(second)
        stream.put_all([{"kind": stream.kind, "n": n} for n in range(2, 4)])
    for uuid in mappings:
        wait_state(second.client(), uuid, "Enabled")
    after = recorder.batches(2, settle=1.5)
    assert _seen(after) == [("dynamodb", 2), ("dynamodb", 3), ("kinesis", 2), ("kinesis", 3)]
