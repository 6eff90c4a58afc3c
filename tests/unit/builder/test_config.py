"""cog.yaml validation: every accepted key, and one clear line for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.context import resolve_dependencies
from runtime.cog_yaml import BuildConfig, CogYamlError, Config, Mount, RunCommand, load, loads


def test_minimal_file_gets_defaults() -> None:
    config = loads('predict: "predict.py:Predictor"\n')
    assert config.build == BuildConfig()
    assert config.build.python_version == "3.11"
    assert config.predict == "predict.py:Predictor"
    assert config.warnings == ()


def test_every_key() -> None:
    config = loads("""
build:
  gpu: true
  python_version: "3.12.1"
  python_packages: ["torch==2.3.0", "numpy"]
  system_packages: [ffmpeg, libgl1]
  run:
    - echo one
    - command: pip download weights
      mounts:
        - {type: secret, id: hf, target: /run/secrets/hf}
  cuda: "12.4"
  cudnn: "9"
predict: "predict.py:Predictor"
train: "train.py:train"
image: "registry.example.com/me/model"
concurrency:
  max: 4
environment:
  - B=2
  - A=x=y
""")
    assert config.build.gpu is True
    assert config.build.python_version == "3.12.1" and config.build.python_minor == "3.12"
    assert config.build.python_packages == ("torch==2.3.0", "numpy")
    assert config.build.system_packages == ("ffmpeg", "libgl1")
    assert config.build.run == (
        RunCommand("echo one"),
        RunCommand("pip download weights", (Mount("secret", "hf", "/run/secrets/hf"),)),
    )
    assert (config.build.cuda, config.build.cudnn) == ("12.4", "9")
    assert config.train == "train.py:train"
    assert config.image == "registry.example.com/me/model"
    assert config.concurrency_max == 4
    assert config.environment == (("A", "x=y"), ("B", "2"))  # sorted, split at the first "="


def test_result_is_frozen() -> None:
    config = loads("build: {gpu: false}\n")
    with pytest.raises(AttributeError):
        config.image = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "written, expected",
    [
        ('"3.11"', "3.11"),
        ("3.11", "3.11"),
        ("3.10", "3.10"),
        ("3.12", "3.12"),
        ('"3.11.4"', "3.11.4"),
    ],
)
def test_unquoted_versions_are_read_as_written(written: str, expected: str) -> None:
    # PyYAML reads 3.10 as the float 3.1; Cog reads the text, so do we.
    assert loads(f"build:\n  python_version: {written}\n").build.python_version == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("build:\n  python_version: 3\n", r'^cog.yaml: build.python_version must be a string like "3.11", got 3$'),
        ("build:\n  python_version: [3]\n", r'build.python_version must be a string like "3.11", got a list'),
        ('build:\n  python_version: "three"\n', r'got "three"'),
        ("build:\n  gpu: yes please\n", r'^cog.yaml: build.gpu must be true or false, got "yes please"$'),
        ("build:\n  python_packages: torch\n", r"build.python_packages must be a list of pip requirements"),
        ("build:\n  system_packages: [ffmpeg, 'a b']\n", r"build.system_packages\[1\] must be one apt package name"),
        ('build:\n  run: ["a\\nb"]\n', r"build.run\[0\] must be one line"),
        (
            "build:\n  run: [{command: x, mounts: [{type: cache, id: a, target: b}]}]\n",
            r'build.run\[0\].mounts\[0\].type must be "secret", got "cache"',
        ),
        ("build:\n  run: [{cmd: x}]\n", r"unknown key build.run\[0\].cmd; allowed: command, mounts"),
        (
            "build:\n  python_packages: [a]\n  python_requirements: r.txt\n",
            r"python_packages and build.python_requirements cannot both be set",
        ),
        (
            "bulid: {}\n",
            r"^cog.yaml: unknown key 'bulid'; allowed: build, predict, train, image, concurrency, environment$",
        ),
        ("build:\n  gpus: true\n", r"unknown key 'build.gpus'; allowed: gpu, python_version"),
        ('predict: "predict.py"\n', r'predict must be a reference like "predict.py:Predictor", got "predict.py"'),
        ("concurrency:\n  max: 0\n", r"concurrency.max must be a positive integer, got 0"),
        ("concurrency: 3\n", r"concurrency must be a mapping with max, got 3"),
        ("environment: [FOO]\n", r'environment\[0\] must be a KEY=VALUE string, got "FOO"'),
        ("environment: [PATH=/x]\n", r"environment\[0\] sets PATH, which the image manages"),
        ("environment: [CUDA_HOME=/x]\n", r"environment\[0\] sets CUDA_HOME"),
        ("environment: [R8_X=1]\n", r"sets R8_X"),
        ("environment: [A=1, A=2]\n", r"environment\[1\] sets A a second time"),
        ("environment: [1A=2]\n", r"environment\[0\] has name '1A'"),
        ("image: 'Not An Image'\n", r"image must be an image name like"),
        ("- a\n- b\n", r"the file must be a mapping of keys"),
        ("build: [\n", r"^cog.yaml is not valid YAML at line 2"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(CogYamlError, match=message) as caught:
        loads(text)
    assert "\n" not in str(caught.value)


def test_ignored_cog_keys_warn() -> None:
    config = loads(
        "build:\n  fast: true\n  python_version: '3.11'\nweights: []\nconcurrency: {max: 2, default_target: 1}\n"
    )
    assert config.warnings == (
        "cog.yaml: weights is not supported by Sprocket and is ignored",
        "cog.yaml: build.fast is not supported by Sprocket and is ignored",
        "cog.yaml: concurrency.default_target is not supported by Sprocket and is ignored",
    )


def test_cuda_without_gpu_warns() -> None:
    assert "ignored without build.gpu" in loads("build: {cuda: '12.4'}\n").warnings[0]


def test_load_checks_files_in_the_directory(tmp_path: Path) -> None:
    with pytest.raises(
        CogYamlError, match=r"^no cog.yaml in .*: run in a model directory, or create one with `sprocket init`$"
    ):
        load(str(tmp_path))
    (tmp_path / "cog.yaml").write_text('predict: "predict.py:Predictor"\n')
    with pytest.raises(CogYamlError, match=r"predict refers to predict.py, which is not in"):
        load(str(tmp_path))
    (tmp_path / "predict.py").write_text("")
    (tmp_path / "cog.yaml").write_text('build: {python_requirements: req.txt}\npredict: "predict.py:Predictor"\n')
    # The server reads this file too; only the builder needs the requirements file.
    assert load(str(tmp_path)).build.python_requirements == "req.txt"


def test_the_builder_needs_the_requirements_file_cog_yaml_names(tmp_path: Path) -> None:
    config = loads("build: {python_requirements: req.txt}\n")
    with pytest.raises(CogYamlError, match=r"python_requirements names req.txt, which is not a file"):
        resolve_dependencies(config, tmp_path, tmp_path / "cache", lambda message: None)


def test_json_dict_round_trips_through_parse() -> None:
    text = """
build: {gpu: true, python_version: "3.11", system_packages: [ffmpeg], run: [echo hi], cuda: "12.1"}
predict: "predict.py:Predictor"
environment: [A=1]
concurrency: {max: 2}
"""
    config = loads(text)
    assert Config(**{**config.__dict__}) == config
    from runtime.cog_yaml import parse

    assert parse(config.to_json_dict()) == config
