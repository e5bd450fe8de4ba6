"""Values that travel through the invocation engine.

The engine returns an ``InvocationResult``; only the API layer turns it into Invoke's members
(status, X-Amz-Function-Error, X-Amz-Log-Result, X-Amz-Executed-Version).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from locallambda.model.streams import ResponseStream

__all__ = ["DebugTarget", "FunctionSpec", "Invocation", "InvocationResult"]


@dataclasses.dataclass(frozen=True, slots=True)
class DebugTarget:
    """``LAMBDA_DEBUG_MODE``: the runtime starts under its debugger, which listens on
    ``127.0.0.1:<port>`` and holds the runtime's init until a debugger attaches.
    ``timeout_s`` is the function's own timeout; unless ``enforce_timeouts``, the spec's is
    lifted (``invoke/debugging.py``)."""

    port: int
    timeout_s: int
    enforce_timeouts: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionSpec:
    """Everything an executor needs to start an environment for one function version."""

    key: str  # region/name
    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or a number
    generation: int  # of $LATEST's code and configuration; 0 for published versions
    incarnation: str  # which function of this name (a deleted one's environments never serve)
    region: str
    account_id: str
    runtime: str | None
    handler: str | None
    package_type: str
    code_dir: Path | None
    image_uri: str | None
    image_config: dict[str, Any]
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]
    layers: tuple[Path, ...]
    architectures: tuple[str, ...]
    log_group: str
    log_format: str
    hot_reload: bool = False  # code_dir is the user's own directory, watched for changes
    debug: DebugTarget | None = None  # LAMBDA_DEBUG_MODE: started under its runtime's debugger


@dataclasses.dataclass(slots=True)
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str | None = None
    deadline_ms: int = 0
    # A caller that takes the answer as it is streamed; without one, a streamed answer is
    # gathered, up to ``response_limit`` bytes (None: any size).
    stream: ResponseStream | None = None
    response_limit: int | None = None


@dataclasses.dataclass(slots=True)
class InvocationResult:
    """The outcome of one invocation as Lambda reports it.

    ``function_error`` is ``"Unhandled"`` (or ``"Handled"``) when the payload is an error;
    ``log_tail`` is the raw log of this invocation (the API takes the last 4 KB).
    """

    request_id: str
    payload: bytes
    executed_version: str
    function_error: str | None = None
    log: str = ""
    init_duration_ms: float | None = None
    duration_ms: float = 0.0
