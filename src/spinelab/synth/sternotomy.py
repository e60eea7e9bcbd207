"""A median sternotomy's steel wires round the sternum, and its split.

Open-heart surgery opens the sternum down the midline and closes it with steel wires round
both halves. On CT of 131 patients after coronary bypass or aortic valve surgery 4.2 +- 0.5
wires had been placed (96 % of them figure-of-eight), the first about 11 mm below the
manubrium's upper edge, and 32 % of the patients showed sternal anomalies, mostly non-union
of the manubrium (Rodriguez Cetina Biefer et al., Thorac Cardiovasc Surg 2018;66:517, as
its abstract gives it). The wires are the brightest objects in front of the thoracic spine
and streak like other metal. The generator had none.

Drawn here (:func:`draw_sternotomy`): a case has had a sternotomy with :data:`P_STERNOTOMY`
(a design value for a clinical CT population: no figure found in the sources read), 4 + a
Bernoulli(0.2) fifth wire (about 4.2), spaced evenly from 11 mm below the manubrium's top to
15 mm above the sternum's lower end; each a loop of steel round the sternum in the axial
plane (:data:`WIRE_RADIUS_MM`, 2 mm clear of the bone; ``Tissue.WIRE``, steel's attenuation
before partial volume; figure-of-eight loops drawn as simple ones), and the split: a midline gap through the sternum, left open (non-union) in a
third of the cases (:data:`P_SPLIT_OPEN`; the study's 32 %), healed to one bone otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.painter import Painter, densify
from spinelab.synth.tissues import Tissue

_T = Tissue

#: Share of the cases with a median sternotomy (design).
P_STERNOTOMY = 0.03
#: The wires: first one below the manubrium's top, last one above the sternum's lower end
#: (mm); the wire's radius on the image (mm; steel of about 1 mm, bloomed) and its clearance
#: from the bone (mm).
FIRST_WIRE_MM = 11.0
LAST_WIRE_MM = 15.0
WIRE_RADIUS_MM = 0.7
WIRE_CLEAR_MM = 2.0
#: Share of the sternotomies whose split stays open (non-union), and its width (mm).
P_SPLIT_OPEN = 0.32
SPLIT_MM = 1.5


@dataclass(frozen=True)
class Sternotomy:
    """A median sternotomy.

    Attributes:
        wires: Number of wires.
        split_open: The split has not healed (a midline gap through the sternum).
    """

    wires: int
    split_open: bool


def draw_sternotomy(rng: np.random.Generator, p: float = P_STERNOTOMY) -> Sternotomy | None:
    """A case's sternotomy (None with probability ``1 - p``); three draws whatever ``p``."""
    u = rng.random(3)
    if u[0] >= p:
        return None
    return Sternotomy(4 + int(u[1] < 0.2), bool(u[2] < P_SPLIT_OPEN))


#: A sternum's axial section at a height: ``(centre x, centre y, half-width, half-depth)``
#: in mm, or None where there is none.
Section = Callable[[float], "tuple[float, float, float, float] | None"]


def paint_sternotomy(
    pt: Painter, sternotomy: Sternotomy, z_top: float, z_bot: float, section: Section
) -> NDArray[np.float64]:
    """Paint the wires and an open split over the sternum from ``z_top`` down to ``z_bot``
    (``section`` its axial outline at a height); returns the wires' points (for the metal
    streaks)."""
    grid_z = pt.z
    hi, lo = z_top - FIRST_WIRE_MM, z_bot + LAST_WIRE_MM
    points: list[NDArray[np.float64]] = []
    if sternotomy.split_open:  # a midline gap through the sternum's bone
        k0, k1 = pt.grid.index_range(2, z_bot, z_top)
        bone = (int(_T.CORTICAL), int(_T.MARROW), int(_T.SHELL), int(_T.DENSE))
        xs = pt.grid.axis_mm(0)
        ys = pt.grid.axis_mm(1)
        for k in range(k0, k1):
            sec = section(float(grid_z[k]))
            if sec is None:
                continue
            cx, cy, _hw, hd = sec
            i0, i1 = np.searchsorted(xs, [cx - SPLIT_MM / 2, cx + SPLIT_MM / 2])
            j0, j1 = np.searchsorted(ys, [cy - hd - 1.0, cy + hd + 1.0])
            sub = pt.tissue[k, j0:j1, i0:i1]
            sub[np.isin(sub, bone)] = _T.SOFT
    for t in np.linspace(0.0, 1.0, sternotomy.wires):
        z = hi + (lo - hi) * float(t)
        k = int(np.argmin(np.abs(grid_z - z)))  # on a slice of the grid: the thin loop shows
        z = float(grid_z[k])
        sec = section(z)
        if sec is None:
            continue
        cx, cy, hw, hd = sec
        ang = np.linspace(0.0, 2.0 * math.pi, 97)
        ring = np.stack(
            [
                cx + (hw + WIRE_CLEAR_MM) * np.cos(ang),
                cy + (hd + WIRE_CLEAR_MM) * np.sin(ang),
                np.full_like(ang, z),
            ],
            axis=1,
        )
        pt.tube(ring, WIRE_RADIUS_MM, _T.WIRE)
        points.append(densify(ring, 4.0))
    return np.concatenate(points) if points else np.zeros((0, 3))
