"""Bowel of the synthetic abdomen: a colon frame around packed small-bowel loops.

Painted per axial slice into the fat of the abdominal cavity (:mod:`spinelab.synth.render`
calls :meth:`BowelField.paint`), from fields computed once per case on a coarse (4 mm) grid
and interpolated bilinearly to the fine grid:

* **Colon**: a tube along a per-case randomized path (caecum in the right iliac fossa,
  ascending colon in the right flank, hepatic flexure, transverse colon across the upper
  anterior abdomen sagging in the middle, splenic flexure higher on the left, descending
  colon in the left flank, sigmoid looping into the pelvis, rectum in front of the sacrum).
  The coarse grid holds the signed distance to the tube's wall (radius narrowed at haustral
  folds), the y of the gas-fluid level (gas collects on the anterior, non-dependent side of a
  supine patient; the level is a coronal plane) and the kind of content (mottled faeces or
  fluid).
* **Small bowel**: loops are the cells of a smooth random field ``a``; ``a / |grad a|`` (the
  distance to its zero set, mm) places mesenteric fat septa of a chosen width between loops
  of about 25 mm calibre with a 2.5 mm wall. A smoother field chooses the content (fluid,
  soft-tissue chyme, occasional gas) and widens the septa into fat pockets; a fine field makes
  faecal mottle and mesenteric vessels (2-4 mm soft-tissue dots in the fat between loops).
* **Superior mesenteric artery and vein** run from in front of the aorta at L1 down to L3-L4
  (the artery leaves the aorta's front and descends 10-20 mm in front of it; the vein lies to
  its right), each in a collar of mesenteric fat. The loops wrap around them rather than being
  cut: the small bowel's fields are warped radially away from each vessel (a point at distance
  ``rho`` from its axis takes the fields from ``sqrt(rho^2 - R^2)``, ``R`` the collar's radius).

Dimensions (adult, rounded; Gore & Levine, Textbook of Gastrointestinal Radiology, 4th ed.;
Standring, Gray's Anatomy, 41st ed.): colon calibre 40-60 mm (caecum widest, up to 90 mm is
normal), haustral folds every 20-30 mm, colon wall up to 3 mm when distended; small bowel
calibre 20-30 mm (dilated above 30 mm), wall 2-3 mm (1-2 mm distended).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from spinelab.synth.organs import AORTA_R_MM, AORTA_XY
from spinelab.synth.tissues import Tissue as _T

#: Coarse grid step of the bowel's fields (mm).
STEP_MM = 4.0
#: Small bowel: smoothing sigma of the loop field (mm). Zero crossings of Gaussian-smoothed
#: white noise lie about pi * sqrt(2) * sigma apart (Rice), i.e. about 30 mm for 6.8 mm:
#: loops of about 25 mm calibre after the septa.
SMALL_BOWEL_SIGMA_MM = 9.0
#: Small-bowel wall thickness (mm; 2-3 mm).
SMALL_BOWEL_WALL_MM = 2.5
#: Half-width of the fat septum between small-bowel loops (mm): lean, fat patient.
SEPTUM_HALF_MM = (0.8, 3.5)
#: Threshold of the smooth field b above which one phase of the small-bowel loop field is
#: mesenteric fat (lean, fat patient): about 20 % / 60 % of that phase.
POCKET_B = (0.85, -0.25)
#: Colon radius along its course (mm): caecum, ascending, transverse, descending, sigmoid,
#: rectum (calibre 40-60 mm, caecum widest).
COLON_RADIUS_MM = {
    "caecum": 29.0,
    "ascending": 26.0,
    "transverse": 24.0,
    "descending": 22.0,
    "sigmoid": 21.0,
    "rectum": 20.0,
}
#: Per-case factor on the colon radii.
COLON_SCALE = (0.92, 1.12)
#: Colon wall thickness (mm).
COLON_WALL_MM = 3.0
#: Haustral fold spacing range (mm) and fold depth (fraction of the radius).
HAUSTRA_SPACING_MM = (20.0, 30.0)
HAUSTRA_DEPTH = 0.22
#: Half-width of a haustral fold along the colon (mm).
HAUSTRA_FOLD_MM = 3.5
#: Gas: fraction of the colon lumen's depth (from the front) filled with gas per expected gas
#: pocket of the case (``bowel_gas``, 4-24 drawn; the transverse colon holds more), the
#: fine-field level above which faeces hold gas bubbles (about 20 % of faecal voxels), and the
#: smooth-field level (intercept, slope per pocket) above which a small-bowel loop holds gas.
COLON_GAS_PER_POCKET = 0.02
FAECES_BUBBLE_Z = 0.85
SMALL_BOWEL_GAS_B = (2.6, 0.03)
#: Mesenteric vessels (jejunal and ileal branches, vasa recta: 1-5 mm): short cranio-caudal
#: segments scattered through the bowel's part of the cavity, about ``VESSELS_PER_SLICE``
#: sections per axial slice (those that fall in fat are painted), radius and half-length (mm).
VESSELS_PER_SLICE = 30
VESSEL_RADIUS_MM = (1.0, 2.5)
VESSEL_HALF_LENGTH_MM = (4.0, 12.0)
#: Superior mesenteric artery and vein: radius (mm; diameters about 7 and 10 mm), fat collar
#: (mm), the artery's largest distance in front of the aorta (mm; aortomesenteric distance
#: 10-28 mm) and the vein's offset to the artery's right (mm). Standring, Gray's Anatomy.
SMA_RADIUS_MM = 3.5
SMV_RADIUS_MM = 5.0
SM_COLLAR_MM = 5.0
SMA_AHEAD_MM = 16.0
SMV_RIGHT_MM = 13.0
#: Fat gap kept between the colon and small-bowel loops (mm).
COLON_GAP_MM = 3.0
#: The small bowel's upper limit is not a plane: ``z_small_hi`` plus this many mm times a
#: smooth unit-variance random field of x and y (sigma :data:`SMALL_BOWEL_TOP_SIGMA_MM`), so
#: coronal and sagittal views show no horizontal seam under the upper abdominal organs
#: (jejunal loops reach the left upper quadrant at L1-T12, the duodenojejunal flexure is at L2).
SMALL_BOWEL_TOP_MM = 12.0
SMALL_BOWEL_TOP_SIGMA_MM = 25.0

#: Cavity at height z: (spine x, y of the vertebral body's front, y of the anterior
#: abdominal wall's inner surface, cavity half-width), mm.
Cavity = Callable[[float], tuple[float, float, float, float]]

# Colon course: (segment, u, v, z landmark, z offset mm). u = x offset / cavity half-width
# (-1 patient right, +1 left; LPS x grows to the left), v = 0 at the anterior wall, 1 at
# the front of the vertebral body (beyond 1: the flanks beside the spine).
_COLON_COURSE: tuple[tuple[str, float, float, str, float], ...] = (
    ("caecum", -0.50, 0.50, "S1", -20.0),
    ("caecum", -0.62, 0.70, "L5", 0.0),
    ("ascending", -0.80, 0.85, "L4", 0.0),
    ("ascending", -0.82, 0.80, "L3", 0.0),  # in front of the kidney
    ("ascending", -0.66, 0.60, "L2", 5.0),  # hepatic flexure, under the liver
    ("transverse", -0.38, 0.15, "L2", -5.0),
    ("transverse", 0.0, 0.08, "L3", -15.0),  # sags in the middle
    ("transverse", 0.40, 0.18, "L1", 0.0),
    # splenic flexure: high in the left hypochondrium (10th-11th ribs, about T12), against the
    # spleen's lower pole and in front of the left kidney; higher than the hepatic flexure
    ("descending", 0.72, 0.50, "T12", 5.0),
    ("descending", 0.82, 0.80, "L2", 0.0),
    ("descending", 0.84, 0.85, "L3", 0.0),
    ("descending", 0.80, 0.90, "L5", 0.0),
    ("sigmoid", 0.55, 0.55, "S1", -20.0),
    ("sigmoid", 0.20, 0.20, "S1", -35.0),
    ("sigmoid", -0.18, 0.35, "S1", -50.0),
    ("rectum", 0.0, 1.0, "S1", -75.0),
    ("rectum", 0.0, 1.1, "S1", -110.0),
)
_LANDMARK_FALLBACK_MM = {
    "T12": 130.0,
    "L1": 100.0,
    "L2": 70.0,
    "L3": 40.0,
    "L4": 10.0,
    "L5": -20.0,
    "S1": -50.0,
}


def linear_index(
    fine_mm: NDArray[np.float64], origin_mm: float, step_mm: float, n: int
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Linear interpolation of a coarse axis at ``fine_mm``: lower node ``i0`` and weight ``w``
    of the upper node (``value = (1 - w) * c[i0] + w * c[i0 + 1]``; ``n >= 2``)."""
    t = np.clip((fine_mm - origin_mm) / step_mm, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(t).astype(np.intp), max(n - 2, 0))
    return i0, (t - i0).astype(np.float32)


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_nodes: float
) -> NDArray[np.float32]:
    """Unit-variance Gaussian-smoothed white noise on a coarse grid."""
    g = rng.standard_normal(shape, dtype=np.float32)
    if sigma_nodes > 0.3:
        g = ndi.gaussian_filter(g, sigma_nodes, truncate=2.0, mode="wrap")
    g /= np.float32(float(g.std()) or 1.0)
    return g


class _Coarse:
    """A coarse box grid (``step`` mm) over ``lo..hi`` (x, y, z mm), holding fields
    ``(nz, F, ny, nx)`` that are interpolated to the fine grid one axial slice at a time."""

    def __init__(
        self,
        lo: NDArray[np.float64],
        hi: NDArray[np.float64],
        step: float,
        fine: tuple[NDArray[np.float64], NDArray[np.float64]],
    ) -> None:
        self.step = step
        self.origin = lo
        self.n = tuple(max(2, math.ceil((hi[d] - lo[d]) / step) + 1) for d in range(3))
        self.axes = [lo[d] + step * np.arange(self.n[d]) for d in range(3)]
        self.ix = linear_index(fine[0], lo[0], step, self.n[0])
        self.iy = linear_index(fine[1], lo[1], step, self.n[1])
        self.fields = np.zeros((self.n[2], 0, self.n[1], self.n[0]), dtype=np.float32)
        self._bufs: dict[int, NDArray[np.float32]] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n[2], self.n[1], self.n[0])

    def plane(self, z: float) -> NDArray[np.float32]:
        """Fields ``(F, ny, nx)`` interpolated to height ``z``."""
        t = min(max((z - self.origin[2]) / self.step, 0.0), self.n[2] - 1.0)
        q0 = min(int(t), self.n[2] - 2)
        w = np.float32(t - q0)
        return np.asarray(self.fields[q0] + w * (self.fields[q0 + 1] - self.fields[q0]))

    def sample(
        self, plane: NDArray[np.float32], j0: int, j1: int, i0: int, i1: int, slot: int = 0
    ) -> NDArray[np.float32]:
        """Bilinear interpolation of ``plane`` onto fine rows ``j0:j1``, columns ``i0:i1``:
        ``(F, j1 - j0, i1 - i0)``, a view of buffer ``slot`` that the next call with the same
        slot overwrites.

        Separable, by gathers (no BLAS: its threads oversubscribe the cores for these small
        products)."""
        ix, wx = self.ix[0][i0:i1], self.ix[1][i0:i1]
        iy, wy = self.iy[0][j0:j1], self.iy[1][j0:j1, None]
        r0, r1 = int(iy[0]), int(iy[-1]) + 2
        p = plane[:, r0:r1]
        r = p[:, :, ix] + (p[:, :, ix + 1] - p[:, :, ix]) * wx  # (F, coarse rows, cols)
        dr = r[:, 1:] - r[:, :-1]
        jy = iy - r0
        # into reused buffers: fresh arrays this size are mapped page by page on every call
        shape = (len(plane), j1 - j0, i1 - i0)
        size = shape[0] * shape[1] * shape[2]
        buf = self._bufs.get(slot)
        if buf is None or buf.shape[1] < size:
            buf = self._bufs[slot] = np.empty((2, size), dtype=np.float32)
        out = buf[0, :size].reshape(shape)
        tmp = buf[1, :size].reshape(shape)
        np.take(r, jy, axis=1, out=out)
        np.take(dr, jy, axis=1, out=tmp)
        tmp *= wy
        out += tmp
        return out


class BowelField:
    """Colon and small bowel of one case; paints one axial slice at a time.

    Args:
        x_mm, y_mm, z_mm: Fine grid axes (mm).
        rng: Random generator (the colon's course, calibre and content, the random fields).
        fat_mm: Subcutaneous fat thickness (fatter patients: wider mesenteric fat).
        bowel_gas: Expected number of gas-filled segments (0: no bowel gas at all).
        z_lo, z_hi: z range of the bowel (mm).
        z_of: z (mm) of vertebral centres by label (``T12``..``S1`` place the colon).
        cavity: Abdominal cavity at height z, see :data:`Cavity`.
        z_small_hi: Mean upper limit of the small bowel (mm; default ``z_hi``): the colon
            (splenic flexure) reaches higher.
    """

    def __init__(
        self,
        x_mm: NDArray[np.float64],
        y_mm: NDArray[np.float64],
        z_mm: NDArray[np.float64],
        rng: np.random.Generator,
        fat_mm: float,
        bowel_gas: int,
        z_lo: float,
        z_hi: float,
        z_of: Mapping[str, float],
        cavity: Cavity,
        z_small_hi: float | None = None,
    ) -> None:
        c = STEP_MM
        self.x, self.y, self.z = x_mm, y_mm, z_mm
        z0 = max(float(z_mm[0]), z_lo) - c
        z1 = max(min(float(z_mm[-1]), z_hi), z0) + c
        # the cavity's box over the bowel's height (fields outside it are never sampled; the
        # cavity ends about 20 mm behind the vertebral body's front)
        cav = np.array([cavity(z) for z in np.linspace(z0, z1, 9)])
        lo = np.array([(cav[:, 0] - cav[:, 3]).min() - c, cav[:, 2].min() - c, z0])
        hi = np.array([(cav[:, 0] + cav[:, 3]).max() + c, cav[:, 1].max() + 25.0, z1])
        lo[:2] = np.maximum(lo[:2], [x_mm[0], y_mm[0]])
        hi[:2] = np.maximum(np.minimum(hi[:2], [x_mm[-1], y_mm[-1]]), lo[:2] + c)
        self.gas = bowel_gas > 0
        self.z_small_hi = z_hi if z_small_hi is None else z_small_hi
        fat = float(np.clip(fat_mm / 40.0, 0.0, 1.0))
        septum = SEPTUM_HALF_MM[0] + (SEPTUM_HALF_MM[1] - SEPTUM_HALF_MM[0]) * fat
        # small bowel: signed distance to the loop field's zero set (mm), the septum's
        # half-width (mm; wide fat pockets where a smooth field b is high, packed loops where
        # low), a fine field for faecal mottle and mesenteric vessels
        g = _Coarse(lo, hi, c, (x_mm, y_mm))
        a = _smooth_noise(rng, g.shape, SMALL_BOWEL_SIGMA_MM / c)
        ga = np.gradient(a, c)
        grad = ga[0] * ga[0]  # (in place: this runs over the whole coarse box)
        for d in ga[1:]:
            d *= d
            grad += d
        np.sqrt(grad, out=grad)
        np.maximum(grad, np.float32(1e-3), out=grad)
        dist = np.divide(a, grad, out=grad)
        np.clip(dist, -40.0, 40.0, out=dist)
        b = _smooth_noise(rng, g.shape, 12.0 / c)
        sept = septum * np.clip(1.0 + 0.9 * b, 0.4, 4.0)
        f = _smooth_noise(rng, g.shape, 2.5 / c)
        self.small = g
        self.vessels = self._vessels(rng, cavity)
        # fields: small bowel (distance, septum), colon (distance, gas level, content kind),
        # fine field (faecal mottle)
        colon = self._colon(rng, bowel_gas, z_of, cavity)
        g.fields = np.stack([dist, sept, *colon, f], axis=1, dtype=np.float32)
        # thresholds on the septum field standing for thresholds on b
        self.pocket = septum * (1.0 + 0.9 * (POCKET_B[0] + (POCKET_B[1] - POCKET_B[0]) * fat))
        self.fluid = septum * (1.0 + 0.9 * 0.35)  # fluid-filled loops below, chyme above
        # more expected gas: more gas-filled small-bowel loops
        sb_gas = SMALL_BOWEL_GAS_B[0] - SMALL_BOWEL_GAS_B[1] * bowel_gas
        self.sb_gas = septum * (1.0 + 0.9 * sb_gas) if self.gas else math.inf
        # the small bowel's irregular upper limit (a field of x, y on the coarse grid)
        self.top = _smooth_noise(rng, (1, g.n[1], g.n[0]), SMALL_BOWEL_TOP_SIGMA_MM / c)
        # superior mesenteric artery (from L1) and vein (from below the pancreas' neck)
        z_l1 = z_of.get("L1", z_of.get("L3", 0.0) + 60.0)
        z_end = 0.5 * (z_of.get("L3", z_l1 - 60.0) + z_of.get("L4", z_l1 - 90.0))
        self.sm_z = (z_l1, min(z_end, z_l1 - 10.0))
        self._warp_sm(cavity)

    def sm_vessels(self, z: float, xs: float, y_front: float) -> list[tuple[float, float, float]]:
        """Superior mesenteric artery and vein at height ``z``: ``(x, y, radius)`` mm each, given
        the spine's x and the vertebral body's front y there (none outside their course)."""
        z0, z1 = self.sm_z
        if not z1 < z < z0:
            return []
        t = (z0 - z) / (z0 - z1)
        xa = xs + AORTA_XY[0] - 6.0 * t  # drifts towards the midline
        ya = y_front + AORTA_XY[1] - AORTA_R_MM - SMA_RADIUS_MM - 3.0
        ya -= SMA_AHEAD_MM * min(3.0 * t, 1.0)  # leaves the aorta, then runs down in front of it
        out = [(xa, ya, SMA_RADIUS_MM)]
        if t > 0.15:  # the vein joins the splenic vein behind the pancreas' neck, above
            out.append((xa - SMV_RIGHT_MM, ya - 1.0, SMV_RADIUS_MM))
        return out

    def _warp_sm(self, cavity: Cavity) -> None:
        """Warp the small bowel's coarse fields radially away from the superior mesenteric
        vessels, so that loops wrap around their fat collars instead of being cut."""
        g = self.small
        xs_ax, ys_ax = g.axes[0], g.axes[1]
        z0, z1 = self.sm_z
        for q, z in enumerate(g.axes[2]):
            if not z1 < z < z0:
                continue
            xs, y_front = cavity(float(z))[:2]
            for vx, vy, vr in self.sm_vessels(float(z), xs, y_front):
                rc = vr + SM_COLLAR_MM
                reach = 4.0 * rc
                i = np.nonzero(np.abs(xs_ax - vx) < reach)[0]
                j = np.nonzero(np.abs(ys_ax - vy) < reach)[0]
                if not len(i) or not len(j):
                    continue
                dx = xs_ax[i][None, :] - vx
                dy = ys_ax[j][:, None] - vy
                rho = np.maximum(np.hypot(dx, dy), 1e-6)
                f = np.sqrt(np.maximum(rho * rho - rc * rc, 0.0)) / rho
                src_i = (vx + dx * f - g.origin[0]) / g.step
                src_j = (vy + dy * f - g.origin[1]) / g.step
                for fld in range(2):  # loop distance and septum
                    plane = g.fields[q, fld]
                    plane[j[0] : j[-1] + 1, i[0] : i[-1] + 1] = ndi.map_coordinates(
                        plane, [src_j, src_i], order=1, mode="nearest"
                    )

    def _vessels(self, rng: np.random.Generator, cavity: Cavity) -> NDArray[np.float64]:
        """Mesenteric vessels: short cranio-caudal segments ``(V, 5)`` = x, y, z centre,
        radius and half-length (mm), scattered through the bowel's part of the cavity."""
        g = self.small
        # (jejunal and ileal vessels: no higher than the small bowel)
        z0 = float(g.axes[2][0])
        z1 = max(min(float(g.axes[2][-1]), self.z_small_hi + SMALL_BOWEL_TOP_MM), z0 + 1.0)
        n = int(VESSELS_PER_SLICE * (z1 - z0) / (2.0 * np.mean(VESSEL_HALF_LENGTH_MM)))
        zk = np.linspace(z0, z1, 12)
        cav = np.array([cavity(float(z)) for z in zk])  # xs, y spine front, y_ant, half-width
        z = rng.uniform(z0, z1, 2 * n)
        xs, yf, ya, rx = (np.interp(z, zk, cav[:, q]) for q in range(4))
        u = rng.uniform(-0.9, 0.9, 2 * n)
        v = rng.uniform(0.05, 1.0, 2 * n)
        x = xs + u * rx
        y = ya + v * (yf - ya)
        # in front of the retroperitoneum (as the bowel), inside the cavity's ellipse
        ok = (y < yf - 8.0 + 0.8 * np.maximum(np.abs(x - xs) - 25.0, 0.0)) & (
            u**2 + (2.0 * v - 1.0) ** 2 < 1.0
        )
        x, y, z = x[ok][:n], y[ok][:n], z[ok][:n]
        m = len(x)
        return np.stack(
            [
                x,
                y,
                z,
                rng.uniform(*VESSEL_RADIUS_MM, m),
                rng.uniform(*VESSEL_HALF_LENGTH_MM, m),
            ],
            axis=1,
        )

    def paint_vessels(self, tissue: NDArray[np.uint8]) -> None:
        """Paint the mesenteric vessels into the fat (only) of a finished ``(nk, nj, ni)``
        tissue map: call after the slices."""
        v = self.vessels
        x, y, z = self.x, self.y, self.z
        if not len(v) or len(x) < 2 or len(y) < 2 or len(z) < 2:
            return
        sx, sy, sz = float(x[1] - x[0]), float(y[1] - y[0]), float(z[1] - z[0])
        # (vessel, slice) pairs along each segment's length
        k0 = np.ceil((v[:, 2] - v[:, 4] - z[0]) / sz).astype(np.intp)
        k1 = np.floor((v[:, 2] + v[:, 4] - z[0]) / sz).astype(np.intp) + 1
        k0, k1 = np.clip(k0, 0, len(z)), np.clip(k1, 0, len(z))
        cnt = np.maximum(k1 - k0, 0)
        vi = np.repeat(np.arange(len(v)), cnt)
        if not len(vi):
            return
        kk = np.repeat(k0 - np.cumsum(cnt) + cnt, cnt) + np.arange(len(vi))
        # a disc of offsets around each (vessel, slice) centre
        ri = math.ceil(VESSEL_RADIUS_MM[1] / abs(sx))
        rj = math.ceil(VESSEL_RADIUS_MM[1] / abs(sy))
        oj, oi = np.mgrid[-rj : rj + 1, -ri : ri + 1]
        ci = np.rint((v[vi, 0] - x[0]) / sx).astype(np.intp)
        cj = np.rint((v[vi, 1] - y[0]) / sy).astype(np.intp)
        ii = ci[:, None] + oi.ravel()[None, :]
        jj = cj[:, None] + oj.ravel()[None, :]
        dx = x[0] + ii * sx - v[vi, 0:1]
        dy = y[0] + jj * sy - v[vi, 1:2]
        hit = (dx * dx + dy * dy <= v[vi, 3:4] ** 2) & (ii >= 0) & (ii < len(x))
        hit &= (jj >= 0) & (jj < len(y))
        kk = np.broadcast_to(kk[:, None], hit.shape)[hit]
        jj, ii = jj[hit], ii[hit]
        fat = tissue[kk, jj, ii] == _T.FAT
        tissue[kk[fat], jj[fat], ii[fat]] = _T.BLOOD

    # ---- colon ----
    def _colon_path(
        self, rng: np.random.Generator, z_of: Mapping[str, float], cavity: Cavity
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
        """Centre line ``(M, 3)`` mm every 2 mm, its radius ``(M,)`` mm and segment names."""
        pts, rad, seg = [], [], []
        sag = float(rng.uniform(0.0, 45.0))  # transverse colon: hangs lower in some people
        scale = float(rng.uniform(*COLON_SCALE))
        for name, u, v, lab, dz in _COLON_COURSE:
            z = z_of.get(lab, z_of.get("L3", 0.0) + _LANDMARK_FALLBACK_MM[lab] - 40.0) + dz
            if name == "transverse" and abs(u) < 0.1:
                z -= sag
            z += float(rng.uniform(-8.0, 8.0))
            xs, y_spine, y_ant, rx = cavity(z)
            u += float(rng.uniform(-0.05, 0.05))
            v += float(rng.uniform(-0.08, 0.08))
            r = COLON_RADIUS_MM[name] * scale
            # keep the tube inside the cavity (clear of the anterior wall and the flank)
            x = xs + float(np.clip(u * rx, -rx + r + 4.0, rx - r - 4.0))
            y = max(y_ant + v * (y_spine - y_ant), y_ant + r + 3.0)
            pts.append((x, y, z))
            rad.append(r)
            seg.append(name)
        p = np.asarray(pts)
        r_pts = np.asarray(rad)
        # chord-length parameter, densified to 2 mm and smoothed into a curve
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        s_new = np.arange(0.0, s[-1] + 1e-9, 2.0)
        line = np.stack([np.interp(s_new, s, p[:, d]) for d in range(3)], axis=1)
        line = ndi.gaussian_filter1d(line, 6.0, axis=0, mode="nearest")
        radius = ndi.gaussian_filter1d(np.interp(s_new, s, r_pts), 6.0, mode="nearest")
        idx = np.clip(np.searchsorted(s, s_new, side="right") - 1, 0, len(seg) - 1)
        return line, radius, [seg[i] for i in idx]

    def _colon(
        self,
        rng: np.random.Generator,
        bowel_gas: int,
        z_of: Mapping[str, float],
        cavity: Cavity,
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Colon fields on the coarse grid: signed distance to the wall (mm, negative inside),
        y of the gas-fluid level (mm; gas in front of it) and content kind (> 0 faeces, else
        fluid)."""
        g = self.small
        c = g.step
        line, radius, seg = self._colon_path(rng, z_of, cavity)
        m = len(line)
        s = 2.0 * np.arange(m)
        # haustral folds: narrowings every 20-30 mm (none in the rectum, fewer in the sigmoid)
        spacing = float(rng.uniform(*HAUSTRA_SPACING_MM))
        phase = np.mod(s + float(rng.uniform(0.0, spacing)), spacing) - 0.5 * spacing
        fold = np.exp(-0.5 * (phase / HAUSTRA_FOLD_MM) ** 2)
        depth = np.array([{"rectum": 0.0, "sigmoid": 0.5}.get(q, 1.0) for q in seg])
        r_eff = radius * (1.0 - HAUSTRA_DEPTH * depth * fold)
        # content along the colon: smooth random profiles (sigma 40-50 mm of its course)
        seg_gas = np.array(
            [{"transverse": 0.25, "caecum": 0.05, "rectum": -0.1}.get(q, 0.0) for q in seg]
        )
        gas_prof = ndi.gaussian_filter1d(rng.standard_normal(m), 20.0, mode="nearest")
        gas_prof /= float(gas_prof.std()) or 1.0
        # fraction of the lumen's depth filled with gas from the front, 0..0.9
        frac = np.clip(COLON_GAS_PER_POCKET * bowel_gas + seg_gas + 0.25 * gas_prof, 0.0, 0.9)
        if not self.gas:
            frac[:] = 0.0
        # the level is a coronal plane (gravity along +y); smooth along the course so that
        # neighbouring samples agree (a liquid surface is level within a segment)
        level = ndi.gaussian_filter1d(line[:, 1] - radius + 2.0 * radius * frac, 15.0)
        kind_prof = ndi.gaussian_filter1d(rng.standard_normal(m), 25.0, mode="nearest")
        kind_prof /= float(kind_prof.std()) or 1.0
        seg_kind = np.array([{"caecum": -0.6, "ascending": -0.3}.get(q, 0.6) for q in seg])
        kind = seg_kind + kind_prof
        # the grid's nodes near the path (index box), in two passes: nodes at twice the step
        # find the nodes worth an exact query (each lies within sqrt(3) * step of its
        # stand-in)
        reach = float(radius.max()) + COLON_WALL_MM + c
        lo = [
            int(np.clip((line[:, d].min() - reach - g.origin[d]) // c, 0, g.n[d])) for d in range(3)
        ]
        hi = [
            int(np.clip((line[:, d].max() + reach - g.origin[d]) // c + 2, lo[d], g.n[d]))
            for d in range(3)
        ]
        sd = np.full(g.shape, 1e3, dtype=np.float32)
        lev = np.zeros(g.shape, dtype=np.float32)
        kin = np.zeros(g.shape, dtype=np.float32)
        if min(hi[d] - lo[d] for d in range(3)) <= 0:
            return sd, lev, kin
        axes = [g.axes[d][lo[d] : hi[d]] for d in range(3)]
        tree = cKDTree(line)
        ax2 = [a[::2] for a in axes]
        zz, yy, xx = np.meshgrid(*ax2[::-1], indexing="ij")
        slack = math.sqrt(3.0) * c
        d2, i2 = tree.query(
            np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1),
            distance_upper_bound=reach + slack + 1.0,
        )
        # within reach of the local radius (thinner segments need a thinner shell of nodes):
        # the stand-in is within `slack` of the node, its nearest sample's radius within
        # `slack` of the node's (haustral folds narrow a radius by up to about 7 mm)
        ok2 = np.isfinite(d2)
        near = np.zeros(d2.shape, dtype=bool)
        near[ok2] = d2[ok2] - r_eff[i2[ok2]] < reach - float(radius.max()) + 2.0 * slack + 1.0
        near = near.reshape(zz.shape)
        shape = (len(axes[2]), len(axes[1]), len(axes[0]))
        near = near.repeat(2, 0).repeat(2, 1).repeat(2, 2)[: shape[0], : shape[1], : shape[2]]
        kk, jj, ii = np.nonzero(near)
        d, idx = tree.query(
            np.stack([axes[0][ii], axes[1][jj], axes[2][kk]], axis=1), distance_upper_bound=reach
        )
        ok = np.isfinite(d)
        kk, jj, ii, d, idx = kk[ok] + lo[2], jj[ok] + lo[1], ii[ok] + lo[0], d[ok], idx[ok]
        sd[kk, jj, ii] = d - r_eff[idx]
        lev[kk, jj, ii] = level[idx]
        kin[kk, jj, ii] = kind[idx]
        return sd, lev, kin

    # ---- painting ----
    def active(self, k: int) -> bool:
        """Whether slice ``k`` may get any bowel (False high up, clear of the colon and of the
        highest small-bowel loops): lets callers skip building the slice's cavity mask."""
        z = float(self.z[k])
        above = (z - self.z_small_hi) / SMALL_BOWEL_TOP_MM
        if above <= 0.0:
            return True
        if above <= 2.5 and bool((self.top[0] > above).any()):
            return True
        return bool((self.small.plane(z)[2] < self.small.step).any())

    def paint(
        self,
        tissue: NDArray[np.uint8],
        k: int,
        win: tuple[int, int, int, int, NDArray[np.bool_]],
        xs: float,
        y_front: float,
    ) -> None:
        """Fill the fat of the abdominal cavity on slice ``k`` with bowel.

        Args:
            tissue: ``(nk, nj, ni)`` fine tissue map, painted in place.
            k: Fine slice index.
            win: The cavity on this slice as ``(i0, i1, j0, j1, mask)`` (mask over
                ``[j0:j1, i0:i1]``).
            xs: Spine x (mm).
            y_front: y of the vertebral body's front (mm); bowel stays in front of the
                retroperitoneum (aorta, vena cava, psoas).
        """
        i0, i1, j0, j1, m = win
        g = self.small
        z = float(self.z[k])
        plane = g.plane(z)
        # height above the small bowel's mean top, in units of its irregularity
        above = (z - self.z_small_hi) / SMALL_BOWEL_TOP_MM
        if above > 0.0:
            # high up: only the colon and the highest small-bowel loops, in their box
            keep = plane[2] < g.step
            if above <= 2.5:
                keep |= self.top[0] > above
            box = self._box(keep, j0, j1, i0, i1)
            if box is None:
                return
            ja, jb, ia, ib = box
            m = m[ja:jb, ia:ib]
            j0, j1, i0, i1 = j0 + ja, j0 + jb, i0 + ia, i0 + ib
        sub = tissue[k, j0:j1, i0:i1]
        # stay in front of the retroperitoneum (aorta, vena cava, psoas)
        lim = y_front - 8.0 + 0.8 * np.maximum(np.abs(self.x[i0:i1] - xs) - 25.0, 0.0)
        m = m & (self.y[j0:j1, None] < lim[None, :]) & (sub == _T.FAT)
        rows = np.nonzero(m.any(axis=1))[0]
        if not len(rows):
            return
        cols = np.nonzero(m.any(axis=0))[0]
        a0, a1, b0, b1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        m = m[a0:a1, b0:b1]
        sub = sub[a0:a1, b0:b1]
        j0, j1, i0, i1 = j0 + a0, j0 + a1, i0 + b0, i0 + b1
        if above > 2.5:  # above all small bowel: the colon only
            sd = g.sample(plane[2:3], j0, j1, i0, i1)[0]
            self._paint_colon(sub, m, sd, plane, (j0, i0))
            return
        dist, sept, sd = g.sample(plane[:3], j0, j1, i0, i1)
        # m is a fresh mask: it becomes the fat still free for small bowel
        self._paint_colon(sub, m, sd, plane, (j0, i0))
        if above > -2.5:
            m &= g.sample(self.top, j0, j1, i0, i1, slot=2)[0] > above
        # small bowel in the rest of the cavity, a fat gap away from the colon
        depth = np.abs(dist)
        depth -= sept  # depth inside a loop (mm), negative in the septum
        loop = depth >= 0.0
        loop &= m
        # mesenteric fat pockets: where b is high one phase of the loop field stays fat, so
        # the other's loops lie as separate islands in fat
        pocket = sept >= self.pocket
        pocket &= dist <= 0.0
        loop &= ~pocket
        sub[loop] = _T.SOFT
        lumen = depth >= SMALL_BOWEL_WALL_MM
        lumen &= loop
        sub[lumen & (sept < self.fluid)] = _T.WATER  # fluid-filled; chyme (soft) elsewhere
        if self.gas:
            sub[lumen & (sept > self.sb_gas) & (dist > 0)] = _T.GAS
        # superior mesenteric vessels in their fat collars (the loops were warped around them)
        for vx, vy, vr in self.sm_vessels(z, xs, y_front):
            rc = vr + SM_COLLAR_MM
            ja, jb = np.searchsorted(self.y[j0:j1], [vy - rc, vy + rc])
            ia, ib = np.searchsorted(self.x[i0:i1], [vx - rc, vx + rc])
            if jb <= ja or ib <= ia:
                continue
            r2 = (self.y[j0 + ja : j0 + jb, None] - vy) ** 2 + (
                self.x[None, i0 + ia : i0 + ib] - vx
            ) ** 2
            free = m[ja:jb, ia:ib] | (sub[ja:jb, ia:ib] == _T.FAT)
            o = sub[ja:jb, ia:ib]
            o[free & (r2 <= rc * rc)] = _T.FAT
            o[free & (r2 <= vr * vr)] = _T.BLOOD

    def _box(
        self, keep: NDArray[np.bool_], j0: int, j1: int, i0: int, i1: int
    ) -> tuple[int, int, int, int] | None:
        """Fine index box ``(ja, jb, ia, ib)``, relative to ``j0``/``i0``, of the pixels that
        bilinear interpolation can take from the coarse nodes where ``keep`` (ny, nx) holds
        (their box grown by one node each side), within ``j0:j1, i0:i1``; None if empty."""
        g = self.small
        rows, cols = np.nonzero(keep.any(axis=1))[0], np.nonzero(keep.any(axis=0))[0]
        if not len(rows):
            return None
        qy = np.clip([rows[0] - 1, rows[-1] + 1], 0, g.n[1] - 1)
        qx = np.clip([cols[0] - 1, cols[-1] + 1], 0, g.n[0] - 1)
        ja, jb = np.searchsorted(self.y[j0:j1], g.axes[1][qy])
        ia, ib = np.searchsorted(self.x[i0:i1], g.axes[0][qx])
        ja, ia = max(int(ja) - 1, 0), max(int(ia) - 1, 0)
        jb, ib = min(int(jb) + 1, j1 - j0), min(int(ib) + 1, i1 - i0)
        if jb <= ja or ib <= ia:
            return None
        return ja, jb, ia, ib

    def _paint_colon(
        self,
        out: NDArray[np.uint8],
        free: NDArray[np.bool_],
        sd: NDArray[np.float32],
        plane: NDArray[np.float32],
        origin: tuple[int, int],
    ) -> None:
        """Colon on a window at fine ``origin`` (j0, i0) given its distance field ``sd``:
        paints ``out`` where ``free`` and clears ``free`` at and near the colon."""
        tube = free & (sd < 0.0)
        lumen = tube & (sd < -COLON_WALL_MM)
        free &= sd > COLON_GAP_MM  # small bowel keeps a fat gap away
        rows = np.nonzero(tube.any(axis=1))[0]
        if not len(rows):
            return
        out[tube] = _T.SOFT
        cols = np.nonzero(tube.any(axis=0))[0]
        # gas level, content kind and the fine field in the tube's box
        a0, a1, b0, b1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        j0, i0 = origin
        lev, kind, fs = self.small.sample(plane[3:], j0 + a0, j0 + a1, i0 + b0, i0 + b1, slot=1)
        lumen = lumen[a0:a1, b0:b1]
        o = out[a0:a1, b0:b1]
        gas = lumen & (self.y[j0 + a0 : j0 + a1, None] < lev)
        content = lumen & ~gas
        faeces = content & (kind > 0.0)
        o[content & ~faeces] = _T.WATER
        # mottled faeces: soft tissue with gas bubbles and watery patches
        o[faeces & (fs < -0.7)] = _T.WATER
        if self.gas:
            o[gas] = _T.GAS
            o[faeces & (fs > FAECES_BUBBLE_Z)] = _T.GAS
