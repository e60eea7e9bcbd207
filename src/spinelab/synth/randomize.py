"""SynthSeg-style domain randomization of the appearance (``--style randomized``).

Following Billot et al. (SynthSeg, 2023): every tissue class gets a random mean and spread, the
image is blurred by a random anisotropic Gaussian, multiplied by a smooth random bias field,
contrast-warped by a random gamma and given random noise. Labels and geometry are untouched, so a
network trained on these images cannot rely on CT numbers and must learn shape.

Intensities are arbitrary units stored as int16 in ``[0, 2000]``: the values are not HU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.synth import streams
from spinelab.synth.antialias import EdgeBlend
from spinelab.synth.arrays import copy_tiled, empty_padded
from spinelab.synth.ct import SLAB_SLICES, block_mean_lut, blur_axis
from spinelab.synth.streams import side_stream
from spinelab.synth.tissues import N_TISSUES, Tissue

#: Upper end of the randomized intensity range (int16 output in [0, RANDOM_MAX]).
RANDOM_MAX = 2000


#: Tissue classes whose intensities the randomized style draws from the case's stream (those it
#: was written with); later classes draw from a side stream, so the images stay as they were.
RANDOMIZED_CLASSES = int(Tissue.PLAQUE)
#: Classes from this one on draw from a side stream of their own (so the first side stream's
#: draws for the classes before it stay as they were).
RANDOMIZED_LATEST = int(Tissue.CEMENT)


def _smooth_1d(rng: np.random.Generator, n: int, n_knots: int, amp: float) -> NDArray[np.float32]:
    knots = rng.normal(0.0, amp, n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots).astype(np.float32)


def randomized_image(
    tissue_fine: NDArray[np.uint8],
    factors: tuple[int, int, int],
    spacing_kji_mm: tuple[float, float, float],
    rng: np.random.Generator,
    blend: EdgeBlend | None = None,
) -> NDArray[np.int16]:
    """A domain-randomized image from a fine tissue map.

    Args:
        tissue_fine: ``(nk*fk, nj*fj, ni*fi)`` uint8 tissue classes.
        factors: ``(fk, fj, fi)`` fine-to-output block size.
        spacing_kji_mm: Output voxel size along the array axes (mm).
        rng: Random generator.
        blend: Sub-voxel make-up of the map's boundary voxels (:func:`randomized_writer`).

    Returns:
        ``(nk, nj, ni)`` int16 in ``[0, RANDOM_MAX]``.
    """
    shape = tuple(n // f for n, f in zip(tissue_fine.shape, factors, strict=True))
    out = np.empty(shape, dtype=np.int16)
    randomized_writer(tissue_fine, factors, spacing_kji_mm, rng, blend=blend)(out)
    return out


def randomized_writer(
    tissue_fine: NDArray[np.uint8],
    factors: tuple[int, int, int],
    spacing_kji_mm: tuple[float, float, float],
    rng: np.random.Generator,
    blend: EdgeBlend | None = None,
) -> Callable[[NDArray[Any]], None]:
    """:func:`randomized_image`, written into an array the caller gives later.

    Every draw happens here (the caller may draw more, e.g. the orientation that decides the
    output's memory order, before writing). ``blend``: sub-voxel make-up of the map's boundary
    voxels (:func:`spinelab.synth.ct.block_mean_lut`), applied to the class means and SDs.

    Returns:
        ``write(out)``: fills ``out``, any ``(nk, nj, ni)`` int16 array or view, with the image
        (:func:`gamma_to_int16`).
    """
    n0 = RANDOMIZED_CLASSES  # the classes since the style was written: from a side stream
    late = side_stream(rng, streams.RANDOMIZED_LATE)
    means = np.empty(N_TISSUES, np.float32)
    stds = np.empty(N_TISSUES, np.float32)
    means[:n0] = rng.uniform(0.0, 255.0, n0)
    means[Tissue.AIR] = rng.uniform(0.0, 40.0)  # background mostly dark, as in SynthSeg
    stds[:n0] = rng.uniform(0.0, 25.0, n0)
    n1 = RANDOMIZED_LATEST
    means[n0:n1] = late.uniform(0.0, 255.0, n1 - n0)
    stds[n0:n1] = late.uniform(0.0, 25.0, n1 - n0)
    latest = side_stream(rng, streams.RANDOMIZED_LATEST)
    means[n1:] = latest.uniform(0.0, 255.0, N_TISSUES - n1)
    stds[n1:] = latest.uniform(0.0, 25.0, N_TISSUES - n1)
    # rows contiguous (not empty_padded): the look-up writes whole chunks of rows faster, and
    # the blurs below read whole rows or slices
    shape = tuple(n // f for n, f in zip(tissue_fine.shape, factors, strict=True))
    img = block_mean_lut(tissue_fine, means, factors, out=np.empty(shape, np.float32), blend=blend)
    # per-class noise: one slab of normal variates reused with flips (as in ct.py), scaled by
    # the block-mean SD of the same slices (looked up slab by slab: no second volume)
    slab = min(img.shape[0], 29)
    block = rng.standard_normal((slab, *img.shape[1:]), dtype=np.float32)
    sd = np.empty((slab, *img.shape[1:]), np.float32)  # rows contiguous: a faster look-up
    fk = factors[0]
    for s0 in range(0, img.shape[0], slab):
        n = min(slab, img.shape[0] - s0)
        view = block[:n] if (s0 // slab) % 2 == 0 else block[:n, ::-1, ::-1]
        part = block_mean_lut(
            tissue_fine[s0 * fk : (s0 + n) * fk],
            stds,
            factors,
            out=sd[:n],
            blend=None if blend is None else blend.slices(s0 * fk, (s0 + n) * fk),
        )
        part *= view
        img[s0 : s0 + n] += part
    sig = [float(rng.uniform(0.0, 1.5)) / s * min(spacing_kji_mm) for s in spacing_kji_mm]
    for axis, sg in enumerate(sig):
        if sg > 0.2:
            blur_axis(img, sg, axis)
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
    gamma = float(np.exp(rng.normal(0.0, 0.3)))
    gamma = gamma if abs(gamma - 1.0) > 0.02 else 1.0

    def write(out: NDArray[Any]) -> None:
        gamma_to_int16(img, float(lo), float(hi), gamma, out=out)

    return write


#: Levels of the look-up table that applies the gamma (:func:`gamma_to_int16`).
GAMMA_LEVELS = 65536


def gamma_to_int16(
    img: NDArray[np.float32],
    lo: float,
    hi: float,
    gamma: float,
    out: NDArray[Any] | None = None,
) -> NDArray[np.int16]:
    """``rint(RANDOM_MAX * clip((img - lo) / (hi - lo), 0, 1) ** gamma)`` as int16.

    The power goes through a table of :data:`GAMMA_LEVELS` + 1 entries, one slice at a time
    (a float power over a 512x512x300 volume costs about 1 s; the table a third of that). The
    input is rounded to a multiple of ``1 / GAMMA_LEVELS`` before the power: outputs move by at
    most one unit of the ``[0, RANDOM_MAX]`` range, except, for ``gamma < 1``, the darkest few
    levels, where the power is steep (at most ``RANDOM_MAX * GAMMA_LEVELS ** -gamma``, about 14
    units at gamma 0.45).

    Args:
        img: ``(nk, nj, ni)`` float32 intensities.
        lo, hi: Values mapped to 0 and ``RANDOM_MAX`` before the gamma.
        gamma: Contrast exponent.
        out: ``(nk, nj, ni)`` int16 array or view to fill (e.g. a reoriented array's view
            in ``img``'s axis order: filled slab by slab with
            :func:`~spinelab.synth.arrays.copy_tiled`); None allocates a C-contiguous one.

    Returns:
        ``(nk, nj, ni)`` int16 in ``[0, RANDOM_MAX]`` (``out`` if given).
    """
    levels = np.arange(GAMMA_LEVELS + 1, dtype=np.float64) / GAMMA_LEVELS
    table = np.rint(RANDOM_MAX * levels**gamma).astype(np.int16)
    scale = np.float32(GAMMA_LEVELS / max(hi - lo, 1e-3))
    offset = np.float32(0.5 - lo * float(scale))  # + 0.5: the int conversion rounds
    if out is None:
        out = np.empty(img.shape, dtype=np.int16)
    elif out.shape != img.shape or out.dtype != np.int16:
        raise ValueError(f"out is {out.dtype} {out.shape}, expected int16 {img.shape}")
    # rows contiguous: slice by slice in place; otherwise through a slab of SLAB_SLICES
    direct = out.strides[2] == out.itemsize
    nk = img.shape[0]
    buf = out if direct else empty_padded((min(nk, SLAB_SLICES), *img.shape[1:]), np.int16, True)
    tmp = np.empty(img.shape[1:], dtype=np.float32)
    idx = np.empty(img.shape[1:], dtype=np.int32)
    for k0 in range(0, nk, SLAB_SLICES):
        k1 = min(nk, k0 + SLAB_SLICES)
        for k in range(k0, k1):
            np.multiply(img[k], scale, out=tmp)
            tmp += offset
            np.clip(tmp, 0.0, float(GAMMA_LEVELS), out=tmp)
            idx[...] = tmp  # truncation of a non-negative value: floor
            np.take(table, idx, out=buf[k if direct else k - k0], mode="clip")
        if not direct:
            copy_tiled(out[k0:k1], buf[: k1 - k0])
    return out
