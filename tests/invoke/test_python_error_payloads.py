"""A Python function's unhandled exception is reported in the payload shape of its runtime
version, as AWS reports it: python3.8's payload has no ``requestId``, python3.9 and later have it
(AWS-recorded, LocalStack's ``test_lambda_common.snapshot.json``, ``test_uncaught_exception_invoke``)."""

from __future__ import annotations

import json

import pytest

from tests.invoke.conftest import Functions

RAISES = """\
def handler(event, context):
    raise Exception(f"Failed: {event['error_msg']}")
"""

RAISES_AT_INIT = """\
raise Exception("Runtime startup fails")
def handler(event, context):
    return {}
"""

# The payload keys AWS recorded per runtime (Payload of "error_result").
RECORDED_KEYS = {
    "python3.8": {"errorMessage", "errorType", "stackTrace"},
    "python3.12": {"errorMessage", "errorType", "requestId", "stackTrace"},
}


@pytest.mark.parametrize("runtime", sorted(RECORDED_KEYS))
def test_unhandled_exception_payload_per_runtime(functions: Functions, runtime: str) -> None:
    name = functions.python(RAISES, runtime=runtime)
    out = functions.invoke(name, {"error_msg": "some_error_msg"})
    assert out["FunctionError"] == "Unhandled"
    payload = json.loads(out["Payload"])
    assert set(payload) == RECORDED_KEYS[runtime], payload
    assert payload["errorMessage"] == "Failed: some_error_msg"
    assert payload["errorType"] == "Exception"
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]
    if "requestId" in payload:
        assert payload["requestId"] == out["ResponseMetadata"]["RequestId"]


def test_python38_init_error_has_no_request_id_either(functions: Functions) -> None:
    name = functions.python(RAISES_AT_INIT, runtime="python3.8")
    out = functions.invoke(name, {})
    assert out["FunctionError"] == "Unhandled"
    payload = json.loads(out["Payload"])
    assert "requestId" not in payload, payload
    assert payload["errorMessage"] == "Runtime startup fails"
