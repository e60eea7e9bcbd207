"""Reader for the VID vertebra keypoint JSON files (Bürgin et al., MICCAI 2023).

A file is a list of keypoints ``{"coordinates": {"world_space": [x, y, z]}, "type": {...}}`` in
DICOM patient coordinates (LPS mm, so no conversion is needed). Ground-truth body points carry
``spine_level`` ("L2"); detection body points carry ``spine_segment`` ("C"/"T"/"L") and
``spine_segment_probabilities`` (unnormalized C, T, L scores). ``left``/``right`` points are the
pedicles and are not associated with a body in the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.jsonfile import read_json
from spinelab.structures import Centroids


@dataclass
class VidScan:
    """The keypoints of one VID file.

    Attributes:
        body_mm: ``(N, 3)`` body points, LPS mm, in file order.
        body_levels: ``N`` canonical labels (ground truth) or None entries (detections).
        segment_scores: ``(N, 3)`` unnormalized C, T, L scores (detections), NaN when absent.
        left_mm: ``(L, 3)`` left pedicle points. right_mm: ``(R, 3)`` right pedicle points.
    """

    body_mm: NDArray[np.float64]
    body_levels: list[str | None]
    segment_scores: NDArray[np.float64]
    left_mm: NDArray[np.float64]
    right_mm: NDArray[np.float64]

    @property
    def is_labelled(self) -> bool:
        """True when every body point has a level (a ground-truth file)."""
        return len(self.body_levels) > 0 and all(x is not None for x in self.body_levels)

    def centroids(self) -> Centroids:
        """The labelled body points as Centroids (ground-truth files only)."""
        idx = [i for i, x in enumerate(self.body_levels) if x is not None]
        return Centroids([self.body_levels[i] for i in idx], self.body_mm[idx])  # type: ignore[misc]


def _xyz(p: object, path: Path, n: int) -> list[float]:
    try:
        xyz = [float(v) for v in p["coordinates"]["world_space"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise SpinelabInputError(
            path, f"keypoint {n}: needs coordinates.world_space [x, y, z]"
        ) from None
    if len(xyz) != 3 or not np.all(np.isfinite(xyz)):
        raise SpinelabInputError(path, f"keypoint {n}: world_space must be 3 finite numbers")
    return xyz


def read_vid(path: str | os.PathLike[str]) -> VidScan:
    """Read a VID keypoint JSON file (ground truth or detections)."""
    p = Path(path)
    data = read_json(p)
    if not isinstance(data, list):
        raise SpinelabInputError(p, "not a VID keypoint file (expected a list of keypoints)")
    body: list[list[float]] = []
    levels: list[str | None] = []
    scores: list[list[float]] = []
    left: list[list[float]] = []
    right: list[list[float]] = []
    for n, kp in enumerate(data):
        t = kp.get("type", {}) if isinstance(kp, dict) else {}
        kind = t.get("keypoint_type")
        xyz = _xyz(kp, p, n)
        if kind == "body":
            body.append(xyz)
            level = t.get("spine_level")
            try:
                levels.append(None if level is None else anatomy.normalize_name(level))
            except anatomy.UnknownLabelError:
                raise SpinelabInputError(
                    p, f"keypoint {n}: unknown spine_level {level!r}"
                ) from None
            s = t.get("spine_segment_probabilities")
            scores.append([float(v) for v in s] if s is not None else [np.nan] * 3)
        elif kind == "left":
            left.append(xyz)
        elif kind == "right":
            right.append(xyz)
        else:
            raise SpinelabInputError(p, f"keypoint {n}: unknown keypoint_type {kind!r}")
    return VidScan(
        np.array(body, dtype=np.float64).reshape(-1, 3),
        levels,
        np.array(scores, dtype=np.float64).reshape(-1, 3),
        np.array(left, dtype=np.float64).reshape(-1, 3),
        np.array(right, dtype=np.float64).reshape(-1, 3),
    )
