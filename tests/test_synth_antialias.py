"""Anti-aliased tissue boundaries (:mod:`spinelab.synth.antialias`).

The renderer paints by voxel centres; the blend gives boundary voxels their sub-voxel make-up
back. Checked against the truth: the same shapes painted on a grid 3-4x finer and averaged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import ct as ctphys
from spinelab.synth.antialias import (
    BONE_LEVEL,
    LEVELS,
    EdgeBlend,
    bone_regions,
    edge_blend,
    level_codes,
    spine_regions,
)
from spinelab.synth.generator import SynthConfig, generate_case, sample_geometry
from spinelab.synth.painter import RenderGrid
from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue as T

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import thin_slice_config

WHOLE = (slice(None), slice(None), slice(None))
#: Level numbers (:func:`level_codes`) of soft tissue other than fat, of bone and of its core.
LV_LEAN = 2
LV_BONE = LEVELS.index(BONE_LEVEL) + 1
LV_CORE = LV_BONE + 1


def _coverages(tissue, blend):
    """Per-level coverage (0..1) of every voxel after the blend: ``{m: (nk, nj, ni)}``."""
    codes = level_codes()
    code = codes[tissue]
    out = {}
    for m in range(1, len(LEVELS) + 1):
        cov = (code >= m).astype(np.float64).ravel()
        moved = (codes[blend.alt] >= m).astype(np.float64) - (codes[blend.own] >= m)
        np.add.at(cov, blend.index, blend.weight * moved)
        out[m] = cov.reshape(tissue.shape)
    return out


def _ball(
    n: int,
    sub: int,
    centre,
    r_out: float,
    shell: float,
    tilt: float,
    tissues: tuple[T, T, T] = (T.MUSCLE, T.CORTICAL, T.CANCELLOUS),
):
    """A ball with a shell and a core (``tissues``: around, shell, core; by default compact
    bone and a cancellous core in muscle), painted by the centres of ``sub``-times finer
    voxels: the tissue map (``sub`` 1), else the per-level coverage of the n^3 voxels."""
    m = n * sub
    c = (np.arange(m) + 0.5) / sub - 0.5  # fine voxel centres in coarse voxel units
    z, y, x = np.meshgrid(c, c, c, indexing="ij")
    # an ellipsoid, tilted, so its surface meets the grid at every angle
    u = (x - centre[2]) * np.cos(tilt) + (y - centre[1]) * np.sin(tilt)
    v = -(x - centre[2]) * np.sin(tilt) + (y - centre[1]) * np.cos(tilt)
    rho = np.sqrt((u / 1.0) ** 2 + (v / 0.7) ** 2 + ((z - centre[0]) / 0.85) ** 2)
    tissue = np.full((m, m, m), tissues[0], np.uint8)
    tissue[rho <= r_out] = tissues[1]
    tissue[rho <= r_out - shell] = tissues[2]
    if sub == 1:
        return tissue
    code = level_codes()[tissue]
    cov = {
        lv: (code >= lv).reshape(n, sub, n, sub, n, sub).mean(axis=(1, 3, 5))
        for lv in range(1, len(LEVELS) + 1)
    }
    return cov


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_painted_ball_gets_its_partial_volume_back(seed):
    rng = np.random.default_rng(seed)
    n = 40
    centre = 20.0 + rng.uniform(-0.5, 0.5, 3)
    tilt = float(rng.uniform(0.0, np.pi))
    r_out = float(rng.uniform(11.0, 15.0))
    shell = 1.4  # a cortex under two voxels thick, between muscle and the core
    tissue = _ball(n, 1, centre, r_out, shell, tilt)
    truth = _ball(n, 4, centre, r_out, shell, tilt)
    blend = edge_blend(tissue, [WHOLE])
    got = _coverages(tissue, blend)
    code = level_codes()[tissue]
    for lv in (LV_BONE, LV_CORE):
        painted = (code >= lv).astype(np.float64)
        band = (truth[lv] > 0) & (truth[lv] < 1)
        err_painted = np.sqrt(((painted - truth[lv])[band] ** 2).mean())
        err_blend = np.sqrt(((got[lv] - truth[lv])[band] ** 2).mean())
        # centre sampling: 0.26 of a voxel RMS on the surface; the blend 0.07
        assert err_blend < 0.6 * err_painted, (lv, err_blend, err_painted)
        # the painted volume is kept (centre sampling is unbiased for it)
        assert abs(got[lv].sum() - painted.sum()) < 1e-3 * painted.sum()
        assert abs(got[lv].sum() - truth[lv].sum()) < 0.01 * truth[lv].sum()
    # the thin shell keeps its mass: bone minus core
    shell_truth = (truth[LV_BONE] - truth[LV_CORE]).sum()
    assert abs((got[LV_BONE] - got[LV_CORE]).sum() - shell_truth) < 0.03 * shell_truth
    assert (got[LV_BONE] >= got[LV_CORE] - 1e-9).all()  # the core never spills out of the bone
    for cov in got.values():
        assert cov.min() >= -1e-6 and cov.max() <= 1 + 1e-6


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fat_to_muscle_edge_gets_its_partial_volume_back(seed):
    """A muscle ball (thin fat septum round a muscle core) in fat: fat is a level of its own,
    so the muscle's coverage of the boundary voxels comes back as for bone, and the one-voxel
    septum keeps its fat."""
    rng = np.random.default_rng(10 + seed)
    n = 40
    centre = 20.0 + rng.uniform(-0.5, 0.5, 3)
    tilt = float(rng.uniform(0.0, np.pi))
    r_out = float(rng.uniform(11.0, 15.0))
    tissues = (T.FAT, T.MUSCLE, T.MUSCLE)
    tissue = _ball(n, 1, centre, r_out, 0.0, tilt, tissues)
    truth = _ball(n, 4, centre, r_out, 0.0, tilt, tissues)
    got = _coverages(tissue, edge_blend(tissue, [WHOLE]))
    painted = (level_codes()[tissue] >= LV_LEAN).astype(np.float64)
    band = (truth[LV_LEAN] > 0) & (truth[LV_LEAN] < 1)
    err_painted = np.sqrt(((painted - truth[LV_LEAN])[band] ** 2).mean())
    err_blend = np.sqrt(((got[LV_LEAN] - truth[LV_LEAN])[band] ** 2).mean())
    assert err_blend < 0.6 * err_painted, (err_blend, err_painted)
    assert abs(got[LV_LEAN].sum() - painted.sum()) < 1e-3 * painted.sum()
    np.testing.assert_allclose(got[1], 1.0)  # the body level (fat and muscle) is whole
    # a septum of fat, under two voxels thick, between muscle and a muscle core
    tissues = (T.MUSCLE, T.FAT, T.MUSCLE)
    tissue = _ball(n, 1, centre, r_out, 1.4, tilt, tissues)
    truth = _ball(n, 4, centre, r_out, 1.4, tilt, tissues)
    got = _coverages(tissue, edge_blend(tissue, [WHOLE]))
    septum_truth = (1.0 - truth[LV_LEAN]).sum()
    assert abs((1.0 - got[LV_LEAN]).sum() - septum_truth) < 0.05 * septum_truth
    blend = edge_blend(tissue, [WHOLE])
    assert set(np.unique(blend.alt)) == {T.FAT, T.MUSCLE}


def test_blend_only_touches_the_boundary_and_uses_neighbour_tissues():
    tissue = _ball(40, 1, (20.2, 19.7, 20.4), 13.0, 1.4, 0.3)
    blend = edge_blend(tissue, [WHOLE])
    code = level_codes()[tissue]
    k, j, i = np.unravel_index(blend.index, tissue.shape)
    # every entry's voxel has a face neighbour of another level
    near = np.zeros(len(blend), bool)
    for axis in range(3):
        for step in (-1, 1):
            q = [k, j, i]
            q[axis] = np.clip(q[axis] + step, 0, 39)
            near |= code[tuple(q)] != code[k, j, i]
    assert near.all()
    assert (blend.own == tissue[k, j, i]).all()
    assert set(np.unique(blend.alt)) <= {T.MUSCLE, T.CORTICAL, T.CANCELLOUS}
    assert (blend.own != blend.alt).all()
    assert (blend.weight > 0).all() and (blend.weight <= 1).all()
    assert (np.diff(blend.index) >= 0).all()


def test_regions_limit_the_blend():
    tissue = _ball(40, 1, (20.2, 19.7, 20.4), 13.0, 1.4, 0.3)
    top = edge_blend(tissue, [(slice(0, 20), slice(None), slice(None))])
    whole = edge_blend(tissue, [WHOLE])
    k = np.unravel_index(top.index, tissue.shape)[0]
    assert len(top) > 0 and k.max() < 20
    # inside the region the same entries as from the whole map (the region reads past its
    # edge for the smoothing), but for the volume-keeping shift, fitted per region
    # (shares near MIN_SHARE may fall either side of it)
    sel = np.unravel_index(whole.index, tissue.shape)[0] < 20
    key_top = top.index * 256 + top.alt
    key_whole = whole.index[sel] * 256 + whole.alt[sel]
    common, a, b = np.intersect1d(key_top, key_whole, return_indices=True)
    assert len(common) > 0.99 * max(len(key_top), len(key_whole))
    np.testing.assert_allclose(top.weight[a], whole.weight[sel][b], atol=0.02)
    assert len(edge_blend(tissue, [])) == 0


@pytest.mark.parametrize("factors", [(1, 1, 1), (2, 2, 2), (3, 1, 2)])
def test_block_mean_with_a_blend_averages_the_blended_voxels(factors):
    tissue = _ball(36, 1, (18.3, 17.6, 18.1), 12.0, 1.4, 0.7)
    lut = np.random.default_rng(1).uniform(-100.0, 1200.0, 30).astype(np.float32)
    blend = edge_blend(tissue, [WHOLE])
    # per fine voxel: own value, plus each share's difference to its neighbour's tissue
    fine = lut[tissue].astype(np.float64).ravel()
    np.add.at(
        fine, blend.index, blend.weight * (lut[blend.alt] - lut[blend.own].astype(np.float64))
    )
    fk, fj, fi = factors
    n = (36 // fk, 36 // fj, 36 // fi)
    fine = fine.reshape(tissue.shape)[: n[0] * fk, : n[1] * fj, : n[2] * fi]
    want = fine.reshape(n[0], fk, n[1], fj, n[2], fi).mean(axis=(1, 3, 5))
    crop = tissue[: n[0] * fk, : n[1] * fj, : n[2] * fi]
    got = ctphys.block_mean_lut(crop, lut, factors, blend=edge_blend(crop, [WHOLE]))
    if crop.shape == tissue.shape:
        np.testing.assert_allclose(got, want, atol=2e-3)
    else:  # the crop's own blend: the same where the crop is not cut
        np.testing.assert_allclose(got[1:-1, 1:-1, 1:-1], want[1:-1, 1:-1, 1:-1], atol=5.0)
    plain = ctphys.block_mean_lut(crop, lut, factors)
    assert np.abs(got - plain).max() > 50.0  # the blend moved boundary voxels


def test_slices_of_a_blend_index_their_slab():
    tissue = _ball(40, 1, (20.2, 19.7, 20.4), 13.0, 1.4, 0.3)
    lut = np.random.default_rng(2).uniform(-100.0, 1200.0, 30).astype(np.float32)
    blend = edge_blend(tissue, [WHOLE])
    whole = ctphys.block_mean_lut(tissue, lut, (1, 1, 1), blend=blend)
    for k0, k1 in ((0, 7), (7, 23), (23, 40)):
        part = blend.slices(k0, k1)
        assert isinstance(part, EdgeBlend) and part.shape == (k1 - k0, 40, 40)
        slab = ctphys.block_mean_lut(tissue[k0:k1], lut, (1, 1, 1), blend=part)
        np.testing.assert_array_equal(slab, whole[k0:k1])


def test_level_codes_nest():
    codes = level_codes()
    assert codes[T.AIR] == codes[T.LUNG] == codes[T.GAS] == codes[T.FOAM] == 0
    assert codes[T.FAT] == 1
    assert codes[T.MUSCLE] == codes[T.DISC] == codes[T.WATER] == codes[T.COUCH] == LV_LEAN
    assert codes[T.CORTICAL] == codes[T.SHELL] == codes[T.METAL] == LV_BONE
    assert codes[T.CANCELLOUS] == codes[T.DENSE] == codes[T.MARROW] == LV_CORE
    for inner, outer in zip(LEVELS[1:], LEVELS[:-1]):
        assert set(inner) <= set(outer)


def test_spine_regions_are_disjoint_and_cover_the_boxes():
    boxes = {"L1": (3, 40, 10, 50, 20, 60), "L2": (35, 80, 14, 56, 18, 64)}
    regions = spine_regions(boxes, (100, 90, 90), slices=16)
    owner = np.zeros((100, 90, 90), np.int32)
    for r in regions:
        owner[r] += 1
    assert owner.max() == 1
    for k0, k1, j0, j1, i0, i1 in boxes.values():
        assert (owner[k0:k1, j0:j1, i0:i1] == 1).all()
    assert owner[:3].sum() == 0 and owner[80:].sum() == 0


def test_a_vertebra_gets_the_partial_volume_of_a_finer_render():
    """L3 of a shape-model spine painted at 0.78 x 0.78 x 1.56 mm and at a third of that in
    every axis: the blend's bone and core coverages against the fine render's block means.
    Measured: RMS 0.29 (centre sampling) -> 0.16-0.17 (blend) of a voxel on the surface,
    volumes as painted."""
    geo = sample_geometry(np.random.default_rng(5), SynthConfig())
    c = geo.centres_mm[geo.labels.index("L3")]
    sp = np.array([0.78, 0.78, 1.56])
    f = 3
    ni, nj, nk = 90, 110, 30
    origin = c - np.array([ni / 2 * sp[0], (nj / 2 - 20) * sp[1], nk / 2 * sp[2]])
    coarse = RenderGrid(tuple(origin), tuple(sp), (nk, nj, ni))
    fine = RenderGrid(tuple(origin - (f - 1) / 2 * sp / f), tuple(sp / f), (nk * f, nj * f, ni * f))
    rc = render_labels(geo, coarse, AnatomyParams(), np.random.default_rng(1))
    rf = render_labels(geo, fine, AnatomyParams(), np.random.default_rng(1))
    codes = level_codes()
    cf = codes[rf.tissue]
    got = _coverages(rc.tissue, edge_blend(rc.tissue, [WHOLE]))
    painted_code = codes[rc.tissue]
    for lv in (LV_BONE, LV_CORE):
        truth = (cf >= lv).reshape(nk, f, nj, f, ni, f).mean(axis=(1, 3, 5))
        painted = (painted_code >= lv).astype(np.float64)
        band = ((truth > 0) & (truth < 1)) | (painted != np.round(truth))
        err_painted = np.sqrt(((painted - truth)[band] ** 2).mean())
        err_blend = np.sqrt(((got[lv] - truth)[band] ** 2).mean())
        assert err_blend < 0.65 * err_painted, (lv, err_blend, err_painted)
        assert abs(got[lv].sum() - truth.sum()) < 0.01 * truth.sum()


def test_generator_blends_the_image_not_the_labels():
    base = dict(fov="lumbar", spacing_mm=(0.8, 0.8, 1.2), max_inplane=220, p_metal=0.0)
    plain = generate_case(4, SynthConfig(antialias="off", **base))
    smooth = generate_case(4, SynthConfig(**base))
    assert smooth.meta["config"]["antialias"] == "spine"
    np.testing.assert_array_equal(plain.labels.array, smooth.labels.array)
    a = plain.ct.array.astype(np.int32)
    b = smooth.ct.array.astype(np.int32)
    # (the noise's amplitude follows the image's attenuation, so values elsewhere may move
    # by a unit or two)
    changed = np.abs(b - a) > 8
    assert 0.002 < changed.mean() < 0.1  # the spine's boundary voxels (and their blur)
    # the mean over the changed voxels hardly moves: volumes are kept, edges only soften
    assert abs(float((b - a)[changed].mean())) < 15.0
    # the changes sit on the spine: within the labelled vertebrae's hull, grown a little
    lab = plain.labels.array > 0
    idx = np.argwhere(lab)
    lo, hi = np.maximum(idx.min(axis=0) - 25, 0), idx.max(axis=0) + 25
    inside = np.zeros_like(changed)
    inside[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = True
    assert changed[~inside].mean() < 0.05 * changed[inside].mean()


def test_bone_regions_are_disjoint_and_hold_every_bone_voxel():
    tissue = np.full((50, 70, 90), T.MUSCLE, np.uint8)
    tissue[3:9, 5:12, 80:88] = T.CORTICAL  # a rib's end
    tissue[20:40, 30:60, 10:50] = T.CANCELLOUS
    tissue[45, 69, 89] = T.METAL  # the last voxel
    regions = bone_regions(tissue, tile=16)
    owner = np.zeros(tissue.shape, np.int32)
    for r in regions:
        owner[r] += 1
    assert owner.max() == 1
    bone = level_codes()[tissue] >= LV_BONE
    assert (owner[bone] == 1).all()
    assert owner.sum() < 0.6 * tissue.size  # empty tiles left out
    with pytest.raises(ValueError, match="antialias"):
        SynthConfig(antialias="ribs")


def test_anti_aliasing_every_bone_reaches_the_ribs():
    """A thoracic case at 0.98 mm (PSF 0.45 mm), bone edges over the whole image: with the
    spine's boxes only the ribs and sternum stay pixel-drawn (non-uniformity 0.276), with every
    bone 0.144 (the real slab, all bone: 0.046; the axis-aligned part of a painted edge cannot
    be recovered from the map)."""
    from spinelab.synth.realism import bone_edge_phase

    got = {}
    for mode in ("spine", "bone"):
        case = generate_case(3, thin_slice_config("thoracic", mode, max_inplane=400))
        got[mode] = bone_edge_phase(case.ct.array, case.ct.affine_lps).nonuniformity
    assert got["spine"] > 0.2
    assert got["bone"] < 0.2 and got["bone"] < 0.65 * got["spine"]
