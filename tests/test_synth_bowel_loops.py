"""Collapsed small-bowel loops (spinelab.synth.bowel): soft-tissue sections, not fluid discs.

Measured the same way on the real CT (TotalSegmentator example, 3 mm) and on rendered lumbar
3 mm cases at the real CT's noise: axial slices from L3's to L5's centre, the abdominal
cavity (body voxels 30 mm or more inside the skin and more than 25 mm in front of the
vertebral bodies), 3 x 3 in-plane median. Per slice, the non-fat sections (-30..150 HU, 4-
connected, 10 pixels and more) whose pixels are less than 0.3 fluid (-10..15 HU) are collapsed
loops (soft tissue, no lumen); their share of the section pixels is 0.45 on the real CT, and
0.07-0.42 on six lumbar cases (mean 0.25) when collapsed loops were 0.05-0.25 of the bowel,
0.6 of the calibre and solid, and the holes' loops held chyme: round fluid discs and chyme of
even content ("bubble wrap" at 0.8 mm). Now 0.12-0.77, mean 0.45 (the spread follows the
case's soft-tissue HU).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import bowel
from spinelab.synth.generator import generate_case
from spinelab.synth.realism import hu_body_mask
from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import abdomen_grid, bowel_3mm_config, curved_spine, lumbar_slab

#: The real CT's collapsed share (above) and the bracket a few rendered cases must fall in.
#: The six cases' mean moves with the bowel's layout, which anything that changes the free
#: space in the abdomen or pelvis reshuffles: 0.45 when the collapsed loops came in, 0.36 on
#: 2026-12-04 before and 0.34 after the sacro-iliac joint was turned (seed 2 alone 0.09); on
#: 2026-12-05 0.51 (0.04 / 0.67 / 0.94 / 0.65 / 0.49 / 0.26; 0.52 without the mesentery's
#: strands and denser fat, so the layout's changes since moved it); the fluid-disc loops it
#: guards against gave 0.25. The gut's wall 10 HU denser than its soft content gave 0.66.
REAL_COLLAPSED_SHARE = 0.45
SHARE_RANGE = (0.3, 0.55)
#: The real CT's soft bowel sections (see :func:`_soft_section_hu`): 34 HU at the median (this
#: patient's back muscle: 22 HU); not matched by the generator (see the test below).
REAL_SOFT_SECTION_HU = 34.0


def _sections(
    hu: np.ndarray, labels: np.ndarray, affine: np.ndarray, ids: tuple[int, ...] = (22, 23, 24)
):
    """The cavity's non-fat sections between the centres of the vertebrae ``ids`` (L3-L5),
    slice by slice: ``(3 x 3 median slice, raw slice, labelled sections, count)``."""
    slab, lab, sp = lumbar_slab(hu, labels, affine, ids)
    cav = hu_body_mask(slab.copy())
    cav &= ndi.distance_transform_edt(cav, sampling=sp) >= 30.0
    vert = np.isin(lab, ids)
    y = np.arange(slab.shape[1])
    s = ndi.median_filter(slab, size=(3, 3, 1))
    st = ndi.generate_binary_structure(2, 1)
    for k in range(slab.shape[2]):
        jj = np.nonzero(vert[:, :, k].any(axis=0))[0]
        if not len(jj):
            continue
        c = cav[:, :, k] & ((jj.min() - y)[None, :] * sp[1] > 25.0)
        sk = s[:, :, k]
        lb, n = ndi.label(c & (sk > -30.0) & (sk < 150.0), st)
        if n:
            yield sk, slab[:, :, k], lb, n


def _collapsed_share(hu: np.ndarray, labels: np.ndarray, affine: np.ndarray) -> float:
    """Share of the cavity's non-fat section pixels in collapsed (soft, fluid-poor) sections,
    L3-L5."""
    soft = total = 0
    for sk, _, lb, n in _sections(hu, labels, affine):
        fluid = (lb > 0) & (sk > -10.0) & (sk < 15.0)
        idx = np.arange(1, n + 1)
        size = ndi.sum_labels(np.ones_like(lb), lb, idx)
        wet = ndi.sum_labels(fluid, lb, idx)
        big = size >= 10
        total += int(size[big].sum())
        soft += int(size[big & (wet < 0.3 * size)].sum())
    return soft / max(total, 1)


def _soft_section_hu(hu: np.ndarray, labels: np.ndarray, affine: np.ndarray) -> float:
    """Median over the cavity's soft sections (L3-L5; interior, one pixel in, 8 pixels or
    more; mean HU 15 or more, the fluid ones below) of their mean HU."""
    means = []
    for _, raw, lb, n in _sections(hu, labels, affine):
        inner = ndi.binary_erosion(lb > 0)
        for q in range(1, n + 1):
            r = (lb == q) & inner
            if r.sum() >= 8:
                means.append(float(raw[r].mean()))
    m = np.array(means)
    return float(np.median(m[m >= 15.0]))


@pytest.mark.slow
def test_collapsed_loop_share_brackets_the_real_ct():
    """Six lumbar 3 mm cases at the real CT's noise: the collapsed share's mean lies around
    the real CT's 0.45 (see SHARE_RANGE; 0.25 when the loops were mostly fluid discs and
    chyme)."""
    cfg = bowel_3mm_config()
    shares = []
    for seed in range(1, 7):
        case = generate_case(seed, cfg, geometry=curved_spine())
        shares.append(_collapsed_share(case.ct.array, case.labels.array, case.ct.affine_lps))
    assert SHARE_RANGE[0] < float(np.mean(shares)) < SHARE_RANGE[1], shares
    assert SHARE_RANGE[0] < REAL_COLLAPSED_SHARE < SHARE_RANGE[1]


def test_the_real_soft_loop_sections(real_example):
    """The real CT's soft bowel sections (:func:`_soft_section_hu`): REAL_SOFT_SECTION_HU. Six
    generated unenhanced lumbar cases at its noise read 21-25 HU (benchmarks/RESULTS.md,
    twenty-sixth pass: two ways of closing the gap broke the collapsed share above)."""
    ct, ts = real_example
    lab = np.zeros_like(ts.array)
    for ts_id, verse_id in ((29, 22), (28, 23), (27, 24)):  # TotalSegmentator's L3-L5
        lab[ts.array == ts_id] = verse_id
    assert abs(_soft_section_hu(ct.array, lab, ct.affine_lps) - REAL_SOFT_SECTION_HU) < 1.0


def test_collapsed_loops_have_slits(monkeypatch):
    """Collapsed loops are soft tissue with thin fluid slits, not solid discs: with the slits
    off (SLIT_Z = 0) nothing but those slits changes (same seed, the other draws as they
    were); they turn soft tissue into water (1.4 % of all the soft tissue of the 1 mm fixture:
    bowel walls and content, other organs), in lines one or two pixels wide (90th percentile
    of the distance to their edge 1 pixel) rather than round pools."""
    spine = curved_spine()
    grid = abdomen_grid(spine, 1.0)
    params = AnatomyParams(fat_mm=20.0, bowel_gas=10)
    res = render_labels(spine, grid, params, np.random.default_rng(1))
    monkeypatch.setattr(bowel, "SLIT_Z", 0.0)
    solid = render_labels(spine, grid, params, np.random.default_rng(1))
    slit = (res.tissue == Tissue.GUT_FLUID) & (solid.tissue == Tissue.GUT_WALL)
    assert ((res.tissue != solid.tissue) & ~slit).sum() == 0  # nothing else changes
    soft = np.isin(solid.tissue, (Tissue.SOFT, Tissue.GUT_WALL)).sum()
    assert 0.005 < slit.sum() / max(soft, 1) < 0.05
    depth = np.concatenate([ndi.distance_transform_edt(s)[s] for s in slit if s.any()])
    assert np.percentile(depth, 90) <= 1.5  # thin lines, not round pools
