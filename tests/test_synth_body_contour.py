"""The trunk's outline and subcutaneous fat (spinelab.synth.render._BodyContour): not a uniform
ring around the muscle wall, but thin over the anterolateral wall, thick over the posterolateral
flanks and the lower belly, a little asymmetric, with Scarpa's fascia in the lower abdominal fat
and a back that lies flat on the couch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

FAT_MM = 30.0
SEEDS = range(6)
#: Ray directions (degrees): 0 anterior, 90 the patient's left (+x), 180 posterior; none on the
#: midline (the linea alba, the back's groove).
ANGLES = 11.25 + np.arange(16) * 22.5
_SUBCUT = (int(Tissue.FAT), int(Tissue.SOFT))  # Scarpa's fascia lies inside the fat


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _slice(spine, label: str, seed: int) -> tuple[np.ndarray, RenderGrid]:
    """Middle slice of a 1 mm slab (5 slices) through ``label``'s centre."""
    c = spine.centres_mm[spine.labels.index(label)]
    grid = RenderGrid(
        (float(c[0]) - 260.0, float(c[1]) - 320.0, float(c[2]) - 2.0),
        (1.0, 1.0, 1.0),
        (5, 440, 520),
    )
    res = render_labels(spine, grid, AnatomyParams(fat_mm=FAT_MM), np.random.default_rng(seed))
    return res.tissue[2], grid


def _rays(tissue: np.ndarray, grid: RenderGrid) -> tuple[np.ndarray, list[np.ndarray]]:
    """Subcutaneous fat thickness (mm) along ANGLES from the body's centroid (skin to the first
    voxel that is neither fat nor the fascia in it) and the tissue along each ray, skin inwards."""
    body = body_mask(tissue)
    jj, ii = np.nonzero(body)
    cj, ci = jj.mean(), ii.mean()
    step = 0.25
    s = np.arange(0.0, 300.0, step)
    out, lines = [], []
    for a in np.deg2rad(ANGLES):
        j = np.rint(cj - s * np.cos(a) / grid.spacing_mm[1]).astype(int)
        i = np.rint(ci + s * np.sin(a) / grid.spacing_mm[0]).astype(int)
        ok = (j >= 0) & (j < tissue.shape[0]) & (i >= 0) & (i < tissue.shape[1])
        line = tissue[j[ok], i[ok]]
        inside = body[j[ok], i[ok]]
        skin = int(np.nonzero(~inside)[0][0]) - 1  # the first run of body from the centre
        inward = line[skin::-1]
        deep = np.nonzero(~np.isin(inward, _SUBCUT))[0]
        out.append(deep[0] * step if len(deep) else np.nan)
        lines.append(inward)
    return np.array(out), lines


def _at(values: np.ndarray, deg: float) -> float:
    return float(values[round((deg % 360.0 - 11.25) / 22.5) % 16])


def _mean_at(values: np.ndarray, *degs: float) -> float:
    return float(np.mean([_at(values, d) for d in degs]))


@pytest.fixture(scope="module")
def measured(spine):
    """Fat thickness along the rays at L1 and L4 for each seed, and L4's rays' tissues."""
    out = {}
    for seed in SEEDS:
        for label in ("L1", "L4"):
            tissue, grid = _slice(spine, label, seed)
            out[label, seed] = (*_rays(tissue, grid), tissue, grid)
    return out


def test_fat_is_thicker_over_the_posterolateral_flanks_than_over_the_anterolateral_wall(measured):
    # the old ring: the same thickness in front and at the sides, thinning towards the back
    # (posterolateral/anterolateral 0.5 here); the real example CT at L3-L5: 32-66 mm behind
    # the flanks, 12-34 mm over the anterolateral wall
    ratios = []
    for seed in SEEDS:
        t = measured["L4", seed][0]
        post = _mean_at(t, 123.75, 146.25, 213.75, 236.25)
        ant = _mean_at(t, 33.75, 56.25, 303.75, 326.25)
        ratios.append(post / ant)
    assert np.median(ratios) > 1.1
    assert min(ratios) > 0.85


def test_the_lower_belly_carries_more_front_fat_than_the_upper_abdomen(measured):
    # android fat: the front fat at L4 exceeds that at L1 (the old ring had the same thickness)
    ratios = [
        _mean_at(measured["L4", s][0], 11.25, 348.75)
        / _mean_at(measured["L1", s][0], 11.25, 348.75)
        for s in SEEDS
    ]
    assert np.median(ratios) > 1.1
    assert max(ratios) > 1.4


def test_fat_is_not_left_right_symmetric(measured):
    # the old outline was mirror-symmetric about the spine's line
    asym = []
    for seed in SEEDS:
        t = measured["L4", seed][0]
        for a in (56.25, 78.75, 101.25, 123.75):
            left, right = _at(t, a), _at(t, -a)
            asym.append(abs(left - right) / (left + right))
    assert np.mean(asym) > 0.05


def test_scarpas_fascia_splits_the_lower_abdominal_fat(measured):
    # beside the front midline at L4, skin inwards: fat, a thin fibrous line, fat, then the wall
    for seed in SEEDS:
        inward = measured["L4", seed][1][0]
        deep = np.nonzero(~np.isin(inward, _SUBCUT))[0][0]
        sub = inward[:deep]
        soft = np.nonzero(sub == int(Tissue.SOFT))[0]
        assert len(soft) > 0
        assert (sub[: soft[0]] == int(Tissue.FAT)).sum() >= 8  # >= 2 mm of fat outside it
        assert (sub[soft[-1] + 1 :] == int(Tissue.FAT)).sum() >= 8  # and inside it
        assert len(soft) * 0.25 <= 3.0  # a line, not a layer


def test_the_back_lies_flat_on_the_couch(measured, spine):
    # beside the midline groove the back's skin is straight (the old superellipse's back fell
    # away by 3-4 mm between 30 and 60 mm from the midline)
    for seed in SEEDS:
        tissue, grid = measured["L4", seed][2], measured["L4", seed][3]
        body = body_mask(tissue)
        x_s = float(spine.centres_mm[spine.labels.index("L4")][0])
        y = grid.axis_mm(1)
        backs = []
        for dx in (-60.0, -30.0, 30.0, 60.0):
            i = int(np.argmin(np.abs(grid.axis_mm(0) - (x_s + dx))))
            col = body[:, i]
            first = int(np.nonzero(col)[0][0])
            end = first + int(np.argmin(col[first:]))  # the first run (the couch lies beyond)
            backs.append(float(y[end - 1]))
        assert max(backs) - min(backs) <= 1.5
