"""The colon's sacculated wall (spinelab.synth.bowel): three teniae and staggered crescent folds.

A round colon filled with gas read as a smooth black disc on sagittal and axial views; the real
colon's section is lobed (teniae coli pull the wall in along three lines 120 deg apart, the
semilunar folds between the haustra are crescents spanning a third of the circumference).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinelab.synth import bowel
from spinelab.synth.render import AnatomyParams, render_labels
from synth_spine_fixture import abdomen_grid, curved_spine


def test_frame_is_orthonormal_and_does_not_twist():
    s = np.linspace(0.0, 40.0, 400)
    helix = np.stack([30.0 * np.cos(s / 6.0), 30.0 * np.sin(s / 6.0), 4.0 * s], axis=1)
    t, n1, n2 = bowel.rotation_minimizing_frame(helix)
    for a, b in ((t, n1), (t, n2), (n1, n2)):
        assert np.abs(np.sum(a * b, axis=1)).max() < 1e-9
    for v in (t, n1, n2):
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-9)
    # no spin about the axis: from one sample to the next n1 turns only with the tangent
    spin = np.sum(n1[1:] * n2[:-1], axis=1)
    assert np.abs(spin).max() < 2e-3
    # along a curve in the xy plane (an S-bend) the normal out of the plane stays along z
    u = np.linspace(0.0, 2.0 * math.pi, 300)
    plane = np.stack([40.0 * u, 25.0 * np.sin(u), np.zeros_like(u)], axis=1)
    _, n1, n2 = bowel.rotation_minimizing_frame(plane)
    out = n1 if abs(n1[0, 2]) > abs(n2[0, 2]) else n2
    assert np.abs(out[:, 2]).min() > 0.999
    assert np.abs(np.cross(n1, n2)[:, 2]).max() < 1e-9  # the tangent stays in the plane


def test_section_is_lobed_between_three_teniae():
    tenia0, spacing = 0.4, 25.0
    rows = np.array([0.0, 8.0, 16.0])
    angle = tenia0 + np.linspace(0.0, 2.0 * math.pi, 720, endpoint=False)
    third = 2.0 * math.pi / 3.0

    def radius(along: float, depth: float = 1.0, phases: np.ndarray = rows) -> np.ndarray:
        n = len(angle)
        return bowel.sacculated_radius(
            np.full(n, 20.0), angle, np.full(n, along), np.full(n, depth), tenia0, spacing, phases
        )

    # between folds (with the rows in line, half a spacing from their folds): three grooves
    r = radius(0.0, phases=np.zeros(3))
    at_tenia = np.isclose(np.mod(angle - tenia0, third), 0.0)
    assert at_tenia.sum() == 3
    np.testing.assert_allclose(r[at_tenia], 20.0 * (1.0 - bowel.TENIA_DEPTH), rtol=1e-3)
    mid_row = np.isclose(np.mod(angle - tenia0, third), third / 2.0)
    assert r[mid_row].min() > 20.0 * (1.0 - 0.02)
    # at row 0's fold (its phase 0): a crescent in that row only, deepest midway between teniae
    r = radius(0.5 * spacing)
    row = np.minimum(np.mod(angle - tenia0, 2.0 * math.pi) // third, 2).astype(int)
    deepest = 20.0 * (1.0 - bowel.HAUSTRA_DEPTH)
    assert r[row == 0].min() == pytest.approx(deepest, abs=0.05)
    assert r[(row > 0) & mid_row].min() > 20.0 * (1.0 - 0.05)  # the other rows' folds elsewhere
    # the rectum (depth 0) stays round
    np.testing.assert_array_equal(radius(0.5 * spacing, 0.0), 20.0)


def test_sacculation_narrows_the_colon_and_changes_nothing_else(monkeypatch):
    """The teniae and folds only narrow the tube and come from a side stream of their own:
    with them the colon's distance field grows (inward) by up to the deepest fold, at many
    nodes by more than 2 mm; another side stream moves them; the gas level and content fields
    and the case's main stream stay as they were for the seed."""
    spine = curved_spine()
    grid = abdomen_grid(spine, 3.0)
    params = AnatomyParams(fat_mm=20.0, bowel_gas=10)
    fields: list[tuple[np.ndarray, ...]] = []
    states: list[dict] = []
    colon = bowel.BowelField._colon

    def spy(self, rng, *args, **kwargs):
        out = colon(self, rng, *args, **kwargs)
        fields.append(tuple(a.copy() for a in out))
        states.append(rng.bit_generator.state)
        return out

    def run(side_seed: int, depths: bool = True) -> None:
        monkeypatch.setattr(
            bowel, "side_stream", lambda rng, jumps: np.random.default_rng(side_seed)
        )
        if not depths:
            monkeypatch.setattr(bowel, "TENIA_DEPTH", 0.0)
            monkeypatch.setattr(bowel, "HAUSTRA_DEPTH", 0.0)
        render_labels(spine, grid, params, np.random.default_rng(4))
        monkeypatch.undo()
        monkeypatch.setattr(bowel.BowelField, "_colon", spy)

    monkeypatch.setattr(bowel.BowelField, "_colon", spy)
    run(1, depths=False)
    run(1)
    run(2)
    (sd0, lev0, kin0), (sd1, lev1, kin1), (sd2, lev2, kin2) = fields
    for lev, kin in ((lev1, kin1), (lev2, kin2)):
        np.testing.assert_array_equal(lev0, lev)
        np.testing.assert_array_equal(kin0, kin)
    assert states[0] == states[1] == states[2]
    valid = sd0 < 1e3 - 1.0
    np.testing.assert_array_equal(valid, sd1 < 1e3 - 1.0)
    grow = sd1[valid] - sd0[valid]
    most = (bowel.TENIA_DEPTH + bowel.HAUSTRA_DEPTH) * max(bowel.COLON_RADIUS_MM.values())
    assert grow.min() >= -1e-4
    assert grow.max() <= most * max(bowel.COLON_SCALE) + 1e-3
    assert (grow > 2.0).sum() > 200
    assert (np.abs(sd2[valid] - sd1[valid]) > 2.0).sum() > 200  # the side stream places them
