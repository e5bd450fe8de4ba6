"""How an unhandled Python exception is reported, per runtime version.

Every Python runtime here runs the host's awslambdaric, whose error payload is that of AWS's
current Python runtimes: ``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``. AWS's
python3.8 runtime predates ``requestId``: its payload has only ``errorMessage``, ``errorType`` and
``stackTrace`` (recorded against AWS in January 2026, LocalStack's
``test_lambda_common.snapshot.json``, ``test_uncaught_exception_invoke[python3.8]`` against
``[python3.9]`` … ``[python3.14]``). ``error_payload_shape`` is the source the Python bootstrap
runs before awslambdaric starts: for those runtimes it wraps awslambdaric's ``make_error`` so that
the key is left out, for invocation errors and init errors alike (the client that predates the
key has it in neither); for the others it is empty.
"""

from __future__ import annotations

__all__ = ["WITHOUT_REQUEST_ID", "error_payload_shape"]

# Runtimes whose error payloads have no requestId (python3.7 and older can no longer be created).
WITHOUT_REQUEST_ID = frozenset({"python3.8"})

_DROP_REQUEST_ID = """\
import awslambdaric.bootstrap as _bootstrap
def _without_request_id(*args, _make_error=_bootstrap.make_error, **kwargs):
    error = _make_error(*args, **kwargs)
    error.pop("requestId", None)
    return error
_bootstrap.make_error = _without_request_id
del _bootstrap, _without_request_id
"""


def error_payload_shape(runtime: str) -> str:
    """Python statements that give awslambdaric's error payloads ``runtime``'s shape ("" when
    they have it already)."""
    return _DROP_REQUEST_ID if runtime in WITHOUT_REQUEST_ID else ""
