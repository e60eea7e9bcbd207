"""Label-map renderer: a :class:`SpineGeometry` becomes a tissue map and a vertebra label map.

Everything is painted on an axis-aligned LPS grid (:class:`RenderGrid`, arrays indexed
``[k, j, i]`` = ``[z, y, x]`` so that axial slices are contiguous). The grid is fine (about
1 mm); :mod:`spinelab.synth.ct` later averages it down to the output spacing (partial volume).

* Per axial slice (2-D, vectorized, restricted to each structure's bounding box): body contour
  with subcutaneous fat, the muscle wall, the thoracic or abdominal cavity, lungs above a domed
  diaphragm, heart, aorta, vena cava, trachea, liver, spleen, stomach, kidneys, psoas,
  bladder, bowel (colon frame and small-bowel loops, :mod:`spinelab.synth.bowel`) and the
  CT couch.
* Per structure in 3-D (evaluated only in a tight box around it, in the structure's own frame):
  every vertebra (cancellous body with cortical shell and endplates, pedicles, lamina, spinous,
  transverse and articular processes, spinal canal; C1 as a ring around the dens of C2; sacral
  alae on S1/S2), the discs, ribs (T1-T12 and T13; T11/T12 short floating ribs, none on L1)
  with costal cartilage, sternum, hip bones (iliac wings, acetabula, ischia, pubes), femora,
  skull with skull base and brain,
  mandible, and metal screws and rods.
* In arms-down cases, the arms beside the body (:mod:`spinelab.synth.arms`, per slice in each
  limb's window, after the soft tissue).

The vertebra label map holds VerSe ids (:mod:`spinelab.anatomy`) for every voxel of a
vertebra's bone (body, posterior elements and, for C2, the dens); discs, ribs and pelvis are 0.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.synth import arms, organs
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.bowel import BowelField, linear_index
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.tissues import Tissue

log = logging.getLogger(__name__)

_T = Tissue


@dataclass(frozen=True)
class RenderGrid:
    """An axis-aligned LPS grid; arrays on it are indexed ``[k, j, i]`` (z, y, x).

    Attributes:
        origin_mm: ``(x, y, z)`` LPS mm of voxel ``[0, 0, 0]``'s centre.
        spacing_mm: ``(sx, sy, sz)`` voxel size in mm.
        shape_kji: ``(nk, nj, ni)`` array shape.
    """

    origin_mm: tuple[float, float, float]
    spacing_mm: tuple[float, float, float]
    shape_kji: tuple[int, int, int]

    def axis_mm(self, axis: int) -> NDArray[np.float64]:
        """World coordinates (mm) of the voxel centres along x (0), y (1) or z (2)."""
        n = self.shape_kji[2 - axis]
        return self.origin_mm[axis] + self.spacing_mm[axis] * np.arange(n, dtype=np.float64)

    def index_range(self, axis: int, lo_mm: float, hi_mm: float) -> tuple[int, int]:
        """Half-open index range of voxels whose centres lie in ``[lo_mm, hi_mm]`` along ``axis``."""
        n = self.shape_kji[2 - axis]
        o, s = self.origin_mm[axis], self.spacing_mm[axis]
        i0 = max(0, math.ceil((lo_mm - o) / s))
        i1 = min(n, math.floor((hi_mm - o) / s) + 1)
        return i0, max(i0, i1)

    def affine_lps_ijk(self) -> NDArray[np.float64]:
        """4x4 affine for the array transposed to ``[i, j, k]`` (x, y, z)."""
        a = np.eye(4)
        a[:3, :3] = np.diag(self.spacing_mm)
        a[:3, 3] = self.origin_mm
        return a


@dataclass(frozen=True)
class AnatomyParams:
    """Per-case body and pathology parameters drawn by the generator.

    Attributes:
        body_scale: Multiplies body half-widths and depths (0.85-1.2 typical).
        fat_mm: Subcutaneous fat thickness over the abdomen (thinner over chest and neck).
        compression: ``{label: fraction}`` of anterior body height lost (wedge fracture).
        degenerated_discs: Labels of vertebrae whose disc below is degenerated (vacuum gas).
        osteoporosis: Thin cortices (the low HU is applied by the HU table).
        screws: Labels of vertebrae with bilateral pedicle screws (rods join them).
        contrast: Contrast-enhanced vessels and organs (affects HU only).
        bowel_gas: Expected number of bowel gas pockets.
        muscle_fat: Mean fraction of muscle voxels turned into fat streaks (fatty infiltration,
            0 = none); patchy and about 1.6x the mean in the paraspinal muscles (0.1-0.3 there
            in older adults).
        arms_down: Arms down beside the body (:mod:`spinelab.synth.arms`) instead of raised
            above the head out of the field of view.
        steatosis: Fatty liver (affects HU only: 20-45 HU without contrast).
        osteophytes: Marginal osteophytes at the vertebral endplates' rims
            (:func:`spinelab.synth.vertebra_shape.draw_spurs`), painted as part of their
            vertebra (cortex, cancellous core, the vertebra's label).
        schmorl_nodes: Schmorl nodes (:func:`spinelab.synth.vertebra_shape.draw_schmorl_nodes`):
            endplate depressions filled with disc material (no vertebra label), in a rim of
            sclerotic (compact) bone.
    """

    body_scale: float = 1.0
    fat_mm: float = 15.0
    compression: dict[str, float] = field(default_factory=dict)
    degenerated_discs: tuple[str, ...] = ()
    osteoporosis: bool = False
    screws: tuple[str, ...] = ()
    contrast: bool = False
    bowel_gas: int = 12
    muscle_fat: float = 0.0
    arms_down: bool = False
    steatosis: bool = False
    osteophytes: tuple[vshape.Spur, ...] = ()
    schmorl_nodes: tuple[vshape.SchmorlNode, ...] = ()


@dataclass
class RenderResult:
    """Fine label maps on a :class:`RenderGrid`.

    Attributes:
        tissue: ``(nk, nj, ni)`` uint8 :class:`Tissue` values.
        vertebrae: ``(nk, nj, ni)`` uint8 VerSe ids (0 = none).
        grid: The grid.
        metal_points_mm: ``(M, 3)`` LPS mm of metal centre lines (for streak artefacts).
        boxes: ``{label: (k0, k1, j0, j1, i0, i1)}`` fine-grid box of each vertebra.
    """

    tissue: NDArray[np.uint8]
    vertebrae: NDArray[np.uint8]
    grid: RenderGrid
    metal_points_mm: NDArray[np.float64]
    boxes: dict[str, tuple[int, int, int, int, int, int]]


# --------------------------------------------------------------------------------------------
# Per-region vertebra shape parameters (mm, in the vertebra's frame: a left, b posterior,
# e cranial). Values are adult means from morphometric studies, rounded. ``cortex`` is the
# body's shell, painted as Tissue.SHELL (about 650 HU): the true shell is 0.4-0.7 mm of
# compact bone (Silva et al. 1994, Eswaran et al. 2006), spread over 1.0-1.4 mm so that a
# 1 mm render grid samples it without gaps.
# --------------------------------------------------------------------------------------------
_REGION_SHAPE: dict[str, dict[str, float]] = {
    "cervical": dict(
        cw=12.0,
        cd=7.5,
        pr=3.2,
        lt=4.0,
        sp=20.0,
        sw=2.5,
        sh=4.0,
        tp=10.0,
        tps=-0.3,
        tph=4.0,
        cortex=1.0,
    ),
    "thoracic": dict(
        cw=8.5,
        cd=8.0,
        pr=4.0,
        lt=5.0,
        sp=36.0,
        sw=3.0,
        sh=4.5,
        tp=17.0,
        tps=0.55,
        tph=5.0,
        cortex=1.1,
    ),
    "lumbar": dict(
        cw=11.5,
        cd=8.5,
        pr=5.0,
        lt=5.5,
        sp=30.0,
        sw=3.5,
        sh=9.0,
        tp=24.0,
        tps=0.05,
        tph=5.0,
        cortex=1.2,
    ),
    "sacral": dict(
        cw=12.0,
        cd=6.0,
        pr=6.0,
        lt=6.0,
        sp=14.0,
        sw=3.0,
        sh=8.0,
        tp=30.0,
        tps=0.2,
        tph=10.0,
        cortex=1.4,
    ),
}

#: Subcutaneous fat behind the back as a share of the drawn fat thickness (``fat_mm``, the
#: front and sides): the posterior lumbar subcutaneous fat on MRI separates lean from overweight
#: backs at about 9 mm at L1-L2 (Eur Radiol 2022;32:6504, "subcutaneous fat index"), so with
#: ``fat_mm`` 5-40 it is 2-16 mm. The back's skin moves out by this much and the back muscles
#: keep their lean depth (they used to lose 0.3 mm per mm of fat). The lumbar skin then lies
#: 53-83 mm (mean about 68) behind the bodies' posterior wall, as the skin-to-epidural-space
#: depth at L2-L5 (means 44-51 mm, SD 6-12 mm, range 27-94: Cha et al., Anesth Pain Med 2011,
#: 1653 adults; Bevacqua et al., Reg Anesth 1996) plus the 15-18 mm mid-sagittal canal depth
#: gives (60-70 mm); the real example CT, a heavier patient, has 78 mm at L3. 0.5 made the
#: body region of a ``fat_mm`` 40 case more than 65 % fat (tests/test_synth_realism.py).
BACK_FAT_SHARE = 0.4

# Body contour keyframes per level: (half-width, centre-to-back skin, centre-to-front skin) mm,
# lean adult, fat added separately.
_CONTOUR_KEYS: dict[str, tuple[float, float, float]] = {
    "C1": (60.0, 68.0, 52.0),
    "C4": (55.0, 62.0, 50.0),
    "C7": (75.0, 68.0, 58.0),
    "T1": (150.0, 72.0, 85.0),
    "T3": (148.0, 68.0, 130.0),
    "T6": (142.0, 64.0, 150.0),
    "T9": (145.0, 66.0, 158.0),
    "T12": (148.0, 68.0, 150.0),
    "L3": (145.0, 72.0, 130.0),
    "L5": (155.0, 76.0, 128.0),
    "S1": (165.0, 80.0, 128.0),
    "S2": (170.0, 85.0, 125.0),
}


#: Tissues that the spinal canal's fluid may replace (not bone, not metal).
_SOFT_LUT = np.zeros(256, dtype=bool)
_SOFT_LUT[[_T.FAT, _T.MUSCLE, _T.SOFT, _T.AIR, _T.LUNG, _T.DISC]] = True


def _local_box(
    grid: RenderGrid,
    centre: NDArray[np.float64],
    frame: NDArray[np.float64],
    lo: tuple[float, float, float],
    hi: tuple[float, float, float],
) -> tuple[tuple[slice, slice, slice], tuple[NDArray[np.float64], ...]] | None:
    """Grid box around a local box ``lo..hi`` (frame coordinates) and local coords in it.

    Returns:
        ``(slices, (a, b, e))`` with ``a, b, e`` local coordinates broadcastable to the box's
        ``(nk, nj, ni)``, or None when the box misses the grid.
    """
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    world = centre + corners @ frame.T
    wlo, whi = world.min(axis=0), world.max(axis=0)
    rng = [grid.index_range(ax, wlo[ax], whi[ax]) for ax in range(3)]
    if any(r[1] <= r[0] for r in rng):
        return None
    x = grid.axis_mm(0)[rng[0][0] : rng[0][1]] - centre[0]
    y = grid.axis_mm(1)[rng[1][0] : rng[1][1]] - centre[1]
    z = grid.axis_mm(2)[rng[2][0] : rng[2][1]] - centre[2]
    xb, yb, zb = x[None, None, :], y[None, :, None], z[:, None, None]
    coords = tuple(
        (frame[0, c] * xb + frame[1, c] * yb + frame[2, c] * zb).astype(np.float32)
        for c in range(3)
    )
    sl = (slice(*rng[2]), slice(*rng[1]), slice(*rng[0]))
    return sl, coords


def _inside_superellipse(
    cx: float, cy: float, rx: float, ry: float, power: float
) -> Callable[[Any, Any], Any]:
    """Predicate ``(x, y) -> mask`` inside an axis-aligned (super)ellipse, as
    :meth:`_Painter.ellipse_window` draws it (an ``extra`` for :meth:`_Painter.ellipse2d`)."""

    def inside(x: Any, y: Any) -> Any:
        if rx <= 0 or ry <= 0:
            return np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=bool)
        return np.abs((x - cx) / rx) ** power + np.abs((y - cy) / ry) ** power <= 1.0

    return inside


def _ellipse(u: Any, v: Any, ru: float, rv: float) -> Any:
    return (u / ru) ** 2 + (v / rv) ** 2


def _dot3(a: NDArray[Any], v: NDArray[Any]) -> NDArray[Any]:
    """``a @ v`` for ``(N, 3)`` rows and a 3-vector, without BLAS.

    A float matrix-vector product goes to BLAS, whose threads (one per core) fight the rest of
    the process for the 2 cores in per-slice and per-group loops; three multiply-adds do not.
    """
    return np.asarray(a[:, 0] * v[0] + a[:, 1] * v[1] + a[:, 2] * v[2])


class _Painter:
    """Paints into the fine tissue and vertebra maps."""

    def __init__(self, grid: RenderGrid) -> None:
        self.grid = grid
        self.tissue = np.zeros(grid.shape_kji, dtype=np.uint8)
        self.vert = np.zeros(grid.shape_kji, dtype=np.uint8)
        self.x = grid.axis_mm(0)
        self.y = grid.axis_mm(1)
        self.z = grid.axis_mm(2)

    # ---- 2-D (one axial slice) ----
    def ellipse_window(
        self, cx: float, cy: float, rx: float, ry: float, power: float = 2.0
    ) -> tuple[int, int, int, int, NDArray[np.bool_]] | None:
        """Inside of an axis-aligned (super)ellipse on an axial slice: ``(i0, i1, j0, j1, m)``
        with ``m`` the ``(j1 - j0, i1 - i0)`` mask of the window ``[j0:j1, i0:i1]``, or None
        when it misses the grid."""
        if rx <= 0 or ry <= 0:
            return None
        g = self.grid
        i0, i1 = g.index_range(0, cx - rx, cx + rx)
        j0, j1 = g.index_range(1, cy - ry, cy + ry)
        if i1 <= i0 or j1 <= j0:
            return None
        if power == 2.0:
            xx = ((self.x[i0:i1] - cx) / rx) ** 2
            yy = ((self.y[j0:j1] - cy) / ry) ** 2
        else:
            xx = np.abs((self.x[i0:i1] - cx) / rx) ** power
            yy = np.abs((self.y[j0:j1] - cy) / ry) ** power
        return i0, i1, j0, j1, (yy[:, None] + xx[None, :]) <= 1.0

    def ellipse2d(
        self,
        k: int,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        value: int,
        only: tuple[int, ...] | None = None,
        extra: Any = None,
        power: float = 2.0,
    ) -> None:
        """Paint an axis-aligned ellipse on slice ``k`` (``only``: overwrite just these).

        ``power`` > 2 gives a superellipse (a rounded rectangle, e.g. a torso's flat back).
        """
        win = self.ellipse_window(cx, cy, rx, ry, power)
        if win is None:
            return
        i0, i1, j0, j1, m = win
        if extra is not None:
            m &= extra(self.x[i0:i1][None, :], self.y[j0:j1][:, None])
        sub = self.tissue[k, j0:j1, i0:i1]
        if only is not None:
            m &= _allowed(only)[sub]
        sub[m] = value

    # ---- 3-D stamping of tubes along polylines ----
    def _near_grid(
        self, pts_mm: NDArray[np.float64], reach_mm: float
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64]]:
        """Continuous ``(i, j, k)`` of points, which of them come within ``reach_mm`` of the
        grid, and the grid shape in ``(i, j, k)`` order."""
        g = self.grid
        sp = np.asarray(g.spacing_mm)
        ijk = (pts_mm - np.asarray(g.origin_mm)) / sp
        shape_ijk = np.array([g.shape_kji[2], g.shape_kji[1], g.shape_kji[0]])
        pad = reach_mm / sp + 1.0
        keep = np.all((ijk > -pad) & (ijk < shape_ijk - 1 + pad), axis=1)
        return ijk, keep, shape_ijk

    def tube(
        self,
        points_mm: NDArray[np.float64],
        radius_mm: float,
        outer: int,
        inner: int | None = None,
        shell_mm: float = 1.2,
        only: tuple[int, ...] | None = None,
    ) -> None:
        """Paint a tube of ``radius_mm`` along a densely sampled polyline ``(M, 3)``.

        Voxels within ``radius_mm`` of a sample get ``outer``; those deeper than ``shell_mm``
        get ``inner`` (a cortical shell around marrow).
        """
        g = self.grid
        sp = np.asarray(g.spacing_mm)
        step = max(float(sp.min()), min(0.25 * radius_mm, float(sp.max())))
        pts = _densify(points_mm, step)
        ijk, keep, shape_ijk = self._near_grid(pts, radius_mm)
        if not keep.any():
            return
        ijk = ijk[keep]
        base = np.rint(ijk).astype(np.int64)
        lin = (base[:, 2] * (shape_ijk[1] + 64) + base[:, 1]) * (shape_ijk[0] + 64) + base[:, 0]
        _, first = np.unique(lin, return_index=True)
        base, ijk = base[first], ijk[first]
        offs, offs_mm = _ball_offsets(radius_mm, (float(sp[0]), float(sp[1]), float(sp[2])))
        # squared distance of each candidate voxel centre to its sample point, float32
        frac = ((base - ijk) * sp).astype(np.float32)  # (M, 3)
        d2 = (
            (frac[:, None, 0] + offs_mm[None, :, 0]) ** 2
            + (frac[:, None, 1] + offs_mm[None, :, 1]) ** 2
            + (frac[:, None, 2] + offs_mm[None, :, 2]) ** 2
        )
        flat = self.tissue.reshape(-1)
        # flat voxel indices; samples whose whole ball lies inside the grid need no bounds check
        strides = np.array([1, shape_ijk[0], shape_ijk[0] * shape_ijk[1]], dtype=np.int64)
        reach = np.abs(offs).max(axis=0)
        whole = np.all((base >= reach) & (base < shape_ijk - reach), axis=1)
        lin_base = base[whole] @ strides
        lin_offs = offs @ strides
        edge = None if whole.all() else ~whole
        for value, lim in ((outer, radius_mm), (inner, radius_mm - shell_mm)):
            if value is None or lim <= 0:
                continue
            hit = d2 <= np.float32(lim * lim)
            idx = (lin_base[:, None] + lin_offs[None, :])[hit[whole]]
            if edge is not None:
                mi, oi_ = np.nonzero(hit[edge])
                v = base[edge][mi] + offs[oi_]
                v = v[np.all((v >= 0) & (v < shape_ijk), axis=1)]
                idx = np.concatenate([idx, v @ strides])
            if only is not None:
                idx = idx[_allowed(only)[flat[idx]]]
            flat[idx] = value

    def flat_tube(
        self,
        points_mm: NDArray[np.float64],
        half_height_mm: NDArray[np.float64],
        half_thick_mm: NDArray[np.float64],
        twist: NDArray[np.float64],
        outer: int,
        inner: int | None = None,
        shell_mm: float = 1.2,
        only: tuple[int, ...] | None = None,
    ) -> None:
        """Paint a tube of elliptic cross-section along a polyline ``(M, 3)`` (a rib).

        At each point the section has half-axes ``half_height_mm`` along the direction
        perpendicular to the tube that is closest to +z (twisted by ``twist`` radians towards
        the horizontal normal: pi/2 makes a tube flat from above, like the first rib) and
        ``half_thick_mm`` across it; all three are per point ``(M,)``. Voxels deeper than
        ``shell_mm`` get ``inner`` (cortex around marrow).
        """
        g = self.grid
        sp = np.asarray(g.spacing_mm)
        r_max = float(max(half_height_mm.max(), half_thick_mm.max()))
        # samples up to half the thinnest half-axis apart: each covers a slab along the tube
        step = float(max(sp.min(), min(0.5 * float(half_thick_mm.min()), 1.5 * sp.max())))
        # densify, carrying the per-point sizes along
        seg = np.linalg.norm(np.diff(points_mm, axis=0), axis=1)
        s_pts = np.concatenate([[0.0], np.cumsum(seg)])
        s_new = np.arange(0.0, s_pts[-1] + 1e-9, step)
        pts = np.stack([np.interp(s_new, s_pts, points_mm[:, c]) for c in range(3)], axis=1)
        rh = np.interp(s_new, s_pts, half_height_mm).astype(np.float32)
        rn = np.interp(s_new, s_pts, half_thick_mm).astype(np.float32)
        tw = np.interp(s_new, s_pts, twist)
        if len(pts) < 2:
            return
        tan = np.gradient(pts, axis=0)
        tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
        up = np.array([0.0, 0.0, 1.0]) - tan[:, 2:3] * tan
        # a tube along z has no "up" across it: take the y axis there
        flat_up = np.linalg.norm(up, axis=1) < 0.1
        up[flat_up] = np.array([0.0, 1.0, 0.0]) - tan[flat_up, 1:2] * tan[flat_up]
        up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-9)
        side = np.cross(tan, up)
        hdir = (np.cos(tw)[:, None] * up + np.sin(tw)[:, None] * side).astype(np.float32)
        ndir = np.cross(tan, hdir).astype(np.float32)
        tan32 = tan.astype(np.float32)
        ijk, keep, shape_ijk = self._near_grid(pts, r_max)
        if not keep.any():
            return
        ijk, rh, rn = ijk[keep], rh[keep], rn[keep]
        hdir, ndir, tan32 = hdir[keep], ndir[keep], tan32[keep]
        base = np.rint(ijk).astype(np.int64)
        offs, offs_mm = _ball_offsets(r_max, (float(sp[0]), float(sp[1]), float(sp[2])))
        frac = ((base - ijk) * sp).astype(np.float32)
        strides = np.array([1, shape_ijk[0], shape_ijk[0] * shape_ijk[1]], dtype=np.int64)
        flat = self.tissue.reshape(-1)
        lim_t = np.float32(0.75 * step + 0.5 * float(sp.max()))
        hits: tuple[list[NDArray[np.int64]], list[NDArray[np.int64]]] = ([], [])
        # groups of samples; each keeps only the ball offsets near its mean cross-section plane
        # (a wide, thin section such as the sacrum's would otherwise test a whole ball)
        group = 16 if r_max <= 10.0 else 4  # wide sections: small groups, thin slabs
        for m0 in range(0, len(base), group):
            sl = slice(m0, m0 + group)
            t_m = tan32[sl].mean(axis=0)
            n_m = ndir[sl].mean(axis=0)
            t_m /= max(float(np.linalg.norm(t_m)), 1e-6)
            n_m /= max(float(np.linalg.norm(n_m)), 1e-6)
            cos_min = min(
                float(_dot3(tan32[sl], t_m).min()), float(np.abs(_dot3(ndir[sl], n_m)).min())
            )
            margin = r_max * math.sqrt(max(0.0, 1.0 - cos_min**2)) + 0.9 * float(sp.max())
            o_t = np.abs(_dot3(offs_mm, t_m))
            o_n = np.abs(_dot3(offs_mm, n_m))
            near = (o_t <= lim_t + margin) & (o_n <= float(rn[sl].max()) + margin)
            offs_g, offs_mm_g = offs[near], offs_mm[near]

            def comp(
                d: NDArray[np.float32], sl: slice = sl, om: NDArray[np.float32] = offs_mm_g
            ) -> NDArray[np.float32]:
                return (
                    (frac[sl, 0:1] + om[None, :, 0]) * d[sl, 0:1]
                    + (frac[sl, 1:2] + om[None, :, 1]) * d[sl, 1:2]
                    + (frac[sl, 2:3] + om[None, :, 2]) * d[sl, 2:3]
                )

            qt = np.abs(comp(tan32)) <= lim_t
            qh, qn = comp(hdir), comp(ndir)
            b_g = base[sl]
            reach = np.abs(offs_g).max(axis=0) if len(offs_g) else np.zeros(3, np.int64)
            inside = bool(np.all((b_g >= reach) & (b_g < shape_ijk - reach)))
            if not inside:  # only groups at the grid's border need the per-voxel check
                vox = b_g[:, None, :] + offs_g[None, :, :]
                qt &= np.all((vox >= 0) & (vox < shape_ijk), axis=2)
            for out, s_mm in ((hits[0], 0.0), (hits[1], shell_mm)):
                if s_mm > 0 and inner is None:
                    continue
                a_h = np.maximum(rh[sl] - s_mm, 0.1)[:, None]
                a_n = np.maximum(rn[sl] - s_mm, 0.1)[:, None]
                hit = qt & ((qh / a_h) ** 2 + (qn / a_n) ** 2 <= 1.0)
                mi, oi = np.nonzero(hit)
                idx = (b_g @ strides)[mi] + (offs_g @ strides)[oi]
                if only is not None:  # judged on the tissue before this tube
                    idx = idx[_allowed(only)[flat[idx]]]
                out.append(idx)
        # all of the cortex first, then all of the marrow (no walls where samples overlap)
        for value, parts in ((outer, hits[0]), (inner, hits[1])):
            if value is not None and parts:
                flat[np.concatenate(parts)] = value


_BALLS: dict[
    tuple[float, tuple[float, float, float]], tuple[NDArray[np.int64], NDArray[np.float32]]
] = {}


def _ball_offsets(
    radius_mm: float, sp: tuple[float, float, float]
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Voxel offsets ``(O, 3)`` (i, j, k) that can lie within ``radius_mm`` of a point in the
    central voxel, and the same offsets in mm (float32); cached."""
    key = (round(radius_mm, 3), sp)
    hit = _BALLS.get(key)
    if hit is None:
        spa = np.asarray(sp)
        half = np.ceil(radius_mm / spa).astype(int) + 1
        # squared distance to the nearest point of each offset voxel: per-axis terms summed
        # on the (i, j, k) grid (offsets in C order, as a raveled "ij" meshgrid)
        ax = [np.arange(-h, h + 1, dtype=np.int64) for h in half]
        d2 = [((np.abs(a) - 0.5).clip(0) * spa[c]) ** 2 for c, a in enumerate(ax)]
        near = (d2[0][:, None, None] + d2[1][None, :, None]) + d2[2][None, None, :]
        ii, jj, kk = np.nonzero(near <= radius_mm**2)
        offs = np.stack([ax[0][ii], ax[1][jj], ax[2][kk]], axis=1)
        hit = (offs, (offs * spa).astype(np.float32))
        _BALLS[key] = hit
    return hit


_ALLOWED: dict[tuple[int, ...], NDArray[np.bool_]] = {}


def _allowed(only: tuple[int, ...]) -> NDArray[np.bool_]:
    """Boolean lookup table over tissue values that are in ``only``."""
    lut = _ALLOWED.get(only)
    if lut is None:
        lut = np.zeros(256, dtype=bool)
        lut[list(only)] = True
        _ALLOWED[only] = lut
    return lut


def _densify(points: NDArray[np.float64], step: float) -> NDArray[np.float64]:
    """Resample a polyline ``(M, 3)`` so consecutive points are at most ``step`` mm apart."""
    out = [points[:1]]
    for p, q in itertools.pairwise(points):
        n = max(1, math.ceil(float(np.linalg.norm(q - p)) / step))
        t = np.arange(1, n + 1)[:, None] / n
        out.append(p + t * (q - p))
    return np.concatenate(out, axis=0)


@dataclass
class _Level:
    """Spine position and body contour at one axial slice."""

    x_s: float
    y_s: float
    depth: float
    width: float
    half_w: float
    post: float
    ant: float
    fat: float


class _BodyPlan:
    """Interpolates spine position and body contour along z."""

    def __init__(self, geo: SpineGeometry, params: AnatomyParams) -> None:
        order = np.argsort(geo.centres_mm[:, 2])
        self.zc = geo.centres_mm[order, 2]
        self.xc = geo.centres_mm[order, 0]
        self.yc = geo.centres_mm[order, 1]
        self.dc = geo.body_depth_mm[order]
        self.wc = geo.body_width_mm[order]
        self.geo = geo
        self.z_of = {lab: float(geo.centres_mm[i, 2]) for i, lab in enumerate(geo.labels)}
        keys = [(self.z_of[k], v) for k, v in _CONTOUR_KEYS.items() if k in self.z_of]
        keys.sort()
        self.kz = np.array([k[0] for k in keys])
        self.kv = np.array([k[1] for k in keys])
        self.scale = params.body_scale
        self.fat = params.fat_mm

    def level(self, z: float) -> _Level:
        x_s = float(np.interp(z, self.zc, self.xc))
        y_s = float(np.interp(z, self.zc, self.yc))
        # extrapolate the spine line below/above the chain ends linearly
        if z < self.zc[0] and len(self.zc) > 1:
            t = (z - self.zc[0]) / (self.zc[1] - self.zc[0])
            x_s = float(self.xc[0] + t * (self.xc[1] - self.xc[0]))
            y_s = float(self.yc[0] + t * (self.yc[1] - self.yc[0]))
        hw, post, ant = (float(np.interp(z, self.kz, self.kv[:, c])) for c in range(3))
        region_fat = float(np.interp(z, self.kz, np.where(self.kv[:, 0] < 100, 0.3, 1.0)))
        thorax = float(
            np.interp(z, [self.z_of.get("T12", -1e9), self.z_of.get("T4", 1e9)], [1.0, 0.6])
        )
        fat = self.fat * region_fat * thorax
        return _Level(
            x_s,
            y_s,
            float(np.interp(z, self.zc, self.dc)),
            float(np.interp(z, self.zc, self.wc)),
            hw * self.scale + fat,
            post * self.scale + fat * BACK_FAT_SHARE,
            ant * self.scale + fat,
            fat,
        )


# --------------------------------------------------------------------------------------------
# Vertebrae
# --------------------------------------------------------------------------------------------
def _paint_vertebra(
    pt: _Painter,
    geo: SpineGeometry,
    n: int,
    params: AnatomyParams,
    rng: np.random.Generator,
) -> tuple[int, int, int, int, int, int] | None:
    """Paint one vertebra primitive by primitive, each in its own small box.

    Returns:
        The fine-grid box ``(k0, k1, j0, j1, i0, i1)`` covering the vertebra, or None when it
        misses the grid.
    """
    name = geo.labels[n]
    vid = anatomy.by_name(name).verse_id
    region = anatomy.region_of(name)
    c, fr = geo.centres_mm[n], geo.frames[n]
    h, w, d = (
        float(geo.body_height_mm[n]),
        float(geo.body_width_mm[n]),
        float(geo.body_depth_mm[n]),
    )
    p = _REGION_SHAPE[region]
    if name == "C1":
        return _paint_atlas(pt, c, fr, vid, w, d)
    thin = 0.6 if params.osteoporosis else 1.0
    cortex = p["cortex"] * thin
    wedge = params.compression.get(name, 0.0) * h
    inner: list[tuple[tuple[slice, slice, slice], NDArray[np.bool_], int]] = []
    boxes: list[tuple[slice, slice, slice]] = []
    parts = vshape.vertebra_parts(name, h, w, d, wedge)
    for spur in params.osteophytes:
        if spur.label != name:
            continue
        k = n - 1 if spur.end > 0 else n  # the disc the spur grows towards
        disc = float(geo.disc_height_mm[k]) if 0 <= k < len(geo.disc_height_mm) else 0.0
        parts.append(vshape.spur_part(spur, h, w, d, wedge, disc))
    for (lo, hi), fn, part_cortex in parts:
        lo1 = (lo[0] - 1.0, lo[1] - 1.0, lo[2] - 1.0)
        hi1 = (hi[0] + 1.0, hi[1] + 1.0, hi[2] + 1.0)
        box = _local_box(pt.grid, c, fr, lo1, hi1)
        if box is None:
            continue
        sl, (a, b, e) = box
        outer = fn(a, b, e, 0.0)
        if not outer.any():
            continue
        # boolean masks index faster than coordinate tuples
        ins = np.zeros_like(outer)
        ins[outer] = fn(
            a[outer], b[outer], e[outer], part_cortex * thin if part_cortex > 0 else cortex
        )
        compact = part_cortex >= vshape.COMPACT_CORTEX_MM
        pt.tissue[sl][outer] = _T.CORTICAL if compact else _T.SHELL
        pt.vert[sl][outer] = vid
        inner.append((sl, ins, int(_T.DENSE if part_cortex > 0 else _T.CANCELLOUS)))
        boxes.append(sl)
    for sl, ins, core in inner:
        pt.tissue[sl][ins] = core
    if not boxes:
        return None
    for node in params.schmorl_nodes:
        if node.label == name:
            _carve_schmorl_node(pt, c, fr, vid, node, h, w, d, wedge)
    dims = vshape.level_dims(name)
    bw = vshape.posterior_wall(d)
    # basivertebral vein: a channel from the middle of the posterior wall into the body,
    # narrowing forwards
    depth = vshape.BASIVERTEBRAL_DEPTH * d
    bv_w, bv_h = vshape.BASIVERTEBRAL_MM
    box = _local_box(pt.grid, c, fr, (-bv_w, bw - depth, -bv_h), (bv_w, bw + 1.5, bv_h))
    if box is not None and region != "sacral":
        sl, (a, b, e) = box
        f = np.clip((b - (bw - depth)) / depth, 0.0, 1.0)
        vein = _ellipse(a / (0.5 + 0.5 * f), e / (0.6 + 0.4 * f), bv_w, bv_h) <= 1.0
        vein &= pt.vert[sl] == vid
        pt.tissue[sl][vein] = _T.BLOOD
    # spinal canal: cerebrospinal fluid (and epidural fat) where no bone
    half = dims["can_w"] / 2
    box = _local_box(
        pt.grid, c, fr, (-half, bw - 2.0, -h / 2 - 3.0), (half, bw + dims["can_d"], h / 2 + 3.0)
    )
    if box is not None:
        sl, (a, b, e) = box
        canal = vshape.canal_mask(a, b, bw, dims)
        tis = pt.tissue[sl]
        tis[canal & _SOFT_LUT[tis]] = _T.WATER
    if name == "S2":  # the last sacral segment: fuse the sacrum, open its foramina
        _fuse_sacrum(pt, geo)
    k0 = min(s[0].start for s in boxes)
    k1 = max(s[0].stop for s in boxes)
    j0 = min(s[1].start for s in boxes)
    j1 = max(s[1].stop for s in boxes)
    i0 = min(s[2].start for s in boxes)
    i1 = max(s[2].stop for s in boxes)
    return (int(k0), int(k1), int(j0), int(j1), int(i0), int(i1))


def _carve_schmorl_node(
    pt: _Painter,
    c: NDArray[np.float64],
    fr: NDArray[np.float64],
    vid: int,
    node: vshape.SchmorlNode,
    h: float,
    w: float,
    d: float,
    wedge: float,
) -> None:
    """A Schmorl node in a painted vertebra: its depression becomes disc (label 0), the bone
    around it compact (sclerotic) bone (:func:`spinelab.synth.vertebra_shape.schmorl_masks`)."""
    r = node.radius_mm + vshape.SCHMORL_RIM_MM + 1.0
    dp = node.depth_mm + vshape.SCHMORL_RIM_MM + 1.0 + max(vshape.ENDPLATE_CUP_MM)
    e0 = vshape.endplate_level(node.label, h, d, wedge, node.b_mm, node.end)
    lo = (node.a_mm - r, node.b_mm - r, e0 - dp - 2.0)
    hi = (node.a_mm + r, node.b_mm + r, e0 + dp + 2.0)
    box = _local_box(pt.grid, c, fr, lo, hi)
    if box is None:
        return
    sl, (a, b, e) = box
    cavity, rim = vshape.schmorl_masks(node, h, w, d, wedge, a, b, e)
    own = pt.vert[sl] == vid
    tis = pt.tissue[sl]
    tis[rim & own] = _T.CORTICAL
    tis[cavity & own] = _T.DISC
    pt.vert[sl][cavity & own] = 0


def _box_tuple(sl: tuple[slice, slice, slice]) -> tuple[int, int, int, int, int, int]:
    return (
        int(sl[0].start),
        int(sl[0].stop),
        int(sl[1].start),
        int(sl[1].stop),
        int(sl[2].start),
        int(sl[2].stop),
    )


def _paint_atlas(
    pt: _Painter, c: NDArray[np.float64], fr: NDArray[np.float64], vid: int, w: float, d: float
) -> tuple[int, int, int, int, int, int] | None:
    """C1: a ring whose anterior arch passes through the given centre, lateral masses, TPs."""
    ra, rb = max(w / 2, 20.0), max(d / 2 + 8.0, 19.0)
    b0 = rb - 3.5  # ring centre behind the anterior arch
    box = _local_box(pt.grid, c, fr, (-ra - 16, -6.0, -10.0), (ra + 16, 2 * rb + 2, 10.0))
    if box is None:
        return None
    sl, (a, b, e) = box
    outer = _ellipse(a, b - b0, ra, rb) <= 1.0
    inner_r = _ellipse(a, b - b0, ra - 7.0, rb - 7.0)
    ring = outer & (inner_r > 1.0) & (np.abs(e) < 5.0)
    masses = _ellipse(np.abs(a) - (ra - 6.0), b - b0 + 2.0, 7.5, 10.0) + (e / 9.0) ** 2 <= 1.0
    tp = (np.abs(a) > ra - 4) & (np.abs(a) < ra + 14) & (np.abs(b - b0 + 2) < 4) & (np.abs(e) < 4)
    bone = ring | masses | tp
    inner = (
        (outer & (inner_r > 1.3) & (np.abs(e) < 3.8))
        | (_ellipse(np.abs(a) - (ra - 6.0), b - b0 + 2.0, 6.0, 8.5) + (e / 7.5) ** 2 <= 1.0)
    ) & bone
    canal = (_ellipse(a, b - b0 - 4.0, ra - 9.0, rb - 10.0) <= 1.0) & (np.abs(e) < 8)
    tis = pt.tissue[sl]
    tis[canal & ~bone & np.isin(tis, (_T.FAT, _T.MUSCLE, _T.SOFT))] = _T.WATER
    tis[bone] = _T.SHELL
    tis[inner] = _T.CANCELLOUS
    pt.vert[sl][bone] = vid
    return _box_tuple(sl)


def _paint_discs(
    pt: _Painter, geo: SpineGeometry, params: AnatomyParams, rng: np.random.Generator
) -> None:
    for n in range(len(geo) - 1):
        if geo.disc_height_mm[n] <= 0.5 or geo.labels[n] in ("C1",):
            continue
        c0, c1 = geo.centres_mm[n], geo.centres_mm[n + 1]
        u0, u1 = geo.frames[n][:, 2], geo.frames[n + 1][:, 2]
        top = c0 - u0 * geo.body_height_mm[n] / 2
        bot = c1 + u1 * geo.body_height_mm[n + 1] / 2
        centre = (top + bot) / 2
        fr = geo.frames[n] + geo.frames[n + 1]
        q, _ = np.linalg.qr(fr)
        q *= np.sign(np.diag(q.T @ fr))[None, :]
        hh = max(float(np.dot(top - bot, q[:, 2])), 1.0) / 2 + 1.5
        w = float(geo.body_width_mm[n] + geo.body_width_mm[n + 1]) / 4 + 0.5
        d = float(geo.body_depth_mm[n] + geo.body_depth_mm[n + 1]) / 4 + 0.5
        box = _local_box(pt.grid, centre, q, (-w, -d, -hh), (w, d, hh))
        if box is None:
            continue
        sl, (a, b, e) = box
        bb = np.where(b > 0, b * 1.15, b)
        disc = (_ellipse(a, bb, w, d) <= 1.0) & (np.abs(e) < hh)
        tis = pt.tissue[sl]
        free = disc & (pt.vert[sl] == 0)
        tis[free] = _T.DISC
        if geo.labels[n] in params.degenerated_discs:
            gas = (_ellipse(a, b + 0.2 * d, 0.45 * w, 0.25 * d) <= 1.0) & (np.abs(e) < 1.2)
            tis[gas & free] = _T.GAS


# --------------------------------------------------------------------------------------------
# Ribs, sternum, pelvis, skull
# --------------------------------------------------------------------------------------------
def _thorax_ellipse(lv: _Level, z_rel_ant: float = 0.0) -> tuple[float, float, float, float]:
    """Rib ellipse (cx, cy, half-width, half-depth) at a level (inside the chest wall)."""
    y_post = lv.y_s + lv.depth / 2 + 24.0
    y_ant = lv.y_s - lv.ant + lv.fat + 14.0
    half_w = lv.half_w - lv.fat - 14.0
    return lv.x_s, (y_post + y_ant) / 2, half_w, (y_post - y_ant) / 2


#: Rib cross-section (mm): the shaft 10-12 mm tall and 5-7 mm thick in its lateral part
#: (flattened, its broad faces facing in and out), the neck about 8-9 mm round; cortex 1.0-1.5
#: mm. Costal cartilage about 10 x 7 mm. The first rib is broad and flat from above (faces up and
#: down). With a 13 x 6.4 mm shaft the largest rib section per axial 3 mm slice near T12 was
#: 110-145 mm2 at the median slice (real example CT 99).
RIB_SHAFT_MM = (5.5, 3.0)
RIB_NECK_MM = (4.5, 4.0)
RIB_HEAD_MM = 5.5
CARTILAGE_MM = (5.0, 3.5)
#: Lower ribs slope down steeply at the side of the chest (the 7th-10th ribs cross the lateral
#: wall 30-40 deg below the horizontal; the lowest point of the costal margin, the 10th rib's
#: cartilage, lies at L3, the subcostal plane): extra drop (mm) of the 10th rib's arc, a share
#: of it for the 7th-9th. Without it the lower ribs ran 20 deg below the horizontal there, so
#: a 3 mm axial slice cut them lengthwise: 200-290 mm2 per section and about 1.5 times the
#: real CT's bone above 200 HU in a lateral box at T12 (the real one shows 4-13 small sections).
RIB_LOWER_EXTRA_DROP_MM = 32.0
#: Lower ribs (7th-10th) and floating ribs (11th, 12th): their course is given by its slope
#: below the horizontal (deg) along the path instead of a drop spread over the whole arc. The
#: real ribs run nearly level from the tubercle round the angle, then slope down by 25-40 deg
#: along the posterolateral and lateral wall and level out towards the front (lower ribs) or
#: keep falling to the tip (floating ribs), so an axial slice at T11-T12 cuts them as many small
#: oval sections (the real example CT: 6-17 bone sections of 20-60 mm2 per side, the largest
#: 60-140 mm2). With the drop spread over the arc (20-27 deg at the side, 5-10 deg behind) the
#: sections were 2-3 long cuts per side of 100-380 mm2. Slope at the side for the 7th-10th ribs
#: and the floating ribs; it ramps up over RIB_SLOPE_RAMP_MM from the tubercle and, for the
#: 7th-10th, falls to RIB_SLOPE_FRONT of itself at the costal cartilage. The bony 7th-10th ribs
#: keep falling to their front ends (the lowest points of the costal margin; their cartilages
#: turn up to the sternum, RIB_CARTILAGE_RISE): with the slope easing to -0.5 (rising at the
#: tip) each rib ran level over 20-30 mm of its anterolateral arc, so one axial slice near T12
#: cut it lengthwise (sections of 200-300 mm2 there; the real CT has none over 155). The 10th
#: rib, the longest arc, slopes a little less so that its front end stays above L2 (real CT:
#: 36 mm2 of bone more than 60 mm beside L2's centre).
RIB_SLOPED_FROM = 7
RIB_LATERAL_SLOPE_DEG = (26.0, 30.0, 31.0, 28.0)
RIB_FLOATING_SLOPE_DEG = (32.0, 35.0)
RIB_SLOPE_RAMP_MM = 20.0
RIB_SLOPE_FRONT = 1.0
#: Costal cartilage of the 7th-10th ribs: rise (mm per mm of its horizontal run) from the rib's
#: front end up to the sternum (the costal margin climbs to the xiphoid).
RIB_CARTILAGE_RISE = 0.4
#: Rib torsion: the shaft turns about its own axis from the angle (30 mm beyond the tubercle)
#: to the front end by this much (deg), its upper border inwards, so the broad faces that face
#: in and out behind face partly up and down in front.
RIB_TORSION_DEG = 25.0
#: Rib medulla: red-marrow cancellous bone like the vertebral bodies' (its density follows the
#: patient's, falling with age), not the denser pelvic marrow class. With ``Tissue.MARROW``
#: (230 HU) a lateral box at T11-T12 held as much bone above 120 HU as the real CT's (840-890
#: vs 855 mm3 per mm of height: rib size and count were right) but its median was 310-350 HU
#: against 218, so 1.5 times the real volume above 200 HU.
RIB_MEDULLA = _T.CANCELLOUS
#: rib cortex thickness (mm) painted on the fine grid
RIB_CORTEX_MM = 1.2
#: Cortex class of the thin flat bones (ribs, sternum, iliac plates, sacrum below S2). Their
#: compact bone is 0.5-1.5 mm thick, thinner than a fine voxel at the ribs' mid-shaft; painted
#: as Tissue.CORTICAL (1000 HU) over 1.2-1.5 mm it carries too much mineral: at 3 mm the
#: synthetic ribs read 630 HU at the 95th percentile of their bone voxels and the iliac wings
#: 970, against 420 and 650 on the real example CT (bone voxels > 200 HU, lateral boxes at
#: T11-T12 and 5-55 mm below L5). Tissue.SHELL (650 HU) matches (see tests).
THIN_CORTEX = _T.SHELL
#: Share of cases whose costal cartilage is calcified (it rises with age; rims and plaques)
CARTILAGE_CALCIFIED_P = 0.35


def _rib_drop(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    tub: NDArray[np.float64],
    slope_deg: float,
    front: float,
) -> NDArray[np.float64]:
    """Drop (mm, >= 0) below the tubercle along a rib's arc ``(xs, ys)`` (from its first point,
    which the path reaches straight from the tubercle ``tub``): slope ``slope_deg`` below the
    horizontal, ramping up over RIB_SLOPE_RAMP_MM of path from the tubercle and easing to
    ``front`` times it over the anterior third of the arc (0: level at the front)."""
    seg = np.hypot(np.diff(xs), np.diff(ys))
    s0 = float(np.hypot(xs[0] - tub[0], ys[0] - tub[1]))
    s = s0 + np.concatenate([[0.0], np.cumsum(seg)])
    ramp = np.clip(s / RIB_SLOPE_RAMP_MM, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    u = (s - s0) / max(float(s[-1] - s0), 1e-6)
    ease = np.clip((u - 2.0 / 3.0) * 3.0, 0.0, 1.0)
    tan = math.tan(math.radians(slope_deg)) * ramp * (1.0 - (1.0 - front) * ease)
    # the horizontal run to each point times the mean slope over it (trapezoids)
    dz = 0.5 * (tan[1:] + tan[:-1]) * seg
    first = 0.5 * tan[0] * s0
    return first + np.concatenate([[0.0], np.cumsum(dz)])


def _rib_torsion(
    pts: NDArray[np.float64], s_mm: NDArray[np.float64], s_tub: float, cx: float, cy: float
) -> NDArray[np.float64]:
    """Twist (rad, per point, for :meth:`_Painter.flat_tube`) of a rib's path ``pts`` ``(M, 3)``
    (arc length ``s_mm``, tubercle at ``s_tub``): 0 up to the angle 30 mm beyond the tubercle,
    then growing to RIB_TORSION_DEG at the front end, signed so that the section's upper
    border turns towards the chest's axis ``(cx, cy)``."""
    tan = np.gradient(pts, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    up = np.array([0.0, 0.0, 1.0]) - tan[:, 2:3] * tan
    side = np.cross(tan, up)
    inward = np.stack([cx - pts[:, 0], cy - pts[:, 1]], axis=1)
    sign = np.sign(side[:, 0] * inward[:, 0] + side[:, 1] * inward[:, 1])
    s0 = s_tub + 30.0
    t = np.clip((s_mm - s0) / max(float(s_mm[-1]) - s0, 1e-6), 0.0, 1.0)
    return np.asarray(sign * math.radians(RIB_TORSION_DEG) * t)


def _paint_ribs(
    pt: _Painter, geo: SpineGeometry, plan: _BodyPlan, rng: np.random.Generator
) -> None:
    """Ribs on every thoracic vertebra: the head against the bodies at the disc level (its own
    body only for T1 and T10-T12), the neck to the tubercle against the transverse process's
    tip (T1-T10; T11-T12 float free of it), a flattened shaft around the chest, and costal
    cartilage to the sternum for T1-T10 (sometimes calcified)."""
    thoracic = [n for n, lab in enumerate(geo.labels) if anatomy.region_of(lab) == "thoracic"]
    calcified = bool(rng.random() < CARTILAGE_CALCIFIED_P)
    last = max((int(geo.labels[n][1:]) for n in thoracic), default=12)
    for n in thoracic:
        name = geo.labels[n]
        num = int(name[1:])
        floating = num >= last - 1  # the last two pairs (T11-T12, or T12-T13 with a T13)
        c, fr = geo.centres_mm[n], geo.frames[n]
        h = float(geo.body_height_mm[n])
        d, w = float(geo.body_depth_mm[n]), float(geo.body_width_mm[n])
        lv = plan.level(float(c[2]))
        cx, cy, hw, hd = _thorax_ellipse(lv)
        if num == 1:
            hw, hd = hw * 0.55, hd * 0.7
            cy = lv.y_s + lv.depth / 2 + 24.0 - hd
        elif num == 2:
            hw, hd = hw * 0.8, hd * 0.85
            cy = lv.y_s + lv.depth / 2 + 24.0 - hd
        frac_end = 0.42 if floating and num == last - 1 else 0.28 if floating else 0.0
        if not floating:
            frac_end = 0.8 if num <= 7 else 0.72
        drop = 25.0 + 4.0 * min(num, 9) + RIB_LOWER_EXTRA_DROP_MM * min(max(num - 6, 0), 4) / 4
        # head: against the posterolateral body, at the disc above (demifacets of two bodies)
        # for T2-T9, on its own body's upper half for T1 and T10 and lower down for the
        # floating ribs
        single = num == 1 or num >= 10
        disc_above = float(geo.disc_height_mm[n - 1]) if n > 0 else 0.0
        e_head = (0.25 * h if num == 1 or num == 10 else 0.0) if single else h / 2 + disc_above / 2
        tip_a, tip_b, tip_e, tip_t = vshape.transverse_tip(name, h, d)
        sz = 0.85 if num <= 2 else 1.0
        for side in (1.0, -1.0):
            head = c + fr @ np.array([side * (0.5 * w + 0.5 * RIB_HEAD_MM), 0.3 * d, e_head])
            if floating:  # passes in front of the short process without a joint
                tub = c + fr @ np.array([side * (tip_a + 6.0), tip_b - tip_t - 8.0, tip_e - 2.0])
            else:  # tubercle against the front of the transverse process's tip
                tub = c + fr @ np.array(
                    [side * (tip_a - 3.0), tip_b - tip_t - RIB_NECK_MM[1] - 0.5, tip_e]
                )
            dx = abs(tub[0] - cx)
            phi0 = math.asin(min(dx / max(hw, 1.0), 0.95))
            phis = np.linspace(phi0, math.pi * frac_end, 40)
            xs = cx + side * hw * np.sin(phis)
            ys = cy + hd * np.cos(phis)
            if floating:  # down and out along its own short arc, steeply at the side
                zs = tub[2] - _rib_drop(xs, ys, tub, RIB_FLOATING_SLOPE_DEG[num - last + 1], 1.0)
            elif num >= RIB_SLOPED_FROM:
                zs = tub[2] - _rib_drop(
                    xs, ys, tub, RIB_LATERAL_SLOPE_DEG[min(num, 10) - 7], RIB_SLOPE_FRONT
                )
            else:
                t = (phis - phi0) / max(math.pi - phi0, 1e-6)
                zs = tub[2] - drop * np.sin(np.clip(t, 0, 1) * math.pi / 2) * 1.2
            arc = np.stack([xs, ys, zs], axis=1)
            pts = np.concatenate([head[None], tub[None], arc[1:]], axis=0)
            seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
            s_mm = np.concatenate([[0.0], np.cumsum(seg)])
            s_tub = s_mm[1]
            # round head and neck, flattening over 30 mm beyond the tubercle; thinner ends
            f = np.clip((s_mm - s_tub) / 30.0, 0.0, 1.0)
            rh = (RIB_NECK_MM[0] + f * (RIB_SHAFT_MM[0] - RIB_NECK_MM[0])) * sz
            rn = (RIB_NECK_MM[1] + f * (RIB_SHAFT_MM[1] - RIB_NECK_MM[1])) * sz
            rh[0] = rn[0] = RIB_HEAD_MM * sz
            if floating:
                taper = np.clip((s_mm[-1] - s_mm) / 40.0, 0.45, 1.0)
                rh, rn = rh * taper, rn * np.maximum(taper, 0.7)
            twist = np.full(len(pts), math.pi / 2 if num == 1 else math.pi / 4 if num == 2 else 0)
            if num > 2:
                twist = _rib_torsion(pts, s_mm, s_tub, cx, cy)
            twist[:2] = 0.0
            pt.flat_tube(pts, rh, rn, twist, THIN_CORTEX, RIB_MEDULLA, RIB_CORTEX_MM)
            if floating:
                continue
            # costal cartilage to the sternum (T8-T10 join the cartilage above, drawn as reaching
            # the sternum's lower end)
            p_end = arc[-1]
            ster = np.array([cx + side * 14.0, cy - hd + 4.0, p_end[2]])
            if num >= RIB_SLOPED_FROM:  # up along the costal margin
                run = hw * abs(math.sin(math.pi * frac_end) - math.sin(math.pi * 0.93)) + hd * abs(
                    math.cos(math.pi * frac_end) - math.cos(math.pi * 0.93)
                )
                ster[2] += RIB_CARTILAGE_RISE * run
            ph = np.linspace(math.pi * frac_end, math.pi * 0.93, 8)
            cart = np.stack(
                [
                    cx + side * hw * np.sin(ph),
                    cy + hd * np.cos(ph),
                    np.linspace(p_end[2], ster[2], 8),
                ],
                axis=1,
            )
            cart = np.concatenate(
                [
                    p_end[None]
                    - 3.0
                    * (arc[-1] - arc[-2])
                    / max(float(np.linalg.norm(arc[-1] - arc[-2])), 1e-6),
                    cart,
                    ster[None],
                ],
                axis=0,
            )
            m = len(cart)
            ch = np.full(m, CARTILAGE_MM[0] * sz)
            cn = np.full(m, CARTILAGE_MM[1] * sz)
            tw = twist[-1] + np.zeros(m)
            soft = (_T.FAT, _T.MUSCLE, _T.SOFT)
            pt.flat_tube(cart, ch, cn, tw, _T.CARTILAGE, None, only=soft)
            if calcified:
                # calcified rims over a random stretch of the cartilage
                a0 = int(rng.integers(0, m - 2))
                a1 = int(rng.integers(a0 + 2, m + 1))
                sub = cart[a0:a1]
                k = len(sub)
                pt.flat_tube(
                    sub,
                    ch[:k],
                    cn[:k],
                    tw[:k],
                    _T.CORTICAL,
                    _T.CARTILAGE,
                    0.8,
                    only=(_T.CARTILAGE,),
                )


def _paint_sternum(pt: _Painter, geo: SpineGeometry, plan: _BodyPlan) -> None:
    if "T2" not in geo.labels or "T8" not in geo.labels:
        return
    z_top = plan.z_of["T2"] - 15.0
    z_bot = plan.z_of["T8"] - 55.0
    k0, k1 = pt.grid.index_range(2, z_bot, z_top)
    for k in range(k0, k1):
        z = float(pt.z[k])
        lv = plan.level(z + 40.0)
        cx, cy, _hw, hd = _thorax_ellipse(lv)
        y = cy - hd - 2.0
        half = 24.0 if z > z_top - 45 else 14.0
        pt.ellipse2d(k, cx, y, half, 7.0, THIN_CORTEX)
        pt.ellipse2d(k, cx, y, half - 1.5, 5.5, _T.MARROW)


def _ellipsoid_shell(
    pt: _Painter,
    centre: NDArray[np.float64],
    axes: tuple[float, float, float],
    thickness: float,
    keep: Any,
    inner_value: int | None = None,
    only_inner: tuple[int, ...] | None = None,
) -> None:
    """Paint a bony ellipsoidal shell (cortex + marrow) where ``keep(x, y, z)`` is true."""
    fr = np.eye(3)
    ext = (float(axes[0]), float(axes[1]), float(axes[2]))
    box = _local_box(pt.grid, centre, fr, (-ext[0], -ext[1], -ext[2]), ext)
    if box is None:
        return
    sl, (x, y, z) = box
    rm = float(np.mean(axes))
    rho = np.sqrt((x / axes[0]) ** 2 + (y / axes[1]) ** 2 + (z / axes[2]) ** 2)
    dist = (1.0 - rho) * rm  # approximate depth below the surface, mm
    k = keep(x, y, z)
    shell = (dist >= 0) & (dist < thickness) & k
    marrow = (dist >= 1.3) & (dist < thickness - 1.3) & k
    tis = pt.tissue[sl]
    if inner_value is not None:
        inside = (dist >= thickness) & k
        if only_inner is not None:
            inside &= np.isin(tis, only_inner)
        tis[inside] = inner_value
    tis[shell] = _T.CORTICAL
    tis[marrow] = _T.MARROW


# Standard adult pelvic dimensions (mm) the hemipelvis is built from, rounded means of both
# sexes (Gray's Anatomy 41st ed.; obstetric pelvimetry for the inlet/outlet diameters; hip
# centre from pelvic incidence about 50 deg with a sacro-femoral distance of about 110 mm,
# Legaye et al. 1998):
#: distance between the anterior superior iliac spines 240-260 mm, intercristal 260-290 mm
PELVIS_ASIS_HALF_MM = 125.0
#: iliac crest summit above the S1 body centre (Tuffier's line at L4-L5, the L4-L5 disc about
#: 55-70 mm above S1's centre; the real example CT's crest is 65 mm above it)
PELVIS_CREST_MM = 60.0
#: antero-posterior position (mm, + = posterior) of the wing's mid-surface at the sacro-iliac
#: joint and at the anterior superior iliac spine (at S1's centre), relative to the S1
#: body centre: the spines lie about in the coronal plane of the pubic tubercles (anterior pelvic plane), 80-90 mm in
#: front of S1, so the wing runs about 30 deg off the sagittal plane (ASIS to PSIS about
#: 150 mm); the real example's wings span 175 mm from front to back
ILIUM_Y_SI_MM, ILIUM_Y_ASIS_MM = 28.0, -85.0
#: In axial sections the wing is not straight from the joint to the spine: the iliac fossa runs
#: at a shallow angle (the real example's mid-surface 22 mm behind S1's centre 60 mm from the
#: midline, level with it at 80 mm, 25 mm in front at 110 mm) and the front of the wing turns
#: sharply forwards to the anterior spines (60-90 mm in front at 110-120 mm). Fraction of the
#: joint-to-spine distance covered at lateral position u (0 joint, 1 spine) is
#: ``ILIUM_CURVE[0] * u + ILIUM_CURVE[1] * u**4`` (a fit to the real example at S1's level).
ILIUM_CURVE = (0.45, 0.55)
#: the wing's mid-surface leans back towards the crest by this much per mm of height (the real
#: example: 5-7 mm further back 40 mm higher, between S1's level and the crest)
ILIUM_LEAN = 0.2
#: The wing flares outwards towards the crest (its fossa faces up as well as forwards): in the
#: real example the wing's lateral reach grows from about 100 mm from the midline 30 mm below
#: S1's centre to 150-155 mm 30-45 mm above it, and in axial sections through the upper wing
#: the mid-surface is nearly straight, about 35 deg off the coronal plane (from 25 mm behind
#: S1's centre 50 mm from the midline to 45 mm in front of it 155 mm out), not turning forwards
#: to the spines as it does lower down. Above ILIUM_FLARE_FROM_MM (relative to S1's centre) the
#: wing's lateral end moves out, linearly with height, by up to ILIUM_FLARE_MM at the crest
#: summit, its curve straightens (ILIUM_CURVE towards a straight line) and its front end moves
#: back to ILIUM_Y_CREST_FRONT_MM (mm from S1's centre, + = posterior). In a coronal section
#: through the hip joints the wing then rises up and out from the acetabulum (the real
#: example: 90 mm from the midline 60 mm below S1's centre, 115-125 mm level with it, 135-140
#: mm 30 mm above it).
ILIUM_FLARE_FROM_MM = -20.0
ILIUM_FLARE_MM = 30.0
ILIUM_Y_CREST_FRONT_MM = -40.0
#: the iliac body above the acetabulum (the real example, coronal and sagittal sections through
#: the hip): a wedge of trabecular bone in a cortical rim, 50-55 mm across and 55-60 mm from
#: front to back at the acetabular roof (22 mm above the head's centre), narrowing upwards to
#: the 15-20 mm thick ilium about 55 mm above it; centred 2-3 mm medial and 3 mm behind the
#: head. Half-widths (x, y) at the head centre's level (mm), the height above it where they reach
#: zero (mm), and the centre's offset (medial, posterior) mm.
ILIAC_BODY_HALF_MM = (34.0, 38.0)
ILIAC_BODY_APEX_MM = 80.0
ILIAC_BODY_OFFSET_MM = (3.0, 3.0)
#: posterior ilium (iliac tuberosity behind the sacro-iliac joint) as a thick rod from the back
#: of the crest through the posterior superior iliac spine (PSIS, 80-100 mm apart, 55-65 mm
#: behind S1's centre, at S1-S2; the real example's posterior ilium reaches 50-60 mm behind S1
#: from 35 mm above to 25 mm below it) to the posterior inferior spine: (x, y, z) mm from S1
ILIUM_POSTERIOR_MM = ((62.0, 38.0, 40.0), (44.0, 56.0, -8.0), (50.0, 40.0, -32.0))
ILIUM_POSTERIOR_R_MM = 11.0
#: hip joint centre relative to the S1 body centre: +-88 mm lateral (inter-hip 170-180 mm),
#: 35 mm anterior and 100 mm inferior (the real example CT's femoral heads: 88 mm either side,
#: 33 mm in front of and 91 mm below its S1 body centre); see :func:`hip_centres_mm`
PELVIS_HIP_MM = (88.0, -35.0, -100.0)
#: femoral head radius (diameter 45-50 mm) and acetabular cup outer radius (acetabulum 50-55 mm
#: across, 2 mm joint space, 6-8 mm of bone around it)
FEMORAL_HEAD_R_MM = 24.0
ACETABULUM_R_MM = 34.0
#: hip joint space on CT (mm): the two cartilage layers, 3-4 mm wide (radiographic joint space
#: width of the adult hip, 3.5-4 mm); the acetabulum's articular surface is dense subchondral
#: bone (``Tissue.CORTICAL``), its outer (pelvic) surface thin cortex continuous with the
#: ilium, ischium and pubis (painted ``THIN_CORTEX``: a full outer shell showed as a second
#: ring around the femoral head in coronal slices)
HIP_JOINT_GAP_MM = 3.0
#: The femoral head's own rim: a thin shell (``Tissue.SHELL``, 1 mm) over its trabecular bone.
#: On the real example CT (3 mm) the head is a grey disc with a faint outline and the joint one
#: dark line under the acetabulum's bright roof; a 1.3 mm ``Tissue.CORTICAL`` rim all round the
#: head read as a second bright ring inside the cup's (3 mm profiles into the cup: head rim
#: 630 HU over a 230 HU interior, as bright as the cup's subchondral plate).
FEMORAL_HEAD_CORTEX = _T.SHELL
FEMORAL_HEAD_CORTEX_MM = 1.0
#: proximal femur (Gray's Anatomy 41st ed.; radiographic means): neck-shaft angle 125-130 deg,
#: shaft 7 deg off the vertical (femoral anatomical axis, knees closer together than the hips),
#: neck anteversion about 15 deg, femoral offset (head centre to shaft axis) 40-45 mm; the neck
#: 30-35 mm tall and 25 mm thick at its waist, widening to 40 mm at its base; the greater
#: trochanter's tip at about the height of the head centre, 20 mm lateral of the shaft axis
FEMUR_NECK_SHAFT_DEG = 128.0
FEMUR_SHAFT_TILT_DEG = 7.0
FEMUR_ANTEVERSION_DEG = 15.0
FEMUR_OFFSET_MM = 42.0
FEMUR_SHAFT_R_MM = 13.5
#: pubic symphysis: top 5 mm above the hip centres, 45 mm in front of them, 40 mm tall,
#: 4 mm fibrocartilage gap; ischial tuberosities 70 mm below the hip centres, 55 mm from the
#: midline (intertuberous diameter 110 mm), 25 mm behind them; ischial spines 50 mm from the
#: midline (interspinous diameter 100 mm)
PUBIS_TOP_MM = (6.0, -45.0, 5.0)
PUBIS_HEIGHT_MM = 40.0
ISCHIAL_TUBEROSITY_MM = (55.0, 25.0, -70.0)
#: iliac bone thickness: 2-4 mm in the iliac fossa, 10-14 mm at the crest, 15-20 mm at the
#: sacro-iliac joint and in the body above the acetabulum; cortex 1-2 mm
ILIUM_FOSSA_MM, ILIUM_CREST_MM, ILIUM_SI_MM, ILIUM_BODY_MM = 3.0, 12.0, 17.0, 19.0
ILIUM_CORTEX_MM = 1.5


def _paint_plate(
    pt: _Painter,
    k_rng: tuple[int, int],
    i_rng: tuple[int, int],
    y_mm: NDArray[np.float64],
    half_mm: NDArray[np.float64],
    cortex_mm: float,
) -> None:
    """Paint a bony plate given as a height field over (z, x): its mid-surface at ``y_mm``
    ``(nk, ni)`` and its half-thickness ``half_mm`` (0 = none), measured along the surface
    normal; cortex ``cortex_mm`` thick, marrow inside (thin parts are all cortex)."""
    g = pt.grid
    sy = g.spacing_mm[1]
    dz, dx = g.spacing_mm[2], g.spacing_mm[0]
    gz = np.gradient(y_mm, dz, axis=0) if y_mm.shape[0] > 1 else np.zeros_like(y_mm)
    gx = np.gradient(y_mm, dx, axis=1) if y_mm.shape[1] > 1 else np.zeros_like(y_mm)
    cosn = 1.0 / np.sqrt(1.0 + gz * gz + gx * gx)  # |y - f| * cosn = distance to the surface
    on = half_mm > 0
    if not on.any():
        return
    kk, ii = np.nonzero(on)
    f = y_mm[on]
    ht = half_mm[on]
    cn = cosn[on]
    jf = np.rint((f - g.origin_mm[1]) / sy).astype(np.int64)
    reach = math.ceil(float((ht / cn).max()) / sy) + 1
    nj = g.shape_kji[1]
    kk = kk + k_rng[0]
    ii = ii + i_rng[0]
    cort: list[NDArray[np.int64]] = []
    marrow: list[NDArray[np.int64]] = []
    for dj in range(-reach, reach + 1):
        j = jf + dj
        dist = np.abs(g.origin_mm[1] + j * sy - f) * cn
        ok = (j >= 0) & (j < nj) & (dist <= ht)
        lin = (kk * nj + j) * g.shape_kji[2] + ii
        inner = ok & (dist <= ht - cortex_mm)
        cort.append(lin[ok & ~inner])
        marrow.append(lin[inner])
    flat = pt.tissue.reshape(-1)
    flat[np.concatenate(cort)] = THIN_CORTEX
    flat[np.concatenate(marrow)] = _T.MARROW


def _paint_ilium(pt: _Painter, c: NDArray[np.float64], w: float, s: float, side: float) -> None:
    """One iliac wing as a broad curved plate (a height field y(z, x)): fan-shaped from the
    sacro-iliac joint (u = 0) to the anterior superior iliac spine (u = 1), up to the crest,
    narrowing down into the ilium's body above the acetabulum; thin in the iliac fossa, thick
    at the crest, the sacro-iliac joint, the anterior spines and the body."""
    g = pt.grid
    x_si = w / 2 + 30.0 * s
    x_asis = PELVIS_ASIS_HALF_MM * s
    hip = PELVIS_HIP_MM
    lo_x, hi_x = x_si - 8.0, x_asis + (22.0 + 1.3 * ILIUM_FLARE_MM) * s
    xs = (c[0] + side * lo_x, c[0] + side * hi_x)
    i0, i1 = g.index_range(0, min(xs), max(xs))
    k0, k1 = g.index_range(2, c[2] + hip[2] + 20.0, c[2] + PELVIS_CREST_MM + 4.0)
    if i1 <= i0 or k1 <= k0:
        return
    x = side * (pt.x[i0:i1] - c[0])  # lateral distance (mm)
    zr = pt.z[k0:k1, None] - c[2]
    # flare: the wing's lateral end moves out towards the crest (0 below ILIUM_FLARE_FROM_MM)
    flare = np.clip((zr - ILIUM_FLARE_FROM_MM) / (PELVIS_CREST_MM - ILIUM_FLARE_FROM_MM), 0, 1)
    x_end = x_asis + ILIUM_FLARE_MM * s * flare  # (nk, 1)
    u = (x[None, :] - x_si) / (x_end - x_si)
    # (the acetabulum lies below ILIUM_FLARE_FROM_MM: no flare there)
    u_acet = (hip[0] * s - x_si) / (x_asis - x_si)
    # crest (upper border): posterior superior spine, summit, anterior superior spine
    z_top = np.interp(
        u,
        [-0.12, 0.0, 0.2, 0.5, 0.8, 1.0, 1.15, 1.3],
        [-25, -5, 0.6 * PELVIS_CREST_MM, PELVIS_CREST_MM, 0.92 * PELVIS_CREST_MM, 25, 8, -20],
    )
    # lower borders: the greater sciatic notch behind, the anterior spines in front, both
    # narrowing to the acetabular roof
    z_si_low, z_roof = -38.0, hip[2] + 28.0
    t = np.clip((zr - z_roof) / (z_si_low - z_roof), 0.0, 1.0)
    u_lo = np.where(zr > z_si_low, -0.12, (u_acet - 0.30) * (1 - t) - 0.12 * t)
    u_hi = np.interp(zr, [z_roof, -45.0, -25.0, 0.0, 60.0], [u_acet + 0.15, 0.8, 0.88, 1.3, 1.3])
    inside = (u >= u_lo) & (u <= u_hi) & (zr <= z_top)

    # mid-surface: from the sacro-iliac joint forwards and outwards, concave to the front
    # (iliac fossa), leaning back towards the crest (so the wing flares outwards in coronal
    # slices: the fossa faces forwards, inwards and upwards), moving forwards to the acetabulum
    # below the joint
    def surface(uu: Any) -> Any:
        # the iliac fossa (concave to the front) and the front of the wing turning forwards
        # (straightening and ending further back towards the crest)
        uc = np.minimum(uu, 1.0)
        bend = np.maximum(uc, 0.0) ** 4
        frac = ILIUM_CURVE[0] * uc + ILIUM_CURVE[1] * bend
        frac = frac + flare * (uc - frac)
        y_end = ILIUM_Y_ASIS_MM + (ILIUM_Y_CREST_FRONT_MM - ILIUM_Y_ASIS_MM) * flare
        y_mid = ILIUM_Y_SI_MM + (y_end - ILIUM_Y_SI_MM) * frac
        # lateral to the anterior spines (u > 1) the rim curves back along the tubercle
        y_mid = y_mid + 30.0 * np.maximum(uu - 1.0, 0.0)
        return c[1] + y_mid * s + ILIUM_LEAN * zr

    fwd = np.clip((z_si_low + 10.0 - zr) / (z_si_low + 10.0 - z_roof), 0.0, 1.0)
    y = surface(u) + fwd * (c[1] + hip[1] * s - surface(u_acet))
    # thickness: thin fossa, thick rims (max of the rim profiles, not their sum): the crest,
    # the posterior ilium (sacro-iliac joint, iliac tuberosity, down to the sciatic notch), the
    # anterior spines and the body above the acetabulum
    crest = ILIUM_CREST_MM * np.clip(1.0 - (z_top - zr) / 14.0, 0, 1)
    si = ILIUM_SI_MM * np.clip(1.0 - (u - 0.15) / 0.35, 0, 1)
    body = ILIUM_BODY_MM * np.clip((-5.0 - zr) / 40.0, 0, 1)
    ant = 9.0 * np.clip(1.0 - (u_hi - u) / 0.1, 0, 1)
    # anterior column: the thick bone from the anterior spines down to the acetabulum
    ant = np.maximum(ant, 14.0 * np.clip(1.0 - (u_hi - u) / 0.3, 0, 1) * np.clip(-zr / 25.0, 0, 1))
    full = np.maximum(ILIUM_FOSSA_MM, np.maximum(np.maximum(crest, si), np.maximum(body, ant)))
    half = full / 2
    # rounded crest
    half = half * np.sqrt(np.clip((z_top - zr + 0.5) / np.maximum(half, 1.0), 0, 1))
    half = np.where(inside, half, 0.0)
    _paint_plate(pt, (k0, k1), (i0, i1), np.broadcast_to(y, half.shape), half, ILIUM_CORTEX_MM)
    # posterior ilium: the thick iliac tuberosity behind the joint, out to the PSIS
    post = c + np.array([[side * p[0] * s, p[1] * s, p[2]] for p in ILIUM_POSTERIOR_MM])
    _bone_rod(pt, post, ILIUM_POSTERIOR_R_MM * s, ILIUM_CORTEX_MM, THIN_CORTEX)


def _bone_rod(
    pt: _Painter, pts: NDArray[np.float64], r: float, cortex: float, outer: int = _T.CORTICAL
) -> None:
    """A round bony rod (cortex ``outer`` around marrow) along a polyline, its ends extended by
    0.6 r so that joined rods overlap (the flat-tube painter cuts its ends square)."""
    p = np.array(pts, dtype=np.float64)
    for end, nxt in ((0, 1), (-1, -2)):
        d = p[end] - p[nxt]
        p[end] = p[end] + d / max(float(np.linalg.norm(d)), 1e-6) * 0.6 * r
    full = np.full(len(p), r)
    pt.flat_tube(p, full, full, np.zeros(len(p)), outer, _T.MARROW, cortex)


#: Sacro-iliac joint: the ilium's auricular part faces the sacral alae across a 2-4 mm joint
#: space, about 18 mm thick and 40 mm from front to back, from the top of S1 to below S2. The
#: alae reach ``w / 2 + 28`` mm (S1) and ``w / 2 + 26`` mm (S2, a narrower body) from the midline
#: (:mod:`spinelab.synth.vertebra_shape`), so the joint line steps in from S1 to S2: the
#: bend of the L-shaped (auricular) joint surface, its short arm at S1, its long arm down S2-S3.
SI_JOINT_GAP_MM = 3.0
ILIUM_AURICULAR_MM = (18.0, 40.0)


def _paint_auricular(pt: _Painter, geo: SpineGeometry) -> None:
    """The auricular part of each ilium beside the sacral alae, slice by slice (2-D ellipses
    into soft tissue only: the wing's plate and other bone stay as they are)."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return
    i1, i2 = geo.labels.index("S1"), geo.labels.index("S2")
    c1, c2 = geo.centres_mm[i1], geo.centres_mm[i2]
    h1, h2 = float(geo.body_height_mm[i1]), float(geo.body_height_mm[i2])
    d1, d2 = float(geo.body_depth_mm[i1]), float(geo.body_depth_mm[i2])
    w1, w2 = float(geo.body_width_mm[i1]), float(geo.body_width_mm[i2])
    # levels (ascending): below S2 (S3), S2's centre, S1's lower half, its widest level, S1's
    # top; the alae's lateral reach there (vertebra_shape.sacral_ala_reach: the ear-shaped
    # outline) and their antero-posterior centre (vertebra_shape.sacral_ala_ap)
    e_pk = vshape.SACRAL_ALA_PEAK * h1
    zn = [c2[2] - 0.5 * h2 - 12.0, c2[2], c1[2] - 0.25 * h1, c1[2] + e_pk, c1[2] + 0.5 * h1]
    xn = [
        float(vshape.sacral_ala_reach("S2", h2, w2, -0.5 * h2 - 12.0)),
        float(vshape.sacral_ala_reach("S2", h2, w2, 0.0)),
        float(vshape.sacral_ala_reach("S1", h1, w1, -0.25 * h1)),
        float(vshape.sacral_ala_reach("S1", h1, w1, e_pk)),
        float(vshape.sacral_ala_reach("S1", h1, w1, e_pk)) - 6.0,
    ]
    ap1, ap2 = sum(vshape.sacral_ala_ap(d1)) / 2, sum(vshape.sacral_ala_ap(d2)) / 2
    yn = [c2[1] + ap2 + 6.0, c2[1] + ap2, c1[1] + ap1, c1[1] + ap1, c1[1] + ap1]
    xc = [c2[0], c2[0], c1[0], c1[0], c1[0]]
    t_half, l_half = ILIUM_AURICULAR_MM[0] / 2, ILIUM_AURICULAR_MM[1] / 2
    soft = (_T.FAT, _T.MUSCLE, _T.SOFT)
    k0, k1 = pt.grid.index_range(2, zn[0], zn[-1])
    for k in range(k0, k1):
        z = float(pt.z[k])
        reach, yc, x0 = (float(np.interp(z, zn, v)) for v in (xn, yn, xc))
        for side in (1.0, -1.0):
            cx = x0 + side * (reach + SI_JOINT_GAP_MM + t_half)
            pt.ellipse2d(k, cx, yc, t_half, l_half, THIN_CORTEX, only=soft)
            pt.ellipse2d(
                k,
                cx,
                yc,
                t_half - ILIUM_CORTEX_MM,
                l_half - ILIUM_CORTEX_MM,
                _T.MARROW,
                only=(THIN_CORTEX,),
            )


def _femur_axes(side: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unit vectors (LPS) of the femoral neck (from its base up, medially and forwards to the
    head) and of the shaft (downwards, slightly medially) of the ``side`` (+1 left) femur."""
    tilt = math.radians(FEMUR_SHAFT_TILT_DEG)
    shaft = np.array([-side * math.sin(tilt), 0.0, -math.cos(tilt)])
    # the neck makes (180 - neck-shaft) deg with the shaft's upward direction, which leans
    # laterally by the tilt: it rises neck-shaft - 90 + tilt deg (about 45) above the
    # horizontal, then turns forwards by the anteversion
    rise = math.radians(FEMUR_NECK_SHAFT_DEG - 90.0 + FEMUR_SHAFT_TILT_DEG)
    av = math.radians(FEMUR_ANTEVERSION_DEG)
    neck = np.array(
        [-side * math.cos(rise) * math.cos(av), -math.cos(rise) * math.sin(av), math.sin(rise)]
    )
    return neck, shaft


def _paint_femur(pt: _Painter, fh: NDArray[np.float64], s: float, side: float) -> None:
    """Proximal femur below the head centred at ``fh``: the waisted neck up-medially into the
    head, the greater trochanter and the shaft with its medullary canal."""
    neck, shaft = _femur_axes(side)
    # the neck and shaft axes meet at the base of the neck, FEMUR_OFFSET_MM from the shaft axis
    sin_ns = math.sin(math.radians(180.0 - FEMUR_NECK_SHAFT_DEG))
    base = fh - neck * (FEMUR_OFFSET_MM / sin_ns) * s
    length = float(np.linalg.norm(fh - base))
    pts = np.stack([fh - 0.3 * FEMORAL_HEAD_R_MM * s * neck, fh - 0.55 * length * neck, base])
    pt.flat_tube(
        pts,
        np.array([15.0, 15.0, 20.0]) * s,
        np.array([13.0, 12.0, 16.0]) * s,
        np.zeros(3),
        _T.CORTICAL,
        _T.MARROW,
        1.8,
    )
    # greater trochanter: from the neck's base up and out to its tip at the head's height
    lat = np.array([side, 0.0, 0.0])
    tip = base + (20.0 * lat + np.array([0.0, 6.0, 0.0])) * s
    tip[2] = fh[2] - 4.0 * s
    _bone_rod(pt, np.stack([base + (10.0 * lat + 15.0 * shaft) * s, tip]), 12.0 * s, 1.5)
    shaft_pts = np.stack([base - 10.0 * s * shaft, base + 240.0 * s * shaft])
    _bone_rod(pt, shaft_pts, FEMUR_SHAFT_R_MM * s, 4.5)


def _paint_iliac_body(
    pt: _Painter, fh: NDArray[np.float64], s: float, side: float, cup: Any
) -> None:
    """The body of the ilium over the acetabulum: a wedge of marrow in a thin cortex, elliptic
    in axial section, widest at the head centre's level (ILIAC_BODY_HALF_MM) and narrowing
    linearly to ILIAC_BODY_APEX_MM above it, where the wing's plate carries on. Below the
    acetabular rim (where ``cup`` is false, within the cup's outer radius) it leaves room for
    the joint; inside the wing's plate and the rods it turns their cortex into marrow (no seams)."""
    hx, hy = ILIAC_BODY_HALF_MM[0] * s, ILIAC_BODY_HALF_MM[1] * s
    top = ILIAC_BODY_APEX_MM * s
    cen = fh + np.array([-side * ILIAC_BODY_OFFSET_MM[0], ILIAC_BODY_OFFSET_MM[1], 0.0]) * s
    box = _local_box(pt.grid, cen, np.eye(3), (-hx, -hy, 0.0), (hx, hy, top))
    if box is None:
        return
    sl, (x, y, z) = box
    f = np.clip(1.0 - z / top, 0.0, 1.0)
    q = (x / (hx * f + 1e-3)) ** 2 + (y / (hy * f + 1e-3)) ** 2
    # distance below the surface, approximately (the radial scale at this height)
    depth = (1.0 - np.sqrt(q)) * np.minimum(hx, hy) * f
    dx, dy = x - (fh[0] - cen[0]), y - (fh[1] - cen[1])
    r_out = max(ACETABULUM_R_MM * s, FEMORAL_HEAD_R_MM * s + HIP_JOINT_GAP_MM + 5.0)
    free = (dx * dx + dy * dy + z * z >= r_out * r_out) | cup(dx, dy, z)
    tis = pt.tissue[sl]
    bone = np.isin(tis, (_T.MARROW, THIN_CORTEX, _T.CORTICAL))
    tis[(depth >= 0) & free & ~bone] = THIN_CORTEX
    tis[(depth >= ILIUM_CORTEX_MM) & free] = _T.MARROW


def _paint_hip_joint(pt: _Painter, fh: NDArray[np.float64], s: float, cup: Any) -> None:
    """Femoral head (radius FEMORAL_HEAD_R_MM) and the acetabular cup around it across a
    HIP_JOINT_GAP_MM joint space: dense subchondral bone on both articular surfaces, marrow
    between, and only thin cortex on the cup's outer surface."""
    r_h = FEMORAL_HEAD_R_MM * s
    r_in = r_h + HIP_JOINT_GAP_MM
    r_out = max(ACETABULUM_R_MM * s, r_in + 5.0)
    box = _local_box(pt.grid, fh, np.eye(3), (-r_out, -r_out, -r_out), (r_out, r_out, r_out))
    if box is None:
        return
    sl, (x, y, z) = box
    rho = np.sqrt(x * x + y * y + z * z)
    k = cup(x, y, z)
    tis = pt.tissue[sl]
    # the outer cortex only where the cup stands out of the bone around it (no seam inside the
    # ilium's body or the rami)
    was_bone = np.isin(tis, (_T.MARROW, THIN_CORTEX, _T.CORTICAL))
    tis[(rho >= r_in) & (rho < r_out) & k & ~was_bone] = THIN_CORTEX
    tis[(rho >= r_in + 1.5) & (rho < r_out - 1.0) & k] = _T.MARROW
    tis[(rho >= r_in) & (rho < r_in + 1.5) & k] = _T.CORTICAL  # subchondral plate
    tis[(rho >= r_h) & (rho < r_in) & k] = _T.CARTILAGE
    tis[rho < r_h] = FEMORAL_HEAD_CORTEX
    tis[rho < r_h - FEMORAL_HEAD_CORTEX_MM] = _T.MARROW


def hip_centres_mm(geo: SpineGeometry, body_scale: float) -> NDArray[np.float64] | None:
    """Hip joint (femoral head) centres that the renderer paints for a spine.

    Args:
        geo: The spine; the hips are placed relative to its S1 body centre (PELVIS_HIP_MM).
        body_scale: The body-size factor (:attr:`AnatomyParams.body_scale`).

    Returns:
        ``(2, 3)`` LPS mm, the left hip first, or None when the spine has no S1.
    """
    if "S1" not in geo.labels:
        return None
    c = geo.centres_mm[geo.labels.index("S1")]
    hx, hy, hz = PELVIS_HIP_MM
    s = float(body_scale)
    return np.stack([c + np.array([side * hx * s, hy * s, hz]) for side in (1.0, -1.0)])


def _paint_pelvis(pt: _Painter, geo: SpineGeometry, plan: _BodyPlan) -> None:
    """Hip bones (iliac wings as broad curved plates, acetabulum, ischium, pubis), femoral heads,
    necks and proximal shafts, and the lower sacrum and coccyx below S2 (bone, label 0).

    Positions are relative to the S1 body centre, sizes from the standard adult dimensions
    above, scaled with the body (``plan.scale``)."""
    if "S1" not in geo.labels:
        return
    n = geo.labels.index("S1")
    c = geo.centres_mm[n]
    w = float(geo.body_width_mm[n])
    s = plan.scale
    hips = hip_centres_mm(geo, s)
    assert hips is not None
    hy, hz = PELVIS_HIP_MM[1], PELVIS_HIP_MM[2]
    for side, fh in zip((1.0, -1.0), hips, strict=True):
        _paint_ilium(pt, c, w, s, side)
        # acetabular cup around the head, open laterally, forwards and downwards (inclination
        # about 45 deg, anteversion about 20 deg)
        o = np.array([side * 0.66, -0.25, -0.71])
        o /= np.linalg.norm(o)

        def cup(x: Any, y: Any, z: Any, o: NDArray[np.float64] = o) -> Any:
            r = np.sqrt(x * x + y * y + z * z) + 1e-3
            return (x * o[0] + y * o[1] + z * o[2]) / r < 0.2

        # pubis: superior ramus from the cup's front to the symphysis body, the body, and the
        # inferior ramus down and back to the ischial ramus
        px, py, pz = PUBIS_TOP_MM
        sym_top = c + np.array([side * (px + 2.0) * s, (hy + py) * s, hz + pz])
        sym_bot = sym_top + np.array([side * 3.0 * s, 6.0 * s, -PUBIS_HEIGHT_MM * s])
        tx, ty, tz = ISCHIAL_TUBEROSITY_MM
        tub = c + np.array([side * tx * s, (hy + ty) * s, hz + tz * s])
        ramus_join = c + np.array(
            [side * (tx - 12.0) * s, (hy + ty - 18.0) * s, hz + (tz + 8.0) * s]
        )
        sup_ramus = np.stack(
            [
                fh + np.array([side * -16.0, -18.0, 6.0]) * s,
                fh + np.array([side * -45.0, -38.0, 6.0]) * s,
                sym_top,
            ]
        )
        _bone_rod(pt, sup_ramus, 8.0 * s, 1.6, THIN_CORTEX)
        _bone_rod(pt, np.stack([sym_top, sym_bot]), 7.5 * s, 1.6, THIN_CORTEX)
        _bone_rod(pt, np.stack([sym_bot, ramus_join]), 6.0 * s, 1.5, THIN_CORTEX)
        # ischium: body from behind and below the cup down to the tuberosity, ischial ramus
        # forwards to the pubic ramus
        isch = np.stack([fh + np.array([side * -8.0, 22.0, -14.0]) * s, tub])
        _bone_rod(pt, isch, 11.0 * s, 1.8, THIN_CORTEX)
        _bone_rod(pt, np.stack([tub, ramus_join]), 7.0 * s, 1.5, THIN_CORTEX)
        _paint_iliac_body(pt, fh, s, side, cup)
        _paint_femur(pt, fh, s, side)
        # last, so that the rods meeting at the acetabulum leave the joint and the head round
        _paint_hip_joint(pt, fh, s, cup)
    _paint_auricular(pt, geo)
    low = _lower_sacrum(geo)
    if low is not None:
        pts, hw_a, ht_a = low
        pt.flat_tube(pts, hw_a, ht_a, np.full(len(pts), math.pi / 2), THIN_CORTEX, _T.MARROW, 1.4)


#: Sacral segments below S2 (S3, S4, S5, coccyx): each this much shorter than the one above,
#: turning forwards by SACRAL_TURN_DEG at each (sacral kyphosis: the segments' axes turn about
#: 60-70 deg from S1 to the coccyx, the real example's sacrum curving from 40 deg off the
#: vertical at S1-S3 to nearly horizontal at the coccyx)
SACRAL_SEGMENT_SHRINK = 0.85
SACRAL_TURN_DEG = 14.0
#: the coccyx (3-4 fused segments, about 30 mm) as this many segment lengths below S5; with
#: S3-S5 this puts the coccyx's tip 90-95 mm below S2's centre along the curve (sacrum 100-110
#: mm from the promontory to its apex, Gray's Anatomy 41st ed.)
COCCYX_SEGMENTS = 2.2
#: Anterior sacral foramina S1-S4 (Gray's Anatomy 41st ed.; sacral morphometry, rounded): at the
#: junctions S1/S2 .. S4/S5, their centres (mm from the midline) and radii (mm): about 10, 9, 7
#: and 6 mm across, the pairs 28-30 mm apart between their medial borders at S1, 20-22 mm at S4;
#: the real example's coronal sections along the sacrum show them as dark holes 20-25 mm from
#: the midline, 15-20 mm apart along the sacrum. They run from the pelvic to the dorsal surface
#: (the anterior and posterior foramina joined through the lateral mass) and hold the sacral
#: nerve roots in fat.
SACRAL_FORAMINA_MM = ((21.0, 5.0), (18.5, 4.5), (16.0, 3.5), (14.0, 3.0))
#: Residual S1-S2 disc in the fused sacrum: a faint line of denser trabecular bone (mm thick).
SACRAL_RESIDUAL_DISC_MM = 1.2


def _lower_sacrum(
    geo: SpineGeometry,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
    """Path of the sacrum below S2 (S3-S5 and the coccyx) as one fused, tapering,
    forward-curving plate from inside S2 down: points (S2's centre, then S3, S4, S5, the
    coccyx and its tip), half-widths and half-thicknesses (mm). As wide as S2's alae at the top
    (about 90 mm), 75 mm at S3, 50 mm at S4, 30 mm at S5, 10 mm at the coccyx's tip; 20 mm
    thick at S3 (with the canal), 8 mm at the tip."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return None
    c = geo.centres_mm[geo.labels.index("S1")]
    m = geo.labels.index("S2")
    cur = geo.centres_mm[m].copy()
    step = cur - c
    step /= max(float(np.linalg.norm(step)), 1e-6)
    h = float(geo.body_height_mm[m])
    wd = float(geo.body_width_mm[m])
    dp = float(geo.body_depth_mm[m])
    ang = math.radians(SACRAL_TURN_DEG)
    rot = np.array(
        [[1, 0, 0], [0, math.cos(ang), math.sin(ang)], [0, -math.sin(ang), math.cos(ang)]]
    )
    ala_half = wd / 2 + vshape.SACRAL_ALA_EXTRA_MM["S2"]
    pts = [cur.copy()]
    # as wide as S2's lateral masses at its centre (the ear-shaped outline narrows downwards)
    half_w = [float(vshape.sacral_ala_reach("S2", h, wd, 0.0))]
    half_t = [0.5 * dp * 0.8]
    k = SACRAL_SEGMENT_SHRINK
    for seg in range(5):
        f = k ** (seg + 1)
        step = rot @ step
        length = h * (0.9 * f + 0.9 * f / k) / 2 + 1.0
        cur = cur + step * length * (COCCYX_SEGMENTS if seg == 4 else 1.0)
        pts.append(cur.copy())
        half_w.append(max(wd * f / 2, ala_half * (0.75, 0.55, 0.36, 0.22, 0.12)[seg]))
        half_t.append(max(0.4 * dp * f, 4.0))
    hw_a, ht_a = np.array(half_w), np.array(half_t)
    hw_a[-1] = 5.0  # coccyx tip
    return np.array(pts), hw_a, ht_a


#: Bone tissue classes (as :data:`spinelab.synth.tissues.BONE`) and their look-up table.
_BONE_T = (_T.CANCELLOUS, _T.CORTICAL, _T.MARROW, _T.DENSE, _T.SHELL)
_BONE_LUT = np.zeros(256, dtype=bool)
_BONE_LUT[list(_BONE_T)] = True


def _fuse_sacrum(pt: _Painter, geo: SpineGeometry) -> None:
    """Fuse S1, S2 and the lower sacrum into one bone and open the sacral foramina (called once
    S2 is painted).

    In adults the sacral segments are fused: CT shows no endplates inside the sacrum, only a
    faint residual S1-S2 disc line. Every body shell voxel of S1/S2 with bone 2.5 mm away on all
    six sides (in S2's frame) lies inside the fused bone and becomes cancellous bone; those within
    SACRAL_RESIDUAL_DISC_MM / 2 of the S1-S2 junction plane become the slightly denser residual
    disc line. Then the four pairs of anterior sacral foramina (SACRAL_FORAMINA_MM) are cut
    through the sacrum at the segment junctions as round channels of fat (vertebra label 0)."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return
    n1, n2 = geo.labels.index("S1"), geo.labels.index("S2")
    v1, v2 = anatomy.by_name("S1").verse_id, anatomy.by_name("S2").verse_id
    c1, c2 = geo.centres_mm[n1], geo.centres_mm[n2]
    fr = geo.frames[n2]
    h1, h2 = float(geo.body_height_mm[n1]), float(geo.body_height_mm[n2])
    w2, d2 = float(geo.body_width_mm[n2]), float(geo.body_depth_mm[n2])
    ala = w2 / 2 + vshape.SACRAL_ALA_EXTRA_MM["S2"] + 2.0
    g = pt.grid
    box = _local_box(g, c2, fr, (-ala, -d2 / 2 - 3.0, -h2 / 2 - 6.0), (ala, d2 / 2, h2 / 2 + h1))
    if box is not None:
        sl, (a, b, e) = box
        vert = pt.vert[sl]
        tis = pt.tissue[sl]
        # the wedge between S1's lower and S2's upper endplate (their frames differ by a few
        # degrees, so with no disc the two bodies touch on one side and gape by 2-4 mm on the
        # other; the endplates' cups leave lenses of soft tissue too): filled with trabecular
        # bone, S1 above the junction's mid-plane, S2 below it
        f1 = geo.frames[n1]
        u1 = f1[:, 2]
        e1 = float((c2 - c1) @ u1) + a * float(fr[:, 0] @ u1) + b * float(fr[:, 1] @ u1)
        e1 = e1 + e * float(fr[:, 2] @ u1)
        wm = (float(geo.body_width_mm[n1]) + w2) / 4
        dm = (float(geo.body_depth_mm[n1]) + d2) / 4
        gap = (e1 < -h1 / 2 + vshape.ENDPLATE_CUP_MM[1] + 0.5) & (
            e > h2 / 2 - vshape.ENDPLATE_CUP_MM[0] - 0.5
        )
        gap &= _ellipse(a, b, wm, dm) <= 1.0
        gap &= ~_BONE_LUT[tis]
        if gap.any():
            # above the mid-plane: S1 (its e1 nearer its lower endplate than S2's e to its top)
            upper = (e1 + h1 / 2) > (h2 / 2 - e)
            vert[gap] = np.where(upper[gap], v1, v2).astype(vert.dtype)
            tis[gap] = _T.CANCELLOUS
        kk, jj, ii = np.nonzero(((vert == v1) | (vert == v2)) & (tis == _T.SHELL))
        if len(kk):
            kk = kk + sl[0].start
            jj = jj + sl[1].start
            ii = ii + sl[2].start
            org, sp = np.asarray(g.origin_mm), np.asarray(g.spacing_mm)
            p = org + np.stack([ii, jj, kk], axis=1) * sp
            shape = np.array([g.shape_kji[2], g.shape_kji[1], g.shape_kji[0]])
            inside = np.ones(len(p), dtype=bool)
            for ax in range(3):
                for sign in (1.0, -1.0):
                    q = np.rint((p + sign * 2.5 * fr[:, ax] - org) / sp).astype(np.int64)
                    ok = np.all((q >= 0) & (q < shape), axis=1)
                    q = np.clip(q, 0, shape - 1)
                    inside &= ok & _BONE_LUT[pt.tissue[q[:, 2], q[:, 1], q[:, 0]]]
            # the residual disc: the plane half-way between S1's lower and S2's upper endplate
            u = fr[:, 2] + geo.frames[n1][:, 2]
            u /= max(float(np.linalg.norm(u)), 1e-6)
            mid = (c1 - geo.frames[n1][:, 2] * h1 / 2 + c2 + fr[:, 2] * h2 / 2) / 2
            near = np.abs(_dot3(p - mid, u)) <= SACRAL_RESIDUAL_DISC_MM / 2
            sel = (kk[inside], jj[inside], ii[inside])
            pt.tissue[sel] = np.where(near[inside], _T.DENSE, _T.CANCELLOUS).astype(np.uint8)
    _cut_sacral_foramina(pt, geo)


def _cut_sacral_foramina(pt: _Painter, geo: SpineGeometry) -> None:
    """The anterior sacral foramina S1-S4 as round channels through the sacrum (see
    SACRAL_FORAMINA_MM), along each segment's antero-posterior axis, bone turned into fat."""
    low = _lower_sacrum(geo)
    if low is None:
        return
    pts = low[0]
    n1, n2 = geo.labels.index("S1"), geo.labels.index("S2")
    c1, c2 = geo.centres_mm[n1], geo.centres_mm[n2]
    h1, h2 = float(geo.body_height_mm[n1]), float(geo.body_height_mm[n2])
    lat = geo.frames[n2][:, 0]
    # junction points and the segment axes (cranial) there: S1/S2, then between the lower
    # sacrum's segment centres (segment k's half-height 0.45 h2 * SHRINK**k beyond its centre)
    centres = [(c1 - geo.frames[n1][:, 2] * h1 / 2 + c2 + geo.frames[n2][:, 2] * h2 / 2) / 2]
    axes = [geo.frames[n2][:, 2] + geo.frames[n1][:, 2]]
    for k in range(3):
        d = pts[k + 1] - pts[k]
        dn = d / max(float(np.linalg.norm(d)), 1e-6)
        centres.append(pts[k] + dn * (0.45 * h2 * SACRAL_SEGMENT_SHRINK**k + 0.5))
        axes.append(-dn)
    for (off, r), cen, ax in zip(SACRAL_FORAMINA_MM, centres, axes, strict=True):
        e = ax - _dot3(ax[None, :], lat)[0] * lat
        e /= max(float(np.linalg.norm(e)), 1e-6)
        b = np.cross(e, lat)  # posterior (lat = left, e = cranial)
        fr = np.stack([lat, b, e], axis=1)
        for side in (1.0, -1.0):
            box = _local_box(pt.grid, cen + side * off * lat, fr, (-r, -30.0, -r), (r, 30.0, r))
            if box is None:
                continue
            sl, (a, _bb, ee) = box
            hole = (a * a + ee * ee <= r * r) & _BONE_LUT[pt.tissue[sl]]
            pt.tissue[sl][hole] = _T.FAT
            pt.vert[sl][hole] = 0


def _paint_skull(pt: _Painter, geo: SpineGeometry) -> None:
    if "C1" not in geo.labels:
        return
    n = geo.labels.index("C1")
    c = geo.centres_mm[n]
    centre = c + np.array([0.0, -12.0, 72.0])
    axes = (70.0, 88.0, 82.0)

    def keep(x: Any, y: Any, z: Any) -> Any:
        foramen = (x**2 + (y - 22.0) ** 2 < 17.0**2) & (z < -40)
        return (z > -60.0) & ~foramen

    _ellipsoid_shell(pt, centre, axes, 7.0, keep, _T.BRAIN, (_T.FAT, _T.MUSCLE, _T.SOFT))
    # skull base / occiput: a thick plate above C1 with the foramen magnum
    base = c + np.array([0.0, 0.0, 20.0])
    box = _local_box(pt.grid, base, np.eye(3), (-55.0, -45.0, -6.0), (55.0, 60.0, 6.0))
    if box is not None:
        sl, (x, y, z) = box
        plate = (_ellipse(x, y - 8.0, 55.0, 52.0) <= 1.0) & (np.abs(z + 0.3 * y / 5) < 6.0)
        hole = _ellipse(x, y - 22.0, 15.0, 18.0) <= 1.0
        plate &= ~hole
        tis = pt.tissue[sl]
        tis[plate] = _T.CORTICAL
        tis[plate & (np.abs(z + 0.3 * y / 5) < 4.0)] = _T.MARROW
    # mandible: a U of bone in front of C2-C3
    if "C3" in geo.labels:
        c3 = geo.centres_mm[geo.labels.index("C3")]
        ph = np.linspace(-1.2, 1.2, 30)
        pts = np.stack(
            [
                c3[0] + 48.0 * np.sin(ph),
                c3[1] - 30.0 - 50.0 * np.cos(ph),
                c3[2] + 10.0 + 25.0 * (1 - np.cos(ph)),
            ],
            axis=1,
        )
        pt.tube(pts, 6.0, _T.CORTICAL, _T.MARROW, 2.0)


def _paint_metal(pt: _Painter, geo: SpineGeometry, params: AnatomyParams) -> NDArray[np.float64]:
    """Bilateral pedicle screws in ``params.screws`` joined by rods; returns metal points."""
    pts_all: list[NDArray[np.float64]] = []
    heads: dict[float, list[NDArray[np.float64]]] = {1.0: [], -1.0: []}
    for name in params.screws:
        if name not in geo.labels:
            continue
        n = geo.labels.index(name)
        c, fr = geo.centres_mm[n], geo.frames[n]
        region = anatomy.region_of(name)
        p = _REGION_SHAPE[region]
        d = float(geo.body_depth_mm[n])
        for side in (1.0, -1.0):
            entry = c + fr @ np.array(
                [
                    side * (p["cw"] + 6.0),
                    d / 2 + p["cd"] * 2 + 8.0,
                    0.12 * float(geo.body_height_mm[n]),
                ]
            )
            tip = c + fr @ np.array([side * 4.0, -d / 2 + 6.0, 0.0])
            head = entry + (entry - tip) / np.linalg.norm(entry - tip) * 8.0
            screw = np.stack([tip, head])
            pt.tube(screw, 3.0, _T.METAL)
            pt.tube(head[None] + np.zeros((2, 3)), 5.5, _T.METAL)
            heads[side].append(head)
            pts_all.append(_densify(screw, 4.0))
    for hs in heads.values():
        if len(hs) >= 2:
            hs_sorted = sorted(hs, key=lambda q: -q[2])
            rod = np.stack(hs_sorted)
            rod = np.concatenate(
                [rod[:1] + (rod[0] - rod[1]) * 0.15, rod, rod[-1:] + (rod[-1] - rod[-2]) * 0.15]
            )
            rod = rod + np.array([0.0, 4.0, 0.0])
            pt.tube(rod, 2.8, _T.METAL)
            pts_all.append(_densify(rod, 4.0))
    return np.concatenate(pts_all) if pts_all else np.zeros((0, 3))


# --------------------------------------------------------------------------------------------
# Soft tissue, per axial slice
# --------------------------------------------------------------------------------------------
def _paint_soft_tissue(
    pt: _Painter,
    geo: SpineGeometry,
    plan: _BodyPlan,
    params: AnatomyParams,
    rng: np.random.Generator,
) -> None:
    z_of = plan.z_of

    def zl(label: str, default: float) -> float:
        return z_of.get(label, default)

    z_c1 = zl("C1", 1e9)
    z_t1 = zl("T1", zl("C7", 1e9) - 20.0)
    z_carina = zl("T5", z_t1 - 90.0)
    z_dome_r = zl("T9", zl("T10", 0.0) + 25.0) - 5.0
    z_dome_l = z_dome_r - 15.0
    z_recess = zl("T12", z_dome_r - 75.0) - 10.0
    z_apex = z_t1 + 25.0
    z_kid_l = zl("L1", z_recess - 30.0) - 5.0
    z_aorta_top = zl("T4", z_t1 - 60.0)
    z_aorta_bot = zl("L4", z_recess - 150.0)
    z_psoas_top = zl("T12", z_recess)
    z_s2 = zl("S2", zl("S1", -1e9) - 25.0)
    # the colon's splenic flexure reaches above the recess; the small bowel's top is irregular
    z_bowel_top = z_recess + 55.0
    bowel = _BowelField(pt, plan, rng.spawn(1)[0], params, z_s2 - 75.0, z_bowel_top, z_recess - 5.0)
    viscera = organs.OrganPlan(
        z_of, z_dome_r, z_dome_l, z_recess, z_kid_l, rng.spawn(1)[0], params.fat_mm
    )
    torso_power = float(rng.uniform(2.2, 3.0))
    for k in range(pt.grid.shape_kji[0]):
        z = float(pt.z[k])
        lv = plan.level(z)
        xs, ys = lv.x_s, lv.y_s
        if z > z_c1 + 15.0:
            continue  # head: painted by the skull (brain) and a scalp contour below
        cy = ys + (lv.post - lv.ant) / 2
        by = (lv.post + lv.ant) / 2
        # couch: a shallow curved plate below the back
        y_couch = cy + by + 8.0
        pt.ellipse2d(
            k,
            xs,
            y_couch + 180.0,
            260.0,
            180.0,
            _T.CARTILAGE,
            extra=lambda x, y, yc=y_couch: y < yc + 6.0,
        )
        pt.ellipse2d(
            k,
            xs,
            y_couch + 183.0,
            262.0,
            180.0,
            _T.AIR,
            extra=lambda x, y, yc=y_couch: y < yc + 6.0,
        )
        neck = z > z_t1 - 10.0
        pw = 2.0 if neck else torso_power
        pt.ellipse2d(k, xs, cy, lv.half_w, by, _T.FAT, power=pw)
        mw = 12.0
        # the body wall's muscle: subcutaneous fat of ``fat`` in front and at the sides and
        # BACK_FAT_SHARE of it behind (the back's skin moves out by as much, _BodyPlan.level)
        back_fat = BACK_FAT_SHARE * lv.fat
        wall = (xs, cy + (lv.fat - back_fat) / 2, lv.half_w - lv.fat, by - (lv.fat + back_fat) / 2)
        pt.ellipse2d(k, *wall, _T.MUSCLE, power=pw)
        if neck:  # neck and shoulders
            pt.ellipse2d(k, xs, ys - lv.depth / 2 - 22.0, 9.0, 8.0, _T.GAS)  # trachea
            pt.ellipse2d(k, xs + 2.0, ys - lv.depth / 2 - 8.0, 7.0, 5.0, _T.SOFT)
            for side in (1.0, -1.0):  # carotids/jugulars
                pt.ellipse2d(k, xs + side * 24.0, ys - lv.depth / 2 - 15.0, 5.0, 5.0, _T.BLOOD)
            continue
        # cavity: thorax above the recess, abdomen below
        thorax = z > z_recess
        hw_c = lv.half_w - lv.fat - mw
        y_ant = cy - by + lv.fat + mw
        # the cavity reaches behind the vertebral bodies (paravertebral gutters) above the
        # recess, tapering over 30 mm below it (no horizontal seam in coronal views)
        y_post = ys + 2.0 + (lv.depth / 2 + 22.0) * organs.smooth01((z - z_recess) / 30.0 + 1.0)
        ccy, cby = (y_post + y_ant) / 2, (y_post - y_ant) / 2
        pt.ellipse2d(k, xs, ccy, hw_c, cby, _T.FAT, power=pw)
        if z_s2 - 60.0 < z < z_recess + 30.0:
            _paint_abdominal_wall(pt, k, wall, pw, xs, ys, y_ant, plan.scale)
        _paint_back_groove(pt, k, xs, cy + by, wall[1] + wall[3])
        if z_s2 - 70.0 < z < z_bowel_top:
            # bowel: densely packed irregular loops with thin mesenteric fat between them (the
            # organs and lungs painted below cover it where they reach)
            bowel.paint(k, xs, ys - lv.depth / 2, ccy, hw_c - 3.0, cby - 3.0, pw)
        # paraspinal muscles (always) and psoas (lumbar). The paraspinals fill the paravertebral
        # gutters behind the cavity but stay inside the body wall's muscle: they used to turn the
        # subcutaneous fat behind them into muscle up to the skin, so the back had 2-5 mm of fat
        # at L1-L5 whatever ``fat_mm`` (the real example CT: 17-34 mm, 25 mm beside the midline).
        # On MRI the posterior subcutaneous fat at L1-L2 separates lean from overweight backs at
        # about 9 mm (Eur Radiol 2022;32:6504, "subcutaneous fat index") and the lumbosacral
        # back fat exceeds L1's body depth (about 30 mm) when the BMI is over 25 (DeVries et
        # al., ASSR 2011): it is never a film of 2-5 mm in an adult.
        in_wall = _outside_back_notch(_inside_superellipse(*wall, pw), xs, wall[1] + wall[3])
        for side in (1.0, -1.0):
            pt.ellipse2d(
                k,
                xs + side * 32.0,
                ys + lv.depth / 2 + 40.0,
                28.0,
                26.0,
                _T.MUSCLE,
                only=(_T.FAT,),
                extra=in_wall,
            )
            if z < z_psoas_top and z > z_s2 - 40.0:
                t = np.clip((z_psoas_top - z) / 150.0, 0.0, 1.0)
                r = 8.0 + 18.0 * t
                px = xs + side * (lv.width / 2 + r * 0.7)
                # a thin fat plane parts it from the quadratus lumborum and the back muscles
                rf = r + PSOAS_FAT_PLANE_MM
                pt.ellipse2d(k, px, ys + 2.0, rf, rf * 0.9, _T.FAT, only=(_T.MUSCLE,))
                pt.ellipse2d(k, px, ys + 2.0, r, r * 0.9, _T.MUSCLE)
        # abdominal organs (spinelab.synth.organs)
        if z < z_dome_r + 10.0:
            viscera.paint(pt, k, z, organs.Cavity(xs, ccy, hw_c, cby, pw, lv))
        # lungs above a domed diaphragm
        if thorax and z < z_apex:
            scale = math.sqrt(float(np.clip((z_apex - z) / 45.0, 0.02, 1.0)))
            for side, zd in ((1.0, z_dome_l), (-1.0, z_dome_r)):
                ra = (hw_c - lv.width / 2 - 6.0) / 2
                lx = xs + side * (lv.width / 2 + 6.0 + ra)
                ly = ccy

                def above(
                    x: Any,
                    y: Any,
                    lx: float = lx,
                    ly: float = ly,
                    ra: float = ra,
                    zd: float = zd,
                    z: float = z,
                    cb: float = cby,
                    xm: float = xs,
                ) -> Any:
                    # the dome is flat over most of the section and falls steeply at its rim,
                    # so below the dome only a thin posterior costophrenic recess remains
                    return z > viscera.lung_floor(x, y, lx, ly, ra, cb, zd, xm)

                # the section: an ellipse with a squarer posteromedial corner that reaches
                # back beside the vertebral body into the paravertebral gutter
                rx, ry = ra * scale, (cby - organs.LUNG_WALL_MM) * scale

                def section(
                    x: Any,
                    y: Any,
                    lx: float = lx,
                    ly: float = ly,
                    rx: float = rx,
                    ry: float = ry,
                    medial: float = -side,
                    floor: Any = above if z < zd else None,  # above the dome's top: all lung
                ) -> Any:
                    # within the superellipse's window: the ellipse, or the posteromedial
                    # quarter (organs.lung_gutter_factor)
                    du, dv = (x - lx) / rx, (y - ly) / ry
                    inside = (du * du + dv * dv <= 1.0) | ((du * medial > 0.0) & (dv > 0.0))
                    return inside if floor is None else inside & floor(x, y)

                pt.ellipse2d(
                    k, lx, ly, rx, ry, _T.LUNG, extra=section, power=organs.LUNG_GUTTER_POWER
                )
        # heart, great vessels
        if thorax:
            viscera.paint_heart(pt, k, z, organs.Cavity(xs, ccy, hw_c, cby, pw, lv))
            if z > z_carina:
                pt.ellipse2d(k, xs, ys - lv.depth / 2 - 20.0, 9.0, 8.0, _T.GAS)
        if z_aorta_bot < z < z_aorta_top:
            ao_x, ao_y = organs.AORTA_XY
            ar = organs.AORTA_R_MM
            pt.ellipse2d(k, xs + ao_x, ys - lv.depth / 2 + ao_y, ar, ar, _T.BLOOD)
        if z_aorta_bot - 40 < z < z_dome_r:
            iv_x, iv_y = organs.IVC_XY
            pt.ellipse2d(k, xs + iv_x, ys - lv.depth / 2 + iv_y, *organs.IVC_HALF_MM, _T.BLOOD)
        if z < z_s2 - 20.0:
            _organ(pt, k, z, xs, cy - 0.35 * by, z_s2 - 80.0, 45.0, 35.0, 40.0, _T.WATER)
    bowel.paint_vessels()  # mesenteric vessels, into the fat that is left


#: Midline groove of the back (mm): between the erector spinae masses the back muscles leave a
#: notch of BACK_NOTCH_MM depth and BACK_NOTCH_HALF_MM half-width over the spinous processes
#: (filled with fat and the supraspinous ligament), and the skin dips by BACK_GROOVE_MM over
#: BACK_GROOVE_HALF_MM to either side, into the fat only (the real
#: example CT: notch about 24 mm deep and 8-12 mm wide at T12, skin 6-9 mm deep at T12 and 3-12
#: mm at L3; the old back was flat).
BACK_NOTCH_MM = 16.0
BACK_NOTCH_HALF_MM = 11.0
BACK_GROOVE_MM = 6.0
BACK_GROOVE_HALF_MM = 20.0
#: Lateral abdominal wall (mm): external oblique, internal oblique and transversus abdominis
#: as three layers of the 12 mm wall muscle, split by thin fat planes at these depths below the
#: wall's outer surface, lateral to the rectus sheath (ABDOMINAL_RECTUS_HALF_MM from the
#: midline, times the body scale) and in front of ABDOMINAL_LAYERS_BACK_MM behind the
#: vertebral centre, where they join the thoracolumbar fascia. The linea alba, a fibrous seam
#: (soft tissue, not fat), splits the two recti at the midline (LINEA_ALBA_HALF_MM).
ABDOMINAL_FAT_PLANES_MM = (4.0, 8.0)
ABDOMINAL_FAT_PLANE_HALF_MM = 0.6
ABDOMINAL_RECTUS_HALF_MM = 70.0
ABDOMINAL_LAYERS_BACK_MM = 15.0
LINEA_ALBA_HALF_MM = 3.0
#: Fat plane (mm) around the psoas where it meets other muscle.
PSOAS_FAT_PLANE_MM = 1.5


def _groove_profile(dx: Any, half: float) -> Any:
    """Raised-cosine profile over ``|dx| < half`` (1 at 0, 0 at ``half``)."""
    u = np.minimum(np.abs(dx) / half, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * u))


def _outside_back_notch(
    inside: Callable[[Any, Any], Any], xs: float, y_back: float
) -> Callable[[Any, Any], Any]:
    """``inside`` less the back muscles' midline notch below ``y_back`` (the wall's back)."""

    def pred(x: Any, y: Any) -> Any:
        notch = y > y_back - BACK_NOTCH_MM * _groove_profile(x - xs, BACK_NOTCH_HALF_MM)
        return inside(x, y) & ~notch

    return pred


def _paint_back_groove(pt: _Painter, k: int, xs: float, y_skin: float, y_wall: float) -> None:
    """The back's midline on slice ``k``: a fat notch between the back muscles under the wall's
    back ``y_wall`` and a shallow dip of the skin ``y_skin`` over it (mm, +y posterior)."""
    g = pt.grid
    half = max(BACK_GROOVE_HALF_MM, BACK_NOTCH_HALF_MM)
    i0, i1 = g.index_range(0, xs - half, xs + half)
    j0, j1 = g.index_range(1, y_wall - BACK_NOTCH_MM - 1.0, y_skin + 1.0)
    if i1 <= i0 or j1 <= j0:
        return
    dx = pt.x[i0:i1][None, :] - xs
    y = pt.y[j0:j1][:, None]
    sub = pt.tissue[k, j0:j1, i0:i1]
    notch = (y > y_wall - BACK_NOTCH_MM * _groove_profile(dx, BACK_NOTCH_HALF_MM)) & (
        sub == _T.MUSCLE
    )
    sub[notch] = _T.FAT
    dip = (y > y_skin - BACK_GROOVE_MM * _groove_profile(dx, BACK_GROOVE_HALF_MM)) & (sub == _T.FAT)
    sub[dip] = _T.AIR


def _paint_abdominal_wall(
    pt: _Painter,
    k: int,
    wall: tuple[float, float, float, float],
    power: float,
    xs: float,
    ys: float,
    y_ant: float,
    scale: float,
) -> None:
    """Split the abdominal wall's muscle on slice ``k`` into the three lateral layers (thin fat
    planes, :data:`ABDOMINAL_FAT_PLANES_MM`) and the two recti (linea alba).

    Args:
        pt: Painter.
        k: Fine slice index.
        wall: The wall's outer superellipse ``(cx, cy, rx, ry)`` (mm).
        power: Its exponent.
        xs: Spine x (mm).
        ys: Spine y (mm).
        y_ant: y of the cavity's front (mm).
        scale: Body scale.
    """
    g = pt.grid
    cx, cy, rx, ry = wall
    sp = float(min(g.spacing_mm[0], g.spacing_mm[1]))
    h = max(ABDOMINAL_FAT_PLANE_HALF_MM, 0.45 * sp)
    j0, j1 = g.index_range(1, cy - ry, ys + ABDOMINAL_LAYERS_BACK_MM)
    x_in = ABDOMINAL_RECTUS_HALF_MM * scale
    for lo, hi in ((cx - rx, xs - x_in), (xs + x_in, cx + rx)):
        i0, i1 = g.index_range(0, lo, hi)
        if i1 <= i0 or j1 <= j0:
            continue
        ax = np.abs(pt.x[i0:i1] - cx)
        ay = np.abs(pt.y[j0:j1] - cy)
        sub = pt.tissue[k, j0:j1, i0:i1]
        plane = np.zeros(sub.shape, dtype=bool)
        for a in ABDOMINAL_FAT_PLANES_MM:
            ro, ri = (rx - a + h, ry - a + h), (rx - a - h, ry - a - h)
            outer = (ay[:, None] / ro[1]) ** power + (ax[None, :] / ro[0]) ** power <= 1.0
            inner = (ay[:, None] / ri[1]) ** power + (ax[None, :] / ri[0]) ** power <= 1.0
            plane |= outer & ~inner
        sub[plane & (sub == _T.MUSCLE)] = _T.FAT
    # linea alba: a thin fibrous seam between the recti (an aponeurosis: soft-tissue density
    # at CT, a little below muscle; not fat)
    pt.ellipse2d(k, xs, y_ant - 6.0, LINEA_ALBA_HALF_MM, 8.0, _T.SOFT, only=(_T.MUSCLE,))


def _organ(
    pt: _Painter,
    k: int,
    z: float,
    cx: float,
    cy: float,
    cz: float,
    rx: float,
    ry: float,
    rz: float,
    value: int,
) -> None:
    dz = z - cz
    if abs(dz) >= rz:
        return
    f = math.sqrt(1.0 - (dz / rz) ** 2)
    pt.ellipse2d(k, cx, cy, rx * f, ry * f, value)


class _BowelField:
    """The bowel (:class:`spinelab.synth.bowel.BowelField`) on this painter's grid: a colon
    frame placed in the abdominal cavity of :func:`_paint_soft_tissue`, small-bowel loops
    between."""

    def __init__(
        self,
        pt: _Painter,
        plan: _BodyPlan,
        rng: np.random.Generator,
        params: AnatomyParams,
        z_lo: float,
        z_hi: float,
        z_small_hi: float | None = None,
    ) -> None:
        self.pt = pt

        def cavity(z: float) -> tuple[float, float, float, float]:
            # as in _paint_soft_tissue's slice loop: muscle wall 12 mm inside the fat
            lv = plan.level(z)
            y_ant = lv.y_s + (lv.post - lv.ant) / 2 - (lv.post + lv.ant) / 2 + lv.fat + 12.0
            return lv.x_s, lv.y_s - lv.depth / 2, y_ant, lv.half_w - lv.fat - 12.0

        self.field = BowelField(
            pt.x,
            pt.y,
            pt.z,
            rng,
            params.fat_mm,
            params.bowel_gas,
            z_lo,
            z_hi,
            plan.z_of,
            cavity,
            z_small_hi,
        )

    def paint(
        self, k: int, xs: float, y_front: float, cy: float, rx: float, ry: float, power: float
    ) -> None:
        """Fill the abdominal cavity (fat of a superellipse) on slice ``k`` with bowel.

        Args:
            k: Fine slice index.
            xs: Spine x (mm).
            y_front: y of the vertebral body's front (mm); bowel stays in front of the
                retroperitoneum (aorta, vena cava, psoas).
            cy: Cavity centre y (mm).
            rx: Cavity half-width (mm).
            ry: Cavity half-depth (mm).
            power: Superellipse exponent of the cavity.
        """
        if rx <= 5.0 or ry <= 5.0 or not self.field.active(k):
            return
        win = self.pt.ellipse_window(xs, cy, rx, ry, power)
        if win is not None:
            self.field.paint(self.pt.tissue, k, win, xs, y_front)

    def paint_vessels(self) -> None:
        """Mesenteric vessels into the mesenteric fat; after all slices are painted."""
        self.field.paint_vessels(self.pt.tissue)


#: Fat marbling tile (z, along, across voxels): fat septa are thin sheets that run
#: cranio-caudally and fan out backwards from in front of the spine (between the fascicles of
#: multifidus and erector spinae), so the tile is long in z and along, thin across.
_MARBLE_TILE = (64, 128, 128)  # powers of two in-plane: wrap by bit mask
#: Smoothing (mm) of the septa field: z, along (radial in the axial plane), across.
_MARBLE_SIGMA_MM = (9.0, 8.0, 2.5)
#: The septa fan out from this far (mm) in front of the vertebral centre.
_MARBLE_FOCUS_MM = 60.0
#: Coarse grid (mm) of the smooth field that makes the fatty infiltration patchy.
_MARBLE_COARSE_MM = 4.0
#: Largest local streak fraction (the patchiest, most posterior muscle).
_MARBLE_MAX = 0.8


class _MarbleDensity:
    """Local fraction of muscle turned into fat streaks: patchy and heaviest behind the spine.

    ``weight = exp(0.7 g) * region``: ``g`` a smooth random field (sigma 20 mm, 4 mm grid,
    interpolated linearly in z and by nearest node in-plane), ``region`` a ramp in y from 0.4
    in front of the vertebral centre (abdominal wall, psoas) to 1.6 behind the vertebral
    body's back + 20 mm (erector spinae, multifidus). The weights are scaled so that their mean
    over the muscle (estimated on a subsample, clipped at :data:`_MARBLE_MAX`) is ``fraction``.
    """

    def __init__(
        self, pt: _Painter, plan: _BodyPlan, fraction: float, rng: np.random.Generator
    ) -> None:
        self.pt, self.plan = pt, plan
        c = _MARBLE_COARSE_MM
        x, y, z = pt.x, pt.y, pt.z
        n = [max(2, math.ceil((a[-1] - a[0]) / c) + 1) for a in (x, y, z)]
        g = rng.standard_normal((n[2], n[1], n[0]), dtype=np.float32)
        g = ndi.gaussian_filter(g, 20.0 / c, truncate=2.5, mode="wrap")
        g /= np.float32(float(g.std()) or 1.0)
        self.patch = np.exp(np.float32(0.7) * g)
        self.yc = y[0] + c * np.arange(n[1])
        self.jc = np.minimum(np.rint((y - y[0]) / c).astype(np.intp), n[1] - 1)
        self.ic = np.minimum(np.rint((x - x[0]) / c).astype(np.intp), n[0] - 1)
        self.iz = linear_index(z, float(z[0]), c, n[2])
        # scale so that the mean clipped fraction over (a subsample of) the muscle is `fraction`
        ws = []
        for k in range(0, len(z), 4):
            jj, ii = np.nonzero(pt.tissue[k, ::4, ::4] == _T.MUSCLE)
            if len(jj):
                ws.append(self.weights(k)[self.jc[4 * jj], self.ic[4 * ii]])
        w = np.concatenate(ws) if ws else np.ones(1, np.float32)
        scale = fraction / max(float(w.mean()), 1e-6)
        for _ in range(6):
            got = float(np.clip(scale * w, 0.0, _MARBLE_MAX).mean())
            scale *= fraction / max(got, 1e-6)
        self.scale = scale

    def weights(self, k: int) -> NDArray[np.float32]:
        """Unscaled weight on the coarse (y, x) plane at fine slice ``k``."""
        q0, wz = int(self.iz[0][k]), self.iz[1][k]
        plane = (1.0 - wz) * self.patch[q0] + wz * self.patch[q0 + 1]
        lv = self.plan.level(float(self.pt.z[k]))
        t = np.clip((self.yc - lv.y_s) / (0.5 * lv.depth + 20.0), 0.0, 1.0)
        return np.asarray(plane * (0.4 + 1.2 * t).astype(np.float32)[:, None])

    def fractions(self, k: int) -> NDArray[np.float64]:
        """Local streak fraction on the coarse (y, x) plane at fine slice ``k``."""
        return np.clip(self.scale * self.weights(k), 0.0, _MARBLE_MAX)


def _marble_muscle(
    pt: _Painter, plan: _BodyPlan, fraction: float, rng: np.random.Generator
) -> None:
    """Turn about ``fraction`` of the muscle voxels into thin fat septa (fatty infiltration).

    A small random field, smoothed strongly along z and along the radial direction and little
    across it, is tiled over each slice in fan coordinates (``along = y``, ``across`` = the
    offset from the spine's midline scaled by the distance from a focus
    :data:`_MARBLE_FOCUS_MM` in front of the vertebral centre) and thresholded per voxel at its
    quantile for the local fraction of :class:`_MarbleDensity`. The fat then forms a few long
    septa 1-3 mm thick that fan out backwards, as between the fascicles of multifidus and
    erector spinae, rather than many round dots; they cluster in patches and mostly in the
    paraspinal muscles.
    """
    if fraction <= 0.0:
        return
    sp = pt.grid.spacing_mm
    step = float(min(sp[0], sp[1]))  # tile pixel (mm) in-plane
    rng = rng.spawn(1)[0]  # a child stream: the caller's later draws do not depend on the tile
    noise = rng.standard_normal(_MARBLE_TILE).astype(np.float32)
    sz, sa, sc = _MARBLE_SIGMA_MM
    field = ndi.gaussian_filter(noise, (sz / sp[2], sa / step, sc / step), mode="wrap")
    # septa along the field's zero crossings: thin sheets about 10 mm apart whose thickness
    # grows with the local fraction
    field = -np.abs(field)
    ranked = np.sort(field, axis=None)
    top = len(ranked) - 1
    dens = _MarbleDensity(pt, plan, fraction, rng)
    nk = pt.tissue.shape[0]
    tz, ta, tc = _MARBLE_TILE
    ja = np.rint((pt.y - pt.y[0]) / step).astype(np.intp) & (ta - 1)
    x_px = (pt.x / step).astype(np.float32)
    for k in range(nk):
        sl = pt.tissue[k]
        jj, ii = np.nonzero(sl == _T.MUSCLE)
        if not len(jj):
            continue
        lv = plan.level(float(pt.z[k]))
        # fan coordinate: midline offset scaled by the distance from the focus (true scale
        # 50 mm behind the vertebral centre, in the middle of the back muscles)
        dist = np.maximum(pt.y - (lv.y_s - _MARBLE_FOCUS_MM), 20.0)
        scale = ((_MARBLE_FOCUS_MM + 50.0) / dist).astype(np.float32)
        across = (x_px - np.float32(lv.x_s / step))[ii] * scale[jj]
        ic = across.astype(np.intp) & (tc - 1)  # two's complement: wraps negatives too
        # threshold at the (1 - local fraction) quantile of the tile's values
        thr = ranked[np.rint((1.0 - dens.fractions(k)) * top).astype(np.intp)]
        fat = field[k % tz][ja[jj], ic] > thr[dens.jc[jj], dens.ic[ii]]
        sl[jj[fat], ii[fat]] = _T.FAT


# --------------------------------------------------------------------------------------------
def render_labels(
    geo: SpineGeometry,
    grid: RenderGrid,
    params: AnatomyParams,
    rng: np.random.Generator,
) -> RenderResult:
    """Paint the tissue map and the vertebra label map of a spine on a fine grid.

    Args:
        geo: The spine, LPS mm (upright, +z superior).
        grid: Fine axis-aligned grid to paint on.
        params: Body and pathology parameters.
        rng: Random generator (bowel gas, small variations).

    Returns:
        The fine maps; see :class:`RenderResult`.
    """
    pt = _Painter(grid)
    plan = _BodyPlan(geo, params)
    _paint_soft_tissue(pt, geo, plan, params, rng)
    arms.paint_arms(pt, geo, plan, params, rng)  # arms-down cases: limbs beside the body
    _paint_skull(pt, geo)
    _paint_pelvis(pt, geo, plan)
    _paint_ribs(pt, geo, plan, rng)
    _paint_sternum(pt, geo, plan)
    boxes: dict[str, tuple[int, int, int, int, int, int]] = {}
    # C1 last: its anterior arch must win over the dens of C2 where they touch
    order = [n for n in range(len(geo)) if geo.labels[n] != "C1"]
    order += [n for n in range(len(geo)) if geo.labels[n] == "C1"]
    for n in order:
        b = _paint_vertebra(pt, geo, n, params, rng)
        if b is not None:
            boxes[geo.labels[n]] = b
    _paint_discs(pt, geo, params, rng)
    metal = _paint_metal(pt, geo, params)
    _marble_muscle(pt, plan, params.muscle_fat, rng)
    return RenderResult(pt.tissue, pt.vert, grid, metal, boxes)
