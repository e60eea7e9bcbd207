"""The head (spinelab.synth.head) on rendered label maps of the fixture spine: soft tissue
round the skull, the cranial floor with the clivus, the air spaces of the face, the teeth.

The head used to be an ellipsoidal shell of bone in air, cut flat at its base and closed by a
flat plate, with the jaw's soft tissue up to 35 mm above C1 in front of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth.head import (
    BASION_MM,
    DORSUM_MM,
    MAXILLARY_SINUS_MM,
    MIDDLE_FOSSA_MM,
    Head,
    cranial_floor,
)
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

_BONE = [int(t) for t in BONE]


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def _render(spine, origin, shape):
    grid = RenderGrid(tuple(origin), (1.0, 1.0, 1.0), shape)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, grid


@pytest.fixture(scope="module")
def sagittal(spine):
    """The mid-sagittal plane through C1's centre, 40 mm below to 110 mm above it (1 mm)."""
    c1 = spine.centres_mm[spine.labels.index("C1")]
    tis, grid = _render(spine, (c1[0] - 0.5, c1[1] - 130.0, c1[2] - 40.0), (150, 240, 1))
    return tis[:, :, 0], grid, c1


def _axial(spine, dz):
    c1 = spine.centres_mm[spine.labels.index("C1")]
    tis, grid = _render(spine, (c1[0] - 110.0, c1[1] - 130.0, c1[2] + dz), (1, 240, 220))
    return tis[0], grid, c1


@pytest.mark.parametrize("dz", [25.0, 40.0, 70.0])
def test_the_skull_lies_in_soft_tissue(spine, dz):
    # the head's outline holds no air and the skull's bone never reaches the skin: the
    # scalp, the muscles of the neck's back and the face cover it (the old skull was bare
    # bone in air, with air between it and the jaw's soft tissue)
    tis, _grid, _c1 = _axial(spine, dz)
    body = ~np.isin(tis, [Tissue.AIR, Tissue.COUCH, Tissue.FOAM])
    head = ndi.binary_fill_holes(body)
    assert head.sum() > 10000  # mm^2
    assert not (head & (tis == Tissue.AIR)).any()
    skin = head & ~ndi.binary_erosion(head, iterations=3)
    assert not np.isin(tis[skin], _BONE).any()


def test_the_cranial_floor_rises_from_the_foramen_to_the_front():
    # the clivus slopes from the basion up to the dorsum sellae; the posterior fossa's floor
    # lies lowest, the middle fossae higher, the anterior fossa highest
    yb, hb = BASION_MM
    yd, hd = DORSUM_MM
    assert cranial_floor(0.0, yb) == pytest.approx(hb)
    assert cranial_floor(0.0, yd) == pytest.approx(hd)
    assert cranial_floor(0.0, (yb + yd) / 2) == pytest.approx((hb + hd) / 2, abs=1.0)
    post = cranial_floor(30.0, 40.0)
    mid = cranial_floor(36.0, -18.0)
    ant = cranial_floor(30.0, -80.0, 55.0)
    assert post < hb and post < mid - 10.0 < ant - 30.0
    assert mid < MIDDLE_FOSSA_MM[0]  # a bowl


def test_the_brain_sits_on_the_clivus_and_in_the_posterior_fossa(sagittal):
    # on the midline the brain's lowest point climbs from behind the foramen to the dorsum
    # sellae: 20 mm behind C1's centre (the foramen, the medulla going down through it) it
    # reaches below the basion; 10 mm in front of C1's centre (on the clivus) 20 mm higher
    tis, grid, c1 = sagittal
    y = grid.axis_mm(1) - c1[1]
    z = grid.axis_mm(2) - c1[2]

    def lowest_brain(dy):
        col = tis[:, int(np.argmin(np.abs(y - dy)))]
        k = np.flatnonzero(col == Tissue.BRAIN)
        return float(z[k.min()]) if len(k) else np.inf

    behind, clivus = lowest_brain(22.0), lowest_brain(-10.0)
    assert behind < BASION_MM[1] + 1.0
    assert clivus - behind > 20.0
    # the clivus is bone under the brain, thick
    j = int(np.argmin(np.abs(y + 10.0)))
    k = int(np.argmin(np.abs(z - clivus)))
    assert np.isin(tis[k - 8 : k, j], _BONE).all()


def test_the_face_holds_air_spaces_and_teeth(spine):
    head = Head(spine, 1.0)
    pal = head.palate
    # the nasal cavity beside the septum and the maxillary sinuses 13 mm above the palate
    tis, grid, c1 = _axial(spine, pal + MAXILLARY_SINUS_MM[2])
    x = grid.axis_mm(0) - c1[0]
    y = grid.axis_mm(1) - c1[1]

    def at(dx, dy):
        return tis[int(np.argmin(np.abs(y - dy))), int(np.argmin(np.abs(x - dx)))]

    assert at(6.0, -70.0) == Tissue.GAS and at(-6.0, -70.0) == Tissue.GAS
    assert at(0.0, -70.0) != Tissue.GAS  # the septum
    sx, sy = MAXILLARY_SINUS_MM[:2]
    assert at(sx, sy) == Tissue.GAS and at(-sx, sy) == Tissue.GAS
    # the nasopharynx in front of C1, the medulla behind it in the foramen magnum
    assert at(0.0, -25.0) == Tissue.GAS
    # teeth above and below the occlusal plane in front of the spine, and none behind it
    occ = pal - 16.0
    for dz in (occ + 5.0, occ - 5.0):
        t, g, _c = _axial(spine, dz)
        yy = g.axis_mm(1) - c1[1]
        teeth = t == Tissue.TOOTH
        assert teeth.sum() > 150, dz  # mm^2: the arch
        rows = np.flatnonzero(teeth.any(axis=1))
        assert yy[rows].max() < -20.0


def test_the_back_of_the_neck_runs_up_to_the_occiput(sagittal):
    # above the neck's top (15 mm above C1) the muscles of the back of the neck continue up to
    # the skull: on the midline, from the spine or the skull back to the skin there is soft
    # tissue only (the old head had air behind it above the neck's top)
    tis, grid, c1 = sagittal
    y = grid.axis_mm(1) - c1[1]
    z = grid.axis_mm(2) - c1[2]
    for dz in (20.0, 30.0, 45.0):
        row = tis[int(np.argmin(np.abs(z - dz)))]
        body = np.flatnonzero(~np.isin(row, [Tissue.AIR, Tissue.COUCH, Tissue.FOAM]))
        back = body.max()
        behind = (y > 10.0) & (np.arange(len(y)) <= back)
        assert not (row[behind] == Tissue.AIR).any(), dz
        # and the bone lies under at least 5 mm of soft tissue
        last_bone = np.flatnonzero(np.isin(row, _BONE) & (y > 10.0)).max()
        assert back - last_bone >= 5, dz


def test_the_teeth_are_separate_and_the_hyoid_lies_in_front_of_the_airway(spine):
    # each jaw's teeth are separate crowns along the arch (they were one continuous band), and
    # the hyoid's body lies in front of the airway at C3's level, its horns running back
    head = Head(spine, 1.0)
    occ = head.palate - 16.0
    for dz in (occ + 5.0, occ - 5.0):
        tis, _g, _c = _axial(spine, dz)
        _lab, n = ndi.label(tis == Tissue.TOOTH)
        assert n >= 12, (dz, n)
    c1 = spine.centres_mm[spine.labels.index("C1")]
    c3 = spine.centres_mm[spine.labels.index("C3")]
    tis, grid, _c = _axial(spine, float(c3[2] - c1[2]))
    x = grid.axis_mm(0) - c3[0]
    y = grid.axis_mm(1) - c3[1]
    bone = np.isin(tis, _BONE)
    body = bone[(y > -48.0) & (y < -40.0)][:, np.abs(x) < 5.0]
    horns = bone[(y > -30.0) & (y < -18.0)][:, (np.abs(x) > 15.0) & (np.abs(x) < 26.0)]
    assert body.sum() >= 10 and horns.sum() >= 10
    # the airway behind it stays open
    assert (tis[(y > -20.0) & (y < -10.0)][:, np.abs(x) < 5.0] == Tissue.GAS).any()


def test_metal_fillings_sit_in_back_teeth_and_streak(spine):
    from spinelab.synth.head import BACK_TEETH, FILLINGS_MAX, TEETH_PER_JAW, draw_fillings

    # which teeth: none when p = 0; 1 to FILLINGS_MAX back teeth when p = 1; the same
    # generator state, the same teeth
    assert draw_fillings(np.random.default_rng(1), 0.0) == ()
    back = {j * TEETH_PER_JAW + i for j in (0, 1) for i in range(TEETH_PER_JAW)}
    back = {v for v in back if v % TEETH_PER_JAW < BACK_TEETH or v % TEETH_PER_JAW >= 10}
    for seed in range(20):
        f = draw_fillings(np.random.default_rng(seed), 1.0)
        assert 1 <= len(f) <= FILLINGS_MAX and set(f) <= back
        assert f == draw_fillings(np.random.default_rng(seed), 1.0)
    # painted inside the teeth, their centres handed on for the metal streaks
    c1 = spine.centres_mm[spine.labels.index("C1")]
    grid = RenderGrid((c1[0] - 70.0, c1[1] - 120.0, c1[2] - 45.0), (1.0, 1.0, 1.0), (40, 100, 140))
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    params = AnatomyParams(bowel_gas=0, fillings=(0, 2 * TEETH_PER_JAW - 1))
    filled = render_labels(spine, grid, params, np.random.default_rng(0))
    assert not (plain.tissue == Tissue.FILLING).any() and len(plain.metal_points_mm) == 0
    metal = filled.tissue == Tissue.FILLING
    assert metal.sum() > 40
    assert np.isin(plain.tissue[metal], [Tissue.TOOTH]).all()
    assert len(filled.metal_points_mm) == 2
