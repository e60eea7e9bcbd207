"""Vertebral compression fractures: their shapes, levels and severities, and the spine's
bend at a fractured vertebra.

A fracture lowers a vertebral body's superior endplate (most), its inferior one (rarely) or
both (:data:`FRACTURE_ENDS`). Each lowered endplate takes two parts:

- a *plane* part, superior endplate only: the rim drops by :attr:`Fracture.anterior_mm` at
  the front and by :attr:`Fracture.posterior_mm` at the back (a wedge, or a crush where the
  back drops too). The spine follows it: :func:`fracture_geometry` shortens the body by the
  back's drop (everything above moves down) and turns everything above about the body's
  posterior-superior rim by the wedge's angle, so the disc above lies on the lowered
  endplate (a kyphotic step at the fracture), taking the angle back over the next
  :data:`FRACTURE_COMPENSATION_DISCS` discs above (the spine keeps its overall posture);
- a *bowl* part: a central depression of depth :attr:`Fracture.bowl_mm`, deepest at
  :attr:`Fracture.peak` front to back and flat at the rim, filled with disc material (no
  vertebra label) and lined with compact bone, as a broad Schmorl node
  (:func:`bowl_masks`). The rim keeps its height, so the geometry does not change.

A fresh fracture also shows a zone of condensation, a band of impacted, denser trabecular
bone under the fractured endplate (:data:`CONDENSATION_MM`; the "line of condensation from
trabecular impaction" of acute compression fractures on radiographs and CT, absent in old
ones: the radiopaedia entry on acute vertebral compression fracture and a table of new
versus old fractures in Chiropr Man Therap 2024, doi 10.1186/s12998-024-00545-0). Some
severe fractures hold an intravertebral vacuum cleft (:func:`cleft_masks`) or drive their
posterior-superior corner into the spinal canal (a burst fracture,
:func:`retropulsion_masks`); some are treated with vertebroplasty cement
(:func:`cement_masks`). :func:`spinelab.synth.render.render_labels` paints all of them.

The shares, from the studies this module cites by name:

- endplates (:data:`FRACTURE_ENDS`): in 263 traumatic endplate fractures of 194 patients
  (Wang et al., Chin Med J 2020;133:2696, PMC7647501) 12.6 % involved both endplates and
  1.9 % the inferior one alone, the rest the superior one; osteoporotic fractures too involve
  the upper endplate far more often (Che-Nordin et al., Ann Transl Med 2018, its title);
- the deepest point (:data:`FRACTURE_PEAK`): with each endplate cut into five equal segments
  front to back (a1, a2, m, p2, p1), the superior endplate's deepest point lay mostly in a2
  (about 45 %), then a1 (about 20 %) or m (about 20 %), very rarely in p1 (the same study; the
  remaining 15 % here in p2);
- the height lost (:data:`FRACTURE_LOSS_BINS`): under 1/5 of the body's height in 58.6 %,
  1/5 to 1/3 in 30.0 %, more than 1/3 in 11.4 % (the same study);
- the levels (:data:`FRACTURE_LEVEL_WEIGHT`): studies of osteoporotic fractures graded by
  Genant's method consistently find two foci, mid-thoracic at T7/T8 and thoraco-lumbar at
  T12/L1 (as reviewed in the introduction of Osteoporos Int 2012, doi
  10.1007/s00198-011-1837-1); in 1,530 acute osteoporotic fractures of 1,182 patients L1,
  T12 and L2 were the most frequent (J Orthop Surg Res 2023, doi 10.1186/s13018-023-03874-7,
  its figure 2), as L1 (29.7 %), T12 and L2 in the traumatic series. The table's values are
  design values with that shape.

How a share maps to a shape (design values): a deepest point in a1 is a wedge (plane only),
in a2 half plane and half bowl, in m or p2 a bowl; with both endplates each takes half the
bowl; severe fractures (more than 1/3 lost) drop the back rim too by 40-80 % of the loss (a
crush).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from spinelab import anatomy
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.vertebra_shape import by_level

#: Share of the fractures at the superior endplate (+1), both (0), the inferior one (-1).
FRACTURE_ENDS: dict[int, float] = {1: 0.855, 0: 0.126, -1: 0.019}
#: The segment of the deepest point, front to back (fraction of the body's depth from its
#: anterior rim: lower and upper bound) and its share.
FRACTURE_PEAK: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.2, 0.20),  # a1: a wedge
    (0.2, 0.4, 0.45),  # a2
    (0.4, 0.6, 0.20),  # m
    (0.6, 0.8, 0.15),  # p2
)
#: Height lost at the deepest point (fraction of the body's height: lower, upper bound and
#: share). The first bin starts at 0.1: less is not seen at the generator's slice thicknesses.
FRACTURE_LOSS_BINS: tuple[tuple[float, float, float], ...] = (
    (0.10, 0.20, 0.586),
    (0.20, 1.0 / 3.0, 0.300),
    (1.0 / 3.0, 0.55, 0.114),
)
#: Loss from which the back rim drops too (a crush), and by what share of the loss.
CRUSH_FROM = 1.0 / 3.0
CRUSH_SHARE = (0.4, 0.8)
#: Relative frequency by level number (:func:`spinelab.synth.vertebra_shape.level_number`;
#: T1 = 8, T7 = 14, T12 = 19, L1 = 20, L5 = 24; linear in between). Thoracic and lumbar
#: vertebrae only.
FRACTURE_LEVEL_WEIGHT: dict[float, float] = {
    8.0: 0.1,
    11.0: 0.3,
    13.0: 1.0,
    14.0: 1.6,
    15.0: 1.6,
    16.0: 1.0,
    17.0: 0.9,
    18.0: 1.6,
    19.0: 2.8,
    20.0: 3.2,
    21.0: 2.0,
    22.0: 1.2,
    23.0: 0.9,
    24.0: 0.6,
}
#: Share of the fractures that are fresh (a zone of condensation), a design value.
P_ACUTE = 0.5
#: Thickness of the zone of condensation under a fresh fracture's endplate (mm, design).
CONDENSATION_MM = 3.0
#: Share of the zone's voxels painted as compact bone (``Tissue.SHELL``), the rest as the
#: arches' denser trabecular core (``Tissue.DENSE``): about 340 HU for a core of 150 HU, the
#: bone of a few mm of lost height packed into a band (a design value).
CONDENSATION_COMPACT = 0.35
#: Compact bone lining a bowl (mm).
BOWL_RIM_MM = 1.0
#: Share of the severe fractures (more than :data:`CRUSH_FROM` lost) with an intravertebral
#: vacuum cleft: gas in a slit under the anterior part of the fractured endplate, in a
#: sclerotic margin. In 82 fractures of 50 patients presenting for vertebroplasty 37 % held a
#: cleft, the clefted ones severe, mostly at the thoraco-lumbar junction and in the
#: anterosuperior part of the body, their margins increasingly sclerotic ("Intravertebral
#: clefts in osteoporotic vertebral compression fractures", as its abstract gives it). The
#: rate is applied to the severe fractures only, a selected (symptomatic) series's rate.
P_CLEFT_SEVERE = 0.37
#: The cleft's half-axes (fractions of the body's width and depth; mm along its axis, drawn
#: uniformly) and its centre (fraction of the depth in front of the middle; mm under the
#: endplate's surface), design values.
CLEFT_HALF = (0.3, 0.22, (1.0, 2.5))
CLEFT_CENTRE = (0.2, 4.0)
#: Share of the severe fractures of a superior endplate whose posterior-superior corner is
#: driven back into the spinal canal (a burst fracture's retropulsed fragment; design), by
#: how far (mm, uniform; design), and the fragment's size: its half-width (fraction of the
#: body's width), depth in from the posterior wall and height under the endplate (mm).
P_RETROPULSION = 0.3
RETROPULSION_MM = (2.0, 5.0)
FRAGMENT = (0.3, 7.0, 8.0)
#: Share of the fractured vertebrae treated with vertebroplasty (cement in the body), a
#: design value for a clinical CT population (``SynthConfig.p_vertebroplasty``).
P_VERTEBROPLASTY = 0.1
#: Cement volume (ml, uniform; a design value: a few ml fill a part of the body).
CEMENT_ML = (2.0, 6.0)
#: Share injected through one pedicle (a needle from one side reaching past the midline;
#: the rest through both). One series injected 247 of 250 levels unilaterally (Kobayashi et
#: al., Eur Radiol 2005), others use both pedicles: a design value between.
P_UNIPEDICULAR = 0.5
#: Share of the treated vertebrae with cement outside the body: into the veins, soft tissue
#: or disc in 33 % of 660 treated fractures (Al-Ali et al., "Vertebroplasty: what is
#: important and what is not", AJNR, as its abstract gives it); half into the disc next to the
#: fractured endplate, half into a vein at the body's front and side (design).
P_CEMENT_LEAK = 0.33
#: The needle's track: cement along it through the pedicle's core (radius, mm; how far
#: behind the posterior wall it reaches, mm).
CEMENT_TRACK_MM = (1.5, 12.0)
#: Discs above a wedge over which the spine takes the wedge's angle back (design).
FRACTURE_COMPENSATION_DISCS = 3


@dataclass(frozen=True)
class Fracture:
    """One vertebral compression fracture.

    Attributes:
        label: Vertebra name.
        ends: ``+1`` the superior endplate, ``-1`` the inferior one, ``0`` both.
        anterior_mm: How much further the superior endplate's anterior rim drops than its
            posterior rim (the wedge; 0 with ``ends == -1``).
        posterior_mm: The superior endplate's posterior rim's drop (a crush; the body is
            shortened by it).
        bowl_mm: Depth of the central depression of each fractured endplate.
        peak: The depression's deepest point front to back, as a fraction of the body's
            depth from its anterior rim.
        acute: A fresh fracture: a zone of condensation under the fractured endplate(s).
        cleft_mm: Half-height of an intravertebral vacuum cleft under the superior endplate
            (0: none).
        cement_ml: Vertebroplasty cement in the body (ml; 0: none), filling the cleft.
        cement_side: ``+1`` injected through the left pedicle, ``-1`` the right, ``0`` both.
        cement_leak: Cement outside the body: ``"disc"``, ``"vein"`` or ``""``.
        cement_phase: Phase of the cement's cloudy outline (0-1).
        retropulsion_mm: How far the posterior-superior corner is driven back into the
            canal (a burst fracture; 0: not).
    """

    label: str
    ends: int
    anterior_mm: float
    posterior_mm: float
    bowl_mm: float
    peak: float
    acute: bool
    cleft_mm: float = 0.0
    cement_ml: float = 0.0
    cement_side: int = 0
    cement_leak: str = ""
    cement_phase: float = 0.0
    retropulsion_mm: float = 0.0

    @property
    def loss_mm(self) -> float:
        """Height lost at :attr:`peak` (mm): the drawn loss (the plane's drop there and the
        bowls' depth)."""
        plane = self.posterior_mm + self.anterior_mm * (1.0 - self.peak)
        bowls = self.bowl_mm * (2.0 if self.ends == 0 else 1.0)
        return float(plane + bowls)


def _pick(rng: np.random.Generator, shares: list[float]) -> int:
    w = np.asarray(shares, dtype=float)
    return int(rng.choice(len(w), p=w / w.sum()))


def draw_loss(rng: np.random.Generator, loss_range: tuple[float, float]) -> float:
    """A fracture's height loss (fraction) by :data:`FRACTURE_LOSS_BINS`, restricted to
    ``loss_range`` (each bin's share scaled by the part of it inside the range)."""
    lo, hi = loss_range
    bins, shares = [], []
    for b0, b1, share in FRACTURE_LOSS_BINS:
        c0, c1 = max(b0, lo), min(b1, hi)
        if c1 > c0:
            bins.append((c0, c1))
            shares.append(share * (c1 - c0) / (b1 - b0))
    if not bins:
        return float(np.clip(rng.uniform(lo, hi), 0.0, 0.9))
    c0, c1 = bins[_pick(rng, shares)]
    return float(rng.uniform(c0, c1))


def draw_fractures(
    rng: np.random.Generator,
    labels: list[str] | tuple[str, ...],
    heights_mm: Any,
    count: int,
    loss_range: tuple[float, float],
    p_cement: float = P_VERTEBROPLASTY,
) -> tuple[Fracture, ...]:
    """``count`` fractures at distinct thoracic or lumbar vertebrae (by
    :data:`FRACTURE_LEVEL_WEIGHT`), each with its endplates, deepest point, loss, crush and
    freshness by the shares of the module's docstring, treated with cement at ``p_cement``;
    ``heights_mm`` the bodies' heights in the order of ``labels``. The draws per fracture do
    not depend on ``p_cement``."""
    cand = [i for i, x in enumerate(labels) if anatomy.region_of(x) in ("thoracic", "lumbar")]
    if not cand or count <= 0:
        return ()
    w = np.array([by_level(FRACTURE_LEVEL_WEIGHT, labels[i]) for i in cand])
    n = min(count, len(cand))
    picks = rng.choice(len(cand), size=n, replace=False, p=w / w.sum())
    chosen = sorted(int(cand[int(k)]) for k in picks)
    out = []
    ends_keys = list(FRACTURE_ENDS)
    for i in chosen:
        h = float(heights_mm[i])
        ends = ends_keys[_pick(rng, list(FRACTURE_ENDS.values()))]
        seg = _pick(rng, [s for _, _, s in FRACTURE_PEAK])
        p0, p1, _ = FRACTURE_PEAK[seg]
        peak = float(rng.uniform(p0, p1))
        loss = draw_loss(rng, loss_range) * h
        crush = float(rng.uniform(*CRUSH_SHARE))
        acute = bool(rng.random() < P_ACUTE)
        u_cleft, cleft = rng.random(), float(rng.uniform(*CLEFT_HALF[2]))
        u_cem, ml, u_side, u_leak, phase = rng.random(5)
        u_burst, burst = rng.random(), float(rng.uniform(*RETROPULSION_MM))
        if loss <= CRUSH_FROM * h or ends == -1 or u_burst >= P_RETROPULSION:
            burst = 0.0
        ml = float(CEMENT_ML[0] + ml * (CEMENT_ML[1] - CEMENT_ML[0]))
        side = 0 if u_side >= P_UNIPEDICULAR else (1 if u_side < P_UNIPEDICULAR / 2 else -1)
        leak = "" if u_leak >= P_CEMENT_LEAK else ("disc" if u_leak < P_CEMENT_LEAK / 2 else "vein")
        posterior = crush * loss if loss > CRUSH_FROM * h and ends != -1 else 0.0
        rest = loss - posterior
        if ends == -1:  # no plane part below: the rim of the lower endplate stays
            plane, bowl = 0.0, rest
        elif seg == 0:
            plane, bowl = rest / (1.0 - peak), 0.0
        elif seg == 1:
            plane, bowl = 0.5 * rest / (1.0 - peak), 0.5 * rest
        else:
            plane, bowl = 0.0, rest
        if ends == 0:
            bowl /= 2.0
        if loss <= CRUSH_FROM * h or ends == -1 or u_cleft >= P_CLEFT_SEVERE:
            cleft = 0.0
        out.append(
            Fracture(
                labels[i],
                ends,
                round(plane, 2),
                round(posterior, 2),
                round(bowl, 2),
                round(peak, 3),
                acute,
                round(cleft, 2),
                round(ml, 2) if u_cem < p_cement else 0.0,
                side if u_cem < p_cement else 0,
                leak if u_cem < p_cement else "",
                round(float(phase), 3) if u_cem < p_cement else 0.0,
                round(burst, 2),
            )
        )
    return tuple(out)


def bowl_depth(fracture: Fracture, w: float, d: float, a: Any, b: Any) -> Any:
    """Depth (mm) of the fracture's central depression at ``a, b`` (vertebra frame): a
    paraboloid to the power 1.5, deepest (:attr:`Fracture.bowl_mm`) at the peak, falling to 0
    at 0.85 of the way to the rim in each direction."""
    if fracture.bowl_mm <= 0.0:
        return np.zeros(np.broadcast(a, b).shape)
    bp = (fracture.peak - 0.5) * d
    rb = np.where(b < bp, 0.85 * (bp + d / 2), 0.85 * (d / 2 - bp))
    ra = 0.85 * w / 2
    q = (a / ra) ** 2 + ((b - bp) / rb) ** 2
    return fracture.bowl_mm * np.clip(1.0 - q, 0.0, None) ** 1.5


def bowl_masks(
    fracture: Fracture,
    end: int,
    surface: Any,
    w: float,
    d: float,
    a: Any,
    b: Any,
    e: Any,
) -> tuple[Any, Any, Any]:
    """The depression of one fractured endplate (``end`` +1 superior, -1 inferior) below its
    surface height ``surface`` (mm, at ``a, b``), its compact lining
    (:data:`BOWL_RIM_MM`) and, for a fresh fracture, the zone of condensation under both
    (:data:`CONDENSATION_MM`); the caller keeps the vertebra's own voxels.

    Returns:
        ``(cavity, rim, condensation)`` boolean masks.
    """
    depth = bowl_depth(fracture, w, d, a, b)
    inward = end * (surface - e)  # mm below the surface, into the body
    cavity = (depth > 0.0) & (inward < depth)
    rim = (depth > 0.0) & ~cavity & (inward < depth + BOWL_RIM_MM)
    if fracture.acute:
        cond = ~cavity & (inward < depth + BOWL_RIM_MM + CONDENSATION_MM)
    else:
        cond = np.zeros_like(cavity)
    return cavity, rim, cond


def cleft_masks(
    fracture: Fracture, surface: Any, w: float, d: float, a: Any, b: Any, e: Any
) -> tuple[Any, Any]:
    """An intravertebral vacuum cleft (an ellipsoid, :data:`CLEFT_HALF`, centred
    :data:`CLEFT_CENTRE` in front of the middle and under the superior endplate's surface
    height ``surface`` at ``a, b``) and its sclerotic margin (:data:`BOWL_RIM_MM`).

    Returns:
        ``(gas, margin)`` boolean masks (empty without a cleft).
    """
    if fracture.cleft_mm <= 0.0:
        none = np.zeros(np.broadcast(a, b, e).shape, dtype=bool)
        return none, none
    ra, rb = CLEFT_HALF[0] * w, CLEFT_HALF[1] * d
    bc = -CLEFT_CENTRE[0] * d
    depth = surface - CLEFT_CENTRE[1] - bowl_depth(fracture, w, d, a, b) - e
    q = (a / ra) ** 2 + ((b - bc) / rb) ** 2
    r = fracture.cleft_mm
    g = BOWL_RIM_MM
    gas = q + (depth / r) ** 2 <= 1.0
    near = (a / (ra + g)) ** 2 + ((b - bc) / (rb + g)) ** 2 + (depth / (r + g)) ** 2 <= 1.0
    return gas, near & ~gas


def retropulsion_masks(
    fracture: Fracture, surface: Any, w: float, wall: float, a: Any, b: Any, e: Any
) -> tuple[Any, Any, Any]:
    """A burst fracture's posterior-superior fragment (:data:`FRAGMENT`, under the superior
    endplate's surface height ``surface``, in front of the posterior wall at ``b = wall``)
    driven back by :attr:`Fracture.retropulsion_mm`.

    Returns:
        ``(shell, core, gap)`` boolean masks: the fragment's compact rim (1 mm) and core where
        it now lies behind the wall (in the canal), and the strip it left in the body (a
        fracture gap of soft tissue).
    """
    shape = np.broadcast(a, b, e).shape
    if fracture.retropulsion_mm <= 0.0:
        none = np.zeros(shape, dtype=bool)
        return none, none, none
    hw, depth, height = FRAGMENT[0] * w, FRAGMENT[1], FRAGMENT[2]
    under = np.broadcast_to(surface, shape) - e

    def frag(bb: Any, margin: float) -> Any:
        return (
            (np.abs(a) < hw - margin)
            & (bb > wall - depth + margin)
            & (bb < wall - margin)
            & (under > margin)
            & (under < height - margin)
        )

    shift = fracture.retropulsion_mm
    moved, moved_core = frag(b - shift, 0.0), frag(b - shift, 1.0)
    behind = b >= wall
    gap = frag(b, 0.0) & ~moved
    return moved & ~moved_core & behind, moved_core & behind, gap


def cement_masks(
    fracture: Fracture,
    surface: Any,
    h: float,
    w: float,
    d: float,
    pedicle_a: float,
    a: Any,
    b: Any,
    e: Any,
) -> tuple[Any, Any, Any]:
    """Vertebroplasty cement of a treated fracture at ``a, b, e`` (vertebra frame; the
    superior endplate's surface height ``surface`` there; ``pedicle_a`` the pedicles' distance
    from the midline).

    Returns:
        ``(body, track, leak)`` boolean masks: the cement's cloud in the body's front two
        thirds (one lobe crossing the midline from one pedicle, or two), its volume about
        :attr:`Fracture.cement_ml` where the body holds it; the needle's track back through the
        pedicle(s) (:data:`CEMENT_TRACK_MM`); the leak (a lens in the disc against the
        fractured endplate, or a vein's tube at the body's front and side). The caller keeps
        the body's bone, the pedicles' core and the leak's disc or soft tissue.
    """
    shape = np.broadcast(a, b, e).shape
    if fracture.cement_ml <= 0.0:
        none = np.zeros(shape, dtype=bool)
        return none, none, none
    sides = (fracture.cement_side,) if fracture.cement_side != 0 else (1, -1)
    top = np.broadcast_to(surface, shape) - bowl_depth(fracture, w, d, a, b)
    e_mid = 0.5 * (float(np.median(top)) - h / 2)
    # lobes: radii in proportion to the body, scaled to the volume (4/3 pi r^3 per lobe)
    base = np.array([0.3 if len(sides) == 1 else 0.2, 0.3, 0.3]) * np.array([w, d, h])
    k = (fracture.cement_ml * 1000.0 / (len(sides) * 4.0 / 3.0 * math.pi * base.prod())) ** (1 / 3)
    r = base * min(k, 1.4)
    ph = 2.0 * math.pi * fracture.cement_phase
    cloud = (
        np.sin(a * 0.9 + ph) + np.sin(b * 1.1 + 2.0 * ph) + np.sin(e * 0.8 - ph)
    ) / 3.0  # interdigitation with the trabeculae: a lumpy outline
    body = np.zeros(shape, dtype=bool)
    track = np.zeros(shape, dtype=bool)
    rad, reach = CEMENT_TRACK_MM
    for side in sides:
        ca = side * (0.05 if len(sides) == 1 else 0.2) * w
        cb = -0.12 * d
        q = ((a - ca) / r[0]) ** 2 + ((b - cb) / r[1]) ** 2 + ((e - e_mid) / r[2]) ** 2
        body |= q * (1.0 + 0.3 * cloud) <= 1.0
        # the track: from the lobe's centre back through the pedicle
        p0 = np.array([ca, cb, e_mid])
        p1 = np.array([side * pedicle_a, d / 2 + reach, e_mid + 2.0])
        track |= _near_segment(a, b, e, p0, p1, rad)
    gas, _ = cleft_masks(fracture, surface, w, d, a, b, e)
    body |= gas
    leak = np.zeros(shape, dtype=bool)
    if fracture.cement_leak == "disc":  # a lens over the fractured endplate's front half
        above = e - top
        qa = (a / (0.25 * w)) ** 2 + ((b + 0.15 * d) / (0.25 * d)) ** 2
        leak = (qa < 1.0) & (above > -0.5) & (above < 2.0 * (1.0 - qa))
    elif fracture.cement_leak == "vein":  # along the body's front and side, downwards
        side = sides[0]
        p0 = np.array([side * 0.42 * w, -0.32 * d, e_mid])
        p1 = np.array([side * 0.55 * w, -0.5 * d, e_mid - 12.0])
        leak = _near_segment(a, b, e, p0, p1, 1.8)
    return body, track, leak


def _near_segment(a: Any, b: Any, e: Any, p0: np.ndarray, p1: np.ndarray, radius: float) -> Any:
    """Points within ``radius`` of the segment ``p0``-``p1`` (vertebra frame, mm)."""
    v = p1 - p0
    t = np.clip(((a - p0[0]) * v[0] + (b - p0[1]) * v[1] + (e - p0[2]) * v[2]) / (v @ v), 0, 1)
    da, db, de = a - p0[0] - t * v[0], b - p0[1] - t * v[1], e - p0[2] - t * v[2]
    return da * da + db * db + de * de <= radius * radius


def fracture_geometry(
    geo: SpineGeometry,
    fractures: tuple[Fracture, ...],
    compensation_discs: int = FRACTURE_COMPENSATION_DISCS,
) -> SpineGeometry:
    """The spine bent at its fractured vertebrae: for each fracture of the superior endplate,
    the body shortened by :attr:`Fracture.posterior_mm` (its centre down by half of it,
    everything above down by all of it) and everything above turned about the body's
    posterior-superior rim by ``atan(anterior_mm / depth)`` (forwards: the disc above then
    lies on the lowered endplate), the angle taken back in equal parts over the
    ``compensation_discs`` discs above the next one (each turns everything above it about
    its lower endplate's centre, all about the fractured vertebra's left axis: beyond them
    the spine keeps its orientation). Centres (and so the written centroids), frames and heights
    stay consistent with the rendered anatomy; the fractured labels are recorded under
    ``attributes["fractures"]``."""
    centres = geo.centres_mm.copy()
    frames = geo.frames.copy()
    heights = geo.body_height_mm.copy()
    done = []
    for fx in fractures:
        if fx.label not in geo.labels or fx.ends == -1:
            continue
        n = geo.labels.index(fx.label)
        done.append(fx.label)
        up, post, left = frames[n][:, 2], frames[n][:, 1], frames[n][:, 0].copy()
        if fx.posterior_mm > 0.0:
            heights[n] -= fx.posterior_mm
            centres[n] -= up * fx.posterior_mm / 2
            centres[:n] -= up * fx.posterior_mm
        if fx.anterior_mm <= 0.0 or n == 0:
            continue
        d = float(geo.body_depth_mm[n])
        theta = math.atan2(fx.anterior_mm, d)
        pivot = centres[n] + up * heights[n] / 2 + post * d / 2
        _turn(centres, frames, n, pivot, wedge_rotation(frames[n], fx.anterior_mm, d))
        k = max(int(compensation_discs), 0)
        for j in range(k):
            m = n - 2 - j  # the disc below vertebra m bends back
            if m < 0:
                break
            piv = centres[m] - frames[m][:, 2] * heights[m] / 2
            back = Rotation.from_rotvec(left * (-theta / k)).as_matrix()
            _turn(centres, frames, m + 1, piv, back)
    attrs = dict(geo.attributes)
    if done:
        attrs["fractures"] = done
    return replace(
        geo,
        centres_mm=centres,
        frames=frames,
        body_height_mm=heights,
        body_width_mm=geo.body_width_mm.copy(),
        body_depth_mm=geo.body_depth_mm.copy(),
        disc_height_mm=geo.disc_height_mm.copy(),
        attributes=attrs,
    )


def wedge_rotation(frame: Any, anterior_mm: float, depth_mm: float) -> np.ndarray:
    """The turn (3 x 3) that tips a vertebra's cranial axis forwards by a wedge's angle,
    ``atan(anterior_mm / depth_mm)``, about its left axis (``frame``'s first column)."""
    theta = math.atan2(anterior_mm, depth_mm)
    axis = np.asarray(frame, dtype=float)[:, 0]
    return np.asarray(Rotation.from_rotvec(axis * theta).as_matrix())


def wedge_frame(frame: Any, anterior_mm: float, depth_mm: float) -> np.ndarray:
    """The frame of a wedged body's lowered superior endplate: ``frame`` turned by
    :func:`wedge_rotation`."""
    return wedge_rotation(frame, anterior_mm, depth_mm) @ np.asarray(frame, dtype=float)


def _turn(centres: np.ndarray, frames: np.ndarray, upto: int, pivot: Any, rot: Any) -> None:
    """Turn vertebrae ``0 .. upto - 1`` (centres and frames, in place) by the rotation
    matrix ``rot`` about ``pivot`` (about a vertebra's left axis a positive angle tips its
    cranial axis forwards)."""
    centres[:upto] = (centres[:upto] - pivot) @ rot.T + pivot
    frames[:upto] = np.einsum("ij,njk->nik", rot, frames[:upto])
