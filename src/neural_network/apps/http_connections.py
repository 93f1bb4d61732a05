"""One connection of :mod:`neural_network.apps.bounded_http`: what the server's loop knows
of it, and how many connections the kernel's limits allow."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Connection:
    """What the server's loop knows of one connection."""

    sock: socket.socket
    address: Any
    inbuf: bytearray = field(default_factory=bytearray)
    out: memoryview | None = None
    state: str = "idle"  # idle, reading, working, writing, lingering
    deadline: float = 0.0  # of the current state
    close_after: bool = False  # close once the response is written
    eof: bool = False  # the client sent all it will send
    events: int = 0  # what the selector watches
    linger_bytes: int = 0
    linger_until: float = 0.0
    continued: bool = False  # "100 Continue" was sent for the request being read


def listen_backlog(wanted: int) -> int:
    """At most ``wanted``, and at most the kernel's ``somaxconn``."""
    with contextlib.suppress(OSError, ValueError), open("/proc/sys/net/core/somaxconn") as file:
        return min(wanted, int(file.read()))
    return wanted


def connection_limit(wanted: int) -> int:
    """At most ``wanted``, leaving descriptors for the process's files and workers."""
    try:
        import resource  # Unix only
    except ImportError:
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - 64))
