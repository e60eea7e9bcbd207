"""Spine centerline, moving frame and rectification (Wang et al., CVPR 2021, Sec. 3.2).

From the summed activation map Ĝ = Σ_v G_v on a voxel grid with its LPS affine:

1. The body's long axis is the voxel axis whose direction is closest to world superior-inferior
   (LPS z), read from the affine, so any voxel orientation works. Ĝ is divided by its scale
   (its maximum, or a typical vertebra peak given by the caller: maps of any scale), and each slice perpendicular to that axis ("axial slice") gives the
   activation-weighted mass centre of its voxels with normalized activation above
   ``threshold`` (0.5, i.e. half of the map's peak, the paper's value for maps whose peaks
   are ~1).
2. Slices with no voxel above the threshold are gaps. spinelab adds two robustness rules
   (the paper has none): slices separated from the main run of valid slices by more than
   ``max_gap_mm`` of empty slices are dropped (a false activation above or below the spine),
   and slices whose centre lies farther than ``reject_outliers_mm`` from a running median of
   the centres are gaps too (a false activation in the same slice drags the mean away; three
   rounds). Gaps are interpolated linearly from the neighbouring valid slices, and held
   constant beyond the first/last one.
3. The centres are smoothed along the axis (Gaussian, ``smoothing_mm``), ordered cranial to
   caudal and resampled by arc length every ``step_mm``: the centerline s(t), t in mm.
4. Moving frame: e3 = unit tangent (pointing caudal); e2 = the unit vector of the normal plane
   closest to the patient's anterior (LPS -y); e1 = e2 x e3 (for an upright spine, patient left).
5. Rectified maps G'_v(x, y, t) = G_v(s(t) + e1(t) x + e2(t) y) on a grid of ``inplane_step_mm``
   over ``[-half_width_mm, half_width_mm]^2`` per centerline sample, by linear interpolation
   (``scipy.ndimage.map_coordinates``, order 1, zero outside the volume).

:func:`unrectify` maps rectified coordinates (δx, δy, δz) in mm back to world LPS mm (frames
between samples are interpolated linearly and re-orthonormalized), and
:func:`world_to_rectified` is its exact inverse for points within the tube around the centerline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

log = logging.getLogger(__name__)

#: The patient's anterior direction in LPS world coordinates.
ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class CenterlineConfig:
    """Settings of the centerline and the rectification.

    Attributes:
        threshold: Voxels of Ĝ / max(Ĝ) above this enter the slice mass centres (paper: 0.5).
        smoothing_mm: Sigma of the Gaussian smoothing of the slice centres along the axis, mm.
        reject_outliers_mm: Slice centres farther than this from the running median of the
            centres (window ``outlier_window_mm``) are treated as gaps; 0 disables it.
        outlier_window_mm: Length of the running-median window, mm.
        max_gap_mm: Valid slices are grouped into runs separated by more than this many mm of
            empty slices; only the run with the most valid slices is followed (drops false
            activations beyond the ends of the spine); 0 disables it.
        step_mm: Arc-length spacing of the centerline samples (rectified z spacing), mm.
        half_width_mm: Half size of the rectified cross-section, mm.
        inplane_step_mm: Spacing of the rectified x and y axes, mm.
    """

    threshold: float = 0.5
    smoothing_mm: float = 8.0
    reject_outliers_mm: float = 30.0
    outlier_window_mm: float = 60.0
    max_gap_mm: float = 60.0
    step_mm: float = 2.0
    half_width_mm: float = 40.0
    inplane_step_mm: float = 2.0


@dataclass(frozen=True)
class Centerline:
    """A centerline sampled by arc length with its moving frame (all LPS world mm).

    Attributes:
        points_mm: ``(T, 3)`` samples s(t_i), cranial to caudal.
        e1: ``(T, 3)`` unit vectors e2 x e3.
        e2: ``(T, 3)`` unit vectors of the normal plane closest to anterior.
        e3: ``(T, 3)`` unit tangents, pointing caudal.
        step_mm: Arc-length spacing of the samples, mm (t_i = i * step_mm).
    """

    points_mm: NDArray[np.float64]
    e1: NDArray[np.float64]
    e2: NDArray[np.float64]
    e3: NDArray[np.float64]
    step_mm: float

    @property
    def n_samples(self) -> int:
        """Number of samples T."""
        return int(self.points_mm.shape[0])

    @property
    def t_mm(self) -> NDArray[np.float64]:
        """``(T,)`` arc length of the samples, mm."""
        return np.arange(self.n_samples, dtype=np.float64) * self.step_mm

    def frame_at(
        self, t_mm: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Centerline point and orthonormal frame at arc lengths ``t_mm`` (clamped to the ends).

        Args:
            t_mm: ``(N,)`` arc lengths, mm.

        Returns:
            ``(s, e1, e2, e3)``, each ``(N, 3)``.
        """
        t = np.clip(np.asarray(t_mm, dtype=np.float64).reshape(-1) / self.step_mm, 0, None)
        last = self.n_samples - 1
        t = np.minimum(t, last)
        i0 = np.minimum(np.floor(t).astype(np.int64), max(last - 1, 0))
        i1 = np.minimum(i0 + 1, last)
        w = (t - i0)[:, None]
        s = (1 - w) * self.points_mm[i0] + w * self.points_mm[i1]
        e3 = _unit((1 - w) * self.e3[i0] + w * self.e3[i1])
        e2 = (1 - w) * self.e2[i0] + w * self.e2[i1]
        e2 = _unit(e2 - np.sum(e2 * e3, axis=1, keepdims=True) * e3)
        e1 = np.cross(e2, e3)
        return s, e1, e2, e3


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.where(n > 0, n, 1.0), dtype=np.float64)


def long_axis(affine_lps: NDArray[np.float64]) -> int:
    """The voxel axis (0, 1 or 2) whose direction is closest to world superior-inferior."""
    a = np.asarray(affine_lps, dtype=np.float64)[:3, :3]
    d = a / np.linalg.norm(a, axis=0)
    return int(np.argmax(np.abs(d[2])))


def _longest_run(valid: NDArray[np.bool_], max_gap: int) -> NDArray[np.bool_]:
    """Keep the valid slices of the run with the most valid slices, where runs are separated
    by more than ``max_gap`` consecutive invalid slices (drops isolated far-away activations
    beyond the ends of the spine)."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return valid
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    groups = np.split(idx, breaks + 1)
    best = max(groups, key=len)
    out = np.zeros_like(valid)
    out[best] = True
    return out


def _fill_gaps(centres: NDArray[np.float64], valid: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Interpolate invalid rows linearly from valid ones, constant beyond the ends."""
    idx = np.arange(centres.shape[0])
    out = centres.copy()
    for c in range(centres.shape[1]):
        out[:, c] = np.interp(idx, idx[valid], centres[valid, c])
    return out


def compute_centerline(
    g_hat: NDArray[np.floating],
    affine_lps: NDArray[np.float64],
    config: CenterlineConfig = CenterlineConfig(),
    scale: float | None = None,
) -> Centerline | None:
    """Centerline of the summed activation map Ĝ.

    Args:
        g_hat: ``(X, Y, Z)`` summed activation map (any non-negative scale).
        affine_lps: ``(4, 4)`` voxel-to-LPS-mm affine of ``g_hat``.
        config: Settings (see :class:`CenterlineConfig`).
        scale: The activation of a typical vertebra's peak, which ``threshold`` is relative to;
            None = max(Ĝ). (Where responses overlap, max(Ĝ) can be twice a single vertebra's
            peak, and a threshold relative to it loses the single ones: ``wang.py`` passes the
            median of the channels' peaks.)

    Returns:
        The centerline, or None when no voxel is above the threshold (nothing to follow).
    """
    g = np.asarray(g_hat, dtype=np.float64)
    g = np.where(np.isfinite(g), g, 0.0)
    affine = np.asarray(affine_lps, dtype=np.float64)
    top = float(g.max()) if g.size else 0.0
    if scale is not None and scale > 0:
        top = float(scale)
    if top <= 0.0:
        return None
    gn = g / top
    axis = long_axis(affine)
    g_ax = np.moveaxis(gn, axis, 0)  # (S, A, B)
    n_slices = g_ax.shape[0]
    w = np.where(g_ax > config.threshold, g_ax, 0.0)
    mass = w.sum(axis=(1, 2))
    valid = mass > 0
    if not np.any(valid):
        return None
    # Index coordinates of the slice mass centres, in the original axis order.
    grids = np.meshgrid(np.arange(g_ax.shape[1]), np.arange(g_ax.shape[2]), indexing="ij")
    ca = (w * grids[0][None]).sum(axis=(1, 2)) / np.where(valid, mass, 1.0)
    cb = (w * grids[1][None]).sum(axis=(1, 2)) / np.where(valid, mass, 1.0)
    other = [ax for ax in range(3) if ax != axis]
    ijk = np.zeros((n_slices, 3))
    ijk[:, axis] = np.arange(n_slices)
    ijk[:, other[0]] = ca
    ijk[:, other[1]] = cb
    centres = ijk @ affine[:3, :3].T + affine[:3, 3]  # (S, 3) world mm
    slice_mm = float(np.linalg.norm(affine[:3, axis]))

    if config.max_gap_mm > 0:
        valid = _longest_run(valid, max(1, int(np.ceil(config.max_gap_mm / slice_mm))))
    if config.reject_outliers_mm > 0 and valid.sum() >= 3:
        size = max(3, round(config.outlier_window_mm / slice_mm) | 1)
        for _ in range(3):
            filled = _fill_gaps(centres, valid)
            med = ndimage.median_filter(filled, size=(size, 1), mode="nearest")
            far = valid & (np.linalg.norm(centres - med, axis=1) > config.reject_outliers_mm)
            if not np.any(far) or not np.any(valid & ~far):
                break
            log.debug("centerline: %d outlier slices treated as gaps", int(far.sum()))
            valid = valid & ~far
    centres = _fill_gaps(centres, valid)
    if config.smoothing_mm > 0:
        centres = ndimage.gaussian_filter1d(
            centres, sigma=config.smoothing_mm / slice_mm, axis=0, mode="nearest"
        )
    # Cranial (superior, +z in LPS) first.
    if centres[-1, 2] > centres[0, 2]:
        centres = centres[::-1]
    return _resample(centres, config.step_mm)


def centerline_from_points(points_mm: NDArray[np.float64], step_mm: float = 2.0) -> Centerline:
    """A centerline through a polyline of points (ordered or not along S-I), resampled by arc length.

    Args:
        points_mm: ``(P, 3)`` LPS mm points along the spine, P >= 2.
        step_mm: Arc-length spacing, mm.

    Returns:
        The centerline (cranial to caudal).
    """
    p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    p = p[np.argsort(-p[:, 2], kind="stable")]
    return _resample(p, step_mm)


def _resample(centres: NDArray[np.float64], step_mm: float) -> Centerline:
    seg = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 1e-9])
    centres = centres[keep]
    if centres.shape[0] < 2:
        # A single point: a short vertical segment through it.
        c = centres[0]
        up = np.array([0.0, 0.0, step_mm])
        centres = np.stack([c + up, c - up])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(centres, axis=0), axis=1))])
    n = int(np.floor(arc[-1] / step_mm)) + 1
    t = np.arange(max(n, 2)) * step_mm
    t = np.minimum(t, arc[-1])
    pts = np.stack([np.interp(t, arc, centres[:, c]) for c in range(3)], axis=1)
    tangent = (
        np.gradient(pts, axis=0) if pts.shape[0] > 2 else np.repeat(np.diff(pts, axis=0), 2, axis=0)
    )
    e3 = _unit(tangent)
    e2 = ANTERIOR_LPS[None, :] - (e3 @ ANTERIOR_LPS)[:, None] * e3
    bad = np.linalg.norm(e2, axis=1) < 1e-6  # tangent along anterior: fall back to superior
    if np.any(bad):
        e2[bad] = np.array([0.0, 0.0, 1.0]) - e3[bad, 2:3] * e3[bad]
    e2 = _unit(e2)
    e1 = np.cross(e2, e3)
    return Centerline(pts, e1, e2, e3, float(step_mm))


def rectified_grid_mm(config: CenterlineConfig) -> NDArray[np.float64]:
    """``(N,)`` in-plane offsets of the rectified grid along e1 and e2, mm (centred on 0)."""
    n = int(np.floor(config.half_width_mm / config.inplane_step_mm))
    return np.arange(-n, n + 1, dtype=np.float64) * config.inplane_step_mm


def rectify(
    maps: NDArray[np.floating],
    affine_lps: NDArray[np.float64],
    centerline: Centerline,
    config: CenterlineConfig = CenterlineConfig(),
) -> NDArray[np.float32]:
    """Resample maps on the rectified grid: G'(x, y, t) = G(s(t) + e1(t) x + e2(t) y).

    Args:
        maps: ``(C, X, Y, Z)`` or ``(X, Y, Z)`` maps on the voxel grid of ``affine_lps``.
        affine_lps: ``(4, 4)`` voxel-to-LPS-mm affine.
        centerline: The centerline and frame.
        config: ``half_width_mm`` and ``inplane_step_mm`` define the cross-section grid.

    Returns:
        ``(C, N, N, T)`` (or ``(N, N, T)``) float32 rectified maps: axis 1 along e1, axis 2
        along e2 (both :func:`rectified_grid_mm`), axis 3 the centerline samples (``step_mm``).
        Zero outside the volume.
    """
    m = np.asarray(maps)
    single = m.ndim == 3
    if single:
        m = m[None]
    off = rectified_grid_mm(config)
    s, e1, e2 = centerline.points_mm, centerline.e1, centerline.e2
    world = (
        s[None, None, :, :]
        + off[:, None, None, None] * e1[None, None, :, :]
        + off[None, :, None, None] * e2[None, None, :, :]
    )  # (N, N, T, 3)
    inv = np.linalg.inv(np.asarray(affine_lps, dtype=np.float64))
    ijk = world @ inv[:3, :3].T + inv[:3, 3]
    coords = np.moveaxis(ijk, -1, 0)  # (3, N, N, T)
    out = np.empty((m.shape[0], *coords.shape[1:]), dtype=np.float32)
    for c in range(m.shape[0]):
        out[c] = ndimage.map_coordinates(
            np.asarray(m[c], dtype=np.float32), coords, order=1, mode="constant", cval=0.0
        )
    return out[0] if single else out


def unrectify(centerline: Centerline, rect_mm: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rectified coordinates (δx along e1, δy along e2, δz arc length), mm -> LPS world mm.

    Args:
        centerline: The centerline and frame.
        rect_mm: ``(N, 3)`` or ``(3,)`` rectified coordinates, mm.

    Returns:
        ``(N, 3)`` (or ``(3,)``) world LPS mm.
    """
    r = np.asarray(rect_mm, dtype=np.float64)
    single = r.ndim == 1
    r = r.reshape(-1, 3)
    s, e1, e2, _ = centerline.frame_at(r[:, 2])
    out = s + e1 * r[:, 0:1] + e2 * r[:, 1:2]
    return out[0] if single else out


def world_to_rectified(
    centerline: Centerline, pos_mm: NDArray[np.float64], tol_mm: float = 1e-6
) -> NDArray[np.float64]:
    """Inverse of :func:`unrectify`: LPS world mm -> rectified (δx, δy, δz) mm.

    For each point, δz is the arc length t at which the point lies in the normal plane of the
    centerline ((p - s(t)) . e3(t) = 0); among several such t, the one nearest to the point.
    Points beyond the ends of the centerline are projected onto the end planes' extension (δz
    clamped to [0, length]).

    Args:
        centerline: The centerline and frame.
        pos_mm: ``(N, 3)`` or ``(3,)`` LPS mm.
        tol_mm: Arc-length tolerance of the root search, mm.

    Returns:
        ``(N, 3)`` (or ``(3,)``) rectified coordinates, mm.
    """
    p = np.asarray(pos_mm, dtype=np.float64)
    single = p.ndim == 1
    p = p.reshape(-1, 3)
    t_s = centerline.t_mm
    out = np.zeros_like(p)
    for n, pt in enumerate(p):
        d = pt[None, :] - centerline.points_mm
        f = np.sum(d * centerline.e3, axis=1)  # decreasing in t near the point
        dist = np.linalg.norm(d - f[:, None] * centerline.e3, axis=1)
        roots = np.flatnonzero((f[:-1] >= 0) & (f[1:] <= 0))
        if roots.size == 0:
            t = 0.0 if f[0] < 0 else float(t_s[-1])
        else:
            j = int(roots[np.argmin(np.minimum(dist[roots], dist[roots + 1]))])
            lo, hi = float(t_s[j]), float(t_s[j + 1])
            t = _bisect(centerline, pt, lo, hi, tol_mm)
        s, e1, e2, _ = centerline.frame_at(np.array([t]))
        v = pt - s[0]
        out[n] = [v @ e1[0], v @ e2[0], t]
    return out[0] if single else out


def _bisect(
    centerline: Centerline, pt: NDArray[np.float64], lo: float, hi: float, tol: float
) -> float:
    def f(t: float) -> float:
        s, _, _, e3 = centerline.frame_at(np.array([t]))
        return float((pt - s[0]) @ e3[0])

    flo = f(lo)
    for _ in range(60):
        if hi - lo <= tol:
            break
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        if (fm >= 0) == (flo >= 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)
