"""One prediction at a time for a sync predictor, and a front that answers while it runs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.conftest import module_server
from tests.support import GatedPrediction, Server, wait_until

gated = module_server("gated")
gil = module_server("gil")
hello = module_server("hello")


def test_second_concurrent_prediction_gets_409(gated: Server, tmp_path: Path) -> None:
    with GatedPrediction(gated, tmp_path) as first:
        assert gated.status() == "BUSY"
        second = gated.post("/predictions", json={"input": {"entered": "x", "release": "y"}})
        assert second.status_code == 409
        assert second.json() == {"detail": "Already running a prediction"}
        assert first.release()["output"] == "released"
    assert gated.status() == "READY"


def test_back_to_back_requests_never_meet_409(hello: Server) -> None:
    statuses = [hello.post("/predictions", json={"input": {"text": str(i)}}).status_code for i in range(300)]
    assert set(statuses) == {200}


def test_health_check_answers_while_predict_holds_the_gil(gil: Server, tmp_path: Path) -> None:
    entered = tmp_path / "entered"
    with ThreadPoolExecutor(1) as pool:
        prediction = pool.submit(gil.predict, entered=str(entered), seconds=5.0)
        wait_until(entered.exists, 10, "predict() to start spinning")
        answers = []
        while not prediction.done() and len(answers) < 20:
            answers.append(requests.get(gil.url + "/health-check", timeout=1).json()["status"])
        # Twenty health checks, each allowed one second, all answered before the 5 s predict ended.
        assert not prediction.done()
        assert answers == ["BUSY"] * 20
        assert prediction.result(30)["status"] == "succeeded"


def test_concurrent_clients_each_get_200_or_409(hello: Server) -> None:
    barrier = threading.Barrier(8)

    def one() -> int:
        barrier.wait()
        return requests.post(hello.url + "/predictions", json={"input": {"text": "x"}}, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = [f.result() for f in [pool.submit(one) for _ in range(8)]]
    assert set(statuses) <= {200, 409} and 200 in statuses
    assert hello.status() == "READY"
