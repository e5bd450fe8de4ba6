"""CloudFormation's ValidateTemplate, answered by this server without cfn-lint: the server of
this module cannot import ``cfnlint`` at all. The answers are AWS's, as LocalStack recorded them
(tests/aws/services/cloudformation/api/test_templates.py, test_validations.py) and as the API
reference describes them. Black-box: boto3 and the AWS CLI against a real server."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.invoke.conftest import CLI_ENV, stop_checked

# LocalStack's tests/aws/templates/valid_template.json
VALID = {
    "Parameters": {
        "KeyExample": {
            "Description": "The EC2 Key Pair to allow SSH access to the instance",
            "Type": "AWS::EC2::KeyPair::KeyName",
        }
    },
    "Resources": {
        "Ec2Instance": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "SecurityGroups": [{"Ref": "SecurityGroupExample"}],
                "KeyName": {"Ref": "KeyExample"},
                "ImageId": "ami-0e6d2e8684d4ccb3e",
                "InstanceType": "t2.micro",
            },
        },
        "SecurityGroupExample": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "this is an example"},
        },
    },
}

SAM_YAML = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: 2010-09-09
    Transform: AWS::Serverless-2016-10-31
    Description: an app with a named role
    Parameters:
      Stage:
        Type: String
        Default: dev
        Description: where it runs
      Token:
        Type: String
        NoEcho: true
      Size:
        Type: Number
        Default: 3
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties:
          RoleName: !Sub "${Stage}-role"
          AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: index.handler
          Runtime: python3.12
          InlineCode: "def handler(e, c): return e"
          Role: !GetAtt Role.Arn
    """
)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose Python cannot import cfn-lint (a ``cfnlint`` package first on its path
    that refuses to load), so every answer here is this server's own."""
    shadow = tmp_path_factory.mktemp("no-cfnlint")
    (shadow / "cfnlint").mkdir()
    (shadow / "cfnlint" / "__init__.py").write_text("raise ImportError('cfn-lint is not installed here')\n")
    server = Server(env={"PYTHONPATH": str(shadow), **CLI_ENV}).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture(scope="module")
def cfn(srv: Server) -> Any:
    return srv.client("cloudformation")


def _error(cfn: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        cfn.validate_template(**kw)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    error: dict[str, Any] = err.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Type"] == "Sender"
    return error


def _answer(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if k != "ResponseMetadata"}


def test_a_valid_json_template_lists_its_parameters(cfn: Any) -> None:
    # as LocalStack's parity snapshot of AWS (test_validate_template): no Description, no
    # Capabilities, no DeclaredTransforms when the template has none; no DefaultValue without a Default
    out = cfn.validate_template(TemplateBody=json.dumps(VALID))
    assert _answer(out) == {
        "Parameters": [
            {
                "ParameterKey": "KeyExample",
                "NoEcho": False,
                "Description": "The EC2 Key Pair to allow SSH access to the instance",
            }
        ]
    }


def test_a_template_without_parameters_has_an_empty_list(cfn: Any) -> None:
    out = cfn.validate_template(TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    assert out.get("Parameters", []) == []
    assert "Capabilities" not in out
    assert "Description" not in out


def test_yaml_with_short_forms_a_transform_and_a_named_role(cfn: Any) -> None:
    out = cfn.validate_template(TemplateBody=SAM_YAML)
    assert _answer(out) == {
        "Parameters": [
            {"ParameterKey": "Stage", "DefaultValue": "dev", "NoEcho": False, "Description": "where it runs"},
            {"ParameterKey": "Token", "NoEcho": True},
            {"ParameterKey": "Size", "DefaultValue": "3", "NoEcho": False},
        ],
        "Description": "an app with a named role",
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "CapabilitiesReason": "The following resource(s) require capabilities: [AWS::IAM::Role]",
        "DeclaredTransforms": ["AWS::Serverless-2016-10-31"],
    }


def test_unnamed_iam_resources_need_capability_iam(cfn: Any) -> None:
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
        }
    }
    out = cfn.validate_template(TemplateBody=json.dumps(template))
    assert out["Capabilities"] == ["CAPABILITY_IAM"]
    assert out["CapabilitiesReason"] == (
        "The following resource(s) require capabilities: [AWS::IAM::InstanceProfile, AWS::IAM::Role]"
    )


def test_a_nested_stack_needs_named_iam_and_auto_expand(cfn: Any) -> None:
    template = {
        "Description": "Dev Environment",
        "Resources": {
            "Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://example/t.json"}}
        },
    }
    out = cfn.validate_template(TemplateBody=json.dumps(template))
    assert out["Capabilities"] == ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert out["CapabilitiesReason"] == "The following resource(s) require capabilities: [AWS::CloudFormation::Stack]"
    assert out["Description"] == "Dev Environment"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # LocalStack's parity snapshots of AWS
        ('{"this is invalid JSON"="bobbins"}', "Template format error: JSON not well-formed. (line 1, column 25)"),
        (json.dumps({}), "Template format error: At least one Resources member must be defined."),
        (
            json.dumps({"Resources": {"A": {"Properties": {}}}}),
            "Template format error: [/Resources/A] Every Resources object must contain a Type member.",
        ),
        (
            json.dumps({"Resources": {"Foo": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"MyOutput": {"Value": None}}}),
            "[/Outputs/MyOutput/Value] 'null' values are not allowed in templates",
        ),
        (
            json.dumps({"Resources": {"Foo": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"MyOutput": {}}}),
            "Template format error: Every Outputs member must contain a Value object",
        ),
        (
            json.dumps({"Resources": {"my-bad-resource-id": {"Type": "AWS::SNS::Topic"}}}),
            "Template format error: Resource name my-bad-resource-id is non alphanumeric.",
        ),
        (
            json.dumps(
                {
                    "Resources": {
                        "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": {"Ref": "MyTopic"}}}
                    }
                }
            ),
            "Template format error: Unresolved resource dependencies [MyTopic] in the Resources block of the template",
        ),
        # YAML: where it failed, an unknown short form included; aliases refused
        (
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      Name: !GetAttr B.Arn\n",
            "Template format error: YAML not well-formed. (line 5, column 13)",
        ),
        (
            "Resources:\n  A: &a {Type: AWS::S3::Bucket}\n  B: *a\n",
            "Template error: YAML aliases are not allowed in CloudFormation templates",
        ),
        ("just words", "Template format error: unsupported structure."),
        (
            json.dumps({"Resource": {"Q": {"Type": "AWS::SQS::Queue"}}}),
            "Template format error: Invalid template property or properties [Resource]",
        ),
    ],
    ids=[
        "json",
        "no-resources",
        "no-type",
        "null",
        "output-without-value",
        "name",
        "unresolved",
        "yaml-tag",
        "yaml-alias",
        "structure",
        "section",
    ],
)
def test_refused_templates_in_aws_words(cfn: Any, body: str, message: str) -> None:
    assert _error(cfn, TemplateBody=body)["Message"] == message


def test_references_are_resolved_against_parameters_resources_and_pseudo_parameters(cfn: Any) -> None:
    template = {
        "Parameters": {"Name": {"Type": "String"}},
        "Resources": {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Sub": "${Name}-${AWS::Region}-${!x}"}},
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "DependsOn": "Topic",
                "Properties": {"QueueName": {"Fn::Sub": ["${T}-q", {"T": {"Fn::GetAtt": ["Topic", "TopicName"]}}]}},
            },
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Topic"}}, "Missing": {"Value": {"Fn::GetAtt": "Nope.Arn"}}},
    }
    error = _error(cfn, TemplateBody=json.dumps(template))
    assert error["Message"] == (
        "Template format error: Unresolved resource dependencies [Nope] in the Outputs block of the template"
    )
    del template["Outputs"]["Missing"]  # type: ignore[attr-defined]
    assert cfn.validate_template(TemplateBody=json.dumps(template))["Parameters"] == [
        {"ParameterKey": "Name", "NoEcho": False}
    ]


def test_neither_body_nor_url(cfn: Any) -> None:
    assert _error(cfn)["Message"] == "Either Template URL or Template Body must be specified."


def test_a_template_url_of_the_embedded_s3_and_the_body_first(srv: Server, cfn: Any) -> None:
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="validate-templates")
    s3.put_object(Bucket="validate-templates", Key="app.yaml", Body=SAM_YAML.encode())
    url = f"{srv.url}/validate-templates/app.yaml"
    out = cfn.validate_template(TemplateURL=url)
    assert out["Description"] == "an app with a named role"
    assert out["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    # both given: only TemplateBody is used (API_ValidateTemplate.html)
    out = cfn.validate_template(TemplateURL=url, TemplateBody=json.dumps(VALID))
    assert [p["ParameterKey"] for p in out["Parameters"]] == ["KeyExample"]
    for missing in (f"{srv.url}/validate-templates/nope.yaml", f"{srv.url}/no-such-bucket/app.yaml"):
        error = _error(cfn, TemplateURL=missing)
        assert error["Message"] == "TemplateURL must reference a valid S3 object to which you have access."


def test_the_aws_cli(srv: Server, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(SAM_YAML)
    out = srv.cli_json("cloudformation", "validate-template", "--template-body", f"file://{path}", "--output", "json")
    assert out["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert out["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    assert [p["ParameterKey"] for p in out["Parameters"]] == ["Stage", "Token", "Size"]
    path.write_text('{"this is invalid JSON"="bobbins"}')
    failed = srv.cli("cloudformation", "validate-template", "--template-body", f"file://{path}", check=False)
    assert failed.returncode != 0
    assert "An error occurred (ValidationError) when calling the ValidateTemplate operation" in failed.stderr
    assert failed.stderr.strip().endswith(": Template format error: JSON not well-formed. (line 1, column 25)")
