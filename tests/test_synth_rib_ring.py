"""The ribs' ring (``body.RibRing``, ``render._rib_ring``) and a rib's course round it
(``render._rib_course``): geometry only, no painting."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import render
from spinelab.synth.body import BodyPlan, RibRing
from spinelab.synth.render import AnatomyParams

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.mark.parametrize("power,back", [(2.0, 2.0), (2.6, 2.0), (3.0, 2.4)])
def test_ring_points_lie_on_the_ring_and_phi_at_inverts_them(power, back):
    ring = RibRing(3.0, -40.0, 120.0, 80.0, power, back)
    phis = np.linspace(0.0, math.pi, 37)
    for side in (1.0, -1.0):
        x, y = ring.point(side, phis)
        assert np.allclose(ring.rho(x, y), 1.0)
        assert np.all((x - ring.cx) * side >= -1e-9)
        # behind the centre (y > cy, LPS) up to the side, then in front
        assert np.all(y[phis < math.pi / 2 - 1e-6] > ring.cy)
        assert np.all(y[phis > math.pi / 2 + 1e-6] < ring.cy)
    for dx in (5.0, 40.0, 90.0):
        x, y = ring.point(1.0, ring.phi_at(dx))
        assert x - ring.cx == pytest.approx(dx)
        assert ring.y_behind(dx) == pytest.approx(y)
        grown = ring.grown(10.0)
        assert (grown.hw, grown.hd) == (ring.hw + 10.0, ring.hd + 10.0)
        assert grown.y_behind(dx) > ring.y_behind(dx)


def test_ring_inside_shrinks_by_the_margin():
    ring = RibRing(0.0, 0.0, 120.0, 80.0, 2.8, 2.2)
    inside = ring.inside(5.0)
    assert inside(114.0, 0.0) and not inside(116.0, 0.0)
    assert inside(0.0, 74.0) and not inside(0.0, 76.0)
    assert not RibRing(0.0, 0.0, 4.0, 80.0).inside(5.0)(0.0, 0.0)


def test_ring_is_square_in_front_everywhere_and_deep_and_flat_behind_below_t10():
    """Below T10's centre the ring's back lies RIB_RING_BACK_MM further back than the rib
    ellipse's and is a flatter superellipse (the paravertebral gutters); from T8's centre up
    it is the ellipse's, where the scapulae lie on it. The front stays where it was."""
    spine = curved_spine()
    plan = BodyPlan(spine, AnatomyParams())
    z_of = plan.z_of
    back_power = render.RIB_RING_BACK_POWER
    for label, back, deeper in (
        ("T4", 2.0, 0.0),
        ("T8", 2.0, 0.0),
        ("T10", back_power, render.RIB_RING_BACK_MM),
        ("T12", back_power, render.RIB_RING_BACK_MM),
    ):
        z = z_of[label]
        lv = plan.level(z)
        ring = render._rib_ring(lv, z, z_of, 2.7)
        assert ring.power == pytest.approx(2.7)
        assert ring.power_back == pytest.approx(back)
        _, cy, _, hd = render._thorax_ellipse(lv)
        assert ring.cy - ring.hd == pytest.approx(cy - hd)
        assert ring.cy + ring.hd == pytest.approx(cy + hd + deeper)
    z9 = z_of["T9"]
    assert 2.0 < render._rib_ring(plan.level(z9), z9, z_of, 2.7).power_back < back_power


def test_a_ribs_course_keeps_its_length_and_heights():
    """Round a wider, squarer ring the rib is as long as along its level's ellipse
    RIB_DROP_INSET_MM inside the fat, falls as far, and ends further back round the ring."""
    ring = RibRing(0.0, -40.0, 125.0, 85.0, 2.8, 2.8)
    tub = np.array([30.0, 40.0, 100.0])
    frac_end = 0.72
    phi_end, phis, zs = render._rib_course(ring, tub, 1.0, frac_end, 9, 12, 60.0)
    cx, cy, hw, hd = ring.axes
    ell = RibRing(cx, cy, hw - (render.RIB_DROP_INSET_MM - render.RIB_RING_SIDE_INSET_MM), hd)
    phis_e = np.linspace(ell.phi_at(tub[0] - cx), math.pi * frac_end, 40)
    xe, ye = ell.point(1.0, phis_e)
    length_e = render._run_from(tub, xe, ye)[-1]
    drop_e = render._rib_fall(xe, ye, tub, phis_e, 9, 12, 60.0)[-1]
    x, y = ring.point(1.0, phis)
    assert render._run_from(tub, x, y)[-1] == pytest.approx(length_e, rel=0.01)
    assert tub[2] - zs[-1] == pytest.approx(drop_e, rel=0.01)
    assert np.all(np.diff(zs) <= 1e-9)
    assert phis[0] == pytest.approx(ring.phi_at(tub[0] - cx))
    assert phi_end < math.pi * frac_end


def _slopes_deg(xs, ys, tub, drop):
    s = render._run_from(tub, xs, ys)
    return np.degrees(np.arctan(np.diff(drop) / np.diff(s)))


@pytest.mark.parametrize("total", [90.0, 120.0])
def test_a_lower_ribs_drop_ends_at_its_total_and_gathers_at_the_side(total):
    """The 7th-10th ribs: the whole drop at the front end, gently down behind (at least
    RIB_BACK_SLOPE_DEG), RIB_SIDE_SLOPE_DEG from the side on where the drop allows it."""
    ell = RibRing(0.0, -40.0, 118.0, 85.0)
    tub = np.array([35.0, 30.0, 100.0])
    phis = np.linspace(ell.phi_at(tub[0]), math.pi * 0.67, 40)
    xs, ys = ell.point(1.0, phis)
    drop = render._rib_drop(xs, ys, tub, phis, total)
    assert drop[-1] == pytest.approx(total)
    assert np.all(np.diff(drop) >= 0.0)
    sl = _slopes_deg(xs, ys, tub, drop)
    mid = 0.5 * (phis[1:] + phis[:-1]) / math.pi
    s = render._run_from(tub, xs, ys)
    ramped = 0.5 * (s[1:] + s[:-1]) > render.RIB_SLOPE_RAMP_MM
    back = sl[(mid < render.RIB_STEEP_PHI[0]) & ramped]
    side = sl[mid > render.RIB_STEEP_PHI[1]]
    assert back.size and side.size
    assert np.all(back >= render.RIB_BACK_SLOPE_DEG - 0.5)
    assert np.all(side > back.max() + 15.0)
    if total == 120.0:  # enough drop for the full slope at the side
        assert side == pytest.approx(render.RIB_SIDE_SLOPE_DEG, abs=0.5)
        assert back.max() > render.RIB_BACK_SLOPE_DEG + 1.0
    else:  # the back at its floor, the side less steep
        assert back == pytest.approx(render.RIB_BACK_SLOPE_DEG, abs=0.5)
        assert np.all(side < render.RIB_SIDE_SLOPE_DEG)


def test_floating_ribs_fall_evenly_to_their_total():
    ell = RibRing(0.0, -40.0, 118.0, 85.0)
    tub = np.array([40.0, 35.0, 0.0])
    phis = np.linspace(ell.phi_at(tub[0]), math.pi * 0.22, 20)
    xs, ys = ell.point(1.0, phis)
    drop = render._rib_fall(xs, ys, tub, phis, 12, 12, 33.0)
    assert drop[-1] == pytest.approx(33.0)
    s = render._run_from(tub, xs, ys)
    sl = _slopes_deg(xs, ys, tub, drop)[0.5 * (s[1:] + s[:-1]) > render.RIB_SLOPE_RAMP_MM]
    assert sl.size and np.ptp(sl) < 0.5


def test_lower_rib_ends_lie_their_levels_below_their_vertebrae():
    """The 7th-12th ribs' front ends: RIB_END_LEVELS_BELOW (and the floating ribs') levels
    below their own vertebra's centre along the chain: the 7th-11th each lower than the one
    above, the short 12th's tip above the 11th's (on the real example CT L1+0.20 against
    L1+0.73-0.81)."""
    spine = curved_spine()
    zc = spine.centres_mm[:, 2]
    ends = []
    for num, below in [(7, 5.0), (8, 4.65), (9, 4.05), (10, 3.45), (11, 2.65), (12, 1.35)]:
        n = spine.labels.index(f"T{num}")
        z_tub = float(zc[n]) + 2.0
        drop = render._rib_end_drop(spine, n, num, 12, z_tub)
        k = int(below)
        want = zc[n + k] + (below - k) * (zc[n + k + 1] - zc[n + k])
        assert z_tub - drop == pytest.approx(want)
        ends.append(z_tub - drop)
    assert np.all(np.diff(ends[:5]) < 0.0) and ends[5] > ends[4]
    # with a T13 the floating pair is the 12th and 13th; the 11th ends as the 10th does
    t13 = curved_spine(transitional="T13")
    n11 = t13.labels.index("T11")
    d11 = render._rib_end_drop(t13, n11, 11, 13, float(t13.centres_mm[n11, 2]))
    zc13 = t13.centres_mm[:, 2]
    want = zc13[n11 + 3] + 0.45 * (zc13[n11 + 4] - zc13[n11 + 3])
    assert float(t13.centres_mm[n11, 2]) - d11 == pytest.approx(want)
