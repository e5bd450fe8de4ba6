"""The SAM CLI deploys the hello-world app of ``sam init --app-template hello-world`` to this
server: ``sam build``, ``sam deploy`` with ``AWS_ENDPOINT_URL`` pointing here (artifacts to an S3
bucket of the embedded S3, the stack through a change set), a redeploy of changed code, and
``sam delete``; the stack's Outputs are right, the function it made runs, and its ``Api`` event
(the REST API SAM makes of it: ``ServerlessRestApi`` with an OpenAPI body, its Deployment, the
``Prod`` stage, the function's permission for API Gateway) answers ``GET /hello`` at LocalStack's
URLs for the API (``<api id>.execute-api.localhost.localstack.cloud:<port>`` and
``<api id>.execute-api.localhost:<port>``, given here as Host headers: neither resolves without
DNS for Python, though browsers and curl take any ``*.localhost`` as loopback).

The SAM CLI lives in its own virtualenv (``.venv/sam-cli``, made by scripts/bootstrap.sh under
``LOCALLAMBDA_WITH_TEST_TOOLS=1``): it pins boto3 and botocore below ours.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REPO, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME

# The template ``sam init --app-template hello-world --runtime python3.x`` writes (the SAM CLI's
# cookiecutter-aws-sam-hello-python), for the host's Python.
TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: >
  hello-app

  Sample SAM Template for hello-app

# More info about Globals: https://github.com/awslabs/serverless-application-model/blob/master/docs/globals.rst
Globals:
  Function:
    Timeout: 3

Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function # More info about Function Resource: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#awsserverlessfunction
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: {HOST_PYTHON_RUNTIME}
      Architectures:
        - x86_64
      Events:
        HelloWorld:
          Type: Api # More info about API Event Source: https://github.com/awslabs/serverless-application-model/blob/master/versions/2016-10-31.md#api
          Properties:
            Path: /hello
            Method: get

Outputs:
  # ServerlessRestApi is an implicit API created out of Events key under Serverless::Function
  # Find out more about other implicit resources you can reference within SAM
  # https://github.com/awslabs/serverless-application-model/blob/master/docs/internals/generated_resources.rst#api
  HelloWorldApi:
    Description: "API Gateway endpoint URL for Prod stage for Hello World function"
    Value: !Sub "https://${{ServerlessRestApi}}.execute-api.${{AWS::Region}}.amazonaws.com/Prod/hello/"
  HelloWorldFunction:
    Description: "Hello World Lambda Function ARN"
    Value: !GetAtt HelloWorldFunction.Arn
  HelloWorldFunctionIamRole:
    Description: "Implicit IAM Role created for Hello World function"
    Value: !GetAtt HelloWorldFunctionRole.Arn
"""

# sam init's hello_world/app.py, its docstring left out; the message is the test's.
APP = """\
import json

# import requests


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "message": "%s",
                # "location": ip.text.replace("\\n", "")
            }
        ),
    }
"""


def sam_cli() -> str:
    """The SAM CLI of scripts/bootstrap.sh, else one on PATH; under CI its absence fails."""
    own = REPO / ".venv" / "sam-cli" / "bin" / "sam"
    found = str(own) if own.exists() else shutil.which("sam")
    if found is None:
        message = "the SAM CLI is missing: scripts/bootstrap.sh installs it with LOCALLAMBDA_WITH_TEST_TOOLS=1"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _app(root: Path, message: str) -> Path:
    (root / "hello_world").mkdir(parents=True, exist_ok=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "hello_world" / "app.py").write_text(APP % message)
    # sam init lists ``requests`` (its app imports it in a comment only): left out, so that
    # sam build needs no package index
    (root / "hello_world" / "requirements.txt").write_text("")
    return root


def _sam(server: Server, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **server.env,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        # sam build finds python3.X and its pip here (the runtime is the host's own Python)
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run([sam_cli(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sam {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def _deploy(server: Server, app: Path, stack: str) -> subprocess.CompletedProcess[str]:
    _sam(server, app, "build")
    return _sam(
        server,
        app,
        "deploy",
        "--stack-name",
        stack,
        "--s3-bucket",
        "sam-artifacts",
        "--capabilities",
        "CAPABILITY_IAM",
        "--no-confirm-changeset",
        "--no-progressbar",
        "--region",
        "us-east-1",
    )


def _answer(lam: Any, arn: str) -> Any:
    out = lam.invoke(FunctionName=arn)
    assert "FunctionError" not in out
    return json.loads(out["Payload"].read())


def _get(server: Server, url: str, domain: str) -> tuple[int, Any]:
    """GET the API URL of the stack's Outputs at this server, its host ``<api id>.execute-api.<domain>``."""
    m = re.fullmatch(r"https://(?P<api>[a-z0-9]+)\.execute-api\.us-east-1\.amazonaws\.com(?P<path>/.*)", url)
    assert m is not None, url
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("GET", m.group("path"), headers={"Host": f"{m.group('api')}.execute-api.{domain}:{server.port}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _api_answers(server: Server, url: str) -> list[tuple[int, Any]]:
    return [_get(server, url, domain) for domain in ("localhost.localstack.cloud", "localhost")]


def test_sam_deploy_of_a_hello_world_app(spawn_server: Any, tmp_path: Path) -> None:
    # functions are Pending after CreateFunction here: the deploy waits for them to be Active
    server = spawn_server(LAMBDA_SYNCHRONOUS_CREATE="0")
    server.client("s3").create_bucket(Bucket="sam-artifacts")
    app = _app(tmp_path / "hello", "hello world")
    deployed = _deploy(server, app, "hello-app")
    assert "Successfully created/updated stack - hello-app in us-east-1" in deployed.stdout

    cfn, lam = server.client("cloudformation"), server.client("lambda")
    stack = cfn.describe_stacks(StackName="hello-app")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    arn = outputs["HelloWorldFunction"]
    name = arn.rsplit(":", 1)[1]
    assert name.startswith("hello-app-HelloWorldFunction-")
    function = lam.get_function(FunctionName=arn)["Configuration"]
    assert function["FunctionArn"] == arn and function["State"] == "Active"
    assert function["Role"] == outputs["HelloWorldFunctionIamRole"]
    assert outputs["HelloWorldFunctionIamRole"].startswith(
        "arn:aws:iam::000000000000:role/hello-app-HelloWorldFunctionRole-"
    )
    assert _answer(lam, arn) == {"statusCode": 200, "body": json.dumps({"message": "hello world"})}

    # the Api event: a REST API named after the stack, GET /hello proxied to the function,
    # deployed to Prod (and to the "Stage" stage SAM's Deployment names), API Gateway allowed
    # to invoke the function
    url = outputs["HelloWorldApi"]
    api_id = url.removeprefix("https://").split(".", 1)[0]
    assert url == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    apigw = server.client("apigateway")
    assert apigw.get_rest_api(restApiId=api_id)["name"] == "hello-app"
    hello = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/hello")
    integration = apigw.get_integration(restApiId=api_id, resourceId=hello["id"], httpMethod="GET")
    assert integration["type"] == "AWS_PROXY"
    assert integration["uri"] == f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]} == {"Prod", "Stage"}
    (statement,) = json.loads(lam.get_policy(FunctionName=arn)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*/GET/hello"
    )
    assert _api_answers(server, url) == [(200, {"message": "hello world"})] * 2

    # changed code, deployed again: the same function, updated from the new artifact, behind
    # the same API
    _app(app, "hello again")
    _deploy(server, app, "hello-app")
    assert cfn.describe_stacks(StackName="hello-app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert _answer(lam, arn) == {"statusCode": 200, "body": json.dumps({"message": "hello again"})}
    assert _api_answers(server, url) == [(200, {"message": "hello again"})] * 2

    _sam(server, app, "delete", "--stack-name", "hello-app", "--no-prompts", "--region", "us-east-1")
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        apigw.get_rest_api(restApiId=api_id)
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    assert _get(server, url, "localhost")[0] == 404
