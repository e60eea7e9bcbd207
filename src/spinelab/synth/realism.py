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

Further measures, each a function of an HU image, its label map and affine: the vertebrae's HU
(:func:`vertebra_hu`), the noise's texture (:func:`noise_texture`), the skin's and the bones'
edges (:func:`skin_edge_sigma_mm`, :func:`edge_phase`), and the thoraco-lumbar junction: the
lower ribs beside T12 (:func:`lower_ribs`) and their ends (:func:`rib_lowest_points`), the
back's outline (:func:`back_outline`), how far back the ribs and the lungs reach and the
posterior lung's HU (:func:`posterior_thorax`). :data:`LIKE_REAL_EXAMPLE` makes synthetic cases
as the real example CT was.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
import scipy.special as sps
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, curve_fit

from spinelab.evaluation.masks import body_interior

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


@dataclass(frozen=True)
class CanonicalPair:
    """An HU image and its vertebra label map on the canonical grid (:func:`canonical_pair`):
    ``hu`` float32 and ``labels`` ``[x, y, z]``, ``spacing_mm`` and ``origin_mm`` (3,)."""

    hu: NDArray[np.float32]
    labels: NDArray[Any]
    spacing_mm: NDArray[np.float64]
    origin_mm: NDArray[np.float64]

    def axes_mm(self) -> tuple[NDArray[np.float64], ...]:
        """The x, y and z (mm) of the grid's columns, rows and slices."""
        o, sp, shape = self.origin_mm, self.spacing_mm, self.hu.shape
        return tuple(o[w] + np.arange(shape[w]) * sp[w] for w in range(3))


def canonical_pair(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64]
) -> CanonicalPair:
    """An HU image and its label map on the same grid, both :func:`canonical`."""
    arr, sp, org = canonical(np.asarray(hu, dtype=np.float32), affine)
    lab, _, _ = canonical(labels, affine)
    return CanonicalPair(arr, lab, sp, org)


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
    """Vertebral body interiors: each id's mask eroded by 6 mm, its largest connected piece
    (:func:`spinelab.evaluation.masks.body_interior`).

    Args:
        labels: ``(X, Y, Z)`` label map (canonical grid).
        ids: Label ids to use (those absent are skipped).
        spacing_mm: ``(3,)`` voxel size.

    Returns:
        ``{id: (X, Y, Z) bool mask}``.
    """
    out: dict[int, NDArray[np.bool_]] = {}
    for vid in ids:
        core = body_interior(labels == vid, spacing_mm)
        if core is not None:
            out[vid] = core
    return out


def hu_body_mask(hu: NDArray[Any]) -> NDArray[np.bool_]:
    """The patient's body in an image: HU > -300, holes filled per axial slice, largest 3-D
    component (:func:`spinelab.synth.tissues.body_mask` reads a tissue map instead)."""
    m = hu > -300
    for k in range(m.shape[2]):
        m[:, :, k] = ndi.binary_fill_holes(m[:, :, k])
    return _largest(m)


def _slice_body(sl: NDArray[Any]) -> NDArray[np.bool_]:
    """The body on one axial slice: as :func:`hu_body_mask`, the largest 2-D piece."""
    return _largest(ndi.binary_fill_holes(sl > -300))


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
    pair = canonical_pair(hu, labels, affine)
    arr, lab, sp = pair.hu, pair.labels, pair.spacing_mm
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
    body = hu_body_mask(slab.copy())
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
    pair = canonical_pair(hu, labels, affine)
    arr, lab, sp = pair.hu, pair.labels, pair.spacing_mm
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


#: Noise-texture regions (HU of the locally smoothed image) and the smoothing scales (mm).
TEXTURE_REGIONS: dict[str, tuple[float, float]] = {"fat": (-150.0, -50.0), "soft": (10.0, 130.0)}
TEXTURE_SMOOTH_MM = 3.0
TEXTURE_HIGHPASS_MM = 8.0
#: Largest in-plane gradient (HU/mm) of the smoothed image inside a homogeneous region.
TEXTURE_MAX_GRADIENT = 6.0
#: Largest autocorrelation lag (mm) kept (the in-plane pair counts of the masked FFT).
TEXTURE_MAX_LAG_MM = 30.0
#: Side (mm) of the square ROIs of the noise power spectrum (about 32 pixels at 1 mm).
NPS_ROI_MM = 32.0


@dataclass
class NoiseTexture:
    """Texture of the image noise in homogeneous regions of one image.

    Attributes:
        sd: Standard deviation of the high-passed residual (HU).
        corr_x: Correlation of neighbouring pixels along x (lateral), lag one pixel.
        corr_y: Same along y (antero-posterior).
        corr_z: Correlation between neighbouring slices (``nan`` for a single slice).
        nps_peak_per_mm: Frequency (cycles/mm) of the radial noise power spectrum's peak.
        nps_low: Radial NPS in its lowest bin above zero (about 0.03 cycles/mm) over its peak:
            near 1 for low-pass (blurred white) noise, small for the band-pass FBP spectrum.
        lateral_ratio: NPS power with ``|f_y| > |f_x|`` over power with ``|f_x| > |f_y|``:
            above 1 when the texture is elongated along x (lateral streaks).
        pixel_mm: ``(x, y)`` in-plane pixel size.
        n_voxels: Voxels in the region.
    """

    sd: float
    corr_x: float
    corr_y: float
    corr_z: float
    nps_peak_per_mm: float
    nps_low: float
    lateral_ratio: float
    pixel_mm: tuple[float, float]
    n_voxels: int


def texture_mask(
    hu_xyz: NDArray[np.float32], spacing_mm: NDArray[np.float64], region: str
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """Homogeneous voxels of a region and the residual noise of the image (canonical grid).

    The image is smoothed in-plane (Gaussian, :data:`TEXTURE_SMOOTH_MM`); region voxels are those
    whose smoothed HU lies in :data:`TEXTURE_REGIONS` with a small smoothed gradient, inside the
    body, eroded by 2 pixels. The residual is the image minus its mean over the region's voxels
    nearby (Gaussian of :data:`TEXTURE_HIGHPASS_MM`, normalized over the mask), which removes
    slow anatomy and leaves the noise above about 0.02 cycles/mm.

    Returns:
        ``(mask, residual)``, both ``(X, Y, Z)``.
    """
    lo, hi = TEXTURE_REGIONS[region]
    sig = (TEXTURE_SMOOTH_MM / spacing_mm[0], TEXTURE_SMOOTH_MM / spacing_mm[1], 0.0)
    sm = ndi.gaussian_filter(hu_xyz, sig)
    gx = np.gradient(sm, axis=0) / spacing_mm[0]
    gy = np.gradient(sm, axis=1) / spacing_mm[1]
    m = (sm > lo) & (sm < hi) & (np.hypot(gx, gy) < TEXTURE_MAX_GRADIENT)
    m &= hu_body_mask(hu_xyz.copy())
    m = ndi.binary_erosion(m, np.ones((5, 5, 1), dtype=bool))
    hp = (TEXTURE_HIGHPASS_MM / spacing_mm[0], TEXTURE_HIGHPASS_MM / spacing_mm[1], 0.0)
    mf = m.astype(np.float32)
    num = ndi.gaussian_filter(hu_xyz * mf, hp)
    den = ndi.gaussian_filter(mf, hp)
    resid = np.where(m, hu_xyz - num / np.maximum(den, 1e-3), 0.0).astype(np.float32)
    return m, resid


def noise_texture(
    hu: NDArray[Any], affine: NDArray[np.float64], region: str = "soft"
) -> NoiseTexture:
    """Noise autocorrelation and noise power spectrum in homogeneous regions of an image.

    Works on any CT (no labels needed): see :func:`texture_mask` for the region. The in-plane
    autocorrelation is estimated over all slices with the masked-FFT method (products of the
    residual summed over pixel pairs inside the mask, divided by the number of pairs). The
    noise power spectrum is the mean periodogram of square ROIs (:data:`NPS_ROI_MM`, half
    overlapping) at least 97 % inside the region, each minus its best-fit plane (the usual
    phantom procedure); its radial average gives the peak frequency.

    Args:
        hu: ``(I, J, K)`` HU image.
        affine: Its 4x4 LPS affine.
        region: ``"soft"`` (muscle, organs) or ``"fat"``.

    Returns:
        The texture measures (``nan`` where the region is empty).
    """
    arr, sp, _ = canonical(np.asarray(hu, dtype=np.float32), affine)
    m, r = texture_mask(arr, sp, region)
    n_vox = int(m.sum())
    nan = float("nan")
    if n_vox < 200:
        return NoiseTexture(nan, nan, nan, nan, nan, nan, nan, (float(sp[0]), float(sp[1])), n_vox)
    nx, ny = arr.shape[0], arr.shape[1]
    lag = max(2, round(TEXTURE_MAX_LAG_MM / min(sp[0], sp[1])))
    shape = (nx + lag + 1, ny + lag + 1)
    acf = np.zeros(shape)
    pairs = np.zeros(shape)
    for k in range(arr.shape[2]):
        mk = m[:, :, k]
        if mk.sum() < 10:
            continue
        fr = np.fft.rfft2(r[:, :, k], shape)
        fm = np.fft.rfft2(mk.astype(np.float64), shape)
        acf += np.fft.irfft2(np.abs(fr) ** 2, shape)
        pairs += np.fft.irfft2(np.abs(fm) ** 2, shape)
    acf = acf / np.maximum(pairs, 1.0)
    acf[pairs < 50] = 0.0
    var = float(acf[0, 0])
    corr_x = float(acf[1, 0] / var)
    corr_y = float(acf[0, 1] / var)
    both = m[:, :, 1:] & m[:, :, :-1]
    corr_z = nan
    if both.sum() > 100:
        a, b = r[:, :, 1:][both], r[:, :, :-1][both]
        corr_z = float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))
    # NPS: periodograms of square ROIs (97 % inside the region), each minus its best-fit plane
    nr = max(8, round(NPS_ROI_MM / max(sp[0], sp[1])))
    xx, yy = np.meshgrid(np.arange(nr), np.arange(nr), indexing="ij")
    design = np.stack([np.ones(nr * nr), xx.ravel(), yy.ravel()], axis=1)
    pinv = np.linalg.pinv(design)
    nps = np.zeros((nr, nr))
    n_roi = 0
    step = nr // 2
    for k in range(arr.shape[2]):
        mk = m[:, :, k]
        if mk.sum() < nr * nr:
            continue
        full = ndi.uniform_filter(mk.astype(np.float32), size=nr, origin=-(nr // 2)) > 0.97
        for i0 in range(0, nx - nr + 1, step):
            for j0 in range(0, ny - nr + 1, step):
                if not full[i0, j0]:
                    continue
                roi = arr[i0 : i0 + nr, j0 : j0 + nr, k].astype(np.float64).ravel()
                roi = roi - design @ (pinv @ roi)
                nps += np.abs(np.fft.fft2(roi.reshape(nr, nr))) ** 2
                n_roi += 1
    fx = np.fft.fftfreq(nr, sp[0])[:, None]
    fy = np.fft.fftfreq(nr, sp[1])[None, :]
    f = np.hypot(fx, fy)
    f_max = 0.5 / max(sp[0], sp[1])
    df = 1.0 / (nr * max(sp[0], sp[1]))
    edges = np.arange(0.5 * df, f_max + 1e-9, df)  # bin 0 (DC) is left out
    radial = np.array(
        [
            nps[(f >= a) & (f < b)].mean() if np.any((f >= a) & (f < b)) else 0.0
            for a, b in itertools.pairwise(edges)
        ]
    )
    if n_roi == 0 or len(radial) < 2 or radial.max() <= 0:
        peak_f, low = nan, nan
    else:
        peak = int(np.argmax(radial))
        peak_f = float(0.5 * (edges[peak] + edges[peak + 1]))
        low = float(radial[0] / radial[peak])
    lat = float(nps[(np.abs(fy) > np.abs(fx)) & (f < f_max)].sum())
    ap = float(nps[(np.abs(fx) > np.abs(fy)) & (f < f_max)].sum())
    return NoiseTexture(
        sd=float(np.sqrt(var)),
        corr_x=corr_x,
        corr_y=corr_y,
        corr_z=corr_z,
        nps_peak_per_mm=peak_f,
        nps_low=low,
        lateral_ratio=lat / ap if ap > 0 else nan,
        pixel_mm=(float(sp[0]), float(sp[1])),
        n_voxels=n_vox,
    )


#: Skin-edge profiles (:func:`skin_edge_sigma_mm`): half-length (voxels) of each profile, the HU
#: that marks the body's first voxel, and the air / tissue levels the profile's ends must reach.
EDGE_HALF_VOXELS = 6
EDGE_BODY_HU = -500.0
EDGE_AIR_HU = -900.0
EDGE_TISSUE_HU = -300.0


@dataclass
class EdgeSharpness:
    """In-plane sharpness of an image, from error-function fits to the anterior skin edge.

    Attributes:
        sigma_mm: Median fitted Gaussian sigma (mm) of the edge (``nan`` without profiles).
        iqr_mm: Its 25th and 75th percentiles (mm).
        n: Number of profiles fitted.
        pixel_mm: The in-plane pixel size (mm) along the profiles.
    """

    sigma_mm: float
    iqr_mm: tuple[float, float]
    n: int
    pixel_mm: float


def _erf_step(x: Any, x0: float, s: float, lo: float, hi: float) -> Any:
    return lo + (hi - lo) * 0.5 * (1.0 + sps.erf((x - x0) / (math.sqrt(2.0) * s)))


def skin_edge_sigma_mm(
    hu: NDArray[Any], affine: NDArray[np.float64], slice_step: int = 3, column_step: int = 3
) -> EdgeSharpness:
    """Sharpness of an image as the Gaussian sigma of its anterior air-to-skin edge.

    The skin is a sharp boundary in the patient, so its blur on the image is the in-plane
    point spread function of the whole chain (the scanner and reconstruction kernel for a real
    CT; the PSF and the painted map for a synthetic one). On every ``slice_step``-th axial slice
    and every ``column_step``-th column of the middle third of the body's width, the profile
    along y (anterior to posterior, EDGE_HALF_VOXELS either side of the body's first voxel
    above EDGE_BODY_HU) is fitted with an error function; profiles whose ends are not air (mean
    below EDGE_AIR_HU) and tissue (above EDGE_TISSUE_HU), fits that fail, and sigmas outside
    0.05-5 mm are left out. A sharp kernel's overshoot makes the fitted sigma small: compare
    soft kernels with soft kernels.

    Args:
        hu: ``(I, J, K)`` HU image.
        affine: Its 4x4 LPS affine.
        slice_step: Use every this many axial slices.
        column_step: Use every this many columns.

    Returns:
        The median sigma, its interquartile range and the number of profiles.
    """
    arr, sp, _ = canonical(np.asarray(hu), affine)
    h = EDGE_HALF_VOXELS
    x = (np.arange(2 * h) - h) * float(sp[1])
    sigmas: list[float] = []
    for k in range(0, arr.shape[2], slice_step):
        sl = arr[:, :, k].astype(np.float64)
        body = sl > EDGE_BODY_HU
        cols = np.flatnonzero(body.any(axis=1))
        if len(cols) < 3:
            continue
        n3 = len(cols) // 3
        for i in cols[n3 : 2 * n3 : column_step]:
            j = int(np.argmax(body[i]))
            if j < h or j + h > sl.shape[1]:
                continue
            prof = sl[i, j - h : j + h]
            if prof[:3].mean() > EDGE_AIR_HU or prof[-3:].mean() < EDGE_TISSUE_HU:
                continue
            p0 = (0.0, float(sp[1]), float(prof[:3].mean()), float(prof[-3:].mean()))
            try:
                with warnings.catch_warnings():  # "covariance could not be estimated"
                    warnings.simplefilter("ignore", OptimizeWarning)
                    p, _ = curve_fit(_erf_step, x, prof, p0=p0, maxfev=2000)
            except (RuntimeError, ValueError):
                continue
            s = abs(float(p[1]))
            if 0.05 < s < 5.0:
                sigmas.append(s)
    if not sigmas:
        return EdgeSharpness(float("nan"), (float("nan"), float("nan")), 0, float(sp[1]))
    a = np.asarray(sigmas)
    q1, q3 = np.percentile(a, [25, 75])
    return EdgeSharpness(float(np.median(a)), (float(q1), float(q3)), len(a), float(sp[1]))


#: Edge profiles (:func:`edge_phase`): voxels either side of a crossing searched for the low
#: and the high level. Bone edges (:func:`bone_edge_phase`): the least rise (HU) between the
#: levels and the ranges each must lie in (soft tissue, not air; bone).
PHASE_REACH = 3
PHASE_MIN_RISE_HU = 300.0
PHASE_SOFT_HU = (-300.0, 150.0)
PHASE_BONE_MIN_HU = 350.0
#: Fat-to-muscle edges (:func:`fat_edge_phase`): fat's range, the least level of the other
#: side (muscle and organs 30-70 HU, less a fat voxel's pull) and the least rise between them.
PHASE_FAT_HU = (-250.0, -50.0)
PHASE_LEAN_MIN_HU = 0.0
PHASE_FAT_MIN_RISE_HU = 110.0


@dataclass
class EdgePhase:
    """Where tissue edges cross the voxel grid (:func:`edge_phase`).

    Attributes:
        nonuniformity: Total-variation distance of the crossings' sub-voxel positions from a
            uniform distribution over 10 bins (0: uniform, as for surfaces at every position;
            0.9: all in one tenth of the voxel).
        histogram: Share of the crossings in each tenth between two voxel centres.
        n: Number of crossings.
    """

    nonuniformity: float
    histogram: tuple[float, ...]
    n: int


def bone_edge_phase(
    hu: NDArray[Any],
    affine: NDArray[np.float64],
    box: tuple[slice, slice, slice] | None = None,
) -> EdgePhase:
    """Sub-voxel positions of soft-tissue-to-bone edges: a test for pixel stair-steps.

    A real bone surface meets the voxel grid at every sub-voxel position, so along x and y the
    half-level crossing of a soft-tissue-to-bone profile falls anywhere between two voxel
    centres. A label map painted by voxel centres and blurred by a symmetric point spread
    function puts every crossing half-way between two voxels: the stair-steps of a pixel-drawn
    edge. :func:`edge_phase` with the soft-tissue level within PHASE_SOFT_HU, the bone level
    at least PHASE_BONE_MIN_HU and PHASE_MIN_RISE_HU above it.

    Args:
        hu: ``(I, J, K)`` HU image.
        affine: Its 4x4 LPS affine.
        box: Part of the canonical (L, P, S increasing) array to measure, e.g. around the spine;
            None: all of it.
    """
    return edge_phase(hu, affine, box, PHASE_SOFT_HU, PHASE_BONE_MIN_HU, PHASE_MIN_RISE_HU)


def fat_edge_phase(
    hu: NDArray[Any],
    affine: NDArray[np.float64],
    box: tuple[slice, slice, slice] | None = None,
) -> EdgePhase:
    """Sub-voxel positions of fat-to-muscle (and fat-to-organ) edges, as
    :func:`bone_edge_phase` for bone: :func:`edge_phase` with the fat level within
    PHASE_FAT_HU, the other at least PHASE_LEAN_MIN_HU and PHASE_FAT_MIN_RISE_HU above it.
    Image noise (15-25 HU against a rise of 120-170) spreads the crossings of any edge, so
    the figure is lower than for bone edges at the same staircase."""
    return edge_phase(hu, affine, box, PHASE_FAT_HU, PHASE_LEAN_MIN_HU, PHASE_FAT_MIN_RISE_HU)


def edge_phase(
    hu: NDArray[Any],
    affine: NDArray[np.float64],
    box: tuple[slice, slice, slice] | None,
    low_hu: tuple[float, float],
    high_min_hu: float,
    min_rise_hu: float,
) -> EdgePhase:
    """Sub-voxel positions of rising edges between two tissue levels along x and y.

    For every pair of neighbouring voxels along x and y (both directions) where the profile
    rises through the half level between its low level (the lowest of the PHASE_REACH voxels
    up to the pair, within ``low_hu``, and below the half level one voxel before) and its high
    level (the highest of the PHASE_REACH voxels after it, at least ``high_min_hu`` and
    ``min_rise_hu`` above the low level), the crossing's position between the two voxel
    centres is interpolated linearly.

    Args:
        hu: ``(I, J, K)`` HU image.
        affine: Its 4x4 LPS affine.
        box: Part of the canonical (L, P, S increasing) array to measure; None: all of it.
        low_hu: Range of the low level (HU).
        high_min_hu: Least high level (HU).
        min_rise_hu: Least rise from the low to the high level (HU).

    Returns:
        The crossings' distribution (:class:`EdgePhase`).
    """
    arr, _, _ = canonical(np.asarray(hu), affine)
    a = np.asarray(arr[box] if box is not None else arr, dtype=np.float32)
    r = PHASE_REACH
    found: list[NDArray[np.float32]] = []
    for axis in (0, 1):
        line = np.moveaxis(a, axis, -1)
        for step in (1, -1):
            c = line[..., ::step]
            for i in range(r, c.shape[-1] - r - 1):
                lo = c[..., i - r + 1 : i + 1].min(axis=-1)
                hi = c[..., i + 1 : i + 1 + r].max(axis=-1)
                mid = 0.5 * (lo + hi)
                v0, v1 = c[..., i], c[..., i + 1]
                ok = (
                    (hi - lo > min_rise_hu)
                    & (lo > low_hu[0])
                    & (lo < low_hu[1])
                    & (hi > high_min_hu)
                    & (c[..., i - 1] < mid)
                    & (v0 < mid)
                    & (v1 >= mid)
                )
                if ok.any():
                    found.append((mid[ok] - v0[ok]) / (v1[ok] - v0[ok]))
    if not found:
        return EdgePhase(float("nan"), (), 0)
    pos = np.concatenate(found)
    hist = np.histogram(pos, bins=10, range=(0.0, 1.0))[0] / len(pos)
    tv = 0.5 * float(np.abs(hist - 0.1).sum())
    return EdgePhase(tv, tuple(float(h) for h in hist), len(pos))


# --------------------------------------------------------------------------------------------
# The lower ribs beside T12 and the ribs' lowest points
# --------------------------------------------------------------------------------------------
#: Synthetic cases made as the real example CT (``../shared``'s TotalSegmentator example) was,
#: for the figures compared with it: ``SynthConfig(fov=..., **LIKE_REAL_EXAMPLE)`` (3 mm voxels,
#: a soft kernel (its DICOM slab: Br38f), no contrast (intravenous or oral), the arms raised
#: out of the field).
LIKE_REAL_EXAMPLE: dict[str, Any] = {
    "spacing_mm": (3.0, 3.0, 3.0),
    "p_sharp_kernel": 0.0,
    "p_contrast": 0.0,
    "p_oral_contrast": 0.0,
    "p_arms_down": 0.0,
}
#: :func:`lower_ribs`: the box beside T12 (more than RIBS_SIDE_MM to either side of its body's
#: centre, from RIBS_BOX_MM[0] below its body's lowest voxel to RIBS_BOX_MM[1] above it, less
#: than RIBS_BEHIND_MM behind the centre: the couch stays out; the real example CT ends 24 mm
#: above T12's body's lowest voxel), the bone threshold for the volume, the sections' threshold and
#: their smallest size (mm2, at 1 mm), how far a section may shift to the next slice (mm), and
#: the bands in front of / beside the centre (y, mm) that sort the slopes.
RIBS_SIDE_MM = 80.0
RIBS_BOX_MM = (18.0, 24.0)
RIBS_BEHIND_MM = 60.0
RIBS_BONE_HU = 200.0
RIBS_SECTION_HU = 120.0
RIBS_SECTION_MIN_MM2 = 8
RIBS_TRACK_MM = 25.0
RIBS_FRONT_MM = 40.0


@dataclass
class LowerRibs:
    """The lower ribs beside T12 on an axial CT (:func:`lower_ribs`; medians over the box).

    Attributes:
        core_hu: Median HU of T12's body interior (:func:`body_cores`): the patient's bone
            density, which the other figures follow.
        bone_mm3_per_mm: Bone above :data:`RIBS_BONE_HU` in the box, mm3 per mm of height.
        n_sections: Bone sections above :data:`RIBS_SECTION_HU` in the box's axial slices.
        area_mm2: Their median area (mm2, each slice sampled at 1 mm).
        major_mm: Median major axis (mm; 4 standard deviations along it).
        minor_mm: Median minor axis (mm).
        peak_hu: Median of the sections' highest HU.
        slope_front_deg: Median slope below the horizontal of the sections more than
            :data:`RIBS_FRONT_MM` in front of the body's centre, tracked to the nearest section
            on the same side in the next slice (``atan(slice step / shift)``).
        slope_side_deg: The same within :data:`RIBS_FRONT_MM` of the centre (in front of or
            behind it).
    """

    core_hu: float
    bone_mm3_per_mm: float
    n_sections: int
    area_mm2: float
    major_mm: float
    minor_mm: float
    peak_hu: float
    slope_front_deg: float
    slope_side_deg: float


def _centre_and_bottom(
    lab: NDArray[Any], vid: int, sp: NDArray[np.float64], org: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float, NDArray[np.bool_]] | None:
    """A vertebra's body centre (mm), its body's lowest z (mm) and its body interior
    (canonical grid); None where it has no interior."""
    cores = body_cores(lab, (vid,), sp)
    if vid not in cores:
        return None
    body, _ = split_vertebra(lab == vid, sp)
    centre = org + np.argwhere(cores[vid]).mean(axis=0) * sp
    return centre, float(org[2] + np.argwhere(body)[:, 2].min() * sp[2]), cores[vid]


def lower_ribs(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], t12_id: int
) -> LowerRibs:
    """Bone volume, sections and slopes of the lower ribs beside T12 (an axial CT; the same
    procedure on a real CT with its vertebra masks and on a synthetic case).

    Args:
        hu: ``(I, J, K)`` HU image, axial slices along one axis.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both (axis-aligned).
        t12_id: T12's id in ``labels``.

    Returns:
        The figures (:class:`LowerRibs`).

    Raises:
        ValueError: T12 is not in the label map, or the image does not hold the box.
    """
    grid = canonical_pair(hu, labels, affine)
    arr, sp = grid.hu, grid.spacing_mm
    found = _centre_and_bottom(grid.labels, t12_id, sp, grid.origin_mm)
    if found is None:
        raise ValueError(f"no T12 body (label {t12_id}) in the label map")
    c, z_lo, core = found
    xs, ys, zs = grid.axes_mm()
    z0, z1 = z_lo - RIBS_BOX_MM[0], z_lo + RIBS_BOX_MM[1]
    if zs[-1] < z1 - 0.5 * sp[2] or zs[0] > z0 + 0.5 * sp[2]:
        raise ValueError("the image does not hold the box beside T12")
    in_x = np.abs(xs - c[0]) > RIBS_SIDE_MM
    in_y = ys < c[1] + RIBS_BEHIND_MM
    ks = np.nonzero((zs >= z0 - 0.5 * sp[2]) & (zs <= z1 + 0.5 * sp[2]))[0]
    area_px = float(sp[0] * sp[1])
    bone = 0.0
    areas, majors, minors, peaks = [], [], [], []
    tracks: list[list[tuple[float, float]]] = []
    box2d = in_x[:, None] & in_y[None, :]
    for k in ks:
        sl = np.where(box2d, arr[:, :, k], -1000.0)
        bone += float((sl > RIBS_BONE_HU).sum()) * area_px * float(sp[2])
        up = ndi.zoom(sl, (sp[0], sp[1]), order=1)
        comp, n = ndi.label(up > RIBS_SECTION_HU)
        row = []
        for i in range(1, n + 1):
            ii, jj = np.nonzero(comp == i)
            if len(ii) < RIBS_SECTION_MIN_MM2:
                continue
            px = xs[0] + ii * (sp[0] * (arr.shape[0] - 1) / max(up.shape[0] - 1, 1))
            py = ys[0] + jj * (sp[1] * (arr.shape[1] - 1) / max(up.shape[1] - 1, 1))
            ev = np.sort(np.linalg.eigvalsh(np.cov(np.stack([px, py]))))
            areas.append(float(len(ii)))
            majors.append(4.0 * math.sqrt(max(float(ev[1]), 0.0)))
            minors.append(4.0 * math.sqrt(max(float(ev[0]), 0.0)))
            peaks.append(float(up[ii, jj].max()))
            row.append((float(px.mean()), float(py.mean())))
        tracks.append(row)
    front, side = [], []
    for r0, r1 in itertools.pairwise(tracks):
        for px, py in r0:
            near = [
                math.hypot(qx - px, qy - py) for qx, qy in r1 if (qx - c[0]) * (px - c[0]) > 0.0
            ]
            if not near or min(near) > RIBS_TRACK_MM:
                continue
            slope = math.degrees(math.atan2(float(sp[2]), max(min(near), 1e-6)))
            if py < c[1] - RIBS_FRONT_MM:
                front.append(slope)
            elif py < c[1] + RIBS_FRONT_MM:
                side.append(slope)
    return LowerRibs(
        core_hu=_median(arr[core]),
        bone_mm3_per_mm=bone / (len(ks) * float(sp[2])),
        n_sections=len(areas),
        area_mm2=_median(np.asarray(areas)),
        major_mm=_median(np.asarray(majors)),
        minor_mm=_median(np.asarray(minors)),
        peak_hu=_median(np.asarray(peaks)),
        slope_front_deg=_median(np.asarray(front)),
        slope_side_deg=_median(np.asarray(side)),
    )


#: :func:`rib_lowest_points`: bone threshold, how far (mm) the vertebra masks are grown before
#: they are left out, the least distance beside the spine's line (mm), how far behind it a
#: rib may lie (mm: the couch stays out), the smallest piece of bone kept (mm3) and its least
#: height (mm: a rib comes down from above; on the real example CT two specks of 351 mm3 beside
#: the kidneys at L2, 9 mm tall, are not ribs).
RIB_ENDS_BONE_HU = 200.0
RIB_ENDS_SPINE_GROW_MM = 9.0
RIB_ENDS_SIDE_MM = 40.0
RIB_ENDS_BEHIND_MM = 60.0
RIB_ENDS_MIN_MM3 = 300.0
RIB_ENDS_MIN_HEIGHT_MM = 15.0


def rib_lowest_points(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], chain: tuple[int, ...]
) -> NDArray[np.float64]:
    """The lowest points of the pieces of bone beside the spine between the first and the
    last of ``chain``'s vertebrae: the ribs' ends, in levels along the chain.

    Bone above :data:`RIB_ENDS_BONE_HU` more than :data:`RIB_ENDS_SIDE_MM` beside the line
    through the vertebral bodies' centres, outside the vertebra masks grown by
    :data:`RIB_ENDS_SPINE_GROW_MM`, above the last vertebra's centre; its 3-D connected pieces
    of :data:`RIB_ENDS_MIN_MM3` or more and :data:`RIB_ENDS_MIN_HEIGHT_MM` tall or more.

    Args:
        hu: ``(I, J, K)`` HU image.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both (axis-aligned).
        chain: Label ids of consecutive vertebrae, top to bottom (e.g. T11..L3).

    Returns:
        ``(N, 3)``: per piece, the level of its lowest point (the chain position: 0 at the
        first vertebra's body centre, 1 at the next one's, ...; a piece reaching above the
        first centre counts from there), and that point's offsets (mm) to the left and behind
        the spine's line, sorted by level.

    Raises:
        ValueError: Fewer than two of the chain's vertebrae have a body interior.
    """
    grid = canonical_pair(hu, labels, affine)
    arr, lab, sp, org = grid.hu, grid.labels, grid.spacing_mm, grid.origin_mm
    pos, cents = [], []
    for i, vid in enumerate(chain):
        found = _centre_and_bottom(lab, vid, sp, org)
        if found is not None:
            pos.append(float(i))
            cents.append(found[0])
    if len(cents) < 2:
        raise ValueError("fewer than two of the chain's vertebrae are in the label map")
    c = np.asarray(cents)[::-1]  # ascending z
    lv = np.asarray(pos)[::-1]
    xs, ys, zs = grid.axes_mm()
    x_line = np.interp(zs, c[:, 2], c[:, 0])
    y_line = np.interp(zs, c[:, 2], c[:, 1])
    grown = ndi.binary_dilation(lab > 0, _ball(RIB_ENDS_SPINE_GROW_MM, sp))
    dx = xs[:, None, None] - x_line[None, None, :]
    dy = ys[None, :, None] - y_line[None, None, :]
    bone = (
        (arr > RIB_ENDS_BONE_HU)
        & ~grown
        & (np.abs(dx) > RIB_ENDS_SIDE_MM)
        & (dy < RIB_ENDS_BEHIND_MM)
        & (zs > c[0, 2])[None, None, :]
    )
    comp, _ = ndi.label(bone, structure=np.ones((3, 3, 3), bool))
    vox = float(np.prod(sp))
    out = []
    for i, sl in enumerate(ndi.find_objects(comp), start=1):
        if sl is None:
            continue
        piece = comp[sl] == i
        height = (sl[2].stop - sl[2].start) * float(sp[2])
        if piece.sum() * vox < RIB_ENDS_MIN_MM3 or height < RIB_ENDS_MIN_HEIGHT_MM:
            continue
        idx = np.argwhere(piece) + np.array([s.start for s in sl])
        low = idx[idx[:, 2] == idx[:, 2].min()]
        k = int(low[0, 2])
        out.append(
            (
                float(np.interp(zs[k], c[:, 2], lv)),
                float(xs[low[:, 0]].mean() - x_line[k]),
                float(ys[low[:, 1]].mean() - y_line[k]),
            )
        )
    return np.asarray(sorted(out), dtype=np.float64).reshape(-1, 3)


#: :func:`rib_end_levels`: ends in front of the spine's line (mm), and the band of the 12th
#: ribs' tips: beside the line (mm) and behind it (mm).
RIB_ENDS_FRONT_MM = 40.0
RIB_TIPS_SIDE_MM = (60.0, 100.0)
RIB_TIPS_BEHIND_MM = 10.0


def rib_end_levels(points: NDArray[np.float64]) -> tuple[float, float]:
    """Two summaries of :func:`rib_lowest_points`: the lowest level among the ends more than
    :data:`RIB_ENDS_FRONT_MM` in front of the spine's line (the lower ribs' front ends), and
    the median level of those :data:`RIB_TIPS_SIDE_MM` beside it and more than
    :data:`RIB_TIPS_BEHIND_MM` behind it (the 12th ribs' tips); ``nan`` where there are none.
    Pieces whose lowest point lies at or above the chain's first centre (level 0) are left
    out: their ends lie above the chain (on a generated case with the ribs reaching back
    beside the spine, pieces of the upper ribs' backs at T11 made the "tips" level 0)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p = p[p[:, 0] > 0.0]
    front = p[p[:, 2] < -RIB_ENDS_FRONT_MM, 0]
    side = np.abs(p[:, 1])
    tips = p[
        (side > RIB_TIPS_SIDE_MM[0])
        & (side < RIB_TIPS_SIDE_MM[1])
        & (p[:, 2] > RIB_TIPS_BEHIND_MM),
        0,
    ]
    return (
        float(front.max()) if front.size else float("nan"),
        float(np.median(tips)) if tips.size else float("nan"),
    )


def _body_centres(
    lab: NDArray[Any], ids: tuple[int, ...], sp: NDArray[np.float64], org: NDArray[np.float64]
) -> list[NDArray[np.float64]]:
    """The body centres (mm) of vertebrae ``ids`` (canonical grid).

    Raises:
        ValueError: One of them has no body interior in the label map (named).
    """
    out = []
    for vid in ids:
        found = _centre_and_bottom(lab, vid, sp, org)
        if found is None:
            raise ValueError(f"no vertebral body (label {vid}) in the label map")
        out.append(found[0])
    return out


def _pair_and_centres(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], upper: int, lower: int
) -> tuple[CanonicalPair, NDArray[np.float64], NDArray[np.float64]]:
    """The canonical image and label map, and the body centres (mm) of vertebrae ``upper``
    and ``lower`` on it (:func:`_body_centres`, which raises where one has no body)."""
    grid = canonical_pair(hu, labels, affine)
    hi, lo = _body_centres(grid.labels, (upper, lower), grid.spacing_mm, grid.origin_mm)
    return grid, hi, lo


#: :func:`back_outline`: where the back is sampled, as shares of the body's half-width out
#: from the middle of its section, and the band (mm) round each (both sides).
BACK_SHARES = (0.5, 0.65, 0.8, 0.9)
BACK_BAND_MM = 6.0


@dataclass
class BackOutline:
    """The back's outline on the axial slices through a vertebral body's centre
    (:func:`back_outline`; medians over that slice and its two neighbours).

    Attributes:
        half_width_mm: The body section's half-width.
        behind_mm: How far the skin lies behind the body's centre at its most posterior.
        falls_mm: How far in front of that the skin lies at :data:`BACK_SHARES` of the
            half-width out from the section's middle (the more posterior side): small where the
            back is broad and flat, large where it is round.
    """

    half_width_mm: float
    behind_mm: float
    falls_mm: tuple[float, ...]


def back_outline(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], vid: int
) -> BackOutline:
    """How broad and flat the back is at one vertebra (an axial CT; the same procedure on a
    real CT with its vertebra masks and on a synthetic case). The body: :func:`hu_body_mask`.

    Args:
        hu: ``(I, J, K)`` HU image, axial slices along one axis.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both (axis-aligned).
        vid: The vertebra's id in ``labels``.

    Returns:
        The figures (:class:`BackOutline`).

    Raises:
        ValueError: The vertebra has no body interior in the label map.
    """
    grid = canonical_pair(hu, labels, affine)
    arr, lab, sp, org = grid.hu, grid.labels, grid.spacing_mm, grid.origin_mm
    (c,) = _body_centres(lab, (vid,), sp, org)
    xs, ys, zs = grid.axes_mm()
    k = int(np.argmin(np.abs(zs - c[2])))
    rows = []
    for kk in range(max(k - 1, 0), min(k + 2, arr.shape[2])):
        body = _slice_body(arr[:, :, kk])
        ii, jj = np.nonzero(body)
        dx, dy = xs[ii] - c[0], ys[jj] - c[1]
        hw = 0.5 * float(dx.max() - dx.min())
        out = np.abs(dx - 0.5 * float(dx.max() + dx.min()))
        back = float(dy.max())
        falls = []
        for share in BACK_SHARES:
            sel = np.abs(out - share * hw) < BACK_BAND_MM
            falls.append(back - float(dy[sel].max()) if sel.any() else float("nan"))
        rows.append([hw, back, *falls])
    med = np.median(np.asarray(rows), axis=0)
    return BackOutline(float(med[0]), float(med[1]), tuple(float(v) for v in med[2:]))


#: :func:`posterior_thorax`: the bands beside the spine's line (mm) in which the ribs' reach
#: behind it is taken (bone above :data:`RIB_ENDS_BONE_HU` outside the vertebra masks grown by
#: :data:`RIB_ENDS_SPINE_GROW_MM`, from that far in front of the line to POSTERIOR_RIBS_MM
#: behind it: the couch stays out), and the lung threshold (HU, inside the body).
POSTERIOR_BANDS_MM = ((40.0, 60.0), (60.0, 80.0), (80.0, 100.0), (100.0, 120.0))
POSTERIOR_RIBS_MM = 80.0
LUNG_HU = -400.0


@dataclass
class PosteriorThorax:
    """The back of the lower chest (:func:`posterior_thorax`).

    Attributes:
        ribs_behind_mm: Per band of :data:`POSTERIOR_BANDS_MM`, how far behind the spine's
            line the ribs reach between the two vertebrae's body centres (the median over the
            axial slices of the most posterior bone voxel; nan where a band has none).
        lung_share: Lung's share of the body section on the slice through the upper
            vertebra's body centre.
        lung_behind_share: The share of the body section that is lung behind that centre.
        lung_behind_hu: Median HU of that lung less its rim (eroded by one voxel): supine,
            the posterior lung is denser than the anterior.
    """

    ribs_behind_mm: tuple[float, ...]
    lung_share: float
    lung_behind_share: float
    lung_behind_hu: float


def posterior_thorax(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], upper: int, lower: int
) -> PosteriorThorax:
    """How far back the ribs and the lungs reach beside the spine at the thoraco-lumbar
    junction (an axial CT; the same procedure on a real CT with its vertebra masks and on a
    synthetic case).

    Args:
        hu: ``(I, J, K)`` HU image, axial slices along one axis.
        labels: ``(I, J, K)`` vertebra label map on the same grid.
        affine: 4x4 LPS affine of both (axis-aligned).
        upper: Id of the upper vertebra in ``labels`` (e.g. T12).
        lower: Id of the one below it (e.g. L1).

    Returns:
        The figures (:class:`PosteriorThorax`).

    Raises:
        ValueError: Either vertebra has no body interior in the label map.
    """
    grid, hi, lo = _pair_and_centres(hu, labels, affine, upper, lower)
    arr, lab, sp = grid.hu, grid.labels, grid.spacing_mm
    xs, ys, zs = grid.axes_mm()
    grown = ndi.binary_dilation(lab > 0, _ball(RIB_ENDS_SPINE_GROW_MM, sp))
    reach: list[list[float]] = [[] for _ in POSTERIOR_BANDS_MM]
    for k in np.nonzero((zs >= lo[2]) & (zs <= hi[2]))[0]:
        t = (zs[k] - lo[2]) / max(hi[2] - lo[2], 1e-6)
        x0, y0 = lo[:2] + t * (hi[:2] - lo[:2])
        dx = np.abs(xs - x0)[:, None]
        dy = (ys - y0)[None, :]
        bone = (arr[:, :, k] > RIB_ENDS_BONE_HU) & ~grown[:, :, k]
        bone &= (dy > -RIB_ENDS_SPINE_GROW_MM) & (dy < POSTERIOR_RIBS_MM)
        for n, (a, b) in enumerate(POSTERIOR_BANDS_MM):
            sel = bone & (dx >= a) & (dx < b)
            if sel.any():
                reach[n].append(float(np.broadcast_to(dy, sel.shape)[sel].max()))
    kc = int(np.argmin(np.abs(zs - hi[2])))
    body = _slice_body(arr[:, :, kc])
    lung = body & (arr[:, :, kc] < LUNG_HU)
    behind = lung & (ys > hi[1])[None, :]
    n_body = max(int(body.sum()), 1)
    inner = ndi.binary_erosion(behind)
    return PosteriorThorax(
        tuple(_median(np.asarray(r)) for r in reach),
        float(lung.sum()) / n_body,
        float(behind.sum()) / n_body,
        _median(arr[:, :, kc][inner]),
    )


# --------------------------------------------------------------------------------------------
# Calcified plaques in front of the lumbar spine
# --------------------------------------------------------------------------------------------
#: :func:`vascular_calcification`: the HU threshold of a calcified spot, the largest spot
#: (mm^3; bigger bright pieces are bone), how near (mm) a spot may come to bone or to a
#: vertebra's label, and the box searched: this far (mm) to either side of the vertebral bodies'
#: centre line and no further back than this behind it.
CALC_HU = 300.0
CALC_MAX_MM3 = 600.0
CALC_CLEAR_MM = 4.0
CALC_SIDE_MM = 50.0
CALC_BEHIND_MM = 5.0


@dataclass
class VascularCalcification:
    """Isolated bright spots in front of the lumbar spine (:func:`vascular_calcification`).

    Attributes:
        spots: How many (3-D connected pieces).
        volume_mm3: Their total volume.
        max_hu: The brightest voxel among them (NaN without spots).
    """

    spots: int
    volume_mm3: float
    max_hu: float


def vascular_calcification(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], upper: int, lower: int
) -> VascularCalcification:
    """Calcified plaques of the aorta and the iliac arteries as an image shows them: pieces of
    voxels above CALC_HU of at most CALC_MAX_MM3, more than CALC_CLEAR_MM from any bigger
    bright piece (bone) and from the vertebrae's labels, within CALC_SIDE_MM of the bodies'
    centre line and in front of CALC_BEHIND_MM behind it, between the centres of vertebrae
    ``upper`` and ``lower`` (e.g. L3 and S1; ids of ``labels``). The same procedure on a real
    CT with its vertebra masks and on a synthetic case.

    Raises:
        ValueError: Either vertebra has no body interior in the label map.
    """
    grid, hi, lo = _pair_and_centres(hu, labels, affine, upper, lower)
    arr, lab, sp = grid.hu, grid.labels, grid.spacing_mm
    xs, ys, zs = grid.axes_mm()
    ks = np.nonzero((zs >= lo[2]) & (zs <= hi[2]))[0]
    if ks.size == 0:
        return VascularCalcification(0, 0.0, math.nan)
    slab = arr[:, :, ks[0] : ks[-1] + 1]
    bright = slab > CALC_HU
    pieces, n = ndi.label(bright)
    voxel = float(np.prod(sp))
    sizes = np.bincount(pieces.ravel(), minlength=n + 1) * voxel
    big = (sizes > CALC_MAX_MM3)[pieces] & bright
    near = ndi.binary_dilation(big | (lab[:, :, ks[0] : ks[-1] + 1] > 0), _ball(CALC_CLEAR_MM, sp))
    t = (zs[ks] - lo[2]) / max(hi[2] - lo[2], 1e-6)
    x0 = lo[0] + t * (hi[0] - lo[0])
    y0 = lo[1] + t * (hi[1] - lo[1])
    box = (np.abs(xs[:, None, None] - x0[None, None, :]) < CALC_SIDE_MM) & (
        ys[None, :, None] < y0[None, None, :] + CALC_BEHIND_MM
    )
    keep = np.zeros(n + 1, dtype=bool)
    ok = bright & ~big & box
    keep[np.unique(pieces[ok])] = True
    keep[np.unique(pieces[near & bright])] = False
    keep[0] = False
    spots = keep[pieces]
    return VascularCalcification(
        int(keep.sum()),
        float(spots.sum()) * voxel,
        float(slab[spots].max()) if spots.any() else math.nan,
    )
