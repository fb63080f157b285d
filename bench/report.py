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
    sightings = results.get("sightings")
    if sightings:
        parts += _sightings(sightings)
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


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _mb(value: float) -> str:
    return f"{value / 1024 / 1024:.2f}"


def _counts(row: dict[str, int]) -> str:
    return f"{row['right']} / {row['unknown']} / {row['wrong']}"


def _sightings(s: dict[str, Any]) -> list[str]:
    week = s["week"]
    parts = _sightings_week(week)
    parts += _sightings_labelling(s["labelling"])
    merging = s["merging"]
    parts += [
        "",
        "### Sightings: bursts of one face from one camera (merge_window_s=60; each burst its own camera)",
        "",
        _table(
            ["bursts", "requests", "faces returned", "sightings stored", "people seen in bursts",
             "kept as one sighting", "sightings mixing two people", "times_seen total"],
            [[merging["bursts"], merging["requests"], merging["faces_returned"], merging["sightings_stored"],
              merging["people_in_bursts"], merging["kept_as_one"], merging["mixing_two_people"],
              merging["times_seen_total"]]],
        ),
    ]  # fmt: skip
    aged = s["age_purge"]
    parts += [
        "",
        f"### Sightings: retention at restart (the bursts' server stopped, its sightings' times moved back "
        f"{aged['ages_days'][0]}-{aged['ages_days'][-1]} days in the file, restarted with "
        f"keep_unknown_days={aged['keep_unknown_days']}, keep_named_days={aged['keep_named_days']})",
        "",
        _table(
            ["sightings before", "unknown of them", "past their age", "deleted at start-up", "kept exactly the rest",
             "left (health)", "clustered left: expected / listed / in clusters"],
            [[aged["before"], aged["unknown_before"], aged["expected_deleted"], aged["deleted"],
              aged["kept_as_expected"], aged["health_stored_after"],
              f"{aged['clustered_expected_after']} / {aged['clustered_after']} / {aged['cluster_sizes_after']}"]],
        ),
    ]  # fmt: skip
    parts += _sightings_rejection(s["rejection"])
    parts += _sightings_store(s["store"])
    parts += [
        "",
        "### Sightings: latency with and without a source (median ms; the same image, with and without a source "
        "one after the other, alternately first; the servers take turns)",
        "",
        "added: the median of the pairs' differences; stage share: the sightings stage over the server's time "
        "without a source.",
        "",
        _table(
            ["image", "mode", "HTTP with source", "without", "ratio", "goal", "added", "server with",
             "server without", "sightings stage", "stage share", "sightings added"],
            [[r["image"], r["mode"], r["http_with_source_ms"], r["http_without_source_ms"], r["http_ratio"],
              _goal(r["http_ratio"], r["goal_ratio"]), r["http_added_paired_ms"], r["server_with_source_ms"],
              r["server_without_source_ms"], r["sightings_stage_ms"], _pct(r["stage_share"]),
              f"{r['sightings_added']} in {r['pairs']}"]
             for r in s["latency"]],
        ),
    ]  # fmt: skip
    if s.get("server_errors"):
        parts += ["", "**Server errors (5xx):**", ""]
        parts += [f"- {e['request']}: {e['status']} {e['response']}" for e in s["server_errors"]]
    return parts


def _sightings_week(week: dict[str, Any]) -> list[str]:
    named = week["named_during_stream"]
    enrolled, strangers = named["enrolled"], named["strangers"]
    totals = week["totals"]
    goals = week["goals"]
    rows = []
    for name, person in week["people"].items():
        if "unknown" not in person:
            continue  # an enrolled person
        clusters_ok = "met" if person["clusters"] <= goals["clusters"] else "**missed**"
        purity = person["purity"]
        purity_ok = "" if purity is None else "met" if purity >= goals["purity"] else "**missed**"
        rows.append([name, person["sightings"], person["unknown"], person["clustered"],
                     f"{person['clusters']} ({clusters_ok})", f"{_pct(purity)} ({purity_ok})"])  # fmt: skip
    rows.append(["all clustered sightings", "", "", week["clustered"], week["unknown_clusters"],
                 _pct(week["overall_purity"])])  # fmt: skip
    cost = week["cost"]
    return [
        "",
        "### Sightings: a simulated week (4 of 8 people enrolled; merge_window_s=0: every scan its own event)",
        "",
        f"{week['requests_with_source']} scans with a source (each also sent without one, for the cost); "
        f"{week['faces_returned']} faces returned; {week['sightings_stored']} sightings stored "
        f"({totals['named']} named, {totals['unknown']} unknown); {week['unknown_clusters']} unknown clusters; "
        f"{week['low_quality_unknown']} unknown faces too poor to cluster. Named while streaming: enrolled people "
        f"right {enrolled.get('right', 0)}, unknown {enrolled.get('unknown', 0)}, wrong {enrolled.get('wrong', 0)}; "
        f"strangers unknown {strangers.get('unknown', 0)}, named wrong {strangers.get('wrong', 0)}; "
        f"faces of nobody expected: {sum(named['nobody expected'].values())}.",
        "",
        _table(
            ["stranger", "sightings", "unknown", "clustered", f"clusters (goal <= {goals['clusters']})",
             f"purity (goal >= {goals['purity']:.0%})"],
            rows,
        ),
        "",
        "Cost of keeping them (median ms; the same scans with and without a source, alternately first):",
        "",
        _table(
            ["HTTP with source", "HTTP without", "ratio", "added (pairs' median)", "server with", "server without",
             "sightings stage", "sightings stage per face", "stage share"],
            [[cost["http_with_source_ms"], cost["http_without_source_ms"], cost["http_ratio"],
              cost["http_added_paired_ms"], cost["server_with_source_ms"], cost["server_without_source_ms"],
              cost["sightings_stage_ms"], cost["sightings_stage_per_face_ms"], _pct(cost["stage_share"])]],
        ),
    ]  # fmt: skip


def _sightings_labelling(labelling: dict[str, Any]) -> list[str]:
    return [
        "",
        "### Sightings: each stranger's clusters labelled with their name (POST /v1/clusters/{id}/label)",
        "",
        _table(
            ["stranger", "cluster", "status", "samples added", "sightings named"],
            [[r["name"], r["cluster_id"], r["status"], r["samples"], r["sightings"]] for r in labelling["labels"]],
        ),
        "",
        f"Then recognised without a source ({labelling['identities_after']} people, "
        f"{labelling['faces_after']} samples):",
        "",
        _table(
            ["images", "before: right / unknown / wrong", "after: right / unknown / wrong", "missed (after)"],
            [[t["test"], _counts(t["before"]), _counts(t["after"]), t["after"]["missed"]]
             for t in labelling["tests"]],
        ),
    ]  # fmt: skip


def _sightings_rejection(rows: list[dict[str, Any]]) -> list[str]:
    return [
        "",
        '### Sightings: "not this person" (one sighting of each wrongly named stranger rejected; plain portraits)',
        "",
        _table(
            ["threshold", "stranger images named wrong", "strangers rejected", "other images wrong before -> after",
             "other images named as the rejected person before -> after", "rejected images still so named",
             "enrolled images right before -> after", "enrolled names changed", "wrong names before"],
            [[r["threshold"], f"{r['wrong_before']}/{r['stranger_images']}", r["strangers_named_wrong"],
              f"{r['other_wrong_before']} -> {r['other_wrong_after']} of {r['other_images']}",
              f"{r['other_as_rejected_before']} -> {r['other_as_rejected_after']}",
              r["rejected_images_as_rejected_after"],
              f"{r['enrolled_right_before']} -> {r['enrolled_right_after']} of {r['enrolled_images']}",
              r["enrolled_changed"], ", ".join(r["wrong_names"])] for r in rows],
        ),
    ]  # fmt: skip


def _sightings_store(store: dict[str, Any]) -> list[str]:
    settings = store["settings"]
    return [
        "",
        f"### Sightings: store growth under a cap (max_mb={settings['sightings.max_mb']}, "
        f"max_sightings={settings['sightings.max_sightings']}, merge_window_s=0; frames tiling portraits)",
        "",
        _table(
            ["requests", "faces a request", "sightings made", "stored at end (max)", "bytes (health) end / max MB",
             "file + WAL end / max MB", "within cap", "request ms first -> last tenth",
             "sightings ms a face first -> last tenth (max)", "RSS MB before -> 1st request -> a tenth -> end"],
            [[store["requests"], store["faces_per_request"], store["sightings_created"],
              f"{store['stored_end']} ({store['stored_max']})",
              f"{_mb(store['health_bytes_end'])} / {_mb(store['health_bytes_max'])}",
              f"{_mb(store['file_bytes_end'])} / {_mb(store['file_bytes_max'])}", store["within_cap"],
              f"{store['request_ms_first_tenth']} -> {store['request_ms_last_tenth']}",
              f"{store['sightings_ms_per_face_first_tenth']} -> {store['sightings_ms_per_face_last_tenth']} "
              f"({store['sightings_ms_per_face_max']})",
              f"{store['rss_mb_before']} -> {store['rss_mb_after_first_request']} -> "
              f"{store['rss_mb_after_a_tenth']} -> {store['rss_mb_after']}"]],
        ),
    ]  # fmt: skip


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
