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

import yaml


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


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str | None
    env: str | None
    parse: Callable[[str], Any]
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "--host", "HOST", str, None,
            "Address to listen on. Default: '::' accepting IPv4 and IPv6, or 0.0.0.0 where IPv6 is off."),
    Setting("port", None, "PORT", int, 5000, "Port to listen on."),
    Setting("log_level", None, "COG_LOG_LEVEL", parse_log_level, "INFO", "Log level: debug, info, warning, error."),
    Setting("predictor_ref", None, "COG_PREDICT_TYPE_STUB", str, None,
            "Predictor as 'file.py:Class'; overrides cog.yaml's 'predict'."),
    Setting("max_concurrency", None, "COG_MAX_CONCURRENCY", parse_positive_int, None,
            "Predictions run at once (async predictors only); overrides cog.yaml's concurrency.max."),
    Setting("await_explicit_shutdown", "--await-explicit-shutdown", None, parse_bool, False,
            "Ignore SIGTERM; exit only on POST /shutdown or SIGINT."),
    Setting("upload_url", "--upload-url", None, str, None, "Base URL to PUT output files to (accepted; not used yet: outputs come back as data URIs)."),
    Setting("mode", "--x-mode", None, str, "predict", "Which cog.yaml entry to serve: predict or train."),
    Setting("threads", "--threads", None, int, None, "Accepted for Cog compatibility; has no effect."),
    Setting("shutdown_grace", None, "SPROCKET_SHUTDOWN_GRACE", float, 30.0,
            "Seconds running predictions get to finish after SIGTERM or POST /shutdown."),
)


@dataclass(frozen=True)
class ServerConfig:
    host: str | None
    port: int
    log_level: str
    predictor_ref: str
    max_concurrency: int | None
    await_explicit_shutdown: bool
    upload_url: str | None
    mode: str
    threads: int | None
    shutdown_grace: float
    workdir: str


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
        prog="python -m runtime", description="Serve the predictor in cog.yaml over Cog's HTTP API.")
    for setting in SETTINGS:
        if setting.flag:
            env = f" (env {setting.env})" if setting.env else ""
            parser.add_argument(setting.flag, dest=setting.name, default=None, metavar="VALUE",
                                help=f"{setting.help}{env}")
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


def load_cog_yaml(workdir: str) -> dict[str, Any]:
    path = os.path.join(workdir, "cog.yaml")
    try:
        with open(path, encoding="utf-8") as file:
            document = yaml.safe_load(file)
    except FileNotFoundError:
        raise ConfigError(f"no cog.yaml in {workdir}: run from the model directory") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"cog.yaml is not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"cog.yaml must be a mapping of keys, got {type(document).__name__}")
    return document


def _predictor_ref(cog_yaml: Mapping[str, Any], mode: str) -> str:
    ref = cog_yaml.get(mode)
    if ref is None:
        raise ConfigError(f"cog.yaml has no '{mode}' key: add e.g. {mode}: \"predict.py:Predictor\"")
    if not isinstance(ref, str) or ":" not in ref:
        raise ConfigError(f"cog.yaml '{mode}' must look like \"predict.py:Predictor\", got {ref!r}")
    return ref


def _concurrency(cog_yaml: Mapping[str, Any]) -> int | None:
    section = cog_yaml.get("concurrency")
    if section is None:
        return None
    value = section.get("max") if isinstance(section, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"cog.yaml concurrency.max must be a positive integer, got {value!r}")
    return value


def load_config(argv: Sequence[str], environ: Mapping[str, str], workdir: str) -> ServerConfig:
    flags = vars(_argument_parser().parse_args(argv))
    values = {s.name: _resolve(s, flags.get(s.name), environ) for s in SETTINGS}
    mode = values["mode"]
    if mode not in ("predict", "train"):
        raise ConfigError(f"--x-mode has value {mode!r}: use predict or train")
    if mode == "train":
        values["predictor_ref"] = environ.get("COG_TRAIN_TYPE_STUB") or None
    # With the predictor named in the environment (as Cog's images do) cog.yaml is optional.
    cog_yaml_required = values["predictor_ref"] is None
    if cog_yaml_required or os.path.exists(os.path.join(workdir, "cog.yaml")):
        cog_yaml = load_cog_yaml(workdir)
        if values["predictor_ref"] is None:
            values["predictor_ref"] = _predictor_ref(cog_yaml, mode)
        if values["max_concurrency"] is None:
            values["max_concurrency"] = _concurrency(cog_yaml)
    predictor_file = values["predictor_ref"].partition(":")[0]
    if not os.path.isfile(os.path.join(workdir, predictor_file)):
        raise ConfigError(f"predictor file {predictor_file} not found in {workdir} (named by {values['predictor_ref']!r})")
    return ServerConfig(workdir=workdir, **values)
