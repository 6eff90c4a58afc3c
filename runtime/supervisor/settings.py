"""What the supervisor needs to know to run workers: light to import, so `python -m runtime` can
start the first worker before loading the HTTP stack."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.config import ServerConfig
from runtime.supervisor.restart import RestartPolicy


@dataclass(frozen=True)
class WorkerSettings:
    predictor_ref: str
    workdir: str
    trainer_ref: str | None = None
    max_concurrency: int | None = None
    setup_timeout: float | None = None
    predict_timeout: float | None = None
    cancel_grace: float = 5.0
    queue_size: int = 0
    queue_timeout: float = 30.0
    restart: RestartPolicy = RestartPolicy()
    nice: int = 5
    max_log_bytes: int = 8 * 1024 * 1024
    healthcheck_interval: float = 10.0
    healthcheck_timeout: float = 5.0
    ready_file: str | None = None  # written while READY or BUSY (Kubernetes convention)
    environment: tuple[tuple[str, str], ...] = ()  # cog.yaml's; the process environment wins


def worker_settings(config: ServerConfig) -> WorkerSettings:
    return WorkerSettings(
        predictor_ref=config.predictor_ref, trainer_ref=config.trainer_ref, workdir=config.workdir,
        max_concurrency=config.max_concurrency, setup_timeout=config.setup_timeout,
        predict_timeout=config.predict_timeout, cancel_grace=config.cancel_grace,
        queue_size=config.queue_size, queue_timeout=config.queue_timeout,
        restart=RestartPolicy(config.restart_policy, config.max_restarts, config.restart_backoff),
        nice=config.worker_nice, max_log_bytes=config.max_log_bytes, healthcheck_interval=config.healthcheck_interval, healthcheck_timeout=config.healthcheck_timeout,
        ready_file=config.ready_file, environment=config.model_environment)
