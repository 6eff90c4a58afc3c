"""The floors: a predictor's own work with no server in between, on this machine, for the figures
whose targets are close to what the machine allows (benchmarks/floors.py runs them beside the
servers, in the same repeats).

- `stream`: figure 11's. The predictor's `predict()` runs inside a bare aiohttp handler, in one
  process, each yield written at once as an SSE `output` event. No worker process, no IPC, no
  validation, no queue: not a server anyone should run, but the least any asyncio server here can
  add between a yield and the client. Serves POST /predictions and GET /health-check on PORT.
- `embed`: figure 13's. The predictor's `predict_batch()` called back to back on `--batch`
  sentences at a time, no HTTP at all; prints the sentences per second as JSON.

Run in a copy of the predictor's directory with Sprocket's environment, whose `cog` alias lets the
predictor import `cog`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import msgspec
from aiohttp import web

from runtime.cog_alias import install_cog_alias
from runtime.http.sse import frame
from runtime.worker.loader import load_predictor

_PREDICTOR = web.AppKey("predictor", Any)


def _set_up_predictor() -> Any:
    """predict.py's Predictor from the working directory, loaded as the worker loads it, set up."""
    install_cog_alias()
    predictor = load_predictor("predict.py:Predictor", os.getcwd()).__self__
    predictor.setup()
    return predictor


async def _predict(request: web.Request) -> web.StreamResponse:
    """The events as Sprocket frames them, so the client reads the same bytes from both."""
    body = await request.json()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    sequence = 0
    async for chunk in request.app[_PREDICTOR].predict(**body["input"]):
        sequence += 1
        await response.write(frame((sequence, "output", msgspec.json.encode({"chunk": chunk}))))
    await response.write(frame((sequence + 1, "completed", msgspec.json.encode({"status": "succeeded"}))))
    return response


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "READY"})


def stream() -> None:
    app = web.Application()
    app[_PREDICTOR] = _set_up_predictor()
    app.router.add_post("/predictions", _predict)
    app.router.add_get("/health-check", _health)
    web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=None, print=None)


def embed(batch: int, seconds: float, warmup: float, sentence: str) -> None:
    """Sentences per second over `seconds`, after `warmup` seconds not counted; every sentence
    different, as the clients of figure 13 send them."""
    predictor = _set_up_predictor()
    calls = done = 0
    started = time.perf_counter()
    window_from, stop_at = started + warmup, started + warmup + seconds
    while (now := time.perf_counter()) < stop_at:
        texts = [[sentence.format(client=client, request=calls)] for client in range(batch)]
        outputs = predictor.predict_batch(task=["embed"] * batch, texts=texts, query=[None] * batch, top_k=[0] * batch)
        failed = [output for output in outputs if isinstance(output, Exception)]
        if failed:
            raise failed[0]
        calls += 1
        if now >= window_from:
            done += batch
    print(json.dumps({"sentences_per_second": done / (time.perf_counter() - window_from)}))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="no_server.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stream", help="serve the streaming predictor from aiohttp's own loop")
    embedding = commands.add_parser("embed", help="call predict_batch() back to back, no HTTP")
    embedding.add_argument("--batch", type=int, required=True)
    embedding.add_argument("--seconds", type=float, required=True)
    embedding.add_argument("--warmup", type=float, required=True)
    embedding.add_argument("--sentence", required=True, help="a format string with {client} and {request}")
    args = parser.parse_args(argv)
    if args.command == "stream":
        stream()
    else:
        embed(args.batch, args.seconds, args.warmup, args.sentence)


if __name__ == "__main__":
    main(sys.argv[1:])
