"""Packing of the small-bowel loops (spinelab.synth.bowel): crowded loops, thin fat planes.

Measured on the real CT (TotalSegmentator example, axial 3 mm slices L3-L5, abdominal cavity
in front of the spine): the non-fat regions are many (about 5 per 100 cm^2) and small (median
inscribed diameter 12 mm), loops pressed together are parted by thin planes of mesenteric fat.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from spinelab.synth import bowel

sys.path.insert(0, str(Path(__file__).parent))
from test_synth_bowel import BOWEL, _cavity_slices


def test_loop_sections_are_many(abdomen):
    """At L3-L5 the cavity holds many separate bowel sections (area 72 mm^2 and more): more
    than 4.3 per 100 cm^2. When the bound was set (at 5.1) the generator gave 5.4 and a design
    whose loops merged where they pressed together 4.8; before the mesenteric fan
    (``bowel.MESENTERIC_FAN_MM``, 2026-12-05) 6.2, with it 4.7: the fan's fat takes part of
    the cavity from the loops. The real CT, counted on its HU (non-fat regions of 72 mm^2 and
    more, 30 mm or more inside the skin, more than 25 mm in front of the vertebral bodies):
    3.7 per 100 cm^2; eight generated cases made as it, 4.0 before the fan, 3.7 with it."""
    spine, res = abdomen
    n, area_cm2, diam = 0, 0.0, []
    for sl, cav in _cavity_slices(spine, res):
        loops = np.isin(sl, BOWEL) & cav
        lab, k = ndi.label(loops)
        idx = np.arange(1, k + 1)
        size = ndi.sum_labels(np.ones_like(lab), lab, idx)
        peak = ndi.maximum(ndi.distance_transform_edt(loops, sampling=2.0), lab, idx)
        keep = size >= 18
        n += int(keep.sum())
        area_cm2 += cav.sum() * 0.04
        diam += list(2.0 * peak[keep])
    assert 100.0 * n / area_cm2 > 4.3
    assert 12.0 < np.median(diam) < 26.0  # loop sections, not slivers


def _field(line: np.ndarray, radius: float) -> tuple[np.ndarray, bowel.BowelField]:
    """Tube fields of a centre line on a bare coarse grid around it."""
    lo, hi = line.min(axis=0) - 40.0, line.max(axis=0) + 40.0
    fine = (np.arange(lo[0], hi[0], 1.0), np.arange(lo[1], hi[1], 1.0))
    bf = object.__new__(bowel.BowelField)
    bf.small = bowel._Coarse(lo, hi, bowel.STEP_MM, fine)
    m = len(line)
    out = bf._tube_fields(line, np.full(m, radius), np.zeros(m), np.zeros(m))
    return out, bf


def test_fat_plane_between_hairpin_limbs_not_within_a_loop():
    """The separation field puts a plane half-way between the two limbs of a hairpin bend
    (two loops pressed together) and none along a single loop, however it curves: a tube stays
    continuous."""
    r = 11.0
    # two straight limbs along x, axes 18 mm apart (walls overlapping by 4 mm), joined by a
    # half circle: samples every 2 mm
    s = np.arange(0.0, 120.0, 2.0)
    a = np.stack([s, np.zeros_like(s), np.zeros_like(s)], axis=1)
    t = np.linspace(0.0, math.pi, 15)[1:-1]
    bend = np.stack([120.0 + 9.0 * np.sin(t), 9.0 - 9.0 * np.cos(t), 0.0 * t], axis=1)
    b = np.stack([s[::-1], np.full_like(s, 18.0), np.zeros_like(s)], axis=1)
    out, bf = _field(np.concatenate([a, bend, b]), r)
    g = bf.small

    def ix(v: float, d: int) -> int:
        return round((v - g.origin[d]) / g.step)

    k = ix(0.0, 2)
    # half-way between the limbs (y = 9), along their straight part: inside both tubes, on
    # the plane
    mid = [out[3][k, ix(9.0, 1), ix(x, 0)] for x in (40, 60, 80)]
    assert max(abs(v) for v in mid) < 2.5
    # on each limb's axis: far from any plane (more than the plane and the wall)
    for y in (0.0, 18.0):
        on_axis = [out[3][k, ix(y, 1), ix(x, 0)] for x in (40, 60, 80)]
        assert min(on_axis) > 6.0
    # a single straight loop: no plane anywhere inside it
    out1, _ = _field(a, r)
    inside = out1[0] < 0.0
    assert inside.sum() > 50
    assert out1[3][inside].min() >= bowel.SEPARATION_MAX_MM - 1e-3
