"""The /v1 route table: path patterns mapped to handlers that call the resource services."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lorainfra.emulator import deployed_models, deployments, models, shapes, uploads
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import invalid
from lorainfra.emulator.paging import apply_read_mask, page_size_from
from lorainfra.emulator.wire import Rendered, list_page


@dataclass
class Req:
    """What a handler sees of one HTTP request."""

    method: str
    params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    base_url_of: Callable[[], str]  # the request's base URL, worked out only by the handlers that need it

    @property
    def base_url(self) -> str:
        return self.base_url_of()

    def q(self, key: str, default: str = "") -> str:
        if not self.query:  # most requests have no query string
            return default
        snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
        return self.query.get(key, self.query.get(snake, default))

    def flag(self, key: str) -> bool:
        raw = self.q(key, "false").lower()
        if raw not in ("true", "false", "1", "0", ""):
            raise invalid(f"{key}: invalid boolean {raw!r}", field=key)
        return raw in ("true", "1")


Handler = Callable[[Ctx, Req], Any]


def _list_params(req: Req) -> dict[str, Any]:
    return {
        "filter": req.q("filter"),
        "order_by": req.q("orderBy"),
        "page_size": page_size_from(req.q("pageSize")),
        "page_token": req.q("pageToken"),
    }


def _envelope(key: str, result: tuple[list[str], str, int], req: Req) -> Rendered:
    items, token, total = result
    return list_page(key, items, token, total, req.q("readMask"))


def _one(obj: dict[str, Any], req: Req) -> dict[str, Any]:
    return apply_read_mask(obj, req.q("readMask"))


def _p(req: Req) -> tuple[str, str]:
    return req.params["account"], req.params.get("id", "")


ROUTES: list[tuple[str, str, Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES.append((method, pattern, fn))
        return fn

    return deco


A = r"/v1/accounts/(?P<account>[^/:]+)"
ID = r"(?P<id>[^/:]+)"

# --- deployments -------------------------------------------------------------------------------------------


@route("GET", A + "/deployments")
def _list_deployments(ctx: Ctx, req: Req) -> Any:
    result = deployments.list_(ctx, req.params["account"], _list_params(req), req.flag("showDeleted"))
    return _envelope("deployments", result, req)


@route("POST", A + "/deployments")
def _create_deployment(ctx: Ctx, req: Req) -> Any:
    return deployments.create(ctx, req.params["account"], req.body, req.query)


@route("GET", A + "/deployments/" + ID)
def _get_deployment(ctx: Ctx, req: Req) -> Any:
    return _one(deployments.get(ctx, *_p(req)), req)


@route("PATCH", A + "/deployments/" + ID)
def _update_deployment(ctx: Ctx, req: Req) -> Any:
    return deployments.update(ctx, *_p(req), req.body, req.query)


@route("DELETE", A + "/deployments/" + ID)
def _delete_deployment(ctx: Ctx, req: Req) -> Any:
    return deployments.delete(ctx, *_p(req), req.query)


@route("PATCH", A + "/deployments/" + ID + ":scale")
@route("POST", A + "/deployments/" + ID + ":scale")
def _scale_deployment(ctx: Ctx, req: Req) -> Any:
    return deployments.scale(ctx, *_p(req), req.body)


@route("POST", A + "/deployments/" + ID + ":undelete")
def _undelete_deployment(ctx: Ctx, req: Req) -> Any:
    return deployments.undelete(ctx, *_p(req))


# --- deployed models ---------------------------------------------------------------------------------------


@route("GET", A + "/deployedModels")
def _list_deployed(ctx: Ctx, req: Req) -> Any:
    return _envelope(
        "deployedModels", deployed_models.list_(ctx, req.params["account"], _list_params(req)), req
    )


@route("POST", A + "/deployedModels")
def _load(ctx: Ctx, req: Req) -> Any:
    return deployed_models.load(ctx, req.params["account"], req.body, req.flag("replaceMergedAddon"))


@route("GET", A + "/deployedModels/" + ID)
def _get_deployed(ctx: Ctx, req: Req) -> Any:
    return _one(deployed_models.get(ctx, *_p(req)), req)


@route("PATCH", A + "/deployedModels/" + ID)
def _update_deployed(ctx: Ctx, req: Req) -> Any:
    return deployed_models.update(ctx, *_p(req), req.body, req.q("updateMask"))


@route("DELETE", A + "/deployedModels/" + ID)
def _unload(ctx: Ctx, req: Req) -> Any:
    return deployed_models.unload(ctx, *_p(req))


# --- models ------------------------------------------------------------------------------------------------


@route("GET", A + "/models")
def _list_models(ctx: Ctx, req: Req) -> Any:
    return _envelope("models", models.list_(ctx, req.params["account"], _list_params(req)), req)


@route("POST", A + "/models")
def _create_model(ctx: Ctx, req: Req) -> Any:
    return models.create(ctx, req.params["account"], req.body)


@route("GET", A + "/models/" + ID)
def _get_model(ctx: Ctx, req: Req) -> Any:
    return _one(models.get(ctx, *_p(req)), req)


@route("PATCH", A + "/models/" + ID)
def _update_model(ctx: Ctx, req: Req) -> Any:
    return models.update(ctx, *_p(req), req.body, req.q("updateMask"))


@route("DELETE", A + "/models/" + ID)
def _delete_model(ctx: Ctx, req: Req) -> Any:
    return models.delete(ctx, *_p(req))


@route("POST", A + "/models/" + ID + ":getUploadEndpoint")
def _upload_endpoint(ctx: Ctx, req: Req) -> Any:
    return uploads.get_upload_endpoint(ctx, *_p(req), req.body, req.base_url)


@route("GET", A + "/models/" + ID + ":validateUpload")
@route("POST", A + "/models/" + ID + ":validateUpload")
def _validate_upload(ctx: Ctx, req: Req) -> Any:
    return uploads.validate_upload(ctx, *_p(req), req.flag("configOnly"))


@route("GET", A + "/models/" + ID + ":getDownloadEndpoint")
def _download_endpoint(ctx: Ctx, req: Req) -> Any:
    return uploads.get_download_endpoint(ctx, *_p(req), req.base_url)


@route("POST", A + "/models/" + ID + ":prepare")
def _prepare(ctx: Ctx, req: Req) -> Any:
    return models.prepare(ctx, *_p(req), req.body)


# --- deployment shapes -------------------------------------------------------------------------------------

SHAPE = r"/deploymentShapes/(?P<shape>[^/:]+)"


@route("GET", A + "/deploymentShapes")
def _list_shapes(ctx: Ctx, req: Req) -> Any:
    result = shapes.list_shapes(ctx, req.params["account"], _list_params(req), req.q("targetModel") or None)
    return _envelope("deploymentShapes", result, req)


@route("GET", A + SHAPE)
def _get_shape(ctx: Ctx, req: Req) -> Any:
    return _one(shapes.get_shape(ctx, req.params["account"], req.params["shape"]), req)


@route("GET", A + SHAPE + "/versions")
def _list_versions(ctx: Ctx, req: Req) -> Any:
    result = shapes.list_versions(ctx, req.params["account"], req.params["shape"], _list_params(req))
    return _envelope("deploymentShapeVersions", result, req)


@route("GET", A + SHAPE + "/versions/" + ID)
def _get_version(ctx: Ctx, req: Req) -> Any:
    return _one(shapes.get_version(ctx, req.params["account"], req.params["shape"], req.params["id"]), req)


@route("POST", A + "/deploymentShapeVersions:match")
def _match(ctx: Ctx, req: Req) -> Any:
    return shapes.match(ctx, req.params["account"], req.body)


def _by_method(table: list[tuple[str, str, Handler]]) -> dict[str, list[tuple[re.Pattern[str], Handler]]]:
    out: dict[str, list[tuple[re.Pattern[str], Handler]]] = {}
    for method, pattern, handler in table:
        out.setdefault(method, []).append((re.compile(pattern + "$"), handler))
    return out


COMPILED = _by_method(ROUTES)


def resolve(method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
    """-> (handler, path params, path_known); only the method's own routes are tried first."""
    for rx, handler in COMPILED.get(method, ()):
        match = rx.match(path)
        if match:
            return handler, match.groupdict(), True
    known = any(rx.match(path) for m, routes in COMPILED.items() if m != method for rx, _ in routes)
    return None, {}, known
