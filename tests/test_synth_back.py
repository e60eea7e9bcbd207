"""What the renderer puts behind the lumbar vertebral bodies: back muscles, subcutaneous fat, skin."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.render import BACK_FAT_SHARE, AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _l3_slab(spine, fat_mm: float):
    """Tissue map of a 1 mm slab (5 slices) through L3's centre, and L3's centre (mm)."""
    c = spine.centres_mm[spine.labels.index("L3")]
    sp = 1.0
    grid = RenderGrid(
        (float(c[0]) - 200.0, float(c[1]) - 220.0, float(c[2]) - 2.0), (sp, sp, sp), (5, 400, 400)
    )
    res = render_labels(spine, grid, AnatomyParams(fat_mm=fat_mm), np.random.default_rng(0))
    return res, c


def _behind(res, c, dx_mm: float) -> tuple[float, float]:
    """Along the line behind L3's centre at ``dx_mm`` beside the midline (middle slice): the
    back of the last tissue that is not fat (muscle, or bone where no muscle covers it) and the
    skin (the last voxel before air), mm behind the centre."""
    g = res.grid
    i = int(np.argmin(np.abs(g.axis_mm(0) - (c[0] + dx_mm))))
    y = g.axis_mm(1) - c[1]
    line = res.tissue[2, :, i]
    body = (y > 0) & body_mask(line)
    # the skin: the end of the first run of body voxels behind the centre (the couch lies beyond
    # an air gap)
    j = int(np.nonzero(y > 0)[0][0])
    while j + 1 < len(y) and body[j + 1]:
        j += 1
    skin = float(y[j])
    deep = np.nonzero((y > 0) & (y <= skin) & (line != int(Tissue.FAT)))[0]
    return float(y[deep[deep < j].max()]), skin


@pytest.mark.parametrize("dx_mm", [25.0, -25.0])
def test_back_muscles_lie_under_a_layer_of_subcutaneous_fat(spine, dx_mm):
    # the paraspinal muscles used to turn the subcutaneous fat behind them into muscle up to the
    # skin (25 mm beside the midline: 0-1 mm of fat left for fat_mm 30); the back keeps
    # BACK_FAT_SHARE of the fat, as lumbar MRI and the real example CT (17-34 mm) show
    res, c = _l3_slab(spine, 30.0)
    muscle_end, skin = _behind(res, c, dx_mm)
    assert skin - muscle_end >= 0.8 * BACK_FAT_SHARE * 30.0


def test_fat_moves_the_back_skin_out_and_leaves_the_back_muscles(spine):
    # a fatter patient has more fat over the same back muscles: the muscles' posterior border
    # stays put and the skin moves out by the added back fat (it used to be the other way
    # round: the muscles lost 0.3 mm per mm of fat and the skin moved out by half of it)
    lean, c = _l3_slab(spine, 5.0)
    fat, _ = _l3_slab(spine, 35.0)
    m0, s0 = _behind(lean, c, 0.0)
    m1, s1 = _behind(fat, c, 0.0)
    assert abs(m1 - m0) <= 2.0
    assert abs((s1 - s0) - BACK_FAT_SHARE * 30.0) <= 2.0
