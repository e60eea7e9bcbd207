"""Painter.ellipse2d's ``y_below`` band: the rows above a cut of a large ellipse, with the mask
worked out on those rows alone, paint exactly what the full ellipse masked by ``y < y_below``
paints (the couch under the back is such a band)."""

from __future__ import annotations

import numpy as np
import pytest

from spinelab.synth.painter import Painter, RenderGrid
from spinelab.synth.tissues import Tissue


def _painter() -> Painter:
    grid = RenderGrid((-100.3, -80.7, 0.0), (0.78, 0.78, 1.0), (2, 230, 260))
    pt = Painter(grid)
    rng = np.random.default_rng(3)
    pt.tissue[:] = rng.choice([int(Tissue.FAT), int(Tissue.MUSCLE)], size=pt.tissue.shape)
    return pt


@pytest.mark.parametrize(
    ("cy", "ry", "y_below", "power"),
    [
        (80.0, 90.0, 0.2, 2.0),  # cut through the middle
        (60.0, 70.0, -30.0, 2.5),  # a thin band at the top, superellipse
        (-60.0, 20.0, 100.0, 2.0),  # cut below the ellipse: the whole ellipse
        (50.0, 20.0, 10.0, 2.0),  # cut above the ellipse: nothing
        (0.0, 40.0, -80.7 + 0.78 * 7, 2.0),  # cut exactly on a row centre (that row is out)
    ],
)
def test_ellipse2d_band_equals_masked_ellipse(
    cy: float, ry: float, y_below: float, power: float
) -> None:
    band, masked = _painter(), _painter()
    kw = {"only": (int(Tissue.FAT),), "power": power}
    band.ellipse2d(1, 3.1, cy, 130.0, ry, int(Tissue.AIR), y_below=y_below, **kw)
    masked.ellipse2d(1, 3.1, cy, 130.0, ry, int(Tissue.AIR), extra=lambda x, y: y < y_below, **kw)
    np.testing.assert_array_equal(band.tissue, masked.tissue)
    painted = band.tissue[1] == Tissue.AIR
    assert not painted[band.y >= y_below].any()
    assert (band.tissue[0] != Tissue.AIR).all()


def test_ellipse_window_stops_at_row() -> None:
    pt = _painter()
    full = pt.ellipse_window(0.0, 0.0, 50.0, 40.0)
    cut = pt.ellipse_window(0.0, 0.0, 50.0, 40.0, j_stop=100)
    assert full is not None and cut is not None
    i0, i1, j0, j1, m = cut
    assert j1 == 100 and (i0, i1, j0) == full[:3]
    np.testing.assert_array_equal(m, full[4][: j1 - j0])


def test_ellipse_window_with_a_back_power_joins_two_superellipses() -> None:
    # the trunk's cavity: rounder in front (power 1.8), squarer behind (2.8); each half is
    # the superellipse of its power, and the two meet at the centre row
    pt = _painter()
    cy = 5.0
    two = pt.ellipse_window(3.1, cy, 90.0, 60.0, 1.8, power_back=2.8)
    front = pt.ellipse_window(3.1, cy, 90.0, 60.0, 1.8)
    back = pt.ellipse_window(3.1, cy, 90.0, 60.0, 2.8)
    assert two is not None and front is not None and back is not None
    assert two[:4] == front[:4] == back[:4]
    rows = pt.y[two[2] : two[3]] > cy
    np.testing.assert_array_equal(two[4][~rows], front[4][~rows])
    np.testing.assert_array_equal(two[4][rows], back[4][rows])
    assert back[4].sum() > front[4].sum()  # the squarer half is the fuller one
