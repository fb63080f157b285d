"""The real server as a process, as users start it, for the benchmarks that go over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

COMMAND = str(Path(sys.executable).parent / "hailo-face-server")
# The server package of the tree this benchmark is in, put first on the server's path: the
# environment's install may point at another checkout (a git worktree shares the .venv).
ADDON_DIR = Path(__file__).resolve().parents[1] / "addon"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def status_kb(pid: int, field: str) -> int:
    """A memory field (VmRSS, VmHWM, ...) of /proc/<pid>/status in kB; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the descriptor helpers), in MB."""
    return sum(status_kb(each, "VmRSS") for each in [pid, *children_of(pid)]) / 1024


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ADDON_DIR), env.get("PYTHONPATH", "")) if p)
    return env


class ServerProcess:
    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [COMMAND, "--backend", "cpu", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(data_dir), "--log-level", "WARNING", *args],
            env=server_env(),
        )  # fmt: skip

    def wait_ready(self, seconds: float = 120) -> float:
        """Seconds from launch to a 200 from /health."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("the server did not become ready")

    def post_image(self, path: str, image: bytes, **params: str) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        request = urllib.request.Request(
            f"{self.url}{path}{'?' + query if query else ''}", data=image, headers={"Content-Type": "image/jpeg"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    def memory(self) -> dict[str, float]:
        """Resident memory in MB now and at its peak (VmHWM): the server's process alone, and with its children.

        The children's peaks are added up, an upper bound of the peak they held together.
        """
        children = children_of(self.process.pid)
        pids = [self.process.pid, *children]
        return {
            "rss_mb": round(status_kb(self.process.pid, "VmRSS") / 1024, 1),
            "peak_rss_mb": round(status_kb(self.process.pid, "VmHWM") / 1024, 1),
            "helpers": len(children),
            "rss_mb_with_helpers": round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1),
            "peak_rss_mb_with_helpers": round(sum(status_kb(p, "VmHWM") for p in pids) / 1024, 1),
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
