"""Reading HTTP requests strictly, for :mod:`neural_network.apps.bounded_http`: the request
head's syntax, which requests are refused as ambiguous (the ones two parsers could read
differently, how requests are smuggled), which ``Host`` values name the server, and the
request handler that answers a request that has fully arrived, in memory."""

from __future__ import annotations

import collections
import contextlib
import io
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bounded_http import BoundedHTTPServer

MAX_HEAD_BYTES = 64 * 1024 + 1024  # request line and headers
MAX_HEADERS = 100

# RFC 9110: a header is a token, a colon with nothing before it, and a value of visible
# characters, spaces and tabs (obs-text allowed).
_HEADER_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff]|[ \t])*)"
)
HEAD_END = re.compile(rb"\r?\n\r?\n")


class Refusal(Exception):
    """A request refused before it reaches the handler: ``status`` and a message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    """What a worker gets: the connection's address, the request's bytes, or a refusal."""

    connection: Any  # the server's record of the connection
    data: bytes
    refusal: Refusal | None = None


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """The method and headers of a request head (request line and header lines, no blank
    line), read strictly.

    Raises:
        Refusal: (400) for a header line that is not ``name: value`` (whitespace before
            the colon, a folded line, a control character), (431) for too many headers.
    """
    lines = head.split(b"\n")
    lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    method = lines[0].split(b" ", 1)[0].decode("latin-1")
    if len(lines) - 1 > MAX_HEADERS:
        raise Refusal(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"the request has {len(lines) - 1} header lines; at most {MAX_HEADERS} are accepted",
        )
    headers = []
    for number, line in enumerate(lines[1:], start=1):
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise Refusal(
                HTTPStatus.BAD_REQUEST,
                f"header line {number} is not 'Name: value': {line.decode('latin-1')!r:.60}",
            )
        headers.append((match[1].decode("ascii").lower(), match[2].decode("latin-1").rstrip()))
    return method, headers


def hosts_for(address: tuple) -> set[str] | None:
    """The Host values that name this server; ``None`` when it listens on every
    address (then any address, ``localhost`` and this machine's name are accepted)."""
    host, port = address[0], address[1]
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if ip.is_unspecified:
        return None
    names = {f"[{host}]" if ip.version == 6 else host}
    if ip.is_loopback:
        names.add("localhost")
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts |= names
    return hosts


def host_matches(value: str, allowed: set[str] | None, port: int) -> bool:
    """Whether a ``Host`` value is one of ``allowed`` (from :func:`hosts_for`), or, for a
    server on every address (``None``), names an address, ``localhost`` or this machine
    with the server's ``port``."""
    value = value.strip().lower()
    if allowed is not None:
        return value in allowed
    name, _, given_port = value.rpartition(":") if not value.endswith("]") else (value, "", "")
    if not name:  # no port given
        name, given_port = value, "80"
    if given_port != str(port):
        return False
    name = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(name)
        return True
    local = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
    return name in local


def body_length(
    method: str, headers: list[tuple[str, str]], host_allowed: Callable[[str], bool]
) -> int:
    """The body's length from a request's headers (from :func:`parse_head`), once the
    request is known to mean one thing only and to be for this server.

    Raises:
        Refusal: (400) for any Transfer-Encoding, two Content-Lengths, a Content-Length
            that is not a byte count, a body on a GET or HEAD, no Host or two; (421) for a
            Host that ``host_allowed`` refuses.
    """
    counts = collections.Counter(name for name, _ in headers)
    values = {name: value for name, value in headers}
    if counts["transfer-encoding"]:
        also = " and a Content-Length" if counts["content-length"] else ""
        raise Refusal(
            HTTPStatus.BAD_REQUEST,
            f"Transfer-Encoding{also} is not accepted; send the body with one Content-Length",
        )
    if counts["content-length"] > 1:
        raise Refusal(
            HTTPStatus.BAD_REQUEST,
            f"the request has {counts['content-length']} Content-Length headers",
        )
    if counts["host"] != 1:
        raise Refusal(
            HTTPStatus.BAD_REQUEST,
            "the request has no Host header"
            if not counts["host"]
            else f"the request has {counts['host']} Host headers",
        )
    if not host_allowed(values["host"]):
        raise Refusal(
            HTTPStatus.MISDIRECTED_REQUEST,
            f"this server does not answer for the host {values['host']!r:.80}",
        )
    text = values.get("content-length", "0")
    if not (text.isascii() and text.isdigit()):
        raise Refusal(
            HTTPStatus.BAD_REQUEST, f"Content-Length must be a byte count; got {text!r:.40}"
        )
    digits = text.lstrip("0") or "0"
    length = int(digits) if len(digits) <= 18 else 10**18
    if length and method in ("GET", "HEAD"):
        raise Refusal(HTTPStatus.BAD_REQUEST, f"a {method} request must not have a body")
    return length


class DeadlineRequestHandler(BaseHTTPRequestHandler):
    """Answers one request that has fully arrived, for a :class:`BoundedHTTPServer`: reads
    it from memory and writes the response to memory (``response``), which the server's
    loop then sends. ``close_connection`` says whether the connection closes after."""

    server: BoundedHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        job: Job = self.request
        self.connection = job.connection.sock
        self.rfile = io.BytesIO(job.data)
        self.wfile = io.BytesIO()
        self.response = b""

    def handle(self) -> None:
        self.close_connection = True
        refusal = self.request.refusal
        if refusal is None:
            self.handle_one_request()
        else:
            line = self.request.data.split(b"\n", 1)[0].rstrip(b"\r")
            self.raw_requestline = line
            self.requestline = line[:200].decode("latin-1")
            self.command = ""
            self.path = ""
            self.request_version = "HTTP/1.1"
            self.close_connection = True
            self.send_error(refusal.status, str(refusal))
        self.response = self.wfile.getvalue()

    def handle_expect_100(self) -> bool:
        # The body has arrived already (the server loop read it): nothing to send first.
        return True

    def finish(self) -> None:
        pass
