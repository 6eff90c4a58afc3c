"""The plan: for each repeat, for each predictor, each server in turn (A B C A B C ...).

A run that fails (a server that will not start, a client error) is recorded with its error and
the plan goes on: one broken server must not cost the other two their numbers.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks import envs, schemas
from benchmarks.scenarios import SCENARIOS, Settings
from benchmarks.servers import REPO, ServerSpec, cog098_spec, coglet_spec, running, sprocket_spec
from benchmarks.webhooks import Receiver

log = logging.getLogger("bench.run")


@dataclass
class RunRecord:
    repeat: int
    predictor: str
    server: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def server_specs(coglet_version: str) -> list[ServerSpec]:
    """Sprocket, Cog 0.9.8 and coglet, creating the reference envs if they are missing."""
    own, digest = envs.sprocket(REPO)
    cog = envs.cog_098()
    cl = envs.coglet(coglet_version)
    return [
        sprocket_spec(own.python, digest),
        cog098_spec(cog.python, envs.installed_version(cog, "cog")),
        coglet_spec(cl.python, cl.bin_dir, envs.installed_version(cl, "coglet")),
    ]


def run_plan(specs: list[ServerSpec], settings: Settings, predictors: list[str]) -> tuple[list[RunRecord], dict[str, Any]]:
    reference = next(s for s in specs if s.name == "cog-0.9.8")
    log.info("making .cog/openapi_schema.json for coglet from Cog 0.9.8's /openapi.json")
    schema_of = schemas.all_schemas(reference, predictors)
    records: list[RunRecord] = []
    with Receiver() as receiver:
        for repeat in range(settings.repeats):
            for predictor in predictors:
                for spec in specs:
                    record = RunRecord(repeat, predictor, spec.name)
                    started = time.monotonic()
                    try:
                        with running(spec, predictor, schema_of.get(predictor)) as server:
                            measured = SCENARIOS[predictor](server, settings, receiver)
                            server.check_alive()
                        record.metrics, record.samples, record.notes = (
                            measured.metrics, measured.samples, measured.notes)
                    except Exception as error:  # noqa: BLE001 - recorded, and the plan goes on
                        record.error = f"{type(error).__name__}: {error}"
                        log.error("repeat %d %s on %s failed: %s", repeat + 1, predictor, spec.name,
                                  traceback.format_exc(limit=3))
                    record.seconds = time.monotonic() - started
                    log.info("repeat %d/%d %-10s %-14s %5.1f s %s", repeat + 1, settings.repeats,
                             predictor, spec.name, record.seconds, _headline(record))
                    records.append(record)
    return records, {"schemas": sorted(schema_of)}


def _headline(record: RunRecord) -> str:
    if record.error:
        return f"ERROR {record.error[:120]}"
    shown = {k: v for k, v in record.metrics.items() if v is not None and not k.startswith(("ok_", "share"))}
    return " ".join(f"{k}={v:.3g}" for k, v in list(shown.items())[:6])


def as_json(records: list[RunRecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in records]
