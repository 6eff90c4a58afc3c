"""Results out: benchmarks/results/<date>.json, <date>.md (medians, ratios, targets) and <date>.png."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.floors import FLOOR
from benchmarks.run import RunRecord
from benchmarks.stats import median

SPROCKET = "sprocket"


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    higher_is_better: bool = False


ROWS: list[Row] = [
    Row("cold_start_ms", "1. cold start, spawn → READY (noop)", "ms"),
    Row("noop_p50_ms", "2. noop latency p50 (one keep-alive client)", "ms"),
    Row("noop_p90_ms", "2. noop latency p90", "ms"),
    Row("noop_p99_ms", "2. noop latency p99", "ms"),
    Row("noop_seq_409", "2. 409s in the back-to-back requests", "count"),
    Row("rps_c1", "3. responses/s, 1 client", "req/s", True),
    Row("ok_rps_c1", "3. successful predictions/s, 1 client", "req/s", True),
    Row("share409_c1", "3. share of 409, 1 client", "%"),
    Row("rps_c8", "3. responses/s, 8 clients", "req/s", True),
    Row("ok_rps_c8", "3. successful predictions/s, 8 clients", "req/s", True),
    Row("share409_c8", "3. share of 409, 8 clients", "%"),
    Row("rps_c64", "3. responses/s, 64 clients", "req/s", True),
    Row("ok_rps_c64", "3. successful predictions/s, 64 clients", "req/s", True),
    Row("share409_c64", "3. share of 409, 64 clients", "%"),
    Row("health_p50_ms", "4. health-check p50 during a 5 s GIL-bound predict", "ms"),
    Row("health_p99_ms", "4. health-check p99 during it", "ms"),
    Row("health_max_ms", "4. health-check max during it", "ms"),
    Row("health_answers", "4. health checks answered during it (10 ms apart)", "count", True),
    Row("out_1mib_p50_ms", "5. 1 MiB string output, p50", "ms"),
    Row("in_10mib_p50_ms", "5. 10 MiB data-URI file input, p50", "ms"),
    Row("sse_first_ms", "6. SSE: first token", "ms"),
    Row("sse_done_ms", "6. SSE: all 1000 tokens", "ms"),
    Row("hook_first_ms", "6. webhooks: first output", "ms"),
    Row("hook_done_ms", "6. webhooks: completed", "ms"),
    Row("idle_rss_mib", "7. idle RSS, process tree", "MiB"),
    Row("idle_pss_mib", "7. idle PSS, process tree", "MiB"),
]

# Units that are read as they are: no Sprocket / reference ratio.
_NO_RATIO = ("%", "count", "×", "HTTP")


def _transfer_rows(key: str, title: str, end_to_end: str, breakdown: list[Row]) -> list[Row]:
    """Figure 10's rows for one direction: the transfer, end to end, `breakdown`, CPU, memory."""
    return [
        Row(f"{key}_s", f"10. {title}", "s"),
        Row(f"{key}_e2e_s", f"10. same, end to end ({end_to_end})", "s"),
        *breakdown,
        Row(f"{key}_cpu_s", "10. same, server CPU (process tree, user + system)", "s"),
        Row(f"{key}_front_mb", "10. same, front peak RSS above idle", "MB"),
        Row(f"{key}_worker_mb", "10. same, worker peak RSS above idle", "MB"),
    ]


def issue19_rows(settings: dict[str, Any]) -> list[Row]:
    """Figures 9-12 (issue 19), labelled with the sizes the run used."""
    c, q, mib = settings["overload_connections"], settings["queue_size"], settings["big_file_mib"]
    rows = [
        Row("goodput_c1", "9. overload: successful predictions/s, 1 connection", "req/s", True),
        Row("goodput_overload", f"9. overload: successful predictions/s, {c} connections", "req/s", True),
        Row("goodput_overload_share409", f"9. overload: share of 409, {c} connections", "%"),
        Row("goodput_overload_of_c1", f"9. overload: {c}-connection goodput / own 1-connection goodput", "%"),
        Row(
            "queued_goodput",
            f"9. queued (SPROCKET_QUEUE_SIZE={q}; Cog 0.9.8 queues by default): successful predictions/s",
            "req/s",
            True,
        ),
        Row("queued_p50_ms", "9. queued: latency p50", "ms"),
        Row("queued_p99_ms", "9. queued: latency p99", "ms"),
        Row("queued_refused_share", "9. queued: share refused (not 2xx)", "%"),
        *_transfer_rows(
            "upload",
            f"{mib} MiB Path output: the upload (PUT, first to last byte at the receiver)",
            "POST to the terminal webhook",
            [
                Row(
                    "upload_before_s",
                    "10. same, POST to the PUT's arrival (predict() only links the file: "
                    "the server's work before the upload)",
                    "s",
                ),
                Row("upload_after_s", "10. same, the PUT's last byte to the terminal webhook", "s"),
                Row("upload_predict_s", "10. same, predict() as the server reports it (`metrics.predict_time`)", "s"),
            ],
        ),
        *_transfer_rows(
            "download", f"{mib} MiB Path input by URL: the download (GET at the file server)", "POST to the answer", []
        ),
        Row("oversize_status", "10. data: URL body of 101 MiB (above Sprocket's 100 MiB limit): status", "HTTP"),
    ]
    for n in settings["stream_counts"]:
        rows += [
            Row(f"stream{n}_first_p50_ms", f"11. {n} SSE streams, 10 ms/token: first token p50", "ms"),
            Row(f"stream{n}_first_p99_ms", f"11. {n} streams: first token p99", "ms"),
            Row(
                f"stream{n}_warmup_first_p99_ms",
                f"11. {n} streams: first token p99 of the unrecorded burst before"
                + (" (the first after READY)" if n == settings["stream_counts"][0] else ""),
                "ms",
            ),
            Row(f"stream{n}_gap_p99_ms", f"11. {n} streams: added inter-token gap p99", "ms"),
            Row(f"stream{n}_predictor_gap_p99_ms", f"11. {n} streams: of which the predictor's own (p99)", "ms"),
            Row(f"stream{n}_server_gap_p99_ms", f"11. {n} streams: gap the server added (p99)", "ms"),
            Row(f"stream{n}_failed", f"11. {n} streams: failed streams", "count"),
            Row(f"stream{n}_cpu_per_1k_ms", f"11. {n} streams: server CPU per 1000 tokens", "ms"),
            Row(f"stream{n}_client_cpu_share", f"11. {n} streams: the client's own CPU (of one core)", "%"),
            Row(f"stream{n}_client_lag_p99_ms", f"11. {n} streams: the client's event-loop lag p99", "ms"),
        ]
    n = settings["replicas"]
    rows += [
        Row("replicas_goodput_1", "12. gateway: successful predictions/s, 1 replica (100 ms each)", "req/s", True),
        Row("replicas_goodput_n", f"12. gateway: successful predictions/s, {n} replicas", "req/s", True),
        Row("replicas_scaling", f"12. gateway: {n} replicas / 1", "×"),
        Row("kill_requests", "12. one container killed mid-run: requests", "count"),
        Row("kill_failed", "12. same: requests that failed at the client", "count"),
        Row("kill_retried_by_gateway", "12. same: requests HAProxy retried (hidden from the client)", "count"),
        Row("kill_down_after_s", "12. same: HAProxy marked the replica down after", "s"),
        Row("kill_slowest_s", "12. same: slowest request", "s"),
    ]
    clients = settings.get("embed_clients", 32)
    for key, who in (
        ("embed", f"text-embed, {clients} clients, one sentence each (Sprocket: predict_batch())"),
        ("embed_unbatched", f"Sprocket without predict_batch(), a queue of {clients}"),
    ):
        rows += [
            Row(f"{key}_rps", f"13. {who}: successful predictions/s", "req/s", True),
            *(Row(f"{key}_{p}_ms", f"13. same: latency {p}", "ms") for p in ("p50", "p99")),
            Row(f"{key}_failed", "13. same: requests not answered 2xx", "count"),
            Row(f"{key}_retried_409", "13. same: 409s retried (5 ms later) before an answer", "count"),
        ]
    return rows


def medians(records: list[RunRecord], servers: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """metric -> server -> median over the repeats that produced a value (None: never did)."""
    out: dict[str, dict[str, float | None]] = {}
    keys = {k for r in records for k in r.metrics}
    for key in sorted(keys):
        out[key] = {}
        for server in servers:
            values = [r.metrics[key] for r in records if r.server == server and r.metrics.get(key) is not None]
            value = median([v for v in values if v is not None])
            out[key][server] = None if math.isnan(value) else value
    return out


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit in ("count", "HTTP"):
        return f"{value:.0f}"
    if unit == "×":
        return f"{value:.2f}×"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def _fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}×"


@dataclass
class Target:
    name: str
    measure: str
    ratio: float | None
    met: bool | None  # None: could not be judged (a value is n/a)


def targets(
    summary: dict[str, dict[str, float | None]],
    records: list[RunRecord],
    coglet: str,
    cog: str,
    settings: dict[str, Any],
) -> list[Target]:
    def get(key: str, server: str) -> float | None:
        return summary.get(key, {}).get(server)

    out: list[Target] = []

    def relative(
        name: str,
        key: str,
        other: float | None,
        limit: float,
        what: str,
        unit: str = "ms",
        higher_is_better: bool = False,
    ) -> None:
        ours = get(key, SPROCKET)
        ratio = _ratio(ours, other)
        met = None if ratio is None else (ratio >= limit if higher_is_better else ratio <= limit)
        out.append(Target(name, f"{_fmt(ours, unit)} vs {what} {_fmt(other, unit)}", ratio, met))

    def at_most(name: str, keys: Sequence[str], limit: float, unit: str) -> None:
        values = [get(k, SPROCKET) for k in keys]
        known = [v for v in values if v is not None]
        worst = max(known) if known else None
        shown = ", ".join(_fmt(v, unit) for v in values) + f" {unit}"
        floors = [get(k, FLOOR) for k in keys]
        if any(v is not None for v in floors):
            shown += f" (floor: {', '.join(_fmt(v, unit) for v in floors)} {unit})"
        out.append(
            Target(
                name,
                shown,
                None if worst is None else worst / limit,
                None if len(known) < len(keys) or worst is None else worst <= limit,
            )
        )

    relative("noop p50 ≤ 0.75 × coglet (a guard)", "noop_p50_ms", get("noop_p50_ms", coglet), 0.75, "coglet")
    ours_409 = [
        r.metrics.get(k) or 0
        for r in records
        if r.server == SPROCKET and r.scenario == "noop"
        for k in ("noop_seq_409", "share409_c1")
    ]
    noop_runs = [r for r in records if r.server == SPROCKET and r.scenario == "noop" and not r.error]
    out.append(
        Target(
            "no 409 for a single back-to-back client",
            f"409s: {sum(1 for v in ours_409 if v)} of {len(ours_409)} measurements had any "
            "(sequential client and wrk -c1, every repeat)",
            None,
            None if not noop_runs else not any(ours_409),
        )
    )
    health = get("health_p99_ms", SPROCKET)
    out.append(
        Target(
            "health p99 during GIL-bound predict ≤ 2 ms",
            f"{_fmt(health, 'ms')} ms",
            None if health is None else health / 2.0,
            None if health is None else health <= 2.0,
        )
    )
    relative("cold start ≤ coglet", "cold_start_ms", get("cold_start_ms", coglet), 1.0, "coglet")
    relative("idle memory (PSS) ≤ coglet", "idle_pss_mib", get("idle_pss_mib", coglet), 1.0, "coglet")
    relative("SSE first token ≤ 0.5 × coglet", "sse_first_ms", get("sse_first_ms", coglet), 0.5, "coglet")
    refs = [v for v in (get("in_10mib_p50_ms", cog), get("in_10mib_p50_ms", coglet)) if v is not None]
    relative(
        "10 MiB data-URI input ≤ 0.3 × faster reference",
        "in_10mib_p50_ms",
        min(refs) if refs else None,
        0.3,
        "faster reference",
    )
    # Issue 19.
    c, mib = settings["overload_connections"], settings["big_file_mib"]
    relative(
        f"goodput at {c} connections ≥ Cog 0.9.8",
        "goodput_overload",
        get("goodput_overload", cog),
        1.0,
        "Cog 0.9.8",
        "req/s",
        higher_is_better=True,
    )
    relative(f"{mib} MiB upload ≤ coglet", "upload_s", get("upload_s", coglet), 1.0, "coglet", "s")
    relative(f"{mib} MiB download ≤ coglet", "download_s", get("download_s", coglet), 1.0, "coglet", "s")
    at_most(
        "front and worker ≤ 64 MB above idle (upload front, worker; download front, worker)",
        ["upload_front_mb", "upload_worker_mb", "download_front_mb", "download_worker_mb"],
        64.0,
        "MB",
    )
    status = get("oversize_status", SPROCKET)
    out.append(
        Target(
            "data: URL above the body limit refused with 413",
            _fmt(status, "HTTP"),
            None,
            None if status is None else status == 413,
        )
    )
    pace = settings["stream_pace_ms"]
    if 64 in settings["stream_counts"]:
        at_most("64 streams: added inter-token gap p99 ≤ 1 ms", ["stream64_gap_p99_ms"], 1.0, "ms")
        at_most(
            "64 streams: the same, less the predictor's own gaps (what the server adds)",
            ["stream64_server_gap_p99_ms"],
            1.0,
            "ms",
        )
        at_most(
            f"64 streams: first token p99 ≤ pace + 5 ms ({pace + 5:.0f} ms)", ["stream64_first_p99_ms"], pace + 5, "ms"
        )
    if 256 in settings["stream_counts"]:
        failed = get("stream256_failed", SPROCKET)
        out.append(
            Target(
                "256 streams: none fails",
                f"{_fmt(failed, 'count')} failed",
                None,
                None if failed is None else failed == 0,
            )
        )
        at_most("256 streams: server CPU per 1000 tokens ≤ 55 ms", ["stream256_cpu_per_1k_ms"], 55.0, "ms")
    unbatched = "Sprocket without batching"
    relative(
        "embed throughput ≥ 3 × coglet",
        "embed_rps",
        get("embed_rps", coglet),
        3.0,
        "coglet",
        "req/s",
        higher_is_better=True,
    )
    relative(
        f"embed throughput ≥ 3 × {unbatched}",
        "embed_rps",
        get("embed_unbatched_rps", SPROCKET),
        3.0,
        unbatched,
        "req/s",
        higher_is_better=True,
    )
    alone_batched, alone_single = get("embed_rps", FLOOR), get("embed_unbatched_rps", FLOOR)
    if alone_batched is not None and alone_single is not None:
        out[-1].measure += (
            f" (floor: the model alone gives {_fmt(alone_batched, 'req/s')} vs {_fmt(alone_single, 'req/s')}, "
            f"{_fmt_ratio(_ratio(alone_batched, alone_single))})"
        )
    relative(f"embed p99 ≤ {unbatched}", "embed_p99_ms", get("embed_unbatched_p99_ms", SPROCKET), 1.0, unbatched)
    scaling = get("replicas_scaling", SPROCKET)
    out.append(
        Target(
            f"{settings['replicas']} replicas ≥ 2.7 × 1 replica",
            _fmt(scaling, "×"),
            None if scaling is None else scaling / 2.7,
            None if scaling is None else scaling >= 2.7,
        )
    )
    failed = get("kill_failed", SPROCKET)
    out.append(
        Target(
            "a killed container fails no request the gateway could send elsewhere",
            f"{_fmt(failed, 'count')} failed (notes say how)",
            None,
            None if failed is None else failed == 0,
        )
    )
    return out


def _notes(records: list[RunRecord], servers: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for server in servers:
        seen: dict[str, int] = {}
        for r in records:
            if r.server != server:
                continue
            for note in ([f"ERROR in {r.scenario} (repeat {r.repeat + 1}): {r.error}"] if r.error else []) + [
                f"{r.scenario}: {n}" for n in r.notes
            ]:
                seen[note] = seen.get(note, 0) + 1
        out[server] = [f"{n} (×{c})" if c > 1 else n for n, c in seen.items()]
    return out


def _company(shares: dict[str, float] | None) -> str:
    if shares is None:
        return ""
    return (
        f" Other work on the machine meanwhile: {shares['other_cpu_share']:.1%} of its CPU time outside "
        f"the harness and its servers; steal {shares['steal_share']:.1%}."
    )


def markdown(
    meta: dict[str, Any],
    summary: dict[str, dict[str, float | None]],
    servers: Sequence[str],
    goal: list[Target],
    notes: dict[str, list[str]],
    profile: dict[str, Any] | None,
    chart_name: str,
) -> str:
    refs = [s for s in servers if s not in (SPROCKET, FLOOR)]  # no ratio to the floor: it is no server
    lines = [
        f"# Sprocket vs Cog 0.9.8 vs coglet — {meta['date']}",
        "",
        f"Machine: {meta['machine']['cpu']} ({meta['machine']['cores']} cores), "
        f"{meta['machine']['memory_gib']:.0f} GiB, {meta['machine']['system']}, Python {meta['machine']['python']}. "
        f"Sprocket at {meta['sprocket_commit']}. Command: `{meta['command']}`; "
        f"{meta['settings']['repeats']} repeats, servers interleaved (A B C A B C ...); "
        f"took {meta['seconds'] / 60:.1f} min.{_company(meta['machine'].get('company'))}",
        "",
        "Each cell is the median over the repeats of that repeat's value (a p50 of 2000 requests, "
        "a rate over a wrk run, ...). Ratios are Sprocket / reference: below 1 is better for times "
        "and memory, above 1 is better for rates. n/a: the server has no such feature."
        + (
            " floor: the same work with no server in between (benchmarks/floors.py): what this machine "
            "allows, for the figures whose targets come close to it."
            if FLOOR in servers
            else ""
        ),
        "",
        "| figure | unit | " + " | ".join(servers) + " | " + " | ".join(f"Sprocket / {r}" for r in refs) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in servers) + " | " + " | ".join("---:" for _ in refs) + " |",
    ]
    for row in [*ROWS, *issue19_rows(meta["settings"])]:
        values = summary.get(row.key, {})
        if not values:
            continue  # a scenario that was not selected
        # A blank floor cell: no floor for that figure (n/a is for a server that lacks the feature).
        cells = ["" if s == FLOOR and values.get(s) is None else _fmt(values.get(s), row.unit) for s in servers]
        ratios = [
            _fmt_ratio(_ratio(values.get(SPROCKET), values.get(r))) if row.unit not in _NO_RATIO else "—" for r in refs
        ]
        lines.append(f"| {row.label} | {row.unit} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    lines += ["", "## Targets", "", "| target | measured | ratio | met |", "| --- | --- | ---: | --- |"]
    for t in goal:
        met = "n/a" if t.met is None else ("**yes**" if t.met else "no")
        lines.append(f"| {t.name} | {t.measure} | {_fmt_ratio(t.ratio)} | {met} |")
    lines += ["", f"![latency distributions]({chart_name})", ""]
    if profile:
        lines += profile_markdown(profile)
    lines += ["## Notes per server", ""]
    for server in servers:
        lines.append(
            f"- **{server}** ({meta['versions'].get(server, '?')}): "
            + ("; ".join(notes.get(server) or ["nothing unusual"]))
        )
    lines.append("")
    return "\n".join(lines)


def profile_markdown(profile: dict[str, Any]) -> list[str]:
    cpu = profile["cpu_us_per_request"]
    lines = [
        "## 8. Sprocket: where a noop prediction's time goes",
        "",
        f"One keep-alive client, back to back, {profile['requests_in_window']} predictions in the "
        f"profiled window ({profile['window_wall_us_per_request']:.0f} µs each, wall).",
        "",
        "| part | µs per prediction | how measured |",
        "| --- | ---: | --- |",
        f"| noop POST /predictions, p50 at the client | {profile['noop_p50_us']:.0f} | wall clock, no profiler |",
        f"| GET /health-check, p50 (the front alone, no IPC) | {profile['health_p50_us']:.0f} | wall clock |",
        f"| predict() as the worker reports it (`metrics.predict_time`) | "
        f"{profile['predict_time_p50_us'] or float('nan'):.0f} | worker's timer |",
        f"| front process CPU | {cpu['front']:.0f} | psutil user+sys over the window |",
        f"| worker process CPU | {cpu['worker']:.0f} | psutil |",
        f"| client (harness) CPU | {cpu['client']:.0f} | psutil |",
        f"| wall minus those three (waits, wake-ups; negative = overlap on 2 cores) | "
        f"{profile['unaccounted_us_per_request']:.0f} | |",
        "",
    ]
    spy = profile.get("py_spy", {})
    if "layers" in spy:
        for proc in ("front", "worker"):
            total = sum(spy["layers"][proc].values()) or 1
            lines += [
                f"py-spy, {proc} ({spy['samples'].get(proc, 0)} samples with the GIL held; "
                "share of them by the layer nearest the sampled frame):",
                "",
            ]
            lines += [f"- {name}: {count / total * 100:.0f} %" for name, count in spy["layers"][proc].items()]
            lines += [
                "",
                f"Hottest frames in the {proc}: "
                + "; ".join(f"`{frame}` {count / total * 100:.0f} %" for frame, count in spy["top_leaves"][proc][:6]),
                "",
            ]
    else:
        lines += [f"py-spy: {spy.get('note', 'not run')}", ""]
    return lines


def chart(records: list[RunRecord], servers: Sequence[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("noop", "2. noop prediction latency (ms)"),
        ("health", "4. health-check during GIL-bound predict (ms)"),
        ("out_1mib", "5. 1 MiB string output (ms)"),
        ("in_10mib", "5. 10 MiB data-URI input (ms)"),
        ("sse_first", "6. SSE time to first token (ms)"),
        ("cold_start", "1. cold start, spawn → READY (ms)"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, (key, label) in zip(axes.flat, panels, strict=False):  # more axes than panels
        data = [[v for r in records if r.server == s for v in r.samples.get(key, [])] for s in servers]
        present = [i for i, d in enumerate(data) if d]
        if present:
            ax.boxplot(
                [data[i] for i in present],
                positions=[i + 1 for i in present],
                whis=(1, 99),
                showfliers=True,
                flierprops={"markersize": 2, "alpha": 0.3},
            )
        for i, d in enumerate(data):
            if not d:
                ax.text(i + 1, 0.5, "n/a", transform=ax.get_xaxis_transform(), ha="center", color="grey")
        ax.set_xticks(range(1, len(servers) + 1), list(servers))
        ax.set_xlim(0.5, len(servers) + 0.5)
        ax.set_yscale("log")
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.suptitle(f"{title} — boxes: quartiles; whiskers: p1–p99; dots beyond; all repeats pooled")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    out_dir: Path,
    meta: dict[str, Any],
    records: list[RunRecord],
    servers: Sequence[str],
    profile: dict[str, Any] | None,
) -> tuple[Path, Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = meta["date"]
    summary = medians(records, servers)
    coglet = next(s for s in servers if s.startswith("coglet"))
    cog = next(s for s in servers if s.startswith("cog-"))
    goal = targets(summary, records, coglet, cog, meta["settings"])
    notes = _notes(records, servers)
    json_path, md_path, png_path = (out_dir / f"{stem}.{ext}" for ext in ("json", "md", "png"))
    servers_charted = [s for s in servers if s != FLOOR]  # figures 1-6 have no floor
    chart(records, servers_charted, png_path, f"Sprocket vs Cog 0.9.8 vs coglet, {stem}")
    md_path.write_text(markdown(meta, summary, servers, goal, notes, profile, png_path.name))
    document = {
        "meta": meta,
        "medians": summary,
        "targets": [t.__dict__ for t in goal],
        "notes": notes,
        "profile": profile,
        "runs": [r.__dict__ for r in records],
    }
    json_path.write_text(json.dumps(_clean(document), indent=1, default=str))
    return json_path, md_path, png_path


def _clean(node: Any) -> Any:
    """NaN and infinity become null (JSON has neither); samples keep 0.1 µs of precision."""
    if isinstance(node, float):
        return None if math.isnan(node) or math.isinf(node) else round(node, 4)
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_clean(v) for v in node]
    return node
