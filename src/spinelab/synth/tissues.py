"""Tissue classes of the synthetic label map and their CT numbers (HU).

The renderer (:mod:`spinelab.synth.render`) paints a tissue-class map (``uint8``, one value of
:class:`Tissue` per voxel) beside the per-vertebra label map; :mod:`spinelab.synth.ct` turns the
tissue map into Hounsfield units with :func:`sample_hu_table`.

The colon's faeces are soft tissue (``SOFT``) holding small inclusions of ``FAECAL_GAS``, a
gas-rich mixture standing for the sub-millimetre gas of faecal matter, which partial volume
turns into the fine grey mottle of real faeces (not counted as ``GAS``, the visible gas
collections; see :mod:`spinelab.synth.bowel`).

HU figures are typical non-contrast adult values at fine (about 1 mm) resolution: cortical bone
is rendered at its true density (700-1300 HU) and only becomes the familiar 300-500 HU of thin
shells after partial-volume downsampling, as in a real scanner.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray


class Tissue(IntEnum):
    """Tissue classes of the synthetic label map (values of the ``uint8`` tissue map)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    SOFT = 3  # generic soft tissue: the gut's solid content (chyme, food, faeces), neck organs
    LIVER = 4
    SPLEEN = 5
    KIDNEY = 6
    BLOOD = 7  # heart, aorta, vena cava
    LUNG = 8
    GAS = 9  # bowel, stomach and tracheal air
    WATER = 10  # bladder, cerebrospinal fluid, renal pelvis, the eyes
    BRAIN = 11
    DISC = 12
    CARTILAGE = 13  # costal cartilage
    CANCELLOUS = 14  # vertebral body core
    CORTICAL = 15  # cortical shells, endplates, posterior elements' shells
    MARROW = 16  # medulla of ribs, sternum, pelvis and skull
    METAL = 17  # pedicle screws and rods
    DENSE = 18  # posterior elements' core: trabecular bone a little denser than the body's
    SHELL = 19  # thin cortical shell of vertebral bodies and arches, spread over a fine voxel
    PANCREAS = 20
    MEDULLA = 21  # renal medulla (pyramids); the cortex is KIDNEY
    ADRENAL = 22
    MYOCARDIUM = 23  # heart wall (ventricles and atria); the chambers are BLOOD
    FATTY_MARROW = 24  # yellow (fatty) marrow of the adult hip bones and proximal femora
    FAECAL_GAS = 25  # gas-rich faecal inclusions: the fine gas mottle of the colon's faeces
    COUCH = 26  # the CT couch's carbon-fibre skins
    FOAM = 27  # the couch's foam core and the mattress on it
    THYROID = 28  # the thyroid gland (its iodine: brighter than muscle without contrast)
    TOOTH = 29  # teeth (enamel and dentine)
    FILLING = 30  # dental restorations (amalgam, metal crowns)
    GUT_FLUID = 31  # fluid in the stomach and bowel (bright with positive oral contrast)
    GUT_WALL = 32  # the stomach's and bowel's wall (its mucosa enhances with contrast)
    MESENTERY = 33  # strands of the mesenteric fat (fibrous septa, small vessels, lymphatics)
    VISCERAL_FAT = 34  # the mesenteric fat between its strands (a little denser than FAT)
    PLAQUE = 35  # calcified atherosclerotic plaque in the arteries' walls
    STONE = 36  # kidney stones, pelvic phleboliths, dense gallstones, calcified discs
    CEMENT = 37  # vertebroplasty cement (barium-opacified PMMA)
    WIRE = 38  # thin steel (sternal wires): its physical attenuation before partial volume


N_TISSUES = len(Tissue)

#: Classes outside the patient: air and the couch (with its mattress).
OUTSIDE_BODY: tuple[Tissue, ...] = (Tissue.AIR, Tissue.COUCH, Tissue.FOAM)


def body_mask(tissue: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Where a tissue map holds the patient (anything but air and the couch;
    :func:`spinelab.synth.realism.hu_body_mask` finds the body in an image)."""
    return ~np.isin(tissue, OUTSIDE_BODY)


#: Fat: the subcutaneous and retroperitoneal fat (``FAT``) and the mesentery's
#: (``VISCERAL_FAT``); what vessels and organs painted into fat may cover.
FATS: tuple[Tissue, ...] = (Tissue.FAT, Tissue.VISCERAL_FAT)
#: Fat with the mesentery's strands in it: what organs and muscle painted into fat cover.
FAT_LIKE: tuple[Tissue, ...] = (*FATS, Tissue.MESENTERY)

#: Soft tissues that bone and cartilage painted over them replace (where the bowel or the
#: mesentery reaches a bone's place).
SOFT_TISSUES: tuple[Tissue, ...] = (
    *FATS,
    Tissue.MUSCLE,
    Tissue.SOFT,
    Tissue.GUT_WALL,
    Tissue.MESENTERY,
)

#: Bone classes (cancellous, cortical, marrow, fatty marrow): what "bone" means for masks and
#: tests.
BONE: tuple[Tissue, ...] = (
    Tissue.CANCELLOUS,
    Tissue.CORTICAL,
    Tissue.MARROW,
    Tissue.DENSE,
    Tissue.SHELL,
    Tissue.FATTY_MARROW,
)

#: (mean HU, between-case standard deviation of that mean) per tissue, non-contrast CT.
#: Draws are clipped at 2.5 SD. Soft tissues model an adult clinical population, not one
#: patient:
#:
#: * fat: -120..-80 HU (subcutaneous and visceral);
#: * skeletal muscle: 30-55 HU without contrast in most adults, falling with age and fatty
#:   infiltration (about 0.3-0.5 HU per year; L3 muscle of older patients often 30-40 HU,
#:   paraspinal lower; Goodpaster et al., J Appl Physiol 2000; van der Werf et al., Eur J Clin
#:   Nutr 2018); visible fat streaks are painted as fat (:func:`spinelab.synth.render`);
#: * liver: 55-65 HU when normal, about 8-10 HU above the spleen; hepatic steatosis (see
#:   :data:`STEATOTIC_LIVER_HU`);
#: * spleen 40-50, kidney 30-35, unenhanced blood 35-50 HU (about 40-45 at a normal
#:   haematocrit, lower with anaemia);
#: * pancreas 40-50 HU (lower with fatty infiltration, which is painted as fat between its
#:   lobules), adrenal limbs 10-30 HU (normal glands hold some lipid; Boland et al., AJR 1998:
#:   adenomas under 10 HU), myocardium 40-55 HU (a little above unenhanced blood);
#: * renal medulla: without contrast as the cortex (the pyramids are not seen), see
#:   :func:`sample_hu_table` for the enhanced phases.
#: The lungs' gravity-dependent density (supine: the posterior lung denser), HU per mm behind
#: the height LUNG_GRADIENT_REF_MM in front of the vertebral bodies' centres (less in front of
#: it; :func:`spinelab.synth.ct.lung_gradient`), drawn per case from this range. Mean lung
#: attenuation at the lung bases of 17 patients was up to 100 EMI units (about 200 HU) higher
#: in the posterior third than in the anterior third, less at full inspiration (J Comput
#: Assist Tomogr 1979;3:740); on the real example CT (3 mm, T12's centre slice, lung voxels
#: eroded by one) the lung behind the vertebral body's centre reads -843 / -793 / -697 HU
#: (10th / 50th / 90th percentile), on three generated cases with uniform lungs -885..-857 /
#: -855..-827 / -822..-790 (the Tissue.LUNG value is the lung's mean, -860 +- 30).
LUNG_GRADIENT_HU_PER_MM = (0.3, 1.0)
LUNG_GRADIENT_REF_MM = 40.0

HU_TABLE: dict[Tissue, tuple[float, float]] = {
    Tissue.AIR: (-1000.0, 5.0),
    Tissue.FAT: (-100.0, 8.0),
    Tissue.MUSCLE: (40.0, 7.0),
    Tissue.SOFT: (30.0, 10.0),
    Tissue.LIVER: (58.0, 4.0),
    Tissue.SPLEEN: (46.0, 3.0),
    Tissue.KIDNEY: (32.0, 3.0),
    Tissue.BLOOD: (41.0, 4.0),
    Tissue.LUNG: (-860.0, 30.0),
    Tissue.GAS: (-990.0, 8.0),
    Tissue.WATER: (8.0, 5.0),
    Tissue.BRAIN: (35.0, 4.0),
    Tissue.DISC: (85.0, 15.0),
    Tissue.CARTILAGE: (90.0, 25.0),  # uncalcified hyaline cartilage; calcified rims are CORTICAL
    # vertebral trabecular bone, L1-L4, non-contrast: about 250 HU at 20 years falling to about
    # 110 HU at 80 (Pickhardt et al., Ann Intern Med 2013, 1867 adults); a clinical population
    # of mixed ages averages 150-160 with a between-patient SD of about 40-50
    Tissue.CANCELLOUS: (150.0, 40.0),
    # compact bone at about 1 mm resolution (700-1200 HU measured in shells of a few voxels;
    # the pure tissue is denser): thin shells reach 300-700 HU only after partial volume
    Tissue.CORTICAL: (1000.0, 130.0),
    Tissue.MARROW: (230.0, 50.0),
    Tissue.METAL: (3071.0, 0.0),
    # posterior elements' trabecular core; :func:`sample_hu_table` draws it as the case's
    # cancellous value plus this excess, so both follow the patient's bone density
    Tissue.DENSE: (30.0, 20.0),
    # the vertebral shell is 0.4-0.7 mm of compact bone (Silva et al. 1994, Eswaran et al.
    # 2006), thinner than a fine voxel: painted 1.1-1.2 mm thick at a lower density, so a
    # 1 mm render grid samples it without gaps and it carries about the same mineral
    Tissue.SHELL: (650.0, 90.0),
    Tissue.PANCREAS: (44.0, 5.0),
    Tissue.MEDULLA: (31.0, 3.0),  # replaced by the cortex's value less 0-2 HU (uniform)
    Tissue.ADRENAL: (22.0, 6.0),
    Tissue.MYOCARDIUM: (47.0, 4.0),
    # trabecular bone whose marrow is yellow (fat, about -100 HU pure) around its trabeculae:
    # the real example's iliac body reads 3 and 60 HU at its 10th and 25th percentile, its
    # femoral neck 57 HU (median) at 3 mm (:data:`spinelab.synth.pelvis.FATTY_MARROW_SHARE`);
    # -20 HU here put the synthetic ones 30-60 HU lower
    Tissue.FATTY_MARROW: (15.0, 20.0),
    # faecal matter's gas-rich inclusions, 2-4 mm across, standing for sub-millimetre gas
    # bubbles mixed with faecal matter (:data:`spinelab.synth.bowel.FAECES_INCLUSION_MM`): a
    # whole voxel of it reads as a mixture, not as gas; at 3 mm the inclusions' partial
    # volume gives the isolated -600..-200 HU voxels of real faeces
    Tissue.FAECAL_GAS: (-850.0, 40.0),
    # the couch (:class:`spinelab.synth.body.Couch`): carbon-fibre skins about 2 mm thick over
    # a foam core, and a foam mattress. A real 0.98 mm PET/CT slab (Siemens, Br38f;
    # ../shared/data/ct/totalsegmentator_example/dicom_slab) reads 230-480 HU at the skins'
    # peaks (2-3 pixels each, blurred), -940 HU in the mattress and -900..-935 in the core
    Tissue.COUCH: (500.0, 100.0),
    Tissue.FOAM: (-930.0, 15.0),
    # the thyroid gland's iodine puts it above muscle on plain CT (normal glands about 80-120
    # HU); it enhances strongly with contrast (CONTRAST_HU)
    Tissue.THYROID: (100.0, 12.0),
    # teeth: enamel (about 2500-3000 HU, the crowns' 1-2 mm cap) over dentine (about
    # 1500-2000 HU), one class at their mixture over a 1 mm voxel
    Tissue.TOOTH: (2000.0, 200.0),
    # dental amalgam and metal crowns: far beyond the scale, stored at its top like METAL
    Tissue.FILLING: (3071.0, 0.0),
    # the stomach's and the bowel's fluid: water with some mucus and debris (fluid-filled
    # bowel loops read about 0-20 HU without oral contrast)
    Tissue.GUT_FLUID: (10.0, 5.0),
    # the gut's wall: without contrast the generic soft tissue's value (:func:`sample_hu_table`
    # sets it to SOFT's), with contrast its mucosa enhances (GUT_WALL_ENHANCEMENT_HU)
    Tissue.GUT_WALL: (30.0, 10.0),
    # the mesenteric fat's strands: the generic soft tissue's value (:func:`sample_hu_table`
    # sets it to SOFT's, without a draw of its own)
    Tissue.MESENTERY: (30.0, 10.0),
    # the mesenteric fat: the case's FAT value plus VISCERAL_FAT_OFFSET_HU (set in
    # :func:`sample_hu_table`)
    Tissue.VISCERAL_FAT: (-100.0, 8.0),
    # calcified plaque (:mod:`spinelab.synth.vessels`): compact calcium, as dense as compact
    # bone; the real example CT's 3 mm voxels over the common iliac arteries reach 1,397 HU, so
    # the calcium itself is denser than that (drawn from its own stream in sample_hu_table)
    Tissue.PLAQUE: (1400.0, 200.0),
    # kidney stones (:data:`spinelab.synth.organs.P_KIDNEY_STONES`): calcium stones read some
    # hundreds to over a thousand HU, uric acid stones less; the real example CT's 3 mm voxels
    # over its larger stones reach 1,288 HU (a design value, drawn from its own stream); the
    # pelvic phleboliths (:data:`spinelab.synth.vessels.P_PHLEBOLITHS`) take the same value
    Tissue.STONE: (1000.0, 250.0),
    # vertebroplasty cement: polymethylmethacrylate made radiopaque with barium sulfate (30 %
    # of it reads 2.4 times 10 % on CT in an animal study, doi 10.1002/jbm.a.30388); brighter
    # than compact bone on clinical CT, no figure found in the sources read (a design value,
    # drawn from its own stream)
    Tissue.CEMENT: (2500.0, 400.0),
    # thin steel wire (a median sternotomy's, about 1 mm): steel attenuates some 15 times as
    # much as water at CT energies (an order of magnitude, a design value), far beyond the
    # scale's 3,071 HU, so a wire thinner than a voxel still reads bright after partial volume
    # (the image is clipped to the scale at the end); no draw
    Tissue.WIRE: (15000.0, 0.0),
}

#: How much denser the mesenteric fat between its strands (``VISCERAL_FAT``) reads than the
#: case's subcutaneous fat (HU, a per-case range). On the real example CT (3 mm, L3-L5, fat
#: 6 mm or more from anything else: a 3 x 3 median in -170..-50 HU eroded twice) the fat of
#: the cavity more than 25 mm in front of the vertebral bodies and 30 mm inside the skin reads
#: -112 / -93 / -59 HU (10th / 50th / 90th percentile), the subcutaneous fat in front -118 /
#: -106 / -89: 13 HU higher at the median. The strands (:data:`spinelab.synth.bowel.
#: MESENTERY_STRAND_SHARE`) alone raise the median by 4-7 HU on six lumbar cases (the
#: measure's erosion leaves out the densest strands); this offset stands for the rest (the
#: mesentery's finer stroma and vessels).
VISCERAL_FAT_OFFSET_HU = (4.0, 10.0)

#: How far the stomach's and the bowel's wall (its mucosa) rises above the case's soft tissue
#: with intravenous contrast (portal venous phase), HU, a per-case range: the enhancing
#: mucosa gives the walls of fluid-filled loops and the folds of collapsed jejunum their
#: bright rims on enhanced CT (the real DICOM slab's jejunal loops beside its stomach). A design
#: range: nothing here measures it.
GUT_WALL_ENHANCEMENT_HU = (30.0, 70.0)

#: Positive oral contrast (diluted iodine or barium drunk before the scan, or the faecal
#: tagging of CT colonography) in the stomach's and the bowel's fluid: its mean HU and the
#: between-case spread (clipped at 2.5 spreads: 100-400 HU). Positive oral contrast in bowel
#: loops commonly reads some 150-350 HU; a design range (no real CT here holds it), meant to
#: show a network bright bowel beside the spine that is not bone.
ORAL_CONTRAST_HU = (250.0, 60.0)

#: Contrast-enhanced (portal venous) means that replace the table's, with their spread;
#: muscle enhances by about 5-10 HU, the pancreas to 90-120 HU (its parenchymal phase peaks
#: earlier, at 120-150), the adrenals to 50-80, the myocardium to 90-130 (well below the blood
#: pool). The kidney's value is the cortex's; the medulla follows the phase
#: (:data:`CORTICOMEDULLARY`).
CONTRAST_HU: dict[Tissue, tuple[float, float]] = {
    Tissue.BLOOD: (180.0, 50.0),
    Tissue.KIDNEY: (170.0, 35.0),
    Tissue.LIVER: (110.0, 15.0),
    Tissue.SPLEEN: (120.0, 15.0),
    Tissue.MUSCLE: (47.0, 7.0),
    Tissue.PANCREAS: (100.0, 15.0),
    Tissue.ADRENAL: (62.0, 12.0),
    Tissue.MYOCARDIUM: (105.0, 15.0),
    Tissue.THYROID: (160.0, 30.0),
}

#: Renal cortico-medullary differentiation with contrast: the share of contrast scans taken
#: early (the corticomedullary phase, 25-70 s after injection, including early portal venous
#: scans), when the medulla has gained only ``CORTICOMEDULLARY[1]`` (a range) of the cortex's
#: enhancement; later (nephrographic phase, from about 80-100 s) it has gained
#: ``CORTICOMEDULLARY[2]`` and the parenchyma looks uniform (Yuh and Cohan, AJR 1999: cortex
#: 150-200 HU, medulla 60-110 HU in the corticomedullary phase; Szolar et al., Radiology 1997).
CORTICOMEDULLARY = (0.45, (0.25, 0.55), (0.88, 1.0))

#: Hepatic steatosis (fatty liver; non-alcoholic fatty liver disease in about 25 % of adults,
#: Younossi et al., Hepatology 2016): the liver loses about 1.5-2 HU per percent of fat and
#: reads 20-45 HU without contrast (below 40 HU is moderate to severe steatosis; Kodama et al.,
#: AJR 2007; Park et al., Radiology 2006), so below the spleen instead of above it. With
#: contrast (portal venous) it enhances to 70-95 HU instead of 100-120.
STEATOTIC_LIVER_HU = (33.0, 5.0)
STEATOTIC_LIVER_CONTRAST_HU = (82.0, 8.0)

#: Osteoporotic cancellous bone (mean HU, spread).
OSTEOPOROTIC_CANCELLOUS_HU = (85.0, 25.0)

#: Within-structure texture amplitude (HU standard deviation of a smooth random field). For
#: cancellous bone it is the SD at 1 mm^3 voxels; :func:`spinelab.synth.ct.vertebra_texture`
#: lowers it for bigger voxels (about 24 HU at 3 mm: the real CT's L1-L4 cores have an
#: interquartile range of 40 HU, noise included).
TEXTURE_HU: dict[Tissue, float] = {
    Tissue.CANCELLOUS: 50.0,
    Tissue.MARROW: 40.0,
    Tissue.LIVER: 6.0,
    Tissue.SOFT: 15.0,
}


def sample_hu_table(
    rng: np.random.Generator,
    contrast: bool = False,
    osteoporosis: bool = False,
    steatosis: bool = False,
    oral_contrast: bool = False,
) -> NDArray[np.float32]:
    """Draw one case's mean HU per tissue class.

    Args:
        rng: Random generator.
        contrast: Use contrast-enhanced values (:data:`CONTRAST_HU`: blood, kidney, liver,
            spleen, muscle, pancreas, adrenals, myocardium, thyroid) and draw the renal
            medulla's phase (:data:`CORTICOMEDULLARY`); without contrast the medulla reads as
            the cortex.
        osteoporosis: Use low-density cancellous bone (and a weaker cortex).
        steatosis: Fatty liver (:data:`STEATOTIC_LIVER_HU`).
        oral_contrast: Positive oral contrast in the gut's fluid (:data:`ORAL_CONTRAST_HU`).

    Returns:
        ``(N_TISSUES,)`` float32 HU, indexed by :class:`Tissue` value.
    """
    table = dict(HU_TABLE)
    if contrast:
        table.update(CONTRAST_HU)
    if steatosis:
        table[Tissue.LIVER] = STEATOTIC_LIVER_CONTRAST_HU if contrast else STEATOTIC_LIVER_HU
    if oral_contrast:
        table[Tissue.GUT_FLUID] = ORAL_CONTRAST_HU
    if osteoporosis:
        table[Tissue.CANCELLOUS] = OSTEOPOROTIC_CANCELLOUS_HU
        for t in (Tissue.CORTICAL, Tissue.SHELL):
            m, s = table[t]
            table[t] = (0.8 * m, s)
    # the organ classes added later draw from a child stream, so the caller's stream (and so
    # every later draw of the case) stays where it was
    sub = rng.spawn(1)[0]
    # the fatty marrow from a grandchild stream: the organs' draws stay as they were too
    fatty = sub.spawn(1)[0]
    # and the faecal inclusions from one of the fatty marrow's (its draws stay as they were),
    # the couch from one of theirs (the thyroid after the couch's two, from the same stream)
    faecal = fatty.spawn(1)[0]
    couch = faecal.spawn(1)[0]
    out = np.zeros(N_TISSUES, dtype=np.float32)
    for t in Tissue:
        if t in (
            Tissue.MESENTERY,
            Tissue.VISCERAL_FAT,
            Tissue.PLAQUE,
            Tissue.STONE,
            Tissue.CEMENT,
            Tissue.WIRE,
        ):
            continue  # (no draw of their own here: set from SOFT's and FAT's, or drawn below)
        mean, spread = table[t]
        if t < Tissue.PANCREAS:
            r = rng
        elif t < Tissue.FATTY_MARROW:
            r = sub
        else:
            r = fatty if t < Tissue.FAECAL_GAS else faecal if t < Tissue.COUCH else couch
        out[t] = mean + spread * float(np.clip(r.standard_normal(), -2.5, 2.5))
    # the gut's wall: the soft tissue's value, and its mucosa's enhancement (from the couch's
    # stream, whose other draws stay as they were)
    out[Tissue.GUT_WALL] = out[Tissue.SOFT]
    out[Tissue.MESENTERY] = out[Tissue.SOFT]
    out[Tissue.VISCERAL_FAT] = out[Tissue.FAT] + float(couch.uniform(*VISCERAL_FAT_OFFSET_HU))
    if contrast:
        out[Tissue.GUT_WALL] += float(couch.uniform(*GUT_WALL_ENHANCEMENT_HU))
    # the calcified plaques from a child of the couch's stream (its draws stay as they were)
    mean, spread = table[Tissue.PLAQUE]
    out[Tissue.PLAQUE] = mean + spread * float(
        np.clip(couch.spawn(1)[0].standard_normal(), -2.5, 2.5)
    )
    # and the kidney stones from a second child
    mean, spread = table[Tissue.STONE]
    out[Tissue.STONE] = mean + spread * float(
        np.clip(couch.spawn(1)[0].standard_normal(), -2.5, 2.5)
    )
    # and the vertebroplasty cement from a third
    mean, spread = table[Tissue.CEMENT]
    out[Tissue.CEMENT] = mean + spread * float(
        np.clip(couch.spawn(1)[0].standard_normal(), -2.5, 2.5)
    )
    out[Tissue.METAL] = HU_TABLE[Tissue.METAL][0]
    out[Tissue.WIRE] = HU_TABLE[Tissue.WIRE][0]
    out[Tissue.FILLING] = HU_TABLE[Tissue.FILLING][0]
    out[Tissue.DENSE] += out[Tissue.CANCELLOUS]
    # renal medulla: uniform with the cortex without contrast and late; darker early
    if contrast:
        plain = HU_TABLE[Tissue.KIDNEY][0]
        p_early, early, late = CORTICOMEDULLARY
        gain = float(sub.uniform(*(early if sub.random() < p_early else late)))
        out[Tissue.MEDULLA] = plain + gain * (out[Tissue.KIDNEY] - plain)
    else:
        out[Tissue.MEDULLA] = out[Tissue.KIDNEY] - float(sub.uniform(0.0, 2.0))
    return out
