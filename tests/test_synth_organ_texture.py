"""Inner structure of the solid organs of the synthetic CT (``spinelab.synth.organs``): portal
veins and gallbladder in the liver, renal cortex and medulla, the pancreas's lobules and fat
septa, the heart's chambers, and the HU of these classes with and without contrast.

Measured on the tissue map of the hand-built test spine at 2 mm (as in test_synth_organs.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth.tissues import Tissue, sample_hu_table

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of, render_t5_l4


@pytest.fixture(scope="module")
def marked(trunk_spine):
    """The same case with the portal veins painted as BRAIN and the gallbladder as METAL
    (classes not otherwise found in the abdomen), so the tests can find them."""
    from spinelab.synth import organs

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(organs, "PORTAL_TISSUE", Tissue.BRAIN)
        mp.setattr(organs, "GALLBLADDER_TISSUE", Tissue.METAL)
        return render_t5_l4(trunk_spine)


def _below_head(res, trunk_spine):
    """Mask of the slices below T9 (the skull's BRAIN and METAL-free region of the fixture)."""
    g = res.grid
    keep = np.ones(g.shape_kji[0], dtype=bool)
    keep[g.index_range(2, centre_of(trunk_spine, "T9")[2], g.axis_mm(2)[-1] + 1.0)[0] :] = False
    return keep[:, None, None]


def test_portal_vein_enters_at_the_porta_and_branches_into_both_lobes(trunk_spine, marked):
    """A main portal vein (12-13 mm) rises from behind the pancreas to the porta hepatis and
    branches, tapering, into the right lobe and across the midline into the left lobe; its
    branches lie inside the liver. Old design: no portal veins (the class swap raises)."""
    res = marked
    g = res.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    pv = (res.tissue == Tissue.BRAIN) & _below_head(res, trunk_spine)
    kk, jj, ii = np.nonzero(pv)
    vol_ml = pv.sum() * np.prod(g.spacing_mm) / 1000.0
    assert 8.0 < vol_ml < 60.0
    xs = centre_of(trunk_spine, "L1")[0]
    # into the right lobe far lateral, and across the midline into the left lobe
    assert x[ii].min() < xs - 90.0
    assert x[ii].max() > xs + 5.0
    # spans several centimetres along z (ascending and descending segmental branches)
    assert np.ptp(z[kk]) > 60.0
    # the trunk: thickest (12-13 mm) in the lower, medial part; the peripheral branches taper
    dist = ndi.distance_transform_edt(pv, sampling=g.spacing_mm[::-1])
    medial = np.abs(x[ii] - (xs - 25.0)) < 25.0
    lateral = x[ii] < xs - 80.0
    d = dist[kk, jj, ii]
    assert 2.0 * d[medial].max() >= 9.0
    assert d[lateral].max() < 0.7 * d[medial].max()
    # the branches lie in the liver: most of the tree's surface touches liver (or the thin
    # periportal fat around it)
    shell = ndi.binary_dilation(pv) & ~pv
    around = res.tissue[shell]
    assert np.isin(around, (Tissue.LIVER, Tissue.FAT)).mean() > 0.8
    assert (around == Tissue.LIVER).mean() > 0.35
    # the main portal vein lies in front of the inferior vena cava
    y_ivc = centre_of(trunk_spine, "L1")[1] - 20.0
    assert y[jj[medial]].mean() < y_ivc


def test_gallbladder_is_a_fluid_pear_under_the_right_lobe(trunk_spine, marked):
    """Seed 0 draws a gallbladder: 15-60 ml of bile, right of the midline and anterior, below
    the porta, its fundus the widest part, partly surrounded by liver. Old design: none."""
    res = marked
    g = res.grid
    x, y = g.axis_mm(0), g.axis_mm(1)
    gb = (res.tissue == Tissue.METAL) & _below_head(res, trunk_spine)
    kk, jj, ii = np.nonzero(gb)
    vol_ml = gb.sum() * np.prod(g.spacing_mm) / 1000.0
    assert 12.0 < vol_ml < 70.0
    c = centre_of(trunk_spine, "T12")
    assert x[ii].mean() < c[0] - 25.0
    assert y[jj].mean() < c[1] - 50.0
    # a pear: wider at the bottom (fundus) than the top (neck)
    area = np.bincount(kk - kk.min())
    lo, hi = area[: len(area) // 3].max(), area[-(len(area) // 3) :].max()
    assert lo > 1.5 * hi
    shell = ndi.binary_dilation(gb) & ~gb
    assert (res.tissue[shell] == Tissue.LIVER).mean() > 0.3


def test_kidneys_have_cortex_outside_and_medullary_pyramids_inside(trunk_spine, trunk_case):
    """Each kidney: 20-45 % of its parenchyma is medulla (pyramids), the medulla does not reach
    the kidney's surface (the cortex, 6-10 mm, wraps it), and the pyramids lie between the
    cortex and the renal sinus. Old design: one uniform class (no medulla)."""
    g = trunk_case.grid
    x = g.axis_mm(0)
    xs = centre_of(trunk_spine, "L1")[0]
    for side in (1.0, -1.0):
        half = ((x - xs) * side > 0)[None, None, :]
        cortex = (trunk_case.tissue == Tissue.KIDNEY) & half
        med = (trunk_case.tissue == Tissue.MEDULLA) & half
        share = med.sum() / (med.sum() + cortex.sum())
        assert 0.15 < share < 0.45
        # the outer surface (next to perirenal fat) is cortex
        paren = cortex | med
        surface = paren & ndi.binary_dilation(trunk_case.tissue == Tissue.FAT) & half
        renal_sinus = ndi.binary_dilation(paren, iterations=3) & ~paren
        assert (med & surface).sum() < 0.25 * surface.sum()
        # the medulla lies deeper than most cortex: its distance from outside the kidney is
        # larger
        solid = ndi.binary_fill_holes(paren | renal_sinus)
        depth = ndi.distance_transform_edt(solid, sampling=g.spacing_mm[::-1])
        assert np.median(depth[med]) > np.median(depth[cortex]) + 1.5


def test_medulla_enhances_late_and_matches_the_cortex_without_contrast():
    """Without contrast cortex and medulla read the same (within 3 HU). With contrast the
    corticomedullary phase (medulla typically 60+ HU below the cortex) is drawn in about 45 % of scans,
    otherwise the parenchyma is nearly uniform (within 35 HU, most within 15). Old design: no medulla class."""
    rng = np.random.default_rng(0)
    plain = np.array([sample_hu_table(rng) for _ in range(200)])
    enh = np.array([sample_hu_table(rng, contrast=True) for _ in range(400)])
    k, m = Tissue.KIDNEY, Tissue.MEDULLA
    assert np.all(np.abs(plain[:, k] - plain[:, m]) < 3.0)
    gap = enh[:, k] - enh[:, m]
    assert np.all(gap >= 0.0)
    # the medulla's share of the cortex's enhancement is missing early, nearly all there late
    missing = gap / (enh[:, k] - 32.0)
    early = missing > 0.3
    assert 0.3 < early.mean() < 0.6
    assert np.median(gap[early]) > 60.0
    assert np.all(missing[~early] < 0.15) and np.all(gap[~early] < 35.0)
    assert np.median(gap[~early]) < 15.0


def test_pancreas_has_its_own_density_and_fat_between_lobules(trunk_spine, trunk_case):
    """The pancreas: its own class, 40-50 HU without contrast (above the spleen's lower range
    and below the liver), 85-130 with contrast; 3-30 % of the gland's outline is fat between
    its lobules (septa). Old design: generic soft tissue (30 HU, no enhancement), no fat
    inside."""
    rng = np.random.default_rng(1)
    plain = np.array([sample_hu_table(rng) for _ in range(200)])
    enh = np.array([sample_hu_table(rng, contrast=True) for _ in range(200)])
    p = Tissue.PANCREAS
    assert 38.0 < plain[:, p].mean() < 50.0 and np.all(plain[:, p] > 25.0)
    assert 85.0 < enh[:, p].mean() < 130.0
    assert np.all(plain[:, Tissue.ADRENAL] < plain[:, p] + 15.0)
    res = trunk_case
    g = res.grid
    pan = (res.tissue == Tissue.PANCREAS) & _below_head(res, trunk_spine)
    assert pan.sum() * np.prod(g.spacing_mm) / 1000.0 > 25.0
    kk = np.unique(np.nonzero(pan)[0])
    fat_in, total = 0, 0
    for k in kk:
        env = ndi.binary_fill_holes(ndi.binary_closing(pan[k]))
        fat_in += int((env & (res.tissue[k] == Tissue.FAT)).sum())
        total += int(env.sum())
    assert 0.03 < fat_in / total < 0.3


def test_heart_has_myocardium_around_blood_filled_chambers(trunk_spine, trunk_case):
    """On the heart's slices the myocardium (its own class) surrounds blood-filled ventricles:
    the left ventricle's cavity is enclosed by muscle (no contact with the lung or fat), and
    with contrast the blood pool is far brighter than the wall, without contrast the wall is
    a few HU above the blood.
    Old design: one blood-filled cone."""
    g = trunk_case.grid
    y = g.axis_mm(1)
    k0, k1 = g.index_range(2, centre_of(trunk_spine, "T10")[2], centre_of(trunk_spine, "T8")[2])
    front = (y < centre_of(trunk_spine, "T9")[1] - 25.0)[None, :, None]
    myo = (trunk_case.tissue[k0:k1] == Tissue.MYOCARDIUM) & front
    blood = (trunk_case.tissue[k0:k1] == Tissue.BLOOD) & front
    assert myo.sum() > 2000
    enclosed = 0
    for k in range(k1 - k0):
        lab, n = ndi.label(blood[k])
        for i in range(1, n + 1):
            cav = lab == i
            if cav.sum() < 50:
                continue
            ring = ndi.binary_dilation(cav) & ~cav
            if (trunk_case.tissue[k0 + k][ring] == Tissue.MYOCARDIUM).mean() > 0.9:
                enclosed += 1
    assert enclosed >= 5
    rng = np.random.default_rng(2)
    plain = np.array([sample_hu_table(rng) for _ in range(200)])
    enh = np.array([sample_hu_table(rng, contrast=True) for _ in range(200)])
    b, m = Tissue.BLOOD, Tissue.MYOCARDIUM
    diff = plain[:, m] - plain[:, b]
    assert np.all(np.abs(diff) < 30.0) and 2.0 < diff.mean() < 12.0
    assert np.mean(enh[:, b] - enh[:, m] > 30.0) > 0.7
    assert np.mean(enh[:, b] - enh[:, m]) > 50.0
