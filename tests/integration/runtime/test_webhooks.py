"""Async predictions and webhooks, against a real receiver on loopback."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from tests.conftest import module_server
from tests.peers import Peer, hang, respond, respond_in_turn
from tests.support import Server

hello = module_server("hello", env={"WEBHOOK_AUTH_TOKEN": "t0ken"})
streamer = module_server("streamer", env={"COG_THROTTLE_RESPONSE_INTERVAL": "0.2"})

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _completed(received: list) -> list:
    return [r for r in received if r.json and r.json["status"] != "processing"]


def test_respond_async_returns_202_then_sends_completed_last(hello: Server, peer: Peer) -> None:
    url = peer.on("POST", "/hook", respond(200))
    response = hello.post(
        "/predictions",
        json={"input": {"text": "async"}, "webhook": url},
        headers={"Prefer": "respond-async", "traceparent": TRACEPARENT, "tracestate": "k=v"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "processing" and body["output"] is None
    hooks = peer.wait_for("/hook", lambda r: len(_completed(r)) == 1, "the completed webhook")
    assert [h.json["status"] for h in hooks][0] == "processing"  # the start event
    final = hooks[-1]
    assert final.json["status"] == "succeeded" and final.json["output"] == "hello async"
    assert final.json["id"] == body["id"]
    assert final.headers["Authorization"] == "Bearer t0ken"
    assert final.headers["traceparent"] == TRACEPARENT and final.headers["tracestate"] == "k=v"
    assert final.headers["User-Agent"].startswith("sprocket/")


def test_sync_predictions_send_webhooks_too(hello: Server, peer: Peer) -> None:
    url = peer.on("POST", "/sync", respond(200))
    body = hello.post(
        "/predictions", json={"input": {"text": "s"}, "webhook": url, "webhook_events_filter": ["completed"]}
    ).json()
    assert body["status"] == "succeeded"
    [hook] = peer.wait_for("/sync", lambda r: len(r) == 1, "one completed webhook")
    assert hook.json["output"] == "hello s"


def test_empty_events_filter_sends_nothing(hello: Server, peer: Peer) -> None:
    url = peer.on("POST", "/none", respond(200))
    hello.post("/predictions", json={"input": {}, "webhook": url, "webhook_events_filter": []})
    marker = peer.on("POST", "/marker", respond(200))
    hello.post("/predictions", json={"input": {}, "webhook": marker, "webhook_events_filter": ["completed"]})
    peer.wait_for("/marker", lambda r: len(r) == 1, "the later prediction's webhook")
    assert peer.requests_to("/none") == []


def test_throttled_updates_are_coalesced_not_dropped(streamer: Server, peer: Peer) -> None:
    url = peer.on("POST", "/stream", respond(200))
    streamer.post(
        "/predictions",
        json={"input": {"count": 12, "pause": 0.05}, "webhook": url, "webhook_events_filter": ["output"]},
        headers={"Prefer": "respond-async"},
    )
    hooks = peer.wait_for(
        "/stream",
        lambda r: bool(r) and r[-1].json["status"] == "succeeded",
        "a final update carrying the finished output",
    )
    outputs = [h.json["output"] or [] for h in hooks]
    assert len(hooks) < 12  # coalesced
    assert outputs[-1] == [f"t{i} " for i in range(12)]
    assert all(outputs[i] == outputs[i + 1][: len(outputs[i])] for i in range(len(outputs) - 1))
    gaps = [b.at - a.at for a, b in itertools.pairwise(hooks[:-1])]
    assert all(gap >= 0.15 for gap in gaps), gaps


def test_completed_webhook_is_retried_on_5xx_and_429(hello: Server, peer: Peer) -> None:
    url = peer.on("POST", "/flaky", respond_in_turn(500, 429, 503, 200))
    hello.post("/predictions", json={"input": {}, "webhook": url, "webhook_events_filter": ["completed"]})
    hooks = peer.wait_for("/flaky", lambda r: len(r) == 4, "four attempts of the completed webhook")
    assert {h.json["id"] for h in hooks} == {hooks[0].json["id"]}


def test_completed_webhook_is_not_retried_on_other_4xx(hello: Server, peer: Peer) -> None:
    url = peer.on("POST", "/gone", respond(410))
    marker = peer.on("POST", "/after", respond(200))
    hello.post("/predictions", json={"input": {}, "webhook": url, "webhook_events_filter": ["completed"]})
    hello.post("/predictions", json={"input": {}, "webhook": marker, "webhook_events_filter": ["completed"]})
    peer.wait_for("/after", lambda r: len(r) == 1, "a later webhook")
    assert len(peer.requests_to("/gone")) == 1


def test_hanging_receiver_blocks_neither_health_nor_other_predictions(peer: Peer, start_server) -> None:
    release = threading.Event()
    try:
        url = peer.on("POST", "/hang", hang(release))
        server: Server = start_server("hello", env={"SPROCKET_WEBHOOK_TIMEOUT": "30"})
        server.wait_for_status("READY")
        first = server.post(
            "/predictions", json={"input": {"text": "a"}, "webhook": url}, headers={"Prefer": "respond-async"}
        )
        assert first.status_code == 202
        peer.wait_for("/hang", lambda r: len(r) >= 1, "the receiver to be holding a webhook")
        for word in ("b", "c", "d"):
            assert server.predict(text=word)["output"] == f"hello {word}"
        assert server.status() == "READY"
    finally:
        release.set()


def test_receiver_that_is_down_gets_bounded_retries(peer: Peer, start_server) -> None:
    server: Server = start_server("hello", env={"SPROCKET_WEBHOOK_RETRIES": "2"})
    server.wait_for_status("READY")
    body = server.post("/predictions", json={"input": {}, "webhook": "http://127.0.0.1:9/nothing-listens"}).json()
    assert body["status"] == "succeeded"
    server.wait_for_log("failed (Cannot connect", timeout=10)
    server.wait_for_log("after 3 attempt(s); giving up", timeout=10)
    # Server logs are JSON lines naming the prediction they are about.
    [line] = [json.loads(line) for line in server.log().splitlines() if "giving up" in line]
    assert line["severity"] == "ERROR" and line["prediction_id"] == body["id"]


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-abc-def-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0z",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ],
)
def test_a_malformed_traceparent_is_dropped_and_every_webhook_still_goes_out(
    hello: Server, peer: Peer, traceparent: str
) -> None:
    url = peer.on("POST", "/traced", respond(200))
    response = hello.post(
        "/predictions",
        json={"input": {"text": "t"}, "webhook": url},
        headers={"Prefer": "respond-async", "traceparent": traceparent, "tracestate": "k=v"},
    )
    assert response.status_code == 202
    hooks = peer.wait_for("/traced", lambda r: len(_completed(r)) == 1, "the completed webhook")
    assert [h.json["status"] for h in hooks] == ["processing", "succeeded"]
    assert all("traceparent" not in h.headers and "tracestate" not in h.headers for h in hooks)
