"""Signature Version 4 of requests to function URLs whose AuthType is ``AWS_IAM``.

Docs: urls-invocation.html ("If your function URL uses the AWS_IAM auth type, you must sign each
HTTP request using AWS Signature Version 4 ... Lambda processes the request only if the
signatures match") and reference_sigv.html / reference_sigv-create-signed-request.html (the
canonical request, the string to sign, the signing key). Both forms are verified: the
``Authorization`` header and the presigned query string (``X-Amz-Algorithm``, ``X-Amz-Credential``,
``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``,
``X-Amz-Security-Token``). The scope must name the URL's region and the service ``lambda``.

Parity details, each from AWS's documents or its recorded answers:

- A request must reach AWS within five minutes of its ``X-Amz-Date`` (reference_sigv.html,
  "Protect against replay attacks"; the knowledge-center article lambda-sdk-signature shows the
  wording: ``Signature expired: <date> is now earlier than <now - 5 min> (<now> - 5 min.)``).
  A presigned request is good for ``X-Amz-Expires`` seconds (at most a week) after its date.
- The payload hash is always computed from the body: "Lambda doesn't support unsigned payloads"
  (CloudFront's private-content-restricting-access-to-lambda.html), so ``UNSIGNED-PAYLOAD`` or a
  wrong ``x-amz-content-sha256`` fails as any other signature mismatch.
- The path is canonicalized as for every service but S3: dot segments and empty segments
  removed, then URI-encoded once more (the client encodes the already encoded path), exactly as
  botocore and the other SDKs sign it. Query parameters are decoded, encoded with RFC 3986's
  unreserved set and sorted; ``X-Amz-Signature`` is not part of a presigned request's canonical
  query.
- Refusals are ``UrlAuthError`` (rendered by ``edge/errors.py``): ``IncompleteSignatureException``
  for an unparseable signature, ``InvalidSignatureException`` for a wrong scope, date or
  signature, ``UnrecognizedClientException`` for an unknown access key or a session token that
  is not the key's, all 403 with a lower-case ``message`` as the Lambda front end answers them.

Which secret belongs to an access key is asked of a ``KeyLookup`` (filled by the app factory,
``edge/credentials.py`` for the keys this server hands out). A key without a session token of
its own (a long-term key, such as LocalStack's ``test``) accepts any ``X-Amz-Security-Token``: the
clients of a local server often carry one from their environment.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping
from urllib.parse import quote, unquote_to_bytes

from botocore.utils import normalize_url_path

from locallambda.edge.errors import UrlAuthError

__all__ = [
    "ALGORITHM",
    "MAX_SKEW",
    "Caller",
    "KeyLookup",
    "SignedRequest",
    "SigningKey",
    "canonical_request",
    "is_signed",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "lambda"
TERMINATOR = "aws4_request"
MAX_SKEW = dt.timedelta(minutes=5)
MAX_EXPIRES_S = 7 * 24 * 3600  # a presigned request lives at most a week
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_UNRESERVED = "-_.~"

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_UNKNOWN_KEY = "The security token included in the request is invalid."
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """Who signed a request, as ``requestContext.authorizer.iam`` of the event names them."""

    access_key: str
    account_id: str
    caller_id: str
    user_arn: str
    user_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class SigningKey:
    """The secret of an access key and whose it is; ``session_token`` is the token its
    temporary credentials came with (``None``: a long-term key)."""

    secret_key: str
    caller: Caller
    session_token: str | None = None


# Access key → its secret and owner; None for a key this server does not know.
KeyLookup = Callable[[str], SigningKey | None]


@dataclasses.dataclass(frozen=True, slots=True)
class SignedRequest:
    """One HTTP request as received: the raw (still percent-encoded) path and query string,
    lower-case header names, the body."""

    method: str
    raw_path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class _Signature:
    access_key: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    token: str | None
    expires_s: int | None  # presigned only


def _error(code: str, message: str) -> UrlAuthError:
    return UrlAuthError(code, message)


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in query_string.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            pairs.append((key, value))
    return pairs


def _decoded(component: str) -> str:
    return unquote_to_bytes(component.encode("latin-1")).decode("utf-8", "replace")


def is_signed(request: SignedRequest) -> bool:
    """Whether the request carries a signature at all (header or query string)."""
    if "authorization" in request.headers:
        return True
    return any(_decoded(k) == "X-Amz-Algorithm" for k, _ in _query_pairs(request.query_string))


def _parse_header(authorization: str, headers: Mapping[str, str]) -> _Signature:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in (p.strip() for p in rest.split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq:
            hashed = base64.b64encode(hashlib.sha256(authorization.encode("latin-1")).digest()).decode()
            raise _error(
                "IncompleteSignatureException",
                "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with "
                f"SHA-256 and encoded with Base64): '{hashed}'.",
            )
        fields[name.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in fields or algorithm != ALGORITHM
    ]
    amz_date = headers.get("x-amz-date", "")
    if not amz_date:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise _error("IncompleteSignatureException", " ".join(missing) + f" Authorization={authorization}")
    return _signature(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        amz_date,
        headers.get("x-amz-security-token"),
        None,
    )


def _parse_query(query_string: str) -> _Signature:
    params = {_decoded(k): _decoded(v) for k, v in _query_pairs(query_string)}
    missing = [name for name in _QUERY_PARAMS if not params.get(name)]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise _error(
            "IncompleteSignatureException",
            f"AWS query-string parameters must include {listed}. Re-examine the query-string parameters.",
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _error(
            "IncompleteSignatureException",
            f"X-Amz-Algorithm only supports '{ALGORITHM}'. Re-examine the query-string parameters.",
        )
    raw_expires = params.get("X-Amz-Expires", str(MAX_EXPIRES_S))
    if not raw_expires.isdigit() or not 1 <= int(raw_expires) <= MAX_EXPIRES_S:
        raise _error(
            "InvalidSignatureException",
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_S}, got '{raw_expires}'.",
        )
    return _signature(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        params.get("X-Amz-Security-Token"),
        int(raw_expires),
    )


def _signature(
    credential: str, signed_headers: str, signature: str, amz_date: str, token: str | None, expires_s: int | None
) -> _Signature:
    parts = credential.split("/")
    if len(parts) != 5:
        raise _error(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'",
        )
    names = tuple(h.strip().lower() for h in signed_headers.split(";") if h.strip())
    return _Signature(parts[0], parts[1], parts[2], parts[3], parts[4], names, signature, amz_date, token, expires_s)


def _check_time(sig: _Signature, now: dt.datetime) -> None:
    try:
        signed_at = dt.datetime.strptime(sig.amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        raise _error(
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{sig.amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None
    stamp = now.strftime(_AMZ_DATE)
    if signed_at > now + MAX_SKEW:
        later = (now + MAX_SKEW).strftime(_AMZ_DATE)
        raise _error(
            "InvalidSignatureException",
            f"Signature not yet current: {sig.amz_date} is still later than {later} ({stamp} + 5 min.)",
        )
    if sig.expires_s is None:
        if signed_at < now - MAX_SKEW:
            earlier = (now - MAX_SKEW).strftime(_AMZ_DATE)
            raise _error(
                "InvalidSignatureException",
                f"Signature expired: {sig.amz_date} is now earlier than {earlier} ({stamp} - 5 min.)",
            )
    elif signed_at + dt.timedelta(seconds=sig.expires_s) < now:
        earlier = (now - dt.timedelta(seconds=sig.expires_s)).strftime(_AMZ_DATE)
        raise _error(
            "InvalidSignatureException",
            f"Signature expired: {sig.amz_date} is now earlier than {earlier} ({stamp} - {sig.expires_s} sec.)",
        )


def _check_scope(sig: _Signature, region: str) -> None:
    if sig.scope_date != sig.amz_date[:8]:
        raise _error(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{sig.scope_date}' != '{sig.amz_date[:8]}', from ISO-8601 string '{sig.amz_date}'.",
        )
    if sig.region != region:
        raise _error("InvalidSignatureException", "Credential should be scoped to a valid region. ")
    if sig.service != SERVICE:
        raise _error("InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if sig.terminator != TERMINATOR:
        raise _error(
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{sig.terminator}'. ",
        )
    if "host" not in sig.signed_headers:
        raise _error(
            "IncompleteSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...], *, presigned: bool) -> bytes:
    """The canonical request (as bytes: header values are the bytes received)."""
    path = quote(normalize_url_path(request.raw_path).encode("latin-1"), safe="/~")
    pairs = []
    for key, value in _query_pairs(request.query_string):
        name = unquote_to_bytes(key.encode("latin-1"))
        if presigned and name == b"X-Amz-Signature":
            continue
        pairs.append(
            (quote(name, safe=_UNRESERVED), quote(unquote_to_bytes(value.encode("latin-1")), safe=_UNRESERVED))
        )
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    header_lines = b"".join(
        name.encode() + b":" + b" ".join(request.headers.get(name, "").encode("latin-1").split()) + b"\n"
        for name in sorted(signed_headers)
    )
    return b"\n".join(
        [
            request.method.upper().encode(),
            path.encode(),
            query.encode(),
            header_lines,
            ";".join(sorted(signed_headers)).encode(),
            hashlib.sha256(request.body).hexdigest().encode(),
        ]
    )


def _signature_of(secret: str, sig: _Signature, canonical: bytes) -> str:
    scope = f"{sig.scope_date}/{sig.region}/{sig.service}/{sig.terminator}"
    to_sign = f"{ALGORITHM}\n{sig.amz_date}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}"
    key = f"AWS4{secret}".encode()
    for part in (sig.scope_date, sig.region, sig.service, sig.terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(request: SignedRequest, *, region: str, keys: KeyLookup, now: dt.datetime | None = None) -> Caller:
    """The caller whose valid signature ``request`` carries for ``region`` and ``lambda``.

    Raises ``UrlAuthError`` (see the module's docstring for which); call it only for requests
    that ``is_signed`` (an unsigned request is the URL's own refusal, not a signature error).
    """
    now = now or dt.datetime.now(dt.UTC)
    authorization = request.headers.get("authorization")
    if authorization is not None:
        sig = _parse_header(authorization, request.headers)
    else:
        sig = _parse_query(request.query_string)
    _check_time(sig, now)
    _check_scope(sig, region)
    key = keys(sig.access_key)
    if key is None or (key.session_token is not None and sig.token != key.session_token):
        raise _error("UnrecognizedClientException", _UNKNOWN_KEY)
    expected = _signature_of(
        key.secret_key, sig, canonical_request(request, sig.signed_headers, presigned=authorization is None)
    )
    if not hmac.compare_digest(expected, sig.signature.lower()):
        raise _error("InvalidSignatureException", _MISMATCH)
    return key.caller
