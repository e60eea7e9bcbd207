"""The stomach's content and the vessels in the upper abdomen's fat (``spinelab.synth.organs``).

The same case rendered twice on a 1.5 mm grid over T10-T12, once with food in the stomach and
once with fluid only (``organs.STOMACH_P_FOOD`` set to 1 and 0: the stomach's shape and the
other draws are the same). The real references: the TotalSegmentator example CT (3 mm,
unenhanced) shows a gas-filled fundus over mottled food with gas dots; its DICOM slab (0.98 mm,
enhanced) a mottled content and many small vessels in the fat round the stomach, which the
last tests measure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth import organs
from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of, chest_grid

#: The real DICOM slab (canonical array: L, P, S increasing), its slices 12-19: a box inside
#: the stomach's content and one inside the liver, and what they read (2026-12-05): the
#: stomach 29 / 69 / 104 HU at the 10th / 50th / 90th percentile, SD 32.3, SD of the means
#: over 5 x 5 pixels 22.2; the liver 84 / 100 / 117, 12.9, 6.0.
SLAB_STOMACH_BOX = (slice(300, 335), slice(255, 295), slice(12, 20))
SLAB_LIVER_BOX = (slice(150, 200), slice(250, 290), slice(12, 20))
_STOMACH_TISSUES = (Tissue.GUT_FLUID, Tissue.SOFT, Tissue.GAS)


@pytest.fixture(scope="module")
def food_and_fluid(trunk_spine):
    """The T10-T12 trunk rendered with food in the stomach and with fluid only (seed 0)."""
    spine = trunk_spine
    z_top = centre_of(spine, "T10")[2] + 10.0
    z_bot = centre_of(spine, "T12")[2] - 10.0
    grid = chest_grid(spine, z_top, z_bot)
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, p in (("food", 1.0), ("fluid", 0.0)):
            mp.setattr(organs, "STOMACH_P_FOOD", p)
            out[name] = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    return spine, out["food"], out["fluid"]


def _lumen(spine, res):
    """The fluid render's stomach lumen: water left of and in front of the spine."""
    g = res.grid
    x, y = g.axis_mm(0), g.axis_mm(1)
    c = centre_of(spine, "T11")
    region = (x[None, None, :] > c[0] + 20.0) & (y[None, :, None] < c[1] - 25.0)
    return (res.tissue == Tissue.GUT_FLUID) & region


def test_a_fasting_stomach_holds_fluid_and_a_fed_one_food_at_the_back(food_and_fluid):
    """Old design: the lumen's content was soft tissue like the wall, the same in every case."""
    spine, food, fluid = food_and_fluid
    lumen = _lumen(spine, fluid)
    assert lumen.sum() > 5000  # a fluid-filled lumen (1.5 mm voxels: > 17 ml)
    # the fed stomach: the same lumen, partly food; its tissues are the content's only (no
    # fat, so the vessels painted into fat afterwards never reach it)
    fed = food.tissue[lumen]
    assert np.isin(fed, _STOMACH_TISSUES).all()
    changed = lumen & (food.tissue != Tissue.GUT_FLUID)
    share = changed.sum() / lumen.sum()
    assert 0.2 < share < 0.95, share
    # supine, the food lies at the back (dependent) and the fluid in front of it: food is
    # most of the lumen's back quarter and little of its front quarter
    y = food.grid.axis_mm(1)[None, :, None]
    lo, hi = np.percentile(np.broadcast_to(y, lumen.shape)[lumen], [25, 75])
    front, back = (
        (changed & (y < lo)).sum() / (lumen & (y < lo)).sum(),
        (changed & (y > hi)).sum() / (lumen & (y > hi)).sum(),
    )
    assert front < 0.35 < 0.6 < back, (front, back)


def test_food_is_a_mottle_of_soft_matter_water_and_gas_bubbles(food_and_fluid):
    """The shares of the food's make-up (:data:`organs.STOMACH_FOOD_WATER` etc.) and the
    bubbles' size: round pockets a few mm across, not single voxels."""
    spine, food, fluid = food_and_fluid
    lumen = _lumen(spine, fluid)
    # the food: the lumen behind the food's level, 8 mm clear of it (its surface is rough)
    y = food.grid.axis_mm(1)
    changed = lumen & (food.tissue != Tissue.GUT_FLUID)
    level = np.percentile(y[np.nonzero(changed)[1]], 5) + 8.0
    deep = lumen & (y[None, :, None] > level)
    t = food.tissue[deep]
    shares = {tis: float(np.mean(t == tis)) for tis in _STOMACH_TISSUES}
    assert 0.15 < shares[Tissue.GUT_FLUID] < 0.45, shares
    assert 0.01 < shares[Tissue.GAS] < 0.07, shares
    assert shares[Tissue.SOFT] > 0.4, shares
    bubbles, n = ndi.label(deep & (food.tissue == Tissue.GAS))
    assert n >= 5
    sizes = np.bincount(bubbles.ravel())[1:]
    assert np.median(sizes) >= 4, sizes  # 1.5 mm voxels: about 3 mm across or more


@pytest.mark.shared_data
def test_the_real_stomach_content_is_mottled(shared_data):
    """The real slab's figures (kept in this module's constants): its stomach's content varies
    over 5 mm more than three times as much as its liver (which is noise)."""
    from spinelab.io.images import read_image
    from spinelab.synth.realism import canonical

    slab = read_image(shared_data / "ct" / "totalsegmentator_example" / "dicom_slab")
    a, _, _ = canonical(slab.array.astype(np.float32), slab.affine_lps)
    figures = []
    for box in (SLAB_STOMACH_BOX, SLAB_LIVER_BOX):
        r = a[box]
        means = ndi.uniform_filter(r, (5, 5, 1))[2:-2, 2:-2]
        figures.append((*np.percentile(r, [10, 50, 90]), r.std(), means.std()))
    assert figures[0] == pytest.approx((29.0, 69.0, 104.0, 32.3, 22.2), abs=0.6)
    assert figures[1] == pytest.approx((84.0, 100.0, 117.0, 12.9, 6.0), abs=0.6)
    assert figures[0][4] > 3.0 * figures[1][4]


def test_small_vessels_run_through_the_fat_round_the_stomach(food_and_fluid):
    """Small blood-filled sections (up to 20 voxels of 1.5 mm, every voxel touching fat) in the
    fat in front of the spine at T10-T12: 11 per slice (10th-90th percentile 7-16), 1.3 per
    1000 mm2 of that fat (the real slab's small bright sections in fat, vessels and enhancing
    bowel alike: 1.7, :func:`test_the_real_upper_abdominal_fat_holds_vessels`). Old design
    (the mesenteric vessels stopped at the small bowel's top): 1 (0-2)."""
    spine, food, _ = food_and_fluid
    t, g = food.tissue, food.grid
    x, y = g.axis_mm(0), g.axis_mm(1)
    c = centre_of(spine, "T11")
    region = (y[:, None] < c[1] - 15.0) & (np.abs(x[None, :] - c[0]) < 150.0)
    counts = []
    for k in range(t.shape[0]):
        lab, _ = ndi.label((t[k] == Tissue.BLOOD) & region)
        near_fat = ndi.binary_dilation(t[k] == Tissue.FAT)
        sizes = np.bincount(lab.ravel())
        outside = np.bincount(lab[~near_fat].ravel(), minlength=len(sizes))
        counts.append(int(np.sum((sizes[1:] <= 20) & (outside[1:] == 0))))
    assert np.median(counts) >= 6, counts


def _vessel_dots(sl: np.ndarray, pixel_mm: float) -> int:
    """Small bright sections (above 90 HU, 2-30 mm2) with fat (-190..-30 HU) in at least 30 %
    of a ring 2-4 pixels outside them: contrast-filled vessels in fat."""
    fat = (sl > -190) & (sl < -30)
    lab, _ = ndi.label(sl > 90)
    area = np.bincount(lab.ravel())[1:] * pixel_mm**2
    n = 0
    for i, box in enumerate(ndi.find_objects(lab)):
        if not 2.0 <= area[i] <= 30.0:
            continue
        sub = tuple(slice(max(b.start - 5, 0), b.stop + 5) for b in box)
        m = lab[sub] == i + 1
        ring = ndi.binary_dilation(m, iterations=4) & ~ndi.binary_dilation(m, iterations=2)
        n += bool(fat[sub][ring].mean() > 0.3)
    return n


@pytest.mark.shared_data
def test_the_real_upper_abdominal_fat_holds_vessels(shared_data):
    """The real slab (enhanced), left of and in front of the spine round the stomach: 8.5
    vessel sections per slice (4-13 over its 20 slices), 1.6 per 1000 pixels of fat there.
    Generated contrast cases at its pixels (0.98 x 0.98 x 2 mm, seeds 1 / 3 / 4 of
    ``case_seed(0, .)``, T12 +-20 mm) had 0.34-0.52 per 1000 before the upper abdomen's
    vessels (:meth:`organs.OrganPlan.paint_vessels`) and the enhancing gut wall; with the wall
    and without the vessels 1.25-2.04 (the measure counts enhancing bowel too), with both
    2.14-2.39."""
    from spinelab.io.images import read_image
    from spinelab.synth.realism import canonical

    slab = read_image(shared_data / "ct" / "totalsegmentator_example" / "dicom_slab")
    a, sp, _ = canonical(slab.array.astype(np.float32), slab.affine_lps)
    slices = [a[270:420, 170:320, k] for k in range(a.shape[2])]
    counts = np.array([_vessel_dots(sl, float(sp[0])) for sl in slices])
    fat = np.array([np.mean((sl > -190) & (sl < -30)) for sl in slices])
    assert np.median(counts) == pytest.approx(8.5)
    assert np.median(counts / (fat * 150 * 150) * 1000) == pytest.approx(1.62, abs=0.01)
