"""Load: concurrent clients against the real server; throughput, latency, refusals, memory, /health."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.images import FACES_DIR
from bench.server_process import ServerProcess

PEOPLE = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _level(url: str, image: bytes, clients: int, requests: int) -> dict[str, Any]:
    latencies: list[float] = []
    refused = 0
    errors = 0
    health: list[float] = []
    remaining = requests
    done = asyncio.Event()

    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            nonlocal remaining, refused, errors
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                async with session.post(
                    f"{url}/v1/recognize", data=image, headers={"Content-Type": "image/png"}
                ) as response:
                    await response.read()
                    if response.status == 200:
                        latencies.append(time.perf_counter() - start)
                    elif response.status == 503:
                        refused += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")) / 10)
                    else:
                        errors += 1

        async def probe_health() -> None:
            while not done.is_set():
                start = time.perf_counter()
                async with session.get(f"{url}/health") as response:
                    await response.read()
                health.append(time.perf_counter() - start)
                await asyncio.sleep(0.2)

        prober = asyncio.create_task(probe_health())
        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
        done.set()
        await prober
    return {
        "clients": clients,
        "requests": requests,
        "ok": len(latencies),
        "refused_503": refused,
        "errors": errors,
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "health_max_ms": round(max(health) * 1000, 1) if health else None,
    }


def run(levels: tuple[int, ...], requests: int) -> dict[str, Any]:
    image = (FACES_DIR / "people" / "penny" / "penny2.png").read_bytes()
    with tempfile.TemporaryDirectory() as data_dir:
        server = ServerProcess(Path(data_dir))
        try:
            server.wait_ready()
            for name in PEOPLE:
                server.post_image(
                    "/v1/database/add", (FACES_DIR / "people" / name / f"{name}1.png").read_bytes(), name=name
                )
            server.post_image("/v1/recognize", image)
            rss_before = server.rss_mb()
            rows = []
            for clients in levels:
                row = asyncio.run(_level(server.url, image, clients, requests))
                row["rss_mb_after"] = round(server.rss_mb(), 1)
                rows.append(row)
            return {"image": "penny2.png (150x150, 1 face)", "rss_mb_before": round(rss_before, 1), "levels": rows}
        finally:
            server.stop()
