"""Arms beside the body (arms-down cases) on rendered label maps (:mod:`spinelab.synth.arms`)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import pelvic_soft, shoulder
from spinelab.synth.arms import SPINE_T2_S1_MM
from spinelab.synth.generator import SynthConfig
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP_XY, SP_Z = 1.5, 5.0


@pytest.fixture(scope="module")
def arms():
    """The fixture spine from above T1 to 220 mm below S1, 1.5 mm in-plane and 5 mm slices,
    560 mm wide, rendered with the arms up and down (same random stream)."""
    spine = curved_spine()
    c = spine.centres_mm
    z_top = c[spine.labels.index("T1"), 2] + 30.0
    z_bot = c[spine.labels.index("S1"), 2] - 220.0
    n = (int((z_top - z_bot) / SP_Z) + 1, int(330 / SP_XY), int(560 / SP_XY))
    y0 = float(c[:, 1].mean()) - 230.0
    grid = RenderGrid((-280.0, y0, float(z_bot)), (SP_XY, SP_XY, SP_Z), n)
    with pytest.MonkeyPatch.context() as mp:
        # the scapulae turn upwards with the arms raised (spinelab.synth.shoulder): one turn
        # for both poses here, so that the body is the same but for the arms
        turn = shoulder.UPWARD_ROTATION_DEG[False]
        mp.setattr(shoulder, "UPWARD_ROTATION_DEG", {False: turn, True: turn})
        # a man: a woman's breasts (painted after the arms, into air) fill in round the arm
        # and would count as limb where the two meet
        mp.setattr(pelvic_soft, "P_MALE", 1.0)
        up = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(3))
        down = render_labels(
            spine, grid, AnatomyParams(bowel_gas=0, arms_down=True), np.random.default_rng(3)
        )
    return spine, grid, up.tissue, down.tissue


def _slice(spine, grid, label: str, dz: float = 0.0) -> int:
    z = spine.centres_mm[spine.labels.index(label), 2] + dz
    return int(np.argmin(np.abs(grid.axis_mm(2) - z)))


def _limb(up, down, k: int, side: float, x):
    """The arm's voxels on slice ``k`` on one side: where the arms-down map differs."""
    diff = (down[k] != up[k]) & (side * x[None, :] > 0)
    return diff


def test_arms_down_adds_limbs_beside_the_body_and_leaves_the_body_alone(arms):
    spine, grid, up, down = arms
    x = grid.axis_mm(0)
    body_up = body_mask(up)
    changed = down != up
    # the arms only fill air: the body keeps its contour and contents (the muscle marbling,
    # drawn over all muscle including the arms', may move a few voxels)
    assert np.all(down[up != Tissue.AIR] != Tissue.AIR)
    assert (changed & body_up).sum() < 1e-4 * body_up.sum()
    for label in ("T8", "L1", "L4", "S1"):
        k = _slice(spine, grid, label)
        for side in (1.0, -1.0):
            limb = _limb(up, down, k, side, x)
            area = limb.sum() * SP_XY**2
            # a round limb 80-120 mm across (upper arm girth 280-370 mm, forearm 250-300)
            assert np.pi * 30.0**2 < area < np.pi * 62.0**2, (label, side, area)
            # lateral to the body wall, row by row, within a few mm of it (touching or a thin gap)
            gaps = []
            for j in np.nonzero(limb.any(axis=1) & body_up[k].any(axis=1))[0]:
                edge = np.max(side * x[body_up[k, j]])
                gaps.append(np.min(side * x[limb[j]]) - edge)
            assert len(gaps) > 10
            assert min(gaps) > 0.0, (label, side)
            assert min(gaps) < 20.0, (label, side, min(gaps))
            # an axial section, round: not much wider than tall (flattened at most 0.85)
            ys = limb.any(axis=1).sum() * SP_XY
            xs = limb.any(axis=0).sum() * SP_XY
            assert 0.75 < ys / xs < 1.25


def _bone_pieces(up, down, k: int, side: float, x) -> list[tuple[float, float]]:
    """(equivalent diameter mm, share of non-cortex inside) of each bone piece in the arm."""
    limb = _limb(up, down, k, side, x)
    bone = limb & np.isin(down[k], [int(t) for t in BONE])
    filled = ndi.binary_fill_holes(bone)
    comps, n = ndi.label(filled)
    out = []
    for i in range(1, n + 1):
        piece = comps == i
        area = piece.sum() * SP_XY**2
        if area < 20.0:
            continue
        inner = piece & ~np.isin(down[k], [int(Tissue.CORTICAL), int(Tissue.SHELL)])
        out.append((2.0 * np.sqrt(area / np.pi), inner.sum() / piece.sum()))
    return out


def test_humerus_in_the_upper_arm_radius_and_ulna_in_the_forearm(arms):
    spine, grid, up, down = arms
    x = grid.axis_mm(0)
    for side in (1.0, -1.0):
        # upper arm (T8-T11): one humeral shaft 22 mm across, a cortex around a marrow canal
        for label in ("T8", "T11"):
            pieces = _bone_pieces(up, down, _slice(spine, grid, label), side, x)
            assert len(pieces) == 1, (label, pieces)
            d, inner = pieces[0]
            assert 18.0 < d < 27.0, (label, d)
            assert 0.1 < inner < 0.7, (label, inner)
        # forearm (S1 level): two bones, 10-18 mm across each
        pieces = _bone_pieces(up, down, _slice(spine, grid, "S1", -20.0), side, x)
        assert len(pieces) == 2, pieces
        assert all(9.0 < d < 19.0 for d, _ in pieces), pieces
        # the humeral head at the shoulder, about 45 mm across
        zh = 0.5 * sum(spine.centres_mm[spine.labels.index(v), 2] for v in ("T2", "T3"))
        k = int(np.argmin(np.abs(grid.axis_mm(2) - zh)))
        head = max(d for d, _ in _bone_pieces(up, down, k, side, x))
        # 45 mm, scaled with the spine's length (this fixture is a tall spine: 1.15)
        z_t2, z_s1 = (spine.centres_mm[spine.labels.index(v), 2] for v in ("T2", "S1"))
        size = np.clip((z_t2 - z_s1) / SPINE_T2_S1_MM, 0.85, 1.15)
        assert abs(head - 45.0 * size) < 5.0, (head, size)


def test_about_a_third_of_generated_cases_have_the_arms_down():
    from spinelab.synth.arms import P_ARMS_DOWN

    assert SynthConfig().p_arms_down == P_ARMS_DOWN
    assert 0.2 <= P_ARMS_DOWN <= 0.4
