"""CT physics for the synthetic generator: fine tissue map -> int16 HU on the output grid.

Steps (all vectorized numpy / scipy.ndimage):

1. HU per tissue (:func:`spinelab.synth.tissues.sample_hu_table`) looked up on the fine grid and
   block-averaged down to the output voxels: partial volume, including the slice thickness.
2. Per-vertebra density offsets and a smooth trabecular texture inside the vertebrae.
3. Metal streaks: alternating bright and dark lines through each metal point, per axial slice.
4. White noise plus in-plane Gaussian blur (the reconstruction kernel's PSF); the noise is
   scaled so that its standard deviation after the blur is the drawn ``noise_hu``.
5. Clip to [-1024, 3071] and round to int16.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import DTypeLike, NDArray

HU_MIN = -1024
HU_MAX = 3071
#: Trabecular texture amplitude falls as voxel volume to this power (between 0: no averaging
#: and 1/2: independent trabeculae per mm^3); tuned so that 3 mm cores show the real CT's
#: spread.
TEXTURE_VOLUME_EXPONENT = 0.25
#: Output voxels per chunk of the tissue look-up (a few hundred kB: stays in cache).
LUT_CHUNK = 1 << 16


@dataclass(frozen=True)
class Physics:
    """Scanner parameters of one case.

    Attributes:
        noise_hu: Standard deviation of the image noise after blurring (HU).
        blur_mm: In-plane Gaussian PSF sigma (mm).
        streak_hu: Amplitude of metal streaks (HU).
    """

    noise_hu: float = 15.0
    blur_mm: float = 0.5
    streak_hu: float = 400.0


def empty_padded(shape: tuple[int, int, int], dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """An uninitialized 3-D array whose rows are padded in memory (a view of a wider buffer).

    With 512-voxel rows, neighbours along axis 1 are 2 KiB apart and fall on the same few cache
    sets, so filtering along that axis or transposing the volume thrashes the cache (a Gaussian
    along axis 1 of a 300x512x512 float32 volume: 0.65 s instead of 0.25 s). Rows are padded to
    an odd number of 64-byte cache lines.

    Args:
        shape: ``(n0, n1, n2)`` shape of the returned view.
        dtype: Element type.

    Returns:
        ``(n0, n1, n2)`` view with unit stride along axis 2 and a padded axis-1 stride.
    """
    item = np.dtype(dtype).itemsize
    lines = max(1, -(-shape[2] * item // 64))
    if lines % 2 == 0:
        lines += 1
    width = max(shape[2], lines * 64 // item)
    return np.empty((shape[0], shape[1], width), dtype=dtype)[:, :, : shape[2]]


def block_mean_lut(
    labels_fine: NDArray[np.uint8], lut: NDArray[np.float32], factors: tuple[int, int, int]
) -> NDArray[np.float32]:
    """Average ``lut[labels_fine]`` over blocks of ``factors`` voxels (partial volume).

    The look-up runs a chunk of rows at a time into one preallocated output (numpy would
    otherwise build whole-volume index and value temporaries); the output has padded rows
    (:func:`empty_padded`).

    Args:
        labels_fine: ``(nk*fk, nj*fj, ni*fi)`` class map.
        lut: ``(n_classes,)`` value per class.
        factors: ``(fk, fj, fi)`` block size.

    Returns:
        ``(nk, nj, ni)`` float32 block means (a view with padded rows).
    """
    fk, fj, fi = factors
    table = np.zeros(256, dtype=np.float32)  # uint8 indices never leave a 256-entry table
    table[: len(lut)] = lut
    nk, nj, ni = (
        labels_fine.shape[0] // fk,
        labels_fine.shape[1] // fj,
        labels_fine.shape[2] // fi,
    )
    out = empty_padded((nk, nj, ni), np.float32)
    rows = max(1, LUT_CHUNK // max(ni, 1))
    if fk * fj * fi == 1:
        for k in range(nk):
            for j0 in range(0, nj, rows):
                j1 = min(nj, j0 + rows)
                np.take(table, labels_fine[k, j0:j1], out=out[k, j0:j1], mode="clip")
        return out
    # output rows chunk by chunk, so the partial sums stay in cache (same summation order as
    # a whole-volume sum: zero, then each sub-voxel offset in turn, then the scale)
    tmp = np.empty((rows, ni), dtype=np.float32)
    scale = np.float32(1.0 / (fk * fj * fi))
    for k in range(nk):
        for j0 in range(0, nj, rows):
            j1 = min(nj, j0 + rows)
            acc = out[k, j0:j1]
            acc.fill(0.0)
            part = tmp[: j1 - j0]
            for a, b, c in itertools.product(range(fk), range(fj), range(fi)):
                sub = labels_fine[k * fk + a, j0 * fj + b : j1 * fj : fj, c::fi]
                np.take(table, sub, out=part, mode="clip")
                acc += part
            acc *= scale
    return out


def block_centre(
    labels_fine: NDArray[np.uint8], factors: tuple[int, int, int]
) -> NDArray[np.uint8]:
    """Label of each block's central fine voxel: ``(nk, nj, ni)``."""
    fk, fj, fi = factors
    return np.ascontiguousarray(labels_fine[fk // 2 :: fk, fj // 2 :: fj, fi // 2 :: fi])


def gaussian_noise_factor(sigma_px: float) -> float:
    """Standard deviation of white unit noise after a 1-D Gaussian filter of ``sigma_px``."""
    if sigma_px <= 0.05:
        return 1.0
    radius = max(1, int(4.0 * sigma_px + 0.5))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma_px) ** 2)
    w /= w.sum()
    return float(np.sqrt(np.sum(w**2)))


def blur_axis(img: NDArray[np.float32], sigma: float, axis: int, truncate: float = 2.0) -> None:
    """In-place Gaussian blur of a ``(nk, nj, ni)`` volume along one axis, slice by slice.

    Same result as ``scipy.ndimage.gaussian_filter1d(img, sigma, axis, mode="reflect",
    truncate=truncate)`` (to float32 rounding), about 3x faster along the first two axes: a
    weighted sum of shifted slices (axis 0: keeping the few original slices still needed) or
    shifted rows of each slice, instead of scipy's strided line buffers.
    """
    r = int(truncate * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    w = (w / w.sum()).astype(np.float32)
    n = img.shape[axis]
    if r == 0 or n < 2:
        return
    if axis == 2:
        ndi.gaussian_filter1d(img, sigma, axis=2, output=img, truncate=truncate)
        return

    def mirror(q: int) -> int:
        while q < 0 or q >= n:
            q = -q - 1 if q < 0 else 2 * n - q - 1
        return q

    if axis == 0:
        orig: dict[int, NDArray[np.float32]] = {}
        acc = np.empty(img.shape[1:], dtype=np.float32)
        tmp = np.empty(img.shape[1:], dtype=np.float32)
        for k in range(n):
            for q in range(k - r, k + r + 1):
                m = mirror(q)
                if m not in orig:
                    orig[m] = img[m].copy()
            np.multiply(orig[k], w[r], out=acc)
            for t, q in enumerate(range(k - r, k + r + 1)):
                if q != k:
                    np.multiply(orig[mirror(q)], w[t], out=tmp)
                    acc += tmp
            img[k] = acc
            for m in [m for m in orig if m < k - r and m != mirror(k - r)]:
                del orig[m]
        return
    idx = np.array([mirror(q) for q in range(-r, n + r)])
    acc2 = np.empty(img.shape[1:], dtype=np.float32)
    tmp2 = np.empty(img.shape[1:], dtype=np.float32)
    for k in range(img.shape[0]):
        padded = img[k][idx]  # (n + 2r, ni) rows, mirrored at the ends
        np.multiply(padded[r : r + n], w[r], out=acc2)
        for t in range(2 * r + 1):
            if t != r:
                np.multiply(padded[t : t + n], w[t], out=tmp2)
                acc2 += tmp2
        img[k] = acc2


def add_noise_and_blur(
    hu: NDArray[np.float32],
    spacing_kji_mm: tuple[float, float, float],
    physics: Physics,
    rng: np.random.Generator,
) -> None:
    """In place: add white noise, then blur in-plane so the noise is correlated like CT noise.

    Args:
        hu: ``(nk, nj, ni)`` float32 image, axial slices along axis 0.
        spacing_kji_mm: Voxel size along the three array axes.
        physics: Noise and blur parameters.
        rng: Random generator.
    """
    sig = [physics.blur_mm / spacing_kji_mm[1], physics.blur_mm / spacing_kji_mm[2]]
    factor = gaussian_noise_factor(sig[0]) * gaussian_noise_factor(sig[1])
    amp = np.float32(physics.noise_hu / max(factor, 1e-3))
    nk = hu.shape[0]
    # Drawing normal variates dominates the time on big grids: draw a slab and reuse it with
    # flips and shifts (the repetition is invisible under the blur and the anatomy).
    slab = min(nk, 37)
    block = rng.standard_normal((slab, *hu.shape[1:]), dtype=np.float32)
    block *= amp
    for s0 in range(0, nk, slab):
        n = min(slab, nk - s0)
        view = block[:n]
        r = (s0 // slab) % 4
        if r == 1:
            view = view[:, ::-1]
        elif r == 2:
            view = view[:, :, ::-1]
        elif r == 3:
            view = view[:, ::-1, ::-1]
        hu[s0 : s0 + n] += view
    for axis, s in ((1, sig[0]), (2, sig[1])):
        if s > 0.05:
            blur_axis(hu, s, axis)


def add_metal_streaks(
    hu: NDArray[np.float32],
    affine_kji: NDArray[np.float64],
    metal_mm: NDArray[np.float64],
    amplitude_hu: float,
    rng: np.random.Generator,
) -> None:
    """In place: streaks through metal, per axial slice.

    Args:
        hu: ``(nk, nj, ni)`` float32 image, axial slices along axis 0.
        affine_kji: 4x4 affine of ``hu`` for index order ``(i, j, k)`` (x, y, z spacing diagonal).
        metal_mm: ``(M, 3)`` LPS mm points on the metal.
        amplitude_hu: Streak amplitude near the metal.
        rng: Random generator.
    """
    if len(metal_mm) == 0 or amplitude_hu <= 0:
        return
    inv = np.linalg.inv(affine_kji)
    ijk = metal_mm @ inv[:3, :3].T + inv[:3, 3]
    nk, nj, ni = hu.shape
    sp = np.linalg.norm(affine_kji[:3, :3], axis=0)
    jj, ii = np.mgrid[0:nj, 0:ni].astype(np.float32)
    angles = rng.uniform(0, math.pi, 6)
    signs = np.array([1.0, -1.0, 1.0, -1.0, 0.6, -0.6])
    for k in range(nk):
        near = ijk[np.abs(ijk[:, 2] - k) * sp[2] < 3.0]
        if len(near) == 0:
            continue
        ci, cj = near[:, 0].mean(), near[:, 1].mean()
        di, dj = ii - ci, jj - cj
        r = np.sqrt(di * di + dj * dj) * sp[0]
        fall = amplitude_hu / (1.0 + r / 40.0)
        pat = np.zeros((nj, ni), dtype=np.float32)
        for ang, sgn in zip(angles, signs):
            dist = np.abs(-math.sin(ang) * di + math.cos(ang) * dj) * sp[0]
            pat += sgn * np.exp(-0.5 * (dist / 1.5) ** 2)
        hu[k] += pat * fall


def clip_round_hu(hu: NDArray[np.float32]) -> NDArray[np.float32]:
    """In place: clip to [-1024, 3071] HU and round to whole HU; returns ``hu``."""
    np.clip(hu, HU_MIN, HU_MAX, out=hu)
    np.rint(hu, out=hu)
    return hu


def to_int16_hu(hu: NDArray[np.float32]) -> NDArray[np.int16]:
    """Clip to [-1024, 3071] HU and round to int16 (``hu`` is modified)."""
    return clip_round_hu(hu).astype(np.int16)


def vertebra_texture(
    hu: NDArray[np.float32],
    vert: NDArray[np.uint8],
    boxes: dict[int, tuple[int, int, int, int, int, int]],
    spacing_kji_mm: tuple[float, float, float],
    amplitude_hu: float,
    offsets_hu: dict[int, float],
    rng: np.random.Generator,
) -> None:
    """In place: per-vertebra density offset plus smooth trabecular texture inside each vertebra.

    Args:
        hu: ``(nk, nj, ni)`` float32 image.
        vert: ``(nk, nj, ni)`` VerSe ids on the same grid.
        boxes: ``{verse_id: (k0, k1, j0, j1, i0, i1)}`` boxes on this grid.
        spacing_kji_mm: Voxel size along the array axes (mm).
        amplitude_hu: Texture standard deviation (HU) at 1 mm^3 voxels; bigger voxels average
            more trabeculae, so the amplitude falls as ``voxel volume ** -1/4`` above 1 mm^3
            (:data:`TEXTURE_VOLUME_EXPONENT`; 0.44x at 3 mm isotropic).
        offsets_hu: ``{verse_id: HU offset}``.
        rng: Random generator.
    """
    if not boxes:
        return
    voxel_mm3 = float(np.prod(spacing_kji_mm))
    amplitude_hu *= min(1.0, voxel_mm3**-TEXTURE_VOLUME_EXPONENT)
    # one smooth field, as large as the largest box; each vertebra reads its own window of it
    dims = np.max([[k1 - k0, j1 - j0, i1 - i0] for k0, k1, j0, j1, i0, i1 in boxes.values()], 0)
    sig = [1.2 / s for s in spacing_kji_mm]
    field = rng.standard_normal(tuple(int(x) for x in dims), dtype=np.float32)
    field = ndi.gaussian_filter(field, sig, truncate=2.5)
    field *= np.float32(amplitude_hu / (float(field.std()) or 1.0))
    for vid, (k0, k1, j0, j1, i0, i1) in boxes.items():
        sl = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
        m = vert[sl] == vid
        if not m.any():
            continue
        sub = hu[sl]
        fw = field[: m.shape[0], : m.shape[1], : m.shape[2]]
        if vid % 2:
            fw = fw[::-1, ::-1]
        sub[m] += offsets_hu.get(vid, 0.0) + fw[m]
