"""The SDK types predictors use: Secret, Input, BaseModel, Path, iterators, BasePredictor."""

import dataclasses
import io
import pathlib
import typing

import pytest

from runtime import (
    AsyncConcatenateIterator,
    BaseModel,
    BasePredictor,
    CancelationException,
    ConcatenateIterator,
    File,
    Input,
    Path,
    Secret,
)
from runtime.types import InputOptions


def test_secret_is_masked_but_keeps_its_value() -> None:
    secret = Secret("s3cr3t")
    assert str(secret) == repr(secret) == f"{secret}" == "**********"
    assert secret.get_secret_value() == "s3cr3t"
    assert secret == Secret("s3cr3t") and secret != Secret("other") and secret != "s3cr3t"
    assert "s3cr3t" not in repr([secret])


def test_input_without_default_is_required() -> None:
    assert Input().required
    assert not Input(default=None).required
    options = Input(default=3, description="d", ge=1, le=5, choices=iter([3, 4]), deprecated=True)
    assert isinstance(options, InputOptions)
    assert (options.default, options.choices, options.deprecated) == (3, (3, 4), True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.default = 4  # type: ignore[misc]


def test_base_model_gets_a_keyword_init() -> None:
    class Output(BaseModel):
        text: str
        file: Path
        score: float = 0.5

    class Extended(Output):
        extra: int

    output = Output(text="t", file=Path("/x"))
    assert (output.text, output.file, output.score) == ("t", Path("/x"), 0.5)
    assert Extended(text="t", file=Path("/x"), extra=1).extra == 1
    assert dataclasses.is_dataclass(output)
    with pytest.raises(TypeError):
        Output("t", Path("/x"))  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'file'"):
        Output(text="t")  # type: ignore[call-arg]


def test_path_is_a_posix_path() -> None:
    path = Path("/tmp") / "a.png"
    assert isinstance(path, pathlib.PosixPath) and type(path) is Path
    assert path.name == "a.png"


def test_iterator_aliases_are_generic() -> None:
    assert typing.get_origin(ConcatenateIterator[str]) is ConcatenateIterator
    assert typing.get_args(AsyncConcatenateIterator[str]) == (str,)


def test_cancelation_is_not_an_exception() -> None:
    assert issubclass(CancelationException, BaseException)
    assert not issubclass(CancelationException, Exception)


def test_file_is_io_and_base_predictor_defaults() -> None:
    assert issubclass(File, io.IOBase)

    class Predictor(BasePredictor):
        pass

    predictor = Predictor()
    predictor.setup()  # a no-op by default
    with pytest.raises(NotImplementedError, match="Predictor must define predict"):
        predictor.predict()
