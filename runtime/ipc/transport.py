"""ZeroMQ sockets between the front and the worker.

Three one-way PUSH/PULL pipes over `ipc://` endpoints in a private (0700) directory the front
creates, and removes once the worker has connected to all three:

    requests  front -> worker   Predict, Shutdown: work, taken in order by the worker's main thread
    control   front -> worker   Cancel: read by a thread of its own, so it is never stuck behind work
    events    worker -> front   everything the worker reports, in the order it happened

Each message is one msgpack frame; on the events pipe, a list of events the front handles in
order (the worker's Outbox puts events that come close together into one message). The front
binds (it outlives workers); the worker connects.
The front reads events straight off the socket's file descriptor from its event loop, with no
future per message; the worker's sockets are blocking, its sends shared by threads behind a lock.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

import msgspec
import zmq

from runtime.ipc.messages import ControlMessage, EventMessage, Exiting, OutputFile

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("sprocket.ipc")

OUTPUT_FILE_EXT = 1
_LINGER_MS = 0
_MESSAGES_PER_BATCH = 32


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, OutputFile):
        return msgspec.msgpack.Ext(OUTPUT_FILE_EXT, obj.path.encode())
    raise NotImplementedError(f"cannot send a {type(obj).__name__} to the front")


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == OUTPUT_FILE_EXT:
        return OutputFile(bytes(data).decode())
    raise ValueError(f"unknown msgpack extension type {code}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_events_decoder = msgspec.msgpack.Decoder(list[EventMessage], ext_hook=_ext_hook)
_control_decoder = msgspec.msgpack.Decoder(ControlMessage)


def encode(message: Any) -> bytes:
    return _encoder.encode(message)


def decode_events(frame: bytes) -> list[EventMessage]:
    return _events_decoder.decode(frame)


def decode_control(frame: bytes) -> ControlMessage:
    return _control_decoder.decode(frame)


class Endpoints(msgspec.Struct, frozen=True):
    """Where the three pipes live; handed to the worker on its command line."""

    requests: str
    control: str
    events: str

    @classmethod
    def in_directory(cls, directory: str) -> Endpoints:
        return cls(
            requests=f"ipc://{directory}/requests",
            control=f"ipc://{directory}/control",
            events=f"ipc://{directory}/events",
        )


class FrontChannel:
    """The front's ends.

    Each worker gets fresh endpoints (`open_for_worker`), so nothing a dead worker left unread
    reaches its successor. Once the worker has connected to all three, the socket files and their
    directory are removed: connected ipc sockets no longer need them, and a front killed outright
    then leaves no files behind. Each socket's monitor records the accept from the moment it is
    bound (a worker can connect before the front has an event loop); the monitors are read as the
    worker's events arrive, which can only happen once it has connected.
    """

    def __init__(self) -> None:
        self._context = zmq.Context()
        self._sockets: list[zmq.Socket] = []
        self._unaccepted: dict[zmq.Socket, zmq.Socket] = {}  # bound socket -> its monitor
        self._events: zmq.Socket | None = None
        self._requests: zmq.Socket | None = None
        self._control: zmq.Socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: Callable[[], None] | None = None
        self.directory: str | None = None

    def open_for_worker(self) -> Endpoints:
        self._close_sockets()
        self.directory = tempfile.mkdtemp(prefix="sprocket-ipc-")  # mkdtemp makes it 0700
        endpoints = Endpoints.in_directory(self.directory)
        self._requests = self._bind(zmq.PUSH, endpoints.requests)
        self._control = self._bind(zmq.PUSH, endpoints.control)
        self._events = self._bind(zmq.PULL, endpoints.events)
        return endpoints

    def _bind(self, kind: int, endpoint: str) -> zmq.Socket:
        sock = self._context.socket(kind)
        sock.setsockopt(zmq.LINGER, _LINGER_MS)
        self._unaccepted[sock] = sock.get_monitor_socket(zmq.EVENT_ACCEPTED)
        sock.bind(endpoint)
        self._sockets.append(sock)
        return sock

    def _seal_if_connected(self) -> None:
        """Stop watching each socket the worker has connected to; once it has connected to all
        three, remove the socket files."""
        from zmq.utils.monitor import parse_monitor_message  # it loads zmq.asyncio: front only

        for sock, monitor in list(self._unaccepted.items()):
            while monitor.poll(0):
                if parse_monitor_message(monitor.recv_multipart())["event"] == zmq.EVENT_ACCEPTED:
                    self._unwatch(sock)
                    break
        if not self._unaccepted and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _unwatch(self, sock: zmq.Socket) -> None:
        sock.disable_monitor()
        self._unaccepted.pop(sock).close(linger=0)

    # ------------------------------------------------------------ sending

    def send_request(self, message: ControlMessage) -> None:
        """Queue a Predict or Shutdown for the worker. Never blocks: slots bound what is queued."""
        assert self._requests is not None
        self._requests.send(encode(message), flags=zmq.NOBLOCK, copy=False)

    def send_control(self, message: ControlMessage) -> None:
        assert self._control is not None
        self._control.send(encode(message), flags=zmq.NOBLOCK, copy=False)

    # ------------------------------------------------------------ receiving

    def start_receiving(self, on_event: Callable[[EventMessage], None]) -> None:
        """Call `on_event` for each event, from the running event loop, until `stop_receiving`."""
        import asyncio  # here, not above: the worker imports this module and has no event loop

        assert self._events is not None
        events = self._events
        self._loop = asyncio.get_running_loop()

        loop = self._loop

        def drain() -> None:
            # The descriptor is edge-triggered: read until the socket says nothing is left. A
            # burst (a fast iterator's thousand chunks) is taken in batches, with the loop free
            # in between, so the first chunk reaches its client before the last is read.
            if self._unaccepted:
                self._seal_if_connected()
            for _ in range(_MESSAGES_PER_BATCH):
                if self._loop is not loop:
                    return  # stopped receiving
                try:
                    frame = events.recv(zmq.NOBLOCK)
                except zmq.Again:
                    return  # nothing is left
                for event in decode_events(frame):
                    try:
                        on_event(event)
                    except Exception:
                        # Never stop reading: the descriptor would not fire again for what is
                        # queued, and the predictions behind this event would never end.
                        log.exception("handling an event from the worker failed")
            loop.call_soon(drain)

        self._drain = drain
        loop.add_reader(events.FD, drain)
        loop.call_soon(drain)  # events that arrived before the reader was added

    def receive_waiting(self) -> None:
        """Handle the events already waiting now, not when the event loop next gets round to them."""
        if self._drain is not None:
            self._drain()

    def stop_receiving(self) -> None:
        if self._loop is not None and self._events is not None:
            self._loop.remove_reader(self._events.FD)
        self._loop = None
        self._drain = None

    async def receive_pending(self, within: float) -> list[EventMessage]:
        """For after the worker has exited: the events still on their way, up to its `Exiting`
        message, or what arrives within `within` seconds if that never comes (a crash)."""
        import asyncio

        assert self._events is not None
        received: list[EventMessage] = []
        deadline = asyncio.get_running_loop().time() + within
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            if not self._events.poll(0):
                await asyncio.sleep(min(remaining, 0.01))
                continue
            received.extend(decode_events(self._events.recv(zmq.NOBLOCK)))
            if received and isinstance(received[-1], Exiting):
                break
        return received

    def _close_sockets(self) -> None:
        self.stop_receiving()
        for sock in list(self._unaccepted):
            self._unwatch(sock)
        for sock in self._sockets:
            sock.close(linger=0)
        self._sockets = []
        self._events = self._requests = self._control = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def close(self) -> None:
        self._close_sockets()
        self._context.term()


class WorkerChannel:
    """The worker's ends. `send` may be called from any thread; each receive from one thread."""

    def __init__(self, endpoints: Endpoints) -> None:
        self._context = zmq.Context()
        self.requests = self._connect(zmq.PULL, endpoints.requests)
        self.control = self._connect(zmq.PULL, endpoints.control)
        self._events = self._connect(zmq.PUSH, endpoints.events)
        # Events already queued (a prediction's last logs, its result) must still reach the
        # front when the worker exits right after sending them.
        self._events.setsockopt(zmq.LINGER, 2000)
        self._send_lock = threading.Lock()

    def _connect(self, kind: int, endpoint: str) -> zmq.Socket:
        sock = self._context.socket(kind)
        sock.setsockopt(zmq.LINGER, _LINGER_MS)
        sock.connect(endpoint)
        return sock

    def send(self, events: Sequence[EventMessage | msgspec.Raw]) -> None:
        """Send `events` (each a message, or one already encoded) as one message, in order."""
        frame = encode(events)
        with self._send_lock:
            self._events.send(frame, copy=False)

    @staticmethod
    def receive(sock: zmq.Socket, timeout_ms: int | None = None) -> ControlMessage | None:
        """The next message on `sock`, or None when none came within `timeout_ms`."""
        if timeout_ms is not None and not sock.poll(timeout_ms):
            return None
        return decode_control(sock.recv(copy=True))

    def close(self) -> None:
        self.requests.close(linger=0)
        self.control.close(linger=0)
        self._events.close()
        self._context.term()
