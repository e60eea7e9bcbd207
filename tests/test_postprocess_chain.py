"""Tests of the chain energy and Algorithm 1 (spinelab.postprocess.chain)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.anatomy import STANDARD_LABELS
from spinelab.postprocess.chain import (
    ChainConfig,
    chain_energy,
    optimize_chain,
    paper_regularizer,
)
from spinelab.postprocess.peaks import local_maxima_1d

LABELS = list(STANDARD_LABELS)


SCALE = 10.0  # peak of a true response, the scale wang.py normalizes Q to


def _signals(
    names: list[str], pos_mm: list[float], z: np.ndarray, sigma_mm: float = 4.0
) -> np.ndarray:
    """(26, K) Gaussian 1-D signals with peak SCALE at each named label's position."""
    q = np.zeros((len(LABELS), z.shape[0]))
    for name, p in zip(names, pos_mm):
        q[LABELS.index(name)] += SCALE * np.exp(-0.5 * ((z - p) / sigma_mm) ** 2)
    return q


def _is_consecutive(labels: list[str], allow_transitional: bool = True) -> bool:
    idx = [anatomy.chain_index(x) for x in labels]
    for a, b in itertools.pairwise(idx):
        skipped = [v for v in anatomy.CHAIN[a + 1 : b]]
        if b <= a or any(not v.transitional for v in skipped):
            return False
        if not allow_transitional and anatomy.CHAIN[b].transitional:
            return False
    return True


def test_local_maxima_plateau_edges_and_distance() -> None:
    s = np.array([3.0, 1.0, 2.0, 2.0, 2.0, 0.0, 0.5, 0.0, 1.0])
    assert local_maxima_1d(s, min_height_rel=0.0).tolist() == [0, 3, 6, 8]
    assert local_maxima_1d(s, min_height_rel=0.3).tolist() == [0, 3, 8]
    z = np.array([0.0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert local_maxima_1d(s, z, min_height_rel=0.0, min_distance_mm=4.0).tolist() == [0, 8]
    assert local_maxima_1d(np.zeros(5)).size == 0


def test_paper_regularizer_values() -> None:
    assert paper_regularizer(np.array([0.0, 10.0])) == 0.0
    assert paper_regularizer(np.array([0.0, 10.0, 20.0])) == pytest.approx(np.e)
    assert paper_regularizer(np.array([0.0, 10.0, 30.0])) == pytest.approx(np.exp(2.0))
    assert paper_regularizer(np.array([0.0, 20.0, 30.0])) == pytest.approx(np.exp(2.0))


def test_energy_matches_formula() -> None:
    z = np.arange(100) * 1.5
    names = ["T11", "T12", "L1", "L2"]
    pos = [20.0, 45.0, 72.0, 100.0]
    q = _signals(names, pos, z)
    k = np.array([int(np.argmin(abs(z - p))) for p in pos])
    e = chain_energy(q, q.sum(0), z, k, names)
    data = sum(q[LABELS.index(n), kk] for n, kk in zip(names, k))
    d = np.diff(z[k])
    reg = sum(np.exp(max(a / b, b / a)) for a, b in itertools.pairwise(d))
    assert e == pytest.approx(-data + reg)
    # lambda doubles the anchors' data terms
    names2 = ["C1", "C2", "C3"]
    q2 = _signals(names2, [10.0, 30.0, 50.0], z)
    k2 = np.array([int(np.argmin(abs(z - p))) for p in [10.0, 30.0, 50.0]])
    e_l = chain_energy(q2, q2.sum(0), z, k2, names2)
    e_nl = chain_energy(q2, q2.sum(0), z, k2, names2, config=ChainConfig(use_lambda=False))
    data2 = [q2[LABELS.index(n), kk] for n, kk in zip(names2, k2)]
    assert e_nl - e_l == pytest.approx(data2[0] + data2[1])


def test_recovers_clean_chain_on_nonuniform_grid() -> None:
    rng = np.random.default_rng(0)
    z = np.sort(rng.uniform(0, 400, 300))
    names = LABELS[10:22]  # T4..L3
    pos = list(30.0 + 24.0 * np.arange(len(names)))
    q = _signals(names, pos, z)
    sol = optimize_chain(q, q.sum(0), z)
    assert sol.labels == names
    assert np.all(np.abs(z[sol.k] - np.array(pos)) < 3.0)
    assert np.all(np.diff(sol.k) > 0)


def test_fixes_shifted_and_mislabelled_init() -> None:
    z = np.arange(0, 300, 2.0)
    names = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    pos = list(20.0 + 30.0 * np.arange(len(names)))
    q = _signals(names, pos, z)
    true_k = np.array([int(np.argmin(abs(z - p))) for p in pos])
    init = true_k + 3  # every vertebra shifted by 6 mm, labels start from C1
    sol = optimize_chain(q, q.sum(0), z, init_k=init)
    assert sol.labels == names
    assert np.all(np.abs(sol.k - true_k) <= 1)


def test_expansion_fills_a_missing_response() -> None:
    z = np.arange(0, 300, 2.0)
    names = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    pos = list(20.0 + 30.0 * np.arange(len(names)))
    shown = [i for i in range(len(names)) if names[i] != "L2"]
    q = _signals([names[i] for i in shown], [pos[i] for i in shown], z)
    sol = optimize_chain(q, q.sum(0), z)
    assert sol.labels == names
    assert abs(z[sol.k[names.index("L2")]] - pos[names.index("L2")]) <= 4.0
    no_exp = optimize_chain(q, q.sum(0), z, config=ChainConfig(expansion=False))
    assert len(no_exp.labels) == len(names) - 1
    assert sol.energy < no_exp.energy


def test_transitional_l6_inserted_only_when_supported() -> None:
    z = np.arange(0, 300, 2.0)
    names = ["T12", "L1", "L2", "L3", "L4", "L5", "L6", "S1"]
    pos = list(20.0 + 30.0 * np.arange(len(names)))
    q = np.zeros((26, z.shape[0]))
    for n, p in zip(names, pos):
        g = SCALE * np.exp(-0.5 * ((z - p) / 4.0) ** 2)
        if n == "L6":  # an extra vertebra answers with both neighbours' channels
            q[LABELS.index("L5")] += 0.5 * g
            q[LABELS.index("S1")] += 0.5 * g
        else:
            q[LABELS.index(n)] += g
    sol = optimize_chain(q, q.sum(0), z)
    assert sol.labels == names
    off = optimize_chain(q, q.sum(0), z, config=ChainConfig(allow_transitional=False))
    assert "L6" not in off.labels and _is_consecutive(off.labels, allow_transitional=False)
    # a normal spine never gets a transitional vertebra
    normal = [x for x in names if x != "L6"]
    q2 = _signals(normal, pos[: len(normal)], z)
    assert optimize_chain(q2, q2.sum(0), z).labels == normal


def test_explicit_transitional_rows_and_sparse_candidates_are_fast() -> None:
    rng = np.random.default_rng(3)
    labels = list(anatomy.ALL_LABELS)
    n_ok = 0
    t0 = time.perf_counter()
    for _ in range(20):
        names = ["T9", "T10", "T11", "T12", "T13", "L1", "L2", "L3", "L4", "L5", "S1"]
        z = np.sort(100.0 + 28.0 * np.arange(len(names)) + rng.normal(0, 2, len(names)))
        # 3 false candidates in the gaps: extra columns with weak, flat scores
        fp = np.sort(rng.uniform(z[0], z[-1], 3))
        zz = np.concatenate([z, fp])
        order = np.argsort(zz)
        zz = zz[order]
        q = np.full((len(labels), zz.shape[0]), 0.2)
        for j, n in enumerate(names):
            q[labels.index(n), int(np.flatnonzero(order == j)[0])] = SCALE
        true_cols = np.array([int(np.flatnonzero(order == j)[0]) for j in range(len(names))])
        sol = optimize_chain(
            q, q.sum(0), zz, labels=labels, init_k=true_cols, config=ChainConfig(expansion=False)
        )
        n_ok += sol.labels == names and np.array_equal(sol.k, true_cols)
    per_scan = (time.perf_counter() - t0) / 20
    assert n_ok == 20
    assert per_scan < 0.05


@pytest.mark.parametrize("seed", range(8))
def test_labels_always_consecutive_on_random_signals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.uniform(0.5, 3.0, 150))
    q = rng.random((26, 150)) ** 4
    for allow in (True, False):
        sol = optimize_chain(q, q.sum(0), z, config=ChainConfig(allow_transitional=allow))
        assert len(sol.labels) >= 1
        assert _is_consecutive(sol.labels, allow)
        assert np.all(np.diff(sol.k) > 0)
        assert sol.energy == pytest.approx(
            chain_energy(
                q, q.sum(0), z, sol.k, sol.labels, config=ChainConfig(allow_transitional=allow)
            )
        )


def test_custom_regularizer_is_used() -> None:
    z = np.arange(0, 200, 2.0)
    names = ["L1", "L2", "L3", "L4"]
    pos = [20.0, 60.0, 100.0, 140.0]
    q = _signals(names, pos, z)
    calls: list[int] = []

    def reg(p: np.ndarray, labels: list[str]) -> float:
        calls.append(len(labels))
        return float(np.sum((np.diff(p) - 40.0) ** 2) / 100.0)

    sol = optimize_chain(q, q.sum(0), z, regularizer=reg)
    assert calls and sol.labels == names
    k = sol.k
    assert sol.energy == pytest.approx(chain_energy(q, q.sum(0), z, k, names, regularizer=reg))


def test_bad_inputs() -> None:
    z = np.arange(10.0)
    with pytest.raises(ValueError, match="strictly ascending"):
        optimize_chain(np.zeros((26, 10)), np.zeros(10), z[::-1])
    with pytest.raises(ValueError, match="chain order"):
        optimize_chain(np.zeros((2, 10)), np.zeros(10), z, labels=["L2", "L1"])
    with pytest.raises(ValueError, match="V, K"):
        optimize_chain(np.zeros((3, 10)), np.zeros(10), z)
    empty = optimize_chain(np.zeros((26, 10)), np.zeros(10), z)
    assert empty.labels == [] and empty.k.size == 0


def test_contraction_removes_a_spurious_maximum() -> None:
    z = np.arange(0, 320, 2.0)
    names = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    pos = list(20.0 + 32.0 * np.arange(len(names)))
    q = _signals(names, pos, z)
    # a weak spurious bump between L1 and L2, in the L2 channel
    q[LABELS.index("L2")] += 0.3 * SCALE * np.exp(-0.5 * ((z - (pos[3] + 16.0)) / 4.0) ** 2)
    init = np.array(sorted([int(np.argmin(abs(z - p))) for p in [*pos, pos[3] + 16.0]]))
    paper = optimize_chain(q, q.sum(0), z, init_k=init, config=ChainConfig.paper())
    assert len(paper.labels) == len(names) + 1  # the paper's algorithm never drops one
    sol = optimize_chain(q, q.sum(0), z, init_k=init)
    assert sol.labels == names
    assert sol.energy < paper.energy


def test_batch_regularizer_matches_scalar_one() -> None:
    z = np.arange(0, 200, 2.0)
    names = ["L1", "L2", "L3", "L4"]
    q = _signals(names, [20.0, 60.0, 100.0, 140.0], z)

    def scalar(p: np.ndarray, labels: list[str]) -> float:
        return float(np.sum((np.diff(p) - 40.0) ** 2) / 100.0) + 0.1 * len(labels)

    class Batched:
        calls = 0

        def __call__(self, p: np.ndarray, labels: list[str]) -> float:
            return scalar(p, labels)

        def batch(self, p: np.ndarray, rows: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
            Batched.calls += 1
            return np.sum((np.diff(p, axis=1) - 40.0) ** 2, axis=1) / 100.0 + 0.1 * rows.shape[1]

    a = optimize_chain(q, q.sum(0), z, regularizer=scalar)
    b = optimize_chain(q, q.sum(0), z, regularizer=Batched())
    assert Batched.calls > 0
    assert a.labels == b.labels and np.array_equal(a.k, b.k)
    assert a.energy == pytest.approx(b.energy)
