"""The upper mediastinum (``spinelab.synth.mediastinum``): the aortic arch and the course of the
descending aorta, the arch's branches and the brachiocephalic veins, the main bronchi and the
thoracic oesophagus.

Measured on axial sections of the hand-built test spine's T1-T9 thorax (1.5 mm tissue map),
relative to each level's vertebral centre (``dx``: mm left of it, LPS +x) and the vertebral
body's front (``dy``: mm in front of it). The old design had, between the neck and the heart,
the trachea and one round aorta 14 mm left of the spine and 12 mm in front of the bodies from
T4 down: no arch, no vessel at T2, no bronchi below the carina, fat in front of the spine
where the oesophagus runs and on the right of it where the azygos vein does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab.synth.render import AnatomyParams, render_labels
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import chest_grid, curved_spine

SP = 1.5


@pytest.fixture(scope="module")
def thorax():
    spine = curved_spine()
    c = spine.centres_mm
    z_top = c[spine.labels.index("T1"), 2] - 8.0
    z_bot = c[spine.labels.index("T9"), 2]
    grid = chest_grid(spine, z_top, z_bot, SP)
    res = render_labels(spine, grid, AnatomyParams(), np.random.default_rng(0))
    return spine, res


def _sections(thorax, label: str, tissue: Tissue, dz: float = 0.0):
    """Connected sections of ``tissue`` on the axial slice ``dz`` mm above ``label``'s centre:
    (area mm^2, dx, dy) each, dx mm left of the centre, dy mm in front of the body's front."""
    spine, res = thorax
    i = spine.labels.index(label)
    c = spine.centres_mm[i]
    g = res.grid
    z = g.axis_mm(2)
    k = int(np.argmin(np.abs(z - (c[2] + dz))))
    lab, n = ndi.label(res.tissue[k] == tissue)
    x, y = g.axis_mm(0), g.axis_mm(1)
    y_front = c[1] - spine.body_depth_mm[i] / 2
    out = []
    for m in range(1, n + 1):
        jj, ii = np.nonzero(lab == m)
        out.append((len(jj) * SP * SP, float(x[ii].mean() - c[0]), float(y_front - y[jj].mean())))
    return out


def test_arch_has_two_limbs_at_t4(thorax):
    big = [s for s in _sections(thorax, "T4", Tissue.BLOOD) if s[0] > 250.0]
    ascending = [s for s in big if s[1] < -5.0 and s[2] > 30.0]
    descending = [s for s in big if s[1] > 10.0 and abs(s[2]) < 20.0]
    assert ascending and descending, big


def test_descending_aorta_at_the_left_front_corner_of_the_spine(thorax):
    big = [s for s in _sections(thorax, "T8", Tissue.BLOOD) if s[0] > 350.0]
    # real: left anterolateral, against the vertebral body (the old design: 14 mm left, 12 mm
    # in front of the body at every level)
    aorta = [s for s in big if 17.0 < s[1] < 30.0 and -8.0 < s[2] < 10.0]
    assert len(aorta) == 1, big


def test_arch_branches_and_veins_at_t2(thorax):
    secs = [s for s in _sections(thorax, "T2", Tissue.BLOOD) if s[0] > 25.0]
    mediastinal = [s for s in secs if abs(s[1]) < 45.0 and s[2] > 0.0]
    # brachiocephalic trunk, left carotid and subclavian arteries, brachiocephalic veins
    assert len(mediastinal) >= 4, secs
    assert any(s[1] < 0 for s in mediastinal) and any(s[1] > 0 for s in mediastinal)


def test_main_bronchi_below_the_carina(thorax):
    gas = [s for s in _sections(thorax, "T5", Tissue.GAS, dz=-15.0) if s[0] > 60.0]
    right = [s for s in gas if -45.0 < s[1] < -8.0]
    left = [s for s in gas if 8.0 < s[1] < 45.0]
    assert len(right) == 1 and len(left) == 1, gas


def test_oesophagus_in_front_of_the_spine(thorax):
    soft = [s for s in _sections(thorax, "T7", Tissue.SOFT) if 50.0 < s[0] < 200.0]
    assert [s for s in soft if abs(s[1]) < 12.0 and 0.0 < s[2] < 20.0], soft


def test_azygos_vein_on_the_right_front_corner_of_the_spine(thorax):
    secs = [s for s in _sections(thorax, "T8", Tissue.BLOOD) if 30.0 < s[0] < 120.0]
    # about 9 mm across, against the right anterolateral surface of the vertebral body
    assert [s for s in secs if -20.0 < s[1] < -6.0 and -5.0 < s[2] < 10.0], secs
