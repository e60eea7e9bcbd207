"""Kidney stones (spinelab.synth.organs.draw_kidney_stones, Tissue.STONE).

The real example CT (TotalSegmentator, 3 mm, unenhanced) has stones in both kidneys: small
bright spots in the renal sinus, 3 mm voxels up to 1,288 HU. The generator's kidneys had
none; on CT colonography screening of 5,047 adults 7.8 % had urinary stones (Boyce et al.,
J Urol 2010), a distractor beside the upper lumbar spine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial import Delaunay

from spinelab.synth import organs
from spinelab.synth.organs import KidneyStone, draw_kidney_stones
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of, chest_grid, curved_spine, render_with_and_without


def test_stones_are_drawn_at_their_screening_prevalence_count_and_size():
    rng = np.random.default_rng(0)
    draws = [draw_kidney_stones(rng) for _ in range(20000)]
    cases = [d for d in draws if d]
    assert abs(len(cases) / len(draws) - organs.P_KIDNEY_STONES) < 0.006
    assert abs(np.mean([len(d) for d in cases]) - 2.1) < 0.15  # 2.1 per case
    sizes = np.array([s.diameter_mm for d in cases for s in d])
    assert abs(sizes.mean() - 3.0) < 0.25  # 3.0 mm on average
    assert sizes.min() >= 1.0 and sizes.max() <= 20.0
    ws = np.array([s.w for d in cases for s in d])
    assert np.mean(ws < 0) > 0.5  # more in the lower half
    assert {s.kidney for d in cases for s in d} == {0, 1}
    assert draw_kidney_stones(np.random.default_rng(1), p=0.0) == ()


@pytest.fixture(scope="module")
def kidney_maps():
    """T12 to L3 of the fixture spine on a 1.5 mm grid, with five stones and without."""
    spine = curved_spine()
    grid = chest_grid(spine, centre_of(spine, "T12")[2] + 20.0, centre_of(spine, "L3")[2], sp=1.5)
    stones = (
        KidneyStone(0, -0.4, 0.0, 0.0, 5.0),
        KidneyStone(0, -0.3, 0.2, -0.5, 3.0),
        KidneyStone(1, -0.5, -0.1, -0.3, 6.0),
        KidneyStone(1, -0.2, 0.1, 0.4, 4.0),
        KidneyStone(1, -0.35, 0.0, -0.7, 3.5),
    )
    plain, with_s = render_with_and_without(spine, grid, kidney_stones=stones)
    return with_s, plain


def test_stones_lie_in_the_kidneys_sinus_and_calyces(kidney_maps):
    res, plain = kidney_maps
    stone = res.tissue == Tissue.STONE
    pieces, n = ndi.label(stone)
    assert n == 5
    assert np.array_equal(res.tissue != plain.tissue, stone)
    assert np.isin(
        plain.tissue[stone], (Tissue.KIDNEY, Tissue.MEDULLA, Tissue.FAT, Tissue.WATER)
    ).all()
    # inside a kidney's outline (the convex hull of its parenchyma on the slice: the sinus
    # opens medially), not in the perirenal fat
    kidney = np.isin(plain.tissue, (Tissue.KIDNEY, Tissue.MEDULLA))
    for k in np.unique(np.nonzero(stone)[0]):
        parts, m = ndi.label(kidney[k])
        pts = np.argwhere(stone[k])
        inside = np.zeros(len(pts), dtype=bool)
        for i in range(1, m + 1):
            if (parts == i).sum() < 10:  # a pole's last pixels: no hull
                continue
            hull = Delaunay(np.argwhere(parts == i))
            inside |= hull.find_simplex(pts) >= 0
        assert inside.all(), k
    # each stone about its drawn size: volume within a factor 2 of the ball's
    vox = float(np.prod(res.grid.spacing_mm))
    vols = np.sort(np.bincount(pieces.ravel())[1:] * vox)
    balls = np.sort([np.pi / 6 * d**3 for d in (5.0, 3.0, 6.0, 4.0, 3.5)])
    assert np.all(vols > 0.5 * balls) and np.all(vols < 2.0 * balls)
