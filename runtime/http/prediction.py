"""One prediction as the HTTP API shows it: Cog's prediction object, filled in as the worker reports.

A `Prediction` is the supervisor's listener for its id. `finished` is set once it has reached a
terminal status; after that nothing about it changes.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec

from runtime.supervisor.supervisor import utc_now

TERMINAL = ("succeeded", "failed", "canceled")


class PredictionRequest(msgspec.Struct, omit_defaults=True):
    """The body of POST /predictions and PUT /predictions/{id}. Unknown keys are ignored."""

    input: dict[str, Any] | None = None
    id: str | None = None
    created_at: str | None = None
    webhook: str | None = None
    webhook_events_filter: list[Literal["start", "output", "logs", "completed"]] | None = None
    output_file_prefix: str | None = None
    context: dict[str, str] | None = None


class Prediction:
    def __init__(self, prediction_id: str, request: PredictionRequest, echoed_input: dict[str, Any],
                 workdir: str, is_iterator: bool) -> None:
        self.id = prediction_id
        self.is_iterator = is_iterator
        self.request = request
        self.input = echoed_input
        self.workdir = workdir
        self.status = "processing"
        self.output: Any = None
        self.logs: list[str] = []
        self.error: str | None = None
        self.started_at = utc_now().isoformat()
        self.completed_at: str | None = None
        self.metrics: dict[str, Any] = {}
        self.finished = asyncio.Event()

    # ------------------------------------------------------------ listener

    def on_log(self, text: str) -> None:
        self.logs.append(text)

    def on_output_chunk(self, value: Any) -> None:
        if self.output is None:
            self.output = []
        self.output.append(value)

    def on_succeeded(self, output: Any, predict_time: float) -> None:
        if self.output is None:
            # An iterator's items came as chunks; one that yielded nothing still returns a list.
            self.output = [] if self.is_iterator else output
        self.metrics["predict_time"] = predict_time
        self._finish("succeeded")

    def on_failed(self, error: str) -> None:
        self.error = error
        self._finish("failed")

    def on_canceled(self) -> None:
        self._finish("canceled")

    def _finish(self, status: str) -> None:
        if self.finished.is_set():
            return
        self.status = status
        self.completed_at = utc_now().isoformat()
        self.finished.set()

    # ------------------------------------------------------------ response

    def as_json(self, output: Any) -> dict[str, Any]:
        """The prediction object with `output` already encoded for the client."""
        return {
            "id": self.id,
            "version": None,
            "created_at": self.request.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "input": self.input,
            "output": output,
            "logs": "".join(self.logs),
            "error": self.error,
            "metrics": self.metrics,
        }
