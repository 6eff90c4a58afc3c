"""Figure 8, Sprocket alone: where a noop prediction's time goes.

Three sources, each honest about what it sees:
- wall clock at the client: a noop POST /predictions and GET /health-check (the front alone,
  no IPC);
- CPU time (psutil, user + system) of the front, the worker and the client over a window of
  back-to-back noop predictions, divided by the requests done: CPU per request per process;
- py-spy sampling both processes (`--subprocesses --nonblocking --gil`: only the thread holding
  the GIL is sampled, so a thread blocked on a lock or a socket is not counted), grouped by the
  layer nearest the sampled frame. C code (uvloop, aiohttp's parser, zmq) is charged to the
  Python frame that called it; time with the GIL released (syscalls in uvloop) is not sampled.

What neither process spends on CPU is waiting: socket and ZeroMQ wake-ups, the scheduler.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from benchmarks.load import Client, sequential
from benchmarks.servers import ServerSpec, running
from benchmarks.stats import summary

_RATE = 500
_WINDOW = 6.0

# Layer of a sampled stack: the first of these found walking from the leaf towards the root.
FRONT_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("per-prediction dir (mkdir/rmtree)", ("shutil.py", "genericpath", "<frozen os>")),
    ("thread-pool hand-off (to_thread)", ("concurrent/futures/", "asyncio/threads.py")),
    ("IPC (runtime/ipc, pyzmq)", ("runtime/ipc/", "zmq/")),
    ("JSON / msgspec encode-decode", ("json/", "msgspec")),
    ("input validation (runtime/schema)", ("runtime/schema/",)),
    ("supervisor (runtime/supervisor)", ("runtime/supervisor/",)),
    ("access log (logging)", ("runtime/http/access_log", "runtime/logs", "logging/")),
    ("routes + prediction object (runtime/http)", ("runtime/http/",)),
    ("aiohttp HTTP protocol", ("aiohttp/",)),
    ("event loop (asyncio/uvloop, C)", ("asyncio/", "uvloop")),
]
WORKER_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("predict() itself", ("predict.py",)),
    ("per-prediction dir (mkdir/rmtree)", ("shutil.py", "genericpath", "<frozen os>")),
    ("IPC (runtime/ipc, pyzmq)", ("runtime/ipc/", "zmq/")),
    ("log capture (runtime/worker/capture)", ("runtime/worker/capture",)),
    ("output/arguments (runtime/schema)", ("runtime/schema/",)),
    ("worker loop (runtime/worker)", ("runtime/worker/",)),
    ("threading / event loop", ("threading.py", "asyncio/")),
]


def _py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def _layer(frames: list[str], layers: list[tuple[str, tuple[str, ...]]]) -> str:
    for frame in reversed(frames):
        for name, needles in layers:
            if any(n in frame for n in needles):
                return name
    return "other"


def _short(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file.py:12)', shortened to the package-relative path."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def parse_raw(path: Path, front_pid: int) -> dict[str, Any]:
    """py-spy's raw (collapsed) output -> sample counts per process, layer and leaf frame."""
    per_process: Counter[str] = Counter()
    layers: dict[str, Counter[str]] = {"front": Counter(), "worker": Counter()}
    leaves: dict[str, Counter[str]] = {"front": Counter(), "worker": Counter()}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        processes = [f for f in frames if f.startswith("process ")]
        code = [f for f in frames if not f.startswith(("process ", "thread "))]
        owner = "front" if processes and processes[-1].startswith(f"process {front_pid}:") else "worker"
        per_process[owner] += count
        layers[owner][_layer(code, FRONT_LAYERS if owner == "front" else WORKER_LAYERS)] += count
        if code:
            leaves[owner][_short(code[-1])] += count
    return {
        "samples": dict(per_process),
        "layers": {k: dict(v.most_common()) for k, v in layers.items()},
        "top_leaves": {k: v.most_common(12) for k, v in leaves.items()},
    }


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def profile_sprocket(spec: ServerSpec, requests: int) -> dict[str, Any]:
    with running(spec, "noop") as server:
        client = Client(server.host, server.port)
        try:
            health = sequential(client, "GET", "/health-check", None, requests)
            noop = sequential(client, "POST", "/predictions", {"input": {"text": "hi"}}, requests)
            front = psutil.Process(server.process.pid)
            workers = front.children(recursive=True)
            me = psutil.Process()
            out_dir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
            raw = out_dir / "noop.raw"
            spy = _py_spy()
            spy_process: subprocess.Popen[bytes] | None = None
            if spy is not None:
                spy_process = subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(front.pid),
                        "--subprocesses",
                        "--nonblocking",
                        "--gil",
                        "--rate",
                        str(_RATE),
                        "--format",
                        "raw",
                        "--output",
                        str(raw),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
                time.sleep(1.0)  # let it attach
            before = (_cpu(front), sum(_cpu(w) for w in workers), _cpu(me))
            started = time.perf_counter()
            done = 0
            payload = b'{"input":{"text":"hi"}}'
            headers = {"Content-Type": "application/json"}
            while time.perf_counter() - started < _WINDOW:
                client.request("POST", "/predictions", payload, headers)
                done += 1
            elapsed = time.perf_counter() - started
            after = (_cpu(front), sum(_cpu(w) for w in workers), _cpu(me))
            sampled: dict[str, Any] = {"note": "py-spy not found"}
            if spy_process is not None:
                os.killpg(spy_process.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
                try:
                    _, err = spy_process.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(spy_process.pid, signal.SIGKILL)
                    _, err = spy_process.communicate(timeout=10)
                if raw.exists():
                    sampled = parse_raw(raw, front.pid)
                else:
                    sampled = {"note": f"py-spy wrote nothing: {err.decode(errors='replace')[-300:]}"}
            shutil.rmtree(out_dir, ignore_errors=True)
        finally:
            client.close()
    per_request = {name: (after[i] - before[i]) / done * 1e6 for i, name in enumerate(("front", "worker", "client"))}
    wall_us = elapsed / done * 1e6
    return {
        "requests_in_window": done,
        "window_wall_us_per_request": wall_us,
        "cpu_us_per_request": per_request,
        "unaccounted_us_per_request": wall_us - sum(per_request.values()),
        "noop_p50_us": summary(noop.latencies)["p50"] * 1e6,
        "health_p50_us": summary(health.latencies)["p50"] * 1e6,
        "predict_time_p50_us": summary(noop.predict_times)["p50"] * 1e6 if noop.predict_times else None,
        "py_spy": sampled,
    }
