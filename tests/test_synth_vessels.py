"""The common iliac vessels and calcified plaques (spinelab.synth.vessels).

The real example CT (TotalSegmentator, 3 mm) shows calcified plaques in front of the lumbar
spine: in the wall of the aorta at L3-L4 and in both common iliac arteries beside the sacral
promontory (3 mm voxels up to 1,397 HU); the real DICOM slab shows a calcified aortic ring at
T11-T12. The generator had neither plaques nor common iliac vessels (the aorta ended at L4's
centre, the femoral vessels began between S1 and S2, with nothing between).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth import vessels
from spinelab.synth.generator import SynthConfig, case_seed, generate_case
from spinelab.synth.realism import LIKE_REAL_EXAMPLE, vascular_calcification
from spinelab.synth.render import AnatomyParams, RenderGrid
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import centre_of, chest_grid, curved_spine, render_with_and_without


def test_plaques_are_drawn_at_their_prevalence_with_a_skewed_burden():
    rng = np.random.default_rng(0)
    draws = [vessels.draw_plaques(rng) for _ in range(3000)]
    calcified = [d for d in draws if d]
    assert abs(len(calcified) / len(draws) - vessels.P_CALCIFIED) < 0.03
    counts = np.array([len(d) for d in calcified])
    assert counts.min() == 1 and np.median(counts) < counts.mean()  # few plaques in most
    assert counts.max() > 0.8 * vessels.PLAQUES_MAX
    every = [p for d in calcified for p in d]
    aorta = [p.t for p in every if p.vessel == "abdominal"]
    assert 0.4 < len(aorta) / len(every) < 0.5
    assert np.mean(aorta) > 0.6  # more towards the bifurcation
    for p in every:
        assert 0.0 <= p.t <= 1.0 and -math.pi <= p.angle <= math.pi
        assert vessels.PLAQUE_LENGTH_MM[0] <= p.length_mm <= vessels.PLAQUE_LENGTH_MM[2]
        assert vessels.PLAQUE_THICK_MM[0] <= p.thick_mm <= vessels.PLAQUE_THICK_MM[1]
    assert vessels.draw_plaques(np.random.default_rng(1), p=0.0) == ()


@pytest.fixture(scope="module")
def pelvis_maps():
    """L4 to S2 of the fixture spine on a 1.5 mm grid over the abdomen's cross-section, with a
    heavy burden of plaques, and the same without them."""
    spine = curved_spine()
    c = spine.centres_mm
    z_top = centre_of(spine, "L4")[2] + 20.0
    z_bot = centre_of(spine, "S2")[2] - 10.0
    sp = 1.5
    n = (int((z_top - z_bot) / sp) + 1, int(300 / sp), int(330 / sp))
    grid = RenderGrid((-165.0, float(c[:, 1].mean()) - 230.0, z_bot), (sp,) * 3, n)
    rng = np.random.default_rng(3)
    plaques = ()
    while len(plaques) < 25:
        plaques = vessels.draw_plaques(rng, p=1.0)
    without, with_p = render_with_and_without(
        spine, grid, AnatomyParams(bowel_gas=4), plaques=plaques
    )
    return spine, with_p, without


def _blood_sections(res, z: float, x0: float, y_max: float, half_mm: float):
    """Blood sections (areas mm2, x of their centres mm) on the slice nearest ``z``, within
    ``half_mm`` of ``x0`` and in front of ``y_max``."""
    g = res.grid
    k = int(np.argmin(np.abs(g.axis_mm(2) - z)))
    x, y = g.axis_mm(0), g.axis_mm(1)
    box = (np.abs(x - x0)[None, :] < half_mm) & (y < y_max)[:, None]
    pieces, n = ndi.label((res.tissue[k] == Tissue.BLOOD) & box)
    area = g.spacing_mm[0] * g.spacing_mm[1]
    out = []
    for i in range(1, n + 1):
        jj, ii = np.nonzero(pieces == i)
        out.append((len(jj) * area, float(x[ii].mean())))
    return out


def test_common_iliac_vessels_run_from_the_bifurcation_to_the_pelvic_brim(pelvis_maps):
    """Blood in front of L5's centre on both sides of the midline (old design: the vena
    cava's end on the right alone; the aorta ended at L4's centre), and at S1's centre 25-50
    mm to either side, in front of the sacrum (old design: none; the femoral vessels began
    lower)."""
    spine, res, _ = pelvis_maps
    l5, s1 = centre_of(spine, "L5"), centre_of(spine, "S1")
    front_l5 = l5[1] - 17.0  # the fixture's lumbar bodies are 34 mm deep
    artery = np.pi * vessels.COMMON_ILIAC_ARTERY_R_MM**2
    for z, (x0, y_max), (near, far) in (
        (l5[2], (l5[0], front_l5 + 5.0), (10.0, 50.0)),
        (s1[2], (s1[0], s1[1]), (25.0, 50.0)),
    ):
        sections = _blood_sections(res, z, x0, y_max, far + 10.0)
        for side in (1.0, -1.0):
            area = sum(a for a, x in sections if near < side * (x - x0) < far)
            assert area > 0.7 * artery, (z, side, sections)


def test_plaques_lie_in_the_arteries_rims_and_nowhere_else(pelvis_maps):
    _, res, without = pelvis_maps
    plaque = res.tissue == Tissue.PLAQUE
    assert plaque.sum() > 50
    assert not (without.tissue == Tissue.PLAQUE).any()
    assert not (plaque & (res.vertebrae > 0)).any()
    # painted over blood only: elsewhere the two maps agree
    changed = res.tissue != without.tissue
    assert np.array_equal(changed, plaque)
    assert (without.tissue[plaque] == Tissue.BLOOD).all()
    # at the rim: plaque voxels lie within a plaque's thickness (and a voxel) of what is
    # neither blood nor plaque, not inside the lumen (where the iliac arteries start inside
    # the aorta's end, or vessels touch)
    outside = ~np.isin(res.tissue, (Tissue.BLOOD, Tissue.PLAQUE))
    depth = ndi.distance_transform_edt(~outside, sampling=res.grid.spacing_mm[::-1])
    assert np.percentile(depth[plaque], 99) <= vessels.PLAQUE_THICK_MM[1] + 1.5


def _like_real(seed: int, p: float):
    cfg = SynthConfig(fov="thoracolumbar", **{**LIKE_REAL_EXAMPLE, "p_calcified": p})
    case = generate_case(case_seed(0, seed), cfg)
    return vascular_calcification(case.ct.array, case.labels.array, case.ct.affine_lps, 22, 26)


@pytest.fixture(scope="module")
def like_real_spots():
    """The measure on four like-real cases made calcified (seeds 2, 6, 9, 10: 3 to 23 spots
    on 2026-12-05), and on one made without plaques."""
    return [_like_real(s, 1.0) for s in (2, 6, 9, 10)], [_like_real(2, 0.0)]


def test_calcified_plaques_show_as_bright_spots_in_front_of_the_spine(like_real_spots):
    """Isolated spots over 300 HU in front of L3-S1 (``vascular_calcification``): none
    without plaques (so none in the old design), some in every calcified case, some as dense
    as the real CT's."""
    calcified, plain = like_real_spots
    assert all(m.spots == 0 for m in plain)
    assert all(m.spots >= 1 for m in calcified)
    assert max(m.max_hu for m in calcified) > 1000.0


def test_the_real_ct_has_as_many_calcified_spots_as_the_calcified_cases(
    like_real_spots, real_example
):
    """The real example CT: 9 spots, 891 mm3, 1,397 HU at most (2026-12-05); its count and
    volume lie within the calcified cases' range."""
    calcified, _ = like_real_spots
    ct, lab = real_example
    real = vascular_calcification(ct.array, lab.array, ct.affine_lps, 29, 26)  # L3, S1
    assert real.spots >= 5 and real.max_hu > 1000.0
    spots = [m.spots for m in calcified]
    volume = [m.volume_mm3 for m in calcified]
    assert min(spots) <= real.spots <= max(spots)
    assert min(volume) <= real.volume_mm3 <= max(volume)


def test_the_thoracic_aorta_gets_its_plaques_too():
    """Plaques drawn in the descending thoracic aorta (painted by the mediastinum's tubes)
    land in its blood on a T8-T11 grid, and nowhere else."""
    spine = curved_spine()
    grid = chest_grid(
        spine, centre_of(spine, "T8")[2] + 10.0, centre_of(spine, "T11")[2] - 10.0, sp=2.0
    )
    plaques = tuple(
        vessels.Plaque("descending", t, 12.0, a, 0.8, 1.8)
        for t, a in zip(np.linspace(0.4, 0.95, 6), np.linspace(-2.5, 2.5, 6), strict=True)
    )
    plain, res = render_with_and_without(spine, grid, plaques=plaques)
    plaque = res.tissue == Tissue.PLAQUE
    assert plaque.sum() > 20
    assert np.array_equal(res.tissue != plain.tissue, plaque)
    assert (plain.tissue[plaque] == Tissue.BLOOD).all()
