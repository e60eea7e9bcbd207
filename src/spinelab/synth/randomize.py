"""SynthSeg-style domain randomization of the appearance (``--style randomized``).

Following Billot et al. (SynthSeg, 2023): every tissue class gets a random mean and spread, the
image is blurred by a random anisotropic Gaussian, multiplied by a smooth random bias field,
contrast-warped by a random gamma and given random noise. Labels and geometry are untouched, so a
network trained on these images cannot rely on CT numbers and must learn shape.

Intensities are arbitrary units stored as int16 in ``[0, 2000]``: the values are not HU.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab.synth.ct import block_mean_lut
from spinelab.synth.tissues import N_TISSUES, Tissue

#: Upper end of the randomized intensity range (int16 output in [0, RANDOM_MAX]).
RANDOM_MAX = 2000


def _smooth_1d(rng: np.random.Generator, n: int, n_knots: int, amp: float) -> NDArray[np.float32]:
    knots = rng.normal(0.0, amp, n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots).astype(np.float32)


def randomized_image(
    tissue_fine: NDArray[np.uint8],
    factors: tuple[int, int, int],
    spacing_kji_mm: tuple[float, float, float],
    rng: np.random.Generator,
) -> NDArray[np.int16]:
    """A domain-randomized image from a fine tissue map.

    Args:
        tissue_fine: ``(nk*fk, nj*fj, ni*fi)`` uint8 tissue classes.
        factors: ``(fk, fj, fi)`` fine-to-output block size.
        spacing_kji_mm: Output voxel size along the array axes (mm).
        rng: Random generator.

    Returns:
        ``(nk, nj, ni)`` int16 in ``[0, RANDOM_MAX]``.
    """
    means = rng.uniform(0.0, 255.0, N_TISSUES).astype(np.float32)
    means[Tissue.AIR] = rng.uniform(0.0, 40.0)  # background mostly dark, as in SynthSeg
    stds = rng.uniform(0.0, 25.0, N_TISSUES).astype(np.float32)
    img = block_mean_lut(tissue_fine, means, factors)
    sd = block_mean_lut(tissue_fine, stds, factors)
    # per-class noise: one slab of normal variates reused with flips (as in ct.py)
    slab = min(img.shape[0], 29)
    block = rng.standard_normal((slab, *img.shape[1:]), dtype=np.float32)
    for s0 in range(0, img.shape[0], slab):
        n = min(slab, img.shape[0] - s0)
        view = block[:n] if (s0 // slab) % 2 == 0 else block[:n, ::-1, ::-1]
        img[s0 : s0 + n] += sd[s0 : s0 + n] * view
    sig = [float(rng.uniform(0.0, 1.5)) / s * min(spacing_kji_mm) for s in spacing_kji_mm]
    for axis, sg in enumerate(sig):
        if sg > 0.2:
            ndi.gaussian_filter1d(img, sg, axis=axis, output=img, truncate=2.0)
    # smooth multiplicative bias field: exp of a separable low-frequency sum, slice by slice
    # (no whole-volume temporaries)
    nk, nj, ni = img.shape
    bias_k = _smooth_1d(rng, nk, 4, 0.2)
    bias_j = _smooth_1d(rng, nj, 4, 0.2)[:, None]
    bias_i = _smooth_1d(rng, ni, 4, 0.2)[None, :]
    for k in range(nk):
        bias = (bias_k[k] + bias_j) + bias_i
        np.exp(bias, out=bias)
        img[k] *= bias
    lo, hi = np.percentile(img[:: max(1, nk // 16)], [0.5, 99.5])
    img -= lo
    img /= max(float(hi - lo), 1e-3)
    np.clip(img, 0.0, 1.0, out=img)
    gamma = float(np.exp(rng.normal(0.0, 0.3)))
    if abs(gamma - 1.0) > 0.02:
        img **= np.float32(gamma)
    img *= np.float32(RANDOM_MAX)
    np.clip(img, 0.0, RANDOM_MAX, out=img)
    np.rint(img, out=img)
    return img.astype(np.int16)
