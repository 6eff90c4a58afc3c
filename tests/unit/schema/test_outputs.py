"""to_wire(): predict() results in, msgpack-able values and OutputFiles out."""

import dataclasses
import datetime
import enum
import io
import pathlib
from typing import Any, Optional

import pytest

from runtime import BaseModel, Path
from runtime.ipc.messages import OutputFile
from runtime.schema.outputs import to_wire


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> str:
    directory = tmp_path / "work"
    directory.mkdir()
    return str(directory)


@pytest.fixture
def image(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG")
    return path


@pytest.mark.parametrize("value", [None, 0, 0.0, False, "", [], {}, 1, -2.5, True, "text"])
def test_primitives_and_falsy_values_stay_themselves(value: Any, workdir: str) -> None:
    result = to_wire(value, workdir)
    assert result == value and type(result) is type(value)


def test_sequences_become_lists(workdir: str) -> None:
    assert to_wire((1, (2, 3)), workdir) == [1, [2, 3]]
    assert to_wire({3}, workdir) == [3]
    assert to_wire(frozenset(), workdir) == []


def test_dict_keys_become_strings(workdir: str) -> None:
    assert to_wire({"a": 0, 1: [False]}, workdir) == {"a": 0, "1": [False]}


def test_paths_anywhere_become_output_files(image: pathlib.Path, workdir: str) -> None:
    expected = OutputFile(str(image))
    value = {"one": Path(image), "many": [image, (image,)], "nested": {"deep": [Path(image)]}}
    assert to_wire(value, workdir) == {"one": expected, "many": [expected, [expected]], "nested": {"deep": [expected]}}


def test_relative_path_is_made_absolute(image: pathlib.Path, workdir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(image.parent)
    assert to_wire(pathlib.Path("image.png"), workdir) == OutputFile(str(image))


def test_missing_path_is_an_error(tmp_path: pathlib.Path, workdir: str) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"predict\(\) returned the path '.*/nope.png', but there is no file there"
    ):
        to_wire(tmp_path / "nope.png", workdir)


def test_io_objects_become_files_in_workdir(workdir: str) -> None:
    stream = io.BytesIO(b"hello")
    stream.seek(3)  # a predictor often returns the buffer it wrote, positioned at its end
    result = to_wire(stream, workdir)
    assert result == OutputFile(str(pathlib.Path(workdir) / "output"))
    assert pathlib.Path(result.path).read_bytes() == b"hello"
    assert stream.tell() == 3  # the input is left as it was


def test_text_io_is_encoded_and_names_do_not_collide(workdir: str) -> None:
    first, second = to_wire([io.StringIO("héllo"), io.StringIO("world")], workdir)
    assert pathlib.Path(first.path).name == "output"
    assert pathlib.Path(second.path).name == "output-1"
    assert pathlib.Path(first.path).read_bytes() == "héllo".encode()
    assert pathlib.Path(second.path).read_text() == "world"


def test_named_file_keeps_its_basename(tmp_path: pathlib.Path, workdir: str) -> None:
    source = tmp_path / "foo.txt"
    source.write_text("content")
    with open(source, "rb") as handle:
        first = to_wire(handle, workdir)
        second = to_wire(handle, workdir)
    assert first == OutputFile(str(pathlib.Path(workdir) / "foo.txt"))
    assert second == OutputFile(str(pathlib.Path(workdir) / "foo-1.txt"))
    assert pathlib.Path(second.path).read_text() == "content"


class ModelOutput(BaseModel):
    text: str
    file: Path
    score: Optional[float] = None


@dataclasses.dataclass
class DataclassOutput:
    items: list[Any]
    count: int = 0


def test_models_become_dicts(image: pathlib.Path, workdir: str) -> None:
    expected_file = OutputFile(str(image))
    assert to_wire(ModelOutput(text="", file=Path(image)), workdir) == {
        "text": "",
        "file": expected_file,
        "score": None,
    }
    assert to_wire(DataclassOutput(items=[io.BytesIO(b"x")]), workdir) == {
        "items": [OutputFile(str(pathlib.Path(workdir) / "output"))],
        "count": 0,
    }


def test_pydantic_models_become_dicts(image: pathlib.Path, workdir: str) -> None:
    import pydantic  # a test dependency (pyproject.toml): missing means a broken install, not a skip

    class Inner(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        file: pathlib.Path

    class PydanticOutput(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        text: str
        inner: Inner

    value = [PydanticOutput(text="t", inner=Inner(file=image))]
    assert to_wire(value, workdir) == [{"text": "t", "inner": {"file": OutputFile(str(image))}}]


def test_numpy_values(workdir: str) -> None:
    import numpy  # a test dependency (pyproject.toml)

    assert to_wire(numpy.float32(1.0), workdir) == 1.0
    assert to_wire(numpy.int64(0), workdir) == 0
    assert to_wire({"a": numpy.array([[1, 2], [3, 4]])}, workdir) == {"a": [[1, 2], [3, 4]]}
    value = to_wire(numpy.float64(2.5), workdir)  # a float subclass: sent as a plain float
    assert value == 2.5 and type(value) is float


def test_enums_and_dates(workdir: str) -> None:
    class Color(enum.Enum):
        RED = "red"

    class Size(enum.IntEnum):
        BIG = 0

    assert to_wire([Color.RED, Size.BIG], workdir) == ["red", 0]
    assert type(to_wire(Size.BIG, workdir)) is int
    assert to_wire(datetime.date(2024, 5, 14), workdir) == "2024-05-14"


@pytest.mark.parametrize(("value", "name"), [(object(), "object"), (b"bytes", "bytes"), ([1, {"x": 1j}], "complex")])
def test_unsupported_values_are_named(value: Any, name: str, workdir: str) -> None:
    with pytest.raises(TypeError, match=rf"^predict\(\) returned a {name}, which cannot be an output; return str, int"):
        to_wire(value, workdir)


def test_input_is_not_mutated(image: pathlib.Path, workdir: str) -> None:
    value = {"files": [image, (1, 2)], "model": ModelOutput(text="x", file=Path(image))}
    to_wire(value, workdir)
    assert value["files"] == [image, (1, 2)]
    assert isinstance(value["model"], ModelOutput) and value["model"].file == Path(image)
