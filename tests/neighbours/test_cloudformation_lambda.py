"""CloudFormation deploys real functions here: the Lambda resources of a stack are created,
updated and deleted through this server's Lambda API (not moto's mock), SAM templates are
expanded by the SAM transform, change sets deploy them, and a failing resource rolls its stack
back. Black-box: boto3 and the AWS CLI against a real server."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip
from tests.invoke.conftest import HOST_PYTHON_RUNTIME

INLINE = """\
import os
import helper

def handler(event, context):
    return {"greeting": os.environ["GREETING"], "layer": helper.NAME, "event": event,
            "version": context.function_version}
"""

LAYER = make_zip({"python/helper.py": "NAME = 'from the layer'\n"})


def _stack_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), described
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _invoke(lam: Any, name: str, payload: Any = None, **kw: Any) -> Any:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}), **kw)
    body = out["Payload"].read()
    assert "FunctionError" not in out, body
    return json.loads(body)


def _template(bucket: str, greeting: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {
                    "Content": {"S3Bucket": bucket, "S3Key": "layer.zip"},
                    "CompatibleRuntimes": [HOST_PYTHON_RUNTIME],
                },
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": HOST_PYTHON_RUNTIME,
                    "Handler": "index.handler",
                    "Role": ROLE,
                    "Code": {"ZipFile": INLINE},
                    "Layers": [{"Ref": "Layer"}],
                    "Timeout": "10",
                    "Environment": {"Variables": {"GREETING": greeting}},
                    "Tags": [{"Key": "team", "Value": "blue"}],
                },
            },
            "Ver": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Name": "live",
                    "FunctionVersion": {"Fn::GetAtt": ["Ver", "Version"]},
                },
            },
            "Perm": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "sns.amazonaws.com",
                },
            },
            "Url": {
                "Type": "AWS::Lambda::Url",
                "Properties": {"TargetFunctionArn": {"Ref": "Fn"}, "AuthType": "NONE"},
            },
        },
        "Outputs": {
            "FnArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}},
            "FnName": {"Value": {"Ref": "Fn"}},
            "VersionArn": {"Value": {"Ref": "Ver"}},
            "VersionNumber": {"Value": {"Fn::GetAtt": ["Ver", "Version"]}},
            "AliasArn": {"Value": {"Ref": "Live"}},
            "PermissionId": {"Value": {"Ref": "Perm"}},
            "FunctionUrl": {"Value": {"Fn::GetAtt": ["Url", "FunctionUrl"]}},
            "UrlFunctionArn": {"Value": {"Ref": "Url"}},
            "LayerArn": {"Value": {"Ref": "Layer"}},
            "LayerArnAtt": {"Value": {"Fn::GetAtt": ["Layer", "LayerVersionArn"]}},
        },
    }


def _url_get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("GET", "/hello", headers={"Host": parts.netloc})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_stack_creates_updates_and_deletes_real_functions(srv: Server) -> None:
    cfn, lam, s3 = srv.client("cloudformation"), srv.client("lambda"), srv.client("s3")
    bucket = _stack_name("cfn-code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=LAYER)
    stack = _stack_name("fn-stack")
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=json.dumps(_template(bucket, "hello")))["StackId"]
    out = _outputs(cfn, stack)

    # the function is ours: the Lambda API has it, and it runs with its inline code and layer
    name = out["FnName"]
    assert name.startswith(f"{stack}-Fn-") and len(name) <= 64
    config = lam.get_function(FunctionName=name)
    assert config["Configuration"]["FunctionArn"] == out["FnArn"]
    assert out["FnArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert config["Configuration"]["State"] == "Active"
    assert config["Configuration"]["Timeout"] == 10
    assert config["Configuration"]["Layers"][0]["Arn"] == out["LayerArn"]
    assert config["Tags"] == {
        "team": "blue",
        "aws:cloudformation:stack-name": stack,
        "aws:cloudformation:stack-id": stack_id,
        "aws:cloudformation:logical-id": "Fn",
    }
    answer = _invoke(lam, name, {"n": 1})
    assert answer == {"greeting": "hello", "layer": "from the layer", "event": {"n": 1}, "version": "$LATEST"}

    # Ref and Fn::GetAtt as AWS's CloudFormation documents them
    assert out["VersionArn"] == f"{out['FnArn']}:1" and out["VersionNumber"] == "1"
    assert out["AliasArn"] == f"{out['FnArn']}:live"
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    assert _invoke(lam, name, Qualifier="live")["version"] == "1"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [out["PermissionId"]]
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert out["UrlFunctionArn"] == out["FnArn"]
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == out["FunctionUrl"]
    status, body = _url_get(out["FunctionUrl"])
    assert status == 200 and json.loads(body)["greeting"] == "hello"
    layer_name, layer_version = out["LayerArn"].split(":")[-2:]
    assert out["LayerArnAtt"] == out["LayerArn"] and layer_version == "1"
    resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    assert physical["Fn"] == name and physical["Ver"] == out["VersionArn"] and physical["Perm"] == out["PermissionId"]
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    assert [(e["ResourceStatus"], e["PhysicalResourceId"]) for e in events if e["LogicalResourceId"] == "Fn"] == [
        ("CREATE_COMPLETE", name),
        ("CREATE_IN_PROGRESS", ""),
    ]

    # an update of an environment variable changes the function in place
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(_template(bucket, "bonjour")))
    assert _outputs(cfn, stack)["FnName"] == name
    updated = lam.get_function_configuration(FunctionName=name)
    assert updated["Environment"]["Variables"] == {"GREETING": "bonjour"}
    assert _invoke(lam, name)["greeting"] == "bonjour"

    # deleting the stack deletes the function, its layer version and all that hung on it
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.get_layer_version(LayerName=layer_name, VersionNumber=1)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_renaming_a_function_replaces_it(srv: Server) -> None:
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    stack, first, second = _stack_name("rename"), _stack_name("named-a"), _stack_name("named-b")

    def template(name: str) -> str:
        props = {
            "FunctionName": name,
            "Runtime": HOST_PYTHON_RUNTIME,
            "Handler": "index.handler",
            "Role": ROLE,
            "Code": {"ZipFile": "def handler(event, context):\n    return context.function_name\n"},
        }
        return json.dumps({"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": props}}})

    cfn.create_stack(StackName=stack, TemplateBody=template(first))
    assert _invoke(lam, first) == first
    cfn.update_stack(StackName=stack, TemplateBody=template(second))
    assert _invoke(lam, second) == second
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=first)
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=second)


def test_a_failing_function_rolls_the_stack_back(srv: Server) -> None:
    cfn, lam, s3 = srv.client("cloudformation"), srv.client("lambda"), srv.client("s3")
    bucket = _stack_name("cfn-code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=LAYER)
    template = _template(bucket, "hello")
    template["Resources"]["Fn"]["Properties"]["Runtime"] = "python2.0"
    stack = _stack_name("failing")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == (
        "The following resource(s) failed to create: [Fn]. Rollback requested by user."
    )
    assert "Outputs" not in described
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [(e["LogicalResourceId"], e["ResourceType"]) for e in failed] == [("Fn", "AWS::Lambda::Function")]
    # the Lambda API's own validation message, as CloudFormation's handler reports it
    assert failed[0]["ResourceStatusReason"].startswith(
        "Resource handler returned message: \"Value python2.0 at 'runtime' failed to satisfy constraint"
    )
    assert "HandlerErrorCode: InvalidRequest" in failed[0]["ResourceStatusReason"]
    # what was created before the failure (the layer version) was deleted again
    assert [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(events)] == [
        (stack, "CREATE_IN_PROGRESS"),
        ("Layer", "CREATE_IN_PROGRESS"),
        ("Layer", "CREATE_COMPLETE"),
        ("Fn", "CREATE_IN_PROGRESS"),
        ("Fn", "CREATE_FAILED"),
        (stack, "ROLLBACK_IN_PROGRESS"),
        ("Layer", "DELETE_IN_PROGRESS"),
        ("Layer", "DELETE_COMPLETE"),
        (stack, "ROLLBACK_COMPLETE"),
    ]
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"].startswith(stack)]
    assert not [layer for layer in lam.list_layers()["Layers"] if layer["LayerName"].startswith(stack)]
    cfn.delete_stack(StackName=stack)


def test_a_failing_update_rolls_back_to_the_previous_template(srv: Server) -> None:
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    stack = _stack_name("bad-update")

    def template(timeout: int) -> str:
        props = {
            "Runtime": HOST_PYTHON_RUNTIME,
            "Handler": "index.handler",
            "Role": ROLE,
            "Timeout": timeout,
            "Code": {"ZipFile": "def handler(event, context):\n    return 'ok'\n"},
        }
        return json.dumps(
            {
                "Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": props}},
                "Outputs": {"Name": {"Value": {"Ref": "Fn"}}},
            }
        )

    cfn.create_stack(StackName=stack, TemplateBody=template(5))
    name = _outputs(cfn, stack)["Name"]
    cfn.update_stack(StackName=stack, TemplateBody=template(9000))  # over Lambda's limit
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert described["StackStatusReason"] == "The following resource(s) failed to update: [Fn]."
    assert {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]} == {"Name": name}
    failed = [
        e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert "Value '9000' at 'timeout' failed to satisfy constraint" in failed[0]["ResourceStatusReason"]
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 5
    assert cfn.get_template(StackName=stack)["TemplateBody"]["Resources"]["Fn"]["Properties"]["Timeout"] == 5
    cfn.delete_stack(StackName=stack)


SAM_TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: a SAM function
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: {HOST_PYTHON_RUNTIME}
      Handler: index.handler
      AutoPublishAlias: live
      Policies: AWSLambdaBasicExecutionRole
      InlineCode: |
        import os
        def handler(event, context):
            return {{"greeting": os.environ["GREETING"], "version": context.function_version}}
      Environment:
        Variables:
          GREETING: !Ref Greeting
Outputs:
  HelloFunction:
    Value: !GetAtt HelloFunction.Arn
  HelloFunctionName:
    Value: !Ref HelloFunction
  HelloFunctionIamRole:
    Value: !GetAtt HelloFunctionRole.Arn
"""


def test_sam_template_through_create_stack(srv: Server) -> None:
    cfn, lam, iam = srv.client("cloudformation"), srv.client("lambda"), srv.client("iam")
    stack = _stack_name("sam-stack")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=SAM_TEMPLATE,
        Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hi from SAM"}],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    out = _outputs(cfn, stack)
    name = out["HelloFunctionName"]
    assert out["HelloFunction"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    function = lam.get_function(FunctionName=name)
    assert function["Configuration"]["Role"] == out["HelloFunctionIamRole"]
    assert function["Tags"]["lambda:createdBy"] == "SAM"
    assert _invoke(lam, name) == {"greeting": "hi from SAM", "version": "$LATEST"}
    assert _invoke(lam, name, Qualifier="live") == {"greeting": "hi from SAM", "version": "1"}
    role = out["HelloFunctionIamRole"].rsplit("/", 1)[1]
    assert iam.get_role(RoleName=role)["Role"]["Arn"] == out["HelloFunctionIamRole"]

    # GetTemplate: the template as submitted, or as processed by the transform (the default)
    original = cfn.get_template(StackName=stack, TemplateStage="Original")
    assert original["TemplateBody"] == SAM_TEMPLATE
    assert original["StagesAvailable"] == ["Original", "Processed"]
    processed = cfn.get_template(StackName=stack)["TemplateBody"]
    assert "Transform" not in processed
    types = {r["Type"] for r in processed["Resources"].values()}
    assert types == {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Lambda::Version", "AWS::Lambda::Alias"}
    # the managed policy named in Policies, by the ARN IAM knows it by
    assert processed["Resources"]["HelloFunctionRole"]["Properties"]["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)


def test_sam_template_through_a_change_set(srv: Server) -> None:
    """The SAM CLI's path: CreateChangeSet (CREATE), wait, ExecuteChangeSet; the stack then has
    its Outputs (moto's change sets left them empty)."""
    cfn, lam = srv.client("cloudformation"), srv.client("lambda")
    stack = _stack_name("sam-cs")
    created = cfn.create_change_set(
        StackName=stack, ChangeSetName="first", TemplateBody=SAM_TEMPLATE, ChangeSetType="CREATE"
    )
    change_set = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert (change_set["Status"], change_set["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    added = {c["ResourceChange"]["LogicalResourceId"] for c in change_set["Changes"]}
    assert {"HelloFunction", "HelloFunctionRole", "HelloFunctionAliaslive"} <= added
    processed = cfn.get_template(StackName=stack, ChangeSetName=created["Id"])["TemplateBody"]
    assert processed["Resources"]["HelloFunction"]["Type"] == "AWS::Lambda::Function"
    cfn.execute_change_set(ChangeSetName=created["Id"])
    out = _outputs(cfn, stack)
    assert _invoke(lam, out["HelloFunctionName"])["greeting"] == "hello"
    # the same template again: the change set says so, and cannot be executed
    again = cfn.create_change_set(StackName=stack, ChangeSetName="again", TemplateBody=SAM_TEMPLATE)
    change_set = cfn.describe_change_set(ChangeSetName=again["Id"])
    assert change_set["Status"] == "FAILED"
    assert change_set["StatusReason"].startswith("The submitted information didn't contain changes.")
    with pytest.raises(ClientError) as err:
        cfn.execute_change_set(ChangeSetName=again["Id"])
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    cfn.delete_stack(StackName=stack)


def test_a_sam_template_the_transform_refuses(srv: Server) -> None:
    cfn = srv.client("cloudformation")
    broken = SAM_TEMPLATE.replace("      Handler: index.handler\n", "")
    stack = _stack_name("sam-bad")
    created = cfn.create_change_set(StackName=stack, ChangeSetName="bad", TemplateBody=broken, ChangeSetType="CREATE")
    change_set = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert (change_set["Status"], change_set["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert change_set["StatusReason"].startswith(
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application Specification document."
        " Number of errors found: 1. Resource with id [HelloFunction] is invalid."
    )
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName=_stack_name("sam-bad"), TemplateBody=broken)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Transform AWS::Serverless-2016-10-31 failed with" in err.value.response["Error"]["Message"]


def test_aws_cloudformation_deploy_of_a_sam_template(srv: Server, tmp_path: Any) -> None:
    """``aws cloudformation deploy`` (AWS CLI v1): create, an update by a parameter, and a
    redeploy without changes."""
    lam = srv.client("lambda")
    template = tmp_path / "template.yaml"
    template.write_text(SAM_TEMPLATE)
    stack = _stack_name("cli-deploy")
    deployed = srv.cli("cloudformation", "deploy", "--template-file", str(template), "--stack-name", stack)
    assert f"Successfully created/updated stack - {stack}" in deployed.stdout
    name = _outputs(srv.client("cloudformation"), stack)["HelloFunctionName"]
    assert _invoke(lam, name)["greeting"] == "hello"
    srv.cli(
        "cloudformation",
        "deploy",
        "--template-file",
        str(template),
        "--stack-name",
        stack,
        "--parameter-overrides",
        "Greeting=bonjour",
    )
    assert _invoke(lam, name) == {"greeting": "bonjour", "version": "$LATEST"}
    unchanged = srv.cli(
        "cloudformation",
        "deploy",
        "--template-file",
        str(template),
        "--stack-name",
        stack,
        "--parameter-overrides",
        "Greeting=bonjour",
        "--no-fail-on-empty-changeset",
    )
    assert f"No changes to deploy. Stack {stack} is up to date" in unchanged.stdout
    srv.cli("cloudformation", "delete-stack", "--stack-name", stack)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=name)
