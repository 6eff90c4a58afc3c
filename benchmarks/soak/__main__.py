"""`python -m benchmarks.soak`: 20 000 predictions of mixed kinds against one Sprocket server.

One server (`python -m runtime` serving benchmarks/soak/predictor, a synchronous predictor whose
`kind` input picks a behaviour), several client threads posting back to back, the server's queue
(SPROCKET_QUEUE_SIZE = clients) so none of them gets 409. Every `--every` predictions it samples
the front's and the worker's RSS, open file descriptors and threads, and the entries in the
server's private TMPDIR. It reports the drift from the first sample after `--warmup` to the
last, and a least-squares slope per 1000 predictions; it asserts nothing about them.

It does check every answer: an HTTP error, a transport error or an answer that is not what the
kind should give is counted and shown, and makes the exit code 1. `raise` predictions ending
`failed` are expected and are not errors.

Writes benchmarks/results/soak-<YYYY-MM-DD>.json (every sample, the summary, the machine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PREDICTOR = HERE / "predictor"
RESULTS = REPO / "benchmarks" / "results"

# One cycle of the mix; request i gets MIX[i % len(MIX)]. "stream" is the iterator kind read as
# server-sent events.
MIX = ("echo", "file", "big", "echo", "iterator", "raise", "file", "stream", "echo", "big")
METRICS = (
    "front_rss_mib",
    "worker_rss_mib",
    "front_fds",
    "worker_fds",
    "front_threads",
    "worker_threads",
    "tmp_entries",
)
_LISTENING = re.compile(r"listening on (http://[^\s\"]+)")
_BIG = 100 * 1024


@dataclass
class Sample:
    predictions: int
    seconds: float
    front_rss_mib: float
    worker_rss_mib: float
    front_fds: int
    worker_fds: int
    front_threads: int
    worker_threads: int
    tmp_entries: int
    worker_pid: int


@dataclass
class Tally:
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    http_errors: int = 0
    transport_errors: int = 0
    wrong: int = 0
    examples: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        kinds = self.by_kind.setdefault(kind, {})
        kinds[outcome] = kinds.get(outcome, 0) + 1

    def problem(self, text: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(text)


class SoakServer:
    """`python -m runtime` on 127.0.0.1, any free port, TMPDIR a private directory."""

    def __init__(self, clients: int, workdir: Path) -> None:
        self.tmp = workdir / "tmp"
        self.tmp.mkdir()
        self.log_path = workdir / "server.log"
        env = {
            **os.environ,
            "PORT": "0",
            "TMPDIR": str(self.tmp),
            "COG_LOG_LEVEL": "info",
            "SPROCKET_QUEUE_SIZE": str(clients),
            "SPROCKET_QUEUE_TIMEOUT": "120",
        }
        env.pop("COG_PREDICT_TYPE_STUB", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - the server's log, open while it runs, closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime", "--host", "127.0.0.1"],
            cwd=PREDICTOR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_for(self._listening, 30, "the server to listen")
        self._wait_for(lambda: self._health() == "READY", 60, "READY")
        self.front = psutil.Process(self.process.pid)

    def _wait_for(self, probe: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"soak: the server exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            value = probe()
            if value:
                return value
            time.sleep(0.05)
        raise SystemExit(f"soak: timed out after {timeout} s waiting for {what}:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _listening(self) -> str | None:
        match = _LISTENING.search(self.log())
        return match.group(1) if match else None

    def _health(self) -> str | None:
        try:
            return requests.get(self.url + "/health-check", timeout=5).json()["status"]
        except (requests.RequestException, ValueError, KeyError):
            return None

    def worker(self) -> psutil.Process:
        children = self.front.children()
        if len(children) != 1:
            raise RuntimeError(f"expected one worker, found {children}")
        return children[0]

    def sample(self, predictions: int, started: float) -> Sample:
        worker = self.worker()
        with self.front.oneshot(), worker.oneshot():
            return Sample(
                predictions=predictions,
                seconds=round(time.monotonic() - started, 3),
                front_rss_mib=round(self.front.memory_info().rss / 2**20, 2),
                worker_rss_mib=round(worker.memory_info().rss / 2**20, 2),
                front_fds=self.front.num_fds(),
                worker_fds=worker.num_fds(),
                front_threads=self.front.num_threads(),
                worker_threads=worker.num_threads(),
                tmp_entries=len(os.listdir(self.tmp)),
                worker_pid=worker.pid,
            )

    def stop(self) -> dict[str, Any]:
        """SIGTERM, wait for exit (SIGKILL after 30 s); what was left behind."""
        family = self.front.children(recursive=True)
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        _, alive = psutil.wait_procs(family, timeout=5)
        for process in alive:
            process.kill()
        self._log.close()
        return {
            "exit_code": code,
            "processes_left": [p.pid for p in alive],
            "tmp_entries_after_exit": sorted(os.listdir(self.tmp))[:20],
        }


def check(kind: str, response: requests.Response) -> tuple[str, str | None]:
    """(outcome for the tally, what was wrong or None)."""
    if response.status_code != 200:
        return "http_error", f"{kind}: HTTP {response.status_code}: {response.text[:200]}"
    if kind == "stream":
        completed = None
        for block in response.text.split("\n\n"):
            if "event: completed" in block:
                data = "".join(line[5:].strip() for line in block.splitlines() if line.startswith("data:"))
                completed = json.loads(data)
        if completed is None:
            return "wrong", f"stream: no completed event in {response.text[-200:]!r}"
        body = completed
    else:
        body = response.json()
    status, output = body.get("status"), body.get("output")
    if kind == "raise":
        ok = status == "failed" and "soak asked for a failure" in (body.get("error") or "")
    elif status != "succeeded" or not isinstance(output, list):
        ok = False
    elif kind == "echo":
        ok = output == [body["input"]["text"]]
    elif kind == "file":
        ok = len(output) == 1 and output[0].startswith("data:text/plain")
    elif kind == "big":
        ok = len(output) == 1 and len(output[0]) == _BIG
    else:  # iterator, stream
        ok = len(output) == 20 and output[19] == f"{body['input']['text']}-19"
    if not ok:
        return "wrong", f"{kind}: status {status}, error {body.get('error')!r}, output {str(output)[:120]}"
    return status, None


def run_clients(url: str, args: argparse.Namespace, server: SoakServer, tally: Tally, samples: list[Sample]) -> float:
    lock = threading.Condition()
    issued = 0
    done = 0
    started = time.monotonic()
    deadline = started + args.max_seconds

    def client(number: int) -> None:
        nonlocal issued, done
        with requests.Session() as session:
            while time.monotonic() < deadline:
                with lock:
                    if issued >= args.predictions:
                        return
                    index = issued
                    issued += 1
                kind = MIX[index % len(MIX)]
                body = {"input": {"kind": "iterator" if kind == "stream" else kind, "text": f"c{number}-{index}"}}
                headers = {"Accept": "text/event-stream"} if kind == "stream" else {}
                sent = time.monotonic()
                try:
                    response = session.post(url + "/predictions", json=body, headers=headers, timeout=60)
                    outcome, problem = check(kind, response)
                except (requests.RequestException, ValueError) as error:
                    outcome, problem = "transport_error", f"{kind}: {error!r}"
                elapsed = time.monotonic() - sent
                with lock:
                    tally.count(kind, outcome)
                    tally.latencies.setdefault(kind, []).append(elapsed)
                    if outcome == "http_error":
                        tally.http_errors += 1
                    elif outcome == "transport_error":
                        tally.transport_errors += 1
                    elif outcome == "wrong":
                        tally.wrong += 1
                    if problem:
                        tally.problem(problem)
                    done += 1
                    lock.notify_all()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    samples.append(server.sample(0, started))
    for thread in threads:
        thread.start()
    next_sample = args.every
    last_report = time.monotonic()
    while any(t.is_alive() for t in threads):
        with lock:
            lock.wait_for(
                lambda target=next_sample: done >= target or issued >= args.predictions and done == issued, timeout=1
            )
            count = done
        if count >= next_sample:
            samples.append(server.sample(count, started))
            next_sample = (count // args.every + 1) * args.every
        if time.monotonic() - last_report > 15:
            last_report = time.monotonic()
            rate = count / (time.monotonic() - started)
            print(f"soak: {count}/{args.predictions} predictions, {rate:.0f}/s", file=sys.stderr, flush=True)
        if time.monotonic() > deadline + 120:
            raise SystemExit("soak: client threads still running two minutes past --max-seconds")
    for thread in threads:
        thread.join(70)
    if samples[-1].predictions != done:
        samples.append(server.sample(done, started))
    return time.monotonic() - started


def slope_per_1000(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return 1000 * sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def summarize(samples: list[Sample], warmup: int) -> dict[str, dict[str, Any]]:
    measured = [s for s in samples if s.predictions >= warmup] or samples
    first, last = measured[0], measured[-1]
    summary = {}
    for metric in METRICS:
        slope = slope_per_1000([(s.predictions, getattr(s, metric)) for s in measured])
        summary[metric] = {
            "at_start": getattr(samples[0], metric),
            "first": getattr(first, metric),
            "last": getattr(last, metric),
            "min": min(getattr(s, metric) for s in measured),
            "max": max(getattr(s, metric) for s in measured),
            "drift": round(getattr(last, metric) - getattr(first, metric), 2),
            "slope_per_1000": None if slope is None else round(slope, 4),
            "first_at": first.predictions,
            "last_at": last.predictions,
        }
    return summary


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_report(
    summary: dict[str, dict[str, Any]],
    tally: Tally,
    duration: float,
    total: int,
    settled: Sample,
    stopped: dict[str, Any],
) -> None:
    first_at, last_at = summary[METRICS[0]]["first_at"], summary[METRICS[0]]["last_at"]
    print(f"\n{total} predictions in {duration:.1f} s ({total / duration:.0f}/s)")
    print(
        f"\n{'metric':<16}{'at 0':>10}{f'at {first_at}':>12}{f'at {last_at}':>12}{'min':>10}{'max':>10}"
        f"{'drift':>10}{'slope/1000':>12}"
    )
    for metric, row in summary.items():
        slope = "-" if row["slope_per_1000"] is None else f"{row['slope_per_1000']:+.3f}"
        print(
            f"{metric:<16}{row['at_start']:>10}{row['first']:>12}{row['last']:>12}{row['min']:>10}"
            f"{row['max']:>10}{row['drift']:>+10}{slope:>12}"
        )
    print(
        f"\ntmp entries 2 s after the last prediction: {settled.tmp_entries}; after exit: "
        f"{len(stopped['tmp_entries_after_exit'])}; exit code {stopped['exit_code']}; "
        f"processes left {stopped['processes_left']}"
    )
    print(f"\n{'kind':<10}{'outcomes':<40}{'p50 ms':>8}{'p99 ms':>8}")
    for kind, outcomes in sorted(tally.by_kind.items()):
        latencies = tally.latencies.get(kind, [0.0])
        print(
            f"{kind:<10}{json.dumps(outcomes):<40}{1000 * percentile(latencies, 0.5):>8.1f}"
            f"{1000 * percentile(latencies, 0.99):>8.1f}"
        )
    print(f"\nHTTP errors {tally.http_errors}, transport errors {tally.transport_errors}, wrong answers {tally.wrong}")
    for example in tally.examples:
        print(f"  {example}")


def git_revision() -> dict[str, Any]:
    def git(*command: str) -> str:
        try:
            return subprocess.run(
                ["git", *command], cwd=REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "runtime"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions", type=int, default=20000, help="how many (default 20000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--every", type=int, default=500, help="sample every N predictions (default 500)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1000,
        help="drift and slope start from the first sample at or after this many (default 1000)",
    )
    parser.add_argument("--max-seconds", type=float, default=3600, help="stop issuing after this long (default 3600)")
    parser.add_argument("--output", type=Path, help="JSON results (default benchmarks/results/soak-<date>.json)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="sprocket-soak-"))
    server = SoakServer(args.clients, workdir)
    tally, samples = Tally(), []
    stopped: dict[str, Any] = {}
    try:
        print(
            f"soak: {args.predictions} predictions, {args.clients} clients, server {server.url}, TMPDIR {server.tmp}",
            file=sys.stderr,
            flush=True,
        )
        duration = run_clients(server.url, args, server, tally, samples)
        time.sleep(2)
        settled = server.sample(samples[-1].predictions, time.monotonic())
    finally:
        if server.process.poll() is None:
            stopped = server.stop()
        else:
            stopped = {
                "exit_code": server.process.returncode,
                "processes_left": [],
                "tmp_entries_after_exit": sorted(os.listdir(server.tmp))[:20],
            }
            print(server.log()[-3000:], file=sys.stderr)
    total = sum(sum(outcomes.values()) for outcomes in tally.by_kind.values())
    summary = summarize(samples, args.warmup)
    print_report(summary, tally, duration, total, settled, stopped)
    workers = sorted({s.worker_pid for s in samples})

    today = datetime.date.today().isoformat()
    output = args.output or RESULTS / f"soak-{today}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "date": today,
                "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "mix": MIX,
                "duration_seconds": round(duration, 2),
                "predictions": total,
                "http_errors": tally.http_errors,
                "transport_errors": tally.transport_errors,
                "wrong_answers": tally.wrong,
                "problems": tally.examples,
                "outcomes": tally.by_kind,
                "latency_ms": {
                    kind: {"p50": round(1000 * percentile(v, 0.5), 2), "p99": round(1000 * percentile(v, 0.99), 2)}
                    for kind, v in tally.latencies.items()
                },
                "summary": summary,
                "settled": asdict(settled),
                "shutdown": stopped,
                "worker_pids": workers,
                "samples": [asdict(s) for s in samples],
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "revision": git_revision(),
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nwrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    if len(workers) > 1:
        print(f"note: the worker was replaced during the run (pids {workers})")
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if tally.http_errors or tally.transport_errors or tally.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
