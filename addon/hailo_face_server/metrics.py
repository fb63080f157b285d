"""Prometheus metrics of one server: requests, stage latencies, queue, refusals, backend failures, gallery."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

STAGES = ("decode", "queue", "detect", "align", "embed", "search", "store", "total")
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """A registry per server (not the global one), so that several servers in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "hailo_face_requests", "HTTP requests by route, method and status", ["route", "method", "status"],
            registry=registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "hailo_face_request_duration_seconds", "HTTP request time by route", ["route"],
            buckets=SECONDS_BUCKETS, registry=registry,
        )  # fmt: skip
        self.stage_seconds = Histogram(
            "hailo_face_stage_duration_seconds", "Time of each stage of an image request", ["stage"],
            buckets=SECONDS_BUCKETS, registry=registry,
        )  # fmt: skip
        self.rejected = Counter(
            "hailo_face_rejected_requests", "Requests refused: queue full (server_busy) or too slow (timeout)",
            ["reason"], registry=registry,
        )  # fmt: skip
        self.backend_errors = Counter(
            "hailo_face_backend_errors", "Accelerator failures (timeout or other)", ["kind"], registry=registry
        )
        self.queue_depth = Gauge(
            "hailo_face_queue_depth", "Requests running or waiting for the model", registry=registry
        )
        self.queue_capacity = Gauge("hailo_face_queue_capacity", "performance.max_queue_size", registry=registry)
        self.identities = Gauge("hailo_face_gallery_identities", "People in the gallery", registry=registry)
        self.faces = Gauge("hailo_face_gallery_faces", "Face samples the running model can search", registry=registry)
        self.faces_pending = Gauge(
            "hailo_face_gallery_faces_pending", "Face samples without an embedding of the running model",
            registry=registry,
        )  # fmt: skip

    def track_queue(self, depth: Callable[[], float], capacity: int) -> None:
        self.queue_depth.set_function(depth)
        self.queue_capacity.set(capacity)

    def observe_stages(self, stages_ms: Mapping[str, float]) -> None:
        for stage, milliseconds in stages_ms.items():
            if stage in STAGES:
                self.stage_seconds.labels(stage=stage).observe(milliseconds / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
