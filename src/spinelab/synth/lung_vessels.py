"""Pulmonary vessels: a branching tree per lung and per system, grown into the painted lungs.

The lungs used to be one uniform tissue (:data:`spinelab.synth.tissues.Tissue.LUNG`, -860 HU),
black in every window; on real CT the lungs' arteries and veins branch from the hila out to
the pleura, thick (10-15 mm) near the hila and tapering to below a millimetre in the
periphery, and they make the lung's CT values spread: on the real example CT's lung bases
(3 mm, ``../shared/data/ct/totalsegmentator_example``) the lung voxels' 50th / 90th / 95th
percentiles are -808 / -708 / -661 HU, on the uniform synthetic lungs -857 / -826 / -813.
Volume: vessels of 0.6 mm and more fill 125 +- 32 ml (94-201) of 3705 +- 857 ml of lung on CT
of 12 healthy volunteers (Sun et al., Chin J Appl Physiol 2015;31:326), about 3.4 %.

The tree (:func:`grow_tree`) is a recursive bisection of target points spread through the
lung: a branch runs from its parent's end :data:`STEP_SHARE` of the way to the centroid of
the lung it supplies, that territory splits in two across its longest axis, and each half
grows its own branch from there, down to single points. Radii follow Murray's law with the
flow proportional to the territory's volume, ``r = RADIUS_PER_CBRT_MM * V ** (1/3)`` (so a
parent's cube equals the sum of its children's). Each lung gets an arterial tree from its
upper hilum (between T5 and T6) and a venous tree from its lower hilum (T7), with their own
targets, so the two interleave. Only lung voxels are painted (``Tissue.BLOOD``), so the
mediastinal part of the hilar vessels is not drawn (:mod:`spinelab.synth.mediastinum` draws
the pulmonary arteries up to the hila), and a lung cut by the field of view gets the
branches that enter it from outside. Bronchi (gas in a soft-tissue wall) run beside the
arteries' thicker branches (:func:`_paint_airways`), from the main bronchi's ends at the hila.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.painter import Painter
from spinelab.synth.tissues import Tissue

_T = Tissue

#: Edge (mm) of the grid the target points are taken from (one per lung voxel of it, jittered
#: within its cell): each stands for one cell of lung (1 cm^3), what a leaf branch supplies.
TARGET_CELL_MM = 10.0
#: Murray's law: a branch's radius (mm) is this times the cube root of the lung volume (mm^3)
#: it supplies: 5.6 mm for a 1.8 l lung's whole tree, 0.46 mm for one target cell (not
#: painted: MIN_RADIUS_MM). 0.058 filled 5.3 % of the lung with every branch painted.
RADIUS_PER_CBRT_MM = 0.046
#: A branch runs this share of the way from its parent's end to its territory's centroid.
STEP_SHARE = 0.5
#: The territory splits across its longest axis at a quantile drawn from this range.
SPLIT_QUANTILE = (0.35, 0.65)
#: The hila (mm from the midline at the vertebral body's front, times the body scale; the
#: arteries' level, the veins' level): about 45 mm either side, 25 mm in front of the body.
HILUM_LATERAL_MM = 45.0
HILUM_FRONT_MM = 25.0
HILUM_LEVELS = {"artery": ("T5", "T6"), "vein": ("T7", "T7")}
#: Branches thinner than this (mm) are left out: part of the parenchyma's own value.
MIN_RADIUS_MM = 0.5
#: Branches thinner than this share of the grid's largest spacing are painted that thick
#: (a thinner ball could miss the voxel centres along its path).
MIN_PAINT_SHARE = 0.6
#: Radius bins (mm) the branches are painted in.
RADIUS_BIN_MM = 0.25
#: Airways: a bronchus runs beside each arterial branch at least BRONCHUS_MIN_ARTERY_MM thick
#: (the bronchovascular bundle), its lumen BRONCHUS_SHARE of the artery's radius (the
#: bronchoarterial diameter ratio of normal lungs on CT is about 0.65-1.0), its wall
#: BRONCHUS_WALL_SHARE of its lumen's radius but at least BRONCHUS_WALL_MIN_MM (segmental
#: bronchi about 1 mm, Gray's Anatomy 41st ed.); the smaller airways are below CT's
#: resolution and left to the parenchyma.
BRONCHUS_MIN_ARTERY_MM = 1.5
BRONCHUS_SHARE = 0.8
BRONCHUS_WALL_SHARE = 0.25
BRONCHUS_WALL_MIN_MM = 0.6


@dataclass(frozen=True)
class Tree:
    """Branches of one vessel tree: ``start`` and ``end`` ``(N, 3)`` mm, ``radius`` ``(N,)``
    mm and ``parent`` ``(N,)`` (the index of the branch it continues, -1 for the root)."""

    start: NDArray[np.float64]
    end: NDArray[np.float64]
    radius: NDArray[np.float64]
    parent: NDArray[np.int64]


def grow_tree(
    root: NDArray[np.float64],
    targets: NDArray[np.float64],
    cell_mm3: float,
    rng: np.random.Generator,
) -> Tree:
    """Grow a vessel tree from ``root`` to every point of ``targets`` ``(M, 3)`` mm by
    recursive bisection (see the module docstring); each target stands for ``cell_mm3`` of
    tissue."""
    starts: list[NDArray[np.float64]] = []
    ends: list[NDArray[np.float64]] = []
    radii: list[float] = []
    parents: list[int] = []
    if not len(targets):
        e = np.zeros((0, 3))
        return Tree(e, e, np.zeros(0), np.zeros(0, dtype=np.int64))
    stack: list[tuple[NDArray[np.float64], NDArray[np.intp], int]] = [
        (np.asarray(root, float), np.arange(len(targets)), -1)
    ]
    lo, hi = SPLIT_QUANTILE
    while stack:
        p, idx, par = stack.pop()
        pts = targets[idx]
        n = len(idx)
        r = RADIUS_PER_CBRT_MM * (n * cell_mm3) ** (1.0 / 3.0)
        if n == 1:
            starts.append(p)
            ends.append(pts[0])
            radii.append(r)
            parents.append(par)
            continue
        c = pts.mean(axis=0)
        q = p + STEP_SHARE * (c - p)
        me = len(radii)
        starts.append(p)
        ends.append(q)
        radii.append(r)
        parents.append(par)
        if n == 2:  # two leaves from q
            r1 = RADIUS_PER_CBRT_MM * cell_mm3 ** (1.0 / 3.0)
            starts += [q, q]
            ends += [pts[0], pts[1]]
            radii += [r1, r1]
            parents += [me, me]
            continue
        d = pts - c
        if n >= 16:  # the principal axis
            w, v = np.linalg.eigh(d.T @ d)
            t = d @ v[:, int(np.argmax(w))]
        else:  # the bounding box's longest axis
            t = d[:, int(np.argmax(np.ptp(pts, axis=0)))]
        m = min(max(round(float(rng.uniform(lo, hi)) * n), 1), n - 1)
        order = np.argpartition(t, m - 1) if m < n else np.arange(n)
        stack.append((q, idx[order[:m]], me))
        stack.append((q, idx[order[m:]], me))
    return Tree(
        np.array(starts), np.array(ends), np.array(radii), np.array(parents, dtype=np.int64)
    )


def lung_targets(pt: Painter, rng: np.random.Generator) -> tuple[NDArray[np.float64], float]:
    """Points spread through the painted lungs: the lung voxels of a grid about
    :data:`TARGET_CELL_MM` coarse (its offset drawn), each jittered within its cell; and the
    volume (mm^3) each stands for."""
    sp = pt.grid.spacing_mm
    st = [max(1, round(TARGET_CELL_MM / s)) for s in sp]  # x, y, z strides
    off = [int(rng.integers(0, s)) for s in st]
    sub = pt.tissue[off[2] :: st[2], off[1] :: st[1], off[0] :: st[0]] == _T.LUNG
    kk, jj, ii = np.nonzero(sub)
    cell = np.array([st[0] * sp[0], st[1] * sp[1], st[2] * sp[2]])
    pts = np.stack(
        [pt.x[off[0] + ii * st[0]], pt.y[off[1] + jj * st[1]], pt.z[off[2] + kk * st[2]]], axis=1
    )
    pts += (rng.random(pts.shape) - 0.5) * cell
    return pts, float(np.prod(cell))


def paint_lung_vessels(
    pt: Painter,
    z_of: Mapping[str, float],
    hilum_xy: Mapping[float, tuple[float, float]],
    midline: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    rng: np.random.Generator,
) -> list[Tree]:
    """Grow and paint each lung's arterial and venous trees into the lung voxels of
    ``pt.tissue`` (after the lungs are painted).

    Args:
        pt: The painter; its ``LUNG`` voxels become ``BLOOD`` where a branch passes.
        z_of: Height (mm) of each vertebra's centre.
        hilum_xy: Per side (+1 left, -1 right, LPS), the hilum's ``(x, y)`` mm.
        midline: The spine's x (mm) at given heights: lung left of it is the left lung's.
        rng: The trees' random stream.

    Returns:
        The trees grown (none where the grid holds no lung).
    """
    trees: list[Tree] = []
    if any(lab not in z_of for levels in HILUM_LEVELS.values() for lab in levels):
        return trees
    min_r = MIN_PAINT_SHARE * max(pt.grid.spacing_mm)
    for system, (a, b) in HILUM_LEVELS.items():
        pts, cell = lung_targets(pt, rng)
        z_h = 0.5 * (z_of[a] + z_of[b])
        left = pts[:, 0] > midline(pts[:, 2])
        for side, mine in ((1.0, pts[left]), (-1.0, pts[~left])):
            if not len(mine):
                continue
            root = np.array([hilum_xy[side][0], hilum_xy[side][1], z_h])
            tree = grow_tree(root, mine, cell, rng)
            trees.append(tree)
            _paint_tree(pt, tree, min_r)
            if system == "artery":
                _paint_airways(pt, tree, min_r)
    return trees


def _paint_airways(pt: Painter, artery: Tree, min_r: float) -> None:
    """Bronchi beside an arterial tree's thicker branches (gas in a soft-tissue wall, into
    lung only), each offset sideways from its artery (perpendicular to it and to z)."""
    keep = artery.radius >= BRONCHUS_MIN_ARTERY_MM
    a, b, ra = artery.start[keep], artery.end[keep], artery.radius[keep]
    d = b - a
    n = np.linalg.norm(d, axis=1)
    ok = n > 1e-6
    a, b, ra, d, n = a[ok], b[ok], ra[ok], d[ok], n[ok]
    u = d / n[:, None]
    side = np.cross(u, np.array([0.0, 0.0, 1.0]))
    s_n = np.linalg.norm(side, axis=1)
    side = np.where(s_n[:, None] > 0.2, side / np.maximum(s_n, 1e-9)[:, None], [1.0, 0.0, 0.0])
    rb = BRONCHUS_SHARE * ra
    wall = np.maximum(BRONCHUS_WALL_SHARE * rb, max(BRONCHUS_WALL_MIN_MM, 0.5 * min_r))
    off = (ra + rb + wall)[:, None] * side
    for i in range(len(a)):
        seg = np.stack([a[i], b[i]]) + off[i]
        pt.tube(seg, float(rb[i] + wall[i]), _T.SOFT, _T.GAS, float(wall[i]), (_T.LUNG, _T.SOFT))


def _paint_tree(pt: Painter, tree: Tree, min_r: float) -> None:
    """Paint a tree's branches as tubes (``BLOOD`` into ``LUNG`` only), in radius bins."""
    keep = tree.radius >= MIN_RADIUS_MM
    tree = Tree(tree.start[keep], tree.end[keep], tree.radius[keep], tree.parent[keep])
    r = np.maximum(tree.radius, min_r)
    pt.segments(tree.start, tree.end, r, _T.BLOOD, only=(_T.LUNG,), bin_mm=RADIUS_BIN_MM)


def hilum_positions(x_s: float, y_front: float, scale: float) -> dict[float, tuple[float, float]]:
    """The hila's ``(x, y)`` mm per side from the spine's ``x_s`` and the vertebral body's
    front ``y_front`` at the hila's height and the body ``scale``."""
    dx = HILUM_LATERAL_MM * scale
    y = y_front - HILUM_FRONT_MM * scale
    return {1.0: (x_s + dx, y), -1.0: (x_s - dx, y)}
