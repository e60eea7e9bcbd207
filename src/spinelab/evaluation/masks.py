"""Reference centroids from vertebra masks.

Evaluation needs body centres where a dataset gives masks instead of points (VerSe's masks,
TotalSegmentator's predictions, a synthetic case's label map). The centre of a vertebra is
taken as the centre of its body's interior: the vertebra's mask eroded by ``erosion_mm``
(6 mm by default, so the thin posterior elements vanish) and the largest connected piece left,
whose voxel centre is mapped to LPS millimetres through the mask's affine. A vertebra whose
mask has no such interior (cut by the field of view, or a partial mask) is left out rather than
given a centre biased towards the cut.

Pure numpy/scipy; works on any voxel grid the affine describes (the erosion's ellipsoid uses
each axis's own spacing, so permuted or flipped axes give the same centres).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.structures import Centroids, Volume, apply_affine

#: Erosion (mm) that turns a vertebra's mask into its body's interior.
BODY_EROSION_MM = 6.0


def body_interior(
    mask: NDArray[np.bool_], spacing_mm: NDArray[np.float64], erosion_mm: float = BODY_EROSION_MM
) -> NDArray[np.bool_] | None:
    """A vertebra's body interior: ``mask`` eroded by an ellipsoid of ``erosion_mm`` (at least
    one voxel along each axis), its largest connected piece; None where nothing is left.

    Args:
        mask: ``(I, J, K)`` bool mask of one vertebra.
        spacing_mm: ``(3,)`` voxel size along i, j, k.
        erosion_mm: Erosion radius.
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return None
    rad = np.maximum(np.rint(erosion_mm / np.asarray(spacing_mm, dtype=float)).astype(int), 1)
    ii, jj, kk = np.ogrid[-rad[0] : rad[0] + 1, -rad[1] : rad[1] + 1, -rad[2] : rad[2] + 1]
    ball = (ii / rad[0]) ** 2 + (jj / rad[1]) ** 2 + (kk / rad[2]) ** 2 <= 1.0
    comp, n = ndi.label(ndi.binary_erosion(m, ball))
    if n == 0:
        return None
    sizes = np.bincount(comp.ravel())[1:]
    return np.asarray(comp == int(np.argmax(sizes)) + 1)


def body_centroids(
    labels: Volume,
    ids: Mapping[int, str] | None = None,
    erosion_mm: float = BODY_EROSION_MM,
) -> Centroids:
    """Vertebral-body centres (LPS mm) of a vertebra label map.

    Args:
        labels: Label map (integer ids) with its affine.
        ids: Label id -> vertebra name for the ids to use; None reads every id present as a
            VerSe id (:func:`spinelab.anatomy.by_verse_id`; 26 is S1, 29 spinelab's S2) and
            skips ids that are no vertebra there (27, coccyx).
        erosion_mm: Erosion that leaves the body's interior (:func:`body_interior`).

    Returns:
        Centroids in chain order, without confidence; vertebrae without a body interior are
        left out. A sacrum mask (VerSe's 26 holds S1-S5) gives the centre of the whole sacrum's
        interior under the name S1, not S1's body centre.

    Example:
        A TotalSegmentator mask (its own ids): ``body_centroids(read_image(path), {31: "L1",
        30: "L2"})``.
    """
    arr = np.asarray(labels.array)
    if ids is None:
        present = [int(v) for v in np.unique(arr) if v != 0]
        names = {}
        for v in present:
            try:
                names[v] = anatomy.by_verse_id(v).name
            except anatomy.UnknownLabelError:
                continue
    else:
        names = {int(k): anatomy.normalize_name(v) for k, v in ids.items()}
    spacing = labels.spacing_mm
    found: list[tuple[str, NDArray[np.float64]]] = []
    for vid, name in names.items():
        mask = arr == vid
        # erode within the mask's bounding box only (outside it the mask is empty either way)
        box = ndi.find_objects(mask.astype(np.uint8))
        if not box or box[0] is None:
            continue
        core = body_interior(mask[box[0]], spacing, erosion_mm)
        if core is None:
            continue
        ijk = np.argwhere(core).mean(axis=0) + [sl.start for sl in box[0]]
        found.append((name, apply_affine(labels.affine_lps, ijk[None])[0]))
    found.sort(key=lambda t: anatomy.chain_index(t[0]))
    pos = np.array([p for _, p in found], dtype=np.float64).reshape(-1, 3)
    return Centroids([n for n, _ in found], pos)
