"""Wang et al. 2021 post-processing of 26 vertebra activation maps, and its ablations.

:func:`label_heatmaps` takes any network's ``(26, X, Y, Z)`` activation maps (channels in
:data:`spinelab.anatomy.STANDARD_LABELS` order, any non-negative scale) and the voxel-to-LPS
affine, and returns labelled centroids in world LPS mm.

Methods (the ablations of the paper's Table 2, see :data:`METHODS`):

``base``
    Each channel's 3-D argmax; a label is reported when its peak reaches ``presence`` times
    the strongest channel's peak.
``base+rect``
    Rectify (centerline, moving frame, :mod:`~spinelab.postprocess.centerline`), take each
    channel's 1-D signal Q_v(t) = Σ_{x,y} G'_v and its argmax; same presence rule on Q_v.
``base+rect+order``
    The local maxima of Q̂ = Σ_v Q_v, labelled consecutively with the best offset (one offset
    step of Algorithm 1, no fine-tuning or expansion).
``base+rect+optim``
    The full method: Algorithm 1 (:func:`~spinelab.postprocess.chain.optimize_chain`).

Each has a ``-nolambda`` variant (all lambda = 1). Lambda only enters the energy, so
``base-nolambda`` and ``base+rect-nolambda`` equal ``base`` and ``base+rect``; they exist so that
every name has both forms.

Scale (spinelab's choices; the paper's maps are ~[0, 1] and it says no more): the typical
peak of the maps is the median of the channel peaks that reach half the strongest
(:func:`typical_peak`); the centerline threshold (0.5) and the activation ``floor`` (0.3) are
relative to it. The energy compares data terms with R >= e per interior vertebra, so the
signals are normalized the same way: Q is divided by the median of the channels' Q peaks and
multiplied by ``data_scale`` (30). A typical true response is then worth 30, a missing
vertebra (gap ratio 2) costs about 2 exp(2) = 15 in R, and ordinary gap irregularity
(ratio 1.2-1.4) costs 1-3, so the data term decides unless the spacing is clearly wrong.
With ``data_scale`` 10, R dominates too often and real vertebrae at irregular gaps get
dropped; 30 was chosen on the benchmark (``benchmarks/wang_ablation.py``).

spinelab's additions to the paper, all on by default and all off in :meth:`WangConfig.paper`:
the activation ``floor``; the centerline's run and outlier rules
(:class:`~spinelab.postprocess.centerline.CenterlineConfig`); initialization from the maxima
of Q̂ that reach ``init_min_signal`` of a typical vertebra; expansion at the chain's ends and
contraction in Algorithm 1 (:class:`~spinelab.postprocess.chain.ChainConfig`). On the
benchmark's corrupted maps the paper's settings collapse (a dense faint background in 26
channels, summed over each cross-section, buries Q̂; spurious maxima stay in the chain and
shift its labels), see ``benchmarks/RESULTS.md``.

Example:
    >>> import numpy as np
    >>> from spinelab.postprocess import simulate, wang
    >>> from spinelab.structures import Centroids
    >>> gt = Centroids(["L1", "L2", "L3"], np.array([[0, 0, 0], [0, 5, -32], [0, 8, -64.0]]))
    >>> shape, affine = simulate.grid_around(gt.positions_mm, 3.0, 30.0, "RAS")
    >>> maps = simulate.gaussian_heatmaps(gt, shape, affine)  # (26, X, Y, Z)
    >>> wang.label_heatmaps(maps, affine).labels
    ['L1', 'L2', 'L3']

Positions: a labelled vertebra at centerline sample t gets δz by a parabolic fit of its
signal around t (sub-sample), and (δx, δy) from the activation-weighted centroid of its
rectified slice (the summed slice for a derived transitional label); then
:func:`~spinelab.postprocess.centerline.unrectify` maps it to world. Confidence is the
vertebra's normalized signal Q_v(t) / data_scale, clipped to [0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.anatomy import STANDARD_LABELS
from spinelab.postprocess.centerline import (
    Centerline,
    CenterlineConfig,
    compute_centerline,
    rectified_grid_mm,
    rectify,
    unrectify,
)
from spinelab.postprocess.chain import ChainConfig, optimize_chain
from spinelab.postprocess.peaks import argmax_3d, local_maxima_1d
from spinelab.structures import Centroids, apply_affine

log = logging.getLogger(__name__)

#: The ablations by name, as in the paper's Table 2 (each with a ``-nolambda`` variant).
BASE_METHODS: tuple[str, ...] = ("base", "base+rect", "base+rect+order", "base+rect+optim")
#: All accepted method names.
METHODS: tuple[str, ...] = BASE_METHODS + tuple(f"{m}-nolambda" for m in BASE_METHODS)
#: The default: the full method of the paper.
DEFAULT_METHOD = "base+rect+optim"


@dataclass(frozen=True)
class WangConfig:
    """Settings of :func:`label_heatmaps`.

    Attributes:
        centerline: Centerline and rectification settings.
        chain: Chain optimization settings (``use_lambda`` is overridden by ``-nolambda``).
        data_scale: Value a typical true response takes in the normalized signals (30).
        presence: A channel (or, for ``base``, a 3-D map) counts as responding when its peak is
            at least this fraction of the strongest one's.
        floor: Before rectification, activations below this fraction of the typical channel
            peak (:func:`typical_peak`) are set to 0 (spinelab's addition; 0 = the paper). Q sums a whole cross-section, so a
            faint background that a network leaves everywhere would otherwise outweigh the
            vertebrae.
        init_min_signal: Initialize the chain with the local maxima of Q̂ that reach this
            fraction of ``data_scale`` (spinelab's choice: a threshold relative to a typical
            vertebra rather than to max Q̂, which overlapping responses inflate); None = the
            chain's own rule (``ChainConfig.init_min_height`` of max Q̂).
    """

    centerline: CenterlineConfig = field(default_factory=CenterlineConfig)
    chain: ChainConfig = field(default_factory=ChainConfig)
    data_scale: float = 30.0
    presence: float = 0.3
    floor: float = 0.3
    init_min_signal: float | None = 0.35

    @classmethod
    def paper(cls) -> WangConfig:
        """The paper's method without spinelab's robustness additions.

        No activation floor, no centerline outlier rules, Algorithm 1 without end expansion or
        contraction, and the chain's own initialization threshold (10% of max Q̂).
        """
        return cls(
            centerline=CenterlineConfig(reject_outliers_mm=0.0, max_gap_mm=0.0),
            chain=ChainConfig.paper(),
            floor=0.0,
            init_min_signal=None,
        )


@dataclass
class RectifiedSignals:
    """The rectification of one set of maps.

    Attributes:
        centerline: Centerline with its frame.
        rectified: ``(26, N, N, T)`` float32 rectified maps.
        q: ``(26, T)`` normalized per-label signals Q_v.
        q_hat: ``(T,)`` normalized summed signal Q̂.
        z_mm: ``(T,)`` arc length of the samples, mm.
    """

    centerline: Centerline
    rectified: NDArray[np.float32]
    q: NDArray[np.float64]
    q_hat: NDArray[np.float64]
    z_mm: NDArray[np.float64]


def parse_method(method: str) -> tuple[str, bool]:
    """Split a method name into (base method, use_lambda).

    Raises:
        ValueError: for an unknown name (the message lists :data:`METHODS`).
    """
    m = method.strip().lower()
    if m not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if m.endswith("-nolambda"):
        return m[: -len("-nolambda")], False
    return m, True


def _check_inputs(
    heatmaps: NDArray[np.floating], affine_lps: NDArray[np.float64]
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    h = np.asarray(heatmaps, dtype=np.float32)
    if h.ndim != 4 or h.shape[0] != anatomy.N_STANDARD:
        raise ValueError(f"heatmaps must be (26, X, Y, Z), got shape {h.shape}")
    a = np.asarray(affine_lps, dtype=np.float64)
    if a.shape != (4, 4) or abs(np.linalg.det(a[:3, :3])) < 1e-12:
        raise ValueError("affine_lps must be an invertible 4x4 matrix")
    h = np.where(np.isfinite(h), h, 0.0).astype(np.float32)
    return np.maximum(h, 0.0), a


def rectify_heatmaps(
    heatmaps: NDArray[np.floating],
    affine_lps: NDArray[np.float64],
    config: WangConfig = WangConfig(),
) -> RectifiedSignals | None:
    """Centerline, rectified maps and normalized 1-D signals of 26 activation maps.

    Args:
        heatmaps: ``(26, X, Y, Z)`` activation maps, channels in ``STANDARD_LABELS`` order.
        affine_lps: ``(4, 4)`` voxel-to-LPS-mm affine.
        config: Settings.

    Returns:
        The signals, or None when the maps are empty (no voxel above the centerline threshold).
    """
    h, a = _check_inputs(heatmaps, affine_lps)
    scale = typical_peak(h.reshape(h.shape[0], -1).max(axis=1))
    if scale <= 0:
        return None
    if config.floor > 0:
        h = np.where(h >= config.floor * scale, h, np.float32(0.0))
    cl = compute_centerline(h.sum(axis=0), a, config.centerline, scale=scale)
    if cl is None:
        return None
    rect = rectify(h, a, cl, config.centerline)
    q = rect.sum(axis=(1, 2), dtype=np.float64)
    peaks = q.max(axis=1)
    top = float(peaks.max())
    if top <= 0:
        return None
    ref = typical_peak(peaks)
    q = q / ref * config.data_scale
    return RectifiedSignals(cl, rect, q, q.sum(axis=0), cl.t_mm)


def typical_peak(peaks: NDArray[np.floating], presence: float = 0.5) -> float:
    """The median of the peaks that reach ``presence`` times the largest (0 if none is > 0).

    Channels without a vertebra (noise only) stay below half the largest peak and so do not
    drag the median down; overlapping responses inflate the largest but not the median.

    Args:
        peaks: ``(C,)`` per-channel peak values.
        presence: Relative threshold in [0, 1].
    """
    p = np.asarray(peaks, dtype=np.float64)
    top = float(p.max()) if p.size else 0.0
    if top <= 0:
        return 0.0
    return float(np.median(p[p >= presence * top]))


def _subsample_peak(sig: NDArray[np.float64], k: int) -> float:
    """Parabolic sub-sample offset in (-0.5, 0.5) of a peak at index k."""
    if k <= 0 or k >= sig.shape[0] - 1:
        return 0.0
    a, b, c = sig[k - 1], sig[k], sig[k + 1]
    den = a - 2 * b + c
    if den >= 0:
        return 0.0
    return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))


def _slice_centroid(
    slice_2d: NDArray[np.floating], off: NDArray[np.float64]
) -> tuple[float, float]:
    w = np.asarray(slice_2d, dtype=np.float64)
    w = np.where(w > 0.5 * w.max(), w, 0.0) if w.max() > 0 else w
    m = w.sum()
    if m <= 0:
        return 0.0, 0.0
    return float((w.sum(axis=1) * off).sum() / m), float((w.sum(axis=0) * off).sum() / m)


def _place(
    sig: RectifiedSignals, labels: list[str], k: NDArray[np.int64], cfg: WangConfig
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """World positions ``(n, 3)`` and confidences ``(n,)`` of vertebrae at samples ``k``."""
    off = rectified_grid_mm(cfg.centerline)
    std = list(STANDARD_LABELS)
    rect_mm = np.zeros((len(labels), 3))
    conf = np.zeros(len(labels))
    for i, (name, t) in enumerate(zip(labels, k.tolist())):
        if name in std:
            c = std.index(name)
            row = sig.q[c]
            plane = sig.rectified[c, :, :, t]
        else:  # derived transitional label: neighbours' channels
            nb = [std.index(x) for x in _NEIGHBOURS[name]]
            row = cfg.chain.transitional_weight * sig.q[nb].max(axis=0)
            plane = sig.rectified[nb, :, :, t].sum(axis=0)
        dt = _subsample_peak(row, int(t))
        dx, dy = _slice_centroid(plane, off)
        rect_mm[i] = [dx, dy, (t + dt) * sig.centerline.step_mm]
        conf[i] = float(np.clip(row[t] / cfg.data_scale, 0.0, 1.0))
    return unrectify(sig.centerline, rect_mm), conf


_NEIGHBOURS = {"T13": ("T12", "L1"), "L6": ("L5", "S1")}


def label_heatmaps(
    heatmaps: NDArray[np.floating],
    affine_lps: NDArray[np.float64],
    method: str = DEFAULT_METHOD,
    config: WangConfig = WangConfig(),
) -> Centroids:
    """Localize and label vertebrae from 26 activation maps (Wang et al. 2021 or an ablation).

    Args:
        heatmaps: ``(26, X, Y, Z)`` float activation maps of any network, channels C1..S2 in
            :data:`spinelab.anatomy.STANDARD_LABELS` order, any non-negative scale.
        affine_lps: ``(4, 4)`` affine mapping voxel indices ``[i, j, k, 1]`` of the maps to LPS
            world mm (any voxel orientation).
        method: One of :data:`METHODS` (default the full method, ``base+rect+optim``).
        config: Settings.

    Returns:
        Centroids in LPS world mm, chain order, with a confidence per vertebra in [0, 1] and
        ``method`` recorded as ``"wang2021:<method>"``. Empty when the maps are empty.

    Raises:
        ValueError: for maps that are not ``(26, X, Y, Z)``, a singular affine or an unknown
            method.
    """
    base, _ = parse_method(method)
    name = f"wang2021:{method.strip().lower()}"
    h, a = _check_inputs(heatmaps, affine_lps)
    if base == "base":
        return _label_base(h, a, config, name)
    return label_signals(rectify_heatmaps(h, a, config), method, config)


def label_signals(
    sig: RectifiedSignals | None,
    method: str = DEFAULT_METHOD,
    config: WangConfig = WangConfig(),
) -> Centroids:
    """The rectified methods of :func:`label_heatmaps` on precomputed signals.

    Lets a caller rectify once (:func:`rectify_heatmaps`) and compare several methods.

    Args:
        sig: Signals from :func:`rectify_heatmaps` (None: empty maps, gives empty centroids).
        method: A method of :data:`METHODS` other than ``base`` / ``base-nolambda``.
        config: Settings (the same as used for the rectification).

    Returns:
        Centroids as :func:`label_heatmaps` returns them.
    """
    base, use_lambda = parse_method(method)
    name = f"wang2021:{method.strip().lower()}"
    if base == "base":
        raise ValueError("the base method needs the 3-D maps: use label_heatmaps")
    if sig is None:
        return Centroids([], np.zeros((0, 3)), np.zeros(0), method=name)
    std = list(STANDARD_LABELS)
    if base == "base+rect":
        peaks = sig.q.max(axis=1)
        present = np.flatnonzero(peaks >= config.presence * peaks.max())
        labels = [std[c] for c in present]
        k = np.array([int(np.argmax(sig.q[c])) for c in present], dtype=np.int64)
        extra: dict[str, object] = {}
    else:
        chain_cfg = replace(config.chain, use_lambda=use_lambda)
        if base == "base+rect+order":
            chain_cfg = replace(chain_cfg, fine_tune=False, expansion=False, max_iterations=1)
        init_k = None
        if config.init_min_signal is not None:
            top = float(sig.q_hat.max())
            rel = config.init_min_signal * config.data_scale / top if top > 0 else 0.0
            init_k = local_maxima_1d(
                sig.q_hat, sig.z_mm, min(rel, 1.0), chain_cfg.init_min_distance_mm
            )
        sol = optimize_chain(sig.q, sig.q_hat, sig.z_mm, STANDARD_LABELS, chain_cfg, init_k=init_k)
        labels, k = sol.labels, sol.k
        extra = {"energy": sol.energy, "iterations": sol.iterations}
    if not labels:
        return Centroids([], np.zeros((0, 3)), np.zeros(0), method=name)
    pos, conf = _place(sig, labels, k, config)
    out = Centroids(labels, pos, conf, method=name)
    out.extra.update(extra)
    log.debug("%s: %d vertebrae %s", name, len(labels), " ".join(out.labels))
    return out


def _label_base(
    h: NDArray[np.float32], a: NDArray[np.float64], cfg: WangConfig, name: str
) -> Centroids:
    peaks = h.reshape(h.shape[0], -1).max(axis=1).astype(np.float64)
    top = float(peaks.max()) if peaks.size else 0.0
    if top <= 0:
        return Centroids([], np.zeros((0, 3)), np.zeros(0), method=name)
    labels, pos, conf = [], [], []
    for c in np.flatnonzero(peaks >= cfg.presence * top):
        ijk, val = argmax_3d(h[c])
        labels.append(STANDARD_LABELS[c])
        pos.append(apply_affine(a, _refine_3d(h[c], ijk)))
        conf.append(val / top)
    return Centroids(labels, np.array(pos).reshape(-1, 3), np.array(conf), method=name)


def _refine_3d(vol: NDArray[np.float32], ijk: NDArray[np.int64]) -> NDArray[np.float64]:
    """Sub-voxel peak: parabolic fit along each index axis."""
    out = ijk.astype(np.float64)
    for ax in range(3):
        lo, hi = ijk.copy(), ijk.copy()
        lo[ax] -= 1
        hi[ax] += 1
        if lo[ax] < 0 or hi[ax] >= vol.shape[ax]:
            continue
        line = np.array([vol[tuple(lo)], vol[tuple(ijk)], vol[tuple(hi)]], dtype=np.float64)
        out[ax] += _subsample_peak(line, 1)
    return out
