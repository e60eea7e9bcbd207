"""Pelvis painter: hip bones, femora and the fused sacrum below S1 (bone, vertebra label 0
except S1/S2's own voxels).

Part of the label-map renderer (:mod:`spinelab.synth.render`), on its fine LPS grid
(:class:`~spinelab.synth.painter.Painter`): iliac wings as curved plates with the iliac body
above the acetabulum, the posterior ilium and the auricular surfaces of the sacro-iliac joints,
acetabular cups, femoral heads, necks, trochanters and proximal shafts, pubis and ischium, the
lower sacrum and coccyx, the fused S1-S2 junction and the anterior sacral foramina. Positions
are relative to the S1 body centre, sizes from standard adult pelvic dimensions scaled with the
body. Patches of the hip bones' and femora's marrow are fatty (``Tissue.FATTY_MARROW``,
:func:`_fatty_marrow`), the femoral heads' red.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.ndimage as ndi
import scipy.special as sps
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.synth import streams
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.painter import (
    THIN_CORTEX,
    Painter,
    allowed_lut,
    dot3,
    ellipse_form,
    local_box,
    tube_frame,
)
from spinelab.synth.streams import side_stream
from spinelab.synth.tissues import BONE, SOFT_TISSUES, Tissue

if TYPE_CHECKING:
    from spinelab.synth.body import BodyPlan

_T = Tissue
#: the femur's marrow as painted (:func:`_paint_femur`), before :func:`_fatty_marrow`
_FEMUR_MARROW = _T.FATTY_MARROW


# Standard adult pelvic dimensions (mm) the hemipelvis is built from, rounded means of both
# sexes (Gray's Anatomy 41st ed.; obstetric pelvimetry for the inlet/outlet diameters; hip
# centre from pelvic incidence about 50 deg with a sacro-femoral distance of about 110 mm,
# Legaye et al. 1998):
#: distance between the anterior superior iliac spines 240-260 mm, intercristal 260-290 mm
PELVIS_ASIS_HALF_MM = 125.0
#: iliac crest summit above the S1 body centre (Tuffier's line at L4-L5, the L4-L5 disc about
#: 55-70 mm above S1's centre; the real example CT's crest is 65 mm above it)
PELVIS_CREST_MM = 60.0
#: antero-posterior position (mm, + = posterior) of the wing's mid-surface at the sacro-iliac
#: joint and at the anterior superior iliac spine (at S1's centre), relative to the S1
#: body centre: the spines lie about in the coronal plane of the pubic tubercles (anterior pelvic plane), 80-90 mm in
#: front of S1, so the wing runs about 30 deg off the sagittal plane (ASIS to PSIS about
#: 150 mm); the real example's wings span 175 mm from front to back. The wing leaves the
#: posterior ilium (the thick mass behind it, :func:`_paint_auricular`) from that mass's front:
#: in the real example's axial sections the ilium is one bow, the fossa's front border running
#: on from the front of the bone beside the joint (3 mm, bone over 140 HU, relative to the
#: sacral base's centre: 7-13 mm in front of it 60-72 mm from the midline, 16-22 mm in front
#: 78-90 mm out, 5-30 mm above the base). The medial end used to lie 28 mm behind S1's centre
#: (the middle of that mass, read as the wing's), so the wing met the mass's side 25-30 mm
#: behind its front, a notch, and lay 15-25 mm behind the real bow 80-100 mm out at every
#: height; at 0 mm the bow's front lies within 3-9 mm of the real one 78-108 mm out at nine
#: heights from 66 mm below to 24 mm above the sacral base (a lumbar case and the real
#: example, 3 mm; bone over 140 HU)
ILIUM_Y_SI_MM, ILIUM_Y_ASIS_MM = 0.0, -85.0
#: In axial sections the wing is not straight from the joint to the spine: the iliac fossa runs
#: at a shallow angle (the real example's mid-surface 22 mm behind S1's centre 60 mm from the
#: midline, level with it at 80 mm, 25 mm in front at 110 mm) and the front of the wing turns
#: sharply forwards to the anterior spines (60-90 mm in front at 110-120 mm). Fraction of the
#: joint-to-spine distance covered at lateral position u (0 joint, 1 spine) is
#: ``ILIUM_CURVE[0] * u + ILIUM_CURVE[1] * u**4`` (a fit to the real example at S1's level).
ILIUM_CURVE = (0.45, 0.55)
#: the wing's mid-surface leans back towards the crest by this much per mm of height (the real
#: example: 5-7 mm further back 40 mm higher, between S1's level and the crest)
ILIUM_LEAN = 0.2
#: The wing flares outwards towards the crest (its fossa faces up as well as forwards): in the
#: real example the wing's lateral reach grows from about 100 mm from the midline 30 mm below
#: S1's centre to 150-155 mm 30-45 mm above it, and in axial sections through the upper wing
#: the mid-surface is nearly straight, about 35 deg off the coronal plane (from 25 mm behind
#: S1's centre 50 mm from the midline to 45 mm in front of it 155 mm out), not turning forwards
#: to the spines as it does lower down. Above ILIUM_FLARE_FROM_MM (relative to S1's centre) the
#: wing's lateral end moves out, linearly with height, by up to ILIUM_FLARE_MM at the crest
#: summit, its curve straightens (ILIUM_CURVE towards a straight line) and its front end moves
#: back to ILIUM_Y_CREST_FRONT_MM (mm from S1's centre, + = posterior). In a coronal section
#: through the hip joints the wing then rises up and out from the acetabulum (the real
#: example: 90 mm from the midline 60 mm below S1's centre, 115-125 mm level with it, 135-140
#: mm 30 mm above it).
ILIUM_FLARE_FROM_MM = -20.0
ILIUM_FLARE_MM = 30.0
ILIUM_Y_CREST_FRONT_MM = -40.0
#: The acetabulum and the iliac body above it as one bone, a convex polygon in each axial
#: section (the real example's right hip at 3 mm, x medial and y posterior from the head's
#: centre, mm): through the head's centre a triangle with the head in its lateral corner, the
#: anterior wall across the front (30-40 mm in front), the quadrilateral plate down the medial
#: side (30-35 mm medial) and the posterior wall running posteromedially to the posterior
#: column's tip (35 mm medial, 55 mm behind), open anterolaterally and laterally; 20 mm above
#: it the bone round the top of the head, 60 x 75 mm; 30 mm above it a quadrilateral 35 x 85
#: mm from the anterior inferior iliac spine (15 mm lateral, 45 mm in front) back to 25-30 mm
#: behind the centre; 40 mm above it an oblique oval 25 x 75 mm (its front end lateral),
#: narrowing into the wing's plate. The old body, an axis-aligned ellipse 60 x 76 mm round the
#: cup, closed a ring of bone round the head and read 55 mm across 20 mm above it in the
#: coronal section through the hips (real 42-45 mm outer width). Above 40 mm the block tapers
#: into the wing: in the coronal section through the head's centre (3 mm, bone over 200 HU) the
#: real example's medial (pelvic) surface converges on the lateral one, its edge 7, 1 mm medial
#: of and 7 mm lateral of the centre 48, 54 and 60 mm above it; the old levels at 50 and 62 mm
#: (the medial vertex 16 and 8 mm medial, the lateral edge 18-25 mm lateral) left it 8-17 and
#: 2-11 mm medial at 48 and 54 mm in lumbar cases at 3 mm (now 2-13 mm medial and 5 mm medial
#: to 3 mm lateral) and ended in a flat top with the thin plate above. Heights
#: above the head centre's level (mm) and the polygon's vertices there (x medial, y posterior;
#: mm), in order: front lateral, front medial, medial, posterior tip, posterolateral, lateral
#: (convex).
ACETABULUM_BLOCK_Z_MM = (-20.0, -5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 62.0)
ACETABULUM_BLOCK_MM = (
    ((12.0, -26.0), (30.0, -28.0), (34.0, 25.0), (32.0, 48.0), (14.0, 44.0), (8.0, 10.0)),
    ((2.0, -34.0), (34.0, -38.0), (35.0, 25.0), (32.0, 54.0), (-20.0, 15.0), (-24.0, 0.0)),
    ((0.0, -37.0), (32.0, -39.0), (36.0, 28.0), (30.0, 50.0), (-22.0, 14.0), (-24.0, 0.0)),
    ((-12.0, -38.0), (28.0, -37.0), (32.0, 30.0), (24.0, 38.0), (-12.0, 10.0), (-18.0, -12.0)),
    ((-16.0, -47.0), (-4.0, -47.0), (25.0, -17.0), (24.0, 26.0), (12.0, 33.0), (-16.0, 2.0)),
    ((-16.0, -47.0), (-4.0, -47.0), (21.0, -10.0), (21.0, 28.0), (10.0, 33.0), (-12.0, 5.0)),
    ((-20.0, -47.0), (-12.0, -46.0), (9.0, 0.0), (20.0, 30.0), (10.0, 35.0), (-13.0, 0.0)),
    ((-33.0, -40.0), (-28.0, -40.0), (-3.0, 0.0), (14.0, 28.0), (6.0, 32.0), (-14.0, 0.0)),
)
#: above this height (mm over the head's centre) the block's rim is dense cortex (the iliac
#: body), below it thin cortex (the walls and columns: the real example's lines there read
#: 300-470 HU at 3 mm)
ACETABULUM_BLOCK_DENSE_FROM_MM = 22.0
#: its cortex (compact bone, mm): 1.5 mm of ``Tissue.CORTICAL`` reads 550-700 HU at 3 mm, as
#: the real example's cortical lines of the ilium do (500-690 HU); the thin (``THIN_CORTEX``)
#: rim of the old body, 300-350 HU at 3 mm, left it a uniform grey wedge
ILIAC_BODY_CORTEX_MM = 1.5
#: hip joint centre relative to the S1 body centre: +-88 mm lateral (inter-hip 170-180 mm),
#: 35 mm anterior and 100 mm inferior (the real example CT's femoral heads: 88 mm either side,
#: 33 mm in front of and 91 mm below its S1 body centre); see :func:`hip_centres_mm`
PELVIS_HIP_MM = (88.0, -35.0, -100.0)
#: femoral head radius (diameter 45-50 mm)
FEMORAL_HEAD_R_MM = 24.0
#: hip joint space on CT (mm): the two cartilage layers, 3-4 mm wide (radiographic joint space
#: width of the adult hip, 3.5-4 mm); the acetabulum's articular surface is dense subchondral
#: bone (``Tissue.CORTICAL``) lining the bone of ACETABULUM_BLOCK_MM (no shell of its own: a
#: full outer shell showed as a second ring around the femoral head)
HIP_JOINT_GAP_MM = 3.0
#: The acetabular fossa: the floor of the socket below and medial to the lunate (articular)
#: surface holds fat (the pulvinar) and the ligament of the head, so the head stands off the
#: thin medial wall there (the real example: 6-8 mm from the head to the quadrilateral plate
#: in axial and coronal sections through the head's centre, a thin line of bone beyond). A
#: cone of ACETABULUM_FOSSA_DEG half-angle about ACETABULUM_FOSSA_AXIS (medial, posterior,
#: up) ACETABULUM_FOSSA_MM deeper than the joint space, its floor thin cortex.
ACETABULUM_FOSSA_AXIS = (0.85, 0.1, -0.5)
ACETABULUM_FOSSA_DEG = 42.0
ACETABULUM_FOSSA_MM = 4.0
#: The acetabulum's subchondral plate (``Tissue.CORTICAL``, mm): thin over most of the cup and
#: thickest under the weight-bearing dome, the sourcil (the dense bright eyebrow over the head
#: on radiographs and coronal CT: the real example's roof reads about 500 HU at 3 mm over
#: 15-20 mm, its medial wall a thin line), growing from SOURCIL_MM[0] at SOURCIL_FROM_DEG and
#: beyond from the vertical to SOURCIL_MM[1] straight above the head centre.
SOURCIL_MM = (1.3, 1.6)
SOURCIL_FROM_DEG = 50.0
#: The femoral head's own rim: a thin shell (``Tissue.SHELL``, 1 mm) over its trabecular bone.
#: On the real example CT (3 mm) the head is a grey disc with a faint outline and the joint one
#: dark line under the acetabulum's bright roof; a 1.3 mm ``Tissue.CORTICAL`` rim all round the
#: head read as a second bright ring inside the cup's (3 mm profiles into the cup: head rim
#: 630 HU over a 230 HU interior, as bright as the cup's subchondral plate).
FEMORAL_HEAD_CORTEX = _T.SHELL
FEMORAL_HEAD_CORTEX_MM = 1.0
#: proximal femur (Gray's Anatomy 41st ed.; radiographic means): neck-shaft angle 125-130 deg,
#: shaft 7 deg off the vertical (femoral anatomical axis, knees closer together than the hips),
#: neck anteversion about 15 deg, femoral offset (head centre to shaft axis) 40-45 mm; the neck
#: 30-35 mm tall and 25 mm thick at its waist, widening to 40 mm at its base; the greater
#: trochanter's tip at about the height of the head centre, 20 mm lateral of the shaft axis
FEMUR_NECK_SHAFT_DEG = 128.0
FEMUR_SHAFT_TILT_DEG = 7.0
FEMUR_ANTEVERSION_DEG = 15.0
FEMUR_OFFSET_MM = 42.0
FEMUR_SHAFT_R_MM = 13.5
#: The neck's outline: (distance from the head centre as a fraction of the head-to-base
#: length, half-height, half-thickness) mm. Waisted (25-30 mm across) half-way and flaring
#: with concave outlines into the head and towards the trochanters (40-50 mm across at the
#: base); the old neck widened linearly from 30 to 40 mm and read as a straight-edged block.
FEMUR_NECK_PROFILE = (
    (0.3 * FEMORAL_HEAD_R_MM / 52.0, 17.0, 15.0),
    (0.35, 14.0, 12.5),
    (0.55, 13.5, 12.0),
    (0.75, 15.5, 13.0),
    (0.9, 19.0, 15.0),
    (1.0, 23.0, 17.0),
)
#: The neck's and the trochanteric region's cortex (``THIN_CORTEX``, mm): thin, over trabecular
#: bone; the real example's neck is a grey (fatty, 50-100 HU in Ward's triangle) interior with
#: thin outlines, not the bright block a 1.8 mm ``Tissue.CORTICAL`` shell made at 3 mm
FEMUR_NECK_CORTEX_MM = 1.5
#: the shaft's thick diaphyseal cortex starts this far below the neck's base (mm; at the
#: lesser trochanter)
FEMUR_DIAPHYSIS_MM = 45.0
#: pubic symphysis: its body's top (the superior ramus's axis where it joins it) 6 mm from the
#: midline, 50 mm in front of and 36 mm below the hip centres, 40 mm tall, 4 mm
#: fibrocartilage gap; ischial tuberosities 70 mm below the hip centres, 55 mm from the
#: midline (intertuberous diameter 110 mm), 25 mm behind them; ischial spines 50 mm from the
#: midline (interspinous diameter 100 mm). The real example CT (3 mm, right hip; bone over
#: 250 HU in front of the head, 10 mm wide bands of medial distance from the head's centre)
#: puts the top of the bone 10 mm above the head's centre 30-40 mm medial of it (the anterior
#: wall and the iliopubic eminence), 5 mm below it at 40-50 mm, 20 mm below at 50-60 mm and
#: 26-29 mm below at 60-90 mm (the symphysis): the superior ramus runs down and forwards to
#: the symphysis, and axial sections through the hip centres show no bone in front of the
#: bladder. The old symphysis top 5 mm above the hip centres, with the ramus level with it,
#: put the top of the bone 9-14 mm above the head's centre all the way to the midline (a bony
#: arc across the front in axial sections through the hips).
PUBIS_TOP_MM = (6.0, -50.0, -36.0)
PUBIS_HEIGHT_MM = 40.0
#: width of the symphysis's fibrocartilaginous disc at the midline (mm; 3-5 mm in adults)
SYMPHYSIS_GAP_MM = 4.0
#: the superior pubic ramus's axis from the front of the acetabulum (its first point, on the
#: anterior wall) down and medially to the symphysis through its second point (mm from the
#: head's centre: medial, anterior, up); radius SUPERIOR_RAMUS_R_MM
SUPERIOR_RAMUS_MM = ((16.0, 18.0, 4.0), (40.0, 32.0, -18.0))
SUPERIOR_RAMUS_R_MM = 8.0
ISCHIAL_TUBEROSITY_MM = (55.0, 25.0, -70.0)
#: iliac bone thickness: 2-4 mm in the iliac fossa, 10-14 mm at the crest, 15-20 mm at the
#: sacro-iliac joint, 12-15 mm in the lower wing above the iliac body (the real example: 14-15
#: mm across 40-60 mm above the head's centre in the coronal section through the hips; 19 mm
#: made the synthetic ilium 30-45 mm across there); cortex 1-2 mm
ILIUM_FOSSA_MM, ILIUM_CREST_MM, ILIUM_SI_MM, ILIUM_BODY_MM = 3.0, 12.0, 17.0, 12.0
ILIUM_CORTEX_MM = 1.5
#: The wing's front (anterior) border from the acetabular roof up to the anterior superior
#: spine: the plate's front end (u, 0 at the sacro-iliac joint, 1 at the anterior superior
#: spine; u_acet + 0.15 at the roof) at heights ILIUM_FRONT_Z_MM (mm from S1's centre, the
#: hip centres 100 mm below it). The anterior inferior spine and the border above it stand far
#: forwards: on the real example CT (3 mm, right hip, bone over 200 HU more than 50 mm from the
#: midline, the head's centre fitted by eye in three planes to 1.5 mm) the front of the ilium
#: is 38-44 mm in front of the head's centre 30-54 mm above it (the anterior inferior spine
#: and the acetabular rim), 50, 56, 58, 62, 58 and 56 mm in front 60, 66, 72, 78, 84 and 90 mm
#: above it. The old border (u 0.8 at -45 mm, 0.88 at -25 mm) notched back between the two
#: spines: 34-52, 34-49 and 34-43 mm in front 60, 66 and 72 mm above the head (the same
#: measurement on four lumbar cases at 3 mm), now 49-57, 58-64 and 60-67 mm.
ILIUM_FRONT_Z_MM = (-48.0, -35.0, -22.0, 0.0, 60.0)
ILIUM_FRONT_U = (0.82, 0.92, 0.96, 1.3, 1.3)
#: the anterior column (the thick bone from the anterior spines down to the acetabulum) spans
#: this much of u behind the front border. It was 0.3 before the border moved forwards; with
#: 0.3 the forward border thinned the bone in the coronal section through the head's centre
#: 66, 72 and 78 mm above it from 19, 13 and 9 mm across to 15, 10 and 6 mm (four lumbar cases
#: at 3 mm, bone over 200 HU), with 0.45 17, 11 and 9 mm (the real example: 21, 15 and 12 mm).
ILIUM_COLUMN_U = 0.45
#: the greater sciatic notch's front edge (the wing's lower posterior border) runs from the
#: acetabular block up to the notch's top as this power of the height fraction (1: straight)
ILIUM_NOTCH_POWER = 4.0
#: Fatty (yellow) marrow. In adults most of the hip bone's and proximal femur's marrow is
#: converted to fat, in patches, while the femoral head stays denser (its epiphyseal trabeculae)
#: and the bone next to the acetabulum stays red longer. The real example CT at 3 mm (interior
#: of the bone 6 mm or more from its surface): iliac body 25-60 mm above the head's centre
#: 3/60/138/214/299 HU (10th/25th/50th/75th/90th percentile), the femoral neck 28-40 mm from
#: the head's centre median 57 HU, the head 216 HU; a synthetic case with a uniform
#: ``Tissue.MARROW`` interior (212 HU drawn) read 171/189/210/232/253, 235 and 209, with these
#: patches -4/59/154/203/233, 28 and 209. A smooth random field (a periodic tile of
#: FATTY_MARROW_TILE cells of FATTY_MARROW_CELL_MM, Gaussian-smoothed by FATTY_MARROW_SIGMA_MM,
#: with a fine per-voxel dither of weight FATTY_MARROW_DITHER that frays the patches' edges)
#: turns the share FATTY_MARROW_SHARE (hip bone, femur below the head) of the marrow into
#: ``Tissue.FATTY_MARROW``. The hip bone's share falls to 0 towards the acetabulum (full from
#: FATTY_MARROW_SOCKET_MM[1] beyond the joint space, none within FATTY_MARROW_SOCKET_MM[0]); the
#: femur's rises from 0 at the head's surface to full FATTY_MARROW_NECK_MM below it, so the
#: head keeps red marrow.
FATTY_MARROW_SHARE = (0.5, 0.75)
#: The hip bone's fatty share is graded from front to back (the anterior ilium and the pubis
#: convert to fat earlier than the posterior ilium beside the sacro-iliac joints, which keeps
#: red marrow longest): FATTY_MARROW_AP_SHARE[0] at FATTY_MARROW_AP_MM or more behind the hip
#: centres, FATTY_MARROW_SHARE[0] level with them, FATTY_MARROW_AP_SHARE[1] at
#: FATTY_MARROW_AP_MM or more in front of them (linear in between; mm times the body scale).
#: The real example CT at 3 mm (right hip; interior of the bone, 6 mm or more inside the
#: >200 HU bone filled per axial slice, 25-60 mm above the head's centre, within 45 mm of it
#: horizontally): median 83 / 156 / 178 HU more than 15 mm in front of the head's centre /
#: within 15 mm / more than 15 mm behind it (10 mm bands from 40 mm in front to 40 mm behind:
#: 87, 70, 98, 150, 160, 172, 192, 222 HU). Five lumbar cases at 3 mm, the same region taken
#: from the tissue map (both hips pooled), front / behind: one share everywhere 96-149 /
#: 46-134 HU (pooled 125 / 78: no gradient, the back darker), graded 53-92 / 128-193 HU (72 /
#: 155), the femoral heads unchanged (152-234 HU).
FATTY_MARROW_AP_SHARE = (0.05, 0.75)
FATTY_MARROW_AP_MM = 30.0
#: Higher up the hip bone's share rises whatever the depth: from FATTY_MARROW_HIGH[0] to
#: FATTY_MARROW_HIGH[1] mm (times the body scale) above the hip centres to at least
#: FATTY_MARROW_HIGH[2]. The real example CT at 3 mm, the posterior ilium beside the sacrum
#: (more than 58 mm from the midline, from 10 mm in front of to 60 mm behind the sacral base's
#: centre, 30 mm below to 10 mm above it; the interior of the >150 HU bone filled per slice and
#: eroded by a voxel): median 119 HU (p25 80, p75 164); four lumbar cases at 3 mm, the same
#: measure, 197-290 HU with the back's share (0.05) reaching up there.
FATTY_MARROW_HIGH = (60.0, 100.0, 0.45)
FATTY_MARROW_TILE = 32
FATTY_MARROW_CELL_MM = 3.0
FATTY_MARROW_SIGMA_MM = 6.0
FATTY_MARROW_DITHER = 0.5
FATTY_MARROW_SOCKET_MM = (3.0, 15.0)
FATTY_MARROW_NECK_MM = 8.0
#: the region searched for the pelvis's marrow (:func:`_marrow_box`): this far either side of
#: the midline (mm, times the body scale) and from FATTY_MARROW_Y_MM in front of to behind the
#: S1 body centre; marrow painted there before the pelvis (the hands and forearms of arms-down
#: cases, beside the hips and thighs) is left as it is
FATTY_MARROW_REACH_MM = 175.0
FATTY_MARROW_Y_MM = (-120.0, 90.0)


def _paint_plate(
    pt: Painter,
    k_rng: tuple[int, int],
    i_rng: tuple[int, int],
    y_mm: NDArray[np.float64],
    half_mm: NDArray[np.float64],
    cortex_mm: float,
) -> None:
    """Paint a bony plate given as a height field over (z, x): its mid-surface at ``y_mm``
    ``(nk, ni)`` and its half-thickness ``half_mm`` (0 = none), measured along the surface
    normal; cortex ``cortex_mm`` thick, marrow inside (thin parts are all cortex)."""
    g = pt.grid
    sy = g.spacing_mm[1]
    dz, dx = g.spacing_mm[2], g.spacing_mm[0]
    gz = np.gradient(y_mm, dz, axis=0) if y_mm.shape[0] > 1 else np.zeros_like(y_mm)
    gx = np.gradient(y_mm, dx, axis=1) if y_mm.shape[1] > 1 else np.zeros_like(y_mm)
    cosn = 1.0 / np.sqrt(1.0 + gz * gz + gx * gx)  # |y - f| * cosn = distance to the surface
    on = half_mm > 0
    if not on.any():
        return
    kk, ii = np.nonzero(on)
    f = y_mm[on]
    ht = half_mm[on]
    cn = cosn[on]
    jf = np.rint((f - g.origin_mm[1]) / sy).astype(np.int64)
    reach = math.ceil(float((ht / cn).max()) / sy) + 1
    nj = g.shape_kji[1]
    kk = kk + k_rng[0]
    ii = ii + i_rng[0]
    cort: list[NDArray[np.int64]] = []
    marrow: list[NDArray[np.int64]] = []
    for dj in range(-reach, reach + 1):
        j = jf + dj
        dist = np.abs(g.origin_mm[1] + j * sy - f) * cn
        ok = (j >= 0) & (j < nj) & (dist <= ht)
        lin = (kk * nj + j) * g.shape_kji[2] + ii
        inner = ok & (dist <= ht - cortex_mm)
        cort.append(lin[ok & ~inner])
        marrow.append(lin[inner])
    flat = pt.tissue.reshape(-1)
    flat[np.concatenate(cort)] = THIN_CORTEX
    flat[np.concatenate(marrow)] = _T.MARROW


def _paint_ilium(pt: Painter, c: NDArray[np.float64], w: float, s: float, side: float) -> None:
    """One iliac wing as a broad curved plate (a height field y(z, x)): fan-shaped from the
    sacro-iliac joint (u = 0) to the anterior superior iliac spine (u = 1), up to the crest,
    narrowing down into the ilium's body above the acetabulum; thin in the iliac fossa, thick
    at the crest, the sacro-iliac joint, the anterior spines and the body."""
    g = pt.grid
    x_si = w / 2 + 30.0 * s
    x_asis = PELVIS_ASIS_HALF_MM * s
    hip = PELVIS_HIP_MM
    lo_x, hi_x = x_si - 8.0, x_asis + (22.0 + 1.3 * ILIUM_FLARE_MM) * s
    xs = (c[0] + side * lo_x, c[0] + side * hi_x)
    i0, i1 = g.index_range(0, min(xs), max(xs))
    k0, k1 = g.index_range(2, c[2] + hip[2] + 20.0, c[2] + PELVIS_CREST_MM + 4.0)
    if i1 <= i0 or k1 <= k0:
        return
    x = side * (pt.x[i0:i1] - c[0])  # lateral distance (mm)
    zr = pt.z[k0:k1, None] - c[2]
    # flare: the wing's lateral end moves out towards the crest (0 below ILIUM_FLARE_FROM_MM)
    flare = np.clip((zr - ILIUM_FLARE_FROM_MM) / (PELVIS_CREST_MM - ILIUM_FLARE_FROM_MM), 0, 1)
    x_end = x_asis + ILIUM_FLARE_MM * s * flare  # (nk, 1)
    u = (x[None, :] - x_si) / (x_end - x_si)
    # (the acetabulum lies below ILIUM_FLARE_FROM_MM: no flare there)
    u_acet = (hip[0] * s - x_si) / (x_asis - x_si)
    # crest (upper border): posterior superior spine, summit, anterior superior spine; just
    # lateral of the joint (u 0-0.2, where the wing meets the posterior ilium's front) high
    # enough to meet that mass beside L5 (ILIUM_POSTERIOR_TOP_MM), as in the real example,
    # whose bow is one piece up to 10-15 mm above the sacral base
    z_top = np.interp(
        u,
        [-0.12, 0.0, 0.2, 0.5, 0.8, 1.0, 1.15, 1.3],
        [-25, 10, 0.68 * PELVIS_CREST_MM, PELVIS_CREST_MM, 0.92 * PELVIS_CREST_MM, 25, 8, -20],
    )
    # lower borders: the greater sciatic notch behind, the anterior spines in front, both
    # narrowing to the acetabular roof
    z_si_low, z_roof = -38.0, hip[2] + 28.0
    t = np.clip((zr - z_roof) / (z_si_low - z_roof), 0.0, 1.0)
    # (the notch's front edge stays close behind the acetabular block up to 10-15 mm below the
    # notch's top: the real example's ilium 40-55 mm above the head's centre is one oblique
    # oval, running 20-25 deg off the sagittal plane, with nothing medial to it; a plate
    # reaching back to the joint there stood out of the block as a "Y" in coronal sections)
    tn = t**ILIUM_NOTCH_POWER
    u_lo = np.where(zr > z_si_low, -0.12, (u_acet - 0.25) * (1 - tn) - 0.12 * tn)
    u_hi = np.interp(zr, [z_roof, *ILIUM_FRONT_Z_MM], [u_acet + 0.15, *ILIUM_FRONT_U])
    inside = (u >= u_lo) & (u <= u_hi) & (zr <= z_top)

    # mid-surface: from the sacro-iliac joint forwards and outwards, concave to the front
    # (iliac fossa), leaning back towards the crest (so the wing flares outwards in coronal
    # slices: the fossa faces forwards, inwards and upwards), moving forwards to the acetabulum
    # below the joint
    def surface(uu: Any) -> Any:
        # the iliac fossa (concave to the front) and the front of the wing turning forwards
        # (straightening and ending further back towards the crest)
        uc = np.minimum(uu, 1.0)
        bend = np.maximum(uc, 0.0) ** 4
        frac = ILIUM_CURVE[0] * uc + ILIUM_CURVE[1] * bend
        frac = frac + flare * (uc - frac)
        y_end = ILIUM_Y_ASIS_MM + (ILIUM_Y_CREST_FRONT_MM - ILIUM_Y_ASIS_MM) * flare
        y_mid = ILIUM_Y_SI_MM + (y_end - ILIUM_Y_SI_MM) * frac
        # lateral to the anterior spines (u > 1) the rim curves back along the tubercle
        y_mid = y_mid + 30.0 * np.maximum(uu - 1.0, 0.0)
        return c[1] + y_mid * s + ILIUM_LEAN * zr

    fwd = np.clip((z_si_low + 10.0 - zr) / (z_si_low + 10.0 - z_roof), 0.0, 1.0)
    y = surface(u) + fwd * (c[1] + hip[1] * s - surface(u_acet))
    # thickness: thin fossa, thick rims (max of the rim profiles, not their sum): the crest,
    # the posterior ilium (sacro-iliac joint, iliac tuberosity, down to the sciatic notch; a
    # fillet where the plate meets the auricular section, which carries the thickness), the
    # anterior spines and the body above the acetabulum
    crest = ILIUM_CREST_MM * np.clip(1.0 - (z_top - zr) / 14.0, 0, 1)
    si = ILIUM_SI_MM * np.clip(1.0 - u / 0.3, 0, 1)
    body = ILIUM_BODY_MM * np.clip((-5.0 - zr) / 40.0, 0, 1)
    ant = 9.0 * np.clip(1.0 - (u_hi - u) / 0.1, 0, 1)
    # anterior column: the thick bone from the anterior spines down to the acetabulum
    ant = np.maximum(
        ant, 14.0 * np.clip(1.0 - (u_hi - u) / ILIUM_COLUMN_U, 0, 1) * np.clip(-zr / 25.0, 0, 1)
    )
    full = np.maximum(ILIUM_FOSSA_MM, np.maximum(np.maximum(crest, si), np.maximum(body, ant)))
    half = full / 2
    # rounded crest
    half = half * np.sqrt(np.clip((z_top - zr + 0.5) / np.maximum(half, 1.0), 0, 1))
    half = np.where(inside, half, 0.0)
    _paint_plate(pt, (k0, k1), (i0, i1), np.broadcast_to(y, half.shape), half, ILIUM_CORTEX_MM)


def _bone_rod(
    pt: Painter,
    pts: NDArray[np.float64],
    r: float,
    cortex: float,
    outer: int = _T.CORTICAL,
    inner: int = _T.MARROW,
) -> None:
    """A round bony rod (cortex ``outer`` around ``inner``, marrow) along a polyline, its ends
    extended by 0.6 r so that joined rods overlap (the flat-tube painter cuts its ends square)."""
    p = np.array(pts, dtype=np.float64)
    for end, nxt in ((0, 1), (-1, -2)):
        d = p[end] - p[nxt]
        p[end] = p[end] + d / max(float(np.linalg.norm(d)), 1e-6) * 0.6 * r
    full = np.full(len(p), r)
    pt.flat_tube(p, full, full, np.zeros(len(p)), outer, inner, cortex)


#: Sacro-iliac joint and posterior ilium: the ilium's auricular part faces the sacral alae across
#: a 2-4 mm joint space, from below S2 to the top of S1. The alae reach ``w / 2 + 28`` mm (S1)
#: and ``w / 2 + 26`` mm (S2, a narrower body) from the midline
#: (:mod:`spinelab.synth.vertebra_shape`), so the joint line steps in from S1 to S2: the bend of
#: the L-shaped (auricular) joint surface, its short arm at S1, its long arm down S2-S3. Behind
#: the joint the iliac tuberosity carries the bone back to the posterior superior iliac spine,
#: and above S1 the posterior part of the ilium rises beside L5 to the back of the crest. In
#: axial sections of the real example the two make one thick bony mass lateral to the sacrum
#: and L5, elongated from front to back: 18-20 mm across (55-75 mm from the midline) and 60-70
#: mm long at S1-S2 (from 20 mm in front of to 50 mm behind S1's centre), 45 mm long 25 mm
#: above S1's centre, ending 40-45 mm above it; the wing joins its front end. Here: an
#: elliptic section ILIUM_AURICULAR_MM across and, at the levels of
#: :func:`_paint_auricular` (below S2, S2's centre, S1's lower half, its widest level, its top,
#: then ILIUM_POSTERIOR_TOP_MM[0] and [1] above S1's centre), ILIUM_AURICULAR_LONG_MM long,
#: centred ILIUM_AURICULAR_BACK_MM behind the alae's centre (the old 40 mm long section, with a
#: separate round rod out to the posterior spine, read as a small blob beside the sacrum and a
#: round bone behind it). Its rim is dense (ILIAC_BODY_CORTEX_MM of ``Tissue.CORTICAL``): the
#: real example's rim there reads 600-870 HU at 3 mm around 200-300 HU marrow. Above S1's
#: widest level the section narrows (the real example's posterior ilium beside L5 is a bar
#: 8-12 mm thick continuing the wing, 20 mm was an egg beside it), keeping its lateral side
#: where the wing joins it (the joint space widens there; beside L5 there is no joint).
SI_JOINT_GAP_MM = 3.0
ILIUM_AURICULAR_MM = (20.0, 20.0, 20.0, 20.0, 17.0, 13.0, 10.0)
ILIUM_AURICULAR_LONG_MM = (40.0, 60.0, 66.0, 66.0, 56.0, 44.0, 26.0)
ILIUM_AURICULAR_BACK_MM = (8.0, 6.0, 4.0, 4.0, 4.0, 2.0, 0.0)
ILIUM_POSTERIOR_TOP_MM = (28.0, 42.0)


def _joint_offset(
    reach: float, w: float, d: float, back: float, rx: float, ry: float, angle: float
) -> float:
    """Distance (mm) from the midline to the auricular section's centre that leaves
    :data:`SI_JOINT_GAP_MM` between it (half-axes ``rx``, ``ry``, turned by ``angle``; its
    centre ``back`` mm behind the ala's middle) and the nearest point of the ala's outer face
    (:func:`vertebra_shape.sacral_ala_face`; the ala reaches ``reach`` mm from the midline,
    on a body ``w`` wide and ``d`` deep)."""
    b_fr, b_bk = vshape.sacral_ala_ap(d)
    b = np.linspace(b_fr, b_bk, 17)
    face = w / 2 + vshape.sacral_ala_face(reach - w / 2, b, d)
    rows = b - (b_fr + b_bk) / 2 - back  # from the section's centre
    # the section's outline (its back end turned towards the midline: -x for angle > 0)
    t = np.linspace(0.0, 2.0 * math.pi, 361)
    ex, ey = rx * np.cos(t), ry * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    inward = -(ex * ca - ey * sa)  # towards the midline
    y = ex * sa + ey * ca
    # how far the outline reaches inwards within 1 mm of each row of the face
    near = np.abs(y[None, :] - rows[:, None]) <= 1.0
    reach_in = np.where(near, inward[None, :], -np.inf).max(axis=1)
    return float((face + reach_in).max()) + SI_JOINT_GAP_MM


def _paint_auricular(pt: Painter, geo: SpineGeometry, s: float) -> None:
    """The auricular part and the posterior part of each ilium beside the sacral alae and L5,
    slice by slice (2-D ellipses into soft tissue only, then marrow inside them where the wing's
    plate left its cortex: one bone with no seam); ``s`` is the body scale."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return
    i1, i2 = geo.labels.index("S1"), geo.labels.index("S2")
    c1, c2 = geo.centres_mm[i1], geo.centres_mm[i2]
    h1, h2 = float(geo.body_height_mm[i1]), float(geo.body_height_mm[i2])
    d1, d2 = float(geo.body_depth_mm[i1]), float(geo.body_depth_mm[i2])
    w1, w2 = float(geo.body_width_mm[i1]), float(geo.body_width_mm[i2])
    # levels (ascending): below S2 (S3), S2's centre, S1's lower half, its widest level, S1's
    # top, then beside L5; the alae's lateral reach there (vertebra_shape.sacral_ala_reach: the
    # ear-shaped outline) and their antero-posterior centre (vertebra_shape.sacral_ala_ap)
    e_pk = vshape.SACRAL_ALA_PEAK * h1
    top1, top2 = (c1[2] + v * s for v in ILIUM_POSTERIOR_TOP_MM)
    zn = [c2[2] - 0.5 * h2 - 12.0, c2[2], c1[2] - 0.25 * h1, c1[2] + e_pk, c1[2] + 0.5 * h1]
    zn += [max(top1, zn[-1] + 1.0), max(top2, zn[-1] + 2.0)]
    reach_pk = float(vshape.sacral_ala_reach("S1", h1, w1, e_pk))
    xn = [
        float(vshape.sacral_ala_reach("S2", h2, w2, -0.5 * h2 - 12.0)),
        float(vshape.sacral_ala_reach("S2", h2, w2, 0.0)),
        float(vshape.sacral_ala_reach("S1", h1, w1, -0.25 * h1)),
        reach_pk,
        reach_pk - 6.0,
        reach_pk,
        reach_pk,
    ]
    ap1, ap2 = sum(vshape.sacral_ala_ap(d1)) / 2, sum(vshape.sacral_ala_ap(d2)) / 2
    yn = [c2[1] + ap2 + 6.0, c2[1] + ap2] + [c1[1] + ap1] * 5
    yn = [v + b * s for v, b in zip(yn, ILIUM_AURICULAR_BACK_MM, strict=True)]
    # how far behind the alae's middle the section's centre lies, level by level, and the
    # alae's widths and depths there: the section keeps the joint space from the nearest
    # point of the ala's (sheared) outer face
    behind = [b * s + (6.0 if i == 0 else 0.0) for i, b in enumerate(ILIUM_AURICULAR_BACK_MM)]
    wn, dn = [w2, w2] + [w1] * 5, [d2, d2] + [d1] * 5
    xc = [c2[0], c2[0]] + [c1[0]] * 5
    # the section is turned with the joint (its back end inwards), parallel to the ala's
    # sheared lateral face (vertebra_shape.SACRAL_JOINT_TURN_DEG); its lengths are the real
    # example's front-to-back extents, so the turned section is longer by 1 / cos(turn)
    tilt = math.radians(vshape.SACRAL_JOINT_TURN_DEG)
    ln = [v * s / 2 / math.cos(tilt) for v in ILIUM_AURICULAR_LONG_MM]
    tn = [v * s / 2 for v in ILIUM_AURICULAR_MM]
    k0, k1 = pt.grid.index_range(2, zn[0], zn[-1])
    for k in range(k0, k1):
        z = float(pt.z[k])
        reach, yc, x0, l_half, t_half, back, w, d = (
            float(np.interp(z, zn, v)) for v in (xn, yn, xc, ln, tn, behind, wn, dn)
        )
        # (a narrower section keeps the full one's lateral side, where the wing joins it)
        t_full = tn[0]
        out = _joint_offset(reach, w, d, back, t_full, l_half, tilt) + t_full - t_half
        for side in (1.0, -1.0):
            cx = x0 + side * out
            turn = side * tilt
            pt.ellipse2d(k, cx, yc, t_half, l_half, _T.CORTICAL, only=SOFT_TISSUES, angle=turn)
            pt.ellipse2d(
                k,
                cx,
                yc,
                t_half - ILIAC_BODY_CORTEX_MM,
                l_half - ILIAC_BODY_CORTEX_MM,
                _T.MARROW,
                only=(THIN_CORTEX, _T.CORTICAL),
                angle=turn,
            )


def femur_axes(side: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unit vectors (LPS) of the femoral neck (from its base up, medially and forwards to the
    head) and of the shaft (downwards, slightly medially) of the ``side`` (+1 left) femur."""
    tilt = math.radians(FEMUR_SHAFT_TILT_DEG)
    shaft = np.array([-side * math.sin(tilt), 0.0, -math.cos(tilt)])
    # the neck makes (180 - neck-shaft) deg with the shaft's upward direction, which leans
    # laterally by the tilt: it rises neck-shaft - 90 + tilt deg (about 45) above the
    # horizontal, then turns forwards by the anteversion
    rise = math.radians(FEMUR_NECK_SHAFT_DEG - 90.0 + FEMUR_SHAFT_TILT_DEG)
    av = math.radians(FEMUR_ANTEVERSION_DEG)
    neck = np.array(
        [-side * math.cos(rise) * math.cos(av), -math.cos(rise) * math.sin(av), math.sin(rise)]
    )
    return neck, shaft


def _paint_femur(pt: Painter, fh: NDArray[np.float64], s: float, side: float) -> None:
    """Proximal femur below the head centred at ``fh``: the waisted neck up-medially into the
    head, the greater trochanter and the shaft with its medullary canal. Its marrow is painted
    ``Tissue.FATTY_MARROW``, which marks it as the femur's for :func:`_fatty_marrow`."""
    neck, shaft = femur_axes(side)
    # the neck and shaft axes meet at the base of the neck, FEMUR_OFFSET_MM from the shaft axis
    sin_ns = math.sin(math.radians(180.0 - FEMUR_NECK_SHAFT_DEG))
    base = fh - neck * (FEMUR_OFFSET_MM / sin_ns) * s
    length = float(np.linalg.norm(fh - base))
    # the neck: waisted, flaring with concave outlines into the head and the trochanters
    # (FEMUR_NECK_PROFILE), thin cortex
    t_n = np.array([p[0] for p in FEMUR_NECK_PROFILE])
    pts = fh[None, :] - (t_n * length)[:, None] * neck[None, :]
    pt.flat_tube(
        pts,
        np.array([p[1] for p in FEMUR_NECK_PROFILE]) * s,
        np.array([p[2] for p in FEMUR_NECK_PROFILE]) * s,
        np.zeros(len(pts)),
        THIN_CORTEX,
        _FEMUR_MARROW,
        FEMUR_NECK_CORTEX_MM,
    )
    # greater trochanter: from the neck's base up and out to its tip at the head's height
    lat = np.array([side, 0.0, 0.0])
    tip = base + (20.0 * lat + np.array([0.0, 6.0, 0.0])) * s
    tip[2] = fh[2] - 4.0 * s
    _bone_rod(
        pt,
        np.stack([base + (10.0 * lat + 15.0 * shaft) * s, tip]),
        12.0 * s,
        1.5,
        THIN_CORTEX,
        _FEMUR_MARROW,
    )
    # the shaft: thin cortex in the metaphysis (trochanteric region), the thick diaphyseal
    # cortex from FEMUR_DIAPHYSIS_MM below the neck's base
    _bone_rod(
        pt,
        np.stack([base - 10.0 * s * shaft, base + (FEMUR_DIAPHYSIS_MM + 10.0) * s * shaft]),
        FEMUR_SHAFT_R_MM * s,
        1.5,
        THIN_CORTEX,
        _FEMUR_MARROW,
    )
    shaft_pts = np.stack([base + FEMUR_DIAPHYSIS_MM * s * shaft, base + 240.0 * s * shaft])
    _bone_rod(pt, shaft_pts, FEMUR_SHAFT_R_MM * s, 4.5, inner=_FEMUR_MARROW)


def _acetabular_block_depth(
    x: NDArray[Any], y: NDArray[Any], z: NDArray[Any], s: float
) -> NDArray[Any]:
    """Distance (mm) inside the acetabular block's axial polygon (ACETABULUM_BLOCK_MM; < 0
    outside it or beyond its lowest and highest levels) at points ``x`` (medial), ``y``
    (posterior), ``z`` (up), mm from the head's centre, arrays of shape ``(nk, nj, ni)`` with
    one height per slice; ``s`` is the body scale."""
    zs = np.array(ACETABULUM_BLOCK_Z_MM) * s
    verts = np.array(ACETABULUM_BLOCK_MM) * s  # (levels, vertices, 2)
    zk = z[:, 0, 0]
    v = np.stack(
        [
            np.stack([np.interp(zk, zs, verts[:, i, c]) for c in range(2)], axis=-1)
            for i in range(verts.shape[1])
        ],
        axis=1,
    )  # (nk, vertices, 2)
    centroid = v.mean(axis=1)
    depth = np.where(((zk >= zs[0]) & (zk <= zs[-1]))[:, None, None], np.inf, -1.0)
    for i in range(v.shape[1]):
        a, b = v[:, i], v[:, (i + 1) % v.shape[1]]
        e = b - a
        n = np.stack([e[:, 1], -e[:, 0]], axis=-1) / np.maximum(
            np.linalg.norm(e, axis=-1, keepdims=True), 1e-6
        )
        # outward normal: away from the centroid
        n = n * np.where(((centroid - a) * n).sum(axis=-1) > 0, -1.0, 1.0)[:, None]
        d = (a * n).sum(axis=-1)
        dist = d[:, None, None] - (n[:, 0, None, None] * x + n[:, 1, None, None] * y)
        depth = np.minimum(depth, dist)
    return depth


def _paint_acetabular_block(pt: Painter, fh: NDArray[np.float64], s: float, side: float) -> None:
    """The acetabulum's walls and columns and the iliac body above them as one bone
    (ACETABULUM_BLOCK_MM): a rim of cortex (thin below ACETABULUM_BLOCK_DENSE_FROM_MM, dense,
    ILIAC_BODY_CORTEX_MM thick, above it) round marrow, outside the joint's sphere (the joint
    painter lines it with the articular plate). Inside the wing's plate and the rods it turns
    their cortex into marrow (no seams)."""
    zs = ACETABULUM_BLOCK_Z_MM
    reach = float(np.abs(np.array(ACETABULUM_BLOCK_MM)).max()) * s
    frame = np.diag([-side, 1.0, 1.0])  # local x: medial
    box = local_box(pt.grid, fh, frame, (-reach, -reach, zs[0] * s), (reach, reach, zs[-1] * s))
    if box is None:
        return
    sl, (x, y, z) = box
    depth = _acetabular_block_depth(x, y, z, s)
    r_in = FEMORAL_HEAD_R_MM * s + HIP_JOINT_GAP_MM
    inside = (depth >= 0) & (x * x + y * y + z * z >= r_in * r_in)
    dense = z >= ACETABULUM_BLOCK_DENSE_FROM_MM * s
    tis = pt.tissue[sl]
    bone = np.isin(tis, (_T.MARROW, _FEMUR_MARROW, THIN_CORTEX, _T.CORTICAL))
    rim = inside & (depth < ILIAC_BODY_CORTEX_MM)
    tis[inside & ~bone] = np.where(dense, _T.CORTICAL, THIN_CORTEX)[inside & ~bone]
    tis[rim & dense & (tis == THIN_CORTEX)] = _T.CORTICAL
    tis[inside & ~rim] = _T.MARROW


def _paint_hip_joint(pt: Painter, fh: NDArray[np.float64], s: float, side: float, cup: Any) -> None:
    """Femoral head (radius FEMORAL_HEAD_R_MM) and the socket across a HIP_JOINT_GAP_MM joint
    space (cartilage where ``cup`` holds): dense subchondral bone lining the acetabular bone
    round the joint (the sourcil under the dome), the acetabular fossa (fat) below and medial
    to the head with a thin floor."""
    r_h = FEMORAL_HEAD_R_MM * s
    r_in = r_h + HIP_JOINT_GAP_MM
    fossa_mm = ACETABULUM_FOSSA_MM * s
    r_out = r_in + fossa_mm + max(SOURCIL_MM) + 1.0
    frame = np.diag([-side, 1.0, 1.0])  # local x: medial
    box = local_box(pt.grid, fh, frame, (-r_out, -r_out, -r_out), (r_out, r_out, r_out))
    if box is None:
        return
    sl, (x, y, z) = box
    rho = np.sqrt(x * x + y * y + z * z)
    inv = 1.0 / np.maximum(rho, 1e-3)
    k = cup(-side * x, y, z)  # the cup's test takes LPS offsets
    tis = pt.tissue[sl]
    bone = np.isin(tis, (_T.MARROW, _FEMUR_MARROW, THIN_CORTEX, _T.CORTICAL))
    # the fossa: fat in a cone below and medial to the head, the socket's floor further out
    ax = np.array(ACETABULUM_FOSSA_AXIS)
    ax = ax / np.linalg.norm(ax)
    in_cone = (x * ax[0] + y * ax[1] + z * ax[2]) * inv >= math.cos(
        math.radians(ACETABULUM_FOSSA_DEG)
    )
    floor = r_in + np.where(in_cone, fossa_mm, 0.0)
    tis[in_cone & (rho >= r_in) & (rho < floor) & bone] = _T.FAT
    # subchondral plate on the acetabular bone: thin, thickening under the dome (sourcil);
    # the fossa's floor thin cortex
    c_from = math.cos(math.radians(SOURCIL_FROM_DEG))
    up = np.clip((z * inv - c_from) / (1.0 - c_from), 0.0, 1.0)
    plate = SOURCIL_MM[0] + (SOURCIL_MM[1] - SOURCIL_MM[0]) * up
    lining = (rho >= floor) & (rho < floor + plate) & bone & k
    tis[lining & ~in_cone] = _T.CORTICAL
    tis[lining & in_cone & (rho < floor + 1.0)] = THIN_CORTEX
    tis[(rho >= r_h) & (rho < r_in) & k] = _T.CARTILAGE
    tis[rho < r_h] = FEMORAL_HEAD_CORTEX
    tis[rho < r_h - FEMORAL_HEAD_CORTEX_MM] = _T.MARROW


def hip_centres_mm(geo: SpineGeometry, body_scale: float) -> NDArray[np.float64] | None:
    """Hip joint (femoral head) centres that the renderer paints for a spine.

    Args:
        geo: The spine; the hips are placed relative to its S1 body centre (PELVIS_HIP_MM).
        body_scale: The body-size factor (:attr:`AnatomyParams.body_scale`).

    Returns:
        ``(2, 3)`` LPS mm, the left hip first, or None when the spine has no S1.
    """
    if "S1" not in geo.labels:
        return None
    c = geo.centres_mm[geo.labels.index("S1")]
    hx, hy, hz = PELVIS_HIP_MM
    s = float(body_scale)
    return np.stack([c + np.array([side * hx * s, hy * s, hz]) for side in (1.0, -1.0)])


def paint_pelvis(
    pt: Painter,
    geo: SpineGeometry,
    plan: BodyPlan,
    rng: np.random.Generator | None = None,
) -> None:
    """Hip bones (iliac wings as broad curved plates, acetabulum, ischium, pubis), femoral heads,
    necks and proximal shafts, and the lower sacrum and coccyx below S2 (bone, label 0).

    Positions are relative to the S1 body centre, sizes from the standard adult dimensions
    above, scaled with the body (``plan.scale``). Patches of the hip bones' and femora's marrow
    are fatty (:func:`_fatty_marrow`); their random field comes from ``rng`` (only read
    through a jumped copy of its bit generator: the caller's stream does not move) or, without
    one, from a generator seeded by the spine's geometry (the same spine, the same patches)."""
    if "S1" not in geo.labels:
        return
    n = geo.labels.index("S1")
    c = geo.centres_mm[n]
    w = float(geo.body_width_mm[n])
    s = plan.scale
    hips = hip_centres_mm(geo, s)
    assert hips is not None
    hy, hz = PELVIS_HIP_MM[1], PELVIS_HIP_MM[2]
    # the marrow already there (the arms' bones) is not the pelvis's
    box = _marrow_box(pt, c, s, hips)
    held = pt.tissue[box] == _T.MARROW
    for side, fh in zip((1.0, -1.0), hips, strict=True):
        _paint_ilium(pt, c, w, s, side)
        # acetabular cup around the head, open laterally, forwards and downwards (inclination
        # about 45 deg, anteversion about 20 deg)
        o = np.array([side * 0.66, -0.25, -0.71])
        o /= np.linalg.norm(o)

        def cup(x: Any, y: Any, z: Any, o: NDArray[np.float64] = o) -> Any:
            r = np.sqrt(x * x + y * y + z * z) + 1e-3
            return (x * o[0] + y * o[1] + z * o[2]) / r < 0.2

        # pubis: superior ramus from the cup's front to the symphysis body, the body, and the
        # inferior ramus down and back to the ischial ramus
        px, py, pz = PUBIS_TOP_MM
        sym_top = c + np.array([side * (px + 2.0) * s, (hy + py) * s, hz + pz * s])
        sym_bot = sym_top + np.array([side * 3.0 * s, 6.0 * s, -PUBIS_HEIGHT_MM * s])
        tx, ty, tz = ISCHIAL_TUBEROSITY_MM
        tub = c + np.array([side * tx * s, (hy + ty) * s, hz + tz * s])
        ramus_join = c + np.array(
            [side * (tx - 12.0) * s, (hy + ty - 18.0) * s, hz + (tz + 8.0) * s]
        )
        # (medial, anterior, up from the head's centre -> LPS offsets)
        via = [fh + np.array([-side * m, -a, u]) * s for m, a, u in SUPERIOR_RAMUS_MM]
        _bone_rod(pt, np.stack([*via, sym_top]), SUPERIOR_RAMUS_R_MM * s, 1.6, THIN_CORTEX)
        _bone_rod(pt, np.stack([sym_top, sym_bot]), 7.5 * s, 1.6, THIN_CORTEX)
        _bone_rod(pt, np.stack([sym_bot, ramus_join]), 6.0 * s, 1.5, THIN_CORTEX)
        # ischium: body from behind and below the cup down to the tuberosity, ischial ramus
        # forwards to the pubic ramus
        isch = np.stack([fh + np.array([side * -8.0, 22.0, -14.0]) * s, tub])
        _bone_rod(pt, isch, 11.0 * s, 1.8, THIN_CORTEX)
        _bone_rod(pt, np.stack([tub, ramus_join]), 7.0 * s, 1.5, THIN_CORTEX)
        _paint_acetabular_block(pt, fh, s, side)
        _paint_femur(pt, fh, s, side)
        # last, so that the rods meeting at the acetabulum leave the joint and the head round
        _paint_hip_joint(pt, fh, s, side, cup)
    _paint_symphyseal_disc(pt, c, s)
    _paint_auricular(pt, geo, s)
    _fatty_marrow(pt, c, s, hips, _marrow_rng(rng, geo), box, held if held.any() else None)
    low = lower_sacrum(geo)
    if low is not None:
        pts, hw_a, ht_a = low
        pt.flat_tube(pts, hw_a, ht_a, np.full(len(pts), math.pi / 2), THIN_CORTEX, _T.MARROW, 1.4)


def _paint_symphyseal_disc(pt: Painter, c: NDArray[np.float64], s: float) -> None:
    """The pubic symphysis's fibrocartilaginous disc (``Tissue.DISC``, SYMPHYSIS_GAP_MM wide
    at the midline through the S1 centre ``c``; ``s`` the body scale) between the two pubic
    bodies: the superior rami, which run down into the symphysis, overlap there otherwise."""
    _px, py, pz = PUBIS_TOP_MM
    hy, hz = PELVIS_HIP_MM[1], PELVIS_HIP_MM[2]
    y0 = c[1] + (hy + py) * s
    z0 = c[2] + hz + pz * s
    g = pt.grid
    half = 0.5 * SYMPHYSIS_GAP_MM * s
    i0, i1 = g.index_range(0, c[0] - half, c[0] + half)
    j0, j1 = g.index_range(1, y0 - 25.0 * s, y0 + 30.0 * s)
    k0, k1 = g.index_range(2, z0 - (PUBIS_HEIGHT_MM + 15.0) * s, z0 + 15.0 * s)
    sub = pt.tissue[k0:k1, j0:j1, i0:i1]
    sub[_BONE_LUT[sub]] = _T.DISC


def _marrow_rng(rng: np.random.Generator | None, geo: SpineGeometry) -> np.random.Generator:
    """The fatty-marrow field's generator: a jumped copy of ``rng``'s bit generator (``rng``
    itself is left as it was), else one seeded by the spine's centres."""
    if rng is not None:
        return side_stream(rng, streams.MARROW)
    words = np.frombuffer(
        np.ascontiguousarray(geo.centres_mm, dtype=np.float64).tobytes(), np.uint32
    )
    return np.random.default_rng(np.random.SeedSequence(words.tolist()))


def _marrow_box(
    pt: Painter, c: NDArray[np.float64], s: float, hips: NDArray[np.float64]
) -> tuple[slice, slice, slice]:
    """The part of the fine grid (``(k, j, i)`` slices, perhaps empty) where
    :func:`_fatty_marrow` looks for the pelvis's marrow: FATTY_MARROW_REACH_MM either side of
    the S1 centre ``c``, FATTY_MARROW_Y_MM from it, from 300 mm below the hips ``(2, 3)`` (the
    femoral shafts) to above the iliac crests; ``s`` is the body scale."""
    g = pt.grid
    k0, k1 = g.index_range(2, float(hips[:, 2].min()) - 300.0 * s, c[2] + PELVIS_CREST_MM + 10.0)
    j0, j1 = g.index_range(1, c[1] + FATTY_MARROW_Y_MM[0] * s, c[1] + FATTY_MARROW_Y_MM[1] * s)
    reach = FATTY_MARROW_REACH_MM * s
    i0, i1 = g.index_range(0, c[0] - reach, c[0] + reach)
    return slice(k0, k1), slice(j0, j1), slice(i0, i1)


def _fatty_marrow(
    pt: Painter,
    c: NDArray[np.float64],
    s: float,
    hips: NDArray[np.float64],
    rng: np.random.Generator,
    box: tuple[slice, slice, slice],
    held: NDArray[np.bool_] | None,
) -> None:
    """Turn patches of the hip bones' and femora's marrow into ``Tissue.FATTY_MARROW``.

    Called once both sides are painted (before the lower sacrum): in ``box``
    (:func:`_marrow_box`), the marrow (``Tissue.MARROW``: hip bone and femoral head;
    ``_FEMUR_MARROW``: the femur below the head) that was not there before the pelvis (``held``,
    a mask over ``box``; None: none was) becomes fatty where a smooth random field (a normal
    variate per voxel, a periodic tile anchored at the S1 centre ``c``) lies below the normal
    quantile of the local share (FATTY_MARROW_SHARE; the hip bone's graded from back to front,
    FATTY_MARROW_AP_SHARE, and to 0 towards the joint round the hip centre ``hips`` ``(2, 3)``
    on the voxel's side of ``c``); the rest is
    ``Tissue.MARROW``. ``s`` is the body scale.
    """
    tis = pt.tissue[box]
    femur_box = tis == _FEMUR_MARROW
    cand = femur_box | (tis == _T.MARROW)
    if held is not None:
        cand &= ~held
    # the rows (k, j) that hold any, then the voxels in them: a few percent of the box's rows,
    # quicker than one nonzero over the whole box
    rk, rj = np.nonzero(cand.any(axis=2))
    if not len(rk):
        return
    r, ii = np.nonzero(cand[rk, rj])
    kk, jj = rk[r], rj[r]
    femur = femur_box[kk, jj, ii]
    del femur_box, cand
    kk += box[0].start
    jj += box[1].start
    ii += box[2].start
    n = FATTY_MARROW_TILE
    cell = FATTY_MARROW_CELL_MM
    field = ndi.gaussian_filter(
        rng.standard_normal((n, n, n)), FATTY_MARROW_SIGMA_MM / cell, mode="wrap"
    )
    a = FATTY_MARROW_DITHER
    field *= 1.0 / (float(field.std()) * math.sqrt(1.0 + a * a))
    field = field.astype(np.float32).reshape(-1)
    dither = (rng.standard_normal(16**3) * (a / math.sqrt(1.0 + a * a))).astype(np.float32)
    # flat indices into the tile (cells anchored at c) and the dither, per grid axis
    cx, cy, cz = (
        (np.floor((ax - c[d]) / cell).astype(np.intp) & (n - 1)) * n**d
        for d, ax in enumerate((pt.x, pt.y, pt.z))
    )
    dx, dy, dz = ((np.arange(len(ax)) & 15) * 16**d for d, ax in enumerate((pt.x, pt.y, pt.z)))
    # distance to the hip centre on each column's side (both at one height and depth); float32
    # from here on (half a million voxels and more at 0.8 mm)
    f32 = np.float32
    hx = np.where(pt.x >= c[0], hips[0, 0], hips[1, 0])
    rho = np.sqrt(
        ((pt.x - hx) ** 2).astype(f32)[ii]
        + ((pt.y - hips[0, 1]) ** 2).astype(f32)[jj]
        + ((pt.z - hips[0, 2]) ** 2).astype(f32)[kk]
    )
    r_h = FEMORAL_HEAD_R_MM * s
    r_in = r_h + HIP_JOINT_GAP_MM
    share_hip, share_femur = FATTY_MARROW_SHARE
    # the hip bone's share by row: graded from the back (red) to the front (fatty)
    ap = FATTY_MARROW_AP_MM * s
    share_row = np.interp(
        hips[0, 1] - pt.y,
        (-ap, 0.0, ap),
        (FATTY_MARROW_AP_SHARE[0], share_hip, FATTY_MARROW_AP_SHARE[1]),
    ).astype(f32)
    # and by height: fattier beside the sacrum whatever the depth
    z_lo, z_hi, share_high = FATTY_MARROW_HIGH
    share_z = (
        share_high * np.clip((pt.z - hips[0, 2] - z_lo * s) * (1.0 / ((z_hi - z_lo) * s)), 0.0, 1.0)
    ).astype(f32)
    s0, s1 = FATTY_MARROW_SOCKET_MM
    share = np.where(
        femur,
        share_femur * np.clip((rho - r_h) * (1.0 / FATTY_MARROW_NECK_MM), 0.0, 1.0),
        np.maximum(share_row[jj], share_z[kk])
        * np.clip((rho - (r_in + s0)) * (1.0 / (s1 - s0)), 0.0, 1.0),
    )
    value = field.take(cz[kk] + cy[jj] + cx[ii]) + dither.take(dz[kk] + dy[jj] + dx[ii])
    with np.errstate(divide="ignore"):
        fatty = value < sps.ndtri(share)
    pt.tissue[kk, jj, ii] = np.where(fatty, _T.FATTY_MARROW, _T.MARROW).astype(np.uint8)


#: Sacral segments below S2 (S3, S4, S5, coccyx): each this much shorter than the one above,
#: turning forwards by SACRAL_TURN_DEG at each (sacral kyphosis: the segments' axes turn about
#: 60-70 deg from S1 to the coccyx, the real example's sacrum curving from 40 deg off the
#: vertical at S1-S3 to nearly horizontal at the coccyx)
SACRAL_SEGMENT_SHRINK = 0.85
SACRAL_TURN_DEG = 14.0
#: the coccyx (3-4 fused segments, about 30 mm) as this many segment lengths below S5; with
#: S3-S5 this puts the coccyx's tip 90-95 mm below S2's centre along the curve (sacrum 100-110
#: mm from the promontory to its apex, Gray's Anatomy 41st ed.)
COCCYX_SEGMENTS = 2.2
#: Anterior sacral foramina S1-S4 (Gray's Anatomy 41st ed.; sacral morphometry, rounded): at the
#: junctions S1/S2 .. S4/S5, their centres (mm from the midline) and radii (mm): about 10, 9, 7
#: and 6 mm across, the pairs 28-30 mm apart between their medial borders at S1, 20-22 mm at S4;
#: the real example's coronal sections along the sacrum show them as dark holes 20-25 mm from
#: the midline, 15-20 mm apart along the sacrum. They run from the pelvic to the dorsal surface
#: (the anterior and posterior foramina joined through the lateral mass) and hold the sacral
#: nerve roots in fat.
SACRAL_FORAMINA_MM = ((21.0, 5.0), (18.5, 4.5), (16.0, 3.5), (14.0, 3.0))
#: Residual S1-S2 disc in the fused sacrum: a faint line of denser trabecular bone (mm thick).
SACRAL_RESIDUAL_DISC_MM = 1.2
#: The sacral canal below S2 (:func:`_lower_sacral_canal`): half-width and half-depth (mm) at
#: S2's centre (inside S2's own canal, which it continues), S3, S4 and S5. The canal is a
#: flattened triangle, about 30 mm wide at S1 and narrowing to the hiatus; on the real example
#: CT's mid-sagittal slice (3 mm) it is a dark band 5-8 mm deep between the bodies and the
#: fused laminae, closing towards S4 (the lower sacrum used to be the bodies' plate alone: a
#: uniform curved horn without a canal, dorsal wall or segments).
SACRAL_CANAL_MM = ((8.0, 4.0), (8.0, 3.5), (6.0, 2.0), (5.0, 2.0))
#: Fused laminae behind the canal (mm): the sacrum's dorsal wall down to the hiatus; with the
#: lateral masses and crests either side of it, as wide as this share of the bodies' plate
#: from S3 down (axial sections of the real example CT: one flat bone, its dorsal surface
#: nearly as wide as the pelvic one; a roof only round the canal read as a ring behind a plate).
SACRAL_ROOF_MM = 3.0
SACRAL_DORSAL_WIDTH = 0.75
#: The median sacral crest (the fused spinous processes, S1-S4): one ridge down the midline of
#: the dorsal surface, from S1's laminae over S2's and the dorsal wall to the hiatus, half as
#: wide and half as thick as these (mm; centred on the dorsal surface, so it stands half its
#: thickness proud). On the real example CT's mid-sagittal slice (3 mm) the sacrum's back is
#: one continuous bright band 10-12 mm thick from S1 down, parallel to the canal; here S1's
#: and S2's arches and the wall below stood as separate pieces with steps of 6-8 mm between
#: them, and S1's and S2's spinous processes were lumbar-like flags (16 and 12 mm long; now
#: 8 and 6 mm tubercles on the crest, vertebra_shape.LEVEL_DIMS).
SACRAL_CREST_MM = (5.0, 3.0)
#: Residual discs of the fused sacrum below S2 (S2/S3, S3/S4, S4/S5): lines of compact bone
#: (``THIN_CORTEX``) SACRAL_RESIDUAL_DISC_MM thick across the bodies (the real example CT shows
#: them as bright lines between the segments at 3 mm), under transverse ridges that stand
#: RIDGE_MM proud of the pelvic surface, 4 mm high. The sacrococcygeal joint and one
#: intercoccygeal joint (COCCYX_JOINT_AT of the way down the coccyx) are fibrocartilage
#: (``Tissue.DISC``) this thick across the whole bone.
RIDGE_MM = 1.5
COCCYX_JOINT_MM = 2.0
COCCYX_JOINT_AT = 0.4
#: Soft tissue that the canal's dorsal wall may replace (not bone, not S2's cerebrospinal
#: fluid).
_ROOF_OVER = SOFT_TISSUES


def lower_sacrum(
    geo: SpineGeometry,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
    """Path of the sacrum below S2 (S3-S5 and the coccyx) as one fused, tapering,
    forward-curving plate from inside S2 down: points (S2's centre, then S3, S4, S5, the
    coccyx and its tip), half-widths and half-thicknesses (mm). As wide as S2's alae at the top
    (about 90 mm), 75 mm at S3, 50 mm at S4, 30 mm at S5, 10 mm at the coccyx's tip; the
    bodies' thickness, 16-17 mm at S3, 8 mm at the tip (the canal and the dorsal wall behind
    them: :func:`_lower_sacral_canal`)."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return None
    c = geo.centres_mm[geo.labels.index("S1")]
    m = geo.labels.index("S2")
    cur = geo.centres_mm[m].copy()
    step = cur - c
    step /= max(float(np.linalg.norm(step)), 1e-6)
    h = float(geo.body_height_mm[m])
    wd = float(geo.body_width_mm[m])
    dp = float(geo.body_depth_mm[m])
    ang = math.radians(SACRAL_TURN_DEG)
    rot = np.array(
        [[1, 0, 0], [0, math.cos(ang), math.sin(ang)], [0, -math.sin(ang), math.cos(ang)]]
    )
    ala_half = wd / 2 + vshape.SACRAL_ALA_EXTRA_MM["S2"]
    pts = [cur.copy()]
    # as wide as S2's lateral masses at its centre (the ear-shaped outline narrows downwards)
    half_w = [float(vshape.sacral_ala_reach("S2", h, wd, 0.0))]
    half_t = [0.5 * dp * 0.8]
    k = SACRAL_SEGMENT_SHRINK
    for seg in range(5):
        f = k ** (seg + 1)
        step = rot @ step
        length = h * (0.9 * f + 0.9 * f / k) / 2 + 1.0
        cur = cur + step * length * (COCCYX_SEGMENTS if seg == 4 else 1.0)
        pts.append(cur.copy())
        half_w.append(max(wd * f / 2, ala_half * (0.75, 0.55, 0.36, 0.22, 0.12)[seg]))
        half_t.append(max(0.4 * dp * f, 4.0))
    hw_a, ht_a = np.array(half_w), np.array(half_t)
    hw_a[-1] = 5.0  # coccyx tip
    return np.array(pts), hw_a, ht_a


#: Look-up table of the bone classes (:data:`spinelab.synth.tissues.BONE`).
_BONE_LUT = allowed_lut(BONE)


def fuse_sacrum(pt: Painter, geo: SpineGeometry) -> None:
    """Fuse S1, S2 and the lower sacrum into one bone and open the sacral foramina (called once
    S2 is painted).

    In adults the sacral segments are fused: CT shows no endplates inside the sacrum, only a
    faint residual S1-S2 disc line. Every body shell voxel of S1/S2 with bone 2.5 mm away on all
    six sides (in S2's frame) lies inside the fused bone and becomes cancellous bone; those within
    SACRAL_RESIDUAL_DISC_MM / 2 of the S1-S2 junction plane become the slightly denser residual
    disc line. Then the lower sacrum gets its canal, dorsal wall, residual discs and the
    coccyx's joints (:func:`_lower_sacral_canal`), and the four pairs of anterior sacral
    foramina (SACRAL_FORAMINA_MM) are cut through the sacrum at the segment junctions as round
    channels of fat (vertebra label 0)."""
    if "S1" not in geo.labels or "S2" not in geo.labels:
        return
    n1, n2 = geo.labels.index("S1"), geo.labels.index("S2")
    v1, v2 = anatomy.by_name("S1").verse_id, anatomy.by_name("S2").verse_id
    c1, c2 = geo.centres_mm[n1], geo.centres_mm[n2]
    fr = geo.frames[n2]
    h1, h2 = float(geo.body_height_mm[n1]), float(geo.body_height_mm[n2])
    w2, d2 = float(geo.body_width_mm[n2]), float(geo.body_depth_mm[n2])
    ala = w2 / 2 + vshape.SACRAL_ALA_EXTRA_MM["S2"] + 2.0
    g = pt.grid
    box = local_box(g, c2, fr, (-ala, -d2 / 2 - 3.0, -h2 / 2 - 6.0), (ala, d2 / 2, h2 / 2 + h1))
    if box is not None:
        sl, (a, b, e) = box
        vert = pt.vert[sl]
        tis = pt.tissue[sl]
        # the wedge between S1's lower and S2's upper endplate (their frames differ by a few
        # degrees, so with no disc the two bodies touch on one side and gape by 2-4 mm on the
        # other; the endplates' cups leave lenses of soft tissue too): filled with trabecular
        # bone, S1 above the junction's mid-plane, S2 below it
        f1 = geo.frames[n1]
        u1 = f1[:, 2]
        e1 = float((c2 - c1) @ u1) + a * float(fr[:, 0] @ u1) + b * float(fr[:, 1] @ u1)
        e1 = e1 + e * float(fr[:, 2] @ u1)
        wm = (float(geo.body_width_mm[n1]) + w2) / 4
        dm = (float(geo.body_depth_mm[n1]) + d2) / 4
        gap = (e1 < -h1 / 2 + vshape.ENDPLATE_CUP_MM[1] + 0.5) & (
            e > h2 / 2 - vshape.ENDPLATE_CUP_MM[0] - 0.5
        )
        gap &= ellipse_form(a, b, wm, dm) <= 1.0
        gap &= ~_BONE_LUT[tis]
        if gap.any():
            # above the mid-plane: S1 (its e1 nearer its lower endplate than S2's e to its top)
            upper = (e1 + h1 / 2) > (h2 / 2 - e)
            vert[gap] = np.where(upper[gap], v1, v2).astype(vert.dtype)
            tis[gap] = _T.CANCELLOUS
        kk, jj, ii = np.nonzero(((vert == v1) | (vert == v2)) & (tis == _T.SHELL))
        if len(kk):
            kk = kk + sl[0].start
            jj = jj + sl[1].start
            ii = ii + sl[2].start
            org, sp = np.asarray(g.origin_mm), np.asarray(g.spacing_mm)
            p = org + np.stack([ii, jj, kk], axis=1) * sp
            shape = np.array([g.shape_kji[2], g.shape_kji[1], g.shape_kji[0]])
            inside = np.ones(len(p), dtype=bool)
            for ax in range(3):
                for sign in (1.0, -1.0):
                    q = np.rint((p + sign * 2.5 * fr[:, ax] - org) / sp).astype(np.int64)
                    ok = np.all((q >= 0) & (q < shape), axis=1)
                    q = np.clip(q, 0, shape - 1)
                    inside &= ok & _BONE_LUT[pt.tissue[q[:, 2], q[:, 1], q[:, 0]]]
            # the residual disc: the plane half-way between S1's lower and S2's upper endplate
            u = fr[:, 2] + geo.frames[n1][:, 2]
            u /= max(float(np.linalg.norm(u)), 1e-6)
            mid = (c1 - geo.frames[n1][:, 2] * h1 / 2 + c2 + fr[:, 2] * h2 / 2) / 2
            near = np.abs(dot3(p - mid, u)) <= SACRAL_RESIDUAL_DISC_MM / 2
            sel = (kk[inside], jj[inside], ii[inside])
            pt.tissue[sel] = np.where(near[inside], _T.DENSE, _T.CANCELLOUS).astype(np.uint8)
    _lower_sacral_canal(pt, geo)
    _cut_sacral_foramina(pt, geo)


def sacral_plate_normals(
    pts: NDArray[np.float64], post: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Unit normals of the lower sacrum's plate at its points, across its thickness as
    :meth:`~spinelab.synth.painter.Painter.flat_tube` lays it (twist pi/2), turned to point
    the way of ``post`` (the dorsal side)."""
    n = tube_frame(pts, np.full(len(pts), math.pi / 2))[2]
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return n * np.where(n @ post < 0.0, -1.0, 1.0)[:, None]


def sacral_junctions(
    pts: NDArray[np.float64], h2: float
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]], list[float]]:
    """The junctions S2/S3, S3/S4, S4/S5 and S5/coccyx on the plate of :func:`lower_sacrum`
    (points ``pts``; S2's body height ``h2``): segment k's half-height, 0.45 h2 SHRINK**k,
    beyond its centre. Returns the points, the unit directions down the sacrum there and each
    junction's share of the way from its segment's point to the next."""
    joints, downs, at = [], [], []
    for k in range(4):
        d = pts[k + 1] - pts[k]
        length = max(float(np.linalg.norm(d)), 1e-6)
        dist = 0.45 * h2 * SACRAL_SEGMENT_SHRINK**k + 0.5
        joints.append(pts[k] + d / length * dist)
        downs.append(d / length)
        at.append(min(dist / length, 1.0))
    return joints, downs, at


def _lower_sacral_canal(pt: Painter, geo: SpineGeometry) -> None:
    """The lower sacrum's dorsal half and inside (after S2 is painted): the sacral canal with
    its dorsal wall, the hiatus, the residual discs and the coccyx's joints.

    The plate of :func:`lower_sacrum` is the fused bodies (16-17 mm deep at S3, 14 mm at S4,
    12 mm at S5, as the real bodies). The canal (SACRAL_CANAL_MM, fat: the dural sac ends at
    S2) runs on from S2's canal down behind it, 1 mm of bone behind the bodies' back, under a
    wall of fused laminae SACRAL_ROOF_MM thick (bone painted over the soft tissue round the
    canal), down to the S4/S5 junction; below, the wall is open (the sacral hiatus: fat
    behind S5's body). The sacrum is then 27 mm deep at S3 and 22 mm at S4 (adult sacra:
    about 25 and 18-20). At the S2/S3, S3/S4 and S4/S5 junctions: transverse ridges (RIDGE_MM)
    and residual discs (SACRAL_RESIDUAL_DISC_MM of compact bone across the bodies); the
    sacrococcygeal and one intercoccygeal joint: COCCYX_JOINT_MM of ``Tissue.DISC`` across the
    bone."""
    low = lower_sacrum(geo)
    if low is None:
        return
    pts, hw_a, ht_a = low
    n2 = geo.labels.index("S2")
    d2, h2 = float(geo.body_depth_mm[n2]), float(geo.body_height_mm[n2])
    normal = sacral_plate_normals(pts, geo.frames[n2][:, 1])
    bone = tuple(int(t) for t in BONE)
    flat = np.full(4, math.pi / 2)
    cw = np.array([c[0] for c in SACRAL_CANAL_MM])
    ct = np.array([c[1] for c in SACRAL_CANAL_MM])
    # the canal's centre (mm behind the plate's axis): in S2's canal at S2's centre, then
    # 1 mm behind the bodies at S3, S4 and S5
    off = np.empty(4)
    off[0] = vshape.posterior_wall(d2) + vshape.level_dims("S2")["can_d"] / 2
    off[1:] = ht_a[1:4] + 1.0 + ct[1:]
    canal = pts[:4] + normal[:4] * off[:, None]
    joints, tangents, at = sacral_junctions(pts, h2)

    def lerp(v: NDArray[np.float64], k: int) -> Any:
        return v[k] + at[k] * (v[k + 1] - v[k])

    # the transverse ridges on the pelvic surface at the junctions S2/S3 .. S4/S5
    for k in range(3):
        ends = np.stack([joints[k] - tangents[k] * 2.0, joints[k] + tangents[k] * 2.0])
        size = np.full(2, 0.8 * float(lerp(hw_a, k))), np.full(2, float(lerp(ht_a, k)) + RIDGE_MM)
        pt.flat_tube(ends, *size, flat[:2], THIN_CORTEX, _T.MARROW, 1.2, only=_ROOF_OVER)
    # the dorsal wall from the S2/S3 junction (above it S2's own arch) down to the hiatus (the
    # S4/S5 junction); its marrow may replace the bodies' dorsal cortex, so the two make one
    # bone
    roof = np.vstack([lerp(canal, 0), canal[1:3], lerp(canal, 2)])
    roof_w = np.array([lerp(cw, 0), cw[1], cw[2], lerp(cw, 2)]) + SACRAL_ROOF_MM
    widest = SACRAL_DORSAL_WIDTH * np.array([lerp(hw_a, 0), hw_a[1], hw_a[2], lerp(hw_a, 2)])
    roof_w = np.maximum(roof_w, widest)
    roof_t = np.array([lerp(ct, 0), ct[1], ct[2], lerp(ct, 2)]) + SACRAL_ROOF_MM
    # at the S2/S3 junction the wall starts as deep as S2's arch behind its canal (the
    # laminae's outer face, vertebra_shape.vertebra_parts), so the two make one wall
    dims2 = vshape.level_dims("S2")
    s2_back = dims2["can_d"] / 2 + 1.3 * dims2["lam_t"]
    roof_t[0] = max(roof_t[0], s2_back + at[0] * (roof_t[1] - s2_back))
    over = (*_ROOF_OVER, THIN_CORTEX)
    pt.flat_tube(roof, roof_w, roof_t, flat, THIN_CORTEX, _T.MARROW, 1.2, only=over)
    # S1's and S2's arches fused: bone in the soft tissue round their canals (not in it), as
    # far back as their laminae, from S1's canal down to the S2/S3 junction, which closes the
    # gap between the laminae
    n1 = geo.labels.index("S1")
    d1 = float(geo.body_depth_mm[n1])
    dims1 = vshape.level_dims("S1")
    c1 = geo.centres_mm[n1] + geo.frames[n1][:, 1] * (
        vshape.posterior_wall(d1) + dims1["can_d"] / 2
    )
    arch = np.vstack([c1, canal[0], roof[0]])
    arch_w = np.array([dims1["can_w"] / 2, cw[0], roof_w[0] - SACRAL_ROOF_MM]) + SACRAL_ROOF_MM
    lam = [vshape.level_dims(v)["lam_t"] for v in ("S1", "S2")]  # as thick as the laminae
    arch_t = np.array([dims1["can_d"] / 2 + lam[0], ct[0] + lam[1], roof_t[0]])
    pt.flat_tube(arch, arch_w, arch_t, flat[:3], THIN_CORTEX, _T.MARROW, 1.2, only=_ROOF_OVER)
    # the median crest along the dorsal surface: behind S1's and S2's laminae, then the wall
    # down to the S3/S4 junction, tapering to the hiatus at S4/S5
    # (S2's laminae reach 2 mm below its body, behind the wall's start: the crest runs from
    # their lower outer edge to the wall at S3)
    fr2 = geo.frames[n2]
    s2_corner = (
        geo.centres_mm[n2]
        + fr2[:, 1] * (vshape.posterior_wall(d2) + dims2["can_d"] + 1.3 * dims2["lam_t"])
        - fr2[:, 2] * (h2 / 2 + 2.0)
    )
    crest = np.vstack(
        [
            c1 + geo.frames[n1][:, 1] * (dims1["can_d"] / 2 + 1.3 * lam[0]),
            canal[0] + normal[0] * s2_back,
            s2_corner,
            roof[1:4] + normal[1:4] * roof_t[1:4, None],
        ]
    )
    taper = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.4])
    # (thicker over S1's and S2's laminae, reaching down to them across a millimetre or two
    # of misfit between their frames and the plate's normals)
    deep = np.array([1.7, 1.7, 1.3, 1.0, 1.0, 1.0])
    pt.flat_tube(
        crest,
        SACRAL_CREST_MM[0] * taper,
        SACRAL_CREST_MM[1] * taper * deep,
        np.full(len(crest), math.pi / 2),
        THIN_CORTEX,
        _T.MARROW,
        1.2,
        only=_ROOF_OVER,
    )
    # the canal, in the wall and on behind S5 (fat there: the hiatus)
    pt.flat_tube(canal, cw, ct, flat, _T.FAT, only=bone + _ROOF_OVER[1:])
    # residual discs across the bodies, then the sacrococcygeal joint and an intercoccygeal
    # one across the whole bone
    down = pts[-1] - joints[3]
    cuts = [(joints[k], tangents[k], normal[k], SACRAL_RESIDUAL_DISC_MM) for k in range(3)]
    cuts.append((joints[3], tangents[3], normal[3], COCCYX_JOINT_MM))
    t = down / max(float(np.linalg.norm(down)), 1e-6)
    cuts.append((joints[3] + COCCYX_JOINT_AT * down, t, normal[4], COCCYX_JOINT_MM))
    for k, (j, t, nrm, thick) in enumerate(cuts):
        nrm = nrm - (nrm @ t) * t
        nrm /= max(float(np.linalg.norm(nrm)), 1e-6)
        frame = np.stack([np.cross(nrm, t), nrm, t], axis=1)
        r = float(lerp(hw_a, min(k, 3))) + 2.0, float(lerp(ht_a, min(k, 3))) + RIDGE_MM + 1.0
        box = local_box(pt.grid, j, frame, (-r[0], -r[1], -thick), (r[0], r[1], thick))
        if box is None:
            continue
        sl, (a, b, e) = box
        tis = pt.tissue[sl]
        near = (np.abs(e) <= thick / 2) & (ellipse_form(a, b, *r) <= 1.0)
        if k < 3:  # a residual disc: compact bone across the marrow (and S2's body)
            tis[near & ((tis == _T.MARROW) | (tis == _T.CANCELLOUS))] = THIN_CORTEX
        else:  # a joint: fibrocartilage across the bone
            tis[near & _BONE_LUT[tis]] = _T.DISC


def _cut_sacral_foramina(pt: Painter, geo: SpineGeometry) -> None:
    """The anterior sacral foramina S1-S4 as round channels through the sacrum (see
    SACRAL_FORAMINA_MM), along each segment's antero-posterior axis, bone turned into fat."""
    low = lower_sacrum(geo)
    if low is None:
        return
    pts = low[0]
    n1, n2 = geo.labels.index("S1"), geo.labels.index("S2")
    c1, c2 = geo.centres_mm[n1], geo.centres_mm[n2]
    h1, h2 = float(geo.body_height_mm[n1]), float(geo.body_height_mm[n2])
    lat = geo.frames[n2][:, 0]
    # junction points and the segment axes (cranial) there: S1/S2, then between the lower
    # sacrum's segment centres (segment k's half-height 0.45 h2 * SHRINK**k beyond its centre)
    centres = [(c1 - geo.frames[n1][:, 2] * h1 / 2 + c2 + geo.frames[n2][:, 2] * h2 / 2) / 2]
    axes = [geo.frames[n2][:, 2] + geo.frames[n1][:, 2]]
    joints, downs, _ = sacral_junctions(pts, h2)
    centres += joints[:3]
    axes += [-dn for dn in downs[:3]]
    for (off, r), cen, ax in zip(SACRAL_FORAMINA_MM, centres, axes, strict=True):
        e = ax - dot3(ax[None, :], lat)[0] * lat
        e /= max(float(np.linalg.norm(e)), 1e-6)
        b = np.cross(e, lat)  # posterior (lat = left, e = cranial)
        fr = np.stack([lat, b, e], axis=1)
        for side in (1.0, -1.0):
            box = local_box(pt.grid, cen + side * off * lat, fr, (-r, -30.0, -r), (r, 30.0, r))
            if box is None:
                continue
            sl, (a, _bb, ee) = box
            hole = (a * a + ee * ee <= r * r) & _BONE_LUT[pt.tissue[sl]]
            pt.tissue[sl][hole] = _T.FAT
            pt.vert[sl][hole] = 0
