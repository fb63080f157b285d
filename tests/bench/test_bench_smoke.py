"""The benchmarks in smoke mode (tiny counts), so that they cannot rot; they are not timed tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image

from bench import report
from bench.__main__ import SUITES, main
from bench.images import camera_frames


def test_every_benchmark_runs_and_reports(tmp_path: Path) -> None:
    assert main(["--smoke", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(SUITES) <= set(results)
    row = results["per_image"]["images"][0]
    assert row["hailo_face"]["faces"] == row["face_recognition_small"]["faces"] == 1
    assert row["hailo_face"]["found"] == row["face_recognition_small"]["found"] == 1
    assert row["ratio"] > 0
    assert row["goal_ratio"] == 0.15
    assert 0 < results["per_image"]["server_memory"]["rss_mb"] <= results["per_image"]["server_memory"]["peak_rss_mb"]
    assert results["per_image"]["accuracy"]["hailo_face"]["wrong"] == 0
    assert {r["gallery"] for r in results["search"]} == {1_000}
    assert all(level["ok"] + level["refused_503"] == level["requests"] for level in results["load"]["levels"])
    assert results["startup"]["ready_s_median"] > 0 < results["startup"]["restart_ready_s_median"]
    assert results["hailo_host"][0]["faces"] == 1
    assert results["descriptor"]["max_abs_difference"] <= 1e-4
    assert results["descriptor"]["rows"]["batch of 6"]["speed_up"] > 1
    table = (tmp_path / "results.md").read_text()
    assert "| 1 face, 640px |" in table
    assert "Server memory after the per-image run: peak" in table
    assert "| restart (same data folder) |" in table
    for plot in ("latency.png", "search.png"):
        assert (tmp_path / plot).read_bytes().startswith(b"\x89PNG")


def test_camera_frame_is_a_1080p_jpeg_with_five_faces_in_it() -> None:
    (frame,) = camera_frames(only_1080p=True)
    assert frame.name == "5 faces 40-50 px, 1920x1080"
    with Image.open(io.BytesIO(frame.jpeg)) as image:
        assert (image.format, image.size) == ("JPEG", (1920, 1080))
    assert frame.faces == len(frame.centres) == 5
    assert all(0 < x < 1920 and 0 < y < 1080 for x, y in frame.centres)


def test_hailo_rows_show_pillow_decode_when_present() -> None:
    row = {"image": "a", "faces": 1, "decode_ms": 1.0, "letterbox_ms": 0.5, "scrfd_decode_nms_ms": 0.1,
           "align_ms": 1.5, "host_total_ms": 3.1}  # fmt: skip
    assert "Pillow decode" not in report.markdown({"machine": "m", "hailo_host": [row]})
    newer = row | {"pillow_decode_ms": 1.2, "ratio_to_decode": 2.58}
    table = report.markdown({"machine": "m", "hailo_host": [newer, row]})
    assert "| Pillow decode | host total / decode |" in table
    assert "| 3.1 | 1.2 | 2.58 |" in table
