"""`python -m benchmarks`: Sprocket, Cog 0.9.8 and coglet on the same predictors, interleaved.

Writes benchmarks/results/<date>.json, .md and .png. `make bench` runs it; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import floors, noise, replicas, report
from benchmarks.measure import QUICK, Settings
from benchmarks.profile import profile_sprocket
from benchmarks.run import RunRecord, run_plan, server_specs
from benchmarks.scenarios import SCENARIOS
from benchmarks.servers import REPO

log = logging.getLogger("bench")


# flag -> Settings field; unset flags keep the default (or --quick's) value.
_SIZES = {
    "repeats": ("rounds of A B C", int),
    "requests": ("sequential noop requests per run", int),
    "wrk_seconds": ("length of each wrk run (figure 3)", float),
    "overload_seconds": ("length of each wrk run of goodput/queued", float),
    "queue_size": ("SPROCKET_QUEUE_SIZE in the queued scenario", int),
    "big_file_mib": ("size of the file_output / file_url_input file", int),
    "stream_tokens": ("tokens per stream in the streams scenario", int),
    "replicas": ("replicas in the replicas scenario (at most 3)", int),
    "replica_seconds": ("measurement window of each replicas run", float),
    "embed_clients": ("concurrent clients in the embed scenarios", int),
    "embed_seconds": ("measurement window of each embed run", float),
}
_FIELD = {"requests": "noop_requests"}
ALL_SCENARIOS = [*SCENARIOS, "replicas"]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for a quick look: "
        + ", ".join(
            f"{f.name}={getattr(QUICK, f.name)}"
            for f in dataclasses.fields(QUICK)
            if getattr(QUICK, f.name) != getattr(Settings(), f.name)
        ),
    )
    for flag, (what, kind) in _SIZES.items():
        parser.add_argument(
            f"--{flag.replace('_', '-')}",
            type=kind,
            help=f"{what} (default {getattr(Settings(), _FIELD.get(flag, flag))})",
        )
    parser.add_argument("--stream-counts", type=int, nargs="+", help="concurrent streams (default 64 256)")
    parser.add_argument("--scenarios", "--predictors", nargs="+", choices=ALL_SCENARIOS, default=ALL_SCENARIOS)
    parser.add_argument("--coglet-version", default="0.23.1")
    parser.add_argument("--no-profile", action="store_true", help="skip figure 8 (py-spy on Sprocket)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args(argv)


def _settings(args: argparse.Namespace) -> Settings:
    chosen = {_FIELD.get(flag, flag): getattr(args, flag) for flag in _SIZES if getattr(args, flag) is not None}
    if args.stream_counts:
        chosen["stream_counts"] = tuple(args.stream_counts)
    return dataclasses.replace(QUICK if args.quick else Settings(), **chosen)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", "runtime") else ""
    return f"{git('rev-parse', '--short', 'HEAD') or '?'}{dirty}"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args = _args(argv)
    settings = _settings(args)
    started = time.monotonic()
    specs = server_specs(args.coglet_version)
    names = [s.name for s in specs]
    versions = {s.name: s.version for s in specs}
    log.info("servers: %s", ", ".join(f"{s.name} ({s.version})" for s in specs))
    before = noise.snapshot()
    records, extra = run_plan(specs, settings, [name for name in args.scenarios if name in SCENARIOS])
    if "replicas" in args.scenarios:
        log.info("replicas behind HAProxy in containers (Sprocket only)")
        records.append(replicas.measure(settings, [str(specs[0].python.parent / "sprocket")]))
        records += [RunRecord(0, "replicas", spec.name, cannot=replicas.CANNOT) for spec in specs[1:]]
    if any(record.server == floors.FLOOR for record in records):
        names.append(floors.FLOOR)
        versions[floors.FLOOR] = floors.VERSION
    profile: dict[str, Any] | None = None
    if not args.no_profile:
        log.info("profiling a noop prediction in Sprocket (py-spy + CPU times)")
        try:
            profile = profile_sprocket(specs[0], settings.noop_requests)
        except Exception as error:
            log.error("profile failed: %s", error)
    company = noise.company(before, noise.snapshot())
    memory = psutil.virtual_memory().total / 2**30
    meta = {
        "date": datetime.date.today().isoformat(),
        "command": "make bench" if os.environ.get("MAKELEVEL") else "python -m benchmarks " + " ".join(argv),
        "settings": dataclasses.asdict(settings),
        "seconds": time.monotonic() - started,
        "machine": {
            "cores": os.cpu_count(),
            "cpu": _cpu_model(),
            "memory_gib": memory,
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "company": company,
        },
        "sprocket_commit": _commit(),
        "versions": versions,
        "commands": {s.name: " ".join(s.args) + (f" (env {s.env})" if s.env else "") for s in specs},
        **extra,
    }
    paths = report.write(args.out, meta, records, names, profile)
    log.info("wrote %s in %.1f min", ", ".join(str(p) for p in paths), meta["seconds"] / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
