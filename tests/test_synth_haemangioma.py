"""Vertebral haemangiomas (spinelab.synth.vertebra_shape.draw_haemangiomas).

On full-spine CT a quarter of adults have one (26.0 % of 196, Slon et al. 2015): a fatty,
hypodense region of a vertebral body crossed by thick vertical trabeculae, dots in axial
slices and stripes in sagittal ones. The generator's bodies all had the same texture.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from spinelab import anatomy
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.tissues import Tissue

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import (
    assert_share,
    centre_of,
    chest_grid,
    curved_spine,
    render_with_and_without,
)

SPINE = list(anatomy.STANDARD_LABELS)  # C1-S2


def test_haemangiomas_are_drawn_at_their_prevalence():
    rng = np.random.default_rng(0)
    draws = [vshape.draw_haemangiomas(rng, SPINE) for _ in range(20000)]
    some = [d for d in draws if d]
    p = vshape.P_HAEMANGIOMA
    assert_share(len(some), len(draws), p)
    # two or more in 7.2 % of all adults (Slon et al.): 28 % of those with any
    several = np.mean([len(d) >= 2 for d in some])
    assert abs(several - 0.072 / 0.26) < 0.03
    labels = [h.label for d in some for h in d]
    assert set(labels) <= set(SPINE[1:24])  # C2-L5
    assert all(len({h.label for h in d}) == len(d) for d in some)  # one per vertebra
    counts = np.array([labels.count(x) for x in SPINE[1:24]])
    assert counts.min() > 0.7 * counts.mean()  # every level alike


@pytest.fixture(scope="module")
def body_maps():
    """L1 of the fixture spine at 0.5 mm without and with a haemangioma of 9 mm."""
    spine = curved_spine()
    c = centre_of(spine, "L1")
    grid = chest_grid(spine, c[2] + 18.0, c[2] - 18.0, sp=0.5)
    hem = vshape.Haemangioma("L1", 0.2, -0.3, 0.1, 9.0, 3.5, (0.3, 0.6))
    return (spine, *render_with_and_without(spine, grid, haemangiomas=(hem,)))


def test_a_haemangioma_is_fat_with_vertical_trabeculae_in_its_body(body_maps):
    _, plain, with_it = body_maps
    assert (plain.vertebrae == with_it.vertebrae).all()  # the label is unchanged
    changed = plain.tissue != with_it.tissue
    assert (plain.tissue[changed] == Tissue.CANCELLOUS).all()  # the body's core only
    assert (plain.vertebrae[changed] == anatomy.by_name("L1").verse_id).all()
    new = with_it.tissue[changed]
    assert set(np.unique(new)) == {Tissue.FATTY_MARROW, Tissue.CORTICAL}
    vox = float(np.prod(plain.grid.spacing_mm))
    assert 1500.0 < changed.sum() * vox < 4.0 / 3.0 * np.pi * 9.0**3  # 3.05 cm3 on 2026-12-05
    rods = changed & (with_it.tissue == Tissue.CORTICAL)
    assert 0.1 < rods.sum() / changed.sum() < 0.35  # 0.17 on 2026-12-05
    # vertical trabeculae: each (j, i) column of rod voxels runs many slices
    runs = rods.sum(axis=0)
    assert runs[runs > 0].mean() > 12  # voxels of 0.5 mm (17.9 on 2026-12-05)
    # "polka dots": separate dots on the axial slice through the lesion's middle
    k = int(np.median(np.nonzero(rods)[0]))
    _, dots = ndi.label(rods[k])
    assert dots >= 8  # 23 on 2026-12-05
