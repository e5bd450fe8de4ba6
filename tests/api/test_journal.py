"""The invocation journal (issue 12): every invocation recorded, whatever invoked it, browsable
as JSON on ``/_aws/lambda/invocations``, and replayed. Through boto3 and plain HTTP against a real
server that runs the functions."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.invoke.conftest import Functions, client, functions, spawn_server, srv

__all__ = ["client", "functions", "spawn_server", "srv"]

PATH = "/_aws/lambda/invocations"
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ECHO = """
def handler(event, context):
    print("echoing", event.get("n"))
    return event
"""
FAILS = """
def handler(event, context):
    print("about to fail")
    raise ValueError("boom: " + str(event.get("n")))
"""
SLEEPS = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"slept": event.get("sleep", 0)}
"""


def http_json(server: Server, method: str, path: str, body: bytes | None = None, host: str | None = None) -> Any:
    """(status, parsed JSON body or None) of one plain HTTP request."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        headers = {"Content-Type": "application/json", **({"Host": host} if host else {})}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


def entries(server: Server, query: str = "") -> list[dict[str, Any]]:
    status, doc = http_json(server, "GET", f"{PATH}?{query}" if query else PATH)
    assert status == 200, doc
    return list(doc["Invocations"])


def wait_entries(
    server: Server, query: str, count: int, timeout: float = 30, where: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """The entries of ``query`` once there are ``count`` of them (those ``where`` accepts)."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [e for e in entries(server, query) if where is None or where(e)]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{count} entries of {query!r} expected, found {found}")


def only(server: Server, name: str) -> dict[str, Any]:
    (entry,) = entries(server, f"function={name}")
    return entry


# -- what an entry holds ------------------------------------------------------------------------


def test_an_api_invoke_is_recorded_with_payloads_logs_and_timings(srv: Server, functions: Functions) -> None:
    name = functions.python(ECHO)
    first = functions.invoke(name, {"n": 1})
    second = functions.invoke(name, {"n": 2})
    newest, oldest = entries(srv, f"function={name}")
    assert newest["RequestId"] == second["ResponseMetadata"]["RequestId"]
    assert oldest["RequestId"] == first["ResponseMetadata"]["RequestId"]
    assert oldest["Id"] != newest["Id"] and len(oldest["Id"]) == 36
    assert oldest["FunctionName"] == name
    assert oldest["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert (oldest["Qualifier"], oldest["ExecutedVersion"], oldest["Region"]) == ("$LATEST", "$LATEST", "us-east-1")
    assert (oldest["Trigger"], oldest["InvocationType"], oldest["Attempt"], oldest["ReplayOf"]) == (
        "api",
        "RequestResponse",
        None,
        None,
    )
    assert ISO_MS.fullmatch(oldest["StartTime"])
    assert oldest["StartTime"] <= newest["StartTime"]
    assert oldest["Status"] == "Success" and oldest["Error"] is None
    assert oldest["Request"] == {"Payload": '{"n": 1}', "Size": 8, "Truncated": False}
    assert json.loads(oldest["Response"]["Payload"]) == {"n": 1} and oldest["Response"]["Truncated"] is False
    assert oldest["DurationMs"] > 0
    # The first invocation started the environment: its init is reported; the second is warm.
    assert oldest["InitDurationMs"] is not None and oldest["InitDurationMs"] > 0
    assert newest["InitDurationMs"] is None
    # Its log lines: the platform's and the function's own.
    logs = oldest["Logs"]
    assert logs[0].startswith(f"START RequestId: {oldest['RequestId']} Version: $LATEST")
    assert any("echoing 1" in line for line in logs)
    assert logs[-2] == f"END RequestId: {oldest['RequestId']}"
    assert logs[-1].startswith(f"REPORT RequestId: {oldest['RequestId']}")
    assert not any("echoing 2" in line for line in logs) and oldest["LogsTruncated"] is False
    # One entry by its id.
    status, one = http_json(srv, "GET", f"{PATH}/{oldest['Id']}")
    assert status == 200 and one == oldest


def test_an_unknown_entry_is_404(srv: Server) -> None:
    status, doc = http_json(srv, "GET", f"{PATH}/00000000-0000-4000-8000-000000000000")
    assert status == 404 and "00000000-0000-4000-8000-000000000000" in doc["Message"]
    for method, path in (("GET", f"{PATH}/nope"), ("POST", f"{PATH}/nope/replay")):  # not an id's form
        status, doc = http_json(srv, method, path)
        assert status == 404 and "nope" in doc["Message"], (method, doc)


def test_the_qualifier_invoked_and_the_version_it_ran(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    functions.invoke(name, {"n": 1}, Qualifier="live")
    functions.invoke(name, {"n": 2}, Qualifier=version)
    by_version, by_alias = entries(srv, f"function={name}")
    assert (by_alias["Qualifier"], by_alias["ExecutedVersion"]) == ("live", version)
    assert (by_version["Qualifier"], by_version["ExecutedVersion"]) == (version, version)


def test_a_function_error_is_recorded_with_its_type_message_and_traceback(srv: Server, functions: Functions) -> None:
    name = functions.python(FAILS)
    out = functions.invoke(name, {"n": 7})
    assert out["FunctionError"] == "Unhandled"
    entry = only(srv, name)
    assert entry["Status"] == "Error"
    assert entry["Error"] == {"Type": "ValueError", "Message": "boom: 7"}
    assert json.loads(entry["Response"]["Payload"])["errorMessage"] == "boom: 7"
    assert any("about to fail" in line for line in entry["Logs"])
    assert any("ValueError" in line for line in entry["Logs"] if not line.startswith(("START", "END", "REPORT")))


def test_a_timeout_is_recorded_as_such(srv: Server, functions: Functions) -> None:
    name = functions.python(SLEEPS, timeout=1)
    functions.invoke(name, {"sleep": 3})
    entry = only(srv, name)
    assert entry["Status"] == "Timeout"
    assert entry["Error"]["Type"] == "Sandbox.Timedout"
    assert entry["Error"]["Message"].endswith("Task timed out after 1.00 seconds")
    assert any("Task timed out after 1.00 seconds" in line for line in entry["Logs"])


def test_a_throttled_invoke_is_recorded(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as caught:
        functions.invoke(name, {"n": 1})
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
    # boto3 retries a throttle once (legacy retries): each attempt is an entry.
    entry, *_ = entries(srv, f"function={name}")
    assert entry["Status"] == "Throttled" and entry["Response"] is None
    assert entry["Error"]["Type"] == "TooManyRequestsException"
    assert entry["Request"]["Payload"] == '{"n": 1}'


def test_a_dry_run_is_recorded_and_runs_nothing(srv: Server, functions: Functions) -> None:
    name = functions.python(ECHO)
    functions.invoke(name, {"n": 1}, InvocationType="DryRun")
    entry = only(srv, name)
    assert (entry["Trigger"], entry["InvocationType"], entry["Status"]) == ("api", "DryRun", "Success")
    assert entry["Response"] is None and entry["Logs"] == []


# -- every trigger --------------------------------------------------------------------------------


def test_an_event_invoke_is_recorded_when_it_runs(srv: Server, functions: Functions) -> None:
    name = functions.python(ECHO)
    accepted = functions.invoke(name, {"n": 3}, InvocationType="Event")
    assert accepted["StatusCode"] == 202
    (entry,) = wait_entries(srv, f"function={name}", 1)
    assert (entry["Trigger"], entry["InvocationType"], entry["Attempt"]) == ("event", "Event", 1)
    assert entry["RequestId"] == accepted["ResponseMetadata"]["RequestId"]
    assert entry["Status"] == "Success" and entry["Request"]["Payload"] == '{"n": 3}'


def test_a_function_url_request_is_recorded(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    host = url.split("//", 1)[1].rstrip("/")
    status, _ = http_json(srv, "POST", "/some/path?x=1", b'{"hello": "url"}', host=host)
    assert status == 200
    entry = only(srv, name)
    assert (entry["Trigger"], entry["InvocationType"], entry["Status"]) == ("url", "RequestResponse", "Success")
    event = json.loads(entry["Request"]["Payload"])
    assert event["rawPath"] == "/some/path" and event["body"] == '{"hello": "url"}'


def test_invoke_with_response_stream_is_recorded(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    answer = client.invoke_with_response_stream(FunctionName=name, Payload=b'{"n": 4}')
    chunks = [e["PayloadChunk"]["Payload"] for e in answer["EventStream"] if "PayloadChunk" in e]
    assert json.loads(b"".join(chunks)) == {"n": 4}
    entry = only(srv, name)
    assert (entry["Trigger"], entry["Status"]) == ("stream", "Success")


def test_an_sqs_mapping_invocation_is_recorded(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    sqs = srv.client("sqs")
    queue = sqs.create_queue(QueueName=f"journal-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=queue, MessageBody="from the queue")
    (entry,) = wait_entries(srv, f"function={name}", 1)
    assert (entry["Trigger"], entry["InvocationType"], entry["Status"]) == ("sqs", "RequestResponse", "Success")
    (record,) = json.loads(entry["Request"]["Payload"])["Records"]
    assert record["body"] == "from the queue" and record["eventSourceARN"] == arn


def test_an_sns_delivery_is_recorded_as_an_event_from_sns(srv: Server, functions: Functions) -> None:
    name = functions.python(ECHO)
    sns = srv.client("sns")
    topic = sns.create_topic(Name=f"journal-{name}")["TopicArn"]
    fn_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn_arn)
    sns.publish(TopicArn=topic, Message="hello from sns")
    (entry,) = wait_entries(srv, f"function={name}", 1)
    assert (entry["Trigger"], entry["InvocationType"], entry["Attempt"]) == ("sns", "Event", 1)
    assert json.loads(entry["Request"]["Payload"])["Records"][0]["Sns"]["Message"] == "hello from sns"


def test_event_retries_and_a_lambda_destination_are_recorded(
    spawn_server: Callable[..., Server],
) -> None:
    server = spawn_server(LAMBDA_RETRY_BASE_DELAY="0.2")
    fns = Functions(server)
    target = fns.python(ECHO)
    source = fns.python(FAILS)
    lam = server.client()
    target_arn = lam.get_function(FunctionName=target)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=source,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": target_arn}},
    )
    rid = fns.invoke(source, {"n": 1}, InvocationType="Event")["ResponseMetadata"]["RequestId"]
    second, first = wait_entries(server, f"function={source}", 2)
    assert [first["Attempt"], second["Attempt"]] == [1, 2]
    assert {first["RequestId"], second["RequestId"]} == {rid}
    assert first["Status"] == second["Status"] == "Error"
    (delivered,) = wait_entries(server, f"function={target}", 1)
    assert (delivered["Trigger"], delivered["InvocationType"]) == ("destination", "Event")
    record = json.loads(delivered["Request"]["Payload"])
    assert record["requestContext"]["requestId"] == rid and record["requestContext"]["condition"] == "RetriesExhausted"
    # Filters by trigger and status.
    assert [e["Id"] for e in entries(server, "trigger=destination")] == [delivered["Id"]]
    assert {e["Id"] for e in entries(server, "status=Error")} == {first["Id"], second["Id"]}
    fns.cleanup()


# -- querying ---------------------------------------------------------------------------------------


def test_filters_and_limits(srv: Server, functions: Functions) -> None:
    ok = functions.python(ECHO)
    bad = functions.python(FAILS)
    for n in range(3):
        functions.invoke(ok, {"n": n})
    functions.invoke(bad, {"n": 9})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{ok}"
    assert [json.loads(e["Request"]["Payload"])["n"] for e in entries(srv, f"function={arn}")] == [2, 1, 0]
    assert [json.loads(e["Request"]["Payload"])["n"] for e in entries(srv, f"function={ok}&limit=2")] == [2, 1]
    assert entries(srv, f"function={ok}&status=Error") == []
    (failed,) = entries(srv, f"function={bad}&status=Error")
    assert failed["Error"]["Message"] == "boom: 9"
    assert entries(srv, f"function={ok}&trigger=event") == []
    assert len(entries(srv, f"function={ok}&trigger=api&status=Success")) == 3
    newest = entries(srv, "limit=1")
    assert len(newest) == 1 and newest[0]["FunctionName"] == bad
    for query, word in (("limit=x", "limit"), ("limit=0", "limit"), ("status=Nope", "status")):
        status, doc = http_json(srv, "GET", f"{PATH}?{query}")
        assert status == 400 and word in doc["Message"], (query, doc)


# -- replay ---------------------------------------------------------------------------------------


def test_replay_repeats_the_invocation_and_records_a_new_entry(srv: Server, functions: Functions, client: Any) -> None:
    name = functions.python(ECHO)
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    original = functions.invoke(name, {"n": 5}, Qualifier="live")
    (entry,) = entries(srv, f"function={name}")
    status, replayed = http_json(srv, "POST", f"{PATH}/{entry['Id']}/replay")
    assert status == 200, replayed
    assert replayed["StatusCode"] == 200 and replayed["FunctionError"] is None
    assert json.loads(replayed["Payload"]) == json.loads(original["Payload"]) == {"n": 5}
    assert replayed["ExecutedVersion"] == version
    assert "echoing 5" in base64.b64decode(replayed["LogResult"]).decode()
    assert replayed["Id"] != entry["Id"]
    new, old = entries(srv, f"function={name}")
    assert old["Id"] == entry["Id"] and new["Id"] == replayed["Id"]
    assert (new["Trigger"], new["ReplayOf"], new["Qualifier"]) == ("replay", entry["Id"], "live")
    assert new["Request"] == entry["Request"] and new["RequestId"] != entry["RequestId"]


def test_replay_of_a_failing_invocation_reports_the_error(srv: Server, functions: Functions) -> None:
    name = functions.python(FAILS)
    functions.invoke(name, {"n": 2})
    entry = only(srv, name)
    status, replayed = http_json(srv, "POST", f"{PATH}/{entry['Id']}/replay")
    assert status == 200 and replayed["FunctionError"] == "Unhandled"
    assert json.loads(replayed["Payload"])["errorMessage"] == "boom: 2"


def test_replay_of_an_unknown_entry_or_a_deleted_function_is_404(
    srv: Server, functions: Functions, client: Any
) -> None:
    status, doc = http_json(srv, "POST", f"{PATH}/00000000-0000-4000-8000-000000000000/replay")
    assert status == 404 and "Message" in doc
    name = functions.python(ECHO)
    functions.invoke(name, {"n": 1})
    entry = only(srv, name)
    client.delete_function(FunctionName=name)
    status, doc = http_json(srv, "POST", f"{PATH}/{entry['Id']}/replay")
    assert status == 404
    assert doc["Message"] == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}:$LATEST"
    assert doc["Type"] == "User"


# -- bounds and settings ------------------------------------------------------------------------------


def test_the_journal_keeps_its_size_and_truncates_payloads(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LOCALLAMBDA_JOURNAL_SIZE="3", LOCALLAMBDA_JOURNAL_PAYLOAD_BYTES="16")
    fns = Functions(server)
    name = fns.python(ECHO)
    for n in range(5):
        fns.invoke(name, {"n": n})
    kept = entries(server, "limit=100")
    assert [e["Request"]["Payload"] for e in kept] == ['{"n": 4}', '{"n": 3}', '{"n": 2}']
    # A payload over the bound keeps its first bytes, marked, with its size.
    big = json.dumps({"n": 9, "t": "é" * 40}, ensure_ascii=False)  # the 16th byte starts an é
    fns.invoke(name, big)
    entry = entries(server, "limit=1")[0]
    request = entry["Request"]
    assert request["Truncated"] is True and request["Size"] == len(big.encode())
    assert big.startswith(request["Payload"]) and len(request["Payload"].encode()) <= 16
    assert entry["Response"]["Truncated"] is True
    # It cannot be replayed: its payload is not whole.
    status, doc = http_json(server, "POST", f"{PATH}/{entry['Id']}/replay")
    assert status == 400 and "truncated" in doc["Message"]
    # DELETE forgets everything.
    assert http_json(server, "DELETE", PATH) == (204, None)
    assert entries(server) == []
    fns.cleanup()


def test_a_journal_of_size_0_records_nothing(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LOCALLAMBDA_JOURNAL_SIZE="0")
    fns = Functions(server)
    name = fns.python(ECHO)
    assert fns.invoke_json(name, {"n": 1}) == {"n": 1}
    fns.invoke(name, {"n": 2}, InvocationType="DryRun")
    assert entries(server) == []
    fns.cleanup()
