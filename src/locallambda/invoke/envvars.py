"""The environment variables a function sees, as AWS sets them.

Docs: "Defined runtime environment variables" (configuration-envvars.html). Executors add only
what is specific to them (paths); the set here is the same for every executor.
"""

from __future__ import annotations

import datetime as dt
import uuid

from locallambda.model.operations import FUNCTION_KEY_PREFIX
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import family

__all__ = ["function_environment", "log_stream_name"]


def log_stream_name(spec: FunctionSpec) -> str:
    """The log stream of a new environment as Lambda names it: ``YYYY/MM/DD/[<version>]<32 hex>``
    (the date in UTC), and ``YYYY/MM/DD/<function name>[<version>]<32 hex>`` in a custom log group,
    which other functions may share (monitoring-cloudwatchlogs-loggroups.html, "the log streams
    Lambda creates include the function name and function version")."""
    today = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
    owner = "" if spec.log_group == f"/aws/lambda/{spec.name}" else spec.name
    return f"{today}/{owner}[{spec.version}]{uuid.uuid4().hex}"


def function_environment(
    spec: FunctionSpec,
    *,
    runtime_api: str,
    task_root: str,
    runtime_dir: str,
    endpoint_url: str | None,
    log_stream: str,
    provisioned: bool = False,
) -> dict[str, str]:
    """``provisioned``: the environment was pre-started for provisioned concurrency (AWS then
    says so in AWS_LAMBDA_INITIALIZATION_TYPE)."""
    env: dict[str, str] = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency" if provisioned else "on-demand",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        # Credentials of this environment alone: a request signed with them is known to come
        # from inside a function (edge/callers.py), which never gets host paths.
        "AWS_ACCESS_KEY_ID": FUNCTION_KEY_PREFIX + uuid.uuid4().hex[:16].upper(),
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
        "AWS_SESSION_TOKEN": "locallambda-function",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "LANG": "en_US.UTF-8",
        "SHLVL": "0",  # AWS's runtimes start from a shell that execs them (test_introspection_invoke)
        "TZ": ":UTC",
    }
    if spec.handler:
        env["_HANDLER"] = spec.handler
    if spec.runtime and family(spec.runtime) != "provided":
        # OS-only runtimes have no AWS_EXECUTION_ENV (AWS's test_introspection_invoke[provided.al2023]).
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if spec.log_format.upper() == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    if endpoint_url:
        # Points SDK calls made inside the function back at this server (LocalStack does the same).
        env["AWS_ENDPOINT_URL"] = endpoint_url
    env.update(spec.environment)
    return env
