"""The one place errors become HTTP responses.

- API errors (``LambdaError``) as AWS Lambda answers them: the code in ``x-amzn-ErrorType``, a
  JSON body with ``Type`` (the fault side) and the message under the member name the error's
  shape uses in the service model (``Message`` or ``message``); ValidationException bodies carry
  only ``message``. Extra members (``Reason``...) follow.
- Function URL errors as the URL endpoint answers them: ``{"Message": ...}``; the refusals of
  an ``AWS_IAM`` URL's authentication and authorization (``UrlAuthError``) as 403 with the code
  in ``x-amzn-ErrorType`` and the message under the member AWS's front end uses for it.
- Anything else that escapes a handler is a bug of ours: logged with its trace, answered as AWS
  answers its own faults, never with a stack trace on the wire.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache

from locallambda.errors import LambdaError, ServiceError
from locallambda.protocol.codec import Response, dumps
from locallambda.protocol.model import load_service_model

__all__ = ["JSON", "UrlAuthError", "api_error", "internal_error", "url_auth_error", "url_error"]

log = logging.getLogger(__name__)

JSON = (b"content-type", b"application/json")


@cache
def _message_key(code: str) -> str:
    for shape in load_service_model().error_shapes:
        if shape.name == code:
            return "Message" if "Message" in shape.members else "message"
    return "message"


def api_error(err: LambdaError) -> Response:
    request_id = err.request_id or str(uuid.uuid4())
    body: dict[str, object] = {}
    if err.bare:  # AWS's authorization layer: a null message and nothing else
        body[_message_key(err.code)] = None
        headers = [(b"x-amzn-errortype", err.code.encode()), JSON, (b"x-amzn-requestid", request_id.encode())]
        return Response(err.status, headers, dumps(body))
    if err.code != "ValidationException":
        body["Type"] = err.fault
    body[_message_key(err.code)] = err.message
    body.update(err.extra)
    headers = [(b"x-amzn-errortype", err.code.encode()), JSON, (b"x-amzn-requestid", request_id.encode())]
    return Response(err.status, headers, dumps(body))


def url_error(status: int, message: str) -> Response:
    return Response(status, [JSON], dumps({"Message": message}))


class UrlAuthError(Exception):
    """A request to an ``AWS_IAM`` function URL refused before the function runs.

    ``code`` goes to ``x-amzn-ErrorType``; the body is ``{member: message}``: AWS's signature
    checks answer under ``message`` (as its JSON services do), the URL's own authorization layer
    under ``Message`` (``None`` for an unknown URL: ``{"Message":null}``). Raised by
    ``edge/sigv4.py`` and ``edge/function_urls.py``, rendered by ``url_auth_error`` only.
    """

    def __init__(self, code: str, message: str | None, member: str = "message") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.member = member


def url_auth_error(err: UrlAuthError) -> Response:
    headers = [(b"x-amzn-errortype", err.code.encode()), JSON, (b"x-amzn-requestid", str(uuid.uuid4()).encode())]
    return Response(403, headers, dumps({err.member: err.message}))


def internal_error(what: str, exc: BaseException) -> Response:
    """A bug of ours while serving ``what``: logged with its trace, answered as a ServiceException."""
    log.error("internal error in %s", what, exc_info=exc)
    return api_error(ServiceError(f"Internal error in {what}: {type(exc).__name__}: {exc}"))
