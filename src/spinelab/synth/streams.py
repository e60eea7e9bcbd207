"""Side streams of a case's random generator.

A case draws everything from one generator in a fixed order, so a new draw in the middle
would change every later one (and every image). Details added later draw from a *side
stream* instead: a copy of the generator's bit generator jumped ahead by ``jumps`` x 2^127
steps (``BitGenerator.jumped``), made without drawing from the generator or spawning from it.
The same generator state gives the same side stream, and the main stream's later draws and
spawns stay as they were. Each detail has its own jump count below (distinct, so no two side
streams taken from the same state coincide).
"""

from __future__ import annotations

import numpy as np

#: The reconstruction kernel (:func:`spinelab.synth.generator.draw_physics`).
KERNEL = 1
#: Degenerative bone changes (osteophytes, Schmorl's nodes).
DEGENERATION = 2
#: The body contour's fat distribution (:class:`spinelab.synth.render._BodyContour`).
CONTOUR = 5
#: The pelvis' fatty marrow field (:mod:`spinelab.synth.pelvis`).
MARROW = 7
#: The couch and its mattress (:class:`spinelab.synth.body.Couch`).
COUCH = 9
#: The colon's teniae and haustral rows (:func:`spinelab.synth.bowel.sacculated_radius`).
HAUSTRA = 11
#: Which degenerated discs hold vacuum gas.
VACUUM = 13
#: Which teeth carry metal fillings or crowns (:mod:`spinelab.synth.head`).
DENTAL = 15
#: The lungs' vessel trees (:mod:`spinelab.synth.lung_vessels`).
LUNG_VESSELS = 17
#: The scapulae's turn (:mod:`spinelab.synth.shoulder`).
SHOULDER = 19
#: The breasts' sizes and lattice (:mod:`spinelab.synth.breasts`).
BREASTS = 21
#: The lungs' gravity-dependent density gradient (:data:`spinelab.synth.tissues.LUNG_GRADIENT_HU_PER_MM`).
LUNG_GRADIENT = 23
#: The upper abdomen's vessels (:meth:`spinelab.synth.organs.OrganPlan.paint_vessels`).
UPPER_VESSELS = 25
#: Whether the case has positive oral contrast (:attr:`spinelab.synth.render.AnatomyParams.oral_contrast`).
ORAL_CONTRAST = 27
#: The mesenteric fat's strands (:class:`spinelab.synth.bowel.BowelField`).
MESENTERY = 29
#: The arteries' calcified plaques (:func:`spinelab.synth.vessels.draw_plaques`).
PLAQUES = 31
#: The randomized style's intensities of the tissue classes added after it was written
#: (:func:`spinelab.synth.randomize.randomized_writer`).
RANDOMIZED_LATE = 33
#: Degenerative spondylolisthesis (:func:`spinelab.synth.generator.draw_listhesis`).
LISTHESIS = 35
#: Kidney stones (:func:`spinelab.synth.organs.draw_kidney_stones`).
KIDNEY_STONES = 37
#: Hypoplastic last ribs (:func:`spinelab.synth.render.draw_short_last_ribs`).
SHORT_LAST_RIBS = 39
#: A sacralized last lumbar vertebra (:func:`spinelab.synth.vertebra_shape.draw_sacralization`).
SACRALIZATION = 41
#: Lumbar ribs on L1 (:func:`spinelab.synth.render.draw_lumbar_ribs`).
LUMBAR_RIBS = 43
#: Pelvic phleboliths (:func:`spinelab.synth.vessels.draw_phleboliths`).
PHLEBOLITHS = 45
#: Gallstones (:func:`spinelab.synth.organs.draw_gallstones`).
GALLSTONES = 47
#: Diffuse idiopathic skeletal hyperostosis (:func:`spinelab.synth.vertebra_shape.draw_dish`).
DISH = 49
#: Vertebral haemangiomas (:func:`spinelab.synth.vertebra_shape.draw_haemangiomas`).
HAEMANGIOMAS = 51
#: Bone islands (:func:`spinelab.synth.bone_islands.draw_bone_islands`).
BONE_ISLANDS = 53
#: Vertebral compression fractures' levels and shapes
#: (:func:`spinelab.synth.fractures.draw_fractures`).
FRACTURES = 55
#: Interbody cages in the instrumented lumbar discs (:func:`spinelab.synth.cages.draw_cages`).
CAGES = 57
#: Calcified intervertebral discs
#: (:func:`spinelab.synth.disc_calcification.draw_disc_calcifications`).
DISC_CALCIFICATION = 59
#: A median sternotomy (:func:`spinelab.synth.sternotomy.draw_sternotomy`).
STERNOTOMY = 61
#: An anterior cervical fusion (:func:`spinelab.synth.cages.draw_acdf`).
ACDF = 63
#: The randomized style's intensities for the classes from ``Tissue.CEMENT`` on
#: (:data:`spinelab.synth.randomize.RANDOMIZED_LATEST`). A side stream, not a child spawned
#: from one: a jumped bit generator carries a fresh, unseeded ``SeedSequence``, so children
#: spawned from it differ from run to run.
RANDOMIZED_LATEST = 65


def side_stream(rng: np.random.Generator, jumps: int) -> np.random.Generator:
    """A generator ``jumps`` x 2^127 steps ahead of ``rng``'s current state (``rng`` is not
    advanced). Where the bit generator cannot jump (e.g. ``SFC64``), a child spawned from
    ``rng`` (its later spawns then differ).
    """
    jumped = getattr(rng.bit_generator, "jumped", None)
    if jumped is None:
        return rng.spawn(1)[0]
    return np.random.Generator(jumped(jumps))
