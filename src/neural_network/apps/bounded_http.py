"""An HTTP/1.1 server from the standard library that stays up under load and slow clients.

``http.server.ThreadingHTTPServer`` starts a thread per connection with no cap, listens with
a backlog of 5, lets a client take as long as it likes to send a request, spins when the
process runs out of file descriptors, and sends a response's headers and body in two writes
(which Nagle's algorithm and delayed ACKs turn into a 40 ms wait on a kept-alive connection).
:class:`BoundedHTTPServer` and :class:`DeadlineRequestHandler` fix each of these:

- a listen backlog of ``LISTEN_BACKLOG``;
- a fixed pool of ``workers`` threads; accepted connections wait in a bounded queue, and
  when that is full the accept loop waits, so the kernel's backlog holds the rest;
- a deadline for each request: from its first byte, the request line, headers and body must
  arrive within ``request_timeout`` seconds, or the connection is closed;
- a connection with no request under way is closed after ``idle_timeout`` seconds, or as
  soon as it has been idle ``IDLE_GRACE_SECONDS`` while other connections wait for a worker;
- ``TCP_NODELAY`` and one write per response;
- when ``accept`` fails for lack of file descriptors or memory, the accept loop pauses
  ``ACCEPT_PAUSE_SECONDS`` before it tries again.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import queue
import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from ..checks import check_positive_int, check_real

LISTEN_BACKLOG = 128
WORKERS = 32
REQUEST_TIMEOUT_SECONDS = 10.0  # to send a whole request, from its first byte
IDLE_TIMEOUT_SECONDS = 60.0  # an idle connection is closed after this long
IDLE_GRACE_SECONDS = 1.0  # ... or after this long when other connections wait for a worker
IDLE_POLL_SECONDS = 0.25  # how often an idle connection looks for others waiting
ACCEPT_PAUSE_SECONDS = 0.1  # after accept failed for lack of descriptors or memory
LINGER_SECONDS = 2.0  # how long a closing connection discards what the client still sends
LINGER_SILENCE_SECONDS = 0.1  # ... stopping sooner when nothing more arrives for this long
LINGER_BYTES = 1 << 20  # ... and how many bytes it discards at most
WRITE_BUFFER_BYTES = 256 * 1024  # a response up to this size goes out in one write
READ_BUFFER_BYTES = 64 * 1024
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

logger = logging.getLogger(__name__)


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read giving up (``TimeoutError``) when ``deadline`` has passed.

    With ``probe`` set, reads return ``None`` at once, as a non-blocking stream with no
    data does: the ``BufferedReader`` on top then shows only what it holds already.
    """

    def __init__(self, sock: socket.socket):
        super().__init__()
        self._sock = sock
        self.deadline: float | None = None
        self.probe = False

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._sock.fileno()

    def readinto(self, buffer: Any) -> int | None:
        if self.probe:
            return None
        if self.deadline is None:
            self._sock.settimeout(None)
        else:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request was not received in time")
            self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


class BoundedHTTPServer(HTTPServer):
    """An ``HTTPServer`` that answers with a fixed pool of worker threads.

    Args:
        address: ``(host, port)``; an IPv6 host (one with ``:``) listens on IPv6.
        handler: A :class:`DeadlineRequestHandler` subclass.
        workers: Threads answering requests; at most this many connections are served at
            once, the others wait.
        request_timeout: Seconds a client has to send a whole request, from its first byte.
        idle_timeout: Seconds a connection may stay open with no request under way.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[DeadlineRequestHandler],
        *,
        workers: int = WORKERS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ):
        self.workers = check_positive_int("workers", workers)
        self.request_timeout = check_real("request_timeout", request_timeout, "(0, inf)")
        self.idle_timeout = check_real("idle_timeout", idle_timeout, "(0, inf)")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._waiting: queue.Queue = queue.Queue(maxsize=2 * self.workers)
        self._stopping = threading.Event()
        self._accept_failing = False
        self._threads: list[threading.Thread] = []
        self._current = threading.local()  # per worker: when its connection was accepted
        super().__init__(address, handler)
        self._threads = [
            threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def connections_waiting(self) -> bool:
        """Whether accepted connections wait for a free worker."""
        return not self._waiting.empty()

    def accepted_at(self) -> float:
        """When the connection this worker thread serves was accepted (``time.monotonic``)."""
        return self._current.accepted_at

    def get_request(self) -> tuple[socket.socket, Any]:
        """``accept``, pausing first when it fails for lack of descriptors or memory: the
        listening socket stays readable then, and the accept loop would spin."""
        try:
            request = self.socket.accept()
        except OSError as error:
            if error.errno in _RESOURCE_ERRNOS:
                if not self._accept_failing:
                    logger.warning("cannot accept connections (%s); pausing", error)
                self._accept_failing = True
                time.sleep(ACCEPT_PAUSE_SECONDS)
            raise
        self._accept_failing = False
        return request

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        """Queue the connection for a worker; wait while the queue is full."""
        while not self.stopping:
            try:
                item = (request, client_address, time.monotonic())
                self._waiting.put(item, timeout=IDLE_POLL_SECONDS)
                return
            except queue.Full:
                continue
        self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._waiting.get()
            if item is None:
                return
            request, client_address, self._current.accepted_at = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def shutdown_request(self, request: socket.socket) -> None:
        """Close a connection without a reset: stop sending, then discard what the client
        still sends (a refused body, say) until it closes or falls silent, for at most
        ``LINGER_SECONDS`` and ``LINGER_BYTES``. Closing a socket that holds unread bytes
        sends a TCP reset, and a reset can destroy the error response before the client has
        read it."""
        try:
            request.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            discarded = 0
            while discarded < LINGER_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                request.settimeout(min(remaining, LINGER_SILENCE_SECONDS))
                chunk = request.recv(64 * 1024)
                if not chunk:
                    break
                discarded += len(chunk)
        except OSError:
            pass  # silent, gone, or never connected
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.exception("error while serving %s", client_address)

    def server_close(self) -> None:
        """Stop listening, close the connections still waiting, and end the workers."""
        super().server_close()
        self._stopping.set()
        while True:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._threads:
            self._waiting.put(None)


class DeadlineRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection of a :class:`BoundedHTTPServer`: each request within the
    server's ``request_timeout``, idle waits bounded, one write per response."""

    server: BoundedHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.connection = self.request
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, READ_BUFFER_BYTES)
        self.wfile = self.connection.makefile("wb", WRITE_BUFFER_BYTES)

    def handle(self) -> None:
        self.close_connection = True
        idle_since = self.server.accepted_at()  # time waiting in the queue counts as idle
        while self._wait_for_request(idle_since):
            self._reader.deadline = time.monotonic() + self.server.request_timeout
            self.handle_one_request()
            self._reader.deadline = None
            if self.close_connection:
                return
            idle_since = time.monotonic()

    def end_headers(self) -> None:
        # The reads left the socket with what remained of the request's deadline; the
        # response gets the whole ``request_timeout`` to be written.
        self.connection.settimeout(self.server.request_timeout)
        super().end_headers()

    def _buffered(self) -> bool:
        """Whether bytes of a request were read already (a pipelined request)."""
        self._reader.probe = True
        try:
            return bool(self.rfile.peek(1))
        finally:
            self._reader.probe = False

    def _wait_for_request(self, idle_since: float) -> bool:
        """Wait for a request's first byte; ``False`` when the connection should close:
        idle for ``idle_timeout``, or for ``IDLE_GRACE_SECONDS`` while others wait."""
        if self._buffered():
            return True
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            timeout = 0.0  # first look whether the request is here already
            while not self.server.stopping:
                if selector.select(timeout):
                    return True
                idle = time.monotonic() - idle_since
                if idle >= self.server.idle_timeout:
                    return False
                if idle >= IDLE_GRACE_SECONDS and self.server.connections_waiting():
                    return False
                timeout = min(IDLE_POLL_SECONDS, self.server.idle_timeout - idle)
        return False

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the client went away, or stopped reading
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.wfile.close()
        self.rfile.close()
