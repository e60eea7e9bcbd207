"""The mesentery's fat (spinelab.synth.bowel, spinelab.synth.tissues): strands in a denser fat.

On the real CT (TotalSegmentator example, 3 mm, axial slices from L3's to L5's centre; fat 6 mm
or more from anything else: a 3 x 3 median in -170..-50 HU, eroded twice) the fat of the
abdominal cavity (30 mm or more inside the skin, more than 25 mm in front of the vertebral
bodies) reads -112 / -93 / -59 HU at its 10th / 50th / 90th percentile, the subcutaneous fat in
front of the spine -118 / -106 / -89: the mesenteric fat is 13 HU denser at the median and 30 at
the 90th percentile. The generator had one fat class without strands, so its cavity fat read
as its subcutaneous fat (0 HU at the median).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import bowel, tissues
from spinelab.synth.generator import generate_case
from spinelab.synth.realism import hu_body_mask
from spinelab.synth.tissues import Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import bowel_3mm_config, curved_spine, lumbar_slab
from test_synth_bowel import _cavity_slices

#: The real CT's mesenteric fat over its subcutaneous fat (HU; median, 90th percentile).
REAL_EXCESS_HU = (13.0, 30.0)


def test_mesenteric_fat_has_strands_and_its_own_class(abdomen):
    """The cavity's fat at L3-L5 is the mesentery's (VISCERAL_FAT and its strands, about
    MESENTERY_STRAND_SHARE of it, thin: nearly every strand voxel touches fat in its slice);
    the subcutaneous fat holds neither."""
    spine, res = abdomen
    mes = vis = plain = thin = 0
    outside = []
    for sl, cav in _cavity_slices(spine, res):
        mes += int(((sl == Tissue.MESENTERY) & cav).sum())
        vis += int(((sl == Tissue.VISCERAL_FAT) & cav).sum())
        plain += int(((sl == Tissue.FAT) & cav).sum())
        strand = sl == Tissue.MESENTERY
        near_fat = ndi.binary_dilation(sl == Tissue.VISCERAL_FAT)
        thin += int((strand & near_fat & cav).sum())
        body = ndi.binary_fill_holes(body_mask(sl))
        skin = body & ~ndi.binary_erosion(body, iterations=5)  # 10 mm under the skin
        outside.append(int(np.isin(sl[skin], (Tissue.MESENTERY, Tissue.VISCERAL_FAT)).sum()))
    share = mes / (mes + vis)
    assert 0.5 * bowel.MESENTERY_STRAND_SHARE < share < 1.5 * bowel.MESENTERY_STRAND_SHARE
    assert (mes + vis) / (mes + vis + plain) > 0.8  # the cavity's fat is the mesentery's
    assert thin / mes > 0.95
    assert sum(outside) == 0


def test_visceral_fat_reads_denser_than_fat():
    """The case's HU table: VISCERAL_FAT is FAT plus the drawn offset, MESENTERY is SOFT."""
    for seed in range(20):
        lut = tissues.sample_hu_table(np.random.default_rng(seed), contrast=seed % 2 == 1)
        excess = lut[Tissue.VISCERAL_FAT] - lut[Tissue.FAT]
        assert tissues.VISCERAL_FAT_OFFSET_HU[0] <= excess <= tissues.VISCERAL_FAT_OFFSET_HU[1]
        assert lut[Tissue.MESENTERY] == lut[Tissue.SOFT]


def _lumbar_slices(hu: np.ndarray, labels: np.ndarray, affine: np.ndarray):
    """Axial slices from L3's centre to L5's (canonical): ``(raw slice, its 3 x 3 median, depth
    under the skin (mm), more than 25 mm in front of the vertebral bodies, in-plane spacing)``."""
    slab, lab, sp = lumbar_slab(hu, labels, affine, (22, 23, 24))
    dist = ndi.distance_transform_edt(hu_body_mask(slab.copy()), sampling=sp)
    vert = np.isin(lab, (22, 23, 24))
    y = np.arange(slab.shape[1])
    for k in range(slab.shape[2]):
        jj = np.nonzero(vert[:, :, k].any(axis=0))[0]
        if len(jj):
            sk = slab[:, :, k]
            front = (jj.min() - y)[None, :] * sp[1] > 25.0
            yield sk, ndi.median_filter(sk, 3), dist[:, :, k], front, sp[:2]


def _deep_fat(
    hu: np.ndarray, labels: np.ndarray, affine: np.ndarray, subcutaneous: bool = False
) -> np.ndarray:
    """HU of the fat 6 mm or more from anything else, L3-L5 (the module's measure), in front
    of the vertebral bodies: the cavity's, or the subcutaneous fat's (3-30 mm under the skin)."""
    out = []
    for sk, med, d, front, _ in _lumbar_slices(hu, labels, affine):
        fat = ndi.binary_erosion((med < -50.0) & (med > -170.0), iterations=2) & front
        out.append(sk[fat & ((d > 3.0) & (d < 30.0) if subcutaneous else d >= 30.0)])
    return np.concatenate(out)


@pytest.mark.slow
def test_mesenteric_fat_denser_than_subcutaneous_as_on_the_real_ct(monkeypatch):
    """Three unenhanced lumbar 3 mm cases: the deep cavity fat's median and 90th percentile
    above those of the same case without the mesentery (one fat class, no strands: the
    generator before), about as far as the real CT's mesenteric fat lies above its
    subcutaneous fat (REAL_EXCESS_HU)."""
    cfg = dataclasses.replace(bowel_3mm_config(), p_contrast=0.0, p_oral_contrast=0.0)
    spine = curved_spine()
    med, p90 = [], []
    for seed in (1, 2, 4):
        got = []
        for plain in (False, True):
            with monkeypatch.context() as mp:
                if plain:
                    mp.setattr(bowel, "MESENTERY_STRAND_SHARE", 1e-9)
                    mp.setattr(tissues, "VISCERAL_FAT_OFFSET_HU", (0.0, 0.0))
                case = generate_case(seed, cfg, geometry=spine)
            got.append(_deep_fat(case.ct.array, case.labels.array, case.ct.affine_lps))
        (m1, q1), (m0, q0) = (np.percentile(v, (50, 90)) for v in got)
        med.append(m1 - m0)
        p90.append(q1 - q0)
    assert 0.5 * REAL_EXCESS_HU[0] < np.mean(med) < 1.5 * REAL_EXCESS_HU[0], med
    assert 0.5 * REAL_EXCESS_HU[1] < np.mean(p90) < 1.5 * REAL_EXCESS_HU[1], p90


def test_real_ct_mesenteric_fat_excess(real_example):
    """The real CT's figures above, measured the same way."""
    ct, ts = real_example
    lab = np.zeros_like(ts.array)
    for ts_id, verse_id in ((29, 22), (28, 23), (27, 24)):  # TotalSegmentator's L3-L5
        lab[ts.array == ts_id] = verse_id
    cav, sub = (_deep_fat(ct.array, lab, ct.affine_lps, s) for s in (False, True))
    excess = np.percentile(cav, (50, 90)) - np.percentile(sub, (50, 90))
    assert np.allclose(excess, REAL_EXCESS_HU, atol=1.5), excess


def _thick_fat_share(hu: np.ndarray, labels: np.ndarray, affine: np.ndarray) -> float:
    """Share of the abdominal cavity's fat (L3-L5; 30 mm or more inside the skin, more than 25
    mm in front of the vertebral bodies; a 3 x 3 median in -250..-50 HU) 9 mm or more from
    anything that is not fat in its axial slice: how much of the fat lies in broad regions
    rather than in the thin layers between loops."""
    depth = []
    for _, med, d, front, sp in _lumbar_slices(hu, labels, affine):
        fat = (med < -50.0) & (med > -250.0)
        depth.append(ndi.distance_transform_edt(fat, sampling=sp)[fat & (d >= 30.0) & front])
    return float((np.concatenate(depth) >= 9.0).mean())


#: The real CT's share of broad cavity fat (:func:`_thick_fat_share`).
REAL_THICK_FAT_SHARE = 0.256


def test_real_ct_cavity_fat_lies_in_broad_regions(real_example):
    """The real CT's figure, measured as :func:`_thick_fat_share` says."""
    ct, ts = real_example
    lab = np.zeros_like(ts.array)
    for ts_id, verse_id in ((29, 22), (28, 23), (27, 24)):  # TotalSegmentator's L3-L5
        lab[ts.array == ts_id] = verse_id
    share = _thick_fat_share(ct.array, lab, ct.affine_lps)
    assert abs(share - REAL_THICK_FAT_SHARE) < 0.005, share


def test_mesenteric_fan_leaves_broad_fat_as_on_the_real_ct(like_real_cases):
    """The fan of fat in front of the mesenteric root (``bowel.MESENTERIC_FAN_MM``): the three
    like-real cases' cavity fat lies in broad regions about as often as the real CT's (0.256).
    Measured 2026-12-05: 0.164 / 0.226 / 0.444 (mean 0.278); with the 5 mm root band and no
    fan (the generator before) 0.116 / 0.191 / 0.266 (mean 0.191): loops spread evenly over
    the cavity, their fat in thin layers between them."""
    shares = [
        _thick_fat_share(c.ct.array, c.labels.array, c.ct.affine_lps) for c in like_real_cases
    ]
    assert 0.85 * REAL_THICK_FAT_SHARE < np.mean(shares) < 1.4 * REAL_THICK_FAT_SHARE, shares
