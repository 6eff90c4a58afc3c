"""`sprocket`: Cog's model commands (init, build, predict, serve, run, push, schema).

Exit codes (a user error is one line on stderr, `error: ...`; `--debug` adds the traceback):

    0   success
    1   the prediction failed, or `sprocket run`'s command failed (its own code is passed through)
    2   usage: bad flags or -i/--json input, files `init` would overwrite, input rejected (422)
    3   cog.yaml missing or invalid
    4   the Docker engine cannot be reached
    5   the image build or push failed
    6   the server did not start or become ready (port taken, setup failed, timeout)
    130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn, Sequence

__all__ = ["main", "EXIT_CODES"]

EXIT_CODES = {"ok": 0, "failed": 1, "usage": 2, "config": 3, "engine": 4, "build": 5, "server": 6, "interrupted": 130}
DEFAULT_SERVE_PORT = 8393  # Cog's


class UsageError(Exception):
    """A flag or argument the user can fix; exit 2."""


class PredictionFailed(Exception):
    """The model ran and reported failure; exit 1."""


def _error_codes() -> list[tuple[type[BaseException], int]]:
    from builder.build import EngineError
    from builder.context import BuildError
    from builder.serve import ServerError
    from cli.init import InitError
    from cli.predict import InputError
    from runtime.cog_yaml import CogYamlError

    return [
        (UsageError, 2),
        (InputError, 2),
        (InitError, 2),
        (CogYamlError, 3),
        (EngineError, 4),
        (BuildError, 5),
        (ServerError, 6),
        (PredictionFailed, 1),
    ]


def _say(message: str) -> None:
    sys.stderr.write(f"sprocket: {message}\n")
    sys.stderr.flush()


def _model_dir() -> Path:
    return Path.cwd()


def _load_config(directory: Path) -> Any:
    from runtime import cog_yaml

    loaded = cog_yaml.load(str(directory))
    for warning in loaded.warnings:
        _say(f"warning: {warning}")
    return loaded


def _build(args: argparse.Namespace, tag: str | None = None) -> str:
    """Build the image for the current directory; its tag."""
    from builder.build import build_image, connect, default_image_name

    directory = _model_dir()
    config = _load_config(directory)
    client = connect()
    name = tag or getattr(args, "tag", None) or default_image_name(directory, config)
    build_image(
        client,
        directory,
        config,
        name,
        verbose=getattr(args, "verbose", False),
        no_cache=getattr(args, "no_cache", False),
        schema=not getattr(args, "no_schema", False),
    )
    return name


def cmd_init(args: argparse.Namespace) -> int:
    from cli.init import init

    for path in init(_model_dir()):
        _say(f"wrote {path.name}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    if args.print_dockerfile:
        from builder import dockerfile

        sys.stdout.write(dockerfile.generate(_load_config(_model_dir())))
        return 0
    name = _build(args)
    print(name)
    return 0


def _start_server(
    args: argparse.Namespace, port: int | None = None, host: str = "127.0.0.1", echo: Any = sys.stderr
) -> Any:
    from builder.serve import ContainerServer, LocalServer

    environment = dict(_parse_env(args.env or []))
    if args.local:
        if getattr(args, "image", None):
            raise UsageError("--local runs the model in this directory; do not also name an image")
        _load_config(_model_dir())
        return LocalServer(str(_model_dir()), port=port, host=host, environment=environment, echo=echo)
    from builder.build import connect

    client = connect()
    image = args.image or _build(args)
    return ContainerServer(client, image, port=port, host=host, environment=environment, echo=echo)


def _parse_env(pairs: list[str]) -> list[tuple[str, str]]:
    result = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-e expects NAME=VALUE, got {pair!r}")
        result.append((name, value))
    return result


def cmd_predict(args: argparse.Namespace) -> int:
    from builder.serve import get_json, wait_ready
    from cli.predict import build_input, describe_validation_error, parse_input_flags, write_outputs

    pairs = parse_input_flags(args.input or [])  # checked before anything slow starts
    with _start_server(args) as server:
        _say("waiting for setup to finish")
        wait_ready(server, timeout=args.setup_timeout)
        schema_status, schema = get_json(f"{server.url}/openapi.json", timeout=10)
        if schema_status != 200 or not isinstance(schema, dict):
            schema = None
        payload = build_input(pairs, args.json, schema)
        _say("running prediction")
        started = time.monotonic()
        status, body = get_json(f"{server.url}/predictions", timeout=args.predict_timeout, body={"input": payload})
    if status == 422:
        raise UsageError(f"the model rejected the input: {describe_validation_error(body)}")
    if not isinstance(body, dict) or "status" not in body:
        raise PredictionFailed(f"unexpected answer from the server (HTTP {status}): {str(body)[:300]}")
    if body["status"] != "succeeded":
        error = body.get("error") or body.get("detail") or "no error message"
        raise PredictionFailed(f"prediction {body['status']}: {error}")
    _say(f"prediction succeeded in {time.monotonic() - started:.2f}s")
    output = body.get("output")
    output_schema = schema.get("components", {}).get("schemas", {}).get("Output", {}) if schema else {}
    if output_schema.get("x-cog-array-display") == "concatenate" and isinstance(output, list):
        output = "".join(str(item) for item in output)  # a token stream reads as its text, as in cog
    write_outputs(output, args.output)
    return 0


def _wait_for_signal(server: Any) -> int:
    """Block until Ctrl-C/SIGTERM (exit 0) or the server dies (exit 6, saying why)."""
    from builder.serve import ServerError

    stop = {"now": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["now"] = True

    # Both explicitly: a shell starting us in the background leaves SIGINT ignored.
    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop["now"]:
            failure = server.failure()
            if failure is not None:
                raise ServerError(f"the server stopped: {failure}")
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _say("stopping")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from builder.serve import ServerError, port_is_free

    if not port_is_free(args.port, args.host):
        raise ServerError(f"port {args.port} on {args.host} is already in use: pick another with -p")
    with _start_server(args, port=args.port, host=args.host) as server:
        _say(f"serving at {server.url} (Ctrl-C to stop)")
        return _wait_for_signal(server)


def cmd_run(args: argparse.Namespace) -> int:
    import docker.errors

    from builder.build import connect

    if not args.command:
        raise UsageError("run needs a command, e.g. sprocket run python -c 'import torch'")
    client = connect()
    image = _build(args)
    bindings = {int(p.split(":")[-1]): ("127.0.0.1", int(p.split(":")[0])) for p in args.publish or []}
    host_config = client.create_host_config(
        binds={str(_model_dir()): {"bind": "/src", "mode": "rw"}}, port_bindings=bindings or None
    )
    container = client.create_container(
        image,
        command=args.command,
        working_dir="/src",
        environment=dict(_parse_env(args.env or [])),
        host_config=host_config,
        ports=list(bindings) or None,
    )
    try:
        client.start(container["Id"])
        for chunk in client.logs(container["Id"], stream=True, follow=True):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        code = int(client.wait(container["Id"])["StatusCode"])
    except KeyboardInterrupt:
        client.stop(container["Id"], timeout=5)
        raise
    finally:
        try:
            client.remove_container(container["Id"], force=True)
        except docker.errors.NotFound:
            pass
    return code


def cmd_push(args: argparse.Namespace) -> int:
    from builder.build import connect, push_image

    directory = _model_dir()
    config = _load_config(directory)
    image = args.image or config.image
    if not image:
        raise UsageError("push needs an image name: sprocket push REGISTRY/NAME, or set image: in cog.yaml")
    connect()
    _build(args, tag=image)
    push_image(connect(), image)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from builder.serve import LocalServer, fetch_openapi

    _load_config(_model_dir())
    # Without building: the schema comes from this environment's runtime, serving the model
    # directory on a free loopback port, as the image would.
    with LocalServer(str(_model_dir()), echo=sys.stderr if args.debug else None) as server:
        schema = fetch_openapi(server, timeout=args.timeout)
    json.dump(schema, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _add_build_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", action="store_true", help="build every layer again")
    parser.add_argument("--verbose", action="store_true", help="show every build step's output")
    parser.add_argument(
        "--no-schema", action="store_true", help="skip the run.cog.openapi_schema label (it needs a run of the image)"
    )


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", help="image to run (default: build this directory)")
    parser.add_argument(
        "--local", action="store_true", help="run `python -m runtime` in this environment instead of a container"
    )
    parser.add_argument(
        "-e", "--env", action="append", metavar="NAME=VALUE", help="environment variable for the server (repeatable)"
    )
    _add_build_flags(parser)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line and exit 2, as argparse does, but without the usage block.
        self.exit(2, f"sprocket: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sprocket",
        description=__doc__.split("\n")[0],
        epilog="Exit codes: 0 ok, 1 prediction/command failed, 2 usage, 3 cog.yaml, "
        "4 Docker engine, 5 build/push, 6 server not ready.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command_name", metavar="COMMAND", parser_class=_Parser)

    sub = commands.add_parser("init", help="write a starter cog.yaml, predict.py and .dockerignore")
    sub.set_defaults(func=cmd_init)

    sub = commands.add_parser("build", help="build the model's image")
    sub.add_argument("-t", "--tag", help="image name (default: image: in cog.yaml, or sprocket-<dir>)")
    sub.add_argument("--print-dockerfile", action="store_true", help="print the Dockerfile and stop")
    _add_build_flags(sub)
    sub.set_defaults(func=cmd_build)

    sub = commands.add_parser("predict", help="run one prediction")
    _add_server_flags(sub)
    sub.add_argument(
        "-i", "--input", action="append", metavar="NAME=VALUE", help="an input; NAME=@path sends a file (repeatable)"
    )
    sub.add_argument("--json", help="inputs as a JSON object, or @file.json")
    sub.add_argument("-o", "--output", help="file for the (first) file output")
    sub.add_argument("--setup-timeout", type=float, default=300.0, help="seconds (default 300)")
    sub.add_argument("--predict-timeout", type=float, default=3600.0, help="seconds (default 3600)")
    sub.set_defaults(func=cmd_predict)

    sub = commands.add_parser("serve", help="serve the HTTP API on a port")
    _add_server_flags(sub)
    sub.add_argument(
        "-p", "--port", type=int, default=DEFAULT_SERVE_PORT, help=f"host port (default {DEFAULT_SERVE_PORT})"
    )
    sub.add_argument("--host", default="127.0.0.1", help="host address to publish on (default 127.0.0.1)")
    sub.set_defaults(func=cmd_serve)

    sub = commands.add_parser("run", help="run a command in the image, model directory at /src")
    sub.add_argument("-e", "--env", action="append", metavar="NAME=VALUE")
    sub.add_argument(
        "-p", "--publish", action="append", metavar="HOSTPORT:PORT", help="publish a container port on 127.0.0.1"
    )
    _add_build_flags(sub)
    sub.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    sub.set_defaults(func=cmd_run)

    sub = commands.add_parser("push", help="build, tag and push the image to a registry")
    sub.add_argument("image", nargs="?", help="REGISTRY/NAME[:TAG] (default: image: in cog.yaml)")
    _add_build_flags(sub)
    sub.set_defaults(func=cmd_push)

    sub = commands.add_parser("schema", help="print the model's OpenAPI schema, without building")
    sub.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")
    sub.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    codes = _error_codes()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (`sprocket schema | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        for kind, code in codes:
            if isinstance(error, kind):
                if args.debug:
                    traceback.print_exc()
                # Details (setup logs, a container's last output) first; the error line last.
                first, _, details = str(error).partition("\n")
                if details:
                    sys.stderr.write(details.rstrip("\n") + "\n")
                sys.stderr.write(f"sprocket: error: {first}\n")
                return code
        raise


def run() -> NoReturn:
    sys.exit(main())


if __name__ == "__main__":
    run()
