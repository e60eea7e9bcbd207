"""Lateral / AP anisotropy of the synthetic CT noise (spinelab.synth.ct): tube-current modulation
evens out the views of a rotation less than the slabs along z, so the lateral views' noise
dominates as in the real arms-down DICOM slab (lateral / AP noise-power ratio 3.0)."""

from __future__ import annotations

import numpy as np

from spinelab.synth import ct
from spinelab.synth.realism import noise_texture

N, PX, SK = 240, 1.5, 3.0
C = (np.arange(N) - (N - 1) / 2.0) * PX
AFFINE = np.diag([PX, PX, SK, 1.0])  # (k, j, i) arrays seen as (I, J, K) after transposing


def ellipse(a_mm: float, b_mm: float, nk: int = 12) -> np.ndarray:
    """``(nk, N, N)`` water-like body, semi-axes ``a_mm`` along x and ``b_mm`` along y."""
    img = np.full((nk, N, N), -1000.0, dtype=np.float32)
    img[:, (C[None, :] / a_mm) ** 2 + (C[:, None] / b_mm) ** 2 < 1.0] = 40.0
    return img


def noisy(img: np.ndarray, aec: float = 0.5) -> np.ndarray:
    out = img.copy()
    physics = ct.Physics(noise_hu=20.0, aec=aec)
    ct.add_noise_and_blur(out, (SK, PX, PX), physics, np.random.default_rng(0))
    return out


def test_lateral_noise_power_of_a_typical_body_dominates():
    """A 350 x 250 mm body (the real slab's trunk: 349 x 251 mm) at the middle of the drawn AEC
    range: the lateral / AP noise-power ratio is above 2 (old design, angular modulation as
    strong as along z: 1.73), while the noise SD stays at the drawn level."""
    tex = noise_texture(noisy(ellipse(175.0, 125.0)).transpose(2, 1, 0), AFFINE)
    assert tex.lateral_ratio > 2.0
    assert 18.0 < tex.sd < 23.0


def test_noise_along_z_still_follows_full_longitudinal_modulation():
    """Slabs along z keep the full modulation: a 380 x 260 mm section over a 260 x 200 mm one is
    1.27x as noisy in the centre (1.28x before the angular modulation was weakened)."""
    img = np.concatenate([ellipse(190.0, 130.0, 24), ellipse(130.0, 100.0, 24)])
    d = noisy(img) - img
    core = (C[None, :] / 60.0) ** 2 + (C[:, None] / 50.0) ** 2 < 1.0
    ratio = float(d[:24, core].std() / d[24:, core].std())
    assert 1.15 < ratio < 1.4
