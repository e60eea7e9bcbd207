"""The findings' SynthConfig knobs: 0 draws none, 1 draws some, and (for the findings that
leave the vertebrae's labels alone) the label map stays the same."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synth_spine_fixture import generate_with_and_without


@pytest.mark.parametrize(
    ("knob", "key"),
    [
        ("p_bone_islands", "bone_islands"),
        ("p_disc_calcification", "disc_calcifications"),
        ("p_haemangioma", "haemangiomas"),
        ("p_phleboliths", "phleboliths"),
    ],
)
def test_a_finding_follows_its_knob(knob, key):
    cfg = {"fov": "lumbar", "spacing_mm": (4.0, 4.0, 4.0)}
    none, some = generate_with_and_without(1, (knob,), **cfg)
    assert none.meta["anatomy"][key] == ()
    assert len(some.meta["anatomy"][key]) >= 1
    assert (none.labels.array == some.labels.array).all()
