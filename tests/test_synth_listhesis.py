"""Degenerative spondylolisthesis (spinelab.synth.generator.draw_listhesis, slip_vertebrae).

The fitted shape model puts every vertebra on a smooth centre line with its body's axis along
it, so it cannot make a slipped vertebra: a forward step of one body on the next with their
endplates parallel. In a community sample aged 40-80 scanned by CT, 12 % had a degenerative
slip (Kalichman et al., Spine 2009).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import generator
from spinelab.synth.generator import slip_vertebrae

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine, generate_with_and_without

LUMBAR = [v.name for v in anatomy.STANDARD_CHAIN]


def test_listhesis_is_drawn_at_its_prevalence_levels_and_grades():
    rng = np.random.default_rng(0)
    draws = [generator.draw_listhesis(rng, LUMBAR) for _ in range(6000)]
    slips = [d for d in draws if d]
    assert abs(len(slips) / len(draws) - generator.P_LISTHESIS) < 0.015
    assert all(len(d) == 1 for d in slips)
    levels = [next(iter(d)) for d in slips]
    assert abs(levels.count("L4") / len(levels) - generator.LISTHESIS_LEVELS["L4"]) < 0.06
    fractions = np.array([next(iter(d.values())) for d in slips])
    lo, hi = generator.LISTHESIS_GRADES[0][1], generator.LISTHESIS_GRADES[-1][2]
    assert fractions.min() >= lo and fractions.max() <= hi
    assert 0.1 < (fractions > 0.25).mean() < 0.2  # grade II in about 15 %
    cervical = [v for v in LUMBAR if anatomy.region_of(v) == "cervical"]
    assert generator.draw_listhesis(np.random.default_rng(1), cervical, p=1.0) == {}


def test_a_slip_moves_the_vertebra_and_the_spine_above_it_forward():
    spine = curved_spine()
    out = slip_vertebrae(spine, {"L4": 0.2})
    n = spine.labels.index("L4")
    shift = out.centres_mm - spine.centres_mm
    anterior = -spine.frames[n + 1][:, 1]
    expected = 0.2 * spine.body_depth_mm[n + 1] * anterior
    assert np.allclose(shift[: n + 1], expected[None, :])
    assert np.allclose(shift[n + 1 :], 0.0)
    assert np.array_equal(out.frames, spine.frames)
    assert np.linalg.norm(expected) == pytest.approx(0.2 * 34.0)
    assert out.attributes["listhesis"] == {"L4": 0.2}


def _mask_centre(case, vid: int) -> np.ndarray:
    ijk = np.argwhere(case.labels.array == vid)
    return (case.labels.affine_lps @ np.c_[ijk, np.ones(len(ijk))].T)[:3].T.mean(axis=0)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_slip_shows_in_the_rendered_label_map(seed):
    """The same case with and without its drawn slip (a side stream: everything else is drawn
    alike): the slipped vertebra's label moves against the one below by the slip."""
    cfg = {"fov": "lumbar", "spacing_mm": (1.5, 1.5, 1.5), "random_orientation": False}
    plain, slipped = generate_with_and_without(seed, ("p_listhesis",), **cfg)
    ((label, fraction),) = slipped.meta["anatomy"]["listhesis"].items()
    assert plain.meta["anatomy"]["listhesis"] == {}
    geo = slipped.geometry
    n = geo.labels.index(label)
    upper, lower = anatomy.by_name(label).verse_id, anatomy.by_name(geo.labels[n + 1]).verse_id
    anterior = -geo.frames[n + 1][:, 1]
    expected = fraction * geo.body_depth_mm[n + 1] * anterior
    step_plain = _mask_centre(plain, upper) - _mask_centre(plain, lower)
    step_slipped = _mask_centre(slipped, upper) - _mask_centre(slipped, lower)
    assert np.linalg.norm(step_slipped - step_plain - expected) < 1.5
    assert np.linalg.norm(expected) > 3.0
