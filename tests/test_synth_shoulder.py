"""The shoulder girdle (``spinelab.synth.shoulder``): scapulae and clavicles.

The generator had neither: a vertical line on the back of the chest 90 mm from the midline
met bone (the ribs) over at most 12 mm at a time between T2 and T9 on the test spine; real
scapulae cover it from T2 to T7. The girdle alone is painted into a grid of fat to measure its
shape; the full render checks it sits behind the ribs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import render, shoulder
from spinelab.synth.body import BodyPlan
from spinelab.synth.painter import Painter
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 2.0


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _grid(spine) -> RenderGrid:
    c = spine.centres_mm
    z_top = c[spine.labels.index("C6"), 2]
    z_bot = c[spine.labels.index("T9"), 2]
    n = (int((z_top - z_bot) / SP) + 1, int(320 / SP), int(440 / SP))
    return RenderGrid((-220.0, float(c[:, 1].mean()) - 200.0, float(z_bot)), (SP,) * 3, n)


def _girdle(spine, arms_down: bool, seed: int = 0) -> tuple[np.ndarray, RenderGrid]:
    """The girdle's bone alone, painted into fat."""
    grid = _grid(spine)
    pt = Painter(grid)
    pt.tissue[:] = Tissue.FAT
    params = AnatomyParams(arms_down=arms_down)
    plan = BodyPlan(spine, params)
    shoulder.paint_shoulder_girdle(
        pt,
        plan,
        lambda lv, z: render._rib_ring(lv, z, plan.z_of, 2.0),
        lambda z: render._sternum_front(spine, plan, z),
        arms_down,
        np.random.default_rng(seed),
    )
    return np.isin(pt.tissue, list(BONE)), grid


def _centre(spine, label):
    return spine.centres_mm[spine.labels.index(label)]


@pytest.mark.parametrize("arms_down", [True, False], ids=["arms down", "arms up"])
def test_one_girdle_each_side_spanning_t2_to_t7(spine, arms_down):
    bone, grid = _girdle(spine, arms_down)
    lab, n = ndi.label(bone)
    sizes = ndi.sum(bone, lab, np.arange(1, n + 1))
    big = [i + 1 for i in np.argsort(sizes)[::-1][:2]]
    assert sizes.max() > 0 and np.sort(sizes)[-2] > 0.9 * sizes.max()  # two alike
    x, z = grid.axis_mm(0), grid.axis_mm(2)
    xs = _centre(spine, "T4")[0]
    sides = set()
    for i in big:
        kk, _, ii = np.nonzero(lab == i)
        sides.add(np.sign(np.median(x[ii]) - xs))
        span = z[kk].max() - z[kk].min()
        # superior angle near T2, inferior angle near T7 (about 160 mm tall)
        assert 120.0 < span < 220.0, span
        assert z[kk].min() < _centre(spine, "T6")[2]
    assert sides == {-1.0, 1.0}


def test_inferior_angle_moves_out_with_the_arms_raised(spine):
    out = {}
    for arms_down in (True, False):
        bone, grid = _girdle(spine, arms_down)
        x = grid.axis_mm(0)
        kk, _, ii = np.nonzero(bone)
        low = kk <= kk.min() + 2  # the lowest voxels: the inferior angles
        out[arms_down] = np.abs(x[ii[low]] - _centre(spine, "T7")[0]).mean()
    # real: the inferior angle about 80-90 mm from the midline with the arms down, moving out
    # with upward rotation (raised arms)
    assert 70.0 < out[True] < 110.0, out
    assert out[False] > out[True] + 25.0, out


def test_clavicle_from_the_manubrium_out_and_up_to_the_acromion(spine):
    bone, grid = _girdle(spine, True)
    x, y, z = grid.axis_mm(0), grid.axis_mm(1), grid.axis_mm(2)
    i2 = spine.labels.index("T2")
    y_front = _centre(spine, "T2")[1] - spine.body_depth_mm[i2] / 2
    xs = _centre(spine, "T2")[0]
    # in front of the vertebral bodies (the clavicle's lateral end lies 20 mm in front of
    # them, its medial end 70 mm) and above T2's centre less 25 mm (the scapula's blade and
    # lateral border lie behind, its coracoid lower)
    zone = (y < y_front - 15.0)[None, :, None] & (z > _centre(spine, "T2")[2] - 25.0)[:, None, None]
    kk, _, ii = np.nonzero(bone & zone)
    for side in (1.0, -1.0):
        m = (x[ii] - xs) * side > 0
        a = np.abs(x[ii[m]] - xs)
        # real: from the sternoclavicular joint (20-25 mm out) to the acromion (150-170 mm)
        assert a.min() < 40.0 and a.max() > 120.0, (a.min(), a.max())
        medial, lateral = z[kk[m]][a < a.min() + 10.0], z[kk[m]][a > a.max() - 30.0]
        assert lateral.mean() > medial.mean() + 5.0


def test_scapula_covers_the_back_of_the_chest(spine):
    res = render_labels(
        spine, _grid(spine), AnatomyParams(arms_down=True), np.random.default_rng(0)
    )
    g = res.grid
    x, y = g.axis_mm(0), g.axis_mm(1)
    bone = np.isin(res.tissue, list(BONE)) & (res.vertebrae == 0)
    post = bone[:, y > _centre(spine, "T4")[1], :].any(axis=1)  # (z, x) behind T4's centre
    for xx in (-90.0, 90.0):
        col = post[:, int(np.argmin(np.abs(x - xx)))]
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, col.astype(int), 0])))[::2]
        # the ribs alone: at most 12 mm at a time; scapula 110-134 mm with the arms down
        assert runs.max() * SP > 60.0, runs
