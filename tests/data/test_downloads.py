"""Downloads, the cache and its checks, against a local HTTP server on 127.0.0.1.

Every test serves tiny generated IDX sets and pins their digests in place of the real
ones; none reaches beyond the loopback interface.
"""

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from neural_network.data import mnist, sources
from neural_network.data.idx import IDXFormatError
from neural_network.data.mnist import load_fashion_mnist, load_kmnist, load_mnist
from neural_network.data.sources import ChecksumError, DownloadError, get_cache_dir

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def make_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def make_dataset(seed: int = 0, n_samples: int = 5) -> dict[str, bytes]:
    """A tiny MNIST-shaped set: decompressed IDX bytes per file name."""
    rng = np.random.default_rng(seed)
    contents = {}
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, size=(n_samples, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_samples, dtype=np.uint8)
        contents[f"{prefix}-images-idx3-ubyte"] = make_idx(images)
        contents[f"{prefix}-labels-idx1-ubyte"] = make_idx(labels)
    return contents


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    content_length: int | None = None  # None: the body's length; -1: no header
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0  # send the body a byte at a time, this far apart


class Handler(http.server.BaseHTTPRequestHandler):
    server: "LocalServer"

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path, Route(b"not here", status=404))
        time.sleep(route.delay_s)
        self.send_response(route.status)
        length = len(route.body) if route.content_length is None else route.content_length
        if length >= 0:
            self.send_header("Content-Length", str(length))
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if not route.trickle_s:
                self.wfile.write(route.body)
            for index in range(len(route.body) if route.trickle_s else 0):
                self.wfile.write(route.body[index : index + 1])
                self.wfile.flush()
                time.sleep(route.trickle_s)

    def log_message(self, format: str, *args) -> None:
        """Keep the test output quiet."""


class LocalServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.hits: list[str] = []

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{folder}/"

    def serve(self, folder: str, contents: dict[str, bytes]) -> str:
        """Serve each file gzip-compressed under /folder/; return the mirror URL."""
        for name, data in contents.items():
            self.routes[f"/{folder}/{name}.gz"] = Route(gzip.compress(data, mtime=0))
        return self.url(folder)


@pytest.fixture
def server():
    local = LocalServer()
    thread = threading.Thread(target=local.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield local
    local.shutdown()
    local.server_close()
    thread.join(timeout=5)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache root of the test's own; no default mirrors, no Debian folder."""
    root = tmp_path / "cache"
    monkeypatch.setenv("NEURAL_NETWORK_DATA", str(root))
    for key in mnist.MIRRORS:
        monkeypatch.setitem(mnist.MIRRORS, key, ())
    return root


@pytest.fixture
def pinned(monkeypatch, cache):
    """Pin Fashion-MNIST (or another set) to a tiny generated set; return its contents."""

    def pin(key: str = "fashion_mnist", *, gz: bool = False, seed: int = 0) -> dict[str, bytes]:
        contents = make_dataset(seed)
        spec = mnist._DATASETS[key]
        files = []
        for pinned_file in spec.files:
            data = contents[pinned_file.name]
            if gz:
                compressed = gzip.compress(data, mtime=0)
                pinned_file = dataclasses.replace(
                    pinned_file,
                    sha256=None,
                    gz_size=len(compressed),
                    gz_sha256=sha256_hex(compressed),
                )
            else:
                pinned_file = dataclasses.replace(pinned_file, sha256=sha256_hex(data))
            files.append(dataclasses.replace(pinned_file, size=len(data)))
        monkeypatch.setitem(
            mnist._DATASETS, key, dataclasses.replace(spec, files=tuple(files), system_dirs=())
        )
        return contents

    return pin


def cache_listing(cache: Path, key: str = "fashion_mnist") -> list[str]:
    folder = cache / key
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def assert_matches(result, contents: dict[str, bytes]) -> None:
    (x_train, y_train), (x_test, y_test) = result
    arrays = {
        "train-images-idx3-ubyte": x_train.reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": y_train.astype(np.uint8),
        "t10k-images-idx3-ubyte": x_test.reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": y_test.astype(np.uint8),
    }
    for name, array in arrays.items():
        assert make_idx(np.ascontiguousarray(array)) == contents[name]
    assert (x_train.dtype, y_train.dtype, x_train.shape) == (np.uint8, np.int64, (5, 784))


def test_a_good_download_is_cached_and_then_read_from_the_cache(server, cache, pinned):
    contents = pinned()
    mirror = server.serve("fashion", contents)
    assert_matches(load_fashion_mnist(mirrors=[mirror]), contents)
    assert cache_listing(cache) == sorted(f"{name}.gz" for name in NAMES)
    assert len(server.hits) == 4
    assert_matches(load_fashion_mnist(download=False), contents)
    assert_matches(load_fashion_mnist(mirrors=[mirror]), contents)
    assert len(server.hits) == 4


def test_the_default_mirrors_are_used_and_tried_in_order(server, cache, pinned, monkeypatch):
    contents = pinned()
    monkeypatch.setitem(
        mnist.MIRRORS, "fashion_mnist", (server.url("missing"), server.serve("ok", contents))
    )
    assert_matches(load_fashion_mnist(), contents)
    assert server.hits[:2] == [
        "/missing/train-images-idx3-ubyte.gz",
        "/ok/train-images-idx3-ubyte.gz",
    ]


def test_a_404_from_the_first_mirror_falls_through_to_the_second(server, cache, pinned):
    contents = pinned()
    good = server.serve("good", contents)
    assert_matches(load_fashion_mnist(mirrors=[server.url("gone"), good]), contents)
    assert [hit for hit in server.hits if hit.startswith("/gone/")] == [
        f"/gone/{name}.gz" for name in NAMES
    ]
    assert cache_listing(cache) == sorted(f"{name}.gz" for name in NAMES)


def test_a_redirect_is_followed(server, cache, pinned):
    contents = pinned()
    good = server.serve("good", contents)
    for name in NAMES:
        server.routes[f"/moved/{name}.gz"] = Route(
            status=302, headers={"Location": f"{good}{name}.gz"}
        )
    assert_matches(load_fashion_mnist(mirrors=[server.url("moved")]), contents)


def assert_nothing_left(cache: Path, key: str = "fashion_mnist") -> None:
    leftovers = cache_listing(cache, key)
    assert not [name for name in leftovers if name.endswith(".part")], leftovers
    assert "train-images-idx3-ubyte.gz" not in leftovers
    assert "train-images-idx3-ubyte" not in leftovers


def test_a_file_with_the_wrong_digest_is_refused_and_not_kept(server, cache, pinned):
    contents = pinned()
    mirror = server.serve("bad", contents)
    tampered = bytearray(contents["train-images-idx3-ubyte"])
    tampered[100] ^= 0xFF
    server.routes["/bad/train-images-idx3-ubyte.gz"] = Route(gzip.compress(bytes(tampered)))
    with pytest.raises(DownloadError, match="SHA-256 mismatch") as info:
        load_fashion_mnist(mirrors=[mirror])
    url = f"{mirror}train-images-idx3-ubyte.gz"
    assert [attempt[0] for attempt in info.value.attempts] == [url]
    assert url in str(info.value)
    assert info.value.file_name == "train-images-idx3-ubyte.gz"
    assert info.value.dataset == "Fashion-MNIST"
    assert isinstance(info.value, OSError)
    assert_nothing_left(cache)


def test_a_body_shorter_than_its_content_length_is_refused_and_not_kept(server, cache, pinned):
    contents = pinned()
    mirror = server.serve("short", contents)
    route = server.routes["/short/train-images-idx3-ubyte.gz"]
    route.content_length = len(route.body)
    route.body = route.body[: len(route.body) // 2]
    with pytest.raises(DownloadError, match="truncated: received") as info:
        load_fashion_mnist(mirrors=[mirror])
    assert f"of {route.content_length} bytes" in info.value.attempts[0][1]
    assert_nothing_left(cache)


@pytest.mark.parametrize("keep", [0, 1, 10, 30, -9, -4, -1])
def test_a_cut_gzip_stream_is_refused_and_not_kept(server, cache, pinned, keep):
    contents = pinned()
    mirror = server.serve("cut", contents)
    route = server.routes["/cut/train-images-idx3-ubyte.gz"]
    route.body = route.body[:keep]
    with pytest.raises(DownloadError) as info:
        load_fashion_mnist(mirrors=[mirror])
    reason = info.value.attempts[0][1]
    assert any(word in reason for word in ("Corrupt gzip", "IDX", "bytes, expected")), reason
    assert_nothing_left(cache)


@pytest.mark.parametrize(
    ("content_length", "message"), [(None, "10000 bytes announced"), (-1, "longer than the")]
)
def test_a_response_longer_than_the_file_can_be_is_cut_off(
    server, cache, pinned, content_length, message
):
    contents = pinned()
    mirror = server.serve("long", contents)
    server.routes["/long/train-images-idx3-ubyte.gz"] = Route(bytes(10_000), 200, content_length)
    with pytest.raises(DownloadError, match=message):
        load_fashion_mnist(mirrors=[mirror])
    assert_nothing_left(cache)


def test_the_error_lists_every_url_with_its_reason_and_how_to_install_by_hand(
    server, cache, pinned
):
    pinned()
    server.routes["/busy/train-images-idx3-ubyte.gz"] = Route(b"busy", status=503)
    server.routes["/denied/train-images-idx3-ubyte.gz"] = Route(b"no", status=403)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/x/"
    mirrors = [server.url("denied"), server.url("busy"), server.url("gone"), refused]
    with pytest.raises(DownloadError) as info:
        load_fashion_mnist(mirrors=mirrors)
    error = info.value
    urls = [f"{mirror}train-images-idx3-ubyte.gz" for mirror in mirrors]
    assert [url for url, _ in error.attempts] == urls
    reasons = [reason for _, reason in error.attempts]
    assert reasons[:3] == [
        "HTTP 403 Forbidden",
        "HTTP 503 Service Unavailable",
        "HTTP 404 Not Found",
    ]
    assert "refused" in reasons[3].lower()
    message = str(error)
    for url, reason in error.attempts:
        assert f"{url}: {reason}" in message
    folder = cache / "fashion_mnist"
    assert error.cache_dir == folder
    assert f"put them in {folder}" in message
    assert "load_fashion_mnist(data_dir=...)" in message
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert cache_listing(cache) == []


def test_a_mirror_that_does_not_answer_in_time_is_skipped(server, cache, pinned, monkeypatch):
    contents = pinned()
    good = server.serve("good", contents)
    server.routes["/slow/train-images-idx3-ubyte.gz"] = Route(b"late", delay_s=1.0)
    monkeypatch.setattr(sources, "_DOWNLOAD_TIMEOUT_S", 0.2)
    with pytest.raises(DownloadError, match=r"timed out after 0\.2 s"):
        load_fashion_mnist(mirrors=[server.url("slow")])
    assert_matches(load_fashion_mnist(mirrors=[server.url("slow"), good]), contents)


def test_a_corrupted_cached_file_is_detected_and_downloaded_again(server, cache, pinned):
    contents = pinned()
    mirror = server.serve("fashion", contents)
    load_fashion_mnist(mirrors=[mirror])
    cached = cache / "fashion_mnist" / "t10k-images-idx3-ubyte.gz"
    data = bytearray(gzip.decompress(cached.read_bytes()))
    data[-1] ^= 1
    cached.write_bytes(gzip.compress(bytes(data)))
    hits = len(server.hits)
    with pytest.raises(ChecksumError, match=r"t10k-images-idx3-ubyte\.gz"):
        load_fashion_mnist(download=False)
    assert cached.is_file()
    with pytest.warns(RuntimeWarning, match="Deleting the cached .*failed verification"):
        assert_matches(load_fashion_mnist(mirrors=[mirror]), contents)
    assert server.hits[hits:] == ["/fashion/t10k-images-idx3-ubyte.gz"]
    assert gzip.decompress(cached.read_bytes()) == contents["t10k-images-idx3-ubyte"]


def test_a_truncated_cached_file_whose_download_then_fails_leaves_nothing(server, cache, pinned):
    contents = pinned()
    mirror = server.serve("fashion", contents)
    load_fashion_mnist(mirrors=[mirror])
    cached = cache / "fashion_mnist" / "train-images-idx3-ubyte.gz"
    cached.write_bytes(cached.read_bytes()[:50])
    with pytest.warns(RuntimeWarning), pytest.raises(DownloadError, match="HTTP 404"):
        load_fashion_mnist(mirrors=[server.url("gone")])
    assert_nothing_left(cache)


def test_a_decompressed_file_in_the_cache_is_used_and_checked(cache, pinned):
    contents = pinned()
    folder = cache / "fashion_mnist"
    folder.mkdir(parents=True)
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    assert_matches(load_fashion_mnist(download=False), contents)
    (folder / "train-labels-idx1-ubyte").write_bytes(contents["t10k-labels-idx1-ubyte"])
    with pytest.raises(ChecksumError):
        load_fashion_mnist(download=False)


def test_kmnist_downloads_are_checked_against_the_published_gz_digest(server, cache, pinned):
    contents = pinned("kmnist", gz=True)
    mirror = server.serve("kmnist", contents)
    assert_matches(load_kmnist(mirrors=[mirror]), contents)
    assert cache_listing(cache, "kmnist") == sorted(f"{name}.gz" for name in NAMES)
    recompressed = gzip.compress(contents["train-images-idx3-ubyte"], mtime=12345)
    server.routes["/other/train-images-idx3-ubyte.gz"] = Route(recompressed)
    (cache / "kmnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        load_kmnist(mirrors=[server.url("other")])
    assert_nothing_left(cache, "kmnist")


def test_mnist_downloads_when_the_bundled_copy_is_missing(server, cache, pinned, monkeypatch):
    contents = pinned("mnist")
    monkeypatch.setattr(mnist, "_load_bundled_mnist", lambda: None)
    assert_matches(load_mnist(mirrors=[server.serve("mnist", contents)]), contents)
    assert cache_listing(cache, "mnist") == sorted(f"{name}.gz" for name in NAMES)


def test_data_dir_is_the_only_source_when_given(server, cache, pinned, tmp_path):
    contents = pinned()
    mirror = server.serve("fashion", contents)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_fashion_mnist(data_dir=tmp_path / "empty", mirrors=[mirror])
    assert server.hits == []


@pytest.mark.parametrize(
    ("mirrors", "error", "message"),
    [
        ("http://example.invalid/", TypeError, "sequence of URLs"),
        (b"http://example.invalid/", TypeError, "sequence of URLs"),
        (42, TypeError, "sequence of URLs"),
        (["file:///etc/"], ValueError, "http:// or https://"),
        ([None], ValueError, "http:// or https://"),
    ],
)
def test_bad_mirrors_are_refused_before_anything_is_read(cache, mirrors, error, message):
    with pytest.raises(error, match=message):
        load_fashion_mnist(mirrors=mirrors)


def test_get_cache_dir_follows_the_environment_and_the_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("NEURAL_NETWORK_DATA", str(tmp_path / "data"))
    assert get_cache_dir() == tmp_path / "data"
    monkeypatch.setenv("NEURAL_NETWORK_DATA", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_cache_dir() == tmp_path / "xdg" / "neural_network"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert get_cache_dir() == tmp_path / "home" / ".cache" / "neural_network"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert get_cache_dir() == tmp_path / "home" / ".cache" / "neural_network"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert get_cache_dir() == tmp_path / "home" / "Library" / "Caches" / "neural_network"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert get_cache_dir() == tmp_path / "local" / "neural_network" / "Cache"


def test_download_error_is_an_os_error_and_idx_errors_are_value_errors():
    assert issubclass(DownloadError, OSError)
    assert issubclass(ChecksumError, IDXFormatError)
    assert issubclass(IDXFormatError, ValueError)


def test_a_mirror_that_trickles_is_given_up_at_the_deadline(server, cache, pinned, monkeypatch):
    contents = pinned()
    body = gzip.compress(contents["train-images-idx3-ubyte"], mtime=0)
    server.routes["/trickle/train-images-idx3-ubyte.gz"] = Route(body, trickle_s=0.02)
    monkeypatch.setattr(sources, "_DOWNLOAD_DEADLINE_S", 0.5)
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"took longer than 0\.5 s"):
        load_fashion_mnist(mirrors=[server.url("trickle")])
    assert time.monotonic() - started < 3
    assert cache_listing(cache) == []


def test_https_mirrors_come_first_and_http_ones_are_pinned():
    for key, mirrors in mnist.MIRRORS.items():
        schemes = [url.split(":", 1)[0] for url in mirrors]
        assert schemes == sorted(schemes, key=lambda scheme: scheme != "https"), key
        if "http" in schemes:  # safe only because every file's digest is pinned
            for pinned_file in mnist._DATASETS[key].files:
                assert pinned_file.sha256 or pinned_file.gz_sha256


def test_a_relative_cache_folder_is_refused_and_named(monkeypatch, tmp_path, pinned):
    pinned()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEURAL_NETWORK_DATA", "relative/data")
    with pytest.raises(ValueError, match="NEURAL_NETWORK_DATA"):
        load_fashion_mnist(mirrors=["http://127.0.0.1:9/"])
    assert list(tmp_path.iterdir()) == []


def test_a_cache_folder_that_cannot_be_made_is_named(monkeypatch, tmp_path, pinned):
    pinned()
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("NEURAL_NETWORK_DATA", str(tmp_path / "a-file"))
    with pytest.raises(OSError, match=r"NEURAL_NETWORK_DATA") as caught:
        load_fashion_mnist(mirrors=["http://127.0.0.1:9/"])
    assert str(tmp_path / "a-file") in str(caught.value)


def test_a_failed_download_leaves_no_empty_folders(server, cache, pinned):
    pinned()
    with pytest.raises(DownloadError):
        load_fashion_mnist(mirrors=[server.url("missing")])
    assert not cache.exists()


def test_a_data_folder_the_file_system_refuses_is_named_by_its_variable(
    monkeypatch, capsys, tmp_path
):
    """A 5,000-character $NEURAL_NETWORK_DATA gave a bare "File name too long" with the path
    in full, and nothing said where the path came from."""
    from neural_network.apps.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEURAL_NETWORK_DATA", "/tmp/" + "a" * 5000)
    with pytest.raises(ValueError, match=r"NEURAL_NETWORK_DATA is /tmp/a+\.\.\. \(5,005 char"):
        get_cache_dir()
    # KMNIST: no system package holds it (Debian's holds Fashion-MNIST), so the cache is needed.
    argv = ["train", "--dataset", "kmnist", "--epochs", "1", "--quiet", "--no-figures"]
    assert main([*argv, "--out", "unused"]) == 1
    err = capsys.readouterr().err
    assert "$NEURAL_NETWORK_DATA" in err and "File name too long" in err
    assert len(err) < 400
