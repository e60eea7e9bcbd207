"""The sacrum on rendered label maps: ala outline and position, sacral canal, S1/S2 fusion."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import BONE

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SP = 1.0
BONE_IDS = [int(t) for t in BONE]
SACRAL_IDS = [anatomy.by_name(v).verse_id for v in ("S1", "S2")]


def _tilted_s2(spine: SpineGeometry, deg: float) -> SpineGeometry:
    """The fixture spine with S2 as the shape model draws it (its body 22 x 36 x 25 mm, the
    means of sampled spines; the fixture's is as large as S1's) and its frame turned by ``deg``
    about its lateral axis (its top forwards): S1 and S2 meet at an angle, as in the shape
    model's spines (2-10 deg)."""
    frames = spine.frames.copy()
    n1, n2 = spine.labels.index("S1"), spine.labels.index("S2")
    h, w, d = (x.copy() for x in (spine.body_height_mm, spine.body_width_mm, spine.body_depth_mm))
    centres = spine.centres_mm.copy()
    up1 = frames[n1][:, 2]
    h[n2], w[n2], d[n2] = 22.0, 36.0, 25.0
    centres[n2] = centres[n1] - up1 * (h[n1] + h[n2]) / 2
    t = np.radians(deg)
    lat, post, up = frames[n2].T
    frames[n2] = np.stack(
        [lat, post * np.cos(t) + up * np.sin(t), up * np.cos(t) - post * np.sin(t)], axis=1
    )
    return SpineGeometry(
        labels=spine.labels,
        centres_mm=centres,
        frames=frames,
        body_height_mm=h,
        body_width_mm=w,
        body_depth_mm=d,
        disc_height_mm=spine.disc_height_mm,
    )


@pytest.fixture(scope="module")
def sacrum():
    """Tissue and vertebra labels on a 1 mm grid around S1-S2 of the fixture spine with S2
    tilted by 8 deg, the grid and the spine."""
    spine = _tilted_s2(curved_spine(), 8.0)
    c = spine.centres_mm[spine.labels.index("S1")]
    n = (int(150 / SP), int(110 / SP), int(110 / SP))
    grid = RenderGrid((c[0] - 75, c[1] - 45, c[2] - 80), (SP, SP, SP), n)
    res = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    return res.tissue, res.vertebrae, grid, spine


def _local(grid, spine, name: str, mask):
    """Local (a, b, e) mm of the voxels of ``mask`` in ``name``'s vertebra frame."""
    n = spine.labels.index(name)
    kji = np.argwhere(mask)
    xyz = np.asarray(grid.origin_mm) + kji[:, ::-1] * np.asarray(grid.spacing_mm)
    return (xyz - spine.centres_mm[n]) @ spine.frames[n]


def _sample(arr, grid, p):
    org, sp = np.array(grid.origin_mm), np.array(grid.spacing_mm)
    ijk = np.rint((p - org) / sp).astype(int)
    return arr[ijk[..., 2], ijk[..., 1], ijk[..., 0]]


def test_sacral_outline_narrows_caudally_without_straight_sides(sacrum):
    # real example CT: the sacrum is 55 mm from the midline to the sacro-iliac joint at S1's
    # upper third and narrows smoothly downwards (an ear-shaped coronal outline). The old alae
    # were slabs of constant half-width (w/2 + 28 over S1, w/2 + 26 over S2): straight
    # vertical sides and a step down at S1's ala's lower end to S2's narrower one.
    _tis, vert, grid, spine = sacrum
    n1 = spine.labels.index("S1")
    h, w = float(spine.body_height_mm[n1]), float(spine.body_width_mm[n1])
    a, _b, e = _local(grid, spine, "S1", np.isin(vert, SACRAL_IDS)).T
    h2 = float(spine.body_height_mm[spine.labels.index("S2")])
    bottom = -h / 2 - h2  # S2's lower endplate
    levels = np.arange(0.2 * h, bottom - 1.0, -3.0)  # S1's upper third to S2's lower endplate
    half = np.array([np.abs(a[np.abs(e - z) < 1.0]).max() for z in levels])
    assert half[0] >= w / 2 + 24.0, half[0]  # the alae flare 25-30 mm beyond the body
    # narrower at S2's lower endplate than at S1's upper third by 5 mm or more ...
    low = np.abs(levels - bottom).argmin()
    assert half[0] - half[low] >= 5.0, (half[0], half[low])
    # ... smoothly: no step of more than 3 mm between levels 3 mm apart, and no rise
    steps = np.diff(half)
    assert steps.min() >= -3.0 and steps.max() <= 1.5, np.round(half, 1)


def test_sacral_ala_lies_behind_the_bodys_front(sacrum):
    # real example CT, 33-45 mm from the midline at S1's centre: the ala runs from 3 mm in
    # front of to 28 mm behind the body centre; the old one from d/4 (8.5 mm) in front of it
    _tis, vert, grid, spine = sacrum
    n1 = spine.labels.index("S1")
    w, d = float(spine.body_width_mm[n1]), float(spine.body_depth_mm[n1])
    a, b, e = _local(grid, spine, "S1", np.isin(vert, SACRAL_IDS)).T
    lateral = (np.abs(a) > w / 2 + 8.0) & (np.abs(a) < w / 2 + 20.0) & (np.abs(e) < 2.0)
    front, back = b[lateral].min(), b[lateral].max()
    assert front >= -0.16 * d, front
    assert back <= d / 2 + 11.0, back


def test_sacral_canal_is_open_behind_s1(sacrum):
    # the sacral canal (a triangle behind the S1 body, 25-30 mm wide) holds the cauda equina
    # in fluid and fat; the old alae filled it with bone
    tis, _vert, grid, spine = sacrum
    n1 = spine.labels.index("S1")
    c, fr = spine.centres_mm[n1], spine.frames[n1]
    d = float(spine.body_depth_mm[n1])
    bw = 0.42 * d
    s = np.arange(bw + 2.0, bw + 10.0, 0.5)
    for de in (-5.0, 0.0, 5.0):
        p = c + s[:, None] * fr[:, 1] + de * fr[:, 2]
        bone = np.isin(_sample(tis, grid, p), BONE_IDS)
        assert bone.mean() < 0.3, (de, bone.astype(int))


def test_tilted_s1_s2_junction_has_no_wedge_gap(sacrum):
    # S1 and S2 meet at an angle (8 deg here) with no disc: the fused sacrum is bone all
    # through the junction, labelled S1 above and S2 below (the old design left a wedge of
    # soft tissue, up to 4 mm, on one side between the two endplates)
    tis, vert, grid, spine = sacrum
    n1, n2 = spine.labels.index("S1"), spine.labels.index("S2")
    c1, c2 = spine.centres_mm[n1], spine.centres_mm[n2]
    fr = spine.frames[n2]
    d2, w2 = float(spine.body_depth_mm[n2]), float(spine.body_width_mm[n2])
    t = np.linspace(0.1, 0.9, 120)[:, None]
    for da in (-0.25 * w2, 0.0, 0.25 * w2):
        for db in (-0.3 * d2, 0.0, 0.35 * d2):
            off = da * fr[:, 0] + db * fr[:, 1]
            line = c2 + off + t * (c1 - c2)
            assert np.isin(_sample(tis, grid, line), BONE_IDS).all(), (da, db)
            lab = _sample(vert, grid, line)
            assert np.isin(lab, SACRAL_IDS).all(), (da, db)


def _front_b(vert, grid, c, fr, vid: int, e: float) -> float:
    """Most anterior ``b`` (mm, the vertebra frame) of label ``vid`` on the midline at ``e``."""
    bs = np.arange(-30.0, 10.0, 0.25)
    p = c[None, :] + bs[:, None] * fr[:, 1][None, :] + e * fr[:, 2][None, :]
    on = _sample(vert, grid, p) == vid
    assert on.any(), e
    return float(bs[on].min())


def test_s1_recedes_below_the_promontory_and_s2_is_shallower(sacrum):
    # mid-sagittal: the promontory (S1's anterior-superior edge) stands in front of the pelvic
    # surface below it (the old S1 was a rectangle: its front the same at top and bottom), and
    # S2's body starts behind S1's front and thins further down
    _tis, vert, grid, spine = sacrum
    n1, n2 = spine.labels.index("S1"), spine.labels.index("S2")
    v1, v2 = (anatomy.by_name(v).verse_id for v in ("S1", "S2"))
    c1, fr1, h1 = spine.centres_mm[n1], spine.frames[n1], float(spine.body_height_mm[n1])
    c2, fr2, h2 = spine.centres_mm[n2], spine.frames[n2], float(spine.body_height_mm[n2])
    top1 = _front_b(vert, grid, c1, fr1, v1, 0.35 * h1)
    bot1 = _front_b(vert, grid, c1, fr1, v1, -0.35 * h1)
    assert bot1 - top1 > 5.0, (top1, bot1)
    # angle between the upper endplate and the anterior surface: acute, not a right angle
    ang = np.degrees(np.arctan2(0.7 * h1, bot1 - top1))
    assert 60.0 < ang < 82.0, ang
    d2 = float(spine.body_depth_mm[n2])
    top2 = _front_b(vert, grid, c2, fr2, v2, 0.3 * h2)
    bot2 = _front_b(vert, grid, c2, fr2, v2, -0.3 * h2)
    assert top2 > -d2 / 2 + 1.5 and bot2 - top2 > 2.0, (top2, bot2)
