"""W3C trace context: the `traceparent` and `tracestate` a request carries, forwarded with its
webhooks and uploads so a tracing system can follow the prediction.

Only well-formed values are forwarded, as the W3C recommendation asks of anyone who receives
them; a malformed one is dropped rather than sent on, where it could break the outgoing request.
"""

from __future__ import annotations

import re
from typing import Mapping

_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-[0-9a-f-]*)?")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's trace headers worth forwarding: `tracestate` only beside a valid `traceparent`."""
    parent = headers.get("traceparent", "").strip()
    if not _TRACEPARENT.fullmatch(parent):
        return {}
    forwarded = {"traceparent": parent}
    state = headers.get("tracestate", "").strip()
    if _TRACESTATE.fullmatch(state):
        forwarded["tracestate"] = state
    return forwarded
