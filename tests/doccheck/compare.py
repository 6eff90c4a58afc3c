"""Whether what a command printed is what the docs show, once what differs from run to run is
normalised on both sides.

Normalised: timestamps and dates; 32-hex ids; 12- and 64-hex hashes (image, layer and container
ids); durations (a number with s, ms, µs or min); sizes (a number with B, kB, MB, GB, KiB, MiB or
GiB); the values of JSON keys that measure the run (`pid`, `rss_bytes`, `cpu_seconds`,
`predict_time`) and /health-check's `worker` object (its samples); pids in `worker=PID` and in
HAProxy's `[WARNING]  (PID)`; the ports picked for the run (shown as the ports the docs name); the
paths of the scratch copy and the checkout (shown as `~/sprocket`). A line holding only `...` in
the docs stands for any number of lines, none included.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

ELLIPSIS = "..."

# The values of these JSON keys measure the run, not the behaviour shown.
VARYING_KEYS = ("pid", "rss_bytes", "cpu_seconds", "predict_time")

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])[0-9a-f]{12}\b"), "<hash>"),
    # /health-check's `worker` holds samples (pid, memory, CPU), and no samples before the first one
    (re.compile(r'"worker":\{[^{}]*\}'), '"worker":{<samples>}'),
    (re.compile(rf'"({"|".join(VARYING_KEYS)})":\s*-?[\d.]+(?:e[-+]?\d+)?'), r'"\1":<n>'),
    (re.compile(r"\bworker=\d+"), "worker=<pid>"),
    (re.compile(r"^(\[[A-Z]+\]\s+)\(\d+\)", re.M), r"\1(<pid>)"),  # HAProxy's messages
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|ms|µs|min)\b"), "<duration>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:B|kB|KB|MB|GB|KiB|MiB|GiB)\b"), "<size>"),
)


def normalise(text: str, ports: Mapping[int, int], paths: Sequence[str]) -> list[str]:
    """`text`'s lines with what varies between runs replaced; `ports` maps the run's ports to the
    ones the docs show, and each of `paths` is shown as ~/sprocket."""
    for path in sorted(paths, key=len, reverse=True):
        text = text.replace(path, "~/sprocket")
    for actual, shown in ports.items():
        text = re.sub(rf"(?<!\d){actual}(?!\d)", str(shown), text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.rstrip("\n").split("\n")] if text.strip() else []


def matches(expected: Sequence[str], actual: Sequence[str]) -> bool:
    """Line by line; an `...` line in `expected` matches any run of lines, none included."""
    # reachable[j]: expected[:i] can match actual[:j]
    reachable = [True] + [False] * len(actual)
    for line in expected:
        if line.strip() == ELLIPSIS:
            for j in range(1, len(actual) + 1):
                reachable[j] = reachable[j] or reachable[j - 1]
        else:
            reachable = [False] + [reachable[j] and actual[j] == line for j in range(len(actual))]
    return reachable[-1]


def difference(expected: Sequence[str], actual: Sequence[str]) -> str:
    """The two normalised texts as a diff, for a failure message."""
    return "\n".join(difflib.unified_diff(list(expected), list(actual), "the docs", "the run", lineterm=""))
