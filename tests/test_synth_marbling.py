"""Fatty marbling of the muscles: few long fat septa, most cases lean."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from spinelab.synth.generator import SynthConfig, _draw_params
from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine


@pytest.fixture(scope="module")
def spine():
    return curved_spine()


@pytest.fixture(scope="module")
def back_septa(spine):
    """L2-L3 at 1 mm with 15 % marbling: ``(back muscle mask, fat septa mask)``, (z, y, x);
    the back muscles: more than 30 mm behind the vertebral centre and within 80 mm of the
    midline (render._MARBLE_SIDE_MM)."""
    c = spine.centres_mm
    n = spine.labels.index("L2")
    z_top, z_bot = c[n, 2] + 10.0, c[n + 1, 2] - 10.0
    y0 = float(c[:, 1].mean()) - 250.0
    grid = RenderGrid((-210.0, y0, float(z_bot)), (1.0, 1.0, 1.0), (int(z_top - z_bot), 360, 420))
    plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
    fatty = render_labels(
        spine, grid, AnatomyParams(bowel_gas=0, muscle_fat=0.15), np.random.default_rng(0)
    )
    y = grid.axis_mm(1)[None, :, None]
    x = grid.axis_mm(0)[None, None, :]
    back = (plain.tissue == Tissue.MUSCLE) & (y > c[n, 1] + 30.0) & (np.abs(x - c[n, 0]) < 80.0)
    return back, back & (fatty.tissue == Tissue.FAT)


def test_septa_stay_in_the_muscles_beside_the_spine(spine):
    """The chest wall's and the flanks' muscles are thin sheets without spokes of fat: no
    septa more than 110 mm from the midline at T11-T12 and L2-L3 (before: 13.5 % and 12.8 % of
    that muscle with 15 % marbling, a comb of radial lines across the chest wall), while the
    paraspinal muscles keep theirs (17.3 % and 17.8 %, as before)."""
    c = spine.centres_mm
    for label in ("T11", "L2"):
        n = spine.labels.index(label)
        z_top, z_bot = c[n, 2] + 10.0, c[n + 1, 2] - 10.0
        grid = RenderGrid(
            (-210.0, float(c[:, 1].mean()) - 250.0, float(z_bot)),
            (1.0, 1.0, 1.0),
            (int(z_top - z_bot), 360, 420),
        )
        plain = render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))
        fatty = render_labels(
            spine, grid, AnatomyParams(bowel_gas=0, muscle_fat=0.15), np.random.default_rng(0)
        )
        muscle = plain.tissue == Tissue.MUSCLE
        septa = muscle & (fatty.tissue == Tissue.FAT)
        side = np.abs(grid.axis_mm(0) - c[n, 0])[None, None, :]
        behind = (grid.axis_mm(1) > c[n, 1] + 30.0)[None, :, None]
        far = muscle & (side > 110.0)
        near = muscle & (side < 80.0) & behind
        assert far.sum() > 50000 and near.sum() > 50000
        assert septa[far].mean() < 0.001
        assert septa[near].mean() > 0.15


def _islands(back, septa):
    """Axial fat islands in the back muscle: ``(count per 10 cm2, elongations)``.

    Elongation: square root of the ratio of the largest to the smallest eigenvalue of an
    island's pixel covariance (islands of 6 pixels or more).
    """
    count, elong = 0, []
    for k in range(0, len(septa), 2):
        lab, n = ndi.label(septa[k])
        count += n
        for sl in ndi.find_objects(lab):
            pts = np.argwhere(lab[sl] > 0).astype(float)
            if len(pts) < 6:
                continue
            ev = np.linalg.eigvalsh(np.cov(pts.T))
            elong.append(np.sqrt(ev[1] / max(ev[0], 1e-3)))
    area_cm2 = back[::2].sum() / 100.0
    return 10.0 * count / area_cm2, np.array(elong)


def test_back_muscle_fat_forms_few_long_septa(back_septa):
    """Axial sections show thin elongated septa, not round dots (the old speckle)."""
    back, septa = back_septa
    assert back.sum() > 20000
    assert 0.15 < septa.sum() / back.sum() < 0.35  # still heaviest behind the spine
    _, elong = _islands(back, septa)
    assert len(elong) > 20
    assert np.median(elong) > 2.1  # old dots: 1.7


def test_septa_fan_out_backwards(back_septa):
    """The septa run antero-posteriorly (radially from in front of the spine), not sideways."""
    _, septa = back_septa
    # a septum voxel's neighbour is far more often a septum voxel along y than along x
    along_y = (septa[:, 1:] & septa[:, :-1]).sum() / septa[:, :-1].sum()
    along_x = (septa[:, :, 1:] & septa[:, :, :-1]).sum() / septa[:, :, :-1].sum()
    assert along_y > along_x + 0.05  # old streaks: 0.73 vs 0.74


def _block_shares(back, septa, b: int = 10):
    """Septa share of the back muscle in 10 mm blocks (1 mm grid) at least half muscle."""
    nz, ny, nx = (s // b for s in back.shape)

    def blocks(a):
        a = a[: nz * b, : ny * b, : nx * b].reshape(nz, b, ny, b, nx, b)
        return a.sum(axis=(1, 3, 5)).astype(float)

    mb, sb = blocks(back), blocks(septa)
    ok = mb >= 0.5 * b**3
    return sb[ok] / mb[ok]


def test_septa_come_in_patches_not_an_even_comb(back_septa):
    """Fatty infiltration is patchy: septa crowd in some fascicle groups, lean muscle between.
    The old density (a 20 mm field, gain 0.7) spread them evenly, a comb of spokes about 10 mm
    apart over the whole back in axial slices: the septa share of 10 mm blocks varied with a
    CV of 0.78 and 4.6 % of the blocks were lean (< 2 %); now 1.04 and 12.5 %."""
    back, septa = back_septa
    f = _block_shares(back, septa)
    assert len(f) > 200
    assert f.std() / f.mean() > 0.95
    assert np.mean(f < 0.02) > 0.09


def test_muscle_fat_draw_is_mostly_lean(spine):
    """Most cases get little fatty infiltration, a few (elderly-like) much."""
    cfg = SynthConfig()
    rng = np.random.default_rng(0)
    fat = np.array([_draw_params(rng, cfg, spine).muscle_fat for _ in range(400)])
    lo, hi = cfg.muscle_fat_range
    assert fat.min() >= lo and fat.max() <= hi
    assert np.median(fat) < lo + 0.35 * (hi - lo)  # uniform: 0.5
    assert np.mean(fat > lo + 0.8 * (hi - lo)) > 0.05  # a tail of heavily infiltrated cases
