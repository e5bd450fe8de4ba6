"""A running server as the CLI reaches it: the Lambda API through botocore, internal endpoints
through plain HTTP, every failure one ``CliError``.

The endpoint is ``--endpoint-url``, else ``AWS_ENDPOINT_URL`` (``settings.client_endpoint_url``),
else ``http://127.0.0.1:4566``. Credentials are the caller's when botocore finds any, otherwise
``test``/``test`` (any key is accepted by this server, as by LocalStack).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["CliError", "Remote"]


class CliError(Exception):
    """A failure the CLI reports in one line on stderr, exiting with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class Remote:
    """The server at ``url`` in ``region``."""

    def __init__(self, url: str, region: str | None = None) -> None:
        """``region``: else the one botocore is configured with (``AWS_DEFAULT_REGION``, the
        profile), else ``us-east-1``."""
        import botocore.session

        self.url = url.rstrip("/")
        self._session = botocore.session.get_session()
        self.region = region or self._session.get_config_variable("region") or "us-east-1"
        self._client: Any = None

    # -- internal endpoints ---------------------------------------------------------------------

    def get_json(self, path: str, query: Mapping[str, str | int] | None = None, *, timeout: float = 30) -> Any:
        """``GET path?query`` answered as JSON. Raises ``CliError`` (unreachable, not 200)."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        return self._request("GET", path, None, timeout)

    def post_json(self, path: str, body: Any = None, *, timeout: float = 930) -> Any:
        """``POST path`` with a JSON body (default: none), answered as JSON. Raises ``CliError``.
        The default timeout outlasts a function's longest (900 s)."""
        return self._request("POST", path, body, timeout)

    def _request(self, method: str, path: str, body: Any, timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            raise CliError(f"{method} {path} answered {exc.code}: {_message(text)}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise CliError(f"cannot reach {self.url}: {_reason(exc)} (is `locallambda start` running?)") from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise CliError(f"{method} {path} answered something that is not JSON: {raw[:200]!r}") from None

    # -- the Lambda API -------------------------------------------------------------------------

    @property
    def lambda_(self) -> Any:
        """A botocore Lambda client bound to this server (no retries: the first answer counts)."""
        if self._client is None:
            from botocore.config import Config

            session = self._session
            keys: dict[str, str] = {}
            if session.get_credentials() is None:
                keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
            self._client = session.create_client(
                "lambda",
                endpoint_url=self.url,
                region_name=self.region,
                config=Config(retries={"max_attempts": 1}, read_timeout=930, connect_timeout=5),
                **keys,
            )
        return self._client

    @contextmanager
    def api(self) -> Iterator[Any]:
        """The Lambda client; botocore's errors inside the block become ``CliError``."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            yield self.lambda_
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise CliError(f"{err.get('Code', 'Error')}: {err.get('Message', '')}") from None
        except EndpointConnectionError:
            raise CliError(f"cannot reach {self.url} (is `locallambda start` running?)") from None
        except BotoCoreError as exc:
            raise CliError(str(exc)) from None

    def paginate(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list operation (``ListFunctions`` → ``Functions``)."""
        with self.api() as client:
            items: list[dict[str, Any]] = []
            for page in client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
            return items


def _message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(no body)"
    if isinstance(body, dict):
        for key in ("message", "Message", "errorMessage"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return text.strip()[:300]


def _reason(exc: OSError | urllib.error.URLError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc)
