"""Build a model image through the Docker SDK, streaming progress; push it.

Exceptions (each message is one line for the user):

    EngineError   the Docker engine cannot be reached
    BuildError    (builder.context) the context, a build step or a push failed
    CogYamlError   (builder.config) cog.yaml is wrong

The SDK's `APIClient.build()` drives the engine's classic builder (no BuildKit session), which
is why the generated Dockerfile avoids BuildKit-only syntax.
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable

import docker
import docker.errors
import requests.exceptions
from docker import APIClient

from builder import dockerfile
from builder.context import CACHE_DIR, BuildError, resolve_dependencies, write_context
from builder.serve import ContainerServer, ServerError, fetch_openapi
from runtime.cog_yaml import Config

__all__ = [
    "EngineError",
    "BuildError",
    "BuildResult",
    "connect",
    "build_image",
    "push_image",
    "default_image_name",
    "follow_build",
]


class EngineError(Exception):
    """The Docker engine cannot be reached; one line naming what to do."""


def connect(timeout: int = 600) -> APIClient:
    """A client for the engine named by DOCKER_HOST (default the local socket), checked by ping."""
    try:
        client = APIClient(version="auto", timeout=timeout, **docker.utils.kwargs_from_env())
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        where = docker.utils.kwargs_from_env().get("base_url") or "unix:///var/run/docker.sock"
        text = str(error)
        reason = (
            "no engine socket there"
            if "No such file" in text
            else "connection refused"
            if "refused" in text
            else "permission denied"
            if "Permission denied" in text
            else text[:160] or type(error).__name__
        )
        raise EngineError(
            f"cannot reach the Docker engine at {where} ({reason}); start it (e.g. scripts/docker-up.sh) or use --local"
        ) from None


def default_image_name(model_dir: Path, config: Config) -> str:
    """`image:` from cog.yaml, else `sprocket-<directory name>` made a valid image name."""
    if config.image:
        return config.image
    name = re.sub(r"[^a-z0-9._-]+", "-", model_dir.resolve().name.lower()).strip("-._") or "model"
    return f"sprocket-{name}"


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tag: str
    seconds: float
    has_schema: bool


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12})$")
# The classic builder wraps a RUN's stderr in red (ESC[91m ... ESC[0m).
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Progress:
    """Turns the classic builder's JSON stream into `[3/12] RUN ...` lines with timings.

    A step's output is kept (and shown, with `verbose`) so a failing RUN can print it.
    """

    def __init__(self, out: IO[str], verbose: bool) -> None:
        self.out, self.verbose = out, verbose
        self.started = time.monotonic()
        self.step: str | None = None
        self.step_instruction = ""
        self.step_started = self.started
        self.cached = False
        self.output: deque[str] = deque(maxlen=200)
        self.image_id: str | None = None

    def _end_step(self, layer: str | None) -> None:
        if self.step is None:
            return
        took = time.monotonic() - self.step_started
        how = "cached" if self.cached else f"{took:.1f}s"
        self.out.write(f"        -> layer {layer or '?'} ({how}, total {time.monotonic() - self.started:.1f}s)\n")
        self.out.flush()

    def line(self, text: str) -> None:
        text = _ANSI.sub("", text)
        match = _STEP.match(text)
        if match:
            self.step = f"{match[1]}/{match[2]}"
            self.step_instruction = match[3]
            self.step_started = time.monotonic()
            # A FROM step has nothing to build: report it like a cached one.
            self.cached = match[3].startswith("FROM ")
            self.output.clear()
            self.out.write(f"[{self.step:>5}] {match[3]}\n")
            self.out.flush()
            return
        if text == " ---> Using cache":
            self.cached = True
            return
        layer = _LAYER.match(text)
        if layer:
            self._end_step(layer[1])
            return
        if text.startswith(" ---> Running in ") or text.startswith("Removing intermediate container"):
            return
        if text.startswith("Successfully built "):
            self.image_id = text.split()[-1]
            return
        if text.startswith("Successfully tagged "):
            return
        if not text.strip() and not self.output:
            return
        self.output.append(text)
        if self.verbose:
            self.out.write(f"        | {text}\n")
            self.out.flush()

    def fail(self, error: str) -> BuildError:
        took = time.monotonic() - self.step_started
        instruction = self.step_instruction
        self.out.write(f"step {self.step} failed after {took:.1f}s: {instruction}\n")
        if self.output and not self.verbose:
            self.out.write("".join(f"        | {line}\n" for line in self.output))
        self.out.flush()
        where = f" at step {self.step} ({_short(instruction)})" if self.step else ""
        message = error.strip().splitlines()[-1] if error.strip() else "unknown error"
        if instruction.startswith("FROM ") and ("pull" in message or "not found" in message):
            message += (
                "; no registry is reachable, so the base image must exist locally "
                "(scripts/base-image.sh builds python:3.11-slim)"
            )
        return BuildError(f"image build failed{where}: {message}")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def follow_build(stream: Iterable[dict[str, Any]], out: IO[str], verbose: bool = False) -> str:
    """Consume `APIClient.build(decode=True)` output; the image id, or BuildError."""
    progress = _Progress(out, verbose)
    pending = ""
    for chunk in stream:
        if "error" in chunk:
            if pending:
                progress.line(pending)
            raise progress.fail(chunk.get("error") or str(chunk.get("errorDetail")))
        if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
            progress.image_id = chunk["aux"]["ID"]
        text = chunk.get("stream")
        if text:
            pending += text
            while "\n" in pending:
                line, pending = pending.split("\n", 1)
                progress.line(line.rstrip("\r"))
    if pending:
        progress.line(pending)
    if not progress.image_id:
        raise BuildError("image build ended without an image id")
    return progress.image_id


def build_image(
    client: APIClient,
    model_dir: Path,
    config: Config,
    tag: str,
    *,
    out: IO[str] = sys.stderr,
    verbose: bool = False,
    no_cache: bool = False,
    schema: bool = True,
) -> BuildResult:
    """Build `model_dir` as `tag`; with `schema`, then label it with its OpenAPI schema.

    The schema comes from running the image's server on a loopback port and reading
    /openapi.json (the predictor module is imported; setup() starts but is not awaited). When
    that fails the image keeps no schema label and a warning says why.
    """
    started = time.monotonic()

    def log(message: str) -> None:
        out.write(f"sprocket: {message}\n")
        out.flush()

    text = dockerfile.generate(config)  # first: it refuses what no image can hold
    cache = model_dir / CACHE_DIR
    deps = resolve_dependencies(config, model_dir, cache, log)
    with tempfile.TemporaryFile() as context:
        write_context(context, text, model_dir, deps)
        size = context.tell()
        context.seek(0)
        log(f"building {tag} (context {size / 1e6:.1f} MB)")
        try:
            stream = client.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                nocache=no_cache,
                pull=False,
            )
            image_id = follow_build(stream, out, verbose)
        except docker.errors.APIError as error:
            raise BuildError(f"the engine refused the build: {error.explanation or error}") from None
    has_schema = False
    if schema:
        try:
            image_id = _label_schema(client, image_id, tag, out)
            has_schema = True
        except (ServerError, docker.errors.APIError, BuildError) as error:
            first = str(error).splitlines()[0]
            log(f"warning: could not read the OpenAPI schema ({first}); the image has no run.cog.openapi_schema label")
    seconds = time.monotonic() - started
    log(f"built {tag} ({image_id[7:19] if image_id.startswith('sha256:') else image_id[:12]}) in {seconds:.1f}s")
    return BuildResult(image_id=image_id, tag=tag, seconds=seconds, has_schema=has_schema)


def _label_schema(client: APIClient, image_id: str, tag: str, out: IO[str]) -> str:
    with ContainerServer(client, image_id) as server:
        schema = fetch_openapi(server, timeout=120)
    # A one-line build on top of the image adds the label without touching any layer.
    stream = client.build(
        fileobj=io.BytesIO(f"FROM {image_id}\n".encode()),
        tag=tag,
        rm=True,
        decode=True,
        pull=False,
        labels={"run.cog.openapi_schema": json.dumps(schema, separators=(",", ":"))},
    )
    return follow_build(stream, io.StringIO())


def push_image(client: APIClient, image: str, out: IO[str] = sys.stderr) -> str:
    """Push `image` (REGISTRY/NAME[:TAG]); prints one line per layer state; returns the digest."""
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    tag = tag or "latest"
    started = time.monotonic()
    states: dict[str, str] = {}
    digest = ""
    try:
        stream = client.push(repository, tag=tag, stream=True, decode=True)
        for chunk in stream:
            if "error" in chunk:
                raise BuildError(f"push of {repository}:{tag} failed: {chunk['error'].strip()}")
            layer, status = chunk.get("id"), chunk.get("status", "")
            if layer and status and status != "Pushing" and states.get(layer) != status:
                states[layer] = status
                out.write(f"  {layer}: {status} (+{time.monotonic() - started:.1f}s)\n")
                out.flush()
            elif layer and status == "Pushing" and states.get(layer) != status:
                states[layer] = status
                total = (chunk.get("progressDetail") or {}).get("total")
                size = f" {total / 1e6:.1f} MB" if total else ""
                out.write(f"  {layer}: pushing{size}\n")
                out.flush()
            match = re.search(r"digest: (sha256:[0-9a-f]{64})", status)
            if match:
                digest = match[1]
    except docker.errors.APIError as error:
        raise BuildError(f"push of {repository}:{tag} failed: {error.explanation or error}") from None
    if not digest:
        raise BuildError(f"push of {repository}:{tag} ended without a digest")
    out.write(f"sprocket: pushed {repository}:{tag}@{digest} in {time.monotonic() - started:.1f}s\n")
    return digest
