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


def test_ring_is_square_in_front_everywhere_and_behind_below_t10():
    spine = curved_spine()
    plan = BodyPlan(spine, AnatomyParams())
    z_of = plan.z_of
    for label, back in (("T4", 2.0), ("T8", 2.0), ("T10", 2.7), ("T12", 2.7)):
        z = z_of[label]
        ring = render._rib_ring(plan.level(z), z, z_of, 2.7)
        assert ring.power == pytest.approx(2.7)
        assert ring.power_back == pytest.approx(back)
    z9 = z_of["T9"]
    assert 2.0 < render._rib_ring(plan.level(z9), z9, z_of, 2.7).power_back < 2.7


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
