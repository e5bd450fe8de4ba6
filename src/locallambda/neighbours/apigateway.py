"""API Gateway (REST APIs) made to import what AWS imports: the ``on_load`` installer.

moto keeps the REST APIs (resources, methods, integrations, deployments, stages); what it lacks
for an API that fronts this server's functions is added here, once moto is loaded:

- OpenAPI bodies as AWS imports them (import-api.html, api-gateway-swagger-extensions.html):
  Swagger 2.0 as well as OpenAPI 3 (moto refuses 2.0, the form SAM writes); the
  ``x-amazon-apigateway-any-method`` key is the ``ANY`` method; keys of a path item that are
  not methods (``parameters``, ``summary``, ``servers``) are not methods; an integration's
  ``type`` is case-insensitive (SAM writes ``aws_proxy``); ``x-amazon-apigateway-binary-media-types``
  sets the API's binary media types; an ``info`` without ``description`` is allowed.
- ``UpdateRestApi`` adding or removing one binary media type, with AWS's path form
  ``/binaryMediaTypes/image~1png`` (API_UpdateRestApi.html, patch-operations.html: ``~1``
  stands for ``/``); moto took the operation's absent value instead.
- CloudFormation's ``AWS::ApiGateway::RestApi`` (with ``Body``/``BodyS3Location``),
  ``Deployment`` and ``Stage`` (``cfn_apigateway.py``).

Requests to the APIs themselves (``execute-api``) are served by ``execute_api.py``.

This module imports nothing of moto at import time: the app imports it at start.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["install_apigateway", "normalized_body"]

log = logging.getLogger(__name__)

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "any"})
_ANY_KEY = "x-amazon-apigateway-any-method"
_BINARY_KEY = "x-amazon-apigateway-binary-media-types"
_BINARY_PATH = "/binaryMediaTypes/"


def normalized_body(doc: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI/Swagger definition in the shape moto's importer reads (a copy)."""
    fixed = copy.deepcopy(doc)
    if "swagger" in fixed:
        # moto imports OpenAPI 3 only; what it reads of a definition (paths, their methods and
        # x-amazon-apigateway-integration) is written the same way in Swagger 2.0.
        del fixed["swagger"]
        fixed["openapi"] = "3.0.1"
    info = fixed.setdefault("info", {})
    if isinstance(info, dict):
        info.setdefault("title", "")
        info.setdefault("description", "")
    paths = fixed.get("paths")
    if not isinstance(paths, dict):
        fixed["paths"] = {}
        return fixed
    for path, item in list(paths.items()):
        methods: dict[str, Any] = {}
        for key, operation in (item or {}).items():
            method = "any" if key.lower() == _ANY_KEY else key.lower()
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            integration = operation.get("x-amazon-apigateway-integration")
            if isinstance(integration, dict) and isinstance(integration.get("type"), str):
                integration["type"] = integration["type"].upper()
            methods[method] = operation
        paths[path] = methods
    return fixed


def binary_media_types(doc: dict[str, Any]) -> list[str] | None:
    """The definition's ``x-amazon-apigateway-binary-media-types``, if it has them."""
    found = doc.get(_BINARY_KEY)
    return [str(t) for t in found] if isinstance(found, list) else None


def install_apigateway() -> None:
    """Patch moto's API Gateway and register the CloudFormation models (call once, from the
    thread that loads moto, after moto is imported; a second call changes nothing)."""
    from moto.apigateway.models import APIGatewayBackend, RestAPI
    from moto.cloudformation import parsing

    if not getattr(APIGatewayBackend.put_rest_api, "_locallambda", False):
        APIGatewayBackend.put_rest_api = _put_rest_api(APIGatewayBackend.put_rest_api)  # type: ignore[method-assign]
        APIGatewayBackend.import_rest_api = _import_rest_api(APIGatewayBackend.import_rest_api)  # type: ignore[method-assign]
        RestAPI.apply_patch_operations = _patch_operations(RestAPI.apply_patch_operations)  # type: ignore[method-assign]

    # moto's own map is built (and cached) from moto's models before ours are imported.
    model_map = parsing.get_model_map()
    parsing.get_name_type_map()
    from locallambda.neighbours.cfn_apigateway import Deployment, RestApi, Stage

    for model in (RestApi, Deployment, Stage):
        model_map[model.TYPE] = model
    log.info("API Gateway REST APIs import OpenAPI bodies; CloudFormation creates them")


def _marked(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._locallambda = True  # type: ignore[attr-defined]
    return fn


def _put_rest_api(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_rest_api(
        self: Any, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool, mode: str = "merge"
    ) -> Any:
        api = original(self, function_id, normalized_body(api_doc), fail_on_warnings, mode)
        types = binary_media_types(api_doc)
        if types is not None:
            api.binaryMediaTypes = types
        return api

    return _marked(put_rest_api)


def _import_rest_api(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        # the original names the API from info.title and .description (both required there),
        # then calls put_rest_api: the patched one, which reads the binary media types
        return original(self, normalized_body(api_doc), fail_on_warnings)

    return _marked(import_rest_api)


def _patch_operations(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def apply_patch_operations(self: Any, patch_operations: list[dict[str, Any]]) -> None:
        rest: list[dict[str, Any]] = []
        for op in patch_operations:
            path = str(op.get("path", ""))
            if op.get("op") in ("add", "remove") and path.startswith(_BINARY_PATH):
                media_type = path.removeprefix(_BINARY_PATH).replace("~1", "/").replace("~0", "~")
                if op["op"] == "add" and media_type not in self.binaryMediaTypes:
                    self.binaryMediaTypes.append(media_type)
                elif op["op"] == "remove" and media_type in self.binaryMediaTypes:
                    self.binaryMediaTypes.remove(media_type)
            else:
                rest.append(op)
        original(self, rest)

    return _marked(apply_patch_operations)
