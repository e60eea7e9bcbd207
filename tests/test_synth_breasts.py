"""Breasts in female cases (``spinelab.synth.breasts``), following the pelvic organs' sex.

The chest was the same for every case. Measured on the test spine's T5-T10 (1.5 mm), rendered
as a woman and as a man (the sex forced through ``pelvic_soft.P_MALE``; the same random
stream otherwise): in front of the chest at the breasts' columns the woman's body reaches
15 mm or more further forward (each breast stands 15-60 mm proud, times the body scale), with
fibroglandular soft tissue in it; the man's chest is unchanged from the design without
breasts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import pelvic_soft, render
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.5


def _render(spine, male: bool, breasts: bool = True):
    c = spine.centres_mm
    z_top, z_bot = c[spine.labels.index("T5"), 2], c[spine.labels.index("T10"), 2]
    n = (int((z_top - z_bot) / SP) + 1, int(360 / SP), int(420 / SP))
    grid = RenderGrid((-210.0, float(c[:, 1].mean()) - 280.0, float(z_bot)), (SP,) * 3, n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pelvic_soft, "P_MALE", 1.0 if male else 0.0)
        if not breasts:
            mp.setattr(render.breasts, "paint_breasts", lambda *a, **k: None)
        return render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))


@pytest.fixture(scope="module")
def chests():
    spine = curved_spine()
    return spine, _render(spine, False), _render(spine, True), _render(spine, True, False)


def _front(res, k: int, x_mm: float) -> float:
    """The body's front (y, mm) in the column ``x_mm`` of slice ``k``."""
    g = res.grid
    i = int(np.argmin(np.abs(g.axis_mm(0) - x_mm)))
    col = res.tissue[k, :, i] != Tissue.AIR
    return float(g.axis_mm(1)[int(np.argmax(col))])


def test_women_have_breasts_in_front_of_the_chest(chests):
    spine, woman, man, _ = chests
    c = spine.centres_mm[spine.labels.index("T7")]
    k = int(np.argmin(np.abs(woman.grid.axis_mm(2) - c[2])))
    for side in (1.0, -1.0):
        x = c[0] + side * 100.0
        proud = _front(man, k, x) - _front(woman, k, x)  # anterior is -y
        assert proud > 15.0, (side, proud)
    # fibroglandular tissue in front of the man's chest line, laced with fat
    g = woman.grid
    y = g.axis_mm(1)
    front_man = min(_front(man, k, c[0] + s * 100.0) for s in (1.0, -1.0))
    ahead = woman.tissue[k][y < front_man - 3.0]
    soft = float((ahead == Tissue.SOFT).sum())
    fat = float((ahead == Tissue.FAT).sum())
    assert soft > 20 and fat > soft, (soft, fat)


def test_men_have_none(chests):
    _, _, man, plain = chests
    assert np.array_equal(man.tissue, plain.tissue)
