"""Shared pytest fixtures."""

import threading

import numpy as np
import pytest

from neural_network.apps.server import make_server


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed, fresh for every test."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def server():
    """The demo server with the shipped model, on a free loopback port, in a thread."""
    demo = make_server(None, port=0)
    thread = threading.Thread(target=demo.serve_forever, daemon=True)
    thread.start()
    yield demo
    demo.shutdown()
    demo.server_close()
    thread.join(timeout=5)


@pytest.fixture
def standin_cuda(monkeypatch):
    """``device="cuda"`` backed by the NumPy stand-in of ``device_standin`` (no GPU needed);
    yields that "xp" module. Its read counter starts at zero."""
    from device_standin import READS, standin_module

    from neural_network.core import devices

    xp = standin_module()
    monkeypatch.setitem(devices._MODULE_LOADERS, "cuda", lambda: xp)
    monkeypatch.setattr(devices, "_loaded", {})
    READS.clear()
    return xp
