"""Logging as text or JSON lines, every line carrying the request id."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import PurePath

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hailo_face_server.api.middlewares import REQUEST_ID_HEADER, request_id_var

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


# C0 and C1 controls, DEL, and Unicode's line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes, so that it stays on its line."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


class EscapeControlsFilter(logging.Filter):
    """Escapes control characters in a record's arguments (paths, names, headers a client chose).

    A request for ``/x%0aFAKE`` then logs ``/x\\nFAKE`` and cannot forge a log line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_escaped(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _escaped(value) for key, value in record.args.items()}
        elif not record.args and isinstance(record.msg, str):
            record.msg = escape_controls(record.msg)
        return True


def _escaped(value: object) -> object:
    # Numbers and other objects stay as they are (``%d`` must still find a number).
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, (BaseException, PurePath, bytes)):
        return escape_controls(str(value))
    return value


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    EXTRA_FIELDS = ("request_id", "method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None and value != "-":
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class AccessLogger(AbstractAccessLogger):
    """One line per request; never the headers (they may carry the API key)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        duration_ms = round(time * 1000, 1)
        level = logging.DEBUG if request.path == "/health" and response.status == 200 else logging.INFO
        self.logger.log(
            level,
            "%s %s -> %d in %.1f ms",
            request.method,
            request.path,
            response.status,
            duration_ms,
            extra={
                "request_id": response.headers.get(REQUEST_ID_HEADER, "-"),
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": duration_ms,
            },
        )


def setup_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(EscapeControlsFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
