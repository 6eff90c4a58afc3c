"""The listening socket: dual-stack by default, and one clear line when the port is taken.

Bound before anything slow happens, so a port in use ends `python -m runtime` at once.
"""

from __future__ import annotations

import errno
import logging
import socket

from runtime.config import ConfigError

log = logging.getLogger("sprocket.server")

BACKLOG = 1024  # connections the kernel holds for us while the front is busy


def _listen(family: socket.AddressFamily, address: tuple[str, int], dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_listener(host: str | None, port: int) -> socket.socket:
    """Listen on `host`, or by default on '::' for IPv4 and IPv6 at once (0.0.0.0 without IPv6)."""
    try:
        if host is None:
            try:
                return _listen(socket.AF_INET6, ("::", port), dual_stack=True)
            except OSError as error:
                if error.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    raise
                log.info("IPv6 is not available (%s); listening on 0.0.0.0 only", error.strerror)
                return _listen(socket.AF_INET, ("0.0.0.0", port), dual_stack=False)
        bare = host.strip("[]")
        family, _, _, _, address = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)[0]
        host_address, port_number = str(address[0]), int(address[1])
        return _listen(family, (host_address, port_number), dual_stack=False)
    except socket.gaierror as error:
        raise ConfigError(f"--host {host!r} is not an address this machine has: {error.strerror}") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} is already in use: stop the other server or set PORT") from None
        raise ConfigError(f"cannot listen on {host or '::'} port {port}: {error.strerror}") from None


def display(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
