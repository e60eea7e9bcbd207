"""Measured realism of a CT around the lumbar spine: per-tissue HU, noise and the body histogram.

The same procedure runs on a real CT (with its vertebra masks) and on a synthetic case (with its
label map), at comparable resolution, so the numbers can be compared side by side
(``scripts/synth_compare.py``). Everything is measured on the canonical grid (array axes
increasing towards patient left, posterior and superior; see :func:`canonical`) in a slab around
the lumbar vertebrae:

- vertebral body interior: each vertebra's mask eroded by 6 mm, largest connected piece (the
  body; the thinner posterior elements vanish). Its centroid is the body centre used below;
- paraspinal muscle: boxes 20-45 mm either side of the midline, 35-65 mm behind the body
  centre, within 9 mm of its height, voxels between -20 and 150 HU (fat septa and bone left out);
- subcutaneous fat: the outer 3-12 mm of the body (HU > -300, holes filled per slice), voxels
  between -250 and -30 HU;
- noise: robust standard deviation (1.4826 x median absolute deviation) of the fat and muscle
  voxels, which are otherwise homogeneous;
- histogram: HU of the whole body mask between the first and last lumbar body centre, in 10 HU
  bins from -1000 to 1500, with percentiles; :func:`histogram_l1` compares two of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

#: Histogram bin edges (HU).
HIST_EDGES = np.arange(-1000.0, 1501.0, 10.0)
#: Percentiles reported for the body histogram.
PERCENTILES = (5, 25, 50, 75, 95, 99)


def canonical(
    array: NDArray[Any], affine: NDArray[np.float64]
) -> tuple[NDArray[Any], NDArray[np.float64], NDArray[np.float64]]:
    """Transpose/flip an axis-aligned volume to ``[x, y, z]`` increasing L, P, S.

    Args:
        array: ``(I, J, K)`` volume.
        affine: Its 4x4 LPS affine (axis-aligned up to permutation and flips).

    Returns:
        ``(array, spacing_mm (3,), origin_mm (3,))`` of the canonical grid.
    """
    d = affine[:3, :3]
    perm = [int(np.argmax(np.abs(d[w]))) for w in range(3)]
    arr = array.transpose(perm)
    cols = d[:, perm]
    origin = affine[:3, 3].copy()
    for w in range(3):
        if cols[w, w] < 0:
            arr = np.flip(arr, axis=w)
            origin += cols[:, w] * (arr.shape[w] - 1)
    spacing = np.abs(np.diag(cols))
    return arr, spacing, origin


@dataclass
class RealismStats:
    """Per-tissue HU statistics of one image (HU; ``nan`` where a region is empty).

    Attributes:
        body_median: Median HU of the vertebral body interiors.
        body_mean: Mean HU of the vertebral body interiors.
        muscle_median: Median HU of the paraspinal muscle.
        fat_median: Median HU of the subcutaneous fat.
        noise_fat: Robust SD of the subcutaneous fat (HU).
        noise_muscle: Robust SD of the paraspinal muscle (HU).
        percentiles: HU percentiles (:data:`PERCENTILES`) of the body region.
        hist: Normalized histogram of the body region over :data:`HIST_EDGES`.
        fractions: Share of the body region's voxels per HU band (fat, water/soft, bone...).
    """

    body_median: float
    body_mean: float
    muscle_median: float
    fat_median: float
    noise_fat: float
    noise_muscle: float
    percentiles: tuple[float, ...]
    hist: NDArray[np.float64] = field(repr=False)
    fractions: dict[str, float] = field(default_factory=dict)


def _robust_sd(x: NDArray[Any]) -> float:
    if x.size < 10:
        return float("nan")
    med = np.median(x)
    return float(1.4826 * np.median(np.abs(x - med)))


def _median(x: NDArray[Any]) -> float:
    return float(np.median(x)) if x.size else float("nan")


def body_cores(
    labels: NDArray[Any], ids: tuple[int, ...], spacing_mm: NDArray[np.float64]
) -> dict[int, NDArray[np.bool_]]:
    """Vertebral body interiors: each id's mask eroded by 6 mm, its largest connected piece.

    Args:
        labels: ``(X, Y, Z)`` label map (canonical grid).
        ids: Label ids to use (those absent are skipped).
        spacing_mm: ``(3,)`` voxel size.

    Returns:
        ``{id: (X, Y, Z) bool mask}``.
    """
    out: dict[int, NDArray[np.bool_]] = {}
    rad = np.maximum(np.rint(6.0 / spacing_mm).astype(int), 1)
    zz, yy, xx = np.ogrid[-rad[0] : rad[0] + 1, -rad[1] : rad[1] + 1, -rad[2] : rad[2] + 1]
    ball = (zz / rad[0]) ** 2 + (yy / rad[1]) ** 2 + (xx / rad[2]) ** 2 <= 1.0
    for vid in ids:
        m = labels == vid
        if not m.any():
            continue
        er = ndi.binary_erosion(m, ball)
        comp, n = ndi.label(er)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel())[1:]
        out[vid] = comp == int(np.argmax(sizes)) + 1
    return out


def body_mask(hu: NDArray[Any]) -> NDArray[np.bool_]:
    """The patient's body: HU > -300, holes filled per axial slice, largest 3-D component."""
    m = hu > -300
    for k in range(m.shape[2]):
        m[:, :, k] = ndi.binary_fill_holes(m[:, :, k])
    comp, n = ndi.label(m)
    if n == 0:
        return m
    sizes = np.bincount(comp.ravel())[1:]
    return np.asarray(comp == int(np.argmax(sizes)) + 1)


def measure(
    hu: NDArray[Any],
    labels: NDArray[Any],
    affine: NDArray[np.float64],
    ids: tuple[int, ...],
) -> RealismStats:
    """Measure one image (see the module docstring for the regions).

    Args:
        hu: ``(I, J, K)`` HU image.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both.
        ids: Label ids of the lumbar vertebrae to measure around (e.g. L1-L4).

    Returns:
        The statistics.
    """
    arr, sp, _ = canonical(np.asarray(hu, dtype=np.float32), affine)
    lab, _, _ = canonical(labels, affine)
    cores = body_cores(lab, ids, sp)
    if not cores:
        raise ValueError("none of the vertebra ids is in the label map")
    core_hu = np.concatenate([arr[m] for m in cores.values()])
    centres = np.array([np.argwhere(m).mean(axis=0) for m in cores.values()])  # voxel units
    grid = np.indices(arr.shape[:2], dtype=np.float32)
    muscle_vals = []
    for c in centres:
        dx = (grid[0] - c[0]) * sp[0]
        dy = (grid[1] - c[1]) * sp[1]
        box2d = (np.abs(dx) >= 20) & (np.abs(dx) <= 45) & (dy >= 35) & (dy <= 65)
        k0 = max(int(np.floor(c[2] - 9.0 / sp[2])), 0)
        k1 = min(int(np.ceil(c[2] + 9.0 / sp[2])) + 1, arr.shape[2])
        vals = arr[:, :, k0:k1][box2d]
        muscle_vals.append(vals[(vals > -20) & (vals < 150)])
    muscle = np.concatenate(muscle_vals)
    z0 = max(int(np.floor(centres[:, 2].min())), 0)
    z1 = min(int(np.ceil(centres[:, 2].max())) + 1, arr.shape[2])
    slab = arr[:, :, z0:z1]
    body = body_mask(slab.copy())
    depth = ndi.distance_transform_edt(body, sampling=sp)
    shell = body & (depth >= 3.0) & (depth <= 12.0)
    fat = slab[shell]
    fat = fat[(fat > -250) & (fat < -30)]
    vals = np.clip(slab[body], HIST_EDGES[0], HIST_EDGES[-1] - 1e-3)
    hist, _ = np.histogram(vals, HIST_EDGES)
    hist = hist / max(hist.sum(), 1)
    bands = {
        "fat (<-30)": (-1e9, -30.0),
        "soft (-30..150)": (-30.0, 150.0),
        "bone (>=150)": (150.0, 1e9),
    }
    fractions = {k: float(np.mean((vals >= lo) & (vals < hi))) for k, (lo, hi) in bands.items()}
    return RealismStats(
        body_median=_median(core_hu),
        body_mean=float(core_hu.mean()),
        muscle_median=_median(muscle),
        fat_median=_median(fat),
        noise_fat=_robust_sd(fat),
        noise_muscle=_robust_sd(muscle),
        percentiles=tuple(float(p) for p in np.percentile(vals, PERCENTILES)),
        hist=hist,
        fractions=fractions,
    )


def histogram_l1(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """L1 distance between two normalized histograms (0 = equal, 2 = disjoint)."""
    return float(np.abs(a - b).sum())


#: Vertebral-body opening radius (mm): thicker than any lumbar posterior element is wide
#: (pedicles 9-10 mm, laminae about 7 mm, spinous processes 6-7 mm), thinner than the body.
BODY_OPENING_MM = 6.0
#: Posterior-element voxels must lie this far (mm) from the opened body.
POSTERIOR_GAP_MM = 3.0


@dataclass
class VertebraHU:
    """HU distributions of the bony parts of a few vertebrae (pooled over them).

    Attributes:
        body: Percentiles (:data:`PERCENTILES`) of the vertebral bodies (cortex included).
        core: Percentiles of the bodies' cancellous cores (each vertebra's mask eroded by 6 mm).
        posterior: Percentiles of the posterior elements (pedicles behind their root, laminae,
            articular, transverse and spinous processes).
        core_medians: Median HU of each vertebra's core (between-vertebra spread).
        posterior_medians: Median HU of each vertebra's posterior elements.
        n_voxels: Voxels in ``(body, core, posterior)``.
    """

    body: tuple[float, ...]
    core: tuple[float, ...]
    posterior: tuple[float, ...]
    core_medians: tuple[float, ...]
    posterior_medians: tuple[float, ...]
    n_voxels: tuple[int, int, int]


def _ball(radius_mm: float, spacing_mm: NDArray[np.float64]) -> NDArray[np.bool_]:
    rad = np.maximum(np.rint(radius_mm / spacing_mm).astype(int), 1)
    xx, yy, zz = np.ogrid[-rad[0] : rad[0] + 1, -rad[1] : rad[1] + 1, -rad[2] : rad[2] + 1]
    return np.asarray((xx / rad[0]) ** 2 + (yy / rad[1]) ** 2 + (zz / rad[2]) ** 2 <= 1.0)


def _largest(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    comp, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(comp.ravel())[1:]
    return np.asarray(comp == int(np.argmax(sizes)) + 1)


def split_vertebra(
    mask: NDArray[np.bool_], spacing_mm: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Split one vertebra's mask (canonical grid) into its body and its posterior elements.

    The body is the largest piece of the mask's opening by a :data:`BODY_OPENING_MM` ball (the
    thin posterior elements do not survive it); the posterior elements are the mask's voxels
    more than :data:`POSTERIOR_GAP_MM` from the body and behind the body's centroid.

    Args:
        mask: ``(X, Y, Z)`` bool mask, axes increasing towards left, posterior, superior.
        spacing_mm: ``(3,)`` voxel size.

    Returns:
        ``(body, posterior)`` bool masks.
    """
    m = np.asarray(mask, dtype=bool)
    nz = np.argwhere(m)
    if len(nz) == 0:
        return m, m
    lo = np.maximum(nz.min(axis=0) - 2, 0)
    hi = nz.max(axis=0) + 3
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    sub = m[sl]
    body_sub = _largest(ndi.binary_opening(sub, _ball(BODY_OPENING_MM, spacing_mm)) & sub)
    body = np.zeros_like(m)
    body[sl] = body_sub
    post = np.zeros_like(m)
    if body_sub.any():
        dist = ndi.distance_transform_edt(~body_sub, sampling=spacing_mm)
        y_c = np.argwhere(body_sub)[:, 1].mean()
        behind = (np.arange(sub.shape[1]) > y_c)[None, :, None]
        post[sl] = sub & (dist > POSTERIOR_GAP_MM) & behind
    return body, post


def _pct(x: NDArray[Any]) -> tuple[float, ...]:
    if x.size == 0:
        return tuple(float("nan") for _ in PERCENTILES)
    return tuple(float(p) for p in np.percentile(x, PERCENTILES))


def vertebra_hu(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], ids: tuple[int, ...]
) -> VertebraHU:
    """HU percentiles of vertebral bodies, their cancellous cores and posterior elements.

    Args:
        hu: ``(I, J, K)`` HU image.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both.
        ids: Label ids of the vertebrae to pool (e.g. L1-L4); absent ones are skipped.

    Returns:
        The pooled percentiles and per-vertebra medians.

    Raises:
        ValueError: None of the ids is in the label map.
    """
    arr, sp, _ = canonical(np.asarray(hu, dtype=np.float32), affine)
    lab, _, _ = canonical(labels, affine)
    cores = body_cores(lab, ids, sp)
    if not cores:
        raise ValueError("none of the vertebra ids is in the label map")
    bodies, posts, core_meds, post_meds = [], [], [], []
    for vid, core in cores.items():
        body, post = split_vertebra(lab == vid, sp)
        bodies.append(arr[body])
        posts.append(arr[post])
        core_meds.append(_median(arr[core]))
        post_meds.append(_median(arr[post]))
    b = np.concatenate(bodies)
    c = np.concatenate([arr[m] for m in cores.values()])
    p = np.concatenate(posts)
    return VertebraHU(
        body=_pct(b),
        core=_pct(c),
        posterior=_pct(p),
        core_medians=tuple(core_meds),
        posterior_medians=tuple(post_meds),
        n_voxels=(int(b.size), int(c.size), int(p.size)),
    )
