"""The host step in parts of the flat vectors, one per thread: the same arithmetic as the
whole-vector step, the same bits run after run, and every part on a thread of its own."""

import itertools
import os
import threading

import numpy as np
import pytest

from neural_network import SGD, Adam, build_mlp
from neural_network.optim import vector_parts
from neural_network.optim.vector_parts import ALIGN, run_parts


@pytest.mark.parametrize(("n", "threads"), [(10, 4), (1000, 1), (1000, 3), (1001, 8), (64, 2)])
def test_parts_cover_the_vector_in_aligned_pieces(n, threads, monkeypatch):
    monkeypatch.setattr(vector_parts, "MIN_PART", 32)
    parts = vector_parts.vector_parts(n, threads)
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a < b for a, b in parts)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(parts))
    assert all(a % ALIGN == 0 for a, _ in parts)
    assert len(parts) == max(1, min(threads, n // 32))


def test_a_small_vector_or_one_thread_is_one_part():
    assert vector_parts.vector_parts(vector_parts.MIN_PART - 1, 8) == [(0, 65535)]
    assert vector_parts.vector_parts(10**6, 1) == [(0, 10**6)]
    assert vector_parts.vector_parts(10**6) == [(0, 10**6)]  # no thread chooser in use


def test_every_part_runs_on_a_thread_of_its_own_and_results_keep_part_order():
    parts = [(0, 16), (16, 32), (32, 48)]
    all_running = threading.Barrier(len(parts), timeout=20)  # broken unless all run at once
    seen = {}

    def work(start, stop):
        seen[start] = threading.get_ident()
        all_running.wait()
        return start, stop

    for _ in range(3):
        assert run_parts(work, parts) == parts
        assert seen[0] == threading.get_ident() and len(set(seen.values())) == 3


def test_an_error_in_a_part_reaches_the_caller():
    def work(start, stop):
        if start:
            raise FloatingPointError(f"part {start}")
        return start

    with pytest.raises(FloatingPointError, match="part 16"):
        run_parts(work, [(0, 16), (16, 32)])


def optimizers(kind: str, dtype):
    """Two optimisers over two copies of one model, gradients set alike."""
    made = []
    for _ in range(2):
        model = build_mlp(20, [40, 30], 5, rng=np.random.default_rng(0), dtype=dtype)
        if kind == "adam":
            made.append(Adam(model.flat, lr=0.01, l2=1e-2, clip_norm=0.5))
        else:
            made.append(SGD(model.flat, lr=0.05, momentum=0.9, nesterov=True, l2=1e-2,
                            clip_norm=0.5))  # fmt: skip
    return made


def set_grads(optimizer, rng, scale):
    optimizer.flat.grads[:] = rng.normal(size=len(optimizer.flat)) * scale


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_the_step_in_parts_makes_the_whole_vector_steps(kind, monkeypatch):
    monkeypatch.setattr(vector_parts, "MIN_PART", 64)
    monkeypatch.setattr(vector_parts, "active_threads", lambda: 3)
    in_parts, whole = optimizers(kind, np.float32)
    assert len(vector_parts.vector_parts(len(in_parts.flat))) == 3
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for step in range(40):  # the denormal flush comes every 16 steps
        # Unclipped for 20 steps, every element has had the same arithmetic: the same bits.
        # Then clipped: the norm, summed part by part, may differ in its last bits.
        scale = 0.005 if step < 20 else 1.0
        set_grads(in_parts, rng_a, scale)
        set_grads(whole, rng_b, scale)
        penalty, norm = in_parts.step()
        whole_penalty, whole_norm = whole._step_whole()
        assert penalty == pytest.approx(whole_penalty, rel=1e-6)
        assert norm == pytest.approx(whole_norm, rel=1e-6)
        assert (norm > 0.5) == (step >= 20)
        if step < 20:
            np.testing.assert_array_equal(in_parts.flat.values, whole.flat.values)
            np.testing.assert_array_equal(in_parts.flat.grads, whole.flat.grads)
        np.testing.assert_allclose(in_parts.flat.values, whole.flat.values, rtol=1e-4, atol=1e-6)
        for key, value in whole.state_dict().items():
            np.testing.assert_allclose(in_parts.state_dict()[key], value, rtol=1e-4, atol=1e-6)


def test_steps_in_parts_give_the_same_bits_every_run(monkeypatch):
    monkeypatch.setattr(vector_parts, "MIN_PART", 64)
    monkeypatch.setattr(vector_parts, "active_threads", lambda: 4)
    first, second = optimizers("adam", np.float32)
    for optimizer in (first, second):
        rng = np.random.default_rng(3)
        for _ in range(20):
            set_grads(optimizer, rng, 1.0)
            optimizer.step()
    np.testing.assert_array_equal(first.flat.values, second.flat.values)
    np.testing.assert_array_equal(first.v_sum, second.v_sum)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_threads_of_its_own():
    # A forked child inherits the pool but not its threads: work sent to it would never run.
    parts = [(0, 16), (16, 32)]
    assert run_parts(lambda a, b: a, parts) == [0, 16]  # the parent's pool now exists
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        timer = threading.Timer(20, os._exit, args=(3,))
        timer.start()
        ok = run_parts(lambda a, b: a, parts) == [0, 16]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
