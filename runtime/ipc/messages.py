"""Every message the front and the worker exchange, and the predictor description they share.

Two unions, one per direction: `Control` (front -> worker) and `Event` (worker -> front). Each
struct is tagged with its class name, so a decoder built once for the union dispatches on the tag.
Fields added later must get a default and go last, so an older peer can still read the message.

Files never travel through these messages: they are paths in a directory both processes can see.
An output file is an `OutputFile` (msgpack extension type), so it can sit anywhere in an output
value (a list, a dict) without colliding with user data.
"""

from __future__ import annotations

import enum
from typing import Any, Literal, Union

import msgspec

# ---------------------------------------------------------------- predictor description
# Built by the worker from the predict() signature, used by the front to validate requests and
# to write the OpenAPI document without ever importing user code.

InputKind = Literal["str", "int", "float", "bool", "path", "file", "secret", "object", "union"]


class InputField(msgspec.Struct, frozen=True, omit_defaults=True):
    """One predict() argument.

    `kind` is the element type; `is_list` wraps it in a list. `choices` holds the allowed values
    (from `choices=` or a `Literal[...]` annotation). `has_default` tells a default of None apart
    from no default at all. A "union" input takes a value any of its `alternatives` (each a
    scalar kind, or a list of one) takes, tried in order. An "object" input is a JSON object
    passed through as it is (a `dict` or `Annotated[T, cog.Opaque]` argument, as Cog 0.20+ reads
    them).
    """

    name: str
    kind: InputKind
    order: int
    is_list: bool = False
    nullable: bool = False
    has_default: bool = False
    default: Any = None
    description: str | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    choices: list[Any] | None = None
    deprecated: bool = False
    alternatives: list[InputField] | None = None


class PredictorSpec(msgspec.Struct, frozen=True):
    """What the front knows about the loaded predictor.

    `output_schema` is the JSON schema of predict()'s return value (an empty dict means "any").
    `is_iterator` is true when predict() yields; its items then form the output list.
    `max_concurrency` is how many predictions the worker runs at once.
    """

    inputs: list[InputField]
    output_schema: dict[str, Any]
    is_iterator: bool = False
    is_async: bool = False
    max_concurrency: int = 1


# ---------------------------------------------------------------- front -> worker


class Control(msgspec.Struct, tag=True):
    """Base of every front -> worker message."""


class Predict(Control):
    """Run predict() (or, with `train`, the trainer) with `input`, validated, defaults applied.

    Path and File inputs are local file paths inside `workdir`, the prediction's own directory,
    which the worker also uses as the temporary directory while the prediction runs.
    """

    id: str
    input: dict[str, Any]
    workdir: str
    train: bool = False
    context: dict[str, str] | None = None  # the request's `context`, for current_scope().context


class Cancel(Control):
    """Stop the prediction `id` if it is still running; unknown ids are ignored."""

    id: str


class Shutdown(Control):
    """Finish the running predictions, then exit 0."""


# ---------------------------------------------------------------- worker -> front


class Event(msgspec.Struct, tag=True):
    """Base of every worker -> front message."""


class PredictorLoaded(Event):
    """predict.py (and train.py, if any) imported and understood; setup() starts next."""

    spec: PredictorSpec
    training_spec: PredictorSpec | None = None


class SetupSucceeded(Event):
    pass


class SetupFailed(Event):
    """Loading the predictor or running setup() failed; `error` is one line (the traceback is logged)."""

    error: str


class Log(Event):
    """Bytes the predictor wrote to stdout or stderr, decoded as UTF-8.

    `prediction_id` is None for output written during import and setup, or between predictions.
    """

    prediction_id: str | None
    stream: Literal["stdout", "stderr"]
    data: str


class OutputChunks(Event):
    """Items yielded by an iterator predictor, in order: several when they came faster than the
    worker sends them (see runtime/worker/outbox.py)."""

    prediction_id: str
    values: list[Any]


class PredictionSucceeded(Event):
    """predict() returned. For iterator predictors `output` is unset: the chunks already came.
    `metrics` holds what the predictor recorded with current_scope(), if anything."""

    prediction_id: str
    predict_time: float
    output: Any = None
    metrics: dict[str, Any] | None = None


class PredictionFailed(Event):
    """predict() raised, or its input could not be prepared; the traceback is in the logs.
    `predict_time` is how long predict() ran before it raised (None if it never started)."""

    prediction_id: str
    error: str
    predict_time: float | None = None
    metrics: dict[str, Any] | None = None


class PredictionCanceled(Event):
    prediction_id: str
    metrics: dict[str, Any] | None = None


class HealthcheckResult(Event):
    """What the predictor's own healthcheck() said; `error` explains a False, a raise or a timeout."""

    healthy: bool
    error: str = ""


class Exiting(Event):
    """The worker's last message: everything it sent before has arrived. The front stops waiting
    for stragglers once it has this (a worker that crashed sends none, and is waited for)."""


ControlMessage = Union[Predict, Cancel, Shutdown]
EventMessage = Union[
    PredictorLoaded,
    SetupSucceeded,
    SetupFailed,
    Log,
    OutputChunks,
    PredictionSucceeded,
    PredictionFailed,
    PredictionCanceled,
    HealthcheckResult,
    Exiting,
]


# ---------------------------------------------------------------- how the worker exits


class WorkerExit(enum.IntEnum):
    """The worker's exit codes on purpose; anything else (or a signal) is a crash."""

    OK = 0  # shut down when asked
    LOAD_FAILED = 3  # the predictor could not be imported or its signature served
    SETUP_FAILED = 4  # setup() raised


# ---------------------------------------------------------------- output files


class OutputFile:
    """A file predict() returned, by path, to be encoded by the front (data URI or upload).

    Sent as a msgpack extension type rather than a struct, so it can sit anywhere inside an
    output value without being mistaken for, or mistaking, a user's dict. (A plain class, not a
    dataclass: msgspec would encode a dataclass as a map without asking the hook.)
    """

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutputFile) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        return f"OutputFile({self.path!r})"
