"""``hailo-face-server``: start the service from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from hailo_face_server import __version__
from hailo_face_server.addon_options import addon_overrides
from hailo_face_server.app import STARTUP, create_app
from hailo_face_server.config import BACKENDS, LOG_FORMATS, LOG_LEVELS, Config, ConfigError, load_config
from hailo_face_server.logs import AccessLogger, setup_logging

_LOGGER = logging.getLogger("hailo_face_server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailo-face-server",
        description="Face detection and recognition HTTP service (Hailo NPU or CPU).",
        epilog="Every configuration key can also be set as HAILO_FACE_<SECTION>_<KEY>, "
        "for example HAILO_FACE_SERVER_PORT=5002.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", type=Path, help="YAML configuration file (or HAILO_FACE_CONFIG)")
    parser.add_argument("--host", help="address to listen on (server.host)")
    parser.add_argument("--port", help="port to listen on (server.port, default 5002)")
    parser.add_argument("--api-key", help="require this Bearer key on every route but /health")
    parser.add_argument("--backend", choices=BACKENDS, help="inference backend (face_recognition.backend)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where faces.db, backups/ and sightings.db live (database.db_file, database.backup_path, "
        "sightings.db_file)",
    )
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, help="logging.level")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="logging.format")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="set any configuration key, e.g. --set performance.max_queue_size=4 (repeatable)",
    )
    parser.add_argument(
        "--app",
        nargs="?",
        const=Path("/data/options.json"),
        type=Path,
        metavar="OPTIONS_JSON",
        help="run as the Home Assistant app: read its options (default /data/options.json) "
        "and keep every file next to them",
    )
    parser.add_argument("--check-config", action="store_true", help="print the effective configuration and exit")
    return parser


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            raise ConfigError(f"--set {item}: expected SECTION.KEY=VALUE")
        overrides[key.strip()] = value
    named = {
        "server.host": args.host,
        "server.port": args.port,
        "server.api_key": args.api_key,
        "face_recognition.backend": args.backend,
        "logging.level": args.log_level,
        "logging.format": args.log_format,
    }
    if args.data_dir is not None:
        named["database.db_file"] = str(args.data_dir / "faces.db")
        named["database.backup_path"] = str(args.data_dir / "backups")
        named["sightings.db_file"] = str(args.data_dir / "sightings.db")
    overrides.update({key: value for key, value in named.items() if value is not None})
    return overrides


async def serve(config: Config) -> int:
    app = create_app(config)
    runner = web.AppRunner(app, access_log_class=AccessLogger, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.server.host, config.server.port)
        try:
            await site.start()
        except OSError as err:
            _LOGGER.error("Cannot listen on %s:%d: %s", config.server.host, config.server.port, err.strerror)
            return 1
        _LOGGER.info(
            "Hailo Face %s listening on http://%s:%d (auth %s)",
            __version__,
            config.server.host,
            config.server.port,
            "on" if config.server.api_key else "off",
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        startup = app[STARTUP]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({startup, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if startup.done() and startup.exception() is not None:
            waiter.cancel()
            return 1
        await waiter
        _LOGGER.info("Stopping")
        return 0
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        app = addon_overrides(args.app) if args.app is not None else None
        config = load_config(args.config, cli_overrides(args), app_overrides=app)
    except ConfigError as err:
        print(f"hailo-face-server: {err}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps(config.describe(), indent=2))
        return 0
    setup_logging(config.logging.level, config.logging.format)
    return asyncio.run(serve(config))
