"""The upper mediastinum's great vessels and airways, as 3-D tubes along smooth paths.

Between the neck (:mod:`spinelab.synth.neck`, down to T1) and the heart the thorax used to
hold only the trachea (a gas ellipse) and a straight aorta from T4 down at one fixed place in
front of the vertebral bodies; no arch, no great vessels, no pulmonary arteries, no main
bronchi, no superior vena cava and no oesophagus below the neck. Here, after the lungs and the
heart are painted (:func:`paint_mediastinum`), from standard cross-sectional anatomy (Gray's
Anatomy 41st ed.; Moore's Clinically Oriented Anatomy 8th ed.; adult CT norms):

* the ascending aorta (about 30 mm across) rises from the heart's base, right of the midline
  behind the sternum, to the arch at T4; the arch runs back and to the left over the carina,
  its top about two thirds of the way from T4 to T3, passing left of the trachea; the
  descending aorta (about 24 mm) lies at the left front corner of the vertebral bodies from T5,
  moving in front of them to the aortic hiatus at T12, where the abdominal aorta
  (``organs.AORTA_XY``) takes over;
* the brachiocephalic trunk, the left common carotid and the left subclavian arteries leave
  the arch's top for the neck's carotids (``neck.CAROTID_MM``) and the arms;
* the brachiocephalic veins from the neck's internal jugulars (``neck.JUGULAR_MM``), the left
  one crossing in front of the arch's branches, join as the superior vena cava right of the
  ascending aorta, down to the heart;
* the pulmonary trunk (about 26 mm) rises from the heart's front on the left and divides
  below the arch at T5 into the pulmonary arteries, the right one passing behind the
  ascending aorta below the carina, each to its hilum
  (:func:`spinelab.synth.lung_vessels.hilum_positions`, where the lung's arterial tree begins);
* the trachea divides at the carina (T5) into the main bronchi (gas in a 1.5 mm wall), the
  right one shorter and steeper, to the hila;
* the oesophagus (collapsed, soft tissue) runs on from the neck in front of the vertebral
  bodies, right of the aorta, and turns forwards and left below T9 to the hiatus at T11;
* the azygos vein (about 9 mm) ascends on the right front corner of the vertebral bodies from
  T12 to T5 and arches forwards over the right main bronchus at T4 into the superior vena
  cava.

Points are given per vertebral level as ``(dx, depth, z)``: ``dx`` mm left of the spine
(times the body scale), ``depth`` either a share ``u`` of the way from the vertebral body's
front (0) to the back of the sternum (1), given as ``("u", value)``, or mm in front of the
body's front (negative: behind it). Vessels paint blood into fat and lung only (the heart,
the airways and bone keep theirs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spinelab.synth import lung_vessels
from spinelab.synth.body import Level
from spinelab.synth.painter import Painter, smooth_path
from spinelab.synth.tissues import Tissue
from spinelab.synth.vessels import Tube

_T = Tissue

#: A path's control point: (mm left of the spine, depth, height); depth a share of the way
#: to the sternum (``("u", share)``) or mm in front of the vertebral body's front.
Point = tuple[float, tuple[str, float] | float, float]

#: Radii (mm) of the tubes (Gray's Anatomy 41st ed.; adult CT: ascending aorta under 35-40
#: mm, descending thoracic aorta 22-28 mm, pulmonary trunk under 29 mm, main bronchi 12-16 mm).
RADII_MM = {
    "ascending": 15.0,
    "arch": 13.0,
    "descending": 12.0,
    "trunk_bc": 6.5,
    "carotid": 3.8,
    "subclavian": 4.5,
    "svc": 9.0,
    "bcv": 6.5,
    "pulmonary_trunk": 13.0,
    "pulmonary": 10.0,
    "bronchus_r": 7.5,
    "bronchus_l": 6.5,
    "oesophagus": 5.5,
    "azygos": 4.5,
}
#: Wall of the main bronchi (mm of soft tissue round their gas).
BRONCHUS_WALL_MM = 1.5


@dataclass(frozen=True)
class Heights:
    """Heights (mm) the paths are drawn between: vertebral centres ``z_of``, the neck's
    lowest slice (``z_neck``: the neck module paints above it), the carina and the heart's
    base (its top)."""

    z_of: Mapping[str, float]
    z_neck: float
    z_carina: float
    z_heart_top: float

    def at(self, a: str, b: str, t: float) -> float:
        """The height ``t`` of the way from vertebra ``a``'s centre to ``b``'s."""
        return self.z_of[a] + t * (self.z_of[b] - self.z_of[a])


def _paths(h: Heights) -> dict[str, tuple[str, list[Point]]]:
    """Each tube's radius key and control points."""
    n, car, top = h.z_neck, h.z_carina, h.z_heart_top
    apex = h.at("T4", "T3", 0.65)
    t45 = h.at("T4", "T5", 0.5)
    # the hila, where the lungs' trees begin (lung_vessels.hilum_positions: same place)
    a_lo, a_hi = lung_vessels.HILUM_LEVELS["artery"]
    t56 = h.at(a_lo, a_hi, 0.5)
    hx, hy = lung_vessels.HILUM_LATERAL_MM, lung_vessels.HILUM_FRONT_MM
    u = "u"
    return {
        "ascending": (
            "ascending",
            [(-6.0, (u, 0.62), top - 10.0), (-14.0, (u, 0.56), h.at("T4", "T5", 0.2))],
        ),
        "arch": (
            "arch",
            [
                (-14.0, (u, 0.56), h.at("T4", "T5", 0.2)),
                (-7.0, (u, 0.5), apex),
                (10.0, (u, 0.4), apex),
                (24.0, (u, 0.22), h.at("T4", "T3", 0.2)),
                (24.0, 0.0, t45),
            ],
        ),
        "descending": (
            "descending",
            [
                (24.0, 0.0, t45),
                (22.0, 0.0, h.z_of["T6"]),
                (20.0, 3.0, h.z_of["T8"]),
                (16.0, 7.0, h.z_of["T10"]),
                (14.0, 12.0, h.z_of["T12"]),
            ],
        ),
        "trunk_bc": ("trunk_bc", [(-7.0, (u, 0.5), apex), (-12.0, (u, 0.36), h.z_of["T2"])]),
        "carotid_r": ("carotid", [(-12.0, (u, 0.36), h.z_of["T2"]), (-22.0, 10.0, n)]),
        "subclavian_r": (
            "subclavian",
            [
                (-12.0, (u, 0.36), h.z_of["T2"]),
                (-40.0, (u, 0.15), h.z_of["T1"]),
                (-75.0, (u, 0.1), h.z_of["T1"] + 8.0),
            ],
        ),
        "carotid_l": ("carotid", [(4.0, (u, 0.45), apex), (22.0, 10.0, n)]),
        "subclavian_l": (
            "subclavian",
            [
                (14.0, (u, 0.34), apex),
                (35.0, (u, 0.12), h.z_of["T2"]),
                (75.0, (u, 0.1), h.z_of["T1"] + 8.0),
            ],
        ),
        "svc": ("svc", [(-30.0, (u, 0.55), top - 10.0), (-30.0, (u, 0.55), h.at("T3", "T2", 0.3))]),
        "bcv_r": ("bcv", [(-30.0, (u, 0.55), h.at("T3", "T2", 0.3)), (-34.0, 7.0, n)]),
        "bcv_l": (
            "bcv",
            [
                (-30.0, (u, 0.55), h.at("T3", "T2", 0.3)),
                (8.0, (u, 0.72), h.at("T3", "T2", 0.6)),
                (34.0, 7.0, n),
            ],
        ),
        "pulmonary_trunk": (
            "pulmonary_trunk",
            [(14.0, (u, 0.8), top - 10.0), (8.0, (u, 0.45), h.z_of["T5"])],
        ),
        "pulmonary_l": (
            "pulmonary",
            [(8.0, (u, 0.45), h.z_of["T5"]), (30.0, (u, 0.3), h.z_of["T5"]), (hx, hy, t56)],
        ),
        "pulmonary_r": (
            "pulmonary",
            [(8.0, (u, 0.45), h.z_of["T5"]), (-10.0, (u, 0.36), car - 10.0), (-hx, hy, t56)],
        ),
        "bronchus_r": (
            "bronchus_r",
            [(0.0, 20.0, car + 4.0), (-25.0, 22.0, car - 12.0), (-42.0, 25.0, car - 28.0)],
        ),
        "bronchus_l": (
            "bronchus_l",
            [(0.0, 20.0, car + 4.0), (22.0, 22.0, car - 10.0), (42.0, 25.0, car - 32.0)],
        ),
        "azygos": (
            "azygos",
            [
                (-12.0, 1.0, h.z_of["T12"]),
                (-13.0, 1.0, h.z_of["T8"]),
                (-14.0, 1.0, h.z_of["T5"]),
                (-20.0, 10.0, h.at("T4", "T5", 0.3)),
                (-28.0, (u, 0.4), h.z_of["T4"]),
                (-30.0, (u, 0.55), h.at("T4", "T5", 0.2)),
            ],
        ),
        "oesophagus": (
            "oesophagus",
            [
                (3.0, 6.5, n),
                (3.0, 8.0, h.z_of["T4"]),
                (4.0, 8.0, h.z_of["T7"]),
                (2.0, 22.0, h.z_of["T9"]),
                (12.0, 35.0, h.at("T10", "T11", 0.5)),
                (15.0, 40.0, h.z_of["T11"]),
            ],
        ),
    }


def paint_mediastinum(
    pt: Painter,
    heights: Heights,
    level: Callable[[float], Level],
    sternum_back: Callable[[Level], float],
    scale: float,
) -> dict[str, Tube]:
    """Paint the great vessels, main bronchi and thoracic oesophagus (see the module
    docstring) into ``pt.tissue``; return the aorta's arch and descending part as
    :class:`~spinelab.synth.vessels.Tube`, keyed ``"arch"`` and ``"descending"`` (empty where
    nothing was painted), for its plaques (:mod:`spinelab.synth.vessels`).

    Args:
        pt: The painter (lungs, heart and the neck already painted).
        heights: The heights the paths are drawn between.
        level: The body plan's level at a height (spine position and body contour).
        sternum_back: The back of the sternum (y, mm) at a level.
        scale: The body's scale (lateral offsets grow with it).
    """
    need = ("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12")
    if any(lab not in heights.z_of for lab in need):
        return {}
    z_lo = min(float(pt.z[0]), float(pt.z[-1]))
    z_hi = max(float(pt.z[0]), float(pt.z[-1]))
    paths = _paths(heights)
    if z_hi < heights.z_of["T12"] - 20.0 or z_lo > heights.z_neck + 20.0:
        return {}

    def world(p: Point) -> NDArray[np.float64]:
        dx, depth, z = p
        lv = level(z)
        yf = lv.y_s - lv.depth / 2
        if isinstance(depth, tuple):
            y = yf + depth[1] * (sternum_back(lv) - yf)
        else:
            y = yf - depth * scale
        return np.array([lv.x_s + dx * scale, y, z])

    lines: dict[str, Tube] = {}

    def tube(name: str, outer: int, inner: int | None = None, only: Sequence[int] = ()) -> None:
        key, ctrl = paths[name]
        pts = smooth_path(np.array([world(p) for p in ctrl]))
        r = RADII_MM[key]
        pt.tube(pts, r, outer, inner, BRONCHUS_WALL_MM, tuple(only) or None)
        if name in ("arch", "descending"):
            lines[name] = Tube(pts, r)

    # the airways first (their walls stay), then the oesophagus and the vessels into fat and lung
    for name in ("bronchus_r", "bronchus_l"):
        # (their own wall, SOFT, is where the lumen goes: the inner pass paints over it)
        tube(name, _T.SOFT, _T.GAS, (_T.FAT, _T.LUNG, _T.GAS, _T.SOFT))
    tube("oesophagus", _T.SOFT, None, (_T.FAT, _T.LUNG))
    for name in paths:
        if name.startswith(("bronchus", "oesophagus")):
            continue
        tube(name, _T.BLOOD, None, (_T.FAT, _T.LUNG))
    return lines
