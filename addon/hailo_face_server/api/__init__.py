"""The HTTP API (aiohttp): routes, request parsing, middlewares."""
