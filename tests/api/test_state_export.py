"""State export and import (issue 12): ``GET``/``POST /_aws/lambda/state`` and ``locallambda state``.

A server's whole Lambda state (functions with versions, aliases, layers, URL, policy, tags,
concurrency, event invoke configs, mappings, code signing configs) goes into one file and into a
fresh server (another data directory), where everything lists the same and the function answers
the same; an imported SQS mapping whose queue the new server lacks stays Enabled and polls the
queue once it exists; merge keeps what the server had, replace does not; refused files change
nothing; the CLI round-trips between two real servers.
"""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, spawn_server

__all__ = ["spawn_server"]

HANDLER = """
import json
try:
    from greeting import TEXT as layer  # from the layer (its python/ directory is on the path)
except ImportError:
    layer = None
def handler(event, context):
    return {"version": VERSION, "layer": layer, "event": event, "fn": context.function_version}
"""


def code(version: int) -> bytes:
    return make_zip({"handler.py": HANDLER.replace("VERSION", str(version))})


def http_call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def export(srv: Server) -> bytes:
    status, data = http_call(f"{srv.url}/_aws/lambda/state")
    assert status == 200, data
    return data


def import_(srv: Server, data: bytes, mode: str | None = None) -> tuple[int, Any]:
    query = f"?mode={mode}" if mode else ""
    status, body = http_call(f"{srv.url}/_aws/lambda/state{query}", "POST", data)
    return status, json.loads(body)


def invoke(lam: Any, name: str, qualifier: str = "$LATEST", payload: Any = None) -> Any:
    out = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(payload or {"n": 1}))
    assert "FunctionError" not in out, out["Payload"].read()
    return json.loads(out["Payload"].read())


def build_state(srv: Server, name: str) -> dict[str, Any]:
    """A function with everything attached; returns what the test needs to find it again."""
    lam = srv.client()
    sqs = srv.client("sqs")
    layer = lam.publish_layer_version(
        LayerName=f"{name}-layer",
        Content={"ZipFile": make_zip({"python/greeting.py": "TEXT = 'hello from the layer'\n"})},
        CompatibleRuntimes=[HOST_PYTHON_RUNTIME],
    )
    lam.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code(1)},
        Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": {"KEY": "value"}},
        Tags={"team": "state"},
        Publish=True,
    )
    lam.update_function_code(FunctionName=name, ZipFile=code(2))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    lam.publish_version(FunctionName=name, Description="second")
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.0}},
    )
    lam.add_permission(
        FunctionName=name,
        Qualifier="live",
        StatementId="from-s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    csc = lam.create_code_signing_config(
        AllowedPublishers={
            "SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdef"]
        }
    )
    queue_name = f"{name}-queue"
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=1)
    lam.tag_resource(Resource=mapping["EventSourceMappingArn"], Tags={"kept": "yes"})
    wait_mapping(lam, mapping["UUID"], "Enabled")
    return {
        "layer": f"{name}-layer",
        "url": url,
        "queue": queue_name,
        "mapping": mapping["UUID"],
        "csc": csc["CodeSigningConfig"]["CodeSigningConfigArn"],
    }


def wait_mapping(lam: Any, uuid_: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        got: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid_)
        if got["State"] == state or time.monotonic() > deadline:
            assert got["State"] == state, got
            return got
        time.sleep(0.1)


def view(srv: Server, name: str, things: dict[str, Any]) -> dict[str, Any]:
    """Everything the API shows about the function and what hangs off it, minus the server's
    address and the mapping's processing result (each server polls its own queue)."""
    lam = srv.client()

    def clean(doc: dict[str, Any]) -> dict[str, Any]:
        doc = dict(doc)
        doc.pop("ResponseMetadata", None)
        return doc

    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    out: dict[str, Any] = {"versions": versions}
    for v in versions:
        got = clean(lam.get_function(FunctionName=name, Qualifier=v["Version"]))
        got["Code"].pop("Location")
        out[v["Version"]] = got
    out["aliases"] = lam.list_aliases(FunctionName=name)["Aliases"]
    out["policy"] = json.loads(lam.get_policy(FunctionName=name, Qualifier="live")["Policy"])
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    out["tags"] = lam.list_tags(Resource=arn)["Tags"]
    out["concurrency"] = clean(lam.get_function_concurrency(FunctionName=name))
    out["event_invoke"] = clean(lam.get_function_event_invoke_config(FunctionName=name))
    url = clean(lam.get_function_url_config(FunctionName=name))
    url["FunctionUrl"] = urlsplit(url["FunctionUrl"]).hostname  # the port is the server's
    out["url"] = url
    out["layers"] = lam.list_layer_versions(LayerName=things["layer"])["LayerVersions"]
    mappings = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    for m in mappings:
        m.pop("LastProcessingResult", None)
    out["mappings"] = mappings
    out["mapping_tags"] = lam.list_tags(Resource=mappings[0]["EventSourceMappingArn"])["Tags"]
    out["csc"] = clean(lam.get_code_signing_config(CodeSigningConfigArn=things["csc"]))
    return out


def url_get(srv: Server, url: str) -> tuple[int, bytes]:
    host = urlsplit(url).hostname
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    conn.request("GET", "/?from=url", headers={"Host": f"{host}:{srv.port}"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def sqs_invocations(srv: Server, name: str) -> list[Any]:
    status, body = http_call(f"{srv.url}/_aws/lambda/invocations?function={name}&trigger=sqs")
    assert status == 200, body
    return list(json.loads(body)["Invocations"])


def wait_sqs_invocation(srv: Server, name: str, body: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for entry in sqs_invocations(srv, name):
            if body in entry["Request"]["Payload"]:
                return
        time.sleep(0.2)
    raise AssertionError(f"no SQS invocation of {name} with {body!r}: {sqs_invocations(srv, name)}")


def test_export_import_round_trip_merge_and_replace(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    first = spawn_server(PERSISTENCE="1", LOCALLAMBDA_DATA_DIR=str(tmp_path / "first"))
    things = build_state(first, "stateful")
    before = view(first, "stateful", things)
    answers = {q: invoke(first.client(), "stateful", q) for q in ("$LATEST", "1", "2", "live")}
    assert answers["$LATEST"]["layer"] == "hello from the layer"
    data = export(first)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
    assert manifest["Format"] == "locallambda-state" and manifest["FormatVersion"] == 1
    assert manifest["Accounts"] == ["000000000000"] and manifest["Regions"] == ["us-east-1"]
    assert manifest["Counts"] == {"Functions": 1, "Layers": 1, "EventSourceMappings": 1, "CodeSigningConfigs": 1}
    assert len([n for n in names if n.startswith("code/")]) == 3  # two function codes, one layer

    second = spawn_server(PERSISTENCE="1", LOCALLAMBDA_DATA_DIR=str(tmp_path / "second"))
    lam = second.client()
    lam.create_function(
        FunctionName="already-here",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code(9)},
    )
    status, counts = import_(second, data, "merge")
    assert (status, counts) == (200, {"Functions": 1, "Layers": 1, "EventSourceMappings": 1})
    listed = sorted(f["FunctionName"] for f in lam.list_functions()["Functions"])
    assert listed == ["already-here", "stateful"]  # merge keeps what the server had

    # everything lists the same, and the function answers the same
    after = view(second, "stateful", things)
    assert after == before
    assert lam.get_function_configuration(FunctionName="stateful")["State"] == "Active"
    for q, answer in answers.items():
        assert invoke(lam, "stateful", q) == answer
    status, body = url_get(second, things["url"])
    assert status == 200 and json.loads(body)["version"] == 2, body

    # the mapping's queue is not in the new server (the neighbours' state is not in the file):
    # the mapping stays Enabled, its poller retrying, and polls the queue once one of that name exists
    mapping = wait_mapping(lam, things["mapping"], "Enabled")
    assert mapping["EventSourceArn"].endswith(f":{things['queue']}")
    sqs = second.client("sqs")
    queue_url = sqs.create_queue(QueueName=things["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="after the import")
    wait_sqs_invocation(second, "stateful", "after the import")

    # the import is durable: the new server restarted has it all
    second.stop()
    second.start()
    assert view(second, "stateful", things) == before

    # replace: what the file does not hold is gone
    status, counts = import_(second, data)
    assert status == 200, counts
    assert [f["FunctionName"] for f in second.client().list_functions()["Functions"]] == ["stateful"]
    assert view(second, "stateful", things) == before
    assert invoke(second.client(), "stateful", "live") == answers["live"]

    # importing into the server it came from changes nothing visible either
    status, _ = import_(first, data)
    assert status == 200
    assert view(first, "stateful", things) == before
    assert invoke(first.client(), "stateful") == answers["$LATEST"]


def _rezip(
    data: bytes, *, drop: Callable[[str], bool] = lambda n: False, edit: dict[str, bytes] | None = None
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if drop(info.filename):
                continue
            out.writestr(info.filename, (edit or {}).get(info.filename, src.read(info)))
    return buf.getvalue()


def _oversized() -> bytes:
    """A small zip that expands to over 512 MiB of zeros."""
    buf = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("manifest.json", "w", force_zip64=True) as out,
    ):
        for _ in range(520):
            out.write(chunk)
    return buf.getvalue()


def test_refused_files_change_nothing(spawn_server: Callable[..., Server]) -> None:
    srv = spawn_server()
    lam = srv.client()
    lam.create_function(
        FunctionName="stays",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code(7)},
        Publish=True,
    )
    good = export(srv)

    def state() -> Any:
        got = lam.get_function(FunctionName="stays")
        got.pop("ResponseMetadata")
        return got, lam.list_functions()["Functions"], lam.list_versions_by_function(FunctionName="stays")["Versions"]

    before = state()
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        records = json.loads(zf.read("state/functions.json"))
    escaping = io.BytesIO()
    with zipfile.ZipFile(escaping, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("../../escape.txt", "out")
    link = io.BytesIO()
    with zipfile.ZipFile(link, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        info = zipfile.ZipInfo("code/" + "0" * 64 + ".zip")
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    records[0]["latest"]["config"]["FunctionArn"] = "arn:aws:lambda:us-east-1:000000000000:function:other"
    renamed = records[0] | {"name": "x" * 65}
    cases = {
        "not a zip": (b"this is not a zip", "not a zip archive"),
        "empty": (b"", "not a zip archive"),
        "escaping entry": (escaping.getvalue(), "not a zip archive"),
        "symbolic link": (link.getvalue(), "symbolic link"),
        "unknown version": (
            _rezip(good, edit={"manifest.json": json.dumps({**manifest, "FormatVersion": 99}).encode()}),
            "format version 99; this server reads version 1",
        ),
        "another format": (
            _rezip(good, edit={"manifest.json": json.dumps({**manifest, "Format": "cloud-pod"}).encode()}),
            "does not describe a locallambda-state file",
        ),
        "missing blob": (_rezip(good, drop=lambda n: n.startswith("code/")), "lacks the code archive"),
        "blob not matching its name": (
            _rezip(
                good,
                edit={
                    n: make_zip({"x.py": "x"})
                    for n in zipfile.ZipFile(io.BytesIO(good)).namelist()
                    if n.startswith("code/")
                },
            ),
            "does not match its SHA-256 name",
        ),
        "malformed record": (
            _rezip(good, edit={"state/functions.json": json.dumps(records).encode()}),
            "has a version of another function",
        ),
        "invalid name": (
            _rezip(good, edit={"state/functions.json": json.dumps([renamed]).encode()}),
            "cannot be read",
        ),
        "oversized expansion": (_oversized(), "expands to 536870912 bytes or more"),
    }
    for label, (body, expected) in cases.items():
        status, answer = import_(srv, body)
        assert status == 400, (label, answer)
        assert answer["Type"] == "User", (label, answer)
        assert expected in answer["Message"], (label, answer)
        assert state() == before, label

    extra = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(extra, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        out.writestr("notes.txt", "hello")
    status, answer = import_(srv, extra.getvalue())
    assert (status, answer["Type"]) == (400, "User") and "'notes.txt'" in answer["Message"]
    status, answer = import_(srv, good, "overwrite")
    assert (status, answer["Type"]) == (400, "User") and "Unknown mode 'overwrite'" in answer["Message"]
    status, body = http_call(f"{srv.url}/_aws/lambda/state?neighbours=1")
    assert status == 400 and "pickles" in json.loads(body)["Message"]
    assert state() == before
    # the good file still imports
    assert import_(srv, good)[0] == 200
    assert state() == before


def run_cli(srv: Server, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "locallambda", *args, "--endpoint-url", srv.url],
        input=stdin,
        capture_output=True,
        timeout=300,
        env=srv.env,
    )


def test_cli_round_trip_with_hot_reload(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    source = spawn_server()
    target = spawn_server()
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "handler.py").write_text("def handler(event, context):\n    return {'hot': 1}\n")
    lam = source.client()
    lam.create_function(
        FunctionName="hot-fn",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"S3Bucket": "hot-reload", "S3Key": str(hot)},
    )
    lam.create_function(
        FunctionName="zip-fn",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code(3)},
    )
    file = tmp_path / "state.zip"
    out = run_cli(source, "state", "export", str(file))
    assert out.returncode == 0, out.stderr
    assert b"exported 2 functions, 0 layers, 0 event source mappings" in out.stderr
    assert file.stat().st_size > 0

    out = run_cli(target, "state", "import", str(file))
    assert out.returncode == 0, out.stderr
    assert b"imported 2 functions, 0 layers, 0 event source mappings (replace)" in out.stderr
    tlam = target.client()
    got = tlam.get_function(FunctionName="hot-fn")
    assert got["Configuration"]["CodeSha256"] == lam.get_function(FunctionName="hot-fn")["Configuration"]["CodeSha256"]
    assert invoke(tlam, "hot-fn") == {"hot": 1}
    (hot / "handler.py").write_text("def handler(event, context):\n    return {'hot': 2}\n")
    deadline = time.monotonic() + 30
    while invoke(tlam, "hot-fn") != {"hot": 2}:  # the imported function still watches its directory
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert invoke(tlam, "zip-fn")["version"] == 3

    # merge from stdin, and stdout as the file
    out = run_cli(source, "state", "export", "-")
    assert out.returncode == 0 and out.stdout[:2] == b"PK", out.stderr
    out = run_cli(target, "state", "import", "-", "--merge", stdin=out.stdout)
    assert out.returncode == 0 and b"(merge)" in out.stderr, out.stderr

    # a refused file: exit 1, the server's message, nothing changed
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    out = run_cli(target, "state", "import", str(bad))
    assert out.returncode == 1
    assert b"answered 400" in out.stderr and b"not a zip archive" in out.stderr
    assert sorted(f["FunctionName"] for f in tlam.list_functions()["Functions"]) == ["hot-fn", "zip-fn"]
    out = run_cli(target, "state", "import", str(tmp_path / "absent.zip"))
    assert out.returncode == 1 and b"cannot read" in out.stderr


def test_urls_follow_imports(spawn_server: Callable[..., Server]) -> None:
    """A URL resolves again once an import brings its function back, and answers nothing after a
    replace by a state that does not hold it."""
    srv = spawn_server()
    lam = srv.client()
    lam.create_function(
        FunctionName="with-url",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code(4)},
    )
    url = lam.create_function_url_config(FunctionName="with-url", AuthType="NONE")["FunctionUrl"]
    assert url_get(srv, url)[0] == 200
    empty = export(srv)
    lam.delete_function(FunctionName="with-url")
    nothing = export(srv)
    assert import_(srv, empty)[0] == 200
    assert url_get(srv, url)[0] == 200  # the URL resolves again after the import
    assert import_(srv, nothing) == (200, {"Functions": 0, "Layers": 0, "EventSourceMappings": 0})
    assert url_get(srv, url)[0] == 403
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="with-url")
