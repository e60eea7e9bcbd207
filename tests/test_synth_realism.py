"""Measured realism (spinelab.synth.realism): tissue HU and noise of synthetic CT in range."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.generator import SynthConfig, generate_case
from spinelab.synth.realism import canonical, histogram_l1, measure, split_vertebra, vertebra_hu

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine, thin_slice_config

L1_L4 = (20, 21, 22, 23)
NOISE_HU = 24.0


@pytest.fixture(scope="module")
def stats():
    cfg = SynthConfig(
        fov="lumbar",
        spacing_mm=(3.0, 3.0, 3.0),
        render_mm=1.5,
        noise_hu_range=(NOISE_HU, NOISE_HU),
        p_metal=0.0,
        p_contrast=0.0,
        p_oral_contrast=0.0,
        p_osteoporosis=0.0,
        p_fracture=0.0,
    )
    case = generate_case(3, cfg, geometry=curved_spine())
    return case, measure(case.ct.array, case.labels.array, case.ct.affine_lps, L1_L4)


def test_tissue_hu_in_adult_ranges(stats):
    _, st = stats
    assert 100 < st.body_median < 320  # cancellous bone of the lumbar bodies, non-osteoporotic
    assert 20 < st.muscle_median < 75
    assert -130 < st.fat_median < -70
    assert 0.3 < st.fractions["fat (<-30)"] < 0.65  # bowel fills the abdomen, not fat
    assert st.fractions["bone (>=150)"] < 0.06


def test_noise_sd_matches_the_drawn_noise(stats):
    case, st = stats
    want = case.meta["physics"]["noise_hu"]  # at 3 mm slices: NOISE_HU / sqrt(3)
    assert want == pytest.approx(NOISE_HU / np.sqrt(3.0))
    assert 0.75 * want < st.noise_fat < 1.3 * want


def test_histogram_l1_bounds():
    a = np.array([0.5, 0.5, 0.0])
    assert histogram_l1(a, a) == 0.0
    assert histogram_l1(a, np.array([0.0, 0.0, 1.0])) == pytest.approx(2.0)


def test_vertebra_hu_grey_posterior_elements_with_a_bright_outline(stats):
    """At 3 mm the arch is a grey core with a thin bright cortex, as on the real CT (L1-L4:
    body median 137, core 106, posterior elements 275 HU with a 95th percentile of 655)."""
    case, _ = stats
    v = vertebra_hu(case.ct.array, case.labels.array, case.ct.affine_lps, L1_L4)
    assert all(n > 100 for n in v.n_voxels)
    body, core, post = v.body[2], v.core[2], v.posterior[2]
    assert 60 < core < 260 and core < body
    assert post < 420  # was about 460-520 with a 430 HU core and 1.5 mm of 750 HU cortex
    assert v.posterior[4] - post > 250  # bright outline: a long upper tail
    assert v.posterior[4] > v.body[4]


def test_split_vertebra_separates_a_body_from_a_thin_arch():
    """A 30 mm disc-shaped body with a 6 mm plate behind it: body and posterior elements."""
    x, y, z = np.ogrid[:40, :60, :30]
    m = ((x - 20) ** 2 + (y - 20) ** 2 <= 15**2) & (z >= 5) & (z < 25)  # body, 1 mm voxels
    m = m | ((abs(x - 20) < 3) & (y >= 35) & (y < 55) & (z >= 10) & (z < 20))  # 6 mm plate
    body, post = split_vertebra(m, np.array([1.0, 1.0, 1.0]))
    assert body[20, 20, 15] and not body[20, 50, 15]
    assert post[20, 50, 15] and not post[20, 20, 15]
    assert post[18:23, 40:55, 10:20].all()
    # the opening only rounds the body's rims
    assert body.sum() > 0.85 * np.pi * 15**2 * 20


@pytest.mark.shared_data
def test_skin_edge_sharpness_of_the_real_dicom_slab(shared_data):
    """The real 0.98 mm slab's skin edge: sigma 0.51 mm (IQR 0.37-0.59, 118 profiles), about
    the point spread of a standard body kernel."""
    from spinelab.io.images import read_image
    from spinelab.synth.realism import skin_edge_sigma_mm

    slab = read_image(shared_data / "ct" / "totalsegmentator_example" / "dicom_slab")
    e = skin_edge_sigma_mm(slab.array, slab.affine_lps, slice_step=1)
    assert e.n > 50
    assert 0.40 < e.sigma_mm < 0.62
    assert abs(e.pixel_mm - 0.977) < 0.01


def test_skin_edge_sharpness_follows_the_drawn_psf():
    """The same case with a narrow and a wide soft-kernel PSF: the fitted skin-edge sigma
    follows the drawn sigma (the PSF is truncated at 2 sigma, so its own SD is 0.88 of it;
    the skin's slope across the 3 mm slices adds some)."""
    from spinelab.synth.realism import skin_edge_sigma_mm

    got = {}
    for blur in (0.45, 0.9):
        cfg = SynthConfig(
            fov="lumbar",
            spacing_mm=(0.98, 0.98, 3.0),
            p_sharp_kernel=0.0,
            blur_mm_range=(blur, blur),
            p_metal=0.0,
        )
        case = generate_case(3, cfg)
        e = skin_edge_sigma_mm(case.ct.array, case.ct.affine_lps)
        assert e.n > 100
        assert 0.7 * blur < e.sigma_mm < 1.25 * blur, (blur, e)
        got[blur] = e.sigma_mm
    assert got[0.9] > got[0.45] + 0.25


#: The spine in the real DICOM slab's canonical array (voxels; x 195-320, y 270-410: the
#: vertebra, its arch and the crura, none of the arms or the couch).
SLAB_SPINE_BOX = (slice(195, 320), slice(270, 410), slice(None))


@pytest.mark.shared_data
def test_real_bone_and_fat_edges_cross_the_grid_anywhere(shared_data):
    """The real 0.98 mm slab's bone and fat edges around the spine: their half-level crossings
    are spread evenly between voxel centres (non-uniformity 0.036 over 7,034 bone crossings,
    0.056 over 19,454 fat-to-muscle ones)."""
    from spinelab.io.images import read_image
    from spinelab.synth.realism import bone_edge_phase, fat_edge_phase

    slab = read_image(shared_data / "ct" / "totalsegmentator_example" / "dicom_slab")
    p = bone_edge_phase(slab.array, slab.affine_lps, SLAB_SPINE_BOX)
    assert p.n > 3000
    assert p.nonuniformity < 0.07
    assert max(p.histogram) < 0.16
    f = fat_edge_phase(slab.array, slab.affine_lps, SLAB_SPINE_BOX)
    assert f.n > 10000
    assert f.nonuniformity < 0.09
    assert max(f.histogram) < 0.15


def test_anti_aliased_bone_and_fat_edges_cross_the_grid_anywhere():
    """A lumbar case at the slab's 0.98 mm with a narrow PSF (0.45 mm): painted by voxel
    centres, its bone edges cross about half-way between two voxels (non-uniformity 0.60: 50 %
    of the crossings 0.4-0.5 of the way, 90 % 0.3-0.6); anti-aliased 0.098 (at most 14 % in a
    tenth); the real slab 0.036. Its fat-to-muscle edges around the vertebrae: 0.42 painted,
    0.37 when only bone was a level of its own, 0.20 with fat one too; the real slab 0.056."""
    from spinelab.synth.realism import bone_edge_phase, fat_edge_phase

    got, fat = {}, {}
    for aa in ("off", "spine"):
        case = generate_case(3, thin_slice_config("lumbar", aa))
        lab, _, _ = canonical(case.labels.array, case.ct.affine_lps)
        idx = np.argwhere(lab > 0)
        box = tuple(slice(int(lo), int(hi)) for lo, hi in zip(idx.min(0), idx.max(0)))
        got[aa] = bone_edge_phase(case.ct.array, case.ct.affine_lps, box)
        assert got[aa].n > 10000
        fat[aa] = fat_edge_phase(case.ct.array, case.ct.affine_lps, box)
        assert fat[aa].n > 50000
    assert got["off"].nonuniformity > 0.4
    assert got["spine"].nonuniformity < 0.15
    assert fat["off"].nonuniformity > 0.3
    assert fat["spine"].nonuniformity < 0.27
    assert fat["spine"].nonuniformity < 0.6 * fat["off"].nonuniformity
