"""The `.cog/openapi_schema.json` coglet needs, made the way `cog build` would make it.

coglet reads its schema from that file (`cog build` writes it); without it coglet validates no
input, answers /openapi.json with 503 and refuses SSE. We take each predictor's schema from
Cog 0.9.8's own `/openapi.json` (a reference, not the server under test), or from Sprocket's (which
serves Cog's format) for a predictor Cog 0.9.8 cannot load, and, as Cog 0.21+'s static generator
does for a `@cog.streaming` predict(), mark POST /predictions with `x-cog-streaming: true`. The files only ever live in the per-run copy of a predictor.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

from benchmarks.servers import ServerSpec, predictor_dir, running


def _strip_ref_titles(node: Any) -> Any:
    """`cog build` drops `title` beside `$ref` (pydantic 1 emits both)."""
    if isinstance(node, dict):
        if "$ref" in node:
            node = {k: v for k, v in node.items() if k != "title"}
        return {k: _strip_ref_titles(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_strip_ref_titles(v) for v in node]
    return node


def _uses_streaming_marker(predictor: str) -> bool:
    source = (predictor_dir(predictor) / "predict.py").read_text()
    return "@streaming" in source or "@cog.streaming" in source


def openapi_schema(source: ServerSpec, predictor: str) -> dict[str, Any]:
    """`predictor`'s /openapi.json as `source` serves it, shaped as `cog build` writes it."""
    with running(source, predictor) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10.0)
        try:
            conn.request("GET", "/openapi.json")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    if response.status != 200:
        raise RuntimeError(f"{source.name} /openapi.json for {predictor}: HTTP {response.status}")
    schema: dict[str, Any] = _strip_ref_titles(json.loads(body))
    if _uses_streaming_marker(predictor):
        schema["paths"]["/predictions"]["post"]["x-cog-streaming"] = True
    return schema
