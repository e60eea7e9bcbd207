"""Arms beside the torso, for scans taken with the arms down.

Most chest and abdomen CTs are taken with the arms raised above the head, out of the field of
view. A sizeable minority keep them down beside the body: trauma and intensive-care patients,
frail or immobile patients, many whole-body PET/CT and some CT colonography scans. No published
share fits a mixed clinical collection; the generator draws arms-down in
:data:`P_ARMS_DOWN` (30 %) of cases as a rough estimate (see ``SynthConfig.p_arms_down``).

With the arms down each arm shows in axial slices as a round limb lateral to the body wall,
touching it or separated by a thin gap: the upper arm with the humerus beside the chest and
upper abdomen, the elbow and the forearm's radius and ulna at lumbar and pelvic levels, the hand
beside the hip and upper thigh. The arm is painted slice by slice inside its own bounding window
(:func:`paint_arms`, called by :func:`spinelab.synth.render.render_labels` after the soft tissue
and before the bones). Its axis is placed from the painted body: far enough out that the limb
clears the body wall at every level (a running maximum along z, so the arm touches the widest
part of the trunk and leaves a gap at the waist), resting on the couch.

Dimensions (standard adult values, rounded, both sexes; Gray's Anatomy 41st ed. for the bones,
anthropometric surveys (NHANES) for the limb girths):

* humerus about 330 mm long (300 mm from the head's centre to the elbow joint), head 45 mm
  across, shaft 22 mm across with a 3-4 mm cortex around a fatty (yellow) medullary canal, the
  distal end 60 mm wide across the epicondyles;
* radius 240 mm and ulna 260 mm (245 mm from joint to joint), shafts 12-15 mm across with a
  2.5 mm cortex, radial head 22 mm, distal radius 30 x 20 mm; the radius crosses in front of
  the ulna as the forearm turns from supination (palm forwards) to neutral (palm to the thigh);
* hand about 185 mm long, 85 mm broad, 30 mm thick (carpus, metacarpals, phalanges);
* limb girths: mid upper arm 280-370 mm (muscle radius about 41 mm times the body scale plus
  subcutaneous fat about 0.45 times the abdominal fat thickness), elbow about 260 mm, proximal
  forearm 260 mm, wrist 165 mm.

Lengths scale with the spine (T2 to S1 centre distance over :data:`SPINE_T2_S1_MM`); girths
with ``AnatomyParams.body_scale`` and ``fat_mm``. The humeral head sits at the level between the
T2 and T3 bodies (the glenoid), which puts the elbow at about L3 and the wrist below the hip
joint, as for arms hanging at the side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab.synth.tissues import Tissue, body_mask

if TYPE_CHECKING:
    from spinelab.synth.body import BodyPlan
    from spinelab.synth.geometry import SpineGeometry
    from spinelab.synth.painter import Painter
    from spinelab.synth.render import AnatomyParams

_T = Tissue

#: Share of cases scanned with the arms down (a rough estimate, see the module docstring).
P_ARMS_DOWN = 0.3
#: Extra half-width of the field of view (mm, times the body scale) in arms-down cases: the
#: limb's diameter and a gap (scanners reconstruct a wider field, up to 500 mm).
ARM_FOV_MARGIN_MM = 110.0
#: Humeral head centre to elbow joint, elbow to wrist joint, wrist to fingertips (mm).
HUMERUS_MM = 300.0
FOREARM_MM = 245.0
HAND_MM = 185.0
#: T2 to S1 body-centre distance of the spine these lengths belong to (mm).
SPINE_T2_S1_MM = 420.0
#: Humerus: head radius, shaft radius and cortex, half the epicondylar breadth (mm).
HUMERAL_HEAD_R_MM = 22.5
HUMERUS_SHAFT_R_MM = 11.0
HUMERUS_CORTEX_MM = 3.5
EPICONDYLAR_HALF_MM = 30.0
#: Forearm bones: radial head, radius and ulna shaft radii, shaft cortex, distal radius half-axes.
RADIUS_HEAD_R_MM = 11.0
RADIUS_SHAFT_R_MM = 6.5
ULNA_SHAFT_R_MM = 7.5
FOREARM_CORTEX_MM = 2.5
DISTAL_RADIUS_MM = (15.0, 10.0)
#: Thin cortex of the epiphyses and the hand's bones (mm).
END_CORTEX_MM = 1.2
#: Limb muscle radius (mm, times the body scale) at the shoulder, upper arm, above the elbow,
#: elbow, proximal forearm, above the wrist, wrist; and the share of the arm's fat there.
LIMB_MUSCLE_R_MM = (44.0, 41.0, 39.0, 35.0, 37.0, 25.0, 23.0)
LIMB_FAT_SHARE = (1.0, 1.0, 1.0, 0.7, 0.6, 0.35, 0.3)
#: Subcutaneous fat of the upper arm relative to the abdominal fat thickness, and its bounds.
ARM_FAT_RATIO = 0.45
ARM_FAT_MM = (3.0, 20.0)
#: Hand half-breadth and half-thickness (mm, times the body scale).
HAND_HALF_MM = (42.0, 14.0)
#: Gap between the limb and the body wall (mm): 0 = touching.
ARM_GAP_MM = (0.0, 10.0)
#: Clearance is sampled every this many mm along z, then a running maximum over
#: +-``_ENVELOPE_MM`` and a running mean over +-``_SMOOTH_MM`` make the arm's axis.
_CLEAR_STEP_MM = 4.0
_ENVELOPE_MM = 25.0
_SMOOTH_MM = 20.0

_ALLOW_AIR = np.zeros(256, dtype=bool)
_ALLOW_AIR[_T.AIR] = True
_ALLOW_SOFT = np.zeros(256, dtype=bool)
_ALLOW_SOFT[[_T.AIR, _T.FAT, _T.MUSCLE]] = True
_ALLOW_FAT = np.zeros(256, dtype=bool)
_ALLOW_FAT[_T.FAT] = True


@dataclass
class _Arm:
    """One arm's pose along z (mm, LPS); ``side`` +1 = left (+x), -1 = right."""

    side: float
    z_head: float  # humeral head centre
    z_elbow: float
    z_wrist: float
    z_tip: float  # fingertips
    y_nodes: tuple[NDArray[np.float64], NDArray[np.float64]]  # (z, y) of the axis, z ascending
    muscle_scale: float
    fat_mm: float
    bone_scale: float
    gap_mm: float
    flatten: float  # ry / rx of the limb (flattened on the couch)
    turn: float  # forearm rotation at the wrist (rad): 0 supinated, pi/2 neutral


def paint_arms(
    pt: Painter,
    geo: SpineGeometry,
    plan: BodyPlan,
    params: AnatomyParams,
    rng: np.random.Generator,
) -> None:
    """Paint both arms beside the body when ``params.arms_down`` (nothing otherwise).

    Draws the pose from a generator spawned from ``rng`` (only for arms-down cases, so the
    random stream of the others does not move)."""
    if not params.arms_down:
        return
    z_of = plan.z_of
    if "T2" not in z_of or "S1" not in z_of:
        return
    rng = rng.spawn(1)[0]
    size = float(np.clip((z_of["T2"] - z_of["S1"]) / SPINE_T2_S1_MM, 0.85, 1.15))
    z_head = 0.5 * (z_of["T2"] + z_of.get("T3", z_of["T2"] - 25.0))
    for side in (1.0, -1.0):
        abd = math.cos(math.radians(float(rng.uniform(0.0, 15.0))))  # slight abduction
        z_elbow = z_head - HUMERUS_MM * size * abd
        z_wrist = z_elbow - FOREARM_MM * size * math.cos(math.radians(float(rng.uniform(0, 25))))
        z_tip = z_wrist - HAND_MM * size
        fat = float(np.clip(ARM_FAT_RATIO * plan.fat, *ARM_FAT_MM))
        r_ua = LIMB_MUSCLE_R_MM[1] * plan.scale + fat
        lift = float(rng.uniform(0.0, 15.0))  # raised off the couch (pads, posture)
        fwd = float(rng.uniform(0.0, 40.0))  # elbow flexed: the hand forwards
        y_sh = plan.back_y(z_head) - r_ua - lift
        y_el = plan.back_y(z_elbow) - r_ua - lift
        y_wr = y_el - fwd
        y_tip = y_wr - fwd * (HAND_MM / FOREARM_MM)
        arm = _Arm(
            side=side,
            z_head=z_head,
            z_elbow=z_elbow,
            z_wrist=z_wrist,
            z_tip=z_tip,
            y_nodes=(
                np.array([z_tip, z_wrist, z_elbow, z_head + 60.0]),
                np.array([y_tip, y_wr, y_el, y_sh]),
            ),
            muscle_scale=plan.scale,
            fat_mm=fat,
            bone_scale=size,
            gap_mm=float(rng.uniform(*ARM_GAP_MM)),
            flatten=float(rng.uniform(0.85, 1.0)),
            turn=float(rng.uniform(0.0, math.pi / 2)),
        )
        _paint_arm(pt, plan, arm)


def _limb_radii(arm: _Arm, z: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Outer radius and fat thickness (mm) of the limb at levels ``z`` (arm and forearm; the
    hand's shape is separate); 0 above the shoulder."""
    zh, ze, zw = arm.z_head, arm.z_elbow, arm.z_wrist
    nodes = np.array([zw, zw + 30.0, ze - 60.0, ze, ze + 60.0, zh - 60.0, zh])
    mus = np.array(LIMB_MUSCLE_R_MM[::-1]) * arm.muscle_scale
    fat = np.array(LIMB_FAT_SHARE[::-1]) * arm.fat_mm
    m = np.interp(z, nodes, mus)
    f = np.interp(z, nodes, fat)
    # rounded top over the shoulder (the deltoid over the humeral head)
    cap = np.sqrt(np.clip(1.0 - ((z - zh) / (HUMERAL_HEAD_R_MM + 20.0)) ** 2, 0.0, 1.0))
    r = np.where(z > zh, (m + f) * cap, m + f)
    return r, np.minimum(f, r)


def _paint_arm(pt: Painter, plan: BodyPlan, arm: _Arm) -> None:
    g = pt.grid
    k0, k1 = g.index_range(2, arm.z_tip, arm.z_head + HUMERAL_HEAD_R_MM + 20.0)
    if k1 <= k0:
        return
    z = pt.z[k0:k1]
    ya = np.interp(z, *arm.y_nodes)
    r, f = _limb_radii(arm, z)
    hand = z < arm.z_wrist
    # axis-aligned half-extents of the limb (the hand is a rotated flat ellipse)
    hb, ht = (h * arm.muscle_scale for h in HAND_HALF_MM)
    ct, st = math.cos(arm.turn), math.sin(arm.turn)
    wx = np.where(hand, math.hypot(hb * ct, ht * st), r)
    wy = np.where(hand, math.hypot(hb * st, ht * ct), r * arm.flatten)
    gap = np.where(z > arm.z_head - 60.0, 0.0, arm.gap_mm)
    # lateral position: clear the painted body at sampled levels, envelope, smooth
    step = max(1, round(_CLEAR_STEP_MM / g.spacing_mm[2]))
    ks = np.arange(0, k1 - k0, step)
    # the body's outer edge lies beyond the spine's line: search only that half of each row
    i_mid = np.interp(z[ks], plan.zc, plan.xc)
    need = np.array(
        [
            _clearance(pt, k0 + q, ya[q], wx[q], wy[q], arm.side, float(xm)) + gap[q]
            for q, xm in zip(ks, i_mid, strict=True)
        ]
    )
    if not np.isfinite(need).any():
        return
    need = np.where(np.isfinite(need), need, need[np.isfinite(need)].min())
    dz = step * g.spacing_mm[2]
    env = ndi.maximum_filter1d(need, 2 * round(_ENVELOPE_MM / dz) + 1, mode="nearest")
    env = ndi.uniform_filter1d(env, 2 * round(_SMOOTH_MM / dz) + 1, mode="nearest")
    xa = arm.side * np.interp(np.arange(k1 - k0), ks, env)
    # the forearm turns from the elbow (radius lateral) to ``turn`` at the wrist
    tw = np.clip((arm.z_elbow - z) / max(arm.z_elbow - arm.z_wrist, 1.0), 0.0, 1.0) * arm.turn
    for q in range(k1 - k0):
        if r[q] <= 0 and not hand[q]:
            continue
        k = k0 + q
        if hand[q]:
            _paint_hand(pt, k, float(xa[q]), float(ya[q]), float(z[q]), arm)
            continue
        rx, ry = float(r[q]), float(r[q]) * arm.flatten
        if not _limb(pt, k, float(xa[q]), float(ya[q]), rx, ry, float(f[q])):
            continue  # outside the grid
        if z[q] > arm.z_head - 40.0:  # shoulder: the limb joins the trunk (axilla, deltoid)
            bx = float(xa[q]) - arm.side * rx
            _oval(pt, k, bx, float(ya[q]), rx, 0.8 * ry, 1.0, 0.0, _T.FAT, _ALLOW_AIR)
        _paint_arm_bones(pt, k, float(xa[q]), float(ya[q]), float(z[q]), float(tw[q]), arm)


def _limb(pt: Painter, k: int, cx: float, cy: float, rx: float, ry: float, fat: float) -> bool:
    """Limb section on slice ``k``: subcutaneous fat ``fat`` mm thick around muscle, painted
    over air only; False when it misses the grid."""
    g = pt.grid
    i0, i1 = g.index_range(0, cx - rx, cx + rx)
    j0, j1 = g.index_range(1, cy - ry, cy + ry)
    if i1 <= i0 or j1 <= j0:
        return False
    # separable squared terms: one 2-D add and compare per ellipse
    dx2 = ((pt.x[i0:i1] - cx) ** 2).astype(np.float32)
    dy2 = ((pt.y[j0:j1] - cy) ** 2).astype(np.float32)
    sub = pt.tissue[k, j0:j1, i0:i1]
    free = sub == _T.AIR
    sub[free & ((dy2[:, None] / ry**2 + dx2[None, :] / rx**2) <= 1.0)] = _T.FAT
    if rx > fat and ry > fat:
        inner = (dy2[:, None] / (ry - fat) ** 2 + dx2[None, :] / (rx - fat) ** 2) <= 1.0
        sub[free & inner] = _T.MUSCLE
    return True


def _clearance(
    pt: Painter, k: int, ya: float, wx: float, wy: float, side: float, x_mid: float
) -> float:
    """Smallest lateral coordinate ``side * x`` (mm) of a limb centre at ``ya`` (half-extents
    ``wx``, ``wy``) that keeps the limb outside the body painted on slice ``k`` (searched on
    the ``side`` of ``x_mid``); -inf when no body lies beside it."""
    g = pt.grid
    j0, j1 = g.index_range(1, ya - wy, ya + wy)
    ni = g.shape_kji[2]
    i_mid = min(max(round((x_mid - g.origin_mm[0]) / g.spacing_mm[0]), 0), ni - 1)
    cols = slice(i_mid, ni) if side > 0 else slice(0, i_mid + 1)
    if j1 <= j0:
        return -math.inf
    rows = pt.tissue[k, j0:j1, cols]
    body = body_mask(rows)  # not air, not the couch
    has = body.any(axis=1)
    if not has.any():
        return -math.inf
    x = pt.x[cols]
    if side > 0:
        edge = x[len(x) - 1 - np.argmax(body[:, ::-1], axis=1)]
    else:
        edge = -x[np.argmax(body, axis=1)]
    dy = (pt.y[j0:j1] - ya) / wy
    half = wx * np.sqrt(np.clip(1.0 - dy * dy, 0.0, 1.0))
    return float(np.max((edge + half)[has]))


def _oval(
    pt: Painter,
    k: int,
    cx: float,
    cy: float,
    ra: float,
    rb: float,
    ux: float,
    uy: float,
    value: int,
    allow: NDArray[np.bool_] | None,
) -> None:
    """Paint an ellipse on slice ``k``: semi-axis ``ra`` along the unit vector ``(ux, uy)``,
    ``rb`` across it; only over tissues where ``allow`` (a 256 lookup table) is true."""
    if ra <= 0 or rb <= 0:
        return
    g = pt.grid
    ex = math.hypot(ra * ux, rb * uy)
    ey = math.hypot(ra * uy, rb * ux)
    i0, i1 = g.index_range(0, cx - ex, cx + ex)
    j0, j1 = g.index_range(1, cy - ey, cy + ey)
    if i1 <= i0 or j1 <= j0:
        return
    dx = pt.x[i0:i1][None, :] - cx
    dy = pt.y[j0:j1][:, None] - cy
    a = (dx * ux + dy * uy) / ra
    b = (dy * ux - dx * uy) / rb
    m = a * a + b * b <= 1.0
    sub = pt.tissue[k, j0:j1, i0:i1]
    if allow is not None:
        m &= allow[sub]
    sub[m] = value


def _bone(
    pt: Painter,
    k: int,
    cx: float,
    cy: float,
    ra: float,
    rb: float,
    u: tuple[float, float],
    cortex_mm: float,
    inner: int,
    cortex: int = _T.CORTICAL,
) -> None:
    """A bone's section: ``cortex`` ring ``cortex_mm`` thick around ``inner``."""
    _oval(pt, k, cx, cy, ra, rb, u[0], u[1], cortex, _ALLOW_SOFT)
    _oval(pt, k, cx, cy, ra - cortex_mm, rb - cortex_mm, u[0], u[1], inner, None)


def _paint_arm_bones(
    pt: Painter, k: int, xa: float, ya: float, z: float, turn: float, arm: _Arm
) -> None:
    """Humerus, elbow, radius and ulna on slice ``k`` around the limb axis ``(xa, ya)``."""
    s = arm.bone_scale
    lat = (arm.side, 0.0)  # unit vector pointing away from the body
    zh, ze, zw = arm.z_head, arm.z_elbow, arm.z_wrist

    def at(a: float, b: float) -> tuple[float, float]:
        """World (x, y) of a point ``a`` mm lateral and ``b`` mm anterior of the axis."""
        return xa + arm.side * a, ya - b

    rh = HUMERAL_HEAD_R_MM * s
    if zh - rh < z < zh + rh:  # humeral head (cancellous with a thin subchondral cortex)
        rr = math.sqrt(rh * rh - (z - zh) ** 2)
        cx, cy = at(-4.0 * s, 0.0)
        _bone(pt, k, cx, cy, rr, rr, lat, END_CORTEX_MM, _T.MARROW, _T.SHELL)
    if ze - 2.0 < z <= zh - 0.5 * rh:
        rs = HUMERUS_SHAFT_R_MM * s
        cx, cy = at(0.0, 0.0)
        if z > zh - 70.0 * s:  # surgical neck and metaphysis: wide, thin cortex
            t = (z - (zh - 70.0 * s)) / (70.0 * s - 0.5 * rh)
            rr = rs + (0.85 * rh - rs) * t
            _bone(pt, k, cx, cy, rr, rr, lat, 1.5 + 2.0 * (1 - t), _T.MARROW)
        elif z > ze + 50.0 * s:  # shaft: thick cortex, fatty canal
            _bone(pt, k, cx, cy, rs, rs, lat, HUMERUS_CORTEX_MM * s, _T.FAT)
        else:  # distal flare to the epicondyles and the trochlea / capitulum
            t = float(np.clip((ze + 50.0 * s - z) / (45.0 * s), 0.0, 1.0))
            a = rs + (EPICONDYLAR_HALF_MM * s - rs) * t
            b = rs * (1.0 - 0.1 * t)
            cort = HUMERUS_CORTEX_MM * s * (1 - t) + END_CORTEX_MM * t
            _bone(pt, k, cx, cy, a, b, lat, cort, _T.FAT if t < 0.4 else _T.MARROW)
    # olecranon behind the distal humerus, then the ulna
    if ze - 12.0 < z < ze + 20.0:
        cx, cy = at(-6.0 * s, -24.0 * s)
        _bone(pt, k, cx, cy, 10.0 * s, 9.0 * s, lat, END_CORTEX_MM, _T.MARROW)
    if zw < z <= ze - 5.0:
        t = (ze - z) / max(ze - zw, 1.0)  # 0 at the elbow, 1 at the wrist
        # centres across the forearm: radius lateral at the elbow, turning to ``turn``
        half = 13.0 * s + 3.0 * s * math.sin(math.pi * t)
        u = (math.cos(turn), math.sin(turn))  # (lateral, anterior)
        rx_, ry_ = at(half * u[0], half * u[1])
        ux_, uy_ = at(-half * u[0] * 0.8, -half * u[1] * 0.8 - 4.0 * s * (1 - t))
        dir_w = (arm.side * u[0], -u[1])  # the line radius-ulna in world coordinates
        # radius: head, neck, shaft, distal flare
        if z > ze - 15.0 * s:
            r_r, cort, inner = RADIUS_HEAD_R_MM * s, END_CORTEX_MM, _T.MARROW
            _bone(pt, k, rx_, ry_, r_r, r_r, dir_w, cort, inner)
        else:
            flare = float(np.clip((zw + 40.0 * s - z) / (40.0 * s), 0.0, 1.0))
            a = RADIUS_SHAFT_R_MM * s + (DISTAL_RADIUS_MM[0] - RADIUS_SHAFT_R_MM) * s * flare
            b = RADIUS_SHAFT_R_MM * s + (DISTAL_RADIUS_MM[1] - RADIUS_SHAFT_R_MM) * s * flare
            cort = FOREARM_CORTEX_MM * (1 - flare) + END_CORTEX_MM * flare
            _bone(pt, k, rx_, ry_, a, b, dir_w, cort, _T.FAT if flare < 0.5 else _T.MARROW)
        if z > ze - 12.0:  # the olecranon above
            return
        # ulna: thick proximally, tapering, a small head at the wrist
        r_u = (ULNA_SHAFT_R_MM - 2.0 * t) * s
        cort, inner = FOREARM_CORTEX_MM, _T.FAT
        if z < zw + 15.0 * s:
            r_u, cort, inner = 8.0 * s, END_CORTEX_MM, _T.MARROW
        _bone(pt, k, ux_, uy_, r_u, r_u, dir_w, cort, inner)


def _paint_hand(pt: Painter, k: int, xa: float, ya: float, z: float, arm: _Arm) -> None:
    """Hand below the wrist: a flat ellipse (broad along the line from the radius to the
    ulna) with the carpus, then four metacarpals and the thumb's, then the phalanges."""
    s, ms = arm.bone_scale, arm.muscle_scale
    u = (arm.side * math.cos(arm.turn), -math.sin(arm.turn))  # hand breadth, world x/y
    n = (-u[1], u[0])  # across the hand
    depth = arm.z_wrist - z  # mm below the wrist
    length = arm.z_wrist - arm.z_tip
    taper = 1.0 - 0.25 * float(np.clip((depth - 0.5 * length) / (0.5 * length), 0.0, 1.0))
    tip = float(np.sqrt(np.clip(1.0 - ((depth - 0.8 * length) / (0.2 * length)) ** 2, 0.0, 1.0)))
    if depth > 0.8 * length:
        taper *= tip
    hb = HAND_HALF_MM[0] * ms * taper
    ht = HAND_HALF_MM[1] * ms * (0.75 if depth > 0.5 * length else 1.0) * max(taper, 0.3)
    if hb <= 1.0 or ht <= 1.0:
        return
    fat = min(3.0, 0.3 * arm.fat_mm)
    _oval(pt, k, xa, ya, hb, ht, u[0], u[1], _T.FAT, _ALLOW_AIR)
    _oval(pt, k, xa, ya, hb - fat, ht - fat, u[0], u[1], _T.MUSCLE, _ALLOW_FAT)
    if depth < 30.0 * s:  # carpus
        _bone(pt, k, xa, ya, 26.0 * s, 10.0 * s, u, END_CORTEX_MM, _T.MARROW, _T.SHELL)
        return
    in_meta = depth < 95.0 * s
    rad = 4.5 * s if in_meta else 3.5 * s * taper
    if rad < 1.5:
        return
    for off in (-25.0, -8.5, 8.5, 25.0):
        o = off * s * taper
        _bone(pt, k, xa + o * u[0], ya + o * u[1], rad, rad, u, END_CORTEX_MM, _T.MARROW, _T.SHELL)
    if depth < 75.0 * s:  # thumb metacarpal, in front of the radial side of the palm
        o, p = 30.0 * s, 5.0 * s
        cx, cy = xa + o * u[0] + p * n[0], ya + o * u[1] + p * n[1]
        _bone(pt, k, cx, cy, 5.0 * s, 5.0 * s, u, END_CORTEX_MM, _T.MARROW, _T.SHELL)
