"""Tissue classes of the synthetic label map and their CT numbers (HU).

The renderer (:mod:`spinelab.synth.render`) paints a tissue-class map (``uint8``, one value of
:class:`Tissue` per voxel) beside the per-vertebra label map; :mod:`spinelab.synth.ct` turns the
tissue map into Hounsfield units with :func:`sample_hu_table`.

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
    SOFT = 3  # generic soft tissue: bowel wall and content, neck organs
    LIVER = 4
    SPLEEN = 5
    KIDNEY = 6
    BLOOD = 7  # heart, aorta, vena cava
    LUNG = 8
    GAS = 9  # bowel, stomach and tracheal air
    WATER = 10  # bladder, cerebrospinal fluid
    BRAIN = 11
    DISC = 12
    CARTILAGE = 13  # costal cartilage
    CANCELLOUS = 14  # vertebral body core
    CORTICAL = 15  # cortical shells, endplates, posterior elements' shells
    MARROW = 16  # medulla of ribs, sternum, pelvis and skull
    METAL = 17  # pedicle screws and rods
    DENSE = 18  # posterior elements' core: trabecular bone a little denser than the body's
    SHELL = 19  # thin cortical shell of vertebral bodies and arches, spread over a fine voxel


N_TISSUES = len(Tissue)

#: Bone classes (cancellous, cortical, marrow): what "bone" means for masks and tests.
BONE: tuple[Tissue, ...] = (
    Tissue.CANCELLOUS,
    Tissue.CORTICAL,
    Tissue.MARROW,
    Tissue.DENSE,
    Tissue.SHELL,
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
#:   haematocrit, lower with anaemia).
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
}

#: Contrast-enhanced (portal venous) means that replace the table's, with their spread;
#: muscle enhances by about 5-10 HU.
CONTRAST_HU: dict[Tissue, tuple[float, float]] = {
    Tissue.BLOOD: (180.0, 50.0),
    Tissue.KIDNEY: (170.0, 35.0),
    Tissue.LIVER: (110.0, 15.0),
    Tissue.SPLEEN: (120.0, 15.0),
    Tissue.MUSCLE: (47.0, 7.0),
}

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
) -> NDArray[np.float32]:
    """Draw one case's mean HU per tissue class.

    Args:
        rng: Random generator.
        contrast: Use contrast-enhanced values for blood, kidney, liver, spleen and muscle.
        osteoporosis: Use low-density cancellous bone (and a weaker cortex).
        steatosis: Fatty liver (:data:`STEATOTIC_LIVER_HU`).

    Returns:
        ``(N_TISSUES,)`` float32 HU, indexed by :class:`Tissue` value.
    """
    table = dict(HU_TABLE)
    if contrast:
        table.update(CONTRAST_HU)
    if steatosis:
        table[Tissue.LIVER] = STEATOTIC_LIVER_CONTRAST_HU if contrast else STEATOTIC_LIVER_HU
    if osteoporosis:
        table[Tissue.CANCELLOUS] = OSTEOPOROTIC_CANCELLOUS_HU
        for t in (Tissue.CORTICAL, Tissue.SHELL):
            m, s = table[t]
            table[t] = (0.8 * m, s)
    out = np.zeros(N_TISSUES, dtype=np.float32)
    for t in Tissue:
        mean, spread = table[t]
        out[t] = mean + spread * float(np.clip(rng.standard_normal(), -2.5, 2.5))
    out[Tissue.METAL] = HU_TABLE[Tissue.METAL][0]
    out[Tissue.DENSE] += out[Tissue.CANCELLOUS]
    return out
