"""Reference centroids from vertebra masks (spinelab.evaluation.masks)."""

from __future__ import annotations

import numpy as np

from spinelab import anatomy
from spinelab.evaluation.masks import body_centroids, body_interior
from spinelab.structures import Volume

#: TotalSegmentator's ids in the real example's mask (../shared/data/README.md).
TOTALSEG_IDS = {32: "T12", 31: "L1", 30: "L2", 29: "L3", 28: "L4", 27: "L5"}


def test_finds_the_generated_centres_in_any_voxel_orientation(like_real_cases):
    """The generator's own body centres are found in its label maps (VerSe ids), whatever the
    voxel orientation the case drew; ids that are no vertebra, or absent, are left out."""
    for case in like_real_cases:
        got = body_centroids(case.labels, {20: "L1", 21: "L2", 22: "L3", 23: "L4", 99: "L5"})
        assert got.labels == ["L1", "L2", "L3", "L4"]
        for name in got.labels:
            err = np.linalg.norm(got.position(name) - case.centroids.position(name))
            assert err < 4.0, (name, err)
        # every VerSe id of the map: labels in chain order, each presacral one near the
        # generator's centre (the sacrum's mask, id 26, is S1-S5 as in VerSe: its interior's
        # centre is not S1's body centre)
        everything = body_centroids(case.labels)
        assert everything.labels == sorted(everything.labels, key=anatomy.chain_index)
        assert {"T12", "L1", "L2", "L3", "L4"} <= set(everything.labels)
        for name in everything.labels:
            if name in case.centroids.labels and name not in ("S1", "S2"):
                err = np.linalg.norm(everything.position(name) - case.centroids.position(name))
                assert err < 6.0, (name, err)


def test_same_centres_on_a_permuted_flipped_grid(real_example):
    """Transposing and flipping the voxel grid (with the affine following) moves no centre."""
    _, lab = real_example
    a = body_centroids(lab, TOTALSEG_IDS)
    arr = np.flip(np.transpose(lab.array, (2, 0, 1)), axis=1)
    aff = lab.affine_lps[:, [2, 0, 1, 3]].copy()
    # flipping the new axis 1 (old axis 0): index i' = n - 1 - i
    n = lab.array.shape[0]
    aff[:3, 3] += aff[:3, 1] * (n - 1)
    aff[:3, 1] *= -1
    b = body_centroids(Volume(arr, aff), TOTALSEG_IDS)
    assert a.labels == b.labels
    np.testing.assert_allclose(a.positions_mm, b.positions_mm, atol=1e-6)


def test_real_masks_give_a_plausible_lumbar_chain(real_example):
    """On TotalSegmentator's masks of the real CT: T12-L5 (T11 is cut by the field of view and
    is not asked for), each centre inside its own mask, neighbours 20-50 mm apart going down."""
    _, lab = real_example
    got = body_centroids(lab, TOTALSEG_IDS)
    assert got.labels == ["T12", "L1", "L2", "L3", "L4", "L5"]
    inv = np.linalg.inv(lab.affine_lps)
    for name, pos in zip(got.labels, got.positions_mm):
        ijk = np.rint(inv[:3, :3] @ pos + inv[:3, 3]).astype(int)
        vid = next(k for k, v in TOTALSEG_IDS.items() if v == name)
        assert lab.array[tuple(ijk)] == vid, name
    gaps = np.linalg.norm(np.diff(got.positions_mm, axis=0), axis=1)
    assert np.all((gaps > 20) & (gaps < 50)), gaps
    assert np.all(np.diff(got.positions_mm[:, 2]) < 0)  # LPS: superior is +z


def test_a_mask_too_thin_for_an_interior_is_left_out():
    """A slab thinner than the erosion has no interior; an empty mask neither."""
    arr = np.zeros((40, 40, 40), np.uint8)
    arr[5:35, 5:35, 18:21] = 20  # 3 voxels of 1 mm: gone after a 6 mm erosion
    arr[10:30, 10:30, 25:39] = 21
    vol = Volume(arr, np.diag([1.0, 1.0, 1.0, 1.0]))
    got = body_centroids(vol)
    assert got.labels == ["L2"]
    np.testing.assert_allclose(got.positions_mm[0], [19.5, 19.5, 31.5])
    assert body_interior(np.zeros((5, 5, 5), bool), np.ones(3)) is None
