"""A median sternotomy: the draws' shares, steel loops round the sternum (metal, with streak
points, out of the bone), an open split's midline gap, the labels unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import sternotomy as st
from spinelab.synth.realism import canonical
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.sternotomy import Sternotomy, draw_sternotomy
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_share, curved_spine, generate_with_and_without


def test_sternotomies_are_drawn_at_the_shares():
    rng = np.random.default_rng(1)
    drawn = [draw_sternotomy(rng, 0.5) for _ in range(4000)]
    some = [d for d in drawn if d is not None]
    assert_share(len(some), len(drawn), 0.5)
    assert {d.wires for d in some} == {4, 5}
    assert np.mean([d.wires for d in some]) == pytest.approx(4.2, abs=0.05)
    assert_share(sum(d.split_open for d in some), len(some), st.P_SPLIT_OPEN)
    assert draw_sternotomy(rng, 0.0) is None


@pytest.fixture(scope="module")
def chest():
    spine = curved_spine()
    z0 = spine.centres_mm[spine.labels.index("T10"), 2]
    z1 = spine.centres_mm[spine.labels.index("C7"), 2]
    c = spine.centres_mm[spine.labels.index("T5")]
    grid = RenderGrid((c[0] - 100, c[1] - 200, z0), (1.0, 1.0, 1.0), (int(z1 - z0), 240, 200))
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return spine, grid, plain


@pytest.mark.parametrize("split_open", [True, False])
def test_wires_loop_round_the_sternum(chest, split_open):
    spine, grid, plain = chest
    res = render_labels(
        spine,
        grid,
        AnatomyParams(bowel_gas=0, sternotomy=Sternotomy(5, split_open)),
        np.random.default_rng(0),
    )
    assert (res.vertebrae == plain.vertebrae).all()
    metal = res.tissue == int(Tissue.WIRE)
    assert not (plain.tissue == int(Tissue.WIRE)).any()
    slices = np.unique(np.nonzero(metal)[0])
    assert len(slices) == 5  # one loop per wire, each on one slice of the grid
    bone = [int(t) for t in (Tissue.CORTICAL, Tissue.MARROW, Tissue.SHELL)]
    assert not np.isin(plain.tissue[metal], bone).any()  # round the bone, not in it
    x = grid.axis_mm(0)
    for k in slices:
        rows, cols = np.nonzero(metal[k])
        # a loop 2 mm clear of a sternum at least 14 mm in half-width, the bone inside it
        assert np.ptp(x[cols]) > 2 * (14.0 + st.WIRE_CLEAR_MM) - 2.0
        inner = plain.tissue[k, rows.min() + 2 : rows.max() - 1, cols.min() + 2 : cols.max() - 1]
        assert np.isin(inner, bone).sum() > 100
    assert len(res.metal_points_mm) > 100
    # the split: bone gone along the midline where it stays open
    changed = (res.tissue != plain.tissue) & ~metal
    if split_open:
        assert changed.sum() > 50
        assert np.isin(plain.tissue[changed], bone).all()
        assert (res.tissue[changed] == int(Tissue.SOFT)).all()
        assert np.ptp(x[np.nonzero(changed)[2]]) <= st.SPLIT_MM + 1.0
    else:
        assert not changed.any()


def test_the_sternotomy_knob_changes_only_the_chest():
    cfg = {"fov": "thoracic", "spacing_mm": (3.0, 3.0, 3.0)}
    none, some = generate_with_and_without(2, ("p_sternotomy",), **cfg)
    assert none.meta["anatomy"]["sternotomy"] is None
    assert some.meta["anatomy"]["sternotomy"]["wires"] in (4, 5)
    # the same label map (a case with metal draws its streaks' angles, so its later draws,
    # the grid's orientation among them, differ: compared in the canonical orientation)
    lab0 = canonical(none.labels.array, none.labels.affine_lps)[0]
    lab1 = canonical(some.labels.array, some.labels.affine_lps)[0]
    assert (lab0 == lab1).all()
    hu1 = canonical(some.ct.array, some.ct.affine_lps)[0]
    assert hu1[lab1 == 0].max() > 2000  # the wires' steel
