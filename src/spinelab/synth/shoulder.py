"""The shoulder girdle: scapulae on the back of the chest and clavicles.

Upper thoracic CT shows both scapulae in every axial section from T2 to T7 (a thin bright
plate on the posterior chest wall behind the ribs, in muscle, with its thick lateral border,
the spine of the scapula standing off its back and, higher up, the glenoid, the acromion and
the coracoid process) and the clavicles at the thoracic inlet, from the manubrium out to the
acromion; the generator had neither. Dimensions and positions (standard adult anatomy, Gray's
Anatomy 41st ed.; Moore's Clinically Oriented Anatomy 8th ed.; rounded):

* scapula about 160 mm tall: the superior angle at T2, the inferior angle at T7, the medial
  border 60-85 mm from the spinous processes, the root of the spine of the scapula at T3-T4;
  the glenoid at the lateral angle (between T2 and T3, the arms module's humeral head height)
  about 125 mm from the midline (inside the trunk's outline here: the arms, placed outside it,
  leave their humeral heads about 65 mm further out); the blade 2-3 mm of compact bone (thin enough to read as one
  bright line), the lateral border a 9-10 mm thick rod, the spine a ridge about 12 mm thick
  along the blade's back, running out and up into the acromion over the shoulder joint; the
  coracoid process reaching forwards from the glenoid's neck;
* the blade lies on the ribs' posterior curve with the subscapularis and serratus anterior
  between (:data:`PLATE_OFFSET_MM` behind the ribs' ring) and the infraspinatus and
  supraspinatus behind it;
* with the arms raised (most chest and abdomen CTs) the scapula turns upwards, the inferior
  angle moving laterally (about 50-60 deg at full elevation, about the root of its spine
  early and the acromioclavicular joint late); here a turn in the coronal projection about a
  point half way between the spine's root and the glenoid (:data:`GLENOID`) by
  :data:`UPWARD_ROTATION_DEG` per pose, 25-40 deg with the arms raised (a turn about one fixed
  point overstates the inferior angle's travel: 40 deg already takes it 55-60 mm out);
* clavicle about 150 mm long and 12-15 mm across, an S-curve from the sternoclavicular joint at
  the manubrium's upper corner, laterally, up and back to the acromion.

Sizes scale with the body (``plan.scale``). Bone is painted only into soft tissue and fat (the
ribs stay); the muscles round the blade only into fat.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.body import BodyPlan, Level, RibRing
from spinelab.synth.painter import THIN_CORTEX, Painter, smooth_path
from spinelab.synth.tissues import SOFT_TISSUES, Tissue

_T = Tissue

#: The scapula's outline in the coronal projection: (mm from the midline, times the body
#: scale; height as (vertebra, vertebra, share of the way from the first's centre to the
#: second's)). Superior angle, the superior border's lateral end at the coracoid's base, the
#: glenoid's neck, the inferior angle, the medial border at the spine's root.
OUTLINE = (
    (60.0, ("T2", "T1", 0.3)),
    (105.0, ("T2", "T1", 0.1)),
    (125.0, ("T3", "T2", 0.55)),
    (85.0, ("T7", "T7", 0.0)),
    (62.0, ("T4", "T3", 0.3)),
)
#: Indices of the outline's glenoid neck and the spine's root: the upward turn pivots half
#: way between them (the scapula turns about the root early in elevation, about the
#: acromioclavicular joint late; the clavicle keeps the glenoid from rising far).
GLENOID, ROOT = 2, 4
#: Upward rotation (deg) with the arms down and raised (drawn uniformly in each range): the
#: inferior angle 45-60 mm further out with the arms raised.
UPWARD_ROTATION_DEG = {False: (0.0, 8.0), True: (25.0, 40.0)}
#: The blade: behind the ribs' ring by this much (mm: rib and subscapularis), this thick (mm).
PLATE_OFFSET_MM = 18.0
PLATE_MM = 2.5
#: Muscle in front of (subscapularis) and behind (infraspinatus) the blade (mm).
MUSCLE_FRONT_MM = 14.0
MUSCLE_BACK_MM = 16.0
#: Radii (mm) of the lateral border, the spine of the scapula (its ridge this far behind the
#: blade), the acromion, the coracoid and the glenoid's head; the compact shell (mm).
LATERAL_BORDER_R_MM = 4.5
SPINE_R_MM = 6.0
SPINE_BEHIND_MM = 7.0
ACROMION_R_MM = 5.5
CORACOID_R_MM = 5.0
GLENOID_R_MM = 13.0
SHELL_MM = 1.5
#: Clavicle: radius (mm), its medial end this far from the midline at the manubrium's top
#: (mm below T2's centre), its lateral end at the acromion.
CLAVICLE_R_MM = 7.0
CLAVICLE_MEDIAL_MM = (25.0, 15.0)


def _height(z_of: dict[str, float], key: tuple[str, str, float]) -> float:
    a, b, t = key
    return z_of[a] + t * (z_of[b] - z_of[a])


def outline_mm(z_of: dict[str, float], scale: float, upward_deg: float) -> NDArray[np.float64]:
    """The scapula's outline ``(5, 2)``: (mm from the midline, height mm), turned upwards by
    ``upward_deg`` (the inferior angle moving laterally, see :data:`GLENOID`)."""
    pts = np.array([(a * scale, _height(z_of, key)) for a, key in OUTLINE])
    p = 0.5 * (pts[GLENOID] + pts[ROOT])
    th = math.radians(upward_deg)
    # an upward turn of the right scapula seen from behind: points below the pivot move out
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    return np.asarray(p + (pts - p) @ rot.T)


def _interval(poly: NDArray[np.float64], z: float) -> tuple[float, float] | None:
    """The polygon's extent along its first axis on the line at height ``z``."""
    xs = []
    n = len(poly)
    for i in range(n):
        (a0, z0), (a1, z1) = poly[i], poly[(i + 1) % n]
        if (z0 - z) * (z1 - z) <= 0 and z0 != z1:
            xs.append(a0 + (z - z0) / (z1 - z0) * (a1 - a0))
    if len(xs) < 2:
        return None
    return min(xs), max(xs)


def _band(
    ring: RibRing, inner: float, a0: float, a1: float, side: float
) -> Callable[[Any, Any], Any]:
    """Predicate: behind ``ring``'s centre, outside it grown by ``inner`` mm, between ``a0`` and
    ``a1`` mm to one ``side`` of its centre (the blade's span at a height)."""
    out = ring.grown(inner)

    def m(x: Any, y: Any) -> Any:
        a = (x - ring.cx) * side
        return (a >= a0) & (a <= a1) & (y > ring.cy) & (out.rho(x, y) > 1.0)

    return m


def paint_shoulder_girdle(
    pt: Painter,
    plan: BodyPlan,
    rib_ring: Callable[[Level, float], RibRing],
    sternum_front: Callable[[float], float | None],
    arms_down: bool,
    rng: np.random.Generator,
) -> None:
    """Paint both scapulae and clavicles (see the module docstring) after the ribs.

    Args:
        pt: The painter.
        plan: The body plan (levels, heights of the vertebral centres, body scale).
        rib_ring: The ribs' ring at a level and height (``render._rib_ring``: tighter at the
            thoracic inlet); the blades lie behind it.
        sternum_front: The sternum's front (y, mm) at a height, None where there is none.
        arms_down: The case's arm pose (the scapula's upward turn).
        rng: Draws the turn.
    """
    z_of = plan.z_of
    need = ("T1", "T2", "T3", "T4", "T7")
    if any(n not in z_of for n in need):
        return
    s = plan.scale
    lo, hi = UPWARD_ROTATION_DEG[not arms_down]
    turn = float(rng.uniform(lo, hi))
    poly = outline_mm(dict(z_of), s, turn)
    z_lo, z_hi = float(poly[:, 1].min()), float(poly[:, 1].max()) + 25.0
    g = pt.grid
    if z_hi < float(pt.z.min()) - 10.0 or z_lo > float(pt.z.max()) + 10.0:
        return

    def plate_y(lv: Level, z: float, a: float, behind: float) -> float:
        """The blade's surface ``behind`` mm behind the ribs' ring, ``a`` mm from the
        spine (clamped to the ring's width)."""
        return rib_ring(lv, z).grown(behind).y_behind(a)

    def world(
        side: float, a: float, z: float, behind: float, forward: float = 0.0
    ) -> NDArray[np.float64]:
        lv = plan.level(z)
        return np.array([lv.x_s + side * a, plate_y(lv, z, a, behind) - forward, z])

    k0, k1 = g.index_range(2, z_lo - 2.0, z_hi)
    for k in range(k0, k1):
        z = float(pt.z[k])
        span = _interval(poly, z)
        if span is None:
            continue
        lv = plan.level(z)
        ring = rib_ring(lv, z)
        for side in (1.0, -1.0):
            a0, a1 = span

            # muscles round the blade (into fat only), then the blade; behind the ring's
            # centre only, so with the exponent of its back half
            for grow, tissue, inner, only in (
                (
                    PLATE_OFFSET_MM + PLATE_MM + MUSCLE_BACK_MM,
                    _T.MUSCLE,
                    PLATE_OFFSET_MM - MUSCLE_FRONT_MM,
                    (_T.FAT,),
                ),
                (PLATE_OFFSET_MM + PLATE_MM, THIN_CORTEX, PLATE_OFFSET_MM, SOFT_TISSUES),
            ):
                outer = ring.grown(grow)
                pt.ellipse2d(
                    k,
                    outer.cx,
                    outer.cy,
                    outer.hw,
                    outer.hd,
                    tissue,
                    power=outer.power_back,
                    extra=_band(ring, inner, a0, a1, side),
                    only=only,
                )
    # the thick parts: lateral border, spine and acromion, glenoid, coracoid; the clavicle
    glen = poly[GLENOID]
    ia = poly[3]
    root = poly[ROOT]
    z_acr = z_of["T1"] - 5.0
    for side in (1.0, -1.0):
        border = np.array(  # straight segments: pt.tube samples them itself
            [
                world(side, float(ia[0]), float(ia[1]), PLATE_OFFSET_MM + 2.0),
                world(side, glen[0], glen[1], PLATE_OFFSET_MM + 2.0),
            ]
        )
        pt.tube(border, LATERAL_BORDER_R_MM * s, THIN_CORTEX, _T.MARROW, SHELL_MM, SOFT_TISSUES)
        sp_pts = np.array(
            [
                world(side, root[0], root[1], PLATE_OFFSET_MM + SPINE_BEHIND_MM),
                world(
                    side,
                    0.5 * (root[0] + glen[0]),
                    0.5 * (root[1] + z_acr) + 5.0,
                    PLATE_OFFSET_MM + SPINE_BEHIND_MM + 3.0,
                ),
                world(side, glen[0] + 8.0 * s, z_acr, PLATE_OFFSET_MM + 6.0),
            ]
        )
        pt.tube(smooth_path(sp_pts), SPINE_R_MM * s, THIN_CORTEX, _T.MARROW, SHELL_MM, SOFT_TISSUES)
        acr_end = world(side, glen[0] + 18.0 * s, z_acr, PLATE_OFFSET_MM - 10.0, 15.0 * s)
        pt.tube(
            np.array([sp_pts[-1], acr_end]),
            ACROMION_R_MM * s,
            THIN_CORTEX,
            _T.MARROW,
            SHELL_MM,
            SOFT_TISSUES,
        )
        gc = world(side, glen[0] + 4.0 * s, glen[1], PLATE_OFFSET_MM - 4.0)
        pt.tube(gc[None, :], GLENOID_R_MM * s, THIN_CORTEX, _T.MARROW, SHELL_MM, SOFT_TISSUES)
        cor = np.array(
            [
                gc + np.array([-side * 8.0 * s, 0.0, 12.0 * s]),
                world(side, glen[0] - 8.0 * s, glen[1] + 14.0 * s, PLATE_OFFSET_MM, 40.0 * s),
            ]
        )
        pt.tube(cor, CORACOID_R_MM * s, THIN_CORTEX, _T.MARROW, SHELL_MM, SOFT_TISSUES)
        # the clavicle: from the manubrium's upper corner out, up and back to the acromion
        z_m = z_of["T2"] - CLAVICLE_MEDIAL_MM[1]
        y_m = sternum_front(z_m)
        if y_m is None:
            continue
        lv_m = plan.level(z_m)
        med = np.array([lv_m.x_s + side * CLAVICLE_MEDIAL_MM[0] * s, y_m + 6.0, z_m])
        mid = med + np.array([side * 45.0 * s, -4.0 * s, 10.0])
        lat = acr_end + np.array([-side * 6.0 * s, 0.0, 4.0])
        bend = lat + np.array([-side * 35.0 * s, -12.0 * s, -4.0])
        pt.tube(
            smooth_path(np.array([med, mid, bend, lat])),
            CLAVICLE_R_MM * s,
            THIN_CORTEX,
            _T.MARROW,
            2.0,
            SOFT_TISSUES,
        )
