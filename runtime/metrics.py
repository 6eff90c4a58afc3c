"""Prometheus metrics, in a registry of the replica's own (not the process-global one), so each
server (and each test) counts only itself. Names follow Prometheus conventions: a `sprocket_`
prefix, base units (seconds, bytes), `_total` for counters."""

from __future__ import annotations

from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# From a noop prediction (about a millisecond) to a long generation.
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
STATES = ("STARTING", "READY", "BUSY", "SETUP_FAILED", "FAILED")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.predictions = Counter("sprocket_predictions", "Predictions that ended, by status.", ["status"], registry=r)
        self.queue_wait = Histogram(
            "sprocket_prediction_queue_wait_seconds",
            "Time from a prediction's arrival to getting a slot.",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.predict_duration = Histogram(
            "sprocket_predict_duration_seconds",
            "Time from sending a prediction to the worker to its end, by status.",
            ["status"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("sprocket_predictions_in_flight", "Predictions holding a slot.", registry=r)
        self.queued = Gauge("sprocket_predictions_queued", "Predictions waiting for a slot.", registry=r)
        self.state = Gauge(
            "sprocket_state", "1 for the replica's current state, 0 for the others.", ["state"], registry=r
        )
        self.transitions = Counter(
            "sprocket_state_transitions", "State machine moves.", ["from_state", "to_state"], registry=r
        )
        self.restarts = Counter("sprocket_worker_restarts", "Workers replaced after a failure.", registry=r)
        self.setup_duration = Gauge("sprocket_setup_duration_seconds", "How long the last setup() took.", registry=r)
        self.webhook_failures = Counter(
            "sprocket_webhook_failures",
            "Webhook attempts that failed (connection error, timeout or HTTP error).",
            registry=r,
        )
        self.upload_failures = Counter("sprocket_upload_failures", "Output file uploads that failed.", registry=r)
        self.worker_rss = Gauge(
            "sprocket_worker_resident_memory_bytes", "Resident memory of the worker and its children.", registry=r
        )
        self.worker_cpu = Gauge("sprocket_worker_cpu_seconds", "CPU time the current worker has used.", registry=r)
        gpu = ["gpu", "uuid"]
        self.gpu_memory_used = Gauge("sprocket_gpu_memory_used_bytes", "GPU memory in use.", gpu, registry=r)
        self.gpu_memory_total = Gauge("sprocket_gpu_memory_total_bytes", "GPU memory in all.", gpu, registry=r)
        self.gpu_utilization = Gauge("sprocket_gpu_utilization_ratio", "GPU busy share, 0 to 1.", gpu, registry=r)
        self.gpu_temperature = Gauge("sprocket_gpu_temperature_celsius", "GPU temperature.", gpu, registry=r)
        self.gpu_power = Gauge("sprocket_gpu_power_watts", "GPU power draw.", gpu, registry=r)
        # Labelled children looked up once: these are counted on every prediction.
        self._moves: dict[tuple[str, str], Any] = {}
        self._by_status: dict[str, tuple[Any, Any]] = {}

    def follow(self, state: Callable[[], str], in_flight: Callable[[], int], queued: Callable[[], int]) -> None:
        """Read these gauges when scraped: they change twice per prediction, and setting them
        each time would cost every prediction more than a scrape costs."""
        for name in STATES:
            self.state.labels(name).set_function(lambda name=name: 1 if state() == name else 0)  # type: ignore[misc]
        self.in_flight.set_function(in_flight)
        self.queued.set_function(queued)

    def count_end(self, status: str, predict_seconds: float | None) -> None:
        """A prediction ended with `status`, `predict_seconds` after it was sent to the worker."""
        children = self._by_status.get(status)
        if children is None:
            children = self._by_status[status] = (self.predictions.labels(status), self.predict_duration.labels(status))
        children[0].inc()
        if predict_seconds is not None:
            children[1].observe(predict_seconds)

    def count_transition(self, old: str, new: str) -> None:
        move = self._moves.get((old, new))
        if move is None:
            move = self._moves[(old, new)] = self.transitions.labels(old, new)
        move.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
