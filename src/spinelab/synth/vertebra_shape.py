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
* the lumbar spinous processes' lengths at L2-L4 (``sp_len`` 38 / 39 / 37 mm; 31 / 32 / 30 from
  the L1, L3 and L5 rows until 2026-12-04) from two real CTs, measured from the body centre (the
  mean of the front 35 mm of the vertebra's mask) to the mask's tip within 5 mm of the midline:
  the TPTBox L3 crop (a manual mask) 72.6 mm, its spinous-process subregion 38-72.6 mm behind
  the body centre and its arch's front at 32 mm (the canal as deep as here); the example CT's
  model-made masks (3 mm) L1 60, L2-L4 67-68, L5 57 mm. Eight generated lumbar cases (1.5 mm
  label maps) had medians L1 58, L2 59, L3 62, L4 61, L5 58: L2-L4 6-11 mm short, with bodies
  as deep (36-41 mm against 38-40);
* facet joints: lumbar joint planes 30 deg (L1) to 45 deg (L5) from the sagittal plane, thoracic
  about 70 deg (nearly coronal), cervical nearly coronal in axial section; joint space about
  2 mm on CT.

Degenerative change, drawn per case (:func:`draw_spurs`, :func:`draw_schmorl_nodes`): marginal
osteophytes at the anterior and lateral endplate rims (:func:`spur_part`, painted as parts of
the body) and Schmorl nodes (:func:`schmorl_masks`, carved into the painted body).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
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
    20: (8.7, 15.4, 22.0, 18.0, 6.5, 30.0, 16.0, 6.5, 36.0, 10.0, 5.0, 6.5, 0.5, 30.0),
    # L2-L4: the midpoints of their neighbours but for the longer spinous processes (see the
    # module docstring)
    21: (9.5, 15.15, 22.5, 17.0, 6.75, 38.0, 16.0, 6.75, 41.0, 10.5, 5.0, 6.75, 0.65, 34.0),
    22: (10.3, 14.9, 23.0, 16.0, 7.0, 39.0, 16.0, 7.0, 46.0, 11.0, 5.0, 7.0, 0.8, 38.0),
    23: (14.15, 14.45, 24.5, 16.5, 7.0, 37.0, 15.0, 7.0, 44.0, 13.0, 7.5, 7.25, 0.9, 41.5),
    24: (18.0, 14.0, 26.0, 17.0, 7.0, 28.0, 14.0, 7.0, 42.0, 15.0, 10.0, 7.5, 1.0, 45.0),
    # S1, S2: short spinous tubercles on the median sacral crest (pelvis.SACRAL_CREST_MM)
    25: (18.0, 14.0, 28.0, 14.0, 7.0, 8.0, 10.0, 6.0, 0.0, 0.0, 0.0, 7.5, 1.0, 45.0),
    26: (12.0, 10.0, 24.0, 10.0, 6.0, 6.0, 8.0, 5.0, 0.0, 0.0, 0.0, 5.0, 1.0, 45.0),
}

#: Cortex of the posterior elements (mm), a ``Tissue.SHELL`` (about 650 HU: a thinner layer of
#: denser compact bone spread over a fine voxel). Their core (``Tissue.DENSE``) is trabecular
#: bone a little denser than the body's, so on CT the laminae and spinous processes are grey
#: lobes with a bright outline. Tuned on the real example CT's L1-L4 posterior elements at
#: 3 mm (median 275 HU, 95th percentile 655 HU, :func:`spinelab.synth.realism.vertebra_hu`).
POSTERIOR_CORTEX_MM = 1.1
#: The inferior articular processes below the pars interarticularis are mostly compact bone
#: (thick cortex and subchondral plate): on the real example CT the arch's voxels above 800 HU
#: (3 mm, L1-L4) lie a median 11 mm from the midline, 25 mm behind and 9 mm below the body
#: centre, where these processes meet the laminae. A ``Tissue.CORTICAL`` cortex this thick
#: gives the arch's 99th percentile about 920 HU at 3 mm (real 973, was 813) with its 95th
#: percentile unchanged (667 vs real 655).
INFERIOR_ARTICULAR_CORTEX_MM = 2.6
#: Antero-posterior thickness of a transverse process at its tip, as a multiple of its root's
#: (``tp_t``; linear between): thoracic tips are club-shaped (they carry the rib's tubercle),
#: lumbar processes are thin blades that taper laterally. The real L3 crop at 1.5 mm
#: (``../shared/data/ct/tptbox_l3_crop``) shows them as thin bright lines, about 3 px (4.5 mm)
#: at the root and 2 px at the tip, and its subregion mask (which partial volume widens) 6-9 mm
#: at the root and 3-4.5 mm at the tip; at 0.6-1 mm the earlier 6.5 mm processes tapering to
#: 0.8 of that read as hollow tubes with two parallel walls. Now ``tp_t`` is 5 mm at L1-L3
#: (:data:`LEVEL_DIMS`; the bone 70 % of the way out is 4 mm thick, at the tip 3.2 mm); L5's
#: stout processes keep 10 mm. The arch's HU at 3 mm hardly moved (six stats cases' mean
#: percentiles 5/25/50/75/95/99: 147/215/292/376/632/823 -> 146/214/294/386/642/825 HU).
TP_TIP_SCALE = {"cervical": 0.8, "thoracic": 1.25, "lumbar": 0.6}
#: Parts whose cortex is at least this thick get a ``Tissue.CORTICAL`` (compact, about
#: 1000 HU) cortex, thinner ones a ``Tissue.SHELL`` (about 650 HU).
COMPACT_CORTEX_MM = 1.4
#: Pedicle walls are thicker compact bone (medial wall 1.5-2 mm, lateral about 1 mm): a
#: ``Tissue.CORTICAL`` cortex (:data:`COMPACT_CORTEX_MM`); on the real CT the L1-L4 bodies'
#: brightest voxels (above 500 HU) are at the pedicle roots.
PEDICLE_CORTEX_MM = 1.4
#: Spinous-process inclination below the horizontal (tan of the angle) per level number: about
#: 20-25 deg at C7-T2, steepest (55-60 deg, the tip beside the next body) at T5-T8, 30 deg at
#: T11 and nearly horizontal in the lumbar spine (anatomy texts; Cramer & Darby, Clinical
#: Anatomy of the Spine, 3rd ed.).
SPINOUS_SLOPE: dict[float, float] = {
    3.0: 0.35,
    7.0: 0.35,
    8.0: 0.45,
    11.0: 1.2,
    14.0: 1.5,
    16.0: 1.2,
    18.0: 0.6,
    19.0: 0.35,
    20.0: 0.2,
    24.0: 0.1,
    25.0: 0.0,
}
#: Where a transverse process leaves the arch: this share of the canal's depth (``can_d``)
#: behind the body's posterior wall, per level number (:func:`level_number`; linear between,
#: the end values beyond). The lumbar processes arise behind the pedicles, at the junction with
#: the laminae and the superior articular processes, L5's from the pedicle and the body. On two
#: real CTs the transverse processes' voxels more than 28 mm from the midline lie (mean y
#: behind the body centre, the centre from the front 35 mm of the mask) 36.3 mm at the TPTBox
#: L3 (manual mask, 1.5 mm) and 35.1-35.3 at L1-L3, 28.1 at L4, 17.2 at L5 on the example CT's
#: model-made masks; at 0.45 everywhere four generated cases had 22.5-28 at L1-L3, 23.5-26.4
#: at L4 and 16.6-19.4 at L5 (1 mm label maps).
TP_ROOT_SHARE: dict[float, float] = {19.0: 0.45, 20.0: 1.0, 22.0: 1.0, 23.0: 0.65, 24.0: 0.45}
#: Lumbar articular pillars (the superior and inferior articular processes with the pars):
#: their centre this share of the canal's depth behind the body's posterior wall and their
#: radius this share of ``fac_r``, per level number (linear between, the end values beyond:
#: the cervical and thoracic levels, T13 and the sacrum 0.6 and 1.0; L5 and L6 0.75 and 1.0). On the TPTBox L3 (manual subregion masks, 1.5 mm) the
#: superior processes' centroids lie 33-35 mm and the inferior ones' 36-38.5 mm behind the body
#: centre and the four processes hold 0.6-0.7 cm^3 of mask each; here the pillar's centre lay
#: about 29 mm behind it (0.75 of the canal's depth) and each pillar, both processes and the
#: pars, was about 7.6 cm^3. Moved back alone (1.0), the arch's brightest voxels at 3 mm
#: crowded (95th percentile 799 HU on the arch-density test's case, real 655); at 1.15 with the
#: radius at 0.8 the percentiles 50 / 95 / 99 are 296 / 646 / 855 HU (303 / 727 / 870 before;
#: real 275 / 655 / 973) and the fixture's superior / inferior processes lie 30.6 / 34.7 mm
#: behind L3's body centre (23.8 / 28.8 before). 1.2 with the radius at 0.7 put them 31.7 /
#: 35.4 mm back but its 99th percentile fell to 2.74 times the median (real 3.5).
PILLAR_BACK_SHARE: dict[float, float] = {
    19.5: 0.6,
    20.0: 1.15,
    23.0: 1.15,
    24.0: 0.75,
    24.5: 0.75,
    25.0: 0.6,
}
PILLAR_RADIUS_SHARE: dict[float, float] = {19.5: 1.0, 20.0: 0.8, 23.0: 0.8, 24.0: 1.0}
#: Backward run of a transverse process per mm outwards (negative: forwards), per region.
TP_BACK_SLOPE: dict[str, float] = {"cervical": -0.25, "thoracic": 0.75, "lumbar": 0.3}
#: Pedicles widen by this fraction where they meet the body (a fillet instead of a corner).
PEDICLE_FLARE = 0.35
#: Fillet radius (mm) where a spinous process meets its laminae: the root flares smoothly.
SPINOUS_FILLET_MM = 4.0
#: Cortex of the lumbar spinous processes (mm): a ``Tissue.SHELL`` along the whole process
#: and, from :data:`SPINOUS_COMPACT_FROM` of its length to the tip, a ``Tissue.CORTICAL`` one
#: (compact bone of the club-shaped posterior border, where the supraspinous and
#: interspinous ligaments insert). On the real example CT (3 mm, mid-sagittal, L1-L4) each
#: spinous process is a ring: a bright rim (17 % of its section above 400 HU, 90th percentile
#: 465 HU) round grey marrow (median 166 HU); the old 1.1 mm shell gave 4 % and 335 HU (a
#: uniformly bright block), 1.5 mm of compact bone all round 43 % and 685 HU.
SPINOUS_CORTEX_MM = 1.3
SPINOUS_TIP_CORTEX_MM = 1.4
SPINOUS_COMPACT_FROM = 0.5
#: Lumbar spinous-process profile along its length ``t`` (0 root, 1 tip), in units of its
#: half-height: ``1 - waist t (1 - t) + club t / 2`` about a centre line that drops by
#: ``(club / 2 + droop) t`` (a slight waist; the lower border grows into a club-shaped tip
#: while the upper one slopes down, so the process tilts caudally like the real ones and the
#: gaps between neighbours stay open at the tips where the lordosis brings them together;
#: with the whole tip taller the L3-L5 lobes touched on lordotic spines). The tip's rounding:
#: an elliptic end of :data:`SPINOUS_TIP_ROUND` of the half-height in length.
SPINOUS_WAIST = 0.3
SPINOUS_CLUB = 0.25
SPINOUS_DROOP = 0.15
SPINOUS_TIP_ROUND = 0.6
#: Mid-sagittal outline of the lumbar spinous process and laminar apex: one oval lobe with a
#: rounded front (at the canal) of this fraction of the lobe's half-height as radius, and a
#: round (elliptic) club-shaped tip; the laminae in the midline are only
#: :data:`LAMINA_MID_FRACTION` of the process's half-height above and below its axis, so they
#: stay inside the lobe's outline (they were a block as tall as the process plus 2 mm, and
#: with the square tip the section read as a square block).
SPINOUS_FRONT_ROUND = 0.7
#: Level number (:func:`level_number`) from which the spinous processes are such lobes: T11
#: and T12 are lumbar-like (on the real example CT their mid-sagittal sections are rings like
#: the lumbar ones, 27 mm high at 3 mm); higher thoracic ones taper below tall laminae.
SPINOUS_OVAL_FROM = 18.0
LAMINA_MID_FRACTION = 0.5
#: Endplate concavity (mm at the centre): inferior endplates are the more concave ones
#: (lumbar central depth about 1-2 mm superior, 2-3 mm inferior; Langrana et al. 2006).
ENDPLATE_CUP_MM = (1.3, 2.0)
#: The cups span the endplate's central part only: out to this fraction of the body's
#: (elliptic) radius, deepest at the centre and meeting the flat rim (the epiphyseal ring)
#: with zero slope (Wang Y, Battie MC, Videman T, Eur Spine J 2012, 591 lumbar endplates: the
#: central endplate spans about 70 % of the whole endplate's diameter, the epiphyseal rim is
#: 3-7 mm wide; 0.8 here because the cup's edge is flat), depth
#: ``cup * (1 - (rho / r)^2)^2``. A cup over the whole endplate (``1 - rho^2``) took 70 % of
#: its depth off the body 9 mm in front of or behind the centre, where real endplates are
#: still nearly flat.
ENDPLATE_CUP_RADIUS = 0.8
#: Waist of the vertebral body: anterior and lateral walls 9 % in at mid-height, as
#: ``1 - waist * (1 - t^2)^2`` (``t`` = 1 at the endplates: the wall meets the rounded rim
#: without flaring). A lumbar body's anterior wall is then 1.5 mm in at mid-height and the
#: front there 1.1 mm behind the front 0.35 of the height above and below the centre; on the
#: real example CT (3 mm, mid-sagittal, T12-L5) that setback is 0-3 mm, mean 1.2 (it was 0.6 mm
#: here with a 7 % parabolic waist, which also flared the wall out to the rim).
BODY_WAIST = 0.09
#: Natural wedging of the vertebral bodies: anterior minus posterior height (mm) per level
#: number (:func:`level_number`), linear in between; the height at the body's centre is kept.
#: Thoracic bodies are wedged kyphotically (anterior 1-2 mm shorter, most at the apex of the
#: kyphosis), L1 slightly so, L3-L5 increasingly lordotically (L5 anterior about 3-4 mm
#: taller), so part of the lumbar lordosis lies in the bodies and not only in the discs.
#: Rounded values of the sign and size that morphometry studies describe (Masharawi et al.,
#: Clin Anat 21:46, 2008, thoracic and lumbar body wedging; Goh et al., Clin Biomech 14:439,
#: 1999, body and disc wedging in thoracic kyphosis), not one table's figures, checked on the
#: real example CT (3 mm, mid-sagittal label outline,
#: heights 15 % of the depth inside the front and back walls): L2 +0.5, L3 +2.8, L4 +3.0,
#: L5 +4.5 mm (L1 -3.8, less reliable: T12's label reaches into it). S1 takes a lordotic wedge
#: on its upper endplate only (its lower one is fused to S2): the sacral base tilts forwards to
#: the promontory.
BODY_WEDGE_MM: dict[float, float] = {
    3.0: 0.0,
    7.0: 0.0,
    8.0: -0.5,
    11.0: -1.5,
    15.0: -2.0,
    18.0: -1.5,
    19.0: -1.5,
    20.0: -1.5,
    21.0: -0.5,
    22.0: 0.8,
    23.0: 1.8,
    24.0: 3.5,
    25.0: 3.0,
    26.0: 0.0,
}
#: Rounded rim of the vertebral body (the ring apophysis): the corner between the endplates
#: and the walls is a fillet of this fraction of the body height (about 3.3 mm in the lumbar
#: spine, 1.7 mm cervical) instead of a square edge. Not at the fused S1-S2 junction.
RIM_ROUND = 0.12
#: Basivertebral vein channel: enters the middle of the posterior wall, runs forward this
#: fraction of the body's depth, half-width x half-height at the wall (mm).
BASIVERTEBRAL_DEPTH = 0.3
BASIVERTEBRAL_MM = (2.0, 1.2)
#: Body cortex thickness around the body, as multiples of the region's body cortex (the
#: ``s`` passed to the body's part function). The shell is not even: the endplates' periphery
#: (the epiphyseal ring, dense compact bone) is thicker than the central endplate; the anterior
#: cortex is thicker than the lateral walls and the posterior wall, pierced by the
#: basivertebral foramina, is the thinnest (Edwards et al., Spine 2001: anterior 0.40, lateral
#: 0.29, posterior 0.23 mm at L3 on microCT; Silva et al. 1994; Roberts et al. 1989 for the
#: endplates and the ring apophysis), except where the pedicles meet the body: there the
#: posterior cortex thickens (``"pedicle_root"``, Gaussian across the root, sigma half the
#: pedicle width) and, in a narrower column about each pedicle's axis (sigma
#: :data:`ROOT_COMPACT_HALF_WIDTH` / 2 pedicle widths), becomes a pillar of compact bone joining
#: the pedicles' compact walls: the posterior wall ``"wall_root"`` thicker and the endplates'
#: posterior corners ``"endplate_root"`` thicker (times the square of the distance behind the
#: centre, as a fraction of the half depth). The lumbar 1.2 mm drawn cortex stands for the
#: compact shell plus the denser trabecular bone under it.
#:
#: Tuned on the real example CT at 3 mm (L1-L4, :func:`spinelab.synth.realism.vertebra_hu`:
#: bodies' 95th / 99th percentile 390 / 650 HU, core median 106). Its voxels above the 99th
#: percentile lie 56 % at the endplates' posterior corners in line with the pedicles (top
#: slice 23 %, bottom 33 %), 23 % in the posterior wall between them at the pedicle roots,
#: 13 % at the lateral endplate rim, none at the anterior wall (the second real sample, an L3
#: at 1.5 mm: 34 % posterior corners, 26 % lateral and 14 % anterior rim, 16 % lateral wall).
#: A fifth of them lie more than 1.5 mm behind the posterior wall, in the pedicle bases that
#: the model-made labels hold and the body measurement keeps: part of that tail is the
#: pedicles'. The 90th / 99th percentiles of those zones are 554-578 / 830-996 HU
#: (posterior corners), 465 / 748 (wall at the roots), 389 / 705 (lateral rim), 289 / 401
#: (anterior rim), 285 / 511 (central endplate). With a uniform ``Tissue.SHELL`` shell
#: (endplate centre 0.9, rim 1.5, anterior 0.9, pedicle root 2.5) six 3 mm stats cases
#: (``scripts/synth_compare.py``) had the rims and central endplates brighter (lateral rim
#: 466 / 684, anterior 349 / 440, centre 350 / 415) and the pedicle roots dimmer (corners
#: 463-516 / 654-698, wall 386 / 611) than that, and a 99th percentile 393 HU above the core
#: median (real 544). With these scales and the compact columns: 95th percentile 393 -> 404
#: HU, 99th 540 -> 629, 99th minus core median 393 -> 482 HU, core median 147 unchanged,
#: posterior elements 95th / 99th 628 / 829 -> 632 / 829.
BODY_CORTEX_SCALE = {
    "endplate_centre": 0.75,
    "endplate_rim": 1.1,
    "anterior": 0.8,
    "lateral": 0.6,
    "posterior": 0.6,
    "pedicle_root": 0.8,
    "endplate_root": 1.0,
    "wall_root": 4.5,
}
#: Compact bone at the pedicle roots: within this many pedicle widths of each pedicle's axis
#: (and from :data:`ROOT_COMPACT_FRONT_MM` in front of the posterior wall backwards), the body's
#: shell (the pillar of :data:`BODY_CORTEX_SCALE`'s ``"wall_root"`` and ``"endplate_root"``) is
#: ``Tissue.CORTICAL`` (about 1000 HU) instead of ``Tissue.SHELL`` (650 HU): an all-``SHELL``
#: shell cannot reach the real CT's 800-1000 HU voxels at 3 mm however thick it is drawn, and
#: thickening it widely lifted the 95th percentile with the 99th (thoracic and lumbar bodies).
ROOT_COMPACT_HALF_WIDTH = 0.3
#: How far in front of the posterior wall (mm) the compact columns of
#: :data:`ROOT_COMPACT_HALF_WIDTH` reach.
ROOT_COMPACT_FRONT_MM = 8.0
#: The body cortex (both its surfaces, by the same amount) is shifted along its normal by a
#: deterministic hash of the position, uniform within +- this (mm; half the 1 mm render
#: voxel): a shell about as thin as the fine render voxel is then painted with the right mass
#: on average whatever its phase against the grid, instead of 1 or 2 voxels over whole
#: stretches, so after the block average the cortex no longer breaks into bright and dark
#: dashes (concave endplates across 3 mm slices, walls in 0.8 mm pixels); its edges are
#: rough at the scale of a fine voxel, as the trabeculae joining the cortex make them on CT.
CORTEX_DITHER_MM = 0.5
#: Facet joint space on CT (mm).
FACET_GAP_MM = 2.0
#: Sacral alae and lateral masses (Gray's Anatomy 41st ed.; sacral morphometry): the sacral base
#: is 100-110 mm wide with its alae, the S1 body about 50 mm, so the alae reach 25-30 mm beyond
#: the body; the lateral masses carry the L-shaped auricular surface down to S3 and are still
#: 85-95 mm across at S2. Reach beyond the body's half-width (mm) per segment:
SACRAL_ALA_EXTRA_MM = {"S1": 28.0, "S2": 26.0}
#: The ala's upper surface slopes down from the body's edge to the sacro-iliac joint (mm per
#: mm; the promontory stands above the alae), and the fused lateral masses run on below each
#: segment's lower endplate (mm): S1's into S2's, S2's down to S3 beside the lower sacrum.
SACRAL_ALA_SLOPE = 0.35
SACRAL_MASS_BELOW_MM = {"S1": 8.0, "S2": 14.0}
#: Coronal outline of the alae and lateral masses: widest at :data:`SACRAL_ALA_PEAK` of the
#: body height above the centre (the ala's upper third), rounded above, narrowing smoothly below
#: by this fraction of :data:`SACRAL_ALA_EXTRA_MM` at the segment's lowest point (the lateral
#: masses taper from S1 to the lateral sacral crest of S3). On the real example CT (3 mm) the
#: sacrum, 9-19 mm behind the S1 body centre, is 55 mm from the midline to the sacro-iliac joint
#: at and above S1's centre, 40 mm 5 mm below it and 30 mm 15 mm below it: an ear-shaped
#: outline, not straight vertical sides.
SACRAL_ALA_PEAK = 0.2
SACRAL_ALA_TAPER = {"S1": 0.35, "S2": 0.35}
#: Antero-posterior extent of the alae (fractions of the body depth d plus mm, from the body
#: centre, + = posterior): on the real example CT, 33-45 mm from the midline at S1's centre, the
#: ala runs from 3 mm in front of to 28 mm behind the body centre (its anterior surface 13-15
#: mm behind the body's front; the old ellipse reached 8 mm in front of and 33 mm behind it).
SACRAL_ALA_FRONT = -0.1
SACRAL_ALA_BACK_MM = 10.0
#: The sacro-iliac joint is turned in the axial plane, its back end towards the midline (deg):
#: in the real example's axial sections (3 mm, read by eye at 12 mm steps from the sacral base
#: down to S2) the posterior ilium runs back and inwards from in front of the joint at 11-20
#: deg off the sagittal plane (15-20 mm inwards over 50-55 mm; steepest at the sacral base),
#: its back end 45-55 mm from the midline, and the ala's lateral face follows it across the
#: 2-4 mm joint space (the ala reaches further out in front than behind). The ala's outline
#: is sheared by this angle (:data:`SACRAL_ALA_PIVOT`) and the ilium's auricular section
#: (:mod:`spinelab.synth.pelvis`) turned by it; both had run straight back, a vertical oval
#: beside a square-ended ala.
SACRAL_JOINT_TURN_DEG = 20.0
#: Where along the ala's depth (fraction from its front) the sheared face keeps the reach of
#: :func:`sacral_ala_reach`: near the front, where the rounded section is full, so the coronal
#: outline keeps its width; behind it the face recedes with the joint.
SACRAL_ALA_PIVOT = 0.25


#: Mid-sagittal outline of the sacral bodies. Below the promontory (S1's anterior-superior
#: edge, the most anterior point of the sacral base) the pelvic surface of the sacrum runs
#: down and back, so each segment is deeper at its top than at its bottom: read off the real
#: example CT's mid-sagittal slice (3 mm, by eye) S1 is about 38-40 mm deep at its upper
#: endplate and 28-30 mm at the S1-S2 junction, S2 20-25 mm, and the sacrum below thins to a
#: 15-20 mm plate that curves forwards (the concave pelvic surface; ``pelvis.lower_sacrum``). Anterior wall of S1 / S2
#: (fraction of the body depth ``d`` behind the box's front ``-d / 2``) at the segment's top
#: and bottom, linear in between; with S1's 28 mm height the wall leans back about 16 deg from
#: its frame's axis, an acute (74 deg) promontory angle with the upper endplate instead of a
#: right angle. S2's body is shallower than S1's at its top already (its 25 mm depth against
#: S1's 33; a shift of the posterior wall would cut into the sacral canal, so its front recedes
#: instead) and thins further down to the lower sacrum's plate.
SACRAL_FRONT: dict[str, tuple[float, float]] = {"S1": (0.0, 0.25), "S2": (0.1, 0.3)}


def sacral_front(name: str, h: float, d: float, e: Any) -> Any:
    """Anterior wall (b, mm, + = posterior) of the S1 / S2 body's mid-sagittal outline at
    height ``e`` (mm, vertebra frame): :data:`SACRAL_FRONT`, linear from the top to the bottom
    of the segment; ``-d / 2`` (the box's front) for other vertebrae."""
    if name not in SACRAL_FRONT:
        return np.full_like(np.asarray(e, dtype=float), -d / 2)
    f_top, f_bot = SACRAL_FRONT[name]
    t = np.clip((h / 2 - np.asarray(e, dtype=float)) / h, 0.0, 1.0)
    return -d / 2 + d * (f_top + (f_bot - f_top) * t)


def endplate_bowl(rho2: Any) -> Any:
    """Relative depth (1 at the centre, 0 on the flat rim) of an endplate's central cup at
    squared normalized radius ``rho2`` (:data:`ENDPLATE_CUP_RADIUS`)."""
    q = np.clip(1.0 - rho2 * (1.0 / ENDPLATE_CUP_RADIUS**2), 0.0, 1.0)
    return q * q


def sacral_ala_reach(name: str, h: float, w: float, e: Any) -> Any:
    """Half-width (mm from the midline) of the sacral ala / lateral mass of ``name`` (S1, S2)
    at height ``e`` (mm, vertebra frame): the coronal outline of :func:`vertebra_parts`' ala
    before its sloping upper surface is cut (:data:`SACRAL_ALA_PEAK`, :data:`SACRAL_ALA_TAPER`):
    full reach at the peak, rounded above it on S1 (the sacral base; S2's top is fused to S1),
    narrowing smoothly to ``1 - taper`` of the reach at the segment's lowest point.
    """
    ext = SACRAL_ALA_EXTRA_MM[name]
    e_pk = SACRAL_ALA_PEAK * h
    e_bot = -h / 2 - SACRAL_MASS_BELOW_MM[name]
    down = _smoothstep((e_pk - e) / (e_pk - e_bot))
    # the sacral base (S1's top) is rounded; S2's top is fused to S1 and keeps its reach
    up = np.clip((e - e_pk) / (h / 2 - e_pk), 0.0, 1.0) if name == "S1" else 0.0
    return w / 2 + ext * (1.0 - SACRAL_ALA_TAPER[name] * down) * np.sqrt(1.0 - up**4)


def sacral_ala_face(reach: Any, b: Any, d: float) -> Any:
    """Lateral reach (mm beyond the body's half-width) of the sacral ala's outer face at
    antero-posterior position ``b`` (mm from the body centre, + = posterior; body depth ``d``)
    given its reach ``reach`` beyond the body at that height (:func:`sacral_ala_reach` less
    the half-width): the rounded-box axial section, sheared back and inwards by
    :data:`SACRAL_JOINT_TURN_DEG` about :data:`SACRAL_ALA_PIVOT` (0 outside the ala)."""
    b_fr, b_bk = sacral_ala_ap(d)
    b_c, r_b = (b_fr + b_bk) / 2, (b_bk - b_fr) / 2
    qb = np.clip(np.abs((np.asarray(b, dtype=float) - b_c) / r_b), 0.0, 1.0)
    shear, b_p = sacral_ala_shear(d)
    return np.maximum(reach * (1.0 - qb**4) ** 0.25 - shear * (b - b_p), 0.0)


def sacral_ala_shear(d: float) -> tuple[float, float]:
    """The ala's outer face recedes by ``shear`` mm per mm behind ``b_pivot`` (mm from the
    body centre, + = posterior) and reaches out as far in front of it: ``(shear, b_pivot)``
    for a body ``d`` deep (:data:`SACRAL_JOINT_TURN_DEG`, :data:`SACRAL_ALA_PIVOT`)."""
    b_fr, b_bk = sacral_ala_ap(d)
    return math.tan(math.radians(SACRAL_JOINT_TURN_DEG)), b_fr + SACRAL_ALA_PIVOT * (b_bk - b_fr)


def sacral_ala_ap(d: float) -> tuple[float, float]:
    """Front and back (b, mm from the body centre, + = posterior) of the sacral alae."""
    return SACRAL_ALA_FRONT * d, d / 2 + SACRAL_ALA_BACK_MM


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


def by_level(table: dict[float, float], name: str) -> float:
    """A per-level-number value of ``table`` at ``name`` (linear between, the end values
    beyond)."""
    keys = sorted(table)
    return float(np.interp(level_number(name), keys, [table[k] for k in keys]))


def level_dims(name: str) -> dict[str, float]:
    """Posterior-element dimensions of one vertebra (see :data:`DIM_NAMES`), mm."""
    x = level_number(name)
    keys = np.array(sorted(LEVEL_DIMS))
    vals = np.array([LEVEL_DIMS[k] for k in keys])
    return {n: float(np.interp(x, keys, vals[:, c])) for c, n in enumerate(DIM_NAMES)}


def body_wedge(name: str) -> float:
    """Natural wedging of the body of ``name``: anterior minus posterior height (mm),
    :data:`BODY_WEDGE_MM`."""
    return by_level(BODY_WEDGE_MM, name)


def spinous_slope(name: str) -> float:
    """Caudal slope of the spinous process (mm down per mm along it), :data:`SPINOUS_SLOPE`."""
    return by_level(SPINOUS_SLOPE, name)


def _smoothstep(x: Any) -> Any:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


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


def dither(a: Any, b: Any, e: Any) -> Any:
    """Deterministic hash of a position (mm) to ``[-0.5, 0.5)``, white on a 0.3 mm scale.

    A sine hash (as in shader code): the same point always gets the same value, so a part's
    mask does not depend on how its box is cut.
    """
    x = np.sin(a * 12.9898 + b * 78.233 + e * 37.719) * 43758.5453
    return x - np.floor(x) - 0.5


def body_cortex(
    a: Any, b: Any, e: Any, s: float, d: float, rho2: Any, ped_a: float, ped_w: float
) -> tuple[Any, Any, Any]:
    """Erosions (mm) of the body's wall, posterior wall and endplates for a cortex ``s``.

    The thickness varies around the body as :data:`BODY_CORTEX_SCALE` (anterior wall thicker
    than the lateral walls, posterior wall thinnest but thick at the pedicle roots; endplates
    thickest at the rim). Both surfaces move by the same dither (:data:`CORTEX_DITHER_MM`,
    ``s = 0`` included, where the erosion can be negative: the outline grows by up to the
    dither), so the shell keeps its thickness at every point and, on any grid, its mass.

    Args:
        a, b, e: Positions in the vertebra frame (mm).
        s: The region's body cortex (mm).
        d: Body depth (mm).
        rho2: Squared normalized radius in the axial plane (0 at the centre, 1 at the wall).
        ped_a, ped_w: Distance of the pedicles' axes from the midline and their width (mm).

    Returns:
        ``(s_wall, s_post, s_end)`` arrays (mm).
    """
    k = BODY_CORTEX_SCALE
    front = np.clip(-b * (2.0 / d), 0.0, 1.0)
    back = np.clip(b * (2.0 / d), 0.0, 1.0)
    root = np.exp(-2.0 * ((np.abs(a) - ped_a) / ped_w) ** 2)
    # the pillars of compact bone in line with the pedicles (ROOT_COMPACT_HALF_WIDTH): thicker
    # posterior wall and thicker posterior corners of the endplates, over a narrower column
    corner = np.exp(-2.0 * ((np.abs(a) - ped_a) / (ROOT_COMPACT_HALF_WIDTH * ped_w)) ** 2)
    k_post = k["posterior"] + (k["pedicle_root"] - k["posterior"]) * root + k["wall_root"] * corner
    k_wall = k["lateral"] + (k["anterior"] - k["lateral"]) * front + (k_post - k["lateral"]) * back
    k_end = k["endplate_centre"] + (k["endplate_rim"] - k["endplate_centre"]) * rho2 * rho2
    k_end = k_end + k["endplate_root"] * corner * back * back
    j = CORTEX_DITHER_MM * 2.0 * dither(a, b, e)
    return s * k_wall + j, s * k_post + j, s * k_end + j


def vertebra_parts(
    name: str, h: float, w: float, d: float, wedge: float, slope: float | None = None
) -> list[tuple[Box3, PartFn, float]]:
    """The bony parts of a vertebra: ``[((lo, hi) box, fn(a, b, e, s) -> mask, cortex_mm)]``.

    Args:
        name: Vertebra name (C2..S2; C1 is painted separately as a ring).
        h, w, d: Vertebral body height, width and depth (mm).
        wedge: Anterior height lost to a compression fracture (mm).
        slope: Caudal slope of the spinous process (mm down per mm along it); None: the
            level's value from :data:`SPINOUS_SLOPE`.

    Returns:
        Parts in local coordinates. ``cortex_mm`` is the part's cortical thickness: 0 for the
        body (and alae, dens), which take the region's body cortex (a ``Tissue.SHELL``) and a
        cancellous core; above 0 for posterior elements, whose core is ``Tissue.DENSE`` and
        whose cortex is a ``Tissue.SHELL``, or ``Tissue.CORTICAL`` from
        :data:`COMPACT_CORTEX_MM` up (pedicles, inferior articular processes). The body is
        the first part; thoracic and lumbar bodies are followed by their two compact columns
        at the pedicle roots (:data:`ROOT_COMPACT_HALF_WIDTH`: the body's outline there,
        cortex :data:`COMPACT_CORTEX_MM`, no core).
    """
    region = anatomy.region_of(name)
    dm = level_dims(name)
    if slope is None:
        slope = spinous_slope(name)
    parts: list[tuple[Box3, PartFn, float]] = []
    bw = posterior_wall(d)
    cup_sup, cup_inf = ENDPLATE_CUP_MM
    ped_a = dm["can_w"] / 2 + dm["ped_w"] / 2

    sacral_body = name in SACRAL_FRONT
    wedge_nat = body_wedge(name)
    # the fused S1-S2 junction keeps square, untilted endplates (S1's lower, S2's upper)
    fused_bot, round_top, round_bot = name == "S1", name != "S2", name not in ("S1", "S2")
    rim_r = RIM_ROUND * h
    e_grow = abs(wedge_nat) * (0.5 if fused_bot else 0.25)

    def body(a: Any, b: Any, e: Any, s: float) -> Any:
        # natural wedging (both endplates tilt about the centre; S1's upper one only) and a
        # compression fracture's loss of anterior height
        e_top: Any = h / 2
        e_bot: Any = -h / 2
        if wedge_nat != 0.0:
            tilt = b * (-0.5 * wedge_nat / d)
            e_top = e_top + (tilt + tilt if fused_bot else tilt)
            if not fused_bot:
                e_bot = e_bot - tilt
        if wedge > 0.0:
            e_top = e_top - wedge * np.clip(0.5 - b / d, 0, 1)
        # concave endplates (ENDPLATE_CUP_MM at the centre, flat near the rim) and a waisted wall
        rho2 = np.clip(_ellipse(a, b, w / 2, d / 2), 0, 1)
        bowl = endplate_bowl(rho2)
        t2 = 1.0 - np.clip((2 * e / h) ** 2, 0, 1)
        waist = 1.0 - BODY_WAIST * t2 * t2
        # the cortex: thickness varying around the body; both its surfaces dithered
        s_wall, s_post, s_end = body_cortex(a, b, e, s, d, rho2, ped_a, dm["ped_w"])
        # elliptic in front, rounded-square behind (|a|^3 + |b|^3 <= waist^3, the same shape as
        # (|a|^3 + |b|^3)^(2/3) <= waist^2 without the power), with a flat, slightly concave
        # posterior wall
        ua, ub = np.abs(a) / (w / 2 - s_wall), np.abs(b) / (d / 2 - s_wall)
        ua2, ub2 = ua * ua, ub * ub
        post = b > 0
        f = np.where(post, ua2 * ua + ub2 * ub, ua2 + ub2)
        inside = f <= np.where(post, waist * waist * waist, waist * waist)
        back = bw + 0.05 * d * (2 * a / w) ** 2 - s_post
        y_top = e_top - cup_sup * bowl - s_end - e
        y_bot = e - (e_bot + cup_inf * bowl + s_end)
        m = inside & (b < back) & (y_top > 0) & (y_bot > 0)
        if sacral_body:  # the pelvic surface recedes below the promontory
            m &= b > sacral_front(name, h, d, e) + s_wall
        # the rim (ring apophysis) rounded: a fillet of radius rc between the endplates and the
        # walls, concentric inside (rc - s), on the points less than rc from an endplate. x:
        # distance in from the wall along the radius (the radius times 1/q - 1, q the outline's
        # normalized radius, homogeneous of degree 1) or from the posterior wall
        rc = max(rim_r - s, 0.3)
        y = np.minimum(y_top if round_top else rc, y_bot if round_bot else rc)
        zone = m & (y < rc)
        if not zone.any():
            return m
        shape = m.shape
        az, bz = np.broadcast_to(a, shape)[zone], np.broadcast_to(b, shape)[zone]
        fz, wz = f[zone], np.broadcast_to(waist, shape)[zone]
        q = np.where(bz > 0, np.cbrt(fz), np.sqrt(fz)) / wz
        r = np.sqrt(az * az + bz * bz)
        x = np.where(q > 0.05, r * (1.0 / np.maximum(q, 0.05) - 1.0), rc)
        x = np.minimum(x, np.broadcast_to(back, shape)[zone] - bz)
        fx, fy = np.maximum(rc - x, 0.0), rc - y[zone]
        m[zone] = fx * fx + fy * fy <= rc * rc
        return m

    box_body = ((-w / 2, -d / 2, -h / 2 - e_grow), (w / 2, d / 2, h / 2 + e_grow))
    parts.append((box_body, body, 0.0))
    if region in ("thoracic", "lumbar"):
        # compact bone at the pedicle roots (ROOT_COMPACT_HALF_WIDTH): the body's outline in
        # two posterior columns, with cortex COMPACT_CORTEX_MM so that it is painted CORTICAL
        # and no core of its own; the body's cancellous core, painted after every part's
        # outline, takes back all but the body's shell
        r_half = ROOT_COMPACT_HALF_WIDTH * dm["ped_w"]
        b_root0 = bw - ROOT_COMPACT_FRONT_MM
        for side in (1.0, -1.0):

            def root(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
                if s > 0.0:
                    return np.zeros(np.shape(a), dtype=bool)
                zone = (np.abs(side * a - ped_a) < r_half) & (b > b_root0)
                return zone & body(a, b, e, 0.0)

            lo_a, hi_a = sorted((side * (ped_a - r_half), side * (ped_a + r_half)))
            box_root = ((lo_a, b_root0, -h / 2 - e_grow), (hi_a, d / 2, h / 2 + e_grow))
            parts.append((box_root, root, COMPACT_CORTEX_MM))
    if region == "sacral":
        # the alae and lateral masses: an ear-shaped coronal outline (widest in the upper third,
        # rounded above, tapering below; :func:`sacral_ala_reach`), a rounded-box axial section
        # (corners of a superellipse) from behind the body's front to behind the canal, and the
        # sacral canal left open
        below = SACRAL_MASS_BELOW_MM[name]
        b_fr, b_bk = sacral_ala_ap(d)
        b_c, r_b = (b_fr + b_bk) / 2, (b_bk - b_fr) / 2
        # the lateral face follows the joint: from the front back and inwards
        # (sacral_ala_face)
        shear, b_pivot = sacral_ala_shear(d)
        ala_w = w / 2 + SACRAL_ALA_EXTRA_MM[name] + shear * (b_pivot - b_fr)
        dm_ala = level_dims(name)
        slope_ala = SACRAL_ALA_SLOPE if name == "S1" else 0.0
        bw_ala = posterior_wall(d)

        def ala(a: Any, b: Any, e: Any, s: float) -> Any:
            u = np.abs(a) - w / 2
            reach = np.maximum(sacral_ala_reach(name, h, w, e) - w / 2 - s, 1e-3)
            qa = np.maximum(u + shear * (b - b_pivot), 0.0) / reach
            qb = (b - b_c) / max(r_b - s, 1e-3)
            qa, qb = qa * qa, qb * qb
            m = qa * qa + qb * qb <= 1.0
            # S1's upper surface slopes down to the joint; S2's top is fused to S1's ala
            top = h / 2 - slope_ala * np.maximum(u, 0.0)
            m &= (e < top - s) & (e > -h / 2 - below + s)
            return m & ~canal_mask(a, b, bw_ala, dm_ala, s)

        box_ala = ((-ala_w, b_fr, -h / 2 - below), (ala_w, b_bk, h / 2))
        parts.append((box_ala, ala, 0.0))

    cw2 = dm["can_w"] / 2
    can_d = dm["can_d"]
    pw, ph = dm["ped_w"], dm["ped_h"]
    # the sacrum's pedicles and articular pillars fuse into its lateral masses: thin shells
    sacral = region == "sacral"
    ped_cortex = POSTERIOR_CORTEX_MM if sacral else PEDICLE_CORTEX_MM
    inf_cortex = POSTERIOR_CORTEX_MM if sacral else INFERIOR_ARTICULAR_CORTEX_MM
    # pedicles: elliptic columns along b from inside the body to behind the canal's middle,
    # their upper border near the upper endplate
    e_ped = min(0.5 * h - 0.5 * ph - 0.5, 0.2 * h)
    ped_a = cw2 + pw / 2
    b_ped0, b_ped1 = bw - 5.0, bw + 0.65 * can_d
    for side in (1.0, -1.0):

        def ped(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
            # the pedicle flares where it meets the body's posterior wall (a fillet)
            f = 1.0 + PEDICLE_FLARE * _smoothstep((bw + 5.0 - b) / 5.0)
            m = _ellipse(side * a - ped_a, e - e_ped, pw / 2 * f - s, ph / 2 * f - s) <= 1.0
            return m & (b > b_ped0 + s) & (b < b_ped1 - s)

        fl = 1.0 + PEDICLE_FLARE
        lo_a, hi_a = sorted((side * (ped_a - pw / 2 * fl), side * (ped_a + pw / 2 * fl)))
        box = ((lo_a, b_ped0, e_ped - ph / 2 * fl), (hi_a, b_ped1, e_ped + ph / 2 * fl))
        parts.append((box, ped, ped_cortex))
    # laminae: the roof of the canal, from behind the pedicles to the apex, as thick as lam_t;
    # their outer face follows the canal's shape widened to the pedicles' outer edge. In the
    # lumbar spine they narrow cranio-caudally towards the midline to the spinous process's
    # root, so the laminar apex and the spinous process form one lobe in the mid-sagittal
    # plane, with wide interlaminar gaps (ligamenta flava) above and below it; thoracic
    # laminae stay tall and overlap like roof tiles.
    lam_t = dm["lam_t"]
    out_w2 = cw2 + pw
    out_d = can_d + 1.3 * lam_t
    lam_e0, lam_e1 = -0.5 * h - 2.0, e_ped + 0.5 * ph
    b_lam0 = bw + 0.4 * can_d
    sp_len = dm["sp_len"] * (1.4 if name == "C2" else 1.0)
    b0 = bw + can_d + 0.3 * lam_t
    sp_hh, sp_wh = dm["sp_h"] / 2, dm["sp_w"] / 2
    # lumbar and lower thoracic (T11 down) spinous processes: oval lobes low on the arch
    oval = region == "lumbar" or (region == "thoracic" and level_number(name) >= SPINOUS_OVAL_FROM)
    # the lobe's upper border at the canal reaches above the pedicles, so the canal is a
    # closed bony ring at their level
    e_sp0 = max(lam_e0 + sp_hh + 1.0, e_ped + 2.0 - sp_hh) if oval else -0.1 * h
    narrow = oval or region == "sacral"
    mid_hh = LAMINA_MID_FRACTION * sp_hh if oval else sp_hh + 1.0
    mid_lo = max(lam_e0, e_sp0 - mid_hh) if narrow else lam_e0
    mid_hi = min(lam_e1, e_sp0 + mid_hh) if narrow else lam_e1
    a_mid = 0.5 * out_w2

    def lamina(a: Any, b: Any, e: Any, s: float) -> Any:
        t_out = (b - bw) / (out_d - s)
        outer = np.abs(a) < (out_w2 - s) * canal_half_width(t_out, dm["tri"])
        m = outer & ~canal_mask(a, b, bw, dm, s) & (b > b_lam0 + s)
        f = _smoothstep(np.abs(a) / a_mid)
        lo = mid_lo + (lam_e0 - mid_lo) * f
        hi = mid_hi + (lam_e1 - mid_hi) * f
        return m & (e > lo + s) & (e < hi - s)

    parts.append(
        (((-out_w2, b_lam0, lam_e0), (out_w2, bw + out_d, lam_e1)), lamina, POSTERIOR_CORTEX_MM)
    )
    # spinous process: a lobe along an axis from inside the laminar apex backwards, inclined
    # caudally by ``slope``; lumbar ones are broad plates (a flattened section), slightly
    # waisted, with a club-shaped posterior border; thoracic ones taper to a small tubercle.
    # Where the process leaves the laminae it flares sideways (a SPINOUS_FILLET_MM fillet).
    lumbar = region in ("lumbar", "sacral")
    cs, sn = 1.0 / math.hypot(1.0, slope), slope / math.hypot(1.0, slope)
    u_lam = bw + out_d - b0  # the laminae's outer face, along the axis
    fil = SPINOUS_FILLET_MM

    def spinous(a: Any, b: Any, e: Any, s: float) -> Any:
        db, de = b - b0, e - e_sp0
        u = db * cs - de * sn  # along the process: backwards and down
        v = db * sn + de * cs  # across it: up and back
        t = np.clip(u * (1.0 / sp_len), 0.0, 1.0)
        if oval:  # a slight waist, the tip growing downwards into a club, the top sloping
            prof_h = 1.0 - SPINOUS_WAIST * t * (1.0 - t) + 0.5 * SPINOUS_CLUB * t
            prof_w = 1.0 + 0.4 * _smoothstep((t - 0.6) * 2.5)
            v = v + (0.5 * SPINOUS_CLUB + SPINOUS_DROOP) * sp_hh * t
        elif lumbar:  # waist 4t(1-t) (about sin(pi t)), club-shaped tip
            prof_h = 1.0 - 0.72 * t * (1.0 - t) + 0.15 * t
            prof_w = 1.0 + 0.4 * _smoothstep((t - 0.6) * 2.5)
        else:
            prof_h = 1.0 - 0.45 * t + 0.2 * _smoothstep((t - 0.8) * 5.0)
            prof_w = 1.0 + 0.3 * _smoothstep((t - 0.7) * (1.0 / 0.3))
        root = 1.0 - _smoothstep((u - u_lam) * (1.0 / fil))
        re = np.maximum(sp_hh * prof_h + root - s, 1e-3)
        ra = np.maximum(sp_wh * prof_w + fil * root - s, 1e-3)
        qa, qv = a / ra, v / re
        qv = qv * qv
        if oval:  # elliptic ends in the sagittal plane: a rounded front and tip
            cap = np.maximum(SPINOUS_TIP_ROUND * sp_hh * prof_h - s, 1e-3)
            end = np.maximum(u - (sp_len - s) + cap, 0.0) / cap
            fcap = np.maximum(SPINOUS_FRONT_ROUND * re, 1e-3)
            front = np.maximum((-3.0 + s) + fcap - u, 0.0) / fcap
            r2 = qv + end * end + front * front
            q = qa * qa + r2 * r2
        else:
            cap = np.maximum(np.minimum(sp_hh * prof_h, 6.0) - s, 1e-3)
            end = np.maximum(u - (sp_len - s) + cap, 0.0) / cap
            q = qa * qa + qv + end * end
        return (q <= 1.0) & (u > -3.0 + s) & (u < sp_len - s)

    # two boxes: the root with its sideways fillet, and the whole (narrower) lobe
    r_v = sp_hh * (1.0 + max(SPINOUS_CLUB + SPINOUS_DROOP, 0.2)) + 1.0
    for u1, r_a in ((min(u_lam + fil, sp_len), sp_wh + fil), (sp_len, sp_wh * 1.4)):
        corners = [
            (b0 + uu * cs + vv * sn, e_sp0 - uu * sn + vv * cs)
            for uu in (-3.0, u1)
            for vv in (-r_v, r_v)
        ]
        bs, es = [c[0] for c in corners], [c[1] for c in corners]
        box = ((-r_a, min(bs), min(es)), (r_a, max(bs), max(es)))
        parts.append((box, spinous, POSTERIOR_CORTEX_MM))
    if oval:
        # the posterior part of a lumbar process, with the club and the tip, has a compact
        # cortex; the lobe's own core (eroded by its thinner shell) fills the cut, so there
        # is no wall across the process
        u_tip = SPINOUS_COMPACT_FROM * sp_len

        def spinous_tip(a: Any, b: Any, e: Any, s: float) -> Any:
            u = (b - b0) * cs - (e - e_sp0) * sn
            return spinous(a, b, e, s) & (u > u_tip)

        r_v = sp_hh * (1.0 + SPINOUS_CLUB + SPINOUS_DROOP) + 1.0
        corners = [
            (b0 + uu * cs + vv * sn, e_sp0 - uu * sn + vv * cs)
            for uu in (u_tip, sp_len)
            for vv in (-r_v, r_v)
        ]
        bs, es = [c[0] for c in corners], [c[1] for c in corners]
        box = ((-sp_wh * 1.4, min(bs), min(es)), (sp_wh * 1.4, max(bs), max(es)))
        parts.append((box, spinous_tip, SPINOUS_TIP_CORTEX_MM))
    # transverse processes from the pedicle-lamina junction, laterally and backwards
    tp_len = dm["tp_len"]
    back = TP_BACK_SLOPE.get(region, 0.0)
    tp_a0 = ped_a
    tp_b0 = transverse_root_b(name, bw)
    tp_hh, tp_th = dm["tp_h"] / 2, dm["tp_t"] / 2
    run = tp_len - tp_a0
    club = TP_TIP_SCALE.get(region, 0.8)  # thoracic tips club-shaped, lumbar ones thin blades
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
                    POSTERIOR_CORTEX_MM,
                )
            )
    # articular pillars: superior articular process (lateral/anterior of the joint plane, up to
    # beside the disc above) and inferior articular process (medial/posterior, down beside the
    # disc below), solid between them (pars interarticularis); the neighbours' processes fill
    # the other side of each joint, leaving a FACET_GAP_MM joint space
    fr = pillar_radius(name)
    fac_a = cw2 + 0.5 * pw
    fac_b = bw + by_level(PILLAR_BACK_SHARE, name) * can_d
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
            m &= sup | inf | (np.abs(e) < pars - s)
            if s > 0:  # the compact inferior process below keeps its own thick cortex
                m &= (g > -gap) | (e > -pars)
            return m

        def art_inf(a: Any, b: Any, e: Any, s: float, side: float = side) -> Any:
            aa = side * a - fac_a
            bb = b - fac_b
            m = (_ellipse(aa, bb, fr - s, 1.1 * fr - s) <= 1.0) & (e > bot + s) & (e < -pars)
            return m & (ca * aa - sa * bb < -gap - s)

        lo_a, hi_a = sorted((side * (fac_a - fr), side * (fac_a + fr)))
        box = ((lo_a, fac_b - 1.1 * fr, bot), (hi_a, fac_b + 1.1 * fr, top))
        parts.append((box, art, POSTERIOR_CORTEX_MM))
        box = ((lo_a, fac_b - 1.1 * fr, bot), (hi_a, fac_b + 1.1 * fr, -pars))
        parts.append((box, art_inf, inf_cortex))
    if name == "C2":

        def dens(a: Any, b: Any, e: Any, s: float) -> Any:
            return (
                (_ellipse(a, b - 1.0, 5.5 - s, 5.5 - s) <= 1.0) & (e > 0) & (e < h / 2 + 20.0 - s)
            )

        parts.append((((-5.5, -4.5, 0.0), (5.5, 6.5, h / 2 + 20.0)), dens, 0.0))
    return parts


def pillar_radius(name: str) -> float:
    """Radius (mm) of a vertebra's articular pillars as :func:`vertebra_parts` draws them."""
    return level_dims(name)["fac_r"] * by_level(PILLAR_RADIUS_SHARE, name)


def transverse_root_b(name: str, bw: float) -> float:
    """Where a transverse process leaves the arch, behind the body's centre (mm; ``bw``: the
    posterior wall's), :data:`TP_ROOT_SHARE` of the canal's depth behind the wall."""
    return bw + by_level(TP_ROOT_SHARE, name) * level_dims(name)["can_d"]


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
    back = TP_BACK_SLOPE.get(region, 0.0)
    club = 1.25 if region == "thoracic" else 0.8
    ped_a = dm["can_w"] / 2 + dm["ped_w"] / 2
    e_ped = min(0.5 * h - 0.5 * dm["ped_h"] - 0.5, 0.2 * h)
    tp_len = dm["tp_len"]
    b_tip = transverse_root_b(name, posterior_wall(d)) + back * (tp_len - ped_a)
    return tp_len, b_tip, e_ped, club * dm["tp_t"] / 2


# --------------------------------------------------------------------------------------------
# Degenerative change: marginal osteophytes
# --------------------------------------------------------------------------------------------
#: Share of cases without degenerated discs that have some osteophytes (a case with
#: degenerated discs always has some). Spinal osteophytes are the commonest finding on adult
#: spine imaging and grow with age and disc degeneration: the European Vertebral Osteoporosis
#: Study's UK arm (O'Neill et al., J Rheumatol 26:842, 1999; lateral radiographs T4-L5, age
#: 50+) found anterior osteophytes at one level or more in 84 % of men and 74 % of women, most
#: often at T9-T10 and L3; the synthetic population spans younger adults too, hence a lower
#: share.
OSTEOPHYTE_P_CASE = 0.55
#: Per-case degeneration grade ``g`` (0-1): uniform in this range with degenerated discs,
#: else in the second one.
OSTEOPHYTE_GRADE = ((0.5, 1.0), (0.1, 0.6))
#: Weight of a level's endplate rims by level number (:func:`level_number`; linear in
#: between): spurs are commonest in the lumbar spine (L3) and the lower thoracic spine
#: (T9-T10; O'Neill 1999, T4-L5), fewer in the mid thoracic spine; the cervical weights (most
#: at C5-C6, few at C2-C3) are an assumption from clinical experience, not from a cited
#: survey.
OSTEOPHYTE_LEVEL_WEIGHT: dict[float, float] = {
    2.0: 0.2,
    4.0: 0.5,
    5.0: 0.8,
    7.0: 0.7,
    8.0: 0.4,
    12.0: 0.5,
    16.0: 0.7,
    19.0: 0.9,
    20.0: 1.0,
    25.0: 0.8,
}
#: Extra probability (and grade) at a rim next to a degenerated disc.
OSTEOPHYTE_DISC_BONUS = 0.4
#: Spur length (mm, from the body's wall to the tip) at a lumbar-sized body:
#: ``lo + (hi - lo) * Beta(1 + g_rim, 4)`` (the ``hi - lo`` part scaled as below), so most spurs are 2-5 mm and a few reach 8-10 mm
#: (mean about 4 mm at g_rim 0.5, 5 mm at 1.3); scaled by the body depth over
#: :data:`OSTEOPHYTE_REF_DEPTH_MM` (at least 0.6: cervical spurs 2-6 mm).
OSTEOPHYTE_LENGTH_MM = (2.0, 10.0)
OSTEOPHYTE_REF_DEPTH_MM = 38.0
#: The spur's tip curls towards the disc by this fraction of its length, at most
#: :data:`OSTEOPHYTE_RISE_DISC` of the disc height (so opposing spurs do not touch).
OSTEOPHYTE_CURL = 0.5
OSTEOPHYTE_RISE_DISC = 0.4
#: Half-thickness at the spur's base: this fraction of its length plus 1 mm.
OSTEOPHYTE_BASE = 0.25
#: Circumferential extent: centred at an angle from the anterior midline (degrees, + to the
#: vertebra's left) drawn N(0, sd) and clipped, over a half-width drawn uniform; never beyond
#: :data:`OSTEOPHYTE_MAX_DEG` (anterior and lateral rims only, not into the canal).
OSTEOPHYTE_CENTRE_SD_DEG = 40.0
OSTEOPHYTE_HALF_WIDTH_DEG = (45.0, 100.0)
OSTEOPHYTE_MAX_DEG = 105.0


@dataclass(frozen=True)
class Spur:
    """One marginal osteophyte: a bony lip around part of an endplate's rim.

    Attributes:
        label: Vertebra name.
        end: ``+1`` at the superior endplate (curling up), ``-1`` at the inferior one.
        length_mm: Largest reach beyond the body's wall (mm).
        centre_deg: Angle of the longest part from the anterior midline (degrees, + left).
        half_width_deg: Angular half-width of the lip (degrees).
    """

    label: str
    end: int
    length_mm: float
    centre_deg: float
    half_width_deg: float


def draw_spurs(
    rng: np.random.Generator,
    labels: list[str] | tuple[str, ...],
    depths_mm: Any,
    degenerated: tuple[str, ...],
) -> tuple[Spur, ...]:
    """Draw a case's marginal osteophytes (a per-case grade, then rim by rim).

    Args:
        rng: Random generator (consumed).
        labels: Vertebra names of the chain, cranial to caudal.
        depths_mm: ``(N,)`` vertebral body depths (mm).
        degenerated: Labels whose disc below is degenerated.

    Returns:
        The spurs, possibly none.
    """
    has_deg = bool(degenerated)
    if not has_deg and rng.random() >= OSTEOPHYTE_P_CASE:
        return ()
    g = float(rng.uniform(*OSTEOPHYTE_GRADE[0 if has_deg else 1]))
    lo, hi = OSTEOPHYTE_LENGTH_MM
    spurs: list[Spur] = []
    for i, name in enumerate(labels):
        if name in ("C1", "S2") or anatomy.region_of(name) not in (
            "cervical",
            "thoracic",
            "lumbar",
            "sacral",
        ):
            continue
        scale = float(np.clip(float(depths_mm[i]) / OSTEOPHYTE_REF_DEPTH_MM, 0.6, 1.0))
        for end in (1, -1):
            if name == "S1" and end == -1:
                continue  # fused to S2
            nb = i - 1 if end == 1 else i + 1
            if not 0 <= nb < len(labels) or labels[nb] == "C1":
                continue
            disc_owner = labels[nb] if end == 1 else name
            bonus = OSTEOPHYTE_DISC_BONUS if disc_owner in degenerated else 0.0
            g_rim = g * by_level(OSTEOPHYTE_LEVEL_WEIGHT, name) + bonus
            # the same draws for every rim, so one rim's outcome does not shift the others'
            u_keep, u_hw, z_c = rng.random(), rng.random(), rng.normal()
            f_len = float(rng.beta(1.0 + g_rim, 4.0))
            if u_keep >= min(g_rim, 0.95):
                continue
            length = lo + scale * (hi - lo) * f_len
            hw = OSTEOPHYTE_HALF_WIDTH_DEG[0] + u_hw * (
                OSTEOPHYTE_HALF_WIDTH_DEG[1] - OSTEOPHYTE_HALF_WIDTH_DEG[0]
            )
            c_max = OSTEOPHYTE_MAX_DEG - 30.0
            centre = float(np.clip(OSTEOPHYTE_CENTRE_SD_DEG * z_c, -c_max, c_max))
            spurs.append(Spur(name, end, round(length, 2), round(centre, 1), round(hw, 1)))
    return tuple(spurs)


def endplate_level(name: str, h: float, d: float, wedge: float, b: Any, end: int) -> Any:
    """Height ``e`` (mm) of the flat rim of the superior (``end`` +1) or inferior (-1)
    endplate at ``b``, with the natural wedging and a fracture's wedge as :func:`vertebra_parts`
    draws the body (before the rim's rounding and the central cup)."""
    wedge_nat = body_wedge(name)
    fused_bot = name == "S1"
    tilt = b * (-0.5 * wedge_nat / d) if wedge_nat != 0.0 else 0.0 * b
    if end > 0:
        e = h / 2 + (2.0 * tilt if fused_bot else tilt)
        if wedge > 0.0:
            e = e - wedge * np.clip(0.5 - b / d, 0, 1)
        return e
    return -h / 2 - (0.0 * tilt if fused_bot else tilt)


# --------------------------------------------------------------------------------------------
# Vertebral haemangiomas
# --------------------------------------------------------------------------------------------
#: Vertebral haemangiomas: on full-spine CT of 196 adults 26.0 % had one or more, 7.2 % two
#: or more, at every level (T11 and T12 a little more often: 3.6 % of those vertebrae), in the
#: body's front and back, centre and periphery alike, mostly at or a little above mid-height
#: (Slon et al. 2015, full-spine CT of 196 adults). On CT: a fatty, hypodense region of the body crossed by
#: sparse, thickened vertical trabeculae, white dots on a dark background in axial slices
#: ("polka dots") and vertical stripes in sagittal and coronal ones ("corduroy"). A case has
#: them with P_HAEMANGIOMA, ``1 + Poisson(HAEMANGIOMA_EXTRA)`` of them (so about 28 % of
#: those with any have two or more), each in a vertebral body drawn evenly from C2-L5, an
#: ellipsoid of radius HAEMANGIOMA_R_MM (flattened to fit the body: at most 0.4 of its height
#: and width, 0.35 of its depth from its centre), its trabeculae rods along the body's axis,
#: about HAEMANGIOMA_ROD_MM in radius near the nodes of a square lattice HAEMANGIOMA_PITCH_MM
#: apart (design values).
P_HAEMANGIOMA = 0.26
HAEMANGIOMA_EXTRA = 0.33
HAEMANGIOMA_R_MM = (3.0, 10.0)
HAEMANGIOMA_ROD_MM = 0.8
HAEMANGIOMA_PITCH_MM = (3.0, 4.5)
#: How far (shares of the pitch) each trabecula may lie off its lattice node, and its radius
#: 0.75-1.35 times HAEMANGIOMA_ROD_MM (a fixed hash of the node): real ones are irregular.
HAEMANGIOMA_JITTER = 0.5


@dataclass(frozen=True)
class Haemangioma:
    """A vertebral haemangioma in the body of ``label``: its centre at shares ``(u, v, t)`` of
    the body's half-width, half-depth and half-height from the body's centre, ``radius_mm``
    (before fitting to the body), its trabeculae ``pitch_mm`` apart with the lattice shifted by
    ``phase`` (shares of the pitch)."""

    label: str
    u: float
    v: float
    t: float
    radius_mm: float
    pitch_mm: float
    phase: tuple[float, float]


def draw_haemangiomas(
    rng: np.random.Generator, labels: list[str] | tuple[str, ...], p: float = P_HAEMANGIOMA
) -> tuple[Haemangioma, ...]:
    """A case's vertebral haemangiomas (:data:`P_HAEMANGIOMA`), none with probability
    ``1 - p`` or where the spine has no vertebra from C2 to L5."""
    if rng.random() >= p:
        return ()
    cand = [
        x
        for x in labels
        if anatomy.region_of(x) in ("cervical", "thoracic", "lumbar") and x != "C1"
    ]
    if not cand:
        return ()
    n = min(1 + int(rng.poisson(HAEMANGIOMA_EXTRA)), len(cand))
    chosen = rng.choice(len(cand), size=n, replace=False)
    out = []
    for i in sorted(int(k) for k in chosen):
        out.append(
            Haemangioma(
                cand[i],
                round(float(rng.uniform(-0.5, 0.5)), 3),
                round(float(rng.uniform(-0.5, 0.5)), 3),
                round(float(rng.uniform(-0.1, 0.3)), 3),
                round(float(rng.uniform(*HAEMANGIOMA_R_MM)), 2),
                round(float(rng.uniform(*HAEMANGIOMA_PITCH_MM)), 2),
                (round(float(rng.random()), 3), round(float(rng.random()), 3)),
            )
        )
    return tuple(out)


def haemangioma_masks(
    hem: Haemangioma, h: float, w: float, d: float, a: Any, b: Any, e: Any
) -> tuple[Any, Any]:
    """The haemangioma's region (an ellipsoid fitted to the body) and its trabeculae (rods
    along ``e`` inside it) at local coordinates ``a, b, e`` (mm) of a body ``h, w, d``."""
    ra = min(hem.radius_mm, 0.4 * w)
    rb = min(hem.radius_mm, 0.35 * d)
    re = min(hem.radius_mm, 0.4 * h)
    ca = hem.u * (0.5 * w - ra)
    cb = hem.v * (0.5 * d - rb)
    ce = hem.t * (0.5 * h - re)
    region = ((a - ca) / ra) ** 2 + ((b - cb) / rb) ** 2 + ((e - ce) / re) ** 2 <= 1.0
    pitch = hem.pitch_mm
    ua = (a - ca) / pitch - hem.phase[0]
    ub = (b - cb) / pitch - hem.phase[1]
    ia, ib = np.round(ua), np.round(ub)
    # each rod moved off its lattice node and given its own radius: a hash of the node
    j1 = _hash01(ia, ib, 1.0) - 0.5
    j2 = _hash01(ia, ib, 2.0) - 0.5
    r = HAEMANGIOMA_ROD_MM * (0.75 + 0.6 * _hash01(ia, ib, 3.0))
    da = (ua - ia - HAEMANGIOMA_JITTER * j1) * pitch
    db = (ub - ib - HAEMANGIOMA_JITTER * j2) * pitch
    rods = region & (da * da + db * db <= r * r)
    return region, rods


def _hash01(i: Any, j: Any, k: float) -> Any:
    """A fixed pseudo-random number in [0, 1) for integer lattice nodes ``(i, j)`` (``k``
    picks one of several per node)."""
    x = np.sin(i * 12.9898 + j * 78.233 + k * 37.719) * 43758.5453
    return x - np.floor(x)


# --------------------------------------------------------------------------------------------
# Diffuse idiopathic skeletal hyperostosis (DISH)
# --------------------------------------------------------------------------------------------
#: DISH: flowing ossification along the front and side of four or more contiguous vertebrae,
#: bridging their discs (Resnick's criteria), on the right of the thoracic spine (the aorta
#: lies on the left). On whole-spine CT of 1,479 adult trauma patients 19.5 % had it, 65 % of
#: them thoracic and 24 % thoraco-lumbar, at T8 / T9 / T10 in 88 / 91 / 85 % of them, mostly
#: right anterior of the bodies and seldom where the artery and vein touch them (Hiyama et
#: al., BMC Musculoskelet Disord 2018); on thoracic CT of a US population 14.2 % (7.4 % of
#: women, 20.9 % of men, mean age 78). Bridges grow from incomplete, pointed ones into
#: complete flowing ones over years (chest CT of older men, Kuperus et al., J Rheumatol 2018).
#: A case has DISH with P_DISH (a design value for an adult population of all ages); its run
#: of vertebrae is centred at a level drawn with DISH_CENTRE_WEIGHT (level numbers, linear in
#: between), ``DISH_MIN_LEVELS + Poisson(DISH_EXTRA_LEVELS)`` long (so T8 / T9 / T10 are in
#: 85 / 92 / 87 % of the runs and a lumbar vertebra in 30 %); the flow is DISH_THICK_MM
#: thick at its thickest (over the discs; 0.55 of that over the bodies' middle), centred
#: DISH_CENTRE_DEG from the anterior midline (negative: to the right) over +-DISH_HALF_DEG;
#: each disc of the run is bridged with P_DISH_BRIDGED, else the flows from above and below
#: stop DISH_GAP_MM apart (design values).
P_DISH = 0.12
DISH_CENTRE_WEIGHT: dict[float, float] = {
    13.0: 0.0,
    14.0: 0.5,
    15.0: 1.0,
    16.0: 1.0,
    17.0: 1.0,
    18.0: 0.6,
    19.0: 0.3,
    20.0: 0.1,
    21.0: 0.0,
}
DISH_MIN_LEVELS = 4
DISH_EXTRA_LEVELS = 2.0
DISH_THICK_MM = (3.0, 8.0)
DISH_CENTRE_DEG = (-50.0, -20.0)
DISH_HALF_DEG = (50.0, 75.0)
P_DISH_BRIDGED = 0.6
DISH_GAP_MM = 2.0


@dataclass(frozen=True)
class Dish:
    """Flowing ossification over a run of vertebrae (:data:`P_DISH`).

    Attributes:
        labels: The run's vertebrae, cranial to caudal (four or more, contiguous).
        thick_mm: The flow's thickness over the discs (mm).
        centre_deg: Angle of its thickest part from the anterior midline (degrees, + left).
        half_width_deg: Its angular half-width (degrees).
        bridged: Per disc of the run (``len(labels) - 1``, cranial first): whether the flow
            bridges it.
    """

    labels: tuple[str, ...]
    thick_mm: float
    centre_deg: float
    half_width_deg: float
    bridged: tuple[bool, ...]


def draw_dish(
    rng: np.random.Generator, labels: list[str] | tuple[str, ...], p: float = P_DISH
) -> Dish | None:
    """A case's DISH (:data:`P_DISH`), or None (also where the spine has no thoracic or
    lumbar run long enough)."""
    if rng.random() >= p:
        return None
    chain = [x for x in labels if anatomy.region_of(x) in ("thoracic", "lumbar")]
    if len(chain) < DISH_MIN_LEVELS:
        return None
    w = np.array([by_level(DISH_CENTRE_WEIGHT, x) for x in chain])
    if w.sum() <= 0.0:
        return None
    centre = int(rng.choice(len(chain), p=w / w.sum()))
    n = min(DISH_MIN_LEVELS + int(rng.poisson(DISH_EXTRA_LEVELS)), len(chain))
    start = int(np.clip(centre - (n - 1) // 2 - int(rng.integers(0, 2)), 0, len(chain) - n))
    run = tuple(chain[start : start + n])
    return Dish(
        run,
        round(float(rng.uniform(*DISH_THICK_MM)), 2),
        round(float(rng.uniform(*DISH_CENTRE_DEG)), 1),
        round(float(rng.uniform(*DISH_HALF_DEG)), 1),
        tuple(bool(rng.random() < P_DISH_BRIDGED) for _ in range(n - 1)),
    )


def dish_part(
    dish: Dish, name: str, h: float, w: float, d: float, disc_above: float, disc_below: float
) -> tuple[Box3, PartFn, float]:
    """The part (as :func:`vertebra_parts` returns them) of ``dish`` on vertebra ``name`` of
    the run: a layer of compact bone outside the body's wall (from 1.5 mm inside it),
    ``thick_mm`` thick over the discs and 0.55 of that over the body's middle, with a cosine
    profile around the wall; towards a neighbour of the run it reaches 0.5 mm past the disc's
    mid-plane (``disc_above``, ``disc_below``: the gaps to the neighbours' endplates along
    this vertebra's axis, mm), or stops short of it by half of :data:`DISH_GAP_MM` where that
    disc is not bridged; at the run's ends it thins out over the body's last 4 mm."""
    i = dish.labels.index(name)
    up = i > 0
    down = i + 1 < len(dish.labels)
    # bridged: half a millimetre past the mid-plane, so the flows from both sides meet
    e_hi = h / 2 + disc_above / 2 + (0.5 if up and dish.bridged[i - 1] else -DISH_GAP_MM / 2)
    e_lo = -h / 2 - disc_below / 2 - (0.5 if down and dish.bridged[i] else -DISH_GAP_MM / 2)
    if not up:
        e_hi = h / 2 - 1.0
    if not down:
        e_lo = -h / 2 + 1.0
    t_max = dish.thick_mm
    c0, hw = math.radians(dish.centre_deg), math.radians(dish.half_width_deg)
    disc_half = 0.5 * h

    def fn(a: Any, b: Any, e: Any, s: float) -> Any:
        q = np.sqrt((a * (2.0 / w)) ** 2 + (b * (2.0 / d)) ** 2)
        r = np.sqrt(a * a + b * b)
        x = r - r / np.maximum(q, 0.05)  # outside the wall along the radius (mm)
        phi = np.arctan2(a, -b)
        dp = np.abs(phi - c0) / hw
        amp = np.where(dp < 1.0, np.cos(0.5 * np.pi * np.minimum(dp, 1.0)), 0.0)
        # thickest over the discs (the bodies' ends), thinner over their middle
        over = np.clip(np.abs(e) / disc_half, 0.0, 1.0) ** 2
        thick = t_max * (0.55 + 0.45 * over) * amp
        ends = np.ones_like(thick)
        if not up:
            ends = ends * np.clip((e_hi - e) / 4.0, 0.0, 1.0)
        if not down:
            ends = ends * np.clip((e - e_lo) / 4.0, 0.0, 1.0)
        thick = thick * ends
        return (thick > 1.0) & (x > -1.5 + s) & (x < thick - s) & (e > e_lo) & (e < e_hi)

    reach = t_max + 1.0
    box: Box3 = ((-w / 2 - reach, -d / 2 - reach, e_lo), (w / 2 + reach, d / 2, e_hi))
    return box, fn, COMPACT_CORTEX_MM


#: Sacralization of the last lumbar vertebra (a lumbosacral transitional vertebra): its
#: transverse process broadened downwards towards the sacrum's ala, a dysplastic process
#: (Castellvi type I: 19 mm or more high) or one that reaches the ala (types II-III: a false
#: joint or a fusion). On whole-spine CT of 551 patients 12.3 % had a sacralization (Skeletal
#: Radiol 2025, PMID 40381031). A case has one with P_SACRALIZATION, on both sides with
#: P_SACRALIZATION_BOTH, the process's lower edge at its tip lowered by SACRALIZATION_MM (a
#: range per kind: dysplastic, reaching; the two kinds equally likely; design values).
P_SACRALIZATION = 0.123
P_SACRALIZATION_BOTH = 0.5
SACRALIZATION_MM = ((6.0, 12.0), (15.0, 30.0))


def draw_sides(
    rng: np.random.Generator,
    p: float,
    p_both: float,
    sizes: Callable[[np.random.Generator], tuple[float, float]],
) -> tuple[float, float]:
    """A finding on the left and the right, ``(left, right)``: ``(0, 0)`` with probability
    ``1 - p``; else on both sides with ``p_both``, otherwise on one side (either, equally),
    its size(s) from ``sizes(rng)`` (0 on the side without it)."""
    if rng.random() >= p:
        return (0.0, 0.0)
    both = rng.random() < p_both
    left = rng.random() < 0.5
    a, b = sizes(rng)
    return (a if both or left else 0.0, b if both or not left else 0.0)


def draw_sacralization(rng: np.random.Generator, p: float = P_SACRALIZATION) -> tuple[float, float]:
    """How far (mm) the last lumbar vertebra's left and right transverse processes reach down
    beyond their normal lower edge at the tip; 0 for a normal process (both, with probability
    ``1 - p``; :func:`draw_sides`)."""

    def sizes(r: np.random.Generator) -> tuple[float, float]:
        lo, hi = SACRALIZATION_MM[int(r.integers(2))]  # one kind for both sides
        return float(r.uniform(lo, hi)), float(r.uniform(lo, hi))

    return draw_sides(rng, p, P_SACRALIZATION_BOTH, sizes)


def sacralized_process(
    name: str, h: float, d: float, side: float, extra_mm: float
) -> tuple[Box3, PartFn, float]:
    """The broadened transverse process of a sacralized vertebra on ``side`` (+1 the
    patient's left) as a part for :func:`vertebra_parts`' list: the process's blade with its
    lower edge lowered by ``extra_mm`` at the tip (linearly from its root), its tip 5 % longer;
    its union with the normal process is the broadened one."""
    region = anatomy.region_of(name)
    dm = level_dims(name)
    bw = posterior_wall(d)
    back = TP_BACK_SLOPE.get(region, 0.0)
    tp_a0 = dm["can_w"] / 2 + dm["ped_w"] / 2
    tp_b0 = transverse_root_b(name, bw)
    tp_len = 1.05 * dm["tp_len"]
    tp_hh, tp_th = dm["tp_h"] / 2, dm["tp_t"] / 2
    e_ped = min(0.5 * h - 0.5 * dm["ped_h"] - 0.5, 0.2 * h)
    run = max(tp_len - tp_a0, 2.0)

    def fn(a: Any, b: Any, e: Any, s: float) -> Any:
        aa = side * a
        f = np.clip((aa - tp_a0) / run, 0, 1)
        hh = tp_hh + 0.5 * extra_mm * f
        m = (aa > tp_a0 - 2.0) & (aa < tp_len - s)
        q = _ellipse(
            b - tp_b0 - back * (aa - tp_a0), e - (e_ped - 0.5 * extra_mm * f), tp_th - s, hh - s
        )
        return m & (q <= 1.0)

    lo_a, hi_a = sorted((side * (tp_a0 - 2.0), side * tp_len))
    b_ext = back * run
    box = (
        (lo_a, tp_b0 - tp_th + min(b_ext, 0.0), e_ped - tp_hh - extra_mm),
        (hi_a, tp_b0 + tp_th + max(b_ext, 0.0), e_ped + tp_hh),
    )
    return box, fn, POSTERIOR_CORTEX_MM


def spur_part(
    spur: Spur, h: float, w: float, d: float, wedge: float, disc_mm: float
) -> tuple[Box3, PartFn, float]:
    """The part (as :func:`vertebra_parts` returns them, cortex 0: the body's cortex and a
    cancellous core) of one marginal osteophyte.

    In the radial-axial plane the spur leaves the rim flush with the endplate, runs outwards
    nearly horizontally and curls towards the disc (its centre line rises as ``t^2``, ``t``
    the fraction of its local length), tapering to a tip; its base reaches 3 mm into the body
    so it fuses with the body's cancellous bone. Around the rim its length follows a cosine
    bump over ``centre_deg +- half_width_deg``.

    Args:
        spur: The osteophyte.
        h, w, d: Vertebral body height, width and depth (mm).
        wedge: Anterior height lost to a compression fracture (mm).
        disc_mm: Height of the disc the spur grows towards (mm).

    Returns:
        ``(box, fn, 0.0)``.
    """
    length = spur.length_mm
    rise = min(OSTEOPHYTE_CURL * length, OSTEOPHYTE_RISE_DISC * max(disc_mm, 0.0))
    t0 = OSTEOPHYTE_BASE * length + 1.0
    c0, hw = math.radians(spur.centre_deg), math.radians(spur.half_width_deg)
    phi_max = math.radians(OSTEOPHYTE_MAX_DEG)
    sgn = float(spur.end)
    name = spur.label

    def fn(a: Any, b: Any, e: Any, s: float) -> Any:
        q = np.sqrt((a * (2.0 / w)) ** 2 + (b * (2.0 / d)) ** 2)
        r = np.sqrt(a * a + b * b)
        x = r - r / np.maximum(q, 0.05)  # outside the wall along the radius (mm)
        phi = np.arctan2(a, -b)
        dp = np.abs(phi - c0) / hw
        amp = np.where((dp < 1.0) & (np.abs(phi) < phi_max), np.cos(0.5 * np.pi * dp), 0.0)
        loc = length * np.sqrt(amp)
        t = np.clip(x / np.maximum(loc, 1e-3), 0.0, 1.0)
        u = sgn * (e - endplate_level(name, h, d, wedge, b, spur.end))  # + into the disc
        centre = -t0 + (t0 + rise) * t * t
        half = t0 * (1.0 - 0.7 * t)
        return (loc > 1.0) & (x > -3.0 + s) & (x < loc - s) & (np.abs(u - centre) < half - s)

    reach = length + 1.0
    e_end = h / 2 + abs(body_wedge(name)) / 2 + 1.0
    if spur.end > 0:
        e_lo, e_hi = h / 2 - abs(body_wedge(name)) - wedge - 2 * t0 - 1.0, e_end + rise + t0
    else:
        e_lo, e_hi = -e_end - rise - t0, -h / 2 + abs(body_wedge(name)) + 2 * t0 + 1.0
    b_hi = d / 2 * max(-math.cos(phi_max), 0.0) + reach
    box: Box3 = ((-w / 2 - reach, -d / 2 - reach, e_lo), (w / 2 + reach, b_hi, e_hi))
    return box, fn, 0.0


# --------------------------------------------------------------------------------------------
# Degenerative change: Schmorl nodes
# --------------------------------------------------------------------------------------------
#: Share of cases with Schmorl nodes (intravertebral disc herniations). On CT and MRI of
#: adults they are common (Williams et al., Arthritis Rheum 57:855, 2007: in 30 % of 516
#: female twins on MRI of T9-L5, 59 % of the nodes thoracic), mostly from T7 to L2 and in the
#: central and posterior part of the endplate (levels above T9 and the endplate positions are
#: assumptions); most cases have one, some several.
SCHMORL_P_CASE = 0.3
#: Weight of the levels (level number, linear in between; none outside).
SCHMORL_LEVEL_WEIGHT: dict[float, float] = {13.0: 0.0, 14.0: 0.5, 17.0: 1.0, 21.0: 1.0, 23.0: 0.4}
#: Radius of the depression in the endplate's plane and its depth into the body (mm,
#: uniform), and the sclerotic rim around it (mm).
SCHMORL_RADIUS_MM = (2.5, 5.0)
SCHMORL_DEPTH_MM = (2.0, 5.0)
SCHMORL_RIM_MM = 1.5


@dataclass(frozen=True)
class SchmorlNode:
    """A Schmorl node: disc material in a rounded depression of an endplate, in a sclerotic rim.

    Attributes:
        label: Vertebra name.
        end: ``+1`` in the superior endplate, ``-1`` in the inferior one.
        a_mm, b_mm: Centre in the endplate's plane (vertebra frame, mm).
        radius_mm: Radius in the endplate's plane (mm).
        depth_mm: Depth into the body (mm).
    """

    label: str
    end: int
    a_mm: float
    b_mm: float
    radius_mm: float
    depth_mm: float


def draw_schmorl_nodes(
    rng: np.random.Generator,
    labels: list[str] | tuple[str, ...],
    widths_mm: Any,
    depths_mm: Any,
) -> tuple[SchmorlNode, ...]:
    """Draw a case's Schmorl nodes (:data:`SCHMORL_P_CASE`, levels by
    :data:`SCHMORL_LEVEL_WEIGHT`, 1-3 per case).

    Args:
        rng: Random generator (consumed).
        labels: Vertebra names of the chain.
        widths_mm, depths_mm: ``(N,)`` vertebral body widths and depths (mm).

    Returns:
        The nodes, possibly none.
    """
    keys = np.array(sorted(SCHMORL_LEVEL_WEIGHT))
    vals = [SCHMORL_LEVEL_WEIGHT[k] for k in keys]
    wts = np.array(
        [
            float(np.interp(level_number(x), keys, vals, left=0.0, right=0.0))
            if anatomy.region_of(x) in ("thoracic", "lumbar")
            else 0.0
            for x in labels
        ]
    )
    u_case, n_nodes = rng.random(), int(rng.integers(1, 4))
    if u_case >= SCHMORL_P_CASE or wts.sum() <= 0:
        return ()
    (r0, r1), (d0, d1) = SCHMORL_RADIUS_MM, SCHMORL_DEPTH_MM
    nodes: list[SchmorlNode] = []
    for _ in range(n_nodes):
        i = int(rng.choice(len(labels), p=wts / wts.sum()))
        end = 1 if rng.random() < 0.5 else -1
        u = rng.random(4)
        w, d = float(widths_mm[i]), float(depths_mm[i])
        nodes.append(
            SchmorlNode(
                labels[i],
                end,
                float(round((u[0] - 0.5) * 0.5 * w / 2, 2)),
                float(round((-0.2 + 0.5 * u[1]) * d / 2, 2)),
                float(round(r0 + u[2] * (r1 - r0), 2)),
                float(round(d0 + u[3] * (d1 - d0), 2)),
            )
        )
    return tuple(nodes)


def schmorl_masks(
    node: SchmorlNode, h: float, w: float, d: float, wedge: float, a: Any, b: Any, e: Any
) -> tuple[Any, Any]:
    """The depression (an ellipsoid centred on the endplate's surface, the central cup
    included) and its sclerotic rim (:data:`SCHMORL_RIM_MM` around it) at positions ``a, b, e``
    (vertebra frame, mm); the caller keeps the vertebra's own voxels.

    Returns:
        ``(cavity, rim)`` boolean masks.
    """
    cup = ENDPLATE_CUP_MM[0 if node.end > 0 else 1]
    rho2 = np.clip(_ellipse(node.a_mm, node.b_mm, w / 2, d / 2), 0, 1)
    e_s = endplate_level(node.label, h, d, wedge, node.b_mm, node.end) - node.end * cup * float(
        endplate_bowl(rho2)
    )
    r, dp, g = node.radius_mm, node.depth_mm, SCHMORL_RIM_MM
    qa, qb, qe = a - node.a_mm, b - node.b_mm, e - e_s
    cavity = ((qa * qa + qb * qb) / (r * r) + qe * qe / (dp * dp)) <= 1.0
    grown = ((qa * qa + qb * qb) / ((r + g) ** 2) + qe * qe / ((dp + g) ** 2)) <= 1.0
    return cavity, grown & ~cavity
