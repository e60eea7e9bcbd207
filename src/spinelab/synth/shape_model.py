"""Statistical spine shape model fitted on real spines (VID), sampling whole C1-S2 spines.

The model describes a spine by local, pose-free quantities, so that the patient's position in the
scanner does not enter it:

* ``gap``: log distance between neighbouring body centres, per link C1-C2 ... S1-S2 (25 links);
* ``sag``/``cor``: centre-line turning at each vertebra C2..S1 (24), in degrees, split into the
  sagittal part (about the vertebra's left axis; + = lordotic, the chain turns posteriorly going
  up) and the coronal part (about its posterior axis; + = turning towards the patient's left);
* ``axial``: axial rotation of each vertebra C1..S2 (26) about its cranial axis relative to the
  patient's mean left-right axis (from the pedicles), degrees (+ = counter-clockwise seen from
  above, i.e. the vertebral body turning towards the patient's left).

A spine is a draw from a multivariate normal over these 99 features. The log-gaps share a
per-patient scale factor ``s`` (``log gap = mean + log s + residual``); the residual covariance of
all features is estimated from pairwise co-observed scans (a scan shows 2-25 vertebrae), shrunk
towards the diagonal and made positive semi-definite. Where VID has no data (L5-S1, S1-S2, the
turning at L5 and S1, S1/S2 rotation) the documented priors of
:mod:`spinelab.synth.shape_priors` are used; where it is thin (C1-T8), per-feature means and
variances are blended with those priors with a pseudo-count (:attr:`ShapeFitConfig.prior_weight`).
Gap means are VID data wherever VID has the link. Body heights and disc heights are priors
adjusted so that each gap equals ``(h_i + h_{i+1}) / 2 + disc_i``.

Body centres in VID carry annotation noise; it makes the turning at neighbouring vertebrae
negatively correlated. Its share of the covariance (isotropic noise on each centre, sd estimated
from that negative correlation: about 0.4 mm, a conservative figure) is removed before sampling.

Sampling (:meth:`SpineShapeModel.sample`) builds the centre line from the sacrum up, turning at
each vertebra by the sampled sagittal/coronal angles; vertebra frames take the bisector of the
two neighbouring segments as cranial axis, the transported left axis turned by the sampled axial
rotation. Scoliosis adds a smooth coronal curve (thoracic, thoracolumbar or lumbar, with a
half-size compensatory curve) and apical axial rotation, scaled until the measured Cobb angle
(:func:`cobb_angle_deg`) equals the request. Without an added curve the natural coronal
variation measured the same way gives Cobb angles of about 8-24 degrees (5th-95th
percentile; measured on vertebra frames over T1-L5, which is stricter than the centre-based
figures that match VID, see ``benchmarks/RESULTS.md``).

Transitional vertebrae:
    * L6 is labelled in 46 of the 1,947 VID scans. The right denominator is the scans that show
      L5 (1,733): a scan that stops above L5 could not show an L6, and every VID scan with L6
      also has L5. So P(L6) = 46 / 1733 = 2.65 %. (Scans showing L5 but cut just below it may hide
      an L6, so this is, if anything, a slight underestimate.)
    * T13 is not labelled in VID; P(T13) = 1 %, see :mod:`spinelab.synth.shape_priors`.

Example:
    >>> import numpy as np
    >>> from spinelab.synth.shape_model import SpineShapeModel
    >>> model = SpineShapeModel.load_default()
    >>> spine = model.sample(np.random.default_rng(0))
    >>> spine.labels[0], spine.labels[-1]
    ('C1', 'S2')
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import os
import zipfile
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import lsq_linear

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import atomic_path, check_writable, write_text_atomic
from spinelab.io.jsonfile import read_json
from spinelab.io.vid import read_vid
from spinelab.synth import shape_priors as priors
from spinelab.synth.geometry import SpineGeometry

logger = logging.getLogger(__name__)

FORMAT = "spinelab-spine-shape-model/1"
#: The 26 standard vertebrae, the frame of every per-level array of the model.
LEVELS: tuple[str, ...] = anatomy.STANDARD_LABELS
LINKS: tuple[tuple[str, str], ...] = tuple(itertools.pairwise(LEVELS))
INTERIOR: tuple[str, ...] = LEVELS[1:-1]
N_LINK, N_INT, N_LEV = len(LINKS), len(INTERIOR), len(LEVELS)
#: Feature blocks of the model vector: (name, start, stop).
BLOCKS: dict[str, tuple[int, int]] = {
    "gap": (0, N_LINK),
    "sag": (N_LINK, N_LINK + N_INT),
    "cor": (N_LINK + N_INT, N_LINK + 2 * N_INT),
    "axial": (N_LINK + 2 * N_INT, N_LINK + 2 * N_INT + N_LEV),
}
N_FEAT = BLOCKS["axial"][1]
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"gap:{a}-{b}" for a, b in LINKS)
    + tuple(f"sag:{v}" for v in INTERIOR)
    + tuple(f"cor:{v}" for v in INTERIOR)
    + tuple(f"axial:{v}" for v in LEVELS)
)
_THORACOLUMBAR = tuple(v for v in anatomy.ALL_LABELS if v[0] in "TL")
_TRANSITIONAL_CHOICES = ("random", "T13", "L6", None)


@dataclass(frozen=True)
class ShapeFitConfig:
    """Settings of :meth:`SpineShapeModel.fit`.

    Attributes:
        prior_weight: Pseudo-count of the priors blended into per-feature means and variances
            of the sagittal/coronal turning and axial rotation (a level seen in ``n`` scans gets
            weight ``n / (n + prior_weight)`` on the data).
        min_co_observed: Fewest scans that must show two features together for their
            correlation to be estimated (otherwise 0).
        shrinkage: Weight of the identity in the shrunk correlation matrix.
        outlier_mads: Values further than this many robust standard deviations (1.4826 MAD)
            from a feature's median are dropped as annotation errors.
        max_pedicle_mm: Largest body-to-pedicle distance accepted when pairing pedicles.
        max_files: Read only the first ``max_files`` files (sorted by name); None = all.
    """

    prior_weight: float = 20.0
    min_co_observed: int = 30
    shrinkage: float = 0.1
    outlier_mads: float = 5.0
    max_pedicle_mm: float = 45.0
    max_files: int | None = None


# ----------------------------------------------------------------------------------- geometry
def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.where(n > 0, n, 1.0), dtype=np.float64)


def _cross(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cross product of two ``(3,)`` vectors (np.cross is slow on single vectors)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _unit3(v: NDArray[np.float64]) -> NDArray[np.float64]:
    n = math.sqrt(float(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]))
    return v / n if n > 0 else v


def _rotation_between(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """The smallest rotation taking unit vector ``a`` onto unit vector ``b``: ``(3, 3)``."""
    v = _cross(a, b)
    c = float(np.dot(a, b))
    if c < -1 + 1e-12:  # opposite: rotate by pi about any axis perpendicular to a
        axis = _unit(np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0]))
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def _axis_rotation(axis: NDArray[np.float64], angle_rad: float) -> NDArray[np.float64]:
    """Rotation by ``angle_rad`` about unit ``axis`` (right-hand rule): ``(3, 3)``."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1 - math.cos(angle_rad)) * k @ k


def _orthogonal_part(v: NDArray[np.float64], axis: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(v - np.dot(v, axis) * axis, dtype=np.float64)


def _signed_angle(
    a: NDArray[np.float64], b: NDArray[np.float64], axis: NDArray[np.float64]
) -> float:
    """Angle (rad) from ``a`` to ``b`` about ``axis``, both taken perpendicular to ``axis``."""
    a_p, b_p = _orthogonal_part(a, axis), _orthogonal_part(b, axis)
    return math.atan2(float(np.dot(np.cross(a_p, b_p), axis)), float(np.dot(a_p, b_p)))


def _bends(
    upper: NDArray[np.float64], lower: NDArray[np.float64], frame: NDArray[np.float64]
) -> tuple[float, float]:
    """Sagittal and coronal turning (degrees) from the lower to the upper segment direction.

    Args:
        upper: ``(3,)`` unit direction from the vertebra to its cranial neighbour.
        lower: ``(3,)`` unit direction from the caudal neighbour to the vertebra.
        frame: ``(3, 3)`` columns left, posterior, cranial of the vertebra.
    """
    u, lo = frame.T @ upper, frame.T @ lower
    sag = math.atan2(u[1], u[2]) - math.atan2(lo[1], lo[2])
    cor = math.atan2(u[0], u[2]) - math.atan2(lo[0], lo[2])
    return math.degrees(sag), math.degrees(cor)


def _adjacent(a: str, b: str) -> bool:
    """True when ``b`` directly follows ``a`` in a spine (T13 and L6 being optional)."""
    ia, ib = anatomy.chain_index(a), anatomy.chain_index(b)
    if ib - ia == 1:
        return True
    skipped = [v.name for v in anatomy.CHAIN[ia + 1 : ib]]
    return bool(skipped) and all(anatomy.by_name(x).transitional for x in skipped)


# ------------------------------------------------------------------------------- VID features
@dataclass
class _ScanFeatures:
    x: NDArray[np.float64]  # (N_FEAT,) with NaN where unobserved
    gap_l5_l6_mm: float  # NaN unless the scan shows L5 and L6
    has_l5: bool
    has_l6: bool
    pedicles_paired: int
    pedicles_rejected: int
    labels: list[str]


def _pair_pedicles(
    body_mm: NDArray[np.float64],
    side_mm: NDArray[np.float64],
    max_mm: float,
) -> NDArray[np.int64]:
    """For each body, the index of its mutually nearest pedicle within ``max_mm`` (-1: none)."""
    out = np.full(len(body_mm), -1, dtype=np.int64)
    if len(side_mm) == 0 or len(body_mm) == 0:
        return out
    d = np.linalg.norm(body_mm[:, None, :] - side_mm[None, :, :], axis=2)
    nearest_ped = d.argmin(axis=1)
    nearest_body = d.argmin(axis=0)
    for i, j in enumerate(nearest_ped):
        if d[i, j] <= max_mm and nearest_body[j] == i:
            out[i] = j
    return out


def _scan_features(path: Path, cfg: ShapeFitConfig) -> _ScanFeatures | None:
    scan = read_vid(path)
    if not scan.is_labelled:
        raise SpinelabInputError(path, "body points without spine_level (not a ground-truth file)")
    labels = [str(x) for x in scan.body_levels]
    if len(set(labels)) != len(labels):
        logger.debug("%s: repeated levels, skipped", path.name)
        return None
    order = np.argsort([anatomy.chain_index(x) for x in labels], kind="stable")
    labels = [labels[i] for i in order]
    body = scan.body_mm[order]
    n = len(labels)
    x = np.full(N_FEAT, np.nan)
    res = _ScanFeatures(x, math.nan, "L5" in labels, "L6" in labels, 0, 0, labels)
    if n < 2:
        return res
    # runs of adjacent vertebrae and the local cranial axes (bisectors of the segments)
    adj = [_adjacent(labels[i], labels[i + 1]) for i in range(n - 1)]
    seg = _unit(body[:-1] - body[1:])  # (n-1, 3): from vertebra i+1 up to vertebra i
    cran = np.full((n, 3), np.nan)
    for i in range(n):
        parts = []
        if i > 0 and adj[i - 1]:
            parts.append(seg[i - 1])
        if i < n - 1 and adj[i]:
            parts.append(seg[i])
        if parts:
            cran[i] = _unit(np.sum(parts, axis=0))
    # pedicles: mutually nearest left and right point, with sanity checks
    li = _pair_pedicles(body, scan.left_mm, cfg.max_pedicle_mm)
    ri = _pair_pedicles(body, scan.right_mm, cfg.max_pedicle_mm)
    left_axis = np.full((n, 3), np.nan)
    for i in range(n):
        if li[i] < 0 or ri[i] < 0 or not np.all(np.isfinite(cran[i])):
            continue
        lp, rp = scan.left_mm[li[i]], scan.right_mm[ri[i]]
        lr = _orthogonal_part(lp - rp, cran[i])
        post = _orthogonal_part((lp + rp) / 2 - body[i], cran[i])
        ok = (
            8.0 <= float(np.linalg.norm(lp - rp)) <= 70.0
            and np.linalg.norm(lr) > 0.8 * np.linalg.norm(lp - rp)
            and np.linalg.norm(post) >= 5.0
            and float(np.dot(np.cross(_unit(lr), _unit(post)), cran[i])) > 0.8
        )
        if ok:
            left_axis[i] = _unit(lr)
            res.pedicles_paired += 1
        else:
            res.pedicles_rejected += 1
    valid = np.all(np.isfinite(left_axis), axis=1)
    patient_left = _unit(np.nansum(left_axis[valid], axis=0)) if valid.any() else None
    # gaps
    for i in range(n - 1):
        if not adj[i]:
            continue
        a, b = labels[i], labels[i + 1]
        g = float(np.linalg.norm(body[i] - body[i + 1]))
        if (a, b) == ("L5", "L6"):
            res.gap_l5_l6_mm = g
        elif (a, b) in LINKS:
            x[LINKS.index((a, b))] = math.log(g)
    if patient_left is None:
        return res
    # frames, bends, axial rotation
    frames = np.full((n, 3, 3), np.nan)
    for i in range(n):
        if not np.all(np.isfinite(cran[i])):
            continue
        la = left_axis[i] if valid[i] else patient_left
        left = _unit(_orthogonal_part(la, cran[i]))
        if np.linalg.norm(left) < 0.5:
            continue
        frames[i] = np.column_stack([left, np.cross(cran[i], left), cran[i]])
    s0, a0 = BLOCKS["sag"][0], BLOCKS["axial"][0]
    c0 = BLOCKS["cor"][0]
    for i in range(1, n - 1):
        v = labels[i]
        if v not in INTERIOR or not (adj[i - 1] and adj[i]):
            continue
        if labels[i - 1] not in LEVELS or labels[i + 1] not in LEVELS:
            continue  # e.g. L5 between L4 and L6 is not the lumbosacral L5
        if not np.all(np.isfinite(frames[i])):
            continue
        sag, cor = _bends(seg[i - 1], seg[i], frames[i])
        k = INTERIOR.index(v)
        x[s0 + k], x[c0 + k] = sag, cor
    if int(valid.sum()) >= 3:
        for i in range(n):
            if valid[i] and labels[i] in LEVELS:
                phi = _signed_angle(patient_left, left_axis[i], cran[i])
                x[a0 + LEVELS.index(labels[i])] = math.degrees(phi)
    return res


@dataclass
class _Collected:
    x: NDArray[np.float64]  # (scans, N_FEAT), NaN where unobserved
    log_gap_l5_l6: list[float]
    level_scans: dict[str, int]
    scans_with_l5: int
    scans_with_l6: int
    pedicles_paired: int
    pedicles_rejected: int
    skipped: int


def _read_scans(files: list[Path], cfg: ShapeFitConfig) -> _Collected:
    """Features of every file (see :func:`_scan_features`), with counts for the JSON."""
    out = _Collected(np.zeros((0, N_FEAT)), [], {}, 0, 0, 0, 0, 0)
    rows = []
    for n, f in enumerate(files, 1):
        sf = _scan_features(f, cfg)
        if n % 500 == 0:
            logger.info("read %d of %d VID files", n, len(files))
        if sf is None:
            out.skipped += 1
            continue
        rows.append(sf.x)
        for v in sf.labels:
            out.level_scans[v] = out.level_scans.get(v, 0) + 1
        out.scans_with_l5 += sf.has_l5
        out.scans_with_l6 += sf.has_l6
        out.pedicles_paired += sf.pedicles_paired
        out.pedicles_rejected += sf.pedicles_rejected
        if math.isfinite(sf.gap_l5_l6_mm):
            out.log_gap_l5_l6.append(math.log(sf.gap_l5_l6_mm))
    out.x = np.array(rows, dtype=np.float64).reshape(-1, N_FEAT)
    return out


def _drop_outliers(x: NDArray[np.float64], mads: float) -> int:
    """Set values further than ``mads`` robust sds from their column median to NaN (in place).

    Returns:
        How many values were dropped.
    """
    dropped = 0
    for fi in range(x.shape[1]):
        col = x[:, fi]
        ok = np.isfinite(col)
        if ok.sum() < 5:
            continue
        med = np.median(col[ok])
        mad = 1.4826 * np.median(np.abs(col[ok] - med))
        bad = ok & (np.abs(col - med) > mads * max(mad, 1e-9))
        dropped += int(bad.sum())
        col[bad] = np.nan
    return dropped


def _pairwise_moments(
    x: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Counts ``(F,)``, means ``(F,)``, pairwise-complete covariance ``(F, F)`` and
    co-observation counts ``(F, F)`` of a feature matrix with NaN for missing values."""
    obs = np.isfinite(x)
    counts = obs.sum(axis=0).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, np.nansum(x, axis=0) / np.maximum(counts, 1), np.nan)
        z = np.where(obs, x - mean, 0.0)
        m = obs.astype(np.float64)
        co = m.T @ m
        cov = (z.T @ z) / np.maximum(co - 1, 1)
    return counts, mean, cov, co


# ---------------------------------------------------------------------- annotation noise
def _centre_noise_operator(gap_mm: NDArray[np.float64]) -> NDArray[np.float64]:
    """Feature covariance caused by unit (1 mm^2) isotropic noise on each body centre.

    With centres ``c_j + e_j``, ``e_j ~ N(0, s^2 I)``, the log-gap of link ``k`` moves by
    ``(e_k - e_k+1) . u / g_k`` and the turning at vertebra ``i`` by
    ``e_i-1 / g_a - e_i (1/g_a + 1/g_b) + e_i+1 / g_b`` (perpendicular part, radians), in each
    of the sagittal and coronal directions independently.

    Args:
        gap_mm: ``(25,)`` typical gap of each link.

    Returns:
        ``(99, 99)`` covariance (log units and degrees^2) per mm^2 of centre noise.
    """
    out = np.zeros((N_FEAT, N_FEAT))
    d = np.zeros((N_LINK, N_LEV))
    for k in range(N_LINK):
        d[k, k], d[k, k + 1] = 1.0 / gap_mm[k], -1.0 / gap_mm[k]
    g0, g1 = BLOCKS["gap"]
    out[g0:g1, g0:g1] = d @ d.T
    a = np.zeros((N_INT, N_LEV))
    for k in range(N_INT):  # vertebra k+1, links k (above) and k+1 (below)
        ga, gb = gap_mm[k], gap_mm[k + 1]
        a[k, k], a[k, k + 1], a[k, k + 2] = 1.0 / ga, -(1.0 / ga + 1.0 / gb), 1.0 / gb
    bend = np.degrees(1.0) ** 2 * (a @ a.T)
    for block in ("sag", "cor"):
        b0, b1 = BLOCKS[block]
        out[b0:b1, b0:b1] = bend
    return out


def _estimate_centre_noise_mm2(
    cov: NDArray[np.float64],
    co: NDArray[np.float64],
    noise_unit: NDArray[np.float64],
    cfg: ShapeFitConfig,
) -> float:
    """Centre annotation noise variance (mm^2) from neighbouring turning angles.

    Noise makes the turning at neighbouring vertebrae negatively correlated; true curvature
    is smooth and correlates them positively. Attributing the whole negative lag-1 covariance
    to noise (median over well-observed neighbours, sagittal and coronal) gives a conservative
    (low) estimate.
    """
    est = []
    for block in ("sag", "cor"):
        b0, _ = BLOCKS[block]
        for k in range(N_INT - 1):
            i, j = b0 + k, b0 + k + 1
            if co[i, j] >= 10 * cfg.min_co_observed and noise_unit[i, j] < 0:
                est.append(max(cov[i, j] / noise_unit[i, j], 0.0))
    return float(np.median(est)) if est else 0.0


# ------------------------------------------------------------------------------------- priors
def _prior_mean_std() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Prior mean and std of every feature (gap priors in log-space)."""
    mean, std = np.zeros(N_FEAT), np.zeros(N_FEAT)
    body = priors.body_priors_mm(LEVELS)
    for k, (a, b) in enumerate(LINKS):
        if (a, b) in priors.GAP_PRIORS_MM:
            m, s = priors.GAP_PRIORS_MM[(a, b)]
        else:
            m = (body[k, 0] + body[k + 1, 0]) / 2 + body[k, 3]
            s = 0.1 * m
        var = math.log(1 + (s / m) ** 2)
        mean[k], std[k] = math.log(m) - var / 2, math.sqrt(var)
    for k, v in enumerate(INTERIOR):
        mean[BLOCKS["sag"][0] + k], std[BLOCKS["sag"][0] + k] = priors.SAGITTAL_BEND_PRIORS_DEG[v]
        mean[BLOCKS["cor"][0] + k], std[BLOCKS["cor"][0] + k] = priors.CORONAL_BEND_PRIOR_DEG
    a0, a1 = BLOCKS["axial"]
    mean[a0:a1], std[a0:a1] = priors.AXIAL_ROTATION_PRIOR_DEG
    return mean, std


def _nearest_psd_correlation(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Clip negative eigenvalues and renormalize to a unit diagonal."""
    w, v = np.linalg.eigh((c + c.T) / 2)
    w = np.clip(w, 1e-6, None)
    r = (v * w) @ v.T
    d = np.sqrt(np.diag(r))
    return np.asarray(r / np.outer(d, d), dtype=np.float64)


# -------------------------------------------------------------------------------------- model
@dataclass(eq=False, repr=False)
class SpineShapeModel:
    """The fitted model (see the module docstring for what each array means).

    Attributes:
        mean: ``(99,)`` feature means (log mm for gaps, degrees otherwise), priors blended in.
        std: ``(99,)`` feature standard deviations, residual of the patient scale for gaps.
        corr: ``(99, 99)`` residual correlation (positive definite, unit diagonal).
        counts: ``(99,)`` number of VID scans that observed each feature.
        data_mean: ``(99,)`` VID-only feature means (NaN where unobserved).
        data_std: ``(99,)`` VID-only feature standard deviations (NaN where unobserved).
        log_scale_sigma: Standard deviation of the per-patient log scale factor.
        gap_l5_l6_log: ``(2,)`` mean and std of the log L5-L6 gap (VID, scans with L6).
        p_l6: Probability of a sixth lumbar vertebra. p_t13: of a thirteenth thoracic one.
        body_prior_mm: ``(28, 4)`` body height, width, depth and disc-below priors for
            ``anatomy.ALL_LABELS``.
        info: JSON-serializable provenance (source, counts, settings).
    """

    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    corr: NDArray[np.float64]
    counts: NDArray[np.int64]
    data_mean: NDArray[np.float64]
    data_std: NDArray[np.float64]
    log_scale_sigma: float
    gap_l5_l6_log: NDArray[np.float64]
    p_l6: float
    p_t13: float
    body_prior_mm: NDArray[np.float64]
    info: dict[str, Any]

    def __post_init__(self) -> None:
        self._chol: NDArray[np.float64] | None = None

    def __repr__(self) -> str:
        return (
            f"SpineShapeModel(scans={self.info.get('n_scans_used')}, features={N_FEAT}, "
            f"log_scale_sigma={self.log_scale_sigma:.3f}, p_l6={self.p_l6:.4f}, "
            f"p_t13={self.p_t13:.4f})"
        )

    # ----------------------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls, ground_truth_dir: str | os.PathLike[str], config: ShapeFitConfig | None = None
    ) -> SpineShapeModel:
        """Fit the model on VID ground-truth files.

        Args:
            ground_truth_dir: Folder of VID ground-truth ``*.json`` files (body points with
                ``spine_level`` and left/right pedicles).
            config: Fit settings; defaults to :class:`ShapeFitConfig`.

        Raises:
            SpinelabInputError: if the folder is missing, holds no JSON files, or a file is
                not a VID ground-truth file.
        """
        cfg = config or ShapeFitConfig()
        root = Path(ground_truth_dir)
        if not root.is_dir():
            raise SpinelabInputError(root, "not a folder of VID ground-truth files")
        files = sorted(root.glob("*.json"))
        if cfg.max_files is not None:
            files = files[: cfg.max_files]
        if not files:
            raise SpinelabInputError(root, "no *.json files")
        data = _read_scans(files, cfg)
        x = data.x
        dropped = _drop_outliers(x, cfg.outlier_mads)
        counts, data_mean, cov, co = _pairwise_moments(x)
        data_std = np.where(counts > 1, np.sqrt(np.diag(cov)), np.nan)
        # annotation noise of the body centres: remove its share of the covariance
        p_mean0, _ = _prior_mean_std()
        gap_mm = np.exp(
            np.where(counts[:N_LINK] > 1, np.nan_to_num(data_mean[:N_LINK]), p_mean0[:N_LINK])
        )
        noise_unit = _centre_noise_operator(gap_mm)  # covariance per mm^2 of centre noise
        sigma2 = _estimate_centre_noise_mm2(cov, co, noise_unit, cfg)
        noise = sigma2 * noise_unit
        cov = cov - np.where(co > 1, noise, 0.0)
        floor = 0.25 * np.maximum(np.diag(cov) + np.diag(noise), 0.0)
        np.fill_diagonal(cov, np.maximum(np.diag(cov), floor))
        # per-patient scale: the covariance shared by all pairs of log-gaps
        g0, g1 = BLOCKS["gap"]
        gco = co[g0:g1, g0:g1]
        off = ~np.eye(N_LINK, dtype=bool) & (gco >= max(cfg.min_co_observed, 100))
        scale_var = max(float(np.median(cov[g0:g1, g0:g1][off])), 0.0) if off.any() else 0.0
        cov_res = cov.copy()
        cov_res[g0:g1, g0:g1] -= scale_var
        # blend with priors
        p_mean, p_std = _prior_mean_std()
        p_var = p_std**2
        p_var[g0:g1] = np.maximum(p_var[g0:g1] - scale_var, 1e-6)
        w = counts / (counts + cfg.prior_weight)
        w[g0:g1] = (counts[g0:g1] > 1).astype(float)  # gaps: data wherever VID has them
        res_var = np.where(counts > 1, np.diag(cov_res), 0.0)
        res_var = np.maximum(res_var, 1e-6)
        mean = np.where(counts > 0, w * np.nan_to_num(data_mean) + (1 - w) * p_mean, p_mean)
        var = w * res_var + (1 - w) * p_var
        std = np.sqrt(var)
        # residual correlation from co-observed pairs, shrunk, PSD
        d = np.sqrt(np.maximum(np.diag(cov_res), 1e-12))
        corr = cov_res / np.outer(d, d)
        corr[co < cfg.min_co_observed] = 0.0
        corr = np.clip(np.nan_to_num(corr), -1.0, 1.0)
        np.fill_diagonal(corr, 1.0)
        corr = (1 - cfg.shrinkage) * corr + cfg.shrinkage * np.eye(N_FEAT)
        corr = _nearest_psd_correlation(corr)
        l5l6 = data.log_gap_l5_l6
        if len(l5l6) >= 2:
            gap56 = np.array(
                [np.mean(l5l6), max(np.std(l5l6, ddof=1) ** 2 - scale_var, 1e-6) ** 0.5]
            )
        else:
            gap56 = np.array([mean[LINKS.index(("L4", "L5"))], std[LINKS.index(("L4", "L5"))]])
        p_l6 = data.scans_with_l6 / data.scans_with_l5 if data.scans_with_l5 else 0.0
        info = {
            "source": f"{root.parent.name}/{root.name}",
            "level_scans": {v: data.level_scans.get(v, 0) for v in anatomy.ALL_LABELS},
            "n_files": len(files),
            "n_scans_used": len(x),
            "n_scans_skipped": data.skipped,
            "n_values_dropped_as_outliers": dropped,
            "pedicle_pairs_accepted": data.pedicles_paired,
            "pedicle_pairs_rejected": data.pedicles_rejected,
            "l6_scans": data.scans_with_l6,
            "scans_with_l5": data.scans_with_l5,
            "l5_l6_gap_scans": len(l5l6),
            "centre_noise_sd_mm": math.sqrt(sigma2),
            "config": asdict(cfg),
        }
        logger.info(
            "fitted spine shape model on %d scans (%d values dropped as outliers)",
            len(x),
            dropped,
        )
        return cls(
            mean=mean,
            std=std,
            corr=corr,
            counts=counts,
            data_mean=data_mean,
            data_std=data_std,
            log_scale_sigma=math.sqrt(scale_var),
            gap_l5_l6_log=gap56,
            p_l6=p_l6,
            p_t13=priors.T13_FREQUENCY,
            body_prior_mm=priors.body_priors_mm(anatomy.ALL_LABELS),
            info=info,
        )

    # --------------------------------------------------------------------------------- I/O
    _ARRAYS = (
        "mean",
        "std",
        "corr",
        "counts",
        "data_mean",
        "data_std",
        "gap_l5_l6_log",
        "body_prior_mm",
    )

    def save(self, stem: str | os.PathLike[str], *, force: bool = False) -> None:
        """Write ``stem.npz`` (arrays) and ``stem.json`` (scalars, names, provenance), atomically.

        Raises:
            OutputExistsError: if either file exists and ``force`` is False.
        """
        stem = Path(stem)
        npz, js = stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")
        check_writable(npz, force)
        check_writable(js, force)
        with atomic_path(npz, force) as tmp:
            _write_npz(tmp, {k: np.asarray(getattr(self, k)) for k in self._ARRAYS})
        write_text_atomic(js, json.dumps(self._json_dict(), indent=1) + "\n", force)
        for written in (npz, js):  # temporary files are private (0600); these are data files
            written.chmod(0o644)

    def _json_dict(self) -> dict[str, Any]:
        g0 = BLOCKS["gap"][0]
        per_link = {
            f"{a}-{b}": {
                "scans": int(self.counts[g0 + k]),
                "vid_geometric_mean_mm": _round(math.exp(self.data_mean[g0 + k]))
                if self.counts[g0 + k]
                else None,
                "model_median_mm": _round(math.exp(self.mean[g0 + k])),
            }
            for k, (a, b) in enumerate(LINKS)
        }
        per_level = {
            v: {
                "axial_scans": int(self.counts[BLOCKS["axial"][0] + i]),
                "bend_scans": int(self.counts[BLOCKS["sag"][0] + INTERIOR.index(v)])
                if v in INTERIOR
                else 0,
                "sagittal_bend_deg": _round(self.mean[BLOCKS["sag"][0] + INTERIOR.index(v)])
                if v in INTERIOR
                else None,
            }
            for i, v in enumerate(LEVELS)
        }
        return {
            "format": FORMAT,
            "features": list(FEATURE_NAMES),
            "levels": list(LEVELS),
            "body_prior_labels": list(anatomy.ALL_LABELS),
            "log_scale_sigma": self.log_scale_sigma,
            "p_l6": self.p_l6,
            "p_t13": self.p_t13,
            "per_link": per_link,
            "per_level": per_level,
            "info": self.info,
        }

    @classmethod
    def load(cls, stem: str | os.PathLike[str]) -> SpineShapeModel:
        """Read a model written by :meth:`save` (``stem.npz`` + ``stem.json``).

        Raises:
            SpinelabInputError: if a file is missing or not a spine shape model.
        """
        stem = Path(stem)
        npz, js = stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")
        meta = read_json(js)
        return cls._from_parts(npz, meta, npz.read_bytes() if npz.is_file() else None)

    @classmethod
    def load_default(cls) -> SpineShapeModel:
        """The model shipped with spinelab (fitted on the 1,947 VID ground-truth spines)."""
        base = resources.files("spinelab") / "data"
        try:
            meta = json.loads((base / "spine_shape_model.json").read_text(encoding="utf-8"))
            npz_bytes = (base / "spine_shape_model.npz").read_bytes()
        except FileNotFoundError:
            raise SpinelabInputError(
                str(base / "spine_shape_model.npz"),
                "the shipped spine shape model is missing; reinstall spinelab or rebuild it "
                "with scripts/fit_spine_shape_model.py",
            ) from None
        return cls._from_parts(Path("spinelab/data/spine_shape_model.npz"), meta, npz_bytes)

    @classmethod
    def _from_parts(cls, npz_path: Path, meta: Any, npz_bytes: bytes | None) -> SpineShapeModel:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SpinelabInputError(npz_path.with_suffix(".json"), f"not a {FORMAT} file")
        if meta.get("features") != list(FEATURE_NAMES):
            raise SpinelabInputError(
                npz_path.with_suffix(".json"), "feature list differs from this spinelab version"
            )
        if npz_bytes is None:
            raise SpinelabInputError(npz_path, "file not found")
        try:
            with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as z:
                arrays = {k: np.asarray(z[k]) for k in cls._ARRAYS}
        except (OSError, ValueError, KeyError) as exc:
            raise SpinelabInputError(npz_path, f"not a spine shape model archive ({exc})") from None
        shapes = {
            "mean": (N_FEAT,),
            "std": (N_FEAT,),
            "corr": (N_FEAT, N_FEAT),
            "counts": (N_FEAT,),
            "data_mean": (N_FEAT,),
            "data_std": (N_FEAT,),
            "gap_l5_l6_log": (2,),
            "body_prior_mm": (len(anatomy.ALL_LABELS), 4),
        }
        for k, shape in shapes.items():
            if arrays[k].shape != shape:
                raise SpinelabInputError(
                    npz_path, f"array {k} has shape {arrays[k].shape}, not {shape}"
                )
        return cls(
            mean=arrays["mean"].astype(np.float64),
            std=arrays["std"].astype(np.float64),
            corr=arrays["corr"].astype(np.float64),
            counts=arrays["counts"].astype(np.int64),
            data_mean=arrays["data_mean"].astype(np.float64),
            data_std=arrays["data_std"].astype(np.float64),
            log_scale_sigma=float(meta["log_scale_sigma"]),
            gap_l5_l6_log=arrays["gap_l5_l6_log"].astype(np.float64),
            p_l6=float(meta["p_l6"]),
            p_t13=float(meta["p_t13"]),
            body_prior_mm=arrays["body_prior_mm"].astype(np.float64),
            info=dict(meta.get("info", {})),
        )

    # ------------------------------------------------------------------------------ sampling
    def _cholesky(self) -> NDArray[np.float64]:
        if self._chol is None:
            cov = self.corr * np.outer(self.std, self.std)
            self._chol = np.asarray(
                np.linalg.cholesky(cov + 1e-10 * np.eye(N_FEAT)), dtype=np.float64
            )
        return self._chol

    def sample_features(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """One draw of the 99 residual features (log-gaps without the patient scale).

        Returns:
            ``(99,)`` feature vector (see ``FEATURE_NAMES``).
        """
        return np.asarray(self.mean + self._cholesky() @ rng.standard_normal(N_FEAT))

    def draw_transitional(self, rng: np.random.Generator) -> tuple[bool, bool]:
        """Draw whether a spine has a T13 and whether it has an L6 (independently).

        Returns:
            ``(has_t13, has_l6)`` with probabilities :attr:`p_t13` and :attr:`p_l6`.
        """
        u = rng.random(2)
        return bool(u[0] < self.p_t13), bool(u[1] < self.p_l6)

    def sample(
        self,
        rng: np.random.Generator,
        *,
        transitional: str | None = "random",
        scoliosis_deg: float | None = None,
        scale: float | None = None,
    ) -> SpineGeometry:
        """Sample one whole spine C1..S2, upright in LPS (z superior, anterior = -y).

        Args:
            rng: Random generator; the same seed gives identical arrays.
            transitional: "random" draws T13 / L6 at their frequencies (:attr:`p_t13`,
                :attr:`p_l6`); "T13" or "L6" forces one; None gives the 26 standard vertebrae.
            scoliosis_deg: Cobb angle (degrees) of an added scoliotic curve, 0 for none beyond
                the natural coronal variation; None draws one from
                :data:`~spinelab.synth.shape_priors.SCOLIOSIS_MIX`.
            scale: Patient size factor applied to all lengths (1 = the VID median); None draws
                it from the fitted per-patient scale distribution.

        Returns:
            A :class:`SpineGeometry`; ``attributes`` holds the scale, the transitional
            vertebra, the scoliosis request and curve, and measured angles (Cobb, kyphosis,
            lordosis, sacral slope).
        """
        if transitional not in _TRANSITIONAL_CHOICES:
            raise ValueError(
                f"transitional must be one of {_TRANSITIONAL_CHOICES}, not {transitional!r}"
            )
        if scale is not None and not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        if scoliosis_deg is not None and not 0 <= scoliosis_deg <= 120:
            raise ValueError(f"scoliosis_deg must be in [0, 120], got {scoliosis_deg}")
        feat = self.sample_features(rng)
        log_s = (
            math.log(scale) if scale is not None else self.log_scale_sigma * rng.standard_normal()
        )
        extras = rng.standard_normal(6)
        if transitional == "random":
            t13, l6 = self.draw_transitional(rng)
        else:
            t13, l6 = transitional == "T13", transitional == "L6"
        labels, gaps, sag, cor, phi = self._chain(feat, extras, t13=t13, l6=l6)
        gaps = gaps * math.exp(log_s)
        if scoliosis_deg is None:
            scoliosis_deg = _draw_scoliosis(rng)
        curve = _scoliosis_curve(labels, rng) if scoliosis_deg > 0 else None
        dims_noise = rng.standard_normal(2)
        centres, frames = _build(labels, gaps, sag, cor, phi)
        cobb = cobb_before = cobb_angle_deg(labels, frames)[0]
        natural_factor = 1.0
        if curve is not None:
            # keep the natural coronal wiggle below the requested curve, then fit its size
            if cobb_before > 0.6 * scoliosis_deg:
                natural_factor = 0.6 * scoliosis_deg / cobb_before
            cor_natural = cor * natural_factor
            amp = float(scoliosis_deg)
            for _ in range(10):
                cor_total, phi_total = _add_curve(labels, cor_natural, phi, curve, amp)
                centres, frames = _build(labels, gaps, sag, cor_total, phi_total)
                cobb = cobb_angle_deg(labels, frames)[0]
                if abs(cobb - scoliosis_deg) < 0.25:
                    break
                amp = max(amp + (scoliosis_deg - cobb), 0.0)
        heights, discs = self._heights_and_discs(labels, gaps)
        prior = self.body_prior_mm[[anatomy.chain_index(v) for v in labels]]
        s = float(scale) if scale is not None else math.exp(log_s)
        level_noise = priors.BODY_LEVEL_SIGMA * rng.standard_normal((2, len(labels)))
        width = prior[:, 1] * s * np.exp(priors.BODY_SIZE_SIGMA * dims_noise[0] + level_noise[0])
        depth = prior[:, 2] * s * np.exp(priors.BODY_SIZE_SIGMA * dims_noise[1] + level_noise[1])
        attrs: dict[str, Any] = {
            "model": FORMAT,
            "scale": s,
            "transitional": [v for v in labels if anatomy.by_name(v).transitional],
            "scoliosis_requested_deg": float(scoliosis_deg),
            "scoliosis_curve": None
            if curve is None
            else {"type": curve[0], "upper": curve[1], "lower": curve[2], "convex": curve[3]},
            "cobb_deg": cobb,
            "cobb_without_added_curve_deg": cobb_before,
            "natural_coronal_factor": natural_factor,
            **_sagittal_angles(labels, frames),
        }
        return SpineGeometry(labels, centres, frames, heights, width, depth, discs, attrs)

    def _chain(
        self, feat: NDArray[np.float64], extras: NDArray[np.float64], *, t13: bool, l6: bool
    ) -> tuple[
        list[str],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
    ]:
        """Labels and per-link/per-vertebra values (gaps without patient scale, mm; degrees)."""
        g0, g1 = BLOCKS["gap"]
        gaps = list(np.exp(feat[g0:g1]))
        sag = [0.0, *feat[slice(*BLOCKS["sag"])], 0.0]  # per vertebra, 0 at the ends
        cor = [0.0, *feat[slice(*BLOCKS["cor"])], 0.0]
        phi = list(feat[slice(*BLOCKS["axial"])])
        labels = list(LEVELS)

        def marginal(block: str, label: str, z: float) -> float:
            k = BLOCKS[block][0] + (INTERIOR if block in ("sag", "cor") else LEVELS).index(label)
            return float(self.mean[k] + self.std[k] * z)

        if l6:
            i5 = labels.index("L5")
            labels.insert(i5 + 1, "L6")
            gap56 = math.exp(self.gap_l5_l6_log[0] + self.gap_l5_l6_log[1] * extras[0])
            gaps.insert(i5, gap56)  # L5-L6; the old L5-S1 gap becomes L6-S1
            # L6 takes the lumbosacral turning and rotation; L5 becomes a mid-lumbar vertebra
            sag.insert(i5 + 1, sag[i5])
            cor.insert(i5 + 1, cor[i5])
            phi.insert(i5 + 1, phi[i5])
            sag[i5] = marginal("sag", "L4", extras[1])
            phi[i5] = marginal("axial", "L4", extras[2])
            # six lumbar vertebrae share the lordosis of five
            for k in range(labels.index("L1"), labels.index("L6") + 1):
                sag[k] *= 5.0 / 6.0
        if t13:
            i12 = labels.index("T12")
            labels.insert(i12 + 1, "T13")
            g_11_12, g_12_l1 = gaps[i12 - 1], gaps[i12]
            gaps.insert(i12, math.sqrt(g_11_12 * g_12_l1) * math.exp(0.05 * extras[3]))
            sag.insert(i12 + 1, marginal("sag", "T12", extras[4]))
            cor.insert(i12 + 1, 0.0)
            phi.insert(i12 + 1, (phi[i12] + phi[i12 + 1]) / 2 + 2.0 * extras[5])
        return labels, np.array(gaps), np.array(sag), np.array(cor), np.array(phi)

    def _heights_and_discs(
        self, labels: list[str], gaps: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Body heights ``(N,)`` and discs ``(N-1,)`` (mm) with ``gap = (h_i + h_i+1)/2 + disc``.

        Bounded least squares close to the (scaled) priors, the gap equations weighted 1000x;
        discs stay 0 where there is none (C1-C2, S1-S2) and at least 1 mm elsewhere, bodies at
        least 40 % of their prior.
        """
        n = len(labels)
        prior = self.body_prior_mm[[anatomy.chain_index(v) for v in labels]]
        h0, d0 = prior[:, 0], prior[:-1, 3]
        ratio = float(np.sum(gaps) / np.sum((h0[:-1] + h0[1:]) / 2 + d0))
        h0, d0 = h0 * ratio, d0 * ratio
        has_disc = d0 > 0
        nd = int(has_disc.sum())
        a = np.zeros((n - 1 + n + nd, n + nd))
        b = np.zeros(a.shape[0])
        disc_col = np.full(n - 1, -1)
        disc_col[has_disc] = n + np.arange(nd)
        big = 1000.0
        for i in range(n - 1):
            a[i, i] = a[i, i + 1] = 0.5 * big
            if has_disc[i]:
                a[i, disc_col[i]] = big
            b[i] = big * gaps[i]
        r = n - 1
        for i in range(n):  # heights: relative deviation from prior
            a[r + i, i] = 1.0 / h0[i]
            b[r + i] = 1.0
        for j, k in enumerate(np.flatnonzero(has_disc)):  # discs vary more than bodies
            a[r + n + j, n + j] = 0.5 / d0[k]
            b[r + n + j] = 0.5
        lower = np.concatenate([0.4 * h0, np.full(nd, 1.0)])
        sol = lsq_linear(a, b, bounds=(lower, np.inf), method="bvls").x
        heights = np.asarray(sol[:n], dtype=np.float64)
        discs = np.zeros(n - 1)
        discs[has_disc] = sol[n:]
        return heights, discs


def _write_npz(path: Path, arrays: dict[str, NDArray[Any]]) -> None:
    """Write an ``.npz`` archive byte-for-byte reproducibly (fixed zip timestamps)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def _round(v: float) -> float:
    return round(float(v), 3)


# ------------------------------------------------------------------------ building a spine
def _build(
    labels: list[str],
    gaps: NDArray[np.float64],
    sag: NDArray[np.float64],
    cor: NDArray[np.float64],
    phi: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centres ``(N, 3)`` and frames ``(N, 3, 3)`` of a chain, upright and centred.

    Built from the bottom up: the lowest segment points along +z; at each vertebra the segment
    above turns by the sagittal/coronal angles in the frame transported along the chain. Then
    the line from S1 to C2 is made vertical, the mean left axis +x, and the centroid the origin.
    """
    n = len(labels)
    seg_frames = np.zeros((n - 1, 3, 3))  # frame of segment i (vertebra i+1 -> i)
    centres = np.zeros((n, 3))
    r = np.eye(3)
    seg_frames[n - 2] = r
    centres[n - 2] = centres[n - 1] + gaps[n - 2] * r[:, 2]
    for i in range(n - 2, 0, -1):
        d_local = _unit(
            np.array([math.tan(math.radians(cor[i])), math.tan(math.radians(sag[i])), 1.0])
        )
        d = r @ d_local
        r = _rotation_between(r[:, 2], d) @ r
        seg_frames[i - 1] = r
        centres[i - 1] = centres[i] + gaps[i - 1] * d
    frames = np.zeros((n, 3, 3))
    for i in range(n):
        below = seg_frames[i] if i < n - 1 else seg_frames[n - 2]
        above = seg_frames[i - 1] if i > 0 else seg_frames[0]
        cran = _unit3(above[:, 2] + below[:, 2])
        left = _unit3(_orthogonal_part(above[:, 0] + below[:, 0], cran))
        left = _axis_rotation(cran, math.radians(phi[i])) @ left
        frames[i] = np.column_stack([left, _cross(cran, left), cran])
    # upright: S1 -> C2 vertical; mean left axis +x; centred
    top, bottom = labels.index("C2"), labels.index("S1")
    q = _rotation_between(_unit3(centres[top] - centres[bottom]), np.array([0.0, 0.0, 1.0]))
    centres, frames = centres @ q.T, np.einsum("ij,njk->nik", q, frames)
    mean_left = frames[:, :, 0].mean(axis=0)
    yaw = _axis_rotation(np.array([0.0, 0.0, 1.0]), -math.atan2(mean_left[1], mean_left[0]))
    centres, frames = centres @ yaw.T, np.einsum("ij,njk->nik", yaw, frames)
    return centres - centres.mean(axis=0), frames


def _coronal_tilts_deg(
    labels: list[str], frames: NDArray[np.float64]
) -> tuple[list[int], NDArray[np.float64]]:
    idx = [i for i, v in enumerate(labels) if v in _THORACOLUMBAR]
    cran = frames[idx, :, 2]
    return idx, np.degrees(np.arctan2(cran[:, 0], cran[:, 2]))


def cobb_angle_deg(labels: list[str], frames: NDArray[np.float64]) -> tuple[float, str, str]:
    """Largest coronal Cobb angle among T1..L5 (T13/L6 included) of an upright spine.

    The coronal tilt of each vertebra is the angle of its cranial axis (frame column 2) in the
    world x-z plane; the Cobb angle is the largest tilt difference between two vertebrae.

    Args:
        labels: Vertebra names in chain order.
        frames: ``(N, 3, 3)`` vertebra frames of an upright spine (z superior).

    Returns:
        The angle in degrees and the two end vertebrae (upper, lower).
    """
    idx, tilt = _coronal_tilts_deg(labels, frames)
    if len(idx) < 2:
        return 0.0, labels[0], labels[0]
    diff = tilt[:, None] - tilt[None, :]
    i, j = np.unravel_index(np.argmax(np.abs(diff)), diff.shape)
    a, b = sorted((int(i), int(j)))
    return float(abs(diff[i, j])), labels[idx[a]], labels[idx[b]]


def _sagittal_angles(labels: list[str], frames: NDArray[np.float64]) -> dict[str, float]:
    """Cervical lordosis C2-C7, thoracic kyphosis T4-T12, lumbar lordosis L1-S1, sacral slope.

    Angles between the sagittal projections of the cranial axes (degrees, positive as named).
    """
    cran = frames[:, :, 2]
    tilt = np.degrees(np.arctan2(cran[:, 1], cran[:, 2]))  # + = top tilted posteriorly

    def at(v: str) -> float:
        return float(tilt[labels.index(v)])

    return {
        "cervical_lordosis_deg": at("C2") - at("C7"),
        "thoracic_kyphosis_deg": at("T12") - at("T4"),
        "lumbar_lordosis_deg": at("L1") - at("S1"),
        "sacral_slope_deg": -at("S1"),
    }


# -------------------------------------------------------------------------------- scoliosis
def _draw_scoliosis(rng: np.random.Generator) -> float:
    probs = np.array([p for p, _, _ in priors.SCOLIOSIS_MIX])
    k = int(rng.choice(len(probs), p=probs / probs.sum()))
    _, lo, hi = priors.SCOLIOSIS_MIX[k]
    return float(rng.uniform(lo, hi)) if hi > 0 else 0.0


def _scoliosis_curve(labels: list[str], rng: np.random.Generator) -> tuple[str, str, str, str]:
    """A curve (type, upper end, lower end, convex side "left"/"right") for these labels."""
    kind, upper, _apex, lower = priors.SCOLIOSIS_CURVES[
        int(rng.integers(len(priors.SCOLIOSIS_CURVES)))
    ]
    shift = int(rng.integers(-1, 2))
    iu = min(max(labels.index(upper) + shift, labels.index("T2")), labels.index("L3"))
    il = min(max(labels.index(lower) + shift, iu + 4), labels.index("L5"))
    p_right = 0.85 if kind == "thoracic" else 0.3
    side = "right" if rng.random() < p_right else "left"
    return kind, labels[iu], labels[il], side


def _add_curve(
    labels: list[str],
    cor: NDArray[np.float64],
    phi: NDArray[np.float64],
    curve: tuple[str, str, str, str],
    amplitude_deg: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coronal turning and axial rotation with a main curve and a half-size compensatory one."""
    _, upper, lower, side = curve
    sign = 1.0 if side == "right" else -1.0  # a right-convex curve turns to the left going up
    cor, phi = cor.copy(), phi.copy()
    iu, il = labels.index(upper), labels.index(lower)
    n_top = labels.index("T1")
    n_bot = labels.index("S1")
    segments = [(iu, il, 1.0)]
    if iu - n_top >= 4:  # compensatory curve above
        segments.append((max(n_top, iu - (il - iu)), iu, -0.5))
    if n_bot - il >= 3:  # or below
        segments.append((il, n_bot, -0.5))
    for a, b, frac in segments:
        k = np.arange(a, b + 1)
        w = np.sin(np.pi * (k - a) / (b - a))
        if w.sum() <= 0:
            continue
        cor[k] += sign * frac * amplitude_deg * w / w.sum()
        # the body turns towards the convex side: right-convex -> clockwise from above (-)
        phi[k] += -sign * frac * priors.APICAL_ROTATION_PER_COBB * amplitude_deg * w
    return cor, phi
