"""Lumbar ribs (spinelab.synth.render.draw_lumbar_ribs).

A short rib on L1, against its transverse process, is the variant that makes a count from
the ribs name L1 a T12. It goes with a lumbarization: on whole-spine CT 1.5 % of 551 patients
had one, all with a lumbarization (Skeletal Radiol 2025, PMID 40381031); in 226 autopsy CTs
11 of 14 spines with a lumbarization and 2 of 206 normal ones (Nakajima et al., Insights
Imaging 2014). The generator's L1 never carried one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import render
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.realism import canonical
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_sides_drawn,
    centre_of,
    chest_grid,
    curved_spine,
    generate_with_and_without,
    local_coords,
    render_with_and_without,
)

LABELS = [f"T{i}" for i in range(9, 13)] + [f"L{i}" for i in range(1, 6)]


@pytest.mark.parametrize(
    ("labels", "p"),
    [(LABELS, render.P_LUMBAR_RIB), ([*LABELS, "L6"], render.P_LUMBAR_RIB_L6)],
)
def test_lumbar_ribs_are_drawn_at_their_prevalence(labels, p):
    rng = np.random.default_rng(0)
    draws = [render.draw_lumbar_ribs(rng, labels) for _ in range(20000)]
    lo, hi = render.LUMBAR_RIB_MM
    assert_sides_drawn(draws, p, render.P_LUMBAR_RIB_BOTH, lo, hi)
    assert hi < 38.0  # a short rib (Yun et al. 2018)


def test_no_lumbar_rib_without_an_l1():
    rng = np.random.default_rng(1)
    cervical = [f"C{i}" for i in range(1, 8)]
    assert all(render.draw_lumbar_ribs(rng, cervical, 1.0, 1.0) == (0.0, 0.0) for _ in range(50))


@pytest.fixture(scope="module")
def rib_maps():
    """T12 to L2 of the fixture spine at 1 mm without and with lumbar ribs (20 mm on the
    left, 36 mm on the right)."""
    spine = curved_spine()
    t12, l2 = centre_of(spine, "T12"), centre_of(spine, "L2")
    grid = chest_grid(spine, t12[2] + 10.0, l2[2] - 10.0, sp=1.0)
    return (spine, *render_with_and_without(spine, grid, lumbar_ribs=(20.0, 36.0)))


def test_a_lumbar_rib_runs_down_and_out_from_l1s_transverse_process(rib_maps):
    """Bone is only added, none of it to a vertebra's label; it lies beyond L1's transverse
    processes' tips, below them, and each side reaches about its drawn length."""
    spine, plain, ribbed = rib_maps
    a = np.isin(plain.tissue, BONE)
    b = np.isin(ribbed.tissue, BONE)
    assert not (a & ~b).any()
    assert (plain.vertebrae == ribbed.vertebrae).all()
    added = b & ~a
    n = spine.labels.index("L1")
    h, d = float(spine.body_height_mm[n]), float(spine.body_depth_mm[n])
    tip_a, tip_b, tip_e, _ = vshape.transverse_tip("L1", h, d)
    loc = local_coords(spine, ribbed, "L1", added)
    vox = float(np.prod(ribbed.grid.spacing_mm))
    for sign, length in ((1.0, 20.0), (-1.0, 36.0)):
        side = loc[sign * loc[:, 0] > 0]
        assert len(side) * vox > 80.0  # a rib, not a few voxels (318 / 768 mm3 on 2026-12-05)
        assert (sign * side[:, 0] > tip_a - 3.0).all()  # beyond the process's tip
        reach = np.linalg.norm(side - np.array([sign * tip_a, tip_b, tip_e]), axis=1).max()
        assert length - 3.0 < reach < length + 6.0
        far = side[np.linalg.norm(side[:, [0, 2]] - [sign * tip_a, tip_e], axis=1) > 10.0]
        assert (far[:, 2] < tip_e).all()  # down from the joint


def test_the_generator_draws_lumbar_ribs_from_its_config():
    """A lumbar case (2 mm) drawn without and with lumbar ribs: the same image but for bright
    voxels beside L1, beyond its label (but for partial volume at the joint), at its height."""
    cfg = {"fov": "lumbar", "spacing_mm": (2.0, 2.0, 2.0), "random_orientation": False}
    plain, ribbed = generate_with_and_without(1, ("p_lumbar_rib", "p_lumbar_rib_l6"), **cfg)
    assert plain.meta["anatomy"]["lumbar_ribs"] == (0.0, 0.0)
    assert max(ribbed.meta["anatomy"]["lumbar_ribs"]) > 0.0
    a, sp, _ = canonical(plain.ct.array, plain.ct.affine_lps)
    b, _, _ = canonical(ribbed.ct.array, ribbed.ct.affine_lps)
    lab, _, _ = canonical(plain.labels.array, plain.labels.affine_lps)
    assert (plain.labels.array == ribbed.labels.array).all()
    brighter = b.astype(np.int32) - a.astype(np.int32) > 150
    assert brighter.sum() * float(np.prod(sp)) > 100.0
    l1_id = anatomy.by_name("L1").verse_id
    under = lab[brighter]
    assert np.isin(under, (0, l1_id)).all() and (under == 0).mean() > 0.95  # 2 of 186 in L1
    l1, ijk = np.argwhere(lab == l1_id), np.argwhere(brighter)
    assert ijk[:, 2].min() >= l1[:, 2].min() - 15 and ijk[:, 2].max() <= l1[:, 2].max() + 3
    assert (np.abs(ijk[:, 0] - l1[:, 0].mean()) * sp[0] > 30.0).all()
