"""The worker process: `python -m runtime.worker --control ... --events ... --predictor ...`.

Started fresh by the supervisor (never forked from the front), so the model's imports and CUDA
start clean. It defers to its parent: SIGINT and SIGTERM are ignored (the front coordinates
shutdown, and a signal sent to the whole process group must not cut a prediction short), and it
exits when the front dies, by the kernel's parent-death signal and by a parent-pid check in the
control thread. Its exit codes are `runtime.ipc.messages.WorkerExit`.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import faulthandler
import logging
import os
import signal
import sys
import threading
from typing import Any

import msgspec

from runtime.cog_alias import prepare_cog
from runtime.ipc.messages import Cancel, Exiting, Log, PredictorLoaded, SetupFailed, WorkerExit
from runtime.ipc.transport import Endpoints, WorkerChannel
from runtime.schema.signature import SignatureError, read_predictor
from runtime.worker.batching import Batching, batching_of
from runtime.worker.capture import OutputCapture, route_by_prediction
from runtime.worker.healthcheck import Healthchecks, healthcheck_of
from runtime.worker.loader import LoadError, load_predictor
from runtime.worker.outbox import Outbox
from runtime.worker.runner import Entrypoint, Runner, SyncRunner

_PARENT_CHECK_MS = 250
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("sprocket.worker")


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the control thread's parent check still applies
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _serve_control(channel: WorkerChannel, runner: Runner, parent_pid: int) -> None:
    """Hand cancels to the runner (whose main thread reads the requests itself); exit the process
    if the front has gone. Runs until the process exits: cancels that come after Shutdown (the
    front cancels what still runs when its grace period ends) must still reach the predictions."""
    while True:
        message = channel.receive(channel.control, _PARENT_CHECK_MS)
        if os.getppid() != parent_pid:
            log.error("the front (pid %d) is gone; exiting", parent_pid)
            os._exit(1)
        if isinstance(message, Cancel):
            runner.cancel(message.id)


def _entrypoint(ref: str, workdir: str, method: str, max_concurrency: int) -> Entrypoint:
    function = load_predictor(ref, workdir, method)
    spec, classes = read_predictor(function, max_concurrency=max_concurrency)
    return Entrypoint(function, spec, classes)


def _runner(
    predict: Entrypoint,
    train: Entrypoint | None,
    batching: Batching | None,
    channel: WorkerChannel,
    outbox: Outbox,
    capture: OutputCapture,
) -> Runner:
    if predict.spec.is_async:
        from runtime.worker.async_runner import AsyncRunner  # and asyncio, only for async predictors

        return AsyncRunner(predict, train, channel, outbox, capture)
    if batching is not None:
        from runtime.worker.batch_runner import BatchRunner  # only for predictors that batch

        return BatchRunner(predict, train, channel, outbox, capture, batching=batching)
    return SyncRunner(predict, train, channel, outbox, capture)


def _batched(predict: Entrypoint, batching: Batching | None) -> Entrypoint:
    """With batching, the front may send two batches' worth: one running, the next gathering."""
    if batching is None:
        return predict
    spec = msgspec.structs.replace(predict.spec, max_concurrency=2 * batching.max_size)
    return dataclasses.replace(predict, spec=spec)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.worker")
    parser.add_argument("--requests", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--predictor", required=True)
    parser.add_argument("--trainer")
    parser.add_argument("--max-concurrency", type=int, required=True)
    parser.add_argument("--nice", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--healthcheck-interval", type=float, required=True)
    parser.add_argument("--healthcheck-timeout", type=float, required=True)
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(args.parent_pid)
    channel = WorkerChannel(Endpoints(requests=args.requests, control=args.control, events=args.events))
    # After the channel: its I/O threads, which carry every message, keep the default priority;
    # the main thread, and the predictor's threads after it, let the front have the CPU first.
    if args.nice > 0:
        os.nice(args.nice)
    outbox = Outbox(channel.send)

    def deliver_log(owner: str | None, stream: Any, text: str) -> None:
        outbox.send(Log(prediction_id=owner, stream=stream, data=text))

    capture = OutputCapture(deliver_log)
    diagnostics = os.fdopen(capture.start(), "w", buffering=1)
    # The worker's own messages go to the real stderr. Not through the root logger: that one
    # belongs to the predictor, whose logging must land in its captured logs.
    handler = logging.StreamHandler(diagnostics)
    handler.setFormatter(logging.Formatter("worker=%(process)d: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # A segfault in a C extension prints the Python stack where the operator will see it.
    faulthandler.enable(file=diagnostics)
    log.info("%s", prepare_cog())
    workdir = os.getcwd()
    try:
        predict = _entrypoint(args.predictor, workdir, "predict", args.max_concurrency)
        train = _entrypoint(args.trainer, workdir, "train", 1) if args.trainer else None
        batching = batching_of(predict.function, predict.spec)
        predict = _batched(predict, batching)
    except (LoadError, SignatureError) as error:
        details = getattr(error, "details", "")
        if details:
            print(details, file=sys.stderr, end="")
        capture.drain()
        outbox.send(SetupFailed(error=str(error)))
        _close(outbox, channel)
        return WorkerExit.LOAD_FAILED
    outbox.send(PredictorLoaded(spec=predict.spec, training_spec=train.spec if train else None))
    if predict.spec.is_async and predict.spec.max_concurrency > 1:
        route_by_prediction(deliver_log)
    runner = _runner(predict, train, batching, channel, outbox, capture)
    check = healthcheck_of(predict.function)
    if check is not None:
        runner.on_ready = Healthchecks(check, outbox.send, args.healthcheck_interval, args.healthcheck_timeout).start
    threading.Thread(
        target=_serve_control, args=(channel, runner, args.parent_pid), name="control", daemon=True
    ).start()
    code = runner.run()
    _close(outbox, channel)
    return code


def _close(outbox: Outbox, channel: WorkerChannel) -> None:
    outbox.close()
    channel.send([Exiting()])
    channel.close()


def main() -> None:
    code = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads the predictor started must not keep a finished worker alive.
    os._exit(code)
