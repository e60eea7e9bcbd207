"""Soft tissue of the pelvis and the upper thighs, per axial slice (called by
:func:`spinelab.synth.render._paint_soft_tissue`).

Everything is placed in the frame of the hip joint centres (:func:`spinelab.synth.pelvis.
hip_centres_mm`): ``lx`` mm lateral of the midline between the heads, ``y`` mm behind them,
``dz`` mm above them, sizes times the body scale. The muscles are painted over the fat inside
the body wall's muscle (the subcutaneous fat stays), before the bowel fills what fat is left
of the cavity, and the hip bones are painted over them afterwards:

* the gluteus maximus behind, from the sacrum's side down past the ischial tuberosities; the
  gluteus medius and minimus lateral to the iliac wing, from the crest to the greater
  trochanter;
* the iliacus lining the iliac fossa and the psoas joining it into the iliopsoas that passes
  in front of the hip joint to the lesser trochanter; the obturator internus on the pelvic side
  wall; the short external rotators behind the hip; the tensor fasciae latae, sartorius and
  rectus femoris in front of it;
* the pelvic floor (levator ani) as a funnel down to the anal canal, the ischioanal fat beside
  it; the bladder resting on it behind the pubis;
* below the perineum the body parts into the two thighs (the buttocks' gluteal cleft behind,
  the thighs touching medially), each a muscle mass in its own subcutaneous fat with the
  femoral vessels in front.

Real reference (the example CT, 3 mm, heads 88 mm from the midline): in the axial slice through
the hip centres the body is 228 mm deep, the heads half-way between its front and back (0.49),
about 45 % fat, 45 % muscle and 9 % bone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinelab.synth import pelvis
from spinelab.synth.painter import Painter
from spinelab.synth.tissues import Tissue

_T = Tissue

#: Muscles in the hip frame: name -> (dz knots, lx, y, rx, ry) per knot (mm; ``lx`` lateral of
#: the midline, ``y`` behind the hip centres, ``rx``/``ry`` half-axes). Between the knots the
#: section moves linearly; outside them the muscle is absent. Approximate adult means read off
#: the real example CT (hip +0, +25, +55, +90 mm) and anatomy atlases.
PELVIC_MUSCLES: dict[str, tuple[tuple[float, float, float, float, float], ...]] = {
    # behind: thick, from the sacrum's side to below the ischial tuberosities (gluteal fold)
    "gluteus_maximus": (
        (130.0, 45.0, 78.0, 20.0, 18.0),
        (90.0, 70.0, 72.0, 52.0, 30.0),
        (40.0, 92.0, 62.0, 72.0, 36.0),
        (0.0, 95.0, 62.0, 78.0, 38.0),
        (-50.0, 85.0, 62.0, 70.0, 34.0),
        (-95.0, 70.0, 55.0, 45.0, 25.0),
    ),
    # lateral to the iliac wing, from the crest to the greater trochanter
    "gluteus_medius": (
        (165.0, 140.0, 20.0, 18.0, 30.0),
        (120.0, 140.0, 15.0, 30.0, 55.0),
        (70.0, 130.0, 10.0, 30.0, 50.0),
        (30.0, 120.0, 8.0, 28.0, 42.0),
        (0.0, 125.0, 5.0, 18.0, 28.0),
    ),
    # in the iliac fossa, medial to the wing, joining the psoas
    "iliacus": (
        (150.0, 105.0, 10.0, 22.0, 20.0),
        (110.0, 90.0, 5.0, 28.0, 22.0),
        (60.0, 78.0, -12.0, 26.0, 22.0),
        (25.0, 72.0, -32.0, 22.0, 18.0),
        (0.0, 72.0, -42.0, 20.0, 16.0),
        (-30.0, 70.0, -30.0, 17.0, 15.0),
        (-60.0, 60.0, -5.0, 14.0, 13.0),
    ),
    # the psoas from beside the sacrum forwards over the pelvic brim into the iliopsoas
    "psoas": (
        (140.0, 52.0, 40.0, 22.0, 20.0),
        (100.0, 56.0, 20.0, 20.0, 18.0),
        (50.0, 62.0, -15.0, 17.0, 15.0),
        (15.0, 64.0, -35.0, 14.0, 12.0),
    ),
    # the pelvic side wall, medial to the acetabulum
    "obturator_internus": (
        (40.0, 62.0, 15.0, 8.0, 28.0),
        (0.0, 62.0, 10.0, 10.0, 36.0),
        (-35.0, 56.0, 20.0, 9.0, 28.0),
    ),
    # piriformis (higher), gemelli, obturator externus and quadratus femoris behind the hip
    "short_rotators": (
        (70.0, 45.0, 50.0, 20.0, 12.0),
        (30.0, 75.0, 38.0, 30.0, 14.0),
        (-10.0, 90.0, 30.0, 30.0, 16.0),
        (-50.0, 80.0, 25.0, 26.0, 16.0),
    ),
    # tensor fasciae latae, sartorius and rectus femoris in front of and lateral to the hip
    "anterior_hip": (
        (70.0, 125.0, -45.0, 12.0, 14.0),
        (20.0, 110.0, -52.0, 22.0, 20.0),
        (-20.0, 100.0, -50.0, 28.0, 24.0),
        (-60.0, 95.0, -45.0, 30.0, 25.0),
    ),
}
#: The adductors and the proximal hamstrings below the hip (medial and behind the femur).
THIGH_MUSCLES: dict[str, tuple[tuple[float, float, float, float, float], ...]] = {
    "adductors": (
        (-15.0, 45.0, -15.0, 14.0, 18.0),
        (-50.0, 55.0, -10.0, 28.0, 34.0),
        (-120.0, 60.0, 0.0, 32.0, 40.0),
    ),
    "hamstrings": (
        (-55.0, 70.0, 45.0, 14.0, 14.0),
        (-120.0, 85.0, 45.0, 30.0, 26.0),
    ),
}
#: Femoral vessels (artery lateral, vein medial): the external iliac along the pelvic brim, the
#: femoral vessels in the femoral triangle in front of the hip and down the thigh; (dz, lx, y).
FEMORAL_VESSELS = (
    (90.0, 40.0, 0.0),
    (40.0, 50.0, -25.0),
    (0.0, 52.0, -55.0),
    (-120.0, 62.0, -35.0),
)
FEMORAL_ARTERY_R_MM, FEMORAL_VEIN_R_MM, FEMORAL_VEIN_MEDIAL_MM = 4.0, 5.5, 9.0
#: Pelvic floor (levator ani): a muscular funnel of LEVATOR_MM thickness around the anorectal
#: junction from its rim on the side walls down to the anal canal; (dz, half-width, half-depth,
#: y of its centre).
LEVATOR = ((-5.0, 52.0, 55.0, 25.0), (-30.0, 36.0, 40.0, 38.0), (-55.0, 14.0, 16.0, 45.0))
LEVATOR_MM = 6.0
#: Bladder: a water-filled sac behind the pubis resting on the pelvic floor (its base
#: BLADDER_BASE_DZ_MM above the hip centres); half-axes (x, y, z) at full filling, times a
#: per-case filling factor drawn from BLADDER_FILL; its wall BLADDER_WALL_MM of soft tissue.
BLADDER_MM = (50.0, 40.0, 42.0)
BLADDER_Y_MM = -35.0
BLADDER_BASE_DZ_MM = -12.0
BLADDER_FILL = (0.55, 1.1)
BLADDER_WALL_MM = 2.5
#: The thighs: below THIGHS_FROM_DZ_MM the body parts into two thighs, ellipses centred
#: THIGH_SPLIT of the body's half-width from the midline, each the body's depth; the share of
#: a thigh's half-width between its centre and the midline grows to THIGH_TOUCH at
#: THIGHS_FULL_DZ_MM (below it the thighs touch medially over part of their depth). The
#: subcutaneous fat of the thigh is THIGH_FAT of the level's fat.
THIGHS_FROM_DZ_MM = -35.0
THIGHS_FULL_DZ_MM = -110.0
THIGH_TOUCH = 0.93
THIGH_FAT = 0.8
#: The pelvic muscles are painted from this far above the hip centres down.
PELVIC_TOP_DZ_MM = 170.0
#: Below PELVIC_FILL_DZ_MM[-1] the fat inside the body wall becomes muscle (the gluteal, hip and
#: thigh muscles packed together) except in the pelvic cavity: an ellipse whose half-width
#: (mm, at the heights PELVIC_FILL_DZ_MM) narrows from the abdominal cavity's to the true
#: pelvis between the obturator internus muscles and closes at the pelvic floor, from the
#: cavity's front to PELVIC_CAVITY_BACK_MM behind the hip centres. The named muscles' outlines
#: then part the mass by fat planes of MUSCLE_FAT_PLANE_MM.
PELVIC_FILL_DZ_MM = (-75.0, -45.0, 0.0, 30.0, 75.0)
PELVIC_CAVITY_HALF_MM = (0.0, 40.0, 62.0, 78.0)
PELVIC_CAVITY_BACK_MM = 62.0
MUSCLE_FAT_PLANE_MM = 1.6


def _track(
    knots: tuple[tuple[float, ...], ...], dz: float
) -> tuple[float, float, float, float] | None:
    """``(lx, y, rx, ry)`` of a muscle's section at ``dz`` interpolated between its knots
    (sorted by falling ``dz``); None outside them."""
    zs = [k[0] for k in knots]
    if dz > zs[0] or dz < zs[-1]:
        return None
    for a, b in itertools.pairwise(knots):
        if b[0] <= dz <= a[0]:
            t = (a[0] - dz) / max(a[0] - b[0], 1e-6)
            return tuple(float(p + t * (q - p)) for p, q in zip(a[1:], b[1:], strict=True))  # type: ignore[return-value]
    return None


class PelvicSoftTissue:
    """The pelvis's and upper thighs' soft tissue of one case (see the module's docstring).

    Args:
        hips: ``(2, 3)`` LPS mm hip joint centres (:func:`spinelab.synth.pelvis.hip_centres_mm`).
        scale: The body scale.
        rng: Draws the bladder's filling and the muscles' bulk.
    """

    def __init__(self, hips: np.ndarray, scale: float, rng: np.random.Generator) -> None:
        c = hips.mean(axis=0)
        self.xm, self.hy, self.hz = float(c[0]), float(c[1]), float(c[2])
        self.s = float(scale)
        self.bulk = float(rng.uniform(0.85, 1.15))  # muscle bulk (lean vs muscular)
        f = float(rng.uniform(*BLADDER_FILL))
        self.bladder = tuple(a * f * self.s for a in BLADDER_MM)

    def active(self, z: float) -> bool:
        return z - self.hz < PELVIC_TOP_DZ_MM * self.s

    def dz(self, z: float) -> float:
        """Height above the hip centres, in units of the body scale (mm at scale 1)."""
        return (z - self.hz) / self.s

    def _section(
        self, knots: tuple[tuple[float, ...], ...], dz: float, bulk: float = 1.0
    ) -> tuple[float, float, float, float] | None:
        got = _track(knots, dz)
        if got is None:
            return None
        lx, y, rx, ry = got
        return lx * self.s, self.hy + y * self.s, rx * self.s * bulk, ry * self.s * bulk

    def paint_muscles(
        self,
        pt: Painter,
        k: int,
        z: float,
        wall: tuple[float, float, float, float],
        power: float,
        notch: Callable[[Any, Any], Any],
        cavity_half_w: float,
        cavity_front: float,
    ) -> None:
        """The pelvic and thigh muscles, the pelvic floor and the femoral vessels on slice
        ``k``, over the fat inside the body wall's muscle.

        Args:
            pt: Painter.
            k: Fine slice index.
            z: Its height (mm).
            wall: The wall's outer superellipse ``(cx, cy, rx, ry)`` (mm).
            power: Its exponent.
            notch: ``notch(x, y)``: the back muscles' midline notch (stays fat).
            cavity_half_w: The abdominal cavity's half-width (mm).
            cavity_front: y of its front (mm).
        """
        dz = self.dz(z)
        g = pt.grid
        wx, wy, wrx, wry = wall
        i0, i1 = g.index_range(0, wx - wrx, wx + wrx)
        j0, j1 = g.index_range(1, wy - wry, wy + wry)
        if i1 <= i0 or j1 <= j0:
            return
        x, y = pt.x[i0:i1], pt.y[j0:j1]
        sub = pt.tissue[k, j0:j1, i0:i1]
        # inside the wall: per row, within the superellipse's half-width there; the notch only
        # reaches the back rows
        hw = wrx * np.clip(1.0 - np.abs((y - wy) / wry) ** power, 0.0, None) ** (1.0 / power)
        inside = np.abs(x - wx)[None, :] <= hw[:, None]
        jb = int(np.searchsorted(y, wy + wry - 25.0))
        inside[jb:] &= ~notch(x[None, :], y[jb:, None])
        zf = PELVIC_FILL_DZ_MM
        fill = dz < zf[-1]
        if fill:
            # the muscle mass around the pelvic cavity
            half = np.interp(dz, zf, (*PELVIC_CAVITY_HALF_MM, cavity_half_w / self.s)) * self.s
            back = self.hy + PELVIC_CAVITY_BACK_MM * self.s
            cy, ry = 0.5 * (back + cavity_front), 0.5 * (back - cavity_front)
            u = ((x - self.xm) / max(half, 1e-3)) ** 2
            v = ((y - cy) / ry) ** 2
            sub[inside & (sub == _T.FAT) & (v[:, None] + u[None, :] > 1.0)] = _T.MUSCLE

            def in_cavity(xc: float, yc: float, rx: float, ry_m: float) -> bool:
                # does the muscle's box reach into the cavity (else the mass is muscle there)?
                dx = max(abs(xc - self.xm) - rx, 0.0) / max(half, 1e-3)
                dy = max(abs(yc - cy) - ry_m, 0.0) / ry
                return dx * dx + dy * dy < 1.0

        h = MUSCLE_FAT_PLANE_MM
        for table in (PELVIC_MUSCLES, THIGH_MUSCLES):
            for knots in table.values():
                sec = self._section(knots, dz, self.bulk)
                if sec is None:
                    continue
                lx, yc, rx, ry_m = sec
                for side in (1.0, -1.0):
                    xc = self.xm + side * lx
                    a0, a1 = np.searchsorted(x, (xc - rx - h, xc + rx + h))
                    b0, b1 = np.searchsorted(y, (yc - ry_m - h, yc + ry_m + h))
                    if a1 <= a0 or b1 <= b0:
                        continue
                    qy = (((y[b0:b1] - yc) / ry_m) ** 2).astype(np.float32)
                    q = qy[:, None] + (((x[a0:a1] - xc) / rx) ** 2).astype(np.float32)[None, :]
                    s_sub, s_in = sub[b0:b1, a0:a1], inside[b0:b1, a0:a1]
                    if fill:  # a fat plane along its outline
                        edge = (q > 1.0) & (q <= (1.0 + h / min(rx, ry_m)) ** 2)
                        s_sub[edge & s_in & (s_sub == _T.MUSCLE)] = _T.FAT
                    if not fill or in_cavity(xc, yc, rx, ry_m):
                        s_sub[(q <= 1.0) & s_in & (s_sub == _T.FAT)] = _T.MUSCLE
        # pelvic floor: a funnel of muscle; the ischioanal fat outside it stays fat
        lev = _track(LEVATOR, dz)  # type: ignore[arg-type]
        if lev is not None:
            lw, ld, yl = lev[0] * self.s, lev[1] * self.s, self.hy + lev[2] * self.s
            t = LEVATOR_MM * self.s
            pt.ellipse2d(k, self.xm, yl, lw + t, ld + t, _T.MUSCLE, only=(_T.FAT,))
            pt.ellipse2d(k, self.xm, yl, lw, ld, _T.SOFT, only=(_T.MUSCLE,))
        # femoral vessels, medial to the iliopsoas
        zs = [v[0] for v in FEMORAL_VESSELS]
        if zs[-1] <= dz <= zs[0]:
            lx = float(np.interp(-dz, [-v for v in zs], [v[1] for v in FEMORAL_VESSELS])) * self.s
            yv = self.hy + float(np.interp(-dz, [-v for v in zs], [v[2] for v in FEMORAL_VESSELS]))
            for side in (1.0, -1.0):
                xa = self.xm + side * lx
                pt.ellipse2d(k, xa, yv, FEMORAL_ARTERY_R_MM, FEMORAL_ARTERY_R_MM, _T.BLOOD)
                xv = xa - side * FEMORAL_VEIN_MEDIAL_MM
                pt.ellipse2d(k, xv, yv + 2.0, FEMORAL_VEIN_R_MM, FEMORAL_VEIN_R_MM * 0.8, _T.BLOOD)

    def paint_bladder(self, pt: Painter, k: int, z: float) -> None:
        """The bladder on slice ``k``: water in a thin soft-tissue wall."""
        rx, ry, rz = self.bladder
        cz = self.hz + BLADDER_BASE_DZ_MM * self.s + rz
        d = z - cz
        if abs(d) >= rz:
            return
        f = math.sqrt(1.0 - (d / rz) ** 2)
        cy = self.hy + BLADDER_Y_MM * self.s
        w = BLADDER_WALL_MM
        pt.ellipse2d(k, self.xm, cy, rx * f + w, ry * f + w, _T.SOFT)
        if rx * f > w and ry * f > w:
            pt.ellipse2d(k, self.xm, cy, rx * f, ry * f, _T.WATER)

    def thigh_split(self, dz: float) -> float:
        """Share of a thigh's half-width between its centre and the midline (0 above the
        perineum: one body)."""
        t = (THIGHS_FROM_DZ_MM - dz) / (THIGHS_FROM_DZ_MM - THIGHS_FULL_DZ_MM)
        return float(np.clip(t, 0.0, 1.0)) * THIGH_TOUCH

    def paint_thighs(
        self,
        pt: Painter,
        k: int,
        z: float,
        half_w: float,
        y_front: float,
        y_back: float,
        fat: float,
    ) -> None:
        """Part the body into two thighs on slice ``k`` below the perineum: air outside the two
        thighs' ellipses (the body ``half_w`` wide and from ``y_front`` to ``y_back``), their
        own subcutaneous fat (THIGH_FAT of ``fat``) along the new medial outlines and muscle
        within it over the pelvic cavity's fat."""
        dz = self.dz(z)
        u = self.thigh_split(dz)
        if u <= 0.0:
            return
        g = pt.grid
        rx = half_w / (1.0 + u)  # the outer edge stays at the body's side
        d = u * rx
        cy, ry = 0.5 * (y_front + y_back), 0.5 * (y_back - y_front)
        i0, i1 = g.index_range(0, self.xm - half_w - 2.0, self.xm + half_w + 2.0)
        j0, j1 = g.index_range(1, y_front - 2.0, y_back + 2.0)
        if i1 <= i0 or j1 <= j0:
            return
        x = pt.x[i0:i1][None, :] - self.xm
        y = pt.y[j0:j1][:, None] - cy
        sub = pt.tissue[k, j0:j1, i0:i1]
        body = (sub != _T.AIR) & (sub != _T.CARTILAGE)
        f = THIGH_FAT * fat
        yy = (y / ry) ** 2
        out = np.ones(sub.shape, dtype=bool)
        core = np.zeros(sub.shape, dtype=bool)
        for side in (1.0, -1.0):
            dx = x - side * d
            out &= (dx / rx) ** 2 + yy > 1.0
            core |= (dx / max(rx - f, 1.0)) ** 2 + (y / max(ry - f, 1.0)) ** 2 <= 1.0
        # the thighs' medial fat and the air between them; muscle in their core where the
        # pelvis left fat (medial, between the adductors)
        medial = np.abs(x) < d + 0.5 * rx
        sub[body & ~out & ~core & medial & (sub == _T.MUSCLE)] = _T.FAT
        sub[body & out] = _T.AIR


def pelvic_soft_tissue(geo: Any, scale: float, rng: np.random.Generator) -> PelvicSoftTissue | None:
    """The case's :class:`PelvicSoftTissue`, or None when the spine has no S1 (no pelvis)."""
    hips = pelvis.hip_centres_mm(geo, scale)
    if hips is None:
        return None
    return PelvicSoftTissue(hips, scale, rng)
