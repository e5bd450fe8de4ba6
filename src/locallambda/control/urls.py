"""Function URL configurations: the config API (serving requests on the URLs lives elsewhere).

A function has at most one URL per qualifier: unqualified (``$LATEST``) or an alias; AWS refuses
version numbers and an explicit ``$LATEST`` through the Qualifier's model pattern, which the
generic validator applies. Configurations are kept in ``record.url_configs[qualifier or
"$LATEST"]`` in wire form plus ``_UrlId`` (the URL's subdomain) and without ``InvokeMode`` until
a request sets one: AWS echoes InvokeMode from Create/Update only once it was set, while Get and
List always show it (``BUFFERED`` by default), as LocalStack's parity snapshots record.

URLs have LocalStack's shape, ``http://<url-id>.lambda-url.<region>.<host>:<port>/``: ``<host>``
and ``<port>`` come from ``LOCALSTACK_HOST`` as in LocalStack (its configuration docs: the
``<hostname>:<port>`` "interpolated into URLs and addresses that are returned"), the host
``localhost.localstack.cloud`` and the port the client reached us on when it does not say, so a
URL read back works for the client that reads it. ``LOCALSTACK_HOST=localhost`` gives URLs that
resolve with no DNS at all (``<url-id>.lambda-url.<region>.localhost:<port>``: curl, browsers and
systemd-resolved map every ``*.localhost`` name to loopback); ``*.localhost.localstack.cloud``
needs a DNS answer (public DNS maps it to 127.0.0.1), or ``curl --resolve``/a Host header
offline. The url-id is 32 lower-case alphanumerics derived from account, region, function and
qualifier, so recreating a URL gives the same one; LocalStack's ``_custom_id_`` function tag
picks a readable id instead, read once when the URL is created (a later tag change leaves the
URL as it is, as in LocalStack).

``UrlIndex`` finds the configuration of a URL id without walking every function: it is built
from the stored functions once, told of every created and deleted configuration here, and of
functions deleted or changed (an alias deleted with its URL) through the plane's change
listeners. A hit is checked against the function's configuration, so an entry left stale by a
path that did not tell it answers nothing rather than the wrong function.

AWS words "not found" differently per operation: Create, Update and List say "Function does not
exist"; Get and Delete say "The resource you requested does not exist." (for a missing function
as well as a missing configuration).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.errors import ResourceConflictError, ResourceNotFoundError
from locallambda.model.clock import iso_micros
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import Change, FunctionRecord, FunctionRegistry

__all__ = ["CUSTOM_ID_TAG", "URL_DOMAIN", "UrlIndex", "UrlTarget", "UrlsApi", "function_url", "url_id"]

URL_DOMAIN = "localhost.localstack.cloud"
# LocalStack's tag for a chosen URL subdomain (``<value>`` or ``<value>-<alias>``).
CUSTOM_ID_TAG = "_custom_id_"
_CUSTOM_ID = re.compile(r"[A-Za-z]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

_FUNCTION_MISSING = "Function does not exist"
_RESOURCE_MISSING = "The resource you requested does not exist."


def url_id(account_id: str, region: str, function_name: str, qualifier: str | None) -> str:
    """The 32-character ``[a-z0-9]`` subdomain of a function URL, stable per function and qualifier."""
    seed = f"{account_id}:{region}:{function_name}:{qualifier or LATEST}".encode()
    digest = int.from_bytes(hashlib.sha256(seed).digest(), "big")
    chars = []
    for _ in range(32):
        digest, n = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[n])
    return "".join(chars)


def function_url(url_id_: str, region: str, port: int, domain: str = URL_DOMAIN) -> str:
    return f"http://{url_id_}.lambda-url.{region}.{domain or URL_DOMAIN}:{port}/"


@dataclasses.dataclass(frozen=True, slots=True)
class UrlTarget:
    """What a URL id names: the function, the qualifier (``None``: unqualified), the configuration."""

    record: FunctionRecord
    qualifier: str | None
    config: dict[str, Any]


# How many deleted URL ids are remembered (AWS answers a URL that existed differently from one
# that never did).
_RETIRED_KEPT = 10_000


class UrlIndex:
    """URL id (case-insensitive: host names are) → the function and qualifier that own it."""

    def __init__(self, functions: FunctionRegistry) -> None:
        self._functions = functions
        self._by_id: dict[str, tuple[str, str, str]] = {}  # id → (region, function name, config key)
        self._by_function: dict[str, set[str]] = {}  # record key → its ids
        self._retired: dict[str, None] = {}  # ids of deleted URLs, oldest first
        for record in functions.all():
            self.sync(record)

    def find(self, url_id_: str, region: str) -> UrlTarget | None:
        """The URL of ``url_id_`` in ``region``; ``None`` when there is none."""
        key = url_id_.lower()
        entry = self._by_id.get(key)
        if entry is None or entry[0] != region:
            return None
        record = self._functions.get(entry[0], entry[1])
        cfg = record.url_configs.get(entry[2]) if record is not None else None
        if record is None or cfg is None or str(cfg.get("_UrlId", "")).lower() != key:
            self._forget(key)  # stale: its function or configuration went without telling
            return None
        return UrlTarget(record, None if entry[2] == LATEST else entry[2], cfg)

    def existed(self, url_id_: str) -> bool:
        """Whether a URL of this id was deleted (and none has it now)."""
        return url_id_.lower() in self._retired

    def sync(self, record: FunctionRecord) -> None:
        """Index exactly the URLs ``record`` has now."""
        present = {str(cfg["_UrlId"]).lower(): key for key, cfg in record.url_configs.items() if "_UrlId" in cfg}
        for gone in self._by_function.get(record.key, set()) - present.keys():
            self._forget(gone, record.key)
        for key, qualifier in present.items():
            self._by_id[key] = (record.region, record.name, qualifier)
            self._retired.pop(key, None)
        if present:
            self._by_function[record.key] = set(present)
        else:
            self._by_function.pop(record.key, None)

    def drop(self, record: FunctionRecord) -> None:
        """Forget every URL of ``record`` (deleted)."""
        for key in self._by_function.pop(record.key, set()):
            self._forget(key, record.key)

    def changed(self, record: FunctionRecord, change: Change) -> None:
        """The plane's change listener."""
        if change is Change.DELETED:
            self.drop(record)
        else:
            self.sync(record)

    def _forget(self, key: str, owner: str | None = None) -> None:
        """Drop ``key`` (only if ``owner``'s, when given: a custom id may have moved to another
        function) and remember it was deleted."""
        entry = self._by_id.get(key)
        if entry is None or (owner is not None and f"{entry[0]}/{entry[1]}" != owner):
            return
        del self._by_id[key]
        self._by_function.get(f"{entry[0]}/{entry[1]}", set()).discard(key)
        self._retired[key] = None
        while len(self._retired) > _RETIRED_KEPT:
            del self._retired[next(iter(self._retired))]


def _request_port(headers: Mapping[str, str], default: int) -> int:
    """The port in the request's Host header (``host:port`` or ``[v6]:port``), else ``default``."""
    host = (headers.get("host") or "").rsplit("]", 1)[-1]
    _, sep, port = host.rpartition(":")
    return int(port) if sep and port.isdigit() else default


class UrlsApi:
    """Handlers for the five FunctionUrlConfig operations."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.index = UrlIndex(plane.functions)
        plane.listeners.append(self.index.changed)

    # -- helpers --------------------------------------------------------------------------

    def _lookup(self, ctx: RequestContext, p: dict[str, Any], missing: str) -> tuple[FunctionRecord, FunctionRef]:
        """The function and qualifier (Qualifier parameter or the name's suffix) a request names.

        Raises ``InvalidParameterValueError`` when both are given and differ,
        ``ResourceNotFoundError`` with ``missing`` when the function does not exist.
        """
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        if ref.qualifier == LATEST:
            ref = FunctionRef(name=ref.name, qualifier=None, region=ref.region, account_id=ref.account_id)
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(missing)
        return record, ref

    def _view(
        self, ctx: RequestContext, record: FunctionRecord, cfg: dict[str, Any], members: tuple[str, ...]
    ) -> dict[str, Any]:
        settings = self.plane.settings
        port = settings.localstack_port or _request_port(ctx.headers, settings.port)
        out: dict[str, Any] = {
            "FunctionUrl": function_url(cfg["_UrlId"], record.region, port, settings.localstack_host)
        }
        for key in members:
            if key in cfg:
                out[key] = cfg[key]
        return out

    # -- operations -----------------------------------------------------------------------

    @operation("CreateFunctionUrlConfig")
    async def create_function_url_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` (function or alias missing) and
        ``ResourceConflictError`` (a URL exists for this qualifier)."""
        record, ref = self._lookup(ctx, p, _FUNCTION_MISSING)
        key = ref.qualifier or LATEST
        existing = record.url_configs.get(key)
        if existing is not None:
            raise ResourceConflictError(
                f"Failed to create function url config for [functionArn = {existing['FunctionArn']}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        if ref.qualifier is not None and ref.qualifier not in record.aliases:
            raise ResourceNotFoundError(_FUNCTION_MISSING)
        now = iso_micros()
        cfg: dict[str, Any] = {
            "_UrlId": self._new_url_id(record, ref.qualifier),
            "FunctionArn": ref.arn(),
            "AuthType": p["AuthType"],
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if p.get("Cors") is not None:
            cfg["Cors"] = p["Cors"]
        if p.get("InvokeMode"):
            cfg["InvokeMode"] = p["InvokeMode"]
        record.url_configs[key] = cfg
        self.plane.functions.save(record)
        self.index.sync(record)
        # The create answer has no LastModifiedTime (AWS's response shape lacks it).
        return self._view(ctx, record, cfg, ("FunctionArn", "AuthType", "Cors", "CreationTime", "InvokeMode"))

    @staticmethod
    def _new_url_id(record: FunctionRecord, qualifier: str | None) -> str:
        custom = record.tags.get(CUSTOM_ID_TAG)
        if custom:
            candidate = f"{custom}-{qualifier}" if qualifier else custom
            if _CUSTOM_ID.fullmatch(candidate):
                return candidate
        return url_id(record.account_id, record.region, record.name, qualifier)

    @operation("GetFunctionUrlConfig")
    async def get_function_url_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` when the function or its URL does not exist."""
        record, ref = self._lookup(ctx, p, _RESOURCE_MISSING)
        cfg = record.url_configs.get(ref.qualifier or LATEST)
        if cfg is None:
            raise ResourceNotFoundError(_RESOURCE_MISSING)
        return self._full_view(ctx, record, cfg)

    def _full_view(self, ctx: RequestContext, record: FunctionRecord, cfg: dict[str, Any]) -> dict[str, Any]:
        out = self._view(ctx, record, cfg, ("FunctionArn", "AuthType", "Cors", "CreationTime", "LastModifiedTime"))
        out["InvokeMode"] = cfg.get("InvokeMode", "BUFFERED")
        return out

    @operation("UpdateFunctionUrlConfig")
    async def update_function_url_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Changes AuthType, Cors and InvokeMode where given (Cors is replaced as a whole).

        Raises ``ResourceNotFoundError`` when the function or alias ("Function does not exist")
        or the URL ("The resource you requested does not exist.") is missing.
        """
        record, ref = self._lookup(ctx, p, _FUNCTION_MISSING)
        if ref.qualifier is not None and ref.qualifier not in record.aliases:
            raise ResourceNotFoundError(_FUNCTION_MISSING)
        key = ref.qualifier or LATEST
        cfg = record.url_configs.get(key)
        if cfg is None:
            raise ResourceNotFoundError(_RESOURCE_MISSING)
        cfg = dict(cfg)
        for member in ("AuthType", "Cors", "InvokeMode"):
            if p.get(member) is not None:
                cfg[member] = p[member]
        cfg["LastModifiedTime"] = iso_micros()
        record.url_configs[key] = cfg
        self.plane.functions.save(record)
        return self._view(
            ctx, record, cfg, ("FunctionArn", "AuthType", "Cors", "CreationTime", "LastModifiedTime", "InvokeMode")
        )

    @operation("DeleteFunctionUrlConfig")
    async def delete_function_url_config(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        """Deletes the URL of one qualifier only (unqualified leaves the aliases' URLs alone).

        Raises ``ResourceNotFoundError`` when the function or its URL does not exist.
        """
        record, ref = self._lookup(ctx, p, _RESOURCE_MISSING)
        if record.url_configs.pop(ref.qualifier or LATEST, None) is None:
            raise ResourceNotFoundError(_RESOURCE_MISSING)
        self.plane.functions.save(record)
        self.index.sync(record)

    @operation("ListFunctionUrlConfigs")
    async def list_function_url_configs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Every URL of the function (a qualifier in the name is ignored), by FunctionArn.

        Raises ``ResourceNotFoundError`` ("Function does not exist").
        """
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(_FUNCTION_MISSING)
        views = (self._full_view(ctx, record, c) for c in record.url_configs.values())
        items = sorted(views, key=lambda c: c["FunctionArn"])
        page, marker = paginate(items, p.get("Marker"), p.get("MaxItems"), key=lambda c: c["FunctionArn"])
        out: dict[str, Any] = {"FunctionUrlConfigs": page}
        if marker:
            out["NextMarker"] = marker
        return out
