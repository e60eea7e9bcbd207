"""Pelvic phleboliths (spinelab.synth.vessels.draw_phleboliths, paint_phleboliths).

Calcified thrombi in the pelvic veins are the commonest calcification in the pelvis (44 % of
adults on radiographs, Mattsson 1980): 2-5 mm bright dots in the lesser pelvis's fat, near
the ischial spines. The real example CT has one beside the left acetabulum; the generator's
pelvis had none.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab import anatomy
from spinelab.synth import vessels
from spinelab.synth.painter import Painter, RenderGrid
from spinelab.synth.realism import canonical
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_share, generate_with_and_without


def test_phleboliths_are_drawn_at_their_prevalence():
    rng = np.random.default_rng(0)
    draws = [vessels.draw_phleboliths(rng) for _ in range(20000)]
    some = [d for d in draws if d]
    p = vessels.P_PHLEBOLITHS
    assert_share(len(some), len(draws), p)
    stones = [s for d in some for s in d]
    assert abs(len(stones) / len(some) - (1.0 + vessels.PHLEBOLITHS_EXTRA)) < 0.05
    left = np.mean([s.offset_mm[0] > 0 for s in stones])  # LPS +x: the patient's left
    assert abs(left - vessels.P_PHLEBOLITH_LEFT) < 0.02
    d = np.array([s.diameter_mm for s in stones])
    assert d.min() >= vessels.PHLEBOLITH_MM[0] and d.max() <= vessels.PHLEBOLITH_MM[1]
    hollow = np.array([s.hollow for s in stones])
    big = d >= vessels.PHLEBOLITH_HOLLOW_MM
    assert not hollow[~big].any()
    assert abs(hollow[big].mean() - vessels.P_PHLEBOLITH_HOLLOW) < 0.03
    x = np.abs([s.offset_mm[0] for s in stones])
    assert x.min() >= vessels.PHLEBOLITH_X_MM[0] and x.max() <= vessels.PHLEBOLITH_X_MM[1]


@pytest.fixture(scope="module")
def pelvis_pair():
    """A lumbar case reaching 110 mm below S2 (1.5 mm) drawn without and with its
    phleboliths (seed 5: three; a side stream, so nothing else differs)."""
    cfg = {
        "fov": "lumbar",
        "spacing_mm": (1.5, 1.5, 1.5),
        "random_orientation": False,
        "pelvis_mm_range": (110.0, 110.0),
    }
    return generate_with_and_without(5, ("p_phleboliths",), **cfg)


def test_phleboliths_are_bright_dots_in_the_lesser_pelvis(pelvis_pair):
    """Each drawn phlebolith is one bright dot, in the lesser pelvis (below S1, within 70 mm
    of the midline), off the vertebrae's labels; the image is otherwise the same (but for the
    blur round the dots)."""
    plain, with_them = pelvis_pair
    assert plain.meta["anatomy"]["phleboliths"] == ()
    drawn = with_them.meta["anatomy"]["phleboliths"]
    assert len(drawn) >= 2
    a, sp, _ = canonical(plain.ct.array, plain.ct.affine_lps)
    b, _, _ = canonical(with_them.ct.array, with_them.ct.affine_lps)
    lab, _, _ = canonical(plain.labels.array, plain.labels.affine_lps)
    assert (plain.labels.array == with_them.labels.array).all()
    diff = b.astype(np.int32) - a.astype(np.int32)
    dots, n = ndi.label(diff > 150)
    assert n == len(drawn)
    assert (lab[dots > 0] == 0).all()
    s1 = np.argwhere(lab == anatomy.by_name("S1").verse_id).mean(axis=0)
    for i in range(1, n + 1):
        m = dots == i
        rel = (np.argwhere(m).mean(axis=0) - s1) * sp
        assert abs(rel[0]) < 70.0 and -160.0 < rel[2] < -60.0
        assert b[m].max() > 400  # 1.5 mm voxels over a 2-5 mm calcification
        assert m.sum() * float(np.prod(sp)) < 200.0  # a dot (a 5 mm ball is 65 mm3)
    # nothing changed more than 8 mm from a dot (the kernel's blur, the noise the same)
    far = ndi.distance_transform_edt(dots == 0, sampling=sp) > 8.0
    assert np.abs(diff[far]).max() <= 20


def test_a_phlebolith_lands_in_the_nearest_fat_and_a_hollow_one_has_a_soft_centre():
    """On a 0.25 mm grid of muscle with a block of fat: a phlebolith drawn in the muscle moves
    into the fat, whole, near its edge, and a hollow one keeps a soft core."""
    grid = RenderGrid((-20.0, -20.0, -20.0), (0.25, 0.25, 0.25), (160, 160, 160))
    pt = Painter(grid)
    pt.tissue[:] = Tissue.MUSCLE
    pt.tissue[:, :, 100:] = Tissue.FAT  # x > 5 mm
    hips = np.zeros((2, 3))
    stone = vessels.Phlebolith((0.0, 0.0, 0.0), 4.5, True)
    vessels.paint_phleboliths(pt, hips, 1.0, (stone,))
    calc = np.argwhere(np.isin(pt.tissue, (Tissue.STONE, Tissue.SOFT)))
    xyz = np.asarray(grid.origin_mm) + calc[:, ::-1] * np.asarray(grid.spacing_mm)
    assert xyz[:, 0].min() >= 4.8  # in the fat
    assert xyz[:, 0].max() < 5.0 + 4.5 + 1.5  # near the fat's edge, the nearest place
    ball = (4.0 / 3.0) * np.pi * 2.25**3 / 0.25**3
    assert abs(len(calc) / ball - 1.0) < 0.1  # whole, not cut by the muscle
    core = np.argwhere(pt.tissue == Tissue.SOFT)
    assert len(core) > 0.7 * (4.0 / 3.0) * np.pi * 0.75**3 / 0.25**3
    centre = xyz.mean(axis=0)
    core_xyz = np.asarray(grid.origin_mm) + core[:, ::-1] * np.asarray(grid.spacing_mm)
    assert np.linalg.norm(core_xyz - centre, axis=1).max() < 0.75 + 0.3
    assert (pt.tissue[:, :, :100] == Tissue.MUSCLE).all()  # the muscle untouched
    # drawn farther than the search from any fat: none
    pt2 = Painter(grid)
    pt2.tissue[:] = Tissue.MUSCLE
    vessels.paint_phleboliths(pt2, hips, 1.0, (stone,))
    assert not (pt2.tissue == Tissue.STONE).any()
