"""CloudFormation makes REST APIs that answer through this server's functions: an
``AWS::ApiGateway::RestApi`` with an OpenAPI ``Body`` (named by its ``info.title``), a
``Deployment`` and a ``Stage``; an update that changes the definition, the deployment and the
stage's variables is served at once; deleting the stack deletes the API
(aws-resource-apigateway-restapi.html, -deployment.html, -stage.html). Black-box: boto3 against a
real server, requests with the API's execute-api Host header."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server
from tests.invoke.conftest import Functions

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"resource": event["resource"], "path": event["path"],
            "stageVariables": event["stageVariables"], "deploymentId": event["requestContext"]["deploymentId"]})}
"""


def _template(title: str, paths: list[str], color: str, deployment: str) -> dict[str, Any]:
    integration = {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": {
            "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${FunctionArn}/invocations"
        },
    }
    return {
        "Parameters": {"FunctionArn": {"Type": "String"}},
        "Resources": {
            "Api": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {
                    "Body": {
                        "swagger": "2.0",
                        "info": {"title": title, "version": "1.0"},
                        "paths": {p: {"get": {"x-amazon-apigateway-integration": integration}} for p in paths},
                    },
                },
            },
            deployment: {"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api"}}},
            "Live": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "StageName": "live",
                    "DeploymentId": {"Ref": deployment},
                    "Variables": {"color": color},
                },
            },
        },
        "Outputs": {
            "ApiId": {"Value": {"Ref": "Api"}},
            "Root": {"Value": {"Fn::GetAtt": ["Api", "RootResourceId"]}},
            "Deployment": {"Value": {"Ref": deployment}},
            "Stage": {"Value": {"Ref": "Live"}},
        },
    }


def _get(server: Server, api_id: str, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": f"{api_id}.execute-api.localhost.localstack.cloud:{server.port}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _deployed(cfn: Any, stack: str, template: dict[str, Any], arn: str, update: bool = False) -> dict[str, str]:
    call = cfn.update_stack if update else cfn.create_stack
    call(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "FunctionArn", "ParameterValue": arn}],
    )
    waiter = cfn.get_waiter("stack_update_complete" if update else "stack_create_complete")
    waiter.wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def test_rest_api_stack_created_updated_and_deleted(srv: Server, functions: Functions) -> None:
    arn = functions.client.get_function(FunctionName=functions.python(ECHO))["Configuration"]["FunctionArn"]
    cfn, apigw = srv.client("cloudformation"), srv.client("apigateway")
    stack, title = f"api-{uuid.uuid4().hex[:8]}", f"orders-{uuid.uuid4().hex[:6]}"

    outputs = _deployed(cfn, stack, _template(title, ["/orders"], "blue", "DeploymentA"), arn)
    api_id = outputs["ApiId"]
    api = apigw.get_rest_api(restApiId=api_id)
    assert api["name"] == title and outputs["Root"] == api["rootResourceId"]
    assert outputs["Stage"] == "live"
    status, body = _get(srv, api_id, "/live/orders")
    assert status == 200
    assert body == {
        "resource": "/orders",
        "path": "/orders",
        "stageVariables": {"color": "blue"},
        "deploymentId": outputs["Deployment"],
    }

    # a new path in the definition, a new deployment for it, the stage moved to it
    updated = _deployed(cfn, stack, _template(title, ["/orders", "/items/{id}"], "green", "DeploymentB"), arn, True)
    assert updated["ApiId"] == api_id and updated["Deployment"] != outputs["Deployment"]
    status, body = _get(srv, api_id, "/live/items/7")
    assert status == 200
    assert body == {
        "resource": "/items/{id}",
        "path": "/items/7",
        "stageVariables": {"color": "green"},
        "deploymentId": updated["Deployment"],
    }
    assert [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]] == [updated["Deployment"]]

    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    with pytest.raises(ClientError) as err:
        apigw.get_rest_api(restApiId=api_id)
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    assert _get(srv, api_id, "/live/orders")[0] == 404
