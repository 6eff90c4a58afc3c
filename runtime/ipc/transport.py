"""ZeroMQ sockets between the front and the worker.

Two one-way PUSH/PULL pipes over `ipc://` endpoints in a private (0700) directory the front
creates (and removes once the worker is connected): `control` carries front -> worker messages, `events` worker -> front. Keeping them apart
means a cancel never waits behind megabytes of logs. Each message is one msgpack frame.

The front binds (it outlives workers); the worker connects. The front's side is asyncio
(`zmq.asyncio`), the worker's is blocking, used from several threads behind a lock.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from typing import Any

import msgspec
import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from runtime.ipc.messages import ControlMessage, EventMessage, OutputFile

OUTPUT_FILE_EXT = 1
_LINGER_MS = 0


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, OutputFile):
        return msgspec.msgpack.Ext(OUTPUT_FILE_EXT, obj.path.encode())
    raise NotImplementedError(f"cannot send a {type(obj).__name__} to the front")


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == OUTPUT_FILE_EXT:
        return OutputFile(bytes(data).decode())
    raise ValueError(f"unknown msgpack extension type {code}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_event_decoder = msgspec.msgpack.Decoder(EventMessage, ext_hook=_ext_hook)
_control_decoder = msgspec.msgpack.Decoder(ControlMessage)


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode_event(frame: bytes) -> EventMessage:
    return _event_decoder.decode(frame)


def decode_control(frame: bytes) -> ControlMessage:
    return _control_decoder.decode(frame)


class Endpoints(msgspec.Struct, frozen=True):
    """Where the two pipes live; handed to the worker on its command line."""

    control: str
    events: str

    @classmethod
    def in_directory(cls, directory: str) -> "Endpoints":
        return cls(control=f"ipc://{directory}/control", events=f"ipc://{directory}/events")


class FrontChannel:
    """The front's ends: sends control messages, receives events.

    Each worker gets fresh endpoints (`open_for_worker`), so nothing a dead worker left unread
    reaches its successor. Once the worker has connected to both, the socket files and their
    directory are removed (`seal`): connected ipc sockets no longer need them, and a front killed
    outright then leaves no files behind.
    """

    def __init__(self) -> None:
        self._context = zmq.asyncio.Context()
        self._control: zmq.asyncio.Socket | None = None
        self._events: zmq.asyncio.Socket | None = None
        self.directory: str | None = None

    def open_for_worker(self) -> Endpoints:
        self._close_sockets()
        self.directory = tempfile.mkdtemp(prefix="sprocket-ipc-")  # mkdtemp makes it 0700
        endpoints = Endpoints.in_directory(self.directory)
        self._control = self._bind(zmq.PUSH, endpoints.control)
        self._events = self._bind(zmq.PULL, endpoints.events)
        return endpoints

    def _bind(self, kind: int, endpoint: str) -> zmq.asyncio.Socket:
        sock = self._context.socket(kind)
        sock.setsockopt(zmq.LINGER, _LINGER_MS)
        sock.bind(endpoint)
        return sock

    async def seal(self) -> None:
        """Wait until the worker has connected to both sockets, then remove their files."""
        directory = self.directory
        assert self._control is not None and self._events is not None
        await asyncio.gather(_accepted(self._control), _accepted(self._events))
        if directory is not None and directory == self.directory:
            shutil.rmtree(directory, ignore_errors=True)

    async def send(self, message: ControlMessage) -> None:
        assert self._control is not None
        await self._control.send(encode(message), copy=False)

    async def receive(self) -> EventMessage:
        assert self._events is not None
        return decode_event(await self._events.recv(copy=True))

    def _close_sockets(self) -> None:
        for sock in (self._control, self._events):
            if sock is not None:
                sock.close(linger=0)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def close(self) -> None:
        self._close_sockets()
        self._context.term()


async def _accepted(sock: zmq.asyncio.Socket) -> None:
    monitor = sock.get_monitor_socket(zmq.EVENT_ACCEPTED)
    try:
        while parse_monitor_message(await monitor.recv_multipart())["event"] != zmq.EVENT_ACCEPTED:
            pass
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)


class WorkerChannel:
    """The worker's ends. `send` may be called from any thread; `receive` from one thread only."""

    def __init__(self, endpoints: Endpoints) -> None:
        self._context = zmq.Context()
        self._control = self._context.socket(zmq.PULL)
        self._control.setsockopt(zmq.LINGER, _LINGER_MS)
        self._control.connect(endpoints.control)
        self._events = self._context.socket(zmq.PUSH)
        # Events already queued (a prediction's last logs, its result) must still reach the
        # front when the worker exits right after sending them.
        self._events.setsockopt(zmq.LINGER, 2000)
        self._events.connect(endpoints.events)
        self._send_lock = threading.Lock()

    def send(self, message: EventMessage) -> None:
        frame = encode(message)
        with self._send_lock:
            self._events.send(frame, copy=False)

    def receive(self, timeout_ms: int) -> ControlMessage | None:
        """The next control message, or None when none came within `timeout_ms`."""
        if not self._control.poll(timeout_ms):
            return None
        return decode_control(self._control.recv(copy=True))

    def close(self) -> None:
        self._control.close(linger=0)
        self._events.close()
        self._context.term()

