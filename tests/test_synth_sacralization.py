"""A sacralized last lumbar vertebra (spinelab.synth.vertebra_shape.draw_sacralization).

On whole-spine CT 12.3 % of patients have a sacralized L5 (Skeletal Radiol 2025, PMID
40381031): its transverse process broad and reaching down to the sacrum's ala (Castellvi types
I-III), which makes L5 look like a sacral segment, so counting up from the sacrum goes wrong.
The generator's L5 always had a slim process well clear of the ala.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab import anatomy
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.realism import canonical

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_sides_drawn, generate_with_and_without


def test_sacralization_is_drawn_at_its_prevalence():
    rng = np.random.default_rng(0)
    draws = [vshape.draw_sacralization(rng) for _ in range(20000)]
    lo, hi = vshape.SACRALIZATION_MM[0][0], vshape.SACRALIZATION_MM[1][1]
    assert_sides_drawn(draws, vshape.P_SACRALIZATION, vshape.P_SACRALIZATION_BOTH, lo, hi)


@pytest.fixture(scope="module")
def lumbar_pair():
    """A lumbar case (1 mm) drawn without and with its sacralization (seed 3: the right
    process 26.5 mm lower at its tip; a side stream, so nothing else differs)."""
    cfg = {
        "fov": "lumbar",
        "spacing_mm": (1.0, 1.0, 1.0),
        "random_orientation": False,
        "pelvis_mm_range": (60.0, 60.0),
    }
    return generate_with_and_without(3, ("p_sacralization",), **cfg)


def test_the_sacralized_process_reaches_the_ala(lumbar_pair):
    plain, sacral = lumbar_pair
    assert plain.meta["anatomy"]["sacralization"] == (0.0, 0.0)
    left, right = sacral.meta["anatomy"]["sacralization"]
    assert left == 0.0 and right > vshape.SACRALIZATION_MM[1][0]
    l5, s1 = anatomy.by_name("L5").verse_id, anatomy.by_name("S1").verse_id
    a, sp, _ = canonical(plain.labels.array, plain.labels.affine_lps)
    b, _, _ = canonical(sacral.labels.array, sacral.labels.affine_lps)
    assert a.shape == b.shape
    changed = a != b
    assert (a[changed] == 0).all() and (b[changed] == l5).all()  # only L5 grew
    x = np.arange(a.shape[0]) * sp[0]
    xc = np.argwhere(a == l5)[:, 0].mean() * sp[0]
    vox = float(np.prod(sp))
    for side, sacralized in ((1.0, False), (-1.0, True)):  # +1: the patient's left
        lateral = (side * (x - xc) > 35.0)[:, None, None]
        gaps = []
        for lab in (a, b):
            d = ndi.distance_transform_edt(~((lab == s1) & lateral), sampling=sp)
            gaps.append(float(d[(lab == l5) & lateral].min()))
        grown = (changed & lateral).sum() * vox
        if sacralized:
            assert grown > 1000.0 and gaps[0] > 5.0 and gaps[1] <= 2.0, (grown, gaps)
        else:
            assert grown == 0.0 and gaps[0] == gaps[1]
