"""An HTTP/1.1 server from the standard library that no slow or hostile client can block.

It works as nginx does: one event loop (``selectors``) owns every connection and does all
of the network input and output without blocking, so a connection costs a worker thread
only while its request is being answered. A fixed pool of ``workers`` threads runs the
request handler on a request that has fully arrived, and hands the response back to the
loop to be written. So:

- a client that sends its request slowly (or never finishes it) holds no worker; it has
  ``request_timeout`` seconds from its first byte to send the whole request, or gets a
  408 and is closed;
- a client that reads slowly, or never, holds no worker: each response has ONE deadline,
  ``write_timeout`` seconds for the whole response, after which the connection is closed
  at once; while a response waits to be read, the connection's further (pipelined)
  requests are not read, so what is buffered per connection stays bounded (one request
  head of at most ``MAX_HEAD_BYTES``, one body of at most ``max_body_bytes``, and a
  kernel send buffer of ``SEND_BUFFER_BYTES``);
- the request head is parsed strictly before the handler sees it: a header line that is
  not ``name: value``, any ``Transfer-Encoding``, two ``Content-Length`` or ``Host``
  headers, or a body on a GET or HEAD is refused with 400 and the connection closed (a
  request that two parsers would read differently is how requests are smuggled);
- ``Host`` must name this server (its address, or ``localhost`` on loopback; see
  :meth:`BoundedHTTPServer.host_allowed`): a web page on another site that points its
  name at 127.0.0.1 (DNS rebinding) gets 421;
- a connection with no request under way is closed after ``idle_timeout`` seconds, and
  the longest idle ones first when ``max_connections`` are open;
- a listen backlog of ``LISTEN_BACKLOG`` (capped by the kernel's ``somaxconn``);
- when ``accept`` fails for lack of file descriptors or memory, accepting pauses
  ``ACCEPT_PAUSE_SECONDS`` while the open connections are still served;
- a client that hangs up is one short line in the log at debug level, never a traceback.

Refusals made by the loop are answered by the handler's ``send_error``, so they look like
every other error of the application.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import ipaddress
import logging
import queue
import re
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..checks import check_positive_int, check_real

LISTEN_BACKLOG = 1024
WORKERS = 32
MAX_CONNECTIONS = 1024  # open at once; fewer when the descriptor limit is lower
REQUEST_TIMEOUT_SECONDS = 10.0  # to send a whole request, from its first byte
WRITE_TIMEOUT_SECONDS = 10.0  # for the client to read a whole response
IDLE_TIMEOUT_SECONDS = 60.0  # an idle connection is closed after this long
MAX_HEAD_BYTES = 64 * 1024 + 1024  # request line and headers
MAX_HEADERS = 100
MAX_BODY_BYTES = 1024 * 1024
ACCEPT_PAUSE_SECONDS = 0.1  # after accept failed for lack of descriptors or memory
LINGER_SECONDS = 2.0  # how long a closing connection discards what the client still sends
LINGER_SILENCE_SECONDS = 0.1  # ... stopping sooner when nothing more arrives for this long
LINGER_BYTES = 1 << 20  # ... and how many bytes it discards at most
READ_CHUNK_BYTES = 64 * 1024
SEND_BUFFER_BYTES = 64 * 1024  # the kernel's share of what is buffered per connection
POLL_SECONDS = 0.5  # the longest the loop sleeps, to notice shutdown()
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_HANG_UP_ERRORS = (ConnectionError, TimeoutError)

# RFC 9110: a header is a token, a colon with nothing before it, and a value of visible
# characters, spaces and tabs (obs-text allowed).
_HEADER_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff]|[ \t])*)"
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """A request refused before it reaches the handler: ``status`` and a message."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class _Connection:
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


@dataclass
class _Job:
    """What a worker gets: the connection's address, the request's bytes, or a refusal."""

    connection: _Connection
    data: bytes
    refusal: Refusal | None = None


def _listen_backlog() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/sys/net/core/somaxconn") as file:
        return min(LISTEN_BACKLOG, int(file.read()))
    return LISTEN_BACKLOG


def _connection_limit(wanted: int) -> int:
    """At most ``wanted``, leaving descriptors for the process's files and workers."""
    try:
        import resource  # Unix only
    except ImportError:
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - 64))


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


class BoundedHTTPServer:
    """An HTTP server of one event loop and a fixed pool of worker threads.

    Used as ``socketserver``'s servers are: ``serve_forever()`` (in a thread, say),
    ``shutdown()`` from another thread, ``server_close()``; also a context manager.

    Args:
        address: ``(host, port)``; an IPv6 host (one with ``:``) listens on IPv6.
        handler: A :class:`DeadlineRequestHandler` subclass.
        workers: Threads answering requests that have arrived.
        request_timeout: Seconds a client has to send a whole request, from its first byte.
        idle_timeout: Seconds a connection may stay open with no request under way.
        write_timeout: Seconds a client has to read a whole response.
        max_body_bytes: The largest body read; a larger one is left to the handler to
            refuse (the connection is then closed).
        max_connections: Connections open at once; the longest idle are closed to make
            room, and accepting waits when none is idle.
    """

    address_family = socket.AF_INET

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[DeadlineRequestHandler],
        *,
        workers: int = WORKERS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        write_timeout: float = WRITE_TIMEOUT_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self.workers = check_positive_int("workers", workers)
        self.request_timeout = check_real("request_timeout", request_timeout, "(0, inf)")
        self.idle_timeout = check_real("idle_timeout", idle_timeout, "(0, inf)")
        self.write_timeout = check_real("write_timeout", write_timeout, "(0, inf)")
        self.max_body_bytes = check_positive_int("max_body_bytes", max_body_bytes)
        self.max_connections = _connection_limit(
            check_positive_int("max_connections", max_connections)
        )
        self.RequestHandlerClass = handler
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.socket = socket.socket(self.address_family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(_listen_backlog())
        except BaseException:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        self._allowed_hosts = self._hosts_for(self.server_address)
        self._connections: dict[int, _Connection] = {}
        self._jobs: queue.Queue = queue.Queue()
        self._done: collections.deque = collections.deque()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._closed = False
        self._accept_failing = False
        self._accept_paused_until = 0.0
        self._selector: selectors.BaseSelector | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- the socketserver-like surface -------------------------------------------------

    def fileno(self) -> int:
        return self.socket.fileno()

    def __enter__(self) -> BoundedHTTPServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server_close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def serve_forever(self, poll_interval: float = POLL_SECONDS) -> None:
        """Serve until :meth:`shutdown` is called (from another thread)."""
        self._stop.clear()
        self._stopped.clear()
        self._selector = selectors.DefaultSelector()
        try:
            self._selector.register(self._wake_read, selectors.EVENT_READ, None)
            self._listen(True)
            while not self._stop.is_set():
                self._run_once(poll_interval)
        finally:
            self._selector.close()
            self._selector = None
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it has returned."""
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        """Stop listening, close every connection, and end the workers."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake()
        self._stopped.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.socket.close()
        for connection in list(self._connections.values()):
            self._close(connection)
        for _ in self._threads:
            self._jobs.put(None)
        self._wake_read.close()
        self._wake_write.close()

    def get_request(self) -> tuple[socket.socket, Any]:
        """``accept`` one connection."""
        return self.socket.accept()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("error while serving %s", client_address)

    # -- Host ------------------------------------------------------------------------

    @staticmethod
    def _hosts_for(address: tuple) -> set[str] | None:
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

    def host_allowed(self, value: str) -> bool:
        """Whether a request's ``Host`` names this server."""
        value = value.strip().lower()
        if self._allowed_hosts is not None:
            return value in self._allowed_hosts
        port = self.server_address[1]
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

    # -- the event loop --------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def _listen(self, on: bool) -> None:
        assert self._selector is not None
        registered = self.socket.fileno() in self._selector.get_map()
        if on and not registered:
            self._selector.register(self.socket.fileno(), selectors.EVENT_READ, "listen")
        elif not on and registered:
            self._selector.unregister(self.socket.fileno())

    def _watch(self, connection: _Connection, events: int) -> None:
        assert self._selector is not None
        if events == connection.events:
            return
        if connection.events and events:
            self._selector.modify(connection.sock, events, connection)
        elif events:
            self._selector.register(connection.sock, events, connection)
        else:
            self._selector.unregister(connection.sock)
        connection.events = events

    def _run_once(self, poll_interval: float) -> None:
        now = time.monotonic()
        timeout = poll_interval
        for connection in self._connections.values():
            if connection.state != "working":
                timeout = min(timeout, connection.deadline - now)
        if self._accept_paused_until:
            timeout = min(timeout, self._accept_paused_until - now)
        assert self._selector is not None
        for key, events in self._selector.select(max(timeout, 0.0)):
            if key.data is None:
                with contextlib.suppress(OSError):
                    self._wake_read.recv(4096)
            elif key.data == "listen":
                self._accept()
            else:
                connection = key.data
                if connection.sock.fileno() < 0:
                    continue
                if events & selectors.EVENT_READ:
                    self._on_readable(connection)
                elif events & selectors.EVENT_WRITE:
                    self._send(connection)
        while self._done:
            connection, response, close = self._done.popleft()
            self._respond(connection, response, close)
        self._expire(time.monotonic())

    def _accept(self) -> None:
        while len(self._connections) >= self.max_connections:
            idle = [c for c in self._connections.values() if c.state == "idle"]
            if not idle:
                self._listen(False)  # the kernel's backlog holds the rest meanwhile
                return
            self._close(min(idle, key=lambda c: c.deadline))
        try:
            sock, address = self.get_request()
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno in _RESOURCE_ERRNOS:
                if not self._accept_failing:
                    logger.warning("cannot accept connections (%s); pausing", error)
                self._accept_failing = True
                self._listen(False)
                self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE_SECONDS
            return
        self._accept_failing = False
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            # Bounded, not autotuned (to megabytes on loopback): a client that never reads
            # fills this soon, and its response's deadline then runs out.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(sock, address)
        self._connections[id(connection)] = connection
        self._to_idle(connection, time.monotonic())

    def _to_idle(self, connection: _Connection, now: float) -> None:
        connection.state = "idle"
        connection.deadline = now + self.idle_timeout
        if connection.inbuf:  # a pipelined request, read already
            self._start_request(connection, now)
            self._advance(connection)
        elif connection.eof:
            self._close(connection)
        else:
            self._watch(connection, selectors.EVENT_READ)

    def _start_request(self, connection: _Connection, now: float) -> None:
        connection.state = "reading"
        connection.continued = False
        connection.deadline = now + self.request_timeout

    def _on_readable(self, connection: _Connection) -> None:
        try:
            chunk = connection.sock.recv(READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._hung_up(connection, error)
            return
        if connection.state == "lingering":
            connection.linger_bytes += len(chunk)
            now = time.monotonic()
            if not chunk or connection.linger_bytes >= LINGER_BYTES:
                self._close(connection)
            else:
                connection.deadline = min(connection.linger_until, now + LINGER_SILENCE_SECONDS)
            return
        if not chunk:
            connection.eof = True
            if connection.state == "idle" or not connection.inbuf:
                self._close(connection)
                return
        else:
            if connection.state == "idle":
                self._start_request(connection, time.monotonic())
            connection.inbuf += chunk
        self._advance(connection)

    def _advance(self, connection: _Connection) -> None:
        """Hand the request to a worker once it has fully arrived (or refuse it)."""
        try:
            job = self._complete_request(connection)
        except Refusal as refusal:
            job = _Job(connection, bytes(connection.inbuf[:MAX_HEAD_BYTES]), refusal)
            connection.inbuf.clear()
        if job is None:
            if connection.eof:  # it never will: half a request head, then nothing
                logger.debug("%s hung up in the middle of a request", connection.address[0])
                self._close(connection)
            return
        if job.refusal is not None:
            connection.close_after = True
        if connection.close_after:
            connection.inbuf.clear()
        connection.state = "working"
        self._watch(connection, 0)  # read nothing more until the response is written
        self._jobs.put(job)

    def _complete_request(self, connection: _Connection) -> _Job | None:
        data = connection.inbuf
        end = _HEAD_END.search(data, 0, MAX_HEAD_BYTES + 4)
        if end is None:
            if len(data) <= MAX_HEAD_BYTES:
                return None
            if b"\n" not in data[:MAX_HEAD_BYTES]:
                raise Refusal(HTTPStatus.REQUEST_URI_TOO_LONG, "the request line is too long")
            raise Refusal(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"the request's headers exceed {MAX_HEAD_BYTES} bytes",
            )
        method, headers = parse_head(bytes(data[: end.start()]))
        length = self._body_length(method, headers)
        if length > self.max_body_bytes:
            # Left to the handler to refuse, unread: the connection closes after.
            connection.close_after = True
            length = 0
        size = end.end() + length
        if len(data) < size and not connection.eof:
            expects = any(n == "expect" and v.lower() == "100-continue" for n, v in headers)
            if expects and not connection.continued:
                connection.continued = True  # the client waits for this to send the body
                with contextlib.suppress(OSError):
                    connection.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        request = bytes(data[:size])
        del data[:size]
        return _Job(connection, request)

    def _body_length(self, method: str, headers: list[tuple[str, str]]) -> int:
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
        if not self.host_allowed(values["host"]):
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

    def _respond(self, connection: _Connection, response: bytes, close: bool) -> None:
        if connection.sock.fileno() < 0:
            return
        connection.close_after = connection.close_after or close or self.stopping
        connection.out = memoryview(response)
        connection.state = "writing"
        connection.deadline = time.monotonic() + self.write_timeout  # one for the whole write
        self._send(connection)

    def _send(self, connection: _Connection) -> None:
        assert connection.out is not None
        try:
            sent = connection.sock.send(connection.out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as error:
            self._hung_up(connection, error)
            return
        connection.out = connection.out[sent:]
        if connection.out:
            self._watch(connection, selectors.EVENT_WRITE)
            return
        connection.out = None
        if connection.close_after:
            self._linger(connection)
        else:
            self._to_idle(connection, time.monotonic())

    def _linger(self, connection: _Connection) -> None:
        """Close without a reset: stop sending, then discard what the client still sends
        (a refused body, say) until it closes or falls silent, for at most
        ``LINGER_SECONDS`` and ``LINGER_BYTES``. Closing a socket that holds unread bytes
        sends a TCP reset, which can destroy the response before the client has read it."""
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(connection)
            return
        now = time.monotonic()
        connection.state = "lingering"
        connection.linger_until = now + LINGER_SECONDS
        connection.deadline = now + LINGER_SILENCE_SECONDS
        connection.inbuf.clear()
        self._watch(connection, selectors.EVENT_READ)

    def _expire(self, now: float) -> None:
        for connection in list(self._connections.values()):
            if connection.state == "working" or now < connection.deadline:
                continue
            address = connection.address[0]
            if connection.state == "reading":
                connection.close_after = True
                refusal = Refusal(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the request did not arrive within {self.request_timeout:g} s",
                )
                connection.state = "working"
                self._watch(connection, 0)
                self._jobs.put(_Job(connection, bytes(connection.inbuf[:MAX_HEAD_BYTES]), refusal))
                connection.inbuf.clear()
            elif connection.state == "writing":
                logger.info(
                    "%s did not read its response within %g s; connection reset",
                    address,
                    self.write_timeout,
                )
                # A reset, as nginx's reset_timedout_connection: a plain close would leave
                # the kernel sending what it holds for as long as the client dawdles.
                with contextlib.suppress(OSError):
                    connection.sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                self._close(connection)
            else:
                self._close(connection)
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self._listen(True)
        elif len(self._connections) < self.max_connections and not self._accept_paused_until:
            self._listen(True)

    def _hung_up(self, connection: _Connection, error: OSError) -> None:
        logger.debug("%s hung up (%s)", connection.address[0], error.strerror or error)
        self._close(connection)

    def _close(self, connection: _Connection) -> None:
        if self._selector is not None and connection.events:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(connection.sock)
        connection.events = 0
        self._connections.pop(id(connection), None)
        with contextlib.suppress(OSError):
            connection.sock.close()

    def connection_count(self) -> int:
        """Connections open now."""
        return len(self._connections)

    # -- the workers -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                handler = self.RequestHandlerClass(job, job.connection.address, self)
                response, close = handler.response, handler.close_connection
            except Exception:
                self.handle_error(job.connection.sock, job.connection.address)
                response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                response += b"Connection: close\r\n\r\n"
                close = True
            self._done.append((job.connection, response, close))
            self._wake()


class DeadlineRequestHandler(BaseHTTPRequestHandler):
    """Answers one request that has fully arrived, for a :class:`BoundedHTTPServer`: reads
    it from memory and writes the response to memory (``response``), which the server's
    loop then sends. ``close_connection`` says whether the connection closes after."""

    server: BoundedHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        job: _Job = self.request
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
