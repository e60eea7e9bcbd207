"""Documented anatomical priors for the spine shape model, where the VID data are thin or silent.

The VID ground truth (Bürgin et al., MICCAI 2023) covers T9-L5 well, C1-T8 thinly (60-535 scans per
level) and the sacrum not at all. It has pedicles and body centres, but no body sizes. The values
below fill those gaps. They are rounded, adult, sex-pooled figures: good enough to make a synthetic
spine look right, not reference anatomy.

Sources:
    * Vertebral-body dimensions (endplate width and depth, posterior body height):
      Panjabi MM et al., "Cervical human vertebrae: quantitative three-dimensional anatomy of the
      middle and lower regions", Spine 16(8):861-869, 1991; "Thoracic human vertebrae: quantitative
      three-dimensional anatomy", Spine 16(8):888-901, 1991; "Human lumbar vertebrae: quantitative
      three-dimensional anatomy", Spine 17(3):299-306, 1992. C1 has no body: its "body" here is
      the anterior arch/lateral-mass block around the VID C1 keypoint. S1/S2: the first and second
      sacral segments (S1 upper endplate about 50 x 33 mm).
    * Disc heights: about 5 mm cervical, 4-6 mm thoracic growing caudally (the same Panjabi
      series and standard anatomy texts); none between C1 and C2 (atlanto-axial joint) or S1 and
      S2 (fused in adults).
    * Lumbar bodies and discs: the body height and the disc below are both measured at the
      endplates' flat rim (the body's box, :mod:`spinelab.synth.vertebra_shape`), where adult
      lumbar bodies are about 26-29 mm high (anterior and posterior heights in the morphometry
      literature, e.g. Panjabi et al. 1992 above; the figures here are rounded from memory of
      such tables, not copied from one); the endplates' central cups
      (:data:`~spinelab.synth.vertebra_shape.ENDPLATE_CUP_MM`, 3.3 mm together) take the
      centre to about 0.88 of that. The disc between two rims is what is left of the
      centre-to-centre distance: 6-9.5 mm here, so about 10-13 mm at the disc's centre, growing
      caudally. On the real example CT (3 mm, mid-sagittal) L1-L4 are 25-28 mm at the centre
      and the discs T12-L1 to L4-L5 9-12.5 mm; before this split the synthetic bodies were
      19-25 mm and the discs 9-16 mm there. T12-L5 keep the old priors' centre-to-centre sums
      ``(h_i + h_i+1) / 2 + disc_i`` (only the split between body and disc moved, by 1.5-2 mm);
      VID sets the distances themselves.
    * Sagittal alignment below L5 (no VID data): L5-S1 is the most lordotic segment (about 15-25
      degrees of segmental lordosis) and the sacral slope is about 40 degrees in adults
      (Roussouly P et al., Spine 30(3):346-353, 2005; Bernhardt M, Bridwell KH, Spine
      14(7):717-721, 1989). We use a centre-line turning of 20 +- 6 degrees (lordotic) at L5 and
      15 +- 6 degrees at S1: 500 samples of the fitted model then have a median sacral slope of
      35 degrees (5th-95th percentile 18-56) and an L5-S1 turning of the vertebra frames of 18
      (11-25). With 15 and 10 (until 2026-12-04) the medians were 28 and 13, below both ranges;
      on the real example CT (3 mm, S1's upper endplate in the mid-sagittal plane, supine) the
      sacral slope is about 30 degrees, and the lower sacrum runs down and back from it, where
      synthetic sacra stood almost upright. Against it: lying down the L4-S1 lordosis is
      29.8 +- 8.0 degrees (34.2 +- 8.3 standing; radiographs of 627 volunteers, Asian Spine J
      2019, PMC6680033), and the frames' turning from L4 to S1 is now 35 (28 before).
    * Sagittal curvature for blending at thin levels: cervical lordosis C2-C7 about 15-20 degrees,
      thoracic kyphosis T1-T12 about 40 degrees (range 20-60), spread evenly over the joints.
    * Transitional vertebrae: L6 from the VID data (46 scans with L6 among the 1,733 scans that
      show L5; see :mod:`spinelab.synth.shape_model`). T13 (a thirteenth rib-bearing vertebra):
      VID has no T13 label. Yun et al., Korean J Radiol 19(6):1140-1149, 2018 (1,446 consecutive
      spine CTs) classified the 20th vertebra as thoracic in 5 patients (0.35 %) and as a
      thoracolumbar transitional vertebra in 60 (4.1 %); datasets that label T13 (VerSe) use it
      for both kinds in part. We use 1 %, between the two, and keep it a model parameter.
    * Scoliosis sampling and vertebral rotation: apical axial rotation grows with the Cobb angle,
      roughly a third of it in idiopathic curves (Stokes IAF, Bigalow LC, Moreland MS, "Three-
      dimensional spinal curvature in idiopathic scoliosis", J Orthop Res 5(1):102-113, 1987,
      report apical rotations of 10-30 degrees for 30-70 degree curves); the body rotates towards
      the convex side. The mix of curve sizes in :data:`SCOLIOSIS_MIX` is a training-data choice
      (more curves than in a general population, where 2-3 % of adolescents and up to a third of
      the elderly have a Cobb angle above 10 degrees), not a prevalence.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy

#: Per-level priors for the 26 standard vertebrae (C1..S2):
#: (body height, body width, body depth, disc height below), mm.
_BODY_PRIORS_MM: dict[str, tuple[float, float, float, float]] = {
    "C1": (10.0, 20.0, 10.0, 0.0),
    "C2": (20.0, 17.0, 16.0, 5.0),
    "C3": (14.0, 16.0, 16.0, 5.0),
    "C4": (14.0, 17.0, 16.0, 5.0),
    "C5": (14.0, 18.0, 16.0, 5.0),
    "C6": (14.0, 20.0, 17.0, 5.0),
    "C7": (15.0, 23.0, 17.0, 4.0),
    "T1": (15.0, 26.0, 16.0, 3.5),
    "T2": (16.0, 27.0, 17.0, 3.5),
    "T3": (16.5, 27.5, 18.0, 3.5),
    "T4": (17.0, 28.0, 19.0, 4.0),
    "T5": (17.5, 29.0, 20.0, 4.0),
    "T6": (18.0, 30.0, 22.0, 4.5),
    "T7": (18.5, 31.0, 24.0, 4.5),
    "T8": (19.0, 32.0, 25.0, 5.0),
    "T9": (20.0, 34.0, 26.0, 5.0),
    "T10": (21.0, 36.0, 27.0, 5.5),
    "T11": (22.0, 38.0, 28.0, 6.0),
    "T12": (23.0, 40.0, 30.0, 6.25),
    "L1": (26.5, 42.0, 32.0, 7.75),
    "L2": (27.0, 44.0, 33.0, 8.75),
    "L3": (27.5, 46.0, 34.0, 9.5),
    "L4": (27.5, 48.0, 35.0, 9.25),
    "L5": (27.0, 50.0, 35.0, 9.0),
    "S1": (28.0, 50.0, 33.0, 0.0),
    "S2": (22.0, 35.0, 25.0, 0.0),
}
#: Transitional vertebrae: T13 between T12 and L1, L6 a lumbar vertebra like L5.
_BODY_PRIORS_MM["T13"] = (24.0, 41.0, 31.0, 8.0)
_BODY_PRIORS_MM["L6"] = (25.0, 50.0, 35.0, 10.0)

#: Prior gaps between neighbouring centres where VID has none: (mean, std) mm.
GAP_PRIORS_MM: dict[tuple[str, str], tuple[float, float]] = {
    ("L5", "S1"): (36.0, 3.5),
    ("S1", "S2"): (25.0, 3.0),
}

#: Prior sagittal centre-line turning at a vertebra, degrees (+ lordotic, - kyphotic): mean, std.
#: Used alone where VID has no data (L5, S1) and blended with the data elsewhere.
SAGITTAL_BEND_PRIORS_DEG: dict[str, tuple[float, float]] = {
    **{f"C{i}": (3.5, 6.0) for i in range(2, 8)},
    **{f"T{i}": (-3.6, 3.0) for i in range(1, 13)},
    **{f"L{i}": (8.0, 4.0) for i in range(1, 5)},
    "L5": (20.0, 6.0),
    "S1": (15.0, 6.0),
}
#: Prior coronal turning (degrees): straight on average.
CORONAL_BEND_PRIOR_DEG: tuple[float, float] = (0.0, 2.0)
#: Prior axial rotation of a vertebra relative to the patient (degrees).
AXIAL_ROTATION_PRIOR_DEG: tuple[float, float] = (0.0, 3.0)

#: Frequency of a thirteenth thoracic vertebra (see module docstring).
T13_FREQUENCY = 0.01
#: Ratio of apical axial rotation to Cobb angle in scoliosis (Stokes et al. 1987, rounded).
APICAL_ROTATION_PER_COBB = 0.3
#: Scoliosis mix for ``scoliosis_deg=None``: (probability, low Cobb, high Cobb) in degrees;
#: the first row is "no added curve" (natural coronal variation only).
SCOLIOSIS_MIX: tuple[tuple[float, float, float], ...] = (
    (0.70, 0.0, 0.0),
    (0.17, 10.0, 25.0),
    (0.10, 25.0, 45.0),
    (0.03, 45.0, 80.0),
)
#: Scoliosis curve patterns: (name, upper end, apex, lower end) vertebrae; main curves.
SCOLIOSIS_CURVES: tuple[tuple[str, str, str, str], ...] = (
    ("thoracic", "T5", "T8", "T12"),
    ("thoracolumbar", "T10", "T12", "L3"),
    ("lumbar", "T12", "L2", "L4"),
)
#: Per-patient spread of body width/depth beyond the shared scale (log-normal sigma).
BODY_SIZE_SIGMA = 0.05
#: Independent per-vertebra spread of body width/depth (log-normal sigma).
BODY_LEVEL_SIGMA = 0.03


def body_priors_mm(labels: list[str] | tuple[str, ...]) -> NDArray[np.float64]:
    """Prior body sizes for labels.

    Args:
        labels: Canonical vertebra names.

    Returns:
        ``(N, 4)`` mm: body height, width, depth, disc height below.
    """
    return np.array([_BODY_PRIORS_MM[anatomy.normalize_name(x)] for x in labels], dtype=float)
