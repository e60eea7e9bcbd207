"""Memory layout helpers for large volumes (pure numpy).

Filtering or copying 512-wide float volumes along a slow axis thrashes the cache; these helpers
pad rows (:func:`empty_padded`) and copy between differently ordered layouts tile by tile
(:func:`copy_tiled`). Used by the CT physics (:mod:`spinelab.synth.ct`), the randomized style and
the generator's reoriented outputs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def retain_freed_memory() -> bool:
    """Keep freed memory in this process for reuse instead of handing it back to the OS.

    A generator process allocates and frees 0.5-1 GB of arrays per 512x512x300 case. glibc
    serves such large blocks with fresh ``mmap`` pages and unmaps them on free, so every case
    pays the kernel's page faults again (0.3-1.2 s of system time per case on the 2-core VM;
    a later lumbar 1 mm case: 5,000-9,000 minor faults, 10-250 with this). Setting
    ``M_MMAP_MAX`` to 0 and a 2 GiB ``M_TRIM_THRESHOLD`` (what the ``MALLOC_MMAP_MAX_`` and
    ``MALLOC_TRIM_THRESHOLD_`` environment variables do at start-up) keeps the pages: the
    process's memory stays at its peak between cases. Process-wide, so call it only in
    processes that exist to generate cases (``spinelab synth``, data-loader workers), never on
    import. Outputs are the same either way.

    Returns:
        True when set (glibc), False where ``mallopt`` is not available (nothing changed).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    log.debug("retain freed memory: %s", ok)
    return ok


def empty_padded(
    shape: tuple[int, int, int], dtype: DTypeLike = np.float32, pad_slices: bool = False
) -> NDArray[Any]:
    """An uninitialized 3-D array whose rows (or slices) are padded in memory (a view of a
    wider buffer).

    With 512-voxel rows, neighbours along axis 1 are 2 KiB apart and fall on the same few cache
    sets, so filtering along that axis or transposing the volume thrashes the cache (a Gaussian
    along axis 1 of a 300x512x512 float32 volume: 0.65 s instead of 0.25 s). Rows are padded to
    an odd number of 64-byte cache lines. With ``pad_slices`` the slices (axis 0) are padded
    instead: each slice is contiguous and one cache line longer, so that neighbours along axis
    0 fall on different cache sets (a slab buffer copied into an array whose fastest axis is
    axis 0: about 0.17 s instead of 0.2-0.3 s per 512x512x300 int16 volume).

    Args:
        shape: ``(n0, n1, n2)`` shape of the returned view.
        dtype: Element type.
        pad_slices: Pad axis 0's stride (by one cache line) rather than axis 1's.

    Returns:
        ``(n0, n1, n2)`` view with unit stride along axis 2 and a padded axis-1 (or axis-0)
        stride.
    """
    item = np.dtype(dtype).itemsize
    if pad_slices:
        n = shape[1] * shape[2]
        buf = np.empty((shape[0], n + max(1, 64 // item)), dtype=dtype)[:, :n]
        return buf.reshape(shape)  # a view: splits the contiguous axis
    lines = max(1, -(-shape[2] * item // 64))
    if lines % 2 == 0:
        lines += 1
    width = max(shape[2], lines * 64 // item)
    return np.empty((shape[0], shape[1], width), dtype=dtype)[:, :, : shape[2]]


#: Tile of :func:`copy_tiled`: along the source's fastest axis, along the destination's
#: fastest axis, and along the third axis.
COPY_TILE = (64, 64, 4)


def copy_tiled(dst: NDArray[Any], src: NDArray[Any], sparse: bool = False) -> None:
    """``dst[...] = src`` for 3-D arrays or views whose fastest axes differ, tile by tile.

    numpy copies a view in the destination's order. When the destination's fastest axis is a
    slow axis of the source (or the other way round), each read lands on another page, and
    for 512-wide volumes on the same few cache sets (up to 2.5 s for the int16 + uint8 pair of
    a 512x512x300 case). Such copies go tile by tile, each tile long along both the source's
    and the destination's fastest axes (whole cache lines read, rows of 64 written) and short
    along the third (0.2-0.3 s for the pair); arrays whose fastest axes agree are copied in
    one go. Values are cast as by ``astype`` (unsafe casting). With ``sparse`` (a label map,
    mostly zero) a tiled copy zero-fills ``dst`` and copies only the box of ``src``'s nonzero
    voxels (:func:`nonzero_box`: 0.05-0.1 s instead of 0.28 s for a 512x512x300 uint8 map
    whose vertebrae fill a tenth of it).

    Args:
        dst: 3-D array or view, written in place.
        src: Array or view of the same shape.
        sparse: ``src`` is mostly zero: an unsigned or bool array (a label map).
    """
    if dst.shape != src.shape:
        raise ValueError(f"copy of shape {src.shape} into {dst.shape}")
    if sparse and src.dtype.kind not in "bu":
        raise ValueError(f"a sparse copy needs an unsigned or bool array, not {src.dtype}")
    a_src = int(np.argmin([abs(s) for s in src.strides]))
    a_dst = int(np.argmin([abs(s) for s in dst.strides]))
    if src.ndim != 3 or src.size < (1 << 20) or a_src == a_dst:
        np.copyto(dst, src, casting="unsafe")
        return
    # destination written forwards (numpy would otherwise iterate a flipped one backwards)
    flip = tuple(slice(None, None, -1) if st < 0 else slice(None) for st in dst.strides)
    dst, src = dst[flip], src[flip]
    if sparse:
        box = nonzero_box(src)
        dst.fill(0)
        if box is None:
            return
        dst, src = dst[box], src[box]
    tile = [COPY_TILE[2]] * 3
    tile[a_src] = COPY_TILE[0]
    tile[a_dst] = COPY_TILE[1]
    n0, n1, n2 = src.shape
    b0, b1, b2 = tile
    for s0 in range(0, n0, b0):
        for s1 in range(0, n1, b1):
            for s2 in range(0, n2, b2):
                t = (slice(s0, s0 + b0), slice(s1, s1 + b1), slice(s2, s2 + b2))
                dst[t] = src[t]


def nonzero_box(a: NDArray[Any]) -> tuple[slice, slice, slice] | None:
    """Slices of the smallest box holding every nonzero element of a 3-D unsigned (or bool)
    array or view; None when all are zero.

    Two max-reductions in the view's memory order (flipped axes turned back to positive
    strides: numpy reduces a negative-stride view several times more slowly), about 0.02 s
    for 80 MB.
    """
    flip = tuple(slice(None, None, -1) if st < 0 else slice(None) for st in a.strides)
    pos = a[flip]
    slow = int(np.argmax([abs(st) for st in a.strides]))
    rest = tuple(ax for ax in range(3) if ax != slow)
    plane = pos.max(axis=slow) > 0  # over the two other axes, in order
    profiles = {
        slow: pos.max(axis=rest) > 0,
        rest[0]: plane.any(axis=1),
        rest[1]: plane.any(axis=0),
    }
    box = []
    for ax in range(3):
        idx = np.flatnonzero(profiles[ax])
        if len(idx) == 0:
            return None
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if a.strides[ax] < 0:
            lo, hi = a.shape[ax] - hi, a.shape[ax] - lo
        box.append(slice(lo, hi))
    return box[0], box[1], box[2]
