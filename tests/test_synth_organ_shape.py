"""Organ shapes of the synthetic CT (``spinelab.synth.organs``): the heart wrapped in epicardial
fat under the pericardium, and the lung bases at T11 kept behind the vertebral body's front.

Measured on the tissue map of the hand-built test spine at 2 mm (as in test_synth_organs.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi

from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of


def test_heart_is_wrapped_in_epicardial_fat(trunk_spine, trunk_case):
    """On the heart's slices the myocardium's outer surface meets epicardial fat (and the
    pericardium outside it), not the lung: under 15 % of the outer boundary touches lung, and
    fat lies between the muscle and the pericardium over more than 60 % of it.
    Old design: the myocardium was painted straight over the lung (51 % lung contact, 29 %
    mediastinal fat; now under 1 % and 87 %)."""
    g = trunk_case.grid
    y = g.axis_mm(1)
    k0, k1 = g.index_range(2, centre_of(trunk_spine, "T10")[2], centre_of(trunk_spine, "T8")[2])
    front = (y < centre_of(trunk_spine, "T9")[1] - 25.0)[:, None]
    lung_contact, fat_contact, n_edge = 0, 0, 0
    for k in range(k0, k1):
        sl = trunk_case.tissue[k]
        heart = np.isin(sl, (Tissue.MYOCARDIUM, Tissue.BLOOD)) & front
        lab, n = ndi.label(heart)
        if n == 0:
            continue
        big = lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))
        if big.sum() < 200:
            continue
        solid = ndi.binary_fill_holes(big)
        outside = ndi.binary_dilation(solid) & ~solid
        n_edge += int(outside.sum())
        lung_contact += int(np.sum(sl[outside] == Tissue.LUNG))
        fat_contact += int(np.sum(sl[outside] == Tissue.FAT))
    assert n_edge > 300
    assert lung_contact / n_edge < 0.15
    assert fat_contact / n_edge > 0.6


def test_lung_does_not_run_forward_beside_the_vertebral_body_at_t11(trunk_spine, trunk_case):
    """At T11 the lung's medial tip lies beside the back half of the vertebral body (the crura
    and the posterior mediastinum fill the space beside its front): within 45 mm of the
    midline, lung in front of the body's centre covers under 150 mm2 and reaches no further
    forward than 12 mm in front of that centre (the real example CT: the right lung's tip 10-15
    mm behind the body's front). Old design: a strip of lung ran forward along the body's side
    past its front (396 mm2, 26 mm in front of the centre; now 96 mm2 and 8 mm)."""
    g = trunk_case.grid
    x, y = g.axis_mm(0), g.axis_mm(1)
    c = centre_of(trunk_spine, "T11")
    lung = trunk_case.tissue[g.index_range(2, c[2] - 1.0, c[2] + 1.0)[0]] == Tissue.LUNG
    jj, ii = np.nonzero(lung)
    med = np.abs(x[ii] - c[0]) < 45.0
    front = med & (y[jj] < c[1])
    area = float(front.sum() * g.spacing_mm[0] * g.spacing_mm[1])
    assert area < 150.0
    assert (c[1] - y[jj[med]]).max() < 12.0
    # the gutters behind the body keep their lung (test_synth_lung_gutter.py)
    assert np.sum(med & (y[jj] > c[1])) * g.spacing_mm[0] * g.spacing_mm[1] > 400.0
