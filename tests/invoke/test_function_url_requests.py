"""Requests to a function URL reach the function as payload-format 2.0 events, and its answer
becomes the HTTP response (routing by the Host header, as on LocalStack).

The walkthrough a user follows: create a function and its URL with the AWS CLI, then curl the
URL it returned, verbatim. With ``LOCALSTACK_HOST=localhost`` that URL needs no DNS at all
(curl maps every ``*.localhost`` name to loopback itself); LocalStack's default
``*.localhost.localstack.cloud`` names need a DNS answer, so offline they are reached with
``curl --resolve`` or a Host header. Unknown and deleted URLs are refused as AWS refuses them.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions, stop_checked, unique

ECHO_EVENT = """\
import json
def handler(event, context):
    if event.get("rawPath") == "/raw":
        return {"just": "json"}
    if event.get("rawPath") == "/boom":
        raise RuntimeError("boom")
    return {"statusCode": 201, "headers": {"x-echo": "yes", "content-type": "application/json"},
            "cookies": ["a=1"], "body": json.dumps(event)}
"""

NOT_AUTHORIZED = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    conn.request(method, path, body=body, headers={"Host": parts.netloc, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def curl(*args: str) -> tuple[int, str]:
    """curl's status line code and body (``-i`` splits them)."""
    out = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, timeout=60, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode()


def refusal(resp: Any, data: bytes) -> tuple[int, str | None, Any]:
    return resp.status, resp.getheader("x-amzn-ErrorType"), json.loads(data)


def walkthrough(server: Server, tmp_path: Path) -> tuple[str, str]:
    """Create a function and its URL with the AWS CLI, as a user does: (name, FunctionUrl)."""
    name = unique("url-walk")
    with zipfile.ZipFile(tmp_path / "function.zip", "w") as zf:
        zf.writestr("handler.py", ECHO_EVENT)
    server.cli(
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
        "--zip-file",
        f"fileb://{tmp_path / 'function.zip'}",
    )
    server.cli("lambda", "wait", "function-active-v2", "--function-name", name)
    created = server.cli_json("lambda", "create-function-url-config", "--function-name", name, "--auth-type", "NONE")
    return name, created["FunctionUrl"]


def test_curl_the_returned_url_verbatim_offline(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    server = spawn_server(LOCALSTACK_HOST="localhost")
    name, url = walkthrough(server, tmp_path)
    assert re.fullmatch(rf"http://[a-z0-9]{{32}}\.lambda-url\.us-east-1\.localhost:{server.port}/", url), url
    # No DNS, no --resolve, no Host header: curl maps *.localhost to loopback by itself.
    status, body = curl(f"{url}some/path?x=1&x=2")
    assert status == 201, body
    event = json.loads(body)
    assert event["rawPath"] == "/some/path" and event["queryStringParameters"] == {"x": "1,2"}
    assert event["requestContext"]["domainName"] == urlsplit(url).hostname
    assert event["headers"]["host"] == urlsplit(url).netloc
    assert event["headers"]["user-agent"].startswith("curl/")
    # The same URL read back by GetFunctionUrlConfig.
    assert server.cli_json("lambda", "get-function-url-config", "--function-name", name)["FunctionUrl"] == url


def test_localstack_host_with_a_port_names_the_returned_url(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LOCALSTACK_HOST="lambda.test:9999")
    fns = Functions(server)
    try:
        name = fns.python(ECHO_EVENT)
        url = fns.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        assert re.fullmatch(r"http://[a-z0-9]{32}\.lambda-url\.us-east-1\.lambda\.test:9999/", url), url
        assert fns.client.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
        # Reached through whatever forwards lambda.test:9999 here: it arrives with that Host.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/raw", headers={"Host": urlsplit(url).netloc})
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())) == (200, {"just": "json"})
        conn.close()
    finally:
        fns.cleanup()


def test_default_url_through_curl_resolve_and_a_host_header(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    parts = urlsplit(url)
    assert parts.hostname and parts.hostname.endswith(".lambda-url.us-east-1.localhost.localstack.cloud")
    # Offline, *.localhost.localstack.cloud does not resolve: --resolve pins it to loopback...
    status, body = curl("--resolve", f"{parts.hostname}:{parts.port}:127.0.0.1", f"{url}via-resolve")
    assert status == 201 and json.loads(body)["rawPath"] == "/via-resolve"
    # ...or the server's own address with the URL's Host.
    status, body = curl("-H", f"Host: {parts.netloc}", f"http://127.0.0.1:{parts.port}/via-host")
    assert status == 201 and json.loads(body)["rawPath"] == "/via-host"


def test_function_url_invokes_the_function(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    resp, data = request(
        url,
        "POST",
        "/some/path?x=1&x=2&y=3",
        b'{"hello": "url"}',
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2"},
    )
    assert resp.status == 201
    assert resp.getheader("x-echo") == "yes"
    assert resp.getheader("set-cookie") == "a=1"
    event = json.loads(data)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "x=1&x=2&y=3"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "3"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"hello": "url"}' and event["isBase64Encoded"] is False
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]


def test_none_urls_need_no_resource_policy(functions: Functions) -> None:
    # LocalStack's behaviour (AWS wants lambda:InvokeFunctionUrl granted to "*" for NONE URLs).
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    with pytest.raises(ClientError) as exc:
        functions.client.get_policy(FunctionName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    resp, _ = request(url, "GET", "/")
    assert resp.status == 201


def test_plain_json_result_and_function_error(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    resp, data = request(url, "GET", "/raw")
    assert resp.status == 200 and data == b'{"just":"json"}'
    resp, data = request(url, "GET", "/boom")
    assert (resp.status, data) == (502, b"Internal Server Error")


def test_unknown_url_id(functions: Functions) -> None:
    # AWS's answer (recorded: test_lambda_url_non_existing_url): 403 {"Message":null}.
    port = urlsplit(functions.server.url).port
    resp, data = request(
        f"http://abcdefabcdefabcdefabcdefabcdef12.lambda-url.us-east-1.localhost.localstack.cloud:{port}/", "GET", "/"
    )
    assert data == b'{"Message":null}'
    assert refusal(resp, data) == (403, "AccessDeniedException", {"Message": None})
    assert resp.getheader("content-type") == "application/json"


def test_deleted_urls_are_refused(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    client = functions.client
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    alias_url = client.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    assert request(alias_url, "GET", "/")[0].status == 201
    # The alias goes, and its URL with it (AWS recorded the authorization layer's refusal:
    # test_lambda_url_persists_after_alias_delete); the unqualified URL stays.
    client.delete_alias(FunctionName=name, Name="live")
    assert refusal(*request(alias_url, "GET", "/")) == (403, "AccessDeniedException", {"Message": NOT_AUTHORIZED})
    assert request(url, "GET", "/")[0].status == 201
    client.delete_function_url_config(FunctionName=name)
    assert refusal(*request(url, "GET", "/")) == (403, "AccessDeniedException", {"Message": NOT_AUTHORIZED})
    # Recreated: the same URL answers again.
    assert client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"] == url
    assert request(url, "GET", "/")[0].status == 201
    client.delete_function(FunctionName=name)
    assert request(url, "GET", "/")[0].status == 403


def test_custom_id_tag(functions: Functions) -> None:
    # LocalStack's _custom_id_ tag: a readable id, "<id>-<alias>" for an alias, read at creation.
    custom = f"my-custom-{unique('id').split('-')[-1]}"
    name = functions.python(ECHO_EVENT, Tags={"_custom_id_": custom})
    client = functions.client
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert url.startswith(f"http://{custom}.lambda-url.us-east-1.")
    client.create_alias(FunctionName=name, Name="blue", FunctionVersion="$LATEST")
    alias_url = client.create_function_url_config(FunctionName=name, Qualifier="blue", AuthType="NONE")["FunctionUrl"]
    assert alias_url.startswith(f"http://{custom}-blue.lambda-url.us-east-1.")
    arn = client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    client.untag_resource(Resource=arn, TagKeys=["_custom_id_"])
    for target in (url, alias_url):
        resp, data = request(target, "GET", "/")
        assert resp.status == 201, data
    # Host names are case-insensitive.
    parts = urlsplit(url)
    resp, _ = request(url, "GET", "/", headers={"Host": parts.netloc.upper()})
    assert resp.status == 201


def test_urls_survive_a_restart(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    server = spawn_server(PERSISTENCE="1", LOCALLAMBDA_DATA_DIR=str(tmp_path / "state"))
    fns = Functions(server)
    name = fns.python(ECHO_EVENT)
    url = fns.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert request(url, "GET", "/raw")[0].status == 200
    stop_checked(server)
    server.start()
    resp, data = request(url, "GET", "/raw")
    assert (resp.status, data) == (200, b'{"just":"json"}')
