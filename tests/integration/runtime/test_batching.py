"""Adaptive batching (runtime/worker/batching.py) through a real server: concurrent predictions
run in one predict_batch() call, and each keeps its own id, status, output, error, logs,
webhook and cancel.

The `batched` fixture's batches wait for a gate file when a request names one: the first
prediction holds the worker while the others queue up, and once the gate opens the worker takes
every queued prediction into the next batch at once."""

from __future__ import annotations

import re
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.peers import Peer, respond
from tests.support import Server, wait_until


@pytest.fixture
def batched(start_server) -> Server:
    server = start_server("batched")
    server.wait_for_status("READY")
    return server


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(16) as executor:
        yield executor


def _in_flight(server: Server) -> int:
    match = re.search(r"^sprocket_predictions_in_flight (\S+)$", server.get("/metrics").text, re.M)
    assert match
    return int(float(match.group(1)))


def _post(server: Server, prediction_id: str, inputs: dict[str, Any], **extra: Any) -> requests.Response:
    return server.put(f"/predictions/{prediction_id}", json={"input": inputs, **extra})


def _batch_behind_gate(
    server: Server, pool: ThreadPoolExecutor, gate: Path, inputs: dict[str, dict[str, Any]], **extra: Any
) -> dict[str, Future[requests.Response]]:
    """Hold the worker with a first prediction until `gate` exists, queue `inputs` (id -> input)
    behind it; returns every prediction's future reply, the holder's as "holder"."""
    futures = {"holder": pool.submit(_post, server, "holder", {"number": 1, "gate": str(gate)})}
    wait_until(Path(f"{gate}.entered").exists, 10, "the holder's batch to start")
    for prediction_id, values in inputs.items():
        futures[prediction_id] = pool.submit(_post, server, prediction_id, values, **extra)
    wait_until(lambda: _in_flight(server) == 1 + len(inputs), 10, "the rest to reach the worker's queue")
    return futures


def _bodies(futures: dict[str, Future[requests.Response]]) -> dict[str, dict[str, Any]]:
    return {prediction_id: future.result(30).json() for prediction_id, future in futures.items()}


def test_predictions_waiting_together_run_in_one_batch_each_with_its_own_result(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {f"p{n}": {"number": n} for n in range(5)})
    gate.touch()
    bodies = _bodies(futures)
    assert bodies["holder"]["metrics"]["batch_size"] == 1
    for n in range(5):
        body = bodies[f"p{n}"]
        assert (body["id"], body["status"], body["output"]) == (f"p{n}", "succeeded", 2 * n)
        assert body["metrics"]["batch_size"] == 5 and body["metrics"]["predict_time"] > 0
        assert body["logs"].startswith("batch of 5: [")  # every member has the batch's output
    assert batched.status() == "READY"


def test_an_idle_worker_waits_batch_wait_for_more_even_when_two_came_at_once(
    start_server, pool: ThreadPoolExecutor
) -> None:
    """Two predictions that reach an idle worker together are not a backlog: a third that comes
    within batch_wait still joins them. The worker is stopped while the two are sent, so both
    are waiting when it looks, and the third is sent only once it runs again."""
    server = start_server("batched", env={"BATCHED_WAIT": "1.0"})
    server.wait_for_status("READY")
    worker = server.worker()
    worker.send_signal(signal.SIGSTOP)
    try:
        futures = {name: pool.submit(_post, server, name, {"number": n}) for n, name in enumerate(["a", "b"])}
        wait_until(lambda: _in_flight(server) == 2, 10, "both to be sent to the stopped worker")
    finally:
        worker.send_signal(signal.SIGCONT)
    futures["c"] = pool.submit(_post, server, "c", {"number": 2})
    bodies = _bodies(futures)
    assert {name: body["metrics"]["batch_size"] for name, body in bodies.items()} == {"a": 3, "b": 3, "c": 3}
    assert [body["output"] for body in bodies.values()] == [0, 2, 4]


def test_a_bad_input_is_refused_alone_and_a_failing_member_fails_alone(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {"good": {"number": 4}, "negative": {"number": -2}})
    refused = _post(batched, "not-a-number", {"number": "four"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "input", "number"]
    gate.touch()
    bodies = _bodies(futures)
    assert (bodies["good"]["status"], bodies["good"]["output"]) == ("succeeded", 8)
    assert (bodies["negative"]["status"], bodies["negative"]["error"]) == ("failed", "-2 is negative")
    assert bodies["negative"]["metrics"]["batch_size"] == 2


def test_a_batch_that_raises_fails_every_member_with_its_error(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {"a": {"number": 13}, "b": {"number": 2}})
    gate.touch()
    bodies = _bodies(futures)
    for name in ("a", "b"):
        assert (bodies[name]["status"], bodies[name]["error"]) == ("failed", "13 spoils the batch")
        assert "RuntimeError: 13 spoils the batch" in bodies[name]["logs"]
    assert bodies["holder"]["status"] == "succeeded"
    assert batched.status() == "READY"


def test_a_wrong_number_of_outputs_fails_every_member_saying_so(batched: Server) -> None:
    body = batched.predict(number=1, outputs=3)
    assert body["status"] == "failed"
    assert body["error"] == (
        "predict_batch() returned 3 outputs for 1 predictions; return a list with one output per prediction, in order"
    )


def test_cancelling_a_member_of_a_running_batch_ends_it_alone_at_once(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {})
    cancelled = batched.post("/predictions/holder/cancel")
    assert cancelled.status_code == 200
    holder = futures["holder"].result(30).json()  # answered while the batch is still held
    assert holder["status"] == "canceled"
    assert not gate.exists()
    gate.touch()
    # The worker carries on; the cancelled member's output was dropped, and the next one runs.
    assert batched.predict(number=3)["output"] == 6
    wait_until(lambda: batched.status() == "READY", 10, "READY")


def test_cancelling_a_queued_member_takes_it_out_of_the_next_batch(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {"stays": {"number": 5}, "goes": {"number": 6}})
    assert batched.post("/predictions/goes/cancel").status_code == 200
    gate.touch()
    bodies = _bodies(futures)
    assert bodies["goes"]["status"] == "canceled"
    assert (bodies["stays"]["status"], bodies["stays"]["output"]) == ("succeeded", 10)
    assert bodies["stays"]["metrics"]["batch_size"] == 1


def test_each_member_sends_its_own_webhooks(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path, peer: Peer
) -> None:
    gate = tmp_path / "gate"
    hooks = {name: peer.on("POST", f"/hook-{name}", respond(200)) for name in ("x", "y")}
    futures = {"holder": pool.submit(_post, batched, "holder", {"number": 1, "gate": str(gate)})}
    wait_until(Path(f"{gate}.entered").exists, 10, "the holder's batch to start")
    for name, number in (("x", 7), ("y", -1)):
        futures[name] = pool.submit(_post, batched, name, {"number": number}, webhook=hooks[name])
    wait_until(lambda: _in_flight(batched) == 3, 10, "both to queue")
    gate.touch()
    _bodies(futures)
    for name, status in (("x", "succeeded"), ("y", "failed")):
        received = peer.wait_for(
            f"/hook-{name}", lambda r: any(h.json["status"] != "processing" for h in r), f"{name}'s completed webhook"
        )
        assert received[-1].json["id"] == name and received[-1].json["status"] == status


def test_the_replica_takes_two_batches_worth_then_is_busy(
    batched: Server, pool: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """One batch (of 8) running, the next one gathering: 16 predictions in flight, then 409."""
    gate = tmp_path / "gate"
    futures = _batch_behind_gate(batched, pool, gate, {f"q{n}": {"number": 20 + n} for n in range(15)})
    assert batched.status() == "BUSY"
    refused = _post(batched, "one-too-many", {"number": 1})
    assert (refused.status_code, refused.json()["detail"]) == (409, "Already running a prediction")
    gate.touch()
    bodies = _bodies(futures)
    assert sorted(body["metrics"]["batch_size"] for body in bodies.values()) == [1] + [7] * 7 + [8] * 8
    assert {body["status"] for body in bodies.values()} == {"succeeded"}, bodies
