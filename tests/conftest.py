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
