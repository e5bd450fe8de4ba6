"""Raw HTTP against a test server, for requests boto3 refuses to send (wrong types, broken JSON,
odd bytes), and the checks every abuse test makes of an answer."""

from __future__ import annotations

import dataclasses
import http.client
import json
from typing import Any

__all__ = ["Answer", "assert_aws_error", "send"]


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        doc = self.json()
        return str(doc.get("message", doc.get("Message")))


def send(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One request on a fresh connection; ``path`` is sent as is (already percent-encoded)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        sent = {"content-type": "application/json", **(headers or {})}
        for name, value in sent.items():
            conn.putheader(name, value)
        conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def assert_aws_error(answer: Answer, *, allow_not_implemented: bool = False) -> None:
    """A 4xx answer (or 501 for an operation we do not implement) in AWS's error shape: the code in
    ``x-amzn-ErrorType``, a JSON body carrying a message."""
    assert answer.status < 500 or (allow_not_implemented and answer.status == 501), (
        answer.status,
        answer.body[:500],
    )
    assert answer.status >= 400, (answer.status, answer.body[:300])
    assert answer.error_type, (answer.status, answer.headers, answer.body[:300])
    doc = answer.json()
    assert isinstance(doc, dict), answer.body[:300]
    assert isinstance(doc.get("message", doc.get("Message")), str), answer.body[:300]
