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
