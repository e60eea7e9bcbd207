"""Renderer anatomy on a fixed grid: ribs, fractures, degenerated discs, metal, skull base."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import render
from spinelab.synth.fractures import Fracture, fracture_geometry
from spinelab.synth.generator import SynthConfig, _draw_params
from spinelab.synth.painter import ellipse_form
from spinelab.synth.render import (
    VACUUM_HALF_MM,
    AnatomyParams,
    RenderGrid,
    render_labels,
    vacuum_clefts,
)
from spinelab.synth.tissues import BONE, FAT_LIKE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _grid(spine, first: str, last: str, sp: float = 2.0) -> RenderGrid:
    """A 2 mm grid over the torso from ``first`` to ``last`` (with 20 mm margins)."""
    c = spine.centres_mm
    z_top = c[spine.labels.index(first), 2] + 20.0
    z_bot = c[spine.labels.index(last), 2] - 20.0
    n = (int((z_top - z_bot) / sp) + 1, int(360 / sp), int(420 / sp))
    y0 = float(c[:, 1].mean()) - 250.0
    return RenderGrid((-210.0, y0, float(z_bot)), (sp, sp, sp), n)


def _bone_beside(res, spine, label: str, lateral_mm: float) -> int:
    """Bone voxels in a slab through ``label``'s centre, more than ``lateral_mm`` to either side."""
    g = res.grid
    c = spine.centres_mm[spine.labels.index(label)]
    k0, k1 = g.index_range(2, c[2] - 4.0, c[2] + 4.0)
    x = g.axis_mm(0) - c[0]
    side = np.abs(x) > lateral_mm
    slab = res.tissue[k0:k1][:, :, side]
    return int(np.isin(slab, [int(t) for t in BONE]).sum())


def _rib_bone_near_body(res, spine, label: str) -> int:
    """Bone voxels of no vertebra (ribs) 15-45 mm to either side of ``label``'s centre and within
    30 mm of it front to back, in a slab through its centre: rib heads and necks."""
    g = res.grid
    c = spine.centres_mm[spine.labels.index(label)]
    k0, k1 = g.index_range(2, c[2] - 4.0, c[2] + 4.0)
    ax = np.abs(g.axis_mm(0) - c[0])
    ay = np.abs(g.axis_mm(1) - c[1])
    cols = (ax >= 15.0) & (ax <= 45.0)
    rows = ay <= 30.0
    tissue = res.tissue[k0:k1][:, rows][:, :, cols]
    free = res.vertebrae[k0:k1][:, rows][:, :, cols] == 0
    return int((np.isin(tissue, [int(t) for t in BONE]) & free).sum())


def test_ribs_on_thoracic_vertebrae_none_on_l2(spine):
    res = render_labels(spine, _grid(spine, "T9", "L2"), AnatomyParams(), np.random.default_rng(0))
    # ribs reach far lateral (> 90 mm from the spine) at T9-T10; the lower ribs slope down
    # the side of the chest to the L1 level (the real example CT has 180-420 mm2 of bone above
    # 200 HU per axial slice more than 60 mm to the side at L1), none at L2
    assert _bone_beside(res, spine, "T9", 90.0) > 20
    assert _bone_beside(res, spine, "T10", 90.0) > 20
    assert _bone_beside(res, spine, "L1", 90.0) > 20
    assert _bone_beside(res, spine, "L2", 60.0) == 0
    # rib heads and necks beside the body articulate with T12, none with L1
    assert _rib_bone_near_body(res, spine, "T12") > 20
    assert _rib_bone_near_body(res, spine, "L1") == 0
    # vertebra labels: only vertebrae, VerSe ids of the chain
    ids = {int(v) for v in np.unique(res.vertebrae) if v}
    assert {anatomy.by_name(x).verse_id for x in ("T10", "T11", "T12", "L1")} <= ids


def test_compression_fracture_lowers_the_body(spine):
    grid = _grid(spine, "L1", "L4")
    vid = anatomy.by_name("L2").verse_id
    plain = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    h = float(spine.body_height_mm[spine.labels.index("L2")])
    fx = (Fracture("L2", 1, 0.45 * h, 0.0, 0.0, 0.1, False),)
    frac = render_labels(
        fracture_geometry(spine, fx), grid, AnatomyParams(fractures=fx), np.random.default_rng(0)
    )
    n_plain = int((plain.vertebrae == vid).sum())
    n_frac = int((frac.vertebrae == vid).sum())
    assert n_frac < 0.93 * n_plain
    other = anatomy.by_name("L3").verse_id
    assert int((frac.vertebrae == other).sum()) == int((plain.vertebrae == other).sum())


def test_degenerated_disc_has_vacuum_gas_and_metal_is_rendered(spine):
    grid = _grid(spine, "L2", "L5")
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    sick = render_labels(
        spine,
        grid,
        AnatomyParams(
            degenerated_discs=("L3",), vacuum_discs=("L3",), screws=("L3", "L4"), bowel_gas=0
        ),
        np.random.default_rng(0),
    )
    c3 = spine.centres_mm[spine.labels.index("L3")]
    c4 = spine.centres_mm[spine.labels.index("L4")]
    mid = (c3 + c4) / 2
    g = grid
    k0, k1 = g.index_range(2, mid[2] - 6, mid[2] + 6)
    j0, j1 = g.index_range(1, mid[1] - 25, mid[1] + 25)
    i0, i1 = g.index_range(0, mid[0] - 25, mid[0] + 25)
    box = (slice(k0, k1), slice(j0, j1), slice(i0, i1))
    assert (sick.tissue[box] == Tissue.GAS).sum() > 0
    assert (plain.tissue[box] == Tissue.GAS).sum() == 0
    assert (plain.tissue[box] == Tissue.DISC).sum() > 50
    assert (sick.tissue == Tissue.METAL).sum() > 100
    assert (plain.tissue == Tissue.METAL).sum() == 0
    assert len(sick.metal_points_mm) > 0


def test_skull_base_above_c1_and_dens_inside_the_atlas_ring(spine):
    res = render_labels(
        spine, _grid(spine, "C1", "C4", 1.5), AnatomyParams(), np.random.default_rng(0)
    )
    c1 = spine.centres_mm[0]
    g = res.grid
    # bone above C1 (skull base / occiput), not labelled as a vertebra
    k0, k1 = g.index_range(2, c1[2] + 14.0, c1[2] + 26.0)
    above = res.tissue[k0:k1]
    assert np.isin(above, [int(t) for t in BONE]).sum() > 200
    assert res.vertebrae[k0:k1].max() == 0
    # the dens (C2 label) rises to the level of C1
    k = round((c1[2] - g.origin_mm[2]) / g.spacing_mm[2])
    assert (res.vertebrae[k] == anatomy.by_name("C2").verse_id).sum() > 5
    assert (res.vertebrae[k] == anatomy.by_name("C1").verse_id).sum() > 50


def test_narrowed_discs_move_the_cranial_spine_down(spine):
    from spinelab.synth.generator import narrow_discs

    n = spine.labels.index("L4")
    out = narrow_discs(spine, ("L4",), 0.5)
    gap = np.linalg.norm(spine.centres_mm[n] - spine.centres_mm[n + 1])
    new_gap = np.linalg.norm(out.centres_mm[n] - out.centres_mm[n + 1])
    assert new_gap == pytest.approx(gap - 0.5 * spine.disc_height_mm[n], abs=0.5)
    assert out.disc_height_mm[n] == pytest.approx(0.5 * spine.disc_height_mm[n])
    # vertebrae below are untouched, those above move rigidly together
    np.testing.assert_array_equal(out.centres_mm[n + 1 :], spine.centres_mm[n + 1 :])
    np.testing.assert_allclose(
        np.diff(out.centres_mm[: n + 1], axis=0), np.diff(spine.centres_mm[: n + 1], axis=0)
    )


def test_tube_cut_by_the_grid_border_matches_the_same_tube_on_a_larger_grid():
    from spinelab.synth.painter import Painter

    pts = np.array([[-30.0, 0.0, -20.0], [5.0, 12.0, 0.0], [40.0, -5.0, 25.0]])
    big = RenderGrid((-40.0, -30.0, -30.0), (1.0, 1.0, 1.5), (40, 60, 80))
    # the small grid is a window of the big one (whole voxels), cutting the tube on all sides
    k0, j0, i0 = 12, 21, 25
    small = RenderGrid((-40.0 + i0, -30.0 + j0, -30.0 + k0 * 1.5), (1.0, 1.0, 1.5), (18, 21, 30))
    maps = []
    for grid in (big, small):
        pt = Painter(grid)
        pt.tissue[:] = Tissue.FAT
        pt.tissue[:, ::7] = Tissue.AIR  # rows that `only` keeps (j0: multiple of 7)
        pt.tube(pts, 6.0, Tissue.CORTICAL, Tissue.MARROW, 1.5, only=(Tissue.FAT, Tissue.CORTICAL))
        maps.append(pt.tissue)
    window = maps[0][k0 : k0 + 18, j0 : j0 + 21, i0 : i0 + 30]
    assert (maps[1] == Tissue.MARROW).sum() > 100
    np.testing.assert_array_equal(maps[1], window)


def _local_section(res, spine, label: str, e_mm: float, step: float = 0.5):
    """Label map sampled on a 100 x 100 mm (a, b) plane of ``label``'s frame at height ``e_mm``
    (a left, b posterior; nearest voxel), and the a, b coordinates (mm)."""
    n = spine.labels.index(label)
    c, fr = spine.centres_mm[n], spine.frames[n]
    a = np.arange(-50.0, 50.0, step)
    b = np.arange(-30.0, 70.0, step)
    aa, bb = np.meshgrid(a, b, indexing="ij")
    pts = c + np.stack([aa, bb, np.full_like(aa, e_mm)], axis=-1) @ fr.T
    g = res.grid
    ijk = np.rint((pts - np.asarray(g.origin_mm)) / np.asarray(g.spacing_mm)).astype(int)
    ijk = np.clip(ijk, 0, np.array(g.shape_kji[::-1]) - 1)
    return res.vertebrae[ijk[..., 2], ijk[..., 1], ijk[..., 0]], a, b


@pytest.mark.parametrize(
    ("label", "canal_mm2", "pedicle_mm"), [("L3", (200.0, 450.0), 8.0), ("T6", (120.0, 300.0), 3.5)]
)
def test_pedicles_are_thick_and_enclose_a_canal_of_real_size(spine, label, canal_mm2, pedicle_mm):
    import scipy.ndimage as ndi

    from spinelab.synth import vertebra_shape as vs

    n = spine.labels.index(label)
    h, d = spine.body_height_mm[n], spine.body_depth_mm[n]
    res = render_labels(
        spine, _grid(spine, label, label, 0.5), AnatomyParams(bowel_gas=0), np.random.default_rng(0)
    )
    dims = vs.level_dims(label)
    e_ped = min(0.5 * h - 0.5 * dims["ped_h"] - 0.5, 0.2 * h)
    sec, a, b = _local_section(res, spine, label, e_ped)
    bone = sec == anatomy.by_name(label).verse_id
    # the canal: the hole that body, pedicles and laminae enclose at the pedicles' level
    holes = ndi.binary_fill_holes(bone) & ~bone
    lab, _ = ndi.label(holes)
    ia, ib = np.searchsorted(a, 0.0), np.searchsorted(b, vs.posterior_wall(d) + 5.0)
    assert lab[ia, ib] > 0, "no closed canal at the pedicles"
    area = (lab == lab[ia, ib]).sum() * 0.25
    assert canal_mm2[0] < area < canal_mm2[1], area
    # each pedicle, across a line through the canal's front third, is a solid bony column
    row = bone[:, np.searchsorted(b, vs.posterior_wall(d) + 0.3 * dims["can_d"])]
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]]))))[::2]
    assert len(runs) == 2 and runs.min() * 0.5 >= pedicle_mm, runs * 0.5


def test_facet_joints_pair_neighbouring_vertebrae_across_a_gap(spine):
    from spinelab.synth import vertebra_shape as vs

    res = render_labels(
        spine, _grid(spine, "L2", "L3", 0.5), AnatomyParams(bowel_gas=0), np.random.default_rng(0)
    )
    n = spine.labels.index("L3")
    h = spine.body_height_mm[n]
    # just above L3's upper endplate, beside the canal: L3's superior articular process lies
    # lateral to L2's inferior articular process, with non-bone (the joint space) in between
    sec, a, _b = _local_section(res, spine, "L3", h / 2 + 3.0)
    ids = {anatomy.by_name(x).verse_id for x in ("L2", "L3")}
    left = sec[a > vs.level_dims("L3")["can_w"] / 2]
    present = {int(v) for v in np.unique(left)} & ids
    assert present == ids
    l3 = np.argwhere(left == anatomy.by_name("L3").verse_id)
    l2 = np.argwhere(left == anatomy.by_name("L2").verse_id)
    gap = np.min(np.linalg.norm(l3[:, None, :] - l2[None, :, :], axis=-1)) * 0.5
    assert gap >= 1.0, gap


@pytest.fixture(scope="module")
def pelvis(spine):
    """Pelvic bone (bone outside the vertebra labels) on a 1 mm grid around S1, and the axes
    relative to S1's centre (mm)."""
    c = spine.centres_mm[spine.labels.index("S1")]
    grid = RenderGrid((c[0] - 160, c[1] - 130, c[2] - 180), (1.0, 1.0, 1.0), (240, 200, 320))
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    bone = np.isin(res.tissue, [int(t) for t in BONE]) & (res.vertebrae == 0)
    return bone, grid.axis_mm(0) - c[0], grid.axis_mm(1) - c[1], grid.axis_mm(2) - c[2]


def test_iliac_wings_are_broad_curved_plates_with_thick_rims(pelvis):
    bone, x, _y, z = pelvis

    def y_run(zr: float, xr: float) -> int:
        """Bone along an antero-posterior line (mm): the wing's thickness / cos(obliquity)."""
        return int(bone[np.argmin(abs(z - zr)), :, np.argmin(abs(x - xr))].sum())

    for side in (1.0, -1.0):
        # thin in the iliac fossa (a 3 mm plate cut obliquely; was a 10 mm rod), thick at the
        # sacro-iliac joint and at the crest
        assert 0 < y_run(10.0, side * 95.0) <= 8
        assert y_run(-10.0, side * 60.0) >= 15
        # just below the crest (summit 60 mm), where the flared wing lies 110-140 mm out
        assert max(y_run(50.0, side * xr) for xr in range(110, 141, 5)) >= 10
        # fan-shaped in coronal projection: from the sacro-iliac joint (< 60 mm from the
        # midline) to the anterior superior spine (> 120 mm), crest summit 50-65 mm above S1
        proj = bone[:, :, side * x > 40].any(axis=1)  # (z, x) coronal projection
        xs = (side * x[side * x > 40])[proj[np.argmin(abs(z - 0.0))]]
        assert xs.min() < 60 and xs.max() > 120
        top = z[proj.any(axis=1)].max()
        assert 50 <= top <= 65


def test_sacrum_below_s2_is_one_tapering_plate(pelvis):
    from scipy import ndimage as ndi

    bone, x, _y, z = pelvis
    # mid-sagittal: the bone below S2 (S3 to the coccyx) is one piece at least 50 mm tall
    # (separate segments were beads with gaps)
    below = z < -45.0
    mid = bone[:, :, np.argmin(abs(x))][below]
    comps, n = ndi.label(mid)
    sizes = ndi.sum(mid, comps, range(1, n + 1))
    big = comps == 1 + int(np.argmax(sizes))
    zs = z[below][big.any(axis=1)]
    assert zs.max() - zs.min() >= 50.0
    # wide at S3 (about 75 mm), narrow near the tip
    k3 = np.argmin(abs(z - (zs.max() - 5.0)))
    width3 = np.ptp(x[bone[k3].any(axis=0) & (abs(x) < 60)])
    assert width3 >= 50.0


def test_pubis_and_ischium_below_the_acetabulum(pelvis):
    bone, x, y, z = pelvis
    low = z < -115  # below the hip centres (100 mm under S1)
    # pubic symphysis: bone in front near the midline, a gap at the midline itself
    sym = bone[low][:, y < -60][:, :, abs(x) < 20]
    assert sym.sum() > 500
    assert bone[low][:, y < -60][:, :, abs(x) < 1.0].sum() == 0
    # ischial tuberosities: behind the hip centres, about 55 mm to either side
    for side in (1.0, -1.0):
        isch = bone[low][:, (y > -35) & (y < 20)][:, :, abs(side * x - 55.0) < 12.0]
        assert isch.sum() > 1000


def test_posterior_elements_have_a_dense_core_behind_the_body(spine):
    """The arch is dense bone throughout (Tissue.DENSE core), the body cancellous."""
    res = render_labels(
        spine, _grid(spine, "L2", "L4", 1.0), AnatomyParams(bowel_gas=0), np.random.default_rng(0)
    )
    n = spine.labels.index("L3")
    vid = anatomy.by_name("L3").verse_id
    kji = np.argwhere((res.vertebrae == vid) & (res.tissue == Tissue.DENSE))
    assert len(kji) > 500
    g = res.grid
    xyz = np.asarray(g.origin_mm) + kji[:, ::-1] * np.asarray(g.spacing_mm)
    posterior = (xyz - spine.centres_mm[n]) @ spine.frames[n][:, 1]
    assert np.median(posterior) > 20.0  # behind the body centre
    body = (res.vertebrae == vid) & (res.tissue == Tissue.CANCELLOUS)
    assert body.sum() > len(kji)


def test_bowel_fills_the_abdomen_in_front_of_the_spine(spine):
    """Packed loops with mesenteric fat between, in front of L3 (40-120 mm in front of its
    centre, 80 mm to either side): bowel over 45 % of the patch and fat (the mesentery's
    included) 25-55 %, as means over four seeds (one slice varies with the layout by +-0.06).
    The real CT's patch (its L3 mask's centroid, axial 3 mm, a 3 x 3 median): fat
    (-250..-50 HU) 0.40-0.46, gas 0.16-0.17, the rest 0.38-0.43. Measured 2026-12-05: bowel
    0.52 / 0.46 / 0.49 / 0.52, fat 0.42 / 0.46 / 0.43 / 0.40 (before the mesenteric fan
    the bowel's mean was a little over 0.5, the bound then)."""
    bowel, fat = [], []
    for seed in range(4):
        res = render_labels(
            spine, _grid(spine, "L3", "L3"), AnatomyParams(), np.random.default_rng(seed)
        )
        c = spine.centres_mm[spine.labels.index("L3")]
        g = res.grid
        k = g.index_range(2, c[2], c[2] + 2.0)[0]
        j0, j1 = g.index_range(1, c[1] - 120.0, c[1] - 40.0)
        i0, i1 = g.index_range(0, c[0] - 80.0, c[0] + 80.0)
        patch = res.tissue[k, j0:j1, i0:i1]
        kinds = [
            int(t)
            for t in (Tissue.SOFT, Tissue.GUT_WALL, Tissue.GUT_FLUID, Tissue.GAS, Tissue.FAECAL_GAS)
        ]
        bowel.append(np.isin(patch, kinds).mean())
        fat.append(np.isin(patch, FAT_LIKE).mean())
    assert np.mean(bowel) > 0.45, bowel
    assert 0.25 < np.mean(fat) < 0.55, fat


@pytest.fixture(scope="module")
def chest(spine):
    """T5-T8 rendered on a 1 mm grid, without the scapulae (these tests measure the ribs; the
    scapula is the other bone outside the vertebrae there)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render.shoulder, "paint_shoulder_girdle", lambda *a, **k: None)
        return render_labels(
            spine,
            _grid(spine, "T5", "T8", 1.0),
            AnatomyParams(bowel_gas=0),
            np.random.default_rng(0),
        )


def test_ribs_are_flattened_taller_than_thick(chest):
    from scipy import ndimage as ndi

    g = chest.grid
    rib = np.isin(chest.tissue, [int(t) for t in BONE]) & (chest.vertebrae == 0)
    x = g.axis_mm(0)
    lateral = np.abs(x - x.mean()) > 80.0
    # lateral rib shafts cut by every coronal slice: height (z) over width (x) of each section;
    # an oblique cut widens a section but never makes it taller, so the upper quartile is
    # the cut across the rib (round tubes gave 1.0, flat ribs 12-14 x 6-7 mm about 2)
    ratios = []
    for j in range(rib.shape[1]):
        comps, _ = ndi.label(rib[:, j, :] & lateral[None, :])
        for sl in ndi.find_objects(comps):
            dz, dx = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
            if dz * dx >= 12 and dx >= 3:
                ratios.append(dz / dx)
    assert len(ratios) > 200
    assert np.percentile(ratios, 75) > 1.5
    assert np.percentile(ratios, 95) < 3.0


def test_rib_heads_at_the_disc_level_beside_the_bodies_tubercles_at_the_processes(spine, chest):
    from spinelab.synth import vertebra_shape as vshape

    g = chest.grid
    rib = np.isin(chest.tissue, [int(t) for t in BONE]) & (chest.vertebrae == 0)
    kji = np.argwhere(rib)
    xyz = np.asarray(g.origin_mm) + kji[:, ::-1] * np.asarray(g.spacing_mm)
    for name in ("T6", "T7"):
        n = spine.labels.index(name)
        h, w, d = spine.body_height_mm[n], spine.body_width_mm[n], spine.body_depth_mm[n]
        disc = spine.disc_height_mm[n - 1]
        a, b, e = ((xyz - spine.centres_mm[n]) @ spine.frames[n]).T
        for side in (1.0, -1.0):
            near = (side * a > 0) & (side * a < 0.5 * w + 8.0) & (np.abs(b) < 0.5 * d)
            near &= (e > -h) & (e < h + disc)
            assert near.sum() > 20
            # heads sit against the bodies at the discs (demifacets of two vertebrae): this
            # rib's above the body, the next rib's below, none beside the body's middle
            assert h / 2 - 3.0 < np.median(e[near & (e > 0)]) < h / 2 + disc + 3.0
            assert (np.abs(e[near]) < h / 4).mean() < 0.1
            assert np.min(side * a[near]) < 0.5 * w
            # the tubercle lies against the front of the transverse process's tip
            ta, tb, te, tt = vshape.transverse_tip(name, h, d)
            tip = np.array([side * (ta - 3.0), tb - tt, te])
            dist = np.linalg.norm(np.stack([a, b, e], axis=1) - tip, axis=1)
            assert dist.min() < 3.0


def _marbled(spine, fraction: float):
    """L2-L3 at 1 mm without and with marbling: ``(grid, muscle mask, streak mask)``."""
    grid = _grid(spine, "L2", "L3", 1.0)
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    fatty = render_labels(
        spine, grid, AnatomyParams(bowel_gas=0, muscle_fat=fraction), np.random.default_rng(0)
    )
    muscle = plain.tissue == Tissue.MUSCLE
    assert np.array_equal(plain.vertebrae, fatty.vertebrae)
    return grid, muscle, muscle & (fatty.tissue == Tissue.FAT)


def test_muscle_fat_marbling_makes_craniocaudal_streaks(spine):
    _, muscle, streak = _marbled(spine, 0.2)
    assert 0.15 < streak.sum() / muscle.sum() < 0.25
    # streaks run along the fibres (z): a streak voxel's neighbour is more often a streak
    # voxel along z than along x
    both_z = (streak[1:] & streak[:-1] & muscle[1:]).sum() / (streak[:-1] & muscle[1:]).sum()
    both_x = (streak[:, :, 1:] & streak[:, :, :-1] & muscle[:, :, 1:]).sum() / (
        streak[:, :, :-1] & muscle[:, :, 1:]
    ).sum()
    # (0.18 apart before the back sagged onto the couch, 0.147 after: the lumbar back's wall
    # muscle grew, a broad region whose streaks also touch along x)
    assert both_z > both_x + 0.12


def test_lungs_below_the_dome_are_thin_recesses(spine):
    """At T11 only the costophrenic recesses of the lungs remain beside the liver and spleen.

    The real example CT has lung in about 10% of the body section at its (partial) T11 and 5.5%
    at T12; a paraboloid dome left 19-20% at T11 here.
    """
    res = render_labels(spine, _grid(spine, "T8", "L1"), AnatomyParams(), np.random.default_rng(0))
    frac = {}
    for label in ("T9", "T11", "T12"):
        z = spine.centres_mm[spine.labels.index(label), 2]
        sl = res.tissue[res.grid.index_range(2, z - 1.0, z + 1.0)[0]]
        frac[label] = float(np.mean(sl[sl != Tissue.AIR] == Tissue.LUNG))
    # above the domes the lungs fill most of the chest: 0.31 here while they reached past
    # the ribs (render.LUNG_INSIDE_RIBS_MM), 0.28 inside them
    assert frac["T9"] > 0.25
    assert 0.03 < frac["T11"] < 0.17
    assert frac["T12"] < frac["T11"]


def test_muscle_fat_marbling_is_heaviest_behind_the_spine(spine):
    """Fatty infiltration is patchy and strongest in the paraspinal muscles, not uniform."""
    grid, muscle, streak = _marbled(spine, 0.15)
    n = spine.labels.index("L2")
    y_s = spine.centres_mm[n, 1]
    y = grid.axis_mm(1)[None, :, None]
    back = muscle & (y > y_s + 30.0)  # erector spinae / multifidus
    front = muscle & (y < y_s - 20.0)  # abdominal wall
    assert back.sum() > 1000 and front.sum() > 1000
    f_back = streak[back].mean()
    f_front = streak[front].mean()
    assert f_back > 2.5 * f_front
    assert 0.1 < streak.sum() / muscle.sum() < 0.2  # the mean fraction still holds


def test_vacuum_gas_is_thin_patchy_clefts_not_a_lens():
    """A disc's vacuum gas (``vacuum_clefts``) lies in patches over part of the lens behind the
    disc's centre, up to 2.8 mm thick (it was the whole lens, 2.4 mm thick: a black bar on
    every sagittal view); each disc its own patches."""
    w, d = 22.0, 17.0
    g = np.arange(-30.0, 30.0, 0.25)
    a, b, e = np.meshgrid(g, g, np.arange(-3.0, 3.0, 0.1), indexing="ij")
    lens = ellipse_form(a[..., 0], b[..., 0] + 0.2 * d, 0.45 * w, 0.25 * d) <= 1.0
    shares, masks = [], []
    for key in (3.0 + d, 4.0 + d, 5.0 + d):
        gas = vacuum_clefts(a, b, e, w, d, key)
        assert not (gas.any(axis=2) & ~lens).any()
        shares.append(gas.any(axis=2)[lens].mean())
        assert np.abs(e[gas]).max() <= VACUUM_HALF_MM
        masks.append(gas.any(axis=2))
    assert all(0.15 < s < 0.75 for s in shares), shares
    assert not np.array_equal(masks[0], masks[1])


def test_only_some_degenerated_discs_hold_vacuum_gas():
    spine = curved_spine()
    cfg = SynthConfig(p_degenerated=1.0)
    rng = np.random.default_rng(5)
    degenerated = vacuum = 0
    for _ in range(60):
        p = _draw_params(rng, cfg, spine)
        assert set(p.vacuum_discs) <= set(p.degenerated_discs)
        degenerated += len(p.degenerated_discs)
        vacuum += len(p.vacuum_discs)
    assert 0.25 < vacuum / degenerated < 0.55
