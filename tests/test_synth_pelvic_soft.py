"""Soft tissue of the pelvis and the upper thighs (spinelab.synth.pelvic_soft and the body
contour below S2 in spinelab.synth.render): the hips sit in the middle of the body, not at its
front edge; the body carries on below the hips (no air under them); gluteal muscle behind and
beside the hips; the body parts into two thighs below the perineum; a bladder behind the
pubis."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth.pelvis import hip_centres_mm
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 2.0
DZ = (-150.0, 40.0)  # mm below / above the hip centres


@pytest.fixture(scope="module")
def hips_case():
    """Tissue on a 2 mm grid around the hips, the grid's axes relative to the hips' midpoint."""
    spine = curved_spine()
    h = hip_centres_mm(spine, 1.0)
    assert h is not None
    c = h.mean(axis=0)
    n = (int((DZ[1] - DZ[0]) / SP), int(360 / SP), int(460 / SP))
    grid = RenderGrid((c[0] - 230.0, c[1] - 180.0, c[2] + DZ[0]), (SP, SP, SP), n)
    params = AnatomyParams(fat_mm=15.0, bowel_gas=0)
    res = render_labels(spine, grid, params, np.random.default_rng(0))
    x, y, z = (grid.axis_mm(a) - c[a] for a in range(3))
    return res.tissue, x, y, z, h - c


def _body(t: np.ndarray) -> np.ndarray:
    return body_mask(t)


def _k(z: np.ndarray, dz: float) -> int:
    return int(np.argmin(np.abs(z - dz)))


def test_the_hip_joints_sit_in_the_middle_of_the_body(hips_case):
    """Axial slice through the hip centres: the real example CT's body reaches 111 mm in front
    of the heads and 117 mm behind them (heads at 0.49 of its depth); the abdomen's contour
    carried on below S2 put the heads at its front edge (0.2-0.35)."""
    t, x, y, z, _ = hips_case
    body = _body(t[_k(z, 0.0)])
    jj = np.nonzero(body[:, np.abs(x) < 60.0].any(axis=1))[0]
    front, back = y[jj[0]], y[jj[-1]]
    assert front < -85.0 and back > 85.0, (front, back)
    assert 0.4 <= -front / (back - front) <= 0.6


def test_no_air_below_the_hips_inside_the_body(hips_case):
    """Coronal slice through the muscles in front of the hips (70 mm in front of the heads'
    centres: the iliopsoas, sartorius), from the heads' centre 60 mm down, within the body's
    width at the hips: soft tissue, not the air under a body whose front ran behind them."""
    t, _x, y, z, _ = hips_case
    j = int(np.argmin(np.abs(y + 70.0)))
    width = _body(t[_k(z, 0.0), j])
    lo, hi = np.nonzero(width)[0][[0, -1]]
    rows = (z <= 0.0) & (z >= -60.0)
    sec = t[rows, j, lo : hi + 1]
    assert np.mean(sec == int(Tissue.AIR)) < 0.05


def test_gluteal_muscle_behind_and_beside_the_hips(hips_case):
    """Behind the hip joints (the gluteus maximus and the short rotators) and lateral to them
    (gluteus medius) the body is mostly muscle, not the abdomen's fat-filled cavity."""
    t, x, y, z, _h = hips_case
    ks = (z > -10.0) & (z < 30.0)
    for side in (1.0, -1.0):
        lx = side * x
        behind = t[ks][:, (y > 40.0) & (y < 85.0)][:, :, (lx > 40.0) & (lx < 130.0)]
        assert np.mean(behind == int(Tissue.MUSCLE)) > 0.6
        beside = t[ks][:, np.abs(y) < 25.0][:, :, (lx > 125.0) & (lx < 150.0)]
        assert np.mean(beside == int(Tissue.MUSCLE)) > 0.5


def test_the_body_parts_into_two_thighs_below_the_perineum(hips_case):
    """140 mm below the hip centres the midline is much shallower than each thigh (they touch
    over part of their depth, with air in front of and behind the contact)."""
    t, x, _y, z, _ = hips_case
    body = _body(t[_k(z, -140.0)])
    depth = body.sum(axis=0) * SP
    mid = depth[np.abs(x) < 4.0].max()
    thighs = max(depth[(x > 60.0) & (x < 120.0)].max(), depth[(x < -60.0) & (x > -120.0)].max())
    assert thighs > 120.0
    assert mid < 0.6 * thighs, (mid, thighs)


def test_a_bladder_rests_behind_the_pubis(hips_case):
    """Water (urine) in the midline behind the pubis, its base a little below the hip centres'
    level and its centre in front of them. The bladder is the largest body of water within
    70 mm of the midline."""
    t, x, y, z, _ = hips_case
    water = t == int(Tissue.WATER)
    water[:, :, np.abs(x) >= 70.0] = False
    lab, n = ndi.label(water)
    assert n > 0
    kk, jj, ii = np.nonzero(lab == 1 + int(np.argmax(np.bincount(lab.ravel())[1:])))
    assert len(kk) * SP**3 > 20_000.0  # mm3 (> 20 ml)
    assert -25.0 < z[kk].min() < 5.0
    assert -70.0 < float(np.mean(y[jj])) < -10.0
    assert abs(float(np.mean(x[ii]))) < 5.0
