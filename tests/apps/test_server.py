"""The web demo's server: the page, POST /api/predict on real MNIST digits, a JSON 4xx for
every kind of bad request (after which the server still answers), the loopback default, the
shipped demo model, and ``neural-network serve`` as a process."""

import http.client
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from neural_network import NeuralNetwork, build_mlp, load_mnist, load_model
from neural_network.apps.server import (
    MAX_BODY_BYTES,
    demo_model_path,
    make_server,
    prepare_drawing,
)


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = load_mnist()
    return x_test, y_test


def post_json(server, payload, path="/api/predict"):
    """POST ``payload`` as JSON with urllib; returns (status, decoded JSON body)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(
        server.url.rstrip("/") + path,
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def own_host(server, data: bytes) -> bytes:
    """``data`` with its ``Host: x`` headers naming the server (host and port) instead."""
    host, port = server.server_address[:2]
    return data.replace(b"Host: x\r\n", f"Host: {host}:{port}\r\n".encode())


def send_raw(server, data: bytes, *, close_write: bool = False, method: str = "GET"):
    """Send raw bytes on a fresh connection; returns (status, headers, body bytes)."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(own_host(server, data))
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        return response.status, response.headers, response.read()


def assert_json_error(status, headers, body, expected_status):
    assert status == expected_status, body
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"error"}
    assert isinstance(error["error"], str) and error["error"]


def assert_still_answers(server, mnist_test):
    x_test, y_test = mnist_test
    status, answer = post_json(server, {"pixels": x_test[0].tolist()})
    assert status == 200
    assert answer["label"] == y_test[0]


def test_real_mnist_digits_get_their_labels(server, mnist_test):
    x_test, y_test = mnist_test
    for image, label in zip(x_test[:20], y_test[:20], strict=True):
        status, answer = post_json(server, {"pixels": image.tolist()})
        assert status == 200
        assert set(answer) == {"label", "probabilities", "image"}
        assert answer["label"] == label
        probs = answer["probabilities"]
        assert len(probs) == 10 and all(isinstance(p, float) for p in probs)
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert int(np.argmax(probs)) == answer["label"]
        assert answer["image"] == prepare_drawing(image).tolist()


def test_answer_is_the_library_own_inference(server, mnist_test):
    x_test, _ = mnist_test
    pixels = x_test[7].astype(float) * 0.5 + 0.25  # floats in range are accepted too
    status, answer = post_json(server, {"pixels": pixels.tolist()})
    assert status == 200
    expected = server.model.predict_proba(prepare_drawing(pixels)[:, None].astype(float))[:, 0]
    np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-6)


def test_a_drawing_anywhere_on_the_pad_is_centred_like_mnist(server, mnist_test):
    x_test, y_test = mnist_test
    digit = x_test[3].reshape(28, 28)
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    corner = np.zeros((28, 28), dtype=np.uint8)
    corner[: crop.shape[0], : crop.shape[1]] = crop  # pushed into the top-left corner
    status, answer = post_json(server, {"pixels": corner.ravel().tolist()})
    assert status == 200
    assert answer["label"] == y_test[3]
    image = np.array(answer["image"], dtype=float).reshape(28, 28)
    centre = image.sum(axis=1) @ np.arange(28) / image.sum()
    assert abs(centre - 14) <= 1


def test_the_page_and_its_files_are_served(server):
    with urllib.request.urlopen(server.url, timeout=10) as response:
        page = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<canvas id="pad"' in page and 'id="clear"' in page and 'id="bars"' in page
    for path, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            text = response.read().decode()
            assert response.headers["Content-Type"].startswith(kind)
        assert "://" not in text  # offline: nothing is fetched from another host
    assert "://" not in page
    status, headers, body = send_raw(server, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(page)


PIXELS_OK = [0] * 784

BAD_BODIES = {
    "not JSON": b"pixels please",
    "truncated JSON": b'{"pixels": [1, 2,',
    "not UTF-8": b'{"pixels": "\xff\xfe"}',
    "a list, not an object": json.dumps(PIXELS_OK).encode(),
    "no pixels key": json.dumps({"pixel": PIXELS_OK}).encode(),
    "an extra key": json.dumps({"pixels": PIXELS_OK, "more": 1}).encode(),
    "pixels not a list": json.dumps({"pixels": "0" * 784}).encode(),
    "783 values": json.dumps({"pixels": [0] * 783}).encode(),
    "785 values": json.dumps({"pixels": [0] * 785}).encode(),
    "28x28 nested": json.dumps({"pixels": [[0] * 28] * 28}).encode(),
    "a string value": json.dumps({"pixels": [0] * 783 + ["1"]}).encode(),
    "a boolean value": json.dumps({"pixels": [True] + [0] * 783}).encode(),
    "a null value": json.dumps({"pixels": [None] + [0] * 783}).encode(),
    "NaN": ('{"pixels": [NaN' + ", 0" * 783 + "]}").encode(),
    "Infinity": ('{"pixels": [Infinity' + ", 0" * 783 + "]}").encode(),
    "huge number": ('{"pixels": [1e999' + ", 0" * 783 + "]}").encode(),
    "negative": json.dumps({"pixels": [-1] + [0] * 783}).encode(),
    "above 255": json.dumps({"pixels": [255.5] + [0] * 783}).encode(),
    "deeply nested": b"[" * 60_000,
    "empty body": b"",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_get_a_400_json_error(server, mnist_test, body):
    assert len(body) <= MAX_BODY_BYTES
    status, error = post_json(server, body)
    assert status == 400
    assert set(error) == {"error"} and error["error"]
    assert_still_answers(server, mnist_test)


def test_a_blank_drawing_is_unprocessable(server, mnist_test):
    status, error = post_json(server, {"pixels": PIXELS_OK})
    assert status == 422
    assert "blank" in error["error"]
    assert_still_answers(server, mnist_test)


def predict_request(headers: str, body: bytes = b"") -> bytes:
    return b"POST /api/predict HTTP/1.1\r\nHost: x\r\n" + headers.encode() + b"\r\n" + body


BAD_REQUESTS = {
    "declared too large": (predict_request(f"Content-Length: {10**9}\r\n"), {}, 413),
    "sent too large": (
        predict_request(f"Content-Length: {MAX_BODY_BYTES + 1}\r\n", b"[" * (MAX_BODY_BYTES + 1)),
        {},
        413,
    ),
    "body beyond its Content-Length": (
        predict_request("Content-Length: 10\r\n", b"{" * (MAX_BODY_BYTES * 2)),
        {},
        400,
    ),
    "no Content-Length": (predict_request(""), {"close_write": True}, 411),
    "chunked": (
        predict_request("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
        {},
        400,
    ),
    "Content-Length not a number": (predict_request("Content-Length: ten\r\n"), {}, 400),
    "negative Content-Length": (predict_request("Content-Length: -5\r\n"), {}, 400),
    "body shorter than declared": (
        predict_request("Content-Length: 100\r\n", b'{"pixels": ['),
        {"close_write": True},
        400,
    ),
    "GET on the API": (b"GET /api/predict HTTP/1.1\r\nHost: x\r\n\r\n", {}, 405),
    "PUT on the API": (
        b"PUT /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        {},
        405,
    ),
    "DELETE on the page": (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", {}, 405),
    "POST on the page": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", {}, 405),
    "an unknown method": (b"BREW /api/predict HTTP/1.1\r\nHost: x\r\n\r\n", {}, 405),
    "POST elsewhere": (
        b"POST /api/train HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        {},
        404,
    ),
    "no such page": (b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n", {}, 404),
    "path traversal": (b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {}, 404),
    "the package's files": (b"GET /server.py HTTP/1.1\r\nHost: x\r\n\r\n", {}, 404),
    "a malformed request line": (b"this is not http\r\n\r\n", {}, 400),
    "a bad HTTP version": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", {}, 505),
    "a request line too long": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", {}, 414),
    "too many headers": (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", {}, 431),
}


@pytest.mark.parametrize(
    ("request_bytes", "options", "expected"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_bad_requests_get_a_json_error(server, mnist_test, request_bytes, options, expected):
    status, headers, body = send_raw(server, request_bytes, **options)
    assert_json_error(status, headers, body, expected)
    if expected == 405:
        assert headers["Allow"]
    assert_still_answers(server, mnist_test)


def test_wrong_method_says_what_is_allowed(server):
    status, headers, _ = send_raw(server, b"GET /api/predict HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and headers["Allow"] == "POST"
    status, headers, _ = send_raw(server, b"PATCH / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_keep_alive_connection_serves_several_requests(server, mnist_test):
    x_test, y_test = mnist_test
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        for k in range(3):
            body = json.dumps({"pixels": x_test[k].tolist()})
            connection.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["label"] == y_test[k]
    finally:
        connection.close()


def test_concurrent_requests_all_get_their_own_answer(server, mnist_test):
    x_test, y_test = mnist_test

    def ask(k):
        return post_json(server, {"pixels": x_test[k].tolist()})[1]["label"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        labels = list(pool.map(ask, range(40)))
    expected = server.model.predict(
        np.stack([prepare_drawing(x) for x in x_test[:40]]).T.astype(float)
    )
    assert labels == expected.tolist()
    assert np.mean(np.array(labels) == y_test[:40]) >= 0.95


def test_binds_to_loopback_by_default():
    assert inspect.signature(make_server).parameters["host"].default == "127.0.0.1"
    demo = make_server(None, port=0)
    try:
        assert demo.server_address[0] == "127.0.0.1"
        assert demo.url.startswith("http://127.0.0.1:")
    finally:
        demo.server_close()


def test_other_models_and_model_files(tmp_path, mnist_test):
    x_test, _ = mnist_test
    model = build_mlp(784, [16], 10, rng=np.random.default_rng(0))
    path = tmp_path / "sequential.npz"
    model.save(path)
    for given in (model, path, str(path)):
        demo = make_server(given, port=0)
        try:
            probs = demo.predict(x_test[0].astype(float))["probabilities"]
            assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-5)
        finally:
            demo.server_close()


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("not a model", FileNotFoundError),
        (object(), TypeError),
        (build_mlp(10, [4], 10, rng=np.random.default_rng(0)), ValueError),
        (build_mlp(784, [4], 3, rng=np.random.default_rng(0)), ValueError),
    ],
)
def test_models_the_page_cannot_use_are_refused(model, error):
    with pytest.raises(error):
        make_server(model, port=0)


@pytest.mark.parametrize("port", [-1, 65536, 80.0, True, "8000"])
def test_bad_ports_are_refused(port):
    with pytest.raises(ValueError, match="port"):
        make_server(None, port=port)


def test_shipped_demo_model(mnist_test):
    x_test, y_test = mnist_test
    path = demo_model_path()
    assert os.path.getsize(path) < 1_000_000
    network = load_model(path)
    assert isinstance(network, NeuralNetwork)
    assert [layer.n_out for layer in network.model.layers if hasattr(layer, "n_out")] == [128, 10]
    accuracy = np.mean(network.predict(x_test[:2000].T) == y_test[:2000])
    assert accuracy > 0.95


def test_serve_command_runs_until_interrupted(tmp_path):
    """``neural-network serve --port 0`` prints its URL, answers, and ends on Ctrl+C."""
    # A child started from a background job inherits an ignored SIGINT: restore Python's
    # handler first, as an interactive shell would have it.
    command = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from neural_network.apps.cli import main; sys.exit(main(['serve', '--port', '0']))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + process.stderr.read()
        with urllib.request.urlopen(match.group(0), timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_serve_command_reports_a_bad_model_file(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    result = subprocess.run(
        [sys.executable, "-m", "neural_network", "serve", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("neural-network: error:")
    assert "Traceback" not in result.stderr


def test_drawings_need_no_scikit_image(mnist_test, monkeypatch):
    from neural_network.apps.server import prepare_drawing

    x_test, _ = mnist_test
    expected = prepare_drawing(x_test[0])
    for name in [m for m in sys.modules if m == "skimage" or m.startswith("skimage.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skimage", None)
    np.testing.assert_array_equal(prepare_drawing(x_test[0]), expected)


def test_serve_does_not_take_the_port_of_mkdocs_serve(capsys):
    """``mkdocs serve`` (the documentation) listens on 8000 unless mkdocs.yml says otherwise:
    the demo must not collide with it, and its help says which port it takes."""
    from pathlib import Path

    from neural_network.apps.cli import build_parser
    from neural_network.apps.server import DEFAULT_PORT

    config = Path(__file__).parents[2] / "mkdocs.yml"
    match = re.search(r"^dev_addr:.*:(\d+)", config.read_text(), re.MULTILINE)
    mkdocs_port = int(match.group(1)) if match else 8000
    assert mkdocs_port != DEFAULT_PORT
    assert inspect.signature(make_server).parameters["port"].default == DEFAULT_PORT
    assert build_parser().parse_args(["serve"]).port == DEFAULT_PORT
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    assert f"(default: {DEFAULT_PORT})" in " ".join(capsys.readouterr().out.split())
