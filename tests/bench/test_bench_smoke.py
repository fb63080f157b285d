"""The benchmarks in smoke mode (tiny counts), so that they cannot rot; they are not timed tests."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import SUITES, main


def test_every_benchmark_runs_and_reports(tmp_path: Path) -> None:
    assert main(["--smoke", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(SUITES) <= set(results)
    row = results["per_image"]["images"][0]
    assert row["hailo_face"]["faces"] == row["face_recognition_small"]["faces"] == 1
    assert row["ratio"] > 0
    assert results["per_image"]["accuracy"]["hailo_face"]["wrong"] == 0
    assert {r["gallery"] for r in results["search"]} == {1_000}
    assert all(level["ok"] + level["refused_503"] == level["requests"] for level in results["load"]["levels"])
    assert results["startup"]["ready_s_median"] > 0
    assert results["hailo_host"][0]["faces"] == 1
    assert results["descriptor"]["max_abs_difference"] <= 1e-4
    assert results["descriptor"]["rows"]["batch of 6"]["speed_up"] > 1
    table = (tmp_path / "results.md").read_text()
    assert "| 1 face, 640px |" in table
    for plot in ("latency.png", "search.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG")
