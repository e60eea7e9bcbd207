"""Ribs and iliac wings at 3 mm (bone HU against the real example CT) and the pelvis's shape."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import ct as ctphys
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, HU_TABLE, N_TISSUES, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

#: The real example CT at 3 mm (scripts/synth_compare.py's CT): HU of bone voxels (> 200 HU,
#: outside the vertebrae) at the 95th percentile, lateral boxes at T11-T12 (ribs, 60-160 mm
#: from the midline) and 5-55 mm below L5's centre (iliac wings, 75-160 mm).
REAL_RIB_P95_HU = 420.0
REAL_ILIUM_P95_HU = 647.0


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _mean_lut():
    lut = np.zeros(N_TISSUES, dtype=np.float32)
    for t in Tissue:
        lut[t] = HU_TABLE[t][0]
    lut[Tissue.DENSE] += lut[Tissue.CANCELLOUS]
    return lut


def _bone_p95_at_3mm(spine, ref: str, z_lo: float, z_hi: float, lat: tuple[float, float]):
    """95th percentile HU of bone voxels (> 200 HU, no vertebra) at 3 mm on the left, in a box
    ``lat`` mm from the midline and ``z_lo..z_hi`` from ``ref``'s centre: a 1 mm render with
    the mean HU table, block-averaged (partial volume), no noise."""
    c = spine.centres_mm[spine.labels.index(ref)]
    n = (int((z_hi - z_lo) / 3) * 3, 330, 180)
    grid = RenderGrid((c[0] + lat[0] - 10.0, c[1] - 200.0, c[2] + z_lo), (1.0, 1.0, 1.0), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    hu = ctphys.block_mean_lut(res.tissue, _mean_lut(), (3, 3, 3))[: n[0] // 3, : n[1] // 3]
    vert = ctphys.block_mean_lut(
        (res.vertebrae > 0).astype(np.uint8), np.array([0, 1], np.float32), (3, 3, 3)
    )[: n[0] // 3, : n[1] // 3]
    x = (grid.axis_mm(0)[1::3] - c[0])[: hu.shape[2]]
    box = (x > lat[0]) & (x < lat[1])
    vals = hu[:, :, box][(hu[:, :, box] > 200) & (vert[:, :, box] == 0)]
    assert vals.size > 50
    return float(np.percentile(vals, 95))


def test_rib_bone_hu_at_3mm_matches_the_real_ct(spine):
    # thin cortex as Tissue.SHELL: about 420 HU like the real CT (CORTICAL read 600-680)
    p95 = _bone_p95_at_3mm(spine, "T12", -10.0, 35.0, (60.0, 160.0))
    assert abs(p95 - REAL_RIB_P95_HU) < 90.0, p95


def test_iliac_wing_bone_hu_at_3mm_matches_the_real_ct(spine):
    # about 650 HU (CORTICAL read 950-1100)
    p95 = _bone_p95_at_3mm(spine, "L5", -55.0, -5.0, (75.0, 160.0))
    assert abs(p95 - REAL_ILIUM_P95_HU) < 130.0, p95


@pytest.fixture(scope="module")
def pelvis(spine):
    """Pelvic bone (no vertebra label) on a 2 mm grid around S1, with axes relative to S1."""
    c = spine.centres_mm[spine.labels.index("S1")]
    grid = RenderGrid((c[0] - 170, c[1] - 150, c[2] - 180), (2.0, 2.0, 2.0), (130, 130, 170))
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    bone = np.isin(res.tissue, [int(t) for t in BONE]) & (res.vertebrae == 0)
    return bone, grid.axis_mm(0) - c[0], grid.axis_mm(1) - c[1], grid.axis_mm(2) - c[2]


def test_iliac_wings_span_the_crest_height_and_front_to_back_length(pelvis):
    bone, x, y, z = pelvis
    for side in (1.0, -1.0):
        wing = bone[:, :, side * x > 45.0]
        # crest summit 55-70 mm above S1's centre (Tuffier's line at L4-L5; real CT 65 mm)
        top = z[wing.any(axis=(1, 2))].max()
        assert 55.0 <= top <= 70.0, top
        # from the anterior superior spine (80-90 mm in front of S1) to the posterior superior
        # spine (55-65 mm behind): 140-170 mm from front to back between the crest and S1
        band = wing[(z > -20.0) & (z < 30.0)].any(axis=(0, 2))
        ys = y[band]
        assert ys.min() < -75.0 and ys.max() > 50.0, (ys.min(), ys.max())
        assert 130.0 < ys.max() - ys.min() < 190.0
