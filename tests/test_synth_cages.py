"""Interbody cages in the discs of an instrumented lumbar spine: the draws' shares, the
implant painted in the disc only (titanium: metal with streak points; PEEK: soft-tissue
density with metal markers), its window's bone graft, the labels unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth import cages
from spinelab.synth.cages import Cage, draw_cages
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_share, curved_spine, generate_with_and_without


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


def test_cages_are_drawn_in_the_instrumented_lumbar_discs(spine):
    rng = np.random.default_rng(3)
    screws = ("T12", "L1", "L2", "L3", "L4")
    drawn = [draw_cages(rng, screws, spine.labels) for _ in range(3000)]
    flat = [c for case in drawn for c in case]
    # three lumbar discs between screwed vertebrae (L1-L2 .. L3-L4); none at T12-L1
    assert {c.label for c in flat} == {"L1", "L2", "L3"}
    assert_share(len(flat), 3 * 3000, cages.P_CAGE)
    assert_share(sum(c.titanium for c in flat), len(flat), cages.P_TITANIUM)
    assert_share(sum(c.kind == "plif" for c in flat), len(flat), cages.P_PLIF)
    # not between screwed vertebrae that are not neighbours, nor without screws
    assert draw_cages(rng, ("L2", "L4"), spine.labels, 1.0) == ()
    assert draw_cages(rng, (), spine.labels, 1.0) == ()


def _grid(spine) -> RenderGrid:
    c0 = spine.centres_mm[spine.labels.index("L4")]
    z0 = spine.centres_mm[spine.labels.index("L5"), 2] - 5.0
    z1 = spine.centres_mm[spine.labels.index("L3"), 2] + 5.0
    sp = 0.75
    n = (int((z1 - z0) / sp), int(110 / sp), int(100 / sp))
    return RenderGrid((c0[0] - 50.0, c0[1] - 45.0, z0), (sp, sp, sp), n)


@pytest.mark.parametrize("cage", [Cage("L3", "plif", True), Cage("L4", "tlif", False)])
def test_a_cage_lies_in_its_disc_and_leaves_the_labels(spine, cage):
    grid = _grid(spine)
    base = AnatomyParams(bowel_gas=0, screws=("L3", "L4", "L5"))
    plain = render_labels(spine, grid, base, np.random.default_rng(0))
    res = render_labels(
        spine,
        grid,
        AnatomyParams(bowel_gas=0, screws=("L3", "L4", "L5"), cages=(cage,)),
        np.random.default_rng(0),
    )
    assert (res.vertebrae == plain.vertebrae).all()
    changed = res.tissue != plain.tissue
    assert (res.vertebrae[changed] == 0).all()
    # in the disc below the cage's vertebra: between the two bodies' centres along the spine
    n = spine.labels.index(cage.label)
    zz = grid.axis_mm(2)[np.nonzero(changed)[0]]
    z_up, z_lo = spine.centres_mm[n, 2], spine.centres_mm[n + 1, 2]
    assert zz.min() > z_lo and zz.max() < z_up
    was = plain.tissue[changed]
    assert (was == int(Tissue.DISC)).mean() > 0.9  # the disc's place, its edge aside
    now = res.tissue[changed]
    graft = int((now == int(Tissue.DENSE)).sum()) * 0.75**3
    metal = int((now == int(Tissue.METAL)).sum()) * 0.75**3
    soft = int((now == int(Tissue.SOFT)).sum()) * 0.75**3
    assert graft > 500.0  # the window's bone graft (mm3)
    if cage.titanium:
        assert metal > 500.0 and soft == 0.0
        assert len(res.metal_points_mm) > len(plain.metal_points_mm)
    else:  # PEEK: a soft-tissue shell and a few marker pins
        assert soft > 300.0 and 0.0 < metal < 120.0
        assert len(res.metal_points_mm) == len(plain.metal_points_mm)


def test_the_cage_knob_changes_only_the_cages():
    cfg = {"fov": "lumbar", "spacing_mm": (3.0, 3.0, 3.0), "p_metal": 1.0}
    none, some = generate_with_and_without(1, ("p_cage",), **cfg)
    assert none.meta["anatomy"]["cages"] == ()
    assert len(some.meta["anatomy"]["cages"]) >= 1
    assert none.meta["anatomy"]["screws"] == some.meta["anatomy"]["screws"]
    assert (none.labels.array == some.labels.array).all()
    assert (none.ct.array != some.ct.array).any()


def test_anterior_cervical_fusions_are_drawn_at_the_shares(spine):
    rng = np.random.default_rng(8)
    drawn = [cages.draw_acdf(rng, spine.labels, 0.5) for _ in range(6000)]
    some = [a for a in drawn if a is not None]
    assert_share(len(some), len(drawn), 0.5)
    w = cages.ACDF_LEVELS
    for top, share in w.items():
        assert_share(sum(a.labels[0] == top for a in some), len(some), share / sum(w.values()))
    # consecutive vertebrae, down to T1 at most; one to three discs by the span's shares
    for a in some:
        i = spine.labels.index(a.labels[0])
        assert list(a.labels) == spine.labels[i : i + len(a.labels)]
        assert 2 <= len(a.labels) <= 4 and a.labels[-1] in ("C4", "C5", "C6", "C7", "T1")
    high = [a for a in some if a.labels[0] in ("C3", "C4")]  # never cut short at T1
    for k, share in enumerate(cages.ACDF_SPAN):
        assert_share(sum(len(a.labels) == k + 2 for a in high), len(high), share)
    assert_share(sum(a.titanium for a in some), len(some), cages.ACDF_P_TITANIUM)
    assert all(c.kind == "acdf" and c.label in a.labels[:-1] for a in some for c in a.cages())


def test_an_anterior_cervical_fusion_plates_and_screws_the_bodies(spine):
    c = spine.centres_mm[spine.labels.index("C5")]
    z0 = spine.centres_mm[spine.labels.index("T1"), 2]
    z1 = spine.centres_mm[spine.labels.index("C3"), 2]
    sp = 0.5
    n = (int((z1 - z0) / sp), int(70 / sp), int(60 / sp))
    grid = RenderGrid((c[0] - 30.0, c[1] - 40.0, z0), (sp, sp, sp), n)
    acdf = cages.Acdf(("C5", "C6", "C7"), False)
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    res = render_labels(
        spine, grid, AnatomyParams(bowel_gas=0, acdf=acdf), np.random.default_rng(0)
    )
    assert (res.vertebrae == plain.vertebrae).all()
    metal = res.tissue == int(Tissue.METAL)
    zz, yy, xx = np.meshgrid(grid.axis_mm(2), grid.axis_mm(1), grid.axis_mm(0), indexing="ij")
    pts = np.stack([xx, yy, zz], axis=-1)
    for name in acdf.labels:  # the plate in front of each fused body, two screws in it
        k = spine.labels.index(name)
        loc = (pts - spine.centres_mm[k]) @ spine.frames[k]
        d = float(spine.body_depth_mm[k])
        near = metal & (np.abs(loc[..., 2]) < 3.0)
        assert (near & (loc[..., 1] < -d / 2)).sum() * sp**3 > 20.0  # the plate
        inside = near & (res.vertebrae == plain.vertebrae) & (plain.vertebrae > 0)
        lateral = loc[..., 0][inside]
        assert (lateral > 1.0).sum() > 10 and (lateral < -1.0).sum() > 10  # both screws
    # nothing above the top or below the bottom body's middle but their screws and plate
    top = spine.centres_mm[spine.labels.index("C4")]
    assert not (metal & (pts[..., 2] > top[2])).any()
    # the two cages' graft and PEEK markers in the fused discs
    assert int(((res.tissue == int(Tissue.DENSE)) & (res.vertebrae == 0)).sum()) > int(
        ((plain.tissue == int(Tissue.DENSE)) & (plain.vertebrae == 0)).sum()
    )
    assert len(res.metal_points_mm) > 50


def test_the_acdf_knob_changes_only_the_neck():
    from spinelab.synth.realism import canonical

    cfg = {"fov": "cervical", "spacing_mm": (2.0, 2.0, 2.0)}
    none, some = generate_with_and_without(3, ("p_acdf",), **cfg)
    assert none.meta["anatomy"]["acdf"] is None
    assert len(some.meta["anatomy"]["acdf"]["labels"]) >= 2
    lab0 = canonical(none.labels.array, none.labels.affine_lps)[0]
    lab1 = canonical(some.labels.array, some.labels.affine_lps)[0]
    assert (lab0 == lab1).all()  # (compared in one orientation: see the sternotomy's test)
    bright0 = int((canonical(none.ct.array, none.ct.affine_lps)[0] >= 2000).sum())
    bright1 = int((canonical(some.ct.array, some.ct.affine_lps)[0] >= 2000).sum())
    assert bright1 > bright0 + 50  # the plate's and screws' metal
