"""Peak finding on 1-D signals sampled on a (possibly non-uniform) grid and on 3-D maps.

Pure numpy/scipy. Used by :mod:`spinelab.postprocess.chain` (initialization from the local maxima
of the summed signal Q̂) and :mod:`spinelab.postprocess.wang` (the ``base`` ablation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def local_maxima_1d(
    signal: NDArray[np.float64],
    z_mm: NDArray[np.float64] | None = None,
    min_height_rel: float = 0.1,
    min_distance_mm: float = 0.0,
) -> NDArray[np.int64]:
    """Indices of the local maxima of a 1-D signal, ascending.

    A sample is a local maximum when it is >= both neighbours and > at least one of them (the
    first and last samples count, compared with their one neighbour). A plateau contributes its
    middle sample. Maxima below ``min_height_rel * max(signal)`` are dropped, then maxima closer
    than ``min_distance_mm`` to a higher kept one are suppressed (greedy, highest first), so the
    grid need not be uniform.

    Args:
        signal: ``(K,)`` values.
        z_mm: ``(K,)`` strictly ascending positions in mm; None means ``arange(K)``.
        min_height_rel: Relative height threshold in [0, 1].
        min_distance_mm: Minimum distance between two kept maxima, mm.

    Returns:
        ``(M,)`` int64 indices into ``signal``, ascending. Empty for an empty, all-zero or
        non-finite signal.
    """
    s = np.asarray(signal, dtype=np.float64).reshape(-1)
    k = s.shape[0]
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    s = np.where(np.isfinite(s), s, -np.inf)
    top = float(np.max(s))
    if not np.isfinite(top) or top <= 0.0:
        return np.zeros(0, dtype=np.int64)
    z = np.arange(k, dtype=np.float64) if z_mm is None else np.asarray(z_mm, dtype=np.float64)
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    padded = np.concatenate([[-np.inf], s, [-np.inf]])
    # Collapse plateaus: run-length encode equal values.
    change = np.flatnonzero(np.diff(padded) != 0)  # boundaries between runs in padded
    starts = np.concatenate([[0], change + 1])
    values = padded[starts]
    ends = np.concatenate([change, [padded.shape[0] - 1]])
    peaks: list[int] = []
    for r in range(1, len(starts) - 1):
        if values[r] > values[r - 1] and values[r] > values[r + 1]:
            mid = (starts[r] + ends[r]) // 2 - 1  # back to unpadded index
            peaks.append(int(mid))
    idx = np.asarray(peaks, dtype=np.int64)
    idx = idx[s[idx] >= min_height_rel * top]
    if min_distance_mm > 0.0 and idx.size > 1:
        order = idx[np.argsort(-s[idx], kind="stable")]
        kept: list[int] = []
        for i in order:
            if all(abs(z[i] - z[j]) >= min_distance_mm for j in kept):
                kept.append(int(i))
        idx = np.asarray(sorted(kept), dtype=np.int64)
    return idx


def argmax_3d(volume: NDArray[np.floating]) -> tuple[NDArray[np.int64], float]:
    """Voxel index and value of the maximum of a 3-D map.

    Args:
        volume: ``(X, Y, Z)`` map.

    Returns:
        ``((3,) int64 index, value)``; NaNs are ignored.
    """
    v = np.asarray(volume)
    flat = int(np.nanargmax(v))
    ijk = np.asarray(np.unravel_index(flat, v.shape), dtype=np.int64)
    return ijk, float(v.reshape(-1)[flat])
