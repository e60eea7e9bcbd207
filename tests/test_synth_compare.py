"""The comparison figure script (scripts/synth_compare.py): views shown in one LPS layout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.synth.generator import SynthConfig, generate_case

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import curved_spine

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "synth_compare.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("synth_compare", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["synth_compare"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_canonical_undoes_the_random_grid_orientation(compare, seed):
    cfg = SynthConfig(fov="lumbar", spacing_mm=(3.0, 3.0, 4.0), render_mm=4.0, p_metal=0.0)
    spine = curved_spine()
    case = generate_case(seed, cfg, geometry=spine)
    plain = generate_case(
        seed, SynthConfig(**{**cfg.__dict__, "random_orientation": False}), geometry=spine
    )
    arr, spacing, origin = compare.canonical(case.ct.array, case.ct.affine_lps)
    np.testing.assert_array_equal(arr, plain.ct.array)  # the plain grid is x, y, z = L, P, S
    np.testing.assert_allclose(spacing, [3.0, 3.0, 4.0])
    np.testing.assert_allclose(origin, plain.ct.affine_lps[:3, 3], atol=1e-6)
    # the figure's slices are the same whatever the stored orientation
    centre = case.centroids.position("L3")
    extra = (case.centroids.position("L1"), case.centroids.position("L5"))
    got = compare.views(case.ct.array, case.ct.affine_lps, centre, *extra)
    want = compare.views(plain.ct.array, plain.ct.affine_lps, centre, *extra)
    assert set(got) == {"sag", "cor", "ax", "zoom", "ax_rib", "cor_hip"}
    for key in got:
        assert got[key].ndim == 2 and min(got[key].shape) > 10
        np.testing.assert_array_equal(got[key], want[key])
