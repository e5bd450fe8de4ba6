"""CORS of function URLs from their ``Cors`` configuration (urls-configuration.html, "Cross-origin
resource sharing (CORS)"): preflights answered without the function, CORS headers on the
responses of allowed origins only, the configured headers taking precedence over the function's.
Through ``http.client`` and curl, as a browser's requests would arrive."""

from __future__ import annotations

import http.client
import json
import subprocess
from typing import Any
from urllib.parse import urlsplit

from tests.invoke.conftest import Functions

# Counts its invocations (one warm environment serves the sequential requests of a test) and
# answers with a CORS header of its own.
HANDLER = """\
import json
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    return {"statusCode": 200,
            "headers": {"Access-Control-Allow-Origin": "https://from-the-function.example", "x-kept": "yes"},
            "body": json.dumps({"count": COUNT, "method": event["requestContext"]["http"]["method"]})}
"""

CORS = {
    "AllowOrigins": ["https://app.example.com", "http://localhost:60905"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["content-type", "x-custom-header"],
    "ExposeHeaders": ["x-kept"],
    "AllowCredentials": True,
    "MaxAge": 300,
}


def send(url: str, method: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    conn.request(method, "/", headers={"Host": parts.netloc, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


def make_url(functions: Functions, cors: dict[str, Any] | None) -> tuple[str, str]:
    name = functions.python(HANDLER)
    kw: dict[str, Any] = {"Cors": cors} if cors is not None else {}
    url: str = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE", **kw)["FunctionUrl"]
    return name, url


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }


def count(url: str) -> int:
    status, _, data = send(url, "GET")
    assert status == 200
    return int(json.loads(data)["count"])


def test_preflight_of_an_allowed_origin_is_answered_without_the_function(functions: Functions) -> None:
    _, url = make_url(functions, CORS)
    status, headers, data = send(url, "OPTIONS", preflight("https://app.example.com"))
    assert (status, data) == (200, b"")
    assert cors_headers(headers) == {
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "content-type,x-custom-header",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "300",
    }
    assert count(url) == 1  # the preflight did not run the function


def test_preflight_of_another_origin_gets_no_cors_headers(functions: Functions) -> None:
    _, url = make_url(functions, CORS)
    status, headers, data = send(url, "OPTIONS", preflight("https://evil.example"))
    assert (status, data) == (200, b"")
    assert cors_headers(headers) == {}
    assert count(url) == 1


def test_responses_carry_cors_headers_for_allowed_origins_only(functions: Functions) -> None:
    _, url = make_url(functions, CORS)
    status, headers, data = send(url, "POST", {"Origin": "http://localhost:60905"})
    assert status == 200 and json.loads(data)["method"] == "POST"
    # The configured headers take precedence over the function's own allow-origin.
    assert cors_headers(headers) == {
        "access-control-allow-origin": "http://localhost:60905",
        "access-control-expose-headers": "x-kept",
        "access-control-allow-credentials": "true",
    }
    assert headers["x-kept"] == "yes"
    # Another origin, or none: the function's answer as it is.
    for extra in ({"Origin": "https://evil.example"}, {}):
        status, headers, _ = send(url, "GET", extra)
        assert status == 200
        assert cors_headers(headers) == {"access-control-allow-origin": "https://from-the-function.example"}


def test_wildcard_origin(functions: Functions) -> None:
    _, url = make_url(functions, {"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    status, headers, _ = send(url, "OPTIONS", preflight("https://anyone.example"))
    assert status == 200
    assert cors_headers(headers) == {"access-control-allow-origin": "*", "access-control-allow-methods": "*"}
    status, headers, _ = send(url, "GET", {"Origin": "https://anyone.example"})
    assert status == 200 and cors_headers(headers) == {"access-control-allow-origin": "*"}


def test_options_without_cors_config_reaches_the_function(functions: Functions) -> None:
    _, url = make_url(functions, None)
    status, headers, data = send(url, "OPTIONS", preflight("https://app.example.com"))
    assert status == 200 and json.loads(data) == {"count": 1, "method": "OPTIONS"}
    assert cors_headers(headers) == {"access-control-allow-origin": "https://from-the-function.example"}


def test_an_options_request_that_is_no_preflight_reaches_the_function(functions: Functions) -> None:
    _, url = make_url(functions, CORS)
    status, _, data = send(url, "OPTIONS", {"Origin": "https://app.example.com"})  # no Request-Method
    assert status == 200 and json.loads(data)["method"] == "OPTIONS"


def test_cors_follows_update_function_url_config(functions: Functions) -> None:
    name, url = make_url(functions, CORS)
    functions.client.update_function_url_config(FunctionName=name, Cors={"AllowOrigins": ["https://new.example"]})
    _, headers, _ = send(url, "OPTIONS", preflight("https://app.example.com"))
    assert cors_headers(headers) == {}
    _, headers, _ = send(url, "OPTIONS", preflight("https://new.example"))
    assert cors_headers(headers) == {"access-control-allow-origin": "https://new.example"}


def test_preflight_through_curl(functions: Functions) -> None:
    _, url = make_url(functions, CORS)
    parts = urlsplit(url)
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-i",
            "-X",
            "OPTIONS",
            "--resolve",
            f"{parts.hostname}:{parts.port}:127.0.0.1",
            "-H",
            "Origin: https://app.example.com",
            "-H",
            "Access-Control-Request-Method: GET",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith("HTTP/1.1 200")
    assert "access-control-allow-origin: https://app.example.com\n" in out
    assert "access-control-allow-methods: GET,POST\n" in out
