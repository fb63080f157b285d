"""Start-up: from launching the command to a ready /health, and the memory it then holds.

Each round starts the server twice on one data folder: first on an empty one
(the first start after installing: it converts dlib's ResNet and YuNet into
onnxruntime models cached in the folder), then again (every later start).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.server_process import ServerProcess

SETTLE_SECONDS = 3  # at most: the descriptor helpers, if any, finish loading in the background
SETTLED_MB = 1.0  # resident memory changing less than this over STEP_SECONDS is settled
STEP_SECONDS = 0.5


def _settled_memory(server: ServerProcess) -> dict[str, float]:
    deadline = time.monotonic() + SETTLE_SECONDS
    memory = server.memory()
    while time.monotonic() < deadline:
        time.sleep(STEP_SECONDS)
        before, memory = memory, server.memory()
        if abs(memory["rss_mb_with_helpers"] - before["rss_mb_with_helpers"]) < SETTLED_MB:
            break
    return memory


def _start(data_dir: Path) -> tuple[float, dict[str, float]]:
    server = ServerProcess(data_dir)
    try:
        return server.wait_ready(), _settled_memory(server)
    finally:
        server.stop()


def run(rounds: int) -> dict[str, Any]:
    first: list[tuple[float, dict[str, float]]] = []
    again: list[tuple[float, dict[str, float]]] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as data_dir:
            first.append(_start(Path(data_dir)))
            again.append(_start(Path(data_dir)))

    def summary(starts: list[tuple[float, dict[str, float]]], prefix: str, suffix: str) -> dict[str, float]:
        seconds = [s for s, _ in starts]
        # The server and its descriptor helper processes, if any; the peak is VmHWM (the helpers' added up).
        return {
            f"{prefix}ready_s_median": round(statistics.median(seconds), 2),
            f"{prefix}ready_s_max": round(max(seconds), 2),
            f"rss_mb_after_{suffix}": round(statistics.median(m["rss_mb_with_helpers"] for _, m in starts), 1),
            f"peak_rss_mb_after_{suffix}": round(
                statistics.median(m["peak_rss_mb_with_helpers"] for _, m in starts), 1
            ),
        }

    return {"rounds": rounds, **summary(first, "", "start"), **summary(again, "restart_", "restart")}
