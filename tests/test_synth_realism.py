"""Measured realism (spinelab.synth.realism): tissue HU and noise of synthetic CT in range."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.generator import SynthConfig, generate_case
from spinelab.synth.realism import histogram_l1, measure

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

L1_L4 = (20, 21, 22, 23)
NOISE_HU = 24.0


@pytest.fixture(scope="module")
def stats():
    cfg = SynthConfig(
        fov="lumbar",
        spacing_mm=(3.0, 3.0, 3.0),
        render_mm=1.5,
        noise_hu_range=(NOISE_HU, NOISE_HU),
        p_metal=0.0,
        p_contrast=0.0,
        p_osteoporosis=0.0,
        p_fracture=0.0,
    )
    case = generate_case(3, cfg, geometry=curved_spine())
    return case, measure(case.ct.array, case.labels.array, case.ct.affine_lps, L1_L4)


def test_tissue_hu_in_adult_ranges(stats):
    _, st = stats
    assert 100 < st.body_median < 320  # cancellous bone of the lumbar bodies, non-osteoporotic
    assert 20 < st.muscle_median < 75
    assert -130 < st.fat_median < -70
    assert 0.3 < st.fractions["fat (<-30)"] < 0.65  # bowel fills the abdomen, not fat
    assert st.fractions["bone (>=150)"] < 0.06


def test_noise_sd_matches_the_drawn_noise(stats):
    case, st = stats
    want = case.meta["physics"]["noise_hu"]  # at 3 mm slices: NOISE_HU / sqrt(3)
    assert want == pytest.approx(NOISE_HU / np.sqrt(3.0))
    assert 0.75 * want < st.noise_fat < 1.3 * want


def test_histogram_l1_bounds():
    a = np.array([0.5, 0.5, 0.0])
    assert histogram_l1(a, a) == 0.0
    assert histogram_l1(a, np.array([0.0, 0.0, 1.0])) == pytest.approx(2.0)
