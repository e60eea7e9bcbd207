"""Degenerative change: marginal osteophytes at the vertebral endplates' rims."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth import vertebra_shape as vs
from spinelab.synth.generator import SynthConfig, generate_case
from spinelab.synth.render import AnatomyParams, RenderGrid, RenderResult, render_labels
from spinelab.synth.tissues import BONE, Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine
from synth_spine_fixture import local_coords as _local

BONE_IDS = [int(t) for t in BONE]
#: An 8 mm spur at L3's inferior rim (anterior, +-80 deg) and a 5 mm one at its superior rim
#: (centred 60 deg to the left).
SPURS = (vs.Spur("L3", -1, 8.0, 0.0, 80.0), vs.Spur("L3", 1, 5.0, 60.0, 60.0))


def _render(spine, params: AnatomyParams) -> RenderResult:
    c = spine.centres_mm
    n2, n4 = spine.labels.index("L2"), spine.labels.index("L4")
    z_bot, z_top = c[n4, 2] - 25.0, c[n2, 2] + 25.0
    y0 = float(c[n2 : n4 + 1, 1].min()) - 40.0
    grid = RenderGrid((-60.0, y0, z_bot), (1.0, 1.0, 1.0), (int(z_top - z_bot), 150, 120))
    return render_labels(spine, grid, params, np.random.default_rng(0))


@pytest.fixture(scope="module")
def pair():
    spine = curved_spine()
    plain = _render(spine, AnatomyParams(bowel_gas=0))
    spurs = _render(spine, AnatomyParams(bowel_gas=0, osteophytes=SPURS))
    return spine, plain, spurs


def _bone(res, vid: int):
    return (res.vertebrae == vid) & np.isin(res.tissue, BONE_IDS)


def test_spur_projects_beyond_the_anterior_rim_and_curls_to_the_disc(pair):
    spine, plain, spurs = pair
    vid = anatomy.by_name("L3").verse_id
    n = spine.labels.index("L3")
    h, d = spine.body_height_mm[n], spine.body_depth_mm[n]
    front = {}
    for key, res in (("plain", plain), ("spurs", spurs)):
        abe = _local(spine, res, "L3", _bone(res, vid))
        low = abe[(abe[:, 2] < -h / 2 + 4.0) & (np.abs(abe[:, 0]) < 4.0)]
        front[key] = low[:, 1].min()
    # the inferior rim's 8 mm lip reaches 5+ mm in front of the plain body's rim
    assert front["plain"] - front["spurs"] > 5.0
    # the tip curls down towards the disc below: bone in front of the wall below the endplate
    abe = _local(spine, spurs, "L3", _bone(spurs, vid))
    tip = abe[(abe[:, 1] < -d / 2 - 4.0) & (np.abs(abe[:, 0]) < 4.0)]
    assert len(tip) > 0
    assert tip[:, 2].min() < -h / 2 - 0.5


def test_spur_voxels_are_bone_of_their_vertebra_not_posterior(pair):
    spine, plain, spurs = pair
    vid = anatomy.by_name("L3").verse_id
    added = np.isin(spurs.tissue, BONE_IDS) & ~np.isin(plain.tissue, BONE_IDS)
    assert added.sum() > 300
    # every new bone voxel carries L3's label; no other vertebra changed
    assert np.all(spurs.vertebrae[added] == vid)
    for other in ("L2", "L4"):
        ov = anatomy.by_name(other).verse_id
        assert np.array_equal(spurs.vertebrae == ov, plain.vertebrae == ov)
    # anterior and lateral only: nothing added behind the body's centre (the canal side)
    n = spine.labels.index("L3")
    abe = _local(spine, spurs, "L3", added)
    d = spine.body_depth_mm[n]
    assert abe[:, 1].max() < 0.45 * d / 2
    dims = vs.level_dims("L3")
    assert not np.any(vs.canal_mask(abe[:, 0], abe[:, 1], vs.posterior_wall(d), dims, 2.0))
    # bone with a cortex and a cancellous core (not a solid cortical blob)
    tis = spurs.tissue[added]
    assert np.any(tis == Tissue.CANCELLOUS) and np.any(tis == Tissue.SHELL)
    # the superior spur is centred to the left (+a): more added bone on the left at the top
    top = abe[abe[:, 2] > 0]
    assert (top[:, 0] > 5).sum() > 2 * (top[:, 0] < -5).sum()


def _draw_many(n: int):
    labels = [v.name for v in anatomy.CHAIN if not v.transitional]
    depths = np.array([vs_depth(x) for x in labels])
    lumbar = [x for x in labels if anatomy.region_of(x) == "lumbar"]
    out = []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        deg = tuple(x for x in lumbar if rng.random() < 0.5) if seed % 3 == 0 else ()
        out.append((deg, vs.draw_spurs(rng, labels, depths, deg)))
    return labels, out


def vs_depth(name: str) -> float:
    region = anatomy.region_of(name)
    return {"cervical": 16.0, "thoracic": 26.0}.get(region, 34.0)


def test_spur_distribution_follows_degeneration_and_level():
    labels, draws = _draw_many(300)
    with_deg = [s for deg, s in draws if deg]
    without = [s for deg, s in draws if not deg]
    # every case with degenerated discs has spurs; some but not all of the others
    assert all(with_deg)
    share = np.mean([bool(s) for s in without])
    assert 0.35 < share < 0.75
    # rims next to a degenerated disc carry spurs more often than other lumbar rims
    near, far = [0, 0], [0, 0]
    lumbar_rims = [(x, e) for x in labels if anatomy.region_of(x) == "lumbar" for e in (1, -1)]
    for deg, spurs in draws:
        if not deg:
            continue
        have = {(s.label, s.end) for s in spurs}
        for x, e in lumbar_rims:
            i = labels.index(x)
            owner = labels[i - 1] if e == 1 else x
            cnt = near if owner in deg else far
            cnt[0] += (x, e) in have
            cnt[1] += 1
    assert near[0] / near[1] > far[0] / far[1] + 0.2
    all_spurs = [s for _, spurs in draws for s in spurs]
    lengths = np.array([s.length_mm for s in all_spurs])
    assert lengths.min() >= 2.0 and lengths.max() <= 10.0
    assert 2.5 < np.median(lengths) < 5.0

    # lumbar rims more often than mid-thoracic ones; nothing posterior
    def rate(names: set[str]) -> float:
        k = sum(s.label in names for s in all_spurs)
        return k / (2 * len(names) * len(draws))

    assert rate({"L2", "L3", "L4"}) > 1.5 * rate({"T4", "T5", "T6"})
    assert all(abs(s.centre_deg) + 0.0 <= vs.OSTEOPHYTE_MAX_DEG - 30.0 for s in all_spurs)
    assert not any(s.label in ("C1", "S2") or (s.label == "S1" and s.end < 0) for s in all_spurs)


def test_generated_case_has_labelled_spurs_in_front_of_the_bodies():
    """Seed 8, lumbar FOV: degenerated L4-L5 disc, several 5-8 mm spurs (L2 up, L4 up, L5 up)."""
    case = generate_case(8, SynthConfig(fov="lumbar", spacing_mm=(2.0, 2.0, 2.0)))
    geo = case.geometry
    lab = case.labels
    ijk = np.argwhere(lab.array > 0)
    xyz = ijk @ lab.affine_lps[:3, :3].T + lab.affine_lps[:3, 3]
    vids = lab.array[tuple(ijk.T)]
    beyond = 0
    for name in ("L1", "L2", "L3", "L4", "L5"):
        n = geo.labels.index(name)
        sel = vids == anatomy.by_name(name).verse_id
        abe = (xyz[sel] - geo.centres_mm[n]) @ geo.frames[n]
        h, d = geo.body_height_mm[n], geo.body_depth_mm[n]
        rim = (np.abs(abe[:, 2]) > h / 2 - 5.0) & (np.abs(abe[:, 0]) < 6.0)
        beyond += int(np.sum(rim & (abe[:, 1] < -d / 2 - 3.0)))
    # the plain bodies never reach 3 mm in front of their outline; the spurs do
    assert beyond >= 3
    assert case.meta["anatomy"]["osteophytes"]


def test_schmorl_node_is_disc_in_a_sclerotic_rim():
    spine = curved_spine()
    node = vs.SchmorlNode("L3", 1, 0.0, 3.0, 4.5, 4.0)
    plain = _render(spine, AnatomyParams(bowel_gas=0))
    res = _render(spine, AnatomyParams(bowel_gas=0, schmorl_nodes=(node,)))
    vid = anatomy.by_name("L3").verse_id
    n = spine.labels.index("L3")
    h = spine.body_height_mm[n]
    lost = (plain.vertebrae == vid) & (res.vertebrae != vid)
    # the depression: disc material, no vertebra label, under L3's superior endplate
    assert lost.sum() > 60
    assert np.all(res.vertebrae[lost] == 0)
    assert np.all(res.tissue[lost] == Tissue.DISC)
    abe = _local(spine, res, "L3", lost)
    assert abe[:, 2].min() < h / 2 - vs.ENDPLATE_CUP_MM[0] - 2.5
    assert np.abs(abe[:, 0]).max() < 6.0
    # rimmed by compact bone: more CORTICAL voxels in L3 than without the node
    cort = [np.sum((r.vertebrae == vid) & (r.tissue == Tissue.CORTICAL)) for r in (plain, res)]
    assert cort[1] - cort[0] > 60
    # the other vertebrae are untouched
    other = res.vertebrae != vid
    assert np.array_equal(
        res.vertebrae[other & (plain.vertebrae != vid)],
        plain.vertebrae[other & (plain.vertebrae != vid)],
    )


def test_schmorl_nodes_drawn_in_a_minority_of_cases_at_lower_thoracic_upper_lumbar():
    labels = [v.name for v in anatomy.CHAIN if not v.transitional]
    w = np.array([40.0] * len(labels))
    d = np.array([vs_depth(x) for x in labels])
    draws = [vs.draw_schmorl_nodes(np.random.default_rng(s), labels, w, d) for s in range(400)]
    share = np.mean([bool(x) for x in draws])
    assert 0.2 < share < 0.4
    levels = [vs.level_number(nd.label) for x in draws for nd in x]
    assert min(levels) >= 13.0 and max(levels) <= 23.0
    assert np.median(levels) >= 17.0
