"""Periodic watch over the worker and the GPUs: samples into metrics and `/health-check`, and the
limits that end a worker (memory over `SPROCKET_MEMORY_LIMIT_MB`, a fatal GPU condition).

psutil runs in a thread every `interval` seconds; the GPU watcher has a thread of its own. Neither
ever blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from runtime.supervisor.gpu import GpuSample, GpuWatcher
from runtime.supervisor.restart import Cause
from runtime.supervisor.supervisor import Supervisor
from runtime.supervisor.watch import MIB, STUCK_STATES, ProcessSample

log = logging.getLogger("sprocket.supervisor")

STUCK_SECONDS = 3.0


class Monitor:
    def __init__(
        self, supervisor: Supervisor, interval: float, gpu_interval: float, memory_limit_bytes: int | None
    ) -> None:
        self.supervisor = supervisor
        self._interval = interval
        self._memory_limit_bytes = memory_limit_bytes
        self.process: ProcessSample | None = None
        self.gpus: list[GpuSample] = []
        self._gpu = GpuWatcher(gpu_interval)
        self._task: asyncio.Task[None] | None = None
        self._stuck_since: float | None = None

    def start(self) -> None:
        self._gpu.start(asyncio.get_running_loop(), self._on_gpu_samples, self._on_gpu_fatal)
        self._task = asyncio.create_task(self._sample_forever(), name="monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._gpu.stop)

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            watch = self.supervisor.watch
            if watch is None:
                continue
            sample = await asyncio.to_thread(watch.sample)
            if sample is None or watch is not self.supervisor.watch:
                continue  # the worker went (or was replaced) while we sampled
            self.process = sample
            metrics = self.supervisor.metrics
            metrics.worker_rss.set(sample.rss_bytes)
            metrics.worker_cpu.set(sample.cpu_seconds)
            limit = self._memory_limit_bytes
            if limit is not None and sample.rss_bytes > limit:
                self.supervisor.kill_worker(
                    f"exceeded memory limit {limit // MIB} MiB (RSS {sample.rss_bytes // MIB} MiB)", Cause.LIMIT
                )
            self._check_progress(sample.status)

    def _check_progress(self, status: str) -> None:
        """A worker the kernel reports stopped (SIGSTOP, a debugger) or a zombie for
        STUCK_SECONDS can run nothing: it is killed and handled like a crash. (A long predict()
        is legitimate and never timed out here.)"""
        if status not in STUCK_STATES:
            self._stuck_since = None
            return
        now = time.monotonic()
        if self._stuck_since is None:
            self._stuck_since = now
            log.warning("the worker is %s; it is killed unless that changes within %.0f s", status, STUCK_SECONDS)
        elif now - self._stuck_since >= STUCK_SECONDS:
            self.supervisor.kill_worker(
                f"worker was {status} for {now - self._stuck_since:.0f} s and could not make progress; killed",
                Cause.CRASHED,
            )

    def _on_gpu_samples(self, samples: list[GpuSample]) -> None:
        self.gpus = samples
        metrics = self.supervisor.metrics
        for gpu in samples:
            labels = (str(gpu.index), gpu.uuid)
            metrics.gpu_memory_used.labels(*labels).set(gpu.memory_used_bytes)
            metrics.gpu_memory_total.labels(*labels).set(gpu.memory_total_bytes)
            metrics.gpu_utilization.labels(*labels).set(gpu.utilization_ratio)
            metrics.gpu_temperature.labels(*labels).set(gpu.temperature_celsius)
            if gpu.power_watts is not None:
                metrics.gpu_power.labels(*labels).set(gpu.power_watts)

    def _on_gpu_fatal(self, reason: str) -> None:
        log.error("fatal GPU condition: %s", reason)
        self.supervisor.kill_worker(reason, Cause.GPU)

    def as_json(self) -> dict[str, Any]:
        """What /health-check adds about the worker process and the GPUs."""
        worker: dict[str, Any] = {"pid": self.supervisor.worker_pid}
        if self.process is not None:
            worker |= {"rss_bytes": self.process.rss_bytes, "cpu_seconds": round(self.process.cpu_seconds, 3)}
        return {"worker": worker, "gpus": [gpu.as_json() for gpu in self.gpus]}
