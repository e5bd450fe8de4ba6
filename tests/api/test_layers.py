"""Layers through a real server: publish, read, list, delete, version policies, and the layer
checks of CreateFunction/UpdateFunctionConfiguration.

Facts asserted come from AWS's recorded answers (LocalStack's parity snapshots of
``TestLambdaLayer`` in ``test_lambda_api.py``) and the AWS CLI's documented examples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip, wait_active, wait_updated

ACCOUNT = "000000000000"
CREATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LAYER_ZIP = make_zip({"python/dummy.py": "VALUE = 1\n"})

_names = iter(range(1, 1_000_000))


@pytest.fixture()
def layer_name(request: pytest.FixtureRequest) -> str:
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"layer-{base}-{next(_names)}"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def layer_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:layer:{name}"


def publish(client: Any, name: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("Content", {"ZipFile": LAYER_ZIP})
    return client.publish_layer_version(LayerName=name, **kw)


def create_fn(client: Any, name: str, **kw: Any) -> dict[str, Any]:
    return client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"handler.py": "def handler(e, c):\n    return e\n"})},
        **kw,
    )


# -- publish / read / list / delete ---------------------------------------------------------


def test_layer_lifecycle(lambda_client: Any, layer_name: str) -> None:
    sha = base64.b64encode(hashlib.sha256(LAYER_ZIP).digest()).decode()
    first = publish(
        lambda_client,
        layer_name,
        Description="d",
        LicenseInfo="MIT",
        CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"],
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerArn"] == layer_arn(layer_name)
    assert first["LayerVersionArn"] == layer_arn(layer_name) + ":1"
    assert first["Version"] == 1
    assert first["Description"] == "d" and first["LicenseInfo"] == "MIT"
    assert first["CompatibleRuntimes"] == ["python3.12"] and first["CompatibleArchitectures"] == ["x86_64"]
    assert CREATED.match(first["CreatedDate"])
    assert first["Content"]["CodeSha256"] == sha
    assert first["Content"]["CodeSize"] == len(LAYER_ZIP)
    # Content.Location is a URL on this server that serves the archive back.
    with urllib.request.urlopen(first["Content"]["Location"], timeout=10) as resp:
        assert resp.read() == LAYER_ZIP

    # Publishing the same content again still makes a new version.
    second = publish(lambda_client, layer_name, CompatibleRuntimes=["python3.12"])
    assert second["Version"] == 2 and second["Content"]["CodeSha256"] == sha

    got = lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    strip = lambda r: {k: v for k, v in r.items() if k != "ResponseMetadata"}  # noqa: E731
    assert strip(got) == strip(first)
    by_arn = lambda_client.get_layer_version_by_arn(Arn=first["LayerVersionArn"])
    assert strip(by_arn) == strip(first)
    # A layer ARN is accepted wherever a LayerName is.
    assert lambda_client.get_layer_version(LayerName=layer_arn(layer_name), VersionNumber=2)["Version"] == 2

    versions = lambda_client.list_layer_versions(LayerName=layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert versions[1] == {
        "LayerVersionArn": first["LayerVersionArn"],
        "Version": 1,
        "Description": "d",
        "CreatedDate": first["CreatedDate"],
        "CompatibleRuntimes": ["python3.12"],
        "CompatibleArchitectures": ["x86_64"],
        "LicenseInfo": "MIT",
    }
    listed = {layer["LayerName"]: layer for layer in lambda_client.list_layers()["Layers"]}
    assert listed[layer_name]["LayerArn"] == layer_arn(layer_name)
    assert listed[layer_name]["LatestMatchingVersion"]["Version"] == 2

    assert (
        lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=2)
    assert lambda_client.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    assert layer_name not in {layer["LayerName"] for layer in lambda_client.list_layers()["Layers"]}
    # AWS keeps counting after every version was deleted.
    assert publish(lambda_client, layer_name)["Version"] == 3


def test_layer_exceptions(lambda_client: Any, layer_name: str) -> None:
    published = publish(
        lambda_client, layer_name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"]
    )

    assert lambda_client.list_layer_versions(LayerName="layerdoesnotexist")["LayerVersions"] == []
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version(LayerName="layerdoesnotexist", VersionNumber=1)
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    for bad in (-1, 0):
        with pytest.raises(ClientError) as e:
            lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=bad)
        assert error_of(e) == ("InvalidParameterValueException", "Layer Version Cannot be less than 1", 400)
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=2)
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_by_arn(Arn=published["LayerArn"])  # no version in the ARN
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_by_arn(Arn=published["LayerArn"] + ":2")
    assert error_of(e) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)

    # Deleting is idempotent: unknown layers and versions answer 204 too.
    for name, number in (("layerdoesnotexist", 1), (layer_name, 2), (layer_name, 1), (layer_name, 1)):
        resp = lambda_client.delete_layer_version(LayerName=name, VersionNumber=number)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=-1)
    assert error_of(e) == ("InvalidParameterValueException", "Layer Version Cannot be less than 1", 400)
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert error_of(e)[0] == "ResourceNotFoundException"

    # Empty compatibility lists are valid and come back empty; absent ones stay absent.
    empty = publish(lambda_client, layer_name + "-empty", CompatibleRuntimes=[], CompatibleArchitectures=[])
    assert empty["CompatibleRuntimes"] == [] and empty["CompatibleArchitectures"] == []
    bare = publish(lambda_client, layer_name + "-bare")
    assert "CompatibleRuntimes" not in bare and "CompatibleArchitectures" not in bare
    assert bare["Description"] == "" and "LicenseInfo" not in bare

    with pytest.raises(ClientError) as e:
        lambda_client.list_layers(CompatibleArchitecture="archdoesnotexist")
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy "
        "constraint: Member must satisfy enum value set: [x86_64, arm64]",
        400,
    )
    with pytest.raises(ClientError) as e:
        lambda_client.list_layers(CompatibleRuntime="runtimedoesnotexist")
    code, message, status = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'runtimedoesnotexist' at 'compatibleRuntime' failed to satisfy "
        "constraint: Member must satisfy enum value set: [ruby3.5, ruby2.6, dotnetcore1.0, python3.7, "
    )
    # Listing may filter by a deprecated runtime; publishing accepts only supported ones.
    assert lambda_client.list_layers(CompatibleRuntime="python3.7")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as e:
        publish(
            lambda_client, layer_name + "-2", CompatibleRuntimes=["invalidruntime", "invalidruntime2", "nodejs20.x"]
        )
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value '[invalidruntime, invalidruntime2, nodejs20.x]' at 'compatibleRuntimes' "
        "failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, "
        "provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, "
        "ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, "
        "nodejs18.x, provided.al2, java8.al2]",
        400,
    )
    with pytest.raises(ClientError) as e:
        publish(lambda_client, layer_name + "-2", CompatibleArchitectures=["invalidarch", "x86_64"])
    assert error_of(e) == (
        "ValidationException",
        "1 validation error detected: Value '[invalidarch, x86_64]' at 'compatibleArchitectures' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
        "Member must not be null]",
        400,
    )


def test_layer_content_errors(lambda_client: Any, layer_name: str) -> None:
    with pytest.raises(ClientError) as e:
        publish(lambda_client, layer_name, Content={"S3Bucket": "no-such-bucket", "S3Key": "layer.zip"})
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist",
        400,
    )
    with pytest.raises(ClientError) as e:
        publish(lambda_client, layer_name, Content={"ZipFile": b"not a zip"})
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
        400,
    )
    # Nothing was published: the next good publish is version 1.
    assert publish(lambda_client, layer_name)["Version"] == 1


def test_list_filters_and_paging(lambda_client: Any, layer_name: str) -> None:
    publish(lambda_client, layer_name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    publish(lambda_client, layer_name, CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])
    publish(
        lambda_client, layer_name, CompatibleRuntimes=["python3.12", "nodejs20.x"], CompatibleArchitectures=["arm64"]
    )

    def versions(**kw: Any) -> list[int]:
        return [v["Version"] for v in lambda_client.list_layer_versions(LayerName=layer_name, **kw)["LayerVersions"]]

    assert versions() == [3, 2, 1]
    assert versions(CompatibleRuntime="python3.12") == [3, 1]
    assert versions(CompatibleArchitecture="x86_64") == [1]
    assert versions(CompatibleRuntime="nodejs20.x", CompatibleArchitecture="arm64") == [3, 2]
    assert versions(CompatibleRuntime="java21") == []

    def latest(**kw: Any) -> int | None:
        for layer in lambda_client.list_layers(**kw)["Layers"]:
            if layer["LayerName"] == layer_name:
                return int(layer["LatestMatchingVersion"]["Version"])
        return None

    assert latest() == 3
    assert latest(CompatibleArchitecture="x86_64") == 1  # the newest version that matches
    assert latest(CompatibleRuntime="java21") is None  # no version matches: the layer is not listed

    first = lambda_client.list_layer_versions(LayerName=layer_name, MaxItems=2)
    assert [v["Version"] for v in first["LayerVersions"]] == [3, 2]
    rest = lambda_client.list_layer_versions(LayerName=layer_name, MaxItems=2, Marker=first["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest

    # ListLayers pages through every layer once, in name order.
    publish(lambda_client, layer_name + "-b")
    seen: list[str] = []
    kw: dict[str, Any] = {"MaxItems": 1}
    while True:
        page = lambda_client.list_layers(**kw)
        seen += [layer["LayerName"] for layer in page["Layers"]]
        if "NextMarker" not in page:
            break
        kw["Marker"] = page["NextMarker"]
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert {layer_name, layer_name + "-b"} <= set(seen)


def test_layer_code_counts_in_account_usage(lambda_client: Any, layer_name: str) -> None:
    before = lambda_client.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    published = publish(lambda_client, layer_name)
    after = lambda_client.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    assert after - before == published["Content"]["CodeSize"]


def test_cli_publish_and_list(server: Server, layer_name: str, tmp_path: Any) -> None:
    archive = tmp_path / "layer.zip"
    archive.write_bytes(LAYER_ZIP)
    out = server.cli_json(
        "lambda",
        "publish-layer-version",
        "--layer-name",
        layer_name,
        "--zip-file",
        f"fileb://{archive}",
        "--compatible-runtimes",
        "python3.12",
    )
    assert out["LayerVersionArn"] == layer_arn(layer_name) + ":1"
    assert out["CompatibleRuntimes"] == ["python3.12"]
    listed = server.cli_json("lambda", "list-layer-versions", "--layer-name", layer_name)
    assert [v["Version"] for v in listed["LayerVersions"]] == [1]


# -- permissions ------------------------------------------------------------------------------


def test_layer_policy_lifecycle(lambda_client: Any, layer_name: str) -> None:
    published = publish(lambda_client, layer_name)
    resource = published["LayerVersionArn"]
    added = lambda_client.add_layer_version_permission(
        LayerName=layer_name, VersionNumber=1, StatementId="s1", Action="lambda:GetLayerVersion", Principal="*"
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert UUID.match(added["RevisionId"])
    s1 = {"Sid": "s1", "Effect": "Allow", "Principal": "*", "Action": "lambda:GetLayerVersion", "Resource": resource}
    assert json.loads(added["Statement"]) == s1

    policy = lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)
    assert json.loads(policy["Policy"]) == {"Version": "2012-10-17", "Id": "default", "Statement": [s1]}
    assert policy["RevisionId"] == added["RevisionId"]

    # An account ID becomes its root ARN; an organization becomes a PrincipalOrgID condition.
    s2 = lambda_client.add_layer_version_permission(
        LayerName=layer_name,
        VersionNumber=1,
        StatementId="s2",
        Action="lambda:GetLayerVersion",
        Principal="123456789012",
        RevisionId=policy["RevisionId"],
    )
    assert json.loads(s2["Statement"])["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert s2["RevisionId"] != policy["RevisionId"]
    s3 = lambda_client.add_layer_version_permission(
        LayerName=layer_name,
        VersionNumber=1,
        StatementId="s3",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-t194hfs8cz",
    )
    assert json.loads(s3["Statement"])["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}}
    doc = json.loads(lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in doc["Statement"]] == ["s1", "s2", "s3"]

    current = lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)["RevisionId"]
    removed = lambda_client.remove_layer_version_permission(
        LayerName=layer_name, VersionNumber=1, StatementId="s2", RevisionId=current
    )
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["s1", "s3"]
    assert after["RevisionId"] != current


def test_layer_policy_exceptions(lambda_client: Any, layer_name: str) -> None:
    publish(lambda_client, layer_name)
    add = dict(LayerName=layer_name, VersionNumber=1, Action="lambda:GetLayerVersion", Principal="*")
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_policy(LayerName=layer_name, VersionNumber=1)
    assert error_of(e) == ("ResourceNotFoundException", "No policy is associated with the given resource.", 404)

    lambda_client.add_layer_version_permission(StatementId="s1", **add)
    with pytest.raises(ClientError) as e:
        lambda_client.add_layer_version_permission(**{**add, "Action": "*"}, StatementId="sx")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lambda_client.add_layer_version_permission(StatementId="s1", **add)
    assert error_of(e) == (
        "ResourceConflictException",
        "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.",
        409,
    )
    wrong_revision = (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
        412,
    )
    with pytest.raises(ClientError) as e:
        lambda_client.add_layer_version_permission(StatementId="s2", RevisionId="wrong", **add)
    assert error_of(e) == wrong_revision

    missing_layer = f"Layer version {layer_arn(layer_name + '-doesnotexist')}:1 does not exist."
    missing_version = f"Layer version {layer_arn(layer_name)}:2 does not exist."
    for name, number, message in ((layer_name + "-doesnotexist", 1, missing_layer), (layer_name, 2, missing_version)):
        with pytest.raises(ClientError) as e:
            lambda_client.add_layer_version_permission(
                **{**add, "LayerName": name, "VersionNumber": number}, StatementId="sy"
            )
        assert error_of(e) == ("ResourceNotFoundException", message, 404)
        with pytest.raises(ClientError) as e:
            lambda_client.get_layer_version_policy(LayerName=name, VersionNumber=number)
        assert error_of(e) == ("ResourceNotFoundException", message, 404)
        with pytest.raises(ClientError) as e:
            lambda_client.remove_layer_version_permission(LayerName=name, VersionNumber=number, StatementId="s1")
        assert error_of(e) == ("ResourceNotFoundException", message, 404)

    with pytest.raises(ClientError) as e:
        lambda_client.remove_layer_version_permission(LayerName=layer_name, VersionNumber=1, StatementId="doesnotexist")
    assert error_of(e) == ("ResourceNotFoundException", "Statement doesnotexist is not found in resource policy.", 404)
    with pytest.raises(ClientError) as e:
        lambda_client.remove_layer_version_permission(
            LayerName=layer_name, VersionNumber=1, StatementId="s1", RevisionId="wrong"
        )
    assert error_of(e) == wrong_revision


# -- layers on functions ----------------------------------------------------------------------


def test_function_layer_exceptions(server: Server, lambda_client: Any, layer_name: str, fn_name: str) -> None:
    v1, v2, v3 = (publish(lambda_client, layer_name)["LayerVersionArn"] for _ in range(3))
    create_fn(lambda_client, fn_name)
    wait_active(lambda_client, fn_name)

    def refused(layers: list[str]) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as e:
            lambda_client.update_function_configuration(FunctionName=fn_name, Layers=layers)
        return error_of(e)

    two = "Two different versions of the same layer are not allowed to be referenced in the same function. {} and {} are versions of the same layer."
    assert refused([v1, v2]) == ("InvalidParameterValueException", two.format(v1, v2), 400)
    assert refused([v1, v2, v3]) == ("InvalidParameterValueException", two.format(v1, v2), 400)
    assert refused([v1, v1]) == ("InvalidParameterValueException", two.format(v1, v1), 400)
    ghost = layer_arn("doesnotexist") + ":1"
    assert refused([ghost]) == ("InvalidParameterValueException", f"Layer version {ghost} does not exist.", 400)
    assert refused([layer_arn(layer_name) + ":9"]) == (
        "InvalidParameterValueException",
        f"Layer version {layer_arn(layer_name)}:9 does not exist.",
        400,
    )
    assert refused([layer_arn(layer_name)])[0] == "ValidationException"  # no version in the ARN

    # A refused update changes nothing, not even the members given next to Layers.
    with pytest.raises(ClientError):
        lambda_client.update_function_configuration(FunctionName=fn_name, Description="changed", Layers=[ghost])
    cfg = lambda_client.get_function_configuration(FunctionName=fn_name)
    assert cfg["Description"] == "" and "Layers" not in cfg

    other = server.client(region="us-west-2")
    remote = publish(other, layer_name)["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        create_fn(lambda_client, fn_name + "-x", Layers=[remote])
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.",
        400,
    )


def test_function_quota_of_five_layers(lambda_client: Any, layer_name: str, fn_name: str) -> None:
    arns = [publish(lambda_client, f"{layer_name}-{n}")["LayerVersionArn"] for n in range(6)]
    with pytest.raises(ClientError) as e:
        create_fn(lambda_client, fn_name, Layers=arns)
    assert error_of(e) == ("InvalidParameterValueException", "Cannot reference more than 5 layers.", 400)
    created = create_fn(lambda_client, fn_name, Layers=arns[:5])
    assert [layer["Arn"] for layer in created["Layers"]] == arns[:5]


def test_function_shows_its_layers(lambda_client: Any, layer_name: str, fn_name: str) -> None:
    big = make_zip({"python/big.py": "X = '" + "x" * 5000 + "'\n"})
    v1 = publish(lambda_client, layer_name, Content={"ZipFile": big})
    create_fn(lambda_client, fn_name)
    wait_active(lambda_client, fn_name)
    updated = lambda_client.update_function_configuration(FunctionName=fn_name, Layers=[v1["LayerVersionArn"]])
    assert updated["Layers"] == [{"Arn": v1["LayerVersionArn"], "CodeSize": len(big)}]
    assert updated["LastUpdateStatus"] == "InProgress"
    assert wait_updated(lambda_client, fn_name)["Layers"] == updated["Layers"]

    # Deleting a layer version leaves the functions that use it as they are.
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    assert lambda_client.get_function_configuration(FunctionName=fn_name)["Layers"] == updated["Layers"]

    # An empty list removes the layers.
    wait_updated(lambda_client, fn_name)
    cleared = lambda_client.update_function_configuration(FunctionName=fn_name, Layers=[])
    assert "Layers" not in cleared


@pytest.fixture(scope="module")
def small_server() -> Iterator[Server]:
    """A server whose unzipped limit is 20,000 bytes, to reach it with small archives."""
    with Server(env={"LAMBDA_LIMITS_CODE_SIZE_UNZIPPED": "20000"}) as srv:
        yield srv


def test_function_and_layers_unzipped_limit(small_server: Server) -> None:
    client = small_server.client()
    layer = publish(client, "big-layer", Content={"ZipFile": make_zip({"python/a.py": "#" * 12_000})})
    with pytest.raises(ClientError) as e:
        client.create_function(
            FunctionName="too-big",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": make_zip({"handler.py": "#" * 9_000})},
            Layers=[layer["LayerVersionArn"]],
        )
    assert error_of(e) == (
        "InvalidParameterValueException",
        "Function code combined with layers exceeds the maximum allowed size of 20000 bytes. The actual size is 21000 bytes.",
        400,
    )
    client.create_function(
        FunctionName="fits",
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"handler.py": "#" * 7_000})},
        Layers=[layer["LayerVersionArn"]],
    )


# -- AWS's own answers (LocalStack's test_layer_exceptions, test_layer_compatibilities) ----------

RUNTIMES_TEXT = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, "
    "python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, "
    "java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)


def test_invalid_runtimes_and_architectures_are_both_reported(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        lambda_client.publish_layer_version(
            LayerName="both-bad", Content={"ZipFile": make_zip({"a.txt": "x"})},
            CompatibleRuntimes=["invalidruntime", "invalidruntime2", "nodejs20.x"],
            CompatibleArchitectures=["invalidarch", "x86_64"],
        )  # fmt: skip
    assert e.value.response["Error"]["Message"] == (
        "2 validation errors detected: Value '[invalidruntime, invalidruntime2, nodejs20.x]' at 'compatibleRuntimes' "
        f"failed to satisfy constraint: Member must satisfy enum value set: {RUNTIMES_TEXT}; Value '[invalidarch, "
        "x86_64]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    )


def test_deprecated_runtimes_are_compatible_runtimes(lambda_client: Any) -> None:
    old = ["nodejs14.x", "nodejs12.x", "python3.7", "java8", "dotnetcore3.1", "go1.x", "ruby2.7"]
    out = lambda_client.publish_layer_version(
        LayerName="old-runtimes", Content={"ZipFile": make_zip({"a.txt": "x"})}, CompatibleRuntimes=old
    )
    assert out["CompatibleRuntimes"] == old


def test_a_layer_version_arn_is_quoted_as_aws_does(lambda_client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:layer:no-version"
    with pytest.raises(ClientError) as e:
        lambda_client.get_layer_version_by_arn(Arn=arn)
    assert e.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-"
        r"\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
    )
