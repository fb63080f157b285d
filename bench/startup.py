"""Start-up: from launching the command to a ready /health, and the memory it then holds."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.server_process import ServerProcess

SETTLE_SECONDS = 3


def run(rounds: int) -> dict[str, Any]:
    seconds, memory = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as data_dir:
            server = ServerProcess(Path(data_dir))
            try:
                seconds.append(server.wait_ready())
                time.sleep(SETTLE_SECONDS)  # the descriptor helpers finish loading in the background
                memory.append(server.rss_mb())
            finally:
                server.stop()
    return {
        "rounds": rounds,
        "ready_s_median": round(statistics.median(seconds), 2),
        "ready_s_max": round(max(seconds), 2),
        "rss_mb_after_start": round(statistics.median(memory), 1),
    }
