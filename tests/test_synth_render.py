"""Synthetic CT renderer and generator: geometry, labels, determinism, orientation, styles."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.structures import Volume
from spinelab.synth import arrays, painter
from spinelab.synth import ct as ctphys
from spinelab.synth import generator as gen
from spinelab.synth.generator import SynthConfig, generate_case, reorient
from spinelab.synth.randomize import RANDOM_MAX, gamma_to_int16
from spinelab.synth.tissues import Tissue, sample_hu_table

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SMALL = SynthConfig(
    fov="lumbar", spacing_mm=(3.0, 3.0, 3.0), random_orientation=False, render_mm=1.5, p_metal=0.0
)


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


@pytest.fixture(scope="module")
def lumbar_case(spine):
    return generate_case(7, SMALL, geometry=spine)


def _label_at(labels: Volume, pos_mm: np.ndarray) -> int:
    ijk = np.rint(labels.world_to_ijk(pos_mm)).astype(int)
    return int(labels.array[tuple(ijk)])


def _assert_centroids_in_labels(case) -> None:
    assert len(case.centroids) > 0
    for label, pos in case.centroids:
        assert _label_at(case.labels, pos) == anatomy.by_name(label).verse_id, label


def test_centroids_lie_inside_their_vertebra_label(lumbar_case):
    _assert_centroids_in_labels(lumbar_case)
    assert lumbar_case.ct.array.dtype == np.int16
    assert lumbar_case.labels.array.dtype == np.uint8
    assert lumbar_case.ct.shape == lumbar_case.labels.shape
    np.testing.assert_array_equal(lumbar_case.ct.affine_lps, lumbar_case.labels.affine_lps)


def test_neighbours_8_to_60_mm_apart_in_chain_order(spine, lumbar_case):
    c = lumbar_case.centroids
    idx = [anatomy.chain_index(x) for x in c.labels]
    assert idx == sorted(idx)
    pos = [spine.labels.index(x) for x in c.labels]
    assert np.all(np.diff(pos) == 1)  # no gaps: consecutive vertebrae of the spine
    d = np.linalg.norm(np.diff(c.positions_mm, axis=0), axis=1)
    assert np.all((d > 8.0) & (d < 60.0)), d
    # cranial to caudal: z decreases along the chain (upright patient)
    assert np.all(np.diff(c.positions_mm[:, 2]) < 0)


def test_same_seed_same_arrays_different_seed_different(spine, lumbar_case):
    again = generate_case(7, SMALL, geometry=spine)
    np.testing.assert_array_equal(again.ct.array, lumbar_case.ct.array)
    np.testing.assert_array_equal(again.labels.array, lumbar_case.labels.array)
    np.testing.assert_array_equal(again.ct.affine_lps, lumbar_case.ct.affine_lps)
    assert again.meta == lumbar_case.meta
    other = generate_case(8, SMALL, geometry=spine)
    assert other.ct.shape != lumbar_case.ct.shape or not np.array_equal(
        other.ct.array, lumbar_case.ct.array
    )


def test_hu_values_are_plausible(lumbar_case):
    ct = lumbar_case.ct.array
    assert ct.min() >= -1024 and ct.max() <= 3071
    # the corner of the grid is air outside the body
    assert ct[:3, :3, :3].mean() < -900
    # vertebral bodies are bone, clearly denser than soft tissue
    body_hu = [
        int(ct[tuple(np.rint(lumbar_case.ct.world_to_ijk(p)).astype(int))])
        for _, p in lumbar_case.centroids
    ]
    assert np.median(body_hu) > 80
    bone = lumbar_case.labels.array > 0
    assert np.median(ct[bone]) > 120
    soft = (lumbar_case.labels.array == 0) & (ct > -200) & (ct < 200)
    assert soft.sum() > 0.2 * ct.size  # a body full of soft tissue, not an empty box


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_grid_orientation_keeps_world_geometry(spine, seed):
    cfg = SynthConfig(
        fov="lumbar",
        spacing_mm=(3.0, 3.0, 4.0),
        random_orientation=True,
        p_metal=0.0,
        style="randomized",
        render_mm=4.0,
    )
    case = generate_case(seed, cfg, geometry=spine)
    _assert_centroids_in_labels(case)
    assert case.ct.array.flags.c_contiguous and case.labels.array.flags.c_contiguous
    # the same seed without reorientation draws the same content on the canonical grid
    plain = generate_case(
        seed, SynthConfig(**{**cfg.__dict__, "random_orientation": False}), geometry=spine
    )
    np.testing.assert_allclose(
        np.abs(np.linalg.det(case.ct.affine_lps[:3, :3])),
        np.abs(np.linalg.det(plain.ct.affine_lps[:3, :3])),
    )
    # every voxel of the reoriented image maps to the voxel of the plain one at the same world
    # position, with the same value
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in case.ct.shape], indexing="ij"), -1)
    ijk = ijk.reshape(-1, 3)[::97]
    world = case.ct.ijk_to_world(ijk)
    ijk_plain = np.rint(plain.ct.world_to_ijk(world)).astype(int)
    np.testing.assert_array_equal(case.ct.array[tuple(ijk.T)], plain.ct.array[tuple(ijk_plain.T)])
    np.testing.assert_array_equal(
        case.labels.array[tuple(ijk.T)], plain.labels.array[tuple(ijk_plain.T)]
    )


def test_orientations_vary_across_seeds():
    codes = set()
    rng = np.random.default_rng(0)
    arr = np.arange(24).reshape(2, 3, 4)
    aff = np.diag([1.0, 2.0, 3.0, 1.0])
    for _ in range(20):
        perm = tuple(int(x) for x in rng.permutation(3))
        flips = tuple(bool(x) for x in rng.random(3) < 0.5)
        out, a2 = reorient(arr, aff, perm, flips)
        v = Volume(out, a2)
        codes.add(v.orientation_codes())
        # a voxel keeps its world position
        for ijk in [(0, 0, 0), (1, 2, 3), (1, 0, 2)]:
            w = aff[:3, :3] @ np.array(ijk) + aff[:3, 3]
            new = np.rint(v.world_to_ijk(w)).astype(int)
            assert out[tuple(new)] == arr[ijk]
    assert len(codes) > 5


@pytest.mark.parametrize(
    ("fov", "first", "last"),
    [("cervical", "C1", "C7"), ("thoracic", "T1", "T12"), ("lumbar", "L1", "S2")],
)
def test_fov_gives_the_right_label_subsets(spine, fov, first, last):
    cfg = SynthConfig(
        fov=fov,
        spacing_mm=(3.0, 3.0, 4.0),
        random_orientation=False,
        p_metal=0.0,
        style="randomized",
        render_mm=4.0,
    )
    case = generate_case(11, cfg, geometry=spine)
    names = [v.name for v in anatomy.CHAIN if v.name in spine.labels]
    want = names[names.index(first) : names.index(last) + 1]
    assert case.centroids.labels == want
    _assert_centroids_in_labels(case)
    in_map = [anatomy.by_verse_id(int(v)).name for v in np.unique(case.labels.array) if v]
    assert set(want) <= set(in_map)
    # only partial neighbours at the border may add to the map, never distant vertebrae
    extra = [anatomy.chain_index(x) for x in set(in_map) - set(want)]
    lo, hi = anatomy.chain_index(first), anatomy.chain_index(last)
    assert all(lo - 3 <= i < lo or hi < i <= hi + 3 for i in extra), extra
    for x in set(in_map) - set(want):  # partial: their centre is outside the image
        p = spine.centres_mm[spine.labels.index(x)]
        ijk = case.labels.world_to_ijk(p)
        assert np.any((ijk < -0.5) | (ijk > np.array(case.labels.shape) - 0.5))


def test_randomized_style_changes_intensities_not_labels(spine, lumbar_case):
    cfg = SynthConfig(**{**SMALL.__dict__, "style": "randomized"})
    rnd = generate_case(7, cfg, geometry=spine)
    np.testing.assert_array_equal(rnd.labels.array, lumbar_case.labels.array)
    np.testing.assert_array_equal(rnd.ct.affine_lps, lumbar_case.ct.affine_lps)
    assert rnd.ct.array.dtype == np.int16
    assert rnd.ct.array.min() >= 0 and rnd.ct.array.max() <= 2000
    assert not np.array_equal(rnd.ct.array, lumbar_case.ct.array)
    # two randomized seeds give different tissue contrasts on the same anatomy
    rnd2 = generate_case(7, cfg, geometry=spine)
    np.testing.assert_array_equal(rnd2.ct.array, rnd.ct.array)
    means = []
    for seed in (3, 4):
        r = generate_case(seed, cfg, geometry=spine)
        means.append(float(r.ct.array[r.labels.array > 0].mean()))
    assert means[0] != means[1]


@pytest.mark.parametrize("gamma", [0.45, 1.0, 2.2])
def test_gamma_table_matches_the_power_within_one_unit(gamma: float) -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(100.0, 60.0, (3, 17, 29)).astype(np.float32)
    lo, hi = 20.0, 190.0
    want = np.rint(RANDOM_MAX * np.clip((img - lo) / (hi - lo), 0.0, 1.0) ** gamma)
    got = gamma_to_int16(img, lo, hi, gamma)
    assert got.dtype == np.int16 and got.flags.c_contiguous
    assert got.min() == 0 and got.max() == RANDOM_MAX  # values beyond lo/hi are clipped
    err = np.abs(got.astype(np.int64) - want)
    x = (img - lo) / (hi - lo)
    assert err[x >= 0.01].max() <= 1
    # rounded to 1/65536 before the power: only the darkest levels of a steep gamma move more
    assert err.max() <= max(1.0, RANDOM_MAX * 65536.0**-gamma + 1)
    near_zero = np.float32(lo + (hi - lo) * np.array([0.4, 1.2, 2.6]) / 65536)
    got0 = gamma_to_int16(near_zero.reshape(1, 1, 3), lo, hi, gamma)
    want0 = np.rint(RANDOM_MAX * ((near_zero - lo) / (hi - lo)) ** gamma)
    assert np.abs(got0.ravel().astype(np.int64) - want0).max() <= max(
        1.0, RANDOM_MAX * 65536.0**-gamma + 1
    )


def test_metal_screws_are_rendered_with_metal_hu(spine):
    cfg = SynthConfig(
        fov="lumbar", spacing_mm=(2.0, 2.0, 3.0), random_orientation=False, p_metal=1.0
    )
    case = generate_case(5, cfg, geometry=spine)
    assert case.meta["anatomy"]["screws"]
    assert case.ct.array.max() >= 2500
    _assert_centroids_in_labels(case)


def test_hu_table_contrast_and_osteoporosis():
    rng = np.random.default_rng(0)
    plain = np.array([sample_hu_table(rng) for _ in range(50)])
    contrast = np.array([sample_hu_table(rng, contrast=True) for _ in range(50)])
    osteo = np.array([sample_hu_table(rng, osteoporosis=True) for _ in range(50)])
    assert contrast[:, Tissue.BLOOD].mean() > plain[:, Tissue.BLOOD].mean() + 80
    # osteoporotic L1-L4 trabecular bone is below 110 HU (Pickhardt et al. 2013), normal
    # adults average about 150 (younger ones 200-250)
    assert osteo[:, Tissue.CANCELLOUS].mean() < 110 < 130 < plain[:, Tissue.CANCELLOUS].mean()
    assert osteo[:, Tissue.CANCELLOUS].mean() < plain[:, Tissue.CANCELLOUS].mean() - 50
    assert np.all(plain[:, Tissue.AIR] < -980) and np.all(plain[:, Tissue.FAT] < -50)
    # the arch's trabecular core follows the case's body density, a little denser
    excess = plain[:, Tissue.DENSE] - plain[:, Tissue.CANCELLOUS]
    assert np.all((excess > -30) & (excess < 100)) and 15 < excess.mean() < 45
    assert osteo[:, Tissue.DENSE].mean() < plain[:, Tissue.DENSE].mean() - 50
    assert 850 < plain[:, Tissue.CORTICAL].mean() < 1150


def test_case_seeds_are_distinct_and_stable():
    seeds = [gen.case_seed(3, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [gen.case_seed(3, i) for i in range(50)]
    assert gen.case_seed(3, 0) != gen.case_seed(4, 0)


def test_config_is_validated_and_serializable():
    with pytest.raises(ValueError, match="style"):
        SynthConfig(style="mri")
    with pytest.raises(ValueError, match="fov"):
        SynthConfig(fov="head")
    with pytest.raises(ValueError, match="p_dish must be a probability"):
        SynthConfig(p_dish=1.5)
    with pytest.raises(ValueError, match="p_metal must be a probability"):
        SynthConfig(p_metal=-0.1)
    SynthConfig(p_dish=0.0, p_metal=1.0)  # the ends are allowed
    d = SynthConfig().to_dict()
    assert d["style"] == "ct" and d["slice_mm_range"] == [0.5, 5.0]


def test_generator_samples_spines_from_the_shape_model():
    try:
        from spinelab.synth.shape_model import SpineShapeModel

        SpineShapeModel.load_default()
    except (ImportError, OSError) as exc:  # the fitted model ships with the package
        pytest.skip(f"shape model not available: {exc}")
    cfg = SynthConfig(fov="lumbar", spacing_mm=(4.0, 4.0, 4.0), render_mm=4.0, p_metal=0.0)
    a = generate_case(21, cfg)
    b = generate_case(22, cfg)
    assert a.meta["geometry_attributes"].get("model", "").startswith("spinelab-spine-shape-model")
    assert not np.allclose(a.geometry.centres_mm, b.geometry.centres_mm)
    np.testing.assert_array_equal(generate_case(21, cfg).ct.array, a.ct.array)
    _assert_centroids_in_labels(a)
    _assert_centroids_in_labels(b)
    for case in (a, b):
        d = np.linalg.norm(np.diff(case.centroids.positions_mm, axis=0), axis=1)
        assert np.all((d > 8.0) & (d < 60.0)), d
        labels = case.centroids.labels
        assert [anatomy.chain_index(x) for x in labels] == sorted(map(anatomy.chain_index, labels))
        pos = [case.geometry.labels.index(x) for x in labels]
        assert np.all(np.diff(pos) == 1)  # consecutive vertebrae of the sampled spine


@pytest.mark.parametrize("perm", [(0, 1, 2), (1, 0, 2), (0, 2, 1), (2, 0, 1), (1, 2, 0), (2, 1, 0)])
def test_contiguous_copy_of_reoriented_views(perm):
    # big enough (> 1M voxels) for the tiled path, with ragged tiles on every axis
    arr = np.rint(np.random.default_rng(0).normal(0, 500, (131, 97, 103))).astype(np.float32)
    view, _ = reorient(arr, np.eye(4), perm, (True, False, True))
    out = gen.contiguous_copy(view, np.int16)
    assert out.flags.c_contiguous and out.dtype == np.int16
    np.testing.assert_array_equal(out, view.astype(np.int16))
    same = gen.contiguous_copy(view)
    assert same.dtype == np.float32
    np.testing.assert_array_equal(same, view)


@pytest.mark.parametrize("perm", [(0, 1, 2), (1, 0, 2), (2, 0, 1), (2, 1, 0)])
@pytest.mark.parametrize("flips", [(False, False, False), (True, False, True), (True, True, True)])
def test_contiguous_copy_of_sparse_label_maps(perm, flips):
    # a sparse copy takes a label map only within the box of its nonzero voxels (the rest
    # zero-filled): an off-centre block of labels, a single voxel at a corner, an empty map
    rng = np.random.default_rng(1)
    lab = np.zeros((131, 97, 103), np.uint8)
    lab[20:77, 5:40, 60:99] = rng.integers(0, 30, (57, 35, 39), dtype=np.uint8)
    corner = np.zeros_like(lab)
    corner[-1, 0, -1] = 7
    for arr in (lab, corner, np.zeros_like(lab)):
        view, _ = reorient(arr, np.eye(4), perm, flips)
        out = gen.contiguous_copy(view, sparse=True)
        assert out.flags.c_contiguous and out.dtype == np.uint8
        np.testing.assert_array_equal(out, view)
        # written over garbage, not a fresh zero page
        dirty = np.full(view.shape, 255, np.uint8)
        arrays.copy_tiled(dirty, view, sparse=True)
        np.testing.assert_array_equal(dirty, view)
    with pytest.raises(ValueError, match="unsigned or bool"):
        arrays.copy_tiled(np.empty((4, 5, 6), np.int16), np.zeros((4, 5, 6), np.int16), True)


def test_nonzero_box_of_flipped_views():
    a = np.zeros((40, 50, 60), np.uint8)
    a[3:9, 10:41, 7] = 1
    for flips in [(False, False, False), (True, False, True), (False, True, False)]:
        v = a[tuple(slice(None, None, -1) if f else slice(None) for f in flips)]
        box = arrays.nonzero_box(v)
        assert box is not None
        inside = np.zeros(v.shape, bool)
        inside[box] = True
        assert v[box].any() and not v[~inside].any()
        idx = np.argwhere(v)
        assert [(s.start, s.stop) for s in box] == list(
            zip(idx.min(axis=0).tolist(), (idx.max(axis=0) + 1).tolist(), strict=True)
        )
    assert arrays.nonzero_box(np.zeros((4, 5, 6), np.uint8)) is None


@pytest.mark.parametrize(
    ("radius", "sp"), [(3.7, (0.78, 0.78, 1.3)), (12.0, (2.0, 2.0, 2.0)), (0.4, (0.5, 1.0, 3.0))]
)
def test_ball_offsets_match_their_definition(radius, sp):
    painter._BALLS.clear()
    offs, offs_mm = painter.ball_offsets(radius, sp)
    # every voxel offset whose nearest point lies within the radius, in raveled (i, j, k) order
    spa = np.asarray(sp)
    half = np.ceil(radius / spa).astype(int) + 1
    grids = np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij")
    ref = np.stack([q.ravel() for q in grids], axis=1).astype(np.int64)
    ref = ref[(((np.abs(ref) - 0.5).clip(0) * spa) ** 2).sum(axis=1) <= radius**2]
    assert offs.dtype == np.int64 and offs_mm.dtype == np.float32
    np.testing.assert_array_equal(offs, ref)
    np.testing.assert_array_equal(offs_mm, (ref * spa).astype(np.float32))


@pytest.mark.parametrize("factors", [(1, 1, 1), (3, 1, 1), (2, 2, 2)])
def test_block_mean_lut_matches_a_whole_volume_average(factors):
    rng = np.random.default_rng(1)
    lut = rng.normal(0, 300, len(Tissue)).astype(np.float32)
    shape = (9 * factors[0], 70 * factors[1], 33 * factors[2])
    labels = rng.integers(0, len(Tissue), shape).astype(np.uint8)
    out = ctphys.block_mean_lut(labels, lut, factors)
    fk, fj, fi = factors
    want = np.zeros(out.shape, np.float32)
    for a in range(fk):
        for b in range(fj):
            for c in range(fi):
                want += lut[labels[a::fk, b::fj, c::fi]]
    want *= np.float32(1.0 / (fk * fj * fi))
    np.testing.assert_array_equal(out, want)  # same values and summation order: exact
    assert out.strides[2] == 4 and out.strides[1] % 64 == 0 and (out.strides[1] // 64) % 2 == 1


@pytest.mark.parametrize("shape", [(7, 5, 6), (1, 4, 4), (3, 9, 2), (20, 31, 17)])
def test_blur_axis_matches_scipy(shape):
    import scipy.ndimage as ndi

    from spinelab.synth.ct import blur_axis

    img = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    for axis in (0, 1, 2):
        for sigma in (0.25, 0.8, 1.7, 3.0):
            got, want = img.copy(), img.copy()
            blur_axis(got, sigma, axis)
            ndi.gaussian_filter1d(want, sigma, axis=axis, output=want, truncate=2.0)
            np.testing.assert_allclose(got, want, atol=1e-5)
