"""The findings' SynthConfig knobs: 0 draws none, 1 draws some, and (for the findings that
leave the vertebrae's labels alone) the label map stays the same."""

from __future__ import annotations

import pytest

from spinelab.synth.generator import SynthConfig, case_seed, generate_case


@pytest.mark.parametrize(
    ("knob", "key"),
    [
        ("p_bone_islands", "bone_islands"),
        ("p_haemangioma", "haemangiomas"),
        ("p_phleboliths", "phleboliths"),
    ],
)
def test_a_finding_follows_its_knob(knob, key):
    cfg = {"fov": "lumbar", "spacing_mm": (4.0, 4.0, 4.0)}
    none = generate_case(case_seed(0, 1), SynthConfig(**cfg, **{knob: 0.0}))
    some = generate_case(case_seed(0, 1), SynthConfig(**cfg, **{knob: 1.0}))
    assert none.meta["anatomy"][key] == ()
    assert len(some.meta["anatomy"][key]) >= 1
    assert (none.labels.array == some.labels.array).all()
