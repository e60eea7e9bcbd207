"""The sacrum's dorsal surface in the midline: one continuous crest from S1 down."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 0.5


@pytest.fixture(scope="module")
def midline():
    """Bone in a 2 mm thick midline slab (0.5 mm grid) from 40 mm above to 110 mm below S1's
    centre, and the y / z axes relative to it."""
    spine = curved_spine()
    c = spine.centres_mm[spine.labels.index("S1")]
    grid = RenderGrid((c[0] - 1.0, c[1] - 40.0, c[2] - 110.0), (SP, SP, SP), (300, 240, 4))
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    bone = np.isin(res.tissue, [int(t) for t in BONE]).any(axis=2)
    return bone, grid.axis_mm(1) - c[1], grid.axis_mm(2) - c[2]


def test_dorsal_surface_runs_on_without_steps(midline):
    # real example CT (mid-sagittal, 3 mm): the sacrum's back is one bright band from S1 down,
    # parallel to the canal. The dorsal surface's depth from row to row (0.5 mm apart) now
    # moves by 2.5 mm at most; S2's laminae hanging behind the dorsal wall's start made a
    # 9 mm step (6.5 mm with the crest alone, before the wall started as deep as S2's arch)
    bone, y, z = midline
    rows = np.nonzero((z > -75.0) & (z < 5.0))[0]
    back = []
    for k in rows:
        ys = y[bone[k] & (y > 10.0) & (y < 60.0)]
        back.append(ys.max() if len(ys) else np.nan)
    back_arr = np.array(back)
    assert np.isfinite(back_arr).all(), "a row with no dorsal bone"
    steps = np.abs(np.diff(back_arr))
    assert steps.max() <= 3.0, np.round(back_arr[::4], 1)
