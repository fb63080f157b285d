"""Routes declared once: their query, body and response models give validation, JSON and OpenAPI.

A route is a handler plus ``@operation(...)`` naming its pydantic models; the
request is checked against them before the handler runs (a 400
``invalid_request`` that names the field otherwise), the handler's model is
serialised, and ``openapi.py`` builds the
route's description from the same models. A new route touches one model and
one handler.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from hailo_face_server.api.inputs import query_of, read_image_request, read_json_request
from hailo_face_server.errors import InvalidName, InvalidRequest, NotFound

JPEG = "image/jpeg"
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
MAX_ID = 2**63 - 1


class Model(BaseModel):
    """Every request and response model: unknown fields refused, values never changed after parsing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Handler = Callable[[web.Request, Any, Any], Awaitable[BaseModel | web.StreamResponse]]
ImageHandler = Callable[[web.Request, bytes, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None  # None: the route answers a JPEG
    status: int
    errors: tuple[str, ...]  # the HTTP statuses it answers besides ``status`` (and 401/403/503)
    tag: str
    image: bool = False  # the body is an image (JSON with base64, raw, or multipart), ``query`` its parameters


OPERATIONS: list[Operation] = []


def describe_error(err: ValidationError) -> str:
    """The first problems pydantic found, as a person reads them: where, and what is wrong."""
    parts = []
    for problem in err.errors()[:3]:
        where = ".".join(str(part) for part in problem["loc"]) or "the request"
        message = str(problem["msg"])
        if problem["type"] == "extra_forbidden":
            message = "is not a known parameter"
        parts.append(f'"{where}" {message[0].lower()}{message[1:]}')
    return "; ".join(parts) + "."


def parse(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = err.errors()
        if all(p["loc"][:1] == ("name",) and p["type"] not in ("missing", "extra_forbidden") for p in problems):
            raise InvalidName(describe_error(err)) from None  # a name given but not one: the name rules' code
        raise InvalidRequest(describe_error(err)) from None


def path_id(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path: 400 for what is not a whole number, 404 for one beyond any id."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit():
        raise InvalidRequest(f"{raw[:40]!r} is not a {what} id (a whole number).")
    if len(raw) > 19 or int(raw) > MAX_ID:
        raise NotFound(f"There is no {what} {raw[:40]}.")
    return int(raw)


def json_of(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json", by_alias=True), status=status)


def operation(
    routes: web.RouteTableDef,
    method: str,
    path: str,
    *,
    summary: str,
    description: str = "",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[str, ...] = ("400", "404"),
    tag: str = "sightings",
) -> Callable[[Handler], Handler]:
    """Register ``handler(request, query, body)`` for ``method path`` with its models."""

    def register(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            given_query = parse(query, query_of(request)) if query is not None else None
            if query is None and request.query:
                raise InvalidRequest(f'"{next(iter(request.query))}" is not a known parameter.')
            given_body = parse(body, await read_json_request(request)) if body is not None else None
            result = await handler(request, given_query, given_body)
            if isinstance(result, web.StreamResponse):
                return result
            return json_of(result, status)

        routes.route(method, path)(run)
        if any(name.endswith("_id") for name in path_parameters(path)) and "400" not in errors:
            errors_described = ("400", *errors)
        else:
            errors_described = errors
        OPERATIONS.append(
            Operation(method.lower(), path, summary, description, query, body, response, status, errors_described, tag)
        )
        return handler

    return register


def path_parameters(path: str) -> list[str]:
    return PATH_PARAMETER.findall(path)


def image_operation(
    routes: web.RouteTableDef,
    path: str,
    *,
    summary: str,
    params: type[BaseModel],
    response: type[BaseModel],
    status: int = 200,
    errors: tuple[str, ...] = ("400", "408", "413", "415"),
    tag: str = "images",
) -> Callable[[ImageHandler], ImageHandler]:
    """Register ``handler(request, image, params)`` for ``POST path``: an image and its parameters.

    The body is read first (within server.body_timeout), in any of the accepted
    forms; the parameters come from the JSON object, the form or the query.
    """

    def register(handler: ImageHandler) -> ImageHandler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            received = await read_image_request(request)
            given = parse(params, received.fields)
            return json_of(await handler(request, received.image, given), status)

        routes.post(path)(run)
        OPERATIONS.append(Operation("post", path, summary, "", params, None, response, status, errors, tag, image=True))
        return handler

    return register
