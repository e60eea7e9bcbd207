"""Breasts on the front of the chest in female cases.

About half of chest and abdomen CTs are of women, whose breasts lie on the front of the chest
(fat holding fibroglandular tissue, over the pectoralis major); the generator's chest was the
same for every case. The case's sex is the pelvic organs' (:class:`spinelab.synth.pelvic_soft.
PelvicSoftTissue`'s ``male``). Standard anatomy (Gray's Anatomy 41st ed.; Moore's Clinically
Oriented Anatomy 8th ed.), rounded, for a supine patient:

* each breast covers the chest wall from the second to the sixth rib at the front (vertebral
  levels about T4-T5 to T9-T10, as the ribs fall forwards), from the sternum's edge to the
  mid-axillary line; its centre (the nipple, 4th intercostal space) about 90-100 mm from the
  midline, at about T7;
* supine it flattens and falls outwards: it stands 15-60 mm proud of the chest (drawn per case,
  times the body scale), 55-80 mm half-wide, 50-70 mm half-tall, its centre 0-25 mm further
  out;
* its fibroglandular tissue (soft tissue) lies in the central part behind the nipple, laced
  with fat: sheets and strands round a smooth random field's zero level over a per-case share
  of that core (10-60 %: fatty to dense breasts).

Painted after the arms (so that a wider chest does not push the arms out at every level
below) into air and fat only, slice by slice: in front of each column's skin, an elliptic
dome across the breast's width, so its base follows the chest's curve.
"""

from __future__ import annotations

import math

import numpy as np

from spinelab.synth import texture
from spinelab.synth.body import BodyPlan
from spinelab.synth.painter import Painter
from spinelab.synth.tissues import Tissue

_T = Tissue

#: Vertical extent (between the centres of these vertebrae) and centre height (share of the
#: way from the first to the second).
LEVELS = ("T4", "T10")
CENTRE_SHARE = 0.55
#: Per-case draws (mm, before the body scale): how far it stands proud of the chest, its half
#: width and half height, the centre's distance from the midline and its outward fall.
PROJECTION_MM = (15.0, 60.0)
HALF_WIDTH_MM = (55.0, 80.0)
HALF_HEIGHT_MM = (50.0, 70.0)
CENTRE_X_MM = (90.0, 100.0)
FALL_MM = (0.0, 25.0)
#: The fibroglandular core reaches this far (mm) behind the skin line (into the chest's
#: subcutaneous fat under the breast).
INSET_MM = 10.0
#: The fibroglandular core: an ellipse across the breast's width (this share of its half
#: width) and depth (centred CORE_DEPTH_SHARE of the breast's projection in front of the skin,
#: this share of half the projection deep); the share of it that is soft tissue (drawn per
#: case), as a band round a smooth random field's zero level (sheets and strands, as the
#: glandular tissue and Cooper's ligaments are laced through the fat), the field's smoothing
#: (cells of :data:`spinelab.synth.texture.TEX_CELL_MM`).
CORE_SHARE = (0.6, 0.55)
CORE_DEPTH_SHARE = 0.45
DENSITY = (0.1, 0.6)
LATTICE_SIGMA_CELLS = 2.5


def paint_breasts(pt: Painter, plan: BodyPlan, rng: np.random.Generator) -> None:
    """Paint both breasts (see the module docstring) into ``pt.tissue``'s air and fat."""
    z_of = plan.z_of
    if any(lab not in z_of for lab in LEVELS):
        return
    s = plan.scale
    proj = float(rng.uniform(*PROJECTION_MM)) * s
    rx0 = float(rng.uniform(*HALF_WIDTH_MM)) * s
    rz = float(rng.uniform(*HALF_HEIGHT_MM)) * s
    bx = (float(rng.uniform(*CENTRE_X_MM)) + float(rng.uniform(*FALL_MM))) * s
    band = texture.half_width_for_share(float(rng.uniform(*DENSITY)))
    field = texture.periodic_field(rng, LATTICE_SIGMA_CELLS)[0]
    z0, z1 = z_of[LEVELS[0]], z_of[LEVELS[1]]
    zc = z0 + CENTRE_SHARE * (z1 - z0)
    k0, k1 = pt.grid.index_range(2, zc - rz, zc + rz)
    x, y = pt.x, pt.y
    iy_all = texture.tex_index(y)
    sy = float(pt.grid.spacing_mm[1])
    for k in range(k0, k1):
        z = float(pt.z[k])
        f = 1.0 - ((z - zc) / rz) ** 2
        if f <= 0.0:
            continue
        q = math.sqrt(f)
        lv = plan.level(z)
        kz = int(texture.tex_index(np.array([z]))[0])
        sl = pt.tissue[k]
        for side in (1.0, -1.0):
            xc = lv.x_s + side * bx
            rx = rx0 * q
            i0, i1 = pt.grid.index_range(0, xc - rx, xc + rx)
            if i1 <= i0:
                continue
            u = (x[i0:i1] - xc) / rx
            t = proj * q * np.sqrt(np.clip(1.0 - u * u, 0.0, 1.0))  # mm in front of the skin
            cols = sl[:, i0:i1]
            body = cols != _T.AIR
            has = body.any(axis=0)
            skin = np.argmax(body, axis=0)  # the first tissue from the front (-y)
            # depth in front of each column's skin (mm) of every row
            d = (skin[None, :] - np.arange(sl.shape[0])[:, None]) * sy
            new = has[None, :] & (d > 0.0) & (d <= t[None, :]) & (cols == _T.AIR)
            cols[new] = _T.FAT
            # the fibroglandular core: round the breast's axis, behind its front, laced
            t0 = proj * q
            core = (
                (u[None, :] / CORE_SHARE[0]) ** 2
                + ((d - CORE_DEPTH_SHARE * t0) / (CORE_SHARE[1] * 0.5 * t0 + 1e-6)) ** 2
            ) <= 1.0
            core &= has[None, :] & (cols == _T.FAT) & (d > -INSET_MM)
            if core.any():
                ix = texture.tex_index(x[i0:i1])
                lace = np.abs(field[kz][iy_all[:, None], ix[None, :]]) < band
                cols[core & lace] = _T.SOFT
