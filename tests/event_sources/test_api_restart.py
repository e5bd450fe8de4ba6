"""Mappings across a restart with persistence on: Get and List show them with the same UUID,
state and settings, an Enabled SQS mapping polls again (a message sent after the restart invokes
the function) and a Disabled one stays disabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.event_sources.api_calls import queue, without_ids
from tests.event_sources.conftest import Recorder, wait_state
from tests.invoke.conftest import Functions


def _bodies(events: list[Any]) -> list[str]:
    return sorted(r["body"] for e in events for r in e.get("Records", []))


def test_mappings_resume_after_a_restart(spawn_server: Any, tmp_path: Path) -> None:
    env = {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}
    first = spawn_server(**env)
    recorder = Recorder(first, Functions(first))
    lam = first.client()
    on_url, on_arn = queue(first)
    off_url, off_arn = queue(first)
    on = lam.create_event_source_mapping(EventSourceArn=on_arn, FunctionName=recorder.name, BatchSize=1)
    off = lam.create_event_source_mapping(EventSourceArn=off_arn, FunctionName=recorder.name, Enabled=False)
    lam.tag_resource(Resource=on["EventSourceMappingArn"], Tags={"kept": "yes"})
    before_on = wait_state(lam, on["UUID"], "Enabled")
    first.client("sqs").send_message(QueueUrl=on_url, MessageBody="before")
    assert _bodies(recorder.events(1)) == ["before"]
    before_off = lam.get_event_source_mapping(UUID=off["UUID"])
    first.stop()

    second = spawn_server(**env)
    lam = second.client()
    sqs = second.client("sqs")
    recorder.sqs = sqs
    after_on = wait_state(lam, on["UUID"], "Enabled")
    assert {k: after_on[k] for k in ("UUID", "EventSourceMappingArn", "LastModified")} == {
        k: before_on[k] for k in ("UUID", "EventSourceMappingArn", "LastModified")
    }
    assert without_ids(after_on) == without_ids(before_on)
    assert without_ids(lam.get_event_source_mapping(UUID=off["UUID"])) == without_ids(before_off)
    assert before_off["State"] == "Disabled"
    listed = {
        m["UUID"]: m["State"] for m in lam.list_event_source_mappings(FunctionName=recorder.name)["EventSourceMappings"]
    }
    assert listed == {on["UUID"]: "Enabled", off["UUID"]: "Disabled"}
    assert lam.list_tags(Resource=on["EventSourceMappingArn"])["Tags"] == {"kept": "yes"}

    sqs.send_message(QueueUrl=on_url, MessageBody="after")
    sqs.send_message(QueueUrl=off_url, MessageBody=json.dumps({"to": "the disabled mapping"}))
    assert _bodies(recorder.events(1, settle=2.0)) == ["after"]
    # the disabled mapping's queue still holds its message
    waiting = sqs.get_queue_attributes(QueueUrl=off_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert lam.get_event_source_mapping(UUID=off["UUID"])["State"] == "Disabled"
    for uuid_ in (on["UUID"], off["UUID"]):
        lam.delete_event_source_mapping(UUID=uuid_)
