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
  it, soft tissue (the viscera) in its front and perirectal fat behind; the bladder resting on
  it behind the pubis, a rounded square when full; the prostate and seminal vesicles or the
  uterus and cervix between it and the rectum; the rectum below the bowel's lowest slice as a
  collapsed tube in front of the sacrum down to the anal canal; fat in the midline behind the
  lower sacrum (the back's muscle tapering off it);
* below the perineum the body parts into the two thighs (the buttocks' gluteal cleft behind,
  the thighs touching medially), each a muscle mass in its own subcutaneous fat with the
  femoral vessels in front.

The muscle sections are not ellipses: each outline is its ellipse smoothly deformed by low-order
Fourier terms drawn per case, muscle and side; sections that overlap are clipped against each
other and parted by one fat plane where they meet, and the planes' width varies along them
(1-3 mm). The thighs' outlines are deformed the same way.

Real reference (the example CT, 3 mm, heads 88 mm from the midline): in the axial slice through
the hip centres the body is 228 mm deep, the heads half-way between its front and back (0.49),
about 45 % fat, 45 % muscle and 9 % bone. In the coronal plane through the hip centres, between
the heads (to 30 mm short of either) from 30 mm below to 20 mm above them, 9 % of the voxels
are fat (< -30 HU; the synthetic pelvis with an ellipsoidal bladder in front of the hips and
nothing else in the cavity: 35-52 %, now 10-35 %).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinelab.synth import pelvis
from spinelab.synth.painter import Painter
from spinelab.synth.tissues import FAT_LIKE, Tissue, body_mask

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
    # the pelvic side wall, medial to the acetabulum (about 12-15 mm thick at the hips)
    "obturator_internus": (
        (40.0, 62.0, 15.0, 10.0, 28.0),
        (0.0, 62.0, 10.0, 14.0, 36.0),
        (-35.0, 56.0, 20.0, 12.0, 28.0),
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
#: Femoral vessels (artery lateral, vein medial): the lower external iliac along the pelvic
#: brim, the femoral vessels in the femoral triangle in front of the hip and down the thigh;
#: (dz, lx, y). Above the first point the external and common iliac vessels run up to the
#: aorta and the vena cava (:mod:`spinelab.synth.vessels`).
FEMORAL_VESSELS = (
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
#: Inside the funnel: soft tissue (the bladder's neck, the prostate or vagina, standing in for
#: the viscera) in front of VISCERA_BACK_MM before the funnel's centre (which runs back down the
#: funnel: a sloping back edge), fat behind (the perirectal and presacral fat; the rectum is
#: painted into it, :data:`RECTUM_R_MM`). All soft tissue before: a block under a flat top at the
#: funnel's rim reaching back to the sacrum, and the coronal plane through S1's centre 40-120 mm
#: below it 0.42 fat on one case (real 0.74).
VISCERA_BACK_MM = 10.0
#: The rectum below the bowel's lowest slice (:data:`spinelab.synth.render.BOWEL_BELOW_S2_MM`)
#: and the anal canal: a collapsed tube of soft tissue in the pelvic fat, from the colon's
#: rectum (its radius RECTUM_R_MM there) along the front of the sacrum and coccyx (at least
#: PRESACRAL_MM in front of them) to the anorectal junction at the funnel's bottom (the last
#: LEVATOR row: ANORECTAL_DZ_MM above the hip centres, y there), narrowing to the anal canal's
#: ANAL_R_MM, which runs down and ANAL_BACK_MM back to ANAL_END_DZ_MM, through the perirectal
#: fat behind the viscera in the levator's funnel (:data:`VISCERA_BACK_MM`).
RECTUM_R_MM = 20.0
#: The paraspinal muscles (erector spinae) end this far (mm) below S2's centre, on the back of
#: the sacrum (:func:`spinelab.synth.render._paint_soft_tissue` paints them down to there).
PARASPINAL_BELOW_S2_MM = 30.0
#: Below the erector spinae's end (PARASPINAL_BELOW_S2_MM) the midline behind the sacrum is fat
#: this wide either side, the bone painted over it later: the glutei arise from the sacrum's
#: and coccyx's sides, and over the bones and between the buttocks lie fat and fascia. The
#: muscle left on the bone (multifidus) thins from SACRAL_MUSCLE_MM behind the sacrum's front to
#: none over SACRAL_FAT_FADE_MM, an oblique edge on sagittal views. Before, the body wall's
#: muscle filled it down to the perineum, a grey block behind the lower sacrum.
SACRAL_FAT_HALF_MM = 18.0
SACRAL_FAT_FADE_MM = 40.0
SACRAL_MUSCLE_MM = 60.0
PRESACRAL_MM = 15.0
ANORECTAL_DZ_MM = -55.0
ANAL_R_MM = 9.0
ANAL_BACK_MM = 8.0
ANAL_END_DZ_MM = -85.0
#: Bladder: a water-filled sac behind the pubis resting on the pelvic floor (its base
#: BLADDER_BASE_DZ_MM above the hip centres, its centre BLADDER_Y_MM behind them); half-axes
#: (x, y, z) at full filling, times a per-case filling factor drawn from BLADDER_FILL; its wall
#: BLADDER_WALL_MM of soft tissue, thin and smooth. A full bladder is a rounded square in axial
#: and coronal sections: a superellipse whose exponent grows from 2 at the lowest filling to
#: BLADDER_SQUARE at the highest. The real example CT (3 mm): a full bladder about 100 x 100 mm
#: from 10 mm below to 60 mm above the hip centres, its centroid 10 mm in front of them, the
#: lumen 12 HU (median; quartiles 3-20).
BLADDER_MM = (50.0, 40.0, 42.0)
BLADDER_Y_MM = -22.0
BLADDER_BASE_DZ_MM = -12.0
BLADDER_FILL = (0.55, 1.1)
BLADDER_WALL_MM = 2.0
BLADDER_SQUARE = 3.0
#: The genital organs between the bladder and the rectum, soft tissue over the pelvic fat (one
#: sex drawn per case, P_MALE male): ellipsoids ``(lx, y, dz, rx, ry, rz)`` in the hip frame,
#: ``lx`` mirrored to both sides when not 0. Male: the prostate below the bladder's neck behind
#: the symphysis and the seminal vesicles behind the bladder's base; female: the uterus's body
#: over and behind the bladder and the cervix and vagina below it. Without them the true
#: pelvis at the hip centres was fat wherever the bladder did not reach (the real example CT:
#: bladder and viscera, 9 % fat between the heads in their coronal plane).
P_MALE = 0.5
PELVIC_ORGANS_MALE = (
    (0.0, -12.0, -30.0, 21.0, 16.0, 17.0),
    (20.0, 8.0, 2.0, 20.0, 8.0, 11.0),
)
PELVIC_ORGANS_FEMALE = (
    (0.0, 8.0, 38.0, 30.0, 22.0, 38.0),
    (0.0, 12.0, -8.0, 15.0, 13.0, 26.0),
)
#: The thighs: below THIGHS_FROM_DZ_MM the body parts into two thighs, ellipses centred
#: THIGH_SPLIT of the body's half-width from the midline, each the body's depth; the share of
#: a thigh's half-width between its centre and the midline grows to THIGH_TOUCH at
#: THIGHS_FULL_DZ_MM (below it the thighs touch medially over part of their depth). The
#: subcutaneous fat of the thigh is THIGH_FAT of the level's fat.
THIGHS_FROM_DZ_MM = -35.0
THIGHS_FULL_DZ_MM = -110.0
THIGH_TOUCH = 0.93
THIGH_FAT = 0.8
#: Each thigh's outline is its ellipse's radius times ``1 + sum_n a_n cos(n theta - phi_n)``
#: (orders 2 and 3, amplitudes uniform up to THIGH_FOURIER, drawn per case and side): flattened
#: or bulging where the muscles and the fat lie, not a plain ellipse.
THIGH_FOURIER = (0.06, 0.035)
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
MUSCLE_FAT_PLANE_MM = 1.8
#: The fat planes' width varies along them by this share either way (a smooth field of the
#: position drawn per case, wavelengths MUSCLE_PLANE_WAVE_MM): 1-3 mm, uneven, as on the real CT
#: where the planes between the gluteal, hip and thigh muscles fade and widen along their course.
MUSCLE_PLANE_VARY = 0.5
MUSCLE_PLANE_WAVE_MM = (35.0, 80.0)
#: Each muscle section's outline (per muscle and side, drawn per case) is its ellipse's radius
#: times ``1 + sum_n a_n cos(n theta - phi_n)`` (to first order in ``a_n``: the level set of a
#: cubic, :meth:`PelvicSoftTissue._outline_distance`) over the orders n = 2, 3 with amplitudes
#: ``a_n`` uniform up to MUSCLE_FOURIER (smooth, convex-ish sections, no two alike); the
#: phases turn by up to MUSCLE_TWIST rad per 100 mm of height, so the outlines change along the
#: muscle. Where two sections overlap they are clipped against each other (each point belongs
#: to the section whose outline it lies deepest inside), parted by one fat plane along the
#: line where they meet, instead of the old crossing circular arcs.
MUSCLE_FOURIER = (0.12, 0.07)
MUSCLE_TWIST = 0.6
#: Muscles outside the true pelvis (the gluteus maximus and the short external rotators): where
#: the pelvic cavity (the ellipse the muscle mass leaves fat) reaches into their sections they
#: are cut back to its outline, so the cavity's fat reaches the bony side walls, lined by the
#: obturator internus. Their ellipses used to reach 30-35 mm from the midline inside the
#: cavity behind the hips: in the coronal plane through S1's centre, 40-120 mm below it, straight
#: vertical walls of muscle between the fat and the hip bones, 1.5-22 mm thick (per case, the
#: median over the rows of the muscle between the bone and the first fat; 12 mm on average over
#: five lumbar cases and a thoracolumbar one), now 1.5-9 mm (6 mm); the real example CT: 3 mm.
#: Between the bones there the fat share rose from 39-49 % to 45-64 % (the five lumbar cases;
#: the real CT: 74 %).
OUTER_MUSCLES = ("gluteus_maximus", "short_rotators")


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


def _outline_factor(u: np.ndarray, v: np.ndarray, amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``1 + sum_n amp[n-2] cos(n theta - phase[n-2])`` (orders 2, 3, ...) from ``u = cos
    theta`` and ``v = sin theta`` (arrays of one shape), by the complex powers' recurrence."""
    c, s = u, v
    out = np.ones_like(u)
    for a, p in zip(amp, phase, strict=True):
        c, s = c * u - s * v, s * u + c * v
        out += np.float32(a * math.cos(p)) * c + np.float32(a * math.sin(p)) * s
    return out


def _powers(v: np.ndarray) -> np.ndarray:
    """``(4, n)``: the powers 0-3 of ``v`` (n,)."""
    out = np.empty((4, len(v)), dtype=np.float32)
    out[0] = 1.0
    out[1] = v
    np.multiply(v, v, out=out[2])
    np.multiply(out[2], v, out=out[3])
    return out


class PelvicSoftTissue:
    """The pelvis's and upper thighs' soft tissue of one case (see the module's docstring).

    Args:
        hips: ``(2, 3)`` LPS mm hip joint centres (:func:`spinelab.synth.pelvis.hip_centres_mm`).
        scale: The body scale.
        rng: Draws the bladder's filling and the muscles' bulk.
        sacrum_front: Heights (ascending) and y (mm) of the front of the sacrum and coccyx
            below S2 (:func:`sacrum_front`): the rectum keeps in front of them.
    """

    def __init__(
        self,
        hips: np.ndarray,
        scale: float,
        rng: np.random.Generator,
        sacrum_front: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        #: (z ascending, y) of the front of the sacrum and coccyx below S2 (mm), if known
        self._sacrum = sacrum_front
        c = hips.mean(axis=0)
        self.xm, self.hy, self.hz = float(c[0]), float(c[1]), float(c[2])
        self.s = float(scale)
        self.bulk = float(rng.uniform(0.85, 1.15))  # muscle bulk (lean vs muscular)
        f = float(rng.uniform(*BLADDER_FILL))
        self.bladder = tuple(a * f * self.s for a in BLADDER_MM)
        #: the case's sex (the breasts follow it, :mod:`spinelab.synth.breasts`)
        self.male = bool(rng.random() < P_MALE)
        organs = PELVIC_ORGANS_MALE if self.male else PELVIC_ORGANS_FEMALE
        size = float(rng.uniform(0.8, 1.2))
        self.organs = [
            (side * o[0], o[1], o[2], *(a * size for a in o[3:]))
            for o in organs
            for side in ((1.0, -1.0) if o[0] else (0.0,))
        ]
        lo, hi = BLADDER_FILL
        self.bladder_power = 2.0 + (BLADDER_SQUARE - 2.0) * (f - lo) / (hi - lo)
        # per muscle and side: Fourier amplitudes, phases and the phases' turn per mm
        names = [*PELVIC_MUSCLES, *THIGH_MUSCLES]
        amp = np.asarray(MUSCLE_FOURIER)
        self.outline: dict[tuple[str, float], np.ndarray] = {}
        for name in names:
            for side in (1.0, -1.0):
                a = rng.uniform(0.0, 1.0, len(amp)) * amp
                phi = rng.uniform(0.0, 2.0 * np.pi, len(amp))
                turn = rng.uniform(-1.0, 1.0, len(amp)) * MUSCLE_TWIST / 100.0
                self.outline[name, side] = np.stack([a, phi, turn])
        # the fat planes' width field: a product of waves along x and y, drifting along z
        wl = rng.uniform(*MUSCLE_PLANE_WAVE_MM, 3)
        self.plane_wave = (*(2.0 * np.pi / wl), rng.uniform(0.0, 2.0 * np.pi, 2))
        self.thigh_outline = {
            side: np.stack(
                [
                    rng.uniform(0.0, 1.0, len(THIGH_FOURIER)) * np.asarray(THIGH_FOURIER),
                    rng.uniform(0.0, 2.0 * np.pi, len(THIGH_FOURIER)),
                ]
            )
            for side in (1.0, -1.0)
        }

    def sacrum_front_y(self, z: float) -> float | None:
        """y (mm) of the front of the sacrum or coccyx at height ``z`` below S2's centre (held
        at the coccyx's tip below it); None above S2's centre or without a sacrum."""
        if self._sacrum is None or z > self._sacrum[0][-1]:
            return None
        return float(np.interp(z, *self._sacrum))

    def below_s2(self, z: float) -> float:
        """How far (mm) ``z`` lies below S2's centre (negative above; 0 without a sacrum)."""
        return 0.0 if self._sacrum is None else float(self._sacrum[0][-1]) - z

    def femoral_top(self, side: float) -> tuple[np.ndarray, np.ndarray]:
        """The top of the femoral artery and vein on ``side`` (+1 the patient's left): the
        first point of :data:`FEMORAL_VESSELS` (LPS mm), where the external iliac vessels
        from above (:mod:`spinelab.synth.vessels`) end."""
        dz, lx, y = FEMORAL_VESSELS[0]
        xa = self.xm + side * lx * self.s
        z = self.hz + dz * self.s
        artery = np.array([xa, self.hy + y, z])
        vein = np.array([xa - side * FEMORAL_VEIN_MEDIAL_MM, self.hy + y + 2.0, z])
        return artery, vein

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

    @staticmethod
    def _outline_distance(
        ex: np.ndarray,
        ey: np.ndarray,
        rx: float,
        ry: float,
        coef: np.ndarray,
        dz: float,
    ) -> np.ndarray:
        """Signed distance (mm along the ray from the centre, about; negative inside) of the
        points ``(ex[None, :], ey[:, None])`` (mm from the centre) to a section's outline.

        In the ellipse's normalised frame (``x = ex / rx``, ``y = ey / ry``, ``rho``, ``t``
        polar) the outline is the level set ``G = 1`` of the cubic ``G = rho^2 (1 - 2 a2
        cos(2 t - p2)) - 2 a3 rho^3 cos(3 t - p3)``: to first order in the amplitudes the
        ellipse's radius times ``1 + a2 cos(2 t - p2) + a3 cos(3 t - p3)`` (``coef``: the
        amplitudes, the phases at ``dz = 0`` and their turn per mm). ``sqrt(G) - 1`` is then
        the radial excess, times the ellipse's radius in that direction. ``G`` and the two
        quadratic forms needed are sums ``m_ij y^i x^j``: (powers of y) @ m @ (powers of x),
        a few array operations per section and no trigonometry per point.
        """
        (a2, a3), (p2, p3), (t2, t3) = coef
        p2, p3 = p2 + t2 * dz, p3 + t3 * dz
        c2, s2 = 2.0 * a2 * math.cos(p2), 2.0 * a2 * math.sin(p2)
        c3, s3 = 2.0 * a3 * math.cos(p3), 2.0 * a3 * math.sin(p3)
        m = np.zeros((3, 4, 4), dtype=np.float32)
        # G: rho^2 cos 2t = x^2 - y^2, rho^2 sin 2t = 2xy, rho^3 cos 3t = x^3 - 3xy^2,
        # rho^3 sin 3t = 3x^2y - y^3; m[k, i, j] multiplies y^i x^j
        m[0, 0, 2], m[0, 2, 0], m[0, 1, 1] = 1.0 - c2, 1.0 + c2, -2.0 * s2
        m[0, 0, 3], m[0, 2, 1], m[0, 1, 2], m[0, 3, 0] = -c3, 3.0 * c3, -3.0 * s3, s3
        m[1, 0, 2], m[1, 2, 0], m[1, 0, 0] = rx * rx, ry * ry, 1e-9 * rx * ry  # r^2 (mm^2)
        m[2, 0, 2], m[2, 2, 0], m[2, 0, 0] = 1.0, 1.0, 1e-9  # rho^2 (not 0 at the centre)
        g, r2, rho2 = (_powers(ey / ry).T @ m) @ _powers(ex / rx)
        # (sqrt(g) - 1) * sqrt(r2 / rho2), in place
        np.sqrt(g, out=g)
        g -= np.float32(1.0)
        r2 /= rho2
        np.sqrt(r2, out=r2)
        g *= r2
        return g

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
        # the midline behind the sacrum below the erector spinae's end: fat (see
        # SACRAL_FAT_HALF_MM) behind a muscle layer that thins out over SACRAL_FAT_FADE_MM
        strip = None
        y_sac = self.sacrum_front_y(z)
        if y_sac is not None:
            t = (self.below_s2(z) - PARASPINAL_BELOW_S2_MM) / SACRAL_FAT_FADE_MM
            if t > 0.0:
                layer = SACRAL_MUSCLE_MM * self.s * max(1.0 - t, 0.0)
                behind = y > y_sac + layer
                half = SACRAL_FAT_HALF_MM * self.s
                strip = behind[:, None] & (np.abs(x - self.xm) < half)[None, :]
                strip &= inside
                np.copyto(sub, np.uint8(_T.FAT), where=strip & (sub == _T.MUSCLE))
        zf = PELVIC_FILL_DZ_MM
        fill = dz < zf[-1]
        cavity = None  # the pelvic cavity's ellipse (True inside), where the mass is painted
        if fill:
            # the muscle mass around the pelvic cavity
            half = np.interp(dz, zf, (*PELVIC_CAVITY_HALF_MM, cavity_half_w / self.s)) * self.s
            back = self.hy + PELVIC_CAVITY_BACK_MM * self.s
            cy, ry = 0.5 * (back + cavity_front), 0.5 * (back - cavity_front)
            u = ((x - self.xm) / max(half, 1e-3)) ** 2
            v = ((y - cy) / ry) ** 2
            mass = v[:, None] + u[None, :] > 1.0
            cavity = ~mass
            mass &= inside
            if strip is not None:
                mass &= ~strip
            mass &= sub == _T.FAT
            np.copyto(sub, np.uint8(_T.MUSCLE), where=mass)

        # every named muscle's section (both sides): the signed distance (mm along the ray from
        # its centre; negative inside) to its outline, the nearest and the second nearest
        hmax = MUSCLE_FAT_PLANE_MM * (1.0 + MUSCLE_PLANE_VARY)
        x0, y0 = float(x[0]), float(y[0])
        sx, sy = g.spacing_mm[0], g.spacing_mm[1]
        nx, ny = len(x), len(y)
        secs = []
        cut = cavity is not None and bool(cavity.any())
        for table in (PELVIC_MUSCLES, THIGH_MUSCLES):
            for name, knots in table.items():
                sec = self._section(knots, dz, self.bulk)
                if sec is None:
                    continue
                lx, yc, rx, ry_m = sec
                for side in (1.0, -1.0):
                    xc = self.xm + side * lx
                    coef = self.outline[name, side]
                    reach = 1.0 + float(coef[0].sum())
                    # the section's box (its reach and the widest fat plane) on the wall's grid
                    ext_x, ext_y = rx * reach + hmax, ry_m * reach + hmax
                    a0 = min(max(math.ceil((xc - ext_x - x0) / sx), 0), nx)
                    a1 = min(max(math.ceil((xc + ext_x - x0) / sx), 0), nx)
                    b0 = min(max(math.ceil((yc - ext_y - y0) / sy), 0), ny)
                    b1 = min(max(math.ceil((yc + ext_y - y0) / sy), 0), ny)
                    if a1 > a0 and b1 > b0:
                        outer = cut and name in OUTER_MUSCLES
                        secs.append((xc, yc, rx, ry_m, coef, (a0, a1, b0, b1), outer))
        if secs:
            ua0 = min(c[5][0] for c in secs)
            ua1 = max(c[5][1] for c in secs)
            ub0 = min(c[5][2] for c in secs)
            ub1 = max(c[5][3] for c in secs)
            shape = (ub1 - ub0, ua1 - ua0)
            d1 = np.full(shape, np.float32(1e6), dtype=np.float32)
            d2 = d1.copy()
            for xc, yc, rx, ry_m, coef, (a0, a1, b0, b1), outer in secs:
                d = self._outline_distance(x[a0:a1] - xc, y[b0:b1] - yc, rx, ry_m, coef, dz)
                if outer:  # cut back to the cavity's outline
                    np.copyto(d, np.float32(1e6), where=cavity[b0:b1, a0:a1])  # type: ignore[index]
                box = (slice(b0 - ub0, b1 - ub0), slice(a0 - ua0, a1 - ua0))
                s1, s2 = d1[box], d2[box]
                np.minimum(s2, np.maximum(s1, d), out=s2)
                np.minimum(s1, d, out=s1)
            x, y = x[ua0:ua1], y[ub0:ub1]
            sub, inside = sub[ub0:ub1, ua0:ua1], inside[ub0:ub1, ua0:ua1]
            # the fat planes' local width: 1 +- MUSCLE_PLANE_VARY times MUSCLE_FAT_PLANE_MM
            kx, ky, kz, ph = self.plane_wave
            amp = np.float32(MUSCLE_FAT_PLANE_MM * MUSCLE_PLANE_VARY)
            wy = (amp * np.cos(ky * y + ph[0] + kz * dz)).astype(np.float32)
            wx = np.cos(kx * x + ph[1]).astype(np.float32)
            width = wy[:, None] * wx[None, :] + np.float32(MUSCLE_FAT_PLANE_MM)
            # a plane along the outline of a section where no other meets it, and between two
            # sections along the line where they meet (equal depth in both)
            out = d1 > 0.0
            np.subtract(d2, d1, out=d2)
            np.copyto(d2, d1, where=out)  # d1 outside every section, d2 - d1 inside one
            plane = d2 <= width
            if fill:
                fat = plane & inside
                fat &= sub == _T.MUSCLE
                np.copyto(sub, np.uint8(_T.FAT), where=fat)
            # the sections' cores over the fat: the mass outside the pelvic cavity is muscle
            # already, so this only adds the muscles that reach into the cavity (and, above the
            # mass, all the named muscles)
            core = out | plane
            np.logical_not(core, out=core)
            core &= inside
            core &= sub == _T.FAT
            np.copyto(sub, np.uint8(_T.MUSCLE), where=core)
        # pelvic floor: a funnel of muscle; the ischioanal fat outside it stays fat
        lev = _track(LEVATOR, dz)  # type: ignore[arg-type]
        if lev is not None:
            lw, ld, yl = lev[0] * self.s, lev[1] * self.s, self.hy + lev[2] * self.s
            t = LEVATOR_MM * self.s
            pt.ellipse2d(k, self.xm, yl, lw + t, ld + t, _T.MUSCLE, only=(_T.FAT,))
            # inside it the viscera in front (soft tissue), perirectal fat behind
            y_visc = yl - VISCERA_BACK_MM * self.s
            pt.ellipse2d(k, self.xm, yl, lw, ld, _T.SOFT, only=(_T.MUSCLE,), y_below=y_visc)
            pt.ellipse2d(k, self.xm, yl, lw, ld, _T.FAT, only=(_T.MUSCLE,))
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

    def anorectum(self, z: float, top: tuple[float, float]) -> tuple[float, float, float] | None:
        """Centre ``(x, y)`` and radius (mm) of the rectum or anal canal at height ``z`` below
        the bowel's lowest slice ``top = (z, y of the colon's axis there)``; None outside
        (see :data:`RECTUM_R_MM`)."""
        z_top, y_top = top
        z_arj = self.hz + ANORECTAL_DZ_MM * self.s
        z_end = self.hz + ANAL_END_DZ_MM * self.s
        if not z_end < z <= z_top or z_top <= z_arj:
            return None
        y_arj = self.hy + LEVATOR[-1][3] * self.s
        r_anal = ANAL_R_MM * self.s
        if z >= z_arj:
            t = (z_top - z) / (z_top - z_arj)
            y = y_top + t * (y_arj - y_top)
            r = RECTUM_R_MM + t * (r_anal - RECTUM_R_MM)
        else:  # the anal canal, down and back from the anorectal junction
            t = (z_arj - z) / max(z_arj - z_end, 1.0)
            y, r = y_arj + t * ANAL_BACK_MM * self.s, r_anal
        y_sac = self.sacrum_front_y(z)
        if y_sac is not None and z >= z_arj:
            y = min(y, y_sac - PRESACRAL_MM - r)
        return self.xm, y, r

    def paint_anorectum(self, pt: Painter, k: int, z: float, top: tuple[float, float]) -> None:
        """The collapsed rectum or the anal canal on slice ``k`` (:meth:`anorectum`), soft
        tissue over the pelvic fat, the levator's muscle and a full bladder's back (painted
        after the bladder: the rectum dents it rather than vanishing in it)."""
        got = self.anorectum(z, top)
        if got is not None:
            x, y, r = got
            pt.ellipse2d(k, x, y, r, 0.8 * r, _T.SOFT, only=(*FAT_LIKE, _T.MUSCLE, _T.WATER))

    def paint_bladder(self, pt: Painter, k: int, z: float) -> None:
        """The genital organs (over the pelvic fat) and the bladder on slice ``k``: water in a
        thin soft-tissue wall, a rounded square (a superellipse of the case's exponent) in
        axial and coronal sections."""
        for lx, yo, dzo, ax, ay, az in self.organs:
            d = (self.dz(z) - dzo) / az
            if abs(d) < 1.0:
                f = math.sqrt(1.0 - d * d) * self.s
                xo, yc = self.xm + lx * self.s, self.hy + yo * self.s
                pt.ellipse2d(k, xo, yc, ax * f, ay * f, _T.SOFT, only=FAT_LIKE)
        rx, ry, rz = self.bladder
        cz = self.hz + BLADDER_BASE_DZ_MM * self.s + rz
        d = z - cz
        if abs(d) >= rz:
            return
        p = self.bladder_power
        f = (1.0 - abs(d / rz) ** p) ** (1.0 / p)
        cy = self.hy + BLADDER_Y_MM * self.s
        w = BLADDER_WALL_MM
        pt.ellipse2d(k, self.xm, cy, rx * f + w, ry * f + w, _T.SOFT, power=p)
        if rx * f > w and ry * f > w:
            pt.ellipse2d(k, self.xm, cy, rx * f, ry * f, _T.WATER, power=p)

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
        body = body_mask(sub)  # not air, not the couch
        f = THIGH_FAT * fat
        out = np.ones(sub.shape, dtype=bool)
        core = np.zeros(sub.shape, dtype=bool)
        # per row: the outline's lateral and medial edges (the ellipse's, times the case's
        # smooth factor of the angle in the ellipse's normalised frame there) and the half-width
        # of the muscle core within the thigh's fat
        yr = y[:, 0] / ry
        row = np.abs(yr) < 1.0
        cos_t = np.sqrt(np.clip(1.0 - yr * yr, 0.0, None))
        yc = y[:, 0] / max(ry - f, 1.0)
        core_hw = max(rx - f, 1.0) * np.sqrt(np.clip(1.0 - yc * yc, 0.0, None))
        core_hw[np.abs(yc) > 1.0] = -1.0
        for side in (1.0, -1.0):
            amp, phi = self.thigh_outline[side]
            lat = np.where(row, rx * cos_t * _outline_factor(cos_t, yr, amp, phi), -np.inf)
            med = np.where(row, rx * cos_t * _outline_factor(-cos_t, yr, amp, phi), -np.inf)
            dx = side * (x - side * d)  # mm lateral of the thigh's centre
            out &= (dx > lat[:, None]) | (dx < -med[:, None])
            core |= np.abs(dx) <= core_hw[:, None]
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
    return PelvicSoftTissue(hips, scale, rng, sacrum_front(geo))


def sacrum_front(geo: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Heights (ascending) and y (mm) of the front of the sacrum and coccyx below S2's centre
    (:func:`spinelab.synth.pelvis.lower_sacrum`: its plate's axis less its half-thickness), or
    None without S1 and S2."""
    low = pelvis.lower_sacrum(geo)
    if low is None:
        return None
    pts, _, half_t = low
    return pts[::-1, 2].copy(), (pts[:, 1] - half_t)[::-1].copy()
