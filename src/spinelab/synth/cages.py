"""Spinal fusion hardware besides the pedicle screws: interbody cages in the discs of an
instrumented lumbar spine, and anterior cervical fusions (a cage per disc, a plate screwed
onto the bodies' fronts: :class:`Acdf`; the plate is painted by
:func:`spinelab.synth.render.render_labels` with the other metal).

The generator's pedicle screws and rods (``SynthConfig.p_metal``) fused their levels with
nothing between the bodies, where most lumbar fusions now add an interbody device: in a
survey of 32 UK consultant spine surgeons fixation with cages was favoured over stand-alone
cages (96 %) and titanium was the most used cage material (54.3 %; "Lumbar fusion surgery:
a UK survey", PMC6039689, as its abstract gives it); in eleven studies of posterior lumbar
interbody fusion 38.5 % of 1,094 patients had titanium cages, 61.5 % PEEK ones (Massaad et
al., Neurospine 2020). Drawn here (:func:`draw_cages`): each lumbar disc between two screwed
vertebrae holds a cage with :data:`P_CAGE` (a design value), either a pair of straight
posterior cages beside the midline (PLIF) or one curved cage across the front of the disc
(TLIF), half each (design); titanium (metal, with its streaks) or PEEK (polymer of about
soft tissue's density, ``Tissue.SOFT``, with tantalum marker pins of metal: two at a PLIF
cage's ends, three along a TLIF cage) by the
meta-analysis's shares. A cage is a hollow box as tall as the disc, its window filled with
bone graft (``Tissue.DENSE``); it belongs to no vertebra (label 0). Sizes are design values
of common implants.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinelab import anatomy

#: Share of the instrumented lumbar discs with a cage (design).
P_CAGE = 0.6
#: Share of the cages that are titanium (the rest PEEK): 421 of 1,094 patients.
P_TITANIUM = 421 / 1094
#: Share of the PLIF pairs (the rest single TLIF cages), a design value.
P_PLIF = 0.5
#: A PLIF cage's half-width and half-length (mm) and its centre beside the midline (mm);
#: a TLIF cage's half-width, its arc's radius and half-angle (deg) and its centre in front of
#: the disc's middle (fraction of the depth); the wall's thickness (mm).
PLIF_HALF_MM = (5.0, 12.0)
PLIF_OFFSET_MM = 9.0
TLIF_HALF_WIDTH_MM = 5.5
TLIF_ARC = (30.0, 30.0)
TLIF_FRONT = 0.12
CAGE_WALL_MM = 1.5

# --------------------------------------------------------------------------------------------
# Anterior cervical discectomy and fusion (ACDF)
# --------------------------------------------------------------------------------------------
#: Anterior cervical discectomy and fusion, one of the most common spine operations (more
#: than five million in the United States from 1990 to 1999, mainly between C3 and T1: the
#: review "Anterior cervical discectomy and fusion", ACNR, as its introduction gives it): the
#: disc replaced by a cage and the segment held by a plate screwed onto the bodies' fronts.
#: Share of the cases with one (a design value: no population figure found).
P_ACDF = 0.02
#: The fused discs, by the vertebra above (design values: the lower cervical discs most).
ACDF_LEVELS: dict[str, float] = {"C3": 0.1, "C4": 0.2, "C5": 0.4, "C6": 0.3}
#: Shares of one, two and three fused discs (design).
ACDF_SPAN = (0.6, 0.3, 0.1)
#: Share of titanium cages (the rest PEEK; a design value: PEEK is the common cervical cage).
ACDF_P_TITANIUM = 0.25
#: The cervical cage's half-width and half-depth (mm); the plate's half-width, thickness as a
#: row of rods (radius, mm), its clearance in front of the bodies (mm); the screws' radius,
#: length and distance from the midline (mm).
ACDF_CAGE_HALF_MM = (7.0, 6.0)
PLATE_HALF_WIDTH_MM = 7.5
PLATE_ROD_MM = 1.1
PLATE_CLEAR_MM = 0.5
PLATE_SCREW = (1.9, 14.0, 5.0)


@dataclass(frozen=True)
class Cage:
    """An interbody cage in the disc below ``label``.

    Attributes:
        label: The vertebra above the disc.
        kind: ``"plif"`` (a pair) or ``"tlif"`` (one curved cage).
        titanium: Metal throughout, else PEEK with tantalum markers.
    """

    label: str
    kind: str
    titanium: bool


@dataclass(frozen=True)
class Acdf:
    """An anterior cervical fusion: cages in the discs below ``labels[:-1]``, a plate over
    the bodies of ``labels`` with two screws in each.

    Attributes:
        labels: The fused vertebrae, cranial to caudal.
        titanium: Titanium cages, else PEEK with tantalum markers.
    """

    labels: tuple[str, ...]
    titanium: bool

    def cages(self) -> tuple[Cage, ...]:
        """The cages, one per fused disc."""
        return tuple(Cage(x, "acdf", self.titanium) for x in self.labels[:-1])


def draw_acdf(
    rng: np.random.Generator, labels: list[str] | tuple[str, ...], p: float = P_ACDF
) -> Acdf | None:
    """A case's anterior cervical fusion (None with probability ``1 - p`` or where the
    spine lacks the levels); four draws whatever ``p``."""
    u = rng.random(4)
    if u[0] >= p:
        return None
    tops = list(ACDF_LEVELS)
    w = np.cumsum(list(ACDF_LEVELS.values()))
    top = tops[int(np.searchsorted(w / w[-1], u[1], side="right"))]
    span = 1 + int(np.searchsorted(np.cumsum(ACDF_SPAN), u[2], side="right"))
    if top not in labels:
        return None
    i = labels.index(top)
    chain = list(labels[i : i + span + 1])
    if "T1" in chain:  # down to T1 at most
        chain = chain[: chain.index("T1") + 1]
    if len(chain) < 2:
        return None
    return Acdf(tuple(chain), bool(u[3] < ACDF_P_TITANIUM))


def draw_cages(
    rng: np.random.Generator, screws: tuple[str, ...], labels: list[str], p: float = P_CAGE
) -> tuple[Cage, ...]:
    """Cages in the lumbar discs (down to L5-S1) between consecutive screwed vertebrae,
    each with probability ``p``; three draws per disc, whatever ``p``."""
    out = []
    for upper, lower in itertools.pairwise(screws):
        u = rng.random(3)
        if upper not in labels or lower not in labels:
            continue
        if labels.index(lower) != labels.index(upper) + 1:
            continue
        if anatomy.region_of(upper) != "lumbar":
            continue
        if u[0] < p:
            out.append(Cage(upper, "plif" if u[1] < P_PLIF else "tlif", bool(u[2] < P_TITANIUM)))
    return tuple(out)


def cage_masks(
    cage: Cage, a: Any, b: Any, e: Any, half_h: float, depth: float
) -> tuple[Any, Any, Any]:
    """The cage at ``a, b, e`` (the disc's frame, mm: left, posterior, cranial; its middle at
    0; ``half_h`` the disc's half-height, ``depth`` the bodies' mean depth).

    Returns:
        ``(shell, graft, markers)`` boolean masks: the implant's walls, the bone graft in its
        window, and (PEEK) its marker pins.
    """
    hh = max(half_h - 0.3, 1.0)
    inz = np.abs(e) <= hh
    shape = np.broadcast(a, b, e).shape
    shell = np.zeros(shape, dtype=bool)
    graft = np.zeros(shape, dtype=bool)
    markers = np.zeros(shape, dtype=bool)
    t = CAGE_WALL_MM
    if cage.kind == "acdf":  # one box across the cervical disc's middle
        hw, hl = ACDF_CAGE_HALF_MM
        u, v = np.abs(a), np.abs(b)
        outer = (u <= hw) & (v <= hl) & inz
        inner = (u <= hw - t) & (v <= hl - t)
        shell |= outer & ~inner
        graft |= outer & inner
        for pa, pb in ((0.0, -hl + 1.5), (-hw + 1.5, hl - 1.5), (hw - 1.5, hl - 1.5)):
            markers |= (np.hypot(a - pa, b - pb) < 0.6) & inz
    elif cage.kind == "plif":
        hw, hl = PLIF_HALF_MM
        for side in (1.0, -1.0):
            u, v = np.abs(a - side * PLIF_OFFSET_MM), np.abs(b - 0.05 * depth)
            outer = (u <= hw) & (v <= hl) & inz
            inner = (u <= hw - t) & (v <= hl - t)
            shell |= outer & ~inner
            graft |= outer & inner
            for pb in (-hl + 2.0, hl - 2.0):  # the PEEK cage's pins at its ends
                markers |= (np.hypot(a - side * PLIF_OFFSET_MM, b - 0.05 * depth - pb) < 0.8) & inz
    else:
        r0, half_deg = TLIF_ARC
        # a crescent across the front of the disc: an arc of radius r0 about a centre behind
        cb = -TLIF_FRONT * depth + r0
        rr = np.hypot(a, b - cb)
        ang = np.degrees(np.arctan2(a, cb - b))
        within = np.abs(ang) <= half_deg
        outer = (np.abs(rr - r0) <= TLIF_HALF_WIDTH_MM) & within & inz
        inner = (np.abs(rr - r0) <= TLIF_HALF_WIDTH_MM - t) & (np.abs(ang) <= half_deg - 4.0)
        shell |= outer & ~inner
        graft |= outer & inner
        for deg in (-half_deg + 2.0, 0.0, half_deg - 2.0):
            x = r0 * math.sin(math.radians(deg))
            y = cb - r0 * math.cos(math.radians(deg))
            markers |= (np.hypot(a - x, b - y) < 0.8) & inz
    if cage.titanium:
        markers = np.zeros(shape, dtype=bool)
    return shell, graft, markers
