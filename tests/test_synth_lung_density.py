"""The lungs' gravity-dependent density (``spinelab.synth.ct.lung_gradient``): supine, the
posterior lung is denser than the anterior."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth import ct as ctphys
from spinelab.synth.generator import SynthConfig, case_seed, generate_case
from spinelab.synth.realism import canonical
from spinelab.synth.tissues import LUNG_GRADIENT_HU_PER_MM, Tissue


def test_the_offset_grows_behind_the_reference_and_follows_the_lung_share():
    fine = np.zeros((2, 4, 4), np.uint8)
    fine[:, :2, :] = Tissue.LUNG  # rows 0-1 lung
    fine[:, 2:, :1] = Tissue.LUNG  # rows 2-3: one of each block's two columns lung
    add = ctphys.lung_gradient(
        fine, (1, 2, 2), int(Tissue.LUNG), np.array([10.0, 30.0]), np.array([0.0, 20.0]), 0.5
    )
    out = np.zeros((2, 2, 2), np.float32)
    add(out, 0)
    # slice 0 (reference 0 mm): row 0 at 10 mm all lung, row 1 at 30 mm half lung
    assert out[0, 0] == pytest.approx([5.0, 5.0])
    assert out[0, 1] == pytest.approx([7.5, 0.0])
    # slice 1 (reference 20 mm): row 0 lies in front of it
    assert out[1, 0] == pytest.approx([-5.0, -5.0])
    assert out[1, 1] == pytest.approx([2.5, 0.0])
    part = np.zeros((1, 2, 2), np.float32)
    add(part, 1)  # a slab starting at slice 1
    assert part[0] == pytest.approx(out[1])


def test_a_generated_thorax_gets_denser_towards_the_back():
    """Lung HU against y on the slices through T6-T8 of a thoracic 3 mm case: the slope is the
    case's drawn gradient (here 0.96 HU/mm: 0.90 / 0.95 / 1.13; with uniform lungs -0.05 /
    0.01 / 0.18, the vessels' own)."""
    cfg = SynthConfig(
        fov="thoracic",
        spacing_mm=(3.0, 3.0, 3.0),
        random_orientation=False,
        p_contrast=0.0,
        p_oral_contrast=0.0,
        p_metal=0.0,
        p_arms_down=0.0,
    )
    case = generate_case(case_seed(0, 1), cfg)
    g = case.meta["lung_gradient_hu_per_mm"]
    assert LUNG_GRADIENT_HU_PER_MM[0] <= g <= LUNG_GRADIENT_HU_PER_MM[1]
    a, sp, org = canonical(case.ct.array.astype(np.float32), case.ct.affine_lps)
    ys = org[1] + sp[1] * np.arange(a.shape[1])
    zs = org[2] + sp[2] * np.arange(a.shape[2])
    geo = case.geometry
    slopes = []
    for name in ("T6", "T7", "T8"):
        k = int(np.argmin(np.abs(zs - geo.centres_mm[geo.labels.index(name), 2])))
        sl = a[:, :, k]
        body = ndi.binary_fill_holes(sl > -300)
        lung = ndi.binary_erosion(body & (sl < -400) & (sl > -990), iterations=1)
        jj = np.nonzero(lung)[1]
        slopes.append(np.polyfit(ys[jj], sl[lung], 1)[0])
    assert np.median(slopes) == pytest.approx(g, rel=0.35), (slopes, g)
