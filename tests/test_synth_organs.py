"""Solid organs, lung bases and heart of the synthetic CT (``spinelab.synth.organs``).

Measured on the tissue map of the hand-built test spine at 2 mm. Reference values: the real
TotalSegmentator example CT has lung in about 10% of the body section at T11 and 5.5% at T12
(thin posterior recesses; the liver fills most of the right and middle of the section).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of, render_t5_l4


def _slice(res, z: float):
    return res.tissue[res.grid.index_range(2, z - 1.0, z + 1.0)[0]]


def test_lung_bases_are_thin_posterior_recesses(trunk_spine, trunk_case):
    """Old design (paraboloid/steep-rim dome without the anterior attachment): 13-14% lung at
    T11 and 8.5% at T12."""
    y = trunk_case.grid.axis_mm(1)
    frac = {}
    for label in ("T11", "T12"):
        sl = _slice(trunk_case, centre_of(trunk_spine, label)[2])
        body = sl != Tissue.AIR
        frac[label] = float(np.mean(sl[body] == Tissue.LUNG))
    assert 0.06 < frac["T11"] < 0.125
    assert 0.03 < frac["T12"] < 0.075
    # the recesses are posterior: much of the lung at T12 lies behind the vertebral body's
    # centre (real example CT: 0.54, the body's centre taken 15 mm behind its front; here 0.42,
    # 0.65 while the lungs reached past the ribs behind)
    sl = _slice(trunk_case, centre_of(trunk_spine, "T12")[2]) == Tissue.LUNG
    behind = y[:, None] > centre_of(trunk_spine, "T12")[1]
    assert (sl & behind).sum() > 0.4 * sl.sum()


def test_liver_fills_the_right_upper_abdomen_and_crosses_the_midline(trunk_spine, trunk_case):
    """Old design (an ellipsoid in the right half): 21% of T11's section, no liver more than
    30 mm left of the spine, 3% at L1, lowest point 32 mm above L2's centre."""
    x = trunk_case.grid.axis_mm(0)
    z = trunk_case.grid.axis_mm(2)
    t11 = centre_of(trunk_spine, "T11")
    sl = _slice(trunk_case, t11[2])
    body = sl != Tissue.AIR
    liver = sl == Tissue.LIVER
    assert liver[body].mean() > 0.235
    # the left lobe reaches across the midline in front of the stomach
    assert (liver & (x[None, :] > t11[0] + 30.0)).sum() > 100
    sl1 = _slice(trunk_case, centre_of(trunk_spine, "L1")[2])
    assert np.mean(sl1[sl1 != Tissue.AIR] == Tissue.LIVER) > 0.08
    # the inferior tip of the right lobe: at about L2, far lateral
    kk, _, ii = np.nonzero(trunk_case.tissue == Tissue.LIVER)
    low = kk == kk.min()
    l2 = centre_of(trunk_spine, "L2")
    assert z[kk.min()] < l2[2] + 15.0
    assert x[ii[low]].mean() < l2[0] - 80.0


def test_organ_outlines_differ_per_case_and_liver_has_veins(trunk_spine, trunk_case):
    """Old design: the same ellipsoids in every case, no vessels in the liver."""
    g = trunk_case.grid
    other = render_labels(trunk_spine, g, AnatomyParams(), np.random.default_rng(1))
    a = trunk_case.tissue == Tissue.LIVER
    b = other.tissue == Tissue.LIVER
    assert (a & b).sum() / (a | b).sum() < 0.97
    # hepatic veins: vessel (blood) voxels inside the right lobe, right of the vena cava
    x = g.axis_mm(0)
    t11 = centre_of(trunk_spine, "T11")
    k0, k1 = g.index_range(2, t11[2] - 10.0, centre_of(trunk_spine, "T10")[2] + 10.0)
    right = x[None, None, :] < t11[0] - 45.0
    assert ((trunk_case.tissue[k0:k1] == Tissue.BLOOD) & right).sum() > 50


def test_kidneys_tilt_and_the_right_one_is_lower(trunk_spine, trunk_case):
    """Upper poles medial and posterior; old design: upright ellipsoids (0 mm tilt)."""
    g = trunk_case.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    xs = centre_of(trunk_spine, "L1")[0]
    kid = trunk_case.tissue == Tissue.KIDNEY
    zc = {}
    for side in (1.0, -1.0):
        kk, jj, ii = np.nonzero(kid & ((x[None, None, :] - xs) * side > 0))
        up = z[kk] > np.median(z[kk])
        zc[side] = z[kk].mean()
        lateral_shift = side * (x[ii[up]].mean() - x[ii[~up]].mean())
        posterior_shift = y[jj[up]].mean() - y[jj[~up]].mean()
        assert lateral_shift < -4.0
        assert posterior_shift > 2.0
    assert zc[-1.0] < zc[1.0] - 8.0  # right kidney (patient right = -x) lower


def test_heart_sits_on_the_diaphragm_and_spleen_is_posterolateral(trunk_spine, trunk_case):
    """Heart: a cone on the diaphragm, widest in its lower part (old: an ellipsoid centred at T7,
    widest in the middle). Spleen against the left posterolateral wall."""
    g = trunk_case.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    t7 = centre_of(trunk_spine, "T7")
    k0, k1 = g.index_range(2, centre_of(trunk_spine, "T10")[2], centre_of(trunk_spine, "T5")[2])
    front = (y < t7[1] - 20.0)[None, :, None]  # in front of the aorta
    heart_or_vessel = np.isin(trunk_case.tissue[k0:k1], (Tissue.BLOOD, Tissue.MYOCARDIUM))
    area = (heart_or_vessel & front).sum(axis=(1, 2)).astype(float)
    heart = np.nonzero(area > 0.25 * area.max())[0]
    lo, hi = z[k0 + heart.min()], z[k0 + heart.max()]
    z_max = z[k0 + int(np.argmax(area))]
    assert z_max < lo + 0.4 * (hi - lo)
    assert lo < centre_of(trunk_spine, "T9")[2]
    sp = trunk_case.tissue == Tissue.SPLEEN
    _, jj, ii = np.nonzero(sp)
    t12 = centre_of(trunk_spine, "T12")
    assert x[ii].mean() > t12[0] + 60.0
    assert y[jj].mean() > t12[1] - 40.0


def test_stomach_gas_is_anterior_above_a_horizontal_level(trunk_spine, trunk_case):
    """Supine: gas rises to the front of the stomach; the air-fluid level is a coronal plane.
    Old design: no gas above the bowel (the stomach was a solid ellipsoid)."""
    res = trunk_case
    g = res.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    t12 = centre_of(trunk_spine, "T12")
    k0, k1 = g.index_range(2, t12[2] + 5.0, z[-1])
    sub = res.tissue[k0:k1][:, :, x > t12[0]]
    gas = sub == Tissue.GAS
    # the stomach's gas bubble: the largest gas pocket (the colon's splenic flexure also
    # reaches this high on the left)
    lab, n = ndi.label(gas)
    if n > 1:
        gas = lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:]))
    assert gas.sum() > 100
    kk, jj, _ = np.nonzero(gas)
    deepest = [y[jj[kk == k]].max() for k in np.unique(kk) if (kk == k).sum() > 20]
    assert len(deepest) >= 3
    assert np.ptp(deepest) <= 6.0  # horizontal level (same y) on every slice
    content = np.nonzero(sub == Tissue.SOFT)[1]
    assert y[jj].mean() < y[content].mean()


def test_lung_base_is_a_thin_even_band(trunk_spine, trunk_case):
    """At T11 the real example CT's posterior recess is a band about 10-15 mm thick along the
    posterior chest wall, thicker where it fills the paravertebral gutters: measured the same
    way (twice the distance transform of the lung, 3 mm voxels, the slice through the T11
    label's centroid and one either side) its maximum is 27-32 mm and its 90th percentile
    17-22 mm. Old design: up to 28 mm thick (90th percentile of the local thickness 20 mm)
    with a rounded inner edge; now at most 24 mm (in the gutter), 90th percentile 12 mm."""
    g = trunk_case.grid
    sl = _slice(trunk_case, centre_of(trunk_spine, "T11")[2]) == Tissue.LUNG
    thick = 2.0 * ndi.distance_transform_edt(sl) * g.spacing_mm[0]
    assert thick.max() < 27.0
    assert np.percentile(thick[sl], 90) < 15.0


def test_renal_pelvis_opens_medially_from_the_sinus(trunk_spine, trunk_case):
    """Water-density urine in the renal pelvis, within 22 mm of each kidney's section centre
    near its middle, medial to it. Old design: no water there (sinus fat only)."""
    g = trunk_case.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    xs = centre_of(trunk_spine, "L1")[0]
    for side in (1.0, -1.0):
        half = (x - xs) * side > 0
        kid = (trunk_case.tissue == Tissue.KIDNEY) & half[None, None, :]
        zc = z[np.nonzero(kid)[0]].mean()
        n, medial = 0, []
        for k in range(*g.index_range(2, zc - 15.0, zc + 15.0)):
            jj, ii = np.nonzero(kid[k])
            r = np.hypot(x[None, :] - x[ii].mean(), y[:, None] - y[jj].mean())
            w = (trunk_case.tissue[k] == Tissue.WATER) & (r < 22.0) & half[None, :]
            n += int(w.sum())
            medial += list(side * (x[np.nonzero(w)[1]] - x[ii].mean()))
        assert n > 30
        assert np.mean(medial) < -8.0


@pytest.fixture(scope="module")
def marked(trunk_spine):
    """The same case with the pancreas painted as BRAIN and the adrenals as METAL (classes not
    otherwise found in the abdomen), so the tests can find them."""
    from spinelab.synth import organs

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(organs, "PANCREAS_TISSUE", Tissue.BRAIN)
        mp.setattr(organs, "ADRENAL_TISSUE", Tissue.METAL)
        return render_t5_l4(trunk_spine)


def test_pancreas_head_body_and_tail(trunk_spine, marked):
    """The pancreas (painted here as an otherwise unused class so it can be found): body in
    front of the aorta at L1, head right of the midline and lower (L1-L2), tail to the left
    and higher (towards the splenic hilum), 20-30 mm thick at its thickest, 30-90 ml (the
    fixture's: about 39 ml, fat septa left out). Old design: no pancreas."""
    res = marked
    g = res.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    l1 = centre_of(trunk_spine, "L1")
    pan = res.tissue == Tissue.BRAIN
    pan[g.index_range(2, centre_of(trunk_spine, "T9")[2], z[-1] + 1.0)[0] :] = False  # not the head
    kk, _, ii = np.nonzero(pan)
    vol_ml = pan.sum() * np.prod(g.spacing_mm) / 1000.0
    assert 30.0 < vol_ml < 90.0
    head, tail = x[ii] < l1[0] - 20.0, x[ii] > l1[0] + 50.0
    assert head.sum() > 50 and tail.sum() > 50
    assert z[kk[head]].mean() < l1[2] - 5.0 < z[kk[tail]].mean()
    # the body crosses in front of the aorta (its centre 12 mm in front of the vertebral
    # body, radius 11.5 mm) at L1
    sl = pan[g.index_range(2, l1[2] - 1.0, l1[2] + 1.0)[0]]
    x_ao = l1[0] + 14.0
    cols = np.abs(x - x_ao) < 4.0
    rows = np.nonzero(sl[:, cols].any(axis=1))[0]
    assert rows.size > 0
    aorta = (res.tissue[g.index_range(2, l1[2] - 1.0, l1[2] + 1.0)[0]] == Tissue.BLOOD)[:, cols]
    y_front_aorta = y[np.nonzero(aorta.any(axis=1))[0]].min()
    assert y[rows].max() < y_front_aorta
    assert y[rows].max() > y_front_aorta - 25.0
    # the gland's outline (closed over the fat septa between its lobules)
    thick = [
        2.0 * ndi.distance_transform_edt(ndi.binary_fill_holes(ndi.binary_closing(pan[k]))).max()
        for k in set(kk)
    ]
    assert 18.0 < max(thick) * g.spacing_mm[0] < 32.0


def test_adrenals_are_thin_limbs_above_and_medial_to_the_kidneys(trunk_spine, marked):
    """Each adrenal (painted here as an otherwise unused class): medial to its kidney's upper
    pole and reaching above it, in front of the pole, limbs at most 6-8 mm thick (where they
    meet) and mostly surrounded by fat. Old design: no adrenals."""
    res = marked
    g = res.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    xs = centre_of(trunk_spine, "L1")[0]
    ks = np.nonzero((res.tissue == Tissue.METAL).any(axis=(1, 2)))[0]
    k0, k1 = ks.min(), ks.max() + 1
    fat = ndi.binary_dilation(res.tissue[k0:k1] == Tissue.FAT)
    for side in (1.0, -1.0):
        half = ((x - xs) * side > 0)[None, None, :]
        adr = (res.tissue == Tissue.METAL) & half
        kid = (res.tissue == Tissue.KIDNEY) & half
        kk, jj, ii = np.nonzero(adr)
        k2, j2, i2 = np.nonzero(kid)
        assert adr.sum() > 100
        top = z[k2] > np.percentile(z[k2], 75)
        assert z[kk].max() > z[k2].max() + 15.0
        assert side * (x[ii].mean() - x[i2[top]].mean()) < -15.0
        assert y[jj].mean() < y[j2[top]].mean()
        thick = [2.0 * ndi.distance_transform_edt(adr[k]).max() * g.spacing_mm[0] for k in set(kk)]
        assert 3.0 <= np.median(thick) and max(thick) <= 8.5
        edge = adr[k0:k1] & ~ndi.binary_erosion(adr[k0:k1])
        assert fat[edge].mean() > 0.6


def test_renal_vessels_join_the_kidneys_to_the_cava_and_aorta(trunk_spine, trunk_case):
    """Near the hilum's level a blood-filled band leaves each kidney and reaches the vena cava
    (its left edge 13 mm right of the midline): the left renal vein crosses in front of the
    aorta, the right one is short. Old design: no renal vessels, the kidneys sat isolated in
    their fat."""
    g = trunk_case.grid
    x, z = g.axis_mm(0), g.axis_mm(2)
    xs = centre_of(trunk_spine, "L1")[0]
    for side in (1.0, -1.0):
        half = (x - xs) * side > 0
        kid = (trunk_case.tissue == Tissue.KIDNEY) & half[None, None, :]
        zc = z[np.nonzero(kid)[0]].mean()
        found = False
        for k in range(*g.index_range(2, zc - 5.0, zc + 15.0)):
            lab, _ = ndi.label(trunk_case.tissue[k] == Tissue.BLOOD)
            ids = np.unique(lab[ndi.binary_dilation(kid[k], iterations=2)])
            xx = x[np.nonzero(np.isin(lab, ids[ids > 0]))[1]]
            found |= bool((xx < xs - 15.0).any() if side > 0 else (xx > xs - 15.0).any())
        assert found
