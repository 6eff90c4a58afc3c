"""cog.yaml, parsed and validated into a frozen `Config`: the one reader, for the server
(`python -m runtime`) and the builder (`sprocket build`) alike, so both read a file the same way.
What only an image needs (a Python version Sprocket runs on, the requirements file) the builder
checks itself.

Every mistake is one `CogYamlError` line naming the key, what it takes and what it got, e.g.
`cog.yaml: build.python_version must be a string like "3.11", got [3]`. Keys Cog knows that Sprocket
does not act on are accepted and reported in `Config.warnings`.

Unquoted versions are read as written: PyYAML turns `python_version: 3.10` into the float 3.1, but
Cog (Go) reads the scalar's text, so we keep the source text of float scalars and use it for the
version keys. `3.10` therefore means Python 3.10, as it does for Cog.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

# Names a model may not set in `environment:` (Cog v0.16.0 pkg/config/env_variables.go): the image
# or the platform owns them. A trailing `*` matches a prefix.
ENV_DENYLIST = (
    "PATH",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "PYTHONUNBUFFERED",
    "R8_*",
    "REPLICATE_*",
    "LIBRARY_PATH",
    "CUDA_*",
    "NVIDIA_*",
    "NV_*",
    "PGET_*",
    "HF_ENDPOINT",
    "HF_HUB_ENABLE_HF_TRANSFER",
    "KUBERNETES_*",
)

TOP_LEVEL_KEYS = ("build", "predict", "train", "image", "concurrency", "environment")
BUILD_KEYS = (
    "gpu",
    "python_version",
    "python_packages",
    "python_requirements",
    "system_packages",
    "run",
    "cuda",
    "cudnn",
)
# Cog keys we accept so existing cog.yaml files load, but do not act on.
IGNORED_TOP_LEVEL = ("model", "weights", "tests")
IGNORED_BUILD = ("pre_install", "fast", "python_overrides", "cog_runtime", "sdk_version")

_VERSION = re.compile(r"^(\d+)\.(\d+)(\.\d+)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREDICTOR_REF = re.compile(r"^([^:\s]+\.py):([A-Za-z_][A-Za-z0-9_]*)$")
# Docker image reference: [registry[:port]/]path[:tag][@digest], loosely.
_IMAGE_REF = re.compile(r"^[a-z0-9]+([._:/-][a-zA-Z0-9_.-]+)*(@sha256:[0-9a-f]{64})?$")


class CogYamlError(Exception):
    """cog.yaml is missing or wrong; the message is one line meant for the user."""


@dataclass(frozen=True)
class Mount:
    type: str
    id: str
    target: str


@dataclass(frozen=True)
class RunCommand:
    command: str
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class BuildConfig:
    gpu: bool = False
    python_version: str = "3.11"
    python_packages: tuple[str, ...] = ()
    python_requirements: str | None = None
    system_packages: tuple[str, ...] = ()
    run: tuple[RunCommand, ...] = ()
    cuda: str | None = None
    cudnn: str | None = None

    @property
    def python_minor(self) -> str:
        """`"3.11"` for both `"3.11"` and `"3.11.4"`."""
        return ".".join(self.python_version.split(".")[:2])


@dataclass(frozen=True)
class Config:
    build: BuildConfig = field(default_factory=BuildConfig)
    predict: str | None = None
    train: str | None = None
    image: str | None = None
    concurrency_max: int | None = None
    environment: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """The normalized config, shaped like cog.yaml; the image's `run.cog.config` label."""
        build: dict[str, Any] = {"gpu": self.build.gpu, "python_version": self.build.python_version}
        if self.build.python_packages:
            build["python_packages"] = list(self.build.python_packages)
        if self.build.python_requirements:
            build["python_requirements"] = self.build.python_requirements
        if self.build.system_packages:
            build["system_packages"] = list(self.build.system_packages)
        if self.build.run:
            build["run"] = [
                {"command": r.command, "mounts": [{"type": m.type, "id": m.id, "target": m.target} for m in r.mounts]}
                if r.mounts
                else {"command": r.command}
                for r in self.build.run
            ]
        for key in ("cuda", "cudnn"):
            if getattr(self.build, key):
                build[key] = getattr(self.build, key)
        result: dict[str, Any] = {"build": build}
        for key in ("image", "predict", "train"):
            if getattr(self, key):
                result[key] = getattr(self, key)
        if self.concurrency_max is not None:
            result["concurrency"] = {"max": self.concurrency_max}
        if self.environment:
            result["environment"] = [f"{k}={v}" for k, v in self.environment]
        return result


class _SourceFloat(float):
    """A YAML float that remembers how it was written (`3.10` stays "3.10")."""

    source: str

    def __new__(cls, value: float, source: str) -> _SourceFloat:
        obj = super().__new__(cls, value)
        obj.source = source
        return obj

    def __repr__(self) -> str:
        return self.source


class _Loader(yaml.SafeLoader):
    pass


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    return _SourceFloat(yaml.SafeLoader.construct_yaml_float(loader, node), node.value)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _show(value: Any) -> str:
    """A value as the user wrote it, for error messages."""
    if isinstance(value, _SourceFloat):
        return value.source
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _fail(key: str, allowed: str, got: Any) -> CogYamlError:
    return CogYamlError(f"cog.yaml: {key} must be {allowed}, got {_show(got)}")


def _version_text(key: str, value: Any, example: str, pattern: re.Pattern[str]) -> str:
    if isinstance(value, _SourceFloat):
        text = value.source
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise _fail(key, f'a string like "{example}"', value)
    if not pattern.match(text):
        raise _fail(key, f'a string like "{example}"', value)
    return text


def _string_list(key: str, value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(key, f"a list of {what}", value)
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _fail(f"{key}[{index}]", f"a non-empty string ({what})", item)
        items.append(item.strip())
    return tuple(items)


def _check_keys(
    section: str, document: Mapping[str, Any], known: tuple[str, ...], ignored: tuple[str, ...], warnings: list[str]
) -> None:
    for key in document:
        name = f"{section}.{key}" if section else str(key)
        if key in ignored:
            warnings.append(f"cog.yaml: {name} is not supported by Sprocket and is ignored")
        elif key not in known:
            raise CogYamlError(f"cog.yaml: unknown key {name!r}; allowed: {', '.join(known)}")


def _parse_python_version(value: Any) -> str:
    if value is None:
        return "3.11"
    return _version_text("build.python_version", value, "3.11", _VERSION)


def _parse_run(value: Any) -> tuple[RunCommand, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("build.run", "a list of commands (strings or {command, mounts})", value)
    commands = []
    for index, item in enumerate(value):
        key = f"build.run[{index}]"
        mounts: tuple[Mount, ...] = ()
        if isinstance(item, dict):
            unknown = set(item) - {"command", "mounts"}
            if unknown:
                raise CogYamlError(f"cog.yaml: unknown key {key}.{sorted(unknown)[0]}; allowed: command, mounts")
            command = item.get("command")
            mounts = _parse_mounts(f"{key}.mounts", item.get("mounts"))
            key = f"{key}.command"
        else:
            command = item
        if not isinstance(command, str) or not command.strip():
            raise _fail(key, "a non-empty shell command string", command)
        if "\n" in command.strip():
            raise CogYamlError(
                f"cog.yaml: {key} must be one line; split it into several run entries or join the lines with &&"
            )
        commands.append(RunCommand(command.strip(), mounts))
    return tuple(commands)


def _parse_mounts(key: str, value: Any) -> tuple[Mount, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(key, "a list of {type: secret, id, target}", value)
    mounts = []
    for index, item in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise _fail(where, "a mapping {type: secret, id, target}", item)
        if item.get("type") != "secret":
            raise _fail(f"{where}.type", '"secret"', item.get("type"))
        for part in ("id", "target"):
            if not isinstance(item.get(part), str) or not item[part]:
                raise _fail(f"{where}.{part}", "a non-empty string", item.get(part))
        mounts.append(Mount("secret", item["id"], item["target"]))
    return tuple(mounts)


def _parse_predictor_ref(key: str, value: Any, directory: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PREDICTOR_REF.match(value.strip()):
        raise _fail(key, 'a reference like "predict.py:Predictor"', value)
    ref = value.strip()
    if directory is not None:
        module_file = ref.split(":")[0]
        if not os.path.isfile(os.path.join(directory, module_file)):
            raise CogYamlError(f"cog.yaml: {key} refers to {module_file}, which is not in {directory}")
    return ref


def _parse_environment(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("environment", "a list of KEY=VALUE strings", value)
    seen: dict[str, str] = {}
    for index, item in enumerate(value):
        key = f"environment[{index}]"
        if not isinstance(item, str) or "=" not in item:
            raise _fail(key, "a KEY=VALUE string", item)
        name, _, text = item.partition("=")
        if not _ENV_NAME.match(name):
            raise CogYamlError(
                f"cog.yaml: {key} has name {name!r}; a name is letters, digits and _ and does not start with a digit"
            )
        for denied in ENV_DENYLIST:
            if name == denied or (denied.endswith("*") and name.startswith(denied[:-1])):
                raise CogYamlError(
                    f"cog.yaml: {key} sets {name}, which the image manages; not allowed: {', '.join(ENV_DENYLIST)}"
                )
        if name in seen:
            raise CogYamlError(f"cog.yaml: {key} sets {name} a second time")
        seen[name] = text
    return tuple(sorted(seen.items()))


def _parse_build(value: Any, warnings: list[str]) -> BuildConfig:
    if value is None:
        return BuildConfig()
    if not isinstance(value, dict):
        raise _fail("build", "a mapping", value)
    _check_keys("build", value, BUILD_KEYS, IGNORED_BUILD, warnings)
    gpu = value.get("gpu", False)
    if gpu is None:
        gpu = False
    if not isinstance(gpu, bool):
        raise _fail("build.gpu", "true or false", gpu)
    python_version = _parse_python_version(value.get("python_version"))
    packages = _string_list("build.python_packages", value.get("python_packages"), "pip requirements")
    requirements = value.get("python_requirements")
    if requirements is not None:
        if not isinstance(requirements, str) or not requirements.strip():
            raise _fail("build.python_requirements", "a path to a requirements file", requirements)
        requirements = requirements.strip()
        if packages:
            raise CogYamlError(
                "cog.yaml: build.python_packages and build.python_requirements cannot "
                "both be set; move the packages into the requirements file"
            )
    system = _string_list("build.system_packages", value.get("system_packages"), "apt packages")
    for index, package in enumerate(system):
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9.+:=~_-]*$", package):
            raise _fail(f"build.system_packages[{index}]", "one apt package name", package)
    cuda = value.get("cuda")
    cudnn = value.get("cudnn")
    if cuda is not None:
        cuda = _version_text("build.cuda", cuda, "12.4", re.compile(r"^\d+(\.\d+){0,2}$"))
    if cudnn is not None:
        cudnn = _version_text("build.cudnn", cudnn, "9", re.compile(r"^\d+(\.\d+){0,2}$"))
    if not gpu and (cuda or cudnn):
        warnings.append("cog.yaml: build.cuda and build.cudnn are ignored without build.gpu: true")
    return BuildConfig(
        gpu=gpu,
        python_version=python_version,
        python_packages=packages,
        python_requirements=requirements,
        system_packages=system,
        run=_parse_run(value.get("run")),
        cuda=cuda,
        cudnn=cudnn,
    )


def parse(document: Any, directory: str | None = None) -> Config:
    """Validate a loaded cog.yaml document. With `directory`, the predictor and trainer files it
    names must exist there."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise CogYamlError(
            f"cog.yaml: the file must be a mapping of keys ({', '.join(TOP_LEVEL_KEYS)}), got {_show(document)}"
        )
    warnings: list[str] = []
    _check_keys("", document, TOP_LEVEL_KEYS, IGNORED_TOP_LEVEL, warnings)
    build = _parse_build(document.get("build"), warnings)
    predict = _parse_predictor_ref("predict", document.get("predict"), directory)
    train = _parse_predictor_ref("train", document.get("train"), directory)
    image = document.get("image")
    if image is not None and (not isinstance(image, str) or not _IMAGE_REF.match(image)):
        raise _fail("image", 'an image name like "registry.example.com/me/model"', image)
    concurrency_max = None
    concurrency = document.get("concurrency")
    if concurrency is not None:
        if not isinstance(concurrency, dict):
            raise _fail("concurrency", "a mapping with max", concurrency)
        _check_keys("concurrency", concurrency, ("max",), ("default_target",), warnings)
        concurrency_max = concurrency.get("max")
        if concurrency_max is not None and (
            not isinstance(concurrency_max, int) or isinstance(concurrency_max, bool) or concurrency_max < 1
        ):
            raise _fail("concurrency.max", "a positive integer", concurrency_max)
    return Config(
        build=build,
        predict=predict,
        train=train,
        image=image,
        concurrency_max=concurrency_max,
        environment=_parse_environment(document.get("environment")),
        warnings=tuple(warnings),
    )


def load(directory: str) -> Config:
    """Read and validate `directory/cog.yaml`."""
    path = os.path.join(directory, "cog.yaml")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise CogYamlError(
            f"no cog.yaml in {directory}: run in a model directory, or create one with `sprocket init`"
        ) from None
    except OSError as error:
        raise CogYamlError(f"cannot read {path}: {error.strerror}") from None
    return loads(text, directory)


def loads(text: str, directory: str | None = None) -> Config:
    """Validate cog.yaml text (for tests and `sprocket` subcommands that hold the text)."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CogYamlError(f"cog.yaml is not valid YAML{where}: {problem}") from None
    return parse(document, directory)
