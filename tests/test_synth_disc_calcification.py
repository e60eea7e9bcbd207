"""Calcified intervertebral discs: the draws' shares (Chanchairujira et al. 2004's lower
thoracic and annular shares), the deposits painted in the disc only, where drawn."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import disc_calcification as dc
from spinelab.synth.disc_calcification import DiscCalcification, draw_disc_calcifications
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_share, curved_spine


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def test_calcified_discs_are_drawn_at_the_shares(spine):
    rng = np.random.default_rng(2)
    cases = [draw_disc_calcifications(rng, spine.labels) for _ in range(5000)]
    some = [c for c in cases if c]
    assert_share(len(some), len(cases), dc.P_DISC_CALCIFICATION)
    assert np.mean([len(c) for c in some]) == pytest.approx(1 + dc.EXTRA_DISCS, abs=0.1)
    flat = [x for c in some for x in c]
    assert all(len({x.label for x in c}) == len(c) for c in some)  # distinct discs
    # thoracic and lumbar discs down to L5-S1 (none above T1 or at the fused S1-S2)
    assert {anatomy.region_of(x.label) for x in flat} <= {"thoracic", "lumbar"}
    assert "L5" in {x.label for x in flat}
    lower = {"T9", "T10", "T11", "T12"}
    assert_share(sum(x.label in lower for x in flat), len(flat), dc.LOWER_THORACIC_SHARE)
    assert_share(sum(x.annulus for x in flat), len(flat), dc.P_ANNULUS)
    # a lumbar-only spine draws its own discs
    lumbar = [x for x in spine.labels if anatomy.region_of(x) in ("lumbar", "sacral")]
    drawn = [draw_disc_calcifications(rng, lumbar, 1.0) for _ in range(200)]
    assert all(x.label in lumbar[:-2] for c in drawn for x in c)


def _grid(spine) -> RenderGrid:
    c0 = spine.centres_mm[spine.labels.index("T11")]
    z0 = spine.centres_mm[spine.labels.index("T12"), 2] - 5.0
    z1 = spine.centres_mm[spine.labels.index("T10"), 2] + 5.0
    sp = 0.5
    n = (int((z1 - z0) / sp), int(60 / sp), int(60 / sp))
    return RenderGrid((c0[0] - 30.0, c0[1] - 30.0, z0), (sp, sp, sp), n)


def test_deposits_lie_in_their_disc_where_drawn(spine):
    grid = _grid(spine)
    left_rim = DiscCalcification("T10", True, 90.0, 30.0, 0.0, 0.6)
    middle = DiscCalcification("T11", False, 0.0, 0.0, 5.0, 0.5)
    base = AnatomyParams(bowel_gas=0)
    plain = render_labels(spine, grid, base, np.random.default_rng(0))
    res = render_labels(
        spine,
        grid,
        AnatomyParams(bowel_gas=0, disc_calcifications=(left_rim, middle)),
        np.random.default_rng(0),
    )
    stone = res.tissue == int(Tissue.STONE)
    assert (res.vertebrae == plain.vertebrae).all()
    assert (plain.tissue[stone] == int(Tissue.DISC)).all()
    assert ((res.tissue != plain.tissue) == stone).all()
    zz, yy, xx = np.meshgrid(grid.axis_mm(2), grid.axis_mm(1), grid.axis_mm(0), indexing="ij")
    pts = np.stack([xx, yy, zz], axis=-1)[stone]
    for calc, vol in ((left_rim, (40.0, 600.0)), (middle, (100.0, 450.0))):
        n = spine.labels.index(calc.label)
        mid = (spine.centres_mm[n] + spine.centres_mm[n + 1]) / 2
        loc = (pts - mid) @ spine.frames[n]
        near = np.abs(loc[:, 2]) < 5.0
        v = near.sum() * 0.5**3
        assert vol[0] < v < vol[1], (calc, v)
        lateral = loc[near][:, 0]
        if calc.annulus:  # on the left rim: well beside the midline, to the left
            assert lateral.min() > 0.5 * float(spine.body_width_mm[n]) / 2 * 0.7
        else:  # in the middle
            assert np.abs(lateral).max() < calc.radius_mm + 1.0
