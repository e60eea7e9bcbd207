"""The lungs' apices (``spinelab.synth.render.LUNG_APEX_ABOVE_T1_MM``): domes, not lids.

The lung's section shrank towards an apex 25 mm above T1's centre, but the neck's slices begin
10 mm below T1's centre and paint no lung, so each lung ended in a flat lid: on the test spine
(1.5 mm) the highest lung voxel of each column lay within 1.5 mm of the lung's top over 56 % of
its width, the medial quarter flat. Real apices are domes (the cervical pleura), highest
medially and posteriorly, falling to the lateral wall.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import chest_grid, curved_spine

SP = 1.5


@pytest.fixture(scope="module")
def apex():
    spine = curved_spine()
    c = spine.centres_mm
    z_top, z_bot = c[spine.labels.index("C7"), 2], c[spine.labels.index("T5"), 2]
    grid = chest_grid(spine, z_top, z_bot, SP)
    res = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    lung = (res.tissue == Tissue.LUNG).any(axis=1)  # (z, x): lung anywhere along y
    z, x = grid.axis_mm(2), grid.axis_mm(0)
    top = np.array([z[np.nonzero(col)[0].max()] if col.any() else np.nan for col in lung.T])
    return x - c[spine.labels.index("T1"), 0], top


@pytest.mark.parametrize("side", [-1.0, 1.0], ids=["right", "left"])
def test_apex_is_a_dome(apex, side):
    dx, top = apex
    m = (dx * side > 0) & ~np.isnan(top)
    a, h = np.abs(dx[m]), top[m]
    order = np.argsort(a)
    a, h = a[order], h[order]
    peak = h.max()
    assert np.mean(h >= peak - 1.5) < 0.35  # the old lid: 0.56
    for f in (0.1, 0.9):  # both ends of the section fall away from the top
        assert np.interp(a[0] + f * (a[-1] - a[0]), a, h) < peak - 15.0
