"""Renderer anatomy on a fixed grid: ribs, fractures, degenerated discs, metal, skull base."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _grid(spine, first: str, last: str, sp: float = 2.0) -> RenderGrid:
    """A 2 mm grid over the torso from ``first`` to ``last`` (with 20 mm margins)."""
    c = spine.centres_mm
    z_top = c[spine.labels.index(first), 2] + 20.0
    z_bot = c[spine.labels.index(last), 2] - 20.0
    n = (int((z_top - z_bot) / sp) + 1, int(360 / sp), int(420 / sp))
    y0 = float(c[:, 1].mean()) - 250.0
    return RenderGrid((-210.0, y0, float(z_bot)), (sp, sp, sp), n)


def _bone_beside(res, spine, label: str, lateral_mm: float) -> int:
    """Bone voxels in a slab through ``label``'s centre, more than ``lateral_mm`` to either side."""
    g = res.grid
    c = spine.centres_mm[spine.labels.index(label)]
    k0, k1 = g.index_range(2, c[2] - 4.0, c[2] + 4.0)
    x = g.axis_mm(0) - c[0]
    side = np.abs(x) > lateral_mm
    slab = res.tissue[k0:k1][:, :, side]
    return int(np.isin(slab, [int(t) for t in BONE]).sum())


def test_ribs_on_thoracic_vertebrae_none_on_l1(spine):
    res = render_labels(spine, _grid(spine, "T9", "L2"), AnatomyParams(), np.random.default_rng(0))
    # ribs reach far lateral (> 90 mm from the spine) at T9-T10, not at L1-L2
    assert _bone_beside(res, spine, "T9", 90.0) > 20
    assert _bone_beside(res, spine, "T10", 90.0) > 20
    assert _bone_beside(res, spine, "L1", 60.0) == 0
    assert _bone_beside(res, spine, "L2", 60.0) == 0
    # vertebra labels: only vertebrae, VerSe ids of the chain
    ids = {int(v) for v in np.unique(res.vertebrae) if v}
    assert {anatomy.by_name(x).verse_id for x in ("T10", "T11", "T12", "L1")} <= ids


def test_compression_fracture_lowers_the_body(spine):
    grid = _grid(spine, "L1", "L4")
    vid = anatomy.by_name("L2").verse_id
    plain = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    frac = render_labels(
        spine, grid, AnatomyParams(compression={"L2": 0.45}), np.random.default_rng(0)
    )
    n_plain = int((plain.vertebrae == vid).sum())
    n_frac = int((frac.vertebrae == vid).sum())
    assert n_frac < 0.93 * n_plain
    other = anatomy.by_name("L3").verse_id
    assert int((frac.vertebrae == other).sum()) == int((plain.vertebrae == other).sum())


def test_degenerated_disc_has_vacuum_gas_and_metal_is_rendered(spine):
    grid = _grid(spine, "L2", "L5")
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    sick = render_labels(
        spine,
        grid,
        AnatomyParams(degenerated_discs=("L3",), screws=("L3", "L4"), bowel_gas=0),
        np.random.default_rng(0),
    )
    c3 = spine.centres_mm[spine.labels.index("L3")]
    c4 = spine.centres_mm[spine.labels.index("L4")]
    mid = (c3 + c4) / 2
    g = grid
    k0, k1 = g.index_range(2, mid[2] - 6, mid[2] + 6)
    j0, j1 = g.index_range(1, mid[1] - 25, mid[1] + 25)
    i0, i1 = g.index_range(0, mid[0] - 25, mid[0] + 25)
    box = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
    assert (sick.tissue[box] == Tissue.GAS).sum() > 0
    assert (plain.tissue[box] == Tissue.GAS).sum() == 0
    assert (plain.tissue[box] == Tissue.DISC).sum() > 50
    assert (sick.tissue == Tissue.METAL).sum() > 100
    assert (plain.tissue == Tissue.METAL).sum() == 0
    assert len(sick.metal_points_mm) > 0


def test_skull_base_above_c1_and_dens_inside_the_atlas_ring(spine):
    res = render_labels(
        spine, _grid(spine, "C1", "C4", 1.5), AnatomyParams(), np.random.default_rng(0)
    )
    c1 = spine.centres_mm[0]
    g = res.grid
    # bone above C1 (skull base / occiput), not labelled as a vertebra
    k0, k1 = g.index_range(2, c1[2] + 14.0, c1[2] + 26.0)
    above = res.tissue[k0:k1]
    assert np.isin(above, [int(t) for t in BONE]).sum() > 200
    assert res.vertebrae[k0:k1].max() == 0
    # the dens (C2 label) rises to the level of C1
    k = round((c1[2] - g.origin_mm[2]) / g.spacing_mm[2])
    assert (res.vertebrae[k] == anatomy.by_name("C2").verse_id).sum() > 5
    assert (res.vertebrae[k] == anatomy.by_name("C1").verse_id).sum() > 50


def test_narrowed_discs_move_the_cranial_spine_down(spine):
    from spinelab.synth.generator import narrow_discs

    n = spine.labels.index("L4")
    out = narrow_discs(spine, ("L4",), 0.5)
    gap = np.linalg.norm(spine.centres_mm[n] - spine.centres_mm[n + 1])
    new_gap = np.linalg.norm(out.centres_mm[n] - out.centres_mm[n + 1])
    assert new_gap == pytest.approx(gap - 0.5 * spine.disc_height_mm[n], abs=0.5)
    assert out.disc_height_mm[n] == pytest.approx(0.5 * spine.disc_height_mm[n])
    # vertebrae below are untouched, those above move rigidly together
    np.testing.assert_array_equal(out.centres_mm[n + 1 :], spine.centres_mm[n + 1 :])
    np.testing.assert_allclose(
        np.diff(out.centres_mm[: n + 1], axis=0), np.diff(spine.centres_mm[: n + 1], axis=0)
    )


def test_tube_cut_by_the_grid_border_matches_the_same_tube_on_a_larger_grid():
    from spinelab.synth.render import _Painter

    pts = np.array([[-30.0, 0.0, -20.0], [5.0, 12.0, 0.0], [40.0, -5.0, 25.0]])
    big = RenderGrid((-40.0, -30.0, -30.0), (1.0, 1.0, 1.5), (40, 60, 80))
    # the small grid is a window of the big one (whole voxels), cutting the tube on all sides
    k0, j0, i0 = 12, 21, 25
    small = RenderGrid((-40.0 + i0, -30.0 + j0, -30.0 + k0 * 1.5), (1.0, 1.0, 1.5), (18, 21, 30))
    maps = []
    for grid in (big, small):
        pt = _Painter(grid)
        pt.tissue[:] = Tissue.FAT
        pt.tissue[:, ::7] = Tissue.AIR  # rows that `only` keeps (j0: multiple of 7)
        pt.tube(pts, 6.0, Tissue.CORTICAL, Tissue.MARROW, 1.5, only=(Tissue.FAT, Tissue.CORTICAL))
        maps.append(pt.tissue)
    window = maps[0][k0 : k0 + 18, j0 : j0 + 21, i0 : i0 + 30]
    assert (maps[1] == Tissue.MARROW).sum() > 100
    np.testing.assert_array_equal(maps[1], window)
