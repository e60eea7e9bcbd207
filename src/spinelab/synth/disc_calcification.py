"""Calcified intervertebral discs.

In 223 spines (T1-L5) of cadavers of mean age 67, radiographed in 5 mm parasagittal
sections, 80 % held calcified discs: 459 of 3,568 discs (13 %), 63 % of the deposits in
the annulus fibrosus, 60 % of the discs in the lower thoracic spine, more in men, with age
and with narrowed discs (Chanchairujira et al., Radiology 2004;230:499, as its abstract
gives it; on sagittal CT such deposits show as bright foci in the disc's rim, or in its
middle). The generator's discs held none.

Drawn here (:func:`draw_disc_calcifications`): a case has calcified discs with
:data:`P_DISC_CALCIFICATION` (a design value below the cadavers' 80 %: clinical CT sees
fewer deposits than high-contrast radiographs of thin slabs, and it scans younger people),
then ``1 + Poisson(1.6)`` of its discs from T1-T2 to L5-S1 (2.6 per calcified spine, as
459 / 178), the lower thoracic discs (T9-T10 to T12-L1) drawing 60 % of them; each deposit
in the annulus (63 %: an arc of the disc's outer rim) or the nucleus (a flat lens in the
middle), of compact calcium (``Tissue.STONE``, the stones' class); sizes are design values.
They replace disc material only and belong to no vertebra.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spinelab import anatomy

#: Share of the cases with calcified discs (design; see the module's docstring).
P_DISC_CALCIFICATION = 0.4
#: Mean number of calcified discs beyond the first in such a case.
EXTRA_DISCS = 1.6
#: Share of the deposits in the annulus fibrosus (the rest in the nucleus).
P_ANNULUS = 0.63
#: Share of the calcified discs in the lower thoracic spine (below T9 to T12-L1).
LOWER_THORACIC_SHARE = 0.6
#: Annular deposits: the arc's half-angle (deg) and its radial band (fractions of the disc's
#: outline); nuclear ones: the lens's radius (mm). Both: the height (fraction of the disc's).
ANNULUS_HALF_DEG = (15.0, 45.0)
ANNULUS_BAND = (0.72, 0.95)
NUCLEUS_RADIUS_MM = (2.5, 6.0)
HEIGHT_SHARE = (0.3, 0.8)


@dataclass(frozen=True)
class DiscCalcification:
    """A calcified deposit in the disc below ``label``.

    Attributes:
        label: The vertebra above the disc.
        annulus: In the annulus fibrosus (an arc of the rim), else in the nucleus.
        angle_deg: The arc's middle, from anterior towards the left (annulus).
        half_deg: The arc's half-angle (annulus).
        radius_mm: The lens's radius (nucleus).
        height: Its height as a share of the disc's.
    """

    label: str
    annulus: bool
    angle_deg: float
    half_deg: float
    radius_mm: float
    height: float


def _lower_thoracic(upper: str) -> bool:
    """Whether the disc below ``upper`` is one of T9-T10 .. T12-L1 (T13's too)."""
    return anatomy.region_of(upper) == "thoracic" and anatomy.chain_index(upper) >= (
        anatomy.chain_index("T9")
    )


def draw_disc_calcifications(
    rng: np.random.Generator, labels: list[str] | tuple[str, ...], p: float = P_DISC_CALCIFICATION
) -> tuple[DiscCalcification, ...]:
    """A case's calcified discs (none with probability ``1 - p``), each at a distinct disc
    from T1-T2 to L5-S1 of ``labels``."""
    if rng.random() >= p:
        return ()
    discs = [
        x
        for i, x in enumerate(labels[:-1])
        if anatomy.region_of(x) in ("thoracic", "lumbar") and labels[i + 1] != "S2"
    ]
    if not discs:
        return ()
    # each deposit's region first (the lower thoracic discs at their share), then a disc of
    # it not taken yet (the other region's when none is left)
    groups = [
        [i for i, x in enumerate(discs) if _lower_thoracic(x)],
        [i for i, x in enumerate(discs) if not _lower_thoracic(x)],
    ]
    n = min(1 + int(rng.poisson(EXTRA_DISCS)), len(discs))
    chosen: list[int] = []
    for u_region, u_disc in rng.random((n, 2)):
        first = 0 if u_region < LOWER_THORACIC_SHARE else 1
        for g in (groups[first], groups[1 - first]):
            free = [i for i in g if i not in chosen]
            if free:
                chosen.append(free[int(u_disc * len(free))])
                break
    out = []
    for i in sorted(chosen):
        u = rng.random(5)
        out.append(
            DiscCalcification(
                discs[i],
                bool(u[0] < P_ANNULUS),
                round(float(360.0 * u[1] - 180.0), 1),
                round(float(ANNULUS_HALF_DEG[0] + u[2] * np.ptp(ANNULUS_HALF_DEG)), 1),
                round(float(NUCLEUS_RADIUS_MM[0] + u[3] * np.ptp(NUCLEUS_RADIUS_MM)), 2),
                round(float(HEIGHT_SHARE[0] + u[4] * np.ptp(HEIGHT_SHARE)), 3),
            )
        )
    return tuple(out)


def calcification_mask(
    calc: DiscCalcification, a: Any, b: Any, e: Any, w: float, d: float, half_h: float
) -> Any:
    """The deposit at ``a, b, e`` (the disc's frame, mm; ``w, d`` its half-width and
    half-depth, ``half_h`` its half-height)."""
    inz = np.abs(e) <= calc.height * half_h
    if not calc.annulus:
        return inz & (a * a + b * b <= calc.radius_mm**2)
    rho = np.sqrt((a / w) ** 2 + (b / d) ** 2)
    ang = np.degrees(np.arctan2(a, -b))  # 0 in front, +90 on the left
    off = (ang - calc.angle_deg + 180.0) % 360.0 - 180.0
    lo, hi = ANNULUS_BAND
    return inz & (rho >= lo) & (rho <= hi) & (np.abs(off) <= calc.half_deg)
