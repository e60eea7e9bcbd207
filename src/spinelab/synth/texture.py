"""Smooth periodic random fields for textures painted slice by slice.

A case draws one small periodic Gaussian field (:func:`periodic_field`, two channels on a
cube of :data:`TEX_N` cells of :data:`TEX_CELL_MM`) and reads it anywhere in the body: by cell
(:func:`tex_index`: blocky lobules, the breasts' lattice) or interpolated (:func:`tex_slice`:
smooth, the stomach's food, the mesentery's strands). Thresholds on a channel give a share of
the volume (:func:`half_width_for_share`: thin sheets where ``|field|`` is below it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Cell of the periodic random fields (mm) and their size (cells per axis).
TEX_CELL_MM = 1.25
TEX_N = 48


def periodic_field(r: np.random.Generator, sigma_cells: float) -> NDArray[np.float32]:
    """A smooth periodic Gaussian random field, ``(2, TEX_N, TEX_N, TEX_N)`` float32 (two
    independent channels, unit SD; cells of :data:`TEX_CELL_MM`)."""
    import scipy.ndimage as ndi

    f = r.standard_normal((2, TEX_N, TEX_N, TEX_N)).astype(np.float32)
    for c in range(2):
        ndi.gaussian_filter(f[c], sigma_cells, mode="wrap", output=f[c])
        f[c] /= max(float(f[c].std()), 1e-6)
    return f


def half_width_for_share(share: float) -> float:
    """``w`` with ``P(|X| < w) = share`` for a standard normal ``X``."""
    from scipy.special import erfinv

    return float(math.sqrt(2.0) * erfinv(share))


def tex_index(v: NDArray[np.float64]) -> NDArray[np.int64]:
    """Cell index (mod :data:`TEX_N`) of coordinates ``v`` (mm) in a :func:`periodic_field`."""
    return np.asarray(np.floor(v / TEX_CELL_MM).astype(np.int64) % TEX_N)


def _tex_axis(v: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64], Any]:
    """Cell indices below and above coordinates ``v`` (mm) between the cell centres of a
    :func:`periodic_field` (periodic) and the weight of the one above (float32)."""
    u = v / TEX_CELL_MM - 0.5
    fu = np.floor(u)
    i = fu.astype(np.int64) % TEX_N
    return i, (i + 1) % TEX_N, (u - fu).astype(np.float32)


def tex_slice(
    field: NDArray[np.float32], z: float, y: NDArray[np.float64], x: NDArray[np.float64]
) -> NDArray[np.float32]:
    """A :func:`periodic_field`'s channel ``(TEX_N, TEX_N, TEX_N)`` (z, y, x), or channels
    ``(C, TEX_N, TEX_N, TEX_N)``, interpolated (trilinear) at height ``z`` on the rows ``y``
    and columns ``x`` (mm): ``(len(y), len(x))`` (or ``(C, len(y), len(x))``), smooth where
    :func:`tex_index`'s cells are blocks. Separably: the plane at ``z`` first, then its rows
    at ``y`` (a small array), then the columns at ``x``."""
    uz = z / TEX_CELL_MM - 0.5
    fz = math.floor(uz)
    wz = np.float32(uz - fz)
    plane = (1 - wz) * field[..., fz % TEX_N, :, :] + wz * field[..., (fz + 1) % TEX_N, :, :]
    j0, j1, wy = _tex_axis(y)
    rows = plane[..., j0, :] * (1 - wy)[:, None] + plane[..., j1, :] * wy[:, None]
    i0, i1, wx = _tex_axis(x)
    return np.asarray(rows[..., i0] * (1 - wx) + rows[..., i1] * wx, dtype=np.float32)
