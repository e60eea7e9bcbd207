"""CT physics of the synthetic generator (spinelab.synth.ct): noise texture, noise SD across the
body, photon-starvation streaks, beam hardening and the noise-texture measurement."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth import ct
from spinelab.synth.realism import noise_texture

NO_EFFECTS = ct.Physics(noise_hu=20.0, blur_mm=0.5, aec=0.5, iterative=0.0)


def phantom(
    nk: int, n: int, px_mm: float, a_mm: float, b_mm: float, hu: float = 40.0
) -> np.ndarray:
    """``(nk, n, n)`` water-like ellipse (semi-axes ``a_mm`` along x, ``b_mm`` along y) in air."""
    c = (np.arange(n) - (n - 1) / 2.0) * px_mm
    inside = (c[None, :] / a_mm) ** 2 + (c[:, None] / b_mm) ** 2 < 1.0
    img = np.full((nk, n, n), -1000.0, dtype=np.float32)
    img[:, inside] = hu
    return img


def noisy(img: np.ndarray, spacing: tuple[float, float, float], physics: ct.Physics, seed=0):
    out = img.copy()
    ct.add_noise_and_blur(out, spacing, physics, np.random.default_rng(seed))
    return out


def affine(spacing_kji: tuple[float, float, float]) -> np.ndarray:
    """LPS affine of a ``(k, j, i)`` array seen as ``(I, J, K)`` after ``transpose(2, 1, 0)``."""
    return np.diag([spacing_kji[2], spacing_kji[1], spacing_kji[0], 1.0])


def test_noise_is_band_pass_and_grainy_like_filtered_back_projection():
    """FBP noise has little power at the lowest frequencies and a mid-frequency peak; the old
    Gaussian-blurred white noise peaked at zero frequency (nps_low about 1)."""
    sp = (3.0, 0.7, 0.7)
    img = noisy(phantom(6, 256, 0.7, 80.0, 60.0), sp, NO_EFFECTS)
    tex = noise_texture(img.transpose(2, 1, 0), affine(sp), "soft")
    assert tex.n_voxels > 50_000
    assert tex.nps_low < 0.6
    assert 0.12 < tex.nps_peak_per_mm < 0.35  # ramp x kernel: 0.11 / sigma = 0.22 per mm
    assert 0.1 < tex.corr_x < 0.75 and 0.1 < tex.corr_y < 0.75  # fine grain, not blobs
    assert abs(tex.corr_z) < 0.15  # contiguous 3 mm slices: independent noise


def test_iterative_reconstruction_shifts_the_noise_peak_down():
    sp = (3.0, 0.7, 0.7)
    img = phantom(6, 256, 0.7, 80.0, 60.0)
    fbp = noise_texture(noisy(img, sp, NO_EFFECTS).transpose(2, 1, 0), affine(sp))
    ir = dataclasses.replace(NO_EFFECTS, iterative=1.0)
    itr = noise_texture(noisy(img, sp, ir).transpose(2, 1, 0), affine(sp))
    assert itr.nps_peak_per_mm < 0.75 * fbp.nps_peak_per_mm
    assert itr.corr_x > fbp.corr_x


def test_overlapping_slices_share_noise():
    sp = (1.0, 1.0, 1.0)
    img = phantom(16, 160, 1.0, 60.0, 45.0)
    lap = noise_texture(
        noisy(img, sp, dataclasses.replace(NO_EFFECTS, slice_overlap=1.6)).transpose(2, 1, 0),
        affine(sp),
    )
    sp3 = (3.0, 1.0, 1.0)
    thick = noise_texture(noisy(img, sp3, NO_EFFECTS).transpose(2, 1, 0), affine(sp3))
    assert lap.corr_z > 0.3
    assert abs(thick.corr_z) < 0.15


def test_noise_sd_is_highest_in_the_body_centre_and_texture_runs_left_right():
    """A wide body (360 x 240 mm): lateral rays are longest, so noise is strongest in the
    centre and its texture is elongated along x (old design: uniform, isotropic)."""
    sp = (3.0, 1.5, 1.5)
    clean = phantom(8, 300, 1.5, 180.0, 120.0)
    phys = dataclasses.replace(NO_EFFECTS, aec=0.3)
    resid = noisy(clean, sp, phys) - noisy(clean, sp, dataclasses.replace(phys, noise_hu=0.0))
    c = 150
    centre = resid[:, c - 10 : c + 10, c - 10 : c + 10].std()
    front = resid[:, c - 72 : c - 62, c - 10 : c + 10].std()  # 95-108 mm in front of the centre
    side = resid[:, c - 10 : c + 10, c + 95 : c + 105].std()  # 143-158 mm to the left
    assert centre > 1.25 * front
    assert side > front  # rows through the centre carry the lateral rays' noise
    tex = noise_texture(noisy(clean, sp, phys).transpose(2, 1, 0), affine(sp))
    assert tex.lateral_ratio > 1.15
    assert tex.corr_x > tex.corr_y + 0.05
    assert 0.5 * phys.noise_hu < resid[:, clean[0] > 0].std() < 1.5 * phys.noise_hu


def hips(nk: int = 4, n: int = 240, px: float = 1.5) -> np.ndarray:
    """A 380 x 260 mm pelvis-like body with two 50 mm femoral heads (cortical bone) left and
    right of the midline, 160 mm apart."""
    img = phantom(nk, n, px, 190.0, 130.0)
    c = (np.arange(n) - (n - 1) / 2.0) * px
    for x0 in (-80.0, 80.0):
        img[:, (c[None, :] - x0) ** 2 + c[:, None] ** 2 < 25.0**2] = 900.0
    return img


def test_photon_starvation_adds_left_right_streaks_in_large_bodies():
    sp = (3.0, 1.5, 1.5)
    img = hips()
    base = dataclasses.replace(NO_EFFECTS, aec=0.6)
    plain = noise_texture(noisy(img, sp, base).transpose(2, 1, 0), affine(sp))
    streaky = noise_texture(
        noisy(img, sp, dataclasses.replace(base, starvation_hu=10.0)).transpose(2, 1, 0),
        affine(sp),
    )
    # the streaks are bands of lines within 15 deg of lateral along the rays through the heads,
    # so over the whole soft-tissue region they add less lateral power than full-width rows did
    # (first design: ratio x1.5)
    assert streaky.lateral_ratio > 1.08 * plain.lateral_ratio
    assert streaky.corr_x > plain.corr_x + 0.03
    # a small body (200 x 150 mm) stays below the starvation path: hardly any streaks
    small = phantom(4, 240, 1.5, 100.0, 75.0)
    s_plain = noise_texture(noisy(small, sp, base).transpose(2, 1, 0), affine(sp))
    s_streaky = noise_texture(
        noisy(small, sp, dataclasses.replace(base, starvation_hu=10.0)).transpose(2, 1, 0),
        affine(sp),
    )
    assert s_streaky.lateral_ratio < 1.2 * s_plain.lateral_ratio


def test_beam_hardening_darkens_the_band_between_dense_bones_subtly():
    sp = (3.0, 1.5, 1.5)
    img = hips()
    quiet = dataclasses.replace(NO_EFFECTS, noise_hu=0.0)
    out = noisy(img, sp, dataclasses.replace(quiet, bone_bh=0.002))
    ref = noisy(img, sp, quiet)
    diff = (out - ref)[0]
    c = 120  # centre pixel; femoral heads at x = +-80 mm (53 px), radius 25 mm
    between = diff[c - 5 : c + 5, c - 12 : c + 12].mean()  # midline, on the heads' line
    front = diff[c - 60 : c - 50, c - 12 : c + 12].mean()  # 75-90 mm in front of it
    assert between < front - 3.0
    assert between > -40.0  # subtle
    no_bh = noisy(img, sp, quiet)
    np.testing.assert_allclose(no_bh, ref)


def test_water_beam_hardening_cups_a_large_uniform_body():
    sp = (3.0, 1.5, 1.5)
    img = phantom(2, 260, 1.5, 180.0, 130.0, hu=0.0)
    quiet = dataclasses.replace(NO_EFFECTS, noise_hu=0.0)
    out = noisy(img, sp, dataclasses.replace(quiet, water_bh=1e-5))[0]
    c = 130
    centre = out[c - 8 : c + 8, c - 8 : c + 8].mean()
    rim = out[c - 8 : c + 8, c + 95 : c + 105].mean()  # 140-158 mm to the side
    assert 1.0 < rim - centre < 25.0


def test_noise_texture_measures_correlation_and_anisotropy_of_known_noise():
    """Gaussian-blurred white noise (sigma 1 px along x, 0.3 px along y): neighbour correlation
    exp(-1/4) along x, low-pass spectrum (nps_low near 1), texture elongated along x."""
    rng = np.random.default_rng(0)
    img = np.full((120, 120, 6), -1000.0, dtype=np.float32)
    noise = ndi.gaussian_filter(rng.standard_normal((120, 120, 6)), (1.0, 0.3, 0.0))
    img[10:110, 10:110] = 40.0 + 10.0 * noise[10:110, 10:110] / noise.std()
    tex = noise_texture(img, np.diag([0.7, 0.7, 3.0, 1.0]), "soft")
    assert tex.corr_x == pytest.approx(np.exp(-0.25), abs=0.08)
    assert tex.corr_y < 0.3
    assert tex.nps_low > 0.8
    assert tex.lateral_ratio > 1.3  # elongated along x: power where |f_y| > |f_x|
    assert abs(tex.corr_z) < 0.1


def test_coarse_pixels_sample_the_fine_noise_without_anticorrelation():
    """At 3 mm pixels the noise is the fine FBP noise sampled (as in an interpolated, resampled
    image: the real example's 3 mm volume measures -0.08 to 0.17 between neighbours); sampling
    the ramp spectrum on the coarse grid without folding its aliases gives -0.14 here."""
    sp = (3.0, 3.0, 3.0)
    phys = dataclasses.replace(NO_EFFECTS, aec=0.8, blur_mm=0.4)
    img = noisy(phantom(8, 120, 3.0, 170.0, 120.0), sp, phys)
    tex = noise_texture(img.transpose(2, 1, 0), affine(sp))
    assert abs(tex.corr_x) < 0.1 and abs(tex.corr_y) < 0.1


def artefacts(img: np.ndarray, sp: tuple[float, float, float], **kw: float) -> np.ndarray:
    """Streak and beam-hardening component alone: noise-free image with minus without them."""
    quiet = dataclasses.replace(NO_EFFECTS, noise_hu=0.0)
    return noisy(img, sp, dataclasses.replace(quiet, **kw)) - noisy(img, sp, quiet)


def test_starvation_streaks_fan_out_at_small_angles_around_lateral():
    """Starved near-lateral views make lines along their own ray directions: the streak
    component's power is spread over directions within about 15 deg of lateral, not confined
    to exactly horizontal lines (old design: one 3 deg wedge around f_x = 0, 8 % of the power
    beyond 5 deg)."""
    sp = (3.0, 1.5, 1.5)
    stk = artefacts(hips(nk=8), sp, starvation_hu=10.0)
    power = np.zeros((240, 240))
    for k in range(stk.shape[0]):
        power += np.abs(np.fft.fft2(stk[k] * np.hanning(240)[:, None] * np.hanning(240))) ** 2
    fy = np.fft.fftfreq(240)[:, None]
    fx = np.fft.fftfreq(240)[None, :]
    off = np.degrees(np.arctan2(np.abs(fx), np.abs(fy)))  # 0: lines along x (lateral)
    keep = (fy**2 + fx**2) > 0.05**2  # above the envelope's own low frequencies
    total = power[keep].sum()
    tilted = power[keep & (off > 5.0) & (off < 20.0)].sum() / total
    steep = power[keep & (off > 30.0)].sum() / total
    assert tilted > 0.3
    assert steep < 0.15


def test_streaks_and_beam_hardening_are_zero_in_air():
    """Artefacts belong to the reconstructed body: nothing is added outside it (old design:
    the coarse beam-hardening map and the streaks spilled into the air)."""
    sp = (3.0, 1.5, 1.5)
    img = hips()
    art = artefacts(img, sp, starvation_hu=10.0, bone_bh=0.002, water_bh=1e-5)
    air = ndi.binary_dilation(img[0] > -500, iterations=2)  # 3 mm off the skin (blur)
    assert np.abs(art[:, ~air]).max() == 0.0
    assert np.abs(art[:, img[0] > -500]).std() > 1.0  # and present inside


def test_beam_hardening_darkens_a_band_between_two_pedicle_sized_bones():
    """Rays through both of two dense bones lose more than the sum of each (the cross term of
    ``bone_path^2``): a dark band joins them. Two 12 mm cortical cylinders 36 mm apart (like
    the pedicles or two dense bars): the gap is darker than points as far above and below it
    (old design: 8 mm reconstruction, 1.8 HU)."""
    px = 0.8
    n = 400
    c = (np.arange(n) - (n - 1) / 2.0) * px
    img = phantom(4, n, px, 150.0, 110.0)
    for x0 in (-18.0, 18.0):
        img[:, (c[None, :] - x0) ** 2 + c[:, None] ** 2 < 6.0**2] = 1000.0
    diff = artefacts(img, (3.0, px, px), bone_bh=0.002)[1]
    xx, yy = np.meshgrid(c, c)
    gap = (np.abs(xx) < 8.0) & (np.abs(yy) < 3.0)
    beside = (np.abs(xx) < 8.0) & (np.abs(np.abs(yy) - 20.0) < 3.0)
    assert diff[gap].mean() < diff[beside].mean() - 2.5
    assert diff[gap].mean() > -20.0  # subtle


def test_blur_inplane_matches_two_passes_of_blur_axis():
    rng = np.random.default_rng(3)
    img = rng.normal(size=(3, 37, 41)).astype(np.float32)
    for sj, si in ((0.8, 1.3), (0.0, 0.9), (1.1, 0.0)):
        ref = img.copy()
        ct.blur_axis(ref, si, 2)
        ct.blur_axis(ref, sj, 1)
        got = img.copy()
        seen: list[int] = []
        ct.blur_inplane(got, sj, si, then=lambda k, s, seen=seen: seen.append(k))
        np.testing.assert_allclose(got, ref, atol=1e-5)
        assert seen == [0, 1, 2]


def test_lateral_noise_power_follows_the_views_that_make_it():
    """A view's noise lies on the frequencies across its rays, so the lateral half of the noise
    power spectrum (|f_y| > |f_x|) is made by the views within 45 deg of lateral. On a 380 x 260
    mm ellipse at aec 0.5, the measured lateral / AP power ratio comes within 25 % of that of the
    centre pixel's views, ``sum exp((1 - a) mu L(theta))`` over the lateral over the AP views
    (``a`` the angular modulation, ``aec * ANGULAR_AEC``; the median share over the body lies
    below the centre's: 0.80x) (the real arms-down DICOM slab: 3.0; old design, ``cos^2`` view
    weights and an isotropic floor: 1.49, 0.71x of the 2.1 expected with full angular
    modulation)."""
    sp = (3.0, 1.5, 1.5)
    a_mm, b_mm, aec = 190.0, 130.0, 0.5
    img = phantom(12, 240, 1.5, a_mm, b_mm)
    tex = noise_texture(
        noisy(img, sp, dataclasses.replace(NO_EFFECTS, aec=aec)).transpose(2, 1, 0), affine(sp)
    )
    theta = np.arange(ct.N_ANGLES) * np.pi / ct.N_ANGLES
    chord = 2 * a_mm * b_mm / np.sqrt((b_mm * np.cos(theta)) ** 2 + (a_mm * np.sin(theta)) ** 2)
    var = np.exp((1.0 - aec * ct.ANGULAR_AEC) * ct.MU_WATER_PER_MM * 1.04 * chord)
    c2 = np.cos(theta) ** 2
    lat = np.where(c2 > 0.5 + 1e-9, 1.0, np.where(c2 > 0.5 - 1e-9, 0.5, 0.0))
    expected = float(np.sum(var * lat) / np.sum(var * (1.0 - lat)))
    assert expected > 2.0
    assert 0.75 * expected < tex.lateral_ratio < 1.2 * expected


def test_artefacts_follow_each_slices_own_body_outline():
    """Streaks and beam hardening stop at each slice's own skin, not at a mask shared by a 20 mm
    chunk: a body 30 mm wider in the middle slices of a chunk than at its ends carries them
    out to its wider skin there, and none in the air beside the narrower end slices (old
    design: the intersection of the chunk's first and last slices, nothing in the bulge)."""
    sp = (2.5, 1.5, 1.5)  # 8 slices: one chunk
    n, px = 240, 1.5
    c = (np.arange(n) - (n - 1) / 2.0) * px
    img = np.full((8, n, n), -1000.0, dtype=np.float32)
    for k, a_mm in enumerate((160, 170, 180, 190, 190, 180, 170, 160)):
        img[k, (c[None, :] / a_mm) ** 2 + (c[:, None] / 130.0) ** 2 < 1.0] = 40.0
        for x0 in (-80.0, 80.0):
            img[k, (c[None, :] - x0) ** 2 + c[:, None] ** 2 < 25.0**2] = 900.0
    art = artefacts(img, sp, starvation_hu=10.0, bone_bh=0.002)
    xx, yy = np.meshgrid(c, c)
    bulge = (np.abs(np.abs(xx) - 175.0) < 6.0) & (np.abs(yy) < 10.0)  # inside only at k = 3, 4
    assert float(np.abs(art[3:5][:, bulge]).std()) > 1.0
    assert np.abs(art[0][bulge]).max() == 0.0


def test_metal_streaks_start_at_each_of_two_objects_with_a_dark_band_between():
    """Two metal objects 80 mm apart in a slice (fillings on both sides of the jaw, or the
    two screws of a level): the rays through both are starved, a dark band joins them, and
    each sends out its own lines. The metal used to be averaged into one centre halfway
    between them, where all the lines crossed (the band's mean there about 0)."""
    n, amp = 200, 400.0
    aff = np.diag([1.0, 1.0, 1.0, 1.0])  # (i, j, k) = (x, y, z) mm
    metal = np.array([[60.0, 100.0, 1.0], [140.0, 100.0, 1.0]])
    apply = ct.metal_streaks((3, n, n), aff, metal, amp, np.random.default_rng(0))
    assert apply is not None
    slab = np.zeros((3, n, n), np.float32)
    apply(slab, 0)
    img = slab[1]
    band = img[98:103, 80:121].mean()
    assert band < -0.3 * amp, band
    # the lines radiate from each object: strongest next to it, not at the midpoint
    ring = lambda cx: np.abs(img[90:111, cx - 10 : cx + 11]).mean()  # noqa: E731
    assert ring(60) > 2.0 * np.abs(img[60:80, 90:111]).mean()
    assert ring(140) > 2.0 * np.abs(img[60:80, 90:111]).mean()
    # one object: its lines cross at it, no band
    one = ct.metal_streaks((3, n, n), aff, metal[:1], amp, np.random.default_rng(0))
    assert one is not None
    slab1 = np.zeros((3, n, n), np.float32)
    one(slab1, 0)
    assert abs(slab1[1, 98:103, 80:121].mean()) < 0.3 * amp
