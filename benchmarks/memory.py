"""Peak memory of a server's front (the process we started) and its worker (every descendant,
summed) during a transfer, sampled in a thread every few milliseconds with psutil."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil

from benchmarks.servers import RunningServer

MB = 1_000_000  # the "64 MB above idle" is in decimal megabytes
_INTERVAL = 0.005
_TREE_REFRESH = 0.1  # a worker may start or be replaced; re-read the tree this often


@dataclass
class Peaks:
    idle_front_mb: float
    idle_worker_mb: float
    peak_front_mb: float = 0.0
    peak_worker_mb: float = 0.0
    samples: int = 0

    @property
    def front_above_idle_mb(self) -> float:
        return max(0.0, self.peak_front_mb - self.idle_front_mb)

    @property
    def worker_above_idle_mb(self) -> float:
        return max(0.0, self.peak_worker_mb - self.idle_worker_mb)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


class PeakMemory:
    """`with PeakMemory(server) as peaks:` samples RSS from entry to exit; idle is read on entry."""

    def __init__(self, server: RunningServer) -> None:
        self._server = server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        front, worker = self._read(server.tree())
        self.peaks = Peaks(front / MB, worker / MB, front / MB, worker / MB)

    @staticmethod
    def _read(tree: list[psutil.Process]) -> tuple[int, int]:
        if not tree:
            return 0, 0
        return _rss(tree[0]), sum(_rss(p) for p in tree[1:])

    def _sample(self) -> None:
        tree = self._server.tree()
        refreshed = time.monotonic()
        while not self._stop.wait(_INTERVAL):
            if time.monotonic() - refreshed > _TREE_REFRESH:
                tree, refreshed = self._server.tree(), time.monotonic()
            front, worker = self._read(tree)
            self.peaks.peak_front_mb = max(self.peaks.peak_front_mb, front / MB)
            self.peaks.peak_worker_mb = max(self.peaks.peak_worker_mb, worker / MB)
            self.peaks.samples += 1

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self.peaks

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
