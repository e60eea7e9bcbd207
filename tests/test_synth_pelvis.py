"""Pelvic anatomy on rendered label maps: hip joints and proximal femora, the sacrum."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.5


@pytest.fixture(scope="module")
def hips():
    """Tissue and vertebra labels on a 1.5 mm grid from 30 mm above to 260 mm below S1's
    centre, the grid and S1's centre (mm)."""
    spine = curved_spine()
    c = spine.centres_mm[spine.labels.index("S1")]
    n = (int(290 / SP), int(160 / SP), int(330 / SP))
    grid = RenderGrid((c[0] - 165, c[1] - 110, c[2] - 260), (SP, SP, SP), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, res.vertebrae, grid, c, spine


def _head_centre(tis, grid, c, side: float) -> tuple[np.ndarray, float]:
    """Sphere fitted (least squares) to the hip joint's cartilage of one side."""
    x, y, z = (grid.axis_mm(a) for a in range(3))
    m = tis == Tissue.CARTILAGE
    m &= (side * (x - c[0]) > 40.0)[None, None, :]
    kk, jj, ii = np.nonzero(m)
    p = np.stack([x[ii], y[jj], z[kk]], axis=1)
    assert len(p) > 100
    a = np.c_[2 * p, np.ones(len(p))]
    sol = np.linalg.lstsq(a, (p**2).sum(axis=1), rcond=None)[0]
    return sol[:3], float(np.sqrt(sol[3] + sol[:3] @ sol[:3]))


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_femoral_neck_rises_at_a_normal_neck_shaft_angle(hips, side):
    tis, vert, grid, c, _spine = hips
    x, y, z = (grid.axis_mm(a) for a in range(3))
    fh, r = _head_centre(tis, grid, c, side)
    assert 22.0 < r < 30.0  # head radius 24 mm plus half the joint space
    bone = np.isin(tis, [int(t) for t in BONE]) & (vert == 0)
    kk, jj, ii = np.nonzero(bone)
    p = np.stack([x[ii], y[jj], z[kk]], axis=1)
    # neck: bone 25-38 mm from the head centre, lateral to and below it
    d = np.linalg.norm(p - fh, axis=1)
    sel = (d > 25.0) & (d < 38.0) & (side * (p[:, 0] - fh[0]) > 0) & (p[:, 2] < fh[2])
    neck = fh - p[sel].mean(axis=0)  # from the neck towards the head
    # shaft: centres of the femur's cross-sections 90 and 150 mm below the head
    cen = [
        p[(abs(p[:, 2] - (fh[2] - dz)) < SP) & (side * p[:, 0] > 40.0)].mean(0) for dz in (90, 150)
    ]
    shaft = cen[1] - cen[0]
    a, b = neck[[0, 2]], shaft[[0, 2]]
    angle = np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    # neck-shaft angle 125-130 deg (the old neck ran 30 deg above the horizontal: 117 deg)
    assert 124.0 <= angle <= 134.0, angle
    # the shaft leans 5-10 deg medially downwards
    tilt = np.degrees(np.arctan2(-side * shaft[0], -shaft[2]))
    assert 4.0 <= tilt <= 10.0, tilt


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_hip_joint_is_one_thin_ring_between_head_and_cup(hips, side):
    tis, _vert, grid, c, _spine = hips
    fh, _r = _head_centre(tis, grid, c, side)
    org = np.array(grid.origin_mm)
    rr = np.arange(14.0, 40.0, 0.25)
    bony = np.isin(tis, [int(t) for t in BONE])
    for deg in (90.0, 120.0, 160.0):  # up, up-medial, medial (into the cup)
        a = np.radians(deg)
        dv = np.array([side * np.cos(a), 0.0, np.sin(a)])
        ijk = np.rint((fh + rr[:, None] * dv - org) / SP).astype(int)
        t = tis[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
        b = bony[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
        # one gap in the bone (the joint space), 2-4 mm wide (allowing a voxel of rounding)
        edges = np.flatnonzero(np.diff(b.astype(int)))
        assert b[0] and len(edges) >= 2, deg
        gap = rr[edges[1]] - rr[edges[0]]
        assert 1.5 <= gap <= 4.0 + SP, (deg, gap)
        if len(edges) > 2:  # the cup's outer surface: at least 5 mm of bone beyond the joint
            assert rr[edges[2]] - rr[edges[1]] >= 5.0
        # dense subchondral bone on both sides of the joint and nowhere else within 15 mm of
        # it (the cup's outer surface was a second dense ring 8 mm outside the joint)
        dense = t == Tissue.CORTICAL
        runs = np.flatnonzero(np.diff(dense.astype(int)) == 1)
        assert len(runs) == 2, (deg, runs)


def test_sacral_base_is_broad_and_its_lateral_masses_run_down_to_s3(hips):
    _tis, vert, grid, c, spine = hips
    x, _y, z = (grid.axis_mm(a) - c[a] for a in range(3))
    n = spine.labels.index("S1")
    w, h = float(spine.body_width_mm[n]), float(spine.body_height_mm[n])
    sac = np.isin(vert, [anatomy.by_name(v).verse_id for v in ("S1", "S2")])
    # sacral base with its alae 100-110 mm wide (S1 body about 50 mm) at S1's centre
    xs = x[sac[np.argmin(abs(z))].any(axis=0)]
    assert 95.0 <= np.ptp(xs) + SP <= 115.0, np.ptp(xs)
    # the lateral masses carry the sacro-iliac joint from S1 down to S3: one continuous column
    # of sacral bone 20 mm beyond the S1 body's edge, at least 50 mm tall (S2's ala stopped
    # short of it: the column was S1's 28 mm)
    for side in (1.0, -1.0):
        col = sac[:, :, np.argmin(abs(x - side * (w / 2 + 20.0)))].any(axis=1)
        top = int(np.argmin(abs(z - h / 2)))
        run = 0
        for k in range(top, -1, -1):
            if col[k]:
                run += 1
            elif run:
                break
        assert run * SP >= 50.0, run * SP
