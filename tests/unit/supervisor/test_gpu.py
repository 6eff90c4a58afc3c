"""The GPU watcher, against the real pynvml (no driver here: it must stay quiet) and against the
stand-in in tests/fakes/fake_nvml.py, whose interface is checked against the real module."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from runtime.supervisor.gpu import GpuSample, GpuWatcher
from tests.fakes import fake_nvml
from tests.support import wait_until

FAKE = "tests.fakes.fake_nvml"
A100 = {
    "name": "NVIDIA A100",
    "uuid": "GPU-1",
    "memory_used": 1,
    "memory_total": 2,
    "utilization": 50,
    "temperature": 40,
    "power_mw": 100000,
    "ecc_uncorrected": 0,
    "lost": False,
    "xid": None,
}


class Watch:
    """A GpuWatcher started on the running loop, with what it reported so far."""

    def __init__(self, interval: float = 0.02, module_name: str = FAKE) -> None:
        self.samples: list[list[GpuSample]] = []
        self.fatal: list[str] = []
        self.watcher = GpuWatcher(interval, module_name)
        self.watcher.start(asyncio.get_running_loop(), self.samples.append, self.fatal.append)

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 5) -> Any:
        """wait_until on a thread, so the loop keeps delivering the watcher's reports meanwhile."""
        return await asyncio.to_thread(wait_until, predicate, timeout, what)

    async def next_samples(self) -> list[GpuSample]:
        seen = len(self.samples)
        await self.until(lambda: len(self.samples) > seen, "a new round of GPU samples")
        return self.samples[-1]


@pytest.fixture
def nvml_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Writes the stand-in's state; call again to change it under a running watcher."""
    path = tmp_path / "nvml.json"
    monkeypatch.setenv("FAKE_NVML_STATE", str(path))

    def write(driver: bool = True, gpus: int = 1, **device: Any) -> None:
        staging = path.with_suffix(".new")
        staging.write_text(json.dumps({"driver": driver, "devices": [{**A100, **device}] * gpus}))
        os.replace(staging, path)  # the watcher never reads half a file

    write()
    return write


@pytest.fixture
def watch() -> Iterator[Callable[..., Watch]]:
    """Starts watchers (from inside a test's coroutine) and stops them afterwards."""
    started: list[Watch] = []

    def start(**kwargs: Any) -> Watch:
        started.append(Watch(**kwargs))
        return started[-1]

    yield start
    for each in started:
        each.watcher.stop()


def _supervisor_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "sprocket.supervisor"]


def _driver_present() -> bool:
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


# ------------------------------------------------------------------ the real pynvml


def _gpu_count() -> int | None:
    """How many GPUs the real NVML sees; None without a driver."""
    import pynvml  # a runtime dependency (nvidia-ml-py)

    if not _driver_present():
        return None
    pynvml.nvmlInit()
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


async def test_real_nvml_watches_what_this_machine_has(
    watch: Callable[..., Watch], caplog: pytest.LogCaptureFixture
) -> None:
    """One test for every machine, no skip: with GPUs, each is sampled and none is fatal; without
    a driver (or any GPU), the watch says so once and stays quiet."""
    caplog.set_level(logging.INFO, "sprocket.supervisor")
    count = _gpu_count()
    gpus = watch(interval=0.1, module_name="pynvml")
    if count:
        samples = await gpus.next_samples()
        assert len(samples) == count
        assert gpus.fatal == []
        return
    await gpus.until(lambda: "GPU watch off" in caplog.text, "the GPU watch to give up")
    gpus.watcher.stop()
    await asyncio.sleep(0)  # let anything it scheduled run
    assert (gpus.watcher.samples, gpus.samples, gpus.fatal) == ([], [], [])
    expected = (
        "no NVIDIA driver: GPU watch off (NVML Shared Library Not Found)"
        if count is None
        else "no GPU visible: GPU watch off"
    )
    assert _supervisor_messages(caplog) == [expected]


# ------------------------------------------------------------------ the stand-in


def test_stand_in_matches_real_pynvml() -> None:
    import pynvml  # a runtime dependency (nvidia-ml-py)

    for name in fake_nvml.__all__:
        ours, theirs = getattr(fake_nvml, name), getattr(pynvml, name, None)
        assert theirs is not None, f"pynvml has no {name}"
        if inspect.isclass(ours) and issubclass(ours, fake_nvml.NVMLError):
            assert issubclass(theirs, pynvml.NVMLError), name
            if ours is not fake_nvml.NVMLError:
                assert (ours().value, str(ours())) == (theirs().value, str(theirs())), name  # type: ignore[call-arg]
        elif callable(ours):
            assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
        else:
            assert ours == theirs, name
    assert {
        f"NVMLError_{n}"
        for n in ("LibraryNotFound", "DriverNotLoaded", "NotSupported", "Timeout", "GpuIsLost", "Unknown")
    } <= set(fake_nvml.__all__)


async def test_samples_every_gpu_with_its_values(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    gpus = watch()
    [sample] = await gpus.next_samples()
    assert sample == GpuSample(
        index=0,
        name="NVIDIA A100",
        uuid="GPU-1",
        memory_used_bytes=1,
        memory_total_bytes=2,
        utilization_ratio=0.5,
        temperature_celsius=40.0,
        power_watts=100.0,
    )
    assert sample.as_json() == {
        "index": 0,
        "name": "NVIDIA A100",
        "uuid": "GPU-1",
        "memory_used_bytes": 1,
        "memory_total_bytes": 2,
        "utilization_ratio": 0.5,
        "temperature_celsius": 40.0,
        "power_watts": 100.0,
    }
    nvml_state(memory_used=2, utilization=100)
    await gpus.until(lambda: gpus.watcher.samples[0].memory_used_bytes == 2, "memory_used to follow the GPU")
    assert gpus.watcher.samples[0].utilization_ratio == 1.0
    assert gpus.fatal == []


async def test_power_not_supported_is_none(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    nvml_state(power_mw=None)
    [sample] = await watch().next_samples()
    assert sample.power_watts is None


async def test_xid_event_is_fatal_once(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    gpus = watch()
    await gpus.next_samples()
    nvml_state(xid=79)
    await gpus.until(lambda: gpus.fatal, "a fatal report")
    await gpus.next_samples()
    await gpus.next_samples()  # later rounds do not report it again
    assert gpus.fatal == ["GPU 0 (NVIDIA A100) reported XID 79 (GPU has fallen off the bus)"]


async def test_unknown_xid_is_named_by_number(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    nvml_state(xid=1234)
    gpus = watch()
    assert await gpus.until(lambda: gpus.fatal, "a fatal report") == ["GPU 0 (NVIDIA A100) reported XID 1234"]


async def test_without_xid_events_still_samples(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    nvml_state(events=False, xid=79)
    gpus = watch()
    await gpus.next_samples()
    await gpus.next_samples()
    assert gpus.fatal == []


async def test_new_uncorrectable_ecc_errors_are_fatal(
    nvml_state: Callable[..., None], watch: Callable[..., Watch]
) -> None:
    nvml_state(ecc_uncorrected=1)  # errors from before the watch started are not news
    gpus = watch()
    await gpus.next_samples()
    assert gpus.fatal == []
    nvml_state(ecc_uncorrected=2)
    await gpus.until(lambda: gpus.fatal, "a fatal report")
    await gpus.next_samples()
    await gpus.next_samples()
    assert gpus.fatal == ["GPU 0 (NVIDIA A100) has 2 uncorrectable ECC errors"]


@pytest.mark.parametrize("failure", [{"lost": True}, {"error": "Unknown"}], ids=["GpuIsLost", "Unknown"])
async def test_lost_gpu_is_fatal_once(
    nvml_state: Callable[..., None], watch: Callable[..., Watch], failure: dict[str, Any]
) -> None:
    gpus = watch()
    await gpus.next_samples()
    nvml_state(**failure)
    await gpus.until(lambda: gpus.fatal, "a fatal report")
    assert await gpus.next_samples() == []  # a lost GPU is no longer sampled
    assert gpus.fatal == ["GPU 0 (NVIDIA A100) is lost"]


async def test_other_nvml_errors_skip_the_gpu_with_one_warning(
    nvml_state: Callable[..., None], watch: Callable[..., Watch], caplog: pytest.LogCaptureFixture
) -> None:
    gpus = watch()
    await gpus.next_samples()
    nvml_state(error="NoPermission")
    await gpus.until(lambda: gpus.samples[-1] == [], "a round without the GPU")
    await gpus.next_samples()
    assert gpus.fatal == []
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "cannot sample GPU 0 (NVIDIA A100): Insufficient Permissions"
    ]  # once, not once a round
    nvml_state()
    await gpus.until(lambda: gpus.samples[-1], "the GPU back in the samples")


@pytest.mark.parametrize(
    "state, message",
    [
        ({"driver": False}, "no NVIDIA driver: GPU watch off (Driver Not Loaded)"),
        ({"gpus": 0}, "no GPU visible: GPU watch off"),
    ],
    ids=["no-driver", "no-gpu"],
)
async def test_nothing_to_watch_stays_quiet(
    nvml_state: Callable[..., None],
    watch: Callable[..., Watch],
    caplog: pytest.LogCaptureFixture,
    state: dict[str, Any],
    message: str,
) -> None:
    caplog.set_level(logging.INFO, "sprocket.supervisor")
    nvml_state(**state)
    gpus = watch()
    await gpus.until(lambda: "GPU watch off" in caplog.text, "the GPU watch to give up")
    gpus.watcher.stop()
    await asyncio.sleep(0)  # let anything it scheduled run
    assert (gpus.watcher.samples, gpus.samples, gpus.fatal) == ([], [], [])
    assert _supervisor_messages(caplog) == [message]


async def test_stop_shuts_nvml_down(nvml_state: Callable[..., None], watch: Callable[..., Watch]) -> None:
    gpus = watch()
    await gpus.next_samples()
    gpus.watcher.stop()
    assert fake_nvml._initialized == 0  # the thread got to nvmlShutdown, so it has ended
