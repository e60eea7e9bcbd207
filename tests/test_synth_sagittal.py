"""Mid-sagittal look of the lumbar bodies and discs: heights at the rim and the centre, flat
endplate rims with central cups, and the split of the centre-to-centre distance."""

from __future__ import annotations

import numpy as np
import pytest

from spinelab.synth import vertebra_shape as vs
from spinelab.synth.shape_model import SpineShapeModel

LUMBAR = ("L1", "L2", "L3", "L4")


def _span(
    name: str, h: float, w: float, d: float, b: float, margin: float = 1.0
) -> tuple[float, float]:
    """Lowest and highest ``e`` (mm) of the body's solid near ``a = 0`` at ``b`` (1/20 mm),
    averaged over 21 columns 0.2 mm apart (the outline is dithered by +-0.5 mm); ``e`` is
    searched up to ``margin`` beyond the body's half height."""
    body = vs.vertebra_parts(name, h, w, d, 0.0)[0][1]
    e = np.arange(-h / 2 - margin, h / 2 + margin, 0.05)
    lo, hi = [], []
    for a in np.linspace(-2.0, 2.0, 21):
        m = body(np.full_like(e, a), np.full_like(e, b), e, 0.0)
        lo.append(e[m].min())
        hi.append(e[m].max())
    return float(np.mean(lo)), float(np.mean(hi))


def test_endplates_are_flat_near_the_rim_and_cupped_centrally():
    # height lost to the endplates' cups against the rim (90 % of the way to the front wall):
    # 3.3 mm at the centre, next to nothing 70 % of the way out; the old cup (1 - rho^2 over
    # the whole endplate) still took 1.1 mm more there than at the rim
    # (heights are taken against the body's natural wedge, a tilt of both endplates, and on
    # the flat rim 80 % of the way to the front wall, inside the rounded rim's fillet)
    h, w, d = 27.0, 45.0, 34.0
    wedge = vs.body_wedge("L3")

    def height(f: float) -> float:
        lo, hi = _span("L3", h, w, d, f * d / 2)
        return hi - lo + wedge * f / 2

    rim = height(-0.8)  # the front (the posterior wall is at 0.84 of the half-depth)
    assert rim - height(0.0) > 2.6
    for side in (-1.0, 1.0):
        assert rim - height(0.7 * side) < 0.5, side


@pytest.fixture(scope="module")
def spines():
    model = SpineShapeModel.load_default()
    return [model.sample(np.random.default_rng(s), transitional=None) for s in range(60)]


def test_lumbar_body_and_disc_heights_match_published_ranges(spines):
    # lumbar bodies are 26-29 mm high at the rim (Panjabi 1992, Zhou 2000), about 0.88 of that
    # at the centre; mid-disc heights 9-13 mm; the old priors gave 25.5-26 mm bodies (rim) and
    # 22-22.6 mm centres with 12-14 mm central discs
    cups = sum(vs.ENDPLATE_CUP_MM)
    rim, disc_c = [], []
    for g in spines:
        idx = [list(g.labels).index(v) for v in LUMBAR]
        rim.append(g.body_height_mm[idx] / g.attributes["scale"])
        disc_c.append((g.disc_height_mm[idx] + cups) / g.attributes["scale"])
    rim_m, disc_m = np.mean(rim, axis=0), np.mean(disc_c, axis=0)
    assert np.all((rim_m > 26.0) & (rim_m < 29.0)), rim_m
    assert np.all(rim_m - cups > 22.8), rim_m - cups
    assert np.all((disc_m > 9.0) & (disc_m < 13.0)), disc_m
    assert disc_m[-1] > disc_m[0]  # discs grow caudally
