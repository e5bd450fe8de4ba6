"""The SAM CLI deploys a hello-world SAM app to this server: ``sam build``, ``sam deploy`` with
``AWS_ENDPOINT_URL`` pointing here (artifacts to an S3 bucket of the embedded S3, the stack
through a change set), a redeploy of changed code, and ``sam delete``; the function it made
runs and the stack's Outputs are right.

The app has no API Gateway event: moto's CloudFormation cannot create the RestApi SAM makes of
one (its model needs a Name the swagger-bodied API lacks), and moto's API Gateway would call its
own mock Lambda, not this server's functions.

The SAM CLI lives in its own virtualenv (``.venv/sam-cli``, made by scripts/bootstrap.sh under
``LOCALLAMBDA_WITH_TEST_TOOLS=1``): it pins boto3 and botocore below ours.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REPO, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME

TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: hello-world
Globals:
  Function:
    Timeout: 3
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: {HOST_PYTHON_RUNTIME}
      Architectures:
        - x86_64
Outputs:
  HelloWorldFunction:
    Description: Hello World Lambda Function ARN
    Value: !GetAtt HelloWorldFunction.Arn
  HelloWorldFunctionIamRole:
    Description: Implicit IAM Role created for Hello World function
    Value: !GetAtt HelloWorldFunctionRole.Arn
"""

APP = """\
import json


def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"message": "%s"})}
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

    # changed code, deployed again: the same function, updated from the new artifact
    _app(app, "hello again")
    _deploy(server, app, "hello-app")
    assert cfn.describe_stacks(StackName="hello-app")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert _answer(lam, arn) == {"statusCode": 200, "body": json.dumps({"message": "hello again"})}

    _sam(server, app, "delete", "--stack-name", "hello-app", "--no-prompts", "--region", "us-east-1")
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
