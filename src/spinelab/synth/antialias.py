"""Anti-aliased tissue boundaries: the sub-voxel make-up of the fine map's boundary voxels.

The renderer paints every structure by testing voxel centres, so on the fine grid a smooth
surface becomes a staircase of whole voxels. Where the fine grid is the output grid (in-plane
pixels under 1.5 mm, slices under 1.5 mm: the block average of :func:`spinelab.synth.ct.
block_mean_lut` has nothing to average), a narrow point spread function leaves those steps in
the image: bone edges and thin cortex look pixel-drawn beside a real thin-slice CT, whose
scanner sees the continuous surface.

This module estimates how much of each boundary voxel each tissue covers, from the map alone.
Tissues are grouped into nested levels (:data:`LEVELS`: the body, its tissue other than fat,
bone inside that, the bone's core inside bone); each level's indicator is smoothed with a binomial kernel one voxel wide (a
Gaussian of sigma 1 voxel in index space), which turns the staircase back into a smooth field,
and the field is read as a signed distance to the level's surface (``sigma * probit(G)``) and
then as the voxel's coverage (``0.5 + distance``, clipped to 0..1), the coverage of a box voxel
cut by a plane through it. Nested levels keep thin layers: a one-voxel cortex between muscle
and the cancellous core is the difference of two thick regions' coverages (bone and core), so
its mass survives, where smoothing the thin layer on its own would erase it.

The result (:class:`EdgeBlend`) is sparse: per boundary voxel, the share of it that belongs to
each other level, with a neighbouring voxel's tissue of that level. The HU look-up
(:func:`spinelab.synth.ct.block_mean_lut`) blends the tissues' values by those shares. The
label maps stay crisp; only the image changes. Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, special

from spinelab.synth.tissues import FATS, Tissue

_T = Tissue

#: The body's tissues (level 1 of :data:`LEVELS`): all but air, lung, gas and foam.
_BODY = tuple(t for t in Tissue if t not in (_T.AIR, _T.LUNG, _T.GAS, _T.FAECAL_GAS, _T.FOAM))
#: Bone and metal (level 3 of :data:`LEVELS`; the bones' cores, and vertebroplasty cement
#: which fills them, are level 4).
BONE_LEVEL: tuple[Tissue, ...] = (
    _T.CANCELLOUS,
    _T.CORTICAL,
    _T.MARROW,
    _T.DENSE,
    _T.SHELL,
    _T.FATTY_MARROW,
    _T.METAL,
    _T.TOOTH,
    _T.FILLING,
    _T.CEMENT,
    _T.WIRE,
)
#: Nested tissue levels, outermost first; a voxel's level code is the number of levels that
#: hold its tissue (0: air, lung, gas and foam; 1: fat; 2: the other soft tissue and the couch's
#: skins; 3: compact bone and metal; 4: the cores of bones). Each level must lie inside the one
#: before it in the painted anatomy. Fat is a level of its own (2026-12-04): the fat-to-muscle
#: edges around the spine (the psoas, the back muscles' septa, the retroperitoneal and epidural
#: fat) were pixel-drawn beside the real 0.98 mm slab's (:func:`spinelab.synth.realism.
#: fat_edge_phase` over the spine: real 0.056; a lumbar case at the slab's pixels with a 0.45 mm
#: PSF 0.37 with three levels, 0.20 with this one). Cost, on a 512x512x300 thoraco-lumbar case:
#: twice the blend's entries (0.35 -> 0.67 M), the blend 0.19 -> 0.31 s, two processes' wall
#: time 3.32 -> 3.52 s (five seeds' mean, same minutes).
LEVELS: tuple[tuple[Tissue, ...], ...] = (
    _BODY,
    tuple(t for t in _BODY if t not in FATS),
    BONE_LEVEL,
    (_T.CANCELLOUS, _T.DENSE, _T.MARROW, _T.FATTY_MARROW, _T.CEMENT),
)

#: Smoothing kernel per axis (binomial, variance 1 voxel^2) and its reach (voxels).
KERNEL = np.array([1, 4, 6, 4, 1], dtype=np.int64)
REACH = len(KERNEL) // 2

#: Shares below this are left out (they change a voxel by less than 1 HU in 1000).
MIN_SHARE = 1e-3

#: Offsets (voxels, ``(dk, dj, di)``) searched in turn for a neighbour of each level: faces
#: first, then edges, then corners.
_NEIGHBOURS: tuple[tuple[int, int, int], ...] = tuple(
    sorted(
        (
            (dk, dj, di)
            for dk in (-1, 0, 1)
            for dj in (-1, 0, 1)
            for di in (-1, 0, 1)
            if (dk, dj, di) != (0, 0, 0)
        ),
        key=lambda o: (abs(o[0]) + abs(o[1]) + abs(o[2]), o),
    )
)


def level_codes(levels: tuple[tuple[Tissue, ...], ...] = LEVELS) -> NDArray[np.uint8]:
    """A 256-entry table: tissue value -> the number of ``levels`` holding it."""
    table = np.zeros(256, dtype=np.uint8)
    for level in levels:
        for t in level:
            table[int(t)] += 1
    return table


@dataclass
class EdgeBlend:
    """Shares of boundary voxels that belong to a neighbouring tissue (sparse).

    Entry ``n`` says: ``weight[n]`` of fine voxel ``index[n]`` (flat, C order over ``shape``),
    whose tissue is ``own[n]``, is tissue ``alt[n]``. A voxel may have several entries; the
    rest of it is its own tissue. Entries are sorted by index.
    """

    shape: tuple[int, int, int]
    index: NDArray[np.int64]
    own: NDArray[np.uint8]
    alt: NDArray[np.uint8]
    weight: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def empty(cls, shape: tuple[int, int, int]) -> EdgeBlend:
        return cls(
            shape,
            np.zeros(0, np.int64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.uint8),
            np.zeros(0, np.float32),
        )

    def slices(self, k0: int, k1: int) -> EdgeBlend:
        """The entries of fine slices ``k0 .. k1 - 1``, indexed within that slab."""
        plane = self.shape[1] * self.shape[2]
        lo, hi = np.searchsorted(self.index, (k0 * plane, k1 * plane))
        return EdgeBlend(
            (k1 - k0, self.shape[1], self.shape[2]),
            self.index[lo:hi] - k0 * plane,
            self.own[lo:hi],
            self.alt[lo:hi],
            self.weight[lo:hi],
        )

    def add_to(
        self, out: NDArray[np.float32], table: NDArray[np.float32], factors: tuple[int, int, int]
    ) -> None:
        """Add the blends to block means ``out`` of ``table[labels]`` over ``factors`` blocks.

        Args:
            out: ``(nk, nj, ni)`` block means of this blend's ``shape`` (``nk * fk`` fine
                slices), changed in place.
            table: Value per tissue (256 entries or fewer; the one the means were made with).
            factors: ``(fk, fj, fi)`` fine voxels per output voxel.
        """
        if len(self) == 0:
            return
        fk, fj, fi = factors
        values = np.asarray(table, dtype=np.float32)
        delta = (values[self.alt] - values[self.own]) * self.weight
        if fk * fj * fi > 1:
            delta *= np.float32(1.0 / (fk * fj * fi))
            k, j, i = np.unravel_index(self.index, self.shape)
            o = np.ravel_multi_index((k // fk, j // fj, i // fi), out.shape)
            order = np.argsort(o, kind="stable")
            o, delta = o[order], delta[order]
        else:
            o = self.index  # sorted
        # one sum per output voxel (an unbuffered np.add.at costs several times more)
        first = np.flatnonzero(np.concatenate(([True], o[1:] != o[:-1])))
        sums = np.add.reduceat(delta, first)
        out[np.unravel_index(o[first], out.shape)] += sums


#: Bits per level in the packed sums of :func:`_level_sums`: a level's sum is at most
#: ``KERNEL.sum() ** 3`` (4096 = 2 ** 12, 13 bits), so four levels fit exactly in a float64's
#: integers (52 bits < 53).
_FIELD_BITS = 13
_MAX_LEVELS = 4


def _packed_levels(codes: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Tissue -> ``sum_m 2 ** (13 (m - 1)) * [code >= m]`` (:func:`_level_sums`)."""
    field = [float(1 << (_FIELD_BITS * m)) for m in range(_MAX_LEVELS)]
    return np.array([sum(field[: int(c)]) for c in codes], dtype=np.float64)


def _level_sums(t: NDArray[np.uint8], packed: NDArray[np.float64]) -> NDArray[np.float64]:
    """Binomial sums of all levels' indicators in one pass, packed in a float64 per voxel.

    Voxel value ``packed[t]`` (:func:`_packed_levels`), then :data:`KERNEL` along each axis
    (``nearest`` at the box's ends): level ``m``'s sum is bits ``13 (m - 1)`` up of the
    (exactly integer) result.
    """
    acc = np.take(packed, t)
    tmp = np.empty_like(acc)
    weights = KERNEL.astype(np.float64)
    for axis in range(3):
        ndimage.correlate1d(acc, weights, axis=axis, output=tmp, mode="nearest")
        acc, tmp = tmp, acc
    return acc


def _volume_kept(cover: NDArray[np.float64], painted: NDArray[np.bool_]) -> NDArray[np.float64]:
    """``clip(cover + shift, 0, 1)`` with the shift that keeps the painted volume.

    Voxel-centre sampling is unbiased for a shape's volume, while the smoothed field's level
    set shrinks on convex surfaces (by about ``sigma^2 / 2R``: a tenth of a voxel on a
    transverse process), which would take 1-3 % of a vertebra's bone; one shift per level and
    region, found by bisection (to 2e-5 voxel), puts it back.
    """
    # voxels that a shift within +-0.5 cannot unclip are fixed: only the others are summed
    free = np.flatnonzero((cover > -0.5) & (cover < 1.5))
    target = float(np.count_nonzero(painted)) - float(np.count_nonzero(cover >= 1.5))
    part = cover[free]
    lo, hi = -0.5, 0.5
    buf = np.empty_like(part)
    for _ in range(16):
        mid = 0.5 * (lo + hi)
        np.add(part, mid, out=buf)
        if float(np.clip(buf, 0.0, 1.0, out=buf).sum()) < target:
            lo = mid
        else:
            hi = mid
    out = np.clip(cover + 0.5 * (lo + hi), 0.0, 1.0)
    return out


def _flat(kji: list[NDArray[np.intp]], shape: tuple[int, ...]) -> NDArray[np.int64]:
    """C-order flat indices of in-range ``(k, j, i)`` index arrays in ``shape`` (unchecked)."""
    return (kji[0].astype(np.int64) * shape[1] + kji[1]) * shape[2] + kji[2]


def _face_boundary(code: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Voxels whose code differs from a face neighbour's."""
    edge = np.zeros(code.shape, dtype=bool)
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(1, None), slice(None, -1)
        d = code[tuple(a)] != code[tuple(b)]
        edge[tuple(a)] |= d
        edge[tuple(b)] |= d
    return edge


def _neighbour_tissues(
    code: NDArray[np.uint8],
    t: NDArray[np.uint8],
    kji: list[NDArray[np.intp]],
    wanted: NDArray[np.bool_],
) -> NDArray[np.int16]:
    """For each voxel ``kji`` of the box and each code ``c`` it ``wanted``, the tissue of its
    nearest neighbour (faces, then edges, then corners) of code ``c``; -1 where none.

    Args:
        code, t: The box's level codes and tissues.
        kji: ``(k, j, i)`` indices (in the box) of the voxels.
        wanted: ``(len(k), n_codes)`` which codes each voxel needs a tissue for.
    """
    n_codes = wanted.shape[1]
    cp = np.pad(code, 1, constant_values=255)  # outside the box: no code
    tp = np.pad(t, 1)
    strides = (cp.shape[1] * cp.shape[2], cp.shape[2], 1)
    pflat = _flat([q + 1 for q in kji], cp.shape)
    alt = np.full(wanted.shape, -1, dtype=np.int16)
    alt_flat = alt.ravel()  # entry (row, c) at row * n_codes + c
    faces = [o for o in _NEIGHBOURS if abs(o[0]) + abs(o[1]) + abs(o[2]) == 1]
    rest = [o for o in _NEIGHBOURS if abs(o[0]) + abs(o[1]) + abs(o[2]) > 1]
    rows = np.arange(len(pflat))
    for group in (faces, rest):
        if group is faces:
            todo = rows
        else:  # the few voxels still lacking a wanted code's neighbour
            lack = np.zeros(len(pflat), dtype=bool)
            for c in range(n_codes):
                lack |= wanted[:, c] & (alt[:, c] < 0)
            todo = np.flatnonzero(lack)
            if len(todo) == 0:
                break
        base = pflat[todo]
        at = todo * n_codes
        # faces: all written, the first face last; then edges and corners in turn, each
        # only where no nearer neighbour gave that code
        for off in reversed(group) if group is faces else group:
            nb = base + (off[0] * strides[0] + off[1] * strides[1] + off[2])
            nc = cp.ravel()[nb]
            ok = np.flatnonzero(nc < n_codes)
            dest = at[ok] + nc[ok]
            if group is not faces:
                free = alt_flat[dest] < 0
                ok, dest = ok[free], dest[free]
            alt_flat[dest] = tp.ravel()[nb[ok]]
    return alt


def edge_blend(
    tissue: NDArray[np.uint8],
    regions: list[tuple[slice, slice, slice]],
    levels: tuple[tuple[Tissue, ...], ...] = LEVELS,
) -> EdgeBlend:
    """The sub-voxel make-up of the level boundaries of ``tissue`` inside ``regions``.

    Args:
        tissue: ``(nk, nj, ni)`` fine tissue map.
        regions: Disjoint boxes (slices of ``tissue``) to anti-alias; voxels outside are read
            (up to :data:`REACH` voxels away) but get no entries.
        levels: Nested tissue levels (:data:`LEVELS`), at most four.

    Returns:
        The blends, sorted by voxel.
    """
    if len(levels) > _MAX_LEVELS:
        raise ValueError(f"at most {_MAX_LEVELS} nested levels, got {len(levels)}")
    shape = (int(tissue.shape[0]), int(tissue.shape[1]), int(tissue.shape[2]))
    codes = level_codes(levels)
    n_levels = len(levels)
    total = float(int(KERNEL.sum()) ** 3)
    field_mask = np.uint64((1 << _FIELD_BITS) - 1)
    packed = _packed_levels(codes)
    # a level's smoothed indicator g (its sum / total) read as a distance: 0.5 + probit(g)
    g = np.arange(int(total) + 1, dtype=np.float64) / total
    cover_of_sum = 0.5 + special.ndtri(np.clip(g, 1e-6, 1.0 - 1e-6))
    parts: list[
        tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]
    ] = []
    for region in regions:
        inner = [
            (s.start or 0, n if s.stop is None else s.stop)
            for s, n in zip(region, shape, strict=True)
        ]
        outer = [(max(0, lo - REACH), min(n, hi + REACH)) for (lo, hi), n in zip(inner, shape)]
        box = tuple(slice(lo, hi) for lo, hi in outer)
        t = np.ascontiguousarray(tissue[box])
        code = np.take(codes, t)
        edge = _face_boundary(code)
        core = tuple(slice(lo - olo, hi - olo) for (lo, hi), (olo, _) in zip(inner, outer))
        # the candidates' indices in the (outer) box, in C order
        kji = [q + core[a].start for a, q in enumerate(np.nonzero(edge[core]))]
        if len(kji[0]) == 0:
            continue
        flat = _flat(kji, code.shape)
        own_code = code.ravel()[flat]
        # the sums only around the candidates (their bounding box and the kernel's reach)
        lo = [max(0, int(kji[a].min()) - REACH) for a in range(3)]
        hi = [min(code.shape[a], int(kji[a].max()) + REACH + 1) for a in range(3)]
        near = tuple(slice(lo[a], hi[a]) for a in range(3))
        at = _flat([kji[a] - lo[a] for a in range(3)], tuple(hi[a] - lo[a] for a in range(3)))
        sums = _level_sums(t[near], packed).ravel()[at].astype(np.uint64)
        # coverage of each level: its smoothed indicator read as a distance, then as a share
        beta = np.ones((len(flat), n_levels + 2), dtype=np.float64)
        beta[:, n_levels + 1] = 0.0
        for m in range(1, n_levels + 1):
            s_m = (sums >> np.uint64(_FIELD_BITS * (m - 1))) & field_mask
            cover = np.take(cover_of_sum, s_m.astype(np.intp))
            beta[:, m] = _volume_kept(cover, own_code >= m)
        for m in range(1, n_levels + 1):  # nested: no level covers more than its parent
            np.minimum(beta[:, m], beta[:, m - 1], out=beta[:, m])
        share = beta[:, :-1] - beta[:, 1:]  # (n, n_levels + 1): share of each code
        wanted = share >= MIN_SHARE
        wanted[np.arange(len(flat)), own_code] = False
        alt = _neighbour_tissues(code, t, kji, wanted)
        use = wanted & (alt >= 0)
        r, c = np.nonzero(use)
        if len(r) == 0:
            continue
        glob = _flat([kji[a][r] + outer[a][0] for a in range(3)], shape)
        parts.append(
            (
                glob,
                t.ravel()[flat[r]],
                alt[r, c].astype(np.uint8),
                share[r, c].astype(np.float32),
            )
        )
    if not parts:
        return EdgeBlend.empty(shape)
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")
    return EdgeBlend(
        shape,
        index[order],
        np.concatenate([p[1] for p in parts])[order],
        np.concatenate([p[2] for p in parts])[order],
        np.concatenate([p[3] for p in parts])[order],
    )


#: Fine slices per region of :func:`spine_regions`: the vertebra boxes of each run of slices
#: are joined into one box (shorter runs fit the spine's curve more tightly but cost more calls).
REGION_SLICES = 16


def spine_regions(
    boxes: dict[str, tuple[int, int, int, int, int, int]],
    shape: tuple[int, ...],
    slices: int = REGION_SLICES,
) -> list[tuple[slice, slice, slice]]:
    """Disjoint boxes covering the vertebrae, for :func:`edge_blend`.

    Args:
        boxes: ``{label: (k0, k1, j0, j1, i0, i1)}`` fine-grid box of each vertebra
            (:class:`spinelab.synth.render.RenderResult`).
        shape: The fine grid's shape.
        slices: Fine slices per region; each region is the in-plane hull of the boxes that
            reach its slices.

    Returns:
        Boxes as slices, in slice order.
    """
    regions: list[tuple[slice, slice, slice]] = []
    for k0 in range(0, int(shape[0]), slices):
        k1 = min(int(shape[0]), k0 + slices)
        near = [b for b in boxes.values() if b[0] < k1 and b[1] > k0]
        if not near:
            continue
        kk0 = max(k0, min(b[0] for b in near))
        kk1 = min(k1, max(b[1] for b in near))
        regions.append(
            (
                slice(kk0, kk1),
                slice(min(b[2] for b in near), max(b[3] for b in near)),
                slice(min(b[4] for b in near), max(b[5] for b in near)),
            )
        )
    return regions


#: Tile edge (fine voxels) of :func:`bone_regions`.
BONE_TILE = 16


def bone_regions(
    tissue: NDArray[np.uint8], tile: int = BONE_TILE
) -> list[tuple[slice, slice, slice]]:
    """Disjoint boxes covering every bone and metal voxel, for :func:`edge_blend`.

    The map is cut into ``tile``-voxel cubes; each run of cubes along the last axis that holds
    bone becomes one box. Ribs, pelvis and limbs spread over the whole body, so this covers
    several times the spine's boxes (:func:`spine_regions`): about 6 M voxels and 1 s of
    :func:`edge_blend` for a 512x512x300 thoraco-lumbar case, against 3.5 M and 0.2 s.

    Args:
        tissue: ``(nk, nj, ni)`` fine tissue map.
        tile: Cube edge (voxels).

    Returns:
        Boxes as slices, in memory order.
    """
    bone = np.zeros(256, dtype=bool)
    bone[list(BONE_LEVEL)] = True
    nk, nj, ni = (int(n) for n in tissue.shape)
    tj, ti = -(-nj // tile), -(-ni // tile)
    regions: list[tuple[slice, slice, slice]] = []
    buf = np.zeros((tile, tj * tile, ti * tile), dtype=bool)
    for k0 in range(0, nk, tile):
        k1 = min(nk, k0 + tile)
        buf[...] = False
        np.take(bone, tissue[k0:k1], out=buf[: k1 - k0, :nj, :ni])
        held: NDArray[np.bool_] = np.asarray(
            buf.reshape(tile, tj, tile, ti, tile).any(axis=(0, 2, 4))
        )
        stop = np.zeros(1, dtype=bool)
        for jt in np.flatnonzero(held.any(axis=1)):
            row = np.concatenate((stop, held[jt], stop))
            edges = np.flatnonzero(row[1:] != row[:-1])
            for s, e in zip(edges[::2], edges[1::2], strict=True):
                regions.append(
                    (
                        slice(k0, k1),
                        slice(int(jt) * tile, min(nj, (int(jt) + 1) * tile)),
                        slice(int(s) * tile, min(ni, int(e) * tile)),
                    )
                )
    return regions
