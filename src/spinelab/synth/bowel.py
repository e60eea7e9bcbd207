"""Bowel of the synthetic abdomen: a colon frame around packed small-bowel loops.

Painted per axial slice into the fat of the abdominal cavity (:mod:`spinelab.synth.render`
calls :meth:`BowelField.paint`), from fields computed once per case on a coarse (4 mm) grid
and interpolated bilinearly to the fine grid:

* **Colon**: a tube along a per-case randomized path (caecum in the right iliac fossa,
  ascending colon in the right flank, hepatic flexure, transverse colon across the upper
  anterior abdomen sagging in the middle, splenic flexure higher on the left, descending
  colon in the left flank, sigmoid looping into the pelvis, rectum in front of the sacrum).
  The coarse grid holds the signed distance to the tube's wall (a sacculated wall: three
  teniae pull it in along the course and crescent haustral folds narrow each third of the
  circumference in turn, :func:`sacculated_radius`), the y of the gas-fluid level (gas
  collects on the anterior, non-dependent side of a supine patient; the level is a coronal
  plane) and the kind of content (mottled faeces or fluid).
* **Small bowel**: a few long tubes meandering through the free part of the cavity, so that
  an axial slice cuts round, oval and sausage-shaped loop sections in mesenteric fat. Their
  axes are laid by a self-avoiding walk on the coarse grid (:meth:`BowelField._walk`: smooth
  random turns, a slight preference for the axial plane, hairpin bends, restarts where it runs
  into a dead end), keeping ``2 r + gap`` from each other (loops touch or press together in
  lean patients, a few mm of fat between them in fat ones), clear of the colon, of a wedge of
  fat in front of the mesenteric root (duodenojejunal flexure left of L2 to the right iliac
  fossa; deeper in fat patients: :data:`MESENTERIC_FAN_MM`), of the superior mesenteric
  vessels' fat collars and of a few fat pockets; a second pass lays
  collapsed loops (:data:`FILL_RADIUS` of the calibre) into the holes left.
  Where two loops press together (different stretches of the bowel, a hairpin bend's limbs
  included) a thin plane of mesenteric fat (2-4 mm) parts them half-way, each keeping its wall,
  so that crowded loops cut separate sections rather than merged blobs. Calibre 22-26 mm in the jejunum narrowing to 18-22 mm
  in the ileum (+-15 % along the bowel), outlines dented and bulged by a smooth random field
  (:data:`OUTLINE_MM`), 2.5 mm wall (1 mm in fluid-filled loops, distended:
  :data:`FLUID_WALL_MM`); the fat planes are patchy, so loops
  also abut in clusters; valvulae conniventes cross the fluid and gas of jejunal loops (upper
  left), the ileum (lower right) is featureless; chyme holds a rare small gas bubble; a smooth random profile along the bowel gives each stretch its
  content: collapsed (a band of soft tissue), fluid (10-20 HU), chyme (soft tissue mottled
  with fluid) or gas over fluid with a flat coronal level along the stretch. The coarse
  fields hold the signed distance to the nearest loop's wall (the fat planes folded in), a
  content code and the gas level (:meth:`BowelField._tube_fields`). Mesenteric vessels are 2-4 mm soft-tissue dots in
  the fat between loops.
* **Mesenteric fat**: the fat left between the loops and round the colon is the mesentery's
  (``Tissue.VISCERAL_FAT``, a few HU denser than the subcutaneous fat) with strands of soft
  tissue (``Tissue.MESENTERY``: fibrous septa, small vessels and lymphatics; thin sheets on a
  smooth periodic random field, :data:`MESENTERY_STRAND_SHARE` of it). On the real CT the
  cavity's fat reads 13 HU above the subcutaneous fat at the median and 30 HU at the 90th
  percentile (tests/test_synth_mesentery.py).
* **Superior mesenteric artery and vein** run from in front of the aorta at L1 down to L3-L4
  (the artery leaves the aorta's front and descends 10-20 mm in front of it; the vein lies to
  its right), each in a collar of mesenteric fat that the loops keep clear of.

On the real CT (TotalSegmentator example, axial 3 mm slices from L5 to L3, the cavity inside
the abdominal wall's muscle more than 25 mm in front of the vertebral bodies) mesenteric fat
is 55 % of the cavity; the non-fat regions have a median inscribed diameter of 12 mm
(90th percentile 30 mm), about half of them elongated (axis ratio above 2).

Dimensions (adult, rounded; Gore & Levine, Textbook of Gastrointestinal Radiology, 4th ed.;
Standring, Gray's Anatomy, 41st ed.): colon calibre 40-60 mm (caecum widest, up to 90 mm is
normal), haustral folds every 20-30 mm, colon wall up to 3 mm when distended; small bowel
calibre 20-30 mm (dilated above 30 mm; jejunum wider than ileum), wall 2-3 mm (1-2 mm
distended), length about 6 m (5-9 m in Western adults; post mortem about 7 m, 4.3-10.3 m,
Cuschieri, Essential Surgical Practice, ch. "Disorders of the small intestine"; measured at
operation 5.6 +- 0.7 m, Le et al., Eur J Anat 2020;24:169-78). The walk lays 7-9 m
(:data:`WALK_MAX_STEPS`; loops leaving and re-entering the box included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from spinelab.synth import streams
from spinelab.synth.organs import AORTA_R_MM, AORTA_XY
from spinelab.synth.painter import allowed_lut
from spinelab.synth.streams import side_stream
from spinelab.synth.texture import TEX_CELL_MM, half_width_for_share, periodic_field, tex_slice
from spinelab.synth.tissues import FATS
from spinelab.synth.tissues import Tissue as _T

#: Coarse grid step of the bowel's fields (mm).
STEP_MM = 4.0
#: Small-bowel radius to the wall's outer surface (mm) at the jejunum's start and the ileum's
#: end (calibre 20-30 mm, less where contracted: about 24 and 20 mm here, the sections of
#: crowded loops on CT being 12 mm median inscribed diameter), and a per-case factor.
SMALL_BOWEL_RADIUS_MM = (12.0, 10.0)
SMALL_BOWEL_SCALE = (0.9, 1.1)
#: Smooth random variation of the calibre along the bowel (fraction, SD).
RADIUS_WOBBLE = 0.15
#: Small-bowel wall thickness (mm; 2-3 mm).
SMALL_BOWEL_WALL_MM = 2.5
#: Wall of fluid-filled loops (mm): distended by their fluid, thin (1-2 mm) and barely seen on
#: CT. On the real CT (TotalSegmentator example, 3 mm, L3-L5, fluid regions of -10..22 HU in
#: the cavity more than 25 mm in front of the vertebral bodies) the one-voxel rim around the
#: fluid is mostly fat or partial volume: 20 % of it is 15 HU or more above the content's
#: median, and such bright rim voxels are 11 % of the loop (fluid plus bright rim). With the
#: 2.5 mm wall in every loop, 6 lumbar 3 mm cases at the real CT's noise had 22 % and 21 %;
#: with this wall 19 % and 17 % (the rest: the colon's wall, folds, chyme, abutting loops).
FLUID_WALL_MM = 1.0
#: Irregular outlines: the loops' radius is modulated by a smooth random field (SD, mm, and
#: correlation sigma, mm; clipped at two SD; a bulge at most half the distance to the plane
#: half-way to the next loop), so that sections are dented and bulged rather than smooth tube
#: sections. Non-fat sections in the cavity at 3 mm (L3-L5) fill a median 0.820 of their
#: convex hull on the real CT, 34 % of them 0.85 or more; smooth tubes 0.828 and 39 %, with
#: the dents 0.819 and 36 % (6 lumbar cases).
OUTLINE_MM = 2.0
OUTLINE_SIGMA_MM = 6.0
#: Fat between neighbouring loops (mm; their axes stay ``2 r + gap`` apart): lean, fat patient
#: (negative: loops pressed together, then parted by a thin fat plane, :data:`PLANE_HALF_MM`).
#: The walk packs them loosely, so the fat between neighbours is often wider than this.
LOOP_GAP_MM = (-7.0, -1.0)
#: How far a loop's axis keeps from the cavity's walls (fraction of its radius): loops press
#: against the abdominal wall and flatten there.
WALL_INSET = 0.4
#: Mesenteric fat pockets: balls of fat (radius range, mm) that no loop enters, per litre of
#: the space open to the loops, times a factor for a lean / fat patient (0.5 left the cavity's
#: fat at L3-L5, gas below -30 HU included, 0.01 above the real CT's 0.628 once the colon held
#: its gas in larger collections; 0.25: 0.636 on 12 thoraco-lumbar and lumbar 3 mm cases).
POCKETS_PER_LITRE = 0.25
POCKETS_FAT = (0.5, 2.0)
POCKET_RADIUS_MM = (8.0, 20.0)
#: The mesenteric root and the fan of fat in front of it (mm). The root runs from the
#: duodenojejunal flexure left of L2 obliquely down to the ileocaecal junction in the right
#: iliac fossa (about 15 cm long; Standring, Gray's Anatomy); the loops hang from it on a
#: mesentery whose fat, with the jejunal and ileal vessels, is thickest near the root, so the
#: loops lie in front of and beside a wedge of fat rather than on the great vessels. No loop's
#: axis comes within ``MESENTERIC_ROOT_MM`` plus its radius of the segment that runs from the
#: root (15 mm in front of the vertebral body) ``MESENTERIC_FAN_MM[0]`` (lean patient) to
#: ``[1]`` (fat patient) mm forward. Measured on the real example CT (3 mm, L3-L5, 20 mm or
#: more inside the skin, 15-55 mm in front of the vertebral bodies, HU -250..-50 after a 3 x 3
#: median): fat takes 0.65 of the strip within 40 mm of the spine's midline and 0.47 of the
#: strip 40-110 mm to either side. Eight thoraco-lumbar cases made as the real CT, with a 5 mm
#: band and no fan: 0.45 / 0.46 (the loops spread evenly over the cavity); with these values
#: 0.54 / 0.47, and the cavity's fat thicker (2-D distance inside the fat, median / 90th
#: percentile: 4.9 / 10.3 mm -> 5.3 / 12.0 mm; real 6.0 / 12.4 mm) at a fat share of 0.52 ->
#: 0.55 (real 0.52). A deeper fan (40-100 mm) or fewer fat pockets did not move them further
#: (the walk's length of bowel sets how much fat is left; the fan decides where).
MESENTERIC_ROOT_MM = 15.0
MESENTERIC_FAN_MM = (30.0, 80.0)
#: The walk that lays the loops' axes: step (mm), SD of each component of the heading's random
#: turn per step (about 0.4 rad: a turning radius of about 20 mm, wider than a loop), candidate
#: headings per step, look-ahead steps, weight of the random choice among equally free
#: headings.
WALK_STEP_MM = 8.0
WALK_TURN = 0.4
WALK_CANDIDATES = 8
WALK_LOOKAHEAD = 4
WALK_NOISE = 0.6
#: Preference for the axial plane: each step damps the heading's cranio-caudal component by
#: this fraction, so loops run more often across the body than along it and axial slices show
#: sausages as well as round sections.
WALK_FLAT = 0.2
#: Where no heading is free, the turn's SD is this many times larger (hairpin bends).
WALK_HAIRPIN = 4.0
#: Limits of the walk: steps by the end of the first pass (loops) and in all (the bowel's
#: length: at most about 9 m, of which the first pass lays at most about 7 m and the second,
#: contracted loops in the holes left, the rest), restarts in the first pass and in the second.
WALK_MAX_STEPS = (900, 1120)
WALK_MAX_RESTARTS = (80, 150)
#: How far beyond the grid's ends (z, mm) the walk may run, the cavity continued: loops cross
#: the ends of a short field of view as they cross any slice.
WALK_Z_MARGIN_MM = 40.0
#: Every how many 2 mm samples of the tubes' axes set their distance field (speed).
TUBE_FIELD_STRIDE = 3
#: Thin planes of mesenteric fat between loops pressed together: half their width (mm) in
#: a lean and a fat patient, the course along the bowel (mm) beyond which a sample belongs to
#: another loop (a hairpin bend's two limbs are two loops), the largest distance to such a
#: plane that the coarse field holds (mm).
PLANE_HALF_MM = (1.0, 2.0)
LOOP_ARC_MM = 45.0
SEPARATION_MAX_MM = 30.0
#: Content along the small bowel: a smooth random profile (sigma, mm of its course) whose
#: quantiles split the loops into collapsed (share range), fluid-filled (10-20 HU; share
#: range), chyme (soft tissue mottled with fluid) and gas-holding loops (share per expected gas
#: pocket, ``bowel_gas``; at most 0.3), the last with gas in front of a coronal level at this
#: fraction of the lumen's depth. A collapsed (contracted) loop is all soft tissue, this
#: fraction of the calibre.
KIND_SIGMA_MM = 60.0
#: (The fluid share was 0.15-0.45: the content of the cavity's fluid regions at 3 mm, L3-L5,
#: chyme's fluid patches included, had an SD of 25 HU on 6 lumbar cases at the real CT's noise,
#: 22 HU now with the thin walls, the real CT's 16 HU.)
#: (Collapsed loops were 0.05-0.25 of the bowel, fluid ones 0.3-0.55, and the holes' loops
#: held chyme: round fluid discs and chyme of even content, "bubble wrap" at 0.8 mm. On the
#: real CT (3 mm, L3-L5, the cavity 30 mm inside the skin and more than 25 mm in front of the
#: vertebral bodies, 3 x 3 median) 0.45 of the non-fat section pixels (-30..150 HU) lie in
#: collapsed sections, less than 0.3 fluid (-10..15 HU): 0.07-0.42 on six lumbar cases at the
#: real CT's noise, mean 0.25; now 0.12-0.77, mean 0.45 (the spread follows the case's soft
#: tissue HU, 30 +- 10). Fluid (-10..22 HU) is 0.47 of the non-fat pixels on the real CT, 0.59
#: before, 0.53 now. The fluid loops' bright-rim share (:data:`FLUID_WALL_MM`) rose from 0.16 to
#: 0.21 with the soft loops (real 0.11); fat planes around the fluid loops did not lower it.)
COLLAPSED_SHARE = (0.25, 0.45)
FLUID_SHARE = (0.15, 0.35)
SMALL_BOWEL_GAS_PER_POCKET = 0.01
SMALL_BOWEL_GAS_DEPTH = (0.3, 0.6)
#: Gas-filled loops: stretches whose lumen is all gas (no fluid level), thin-walled as
#: distended loops are (:data:`GAS_WALL_MM`, also the wall of gas over fluid); their share of
#: the bowel per expected gas pocket (``bowel_gas``; at most :data:`GAS_FULL_MAX`; 0.012
#: matched the real CT's cavity gas, 0.076 below -300 HU at L3-L5, but with the vessel lanes
#: left the cavity's fat 0.04 above the real 0.628; 0.006 without lanes: 0.642) and their
#: calibre (fraction of the bowel's there; narrower loops left the cavity 0.02 fatter than the
#: real CT's, so 1). They lie at the top of the content profile, above the gas-over-fluid
#: stretches, so that a stretch runs from gas over fluid into all gas.
GAS_FULL_PER_POCKET = 0.006
GAS_FULL_MAX = 0.25
GAS_FULL_RADIUS = 1.0
GAS_WALL_MM = 2.0
#: Folds cross gas only where the share of valvulae is above this (jejunum proper).
GAS_FOLD_SHARE = 0.8
#: (0.6 left collapsed loops as small soft dots; a collapsed loop is a flattened tube about as
#: wide as the calibre: at 0.85 the loop sections' upper quartile of inscribed diameters fell
#: from 22.6 to 20.0 mm on the bowel tests' fixture, below the 20-30 mm calibre of the loops.)
COLLAPSED_RADIUS = 0.95
#: Collapsed loops are not solid: their apposed mucosa leaves thin, irregular slits of fluid
#: where the fine field is within ``SLIT_Z`` of zero (curved lines 1-2 mm wide), deeper than
#: ``SLIT_DEPTH_MM`` inside the loop's outer surface (near the axis), so that at 0.8 mm a
#: collapsed loop reads as a soft band with a collapsed lumen rather than a disc of even
#: content, and at 3 mm as soft tissue. (Without the depth limit the slits came a few mm apart
#: and the soft tissue between them read as folds: the one-voxel septa of the bowel tests'
#: fixture in the lower right rose from 102 to 158, 0.25 of the upper left's; now 127, 0.20.)
SLIT_Z = 0.15
SLIT_DEPTH_MM = 5.0
#: The loops that the walk's second pass lays into the holes left between the others are
#: collapsed (contracted, soft tissue with slits: :data:`SLIT_Z`): this fraction of the
#: calibre (their soft tissue fills the space rather than mesenteric fat).
FILL_RADIUS = 0.8
#: Fine-field level below which chyme shows fluid (about 30 % of its voxels), and above
#: which it holds a small gas bubble (about 0.6 % of the coarse nodes; chyme is a mottle of
#: fluid and soft tissue with a rare bubble: on the real CT the small bowel's gas lies in a
#: few gas-holding loops, not in many bubbles; at 2.0, 2 % of the nodes, coronal slices
#: showed bubbles scattered all over the cavity).
CHYME_FLUID_Z = -0.5
CHYME_BUBBLE_Z = 2.5
#: Clusters: the fat planes between loops pressed together are patchy. Their half-width is
#: scaled by ``clip(CLUSTER_BIAS + z, 0, 1)`` for a smooth unit field ``z`` (sigma
#: :data:`CLUSTER_SIGMA_MM`): where it is 0 neighbouring loops merge into a conglomerate
#: whose sections abut without fat, as crowded loops do on CT.
CLUSTER_BIAS = 0.45
CLUSTER_SIGMA_MM = 14.0
#: Jejunum and ileum: the walk starts its loops in an order that runs from the upper left
#: quadrant (the jejunum, after the duodenojejunal flexure) to the lower right (the ileum,
#: towards the ileocaecal junction): restarts are ranked by ``-(z + JEJUNUM_LEFT x) / span``
#: plus this much random spread (fraction of the span).
JEJUNUM_LEFT = 0.7
START_ORDER_SPREAD = 0.35
#: Valvulae conniventes (Kerckring folds): circular folds of the mucosa 1-2 mm thick every
#: 3-5 mm along the jejunum, 3-8 mm high, fewer and lower in the ileum, absent distally
#: (Standring, Gray's Anatomy). Painted in the lumen of fluid- and gas-holding loops where
#: the phase along the course (pitch :data:`FOLD_PITCH_MM`) is within :data:`FOLD_DUTY`
#: (share of the pitch) of a fold and the depth into the lumen is below the fold's height
#: (mm, times ``1 + 0.4`` of the fine field: irregular, feathery folds). Their share
#: (:meth:`BowelField._fold_share`) is 1 in the upper left of the abdomen (jejunum) and 0
#: in the lower right (ileum): a score of position (height above L4 per
#: :data:`JEJUNUM_Z_MM`, plus :data:`JEJUNUM_LEFT` times the offset to the left per the
#: cavity's half-width) from :data:`ILEUM_SCORE` to :data:`JEJUNUM_SCORE`, smoothed over
#: :data:`JEJUNUM_SMOOTH_MM` of the course.
FOLD_PITCH_MM = 5.0
FOLD_DUTY = 0.45
FOLD_HEIGHT_MM = 6.0
JEJUNUM_Z_MM = 60.0
JEJUNUM_SCORE = 0.4
ILEUM_SCORE = -0.2
JEJUNUM_SMOOTH_MM = 40.0
#: Colon radius along its course (mm): caecum, ascending, transverse, descending, sigmoid,
#: rectum (calibre 40-60 mm, caecum widest).
COLON_RADIUS_MM = {
    "caecum": 29.0,
    "ascending": 26.0,
    "transverse": 24.0,
    "descending": 22.0,
    "sigmoid": 21.0,
    "rectum": 20.0,
}
#: Per-case factor on the colon radii.
COLON_SCALE = (0.92, 1.12)
#: Colon wall thickness (mm).
COLON_WALL_MM = 3.0
#: Haustral fold spacing range (mm) and fold depth (fraction of the radius, where the fold
#: is deepest: midway between two teniae).
HAUSTRA_SPACING_MM = (20.0, 30.0)
HAUSTRA_DEPTH = 0.3
#: Half-width of a haustral fold along the colon (mm).
HAUSTRA_FOLD_MM = 3.5
#: The colon's wall is sacculated: three teniae coli (longitudinal muscle bands 120 deg apart)
#: pull it in along the course, and the semilunar folds between the haustra are crescents,
#: each spanning one third of the circumference between two teniae, the three rows' folds
#: not in line (Standring, Gray's Anatomy). The radius at angle ``a`` around the axis is
#: narrowed by ``TENIA_DEPTH`` (fraction) times a Gaussian of the angle to the nearest tenia
#: (SD ``TENIA_SD_RAD``) and by ``HAUSTRA_DEPTH x sin(pi u)`` at a fold (``u``: 0..1 across
#: the row), so that a section across the colon is lobed, not round. (Round sections read as
#: smooth black discs on sagittal and axial views wherever gas filled the lumen.)
TENIA_DEPTH = 0.12
TENIA_SD_RAD = 0.2
#: Gas: fraction of the colon lumen's depth (from the front) filled with gas per expected gas
#: pocket of the case (``bowel_gas``, 4-24 drawn), plus a share by segment
#: (:data:`COLON_SEGMENT_GAS`) and one by height: a supine patient's colonic gas rises to the
#: colon's highest, most anterior parts (the transverse colon, the sigmoid's loop, the
#: caecum), so the fraction gains ``COLON_GAS_RISE * (COLON_GAS_V0 - v)`` for the depth ``v``
#: of the colon's axis in the cavity (0 at the anterior abdominal wall, 1 at the vertebral
#: body's front): the ascending and descending colon in the flanks, beside the kidneys, hold
#: little gas and mostly faeces. On the real CT (TotalSegmentator example, L2-L5) the gas lies
#: in a few large collections (the largest 120 ml, the three largest 95 % of it) in the front
#: half of the cavity, almost none in its back quarter. ``FAECES_BUBBLE_Z`` is the fine-field
#: level above which faeces hold a gas bubble (about 8 % of the coarse nodes: the faecal mottle is
#: mostly soft tissue and fluid; at 0.85, 20 % of the nodes, the colon in the flanks was
#: peppered with 3-6 mm black bubbles, and 5 % of the gas lay in components under 0.5 ml on
#: 3 mm images, the real CT's 2 %).
COLON_GAS_PER_POCKET = 0.035
COLON_SEGMENT_GAS = {"transverse": 0.15, "sigmoid": 0.1, "caecum": 0.2, "rectum": 0.1}
COLON_GAS_RISE = 1.0
COLON_GAS_V0 = 0.45
FAECES_BUBBLE_Z = 1.4
#: Faeces are semi-solid: the gas in front of them has no level but a rough surface, moved
#: back and forth by this many mm times the fine field (unit SD, 2.5 mm correlation); a watery
#: patch of the faeces with gas right behind it stays soft (no free water rests on gas).
#: Solidity (area over convex hull area) of the gas pockets on 3 mm axial slices from L5 to L1,
#: median (25th percentile): the real example CT 0.788 (0.652); eight lumbar cases with a level
#: surface 0.865 (0.779), with 8 mm 0.822 (0.733), with 12 mm 0.801 (0.720; measured before the
#: watery-patch rule, which leaves the gas as it is). The faecal mottle rate
#: (tests/test_synth_faeces.py) falls with it, 0.016 -> 0.014 at 8 mm and 0.012 at 12 mm (the
#: latter before the watery-patch rule; real 0.022): more of the faeces' surface borders gas.
FAECES_SURFACE_MM = 8.0
#: Faecal mottle: the soft matrix of the colon's faeces holds small balls of ``Tissue.FAECAL_GAS``
#: (a gas-rich mixture standing for sub-millimetre gas bubbles), at most one per cell of a
#: FAECES_CELL_MM lattice (per-case offset), in a share FAECES_INCLUSION_SHARE of the cells
#: (uniform per case), radius FAECES_INCLUSION_MM (uniform), centred at random in the cell,
#: drawn once per case for a periodic tile of FAECES_TILE cells a side (160 mm), so that
#: painting a slice costs only its faecal pixels.
#: At 3 mm their partial volume gives the isolated -600..-200 HU voxels (not next to gas below
#: -700) of real faeces: 0.022 per bowel voxel of the cavity at L3-L5 on the real CT
#: (TotalSegmentator example), 0.017 on six synthetic cases (0.006-0.032 by the amount of faeces
#: in the field), 0.004 with the coarse bubbles (:data:`FAECES_BUBBLE_Z`) alone. In pure faeces
#: the inclusions fill 14-20 % of the volume: -95..-140 HU mean, 125 HU SD at 3 mm (the real
#: CT's mottled colon content, the same way: mean -96, SD 115, median -63 HU).
FAECES_CELL_MM = 4.0
FAECES_INCLUSION_SHARE = (0.65, 0.9)
FAECES_INCLUSION_MM = (1.0, 1.9)
FAECES_TILE = 40
#: Mesenteric vessels (jejunal and ileal branches, vasa recta: 1-5 mm): short cranio-caudal
#: segments scattered through the bowel's part of the cavity, about ``VESSELS_PER_SLICE``
#: sections per axial slice (those that fall in fat are painted), radius and half-length (mm).
VESSELS_PER_SLICE = 30
VESSEL_RADIUS_MM = (1.0, 2.5)
VESSEL_HALF_LENGTH_MM = (4.0, 12.0)
#: Mesenteric vessel trees (jejunal and ileal arteries and veins fanning out from the root of the
#: mesentery to the loops, Standring, Gray's Anatomy): trees per case, each a trunk from a point
#: of the root that forks :data:`VESSEL_TREE_LEVELS` times; the trunk's radius range (mm; each
#: fork's branches this fraction of it, at least :data:`VESSEL_TREE_MIN_R_MM`), its length range
#: (mm; each fork's branches this fraction of it), the fork's half-angle range (rad), the SD of
#: the heading's turn per 2 mm step (rad) and of the course's cranio-caudal slope (the vessels
#: run in the mesentery's folds, mostly across the body: axial slices show them as branching
#: lines in the fat between the loops).
VESSEL_TREES = 16
VESSEL_TREE_LEVELS = 2
VESSEL_TREE_R_MM = (1.4, 2.2)
VESSEL_TREE_R_DECAY = 0.75
VESSEL_TREE_MIN_R_MM = 0.9
VESSEL_TREE_LENGTH_MM = (35.0, 70.0)
VESSEL_TREE_L_DECAY = 0.65
VESSEL_TREE_FORK = (0.3, 0.7)
VESSEL_TREE_TURN = 0.08
VESSEL_TREE_SLOPE = 0.15
#: Lanes of mesenteric fat along the trees' vessels (``VESSEL_LANES``): loops keep
#: ``VESSEL_LANE_MM`` from the vessels up to fork level ``VESSEL_LANE_LEVEL`` (0: the trunks).
#: Off: on 18 thoraco-lumbar 3 mm cases the lanes raised the cavity's fat at L3-L5 from 0.631
#: to 0.668 (real CT 0.628); without them it is 0.642 and the trees still show between loops.
VESSEL_LANES = False
VESSEL_LANE_MM = 1.0
VESSEL_LANE_LEVEL = 0
#: Superior mesenteric artery and vein: radius (mm; diameters about 7 and 10 mm), fat collar
#: (mm), the artery's largest distance in front of the aorta (mm; aortomesenteric distance
#: 10-28 mm) and the vein's offset to the artery's right (mm). Standring, Gray's Anatomy.
SMA_RADIUS_MM = 3.5
SMV_RADIUS_MM = 5.0
SM_COLLAR_MM = 5.0
SMA_AHEAD_MM = 16.0
SMV_RIGHT_MM = 13.0
#: Fat gap kept between the colon and small-bowel loops (mm).
COLON_GAP_MM = 1.5
#: The small bowel's upper limit is not a plane: ``z_small_hi`` plus this many mm times a
#: smooth unit-variance random field of x and y (sigma :data:`SMALL_BOWEL_TOP_SIGMA_MM`), so
#: coronal and sagittal views show no horizontal seam under the upper abdominal organs
#: (jejunal loops reach the left upper quadrant at L1-T12, the duodenojejunal flexure is at L2).
SMALL_BOWEL_TOP_MM = 12.0
SMALL_BOWEL_TOP_SIGMA_MM = 25.0
#: Where the field of view reaches below the bowel's lower limit (``z_lo``: the lesser pelvis,
#: 75 mm below S2's centre), the small bowel's loops turn above an uneven floor: their axes
#: stay ``SMALL_BOWEL_FLOOR_MM[0]`` mm plus their radius plus ``SMALL_BOWEL_FLOOR_MM[1]`` mm
#: times ``clip(1 + f, 0, 3)`` above it (``f``: the top's field, mirrored). Before, the loops ran
#: on below the limit and were cut flat there, an edge over fat on coronal views.
SMALL_BOWEL_FLOOR_MM = (5.0, 10.0)
#: Strands of the mesenteric fat (fibrous septa between its lobules, small vessels and
#: lymphatics; ``Tissue.MESENTERY``): the sheets where the first channel of a smooth periodic
#: random field (:func:`spinelab.synth.texture.periodic_field`, correlation sigma in mm) is
#: near zero, a share of the mesenteric fat's volume; the sheets' thickness varies with the
#: second channel (1 + SPREAD x its value; none where that is negative), so they break into
#: curved strands rather than closed cells. Design values, set against the real CT's
#: mesenteric fat at 3 mm (tests/test_synth_mesentery.py; with the denser fat between them,
#: :data:`spinelab.synth.tissues.VISCERAL_FAT_OFFSET_HU`): three lumbar cases' deep cavity
#: fat reads 12-16 HU (real 13) above the same cases without the mesentery at the median and
#: 20-32 HU (real 30) at the 90th percentile; the strands' share 0.14 instead hardly moved
#: the median (the measure leaves out the fat next to dense strands) and thickened them at
#: 0.8 mm. Cost: 0.08-0.13 s CPU per 512x512x300 case.
MESENTERY_STRAND_SIGMA_MM = 3.0
MESENTERY_STRAND_SHARE = 0.1
MESENTERY_STRAND_SPREAD = 0.8

#: Cavity at height z: (spine x, y of the vertebral body's front, y of the anterior
#: abdominal wall's inner surface, cavity half-width), mm.
Cavity = Callable[[float], tuple[float, float, float, float]]

# Colon course: (segment, u, v, z landmark, z offset mm). u = x offset / cavity half-width
# (-1 patient right, +1 left; LPS x grows to the left), v = 0 at the anterior wall, 1 at
# the front of the vertebral body (beyond 1: the flanks beside the spine).
_COLON_COURSE: tuple[tuple[str, float, float, str, float], ...] = (
    ("caecum", -0.50, 0.50, "S1", -20.0),
    ("caecum", -0.62, 0.70, "L5", 0.0),
    ("ascending", -0.80, 0.85, "L4", 0.0),
    ("ascending", -0.82, 0.80, "L3", 0.0),  # in front of the kidney
    ("ascending", -0.66, 0.60, "L2", 5.0),  # hepatic flexure, under the liver
    ("transverse", -0.38, 0.15, "L2", -5.0),
    ("transverse", 0.0, 0.08, "L3", -15.0),  # sags in the middle
    ("transverse", 0.40, 0.18, "L1", 0.0),
    # splenic flexure: high in the left hypochondrium (10th-11th ribs, about T12), against the
    # spleen's lower pole and in front of the left kidney; higher than the hepatic flexure
    ("descending", 0.72, 0.50, "T12", 5.0),
    ("descending", 0.82, 0.80, "L2", 0.0),
    ("descending", 0.84, 0.85, "L3", 0.0),
    ("descending", 0.80, 0.90, "L5", 0.0),
    ("sigmoid", 0.55, 0.55, "S1", -20.0),
    ("sigmoid", 0.20, 0.20, "S1", -35.0),
    ("sigmoid", -0.18, 0.35, "S1", -50.0),
    ("rectum", 0.0, 1.0, "S1", -75.0),
    ("rectum", 0.0, 1.1, "S1", -110.0),
)
#: Look-up of the fat classes (the vessels are painted into them only).
_FAT_LUT = allowed_lut(FATS)

_LANDMARK_FALLBACK_MM = {
    "T12": 130.0,
    "L1": 100.0,
    "L2": 70.0,
    "L3": 40.0,
    "L4": 10.0,
    "L5": -20.0,
    "S1": -50.0,
}


def mask_box(mask: NDArray[np.bool_]) -> tuple[int, int, int, int] | None:
    """The rows and columns ``(a0, a1, b0, b1)`` (ends exclusive) that hold all of a 2-D
    ``mask``; None if it is empty."""
    rows = np.nonzero(mask.any(axis=1))[0]
    if not len(rows):
        return None
    cols = np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def linear_index(
    fine_mm: NDArray[np.float64], origin_mm: float, step_mm: float, n: int
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Linear interpolation of a coarse axis at ``fine_mm``: lower node ``i0`` and weight ``w``
    of the upper node (``value = (1 - w) * c[i0] + w * c[i0 + 1]``; ``n >= 2``)."""
    t = np.clip((fine_mm - origin_mm) / step_mm, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(t).astype(np.intp), max(n - 2, 0))
    return i0, (t - i0).astype(np.float32)


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_nodes: float
) -> NDArray[np.float32]:
    """Unit-variance Gaussian-smoothed white noise on a coarse grid."""
    g = rng.standard_normal(shape, dtype=np.float32)
    if sigma_nodes > 0.3:
        g = ndi.gaussian_filter(g, sigma_nodes, truncate=2.0, mode="wrap")
    g /= np.float32(float(g.std()) or 1.0)
    return g


def rotation_minimizing_frame(
    line: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Unit tangents ``t`` and normals ``n1``, ``n2`` (each ``(M, 3)``) along a polyline
    ``(M, 3)``: a frame that turns with the curve but does not twist about it (double
    reflection, Wang et al., ACM TOG 2008), so that an angle about the axis measured in it
    (e.g. the teniae's) stays continuous along the course."""
    m = len(line)
    t = np.gradient(line, axis=0) if m > 1 else np.array([[0.0, 0.0, 1.0]])
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    # the first normal: the tangent crossed with the axis least along it
    ref = np.zeros(3)
    ref[int(np.argmin(np.abs(t[0])))] = 1.0
    r0 = np.cross(t[0], ref)
    n1 = np.empty_like(t)
    n1[0] = r0 / np.linalg.norm(r0)
    x = line.tolist()
    tl = t.tolist()
    r = n1[0].tolist()
    for i in range(m - 1):
        v1 = [x[i + 1][d] - x[i][d] for d in range(3)]
        c1 = sum(v * v for v in v1)
        if c1 > 1e-12:
            k = 2.0 / c1 * sum(v1[d] * r[d] for d in range(3))
            rl = [r[d] - k * v1[d] for d in range(3)]
            k = 2.0 / c1 * sum(v1[d] * tl[i][d] for d in range(3))
            tr = [tl[i][d] - k * v1[d] for d in range(3)]
            v2 = [tl[i + 1][d] - tr[d] for d in range(3)]
            c2 = sum(v * v for v in v2)
            if c2 > 1e-12:
                k = 2.0 / c2 * sum(v2[d] * rl[d] for d in range(3))
                rl = [rl[d] - k * v2[d] for d in range(3)]
            r = rl
        n1[i + 1] = r
    # the normals stay perpendicular to the tangents up to rounding: clean them up
    n1 -= np.sum(n1 * t, axis=1, keepdims=True) * t
    n1 /= np.maximum(np.linalg.norm(n1, axis=1, keepdims=True), 1e-12)
    return t, n1, np.cross(t, n1)


def sacculated_radius(
    radius: NDArray[np.float64],
    angle: NDArray[np.float64],
    along: NDArray[np.float64],
    depth: NDArray[np.float64],
    tenia0: float,
    spacing: float,
    row_phase: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The colon's radius at points ``angle`` (rad, about the axis in the frame of
    :func:`rotation_minimizing_frame`) and ``along`` (mm of its course) whose nearest axis
    sample has radius ``radius`` and sacculation ``depth`` (0 in the rectum, 1 in the
    haustrated colon): teniae at ``tenia0 + k 2 pi / 3``, the folds of the row between teniae
    ``k`` and ``k + 1`` every ``spacing`` mm from ``row_phase[k]`` (see :data:`TENIA_DEPTH`)."""
    third = 2.0 * math.pi / 3.0
    a = np.mod(angle - tenia0, 2.0 * math.pi)
    row = np.minimum((a // third).astype(np.intp), 2)
    u = a / third - row  # 0..1 across the row
    to_tenia = third * np.minimum(u, 1.0 - u)
    tenia = np.exp(-0.5 * (to_tenia / TENIA_SD_RAD) ** 2)
    phase = np.mod(along + row_phase[row], spacing) - 0.5 * spacing
    fold = np.exp(-0.5 * (phase / HAUSTRA_FOLD_MM) ** 2) * np.sin(math.pi * u)
    return radius * (1.0 - depth * (TENIA_DEPTH * tenia + HAUSTRA_DEPTH * fold))


def mottle_cells(rng: np.random.Generator, share: float) -> NDArray[np.float32]:
    """A periodic tile of the faecal mottle's lattice (:data:`FAECES_CELL_MM`): per cell the
    radius of its inclusion (0 in the cells without one, ``1 - share`` of them) and its centre
    (x, y, z), all in cells, the ball inside its cell.

    Returns:
        ``(n, n, n, 4)`` float32 indexed ``[z, y, x]``, ``n`` = :data:`FAECES_TILE`.
    """
    n = FAECES_TILE
    u = rng.random((4, n, n, n), dtype=np.float32)
    lo, hi = (r / FAECES_CELL_MM for r in FAECES_INCLUSION_MM)
    r = np.where(u[0] < share, lo + (hi - lo) * u[0] / np.float32(share), 0.0)
    out = np.empty((n, n, n, 4), dtype=np.float32)
    out[..., 0] = r
    for d in range(3):
        out[..., 1 + d] = r + (1.0 - 2.0 * r) * u[1 + d]
    return out


class _Coarse:
    """A coarse box grid (``step`` mm) over ``lo..hi`` (x, y, z mm), holding fields
    ``(nz, F, ny, nx)`` that are interpolated to the fine grid one axial slice at a time."""

    def __init__(
        self,
        lo: NDArray[np.float64],
        hi: NDArray[np.float64],
        step: float,
        fine: tuple[NDArray[np.float64], NDArray[np.float64]],
    ) -> None:
        self.step = step
        self.origin = lo
        self.n = tuple(max(2, math.ceil((hi[d] - lo[d]) / step) + 1) for d in range(3))
        self.axes = [lo[d] + step * np.arange(self.n[d]) for d in range(3)]
        self.ix = linear_index(fine[0], lo[0], step, self.n[0])
        self.iy = linear_index(fine[1], lo[1], step, self.n[1])
        self.fields = np.zeros((self.n[2], 0, self.n[1], self.n[0]), dtype=np.float32)
        self._bufs: dict[int, NDArray[np.float32]] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n[2], self.n[1], self.n[0])

    def plane(self, z: float) -> NDArray[np.float32]:
        """Fields ``(F, ny, nx)`` interpolated to height ``z``."""
        t = min(max((z - self.origin[2]) / self.step, 0.0), self.n[2] - 1.0)
        q0 = min(int(t), self.n[2] - 2)
        w = np.float32(t - q0)
        return np.asarray(self.fields[q0] + w * (self.fields[q0 + 1] - self.fields[q0]))

    def sample(
        self, plane: NDArray[np.float32], j0: int, j1: int, i0: int, i1: int, slot: int = 0
    ) -> NDArray[np.float32]:
        """Bilinear interpolation of ``plane`` onto fine rows ``j0:j1``, columns ``i0:i1``:
        ``(F, j1 - j0, i1 - i0)``, a view of buffer ``slot`` that the next call with the same
        slot overwrites.

        Separable, by gathers (no BLAS: its threads oversubscribe the cores for these small
        products)."""
        ix, wx = self.ix[0][i0:i1], self.ix[1][i0:i1]
        iy, wy = self.iy[0][j0:j1], self.iy[1][j0:j1, None]
        r0, r1 = int(iy[0]), int(iy[-1]) + 2
        c0, c1 = int(ix[0]), int(ix[-1]) + 2
        p = plane[:, r0:r1, c0:c1]
        dp = p[:, :, 1:] - p[:, :, :-1]  # node to node, on the coarse grid
        jx = ix - c0
        r = np.take(dp, jx, axis=2)
        r *= wx
        r += np.take(p, jx, axis=2)  # (F, coarse rows, cols): p + dp * wx
        dr = r[:, 1:] - r[:, :-1]
        jy = iy - r0
        # into reused buffers: fresh arrays this size are mapped page by page on every call
        shape = (len(plane), j1 - j0, i1 - i0)
        size = shape[0] * shape[1] * shape[2]
        buf = self._bufs.get(slot)
        if buf is None or buf.shape[1] < size:
            buf = self._bufs[slot] = np.empty((2, size), dtype=np.float32)
        out = buf[0, :size].reshape(shape)
        tmp = buf[1, :size].reshape(shape)
        np.take(r, jy, axis=1, out=out)
        np.take(dr, jy, axis=1, out=tmp)
        tmp *= wy
        out += tmp
        return out


class BowelField:
    """Colon and small bowel of one case; paints one axial slice at a time.

    Args:
        x_mm, y_mm, z_mm: Fine grid axes (mm).
        rng: Random generator (the colon's course, calibre and content, the random fields; a
            child generator spawned from it lays the small bowel).
        fat_mm: Subcutaneous fat thickness (fatter patients: wider mesenteric fat).
        bowel_gas: Expected number of gas-filled segments (0: no bowel gas at all).
        z_lo, z_hi: z range of the bowel (mm).
        z_of: z (mm) of vertebral centres by label (``T12``..``S1`` place the colon).
        cavity: Abdominal cavity at height z, see :data:`Cavity`.
        z_small_hi: Mean upper limit of the small bowel's axes (mm; default ``z_hi``): the
            colon (splenic flexure) reaches higher.
    """

    def __init__(
        self,
        x_mm: NDArray[np.float64],
        y_mm: NDArray[np.float64],
        z_mm: NDArray[np.float64],
        rng: np.random.Generator,
        fat_mm: float,
        bowel_gas: int,
        z_lo: float,
        z_hi: float,
        z_of: Mapping[str, float],
        cavity: Cavity,
        z_small_hi: float | None = None,
    ) -> None:
        c = STEP_MM
        self.x, self.y, self.z = x_mm, y_mm, z_mm
        z0 = max(float(z_mm[0]), z_lo) - c
        z1 = max(min(float(z_mm[-1]), z_hi), z0) + c
        # the cavity's box over the bowel's height (fields outside it are never sampled; the
        # cavity ends about 20 mm behind the vertebral body's front)
        cav = np.array([cavity(z) for z in np.linspace(z0, z1, 9)])
        lo = np.array([(cav[:, 0] - cav[:, 3]).min() - c, cav[:, 2].min() - c, z0])
        hi = np.array([(cav[:, 0] + cav[:, 3]).max() + c, cav[:, 1].max() + 25.0, z1])
        lo[:2] = np.maximum(lo[:2], [x_mm[0], y_mm[0]])
        hi[:2] = np.maximum(np.minimum(hi[:2], [x_mm[-1], y_mm[-1]]), lo[:2] + c)
        self.gas = bowel_gas > 0
        self.z_small_hi = z_hi if z_small_hi is None else z_small_hi
        # the bowel's lower limit where the field of view reaches below it (the lesser pelvis)
        self.z_small_lo = z_lo if z_lo > float(z_mm[0]) else None
        fat = float(np.clip(fat_mm / 40.0, 0.0, 1.0))
        g = _Coarse(lo, hi, c, (x_mm, y_mm))
        self.small = g
        # (the draws of the earlier design's two loop fields, kept so that the colon and the
        # fields below stay as they were for a given seed)
        rng.standard_normal(g.shape, dtype=np.float32)
        rng.standard_normal(g.shape, dtype=np.float32)
        # a fine field for faecal and chyme mottle
        f = _smooth_noise(rng, g.shape, 2.5 / c)
        self.vessels = self._vessels(rng, cavity)
        colon = self._colon(rng, bowel_gas, z_of, cavity)
        # the small bowel's irregular upper limit (a field of x, y on the coarse grid)
        self.top = _smooth_noise(rng, (1, g.n[1], g.n[0]), SMALL_BOWEL_TOP_SIGMA_MM / c)
        # superior mesenteric artery (from L1) and vein (from below the pancreas' neck)
        z_l1 = z_of.get("L1", z_of.get("L3", 0.0) + 60.0)
        z_end = 0.5 * (z_of.get("L3", z_l1 - 60.0) + z_of.get("L4", z_l1 - 90.0))
        self.sm_z = (z_l1, min(z_end, z_l1 - 10.0))
        # small bowel: tubes laid by a self-avoiding walk through the free part of the cavity
        sb_rng = rng.spawn(1)[0]
        # mesenteric vessel trees (a stream of their own: the walk's draws stay as they were)
        self.tree = self._vessel_tree(sb_rng.spawn(1)[0], cavity, z_of)
        line, radius, level, kind, fold = self._tubes(
            sb_rng, cavity, z_of, colon[0], fat, bowel_gas
        )
        small = self._tube_fields(line, radius, level, kind, fold)
        # fields: small bowel (distance to the wall, content kind), colon (distance, gas level,
        # content kind), fine field (mottle), small bowel's gas level, position along the
        # bowel (mm) and the share of folds (valvulae)
        # the loops' content as one code: < 0 fluid (below -1.5 fluid-filled, thin-walled
        # loops; -1..0 the fluid patches of chyme, from the fine field), 0..1 soft tissue
        # (chyme 0..0.9, collapsed loops: 1), 1..1.5 soft tissue with a gas bubble (chyme),
        # above 1.5 gas over fluid
        kind = small[2]
        code = np.clip(f - np.float32(CHYME_FLUID_Z), -1.0, 0.9)
        code[f > CHYME_BUBBLE_Z] = 1.25
        code[kind < self.k_fluid] = -2.0
        code[kind < self.k_col] = 1.0
        code[kind >= self.k_gas] = 2.0
        # the fat planes between loops pressed together, folded into the distance field: a
        # node is inside a loop where it is inside the tube and farther than the plane's
        # half-width from the plane (its lumen: farther than that and the wall); the planes
        # are patchy, so that loops cluster
        clus = _smooth_noise(sb_rng, g.shape, CLUSTER_SIGMA_MM / c)
        half = np.float32(self.plane_mm) * np.clip(np.float32(CLUSTER_BIAS) + clus, 0.0, 1.0)
        # dented outlines: the radius modulated by a smooth field from a stream of its own
        # (the draws above and below stay as they were); only at nodes that hold a distance
        # (those farther out hold one node step, a lower bound, and stay outside), and a
        # bulge at most half the distance to the plane half-way to the next loop, so that
        # the fat between neighbouring loops narrows but stays
        dent = _smooth_noise(sb_rng.spawn(1)[0], g.shape, OUTLINE_SIGMA_MM / c)
        np.clip(dent, -2.0, 2.0, out=dent)
        dent *= np.float32(OUTLINE_MM)
        np.minimum(dent, np.float32(0.5) * np.maximum(small[3], 0.0), out=dent)
        dent[small[0] >= np.float32(c)] = 0.0
        tube = np.maximum(small[0] - dent, half - small[3])
        g.fields = np.stack(
            [tube, code, colon[0], colon[1], colon[2], f, small[1], small[4], small[5]], axis=1
        )
        self.sb_top = float((line[:, 2] + radius).max()) if len(line) else -math.inf
        # the faecal mottle's lattice (a stream of its own, spawned last: every draw and
        # stream above stays as it was)
        fr = rng.spawn(1)[0]
        self.mottle_origin = fr.uniform(0.0, FAECES_CELL_MM, 3)
        self.mottle_cells = mottle_cells(fr, float(fr.uniform(*FAECES_INCLUSION_SHARE)))
        # the mesenteric fat's strands (a side stream: every draw above stays as it was)
        self.strands = periodic_field(
            side_stream(rng, streams.MESENTERY), MESENTERY_STRAND_SIGMA_MM / TEX_CELL_MM
        )
        self.strand_w = half_width_for_share(MESENTERY_STRAND_SHARE)

    def sm_vessels(self, z: float, xs: float, y_front: float) -> list[tuple[float, float, float]]:
        """Superior mesenteric artery and vein at height ``z``: ``(x, y, radius)`` mm each, given
        the spine's x and the vertebral body's front y there (none outside their course)."""
        z0, z1 = self.sm_z
        if not z1 < z < z0:
            return []
        t = (z0 - z) / (z0 - z1)
        xa = xs + AORTA_XY[0] - 6.0 * t  # drifts towards the midline
        ya = y_front + AORTA_XY[1] - AORTA_R_MM - SMA_RADIUS_MM - 3.0
        ya -= SMA_AHEAD_MM * min(3.0 * t, 1.0)  # leaves the aorta, then runs down in front of it
        out = [(xa, ya, SMA_RADIUS_MM)]
        if t > 0.15:  # the vein joins the splenic vein behind the pancreas' neck, above
            out.append((xa - SMV_RIGHT_MM, ya - 1.0, SMV_RADIUS_MM))
        return out

    def _tubes(
        self,
        rng: np.random.Generator,
        cavity: Cavity,
        z_of: Mapping[str, float],
        colon_sd: NDArray[np.float32],
        fat: float,
        bowel_gas: int,
    ) -> tuple[
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
        NDArray[np.float64],
    ]:
        """Small-bowel tubes: centre line ``(M, 3)`` mm every 2 mm, and per sample the radius to
        the wall's outer surface (mm), the y of the gas-fluid level (mm; gas in front of it),
        the content kind (thresholds ``k_col``, ``k_fluid``, ``k_gas``) and the share of
        valvulae (1 in the jejunum, 0 in the distal ileum).

        The axes come from :meth:`_walk` through the space that :meth:`_axis_space` leaves;
        along them (in the order laid, the first loop next to the duodenojejunal flexure)
        the calibre narrows from the jejunum's to the ileum's and smooth random profiles set
        the calibre's wobble and the content."""
        scale = float(rng.uniform(*SMALL_BOWEL_SCALE))
        r_jej, r_ile = (r * scale for r in SMALL_BOWEL_RADIUS_MM)
        r0 = 0.5 * (r_jej + r_ile)
        self.plane_mm = PLANE_HALF_MM[0] + (PLANE_HALF_MM[1] - PLANE_HALF_MM[0]) * fat
        gap = LOOP_GAP_MM[0] + (LOOP_GAP_MM[1] - LOOP_GAP_MM[0]) * fat
        free = self._axis_space(rng, cavity, z_of, colon_sd, r0, fat)
        # axis spacing: between loops, then between a loop and a collapsed loop laid into the
        # holes that the first pass leaves
        tubes = self._walk(rng, free, (2.0 * r0 + gap, (1.0 + FILL_RADIUS) * r0 + gap))
        if not tubes:
            self.k_col = self.k_fluid = self.k_gas = math.inf
            e = np.zeros(0)
            return np.zeros((0, 3)), e, e, e, e
        # centre lines every 2 mm, smoothed (the walk's corners)
        lines = []
        for tb, _ in tubes:
            t = np.arange(0.0, len(tb) - 1 + 1e-9, 2.0 / WALK_STEP_MM)
            ln = np.stack([np.interp(t, np.arange(len(tb)), tb[:, d]) for d in range(3)], axis=1)
            lines.append(ndi.gaussian_filter1d(ln, 1.5, axis=0, mode="nearest"))
        line = np.concatenate(lines)
        m = len(line)
        fill = np.repeat(np.array([ph > 0 for _, ph in tubes]), [len(ln) for ln in lines])
        # along the bowel (tube order: from the first loop laid, next to the duodenojejunal
        # flexure, to the last): calibre from the jejunum's to the ileum's, smooth random
        # profiles of calibre and content (sigma 60 mm of its course)
        u = np.arange(m) / max(m - 1, 1)
        # smoothed white noise, scaled to unit spread; a short bowel (a small field of view)
        # has too few samples for its own spread, so the scale is floored at half the expected
        # one, (2 sqrt(pi) sigma)^-1/2, and the wobble is clipped to 3 units
        sig = KIND_SIGMA_MM / 2.0
        floor = 0.5 / math.sqrt(2.0 * math.sqrt(math.pi) * sig)
        kind = ndi.gaussian_filter1d(rng.standard_normal(m), sig, mode="wrap")
        kind /= max(float(kind.std()), floor)
        wob = ndi.gaussian_filter1d(rng.standard_normal(m), sig, mode="wrap")
        wob = np.clip(wob / max(float(wob.std()), floor), -3.0, 3.0)
        p_col = float(rng.uniform(*COLLAPSED_SHARE))
        p_fluid = float(rng.uniform(*FLUID_SHARE))
        p_full = min(GAS_FULL_PER_POCKET * bowel_gas, GAS_FULL_MAX) if self.gas else 0.0
        p_gas = min(SMALL_BOWEL_GAS_PER_POCKET * bowel_gas, 0.3) + p_full if self.gas else 0.0
        self.k_col, self.k_fluid, self.k_gas, k_full = (
            float(v)
            for v in np.quantile(
                kind[~fill] if (~fill).any() else kind,
                [p_col, p_col + p_fluid, 1.0 - p_gas, 1.0 - p_full],
            )
        )
        if p_gas <= 0.0:
            self.k_gas = math.inf
        if p_full <= 0.0:
            k_full = math.inf
        # the loops laid into holes are collapsed
        # (collapsed: below every other kind; the calibre is set below)
        kind[fill] = min(self.k_col, float(kind.min())) - 1.0
        radius = (r_jej + (r_ile - r_jej) * u) * (1.0 + RADIUS_WOBBLE * wob)
        w = np.clip((kind - self.k_col) / 0.3, 0.0, 1.0)
        radius *= COLLAPSED_RADIUS + (1.0 - COLLAPSED_RADIUS) * w
        radius[fill] = (r_jej + (r_ile - r_jej) * u[fill]) * FILL_RADIUS
        full = (kind >= k_full) & ~fill
        # (narrowing over the last 0.3 units of the profile below the gas-filled stretch)
        ramp = np.clip((kind - k_full) / 0.3 + 1.0, 0.0, 1.0) if p_full > 0.0 else 0.0 * kind
        radius[~fill] *= 1.0 - (1.0 - GAS_FULL_RADIUS) * ramp[~fill]
        # gas-holding stretches: gas over fluid, the level flat along each stretch (one pocket
        # of fluid: gas fills the most anterior part, to a depth of the drawn fraction of the
        # calibre); elsewhere the level lies in front of the loop
        frac = float(rng.uniform(*SMALL_BOWEL_GAS_DEPTH))
        front = line[:, 1] - radius
        level = front - 3.0
        gas = kind >= self.k_gas
        if self.gas and gas.any():
            first = np.zeros(m, dtype=bool)
            first[np.cumsum([len(ln) for ln in lines[:-1]], dtype=np.intp)] = True
            start = gas & (first | ~np.concatenate([[False], gas[:-1]]))
            run = np.cumsum(start) - 1
            idx = np.flatnonzero(gas)
            lo = np.full(int(run[-1]) + 1, np.inf)
            np.minimum.at(lo, run[idx], front[idx])
            level[idx] = lo[run[idx]] + 2.0 * radius[idx] * frac
            # gas-filled stretches: the level behind the loop
            level[full] = line[full, 1] + radius[full] + 3.0
        fold = self._fold_share(line, cavity, z_of)
        fold[fill] = 0.0
        return line, radius, level, kind, fold

    @staticmethod
    def _fold_share(
        line: NDArray[np.float64], cavity: Cavity, z_of: Mapping[str, float]
    ) -> NDArray[np.float64]:
        """Share of valvulae ``(M,)`` along a centre line ``(M, 3)`` mm: the jejunum lies in
        the upper left of the abdomen, the ileum in the lower right. A score, the height
        above L4's centre over :data:`JEJUNUM_Z_MM` plus :data:`JEJUNUM_LEFT` times the
        offset to the left over the cavity's half-width, maps linearly from
        :data:`ILEUM_SCORE` (0) to :data:`JEJUNUM_SCORE` (1), smoothed along the course."""
        if not len(line):
            return np.zeros(0)
        z4 = z_of.get("L4", z_of.get("L3", 0.0) - 35.0)
        zk = np.linspace(float(line[:, 2].min()), float(line[:, 2].max()) + 1.0, 16)
        cav = np.array([cavity(float(z)) for z in zk])
        xs = np.interp(line[:, 2], zk, cav[:, 0])
        rx = np.maximum(np.interp(line[:, 2], zk, cav[:, 3]), 1.0)
        score = (line[:, 2] - z4) / JEJUNUM_Z_MM + JEJUNUM_LEFT * (line[:, 0] - xs) / rx
        score = ndi.gaussian_filter1d(score, JEJUNUM_SMOOTH_MM / 2.0, mode="nearest")
        return np.clip((score - ILEUM_SCORE) / (JEJUNUM_SCORE - ILEUM_SCORE), 0.0, 1.0)

    def _axis_space(
        self,
        rng: np.random.Generator,
        cavity: Cavity,
        z_of: Mapping[str, float],
        colon_sd: NDArray[np.float32],
        r0: float,
        fat: float,
    ) -> NDArray[np.bool_]:
        """Coarse nodes where a loop's axis may run (a loop of radius ``r0`` mm): a rounded box
        in front of the retroperitoneum whose walls the loops press against, below the small
        bowel's irregular top, a fat gap away from the colon, clear of the mesenteric root and
        of the superior mesenteric vessels' fat collars, and of a few balls of mesenteric fat
        (pockets; more of them in fatter patients)."""
        g = self.small
        c = g.step
        nz = g.shape[0]
        xa, ya, za = g.axes
        top = self.z_small_hi + SMALL_BOWEL_TOP_MM * self.top[0] - r0
        free = colon_sd > r0 + COLON_GAP_MM
        z_root = (
            z_of.get("L2", z_of.get("L3", 0.0) + 30.0),
            z_of.get("S1", z_of.get("L5", z_of.get("L3", 0.0) - 60.0) - 30.0),
        )
        cav = np.array([cavity(float(z)) for z in za])  # (nz, 4): xs, yf, yant, rx
        xs, yf, yant, rx = (cav[:, q, None] for q in range(4))
        inset = WALL_INSET * r0
        y_back = yf - 8.0 + 0.8 * np.maximum(np.abs(xa - xs) - 25.0, 0.0) - inset  # (nz, nx)
        y_wall = yant + inset
        u = np.abs(xa - xs) / np.maximum(rx - inset, 1.0)
        v = np.abs(
            2.0
            * (ya[None, :, None] - y_wall[:, :, None])
            / np.maximum(y_back - y_wall, 1.0)[:, None, :]
            - 1.0
        )
        # (a rounded box, as the cavity's superellipse: exponent 3)
        inside = (u * u * u)[:, None, :] + v * v * v < 1.0
        inside &= (y_back > y_wall)[:, None, :]
        inside &= za[:, None, None] <= top[None]
        if self.z_small_lo is not None:  # loops turn above an uneven floor (SMALL_BOWEL_FLOOR_MM)
            rise = np.clip(1.0 + self.top[0][::-1, ::-1], 0.0, 3.0)
            floor = self.z_small_lo + SMALL_BOWEL_FLOOR_MM[0] + r0 + SMALL_BOWEL_FLOOR_MM[1] * rise
            inside &= za[:, None, None] >= floor[None]
        free &= inside
        # the mesenteric root: from the duodenojejunal flexure (left of L2) obliquely to the
        # ileocaecal junction (right iliac fossa), on the posterior wall, with the fan of fat in
        # front of it (a segment running forward ``fan`` mm); and the superior mesenteric
        # vessels in it: loops stay a fat collar away
        root = []
        fan = MESENTERIC_FAN_MM[0] + (MESENTERIC_FAN_MM[1] - MESENTERIC_FAN_MM[0]) * fat
        for k in range(nz):
            z = float(za[k])
            t = (z_root[0] - z) / max(z_root[0] - z_root[1], 1.0)
            if 0.0 <= t <= 1.0:
                root.append(
                    (
                        k,
                        float(xs[k, 0] + rx[k, 0] * (0.15 - 0.6 * t)),
                        float(yf[k, 0]) - 15.0,
                        MESENTERIC_ROOT_MM + r0,
                        fan,
                    )
                )
            for vx, vy, vr in self.sm_vessels(z, float(xs[k, 0]), float(yf[k, 0])):
                root.append((k, vx, vy, vr + SM_COLLAR_MM + r0, 0.0))
        for k, vx, vy, rr, depth in root:
            dy = np.clip(vy - ya, 0.0, depth) - (vy - ya)  # to the segment from vy forward
            d2 = (xa[None, :] - vx) ** 2 + dy[:, None] ** 2
            free[k] &= d2 > rr * rr
        # lanes of mesenteric fat along the vessel trees' trunks
        lane = self.tree[self.tree[:, 4] <= VESSEL_LANE_LEVEL]
        if VESSEL_LANES and len(lane):
            reach = lane[:, 3] + VESSEL_LANE_MM + r0
            q = math.ceil(float(reach.max()) / c)
            nodes = np.rint((lane[:, :3] - g.origin) / c).astype(np.intp)[:, ::-1]  # k, j, i
            for (k, j, i), (px, py, pz), rr in zip(nodes, lane[:, :3], reach, strict=True):
                lbox = (
                    slice(max(k - q, 0), max(k + q + 1, 0)),
                    slice(max(j - q, 0), max(j + q + 1, 0)),
                    slice(max(i - q, 0), max(i + q + 1, 0)),
                )
                d2 = (
                    (za[lbox[0], None, None] - pz) ** 2
                    + (ya[None, lbox[1], None] - py) ** 2
                    + (xa[None, None, lbox[2]] - px) ** 2
                )
                free[lbox] &= d2 > rr * rr
        # mesenteric fat pockets: balls where no loop runs (more of them in fatter patients)
        n_pockets = round(
            POCKETS_PER_LITRE
            * (POCKETS_FAT[0] + (POCKETS_FAT[1] - POCKETS_FAT[0]) * fat)
            * free.sum()
            * c**3
            * 1e-6
        )
        cand = np.flatnonzero(free)
        if len(cand) and n_pockets > 0:
            for node, rp in zip(
                rng.choice(cand, n_pockets), rng.uniform(*POCKET_RADIUS_MM, n_pockets), strict=True
            ):
                at = [int(v) for v in np.unravel_index(int(node), free.shape)]  # k, j, i
                qp = math.ceil((rp + r0) / c)
                box = tuple(slice(max(v - qp, 0), v + qp + 1) for v in at)
                zz, yy, xx = (g.axes[2 - d][box[d]] - g.axes[2 - d][at[d]] for d in range(3))
                d2 = zz[:, None, None] ** 2 + yy[None, :, None] ** 2 + xx[None, None, :] ** 2
                free[box] &= d2 > (rp + r0) ** 2
        return free

    def _walk(
        self,
        rng: np.random.Generator,
        free: NDArray[np.bool_],
        spacing: tuple[float, float],
    ) -> list[tuple[NDArray[np.float64], int]]:
        """Loop axes ``(points (P, 3) mm every WALK_STEP_MM, pass)`` laid by a self-avoiding
        walk on the coarse grid, in two passes (loops ``spacing[0]`` mm apart, then contracted
        loops into the holes left, ``spacing[1]`` mm from the rest).

        Each step turns the heading by a random amount (SD :data:`WALK_TURN` per component;
        a turning radius of about 20 mm, wider than a loop) and keeps the candidate whose
        look-ahead stays in free space longest (ties broken at random): a smooth, meandering
        course. Where none is free a wider turn is tried (a hairpin bend), else the loop ends
        and the walk restarts at a random free node, until the space is full or the step and
        restart limits are reached. Nodes are free while their distance to every axis point
        laid (but the last few of the loop being laid) exceeds the spacing, and ``free``."""
        g = self.small
        c = g.step
        nz, ny, nx = g.shape
        # the walk runs in node units on a padded copy of the grid: blocked beside the box,
        # the cavity continuing a little above and below it (loops cross the box's ends)
        ds = WALK_STEP_MM / c
        q = math.ceil(spacing[0] / c)
        o = np.mgrid[-q : q + 1, -q : q + 1, -q : q + 1]
        cube = (np.sqrt((o * o).sum(axis=0)) * c).astype(np.float32)
        zm = math.ceil(WALK_Z_MARGIN_MM / c)
        pad = q + math.ceil(WALK_LOOKAHEAD * ds * 1.5) + 1
        pz = pad + zm
        # distance (mm) from each node to the nearest axis point laid, -1 where none may run
        room = np.full((nz + 2 * pz, ny + 2 * pad, nx + 2 * pad), -1.0, dtype=np.float32)
        allowed = np.where(free, np.float32(1e3), np.float32(-1.0))
        room[pz : pz + nz, pad : pad + ny, pad : pad + nx] = allowed
        room[pz - zm : pz, pad : pad + ny, pad : pad + nx] = allowed[0]
        room[pz + nz : pz + nz + zm, pad : pad + ny, pad : pad + nx] = allowed[-1]
        flat = room.reshape(-1)
        strides = np.array([room.shape[1] * room.shape[2], room.shape[2], 1], dtype=np.intp)
        # look-ahead points past the padding (a long candidate heading near the box's edge)
        # read the outermost layer, which is blocked
        top = np.array(room.shape, dtype=np.intp) - 1
        max_steps = WALK_MAX_STEPS[1]
        kk = WALK_CANDIDATES
        turns = WALK_TURN * rng.standard_normal((max_steps, kk, 3))
        bias = WALK_NOISE * rng.standard_normal((max_steps, kk))
        weights = 0.5 ** np.arange(WALK_LOOKAHEAD)
        ahead = ds * np.arange(1, WALK_LOOKAHEAD + 1)[None, :, None]
        flat_damp = np.array([1.0 - WALK_FLAT, 1.0, 1.0])  # (k, j, i)
        # restarts: the free nodes in an order that runs from the upper left (jejunum) to the
        # lower right (ileum), with a random spread, each taken if still free
        cand_nodes = rng.permutation(np.flatnonzero(free))
        kz, _, ki = np.unravel_index(cand_nodes, free.shape)
        rank = -(kz / max(nz - 1, 1) + JEJUNUM_LEFT * ki / max(nx - 1, 1))
        rank += START_ORDER_SPREAD * (1.0 + JEJUNUM_LEFT) * rng.standard_normal(len(rank))
        starts = np.unravel_index(cand_nodes[np.argsort(rank, kind="stable")], free.shape)
        starts = (starts[0] + pz) * strides[0] + (starts[1] + pad) * strides[1] + starts[2] + pad

        def block(p: NDArray[np.float64]) -> None:
            k, j, i = (int(v + 0.5) for v in p)
            v = room[k - q : k + q + 1, j - q : j + q + 1, i - q : i + q + 1]
            np.minimum(v, cube, out=v)

        tubes: list[tuple[NDArray[np.float64], int]] = []
        steps = 0
        for phase, (sp, n_restarts, step_cap) in enumerate(
            zip(spacing, WALK_MAX_RESTARTS, WALK_MAX_STEPS, strict=True)
        ):
            # (a look-ahead point is rounded to its nearest node, up to half a node's
            # diagonal away)
            thr = sp - 0.5 * c
            lag = math.ceil(sp / WALK_STEP_MM) + 1
            nxt = restarts = blocked = 0
            cur: list[NDArray[np.float64]] = []
            p: NDArray[np.float64] | None = None
            h = np.zeros(3)
            while steps < step_cap:
                if p is None:
                    if len(cur) >= 3:
                        tubes.append((np.asarray(cur), phase))
                    for q_ in cur[blocked:]:
                        block(q_)
                    cur, blocked = [], 0
                    while nxt < len(starts) and flat[starts[nxt]] <= thr:
                        nxt += 1
                    if nxt >= len(starts) or restarts >= n_restarts:
                        break
                    p = np.array(np.unravel_index(int(starts[nxt]), room.shape), dtype=np.float64)
                    h = rng.standard_normal(3)
                    h /= float(np.linalg.norm(h)) or 1.0
                    cur = [p]
                    restarts += 1
                best, ok, cand, look = 0, np.zeros((1, 1), dtype=bool), h[None, :], p[None, None, :]
                for spread in (1.0, WALK_HAIRPIN):
                    # (first pass: headings not normalized, steps 0.8-1.5 times the step)
                    cand = h + spread * turns[steps]
                    if spread != 1.0:
                        cand /= np.sqrt((cand * cand).sum(axis=1, keepdims=True))
                    look = p + cand[:, None, :] * ahead  # (K, L, 3)
                    idx = np.clip((look + 0.5).astype(np.intp), 0, top)
                    ok = flat[idx @ strides] > thr
                    best = int(np.argmax(ok @ weights + bias[steps]))
                    if ok[best, 0]:
                        break
                steps += 1
                if not ok[best, 0]:
                    p = None  # dead end: the tube ends here
                    continue
                p = look[best, 0]
                h = cand[best] * flat_damp
                h /= math.sqrt(float(h @ h))
                cur.append(p)
                if len(cur) - blocked > lag:
                    block(cur[blocked])
                    blocked += 1
            if p is not None and len(cur) >= 3:
                tubes.append((np.asarray(cur), phase))
            for q_ in cur[blocked:]:
                block(q_)
        # node units (k, j, i) to mm (x, y, z)
        shift = np.array([pz, pad, pad], dtype=np.float64)
        origin = g.origin[::-1]
        return [((origin + c * (tb - shift))[:, ::-1], ph) for tb, ph in tubes]

    def _tube_fields(
        self,
        line: NDArray[np.float64],
        radius: NDArray[np.float64],
        level: NDArray[np.float64],
        kind: NDArray[np.float64],
        fold: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float32]:
        """Coarse fields of the tubes ``(6, nz, ny, nx)``: signed distance to the nearest wall's
        outer surface (mm, negative inside), gas level y and content kind of the nearest sample,
        the distance (mm) to the plane half-way between the nearest loop and the next
        nearest one (half the difference of their signed distances, at most
        :data:`SEPARATION_MAX_MM`): another loop is a sample more than :data:`LOOP_ARC_MM` of
        the bowel's course from the nearest sample; the position along the bowel's course
        (mm: the nearest sample's, plus the node's offset along the axis, so that it varies
        linearly along a loop) and the share of valvulae (``fold``, default none) there.

        Each sample (every :data:`TUBE_FIELD_STRIDE`-th, 6 mm apart: the distance to a row of
        points 6 mm apart is within 0.4 mm of that to the curve at a 12 mm wall) updates the nodes
        of a cube around it; nodes farther than ``r + 7 mm`` (more than a node's diagonal
        outside every wall, so that interpolation between nodes stays right) keep a distance of
        one node step, a lower bound."""
        g = self.small
        c = g.step
        nz, ny, nx = g.shape
        out = np.empty((6, nz, ny, nx), dtype=np.float32)
        out[0] = c
        out[1] = -1e4
        out[2] = 0.0
        out[3] = SEPARATION_MAX_MM
        out[4] = 0.0
        out[5] = 0.0
        if not len(line):
            return out
        sel = slice(None, None, TUBE_FIELD_STRIDE)
        pts, rad = line[sel], radius[sel]
        # each sample's cube reaches 7 mm beyond its wall (smaller for collapsed loops)
        qs = np.ceil((rad + 7.0) / c).astype(np.intp)
        cubes = {}
        for q in np.unique(qs):
            o = (np.mgrid[-q : q + 1, -q : q + 1, -q : q + 1] * c).astype(np.float32)
            cubes[int(q)] = (o.reshape(3, -1).T.copy(), (o * o).sum(axis=0), o.shape[1:])
        pad = 2 * int(qs.max())  # (samples up to q nodes outside the box reach into it)
        dist = np.full((nz + 2 * pad, ny + 2 * pad, nx + 2 * pad), c, dtype=np.float32)
        near = np.full(dist.shape, -1, dtype=np.int32)
        dist2 = np.full(dist.shape, 1e3, dtype=np.float32)
        # position along the bowel (mm) of each sample
        arc = np.append(2.0 * TUBE_FIELD_STRIDE * np.arange(len(pts)), 0.0).astype(np.float32)
        t = (pts - g.origin) / c
        nodes = np.rint(t).astype(np.intp)[:, ::-1]  # k, j, i
        delta = ((t - np.rint(t)) * c)[:, ::-1].astype(np.float32)
        dd = (delta * delta).sum(axis=1)
        hi = np.array([nz, ny, nx])
        inside = ((nodes >= -qs[:, None]) & (nodes < hi + qs[:, None])).all(axis=1)
        for s in np.flatnonzero(inside):
            q = int(qs[s])
            o, o2, shape = cubes[q]
            k, j, i = nodes[s] + pad
            # |o - delta|^2 = |o|^2 - 2 o.delta + |delta|^2, then the distance less the radius
            d = (o @ (-2.0 * delta[s])).reshape(shape)
            d += o2
            d += dd[s]
            np.sqrt(d, out=d)
            d -= rad[s]
            box = (slice(k - q, k + q + 1), slice(j - q, j + q + 1), slice(i - q, i + q + 1))
            sub = dist[box]
            upd = d < sub
            nb = near[box]
            # the nearest loop so far becomes the next nearest where this sample, of another
            # loop, is nearer; else this sample may be the next nearest (index -1, no sample
            # yet, counts as this sample's loop)
            arc[-1] = arc[s]
            other = np.abs(arc[nb] - arc[s]) > LOOP_ARC_MM
            sub2 = dist2[box]
            np.minimum(sub2, np.where(upd, sub, d), out=sub2, where=other)
            sub[upd] = d[upd]
            nb[upd] = s
        crop = (slice(pad, pad + nz), slice(pad, pad + ny), slice(pad, pad + nx))
        out[0] = dist[crop]
        out[3] = np.minimum(0.5 * (dist2[crop] - out[0]), SEPARATION_MAX_MM)
        idx = near[crop]
        hit = idx >= 0
        near_s = idx[hit]
        out[1][hit] = level[sel][near_s]
        out[2][hit] = kind[sel][near_s]
        if fold is not None:
            out[5][hit] = fold[sel][near_s]
        # position along the course: the nearest sample's, plus the offset along its axis
        tangent = np.gradient(line, axis=0)[sel]
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-6)
        kk, jj, ii = np.nonzero(hit)
        node = np.stack([g.axes[0][ii], g.axes[1][jj], g.axes[2][kk]], axis=1)
        off = ((node - pts[near_s]) * tangent[near_s]).sum(axis=1)
        out[4][hit] = arc[near_s] + off
        return out

    def _vessels(self, rng: np.random.Generator, cavity: Cavity) -> NDArray[np.float64]:
        """Mesenteric vessels: short cranio-caudal segments ``(V, 5)`` = x, y, z centre,
        radius and half-length (mm), scattered through the bowel's part of the cavity."""
        g = self.small
        # (jejunal and ileal vessels: no higher than the small bowel)
        z0 = float(g.axes[2][0])
        z1 = max(min(float(g.axes[2][-1]), self.z_small_hi + SMALL_BOWEL_TOP_MM), z0 + 1.0)
        n = int(VESSELS_PER_SLICE * (z1 - z0) / (2.0 * np.mean(VESSEL_HALF_LENGTH_MM)))
        zk = np.linspace(z0, z1, 12)
        cav = np.array([cavity(float(z)) for z in zk])  # xs, y spine front, y_ant, half-width
        z = rng.uniform(z0, z1, 2 * n)
        xs, yf, ya, rx = (np.interp(z, zk, cav[:, q]) for q in range(4))
        u = rng.uniform(-0.9, 0.9, 2 * n)
        v = rng.uniform(0.05, 1.0, 2 * n)
        x = xs + u * rx
        y = ya + v * (yf - ya)
        # in front of the retroperitoneum (as the bowel), inside the cavity's ellipse
        ok = (y < yf - 8.0 + 0.8 * np.maximum(np.abs(x - xs) - 25.0, 0.0)) & (
            u**2 + (2.0 * v - 1.0) ** 2 < 1.0
        )
        x, y, z = x[ok][:n], y[ok][:n], z[ok][:n]
        m = len(x)
        return np.stack(
            [
                x,
                y,
                z,
                rng.uniform(*VESSEL_RADIUS_MM, m),
                rng.uniform(*VESSEL_HALF_LENGTH_MM, m),
            ],
            axis=1,
        )

    def _vessel_tree(
        self, rng: np.random.Generator, cavity: Cavity, z_of: Mapping[str, float]
    ) -> NDArray[np.float64]:
        """Mesenteric vessel trees: points ``(P, 5)`` = x, y, z, radius (mm) and fork level (0:
        the trunk), every 2 mm along
        branches that fan out from the mesenteric root (the duodenojejunal flexure left of L2 to
        the right iliac fossa) across the body, jejunal ones (upper root) mostly to the left,
        ileal ones (lower root) to the right, forking :data:`VESSEL_TREE_LEVELS` times, each
        branch ending where it leaves the loops' part of the cavity."""
        z_a = z_of.get("L2", z_of.get("L3", 0.0) + 30.0)
        z_b = z_of.get("S1", z_of.get("L5", z_of.get("L3", 0.0) - 60.0) - 30.0)
        z_b = max(z_b, float(self.z[0]))
        z_a = min(z_a, self.z_small_hi)
        if z_a <= z_b:
            return np.zeros((0, 5))
        zk = np.linspace(z_b - 40.0, z_a + 40.0, 12)
        cav = np.array([cavity(float(z)) for z in zk])  # xs, y spine front, y_ant, half-width

        def inside(x: float, y: float, z: float) -> bool:
            xs, yf, ya, rx = (float(np.interp(z, zk, cav[:, q])) for q in range(4))
            if rx <= 1.0 or yf - ya <= 1.0:
                return False
            u, v = (x - xs) / rx, (y - ya) / (yf - ya)
            return (
                y < yf - 8.0 + 0.8 * max(abs(x - xs) - 25.0, 0.0)
                and u * u + (2.0 * v - 1.0) ** 2 < 1.0
            )

        pts: list[tuple[float, float, float, float, float]] = []
        # branches to grow: start (x, y, z), heading angle (0: anterior, > 0 to the left),
        # slope, radius, length, fork level
        todo: list[tuple[float, float, float, float, float, float, float, int]] = []
        for _ in range(VESSEL_TREES):
            t = float(rng.uniform(0.0, 1.0))
            z = z_a - t * (z_a - z_b)
            xs, yf, _, rx = (float(np.interp(z, zk, cav[:, q])) for q in range(4))
            side = 1.0 if rng.random() > t else -1.0
            todo.append(
                (
                    xs + rx * (0.15 - 0.6 * t),
                    yf - 15.0,
                    z,
                    side * float(rng.uniform(0.25, 1.4)),
                    VESSEL_TREE_SLOPE * float(rng.standard_normal()),
                    float(rng.uniform(*VESSEL_TREE_R_MM)),
                    float(rng.uniform(*VESSEL_TREE_LENGTH_MM)),
                    0,
                )
            )
        while todo:
            x, y, z, ang, slope, r, length, level = todo.pop()
            n = max(int(length / 2.0), 1)
            turns = VESSEL_TREE_TURN * rng.standard_normal(n)
            for q in range(n):
                ang += float(turns[q])
                x += 2.0 * math.sin(ang)
                y -= 2.0 * math.cos(ang)
                z += 2.0 * slope
                if not inside(x, y, z):
                    break
                pts.append((x, y, z, r, float(level)))
            else:
                if level < VESSEL_TREE_LEVELS:
                    half = float(rng.uniform(*VESSEL_TREE_FORK))
                    rr = max(r * VESSEL_TREE_R_DECAY, VESSEL_TREE_MIN_R_MM)
                    for sgn in (-1.0, 1.0):
                        todo.append(
                            (
                                x,
                                y,
                                z,
                                ang + sgn * half,
                                slope + 0.5 * VESSEL_TREE_SLOPE * float(rng.standard_normal()),
                                rr,
                                length * VESSEL_TREE_L_DECAY,
                                level + 1,
                            )
                        )
        return np.asarray(pts, dtype=np.float64).reshape(-1, 5)

    def _paint_tree(self, tissue: NDArray[np.uint8]) -> None:
        """Paint the vessel trees' balls (points every 2 mm, densified to the grid) into the
        fat (only) of a ``(nk, nj, ni)`` tissue map."""
        p = self.tree[:, :4]
        x, y, z = self.x, self.y, self.z
        if not len(p) or len(x) < 2 or len(y) < 2 or len(z) < 2:
            return
        sx, sy, sz = float(x[1] - x[0]), float(y[1] - y[0]), float(z[1] - z[0])
        # densify each run of points (gaps of 2 mm) to a step below the grid's
        d = 0.8 * min(abs(sx), abs(sy), abs(sz), 2.0)
        m = max(math.ceil(2.0 / d), 1)
        seg = np.linalg.norm(np.diff(p[:, :3], axis=0), axis=1) < 2.5  # same branch
        a, b = p[:-1][seg], p[1:][seg]
        w = (np.arange(m) / m)[None, :, None]
        pts = (a[:, None, :] + w * (b - a)[:, None, :]).reshape(-1, 4)
        pts = np.concatenate([pts, p])
        rmax = float(pts[:, 3].max())
        oi = np.arange(-math.ceil(rmax / abs(sx)), math.ceil(rmax / abs(sx)) + 1)
        oj = np.arange(-math.ceil(rmax / abs(sy)), math.ceil(rmax / abs(sy)) + 1)
        ok_ = np.arange(-math.ceil(rmax / abs(sz)), math.ceil(rmax / abs(sz)) + 1)
        ok3, oj3, oi3 = (v.ravel() for v in np.meshgrid(ok_, oj, oi, indexing="ij"))
        ci = np.rint((pts[:, 0] - x[0]) / sx).astype(np.intp)
        cj = np.rint((pts[:, 1] - y[0]) / sy).astype(np.intp)
        ck = np.rint((pts[:, 2] - z[0]) / sz).astype(np.intp)
        nk, nj, ni = tissue.shape
        keep = (ci > -len(oi)) & (ci < ni + len(oi)) & (cj > -len(oj)) & (cj < nj + len(oj))
        keep &= (ck > -len(ok_)) & (ck < nk + len(ok_))
        pts, ci, cj, ck = pts[keep], ci[keep], cj[keep], ck[keep]
        for s0 in range(0, len(pts), 2048):  # (bounded memory)
            sl = slice(s0, s0 + 2048)
            ii = ci[sl, None] + oi3[None, :]
            jj = cj[sl, None] + oj3[None, :]
            kk = ck[sl, None] + ok3[None, :]
            dx = x[0] + ii * sx - pts[sl, 0:1]
            dy = y[0] + jj * sy - pts[sl, 1:2]
            dz = z[0] + kk * sz - pts[sl, 2:3]
            hit = dx * dx + dy * dy + dz * dz <= pts[sl, 3:4] ** 2
            hit &= (ii >= 0) & (ii < ni) & (jj >= 0) & (jj < nj) & (kk >= 0) & (kk < nk)
            kh, jh, ih = kk[hit], jj[hit], ii[hit]
            fat = _FAT_LUT[tissue[kh, jh, ih]]
            tissue[kh[fat], jh[fat], ih[fat]] = _T.BLOOD

    def paint_vessels(self, tissue: NDArray[np.uint8]) -> None:
        """Paint the mesenteric vessels into the fat (only) of a finished ``(nk, nj, ni)``
        tissue map: call after the slices."""
        self._paint_tree(tissue)
        v = self.vessels
        x, y, z = self.x, self.y, self.z
        if not len(v) or len(x) < 2 or len(y) < 2 or len(z) < 2:
            return
        sx, sy, sz = float(x[1] - x[0]), float(y[1] - y[0]), float(z[1] - z[0])
        # (vessel, slice) pairs along each segment's length
        k0 = np.ceil((v[:, 2] - v[:, 4] - z[0]) / sz).astype(np.intp)
        k1 = np.floor((v[:, 2] + v[:, 4] - z[0]) / sz).astype(np.intp) + 1
        k0, k1 = np.clip(k0, 0, len(z)), np.clip(k1, 0, len(z))
        cnt = np.maximum(k1 - k0, 0)
        vi = np.repeat(np.arange(len(v)), cnt)
        if not len(vi):
            return
        kk = np.repeat(k0 - np.cumsum(cnt) + cnt, cnt) + np.arange(len(vi))
        # a disc of offsets around each (vessel, slice) centre
        ri = math.ceil(VESSEL_RADIUS_MM[1] / abs(sx))
        rj = math.ceil(VESSEL_RADIUS_MM[1] / abs(sy))
        oj, oi = np.mgrid[-rj : rj + 1, -ri : ri + 1]
        ci = np.rint((v[vi, 0] - x[0]) / sx).astype(np.intp)
        cj = np.rint((v[vi, 1] - y[0]) / sy).astype(np.intp)
        ii = ci[:, None] + oi.ravel()[None, :]
        jj = cj[:, None] + oj.ravel()[None, :]
        dx = x[0] + ii * sx - v[vi, 0:1]
        dy = y[0] + jj * sy - v[vi, 1:2]
        hit = (dx * dx + dy * dy <= v[vi, 3:4] ** 2) & (ii >= 0) & (ii < len(x))
        hit &= (jj >= 0) & (jj < len(y))
        kk = np.broadcast_to(kk[:, None], hit.shape)[hit]
        jj, ii = jj[hit], ii[hit]
        fat = _FAT_LUT[tissue[kk, jj, ii]]
        tissue[kk[fat], jj[fat], ii[fat]] = _T.BLOOD

    # ---- colon ----
    def _colon_path(
        self, rng: np.random.Generator, z_of: Mapping[str, float], cavity: Cavity
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], list[str]]:
        """Centre line ``(M, 3)`` mm every 2 mm, its radius ``(M,)`` mm, its depth in the
        cavity ``(M,)`` (0 at the anterior abdominal wall's inner surface, 1 at the vertebral
        body's front) and segment names."""
        pts, rad, seg, depth = [], [], [], []
        sag = float(rng.uniform(0.0, 45.0))  # transverse colon: hangs lower in some people
        scale = float(rng.uniform(*COLON_SCALE))
        for name, u, v, lab, dz in _COLON_COURSE:
            z = z_of.get(lab, z_of.get("L3", 0.0) + _LANDMARK_FALLBACK_MM[lab] - 40.0) + dz
            if name == "transverse" and abs(u) < 0.1:
                z -= sag
            z += float(rng.uniform(-8.0, 8.0))
            xs, y_spine, y_ant, rx = cavity(z)
            u += float(rng.uniform(-0.05, 0.05))
            v += float(rng.uniform(-0.08, 0.08))
            r = COLON_RADIUS_MM[name] * scale
            # keep the tube inside the cavity (clear of the anterior wall and the flank)
            x = xs + float(np.clip(u * rx, -rx + r + 4.0, rx - r - 4.0))
            y = max(y_ant + v * (y_spine - y_ant), y_ant + r + 3.0)
            pts.append((x, y, z))
            rad.append(r)
            seg.append(name)
            depth.append((y - y_ant) / max(y_spine - y_ant, 1.0))
        p = np.asarray(pts)
        r_pts = np.asarray(rad)
        # chord-length parameter, densified to 2 mm and smoothed into a curve
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        s_new = np.arange(0.0, s[-1] + 1e-9, 2.0)
        line = np.stack([np.interp(s_new, s, p[:, d]) for d in range(3)], axis=1)
        line = ndi.gaussian_filter1d(line, 6.0, axis=0, mode="nearest")
        radius = ndi.gaussian_filter1d(np.interp(s_new, s, r_pts), 6.0, mode="nearest")
        v = ndi.gaussian_filter1d(np.interp(s_new, s, np.asarray(depth)), 6.0, mode="nearest")
        idx = np.clip(np.searchsorted(s, s_new, side="right") - 1, 0, len(seg) - 1)
        return line, radius, v, [seg[i] for i in idx]

    def _colon(
        self,
        rng: np.random.Generator,
        bowel_gas: int,
        z_of: Mapping[str, float],
        cavity: Cavity,
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Colon fields on the coarse grid: signed distance to the wall (mm, negative inside),
        y of the gas-fluid level (mm; gas in front of it) and content kind (> 0 faeces, else
        fluid)."""
        g = self.small
        c = g.step
        line, radius, below, seg = self._colon_path(rng, z_of, cavity)
        m = len(line)
        s = 2.0 * np.arange(m)
        # haustral folds every 20-30 mm between three teniae (none in the rectum, fewer in the
        # sigmoid; :func:`sacculated_radius`); the teniae's and the rows' phases from a side
        # stream (the case's other draws as they were before the teniae)
        spacing = float(rng.uniform(*HAUSTRA_SPACING_MM))
        offset = float(rng.uniform(0.0, spacing))
        side = side_stream(rng, streams.HAUSTRA)
        tenia0 = float(side.uniform(0.0, 2.0 * math.pi))
        row_phase = offset + side.uniform(0.0, spacing, 3)
        depth = np.array([{"rectum": 0.0, "sigmoid": 0.5}.get(q, 1.0) for q in seg])
        _, n1, n2 = rotation_minimizing_frame(line)
        # content along the colon: smooth random profiles (sigma 40-50 mm of its course)
        seg_gas = np.array([COLON_SEGMENT_GAS.get(q, 0.0) for q in seg])
        seg_gas += COLON_GAS_RISE * (COLON_GAS_V0 - below)  # gas rises to the front
        gas_prof = ndi.gaussian_filter1d(rng.standard_normal(m), 20.0, mode="nearest")
        gas_prof /= float(gas_prof.std()) or 1.0
        # fraction of the lumen's depth filled with gas from the front, 0..0.9
        frac = np.clip(COLON_GAS_PER_POCKET * bowel_gas + seg_gas + 0.25 * gas_prof, 0.0, 0.9)
        if not self.gas:
            frac[:] = 0.0
        # the level is a coronal plane (gravity along +y); smooth along the course so that
        # neighbouring samples agree (a liquid surface is level within a segment)
        level = ndi.gaussian_filter1d(line[:, 1] - radius + 2.0 * radius * frac, 15.0)
        kind_prof = ndi.gaussian_filter1d(rng.standard_normal(m), 25.0, mode="nearest")
        kind_prof /= float(kind_prof.std()) or 1.0
        # (the caecum and ascending colon hold faeces less often than the rest, yet often; at
        # -0.6 and -0.3 their content was mostly fluid, and the cavity at L3-L5 held 0.004
        # isolated faecal mottle voxels per bowel voxel, the real CT 0.022)
        seg_kind = np.array([{"caecum": 0.0, "ascending": 0.3}.get(q, 0.6) for q in seg])
        kind = seg_kind + kind_prof
        # the grid's nodes near the path (index box), in two passes: nodes at twice the step
        # find the nodes worth an exact query (each lies within sqrt(3) * step of its
        # stand-in)
        reach = float(radius.max()) + COLON_WALL_MM + c
        lo = [
            int(np.clip((line[:, d].min() - reach - g.origin[d]) // c, 0, g.n[d])) for d in range(3)
        ]
        hi = [
            int(np.clip((line[:, d].max() + reach - g.origin[d]) // c + 2, lo[d], g.n[d]))
            for d in range(3)
        ]
        sd = np.full(g.shape, 1e3, dtype=np.float32)
        lev = np.zeros(g.shape, dtype=np.float32)
        kin = np.zeros(g.shape, dtype=np.float32)
        if min(hi[d] - lo[d] for d in range(3)) <= 0:
            return sd, lev, kin
        axes = [g.axes[d][lo[d] : hi[d]] for d in range(3)]
        tree = cKDTree(line)
        ax2 = [a[::2] for a in axes]
        zz, yy, xx = np.meshgrid(*ax2[::-1], indexing="ij")
        slack = math.sqrt(3.0) * c
        d2, i2 = tree.query(
            np.stack([xx.ravel(), yy.ravel(), zz.ravel()], axis=1),
            distance_upper_bound=reach + slack + 1.0,
        )
        # within reach of the local radius (thinner segments need a thinner shell of nodes):
        # the stand-in is within `slack` of the node, its nearest sample's radius within
        # `slack` of the node's (the full radius: the folds and teniae only narrow it)
        ok2 = np.isfinite(d2)
        near = np.zeros(d2.shape, dtype=bool)
        near[ok2] = d2[ok2] - radius[i2[ok2]] < reach - float(radius.max()) + 2.0 * slack + 1.0
        near = near.reshape(zz.shape)
        shape = (len(axes[2]), len(axes[1]), len(axes[0]))
        near = near.repeat(2, 0).repeat(2, 1).repeat(2, 2)[: shape[0], : shape[1], : shape[2]]
        kk, jj, ii = np.nonzero(near)
        pts = np.stack([axes[0][ii], axes[1][jj], axes[2][kk]], axis=1)
        d, idx = tree.query(pts, distance_upper_bound=reach)
        ok = np.isfinite(d)
        kk, jj, ii, d, idx = kk[ok] + lo[2], jj[ok] + lo[1], ii[ok] + lo[0], d[ok], idx[ok]
        w = pts[ok] - line[idx]  # the angle about the axis, in its untwisted frame
        angle = np.arctan2(np.sum(w * n2[idx], axis=1), np.sum(w * n1[idx], axis=1))
        r_node = sacculated_radius(
            radius[idx], angle, s[idx], depth[idx], tenia0, spacing, row_phase
        )
        sd[kk, jj, ii] = d - r_node
        lev[kk, jj, ii] = level[idx]
        kin[kk, jj, ii] = kind[idx]
        return sd, lev, kin

    # ---- painting ----
    def active(self, k: int) -> bool:
        """Whether slice ``k`` may get any bowel (False high up, clear of the colon and of the
        highest small-bowel loops): lets callers skip building the slice's cavity mask."""
        z = float(self.z[k])
        if z <= self.sb_top:
            return True
        return bool((self.small.plane(z)[2] < self.small.step).any())

    def paint(
        self,
        tissue: NDArray[np.uint8],
        k: int,
        win: tuple[int, int, int, int, NDArray[np.bool_]],
        xs: float,
        y_front: float,
    ) -> None:
        """Fill the fat of the abdominal cavity on slice ``k`` with bowel.

        Args:
            tissue: ``(nk, nj, ni)`` fine tissue map, painted in place.
            k: Fine slice index.
            win: The cavity on this slice as ``(i0, i1, j0, j1, mask)`` (mask over
                ``[j0:j1, i0:i1]``).
            xs: Spine x (mm).
            y_front: y of the vertebral body's front (mm); bowel stays in front of the
                retroperitoneum (aorta, vena cava, psoas).
        """
        i0, i1, j0, j1, m = win
        g = self.small
        z = float(self.z[k])
        plane = g.plane(z)
        high = z > self.sb_top  # above all small bowel: the colon only
        # only the colon's and the loops' box
        keep = plane[2] < g.step
        if not high:
            keep |= plane[0] < g.step
        box = self._box(keep, j0, j1, i0, i1)
        if box is None:
            return
        ja, jb, ia, ib = box
        m = m[ja:jb, ia:ib]
        j0, j1, i0, i1 = j0 + ja, j0 + jb, i0 + ia, i0 + ib
        sub = tissue[k, j0:j1, i0:i1]
        # stay in front of the retroperitoneum (aorta, vena cava, psoas)
        lim = y_front - 8.0 + 0.8 * np.maximum(np.abs(self.x[i0:i1] - xs) - 25.0, 0.0)
        front = self.y[j0:j1, None] < lim[None, :]  # a fresh mask; the cavity's is the caller's
        front &= m
        front &= sub == _T.FAT
        m = front
        got = mask_box(m)
        if got is None:
            return
        a0, a1, b0, b1 = got
        m = m[a0:a1, b0:b1]
        sub = sub[a0:a1, b0:b1]
        j0, j1, i0, i1 = j0 + a0, j0 + a1, i0 + b0, i0 + b1
        if high:
            sd = g.sample(plane[2:3], j0, j1, i0, i1)[0]
            self._paint_colon(sub, m, sd, plane, (j0, i0), z)
            self._paint_strands(sub, m, (j0, i0), z)
            return
        tube, code, sd = g.sample(plane[:3], j0, j1, i0, i1)
        # m is a fresh mask: it becomes the fat still free for small bowel
        self._paint_colon(sub, m, sd, plane, (j0, i0), z)
        # small-bowel loops in the rest of the cavity, a fat gap away from the colon
        loop = tube < 0.0
        loop &= m
        sub[loop] = _T.SOFT  # wall, chyme, collapsed loops
        lumen = tube < -SMALL_BOWEL_WALL_MM
        thin = code < -1.5  # fluid-filled loops: distended, thin-walled
        thin &= tube < -FLUID_WALL_MM
        lumen |= thin
        lumen &= loop
        gas = code > 1.5
        gas &= loop
        gas &= tube < -GAS_WALL_MM  # distended, thin-walled
        wet = code < 0.0
        wet &= lumen
        wet |= gas
        sub[wet] = _T.GUT_FLUID  # fluid; gas loops hold fluid behind their level
        # the wall (around the lumen and the gas) and the collapsed loops (all wall): mucosa
        collapsed = loop & (code > 0.95) & (code < 1.05)
        wall = loop & ~(lumen | gas)
        wall |= collapsed
        sub[wall] = _T.GUT_WALL
        core = tube < -np.float32(SLIT_DEPTH_MM)  # collapsed loops' slits: near the axis
        core &= collapsed
        self._paint_slits(sub, core, plane, (j0, i0))
        got = mask_box(gas) if self.gas else None
        if got is not None:
            a0, a1, b0, b1 = got
            lev = g.sample(plane[6:7], j0 + a0, j0 + a1, i0 + b0, i0 + b1, slot=1)[0]
            above = gas[a0:a1, b0:b1] & (self.y[j0 + a0 : j0 + a1, None] < lev)
            sub[a0:a1, b0:b1][above] = _T.GAS
        if self.gas:  # small gas bubbles in chyme
            bubble = (code > 1.1) & (code < 1.4)
            bubble &= lumen
            sub[bubble] = _T.GAS
        self._paint_folds(sub, wet, tube, plane, (j0, i0))
        self._paint_strands(sub, m, (j0, i0), z)
        # superior mesenteric vessels in their fat collars (the loops keep clear of them)
        for vx, vy, vr in self.sm_vessels(z, xs, y_front):
            rc = vr + SM_COLLAR_MM
            ja, jb = np.searchsorted(self.y[j0:j1], [vy - rc, vy + rc])
            ia, ib = np.searchsorted(self.x[i0:i1], [vx - rc, vx + rc])
            if jb <= ja or ib <= ia:
                continue
            r2 = (self.y[j0 + ja : j0 + jb, None] - vy) ** 2 + (
                self.x[None, i0 + ia : i0 + ib] - vx
            ) ** 2
            free = m[ja:jb, ia:ib] | _FAT_LUT[sub[ja:jb, ia:ib]]
            o = sub[ja:jb, ia:ib]
            o[free & (r2 <= rc * rc)] = _T.VISCERAL_FAT
            o[free & (r2 <= vr * vr)] = _T.BLOOD

    def _paint_strands(
        self, out: NDArray[np.uint8], free: NDArray[np.bool_], origin: tuple[int, int], z: float
    ) -> None:
        """The mesenteric fat: strands (:data:`MESENTERY_STRAND_SHARE`) in the fat of ``out``
        (a window at fine ``origin`` (j0, i0) of the slice at height ``z`` mm) where ``free``, the
        rest of it ``VISCERAL_FAT``."""
        fat = free & (out == _T.FAT)
        out[fat] = _T.VISCERAL_FAT
        got = mask_box(fat)
        if got is None:
            return
        a0, a1, b0, b1 = got
        j0, i0 = origin
        yy, xx = self.y[j0 + a0 : j0 + a1], self.x[i0 + b0 : i0 + b1]
        # the sheets where the first channel is near zero, their thickness varied (and broken
        # off) by the second
        sheet, w = tex_slice(self.strands, z, yy, xx)
        w *= np.float32(MESENTERY_STRAND_SPREAD)
        w += np.float32(1.0)
        w *= np.float32(self.strand_w)
        on = np.abs(sheet) < w
        on &= fat[a0:a1, b0:b1]
        out[a0:a1, b0:b1][on] = _T.MESENTERY

    def _paint_slits(
        self,
        out: NDArray[np.uint8],
        collapsed: NDArray[np.bool_],
        plane: NDArray[np.float32],
        origin: tuple[int, int],
    ) -> None:
        """Slits of fluid in the core of collapsed loops (``collapsed``: the pixels deeper than
        :data:`SLIT_DEPTH_MM`, on a window at fine ``origin`` (j0, i0)): where the fine field is
        within :data:`SLIT_Z` of zero, thin curved lines rather than a round lumen; painted
        into ``out``."""
        got = mask_box(collapsed)
        if got is None:
            return
        a0, a1, b0, b1 = got
        j0, i0 = origin
        fs = self.small.sample(plane[5:6], j0 + a0, j0 + a1, i0 + b0, i0 + b1, slot=1)[0]
        slit = np.abs(fs) < np.float32(SLIT_Z)
        slit &= collapsed[a0:a1, b0:b1]
        out[a0:a1, b0:b1][slit] = _T.GUT_FLUID

    def _paint_folds(
        self,
        out: NDArray[np.uint8],
        wet: NDArray[np.bool_],
        tube: NDArray[np.float32],
        plane: NDArray[np.float32],
        origin: tuple[int, int],
    ) -> None:
        """Valvulae conniventes: soft-tissue folds across the fluid or gas of jejunal loops
        (``wet``, on a window at fine ``origin`` (j0, i0) whose loop distance is ``tube``),
        painted into ``out``."""
        j0, i0 = origin
        nj, ni = wet.shape
        # only where the coarse nodes hold folds (their box), then where there is a lumen
        box = self._box(plane[8] > 0.0, j0, j0 + nj, i0, i0 + ni)
        if box is None:
            return
        ja, jb, ia, ib = box
        got = mask_box(wet[ja:jb, ia:ib])
        if got is None:
            return
        a0, a1, b0, b1 = got[0] + ja, got[1] + ja, got[2] + ia, got[3] + ia
        # the lumen near the wall, within the tallest fold's reach
        depth = -tube[a0:a1, b0:b1] - np.float32(SMALL_BOWEL_WALL_MM)
        near = depth < np.float32(FOLD_HEIGHT_MM * 1.4)
        near &= wet[a0:a1, b0:b1]
        jj, ii = np.nonzero(near)
        if not len(jj):
            return
        fs, pos, w = self.small.sample(plane[[5, 7, 8]], j0 + a0, j0 + a1, i0 + b0, i0 + b1, slot=1)
        flat = jj * (b1 - b0) + ii  # the four (a1 - a0, b1 - b0) windows are C-contiguous
        fs, pos, w, depth = (np.take(q.reshape(-1), flat) for q in (fs, pos, w, depth))
        # within FOLD_DUTY / 2 of a fold's phase (less where the share of folds is lower)
        on = np.cos(np.float32(2.0 * math.pi / FOLD_PITCH_MM) * pos) > np.cos(
            np.float32(math.pi * FOLD_DUTY) * np.clip(w, 0.0, 1.0)
        )
        on &= depth < np.float32(FOLD_HEIGHT_MM) * (1.0 + 0.4 * fs)
        on &= w > 0.05
        # (in gas, only in the jejunum proper: the distal loops' gas is featureless)
        on &= (out[a0:a1, b0:b1][jj, ii] != _T.GAS) | (w > GAS_FOLD_SHARE)
        out[a0:a1, b0:b1][jj[on], ii[on]] = _T.GUT_WALL

    def _box(
        self, keep: NDArray[np.bool_], j0: int, j1: int, i0: int, i1: int
    ) -> tuple[int, int, int, int] | None:
        """Fine index box ``(ja, jb, ia, ib)``, relative to ``j0``/``i0``, of the pixels that
        bilinear interpolation can take from the coarse nodes where ``keep`` (ny, nx) holds
        (their box grown by one node each side), within ``j0:j1, i0:i1``; None if empty."""
        g = self.small
        rows, cols = np.nonzero(keep.any(axis=1))[0], np.nonzero(keep.any(axis=0))[0]
        if not len(rows):
            return None
        qy = np.clip([rows[0] - 1, rows[-1] + 1], 0, g.n[1] - 1)
        qx = np.clip([cols[0] - 1, cols[-1] + 1], 0, g.n[0] - 1)
        ja, jb = np.searchsorted(self.y[j0:j1], g.axes[1][qy])
        ia, ib = np.searchsorted(self.x[i0:i1], g.axes[0][qx])
        ja, ia = max(int(ja) - 1, 0), max(int(ia) - 1, 0)
        jb, ib = min(int(jb) + 1, j1 - j0), min(int(ib) + 1, i1 - i0)
        if jb <= ja or ib <= ia:
            return None
        return ja, jb, ia, ib

    def _paint_colon(
        self,
        out: NDArray[np.uint8],
        free: NDArray[np.bool_],
        sd: NDArray[np.float32],
        plane: NDArray[np.float32],
        origin: tuple[int, int],
        z: float,
    ) -> None:
        """Colon on a window at fine ``origin`` (j0, i0) of the slice at height ``z`` (mm) given
        its distance field ``sd``: paints ``out`` where ``free`` and clears ``free`` at and near
        the colon."""
        tube = free & (sd < 0.0)
        lumen = tube & (sd < -COLON_WALL_MM)
        free &= sd > COLON_GAP_MM  # small bowel keeps a fat gap away
        got = mask_box(tube)
        if got is None:
            return
        out[tube] = _T.SOFT
        out[tube & ~lumen] = _T.GUT_WALL
        # gas level, content kind and the fine field in the tube's box
        a0, a1, b0, b1 = got
        j0, i0 = origin
        lev, kind, fs = self.small.sample(plane[3:6], j0 + a0, j0 + a1, i0 + b0, i0 + b1, slot=1)
        lumen = lumen[a0:a1, b0:b1]
        o = out[a0:a1, b0:b1]
        # over faeces the gas's surface is as rough as they are (FAECES_SURFACE_MM times the
        # fine field); over fluid it is level
        surf = lev + np.float32(FAECES_SURFACE_MM) * np.where(kind > 0.0, fs, np.float32(0.0))
        gas = lumen & (self.y[j0 + a0 : j0 + a1, None] < surf)
        content = lumen & ~gas
        faeces = content & (kind > 0.0)
        o[content & ~faeces] = _T.GUT_FLUID
        # mottled faeces: soft tissue with gas bubbles and watery patches; no free water rests
        # on gas (where the rough surface has gas behind a patch, the patch stays soft)
        watery = faeces & (fs < -0.7)
        watery[:-1] &= ~gas[1:]
        o[watery] = _T.GUT_FLUID
        if self.gas:
            o[gas] = _T.GAS
            o[faeces & (fs > FAECES_BUBBLE_Z)] = _T.GAS
        # the fine gas mottle in the faeces' soft matrix
        jj, ii = np.nonzero(faeces & (o == _T.SOFT))
        if len(jj):
            inc = self._mottle(self.x[i0 + b0 + ii], self.y[j0 + a0 + jj], z)
            o[jj[inc], ii[inc]] = _T.FAECAL_GAS

    def _mottle(
        self, x: NDArray[np.float64], y: NDArray[np.float64], z: float
    ) -> NDArray[np.bool_]:
        """Whether the points ``(x, y, z)`` mm (``x``, ``y``: ``(n,)``) lie in a faecal inclusion:
        the ball of their cell of the :data:`FAECES_CELL_MM` lattice (offset by
        ``self.mottle_origin``), looked up in the case's periodic tile ``self.mottle_cells``
        (:func:`mottle_cells`), so it is the same on every slice."""
        cells = self.mottle_cells
        n = cells.shape[0]
        ox, oy, oz = self.mottle_origin
        fz = (z - oz) / FAECES_CELL_MM
        cz = math.floor(fz)
        fx = (x - ox) * (1.0 / FAECES_CELL_MM)
        fy = (y - oy) * (1.0 / FAECES_CELL_MM)
        cx, cy = np.floor(fx), np.floor(fy)
        fx -= cx
        fy -= cy
        idx = cy.astype(np.intp) % n
        idx *= n
        idx += cx.astype(np.intp) % n
        c = np.take(cells[cz % n].reshape(-1, 4), idx, axis=0)  # (m, 4): radius, centre x, y, z
        d2 = (fx - c[:, 1]) ** 2
        d2 += (fy - c[:, 2]) ** 2
        d2 += (fz - cz - c[:, 3]) ** 2
        return d2 < c[:, 0] ** 2
