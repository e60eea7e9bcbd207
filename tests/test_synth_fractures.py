"""Vertebral compression fractures: the draws' shares, the spine's bend at a wedge or crush,
and the painted endplates (no gap under the disc above, disc material in a depression,
impacted bone under a fresh fracture's endplate)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import fractures
from spinelab.synth.fractures import Fracture, draw_fractures, fracture_geometry
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import assert_share, curved_spine, generate_with_and_without
from test_synth_render import _assert_centroids_in_labels


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


@pytest.fixture(scope="module")
def draws(spine):
    rng = np.random.default_rng(5)
    out: list[Fracture] = []
    for _ in range(4000):
        out.extend(draw_fractures(rng, spine.labels, spine.body_height_mm, 2, (0.1, 0.55)))
    return out


def test_fractures_are_drawn_at_the_studies_shares(spine, draws):
    n = len(draws)
    assert n == 8000
    # endplates: superior alone, both, inferior alone
    assert_share(sum(f.ends == 1 for f in draws), n, 0.855)
    assert_share(sum(f.ends == 0 for f in draws), n, 0.126)
    # the deepest point's segment front to back
    assert_share(sum(0.2 <= f.peak < 0.4 for f in draws), n, 0.45)
    assert_share(sum(f.peak < 0.2 for f in draws), n, 0.20)
    assert max(f.peak for f in draws) <= 0.8
    # the height lost at the deepest point (fraction of the body's height)
    heights = dict(zip(spine.labels, spine.body_height_mm, strict=True))
    loss = np.array([f.loss_mm / heights[f.label] for f in draws])
    assert loss.min() >= 0.1 - 1e-3 and loss.max() <= 0.55 + 1e-3
    assert_share(int((loss < 0.2).sum()), n, 0.586)
    assert_share(int((loss > 1 / 3).sum()), n, 0.114)
    # crushes (the back rim down too) only among the severe ones; no plane part below
    assert all(f.posterior_mm == 0.0 for f, x in zip(draws, loss, strict=True) if x < 0.33)
    assert any(f.posterior_mm > 0.0 for f in draws)
    assert all(f.anterior_mm == 0.0 and f.posterior_mm == 0.0 for f in draws if f.ends == -1)
    # intravertebral vacuum clefts in the severe fractures of the superior endplate only
    severe = [f for f, x in zip(draws, loss, strict=True) if x > 0.34 and f.ends != -1]
    assert all(f.cleft_mm == 0.0 for f, x in zip(draws, loss, strict=True) if x < 0.33)
    assert_share(sum(f.cleft_mm > 0 for f in severe), len(severe), fractures.P_CLEFT_SEVERE)
    # thoracic and lumbar only; two foci, mid-thoracic (T7/T8) and thoraco-lumbar (L1 most)
    count = {x: sum(f.label == x for f in draws) for x in spine.labels}
    assert {anatomy.region_of(f.label) for f in draws} <= {"thoracic", "lumbar"}
    assert max(count, key=count.get) == "L1"
    assert count["T7"] > count["T5"] and count["T8"] > count["T10"]
    assert count["T12"] > count["T10"] and count["L1"] > count["L3"] > count["L5"]
    # two fractures of one case are at different vertebrae
    rng = np.random.default_rng(1)
    for _ in range(200):
        pair = draw_fractures(rng, spine.labels, spine.body_height_mm, 2, (0.1, 0.55))
        assert len({f.label for f in pair}) == 2


def test_a_narrow_loss_range_keeps_the_draws_inside_it(spine):
    rng = np.random.default_rng(2)
    heights = dict(zip(spine.labels, spine.body_height_mm, strict=True))
    for _ in range(300):
        for f in draw_fractures(rng, spine.labels, spine.body_height_mm, 1, (0.25, 0.3)):
            assert 0.25 - 1e-3 <= f.loss_mm / heights[f.label] <= 0.3 + 1e-3


def _angle_deg(u, v) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v), -1.0, 1.0))))


def test_a_wedge_turns_the_spine_above_onto_the_lowered_endplate(spine):
    n = spine.labels.index("L2")
    d = float(spine.body_depth_mm[n])
    fx = Fracture("L2", 1, 9.0, 0.0, 0.0, 0.1, False)
    bent = fracture_geometry(spine, (fx,))
    assert bent.attributes["fractures"] == ["L2"]
    # the fractured vertebra and everything below unchanged
    assert np.allclose(bent.centres_mm[n:], spine.centres_mm[n:])
    assert np.allclose(bent.frames[n:], spine.frames[n:])
    # L1 turned forwards by the wedge's angle: its lower endplate parallel to the lowered one
    theta = np.degrees(np.arctan2(9.0, d))
    up0, up1 = spine.frames[n - 1][:, 2], bent.frames[n - 1][:, 2]
    assert _angle_deg(up0, up1) == pytest.approx(theta, abs=1e-4)
    assert float(np.dot(up1 - up0, -spine.frames[n - 1][:, 1])) > 0  # tipped forwards
    # ... at the disc's height above it: L1's lower endplate centre is as far from the lowered
    # plane (through the posterior-superior rim, tilted by theta) as it was from the old one
    fr = spine.frames[n]
    c, h = spine.centres_mm[n], float(spine.body_height_mm[n])
    rim = c + fr[:, 2] * h / 2 + fr[:, 1] * d / 2

    def gap(geo, normal):
        low = geo.centres_mm[n - 1] - geo.frames[n - 1][:, 2] * geo.body_height_mm[n - 1] / 2
        return float(np.dot(low - rim, normal))

    lowered = fractures.wedge_frame(fr, 9.0, d)[:, 2]
    assert _angle_deg(lowered, fr[:, 2]) == pytest.approx(theta, abs=1e-4)
    assert gap(bent, lowered) == pytest.approx(gap(spine, fr[:, 2]), abs=1e-6)
    # the next three discs take the angle back: the spine above them keeps its orientation
    for m in range(n - 3):
        assert np.allclose(bent.frames[m], spine.frames[m], atol=1e-9)
    # an inferior-endplate fracture or a bowl alone leaves the spine as it was
    same = fracture_geometry(spine, (Fracture("L2", -1, 0.0, 0.0, 5.0, 0.5, False),))
    assert np.allclose(same.centres_mm, spine.centres_mm)
    same = fracture_geometry(spine, (Fracture("L2", 1, 0.0, 0.0, 5.0, 0.5, False),))
    assert np.allclose(same.centres_mm, spine.centres_mm)


def test_a_crush_shortens_the_body_and_lowers_the_spine_above(spine):
    n = spine.labels.index("T12")
    up = spine.frames[n][:, 2]
    bent = fracture_geometry(spine, (Fracture("T12", 1, 0.0, 6.0, 0.0, 0.5, True),))
    assert bent.body_height_mm[n] == pytest.approx(spine.body_height_mm[n] - 6.0)
    assert np.allclose(bent.centres_mm[n], spine.centres_mm[n] - 3.0 * up)
    assert np.allclose(bent.centres_mm[:n], spine.centres_mm[:n] - 6.0 * up)
    assert np.allclose(bent.centres_mm[n + 1 :], spine.centres_mm[n + 1 :])
    # the input is not changed
    assert spine.body_height_mm[n] == curved_spine().body_height_mm[n]


def _grid(spine, first: str, last: str, sp: float = 1.0) -> RenderGrid:
    c = spine.centres_mm
    i0, i1 = spine.labels.index(first), spine.labels.index(last)
    z_top, z_bot = c[i0, 2] + 20.0, c[i1, 2] - 20.0
    y0 = float(c[i0 : i1 + 1, 1].min()) - 40.0
    x0 = float(c[i0 : i1 + 1, 0].mean()) - 40.0
    return RenderGrid((x0, y0, z_bot), (sp, sp, sp), (int((z_top - z_bot) / sp), 110, 80))


def _between(res, geo, label: str) -> np.ndarray:
    """Tissue of the voxels of no vertebra between ``label``'s body and the one above: inside
    0.7 of ``label``'s endplate outline, above its middle and below the upper body's lower
    endplate."""
    g = res.grid
    zz, yy, xx = np.meshgrid(g.axis_mm(2), g.axis_mm(1), g.axis_mm(0), indexing="ij")
    pts = np.stack([xx, yy, zz], axis=-1)
    n = geo.labels.index(label)
    loc = (pts - geo.centres_mm[n]) @ geo.frames[n]
    up = (pts - geo.centres_mm[n - 1]) @ geo.frames[n - 1]
    w, d = float(geo.body_width_mm[n]), float(geo.body_depth_mm[n])
    inside = (loc[..., 0] / (0.35 * w)) ** 2 + (loc[..., 1] / (0.35 * d)) ** 2 <= 1.0
    sel = inside & (loc[..., 2] > 0.0) & (up[..., 2] < -geo.body_height_mm[n - 1] / 2)
    return res.tissue[sel & (res.vertebrae == 0)]


def test_no_gap_opens_between_a_wedged_body_and_the_disc_above(spine):
    fx = (Fracture("L2", 1, 10.0, 0.0, 0.0, 0.1, True),)
    allowed = [int(Tissue.DISC)]
    bent = fracture_geometry(spine, fx)
    grid = _grid(bent, "L1", "L3")
    res = render_labels(
        bent, grid, AnatomyParams(bowel_gas=0, fractures=fx), np.random.default_rng(0)
    )
    between = _between(res, bent, "L2")
    assert between.size > 1500
    # (a voxel or two at the centre of the endplate's cup may lie just beyond the disc's
    # 1.5 mm margin, as between unfractured bodies)
    assert np.isin(between, allowed).mean() > 0.998
    # without the bend (the body wedged under an unmoved spine) the disc cannot span the
    # wedge: soft tissue at its front (1.5 % of the voxels; the first design, which drew
    # the disc between the unlowered endplates too, left 26 % fat and muscle there)
    res = render_labels(
        spine, grid, AnatomyParams(bowel_gas=0, fractures=fx), np.random.default_rng(0)
    )
    assert np.isin(_between(res, spine, "L2"), allowed).mean() < 0.99
    # the plain spine has none either
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    assert np.isin(_between(res, spine, "L2"), allowed).mean() > 0.998


def test_an_endplate_depression_holds_disc_and_a_fresh_one_impacted_bone(spine):
    grid = _grid(spine, "L1", "L3", 0.75)
    vid = anatomy.by_name("L2").verse_id
    base = AnatomyParams(bowel_gas=0)
    plain = render_labels(spine, grid, base, np.random.default_rng(0))
    for acute in (False, True):
        fx = Fracture("L2", 0, 0.0, 0.0, 5.0, 0.5, acute)
        res = render_labels(
            spine, grid, AnatomyParams(bowel_gas=0, fractures=(fx,)), np.random.default_rng(0)
        )
        lost = (plain.vertebrae == vid) & (res.vertebrae != vid)
        gained = (plain.vertebrae != vid) & (res.vertebrae == vid)
        assert not gained.any()
        # both depressions: disc material, no label; about two paraboloids' volume
        assert (res.tissue[lost] == int(Tissue.DISC)).all()
        h = float(spine.body_height_mm[spine.labels.index("L2")])
        loc = _local(grid, spine, "L2")
        assert (loc[lost][:, 2] > 0).any() and (loc[lost][:, 2] < 0).any()
        assert np.abs(loc[lost][:, 2]).min() > h / 2 - 5.0 - 3.0
        # other vertebrae unchanged
        other = anatomy.by_name("L3").verse_id
        assert ((res.vertebrae == other) == (plain.vertebrae == other)).all()
        dense = np.isin(res.tissue, [int(Tissue.DENSE), int(Tissue.SHELL)])
        dense0 = np.isin(plain.tissue, [int(Tissue.DENSE), int(Tissue.SHELL)])
        extra = int((dense & (res.vertebrae == vid)).sum())
        extra -= int((dense0 & (plain.vertebrae == vid)).sum())
        if acute:  # a band under each depression (about 3 mm of the endplates' area)
            assert extra * 0.75**3 > 1500.0
            band = dense & ~dense0 & (res.vertebrae == vid)
            speck = float((res.tissue[band] == int(Tissue.SHELL)).mean())
            assert abs(speck - fractures.CONDENSATION_COMPACT) < 0.05
        else:
            assert extra <= 0


def _local(grid, geo, label):
    zz, yy, xx = np.meshgrid(grid.axis_mm(2), grid.axis_mm(1), grid.axis_mm(0), indexing="ij")
    n = geo.labels.index(label)
    return (np.stack([xx, yy, zz], axis=-1) - geo.centres_mm[n]) @ geo.frames[n]


def test_the_generator_bends_the_spine_at_its_fractures():
    cfg = {"fov": "lumbar", "spacing_mm": (3.0, 3.0, 3.0)}
    plain, found = generate_with_and_without(2, ("p_fracture",), **cfg)
    assert plain.meta["anatomy"]["fractures"] == ()
    drawn = found.meta["anatomy"]["fractures"]
    assert 1 <= len(drawn) <= 2
    bent = [f["label"] for f in drawn if f["ends"] != -1]
    assert found.meta["geometry_attributes"].get("fractures", []) == bent
    # the written centroids follow the bent spine and lie in their labels
    _assert_centroids_in_labels(found)


def test_fracture_constants_are_shares():
    assert sum(fractures.FRACTURE_ENDS.values()) == pytest.approx(1.0)
    assert sum(s for _, _, s in fractures.FRACTURE_PEAK) == pytest.approx(1.0)
    assert sum(s for _, _, s in fractures.FRACTURE_LOSS_BINS) == pytest.approx(1.0)


def test_a_vacuum_cleft_is_gas_in_the_front_of_the_body_under_its_endplate(spine):
    grid = _grid(spine, "L1", "L3", 0.75)
    vid = anatomy.by_name("L2").verse_id
    fx = Fracture("L2", 1, 0.0, 0.0, 3.0, 0.5, False, 2.0)
    plain, res = (
        render_labels(
            spine, grid, AnatomyParams(bowel_gas=0, fractures=(f,)), np.random.default_rng(0)
        )
        for f in (dataclasses.replace(fx, cleft_mm=0.0), fx)
    )
    gas = (res.tissue == int(Tissue.GAS)) & (res.vertebrae == vid)
    assert not ((plain.tissue == int(Tissue.GAS)) & (plain.vertebrae == vid)).any()
    loc = _local(grid, spine, "L2")[gas]
    w, d = (float(x[spine.labels.index("L2")]) for x in (spine.body_width_mm, spine.body_depth_mm))
    h = float(spine.body_height_mm[spine.labels.index("L2")])
    # about the ellipsoid's volume (4/3 pi 0.3w 0.22d 2 mm), in front of the middle, under the
    # depression's floor
    vol = gas.sum() * 0.75**3
    assert 0.6 < vol / (4 / 3 * np.pi * 0.3 * w * 0.22 * d * 2.0) < 1.3
    assert loc[:, 1].mean() < -0.1 * d
    assert loc[:, 2].max() < h / 2 and loc[:, 2].min() > h / 2 - 3.0 - 4.0 - 2.0 - 3.0


def test_vertebroplasty_cement_is_drawn_at_its_shares(spine):
    rng = np.random.default_rng(9)
    drawn = []
    for _ in range(4000):
        drawn.extend(draw_fractures(rng, spine.labels, spine.body_height_mm, 1, (0.1, 0.55), 0.3))
    treated = [f for f in drawn if f.cement_ml > 0]
    assert_share(len(treated), len(drawn), 0.3)
    assert all(fractures.CEMENT_ML[0] <= f.cement_ml <= fractures.CEMENT_ML[1] for f in treated)
    assert_share(sum(f.cement_side == 0 for f in treated), len(treated), 0.5)
    assert_share(sum(f.cement_leak != "" for f in treated), len(treated), 0.33)
    untreated = [f for f in drawn if f.cement_ml == 0]
    assert all(f.cement_leak == "" and f.cement_side == 0 for f in untreated)
    # the knob changes nothing else: the same draws with no cement
    rng0, rng1 = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(50):
        a = draw_fractures(rng0, spine.labels, spine.body_height_mm, 2, (0.1, 0.55), 0.0)
        b = draw_fractures(rng1, spine.labels, spine.body_height_mm, 2, (0.1, 0.55), 1.0)
        assert all(f.cement_ml == 0.0 for f in a) and all(f.cement_ml > 0.0 for f in b)
        assert [_bare(f) for f in a] == [_bare(f) for f in b]


def _bare(f: Fracture) -> Fracture:
    return dataclasses.replace(f, cement_ml=0.0, cement_side=0, cement_leak="", cement_phase=0.0)


@pytest.mark.parametrize(("side", "leak"), [(0, ""), (1, "disc"), (-1, "vein")])
def test_vertebroplasty_cement_fills_the_body_and_the_needle_track(spine, side, leak):
    grid = _grid(spine, "L1", "L3", 0.75)
    n = spine.labels.index("L2")
    vid = anatomy.by_name("L2").verse_id
    w, d = float(spine.body_width_mm[n]), float(spine.body_depth_mm[n])
    fx = Fracture("L2", 1, 3.0, 0.0, 0.0, 0.1, False, 0.0, 4.0, side, leak, 0.3)
    bent = fracture_geometry(spine, (fx,))
    plain, res = (
        render_labels(
            bent, grid, AnatomyParams(bowel_gas=0, fractures=(f,)), np.random.default_rng(0)
        )
        for f in (dataclasses.replace(fx, cement_ml=0.0, cement_leak=""), fx)
    )
    cement = res.tissue == int(Tissue.CEMENT)
    assert not (plain.tissue == int(Tissue.CEMENT)).any()
    assert (res.vertebrae == plain.vertebrae).all()  # the labels are kept
    loc = _local(grid, bent, "L2")
    inside = cement & (res.vertebrae == vid)
    # about the drawn volume in the body (the cloud and the track), in its front two thirds
    assert 3.0 < inside.sum() * 0.75**3 / 1000.0 < 5.5
    body = inside & (loc[..., 1] < d / 2)
    assert loc[body][:, 1].mean() < 0.0
    # the needle's track behind the posterior wall: through the pedicle(s) of its side(s)
    track = inside & (loc[..., 1] > d / 2)
    assert track.sum() > 30
    lateral = loc[track][:, 0]
    if side == 0:
        assert (lateral > 5).any() and (lateral < -5).any()
    else:
        assert (np.sign(lateral) == side).mean() > 0.95
    # only bone's core, no cortex, turned to cement in the body
    assert set(np.unique(plain.tissue[inside])) <= {
        int(t) for t in (Tissue.CANCELLOUS, Tissue.DENSE, Tissue.GAS, Tissue.FATTY_MARROW)
    }
    outside = cement & (res.vertebrae == 0)
    if leak == "":
        assert not outside.any()
    elif leak == "disc":  # a lens in the disc above, in front of the middle
        assert 100 < outside.sum() * 0.75**3 < 600
        assert (loc[outside][:, 2] > 0).all() and loc[outside][:, 1].mean() < 0
    else:  # a vein's tube at the front and side
        assert 80 < outside.sum() * 0.75**3 < 400
        assert (np.sign(loc[outside][:, 0]) == side).all()
        assert (np.abs(loc[outside][:, 0]) > 0.3 * w).all()


def test_cement_reads_brighter_than_compact_bone():
    from spinelab.synth.tissues import sample_hu_table

    hu = [sample_hu_table(np.random.default_rng(s))[int(Tissue.CEMENT)] for s in range(200)]
    cortical = [sample_hu_table(np.random.default_rng(s))[int(Tissue.CORTICAL)] for s in range(200)]
    assert np.mean(hu) == pytest.approx(2500.0, abs=100.0)
    assert np.min(np.array(hu) - np.array(cortical)) > 0


def test_a_burst_fractures_fragment_is_driven_into_the_canal(spine):
    rng = np.random.default_rng(6)
    drawn = [
        f
        for _ in range(4000)
        for f in draw_fractures(rng, spine.labels, spine.body_height_mm, 2, (0.1, 0.55))
    ]
    heights = dict(zip(spine.labels, spine.body_height_mm, strict=True))
    severe = [f for f in drawn if f.loss_mm / heights[f.label] > 0.34 and f.ends != -1]
    assert_share(sum(f.retropulsion_mm > 0 for f in severe), len(severe), fractures.P_RETROPULSION)
    lo, hi = fractures.RETROPULSION_MM
    assert all(lo <= f.retropulsion_mm <= hi for f in severe if f.retropulsion_mm > 0)
    mild = [f for f in drawn if f.loss_mm / heights[f.label] < 0.33 or f.ends == -1]
    assert all(f.retropulsion_mm == 0.0 for f in mild)
    # painted: the fragment's bone behind the posterior wall keeps the vertebra's label, the
    # canal's fluid gives way, a gap of soft tissue opens where it left
    fx = Fracture("L1", 1, 2.0, 6.0, 2.0, 0.3, True, 0.0, 0.0, 0, "", 0.0, 4.0)
    bent = fracture_geometry(spine, (fx,))
    n = bent.labels.index("L1")
    c = bent.centres_mm[n]
    z0, z1 = bent.centres_mm[n + 1, 2], bent.centres_mm[n - 1, 2]
    grid = RenderGrid((c[0] - 30, c[1] - 30, z0), (0.5, 0.5, 0.5), (int((z1 - z0) / 0.5), 160, 120))
    vid = anatomy.by_name("L1").verse_id
    plain, res = (
        render_labels(
            bent, grid, AnatomyParams(bowel_gas=0, fractures=(f,)), np.random.default_rng(0)
        )
        for f in (dataclasses.replace(fx, retropulsion_mm=0.0), fx)
    )
    gained = (res.vertebrae == vid) & (plain.vertebrae != vid)
    assert not ((plain.vertebrae == vid) & (res.vertebrae != vid)).any()
    loc = _local(grid, bent, "L1")
    wall = 0.42 * float(bent.body_depth_mm[n])
    v = gained.sum() * 0.5**3
    w = float(bent.body_width_mm[n])
    nominal = 4.0 * 2 * 0.3 * w * 8.0
    assert 0.5 * nominal < v < 1.1 * nominal
    assert (loc[gained][:, 1] >= wall - 0.5).all() and (loc[gained][:, 1] < wall + 5.5).all()
    water = int(Tissue.WATER)
    assert ((plain.tissue == water) & (res.tissue != water)).sum() * 0.5**3 > 0.5 * v
    gap = (res.tissue == int(Tissue.SOFT)) & (plain.tissue != int(Tissue.SOFT))
    assert (res.vertebrae[gap] == vid).all() and gap.sum() * 0.5**3 > 300
