"""Gallstones (spinelab.synth.organs.draw_gallstones, OrganPlan._gallstones).

About one adult in eight has gallstones; CT shows four in five of them, half densely
calcified, others with a dense rim, of soft-tissue or of fat density (Barakos et al.,
Radiology 1987). The generator's gallbladders held bile only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import organs
from spinelab.synth.organs import Gallstone
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_share,
    centre_of,
    chest_grid,
    curved_spine,
    render_with_and_without,
)


def test_gallstones_are_drawn_at_their_prevalence_and_kinds():
    rng = np.random.default_rng(0)
    draws = [organs.draw_gallstones(rng) for _ in range(20000)]
    some = [d for d in draws if d]
    p = organs.P_GALLSTONES * organs.P_GALLSTONES_SHOWN
    assert_share(len(some), len(draws), p)
    assert all(len({s.kind for s in d}) == 1 for d in some)  # one kind per case
    kinds = [d[0].kind for d in some]
    shares = np.asarray(organs.GALLSTONE_KIND_P) / sum(organs.GALLSTONE_KIND_P)
    for kind, share in zip(organs.GALLSTONE_KINDS, shares, strict=True):
        assert abs(kinds.count(kind) / len(kinds) - share) < 0.03
    single = [d for d in some if len(d) == 1]
    assert abs(len(single) / len(some) - organs.GALLSTONE_SINGLE) < 0.03
    lo, hi = organs.GALLSTONE_LARGE_MM
    assert all(lo <= d[0].diameter_mm <= hi for d in single)
    lo, hi = organs.GALLSTONE_SMALL_MM
    assert all(lo <= s.diameter_mm <= hi for d in some if len(d) > 1 for s in d)


@pytest.fixture(scope="module")
def gallbladder_maps():
    """T10 to L3 of the fixture spine at 1.5 mm (its renderer's seed 0 draws a gallbladder)
    without and with three stones: dense (8 mm), rimmed (6 mm), soft (5 mm)."""
    spine = curved_spine()
    grid = chest_grid(spine, centre_of(spine, "T10")[2], centre_of(spine, "L3")[2], sp=1.5)
    stones = (Gallstone(0.6, 8.0, "dense"), Gallstone(0.8, 6.0, "rim"), Gallstone(0.9, 5.0, "soft"))
    return render_with_and_without(spine, grid, gallstones=stones)


def test_gallstones_lie_in_the_bile_against_the_back_wall(gallbladder_maps):
    plain, with_stones = gallbladder_maps
    changed = plain.tissue != with_stones.tissue
    assert (plain.tissue[changed] == organs.GALLBLADDER_TISSUE).all()  # bile only
    new = with_stones.tissue[changed]
    assert set(np.unique(new)) == {Tissue.STONE, Tissue.SOFT}
    vox = float(np.prod(plain.grid.spacing_mm))
    ball = (4.0 / 3.0) * np.pi * (8.0**3 + 6.0**3 + 5.0**3) / 8.0
    assert 0.6 < changed.sum() * vox / ball < 1.4  # 135 voxels of 3.4 mm3 (2026-12-05)
    core = (new == Tissue.SOFT).sum() * vox
    assert core > 0.5 * (4.0 / 3.0) * np.pi * 2.5**3  # the soft stone, and the rim's core
    # dependent: on the slices with stones, they sit behind the bile's middle (LPS +y)
    pieces, _ = ndi.label(plain.tissue == organs.GALLBLADDER_TISSUE)  # water: CSF, urine too
    ids = np.unique(pieces[changed])
    assert len(ids) == 1  # one gallbladder
    bile = pieces == ids[0]
    ks = np.unique(np.nonzero(changed)[0])
    y_bile = np.nonzero(bile[ks])[1].mean()
    y_stone = np.nonzero(changed[ks])[1].mean()
    assert y_stone > y_bile + 2.0  # 3 mm or more (10.6 mm on 2026-12-05)
