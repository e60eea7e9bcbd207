"""The body along the spine, and the patient on the couch.

:class:`BodyPlan` interpolates the spine's position and the body's contour (half-width, back and
front skin, subcutaneous fat) at any height ``z``: every painter of :mod:`spinelab.synth.render`
and its anatomy modules asks it for the :class:`Level` of a slice. :class:`RibRing` is the rib
cage's section at a height (``render._rib_ring`` places it; the ribs, the lungs' limit and the
scapulae follow it). The patient lies supine on
the CT couch: :func:`supine` turns a sampled spine so that the upper back and the sacrum both
lie on a straight couch, the back sags onto it (:data:`COUCH_SAG_SHARE`), and
:func:`lay_on_couch` presses the soft tissue behind the couch's top flat and paints the couch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from spinelab.synth import parallel
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.painter import Painter
from spinelab.synth.tissues import BONE as BONE_TISSUES
from spinelab.synth.tissues import Tissue

if TYPE_CHECKING:
    from spinelab.synth.render import AnatomyParams

_T = Tissue

#: Subcutaneous fat behind the back as a share of the drawn fat thickness (``fat_mm``, the
#: front and sides): the posterior lumbar subcutaneous fat on MRI separates lean from overweight
#: backs at about 9 mm at L1-L2 (Eur Radiol 2022;32:6504, "subcutaneous fat index"), so with
#: ``fat_mm`` 5-40 it is 3-22 mm. The back's skin moves out by this much and the back muscles
#: keep their lean depth (they used to lose 0.3 mm per mm of fat). The lumbar skin then lies
#: 53-83 mm (mean about 68) behind the bodies' posterior wall, as the skin-to-epidural-space
#: depth at L2-L5 (means 44-51 mm, SD 6-12 mm, range 27-94: Cha et al., Anesth Pain Med 2011,
#: 1653 adults; Bevacqua et al., Reg Anesth 1996) plus the 15-18 mm mid-sagittal canal depth
#: gives (60-70 mm); the real example CT, a heavier patient, has 78 mm at L3. The real example
#: CT (3 mm; fat from the skin to the first muscle, -190..-30 HU on a 3x3 median, rays out of
#: the vertebral body's centre at 180, +-170 and +-160 deg): 16.8/14.8/22.1/21.6 mm over the
#: back at L1-L4, 0.89/0.41/0.45/0.31 of the front fat. With 0.4 ten generated 3 mm lumbar
#: and thoraco-lumbar cases had 2.7-17.1 mm (mean over L1-L4; median 6.4), the real figure
#: above them all, now 3.1-23.0 (median 8.6; back / front 0.82/0.50/0.54/0.53, was
#: 0.66/0.39/0.39/0.41). Together with the thinner posterolateral fat at L1 (CONTOUR_FLANK_Z)
#: the L1-L4 body region's fat share moves by +0.004 (these cases: mean 0.563 -> 0.567; the
#: real CT 0.52); ``fat_mm`` 40 cases have 0.63-0.68 (0.62-0.67 with 0.4), as
#: tests/test_synth_realism.py's one case bounds it (< 0.65).
BACK_FAT_SHARE = 0.55

# Body contour keyframes per level: (half-width, centre-to-back skin, centre-to-front skin) mm,
# lean adult, fat added separately. S1 and S2 lie 10-40 mm behind L5's centre (the sacrum
# curves back), so their backs are 74 and 72 mm (were 80 and 85): over the sacrum the skin lies
# closer to the bone than over the lumbar arches (no erector mass), and the old keys made the
# sacral back jut 35-45 mm behind the lumbar one, a lordosis gap of 20-60 mm under a straight
# couch (:func:`supine`; the real example CT: 15-18 mm).
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
    "S1": (165.0, 74.0, 128.0),
    "S2": (170.0, 72.0, 125.0),
}
#: Body contour keyframes below S2 (same columns; mm above (+) or below S1's centre instead of
#: a label; the spine line is held at the chain's lowest centre, S2, below it, so these
#: place the body relative to S2's centre): the buttocks and the groin around the hip joints
#: (PELVIS_HIP_MM: 100 mm below S1), the perineum and the upper thighs. The real example CT
#: (3 mm, heads 33 mm in front of and 91 mm below S1's centre): at the hip centres the body is
#: 228 mm deep, its front 111 mm in front of the heads and its back 117 mm behind them, the
#: heads half-way (the body ended 50-90 mm in front of them, 0.2-0.35 of its depth).
#: The subcutaneous fat grows by this share from S2 down to the hip joints (gluteal and
#: trochanteric fat: the real example CT has 25-45 mm over the buttocks and the trochanters).
PELVIC_FAT_GAIN = 0.5
_PELVIC_CONTOUR_KEYS: tuple[tuple[float, tuple[float, float, float]], ...] = (
    (-60.0, (165.0, 70.0, 140.0)),
    (-100.0, (160.0, 62.0, 145.0)),
    (-140.0, (155.0, 55.0, 140.0)),
    (-210.0, (150.0, 45.0, 125.0)),
    (-320.0, (140.0, 40.0, 115.0)),
)


@dataclass(frozen=True)
class Level:
    """Spine position and body contour at one axial slice."""

    x_s: float
    y_s: float
    depth: float
    width: float
    half_w: float
    post: float
    ant: float
    fat: float


@dataclass(frozen=True)
class RibRing:
    """The ribs' ring at one height: superellipses ``|dx / hw|^p + |dy / hd|^p = 1`` round
    ``(cx, cy)`` (mm, LPS), exponent ``power`` in front of the centre and ``power_back``
    behind it (2: an ellipse)."""

    cx: float
    cy: float
    hw: float
    hd: float
    power: float = 2.0
    power_back: float = 2.0

    @property
    def axes(self) -> tuple[float, float, float, float]:
        """``(cx, cy, half-width, half-depth)``."""
        return self.cx, self.cy, self.hw, self.hd

    def point(self, side: float, phi: Any) -> tuple[Any, Any]:
        """The ring's point at ``phi`` (rad; 0 behind, pi/2 at the side, pi in front) on the
        patient's left (``side`` 1) or right (-1)."""
        s, c = np.sin(phi), np.cos(phi)
        e = 2.0 / np.where(c > 0.0, self.power_back, self.power)
        x = self.cx + side * self.hw * np.abs(s) ** e
        y = self.cy + self.hd * np.sign(c) * np.abs(c) ** e
        return x, y

    def phi_at(self, dx: float, most: float = 0.95) -> float:
        """``phi`` of the ring's point behind its centre ``dx`` mm from it (at most ``most``
        of the half-width)."""
        q = min(abs(dx) / max(self.hw, 1.0), most)
        return math.asin(q ** (self.power_back / 2.0))

    def rho(self, x: Any, y: Any) -> Any:
        """Normalized radius (1 on the ring)."""
        dy = (y - self.cy) / self.hd
        p = np.where(dy > 0.0, self.power_back, self.power)
        return (np.abs((x - self.cx) / self.hw) ** p + np.abs(dy) ** p) ** (1.0 / p)

    def grown(self, mm: float) -> RibRing:
        """The ring with both half-axes ``mm`` longer (shorter where negative)."""
        return RibRing(self.cx, self.cy, self.hw + mm, self.hd + mm, self.power, self.power_back)

    def y_behind(self, dx: float, most: float = 0.999) -> float:
        """y (mm) of the ring behind its centre ``dx`` mm to the side of it (at most ``most``
        of the half-width)."""
        q = min(abs(dx) / self.hw, most)
        p = self.power_back
        return float(self.cy + self.hd * (1.0 - q**p) ** (1.0 / p))

    def inside(self, margin: float) -> Callable[[Any, Any], Any]:
        """Predicate: inside the ring shrunk by ``margin`` mm (grown where negative)."""
        ring = self.grown(-margin)
        if ring.hw <= 0.0 or ring.hd <= 0.0:
            return lambda x, y: np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), bool)
        return lambda x, y: ring.rho(x, y) <= 1.0


class BodyPlan:
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
        # below the sacrum: the buttocks, the groin and the thighs; the spine line stops at S2
        self.hold_below = "S1" in self.z_of and "S2" in self.z_of
        if self.hold_below:
            keys += [(self.z_of["S1"] + dz, v) for dz, v in _PELVIC_CONTOUR_KEYS]
        keys.sort()
        self.kz = np.array([k[0] for k in keys])
        self.kv = np.array([k[1] for k in keys])
        self.scale = params.body_scale
        self.fat = params.fat_mm
        self._levels: dict[float, Level] = {}
        z_t1 = self.z_of.get("T1", float(self.zc[-1]))
        self._fill_z = (z_t1, self.z_of.get("T3", z_t1 - 40.0))  # no sag above, all below
        self.couch_x, self.couch_y, self._lean_top = self._couch()

    def _couch(self) -> tuple[float, float, float]:
        """The couch's centre x and its top's y (mm; LPS, +y towards the back), the same on
        every slice: the couch is a rigid plate along z. The patient lies on it, so its top is
        where the back's most posterior part would be (the sacrum and buttocks, the thoracic
        kyphosis; the natural back of :meth:`_level` over the trunk and the upper thighs),
        less the soft tissue pressed flat against it (COUCH_PRESS_SHARE of the back's fat);
        the lumbar lordosis and the neck leave a gap. Third: the lean back's most posterior
        y (the natural back without its fat), which the sag of :meth:`_level` closes on: the
        same for a lean and a heavy patient."""
        z_top = self.z_of.get("T1", float(self.zc[-1]))
        z_bottom = float(self.zc[0]) - COUCH_CONTACT_BELOW_MM
        zs = np.arange(z_bottom, max(z_top, z_bottom + 1.0), 5.0)
        levels = [self._level(z, sag=False) for z in zs]
        backs = [lv.y_s + lv.post for lv in levels]
        lean = max(lv.y_s + lv.post - BACK_FAT_SHARE * lv.fat for lv in levels)
        press = COUCH_PRESS_SHARE * BACK_FAT_SHARE * self.fat
        return float(np.mean(self.xc)), float(max(backs)) - press, float(lean)

    def back_y(self, z: float) -> float:
        """y (mm) of the back's skin at level ``z``: the back of :meth:`level` (sagged onto the
        couch), pressed flat where it would reach past the couch's top."""
        lv = self.level(z)
        return min(lv.y_s + lv.post, self.couch_y)

    def level(self, z: float) -> Level:
        """Spine position and body contour at height ``z`` (mm); each height is worked out once
        (the painters ask for the same slices' levels several times)."""
        lv = self._levels.get(z)
        if lv is None:
            lv = self._levels[z] = self._level(z)
        return lv

    def _level(self, z: float, sag: bool = True) -> Level:
        """The level at ``z``; ``sag=False``: the natural back, before the patient lies on the
        couch (COUCH_SAG_SHARE)."""
        x_s = float(np.interp(z, self.zc, self.xc))
        y_s = float(np.interp(z, self.zc, self.yc))
        # extrapolate the spine line below/above the chain ends linearly
        if z < self.zc[0] and len(self.zc) > 1 and not self.hold_below:
            t = (z - self.zc[0]) / (self.zc[1] - self.zc[0])
            x_s = float(self.xc[0] + t * (self.xc[1] - self.xc[0]))
            y_s = float(self.yc[0] + t * (self.yc[1] - self.yc[0]))
        hw, post, ant = (float(np.interp(z, self.kz, self.kv[:, c])) for c in range(3))
        region_fat = float(np.interp(z, self.kz, np.where(self.kv[:, 0] < 100, 0.3, 1.0)))
        thorax = float(
            np.interp(z, [self.z_of.get("T12", -1e9), self.z_of.get("T4", 1e9)], [1.0, 0.6])
        )
        fat = self.fat * region_fat * thorax
        if self.hold_below:  # the buttocks' and hips' thicker subcutaneous fat
            z_s1 = self.z_of["S1"]
            fat *= 1.0 + PELVIC_FAT_GAIN * float(np.clip((z_s1 - 20.0 - z) / 80.0, 0.0, 1.0))
        post = post * self.scale
        if sag:  # lying on the couch: the (lean) back sags towards it
            gap = self._lean_top - (y_s + post)
            if gap > 0.0:
                z_free, z_full = self._fill_z
                w = float(np.clip((z_free - z) / max(z_free - z_full, 1.0), 0.0, 1.0))
                post += COUCH_SAG_SHARE * w * gap
        post += fat * BACK_FAT_SHARE
        return Level(
            x_s,
            y_s,
            float(np.interp(z, self.zc, self.dc)),
            float(np.interp(z, self.zc, self.wc)),
            hw * self.scale + fat,
            post,
            ant * self.scale + fat,
            fat,
        )


# --------------------------------------------------------------------------------------------
# The couch
# --------------------------------------------------------------------------------------------
def supine(geo: SpineGeometry, params: AnatomyParams) -> SpineGeometry:
    """The spine turned in the sagittal plane (about the x axis through the origin) so that the
    patient lies on a flat couch along z: the back's contour (:class:`BodyPlan`, from the
    thorax to COUCH_CONTACT_BELOW_MM below the spine's lowest centre) has a supporting line
    that bridges the lumbar lordosis from the thoracic kyphosis to the sacrum and buttocks (the
    edge of its posterior convex hull over L3's centre); after the turn that line runs along
    z, so both ends touch the couch. The shape model stands the spine on the line from S1 to
    C2, which left the thoracic back up to 70 mm further back than the sacrum's under a couch
    that ran along z. Spines without L3, T1 or S1 (too short to lie on a couch) are returned
    as they are."""
    if not {"T1", "L3", "S1"} <= set(geo.labels):
        return geo
    plan = BodyPlan(geo, params)
    z_top = plan.z_of["T1"]
    zs = np.arange(float(plan.zc[0]) - COUCH_CONTACT_BELOW_MM, z_top, 5.0)
    back = np.array([lv.y_s + lv.post for lv in (plan._level(z, sag=False) for z in zs)])
    hull: list[int] = []  # the posterior (largest y) hull, z ascending
    for i in range(len(zs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (zs[b] - zs[a]) * (back[i] - back[a]) - (back[b] - back[a]) * (zs[i] - zs[a])
            if cross < 0.0:
                break
            hull.pop()
        hull.append(i)
    z3 = plan.z_of["L3"]
    for a, b in itertools.pairwise(hull):
        if zs[a] <= z3 <= zs[b]:
            slope = (back[b] - back[a]) / (zs[b] - zs[a])
            break
    else:
        return geo
    alpha = math.atan(slope)
    c, s = math.cos(alpha), math.sin(alpha)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    out = geo.transformed(turn, np.zeros(3))
    out.attributes["supine_turn_deg"] = math.degrees(alpha)
    return out


#: Soft tissue pressed flat against the couch, as a share of the back's subcutaneous fat
#: (``BACK_FAT_SHARE * fat_mm``, 3-22 mm): the couch's top lies this much in front of the
#: natural back's most posterior point (:meth:`BodyPlan._couch`), so the back is flat where it
#: lies on the couch (the buttocks, the sacrum, the upper back), the heavier patient over a
#: longer stretch.
COUCH_PRESS_SHARE = 0.5
#: Share of the gap between the natural (lean) back and the couch (the lumbar lordosis', after
#: :func:`supine`) that the back closes lying down (the soft tissue sags onto the couch and the
#: lordosis flattens supine), from T3 down (none above T1: the neck). Ten lumbar cases (seeds
#: 0-9, mid-sagittal, medians): 0.3 / 0.4 / 0.5 leave a gap of 20 / 17 / 14 mm behind L3 and put
#: the back 92 / 96 / 100 mm behind L3's centre; the real example CT: 15-18 mm and 90 mm.
COUCH_SAG_SHARE = 0.4
#: The natural back's contact is looked for from the top of the thorax down to this far (mm)
#: below the spine's lowest centre (the buttocks).
COUCH_CONTACT_BELOW_MM = 150.0
#: The couch: a cradle (the bottom of an ellipse of radii ``COUCH_RADII_MM``, its sides rising
#: towards the front) COUCH_HALF_WIDTH_MM either side of its centre, under a foam mattress
#: (:class:`Couch`). The real example CT: the couch 3 mm behind the back where it touches at
#: T12-L1 and 15-18 mm behind the lumbar lordosis, straight along z within its 3 mm pixels, its
#: top rising by about 20 mm from 115 to 175 mm beside the midline (here 14 -> 34 mm); its
#: pixels (3 mm) are -520 / -210 / 60 HU at the 10th / 50th / 90th percentile. The real 0.98 mm
#: PET/CT slab (``dicom_slab``, a Siemens table): a 27 mm foam mattress (-940 HU) under the
#: back, the couch's top two skins 2 mm thick 3 mm apart (peaks 230-480 HU), a foam core of
#: 29 mm (-900..-935 HU) and a bottom skin of 3 mm (480 HU) that spans about 330 mm of the top's
#: 420 mm; the top rises by 34 mm at 156 mm beside the midline, the bottom by 27 mm.
COUCH_RADII_MM = (300.0, 180.0)
COUCH_HALF_WIDTH_MM = 210.0
#: The bottom skin (and the core above it) spans this far either side of the couch's centre.
COUCH_BOTTOM_HALF_WIDTH_MM = 165.0
#: Per-case ranges (uniform): the mattress' thickness under the back (thin sheets and pads to
#: thick mattresses), each skin's thickness, the core's; the share of couches whose top is
#: two skins COUCH_GAP_MM apart (with foam between) rather than one. The skins of the two real
#: couches differ: above the foam, about 4,300 HU x mm per skin on the PET/CT slab (its
#: profile summed across the skin) and about 700 on the 3 mm example CT (one line at -700 HU);
#: a skin of 0.8-2.5 mm at ``Tissue.COUCH``'s 500 +- 100 HU gives 1,100-3,600.
COUCH_PAD_MM = (2.0, 30.0)
COUCH_SKIN_MM = (0.8, 2.5)
COUCH_CORE_MM = (22.0, 36.0)
COUCH_GAP_MM = 2.0
P_COUCH_DOUBLE_TOP = 0.5


@dataclass(frozen=True)
class Couch:
    """One case's couch: from the back's contact line down, a foam mattress ``pad_mm`` thick
    (``Tissue.FOAM``), the top skin (``Tissue.COUCH``, ``skin_mm``; two skins with
    COUCH_GAP_MM of foam between where ``double_top``), a foam core ``core_mm`` thick and the
    bottom skin (``skin_mm``), the core and the bottom only within
    COUCH_BOTTOM_HALF_WIDTH_MM of the centre."""

    pad_mm: float = 3.0
    skin_mm: float = 2.0
    double_top: bool = False
    core_mm: float = 30.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Couch:
        """A couch with the per-case ranges above (four draws from ``rng``)."""
        return cls(
            pad_mm=float(rng.uniform(*COUCH_PAD_MM)),
            skin_mm=float(rng.uniform(*COUCH_SKIN_MM)),
            double_top=bool(rng.random() < P_COUCH_DOUBLE_TOP),
            core_mm=float(rng.uniform(*COUCH_CORE_MM)),
        )

    def layers(self) -> list[tuple[float, Tissue, bool]]:
        """``(thickness mm, tissue, full width)`` from the back's contact line down; not full
        width: only within COUCH_BOTTOM_HALF_WIDTH_MM of the centre."""
        top = [(self.skin_mm, _T.COUCH, True)]
        if self.double_top:
            top += [(COUCH_GAP_MM, _T.FOAM, True), (self.skin_mm, _T.COUCH, True)]
        return [
            (self.pad_mm, _T.FOAM, True),
            *top,
            (self.core_mm, _T.FOAM, False),
            (self.skin_mm, _T.COUCH, False),
        ]

    @property
    def depth_mm(self) -> float:
        """From the back's contact line to the couch's bottom."""
        return sum(t for t, _, _ in self.layers())


def lay_on_couch(pt: Painter, plan: BodyPlan, couch: Couch, workers: int = 1) -> None:
    """In place: the patient on ``couch``, a shallow cradle the same on every slice (the back's
    contact line at ``plan.couch_y`` in the middle, its sides rising towards the front). Soft
    tissue behind the contact line (the natural back's contact areas) becomes air, so the back
    is flat there (bone and metal never reach it), and so does everything behind the couch;
    then the mattress and the couch are painted into the air behind the back
    (:meth:`Couch.layers`). Slice by slice in ``workers`` processes
    (:func:`spinelab.synth.parallel.for_each`)."""
    g = pt.grid
    y, x = pt.y, pt.x
    rx, ry = COUCH_RADII_MM
    i0, i1 = g.index_range(
        0, plan.couch_x - COUCH_HALF_WIDTH_MM, plan.couch_x + COUCH_HALF_WIDTH_MM
    )
    if i1 <= i0:
        return
    dx = np.abs(x[i0:i1] - plan.couch_x)
    u = np.minimum(dx / rx, 1.0)
    contact = plan.couch_y - ry * (1.0 - np.sqrt(1.0 - u * u))  # the sides rise to the front
    j0, j1 = g.index_range(1, float(contact.min()), float(contact.max()) + couch.depth_mm)
    if j1 <= j0:
        return
    d = y[j0:j1, None] - contact[None, :]
    behind = d > 0.0  # where the back is pressed flat
    layer = np.zeros(d.shape, dtype=np.uint8)  # the couch's tissue per (row, column); 0: none
    narrow = dx < COUCH_BOTTOM_HALF_WIDTH_MM
    depth = 0.0
    for thick, tissue, full in couch.layers():
        inside = (d >= depth) & (d < depth + thick)
        layer[inside if full else inside & narrow[None, :]] = tissue
        depth += thick
    painted = layer != 0
    keep = np.zeros(256, dtype=bool)
    keep[[int(t) for t in (*BONE_TISSUES, _T.METAL, _T.TOOTH, _T.FILLING)]] = True

    def lay(k: int) -> None:
        sub = pt.tissue[k, j0:, i0:i1]
        top = sub[: j1 - j0]
        np.copyto(top, np.uint8(_T.AIR), where=behind & ~keep[top])
        np.copyto(sub[j1 - j0 :], np.uint8(_T.AIR), where=~keep[sub[j1 - j0 :]])
        np.copyto(top, layer, where=painted & (top == _T.AIR))

    parallel.for_each(g.shape_kji[0], lay, workers, into=(pt.tissue,))
