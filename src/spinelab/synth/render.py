"""Label-map renderer: a :class:`SpineGeometry` becomes a tissue map and a vertebra label map.

Everything is painted on an axis-aligned LPS grid (:class:`RenderGrid`, arrays indexed
``[k, j, i]`` = ``[z, y, x]`` so that axial slices are contiguous). The grid is fine (about
1 mm); :mod:`spinelab.synth.ct` later averages it down to the output spacing (partial volume).

* Per axial slice (2-D, vectorized, restricted to each structure's bounding box): body contour
  with subcutaneous fat, the muscle wall, the thoracic or abdominal cavity, lungs above a domed
  diaphragm, heart, aorta, vena cava, trachea, liver, spleen, stomach, kidneys, psoas,
  bladder and bowel (colon frame and small-bowel loops, :mod:`spinelab.synth.bowel`).
* Per structure in 3-D (evaluated only in a tight box around it, in the structure's own frame):
  every vertebra (cancellous body with cortical shell and endplates, pedicles, lamina, spinous,
  transverse and articular processes, spinal canal; C1 as a ring around the dens of C2; sacral
  alae on S1/S2), the discs, ribs (T1-T12 and T13; T11/T12 short floating ribs, none on L1;
  in the chest wall on the ribs' ring of each height, :class:`spinelab.synth.body.RibRing`,
  whose limit the lungs keep in the slices) with costal cartilage, sternum, hip bones (iliac
  wings, acetabula, ischia, pubes), femora,
  and metal screws and rods; the head (:mod:`spinelab.synth.head`: the soft tissue above the
  neck, the skull with its base and the brain, the face with the mandible, teeth and air
  spaces).
* After the slices: the upper mediastinum's great vessels, main bronchi and oesophagus
  (:mod:`spinelab.synth.mediastinum`) and the lungs' vessel trees and airways
  (:mod:`spinelab.synth.lung_vessels`); after the ribs, lung outside them at the thoracic
  inlet becomes chest wall (:func:`_lungs_inside_ribs`); the scapulae and clavicles (:mod:`spinelab.synth.shoulder`).
* In arms-down cases, the arms beside the body (:mod:`spinelab.synth.arms`, per slice in each
  limb's window, after the soft tissue); in female cases the breasts
  (:mod:`spinelab.synth.breasts`, after the arms).
* Last, the patient on the CT couch (:func:`spinelab.synth.body.lay_on_couch`): one straight
  cradle along z, the soft tissue behind its top pressed flat. :func:`spinelab.synth.body.supine`
  turns a sampled spine beforehand so that the upper back and the sacrum both lie on it.

Where the parts live: the body's plan along the spine (contour per level) and the couch in
:mod:`spinelab.synth.body`, the grid and the painting primitives in :mod:`spinelab.synth.painter`,
the hip bones, femora and lower sacrum in :mod:`spinelab.synth.pelvis`, the soft tissue of the
pelvis and thighs in :mod:`spinelab.synth.pelvic_soft`, the organs in
:mod:`spinelab.synth.organs`, the bowel in :mod:`spinelab.synth.bowel`, the neck in
:mod:`spinelab.synth.neck`, the thorax's vessels, airways, shoulder girdle and breasts in the
modules above, the vertebrae's shapes in
:mod:`spinelab.synth.vertebra_shape`; this module plans the body and calls them in order.

The vertebra label map holds VerSe ids (:mod:`spinelab.anatomy`) for every voxel of a
vertebra's bone (body, posterior elements and, for C2, the dens); discs, ribs and pelvis are 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.synth import (
    arms,
    bone_islands,
    breasts,
    cages,
    disc_calcification,
    fractures,
    head,
    lung_vessels,
    mediastinum,
    organs,
    parallel,
    pelvic_soft,
    pelvis,
    shoulder,
    sternotomy,
    streams,
    vessels,
)
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.body import BACK_FAT_SHARE, BodyPlan, Couch, Level, RibRing, lay_on_couch
from spinelab.synth.bone_islands import BoneIsland
from spinelab.synth.bowel import BowelField, linear_index
from spinelab.synth.cages import Acdf, Cage
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.neck import JAW_ABOVE_C1_MM, NECK_TOP_ABOVE_C1_MM, Neck
from spinelab.synth.painter import (
    THIN_CORTEX,
    Painter,
    RenderGrid,
    allowed_lut,
    densify,
    ellipse_form,
    inside_superellipse,
    local_box,
)
from spinelab.synth.sternotomy import Sternotomy
from spinelab.synth.streams import side_stream
from spinelab.synth.tissues import BONE, FAT_LIKE, SOFT_TISSUES, Tissue

log = logging.getLogger(__name__)

_T = Tissue


@dataclass(frozen=True)
class AnatomyParams:
    """Per-case body and pathology parameters drawn by the generator.

    Attributes:
        body_scale: Multiplies body half-widths and depths (0.85-1.2 typical).
        fat_mm: Subcutaneous fat thickness over the abdomen (thinner over chest and neck).
        fractures: Vertebral compression fractures
            (:func:`spinelab.synth.fractures.draw_fractures`; the generator bends the spine
            at them first: :func:`spinelab.synth.fractures.fracture_geometry`).
        degenerated_discs: Labels of vertebrae whose disc below is degenerated (the generator
            narrows it: :func:`spinelab.synth.generator.narrow_discs`).
        vacuum_discs: Labels of vertebrae whose disc below holds vacuum gas
            (:func:`vacuum_clefts`).
        osteoporosis: Thin cortices (the low HU is applied by the HU table).
        screws: Labels of vertebrae with bilateral pedicle screws (rods join them).
        cages: Interbody cages in the discs between screwed lumbar vertebrae
            (:func:`spinelab.synth.cages.draw_cages`).
        disc_calcifications: Calcified deposits in the discs' annulus or nucleus
            (:func:`spinelab.synth.disc_calcification.draw_disc_calcifications`).
        sternotomy: A median sternotomy's wires and split, or None
            (:func:`spinelab.synth.sternotomy.draw_sternotomy`).
        acdf: An anterior cervical fusion (cages, a plate and its screws), or None
            (:func:`spinelab.synth.cages.draw_acdf`).
        contrast: Contrast-enhanced vessels and organs (affects HU only).
        oral_contrast: Positive oral contrast in the stomach's and the bowel's fluid (affects
            HU only: :data:`spinelab.synth.tissues.ORAL_CONTRAST_HU`).
        plaques: Calcified plaques in the aorta and the common iliac arteries
            (:func:`spinelab.synth.vessels.draw_plaques`).
        listhesis: Degenerative spondylolisthesis, ``{label: fraction}`` (the generator moves
            the spine: :func:`spinelab.synth.generator.slip_vertebrae`).
        kidney_stones: Stones in the kidneys' calyces
            (:func:`spinelab.synth.organs.draw_kidney_stones`).
        short_last_ribs: Hypoplastic last ribs: how far each (left, right) reaches beyond its
            tubercle (mm), 0 for a normal one (:func:`draw_short_last_ribs`).
        phleboliths: Calcified thrombi in the pelvic veins
            (:func:`spinelab.synth.vessels.draw_phleboliths`).
        gallstones: Gallstones (:func:`spinelab.synth.organs.draw_gallstones`).
        dish: Diffuse idiopathic skeletal hyperostosis: flowing ossification over a run of
            vertebrae, painted as part of each (:func:`spinelab.synth.vertebra_shape.draw_dish`).
        haemangiomas: Vertebral haemangiomas: fatty regions of the bodies with thick vertical
            trabeculae (:func:`spinelab.synth.vertebra_shape.draw_haemangiomas`).
        bone_islands: Enostoses in the vertebral bodies, hip bones and proximal femora
            (:func:`spinelab.synth.bone_islands.draw_bone_islands`).
        lumbar_ribs: Lumbar ribs on L1: each one's (left, right) length from its joint
            beside the transverse process (mm), 0 for none (:func:`draw_lumbar_ribs`).
        sacralization: A sacralized last lumbar vertebra: how far its left and right
            transverse processes reach down beyond their normal lower edge (mm), 0 for a
            normal one (:func:`spinelab.synth.vertebra_shape.draw_sacralization`).
        bowel_gas: Expected number of bowel gas pockets.
        muscle_fat: Mean fraction of muscle voxels turned into fat streaks (fatty infiltration,
            0 = none); patchy and about 1.6x the mean in the paraspinal muscles (0.1-0.3 there
            in older adults).
        arms_down: Arms down beside the body (:mod:`spinelab.synth.arms`) instead of raised
            above the head out of the field of view.
        steatosis: Fatty liver (affects HU only: 20-45 HU without contrast).
        osteophytes: Marginal osteophytes at the vertebral endplates' rims
            (:func:`spinelab.synth.vertebra_shape.draw_spurs`), painted as part of their
            vertebra (cortex, cancellous core, the vertebra's label).
        schmorl_nodes: Schmorl nodes (:func:`spinelab.synth.vertebra_shape.draw_schmorl_nodes`):
            endplate depressions filled with disc material (no vertebra label), in a rim of
            sclerotic (compact) bone.
        fillings: Teeth with metal fillings or crowns (indices of
            :meth:`spinelab.synth.head.Head.teeth`: the upper jaw's first), painted as
            ``Tissue.FILLING`` and streaking like other metal.
    """

    body_scale: float = 1.0
    fat_mm: float = 15.0
    fractures: tuple[fractures.Fracture, ...] = ()
    degenerated_discs: tuple[str, ...] = ()
    vacuum_discs: tuple[str, ...] = ()
    osteoporosis: bool = False
    screws: tuple[str, ...] = ()
    cages: tuple[Cage, ...] = ()
    disc_calcifications: tuple[disc_calcification.DiscCalcification, ...] = ()
    sternotomy: Sternotomy | None = None
    acdf: Acdf | None = None
    contrast: bool = False
    bowel_gas: int = 12
    muscle_fat: float = 0.0
    arms_down: bool = False
    steatosis: bool = False
    osteophytes: tuple[vshape.Spur, ...] = ()
    schmorl_nodes: tuple[vshape.SchmorlNode, ...] = ()
    fillings: tuple[int, ...] = ()
    oral_contrast: bool = False
    plaques: tuple[vessels.Plaque, ...] = ()
    listhesis: dict[str, float] = field(default_factory=dict)
    kidney_stones: tuple[organs.KidneyStone, ...] = ()
    short_last_ribs: tuple[float, float] = (0.0, 0.0)
    lumbar_ribs: tuple[float, float] = (0.0, 0.0)
    dish: vshape.Dish | None = None
    haemangiomas: tuple[vshape.Haemangioma, ...] = ()
    bone_islands: tuple[BoneIsland, ...] = ()
    phleboliths: tuple[vessels.Phlebolith, ...] = ()
    gallstones: tuple[organs.Gallstone, ...] = ()
    sacralization: tuple[float, float] = (0.0, 0.0)


@dataclass
class RenderResult:
    """Fine label maps on a :class:`RenderGrid`.

    Attributes:
        tissue: ``(nk, nj, ni)`` uint8 :class:`Tissue` values.
        vertebrae: ``(nk, nj, ni)`` uint8 VerSe ids (0 = none).
        grid: The grid.
        metal_points_mm: ``(M, 3)`` LPS mm of metal centre lines (for streak artefacts).
        boxes: ``{label: (k0, k1, j0, j1, i0, i1)}`` fine-grid box of each vertebra.
    """

    tissue: NDArray[np.uint8]
    vertebrae: NDArray[np.uint8]
    grid: RenderGrid
    metal_points_mm: NDArray[np.float64]
    boxes: dict[str, tuple[int, int, int, int, int, int]]


# --------------------------------------------------------------------------------------------
# Per-region vertebra shape parameters (mm, in the vertebra's frame: a left, b posterior,
# e cranial). Values are adult means from morphometric studies, rounded. ``cortex`` is the
# body's shell, painted as Tissue.SHELL (about 650 HU): the true shell is 0.4-0.7 mm of
# compact bone (Silva et al. 1994, Eswaran et al. 2006), spread over 1.0-1.4 mm so that a
# 1 mm render grid samples it without gaps.
# --------------------------------------------------------------------------------------------
_REGION_SHAPE: dict[str, dict[str, float]] = {
    "cervical": dict(
        cw=12.0,
        cd=7.5,
        pr=3.2,
        lt=4.0,
        sp=20.0,
        sw=2.5,
        sh=4.0,
        tp=10.0,
        tps=-0.3,
        tph=4.0,
        cortex=1.0,
    ),
    "thoracic": dict(
        cw=8.5,
        cd=8.0,
        pr=4.0,
        lt=5.0,
        sp=36.0,
        sw=3.0,
        sh=4.5,
        tp=17.0,
        tps=0.55,
        tph=5.0,
        cortex=1.1,
    ),
    "lumbar": dict(
        cw=11.5,
        cd=8.5,
        pr=5.0,
        lt=5.5,
        sp=30.0,
        sw=3.5,
        sh=9.0,
        tp=24.0,
        tps=0.05,
        tph=5.0,
        cortex=1.2,
    ),
    "sacral": dict(
        cw=12.0,
        cd=6.0,
        pr=6.0,
        lt=6.0,
        sp=14.0,
        sw=3.0,
        sh=8.0,
        tp=30.0,
        tps=0.2,
        tph=10.0,
        cortex=1.4,
    ),
}

#: Tissues that the spinal canal's fluid may replace (not bone, not metal).
_SOFT_LUT = np.zeros(256, dtype=bool)
_SOFT_LUT[[_T.FAT, _T.MUSCLE, _T.SOFT, _T.AIR, _T.LUNG, _T.DISC]] = True


# --------------------------------------------------------------------------------------------
# Vertebrae
# --------------------------------------------------------------------------------------------
def _paint_vertebra(
    pt: Painter,
    geo: SpineGeometry,
    n: int,
    params: AnatomyParams,
    rng: np.random.Generator,
) -> tuple[int, int, int, int, int, int] | None:
    """Paint one vertebra primitive by primitive, each in its own small box.

    Returns:
        The fine-grid box ``(k0, k1, j0, j1, i0, i1)`` covering the vertebra, or None when it
        misses the grid.
    """
    name = geo.labels[n]
    vid = anatomy.by_name(name).verse_id
    region = anatomy.region_of(name)
    c, fr = geo.centres_mm[n], geo.frames[n]
    h, w, d = (
        float(geo.body_height_mm[n]),
        float(geo.body_width_mm[n]),
        float(geo.body_depth_mm[n]),
    )
    p = _REGION_SHAPE[region]
    if name == "C1":
        return _paint_atlas(pt, c, fr, vid, w, d)
    thin = 0.6 if params.osteoporosis else 1.0
    cortex = p["cortex"] * thin
    fracture = next((f for f in params.fractures if f.label == name), None)
    wedge = fracture.anterior_mm if fracture is not None and fracture.ends != -1 else 0.0
    inner: list[tuple[tuple[slice, slice, slice], NDArray[np.bool_], int]] = []
    boxes: list[tuple[slice, slice, slice]] = []
    parts = vshape.vertebra_parts(name, h, w, d, wedge)
    if n + 1 < len(geo) and geo.labels[n + 1] == "S1" and region == "lumbar":
        for side, extra in zip((1.0, -1.0), params.sacralization, strict=True):
            if extra > 0.0:  # a sacralized last lumbar vertebra's broad transverse process
                parts.append(vshape.sacralized_process(name, h, d, side, extra))
    for spur in params.osteophytes:
        if spur.label != name:
            continue
        k = n - 1 if spur.end > 0 else n  # the disc the spur grows towards
        disc = float(geo.disc_height_mm[k]) if 0 <= k < len(geo.disc_height_mm) else 0.0
        parts.append(vshape.spur_part(spur, h, w, d, wedge, disc))
    if params.dish is not None and name in params.dish.labels:
        # the gaps to the neighbours' endplates along this vertebra's axis (the discs' height
        # there, which the geometry's centres set)
        gaps = []
        for m in (n - 1, n + 1):
            if 0 <= m < len(geo):
                dist = abs(float(np.dot(geo.centres_mm[m] - c, fr[:, 2])))
                gaps.append(max(dist - h / 2 - float(geo.body_height_mm[m]) / 2, 0.0))
            else:
                gaps.append(0.0)
        parts.append(vshape.dish_part(params.dish, name, h, w, d, gaps[0], gaps[1]))
    for (lo, hi), fn, part_cortex in parts:
        lo1 = (lo[0] - 1.0, lo[1] - 1.0, lo[2] - 1.0)
        hi1 = (hi[0] + 1.0, hi[1] + 1.0, hi[2] + 1.0)
        box = local_box(pt.grid, c, fr, lo1, hi1)
        if box is None:
            continue
        sl, (a, b, e) = box
        outer = fn(a, b, e, 0.0)
        if not outer.any():
            continue
        # boolean masks index faster than coordinate tuples
        ins = np.zeros_like(outer)
        ins[outer] = fn(
            a[outer], b[outer], e[outer], part_cortex * thin if part_cortex > 0 else cortex
        )
        compact = part_cortex >= vshape.COMPACT_CORTEX_MM
        pt.tissue[sl][outer] = _T.CORTICAL if compact else _T.SHELL
        pt.vert[sl][outer] = vid
        inner.append((sl, ins, int(_T.DENSE if part_cortex > 0 else _T.CANCELLOUS)))
        boxes.append(sl)
    for sl, ins, core in inner:
        pt.tissue[sl][ins] = core
    if not boxes:
        return None
    if fracture is not None:
        _paint_fracture(pt, c, fr, vid, fracture, h, w, d, wedge)
    for node in params.schmorl_nodes:
        if node.label == name:
            _carve_schmorl_node(pt, c, fr, vid, node, h, w, d, wedge)
    for hem in params.haemangiomas:
        if hem.label == name:
            _paint_haemangioma(pt, c, fr, vid, hem, h, w, d)
    for island in params.bone_islands:
        if island.site == "vertebra" and island.where == name:
            bone_islands.paint_vertebral_island(pt, island, c, fr, vid, h, w, d)
    dims = vshape.level_dims(name)
    bw = vshape.posterior_wall(d)
    # basivertebral vein: a channel from the middle of the posterior wall into the body,
    # narrowing forwards
    depth = vshape.BASIVERTEBRAL_DEPTH * d
    bv_w, bv_h = vshape.BASIVERTEBRAL_MM
    box = local_box(pt.grid, c, fr, (-bv_w, bw - depth, -bv_h), (bv_w, bw + 1.5, bv_h))
    if box is not None and region != "sacral":
        sl, (a, b, e) = box
        f = np.clip((b - (bw - depth)) / depth, 0.0, 1.0)
        vein = ellipse_form(a / (0.5 + 0.5 * f), e / (0.6 + 0.4 * f), bv_w, bv_h) <= 1.0
        vein &= pt.vert[sl] == vid
        pt.tissue[sl][vein] = _T.BLOOD
    # spinal canal: cerebrospinal fluid (and epidural fat) where no bone
    half = dims["can_w"] / 2
    box = local_box(
        pt.grid, c, fr, (-half, bw - 2.0, -h / 2 - 3.0), (half, bw + dims["can_d"], h / 2 + 3.0)
    )
    if box is not None:
        sl, (a, b, e) = box
        canal = vshape.canal_mask(a, b, bw, dims)
        tis = pt.tissue[sl]
        tis[canal & _SOFT_LUT[tis]] = _T.WATER
    if name == "S2":  # the last sacral segment: fuse the sacrum, open its foramina
        pelvis.fuse_sacrum(pt, geo)
    k0 = min(s[0].start for s in boxes)
    k1 = max(s[0].stop for s in boxes)
    j0 = min(s[1].start for s in boxes)
    j1 = max(s[1].stop for s in boxes)
    i0 = min(s[2].start for s in boxes)
    i1 = max(s[2].stop for s in boxes)
    return (int(k0), int(k1), int(j0), int(j1), int(i0), int(i1))


def _carve_schmorl_node(
    pt: Painter,
    c: NDArray[np.float64],
    fr: NDArray[np.float64],
    vid: int,
    node: vshape.SchmorlNode,
    h: float,
    w: float,
    d: float,
    wedge: float,
) -> None:
    """A Schmorl node in a painted vertebra: its depression becomes disc (label 0), the bone
    around it compact (sclerotic) bone (:func:`spinelab.synth.vertebra_shape.schmorl_masks`)."""
    r = node.radius_mm + vshape.SCHMORL_RIM_MM + 1.0
    dp = node.depth_mm + vshape.SCHMORL_RIM_MM + 1.0 + max(vshape.ENDPLATE_CUP_MM)
    e0 = vshape.endplate_level(node.label, h, d, wedge, node.b_mm, node.end)
    lo = (node.a_mm - r, node.b_mm - r, e0 - dp - 2.0)
    hi = (node.a_mm + r, node.b_mm + r, e0 + dp + 2.0)
    box = local_box(pt.grid, c, fr, lo, hi)
    if box is None:
        return
    sl, (a, b, e) = box
    cavity, rim = vshape.schmorl_masks(node, h, w, d, wedge, a, b, e)
    own = pt.vert[sl] == vid
    tis = pt.tissue[sl]
    tis[rim & own] = _T.CORTICAL
    tis[cavity & own] = _T.DISC
    pt.vert[sl][cavity & own] = 0


#: What vertebroplasty cement replaces in a treated body (its trabecular bone, the impacted
#: band, a cleft's gas, a haemangioma's fat) and outside it (the disc, soft tissue, veins).
_CEMENT_FILLS = (_T.CANCELLOUS, _T.DENSE, _T.GAS, _T.FATTY_MARROW)
_CEMENT_LEAKS = (*SOFT_TISSUES, _T.DISC, _T.BLOOD, _T.WATER)


def _paint_fracture(
    pt: Painter,
    c: NDArray[np.float64],
    fr: NDArray[np.float64],
    vid: int,
    fracture: fractures.Fracture,
    h: float,
    w: float,
    d: float,
    wedge: float,
) -> None:
    """A compression fracture in a painted body: its endplate depressions hold disc material
    (label 0) lined with compact bone; a fresh fracture shows impacted trabecular bone under
    the fractured endplate (denser, with compact specks; :func:`fractures.bowl_masks`); an
    intravertebral vacuum cleft its gas in a sclerotic margin (:func:`fractures.cleft_masks`);
    a treated one vertebroplasty cement (:func:`fractures.cement_masks`); a burst one its
    posterior-superior fragment driven into the canal (:func:`fractures.retropulsion_masks`).
    The endplates'
    lowered rims (the wedge) are part of the body's shape already."""
    cup_sup, cup_inf = vshape.ENDPLATE_CUP_MM
    reach = h / 2 + abs(vshape.body_wedge(fracture.label)) + 2.0
    lo, hi = (-w / 2 - 1, -d / 2 - 1, -reach), (w / 2 + 1, d / 2 + 1, reach)
    if fracture.retropulsion_mm > 0.0:  # a fragment driven into the canal
        hi = (hi[0], hi[1] + fractures.RETROPULSION_MM[1] + 1.0, hi[2])
    if fracture.cement_ml > 0.0:  # the needle's track and a leak beyond the body
        track = fractures.CEMENT_TRACK_MM[1] + 3.0
        lo, hi = (-w / 2 - 4, -d / 2 - 4, -reach - 4), (w / 2 + 4, d / 2 + track, reach)
    box = local_box(pt.grid, c, fr, lo, hi)
    if box is None:
        return
    sl, (a, b, e) = box
    own = pt.vert[sl] == vid
    if not own.any():
        return
    tis = pt.tissue[sl]
    rho2 = np.clip(ellipse_form(a, b, w / 2, d / 2), 0, 1)
    bowl = vshape.endplate_bowl(rho2)
    # the endplates' surfaces (the superior one lowered by the wedge, the central cups)
    surfaces = {
        end: vshape.endplate_level(fracture.label, h, d, wedge, b, end) - end * cup * bowl
        for end, cup in ((1, cup_sup), (-1, cup_inf))
    }
    top = surfaces[1]
    for end, surface in surfaces.items():
        if fracture.ends not in (end, 0):
            continue
        cavity, rim, cond = fractures.bowl_masks(fracture, end, surface, w, d, a, b, e)
        band = cond & own & (tis == _T.CANCELLOUS)
        # impacted trabeculae: dense core with compact specks (a fixed hash per position)
        speck = np.abs(np.sin(a * 12.9898 + b * 78.233 + e * 37.719) * 43758.5453) % 1.0
        tis[band] = np.where(speck[band] < fractures.CONDENSATION_COMPACT, _T.SHELL, _T.DENSE)
        tis[rim & own] = _T.CORTICAL
        tis[cavity & own] = _T.DISC
        pt.vert[sl][cavity & own] = 0
        own &= ~cavity
        if end > 0:  # an intravertebral vacuum cleft: gas in the body (its label kept)
            gas, margin = fractures.cleft_masks(fracture, surface, w, d, a, b, e)
            tis[margin & own & (tis != _T.DISC)] = _T.CORTICAL
            tis[gas & own] = _T.GAS
    if fracture.retropulsion_mm > 0.0:  # a burst fracture's fragment in the canal
        wall = vshape.posterior_wall(d)
        shell, core, gap = fractures.retropulsion_masks(fracture, top, w, wall, a, b, e)
        tis[gap & own] = _T.SOFT
        for mask, tissue in ((shell, _T.CORTICAL), (core, _T.DENSE)):
            tis[mask] = tissue
            pt.vert[sl][mask] = vid
    if fracture.cement_ml > 0.0:
        dims = vshape.level_dims(fracture.label)
        body, track, leak = fractures.cement_masks(
            fracture, top, h, w, d, dims["can_w"] / 2 + dims["ped_w"] / 2, a, b, e
        )
        core = np.isin(tis, _CEMENT_FILLS)
        tis[(body | track) & own & core] = _T.CEMENT
        free = pt.vert[sl] == 0
        tis[leak & free & np.isin(tis, _CEMENT_LEAKS)] = _T.CEMENT


def _paint_haemangioma(
    pt: Painter,
    c: NDArray[np.float64],
    fr: NDArray[np.float64],
    vid: int,
    hem: vshape.Haemangioma,
    h: float,
    w: float,
    d: float,
) -> None:
    """A vertebral haemangioma in a painted body: its region's cancellous bone becomes fatty
    marrow, its trabeculae compact bone (:func:`spinelab.synth.vertebra_shape.haemangioma_masks`);
    the label is unchanged."""
    box = local_box(pt.grid, c, fr, (-w / 2, -d / 2, -h / 2), (w / 2, d / 2, h / 2))
    if box is None:
        return
    sl, (a, b, e) = box
    region, rods = vshape.haemangioma_masks(hem, h, w, d, a, b, e)
    tis = pt.tissue[sl]
    core = (pt.vert[sl] == vid) & (tis == _T.CANCELLOUS)
    tis[region & core] = _T.FATTY_MARROW
    tis[rods & core] = _T.CORTICAL


def _box_tuple(sl: tuple[slice, slice, slice]) -> tuple[int, int, int, int, int, int]:
    return (
        int(sl[0].start),
        int(sl[0].stop),
        int(sl[1].start),
        int(sl[1].stop),
        int(sl[2].start),
        int(sl[2].stop),
    )


def _paint_atlas(
    pt: Painter, c: NDArray[np.float64], fr: NDArray[np.float64], vid: int, w: float, d: float
) -> tuple[int, int, int, int, int, int] | None:
    """C1: a ring whose anterior arch passes through the given centre, lateral masses, TPs."""
    ra, rb = max(w / 2, 20.0), max(d / 2 + 8.0, 19.0)
    b0 = rb - 3.5  # ring centre behind the anterior arch
    box = local_box(pt.grid, c, fr, (-ra - 16, -6.0, -10.0), (ra + 16, 2 * rb + 2, 10.0))
    if box is None:
        return None
    sl, (a, b, e) = box
    outer = ellipse_form(a, b - b0, ra, rb) <= 1.0
    inner_r = ellipse_form(a, b - b0, ra - 7.0, rb - 7.0)
    ring = outer & (inner_r > 1.0) & (np.abs(e) < 5.0)
    masses = ellipse_form(np.abs(a) - (ra - 6.0), b - b0 + 2.0, 7.5, 10.0) + (e / 9.0) ** 2 <= 1.0
    tp = (np.abs(a) > ra - 4) & (np.abs(a) < ra + 14) & (np.abs(b - b0 + 2) < 4) & (np.abs(e) < 4)
    bone = ring | masses | tp
    inner = (
        (outer & (inner_r > 1.3) & (np.abs(e) < 3.8))
        | (ellipse_form(np.abs(a) - (ra - 6.0), b - b0 + 2.0, 6.0, 8.5) + (e / 7.5) ** 2 <= 1.0)
    ) & bone
    canal = (ellipse_form(a, b - b0 - 4.0, ra - 9.0, rb - 10.0) <= 1.0) & (np.abs(e) < 8)
    tis = pt.tissue[sl]
    tis[canal & ~bone & np.isin(tis, (_T.FAT, _T.MUSCLE, _T.SOFT))] = _T.WATER
    tis[bone] = _T.SHELL
    tis[inner] = _T.CANCELLOUS
    pt.vert[sl][bone] = vid
    return _box_tuple(sl)


def _paint_discs(pt: Painter, geo: SpineGeometry, params: AnatomyParams) -> None:
    for n in range(len(geo) - 1):
        if geo.disc_height_mm[n] <= 0.5 or geo.labels[n] in ("C1",):
            continue
        wedge = next(
            (
                f.anterior_mm
                for f in params.fractures
                if f.label == geo.labels[n + 1] and f.ends != -1 and f.anterior_mm > 0.0
            ),
            0.0,
        )
        centre, q, half = _disc_frame(geo, n, wedge)
        hh = half + 1.5
        w = float(geo.body_width_mm[n] + geo.body_width_mm[n + 1]) / 4 + 0.5
        d = float(geo.body_depth_mm[n] + geo.body_depth_mm[n + 1]) / 4 + 0.5
        box = local_box(pt.grid, centre, q, (-w, -d, -hh), (w, d, hh))
        if box is None:
            continue
        sl, (a, b, e) = box
        bb = np.where(b > 0, b * 1.15, b)
        disc = (ellipse_form(a, bb, w, d) <= 1.0) & (np.abs(e) < hh)
        tis = pt.tissue[sl]
        free = disc & (pt.vert[sl] == 0) & (tis != _T.CEMENT)  # (cement leaked into it)
        tis[free] = _T.DISC
        if geo.labels[n] in params.vacuum_discs:
            tis[vacuum_clefts(a, b, e, w, d, key=float(n) + d) & free] = _T.GAS
        for calc in params.disc_calcifications:
            if calc.label == geo.labels[n]:
                deposit = disc_calcification.calcification_mask(calc, a, bb, e, w, d, half)
                tis[deposit & free & (tis == _T.DISC)] = _T.STONE


#: Vacuum gas of a degenerated disc: clefts near the disc's mid-plane in its central and
#: posterior part, at most VACUUM_HALF_MM from it, patchy over VACUUM_PATCH_MM (plane waves'
#: wavelengths in the disc's plane). It used to be one even lens 2.4 mm thick over the disc's
#: whole centre, a black bar on every sagittal view, in every degenerated disc; real vacuum
#: phenomena are thin irregular, often branching, clefts, and not every narrowed disc has one.
VACUUM_HALF_MM = 1.4
VACUUM_PATCH_MM = (6.0, 9.0, 13.0)
_VACUUM_DIRS = ((1.0, 0.0), (0.5, 0.87), (-0.5, 0.87))


def vacuum_clefts(a: Any, b: Any, e: Any, w: float, d: float, key: float) -> Any:
    """Where a disc holds vacuum gas: in the disc's frame (``a`` lateral, ``b`` posterior,
    ``e`` along its axis, mm; ``w`` and ``d`` its half-width and half-depth), within a lens
    behind its centre, where a smooth patch field (its phases from ``key``: the same disc, the
    same clefts; hashed by :func:`spinelab.synth.vertebra_shape.dither`) is high, as thick as
    the field there (up to VACUUM_HALF_MM each side)."""
    lens = ellipse_form(a, b + 0.2 * d, 0.45 * w, 0.25 * d) <= 1.0
    f = 0.0
    for k, (lam, (ua, ub)) in enumerate(zip(VACUUM_PATCH_MM, _VACUUM_DIRS, strict=True)):
        phase = 2.0 * math.pi * (float(vshape.dither(key, float(k), 0.0)) + 0.5)
        f = f + np.cos((a * ua + b * ub) * (2.0 * math.pi / lam) + phase)
    f = f / len(VACUUM_PATCH_MM)  # -1..1, SD about 0.4
    return lens & (np.abs(e) < VACUUM_HALF_MM * f)


# --------------------------------------------------------------------------------------------
# Ribs, sternum, pelvis, skull
# --------------------------------------------------------------------------------------------
#: The rib ellipse's half-width lies this far (mm) inside the subcutaneous fat's inner edge
#: at the side: the ribs' centre line under a thin lateral wall (3.5-4 mm of muscle outside
#: the ribs laterally on two real CTs, :func:`_rib_ring`; 14 mm left 9.5-24.5 mm).
RIB_RING_SIDE_INSET_MM = 7.0


def _thorax_ellipse(lv: Level, z_rel_ant: float = 0.0) -> tuple[float, float, float, float]:
    """Rib ellipse (cx, cy, half-width, half-depth) at a level (inside the chest wall)."""
    y_post = lv.y_s + lv.depth / 2 + 24.0
    y_ant = lv.y_s - lv.ant + lv.fat + 14.0
    half_w = lv.half_w - lv.fat - RIB_RING_SIDE_INSET_MM
    return lv.x_s, (y_post + y_ant) / 2, half_w, (y_post - y_ant) / 2


#: The first two ribs' rings are tighter than the rib ellipse below them (half-width and
#: half-depth shares, the back held): the thoracic inlet.
RIB_RING_TOP = {1: (0.55, 0.7), 2: (0.8, 0.85)}
#: The lungs' apices: each lung's section shrinks over the top LUNG_APEX_DOME_MM (mm) to
#: nothing at this height above T1's centre (mm). The apex was 25 mm above T1's centre, but the
#: neck's slices (:mod:`spinelab.synth.neck`) begin 10 mm below it and paint no lung, so the
#: lungs ended in a flat lid 35 mm below their dome's top, as wide as 0.88 of the lung; the
#: dome now closes below the neck's first slice (real apices rise to about the first rib's
#: neck, T1, posteriorly: this one is 8 mm lower).
LUNG_APEX_ABOVE_T1_MM = -8.0
LUNG_APEX_DOME_MM = 45.0
#: The lungs stay this far inside the ribs' ring (mm; :func:`_rib_ring`): the ribs'
#: half-thickness and the pleura, at every height (the lungs' own sections, squarer behind,
#: reach past the ring). The limit used to fade out below T8's centre, where the lower
#: lungs' shapes had been measured against the real example CT, and there the ribs crossed
#: the lungs' recesses (27-57 % of the lateral rib voxels at T9-T12 of the test spine had lung
#: outside them, 35-58 % on two generated spines): the ribs lay on an ellipse 14 mm inside
#: the fat, on the ring of the level they left the spine, while the trunk's wall below is a
#: squarer superellipse. With the ribs in the wall (:data:`RIB_RING_SIDE_INSET_MM`, the
#: ring's exponent, each rib on the rings of the heights it crosses) the limit holds
#: everywhere; the recesses' slits were widened to keep their share of the body section
#: (``organs.LUNG_SLIT_MM``).
LUNG_INSIDE_RIBS_MM = 5.0


#: :func:`_lungs_inside_ribs`: angular bins round the rib ring's centre, the slices either
#: side whose ribs count (mm), the largest angular gap (bins) bridged between ribs, and how far
#: inside a rib's inner face the lung stops (in units of the ring's normalized radius, about
#: 3-4 mm).
RIB_LIMIT_BINS = 180
RIB_LIMIT_Z_MM = 6.0
RIB_LIMIT_GAP_BINS = 20
RIB_LIMIT_MARGIN = 0.03


def _lungs_inside_ribs(pt: Painter, plan: BodyPlan, trunk_power: float) -> None:
    """After the ribs, from T8's centre up: lung lying outside the ribs painted in its slice
    (or within RIB_LIMIT_Z_MM of it) becomes chest-wall muscle. The lungs' limit in the slices
    (:data:`LUNG_INSIDE_RIBS_MM`) follows each height's ring, and so do the ribs below the
    first two (:func:`_rib_course`); but the thoracic inlet's ring slopes down in front, the
    first two ribs on their own tighter rings, and without this step 36-44 % of the lateral
    rib voxels at T3 of the test spine and two generated spines had lung outside them (none
    elsewhere). Per slice, the ribs' innermost normalized radius per angle round the ring's
    centre (gaps of up to RIB_LIMIT_GAP_BINS bridged) is the lung's outer limit."""
    z_of = plan.z_of
    if "T1" not in z_of or "T8" not in z_of:
        return
    g = pt.grid
    # from T8's centre up: the thoracic inlet, whose ring slopes down in front (below, each
    # rib follows the ring of the heights it crosses, so the slices' limit holds alone)
    k0, k1 = g.index_range(2, z_of["T8"], z_of["T1"])
    if k1 <= k0:
        return
    dz = max(1, round(RIB_LIMIT_Z_MM / g.spacing_mm[2]))
    nb = RIB_LIMIT_BINS
    a, b = max(k0 - dz, 0), min(k1 + dz, g.shape_kji[0])
    # one window round every slice's rib ring (the lungs lie inside it)
    rings = [
        _rib_ring(plan.level(float(pt.z[k])), float(pt.z[k]), z_of, trunk_power)
        for k in range(k0, k1)
    ]
    r = np.array([ring.axes for ring in rings])
    x_lo, x_hi = float((r[:, 0] - 1.1 * r[:, 2]).min()), float((r[:, 0] + 1.1 * r[:, 2]).max())
    y_lo, y_hi = float((r[:, 1] - 1.1 * r[:, 3]).min()), float((r[:, 1] + 1.1 * r[:, 3]).max())
    i0, i1 = g.index_range(0, x_lo, x_hi)
    j0, j1 = g.index_range(1, y_lo, y_hi)
    xw, yw = pt.x[i0:i1], pt.y[j0:j1]
    # the bone outside the vertebrae per slice (ribs; costal cartilage is not bone)
    ribs: list[tuple[NDArray[np.intp], ...]] = []
    for kk in range(a, b):
        m = allowed_lut(BONE)[pt.tissue[kk, j0:j1, i0:i1]]
        m &= pt.vert[kk, j0:j1, i0:i1] == 0
        ribs.append(np.nonzero(m))
    for k in range(k0, k1):
        near = [ribs[kk - a] for kk in range(max(k - dz, a), min(k + dz + 1, b))]
        jj = np.concatenate([r[0] for r in near])
        ii = np.concatenate([r[1] for r in near])
        if not len(jj):
            continue
        ring = rings[k - k0]
        cx, cy, hw, hd = ring.axes
        u, v = (xw[ii] - cx) / hw, (yw[jj] - cy) / hd
        rho = ring.rho(xw[ii], yw[jj])
        keep = rho > 0.5  # ribs, not the spine or the sternum's middle
        if not keep.any():
            continue
        bins = (((np.arctan2(v[keep], u[keep]) + math.pi) / (2 * math.pi)) * nb).astype(int) % nb
        lim = np.full(nb, np.inf)
        np.minimum.at(lim, bins, rho[keep])
        # bridge short gaps between ribs (periodic), leave long ones open
        idx = np.nonzero(np.isfinite(lim))[0]
        nxt = np.r_[idx[1:], idx[0] + nb]
        for a0, a1 in zip(idx, nxt, strict=True):
            gap = int(a1 - a0)
            if 1 < gap <= RIB_LIMIT_GAP_BINS:
                t = np.arange(1, gap) / gap
                lim[(a0 + np.arange(1, gap)) % nb] = (1 - t) * lim[a0] + t * lim[a1 % nb]
        # only lung beyond the nearest rib's radius can lie outside one
        r_in = float(lim[idx].min()) - RIB_LIMIT_MARGIN
        sub = pt.tissue[k, j0:j1, i0:i1]
        lj, li = np.nonzero((ring.rho(xw[None, :], yw[:, None]) > r_in) & (sub == _T.LUNG))
        if not len(lj):
            continue
        lu, lw = (xw[li] - cx) / hw, (yw[lj] - cy) / hd
        lb = (((np.arctan2(lw, lu) + math.pi) / (2 * math.pi)) * nb).astype(int) % nb
        out = ring.rho(xw[li], yw[lj]) > lim[lb] - RIB_LIMIT_MARGIN
        sub[lj[out], li[out]] = _T.MUSCLE


def _ribs_free_z(z_of: Mapping[str, float]) -> tuple[float, float]:
    """Heights (mm) of T8's and T10's centres (or stand-ins): the scapulae end above the
    first; below the second the ribs lie under the trunk's wall behind as in front
    (:func:`_rib_ring`)."""
    z_t1 = z_of.get("T1", z_of.get("C7", 1e9) - 20.0)
    z_full = z_of.get("T8", z_t1 - 175.0)
    return z_full, z_of.get("T10", z_full - 50.0)


#: Below T10's centre (fading in from T8's, :func:`_ribs_back_weight`) the ribs' ring reaches
#: RIB_RING_BACK_MM further back than the rib ellipse (:func:`_thorax_ellipse`; its front held)
#: and its back is a superellipse of RIB_RING_BACK_POWER; each rib meets it RIB_ANGLE_RUN_MM
#: beside its tubercle (scaled the same way), not straight behind it. The posterior ribs sweep
#: back and out from the transverse processes to their angles, so beside the spine the chest
#: wall lies behind the vertebral bodies and the lungs fill the paravertebral gutters
#: (``organs.Cavity.lung_back``). How far behind the spine's line the ribs reach between T12's
#: and L1's centres, 40-60 / 60-80 / 80-100 / 100-120 mm beside it (:func:`realism.
#: posterior_thorax`): the real example CT 43.0 / 48.0 / 51.5 / 44.9 mm; six generated
#: thoraco-lumbar 3 mm cases (seeds 1, 2, 4, 5, 7, 8) with the ring's back on the ellipse's,
#: as square as the trunk, and the ribs straight behind their tubercles 36.6-38.2 / 32.7-35.0
#: / 26.7-30.2 / 15.5-24.8 mm (curving forwards from the spine), now 46.8-50.5 / 48.3-51.1 /
#: 44.8-47.5 / 38.8-42.8; lung behind T12's centre 0.9-2.0 % of the section, now 3.7-4.6 %
#: (3.7-4.5 % with the lungs' density gradient; real 3.9 %). Posteriorly the ring passes behind the spine, where no rib runs.
RIB_RING_BACK_MM = 12.0
RIB_RING_BACK_POWER = 3.5
RIB_ANGLE_RUN_MM = 20.0


def _ribs_back_weight(z: float, z_of: Mapping[str, float]) -> float:
    """How much of :data:`RIB_RING_BACK_MM` (and of the ring's squarer back) the ribs' ring
    has at height ``z``: 0 from T8's centre up, 1 from T10's down, smooth between."""
    z_full, z_none = _ribs_free_z(z_of)
    return float(organs.smooth01((z_full - z) / max(z_full - z_none, 1.0)))


def _ribs_extra_back_mm(z: float, z_of: Mapping[str, float]) -> float:
    """How much further back (mm) than the rib ellipse the ribs' ring reaches at height ``z``,
    and the lungs with it (``organs.Cavity.lung_back``)."""
    return RIB_RING_BACK_MM * _ribs_back_weight(z, z_of)


def _rib_ring(lv: Level, z: float, z_of: Mapping[str, float], trunk_power: float) -> RibRing:
    """The ribs' ring at height ``z``: the rib ellipse (:func:`_thorax_ellipse`), tightened
    towards T2's and T1's centres as the first two ribs are (:data:`RIB_RING_TOP`), as square
    as the trunk's outline (exponent ``trunk_power``, :data:`TORSO_POWER_RANGE`) in front and,
    from T10's centre down, deeper and flatter behind (:data:`RIB_RING_BACK_MM`,
    :data:`RIB_RING_BACK_POWER`; an ellipse from T8's centre up, where the scapulae lie on it,
    :mod:`spinelab.synth.shoulder`).

    The ribs lie under the trunk's wall: on an ellipse the ring left the wall's muscle thick
    at the oblique angles of the squarer trunk. Muscle from the subcutaneous fat to the
    outermost rib along rays from the trunk's centre (3 mm, medians; -30..0 / 0..20 / 30..60
    deg from the lateral direction, + behind): the real example CT at T11-L1 4.5 / 3.5 / 9.5
    mm, the real DICOM slab at the costal margin 4.5 / 4.0 / 21.5 mm; three generated cases
    (seeds 0, 4, 6) at T11-L1 with the ribs on an ellipse 14 mm inside the fat 16.2-34.0 /
    14.5-24.5 / 24.5-34.0 mm, now (7 mm, :data:`RIB_RING_SIDE_INSET_MM`, and this exponent)
    2.0-3.5 / 6.0-7.5 / 24.0-31.0 mm; at T6-T9 17.5-31.5 / 9.5-14.5 / 20.0-25.2 mm before,
    3.5-4.5 / 4.0-8.8 / 20.0-25.0 now (with the 7 mm inset on the ellipse: 6.0-11.0 /
    11.0-15.0 / 27.8-37.0 at T11-L1, 10.0-19.5 / 4.5-9.0 / 20.0-26.0 at T6-T9). Behind the
    side (30-60 deg) at T11-T12, on the rays that meet a rib: the real example CT 12.5 mm (3
    rays); the same three cases with the ring's back on the ellipse's 12.5-29.0 mm (1-4 rays
    each), with it deeper and flatter 4.5-6.5 mm (1-13 rays)."""
    cx, cy, hw, hd = _thorax_ellipse(lv)
    w = _ribs_back_weight(z, z_of)
    front, back = trunk_power, 2.0 + (RIB_RING_BACK_POWER - 2.0) * w
    extra = _ribs_extra_back_mm(z, z_of)
    cy, hd = cy + 0.5 * extra, hd + 0.5 * extra
    if "T1" not in z_of or "T3" not in z_of:
        return RibRing(cx, cy, hw, hd, front, back)
    zs = [z_of["T3"], z_of.get("T2", 0.5 * (z_of["T1"] + z_of["T3"])), z_of["T1"]]
    fw = float(np.interp(z, zs, [1.0, RIB_RING_TOP[2][0], RIB_RING_TOP[1][0]]))
    fd = float(np.interp(z, zs, [1.0, RIB_RING_TOP[2][1], RIB_RING_TOP[1][1]]))
    y_post = cy + hd
    return RibRing(cx, y_post - fd * hd, fw * hw, fd * hd, front, back)


#: Rib cross-section (mm): the shaft 10-12 mm tall and 5-7 mm thick in its lateral part
#: (flattened, its broad faces facing in and out), the neck about 8-9 mm round; cortex 1.0-1.5
#: mm. Costal cartilage about 10 x 7 mm. The first rib is broad and flat from above (faces up and
#: down). With a 13 x 6.4 mm shaft the largest rib section per axial 3 mm slice near T12 was
#: 110-145 mm2 at the median slice (real example CT 99).
RIB_SHAFT_MM = (5.5, 3.0)
#: The 10th-12th ribs' shaft (half-height, half-thickness, mm; the 9th's halfway): the ribs
#: narrow below the 8th. Sections beside T12 at 3 mm (:func:`realism.lower_ribs`, ten generated
#: thoraco-lumbar cases made as the real example CT was, medians): 120 mm2, minor axis 8.0 mm,
#: bone above 200 HU 677 mm3/mm with the 8th's shaft; 90 mm2, 7.0 mm, 550 with this one (real
#: 70 mm2, 5.5 mm, 480).
RIB_LOWER_SHAFT_MM = (4.5, 2.0)
RIB_NECK_MM = (4.5, 4.0)
RIB_HEAD_MM = 5.5
CARTILAGE_MM = (5.0, 3.5)
#: The lower ribs (7th-10th, :data:`RIB_SLOPED_FROM` on) and the floating ribs: where their bony
#: front ends lie, in levels below their own vertebra's centre along the chain (the 11th and
#: 12th: the last two thoracic numbers). Read off the real example CT (3 mm, from T11 down):
#: the lowest points of the pieces of bone beside the spine (:func:`realism.rib_lowest_points`,
#: levels between the model-made masks' body centres) lie in front of the spine at T12+0.44 /
#: +0.73 / +0.83 and L1+0.11 / +0.20, at the side at L1+0.37 / +0.73, behind it at L1+0.73 /
#: +0.81, the 12th ribs' tips (80 mm beside the spine, 40-49 mm behind it) at L1+0.20; none
#: lower. Counted round each side from the front, these levels below their own vertebrae;
#: the 7th's end lies above that CT. Rendered, the lowest points come out a little lower than
#: the path's end (the rib's height, its taper): on ten generated cases the lowest in front
#: L1+0.45-0.53 and the 12th's tips L1+0.29-0.37. With one slope along the whole arc (25-31
#: deg) the 7th-12th had ended 4.7 / 4.9 / 4.9 / 4.3 / 2.8 / 2.1 levels below (case_seed(0, 1)),
#: the lowest points in front L1+0.5 - L3 (median L2+0.27), the 12th's tips median L1+0.88.
RIB_SLOPED_FROM = 7
RIB_END_LEVELS_BELOW = {7: 5.0, 8: 4.65, 9: 4.05, 10: 3.45}
RIB_FLOATING_END_LEVELS_BELOW = (2.65, 1.35)
#: The lower ribs' drop gathers at the side: their slope below the horizontal rises from
#: behind, where they run round the back of the chest gently down, to RIB_SIDE_SLOPE_DEG from
#: the lateral wall to their front ends (between these ring angles, rad over pi: 0 behind,
#: 0.5 at the side); the slope behind is what the front end's height leaves, at least
#: RIB_BACK_SLOPE_DEG (where that leaves too little, the side is less steep). Level behind
#: (no floor), the ribs turned down at the side with a kink in a coronal projection; 8 deg
#: costs steepness where the drop is small: on five generated cases the slopes beside T12
#: were 36-43 deg with no floor, 32-43 with 8, 29-42 with 12.
#: The real example CT's rib sections beside T12, tracked from one 3 mm slice to the next
#: (:func:`realism.lower_ribs`): 44.8 deg in front of the vertebral body's centre, 41.1 beside
#: it; ten generated cases 32-45 / 31-45 (medians 41.6 / 40.4). With one slope along the whole
#: arc (26-31 deg, the drop spread round the back as well) 25-32 / 27-33 deg, and a 3 mm slice
#: cut the ribs lengthwise: sections 98-165 mm2, 22-26 mm long (real 70 mm2, 16.7 mm; now
#: 63-103 mm2, 15.4-19.6 mm).
RIB_SIDE_SLOPE_DEG = 45.0
RIB_STEEP_PHI = (0.2, 0.45)
RIB_BACK_SLOPE_DEG = 8.0
#: The slope ramps up over this much of the path (mm) from the tubercle.
RIB_SLOPE_RAMP_MM = 20.0
#: How far round the chest the bony ribs reach (a share of the half turn from the back, on
#: the ring :data:`RIB_DROP_INSET_MM` inside the fat): the 1st-6th, the 7th-10th
#: (:data:`RIB_SLOPED_FROM`), the two floating ribs.
RIB_END_FRAC = 0.8
RIB_LOWER_END_FRAC = {7: 0.8, 8: 0.74, 9: 0.67, 10: 0.6}
RIB_FLOATING_END_FRAC = (0.36, 0.22)
#: Costal cartilage of the 7th-10th ribs: rise (mm per mm of its horizontal run) from the rib's
#: front end up to the sternum (the costal margin climbs to the xiphoid).
RIB_CARTILAGE_RISE = 0.4
#: The heights along a rib's course (its slopes above, its front end's height) are laid out
#: along its own level's ellipse this far (mm) inside the subcutaneous fat at the side, where
#: they were fitted against the real CT; the rib's course in plan lies on the rings of the
#: heights it crosses, :data:`RIB_RING_SIDE_INSET_MM` inside the fat and as square as the
#: trunk (:func:`_rib_ring`): the same length ends a little further back round it
#: (:func:`_rib_course`). (Laid along the ring itself, the drops grew with the longer path:
#: the 7th-12th ribs' front ends 9-30 mm lower on one generated case, the 10th's from 7 mm
#: below L2's centre to 3 mm above L3's.)
RIB_DROP_INSET_MM = 14.0
#: Rib torsion: the shaft turns about its own axis from the angle (30 mm beyond the tubercle)
#: to the front end by this much (deg), its upper border inwards, so the broad faces that face
#: in and out behind face partly up and down in front.
RIB_TORSION_DEG = 25.0
#: Rib medulla: red-marrow cancellous bone like the vertebral bodies' (its density follows the
#: patient's, falling with age), not the denser pelvic marrow class. With ``Tissue.MARROW``
#: (230 HU) a lateral box at T11-T12 held as much bone above 120 HU as the real CT's (840-890
#: vs 855 mm3 per mm of height: rib size and count were right) but its median was 310-350 HU
#: against 218, so 1.5 times the real volume above 200 HU.
RIB_MEDULLA = _T.CANCELLOUS
#: rib cortex thickness (mm) painted on the fine grid
RIB_CORTEX_MM = 1.2
#: Share of cases whose costal cartilage is calcified (it rises with age; rims and plaques)
CARTILAGE_CALCIFIED_P = 0.35
#: Hypoplastic last ribs: on whole-spine CT of 551 patients 12.6 % had a hypoplastic twelfth
#: rib (and all of them with a sacralized L5, when that was present; Skeletal Radiol 2025,
#: PMID 40381031); a count of the ribs from above then names T12 an L1 if it is missed. A case
#: has them with P_SHORT_LAST_RIB, on both sides with P_SHORT_LAST_RIB_BOTH (else one), each
#: SHORT_LAST_RIB_MM long beyond its tubercle (a range; design values, a stub about as long
#: as the transverse process beside it).
P_SHORT_LAST_RIB = 0.126
P_SHORT_LAST_RIB_BOTH = 0.5
SHORT_LAST_RIB_MM = (8.0, 35.0)


def draw_short_last_ribs(
    rng: np.random.Generator, p: float = P_SHORT_LAST_RIB
) -> tuple[float, float]:
    """How far the last thoracic vertebra's ribs reach beyond their tubercles (mm; left,
    right); 0 for a rib of normal length (both, with probability ``1 - p``;
    :func:`spinelab.synth.vertebra_shape.draw_sides`)."""

    def sizes(r: np.random.Generator) -> tuple[float, float]:
        return float(r.uniform(*SHORT_LAST_RIB_MM)), float(r.uniform(*SHORT_LAST_RIB_MM))

    return vshape.draw_sides(rng, p, P_SHORT_LAST_RIB_BOTH, sizes)


#: Lumbar ribs: a short rib on the first lumbar vertebra, against its transverse process's
#: tip. On whole-spine CT of 551 patients 1.5 % had one, all of them with a lumbarization
#: (4.0 %; Skeletal Radiol 2025, PMID 40381031); on whole-spine CT of 226 autopsy cases 5.8 %,
#: 11 of the 14 with a lumbarization and 2 of the 206 with a normal lumbar spine (Nakajima et
#: al., Insights Imaging 2014). Pooled, about half of the spines with a sixth lumbar vertebra
#: (P_LUMBAR_RIB_L6; the generator's L6 stands for lumbarization) and 2 of 741 others
#: (P_LUMBAR_RIB) have one. A rib on the 20th vertebra shorter than 38 mm is a short rib, not a
#: thoracic one (Yun et al., Korean J Radiol 2018), so LUMBAR_RIB_MM (its length from the
#: joint; design values) stays below it. A count from the ribs then names L1 a T12.
P_LUMBAR_RIB_L6 = 0.5
P_LUMBAR_RIB = 0.003
P_LUMBAR_RIB_BOTH = 0.5
LUMBAR_RIB_MM = (12.0, 36.0)
#: The joint's gap between the transverse process's tip and the lumbar rib (mm) and the rib's
#: course from it: down and out at LUMBAR_RIB_DOWN_DEG, back by LUMBAR_RIB_BACK_DEG (design
#: values, the slope of the last floating ribs).
LUMBAR_RIB_JOINT_MM = 1.5
LUMBAR_RIB_DOWN_DEG = 30.0
LUMBAR_RIB_BACK_DEG = 10.0


def draw_lumbar_ribs(
    rng: np.random.Generator,
    labels: Sequence[str],
    p_l6: float = P_LUMBAR_RIB_L6,
    p: float = P_LUMBAR_RIB,
) -> tuple[float, float]:
    """Lengths (mm; left, right) of ribs on the first lumbar vertebra of a spine with
    ``labels``, 0 for none: with probability ``p_l6`` if the spine has an L6, else ``p``
    (:func:`spinelab.synth.vertebra_shape.draw_sides`); none without an L1."""

    def sizes(r: np.random.Generator) -> tuple[float, float]:
        return float(r.uniform(*LUMBAR_RIB_MM)), float(r.uniform(*LUMBAR_RIB_MM))

    drawn = vshape.draw_sides(rng, p_l6 if "L6" in labels else p, P_LUMBAR_RIB_BOTH, sizes)
    return drawn if "L1" in labels else (0.0, 0.0)


def _paint_lumbar_ribs(pt: Painter, geo: SpineGeometry, lengths: tuple[float, float]) -> None:
    """Short ribs (``lengths``, mm, left and right; 0 for none) on L1, each from a joint gap
    beside its transverse process's tip, down, out and a little back, tapering to its end (a
    floating rib's section: :data:`RIB_LOWER_SHAFT_MM`). Painted before the vertebrae, whose
    processes keep the voxels they share."""
    if "L1" not in geo.labels or max(lengths) <= 0.0:
        return
    n = geo.labels.index("L1")
    c, fr = geo.centres_mm[n], geo.frames[n]
    h, d = float(geo.body_height_mm[n]), float(geo.body_depth_mm[n])
    tip_a, tip_b, tip_e, _ = vshape.transverse_tip("L1", h, d)
    down, back = math.radians(LUMBAR_RIB_DOWN_DEG), math.radians(LUMBAR_RIB_BACK_DEG)
    for side, length in zip((1.0, -1.0), lengths, strict=True):
        if length <= 0.0:
            continue
        way = np.array([side * math.cos(down) * math.cos(back), math.sin(back), -math.sin(down)])
        s = np.linspace(0.0, length, 8)
        local = np.array([side * (tip_a + LUMBAR_RIB_JOINT_MM), tip_b, tip_e]) + s[:, None] * way
        pts = c + local @ fr.T
        taper = np.clip((length - s) / 20.0, 0.45, 1.0)
        rh = RIB_LOWER_SHAFT_MM[0] * taper
        rn = RIB_LOWER_SHAFT_MM[1] * np.maximum(taper, 0.7)
        pt.flat_tube(pts, rh, rn, np.zeros(len(pts)), THIN_CORTEX, RIB_MEDULLA, RIB_CORTEX_MM)


def _cut_path(pts: NDArray[np.float64], s_mm: NDArray[np.float64], s_end: float) -> int:
    """Cut the path ``pts`` (arc lengths ``s_mm``) at ``s_end`` in place (its point there
    moved onto the path); returns the number of points kept."""
    m = int(np.searchsorted(s_mm, s_end)) + 1
    m = min(max(m, 2), len(pts))
    if m < len(pts) or s_end < s_mm[-1]:
        f = (s_end - s_mm[m - 2]) / max(s_mm[m - 1] - s_mm[m - 2], 1e-9)
        pts[m - 1] = pts[m - 2] + min(max(f, 0.0), 1.0) * (pts[m - 1] - pts[m - 2])
        s_mm[m - 1] = min(s_end, s_mm[m - 1])
    return m


def _rib_shaft(num: int) -> tuple[float, float]:
    """Half-height and half-thickness (mm) of rib ``num``'s shaft: :data:`RIB_SHAFT_MM` down
    to the 8th, narrowing to :data:`RIB_LOWER_SHAFT_MM` at the 10th."""
    t = min(max((num - 8) / 2.0, 0.0), 1.0)
    return (
        RIB_SHAFT_MM[0] + t * (RIB_LOWER_SHAFT_MM[0] - RIB_SHAFT_MM[0]),
        RIB_SHAFT_MM[1] + t * (RIB_LOWER_SHAFT_MM[1] - RIB_SHAFT_MM[1]),
    )


def _run_from(tub: NDArray[np.float64], xs: Any, ys: Any) -> NDArray[np.float64]:
    """Horizontal distance (mm) along a rib's arc ``(xs, ys)`` to each of its points from the
    tubercle ``tub``, which the path reaches straight from its first point."""
    s0 = float(np.hypot(xs[0] - tub[0], ys[0] - tub[1]))
    return np.asarray(s0 + np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))]))


def _rib_drop(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    tub: NDArray[np.float64],
    phis: NDArray[np.float64] | None,
    total: float,
) -> NDArray[np.float64]:
    """Drop (mm, >= 0) below the tubercle along a rib's arc ``(xs, ys)`` (from its first point,
    which the path reaches straight from the tubercle ``tub``), ``total`` at its end. The slope
    ramps up over RIB_SLOPE_RAMP_MM of path from the tubercle; with the ring angles ``phis``
    it gathers at the side (:data:`RIB_STEEP_PHI`): RIB_SIDE_SLOPE_DEG there and on to the
    front, behind what the total leaves (at least RIB_BACK_SLOPE_DEG; where that leaves too
    little, the side less steep); without them it is even."""
    seg = np.hypot(np.diff(xs), np.diff(ys))
    s = _run_from(tub, xs, ys)
    ramp = organs.smooth01(s / RIB_SLOPE_RAMP_MM)

    def run(tan: NDArray[np.float64]) -> NDArray[np.float64]:
        """Drop at each point for the slope ``tan`` (trapezoids from the tubercle)."""
        dz = 0.5 * (tan[1:] + tan[:-1]) * seg
        return np.asarray(0.5 * tan[0] * s[0] + np.concatenate([[0.0], np.cumsum(dz)]))

    even = run(ramp)
    if phis is None:
        return np.asarray(total * even / max(float(even[-1]), 1e-6))
    lo, hi = RIB_STEEP_PHI
    steep = run(ramp * organs.smooth01((phis / math.pi - lo) / (hi - lo)))
    s_all, s_steep = float(even[-1]), float(steep[-1])
    if s_steep < 1e-6:
        return np.asarray(total * even / max(s_all, 1e-6))
    t = math.tan(math.radians(RIB_SIDE_SLOPE_DEG))
    floor = math.tan(math.radians(RIB_BACK_SLOPE_DEG))
    back = min(max((total - t * s_steep) / max(s_all - s_steep, 1e-6), floor), total / s_all)
    return np.asarray(back * even + (total - back * s_all) / s_steep * steep)


def _rib_fall(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    tub: NDArray[np.float64],
    phis: NDArray[np.float64],
    num: int,
    last: int,
    drop: float,
) -> NDArray[np.float64]:
    """Drop (mm) below the tubercle ``tub`` along the arc ``(xs, ys)`` (at ring angles
    ``phis``) of rib ``num`` (``last``: the lowest thoracic number), ``drop`` mm at its end for
    the 7th rib down: the floating ribs evenly down and out along their own short arc; the
    7th-10th steeply at the side (:func:`_rib_drop`); the upper ribs' drop spread over the
    arc."""
    if num >= last - 1:
        return _rib_drop(xs, ys, tub, None, drop)
    if num >= RIB_SLOPED_FROM:
        return _rib_drop(xs, ys, tub, phis, drop)
    phi0 = float(phis[0])
    t = (phis - phi0) / max(math.pi - phi0, 1e-6)
    return np.asarray(drop * np.sin(np.clip(t, 0, 1) * math.pi / 2) * 1.2)


def _rib_end_drop(geo: SpineGeometry, n: int, num: int, last: int, z_tub: float) -> float:
    """How far (mm) below its tubercle's height ``z_tub`` the front end of rib ``num`` (on
    chain position ``n`` of ``geo``; ``last``: the lowest thoracic number) lies: the 7th rib
    down, :data:`RIB_END_LEVELS_BELOW` levels below the vertebra's centre along the chain
    (past the chain's end at its last spacing)."""
    if num >= last - 1:
        below = RIB_FLOATING_END_LEVELS_BELOW[num - last + 1]
    else:
        below = RIB_END_LEVELS_BELOW[min(num, max(RIB_END_LEVELS_BELOW))]
    zc = geo.centres_mm[:, 2]
    k = n + below
    i = min(math.floor(k), len(zc) - 2)
    z_end = float(zc[i] + (k - i) * (zc[i + 1] - zc[i]))
    return max(z_tub - z_end, 0.0)


def _rib_course(
    ring: RibRing,
    tub: NDArray[np.float64],
    side: float,
    frac_end: float,
    num: int,
    last: int,
    drop: float,
    run: float = 0.0,
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """A rib's course from its tubercle ``tub`` round its own level's ``ring``: the ring's
    angle at its front end, 40 angles along it and the heights there. Its length and its
    heights along the way (:func:`_rib_fall`) are laid out along the ellipse
    :data:`RIB_DROP_INSET_MM` inside the fat up to ``frac_end`` of a half turn, where its
    slopes and its front end's height were fitted against the real CT; on the ring (wider,
    squarer) the same length ends a little further back and the same height falls at the
    same distance from the tubercle."""
    cx, cy, hw, hd = ring.axes
    ell = RibRing(cx, cy, hw - (RIB_DROP_INSET_MM - RIB_RING_SIDE_INSET_MM), hd)
    phis_e = np.linspace(ell.phi_at(abs(tub[0] - cx) + run), math.pi * frac_end, 40)
    xe, ye = ell.point(side, phis_e)
    ze = tub[2] - _rib_fall(xe, ye, tub, phis_e, num, last, drop)

    s_e = _run_from(tub, xe, ye)
    fine = np.linspace(ring.phi_at(abs(tub[0] - cx) + run), math.pi * 0.93, 240)
    s_f = _run_from(tub, *ring.point(side, fine))
    phi_end = float(np.interp(s_e[-1], s_f, fine))
    phis = np.linspace(float(fine[0]), phi_end, 40)
    zs = np.interp(_run_from(tub, *ring.point(side, phis)), s_e, ze)
    return phi_end, phis, np.asarray(zs)


def _rib_torsion(
    pts: NDArray[np.float64], s_mm: NDArray[np.float64], s_tub: float, cx: float, cy: float
) -> NDArray[np.float64]:
    """Twist (rad, per point, for :meth:`Painter.flat_tube`) of a rib's path ``pts`` ``(M, 3)``
    (arc length ``s_mm``, tubercle at ``s_tub``): 0 up to the angle 30 mm beyond the tubercle,
    then growing to RIB_TORSION_DEG at the front end, signed so that the section's upper
    border turns towards the chest's axis ``(cx, cy)``."""
    tan = np.gradient(pts, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    up = np.array([0.0, 0.0, 1.0]) - tan[:, 2:3] * tan
    side = np.cross(tan, up)
    inward = np.stack([cx - pts[:, 0], cy - pts[:, 1]], axis=1)
    sign = np.sign(side[:, 0] * inward[:, 0] + side[:, 1] * inward[:, 1])
    s0 = s_tub + 30.0
    t = np.clip((s_mm - s0) / max(float(s_mm[-1]) - s0, 1e-6), 0.0, 1.0)
    return np.asarray(sign * math.radians(RIB_TORSION_DEG) * t)


def _paint_ribs(
    pt: Painter,
    geo: SpineGeometry,
    plan: BodyPlan,
    rng: np.random.Generator,
    trunk_power: float,
    params: AnatomyParams,
) -> None:
    """Ribs on every thoracic vertebra: the head against the bodies at the disc level (its own
    body only for T1 and T10-T12), the neck to the tubercle against the transverse process's
    tip (T1-T10; T11-T12 float free of it), a flattened shaft around the chest along the ribs'
    ring of each height it falls through (:func:`_rib_ring`; ``trunk_power``: the trunk
    outline's exponent), and costal cartilage to the sternum for T1-T10 (sometimes
    calcified). The last pair may be hypoplastic (``params.short_last_ribs``)."""
    thoracic = [n for n, lab in enumerate(geo.labels) if anatomy.region_of(lab) == "thoracic"]
    calcified = bool(rng.random() < CARTILAGE_CALCIFIED_P)
    last = max((int(geo.labels[n][1:]) for n in thoracic), default=12)
    z_of = plan.z_of

    def ring_at(z: float) -> RibRing:
        return _rib_ring(plan.level(z), z, z_of, trunk_power)

    def along(side: float, phis: NDArray[np.float64], zs: NDArray[np.float64]) -> Any:
        """The points at ``phis`` of the rings at heights ``zs``."""
        pts = [ring_at(float(z)).point(side, float(f)) for f, z in zip(phis, zs, strict=True)]
        return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])

    for n in thoracic:
        name = geo.labels[n]
        num = int(name[1:])
        floating = num >= last - 1  # the last two pairs (T11-T12, or T12-T13 with a T13)
        c, fr = geo.centres_mm[n], geo.frames[n]
        h = float(geo.body_height_mm[n])
        d, w = float(geo.body_depth_mm[n]), float(geo.body_width_mm[n])
        lv = plan.level(float(c[2]))
        ring = ring_at(float(c[2]))
        if num in RIB_RING_TOP:  # the thoracic inlet: the back held
            cx, cy, hw, hd = _thorax_ellipse(lv)
            fw, fd = RIB_RING_TOP[num]
            hw, hd = hw * fw, hd * fd
            cy = lv.y_s + lv.depth / 2 + 24.0 - hd
            ring = RibRing(cx, cy, hw, hd)
        cx, cy, hw, hd = ring.axes
        frac_end = RIB_FLOATING_END_FRAC[num - last + 1] if floating else RIB_END_FRAC
        if not floating and num >= RIB_SLOPED_FROM:
            frac_end = RIB_LOWER_END_FRAC[min(num, max(RIB_LOWER_END_FRAC))]
        # head: against the posterolateral body, at the disc above (demifacets of two bodies)
        # for T2-T9, on its own body's upper half for T1 and T10 and lower down for the
        # floating ribs
        single = num == 1 or num >= 10
        disc_above = float(geo.disc_height_mm[n - 1]) if n > 0 else 0.0
        e_head = (0.25 * h if num == 1 or num == 10 else 0.0) if single else h / 2 + disc_above / 2
        tip_a, tip_b, tip_e, tip_t = vshape.transverse_tip(name, h, d)
        sz = 0.85 if num <= 2 else 1.0
        for side in (1.0, -1.0):
            head = c + fr @ np.array([side * (0.5 * w + 0.5 * RIB_HEAD_MM), 0.3 * d, e_head])
            if floating:  # passes in front of the short process without a joint
                tub = c + fr @ np.array([side * (tip_a + 6.0), tip_b - tip_t - 8.0, tip_e - 2.0])
            else:  # tubercle against the front of the transverse process's tip
                tub = c + fr @ np.array(
                    [side * (tip_a - 3.0), tip_b - tip_t - RIB_NECK_MM[1] - 0.5, tip_e]
                )
            phi0 = ring.phi_at(tub[0] - cx)
            # the 7th rib down: to its front end's level; the 1st-6th: spread over the arc
            drop = (
                _rib_end_drop(geo, n, num, last, float(tub[2]))
                if num >= RIB_SLOPED_FROM
                else 25.0 + 4.0 * num
            )
            if num in RIB_RING_TOP:  # the inlet's own ring
                phi_end = math.pi * frac_end
                phis = np.linspace(phi0, phi_end, 40)
                xs, ys = ring.point(side, phis)
                zs = tub[2] - _rib_fall(xs, ys, tub, phis, num, last, drop)
            else:
                run = RIB_ANGLE_RUN_MM * _ribs_back_weight(float(tub[2]), z_of)
                phi_end, phis, zs = _rib_course(ring, tub, side, frac_end, num, last, drop, run)
                xs, ys = along(side, phis, zs)  # on the rings of the heights it crosses
            arc = np.stack([xs, ys, zs], axis=1)
            pts = np.concatenate([head[None], tub[None], arc[1:]], axis=0)
            seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
            s_mm = np.concatenate([[0.0], np.cumsum(seg)])
            s_tub = s_mm[1]
            short = params.short_last_ribs[0 if side > 0 else 1] if num == last else 0.0
            if short > 0.0:  # a hypoplastic last rib: a stub beyond its tubercle
                keep = _cut_path(pts, s_mm, s_tub + short)
                pts, s_mm = pts[:keep], s_mm[:keep]
            # round head and neck, flattening over 30 mm beyond the tubercle; thinner ends
            f = np.clip((s_mm - s_tub) / 30.0, 0.0, 1.0)
            shaft = _rib_shaft(num)
            rh = (RIB_NECK_MM[0] + f * (shaft[0] - RIB_NECK_MM[0])) * sz
            rn = (RIB_NECK_MM[1] + f * (shaft[1] - RIB_NECK_MM[1])) * sz
            rh[0] = rn[0] = RIB_HEAD_MM * sz
            if floating:
                taper = np.clip((s_mm[-1] - s_mm) / 40.0, 0.45, 1.0)
                rh, rn = rh * taper, rn * np.maximum(taper, 0.7)
            twist = np.full(len(pts), math.pi / 2 if num == 1 else math.pi / 4 if num == 2 else 0)
            if num > 2:
                twist = _rib_torsion(pts, s_mm, s_tub, cx, cy)
            twist[:2] = 0.0
            pt.flat_tube(pts, rh, rn, twist, THIN_CORTEX, RIB_MEDULLA, RIB_CORTEX_MM)
            if floating:
                continue
            # costal cartilage to the sternum (T8-T10 join the cartilage above, drawn as reaching
            # the sternum's lower end)
            p_end = arc[-1]
            ster = np.array([cx + side * 14.0, cy - hd + 4.0, p_end[2]])
            if num >= RIB_SLOPED_FROM:  # up along the costal margin
                run = hw * abs(math.sin(phi_end) - math.sin(math.pi * 0.93)) + hd * abs(
                    math.cos(phi_end) - math.cos(math.pi * 0.93)
                )
                ster[2] += RIB_CARTILAGE_RISE * run
            ph = np.linspace(phi_end, math.pi * 0.93, 8)
            cz = np.linspace(p_end[2], ster[2], 8)
            cxs, cys = along(side, ph, cz) if num not in RIB_RING_TOP else ring.point(side, ph)
            cart = np.stack([cxs, cys, cz], axis=1)
            cart = np.concatenate(
                [
                    p_end[None]
                    - 3.0
                    * (arc[-1] - arc[-2])
                    / max(float(np.linalg.norm(arc[-1] - arc[-2])), 1e-6),
                    cart,
                    ster[None],
                ],
                axis=0,
            )
            m = len(cart)
            ch = np.full(m, CARTILAGE_MM[0] * sz)
            cn = np.full(m, CARTILAGE_MM[1] * sz)
            tw = twist[-1] + np.zeros(m)
            pt.flat_tube(cart, ch, cn, tw, _T.CARTILAGE, None, only=SOFT_TISSUES)
            if calcified:
                # calcified rims over a random stretch of the cartilage
                a0 = int(rng.integers(0, m - 2))
                a1 = int(rng.integers(a0 + 2, m + 1))
                sub = cart[a0:a1]
                k = len(sub)
                pt.flat_tube(
                    sub,
                    ch[:k],
                    cn[:k],
                    tw[:k],
                    _T.CORTICAL,
                    _T.CARTILAGE,
                    0.8,
                    only=(_T.CARTILAGE,),
                )


#: The sternum's half-thickness (mm) and its centre's distance (mm) in front of the rib
#: ellipse's front (:func:`_thorax_ellipse`).
STERNUM_HALF_MM = 7.0
STERNUM_FRONT_MM = 2.0


def _sternum_back(lv: Level) -> float:
    """The back of the sternum (y, mm) at a level."""
    _, cy, _, hd = _thorax_ellipse(lv)
    return cy - hd - STERNUM_FRONT_MM + STERNUM_HALF_MM


#: The sternum's top and bottom (mm below T2's and T8's centres) and how far above a slice
#: the level it follows lies (mm: it slopes forwards down the chest).
STERNUM_TOP_BELOW_T2_MM = 15.0
STERNUM_BOTTOM_BELOW_T8_MM = 55.0
STERNUM_LEVEL_ABOVE_MM = 40.0


def _sternum_front(geo: SpineGeometry, plan: BodyPlan, z: float) -> float | None:
    """The front of the sternum (y, mm) at height ``z``; None above or below it."""
    if "T2" not in geo.labels or "T8" not in geo.labels:
        return None
    if (
        not plan.z_of["T8"] - STERNUM_BOTTOM_BELOW_T8_MM
        <= z
        <= plan.z_of["T2"] - STERNUM_TOP_BELOW_T2_MM
    ):
        return None
    _, cy, _, hd = _thorax_ellipse(plan.level(z + STERNUM_LEVEL_ABOVE_MM))
    return cy - hd - STERNUM_FRONT_MM - STERNUM_HALF_MM


def _sternum_span(geo: SpineGeometry, plan: BodyPlan) -> tuple[float, float] | None:
    """The sternum's top and lower end (z, mm), or None where T2 or T8 is missing."""
    if "T2" not in geo.labels or "T8" not in geo.labels:
        return None
    return (
        plan.z_of["T2"] - STERNUM_TOP_BELOW_T2_MM,
        plan.z_of["T8"] - STERNUM_BOTTOM_BELOW_T8_MM,
    )


def _sternum_section(plan: BodyPlan, z_top: float, z: float) -> tuple[float, float, float, float]:
    """The sternum's axial outline at ``z``: ``(centre x, centre y, half-width, half-depth)``
    (mm); the manubrium 24 mm wide to 45 mm below the top, the body 14 mm."""
    lv = plan.level(z + STERNUM_LEVEL_ABOVE_MM)
    cx, cy, _hw, hd = _thorax_ellipse(lv)
    y = cy - hd - STERNUM_FRONT_MM
    half = 24.0 if z > z_top - 45 else 14.0
    return cx, y, half, STERNUM_HALF_MM


def _paint_sternum(pt: Painter, geo: SpineGeometry, plan: BodyPlan) -> None:
    span = _sternum_span(geo, plan)
    if span is None:
        return
    z_top, z_bot = span
    k0, k1 = pt.grid.index_range(2, z_bot, z_top)
    for k in range(k0, k1):
        cx, y, half, half_d = _sternum_section(plan, z_top, float(pt.z[k]))
        pt.ellipse2d(k, cx, y, half, half_d, THIN_CORTEX)
        pt.ellipse2d(k, cx, y, half - 1.5, half_d - 1.5, _T.MARROW)


def _paint_sternotomy(
    pt: Painter, geo: SpineGeometry, plan: BodyPlan, params: AnatomyParams
) -> NDArray[np.float64]:
    """The sternotomy's wires and split (:mod:`spinelab.synth.sternotomy`); its metal points."""
    span = _sternum_span(geo, plan)
    if params.sternotomy is None or span is None:
        return np.zeros((0, 3))
    z_top, z_bot = span
    return sternotomy.paint_sternotomy(
        pt, params.sternotomy, z_top, z_bot, lambda z: _sternum_section(plan, z_top, z)
    )


def _paint_metal(pt: Painter, geo: SpineGeometry, params: AnatomyParams) -> NDArray[np.float64]:
    """Bilateral pedicle screws in ``params.screws`` joined by rods; returns metal points."""
    pts_all: list[NDArray[np.float64]] = []
    heads: dict[float, list[NDArray[np.float64]]] = {1.0: [], -1.0: []}
    for name in params.screws:
        if name not in geo.labels:
            continue
        n = geo.labels.index(name)
        c, fr = geo.centres_mm[n], geo.frames[n]
        region = anatomy.region_of(name)
        p = _REGION_SHAPE[region]
        d = float(geo.body_depth_mm[n])
        for side in (1.0, -1.0):
            entry = c + fr @ np.array(
                [
                    side * (p["cw"] + 6.0),
                    d / 2 + p["cd"] * 2 + 8.0,
                    0.12 * float(geo.body_height_mm[n]),
                ]
            )
            tip = c + fr @ np.array([side * 4.0, -d / 2 + 6.0, 0.0])
            head = entry + (entry - tip) / np.linalg.norm(entry - tip) * 8.0
            screw = np.stack([tip, head])
            pt.tube(screw, 3.0, _T.METAL)
            pt.tube(head[None] + np.zeros((2, 3)), 5.5, _T.METAL)
            heads[side].append(head)
            pts_all.append(densify(screw, 4.0))
    for hs in heads.values():
        if len(hs) >= 2:
            hs_sorted = sorted(hs, key=lambda q: -q[2])
            rod = np.stack(hs_sorted)
            rod = np.concatenate(
                [rod[:1] + (rod[0] - rod[1]) * 0.15, rod, rod[-1:] + (rod[-1] - rod[-2]) * 0.15]
            )
            rod = rod + np.array([0.0, 4.0, 0.0])
            pt.tube(rod, 2.8, _T.METAL)
            pts_all.append(densify(rod, 4.0))
    for cage in params.cages:
        pts_all.append(_paint_cage(pt, geo, cage))
    if params.acdf is not None:
        for cage in params.acdf.cages():
            pts_all.append(_paint_cage(pt, geo, cage))
        pts_all.append(_paint_cervical_plate(pt, geo, params.acdf))
    return np.concatenate(pts_all) if pts_all else np.zeros((0, 3))


def _paint_cervical_plate(pt: Painter, geo: SpineGeometry, acdf: cages.Acdf) -> NDArray[np.float64]:
    """An anterior cervical plate over the fused bodies (a row of thin rods 1.5 mm in front of
    them, from the top vertebra's middle to the bottom one's) and two screws into each body,
    converging backwards; returns the metal's points."""
    idx = [geo.labels.index(x) for x in acdf.labels if x in geo.labels]
    if len(idx) < 2:
        return np.zeros((0, 3))
    r_rod, (r_screw, length, off) = cages.PLATE_ROD_MM, cages.PLATE_SCREW
    front: list[NDArray[np.float64]] = []
    for k, n in enumerate(idx):
        c, fr = geo.centres_mm[n], geo.frames[n]
        d, h = float(geo.body_depth_mm[n]), float(geo.body_height_mm[n])
        surface = c - fr[:, 1] * (d / 2 + cages.PLATE_CLEAR_MM + r_rod)
        ends = (0.0,) if 0 < k < len(idx) - 1 else ((0.0, -0.3 * h) if k == 0 else (0.3 * h, 0.0))
        front.extend(surface + fr[:, 2] * e for e in ends)
    spine_line = np.stack(front)
    pts: list[NDArray[np.float64]] = []
    n0 = idx[0]
    left = geo.frames[n0][:, 0]
    n_lanes = int(np.ceil(2 * cages.PLATE_HALF_WIDTH_MM / (1.6 * r_rod))) + 1
    lanes = np.linspace(-cages.PLATE_HALF_WIDTH_MM, cages.PLATE_HALF_WIDTH_MM, n_lanes)
    for lane in lanes:  # the plate: parallel rods side by side
        line = spine_line + left * lane
        pt.tube(line, r_rod, _T.METAL)
        pts.append(densify(line, 4.0))
    for n in idx:  # two screws a body, at its middle, converging 10 degrees backwards
        c, fr = geo.centres_mm[n], geo.frames[n]
        d = float(geo.body_depth_mm[n])
        for side in (1.0, -1.0):
            head = c + fr @ np.array([side * off, -(d / 2 + cages.PLATE_CLEAR_MM), 0.0])
            way = fr @ np.array([-side * math.sin(math.radians(10.0)), 1.0, 0.0])
            tip = head + way / np.linalg.norm(way) * length
            screw = np.stack([head, tip])
            pt.tube(screw, r_screw, _T.METAL)
            pts.append(densify(screw, 4.0))
    return np.concatenate(pts)


def _disc_frame(
    geo: SpineGeometry, n: int, wedge: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """The disc below vertebra ``n``: its middle, its frame (between the two bodies' frames)
    and its half-height along that frame's axis; ``wedge`` the lower body's fractured superior
    endplate's anterior drop (mm, :func:`spinelab.synth.fractures.fracture_geometry`)."""
    c0, c1 = geo.centres_mm[n], geo.centres_mm[n + 1]
    u0, u1 = geo.frames[n][:, 2], geo.frames[n + 1][:, 2]
    top = c0 - u0 * geo.body_height_mm[n] / 2
    bot = c1 + u1 * geo.body_height_mm[n + 1] / 2
    lower = geo.frames[n + 1]
    if wedge > 0.0:
        # on a wedge fracture (fractures.fracture_geometry turned the spine above it):
        # from the lowered endplate (its middle, its tilt) to the vertebra above
        bot = bot - u1 * wedge / 2
        lower = fractures.wedge_frame(lower, wedge, float(geo.body_depth_mm[n + 1]))
    fr = geo.frames[n] + lower
    q, _ = np.linalg.qr(fr)
    q *= np.sign(np.diag(q.T @ fr))[None, :]
    half = max(float(np.dot(top - bot, q[:, 2])), 1.0) / 2
    return (top + bot) / 2, q, half


def _paint_cage(pt: Painter, geo: SpineGeometry, cage: cages.Cage) -> NDArray[np.float64]:
    """An interbody cage in the disc below ``cage.label`` (:func:`cages.cage_masks`), over
    voxels of no vertebra; returns a titanium cage's points (for the metal streaks; a PEEK
    cage's marker pins, about 1.6 mm across, return none)."""
    if cage.label not in geo.labels:
        return np.zeros((0, 3))
    n = geo.labels.index(cage.label)
    if n + 1 >= len(geo):
        return np.zeros((0, 3))
    centre, q, half = _disc_frame(geo, n)
    depth = float(geo.body_depth_mm[n] + geo.body_depth_mm[n + 1]) / 2
    w = float(geo.body_width_mm[n] + geo.body_width_mm[n + 1]) / 4
    box = local_box(pt.grid, centre, q, (-w, -depth / 2, -half), (w, depth / 2, half))
    if box is None:
        return np.zeros((0, 3))
    sl, (a, b, e) = box
    shell, graft, markers = cages.cage_masks(cage, a, b, e, half, depth)
    free = pt.vert[sl] == 0
    tis = pt.tissue[sl]
    tis[graft & free] = _T.DENSE
    tis[shell & free] = _T.METAL if cage.titanium else _T.SOFT
    tis[markers & free] = _T.METAL
    if not cage.titanium:  # a PEEK cage's pins are too small to streak much: no points
        return np.zeros((0, 3))
    idx = np.argwhere(shell & free)[::7]
    if not len(idx):
        return np.zeros((0, 3))
    ijk = idx[:, ::-1] + np.array([s.start or 0 for s in sl[::-1]])
    g = pt.grid
    return np.asarray(g.origin_mm, dtype=np.float64) + ijk * np.asarray(g.spacing_mm)


# --------------------------------------------------------------------------------------------
# Soft tissue, per axial slice
# --------------------------------------------------------------------------------------------
def _paint_soft_tissue(
    pt: Painter,
    geo: SpineGeometry,
    plan: BodyPlan,
    params: AnatomyParams,
    rng: np.random.Generator,
    workers: int = 1,
) -> tuple[bool | None, float]:
    """The body's soft tissue, slice by slice (in ``workers`` processes, see
    :func:`spinelab.synth.parallel.for_each`: ``pt.tissue`` must then be shared), then the
    mesenteric vessels, the mediastinum and the lungs' vessels. Returns the case's sex (True:
    male), drawn with the pelvic organs, or None without a pelvis; and the exponent of the
    trunk's outline (:data:`TORSO_POWER_RANGE`)."""
    z_of = plan.z_of

    def zl(label: str, default: float) -> float:
        return z_of.get(label, default)

    z_c1 = zl("C1", 1e9)
    z_t1 = zl("T1", zl("C7", 1e9) - 20.0)
    z_carina = zl("T5", z_t1 - 90.0)
    z_dome_r = zl("T9", zl("T10", 0.0) + 25.0) - 5.0
    z_dome_l = z_dome_r - 15.0
    z_recess = zl("T12", z_dome_r - 75.0) - 10.0
    z_apex = z_t1 + LUNG_APEX_ABOVE_T1_MM
    z_kid_l = zl("L1", z_recess - 30.0) - 5.0
    z_aorta_top = zl("T12", z_t1 - 250.0)  # above: mediastinum.paint_mediastinum
    z_aorta_bot = zl("L4", z_recess - 150.0)
    z_psoas_top = zl("T12", z_recess)
    z_s2 = zl("S2", zl("S1", -1e9) - 25.0)
    z_retro_bot = zl("L5", z_s2 + 60.0) - RETRO_BELOW_MM
    z_wall_thin = zl("L2", z_kid_l - 30.0)  # the flank wall thin behind from here up
    z_wall_thick = zl("L3", z_wall_thin - 35.0)  # and not at all from here down
    z_side_bot = zl("L5", z_s2 + 60.0)  # the lateral wall thicker down to here (FLANK_SIDE_*)

    def side_extra(z: float) -> float:
        """The lateral wall's extra muscle (mm) at ``z``: FLANK_SIDE_EXTRA_MM from L3's centre
        to L5's, none from L2's centre up and FLANK_SIDE_FADE_MM below L5's."""
        up = organs.smooth01((z_wall_thin - z) / max(z_wall_thin - z_wall_thick, 1.0))
        down = organs.smooth01((z - z_side_bot) / FLANK_SIDE_FADE_MM + 1.0)
        return FLANK_SIDE_EXTRA_MM * float(up * down)

    # the colon's splenic flexure reaches above the recess; the small bowel's top is irregular
    z_bowel_top = z_recess + 55.0
    bowel_rng = rng.spawn(1)[0]  # the bowel is laid out below (while slices are painted)
    bowel: _BowelField | None = None
    viscera = organs.OrganPlan(
        z_of,
        z_dome_r,
        z_dome_l,
        z_recess,
        z_kid_l,
        rng.spawn(1)[0],
        params.fat_mm,
        params.kidney_stones,
        params.gallstones,
    )
    torso_power = float(rng.uniform(*TORSO_POWER_RANGE))
    z_round_top = zl("L1", z_wall_thin + 35.0)  # the belly rounds off from here down

    def trunk_power(z: float) -> float:
        """The exponent of the trunk's outline in front at ``z`` (the body wall's, the cavity's
        front half): the drawn torso power at L1's centre and above, ABDOMEN_POWER_DROP less
        from L3's centre down."""
        drop = organs.smooth01((z_round_top - z) / max(z_round_top - z_wall_thick, 1.0))
        return torso_power - ABDOMEN_POWER_DROP * float(drop)

    # the linea alba's half-width: a rhombus along the trunk, widest at the umbilicus
    z_umb = 0.5 * (zl("L3", z_s2 + 100.0) + zl("L4", z_s2 + 65.0))
    umb_half = 0.5 * (LINEA_ALBA_UMBILICUS_MM[0] + LINEA_ALBA_UMBILICUS_MM[1] * params.fat_mm)
    linea_keys = (
        [z_s2 - 90.0, z_umb, zl("T9", z_recess + 60.0)],
        [LINEA_ALBA_PUBIS_SHARE * umb_half, umb_half, LINEA_ALBA_XIPHOID_SHARE * umb_half],
    )

    def linea_half(z: float) -> float:
        return float(np.interp(z, *linea_keys))

    contour = _BodyContour(plan, rng)
    pelvic = pelvic_soft.pelvic_soft_tissue(geo, plan.scale, rng.spawn(1)[0])
    c3 = geo.centres_mm[geo.labels.index("C3")] if "C3" in geo.labels else None
    neck_plan = Neck(z_of, plan.scale, c3)

    def cavity(z: float, lv: Level, side: float | None = None) -> organs.Cavity:
        """The trunk's body cavity at height ``z`` (below the neck); ``side``: the lateral
        wall's extra muscle there if the caller has it (``side_extra(z)``)."""
        cy = lv.y_s + (lv.post - lv.ant) / 2
        by = (lv.post + lv.ant) / 2
        # the lateral wall thicker than the front below the kidneys
        hw_c = lv.half_w - lv.fat - BODY_WALL_MM - (side_extra(z) if side is None else side)
        y_ant = cy - by + lv.fat + BODY_WALL_MM
        # the cavity reaches behind the vertebral bodies (paravertebral gutters) above the
        # recess, tapering over 30 mm below it (no horizontal seam in coronal views)
        y_post = lv.y_s + 2.0 + (lv.depth / 2 + 22.0) * organs.smooth01((z - z_recess) / 30.0 + 1.0)
        return organs.Cavity(
            lv.x_s,
            (y_post + y_ant) / 2,
            hw_c,
            (y_post - y_ant) / 2,
            trunk_power(z),
            lv,
            power_back=torso_power,
            lung_back=_ribs_extra_back_mm(z, z_of),
        )

    # the stomach's air-fluid and food levels, from the lowest slice with a lumen
    zs = pt.z[(pt.z <= z_t1 - 10.0) & (pt.z < z_dome_r + 10.0)]
    z_lumen = viscera.stomach_level_z(zs)
    if z_lumen is not None:
        viscera.fix_stomach_levels(cavity(z_lumen, plan.level(z_lumen)))

    def in_bowel(z: float) -> bool:
        return z_s2 - BOWEL_BELOW_S2_MM < z < z_bowel_top

    # below the bowel: the rectum's lowest part and the anal canal (pelvic_soft), from where
    # the colon's rectum ends (its axis at the vertebral bodies' front line, as in the colon's
    # course: _BowelField, bowel._COLON_COURSE)
    z_rect = z_s2 - BOWEL_BELOW_S2_MM

    def bowel_back(z: float, y_body: float) -> float:
        """The line the bowel stays in front of (``_BowelField.paint``'s ``y_front``): the
        vertebral bodies' front ``y_body``, below S2's centre the front of the sacrum and
        coccyx where it lies further back (the rectum in the sacrum's hollow; below the spine's
        last centre the bodies' line is held, and the rectum was cut flat along it)."""
        y_sac = None if pelvic is None else pelvic.sacrum_front_y(z)
        return y_body if y_sac is None else max(y_body, y_sac - BOWEL_SACRUM_GAP_MM)

    lv_rect = plan.level(z_rect)
    rectum_top = (z_rect, lv_rect.y_s - lv_rect.depth / 2)

    def vessel_point(z: float, xy: tuple[float, float]) -> NDArray[np.float64]:
        """A point at ``xy`` (mm from the spine's x and the vertebral body's front) at ``z``."""
        lv = plan.level(z)
        return np.array([lv.x_s + xy[0], lv.y_s - lv.depth / 2 + xy[1], z])

    # the common iliac vessels, from the aorta's and the vena cava's lower ends to the
    # external iliac vessels (spinelab.synth.vessels)
    z_ivc_bot = z_aorta_bot - 40.0
    iliac = None
    if pelvic is not None and "L4" in z_of and "S1" in z_of:
        iliac = vessels.IliacVessels.build(
            vessel_point(z_aorta_bot, organs.AORTA_XY),
            organs.AORTA_R_MM,
            vessel_point(z_ivc_bot, organs.IVC_XY),
            organs.IVC_HALF_MM[0],
            lambda side: vessels.brim_points(vessel_point, z_of["S1"], side, plan.scale),
            pelvic.femoral_top,
        )

    def paint_slice(k: int) -> None:
        z = float(pt.z[k])
        lv = plan.level(z)
        xs, ys = lv.x_s, lv.y_s
        if z > z_c1 + NECK_TOP_ABOVE_C1_MM:
            # head: painted by spinelab.synth.head; the jaw's soft tissue (the floor of the
            # mouth and the tongue) runs on up
            if z <= z_c1 + JAW_ABOVE_C1_MM:
                neck_plan.paint_jaw(pt, k, z, lv.x_s, lv.y_s)
            return
        cy = ys + (lv.post - lv.ant) / 2
        by = (lv.post + lv.ant) / 2
        neck = z > z_t1 - 10.0
        pw = 2.0 if neck else trunk_power(z)
        mw = BODY_WALL_MM
        # the body wall's muscle: subcutaneous fat of ``fat`` in front and at the sides and
        # BACK_FAT_SHARE of it behind (the back's skin moves out by as much, BodyPlan.level)
        back_fat = BACK_FAT_SHARE * lv.fat
        wall = (xs, cy + (lv.fat - back_fat) / 2, lv.half_w - lv.fat, by - (lv.fat + back_fat) / 2)
        if neck:
            pt.ellipse2d(k, xs, cy, lv.half_w, by, _T.FAT, power=pw)
            pt.ellipse2d(k, *wall, _T.MUSCLE, power=pw)
        else:  # the trunk: the wall in fat of varying thickness (_BodyContour)
            contour.paint(pt, k, z, lv, wall, pw, cy + by)
        if neck:  # neck and shoulders: fat spaces, muscles, vessels, airway, thyroid
            neck_plan.paint(pt, k, z, lv, wall)
            return
        # cavity: thorax above the recess, abdomen below
        thorax = z > z_recess
        side = side_extra(z)
        cav = cavity(z, lv, side)
        ccy, cby, hw_c = cav.cy, cav.hd, cav.hw
        y_ant = cy - by + lv.fat + mw
        pt.ellipse2d(k, xs, ccy, hw_c, cby, _T.FAT, power=pw, power_back=cav.power_back)
        if z_s2 - 60.0 < z < z_recess + 30.0:
            _paint_abdominal_wall(pt, k, wall, pw, xs, ys, plan.scale, side, linea_half(z))
        _paint_back_groove(pt, k, xs, cy + by, wall[1] + wall[3])
        flank_wall = None
        if z_retro_bot < z < z_recess + RETRO_ABOVE_MM:
            span = (z_psoas_top, z_retro_bot, z_recess, z_wall_thin, z_wall_thick)
            curve = contour.wall_curve(wall, pw, z)
            flank_wall = _paint_retroperitoneum(pt, k, curve, wall, pw, lv, span, side)
        in_wall = _outside_back_notch(inside_superellipse(*wall, pw), xs, wall[1] + wall[3])
        if pelvic is not None and pelvic.active(z):
            # gluteal, hip and thigh muscles, the pelvic floor, the femoral vessels
            pelvic.paint_muscles(
                pt, k, z, wall, pw, _back_notch(xs, wall[1] + wall[3]), hw_c, y_ant
            )
        if iliac is not None:  # into the fat before the bowel, which fills the fat left
            iliac.paint(pt, k, z, FAT_LIKE)
        if in_bowel(z):
            # bowel: densely packed irregular loops with thin mesenteric fat between them (the
            # organs and lungs painted below cover it where they reach)
            assert bowel is not None
            bowel.paint(k, xs, bowel_back(z, ys - lv.depth / 2), cav, 3.0)
        # paraspinal muscles (always) and psoas (lumbar). The paraspinals fill the paravertebral
        # gutters behind the cavity but stay inside the body wall's muscle: they used to turn the
        # subcutaneous fat behind them into muscle up to the skin, so the back had 2-5 mm of fat
        # at L1-L5 whatever ``fat_mm`` (the real example CT: 17-34 mm, 25 mm beside the midline).
        # On MRI the posterior subcutaneous fat at L1-L2 separates lean from overweight backs at
        # about 9 mm (Eur Radiol 2022;32:6504, "subcutaneous fat index") and the lumbosacral
        # back fat exceeds L1's body depth (about 30 mm) when the BMI is over 25 (DeVries et
        # al., ASSR 2011): it is never a film of 2-5 mm in an adult.
        for side in (1.0, -1.0):
            if z < z_s2 - pelvic_soft.PARASPINAL_BELOW_S2_MM:
                break  # the erector spinae ends on the back of the sacrum
            pt.ellipse2d(
                k,
                xs + side * 32.0,
                ys + lv.depth / 2 + 40.0,
                28.0,
                26.0,
                _T.MUSCLE,
                only=(_T.FAT,),
                extra=in_wall,
            )
            if z < z_psoas_top and z > z_s2 - 40.0:
                t = np.clip((z_psoas_top - z) / 150.0, 0.0, 1.0)
                r = 8.0 + 18.0 * t
                px = xs + side * (lv.width / 2 + r * 0.7)
                # a thin fat plane parts it from the quadratus lumborum and the back muscles
                rf = r + PSOAS_FAT_PLANE_MM
                pt.ellipse2d(k, px, ys + 2.0, rf, rf * 0.9, _T.FAT, only=(_T.MUSCLE,))
                pt.ellipse2d(k, px, ys + 2.0, r, r * 0.9, _T.MUSCLE)
        if iliac is not None:  # again over the psoas' edge
            iliac.paint(pt, k, z, (*FAT_LIKE, _T.MUSCLE))
        # abdominal organs (spinelab.synth.organs)
        if z < z_dome_r + 10.0:
            viscera.paint(pt, k, z, cav)
            if flank_wall is not None:
                _restore_flank_wall(pt, k, flank_wall)
        # lungs above a domed diaphragm
        if thorax and z < z_apex:
            scale = math.sqrt(float(np.clip((z_apex - z) / LUNG_APEX_DOME_MM, 0.02, 1.0)))
            in_ribs = _rib_ring(lv, z, z_of, torso_power).inside(LUNG_INSIDE_RIBS_MM)
            ly_l, cb_l = cav.lung_frame
            for side, zd in ((1.0, z_dome_l), (-1.0, z_dome_r)):
                ra = (hw_c - lv.width / 2 - 6.0) / 2
                lx = xs + side * (lv.width / 2 + 6.0 + ra)
                ly = ly_l

                def above(
                    x: Any,
                    y: Any,
                    lx: float = lx,
                    ly: float = ly,
                    ra: float = ra,
                    zd: float = zd,
                    z: float = z,
                    cb: float = cb_l,
                    xm: float = xs,
                ) -> Any:
                    # the dome is flat over most of the section and falls steeply at its rim,
                    # so below the dome only a thin posterior costophrenic recess remains
                    return z > viscera.lung_floor(x, y, lx, ly, ra, cb, zd, xm, cav.lung_back)

                # the section: an ellipse with a squarer posteromedial corner that reaches
                # back beside the vertebral body into the paravertebral gutter
                rx, ry = ra * scale, (cb_l - organs.LUNG_WALL_MM) * scale

                def section(
                    x: Any,
                    y: Any,
                    lx: float = lx,
                    ly: float = ly,
                    rx: float = rx,
                    ry: float = ry,
                    medial: float = -side,
                    floor: Any = above if z < zd else None,  # above the dome's top: all lung
                ) -> Any:
                    # within the superellipse's window: the ellipse, or the posteromedial
                    # quarter (organs.lung_gutter_factor); inside the ribs
                    du, dv = (x - lx) / rx, (y - ly) / ry
                    inside = (du * du + dv * dv <= 1.0) | ((du * medial > 0.0) & (dv > 0.0))
                    inside &= in_ribs(x, y)
                    return inside if floor is None else inside & floor(x, y)

                pt.ellipse2d(
                    k, lx, ly, rx, ry, _T.LUNG, extra=section, power=organs.LUNG_GUTTER_POWER
                )
            # the chest wall inside the body wall's muscle and outside the lungs' limit:
            # intercostal muscle round the ribs (and at the thoracic inlet the muscles of the
            # shoulder girdle), not fat
            pt.ellipse2d(
                k,
                xs,
                ccy,
                hw_c,
                cby,
                _T.MUSCLE,
                power=pw,
                power_back=cav.power_back,
                only=FAT_LIKE,
                extra=lambda x, y, f=in_ribs: ~f(x, y),
            )
        # heart, great vessels
        if thorax:
            viscera.paint_heart(pt, k, z, cav)
            if z > z_carina:
                pt.ellipse2d(k, xs, ys - lv.depth / 2 - 20.0, 9.0, 8.0, _T.GAS)
        if z_aorta_bot < z < z_aorta_top:
            ao_x, ao_y = organs.AORTA_XY
            ar = organs.AORTA_R_MM
            pt.ellipse2d(k, xs + ao_x, ys - lv.depth / 2 + ao_y, ar, ar, _T.BLOOD)
        if z_ivc_bot < z < z_dome_r:
            iv_x, iv_y = organs.IVC_XY
            pt.ellipse2d(k, xs + iv_x, ys - lv.depth / 2 + iv_y, *organs.IVC_HALF_MM, _T.BLOOD)
        if pelvic is not None:
            pelvic.paint_bladder(pt, k, z)
            if z <= z_rect:  # after the bladder: a full one is dented by the rectum
                pelvic.paint_anorectum(pt, k, z, rectum_top)
            pelvic.paint_thighs(pt, k, z, lv.half_w, cy - by, cy + by, lv.fat)
        elif z < z_s2 - 20.0:
            _organ(pt, k, z, xs, cy - 0.35 * by, z_s2 - 80.0, 45.0, 35.0, 40.0, _T.WATER)

    nk = pt.grid.shape_kji[0]
    todo = list(range(nk))
    early = parallel.Forked()
    if workers > 1:
        # half the slices without bowel go to a forked copy while this process lays the bowel
        # out; then the rest are shared out as usual
        clear = [k for k in todo if not in_bowel(float(pt.z[k]))][::2]
        todo = sorted(set(todo) - set(clear))

        def paint_clear() -> None:
            for k in clear:
                paint_slice(k)

        early = parallel.start(paint_clear, into=(pt.tissue,))
    try:
        bowel = _BowelField(pt, plan, bowel_rng, params, z_rect - 5.0, z_bowel_top, z_recess - 5.0)
        parallel.for_each(len(todo), lambda i: paint_slice(todo[i]), workers, into=(pt.tissue,))
    except BaseException:
        early.kill()
        raise
    early.join()
    bowel.paint_vessels()  # mesenteric vessels, into the fat that is left
    # the upper abdomen's vessels, into the fat between its organs (a side stream)
    viscera.paint_vessels(
        pt,
        z_recess - 5.0,
        max(z_dome_r, z_dome_l),
        lambda z: cavity(z, plan.level(z)),
        side_stream(rng, streams.UPPER_VESSELS),
    )
    # the upper mediastinum's great vessels, main bronchi and oesophagus (the aorta below the
    # hiatus is the slices' own)
    z_heart_top = viscera.z_tendon() + organs.HEART_MM[0] * viscera.heart_size
    thoracic = mediastinum.paint_mediastinum(
        pt,
        mediastinum.Heights(z_of, z_t1 - 10.0, z_carina, z_heart_top),
        plan.level,
        _sternum_back,
        plan.scale,
    )
    if params.plaques:  # calcified plaques in the arteries' walls (spinelab.synth.vessels)
        zs = np.arange(z_aorta_top, z_aorta_bot, -1.5)
        tubes = {
            "abdominal": vessels.Tube(
                np.array([vessel_point(z, organs.AORTA_XY) for z in zs]), organs.AORTA_R_MM
            )
        }
        tubes.update(thoracic)
        if iliac is not None:
            tubes.update(iliac.tubes)
        vessels.paint_plaques(pt, tubes, params.plaques)
    # the lungs' arteries and veins, into the lung (their own side stream: the case's other
    # draws stay as they were)
    lv_h = plan.level(0.5 * (zl("T5", 0.0) + zl("T6", 0.0)))
    lung_vessels.paint_lung_vessels(
        pt,
        z_of,
        lung_vessels.hilum_positions(lv_h.x_s, lv_h.y_s - lv_h.depth / 2, plan.scale),
        lambda z: np.interp(z, plan.zc, plan.xc),
        side_stream(rng, streams.LUNG_VESSELS),
    )
    return (None if pelvic is None else pelvic.male), torso_power


# --------------------------------------------------------------------------------------------
# Body contour: subcutaneous fat of varying thickness around the muscle wall
# --------------------------------------------------------------------------------------------
#: Subcutaneous fat around the trunk, in multiples of the level's drawn fat (``Level.fat``),
#: over the muscle wall's points at positions CONTOUR_V (``v``: -1 the wall's front, 0 its
#: centre, +1 its back; both sides alike but for the case's asymmetry and ripple): front,
#: anterolateral, lateral, posterolateral, the back's corner and the back (more than
#: BACK_FAT_SHARE: the back is cut flat at BACK_FAT_SHARE behind the wall, where it lies on the
#: couch). Supine CTs show the fat thin over the anterolateral and lateral wall and the spine,
#: thick over the posterolateral flanks ("love handles": the fat sags sideways when lying on the
#: back) and, in android obesity, over the lower belly. The real example CT (3 mm, fat along 16
#: rays from the body's centre at T11/L1/L3/L5): front 16/22/66/45 mm, lateral 7-32 mm (median
#: 0.53 of the front), posterolateral 6-18 mm at T11-L1 and 32-66 mm at L3-L5, the back 20-38
#: mm. Along rays out of the vertebral centre at L1/L2/L3/L4 (front +-10-20 deg, side +-80-100,
#: posterolateral +-125-145): side / front 0.73/0.62/0.77/0.78, posterolateral 15/25/43/53 mm
#: (0.76/0.68/1.38/1.09 of the front). The front and the posterolateral knots add the case's
#: belly and flank draws; the posterolateral and the back's corner knots' own 0.22 and 0.45
#: (were 0.3 and 0.6) are what is left at L1 and above, where the flank draw stops
#: (CONTOUR_FLANK_Z). With lateral 0.5 and 0.3 of the flank draw there, ten generated
#: cases (3 mm, lumbar and thoraco-lumbar) had side / front 1.1-1.9 (median 1.4), now 0.7-0.8.
CONTOUR_V = (-1.0, -0.55, -0.1, 0.55, 0.85, 1.0)
CONTOUR_FAT = np.array((0.7, 0.6, 0.4, 0.22, 0.45, 1.3 * BACK_FAT_SHARE))
#: How the case's belly and flank draws spread over the knots (the anterolateral fat takes half
#: of the belly; the flanks go to the posterolateral wall and the back's corner, not the side:
#: the outline stays convex, no waist between belly and flank).
CONTOUR_BELLY_SPREAD = np.array((1.0, 0.5, 0.0, 0.0, 0.0, 0.0))
#: The belly's extra fat falls by this share from the midline to the wall's side (a dome, not
#: the wall's flat front moved forwards).
CONTOUR_BELLY_DOME = 0.6
CONTOUR_FLANK_SPREAD = np.array((0.0, 0.0, 0.0, 0.6, 1.0, 0.0))
#: Per-case draws: the fat's distribution from gynoid (0) to android (1), uniform; the extra
#: front fat at L3-S1 (the belly, in multiples of the level's fat) grows with it to
#: CONTOUR_BELLY and the extra posterolateral fat (the flanks, CONTOUR_FLANK_Z along the spine)
#: falls with it over CONTOUR_FLANK; left-right asymmetry of the fat (a fraction, +-) and the
#: amplitude of a slow ripple of the thickness around the trunk that drifts along z.
CONTOUR_BELLY = 0.8
CONTOUR_FLANK = (1.4, 0.5)
CONTOUR_ASYMMETRY = 0.25
CONTOUR_RIPPLE = (0.08, 0.2)
#: The flank draw's weight along the spine (label, weight; linear between, none above L1):
#: the posterolateral fat grows caudally towards the iliac crests. The real example CT
#: (measured as for BACK_FAT_SHARE, rays at +-125/135/145 deg): 13.8/40.8/47.3/56.2 mm at
#: L1-L4, 4.1 times from L1 to L4, 0.73/1.13/0.96/0.81 of the front fat (an earlier session's
#: cruder measure: 15/25/43/53 mm). With the weights 0.2/0.5/0.9/1.0 at L1-L4 (0.1 at T12)
#: and the posterolateral knots 0.3 and 0.6 of CONTOUR_FAT, ten generated 3 mm cases grew
#: 1.3-3.0 times (median 2.2; 0.94/0.97/0.92/0.91 of the front); now 1.7-7.3 (median 4.2,
#: the lean cases' thin L1 fat losing most to the skin's partial volume; 0.63/1.06/1.10/1.07
#: of the front). The knots' lower base takes the fat off L1 (and T12: posterolateral / front
#: 0.69 there, real 0.64), the weights put it back from L2 down; below L4 the sum stays about
#: as it was (S1 and S2 keep the buttocks' fat).
CONTOUR_FLANK_Z: tuple[tuple[str, float], ...] = (
    ("S2", 0.95),
    ("S1", 1.2),
    ("L4", 1.4),
    ("L3", 1.2),
    ("L2", 0.7),
    ("L1", 0.0),
)
#: Scarpa's fascia, the membranous layer of the subcutaneous fat: a thin fibrous line (soft
#: tissue) at a drawn share SCARPA_DEPTH of the fat's depth, where the fat is thicker than
#: SCARPA_MIN_FAT_MM, below L2 and in front of SCARPA_MAX_V (front and flanks).
SCARPA_DEPTH = (0.35, 0.6)
SCARPA_MIN_FAT_MM = 12.0
SCARPA_MAX_V = 0.6
#: The muscle wall's outline is the superellipse of the case's torso power in front and rounds
#: off at the back to a power that follows the spine (label, power; linear between, held
#: beyond): at T12-L1 the back's muscles over the ribs make a broad, flat back under little
#: fat; from L3 down the back muscles are narrower than the trunk and the flanks' fat fills
#: the posterior corners (the real example CT: 51-60 mm of fat 135 degrees from the front at
#: L3, 24 mm over the spine). How far the skin lies in front of the back's most posterior
#: point at 0.5 / 0.65 / 0.8 / 0.9 of the section's half-width (:func:`realism.back_outline`,
#: the slices through the body centres): the real example CT 0 / 12 / 30 / 48 mm at T12,
#: 9 / 15 / 36 / 54 at L1, 9 / 18 / 30 / 48 at L2, 3 / 9 / 21 / 36 at L3; six generated
#: thoraco-lumbar 3 mm cases made as it was (seeds 1, 2, 4, 5, 7, 8; medians) with 1.8 at
#: every height 16.5 / 27 / 45 / 61.5, 15 / 27 / 45 / 60, 4.5 / 16.5 / 36 / 51 (a back rounding
#: off from the midline), now 3 / 12 / 28.5 / 48, 7.5 / 18 / 33 / 54, 3 / 12 / 30 / 46.5; L3
#: as before, 0 / 7.5 / 31.5 / 49.5 (2.1-2.3 from L2 down fitted L3 better but took the
#: posterolateral fat's growth from L1 to L4 below tests/test_synth_back_fat.py's bound; from
#: L3 down the fat now fills the back's corners out instead, CONTOUR_BACK_FILL_Z).
WALL_BACK_POWER_Z: tuple[tuple[str, float], ...] = (
    ("T12", 2.7),
    ("L1", 2.3),
    ("L2", 2.0),
    ("L3", 1.8),
)
#: The back half of the lower trunk's outline (from L3 down): lying supine, the flanks' fat
#: fills the posterior corners out, so the skin stays broad behind the vertebral centre over a
#: rounder muscle wall. Each row's half-width behind the widest row moves a share (label,
#: share; linear between, held beyond) of the way out to a superellipse of power
#: CONTOUR_BACK_POWER from the widest row to the last (where that lies further out). The real
#: example CT's half-width at 0.5 / 0.7 / 0.85 of the way from the vertebral body's centre to
#: the back, over the widest: 0.94 / 0.85 / 0.68 at L3, 0.96 / 0.87 / 0.71 at L4 (a
#: superellipse of power 3 from the centre: 0.96 / 0.87 / 0.73); six generated 3 mm cases
#: made as it was (seeds 1, 2, 4, 5, 7, 8, medians) 0.865 / 0.755 / 0.68 and 0.875 / 0.765 /
#: 0.695 without the fill, 0.95 / 0.86 / 0.73 and 0.95 / 0.86 / 0.74 with it. The skin in front
#: of the back's most posterior point (:func:`realism.back_outline`, 0.5 / 0.65 / 0.8 / 0.9 of
#: the half-width): real L3 3 / 9 / 21 / 36 mm, L4 0 / 9 / 18 / 30; the six cases 0 / 7.5 /
#: 31.5 / 49.5 and 0 / 6 / 25.5 / 45 without, 0 / 7.5 / 18 / 31.5 and 0 / 6 / 18 / 30 with it. At
#: L2 (real 9 / 18 / 30 / 48, the cases 3 / 12 / 30 / 46.5 without) the fill that follows the
#: flanks' fat (0.7 there) flattened it to 3 / 9 / 22.5 / 34.5, so it starts at L3.
CONTOUR_BACK_FILL_Z: tuple[tuple[str, float], ...] = (("L3", 1.0), ("L2", 0.0))
CONTOUR_BACK_POWER = 3.0
#: Points on the wall's half outline (front to back) that the fat's thickness moves outwards.
_CONTOUR_POINTS = 64


def _smooth_knots(v: Any, knots_v: NDArray[np.float64], values: NDArray[np.float64]) -> Any:
    """Interpolate ``values`` (one per knot) at ``v`` with a raised cosine between the knots
    (C1-smooth: no corner in the outline at a knot)."""
    t = np.interp(v, knots_v, np.arange(len(knots_v), dtype=float))
    i = np.minimum(t.astype(int), len(knots_v) - 2)
    s = 0.5 - 0.5 * np.cos(np.pi * (t - i))
    return values[i] * (1.0 - s) + values[i + 1] * s


def _central_diff(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Central differences of a 1-D array, one-sided at the ends (``np.gradient`` by step)."""
    d = np.empty_like(a)
    d[1:-1] = 0.5 * (a[2:] - a[:-2])
    d[0], d[-1] = a[1] - a[0], a[-1] - a[-2]
    return d


class _BodyContour:
    """The body's outline on each axial slice: the muscle wall's superellipse grown outwards by
    a subcutaneous fat thickness that varies around the trunk and along it (thin over the
    anterolateral wall and the spine, thick over the posterolateral flanks and the lower belly,
    a little asymmetric, with a slow ripple), flat behind where the back lies on the couch.

    The outline is the wall's offset curve (each point of the wall moved along its outward
    normal by the local fat thickness), sampled at _CONTOUR_POINTS points evenly spaced along
    the wall and turned into row form (the body's left and right edge on each grid row), which
    keeps the painting as cheap as one superellipse's.
    """

    def __init__(self, plan: BodyPlan, rng: np.random.Generator) -> None:
        r = side_stream(rng, streams.CONTOUR)  # the case's other draws stay as they were
        android = float(r.uniform())
        self.belly = CONTOUR_BELLY * android
        self.flank = CONTOUR_FLANK[0] + (CONTOUR_FLANK[1] - CONTOUR_FLANK[0]) * android
        self.asym = float(r.uniform(-CONTOUR_ASYMMETRY, CONTOUR_ASYMMETRY))
        self.ripple = float(r.uniform(*CONTOUR_RIPPLE))
        self.phase = float(r.uniform(0.0, 2.0 * np.pi))
        self.wavelength_mm = float(r.uniform(120.0, 300.0))
        self.scarpa = float(r.uniform(*SCARPA_DEPTH))
        z_of = plan.z_of

        def ramp(pairs: tuple[tuple[str, float], ...]) -> tuple[list[float], list[float]]:
            got = sorted((z_of[lab], val) for lab, val in pairs if lab in z_of)
            return [p[0] for p in got] or [0.0], [p[1] for p in got] or [0.0]

        # belly (front) and flank (posterolateral) weights along z; Scarpa's line below L2
        self.z_belly = ramp((("S2", 0.7), ("S1", 1.0), ("L3", 1.0), ("L1", 0.1), ("T12", 0.0)))
        self.z_flank = ramp(CONTOUR_FLANK_Z)
        self.z_scarpa = ramp((("L2", 1.0), ("L1", 0.0)))
        self.z_back_power = ramp(WALL_BACK_POWER_Z)
        self.z_back_fill = ramp(CONTOUR_BACK_FILL_Z)
        # a dense parameter along the wall's half outline, front (-pi/2) to back (+pi/2)
        t = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 4 * _CONTOUR_POINTS + 1)
        self.cos_t, self.sin_t = np.abs(np.cos(t)), np.sin(t)
        self.dense: dict[tuple[float, float], tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        self.knots_v = np.asarray(CONTOUR_V)

    def fat_mm(
        self, z: float, fat: float, v: NDArray[np.float64], across: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Subcutaneous fat thickness (mm) on the patient's right and left over the wall's
        points at positions ``v`` (-1 the wall's front, +1 its back) and ``across`` (0 on the
        midline, 1 at the wall's side) of level ``z`` whose drawn fat is ``fat``. Both sides
        agree on the midline (the outline has no step there)."""
        belly = self.belly * float(np.interp(z, *self.z_belly))
        flank = self.flank * float(np.interp(z, *self.z_flank))
        m = _smooth_knots(v, self.knots_v, CONTOUR_FAT + flank * CONTOUR_FLANK_SPREAD)
        if belly > 0.0:  # a dome: most over the midline
            dome = 1.0 - CONTOUR_BELLY_DOME * np.asarray(across) ** 2
            m = m + belly * dome * _smooth_knots(v, self.knots_v, CONTOUR_BELLY_SPREAD)
        m = fat * m
        # angle around the trunk: 0 at the front midline, +-pi at the back's (+: the left)
        ang = 0.5 * np.pi * (v + 1.0)
        p = self.phase + 2.0 * np.pi * z / self.wavelength_mm
        lean = self.asym * np.sin(ang)
        out = []
        for side in (-1.0, 1.0):
            ripple = 1.0 + self.ripple * np.sin(2.0 * side * ang + p)
            out.append(m * ripple * (1.0 + side * lean))
        return out[0], out[1]

    def wall_curve(
        self, wall: tuple[float, float, float, float], power: float, z: float
    ) -> tuple[NDArray[np.float64], ...]:
        """Points on the wall's outline, front to back and evenly spaced along it: the
        superellipse ``(cx, cy, rx, ry)`` of ``power`` in front, rounding off behind to the
        power of height ``z`` (:data:`WALL_BACK_POWER_Z`). Returns half-width (mm from
        ``cx``), y (mm), outward normal ``(nx, ny)``, position ``v`` (front -1 to back +1) and
        ``across`` (half-width over ``rx``)."""
        _, cy, rx, ry = wall
        back = round(float(np.interp(z, *self.z_back_power)), 2)
        key = (power, back)
        if key not in self.dense:
            # the back half rounds off towards its power at the back (WALL_BACK_POWER_Z)
            e = 2.0 / power + (2.0 / back - 2.0 / power) * np.maximum(self.sin_t, 0)
            self.dense[key] = (self.cos_t**e, np.sign(self.sin_t) * np.abs(self.sin_t) ** e)
        across_d, v_d = self.dense[key]
        xd, yd = rx * across_d, ry * v_d
        s = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(xd), np.diff(yd)))))
        sq = np.linspace(0.0, s[-1], _CONTOUR_POINTS)
        across, v = np.interp(sq, s, across_d), np.interp(sq, s, v_d)
        x, y = rx * across, ry * v
        tx, ty = _central_diff(x), _central_diff(y)
        norm = np.maximum(np.hypot(tx, ty), 1e-9)
        return x, cy + y, ty / norm, -tx / norm, v, across

    @staticmethod
    def filled_back(
        y: NDArray[np.float64], half: NDArray[np.float64], fill: float
    ) -> NDArray[np.float64]:
        """Half-widths ``half`` (mm; NaN off the body) on rows ``y`` with the fat of the back
        half filled out (a share ``fill``) towards a superellipse of power
        :data:`CONTOUR_BACK_POWER` from the widest row to the last one."""
        rows = np.flatnonzero(np.isfinite(half))
        if len(rows) < 3:
            return half
        iw = int(rows[np.argmax(half[rows])])
        ib = int(rows[-1]) if y[-1] > y[0] else int(rows[0])
        span = float(y[ib] - y[iw])
        if abs(span) < 1e-6:
            return half
        t = np.clip((y - y[iw]) / span, 0.0, 1.0)
        target = half[iw] * (1.0 - t**CONTOUR_BACK_POWER) ** (1.0 / CONTOUR_BACK_POWER)
        gain = np.where((t > 0.0) & np.isfinite(half), np.maximum(target - half, 0.0), 0.0)
        return np.asarray(half + fill * gain)

    @staticmethod
    def offset(
        y: NDArray[np.float64], curve: tuple[NDArray[np.float64], ...], f: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Half-width (mm; NaN off the body) on rows ``y`` of the wall ``curve`` moved out by
        ``f`` (mm per point, >= 0)."""
        x, yc, nx, ny = curve[:4]
        xo, yo = x + f * nx, np.maximum.accumulate(yc + f * ny)
        return np.asarray(np.interp(y, yo, xo, left=np.nan, right=np.nan))

    @staticmethod
    def inner_half(
        y: NDArray[np.float64],
        curve: tuple[NDArray[np.float64], ...],
        depth: float | NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Half-width (mm; -1 where the row misses) on rows ``y`` of the points at least
        ``depth`` mm (one value, or one per point of the outline) inside the (convex) wall
        ``curve``: every tangent of the outline moved inwards by its ``depth`` bounds them (no
        folds where the outline is tighter than that)."""
        x, yc, nx, ny = curve[:4]
        d = np.broadcast_to(np.asarray(depth, dtype=np.float64), x.shape)
        dy = np.asarray(y, dtype=np.float64)[:, None] - yc[None, :]
        side = nx > 1e-3
        bound = x[side] + (-d[side] - ny[side] * dy[:, side]) / nx[side]
        half = bound.min(axis=1)
        ends = ny[~side] * dy[:, ~side] > -d[~side]  # the front's and the back's midline
        return np.where(ends.any(axis=1) | (half < 0.0), -1.0, half)

    def edges(
        self,
        y: NDArray[np.float64],
        cx: float,
        curve: tuple[NDArray[np.float64], ...],
        f_r: NDArray[np.float64],
        f_l: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Right and left edge (x mm; NaN where the row misses) on rows ``y`` of the wall moved
        out by ``f_r`` and ``f_l`` (the patient's right and left, mm)."""
        w_r = self.offset(y, curve, np.maximum(f_r, 0.0))
        w_l = self.offset(y, curve, np.maximum(f_l, 0.0))
        ok = np.isfinite(w_r) & np.isfinite(w_l)
        return np.where(ok, cx - w_r, np.nan), np.where(ok, cx + w_l, np.nan)

    def paint(
        self,
        pt: Painter,
        k: int,
        z: float,
        lv: Level,
        wall: tuple[float, float, float, float],
        power: float,
        y_back: float,
    ) -> None:
        """Paint the body (fat) on slice ``k``, no further back than ``y_back`` (mm), Scarpa's
        fascia in it (soft tissue, over fat only) and the wall's muscle."""
        g = pt.grid
        cx = wall[0]
        curve = self.wall_curve(wall, power, z)
        v, across = curve[4], curve[5]
        f_r, f_l = self.fat_mm(z, lv.fat, v, across)  # -x: the patient's right
        y_front = wall[1] - wall[3] - max(float(f_r[0]), float(f_l[0]))
        j0, j1 = g.index_range(1, y_front, y_back)
        if j1 <= j0:
            return
        y = pt.y[j0:j1]
        x_lo, x_hi = self.edges(y, cx, curve, f_r, f_l)
        fill = float(np.interp(z, *self.z_back_fill))
        if fill > 0.0:
            x_lo = cx - self.filled_back(y, cx - x_lo, fill)
            x_hi = cx + self.filled_back(y, x_hi - cx, fill)
        pt.rows(k, j0, x_lo, x_hi, _T.FAT)
        zero = np.zeros_like(f_r)
        pt.rows(k, j0, *self.edges(y, cx, curve, zero, zero), _T.MUSCLE)
        # Scarpa's fascia: the wall moved out by ``scarpa`` of the fat, +-h, in front of
        # SCARPA_MAX_V and where the fat is thick
        if float(np.interp(z, *self.z_scarpa)) <= 0.0:
            return
        if self.scarpa * lv.fat < 0.5 * SCARPA_MIN_FAT_MM:
            return
        n = int(np.searchsorted(y, wall[1] + SCARPA_MAX_V * wall[3]))
        if n <= 0:
            return
        h = max(0.5, 0.45 * float(min(g.spacing_mm[0], g.spacing_mm[1])))
        y = y[:n]
        a_r, a_l = self.scarpa * f_r, self.scarpa * f_l
        o_lo, o_hi = self.edges(y, cx, curve, a_r + h, a_l + h)
        i_lo, i_hi = self.edges(y, cx, curve, a_r - h, a_l - h)
        # the line ends where a side's fat is thin (its strip on that side is left out)
        thick_r = np.interp(y, curve[1], f_r) >= SCARPA_MIN_FAT_MM
        thick_l = np.interp(y, curve[1], f_l) >= SCARPA_MIN_FAT_MM
        cap = np.isfinite(o_lo) & ~np.isfinite(i_lo)  # in front of the inner edge: whole rows
        side = np.isfinite(o_lo) & np.isfinite(i_lo)
        pt.row_intervals(k, j0, np.where(cap & thick_r & thick_l, o_lo, np.nan), o_hi, _T.SOFT)
        pt.row_intervals(k, j0, np.where(side & thick_r, o_lo, np.nan), i_lo, _T.SOFT)
        pt.row_intervals(k, j0, np.where(side & thick_l, i_hi, np.nan), o_hi, _T.SOFT)


#: Midline groove of the back (mm): between the erector spinae masses the back muscles leave a
#: notch of BACK_NOTCH_MM depth and BACK_NOTCH_HALF_MM half-width over the spinous processes
#: (filled with fat and the supraspinous ligament), and the skin dips by BACK_GROOVE_MM over
#: BACK_GROOVE_HALF_MM to either side, into the fat only (the real
#: example CT: notch about 24 mm deep and 8-12 mm wide at T12, skin 6-9 mm deep at T12 and 3-12
#: mm at L3; the old back was flat).
BACK_NOTCH_MM = 16.0
BACK_NOTCH_HALF_MM = 11.0
BACK_GROOVE_MM = 6.0
BACK_GROOVE_HALF_MM = 20.0
#: Lateral abdominal wall (mm): external oblique, internal oblique and transversus abdominis
#: as three layers of the 12 mm wall muscle, split by thin fat planes at these depths below the
#: wall's outer surface, lateral to the rectus sheath (the linea alba's half-width plus
#: RECTUS_WIDTH_MM from the midline) and in front of ABDOMINAL_LAYERS_BACK_MM behind the
#: vertebral centre, where they join the thoracolumbar fascia. The linea alba (LINEA_ALBA_*)
#: parts the two recti at the midline.
ABDOMINAL_FAT_PLANES_MM = (4.0, 8.0)
ABDOMINAL_FAT_PLANE_HALF_MM = 0.6
ABDOMINAL_LAYERS_BACK_MM = 15.0
#: The linea alba between the recti: a fibrous sheet LINEA_ALBA_MM thick (soft tissue, not fat)
#: with the preperitoneal fat behind it. Its width is a rhombus along the trunk: widest at the
#: umbilicus (over the L3-L4 disc), LINEA_ALBA_XIPHOID_SHARE of that at the xiphoid (T9's
#: centre) and LINEA_ALBA_PUBIS_SHARE at the pubis (90 mm below S2's centre); at the umbilicus
#: LINEA_ALBA_UMBILICUS_MM[0] + [1] times the case's drawn fat thickness (wider with the body
#: mass index): 14-42 mm for fat_mm 5-40. Ultrasound of 150 nulliparous women aged 20-45 (Beer
#: et al., Clin Anat 22:706, 2009): 7 +- 5 mm at the xiphoid, 13 +- 7 mm 3 cm above and 8 +- 6
#: mm 2 cm below the umbilicus; CT of 117 patients (Hernia 2023, doi 10.1007/s10029-023-02939-0):
#: a rhombus, 44 +- 19 mm at the umbilicus, wider above it than below, wider with age and body
#: mass index. It was 6 mm wide everywhere (a muscle-deep block of soft tissue).
LINEA_ALBA_MM = 2.5
LINEA_ALBA_UMBILICUS_MM = (10.0, 0.8)
LINEA_ALBA_XIPHOID_SHARE = 0.35
LINEA_ALBA_PUBIS_SHARE = 0.25
#: Width of each rectus (mm, times the body scale) from the linea alba to its lateral edge.
RECTUS_WIDTH_MM = 65.0
#: The front wall is not the lateral wall's thickness all across: each rectus is a lens, its
#: full thickness out to RECTUS_FULL_SHARE of its width and RECTUS_EDGE_MM at its
#: lateral edge (the linea semilunaris); lateral to it the obliques and the transversus begin as
#: aponeuroses, the wall APONEUROSIS_MM thick there and reaching its full (lateral) thickness
#: APONEUROSIS_SPAN_MM (times the body scale) further out, where their muscle bellies lie. The
#: muscle given up is the cavity's fat (the preperitoneal fat). On the real example CT (3 mm,
#: the first run of -40..150 HU below the front fat, columns 0-135 mm from the midline, L2-L5)
#: the rectus 10-13 mm thick 15 mm out, the wall 1-8 mm from 30 to 105 mm out (a partial-volume
#: floor: a 3 mm layer in fat reads near -40 HU), 13-44 mm from 120 mm out; the old wall was
#: 12 mm across the whole front (10-12 mm out to 75 mm, 6-9 mm from the fat planes beyond).
RECTUS_FULL_SHARE = 0.5
RECTUS_EDGE_MM = 7.0
APONEUROSIS_MM = 5.0
APONEUROSIS_SPAN_MM = 50.0
#: The bowel (colon and small bowel) is painted down to this far below S2's centre; the rectum
#: below it and the anal canal by :meth:`spinelab.synth.pelvic_soft.PelvicSoftTissue.
#: paint_anorectum`.
BOWEL_BELOW_S2_MM = 70.0
#: Below S2's centre the bowel stays this far (mm) in front of the sacrum's front, besides the
#: 8 mm of ``BowelField.paint`` (the mesorectal fat; at 0 mm the rectum and loops filled the
#: sacral hollow and the lesser pelvis's fat at S1's coronal plane fell from 0.52 to 0.46-0.48,
#: tests/test_synth_pelvic_floor.py's three cases). Only the painting keeps to this line: the
#: bowel's walk and the colon's course still use the vertebral bodies' front.
BOWEL_SACRUM_GAP_MM = 15.0
#: Fat plane (mm) around the psoas where it meets other muscle.
PSOAS_FAT_PLANE_MM = 1.5
#: Posterior pararenal space (retroperitoneal fat) of the lumbar abdomen: the muscle more than
#: RETRO_WALL_MM inside the body wall's outline, lateral to the vertebral body's side by
#: RETRO_MEDIAL_MM, from RETRO_BELOW_MM below L5's centre (the iliac crests; the iliacus and
#: the pelvis' muscles below) up to RETRO_ABOVE_MM above the renal recess (where the thorax'
#: cavity reaches behind the vertebral bodies), turns to fat; over RETRO_ABOVE_MM at either
#: end the wall thickens by up to RETRO_TAPER_GROW_MM (no step in coronal views). The psoas,
#: the back muscles and the quadratus lumborum are painted over it, and the wall's muscle is
#: put back where the kidneys' perirenal fat covered it. Without it everything behind the
#: abdominal cavity (which ends at the vertebral centre below the recess) was muscle, so the
#: kidneys lay in a block of muscle: on rays 70-110 deg out from a kidney's centre at L2, ten
#: generated cases (3 mm) had 16-52 mm (median 27) of non-fat tissue between the kidney's fat
#: and the skin, now 11-16 mm (median 13); the real example CT has 6-7 mm of muscle
#: posterolaterally (the quadratus lumborum medially, the thin transversus, obliques and
#: latissimus beside it, perirenal and pararenal fat around the kidney).
#: Behind the kidneys the wall is thinner: it thins from RETRO_WALL_MM to RETRO_WALL_BACK_MM
#: where its outline faces backwards (the backward component of the outline's outward normal
#: from RETRO_WALL_BACK_NY[0] to [1]), fully at L2's centre and above, not at all from L3's
#: centre down. The real example CT (3 x 3 median, muscle -30..150 HU, the non-fat run under
#: the subcutaneous fat on rays out of each kidney's centre): 3-10.5 mm (median 7.5) at L2 and
#: 7-10 mm at L1 on rays 130-150 deg, 9.5-11.5 mm at L2 on rays 80-90 deg, 11-17 mm at L3
#: (below the kidneys). The test cases of tests/test_synth_flank.py at L2, medians per
#: kidney: rays 130-150 deg 11.8-13.5 mm (median 12.1) with the 12 mm wall all round, now
#: 7.0-7.5 (7.25); rays 70-110 deg 9.8-12.8 (11.6), now 8.3-10.5 (9.75).
RETRO_WALL_MM = 12.0
RETRO_WALL_BACK_MM = 7.0
RETRO_WALL_BACK_NY = (0.4, 0.85)
#: Below the kidneys the lateral wall (the obliques and the transversus) is thicker than the
#: 12 mm of the front and the back: FLANK_SIDE_EXTRA_MM more at the sides (the cavity's
#: half-width, and the retroperitoneal wall where its outline does not face backwards, as
#: RETRO_WALL_BACK_NY), from none at L2's centre to all of it at L3's, down to L5's centre and
#: fading over FLANK_SIDE_FADE_MM below it. The real example CT (3 mm; 3 x 3 median, muscle
#: -30..150 HU, the run under the subcutaneous fat on rays 60-110 deg out of the vertebral
#: body's centre, runs into organs left out): medians 15.2 / 14.8 mm (left / right) at L3,
#: 16.2 / 14.1 at L4, 12.0 / 11.2 at L2; six generated lumbar cases (3 mm, seeds 0-5) measured
#: the same way had medians of 12.2 mm at L3 and 12.5 at L4 with the 12 mm wall all round, now
#: 14.7 and 15.4 (L2 unchanged, 9.9 -> 10.0). The bowel's frame (_BowelField) keeps the 12 mm
#: cavity; its painting is clipped to the narrower one.
FLANK_SIDE_EXTRA_MM = 3.0
#: The trunk's axial outline (the body wall's superellipse, and the cavity's inside it) has a
#: power drawn per case from TORSO_POWER_RANGE (2 an ellipse, higher squarer); from L1's centre
#: to L3's it falls by ABDOMEN_POWER_DROP and stays there below: the belly is rounder than the
#: trunk at the costal margin. The cavity's back half keeps the drawn power (the paracolic
#: gutters, where the colon lies, stay as deep). On the real example CT (3 mm, the body's width
#: on rows at 5-45 % of its depth from the front, as a share of its greatest width): T12 0.64 /
#: 0.79 / 0.88 / 0.95 / 0.99, L1 0.56 / 0.75 / 0.83 / 0.93 / 0.99, L3 0.42 / 0.67 / 0.82 / 0.93 /
#: 0.98 and L4-L5 alike (an ellipse: 0.44 / 0.71 / 0.87 / 0.95 / 0.99), and on the DICOM slab
#: (another patient, the costal margin) 0.55 / 0.75 / 0.85 / 0.93 / 0.99. With one power all
#: along, six cases
#: (2.2-3.0) had 0.51-0.64 / 0.74-0.85 / 0.87-0.96 at L3, all squarer than the real belly; with
#: the drop (and the shape model refitted the same day, so other spines) 0.40-0.55 / 0.65-0.80 /
#: 0.81-0.92. tests/test_synth_belly.py measures the same on tissue maps.
TORSO_POWER_RANGE = (2.2, 3.0)
ABDOMEN_POWER_DROP = 0.5
#: Muscle of the body wall (mm) around the abdominal and thoracic cavity, before
#: FLANK_SIDE_EXTRA_MM.
BODY_WALL_MM = 12.0
FLANK_SIDE_FADE_MM = 30.0
RETRO_MEDIAL_MM = 8.0
RETRO_BELOW_MM = 10.0
RETRO_ABOVE_MM = 30.0
RETRO_TAPER_GROW_MM = 60.0
#: Quadratus lumborum (mm): a flat muscle behind the psoas and the kidney's medial part and in
#: front of the erector spinae, from the 12th rib to the iliac crest: its centre
#: QUADRATUS_LATERAL_MM beside the vertebral body's side and QUADRATUS_BEHIND_MM behind the
#: vertebral centre, half-width and half-thickness QUADRATUS_HALF_MM at L4 (it narrows to
#: QUADRATUS_TOP of that at T12). The real example CT at L2 (read off its 3 mm slice): about
#: 30 mm wide and 15 mm thick, its centre about 48 mm beside and 31 mm behind the vertebral
#: centre, a little larger at L3-L4.
QUADRATUS_LATERAL_MM = 26.0
QUADRATUS_BEHIND_MM = 30.0
QUADRATUS_HALF_MM = (18.0, 9.0)
QUADRATUS_TOP = 0.5


def _groove_profile(dx: Any, half: float) -> Any:
    """Raised-cosine profile over ``|dx| < half`` (1 at 0, 0 at ``half``)."""
    u = np.minimum(np.abs(dx) / half, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * u))


def _outside_back_notch(
    inside: Callable[[Any, Any], Any], xs: float, y_back: float
) -> Callable[[Any, Any], Any]:
    """``inside`` less the back muscles' midline notch below ``y_back`` (the wall's back)."""
    notch = _back_notch(xs, y_back)

    def pred(x: Any, y: Any) -> Any:
        return inside(x, y) & ~notch(x, y)

    return pred


def _back_notch(xs: float, y_back: float) -> Callable[[Any, Any], Any]:
    """``notch(x, y)``: the back muscles' midline notch below ``y_back`` (the wall's back)."""

    def pred(x: Any, y: Any) -> Any:
        return y > y_back - BACK_NOTCH_MM * _groove_profile(x - xs, BACK_NOTCH_HALF_MM)

    return pred


def _paint_back_groove(pt: Painter, k: int, xs: float, y_skin: float, y_wall: float) -> None:
    """The back's midline on slice ``k``: a fat notch between the back muscles under the wall's
    back ``y_wall`` and a shallow dip of the skin ``y_skin`` over it (mm, +y posterior)."""
    g = pt.grid
    half = max(BACK_GROOVE_HALF_MM, BACK_NOTCH_HALF_MM)
    i0, i1 = g.index_range(0, xs - half, xs + half)
    j0, j1 = g.index_range(1, y_wall - BACK_NOTCH_MM - 1.0, y_skin + 1.0)
    if i1 <= i0 or j1 <= j0:
        return
    dx = pt.x[i0:i1][None, :] - xs
    y = pt.y[j0:j1][:, None]
    sub = pt.tissue[k, j0:j1, i0:i1]
    notch = (y > y_wall - BACK_NOTCH_MM * _groove_profile(dx, BACK_NOTCH_HALF_MM)) & (
        sub == _T.MUSCLE
    )
    sub[notch] = _T.FAT
    dip = (y > y_skin - BACK_GROOVE_MM * _groove_profile(dx, BACK_GROOVE_HALF_MM)) & (sub == _T.FAT)
    sub[dip] = _T.AIR


def _paint_abdominal_wall(
    pt: Painter,
    k: int,
    wall: tuple[float, float, float, float],
    power: float,
    xs: float,
    ys: float,
    scale: float,
    side: float,
    linea_half: float,
) -> None:
    """Split the abdominal wall's muscle on slice ``k`` into the three lateral layers (thin fat
    planes, :data:`ABDOMINAL_FAT_PLANES_MM`, deeper in proportion where the lateral wall is
    ``side`` mm thicker than its 12 mm, and thinner in front: the aponeuroses), the two recti
    and the linea alba between them.

    Args:
        pt: Painter.
        k: Fine slice index.
        wall: The wall's outer superellipse ``(cx, cy, rx, ry)`` (mm).
        power: Its exponent.
        xs: Spine x (mm).
        ys: Spine y (mm).
        scale: Body scale.
        side: The lateral wall's extra muscle (mm; FLANK_SIDE_EXTRA_MM below the kidneys).
        linea_half: Half the linea alba's width here (mm).
    """
    g = pt.grid
    cx, cy, rx, ry = wall
    full = BODY_WALL_MM + side
    sp = float(min(g.spacing_mm[0], g.spacing_mm[1]))
    h = max(ABDOMINAL_FAT_PLANE_HALF_MM, 0.45 * sp)
    j0, j1 = g.index_range(1, cy - ry, ys + ABDOMINAL_LAYERS_BACK_MM)
    width = RECTUS_WIDTH_MM * scale
    x_in = linea_half + width
    span = APONEUROSIS_SPAN_MM * scale

    def depth_of(ax_s: NDArray[np.float64], ay: NDArray[np.float64], a: Any) -> Any:
        """Whether the points (columns ``ax_s`` from the wall's centre, rows ``ay``) lie at
        least ``a`` mm (per column) inside the wall's outline."""
        return (ay[:, None] / (ry - a)) ** power + (ax_s[None, :] / (rx - a)) ** power <= 1.0

    # the front: the linea alba, the recti's lenses, the aponeuroses lateral to them (rows in
    # front of the wall's centre; the wall is the only muscle yet)
    jf = min(j1, int(np.searchsorted(pt.y, cy)))
    i0, i1 = g.index_range(0, xs - x_in - span, xs + x_in + span)
    if i1 > i0 and jf > j0:
        d = np.abs(pt.x[i0:i1] - xs)
        r = d - linea_half  # into the rectus
        edge = organs.smooth01((r - RECTUS_FULL_SHARE * width) / ((1 - RECTUS_FULL_SHARE) * width))
        lateral = organs.smooth01((d - x_in) / span)
        linea = r < 0.0
        thick = np.where(
            linea,
            LINEA_ALBA_MM,
            np.where(
                d < x_in,
                BODY_WALL_MM - (BODY_WALL_MM - RECTUS_EDGE_MM) * edge,
                APONEUROSIS_MM + (full - APONEUROSIS_MM) * lateral,
            ),
        )
        sub = pt.tissue[k, j0:jf, i0:i1]
        deep = depth_of(np.abs(pt.x[i0:i1] - cx), np.abs(pt.y[j0:jf] - cy), thick)
        muscle = sub == _T.MUSCLE
        sub[deep & muscle] = _T.FAT
        # the linea alba: a fibrous sheet (soft-tissue density at CT, a little below muscle)
        sub[~deep & muscle & linea[None, :]] = _T.SOFT
    # the lateral layers' fat planes, as deep in proportion as the wall is thick
    for lo, hi in ((cx - rx, xs - x_in), (xs + x_in, cx + rx)):
        i0, i1 = g.index_range(0, lo, hi)
        if i1 <= i0 or j1 <= j0:
            continue
        ax = np.abs(pt.x[i0:i1] - cx)
        ay = np.abs(pt.y[j0:j1] - cy)
        d = np.abs(pt.x[i0:i1] - xs)
        rows_front = (pt.y[j0:j1] < cy)[:, None]
        thick = APONEUROSIS_MM + (full - APONEUROSIS_MM) * organs.smooth01((d - x_in) / span)
        sub = pt.tissue[k, j0:j1, i0:i1]
        plane = np.zeros(sub.shape, dtype=bool)
        for a0 in ABDOMINAL_FAT_PLANES_MM:
            # behind the wall's centre the lateral wall is full everywhere
            a_front = a0 * thick / BODY_WALL_MM
            a_back = a0 * full / BODY_WALL_MM
            for a, rows in ((a_front, rows_front), (a_back, ~rows_front)):
                outer = depth_of(ax, ay, a - h)
                inner = depth_of(ax, ay, a + h)
                plane |= outer & ~inner & rows
        sub[plane & (sub == _T.MUSCLE)] = _T.FAT


def _paint_retroperitoneum(
    pt: Painter,
    k: int,
    curve: tuple[NDArray[np.float64], ...],
    wall: tuple[float, float, float, float],
    power: float,
    lv: Level,
    span: tuple[float, float, float, float, float],
    side: float = 0.0,
) -> tuple[tuple[slice, slice], NDArray[np.bool_]] | None:
    """Fat of the posterior pararenal space on slice ``k`` (the muscle more than the wall's
    thickness inside its outline, beside the vertebral body, turns to fat) and the quadratus
    lumborum in it (muscle, over that fat only; the psoas' fat plane parts them later).

    Args:
        pt: Painter.
        k: Fine slice index.
        curve: The wall's outline (:meth:`_BodyContour.wall_curve`; its muscle's outer edge).
        wall: The wall's outer superellipse ``(cx, cy, rx, ry)`` (mm), a window around it.
        power: Its exponent.
        lv: The slice's spine level.
        span: Top of the quadratus lumborum (mm; the 12th rib, T12), bottom of the
            retroperitoneal fat (mm; the iliac crest), the renal recess (mm; the fat ends
            RETRO_ABOVE_MM above it), and where the wall behind is thinned fully (mm; L2's
            centre) and not at all (L3's centre).
        side: The lateral wall's extra muscle (mm; FLANK_SIDE_EXTRA_MM below the kidneys),
            where the outline faces sideways (not behind).

    Returns:
        The wall's muscle (RETRO_WALL_MM; RETRO_WALL_BACK_MM behind) beside it, for
        :func:`_restore_flank_wall` once the organs are painted: a window of the slice (rows,
        columns) and a mask over it; None when the wall misses the grid.
    """
    z_top, z_bot, z_recess, z_thin, z_thick = span
    cx, cy, rx, ry = wall
    xs, ys = lv.x_s, lv.y_s
    z = float(pt.z[k])
    taper = max(z - z_recess, z_bot + RETRO_ABOVE_MM - z, 0.0) / RETRO_ABOVE_MM
    # the wall proper: RETRO_WALL_MM in front and at the side, thinning to
    # RETRO_WALL_BACK_MM where its outline faces backwards (its outward normal's backward
    # component from RETRO_WALL_BACK_NY[0] to [1])
    ny0, ny1 = RETRO_WALL_BACK_NY
    facing = organs.smooth01((curve[3] - ny0) / (ny1 - ny0))
    back = facing * float(organs.smooth01((z - z_thick) / max(z_thin - z_thick, 1.0)))
    proper = RETRO_WALL_MM + (RETRO_WALL_BACK_MM - RETRO_WALL_MM) * back + side * (1.0 - facing)
    grow = RETRO_TAPER_GROW_MM * min(taper, 1.0)
    win = pt.ellipse_window(cx, cy, rx, ry, power)
    if win is None:
        return None
    i0, i1, j0, j1, m = win
    y = pt.y[j0:j1]
    dx = np.abs(pt.x[i0:i1][None, :] - cx)
    beside = np.abs(pt.x[i0:i1] - xs)[None, :] > lv.width / 2 + RETRO_MEDIAL_MM
    deep = dx < _BodyContour.inner_half(y, curve, proper + grow)[:, None]
    sub = pt.tissue[k, j0:j1, i0:i1]
    muscle = m & beside & (sub == _T.MUSCLE)
    sub[muscle & deep] = _T.FAT
    if grow > 0.0:  # the wall proper, not the thicker muscle of the taper
        deep = dx < _BodyContour.inner_half(y, curve, proper)[:, None]
    band = muscle & ~deep
    if z < z_top:
        t = float(np.clip((z_top - z) / max(z_top - z_bot, 1.0), 0.0, 1.0))
        grow = QUADRATUS_TOP + (1.0 - QUADRATUS_TOP) * min(1.0, 1.25 * t)
        qa, qb = QUADRATUS_HALF_MM[0] * grow, QUADRATUS_HALF_MM[1] * grow
        for side in (1.0, -1.0):
            qx = xs + side * (lv.width / 2 + QUADRATUS_LATERAL_MM)
            pt.ellipse2d(k, qx, ys + QUADRATUS_BEHIND_MM, qa, qb, _T.MUSCLE, only=(_T.FAT,))
    return (slice(j0, j1), slice(i0, i1)), band


def _restore_flank_wall(
    pt: Painter, k: int, band: tuple[tuple[slice, slice], NDArray[np.bool_]]
) -> None:
    """The flank wall's muscle (``band``, from :func:`_paint_retroperitoneum`) back where the
    kidneys' perirenal fat covered it on slice ``k``: that fat lies inside the wall, which stays
    whole (where the rim broke through it, the subcutaneous fat ran on into the perirenal and
    pararenal fat: the old renderer had 69-91 mm of fat from the skin on rays 120 deg out of
    L1's centre in 5 of the 6 cases of tests/test_synth_flank.py, now 12-25 mm)."""
    (rows, cols), mask = band
    sub = pt.tissue[k, rows, cols]
    sub[mask & (sub == _T.FAT)] = _T.MUSCLE


def _organ(
    pt: Painter,
    k: int,
    z: float,
    cx: float,
    cy: float,
    cz: float,
    rx: float,
    ry: float,
    rz: float,
    value: int,
) -> None:
    dz = z - cz
    if abs(dz) >= rz:
        return
    f = math.sqrt(1.0 - (dz / rz) ** 2)
    pt.ellipse2d(k, cx, cy, rx * f, ry * f, value)


class _BowelField:
    """The bowel (:class:`spinelab.synth.bowel.BowelField`) on this painter's grid: a colon
    frame placed in the abdominal cavity of :func:`_paint_soft_tissue`, small-bowel loops
    between."""

    def __init__(
        self,
        pt: Painter,
        plan: BodyPlan,
        rng: np.random.Generator,
        params: AnatomyParams,
        z_lo: float,
        z_hi: float,
        z_small_hi: float | None = None,
    ) -> None:
        self.pt = pt

        def cavity(z: float) -> tuple[float, float, float, float]:
            # as in _paint_soft_tissue's slice loop: muscle wall 12 mm inside the fat
            lv = plan.level(z)
            y_ant = lv.y_s + (lv.post - lv.ant) / 2 - (lv.post + lv.ant) / 2 + lv.fat + 12.0
            return lv.x_s, lv.y_s - lv.depth / 2, y_ant, lv.half_w - lv.fat - 12.0

        self.field = BowelField(
            pt.x,
            pt.y,
            pt.z,
            rng,
            params.fat_mm,
            params.bowel_gas,
            z_lo,
            z_hi,
            plan.z_of,
            cavity,
            z_small_hi,
        )

    def paint(self, k: int, xs: float, y_front: float, cav: organs.Cavity, inset: float) -> None:
        """Fill the abdominal cavity (fat of a superellipse) on slice ``k`` with bowel.

        Args:
            k: Fine slice index.
            xs: Spine x (mm).
            y_front: y of the vertebral body's front (mm); bowel stays in front of the
                retroperitoneum (aorta, vena cava, psoas).
            cav: The cavity on this slice.
            inset: The bowel stays this far (mm) inside the cavity's outline.
        """
        rx, ry = cav.hw - inset, cav.hd - inset
        if rx <= 5.0 or ry <= 5.0 or not self.field.active(k):
            return
        win = self.pt.ellipse_window(xs, cav.cy, rx, ry, cav.power, power_back=cav.power_back)
        if win is not None:
            self.field.paint(self.pt.tissue, k, win, xs, y_front)

    def paint_vessels(self) -> None:
        """Mesenteric vessels into the mesenteric fat; after all slices are painted."""
        self.field.paint_vessels(self.pt.tissue)


#: Fat marbling tile (z, along, across voxels): fat septa are thin sheets that run
#: cranio-caudally and fan out backwards from in front of the spine (between the fascicles of
#: multifidus and erector spinae), so the tile is long in z and along, thin across.
_MARBLE_TILE = (64, 128, 128)  # powers of two in-plane: wrap by bit mask
#: Smoothing (mm) of the septa field: z, along (radial in the axial plane), across.
_MARBLE_SIGMA_MM = (9.0, 8.0, 2.5)
#: The septa fan out from this far (mm) in front of the vertebral centre.
_MARBLE_FOCUS_MM = 60.0
#: Coarse grid (mm) of the smooth field that makes the fatty infiltration patchy.
_MARBLE_COARSE_MM = 4.0
#: Largest local streak fraction (the patchiest, most posterior muscle).
_MARBLE_MAX = 0.8
#: Smoothing (mm) and gain of the log-normal patchiness of :class:`_MarbleDensity`. Fatty
#: infiltration of the back muscles is patchy: fat in some fascicle groups, lean muscle
#: between. With a broad, mild patchiness (20 mm, gain 0.7) the septa spread evenly over the
#: whole back, a regular comb of spokes 10 mm apart in axial slices, which no real CT shows;
#: at 8 mm and gain 1.4 they come in patches of a few septa (tests/test_synth_marbling.py).
_MARBLE_PATCH_SIGMA_MM = 8.0
_MARBLE_PATCH_GAIN = 1.4
#: The septa fan out through the muscles beside the spine (erector spinae, multifidus, psoas,
#: quadratus lumborum) within _MARBLE_SIDE_MM[0] of the midline and fade out by
#: _MARBLE_SIDE_MM[1]: the chest wall's and the flanks' muscles are thin sheets whose fat
#: planes run along the wall, not spokes. On the real DICOM slab (0.98 mm, the costal margin)
#: the paraspinal muscles hold a few fat planes between their columns and the chest wall
#: none across it; a generated case at 0.8 mm (case_seed(0, 0), T11) had a comb of radial fat
#: lines across the posterolateral and lateral chest wall. The density is scaled over all the
#: muscle as before, so the paraspinal muscles keep theirs.
_MARBLE_SIDE_MM = (80.0, 110.0)


class _MarbleDensity:
    """Local fraction of muscle turned into fat streaks: patchy and heaviest behind the spine.

    ``weight = exp(a g) * region``: ``g`` a smooth random field (sigma and ``a``:
    :data:`_MARBLE_PATCH_SIGMA_MM` and :data:`_MARBLE_PATCH_GAIN`, 4 mm grid,
    interpolated linearly in z and by nearest node in-plane), ``region`` a ramp in y from 0.4
    in front of the vertebral centre (abdominal wall, psoas) to 1.6 behind the vertebral
    body's back + 20 mm (erector spinae, multifidus). The weights are scaled so that their mean
    over the muscle (estimated on a subsample, clipped at :data:`_MARBLE_MAX`) is ``fraction``.
    """

    def __init__(
        self, pt: Painter, plan: BodyPlan, fraction: float, rng: np.random.Generator
    ) -> None:
        self.pt, self.plan = pt, plan
        c = _MARBLE_COARSE_MM
        x, y, z = pt.x, pt.y, pt.z
        n = [max(2, math.ceil((a[-1] - a[0]) / c) + 1) for a in (x, y, z)]
        g = rng.standard_normal((n[2], n[1], n[0]), dtype=np.float32)
        g = ndi.gaussian_filter(g, _MARBLE_PATCH_SIGMA_MM / c, truncate=2.5, mode="wrap")
        g /= np.float32(float(g.std()) or 1.0)
        self.patch = np.exp(np.float32(_MARBLE_PATCH_GAIN) * g)
        self.yc = y[0] + c * np.arange(n[1])
        self.xc = x[0] + c * np.arange(n[0])
        self.jc = np.minimum(np.rint((y - y[0]) / c).astype(np.intp), n[1] - 1)
        self.ic = np.minimum(np.rint((x - x[0]) / c).astype(np.intp), n[0] - 1)
        self.iz = linear_index(z, float(z[0]), c, n[2])
        # scale so that the mean clipped fraction over (a subsample of) the muscle is `fraction`
        ws = []
        for k in range(0, len(z), 4):
            jj, ii = np.nonzero(pt.tissue[k, ::4, ::4] == _T.MUSCLE)
            if len(jj):
                ws.append(self.weights(k)[self.jc[4 * jj], self.ic[4 * ii]])
        w = np.concatenate(ws) if ws else np.ones(1, np.float32)
        scale = fraction / max(float(w.mean()), 1e-6)
        for _ in range(6):
            got = float(np.clip(scale * w, 0.0, _MARBLE_MAX).mean())
            scale *= fraction / max(got, 1e-6)
        self.scale = scale

    def weights(self, k: int) -> NDArray[np.float32]:
        """Unscaled weight on the coarse (y, x) plane at fine slice ``k``."""
        q0, wz = int(self.iz[0][k]), self.iz[1][k]
        plane = (1.0 - wz) * self.patch[q0] + wz * self.patch[q0 + 1]
        lv = self.plan.level(float(self.pt.z[k]))
        t = np.clip((self.yc - lv.y_s) / (0.5 * lv.depth + 20.0), 0.0, 1.0)
        return np.asarray(plane * (0.4 + 1.2 * t).astype(np.float32)[:, None])

    def fractions(self, k: int) -> NDArray[np.float64]:
        """Local streak fraction on the coarse (y, x) plane at fine slice ``k``: none beyond
        :data:`_MARBLE_SIDE_MM` from the midline."""
        side = np.abs(self.xc - self.plan.level(float(self.pt.z[k])).x_s)
        lo, hi = _MARBLE_SIDE_MM
        keep = organs.smooth01((hi - side) / (hi - lo))
        return np.clip(self.scale * self.weights(k), 0.0, _MARBLE_MAX) * keep[None, :]


def _marble_muscle(
    pt: Painter, plan: BodyPlan, fraction: float, rng: np.random.Generator, workers: int = 1
) -> None:
    """Turn about ``fraction`` of the muscle voxels into thin fat septa (fatty infiltration).

    A small random field, smoothed strongly along z and along the radial direction and little
    across it, is tiled over each slice in fan coordinates (``along = y``, ``across`` = the
    offset from the spine's midline scaled by the distance from a focus
    :data:`_MARBLE_FOCUS_MM` in front of the vertebral centre) and thresholded per voxel at its
    quantile for the local fraction of :class:`_MarbleDensity`. The fat then forms a few long
    septa 1-3 mm thick that fan out backwards, as between the fascicles of multifidus and
    erector spinae, rather than many round dots; they cluster in patches and mostly in the
    paraspinal muscles. Slice by slice in ``workers`` processes
    (:func:`spinelab.synth.parallel.for_each`).
    """
    if fraction <= 0.0:
        return
    sp = pt.grid.spacing_mm
    step = float(min(sp[0], sp[1]))  # tile pixel (mm) in-plane
    rng = rng.spawn(1)[0]  # a child stream: the caller's later draws do not depend on the tile
    noise = rng.standard_normal(_MARBLE_TILE).astype(np.float32)
    sz, sa, sc = _MARBLE_SIGMA_MM
    field = ndi.gaussian_filter(noise, (sz / sp[2], sa / step, sc / step), mode="wrap")
    # septa along the field's zero crossings: thin sheets about 10 mm apart whose thickness
    # grows with the local fraction
    field = -np.abs(field)
    ranked = np.sort(field, axis=None)
    top = len(ranked) - 1
    dens = _MarbleDensity(pt, plan, fraction, rng)
    nk, _, ni = pt.tissue.shape
    tz, ta, tc = _MARBLE_TILE
    # flat indices (row offset + column) into the tile slice and the coarse threshold plane:
    # one 1-D take per pixel instead of a 2-D fancy index
    ja_row = (np.rint((pt.y - pt.y[0]) / step).astype(np.intp) & (ta - 1)) * tc
    jc_row = dens.jc * dens.patch.shape[2]
    tile = field.reshape(tz, ta * tc)
    x_px = (pt.x / step).astype(np.float32)

    def marble(k: int) -> None:
        sl = pt.tissue[k]
        flat = np.flatnonzero(sl == _T.MUSCLE)
        if not len(flat):
            return
        jj, ii = np.divmod(flat, ni)
        lv = plan.level(float(pt.z[k]))
        # fan coordinate: midline offset scaled by the distance from the focus (true scale
        # 50 mm behind the vertebral centre, in the middle of the back muscles)
        dist = np.maximum(pt.y - (lv.y_s - _MARBLE_FOCUS_MM), 20.0)
        scale = ((_MARBLE_FOCUS_MM + 50.0) / dist).astype(np.float32)
        across = (x_px - np.float32(lv.x_s / step))[ii] * scale[jj]
        ic = across.astype(np.intp) & (tc - 1)  # two's complement: wraps negatives too
        # threshold at the (1 - local fraction) quantile of the tile's values
        thr = ranked[np.rint((1.0 - dens.fractions(k)) * top).astype(np.intp)]
        fat = tile[k % tz].take(ja_row[jj] + ic) > thr.reshape(-1).take(jc_row[jj] + dens.ic[ii])
        sl.put(flat[fat], _T.FAT)

    parallel.for_each(nk, marble, workers, into=(pt.tissue,))


def _neck_top(geo: SpineGeometry, plan: BodyPlan) -> tuple[float, float, float, float] | None:
    """The neck's outline where its painter stops above C1 (centre x, y, half-width,
    half-depth; mm), where the head's soft tissue takes over; None without C1."""
    if "C1" not in geo.labels:
        return None
    lv = plan.level(float(geo.centres_mm[geo.labels.index("C1")][2]) + NECK_TOP_ABOVE_C1_MM)
    return lv.x_s, lv.y_s + (lv.post - lv.ant) / 2, lv.half_w, (lv.post + lv.ant) / 2


# --------------------------------------------------------------------------------------------
def render_labels(
    geo: SpineGeometry,
    grid: RenderGrid,
    params: AnatomyParams,
    rng: np.random.Generator,
    workers: int = 1,
) -> RenderResult:
    """Paint the tissue map and the vertebra label map of a spine on a fine grid.

    Args:
        geo: The spine, LPS mm (upright, +z superior).
        grid: Fine axis-aligned grid to paint on.
        params: Body and pathology parameters.
        rng: Random generator (bowel gas, small variations).
        workers: Processes that paint the soft tissue's slices (forked, Linux only; see
            :func:`spinelab.synth.parallel.for_each`). The maps are the same for any number.

    Returns:
        The fine maps; see :class:`RenderResult`.
    """
    pt = Painter(grid)
    if workers > 1 and parallel.can_fork():  # the slices' painters write into shared memory
        pt.tissue = parallel.shared_zeros(pt.tissue.shape, pt.tissue.dtype)
    plan = BodyPlan(geo, params)
    male, trunk_power = _paint_soft_tissue(pt, geo, plan, params, rng, workers)
    arms.paint_arms(pt, geo, plan, params, rng)  # arms-down cases: limbs beside the body
    if male is False:  # after the arms: a wider chest must not push them out
        breasts.paint_breasts(pt, plan, side_stream(rng, streams.BREASTS))
    # the head's teeth are not painted over later, so its fillings go in with it
    dental = head.paint_head(pt, geo, plan.scale, _neck_top(geo, plan), params.fillings)
    pelvis.paint_pelvis(pt, geo, plan, rng)  # its fatty marrow from a jumped copy of rng
    hips = pelvis.hip_centres_mm(geo, params.body_scale)
    if hips is not None:
        vessels.paint_phleboliths(pt, hips, params.body_scale, params.phleboliths)
        bone_islands.paint_pelvic_islands(
            pt, params.bone_islands, hips, params.body_scale, bone_islands.neck_directions()
        )
    _paint_ribs(pt, geo, plan, rng, trunk_power, params)
    _paint_lumbar_ribs(pt, geo, params.lumbar_ribs)
    _lungs_inside_ribs(pt, plan, trunk_power)
    _paint_sternum(pt, geo, plan)
    shoulder.paint_shoulder_girdle(
        pt,
        plan,
        lambda lv, z: _rib_ring(lv, z, plan.z_of, trunk_power),
        lambda z: _sternum_front(geo, plan, z),
        params.arms_down,
        side_stream(rng, streams.SHOULDER),
    )
    wires = _paint_sternotomy(pt, geo, plan, params)
    boxes: dict[str, tuple[int, int, int, int, int, int]] = {}
    # C1 last: its anterior arch must win over the dens of C2 where they touch
    order = [n for n in range(len(geo)) if geo.labels[n] != "C1"]
    order += [n for n in range(len(geo)) if geo.labels[n] == "C1"]
    for n in order:
        b = _paint_vertebra(pt, geo, n, params, rng)
        if b is not None:
            boxes[geo.labels[n]] = b
    _paint_discs(pt, geo, params)
    metal = np.concatenate([_paint_metal(pt, geo, params), dental, wires])
    lay_on_couch(pt, plan, Couch.draw(side_stream(rng, streams.COUCH)), workers)
    _marble_muscle(pt, plan, params.muscle_fat, rng, workers)
    return RenderResult(pt.tissue, pt.vert, grid, metal, boxes)
