"""A stand-in for pynvml (nvidia-ml-py) for machines without a GPU: the same functions, signatures,
constants and error classes as the parts of pynvml Sprocket uses (tests/supervisor/test_gpu.py
checks them against the real module), driven by the JSON file named by FAKE_NVML_STATE, which a
test may rewrite while a watcher runs:

    {"driver": true,
     "devices": [{"name": "NVIDIA A100", "uuid": "GPU-1", "memory_used": 1, "memory_total": 2,
                  "utilization": 50, "temperature": 40, "power_mw": 100000, "ecc_uncorrected": 0,
                  "lost": false, "error": null, "events": true, "xid": null}]}

`driver: false` makes nvmlInit raise NVMLError_DriverNotLoaded. Per device: `power_mw` or
`ecc_uncorrected` null means NotSupported; `lost: true` makes every call on it raise
NVMLError_GpuIsLost, `error: "Unknown"` (any NVMLError_ suffix) raise that error instead;
`events: false` refuses XID registration; a new non-null `xid` is delivered once as an event.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NVML_ERROR_UNINITIALIZED",
    "NVML_ERROR_NOT_SUPPORTED",
    "NVML_ERROR_DRIVER_NOT_LOADED",
    "NVML_ERROR_TIMEOUT",
    "NVML_ERROR_LIBRARY_NOT_FOUND",
    "NVML_ERROR_GPU_IS_LOST",
    "NVML_ERROR_NO_PERMISSION",
    "NVML_ERROR_UNKNOWN",
    "NVMLError",
    "NVMLError_Uninitialized",
    "NVMLError_NotSupported",
    "NVMLError_DriverNotLoaded",
    "NVMLError_Timeout",
    "NVMLError_LibraryNotFound",
    "NVMLError_GpuIsLost",
    "NVMLError_NoPermission",
    "NVMLError_Unknown",
    "NVML_TEMPERATURE_GPU",
    "NVML_MEMORY_ERROR_TYPE_UNCORRECTED",
    "NVML_VOLATILE_ECC",
    "nvmlEventTypeXidCriticalError",
    "nvmlInit",
    "nvmlShutdown",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetIndex",
    "nvmlDeviceGetName",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlEventSetCreate",
    "nvmlDeviceRegisterEvents",
    "nvmlEventSetWait",
    "nvmlEventSetFree",
]

NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

NVML_TEMPERATURE_GPU = 0
NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
NVML_VOLATILE_ECC = 0
nvmlEventTypeXidCriticalError = 8

_ERROR_TEXT = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_TIMEOUT: "Timeout",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """As in pynvml: `value` is the NVML return code; each code has a subclass taking no arguments."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _ERROR_TEXT.get(self.value, f"NVML Error with code {self.value}")


class _CodedError(NVMLError):
    """pynvml's subclasses take no arguments: each stands for one return code."""

    code: int

    def __init__(self) -> None:
        super().__init__(self.code)


class NVMLError_Uninitialized(_CodedError):
    code = NVML_ERROR_UNINITIALIZED


class NVMLError_NotSupported(_CodedError):
    code = NVML_ERROR_NOT_SUPPORTED


class NVMLError_NoPermission(_CodedError):
    code = NVML_ERROR_NO_PERMISSION


class NVMLError_DriverNotLoaded(_CodedError):
    code = NVML_ERROR_DRIVER_NOT_LOADED


class NVMLError_Timeout(_CodedError):
    code = NVML_ERROR_TIMEOUT


class NVMLError_LibraryNotFound(_CodedError):
    code = NVML_ERROR_LIBRARY_NOT_FOUND


class NVMLError_GpuIsLost(_CodedError):
    code = NVML_ERROR_GPU_IS_LOST


class NVMLError_Unknown(_CodedError):
    code = NVML_ERROR_UNKNOWN


# pynvml returns ctypes structures; these have the same field names.
@dataclass
class c_nvmlMemory_t:
    total: int
    free: int
    used: int


@dataclass
class c_nvmlUtilization_t:
    gpu: int
    memory: int


@dataclass
class c_nvmlEventData_t:
    device: _Handle
    eventType: int
    eventData: int
    gpuInstanceId: int = 0
    computeInstanceId: int = 0


@dataclass(frozen=True)
class _Handle:
    index: int


@dataclass
class _EventSet:
    handles: list[_Handle] = field(default_factory=list)
    delivered_xids: dict[int, int] = field(default_factory=dict)  # device index -> last xid sent


_initialized = 0  # nvmlInit calls not yet matched by nvmlShutdown, as NVML counts them


def _state() -> dict[str, Any]:
    with open(os.environ["FAKE_NVML_STATE"]) as file:
        state: dict[str, Any] = json.load(file)
    return state


def _require_init() -> None:
    if _initialized <= 0:
        raise NVMLError_Uninitialized()


def _device(handle: _Handle) -> dict[str, Any]:
    _require_init()
    device: dict[str, Any] = _state()["devices"][handle.index]
    if device.get("lost"):
        raise NVMLError_GpuIsLost()
    if device.get("error"):
        raise globals()[f"NVMLError_{device['error']}"]()
    return device


def _supported(value: Any) -> Any:
    if value is None:
        raise NVMLError_NotSupported()
    return value


def nvmlInit() -> None:
    global _initialized
    if not _state().get("driver", True):
        raise NVMLError_DriverNotLoaded()
    _initialized += 1


def nvmlShutdown() -> None:
    global _initialized
    _require_init()
    _initialized -= 1


def nvmlDeviceGetCount() -> int:
    _require_init()
    return len(_state()["devices"])


def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
    handle = _Handle(index)
    _device(handle)
    return handle


def nvmlDeviceGetIndex(handle: _Handle) -> int:
    _device(handle)
    return handle.index


def nvmlDeviceGetName(handle: _Handle) -> str:
    return str(_device(handle).get("name", "NVIDIA A100"))


def nvmlDeviceGetUUID(handle: _Handle) -> str:
    return str(_device(handle).get("uuid", f"GPU-{handle.index}"))


def nvmlDeviceGetMemoryInfo(handle: _Handle, version: int | None = None) -> c_nvmlMemory_t:
    device = _device(handle)
    used, total = device.get("memory_used", 0), device.get("memory_total", 0)
    return c_nvmlMemory_t(total=total, free=total - used, used=used)


def nvmlDeviceGetUtilizationRates(handle: _Handle) -> c_nvmlUtilization_t:
    return c_nvmlUtilization_t(gpu=_device(handle).get("utilization", 0), memory=0)


def nvmlDeviceGetTemperature(handle: _Handle, sensor: int) -> int:
    return int(_device(handle).get("temperature", 40))


def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:
    return int(_supported(_device(handle).get("power_mw", 0)))


def nvmlDeviceGetTotalEccErrors(handle: _Handle, errorType: int, counterType: int) -> int:
    return int(_supported(_device(handle).get("ecc_uncorrected", 0)))


def nvmlEventSetCreate() -> _EventSet:
    _require_init()
    return _EventSet()


def nvmlDeviceRegisterEvents(handle: _Handle, eventTypes: int, eventSet: _EventSet) -> None:
    if not _device(handle).get("events", True):
        raise NVMLError_NotSupported()
    eventSet.handles.append(handle)


def nvmlEventSetWait(eventSet: _EventSet, timeoutms: int) -> c_nvmlEventData_t:
    """Like NVML: returns the next event, or raises NVMLError_Timeout after `timeoutms`."""
    deadline = time.monotonic() + timeoutms / 1000
    while True:
        _require_init()
        devices = _state()["devices"]
        for handle in eventSet.handles:
            xid = devices[handle.index].get("xid")
            if xid is not None and eventSet.delivered_xids.get(handle.index) != xid:
                eventSet.delivered_xids[handle.index] = xid
                return c_nvmlEventData_t(device=handle, eventType=nvmlEventTypeXidCriticalError, eventData=xid)
        if time.monotonic() >= deadline:
            raise NVMLError_Timeout()
        time.sleep(0.01)


def nvmlEventSetFree(eventSet: _EventSet) -> None:
    _require_init()
