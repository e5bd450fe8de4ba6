"""Function and layer code from the embedded S3 (S3Bucket/S3Key/S3ObjectVersion), with AWS's
errors for a missing bucket or key (texts from AWS's recorded CreateFunction/UpdateFunctionCode
answers)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip, wait_active, wait_updated
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions, unique

NO_BUCKET = (
    "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist"
)
NO_KEY = "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist."


def _code(answer: str) -> bytes:
    return make_zip({"handler.py": f"def handler(event, context):\n    return {answer!r}\n"})


@pytest.fixture()
def bucket(srv: Server) -> str:
    name = unique("code-bucket")
    srv.client("s3").create_bucket(Bucket=name)
    return name


def _create(client: Any, name: str, code: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return client.create_function(
        FunctionName=name, Runtime=HOST_PYTHON_RUNTIME, Role=ROLE, Handler="handler.handler", Code=code, **kw
    )


def test_create_and_update_from_s3(srv: Server, functions: Functions, bucket: str) -> None:
    s3 = srv.client("s3")
    s3.put_object(Bucket=bucket, Key="v1.zip", Body=_code("one"))
    client = functions.client
    name = unique()
    created = _create(client, name, {"S3Bucket": bucket, "S3Key": "v1.zip"})
    functions.names.append(name)
    assert created["CodeSize"] == len(_code("one"))
    wait_active(client, name)
    assert functions.invoke_json(name) == "one"

    s3.put_object(Bucket=bucket, Key="v2.zip", Body=_code("two"))
    client.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="v2.zip")
    wait_updated(client, name)
    assert functions.invoke_json(name) == "two"


def test_s3_object_version(srv: Server, functions: Functions, bucket: str) -> None:
    s3 = srv.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="code.zip", Body=_code("first"))["VersionId"]
    s3.put_object(Bucket=bucket, Key="code.zip", Body=_code("second"))
    name = unique()
    _create(functions.client, name, {"S3Bucket": bucket, "S3Key": "code.zip", "S3ObjectVersion": first})
    functions.names.append(name)
    wait_active(functions.client, name)
    assert functions.invoke_json(name) == "first"


def test_missing_bucket_and_key(srv: Server, functions: Functions, bucket: str) -> None:
    client = functions.client
    name = unique()
    with pytest.raises(ClientError) as err:
        _create(client, name, {"S3Bucket": unique("no-such-bucket"), "S3Key": "x.zip"})
    assert err.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": NO_BUCKET}
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as err:
        _create(client, name, {"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert err.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": NO_KEY}
    with pytest.raises(ClientError):
        client.get_function(FunctionName=name)  # nothing stored

    existing = functions.python("def handler(e, c):\n    return 1\n")
    for code, message in (
        ({"S3Bucket": unique("no-such-bucket"), "S3Key": "x"}, NO_BUCKET),
        ({"S3Bucket": bucket, "S3Key": "nope"}, NO_KEY),
    ):
        with pytest.raises(ClientError) as err:
            client.update_function_code(FunctionName=existing, **code)
        assert err.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": message}
    assert functions.invoke_json(existing) == 1  # the old code still runs


def test_not_a_zip_in_s3(srv: Server, functions: Functions, bucket: str) -> None:
    srv.client("s3").put_object(Bucket=bucket, Key="text.zip", Body=b"this is not a zip")
    with pytest.raises(ClientError) as err:
        _create(functions.client, unique(), {"S3Bucket": bucket, "S3Key": "text.zip"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_layer_from_s3(srv: Server, functions: Functions, bucket: str) -> None:
    s3 = srv.client("s3")
    s3.put_object(
        Bucket=bucket, Key="layer.zip", Body=make_zip({"python/shared_from_s3.py": "VALUE = 'from a layer in S3'\n"})
    )
    client = functions.client
    layer = client.publish_layer_version(
        LayerName=unique("s3layer"), Content={"S3Bucket": bucket, "S3Key": "layer.zip"}
    )
    name = functions.python(
        "import shared_from_s3\ndef handler(e, c):\n    return shared_from_s3.VALUE\n",
        Layers=[layer["LayerVersionArn"]],
    )
    assert functions.invoke_json(name) == "from a layer in S3"
    with pytest.raises(ClientError) as err:
        client.publish_layer_version(LayerName=unique("s3layer"), Content={"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert err.value.response["Error"] == {"Code": "InvalidParameterValueException", "Message": NO_KEY}


def test_cli_create_function_from_s3(srv: Server, functions: Functions, bucket: str, tmp_path: Any) -> None:
    """The AWS CLI's `s3 cp` then `lambda create-function --code S3Bucket=…,S3Key=…`."""
    path = tmp_path / "fn.zip"
    path.write_bytes(_code("via the cli"))
    srv.cli("s3", "cp", str(path), f"s3://{bucket}/fn.zip")
    name = unique()
    srv.cli(
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        HOST_PYTHON_RUNTIME,
        "--role",
        ROLE,
        "--handler",
        "handler.handler",
        "--code",
        f"S3Bucket={bucket},S3Key=fn.zip",
    )
    functions.names.append(name)
    wait_active(functions.client, name)
    assert functions.invoke_json(name) == "via the cli"
