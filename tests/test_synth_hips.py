"""Hip joints and iliac wings in coronal views: the wings flare up and out from the acetabula."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.pelvis import hip_centres_mm
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.5


@pytest.fixture(scope="module")
def pelvis():
    """Tissue and vertebra labels on a 1.5 mm grid from 80 mm above to 150 mm below S1's
    centre, the grid, S1's centre and the spine."""
    spine = curved_spine()
    c = spine.centres_mm[spine.labels.index("S1")]
    n = (int(230 / SP), int(200 / SP), int(360 / SP))
    grid = RenderGrid((c[0] - 180, c[1] - 130, c[2] - 150), (SP, SP, SP), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, res.vertebrae, grid, c, spine


def _pelvic_bone(tis, vert):
    return np.isin(tis, [int(t) for t in BONE]) & (vert == 0)


def test_hip_centres_are_where_the_femoral_heads_are(pelvis):
    tis, _vert, grid, c, spine = pelvis
    hips = hip_centres_mm(spine, 1.0)
    assert hips is not None and hips.shape == (2, 3)
    x, y, z = (grid.axis_mm(a) for a in range(3))
    for side, h in zip((1.0, -1.0), hips, strict=True):
        rel = h - c
        # the anatomy: 80-95 mm either side, 30-50 mm in front of and 80-110 mm below S1
        assert 80.0 <= side * rel[0] <= 95.0 and -50.0 <= rel[1] <= -30.0, rel
        assert -110.0 <= rel[2] <= -80.0, rel
        # the joint's cartilage is a shell round that centre
        m = (tis == Tissue.CARTILAGE) & (side * (x - c[0]) > 40.0)[None, None, :]
        kk, jj, ii = np.nonzero(m)
        p = np.stack([x[ii], y[jj], z[kk]], axis=1)
        p = p[np.linalg.norm(p - h, axis=1) < 45.0]
        assert len(p) > 100
        # least-squares sphere through the cartilage: centred on the hip, radius 24 + 1.5 mm
        a = np.c_[2 * p, np.ones(len(p))]
        sol = np.linalg.lstsq(a, (p**2).sum(axis=1), rcond=None)[0]
        assert float(np.linalg.norm(sol[:3] - h)) < 1.5, sol[:3] - h
        assert abs(float(np.sqrt(sol[3] + sol[:3] @ sol[:3])) - 25.5) < 1.5


def _wing_x(bone, grid, c, y_mm, z_mm, side):
    """Mean lateral distance (mm) of the pelvic bone 55-175 mm from the midline on one side in
    the row of the coronal plane ``y_mm`` at height ``z_mm``."""
    x = grid.axis_mm(0) - c[0]
    j = round((y_mm - grid.origin_mm[1]) / SP)
    k = round((z_mm - grid.origin_mm[2]) / SP)
    sel = bone[k, j] & (side * x > 55.0) & (side * x < 175.0)
    assert sel.any()
    return float(np.abs(x[sel]).mean())


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_iliac_wing_flares_up_and_out_in_the_coronal_hip_plane(pelvis, side):
    tis, vert, grid, c, spine = pelvis
    bone = _pelvic_bone(tis, vert)
    hy = float(hip_centres_mm(spine, 1.0)[:, 1].mean())
    xs = {dz: _wing_x(bone, grid, c, hy, c[2] + dz, side) for dz in (-60.0, -30.0, 0.0, 30.0)}
    # the real example CT: 85, 100, 120, 137 mm from the midline (the old wing stood upright
    # at about 110 mm from 30 mm below S1 to the crest)
    assert xs[-60.0] < xs[-30.0] < xs[0.0] < xs[30.0], xs
    assert xs[30.0] - xs[-30.0] > 25.0, xs
    assert 125.0 < xs[30.0] < 150.0 and 80.0 < xs[-60.0] < 100.0, xs


def test_upper_wing_runs_obliquely_in_axial_sections(pelvis):
    """30 mm above S1's centre the wing runs out and forwards about 35 deg off the coronal
    plane to 140-160 mm from the midline (the real example), not forwards along a sagittal
    line 100-110 mm out."""
    tis, vert, grid, c, _spine = pelvis
    bone = _pelvic_bone(tis, vert)
    x, y = grid.axis_mm(0) - c[0], grid.axis_mm(1) - c[1]
    k = round((c[2] + 30.0 - grid.origin_mm[2]) / SP)
    jj, ii = np.nonzero(bone[k] & (np.abs(x) > 60.0)[None, :] & (y < 40.0)[:, None])
    ax, ay = np.abs(x[ii]), y[jj]
    assert 135.0 < ax.max() < 165.0, ax.max()
    slope = np.polyfit(ax, ay, 1)[0]  # mm forwards per mm outwards (negative: forwards)
    angle = np.degrees(np.arctan(-slope))
    assert 20.0 < angle < 50.0, angle
