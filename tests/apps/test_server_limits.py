"""The demo server under load and against slow or broken clients, on 127.0.0.1 only: many
clients at once are all answered, kept-alive answers are quick, a slow client is cut off
at its deadline while the others are served, idle connections do not pin threads, running
out of descriptors does not spin, bad Content-Lengths get a 400 and a closed connection,
and a model whose outputs are not finite is refused instead of answering NaN."""

import errno
import http.client
import json
import select
import socket
import threading
import time

import numpy as np
import pytest

from neural_network import build_mlp, load_mnist
from neural_network.apps import bounded_http
from neural_network.apps.server import make_server


@pytest.fixture(scope="module")
def digits():
    _, (x_test, y_test) = load_mnist()
    return x_test[:20], y_test[:20]


def start(**limits):
    server = make_server(None, port=0, **limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def limited():
    """A demo server whose clients have one second to send a request."""
    server, thread = start(request_timeout=1.0, workers=8)
    yield server
    stop(server, thread)


def body_of(pixels):
    return json.dumps({"pixels": [int(v) for v in pixels]}).encode()


def predict(connection, pixels):
    connection.request(
        "POST", "/api/predict", body=body_of(pixels), headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def connect(server, timeout=10):
    host, port = server.server_address[:2]
    return http.client.HTTPConnection(host, port, timeout=timeout)


def test_two_hundred_clients_at_once_are_all_answered(server, digits):
    x, labels = digits
    n_clients = 200
    barrier = threading.Barrier(n_clients)
    answers = [None] * n_clients

    def client(index):
        connection = connect(server, timeout=30)
        try:
            barrier.wait(timeout=30)
            connection.headers = {"Connection": "close"}
            answers[index] = predict(connection, x[index % len(x)])
        except (OSError, http.client.HTTPException) as error:
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [a for a in answers if not (isinstance(a, tuple) and a[0] == 200)]
    assert not failures, failures[:3]
    assert [a[1]["label"] for a in answers] == [labels[i % len(x)] for i in range(n_clients)]


def test_kept_alive_answers_are_quick(server, digits):
    """p99 under 10 ms on one kept-alive connection. Headers and body in two writes took
    40 ms each (Nagle's algorithm waiting for a delayed ACK); on a machine shared with
    other work a round may be slowed by others, so the best of three rounds counts."""
    x, _ = digits
    connection = connect(server)
    p99s = []
    try:
        for _ in range(20):  # warm-up
            assert predict(connection, x[0])[0] == 200
        for _ in range(3):
            times = []
            for index in range(100):
                started = time.perf_counter()
                status, _ = predict(connection, x[index % len(x)])
                times.append(time.perf_counter() - started)
                assert status == 200
            p99s.append(float(np.percentile(times, 99)))
            if p99s[-1] < 0.010:
                break
    finally:
        connection.close()
    assert min(p99s) < 0.010, [f"p99 {1000 * p99:.1f} ms" for p99 in p99s]


def trickle(sock, seconds):
    """Send a byte every 0.1 s until the server closes or answers; the seconds that took,
    or None if it let the client go on for ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            return time.monotonic() - started
        try:
            sock.sendall(b"x")
        except OSError:
            return time.monotonic() - started
    return None


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_slow_client_is_cut_off_while_others_are_served(limited, digits, part):
    x, labels = digits
    host, port = limited.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as slow:
        if part == "headers":
            slow.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\nX-Slow: ".encode())
        else:
            head = (
                f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 5000\r\n\r\n"
            )
            slow.sendall(head.encode())
        outcome = {}
        slow_thread = threading.Thread(target=lambda: outcome.update(t=trickle(slow, 4.0)))
        slow_thread.start()
        connection = connect(limited)
        try:
            for index in range(10):
                status, answer = predict(connection, x[index])
                assert (status, answer["label"]) == (200, labels[index])
        finally:
            connection.close()
        slow_thread.join(timeout=10)
    assert outcome["t"] is not None, "the slow client was never cut off"
    assert 0.9 <= outcome["t"] < 2.5


def test_idle_connections_do_not_pin_a_thread_each(limited, digits):
    x, labels = digits
    host, port = limited.server_address[:2]
    before = threading.active_count()
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(40)]
    try:
        time.sleep(0.3)
        assert threading.active_count() <= before + 1
        started = time.monotonic()
        connection = connect(limited)
        status, answer = predict(connection, x[0])
        connection.close()
        assert (status, answer["label"]) == (200, labels[0])
        assert time.monotonic() - started < 5  # idle ones make way after a grace second
    finally:
        for sock in idle:
            sock.close()


class _DescriptorsExhausted:
    """The listening socket of a process out of file descriptors: readable, accept fails."""

    def __init__(self, sock):
        self.sock, self.accepts = sock, 0

    def fileno(self):
        return self.sock.fileno()

    def accept(self):
        self.accepts += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self):
        self.sock.close()


def test_out_of_descriptors_the_accept_loop_pauses(digits):
    server = make_server(None, port=0)
    listening = server.socket
    server.socket = exhausted = _DescriptorsExhausted(listening)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        pending = socket.create_connection(server.server_address[:2], timeout=10)
        time.sleep(1.0)
        assert exhausted.accepts <= 1.0 / bounded_http.ACCEPT_PAUSE_SECONDS + 5
        server.socket = listening  # descriptors are back: the waiting client is served
        host, port = server.server_address[:2]
        head = f"POST /api/predict HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 2\r\n"
        pending.sendall(head.encode() + b"\r\n{}")
        response = http.client.HTTPResponse(pending)
        response.begin()
        assert response.status == 400
        pending.close()
    finally:
        stop(server, thread)


def exchange(server, data):
    """Send raw bytes; the status of the answer and whether the server then closed."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data.replace(b"Host: x\r\n", f"Host: {host}:{port}\r\n".encode()))
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        sock.settimeout(5)
        try:
            closed = sock.recv(1024) == b""
        except ConnectionResetError:
            closed = True
        return response.status, json.loads(body), closed


NEXT_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    ("length", "status"),
    [("\u00b2", 400), ("9" * 5000, 413), ("1_0", 400), ("-1", 400), ("0x10", 400)],
)
def test_a_bad_content_length_is_refused_and_the_connection_closed(server, length, status):
    # Latin-1, as http.server decodes headers: b"\xb2" is read as "\u00b2", which
    # str.isdigit calls a digit and int refuses.
    request = f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
    request = request.encode("latin-1")
    answer_status, answer, closed = exchange(server, request + NEXT_REQUEST)
    assert answer_status == status and set(answer) == {"error"}
    assert closed  # what followed the headers was not taken for a request


def test_two_different_content_lengths_are_refused(server):
    request = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    request += b"Content-Length: 3\r\n\r\n{}"
    status, answer, closed = exchange(server, request)
    assert status == 400 and "Content-Length" in answer["error"] and closed


@pytest.fixture(scope="module")
def overflowing_model():
    model = build_mlp(784, [16], 10, rng=np.random.default_rng(0))
    for layer in model.layers:
        if hasattr(layer, "weight"):
            layer.weight.value[...] = 3e38
    return model


def test_a_model_that_gives_nan_is_not_served(overflowing_model):
    with pytest.raises(ValueError, match="not finite"):
        make_server(overflowing_model, port=0)


def test_a_nan_answer_is_an_error_not_invalid_json(server, digits, monkeypatch):
    def nan_probabilities(pixels):
        return np.full((len(pixels), 10), np.nan)

    monkeypatch.setattr(server, "probabilities", nan_probabilities)
    connection = connect(server)
    try:
        status, answer = predict(connection, digits[0][0])
    finally:
        connection.close()
    assert status == 500 and "not finite" in answer["error"]


def test_a_bad_host_is_named():
    with pytest.raises(OSError, match=r"256\.1\.1\.1"):
        make_server(None, host="256.1.1.1", port=0)
