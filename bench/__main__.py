"""``python -m bench [--smoke] [--out DIR] [--only SUITE ...]``: run the benchmarks, print tables, JSON, plots."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import descriptor, hailo_host, load, per_image, report, search, sightings, startup

SUITES = ("descriptor", "per_image", "search", "load", "startup", "hailo_host", "sightings")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    smoke = args.smoke
    results: dict[str, Any] = {
        "machine": machine(),
        "smoke": smoke,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    suites = args.only or SUITES
    if "descriptor" in suites:
        results["descriptor"] = descriptor.run(repeats=2 if smoke else 10)
    if "per_image" in suites:
        results["per_image"] = per_image.run(repeats=1 if smoke else 5, smoke=smoke)
    if "search" in suites:
        sizes = (1_000,) if smoke else (1_000, 10_000, 100_000)
        results["search"] = search.run(
            sizes, (128, 512), queries=5 if smoke else 50, baseline_queries=2 if smoke else 5
        )
    if "load" in suites:
        results["load"] = load.run((1, 2) if smoke else (1, 2, 4, 8, 16), requests=4 if smoke else 64)
    if "startup" in suites:
        results["startup"] = startup.run(rounds=1 if smoke else 3)
    if "hailo_host" in suites:
        results["hailo_host"] = hailo_host.run(repeats=2 if smoke else 20, smoke=smoke)
    if "sightings" in suites:
        results["sightings"] = sightings.run(smoke=smoke)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks that every benchmark still runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--only", nargs="+", choices=SUITES, help="run only these suites")
    args = parser.parse_args(argv)
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    plots = report.plots(results, args.out)
    table = report.markdown(results)
    (args.out / "results.md").write_text(table)
    print(table)
    print(f"Written: {args.out / 'results.json'}, {args.out / 'results.md'}, " + ", ".join(str(p) for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
