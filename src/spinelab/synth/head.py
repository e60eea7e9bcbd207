"""The head above the neck: the skull with its base, the face and the soft tissue round them.

Part of the label-map renderer (:mod:`spinelab.synth.render`). The neck's painter
(:mod:`spinelab.synth.neck`) stops 15 mm above C1's centre; above it the head was an
ellipsoidal shell of bone in air, cut flat at its base and closed by a flat plate with the
foramen magnum, with the jaw's soft tissue up to 35 mm above C1 in front of it: no scalp, no
face, no muscles between the neck and the occiput, no air spaces, no teeth. Now:

* the vault (an ellipsoidal shell, :data:`VAULT_MM`) is closed below by the cranial floor,
  a height field over the vault's footprint (:func:`cranial_floor`): the clivus sloping from
  the dorsum sellae down and back to the basion, the foramen magnum behind it, the posterior
  fossa's floor beside and behind it, lower than the middle fossae in front of the petrous
  ridges (dense bars), the anterior fossa highest, over the face;
* the occipital condyles on C1's lateral masses, the mastoid processes with air cells, the
  external auditory canals, the sphenoid body with its sinus under the sella;
* the face: the maxilla's alveolar arch with the upper teeth and the hard palate, the lower
  teeth on the mandible (separate crowns), the hyoid at C3's level, the nasal cavity (air, with the septum and turbinates) above the
  palate, the maxillary sinuses, the nasopharynx behind the nasal cavity and in front of the
  clivus and C1, the soft palate, the zygomatic arches, the globes and their fat;
* the soft tissue: the back of the neck's muscles running up to the occiput, the scalp over
  the vault, the face's fat and muscles.

Positions are relative to C1's centre (LPS mm: + = left, posterior, up) and scale with the
body (the neck does the same). Sizes are typical adult values as anatomy texts give them
(no real head CT is at hand): foramen magnum about 35 x 30 mm, clivus 40-45 mm long at about
60-65 deg to the foramen's plane, the palate near the level of C1's anterior arch, the
occlusal plane near C2, maxillary sinuses about 30 x 35 x 35 mm, the nasal cavity about 50
mm tall and 25-30 mm wide at its floor. Pure numpy, no random draws (the same spine, the same
head).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.neck import (
    MANDIBLE_MM,
    MANDIBLE_SPAN,
    NECK_TOP_ABOVE_C1_MM,
    POSTERIOR_PLANE,
    mandible_polyline,
    paint_mandible,
)
from spinelab.synth.organs import smooth01
from spinelab.synth.painter import Painter, ellipse_form, local_box
from spinelab.synth.tissues import Tissue

_T = Tissue

#: The vault: an ellipsoid's centre (mm from C1's centre) and half-axes (mm), its bone this
#: thick (compact tables round the diploe), the scalp over it this thick (mm).
VAULT_MM = ((0.0, -12.0, 72.0), (70.0, 88.0, 82.0))
VAULT_BONE_MM = 7.0
SCALP_MM = 6.0
#: The foramen magnum: its centre behind C1's centre (mm, + = posterior) and its half-widths
#: across and from front to back (mm): the opening is about 30 x 35 mm, its front edge (the
#: basion) just above the dens. One opening through the vault's shell and the floor (it had
#: been a hole in the shell and another, 12 mm further back, in a flat base plate).
FORAMEN_MAGNUM_MM = (22.0, 15.0, 18.0)
#: The cranial floor (mm above C1's centre; y mm behind it). The clivus: from the basion
#: (BASION_MM: y, height) up and forwards to the dorsum sellae (DORSUM_MM), CLIVUS_MM[0] to
#: either side of the midline, CLIVUS_MM[1] thick; in front of the dorsum the sella's floor
#: (SELLA_MM: its back and front y, its height), then the planum rising to the anterior fossa.
#: The posterior fossa's floor POSTERIOR_FLOOR_MM[0] high beside the foramen, lower out in the
#: cerebellar fossae (by POSTERIOR_FLOOR_MM[1]); the petrous ridges run back and out from
#: beside the clivus (PETROUS_MM: the ridge's y at the clivus's side, its slope back per mm
#: out, its crest's height, its radius and how far out it reaches, where the mastoid takes
#: over) and separate it from the middle fossae
#: (MIDDLE_FOSSA_MM: floor height, front edge's y), in front of which the anterior fossa lies
#: highest, over the orbits and the nasal cavity (ANTERIOR_ABOVE_PALATE_MM above the hard
#: palate, at least ANTERIOR_FOSSA_MIN_MM above C1's centre). The floor's bone is
#: FLOOR_BONE_MM thick elsewhere. The basion lies about 5 mm above the dens's tip (the
#: basion-dens interval, 4-10 mm in adults): the dens of C2 (:mod:`vertebra_shape`) reaches
#: 13-16 mm above C1's centre on six cervical cases, so the basion is 19 mm up (it was 12,
#: level with the tip, which ran into the clivus's lower end); the clivus is 41 mm long.
BASION_MM = (4.0, 19.0)
DORSUM_MM = (-20.0, 52.0)
CLIVUS_MM = (14.0, 12.0)
SELLA_MM = (-22.0, -33.0, 50.0)
POSTERIOR_FLOOR_MM = (17.0, 6.0)
PETROUS_MM = (0.0, 0.45, 40.0, 6.0, 48.0)
MIDDLE_FOSSA_MM = (31.0, -42.0)
#: The middle fossae's bowls: deepest this far out and behind C1's centre, this much deeper
#: there (mm), over this radius (mm); their front edge this much further back (mm) beside the
#: sella than out at the temporal poles.
MIDDLE_BOWL_MM = (36.0, -18.0, 6.0, 14.0)
MIDDLE_FRONT_IN_MM = 16.0
ANTERIOR_ABOVE_PALATE_MM = 50.0
ANTERIOR_FOSSA_MIN_MM = 56.0
FLOOR_BONE_MM = 5.0
#: The medulla fills the foramen magnum's column from this height (mm above C1's centre) up
#: (C1's ring holds the canal's fluid below it; bone is left as it is).
MEDULLA_FROM_MM = 10.0
#: The occipital condyles: over C1's lateral masses (:func:`render._paint_atlas`: the ring
#: through C1's centre at its anterior arch, the masses ATLAS_MASS_MM = (mm in from the
#: ring's half-width, which is at least ATLAS_MASS_MM[1]; mm in front of the ring's centre,
#: which lies ATLAS_MASS_MM[2] in front of its outer back edge, at least ATLAS_MASS_MM[3]
#: behind the arch; half-height)), half-axes (mm), this far (mm) above the masses' top (the
#: atlanto-occipital joint).
ATLAS_MASS_MM = (6.0, 20.0, 3.5, 19.0, 9.0)
CONDYLE_MM = (7.0, 12.0, 6.0, 2.0)
#: The mastoid processes: tip and base (mm out, mm behind C1's centre, mm above it), radii at
#: the base and the tip (mm); air cells in them (a lattice of cells this far apart, mm).
MASTOID_MM = ((45.0, 20.0, 0.0), (49.0, 24.0, 28.0), 10.0, 5.0, 5.0)
#: The external auditory canals: from the skin in to this far (mm) from the midline, this far
#: behind C1's centre and above it, this radius (mm).
EAR_CANAL_MM = (42.0, 6.0, 22.0, 4.0)
#: The sphenoid body under the sella: centre (mm behind C1's centre), half-axes (mm), its top
#: at the sella's floor less its bone; its sinus inside it, this much smaller (mm) all round.
SPHENOID_MM = (-30.0, 17.0, 14.0, 12.0, 2.5)
#: The face, from the hard palate (its upper surface: the nasal cavity's floor), which lies
#: PALATE_MM[0] above the occlusal plane, OCCLUSAL_ABOVE_MM above the mandible's top at the
#: chin (mm, as the mandible's sizes, not scaled); without a jaw (no C3) at
#: PALATE_DEFAULT_MM above C1's centre. The palate is PALATE_MM[1] thick and reaches back to
#: PALATE_MM[2] (mm from C1's centre: the posterior nasal spine). The dental arches follow the
#: mandible's U (:func:`neck.mandible_polyline`, within +-TOOTH_SPAN of its phase): teeth
#: TOOTH_MM[0] tall (crown and root) and TOOTH_MM[1] thick (half), the upper ones from the
#: occlusal plane up into the maxilla's alveolar process, the lower ones down into the
#: mandible. Heights of the face's parts below are mm above the palate.
OCCLUSAL_ABOVE_MM = 7.0
PALATE_MM = (16.0, 5.0, -36.0)
PALATE_DEFAULT_MM = 4.0
TOOTH_SPAN = 1.0
TOOTH_MM = (17.0, 4.5)
#: Teeth per jaw (adults have 14-16), the gap between neighbouring crowns (mm) and how much
#: thinner (share of TOOTH_MM[1]) the front teeth are than the molars.
TEETH_PER_JAW = 14
TOOTH_GAP_MM = 1.6
TOOTH_FRONT_THIN = 0.35
#: Metal fillings and crowns: half-widths across and up (mm), their centre this far (mm) from
#: the occlusal plane into the crown. Which teeth carry them is drawn per case
#: (:func:`draw_fillings`).
FILLING_MM = (2.8, 2.2, 3.0)
#: The share of cases with metal restorations (amalgam fillings, metal or metal-ceramic
#: crowns; most adults have some, and their streaks are common on head and neck CT), and
#: how many teeth (1 to FILLINGS_MAX), among the back teeth (BACK_TEETH at each end of each
#: jaw's arch).
P_FILLINGS = 0.5
FILLINGS_MAX = 5
BACK_TEETH = 4
#: The hyoid bone at C3's level: its mid-line through the greater horns and the body (x, y:
#: mm from C3's centre, + = left, posterior), the half-height (mm) at the body and at the
#: horns' tips; 5 mm thick. Adult hyoids: body about 25 mm wide, greater horns 30 mm long,
#: the body 30-40 mm in front of the vertebral bodies.
HYOID_MM = (
    (-22.0, -20.0),
    (-18.0, -32.0),
    (-10.0, -42.0),
    (0.0, -45.0),
    (10.0, -42.0),
    (18.0, -32.0),
    (22.0, -20.0),
)
HYOID_HALF_MM = (5.0, 2.0)
#: The nasal cavity: from the palate up to the anterior fossa's floor less this (mm), from the
#: choanae (mm in front of C1's centre) to inside the nose at its floor, half-width at its floor and
#: top (mm); the septum this thick (mm).
NASAL_MM = (7.0, -38.0, -108.0, 14.0, 7.0, 2.0)
#: The maxilla's body round the nasal cavity and the sinuses reaches forwards to this far (mm)
#: in front of C1's centre; the nasal cavity runs on through its front (the piriform
#: aperture) into the nose.
MAXILLA_FRONT_MM = -92.0
#: The maxillary sinuses: centre (mm out, mm in front of C1's centre, mm above the palate),
#: half-axes (mm).
MAXILLARY_SINUS_MM = (29.0, -64.0, 13.0, 12.0, 16.0, 12.0)
#: The nasopharynx: air from the choanae back to this far (mm) in front of C1's anterior arch
#: (the longus muscles and the adenoids; the arch's front ATLAS_MASS_MM[2] in front of C1's
#: centre), up from
#: the palate's level to the sphenoid, this half-width (mm); the soft palate hangs back and
#: down from the hard palate this far (mm) at this thickness (mm).
NASOPHARYNX_MM = (12.0, 13.0)
SOFT_PALATE_MM = (30.0, 9.0)
#: The face's outline: its front (mm in front of C1's centre) and half-width (mm) at heights
#: (mm above C1's centre; painted from the neck's top up, below it the jaw's soft tissue of
#: :meth:`neck.Neck.paint_jaw` stands in front); its fat this thick (mm); the nose:
#: half-width, how far in front of the face at its tip (mm), from and to heights (mm above the
#: palate).
FACE_Z_MM = (5.0, 30.0, 55.0, 75.0)
FACE_FRONT_MM = (-98.0, -100.0, -96.0, -88.0)
FACE_HALF_MM = (60.0, 62.0, 58.0, 56.0)
FACE_FAT_MM = 9.0
NOSE_MM = (13.0, 20.0, 0.0, 46.0)
#: The zygomatic arches: from the maxilla's side (mm out, mm in front of C1's centre) back
#: to the temporal bone, this far above the palate, this radius (mm).
ZYGOMA_MM = ((42.0, -58.0), (50.0, -4.0), 20.0, 4.0)
#: The globes: centres (mm out, mm in front of C1's centre), this far (mm) below the anterior
#: fossa's floor, radius (mm); the orbital fat behind them (half-axes, mm).
GLOBE_MM = (32.0, -80.0, 15.0, 11.5, (15.0, 20.0, 14.0))
#: Above the neck's top (15 mm above C1's centre) the back and sides of the neck run up into
#: the head: the neck's outline there blends into the scalp's over this height (mm).
NUCHAL_BLEND_MM = 40.0
#: The head's sizes follow this share of the body's scale (``AnatomyParams.body_scale``,
#: 0.85-1.2: the trunk's build and fat): the skull, like the spine and the mandible (neither
#: scaled), varies far less between adults than the trunk's girth (adult head length about
#: 175-205 mm); with the whole scale a small case's skull was 150 mm long and its basion 3 mm
#: nearer C1 than the dens's tip allows.
HEAD_SCALE_SHARE = 0.25
#: The head's outline in axial sections up to 40 mm above C1's centre: a superellipse of this
#: power (squarer than an ellipse), rounding off to an ellipse 80 mm up.
HEAD_POWER = 2.8


def cranial_floor(x: Any, y: Any, anterior: float = ANTERIOR_FOSSA_MIN_MM) -> Any:
    """Height (mm above C1's centre, unit scale) of the cranial floor's upper surface at
    ``x`` (mm from the midline) and ``y`` (mm behind C1's centre); the anterior fossa's floor
    at ``anterior``."""
    ax = np.abs(x)
    yb, hb = BASION_MM
    yd, hd = DORSUM_MM
    s_back, s_front, hs = SELLA_MM
    mid, front = MIDDLE_FOSSA_MM
    # the midline: the clivus up to the dorsum, the sella's floor, the planum up to the
    # anterior fossa (flat at the basion's height behind the clivus)
    central = hb + (hd - hb) * np.clip((yb - y) / (yb - yd), 0.0, 1.0)
    central = np.where(y < yd, hd + (hs - hd) * smooth01((yd - y) / (yd - s_back)), central)
    central = np.where(y < s_back, hs + (anterior - hs) * smooth01((s_front - y) / 8.0), central)
    # out from the clivus: the posterior fossa behind the petrous ridge, the middle fossa in
    # front of it, the anterior fossa in front of that
    p0, p_slope, _ph, _pr, _out = PETROUS_MM
    ridge_y = p0 + p_slope * np.maximum(ax - CLIVUS_MM[0], 0.0)
    post = POSTERIOR_FLOOR_MM[0] - POSTERIOR_FLOOR_MM[1] * smooth01((ax - 15.0) / 20.0)
    # the middle fossae are bowls (deepest under the temporal lobes), reaching further
    # forwards out to the side (the temporal poles; the greater wings of the sphenoid curve
    # round their front)
    mid_x, mid_y, mid_deep, mid_r = MIDDLE_BOWL_MM
    mid = mid - mid_deep * np.exp(-((ax - mid_x) ** 2 + (y - mid_y) ** 2) / (2 * mid_r**2))
    front = front + MIDDLE_FRONT_IN_MM * (1.0 - smooth01((ax - CLIVUS_MM[0]) / 30.0))
    lat = post + (mid - post) * smooth01((ridge_y - y) / 8.0 + 0.5)
    lat = lat + (anterior - mid) * smooth01((front - y) / 10.0 + 0.5)
    w = smooth01((ax - CLIVUS_MM[0]) / 10.0)
    return central * (1.0 - w) + lat * w


class Head:
    """The head of one spine (which has C1): C1's centre, width and depth, C3's centre (the
    mandible; None: no jaw), the body's scale (the head's sizes follow HEAD_SCALE_SHARE of
    it)."""

    def __init__(self, geo: SpineGeometry, scale: float) -> None:
        n = geo.labels.index("C1")
        self.c1 = geo.centres_mm[n]
        self.w1 = float(geo.body_width_mm[n])
        self.d1 = float(geo.body_depth_mm[n])
        self.c3 = geo.centres_mm[geo.labels.index("C3")] if "C3" in geo.labels else None
        self.s = 1.0 + HEAD_SCALE_SHARE * (scale - 1.0)
        self.palate = self._palate_height()
        self.anterior = max(self.palate + ANTERIOR_ABOVE_PALATE_MM, ANTERIOR_FOSSA_MIN_MM)

    def _p(self, x: float, y: float, z: float) -> NDArray[np.float64]:
        """A point given relative to C1's centre at unit scale, in world mm."""
        return np.asarray(self.c1 + self.s * np.array([x, y, z]), dtype=np.float64)

    def _h(self, z: float) -> float:
        """World height ``z`` relative to C1's centre at unit scale."""
        return (z - float(self.c1[2])) / self.s

    def _palate_height(self) -> float:
        """Height (relative to C1's centre, unit scale) of the hard palate's upper surface."""
        if self.c3 is None:
            return PALATE_DEFAULT_MM
        chin_top = float(self.c3[2]) + MANDIBLE_MM[3] + 2.0 * MANDIBLE_MM[6]
        return self._h(chin_top + OCCLUSAL_ABOVE_MM + PALATE_MM[0])

    # ---------------------------------------------------------------------------------------
    def paint_envelope(
        self, pt: Painter, neck_top: tuple[float, float, float, float] | None
    ) -> None:
        """The soft tissue above the neck (into air only): the neck's outline (``neck_top``:
        centre x, y, half-width, half-depth at its top, 15 mm above C1's centre) blending up
        into the scalp's, the scalp over the vault, the face in front with the nose."""
        s = self.s
        (vx, vy, vz), (ax, ay, az) = VAULT_MM
        k0, k1 = pt.grid.index_range(
            2,
            float(self.c1[2]) + NECK_TOP_ABOVE_C1_MM,
            float(self.c1[2]) + (vz + az + SCALP_MM) * s,
        )
        air = (_T.AIR,)
        sx, sy = (float(v) for v in self._p(vx, vy, 0.0)[:2])
        nw_, n_out, n_lo, n_hi = NOSE_MM
        for k in range(k0, k1):
            h = self._h(float(pt.z[k]))
            # the scalp's outline at this height (the vault grown by the scalp)
            q2 = 1.0 - ((h - vz) / (az + SCALP_MM)) ** 2
            sw = (ax + SCALP_MM) * math.sqrt(q2) * s if q2 > 0 else 0.0
            sd = (ay + SCALP_MM) * math.sqrt(q2) * s if q2 > 0 else 0.0
            if neck_top is not None and h < NECK_TOP_ABOVE_C1_MM / s + NUCHAL_BLEND_MM:
                # the back of the neck runs up to the occiput, its sides to the scalp's
                nx, ny, nw, nd = neck_top
                t = (
                    float(smooth01((h - NECK_TOP_ABOVE_C1_MM / s) / NUCHAL_BLEND_MM))
                    if sw > 0
                    else 0.0
                )
                back = (1 - t) * (ny + nd) + t * (sy + sd)
                front = ny - nd
                cx = (1 - t) * nx + t * sx
                hw = (1 - t) * nw + t * sw
                cy, hd = (back + front) / 2, (back - front) / 2
                pt.ellipse2d(k, cx, cy, hw, hd, _T.FAT, only=air, power=HEAD_POWER)
                fat = 0.6 * FACE_FAT_MM * s
                pt.ellipse2d(
                    k, cx, cy, hw - fat, hd - fat, _T.MUSCLE, only=(_T.FAT,), power=HEAD_POWER
                )
                # the neck's midline fat septum (neck.POSTERIOR_PLANE) runs on up to the
                # occiput between the two sides' muscles
                half = (POSTERIOR_PLANE[3] * s) / 2 + 0.5
                ym = float(self.c1[1])
                pt.ellipse2d(
                    k, cx, (ym + back) / 2, half, (back - ym) / 2, _T.FAT, only=(_T.MUSCLE,)
                )
            if sw > 0:
                # squarer than the vault's ellipse low down (the skull base and the mastoids
                # are wide under the scalp), rounding off towards the top
                pw = 2.0 + (HEAD_POWER - 2.0) * float(1.0 - smooth01((h - 40.0) / 40.0))
                pt.ellipse2d(k, sx, sy, sw, sd, _T.FAT, only=air, power=pw)
            if FACE_Z_MM[0] <= h <= FACE_Z_MM[-1]:
                fy = float(np.interp(h, FACE_Z_MM, FACE_FRONT_MM))
                fw = float(np.interp(h, FACE_Z_MM, FACE_HALF_MM))
                cx, cy = (float(v) for v in self._p(0.0, (fy - 5.0) / 2, 0.0)[:2])
                rx, ry = fw * s, (-5.0 - fy) / 2 * s
                pt.ellipse2d(k, cx, cy, rx, ry, _T.FAT, only=air)
                f = FACE_FAT_MM * s
                pt.ellipse2d(k, cx, cy + f / 2, rx - f, ry - f / 2, _T.MUSCLE, only=(_T.FAT,))
                # the nose: in front of the face, deepest at its tip (low)
                hp = h - self.palate
                if n_lo <= hp <= n_hi:
                    depth = n_out * float(np.clip((n_hi - hp) / (n_hi - n_lo) * 1.6, 0.0, 1.0))
                    if depth > 1.0:
                        nx_, ny_ = (float(v) for v in self._p(0.0, fy, 0.0)[:2])
                        pt.ellipse2d(k, nx_, ny_, 0.7 * nw_ * s, depth * s, _T.SOFT, only=air)

    # ---------------------------------------------------------------------------------------
    def paint_skull(self, pt: Painter) -> None:
        """The vault above the cranial floor, the floor's bone (the clivus thick, a hole for
        the foramen magnum), brain inside, the medulla in the foramen."""
        s = self.s
        (vx, vy, vz), axes = VAULT_MM
        centre = self._p(vx, vy, vz)
        ax = (axes[0] * s, axes[1] * s, axes[2] * s)
        fy, fx, fl = FORAMEN_MAGNUM_MM
        box = local_box(pt.grid, centre, np.eye(3), (-ax[0], -ax[1], -ax[2]), ax)
        if box is None:
            return
        sl, (x3, y3, z3) = box
        # the box's axes (the frame is the identity): x (1, 1, ni), y (1, nj, 1), z (nk, 1, 1)
        x, y, z = x3[:1, :1, :], y3[:1, :, :1], z3[:, :1, :1]
        # coordinates relative to C1's centre at unit scale
        off = (centre - self.c1) / s
        xr, yr, hr = x / s + off[0], y / s + off[1], z / s + off[2]
        rm = float(np.mean(axes))
        rho = np.sqrt((x / ax[0]) ** 2 + (y / ax[1]) ** 2 + (z / ax[2]) ** 2)
        depth = (1.0 - rho) * (rm * s)  # approximate depth below the vault's surface, mm
        inside = depth >= 0.0
        floor = cranial_floor(xr, yr, self.anterior)  # (1, nj, ni)
        # the floor's thickness is measured along its normal (thicker on the clivus)
        e = 0.5
        gx = cranial_floor(xr + e, yr, self.anterior) - cranial_floor(xr - e, yr, self.anterior)
        gy = cranial_floor(xr, yr + e, self.anterior) - cranial_floor(xr, yr - e, self.anterior)
        cosn = 1.0 / np.sqrt(1.0 + (gy * gy + gx * gx) / (4 * e * e))
        on_clivus = (
            (np.abs(xr) < CLIVUS_MM[0]) & (yr < BASION_MM[0] + 2.0) & (yr > DORSUM_MM[0] - 4.0)
        )
        thick = np.where(on_clivus, CLIVUS_MM[1], FLOOR_BONE_MM) / cosn * s
        below = (floor - hr) * s  # mm under the floor's surface (> 0)
        foramen = (ellipse_form(xr, yr - fy, fx, fl) <= 1.0) & (hr < 40.0)
        floor_bone = inside & (below > 0) & (below < thick) & ~foramen
        floor_core = floor_bone & (below > 1.5 / cosn) & (below < thick - 1.5)
        above = (below <= 0) & ~foramen
        shell = inside & (depth < VAULT_BONE_MM * s) & above
        diploe = inside & (depth >= 1.5) & (depth < VAULT_BONE_MM * s - 1.5) & above
        tis = pt.tissue[sl]
        soft = np.isin(tis, (_T.AIR, _T.FAT, _T.MUSCLE, _T.SOFT))
        brain = inside & (depth >= VAULT_BONE_MM * s) & (below <= 0) & soft
        # the medulla in the foramen, down to the neck's top
        brain |= foramen & inside & (hr > MEDULLA_FROM_MM) & soft
        tis[brain] = _T.BRAIN
        tis[shell | floor_bone] = _T.CORTICAL
        tis[diploe | floor_core] = _T.MARROW

    # ---------------------------------------------------------------------------------------
    def _ellipsoid(
        self,
        pt: Painter,
        c: tuple[float, float, float],
        r: tuple[float, float, float],
        value: int,
        only: tuple[int, ...] | None = None,
        shell: tuple[int, float] | None = None,
    ) -> None:
        """An ellipsoid (centre and half-axes relative to C1's centre, unit scale) of
        ``value`` (into ``only``), inside a ``shell`` = (tissue, thickness mm)."""
        s = self.s
        rr = (r[0] * s, r[1] * s, r[2] * s)
        box = local_box(pt.grid, self._p(*c), np.eye(3), (-rr[0], -rr[1], -rr[2]), rr)
        if box is None:
            return
        sl, (x, y, z) = box
        q = (x / rr[0]) ** 2 + (y / rr[1]) ** 2 + (z / rr[2]) ** 2
        tis = pt.tissue[sl]
        ok = np.ones(tis.shape, dtype=bool) if only is None else np.isin(tis, only)
        if shell is None:
            tis[(q <= 1.0) & ok] = value
            return
        t = shell[1]
        inner = (
            (x / max(rr[0] - t, 0.5)) ** 2
            + (y / max(rr[1] - t, 0.5)) ** 2
            + (z / max(rr[2] - t, 0.5)) ** 2
        ) <= 1.0
        tis[(q <= 1.0) & ~inner & ok] = shell[0]
        tis[inner & ok] = value

    def paint_base(self, pt: Painter) -> None:
        """The skull base's parts below its floor: occipital condyles, petrous ridges,
        mastoids with air cells, ear canals, the sphenoid body and its sinus."""
        s = self.s
        soft = (_T.AIR, _T.FAT, _T.MUSCLE, _T.SOFT)
        bone = (_T.CORTICAL, _T.MARROW)
        rx, ry, rz, gap = CONDYLE_MM
        m_in, ra_min, b_back, rb_min, m_half = ATLAS_MASS_MM
        cx = (max(self.w1 / 2, ra_min) - m_in) / s
        cy = (max(self.d1 / 2 + 8.0, rb_min) - b_back - 2.0) / s
        cz = (m_half + gap) / s + rz
        for side in (1.0, -1.0):
            self._ellipsoid(
                pt, (side * cx, cy, cz), (rx, ry, rz), _T.MARROW, soft, (_T.CORTICAL, 1.5)
            )
        # the petrous ridges: dense bars from beside the clivus back and out
        p0, p_slope, ph, pr, p_out = PETROUS_MM
        for side in (1.0, -1.0):
            a = self._p(side * CLIVUS_MM[0], p0, ph - pr)
            b = self._p(side * p_out, p0 + p_slope * (p_out - CLIVUS_MM[0]), ph - pr - 6.0)
            pt.tube(np.stack([a, b]), pr * s, _T.CORTICAL, only=(*soft, _T.MARROW, _T.BRAIN))
        # the mastoids: cones of bone with air cells
        tip, base, r_base, r_tip, cell = MASTOID_MM
        n = 10
        for side in (1.0, -1.0):
            for i in range(n):
                f = i / (n - 1)
                c = tuple(t0 + (b0 - t0) * f for t0, b0 in zip(tip, base, strict=True))
                r = r_tip + (r_base - r_tip) * f
                self._ellipsoid(
                    pt, (side * c[0], c[1], c[2]), (r, r, r), _T.MARROW, soft, (_T.CORTICAL, 1.5)
                )
            self._air_cells(
                pt,
                self._p(side * tip[0], tip[1], tip[2]),
                self._p(side * base[0], base[1], base[2]),
                (r_base - 2.5) * s,
                cell * s,
            )
        # the external auditory canals, from the skin in
        ex, ey, ez, er = EAR_CANAL_MM
        for side in (1.0, -1.0):
            a = self._p(side * ex, ey, ez)
            b = self._p(side * (ex + 45.0), ey, ez)
            pt.tube(np.stack([a, b]), er * s, _T.GAS, only=(*soft, *bone))
        # the sphenoid body and its sinus, under the sella
        sy, rx, ry, rz, wall = SPHENOID_MM
        sz = SELLA_MM[2] - FLOOR_BONE_MM - rz + 3.0
        self._ellipsoid(pt, (0.0, sy, sz), (rx, ry, rz), _T.MARROW, soft, (_T.CORTICAL, 1.5))
        inner = (rx - wall, ry - wall, rz - wall)
        self._ellipsoid(pt, (0.0, sy, sz - 1.0), inner, _T.GAS, (_T.MARROW,))

    def _air_cells(
        self,
        pt: Painter,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        r: float,
        cell: float,
    ) -> None:
        """Air cells (a lattice of round cells ``cell`` mm apart) in the marrow within ``r``
        mm of the segment ``a``-``b`` (world mm)."""
        lo = np.minimum(a, b) - r
        hi = np.maximum(a, b) + r
        mid = (lo + hi) / 2
        half = (hi - lo) / 2
        box = local_box(pt.grid, mid, np.eye(3), (-half[0], -half[1], -half[2]), tuple(half))
        if box is None:
            return
        sl, (x, y, z) = box
        px, py, pz = x + (mid[0] - a[0]), y + (mid[1] - a[1]), z + (mid[2] - a[2])
        ab = b - a
        t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) / float(ab @ ab), 0.0, 1.0)
        d2 = (px - t * ab[0]) ** 2 + (py - t * ab[1]) ** 2 + (pz - t * ab[2]) ** 2
        w = 2.0 * math.pi / cell
        lattice = np.cos(w * px) + np.cos(w * py) + np.cos(w * pz) > 0.6
        tis = pt.tissue[sl]
        tis[(d2 < r * r) & lattice & (tis == _T.MARROW)] = _T.GAS

    # ---------------------------------------------------------------------------------------
    def paint_face(self, pt: Painter) -> None:
        """The mandible, maxilla, palate and teeth, nasal cavity, maxillary sinuses,
        nasopharynx, soft palate, zygomatic arches and globes."""
        s = self.s
        pal = self.palate
        soft = (_T.AIR, _T.FAT, _T.MUSCLE, _T.SOFT)
        bone = (_T.CORTICAL, _T.MARROW)
        if self.c3 is not None:
            paint_mandible(pt, self.c3, float(self.c1[2]))
            self._paint_jaws(pt)
        # the maxilla's body round the nasal cavity and the sinuses, then the air in them
        gap, ny0, _ny1, _nw0, _nw1, _septum = NASAL_MM
        nh = self.anterior - FLOOR_BONE_MM - gap - pal
        mx, my, mz, rx, ry, rz = MAXILLARY_SINUS_MM
        self._ellipsoid(
            pt,
            (0.0, (ny0 + MAXILLA_FRONT_MM) / 2, pal + nh / 2 - 2.0),
            (mx + rx + 4.0, (ny0 - MAXILLA_FRONT_MM) / 2 + 4.0, nh / 2 + 4.0),
            _T.MARROW,
            soft,
            (_T.CORTICAL, 1.5),
        )
        for side in (1.0, -1.0):
            self._ellipsoid(pt, (side * mx, my, pal + mz), (rx, ry, rz), _T.GAS, bone)
        self._paint_nasal(pt, nh)
        self._paint_nasopharynx(pt)
        # the zygomatic arches
        za, zb, zh, zr = ZYGOMA_MM
        for side in (1.0, -1.0):
            a = self._p(side * za[0], za[1], pal + zh)
            b = self._p(side * zb[0], zb[1], pal + zh)
            pt.tube(np.stack([a, b]), zr * s, _T.CORTICAL, _T.MARROW, 1.5, only=soft)
        # the globes in their fat
        gx, gy, g_below, gr, fat_r = GLOBE_MM
        gz = self.anterior - g_below
        for side in (1.0, -1.0):
            self._ellipsoid(pt, (side * gx, gy + 14.0, gz), fat_r, _T.FAT, (*soft, *bone))
            self._ellipsoid(pt, (side * gx, gy, gz), (gr, gr, gr), _T.WATER, (*soft, *bone))

    def _arch(self) -> NDArray[np.float64]:
        """The dental arches' course (world mm): the mandible's U
        (:func:`neck.mandible_polyline`) within +-TOOTH_SPAN of its phase."""
        assert self.c3 is not None
        arch = mandible_polyline(self.c3, 40)
        ph = np.linspace(-MANDIBLE_SPAN, MANDIBLE_SPAN, len(arch))
        return np.asarray(arch[np.abs(ph) <= TOOTH_SPAN])

    def teeth(self, pt: Painter) -> list[tuple[NDArray[np.float64], float]]:
        """The teeth (upper jaw first, each jaw from the right end of its arch to the left):
        each tooth's centre line (3 points along the arch, world mm, at the tooth's
        mid-height) and its half-thickness (mm). TEETH_PER_JAW per jaw along the mandible's
        U (within +-TOOTH_SPAN of its phase), TOOTH_GAP_MM apart, thinner at the front
        (incisors) than at the back (molars), each shortened by how far ``pt``'s tube painter
        reaches past a tube's end samples (:meth:`Painter.flat_tube_steps`; where the grid is
        too coarse for the gap, the teeth touch). Empty without a jaw."""
        if self.c3 is None:
            return []
        s = self.s
        arch = self._arch()
        tall, thick = TOOTH_MM
        z_occ = float(self.c1[2]) + (self.palate - PALATE_MM[0]) * s
        seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(arch, axis=0), axis=1))]
        edges = np.linspace(0.0, seg[-1], TEETH_PER_JAW + 1)
        gap = TOOTH_GAP_MM * s / 2
        out: list[tuple[NDArray[np.float64], float]] = []
        for sign in (1.0, -1.0):
            for n in range(TEETH_PER_JAW):
                front = 1.0 - abs((edges[n] + edges[n + 1]) / seg[-1] - 1.0)  # 1 at the midline
                t_half = thick * (1.0 - TOOTH_FRONT_THIN * front) * s
                step, reach = pt.flat_tube_steps(t_half)
                a0, a1 = edges[n] + gap + reach, edges[n + 1] - gap - reach
                if a1 - a0 < step:
                    a0, a1 = edges[n], edges[n + 1]
                at = np.linspace(a0, a1, 3)
                tooth = np.stack([np.interp(at, seg, arch[:, c]) for c in range(3)], axis=1)
                tooth[:, 2] = z_occ + sign * (tall / 2 + 0.5) * s
                out.append((tooth, t_half))
        return out

    def paint_fillings(self, pt: Painter, fillings: tuple[int, ...]) -> NDArray[np.float64]:
        """Metal fillings or crowns in the crowns of the teeth ``fillings`` (indices into
        :meth:`teeth`), into the tooth only; returns their centres (``(M, 3)`` world mm, for
        the metal streaks)."""
        teeth = self.teeth(pt)
        s = self.s
        z_occ = float(self.c1[2]) + (self.palate - PALATE_MM[0]) * s
        r_xy, r_z, depth = FILLING_MM
        pts = []
        for idx in fillings:
            if not 0 <= idx < len(teeth):
                continue
            tooth, _t = teeth[idx]
            c = tooth[1].copy()
            c[2] = z_occ + np.sign(tooth[1, 2] - z_occ) * (0.5 + depth) * s
            rr = (r_xy * s, r_xy * s, r_z * s)
            box = local_box(pt.grid, c, np.eye(3), (-rr[0], -rr[1], -rr[2]), rr)
            if box is None:
                continue
            sl, (x, y, z) = box
            tis = pt.tissue[sl]
            blob = (x / rr[0]) ** 2 + (y / rr[1]) ** 2 + (z / rr[2]) ** 2 <= 1.0
            tis[blob & (tis == _T.TOOTH)] = _T.FILLING
            pts.append(c)
        return np.array(pts, dtype=np.float64).reshape(-1, 3)

    def _paint_jaws(self, pt: Painter) -> None:
        """The maxilla's alveolar arch, the hard palate, and the teeth of both jaws."""
        assert self.c3 is not None
        s = self.s
        soft = (_T.AIR, _T.FAT, _T.MUSCLE, _T.SOFT)
        pal = self.palate
        arch = self._arch()
        m = len(arch)
        tall, thick = TOOTH_MM
        z_occ = float(self.c1[2]) + (pal - PALATE_MM[0]) * s
        # the alveolar process round the upper teeth's roots, up to the palate
        upper = arch.copy()
        upper[:, 2] = z_occ + (PALATE_MM[0] / 2 + 2.0) * s
        pt.flat_tube(
            upper,
            np.full(m, (PALATE_MM[0] / 2 - 1.0) * s),
            np.full(m, (thick + 3.0) * s),
            np.zeros(m),
            _T.CORTICAL,
            _T.MARROW,
            1.5,
            only=soft,
        )
        # the hard palate: a plate inside the arch back to the posterior nasal spine
        front_y = (float(arch[:, 1].min()) - float(self.c1[1])) / s + 6.0
        back_y = PALATE_MM[2]
        half_w = (float(np.abs(arch[:, 0] - self.c1[0]).max())) / s - 4.0
        self._ellipsoid(
            pt,
            (0.0, (front_y + back_y) / 2, pal - PALATE_MM[1] / 2),
            (half_w, (back_y - front_y) / 2, PALATE_MM[1] / 2),
            _T.MARROW,
            (*soft, _T.CORTICAL),
            (_T.CORTICAL, 1.2),
        )
        # the teeth: the upper ones from the occlusal plane up, the lower ones down into the
        # mandible (a 1 mm gap between the crowns)
        for tooth, t_half in self.teeth(pt):
            pt.flat_tube(
                tooth,
                np.full(3, tall / 2 * s),
                np.full(3, t_half),
                np.zeros(3),
                _T.TOOTH,
                only=(*soft, _T.CORTICAL, _T.MARROW),
            )
        # the hyoid: a U of bone in front of the airway at C3's level, its body in front and
        # its greater horns running back beside the airway
        hyoid = np.array([[x, y, 0.0] for x, y in HYOID_MM]) * s + self.c3
        n_h = len(hyoid)
        hh = np.interp(np.abs(np.arange(n_h) - (n_h - 1) / 2), [0, (n_h - 1) / 2], HYOID_HALF_MM)
        pt.flat_tube(
            hyoid,
            hh * s,
            np.full(n_h, 2.5 * s),
            np.zeros(n_h),
            _T.CORTICAL,
            _T.MARROW,
            1.2,
            only=soft,
        )

    def _paint_nasal(self, pt: Painter, nh: float) -> None:
        """The nasal cavity's air, ``nh`` mm tall above the palate, narrowing upwards, with
        the septum and three turbinates on each side wall."""
        s = self.s
        pal = self.palate
        _gap, ny0, ny1, nw0, nw1, septum = NASAL_MM
        z0 = float(self.c1[2]) + pal * s
        k0, k1 = pt.grid.index_range(2, z0, z0 + nh * s)
        ok = (_T.MARROW, _T.CORTICAL, _T.FAT, _T.MUSCLE, _T.SOFT)
        half_septum = septum * s / 2
        for k in range(k0, k1):
            f = (self._h(float(pt.z[k])) - pal) / nh
            hw = (nw0 + (nw1 - nw0) * f) * s
            front = ny1 + 18.0 * f  # the nasal bones slope back towards the top
            cx, cy = (float(v) for v in self._p(0.0, (ny0 + front) / 2, 0.0)[:2])
            ry = (ny0 - front) / 2 * s

            def beside(x: Any, y: Any, cx: float = cx) -> Any:
                return np.abs(x - cx) > half_septum

            pt.ellipse2d(k, cx, cy, hw, ry, _T.GAS, only=ok, power=4.0, extra=beside)
            # the turbinates: soft shelves off the side walls at three heights
            for t_h in (0.2, 0.45, 0.7):
                if abs(f - t_h) < 0.07:
                    for side in (1.0, -1.0):
                        pt.ellipse2d(
                            k, cx + side * hw, cy, 0.55 * hw, 0.8 * ry, _T.SOFT, only=(_T.GAS,)
                        )

    def _paint_nasopharynx(self, pt: Painter) -> None:
        """The nasopharynx's air from the choanae back to in front of C1 (the longus muscles
        and the adenoids), from below the palate's level up to the sphenoid; the soft palate
        hanging back and down from the hard palate."""
        s = self.s
        pal = self.palate
        gap, hw = NASOPHARYNX_MM
        y_back = -(ATLAS_MASS_MM[2] + gap) / s
        y_front = NASAL_MM[1]
        _sy, _rx, _ry, rz, _wall = SPHENOID_MM
        top = SELLA_MM[2] - FLOOR_BONE_MM - 2.0 * rz + 3.0
        lo = pal - 14.0
        k0, k1 = pt.grid.index_range(2, float(self.c1[2]) + lo * s, float(self.c1[2]) + top * s)
        ok = (_T.MARROW, _T.CORTICAL, _T.FAT, _T.MUSCLE, _T.SOFT)
        for k in range(k0, k1):
            h = self._h(float(pt.z[k]))
            # below the palate the soft palate takes the front: the airway narrows to the
            # oropharynx behind it
            f = float(np.clip((pal - h) / 14.0, 0.0, 1.0))
            yf = y_front + f * (y_back - 8.0 - y_front)
            cx, cy = (float(v) for v in self._p(0.0, (yf + y_back) / 2, 0.0)[:2])
            pt.ellipse2d(k, cx, cy, hw * s, (y_back - yf) / 2 * s, _T.GAS, only=ok, power=3.0)
        # the soft palate
        ln, th = SOFT_PALATE_MM
        a = self._p(0.0, PALATE_MM[2], pal - PALATE_MM[1] / 2)
        b = self._p(0.0, PALATE_MM[2] + ln * 0.55, pal - PALATE_MM[1] / 2 - ln * 0.8)
        pt.flat_tube(
            np.stack([a, b]),
            np.full(2, th / 2 * s),
            np.full(2, 14.0 * s),
            np.full(2, math.pi / 2),
            _T.SOFT,
            only=(_T.GAS, _T.MUSCLE, _T.FAT),
        )


def draw_fillings(rng: np.random.Generator, p: float = P_FILLINGS) -> tuple[int, ...]:
    """Which teeth (indices of :meth:`Head.teeth`) carry metal: none with probability
    ``1 - p``, else 1 to FILLINGS_MAX of the back teeth."""
    if rng.random() >= p:
        return ()
    n = TEETH_PER_JAW
    back = [jaw * n + i for jaw in (0, 1) for i in (*range(BACK_TEETH), *range(n - BACK_TEETH, n))]
    k = int(rng.integers(1, FILLINGS_MAX + 1))
    return tuple(sorted(int(v) for v in rng.choice(back, size=k, replace=False)))


def paint_head(
    pt: Painter,
    geo: SpineGeometry,
    scale: float,
    neck_top: tuple[float, float, float, float] | None,
    fillings: tuple[int, ...] = (),
) -> NDArray[np.float64]:
    """Paint the head of spine ``geo`` (if it has C1): soft tissue into the air above the
    neck, then the skull, the face and the skull base's parts, and the metal restorations
    ``fillings`` (:func:`draw_fillings`; where the jaw is, C3). ``neck_top``: the neck's
    outline 15 mm above C1's centre (centre x, y, half-width, half-depth; None: the head's
    soft tissue starts from the scalp). Returns the fillings' centres (``(M, 3)`` world mm)
    for the metal streaks."""
    if "C1" not in geo.labels:
        return np.zeros((0, 3))
    head = Head(geo, scale)
    head.paint_envelope(pt, neck_top)
    head.paint_skull(pt)
    head.paint_face(pt)
    head.paint_base(pt)
    if not fillings or head.c3 is None:
        return np.zeros((0, 3))
    return head.paint_fillings(pt, fillings)
