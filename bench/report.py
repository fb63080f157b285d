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
        parts += _per_image(per_image)
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
        parts += ["", f"### Start-up (median of {startup['rounds']}, max; goal: ready in <= 2 s)", ""]
        starts = [("first start (empty data folder: models converted)", "", "start")]
        if "restart_ready_s_median" in startup:
            starts.append(("restart (same data folder)", "restart_", "restart"))
        parts.append(_table(
            ["start", "ready s", "ready s max", "resident MB after", "peak resident MB"],
            [[label, startup[f"{prefix}ready_s_median"], startup[f"{prefix}ready_s_max"],
              startup[f"rss_mb_after_{suffix}"], startup.get(f"peak_rss_mb_after_{suffix}")]
             for label, prefix, suffix in starts],
        ))  # fmt: skip
    hailo = results.get("hailo_host")
    if hailo:
        parts += ["", "### Hailo backend, host side only (median ms; the NPU's time excluded)", ""]
        headers = ["image", "faces", "decode", "letterbox", "SCRFD decode + NMS", "align", "host total"]
        with_decode = any("pillow_decode_ms" in r for r in hailo)
        if with_decode:
            headers += ["Pillow decode", "host total / decode"]
        rows = []
        for r in hailo:
            row = [r["image"], r["faces"], r["decode_ms"], r["letterbox_ms"], r["scrfd_decode_nms_ms"], r["align_ms"],
                   r["host_total_ms"]]  # fmt: skip
            if with_decode:
                row += [r.get("pillow_decode_ms"), r.get("ratio_to_decode")]
            rows.append(row)
        parts.append(_table(headers, rows))
    return "\n".join(parts) + "\n"


def _found(faces: dict[str, Any]) -> str:
    """Faces found, and boxes holding no expected face if any."""
    found = str(faces.get("found", faces["faces"]))
    return found + (f" +{faces['false']} false" if faces.get("false") else "")


def _goal(ratio: float, goal: float | None) -> str:
    if goal is None:
        return ""
    return f"<= {goal} {'met' if ratio <= goal else '**missed**'}"


def _per_image(per_image: dict[str, Any]) -> list[str]:
    parts = [
        "### Per image: our server over HTTP against face_recognition, same JPEG, same run",
        "",
        "Median ms; ratio = our HTTP time / face_recognition's in-process time (HOG, upsampled once; "
        "5-point landmarks; 68-point in the last two columns). Found: expected faces inside a box; "
        "false: boxes around no expected face.",
        "",
    ]
    rows = []
    for row in per_image["images"]:
        ours, theirs, large = row["hailo_face"], row["face_recognition_small"], row["face_recognition_large"]
        rows.append([
            row["image"], row["size"], row["faces_expected"], _found(ours), _found(theirs), ours["http_total"],
            theirs["total"], row["ratio"], _goal(row["ratio"], row.get("goal_ratio")), large["total"],
            row["ratio_68_point"],
        ])  # fmt: skip
    parts.append(_table(
        ["image", "pixels", "faces", "found: ours", "found: f_r", "**ours (HTTP)**", "f_r", "**ratio**", "goal",
         "f_r 68-pt", "ratio 68-pt"],
        rows,
    ))  # fmt: skip
    parts += [
        "",
        "### Where the time goes per image (median ms: our server's timings_ms, and face_recognition's stages)",
        "",
    ]
    stage_rows = []
    for row in per_image["images"]:
        ours, theirs = row["hailo_face"], row["face_recognition_small"]
        stage_rows.append([
            row["image"], ours.get("decode"), ours.get("queue"), ours.get("detect"), ours.get("align"),
            ours.get("embed"), ours.get("embed_per_face"), ours.get("search"), ours.get("server_total"),
            ours["http_total"], theirs["decode"], theirs["detect"], theirs["embed"],
        ])  # fmt: skip
    parts.append(_table(
        ["image", "decode", "queue", "detect", "align", "embed", "embed/face", "search", "server total",
         "HTTP total", "f_r decode", "f_r detect", "f_r embed"],
        stage_rows,
    ))  # fmt: skip
    memory = per_image.get("server_memory")
    if memory:
        goal = per_image.get("memory_goal_mb", 300)
        verdict = "met" if memory["peak_rss_mb_with_helpers"] <= goal else "**missed**"
        helpers = (
            f"; with its {memory['helpers']} helper processes: peak {memory['peak_rss_mb_with_helpers']} MB "
            f"(their peaks added), {memory['rss_mb_with_helpers']} MB now"
            if memory.get("helpers")
            else ""
        )
        parts += [
            "",
            f"Server memory after the per-image run: peak {memory['peak_rss_mb']} MB resident (VmHWM), "
            f"{memory['rss_mb']} MB now{helpers} (goal <= {goal} MB: {verdict})",
        ]
    return parts


def plots(results: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    per_image = results.get("per_image")
    if per_image:
        rows = per_image["images"]
        figure, axis = plt.subplots(figsize=(8, 4.5))
        places = list(range(len(rows)))
        ours = [r["hailo_face"]["http_total"] for r in rows]
        theirs = [r["face_recognition_small"]["total"] for r in rows]
        axis.bar([p - 0.2 for p in places], ours, 0.4, label="Hailo Face (CPU), over HTTP")
        axis.bar([p + 0.2 for p in places], theirs, 0.4, label="face_recognition, in process")
        for place, mine, row in zip(places, ours, rows, strict=True):
            axis.annotate(f"{row['ratio']}x", (place - 0.2, mine), ha="center", va="bottom", fontsize=8)
        axis.set_xticks(places, [r["image"].replace(", ", ",\n") for r in rows], fontsize=8)
        axis.set(yscale="log", ylim=(10, None), ylabel="ms per image (median)", title="Recognition time per image")
        axis.grid(alpha=0.3, axis="y", which="both")
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
