"""The pelvis's midline below the bowel (spinelab.synth.pelvic_soft): the rectum runs on in front
of the sacrum to the anal canal; behind the lower sacrum lies fat, not the back's muscle.

Before: the bowel, the rectum included, stopped 70 mm below S2's centre; the levator funnel was
soft tissue to the sacrum under a flat top; the body wall's muscle filled the midline behind the
sacrum and coccyx down to the perineum (a grey block on sagittal views; real: fat and fascia
over the bones, the glutei arising from their sides).
"""

from __future__ import annotations

import numpy as np
import pytest

from spinelab.synth import generator, pelvic_soft
from spinelab.synth.generator import generate_case
from spinelab.synth.pelvis import hip_centres_mm
from spinelab.synth.render import BOWEL_BELOW_S2_MM
from spinelab.synth.tissues import Tissue
from synth_spine_fixture import hips_config

SEEDS = (0, 3, 4)


@pytest.fixture(scope="module")
def cases():
    """Per seed: the fine tissue map and its grid, the geometry, the body scale and the
    rectum's centres ``(z, x, y, r)`` where it was painted."""
    got = []
    tubes: list[tuple[float, float, float, float]] = []
    render = generator.render_labels
    paint = pelvic_soft.PelvicSoftTissue.paint_anorectum

    def spy(*args, **kwargs):
        got.append(render(*args, **kwargs))
        return got[-1]

    def spy_tube(self, pt, k, z, top):
        at = self.anorectum(z, top)
        if at is not None:
            tubes.append((z, *at))
        paint(self, pt, k, z, top)

    out = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(generator, "render_labels", spy)
        mp.setattr(pelvic_soft.PelvicSoftTissue, "paint_anorectum", spy_tube)
        for seed in SEEDS:
            tubes.clear()
            case = generate_case(seed, hips_config())
            scale = float(case.meta["anatomy"]["body_scale"])
            out.append((got[-1], case.geometry, scale, list(tubes)))
    return out


def test_the_anorectum_keeps_in_front_of_the_sacrum_and_narrows():
    hips = np.array([[-90.0, -30.0, -400.0], [90.0, -30.0, -400.0]])
    zs = np.array([-390.0, -360.0, -330.0, -300.0])
    front = np.array([-5.0, 15.0, 20.0, 10.0])
    p = pelvic_soft.PelvicSoftTissue(hips, 1.0, np.random.default_rng(0), (zs, front))
    top = (-300.0, 0.0)
    assert p.anorectum(-299.0, top) is None  # above: the bowel's
    path = [p.anorectum(z, top) for z in np.arange(-300.0, -484.0, -3.0)]
    assert all(q is not None for q in path)
    arj = -400.0 + pelvic_soft.ANORECTAL_DZ_MM
    radii = [q[2] for q in path]
    assert radii[0] == pytest.approx(pelvic_soft.RECTUM_R_MM)
    assert radii[-1] == pytest.approx(pelvic_soft.ANAL_R_MM)
    assert np.all(np.diff(radii) <= 1e-9)
    for z, (x, y, r) in zip(np.arange(-300.0, -484.0, -3.0), path, strict=True):
        assert x == 0.0
        if z >= arj:  # the rectum's back stays PRESACRAL_MM in front of the bone
            assert y + r <= np.interp(z, zs, front) - pelvic_soft.PRESACRAL_MM + 1e-9
    assert p.anorectum(-400.0 + pelvic_soft.ANAL_END_DZ_MM - 1.0, top) is None


def test_the_rectum_runs_on_below_the_bowel(cases):
    """Every fine slice from the bowel's lowest down to the anorectal junction shows the
    rectum: soft tissue at its centre (not painted over: a full bladder is dented by it), in
    front of the sacrum's front by PRESACRAL_MM."""
    for res, geo, scale, tubes in cases:
        g = res.grid
        x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
        hz = hip_centres_mm(geo, scale).mean(axis=0)
        z_top = geo.centres_mm[geo.labels.index("S2")][2] - BOWEL_BELOW_S2_MM
        z_arj = hz[2] + pelvic_soft.ANORECTAL_DZ_MM * scale
        ks = np.flatnonzero((z < z_top) & (z > z_arj))
        assert len(ks) > 10
        at = {round(t[0], 3): t[1:] for t in tubes}
        zs, front = pelvic_soft.sacrum_front(geo)
        for k in ks:
            xc, yc, r = at[round(float(z[k]), 3)]
            i = int(np.argmin(np.abs(x - xc)))
            assert res.tissue[k, int(np.argmin(np.abs(y - yc))), i] == Tissue.SOFT
            assert yc + r <= np.interp(z[k], zs, front) - pelvic_soft.PRESACRAL_MM + 1e-6


def test_fat_not_muscle_behind_the_lower_sacrum(cases):
    """On the midline behind the coccyx's front, from 90 mm below S2's centre to 20 mm below
    the hip centres: fat (and the bones), at most a tenth muscle; the old code: all muscle."""
    for res, geo, scale, _ in cases:
        g = res.grid
        x, y, z = g.axis_mm(0), g.axis_mm(1), g.axis_mm(2)
        zs, front = pelvic_soft.sacrum_front(geo)
        hz = hip_centres_mm(geo, scale).mean(axis=0)
        z_s2 = geo.centres_mm[geo.labels.index("S2")][2]
        ii = np.abs(x - hz[0]) < 8.0
        muscle, total = 0, 0
        for k in np.flatnonzero((z < z_s2 - 90.0) & (z > hz[2] - 20.0)):
            sl = res.tissue[k][:, ii]
            behind = y > np.interp(z[k], zs, front)
            body = behind[:, None] & (sl != Tissue.AIR)
            muscle += int((body & (sl == Tissue.MUSCLE)).sum())
            total += int(body.sum())
        assert total > 500
        assert muscle / total < 0.1, muscle / total


def test_small_bowel_loops_turn_above_the_bowels_lower_limit(monkeypatch):
    """Where the field of view reaches the lesser pelvis, no small-bowel loop reaches the
    bowel's lower limit (they turn above an uneven floor, ``bowel.SMALL_BOWEL_FLOOR_MM``): the
    coarse nodes up to 1 mm above the limit lie outside every loop. Before, 700-1,600 of them per
    case lay inside loops cut flat there."""
    from spinelab.synth import bowel

    got = []
    init = bowel.BowelField.__init__

    def spy(self, x, y, z, rng, fat, gas, z_lo, *args, **kwargs):
        init(self, x, y, z, rng, fat, gas, z_lo, *args, **kwargs)
        got.append((self.small.axes[2].copy(), self.small.fields[:, 0].copy(), z_lo))

    monkeypatch.setattr(bowel.BowelField, "__init__", spy)
    for seed in (0, 4):
        generate_case(seed, hips_config())
        za, tube, z_lo = got[-1]
        low = za < z_lo + 1.0
        assert low.sum() >= 1
        assert tube[low].min() > 0.0
