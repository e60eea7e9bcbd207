"""The common iliac vessels and calcified plaques in the arteries' walls.

* **Common iliac arteries**: the abdominal aorta (painted slice by slice down to L4's centre,
  :func:`spinelab.synth.render._paint_soft_tissue`) divides on the left side of L4 into the two
  common iliac arteries, which run down and out along the psoas' medial border to the pelvic
  brim in front of the sacro-iliac joints (:func:`brim_points`), where they divide into the
  external iliac (a straight tube here, down to the femoral vessels' top,
  :data:`spinelab.synth.pelvic_soft.FEMORAL_VESSELS`) and the internal iliac (not painted);
  about 4 cm long (Gray's: two to three inches) and more than 1 cm across. The **common iliac
  veins** run beside and behind them up to the inferior vena cava, which they form at L5.
  All are straight tubes, painted slice by slice before the bowel (which fills only the fat
  left) and again after the psoas (over its edge).
* **Calcified plaques** (atherosclerotic intimal calcification): bright patches in the wall of
  the aorta (its arch, descending thoracic and abdominal parts) and the common iliac
  arteries. The real example CT has them (3 mm voxels up to 1,397 HU in front of L4, in both
  common iliac arteries beside the sacral promontory, a few at L3), and so does the real
  DICOM slab's aorta at T11-T12 (a ring). Prevalence on CT rises steeply with age: under 16 %
  of healthy people younger than 45 and nearly 90 % of those over 65 have any abdominal aortic
  calcium (Framingham offspring and third generation, Chuang et al., Am J Cardiol 2012); in a
  reference population measured per vertebral level the calcium was highest at L3-L4. A case
  is calcified with :data:`P_CALCIFIED` (an estimate for an adult clinical CT population); its
  burden (number and size of plaques) is skewed towards few small ones. Plaques are painted as
  ``Tissue.PLAQUE`` into the outer rim of the vessels' blood (the painted lumen includes the
  wall), so they never leave the vessel and never touch a vertebra's label.
* **Pelvic phleboliths** (calcified thrombi in the pelvic veins): small round calcifications
  in the fat of the lesser pelvis's side walls, beside the bladder and the rectum near the
  ischial spines (:func:`draw_phleboliths`, :func:`paint_phleboliths`). The veins they lie in
  (the vesical, rectal and uterine or prostatic plexuses) are not painted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.painter import Painter
from spinelab.synth.pelvic_soft import FEMORAL_ARTERY_R_MM, FEMORAL_VEIN_R_MM
from spinelab.synth.tissues import FAT_LIKE, Tissue

_T = Tissue

#: Radii (mm) of the common iliac artery and vein (the external iliac vessels take the femoral
#: ones, :data:`spinelab.synth.pelvic_soft.FEMORAL_ARTERY_R_MM`).
COMMON_ILIAC_ARTERY_R_MM = 5.0
COMMON_ILIAC_VEIN_R_MM = 6.0
#: Where the common iliac artery ends (divides) in front of the sacro-iliac joint: at S1's
#: centre height, this far (mm, times the body scale) beside the spine's midline and behind the
#: front of S1's body there. The real example CT's calcified common iliac arteries lie 35 and
#: 37 mm beside the midline about 10 mm behind the sacrum's front, 15 mm below S1's centre.
BRIM_X_MM = 36.0
BRIM_Y_MM = 5.0
#: The common iliac vein's end: this far (mm) nearer the midline than the artery's, and behind it.
BRIM_VEIN_MEDIAL_MM = 8.0
BRIM_VEIN_BEHIND_MM = 8.0
#: How far (mm) each common iliac vessel starts inside the vessel above it (no seam).
JOIN_MM = 6.0

#: Share of cases with calcified plaques (see the module's docstring).
P_CALCIFIED = 0.6
#: Mean number of plaques of the most calcified case (a case's mean is this times its burden,
#: drawn skewed towards 0).
PLAQUES_MAX = 40.0
#: The vessels plaques sit in, with the share of the plaques each holds (a design choice): the
#: abdominal aorta (T12 to its bifurcation), the aortic arch and the descending thoracic aorta
#: (:func:`spinelab.synth.mediastinum.paint_mediastinum`), the common iliac arteries.
PLAQUE_VESSELS: Mapping[str, float] = {
    "abdominal": 0.45,
    "arch": 0.1,
    "descending": 0.15,
    "iliac_r": 0.15,
    "iliac_l": 0.15,
}
#: Plaque length along the vessel (mm) at burden 0 and at burden 1 (upper ends of uniform
#: ranges starting at PLAQUE_LENGTH_MM[0]).
PLAQUE_LENGTH_MM = (2.0, 6.0, 18.0)
#: Half the plaque's arc round the vessel (radians), lower end and upper ends at burden 0 / 1.
PLAQUE_ARC = (0.15, 0.6, 1.4)
#: Plaque thickness (mm): how deep it reaches into the painted lumen from its rim.
PLAQUE_THICK_MM = (0.7, 2.0)
#: Sample spacing (mm) of the balls that paint a plaque.
PLAQUE_STEP_MM = 0.5


@dataclass(frozen=True)
class Plaque:
    """One calcified plaque.

    Attributes:
        vessel: Which vessel (a key of :data:`PLAQUE_VESSELS`).
        t: Its centre along the vessel's centre line, 0 at the top, 1 at the bottom.
        length_mm: Its extent along the vessel (mm).
        angle: Its centre round the vessel (radians; 0 in front, pi/2 on the patient's left).
        arc: Half its arc round the vessel (radians).
        thick_mm: How far (mm) it reaches in from the vessel's rim.
    """

    vessel: str
    t: float
    length_mm: float
    angle: float
    arc: float
    thick_mm: float


def draw_plaques(rng: np.random.Generator, p: float = P_CALCIFIED) -> tuple[Plaque, ...]:
    """A case's calcified plaques: none with probability ``1 - p``, else a burden ``u^2`` (u
    uniform) giving ``1 + Poisson(PLAQUES_MAX * burden)`` plaques, larger with the burden; in
    the abdominal aorta most of them low (``t = sqrt(u)``: density rising towards the
    bifurcation), elsewhere anywhere along the vessel."""
    if rng.random() >= p:
        return ()
    burden = float(rng.random()) ** 2
    n = 1 + int(rng.poisson(PLAQUES_MAX * burden))
    names = list(PLAQUE_VESSELS)
    share = np.array([PLAQUE_VESSELS[v] for v in names])
    out = []
    for _ in range(n):
        vessel = names[int(rng.choice(len(names), p=share / share.sum()))]
        u = float(rng.random())
        t = math.sqrt(u) if vessel == "abdominal" else u
        lo, hi0, hi1 = PLAQUE_LENGTH_MM
        length = float(rng.uniform(lo, hi0 + burden * (hi1 - hi0)))
        a_lo, a_hi0, a_hi1 = PLAQUE_ARC
        arc = float(rng.uniform(a_lo, a_hi0 + burden * (a_hi1 - a_hi0)))
        out.append(
            Plaque(
                vessel,
                t,
                length,
                float(rng.uniform(-math.pi, math.pi)),
                arc,
                float(rng.uniform(*PLAQUE_THICK_MM)),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Tube:
    """A vessel as a centre line (``(M, 3)`` LPS mm, top first, samples about 1-2 mm apart)
    and a radius (mm)."""

    points_mm: NDArray[np.float64]
    radius_mm: float

    @classmethod
    def straight(cls, a: NDArray[np.float64], b: NDArray[np.float64], radius_mm: float) -> Tube:
        n = max(int(np.ceil(np.linalg.norm(b - a) / 1.0)), 1)
        t = np.linspace(0.0, 1.0, n + 1)[:, None]
        return cls(a[None, :] + t * (b - a)[None, :], radius_mm)

    def section(self, z: float) -> tuple[float, float, float, float, float] | None:
        """Its cross-section on the axial plane at ``z`` for a straight tube: ``(cx, cy, rx,
        ry, angle)``, an ellipse whose ``rx`` axis (along the tube's in-plane direction,
        ``angle`` from +x towards +y) is the radius over the tube's slope; None outside its
        height."""
        a, b = self.points_mm[0], self.points_mm[-1]
        if not min(a[2], b[2]) <= z <= max(a[2], b[2]) or a[2] == b[2]:
            return None
        d = b - a
        f = (z - a[2]) / d[2]
        c = a + f * d
        cos_z = abs(d[2]) / float(np.linalg.norm(d))
        return (
            float(c[0]),
            float(c[1]),
            self.radius_mm / cos_z,
            self.radius_mm,
            math.atan2(float(d[1]), float(d[0])),
        )


Pair = tuple[NDArray[np.float64], NDArray[np.float64]]


def brim_points(
    at: Callable[[float, tuple[float, float]], NDArray[np.float64]],
    z_s1: float,
    side: float,
    scale: float,
) -> Pair:
    """Where the common iliac artery and vein end on ``side`` (+1 the patient's left): LPS mm
    points at S1's centre height ``z_s1``; ``at(z, (dx, dy))`` gives the point ``dx`` beside
    the spine's midline and ``dy`` behind the vertebral body's front at height ``z``."""
    x = side * BRIM_X_MM * scale
    artery = at(z_s1, (x, BRIM_Y_MM))
    vein = at(z_s1, (x - side * BRIM_VEIN_MEDIAL_MM, BRIM_Y_MM + BRIM_VEIN_BEHIND_MM))
    return artery, vein


@dataclass(frozen=True)
class IliacVessels:
    """The common and external iliac arteries and veins (:class:`Tube`, straight pieces),
    keyed ``"iliac_r"``, ``"iliac_l"`` (common iliac arteries), ``"vein_r"``, ``"vein_l"``
    (common iliac veins) and ``"external_*"``, ``"external_vein_*"``."""

    tubes: Mapping[str, Tube]

    @classmethod
    def build(
        cls,
        aorta_end: NDArray[np.float64],
        aorta_r_mm: float,
        ivc_end: NDArray[np.float64],
        ivc_half_x_mm: float,
        brim: Callable[[float], Pair],
        femoral_top: Callable[[float], Pair],
    ) -> IliacVessels | None:
        """From the aorta's lowest centre point (its radius) and the inferior vena cava's (its
        half-width) to each side's brim points (``brim(side)`` -> ``(artery, vein)``, side +1
        the patient's left; :func:`brim_points`), then on to the femoral vessels' top
        (``femoral_top(side)``); None where these do not follow each other downwards."""
        tubes = {}
        for side, key in ((-1.0, "r"), (1.0, "l")):
            a_brim, v_brim = brim(side)
            a_fem, v_fem = femoral_top(side)
            a0 = aorta_end + np.array([side * 0.4 * aorta_r_mm, 0.0, JOIN_MM])
            v0 = ivc_end + np.array([side * 0.4 * ivc_half_x_mm, 0.0, JOIN_MM])
            for top, mid, bot in ((a0, a_brim, a_fem), (v0, v_brim, v_fem)):
                if not top[2] - 10.0 > mid[2] > bot[2] + 10.0:
                    return None
            tubes["iliac_" + key] = Tube.straight(a0, a_brim, COMMON_ILIAC_ARTERY_R_MM)
            tubes["vein_" + key] = Tube.straight(v0, v_brim, COMMON_ILIAC_VEIN_R_MM)
            tubes["external_" + key] = Tube.straight(a_brim, a_fem, FEMORAL_ARTERY_R_MM)
            tubes["external_vein_" + key] = Tube.straight(v_brim, v_fem, FEMORAL_VEIN_R_MM)
        return cls(tubes)

    def paint(self, pt: Painter, k: int, z: float, only: tuple[int, ...]) -> None:
        """Paint their sections on slice ``k`` (height ``z``) as blood over ``only``."""
        for tube in self.tubes.values():
            sec = tube.section(z)
            if sec is not None:
                cx, cy, rx, ry, angle = sec
                pt.ellipse2d(k, cx, cy, rx, ry, _T.BLOOD, only=only, angle=angle)


def _frame(points: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Unit tangent, front (towards -y, the patient's anterior, normal to the tangent) and
    left (``tangent x front`` turned to +x) vectors at each centre-line point."""
    tan = np.gradient(points, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    ant = np.array([0.0, -1.0, 0.0])
    front = ant[None, :] - (tan @ ant)[:, None] * tan
    front /= np.maximum(np.linalg.norm(front, axis=1, keepdims=True), 1e-9)
    left = np.cross(tan, front)
    left *= np.where(left[:, 0:1] < 0.0, -1.0, 1.0)  # +x: the patient's left
    return tan, front, left


def plaque_points(tube: Tube, plaque: Plaque, out_mm: float = 0.0) -> NDArray[np.float64]:
    """Centres (``(M, 3)`` mm) of the balls that paint ``plaque`` on ``tube``'s rim: an
    elliptical patch, its arc narrowing to its ends (``out_mm``: the points that far outside
    the rim instead)."""
    pts = tube.points_mm
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0.0:
        return np.zeros((0, 3))
    s0 = plaque.t * s[-1]
    half = 0.5 * plaque.length_mm
    along = np.arange(s0 - half, s0 + half + 1e-9, PLAQUE_STEP_MM)
    along = along[(along >= 0.0) & (along <= s[-1])]
    if along.size == 0:
        return np.zeros((0, 3))
    _, front, left = _frame(pts)
    out = []
    r = tube.radius_mm + out_mm
    for a in along:
        c = np.array([np.interp(a, s, pts[:, i]) for i in range(3)])
        j = min(int(np.searchsorted(s, a)), len(s) - 1)
        w = math.sqrt(max(1.0 - ((a - s0) / max(half, 1e-9)) ** 2, 0.0))
        arc = plaque.arc * w
        n = max(int(np.ceil(2.0 * arc * tube.radius_mm / PLAQUE_STEP_MM)), 1)
        phi = plaque.angle + np.linspace(-arc, arc, n + 1)
        ring = np.cos(phi)[:, None] * front[j][None, :] + np.sin(phi)[:, None] * left[j][None, :]
        out.append(c[None, :] + r * ring)
    return np.concatenate(out)


#: A plaque's ball is painted only where the map, this far (mm) outside the vessel's rim, holds
#: no blood: not where a vessel runs on inside another (the common iliac arteries start inside
#: the aorta's end) or touches one.
PLAQUE_OUTSIDE_MM = 1.5


def _tissue_at(pt: Painter, points: NDArray[np.float64]) -> NDArray[np.int64]:
    """The painted tissue at the voxels nearest ``points`` (``(M, 3)`` mm; -1 off the grid)."""
    g = pt.grid
    ijk = np.rint((points - np.asarray(g.origin_mm)) / np.asarray(g.spacing_mm)).astype(np.int64)
    shape = np.array(g.shape_kji[::-1])
    on = np.all((ijk >= 0) & (ijk < shape), axis=1)
    out = np.full(len(points), -1, dtype=np.int64)
    out[on] = pt.tissue[ijk[on, 2], ijk[on, 1], ijk[on, 0]]
    return out


def paint_plaques(pt: Painter, tubes: Mapping[str, Tube], plaques: tuple[Plaque, ...]) -> None:
    """Paint the plaques into the blood at their vessels' rims (after the vessels): balls of
    the plaque's thickness round points on the rim, over blood only, where the map just
    outside the rim (:data:`PLAQUE_OUTSIDE_MM`) is not blood."""
    for plaque in plaques:
        tube = tubes.get(plaque.vessel)
        if tube is None:
            continue
        pts = plaque_points(tube, plaque)
        if not len(pts):
            continue
        outside = _tissue_at(pt, plaque_points(tube, plaque, PLAQUE_OUTSIDE_MM))
        pts = pts[~np.isin(outside, (_T.BLOOD, _T.PLAQUE))]
        if len(pts):
            pt.balls(pts, plaque.thick_mm, _T.PLAQUE, only=(_T.BLOOD,))


#: Pelvic phleboliths: 44.2 % of adults have them on pelvic radiographs (50.1 % of women,
#: 37.3 % of men; more with age and more on the left: Mattsson, Clin Radiol 1980); 2-5 mm
#: across, round or oval, near the ischial spines. Traubici et al. (AJR 1999) counted 120 in 50
#: patients on unenhanced CT, and 99 % of them without the lucent centre that 66 % showed on
#: radiographs (5 mm sections). A case has them with P_PHLEBOLITHS, ``1 + Poisson(
#: PHLEBOLITHS_EXTRA)`` of them (a design value), on the left with P_PHLEBOLITH_LEFT (a
#: design value for "more on the left"), diameters uniform in PHLEBOLITH_MM; those of
#: PHLEBOLITH_HOLLOW_MM or more have a soft centre (a third of the radius) with
#: P_PHLEBOLITH_HOLLOW, which thin sections resolve. The real example CT (3 mm) has one in the
#: left pelvic side wall's fat beside the acetabulum's back, 45 mm beside and 78 mm below
#: S1's centre (one voxel of 647 HU; scratch measure 2026-12-05).
P_PHLEBOLITHS = 0.44
PHLEBOLITHS_EXTRA = 2.0
PHLEBOLITH_MM = (2.0, 5.0)
P_PHLEBOLITH_LEFT = 0.6
PHLEBOLITH_HOLLOW_MM = 4.0
P_PHLEBOLITH_HOLLOW = 0.5
#: Where they are drawn, from the hip centres' midpoint (mm; x and y times the body scale):
#: this far beside the midline, behind (LPS +y) and above it; each is painted at the fat voxel
#: nearest its drawn place within PHLEBOLITH_SEARCH_MM (none if there is none).
PHLEBOLITH_X_MM = (20.0, 48.0)
PHLEBOLITH_Y_MM = (-15.0, 55.0)
PHLEBOLITH_Z_MM = (-40.0, 20.0)
PHLEBOLITH_SEARCH_MM = 15.0


@dataclass(frozen=True)
class Phlebolith:
    """A phlebolith at ``offset_mm`` (LPS, from the hip centres' midpoint; x and y before the
    body scale), ``diameter_mm`` across, with a soft centre if ``hollow``."""

    offset_mm: tuple[float, float, float]
    diameter_mm: float
    hollow: bool


def draw_phleboliths(rng: np.random.Generator, p: float = P_PHLEBOLITHS) -> tuple[Phlebolith, ...]:
    """A case's pelvic phleboliths (:data:`P_PHLEBOLITHS`): none with probability ``1 - p``."""
    if rng.random() >= p:
        return ()
    out = []
    for _ in range(1 + int(rng.poisson(PHLEBOLITHS_EXTRA))):
        side = 1.0 if rng.random() < P_PHLEBOLITH_LEFT else -1.0  # LPS +x: the patient's left
        x = side * float(rng.uniform(*PHLEBOLITH_X_MM))
        y, z = float(rng.uniform(*PHLEBOLITH_Y_MM)), float(rng.uniform(*PHLEBOLITH_Z_MM))
        d = float(rng.uniform(*PHLEBOLITH_MM))
        hollow = bool(rng.random() < P_PHLEBOLITH_HOLLOW) and d >= PHLEBOLITH_HOLLOW_MM
        out.append(Phlebolith((x, y, z), d, hollow))
    return tuple(out)


def paint_phleboliths(
    pt: Painter, hips: NDArray[np.float64], scale: float, stones: tuple[Phlebolith, ...]
) -> None:
    """Paint phleboliths (``Tissue.STONE``, a hollow one's centre ``Tissue.SOFT``) into the
    fat of the lesser pelvis (``hips``: ``(2, 3)`` hip centres, LPS mm; ``scale``: the body
    scale), over fat only: each at the voxel nearest its place within
    :data:`PHLEBOLITH_SEARCH_MM` whose ball lies in the fat, else at the nearest fat voxel
    there (none without one)."""
    mid = hips.mean(axis=0)
    for st in stones:
        x, y, z = st.offset_mm
        r = 0.5 * st.diameter_mm
        at = mid + np.array([x * scale, y * scale, z])
        best = pt.nearest_room(at, FAT_LIKE, r, PHLEBOLITH_SEARCH_MM)
        if best is None:
            continue
        pt.balls(best[None], r, _T.STONE, only=FAT_LIKE)
        if st.hollow:
            pt.balls(best[None], r / 3.0, _T.SOFT, only=(_T.STONE,))
