"""Event source benchmark: SQS → function latency and throughput, Kinesis throughput.

    python bench/event_sources.py [--latency 50] [--messages 1000]

Starts its own server on loopback (process executor) and prints, in one run: the bare HTTP round
trip to that server (GET /_localstack/health on a keep-alive connection); the latency from
SendMessage to the handler's start on an idle queue (p50/p99, BatchSize 1, the handler reads
the time at its start and reports it through a queue); and records processed per second at
BatchSize 10 and 100 for SQS (messages sent first, then the mapping created; until the
function saw them all) and Kinesis (TRIM_HORIZON), each twice: from the mapping's creation (its
first environments' cold starts included) and steady (between the first and the last handler
start, so past those cold starts). No thresholds: figures only.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ROLE, Server  # noqa: E402

HANDLER = """
import json, os, time, boto3
sqs = boto3.client("sqs")

def handler(event, context):
    started = time.time()
    records = event.get("Records", [])
    sent = None
    if records and "body" in records[0]:
        try:
            sent = json.loads(records[0]["body"]).get("sent")
        except ValueError:
            pass
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(
        {"count": len(records), "sent": sent, "started": started}))
"""


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def zipped(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", source)
    return buf.getvalue()


def drain(sqs: Any, sink: str, want_count: int, timeout: float = 120) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while sum(g["count"] for g in got) < want_count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=sink, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        for m in messages:
            got.append(json.loads(m["Body"]))
        if messages:
            sqs.delete_message_batch(
                QueueUrl=sink,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
    return got


def steady(got: list[dict[str, Any]]) -> float:
    """Records per second between the first and the last handler start (the last batch's
    records not counted: they started at the end)."""
    starts = sorted(got, key=lambda g: g["started"])
    span = starts[-1]["started"] - starts[0]["started"]
    return sum(g["count"] for g in starts[:-1]) / span if span > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    server = Server(env={"LAMBDA_EXECUTOR": "local", "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        rtts = []
        for _ in range(300):
            t = time.perf_counter()
            conn.request("GET", "/_localstack/health")
            conn.getresponse().read()
            rtts.append((time.perf_counter() - t) * 1000)
        print(f"bare round trip           p50 {pct(rtts, 0.5):7.2f} ms   p99 {pct(rtts, 0.99):7.2f} ms")
        lam, sqs, kinesis = server.client(), server.client("sqs"), server.client("kinesis")
        sink = sqs.create_queue(QueueName="bench-sink")["QueueUrl"]

        def function(name: str) -> str:
            lam.create_function(
                FunctionName=name,
                Runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
                Role=ROLE,
                Handler="handler.handler",
                Code={"ZipFile": zipped(HANDLER)},
                Timeout=30,
                Environment={"Variables": {"SINK": sink}},
            )
            return name

        def queue(name: str) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        # -- latency on an idle queue
        url, arn = queue("bench-latency")
        esm = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function("bench-lat"), BatchSize=1)
        while lam.get_event_source_mapping(UUID=esm["UUID"])["State"] != "Enabled":
            time.sleep(0.05)
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))  # warm the function
        drain(sqs, sink, 1)
        lat = []
        for _ in range(args.latency):
            time.sleep(0.2)  # idle: the poller is in its long poll
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))
            (got,) = drain(sqs, sink, 1)
            lat.append((got["started"] - got["sent"]) * 1000)
        print(f"SQS send → handler start  p50 {pct(lat, 0.5):7.2f} ms   p99 {pct(lat, 0.99):7.2f} ms")
        lam.delete_event_source_mapping(UUID=esm["UUID"])

        # -- throughput
        for batch in (10, 100):
            url, arn = queue(f"bench-tput-{batch}")
            for start in range(0, args.messages, 10):
                entries = [{"Id": str(n), "MessageBody": '{"n": 1}'} for n in range(min(10, args.messages - start))]
                sqs.send_message_batch(QueueUrl=url, Entries=entries)
            t = time.perf_counter()
            esm = lam.create_event_source_mapping(
                EventSourceArn=arn,
                FunctionName=function(f"bench-sqs-{batch}"),
                BatchSize=batch,
                MaximumBatchingWindowInSeconds=0 if batch <= 10 else 1,
            )
            got = drain(sqs, sink, args.messages)
            rate = args.messages / (time.perf_counter() - t)
            print(
                f"SQS BatchSize {batch:<4}        {rate:9.0f} messages/s  steady {steady(got):6.0f}"
                f"  ({args.messages} messages)"
            )
            lam.delete_event_source_mapping(UUID=esm["UUID"])
        for batch in (10, 100):
            stream = f"bench-stream-{batch}"
            kinesis.create_stream(StreamName=stream, ShardCount=1)
            while (
                kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
                != "ACTIVE"
            ):
                time.sleep(0.05)
            sarn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
            for start in range(0, args.messages, 500):
                records = [
                    {"Data": b'{"n": 1}', "PartitionKey": str(n)} for n in range(min(500, args.messages - start))
                ]
                kinesis.put_records(StreamName=stream, Records=records)
            t = time.perf_counter()
            esm = lam.create_event_source_mapping(
                EventSourceArn=sarn,
                FunctionName=function(f"bench-kin-{batch}"),
                BatchSize=batch,
                StartingPosition="TRIM_HORIZON",
            )
            got = drain(sqs, sink, args.messages)
            rate = args.messages / (time.perf_counter() - t)
            print(
                f"Kinesis BatchSize {batch:<4}    {rate:9.0f} records/s   steady {steady(got):6.0f}"
                f"  ({args.messages} records, 1 shard)"
            )
            lam.delete_event_source_mapping(UUID=esm["UUID"])
    finally:
        server.stop()


if __name__ == "__main__":
    main()
