"""One case made by two processes (spinelab.synth.parallel): the same arrays as one process's.

``generate_case(..., workers=2)`` forks a copy of the process for the slice loops of the
renderer (soft tissue, couch, fat septa) and the image's slabs; each copy writes its share of
the slices into shared memory. The outputs must be those of one process, byte for byte, and a
copy's failure must reach the caller as an error, not as a silently empty share.
"""

from __future__ import annotations

import mmap
import os
import sys
import threading

import numpy as np
import pytest

from spinelab.synth import organs, parallel
from spinelab.synth.generator import SynthConfig, generate_case

needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forked render workers are used on Linux only"
)


@pytest.fixture
def forks(monkeypatch):
    """The pids of the processes forked by :mod:`spinelab.synth.parallel` during the test."""
    pids: list[int] = []
    fork = os.fork

    def counted() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(parallel.os, "fork", counted)
    return pids


@needs_fork
def test_for_each_shares_the_indices_out_to_two_processes():
    out = parallel.shared_zeros((11, 3), np.int64)
    pids = parallel.shared_zeros((11,), np.int64)

    def work(i: int) -> None:
        out[i] = i * i
        pids[i] = os.getpid()

    assert parallel.for_each(11, work, workers=2, into=(out, pids)) == 2
    np.testing.assert_array_equal(out[:, 0], np.arange(11) ** 2)
    assert set(pids[0::2].tolist()) == {os.getpid()}
    assert len(set(pids[1::2].tolist())) == 1 and pids[1] != os.getpid()


def test_for_each_runs_here_when_the_output_is_not_shared_or_a_thread_runs():
    out = np.zeros(7, np.int64)  # private memory: a forked copy's writes would be lost

    def work(i: int) -> None:
        out[i] = i + 1

    assert parallel.for_each(7, work, workers=2, into=(out,)) == 1
    np.testing.assert_array_equal(out, np.arange(1, 8))
    shared = parallel.shared_zeros((7,), np.int64)
    release = threading.Event()
    t = threading.Thread(target=release.wait)
    t.start()
    try:  # another Python thread: no fork
        assert not parallel.can_fork()
        assert parallel.for_each(7, lambda i: shared.__setitem__(i, 1), 2, into=(shared,)) == 1
    finally:
        release.set()
        t.join()
    assert shared.sum() == 7
    with pytest.raises(ValueError, match="at least 1"):
        parallel.for_each(3, lambda i: None, workers=0)


@needs_fork
def test_a_failing_worker_is_reported_with_its_traceback():
    out = parallel.shared_zeros((6,), np.int64)

    def work(i: int) -> None:
        if i == 3:  # the forked copy's share (odd indices)
            raise ZeroDivisionError("slice 3 went wrong")
        out[i] = 1

    with pytest.raises(RuntimeError, match="slice 3 went wrong"):
        parallel.for_each(6, work, workers=2, into=(out,))
    # the parent's own failure: the copy is stopped and reaped, the error propagates
    with pytest.raises(KeyError):
        parallel.for_each(6, lambda i: {}[i] if i == 2 else None, workers=2, into=(out,))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind


def test_is_shared_follows_views():
    a = parallel.shared_zeros((4, 5, 6), np.uint8)
    assert parallel.is_shared(a) and parallel.is_shared(a[1:].transpose(2, 1, 0)[::-1])
    assert not parallel.is_shared(np.zeros((4, 5)))
    private = mmap.mmap(-1, 64, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    assert not parallel.is_shared(np.frombuffer(private, np.uint8))  # a copy's writes stay there


@needs_fork
@pytest.mark.parametrize(
    ("seed", "cfg"),
    [
        # the trunk from T9 to S1: stomach with gas, bowel, couch, fat septa, 4 slabs
        (5, SynthConfig(fov="thoracolumbar", spacing_mm=(2.5, 2.5, 2.5))),
        (1, SynthConfig(fov="whole", spacing_mm=(2.5, 2.5, 2.5), style="randomized")),
    ],
)
def test_a_case_made_by_two_processes_is_byte_for_byte_the_same(seed, cfg, forks):
    one = generate_case(seed, cfg)
    assert not forks
    two = generate_case(seed, cfg, workers=2)
    # the soft tissue, the couch, the septa (when the case has fatty muscle), the image's slabs
    assert len(forks) >= (3 if cfg.style == "ct" else 2)
    np.testing.assert_array_equal(one.ct.array, two.ct.array)
    np.testing.assert_array_equal(one.labels.array, two.labels.array)
    np.testing.assert_array_equal(one.ct.affine_lps, two.ct.affine_lps)
    assert one.centroids.labels == two.centroids.labels
    assert one.meta == two.meta


def test_the_stomachs_levels_do_not_depend_on_the_order_of_the_slices():
    rng = np.random.default_rng(4)
    z_of = {"T10": 40.0, "T11": 15.0, "T12": -10.0, "L1": -40.0, "L2": -70.0}
    plan = organs.OrganPlan(z_of, 60.0, 45.0, -20.0, -45.0, rng, 15.0)
    if plan.gas_depth <= 0.0 and plan.food_depth <= 0.0:
        pytest.skip("this draw has neither gas nor food in the stomach")
    zs = np.arange(-80.0, 80.0, 2.0)
    z_gas = plan.stomach_level_z(zs)
    assert z_gas is not None
    # the lowest height with a lumen: below it the stomach is closed or absent
    assert plan.stomach_level_z(zs[zs < z_gas]) is None
    assert plan.stomach_level_z(zs[::-1]) == z_gas  # whatever order the heights come in


@needs_fork
def test_a_batch_of_one_case_uses_the_workers_for_that_case(tmp_path, forks):
    from spinelab.synth.batch import case_paths, make_cases

    cfg = SynthConfig(fov="lumbar", spacing_mm=(3.0, 3.0, 3.0))
    files = []
    for workers, sub in ((1, "one"), (2, "two")):
        (tmp_path / sub).mkdir()
        (res,) = make_cases(tmp_path / sub, [(0, 9)], cfg, workers=workers)
        assert res.error is None, res.error
        assert bool(forks) == (workers == 2)
        files.append([p.read_bytes() for p in case_paths(tmp_path / sub, 0)[:2]])
    assert files[0] == files[1]  # the same compressed image and label map


@needs_fork
def test_start_runs_a_task_in_the_background_until_joined():
    out = parallel.shared_zeros((4,), np.int64)

    def task() -> None:
        out[:2] = os.getpid()

    forked = parallel.start(task, into=(out,))
    out[2:] = os.getpid()  # this process goes on meanwhile
    forked.join()
    assert out[2] == os.getpid() and out[0] == out[1] != os.getpid()

    def boom() -> None:
        raise OSError("no room on the couch")

    failed = parallel.start(boom, into=(out,))
    with pytest.raises(RuntimeError, match="no room on the couch"):
        failed.join()
    # not shared: the task runs here before start returns, join has nothing to wait for
    private = np.zeros(2, np.int64)
    done = parallel.start(lambda: private.fill(7), into=(private,))
    assert private.tolist() == [7, 7]
    done.join()
