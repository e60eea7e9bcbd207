"""The gut's own tissues: its fluid (bright with positive oral contrast) and its wall (whose
mucosa enhances with intravenous contrast).

The gut's fluid is its own tissue class (``Tissue.GUT_FLUID``: the bladder, the cerebrospinal
fluid and the renal pelvis stay ``WATER``), so a case drawn with oral contrast
(``SynthConfig.p_oral_contrast``, :data:`spinelab.synth.tissues.ORAL_CONTRAST_HU`) differs
from the same seed without it only there. The stomach's and the bowel's wall and the collapsed
loops are ``Tissue.GUT_WALL``: the generic soft tissue's value without contrast, brighter with
it (:data:`spinelab.synth.tissues.GUT_WALL_ENHANCEMENT_HU`).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth.generator import SynthConfig, generate_case
from spinelab.synth.tissues import (
    GUT_WALL_ENHANCEMENT_HU,
    ORAL_CONTRAST_HU,
    Tissue,
    sample_hu_table,
)


def test_the_hu_table_brightens_the_gut_fluid_only():
    plain, oral = [], []
    for seed in range(200):
        a = sample_hu_table(np.random.default_rng(seed))
        b = sample_hu_table(np.random.default_rng(seed), oral_contrast=True)
        other = np.arange(len(a)) != Tissue.GUT_FLUID
        np.testing.assert_array_equal(a[other], b[other])
        plain.append(a[Tissue.GUT_FLUID])
        oral.append(b[Tissue.GUT_FLUID])
    mean, spread = ORAL_CONTRAST_HU
    assert mean - 2.5 * spread <= min(oral) and max(oral) <= mean + 2.5 * spread
    assert abs(np.mean(oral) - mean) < 15.0
    assert max(plain) < 25.0  # water-like without it


@pytest.fixture(scope="module")
def with_and_without():
    cfg = SynthConfig(fov="lumbar", spacing_mm=(2.0, 2.0, 2.0), random_orientation=False)
    out = []
    for p in (0.0, 1.0):
        out.append(generate_case(0, SynthConfig(**{**cfg.to_dict(), "p_oral_contrast": p})))
    return out


def test_oral_contrast_lights_up_the_bowel_and_leaves_the_rest(with_and_without):
    """The same seed with and without: measured 2026-12-05, 6.4 % of the voxels changed, 35,207
    (0.6 % of the image) by more than 100 HU (the case's draw: 208 HU above its plain gut
    fluid); the vertebrae 4 mm or more inside their labels by 2 HU at most (the fluid's blur
    and beam hardening). Their outer voxels may share a loop's fluid where it lies against
    the bone (this case since the mesenteric fan: a loop against the sacrum's and L5's front,
    up to 201 HU in a 2 mm voxel)."""
    plain, oral = with_and_without
    assert plain.meta["anatomy"]["oral_contrast"] is False
    assert oral.meta["anatomy"]["oral_contrast"] is True
    d = oral.ct.array.astype(np.float64) - plain.ct.array
    assert (d > 50.0).mean() > 0.003  # the bowel's fluid (0.6 % of the image above 100 HU)
    assert (d != 0).mean() < 0.2
    spine = ndi.binary_erosion(plain.labels.array > 0, iterations=2)
    assert np.abs(d[spine]).max() <= 5.0
    np.testing.assert_array_equal(plain.labels.array, oral.labels.array)


def test_the_gut_wall_is_soft_tissue_and_enhances_with_contrast():
    lo, hi = GUT_WALL_ENHANCEMENT_HU
    rises = []
    for seed in range(100):
        plain = sample_hu_table(np.random.default_rng(seed))
        assert plain[Tissue.GUT_WALL] == plain[Tissue.SOFT]
        enhanced = sample_hu_table(np.random.default_rng(seed), contrast=True)
        rises.append(enhanced[Tissue.GUT_WALL] - enhanced[Tissue.SOFT])
    assert lo <= min(rises) and max(rises) <= hi
    assert np.ptp(rises) > 0.5 * (hi - lo)  # drawn per case


def test_fluid_filled_loops_have_a_wall_of_their_own(abdomen):
    """The ring of voxels round the fluid in the bowel (L2-L5 of the test spine, 2 mm) is mostly
    the gut's wall (measured 2026-12-05: 0.60 of the ring, soft tissue 0.10, gas 0.08); the old
    design painted walls, chyme and collapsed loops alike as soft tissue (none)."""
    import scipy.ndimage as ndi

    _, res = abdomen
    fluid = res.tissue == Tissue.GUT_FLUID
    ring = ndi.binary_dilation(fluid, np.ones((1, 3, 3), bool)) & ~fluid
    t = res.tissue[ring]
    wall = np.mean(t == Tissue.GUT_WALL)
    assert wall > 0.5, wall
