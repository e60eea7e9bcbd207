"""Solid abdominal organs and the diaphragm's lung floor, painted one axial slice at a time.

The organs are not ellipsoids: each slice's section is a *row span* (for every image row ``y``
the organ covers ``x`` between a left and a right edge, both 1-D functions of ``y``), so shapes
follow the body cavity's wall, taper along z by keyframes and get lobulated outlines from a few
slowly varying sinusoids per edge (per case phases, drifting with z). Evaluating the edges per
row and comparing two numbers per pixel keeps it cheap on the fine grid.

Hepatic and portal veins are painted as vessel (blood) inside the liver: about 16 HU darker than
the liver without contrast and brighter with it (:mod:`spinelab.synth.tissues`); the kidneys have
a cortex (KIDNEY) and medullary pyramids (MEDULLA), the heart a wall (MYOCARDIUM) around its
blood-filled chambers, the pancreas and the adrenals classes of their own: each looks uniform
or not according to the case's HU table (contrast and its phase).

Anatomy (adult, rounded; Gray's Anatomy 41st ed., Standring 2016; Moore's Clinically Oriented
Anatomy 8th ed.; organ sizes as in ultrasound/CT reference texts):

* Liver: right lobe under the right hemidiaphragm (its dome follows the diaphragm: the lungs are
  painted over it, so no fat gap), 15-17 cm craniocaudal in the mid-axillary line with the
  inferior tip at about L2-L3; the thin left lobe crosses the midline in front of the stomach
  (5-8 cm left of the midline, 5-6 cm thick at the midline, thinning to the left). The
  posterior surface reaches the inferior vena cava and the right kidney's upper pole; three
  hepatic veins (10-12 mm at the IVC, tapering) run down and out from the IVC.
* Spleen: 11-12 x 7 x 4 cm, a crescent against the left posterolateral ribs (9th-11th) under the
  left dome, its concave visceral face medial.
* Stomach: fundus under the left dome beside the spleen, body running forwards and medially,
  antrum crossing the midline anteriorly at L1; wall 3-5 mm; in a supine patient gas collects
  anteriorly above a horizontal (constant ``y``) air-fluid level; the content is fluid, with
  food (a mottle of soft matter, watery patches and gas bubbles) lying at the back in
  most cases (STOMACH_P_FOOD).
* Kidneys: 11-12 cm long, 5-6 cm wide, 3.5-4 cm thick; the left upper pole at T12-L1, the right
  kidney 1-2 cm lower; long axes tilted so the upper poles lie medial (about 12 deg) and
  posterior (about 12 deg); the hilum faces anteromedially (the axial section is rotated about
  30 deg from the coronal plane) and opens into the renal sinus fat; perirenal fat around.
  The renal pelvis (urine, water density, about 28 x 10 x 24 mm) lies in the sinus just below
  the kidney's middle and opens out of the hilum medially; the renal vein (9 mm) leaves the
  hilum in front of it for the inferior vena cava (the left one arching in front of the
  aorta), the renal artery (5-6 mm) leaves above it for the aorta. The parenchyma is a cortex
  wrapping 10-14 medullary pyramids (cones from under the cortex to papillae at the sinus).
* Pancreas: head (25-30 mm) in the duodenal C-loop right of the superior mesenteric vein at
  L1-L2, neck and body (15-25 mm) crossing in front of the aorta at L1, tail rising to the
  splenic hilum in front of the left kidney; lobulated (overlapping spheres of jittered size
  along the centreline, their outline roughened by a random field), with fat between the
  lobules (septa where a smooth random field is near zero) and a thin rim of fat over the
  bowel; a class of its own (PANCREAS, 40-50 HU, 90-120 with contrast).
* Adrenal glands: inverted-Y limbs 4-5 mm thick, 20-30 mm long, in fat above and medial to the
  upper kidney poles (the right behind the vena cava beside the crus, the left lateral to the
  aorta reaching down in front of the pole); a class of their own (ADRENAL).
* Heart: 12 x 8.5 x 6 cm, its diaphragmatic surface flat on the central tendon (level with the
  left dome), the ventricles in front and to the left, narrowing upwards to the atria; a wall
  of myocardium (left ventricle 10 mm, right ventricle 4 mm, atria 3 mm) around blood.
* Portal vein: formed behind the pancreas's neck, rising to the porta hepatis in front of the
  vena cava and branching into the right and left lobes (:data:`PORTAL_NODES`), with a thin
  sheath of periportal fat around its larger branches; the gallbladder (bile, water density)
  hangs from the porta down and forwards under the right lobe in a fossa (the liver wraps its
  neck and body), its fundus at the liver's edge.
* Lungs below the domes: each hemidiaphragm is a smooth dome in coronal and sagittal section
  (the right one higher), highest near the mid-clavicular line, curving down laterally into the
  costophrenic angle and medially to the central tendon under the heart; posteriorly the
  recesses go deepest (down to T12-L1, beside the spine in the paravertebral gutters);
  anteriorly the diaphragm attaches at the costal margin, 6-8 cm higher, so at T11-T12 only
  thin posterior crescents of lung remain. Below the dome's shoulder the recess is a slit
  between the diaphragm (zone of apposition) and the ribs: thin laterally, thickest in the
  paravertebral gutters, so the liver and spleen reach the lateral ribs; the liver's bare area
  fills the right gutter above T12. At T11 the recess is an even band 10-16 mm thick along the
  posterior wall with slits running up the lateral wall, as on CT. The lung's section is an
  ellipse whose posteromedial corner is squared off (:data:`LUNG_GUTTER_POWER`), so at T10-T12
  the lungs wrap back beside the vertebral bodies into the paravertebral gutters (nearest lung
  to the midline behind the body centre about 29 mm at T11, real example CT 24-30 mm); the
  floor is mapped onto that corner near the outline only, so the domes stay rounded. The
  organs under the domes (liver, stomach, spleen) reach above the central tendon only under the
  lungs, which are painted over them, so their tops follow the domes.
* Stomach: see above; its fundus lies posteriorly against the left crus and the spleen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from spinelab.synth.texture import (
    TEX_CELL_MM,
    half_width_for_share,
    periodic_field,
    tex_index,
    tex_slice,
)
from spinelab.synth.tissues import FAT_LIKE, FATS, Tissue

if TYPE_CHECKING:
    from spinelab.synth.body import Level
    from spinelab.synth.painter import Painter

_T = Tissue

#: Liver: craniocaudal span from the right dome to the inferior tip of the right lobe (mm),
#: and how far the left lobe reaches left of the midline (fraction of the cavity half-width).
LIVER_SPAN_MM = (150.0, 185.0)
LIVER_LEFT_LOBE = (0.55, 0.85)
#: The left lobe's medial edge runs from its tip (front) to the caudate lobe (behind) as this
#: power ``p`` of the depth, so the lobe is a wedge thinning to its tip over the stomach: 30 mm
#: from the tip it is ``3 ** (1 / p)`` times as thick as 10 mm from it (the real example CT at
#: T11: 57 vs 27 mm, 2.1 times; 96 mm thick at the midline, 66 mm at 30 mm and 18 mm at 60 mm
#: left of it). 2.5 (the old shape) kept a slab of nearly even thickness out to its tip.
LIVER_WEDGE_POWER = 1.6
#: Hepatic vein radius at the IVC and at its far end (mm); length along z (mm).
HEPATIC_VEIN_R_MM = (5.5, 2.5)
HEPATIC_VEIN_LEN_MM = 80.0
#: Portal vein tree: nodes (x from the spine's midline, y from the front of the vertebral body,
#: z from the porta hepatis, mm) and segments (start node, end node, radius at the start and at
#: the end, mm). Node 0 is the splenoportal confluence behind the pancreas's neck (placed from
#: the pancreas), node 1 the porta hepatis in front of the vena cava at the liver's medial edge.
#: The main portal vein (12-13 mm across) runs up and right to the porta and divides into the
#: right portal vein (short, dividing into anterior and posterior sectoral branches, each with
#: an ascending and a descending segmental branch) and the left portal vein (a transverse part
#: running left, then the umbilical part turning forwards, giving the segment II, III and IV
#: branches); branches taper to 2-3 mm (Couinaud; Gray's Anatomy 41st ed.; CT: main portal vein
#: under 13 mm, right and left 8-10 mm). Inside the liver the tree is painted over liver only.
PORTAL_NODES = (
    (0.0, 0.0, 0.0),  # confluence (replaced per case)
    (-38.0, -46.0, 0.0),  # porta hepatis
    (-62.0, -40.0, 6.0),  # right portal vein's division
    (-84.0, -62.0, 12.0),  # right anterior
    (-92.0, -72.0, 50.0),  # segment VIII
    (-98.0, -82.0, -30.0),  # segment V
    (-96.0, -22.0, 4.0),  # right posterior
    (-106.0, -4.0, 45.0),  # segment VII
    (-114.0, -12.0, -40.0),  # segment VI
    (-6.0, -56.0, 6.0),  # left portal vein: end of the transverse part
    (12.0, -80.0, 4.0),  # umbilical part
    (46.0, -56.0, 22.0),  # segment II
    (50.0, -92.0, 0.0),  # segment III
    (-16.0, -98.0, 8.0),  # segment IV
)
PORTAL_SEGMENTS = (
    (0, 1, 6.5, 6.0),
    (1, 2, 5.0, 4.5),
    (2, 3, 3.6, 3.2),
    (3, 4, 3.0, 1.2),
    (3, 5, 3.0, 1.2),
    (2, 6, 3.6, 3.2),
    (6, 7, 3.0, 1.2),
    (6, 8, 3.0, 1.2),
    (1, 9, 4.5, 4.0),
    (9, 10, 4.0, 3.5),
    (9, 11, 2.8, 1.2),
    (10, 12, 2.8, 1.2),
    (10, 13, 2.5, 1.2),
)
#: The portal veins' and the gallbladder's tissue classes (tests swap in unused classes to find
#: them): vessel (blood) and bile (water).
PORTAL_TISSUE: Tissue = Tissue.BLOOD
GALLBLADDER_TISSUE: Tissue = Tissue.WATER
#: Periportal fat: thickness (mm) of the fat sheath around the branches of 7 mm and more across
#: (the portal triads run in Glisson's sheath; at the porta hepatis and along the first-order
#: branches it holds visible fat on CT).
PERIPORTAL_FAT_MM = 1.5
#: The porta hepatis lies this far (mm) above the splenoportal confluence (the main portal vein
#: is 6-8 cm long, running up and right at about 40 deg to the axial plane).
PORTAL_RISE_MM = (30.0, 45.0)
#: Gallbladder: present in this share of adults (cholecystectomy in 10-15 %), a pear from its
#: neck near the porta hepatis (``GALLBLADDER_NECK``, relative to the porta as the portal nodes)
#: down, forwards and right to the fundus (``GALLBLADDER_FUNDUS``); radius at the neck and the
#: range of the fundus's radius (mm): 7-10 cm long, 3-4 cm across when distended (Gray's
#: Anatomy 41st ed.). Bile is water density (0-25 HU), painted as water.
P_GALLBLADDER = 0.85
GALLBLADDER_NECK = (-50.0, -62.0, -10.0)
GALLBLADDER_FUNDUS = (-62.0, -100.0, -65.0)
GALLBLADDER_R_MM = (5.0, (10.0, 17.0))
#: Gallstones: 8.6 % of white men and 16.6 % of women in the US have them (as cited by the
#: review "Gallstones top to toe", Insights Imaging, doi 10.1186/s13244-019-0825-4); a case has them with
#: P_GALLSTONES (the two's mean; painted only where the case has a gallbladder). On CT 79 % of
#: them show (87 of 110 patients; Barakos et al., Radiology 1987), of which 48.3 % densely and
#: 11.5 % slightly calcified, 21.8 % with a dense rim, 14.9 % of soft-tissue density and 3.4 %
#: of low (fat) density: GALLSTONE_KINDS, in that order (a slightly calcified stone is drawn as
#: a dense one: no class lies between). With GALLSTONE_SINGLE a single stone of
#: GALLSTONE_LARGE_MM across, else ``2 + Poisson(GALLSTONES_EXTRA)`` of GALLSTONE_SMALL_MM
#: (design values); they lie against the gallbladder's dependent (back) wall in a supine
#: patient, along GALLSTONE_T of its length from the neck, each at most GALLSTONE_FILL of the
#: lumen's radius there.
P_GALLSTONES = 0.126
P_GALLSTONES_SHOWN = 0.79
GALLSTONE_KINDS = ("dense", "rim", "soft", "fat")
GALLSTONE_KIND_P = (0.483 + 0.115, 0.218, 0.149, 0.034)
GALLSTONE_SINGLE = 0.5
GALLSTONE_LARGE_MM = (10.0, 25.0)
GALLSTONE_SMALL_MM = (3.0, 10.0)
GALLSTONES_EXTRA = 4.0
GALLSTONE_T = (0.45, 0.95)
GALLSTONE_FILL = 0.8
#: A rim stone's dense shell (mm).
GALLSTONE_RIM_MM = 1.0


@dataclass(frozen=True)
class Gallstone:
    """A gallstone ``t`` of the gallbladder's length from its neck, against its back wall,
    ``diameter_mm`` across (at most :data:`GALLSTONE_FILL` of the lumen there), of ``kind``
    (:data:`GALLSTONE_KINDS`)."""

    t: float
    diameter_mm: float
    kind: str


def draw_gallstones(rng: np.random.Generator, p: float = P_GALLSTONES) -> tuple[Gallstone, ...]:
    """A case's gallstones as CT shows them (:data:`P_GALLSTONES`): none with probability
    ``1 - p``, nor when they are of bile's density (``1 -`` :data:`P_GALLSTONES_SHOWN`); all
    of one kind."""
    if rng.random() >= p or rng.random() >= P_GALLSTONES_SHOWN:
        return ()
    shares = np.asarray(GALLSTONE_KIND_P) / sum(GALLSTONE_KIND_P)  # the published ones: 99.9 %
    kind = GALLSTONE_KINDS[int(rng.choice(len(GALLSTONE_KINDS), p=shares))]
    if rng.random() < GALLSTONE_SINGLE:
        sizes = [float(rng.uniform(*GALLSTONE_LARGE_MM))]
    else:
        n = 2 + int(rng.poisson(GALLSTONES_EXTRA))
        sizes = [float(v) for v in rng.uniform(*GALLSTONE_SMALL_MM, n)]
    return tuple(Gallstone(float(rng.uniform(*GALLSTONE_T)), d, kind) for d in sizes)


#: The gallbladder fossa: liver this thick (mm) wraps the gallbladder from its neck over this
#: share of its length, so it lies in a fossa on the liver's underside (on CT the liver
#: surrounds the neck and body; only the fundus projects beyond its inferior edge).
GALLBLADDER_FOSSA = (6.0, 0.75)
#: Spleen: craniocaudal length, greatest thickness and half of its antero-posterior extent in an
#: axial slice (mm); its long axis follows the 10th rib obliquely, so axial sections are long.
SPLEEN_MM = (110.0, 45.0, 50.0)
#: The spleen's hilum: depth (share of the thickness), place along the arc (-1 front .. 1 back
#: of its axial section) and half-width of the notch in its visceral face, where the splenic
#: vessels enter (between the gastric and the renal impressions).
SPLEEN_HILUM = (0.3, -0.1, 0.3)
#: The spleen's posterior tip stops this far lateral to the vertebral body's side (mm), beside
#: the kidney's upper pole and the paraspinal muscles (1 mm further for each mm behind the
#: vertebral body's centre: a slanting end, not a vertical cut), and its span along a row is
#: at most ``SPLEEN_SPAN`` times its greatest thickness (so where the cavity's back is the
#: kidney's front, below the ribs, it does not run along it).
SPLEEN_MEDIAL_MM = 35.0
SPLEEN_SPAN = 1.6
#: Stomach: radius at the fundus, body and antrum (mm) and wall thickness (mm).
STOMACH_R_MM = (55.0, 50.0, 24.0)
STOMACH_WALL_MM = 4.0
#: Stomach centre's y along its course (fundus 0 .. antrum 1), as a fraction of the cavity's
#: half-depth from its centre: the fundus lies posteriorly against the left crus and the
#: spleen, the body runs forwards, the antrum crosses in front.
STOMACH_CY = ([0.0, 0.5, 1.0], [0.2, -0.25, -0.6])
#: Stomach content: with a probability STOMACH_P_FOOD the lumen holds food (else fluid only,
#: water density), lying dependent (supine: at the back) below a level STOMACH_FOOD_MM (a
#: per-case range) in front of the lumen's back at the stomach's body, fluid between it and
#: the gas. The food is a mottle of soft matter, watery patches and trapped gas bubbles
#: (shares of the lumen, the thresholds of a two-channel random field of STOMACH_MOTTLE_MM,
#: :func:`spinelab.synth.texture.periodic_field`) with a surface that rises and falls by STOMACH_FOOD_SURFACE_MM. The
#: real example CT (3 mm, unenhanced, T11-T12) shows a gas-filled fundus over mottled food
#: with gas dots beside a uniform fluid-filled body; the real DICOM slab (0.98 mm, enhanced):
#: inside its stomach HU 29 / 69 / 104 at the 10th / 50th / 90th percentile, SD 32 HU and 22
#: HU between means over 5 x 5 pixels (the liver beside it: 84 / 100 / 117, SD 13 and 6; its
#: 10th percentile shows no fat in it: none is painted, and so the fat the vessels are painted
#: into, :meth:`OrganPlan.paint_vessels`, is never the stomach's content). The probability,
#: the depths, the scale and the shares are design values (nothing here measures how often
#: patients come to CT fed, or what their food is made of).
STOMACH_P_FOOD = 0.6
STOMACH_FOOD_MM = (15.0, 70.0)
STOMACH_MOTTLE_MM = 2.5
STOMACH_FOOD_SURFACE_MM = 5.0
#: Food's make-up: shares of watery patches (channel 0 low) and gas bubbles (channel 1 low).
STOMACH_FOOD_WATER = 0.3
STOMACH_FOOD_GAS = 0.03
#: Heart: height from the diaphragmatic surface to the base (mm) and the largest axial half-width
#: and half-depth (mm); 12 x 8.5 x 6 cm in anatomy texts, here as seen on axial slices (the
#: long axis runs forwards, left and down, so sections are wider than the heart is thick).
HEART_MM = (115.0, 62.0, 52.0)
#: Heart wall thickness (mm): left ventricle (9-11 mm at end-diastole), right ventricle (3-5
#: mm) and atria (2-3 mm); Gray's Anatomy 41st ed.
HEART_WALL_MM = (10.0, 4.0, 3.0)
#: Epicardial fat (mm, a per-case range of its typical thickness; in front of the right
#: ventricle 1.2 times, at its acute margin 1.6 times, over the left ventricle half, behind 0.8
#: times): 2-7 mm on CT in most adults, more with obesity and age, thickest over the right
#: ventricle's free wall and in the atrioventricular and interventricular grooves, where the
#: coronary vessels run (Iacobellis, Nat Rev Endocrinol 2015). It lies under the fibrous
#: pericardium (``PERICARDIUM_MM``, 1-2 mm, soft tissue) and doubles in the atrioventricular
#: groove (``EPICARDIAL_GROOVE``: extra share at the groove's height).
EPICARDIAL_FAT_MM = (2.0, 6.0)
EPICARDIAL_GROOVE = 1.0
PERICARDIUM_MM = 1.5
#: Kidney half-length, half-width and half-thickness (mm).
KIDNEY_MM = (57.0, 28.0, 19.0)
#: Perirenal fat: base thickness plus this share of the subcutaneous fat (mm), thickest behind
#: and lateral to the kidney (the fat of Gerota's fascia; 5-20 mm posteriorly in adults).
PERIRENAL_FAT_MM = 3.0
PERIRENAL_FAT_SHARE = 0.35
#: Kidney tilt: upper pole medial and posterior (tan of about 12 deg), axial rotation (deg).
KIDNEY_TILT = 0.21
KIDNEY_ROTATION_DEG = 30.0
#: Kidney stones (calculi in the calyces and the renal pelvis): on low-dose unenhanced CT of
#: 5,047 asymptomatic adults (CT colonography screening, mean age 57) 7.8 % had urinary
#: stones, 2.1 per case on average (1 to 29), 3.0 mm across on average (1 to 20 mm; Boyce et
#: al., J Urol 2010). A case has stones with P_KIDNEY_STONES, ``1 + Poisson(KIDNEY_STONES_EXTRA)``
#: of them, each in either kidney, diameters log-normal (median KIDNEY_STONE_MM[0], log sd
#: KIDNEY_STONE_MM[1], clipped to KIDNEY_STONE_MM[2:]); placed between the renal sinus and the
#: pyramids' papillae (the calyces), more in the lower half (the lower pole's calyces). The
#: real example CT has several in both kidneys (3 mm voxels up to 1,288 HU).
P_KIDNEY_STONES = 0.078
KIDNEY_STONES_EXTRA = 1.1
KIDNEY_STONE_MM = (2.6, 0.5, 1.0, 20.0)


@dataclass(frozen=True)
class KidneyStone:
    """A stone in kidney ``kidney`` (0 left, 1 right) at ``(u, v, w)``: shares of the kidney's
    half-width (from its centre away from the hilum) and half-thickness at the stone's height,
    and of its half-length (up), and its diameter (mm)."""

    kidney: int
    u: float
    v: float
    w: float
    diameter_mm: float


def draw_kidney_stones(
    rng: np.random.Generator, p: float = P_KIDNEY_STONES
) -> tuple[KidneyStone, ...]:
    """A case's kidney stones (:data:`P_KIDNEY_STONES`): none with probability ``1 - p``."""
    if rng.random() >= p:
        return ()
    n = 1 + int(rng.poisson(KIDNEY_STONES_EXTRA))
    med, sd, lo, hi = KIDNEY_STONE_MM
    out = []
    for _ in range(n):
        w = -0.8 + 1.4 * float(rng.random()) ** 1.5  # skewed to the lower pole
        out.append(
            KidneyStone(
                int(rng.integers(2)),
                float(rng.uniform(-0.6, -0.15)),
                float(rng.uniform(-0.3, 0.3)),
                w,
                float(np.clip(med * np.exp(sd * rng.standard_normal()), lo, hi)),
            )
        )
    return tuple(out)


#: Renal medulla: pyramids (10-14 per kidney, 7-9 seen on an axial section through the hilum)
#: with their bases under a cortex of 6-10 mm (including the columns of Bertin between them) and
#: their apices (papillae) at the renal sinus. In the kidney's normalized radius (0 centre .. 1
#: surface) a pyramid reaches from ``RENAL_PYRAMID_E[0]`` (papilla) to ``RENAL_PYRAMID_E[1]``
#: (base), a cone whose half-angle narrows from ``RENAL_PYRAMID_DEG[1]`` at the base to
#: ``RENAL_PYRAMID_DEG[0]`` at the papilla; ``RENAL_PYRAMID_N`` cone axes per kidney, spread
#: over the directions away from the hilum.
RENAL_PYRAMID_E = (0.35, 0.78)
RENAL_PYRAMID_DEG = (10.0, 32.0)
RENAL_PYRAMID_N = 12
#: Renal pelvis: half-length along the hilum's axis, half-thickness and craniocaudal
#: half-height (mm); it lies just below the kidney's middle and reaches from the sinus out of
#: the hilum (an unobstructed adult pelvis is about 10-20 mm across at the hilum; Gray's
#: Anatomy 41st ed.; sonographic AP diameter under 10-15 mm).
RENAL_PELVIS_MM = (14.0, 5.0, 12.0)
#: Pancreas centreline from the head (in the duodenal C-loop, right of the superior mesenteric
#: vein, L1-L2) through the neck and the body (in front of the aorta and the superior mesenteric
#: artery at L1) to the tail (rising towards the splenic hilum in front of the left kidney):
#: rows of (x from the spine's midline, y from the front of the vertebral body, z as a fraction
#: of the way from L2's centre (0) to L1's (1), half-thickness) in mm. Adult pancreas: head
#: 25-30 mm, body 15-25 mm, tail 15-25 mm thick, 12-15 cm long (Gray's Anatomy 41st ed.; CT
#: reference sizes), lobulated, with fat between its lobules (:data:`PANCREAS_FAT_SHARE`).
PANCREAS_PATH = (
    (-36.0, -34.0, 0.15, 13.0),
    (-34.0, -37.0, 0.55, 14.0),
    (-10.0, -46.0, 0.85, 10.0),
    (18.0, -44.0, 1.0, 10.5),
    (55.0, -30.0, 1.3, 10.0),
    (96.0, -12.0, 1.7, 9.0),
)
#: The pancreas's tissue class (tests swap in an unused class to find it) and its rim of
#: peripancreatic fat (mm) over the bowel.
PANCREAS_TISSUE: Tissue = Tissue.PANCREAS
PANCREAS_FAT_MM = 3.0
#: Discs per pancreas (spheres along the centreline) and their radius jitter (lobulation).
PANCREAS_N = 16
PANCREAS_JITTER = (0.8, 1.1)
#: Fatty interdigitation: range of the share of the gland's section that is fat between its
#: lobules (septa; it grows with age and body fat, from a few percent in the young to a third
#: or more in the elderly; Matsuda, Pancreatology 2019), the lobules' scale (Gaussian sigma of
#: the random field, mm; lobules 3-8 mm) and the outline's lobulation (share of the radius).
PANCREAS_FAT_SHARE = (0.05, 0.25)
PANCREAS_LOBULE_MM = 3.0
PANCREAS_OUTLINE = 0.3
#: Adrenal glands: an inverted Y in fat above and medial to each kidney's upper pole. Body and
#: limb ends in the axial plane (x lateral from the vertebral body's side, y from the
#: vertebral centre, mm): the right gland lies behind the inferior vena cava between the
#: liver's bare area and the right crus, the left one lateral to the aorta and the left crus,
#: in front of the kidney's upper pole. Limbs 20-30 mm long and 3-6 mm thick, the gland 40-50 mm
#: tall (Gray's Anatomy 41st ed.; CT: limb thickness under 10 mm, typically 5 mm).
ADRENAL_BODY = {1.0: (14.0, -10.0), -1.0: (8.0, -15.0)}
ADRENAL_LIMBS = {1.0: ((6.0, 12.0), (28.0, 6.0)), -1.0: ((4.0, 10.0), (13.0, 8.0))}
#: Height range of each gland relative to its kidney's upper pole (mm): the right one above
#: the pole, the left one reaching down in front of the pole towards the hilum.
ADRENAL_Z = {1.0: (-25.0, 20.0), -1.0: (-5.0, 35.0)}
#: Half-thickness of a limb (mm).
ADRENAL_HALF_MM = 2.2
#: The adrenals' tissue class (tests swap in an unused class to find them).
ADRENAL_TISSUE: Tissue = Tissue.ADRENAL
#: Inferior vena cava and aorta centres (x from the spine's midline, y from the front of the
#: vertebral body, mm), the aorta's radius and the cava's half-axes (x, y): the one definition,
#: used by ``render._paint_soft_tissue`` to paint them and by the organs and bowel beside them.
IVC_XY = (-24.0, -14.0)
IVC_HALF_MM = (11.0, 9.0)
AORTA_XY = (14.0, -12.0)
AORTA_R_MM = 11.5
#: Renal vessels: height of the vein above the kidney's centre and its radius, the same for
#: the artery (mm): renal veins 8-12 mm across (the left one longer, crossing in front of the
#: aorta below the superior mesenteric artery), renal arteries 5-6 mm, arising at L1-L2 (Gray's
#: Anatomy 41st ed.).
RENAL_VESSELS_MM = (2.0, 4.5, 10.0, 2.8)
#: The renal vein leaves the hilum this far in front of the pelvis (mm).
RENAL_VEIN_FORWARD_MM = 9.0
#: The liver's right lobe (segments VI-VII, the hepatorenal recess) and the spleen's lower pole
#: reach down lateral to, and a little in front of, the upper part of their kidney, in the fat
#: between the kidney and the body wall (short of the wall by ``RENAL_WRAP_FAT_MM``): per case,
#: the organ reaches this far (mm) below the kidney's upper pole (a range), from
#: ``RENAL_WRAP_ABOVE_MM`` above it, thinning from the kidney's side towards the wall to a tip
#: (:meth:`OrganPlan._renal_wrap`). The real example CT (3 mm), in coronal planes through the
#: middle half of each kidney, the organ's lowest point lateral to the kidney below the kidney's
#: top in that plane: liver 36-48 mm (median 44), spleen 21-42 mm. Six generated thoraco-lumbar
#: cases (3 mm), medians over the planes, before / after: liver -3..9 / 18-50 mm (median 44.5; 18
#: where the kidney lies against the wall), spleen 15-24 / 18-33 mm (the posterior costophrenic
#: recess covers the space lateral to the left kidney's upper part). The liver's lower part
#: used to lie in front of the kidney only.
LIVER_RENAL_MM = (50.0, 66.0)
SPLEEN_RENAL_MM = (35.0, 55.0)
RENAL_WRAP_ABOVE_MM = 25.0
#: Fat (mm) left between the organ lateral to the kidney and the body wall's muscle (the
#: posterior pararenal fat running on in front of the wall: the flank stripe).
RENAL_WRAP_FAT_MM = 3.0
#: The organ's tip below the kidney's pole: the share of the run from the kidney to the wall
#: left out is the depth below the pole (0 at the pole, 1 at the tip) to this power.
RENAL_WRAP_TAPER_POWER = 1.5
#: Outline lobulation: amplitude (mm) and wavelength range (mm) of the edge sinusoids.
WOBBLE_MM = 3.0
WOBBLE_WAVELENGTH_MM = (35.0, 90.0)
#: Lungs: height of the diaphragm's anterior attachment above the posterior recess, as a
#: fraction of the dome's height over the recess.
LUNG_ANTERIOR_RISE = 0.9
#: Lungs: the lung's lower border at the chest wall (the bottom of the costophrenic recess)
#: rises from the posterior recess (behind ``vy = LUNG_RIM_VY[0]``, ``vy`` = -1 front .. +1
#: back of the lung's section) to the anterior attachment over ``LUNG_RIM_VY[1]`` of ``vy``:
#: the lung's lower border crosses the 10th rib posteriorly, the 8th in the mid-axillary
#: line and the 6th in the mid-clavicular line (Gray's Anatomy 41st ed.; Moore 8th ed.), so in
#: the mid-axillary line it lies about half the dome's height above the posterior recess
#: (two rib spaces, 35-45 mm) and at T11-T12 the lung is mostly a posterior crescent.
LUNG_RIM_VY = (-0.2, 1.0)
#: Lungs: width scale of the costophrenic recess's slit between the diaphragm and the chest
#: wall, posteriorly (paravertebral gutter) and laterally (mm): at a fraction h of the
#: height from the lung's lower border to the dome's top the slit reaches ``h ** (1/q)``
#: (:data:`LUNG_SLIT_POWER`) times this far from the wall (measured from the lung's section
#: ellipse, which lies inside the cavity's wall posteriorly), so at T11 the recess is an even
#: band along the posterior wall with thin slits running up the lateral wall (the real example
#: CT at the T11 / T12 label centres: a 10-15 mm posterior band, lateral slits of a few mm
#: reaching far forwards). Above the band the dome (:data:`LUNG_DOME_SHAPE`) takes over.
#: Lung below -400 HU on the slice through T11's centre, share of the body section by sector
#: round the section's centre (front / front of the side / behind the side / behind): the real
#: example CT 11.3 % (0 / 2.2 / 5.0 / 4.1); three generated thoracic 3 mm cases (seeds 1, 2, 4)
#: with 32 and 15 mm, a fourth root everywhere and the lungs' section on the cavity's span
#: (:attr:`Cavity.lung_back` 0) 7.8-9.1 % (0-0.2 / 1.9-2.4 / 3.0-4.0 / 2.5-2.7), now 10.1-11.1 %
#: (0-0.2 / 1.6-2.1 / 4.7-5.2 / 3.9-4.0); at T12's centre 5.4-6.8 %, now 5.8-7.7 % (real 7.7;
#: measured with the lungs' density gradient, ``tissues.LUNG_GRADIENT_HU_PER_MM``).
#: The test spine at 2 mm (tissue map): 6.1 / 3.1 % at T11 / T12 before, now 8.1 / 3.5 %.
LUNG_SLIT_MM = (44.0, 22.0)
#: The slit widens from its lateral to its posterior width between ``vy = LUNG_SLIT_VY[0]`` and
#: ``LUNG_SLIT_VY[0] + LUNG_SLIT_VY[1]`` (``vy`` as above).
LUNG_SLIT_VY = (0.45, 0.45)
#: The slit's width grows as the ``1 / q`` power of the height above the lung's lower border,
#: ``q`` blended as the width is from its posterior value (``LUNG_SLIT_POWER[0]``) to its
#: lateral one: behind, a cube root keeps the recess an even band that thins only near its
#: lower border (the real CT's lung at T12, 11-14 mm above the recess's bottom, is 7.7 % of the
#: section); at the side the slit is a wedge, the sharp costophrenic angle. With a fourth root
#: at the side too the slit had a flat floor under a cliff where it met the dome: in the
#: coronal section through the vertebral bodies of the test spine 36 mm of fall within 4 mm of
#: the side (tests/test_synth_lung_base.py: convex there once the lungs reached back into the
#: paravertebral gutters). Tried: a square root everywhere (with 32 and 15 mm 2.3 % lung at
#: T12 on the test spine, bound 3 %; with 40 and 18 mm a U-shaped trough, convex beside the
#: side wall), linear everywhere (1 % lung at T12 on the test spine), 3 / 1 with 30 mm at the
#: side (the convex step again), 24 mm (the lateral slit 14 mm thick in front of T11 on the
#: test spine, tests/test_synth_viscera.py).
LUNG_SLIT_POWER = (3.0, 1.0)
#: The dome's top lies this fraction of the lung's half-depth in front of the lung's centre.
LUNG_DOME_FORWARD = 0.22
#: The dome's profile: at ``rho`` of the way from its top to the lung's wall the diaphragm lies
#: ``k rho^2 + (1 - k) rho^n`` of its height over the lung's lower border below the top
#: (``k``, ``n``): a rounded top (the quadratic term; on the test spine a curvature radius of
#: about 25 mm across the 10 cm wide lung base and 110 mm from front to back; a normal dome
#: rises 2-3 cm over the line joining the costophrenic and cardiophrenic angles of a chest
#: radiograph) steepening into the costophrenic recess (the high power). A steeper top (larger
#: ``k``) widens the posterior band at T11 beyond the real CT's 10-15 mm. ``n`` is a power of 2
#: (computed by squaring).
LUNG_DOME_SHAPE = (0.55, 8)
#: Medially the lung's lower border lies at the central tendon (under the heart) in front of
#: ``vy = LUNG_TENDON_VY[0]`` and descends to the posterior recess (the paravertebral
#: gutter) by ``LUNG_TENDON_VY[1]``: beside the front half of the vertebral body the crura
#: and the posterior mediastinum hold the lung up, so at T11 its medial tip lies beside the
#: body's back half (the real example CT: 10-20 mm behind the body's front). (-0.2, 0.8) let
#: a strip of lung run forward along the body's side past its front (on generated 3 mm cases
#: within 45 mm of the midline 520 mm2 in front of the body's centre, reaching 14 mm in front
#: of the body's front; now 210 mm2, 2 mm behind it).
LUNG_TENDON_VY = (0.15, 0.75)
#: The lung's section lies this far inside the cavity's wall (mm; as painted by the renderer).
LUNG_WALL_MM = 3.0
#: Height scale (mm) of the smooth minimum that rounds the shoulder where the recess meets the
#: dome.
LUNG_BLEND_MM = 12.0
#: The lung's section (the renderer's, inside the cavity): an ellipse whose posteromedial
#: quarter is a superellipse of this power (a rounded corner), so the lung reaches back beside
#: the vertebral body into the paravertebral gutter, to the rib heads, instead of curving away
#: from the spine behind the section's centre. On CT the lung at T10-T12 wraps round the back
#: of the mediastinum and the vertebral body's sides: at T11 (the real example CT) the lung
#: comes within 24-30 mm of the midline behind the vertebral body's centre and holds about
#: 2500 mm2 within 70 mm of the midline behind the body's front; the plain ellipse (medial edge
#: 6 mm from the body at the section's centre, 40 mm from the midline beside the body's
#: centre) gave 38-42 mm and 1200 mm2. Power 2: the plain ellipse.
LUNG_GUTTER_POWER = 6.0
#: (An even integer. Under the dome the corner is mapped onto the ellipse by the factor
#: ``1 - (1 - g) r^(p/2)`` (``g``: :func:`lung_gutter_factor`, ``r``: the section's radius, 1
#: on its outline), so the dome's rounded top keeps its shape and only its steep rim follows
#: the corner: a full radial map flattened the top beside the spine, 30-36 mm of constant
#: height across a coronal section through the vertebral bodies. That map stays monotonic
#: while ``(p / 2 + 1) (1 - g) < 1``: up to power 6, where ``g`` >= 0.79.)


#: What the pancreas may cover: fat and bowel (wall, content, gas).
_PANCREAS_OVER = np.zeros(256, dtype=bool)
_PANCREAS_OVER[[*FAT_LIKE, _T.SOFT, _T.WATER, _T.GUT_FLUID, _T.GUT_WALL, _T.GAS]] = True
#: What the adrenals may cover: fat only.
_ADRENAL_OVER = np.zeros(256, dtype=bool)
_ADRENAL_OVER[_T.FAT] = True


def _gutter_sums(du: Any, dv: Any, medial: float) -> tuple[Any, Any, Any]:
    """``(a^2 + b^2, a^p + b^p, in the quarter)`` with ``a``, ``b`` the medial and posterior
    offsets (0 outside the posteromedial quarter), ``p`` :data:`LUNG_GUTTER_POWER`."""
    a = np.maximum(du * medial, 0.0)
    b = np.maximum(dv, 0.0)
    a2 = a * a
    b2 = b * b
    ap, bp = a2, b2
    for _ in range(round(LUNG_GUTTER_POWER / 2.0) - 1):  # even integer power by products
        ap = ap * a2
        bp = bp * b2
    return a2 + b2, ap + bp, (a2 > 0.0) & (b2 > 0.0)


def lung_gutter_factor(du: Any, dv: Any, medial: float) -> Any:
    """Radial factor (<= 1) that maps the lung's section onto its ellipse.

    ``du``, ``dv``: offsets from the section's centre over its half-width and half-depth (``dv``
    > 0 behind), broadcast together; ``medial``: the sign of ``du`` towards the midline. In the
    posteromedial quarter the section is the superellipse ``|du|^p + |dv|^p <= 1``
    (:data:`LUNG_GUTTER_POWER`), elsewhere the ellipse ``du^2 + dv^2 <= 1``: a point at
    superellipse radius ``r_s`` and elliptical radius ``r_e`` gets ``r_s / r_e``, so scaling its
    offsets by the factor puts the section's outline on the ellipse (1 outside that quarter).
    """
    re2, sp, ok = _gutter_sums(du, dv, medial)
    q = sp / np.where(ok, re2, 1.0) ** round(LUNG_GUTTER_POWER / 2.0)  # (r_s / r_e)^p
    return np.where(ok, q ** (1.0 / LUNG_GUTTER_POWER), 1.0)


def lung_section_radius(du: Any, dv: Any, medial: float) -> Any:
    """The lung section's radius at offsets ``du``, ``dv`` (as :func:`lung_gutter_factor`):
    1 on its outline, below 1 inside."""
    return np.sqrt(du * du + dv * dv) * lung_gutter_factor(du, dv, medial)


def smooth01(t: Any) -> Any:
    """Smoothstep: 0 below 0, 1 above 1, ``3t^2 - 2t^3`` between."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class _Wobble:
    """A smooth random 1-D displacement (mm) of an edge, drifting slowly with z."""

    def __init__(self, rng: np.random.Generator, amp_mm: float, n: int = 3) -> None:
        lo, hi = WOBBLE_WAVELENGTH_MM
        self.k = 2 * np.pi / rng.uniform(lo, hi, n)
        self.kz = 2 * np.pi / rng.uniform(80.0, 200.0, n) * rng.choice([-1.0, 1.0], n)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = amp_mm * rng.uniform(0.4, 1.0, n) / math.sqrt(n)

    def __call__(self, s: NDArray[np.float64], z: float) -> NDArray[np.float64]:
        arg = np.multiply.outer(s, self.k) + (self.kz * z + self.phase)
        return np.asarray((np.sin(arg) * self.amp).sum(axis=-1))

    def at(self, s: float, z: float) -> float:
        return sum(
            a * math.sin(k * s + kz * z + ph)
            for k, kz, ph, a in zip(self.k, self.kz, self.phase, self.amp, strict=True)
        )


@dataclass
class Cavity:
    """The body cavity on one axial slice: a superellipse (LPS mm), with the spine level."""

    xs: float
    cy: float
    hw: float
    hd: float
    power: float
    lv: Level
    #: Exponent of the half behind the centre (``y > cy``); None: ``power`` all round.
    power_back: float | None = None
    #: How much further back than the cavity the lungs' sections reach (mm): below T10 the
    #: ribs' ring lies further back beside the spine (``render.RIB_RING_BACK_MM``) and the
    #: lungs fill the paravertebral gutters to it; the organs below the diaphragm keep the
    #: cavity's span (the stomach, the liver and the spleen are laid out on it).
    lung_back: float = 0.0

    @property
    def lung_frame(self) -> tuple[float, float]:
        """Centre y and half-depth (mm) of the span the lungs' sections fill: the cavity's,
        reaching :attr:`lung_back` further back."""
        return self.cy + 0.5 * self.lung_back, self.hd + 0.5 * self.lung_back

    def powers(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """The superellipse's exponent on rows ``y`` (mm)."""
        back = self.power if self.power_back is None else self.power_back
        return np.where(np.asarray(y) > self.cy, back, self.power)

    def half_width(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        v = np.clip(np.abs((y - self.cy) / self.hd), 0.0, 1.0)
        p = self.powers(y)
        return np.asarray(self.hw * (1.0 - v**p) ** (1.0 / p))


def _paint_span(
    pt: Painter,
    k: int,
    y: NDArray[np.float64],
    j0: int,
    x_lo: NDArray[np.float64],
    x_hi: NDArray[np.float64],
    value: int,
    y_max: float | None = None,
    keep: int | None = None,
) -> None:
    """Paint rows ``j0 .. j0 + len(y)`` (up to ``y_max``) of slice ``k`` between ``x_lo`` and
    ``x_hi`` (mm), over everything but ``keep`` (the organs leave muscle: psoas, crura,
    paraspinal muscles)."""
    win = _span_window(pt, k, j0, x_lo, x_hi, None if y_max is None else y <= y_max)
    if win is None:
        return
    sub, m, _, _ = win
    if keep is not None:
        m &= sub != keep
    sub[m] = value


def _span_window(
    pt: Painter,
    k: int,
    j0: int,
    x_lo: NDArray[np.float64],
    x_hi: NDArray[np.float64],
    rows_ok: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.float64], slice] | None:
    """The window of slice ``k`` that rows ``j0 ..`` (those ``rows_ok``, if given) span
    between ``x_lo`` and ``x_hi`` (mm): the tissue map's view, the mask of the spans in it, its
    columns' x (mm) and its rows (a slice of ``x_lo``'s); None where nothing is spanned."""
    ok = x_hi > x_lo
    if rows_ok is not None:
        ok &= rows_ok
    if not ok.any():
        return None
    rows = np.flatnonzero(ok)
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    lo, hi = x_lo[r0:r1], x_hi[r0:r1]
    i0, i1 = pt.grid.index_range(0, float(lo[ok[r0:r1]].min()), float(hi[ok[r0:r1]].max()))
    if i1 <= i0:
        return None
    xx = pt.x[i0:i1]
    m = (xx[None, :] >= lo[:, None]) & (xx[None, :] <= hi[:, None])
    return pt.tissue[k, j0 + r0 : j0 + r1, i0:i1], m, xx, slice(r0, r1)


def _rows(pt: Painter, y0: float, y1: float) -> tuple[int, NDArray[np.float64]] | None:
    j0, j1 = pt.grid.index_range(1, y0, y1)
    if j1 <= j0:
        return None
    return j0, pt.y[j0:j1]


class OrganPlan:
    """Per-case organ shapes (drawn once) and their per-slice painting.

    Args:
        z_of: Vertebra centre z (mm) by label.
        z_dome_r: Top of the right hemidiaphragm's dome (mm).
        z_dome_l: Top of the left dome (mm).
        z_recess: Lowest point of the posterior costophrenic recesses (mm).
        z_kid_l: Centre of the left kidney (mm); the right one is 15 mm lower.
        rng: Random generator of its own (e.g. ``rng.spawn(1)[0]``, which leaves the
            caller's stream where it was).
        fat_mm: The case's subcutaneous fat thickness (mm); scales the perirenal fat.
        stones: Kidney stones (:func:`draw_kidney_stones`).
        gallstones: Gallstones (:func:`draw_gallstones`).
    """

    def __init__(
        self,
        z_of: dict[str, float],
        z_dome_r: float,
        z_dome_l: float,
        z_recess: float,
        z_kid_l: float,
        rng: np.random.Generator,
        fat_mm: float = 15.0,
        stones: tuple[KidneyStone, ...] = (),
        gallstones: tuple[Gallstone, ...] = (),
    ) -> None:
        r = rng
        self.stones = stones
        self.gallstones = gallstones
        self.z_dome_r, self.z_dome_l, self.z_recess = z_dome_r, z_dome_l, z_recess
        self.z_liver_top = z_dome_r + 5.0
        self.z_liver_tip = self.z_liver_top - float(r.uniform(*LIVER_SPAN_MM))
        self.left_lobe = float(r.uniform(*LIVER_LEFT_LOBE))
        self.liver_w = [_Wobble(r, WOBBLE_MM * 1.5) for _ in range(2)]
        self.liver_ant = _Wobble(r, WOBBLE_MM)
        self.spleen_len = SPLEEN_MM[0] * float(r.uniform(0.85, 1.15))
        self.spleen_w = _Wobble(r, WOBBLE_MM)
        self.stomach_w = _Wobble(r, WOBBLE_MM)
        self.gas_depth = float(r.uniform(8.0, 40.0)) if r.random() < 0.85 else 0.0
        self.stomach_size = float(r.uniform(0.8, 1.15))
        self._y_gas: float | None = None
        self.heart_size = float(r.uniform(0.9, 1.1))
        self.heart_w = _Wobble(r, WOBBLE_MM)
        z_l1 = z_of.get("L1", z_recess - 30.0)
        self.z_stomach = (z_dome_l + 5.0, z_l1 - float(r.uniform(0.0, 30.0)))
        self.z_kid = (z_kid_l, z_kid_l - 15.0)
        self.perirenal_mm = PERIRENAL_FAT_MM + PERIRENAL_FAT_SHARE * fat_mm * float(
            r.uniform(0.6, 1.4)
        )
        self.kid_w = [_Wobble(r, WOBBLE_MM * 0.5) for _ in range(2)]
        # pancreas: spheres along a jittered centreline (x, y offsets, z, radius)
        z_l2 = z_of.get("L2", z_l1 - 35.0)
        path = np.array(PANCREAS_PATH)
        s_key = np.linspace(0.0, 1.0, len(path))
        s_pts = np.linspace(0.0, 1.0, PANCREAS_N)
        pts = np.stack([np.interp(s_pts, s_key, path[:, c]) for c in range(4)], axis=1)
        pts[:, :2] += r.uniform(-5.0, 5.0, 2)
        pts[:, 2] = z_l2 + pts[:, 2] * (z_l1 - z_l2) + r.uniform(-5.0, 5.0)
        pts[:, 3] *= r.uniform(*PANCREAS_JITTER, PANCREAS_N)
        self.pancreas = pts
        # hepatic veins: in-plane direction (mm per mm of descent, unit x left / y posterior)
        ang = np.deg2rad(np.array([-150.0, -105.0, -70.0]) + r.uniform(-12, 12, 3))
        self.hv_dir = np.stack([np.cos(ang), np.sin(ang)], axis=1) * r.uniform(0.9, 1.3, (3, 1))
        # (drawn last, so the shapes above keep their values)
        self._plan_portal(r)
        # renal pyramids: cone axes (unit, in the kidney's frame: along its width away from
        # the hilum, across its thickness, along its length) per kidney
        self.pyramids = [_pyramid_axes(r) for _ in range(2)]
        # pancreas: lobules (a periodic random field, two channels: septa and outline)
        self.pancreas_tex = periodic_field(r, PANCREAS_LOBULE_MM / TEX_CELL_MM)
        self.pancreas_septum = half_width_for_share(float(r.uniform(*PANCREAS_FAT_SHARE)))
        # epicardial fat: thickness in front, at the right (acute) margin, over the left
        # ventricle and behind (mm), scaled per case
        e = float(r.uniform(*EPICARDIAL_FAT_MM))
        self.epicardial_mm = (1.2 * e, 1.6 * e, 0.5 * e, 0.8 * e)
        # how far the liver (right) and the spleen (left) reach below their kidney's upper
        # pole lateral to it (mm), by kidney index (0 left, 1 right)
        self.renal_wrap_mm = (float(r.uniform(*SPLEEN_RENAL_MM)), float(r.uniform(*LIVER_RENAL_MM)))
        # the stomach's content: food (its depth at the back of the body's lumen, mm) or
        # fluid only (0), and the food's mottle
        food = r.random() < STOMACH_P_FOOD
        self.food_depth = float(r.uniform(*STOMACH_FOOD_MM)) if food else 0.0
        self.stomach_tex = periodic_field(r, STOMACH_MOTTLE_MM / TEX_CELL_MM)
        from scipy.special import ndtri  # the standard normal's quantiles

        self._food_cut = (float(ndtri(STOMACH_FOOD_WATER)), float(ndtri(STOMACH_FOOD_GAS)))
        self._y_food: float | None = None

    def _plan_portal(self, r: np.random.Generator) -> None:
        """Portal vein tree and gallbladder (relative to the spine's midline and the vertebral
        body's front in x, y; absolute z)."""
        neck = self.pancreas[int(0.4 * (PANCREAS_N - 1))]
        z_conf = float(neck[2])
        z_porta = z_conf + float(r.uniform(*PORTAL_RISE_MM))
        # keep the porta in the liver's middle third
        span = self.z_liver_top - self.z_liver_tip
        z_porta = float(
            np.clip(z_porta, self.z_liver_top - 0.6 * span, self.z_liver_top - 0.4 * span)
        )
        nodes = np.array(PORTAL_NODES, dtype=float)
        scale = float(r.uniform(0.9, 1.12))
        nodes[1:] = nodes[1] + (nodes[1:] - nodes[1]) * scale
        nodes[2:] += r.uniform(-5.0, 5.0, (len(nodes) - 2, 3))
        nodes[1:, 2] += z_porta
        # the confluence: just behind the pancreas's neck
        nodes[0] = (neck[0] - 4.0, neck[1] + neck[3] + 4.0, z_conf)
        self.portal_nodes = nodes
        self.portal_r = float(r.uniform(0.85, 1.15))
        if r.random() < P_GALLBLADDER:
            a = np.array(GALLBLADDER_NECK) + r.uniform(-5.0, 5.0, 3)
            b = np.array(GALLBLADDER_FUNDUS) + r.uniform(-8.0, 8.0, 3)
            a[2] += z_porta
            b[2] += z_porta
            self.gallbladder: tuple[NDArray[np.float64], NDArray[np.float64], float] | None = (
                a,
                b,
                float(r.uniform(*GALLBLADDER_R_MM[1])),
            )
        else:
            self.gallbladder = None

    # ---- lungs ----
    def lung_floor(
        self,
        x: Any,
        y: Any,
        lx: float,
        ly: float,
        ra: float,
        cb: float,
        zd: float,
        x_mid: float | None = None,
        back: float = 0.0,
    ) -> Any:
        """Height (mm) of the diaphragm under a lung at ``(x, y)`` (``x_mid``: the midline's x;
        beside the vertebral bodies, where the crura attach, the slit stays thin; ``back``:
        how much further back than the cavity the lung's section ``(ly, cb)`` reaches,
        :attr:`Cavity.lung_back`).

        Two surfaces, joined by a smooth minimum (:data:`LUNG_BLEND_MM`), so the lung lies
        above either:

        * the dome: highest at its top (:data:`LUNG_DOME_FORWARD` in front of the lung's
          centre, in the mid-clavicular line), rounded (:data:`LUNG_DOME_SHAPE`: the height
          falls as ``k rho^2 + (1 - k) rho^n`` of the way from the top to the lung's wall) and
          steep at its rim, down to the lung's lower border at the wall (the costophrenic angle:
          lowest in the posterior recess, higher anteriorly; medially, in front of the vertebral
          bodies, the central tendon under the heart, :data:`LUNG_TENDON_VY`);
        * the recess: below the dome's shoulder the diaphragm runs down close to the ribs (the
          zone of apposition), so the costophrenic recess is a slit along the wall, about
          :data:`LUNG_SLIT_MM` wide at the dome's top, narrowing (as a root of the height
          above it, :data:`LUNG_SLIT_POWER`: an even band behind, a wedge at the side) to
          nothing at the lung's lower border.
        """
        medial = 1.0 if x_mid is not None and lx < x_mid else -1.0

        def floor(xx: Any, yy: Any, warp: bool) -> Any:
            if warp:
                xs, ys, xd, yd = self._gutter_warp(xx, yy, medial, lx, ly, ra, cb)
                return self._floor(xs, ys, xd, yd, lx, ly, ra, cb, zd, x_mid, back)
            return self._floor(xx, yy, xx, yy, lx, ly, ra, cb, zd, x_mid, back)

        if x_mid is None or LUNG_GUTTER_POWER == 2.0:
            return floor(x, y, False)
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not (xa.ndim == 2 and ya.ndim == 2 and xa.shape[0] == 1 and ya.shape[1] == 1):
            return floor(xa, ya, True)
        # a row of ascending x and a column of ascending y (the painter's window): only the
        # posteromedial block is warped (the warp is 1 elsewhere)
        out = np.empty((ya.shape[0], xa.shape[1]))
        r = int(np.searchsorted(ya[:, 0], ly, side="right"))
        c = int(np.searchsorted(xa[0], lx, side="right"))
        med, lat = (
            (slice(c, None), slice(None, c)) if medial > 0 else (slice(None, c), slice(c, None))
        )
        if r > 0:
            out[:r] = floor(xa, ya[:r], False)
        if r < ya.shape[0]:
            if xa[:, lat].size:
                out[r:, lat] = floor(xa[:, lat], ya[r:], False)
            if xa[:, med].size:
                out[r:, med] = floor(xa[:, med], ya[r:], True)
        return out

    @staticmethod
    def _gutter_warp(
        x: Any, y: Any, medial: float, lx: float, ly: float, ra: float, cb: float
    ) -> tuple[Any, Any, Any, Any]:
        """``(x, y)`` of the lung's section mapped onto its ellipse (:func:`lung_gutter_factor`):
        radially for the recess (so the slit follows the corner's wall), and only near the
        outline for the dome (so its rounded top is not flattened towards the corner)."""
        du, dv = (x - lx) / ra, (y - ly) / (cb - LUNG_WALL_MM)
        re2, sp, ok = _gutter_sums(du, dv, medial)
        re2 = np.where(ok, re2, 1.0)
        rn = re2
        for _ in range(round(LUNG_GUTTER_POWER / 2.0) - 1):
            rn = rn * re2
        q = np.where(ok, sp / rn, 1.0)  # (r_s / r_e)^p
        g = np.sqrt(q, out=q)
        g = np.cbrt(g, out=g) if LUNG_GUTTER_POWER == 6.0 else g ** (2.0 / LUNG_GUTTER_POWER)
        # the dome's map: 1 - (1 - g) r_s^(p/2), with r_s^(p/2) = sqrt(a^p + b^p)
        gd = np.sqrt(sp)
        gd *= g - 1.0
        gd += 1.0
        return lx + (x - lx) * g, ly + (y - ly) * g, lx + (x - lx) * gd, ly + (y - ly) * gd

    def _floor(
        self,
        x: Any,
        y: Any,
        x_dome: Any,
        y_dome: Any,
        lx: float,
        ly: float,
        ra: float,
        cb: float,
        zd: float,
        x_mid: float | None,
        back: float,
    ) -> Any:
        """:meth:`lung_floor` on the section's ellipse: ``(x, y)`` for the recess and the
        lower border, ``(x_dome, y_dome)`` for the dome (the same outside the gutter). The
        lower border's course and the slit's width are laid out on the cavity's span (the
        section less ``back`` behind), where they were fitted; the slit follows the section's
        wall."""
        # x enters as a row and y as a column (broadcast): 1-D work stays 1-D, and the 2-D
        # arrays are updated in place
        u = (x - lx) / ra
        uu = u * u
        vy = (y - ly) / cb  # -1 anterior .. +1 posterior
        # the same on the cavity's span
        vc = vy if back == 0.0 else (y - ly + 0.5 * back) / (cb - 0.5 * back)
        # medial weight: 1 beside the mediastinum and the vertebral bodies, 0 from the lung's
        # middle out
        med: Any = 0.0
        if x_mid is not None:
            u_med = u if lx > x_mid else -u
            med = smooth01((-u_med - 0.3) / 0.4)
        # the lung's lower border at the wall, as a fraction of the dome's height over the
        # posterior recess: high anteriorly (the anterior attachment), low posteriorly and
        # laterally; medially the central tendon in front, the paravertebral gutter behind
        drop_all = zd - self.z_recess
        rim_f = LUNG_ANTERIOR_RISE * smooth01((LUNG_RIM_VY[0] - vc) / LUNG_RIM_VY[1])
        if x_mid is not None:
            tendon = min(self.z_dome_l - 5.0, zd - 5.0) - self.z_recess
            t0, t1 = LUNG_TENDON_VY
            rim_m = (tendon / drop_all) * smooth01((t1 - vc) / (t1 - t0))
            rim_f = rim_f + med * np.maximum(rim_m - rim_f, 0.0)
        rim = self.z_recess + drop_all * rim_f
        drop = zd - rim
        # the dome: rho = 0 at its top .. 1 at the lung's section ellipse (the lung is painted
        # LUNG_WALL_MM inside the cavity), along the ray from the top
        cbe = cb - LUNG_WALL_MM
        f = LUNG_DOME_FORWARD
        w = (y_dome - ly) / cbe + f
        ud = (x_dome - lx) / ra
        q = w * w + ud * ud
        q *= 1.0 - f * f
        q += (f * w) ** 2
        rho = np.sqrt(q, out=q)
        rho -= f * w
        rho *= 1.0 / (1.0 - f * f)
        np.minimum(rho, 1.0, out=rho)
        k, n = LUNG_DOME_SHAPE
        rho *= rho
        p = rho * rho
        for _ in range(round(math.log2(n)) - 2):  # rho^n by squaring (n a power of 2)
            p *= p
        p *= 1.0 - k
        rho *= k
        p += rho
        p *= drop
        dome = np.subtract(zd, p, out=p)
        # the recess: distance to the chest wall (mm), (1 - r) times the section's radius in
        # that direction, about ra + (cb - ra) sin^2 (ra lateral, cb posterior), over the slit
        # width
        vy2 = vy * vy
        back_w = smooth01((vc - LUNG_SLIT_VY[0]) / LUNG_SLIT_VY[1]) * (1.0 - med)
        ws = back_w * (LUNG_SLIT_MM[0] - LUNG_SLIT_MM[1]) + LUNG_SLIT_MM[1]
        r2 = uu + vy2
        np.maximum(r2, 1e-6, out=r2)
        t = np.sqrt(r2)
        np.subtract(1.0, t, out=t)
        np.divide(vy2, r2, out=r2)
        r2 *= cb - ra
        r2 += ra
        t *= r2
        t /= ws
        np.clip(t, 0.0, 1.0, out=t)
        back_w *= LUNG_SLIT_POWER[0] - LUNG_SLIT_POWER[1]
        back_w += LUNG_SLIT_POWER[1]
        np.power(t, back_w, out=t)
        t *= drop
        t += rim
        # smooth minimum: min(a, b) - max(s - |a - b|, 0)^2 / 4s rounds the shoulder where
        # the recess meets the dome
        s = LUNG_BLEND_MM
        gap = np.subtract(dome, t)
        np.abs(gap, out=gap)
        np.subtract(s, gap, out=gap)
        np.maximum(gap, 0.0, out=gap)
        gap *= gap
        gap *= 0.25 / s
        out = np.minimum(dome, t, out=t)
        out -= gap
        return out

    def z_tendon(self) -> float:
        """Height (mm) of the diaphragm's central tendon, under the heart (the heart's floor)."""
        return self.z_dome_l - 5.0

    def clip_to_dome(
        self,
        cav: Cavity,
        side: float,
        z: float,
        y: NDArray[np.float64],
        x_lo: NDArray[np.float64],
        x_hi: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """An organ's row span ``x_lo .. x_hi`` kept under the dome of the ``side`` lung.

        Above the central tendon an organ under the diaphragm reaches only as far as the lung
        base above it: the renderer paints the lung over it where the slice lies above
        :meth:`lung_floor`, so inside the lung's section the organ's top follows the dome, and
        outside it (the mediastinum, the anterior attachment) nothing stays above the tendon.
        The section is the renderer's lung section (``render._paint_soft_tissue``: half-width
        half of the cavity beside the vertebral body less 6 mm, half-depth the cavity's less
        :data:`LUNG_WALL_MM`; an ellipse with a superellipse posteromedial corner,
        :func:`lung_gutter_factor`).
        """
        if z <= self.z_tendon():
            return x_lo, x_hi
        lv = cav.lv
        ra = (cav.hw - lv.width / 2 - 6.0) / 2
        lx = cav.xs + side * (lv.width / 2 + 6.0 + ra)
        ly, cb = cav.lung_frame
        v = (y - ly) / (cb - LUNG_WALL_MM)
        half = ra * np.sqrt(np.clip(1.0 - v * v, 0.0, None))
        # medially behind the centre: the superellipse corner (lung_gutter_factor)
        vb = np.clip(v, 0.0, 1.0)
        half_m = np.where(
            v > 0.0, ra * (1.0 - vb**LUNG_GUTTER_POWER) ** (1.0 / LUNG_GUTTER_POWER), half
        )
        half[np.abs(v) >= 1.0] = -1.0  # outside the section: an empty span
        half_m[np.abs(v) >= 1.0] = -1.0
        if side > 0:  # left lung: medial edge on its right (lower x)
            return np.maximum(x_lo, lx - half_m), np.minimum(x_hi, lx + half)
        return np.maximum(x_lo, lx - half), np.minimum(x_hi, lx + half_m)

    # ---- abdominal organs ----
    def paint(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        """Liver, stomach, spleen, kidneys (with renal vessels), pancreas and adrenals on slice
        ``k`` at height ``z``."""
        # the stomach displaces the liver's left lobe (which stays in front of and medial to
        # it); the spleen lies lateral to both
        self._liver(pt, k, z, cav)
        self._stomach(pt, k, z, cav)
        self._spleen(pt, k, z, cav)
        for n, side in enumerate((1.0, -1.0)):
            self._renal_wrap(pt, k, z, cav, side, n)
        for n, side in enumerate((1.0, -1.0)):
            self._kidney(pt, k, z, cav, side, n)
        self._pancreas(pt, k, z, cav)
        for n, side in enumerate((1.0, -1.0)):
            self._adrenal(pt, k, z, cav, side, n)

    def _adrenal(self, pt: Painter, k: int, z: float, cav: Cavity, side: float, n: int) -> None:
        """An adrenal gland: a body in front and two limbs running back (an inverted Y); near
        its top only the body and the start of the limbs. Painted over fat only."""
        z_pole = self.z_kid[n] + KIDNEY_MM[0]
        lo, hi = ADRENAL_Z[side]
        f = (z_pole + hi - z) / (hi - lo)  # 0 top .. 1 bottom
        if not 0.0 < f < 1.0:
            return
        lv = cav.lv
        x0 = cav.xs + side * lv.width / 2
        bx, by = x0 + side * ADRENAL_BODY[side][0], lv.y_s + ADRENAL_BODY[side][1]
        reach = min(1.0, 0.3 + f * 1.4) * math.sqrt(max(0.0, 1.0 - max(0.0, f - 0.85) / 0.15))
        for ex, ey in ADRENAL_LIMBS[side]:
            tx = x0 + side * ex - bx
            ty = lv.y_s + ey - by
            length = math.hypot(tx, ty) * reach
            if length < 2.0:
                continue
            d = (tx / math.hypot(tx, ty), ty / math.hypot(tx, ty))
            cx, cy = bx + d[0] * length / 2, by + d[1] * length / 2
            _paint_rotated(
                pt,
                k,
                cx,
                cy,
                d,
                (-d[1], d[0]),
                length / 2 + ADRENAL_HALF_MM,
                ADRENAL_HALF_MM,
                ADRENAL_TISSUE,
                over=_ADRENAL_OVER,
            )

    def _pancreas(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        """The pancreas: overlapping discs (sections of spheres along its centreline), painted
        over fat and bowel only (the solid organs, vessels and muscles keep their place)."""
        p = self.pancreas
        dz = z - p[:, 2]
        hit = np.flatnonzero(np.abs(dz) < p[:, 3])
        if hit.size == 0:
            return
        lv = cav.lv
        y_front = lv.y_s - lv.depth / 2
        tis = pt.tissue[k]
        tex = self.pancreas_tex[:, int(tex_index(np.asarray(z)))]
        for i in hit:
            rr = math.sqrt(p[i, 3] ** 2 - dz[i] ** 2)
            cx, cy = cav.xs + p[i, 0], y_front + p[i, 1]
            ry = 0.85 * rr
            # a rim of peripancreatic fat keeps the bowel's loops off the gland (the same
            # ellipse scaled by f)
            f = 1.0 + PANCREAS_FAT_MM / rr
            i0, i1 = pt.grid.index_range(0, cx - f * rr, cx + f * rr)
            j0, j1 = pt.grid.index_range(1, cy - f * ry, cy + f * ry)
            if i1 <= i0 or j1 <= j0:
                continue
            dx = (pt.x[i0:i1] - cx) / rr
            dy = (pt.y[j0:j1] - cy) / ry
            q = dy[:, None] ** 2 + (dx * dx)[None, :]
            sub = tis[j0:j1, i0:i1]
            rim = _PANCREAS_OVER[sub]
            rim &= q <= f * f
            sub[rim] = _T.FAT
            # lobulated outline and fat septa between the lobules (two channels of a random
            # field fixed in the body)
            iy, ix = tex_index(pt.y[j0:j1])[:, None], tex_index(pt.x[i0:i1])[None, :]
            outline = 1.0 + PANCREAS_OUTLINE * np.clip(tex[1][iy, ix], -1.5, 1.5)
            rim &= q <= outline * outline
            sub[rim] = PANCREAS_TISSUE
            rim &= np.abs(tex[0][iy, ix]) < self.pancreas_septum
            sub[rim] = _T.FAT

    def paint_heart(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        """The heart on slice ``k``: a rounded cone sitting on the diaphragm (the ventricles,
        broad, in front and to the left) narrowing upwards to its base (the atria, behind and
        to the right)."""
        z_bottom = self.z_tendon()
        h_mm = HEART_MM[0] * self.heart_size
        h = (z - z_bottom) / h_mm
        if not 0.0 < h < 1.0:
            return
        # flat diaphragmatic surface rounded over 12 mm, largest a third of the way up
        g = math.sqrt(min(1.0, (z - z_bottom) / 12.0)) * (1.0 - 0.45 * max(0.0, h - 0.3) / 0.7)
        g *= math.sqrt(max(0.0, 1.0 - max(0.0, (h - 0.85) / 0.15) ** 2))
        cx = cav.xs + cav.hw * (0.22 - 0.2 * h)
        cy = cav.cy - cav.hd * (0.4 - 0.3 * h)
        rx, ry = HEART_MM[1] * self.heart_size * g, HEART_MM[2] * self.heart_size * g
        if rx < 2.0:
            return
        rows = _rows(pt, cy - ry, cy + ry)
        if rows is None:
            return
        j0, y = rows
        q = np.sqrt(np.clip(1.0 - ((y - cy) / ry) ** 2, 0.0, 1.0))
        wob = self.heart_w(y, z)
        # pericardium (a thin fibrous line) and epicardial fat under it, then the myocardium
        # inside the fat (EPICARDIAL_FAT_MM): thickest over the right ventricle's free wall and
        # its acute margin (in front and to the right), in the atrioventricular groove and on
        # the diaphragmatic surface, thin over the left ventricle
        x_lo, x_hi = cx - rx * q - wob, cx + rx * q + wob
        p_mm = PERICARDIUM_MM
        qp = np.sqrt(np.clip(1.0 - ((y - cy) / (ry + p_mm)) ** 2, 0.0, 1.0))
        lo_p, hi_p = cx - (rx + p_mm) * qp - wob, cx + (rx + p_mm) * qp + wob
        _paint_span(pt, k, y, j0, lo_p, hi_p, _T.SOFT)
        _paint_span(pt, k, y, j0, x_lo, x_hi, _T.FAT)
        e_ant, e_right, e_left, e_post = self.epicardial_mm
        groove = 1.0 + EPICARDIAL_GROOVE * math.exp(-(((h - 0.55) / 0.08) ** 2))
        floor = 1.0 + max(0.0, 1.0 - (z - z_bottom) / 15.0)  # on the diaphragmatic surface
        gf = groove * floor
        t_front = np.clip((cy - y) / ry, 0.0, 1.0)  # 1 at the front .. 0 at the centre row
        f_right = (e_right * (0.5 + 0.5 * t_front) + 0.5 * e_ant * t_front) * gf
        f_left = (e_left + 0.3 * e_ant * t_front) * gf
        ya, yb = cy - ry + e_ant * gf, cy + ry - e_post * gf
        inner = (y > ya) & (y < yb)
        if inner.any():
            cm, hm = (ya + yb) / 2, (yb - ya) / 2
            qm = np.sqrt(np.clip(1.0 - ((y - cm) / hm) ** 2, 0.0, 1.0))
            m_lo = np.maximum(cx - rx * qm - wob + f_right, x_lo + f_right)
            m_hi = np.minimum(cx + rx * qm + wob - f_left, x_hi - f_left)
            m_lo[~inner] = 1.0
            m_hi[~inner] = 0.0
            _paint_span(pt, k, y, j0, m_lo, m_hi, _T.MYOCARDIUM)
        # the anterior interventricular groove: a notch of fat over the septum in front
        f_mean = 0.5 * (e_ant + e_left) * gf
        self._chambers(pt, k, h, cx, cy, rx - f_mean, ry - f_mean)
        if h < 0.6:
            gx = cx - 0.03 * rx
            pt.ellipse2d(
                k,
                gx,
                cy - ry + e_ant * gf,
                2.0 * e_ant * gf,
                2.5 * e_ant * gf,
                _T.FAT,
                only=(_T.MYOCARDIUM,),
            )

    def _chambers(
        self, pt: Painter, k: int, h: float, cx: float, cy: float, rx: float, ry: float
    ) -> None:
        """Blood in the heart's chambers, inside the myocardium painted on slice ``k`` (``h``:
        0 at the diaphragmatic surface .. 1 at the base; the section's centre and half-axes):
        low down the left ventricle (thick wall, :data:`HEART_WALL_MM`), to the left and
        behind, and the right ventricle (thin wall) in front and to the right, the septum
        between; higher up the atria (thin walls)."""
        lv_wall, rv_wall, at_wall = HEART_WALL_MM
        only = (_T.MYOCARDIUM,)
        # the ventricles fade out towards the base, the atria take over above h = 0.55
        if h < 0.75:
            # left ventricle: outer ellipse to the left and behind, its cavity inside
            lx, ly = cx + 0.3 * rx, cy + 0.1 * ry
            ax, ay = 0.62 * rx, 0.72 * ry
            if ax > lv_wall + 3.0 and ay > lv_wall + 3.0:
                pt.ellipse2d(k, lx, ly, ax - lv_wall, ay - lv_wall, _T.BLOOD, only=only)
            # right ventricle: in front and to the right, bounded by the septum (the left
            # ventricle's outer wall)
            vx, vy = cx - 0.35 * rx, cy - 0.2 * ry
            bx, by = 0.62 * rx - rv_wall, 0.72 * ry - rv_wall
            if bx > 2.0 and by > 2.0:

                def off_septum(x: Any, y: Any, lx: float = lx, ly: float = ly) -> Any:
                    return ((x - lx) / ax) ** 2 + ((y - ly) / ay) ** 2 > 1.0

                pt.ellipse2d(k, vx, vy, bx, by, _T.BLOOD, only=only, extra=off_septum)
        if h > 0.55 and rx > at_wall + 3.0:
            pt.ellipse2d(k, cx, cy, rx - at_wall, ry - at_wall, _T.BLOOD, only=only)

    def _liver(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        if not self.z_liver_tip < z < self.z_liver_top:
            return
        f = (self.z_liver_top - z) / (self.z_liver_top - self.z_liver_tip)  # 0 top .. 1 tip
        lv, xs, hw = cav.lv, cav.xs, cav.hw
        y_front_body = lv.y_s - lv.depth / 2
        # anterior / posterior row limits
        y_ant_wall = cav.cy - cav.hd
        v_a = float(np.interp(f, [0.0, 0.65, 0.85, 1.0], [-0.99, -0.97, -0.75, -0.35]))
        y0 = cav.cy + v_a * cav.hd + 2.0 + self.liver_ant.at(0.0, z)
        y_back = float(
            np.interp(
                f,
                [0.0, 0.45, 0.6, 0.8, 1.0],
                [
                    lv.y_s + lv.depth / 2 + 40.0,  # to the posterior wall: the bare area
                    lv.y_s + lv.depth / 2 + 30.0,
                    lv.y_s + 15.0,
                    lv.y_s - 5.0,
                    lv.y_s - 35.0,
                ],
            )
        )
        y1 = min(y_back + self.liver_ant.at(50.0, z), cav.cy + cav.hd - 2.0)
        rows = _rows(pt, y0, y1)
        if rows is None:
            return
        j0, y = rows
        half = cav.half_width(y)
        x_right = xs - half + 3.0 + self.liver_w[0](y, z) * 0.5
        # medial (left) edge: the left lobe in front (a wedge thinning to the left), the caudate
        # lobe / IVC groove behind
        m_ant = float(
            np.interp(
                f,
                [0.0, 0.1, 0.25, 0.45, 0.6, 0.75, 0.9, 1.0],
                [
                    self.left_lobe,
                    self.left_lobe,
                    self.left_lobe,
                    0.85 * self.left_lobe,
                    0.3 * self.left_lobe,
                    -0.3,
                    -0.55,
                    -0.8,
                ],
            )
        )
        m_back = float(np.interp(f, [0.0, 0.5, 0.8, 1.0], [-0.2, -0.25, -0.5, -0.8]))
        x_post = xs - lv.width / 2 - 14.0
        y_split = y_front_body - 20.0
        t = np.clip((y - y_ant_wall) / max(y_split - y_ant_wall, 10.0), 0.0, 1.0)
        # the left lobe: a wedge, thinning steadily to its tip over the stomach
        x_ant = xs + hw * (m_ant + (min(m_back, m_ant) - m_ant) * t**LIVER_WEDGE_POWER)
        w = smooth01((y - y_split) / 30.0 + 0.5)
        x_left = (1.0 - w) * x_ant + w * np.minimum(x_post, xs + hw * m_back)
        x_left = np.minimum(x_left + self.liver_w[1](y, z), xs + half - 4.0)
        # above the heart's floor the liver's dome stays under the right lung
        x_right, x_left = self.clip_to_dome(cav, -1.0, z, y, x_right, x_left)
        _paint_span(pt, k, y, j0, x_right, x_left, _T.LIVER, keep=_T.MUSCLE)
        self._hepatic_veins(pt, k, z, cav)
        self._portal_veins(pt, k, z, cav)

    def _portal_veins(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        """The portal vein tree (:data:`PORTAL_SEGMENTS`) and the gallbladder on slice ``k``:
        the main portal vein over fat and bowel as well (in the hepatoduodenal ligament), its
        branches inside the liver only."""
        lv = cav.lv
        off = np.array([cav.xs, lv.y_s - lv.depth / 2, 0.0])
        nodes = self.portal_nodes + off
        rs = self.portal_r
        # periportal fat: a sheath around the larger branches (the porta hepatis and the
        # hilar plate), painted first over the liver only
        for a, b, ra, rb in PORTAL_SEGMENTS:
            if ra >= 3.5:
                f = PERIPORTAL_FAT_MM
                _paint_capsule(
                    pt, k, z, nodes[a], nodes[b], ra * rs + f, rb * rs + f, _T.FAT, _LIVER_ONLY
                )
        for n, (a, b, ra, rb) in enumerate(PORTAL_SEGMENTS):
            over = _PORTAL_OVER if n == 0 else _LIVER_FAT
            _paint_capsule(pt, k, z, nodes[a], nodes[b], ra * rs, rb * rs, PORTAL_TISSUE, over)
        if self.gallbladder is not None:
            a3, b3, r_f = self.gallbladder
            # the gallbladder fossa: the liver wraps the neck and body (a cuff of liver over
            # fat and bowel), the fundus alone reaches beyond the liver's edge
            c_mm, c_len = GALLBLADDER_FOSSA
            e3 = a3 + c_len * (b3 - a3)
            r_e = GALLBLADDER_R_MM[0] + c_len * (r_f - GALLBLADDER_R_MM[0])
            _paint_capsule(
                pt,
                k,
                z,
                a3 + off,
                e3 + off,
                GALLBLADDER_R_MM[0] + c_mm,
                r_e + c_mm,
                _T.LIVER,
                _PANCREAS_OVER,
            )
            _paint_capsule(
                pt, k, z, a3 + off, b3 + off, GALLBLADDER_R_MM[0], r_f, GALLBLADDER_TISSUE, _GB_OVER
            )
            self._gallstones(pt, k, z, a3 + off, b3 + off, r_f)

    def _gallstones(
        self,
        pt: Painter,
        k: int,
        z: float,
        a: NDArray[np.float64],
        b: NDArray[np.float64],
        r_f: float,
    ) -> None:
        """The gallstones' sections on slice ``k`` (height ``z``) in the gallbladder from its
        neck ``a`` to its fundus ``b`` (mm; radius :data:`GALLBLADDER_R_MM` ``[0]`` to
        ``r_f``): balls against its back wall (LPS +y, across its axis), over bile only."""
        axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
        back = np.array([0.0, 1.0, 0.0]) - axis[1] * axis
        back /= max(float(np.linalg.norm(back)), 1e-6)
        for st in self.gallstones:
            lumen = GALLBLADDER_R_MM[0] + st.t * (r_f - GALLBLADDER_R_MM[0])
            rs = min(0.5 * st.diameter_mm, GALLSTONE_FILL * lumen)
            c = a + st.t * (b - a) + (lumen - rs) * back
            dz = z - float(c[2])
            if abs(dz) >= rs:
                continue
            rr = math.sqrt(rs * rs - dz * dz)
            tissue = {"dense": _T.STONE, "rim": _T.STONE, "soft": _T.SOFT, "fat": _T.FAT}[st.kind]
            pt.ellipse2d(k, float(c[0]), float(c[1]), rr, rr, tissue, only=(GALLBLADDER_TISSUE,))
            core = rs - GALLSTONE_RIM_MM
            if st.kind == "rim" and abs(dz) < core:
                rc = math.sqrt(core * core - dz * dz)
                pt.ellipse2d(k, float(c[0]), float(c[1]), rc, rc, _T.SOFT, only=(_T.STONE,))

    def _hepatic_veins(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        z0 = self.z_dome_r - 20.0
        d = z0 - z
        if not 0.0 < d < HEPATIC_VEIN_LEN_MM:
            return
        lv = cav.lv
        x0, y0 = cav.xs + IVC_XY[0], lv.y_s - lv.depth / 2 + IVC_XY[1]  # the IVC
        s = d / HEPATIC_VEIN_LEN_MM
        r = HEPATIC_VEIN_R_MM[0] + (HEPATIC_VEIN_R_MM[1] - HEPATIC_VEIN_R_MM[0]) * s
        for dx, dy in self.hv_dir:
            pt.ellipse2d(k, x0 + dx * d, y0 + dy * d, r * 1.3, r * 1.3, _T.BLOOD, only=(_T.LIVER,))

    def _spleen(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        """The spleen on slice ``k``: a crescent against the left posterolateral wall. Its
        parietal face follows the wall; its visceral (inner) face is the wall's outline moved
        inwards by the spleen's thickness (a plateau along the arc, tapering at the two ends),
        so it is concave like the wall, with a shallow notch at the hilum
        (:data:`SPLEEN_HILUM`)."""
        top = self.z_dome_l + 5.0
        dz = top - z
        if not 0.0 < dz < self.spleen_len:
            return
        f = dz / self.spleen_len
        s = math.sqrt(max(0.0, math.sin(math.pi * min(1.0, 0.15 + 0.85 * f))))
        lv = cav.lv
        yc = lv.y_s - 25.0 * f  # the upper pole posterior, the lower more anterior
        half = SPLEEN_MM[2] * s
        y_wall = cav.cy + cav.hd - 3.0
        rows = _rows(pt, yc - half, min(yc + half, y_wall))
        if rows is None:
            return
        j0, y = rows
        v = (y - yc) / max(half, 1.0)
        v2 = v * v
        q = np.clip(1.0 - v2 * v2, 0.0, 1.0) ** 0.75  # a plateau, pointed at both ends
        x_out = cav.xs + cav.half_width(y) - 3.0
        depth, notch, width = SPLEEN_HILUM
        thick = SPLEEN_MM[1] * s * q * (1.0 - depth * np.exp(-(((v - notch) / width) ** 2)))
        thick += self.spleen_w(y, z)
        # the inner face: the cavity's outline (a superellipse) shrunk by the thickness; behind
        # its back the spleen wraps round the corner along the posterior wall
        a_in = np.maximum(cav.hw - 3.0 - thick, 1.0)
        b_in = np.maximum(cav.hd - 3.0 - thick, 1.0)
        vv = np.clip(np.abs(y - cav.cy) / b_in, 0.0, 1.0)
        p = cav.powers(y)
        x_in = cav.xs + a_in * (1.0 - vv**p) ** (1.0 / p)
        x_med = np.maximum(
            x_out - SPLEEN_SPAN * SPLEEN_MM[1] * s * q,
            cav.xs + lv.width / 2 + SPLEEN_MEDIAL_MM + np.maximum(y - lv.y_s, 0.0),
        )
        x_in = np.maximum(x_in, x_med)
        x_in = np.where(thick > 0.5, x_in, x_out)
        lo, hi = self.clip_to_dome(cav, 1.0, z, y, x_in, x_out)
        _paint_span(pt, k, y, j0, lo, hi, _T.SPLEEN, keep=_T.MUSCLE)

    def _stomach_radius(self, z: float) -> tuple[float, float]:
        """The stomach's section at height ``z``: ``(f, r)``, ``f`` from 0 at the fundus to 1
        at the antrum and ``r`` its radius (mm; 0 outside its z range)."""
        z_top, z_bot = self.z_stomach
        if not z_bot < z < z_top:
            return 0.0, 0.0
        f = (z_top - z) / (z_top - z_bot)  # 0 fundus .. 1 antrum
        r = float(np.interp(f, [0.0, 0.4, 1.0], STOMACH_R_MM)) * self.stomach_size
        r *= math.sqrt(max(0.0, 1.0 - max(0.0, (f - 0.85) / 0.15) ** 2))
        r *= min(1.0, math.sqrt(max(f, 0.0) / 0.12 + 0.05))  # rounded fundus top
        return f, r

    @staticmethod
    def _stomach_centre(f: Any, cav_xs: Any, cav_cy: Any, cav_hw: Any, cav_hd: Any) -> Any:
        """The stomach's section's centre ``(x, y)`` mm at ``f`` (0 fundus .. 1 antrum) in a
        cavity of centre ``(cav_xs, cav_cy)`` and half-width / half-depth ``cav_hw`` / ``cav_hd``
        (scalars or arrays)."""
        cx = cav_xs + cav_hw * np.interp(f, [0.0, 0.5, 1.0], [0.5, 0.4, 0.0])
        return cx, cav_cy + cav_hd * np.interp(f, *STOMACH_CY)

    def stomach_level_z(self, z_mm: NDArray[np.float64]) -> float | None:
        """The lowest of the heights ``z_mm`` with a lumen in the stomach, where
        :meth:`fix_stomach_levels` takes the levels of its gas and its food from (None: no
        lumen there, or neither gas nor food)."""
        if self.gas_depth <= 0.0 and self.food_depth <= 0.0:
            return None
        lumen = [z for z in z_mm.tolist() if self._stomach_radius(z)[1] - STOMACH_WALL_MM > 3.0]
        return min(lumen) if lumen else None

    def fix_stomach_levels(self, cav: Cavity) -> None:
        """Fix the stomach's air-fluid level and its food's level (each a constant y,
        horizontal in a supine patient) from the cavity ``cav`` at :meth:`stomach_level_z`,
        before any slice is painted: slices may then be painted in any order (or in two
        processes). The gas's level lies ``gas_depth`` behind the front of the stomach body's
        lumen, the food's ``food_depth`` in front of its back."""
        f = 0.4
        cy = float(self._stomach_centre(f, cav.xs, cav.cy, cav.hw, cav.hd)[1])
        r = float(np.interp(f, [0.0, 0.4, 1.0], STOMACH_R_MM)) * self.stomach_size
        self._y_gas = cy - 0.8 * r + STOMACH_WALL_MM + self.gas_depth
        self._y_food = cy + 0.8 * r - STOMACH_WALL_MM - self.food_depth

    def _stomach(self, pt: Painter, k: int, z: float, cav: Cavity) -> None:
        f, r = self._stomach_radius(z)
        if r < 3.0:
            return
        cx, cy = (float(v) for v in self._stomach_centre(f, cav.xs, cav.cy, cav.hw, cav.hd))
        rows = _rows(pt, cy - 0.8 * r, cy + 0.8 * r)
        if rows is None:
            return
        j0, y = rows
        q = np.sqrt(np.clip(1.0 - ((y - cy) / (0.8 * r)) ** 2, 0.0, 1.0))
        wob = self.stomach_w(y, z)
        lo, hi = self.clip_to_dome(cav, 1.0, z, y, cx - r * q + wob, cx + r * q + wob * 0.5)
        _paint_span(pt, k, y, j0, lo, hi, _T.GUT_WALL, keep=_T.MUSCLE)
        # lumen: fluid; food at the back; gas in front above a horizontal air-fluid level
        ri = r - STOMACH_WALL_MM
        if ri <= 3.0:
            return
        qi = np.sqrt(np.clip(1.0 - ((y - cy) / (0.8 * ri)) ** 2, 0.0, 1.0))
        lo, hi = self.clip_to_dome(cav, 1.0, z, y, cx - ri * qi + wob, cx + ri * qi + wob * 0.5)
        if self._y_gas is None and (self.gas_depth > 0.0 or self.food_depth > 0.0):
            self.fix_stomach_levels(cav)  # not fixed beforehand: from the first slice painted
        _paint_span(pt, k, y, j0, lo, hi, _T.GUT_FLUID, keep=_T.MUSCLE)
        if self.food_depth > 0.0:
            self._food(pt, k, z, y, j0, lo, hi)
        if self.gas_depth > 0.0:
            _paint_span(pt, k, y, j0, lo, hi, _T.GAS, y_max=self._y_gas)

    def _food(
        self,
        pt: Painter,
        k: int,
        z: float,
        y: NDArray[np.float64],
        j0: int,
        x_lo: NDArray[np.float64],
        x_hi: NDArray[np.float64],
    ) -> None:
        """The stomach's food on slice ``k`` (height ``z``) in its lumen (rows ``y`` from
        ``j0``, between ``x_lo`` and ``x_hi`` mm): behind its level, whose surface the mottle's
        field roughens; soft matter with watery patches and gas bubbles
        (:data:`STOMACH_FOOD_WATER` etc.)."""
        assert self._y_food is not None
        win = _span_window(pt, k, j0, x_lo, x_hi, y > self._y_food - STOMACH_FOOD_SURFACE_MM)
        if win is None:
            return
        sub, m, xx, rows = win
        yy = y[rows]
        c0, c1 = tex_slice(self.stomach_tex, z, yy, xx)
        m &= sub != _T.MUSCLE
        m &= yy[:, None] > self._y_food - STOMACH_FOOD_SURFACE_MM * np.clip(c0, -1.0, 1.0)
        water, gas = self._food_cut
        sub[m] = np.where(c1 < gas, _T.GAS, np.where(c0 < water, _T.GUT_FLUID, _T.SOFT))[m]

    def paint_vessels(
        self,
        pt: Painter,
        z_lo: float,
        z_hi: float,
        cavity: Callable[[float], Cavity],
        rng: np.random.Generator,
    ) -> None:
        """Paint the upper abdomen's vessels (:data:`UPPER_VESSELS_PER_SLICE`,
        :data:`STOMACH_VESSELS`) as ``BLOOD`` into the ``FAT`` of the finished tissue map
        between heights ``z_lo`` and ``z_hi`` (mm): scattered through the body cavity
        ``cavity(z)`` in front of the retroperitoneum (as the bowel's vessels), and along the
        stomach's outline."""
        z0, z1 = max(z_lo, float(pt.z[0])), min(z_hi, float(pt.z[-1]))
        if z1 <= z0:
            return
        n = int(UPPER_VESSELS_PER_SLICE * (z1 - z0) / np.mean(UPPER_VESSEL_HALF_LENGTH_MM))
        zk = np.arange(z0, z1 + STOMACH_VESSEL_STEP_MM, STOMACH_VESSEL_STEP_MM)
        cavs = [cavity(float(z)) for z in zk]
        knots = np.array([(c.xs, c.cy, c.hw, c.hd, c.lv.y_s - c.lv.depth / 2) for c in cavs])
        z = rng.uniform(z0, z1, 2 * n)
        xs, cy, hw, hd, y_body = (np.interp(z, zk, knots[:, q]) for q in range(5))
        u, v = rng.uniform(-1.0, 1.0, (2, 2 * n))
        x, y = xs + u * hw, cy + v * hd
        front = y < y_body - 8.0 + 0.8 * np.maximum(np.abs(x - xs) - 25.0, 0.0)
        centres = [np.stack([x, y, z], axis=1)[(u * u + v * v < 1.0) & front][:n]]
        d = rng.standard_normal((len(centres[0]), 3))
        dirs = [d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)]
        # along the stomach's curvatures
        for zz, kn in zip(zk[:-1], knots[:-1]):
            f, r = self._stomach_radius(float(zz))
            if r < 3.0:
                continue
            cx, cyy = self._stomach_centre(f, *kn[:4])
            th = rng.uniform(0.0, 2.0 * math.pi, STOMACH_VESSELS)
            gap = rng.uniform(*STOMACH_VESSEL_GAP_MM, STOMACH_VESSELS)
            px = cx + (r + gap) * np.cos(th)
            py = cyy + (0.8 * r + gap) * np.sin(th)
            pz = zz + rng.uniform(0.0, STOMACH_VESSEL_STEP_MM, STOMACH_VESSELS)
            centres.append(np.stack([px, py, pz], axis=1))
            # (mostly along the stomach's long, cranio-caudal axis, leaning along its outline)
            t = np.stack([-np.sin(th), 0.8 * np.cos(th), np.full(th.size, 1.5)], axis=1)
            t += rng.normal(0.0, 0.3, t.shape)
            dirs.append(t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9))
        c, dd = np.concatenate(centres), np.concatenate(dirs)
        m = len(c)
        h = rng.uniform(*UPPER_VESSEL_HALF_LENGTH_MM, m)[:, None]
        rad = rng.uniform(*UPPER_VESSEL_RADIUS_MM, m)
        pt.segments(c - h * dd, c + h * dd, rad, _T.BLOOD, only=FATS)

    def _kidney(self, pt: Painter, k: int, z: float, cav: Cavity, side: float, n: int) -> None:
        zk = self.z_kid[n]
        a_z, a_w, a_t = KIDNEY_MM
        dz = z - zk
        rim_mm = self.perirenal_mm
        if abs(dz) >= a_z + rim_mm:
            return
        lv = cav.lv
        kx, ky = _kidney_centre(cav, side, dz)
        c, s = (
            math.cos(math.radians(KIDNEY_ROTATION_DEG)),
            math.sin(math.radians(KIDNEY_ROTATION_DEG)),
        )
        d = (side * c, s)  # long in-plane axis: lateral end posterior
        nrm = (-side * s, c)
        wob = self.kid_w[n].at(dz, 0.0)
        for rim, value in ((rim_mm, _T.FAT), (0.0, _T.KIDNEY)):
            g2 = 1.0 - (dz / (a_z + rim)) ** 2
            if g2 <= 0.0:
                continue
            g = math.sqrt(g2) ** 0.8
            ra, rb = (a_w + rim + wob) * g, (a_t + rim) * g
            # the fat sits mostly behind and lateral to the kidney
            ox, oy = 0.5 * rim * side * c, 0.5 * rim * (s + 0.5)
            _paint_rotated(pt, k, kx + ox, ky + oy, d, nrm, ra, rb, value)
        if abs(dz) < a_z:
            self._medulla(pt, k, kx, ky, d, nrm, dz, n, wob)
        # renal sinus fat in the hilum (middle of the kidney), open anteromedially
        if abs(dz) < 0.45 * a_z:
            h = math.sqrt(1.0 - (dz / (0.45 * a_z)) ** 2)
            hx, hy = kx - d[0] * 0.55 * a_w, ky - d[1] * 0.55 * a_w
            _paint_rotated(pt, k, hx, hy, d, nrm, 0.55 * a_w * h, 0.45 * a_t * h, _T.FAT)
        # renal pelvis (urine, water density): a funnel in the sinus opening out of the hilum
        a_p, b_p, h_p = RENAL_PELVIS_MM
        if abs(dz + 0.1 * a_z) < h_p:
            h = math.sqrt(1.0 - ((dz + 0.1 * a_z) / h_p) ** 2)
            px, py = kx - d[0] * 0.85 * a_w, ky - d[1] * 0.85 * a_w
            _paint_rotated(pt, k, px, py, d, nrm, a_p * h, b_p * h, _T.WATER)
        # stones in the calyces, inside the kidney's outline
        for st in self.stones:
            r = st.diameter_mm / 2
            dzs = dz - st.w * a_z
            if st.kidney != n or abs(dzs) >= r:
                continue
            rr = math.sqrt(r * r - dzs * dzs)
            g = (1.0 - st.w * st.w) ** 0.4  # the kidney's section narrows to its poles
            sx = kx + g * (d[0] * st.u * a_w + nrm[0] * st.v * a_t)
            sy = ky + g * (d[1] * st.u * a_w + nrm[1] * st.v * a_t)
            pt.ellipse2d(k, sx, sy, rr, rr, _T.STONE, only=_STONE_OVER)
        # renal vein to the vena cava (the left one in front of the aorta), renal artery from
        # the aorta: the vein leaves the hilum in front of the pelvis, the artery above it
        hx, hy = kx - d[0] * 0.9 * a_w, ky - d[1] * 0.9 * a_w
        hvx, hvy = hx - nrm[0] * RENAL_VEIN_FORWARD_MM, hy - nrm[1] * RENAL_VEIN_FORWARD_MM
        y_front = lv.y_s - lv.depth / 2
        ivc = (cav.xs + IVC_XY[0], y_front + IVC_XY[1])
        ao = (cav.xs + AORTA_XY[0], y_front + AORTA_XY[1])
        vz, vr, az, ar = RENAL_VESSELS_MM
        if abs(dz - vz) < vr:
            r = math.sqrt(vr * vr - (dz - vz) ** 2)
            if side > 0:  # the left renal vein arches in front of the aorta
                mid = (ao[0], ao[1] - AORTA_R_MM - vr - 2.0)
                _segment(pt, k, (hvx, hvy), mid, r)
                _segment(pt, k, mid, ivc, r)
            else:
                _segment(pt, k, (hvx, hvy), ivc, r)
        if abs(dz - az) < ar:
            r = math.sqrt(ar * ar - (dz - az) ** 2)
            _segment(pt, k, (hx, hy), ao, r)

    def _renal_wrap(self, pt: Painter, k: int, z: float, cav: Cavity, side: float, n: int) -> None:
        """The liver's right lobe (right) or the spleen's lower pole (left) lateral to the upper
        part of kidney ``n`` (:data:`LIVER_RENAL_MM`, the hepatorenal recess): on slice ``k``,
        in the rows from the front of the kidney's fat to a little behind its centre, the fat
        running from the kidney's centre out towards the body wall's muscle becomes the organ,
        short of the wall by :data:`RENAL_WRAP_FAT_MM` of fat (the flank stripe); painted before
        the kidney and its perirenal fat, which cover its medial part, so the organ's posterior
        face lies on the kidney's anterolateral fat. Below the pole it thins from the kidney's
        side towards the wall, ending in a tip."""
        a_z, _, a_t = KIDNEY_MM
        z_pole = self.z_kid[n] + a_z
        organ = _T.SPLEEN if side > 0 else _T.LIVER
        z_lo = z_pole - self.renal_wrap_mm[n]
        if side < 0:
            if z > self.z_liver_top:
                return
        elif z > self.z_dome_l + 5.0:
            return
        if not z_lo < z < z_pole + RENAL_WRAP_ABOVE_MM:
            return
        taper = float(np.clip((z_pole - z) / max(z_pole - z_lo, 1.0), 0.0, 1.0))
        kx, ky = _kidney_centre(cav, side, min(z - self.z_kid[n], a_z))
        rim = a_t + self.perirenal_mm
        y_front = ky - rim
        y_back = ky + rim * (0.8 - 0.5 * taper)
        j0, j1 = pt.grid.index_range(1, y_front, y_back)
        x_wall = cav.xs + side * (cav.hw + 20.0)
        lo, hi = sorted((kx, x_wall))
        i0, i1 = pt.grid.index_range(0, lo, hi)
        if j1 <= j0 or i1 <= i0:
            return
        sub = pt.tissue[k, j0:j1, i0:i1]
        if side < 0:  # columns from the kidney outwards
            sub = sub[:, ::-1]
        run = np.cumprod(_RENAL_WRAP_OVER[organ][sub], axis=1, dtype=np.uint8).astype(bool)
        # a fat gap before the wall; below the pole only the part of the run nearest the wall:
        # a wedge thinning to a tip
        gap = RENAL_WRAP_FAT_MM / pt.grid.spacing_mm[0]
        length = run.sum(axis=1, keepdims=True) - gap
        col = np.arange(sub.shape[1])[None, :]
        run &= (col < length) & (col >= taper**RENAL_WRAP_TAPER_POWER * length)
        sub[run] = organ

    def _medulla(
        self,
        pt: Painter,
        k: int,
        kx: float,
        ky: float,
        d: tuple[float, float],
        nrm: tuple[float, float],
        dz: float,
        n: int,
        wob: float,
    ) -> None:
        """Renal pyramids (:data:`RENAL_PYRAMID_E`): cones from the sinus towards the cortex,
        painted as medulla over the kidney's parenchyma on slice ``k``."""
        a_z, a_w, a_t = KIDNEY_MM
        zeta = dz / a_z
        g = math.sqrt(1.0 - zeta * zeta) ** 0.8  # the painted section (as in _kidney)
        ra, rb = (a_w + wob) * g, a_t * g
        e0, e1 = RENAL_PYRAMID_E
        if ra <= 1.0 or abs(zeta) >= e1:
            return
        ex = math.hypot(ra * d[0], rb * nrm[0]) * e1
        ey = math.hypot(ra * d[1], rb * nrm[1]) * e1
        i0, i1 = pt.grid.index_range(0, kx - ex, kx + ex)
        j0, j1 = pt.grid.index_range(1, ky - ey, ky + ey)
        if i1 <= i0 or j1 <= j0:
            return
        dx = (pt.x[i0:i1] - kx)[None, :]
        dy = (pt.y[j0:j1] - ky)[:, None]
        # the kidney's frame, normalized so that its painted surface lies at radius 1: u along
        # its width (+ away from the hilum), v across its thickness, w along its length
        u = (dx * d[0] + dy * d[1]) * (math.sqrt(1.0 - zeta * zeta) / ra)
        v = (dx * nrm[0] + dy * nrm[1]) * (math.sqrt(1.0 - zeta * zeta) / rb)
        e2 = u * u + v * v + zeta * zeta
        m = (e2 > e0 * e0) & (e2 < e1 * e1)
        if not m.any():
            return
        e = np.sqrt(e2)
        # cone half-angle narrowing towards the papilla: cos(angle) above a threshold
        lo, hi = (math.radians(a) for a in RENAL_PYRAMID_DEG)
        t = np.clip((e - e0) / (e1 - e0), 0.0, 1.0)
        cos_min = np.cos(lo + (hi - lo) * np.sqrt(t)) * e
        axes = self.pyramids[n]
        best = u * axes[0, 0] + v * axes[0, 1] + zeta * axes[0, 2]
        for c in axes[1:]:
            np.maximum(best, u * c[0] + v * c[1] + zeta * c[2], out=best)
        m &= best > cos_min
        sub = pt.tissue[k, j0:j1, i0:i1]
        m &= sub == _T.KIDNEY
        sub[m] = _T.MEDULLA


#: What the main portal vein may cover: the liver, fat and bowel; its branches: the liver; the
#: gallbladder: the liver, fat and bowel (its fundus reaches below the liver's edge).
_PORTAL_OVER = _PANCREAS_OVER.copy()
_PORTAL_OVER[_T.LIVER] = True
_LIVER_ONLY = np.zeros(256, dtype=bool)
_LIVER_ONLY[_T.LIVER] = True
_LIVER_FAT = _LIVER_ONLY.copy()
_LIVER_FAT[list(FATS)] = True
_GB_OVER = _PORTAL_OVER.copy()


#: What the liver and the spleen may cover lateral to the kidneys (:meth:`OrganPlan._renal_wrap`):
#: fat (either class) and the organ itself (a run across them stops at anything else: the
#: wall's muscle, bowel).
_RENAL_WRAP_OVER: dict[int, NDArray[np.bool_]] = {
    _T.LIVER: _LIVER_FAT,
    _T.SPLEEN: np.zeros(256, dtype=bool),
}
_RENAL_WRAP_OVER[_T.SPLEEN][[*FATS, _T.SPLEEN]] = True


#: What a kidney stone may be painted over: the kidney's parenchyma, sinus fat and urine.
_STONE_OVER = (_T.KIDNEY, _T.MEDULLA, _T.FAT, _T.WATER)


def _kidney_centre(cav: Cavity, side: float, dz: float) -> tuple[float, float]:
    """Centre ``(x, y)`` (mm) of the kidney on ``side`` (1 left, -1 right) in the slice ``dz``
    mm above its middle: its long axis tilted so that the upper pole lies medial and
    posterior (:data:`KIDNEY_TILT`)."""
    lv = cav.lv
    kx = cav.xs + side * (lv.width / 2 + 48.0 - KIDNEY_TILT * dz)
    ky = lv.y_s + 12.0 + KIDNEY_TILT * dz
    return kx, ky


def _pyramid_axes(r: np.random.Generator) -> NDArray[np.float64]:
    """``(RENAL_PYRAMID_N, 3)`` unit cone axes in a kidney's normalized frame (u away from the
    hilum, v across, w along), spread evenly (a Fibonacci sphere, randomly turned) over the
    directions that do not face the hilum."""
    n = RENAL_PYRAMID_N + 4  # about a quarter of the sphere faces the hilum and the sinus
    i = np.arange(n) + 0.5
    w = 1.0 - 2.0 * i / n
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i + r.uniform(0.0, 2 * math.pi)
    rr = np.sqrt(1.0 - w * w)
    pts = np.stack([rr * np.cos(phi), rr * np.sin(phi), w], axis=1)
    pts += r.normal(0.0, 0.08, pts.shape)
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    keep = pts[:, 0] > -0.45
    return np.asarray(pts[keep])


#: Vessels of the upper abdomen's fat (the gastric, gastroepiploic and short gastric vessels,
#: the splenic, pancreatic and omental branches, 1-5 mm): short straight segments in random
#: directions scattered through the cavity in front of the retroperitoneum, from the small
#: bowel's top to the domes, about UPPER_VESSELS_PER_SLICE sections per axial slice, and
#: along the stomach's curvatures (the gastroepiploic and gastric arcades) STOMACH_VESSELS per
#: STOMACH_VESSEL_STEP_MM of its height, 2-8 mm outside its wall and running along it (mostly
#: along the stomach's cranio-caudal axis, so an axial slice cuts them as dots); painted
#: into the fat only, so they show in the fat between the organs (the mesenteric vessels below
#: are the bowel's: :mod:`spinelab.synth.bowel`).
#: Radius and half-length ranges (mm). The counts are design values near the real DICOM slab
#: (0.98 mm, enhanced): round its stomach, left of and in front of the spine, it holds 1.6
#: small bright sections in fat per 1000 pixels of fat (tests/test_synth_stomach.py), vessels
#: and enhancing bowel alike; three generated contrast cases at its pixels 1.25-2.04 without
#: these vessels (their enhancing gut walls, :data:`tissues.GUT_WALL_ENHANCEMENT_HU`),
#: 2.14-2.39 with them; on the test trunk's tissue map 1.3 vessel sections per 1000 mm2 of
#: that fat.
UPPER_VESSELS_PER_SLICE = 30
UPPER_VESSEL_RADIUS_MM = (1.0, 2.5)
UPPER_VESSEL_HALF_LENGTH_MM = (2.0, 6.0)
STOMACH_VESSELS = 8
STOMACH_VESSEL_STEP_MM = 4.0
STOMACH_VESSEL_GAP_MM = (2.0, 8.0)


def _paint_capsule(
    pt: Painter,
    k: int,
    z: float,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    ra: float,
    rb: float,
    value: int,
    over: NDArray[np.bool_],
) -> None:
    """The section on slice ``k`` (height ``z``) of a tapered tube from ``a`` to ``b`` (x, y, z
    in mm; radius ``ra`` at ``a``, ``rb`` at ``b``, rounded ends), over the tissues marked in
    ``over``."""
    r_max = max(ra, rb)
    za, zb = float(a[2]), float(b[2])
    if z < min(za, zb) - r_max or z > max(za, zb) + r_max:
        return
    seg = b - a
    ll = float(seg @ seg)
    if ll < 1e-6:
        return
    # the part of the axis within r_max of the slice
    if abs(zb - za) > 1e-6:
        t0, t1 = sorted(((z - r_max - za) / (zb - za), (z + r_max - za) / (zb - za)))
        t0, t1 = max(t0, 0.0), min(t1, 1.0)
    else:
        t0, t1 = 0.0, 1.0
    xa, xb = a[0] + t0 * seg[0], a[0] + t1 * seg[0]
    ya, yb = a[1] + t0 * seg[1], a[1] + t1 * seg[1]
    i0, i1 = pt.grid.index_range(0, min(xa, xb) - r_max, max(xa, xb) + r_max)
    j0, j1 = pt.grid.index_range(1, min(ya, yb) - r_max, max(ya, yb) + r_max)
    if i1 <= i0 or j1 <= j0:
        return
    px = (pt.x[i0:i1] - a[0])[None, :]
    py = (pt.y[j0:j1] - a[1])[:, None]
    pz = z - za
    t = np.clip((px * seg[0] + py * seg[1] + pz * seg[2]) / ll, 0.0, 1.0)
    qx = px - t * seg[0]
    qy = py - t * seg[1]
    qz = pz - t * seg[2]
    rad = ra + (rb - ra) * t
    m = qx * qx + qy * qy + qz * qz <= rad * rad
    sub = pt.tissue[k, j0:j1, i0:i1]
    m &= over[sub]
    sub[m] = value


def _segment(pt: Painter, k: int, a: tuple[float, float], b: tuple[float, float], r: float) -> None:
    """A vessel of half-width ``r`` (mm) from ``a`` to ``b`` in slice ``k``, over fat and bowel."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    if length < 1.0 or r <= 0.3:
        return
    d = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
    cx, cy = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    _paint_rotated(pt, k, cx, cy, d, (-d[1], d[0]), length / 2 + r, r, _T.BLOOD, _PANCREAS_OVER)


def _paint_rotated(
    pt: Painter,
    k: int,
    cx: float,
    cy: float,
    d: tuple[float, float],
    nrm: tuple[float, float],
    ra: float,
    rb: float,
    value: int,
    over: NDArray[np.bool_] | None = None,
) -> None:
    """Paint an ellipse with half-axes ``ra`` along ``d`` and ``rb`` along ``nrm`` (unit), over
    the tissues marked in the lookup table ``over`` (default: over everything)."""
    if ra <= 0.0 or rb <= 0.0:
        return
    ex = math.hypot(ra * d[0], rb * nrm[0])
    ey = math.hypot(ra * d[1], rb * nrm[1])
    i0, i1 = pt.grid.index_range(0, cx - ex, cx + ex)
    j0, j1 = pt.grid.index_range(1, cy - ey, cy + ey)
    if i1 <= i0 or j1 <= j0:
        return
    dx = (pt.x[i0:i1] - cx)[None, :]
    dy = (pt.y[j0:j1] - cy)[:, None]
    p = (dx * (d[0] / ra) + dy * (d[1] / ra)) ** 2 + (dx * (nrm[0] / rb) + dy * (nrm[1] / rb)) ** 2
    sub = pt.tissue[k, j0:j1, i0:i1]
    m = p <= 1.0
    if over is not None:
        m &= over[sub]
    sub[m] = value
