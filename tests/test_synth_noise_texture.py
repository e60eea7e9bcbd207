"""Noise texture of the synthetic CT (spinelab.synth.ct): photon-starvation streaks as rays
anchored to the dense bones."""

from __future__ import annotations

import dataclasses

import numpy as np

from spinelab.synth import ct

QUIET = ct.Physics(noise_hu=0.0, blur_mm=0.5, aec=0.5, iterative=0.0)
N, PX = 240, 1.5
C = (np.arange(N) - (N - 1) / 2.0) * PX
X, Y = np.meshgrid(C, C)  # mm from the centre: x along axis 2 (lateral), y along axis 1


def pelvis(slope: float = 0.0, nk: int = 8) -> np.ndarray:
    """A 380 x 260 mm body with two 50 mm dense femoral heads at x = +-80 mm, on the line
    ``y = slope * x``."""
    img = np.full((nk, N, N), -1000.0, dtype=np.float32)
    img[:, (X / 190.0) ** 2 + (Y / 130.0) ** 2 < 1.0] = 40.0
    for x0 in (-80.0, 80.0):
        img[:, (X - x0) ** 2 + (Y - slope * x0) ** 2 < 25.0**2] = 900.0
    return img


def component(img: np.ndarray, seed: int = 0, **kw: float) -> np.ndarray:
    """Noise-free image with the effects in ``kw`` minus without them."""
    out, ref = img.copy(), img.copy()
    ct.add_noise_and_blur(
        out, (3.0, PX, PX), dataclasses.replace(QUIET, **kw), np.random.default_rng(seed)
    )
    ct.add_noise_and_blur(ref, (3.0, PX, PX), QUIET, np.random.default_rng(seed))
    return out - ref


def test_starvation_streaks_run_along_the_rays_through_both_femoral_heads():
    """Filtered back-projection spreads a starved ray's error evenly along the ray: the streaks
    run from the heads out to the skin along the line through both heads (as strong beside the
    skin as beside the heads) and stay off the rays that miss the heads. Old design (a random
    line field under an envelope falling off with the distance from bone): at the skin on the
    heads' line 0.45-0.5x the SD beside the heads."""
    for slope, seed in ((0.0, 0), (0.1875, 1)):  # horizontal, and tilted by 10.6 deg
        stk = component(pelvis(slope), seed, starvation_hu=10.0)
        on = np.abs(Y - slope * X) < 10.0
        near = on & (np.abs(np.abs(X) - 115.0) < 8.0)  # just outside the heads (edge 105 mm)
        skin = on & (np.abs(np.abs(X) - 165.0) < 8.0)  # 10-30 mm inside the lateral wall
        # 70 mm above the horizontal line near the wall: no ray within 15 deg of lateral
        # reaches a head (rays through the body alone: about 0.3x)
        off = (np.abs(Y - 70.0) < 10.0) & (np.abs(np.abs(X) - 160.0) < 12.0)
        off &= (X / 190.0) ** 2 + (Y / 130.0) ** 2 < 0.9
        sd_near, sd_skin, sd_off = (float(stk[:, m].std()) for m in (near, skin, off))
        assert sd_near > 2.0
        assert sd_skin > 0.65 * sd_near
        if slope == 0.0:
            assert sd_off < 0.5 * sd_skin
