"""The generic validator (protocol/validation.py) against AWS's recorded texts, without HTTP.

Each expectation is an answer AWS gave (LocalStack's parity snapshots, or a real AWS error quoted
in a public issue where noted); the validator must produce it from the botocore model alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from locallambda.errors import ValidationError
from locallambda.protocol.model import load_service_model
from locallambda.protocol.validation import enum_text, format_value, validate, validation_message

MODEL = load_service_model()
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def message(operation: str, params: dict[str, Any]) -> str | None:
    try:
        validate(MODEL.operation_model(operation).input_shape, params)
    except ValidationError as exc:
        assert exc.code == "ValidationException" and exc.status == 400
        return exc.message
    return None


def create(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"FunctionName": "f", "Role": ROLE, "Code": {"ZipFile": b"zip"}}
    params.update(overrides)
    return params


def test_valid_input_passes() -> None:
    assert message("CreateFunction", create(Runtime="python3.12", Handler="h.h", MemorySize=128)) is None
    assert message("GetFunction", {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"}) is None


def test_role_pattern() -> None:
    assert message("CreateFunction", create(Role="r1")) == (
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    )


def test_required_member_missing() -> None:
    assert message("GetFunction", {}) == (
        "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null"
    )


def test_list_length_and_list_elements() -> None:
    assert message("CreateFunction", create(Architectures=["x86_64", "arm64"])) == (
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1"
    )
    assert message("CreateFunction", create(Architectures=["X86_64"])) == (
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    )


def test_string_elements_of_minimum_length_zero_may_be_null() -> None:
    # AWS's bracket for vpcConfig lists has no "Member must not be null" (min length 0 elements).
    assert message("CreateFunction", create(VpcConfig={"SubnetIds": ["bad"], "SecurityGroupIds": ["sg-1"]})) == (
        "1 validation error detected: Value '[bad]' at 'vpcConfig.subnetIds' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length "
        "greater than or equal to 0, Member must satisfy regular expression pattern: subnet-[0-9a-z]*]"
    )
    assert message("CreateFunction", create(VpcConfig={"SubnetIds": [], "SecurityGroupIds": ["nope"]})) == (
        "1 validation error detected: Value '[nope]' at 'vpcConfig.securityGroupIds' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 1024, Member must have "
        "length greater than or equal to 0, Member must satisfy regular expression pattern: sg-[0-9a-zA-Z]*]"
    )


def test_map_keys_and_values() -> None:
    weights = {"Name": "live", "FunctionName": "f", "FunctionVersion": "1"}
    assert message("CreateAlias", {**weights, "RoutingConfig": {"AdditionalVersionWeights": {"2": 2.0}}}) == (
        "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member "
        "must have value greater than or equal to 0.0, Member must not be null]"
    )
    assert message("CreateAlias", {**weights, "RoutingConfig": {"AdditionalVersionWeights": {"$LATEST": 0.5}}}) == (
        "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"
    )


def test_sensitive_values_are_not_echoed() -> None:
    # Real AWS answer (quoted in trek10inc/serverless-secrets#39): no value for a sensitive member.
    assert message("CreateFunction", create(Environment={"Variables": {"a": "x"}})) == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    )
    assert message("CreateFunction", create(Environment={"Variables": {"GOOD_NAME": "x", "AB": "y"}})) is None


def test_several_errors_are_counted_and_follow_the_model() -> None:
    # The recording sorts them; members are reported in model order (FunctionName, then Qualifier).
    name = "arn:aws:lambda:invalid-region:000000000000:function:my-function-" + "a" * 170
    text = message("GetFunction", {"FunctionName": name, "Qualifier": "a" * 129})
    assert text is not None and text.startswith("2 validation errors detected: Value '" + name + "' at 'functionName'")
    assert text.endswith(
        "; Value '" + "a" * 129 + "' at 'qualifier' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )
    # Length and pattern of one member: both are reported (CreateFunction's limit is 140).
    text = message("CreateFunction", create(FunctionName=name))
    assert text is not None and text.startswith("2 validation errors detected: ")
    assert "Member must have length less than or equal to 140; " in text
    assert text.endswith(
        "Member must satisfy regular expression pattern: " + MODEL.shape_for("FunctionName").metadata["pattern"]
    )


def test_numeric_ranges() -> None:
    assert message(
        "PutProvisionedConcurrencyConfig",
        {"FunctionName": "f", "Qualifier": "live", "ProvisionedConcurrentExecutions": 0},
    ) == (
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_enums_print_in_aws_order() -> None:
    assert enum_text(["Terminate", "Allow"]) == "[Terminate, Allow]"
    assert enum_text(["BUFFERED", "RESPONSE_STREAM"]) == "[RESPONSE_STREAM, BUFFERED]"
    assert enum_text(["x86_64", "arm64"]) == "[x86_64, arm64]"
    assert enum_text(["PublishedVersions", "None"]) == "[PublishedVersions, None]"
    assert message("ListFunctions", {"FunctionVersion": "invalid"}) == (
        "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ALL]"
    )


def test_runtime_enum_is_left_to_the_handler() -> None:
    # AWS answers an unknown runtime with InvalidParameterValueException, checked by functions.py.
    assert message("CreateFunction", create(Runtime="PYTHON3.9")) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        ([1, "a"], "[1, a]"),
        ({"k": "v"}, "{k=v}"),
        (0.5, "0.5"),
        ("s", "s"),
        (b"abc", "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]"),
    ],
)
def test_values_print_like_java(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_message_wording() -> None:
    assert validation_message(["a"]) == "1 validation error detected: a"
    assert validation_message(["a", "b"]) == "2 validation errors detected: a; b"
