"""MaximumRecordAgeInSeconds: a record older than the maximum age is not retried any longer; it goes
to the on-failure destination with the condition RecordAgeExceeded and no responseContext (the
AWS-recorded ``test_kinesis_maximum_record_age_exceeded`` of LocalStack's parity snapshots), and
the shard goes on. AWS's smallest maximum age is 60 s, so this test takes a minute."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Server
from tests.event_sources.streams import StreamRecorder, make_stream, on_failure_queue, read_queue
from tests.invoke.conftest import Functions

BATCH_INFO = {"kinesis": "KinesisBatchInfo", "dynamodb": "DDBStreamBatchInfo"}


@pytest.mark.slow
def test_records_past_the_maximum_age_are_discarded_to_the_destination(srv: Server, functions: Functions) -> None:
    recorder = StreamRecorder(srv, functions)
    url, dest = on_failure_queue(srv)
    lam = srv.client()
    streams = {kind: make_stream(srv, kind) for kind in ("kinesis", "dynamodb")}
    poison = {}
    esms = {}
    for kind, stream in streams.items():
        poison[kind] = stream.put({"kind": kind, "n": 0, "fail": True})
        esms[kind] = lam.create_event_source_mapping(
            EventSourceArn=stream.arn,
            FunctionName=recorder.name,
            StartingPosition="TRIM_HORIZON",
            BatchSize=1,
            MaximumRecordAgeInSeconds=60,
            MaximumRetryAttempts=-1,  # forever: only the age ends the retries
            DestinationConfig={"OnFailure": {"Destination": dest}},
        )
    started = time.monotonic()
    got = read_queue(srv.client("sqs"), url, 2, timeout=120)
    assert time.monotonic() - started >= 55  # not before the record was a minute old
    records: dict[str, dict[str, Any]] = {}
    for record in got:
        kind = "kinesis" if "KinesisBatchInfo" in record else "dynamodb"
        records[kind] = record
    assert set(records) == {"kinesis", "dynamodb"}
    for kind, record in records.items():
        assert set(record) == {"requestContext", "version", "timestamp", BATCH_INFO[kind]}, record
        context = record["requestContext"]
        assert context["condition"] == "RecordAgeExceeded"
        assert context["functionArn"] == esms[kind]["FunctionArn"]
        assert context["approximateInvokeCount"] >= 2
        info = record[BATCH_INFO[kind]]
        assert (info["startSequenceNumber"], info["batchSize"]) == (poison[kind], 1)
    # the shard goes on past the discarded record
    for kind, stream in streams.items():
        stream.put({"kind": kind, "n": 1})
    deadline = time.monotonic() + 30
    delivered: set[str] = set()
    while delivered != {"kinesis", "dynamodb"} and time.monotonic() < deadline:
        for batch in recorder.batches(1, timeout=1):
            delivered.update(a["kind"] for a in batch.asks if a["n"] == 1)
    assert delivered == {"kinesis", "dynamodb"}
