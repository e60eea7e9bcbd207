"""Shared fixtures: the ../shared/data folder (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


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

    from spinelab.synth.render import AnatomyParams, RenderGrid, render_labels
    from synth_spine_fixture import curved_spine

    spine = curved_spine()
    c = spine.centres_mm
    z_top = c[spine.labels.index("L2"), 2] + 10.0
    z_bot = c[spine.labels.index("L5"), 2] - 10.0
    sp = 2.0
    n = (int((z_top - z_bot) / sp) + 1, int(360 / sp), int(420 / sp))
    grid = RenderGrid((-210.0, float(c[:, 1].mean()) - 250.0, z_bot), (sp, sp, sp), n)
    params = AnatomyParams(fat_mm=30.0, bowel_gas=20)
    return spine, render_labels(spine, grid, params, np.random.default_rng(1))
