"""Reconstruction-kernel variety of the synthetic CT (spinelab.synth.generator, .ct): sharp bone
kernels ring the cortex (undershoot halo), make finer and louder noise, and are drawn in a set
share of the cases, deterministically."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.ndimage as ndi

from spinelab.synth import ct
from spinelab.synth.generator import SynthConfig, draw_physics, generate_case

SPACING = (1.0, 1.0, 3.0)
LUMBAR = {"L1": 20, "L2": 21, "L3": 22, "L4": 23, "L5": 24}


def _config(p_sharp: float, **kw: object) -> SynthConfig:
    return SynthConfig(
        fov="lumbar",
        spacing_mm=SPACING,
        random_orientation=False,
        p_metal=0.0,
        p_sharp_kernel=p_sharp,
        max_inplane=320,
        sharp_boost_range=(0.6, 0.6),
        sharp_boost_freq_range=(0.2, 0.2),
        **kw,  # type: ignore[arg-type]
    )


def _anterior_profile(seed: int, p_sharp: float) -> tuple[np.ndarray, np.ndarray]:
    """Median HU along rays leaving the lumbar bodies anteriorly, by distance (mm) from the
    vertebra mask's edge (+ outside), on a noise-free case."""
    case = generate_case(seed, _config(p_sharp, noise_hu_range=(1e-6, 1e-6)))
    img = case.ct.array.astype(np.float32)
    lab = case.labels.array
    inv = np.linalg.inv(case.ct.affine_lps)
    ant = inv[:3, :3] @ np.array([0.0, -1.0, 0.0])  # anterior (LPS -y) in voxels
    dist = np.arange(-5.0, 8.01, 0.5)
    t = np.arange(0.0, 60.0, 0.25)
    profs = []
    for name, pos in zip(case.centroids.labels, case.centroids.positions_mm, strict=True):
        if name not in LUMBAR:
            continue
        v = (inv @ np.append(pos, 1.0))[:3]
        k = round(float(v[2]))
        mask = (lab[:, :, k] == LUMBAR[name]).astype(np.float32)
        for ang in np.radians(np.linspace(-25.0, 25.0, 11)):
            c, s = np.cos(ang), np.sin(ang)
            d = np.array([c * ant[0] - s * ant[1], s * ant[0] + c * ant[1]])
            d /= np.linalg.norm(d)
            inside = ndi.map_coordinates(mask, v[:2, None] + d[:, None] * t, order=1) > 0.5
            if not inside[0] or inside.all():
                continue
            edge = t[np.argmin(inside)]
            pts = v[:2, None] + d[:, None] * (edge + dist)
            profs.append(ndi.map_coordinates(img[:, :, k], pts, order=1))
    assert len(profs) > 20
    return dist, np.median(np.array(profs), axis=0)


def test_sharp_kernel_rings_the_anterior_cortex_with_a_dark_undershoot():
    """Bone kernels' MTF rises above 1 at mid frequencies: just outside the cortex the image dips
    below the surrounding tissue (a dark halo) and the cortex itself overshoots. The same case
    with a soft kernel (the old design's only one: a Gaussian PSF) has no dip."""
    for seed in (0, 1):
        dist, soft = _anterior_profile(seed, 0.0)
        _, sharp = _anterior_profile(seed, 1.0)
        near, far = (dist > -0.5) & (dist < 4.0), (dist > 4.5) & (dist < 8.0)
        dip_soft = soft[near].min() - soft[far].mean()
        dip_sharp = sharp[near].min() - sharp[far].mean()
        assert dip_soft > -6.0
        assert dip_sharp < -15.0
        assert dip_sharp < dip_soft - 12.0
        rim = (dist > -3.0) & (dist < 1.0)
        assert sharp[rim].max() > soft[rim].max() + 40.0


def _nps_peak(physics: ct.Physics, px: float = 0.8) -> float:
    """Radial noise-power peak frequency (cycles/mm) in a water ellipse."""
    n = 256
    y, x = np.mgrid[:n, :n]
    body = ((x - n / 2) / 120.0) ** 2 + ((y - n / 2) / 90.0) ** 2 < 1.0
    img = np.where(body, 0.0, -1000.0).astype(np.float32)[None].repeat(8, axis=0)
    ref = img.copy()
    ct.add_noise_and_blur(img, (3.0, px, px), physics, np.random.default_rng(3))
    ct.add_noise_and_blur(
        ref, (3.0, px, px), dataclasses.replace(physics, noise_hu=0.0), np.random.default_rng(3)
    )
    roi = (img - ref)[:, n // 2 - 48 : n // 2 + 48, n // 2 - 48 : n // 2 + 48]
    roi = roi - roi.mean(axis=(1, 2), keepdims=True)
    nps = np.mean(np.abs(np.fft.fft2(roi)) ** 2, axis=0)
    f = np.fft.fftfreq(roi.shape[1], px)
    fr = np.hypot(f[:, None], f[None, :]).ravel()
    bins = np.arange(0.0, 0.62, 0.04)
    idx = np.digitize(fr, bins)
    rad = [nps.ravel()[idx == b].mean() for b in range(1, len(bins))]
    return float(bins[int(np.argmax(rad))] + 0.02)


def test_sharp_kernel_noise_peaks_at_higher_frequencies():
    """The noise power spectrum is shaped by the kernel, ``f MTF(f)^2``: with the edge boost it
    peaks at a higher frequency than the same Gaussian alone (finer grain), and a typical bone
    kernel (sigma 0.3 mm, boost 0.6 above 0.2 cycles/mm) peaks above a standard one."""
    base = ct.Physics(noise_hu=20.0, blur_mm=0.3, streak_hu=0.0, aec=0.5)
    sharp = dataclasses.replace(base, kernel="sharp", edge_boost=0.6, boost_freq=0.2)
    standard = dataclasses.replace(base, blur_mm=0.6)
    f_soft, f_sharp, f_std = _nps_peak(base), _nps_peak(sharp), _nps_peak(standard)
    assert f_sharp > f_soft + 0.03
    assert f_sharp > 0.3 > f_std


def test_kernel_share_noise_factor_and_twins():
    """About ``p_sharp_kernel`` of the cases get a sharp kernel, 2-3.5x as noisy as their
    soft-kernel twin (same seed, the share set to 0): the twin differs only in the kernel."""
    cfg = SynthConfig()
    draws = [draw_physics(np.random.default_rng(s), cfg, 1.0) for s in range(3000)]
    share = np.mean([p.kernel == "sharp" for p in draws])
    assert abs(share - cfg.p_sharp_kernel) < 0.03
    assert all((p.edge_boost > 0) == (p.kernel == "sharp") for p in draws)
    soft_cfg = dataclasses.replace(cfg, p_sharp_kernel=0.0)
    for s, p in enumerate(draws[:300]):
        rng = np.random.default_rng(s)
        twin = draw_physics(rng, soft_cfg, 1.0)
        assert twin.kernel == "soft"
        if p.kernel == "sharp":
            assert 2.0 <= p.noise_hu / twin.noise_hu <= 3.5
            assert p.blur_mm <= cfg.sharp_blur_mm_range[1]
        else:
            assert p == twin
        # the stream after the physics is the same whichever kernel was drawn
        draw_physics(rng2 := np.random.default_rng(s), cfg, 1.0)
        assert rng.random() == rng2.random()


def test_same_seed_same_case_and_the_kernel_in_the_meta():
    cfg = _config(1.0)
    a, b = generate_case(5, cfg), generate_case(5, cfg)
    assert np.array_equal(a.ct.array, b.ct.array)
    assert a.meta["kernel"] == "sharp" == a.meta["physics"]["kernel"]
    soft = generate_case(5, dataclasses.replace(cfg, p_sharp_kernel=0.0))
    assert soft.meta["kernel"] == "soft"
    assert np.array_equal(soft.labels.array, a.labels.array)
    assert not np.array_equal(soft.ct.array, a.ct.array)
