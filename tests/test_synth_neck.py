"""The neck's soft tissue (spinelab.synth.neck) on a rendered label map of the fixture spine:
airway with its cartilages, the thyroid gland, the carotid sheaths, fat spaces.

Before: a muscle ellipse holding a round trachea, a small oesophagus and one pair of vessels at
every level from C1 to T1: no fat planes, no larynx, no thyroid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth.neck import KEYS, MANDIBLE_MM, Neck, mandible_lowest
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import HU_TABLE, Tissue, sample_hu_table

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.fixture(scope="module")
def neck():
    """The fixture spine's neck, C2 to T1, on a 1 mm grid: tissue map, grid, spine."""
    spine = curved_spine()
    cs = {n: spine.centres_mm[spine.labels.index(n)] for n in ("C2", "T1")}
    lo = np.minimum(cs["C2"], cs["T1"]) - np.array([90.0, 90.0, 10.0])
    hi = np.maximum(cs["C2"], cs["T1"]) + np.array([90.0, 90.0, 10.0])
    shape = tuple(int(v) for v in np.ceil(hi - lo)[::-1])
    grid = RenderGrid(tuple(lo), (1.0, 1.0, 1.0), shape)
    res = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    return res.tissue, grid, spine


def _slice(neck, name):
    """The axial slice through a level's centre and the pixel grid's x, y (mm)."""
    tissue, grid, spine = neck
    c = spine.centres_mm[spine.labels.index(name)]
    k = round((c[2] - grid.origin_mm[2]) / grid.spacing_mm[2])
    return tissue[k], grid.axis_mm(0), grid.axis_mm(1), c


def _midline(neck, name):
    """Tissue along the midline, front to back, and y (mm) of each sample."""
    t, x, y, c = _slice(neck, name)
    i = int(np.argmin(np.abs(x - c[0])))
    return t[:, i], y


def test_the_airway_runs_in_front_of_the_spine_inside_its_cartilages(neck):
    for name in ("C3", "C4", "C5", "C6", "C7"):
        col, _ = _midline(neck, name)
        gas = np.flatnonzero(col == Tissue.GAS)
        assert len(gas) >= 8, name  # an airway over 8 mm deep on the midline
    # the larynx (C4-C5): cartilage in front of the lumen only
    for name in ("C4", "C5"):
        col, _ = _midline(neck, name)
        gas = np.flatnonzero(col == Tissue.GAS)
        cart = np.flatnonzero(col == Tissue.CARTILAGE)
        assert len(cart) and cart.max() < gas.min(), name
        assert not (cart > gas.max()).any()
    # the cricoid at C6: a full ring, cartilage in front of and behind the lumen
    col, _ = _midline(neck, "C6")
    gas = np.flatnonzero(col == Tissue.GAS)
    cart = np.flatnonzero(col == Tissue.CARTILAGE)
    assert (cart < gas.min()).any() and (cart > gas.max()).any()


def test_thyroid_lobes_beside_the_trachea_below_the_larynx(neck):
    t, x, _, c = _slice(neck, "C7")
    thy = t == Tissue.THYROID
    lab, n = ndi.label(thy)
    assert n >= 2
    xs = [x[np.nonzero(lab == i)[1]].mean() - c[0] for i in range(1, n + 1)]
    assert min(xs) < -10.0 and max(xs) > 10.0  # a lobe each side
    assert not (_slice(neck, "C3")[0] == Tissue.THYROID).any()
    assert (_slice(neck, "C6")[0] == Tissue.THYROID).any()


def test_carotid_sheaths_and_fat_spaces(neck):
    for name in ("C3", "C5", "C7"):
        t, x, _, c = _slice(neck, name)
        lab, n = ndi.label(t == Tissue.BLOOD)
        sides = [np.sign(x[np.nonzero(lab == i)[1]].mean() - c[0]) for i in range(1, n + 1)]
        assert sides.count(1.0) >= 2 and sides.count(-1.0) >= 2, name  # artery and vein
        body = ~np.isin(t, (Tissue.AIR, Tissue.COUCH, Tissue.FOAM))
        fat = (t == Tissue.FAT)[body].mean()
        assert 0.15 < fat < 0.6, (name, fat)
        # the back's muscles in layers: fat on the midline behind the spinous processes
        col, yy = _midline(neck, name)
        behind = yy > c[1] + 45.0
        assert (col[behind] == Tissue.FAT).any()


def test_missing_levels_are_placed_a_level_apart():
    z_of = {"C3": 100.0, "C4": 80.0, "C5": 60.0, "C6": 40.0}
    nk = Neck(z_of, 1.0)
    np.testing.assert_allclose(nk.level_z("C1"), 140.0)
    np.testing.assert_allclose(nk.level_z("T1"), 0.0)
    assert [nk.level_z(k) for k in KEYS] == sorted((nk.level_z(k) for k in KEYS), reverse=True)


def test_the_thyroid_is_brighter_than_muscle_and_enhances():
    assert HU_TABLE[Tissue.THYROID][0] > HU_TABLE[Tissue.MUSCLE][0] + 30.0
    plain = sample_hu_table(np.random.default_rng(0))
    contrast = sample_hu_table(np.random.default_rng(0), contrast=True)
    assert contrast[Tissue.THYROID] > plain[Tissue.THYROID] + 20.0


@pytest.fixture(scope="module")
def head():
    """The fixture spine from C3 up into the skull on a 1 mm grid, 4 mm either side of the
    midline: tissue map, grid, spine."""
    spine = curved_spine()
    c1, c3 = (spine.centres_mm[spine.labels.index(n)] for n in ("C1", "C3"))
    lo = np.array([c3[0] - 2.0, c3[1] - 130.0, c3[2] - 15.0])
    hi = np.array([c3[0] + 2.0, c3[1] + 90.0, c1[2] + 60.0])
    shape = tuple(int(v) for v in np.ceil(hi - lo)[::-1])
    grid = RenderGrid(tuple(lo), (1.0, 1.0, 1.0), shape)
    res = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    return res.tissue[:, :, 2], grid, spine


def test_the_mandible_lies_in_the_jaws_soft_tissue(head):
    # the mandible hung in air in front of the neck (a black crescent between them in axial
    # slices); now the floor of the mouth and the tongue fill the U and the skin covers it
    tis, grid, spine = head
    c3 = spine.centres_mm[spine.labels.index("C3")]
    z = mandible_lowest(c3) + MANDIBLE_MM[6]  # the chin's middle height
    k = round((z - grid.origin_mm[2]) / grid.spacing_mm[2])
    col = tis[k]
    y = grid.axis_mm(1)
    bone = np.flatnonzero(np.isin(col, [Tissue.CORTICAL, Tissue.MARROW]) & (y < c3[1] - 40.0))
    assert len(bone), "no chin on the midline"
    front, back = bone.min(), bone.max()
    # soft tissue and skin in front of the chin, no air from the chin back to the spine
    assert np.isin(col[front - 4 : front], [Tissue.FAT, Tissue.MUSCLE]).all()
    body_front = c3[1] - spine.body_depth_mm[spine.labels.index("C3")] / 2
    behind = col[back + 1 : int(np.argmin(np.abs(y - body_front)))]
    assert not np.isin(behind, [Tissue.AIR]).any()
    # the body of the mandible is an upright plate (25-33 mm tall), not a 12 mm rod
    j = (front + back) // 2
    assert np.isin(tis[:, j], [Tissue.CORTICAL, Tissue.MARROW]).sum() >= 20


def test_the_skull_is_filled_with_brain(head):
    # above the neck's slices the skull's inside stayed air (a hollow skull), and so did the
    # foramen magnum
    tis, grid, spine = head
    c1 = spine.centres_mm[spine.labels.index("C1")]
    z = grid.axis_mm(2)
    y = grid.axis_mm(1)
    for dz in (20.0, 30.0, 50.0):
        k = int(np.argmin(np.abs(z - (c1[2] + dz))))
        j = int(np.argmin(np.abs(y - (c1[1] + 10.0))))
        assert tis[k, j] == Tissue.BRAIN, (dz, Tissue(tis[k, j]).name)


def test_the_foramen_magnum_is_one_opening_through_the_skull_base(head):
    # on the midline the skull base (the shell's bottom and the occipital plate) leaves one
    # opening about 35 mm from front to back above the canal (the real foramen magnum is about
    # 35 x 30 mm): 36 mm here; with the shell's hole 12 mm in front of the plate's, 33 mm
    tis, grid, spine = head
    c1 = spine.centres_mm[spine.labels.index("C1")]
    z, y = grid.axis_mm(2), grid.axis_mm(1)
    band = (z > c1[2] + 10.0) & (z < c1[2] + 45.0)
    bone = np.isin(tis[band], [Tissue.CORTICAL, Tissue.MARROW]).any(axis=0)
    j = int(np.argmin(np.abs(y - (c1[1] + 22.0))))
    assert not bone[j], "bone above the canal"
    front, back = j, j
    while front > 0 and not bone[front - 1]:
        front -= 1
    while back < len(bone) - 1 and not bone[back + 1]:
        back += 1
    length = float(y[back] - y[front]) + grid.spacing_mm[1]
    assert 30.0 <= length <= 40.0, length
    # the medulla fills it
    assert (tis[band][:, front : back + 1] == Tissue.BRAIN).mean() > 0.5
