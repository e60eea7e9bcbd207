"""Simulated network outputs: 26-channel Gaussian activation maps and their failure modes.

For tests and benchmarks of the heatmap post-processing (:mod:`spinelab.postprocess.wang`) on
real spine geometry without a network. Pure numpy/scipy.

The failure modes are those the paper's post-processing is meant to fix:

* neighbour responses: channel v also fires on the vertebra above or below (weaker);
* missing responses: a vertebra gets no response in any channel;
* false activations far away: a blob in a random channel, away from the spine;
* noise: smooth, non-negative background noise in every channel.

A transitional vertebra (T13, L6) has no channel: a network trained on 26 labels is modelled as
answering it with half-strength responses in both neighbouring channels (T12 and L1, L5 and S1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from spinelab import anatomy
from spinelab.structures import Centroids

_NEIGHBOURS = {"T13": ("T12", "L1"), "L6": ("L5", "S1")}


@dataclass(frozen=True)
class Corruption:
    """Strength of each failure mode.

    Attributes:
        p_neighbour: Probability that a vertebra's channel also fires on a neighbour.
        neighbour_amplitude: (low, high) amplitude range of such a response.
        p_missing: Probability that a vertebra has no response at all.
        n_false: Mean number (Poisson) of false activations away from the spine.
        false_amplitude: (low, high) amplitude range of a false activation.
        false_min_distance_mm: Minimum distance of a false activation from every vertebra.
        noise: Standard deviation of the smooth background noise (before clipping at 0).
        amplitude_jitter: Relative spread of true response amplitudes (uniform +-).
    """

    p_neighbour: float = 0.0
    neighbour_amplitude: tuple[float, float] = (0.4, 0.8)
    p_missing: float = 0.0
    n_false: float = 0.0
    false_amplitude: tuple[float, float] = (0.5, 1.0)
    false_min_distance_mm: float = 50.0
    noise: float = 0.0
    amplitude_jitter: float = 0.0


#: The benchmark's corruption levels.
LEVELS: dict[str, Corruption] = {
    "none": Corruption(),
    "mild": Corruption(
        p_neighbour=0.1, p_missing=0.05, n_false=0.5, noise=0.02, amplitude_jitter=0.2
    ),
    "moderate": Corruption(
        p_neighbour=0.25, p_missing=0.1, n_false=1.5, noise=0.04, amplitude_jitter=0.3
    ),
    "severe": Corruption(
        p_neighbour=0.4,
        neighbour_amplitude=(0.5, 1.0),
        p_missing=0.2,
        n_false=3.0,
        noise=0.07,
        amplitude_jitter=0.4,
    ),
}


def grid_around(
    points_mm: NDArray[np.float64],
    spacing_mm: float = 4.0,
    margin_mm: float = 60.0,
    codes: str = "LPS",
) -> tuple[tuple[int, int, int], NDArray[np.float64]]:
    """A voxel grid covering points plus a margin.

    Args:
        points_mm: ``(N, 3)`` LPS mm.
        spacing_mm: Isotropic voxel size, mm.
        margin_mm: Margin around the points' bounding box, mm.
        codes: Direction in which each index axis increases, a permutation of one of L/R, P/A,
            S/I per world axis, e.g. "LPS", "RAS", "PIR", "SRA".

    Returns:
        ``(shape, affine_lps)``.
    """
    p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    lo = p.min(axis=0) - margin_mm
    hi = p.max(axis=0) + margin_mm
    axis_of = {
        "L": (0, 1.0),
        "R": (0, -1.0),
        "P": (1, 1.0),
        "A": (1, -1.0),
        "S": (2, 1.0),
        "I": (2, -1.0),
    }
    m = np.zeros((3, 3))
    shape = []
    origin = np.zeros(3)
    for c, code in enumerate(codes.upper()):
        w, sign = axis_of[code]
        m[w, c] = sign * spacing_mm
        n = int(np.ceil((hi[w] - lo[w]) / spacing_mm)) + 1
        shape.append(n)
        origin[w] = lo[w] if sign > 0 else lo[w] + (n - 1) * spacing_mm
    if sorted(int(np.argmax(np.abs(m[:, c]))) for c in range(3)) != [0, 1, 2]:
        raise ValueError(f"orientation codes {codes!r} do not name three different axes")
    affine = np.eye(4)
    affine[:3, :3] = m
    affine[:3, 3] = origin
    return (shape[0], shape[1], shape[2]), affine


def add_blob(
    out: NDArray[np.float32],
    affine_lps: NDArray[np.float64],
    centre_mm: NDArray[np.float64],
    sigma_mm: float,
    amplitude: float,
) -> None:
    """Add ``amplitude * exp(-|x - centre|^2 / 2 sigma^2)`` to a 3-D map in place (within 3 sigma)."""
    inv = np.linalg.inv(affine_lps)
    r = 3.0 * sigma_mm
    corners = np.array([[dx, dy, dz] for dx in (-r, r) for dy in (-r, r) for dz in (-r, r)])
    ijk = (centre_mm + corners) @ inv[:3, :3].T + inv[:3, 3]
    lo = np.maximum(np.floor(ijk.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 1, out.shape)
    if np.any(hi <= lo):
        return
    idx = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    vox = np.stack(idx, axis=-1).astype(np.float64)
    world = vox @ affine_lps[:3, :3].T + affine_lps[:3, 3]
    d2 = np.sum((world - centre_mm) ** 2, axis=-1)
    out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += (
        amplitude * np.exp(-0.5 * d2 / sigma_mm**2)
    ).astype(np.float32)


def gaussian_heatmaps(
    centroids: Centroids,
    shape: tuple[int, int, int],
    affine_lps: NDArray[np.float64],
    sigma_mm: float = 6.0,
    corruption: Corruption | None = None,
    rng: np.random.Generator | None = None,
) -> NDArray[np.float32]:
    """26-channel activation maps with Gaussians at the centroids, optionally corrupted.

    Args:
        centroids: True vertebra centres (LPS mm); T13 / L6 answer in both neighbours' channels
            at half strength.
        shape: ``(X, Y, Z)`` grid size.
        affine_lps: ``(4, 4)`` voxel-to-LPS-mm affine.
        sigma_mm: Gaussian sigma, mm.
        corruption: Failure modes to add (None = clean maps, peak 1).
        rng: Random generator (needed when ``corruption`` is given).

    Returns:
        ``(26, X, Y, Z)`` float32 maps, non-negative.
    """
    corr = corruption or Corruption()
    rng = rng or np.random.default_rng(0)
    std = list(anatomy.STANDARD_LABELS)
    maps = np.zeros((len(std), *shape), dtype=np.float32)
    labels = list(centroids.labels)
    pos = centroids.positions_mm
    for i, name in enumerate(labels):
        if corr.p_missing > 0 and rng.random() < corr.p_missing:
            continue
        amp = 1.0 + corr.amplitude_jitter * rng.uniform(-1.0, 1.0) if corr.amplitude_jitter else 1.0
        channels = (
            [std.index(x) for x in _NEIGHBOURS[name]] if name in _NEIGHBOURS else [std.index(name)]
        )
        scale = 0.5 if name in _NEIGHBOURS else 1.0
        for c in channels:
            add_blob(maps[c], affine_lps, pos[i], sigma_mm, scale * amp)
        if corr.p_neighbour > 0 and rng.random() < corr.p_neighbour and len(labels) > 1:
            j = i + (1 if rng.random() < 0.5 else -1)
            j = min(max(j, 0), len(labels) - 1)
            if j == i:
                j = i + 1 if i == 0 else i - 1
            a = rng.uniform(*corr.neighbour_amplitude)
            for c in channels:
                add_blob(maps[c], affine_lps, pos[j], sigma_mm, a)
    if corr.n_false > 0:
        n_false = int(rng.poisson(corr.n_false))
        ext = np.array(shape) - 1
        corners = np.array([[0, 0, 0], ext]) @ affine_lps[:3, :3].T + affine_lps[:3, 3]
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        for _ in range(n_false):
            for _try in range(50):
                c_mm = rng.uniform(lo, hi)
                if (
                    len(pos) == 0
                    or np.min(np.linalg.norm(pos - c_mm, axis=1)) >= corr.false_min_distance_mm
                ):
                    add_blob(
                        maps[int(rng.integers(len(std)))],
                        affine_lps,
                        c_mm,
                        sigma_mm,
                        rng.uniform(*corr.false_amplitude),
                    )
                    break
    if corr.noise > 0:
        noise = rng.normal(0.0, 1.0, maps.shape).astype(np.float32)
        noise = ndimage.gaussian_filter(noise, sigma=(0, 1.0, 1.0, 1.0))
        noise *= corr.noise / max(float(noise.std()), 1e-12)
        maps += noise
    np.maximum(maps, 0.0, out=maps)
    return maps
