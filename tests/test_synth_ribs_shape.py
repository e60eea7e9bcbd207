"""Lower ribs: their course slopes down along the lateral chest wall (axial slices cut them
as many small sections), heads at the costovertebral joints."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.5


@pytest.fixture(scope="module")
def lower_chest():
    """T10 to L2 on a 1.5 mm grid: (result, spine)."""
    spine = curved_spine()
    c = spine.centres_mm
    z_top = c[spine.labels.index("T10"), 2] + 30.0
    z_bot = c[spine.labels.index("L2"), 2] - 20.0
    n = (int((z_top - z_bot) / SP) + 1, int(330 / SP), int(400 / SP))
    y0 = float(c[spine.labels.index("T12"), 1]) - 230.0
    x0 = float(c[spine.labels.index("T12"), 0]) - 200.0
    grid = RenderGrid((x0, y0, float(z_bot)), (SP, SP, SP), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res, spine


def _rib_section_lengths(res, spine, z_mm: float) -> list[float]:
    """Lengths (mm, the longer side of the bounding box) of the rib sections (bone of no
    vertebra, at least 20 mm2) more than 60 mm to either side of the spine in the axial slice
    at ``z_mm``."""
    g = res.grid
    k = int(np.argmin(np.abs(g.axis_mm(2) - z_mm)))
    x = g.axis_mm(0) - spine.centres_mm[spine.labels.index("T12"), 0]
    rib = np.isin(res.tissue[k], [int(t) for t in BONE]) & (res.vertebrae[k] == 0)
    rib &= (np.abs(x) > 60.0)[None, :]
    lab, _n = ndi.label(rib)
    out = []
    for i, sl in enumerate(ndi.find_objects(lab)):
        if sl is not None and (lab[sl] == i + 1).sum() * SP * SP >= 20.0:
            out.append(max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) * SP)
    return out


def test_lower_ribs_slope_down_the_lateral_wall_in_small_axial_sections(lower_chest):
    # real example CT (3 mm, T11-T12 axial slices): 6-17 rib sections per side, 20-60 mm2
    # each, the largest 60-140 mm2: the ribs slope down by 25-40 deg along the lateral wall.
    # The old ribs, their drop spread over the whole arc (20-27 deg at the side, nearly level
    # behind), were cut lengthwise into long sections here
    res, spine = lower_chest
    c12 = spine.centres_mm[spine.labels.index("T12")]
    h = float(spine.body_height_mm[spine.labels.index("T12")])
    lengths: list[float] = []
    for dz in np.arange(-h / 2, 30.0, 3.0):
        lengths += _rib_section_lengths(res, spine, float(c12[2] + dz))
    assert len(lengths) > 40
    # 1.5 mm grid, T12's lower endplate to 30 mm above its centre: the old ribs' sections were
    # 26 mm long at the median, 33 mm at the upper quartile; now 19-20 and 22-23 mm
    p50, p75 = np.percentile(lengths, [50, 75])
    assert p50 < 23.0 and p75 < 28.0, (p50, p75)


def test_lower_rib_heads_stay_at_the_costovertebral_joints(lower_chest):
    # the heads of the 10th-12th ribs stay against their own bodies
    res, spine = lower_chest
    g = res.grid
    rib = np.isin(res.tissue, [int(t) for t in BONE]) & (res.vertebrae == 0)
    kji = np.argwhere(rib)
    xyz = np.asarray(g.origin_mm) + kji[:, ::-1] * np.asarray(g.spacing_mm)
    for name in ("T10", "T11", "T12"):
        n = spine.labels.index(name)
        w, d, hh = spine.body_width_mm[n], spine.body_depth_mm[n], spine.body_height_mm[n]
        a, b, e = ((xyz - spine.centres_mm[n]) @ spine.frames[n]).T
        for side in (1.0, -1.0):
            near = (side * a > 0.5 * w - 2.0) & (side * a < 0.5 * w + 10.0)
            near &= (np.abs(b) < 0.5 * d) & (np.abs(e) < hh / 2 + 2.0)
            assert near.sum() > 10, (name, side)
