"""Inputs from `-i name=value` / `--json`, the prediction request, and outputs written to files.

Values are typed with the server's OpenAPI schema when it has one ("3" becomes 3 for an integer
input, since the server does not coerce strings), `@path` becomes a data URI, a name given twice
becomes a list. Outputs that are data URIs are written to files; text is printed.
"""

from __future__ import annotations

import json
import mimetypes
import re
import sys
from pathlib import Path
from typing import IO, Any

from runtime import data_url

__all__ = [
    "InputError",
    "parse_input_flags",
    "build_input",
    "write_outputs",
    "file_to_data_uri",
    "describe_validation_error",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InputError(Exception):
    """A `-i`/`--json` input is malformed; one line for the user."""


def parse_input_flags(flags: list[str]) -> list[tuple[str, str]]:
    """`["text=hi", "image=@a.jpg"]` -> `[("text", "hi"), ("image", "@a.jpg")]`."""
    pairs = []
    for flag in flags:
        name, sep, value = flag.partition("=")
        if not sep or not _NAME.match(name):
            raise InputError(f"-i expects name=value (or name=@file), got {flag!r}")
        pairs.append((name, value))
    return pairs


def file_to_data_uri(path: str, name: str) -> str:
    try:
        return data_url.from_file(str(Path(path).expanduser()))
    except FileNotFoundError:
        raise InputError(f"input {name}: no such file {path}") from None
    except OSError as error:
        raise InputError(f"input {name}: cannot read {path}: {error.strerror}") from None


def _input_properties(schema: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    if not schema:
        return {}
    components = schema.get("components", {}).get("schemas", {})
    properties = components.get("Input", {}).get("properties", {})

    def resolve(prop: dict[str, Any]) -> dict[str, Any]:
        for key in ("allOf", "anyOf"):
            for part in prop.get(key, []):
                ref = part.get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    return {
                        **components.get(ref.rsplit("/", 1)[-1], {}),
                        **{k: v for k, v in prop.items() if k not in (key,)},
                    }
                if part.get("type") and part.get("type") != "null":
                    return {**part, **{k: v for k, v in prop.items() if k != key}}
        return prop

    return {name: resolve(prop) for name, prop in properties.items()}


def _coerce(name: str, text: str, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if text.startswith("@") and (kind in (None, "string") or prop.get("format") == "uri"):
        return file_to_data_uri(text[1:], name)
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise InputError(
            f"input {name} must be a{'n integer' if kind == 'integer' else ' number'}, got {text!r}"
        ) from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise InputError(f"input {name} must be true or false, got {text!r}")
    if kind == "object":
        try:
            return json.loads(text)
        except ValueError:
            raise InputError(f"input {name} must be a JSON object, got {text!r}") from None
    return text


def _json_files(name: str, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return file_to_data_uri(value[1:], name)
    if isinstance(value, list):
        return [_json_files(name, item) for item in value]
    return value


def build_input(pairs: list[tuple[str, str]], json_text: str | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """The prediction's `input` object from `--json` (if any) overlaid with `-i` pairs."""
    result: dict[str, Any] = {}
    if json_text:
        if json_text.startswith("@"):
            try:
                json_text = Path(json_text[1:]).read_text()
            except OSError as error:
                raise InputError(f"--json: cannot read {json_text[1:]}: {error.strerror}") from None
        try:
            document = json.loads(json_text)
        except ValueError as error:
            raise InputError(f"--json is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise InputError("--json must be a JSON object of input names to values")
        result = {name: _json_files(name, value) for name, value in document.items()}
    properties = _input_properties(schema)
    from_flags: dict[str, list[Any]] = {}
    for name, text in pairs:
        if properties and name not in properties:
            raise InputError(f"unknown input {name!r}; this model takes: {', '.join(properties)}")
        prop = properties.get(name, {})
        item = prop.get("items", {}) if prop.get("type") == "array" else prop
        from_flags.setdefault(name, []).append(_coerce(name, text, item))
    for name, values in from_flags.items():
        if properties.get(name, {}).get("type") == "array":
            result[name] = values
        elif len(values) > 1:
            if properties:
                raise InputError(f"input {name} takes one value, got {len(values)}")
            result[name] = values
        else:
            result[name] = values[0]
    return result


def describe_validation_error(body: Any) -> str:
    """A 422 body (`{"detail": [{"loc": [...], "msg": ...}]}`) as one line."""
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        parts = []
        for item in detail:
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "input")]
            parts.append(f"{'.'.join(loc) or 'input'}: {item.get('msg', item)}")
        return "; ".join(parts)
    return str(detail)


def _extension(mime: str) -> str:
    return {"image/jpeg": ".jpg", "text/plain": ".txt"}.get(mime) or mimetypes.guess_extension(mime) or ""


def _write_data_uri(uri: str, path: Path) -> Path:
    data, media_type = data_url.decode(uri)
    if path.suffix == "" and not path.exists():
        path = path.with_suffix(_extension(media_type))
    path.write_bytes(data)
    return path


def write_outputs(
    output: Any, out_path: str | None, stdout: IO[str] = sys.stdout, stderr: IO[str] = sys.stderr
) -> list[Path]:
    """Print text output; write data-URI outputs to files (`-o` names the first). Paths written."""
    written: list[Path] = []
    counter = {"n": 0}

    def target() -> Path:
        index = counter["n"]
        counter["n"] += 1
        if out_path and index == 0:
            return Path(out_path)
        base = Path(out_path).with_suffix("") if out_path else Path("output")
        return Path(f"{base}.{index}") if (index or isinstance(output, (list, dict))) else base

    def replace(value: Any) -> Any:
        if isinstance(value, str) and data_url.parse_header(value):
            path = _write_data_uri(value, target())
            written.append(path)
            return str(path)
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        return value

    shown = replace(output)
    for path in written:
        stderr.write(f"written to {path}\n")
    if isinstance(output, str) and data_url.parse_header(output):
        return written
    if isinstance(shown, str):
        stdout.write(shown + ("" if shown.endswith("\n") else "\n"))
    elif isinstance(shown, list) and all(isinstance(v, str) for v in shown) and not written:
        stdout.write("\n".join(shown) + "\n")
    else:
        stdout.write(json.dumps(shown, indent=2) + "\n")
    stdout.flush()
    return written
