"""Watching the GPUs through NVML (pynvml): samples for health and metrics, and the conditions
after which work on a GPU cannot be trusted (an XID error, new uncorrectable ECC errors, a lost
GPU). With no NVIDIA driver or no GPU the watcher logs one line and does nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import threading
import time
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Callable

log = logging.getLogger("sprocket.supervisor")

# Short meanings of the XIDs seen in practice (NVIDIA's "XID Errors" table); others show the number.
XID_MEANINGS = {
    13: "graphics engine exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    45: "preemptive cleanup after earlier errors",
    48: "double-bit ECC error",
    61: "internal micro-controller breakpoint",
    62: "internal micro-controller halt",
    63: "ECC page retirement or row remapping event",
    64: "ECC page retirement or row remapping failure",
    68: "video processor exception",
    69: "graphics engine class error",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}

# How long one wait for XID events may block: bounds how late stop() is noticed.
_EVENT_POLL_SECONDS = 0.25


def describe_xid(xid: int) -> str:
    meaning = XID_MEANINGS.get(xid)
    return f"XID {xid}" + (f" ({meaning})" if meaning else "")


@dataclass(frozen=True)
class GpuSample:
    index: int
    name: str
    uuid: str
    memory_used_bytes: int
    memory_total_bytes: int
    utilization_ratio: float  # 0..1
    temperature_celsius: float
    power_watts: float | None  # None where the GPU does not report power

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Device:
    index: int
    handle: Any
    name: str
    uuid: str
    ecc_errors: int | None  # uncorrectable count last seen; None where ECC is not reported
    lost: bool = False

    def __str__(self) -> str:
        return f"GPU {self.index} ({self.name})"


class GpuWatcher:
    """Samples every GPU each `interval` seconds on one daemon thread, since NVML calls block.

    `start()` reports through the event loop, never from the thread: `on_samples(samples)` after
    each round, and `on_fatal(reason)` once per occurrence of a fatal condition (each XID event,
    each rise of a GPU's uncorrectable ECC count, each GPU lost); a caller already FAILED should
    ignore further ones."""

    def __init__(self, interval: float, module_name: str = "pynvml") -> None:
        self._interval = interval
        self._module_name = module_name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._samples: list[GpuSample] = []

    @property
    def samples(self) -> list[GpuSample]:
        """The latest round; [] before the first and when there is no GPU to watch."""
        return self._samples

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        on_samples: Callable[[list[GpuSample]], None],
        on_fatal: Callable[[str], None],
    ) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(loop, on_samples, on_fatal), name="sprocket-gpu-watch", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ends the thread, which shuts NVML down on its way out; waits at most `timeout` s for it
        (a call into a sick driver can hang, and the thread is a daemon)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        on_samples: Callable[[list[GpuSample]], None],
        on_fatal: Callable[[str], None],
    ) -> None:
        try:
            nvml = importlib.import_module(self._module_name)
        except ImportError as error:
            log.info("no NVIDIA driver: GPU watch off (%s)", error)
            return
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            log.info("no NVIDIA driver: GPU watch off (%s)", error)
            return

        def publish(samples: list[GpuSample]) -> None:
            self._samples = samples
            on_samples(samples)

        try:
            _Session(
                nvml, self._interval, self._stopping, self._reporter(loop, publish), self._reporter(loop, on_fatal)
            ).run()
        except Exception:
            log.exception("GPU watch failed; GPU watch off")
        finally:
            # Shutting down a driver that lost its GPU can fail too; there is nothing left to do then.
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlShutdown()

    def _reporter(self, loop: asyncio.AbstractEventLoop, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """`callback`, called on the event loop's thread, and not at all once stop() was called."""

        def report(value: Any) -> None:
            if not self._stopping.is_set():
                loop.call_soon_threadsafe(callback, value)

        return report


class _Session:
    """One nvmlInit..nvmlShutdown: the devices found, the XID event set, the sampling loop."""

    def __init__(
        self,
        nvml: ModuleType,
        interval: float,
        stopping: threading.Event,
        report_samples: Callable[[list[GpuSample]], None],
        report_fatal: Callable[[str], None],
    ) -> None:
        self._nvml = nvml
        self._interval = interval
        self._stopping = stopping
        self._report_samples = report_samples
        self._report_fatal = report_fatal
        self._devices: list[_Device] = []
        self._events: Any = None  # an NVML event set, None where XID events are not supported
        self._warned: set[str] = set()

    def run(self) -> None:
        count = self._nvml.nvmlDeviceGetCount()
        if count == 0:
            log.info("no GPU visible: GPU watch off")
            return
        self._devices = [device for index in range(count) if (device := self._open(index))]
        self._events = self._register_xid_events()
        log.info("watching %s every %g s", ", ".join(map(str, self._devices)), self._interval)
        try:
            while not self._stopping.is_set():
                next_round = time.monotonic() + self._interval
                self._report_samples(self._sample_round())
                self._wait_for_xid_events(next_round)
        finally:
            if self._events is not None:
                self._nvml.nvmlEventSetFree(self._events)

    def _open(self, index: int) -> _Device | None:
        nvml = self._nvml
        device = _Device(index, None, "unknown", "", None)
        try:
            device.handle = nvml.nvmlDeviceGetHandleByIndex(index)
            device.name = nvml.nvmlDeviceGetName(device.handle)
            device.uuid = nvml.nvmlDeviceGetUUID(device.handle)
            device.ecc_errors = self._uncorrected_ecc_errors(device)
        except nvml.NVMLError as error:
            self._device_failed(device, error)
            return None
        return device

    def _register_xid_events(self) -> Any:
        nvml = self._nvml
        try:
            events = nvml.nvmlEventSetCreate()
        except nvml.NVMLError_NotSupported:
            log.info("XID events not supported here; watching ECC errors and lost GPUs only")
            return None
        registered = 0
        for device in self._devices:
            try:
                nvml.nvmlDeviceRegisterEvents(device.handle, nvml.nvmlEventTypeXidCriticalError, events)
                registered += 1
            except nvml.NVMLError_NotSupported:
                log.info("%s does not report XID events", device)
        if registered:
            return events
        nvml.nvmlEventSetFree(events)
        return None

    def _sample_round(self) -> list[GpuSample]:
        samples = []
        for device in self._devices:
            if device.lost:
                continue
            try:
                samples.append(self._sample(device))
                self._check_ecc(device)
            except self._nvml.NVMLError as error:
                self._device_failed(device, error)
        return samples

    def _sample(self, device: _Device) -> GpuSample:
        nvml = self._nvml
        memory = nvml.nvmlDeviceGetMemoryInfo(device.handle)
        utilization = nvml.nvmlDeviceGetUtilizationRates(device.handle)
        temperature = nvml.nvmlDeviceGetTemperature(device.handle, nvml.NVML_TEMPERATURE_GPU)
        try:
            power_watts: float | None = nvml.nvmlDeviceGetPowerUsage(device.handle) / 1000
        except nvml.NVMLError_NotSupported:
            power_watts = None
        return GpuSample(
            index=device.index,
            name=device.name,
            uuid=device.uuid,
            memory_used_bytes=int(memory.used),
            memory_total_bytes=int(memory.total),
            utilization_ratio=utilization.gpu / 100,
            temperature_celsius=float(temperature),
            power_watts=power_watts,
        )

    def _uncorrected_ecc_errors(self, device: _Device) -> int | None:
        nvml = self._nvml
        try:
            return int(
                nvml.nvmlDeviceGetTotalEccErrors(
                    device.handle, nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC
                )
            )
        except nvml.NVMLError_NotSupported:
            return None

    def _check_ecc(self, device: _Device) -> None:
        if device.ecc_errors is None:
            return
        errors = self._uncorrected_ecc_errors(device)
        if errors is not None and errors > device.ecc_errors:
            self._report_fatal(f"{device} has {errors} uncorrectable ECC errors")
        device.ecc_errors = errors

    def _device_failed(self, device: _Device, error: Exception) -> None:
        """A lost GPU is fatal; any other NVML error is logged once and the GPU skipped that round."""
        if isinstance(error, (self._nvml.NVMLError_GpuIsLost, self._nvml.NVMLError_Unknown)):
            device.lost = True
            self._report_fatal(f"{device} is lost")
        elif (text := f"{device}: {error}") not in self._warned:
            self._warned.add(text)
            log.warning("cannot sample %s", text)

    def _wait_for_xid_events(self, until: float) -> None:
        """Sleeps until `until` (or stop), reporting XID events the moment they arrive."""
        nvml = self._nvml
        while not self._stopping.is_set() and (remaining := until - time.monotonic()) > 0:
            if self._events is None:
                self._stopping.wait(remaining)
                continue
            try:
                event = nvml.nvmlEventSetWait(self._events, int(min(remaining, _EVENT_POLL_SECONDS) * 1000))
            except nvml.NVMLError_Timeout:
                continue
            except nvml.NVMLError as error:
                # Failing at once, it would turn this wait into a busy loop; sampling goes on.
                log.warning("waiting for XID events failed (%s); watching ECC errors and lost GPUs only", error)
                nvml.nvmlEventSetFree(self._events)
                self._events = None
                continue
            if event.eventType == nvml.nvmlEventTypeXidCriticalError:
                self._report_fatal(f"{self._event_device(event)} reported {describe_xid(event.eventData)}")

    def _event_device(self, event: Any) -> str:
        try:
            index = self._nvml.nvmlDeviceGetIndex(event.device)
        except self._nvml.NVMLError:
            return "a GPU"
        return next((str(device) for device in self._devices if device.index == index), f"GPU {index}")
