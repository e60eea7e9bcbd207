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
