"""Solid shapes of one vertebra (body and posterior elements) in the vertebra's own frame.

Coordinates are millimetres in the vertebra frame of :class:`~spinelab.synth.geometry.SpineGeometry`:
``a`` to the vertebra's left, ``b`` posterior (towards the spinous process), ``e`` cranial, origin
at the vertebral-body centre. Every part is a function ``fn(a, b, e, s) -> bool mask`` where ``s``
(mm) erodes the part, so ``fn(..., 0) & ~fn(..., t)`` is a cortical shell of thickness ``t`` around
a cancellous core, and a box that holds it. The renderer paints the union of the parts' outsides
as cortical bone and then the union of their eroded insides as cancellous bone, so parts that
overlap by more than twice the cortex fuse without an internal wall.

Posterior-element sizes per level (:data:`LEVEL_DIMS`) are adult means, rounded, from:

* pedicle transverse width and height: Zindrick et al., Spine 1987 (T1-L5; L5 width 18 mm),
  Panjabi et al., Spine 1991 (cervical, thoracic) and 1992 (lumbar);
* spinal canal width (interpedicular) and depth: Panjabi et al. 1991/1992; the lumbar canal is
  triangular (wide lateral recesses, apex at the laminae), the thoracic one round;
* lamina thickness, spinous and transverse process sizes: Panjabi et al. 1991/1992, checked
  against the real L3 of ``../shared/data/ct/tptbox_l3_crop`` (1.5 mm CT, measured with
  ``scripts/synth_compare.py``'s reader): bony canal area at the pedicles 390-440 mm^2 (with the
  lateral recesses), transverse-process tip-to-tip span 93 mm, transverse process 10.5 mm
  cranio-caudal, laminae about 7 mm thick, vertebral body 27 mm high and 45 mm wide;
* facet joints: lumbar joint planes 30 deg (L1) to 45 deg (L5) from the sagittal plane, thoracic
  about 70 deg (nearly coronal), cervical nearly coronal in axial section; joint space about
  2 mm on CT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from spinelab import anatomy

Box3 = tuple[tuple[float, float, float], tuple[float, float, float]]
PartFn = Callable[[Any, Any, Any, float], Any]

#: Columns of :data:`LEVEL_DIMS` (full sizes in mm unless stated).
DIM_NAMES: tuple[str, ...] = (
    "ped_w",  # pedicle transverse width
    "ped_h",  # pedicle height (cranio-caudal)
    "can_w",  # spinal canal width (interpedicular distance)
    "can_d",  # spinal canal depth (body's posterior wall to the laminae's apex)
    "lam_t",  # lamina thickness
    "sp_len",  # spinous process length behind the laminae's apex
    "sp_h",  # spinous process cranio-caudal height
    "sp_w",  # spinous process thickness (left-right)
    "tp_len",  # transverse process tip, distance from the midline
    "tp_h",  # transverse process cranio-caudal height at its root
    "tp_t",  # transverse process antero-posterior thickness at its root
    "fac_r",  # radius of the articular pillar (superior + inferior articular process)
    "tri",  # canal shape: 1 triangular, 0 round
    "fac_deg",  # facet joint plane, degrees from the sagittal plane
)

#: Key levels (numbered C1=1 .. L5=24, S1=25, S2=26) and their dimensions; linear in between.
LEVEL_DIMS: dict[int, tuple[float, ...]] = {
    # ped_w ped_h can_w can_d lam_t sp_len sp_h sp_w tp_len tp_h tp_t fac_r tri fac_deg
    3: (5.5, 7.0, 24.0, 14.0, 3.5, 18.0, 7.0, 5.0, 26.0, 7.0, 7.0, 6.0, 0.8, 85.0),
    7: (6.5, 7.5, 24.0, 14.0, 4.5, 30.0, 9.0, 6.0, 35.0, 8.0, 8.0, 6.0, 0.7, 80.0),
    8: (7.9, 9.6, 20.0, 15.0, 5.5, 36.0, 9.0, 6.0, 38.0, 10.0, 10.0, 5.5, 0.3, 70.0),
    13: (4.6, 11.0, 16.0, 15.5, 6.0, 38.0, 8.0, 6.0, 33.0, 10.0, 10.0, 5.0, 0.1, 70.0),
    19: (7.8, 15.9, 20.0, 17.0, 6.5, 30.0, 14.0, 6.5, 26.0, 9.0, 8.0, 6.0, 0.3, 40.0),
    20: (8.7, 15.4, 22.0, 18.0, 6.5, 30.0, 18.0, 6.5, 36.0, 10.0, 6.5, 6.5, 0.5, 30.0),
    22: (10.3, 14.9, 23.0, 16.0, 7.0, 32.0, 20.0, 7.0, 46.0, 11.0, 6.5, 7.0, 0.8, 38.0),
    24: (18.0, 14.0, 26.0, 17.0, 7.0, 28.0, 17.0, 7.0, 42.0, 15.0, 10.0, 7.5, 1.0, 45.0),
    25: (18.0, 14.0, 28.0, 14.0, 7.0, 16.0, 10.0, 6.0, 0.0, 0.0, 0.0, 7.5, 1.0, 45.0),
    26: (12.0, 10.0, 24.0, 10.0, 6.0, 12.0, 8.0, 5.0, 0.0, 0.0, 0.0, 5.0, 1.0, 45.0),
}

#: Cortex of the posterior elements (mm): the lower end of measured lamina and pedicle wall
#: thicknesses (1.5-2.5 mm). Their core is dense cancellous bone (``Tissue.DENSE``, about
#: 430 HU), so the arch is bright throughout with only a small step to its cortex, as on real CT.
POSTERIOR_CORTEX_MM = 1.5
#: Facet joint space on CT (mm).
FACET_GAP_MM = 2.0


def level_number(name: str) -> float:
    """C1=1 .. T12=19, T13=19.5, L1=20 .. L5=24, L6=24.5, S1=25, S2=26."""
    if name == "T13":
        return 19.5
    if name == "L6":
        return 24.5
    if name == "S1":
        return 25.0
    if name == "S2":
        return 26.0
    return float(anatomy.by_name(name).verse_id)


def level_dims(name: str) -> dict[str, float]:
    """Posterior-element dimensions of one vertebra (see :data:`DIM_NAMES`), mm."""
    x = level_number(name)
    keys = np.array(sorted(LEVEL_DIMS))
    vals = np.array([LEVEL_DIMS[k] for k in keys])
    return {n: float(np.interp(x, keys, vals[:, c])) for c, n in enumerate(DIM_NAMES)}


def _ellipse(u: Any, v: Any, ru: Any, rv: Any) -> Any:
    """``(u/ru)^2 + (v/rv)^2``; radii eroded to zero or below give an empty shape."""
    return (u / np.maximum(ru, 1e-3)) ** 2 + (v / np.maximum(rv, 1e-3)) ** 2


def canal_half_width(t: Any, tri: float) -> Any:
    """Canal half-width as a fraction of ``can_w / 2`` at relative depth ``t`` (0 at the body's
    posterior wall, 1 at the laminae's apex): a blend of a triangle (full width to 30% of the
    depth, then straight to the apex) and a round canal."""
    tt = np.clip(t, 0.0, 1.0)
    f_tri = np.minimum(1.0, (1.0 - tt) / 0.7)
    f_round = np.sqrt(np.clip(1.0 - ((tt - 0.4) / 0.6) ** 2, 0.0, 1.0))
    return np.where((t >= 0.0) & (t <= 1.0), tri * f_tri + (1.0 - tri) * f_round, 0.0)


def canal_mask(a: Any, b: Any, bw: float, dims: dict[str, float], grow: float = 0.0) -> Any:
    """Inside the spinal canal's cross-section (widened by ``grow`` mm)."""
    depth = dims["can_d"] + 2.0 * grow
    t = (b - bw + grow) / depth
    half = (dims["can_w"] / 2 + grow) * canal_half_width(t, dims["tri"])
    return np.abs(a) < half


def posterior_wall(d: float) -> float:
    """Midline position (b, mm) of the vertebral body's concave posterior wall."""
    return 0.42 * d


def vertebra_parts(
    name: str, h: float, w: float, d: float, wedge: float, slope: float
) -> list[tuple[Box3, PartFn, bool]]:
    """The bony parts of a vertebra: ``[((lo, hi) local box, fn(a, b, e, s) -> mask, posterior)]``.

    Args:
        name: Vertebra name (C2..S2; C1 is painted separately as a ring).
        h, w, d: Vertebral body height, width and depth (mm).
        wedge: Anterior height lost to a compression fracture (mm).
        slope: Caudal slope of the spinous process (mm down per mm back).

    Returns:
        Parts in local coordinates; ``posterior`` tells the renderer to use the posterior
        elements' cortex (:data:`POSTERIOR_CORTEX_MM`) instead of the body's.
    """
    region = anatomy.region_of(name)
    dm = level_dims(name)
    parts: list[tuple[Box3, PartFn, bool]] = []
    bw = posterior_wall(d)

    def body(a: Any, b: Any, e: Any, s: float) -> Any:
        e_top = h / 2 - wedge * np.clip(0.5 - b / d, 0, 1)
        # concave endplates: the surface dips about 1.2 mm at the centre
        cup = 1.2 * (1.0 - np.clip(_ellipse(a, b, w / 2, d / 2), 0, 1))
        waist = 1.0 - 0.07 * (1.0 - np.clip((2 * e / h) ** 2, 0, 1))
        # elliptic in front, rounded-square behind, with a flat, slightly concave posterior wall
        ua, ub = np.abs(a) / (w / 2 - s), np.abs(b) / (d / 2 - s)
        r = np.where(b > 0, (ua**3 + ub**3) ** (2.0 / 3.0), ua**2 + ub**2)
        wall = b < bw + 0.05 * d * (2 * a / w) ** 2 - s
        return (r <= waist**2) & wall & (e < e_top - cup - s) & (e > -h / 2 + cup + s)

    parts.append((((-w / 2, -d / 2, -h / 2), (w / 2, d / 2, h / 2)), body, False))
    if region == "sacral":
        ala_w = w / 2 + (28.0 if name == "S1" else 18.0)

        def ala(a: Any, b: Any, e: Any, s: float) -> Any:
            m = _ellipse(a, b - d / 4, ala_w - s, d * 0.75 + 10 - s) <= 1.0
            return m & (b > -d / 4 + s) & (b < d / 2 + 12.0 - s) & (np.abs(e) < h / 2 - s)

        parts.append((((-ala_w, -d / 4, -h / 2), (ala_w, d / 2 + 12.0, h / 2)), ala, False))

    cw2 = dm["can_w"] / 2
    can_d = dm["can_d"]
    pw, ph = dm["ped_w"], dm["ped_h"]
    # pedicles: elliptic columns along b from inside the body to behind the canal's middle,
    # their upper border near the upper endplate
    e_ped = min(0.5 * h - 0.5 * ph - 0.5, 0.2 * h)
    ped_a = cw2 + pw / 2
    b_ped0, b_ped1 = bw - 5.0, bw + 0.65 * can_d
    for side in (1.0, -1.0):

        def ped(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
            m = _ellipse(side * a - ped_a, e - e_ped, pw / 2 - s, ph / 2 - s) <= 1.0
            return m & (b > b_ped0 + s) & (b < b_ped1 - s)

        lo_a, hi_a = sorted((side * (ped_a - pw / 2), side * (ped_a + pw / 2)))
        parts.append((((lo_a, b_ped0, e_ped - ph / 2), (hi_a, b_ped1, e_ped + ph / 2)), ped, True))
    # laminae: the roof of the canal, from behind the pedicles to the apex, as thick as lam_t;
    # their outer face follows the canal's shape widened to the pedicles' outer edge
    lam_t = dm["lam_t"]
    out_w2 = cw2 + pw
    out_d = can_d + 1.3 * lam_t
    lam_e0, lam_e1 = -0.5 * h - 2.0, e_ped + 0.5 * ph
    b_lam0 = bw + 0.4 * can_d

    def lamina(a: Any, b: Any, e: Any, s: float) -> Any:
        t_out = (b - bw) / (out_d - s)
        outer = np.abs(a) < (out_w2 - s) * canal_half_width(t_out, dm["tri"])
        m = outer & ~canal_mask(a, b, bw, dm, s) & (b > b_lam0 + s)
        return m & (e > lam_e0 + s) & (e < lam_e1 - s)

    parts.append((((-out_w2, b_lam0, lam_e0), (out_w2, bw + out_d, lam_e1)), lamina, True))
    # spinous process: from inside the laminae's apex backwards, sloping caudally, its tip
    # slightly thicker; lumbar ones are tall plates (a flattened elliptic section)
    sp_len = dm["sp_len"] * (1.4 if name == "C2" else 1.0)
    b0 = bw + can_d + 0.3 * lam_t
    sp_hh, sp_wh = dm["sp_h"] / 2, dm["sp_w"] / 2
    e_sp0 = lam_e0 + sp_hh + 1.0 if region == "lumbar" else -0.1 * h
    power = 4.0 if region == "lumbar" else 2.0

    def spinous(a: Any, b: Any, e: Any, s: float) -> Any:
        rel = np.clip(b - b0, 0, None)
        e_sp = e_sp0 - slope * rel
        taper = 1.0 - 0.25 * np.clip(rel / sp_len, 0, 1)
        tip = 1.0 + 0.3 * np.clip(rel / sp_len - 0.7, 0, 1) / 0.3
        m = (b > b0 - 3.0 + s) & (b < b0 + sp_len - s)
        ra, re = np.maximum(sp_wh * tip - s, 1e-3), np.maximum(sp_hh * taper - s, 1e-3)
        q = np.abs(a / ra) ** 2 + np.abs((e - e_sp) / re) ** power
        return m & (q <= 1.0)

    e_lo = e_sp0 - slope * sp_len - sp_hh
    parts.append(
        (((-sp_wh * 1.3, b0 - 3.0, e_lo), (sp_wh * 1.3, b0 + sp_len, e_sp0 + sp_hh)), spinous, True)
    )
    # transverse processes from the pedicle-lamina junction, laterally and backwards
    tp_len = dm["tp_len"]
    back = {"cervical": -0.25, "thoracic": 0.75, "lumbar": 0.3}.get(region, 0.0)
    tp_a0 = ped_a
    tp_b0 = bw + 0.45 * can_d
    tp_hh, tp_th = dm["tp_h"] / 2, dm["tp_t"] / 2
    run = tp_len - tp_a0
    club = 1.25 if region == "thoracic" else 0.8  # thoracic tips are club-shaped
    if tp_len > 0 and run > 2.0:
        for side in (1.0, -1.0):

            def tp(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
                aa = side * a
                f = np.clip((aa - tp_a0) / run, 0, 1)
                scale = 1.0 + (club - 1.0) * f
                m = (aa > tp_a0 - 2.0) & (aa < tp_len - s)
                q = _ellipse(
                    b - tp_b0 - back * (aa - tp_a0), e - e_ped, tp_th * scale - s, tp_hh - s
                )
                return m & (q <= 1.0)

            b_ext = back * run
            lo_a, hi_a = sorted((side * (tp_a0 - 2.0), side * tp_len))
            r_b = tp_th * max(club, 1.0)
            parts.append(
                (
                    (
                        (lo_a, tp_b0 - r_b + min(b_ext, 0), e_ped - tp_hh),
                        (hi_a, tp_b0 + r_b + max(b_ext, 0), e_ped + tp_hh),
                    ),
                    tp,
                    True,
                )
            )
    # articular pillars: superior articular process (lateral/anterior of the joint plane, up to
    # beside the disc above) and inferior articular process (medial/posterior, down beside the
    # disc below), solid between them (pars interarticularis); the neighbours' processes fill
    # the other side of each joint, leaving a FACET_GAP_MM joint space
    fr = dm["fac_r"]
    fac_a = cw2 + 0.5 * pw
    fac_b = bw + (0.75 if region == "lumbar" else 0.6) * can_d
    ext = {"cervical": 4.0, "thoracic": 6.0, "lumbar": 9.0}.get(region, 4.0)
    th = math.radians(dm["fac_deg"])
    ca, sa = math.cos(th), math.sin(th)
    pars = 0.2 * h
    top, bot = h / 2 + ext, -h / 2 - ext
    gap = FACET_GAP_MM / 2
    for side in (1.0, -1.0):

        def art(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
            aa = side * a - fac_a
            bb = b - fac_b
            m = (_ellipse(aa, bb, fr - s, 1.1 * fr - s) <= 1.0) & (e > bot + s) & (e < top - s)
            g = ca * aa - sa * bb  # > 0: superior process side of the joint plane
            sup = (g > gap + s) & (e > -pars)
            inf = (g < -gap - s) & (e < pars)
            return m & (sup | inf | (np.abs(e) < pars - s))

        lo_a, hi_a = sorted((side * (fac_a - fr), side * (fac_a + fr)))
        parts.append((((lo_a, fac_b - 1.1 * fr, bot), (hi_a, fac_b + 1.1 * fr, top)), art, True))
    if name == "C2":

        def dens(a: Any, b: Any, e: Any, s: float) -> Any:
            return (
                (_ellipse(a, b - 1.0, 5.5 - s, 5.5 - s) <= 1.0) & (e > 0) & (e < h / 2 + 20.0 - s)
            )

        parts.append((((-5.5, -4.5, 0.0), (5.5, 6.5, h / 2 + 20.0)), dens, False))
    return parts


def transverse_tip(name: str, h: float, d: float) -> tuple[float, float, float, float]:
    """Tip of a transverse process in the vertebra's frame, as :func:`vertebra_parts` draws it.

    Args:
        name: Vertebra name.
        h, d: Vertebral body height and depth (mm).

    Returns:
        ``(a, b, e, half_thickness)``: distance of the tip from the midline, its posterior and
        cranial position (mm), and its antero-posterior half-thickness at the tip (mm). The
        ribs' tubercles (T1-T10) articulate with the tip's anterior face.
    """
    region = anatomy.region_of(name)
    dm = level_dims(name)
    bw = posterior_wall(d)
    back = {"cervical": -0.25, "thoracic": 0.75, "lumbar": 0.3}.get(region, 0.0)
    club = 1.25 if region == "thoracic" else 0.8
    ped_a = dm["can_w"] / 2 + dm["ped_w"] / 2
    e_ped = min(0.5 * h - 0.5 * dm["ped_h"] - 0.5, 0.2 * h)
    tp_len = dm["tp_len"]
    b_tip = bw + 0.45 * dm["can_d"] + back * (tp_len - ped_a)
    return tp_len, b_tip, e_ped, club * dm["tp_t"] / 2
