"""The worker -> front event pipe on real ZeroMQ sockets: how the worker's Outbox batches output
chunks without holding any back or reordering anything, and a front reader that survives a bad event."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator

import msgspec
import pytest

from runtime.ipc.messages import EventMessage, Log, OutputChunks, PredictionSucceeded
from runtime.ipc.transport import FrontChannel, WorkerChannel
from runtime.worker.outbox import Outbox

RECEIVE_DEADLINE = 10.0  # far below the 60 s interval the tests use to hold chunks "for ever"
FOREVER = 60.0

Pipe = tuple[FrontChannel, WorkerChannel]


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    front = FrontChannel()
    worker = WorkerChannel(front.open_for_worker())
    yield front, worker
    worker.close()
    front.close()


@pytest.fixture
def outboxes() -> Iterator[list[Outbox]]:
    """Outboxes a test makes; closed (their flusher threads stopped) before its pipe closes."""
    made: list[Outbox] = []
    yield made
    for outbox in made:
        outbox.close()


def receive(
    front: FrontChannel,
    enough: Callable[[list[EventMessage]], bool],
    on_event: Callable[[EventMessage], None] | None = None,
) -> list[EventMessage]:
    """Events as the front's reader delivers them, until `enough` says so (or the deadline)."""
    received: list[EventMessage] = []

    async def main() -> None:
        done = asyncio.Event()

        def take(event: EventMessage) -> None:
            received.append(event)
            if enough(received):
                done.set()
            if on_event is not None:
                on_event(event)

        front.start_receiving(take)
        try:
            await asyncio.wait_for(done.wait(), RECEIVE_DEADLINE)
        finally:
            front.stop_receiving()

    asyncio.run(main())
    return received


def ended(prediction_id: str) -> PredictionSucceeded:
    return PredictionSucceeded(prediction_id=prediction_id, predict_time=0.0)


def until_ended(events: list[EventMessage]) -> bool:
    return isinstance(events[-1], PredictionSucceeded)


def chunks(events: list[EventMessage]) -> list[tuple[str, list[object]]]:
    return [(e.prediction_id, e.values) for e in events if isinstance(e, OutputChunks)]


def test_a_burst_sends_its_first_chunk_alone_and_the_rest_together_in_order(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)
    for i in range(1000):
        outbox.send_chunk("p", f"tok{i}")
    outbox.send(ended("p"))
    events = receive(front, until_ended)
    assert chunks(events) == [("p", ["tok0"]), ("p", [f"tok{i}" for i in range(1, 1000)])]
    assert events[-1] == ended("p")


def test_a_held_chunk_goes_out_without_anything_else_being_sent(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=0.05)
    outboxes.append(outbox)
    outbox.send_chunk("p", "first")
    outbox.send_chunk("p", "second")  # held: the predictor now "computes" and yields nothing more
    events = receive(front, lambda got: sum(len(values) for _, values in chunks(got)) == 2)
    assert chunks(events) == [("p", ["first"]), ("p", ["second"])]


def test_other_messages_come_after_the_chunks_held_before_them(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)
    outbox.send_chunk("p", "a")
    outbox.send_chunk("p", "b")
    outbox.send(Log(prediction_id="p", stream="stdout", data="after b\n"))
    outbox.send(ended("p"))
    events = receive(front, until_ended)
    assert events == [
        OutputChunks(prediction_id="p", values=["a"]),
        OutputChunks(prediction_id="p", values=["b"]),
        Log(prediction_id="p", stream="stdout", data="after b\n"),
        ended("p"),
    ]


def test_each_prediction_first_chunk_goes_at_once(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)
    outbox.send_chunk("a", 1)
    outbox.send_chunk("a", 2)  # held
    outbox.send_chunk("b", 1)  # another prediction's first: not behind a's held chunk
    events = receive(front, lambda got: len(got) == 2)
    assert chunks(events) == [("a", [1]), ("b", [1])]


def test_a_prediction_id_used_again_after_its_end_starts_afresh(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)
    outbox.send_chunk("p", "before")
    outbox.send(ended("p"))
    outbox.send_chunk("p", "again")  # would be held for a minute if the old stream were remembered
    events = receive(front, lambda got: len(got) == 3)
    assert events == [
        OutputChunks(prediction_id="p", values=["before"]),
        ended("p"),
        OutputChunks(prediction_id="p", values=["again"]),
    ]


def test_a_value_msgpack_cannot_carry_fails_where_it_is_yielded(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)
    outbox.send_chunk("p", "fine")
    with pytest.raises(OverflowError):
        outbox.send_chunk("p", 2**70)
    outbox.send(ended("p"))
    assert chunks(receive(front, until_ended)) == [("p", ["fine"])]


def test_the_front_reader_goes_on_after_an_event_it_could_not_handle(
    pipe: Pipe, caplog: pytest.LogCaptureFixture
) -> None:
    front, worker = pipe
    for i in range(3):
        worker.send([Log(prediction_id=None, stream="stdout", data=f"line {i}\n")])

    def fail_on_the_first(event: EventMessage) -> None:
        if isinstance(event, Log) and event.data == "line 0\n":
            raise RuntimeError("a bug in a listener")

    with caplog.at_level(logging.ERROR, logger="sprocket.ipc"):
        events = receive(front, lambda got: len(got) == 3, on_event=fail_on_the_first)
    assert [e.data for e in events if isinstance(e, Log)] == ["line 0\n", "line 1\n", "line 2\n"]
    assert "handling an event from the worker failed" in caplog.text


def test_closing_sends_what_is_held_and_stops_the_flusher(pipe: Pipe) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outbox.send_chunk("p", "first")
    outbox.send_chunk("p", "held")
    outbox.close()
    assert chunks(receive(front, lambda got: sum(len(values) for _, values in chunks(got)) == 2)) == [
        ("p", ["first"]),
        ("p", ["held"]),
    ]
    assert not any(thread.name == "outbox-flusher" for thread in threading.enumerate())


def test_what_a_loop_turn_sends_after_its_first_event_leaves_in_one_message(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    messages: list[int] = []  # events per ZeroMQ message

    def send(events: list[msgspec.Raw]) -> None:
        messages.append(len(events))
        worker.send(events)

    outbox = Outbox(send, interval=FOREVER)
    outboxes.append(outbox)

    async def one_turn() -> None:
        outbox.gather_turns(asyncio.get_running_loop())
        outbox.send_chunk("a", "tok")
        assert messages == [1]  # the first event after a quiet spell is not held back
        outbox.send_chunk("b", "tok")
        outbox.send_chunk("c", "tok")
        outbox.send(ended("a"))
        assert messages == [1]
        await asyncio.sleep(0)  # the turn ends
        assert messages == [1, 3]
        outbox.gather_turns(None)

    asyncio.run(one_turn())
    assert receive(front, until_ended) == [
        OutputChunks(prediction_id="a", values=["tok"]),
        OutputChunks(prediction_id="b", values=["tok"]),
        OutputChunks(prediction_id="c", values=["tok"]),
        ended("a"),
    ]


def test_another_thread_sends_after_what_the_loop_gathered_before_it(pipe: Pipe, outboxes: list[Outbox]) -> None:
    front, worker = pipe
    outbox = Outbox(worker.send, interval=FOREVER)
    outboxes.append(outbox)

    async def one_turn() -> None:
        outbox.gather_turns(asyncio.get_running_loop())
        outbox.send_chunk("p", "first")
        outbox.send(Log(prediction_id="p", stream="stdout", data="gathered\n"))
        thread = threading.Thread(target=outbox.send, args=(Log(prediction_id=None, stream="stderr", data="C\n"),))
        thread.start()
        thread.join()
        outbox.send(ended("p"))
        outbox.gather_turns(None)

    asyncio.run(one_turn())
    assert receive(front, until_ended) == [
        OutputChunks(prediction_id="p", values=["first"]),
        Log(prediction_id="p", stream="stdout", data="gathered\n"),
        Log(prediction_id=None, stream="stderr", data="C\n"),
        ended("p"),
    ]
