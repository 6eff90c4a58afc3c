"""`python -m benchmarks`: Sprocket, Cog 0.9.8 and coglet on the same predictors, interleaved.

Writes benchmarks/results/<date>.json, .md and .png. `make bench` runs it; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
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

from benchmarks import noise, report
from benchmarks.profile import profile_sprocket
from benchmarks.run import run_plan, server_specs
from benchmarks.scenarios import SCENARIOS, Settings
from benchmarks.servers import REPO

log = logging.getLogger("bench")


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of A B C (default 5)")
    parser.add_argument("--requests", type=int, default=2000, help="sequential noop requests per run")
    parser.add_argument("--wrk-seconds", type=float, default=4.0, help="length of each wrk run")
    parser.add_argument("--predictors", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--coglet-version", default="0.23.1")
    parser.add_argument("--no-profile", action="store_true", help="skip figure 8 (py-spy on Sprocket)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args(argv)


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
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=30, check=False).stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain", "--", "runtime") else ""
    return f"{git('rev-parse', '--short', 'HEAD') or '?'}{dirty}"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args = _args(argv)
    settings = Settings(repeats=args.repeats, noop_requests=args.requests, wrk_seconds=args.wrk_seconds)
    started = time.monotonic()
    specs = server_specs(args.coglet_version)
    names = [s.name for s in specs]
    log.info("servers: %s", ", ".join(f"{s.name} ({s.version})" for s in specs))
    before = noise.snapshot()
    records, extra = run_plan(specs, settings, args.predictors)
    profile: dict[str, Any] | None = None
    if not args.no_profile:
        log.info("profiling a noop prediction in Sprocket (py-spy + CPU times)")
        try:
            profile = profile_sprocket(specs[0], args.requests)
        except Exception as error:  # noqa: BLE001 - the other figures are still worth writing
            log.error("profile failed: %s", error)
    company = noise.company(before, noise.snapshot())
    memory = psutil.virtual_memory().total / 2**30
    meta = {
        "date": datetime.date.today().isoformat(),
        "command": "make bench" if os.environ.get("MAKELEVEL") else "python -m benchmarks " + " ".join(argv),
        "settings": settings.__dict__,
        "seconds": time.monotonic() - started,
        "machine": {"cores": os.cpu_count(), "cpu": _cpu_model(), "memory_gib": memory,
                    "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
                    "company": company},
        "sprocket_commit": _commit(),
        "versions": {s.name: s.version for s in specs},
        "commands": {s.name: " ".join(s.args) + (f" (env {s.env})" if s.env else "") for s in specs},
        **extra,
    }
    paths = report.write(args.out, meta, records, names, profile)
    log.info("wrote %s in %.1f min", ", ".join(str(p) for p in paths), meta["seconds"] / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
