"""The lesser pelvis below the sacrum (spinelab.synth.pelvic_soft): the cavity's fat reaches
the bony side walls instead of ending on straight vertical walls of gluteal muscle inside them.

Measured on the rendered CT (HU) in the coronal plane through S1's centre, 40-120 mm below it:
per row (3 mm) the run of non-bone voxels that holds S1's x, bounded by bone on both sides; the
muscle lining is the width of non-fat (HU >= -30) voxels between the bone and the run's first
and last fat voxel (-190 to -30 HU). The real example CT (totalsegmentator_example, 3 mm):
lining 3 mm (median over the rows), the runs 74 % fat. The old synthetic pelvis: 15, 16.5 and
9 mm for the seeds below (the gluteus maximus's and the short rotators' sections reached 30 mm
from the midline inside the cavity), 46, 39 and 43 % fat; then 6 mm each, 64, 53 and 45 % fat;
62, 42 and 51 % with the colon's sacculated wall (the bowel's layout moved); now 6, 6 and 3 mm,
78, 70 and 61 % fat (the levator funnel's inside fat behind the viscera, the rectum a tube in it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.structures import Volume
from spinelab.synth.generator import generate_case

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import hips_config

SEEDS = (0, 3, 4)
BONE_HU = 250.0
#: Real example CT: 3 mm; allowed up to two 3 mm voxels more.
LINING_MAX_MM = 9.0
#: Real example CT: 0.74; the mean over the seeds at least this (and every case at least
#: FAT_MIN - 0.08): the cavity between the bones is mostly fat, not muscle or soft tissue.
FAT_MIN = 0.6


def _run(row: np.ndarray, c: int, reach: int) -> tuple[int, int] | None:
    """First and last index of the non-bone run of ``row`` holding ``c``, when bone bounds it on
    both sides within ``reach`` voxels; else None."""
    if row[c] >= BONE_HU:
        return None
    lo = c
    while lo > 0 and row[lo - 1] < BONE_HU and c - lo < reach:
        lo -= 1
    hi = c
    while hi < len(row) - 1 and row[hi + 1] < BONE_HU and hi - c < reach:
        hi += 1
    if lo == 0 or hi == len(row) - 1 or row[lo - 1] < BONE_HU or row[hi + 1] < BONE_HU:
        return None
    return lo, hi


def _lesser_pelvis(ct: Volume, s1: np.ndarray) -> tuple[float, float]:
    """(median muscle lining in mm, fat share) in the coronal plane through S1's centre ``s1``
    (LPS mm) of a 3 mm CT."""
    a = np.asarray(ct.array, dtype=np.float32)
    aff = ct.affine_lps
    # array axes in world x, y, z order
    world = [int(np.argmax(np.abs(aff[:3, q]))) for q in range(3)]
    order = [world.index(w) for w in range(3)]
    a = np.transpose(a, order)
    m = aff[:3, :3][:, order]
    sp = np.abs(np.diag(m))
    assert np.allclose(sp, 3.0)
    ci, cj, ck = (float(v) for v in np.linalg.solve(m, s1 - aff[:3, 3]))
    plane = a[:, round(cj), :]
    lining, vals = [], []
    for d in np.arange(-120.0, -39.0, 3.0):
        k = round(ck + d / m[2, 2])
        if not 0 <= k < plane.shape[1]:
            continue
        got = _run(plane[:, k], round(ci), 40)
        if got is None:
            continue
        seg = plane[got[0] : got[1] + 1, k]
        vals.append(seg)
        fat = np.flatnonzero((seg >= -190.0) & (seg < -30.0))
        if fat.size:
            lining += [fat[0] * sp[0], (len(seg) - 1 - fat[-1]) * sp[0]]
    assert len(lining) >= 20
    v = np.concatenate(vals)
    v = v[v > -500.0]
    return float(np.median(lining)), float(np.mean((v >= -190.0) & (v < -30.0)))


@pytest.fixture(scope="module")
def measured() -> list[tuple[float, float]]:
    out = []
    for seed in SEEDS:
        case = generate_case(seed, hips_config())
        out.append(_lesser_pelvis(case.ct, case.centroids.position("S1")))
    return out


def test_the_pelvic_fat_reaches_the_bony_side_walls(measured):
    """No straight walls of gluteal muscle inside the bony pelvis: the muscle between the hip
    bone and the cavity's fat is 3 mm on the real CT; the old code 9-16 mm (13 mm mean)."""
    linings = [lin for lin, _ in measured]
    assert max(linings) <= LINING_MAX_MM, linings
    assert np.mean(linings) <= LINING_MAX_MM - 1.5, linings


def test_the_lesser_pelvis_is_mostly_fat_between_the_bones(measured):
    """Behind the bladder and the genital organs the cavity is presacral and perirectal fat
    up to the bone (74 % of the runs on the real CT), not muscle: the old code 39-46 %
    (42 % mean), then 45-64 % (54 % mean), now 61-78 % (70 % mean)."""
    fats = [f for _, f in measured]
    assert np.mean(fats) >= FAT_MIN, fats
    assert min(fats) >= FAT_MIN - 0.08, fats
