"""Shape of the diaphragm's domes under the lung bases (``spinelab.synth.organs.lung_floor``).

Measured on the tissue map of the hand-built test spine at 2 mm (ribs, the lungs' vessels and
the mediastinum's tubes left out, so the lung's lowest voxel in every column is the diaphragm's
height there). Anatomy (Gray's Anatomy 41st
ed.; Moore's Clinically Oriented Anatomy 8th ed.; chest radiograph and CT norms): each
hemidiaphragm is a smooth dome in coronal and sagittal section, highest near the
mid-clavicular line, curving down laterally into a deep, sharp costophrenic recess and
medially to the central tendon under the heart; posteriorly the recesses reach T12-L1 beside
the spine, so a coronal section through the vertebral bodies shows two rounded domes with the
lungs running down both along the spine and along the lateral wall.

The old design (a flat floor at the dome's height over the whole section, dropping only
within 14-24 mm of the wall) made flat-topped boxes: in the coronal section through the right
dome 72 mm of constant height beside a 32 mm cliff, through the vertebral bodies a flat top
over 80% of the width, sagittally 130 mm of constant height.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from spinelab.synth import render
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine, render_t5_l4

Profile = tuple[NDArray[np.float64], NDArray[np.float64]]


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


@pytest.fixture(scope="module")
def floor(spine):
    """Height of the lung's floor (mm) for every (y, x) column that is lung 10 mm above T9's
    centre (above both domes), NaN elsewhere; with the grid's axes."""
    with pytest.MonkeyPatch.context() as mp:
        # the lung's own vessels and the mediastinum's tubes (the descending aorta in the
        # left paravertebral gutter) take lung voxels too: left out, like the ribs
        mp.setattr(render, "_paint_ribs", lambda *a, **k: None)
        mp.setattr(render.lung_vessels, "paint_lung_vessels", lambda *a, **k: [])
        mp.setattr(render.mediastinum, "paint_mediastinum", lambda *a, **k: None)
        res = render_t5_l4(spine)
    g = res.grid
    x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
    kp = int(np.argmin(np.abs(z - (_centre(spine, "T9")[2] + 10.0))))
    lung = res.tissue[: kp + 1] == Tissue.LUNG
    h = z[np.argmax(lung, axis=0)] - 0.5 * g.spacing_mm[2]  # below the lowest lung voxel
    h[~lung[kp]] = np.nan
    return h, x, y


def _centre(spine, label: str):
    return spine.centres_mm[spine.labels.index(label)]


def _lung(floor, spine, side: float) -> tuple[float, float, float]:
    """Centre (x, y) and half-depth (mm) of one lung's section above the domes."""
    h, x, y = floor
    half = (x - _centre(spine, "T11")[0]) * side > 0
    jj, ii = np.nonzero(~np.isnan(h) & half[None, :])
    return float(x[ii].mean()), float(y[jj].mean()), float(np.ptp(y[jj]) / 2)


def _coronal(floor, spine, side: float, y_mm: float) -> Profile:
    """The floor's heights across one lung in the coronal plane ``y_mm``, medial to lateral."""
    h, x, y = floor
    row = h[int(np.argmin(np.abs(y - y_mm)))]
    ok = ~np.isnan(row) & ((x - _centre(spine, "T11")[0]) * side > 0)
    order = np.argsort(np.abs(x[ok] - _centre(spine, "T11")[0]))
    return np.abs(x[ok] - _centre(spine, "T11")[0])[order], row[ok][order]


def _longest_run(h: NDArray[np.float64], step: float) -> float:
    """Longest stretch (mm) of neighbouring columns at the same height (a plateau)."""
    best = run = 1
    for a, b in itertools.pairwise(h):
        run = run + 1 if abs(a - b) < 0.5 else 1
        best = max(best, run)
    return best * step


def _top(h: NDArray[np.float64]) -> int:
    """Index of the middle of the columns at the profile's greatest height."""
    at = np.flatnonzero(h >= h.max() - 0.5)
    return int(at[at.size // 2])


def _concave(h: NDArray[np.float64], gap: int, tol: float) -> bool:
    """Every point lies at least on the chord between the points ``gap`` columns either side
    (less ``tol`` mm): a dome, no plateau beside a step."""
    if h.size <= 2 * gap:
        return True
    mid = 0.5 * (h[: -2 * gap] + h[2 * gap :])
    return bool(np.all(h[gap:-gap] >= mid - tol))


@pytest.mark.parametrize("side", [-1.0, 1.0], ids=["right", "left"])
def test_domes_are_rounded_in_the_plane_of_the_vertebral_bodies(floor, spine, side):
    """Coronal section through the vertebral bodies: the lung runs down along the spine (the
    paravertebral gutter) and along the lateral wall (the costophrenic recess), 35 mm or more
    below the dome's top between them (40 mm before the crura filled the side of the vertebral
    body's front half at T11, organs.LUNG_TENDON_VY: the gutter is deepest behind this plane);
    the top is rounded (no more than 20 mm of constant height, within 2 mm of the top over at
    most 40% of the width) and each side descends
    steadily from it. Old design: 70-80 mm of constant height, 80% of the width at the top."""
    d, h = _coronal(floor, spine, side, _centre(spine, "T11")[1])
    # between the bottom of the gutter (medial third) and of the recess (lateral third); the
    # columns beside the vertebral bodies are partly bone lower down
    n = h.size
    i0, i1 = int(np.argmin(h[: n // 3])), 2 * n // 3 + int(np.argmin(h[2 * n // 3 :]))
    d, h = d[i0 : i1 + 1], h[i0 : i1 + 1]
    width = d[-1] - d[0]
    top = _top(h)
    assert 0.15 * width < d[top] - d[0] < 0.85 * width
    assert h[top] - h[0] > 35.0 and h[top] - h[-1] > 35.0
    assert _longest_run(h, 2.0) <= 20.0
    assert np.mean(h >= h[top] - 2.0) < 0.4
    # each side descends steadily from the top (2 mm of voxel steps allowed)
    assert np.all(np.diff(h[top:]) <= 2.0) and np.all(np.diff(h[: top + 1]) >= -2.0)
    assert _concave(h, 4, 4.0)


def test_right_dome_is_rounded_through_its_top(floor, spine):
    """Coronal section through the right dome's top (in front of the lung's centre): highest
    in the middle of the lung, falling by 3-30 mm halfway to the lateral wall and by 50 mm or
    more into the costophrenic recess, no more than 32 mm of constant height, concave (a dome).
    Old design: the floor 8 mm below its highest point over 72 mm, then a 32 mm cliff 10 mm
    from the wall."""
    _, yc, hd = _lung(floor, spine, -1.0)
    d, h = _coronal(floor, spine, -1.0, yc - 0.2 * hd)
    top = _top(h)
    lat = top + int(np.argmin(h[top:]))  # the costophrenic angle
    assert 0.2 < (d[top] - d[0]) / (d[-1] - d[0]) < 0.8
    assert h[top] - h[lat] > 50.0
    mid = int(np.argmin(np.abs(d - 0.5 * (d[top] + d[lat]))))
    assert 3.0 < h[top] - h[mid] < 30.0
    assert _longest_run(h, 2.0) <= 32.0
    assert np.all(np.diff(h[top : lat + 1]) <= 0.0)
    assert _concave(h[: lat + 1], 4, 4.0)


@pytest.mark.parametrize("side", [-1.0, 1.0], ids=["right", "left"])
def test_domes_fall_smoothly_into_the_posterior_recess(floor, spine, side):
    """Sagittal section through the lung's middle: the top lies in the front half of the
    lung's depth and the floor falls steadily behind it (by 5 mm or more halfway to the
    recess, no more than 50 mm of constant height: a top rounded over a radius of about
    100 mm gives about 40 mm within one 2-mm voxel) to the posterior recess 60 mm or more
    below the top. Old design: flat (within 2 mm) from the front to 12 mm from the posterior
    wall, 130 mm of constant height."""
    h_map, x, y = floor
    xc, yc, _ = _lung(floor, spine, side)
    col = h_map[:, int(np.argmin(np.abs(x - xc)))]
    ok = ~np.isnan(col)
    yy, h = y[ok], col[ok]
    rec = int(np.argmin(h))  # the deepest point of the posterior recess
    yy, h = yy[: rec + 1], h[: rec + 1]
    top = _top(h)
    assert yy[top] < yc
    assert h[top] - h[-1] > 60.0
    mid = int(np.argmin(np.abs(yy - 0.5 * (yy[top] + yy[-1]))))
    assert h[top] - h[mid] > 5.0
    assert _longest_run(h, 2.0) <= 50.0
    assert np.all(np.diff(h[top:]) <= 2.0)
