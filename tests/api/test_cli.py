"""The function lifecycle through the AWS CLI, as LocalStack's guides write the commands.

The guide's function name is fixed, so this module has its own server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROLE, Server, make_zip

GUIDE_NAME = "localstack-lambda-url-example"
INDEX_JS = "exports.handler = async (event) => ({ statusCode: 200, body: 'hello' });\n"


@pytest.fixture(scope="module")
def cli_server() -> Iterator[Server]:
    with Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "0"}) as srv:
        yield srv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    (path / "function.zip").write_bytes(make_zip({"index.js": INDEX_JS}))
    (path / "function2.zip").write_bytes(make_zip({"index.js": INDEX_JS.replace("hello", "again")}))
    return path


def run(srv: Server, cwd: Path, *args: str, check: bool = True) -> tuple[int, str, str]:
    """The AWS CLI in ``cwd`` (relative ``fileb://`` paths resolve there, as in the guide)."""
    aws = str(Path(sys.executable).parent / "aws")
    proc = subprocess.run(
        [aws, "--endpoint-url", srv.url, *args], env=srv.env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.returncode, proc.stdout, proc.stderr


def test_guide_create_function_works_as_written(cli_server: Server, workdir: Path) -> None:
    _rc, out, _ = run(
        cli_server,
        workdir,
        "lambda",
        "create-function",
        "--function-name",
        GUIDE_NAME,
        "--runtime",
        "nodejs18.x",
        "--zip-file",
        "fileb://function.zip",
        "--handler",
        "index.handler",
        "--role",
        "arn:aws:iam::000000000000:role/lambda-role",
    )
    created = json.loads(out)
    data = (workdir / "function.zip").read_bytes()
    assert created["FunctionName"] == GUIDE_NAME
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{GUIDE_NAME}"
    assert (created["Runtime"], created["Handler"], created["State"]) == ("nodejs18.x", "index.handler", "Pending")
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()

    run(cli_server, workdir, "lambda", "wait", "function-active-v2", "--function-name", GUIDE_NAME)
    got = json.loads(run(cli_server, workdir, "lambda", "get-function", "--function-name", GUIDE_NAME)[1])
    assert (got["Configuration"]["State"], got["Configuration"]["LastUpdateStatus"]) == ("Active", "Successful")
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as resp:
        assert resp.read() == data


def test_guide_command_with_a_bad_role(cli_server: Server, workdir: Path) -> None:
    rc, out, err = run(
        cli_server,
        workdir,
        "lambda",
        "create-function",
        "--function-name",
        "bad-role-fn",
        "--runtime",
        "nodejs18.x",
        "--zip-file",
        "fileb://function.zip",
        "--handler",
        "index.handler",
        "--role",
        "r1",
        check=False,
    )
    assert rc != 0 and out == ""
    assert (
        "An error occurred (ValidationException) when calling the CreateFunction operation: 1 validation error "
        "detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression "
        r"pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    ) in err


def test_cli_update_publish_list_delete(cli_server: Server, workdir: Path) -> None:
    name = "cli-lifecycle"
    client = cli_server.client()  # boto3 waits between steps: the CLI's waiters poll once a second
    quick = {"Delay": 0.1, "MaxAttempts": 100}
    run(
        cli_server,
        workdir,
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--zip-file",
        "fileb://function.zip",
        "--handler",
        "index.handler",
        "--role",
        ROLE,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=quick)
    updated = json.loads(
        run(
            cli_server,
            workdir,
            "lambda",
            "update-function-configuration",
            "--function-name",
            name,
            "--description",
            "from the cli",
            "--timeout",
            "7",
        )[1]
    )
    assert (updated["Description"], updated["Timeout"], updated["LastUpdateStatus"]) == (
        "from the cli",
        7,
        "InProgress",
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=quick)
    code = json.loads(
        run(
            cli_server,
            workdir,
            "lambda",
            "update-function-code",
            "--function-name",
            name,
            "--zip-file",
            "fileb://function2.zip",
            "--publish",
        )[1]
    )
    assert (code["Version"], code["FunctionArn"]) == ("1", f"arn:aws:lambda:us-east-1:000000000000:function:{name}:1")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=quick)
    versions = json.loads(run(cli_server, workdir, "lambda", "list-versions-by-function", "--function-name", name)[1])
    assert [v["Version"] for v in versions["Versions"]] == ["$LATEST", "1"]
    listed = json.loads(run(cli_server, workdir, "lambda", "list-functions", "--max-items", "1")[1])
    assert len(listed["Functions"]) == 1 and "NextToken" in listed  # the CLI paginates with our markers

    run(cli_server, workdir, "lambda", "delete-function", "--function-name", name, "--qualifier", "1")
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST"]
    run(cli_server, workdir, "lambda", "delete-function", "--function-name", name)
    rc, _, err = run(cli_server, workdir, "lambda", "get-function", "--function-name", name, check=False)
    assert rc != 0
    assert (
        "An error occurred (ResourceNotFoundException) when calling the GetFunction operation: "
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"
    ) in err
