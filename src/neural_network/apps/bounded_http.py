"""An HTTP/1.1 server from the standard library that no slow or hostile client can block.

It works as nginx does: one event loop (``selectors``) owns every connection and does all
of the network input and output without blocking, and a fixed pool of ``workers`` threads
answers requests that have fully arrived (:class:`DeadlineRequestHandler`, in memory),
handing each response back to the loop to be written. So a client that sends slowly,
sends half a request, or reads slowly or never holds a connection, not a worker: it has
``request_timeout`` seconds from its first byte to send a request (or gets a 408), and
ONE deadline of ``write_timeout`` seconds to read a whole response (or is reset). While a
response waits to be read, the connection's further (pipelined) requests are not read,
so what is buffered per connection stays bounded. Request heads are read strictly, and
``Host`` must name the server (:mod:`neural_network.apps.http_requests`). A connection
with no request under way is closed after ``idle_timeout`` seconds, the longest idle
first when ``max_connections`` are open. When ``accept`` fails for lack of descriptors,
accepting pauses ``ACCEPT_PAUSE_SECONDS``. A client that hangs up is one line at debug
level, never a traceback. Refusals made by the loop are answered by the handler's
``send_error``, so they look like every other error of the application.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import queue
import selectors
import socket
import struct
import threading
import time
from http import HTTPStatus
from typing import Any

from ..checks import check_positive_int, check_real
from .http_connections import Connection, connection_limit, listen_backlog
from .http_requests import (
    HEAD_END,
    MAX_HEAD_BYTES,
    DeadlineRequestHandler,
    Job,
    Refusal,
    body_length,
    host_matches,
    hosts_for,
    parse_head,
)

__all__ = ["BoundedHTTPServer", "DeadlineRequestHandler", "Refusal", "parse_head"]

LISTEN_BACKLOG = 1024
WORKERS = 32
MAX_CONNECTIONS = 1024  # open at once; fewer when the descriptor limit is lower
REQUEST_TIMEOUT_SECONDS = 10.0  # to send a whole request, from its first byte
WRITE_TIMEOUT_SECONDS = 10.0  # for the client to read a whole response
IDLE_TIMEOUT_SECONDS = 60.0  # an idle connection is closed after this long
MAX_BODY_BYTES = 1024 * 1024
ACCEPT_PAUSE_SECONDS = 0.1  # after accept failed for lack of descriptors or memory
LINGER_SECONDS = 2.0  # how long a closing connection discards what the client still sends
LINGER_SILENCE_SECONDS = 0.1  # ... stopping sooner when nothing more arrives for this long
LINGER_BYTES = 1 << 20  # ... and how many bytes it discards at most
READ_CHUNK_BYTES = 64 * 1024
SEND_BUFFER_BYTES = 64 * 1024  # the kernel's share of what is buffered per connection
POLL_SECONDS = 0.5  # the longest the loop sleeps, to notice shutdown()
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

logger = logging.getLogger(__name__)


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
        self.max_connections = connection_limit(
            check_positive_int("max_connections", max_connections)
        )
        self.RequestHandlerClass = handler
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.socket = socket.socket(self.address_family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(listen_backlog(LISTEN_BACKLOG))
        except BaseException:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        self._allowed_hosts = hosts_for(self.server_address)
        self._connections: dict[int, Connection] = {}
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

    def host_allowed(self, value: str) -> bool:
        """Whether a request's ``Host`` names this server (see :func:`hosts_for`)."""
        return host_matches(value, self._allowed_hosts, self.server_address[1])

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

    def _watch(self, connection: Connection, events: int) -> None:
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
        connection = Connection(sock, address)
        self._connections[id(connection)] = connection
        self._to_idle(connection, time.monotonic())

    def _to_idle(self, connection: Connection, now: float) -> None:
        connection.state = "idle"
        connection.deadline = now + self.idle_timeout
        if connection.inbuf:  # a pipelined request, read already
            self._start_request(connection, now)
            self._advance(connection)
        elif connection.eof:
            self._close(connection)
        else:
            self._watch(connection, selectors.EVENT_READ)

    def _start_request(self, connection: Connection, now: float) -> None:
        connection.state = "reading"
        connection.continued = False
        connection.deadline = now + self.request_timeout

    def _on_readable(self, connection: Connection) -> None:
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

    def _advance(self, connection: Connection) -> None:
        """Hand the request to a worker once it has fully arrived (or refuse it)."""
        try:
            job = self._complete_request(connection)
        except Refusal as refusal:
            job = Job(connection, bytes(connection.inbuf[:MAX_HEAD_BYTES]), refusal)
            connection.inbuf.clear()
        if job is None:
            if connection.eof:  # it never will: half a request head, then nothing
                logger.debug("%s hung up in the middle of a request", connection.address[0])
                self._close(connection)
            else:  # the rest of a request that was pipelined in part
                self._watch(connection, selectors.EVENT_READ)
            return
        if job.refusal is not None:
            connection.close_after = True
        if connection.close_after:
            connection.inbuf.clear()
        connection.state = "working"
        self._watch(connection, 0)  # read nothing more until the response is written
        self._jobs.put(job)

    def _complete_request(self, connection: Connection) -> Job | None:
        data = connection.inbuf
        end = HEAD_END.search(data, 0, MAX_HEAD_BYTES + 4)
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
        length = body_length(method, headers, self.host_allowed)
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
        return Job(connection, request)

    def _respond(self, connection: Connection, response: bytes, close: bool) -> None:
        if connection.sock.fileno() < 0:
            return
        connection.close_after = connection.close_after or close or self.stopping
        connection.out = memoryview(response)
        connection.state = "writing"
        connection.deadline = time.monotonic() + self.write_timeout  # one for the whole write
        self._send(connection)

    def _send(self, connection: Connection) -> None:
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

    def _linger(self, connection: Connection) -> None:
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
            if connection.state == "reading":
                connection.close_after = True
                refusal = Refusal(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"the request did not arrive within {self.request_timeout:g} s",
                )
                connection.state = "working"
                self._watch(connection, 0)
                self._jobs.put(Job(connection, bytes(connection.inbuf[:MAX_HEAD_BYTES]), refusal))
                connection.inbuf.clear()
                continue
            if connection.state == "writing":
                message = "%s did not read its response within %g s; connection reset"
                logger.info(message, connection.address[0], self.write_timeout)
                # A reset, as nginx's reset_timedout_connection: a plain close would leave
                # the kernel sending what it holds for as long as the client dawdles.
                with contextlib.suppress(OSError):
                    connection.sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
            self._close(connection)
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self._listen(True)
        elif len(self._connections) < self.max_connections and not self._accept_paused_until:
            self._listen(True)

    def _hung_up(self, connection: Connection, error: OSError) -> None:
        logger.debug("%s hung up (%s)", connection.address[0], error.strerror or error)
        self._close(connection)

    def _close(self, connection: Connection) -> None:
        if self._selector is not None and connection.events:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(connection.sock)
        connection.events = 0
        self._connections.pop(id(connection), None)
        with contextlib.suppress(OSError):
            connection.sock.close()

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
