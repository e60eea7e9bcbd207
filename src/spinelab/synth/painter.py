"""Painting primitives of the label-map renderer (:mod:`spinelab.synth.render`).

:class:`RenderGrid` is the fine axis-aligned LPS grid (arrays indexed ``[k, j, i]`` = ``[z, y,
x]``); :class:`Painter` holds the tissue and vertebra maps on it and paints 2-D shapes into one
axial slice (ellipses, polygons, windows) and 3-D ones in a structure's own frame (tubes, balls
along polylines, boxes via :func:`local_box`). The anatomy modules (render, pelvis, organs,
arms) paint through it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.interpolate import CubicSpline

from spinelab.synth.tissues import Tissue

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


def local_box(
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


def inside_superellipse(
    cx: float, cy: float, rx: float, ry: float, power: float
) -> Callable[[Any, Any], Any]:
    """Predicate ``(x, y) -> mask`` inside an axis-aligned (super)ellipse, as
    :meth:`Painter.ellipse_window` draws it (an ``extra`` for :meth:`Painter.ellipse2d`)."""

    def inside(x: Any, y: Any) -> Any:
        if rx <= 0 or ry <= 0:
            return np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=bool)
        return np.abs((x - cx) / rx) ** power + np.abs((y - cy) / ry) ** power <= 1.0

    return inside


def ellipse_form(u: Any, v: Any, ru: float, rv: float) -> Any:
    return (u / ru) ** 2 + (v / rv) ** 2


def dot3(a: NDArray[Any], v: NDArray[Any]) -> NDArray[Any]:
    """``a @ v`` for ``(N, 3)`` rows and a 3-vector, without BLAS.

    A float matrix-vector product goes to BLAS, whose threads (one per core) fight the rest of
    the process for the 2 cores in per-slice and per-group loops; three multiply-adds do not.
    """
    return np.asarray(a[:, 0] * v[0] + a[:, 1] * v[1] + a[:, 2] * v[2])


class Painter:
    """Paints into the fine tissue and vertebra maps."""

    def __init__(self, grid: RenderGrid) -> None:
        self.grid = grid
        self.tissue = np.zeros(grid.shape_kji, dtype=np.uint8)
        self.vert = np.zeros(grid.shape_kji, dtype=np.uint8)
        self.x = grid.axis_mm(0)
        self.y = grid.axis_mm(1)
        self.z = grid.axis_mm(2)

    # ---- 2-D (one axial slice) ----
    def _columns(
        self, x_lo: NDArray[np.float64], x_hi: NDArray[np.float64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64]]:
        """Rows with an interval (both ends finite) and the first and last column index
        (float; NaN where there is none) inside ``[x_lo, x_hi]`` mm of each row."""
        o, sp = self.grid.origin_mm[0], self.grid.spacing_mm[0]
        ok = np.isfinite(x_lo) & np.isfinite(x_hi)
        return ok, np.ceil((x_lo - o) / sp), np.floor((x_hi - o) / sp)

    def rows(
        self,
        k: int,
        j0: int,
        x_lo: NDArray[np.float64],
        x_hi: NDArray[np.float64],
        value: int,
    ) -> None:
        """Paint ``value`` on rows ``j0:j0 + len(x_lo)`` of slice ``k`` between ``x_lo`` and
        ``x_hi`` (mm; NaN: an empty row), as a mask over the rows' common window."""
        ok, a_all, b_all = self._columns(x_lo, x_hi)
        if not ok.any():
            return
        rows = np.nonzero(ok)[0]
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        a = np.where(ok, a_all, np.inf)[r0:r1]
        b = np.where(ok, b_all, -np.inf)[r0:r1]
        i0 = max(int(a.min()), 0)
        i1 = min(int(b.max()) + 1, self.grid.shape_kji[2])
        if i1 <= i0:
            return
        # column - start < length as unsigned: one subtraction and one comparison per pixel
        # (16-bit: half the memory traffic of 32; a slice is narrower than 65536 columns)
        start = np.clip(a - i0, 0, i1 - i0)
        ut = np.uint16 if i1 - i0 < 1 << 16 else np.uint32
        length = (np.clip(b - i0 + 1, 0, i1 - i0) - start).clip(0).astype(ut)
        cols = np.arange(i1 - i0, dtype=ut)
        m = (cols[None, :] - start.astype(ut)[:, None]) < length[:, None]
        np.copyto(self.tissue[k, j0 + r0 : j0 + r1, i0:i1], np.uint8(value), where=m)

    def row_intervals(
        self,
        k: int,
        j0: int,
        x_lo: NDArray[np.float64],
        x_hi: NDArray[np.float64],
        value: int,
        over: int = _T.FAT,
    ) -> None:
        """Paint ``value`` over ``over`` on rows ``j0:j0 + len(x_lo)`` of slice ``k`` between
        ``x_lo`` and ``x_hi`` (mm; NaN: an empty row), pixel by pixel (for thin bands: the cost
        goes with the pixels painted, not with the window)."""
        ok, a_all, b_all = self._columns(x_lo, x_hi)
        if not ok.any():
            return
        rows = np.nonzero(ok)[0]
        a = np.maximum(a_all[ok].astype(np.int64), 0)
        b = np.minimum(b_all[ok].astype(np.int64), self.grid.shape_kji[2] - 1)
        length = np.maximum(b - a + 1, 0)
        total = int(length.sum())
        if total == 0:
            return
        starts = np.repeat(a - (np.cumsum(length) - length), length)
        cols = starts + np.arange(total)
        jj = np.repeat(rows + j0, length)
        sl = self.tissue[k]
        hit = sl[jj, cols] == over
        sl[jj[hit], cols[hit]] = value

    def ellipse_window(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        power: float = 2.0,
        j_stop: int | None = None,
        angle: float = 0.0,
        power_back: float | None = None,
    ) -> tuple[int, int, int, int, NDArray[np.bool_]] | None:
        """Inside of a (super)ellipse on an axial slice: ``(i0, i1, j0, j1, m)`` with ``m`` the
        ``(j1 - j0, i1 - i0)`` mask of the window ``[j0:j1, i0:i1]``, or None when it misses
        the grid. ``j_stop``: rows from this index on are left out. ``angle`` (radians, ellipses
        only): its ``rx`` axis turned from +x towards +y (axis-aligned at 0). ``power_back``:
        the exponent of the half behind the centre (``y > cy``), if not ``power``."""
        if rx <= 0 or ry <= 0:
            return None
        g = self.grid
        ca, sa = math.cos(angle), math.sin(angle)
        hx, hy = (
            (rx, ry)
            if angle == 0.0
            else (math.hypot(rx * ca, ry * sa), math.hypot(rx * sa, ry * ca))
        )
        i0, i1 = g.index_range(0, cx - hx, cx + hx)
        j0, j1 = g.index_range(1, cy - hy, cy + hy)
        if j_stop is not None:
            j1 = min(j1, j_stop)
        if i1 <= i0 or j1 <= j0:
            return None
        if angle != 0.0:
            if power != 2.0 or power_back not in (None, 2.0):
                raise ValueError("a turned superellipse is not supported")
            dx = (self.x[i0:i1] - cx)[None, :]
            dy = (self.y[j0:j1] - cy)[:, None]
            u = (dx * ca + dy * sa) / rx
            v = (dy * ca - dx * sa) / ry
            return i0, i1, j0, j1, u * u + v * v <= 1.0
        if power_back is not None and power_back != power:
            # two halves: rows in front of the centre with ``power``, behind with ``power_back``
            ys = self.y[j0:j1]
            ax = np.abs((self.x[i0:i1] - cx) / rx)
            ay = np.abs((ys - cy) / ry)
            nf = int(np.searchsorted(ys, cy, side="right"))  # rows with y <= cy
            m = np.empty((j1 - j0, i1 - i0), dtype=bool)
            m[:nf] = (ay[:nf, None] ** power + (ax**power)[None, :]) <= 1.0
            m[nf:] = (ay[nf:, None] ** power_back + (ax**power_back)[None, :]) <= 1.0
            return i0, i1, j0, j1, m
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
        y_below: float | None = None,
        angle: float = 0.0,
        power_back: float | None = None,
    ) -> None:
        """Paint an ellipse on slice ``k`` (``only``: overwrite just these).

        ``power`` > 2 gives a superellipse (a rounded rectangle, e.g. a torso's flat back);
        ``power_back``: another exponent for the half behind the centre (:meth:`ellipse_window`).
        ``y_below``: paint only the rows whose centre lies at ``y < y_below`` mm (a band of a
        large ellipse: the mask is worked out on those rows alone). ``angle``: see
        :meth:`ellipse_window`.
        """
        j_stop = None if y_below is None else int(np.searchsorted(self.y, y_below, side="left"))
        win = self.ellipse_window(cx, cy, rx, ry, power, j_stop, angle, power_back)
        if win is None:
            return
        i0, i1, j0, j1, m = win
        if extra is not None:
            m &= extra(self.x[i0:i1][None, :], self.y[j0:j1][:, None])
        sub = self.tissue[k, j0:j1, i0:i1]
        if only is not None:
            m &= allowed_lut(only)[sub]
        np.copyto(sub, np.uint8(value), where=m)

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
        sp = self.grid.spacing_mm
        step = max(min(sp), min(0.25 * radius_mm, max(sp)))
        self.balls(densify(points_mm, step), radius_mm, outer, inner, shell_mm, only)

    def segments(
        self,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        radius_mm: NDArray[np.float64],
        outer: int,
        only: tuple[int, ...] | None = None,
        bin_mm: float = 0.25,
    ) -> None:
        """Paint many straight tubes at once: from ``a[i]`` to ``b[i]`` (``(N, 3)`` mm) of
        radius ``radius_mm[i]`` rounded to ``bin_mm``, each sampled at most half its radius (and
        the grid's finest spacing, and at least 0.25 mm) apart and painted with :meth:`balls`,
        one call per radius."""
        rb = np.round(np.asarray(radius_mm) / bin_mm) * bin_mm
        sp_min = min(self.grid.spacing_mm)
        for rv in np.unique(rb):
            sel = rb == rv
            sa, sb = a[sel], b[sel]
            step = max(min(0.5 * float(rv), sp_min), 0.25)
            n = np.maximum(np.ceil(np.linalg.norm(sb - sa, axis=1) / step).astype(np.intp), 1)
            seg = np.repeat(np.arange(len(sa)), n + 1)
            t = np.arange(len(seg)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
            t = t / np.repeat(n, n + 1)
            pts = sa[seg] + t[:, None] * (sb - sa)[seg]
            self.balls(pts, float(rv), outer, only=only)

    def balls(
        self,
        pts: NDArray[np.float64],
        radius_mm: float,
        outer: int,
        inner: int | None = None,
        shell_mm: float = 1.2,
        only: tuple[int, ...] | None = None,
    ) -> None:
        """Paint balls of ``radius_mm`` round points ``(M, 3)`` mm (as :meth:`tube` does along
        its densified polyline; points closer together than the grid give a smooth tube).

        Voxels within ``radius_mm`` of a point get ``outer`` (where their tissue is in
        ``only``, if given); those deeper than ``shell_mm`` get ``inner``.
        """
        sp = np.asarray(self.grid.spacing_mm)
        ijk, keep, shape_ijk = self._near_grid(pts, radius_mm)
        if not keep.any():
            return
        ijk = ijk[keep]
        base = np.rint(ijk).astype(np.int64)
        lin = (base[:, 2] * (shape_ijk[1] + 64) + base[:, 1]) * (shape_ijk[0] + 64) + base[:, 0]
        _, first = np.unique(lin, return_index=True)
        base, ijk = base[first], ijk[first]
        offs, offs_mm = ball_offsets(radius_mm, (float(sp[0]), float(sp[1]), float(sp[2])))
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
                idx = idx[allowed_lut(only)[flat[idx]]]
            flat[idx] = value

    def nearest_room(
        self,
        at_mm: NDArray[np.float64],
        tissues: tuple[int, ...],
        radius_mm: float,
        search_mm: float,
    ) -> NDArray[np.float64] | None:
        """The voxel centre (LPS mm) nearest ``at_mm`` within ``search_mm`` whose ball of
        ``radius_mm`` lies in ``tissues`` (as far as the search's box shows), else the nearest
        voxel of ``tissues`` there; None without one (a small thing to be painted inside a
        tissue: a phlebolith in fat, a bone island in marrow)."""
        g = self.grid
        sp, org = np.asarray(g.spacing_mm), np.asarray(g.origin_mm)
        shape = np.array(g.shape_kji[::-1])
        reach = np.ceil(search_mm / sp).astype(np.int64)
        c = np.rint((np.asarray(at_mm) - org) / sp).astype(np.int64)
        lo, hi = np.maximum(c - reach, 0), np.minimum(c + reach + 1, shape)
        if np.any(hi <= lo):
            return None
        win = allowed_lut(tissues)[self.tissue[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]]
        if not win.any():
            return None
        depth = ndimage.distance_transform_edt(win, sampling=sp[::-1])
        roomy = depth >= radius_mm
        kji = np.argwhere(roomy) if roomy.any() else np.argwhere(win)
        pos = org + (lo + kji[:, ::-1]) * sp
        d2 = ((pos - at_mm) ** 2).sum(axis=1)
        best = int(np.argmin(d2))
        if d2[best] > search_mm**2:
            return None
        return np.asarray(pos[best])

    def flat_tube_steps(self, half_thick_mm: float) -> tuple[float, float]:
        """:meth:`flat_tube`'s sample step along a tube of thinnest half-thickness
        ``half_thick_mm`` on this grid, and how far (mm) past its end samples the tube
        reaches (each sample paints a slab across the tube)."""
        sp = np.asarray(self.grid.spacing_mm)
        step = float(max(sp.min(), min(0.5 * half_thick_mm, 1.5 * sp.max())))
        return step, 0.75 * step + 0.5 * float(sp.max())

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
        step, reach_t = self.flat_tube_steps(float(half_thick_mm.min()))
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
        tan, hdir64, ndir64 = tube_frame(pts, tw)
        hdir, ndir, tan32 = (v.astype(np.float32) for v in (hdir64, ndir64, tan))
        ijk, keep, shape_ijk = self._near_grid(pts, r_max)
        if not keep.any():
            return
        ijk, rh, rn = ijk[keep], rh[keep], rn[keep]
        hdir, ndir, tan32 = hdir[keep], ndir[keep], tan32[keep]
        base = np.rint(ijk).astype(np.int64)
        offs, offs_mm = ball_offsets(r_max, (float(sp[0]), float(sp[1]), float(sp[2])))
        abs_t = np.abs(offs).T.copy()  # (3, O): a group's reach by contiguous reductions
        frac = ((base - ijk) * sp).astype(np.float32)
        strides = np.array([1, shape_ijk[0], shape_ijk[0] * shape_ijk[1]], dtype=np.int64)
        flat = self.tissue.reshape(-1)
        lim_t = np.float32(reach_t)
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
                float(dot3(tan32[sl], t_m).min()), float(np.abs(dot3(ndir[sl], n_m)).min())
            )
            margin = r_max * math.sqrt(max(0.0, 1.0 - cos_min**2)) + 0.9 * float(sp.max())
            o_t = np.abs(dot3(offs_mm, t_m))
            o_n = np.abs(dot3(offs_mm, n_m))
            near = (o_t <= lim_t + margin) & (o_n <= float(rn[sl].max()) + margin)
            sel = np.flatnonzero(near)
            offs_g, offs_mm_g = np.take(offs, sel, axis=0), np.take(offs_mm, sel, axis=0)
            # each candidate voxel centre relative to its sample (mm), per axis: (group, O_g)
            rel = [frac[sl, c : c + 1] + offs_mm_g[None, :, c] for c in range(3)]

            def comp(
                d: NDArray[np.float32], sl: slice = sl, rel: list[NDArray[np.float32]] = rel
            ) -> NDArray[np.float32]:
                return rel[0] * d[sl, 0:1] + rel[1] * d[sl, 1:2] + rel[2] * d[sl, 2:3]

            qt = np.abs(comp(tan32)) <= lim_t
            qh, qn = comp(hdir), comp(ndir)
            b_g = base[sl]
            reach = np.take(abs_t, sel, axis=1).max(axis=1) if len(sel) else np.zeros(3, np.int64)
            inside = bool(np.all((b_g >= reach) & (b_g < shape_ijk - reach)))
            if not inside:  # only groups at the grid's border need the per-voxel check
                vox = b_g[:, None, :] + offs_g[None, :, :]
                qt &= np.all((vox >= 0) & (vox < shape_ijk), axis=2)
            lin_b, lin_o = b_g @ strides, offs_g @ strides
            for out, s_mm in ((hits[0], 0.0), (hits[1], shell_mm)):
                if s_mm > 0 and inner is None:
                    continue
                a_h = np.maximum(rh[sl] - s_mm, 0.1)[:, None]
                a_n = np.maximum(rn[sl] - s_mm, 0.1)[:, None]
                hit = qt & ((qh / a_h) ** 2 + (qn / a_n) ** 2 <= 1.0)
                mi, oi = np.nonzero(hit)
                idx = lin_b[mi] + lin_o[oi]
                if only is not None:  # judged on the tissue before this tube
                    idx = idx[allowed_lut(only)[flat[idx]]]
                out.append(idx)
        # all of the cortex first, then all of the marrow (no walls where samples overlap)
        for value, parts in ((outer, hits[0]), (inner, hits[1])):
            if value is not None and parts:
                flat[np.concatenate(parts)] = value


def tube_frame(
    pts: NDArray[np.float64], twist: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The cross-section frame of :meth:`Painter.flat_tube` at points ``(M, 3)`` along a
    tube: unit tangents, the section's height direction (perpendicular to the tube and closest
    to +z, or to +y where the tube runs along z, turned by ``twist`` radians towards the
    horizontal normal) and its thickness direction (tangent x height direction)."""
    tan = np.gradient(pts, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    up = np.array([0.0, 0.0, 1.0]) - tan[:, 2:3] * tan
    # a tube along z has no "up" across it: take the y axis there
    flat_up = np.linalg.norm(up, axis=1) < 0.1
    up[flat_up] = np.array([0.0, 1.0, 0.0]) - tan[flat_up, 1:2] * tan[flat_up]
    up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-9)
    side = np.cross(tan, up)
    hdir = np.cos(twist)[:, None] * up + np.sin(twist)[:, None] * side
    return tan, hdir, np.cross(tan, hdir)


_BALLS: dict[
    tuple[float, tuple[float, float, float]], tuple[NDArray[np.int64], NDArray[np.float32]]
] = {}


def ball_offsets(
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


def allowed_lut(only: tuple[int, ...]) -> NDArray[np.bool_]:
    """Boolean lookup table over tissue values that are in ``only``."""
    lut = _ALLOWED.get(only)
    if lut is None:
        lut = np.zeros(256, dtype=bool)
        lut[list(only)] = True
        _ALLOWED[only] = lut
    return lut


def densify(points: NDArray[np.float64], step: float) -> NDArray[np.float64]:
    """Resample a polyline ``(M, 3)`` so consecutive points are at most ``step`` mm apart."""
    out = [points[:1]]
    for p, q in itertools.pairwise(points):
        n = max(1, math.ceil(float(np.linalg.norm(q - p)) / step))
        t = np.arange(1, n + 1)[:, None] / n
        out.append(p + t * (q - p))
    return np.concatenate(out, axis=0)


def smooth_path(points: NDArray[np.float64], step_mm: float = 1.0) -> NDArray[np.float64]:
    """A cubic spline through ``points`` ``(M, 3)`` (chord-length parameter), sampled every
    ``step_mm`` or closer; two points give their straight segment."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep = np.r_[True, seg > 1e-6]
    points, seg = points[keep], seg[keep[1:]]
    if len(points) < 2:
        return points
    s = np.r_[0.0, np.cumsum(seg)]
    n = max(int(np.ceil(s[-1] / step_mm)), 1) + 1
    t = np.linspace(0.0, s[-1], n)
    if len(points) == 2:
        return points[0] + (t / s[-1])[:, None] * (points[1] - points[0])
    return np.asarray(CubicSpline(s, points, bc_type="natural")(t))


#: Cortex class of the thin flat bones (ribs, sternum, iliac plates, sacrum below S2). Their
#: compact bone is 0.5-1.5 mm thick, thinner than a fine voxel at the ribs' mid-shaft; painted
#: as Tissue.CORTICAL (1000 HU) over 1.2-1.5 mm it carries too much mineral: at 3 mm the
#: synthetic ribs read 630 HU at the 95th percentile of their bone voxels and the iliac wings
#: 970, against 420 and 650 on the real example CT (bone voxels > 200 HU, lateral boxes at
#: T11-T12 and 5-55 mm below L5). Tissue.SHELL (650 HU) matches (see tests).
THIN_CORTEX = _T.SHELL
