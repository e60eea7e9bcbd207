"""The patient on the couch (spinelab.synth.body: ``supine``, ``lay_on_couch``).

A CT couch is a rigid plate along the scanner's z axis: on a mid-sagittal view it is a straight
line, and the back lies on it where it is most posterior (the upper back and the sacrum /
buttocks) with a gap behind the lumbar lordosis (the real example CT,
``../shared/data/ct/totalsegmentator_example``: the couch 3 mm behind the back at T12-L1,
15-18 mm behind it at L3-L4, straight within its 3 mm pixels). The renderer used to draw the
couch a fixed distance behind each slice's own back, so it bent with the spine's curves. The
couch is carbon-fibre skins over a foam core under a foam mattress (``Couch``; the real 0.98 mm
PET/CT slab ``dicom_slab``: a 27 mm mattress at -940 HU, two top skins of 2 mm peaking at 230-480
HU, a 29 mm core, a bottom skin), no longer a 2 mm plate of cartilage at 90 HU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.body import COUCH_HALF_WIDTH_MM, BodyPlan, Couch, lay_on_couch, supine
from spinelab.synth.painter import Painter
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.shape_model import SpineShapeModel
from spinelab.synth.tissues import Tissue, body_mask

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 2.0  # in-plane spacing of the strip (mm)
SLICE_MM = 3.0


def _strip(spine, params: AnatomyParams, seed: int = 0) -> tuple[np.ndarray, RenderGrid]:
    """The tissue map of a parasagittal strip (10 voxels wide, 21-39 mm left of L3's centre: the
    back's midline groove is 6 mm deep over +-20 mm) from 120 mm below S2's centre up to T4's,
    and its grid."""
    z_s2 = float(spine.centres_mm[spine.labels.index("S2"), 2])
    z_t4 = float(spine.centres_mm[spine.labels.index("T4"), 2])
    x0 = float(spine.centres_mm[spine.labels.index("L3"), 0])
    y0 = float(spine.centres_mm[:, 1].mean())
    nk = int((z_t4 - z_s2 + 120.0) / SLICE_MM)
    grid = RenderGrid((x0 + 21.0, y0 - 300.0, z_s2 - 120.0), (SP, SP, SLICE_MM), (nk, 300, 10))
    return render_labels(spine, grid, params, np.random.default_rng(seed)).tissue, grid


def _back_and_couch(tissue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per slice: the row index of the body's last voxel and of the couch's first (its mattress
    included), on the strip's middle column (NaN where a slice has no body or no couch behind
    it)."""
    col = tissue[:, :, tissue.shape[2] // 2]
    couch = np.isin(col, (Tissue.COUCH, Tissue.FOAM))
    body = body_mask(col)
    back = np.full(len(col), np.nan)
    top = np.full(len(col), np.nan)
    for k in range(len(col)):
        jb = np.flatnonzero(body[k])
        if not len(jb):
            continue
        back[k] = jb.max()
        jc = np.flatnonzero(couch[k, jb.max() :])
        if len(jc):
            top[k] = jb.max() + jc.min()
    return back, top


@pytest.mark.parametrize("fat_mm", [8.0, 30.0])
def test_couch_is_straight_and_the_back_lies_on_it(fat_mm: float) -> None:
    spine = curved_spine()
    tissue, grid = _strip(spine, AnatomyParams(fat_mm=fat_mm))
    back, couch = _back_and_couch(tissue)
    ok = np.isfinite(back) & np.isfinite(couch)
    assert ok.mean() > 0.9
    # one straight plate along z (the old couch followed each slice's back: 20+ mm of bends)
    assert np.ptp(couch[ok]) == 0
    gap_mm = (couch[ok] - back[ok] - 1) * SP
    # the back touches it (its mattress) somewhere, and nothing lies beyond it
    assert gap_mm.min() <= SP
    assert gap_mm.min() >= 0.0
    # and the lumbar lordosis leaves a gap: at L3 the back is further from it than at contact
    z = grid.axis_mm(2)
    k3 = int(np.argmin(np.abs(z - spine.centres_mm[spine.labels.index("L3"), 2])))
    assert gap_mm[ok][np.flatnonzero(ok) == k3][0] > gap_mm.min() + 4.0


def _natural_back(spine, params: AnatomyParams, labels: tuple[str, ...]) -> float:
    """The most posterior natural back (mm, before lying down) over the levels of ``labels``
    (a stretch of the chain) and 5 mm steps between them."""
    plan = BodyPlan(spine, params)
    zs = [plan.z_of[v] for v in labels]
    ys = [
        lv.y_s + lv.post
        for lv in (plan._level(z, sag=False) for z in np.arange(min(zs), max(zs) + 1.0, 5.0))
    ]
    return max(ys)


def test_supine_turns_the_spine_so_that_the_thorax_and_the_sacrum_touch_the_couch() -> None:
    model = SpineShapeModel.load_default()
    params = AnatomyParams(fat_mm=15.0)
    before, after = [], []
    for seed in range(8):
        geo = model.sample(np.random.default_rng(seed), transitional=None, scoliosis_deg=0.0)
        turned = supine(geo, params)
        # a rigid turn: distances between the centres are kept
        d0 = np.linalg.norm(np.diff(geo.centres_mm, axis=0), axis=1)
        d1 = np.linalg.norm(np.diff(turned.centres_mm, axis=0), axis=1)
        np.testing.assert_allclose(d1, d0, atol=1e-9)
        for g, out in ((geo, before), (turned, after)):
            thorax = _natural_back(g, params, ("T3", "T11"))
            pelvis = _natural_back(g, params, ("S1", "S2"))
            out.append(thorax - pelvis)
    # upright on the S1-C2 line the thoracic back stood up to tens of mm behind the sacrum's;
    # turned, the two contact areas are level within a few mm (the hull's edge may end below
    # S2, on the buttocks)
    assert np.max(np.abs(before)) > 15.0
    assert np.max(np.abs(after)) < 6.0


def test_supine_leaves_a_short_spine_as_it_is() -> None:
    spine = curved_spine()
    neck = type(spine)(
        spine.labels[:8],
        spine.centres_mm[:8],
        spine.frames[:8],
        spine.body_height_mm[:8],
        spine.body_width_mm[:8],
        spine.body_depth_mm[:8],
        spine.disc_height_mm[:7],
    )
    assert supine(neck, AnatomyParams()) is neck


def test_couch_layers_from_the_back_down() -> None:
    """A column through the couch's middle reads, from the back's contact line down: the
    mattress, the top skin(s), the foam core, the bottom skin, then air; beside the bottom's
    span only the top skins (the cradle's wings); the soft tissue pressed flat stays behind the
    contact line, and bone is never cut."""
    spine = curved_spine()
    params = AnatomyParams(fat_mm=15.0)
    plan = BodyPlan(spine, params)
    sp = 0.25
    x0 = plan.couch_x
    grid = RenderGrid(
        (x0 - COUCH_HALF_WIDTH_MM, plan.couch_y - 60.0, plan.z_of["L3"]),
        (sp, sp, 3.0),
        (2, 800, int(2 * COUCH_HALF_WIDTH_MM / sp)),
    )
    for couch in (Couch(10.0, 2.0, False, 30.0), Couch(25.0, 1.5, True, 24.0)):
        pt = Painter(grid)
        pt.tissue[:] = Tissue.FAT  # the body reaches past the couch everywhere
        pt.tissue[:, 600:, 40] = Tissue.CORTICAL  # a bone poking through: never cut
        lay_on_couch(pt, plan, couch)
        mid = pt.tissue[0, :, len(pt.x) // 2]
        y = pt.y - plan.couch_y
        expect = [(couch.pad_mm, Tissue.FOAM), (couch.skin_mm, Tissue.COUCH)]
        if couch.double_top:
            expect += [(2.0, Tissue.FOAM), (couch.skin_mm, Tissue.COUCH)]
        expect += [(couch.core_mm, Tissue.FOAM), (couch.skin_mm, Tissue.COUCH)]
        assert np.all(mid[y < -sp] == Tissue.FAT)
        depth = 0.0
        for thick, tissue in expect:
            inside = (y > depth + sp) & (y < depth + thick - sp)
            assert inside.any() and np.all(mid[inside] == tissue), (depth, thick, tissue)
            depth += thick
        assert depth == pytest.approx(couch.depth_mm)
        assert np.all(mid[y > depth + sp] == Tissue.AIR)
        # beside the bottom skin's span: the top skins' wings, no core
        wing = pt.tissue[0, :, 120]
        assert (wing == Tissue.COUCH).any()
        assert (wing == Tissue.FOAM).sum() * sp < couch.pad_mm + 2.0 + 2 * sp
        assert np.all(pt.tissue[0, 600:, 40] == Tissue.CORTICAL)
        # the same couch on every slice
        assert np.array_equal(pt.tissue[0], pt.tissue[1])


def test_couch_draws_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(3)
    couches = [Couch.draw(rng) for _ in range(200)]
    pads = np.array([c.pad_mm for c in couches])
    assert 2.0 <= pads.min() and pads.max() <= 30.0 and np.ptp(pads) > 20.0
    assert 0.3 < np.mean([c.double_top for c in couches]) < 0.7
    assert all(0.8 <= c.skin_mm <= 2.5 and 22.0 <= c.core_mm <= 36.0 for c in couches)
