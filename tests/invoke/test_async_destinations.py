"""Asynchronous invocation as AWS does it: retries, maximum age, throttles, destinations, DLQs.

Docs: invocation-async-error-handling.html, invocation-async-retain-records.html. The invocation
records are compared with AWS's, recorded in LocalStack's parity snapshots
(test_lambda_destinations, TestLambdaConcurrency): SQS, SNS, EventBridge and Lambda destinations,
conditions Success, RetriesExhausted, EventAgeExceeded and ZeroReservedConcurrency, and the
dead-letter message with its RequestID, ErrorCode and ErrorMessage attributes.

The module's server waits ``LAMBDA_RETRY_BASE_DELAY=0.1`` s before a first retry (0.2 s before
a second) instead of AWS's minute, so retries are quick.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import CLI_ENV, EXECUTOR, Functions, stop_checked, unique

ACCOUNT = "000000000000"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

FAILING = """\
import json, time

def handler(event, context):
    print("event run", context.aws_request_id, json.dumps(event, sort_keys=True))
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise Exception("intentional failure")
    return {"echo": event, "version": context.function_version}
"""

RECEIVER = """\
import json

def handler(event, context):
    print("received", json.dumps(event, sort_keys=True))
"""


@pytest.fixture(scope="module")
def fast() -> Iterator[Server]:
    server = Server(
        env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR, "LAMBDA_RETRY_BASE_DELAY": "0.1", **CLI_ENV}
    ).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def fns(fast: Server) -> Iterator[Functions]:
    f = Functions(fast)
    yield f
    f.cleanup()


# -- helpers ----------------------------------------------------------------------------------


def history(server: Server, name: str) -> list[str]:
    with urllib.request.urlopen(f"{server.url}/_aws/lambda/logs/us-east-1/{name}") as resp:
        return [entry["line"] for entry in json.load(resp)["lines"]]


def runs(server: Server, name: str) -> list[str]:
    return [line for line in history(server, name) if line.startswith("event run ")]


def make_queue(server: Server) -> tuple[str, str]:
    """A new SQS queue: its URL and ARN."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=unique("dest"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(server: Server, url: str, timeout: float = 30.0) -> dict[str, Any]:
    """The next message of the queue (deleted), waiting for it up to ``timeout`` seconds."""
    sqs = server.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=1, MessageAttributeNames=["All"])
        if out.get("Messages"):
            message: dict[str, Any] = out["Messages"][0]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return message
    raise AssertionError(f"nothing arrived in {url} within {timeout}s")


def record_of(server: Server, url: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(receive(server, url)["Body"])
    return record


def fn_arn(name: str, qualifier: str = "$LATEST") -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}:{qualifier}"


def invoke_event(fns: Functions, name: str, payload: Any, **kw: Any) -> str:
    resp = fns.client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload), **kw)
    assert resp["StatusCode"] == 202
    return str(resp["ResponseMetadata"]["RequestId"])


def check_record(record: dict[str, Any]) -> None:
    """The members and their order as AWS records them."""
    keys = ["version", "timestamp", "requestContext", "requestPayload"]
    if "responseContext" in record:
        keys += ["responseContext", "responsePayload"]
    assert list(record) == keys
    assert record["version"] == "1.0"
    assert TIMESTAMP.fullmatch(record["timestamp"]), record["timestamp"]
    assert list(record["requestContext"]) == ["requestId", "functionArn", "condition", "approximateInvokeCount"]


# -- destinations -----------------------------------------------------------------------------


def test_on_success_to_sqs(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {"k": "v"})
    record = record_of(fns.server, url)
    check_record(record)
    assert record["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(name),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"k": "v"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"k": "v"}, "version": "$LATEST"}


def test_on_failure_to_sqs_after_the_retries(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {"fail": True})
    record = record_of(fns.server, url)
    check_record(record)
    assert record["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(name),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"fail": True}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "intentional failure"
    assert record["responsePayload"]["errorType"] == "Exception"
    # three runs, one request id throughout
    assert runs(fns.server, name) == [f'event run {rid} {{"fail": true}}'] * 3


def test_default_retries_are_two(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    invoke_event(fns, name, {"fail": True})
    assert record_of(fns.server, url)["requestContext"]["approximateInvokeCount"] == 3


def test_maximum_retry_attempts_zero(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {"fail": True})
    record = record_of(fns.server, url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert runs(fns.server, name) == [f'event run {rid} {{"fail": true}}']


def test_a_retry_that_succeeds_is_a_success(fns: Functions) -> None:
    # fails on the first run only: the marker file is in the function's /tmp
    source = FAILING.replace(
        'if event.get("fail"):',
        "import os\n    marker = '/tmp/ran-' + context.function_name\n"
        "    first = not os.path.exists(marker)\n    open(marker, 'w').close()\n    if first:",
    )
    name = fns.python(source)
    url, arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {"n": 1})
    record = record_of(fns.server, url)
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_on_failure_to_sns(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, queue_arn = make_queue(fns.server)
    sns = fns.server.client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": topic}}
    )
    rid = invoke_event(fns, name, {"fail": True})
    envelope = json.loads(receive(fns.server, url)["Body"])
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    check_record(record)
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_on_success_and_failure_to_eventbridge(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, queue_arn = make_queue(fns.server)
    events = fns.server.client("events")
    bus = unique("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    rule = unique("rule")
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    fns.client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": bus_arn}, "OnFailure": {"Destination": bus_arn}},
    )
    ok = invoke_event(fns, name, {"mode": "success"})
    first = json.loads(receive(fns.server, url)["Body"])
    failed = invoke_event(fns, name, {"mode": "failure", "fail": True})
    second = json.loads(receive(fns.server, url)["Body"])
    for event, rid, kind, condition in (
        (first, ok, "Success", "Success"),
        (second, failed, "Failure", "RetriesExhausted"),
    ):
        assert event["source"] == "lambda"
        assert event["detail-type"] == f"Lambda Function Invocation Result - {kind}"
        assert event["resources"] == [bus_arn, fn_arn(name)]
        check_record(event["detail"])
        assert event["detail"]["requestContext"]["requestId"] == rid
        assert event["detail"]["requestContext"]["condition"] == condition
    assert second["detail"]["responseContext"]["functionError"] == "Unhandled"


def test_on_success_to_lambda(fns: Functions) -> None:
    name = fns.python(FAILING)
    target = fns.python(RECEIVER)
    target_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{target}"
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": target_arn}}
    )
    rid = invoke_event(fns, name, {"to": "lambda"})
    deadline = time.monotonic() + 30
    received: list[str] = []
    while not received and time.monotonic() < deadline:
        received = [line for line in history(fns.server, target) if line.startswith("received ")]
        time.sleep(0.05)
    assert received, "the destination function never ran"
    record = json.loads(received[0].removeprefix("received "))
    assert record["requestContext"] == {
        "approximateInvokeCount": 1,
        "condition": "Success",
        "functionArn": fn_arn(name),
        "requestId": rid,
    }
    assert record["requestPayload"] == {"to": "lambda"}
    assert record["responsePayload"] == {"echo": {"to": "lambda"}, "version": "$LATEST"}


# -- dead-letter queues -----------------------------------------------------------------------


def test_dead_letter_queue_on_sqs(fns: Functions) -> None:
    url, arn = make_queue(fns.server)
    name = fns.python(FAILING, DeadLetterConfig={"TargetArn": arn})
    fns.client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    rid = invoke_event(fns, name, {"raise_error": 1, "fail": True})
    message = receive(fns.server, url)
    assert json.loads(message["Body"]) == {"raise_error": 1, "fail": True}
    assert message["MessageAttributes"] == {
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "intentional failure"},
        "RequestID": {"DataType": "String", "StringValue": rid},
    }
    assert len(runs(fns.server, name)) == 2


def test_dead_letter_topic_on_sns(fns: Functions) -> None:
    url, queue_arn = make_queue(fns.server)
    sns = fns.server.client("sns")
    topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    name = fns.python(FAILING, DeadLetterConfig={"TargetArn": topic})
    fns.client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    rid = invoke_event(fns, name, {"fail": True})
    envelope = json.loads(receive(fns.server, url)["Body"])
    assert json.loads(envelope["Message"]) == {"fail": True}
    assert envelope["MessageAttributes"]["RequestID"] == {"Type": "String", "Value": rid}
    assert envelope["MessageAttributes"]["ErrorCode"] == {"Type": "Number", "Value": "200"}


# -- per qualifier ----------------------------------------------------------------------------


def test_the_configuration_of_the_invoked_alias_applies(fns: Functions) -> None:
    name = fns.python(FAILING)
    fns.client.publish_version(FunctionName=name)
    fns.client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    latest_url, latest_arn = make_queue(fns.server)
    alias_url, alias_arn = make_queue(fns.server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": latest_arn}}
    )
    fns.client.put_function_event_invoke_config(
        FunctionName=name,
        Qualifier="live",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": alias_arn}},
    )
    # through the alias: its own configuration (no retry, OnFailure), not $LATEST's
    via_alias = invoke_event(fns, name, {"fail": True}, Qualifier="live")
    record = record_of(fns.server, alias_url)
    assert record["requestContext"] == {
        "requestId": via_alias,
        "functionArn": fn_arn(name, "live"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["responseContext"]["executedVersion"] == "1"
    # unqualified: $LATEST's configuration
    plain = invoke_event(fns, name, {"k": 1})
    record = record_of(fns.server, latest_url)
    assert record["requestContext"]["requestId"] == plain
    assert record["requestContext"]["functionArn"] == fn_arn(name)


# -- age, throttles, restarts -----------------------------------------------------------------


def test_event_age_exceeded_before_the_first_retry(spawn_server: Any) -> None:
    # AWS's own delays (the first retry after 60 s) and a maximum age of 60 s: the first failure is
    # final, at once (recorded: test_maxeventage, "no_retry_failure_message").
    server = spawn_server(LAMBDA_RETRY_BASE_DELAY="60")
    fns = Functions(server)
    name = fns.python(FAILING)
    url, arn = make_queue(server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    rid = invoke_event(fns, name, {"fail": True})
    record = record_of(server, url)
    check_record(record)
    assert record["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(name),
        "condition": "EventAgeExceeded",
        "approximateInvokeCount": 1,
    }
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "intentional failure"


def test_zero_reserved_concurrency_fails_at_once(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {})
    record = record_of(fns.server, url)
    check_record(record)
    # recorded: TestLambdaConcurrency::test_reserved_concurrency_async_queue
    assert record["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(name),
        "condition": "ZeroReservedConcurrency",
        "approximateInvokeCount": 0,
    }
    assert record["requestPayload"] == {}
    assert "responseContext" not in record
    assert runs(fns.server, name) == []


def test_throttled_events_are_not_lost(fns: Functions) -> None:
    name = fns.python(FAILING)
    url, arn = make_queue(fns.server)
    fns.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    rids = {invoke_event(fns, name, {"sleep": 0.3, "n": n}) for n in range(4)}
    records = [record_of(fns.server, url) for _ in rids]
    assert {r["requestContext"]["requestId"] for r in records} == rids
    # a throttle is not a retry: each ran once
    assert {r["requestContext"]["approximateInvokeCount"] for r in records} == {1}
    assert len(runs(fns.server, name)) == 4


def test_an_event_waiting_for_its_retry_survives_a_restart(spawn_server: Any, tmp_path: Path) -> None:
    server = spawn_server(PERSISTENCE="1", LOCALLAMBDA_DATA_DIR=str(tmp_path / "data"), LAMBDA_RETRY_BASE_DELAY="4")
    fns = Functions(server)
    name = fns.python(FAILING)
    url, arn = make_queue(server)
    fns.client.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    rid = invoke_event(fns, name, {"fail": True})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(line.startswith(f"REPORT RequestId: {rid}") for line in history(server, name)):
            break
        time.sleep(0.05)
    assert runs(server, name) == [f'event run {rid} {{"fail": true}}']
    server.stop()  # the retry is due 4 s after the first run
    server.start()
    record = record_of(server, url)
    assert record["requestContext"]["requestId"] == rid
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
