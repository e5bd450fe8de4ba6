"""Neighbour services benchmark: the cost of sharing the port, side by side in one run.

    python bench/neighbours.py [--n 200] [--persistence]

Starts a locallambda server and a standalone ``moto_server`` on loopback and prints, for each:
a bare HTTP round trip (a GET the server answers without any service: our health endpoint,
moto's ``/moto-api/data.json``), S3 PutObject/GetObject of 1 KB and 1 MB, SQS SendMessage and
ReceiveMessage, DynamoDB PutItem and GetItem — p50 and p99 in milliseconds through boto3 with
a keep-alive connection. The two columns differ only by what serves the request: moto inside
our edge (request classified, body handed to a worker thread) or moto's own werkzeug server.
No thresholds: figures only. ``--persistence`` runs our server with ``PERSISTENCE=1`` on a
temporary data dir: each write then also snapshots the service it touched before it answers.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import Server, free_port  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p))]


def timed(fn: Callable[[], Any], n: int, warmup: int = 20) -> list[float]:
    out = []
    for i in range(warmup + n):
        t = time.perf_counter()
        fn()
        if i >= warmup:
            out.append((time.perf_counter() - t) * 1000)
    return out


def bare(port: int, path: str) -> Callable[[], None]:
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def get() -> None:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()

    return get


def client(url: str, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def cases(url: str, port: int, bare_path: str) -> dict[str, Callable[[], Any]]:
    s3 = client(url, "s3")
    s3.create_bucket(Bucket="bench-bucket")
    small, big = b"x" * 1024, b"y" * (1024 * 1024)
    s3.put_object(Bucket="bench-bucket", Key="small", Body=small)
    s3.put_object(Bucket="bench-bucket", Key="big", Body=big)
    sqs = client(url, "sqs")
    queue = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]
    ddb = client(url, "dynamodb")
    ddb.create_table(
        TableName="bench-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"id": {"S": "k"}, "v": {"S": "v" * 100}}
    ddb.put_item(TableName="bench-table", Item=item)
    return {
        "bare HTTP round trip": bare(port, bare_path),
        "S3 PutObject 1 KB": lambda: s3.put_object(Bucket="bench-bucket", Key="small", Body=small),
        "S3 GetObject 1 KB": lambda: s3.get_object(Bucket="bench-bucket", Key="small")["Body"].read(),  # noqa: PLW0108 - a fresh GET each call
        "S3 PutObject 1 MB": lambda: s3.put_object(Bucket="bench-bucket", Key="big", Body=big),
        "S3 GetObject 1 MB": lambda: s3.get_object(Bucket="bench-bucket", Key="big")["Body"].read(),  # noqa: PLW0108 - a fresh GET each call
        "SQS SendMessage": lambda: sqs.send_message(QueueUrl=queue, MessageBody="m"),
        "SQS ReceiveMessage": lambda: sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1),
        "DynamoDB PutItem": lambda: ddb.put_item(TableName="bench-table", Item=item),
        "DynamoDB GetItem": lambda: ddb.get_item(TableName="bench-table", Key={"id": {"S": "k"}}),
    }


def start_moto(port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ACCOUNT_ID": "000000000000"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--persistence", action="store_true", help="our server with PERSISTENCE=1")
    args = parser.parse_args()
    env = {"LAMBDA_EXECUTOR": "local"}
    data = tempfile.TemporaryDirectory(prefix="bench-neighbours-")
    if args.persistence:
        env |= {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": data.name}
    moto_port = free_port()
    moto = start_moto(moto_port)
    ours = Server(env=env).start()
    try:
        mine = cases(ours.url, ours.port, "/_localstack/health")
        theirs = cases(f"http://127.0.0.1:{moto_port}", moto_port, "/moto-api/data.json")
        print(f"locallambda persistence: {'on' if args.persistence else 'off'}")
        print(
            f"{'operation':24} {'locallambda p50':>16} {'p99':>8}   {'moto_server p50':>16} {'p99':>8}   (ms, n={args.n})"
        )
        for name in mine:
            # alternate the two so that machine noise falls on both alike
            a = timed(mine[name], args.n // 2)
            b = timed(theirs[name], args.n // 2)
            a += timed(mine[name], args.n // 2, warmup=0)
            b += timed(theirs[name], args.n // 2, warmup=0)
            print(f"{name:24} {pct(a, 0.5):16.2f} {pct(a, 0.99):8.2f}   {pct(b, 0.5):16.2f} {pct(b, 0.99):8.2f}")
    finally:
        ours.stop()
        moto.terminate()
        moto.wait(10)
        data.cleanup()


if __name__ == "__main__":
    main()
