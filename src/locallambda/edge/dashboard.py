"""The resource browser (issue 12): the dashboard's static files and the few JSON views it needs
that no AWS API answers. Served on the server's own port, so the page is same-origin with the
Lambda API it calls (no CORS involved).

- ``GET /_dashboard`` → 308 to ``/_dashboard/``; ``GET /_dashboard/`` → ``index.html``;
  ``GET /_dashboard/<file>`` → the file of ``locallambda/dashboard/`` (read once, at start),
  with an ``ETag`` and ``Cache-Control: no-cache`` (a reload revalidates: 304 when unchanged).
  An unknown file: 404 ``{"message": ...}``.
- ``GET /_dashboard/api/server``: ``{"Version", "Region", "AccountId", "Endpoint", "Executor",
  "Environments": [...]}``, each environment ``{"Id", "FunctionName", "Region", "Version",
  "State", "Executor", "MemorySize", "AgeSeconds", "IdleSeconds", "Invocations", "Provisioned",
  "InitDurationMs"}`` (``IdleSeconds`` null unless idle) — the executor in use and the live
  environments, which the health endpoint only counts.
- ``GET /_dashboard/api/functions?region=<r>``: ``{"Functions": [...]}`` sorted by name, each
  ``{"FunctionName", "Runtime", "PackageType", "State", "StateReason", "LastUpdateStatus",
  "LastModified", "MemorySize", "CodeSize", "Description", "Versions", "Aliases",
  "Environments"}``. One request for the whole list with its states: AWS's ListFunctions leaves
  ``State`` out of its configurations (and pages them by 50).
- ``GET /_dashboard/api/resources?region=<r>``: the neighbours' resources
  (``edge/dashboard_resources.py``).

The page itself calls the Lambda API as any client does: unsigned from loopback (the server's
default region), or for another region chosen in the page with an ``Authorization`` header whose
SigV4 scope names it (``protocol/dispatch.py`` reads the region there; no signature is checked).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from locallambda import __version__
from locallambda.edge.app import InternalRoute, json_response
from locallambda.edge.dashboard_resources import list_resources
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.model.lifecycle import EnvState
from locallambda.neighbours.embedded import Neighbours
from locallambda.protocol.codec import Response
from locallambda.settings import Settings
from locallambda.store.functions import FunctionRecord, FunctionRegistry

__all__ = ["Asset", "dashboard_routes", "environment_view", "function_row", "load_assets"]

_TYPES = {
    "html": b"text/html; charset=utf-8",
    "js": b"text/javascript; charset=utf-8",
    "css": b"text/css; charset=utf-8",
    "png": b"image/png",
    "svg": b"image/svg+xml",
}
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")


class Asset:
    """One file of the dashboard: its bytes, content type and entity tag."""

    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: bytes) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'


def load_assets() -> dict[str, Asset]:
    """The files of ``locallambda/dashboard/`` by name (the package data)."""
    assets: dict[str, Asset] = {}
    folder = resources.files("locallambda") / "dashboard"
    for item in folder.iterdir():
        suffix = item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in _TYPES:
            assets[item.name] = Asset(item.read_bytes(), _TYPES[suffix])
    return assets


def _serve(asset: Asset, headers: Mapping[str, str]) -> Response:
    common = [(b"etag", asset.etag), (b"cache-control", b"no-cache")]
    if headers.get("if-none-match") == asset.etag.decode():
        return Response(304, common, b"")
    return Response(200, [(b"content-type", asset.content_type), *common], asset.body)


def environment_view(env: ExecutionEnvironment, now: float) -> dict[str, Any]:
    """A live environment as ``/_dashboard/api/server`` lists it (``now``: the clock's
    monotonic time, the one ``created`` and ``last_used`` are on)."""
    spec = env.spec
    return {
        "Id": env.id,
        "FunctionName": spec.name,
        "Region": spec.region,
        "Version": spec.version,
        "State": env.state.value,
        "Executor": env.executor.name,
        "MemorySize": spec.memory_mb,
        "AgeSeconds": round(now - env.created, 3),
        "IdleSeconds": round(now - env.last_used, 3) if env.state is EnvState.IDLE else None,
        "Invocations": env.invocations,
        "Provisioned": env.provisioned,
        "InitDurationMs": None if env.init_duration_ms is None else round(env.init_duration_ms, 3),
    }


def function_row(record: FunctionRecord, environments: int) -> dict[str, Any]:
    """A function as the list shows it: ``$LATEST``'s configuration, with its state."""
    config = record.latest.config
    return {
        "FunctionName": record.name,
        "Runtime": config.get("Runtime"),
        "PackageType": config.get("PackageType", "Zip"),
        "State": config.get("State"),
        "StateReason": config.get("StateReason"),
        "LastUpdateStatus": config.get("LastUpdateStatus"),
        "LastModified": config.get("LastModified"),
        "MemorySize": config.get("MemorySize"),
        "CodeSize": config.get("CodeSize"),
        "Description": config.get("Description", ""),
        "Versions": len(record.versions),
        "Aliases": len(record.aliases),
        "Environments": environments,
    }


def dashboard_routes(
    settings: Settings,
    functions: FunctionRegistry,
    environments: Callable[[], Iterable[ExecutionEnvironment]],
    monotonic: Callable[[], float],
    executor: str,
    neighbours: Neighbours | None,
) -> list[InternalRoute]:
    """The dashboard's routes: its files, and its views over ``functions``, the live
    ``environments`` (on the ``monotonic`` clock), the ``executor`` in use and ``neighbours``."""
    assets = load_assets()
    host = urlsplit(settings.endpoint_url).netloc

    def region_of(query: Mapping[str, list[str]]) -> str | None:
        region = query.get("region", [settings.region])[0]
        return region if _REGION.fullmatch(region) else None

    def live() -> list[ExecutionEnvironment]:
        return [env for env in environments() if env.state is not EnvState.STOPPED]

    async def moved(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        return Response(308, [(b"location", b"/_dashboard/")], b"")

    async def asset(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        found = assets.get(m.group(1) or "index.html")
        if found is None:
            return json_response(404, {"message": f"No dashboard file {m.group(1)}"})
        return _serve(found, headers)

    async def server(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        now = monotonic()
        envs = sorted(live(), key=lambda env: (env.spec.key, env.created))
        return json_response(
            200,
            {
                "Version": __version__,
                "Region": settings.region,
                "AccountId": settings.account_id,
                "Endpoint": settings.endpoint_url,
                "Executor": executor,
                "Environments": [environment_view(env, now) for env in envs],
            },
        )

    async def function_list(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        region = region_of(query)
        if region is None:
            return json_response(400, {"message": "region must be a region name, like us-east-1"})
        counts: dict[str, int] = {}
        for env in live():
            counts[env.spec.key] = counts.get(env.spec.key, 0) + 1
        records = sorted(functions.in_region(region), key=lambda r: r.name)
        rows = [function_row(r, counts.get(r.key, 0)) for r in records]
        return json_response(200, {"Functions": rows})

    async def resource_list(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        region = region_of(query)
        if region is None:
            return json_response(400, {"message": "region must be a region name, like us-east-1"})
        return json_response(200, await list_resources(neighbours, region, host))

    return [
        InternalRoute("GET", r"/_dashboard", moved),
        InternalRoute("GET", r"/_dashboard/api/server", server),
        InternalRoute("GET", r"/_dashboard/api/functions", function_list),
        InternalRoute("GET", r"/_dashboard/api/resources", resource_list),
        InternalRoute("GET", r"/_dashboard/([A-Za-z0-9_-]+\.[a-z]+)?", asset),
    ]
