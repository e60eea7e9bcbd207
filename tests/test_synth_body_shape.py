"""Mid-sagittal outline of the vertebral bodies: natural wedging per level and a rounded rim
(ring apophysis) instead of square corners, on the body's part function and on a rendered
label map."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import vertebra_shape as vs
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.shape_priors import body_priors_mm
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine
from test_synth_sagittal import _span as sagittal_span

BONE_IDS = [int(t) for t in BONE]


def _body(name: str):
    h, w, d, _ = body_priors_mm([name])[0]
    return vs.vertebra_parts(name, h, w, d, 0.0)[0][1], float(h), float(w), float(d)


def _span(name: str, b: float) -> tuple[float, float]:
    """Lowest and highest ``e`` (mm) of the body's outline near ``a = 0`` at ``b``
    (:func:`test_synth_sagittal._span`, searched 4 mm beyond the half height: wedged
    endplates reach past it)."""
    _, h, w, d = _body(name)
    return sagittal_span(name, h, w, d, b, margin=4.0)


def _front(name: str, e: float) -> float:
    """Most anterior ``b`` (mm) of the body's outline near ``a = 0`` at height ``e``."""
    body, _, _, d = _body(name)
    b = np.arange(-d / 2 - 2.0, 0.0, 0.05)
    fronts = []
    for a in np.linspace(-2.0, 2.0, 21):
        m = body(np.full_like(b, a), b, np.full_like(b, e), 0.0)
        fronts.append(b[m].min() if m.any() else 0.0)
    return float(np.mean(fronts))


def _wedge(name: str) -> float:
    """Anterior minus posterior height (mm) at a quarter of the depth in front of and behind
    the centre (where the endplates' cups are equally deep), scaled to the whole depth."""
    d = _body(name)[3]
    lo_a, hi_a = _span(name, -0.25 * d)
    lo_p, hi_p = _span(name, 0.25 * d)
    return ((hi_a - lo_a) - (hi_p - lo_p)) / 0.5


def test_lumbar_bodies_are_wedged_lordotically_thoracic_ones_kyphotically():
    # L5's front about 3-4 mm taller than its back, L1 slightly the other way, thoracic bodies
    # 1-2 mm shorter in front (the old bodies were rectangles: 0 at every level)
    wedges = {n: _wedge(n) for n in ("T4", "T8", "T12", "L1", "L2", "L3", "L4", "L5")}
    assert 2.8 < wedges["L5"] < 4.5, wedges
    assert wedges["L5"] > wedges["L4"] > wedges["L3"] > wedges["L2"], wedges
    assert -2.5 < wedges["L1"] < -0.5, wedges
    for n in ("T4", "T8", "T12"):
        assert -2.8 < wedges[n] < -0.8, (n, wedges)
    # the wedge tilts the endplates about the centre: the centre's height is the prior's
    _, h, _, _ = _body("L5")
    lo, hi = _span("L5", -0.1 * body_priors_mm(["L5"])[0][2])
    assert hi - lo > h - sum(vs.ENDPLATE_CUP_MM) - 1.5


def test_body_rim_is_rounded_not_square():
    # at the anterior-superior and anterior-inferior corners the outline turns in a fillet:
    # 0.7 mm inside the rim the front wall is set back by more than 0.3 mm from where it is
    # 4 mm inside it (the old square rim, flared by the waist, stood 0.3-0.5 mm further
    # forward there instead)
    for name in ("L1", "L3", "L5"):
        d = _body(name)[3]
        bot, top = _span(name, -0.4 * d)  # the flat rim, outside the cups
        for e_rim, sgn in ((top, -1.0), (bot, 1.0)):
            f_near = _front(name, e_rim + sgn * 0.7)
            f_far = _front(name, e_rim + sgn * 4.0)
            assert f_near - f_far > 0.3, (name, sgn, f_near, f_far)


def test_fused_sacral_junction_keeps_square_endplates():
    # S1's lower and S2's upper endplates are fused (no fillet, no tilt), S1's top is rounded
    # and tilted (the sacral base)
    d = _body("S1")[3]
    lo_a, _ = _span("S1", -0.2 * d)  # the same depth of the cup either side of the centre
    lo_p, _ = _span("S1", 0.2 * d)
    assert abs(lo_a - lo_p) < 0.5, (lo_a, lo_p)
    assert _wedge("S1") > 2.0


@pytest.fixture(scope="module")
def lumbar():
    """Vertebra labels on a 1 mm grid around L4-L5 of the fixture spine, with the spine."""
    spine = curved_spine()
    c = spine.centres_mm[spine.labels.index("L5")]
    n = (80, 70, 70)
    grid = RenderGrid((c[0] - 35, c[1] - 45, c[2] - 40), (1.0, 1.0, 1.0), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, res.vertebrae, grid, spine


def _rendered_height(vert, grid, spine, name: str, b: float) -> float:
    """Height (mm) of ``name``'s label along its frame's axis at ``b``, averaged over a = -3..3."""
    n = spine.labels.index(name)
    c, fr, h = spine.centres_mm[n], spine.frames[n], float(spine.body_height_mm[n])
    vid = anatomy.by_name(name).verse_id
    e = np.arange(-h / 2 - 6.0, h / 2 + 6.0, 0.25)
    org, sp = np.array(grid.origin_mm), np.array(grid.spacing_mm)
    out = []
    for a in np.linspace(-3.0, 3.0, 7):
        p = c + a * fr[:, 0] + b * fr[:, 1] + e[:, None] * fr[:, 2]
        ijk = np.rint((p - org) / sp).astype(int)
        on = vert[ijk[:, 2], ijk[:, 1], ijk[:, 0]] == vid
        out.append(on.sum() * 0.25)
    return float(np.mean(out))


def test_rendered_l5_is_taller_in_front(lumbar):
    # on the painted label map, L5's midline is about 1.75 mm taller a quarter of the depth in
    # front of its centre than a quarter behind it, where the endplates' cups are equally deep
    # (the old rectangle: equal within a voxel)
    _tis, vert, grid, spine = lumbar
    d = float(spine.body_depth_mm[spine.labels.index("L5")])
    ant = _rendered_height(vert, grid, spine, "L5", -0.25 * d)
    post = _rendered_height(vert, grid, spine, "L5", 0.25 * d)
    assert ant - post > 1.0, (ant, post)
