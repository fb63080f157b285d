"""Reading an image and its parameters from a request, in any of the accepted forms.

- JSON: ``{"image": "<base64>", ...parameters}``
- a raw body with ``Content-Type: image/jpeg|png|webp``, parameters in the query
- ``multipart/form-data`` with a file field ``image`` and parameter fields

Query parameters are accepted with every form.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hailo_face_server.errors import (
    BodyTimeout,
    InvalidJson,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedEncoding,
    UnsupportedMediaType,
)
from hailo_face_server.imaging import ACCEPTED_CONTENT_TYPES

HOW_TO_SEND = (
    'Send JSON {"image": "<base64>"}, a raw body with Content-Type image/jpeg, image/png or '
    "image/webp, or multipart/form-data with a field named image."
)
MAX_COORDINATE = 1_000_000.0


class InvalidBase64(InvalidRequest):
    code = "invalid_base64"


@dataclass(frozen=True)
class ImageRequest:
    image: bytes
    fields: dict[str, Any]


def _decode_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidBase64('"image" must be a base64 string.')
    text = value.strip()
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidBase64('"image" is not valid base64.') from err


def _merge(fields: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    for key, value in query.items():
        if key in fields:
            raise InvalidRequest(f'"{key}" is given twice (in the query and in the body).')
        fields[key] = value
    return fields


def query_of(request: web.Request) -> dict[str, str]:
    """The query parameters, each given once (a repeated one is refused)."""
    query: dict[str, str] = {}
    for key, value in request.query.items():
        if key in query:
            raise InvalidRequest(f'The query parameter "{key}" is given more than once.')
        query[key] = value
    return query


# The largest body the app accepts, also once decompressed (server.max_body_mb).
BODY_LIMIT: web.AppKey[int] = web.AppKey("body_limit", int)
# How long a client may take to send a body (server.body_timeout): a client that stalls is dropped.
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout", float)
IDENTITY_ENCODINGS = frozenset({"", "identity"})
# zlib's window bits: 16 + 15 expects a gzip header, 15 a zlib one, -15 raw deflate.
_WINDOW_BITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def content_encoding(request: web.Request) -> str:
    return request.headers.get("Content-Encoding", "").strip().lower()


def refuse_encoded_body(request: web.Request, what: str) -> None:
    encoding = content_encoding(request)
    if encoding not in IDENTITY_ENCODINGS:
        raise UnsupportedEncoding(f"Send {what} without Content-Encoding (this one has {encoding[:40]!r}).")


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """A gzip or deflate body, decompressed to at most ``limit`` bytes (a zip bomb stops there)."""
    attempts = [_WINDOW_BITS[encoding]] + ([-zlib.MAX_WBITS] if encoding == "deflate" else [])
    for window_bits in attempts:
        decompressor = zlib.decompressobj(window_bits)
        try:
            data = decompressor.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(data) > limit or decompressor.unconsumed_tail:
            raise PayloadTooLarge(f"The body decompresses to more than the limit of {limit // 2**20} MB.")
        if not decompressor.eof:
            raise InvalidRequest(f"The {encoding} body is truncated.")
        return data
    raise InvalidRequest(f"The body is not valid {encoding} data although Content-Encoding says so.")


async def read_body(request: web.Request) -> bytes:
    """The whole body, decompressed if it came with Content-Encoding gzip or deflate.

    aiohttp's own decompression is off (``auto_decompress=False``): a body it
    cannot decode would be answered outside this app, in plain text.
    """
    body = await request.read()
    encoding = content_encoding(request)
    if encoding in IDENTITY_ENCODINGS:
        return body
    if encoding not in _WINDOW_BITS:
        raise UnsupportedEncoding(
            f"Content-Encoding {encoding[:40]!r} is not accepted; send the body as is, or gzip or deflate."
        )
    return _decompress(body, encoding, request.app[BODY_LIMIT])


async def read_json_object(request: web.Request) -> dict[str, Any]:
    body = await read_body(request)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError, or an integer of too many digits
        raise InvalidJson(f"The body is not valid JSON: {str(err)[:200]}") from err
    except RecursionError as err:
        raise InvalidJson("The JSON body is nested too deeply.") from err
    if not isinstance(data, dict):
        raise InvalidJson("The JSON body must be an object.")
    return data


async def read_json_request(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send this request as JSON (Content-Type: application/json).")
    return await read_json_object(request)


async def read_image_request(request: web.Request) -> ImageRequest:
    """The image and its parameters, read within server.body_timeout (BodyTimeout otherwise)."""
    seconds = request.app[BODY_TIMEOUT]
    try:
        async with asyncio.timeout(seconds):
            return await _read_image_request(request)
    except TimeoutError:
        raise BodyTimeout(
            f"The request body did not arrive within {seconds:g} s (server.body_timeout); the connection is closed."
        ) from None


async def _read_image_request(request: web.Request) -> ImageRequest:
    content_type = request.content_type
    query = query_of(request)
    if content_type == "application/json":
        fields = await read_json_object(request)
        if "image" not in fields:
            raise InvalidRequest('The JSON body has no "image" field. ' + HOW_TO_SEND)
        image = _decode_base64(fields.pop("image"))
        return ImageRequest(image, _merge(fields, query))
    if content_type in ACCEPTED_CONTENT_TYPES:
        return ImageRequest(await read_body(request), dict(query))
    if content_type == "multipart/form-data":
        return await _read_multipart(request, query)
    raise UnsupportedMediaType(f"Content-Type {content_type or '(none)'} is not accepted. " + HOW_TO_SEND)


# What aiohttp's multipart reader raises for a malformed body: an unterminated
# one (AssertionError "Reading after EOF"), a part without Content-Disposition,
# an unknown charset (LookupError) or Content-Transfer-Encoding (RuntimeError).
_MULTIPART_ERRORS = (ValueError, HttpProcessingError, AssertionError, LookupError, RuntimeError, KeyError)


async def _read_multipart(request: web.Request, query: dict[str, str]) -> ImageRequest:
    refuse_encoded_body(request, "a multipart form")
    try:
        form = await request.post()
    except _MULTIPART_ERRORS as err:
        raise InvalidRequest("The multipart body is malformed and cannot be read.") from err
    image: bytes | None = None
    fields: dict[str, Any] = {}
    for key, value in form.items():
        if key in fields or (key == "image" and image is not None):
            raise InvalidRequest(f'The form field "{key}" is given more than once.')
        if key == "image":
            if isinstance(value, web.FileField):
                image = value.file.read()
            else:
                image = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        elif isinstance(value, str):
            fields[key] = value
        else:
            raise InvalidRequest(f'The form field "{key}" must be text, not a file.')
    if image is None:
        raise InvalidRequest('The form has no field named "image". ' + HOW_TO_SEND)
    return ImageRequest(image, _merge(fields, query))
