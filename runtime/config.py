"""Server settings: each declared once (flag, environment variable, type, default, help).

`--help` and the README's settings table come from `SETTINGS`. The environment and the command
line are read once into a frozen `ServerConfig`; a bad value is one `ConfigError` line naming the
setting, what it got and what it takes.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from runtime import cog_yaml


class ConfigError(Exception):
    """A setting or cog.yaml is wrong; the message is one line meant for the operator."""


def parse_bool(text: str) -> bool:
    # Cog's `type=bool` reads "--await-explicit-shutdown false" as true; we read what was meant.
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{text!r} is not a boolean (use true or false)")


def parse_log_level(text: str) -> str:
    level = text.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("use debug, info, warning or error")
    return level


def parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is not a positive integer")
    return value


def parse_count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def parse_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"{value} is not a positive number of seconds")
    return value


def parse_port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a port number (0 to 65535; 0 picks a free one)")
    return value


def parse_log_format(text: str) -> str:
    if text not in ("json", "console"):
        raise ValueError("use json or console")
    return text


def parse_restart_policy(text: str) -> str:
    if text not in ("never", "on-failure"):
        raise ValueError("use never or on-failure")
    return text


def parse_optional_seconds(text: str) -> float | None:
    # 0 switches the limit off, as COG_SETUP_TIMEOUT's 0 does in Cog.
    value = float(text)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value or None


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str | None
    env: str | None
    parse: Callable[[str], Any]
    default: Any
    help: str


MIB = 1024 * 1024

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "host",
        "--host",
        "HOST",
        str,
        None,
        "Address to listen on. Default: '::' accepting IPv4 and IPv6, or 0.0.0.0 where IPv6 is off.",
    ),
    Setting("port", None, "PORT", parse_port, 5000, "Port to listen on."),
    Setting("log_level", None, "COG_LOG_LEVEL", parse_log_level, "INFO", "Log level: debug, info, warning, error."),
    Setting(
        "predictor_ref",
        None,
        "COG_PREDICT_TYPE_STUB",
        str,
        None,
        "Predictor as 'file.py:Class'; overrides cog.yaml's 'predict'.",
    ),
    Setting(
        "trainer_ref",
        None,
        "COG_TRAIN_TYPE_STUB",
        str,
        None,
        "Trainer as 'file.py:train'; overrides cog.yaml's 'train'.",
    ),
    Setting(
        "max_concurrency",
        None,
        "COG_MAX_CONCURRENCY",
        parse_positive_int,
        None,
        "Predictions run at once (async predictors only); overrides cog.yaml's concurrency.max.",
    ),
    Setting(
        "await_explicit_shutdown",
        "--await-explicit-shutdown",
        None,
        parse_bool,
        False,
        "Ignore SIGTERM; exit only on POST /shutdown or SIGINT.",
    ),
    Setting(
        "upload_url",
        "--upload-url",
        None,
        str,
        None,
        "Base URL output files are PUT to (the response then holds their URLs, not data URIs).",
    ),
    Setting("mode", "--x-mode", None, str, "predict", "Which cog.yaml entry POST /predictions runs: predict or train."),
    Setting("threads", "--threads", None, int, None, "Accepted for Cog compatibility; has no effect."),
    Setting(
        "shutdown_grace",
        None,
        "SPROCKET_SHUTDOWN_GRACE",
        parse_seconds,
        30.0,
        "Seconds running predictions get to finish after SIGTERM or POST /shutdown.",
    ),
    Setting(
        "setup_timeout",
        None,
        "COG_SETUP_TIMEOUT",
        parse_optional_seconds,
        None,
        "Seconds setup() may take before the state becomes SETUP_FAILED; unset or 0: no limit.",
    ),
    Setting(
        "predict_timeout",
        None,
        "SPROCKET_PREDICT_TIMEOUT",
        parse_optional_seconds,
        None,
        "Seconds a prediction may run before it is cancelled and fails; unset or 0: no limit.",
    ),
    Setting(
        "cancel_grace",
        None,
        "SPROCKET_CANCEL_GRACE",
        parse_seconds,
        5.0,
        "Seconds a cancelled predict() has to stop before the worker is killed and restarted.",
    ),
    Setting(
        "max_body_bytes",
        None,
        "SPROCKET_MAX_BODY_BYTES",
        parse_positive_int,
        100 * MIB,
        "Largest request body accepted; larger gets 413.",
    ),
    Setting(
        "max_log_bytes",
        None,
        "SPROCKET_MAX_LOG_BYTES",
        parse_positive_int,
        8 * MIB,
        "Output kept per prediction (and for setup); past it the oldest goes, and the logs say so.",
    ),
    Setting(
        "download_max_bytes",
        None,
        "SPROCKET_DOWNLOAD_MAX_BYTES",
        parse_positive_int,
        1024 * MIB,
        "Largest file a Path/File input URL may download to.",
    ),
    Setting(
        "download_timeout",
        None,
        "SPROCKET_DOWNLOAD_TIMEOUT",
        parse_seconds,
        60.0,
        "Seconds one input file download may take.",
    ),
    Setting(
        "throttle_interval",
        None,
        "COG_THROTTLE_RESPONSE_INTERVAL",
        float,
        0.5,
        "Least seconds between two non-terminal webhooks of a prediction; updates in between are coalesced.",
    ),
    Setting(
        "webhook_auth_token",
        None,
        "WEBHOOK_AUTH_TOKEN",
        str,
        None,
        "Sent as 'Authorization: Bearer <token>' with every webhook.",
    ),
    Setting(
        "webhook_timeout",
        None,
        "SPROCKET_WEBHOOK_TIMEOUT",
        parse_seconds,
        10.0,
        "Seconds one webhook request may take.",
    ),
    Setting(
        "webhook_retries",
        None,
        "SPROCKET_WEBHOOK_RETRIES",
        parse_count,
        12,
        "Retries of the terminal webhook on connection errors, 429 and 5xx (backoff 0.1 s doubling, at most 30 s).",
    ),
    Setting(
        "stream_history",
        None,
        "COG_STREAM_HISTORY_CAPACITY",
        parse_count,
        1024,
        "Server-sent events kept per prediction for a client that reconnects; 0: no replay.",
    ),
    Setting(
        "sse_keepalive",
        None,
        "SPROCKET_SSE_KEEPALIVE",
        parse_seconds,
        15.0,
        "Seconds an event stream may stay silent before it gets a keep-alive comment, so proxies "
        "do not close it as idle.",
    ),
    Setting(
        "queue_size",
        None,
        "SPROCKET_QUEUE_SIZE",
        parse_count,
        0,
        "Predictions that may wait for a busy slot instead of getting 409; 0: no queue.",
    ),
    Setting(
        "queue_timeout",
        None,
        "SPROCKET_QUEUE_TIMEOUT",
        parse_seconds,
        30.0,
        "Seconds a queued prediction waits for a slot before a 503 with Retry-After.",
    ),
    Setting(
        "restart_policy",
        "--restart",
        "SPROCKET_RESTART_POLICY",
        parse_restart_policy,
        "never",
        "After a worker failure: 'never' (FAILED stays) or 'on-failure' (a new worker, with backoff).",
    ),
    Setting(
        "max_restarts",
        None,
        "SPROCKET_MAX_RESTARTS",
        parse_count,
        5,
        "Most workers 'on-failure' replaces in the replica's life.",
    ),
    Setting(
        "restart_backoff",
        None,
        "SPROCKET_RESTART_BACKOFF",
        parse_seconds,
        1.0,
        "Seconds before the first restart; doubled for each one after, up to 60 s.",
    ),
    Setting(
        "memory_limit_mb",
        None,
        "SPROCKET_MEMORY_LIMIT_MB",
        parse_positive_int,
        None,
        "Kill the worker (state FAILED) when it and its children use more resident memory (MiB).",
    ),
    Setting(
        "watch_interval",
        None,
        "SPROCKET_WATCH_INTERVAL",
        parse_seconds,
        1.0,
        "Seconds between samples of the worker's memory and CPU.",
    ),
    Setting(
        "gpu_interval",
        None,
        "SPROCKET_GPU_INTERVAL",
        parse_seconds,
        5.0,
        "Seconds between GPU samples (NVML); no NVIDIA driver: no GPU watch.",
    ),
    Setting(
        "worker_nice",
        None,
        "SPROCKET_WORKER_NICE",
        int,
        5,
        "Niceness added to the worker, so the front wins the CPU when both want it and health checks "
        "stay fast under a CPU-bound predict(); 0 to keep them equal.",
    ),
    Setting(
        "healthcheck_interval",
        None,
        "SPROCKET_HEALTHCHECK_INTERVAL",
        parse_seconds,
        10.0,
        "Seconds between calls of the predictor's own healthcheck(), if it has one.",
    ),
    Setting(
        "healthcheck_timeout",
        None,
        "SPROCKET_HEALTHCHECK_TIMEOUT",
        parse_seconds,
        5.0,
        "Seconds healthcheck() may take before the replica counts as UNHEALTHY.",
    ),
    Setting(
        "ready_file",
        None,
        "SPROCKET_READY_FILE",
        str,
        None,
        "File present while the replica is ready; default /var/run/cog/ready when KUBERNETES_SERVICE_HOST is set.",
    ),
    Setting(
        "log_format",
        None,
        "LOG_FORMAT",
        parse_log_format,
        "json",
        "'json' (one object per line) or 'console' (readable lines).",
    ),
    Setting(
        "shutdown_token",
        None,
        "SPROCKET_SHUTDOWN_TOKEN",
        str,
        None,
        "When set, POST /shutdown needs 'Authorization: Bearer <token>'.",
    ),
)


@dataclass(frozen=True)
class ServerConfig:
    host: str | None
    port: int
    log_level: str
    predictor_ref: str
    trainer_ref: str | None
    max_concurrency: int | None
    await_explicit_shutdown: bool
    upload_url: str | None
    mode: str
    threads: int | None
    shutdown_grace: float
    setup_timeout: float | None
    predict_timeout: float | None
    cancel_grace: float
    max_body_bytes: int
    max_log_bytes: int
    download_max_bytes: int
    download_timeout: float
    throttle_interval: float
    webhook_auth_token: str | None
    webhook_timeout: float
    webhook_retries: int
    stream_history: int
    sse_keepalive: float
    queue_size: int
    queue_timeout: float
    restart_policy: str
    max_restarts: int
    restart_backoff: float
    memory_limit_mb: int | None
    watch_interval: float
    gpu_interval: float
    worker_nice: int
    healthcheck_interval: float
    healthcheck_timeout: float
    ready_file: str | None
    log_format: str
    shutdown_token: str | None
    workdir: str
    # cog.yaml's `environment:`, for the worker; what the process environment sets wins.
    model_environment: tuple[tuple[str, str], ...] = ()


def settings_table() -> str:
    """The README's settings table, made from SETTINGS so the two cannot drift apart."""
    rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for setting in SETTINGS:
        flag = f"`{setting.flag}`" if setting.flag else ""
        env = f"`{setting.env}`" if setting.env else ""
        default = "" if setting.default is None else f"`{setting.default}`"
        rows.append(f"| {flag} | {env} | {default} | {setting.help} |")
    return "\n".join(rows)


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime", description="Serve the predictor in cog.yaml over Cog's HTTP API."
    )
    for setting in SETTINGS:
        if setting.flag:
            env = f" (env {setting.env})" if setting.env else ""
            parser.add_argument(
                setting.flag, dest=setting.name, default=None, metavar="VALUE", help=f"{setting.help}{env}"
            )
    return parser


def _resolve(setting: Setting, flag_value: str | None, environ: Mapping[str, str]) -> Any:
    if flag_value is not None:
        raw, source = flag_value, setting.flag
    elif setting.env and environ.get(setting.env, "") != "":
        raw, source = environ[setting.env], setting.env
    else:
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as error:
        raise ConfigError(f"{source} has value {raw!r}: {error}") from None


def _check_file(workdir: str, ref: str) -> None:
    file_name = ref.partition(":")[0]
    if not os.path.isfile(os.path.join(workdir, file_name)):
        raise ConfigError(f"predictor file {file_name} not found in {workdir} (named by {ref!r})")


def _check_not_shadowing(workdir: str) -> None:
    """A model's own `runtime` module would stand in for Sprocket's server package: refuse it.

    Sprocket starts its processes with `python -P`, so the model directory cannot replace the
    server; but the predictor's `import runtime` would then get Sprocket's package, not its own."""
    for name in ("runtime.py", os.path.join("runtime", "__init__.py")):
        if os.path.isfile(os.path.join(workdir, name)):
            raise ConfigError(
                f"the model directory has {name}, which has the name of Sprocket's server package "
                "'runtime'; rename it (and the imports of it)"
            )


def load_config(argv: Sequence[str], environ: Mapping[str, str], workdir: str) -> ServerConfig:
    _check_not_shadowing(workdir)
    flags = vars(_argument_parser().parse_args(argv))
    values = {s.name: _resolve(s, flags.get(s.name), environ) for s in SETTINGS}
    mode = values["mode"]
    if mode not in ("predict", "train"):
        raise ConfigError(f"--x-mode has value {mode!r}: use predict or train")
    model_environment: tuple[tuple[str, str], ...] = ()
    # With the predictor named in the environment (as Cog's images do) cog.yaml is optional.
    if values["predictor_ref"] is None or os.path.exists(os.path.join(workdir, "cog.yaml")):
        try:
            model = cog_yaml.load(workdir)
        except cog_yaml.CogYamlError as error:
            raise ConfigError(str(error)) from None
        model_environment = model.environment
        values["predictor_ref"] = values["predictor_ref"] or model.predict
        values["trainer_ref"] = values["trainer_ref"] or model.train
        values["max_concurrency"] = values["max_concurrency"] or model.concurrency_max
    if mode == "train":
        # Cog's --x-mode train: POST /predictions runs train(); there are no /trainings routes.
        if values["trainer_ref"] is None:
            raise ConfigError("--x-mode train needs a 'train' entry in cog.yaml (or COG_TRAIN_TYPE_STUB)")
        values["predictor_ref"], values["trainer_ref"] = values["trainer_ref"], None
    if values["predictor_ref"] is None:
        raise ConfigError("cog.yaml: no 'predict' key; add e.g. predict: \"predict.py:Predictor\"")
    for ref in (values["predictor_ref"], values["trainer_ref"]):
        if ref is not None:
            _check_file(workdir, ref)
    if values["ready_file"] is None and environ.get("KUBERNETES_SERVICE_HOST"):
        values["ready_file"] = "/var/run/cog/ready"
    return ServerConfig(workdir=workdir, model_environment=model_environment, **values)
