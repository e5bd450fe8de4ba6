"""Function logs in CloudWatch Logs, where AWS puts them.

Each execution environment writes to a stream of its own, ``YYYY/MM/DD/[<version>]<32 hex>``
(``YYYY/MM/DD/<name>[<version>]<32 hex>`` in a custom log group), in ``/aws/lambda/<name>`` or
``LoggingConfig.LogGroup``: START, the function's lines, END and REPORT, each message ending in a
newline as AWS writes it; with LogFormat JSON the platform lines are JSON records. The group is
read back with boto3 and the AWS CLI (version 1 here, which has no ``logs tail``: the test drives
FilterLogEvents as ``aws logs tail`` and ``tail --follow`` of version 2 do). A server whose
SERVICES leaves ``logs`` out ships nothing and still runs functions. The shipper's bounds are
proved without a server at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError

from locallambda.neighbours.log_delivery import LogDelivery
from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions, decode_tail

T = TypeVar("T")

PRINTER = """\
import time

def handler(event, context):
    print("first line")
    print(event.get("say", "second line"))
    time.sleep(event.get("sleep", 0))
    return {"stream": context.log_stream_name, "group": context.log_group_name}
"""

REPORT = re.compile(
    r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?\n"
)


def stream_pattern(version: str = "$LATEST", owner: str = "") -> re.Pattern[str]:
    return re.compile(rf"(\d{{4}}/\d\d/\d\d)/{re.escape(owner)}\[{re.escape(version)}\][0-9a-f]{{32}}")


def eventually(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 30) -> T:
    """``fetch()`` until ``done`` says yes (delivery is asynchronous), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stream_events(logs: Any, group: str, stream: str, reports: int = 1) -> list[dict[str, Any]]:
    """The events of one stream, oldest first, once ``reports`` invocations have ended in it."""

    def fetch() -> list[dict[str, Any]]:
        try:
            out = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return []
        events: list[dict[str, Any]] = out["events"]
        return events

    return eventually(
        fetch, lambda es: sum('"platform.report"' in e["message"] or "REPORT " in e["message"] for e in es) >= reports
    )


def utc_dates(before: float, after: float) -> set[str]:
    return {dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y/%m/%d") for t in (before, after)}


# -- where the lines go -----------------------------------------------------------------------


def test_an_invocation_is_in_its_environments_stream(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    before = time.time()
    out = functions.invoke(name, {})
    after = time.time()
    rid = out["ResponseMetadata"]["RequestId"]
    seen = json.loads(out["Payload"])
    group = f"/aws/lambda/{name}"
    assert seen["group"] == group
    logs = srv.client("logs")
    events = stream_events(logs, group, seen["stream"])

    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert streams == [seen["stream"]]  # the stream the function was told (context.log_stream_name)
    named = stream_pattern().fullmatch(seen["stream"])
    assert named and named.group(1) in utc_dates(before, after)

    messages = [e["message"] for e in events]
    assert messages[:4] == [
        f"START RequestId: {rid} Version: $LATEST\n",
        "first line\n",
        "second line\n",
        f"END RequestId: {rid}\n",
    ]
    assert len(messages) == 5 and REPORT.fullmatch(messages[4]), messages
    times = [e["timestamp"] for e in events]
    assert times == sorted(times)
    assert int(before * 1000) - 1 <= times[0] and times[-1] <= int(after * 1000) + 1


def test_a_reader_sees_the_lines_of_an_invocation_that_has_answered(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    logs = srv.client("logs")
    logs.describe_log_groups()  # CloudWatch Logs loaded before: the read below is not slowed by it
    out = functions.invoke(name, {"say": "read at once"})
    seen = json.loads(out["Payload"])
    # One read right after the answer, no waiting: lines still waiting for a quiet moment are
    # written before the request is answered.
    events = logs.get_log_events(logGroupName=seen["group"], logStreamName=seen["stream"], startFromHead=True)
    messages = [e["message"] for e in events["events"]]
    assert "read at once\n" in messages and messages[-1].startswith("REPORT "), messages


def test_filter_log_events_finds_a_line(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    stream = json.loads(functions.invoke(name, {"say": "needle in the log"})["Payload"])["stream"]
    logs = srv.client("logs")
    group = f"/aws/lambda/{name}"
    stream_events(logs, group, stream)
    found = logs.filter_log_events(logGroupName=group, filterPattern='"needle in the log"')["events"]
    assert [(e["message"], e["logStreamName"]) for e in found] == [("needle in the log\n", stream)]


def test_one_stream_per_environment_named_by_its_version(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    lam = functions.client
    # Two invocations at once run in two environments: two streams; a warm one reuses its own.
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: results.append(functions.invoke(name, {"sleep": 1}))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    concurrent = {json.loads(r["Payload"])["stream"] for r in results}
    warm = json.loads(functions.invoke(name, {})["Payload"])["stream"]
    assert len(concurrent) == 2 and warm in concurrent
    version = lam.publish_version(FunctionName=name)["Version"]
    wait_active(lam, name, version)
    published = json.loads(functions.invoke(name, {}, Qualifier=version)["Payload"])["stream"]
    assert stream_pattern(version).fullmatch(published)

    logs = srv.client("logs")
    group = f"/aws/lambda/{name}"
    for stream in concurrent:
        stream_events(logs, group, stream, reports=2 if stream == warm else 1)
    stream_events(logs, group, published)
    streams = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]}
    assert streams == concurrent | {published}


def test_json_log_format_writes_platform_records(srv: Server, functions: Functions) -> None:
    source = "import logging\n\ndef handler(event, context):\n    logging.getLogger().warning('structured line')\n    print('plain line')\n    return context.log_stream_name\n"
    name = functions.python(source, LoggingConfig={"LogFormat": "JSON"})
    out = functions.invoke(name, {})
    rid = out["ResponseMetadata"]["RequestId"]
    arn = functions.client.get_function_configuration(FunctionName=name)["FunctionArn"]
    events = stream_events(srv.client("logs"), f"/aws/lambda/{name}", json.loads(out["Payload"]))
    messages = [e["message"] for e in events]
    assert not any(m.startswith(("START", "END", "REPORT")) for m in messages), messages

    start, app, plain, report = messages
    start_doc = json.loads(start)
    assert list(start_doc) == ["time", "type", "record"]
    assert start_doc["type"] == "platform.start"
    assert start_doc["record"] == {"requestId": rid, "functionArn": arn, "version": "$LATEST"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start_doc["time"])
    app_doc = json.loads(app)  # the runtime's own JSON record, passed through
    assert (app_doc["level"], app_doc["message"], app_doc["requestId"]) == ("WARNING", "structured line", rid)
    assert plain == "plain line\n"
    report_doc = json.loads(report)
    assert report_doc["type"] == "platform.report"
    record = report_doc["record"]
    assert (record["requestId"], record["status"]) == (rid, "success")
    assert set(record["metrics"]) == {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }
    assert record["metrics"]["memorySizeMB"] == 128


def test_a_custom_log_group_gets_the_events(srv: Server, functions: Functions) -> None:
    group = f"/custom/{uuid.uuid4().hex[:8]}"
    name = functions.python(PRINTER, LoggingConfig={"LogGroup": group})
    seen = json.loads(functions.invoke(name, {})["Payload"])
    assert seen["group"] == group
    # A custom group may be shared: the stream names the function (monitoring-cloudwatchlogs-loggroups.html).
    assert stream_pattern(owner=name).fullmatch(seen["stream"]), seen["stream"]
    logs = srv.client("logs")
    events = stream_events(logs, group, seen["stream"])
    assert [e["message"] for e in events][1:3] == ["first line\n", "second line\n"]
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []


# -- reading them with the AWS CLI --------------------------------------------------------------


def test_aws_cli_reads_the_functions_lines(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    since = int((time.time() - 600) * 1000)  # what `aws logs tail` asks for by default: 10 minutes
    stream = json.loads(functions.invoke(name, {"say": "seen by the cli"})["Payload"])["stream"]
    group = f"/aws/lambda/{name}"
    stream_events(srv.client("logs"), group, stream)
    out = srv.cli_json(
        "logs", "filter-log-events", "--log-group-name", group, "--interleaved", "--start-time", str(since)
    )
    assert "seen by the cli\n" in [e["message"] for e in out["events"]]
    got = srv.cli_json(
        "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--start-from-head"
    )
    assert [e["message"] for e in got["events"]][1:3] == ["first line\n", "seen by the cli\n"]


# What `aws logs tail --follow` (AWS CLI v2, awscli/customizations/logs/tail.py) does: poll
# FilterLogEvents (interleaved, from the newest timestamp seen), skip event ids already printed.
FOLLOWER = """\
import sys, time
import boto3
url, group = sys.argv[1], sys.argv[2]
logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
kwargs = {"logGroupName": group, "interleaved": True, "startTime": int((time.time() - 600) * 1000)}
seen = {}
print("following", flush=True)
while True:
    try:
        page = logs.filter_log_events(**kwargs)
    except logs.exceptions.ResourceNotFoundException:
        page = {"events": []}
    for event in page["events"]:
        ids = seen.setdefault(event["timestamp"], set())
        if event["eventId"] not in ids:
            ids.add(event["eventId"])
            print(event["logStreamName"], event["message"].rstrip(), flush=True)
    if seen:
        newest = max(seen)
        seen = {newest: seen[newest]}
        kwargs["startTime"] = newest
    if "nextToken" in page:
        kwargs["nextToken"] = page["nextToken"]
    else:
        kwargs.pop("nextToken", None)
        time.sleep(0.2)
"""


def test_following_the_group_shows_lines_of_later_invocations(srv: Server, functions: Functions) -> None:
    name = functions.python(PRINTER)
    functions.invoke(name, {"say": "before following"})
    follower = subprocess.Popen(
        [sys.executable, "-c", FOLLOWER, srv.url, f"/aws/lambda/{name}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().strip() == "following"
        token = f"while following {uuid.uuid4().hex}"
        functions.invoke(name, {"say": token})
        reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        eventually(lambda: lines, lambda got: any(token in line for line in got))
    finally:
        follower.kill()
        follower.wait(10)
    assert any(line.rstrip().endswith(token) for line in lines), lines
    assert sum("before following" in line for line in lines) == 1  # printed once, not at every poll


# -- no logs service ----------------------------------------------------------------------------


def test_without_the_logs_service_functions_still_run(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(SERVICES="s3")
    lam = server.client()
    lam.create_function(
        FunctionName="no-logs",
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": PRINTER})},
    )
    wait_active(lam, "no-logs")
    for _ in range(3):
        out = lam.invoke(FunctionName="no-logs", LogType="Tail")
        assert "FunctionError" not in out
        assert "second line" in decode_tail(out["LogResult"])
    with pytest.raises(ClientError) as err:
        server.client("logs").describe_log_groups()
    assert err.value.response["Error"]["Code"] == "InternalFailure"
    assert "neighbour services loaded" not in server.log()  # nothing made moto load


# -- the shipper's bounds, without a server -----------------------------------------------------


class _Destination:
    def __init__(self, stream: str, group: str = "/aws/lambda/fn") -> None:
        self.account_id, self.region, self.group, self.stream = "000000000000", "us-east-1", group, stream


class _Event:
    def __init__(self, message: str) -> None:
        self.message = message


class _Stream:
    def __init__(self) -> None:
        self.events: list[_Event] = []
        self.stored_bytes = 0


class _Group:
    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}


class _Backend:
    """What the shipper uses of moto's LogsBackend, recording each put."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.puts: list[tuple[str, str, list[dict[str, Any]]]] = []

    def ensure_log_group(self, log_group_name: str) -> None:
        self.groups.setdefault(log_group_name, _Group())

    def ensure_log_stream(self, log_group_name: str, log_stream_name: str) -> None:
        self.groups[log_group_name].streams.setdefault(log_stream_name, _Stream())

    def put_log_events(self, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]) -> object:
        self.puts.append((log_group_name, log_stream_name, log_events))
        stream = self.groups[log_group_name].streams[log_stream_name]
        stream.events += [_Event(e["message"]) for e in log_events]
        stream.stored_bytes += sum(len(e["message"]) for e in log_events)
        return None


def _delivery(backend: _Backend, **kw: Any) -> LogDelivery:
    # Long delays: the worker takes nothing before ``stop``, so what the queue keeps is exact.
    return LogDelivery(lambda account, region: backend, quiet_s=60, max_delay_s=60, **kw)


def test_a_full_queue_drops_the_oldest_lines_and_counts_them() -> None:
    backend = _Backend()
    delivery = _delivery(backend, max_lines=3)
    for i in range(10):
        delivery.put(_Destination("s"), 1000.0 + i, f"line {i}")
    assert delivery.pending == 3 and delivery.dropped == 7
    delivery.stop()
    assert [e["message"] for _, _, events in backend.puts for e in events] == ["line 7\n", "line 8\n", "line 9\n"]
    assert delivery.delivered == 3


def test_the_queue_is_bounded_in_bytes_too() -> None:
    backend = _Backend()
    delivery = _delivery(backend, max_bytes=3 * sys.getsizeof("x" * 1000))
    for i in range(5):
        delivery.put(_Destination("s"), 1000.0 + i, str(i) * 1000)
    assert delivery.pending == 3 and delivery.dropped == 2
    delivery.stop()


def test_a_batch_is_put_per_stream_in_time_order() -> None:
    backend = _Backend()
    delivery = _delivery(backend)
    a, b = _Destination("a"), _Destination("b", group="/custom/g")
    delivery.put(a, 2.0, "late")
    delivery.put(b, 1.5, "other stream")
    delivery.put(a, 1.0, "early")
    delivery.put(a, 3.0, "START", {"type": "platform.start", "record": {"requestId": "r"}})
    delivery.stop()
    by_stream = {(group, stream): events for group, stream, events in backend.puts}
    assert by_stream[("/custom/g", "b")] == [{"timestamp": 1500, "message": "other stream\n"}]
    assert by_stream[("/aws/lambda/fn", "a")] == [
        {"timestamp": 1000, "message": "early\n"},
        {"timestamp": 2000, "message": "late\n"},
        {
            "timestamp": 3000,
            "message": '{"time":"1970-01-01T00:00:03.000Z","type":"platform.start","record":{"requestId":"r"}}',
        },
    ]
    delivery.put(a, 4.0, "after the end")  # dropped, never raises
    assert delivery.dropped == 1


def test_lines_wait_for_a_quiet_moment_or_a_reader() -> None:
    backend = _Backend()
    delivery = _delivery(backend)
    delivery.put(_Destination("s"), 1.0, "one")
    delivery.put(_Destination("s"), 2.0, "two")
    time.sleep(0.2)
    assert backend.puts == [] and delivery.pending == 2  # the worker waits for a quiet minute
    delivery.flush()  # a reader's request: written now, in this thread
    assert [e["message"] for _, _, events in backend.puts for e in events] == ["one\n", "two\n"]
    assert delivery.pending == 0 and delivery.delivered == 2
    delivery.stop()


def test_lines_of_a_server_never_quiet_are_written_after_the_longest_delay() -> None:
    backend = _Backend()
    delivery = LogDelivery(lambda account, region: backend, quiet_s=60, max_delay_s=0.2)
    delivery.put(_Destination("s"), 1.0, "one")
    assert eventually(lambda: delivery.delivered, lambda n: n == 1, timeout=10) == 1
    delivery.stop()


def test_logs_that_cannot_be_delivered_are_dropped_quietly() -> None:
    def unavailable(account: str, region: str) -> Any:
        raise ImportError("no moto here")

    delivery = LogDelivery(unavailable, quiet_s=0)
    delivery.put(_Destination("s"), 1.0, "one")
    eventually(lambda: delivery.dropped, lambda n: n == 1)
    delivery.put(_Destination("s"), 2.0, "two")  # refused at once from now on
    assert delivery.dropped == 2
    delivery.stop()


def test_what_moto_keeps_is_bounded_the_oldest_forgotten_first() -> None:
    backend = _Backend()
    delivery = _delivery(backend, max_retained=5)
    for i in range(6):
        delivery.put(_Destination("a"), 1.0 + i, f"a{i}")
    for i in range(3):
        delivery.put(_Destination("b"), 10.0 + i, f"b{i}")
    delivery.stop()  # one batch: a's six events, then b's three
    streams = backend.groups["/aws/lambda/fn"].streams
    assert [e.message for e in streams["a"].events] == ["a4\n", "a5\n"]
    assert [e.message for e in streams["b"].events] == ["b0\n", "b1\n", "b2\n"]
    assert streams["a"].stored_bytes == 6 and delivery.delivered == 9


def test_what_moto_keeps_is_bounded_in_bytes_too() -> None:
    """Few but long lines: the character bound forgets whole puts, the oldest first."""
    backend = _Backend()
    delivery = _delivery(backend, max_retained=1000, max_retained_bytes=250)
    for i in range(3):
        delivery.put(_Destination(f"s{i}"), 2.0 + i, str(i) * 100)
    delivery.stop()  # one batch, a put per stream: 3 × 101 characters > 250
    streams = backend.groups["/aws/lambda/fn"].streams
    assert [len(streams[f"s{i}"].events) for i in range(3)] == [0, 1, 1]
