"""Anatomically constrained chain optimization (Wang et al., CVPR 2021, Sec. 3.3 and Algorithm 1).

Given per-label 1-D signals ``Q_v(k)`` on a grid of positions ``z_mm[k]`` along the spine
(the cells of a rectified volume, or a sparse list of candidate detections), find a run of
consecutive labels ``v_l, v_l+1, ..., v_l+n-1`` and strictly ascending positions
``k_0 < k_1 < ... < k_{n-1}`` minimizing

    L(v_l, k) = - sum_i lambda_{v_l+i} Q_{v_l+i}(k_i) + sum_{i=1}^{n-2} R(d_i, d_{i+1}),
    d_i = z_mm[k_i] - z_mm[k_{i-1}],   R(a, b) = exp(max(a/b, b/a)),

with ``lambda = anchor_weight`` (2) for the anchors C1, C2, S1, S2 and 1 otherwise. R only
involves interior vertebrae (an end vertebra has one neighbour); the ratio in R is capped at
:data:`RATIO_CAP` so that wildly irregular configurations stay finite.

Algorithm 1, as implemented (choices where the paper is terse are marked *):

1. Initialization: ``k`` = local maxima of ``Q̂`` (ascending; relative height >=
   ``ChainConfig.init_min_height``, at least ``init_min_distance_mm`` apart*), ``v_l`` = first label.
   If there are more maxima than labels, the strongest are kept*.
2. Loop, at most ``max_iterations`` times:
   a. offset: ``v_l`` <- the exhaustive argmin over all label runs of length n;
   b. fine-tune: steepest-descent hill climbing on ``k``: a move shifts one ``k_i``, or all
      ``k_0..k_i``, or all ``k_i..k_{n-1}``, by one grid cell* (keeping the order strict),
      until no move lowers the energy;
   c. if the energy did not decrease below the best seen: stop and return the best state;
   d. expansion: insert one vertebra between some neighbours ``(u, u+1)`` (or, with
      ``expand_ends``*, before the first / after the last) at the grid cell and with the label
      run that minimize the energy (over all gaps, cells and runs), n <- n+1. The insertion is
      tentative*: the next pass decides whether the expanded chain is better.
3. Contraction* (spinelab's addition, ``contraction``): after convergence, if removing one
   vertebra (with the best label run for the rest) lowers the energy, remove it and run step
   2 again from there; repeat while the energy decreases.

Transitional vertebrae (T13 between T12 and L1, L6 between L5 and S1) *: when
``allow_transitional`` is set, a run of labels may include or skip them; all other labels of
``labels`` must be consecutive. A transitional label whose row is in ``q`` uses that row with
lambda 1. When ``q`` has no row for it (the 26 heatmap channels), but has both its neighbours,
its signal is derived: ``Q_T13(k) = transitional_weight * max(Q_T12(k), Q_L1(k))`` (likewise L6
from L5 and S1), because a network trained on 26 labels answers an extra vertebra with its
neighbours' channels. With ``transitional_weight < 1`` a normal spine is never improved by
inserting one (the labels below it would shift off their peaks), while a spine with an extra
vertebra whose response is split between the neighbouring channels is. Transitional labels do
not change R.

A custom ``regularizer`` is called as ``regularizer(positions_mm (n,), labels)`` once per
configuration; for speed it may also offer ``regularizer.batch(positions_mm (M, n),
label_rows (M, n) int, names tuple[str, ...]) -> (M,)`` (``names[label_rows[m, i]]`` is the
label of vertebra i of configuration m), which is then used instead for whole batches.

Nothing here assumes a uniform grid; all energies of a step are evaluated in one vectorized
numpy expression (unless a custom ``regularizer`` is given, which is called per configuration).

Example:
    >>> import numpy as np
    >>> z = np.arange(60, dtype=float) * 2.0
    >>> q = np.zeros((26, 60)); labels = list(STANDARD_LABELS)
    >>> for i, v in enumerate(["L1", "L2", "L3"]):
    ...     q[labels.index(v), 10 + 15 * i] = 30.0  # a true response, at wang.py's scale
    >>> sol = optimize_chain(q, q.sum(0), z)
    >>> sol.labels, sol.k.tolist()
    (['L1', 'L2', 'L3'], [10, 25, 40])
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.anatomy import STANDARD_LABELS
from spinelab.postprocess.peaks import local_maxima_1d

log = logging.getLogger(__name__)

#: Cap on the gap ratio inside R (exp(50) ~ 5e21): keeps energies finite and comparable.
RATIO_CAP = 50.0

Regularizer = Callable[[NDArray[np.float64], Sequence[str]], float]

_TRANSITIONAL_NEIGHBOURS = {"T13": ("T12", "L1"), "L6": ("L5", "S1")}


@dataclass(frozen=True)
class ChainConfig:
    """Settings of the chain optimization; the defaults are the paper's.

    Attributes:
        use_lambda: Weight the anchors' data terms by ``anchor_weight`` (paper: yes).
        anchor_weight: lambda of the anchors (paper: 2).
        anchors: Labels weighted by ``anchor_weight`` (paper: C1, C2, S1, S2).
        max_iterations: Maximum passes of offset / fine-tune / expansion.
        expansion: Run the expansion step.
        fine_tune: Run the hill-climbing fine-tuning of ``k``.
        allow_transitional: Let runs of labels include T13 / L6 (see module docstring).
        transitional_weight: Factor of a derived transitional signal (see module docstring).
        expand_ends: Let the expansion also add a vertebra cranial of the first or caudal of
            the last one (spinelab's addition; the paper inserts between neighbours only).
            Without it, a chain whose fine-tuning closed a gap by sliding one end inwards can
            never get the dropped end vertebra back.
        contraction: After convergence, remove single vertebrae while that lowers the energy
            (spinelab's addition; the paper never removes one, so a spurious local maximum of
            Q̂ in the initialization stays in the chain and shifts the labels on one side).
        init_min_height: Local maxima of Q̂ below this fraction of max(Q̂) are not used to
            initialize (spinelab's choice; the paper does not say).
        init_min_distance_mm: Local maxima of Q̂ closer than this are merged at initialization.
        max_fine_tune_steps: Safety bound on hill-climbing moves per pass.
    """

    use_lambda: bool = True
    anchor_weight: float = 2.0
    anchors: tuple[str, ...] = ("C1", "C2", "S1", "S2")
    max_iterations: int = 100
    expansion: bool = True
    fine_tune: bool = True
    allow_transitional: bool = True
    transitional_weight: float = 0.5
    expand_ends: bool = True
    contraction: bool = True
    init_min_height: float = 0.1
    init_min_distance_mm: float = 8.0
    max_fine_tune_steps: int = 10_000

    @classmethod
    def paper(cls) -> ChainConfig:
        """Algorithm 1 as published: no end expansion, no contraction."""
        return cls(expand_ends=False, contraction=False)


@dataclass
class ChainSolution:
    """Result of :func:`optimize_chain`.

    Attributes:
        labels: Labels of the chain, consecutive in chain order (transitional allowed).
        k: ``(n,)`` int64 indices into the 1-D grid / candidate list, strictly ascending.
        energy: Energy L of the configuration.
        iterations: Passes of Algorithm 1 that were run.
        history: Energy after each pass (offset + fine-tune), for diagnostics.
    """

    labels: list[str]
    k: NDArray[np.int64]
    energy: float
    iterations: int = 0
    history: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Problem:
    """The extended label table: rows of q (derived transitional rows appended) and weights."""

    names: tuple[str, ...]  # extended labels, chain order
    q: NDArray[np.float64]  # (E, K)
    weight: NDArray[np.float64]  # (E,) lambda
    runs: tuple[NDArray[np.int64], ...]  # label sequences: one array of rows per variant
    z: NDArray[np.float64]  # (K,)
    _runs_cache: dict[int, NDArray[np.int64]] = field(default_factory=dict, compare=False)

    def candidate_runs(self, n: int) -> NDArray[np.int64]:
        """All label runs of length n: ``(M, n)`` rows of the extended table (deduplicated)."""
        cached = self._runs_cache.get(n)
        if cached is None:
            cached = self._candidate_runs(n)
            self._runs_cache[n] = cached
        return cached

    def _candidate_runs(self, n: int) -> NDArray[np.int64]:
        out = []
        for seq in self.runs:
            if seq.shape[0] >= n and n > 0:
                out.append(np.lib.stride_tricks.sliding_window_view(seq, n))
        if not out:
            return np.zeros((0, n), dtype=np.int64)
        rows = sorted(set(map(tuple, np.concatenate(out, axis=0).tolist())))  # as np.unique
        return np.array(rows, dtype=np.int64).reshape(-1, n)

    @property
    def max_length(self) -> int:
        return max((int(s.shape[0]) for s in self.runs), default=0)


def _build_problem(
    q: NDArray[np.float64],
    z_mm: NDArray[np.float64],
    labels: Sequence[str],
    config: ChainConfig,
) -> _Problem:
    q = np.asarray(q, dtype=np.float64)
    z = np.asarray(z_mm, dtype=np.float64).reshape(-1)
    names = [anatomy.normalize_name(x) for x in labels]
    if q.ndim != 2 or q.shape[0] != len(names):
        raise ValueError(f"q must be (V, K) with V = len(labels) = {len(names)}, got {q.shape}")
    if q.shape[1] != z.shape[0]:
        raise ValueError(f"q has {q.shape[1]} columns but z_mm has {z.shape[0]} entries")
    if z.shape[0] > 1 and not np.all(np.diff(z) > 0):
        raise ValueError("z_mm must be strictly ascending")
    if len(set(names)) != len(names):
        raise ValueError("labels must be unique")
    idx = [anatomy.chain_index(x) for x in names]
    if idx != sorted(idx):
        raise ValueError("labels must be in chain order (cranial to caudal)")
    q = np.where(np.isfinite(q), q, 0.0)

    rows = {name: q[i] for i, name in enumerate(names)}
    if config.allow_transitional:
        for t, (a, b) in _TRANSITIONAL_NEIGHBOURS.items():
            if t not in rows and a in rows and b in rows:
                rows[t] = config.transitional_weight * np.maximum(rows[a], rows[b])
    else:
        rows = {k: v for k, v in rows.items() if not anatomy.by_name(k).transitional}
    ext = anatomy.sort_labels(list(rows))
    qe = np.stack([rows[x] for x in ext]) if ext else np.zeros((0, z.shape[0]))
    anchors = {anatomy.normalize_name(a) for a in config.anchors}
    weight = np.array(
        [config.anchor_weight if (config.use_lambda and x in anchors) else 1.0 for x in ext],
        dtype=np.float64,
    )
    trans = [i for i, x in enumerate(ext) if anatomy.by_name(x).transitional]
    runs = []
    for r in range(len(trans) + 1):
        for keep in itertools.combinations(trans, r):
            seq = [i for i in range(len(ext)) if i not in trans or i in keep]
            runs.append(np.asarray(seq, dtype=np.int64))
    return _Problem(tuple(ext), qe, weight, tuple(runs), z)


def _energies(
    prob: _Problem,
    k: NDArray[np.int64],
    runs: NDArray[np.int64],
    regularizer: Regularizer | None,
) -> NDArray[np.float64]:
    """Energies of M configurations.

    Args:
        prob: The problem.
        k: ``(M, n)`` or ``(n,)`` grid indices (broadcast against ``runs``).
        runs: ``(M, n)`` or ``(n,)`` rows of the extended label table.
        regularizer: Custom total regularization, or None for the paper's R.

    Returns:
        ``(M,)`` energies.
    """
    k2 = np.atleast_2d(k)
    r2 = np.atleast_2d(runs)
    k2, r2 = np.broadcast_arrays(k2, r2)
    data = -(prob.weight[r2] * prob.q[r2, k2]).sum(axis=1)
    pos = prob.z[k2]
    if regularizer is None:
        reg = _paper_regularizer(pos)
    elif hasattr(regularizer, "batch"):
        reg = np.asarray(regularizer.batch(pos, r2, prob.names), dtype=np.float64).reshape(-1)
    else:
        reg = np.array(
            [
                float(regularizer(pos[m], [prob.names[j] for j in r2[m]]))
                for m in range(pos.shape[0])
            ]
        )
    return np.asarray(data + reg, dtype=np.float64)


def _paper_regularizer(pos: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum of R over interior vertebrae for ``(M, n)`` positions (mm); ``(M,)``."""
    if pos.shape[1] < 3:
        return np.zeros(pos.shape[0])
    d = np.diff(pos, axis=1)
    a, b = d[:, :-1], d[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(a / b, b / a)
    ratio = np.where(np.isfinite(ratio), ratio, RATIO_CAP)
    return np.asarray(np.exp(np.minimum(ratio, RATIO_CAP)).sum(axis=1), dtype=np.float64)


def paper_regularizer(positions_mm: NDArray[np.float64], labels: Sequence[str] = ()) -> float:
    """The paper's total regularization, sum of R(d_i, d_{i+1}) over interior vertebrae.

    Args:
        positions_mm: ``(n,)`` ascending positions along the centerline, mm.
        labels: Ignored (the paper's R does not depend on labels); kept for the
            ``regularizer`` signature.

    Returns:
        The total regularization (0 for fewer than 3 vertebrae).
    """
    pos = np.asarray(positions_mm, dtype=np.float64).reshape(1, -1)
    return float(_paper_regularizer(pos)[0])


def _best_offset(
    prob: _Problem, k: NDArray[np.int64], regularizer: Regularizer | None
) -> tuple[NDArray[np.int64], float]:
    runs = prob.candidate_runs(k.shape[0])
    if runs.shape[0] == 0:
        raise ValueError("no label run of this length")
    if regularizer is None:
        # R does not depend on labels: compare data terms only, add R once.
        data = -(prob.weight[runs] * prob.q[runs, k[None, :]]).sum(axis=1)
        m = int(np.argmin(data))
        return runs[m], float(data[m] + _paper_regularizer(prob.z[k][None, :])[0])
    e = _energies(prob, k[None, :], runs, regularizer)
    m = int(np.argmin(e))
    return runs[m], float(e[m])


@functools.lru_cache(maxsize=64)
def _moves(n: int) -> NDArray[np.int64]:
    """Hill-climbing moves for n vertebrae: ``(M, n)`` shifts of -1/0/+1 (see _fine_tune)."""
    eye = np.eye(n, dtype=np.int64)
    tri = np.tril(np.ones((n, n), dtype=np.int64))  # row i: shift vertebrae 0..i
    blocks = np.concatenate([eye, tri, tri[::-1, ::-1]])  # single, prefix, suffix
    moves = np.unique(np.concatenate([blocks, -blocks]), axis=0)
    moves.setflags(write=False)
    return moves


def _fine_tune(
    prob: _Problem,
    k: NDArray[np.int64],
    run: NDArray[np.int64],
    energy: float,
    regularizer: Regularizer | None,
    max_steps: int,
) -> tuple[NDArray[np.int64], float]:
    """Steepest-descent hill climbing on k while the energy decreases.

    A move shifts by one grid cell either one vertebra, or all vertebrae cranial of (and
    including) some vertebra, or all caudal of it. The block moves keep the gaps inside the block,
    so a chain that sits uniformly off its peaks is not trapped by the steep R (moving one
    vertebra alone costs more in R than it gains in data).
    """
    n = k.shape[0]
    big_k = prob.z.shape[0]
    if n == 0:
        return k, energy
    moves = _moves(n)
    for _ in range(max_steps):
        cand = k[None, :] + moves
        ok = np.all((cand >= 0) & (cand < big_k), axis=1)
        if n > 1:
            ok &= np.all(np.diff(cand, axis=1) > 0, axis=1)
        cand = cand[ok]
        if cand.shape[0] == 0:
            break
        e = _energies(prob, cand, run[None, :], regularizer)
        m = int(np.argmin(e))
        if not e[m] < energy - 1e-12:
            break
        k, energy = cand[m].copy(), float(e[m])
    return k, energy


def _expand(
    prob: _Problem, k: NDArray[np.int64], regularizer: Regularizer | None, ends: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], float] | None:
    """Best insertion of one vertebra (between neighbours, or at the ends when ``ends``).

    Returns None when nothing can be inserted.
    """
    n = k.shape[0]
    if n < 1 or n + 1 > prob.max_length:
        return None
    big_k = prob.z.shape[0]
    new_k = []
    bounds = [-1, *k.tolist(), big_k]  # gaps: before the first, between, after the last
    for u in range(n + 1):
        if not ends and (u == 0 or u == n):
            continue
        cells = np.arange(bounds[u] + 1, bounds[u + 1], dtype=np.int64)
        if cells.size == 0:
            continue
        kk = np.repeat(k[None, :], cells.size, axis=0)
        new_k.append(np.concatenate([kk[:, :u], cells[:, None], kk[:, u:]], axis=1))
    if not new_k:
        return None
    cand_k = np.concatenate(new_k, axis=0)  # (J, n+1)
    runs = prob.candidate_runs(n + 1)  # (M, n+1)
    if regularizer is None:
        data = -(prob.weight[runs][None, :, :] * prob.q[runs[None, :, :], cand_k[:, None, :]]).sum(
            axis=2
        )  # (J, M)
        e = data + _paper_regularizer(prob.z[cand_k])[:, None]
    else:
        jj, mm = np.meshgrid(np.arange(cand_k.shape[0]), np.arange(runs.shape[0]), indexing="ij")
        e = _energies(prob, cand_k[jj.ravel()], runs[mm.ravel()], regularizer).reshape(jj.shape)
    j, m = np.unravel_index(int(np.argmin(e)), e.shape)
    return cand_k[j], runs[m], float(e[j, m])


def _contract(
    prob: _Problem, k: NDArray[np.int64], regularizer: Regularizer | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], float]:
    """Best removal of one vertebra (with the best label run for the rest)."""
    n = k.shape[0]
    keep = ~np.eye(n, dtype=bool)
    cand_k = np.stack([k[row] for row in keep])  # (n, n-1)
    runs = prob.candidate_runs(n - 1)
    if regularizer is None:
        data = -(prob.weight[runs][None, :, :] * prob.q[runs[None, :, :], cand_k[:, None, :]]).sum(
            axis=2
        )
        e = data + _paper_regularizer(prob.z[cand_k])[:, None]
    else:
        jj, mm = np.meshgrid(np.arange(n), np.arange(runs.shape[0]), indexing="ij")
        e = _energies(prob, cand_k[jj.ravel()], runs[mm.ravel()], regularizer).reshape(jj.shape)
    j, m = np.unravel_index(int(np.argmin(e)), e.shape)
    return cand_k[j], runs[m], float(e[j, m])


def _default_init(
    q_hat: NDArray[np.float64], prob: _Problem, config: ChainConfig
) -> NDArray[np.int64]:
    k = local_maxima_1d(q_hat, prob.z, config.init_min_height, config.init_min_distance_mm)
    if k.shape[0] > prob.max_length:
        keep = np.argsort(-np.asarray(q_hat)[k], kind="stable")[: prob.max_length]
        k = np.sort(k[keep])
    return k


def _algorithm1(
    prob: _Problem,
    k: NDArray[np.int64],
    config: ChainConfig,
    regularizer: Regularizer | None,
    history: list[float],
) -> tuple[tuple[NDArray[np.int64], NDArray[np.int64], float], int]:
    """Offset / fine-tune / expansion passes from ``k``; the best (k, run, energy) and passes."""
    best: tuple[NDArray[np.int64], NDArray[np.int64], float] | None = None
    it = 0
    for it in range(1, max(1, config.max_iterations) + 1):  # noqa: B007
        run, energy = _best_offset(prob, k, regularizer)
        if config.fine_tune:
            k, energy = _fine_tune(prob, k, run, energy, regularizer, config.max_fine_tune_steps)
            # Moving k may change the best offset; one more offset pass settles it.
            run2, energy2 = _best_offset(prob, k, regularizer)
            if energy2 < energy - 1e-12:
                run, energy = run2, energy2
        history.append(energy)
        if best is not None and not energy < best[2] - 1e-12:
            break
        best = (k.copy(), run.copy(), energy)
        if not config.expansion:
            break
        expanded = _expand(prob, k, regularizer, config.expand_ends)
        if expanded is None:
            break
        k = expanded[0]
    assert best is not None
    return best, it


def optimize_chain(
    q: NDArray[np.float64],
    q_hat: NDArray[np.float64],
    z_mm: NDArray[np.float64],
    labels: Sequence[str] = STANDARD_LABELS,
    config: ChainConfig = ChainConfig(),
    regularizer: Regularizer | None = None,
    init_k: NDArray[np.int64] | None = None,
) -> ChainSolution:
    """Label and place a chain of consecutive vertebrae on a 1-D grid (Algorithm 1).

    Args:
        q: ``(V, K)`` per-label 1-D signals ``Q_v(k)``, rows in the order of ``labels``. The
            scale matters: the data term is weighed against R >= e per interior vertebra (and
            exp(2) ~ 7.4 per neighbour of a missed one). With true peaks of ~1, R wins and real
            vertebrae at irregular gaps get dropped; ``wang.py`` normalizes a typical true peak
            to 30 (``WangConfig.data_scale``).
        q_hat: ``(K,)`` summed signal Q̂ (used for the initialization only).
        z_mm: ``(K,)`` strictly ascending positions of the grid cells / candidates along the
            centerline, mm, cranial to caudal. Need not be uniform.
        labels: Labels of the rows of ``q``, unique, in chain order.
        config: Settings (defaults = the paper's).
        regularizer: Total regularization ``f(positions_mm (n,), labels) -> float`` replacing
            the paper's sum of R; None = the paper's.
        init_k: Initial ascending grid indices; None = local maxima of ``q_hat``.

    Returns:
        The lowest-energy configuration seen. Empty (no labels) when there is nothing to label.

    Raises:
        ValueError: on inconsistent shapes, unordered labels or a non-ascending ``z_mm``.
    """
    prob = _build_problem(q, z_mm, labels, config)
    qh = np.asarray(q_hat, dtype=np.float64).reshape(-1)
    if qh.shape[0] != prob.z.shape[0]:
        raise ValueError(f"q_hat has {qh.shape[0]} entries but z_mm has {prob.z.shape[0]}")
    if init_k is None:
        k = _default_init(qh, prob, config)
    else:
        k = np.unique(np.asarray(init_k, dtype=np.int64).reshape(-1))
        if k.size and (k[0] < 0 or k[-1] >= prob.z.shape[0]):
            raise ValueError("init_k out of range")
        if k.shape[0] > prob.max_length:
            keep = np.argsort(-qh[k], kind="stable")[: prob.max_length]
            k = np.sort(k[keep])
    if k.shape[0] == 0 or prob.max_length == 0:
        return ChainSolution([], np.zeros(0, dtype=np.int64), 0.0)

    history: list[float] = []
    best, it = _algorithm1(prob, k, config, regularizer, history)
    while config.contraction and best[0].shape[0] > 1:
        # spinelab's addition: after convergence, drop the vertebra whose removal lowers the
        # energy most (if any) and run Algorithm 1 again from there.
        cut_k, _, cut_e = _contract(prob, best[0], regularizer)
        if not cut_e < best[2] - 1e-12:
            break
        again, n_it = _algorithm1(prob, cut_k, config, regularizer, history)
        it += n_it
        if not again[2] < best[2] - 1e-12:
            break
        best = again
    bk, brun, be = best
    sol = ChainSolution([prob.names[j] for j in brun], bk, be, it, history)
    log.debug(
        "chain: %d vertebrae %s..%s, energy %.3f, %d passes",
        len(bk),
        sol.labels[0],
        sol.labels[-1],
        be,
        it,
    )
    return sol


def chain_energy(
    q: NDArray[np.float64],
    q_hat: NDArray[np.float64],
    z_mm: NDArray[np.float64],
    k: NDArray[np.int64],
    chain_labels: Sequence[str],
    labels: Sequence[str] = STANDARD_LABELS,
    config: ChainConfig = ChainConfig(),
    regularizer: Regularizer | None = None,
) -> float:
    """Energy L of one configuration (same conventions as :func:`optimize_chain`).

    Args:
        q: ``(V, K)`` signals, rows in the order of ``labels``.
        q_hat: ``(K,)`` summed signal (unused by the energy; kept for a uniform signature).
        z_mm: ``(K,)`` strictly ascending positions, mm.
        k: ``(n,)`` strictly ascending grid indices of the vertebrae.
        chain_labels: ``n`` labels of the vertebrae; a transitional label without a row in
            ``q`` uses the derived signal (module docstring).
        labels: Labels of the rows of ``q``.
        config: Settings (lambda, transitional handling).
        regularizer: Custom total regularization or None for the paper's.

    Returns:
        The energy.

    Raises:
        ValueError: when ``chain_labels`` names a label with no (derived) row, or ``k`` is not
            strictly ascending or out of range.
    """
    del q_hat
    prob = _build_problem(q, z_mm, labels, config)
    kk = np.asarray(k, dtype=np.int64).reshape(-1)
    names = [anatomy.normalize_name(x) for x in chain_labels]
    if kk.shape[0] != len(names):
        raise ValueError("k and chain_labels differ in length")
    if kk.size == 0:
        return 0.0
    if np.any(np.diff(kk) <= 0) or kk[0] < 0 or kk[-1] >= prob.z.shape[0]:
        raise ValueError("k must be strictly ascending grid indices")
    try:
        rows = np.array([prob.names.index(x) for x in names], dtype=np.int64)
    except ValueError:
        raise ValueError(f"labels {names} are not all available in this problem") from None
    return float(_energies(prob, kk, rows, regularizer)[0])
