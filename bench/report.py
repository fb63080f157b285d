"""Markdown tables and PNG plots of a benchmark run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    parts = [f"Machine: {results['machine']}", ""]
    described = results.get("descriptor")
    if described:
        parts += [
            "### Face descriptor: dlib against our onnxruntime conversion (median ms)",
            "",
            f"Conversion (once): {described['conversion_s']} s; largest difference from dlib's descriptor: "
            f"{described['max_abs_difference']:.1e}",
            "",
        ]
        parts.append(_table(
            ["chips", "dlib", "onnxruntime", "onnxruntime per face", "speed-up"],
            [[label, r["dlib_ms"], r["onnxruntime_ms"], r["onnxruntime_per_face_ms"], f"{r['speed_up']}x"]
             for label, r in described["rows"].items()],
        ))  # fmt: skip
        parts.append("")
    per_image = results.get("per_image")
    if per_image:
        parts += ["### Per image (median ms; ratio = our HTTP time / face_recognition's in-process time)", ""]
        rows = []
        for row in per_image["images"]:
            ours, theirs, large = row["hailo_face"], row["face_recognition_small"], row["face_recognition_large"]
            rows.append([
                row["image"], row["size"], ours["faces"], ours["decode"], ours["detect"], ours["embed_per_face"],
                ours["search"], ours["http_total"], theirs["faces"], theirs["total"], row["ratio"],
                large["total"], row["ratio_68_point"],
            ])  # fmt: skip
        parts.append(_table(
            ["image", "pixels", "faces", "decode", "detect", "embed/face", "search", "**HTTP total**",
             "f_r faces", "f_r total", "**ratio**", "f_r 68-pt total", "ratio 68-pt"],
            rows,
        ))  # fmt: skip
        parts += ["", "### Accuracy (taught from image 1 of each person)", ""]
        acc_rows = []
        for name, acc in per_image["accuracy"].items():
            total = acc["right"] + acc["unknown"] + acc["wrong"]
            acc_rows.append([name, f"{acc['right']}/{total}", acc["unknown"], acc["wrong"],
                             f"{acc['group_right']}/{acc['group_total']}"])  # fmt: skip
        parts.append(_table(["pipeline", "images 2-5 right", "unknown", "named wrong", "group faces right"], acc_rows))
    search = results.get("search")
    if search:
        parts += ["", "### Search per query (median ms)", ""]
        parts.append(_table(
            ["dim", "gallery", "ours", "seed's linear scan", "ratio"],
            [[r["dim"], f"{r['gallery']:,}", r["ours_ms"], r["linear_scan_ms"], r["ratio"]] for r in search],
        ))  # fmt: skip
    load = results.get("load")
    if load:
        parts += ["", f"### Load ({load['image']}; RSS before: {load['rss_mb_before']} MB)", ""]
        parts.append(_table(
            ["clients", "requests", "ok", "503", "req/s", "p50 ms", "p95 ms", "p99 ms", "/health max ms",
             "RSS after MB"],
            [[r["clients"], r["requests"], r["ok"], r["refused_503"], r["throughput_rps"], r["p50_ms"], r["p95_ms"],
              r["p99_ms"], r["health_max_ms"], r["rss_mb_after"]] for r in load["levels"]],
        ))  # fmt: skip
    startup = results.get("startup")
    if startup:
        parts += [
            "",
            f"### Start-up: ready in {startup['ready_s_median']} s (median of {startup['rounds']}, "
            f"max {startup['ready_s_max']} s); {startup['rss_mb_after_start']} MB resident after start",
        ]
    hailo = results.get("hailo_host")
    if hailo:
        parts += ["", "### Hailo backend, host side only (median ms; the NPU's time excluded)", ""]
        parts.append(_table(
            ["image", "faces", "decode", "letterbox", "SCRFD decode + NMS", "align", "host total"],
            [[r["image"], r["faces"], r["decode_ms"], r["letterbox_ms"], r["scrfd_decode_nms_ms"], r["align_ms"],
              r["host_total_ms"]] for r in hailo],
        ))  # fmt: skip
    return "\n".join(parts) + "\n"


def plots(results: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    per_image = results.get("per_image")
    if per_image:
        figure, axis = plt.subplots(figsize=(7, 4.5))
        for size in ("640px", "1080p"):
            rows = sorted(
                (r for r in per_image["images"] if r["image"].endswith(size)), key=lambda r: r["faces_expected"]
            )
            if not rows:
                continue
            faces = [r["faces_expected"] for r in rows]
            axis.plot(faces, [r["hailo_face"]["http_total"] for r in rows], "o-", label=f"Hailo Face (CPU), {size}")
            axis.plot(faces, [r["face_recognition_small"]["total"] for r in rows], "s--",
                      label=f"face_recognition, {size}")  # fmt: skip
        axis.set(xlabel="faces in the image", ylabel="ms per image (median)", title="Recognition time per image")
        axis.set_xticks(sorted({r["faces_expected"] for r in per_image["images"]}))
        axis.grid(alpha=0.3)
        axis.legend()
        path = out_dir / "latency.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    search = results.get("search")
    if search:
        figure, axis = plt.subplots(figsize=(7, 4.5))
        for dim in sorted({r["dim"] for r in search}):
            rows = [r for r in search if r["dim"] == dim]
            sizes = [r["gallery"] for r in rows]
            axis.plot(sizes, [r["ours_ms"] for r in rows], "o-", label=f"matrix index, {dim}-D")
            axis.plot(sizes, [r["linear_scan_ms"] for r in rows], "s--", label=f"seed's linear scan, {dim}-D")
        axis.set(xscale="log", yscale="log", xlabel="face samples in the gallery", ylabel="ms per query (median)",
                 title="Search time")  # fmt: skip
        axis.grid(alpha=0.3, which="both")
        axis.legend()
        path = out_dir / "search.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written
