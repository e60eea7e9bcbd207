"""The neck's soft tissue on an axial slice, from the skull base to the thoracic inlet.

Part of the label-map renderer (:mod:`spinelab.synth.render`), which paints the neck's skin,
subcutaneous fat and a muscle ellipse inside them and then calls :meth:`Neck.paint` for the
rest: the fat of the visceral, carotid and posterior spaces; the sternocleidomastoid, scalene,
prevertebral (longus) and strap muscles; the common carotid artery and the internal jugular
vein; the airway (pharynx, larynx, trachea) with the thyroid and cricoid cartilages and the
tracheal rings; the pharynx's lower part and the oesophagus behind it; and the thyroid gland.
The neck used to be a muscle ellipse with a round trachea, a small soft-tissue oesophagus and
one pair of vessels at every level from C1 to T1 (no fat planes, no larynx, no thyroid).

Positions follow the cervical vertebrae: each structure's centre is given relative to the
spine's centre line ``x`` and the vertebral bodies' front ``y`` (LPS mm, + = left, posterior),
at the levels' centres (:data:`KEYS`), linear between, scaled with the body. Sizes are typical
adult values as textbooks give them, not measured here (no real neck CT is at hand): tracheal
lumen 13-25 mm across, common carotid 6-8 mm, internal jugular vein 10-15 mm and flattened,
thyroid lobes about 20 x 20 x 45 mm, the isthmus at the second to fourth tracheal rings, the
laryngeal prominence at C4-C5, the cricoid at C6, prevertebral soft tissue 3-7 mm thick at
C2-C4. Pure numpy, no random draws (the same spine, the same neck).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.body import Level
from spinelab.synth.painter import Painter
from spinelab.synth.tissues import Tissue

_T = Tissue

#: Levels whose centres carry the keyframes below (top down).
KEYS: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "T1")

#: Airway lumen per level: centre (mm in front of the vertebral bodies' front, so negative),
#: half-width, half-depth. C1-C3: the naso- and oropharynx, wide and flat just in front of the
#: prevertebral tissue; C4-C6: the larynx, further forward and narrow at the glottis; C7-T1:
#: the trachea, round, with the oesophagus between it and the spine.
AIRWAY_MM: tuple[tuple[float, float, float], ...] = (
    (-12.0, 13.0, 6.0),
    (-11.0, 14.0, 6.0),
    (-13.0, 12.0, 6.0),
    (-20.0, 8.0, 8.0),
    (-22.0, 6.0, 7.0),
    (-21.0, 8.0, 8.0),
    (-22.0, 9.0, 8.0),
    (-22.0, 9.0, 8.0),
)
#: Sternocleidomastoid per level: centre (share of the muscle ellipse's half-width out from
#: the midline; mm from the bodies' front, + = behind), half-axes (mm). It runs from the
#: mastoid (behind and lateral, high) down and forwards to the sternum and clavicle.
SCM: tuple[tuple[float, float, float, float], ...] = (
    (0.78, 12.0, 8.0, 12.0),
    (0.76, 8.0, 8.0, 14.0),
    (0.72, 0.0, 8.0, 14.0),
    (0.68, -8.0, 8.0, 14.0),
    (0.63, -16.0, 8.0, 13.0),
    (0.56, -24.0, 8.0, 12.0),
    (0.46, -32.0, 9.0, 9.0),
    (0.34, -38.0, 10.0, 7.0),
)
#: Common carotid artery and internal jugular vein (one each side): centre (mm from the
#: midline; mm from the bodies' front) and half-axes (mm).
CAROTID_MM = (22.0, -10.0, 3.8, 3.8)
JUGULAR_MM = (34.0, -7.0, 6.5, 5.0)
#: Scalene muscles beside the vertebral bodies (mm beyond the body's half-width; mm from its
#: front) and half-axes (mm), from C3 down.
SCALENE_MM = (16.0, 8.0, 10.0, 12.0)
#: The back of the neck's fat plane between its superficial and deep muscles: an elliptic arc
#: behind the spinal canal, centred this far (mm) behind the vertebral bodies' back, its
#: half-width and half-depth these shares of the muscle ellipse's half-width and of the room
#: behind the centre, this thick (mm); a midline septum as thick from the centre back.
POSTERIOR_PLANE = (12.0, 0.62, 0.55, 1.5)
#: Prevertebral (longus) muscles: a band this thick (mm) in front of the bodies, this much
#: wider than them either side.
PREVERTEBRAL_MM = (5.0, 5.0)
#: Strap muscles: a band this thick (mm) inside the front of the neck's muscle ellipse, this
#: half-width (mm).
STRAP_MM = (3.5, 28.0)
#: The fat of the visceral, carotid and posterior spaces: an ellipse from the strap muscles
#: back to FAT_SPACE_MM behind the bodies' front, FAT_SPACE_SHARE of the muscle ellipse's
#: half-width across per level of KEYS (C1 first); above C4 the pharynx, the tongue's base
#: and the floor of the mouth take its place (it was 0.82 up to C1, a broad band of fat
#: behind the jaw).
FAT_SPACE_MM = 8.0
FAT_SPACE_SHARE = (0.4, 0.45, 0.6, 0.82, 0.82, 0.82, 0.82, 0.82)
#: Thyroid cartilage: a shield round the front of the larynx from above C4's centre to C6's
#: (mm above C4's centre), its outer half-axes (mm) and thickness (mm).
THYROID_CARTILAGE_MM = (8.0, 19.0, 14.0, 2.0)
#: Cricoid cartilage: a full ring this thick (mm) round the airway, this far (mm) either side
#: of C6's centre; the tracheal rings below are 1.5 mm thick and open behind.
CRICOID_MM = (3.0, 5.0)
RING_MM = 1.5
#: Thyroid gland: lobes beside the airway from this far (mm) below C5's centre to this far
#: below T1's, half-axes (mm), the isthmus in front of the trachea from C7's centre to T1's,
#: its half-width and half-thickness (mm).
THYROID_LOBES_MM = (5.0, 5.0, 8.0, 10.0)
THYROID_ISTHMUS_MM = (12.0, 3.5)
#: The oesophagus (from C6 down; the pharynx's lower part, collapsed, behind the larynx
#: above): centre (mm left of the midline, mm from the bodies' front), half-axes (mm).
OESOPHAGUS_MM = (3.0, -6.5, 8.0, 4.0)


#: The mandible relative to C3's centre (mm): its body a U-shaped bony plate
#: (:func:`mandible_polyline`), its arms this far either side of the midline at the angles,
#: which lie this far in front of the centre, the chin this much further forwards, the body's
#: lower border this far above the centre at the chin and this much higher at the angles;
#: the plate's half-thickness and half-height. Adult mandibles: body 25-33 mm tall and 8-12 mm
#: thick, intergonial width 90-100 mm, chin to the angles' line 40-50 mm in axial view; the
#: rami run up from the angles to the condyles at the skull base (:data:`RAMUS_MM`). The
#: mandible used to be a 12 mm round rod along the U, two round bones in axial sections. Its
#: lower border at the chin lies 10 mm below C3's centre (the symphysis's lower border is at
#: about C3-C4; it was 4 mm above it, which put the occlusal plane and so the hard palate,
#: :mod:`spinelab.synth.head`, 14 mm higher, above C1 instead of near C1's anterior arch).
MANDIBLE_MM = (48.0, 30.0, 50.0, -10.0, 17.0, 5.0, 14.0)
#: The angle range (radians, either side of the chin) of the U's parametrization.
MANDIBLE_SPAN = 1.45
#: The rami: plates this thick and this wide from front to back (mm) from the angles up to the
#: condyles this far above C1's centre (at the skull base, in front of the ear canals,
#: :data:`spinelab.synth.head.EAR_CANAL_MM`; 12 mm before the skull base was built), leaning
#: back by this much (mm) on the way.
RAMUS_MM = (8.0, 28.0, 20.0, 10.0)
#: The jaw's soft tissue (floor of the mouth, tongue, submandibular and submental spaces) round
#: the mandible, from under the chin up to where the head begins: its subcutaneous fat this
#: thick (mm) over a muscle mass, reaching this far (mm) beyond the mandible's arms and in
#: front of the chin; under the chin the skin turns back to the neck over this height (mm).
#: The mandible used to hang in air in front of the neck (cervical fields of view showed a
#: black crescent between the two).
JAW_MM = (6.0, 12.0, 10.0)
#: The neck's painter stops this far (mm) above C1's centre; the head
#: (:mod:`spinelab.synth.head`) takes over there.
NECK_TOP_ABOVE_C1_MM = 15.0
#: Above the neck's top the jaw's soft tissue (the floor of the mouth and the tongue, inside
#: the mandible) runs on up to this height (mm above C1's centre), under the palate and the
#: face of :mod:`spinelab.synth.head`, which paints only into the air round it.
JAW_ABOVE_C1_MM = 35.0


def mandible_polyline(c3: NDArray[np.float64], n: int = 30) -> NDArray[np.float64]:
    """Points ``(n, 3)`` (LPS mm) along the mid-line of the mandible's body (:data:`MANDIBLE_MM`,
    the plate's centre, half its height above the lower border) in front of C3's centre
    ``c3``: from one angle round the chin to the other."""
    half, back, depth, low, rise, _t, h = MANDIBLE_MM
    ph = np.linspace(-MANDIBLE_SPAN, MANDIBLE_SPAN, n)
    return np.stack(
        [
            c3[0] + half * np.sin(ph) / np.sin(MANDIBLE_SPAN),
            c3[1]
            - back
            - depth * (np.cos(ph) - np.cos(MANDIBLE_SPAN)) / (1 - np.cos(MANDIBLE_SPAN)),
            c3[2] + low + h + rise * (1 - np.cos(ph)) / (1 - np.cos(MANDIBLE_SPAN)),
        ],
        axis=1,
    )


def mandible_lowest(c3: NDArray[np.float64]) -> float:
    """Height (mm) of the mandible's lower border at the chin."""
    return float(c3[2] + MANDIBLE_MM[3])


def paint_mandible(pt: Painter, c3: NDArray[np.float64], z_c1: float) -> None:
    """The mandible (:data:`MANDIBLE_MM`, :data:`RAMUS_MM`) in front of C3's centre ``c3``:
    its body a U-shaped upright plate, the rami plates up from the angles to the condyles at
    the skull base (``z_c1``: C1's centre height), into soft tissue, air and brain only.
    Painted after the soft tissue, into the jaw of :meth:`Neck.paint_jaw`."""
    body = mandible_polyline(c3)
    m = len(body)
    thick, high = MANDIBLE_MM[5], MANDIBLE_MM[6]
    pt.flat_tube(
        body, np.full(m, high), np.full(m, thick), np.zeros(m), _T.CORTICAL, _T.MARROW, 2.0
    )
    r_thick, r_wide, r_top, r_lean = RAMUS_MM
    soft = (_T.AIR, _T.FAT, _T.MUSCLE, _T.SOFT, _T.BRAIN)
    cortex = 1.5
    for end in (body[0], body[-1]):
        z0, z1 = float(end[2]), z_c1 + r_top
        k0, k1 = pt.grid.index_range(2, z0, z1)
        for k in range(k0, k1):
            y = end[1] + r_lean * (float(pt.z[k]) - z0) / max(z1 - z0, 1.0)
            pt.ellipse2d(k, end[0], y, r_thick / 2, r_wide / 2, _T.CORTICAL, only=soft)
            rx, ry = r_thick / 2 - cortex, r_wide / 2 - cortex
            pt.ellipse2d(k, end[0], y, rx, ry, _T.MARROW, only=(_T.CORTICAL,))


class Neck:
    """The neck of one spine: its levels' heights, the body's scale and C3's centre (where
    the mandible is, :func:`mandible_polyline`; None: no jaw)."""

    def __init__(
        self, z_of: dict[str, float], scale: float, c3: NDArray[np.float64] | None = None
    ) -> None:
        zs = [z_of.get(k) for k in KEYS]
        known = [(i, z) for i, z in enumerate(zs) if z is not None]
        if len(known) >= 2:  # a missing level where a level's step puts it
            idx = np.array([i for i, _ in known], dtype=float)
            zk = np.array([z for _, z in known])
            step = float((zk[-1] - zk[0]) / (idx[-1] - idx[0]))
            at = np.arange(len(KEYS), dtype=float)
            full = np.interp(at, idx, zk)
            full = np.where(at < idx[0], zk[0] + (at - idx[0]) * step, full)
            full = np.where(at > idx[-1], zk[-1] + (at - idx[-1]) * step, full)
        else:  # no neck in the chain: 20 mm a level from C1 at 0
            full = -20.0 * np.arange(len(KEYS), dtype=float)
        self.z = full[::-1].copy()  # ascending (T1 first)
        self.scale = scale
        self.c3 = c3

    def _at(self, z: float, table: Any) -> Any:
        """The keyframes ``table`` (one row per level of KEYS) at height ``z``."""
        rows = np.asarray(table, dtype=float)[::-1]
        return np.array([np.interp(z, self.z, rows[:, c]) for c in range(rows.shape[1])])

    def level_z(self, name: str) -> float:
        """Height (mm) of a level of :data:`KEYS` (its centre, or where it would be)."""
        return float(self.z[len(KEYS) - 1 - KEYS.index(name)])

    def airway(self, z: float, lv: Level) -> tuple[float, float, float, float]:
        """The airway's lumen at ``z``: centre x, y and half-axes (mm)."""
        v, rx, ry = self._at(z, AIRWAY_MM) * self.scale
        return lv.x_s, lv.y_s - lv.depth / 2 + v, rx, ry

    def paint(
        self,
        pt: Painter,
        k: int,
        z: float,
        lv: Level,
        wall: tuple[float, float, float, float],
    ) -> None:
        """Paint slice ``k`` (height ``z``, level ``lv``) inside the neck's muscle ellipse
        ``wall`` = (centre x, centre y, half-width, half-depth)."""
        s = self.scale
        xs, yf = lv.x_s, lv.y_s - lv.depth / 2  # the vertebral bodies' front
        _, wy, whw, whd = wall
        y_in = wy - whd  # the front of the muscle ellipse
        ell = pt.ellipse2d
        self.paint_jaw(pt, k, z, xs, wy + whd)
        # the fat spaces, then the muscles in them
        back = yf + FAT_SPACE_MM * s
        front = y_in + STRAP_MM[0] * s
        (share,) = self._at(z, [(v,) for v in FAT_SPACE_SHARE])
        ell(k, xs, (front + back) / 2, share * whw, (back - front) / 2, _T.FAT)
        ell(k, xs, y_in + STRAP_MM[0] * s / 2, STRAP_MM[1] * s, STRAP_MM[0] * s, _T.MUSCLE)
        # the back's muscles in layers: a fat plane between the superficial (trapezius,
        # splenius) and the deep ones (semispinalis, multifidus) and the midline septum
        y_back = wy + whd  # the back of the muscle ellipse
        cx, cy = xs, lv.y_s + lv.depth / 2 + POSTERIOR_PLANE[0] * s
        rx = POSTERIOR_PLANE[1] * whw
        ry = POSTERIOR_PLANE[2] * (y_back - cy)
        t = POSTERIOR_PLANE[3] * s
        inner = _ring(cx, cy, rx - t, ry - t)

        def behind(x: Any, y: Any) -> Any:
            return (y > cy) & inner(x, y)

        ell(k, cx, cy, rx, ry, _T.FAT, extra=behind, only=(_T.MUSCLE,))
        ell(k, xs, (cy + y_back) / 2, t / 2 + 0.5, (y_back - cy) / 2, _T.FAT, only=(_T.MUSCLE,))
        if z <= self.level_z("C3"):
            dx, dy, rx, ry = (v * s for v in SCALENE_MM)
            for side in (1.0, -1.0):
                ell(k, xs + side * (lv.width / 2 + dx), yf + dy, rx, ry, _T.MUSCLE)
        pw, pd = PREVERTEBRAL_MM
        ell(k, xs, yf - pd * s / 2, lv.width / 2 + pw * s, pd * s, _T.MUSCLE)
        share, dy, rx, ry = self._at(z, SCM)
        for side in (1.0, -1.0):
            ell(k, xs + side * share * whw, yf + dy * s, rx * s, ry * s, _T.MUSCLE)
        # the carotid sheath: artery medial, vein lateral
        for dx, dy, rx, ry in (CAROTID_MM, JUGULAR_MM):
            for side in (1.0, -1.0):
                ell(k, xs + side * dx * s, yf + dy * s, rx * s, ry * s, _T.BLOOD)
        # behind the airway: the pharynx's lower part, collapsed (C4-C6), then the oesophagus
        ax, ay, arx, ary = self.airway(z, lv)
        ox, oy, orx, ory = (v * s for v in OESOPHAGUS_MM)
        if z <= self.level_z("C6"):
            ell(k, xs + ox, yf + oy, orx, ory, _T.SOFT)
        elif z <= self.level_z("C3"):
            ell(k, xs, (ay + ary + yf) / 2, arx + 3.0 * s, max((yf - ay - ary) / 2, 1.0), _T.SOFT)
        # the thyroid gland: lobes beside the airway, the isthmus in front of the trachea
        lobe_top = self.level_z("C5") - THYROID_LOBES_MM[0] * s
        lobe_bottom = self.level_z("T1") - THYROID_LOBES_MM[1] * s
        if lobe_bottom <= z <= lobe_top:
            rx, ry = THYROID_LOBES_MM[2] * s, THYROID_LOBES_MM[3] * s
            for side in (1.0, -1.0):
                ell(k, ax + side * (arx + rx + 1.5 * s), ay + 2.0 * s, rx, ry, _T.THYROID)
            if self.level_z("T1") <= z <= self.level_z("C7"):
                iw, it = THYROID_ISTHMUS_MM[0] * s, THYROID_ISTHMUS_MM[1] * s
                ell(k, ax, ay - ary - RING_MM * s - it, iw, it, _T.THYROID)
        # cartilages round the airway, then its lumen
        top, orx_c, ory_c, thick = THYROID_CARTILAGE_MM
        z_c6 = self.level_z("C6")
        cric_t, cric_h = CRICOID_MM
        if z_c6 <= z <= self.level_z("C4") + top * s:
            # the shield: the front half of an elliptic ring, its back edge at the airway
            ring = _ring(ax, ay, orx_c * s - thick * s, ory_c * s - thick * s)
            ell(k, ax, ay, orx_c * s, ory_c * s, _T.CARTILAGE, extra=ring, y_below=ay)
        if abs(z - z_c6) <= cric_h * s:
            ring = _ring(ax, ay, arx, ary)
            ell(k, ax, ay, arx + cric_t * s, ary + cric_t * s, _T.CARTILAGE, extra=ring)
        elif z < z_c6:
            ring = _ring(ax, ay, arx, ary)
            y_open = ay + 0.5 * ary  # the rings are open behind (the trachealis muscle)
            r = RING_MM * s
            ell(k, ax, ay, arx + r, ary + r, _T.CARTILAGE, extra=ring, y_below=y_open)
        ell(k, ax, ay, arx, ary, _T.GAS)

    def paint_jaw(self, pt: Painter, k: int, z: float, xs: float, y_back: float) -> None:
        """The jaw's soft tissue (:data:`JAW_MM`) on slice ``k``, into the air in front of
        the neck only (the neck's own layers are kept); ``y_back``: how far back it may reach
        (the neck's back; above the neck, the spine's centre line)."""
        if self.c3 is None:
            return
        half, back, depth, _low, _rise, r, _h = MANDIBLE_MM
        fat, reach, turn = JAW_MM
        chin_low = mandible_lowest(self.c3)
        f = float(np.clip((z - chin_low + turn) / turn, 0.0, 1.0))
        if f <= 0.0:
            return
        front = self.c3[1] - back - depth - r - fat  # the skin in front of the chin
        # under the chin the front turns back towards the neck (f < 1)
        front = y_back + f * (front - y_back)
        cy, ry = (front + y_back) / 2, (y_back - front) / 2
        rx = (half + r + reach) * np.sqrt(f)
        pt.ellipse2d(k, xs, cy, rx, ry, _T.FAT, only=(_T.AIR,))
        pt.ellipse2d(k, xs, cy, rx - fat, ry - fat, _T.MUSCLE, only=(_T.AIR, _T.FAT))


def _ring(cx: float, cy: float, rx: float, ry: float) -> Callable[[Any, Any], Any]:
    """Mask of the points outside the ellipse ``(cx, cy, rx, ry)`` (for ``ellipse2d``'s
    ``extra``: paint an elliptic ring)."""

    def outside(x: Any, y: Any) -> Any:
        return ((x - cx) / max(rx, 1e-6)) ** 2 + ((y - cy) / max(ry, 1e-6)) ** 2 > 1.0

    return outside
