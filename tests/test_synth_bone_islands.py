"""Bone islands (spinelab.synth.bone_islands).

Enostoses, foci of compact bone in cancellous bone, were on the CT of 89 % of 46 young
trauma patients, 2-15 mm, about 1,000 HU, mostly in the proximal femur and the pelvis, 11 %
in the vertebrae (PMID 31469323). The generator's bone cores held none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab import anatomy
from spinelab.synth import bone_islands as bi
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_share,
    centre_of,
    chest_grid,
    curved_spine,
    render_with_and_without,
)

SPINE = list(anatomy.STANDARD_LABELS)


def test_bone_islands_are_drawn_as_in_the_study():
    rng = np.random.default_rng(0)
    draws = [bi.draw_bone_islands(rng, SPINE) for _ in range(20000)]
    some = [d for d in draws if d]
    p = bi.P_BONE_ISLANDS
    assert_share(len(some), len(draws), p)
    n = np.array([len(d) for d in some])
    assert abs((n == 1).mean() - 13.0 / 41.0) < 0.02  # 13 of the 41 patients had one
    islands = [x for d in some for x in d]
    total = sum(bi.ISLAND_SITES.values())
    for site, w in bi.ISLAND_SITES.items():
        assert abs(np.mean([x.site == site for x in islands]) - w / total) < 0.02
    d = np.array([x.diameter_mm for x in islands])
    assert d.min() >= bi.ISLAND_MM[0] and d.max() <= bi.ISLAND_MM[1]
    verts = {x.where for x in islands if x.site == "vertebra"}
    assert verts <= set(SPINE[1:24])  # C2-L5


def test_an_island_is_a_ball_with_spicules():
    island = bi.BoneIsland("femur", "left", (0.0, 0.0, 0.0), 10.0, ((0.0, 0.0, 1.0),) * 6)
    g = np.mgrid[-10:10.01:0.25, -10:10.01:0.25, -10:10.01:0.25]
    v = np.moveaxis(g, 0, -1)
    m = bi.island_mask(island, v)
    ball = (4.0 / 3.0) * np.pi * 5.0**3
    vol = m.sum() * 0.25**3
    assert ball < vol < 1.2 * ball
    # the spicule reaches 1.6 radii along +z and nowhere else beyond the ball
    r = np.sqrt((v * v).sum(axis=-1))
    out = m & (r > 5.2)
    assert out.any() and (v[out][:, 2] > 0).all()
    assert r[m].max() <= 8.0 + 1e-6


@pytest.fixture(scope="module")
def l1_maps():
    """L1 of the fixture spine at 0.75 mm without and with a 6 mm island in its body."""
    spine = curved_spine()
    c = centre_of(spine, "L1")
    grid = chest_grid(spine, c[2] + 18.0, c[2] - 18.0, sp=0.75)
    dirs = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)) * 2
    island = bi.BoneIsland("vertebra", "L1", (0.2, -0.2, 0.1), 6.0, dirs)
    return render_with_and_without(spine, grid, bone_islands=(island,))


def test_a_vertebral_island_is_compact_bone_in_its_body(l1_maps):
    plain, with_it = l1_maps
    assert (plain.vertebrae == with_it.vertebrae).all()
    changed = plain.tissue != with_it.tissue
    assert (with_it.tissue[changed] == Tissue.CORTICAL).all()
    assert np.isin(plain.tissue[changed], bi.CORES).all()
    assert (plain.vertebrae[changed] == anatomy.by_name("L1").verse_id).all()
    vol = changed.sum() * float(np.prod(plain.grid.spacing_mm))
    assert 0.8 * (4.0 / 3.0) * np.pi * 3.0**3 < vol < 1.5 * (4.0 / 3.0) * np.pi * 3.0**3
    assert ndi.label(changed)[1] == 1  # one island


def test_islands_of_the_hip_bone_and_femur_are_compact_bone_in_their_cores():
    """The fixture spine's pelvis (1.5 mm) without and with an island in the left hip bone
    and one in the right femur: compact bone only where a bone's core was, beside the hips."""
    spine = curved_spine()
    s1 = centre_of(spine, "S1")
    grid = chest_grid(spine, s1[2] + 10.0, s1[2] - 150.0, sp=1.5)
    dirs = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)) * 2
    islands = (
        bi.BoneIsland("hip bone", "left", (0.0, 0.0, 0.0), 8.0, dirs),
        bi.BoneIsland("femur", "right", (0.0, 0.0, 0.0), 8.0, dirs),
    )
    plain, with_them = render_with_and_without(spine, grid, bone_islands=islands)
    assert (plain.vertebrae == with_them.vertebrae).all()
    changed = plain.tissue != with_them.tissue
    assert (with_them.tissue[changed] == Tissue.CORTICAL).all()
    assert np.isin(plain.tissue[changed], bi.CORES).all()
    # (a spicule sampled at 1.5 mm may come apart from its island: group within 3 mm)
    grouped, n = ndi.label(ndi.binary_dilation(changed, iterations=2))
    assert n == 2
    pieces = np.where(changed, grouped, 0)
    g = plain.grid
    xs = g.axis_mm(0)
    x_mid = float(spine.centres_mm[spine.labels.index("S1"), 0])
    sides = []
    for i in (1, 2):
        m = pieces == i
        vol = m.sum() * float(np.prod(g.spacing_mm))
        assert 0.6 * (4.0 / 3.0) * np.pi * 4.0**3 < vol < 1.6 * (4.0 / 3.0) * np.pi * 4.0**3
        sides.append(np.sign(xs[np.nonzero(m)[2]].mean() - x_mid))
    assert sorted(sides) == [-1.0, 1.0]  # one each side (LPS +x: the left)
