"""The function lifecycle through a real server: create, read, list, update, publish, delete.

Facts asserted here come from AWS's recorded answers (LocalStack's parity snapshots of
``test_lambda_api.py``): status codes, ARNs, the Pending → Active and InProgress → Successful
fields, RevisionId and CodeSha256 rules, and the exact error texts.

Transitions on the shared server settle almost at once, so the states in between (and the
ResourceConflictException they cause) are observed on an in-process server whose preparer — the
seam the invoke engine uses to say "this function can run" — waits for the test to open a gate.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from locallambda.app import build_app
from locallambda.settings import Settings
from tests.conftest import PY_ECHO, ROLE, Server, free_port, make_zip, wait_active, wait_updated

LAST_MODIFIED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCOUNT = "000000000000"


def zip_v(n: int) -> bytes:
    return make_zip({"handler.py": f"def handler(event, context):\n    return {n}\n"})


def sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create(client: Any, name: str, code: bytes, **kw: Any) -> dict[str, Any]:
    return client.create_function(
        FunctionName=name, Runtime="python3.12", Handler="handler.handler", Role=ROLE, Code={"ZipFile": code}, **kw
    )


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def arn(name: str, region: str = "us-east-1", qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


# -- create / get ----------------------------------------------------------------------------


def test_create_then_get_shows_pending_then_active(lambda_client: Any, fn_name: str) -> None:
    code = zip_v(1)
    created = create(lambda_client, fn_name, code, MemorySize=256, Timeout=5)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == fn_name
    assert created["FunctionArn"] == arn(fn_name)
    assert created["Version"] == "$LATEST"
    assert created["CodeSha256"] == sha_b64(code)
    assert created["CodeSize"] == len(code)
    assert LAST_MODIFIED.match(created["LastModified"]), created["LastModified"]
    assert UUID.match(created["RevisionId"])
    assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in created
    assert (created["MemorySize"], created["Timeout"], created["Description"]) == (256, 5, "")
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["PackageType"] == "Zip"
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn_name}"}
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")

    lambda_client.get_waiter("function_active_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 0.1})
    got = lambda_client.get_function(FunctionName=fn_name)
    cfg = got["Configuration"]
    assert (cfg["State"], cfg["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in cfg and "StateReasonCode" not in cfg
    assert cfg["RevisionId"] != created["RevisionId"]  # the transition is a change
    assert cfg["FunctionArn"] == arn(fn_name)
    assert got["Code"]["RepositoryType"] == "S3"

    again = lambda_client.get_function_configuration(FunctionName=fn_name)
    assert again == {**cfg, "ResponseMetadata": again["ResponseMetadata"]}


def test_code_location_serves_back_the_exact_zip(lambda_client: Any, server: Server, fn_name: str) -> None:
    code = make_zip({"handler.py": "def handler(e, c):\n    return 'x'\n", "data/blob.bin": bytes(range(256)) * 4})
    create(lambda_client, fn_name, code)
    location = lambda_client.get_function(FunctionName=fn_name)["Code"]["Location"]
    assert location.startswith(server.url + "/")
    with urllib.request.urlopen(location, timeout=10) as resp:
        assert resp.status == 200
        assert resp.read() == code


def test_duplicate_create_conflicts(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    with pytest.raises(ClientError) as e:
        create(lambda_client, fn_name, zip_v(1))
    assert error_of(e) == ("ResourceConflictException", f"Function already exist: {fn_name}", 409)


def test_latest_qualifier_gives_the_qualified_arn(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    cfg = lambda_client.get_function(FunctionName=fn_name, Qualifier="$LATEST")["Configuration"]
    assert cfg["FunctionArn"] == arn(fn_name, qualifier="$LATEST")
    cfg = lambda_client.get_function_configuration(FunctionName=arn(fn_name, qualifier="$LATEST"))
    assert cfg["FunctionArn"] == arn(fn_name, qualifier="$LATEST")
    assert lambda_client.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"] == arn(fn_name)


def test_function_names_as_arns(lambda_client: Any, fn_name: str) -> None:
    created = create(lambda_client, arn(fn_name), zip_v(1))
    assert created["FunctionName"] == fn_name and created["FunctionArn"] == arn(fn_name)
    for ref in (fn_name, arn(fn_name), f"{ACCOUNT}:function:{fn_name}"):
        assert lambda_client.get_function_configuration(FunctionName=ref)["FunctionName"] == fn_name


# -- not found, wrong region, qualifier mismatch ------------------------------------------


def test_missing_function_and_version(lambda_client: Any, fn_name: str) -> None:
    for call in (lambda_client.get_function, lambda_client.get_function_configuration, lambda_client.delete_function):
        with pytest.raises(ClientError) as e:
            call(FunctionName=fn_name)
        assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(fn_name)}", 404)
        assert e.value.response["Type"] == "User"
    create(lambda_client, fn_name, zip_v(1))
    for call in (lambda_client.get_function, lambda_client.get_function_configuration):
        with pytest.raises(ClientError) as e:
            call(FunctionName=fn_name, Qualifier="1221")
        assert error_of(e) == (
            "ResourceNotFoundException",
            f"Function not found: {arn(fn_name, qualifier='1221')}",
            404,
        )


def test_not_found_body_uses_the_model_member_name(lambda_client: Any, fn_name: str) -> None:
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=fn_name)
    assert e.value.response["Message"] == f"Function not found: {arn(fn_name)}"


def test_arn_of_another_region(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    other = arn(fn_name, region="eu-central-1")
    for call in (lambda_client.get_function, lambda_client.get_function_configuration, lambda_client.delete_function):
        with pytest.raises(ClientError) as e:
            call(FunctionName=other)
        assert error_of(e) == (
            "ResourceNotFoundException",
            "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')",
            404,
        )


def test_qualifier_mismatch_with_arn(lambda_client: Any) -> None:
    name = "some-function"
    for call in (lambda_client.get_function, lambda_client.get_function_configuration, lambda_client.delete_function):
        with pytest.raises(ClientError) as e:
            call(FunctionName=arn(name, qualifier="1"), Qualifier="$LATEST")
        assert error_of(e) == (
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
            400,
        )
    for call in (lambda_client.get_function, lambda_client.get_function_configuration):
        with pytest.raises(ClientError) as e:
            call(FunctionName=arn(name, qualifier="$LATEST"), Qualifier="$LATEST")
        assert error_of(e) == (
            "ResourceNotFoundException",
            f"Function not found: {arn(name, qualifier='$LATEST')}",
            404,
        )
    with pytest.raises(ClientError) as e:
        lambda_client.delete_function(FunctionName=arn(name, qualifier="$LATEST"), Qualifier="$LATEST")
    assert error_of(e) == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
        400,
    )


# -- updates ------------------------------------------------------------------------------


def test_update_configuration_lifecycle(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    before = wait_active(lambda_client, fn_name)
    updated = lambda_client.update_function_configuration(
        FunctionName=fn_name,
        Runtime="python3.11",
        Description="Changed-Description",
        MemorySize=512,
        Timeout=10,
        Environment={"Variables": {"ENV_A": "a"}},
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (updated["LastUpdateStatus"], updated["LastUpdateStatusReason"], updated["LastUpdateStatusReasonCode"]) == (
        "InProgress",
        "The function is being created.",
        "Creating",
    )
    assert updated["State"] == "Active"
    assert (updated["Runtime"], updated["Description"], updated["MemorySize"], updated["Timeout"]) == (
        "python3.11",
        "Changed-Description",
        512,
        10,
    )
    assert updated["Environment"] == {"Variables": {"ENV_A": "a"}}
    assert updated["RevisionId"] != before["RevisionId"]
    assert updated["CodeSha256"] == before["CodeSha256"]
    assert updated["RuntimeVersionConfig"] != before["RuntimeVersionConfig"]
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 0.1})
    after = lambda_client.get_function_configuration(FunctionName=fn_name)
    assert after["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in after and "LastUpdateStatusReasonCode" not in after
    assert after["RevisionId"] not in (before["RevisionId"], updated["RevisionId"])
    assert after["Description"] == "Changed-Description"


def test_update_code_lifecycle_and_download(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    wait_active(lambda_client, fn_name)
    new = zip_v(2)
    updated = lambda_client.update_function_code(FunctionName=fn_name, ZipFile=new)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert (updated["CodeSha256"], updated["CodeSize"], updated["Version"]) == (sha_b64(new), len(new), "$LATEST")
    after = wait_updated(lambda_client, fn_name)
    assert after["CodeSha256"] == sha_b64(new)
    location = lambda_client.get_function(FunctionName=fn_name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=10) as resp:
        assert resp.read() == new


def test_update_code_dry_run_changes_nothing(lambda_client: Any, fn_name: str) -> None:
    old = zip_v(1)
    create(lambda_client, fn_name, old)
    before = wait_active(lambda_client, fn_name)
    new = zip_v(2)
    preview = lambda_client.update_function_code(FunctionName=fn_name, ZipFile=new, DryRun=True)
    assert preview["CodeSha256"] == sha_b64(new)
    after = lambda_client.get_function_configuration(FunctionName=fn_name)
    assert (after["CodeSha256"], after["RevisionId"], after["LastUpdateStatus"]) == (
        sha_b64(old),
        before["RevisionId"],
        "Successful",
    )


def test_update_code_with_publish(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    wait_active(lambda_client, fn_name)
    new = zip_v(2)
    published = lambda_client.update_function_code(FunctionName=fn_name, ZipFile=new, Publish=True)
    # AWS: the answer is the new version, Pending while its code is prepared, no update status.
    assert (published["Version"], published["FunctionArn"]) == ("1", arn(fn_name, qualifier="1"))
    assert (published["State"], published["StateReason"], published["StateReasonCode"]) == (
        "Pending",
        "The function is being created.",
        "Creating",
    )
    assert "LastUpdateStatus" not in published
    assert published["CodeSha256"] == sha_b64(new)
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=fn_name, Qualifier="1", WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    v1 = lambda_client.get_function_configuration(FunctionName=fn_name, Qualifier="1")
    assert (v1["State"], v1["LastUpdateStatus"], v1["CodeSha256"]) == ("Active", "Successful", sha_b64(new))
    latest = wait_updated(lambda_client, fn_name)
    assert latest["CodeSha256"] == sha_b64(new)


def test_revision_id_must_match(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    current = wait_active(lambda_client, fn_name)["RevisionId"]
    text = (
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    stale = "00000000-0000-0000-0000-000000000000"
    calls = [
        lambda: lambda_client.update_function_configuration(FunctionName=fn_name, Description="x", RevisionId=stale),
        lambda: lambda_client.update_function_code(FunctionName=fn_name, ZipFile=zip_v(2), RevisionId=stale),
        lambda: lambda_client.publish_version(FunctionName=fn_name, RevisionId=stale),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("PreconditionFailedException", text, 412)
        assert e.value.response["Type"] == "User"
    ok = lambda_client.update_function_configuration(FunctionName=fn_name, Description="y", RevisionId=current)
    assert ok["RevisionId"] != current


# -- versions -----------------------------------------------------------------------------


def test_publish_version_and_list_versions(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1), Description="No version :(")
    latest = wait_active(lambda_client, fn_name)
    with pytest.raises(ClientError) as e:
        lambda_client.publish_version(FunctionName=fn_name, CodeSha256="somenonexistentsha256")
    assert error_of(e) == (
        "InvalidParameterValueException",
        f"CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST ({latest['CodeSha256']}). "
        "Please try again with the CodeSHA256 in $LATEST.",
        400,
    )
    v1 = lambda_client.publish_version(
        FunctionName=fn_name, Description="First version", CodeSha256=latest["CodeSha256"]
    )
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (v1["Version"], v1["FunctionArn"], v1["Description"]) == ("1", arn(fn_name, qualifier="1"), "First version")
    assert (v1["State"], v1["LastUpdateStatus"]) == ("Active", "Successful")
    # Nothing changed since: publishing again returns the same version.
    again = lambda_client.publish_version(FunctionName=fn_name)
    assert (again["Version"], again["RevisionId"]) == ("1", v1["RevisionId"])

    lambda_client.update_function_configuration(FunctionName=fn_name, Description="Second")
    wait_updated(lambda_client, fn_name)
    v2 = lambda_client.publish_version(FunctionName=fn_name)
    assert (v2["Version"], v2["Description"]) == ("2", "Second")

    versions = lambda_client.list_versions_by_function(FunctionName=fn_name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [
        arn(fn_name, qualifier="$LATEST"),
        arn(fn_name, qualifier="1"),
        arn(fn_name, qualifier="2"),
    ]
    for v in versions:  # listings carry no state fields
        assert not {"State", "LastUpdateStatus", "RuntimeVersionConfig"} & set(v)
    assert (
        lambda_client.get_function(FunctionName=fn_name, Qualifier="1")["Configuration"]["Description"]
        == "First version"
    )

    page1 = lambda_client.list_versions_by_function(FunctionName=fn_name, MaxItems=2)
    assert [v["Version"] for v in page1["Versions"]] == ["$LATEST", "1"]
    page2 = lambda_client.list_versions_by_function(FunctionName=fn_name, Marker=page1["NextMarker"])
    assert [v["Version"] for v in page2["Versions"]] == ["2"] and "NextMarker" not in page2


def test_create_with_publish(lambda_client: Any, fn_name: str) -> None:
    created = create(lambda_client, fn_name, zip_v(1), Publish=True)
    # AWS answers with version 1's configuration under the unqualified ARN.
    assert (created["Version"], created["FunctionArn"], created["State"]) == ("1", arn(fn_name), "Pending")
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=fn_name, Qualifier="1", WaiterConfig={"Delay": 0.1}
    )
    v1 = lambda_client.get_function(FunctionName=fn_name, Qualifier="1")["Configuration"]
    assert (v1["FunctionArn"], v1["State"], v1["LastUpdateStatus"]) == (
        arn(fn_name, qualifier="1"),
        "Active",
        "Successful",
    )
    assert [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=fn_name)["Versions"]] == [
        "$LATEST",
        "1",
    ]


def test_delete_versions_and_function(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1), Publish=True)
    wait_active(lambda_client, fn_name)
    lambda_client.update_function_code(FunctionName=fn_name, ZipFile=zip_v(2), Publish=True)
    wait_updated(lambda_client, fn_name)

    # A version that does not exist: AWS answers success, every time.
    for _ in range(2):
        assert lambda_client.delete_function(FunctionName=fn_name, Qualifier="1233")["StatusCode"] == 204
    for qualifier, message in (
        ("$LATEST", "$LATEST version cannot be deleted without deleting the function."),
        ("live", "Deletion of aliases is not currently supported."),
    ):
        with pytest.raises(ClientError) as e:
            lambda_client.delete_function(FunctionName=fn_name, Qualifier=qualifier)
        assert error_of(e) == ("InvalidParameterValueException", message, 400)

    resp = lambda_client.delete_function(FunctionName=fn_name, Qualifier="1")
    assert (resp["StatusCode"], resp["ResponseMetadata"]["HTTPStatusCode"]) == (204, 204)
    versions = [v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=fn_name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    with pytest.raises(ClientError) as e:
        lambda_client.get_function(FunctionName=fn_name, Qualifier="1")
    assert error_of(e)[0] == "ResourceNotFoundException"
    # Version numbers are never reused.
    lambda_client.update_function_configuration(FunctionName=fn_name, Description="third")
    wait_updated(lambda_client, fn_name)
    assert lambda_client.publish_version(FunctionName=fn_name)["Version"] == "3"

    assert lambda_client.delete_function(FunctionName=fn_name)["StatusCode"] == 204
    for qualifier in (None, "1233"):
        kw = {"Qualifier": qualifier} if qualifier else {}
        with pytest.raises(ClientError) as e:
            lambda_client.delete_function(FunctionName=fn_name, **kw)
        assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(fn_name)}", 404)


# -- listing ------------------------------------------------------------------------------


def test_list_functions_paginated_to_the_end(lambda_client: Any, fn_name: str) -> None:
    names = [f"{fn_name}-{i}" for i in range(5)]
    for name in names:
        create(lambda_client, name, zip_v(1))
    lambda_client.publish_version(FunctionName=names[0])

    def walk(**kw: Any) -> list[dict[str, Any]]:
        pages = lambda_client.get_paginator("list_functions").paginate(**kw, PaginationConfig={"PageSize": 2})
        return [f for page in pages for f in page["Functions"]]

    listed = walk()
    keys = [f["FunctionName"] for f in listed]
    assert len(keys) == len(set(keys)), "a function appeared on two pages"
    assert set(names) <= set(keys)
    assert keys == sorted(keys)
    whole = lambda_client.list_functions(MaxItems=10000)["Functions"]
    assert [f["FunctionName"] for f in whole] == keys
    mine = {f["FunctionName"]: f for f in listed if f["FunctionName"] in names}
    for f in mine.values():
        assert f["FunctionArn"] == arn(f["FunctionName"]) and f["Version"] == "$LATEST"
        assert not {"State", "StateReason", "LastUpdateStatus", "RuntimeVersionConfig"} & set(f)

    every = [(f["FunctionName"], f["Version"], f["FunctionArn"]) for f in walk(FunctionVersion="ALL")]
    assert len(every) == len(set(every))
    assert (names[0], "$LATEST", arn(names[0], qualifier="$LATEST")) in every
    assert (names[0], "1", arn(names[0], qualifier="1")) in every
    assert [e for e in every if e[0] == names[1]] == [(names[1], "$LATEST", arn(names[1], qualifier="$LATEST"))]

    with pytest.raises(ClientError) as e:
        lambda_client.list_functions(FunctionVersion="invalid")
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ALL]",
        400,
    )


# -- regions ------------------------------------------------------------------------------


def test_region_comes_from_the_signature(server: Server, fn_name: str) -> None:
    west = server.client(region="us-west-2")
    east = server.client(region="us-east-1")
    created = create(west, fn_name, zip_v(1))
    assert created["FunctionArn"] == arn(fn_name, region="us-west-2")
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-west-2::runtime:")
    assert west.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"] == arn(fn_name, region="us-west-2")
    with pytest.raises(ClientError) as e:
        east.get_function(FunctionName=fn_name)
    assert error_of(e) == ("ResourceNotFoundException", f"Function not found: {arn(fn_name)}", 404)
    assert fn_name in {f["FunctionName"] for f in west.list_functions(MaxItems=10000)["Functions"]}
    assert fn_name not in {f["FunctionName"] for f in east.list_functions(MaxItems=10000)["Functions"]}

    # The same name may exist in two regions, independently.
    create(east, fn_name, zip_v(2))
    assert east.get_function(FunctionName=fn_name)["Configuration"]["CodeSha256"] == sha_b64(zip_v(2))
    assert west.get_function(FunctionName=fn_name)["Configuration"]["CodeSha256"] == sha_b64(zip_v(1))
    east.delete_function(FunctionName=fn_name)
    assert west.get_function(FunctionName=fn_name)["Configuration"]["FunctionName"] == fn_name


def test_unsigned_requests_are_us_east_1(server: Server, lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    create(server.client(region="eu-west-1"), f"{fn_name}-eu", zip_v(1))
    with urllib.request.urlopen(f"{server.url}/2015-03-31/functions/?MaxItems=10000", timeout=10) as resp:
        assert resp.status == 200
        listed = json.loads(resp.read())["Functions"]
    names = {f["FunctionName"] for f in listed}
    assert fn_name in names and f"{fn_name}-eu" not in names
    with urllib.request.urlopen(f"{server.url}/2015-03-31/functions/{fn_name}", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["Configuration"]["FunctionArn"] == arn(fn_name)


# -- synchronous create (LAMBDA_SYNCHRONOUS_CREATE=1) --------------------------------------


def test_synchronous_create_answers_active() -> None:
    with Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "1"}) as srv:
        client = srv.client()
        created = create(client, "sync-fn", zip_v(1))
        assert (created["State"], created["LastUpdateStatus"]) == ("Active", "Successful")
        assert "StateReason" not in created
        updated = client.update_function_configuration(FunctionName="sync-fn", Description="d")
        assert updated["LastUpdateStatus"] == "Successful"
        updated = client.update_function_code(FunctionName="sync-fn", ZipFile=zip_v(2), Publish=True)
        assert (updated["Version"], updated["State"], updated["LastUpdateStatus"]) == ("1", "Active", "Successful")


# -- states in between, on a server whose preparation waits for the test -------------------


class GatedServer:
    """An in-process server whose preparer (Pending → Active, InProgress → Successful) waits
    until the test opens the gate, or fails with ``fail_reason`` when that is set."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gate = threading.Event()
        self.fail_reason: str | None = None
        self.app = build_app(Settings(port=self.port))

        async def preparer(record: Any) -> str | None:
            deadline = time.monotonic() + 30
            while not self.gate.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110 - set from another thread
                await asyncio.sleep(0.01)
            return self.fail_reason

        self.app.plane.preparer = preparer
        config = uvicorn.Config(
            self.app.asgi, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning", loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> GatedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "in-process server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.should_exit = True
        self.thread.join(10)

    def client(self) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )


@pytest.fixture(scope="module")
def gated() -> Iterator[GatedServer]:
    with GatedServer() as srv:
        yield srv


def test_pending_function_refuses_updates(gated: GatedServer) -> None:
    client = gated.client()
    gated.gate.clear()
    create(client, "pending-fn", zip_v(1))
    assert client.get_function(FunctionName="pending-fn")["Configuration"]["State"] == "Pending"
    pending = (
        "ResourceConflictException",
        "The operation cannot be performed at this time. The function is currently in the following state: Pending",
        409,
    )
    for call in (
        lambda: client.update_function_configuration(FunctionName="pending-fn", Description="x"),
        lambda: client.update_function_code(FunctionName="pending-fn", ZipFile=zip_v(2)),
        lambda: client.publish_version(FunctionName="pending-fn"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == pending
    with pytest.raises(WaiterError):
        client.get_waiter("function_active_v2").wait(
            FunctionName="pending-fn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 3}
        )
    gated.gate.set()
    client.get_waiter("function_active_v2").wait(
        FunctionName="pending-fn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100}
    )
    assert client.get_function_configuration(FunctionName="pending-fn")["LastUpdateStatus"] == "Successful"


def test_update_in_progress_refuses_updates(gated: GatedServer) -> None:
    client = gated.client()
    gated.gate.set()
    create(client, "busy-fn", zip_v(1))
    client.get_waiter("function_active_v2").wait(
        FunctionName="busy-fn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100}
    )
    gated.gate.clear()
    first = client.update_function_configuration(FunctionName="busy-fn", Description="first")
    assert first["LastUpdateStatus"] == "InProgress"
    busy = (
        "ResourceConflictException",
        f"The operation cannot be performed at this time. An update is in progress for resource: {arn('busy-fn')}",
        409,
    )
    for call in (
        lambda: client.update_function_configuration(FunctionName="busy-fn", Description="second"),
        lambda: client.update_function_code(FunctionName="busy-fn", ZipFile=zip_v(2)),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == busy
    assert client.get_function_configuration(FunctionName="busy-fn")["LastUpdateStatus"] == "InProgress"
    gated.gate.set()
    client.get_waiter("function_updated_v2").wait(
        FunctionName="busy-fn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100}
    )
    cfg = client.get_function_configuration(FunctionName="busy-fn")
    assert (cfg["Description"], cfg["LastUpdateStatus"]) == ("first", "Successful")


def test_failed_preparation_is_state_failed(gated: GatedServer) -> None:
    client = gated.client()
    gated.fail_reason = "Docker not available"
    gated.gate.set()
    try:
        create(client, "failing-fn", zip_v(1))
        with pytest.raises(WaiterError):
            client.get_waiter("function_active_v2").wait(
                FunctionName="failing-fn", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100}
            )
    finally:
        gated.fail_reason = None
    cfg = client.get_function_configuration(FunctionName="failing-fn")
    assert (cfg["State"], cfg["StateReason"], cfg["StateReasonCode"]) == (
        "Failed",
        "Docker not available",
        "InternalError",
    )


# -- members AWS shows only when they apply (LocalStack's parity snapshots) -------------------


def test_environment_is_absent_unless_given(lambda_client: Any, fn_name: str) -> None:
    created = lambda_client.create_function(
        FunctionName=fn_name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"handler.py": PY_ECHO})},
    )
    assert "Environment" not in created
    assert "Environment" not in lambda_client.get_function_configuration(FunctionName=fn_name)
    wait_active(lambda_client, fn_name)
    updated = lambda_client.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {"AB": "1"}})
    assert updated["Environment"] == {"Variables": {"AB": "1"}}


def test_json_logging_gets_default_levels_and_text_drops_them(lambda_client: Any, fn_name: str) -> None:
    created = lambda_client.create_function(
        FunctionName=fn_name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"handler.py": PY_ECHO})},
        LoggingConfig={"LogFormat": "JSON"},
    )
    assert created["LoggingConfig"] == {
        "ApplicationLogLevel": "INFO",
        "LogFormat": "JSON",
        "LogGroup": f"/aws/lambda/{fn_name}",
        "SystemLogLevel": "INFO",
    }
    wait_active(lambda_client, fn_name)
    debug = lambda_client.update_function_configuration(
        FunctionName=fn_name, LoggingConfig={"ApplicationLogLevel": "DEBUG"}
    )["LoggingConfig"]
    assert (debug["ApplicationLogLevel"], debug["SystemLogLevel"]) == ("DEBUG", "INFO")
    wait_updated(lambda_client, fn_name)
    text = lambda_client.update_function_configuration(FunctionName=fn_name, LoggingConfig={"LogFormat": "Text"})
    assert text["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn_name}"}


def test_create_in_another_account_is_denied_as_aws_answers(lambda_client: Any, fn_name: str) -> None:
    # AWS's recorded answer (test_function_arns, function_arn_other_account_exc): 403, no message.
    with pytest.raises(ClientError) as e:
        create(lambda_client, f"arn:aws:lambda:us-east-1:111111111111:function:{fn_name}", zip_v(1))
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"].get("Message"), r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDeniedException",
        None,
        403,
    )
    assert "Type" not in r


def test_a_layer_of_another_region_is_refused_before_the_name_conflict(lambda_client: Any, fn_name: str) -> None:
    create(lambda_client, fn_name, zip_v(1))
    with pytest.raises(ClientError) as e:
        create(lambda_client, fn_name, zip_v(1), Layers=["arn:aws:lambda:eu-west-1:000000000000:layer:l:1"])
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.",
        400,
    )
