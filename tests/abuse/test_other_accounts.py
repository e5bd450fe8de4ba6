"""An ARN (full or partial) naming another account never resolves to the caller's function of
that name: AWS answers 403 ``AccessDeniedException`` (LocalStack's
``test_lambda_api.snapshot.json``, ``test_function_arns``: ``function_arn_other_account_exc``)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip

OTHER = "111111111111"


@pytest.fixture()
def function(server: Server, fn_name: str) -> str:
    server.client().create_function(
        FunctionName=fn_name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": "def handler(event, context):\n    return event\n"})},
    )
    return fn_name


def denied(call: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    response: dict[str, Any] = e.value.response
    assert response["Error"]["Code"] == "AccessDeniedException", response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return response


@pytest.mark.parametrize("form", ["full", "partial", "qualified"])
def test_another_accounts_arn_does_not_reach_the_callers_function(server: Server, function: str, form: str) -> None:
    name = {
        "full": f"arn:aws:lambda:us-east-1:{OTHER}:function:{function}",
        "partial": f"{OTHER}:function:{function}",
        "qualified": f"arn:aws:lambda:us-east-1:{OTHER}:function:{function}:$LATEST",
    }[form]
    client = server.client()
    denied(client.get_function, FunctionName=name)
    denied(client.get_function_configuration, FunctionName=name)
    denied(client.update_function_configuration, FunctionName=name, Description="changed")
    denied(client.invoke, FunctionName=name, InvocationType="DryRun")
    denied(client.invoke, FunctionName=name, InvocationType="Event")
    denied(client.publish_version, FunctionName=name)
    denied(client.put_function_concurrency, FunctionName=name, ReservedConcurrentExecutions=1)
    denied(client.delete_function, FunctionName=name)
    # The caller's own function is untouched and still reachable by its own ARN.
    own = client.get_function(FunctionName=f"arn:aws:lambda:us-east-1:000000000000:function:{function}")
    assert own["Configuration"]["Description"] == ""
    assert "Concurrency" not in own
    assert client.list_versions_by_function(FunctionName=function)["Versions"][-1]["Version"] == "$LATEST"


def test_an_unknown_function_of_another_account_is_denied_too(server: Server) -> None:
    client = server.client()
    denied(client.get_function, FunctionName=f"arn:aws:lambda:us-east-1:{OTHER}:function:nobody-here")
    denied(client.invoke, FunctionName=f"{OTHER}:function:nobody-here")
