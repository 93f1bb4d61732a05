"""A local web page to draw a digit and watch the network answer (``neural-network serve``).

One page and one JSON endpoint, served by the standard library's ``http.server`` with a
fixed pool of worker threads and deadlines (:mod:`neural_network.apps.bounded_http`):

- ``GET /`` is the page (``web/index.html``, ``app.js``, ``style.css``, shipped with the
  package; plain HTML, CSS and JavaScript that need no network).
- ``POST /api/predict`` takes ``{"pixels": [784 numbers in 0-255, row-major]}``, bright ink
  on black, and answers ``{"label": int, "probabilities": [10 floats], "image": [784 ints]}``.
  ``image`` is what the network was given: the drawing made MNIST-like by
  :func:`prepare_drawing` (its bounding box scaled to 20x20, its centre of mass placed at
  the centre of a 28x28 field).

Every failure is a JSON ``{"error": "..."}`` with a 4xx status (5xx only for a bug or a
model whose outputs are not finite), and the server keeps answering. Inference runs in
Python, with the library's own model. This module prints nothing; request lines go to the
``neural_network.apps.server`` logger.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import logging
import math
import os
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import numpy as np

from ..checks import check_non_negative_int
from ..data.images import FIELD, centre_in_field
from ..io.model_files import load_model
from .bounded_http import (
    IDLE_TIMEOUT_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    WORKERS,
    WRITE_TIMEOUT_SECONDS,
    BoundedHTTPServer,
    DeadlineRequestHandler,
)
from .predictor import DIGITS, check_finite_probabilities, pixel_classifier

N_PIXELS = FIELD * FIELD
MAX_BODY_BYTES = 64 * 1024  # 784 numbers need under 8 KB even written as "255.000000,"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080  # mkdocs serve takes 8000
PREDICT_PATH = "/api/predict"

# The only files the server hands out: URL path -> (file in web/, content type).
PAGES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

logger = logging.getLogger(__name__)


class RequestError(Exception):
    """A request the server refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def demo_model_path() -> os.PathLike:
    """The small pretrained network shipped with the package (``apps/demo_model.npz``;
    ``scripts/train_demo_model.py`` reproduces it)."""
    return importlib.resources.files("neural_network.apps") / "demo_model.npz"


def prepare_drawing(pixels: np.ndarray) -> np.ndarray:
    """Make a drawing MNIST-like: the ``(784,)`` uint8 field the network is given.

    The drawing is clean bright ink on black already: it needs only MNIST's step,
    :func:`neural_network.data.images.centre_in_field`, not a photo's clean-up (so the page
    works without scikit-image).

    Args:
        pixels: ``(784,)`` or ``(28, 28)`` values in 0-255, bright ink on black.

    Raises:
        ValueError: if the drawing is blank.
    """
    return centre_in_field(np.clip(np.asarray(pixels, dtype=np.float64).reshape(28, 28), 0, None))


def _digit_probabilities(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A function from raw pixel rows ``(n, 784)`` (0-255) to probabilities ``(n, 10)``,
    for a model of 784 inputs and the classes 0-9 (see :mod:`neural_network.apps.predictor`).

    Raises:
        TypeError: for an object that is not one of the library's models.
        ValueError: for a model that does not take 784 inputs and give 10 classes 0-9.
    """
    classifier = pixel_classifier(model)
    classes = classifier.classes
    if classifier.n_features != N_PIXELS or tuple(str(c) for c in classes) != DIGITS:
        raise ValueError(
            f"the demo page needs a model of {N_PIXELS} inputs and the classes 0-9; got "
            f"{classifier.n_features} inputs and the classes {classes}"
        )
    return classifier.probabilities


def parse_pixels(body: bytes) -> np.ndarray:
    """The ``(784,)`` float64 pixels of a ``/api/predict`` request body.

    Raises:
        RequestError: (400) for a body that is not UTF-8 JSON of the form
            ``{"pixels": [784 numbers in 0-255]}``. NaN, infinities, booleans and strings
            are refused.
    """

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a number")

    try:
        data = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not UTF-8 text") from None
    except RecursionError:
        raise RequestError(HTTPStatus.BAD_REQUEST, "the JSON is nested too deeply") from None
    except ValueError as error:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict) or set(data) != {"pixels"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f'expected a JSON object {{"pixels": [...]}}; got {keys}'
        )
    pixels = data["pixels"]
    if not isinstance(pixels, list) or len(pixels) != N_PIXELS:
        got = f"{len(pixels)} values" if isinstance(pixels, list) else type(pixels).__name__
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"pixels must be a list of {N_PIXELS} numbers; got {got}"
        )
    for index, value in enumerate(pixels):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"pixels[{index}] is not a number: {value!r:.40}"
            )
        if not (math.isfinite(value) and 0 <= value <= 255):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"pixels[{index}] = {value!r:.40} is not in 0-255"
            )
    return np.array(pixels, dtype=np.float64)


class DemoServer(BoundedHTTPServer):
    """The demo's HTTP server: a model, the page's files, a fixed pool of worker threads.

    Args:
        address: ``(host, port)``; port 0 picks a free port (see :attr:`url`).
        model: A ``NeuralNetwork``, ``Sequential`` or ``MLPClassifier`` of 784 inputs and
            the 10 classes 0-9.
        workers, request_timeout, idle_timeout, write_timeout: As for
            :class:`~neural_network.apps.bounded_http.BoundedHTTPServer`.

    Raises:
        ValueError: for a model the page cannot use, or one whose outputs are not finite.
    """

    def __init__(
        self,
        address: tuple[str, int],
        model: Any,
        *,
        workers: int = WORKERS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        write_timeout: float = WRITE_TIMEOUT_SECONDS,
    ):
        self.model = model
        self.probabilities = _digit_probabilities(model)
        # A model with huge weights gives NaN for most inputs: refuse it before serving.
        self.probabilities(np.stack([np.zeros(N_PIXELS), np.full(N_PIXELS, 255)]))
        web = importlib.resources.files("neural_network.apps") / "web"
        self.pages = {path: (web / name).read_bytes() for path, (name, _) in PAGES.items()}
        super().__init__(
            address,
            DemoRequestHandler,
            workers=workers,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            write_timeout=write_timeout,
            max_body_bytes=MAX_BODY_BYTES,
        )

    @property
    def url(self) -> str:
        """The page's address, with the port actually bound."""
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def predict(self, pixels: np.ndarray) -> dict[str, Any]:
        """The answer to one drawing: label, probabilities and the prepared image.

        Raises:
            RequestError: (422) for a blank drawing; (500) if the model's outputs are not
                finite.
        """
        try:
            image = prepare_drawing(pixels)
        except ValueError as error:
            raise RequestError(HTTPStatus.UNPROCESSABLE_ENTITY, str(error)) from None
        try:
            probs = self.probabilities(image[None, :].astype(np.float64))[0]
            check_finite_probabilities(probs)
        except ValueError as error:  # outputs that are not finite: never NaN in the JSON
            raise RequestError(HTTPStatus.INTERNAL_SERVER_ERROR, str(error)) from None
        return {
            "label": int(np.argmax(probs)),
            "probabilities": [float(p) for p in probs],
            "image": [int(v) for v in image],
        }


class DemoRequestHandler(DeadlineRequestHandler):
    """Answers ``GET`` for the page's files and ``POST /api/predict``; JSON errors otherwise."""

    server: DemoServer
    server_version = "neural-network-demo"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_HEAD(self) -> None:
        self._answer(self._get, head=True)

    def do_POST(self) -> None:
        self._answer(self._post)

    def do_PUT(self) -> None:
        self._answer(self._refuse_method)

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _allowed(self) -> str:
        return "POST" if self._path() == PREDICT_PATH else "GET, HEAD"

    def _refuse_method(self) -> tuple[HTTPStatus, bytes, str]:
        raise RequestError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"{self.command} is not allowed on {self._path()}; use {self._allowed()}",
            {"Allow": self._allowed()},
        )

    def _get(self) -> tuple[HTTPStatus, bytes, str]:
        path = self._path()
        if path == PREDICT_PATH:
            self._refuse_method()
        if path not in PAGES:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        return HTTPStatus.OK, self.server.pages[path], PAGES[path][1]

    def _post(self) -> tuple[HTTPStatus, bytes, str]:
        if self._path() != PREDICT_PATH:
            if self._path() in PAGES:
                self._refuse_method()
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such endpoint: {self._path()}")
        pixels = parse_pixels(self._read_body())
        answer = self.server.predict(pixels)
        return HTTPStatus.OK, json.dumps(answer, allow_nan=False).encode(), "application/json"

    def _read_body(self) -> bytes:
        """The request body, refused unless its declared length is at most MAX_BODY_BYTES.
        (The server's loop has refused Transfer-Encoding and read the body already.)"""
        length = _content_length(self.headers.get_all("Content-Length") or [])
        if length > MAX_BODY_BYTES:
            # The body is never read: close the connection rather than drain it.
            self.close_connection = True
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {length} bytes; at most {MAX_BODY_BYTES} are accepted",
            )
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"the body ended after {len(body)} of {length} bytes",
            )
        return body

    def _answer(self, handler: Callable[[], tuple[HTTPStatus, bytes, str]], head=False) -> None:
        headers: dict[str, str] = {}
        try:
            status, payload, content_type = handler()
        except RequestError as error:
            # A refused request's body may be unread: it must not be taken for the next request.
            self.close_connection = True
            status, headers = error.status, error.headers
            payload, content_type = _error_json(str(error)), "application/json"
        except Exception:
            logger.exception("error while answering %s %s", self.command, self.path)
            self.close_connection = True
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, _error_json("internal error")
            content_type = "application/json"
        self._send(status, payload, content_type, headers, head=head)

    def _send(
        self,
        status: HTTPStatus,
        payload: bytes,
        content_type: str,
        headers: dict[str, str],
        *,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **headers}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()  # into the write buffer: headers and body go out in one write
        if not head:
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """Errors found by ``http.server`` itself (a bad request line, an unknown method,
        oversized headers) are answered in JSON too; an unknown method gets 405."""
        self.close_connection = True
        # http.server takes an unparsable request line for HTTP/0.9 and would answer it
        # with a bare body: give it a status line and headers instead.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        headers = {}
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            code, headers = HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": self._allowed()}
            message = f"{self.command} is not allowed on {self._path()}; use {self._allowed()}"
        status = HTTPStatus(code)
        self._send(status, _error_json(message or status.phrase), "application/json", headers)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def _error_json(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def _content_length(values: list[str]) -> int:
    """The body's length from the request's Content-Length headers.

    Raises:
        RequestError: (411) for none; (400) for one that is not ASCII digits (``"²"`` passes
            ``str.isdigit``) or for two that differ; a value too long to be a small number
            counts as too large (413), without converting it.
    """
    if not values:
        raise RequestError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
    texts = {value.strip() for value in values}
    if len(texts) > 1:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"the request has {len(values)} different Content-Lengths"
        )
    (text,) = texts
    if not (text.isascii() and text.isdigit()):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"Content-Length must be a byte count; got {text!r:.40}"
        )
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_BODY_BYTES)):
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the body is a {len(digits)}-digit number of bytes; at most {MAX_BODY_BYTES} "
            "are accepted",
        )
    return int(digits)


def _resolve_model(model: Any) -> Any:
    """A model object from a model, a model file path, or ``None`` (the demo model)."""
    if model is None:
        with importlib.resources.as_file(demo_model_path()) as path:
            return load_model(path)
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    return model


def make_server(
    model: Any = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    workers: int = WORKERS,
    request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    write_timeout: float = WRITE_TIMEOUT_SECONDS,
) -> DemoServer:
    """A bound, not yet running, demo server; call ``serve_forever()`` (in a thread for tests).

    Args:
        model: A ``NeuralNetwork``, ``Sequential`` or ``MLPClassifier``, a model file to
            load, or ``None`` for the demo model shipped with the package.
        host: The address to bind; the loopback address unless told otherwise.
        port: The port; 0 picks a free one (``server.url`` says which).
        workers: Connections served at once; others wait their turn.
        request_timeout: Seconds a client has to send a whole request, from its first byte.
        idle_timeout: Seconds a connection may stay open between requests.
        write_timeout: Seconds a client has to read a whole response.

    Raises:
        TypeError, ValueError: for a model the page cannot use.
        ModelFileError, FileNotFoundError: for a model file that cannot be read.
        OSError: if the address cannot be bound (a port in use, say); the message names it.
    """
    if check_non_negative_int("port", port) > 65535:
        raise ValueError(f"port must be an integer in 0-65535; got {port!r}")
    if not isinstance(host, str):
        raise TypeError(f"host must be a string; got {host!r}")
    resolved = _resolve_model(model)
    try:
        return DemoServer(
            (host, port),
            resolved,
            workers=workers,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            write_timeout=write_timeout,
        )
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(f"cannot listen on host {host!r}, port {port}: {reason}") from None


def serve(
    model: Any = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the demo server until interrupted (Ctrl+C ends it quietly).

    Args:
        model: As for :func:`make_server`.
        host: The address to bind.
        port: The port; 0 picks a free one.
        on_ready: Called with the page's URL once the server listens.
    """
    server = make_server(model, host, port)
    with server:
        if on_ready is not None:
            on_ready(server.url)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
