"""`python -m runtime.probe`: asks a running server's /health-check whether it can take work, for
exec probes (Kubernetes `exec`, Docker HEALTHCHECK, SaladCloud). Standard library only, so it
starts fast and works in any image that has Python.

Exit codes: 0 when the status is READY (or BUSY with --allow-busy); 1 for any other status, with
`not ready: STATUS (error)` on stderr; 2 when the server cannot be reached or does not answer
like Sprocket, with one line on stderr saying so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import urllib.request
from typing import Any

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_UNREACHABLE = 2

# Addresses the server listens on rather than connects to; the probe runs beside it.
_WILDCARD_HOSTS = ("", "::", "0.0.0.0")


class ProbeError(Exception):
    """The server could not be reached, or its answer was not a health check."""


def health_check_url(host: str, port: int) -> str:
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/health-check" if ":" in host else f"http://{host}:{port}/health-check"


def fetch_health(url: str, timeout: float) -> dict[str, Any]:
    # No proxies: an HTTP_PROXY meant for the model's downloads must not carry a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read()
    except OSError as error:  # HTTPError (an answer other than 200) is one too
        raise ProbeError(f"cannot reach {url}: {error}") from None
    except http.client.HTTPException as error:
        raise ProbeError(f"{url} answered something other than HTTP: {error!r}") from None
    try:
        health = json.loads(body)
    except ValueError:
        raise ProbeError(f"{url} answered something other than JSON: {body[:80]!r}") from None
    if not isinstance(health, dict) or not isinstance(health.get("status"), str):
        raise ProbeError(f"{url} answered without a status: {body[:80]!r}")
    return health


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.probe",
        description="Exit 0 when the server is READY, 1 when it is not, 2 when it cannot be asked.",
    )
    parser.add_argument("--allow-busy", action="store_true", help="count BUSY as ready")
    parser.add_argument(
        "--host",
        default=os.environ.get("HOST", ""),
        help="server address (default: $HOST, 127.0.0.1 when that is unset or :: or 0.0.0.0)",
    )
    parser.add_argument(
        "--port", type=int, default=os.environ.get("PORT") or "5000", help="server port (default: $PORT or 5000)"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer (default: 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        health = fetch_health(health_check_url(args.host, args.port), args.timeout)
    except ProbeError as error:
        print(f"probe: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_UNREACHABLE
    status = health["status"]
    if status == "READY" or (status == "BUSY" and args.allow_busy):
        return EXIT_READY
    reason = health.get("error")
    print(f"not ready: {status}" + (f" ({_one_line(str(reason))})" if reason else ""), file=sys.stderr)
    return EXIT_NOT_READY


def _one_line(text: str) -> str:
    """Errors can bring newlines (a setup traceback); probe logs keep one line per check."""
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
