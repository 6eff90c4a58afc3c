"""prepared_arguments(): validated wire values in, predict() keyword arguments out."""

import contextlib
import os
import pathlib
from typing import Any

import pytest

from runtime import Path, Secret
from runtime.ipc.messages import InputField, PredictorSpec
from runtime.schema.arguments import build_arguments, prepared_arguments


def spec_of(*fields: InputField) -> PredictorSpec:
    return PredictorSpec(inputs=list(fields), output_schema={})


@pytest.fixture
def files(tmp_path: pathlib.Path) -> list[str]:
    paths = []
    for name in ("a.bin", "b.bin"):
        (tmp_path / name).write_bytes(name.encode())
        paths.append(str(tmp_path / name))
    return paths


def test_each_kind_gets_its_type(files: list[str]) -> None:
    spec = spec_of(
        InputField(name="text", kind="str", order=0),
        InputField(name="image", kind="path", order=1),
        InputField(name="blob", kind="file", order=2),
        InputField(name="token", kind="secret", order=3),
        InputField(name="count", kind="int", order=4),
    )
    values = {"text": "", "image": files[0], "blob": files[1], "token": "s3cr3t", "count": 0}
    with prepared_arguments(spec, values) as arguments:
        assert arguments["text"] == "" and arguments["count"] == 0
        assert type(arguments["image"]) is Path and arguments["image"] == Path(files[0])
        assert arguments["blob"].read() == b"b.bin"
        assert isinstance(arguments["token"], Secret) and arguments["token"].get_secret_value() == "s3cr3t"
        blob = arguments["blob"]
    assert blob.closed


def test_lists_none_and_absent_values(files: list[str]) -> None:
    spec = spec_of(
        InputField(name="images", kind="path", order=0, is_list=True),
        InputField(name="blobs", kind="file", order=1, is_list=True),
        InputField(name="maybe", kind="path", order=2, nullable=True, has_default=True),
        InputField(name="absent", kind="str", order=3),
    )
    with prepared_arguments(spec, {"images": files, "blobs": files, "maybe": None}) as arguments:
        assert arguments["images"] == [Path(files[0]), Path(files[1])]
        assert [blob.read() for blob in arguments["blobs"]] == [b"a.bin", b"b.bin"]
        assert arguments["maybe"] is None
        assert "absent" not in arguments
        blobs = arguments["blobs"]
    assert all(blob.closed for blob in blobs)


def test_build_arguments_pushes_files_onto_the_given_stack(files: list[str]) -> None:
    spec = spec_of(InputField(name="blobs", kind="file", order=0, is_list=True))
    with contextlib.ExitStack() as stack:
        opened = build_arguments(spec, {"blobs": files}, stack)["blobs"]
        assert not any(blob.closed for blob in opened)
    assert all(blob.closed for blob in opened)


def test_files_opened_before_a_failure_are_closed(files: list[str], tmp_path: pathlib.Path) -> None:
    spec = spec_of(InputField(name="blobs", kind="file", order=0, is_list=True))
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError), prepared_arguments(spec, {"blobs": [files[0], str(tmp_path / "missing")]}):
        pass  # pragma: no cover - opening the second file fails first
    assert len(os.listdir("/proc/self/fd")) == before


def test_files_are_closed_when_predict_raises(files: list[str]) -> None:
    spec = spec_of(InputField(name="blob", kind="file", order=0))
    handles: list[Any] = []
    with pytest.raises(RuntimeError, match="boom"), prepared_arguments(spec, {"blob": files[0]}) as arguments:
        handles.append(arguments["blob"])
        raise RuntimeError("boom")
    assert handles[0].closed
