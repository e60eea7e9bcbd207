"""Resampling onto an LPS-aligned grid (spinelab.preprocess)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from spinelab.postprocess.simulate import add_blob, grid_around
from spinelab.preprocess import lps_grid, resample_lps
from spinelab.structures import Volume

CENTRE_MM = np.array([12.0, -30.0, 140.0])


def _blob_volume(codes: str, spacing: float, rotate_deg: float = 0.0) -> Volume:
    """A Gaussian blob (sigma 6 mm) at CENTRE_MM on a grid with the given orientation codes,
    optionally rotated about the S axis (an oblique grid)."""
    shape, affine = grid_around(CENTRE_MM[None], spacing_mm=spacing, margin_mm=40.0, codes=codes)
    if rotate_deg:
        a = np.deg2rad(rotate_deg)
        r = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        affine = affine.copy()
        centre = affine[:3, :3] @ ((np.array(shape) - 1) / 2) + affine[:3, 3]
        affine[:3, :3] = r @ affine[:3, :3]
        affine[:3, 3] = centre - affine[:3, :3] @ ((np.array(shape) - 1) / 2)
    arr = np.zeros(shape, dtype=np.float32)
    add_blob(arr, affine, CENTRE_MM, 6.0, 1000.0)
    return Volume(arr, affine)


def _centre_of_mass_mm(v: Volume) -> np.ndarray:
    ijk = np.array(ndimage.center_of_mass(np.asarray(v.array, dtype=np.float64)))
    return v.ijk_to_world(ijk)


@pytest.mark.parametrize(
    ("codes", "spacing", "rotate"),
    [
        ("LPS", 1.0, 0.0),
        ("RAS", 1.5, 0.0),
        ("PIR", 0.8, 0.0),
        ("SRA", 2.0, 0.0),
        ("LPS", 1.2, 25.0),
    ],
)
def test_resample_keeps_world_positions(codes: str, spacing: float, rotate: float) -> None:
    vol = _blob_volume(codes, spacing, rotate)
    assert np.allclose(_centre_of_mass_mm(vol), CENTRE_MM, atol=0.3)
    out = resample_lps(vol, 3.0)
    # an LPS-aligned grid of the asked spacing
    assert np.allclose(out.affine_lps[:3, :3], np.diag([3.0, 3.0, 3.0]))
    assert out.array.dtype == np.float32
    got = _centre_of_mass_mm(out)
    assert np.linalg.norm(got - CENTRE_MM) < 0.75, (codes, got)
    # antialiasing keeps the blob's mass (no aliasing loss or gain beyond a few percent)
    vox_in = np.prod(vol.spacing_mm)
    assert out.array.sum() * 27.0 == pytest.approx(vol.array.sum() * vox_in, rel=0.05)


def test_grid_covers_the_volume() -> None:
    vol = _blob_volume("PIR", 0.8, 25.0)
    shape, affine = lps_grid(vol, 2.0)
    ext = np.array(vol.shape) - 1.0
    corners = np.array([[i, j, k] for i in (0, ext[0]) for j in (0, ext[1]) for k in (0, ext[2])])
    world = vol.ijk_to_world(corners)
    ijk = (world - affine[:3, 3]) / 2.0
    assert np.all(ijk > -1e-6)
    assert np.all(ijk <= np.array(shape) - 1 + 2.0 / 2.0)


def test_label_maps_keep_their_values() -> None:
    lab = np.zeros((30, 20, 40), dtype=np.uint8)
    lab[5:15, 5:15, 10:30] = 20
    lab[15:25, 5:15, 10:30] = 21
    affine = np.diag([-1.0, -1.0, 2.0, 1.0])  # RAS-like in-plane flips
    out = resample_lps(Volume(lab, affine), 1.0, order=0)
    assert out.array.dtype == np.uint8
    assert set(np.unique(out.array)) == {0, 20, 21}
    # L (label 21 lies at larger i = more negative x, i.e. to the right) stays right of 20
    c20 = out.ijk_to_world(np.argwhere(out.array == 20).mean(axis=0))
    c21 = out.ijk_to_world(np.argwhere(out.array == 21).mean(axis=0))
    assert c21[0] < c20[0]


def test_bad_spacing_is_refused() -> None:
    with pytest.raises(ValueError, match="spacing"):
        resample_lps(Volume(np.zeros((4, 4, 4)), np.eye(4)), 0.0)
