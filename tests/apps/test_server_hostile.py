"""The demo server against hostile clients, on 127.0.0.1 only: clients that never read
their answers or read them slowly, requests left half-sent, many connects at once,
requests that two HTTP parsers could read differently (smuggling), a Host that does not
name the server (DNS rebinding), and clients that hang up. The last test is the load
test: a normal predict is answered within a second while 32 slow readers and 96 half-sent
requests hold connections."""

import contextlib
import http.client
import json
import logging
import select
import socket
import struct
import threading
import time

import pytest

from neural_network import load_mnist
from neural_network.apps.http_requests import hosts_for
from neural_network.apps.server import make_server


@pytest.fixture(scope="module")
def digits():
    _, (x_test, y_test) = load_mnist()
    return x_test[:5], y_test[:5]


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
def serve_with():
    """Starts a demo server with the limits given; stops it after the test."""
    started = []

    def serve_with(**limits):
        started.append(start(**limits))
        return started[-1][0]

    yield serve_with
    for server, thread in started:
        stop(server, thread)


def host_header(server):
    host, port = server.server_address[:2]
    return f"{host}:{port}"


def predict_seconds(server, pixels, label, timeout=5.0):
    """Seconds a fresh connection takes to get a predict answered (it must be right)."""
    host, port = server.server_address[:2]
    body = json.dumps({"pixels": [int(v) for v in pixels]})
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert (response.status, answer["label"]) == (200, label)
    return time.monotonic() - started


def small_window_socket(server):
    """A connection whose receive buffer is small, so the server's writes stall soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(server.server_address[:2])
    return sock


def pipeline(server, sock, n=300, path="/app.js"):
    """Send ``n`` requests at once, reading nothing."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host_header(server)}\r\n\r\n".encode()
    sock.sendall(request * n)


def half_sent(server):
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    sock.sendall(
        f"POST /api/predict HTTP/1.1\r\nHost: {host_header(server)}\r\nContent-Le".encode()
    )
    return sock


def closed_by_server(sock, seconds, read_every, chunk=4096):
    """Read ``chunk`` bytes every ``read_every`` seconds; True once the server closed."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        time.sleep(read_every)
        try:
            if not sock.recv(chunk):
                return True
        except (ConnectionResetError, TimeoutError):
            return True
    return False


# -- slow readers ----------------------------------------------------------------------


def test_a_client_that_pipelines_and_never_reads_holds_no_worker(serve_with, digits):
    served = serve_with(workers=1)
    x, labels = digits
    never_reads = small_window_socket(served)
    try:
        pipeline(served, never_reads)
        time.sleep(0.3)  # the server's writes to it are stalled by now
        predict_seconds(served, x[0], labels[0])  # raises if not answered within 5 s
    finally:
        never_reads.close()


def test_a_response_has_one_deadline_for_the_whole_write(serve_with):
    """A client reading 4 KB every 0.7 s (each send progresses well within a second) is
    too slow to read an 8 KB answer in a second: it is cut off."""
    served = serve_with(write_timeout=1.0)
    slow = small_window_socket(served)
    try:
        pipeline(served, slow)
        assert closed_by_server(slow, seconds=8, read_every=0.7)
    finally:
        slow.close()


def test_a_pipelined_request_that_arrives_in_parts_is_answered(server):
    request = f"GET / HTTP/1.1\r\nHost: {host_header(server)}\r\n\r\n".encode()
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(request + request[:10])  # one request and the start of the next
        first = http.client.HTTPResponse(sock)
        first.begin()
        assert first.status == 200 and first.read()
        sock.sendall(request[10:])
        second = http.client.HTTPResponse(sock)
        second.begin()
        assert second.status == 200 and second.read()


# -- half-sent requests and many connects ---------------------------------------------


def test_half_sent_requests_hold_no_worker(serve_with, digits):
    served = serve_with(workers=2)
    x, labels = digits
    waiting = [half_sent(served) for _ in range(16)]
    try:
        time.sleep(0.3)
        predict_seconds(served, x[1], labels[1])  # raises if not answered within 5 s
    finally:
        for sock in waiting:
            sock.close()


def somaxconn():
    try:
        with open("/proc/sys/net/core/somaxconn") as file:
            return int(file.read())
    except OSError:
        return 0


@pytest.mark.skipif(somaxconn() < 256, reason="the kernel caps listen backlogs below 256")
def test_two_hundred_connects_at_once_complete_without_a_retry():
    """200 connects complete into the listen backlog even before any is accepted: a
    backlog of 128 dropped the rest's SYNs, which the client retries a second later."""
    server = make_server(None, port=0)  # listening, not serving: nothing is accepted
    clients = []
    try:
        for _ in range(200):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(server.server_address[:2])
            clients.append(sock)
        pending, connected = list(clients), 0
        ends = time.monotonic() + 0.8  # under the first SYN retry (1 s)
        while pending and time.monotonic() < ends:
            _, writable, _ = select.select([], pending, [], 0.1)
            for sock in writable:
                pending.remove(sock)
                connected += sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert connected == 200
    finally:
        for sock in clients:
            sock.close()
        server.server_close()


# -- requests read two ways ------------------------------------------------------------

PREDICT_BODY = json.dumps({"pixels": [0] * 392 + [255] * 392}).encode()

SMUGGLING = {
    "a GET with a body": ("GET", "/", [f"Content-Length: {len(PREDICT_BODY)}"]),
    "a HEAD with a body": ("HEAD", "/", [f"Content-Length: {len(PREDICT_BODY)}"]),
    "chunked and a Content-Length": (
        "POST",
        "/api/predict",
        ["Transfer-Encoding: chunked", f"Content-Length: {len(PREDICT_BODY)}"],
    ),
    "Transfer-Encoding gzip": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", "Transfer-Encoding: gzip"],
    ),
    "two Transfer-Encodings": (
        "POST",
        "/api/predict",
        [
            f"Content-Length: {len(PREDICT_BODY)}",
            "Transfer-Encoding: identity",
            "Transfer-Encoding: chunked",
        ],
    ),
    "a space before the colon": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", "Transfer-Encoding : chunked"],
    ),
    "two equal Content-Lengths": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", f"Content-Length: {len(PREDICT_BODY)}"],
    ),
    "a folded header line": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", "X-Note: a", " folded"],
    ),
    "a line without a colon": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", "X-Note"],
    ),
    "a control character": (
        "POST",
        "/api/predict",
        [f"Content-Length: {len(PREDICT_BODY)}", "X-Note: a\x00b"],
    ),
}


def exchange(server, data):
    """Send raw bytes; the first answer's status and body, and whether the server then
    closed the connection without answering anything more."""
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        sock.settimeout(5)
        try:
            rest = sock.recv(1024)
        except ConnectionResetError:
            rest = b""
        return response.status, body, rest == b""


@pytest.mark.parametrize(("method", "path", "headers"), SMUGGLING.values(), ids=SMUGGLING.keys())
def test_requests_read_two_ways_are_refused_and_closed(server, method, path, headers):
    head = [f"{method} {path} HTTP/1.1", f"Host: {host_header(server)}", *headers]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + PREDICT_BODY
    next_request = f"GET / HTTP/1.1\r\nHost: {host_header(server)}\r\n\r\n".encode()
    status, body, closed = exchange(server, request + next_request)
    assert status == 400, body
    assert set(json.loads(body)) == {"error"}
    assert closed  # neither the body nor what follows is read as a request


# -- Host --------------------------------------------------------------------------------


def host_status(server, *hosts):
    headers = "".join(f"Host: {host}\r\n" for host in hosts)
    status, _body, _ = exchange(
        server, f"GET / HTTP/1.1\r\n{headers}Connection: close\r\n\r\n".encode()
    )
    return status


@pytest.mark.parametrize("host", ["{ip}:{port}", "localhost:{port}", "LocalHost:{port}"])
def test_the_server_answers_for_its_own_names(server, host):
    ip, port = server.server_address[:2]
    assert host_status(server, host.format(ip=ip, port=port)) == 200


@pytest.mark.parametrize(
    "host", ["attacker.example:{port}", "attacker.example", "{ip}", "{ip}:1", "localhost"]
)
def test_another_host_is_refused(server, host):
    """A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its
    own name as Host: it gets no answer."""
    ip, port = server.server_address[:2]
    assert host_status(server, host.format(ip=ip, port=port)) == 421


def test_a_missing_or_doubled_host_is_refused(server):
    assert host_status(server) == 400
    assert host_status(server, host_header(server), host_header(server)) == 400


def test_hosts_on_port_80_need_no_port():
    assert hosts_for(("127.0.0.1", 80)) == {
        "127.0.0.1",
        "localhost",
        "127.0.0.1:80",
        "localhost:80",
    }
    assert hosts_for(("::1", 8080, 0, 0)) == {"[::1]:8080", "localhost:8080"}
    assert hosts_for(("192.0.2.7", 8080)) == {"192.0.2.7:8080"}


# -- hang-ups -----------------------------------------------------------------------------


def test_a_client_that_hangs_up_is_one_short_line(server, caplog):
    caplog.set_level(logging.DEBUG, logger="neural_network.apps")
    gone = small_window_socket(server)
    pipeline(server, gone)
    time.sleep(0.3)  # the server is writing to it, stalled
    gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()  # a reset: the server's next write fails
    ends = time.monotonic() + 5
    while time.monotonic() < ends and not any("hung up" in r.message for r in caplog.records):
        if any(r.exc_info for r in caplog.records):
            break
        time.sleep(0.05)
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "Traceback" not in caplog.text
    hang_ups = [r for r in caplog.records if "hung up" in r.message]
    assert len(hang_ups) == 1 and hang_ups[0].levelno == logging.DEBUG


# -- the load test ------------------------------------------------------------------------


def test_a_predict_is_answered_within_a_second_while_slow_clients_hold_connections(digits):
    """32 slow readers (16 that pipeline and never read, 16 that read 4 KB every 2 s) and
    96 half-sent requests hold connections to a server with its default limits (32
    workers, 10 s deadlines); a normal predict on a new connection is answered within a
    second, three times."""
    x, labels = digits
    server, thread = start()
    stop_reading = threading.Event()
    sockets = []

    def read_slowly(readers):
        while not stop_reading.wait(2.0):
            for sock in readers:
                with contextlib.suppress(OSError):
                    sock.recv(4096)

    try:
        never_read = [small_window_socket(server) for _ in range(16)]
        read_slow = [small_window_socket(server) for _ in range(16)]
        sockets += never_read + read_slow
        for sock in never_read + read_slow:
            pipeline(server, sock)
        reader = threading.Thread(target=read_slowly, args=(read_slow,), daemon=True)
        reader.start()
        sockets += [half_sent(server) for _ in range(96)]
        time.sleep(0.5)  # every slow reader's answers are stalled by now
        seconds = []
        for index in range(3):
            seconds.append(predict_seconds(server, x[index], labels[index]))
        assert max(seconds) < 1.0, [f"{s:.3f} s" for s in seconds]
    finally:
        stop_reading.set()
        for sock in sockets:
            sock.close()
        stop(server, thread)
