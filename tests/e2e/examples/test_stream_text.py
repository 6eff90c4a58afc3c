"""examples/stream-text through the real runtime: tokens over server-sent events and webhooks."""

from __future__ import annotations

from tests.e2e.examples.conftest import example_server
from tests.peers import Peer, respond
from tests.support import Server
from tests.wire import read_events

stream_text = example_server("stream-text", env={"COG_THROTTLE_RESPONSE_INTERVAL": "0.1"})

STREAMED = {"prompt": "Errors", "max_tokens": 8}


def test_tokens_continue_the_prompt_and_join_into_text(stream_text: Server) -> None:
    body = stream_text.predict(prompt="Errors should", max_tokens=6, delay=0)
    assert body["status"] == "succeeded", body["error"]
    assert "".join(body["output"]) == " never pass silently. Unless explicitly silenced."
    assert all(token.startswith(" ") for token in body["output"])


def test_the_same_seed_gives_the_same_text_and_another_seed_another(stream_text: Server) -> None:
    first, again, other = (
        stream_text.predict(prompt="", max_tokens=40, seed=seed, delay=0)["output"] for seed in (3, 3, 4)
    )
    assert first == again
    assert first != other


def test_server_sent_events_carry_each_token_as_it_is_made(stream_text: Server) -> None:
    expected = stream_text.predict(**STREAMED, delay=0)["output"]
    with stream_text.session.post(
        stream_text.url + "/predictions",
        stream=True,
        timeout=30,
        headers={"Accept": "text/event-stream"},
        json={"input": {**STREAMED, "delay": 0.02}},
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = [(name, data) for _, name, data in read_events(response)]
    names = [name for name, _ in events]
    assert names == ["start", *["output"] * 8, "completed"], names
    chunks = [data for name, data in events if name == "output"]
    assert [chunk["index"] for chunk in chunks] == list(range(8))
    completed = events[-1][1]
    assert completed["status"] == "succeeded"
    assert completed["output"] == [chunk["chunk"] for chunk in chunks] == expected


def test_webhooks_show_the_text_growing_then_the_whole_of_it(stream_text: Server, peer: Peer) -> None:
    whole = "".join(stream_text.predict(**STREAMED, delay=0)["output"])
    url = peer.on("POST", "/hook", respond(200))
    response = stream_text.post(
        "/predictions",
        headers={"Prefer": "respond-async"},
        json={
            "input": {**STREAMED, "delay": 0.05},
            "webhook": url,
            "webhook_events_filter": ["start", "output", "completed"],
        },
    )
    assert response.status_code == 202
    hooks = peer.wait_for("/hook", lambda r: bool(r) and r[-1].json["status"] != "processing", "the completed webhook")
    texts = ["".join(hook.json["output"] or []) for hook in hooks]
    assert hooks[0].json["status"] == "processing" and texts[0] == ""  # start
    assert hooks[-1].json["status"] == "succeeded" and texts[-1] == whole
    assert any(0 < len(text) < len(whole) for text in texts), texts  # a partial text arrived on the way
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1)), texts


def test_a_canceled_stream_keeps_the_tokens_made_so_far(stream_text: Server) -> None:
    with stream_text.session.post(
        stream_text.url + "/predictions",
        stream=True,
        timeout=30,
        headers={"Accept": "text/event-stream"},
        json={"id": "zen-cancel", "input": {"max_tokens": 2000, "delay": 0.05}},
    ) as response:
        outputs = 0
        for _, name, data in read_events(response):  # noqa: B007 - the last event's data is read below
            outputs += name == "output"
            if name == "output" and outputs == 3:
                assert stream_text.post("/predictions/zen-cancel/cancel").status_code == 200
            if name == "completed":
                break
    assert name == "completed" and data["status"] == "canceled"
    assert 3 <= len(data["output"]) < 2000
    assert stream_text.status() == "READY"
