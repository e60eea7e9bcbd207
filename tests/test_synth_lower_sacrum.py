"""The sacrum below S2 on a rendered label map (spinelab.synth.pelvis._lower_sacral_canal): the
fused bodies with residual discs, the sacral canal behind them under a dorsal wall down to the
hiatus, and the coccyx's joints.

Before: the lower sacrum was one solid tapering plate (marrow in a cortex): on sagittal views a
uniform curved horn, without canal, dorsal wall or segments (the real example CT shows all
three).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import pelvis
from spinelab.synth.painter import THIN_CORTEX
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

BONE_IDS = [int(t) for t in BONE]


@pytest.fixture(scope="module")
def lower():
    """The fixture spine's sacrum from S2 to the coccyx's tip on a 1 mm grid: tissue map, grid,
    the plate's points, half-widths and half-thicknesses, and its dorsal normals."""
    spine = curved_spine()
    pts, hw, ht = pelvis.lower_sacrum(spine)
    lo = pts.min(axis=0) - np.array([70.0, 45.0, 25.0])
    hi = pts.max(axis=0) + np.array([70.0, 55.0, 45.0])  # up to S1
    shape = tuple(int(v) for v in np.ceil(hi - lo)[::-1])
    grid = RenderGrid(tuple(lo), (1.0, 1.0, 1.0), shape)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    n2 = spine.labels.index("S2")
    normal = pelvis.sacral_plate_normals(pts, spine.frames[n2][:, 1])
    return res.tissue, grid, pts, hw, ht, normal


def _along(tissue, grid, p, d, ts):
    """Tissue at ``p + t d`` for ``t`` in ``ts`` (mm)."""
    q = p[None, :] + np.asarray(ts)[:, None] * d[None, :]
    ijk = np.rint((q - np.asarray(grid.origin_mm)) / np.asarray(grid.spacing_mm)).astype(int)
    return tissue[ijk[:, 2], ijk[:, 1], ijk[:, 0]]


def test_the_canal_runs_behind_the_bodies_under_a_dorsal_wall_to_the_hiatus(lower):
    tissue, grid, pts, hw, ht, normal = lower
    ts = np.arange(-30.0, 30.0, 0.5)
    for i in (1, 2):  # S3, S4: bodies, canal (fat), dorsal wall, in that order
        t = _along(tissue, grid, pts[i], normal[i], ts)
        bone = np.isin(t, BONE_IDS)
        first = ts[np.argmax(bone)]
        last = ts[len(ts) - 1 - np.argmax(bone[::-1])]
        inside = (ts > first) & (ts < last)
        fat = inside & (t == Tissue.FAT)
        assert fat.sum() * 0.5 >= 3.0, (i, t)  # a canal of at least 3 mm
        assert ts[fat].min() > ht[i] - 1.0  # behind the bodies
        assert last > ts[fat].max() + 1.5  # under bone
        assert not (inside & ~bone & ~fat).any()  # no soft tissue inside the sacrum
        # the dorsal part is wide: bone behind the bodies half-way to the plate's edge
        side = np.cross(normal[i], pts[i + 1] - pts[i])
        side /= np.linalg.norm(side)
        t_side = _along(tissue, grid, pts[i] + side * 0.5 * hw[i], normal[i], ts)
        assert np.isin(t_side[(ts > ht[i] + 1.0) & (ts < ht[i] + 4.0)], BONE_IDS).all()
    # S5: the hiatus, nothing bony behind the body
    t = _along(tissue, grid, pts[3], normal[3], ts)
    behind = ts > ht[3] + 1.5
    assert not np.isin(t[behind], BONE_IDS).any()
    assert np.isin(t[np.abs(ts) < ht[3] - 1.5], BONE_IDS).all()


def test_residual_discs_and_the_coccyx_joints_segment_the_bone(lower):
    tissue, grid, pts, _, _, normal = lower
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s_pts = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.arange(0.0, s_pts[-1] - 3.0, 0.5)
    axis = np.stack([np.interp(s, s_pts, pts[:, c]) for c in range(3)], axis=1)
    # sample a little in front of the axis (the bodies), S3 down
    nrm = np.stack([np.interp(s, s_pts, normal[:, c]) for c in range(3)], axis=1)
    q = axis - nrm * 2.0
    ijk = np.rint((q - np.asarray(grid.origin_mm)) / np.asarray(grid.spacing_mm)).astype(int)
    t = tissue[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    below_s2 = s > s_pts[1] - 5.0
    compact = below_s2 & (s < s_pts[3]) & (t == THIN_CORTEX)
    # the S3/S4 and S4/S5 residual discs: two separate runs of compact bone, marrow between
    runs = np.flatnonzero(np.diff(np.concatenate([[0], compact.astype(int), [0]])) == 1)
    assert len(runs) >= 2, t
    between = below_s2 & (s < s_pts[3]) & ~compact
    assert (t[between] == Tissue.MARROW).mean() > 0.8
    # the sacrococcygeal and the intercoccygeal joint: two runs of fibrocartilage below S5
    disc = (s > s_pts[3]) & (t == Tissue.DISC)
    runs = np.flatnonzero(np.diff(np.concatenate([[0], disc.astype(int), [0]])) == 1)
    assert len(runs) == 2, t
    assert 1.0 <= disc.sum() * 0.5 <= 6.0


def test_the_arches_of_s1_and_s2_are_fused(lower):
    """Bone all the way behind the canal from S1's canal to S2's (the gap between the two
    laminae used to be soft tissue, a lumbar-looking interlaminar space)."""
    from spinelab.synth import vertebra_shape as vshape

    tissue, grid, *_ = lower
    spine = curved_spine()
    backs = []
    for name in ("S1", "S2"):
        n = spine.labels.index(name)
        dims = vshape.level_dims(name)
        b = vshape.posterior_wall(float(spine.body_depth_mm[n])) + dims["can_d"] + 4.0
        backs.append(spine.centres_mm[n] + spine.frames[n][:, 1] * b)
    d = backs[1] - backs[0]
    t = _along(tissue, grid, backs[0], d / np.linalg.norm(d), np.arange(0.0, np.linalg.norm(d)))
    assert np.isin(t, BONE_IDS).mean() > 0.95, t
