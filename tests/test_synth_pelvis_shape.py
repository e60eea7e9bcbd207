"""The hip region's shape in the label map: a thick iliac body with a dense cortical rim over
the acetabulum, a sourcil, a waisted femoral neck with thin cortex, and fields of view that
reach the hips."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import generator
from spinelab.synth.generator import SynthConfig, sample_geometry
from spinelab.synth.pelvis import (
    FEMORAL_HEAD_R_MM,
    HIP_JOINT_GAP_MM,
    PELVIS_HIP_MM,
    femur_axes,
    hip_centres_mm,
)
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.0


@pytest.fixture(scope="module")
def right_hip():
    """Tissue labels on a 1 mm grid around the right hip (from 80 mm below to 90 mm above its
    centre) and the grid and hip centre."""
    spine = curved_spine()
    h = hip_centres_mm(spine, 1.0)[1]
    n = (int(170 / SP), int(130 / SP), int(130 / SP))  # (z, y, x)
    grid = RenderGrid((h[0] - 75, h[1] - 65, h[2] - 80), (SP, SP, SP), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, res.vertebrae, grid, h


def _bone(tis, vert):
    return np.isin(tis, [int(t) for t in BONE]) & (vert == 0)


def _ijk(grid, p):
    return [round((p[a] - grid.origin_mm[a]) / grid.spacing_mm[a]) for a in range(3)]


def test_iliac_body_has_a_dense_cortical_rim(right_hip):
    # the real example's ilium 35 mm above the head's centre: an oval of marrow in a bright
    # cortex (500-700 HU at 3 mm); the old body was marrow in a thin (SHELL) rim only
    tis, vert, grid, h = right_hip
    k = _ijk(grid, h + np.array([0.0, 0.0, 35.0]))[2]
    sl = tis[k]
    bone = _bone(tis, vert)[k]
    x = grid.axis_mm(0) - h[0]
    near = np.abs(x)[None, :] < 40.0
    m = bone & near
    assert m.sum() > 300
    # boundary voxels of that bone (a 4-neighbour outside it)
    inner = m.copy()
    inner[1:-1, 1:-1] = m[1:-1, 1:-1] & m[2:, 1:-1] & m[:-2, 1:-1] & m[1:-1, 2:] & m[1:-1, :-2]
    rim = m & ~inner
    share = float((sl[rim] == Tissue.CORTICAL).mean())
    assert share > 0.45, share
    assert float((sl[m] == Tissue.MARROW).mean()) > 0.4


def test_ilium_narrows_above_the_acetabular_roof(right_hip):
    # coronal section through the hip: bone across 45 and 60 mm above the head's centre (the
    # real example at 3 mm, from the outer edge of one cortex to the other's (> 200 HU), in the
    # planes 5 mm in front of, through and 5 mm behind the head's centre: 36-37 and 24-30 mm;
    # its marrow there reads 30-150 HU, so a 150 HU threshold gave 15 and 14 mm; the old wedge
    # and 19 mm thick plate: 36 mm at 60 mm in this map)
    tis, vert, grid, h = right_hip
    bone = _bone(tis, vert)
    j = _ijk(grid, h)[1]
    x = grid.axis_mm(0) - h[0]
    for dz, lim in ((45.0, 40.0), (60.0, 31.0)):
        kk = round((h[2] + dz - grid.origin_mm[2]) / SP)
        row = bone[kk, j] & (np.abs(x) < 45.0)
        assert row.any()
        width = float(row.sum() * SP)
        assert width < lim, (dz, width)


def test_acetabular_roof_has_a_sourcil(right_hip):
    # subchondral plate: thickest straight above the head (the sourcil), thin down the sides
    tis, _vert, grid, h = right_hip
    r_in = FEMORAL_HEAD_R_MM + HIP_JOINT_GAP_MM
    rr = np.arange(r_in - 0.5, r_in + 6.0, 0.25)

    def dense_mm(deg):
        t = math.radians(deg)
        d = np.array([-math.cos(t), 0.0, math.sin(t)])  # right hip: lateral is -x
        pts = h[None, :] + rr[:, None] * d[None, :]
        ijk = np.rint((pts - np.asarray(grid.origin_mm)) / SP).astype(int)
        return float((tis[ijk[:, 2], ijk[:, 1], ijk[:, 0]] == Tissue.CORTICAL).sum() * 0.25)

    top = dense_mm(90.0)
    side = np.mean([dense_mm(a) for a in (10.0, 20.0, 160.0, 170.0)])
    # (the real example's roof reads 494 HU at 3 mm, the brightest point on rays within 30 deg
    # of the vertical 20-34 mm from the head's centre; a 2.6 mm plate read 504-779 HU, mean
    # 669, on four generated 3 mm cases measured the same way, a 1.6 mm plate 425-603, mean 536)
    assert top >= 1.5, top
    assert side <= 1.0, side


def test_femoral_neck_is_waisted_with_thin_cortex(right_hip):
    tis, vert, grid, h = right_hip
    neck, _shaft = femur_axes(-1.0)
    bone = _bone(tis, vert)
    z, y, x = np.meshgrid(*(grid.axis_mm(a) for a in (2, 1, 0)), indexing="ij")
    rel = np.stack([x - h[0], y - h[1], z - h[2]], axis=-1)
    t = -(rel @ neck)  # distance from the head centre down the neck
    radial = np.linalg.norm(rel + t[..., None] * neck, axis=-1)

    def slab(a, b):
        return bone & (t >= a) & (t < b) & (radial < 26.0)

    waist, base = slab(26.0, 30.0), slab(44.0, 48.0)
    # waisted: the base's section (towards the trochanters) is much larger than the waist's
    assert base.sum() > 1.6 * waist.sum(), (base.sum(), waist.sum())
    # thin cortex: the old neck was a 1.8 mm Tissue.CORTICAL shell, a bright block at 3 mm
    share = float((tis[waist] == Tissue.CORTICAL).mean())
    assert share < 0.05, share


def test_default_lumbar_fields_of_view_often_reach_below_the_hips():
    cfg = SynthConfig(fov="lumbar")
    rng = np.random.default_rng(3)
    geo = sample_geometry(rng, cfg)
    s2 = float(geo.centres_mm[geo.labels.index("S2"), 2])
    s1 = float(geo.centres_mm[geo.labels.index("S1"), 2])
    hip_z = s1 + PELVIS_HIP_MM[2]
    below = []
    for _ in range(400):
        _top, bot = generator._fov_z(rng, cfg, geo, "L1", "S2")
        below.append(bot < hip_z - FEMORAL_HEAD_R_MM)
    share = float(np.mean(below))
    # about half reach past the femoral heads (the old (20, 110) mm: under a fifth)
    assert 0.35 < share < 0.75, (share, s2 - hip_z)
