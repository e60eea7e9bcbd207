"""The interface between the spine shape model and the renderer: one sampled spine.

The shape model (:mod:`spinelab.synth.shape_model`) samples :class:`SpineGeometry` objects; the
renderer (:mod:`spinelab.synth.render`) turns one into a label map and a CT. All positions are
world millimetres in LPS (+x patient left, +y posterior, +z superior), in a frame where the
patient lies roughly along z; the renderer places the voxel grid around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.structures import Centroids


@dataclass
class SpineGeometry:
    """One whole spine, cranial to caudal.

    Attributes:
        labels: Canonical vertebra names in chain order (C1..S2, T13/L6 when present).
        centres_mm: ``(N, 3)`` vertebral-body centres, LPS mm.
        frames: ``(N, 3, 3)`` orthonormal, right-handed vertebra frames; column 0 is the
            vertebra's own left axis, column 1 its posterior axis (towards the spinous process),
            column 2 its cranial axis (endplate normal, pointing up the chain).
        body_height_mm: ``(N,)`` cranio-caudal height of each vertebral body.
        body_width_mm: ``(N,)`` left-right width of each vertebral body.
        body_depth_mm: ``(N,)`` antero-posterior depth of each vertebral body.
        disc_height_mm: ``(N - 1,)`` height of the disc below each vertebra (0 where there
            is none, e.g. C1-C2 or S1-S2).
        attributes: Free-form facts about the sample (scoliosis degree, body scale, ...),
            JSON-serializable.
    """

    labels: list[str]
    centres_mm: NDArray[np.float64]
    frames: NDArray[np.float64]
    body_height_mm: NDArray[np.float64]
    body_width_mm: NDArray[np.float64]
    body_depth_mm: NDArray[np.float64]
    disc_height_mm: NDArray[np.float64]
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = [anatomy.normalize_name(x) for x in self.labels]
        n = len(self.labels)
        self.centres_mm = np.asarray(self.centres_mm, dtype=np.float64).reshape(n, 3)
        self.frames = np.asarray(self.frames, dtype=np.float64).reshape(n, 3, 3)
        for name in ("body_height_mm", "body_width_mm", "body_depth_mm"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(n))
        self.disc_height_mm = np.asarray(self.disc_height_mm, dtype=np.float64).reshape(
            max(n - 1, 0)
        )
        idx = [anatomy.chain_index(x) for x in self.labels]
        if idx != sorted(idx) or len(set(idx)) != n:
            raise ValueError("SpineGeometry labels must be unique and in chain order")

    def __len__(self) -> int:
        return len(self.labels)

    def centroids(self) -> Centroids:
        """The vertebral-body centres as :class:`~spinelab.structures.Centroids`."""
        return Centroids(list(self.labels), self.centres_mm.copy())

    def transformed(
        self, rotation: NDArray[np.float64], translation_mm: NDArray[np.float64]
    ) -> SpineGeometry:
        """The same spine moved rigidly: ``x -> rotation @ x + translation_mm``."""
        r = np.asarray(rotation, dtype=np.float64)
        t = np.asarray(translation_mm, dtype=np.float64)
        return SpineGeometry(
            list(self.labels),
            self.centres_mm @ r.T + t,
            np.einsum("ij,njk->nik", r, self.frames),
            self.body_height_mm.copy(),
            self.body_width_mm.copy(),
            self.body_depth_mm.copy(),
            self.disc_height_mm.copy(),
            dict(self.attributes),
        )
