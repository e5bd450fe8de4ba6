"""Validation answers of the function operations, compared with AWS's recorded ones.

The expected texts are AWS's, as LocalStack's parity tests recorded them against real AWS
(``test_lambda_api.snapshot.json``: ``test_create_lambda_exceptions``,
``test_update_lambda_exceptions``, ``test_function_name_and_qualifier_validation``,
``test_function_arns``, ``TestLambdaSizeLimits``), with the recording's placeholders filled in
for this server (account 000000000000, region us-east-1). Where AWS reported several errors, the
recording sorted them, so only the set and the count are compared.

The second half uploads hostile archives through the API, on a server with a low unzipped-size
limit whose data directory the test can inspect.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import stat
import struct
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip, wait_active

ACCOUNT = "000000000000"
REGION = "us-east-1"
FN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
CREATE_FN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
RUNTIMES = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, "
    "python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, "
    "dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)
BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
ERROR = re.compile(r"(Value '.*?' at '.*?' failed to satisfy constraint: .+?(?=; Value|$))")


def fn_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def pattern_error(value: str, pattern: str = FN_PATTERN, at: str = "functionName") -> str:
    return f"Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"


def length_error(value: str, limit: int, at: str) -> str:
    return (
        f"Value '{value}' at '{at}' failed to satisfy constraint: Member must have length less than or equal to {limit}"
    )


def summary(exc: ClientError) -> dict[str, Any]:
    """What LocalStack's test recorded: the code, and the sorted errors with their count."""
    code, message = exc.response["Error"]["Code"], exc.response["Error"]["Message"]
    errors = ERROR.findall(message)
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        assert message.startswith(f"{len(errors)} validation {noun} detected: "), message
        return {"Code": code, "Errors": sorted(errors), "Count": len(errors)}
    return {"Code": code, "Message": message}


def invalid(*errors: str, code: str = "ValidationException") -> dict[str, Any]:
    return {"Code": code, "Errors": sorted(errors), "Count": len(errors)}


def failed(code: str, message: str) -> dict[str, Any]:
    return {"Code": code, "Message": message}


LONG_ARN_NAME = fn_arn("my-function", region="invalid-region") + "a" * 170
LONG_ARN_NAME_2 = fn_arn("my-function-", region="invalid-region") + "a" * 170
GET_CASES: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, Any]]] = {
    # id: (parameters, GetFunction's answer, DeleteFunction's answer)
    "invalid_characters_in_function_name": (
        {"FunctionName": "my-function!"},
        invalid(pattern_error("my-function!")),
        invalid(pattern_error("my-function!")),
    ),
    "function_name_is_single_invalid": (
        {"FunctionName": "*"},
        invalid(pattern_error("*")),
        invalid(pattern_error("*")),
    ),
    "invalid_characters_in_qualifier": (
        {"FunctionName": "my-function", "Qualifier": "invalid!"},
        invalid(pattern_error("invalid!", QUALIFIER_PATTERN, "qualifier")),
        invalid(pattern_error("invalid!", QUALIFIER_PATTERN, "qualifier")),
    ),
    "qualifier_too_long": (
        {"FunctionName": "my-function", "Qualifier": "a" * 129},
        invalid(length_error("a" * 129, 128, "qualifier")),
        invalid(length_error("a" * 129, 128, "qualifier")),
    ),
    "invalid_account_id_in_partial_arn": (
        {"FunctionName": "invalid-account:function:my-function"},
        invalid(pattern_error("invalid-account:function:my-function")),
        invalid(pattern_error("invalid-account:function:my-function")),
    ),
    "invalid_region_in_arn": (
        {"FunctionName": fn_arn("my-function", "invalid-region")},
        invalid(pattern_error(fn_arn("my-function", "invalid-region"))),
        invalid(pattern_error(fn_arn("my-function", "invalid-region"))),
    ),
    "non_lambda_arn": (
        {"FunctionName": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0"},
        invalid(pattern_error(f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0")),
        invalid(pattern_error(f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0")),
    ),
    "function_name_too_long": (
        {"FunctionName": "a" * 65},
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('a' * 65)}"),
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('a' * 65)}"),
    ),
    "function_name_too_long_and_invalid_region": (
        {"FunctionName": LONG_ARN_NAME},
        invalid(pattern_error(LONG_ARN_NAME)),
        invalid(pattern_error(LONG_ARN_NAME)),
    ),
    "full_arn_and_qualifier_too_long_and_invalid_region": (
        {"FunctionName": LONG_ARN_NAME_2, "Qualifier": "a" * 129},
        invalid(length_error("a" * 129, 128, "qualifier"), pattern_error(LONG_ARN_NAME_2)),
        invalid(length_error("a" * 129, 128, "qualifier"), pattern_error(LONG_ARN_NAME_2)),
    ),
    "full_arn_with_multiple_qualifiers": (
        {"FunctionName": fn_arn("my-function") + ":1:2"},
        invalid(pattern_error(fn_arn("my-function") + ":1:2")),
        invalid(pattern_error(fn_arn("my-function") + ":1:2")),
    ),
    "incomplete_arn": (
        {"FunctionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"},
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('function')}"),
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('function')}"),
    ),
    "partial_arn_with_extra_qualifier": (
        {"FunctionName": "function:my-function:$LATEST:extra"},
        invalid(pattern_error("function:my-function:$LATEST:extra")),
        invalid(pattern_error("function:my-function:$LATEST:extra")),
    ),
    "latest_version_with_additional_qualifier": (
        {"FunctionName": fn_arn("my-function") + ":$LATEST", "Qualifier": "1"},
        failed(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        ),
        failed(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        ),
    ),
    "lowercase_latest_qualifier": (
        {"FunctionName": fn_arn("my-function"), "Qualifier": "$latest"},
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('my-function')}:$latest"),
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('my-function')}"),
    ),
    "missing_region_in_arn": (
        {"FunctionName": f"arn:aws:lambda::{ACCOUNT}:function:my-function"},
        invalid(pattern_error(f"arn:aws:lambda::{ACCOUNT}:function:my-function")),
        invalid(pattern_error(f"arn:aws:lambda::{ACCOUNT}:function:my-function")),
    ),
    "missing_account_id_in_arn": (
        {"FunctionName": f"arn:aws:lambda:{REGION}::function:my-function"},
        invalid(pattern_error(f"arn:aws:lambda:{REGION}::function:my-function")),
        invalid(pattern_error(f"arn:aws:lambda:{REGION}::function:my-function")),
    ),
    "misspelled_latest_in_arn": (
        {"FunctionName": fn_arn("my-function") + ":$LATES"},
        invalid(pattern_error(fn_arn("my-function") + ":$LATES")),
        invalid(pattern_error(fn_arn("my-function") + ":$LATES")),
    ),
    "function_name_and_qualifier_too_long": (
        {"FunctionName": "my-function", "Qualifier": "a" * 65},
        failed("ResourceNotFoundException", f"Function not found: {fn_arn('my-function')}:{'a' * 65}"),
        failed("InvalidParameterValueException", "Deletion of aliases is not currently supported."),
    ),
}


@pytest.mark.parametrize("case", list(GET_CASES))
def test_function_name_and_qualifier_validation(lambda_client: Any, case: str) -> None:
    params, get_answer, delete_answer = GET_CASES[case]
    for call, expected in ((lambda_client.get_function, get_answer), (lambda_client.delete_function, delete_answer)):
        with pytest.raises(ClientError) as e:
            call(**params)
        assert summary(e.value) == expected, call.__name__
        status = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == (404 if expected["Code"] == "ResourceNotFoundException" else 400)


CREATE_NAME_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "invalid_characters_in_function_name": ("my-function!", invalid(pattern_error("my-function!", CREATE_FN_PATTERN))),
    "invalid_characters_in_qualifier": (
        "my-function:invalid!",
        invalid(pattern_error("my-function:invalid!", CREATE_FN_PATTERN)),
    ),
    "qualifier_too_long": (
        "my-function:" + "a" * 129,
        invalid(length_error("my-function:" + "a" * 129, 140, "functionName")),
    ),
    "invalid_function_name": (
        "invalid:function:name",
        invalid(pattern_error("invalid:function:name", CREATE_FN_PATTERN)),
    ),
    # The name itself has 64 characters at most; AWS words it as validation, but with another code.
    "function_name_too_long": (
        "a" * 65,
        invalid(length_error("a" * 65, 64, "functionName"), code="InvalidParameterValueException"),
    ),
    "function_arn_too_long": (
        fn_arn("a" * (141 - len(fn_arn("")))),
        invalid(length_error(fn_arn("a" * (141 - len(fn_arn("")))), 140, "functionName")),
    ),
    "function_name_too_long_and_invalid_region": (
        LONG_ARN_NAME,
        invalid(length_error(LONG_ARN_NAME, 140, "functionName"), pattern_error(LONG_ARN_NAME, CREATE_FN_PATTERN)),
    ),
    "lowercase_latest_qualifier": (
        fn_arn("my-function") + ":$latest",
        invalid(pattern_error(fn_arn("my-function") + ":$latest", CREATE_FN_PATTERN)),
    ),
    "arn_of_another_region": (
        fn_arn("my-function", "ap-southeast-1"),
        failed(
            "ResourceNotFoundException",
            "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')",
        ),
    ),
}


def create_kw(**overrides: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        FunctionName="invalid-function",
        Handler="index.handler",
        PackageType="Zip",
        Role=ROLE,
        Runtime="python3.12",
        Code={"ZipFile": make_zip({"index.py": "def handler(e, c): pass\n"})},
    )
    kw.update(overrides)
    return kw


@pytest.mark.parametrize("case", list(CREATE_NAME_CASES))
def test_create_function_name_validation(lambda_client: Any, case: str) -> None:
    name, expected = CREATE_NAME_CASES[case]
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(**create_kw(FunctionName=name))
    assert summary(e.value) == expected


def test_create_function_arn_of_another_account(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(
            **create_kw(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:other-acct")
        )
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


ROLE_ERROR = (
    "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: "
    f"Member must satisfy regular expression pattern: {ROLE_PATTERN}"
)


def runtime_error(value: str) -> str:
    return (
        f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
        f"{RUNTIMES} or be a valid ARN"
    )


CREATE_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "invalid_role_arn": ({"Role": "r1"}, "ValidationException", ROLE_ERROR),
    "invalid_runtime": (
        {"Runtime": "non-existent-runtime"},
        "InvalidParameterValueException",
        runtime_error("non-existent-runtime"),
    ),
    "uppercase_runtime": ({"Runtime": "PYTHON3.9"}, "InvalidParameterValueException", runtime_error("PYTHON3.9")),
    "multiple_architectures": (
        {"Architectures": ["x86_64", "arm64"]},
        "ValidationException",
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1",
    ),
    "uppercase_architecture": (
        {"Architectures": ["X86_64"]},
        "ValidationException",
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
    ),
    "invalid_zip": (
        {"Code": {"ZipFile": b"this is not a zipfile, just a random string"}, "Runtime": "python3.9"},
        "InvalidParameterValueException",
        BAD_ZIP,
    ),
    "invalid_snapstart": (
        {"SnapStart": {"ApplyOn": "invalidOption"}},
        "ValidationException",
        "1 validation error detected: Value 'invalidOption' at 'snapStart.applyOn' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PublishedVersions, None]",
    ),
    "invalid_subnet_format": (
        {"VpcConfig": {"SubnetIds": ["bad-format-1"], "SecurityGroupIds": ["sg-123"]}},
        "ValidationException",
        "1 validation error detected: Value '[bad-format-1]' at 'vpcConfig.subnetIds' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length "
        "greater than or equal to 0, Member must satisfy regular expression pattern: subnet-[0-9a-z]*]",
    ),
    # AWS's recording printed the pattern of an older model (without the outer group); the text
    # around it is the same, and the pattern comes from the model this server speaks.
    "layer_arn_without_version": (
        {"Layers": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:my-layer"]},
        "ValidationException",
        f"1 validation error detected: Value '[arn:aws:lambda:{REGION}:{ACCOUNT}:layer:my-layer]' at 'layers' failed "
        "to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: "
        # AWS's text (test_layer_function_exceptions), not the model's: no outer parentheses.
        r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
        r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]",
    ),
    # A real AWS answer (sensitive members are not echoed): environment variable names have 2+ characters.
    "single_character_env_name": (
        {"Environment": {"Variables": {"A": "x"}}},
        "ValidationException",
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]",
    ),
}


@pytest.mark.parametrize("case", list(CREATE_CASES))
def test_create_function_exceptions(lambda_client: Any, case: str) -> None:
    overrides, code, message = CREATE_CASES[case]
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(**create_kw(**overrides))
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (code, message, 400)
    if code == "ValidationException":  # AWS's ValidationException body carries the message only
        assert "Type" not in r
    else:
        assert (r["Type"], r["message"]) == ("User", message)
    with pytest.raises(ClientError) as gone:
        lambda_client.get_function(FunctionName="invalid-function")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_update_function_configuration_exceptions(lambda_client: Any, fn_name: str) -> None:
    lambda_client.create_function(**create_kw(FunctionName=fn_name))
    wait_active(lambda_client, fn_name)  # activation changes the RevisionId compared below
    cases = [
        ({"Role": "r1"}, "ValidationException", ROLE_ERROR),
        ({"Runtime": "non-existent-runtime"}, "InvalidParameterValueException", runtime_error("non-existent-runtime")),
        ({"Runtime": "PYTHON3.9"}, "InvalidParameterValueException", runtime_error("PYTHON3.9")),
    ]
    before = lambda_client.get_function_configuration(FunctionName=fn_name)
    for overrides, code, message in cases:
        with pytest.raises(ClientError) as e:
            lambda_client.update_function_configuration(FunctionName=fn_name, **overrides)
        r = e.value.response
        assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
            code,
            message,
            400,
        )
    after = lambda_client.get_function_configuration(FunctionName=fn_name)
    assert (after["Role"], after["Runtime"], after["RevisionId"]) == (
        before["Role"],
        before["Runtime"],
        before["RevisionId"],
    )


def test_environment_size_limit(lambda_client: Any, fn_name: str) -> None:
    # {"LARGE_VAR":"x..."} of exactly 4096 bytes is accepted, one byte more is refused.
    ok = "x" * (4096 - 7 - len("LARGE_VAR"))
    lambda_client.create_function(**create_kw(FunctionName=fn_name, Environment={"Variables": {"LARGE_VAR": ok}}))
    big = {"SMALL_VAR": "ok", "LARGE_VAR": "x" * 4064}
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(**create_kw(FunctionName=fn_name + "-big", Environment={"Variables": big}))
    r = e.value.response
    assert r["Error"]["Code"] == "InvalidParameterValueException"
    assert r["Error"]["Message"] == (
        "Lambda was unable to configure your environment variables because the environment variables you have "
        'provided exceeded the 4KB limit. String measured: {"SMALL_VAR":"ok","LARGE_VAR":"' + "x" * 4064 + '"}'
    )
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(
            FunctionName=fn_name, Environment={"Variables": {"LARGE_VAR": ok + "x"}}
        )
    assert e.value.response["Error"]["Message"].startswith(
        "Lambda was unable to configure your environment variables because the environment variables you have "
        'provided exceeded the 4KB limit. String measured: {"LARGE_VAR":"xxx'
    )
    reserved = {"AWS_REGION": "x", "MY_VAR": "y", "AWS_LAMBDA_FUNCTION_NAME": "z"}
    with pytest.raises(ClientError) as e:
        lambda_client.update_function_configuration(FunctionName=fn_name, Environment={"Variables": reserved})
    assert e.value.response["Error"]["Message"] == (
        "Lambda was unable to configure your environment variables because the environment variables you have "
        "provided contains reserved keys that are currently not supported for modification. "
        "Reserved keys used in this request: AWS_REGION, AWS_LAMBDA_FUNCTION_NAME"
    )


def test_zipped_size_limit(lambda_client: Any, fn_name: str) -> None:
    too_big = bytes(52_428_801)  # the size is judged before the content
    with pytest.raises(ClientError) as e:
        lambda_client.create_function(**create_kw(FunctionName=fn_name, Code={"ZipFile": too_big}))
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "RequestEntityTooLargeException",
        "Zipped size must be smaller than 52428800 bytes",
        413,
    )


# -- hostile archives through the API ----------------------------------------------------

LIMIT = 1 << 20  # LAMBDA_LIMITS_CODE_SIZE_UNZIPPED on the private server


@pytest.fixture(scope="module")
def zip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    data = tmp_path_factory.mktemp("zip-data")
    srv = Server(
        env={"LAMBDA_LIMITS_CODE_SIZE_UNZIPPED": str(LIMIT), "LAMBDA_SYNCHRONOUS_CREATE": "1"},
        args=["--persistence", "on", "--data-dir", str(data / "state")],
    )
    with srv:
        yield srv, data


def symlink_entry(zf: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, target)


def archive(files: dict[str, bytes | str] | None = None, links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in (files or {}).items():
            zf.writestr(name, content)
        for name, target in (links or {}).items():
            symlink_entry(zf, name, target)
    return buf.getvalue()


def lying_bomb(real_size: int, declared: int, crc_of_declared: bool = False) -> bytes:
    """A deflated entry of ``real_size`` zeros whose headers declare ``declared`` bytes (and,
    with ``crc_of_declared``, the CRC of those first bytes, so the lie is self-consistent)."""
    data = bytearray(archive({"handler.py": bytes(real_size)}))
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    assert data[local + 22 : local + 26] == data[central + 24 : central + 28] == struct.pack("<I", real_size)
    data[local + 22 : local + 26] = data[central + 24 : central + 28] = struct.pack("<I", declared)
    if crc_of_declared:
        data[local + 14 : local + 18] = data[central + 16 : central + 20] = struct.pack(
            "<I", zlib.crc32(bytes(declared))
        )
    return bytes(data)


def nameless_entry() -> bytes:
    """An archive whose second entry has no name (zipfile cuts a name at its first NUL, too)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", "x")
        info = zipfile.ZipInfo("")
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        zf.writestr(info, "x")
    return buf.getvalue()


HOSTILE = {
    "dot_dot": archive({"../evil.py": "x"}),
    "nested_dot_dot": archive({"ok/../../evil.py": "x"}),
    "absolute": archive({"/etc/x": "x"}),
    "symlink_absolute": archive({"handler.py": "x"}, {"passwd": "/etc/passwd"}),
    "symlink_outside": archive({"handler.py": "x"}, {"up": "../../../../evil"}),
    # each link alone stays inside; together "a" -> "b/.." -> "./.." points outside
    "symlink_chain": archive({"handler.py": "x"}, {"a": "b/..", "b": "."}),
    "symlink_loop": archive({"handler.py": "x"}, {"a": "b", "b": "a"}),
    "lying_sizes": lying_bomb(4 * LIMIT, declared=100),
    "corrupt": b"PK\x03\x04 this is not a zipfile",
    # an entry without a name (zipfile also cuts a name at a NUL): found by the property tests
    "nameless": nameless_entry(),
}


def trees(data: Path) -> set[str]:
    root = data / "state" / "code" / "trees"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archives_are_refused(zip_server: tuple[Server, Path], case: str) -> None:
    srv, data = zip_server
    client = srv.client()
    before = trees(data)
    with pytest.raises(ClientError) as e:
        client.create_function(
            **create_kw(FunctionName=f"hostile-{case.replace('_', '-')}", Code={"ZipFile": HOSTILE[case]})
        )
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameterValueException",
        BAD_ZIP,
        400,
    )
    assert trees(data) == before, "a refused archive left files behind"
    assert not list(data.rglob("evil*")) and not (data.parent / "evil.py").exists()


def test_self_consistent_lie_is_cut_at_the_declared_size(zip_server: tuple[Server, Path]) -> None:
    # Headers and CRC agree on 100 bytes while the data would inflate to 4 MB: the entry is read
    # as what it declares, so nothing beyond the declared (and limited) size ever reaches disk.
    srv, data = zip_server
    code = lying_bomb(4 * LIMIT, declared=100, crc_of_declared=True)
    srv.client().create_function(**create_kw(FunctionName="consistent-lie", Code={"ZipFile": code}))
    tree = data / "state" / "code" / "trees" / hashlib.sha256(code).hexdigest()
    assert (tree / "handler.py").stat().st_size == 100


def test_unzipped_size_limit(zip_server: tuple[Server, Path]) -> None:
    srv, _data = zip_server
    client = srv.client()
    bomb = archive({"handler.py": "x", "zeros.bin": bytes(LIMIT)})  # honest headers, 1 KB zipped
    assert len(bomb) < 10_000
    with pytest.raises(ClientError) as e:
        client.create_function(**create_kw(FunctionName="too-big-unzipped", Code={"ZipFile": bomb}))
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidParameterValueException",
        f"Unzipped size must be smaller than {LIMIT} bytes",
        400,
    )
    assert r["Type"] == "User"
    # Just under the limit is fine.
    client.create_function(
        **create_kw(FunctionName="just-fits", Code={"ZipFile": archive({"z.bin": bytes(LIMIT - 1)})})
    )


def test_modes_and_inner_symlinks_are_kept(zip_server: tuple[Server, Path]) -> None:
    srv, data = zip_server
    client = srv.client()
    plain = make_zip(
        {"handler.py": "def handler(e, c): pass\n", "bin/run": "#!/bin/sh\necho hi\n"}, modes={"bin/run": 0o755}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        symlink_entry(dst, "run-link", "bin/run")
    code = buf.getvalue()
    created = client.create_function(**create_kw(FunctionName="modes", Code={"ZipFile": code}))
    digest = hashlib.sha256(code)
    assert created["CodeSha256"] == base64.b64encode(digest.digest()).decode()
    tree = data / "state" / "code" / "trees" / digest.hexdigest()
    assert stat.S_IMODE(os.stat(tree / "bin" / "run").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tree / "handler.py").st_mode) == 0o644
    assert os.readlink(tree / "run-link") == "bin/run"
    assert (tree / "run-link").read_text() == "#!/bin/sh\necho hi\n"


def test_refused_upload_leaves_the_function_unchanged(zip_server: tuple[Server, Path]) -> None:
    srv, _data = zip_server
    client = srv.client()
    good = make_zip({"handler.py": "def handler(e, c):\n    return 1\n"})
    client.create_function(**create_kw(FunctionName="keeps-its-code", Code={"ZipFile": good}))
    before = client.get_function(FunctionName="keeps-its-code")
    for bad in (HOSTILE["dot_dot"], HOSTILE["corrupt"], archive({"z.bin": bytes(LIMIT)})):
        with pytest.raises(ClientError) as e:
            client.update_function_code(FunctionName="keeps-its-code", ZipFile=bad)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    after = client.get_function(FunctionName="keeps-its-code")
    assert after["Configuration"] == before["Configuration"]
    with urllib.request.urlopen(after["Code"]["Location"], timeout=10) as resp:
        assert resp.read() == good


def test_lying_sizes_never_expand_beyond_the_declared_size() -> None:
    # The reader stops at the declared 100 bytes, never the real 4 MB: with a matching CRC the
    # entry reads as 100 bytes, with the original CRC it fails its check.
    with zipfile.ZipFile(io.BytesIO(lying_bomb(4 * LIMIT, 100, crc_of_declared=True))) as zf:
        assert zf.read("handler.py") == bytes(100)
    with (
        zipfile.ZipFile(io.BytesIO(lying_bomb(4 * LIMIT, 100))) as zf,
        pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"),
    ):
        zf.read("handler.py")
