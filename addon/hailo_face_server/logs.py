"""Logging as text or JSON lines, every line carrying the request id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from hailo_face_server.api.middlewares import REQUEST_ID_HEADER, request_id_var

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


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
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
