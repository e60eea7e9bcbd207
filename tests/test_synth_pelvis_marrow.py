"""Fatty (yellow) marrow of the hip bones and proximal femora, measured at 3 mm.

Reference: the real TotalSegmentator example CT (3 mm), right hip (its left has metal), the
same regions as here: the iliac body (bone interior 6 mm or more from the surface, 25-60 mm
above the femoral head's centre, within 45 mm of it horizontally) reads 3/60/138/214/299 HU
(10th/25th/50th/75th/90th percentile), the femoral neck (28-40 mm from the head's centre,
within 12 deg of the neck's axis) median 57 HU, the head (within 15 mm of its centre) median
216 HU. The uniform red-marrow-like interior read 172/189/210/231/257, 235 and 211 HU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

import spinelab.synth.generator as gen
from spinelab.synth.generator import generate_case
from spinelab.synth.pelvis import FEMORAL_HEAD_R_MM, _marrow_rng, hip_centres_mm
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine, hips_config

#: the femoral neck's axis from the head's centre: lateral, anterior, up
NECK_AXIS = np.array([0.69, -0.16, -0.71]) / np.linalg.norm([0.69, -0.16, -0.71])


@pytest.fixture(scope="module")
def pelvis_case():
    """A lumbar case at 3 mm reaching 150 mm below S2, its fine render and HU table."""
    cfg = hips_config()
    got = {}
    render, table = gen.render_labels, gen.sample_hu_table

    def spy_render(*a, **k):
        got["res"] = render(*a, **k)
        return got["res"]

    def spy_table(*a, **k):
        got["lut"] = table(*a, **k)
        return got["lut"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen, "render_labels", spy_render)
        mp.setattr(gen, "sample_hu_table", spy_table)
        case = generate_case(3, cfg, geometry=curved_spine())
    return case, got["res"], got["lut"]


def _regions(case, res):
    """HU of the iliac bodies, femoral necks and heads (both sides pooled), the regions picked
    on the tissue map (pelvic bone: bone classes, vertebra label 0) brought to the 3 mm grid."""
    f = case.meta["fine_factors_kji"]
    nk, nj, ni = (n // q for n, q in zip(res.tissue.shape, f, strict=True))
    isb = np.isin(res.tissue, [int(t) for t in BONE]) & (res.vertebrae == 0)
    frac = isb[: nk * f[0], : nj * f[1], : ni * f[2]].reshape(nk, f[0], nj, f[1], ni, f[2])
    bone = (frac.mean(axis=(1, 3, 5)) >= 0.5).transpose(2, 1, 0)  # [i, j, k] like the image
    hu = case.ct.array.astype(np.float32)
    assert bone.shape == hu.shape
    aff = case.ct.affine_lps
    sp = np.diag(aff)[:3]
    filled = np.zeros_like(bone)
    for k in range(bone.shape[2]):
        filled[:, :, k] = ndi.binary_fill_holes(bone[:, :, k])
    depth = ndi.distance_transform_edt(filled, sampling=sp)
    x, y, z = (aff[a, 3] + sp[a] * np.arange(hu.shape[a]) for a in range(3))
    geo = case.geometry
    s1 = geo.centres_mm[geo.labels.index("S1")]
    hips = hip_centres_mm(geo, case.meta["anatomy"]["body_scale"])
    xx, yy, zz = np.meshgrid(x, y, z, indexing="ij")
    out = {"iliac": [], "neck": [], "head": [], "iliac_front": [], "iliac_back": []}
    for side, h in zip((1.0, -1.0), hips, strict=True):
        dx, dy, dz = side * (xx - h[0]), -(yy - h[1]), zz - h[2]  # lateral, anterior, up
        rho = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-6
        iliac = (depth >= 6.0) & (dz >= 25.0) & (dz <= 60.0) & (np.hypot(dx, dy) < 45.0)
        iliac &= side * (xx - s1[0]) > 55.0
        cos = (dx * NECK_AXIS[0] + dy * NECK_AXIS[1] + dz * NECK_AXIS[2]) / rho
        neck = (rho >= 28.0) & (rho <= 40.0) & (cos >= np.cos(np.radians(12.0)))
        out["iliac"].append(hu[iliac])
        # more than 15 mm in front of / behind the head's centre
        out["iliac_front"].append(hu[iliac & (dy > 15.0)])
        out["iliac_back"].append(hu[iliac & (dy < -15.0)])
        out["neck"].append(hu[neck])
        out["head"].append(hu[rho <= 15.0])
    return {k: np.concatenate(v) for k, v in out.items()}


def _pelvic_marrow(case, res):
    """The pelvis's marrow voxels on the fine tissue map (no vertebra label): their points
    (LPS mm, ``(N, 3)``), which of them are fatty, and the hip centres ``(2, 3)``."""
    tis = res.tissue
    g = res.grid
    hips = hip_centres_mm(case.geometry, case.meta["anatomy"]["body_scale"])
    marrow = np.isin(tis, (Tissue.MARROW, Tissue.FATTY_MARROW)) & (res.vertebrae == 0)
    kk, jj, ii = np.nonzero(marrow)
    p = np.stack([g.axis_mm(0)[ii], g.axis_mm(1)[jj], g.axis_mm(2)[kk]], axis=1)
    return p, tis[kk, jj, ii] == Tissue.FATTY_MARROW, hips


def test_iliac_body_and_femoral_neck_hold_fatty_marrow_the_head_stays_bright(pelvis_case):
    """Real: iliac body 25th/50th percentile 60/138 HU, neck median 57, head 216 (old
    synthetic, this case: iliac 189/210, neck 234, head 210)."""
    case, res, lut = pelvis_case
    r = _regions(case, res)
    assert all(len(v) > 100 for v in r.values()), {k: len(v) for k, v in r.items()}
    p25, p50 = np.percentile(r["iliac"], [25, 50])
    neck = float(np.median(r["neck"]))
    head = float(np.median(r["head"]))
    assert -20.0 < p25 < 130.0, p25
    assert 80.0 < p50 < 200.0, p50
    assert -40.0 < neck < 130.0, neck
    # the head keeps the red-marrow value (real 216 HU)
    assert 150.0 < head < 320.0 and abs(head - float(lut[Tissue.MARROW])) < 30.0, head
    # relative to the case's own marrow: real head minus iliac p25 156 HU, minus neck 159
    assert head - p25 > 90.0 and head - neck > 100.0, (head, p25, neck)


def test_iliac_body_marrow_is_fattier_in_front_than_behind(pelvis_case):
    """Real (the example's right hip, the iliac body's interior 25-60 mm above the head's
    centre): median 83 / 156 / 178 HU more than 15 mm in front of the head's centre / within
    15 mm / more than 15 mm behind it (10 mm bands from 40 mm in front to 40 mm behind: 87, 70,
    98, 150, 160, 172, 192, 222 HU; there the bone is the >200 HU mask filled per axial
    slice, here the tissue map's), the front 95 HU darker than the back. Old synthetic (one
    fatty share everywhere; this case, both sides pooled): front 149, back 134 HU (graded: 53
    and 193; with the wing's medial end in front of the posterior ilium, 50 and 200); on the
    fine map 35-90 mm above the head the fatty share 0.45 / 0.70 in front (left / right), 0.53 /
    0.56 behind (graded: 0.69 / 0.85 and 0.05 / 0.17). The wing moved forwards brings more of
    its marrow 60-90 mm above the head into the back region, where the share rises with height
    (pelvis.FATTY_MARROW_HIGH): 0.22 / 0.43 there; so the band is now the real one, 25-60 mm:
    0.66 / 0.82 in front, 0.08 / 0.32 behind."""
    case, res, _ = pelvis_case
    r = _regions(case, res)
    assert len(r["iliac_front"]) > 50 and len(r["iliac_back"]) > 50
    front, back = float(np.median(r["iliac_front"])), float(np.median(r["iliac_back"]))
    assert back - front > 50.0, (front, back)
    assert front < 140.0 and back > 130.0, (front, back)
    # on the fine tissue map: the hip bone's marrow 25-60 mm above the head (the iliac body and
    # the lower wing, the band measured on the real CT; higher up the share rises whatever the
    # depth, pelvis.FATTY_MARROW_HIGH) more than 15 mm in front of its centre is mostly fatty,
    # behind mostly red
    p, fatty, hips = _pelvic_marrow(case, res)
    for h in hips:
        d = p - h
        ilium = (d[:, 2] > 25.0) & (d[:, 2] < 60.0) & (np.hypot(d[:, 0], d[:, 1]) < 60.0)
        fr, bk = ilium & (d[:, 1] < -15.0), ilium & (d[:, 1] > 15.0)  # (LPS: -y anterior)
        assert fr.sum() > 500 and bk.sum() > 500
        f_fr, f_bk = float(fatty[fr].mean()), float(fatty[bk].mean())
        assert f_fr > 0.55 and f_bk < 0.35 and f_fr - f_bk > 0.35, (f_fr, f_bk)


def test_fatty_marrow_patches_spare_the_femoral_head(pelvis_case):
    """On the fine tissue map: part of the hip bone's marrow is fatty, most of the femur's
    below the head, none of the head's."""
    case, res, _ = pelvis_case
    tis = res.tissue
    g = res.grid
    hips = hip_centres_mm(case.geometry, case.meta["anatomy"]["body_scale"])
    r_h = FEMORAL_HEAD_R_MM * case.meta["anatomy"]["body_scale"]
    marrow = np.isin(tis, (Tissue.MARROW, Tissue.FATTY_MARROW)) & (res.vertebrae == 0)
    kk, jj, ii = np.nonzero(marrow)
    p = np.stack([g.axis_mm(0)[ii], g.axis_mm(1)[jj], g.axis_mm(2)[kk]], axis=1)
    fatty = tis[kk, jj, ii] == Tissue.FATTY_MARROW
    for side, h in zip((1.0, -1.0), hips, strict=True):
        d = p - h
        rho = np.linalg.norm(d, axis=1)
        head = rho < r_h - 2.0
        assert head.sum() > 1000 and not fatty[head].any()
        # the femur below the head (lateral and below it, outside the head) and the hip bone
        # above the acetabulum (the iliac body and the lower wing)
        femur = (rho > r_h + 10.0) & (rho < 70.0) & (side * d[:, 0] > 10.0) & (d[:, 2] < -10.0)
        ilium = (d[:, 2] > 35.0) & (d[:, 2] < 90.0) & (np.hypot(d[:, 0], d[:, 1]) < 60.0)
        assert femur.sum() > 1000 and ilium.sum() > 1000
        assert 0.5 < fatty[femur].mean() < 0.95, fatty[femur].mean()
        assert 0.15 < fatty[ilium].mean() < 0.7, fatty[ilium].mean()


def test_fatty_marrow_field_is_seeded_and_leaves_the_callers_stream_alone():
    """The field's generator: a jumped copy of the case's (whose stream does not move), the
    same for the same seed, else one seeded by the spine."""
    spine = curved_spine()
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    a = _marrow_rng(rng, spine).standard_normal(8)
    assert rng.bit_generator.state == state
    b = _marrow_rng(np.random.default_rng(7), spine).standard_normal(8)
    c = _marrow_rng(np.random.default_rng(8), spine).standard_normal(8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    d = _marrow_rng(None, spine).standard_normal(8)
    assert np.array_equal(d, _marrow_rng(None, curved_spine()).standard_normal(8))
    assert not np.array_equal(d, a)


def test_pelvis_render_is_deterministic_and_leaves_the_arms_marrow_alone():
    """The same spine and generator give the same tissue map (fatty patches included); the
    hands and forearms beside the hips and thighs (arms down, painted before the pelvis) keep
    their marrow."""
    spine = curved_spine()
    c = spine.centres_mm[spine.labels.index("S1")]
    # (a field of view that clips the body's sides: the hands lie 170-175 mm from the midline)
    grid = RenderGrid((c[0] - 165, c[1] - 130, c[2] - 300), (3.0, 3.0, 3.0), (110, 73, 113))
    params = AnatomyParams(bowel_gas=0, arms_down=True)
    maps = [render_labels(spine, grid, params, np.random.default_rng(0)).tissue for _ in range(2)]
    assert (maps[0] == Tissue.FATTY_MARROW).sum() > 100
    assert np.array_equal(maps[0], maps[1])
    # lateral to the femoral shafts, 70 mm and more below the hips (below the trochanters)
    far = np.abs(grid.axis_mm(0) - c[0]) > 148.0
    low = grid.axis_mm(2) < float(hip_centres_mm(spine, 1.0)[0, 2]) - 70.0
    arm = maps[0][low][:, :, far]
    assert (arm == Tissue.MARROW).sum() > 20
    assert not (arm == Tissue.FATTY_MARROW).any()


def test_posterior_ilium_beside_the_sacrum_holds_fatty_marrow(pelvis_case):
    """Real (pelvis.FATTY_MARROW_HIGH): the posterior ilium beside the sacrum reads 119 HU
    (median of its interior at 3 mm), darker than the back of the iliac body near the hip
    (178-222 HU); with the back's fatty share (0.05) reaching up there, four cases read
    197-290 HU. On the fine map: the hip bone's marrow more than 100 mm above the hip centres
    and more than 30 mm behind them is fatty in a share near FATTY_MARROW_HIGH[2]."""
    case, res, _ = pelvis_case
    p, fatty, hips = _pelvic_marrow(case, res)
    h = hips.mean(axis=0)
    high_back = (p[:, 2] - h[2] > 100.0) & (p[:, 1] - h[1] > 30.0)
    assert high_back.sum() > 500, high_back.sum()
    share = float(fatty[high_back].mean())
    assert 0.25 < share < 0.7, share
