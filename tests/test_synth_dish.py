"""Diffuse idiopathic skeletal hyperostosis (spinelab.synth.vertebra_shape.draw_dish, dish_part).

Flowing ossification on the right front of four or more thoracic vertebrae, bridging their
discs: 19.5 % of adults on whole-spine CT (Hiyama et al. 2018), at T8-T10 in nearly all of
them. A network that separates vertebrae at their discs meets bone across them; the
generator's osteophytes never bridged a disc.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_share,
    centre_of,
    chest_grid,
    curved_spine,
    local_coords,
    render_with_and_without,
)

SPINE = list(anatomy.STANDARD_LABELS)  # C1-S2


def test_dish_is_drawn_at_its_prevalence_over_the_lower_thoracic_spine():
    rng = np.random.default_rng(0)
    draws = [vshape.draw_dish(rng, SPINE) for _ in range(20000)]
    runs = [d for d in draws if d is not None]
    p = vshape.P_DISH
    assert_share(len(runs), len(draws), p)
    for dish in runs:
        idx = [SPINE.index(x) for x in dish.labels]
        assert len(idx) >= vshape.DISH_MIN_LEVELS and np.all(np.diff(idx) == 1)
        assert all(anatomy.region_of(x) in ("thoracic", "lumbar") for x in dish.labels)
        assert len(dish.bridged) == len(dish.labels) - 1
        assert dish.centre_deg < 0.0  # on the right (the aorta on the left)
    # T8 / T9 / T10 in 88 / 91 / 85 % of the cases (Hiyama et al.); thoraco-lumbar in 24 %
    share = {x: np.mean([x in d.labels for d in runs]) for x in ("T8", "T9", "T10")}
    assert min(share.values()) > 0.8 and share["T9"] > 0.88, share
    assert np.mean([any(x.startswith("L") for x in d.labels) for d in runs]) < 0.35
    bridged = np.concatenate([d.bridged for d in runs])
    assert abs(bridged.mean() - vshape.P_DISH_BRIDGED) < 0.02


def test_no_dish_without_a_thoracic_or_lumbar_run():
    rng = np.random.default_rng(1)
    cervical = [f"C{i}" for i in range(1, 8)]
    assert all(vshape.draw_dish(rng, cervical, 1.0) is None for _ in range(50))


def _touching(v, l1, l2):
    """Face-adjacent voxel pairs of two vertebrae's labels."""
    i1, i2 = anatomy.by_name(l1).verse_id, anatomy.by_name(l2).verse_id
    n = 0
    for ax in range(3):
        s1, s2 = [slice(None)] * 3, [slice(None)] * 3
        s1[ax], s2[ax] = slice(1, None), slice(None, -1)
        x, y = v[tuple(s1)], v[tuple(s2)]
        n += int(((x == i1) & (y == i2)).sum() + ((x == i2) & (y == i1)).sum())
    return n


@pytest.fixture(scope="module")
def dish_maps():
    """T6 to T11 of the fixture spine at 1.5 mm without and with DISH over T7-T10 (6 mm
    thick, T7-T8 and T9-T10 bridged, T8-T9 not)."""
    spine = curved_spine()
    top, bottom = centre_of(spine, "T6")[2] + 5.0, centre_of(spine, "T11")[2] - 5.0
    grid = chest_grid(spine, top, bottom, sp=1.5)
    dish = vshape.Dish(("T7", "T8", "T9", "T10"), 6.0, -35.0, 65.0, (True, False, True))
    return (spine, *render_with_and_without(spine, grid, dish=dish))


def test_dish_is_bone_on_the_right_front_of_its_run(dish_maps):
    spine, plain, with_dish = dish_maps
    a, b = np.isin(plain.tissue, BONE), np.isin(with_dish.tissue, BONE)
    assert not (a & ~b).any()
    added = b & ~a
    vox = float(np.prod(plain.grid.spacing_mm))
    assert added.sum() * vox > 4000.0  # four vertebrae's flow (14.5 cm3 on 2026-12-05)
    # only the run's labels grow
    for label in ("T6", "T7", "T8", "T9", "T10", "T11"):
        vid = anatomy.by_name(label).verse_id
        grown = int((with_dish.vertebrae == vid).sum() - (plain.vertebrae == vid).sum())
        assert (grown > 0) == (label in ("T7", "T8", "T9", "T10")), label
    loc = local_coords(spine, with_dish, "T8", added)
    assert (loc[:, 0] < 0).mean() > 0.8  # right (LPS +x is the left; 0.88 on 2026-12-05)
    assert (loc[:, 1] < 0).mean() > 0.95  # in front


def test_dish_bridges_its_bridged_discs_only(dish_maps):
    """Across a bridged disc the two vertebrae's labels meet in front (T7-T8: 4 -> 101
    face-adjacent pairs at 1.5 mm, T9-T10: 26 -> 126, on 2026-12-05); across the disc left
    open (T8-T9) and outside the run nothing changes."""
    _, plain, with_dish = dish_maps
    for pair in (("T7", "T8"), ("T9", "T10")):
        assert _touching(with_dish.vertebrae, *pair) > _touching(plain.vertebrae, *pair) + 40
    for pair in (("T6", "T7"), ("T8", "T9"), ("T10", "T11")):
        assert _touching(with_dish.vertebrae, *pair) == _touching(plain.vertebrae, *pair)
