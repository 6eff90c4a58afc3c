"""The plan: for each repeat, for each scenario, each server in turn (A B C A B C ...), then the
scenario's floor where it has one (benchmarks/floors.py).

A run that fails (a server that will not start, a client error) is recorded with its error and
the plan goes on: one broken server must not cost the other two their numbers. A server that
cannot run a scenario at all is recorded once per repeat with the reason, and not started.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks import envs, schemas
from benchmarks.floors import FLOOR
from benchmarks.measure import Measured, Peers, Settings
from benchmarks.scenarios import COG_098, SCENARIOS
from benchmarks.servers import REPO, ServerSpec, cog098_spec, coglet_spec, running, sprocket_spec
from benchmarks.transfers import TransferPeer
from benchmarks.webhooks import Receiver

log = logging.getLogger("bench.run")


@dataclass
class RunRecord:
    repeat: int
    scenario: str  # figures 1-7 are named after their predictor
    server: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    cannot: str | None = None  # why this server cannot run this scenario


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


def _schemas(specs: list[ServerSpec], scenarios: list[str]) -> dict[str, dict[str, Any]]:
    """coglet's schema file per predictor, from Cog 0.9.8, or Sprocket where Cog 0.9.8 cannot load it."""
    by_name = {s.name: s for s in specs}
    coglet = next(s.name for s in specs if s.needs_schema_file)
    out: dict[str, dict[str, Any]] = {}
    for name in scenarios:
        scenario = SCENARIOS[name]
        predictor = scenario.predictor_for(coglet)
        if predictor in out or scenario.reason_against(coglet):
            continue
        cog_loads_it = not scenario.reason_against(COG_098) and scenario.predictor_for(COG_098) == predictor
        source = by_name[COG_098] if cog_loads_it else by_name["sprocket"]
        out[predictor] = schemas.openapi_schema(source, predictor)
    return out


def _recorded(record: RunRecord, measure: Callable[[], Measured]) -> RunRecord:
    """`record` with what `measure` gave, or with its error: one failed run must not stop the plan."""
    started = time.monotonic()
    try:
        measured = measure()
        record.metrics, record.samples, record.notes = measured.metrics, measured.samples, measured.notes
    except Exception as error:
        record.error = f"{type(error).__name__}: {error}"
        log.error(
            "repeat %d %s on %s failed: %s",
            record.repeat + 1,
            record.scenario,
            record.server,
            traceback.format_exc(limit=3),
        )
    record.seconds = time.monotonic() - started
    return record


def _measure(
    spec: ServerSpec, name: str, repeat: int, settings: Settings, peers: Peers, schema_of: dict[str, dict[str, Any]]
) -> RunRecord:
    scenario = SCENARIOS[name]
    record = RunRecord(repeat, name, spec.name)
    record.cannot = scenario.reason_against(spec.name)
    if record.cannot:
        return record
    predictor = scenario.predictor_for(spec.name)

    def measure() -> Measured:
        with running(
            spec, predictor, schema_of.get(predictor), scenario.env_of(spec.name, settings), scenario.args(peers)
        ) as server:
            measured = scenario.measure(server, settings, peers)
            server.check_alive()
        return measured

    return _recorded(record, measure)


def _scenario_runs(
    name: str,
    repeat: int,
    specs: list[ServerSpec],
    settings: Settings,
    peers: Peers,
    schema_of: dict[str, dict[str, Any]],
) -> Iterator[RunRecord]:
    """The scenario on each server in turn, then its floor if it has one (with the Python of
    Sprocket's environment, which `server_specs` puts first)."""
    for spec in specs:
        yield _measure(spec, name, repeat, settings, peers, schema_of)
    floor = SCENARIOS[name].floor
    if floor is not None:
        yield _recorded(RunRecord(repeat, name, FLOOR), lambda: floor(specs[0].python, settings, peers))


def run_plan(
    specs: list[ServerSpec], settings: Settings, scenarios: list[str]
) -> tuple[list[RunRecord], dict[str, Any]]:
    log.info("making .cog/openapi_schema.json for coglet")
    schema_of = _schemas(specs, scenarios)
    records: list[RunRecord] = []
    with Receiver() as webhooks, TransferPeer() as transfers:
        peers = Peers(webhooks, transfers)
        for repeat in range(settings.repeats):
            for name in scenarios:
                for record in _scenario_runs(name, repeat, specs, settings, peers, schema_of):
                    log.info(
                        "repeat %d/%d %-14s %-14s %5.1f s %s",
                        repeat + 1,
                        settings.repeats,
                        name,
                        record.server,
                        record.seconds,
                        _headline(record),
                    )
                    records.append(record)
    return records, {"schemas": sorted(schema_of)}


def _headline(record: RunRecord) -> str:
    if record.cannot:
        return f"cannot: {record.cannot}"
    if record.error:
        return f"ERROR {record.error[:120]}"
    shown = {k: v for k, v in record.metrics.items() if v is not None and not k.startswith(("ok_", "share"))}
    return " ".join(f"{k}={v:.3g}" for k, v in list(shown.items())[:6])


def as_json(records: list[RunRecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in records]
