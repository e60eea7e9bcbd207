"""Image preprocessing shared by training and inference: resampling onto an LPS-aligned grid.

Pure numpy/scipy. A network sees every scan on the same kind of grid whatever the scanner's
voxel orientation (axis permutations, flips, oblique directions) and spacing: index axes
increasing towards patient left, posterior and superior (LPS), isotropic voxels. The world
coordinates stay those of the scan (LPS mm), so points found on the resampled grid need no
conversion back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from spinelab.structures import Volume


def lps_grid(
    volume: Volume, spacing_mm: float | Sequence[float]
) -> tuple[tuple[int, int, int], NDArray[np.float64]]:
    """The LPS-aligned grid with the given spacing that covers a volume's voxel centres.

    Returns:
        ``(shape, affine_lps)``: index axes increasing along L, P and S; the first voxel at the
        volume's lowest world x, y and z.
    """
    sp = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64), (3,)).copy()
    if np.any(sp <= 0) or not np.all(np.isfinite(sp)):
        raise ValueError(f"spacing must be positive, got {spacing_mm!r}")
    ext = np.array(volume.shape, dtype=np.float64) - 1.0
    corners = np.array(
        [[i, j, k] for i in (0.0, ext[0]) for j in (0.0, ext[1]) for k in (0.0, ext[2])]
    )
    world = corners @ volume.affine_lps[:3, :3].T + volume.affine_lps[:3, 3]
    lo, hi = world.min(axis=0), world.max(axis=0)
    n = np.floor((hi - lo) / sp + 1e-6).astype(int) + 1
    affine = np.eye(4)
    affine[:3, :3] = np.diag(sp)
    affine[:3, 3] = lo
    return (int(n[0]), int(n[1]), int(n[2])), affine


def resample_lps(
    volume: Volume,
    spacing_mm: float | Sequence[float],
    order: int = 1,
    cval: float = 0.0,
    antialias: bool = True,
) -> Volume:
    """Resample a volume onto the LPS-aligned grid of :func:`lps_grid`.

    Args:
        volume: Any voxel orientation (the affine may be oblique).
        spacing_mm: Output voxel size (one value: isotropic).
        order: Spline order of the interpolation (0 for label maps, 1 for images).
        cval: Value outside the input (e.g. -1024 for CT in HU).
        antialias: Before coarsening, smooth each input axis with a Gaussian whose sigma (in
            input voxels) is ``0.5 * sqrt(f**2 - 1)`` where ``f`` > 1 is the ratio of output to
            input spacing along that axis (ignored for ``order`` 0).

    Returns:
        A float32 volume (``order`` > 0) or one of the input's dtype (``order`` 0).
    """
    shape, affine = lps_grid(volume, spacing_mm)
    src = volume.array
    if order > 0:
        src = src.astype(np.float32, copy=False)
        if antialias:
            # the output spacing seen along each input axis (its direction in world space)
            d = volume.direction
            out_sp = np.abs(np.diag(affine)[:3])
            seen = np.sqrt(((d**2) * (out_sp[:, None] ** 2)).sum(axis=0))
            f = seen / volume.spacing_mm
            sigma = np.where(f > 1.0, 0.5 * np.sqrt(np.maximum(f**2 - 1.0, 0.0)), 0.0)
            if np.any(sigma > 0):
                src = ndimage.gaussian_filter(src, sigma=sigma, mode="nearest", truncate=3.0)
    # output index -> world -> input index
    m = np.linalg.inv(volume.affine_lps) @ affine
    out = ndimage.affine_transform(
        src,
        m[:3, :3],
        offset=m[:3, 3],
        output_shape=shape,
        order=order,
        mode="constant",
        cval=cval,
        prefilter=order > 1,
    )
    return Volume(out, affine)
