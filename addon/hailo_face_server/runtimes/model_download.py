"""Fetching a model file once, atomically: a failed or partial download leaves nothing behind."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

DOWNLOAD_TIMEOUT_SECONDS = 120


class DownloadFailed(Exception):
    pass


def download(url: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT_SECONDS) -> int:
    """Fetch ``url`` to ``target``; the number of bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        size = partial.stat().st_size
        if size == 0:
            raise DownloadFailed("the server sent an empty file")
        partial.replace(target)
    except urllib.error.HTTPError as err:
        raise DownloadFailed(f"HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise DownloadFailed(str(getattr(err, "reason", err))) from err
    finally:
        partial.unlink(missing_ok=True)
    return size
