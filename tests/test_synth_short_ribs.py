"""Hypoplastic last ribs (spinelab.synth.render.draw_short_last_ribs).

On whole-spine CT 12.6 % of patients have a hypoplastic twelfth rib (Skeletal Radiol 2025,
PMID 40381031). Counting ribs from above, a missed stub names T12 an L1: the generator's last
ribs were always full floating ribs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import render
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_sides_drawn,
    centre_of,
    chest_grid,
    curved_spine,
    render_with_and_without,
)


def test_short_last_ribs_are_drawn_at_their_prevalence():
    rng = np.random.default_rng(0)
    draws = [render.draw_short_last_ribs(rng) for _ in range(20000)]
    lo, hi = render.SHORT_LAST_RIB_MM
    assert_sides_drawn(draws, render.P_SHORT_LAST_RIB, render.P_SHORT_LAST_RIB_BOTH, lo, hi)


@pytest.fixture(scope="module")
def rib_maps():
    """T11 to L1 of the fixture spine at 1.5 mm with normal and with short last ribs."""
    spine = curved_spine()
    t11, l1 = centre_of(spine, "T11"), centre_of(spine, "L1")
    grid = chest_grid(spine, t11[2] + 10.0, l1[2] - 30.0, sp=1.5)
    normal, short = render_with_and_without(spine, grid, short_last_ribs=(20.0, 30.0))
    return spine, normal, short


def _rib_bone(res):
    return np.isin(res.tissue, BONE) & (res.vertebrae == 0)


def test_a_short_last_rib_is_a_stub_beside_its_vertebra(rib_maps):
    """The last ribs lose their shafts (no bone is added; what is taken lies more than 20 mm
    from T12's centre, beyond the stubs), and keep their heads, necks and a stub."""
    spine, normal, short = rib_maps
    a, b = _rib_bone(normal), _rib_bone(short)
    removed = a & ~b
    assert not (b & ~a).any()
    vox = float(np.prod(normal.grid.spacing_mm))
    assert removed.sum() * vox > 2000.0  # two shafts (4.8 cm3 on 2026-12-05)
    g = normal.grid
    axes = [g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)]
    t12 = centre_of(spine, "T12")

    def dist(mask):
        kji = np.argwhere(mask)
        xyz = np.c_[axes[0][kji[:, 2]], axes[1][kji[:, 1]], axes[2][kji[:, 0]]]
        return np.linalg.norm(xyz - t12, axis=1)

    assert dist(removed).min() > 20.0
    # the stubs: rib bone 20-40 mm from T12's centre at its height, about as much as before
    near = [((d > 20.0) & (d < 40.0)).sum() for d in (dist(a), dist(b))]
    assert near[1] > 0.7 * near[0] > 0
    # elsewhere bone only turned into bone (the stubs' tapered ends) or back into soft tissue
    other = (normal.tissue != short.tissue) & ~removed
    assert np.isin(short.tissue[other], BONE).all()
