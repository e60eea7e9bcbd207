"""Bone islands (enostoses): small foci of compact bone inside cancellous bone.

On thoraco-abdominal CT of 46 young polytrauma patients (14-35 years; Br J Radiol 2019,
PMID 31469323) 41 (89 %) had 124 enostoses, 2-15 mm across, of 1,007-1,052 HU mean density:
34 % in the proximal femur, 22 % in the pelvis, 20 % in the acetabulum, 11 % in the
vertebrae, 11 % in the proximal humerus, 2 % in the ribs; 13 patients had one, 8 two, 9
three and 11 more than three. On CT an enostosis is a round or oval, homogeneously dense focus
whose margin blends into the trabeculae by radiating spicules ("thorny radiation").

A case has islands with :data:`P_BONE_ISLANDS`; their number follows :data:`ISLAND_COUNTS`
(the study's patients, "more than three" as four to six); each is placed by
:data:`ISLAND_SITES` (the study's shares of the sites this generator paints: the vertebral
bodies, the hip bone around the acetabulum, the proximal femur; the humerus's and ribs'
share dropped), :data:`ISLAND_MM` across (uniform; the study's range), as
``Tissue.CORTICAL`` over the bone's core only, with :data:`ISLAND_SPICULES` spicules reaching
:data:`ISLAND_SPICULE_REACH` times its radius. Vertebrae keep their labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.synth import pelvis
from spinelab.synth.painter import Painter, local_box
from spinelab.synth.tissues import Tissue

_T = Tissue

P_BONE_ISLANDS = 41.0 / 46.0
#: Number of islands of a case that has them: (count, weight) from the study's patients.
ISLAND_COUNTS: tuple[tuple[int, float], ...] = (
    (1, 13.0),
    (2, 8.0),
    (3, 9.0),
    (4, 5.0),
    (5, 4.0),
    (6, 2.0),
)
#: Where each island lies, with the study's shares.
ISLAND_SITES: dict[str, float] = {"vertebra": 11.0, "hip bone": 42.0, "femur": 34.0}
ISLAND_MM = (2.0, 15.0)
ISLAND_SPICULES = 6
ISLAND_SPICULE_REACH = 1.6
#: Cos of a spicule's half-angle.
ISLAND_SPICULE_COS = 0.97
#: Tissues an island replaces (the cores of bones).
CORES: tuple[Tissue, ...] = (_T.CANCELLOUS, _T.DENSE, _T.MARROW, _T.FATTY_MARROW)
#: How far (mm) from its drawn place an island in the hip bone or femur may move to lie in
#: the bone's core.
ISLAND_SEARCH_MM = 15.0


@dataclass(frozen=True)
class BoneIsland:
    """One enostosis.

    Attributes:
        site: "vertebra", "hip bone" or "femur".
        where: The vertebra's label, or "left" / "right".
        offset: Shares (-1..1) placing it: in a vertebral body, of its half-width, half-depth
            and half-height (times 0.6) from the body's centre; in the hip bone, across the
            box above and around the acetabulum (:func:`hip_island_point`); in the femur,
            along the neck and head, across, and around (:func:`femur_island_point`).
        diameter_mm: Its core's diameter (mm).
        spicules: Unit directions ``(ISLAND_SPICULES, 3)`` of its spicules (LPS).
    """

    site: str
    where: str
    offset: tuple[float, float, float]
    diameter_mm: float
    spicules: tuple[tuple[float, float, float], ...]


def draw_bone_islands(
    rng: np.random.Generator, labels: Sequence[str], p: float = P_BONE_ISLANDS
) -> tuple[BoneIsland, ...]:
    """A case's bone islands (:data:`P_BONE_ISLANDS`): none with probability ``1 - p``;
    vertebral ones in the spine's bodies from C2 to L5 (none there if it has none)."""
    if rng.random() >= p:
        return ()
    counts = np.array([c for c, _ in ISLAND_COUNTS])
    w = np.array([x for _, x in ISLAND_COUNTS])
    n = int(counts[rng.choice(len(counts), p=w / w.sum())])
    sites = list(ISLAND_SITES)
    ws = np.array([ISLAND_SITES[s] for s in sites])
    bodies = [
        x
        for x in labels
        if anatomy.region_of(x) in ("cervical", "thoracic", "lumbar") and x != "C1"
    ]
    out = []
    for _ in range(n):
        site = sites[int(rng.choice(len(sites), p=ws / ws.sum()))]
        if site == "vertebra":
            if not bodies:
                continue
            where = bodies[int(rng.integers(len(bodies)))]
        else:
            where = "left" if rng.random() < 0.5 else "right"
        u, v, t = (round(float(x), 3) for x in rng.uniform(-1.0, 1.0, 3))
        d = round(float(rng.uniform(*ISLAND_MM)), 2)
        dirs = rng.standard_normal((ISLAND_SPICULES, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        spicules = tuple(
            (round(float(x), 4), round(float(y), 4), round(float(z), 4)) for x, y, z in dirs
        )
        out.append(BoneIsland(site, where, (u, v, t), d, spicules))
    return tuple(out)


def island_mask(island: BoneIsland, v: NDArray[Any]) -> NDArray[np.bool_]:
    """Which points ``v`` (``(..., 3)`` mm from the island's centre, LPS) the island covers:
    its ball and its spicules (cones of :data:`ISLAND_SPICULE_COS` out to
    :data:`ISLAND_SPICULE_REACH` times its radius)."""
    r = 0.5 * island.diameter_mm
    dist = np.sqrt((v * v).sum(axis=-1))
    m = dist <= r
    unit = v / np.maximum(dist, 1e-6)[..., None]
    for s in island.spicules:
        cos = unit @ np.asarray(s)
        m |= (cos > ISLAND_SPICULE_COS) & (dist <= ISLAND_SPICULE_REACH * r)
    return np.asarray(m)


def _paint_at(pt: Painter, island: BoneIsland, centre: NDArray[np.float64], vid: int = 0) -> None:
    """Paint ``island`` round ``centre`` (LPS mm) over the bones' cores (of vertebra ``vid``
    only, if given)."""
    reach = ISLAND_SPICULE_REACH * 0.5 * island.diameter_mm + 1.0
    box = local_box(pt.grid, centre, np.eye(3), (-reach, -reach, -reach), (reach, reach, reach))
    if box is None:
        return
    sl, (a, b, e) = box
    v = np.stack(np.broadcast_arrays(a, b, e), axis=-1)
    m = island_mask(island, v)
    tis = pt.tissue[sl]
    core = np.isin(tis, CORES)
    if vid:
        core &= pt.vert[sl] == vid
    tis[m & core] = _T.CORTICAL


def paint_vertebral_island(
    pt: Painter,
    island: BoneIsland,
    centre: NDArray[np.float64],
    frame: NDArray[np.float64],
    vid: int,
    h: float,
    w: float,
    d: float,
) -> None:
    """A vertebral island in the painted body of vertebra ``vid`` (centre, frame, height,
    width and depth, mm)."""
    u, v, t = island.offset
    local = np.array([0.6 * u * w / 2, 0.6 * v * d / 2, 0.6 * t * h / 2])
    _paint_at(pt, island, centre + frame @ local, vid)


def hip_island_point(island: BoneIsland, hip: NDArray[np.float64], scale: float) -> Any:
    """Where an island of the hip bone is drawn (LPS mm): around and above the acetabulum of
    the hip centre ``hip`` (from 15 mm below to 45 mm above it, 20 mm either way front to back,
    and 5-35 mm medial of it), times the body scale across."""
    side = 1.0 if island.where == "left" else -1.0
    u, v, t = island.offset
    medial = -side * (20.0 + 15.0 * u) * scale
    return hip + np.array([medial, 20.0 * v * scale, 15.0 + 30.0 * t])


def femur_island_point(island: BoneIsland, hip: NDArray[np.float64], neck: Any) -> Any:
    """Where an island of the proximal femur is drawn (LPS mm): from the head's centre
    ``hip`` down the neck (unit vector ``neck`` towards the head) 0-50 mm, up to 8 mm off its
    axis."""
    u, v, t = island.offset
    along = 25.0 * (1.0 + u)
    off = np.cross(neck, np.array([0.0, 1.0, 0.0]))
    off /= max(float(np.linalg.norm(off)), 1e-6)
    off2 = np.cross(neck, off)
    return hip - along * neck + 8.0 * v * off + 8.0 * t * off2


def paint_pelvic_islands(
    pt: Painter,
    islands: Sequence[BoneIsland],
    hips: NDArray[np.float64],
    scale: float,
    necks: Sequence[Any],
) -> None:
    """The islands of the hip bones and proximal femora, each at the nearest voxel of a
    bone's core within :data:`ISLAND_SEARCH_MM` of its drawn place (``hips``: ``(2, 3)``
    left and right hip centres; ``necks``: the femoral necks' unit vectors towards the
    heads, left and right)."""
    for island in islands:
        if island.site == "vertebra":
            continue
        i = 0 if island.where == "left" else 1
        if island.site == "hip bone":
            at = hip_island_point(island, hips[i], scale)
        else:
            at = femur_island_point(island, hips[i], necks[i])
        # the nearest place with core all round the island's radius, else any core voxel
        best = pt.nearest_room(at, CORES, 0.5 * island.diameter_mm, ISLAND_SEARCH_MM)
        if best is not None:
            _paint_at(pt, island, best)


def neck_directions() -> list[Any]:
    """The femoral necks' unit vectors (towards the heads), left and right."""
    return [pelvis.femur_axes(side)[0] for side in (1.0, -1.0)]
