"""Shared fixtures: the ../shared/data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
#: The seeds of :func:`like_real_cases`.
LIKE_REAL_SEEDS = (2, 6, 9)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared data not found at {SHARED_DATA} (needs ../shared/data beside the project)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def vid_dir(shared_data: Path) -> Path:
    """The VID keypoint dataset (ground_truth/ and detections/)."""
    d = shared_data / "vid"
    if not (d / "ground_truth").is_dir():
        pytest.skip(f"VID data not found at {d}")
    return d


@pytest.fixture(scope="session")
def real_example(shared_data: Path):
    """The real TotalSegmentator example CT and its model-made vertebra masks (``Image``s)."""
    from spinelab.io.images import read_image

    d = shared_data / "ct" / "totalsegmentator_example"
    return read_image(d / "ct.nii.gz"), read_image(d / "vertebra_labels_model.nii.gz")


@pytest.fixture(scope="session")
def like_real_cases():
    """Three generated thoraco-lumbar cases (case_seed(0, 2 / 6 / 9)) made as the real example
    CT was (``realism.LIKE_REAL_EXAMPLE``: 3 mm, soft kernel, no contrast, arms raised)."""
    from spinelab.synth.generator import SynthConfig, case_seed, generate_case
    from spinelab.synth.realism import LIKE_REAL_EXAMPLE

    cfg = SynthConfig(fov="thoracolumbar", **LIKE_REAL_EXAMPLE)
    return [generate_case(case_seed(0, i), cfg) for i in LIKE_REAL_SEEDS]


@pytest.fixture(scope="session")
def trunk_spine():
    """The hand-built curved test spine (``synth_spine_fixture.curved_spine``)."""
    from synth_spine_fixture import curved_spine

    return curved_spine()


@pytest.fixture(scope="session")
def trunk_case(trunk_spine):
    """Its T5-L4 trunk's label map at 2 mm, seed 0 (``synth_spine_fixture.render_t5_l4``;
    shared by the organ tests: do not modify it)."""
    from synth_spine_fixture import render_t5_l4

    return render_t5_l4(trunk_spine)


@pytest.fixture(scope="session")
def abdomen():
    """L2-L5 of the test spine on a 2 mm grid, a moderately fat patient with plenty of bowel gas
    (the bowel tests; do not modify it)."""
    import numpy as np

    from spinelab.synth.render import AnatomyParams, render_labels
    from synth_spine_fixture import abdomen_grid, curved_spine

    spine = curved_spine()
    params = AnatomyParams(fat_mm=30.0, bowel_gas=20)
    return spine, render_labels(spine, abdomen_grid(spine), params, np.random.default_rng(1))


@pytest.fixture(scope="session")
def lumbar():
    """L2-L4 of the test spine on a 1 mm grid around the spine only
    (``synth_spine_fixture.render_l2_l4``; the vertebra tests: do not modify it)."""
    from synth_spine_fixture import curved_spine, render_l2_l4

    spine = curved_spine()
    return spine, render_l2_l4(spine)
