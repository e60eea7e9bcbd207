"""The two in-memory data structures: a :class:`Volume` and a set of :class:`Centroids`.

Conventions (the only ones in spinelab):
    * A volume is an array indexed ``[i, j, k]`` plus a 4x4 affine ``affine_lps`` that maps
      homogeneous voxel indices ``[i, j, k, 1]`` to world millimetres in LPS (the DICOM patient
      frame: +x left, +y posterior, +z superior).
    * Centroids are world millimetres in LPS, labelled by canonical names from
      :mod:`spinelab.anatomy`, kept in chain order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spinelab import anatomy


def _as_affine(affine: ArrayLike) -> NDArray[np.float64]:
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {a.shape}")
    if not np.allclose(a[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValueError("affine's last row must be [0, 0, 0, 1]")
    if abs(np.linalg.det(a[:3, :3])) < 1e-12:
        raise ValueError("affine is singular")
    return a


def apply_affine(affine: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """Map points ``(..., 3)`` through a 4x4 affine."""
    a = np.asarray(affine, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return p @ a[:3, :3].T + a[:3, 3]


@dataclass
class Volume:
    """A 3-D image with its geometry.

    Attributes:
        array: ``(I, J, K)`` voxel values (HU for CT, ids for label maps, any dtype).
        affine_lps: ``(4, 4)`` float64 affine mapping ``[i, j, k, 1]`` to LPS world mm.
    """

    array: NDArray[Any]
    affine_lps: NDArray[np.float64]

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim != 3:
            raise ValueError(f"a Volume is 3-D, got an array of shape {self.array.shape}")
        self.affine_lps = _as_affine(self.affine_lps)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel grid size in index order (i, j, k)."""
        s = self.array.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def spacing_mm(self) -> NDArray[np.float64]:
        """``(3,)`` voxel spacing along i, j, k in mm (column norms of the affine)."""
        return np.linalg.norm(self.affine_lps[:3, :3], axis=0)

    @property
    def direction(self) -> NDArray[np.float64]:
        """``(3, 3)`` unit direction cosines; column c is the LPS direction of index axis c."""
        return self.affine_lps[:3, :3] / self.spacing_mm

    def ijk_to_world(self, ijk: ArrayLike) -> NDArray[np.float64]:
        """Voxel indices ``(..., 3)`` (fractional allowed) to LPS world mm ``(..., 3)``."""
        return apply_affine(self.affine_lps, ijk)

    def world_to_ijk(self, pos_mm: ArrayLike) -> NDArray[np.float64]:
        """LPS world mm ``(..., 3)`` to fractional voxel indices ``(..., 3)``."""
        return apply_affine(np.linalg.inv(self.affine_lps), pos_mm)

    def orientation_codes(self) -> tuple[str, str, str]:
        """Nearest LPS axis codes of the index axes, e.g. ``("R", "A", "S")`` for RAS data.

        Each code names the world direction in which that index increases.
        """
        codes = []
        pos = ("L", "P", "S")
        neg = ("R", "A", "I")
        d = self.direction
        for c in range(3):
            axis = int(np.argmax(np.abs(d[:, c])))
            codes.append(pos[axis] if d[axis, c] > 0 else neg[axis])
        return (codes[0], codes[1], codes[2])


@dataclass
class Centroids:
    """Labelled vertebra centroids in LPS world millimetres, in chain order.

    Attributes:
        labels: Canonical vertebra names (see :mod:`spinelab.anatomy`), one per point.
        positions_mm: ``(N, 3)`` float64 LPS world mm.
        confidence: ``(N,)`` float64 in [0, 1], or None when unknown.
        source: Optional description of the image the points refer to:
            ``{"image": str, "shape": [I, J, K], "affine_lps": 4x4 list}``.
        method: Optional name of the method that produced the points ("wang2021", ...).
    """

    labels: list[str]
    positions_mm: NDArray[np.float64]
    confidence: NDArray[np.float64] | None = None
    source: dict[str, Any] | None = None
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = [anatomy.normalize_name(x) for x in self.labels]
        pos = np.asarray(self.positions_mm, dtype=np.float64).reshape(-1, 3)
        if pos.shape[0] != len(self.labels):
            raise ValueError(f"{len(self.labels)} labels but {pos.shape[0]} positions")
        if len(set(self.labels)) != len(self.labels):
            dup = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ValueError(f"duplicate vertebra labels: {', '.join(dup)}")
        conf = None
        if self.confidence is not None:
            conf = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
            if conf.shape[0] != len(self.labels):
                raise ValueError("confidence must have one value per label")
        order = np.argsort([anatomy.chain_index(x) for x in self.labels], kind="stable")
        self.labels = [self.labels[i] for i in order]
        self.positions_mm = pos[order]
        self.confidence = None if conf is None else conf[order]

    @classmethod
    def empty(cls) -> Centroids:
        """Centroids with no points."""
        return cls([], np.zeros((0, 3)))

    @classmethod
    def from_mapping(cls, points: dict[str, Sequence[float]], **kwargs: Any) -> Centroids:
        """Build from ``{"L1": (x, y, z), ...}`` (LPS mm)."""
        labels = list(points)
        pos = np.array([points[k] for k in labels], dtype=np.float64).reshape(-1, 3)
        return cls(labels, pos, **kwargs)

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[tuple[str, NDArray[np.float64]]]:
        return iter(zip(self.labels, self.positions_mm))

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and anatomy.normalize_name(label) in self.labels

    def position(self, label: str) -> NDArray[np.float64]:
        """LPS mm of ``label``; KeyError if absent."""
        name = anatomy.normalize_name(label)
        if name not in self.labels:
            raise KeyError(name)
        return self.positions_mm[self.labels.index(name)]

    def as_dict(self) -> dict[str, NDArray[np.float64]]:
        """``{label: (3,) LPS mm}`` in chain order."""
        return {k: self.positions_mm[i] for i, k in enumerate(self.labels)}

    @property
    def verse_ids(self) -> list[int]:
        """VerSe ids of the labels (S2 is 29, see :mod:`spinelab.anatomy`)."""
        return [anatomy.by_name(x).verse_id for x in self.labels]

    def subset(self, labels: Sequence[str]) -> Centroids:
        """The points whose labels are in ``labels`` (others dropped)."""
        keep = {anatomy.normalize_name(x) for x in labels}
        idx = [i for i, x in enumerate(self.labels) if x in keep]
        return Centroids(
            [self.labels[i] for i in idx],
            self.positions_mm[idx],
            None if self.confidence is None else self.confidence[idx],
            self.source,
            self.method,
            dict(self.extra),
        )
