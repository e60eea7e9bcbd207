"""Public API of the synthetic spine CT generator.

Example:
    >>> from spinelab.synth.generator import SynthConfig, generate_case
    >>> case = generate_case(0, SynthConfig(fov="lumbar", spacing_mm=(2.0, 2.0, 3.0)))
    >>> case.ct.array.dtype, case.centroids.labels[:2]      # doctest: +SKIP
    (dtype('int16'), ['T12', 'L1'])

One case is made in four steps:

1. A spine (:class:`~spinelab.synth.geometry.SpineGeometry`) is sampled from the shape model
   fitted on real spines (:mod:`spinelab.synth.shape_model`), or given by the caller.
2. A field of view (which vertebrae, margins), output spacing, body size and pathologies are
   drawn from :class:`SynthConfig`.
3. The label maps are painted on a fine (about 1 mm) axis-aligned grid
   (:mod:`spinelab.synth.render`) and turned into HU with partial volume, texture, metal
   streaks, noise and blur (:mod:`spinelab.synth.ct`), or into a domain-randomized image
   (:mod:`spinelab.synth.randomize`).
4. The voxel grid is given a random axis permutation and flips (the affine follows, so world
   geometry is unchanged).

Field-of-view convention: ``centroids`` lists exactly the vertebrae whose body centre lies inside
the image; the label map holds those plus any vertebra cut by the image border (partially
visible, centre outside), as in VerSe's masks. The label map never holds a vertebra that is not
visible at all.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from spinelab import anatomy
from spinelab.structures import Centroids, Volume
from spinelab.synth import (
    antialias,
    bone_islands,
    cages,
    disc_calcification,
    fractures,
    head,
    organs,
    parallel,
    sternotomy,
    streams,
    vessels,
)
from spinelab.synth import ct as ctphys
from spinelab.synth import vertebra_shape as vshape
from spinelab.synth.arms import ARM_FOV_MARGIN_MM, P_ARMS_DOWN
from spinelab.synth.arrays import copy_tiled
from spinelab.synth.body import supine
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.randomize import randomized_writer
from spinelab.synth.render import (
    P_LUMBAR_RIB,
    P_LUMBAR_RIB_L6,
    P_SHORT_LAST_RIB,
    AnatomyParams,
    RenderGrid,
    draw_lumbar_ribs,
    draw_short_last_ribs,
    render_labels,
)
from spinelab.synth.streams import side_stream
from spinelab.synth.tissues import (
    LUNG_GRADIENT_HU_PER_MM,
    LUNG_GRADIENT_REF_MM,
    TEXTURE_HU,
    Tissue,
    sample_hu_table,
)

log = logging.getLogger(__name__)

#: Named fields of view: (first label, last label) whose centres the image must contain.
FOV_RANGES: dict[str, tuple[str, str]] = {
    "whole": ("C1", "S2"),
    "cervical": ("C1", "C7"),
    "thoracic": ("T1", "T12"),
    "lumbar": ("L1", "S2"),
    "thoracolumbar": ("T8", "S2"),
}
FOV_CHOICES: tuple[str, ...] = ("random", *FOV_RANGES)
STYLES: tuple[str, ...] = ("ct", "randomized")
#: Probabilities of the named fields of view when ``fov="random"``.
RANDOM_FOV_WEIGHTS: dict[str, float] = {
    "whole": 0.1,
    "cervical": 0.15,
    "thoracic": 0.2,
    "lumbar": 0.3,
    "thoracolumbar": 0.25,
}
GENERATOR_VERSION = 1

#: Values of :attr:`SynthConfig.antialias`.
ANTIALIAS_MODES = ("spine", "bone", "off")


#: Degenerative spondylolisthesis: a vertebra and the spine above it slipped forward on the
#: one below, the facet joints and the disc giving way (no defect in the arch). In a
#: community sample aged 40-80 scanned by CT (Framingham, Kalichman et al., Spine 2009) 23 of
#: 188 had it (24 segments), three times as often women as men, more with age; degenerative
#: slips are mostly grade I (under a quarter of the lower body's depth), most often at L4-L5.
#: The share of cases, the slipped vertebra's weights and the grades (fractions of the lower
#: body's depth, with their weights) below are design values after that. The shape model
#: cannot make such a step: its vertebrae lie on a smooth centre line, each body's axis along
#: it, so a forward offset there comes with a tilt.
P_LISTHESIS = 0.1
LISTHESIS_LEVELS: dict[str, float] = {"L4": 0.6, "L5": 0.25, "L3": 0.15}
LISTHESIS_GRADES: tuple[tuple[float, float, float], ...] = ((0.85, 0.06, 0.25), (0.15, 0.25, 0.45))


@dataclass(frozen=True)
class SynthConfig:
    """How synthetic cases are drawn. Saved into every case's ``meta`` (and its JSON).

    Attributes:
        style: ``"ct"`` (HU with CT physics) or ``"randomized"`` (SynthSeg-style intensities,
            arbitrary units: a network trained on them reads each image by its own range,
            e.g. ``spinelab.nets.heatmap.HeatmapNetConfig(intensity="image")``).
        fov: ``"random"`` or one of :data:`FOV_RANGES` (whole, cervical, thoracic, lumbar,
            thoracolumbar).
        spacing_mm: Fixed output spacing ``(in-plane x, in-plane y, slice)`` in mm; None draws
            it from the two ranges below.
        inplane_mm_range: Range of the in-plane pixel size (mm).
        slice_mm_range: Range of the slice spacing/thickness (mm).
        max_inplane: Largest in-plane matrix (voxels); the body is cropped around the spine
            when it does not fit (spine-centred reconstructions).
        max_slices: Largest number of slices; the slice spacing is raised to fit the FOV.
        render_mm: Target size of the fine render grid (mm); the output is its block average.
        max_fine_voxels: Cap on the fine grid size (supersampling is reduced to fit).
        antialias: Sub-voxel make-up of tissue boundaries (:mod:`spinelab.synth.antialias`:
            bone, fat against the other soft tissue, the body against air): smooth edges and
            thin cortex where the fine grid is the output grid, instead of the painted voxel
            staircase. ``"spine"`` (default): the vertebrae's boxes (0.3 s per 512x512x300
            case); ``"bone"``: boxes round every bone, ribs, pelvis and limbs included (1.0 s);
            ``"off"``: whole voxels. The label maps are the same either way.
        random_orientation: Randomly permute and flip the voxel axes (the affine follows).
        margin_mm_range: Extra field of view beyond C1 or the last vertebra's centre (mm).
        margin_fraction_range: Elsewhere the image ends this fraction of the way from the
            first/last centre to the next one, so the next centre stays outside.
        pelvis_mm_range: Field of view below S2's centre when the FOV reaches S2 (mm). The hip
            joint centres lie about 70 mm below S2's centre (:data:`spinelab.synth.pelvis.PELVIS_HIP_MM`), the
            pubic symphysis's lower border about 105 mm, the ischial tuberosities and lesser
            trochanters 125-140 mm. Abdomen-pelvis and CT colonography protocols run to the
            symphysis or below, and lumbar spine series (VerSe) from just below S1 to the whole
            pelvis; the range (30, 170) gives about half the cases the hips and some femur
            (under 0.2 with the former (20, 110), which mostly stopped above the hip joints).
        extend_levels: Random extension of a named FOV by up to this many vertebrae each end.
        p_transitional: Probability of a T13 or L6 (half each), when the shape model has them.
        p_scoliosis: Probability of a scoliotic spine; ``scoliosis_deg_max`` bounds its angle.
        scoliosis_deg_max: Largest scoliosis (Cobb-like) angle (degrees).
        body_scale_range: Range of the body-size factor.
        fat_mm_range: Range of the subcutaneous fat thickness (mm).
        muscle_fat_range: Range of the mean fraction of muscle turned into fat septa (fatty
            infiltration, heaviest behind the spine, about 1.6x the mean there; the real
            example's paraspinal muscles measure 22 HU, lean muscle 45). Drawn as
            ``lo + (hi - lo) u**2`` (``u`` uniform): most cases lean, a few elderly-like ones
            near ``hi``. Dixon MRI of healthy volunteers aged 20-62 measures 15-18 % fat signal
            in multifidus and erector spinae, rising with age (Crawford et al., AJNR 2016); the
            fat CT resolves as septa is assumed to be a smaller share of that.
        p_fracture: Probability of one or two vertebral compression fractures (wedge,
            endplate and crush shapes, levels and severities:
            :func:`spinelab.synth.fractures.draw_fractures`).
        fracture_loss_range: Range of the fraction of a fractured body's height lost at its
            deepest point (the severities' shares restricted to it).
        p_vertebroplasty: Probability that a fractured vertebra holds vertebroplasty cement
            (:data:`spinelab.synth.fractures.P_VERTEBROPLASTY`).
        p_osteoporosis: Probability of osteoporotic bone (low HU, thin cortex).
        p_degenerated: Probability of degenerated lumbar discs (narrowed; each lumbar disc
            of such a case with probability 0.5).
        disc_loss_range: Range of the fraction of a degenerated disc's height lost.
        p_listhesis: Probability of a degenerative spondylolisthesis (:func:`draw_listhesis`,
            :func:`slip_vertebrae`).
        p_kidney_stones: Probability of kidney stones
            (:func:`spinelab.synth.organs.draw_kidney_stones`).
        p_short_last_rib: Probability of hypoplastic last ribs
            (:func:`spinelab.synth.render.draw_short_last_ribs`).
        p_sacralization: Probability of a sacralized last lumbar vertebra
            (:func:`spinelab.synth.vertebra_shape.draw_sacralization`).
        p_phleboliths: Probability of pelvic phleboliths
            (:func:`spinelab.synth.vessels.draw_phleboliths`).
        p_gallstones: Probability of gallstones (:func:`spinelab.synth.organs.draw_gallstones`).
        p_dish: Probability of diffuse idiopathic skeletal hyperostosis
            (:func:`spinelab.synth.vertebra_shape.draw_dish`).
        p_haemangioma: Probability of vertebral haemangiomas
            (:func:`spinelab.synth.vertebra_shape.draw_haemangiomas`).
        p_bone_islands: Probability of bone islands (enostoses;
            :func:`spinelab.synth.bone_islands.draw_bone_islands`).
        p_lumbar_rib_l6, p_lumbar_rib: Probability of ribs on L1 in a spine with an L6 and
            in any other (:func:`spinelab.synth.render.draw_lumbar_ribs`).
        p_vacuum: Probability that a degenerated disc holds vacuum gas (irregular clefts).
        p_metal: Probability of pedicle screws and rods (with streaks).
        p_cage: Probability of an interbody cage in each lumbar disc between screwed
            vertebrae (:data:`spinelab.synth.cages.P_CAGE`).
        p_disc_calcification: Probability of calcified intervertebral discs
            (:data:`spinelab.synth.disc_calcification.P_DISC_CALCIFICATION`).
        p_sternotomy: Probability of a median sternotomy's wires
            (:data:`spinelab.synth.sternotomy.P_STERNOTOMY`).
        p_acdf: Probability of an anterior cervical fusion (plate, screws and cages,
            :data:`spinelab.synth.cages.P_ACDF`).
        p_fillings: Probability of metal dental restorations (with streaks; drawn for every
            case, painted where the head is in view: :func:`spinelab.synth.head.draw_fillings`).
        p_contrast: Probability of contrast-enhanced vessels and organs.
        p_oral_contrast: Probability of positive oral contrast in the stomach's and the
            bowel's fluid (:data:`spinelab.synth.tissues.ORAL_CONTRAST_HU`; a design value:
            routine in some centres' abdominal CT, in CT colonography's faecal tagging, absent
            in others').
        p_calcified: Probability of calcified plaques in the abdominal aorta and the common
            iliac arteries (:mod:`spinelab.synth.vessels`: any abdominal aortic calcium in
            under 16 % of healthy adults younger than 45, nearly 90 % over 65).
        p_steatosis: Probability of a fatty liver (hepatic steatosis, 25-30 % of adults).
        p_arms_down: Probability of arms down beside the body (:mod:`spinelab.synth.arms`);
            the others are scanned with the arms raised out of the field of view.
        noise_hu_range: Range of the image noise standard deviation (HU, at 1 mm slices;
            thicker slices are less noisy, as ``1/sqrt(slice mm)``): 7-20 HU at 5 mm and
            9-25 HU at 3 mm, median 13.4 and 17.3: meant to span routine abdominal CT across
            dose levels and kernels (noise indices of roughly 11-15 HU at 5 mm are common
            settings; a working figure, not taken from a cited source). The real example CT
            measures 16.3 HU in the subcutaneous fat at 3 mm, about 0.9x the body median,
            inside the range (it was in the top fifth of the old (14, 40) range).
        blur_mm_range: Range of the in-plane PSF sigma (mm) of the soft kernels.
        p_sharp_kernel: Share of cases reconstructed with a sharp (bone) kernel, e.g. Siemens
            B60f/B70f, GE BONE, Philips D/YB, as many spine CT series are (VerSe, trauma and
            orthopaedic spine protocols); the others get a soft/standard body kernel. A sharp
            kernel's transfer function is the Gaussian PSF's times an edge boost
            ``1 + a (1 - exp(-(f / fb)^2))`` (:func:`ct.kernel_boost`): the MTF rises to
            1.05-1.6 at 0.15-0.35 cycles/mm (bright overshoot at the cortex, a dark undershoot
            halo outside it) and the noise is finer-grained and louder. Design figures: bone
            kernels' MTF peaks of about 1.1-1.5 and noise 2-4x the standard kernel's at the
            same dose are typical of published kernel comparisons, not measured here (the
            shared real CT is a soft Br38f reconstruction).
        sharp_blur_mm_range: Range of the Gaussian PSF sigma (mm) of the sharp kernels (the
            noise power spectrum then peaks at 0.3-0.5 cycles/mm instead of 0.1-0.3).
        sharp_boost_range: Range of the edge boost ``a`` of the sharp kernels.
        sharp_boost_freq_range: Range of the boost's onset frequency ``fb`` (cycles/mm).
        sharp_noise_factor_range: Range of the factor on the drawn noise SD for sharp kernels.
        sharp_iterative_factor: Factor on the drawn iterative strength for sharp kernels (bone
            kernels keep their fine grain; a strong roll-off would make them soft again).
        aec_range: Range of the tube-current modulation exponent (:class:`ct.Physics`).
        iterative_range: Range of the iterative-reconstruction strength, drawn in 60 % of the
            cases (the others: plain filtered back-projection, 0).
        slice_overlap_range: Range of the noise slice-sensitivity FWHM over the slice spacing,
            drawn in half of the cases (the others: 1, contiguous slices).
        p_starvation: Probability of photon-starvation streaks; ``starvation_hu_range`` bounds
            their amplitude (HU at the reference path, stronger in larger patients).
        bone_bh_range: Range of the bone beam-hardening coefficient (1/mm).
        water_bh_range: Range of the residual water beam-hardening coefficient (1/mm).
    """

    style: str = "ct"
    fov: str = "random"
    spacing_mm: tuple[float, float, float] | None = None
    inplane_mm_range: tuple[float, float] = (0.3, 1.5)
    slice_mm_range: tuple[float, float] = (0.5, 5.0)
    max_inplane: int = 512
    max_slices: int = 400
    render_mm: float = 1.0
    max_fine_voxels: int = 60_000_000
    antialias: str = "spine"
    random_orientation: bool = True
    margin_mm_range: tuple[float, float] = (10.0, 40.0)
    margin_fraction_range: tuple[float, float] = (0.2, 0.45)
    pelvis_mm_range: tuple[float, float] = (30.0, 170.0)
    extend_levels: int = 2
    p_transitional: float = 0.08
    p_scoliosis: float = 0.15
    scoliosis_deg_max: float = 30.0
    body_scale_range: tuple[float, float] = (0.88, 1.15)
    fat_mm_range: tuple[float, float] = (5.0, 40.0)
    muscle_fat_range: tuple[float, float] = (0.0, 0.15)
    p_fracture: float = 0.15
    fracture_loss_range: tuple[float, float] = (0.1, 0.55)
    p_vertebroplasty: float = fractures.P_VERTEBROPLASTY
    p_osteoporosis: float = 0.2
    p_degenerated: float = 0.3
    disc_loss_range: tuple[float, float] = (0.3, 0.6)
    p_listhesis: float = P_LISTHESIS
    p_kidney_stones: float = organs.P_KIDNEY_STONES
    p_short_last_rib: float = P_SHORT_LAST_RIB
    p_sacralization: float = vshape.P_SACRALIZATION
    p_phleboliths: float = vessels.P_PHLEBOLITHS
    p_gallstones: float = organs.P_GALLSTONES
    p_dish: float = vshape.P_DISH
    p_haemangioma: float = vshape.P_HAEMANGIOMA
    p_bone_islands: float = bone_islands.P_BONE_ISLANDS
    p_lumbar_rib_l6: float = P_LUMBAR_RIB_L6
    p_lumbar_rib: float = P_LUMBAR_RIB
    p_vacuum: float = 0.4
    p_metal: float = 0.08
    p_cage: float = cages.P_CAGE
    p_disc_calcification: float = disc_calcification.P_DISC_CALCIFICATION
    p_sternotomy: float = sternotomy.P_STERNOTOMY
    p_acdf: float = cages.P_ACDF
    p_fillings: float = head.P_FILLINGS
    p_contrast: float = 0.5
    p_oral_contrast: float = 0.25
    p_calcified: float = vessels.P_CALCIFIED
    p_steatosis: float = 0.27
    p_arms_down: float = P_ARMS_DOWN
    noise_hu_range: tuple[float, float] = (16.0, 44.0)
    blur_mm_range: tuple[float, float] = (0.35, 0.9)
    p_sharp_kernel: float = 0.35
    sharp_blur_mm_range: tuple[float, float] = (0.2, 0.4)
    sharp_boost_range: tuple[float, float] = (0.3, 0.8)
    sharp_boost_freq_range: tuple[float, float] = (0.15, 0.3)
    sharp_noise_factor_range: tuple[float, float] = (2.0, 3.5)
    sharp_iterative_factor: float = 0.3
    aec_range: tuple[float, float] = (0.2, 0.8)
    iterative_range: tuple[float, float] = (0.3, 1.5)
    slice_overlap_range: tuple[float, float] = (1.0, 1.6)
    p_starvation: float = 0.4
    starvation_hu_range: tuple[float, float] = (1.5, 6.0)
    bone_bh_range: tuple[float, float] = (0.0, 0.002)
    water_bh_range: tuple[float, float] = (0.0, 1.0e-5)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.fov not in FOV_CHOICES:
            raise ValueError(f"fov must be one of {', '.join(FOV_CHOICES)}, got {self.fov!r}")
        if self.spacing_mm is not None and (len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0):
            raise ValueError("spacing_mm must be 3 positive numbers")
        if self.render_mm <= 0:
            raise ValueError("render_mm must be positive")
        if self.antialias not in ANTIALIAS_MODES:
            raise ValueError(
                f"antialias must be one of {', '.join(ANTIALIAS_MODES)}, got {self.antialias!r}"
            )
        for f in dataclasses.fields(self):  # every p_* field is a probability
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{f.name} must be a probability in [0, 1], got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict of all fields."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }


@dataclass
class SynthCase:
    """One synthetic case, in memory.

    Attributes:
        ct: int16 image (HU for ``style="ct"``, arbitrary units 0-2000 for ``"randomized"``).
        labels: uint8 per-vertebra label map (VerSe ids, S2 = 29), same grid as ``ct``.
        centroids: Vertebral-body centres (LPS mm) of the vertebrae whose centre is in the image.
        geometry: The whole rendered spine (LPS mm), including vertebrae outside the image.
        meta: Seed, config, drawn parameters; JSON-serializable.
    """

    ct: Volume
    labels: Volume
    centroids: Centroids
    geometry: SpineGeometry
    meta: dict[str, Any] = field(default_factory=dict)


def case_seed(seed: int, index: int) -> int:
    """Seed of case ``index`` in a run started with ``seed`` (independent streams)."""
    ss = np.random.SeedSequence([int(seed), int(index)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def generate_cases(
    n: int, seed: int, config: SynthConfig | None = None, workers: int = 1
) -> Iterator[SynthCase]:
    """Yield ``n`` cases; case ``i`` is ``generate_case(case_seed(seed, i), config)``, each
    made by ``workers`` processes (see :func:`generate_case`)."""
    for i in range(n):
        yield generate_case(case_seed(seed, i), config, workers=workers)


def sample_geometry(rng: np.random.Generator, config: SynthConfig) -> SpineGeometry:
    """Draw a whole spine from the default shape model (fitted on real spines)."""
    from spinelab.synth.shape_model import SpineShapeModel

    transitional = None
    if rng.random() < config.p_transitional:
        transitional = "T13" if rng.random() < 0.5 else "L6"
    scol = 0.0
    if rng.random() < config.p_scoliosis:
        scol = float(rng.uniform(8.0, config.scoliosis_deg_max))
    scale = float(rng.uniform(0.92, 1.08))
    model = SpineShapeModel.load_default()
    return model.sample(rng, transitional=transitional, scoliosis_deg=scol, scale=scale)


def draw_physics(rng: np.random.Generator, cfg: SynthConfig, slice_mm: float) -> ctphys.Physics:
    """Scanner parameters of one case (:class:`ct.Physics`), drawn from the config's ranges.

    The noise SD is drawn for 1 mm slices (``noise_hu_range``) and falls as the square root of
    the slice thickness above 1 mm (more photons per voxel). A sharp kernel
    (``p_sharp_kernel``) replaces the PSF sigma, multiplies the noise SD and scales down the
    iterative strength (:class:`SynthConfig`).

    Args:
        rng: Random generator, drawn in this order: noise SD, blur, metal streak amplitude,
            AEC, iterative (1 or 2 draws), slice overlap (1 or 2), starvation (1 or 2), bone
            and water beam hardening (9 to 12 draws). The kernel (its choice, then a sharp
            kernel's noise factor, PSF sigma, edge boost and boost frequency: 5 draws, made
            for every case) is drawn from a side stream
            (:func:`spinelab.synth.streams.side_stream`, jumped ahead of rng's state; rng
            itself is not advanced by it), so the same generator state gives
            the same kernel, and a case differs from its twin with another ``p_sharp_kernel``
            only in the kernel.
        cfg: Sampling settings.
        slice_mm: Slice thickness (spacing along z, mm).

    Returns:
        The physics parameters.
    """
    noise_hu = float(rng.uniform(*cfg.noise_hu_range)) / math.sqrt(max(slice_mm, 1.0))
    blur_mm = float(rng.uniform(*cfg.blur_mm_range))
    streak_hu = float(rng.uniform(250.0, 600.0))
    aec = float(rng.uniform(*cfg.aec_range))
    iterative = float(rng.uniform(*cfg.iterative_range)) if rng.random() < 0.6 else 0.0
    slice_overlap = float(rng.uniform(*cfg.slice_overlap_range)) if rng.random() < 0.5 else 1.0
    starvation_hu = (
        float(rng.uniform(*cfg.starvation_hu_range)) if rng.random() < cfg.p_starvation else 0.0
    )
    bone_bh = float(rng.uniform(*cfg.bone_bh_range))
    water_bh = float(rng.uniform(*cfg.water_bh_range))
    # the kernel comes from its own stream, without advancing rng: the case's other draws are
    # those of a generator without kernels (soft-kernel cases are unchanged) and a case
    # differs from its other-kernel twin only in the kernel
    krng = side_stream(rng, streams.KERNEL)
    sharp = bool(krng.random() < cfg.p_sharp_kernel)
    noise_factor = float(krng.uniform(*cfg.sharp_noise_factor_range))
    sharp_blur_mm = float(krng.uniform(*cfg.sharp_blur_mm_range))
    sharp_boost = float(krng.uniform(*cfg.sharp_boost_range))
    sharp_freq = float(krng.uniform(*cfg.sharp_boost_freq_range))
    kernel, edge_boost, boost_freq = "soft", 0.0, 0.25
    if sharp:
        kernel, edge_boost, boost_freq = "sharp", sharp_boost, sharp_freq
        noise_hu *= noise_factor
        blur_mm = sharp_blur_mm
        iterative *= cfg.sharp_iterative_factor
    return ctphys.Physics(
        noise_hu=noise_hu,
        blur_mm=blur_mm,
        kernel=kernel,
        edge_boost=edge_boost,
        boost_freq=boost_freq,
        streak_hu=streak_hu,
        aec=aec,
        iterative=iterative,
        slice_overlap=slice_overlap,
        starvation_hu=starvation_hu,
        bone_bh=bone_bh,
        water_bh=water_bh,
    )


def generate_case(
    seed: int,
    config: SynthConfig | None = None,
    geometry: SpineGeometry | None = None,
    workers: int = 1,
) -> SynthCase:
    """Make one synthetic case; the same seed (and config) gives identical arrays.

    Args:
        seed: Non-negative integer seed.
        config: Sampling settings (default :class:`SynthConfig`).
        geometry: A spine to render instead of sampling one from the shape model.
        workers: Processes that render the case (the arrays are the same for any number;
            measured on the 2-core VM, 2026-12-03: two make a 512x512x300 case 1.2-1.36 times
            as fast as one, ``benchmarks/synth_speed.py``). Forked on
            Linux while no other Python thread runs, else 1 (see
            :mod:`spinelab.synth.parallel`). Leave it at 1 where cases are already made in
            parallel (data-loader workers, ``spinelab synth --workers``).

    Returns:
        The case; see :class:`SynthCase`.
    """
    cfg = config if config is not None else SynthConfig()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), GENERATOR_VERSION]))
    geo_rng, rng = rng.spawn(2)
    geo = geometry if geometry is not None else sample_geometry(geo_rng, cfg)
    fov_name, lo_label, hi_label = _draw_fov(rng, cfg, geo)
    params = _draw_params(rng, cfg, geo)
    if params.degenerated_discs:
        loss = float(rng.uniform(*cfg.disc_loss_range))
        geo = narrow_discs(geo, params.degenerated_discs, loss)
    if params.listhesis:
        geo = slip_vertebrae(geo, params.listhesis)
    if params.fractures:
        geo = fractures.fracture_geometry(geo, params.fractures)
    if geometry is None:  # a sampled spine stands upright; a given one keeps its pose
        geo = supine(geo, params)
    z_top, z_bot = _fov_z(rng, cfg, geo, lo_label, hi_label)
    out_grid, factors, fine_grid = _draw_grid(
        rng, cfg, geo, params, z_bot, z_top, lo_label, hi_label
    )
    t0 = time.perf_counter()
    res = render_labels(geo, fine_grid, params, rng, workers)
    vert = ctphys.block_centre(res.vertebrae, factors)
    blend = None
    if cfg.antialias != "off":
        regions = (
            antialias.spine_regions(res.boxes, res.tissue.shape)
            if cfg.antialias == "spine"
            else antialias.bone_regions(res.tissue)
        )
        blend = antialias.edge_blend(res.tissue, regions)
    t1 = time.perf_counter()
    spacing_kji = (out_grid.spacing_mm[2], out_grid.spacing_mm[1], out_grid.spacing_mm[0])
    affine_ijk = out_grid.affine_lps_ijk()
    physics = draw_physics(rng, cfg, spacing_kji[0])
    lung_hu_per_mm: float | None = None
    if cfg.style == "ct":
        lut = sample_hu_table(
            rng,
            contrast=params.contrast,
            osteoporosis=params.osteoporosis,
            steatosis=params.steatosis,
            oral_contrast=params.oral_contrast,
        )
        boxes = {}
        for label, (k0, k1, j0, j1, i0, i1) in res.boxes.items():
            boxes[anatomy.by_name(label).verse_id] = (
                k0 // factors[0],
                -(-k1 // factors[0]),
                j0 // factors[1],
                -(-j1 // factors[1]),
                i0 // factors[2],
                -(-i1 // factors[2]),
            )
        offsets = {vid: float(rng.normal(0.0, 15.0)) for vid in boxes}
        lung, lung_hu_per_mm = _lung_gradient(res.tissue, factors, affine_ijk, vert.shape, geo, rng)
        # every draw of the image happens here; the image is written (slab by slab, whole HU)
        # into its output array below, once the orientation is known
        write_image = ctphys.ct_image_slabs(
            res.tissue,
            lut,
            factors,
            vert,
            boxes,
            spacing_kji,
            TEXTURE_HU[Tissue.CANCELLOUS],
            offsets,
            affine_ijk,
            res.metal_points_mm,
            physics,
            rng,
            blend=blend,
            workers=workers,
            lung=lung,
        )
    else:
        write_image = randomized_writer(res.tissue, factors, spacing_kji, rng, blend=blend)
    # [k, j, i] -> [i, j, k], then random axis permutation and flips
    perm: tuple[int, ...] = (0, 1, 2)
    flips: tuple[bool, ...] = (False, False, False)
    if cfg.random_orientation:
        perm = tuple(int(x) for x in rng.permutation(3))
        flips = tuple(bool(x) for x in rng.random(3) < 0.5)
    # C-contiguous arrays (torch.from_numpy needs positive strides): the image is written
    # straight into its reoriented int16 array, the label map copied once
    shared = workers > 1 and cfg.style == "ct" and parallel.can_fork()
    image, image_kji, affine = oriented_empty(
        vert.shape, affine_ijk, perm, flips, np.int16, shared=shared
    )
    write_image(image_kji)
    del write_image  # frees the randomized style's float32 volume before the label copy
    vert_o, _ = reorient(vert.transpose(2, 1, 0), affine_ijk, perm, flips)
    ct_vol = Volume(image, affine)
    lab_vol = Volume(contiguous_copy(vert_o, sparse=True), affine)
    t2 = time.perf_counter()
    centroids = _visible_centroids(geo, lab_vol)
    meta: dict[str, Any] = {
        "generator": "spinelab.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "config": cfg.to_dict(),
        "style": cfg.style,
        "fov": fov_name,
        "fov_labels": [lo_label, hi_label],
        "spacing_mm": [float(s) for s in ct_vol.spacing_mm],
        "shape": list(ct_vol.shape),
        "fine_factors_kji": list(factors),
        "orientation": "".join(ct_vol.orientation_codes()),
        "anatomy": _params_dict(params),
        "physics": dataclasses.asdict(physics),
        "kernel": physics.kernel,
        "lung_gradient_hu_per_mm": lung_hu_per_mm,
        "geometry_attributes": dict(geo.attributes),
        "labels_in_map": _labels_in_map(vert, res.boxes, factors),
    }
    centroids.method = "spinelab-synth"
    log.debug(
        "case seed %d: fine grid %s, render %.2f s, image %.2f s, bookkeeping %.2f s",
        seed,
        "x".join(map(str, fine_grid.shape_kji)),
        t1 - t0,
        t2 - t1,
        time.perf_counter() - t2,
    )
    return SynthCase(ct_vol, lab_vol, centroids, geo, meta)


def _lung_gradient(
    tissue_fine: NDArray[np.uint8],
    factors: tuple[int, int, int],
    affine_ijk: NDArray[np.float64],
    shape_kji: tuple[int, ...],
    geo: SpineGeometry,
    rng: np.random.Generator,
) -> tuple[Callable[[NDArray[np.float32], int], None], float]:
    """The case's lung density gradient (:func:`spinelab.synth.ct.lung_gradient`) and its
    strength (HU per mm), drawn from :data:`~spinelab.synth.tissues.LUNG_GRADIENT_HU_PER_MM`
    (a side stream); zero :data:`~spinelab.synth.tissues.LUNG_GRADIENT_REF_MM` in front of the
    vertebral bodies' centres at each slice's height."""
    hu_per_mm = float(side_stream(rng, streams.LUNG_GRADIENT).uniform(*LUNG_GRADIENT_HU_PER_MM))
    y_rows = affine_ijk[1, 3] + affine_ijk[1, 1] * np.arange(shape_kji[1])
    z_k = affine_ijk[2, 3] + affine_ijk[2, 2] * np.arange(shape_kji[0])
    order = np.argsort(geo.centres_mm[:, 2])
    y_spine = np.interp(z_k, geo.centres_mm[order, 2], geo.centres_mm[order, 1])
    add = ctphys.lung_gradient(
        tissue_fine, factors, int(Tissue.LUNG), y_rows, y_spine - LUNG_GRADIENT_REF_MM, hu_per_mm
    )
    return add, hu_per_mm


def reorient(
    array_ijk: NDArray[Any],
    affine_lps: NDArray[np.float64],
    perm: tuple[int, ...],
    flips: tuple[bool, ...],
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """Permute and flip the voxel axes of an array, keeping its world geometry.

    Args:
        array_ijk: ``(I, J, K)`` array.
        affine_lps: Its 4x4 LPS affine.
        perm: New axis ``n`` is old axis ``perm[n]``.
        flips: Whether new axis ``n`` is reversed.

    Returns:
        ``(array, affine)`` such that every voxel keeps its world position.
    """
    arr = array_ijk.transpose(perm)
    aff = np.eye(4)
    aff[:3, :3] = affine_lps[:3, :3][:, list(perm)]
    aff[:3, 3] = affine_lps[:3, 3]
    for ax, flip in enumerate(flips):
        if flip:
            n = arr.shape[ax]
            arr = np.flip(arr, axis=ax)
            aff[:3, 3] = aff[:3, 3] + aff[:3, ax] * (n - 1)
            aff[:3, ax] = -aff[:3, ax]
    return arr, aff


def oriented_empty(
    shape_kji: tuple[int, ...],
    affine_lps: NDArray[np.float64],
    perm: tuple[int, ...],
    flips: tuple[bool, ...],
    dtype: DTypeLike,
    shared: bool = False,
) -> tuple[NDArray[Any], NDArray[Any], NDArray[np.float64]]:
    """An uninitialized C-contiguous array laid out as :func:`reorient` would make it.

    Args:
        shape_kji: ``(K, J, I)`` shape of the image as rendered.
        affine_lps: 4x4 LPS affine of its ``[i, j, k]`` transpose.
        perm, flips: As in :func:`reorient`.
        dtype: Element type.
        shared: In shared memory (zero-filled), for forked writers
            (:func:`spinelab.synth.parallel.shared_zeros`).

    Returns:
        ``(array, view_kji, affine)``: the C-contiguous reoriented array, a ``(K, J, I)`` view
        of it in rendering order (writing ``view_kji[k, j, i]`` fills the voxel that
        ``reorient`` would move there) and its affine.
    """
    shape_ijk = tuple(int(n) for n in shape_kji[::-1])
    dummy = np.broadcast_to(np.empty((), dtype=dtype), shape_ijk)
    view, affine = reorient(dummy, affine_lps, perm, flips)
    out = parallel.shared_zeros(view.shape, dtype) if shared else np.empty(view.shape, dtype)
    back = out
    for ax, flip in enumerate(flips):
        if flip:
            back = np.flip(back, axis=ax)
    back = back.transpose(tuple(int(a) for a in np.argsort(perm)))
    return out, back.transpose(2, 1, 0), affine


def contiguous_copy(
    array: NDArray[Any], dtype: DTypeLike | None = None, sparse: bool = False
) -> NDArray[Any]:
    """C-contiguous copy of a 3-D view (e.g. a permuted and flipped volume), cast to ``dtype``.

    Views whose fastest axis is not the copy's are copied tile by tile
    (:func:`spinelab.synth.arrays.copy_tiled`: 0.2-0.3 s instead of up to 2.5 s for the int16 +
    uint8 pair of a 512x512x300 case).

    Args:
        array: 3-D array or view.
        dtype: Output dtype (default: the input's); values are cast as by ``astype``.
        sparse: The array is a mostly-zero unsigned label map: a tiled copy only copies the box
            of its nonzero voxels (:func:`spinelab.synth.arrays.copy_tiled`).

    Returns:
        A new C-contiguous array with the same shape and values.
    """
    out = np.empty(array.shape, dtype=array.dtype if dtype is None else dtype)
    copy_tiled(out, array, sparse)
    return out


def narrow_discs(geo: SpineGeometry, labels: tuple[str, ...], fraction: float) -> SpineGeometry:
    """The spine with the discs below ``labels`` narrowed by ``fraction`` of their height.

    Everything cranial to a narrowed disc moves caudally along that disc's axis, so the
    centres (and therefore the written centroids) stay consistent with the rendered anatomy.
    """
    centres = geo.centres_mm.copy()
    discs = geo.disc_height_mm.copy()
    for label in labels:
        if label not in geo.labels:
            continue
        n = geo.labels.index(label)
        if n >= len(discs) or discs[n] <= 0:
            continue
        loss = fraction * discs[n]
        axis = geo.frames[n][:, 2] + geo.frames[n + 1][:, 2]
        axis /= max(float(np.linalg.norm(axis)), 1e-9)
        centres[: n + 1] -= loss * axis
        discs[n] -= loss
    return _moved(geo, centres, discs, "narrowed_discs", [x for x in labels if x in geo.labels])


def _moved(
    geo: SpineGeometry,
    centres: NDArray[np.float64],
    discs: NDArray[np.float64],
    key: str,
    fact: Any,
) -> SpineGeometry:
    """``geo`` with new centres and disc heights (copies of the rest) and ``fact`` recorded
    under ``key`` in its attributes."""
    attrs = dict(geo.attributes)
    attrs[key] = fact
    return SpineGeometry(
        list(geo.labels),
        centres,
        geo.frames.copy(),
        geo.body_height_mm.copy(),
        geo.body_width_mm.copy(),
        geo.body_depth_mm.copy(),
        discs,
        attrs,
    )


def draw_listhesis(
    rng: np.random.Generator, labels: list[str] | tuple[str, ...], p: float = P_LISTHESIS
) -> dict[str, float]:
    """A case's spondylolisthesis: ``{label: fraction}`` (the vertebra that slipped and by what
    fraction of the lower body's depth), empty with probability ``1 - p`` or where the spine
    has none of :data:`LISTHESIS_LEVELS` with a vertebra below it."""
    if rng.random() >= p:
        return {}
    cand = [x for x in LISTHESIS_LEVELS if x in labels and labels.index(x) + 1 < len(labels)]
    if not cand:
        return {}
    w = np.array([LISTHESIS_LEVELS[x] for x in cand])
    label = cand[int(rng.choice(len(cand), p=w / w.sum()))]
    weights = np.array([g[0] for g in LISTHESIS_GRADES])
    _, lo, hi = LISTHESIS_GRADES[int(rng.choice(len(weights), p=weights / weights.sum()))]
    return {label: float(rng.uniform(lo, hi))}


def slip_vertebrae(geo: SpineGeometry, listhesis: dict[str, float]) -> SpineGeometry:
    """The spine with each vertebra of ``listhesis`` (``{label: fraction}``) and everything
    cranial to it moved forward, along the anterior axis of the vertebra below, by
    ``fraction`` of that vertebra's body depth; orientations unchanged (the slipped body's
    endplate stays parallel to the lower one's). Centres (and so the written centroids) stay
    consistent with the rendered anatomy."""
    centres = geo.centres_mm.copy()
    done = {}
    for label, fraction in listhesis.items():
        if label not in geo.labels:
            continue
        n = geo.labels.index(label)
        if n + 1 >= len(geo.labels):
            continue
        anterior = -geo.frames[n + 1][:, 1]  # frames' columns: left, posterior, cranial
        centres[: n + 1] += fraction * float(geo.body_depth_mm[n + 1]) * anterior
        done[label] = fraction
    return _moved(geo, centres, geo.disc_height_mm.copy(), "listhesis", done)


def _labels_in_map(
    vert: NDArray[np.uint8],
    fine_boxes: dict[str, tuple[int, int, int, int, int, int]],
    factors: tuple[int, int, int],
) -> list[str]:
    """Names of the vertebrae present in the output label map, in chain order (box by box:
    a whole-volume histogram of a 512x512x300 map costs a second)."""
    out = []
    for label, (k0, k1, j0, j1, i0, i1) in fine_boxes.items():
        fk, fj, fi = factors
        sub = vert[k0 // fk : -(-k1 // fk), j0 // fj : -(-j1 // fj), i0 // fi : -(-i1 // fi)]
        if (sub == anatomy.by_name(label).verse_id).any():
            out.append(label)
    return anatomy.sort_labels(out)


def _visible_centroids(geo: SpineGeometry, labels: Volume) -> Centroids:
    """Centres inside the image grid (within half a voxel of its border voxels)."""
    ijk = labels.world_to_ijk(geo.centres_mm)
    shape = np.array(labels.shape)
    inside = np.all((ijk >= -0.5) & (ijk <= shape - 0.5), axis=1)
    keep = [i for i in range(len(geo)) if inside[i]]
    return Centroids([geo.labels[i] for i in keep], geo.centres_mm[keep].copy())


def _draw_fov(
    rng: np.random.Generator, cfg: SynthConfig, geo: SpineGeometry
) -> tuple[str, str, str]:
    name = cfg.fov
    extend = 0
    if name == "random":
        names = list(RANDOM_FOV_WEIGHTS)
        w = np.array([RANDOM_FOV_WEIGHTS[k] for k in names])
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
        extend = cfg.extend_levels
    lo, hi = FOV_RANGES[name]
    labels = geo.labels
    if lo not in labels or hi not in labels:
        lo, hi = labels[0], labels[-1]
    i0, i1 = labels.index(lo), labels.index(hi)
    if extend:
        i0 = max(0, i0 - int(rng.integers(-extend, extend + 1)))
        i1 = min(len(labels) - 1, i1 + int(rng.integers(-extend, extend + 1)))
        if i1 - i0 < 3:
            i0, i1 = labels.index(lo), labels.index(hi)
    return name, labels[i0], labels[i1]


def _fov_z(
    rng: np.random.Generator, cfg: SynthConfig, geo: SpineGeometry, lo: str, hi: str
) -> tuple[float, float]:
    """z range (mm) of the image: past the end centres by a fraction of the gap to the next
    vertebra (so the next centre stays outside), or by ``margin_mm_range`` at the chain ends."""
    z = geo.centres_mm[:, 2]
    i0, i1 = geo.labels.index(lo), geo.labels.index(hi)
    f = rng.uniform(*cfg.margin_fraction_range, size=2)
    if i0 > 0:
        z_top = z[i0] + f[0] * (z[i0 - 1] - z[i0])
    else:
        z_top = z[i0] + rng.uniform(*cfg.margin_mm_range) + 20.0  # skull base
    if i1 < len(geo) - 1:
        z_bot = z[i1] - f[1] * (z[i1] - z[i1 + 1])
    else:  # below S2: some of the pelvis
        z_bot = z[i1] - rng.uniform(*cfg.pelvis_mm_range)
    return float(z_top), float(z_bot)


def _draw_params(rng: np.random.Generator, cfg: SynthConfig, geo: SpineGeometry) -> AnatomyParams:
    movable = [x for x in geo.labels if anatomy.region_of(x) in ("thoracic", "lumbar")]
    found: tuple[fractures.Fracture, ...] = ()
    if movable and rng.random() < cfg.p_fracture:
        count = int(rng.integers(1, 3))
        for _ in range(count):
            # the main stream's former level and loss draws, still made so that its later
            # draws stay as they were; levels and shapes come from a side stream
            rng.integers(len(movable))
            rng.uniform(*cfg.fracture_loss_range)
        found = fractures.draw_fractures(
            side_stream(rng, streams.FRACTURES),
            geo.labels,
            geo.body_height_mm,
            count,
            cfg.fracture_loss_range,
            cfg.p_vertebroplasty,
        )
    degenerated: tuple[str, ...] = ()
    if rng.random() < cfg.p_degenerated:
        lumbar = [x for x in geo.labels if anatomy.region_of(x) in ("lumbar",)]
        degenerated = tuple(x for x in lumbar if rng.random() < 0.5)
    # degenerative bone changes and the discs' vacuum gas from side streams: the main stream's
    # draws stay as they were
    side = side_stream(rng, streams.DEGENERATION)
    vac = side_stream(rng, streams.VACUUM)
    vacuum = tuple(x for x in degenerated if vac.random() < cfg.p_vacuum)
    screws: tuple[str, ...] = ()
    if rng.random() < cfg.p_metal:
        cand = [x for x in geo.labels if anatomy.region_of(x) in ("thoracic", "lumbar")]
        if len(cand) >= 3:
            start = int(rng.integers(max(1, len(cand) - 4), len(cand) - 1))
            n = int(rng.integers(2, 5))
            screws = tuple(cand[max(0, start - n + 1) : start + 1])
    return AnatomyParams(
        body_scale=float(rng.uniform(*cfg.body_scale_range)),
        fat_mm=float(rng.uniform(*cfg.fat_mm_range)),
        fractures=found,
        degenerated_discs=degenerated,
        vacuum_discs=vacuum,
        osteoporosis=bool(rng.random() < cfg.p_osteoporosis),
        screws=screws,
        cages=cages.draw_cages(side_stream(rng, streams.CAGES), screws, geo.labels, cfg.p_cage),
        disc_calcifications=disc_calcification.draw_disc_calcifications(
            side_stream(rng, streams.DISC_CALCIFICATION), geo.labels, cfg.p_disc_calcification
        ),
        sternotomy=sternotomy.draw_sternotomy(
            side_stream(rng, streams.STERNOTOMY), cfg.p_sternotomy
        ),
        acdf=cages.draw_acdf(side_stream(rng, streams.ACDF), geo.labels, cfg.p_acdf),
        contrast=bool(rng.random() < cfg.p_contrast),
        bowel_gas=int(rng.integers(4, 25)),
        muscle_fat=_skewed(rng.uniform(), cfg.muscle_fat_range),
        arms_down=bool(rng.random() < cfg.p_arms_down),
        # from a child stream: the main stream's later draws stay as they were
        steatosis=bool(rng.spawn(1)[0].random() < cfg.p_steatosis),
        osteophytes=vshape.draw_spurs(side, geo.labels, geo.body_depth_mm, degenerated),
        schmorl_nodes=vshape.draw_schmorl_nodes(
            side, geo.labels, geo.body_width_mm, geo.body_depth_mm
        ),
        fillings=head.draw_fillings(side_stream(rng, streams.DENTAL), cfg.p_fillings),
        oral_contrast=bool(side_stream(rng, streams.ORAL_CONTRAST).random() < cfg.p_oral_contrast),
        plaques=vessels.draw_plaques(side_stream(rng, streams.PLAQUES), cfg.p_calcified),
        listhesis=draw_listhesis(side_stream(rng, streams.LISTHESIS), geo.labels, cfg.p_listhesis),
        kidney_stones=organs.draw_kidney_stones(
            side_stream(rng, streams.KIDNEY_STONES), cfg.p_kidney_stones
        ),
        short_last_ribs=draw_short_last_ribs(
            side_stream(rng, streams.SHORT_LAST_RIBS), cfg.p_short_last_rib
        ),
        sacralization=vshape.draw_sacralization(
            side_stream(rng, streams.SACRALIZATION), cfg.p_sacralization
        ),
        phleboliths=vessels.draw_phleboliths(
            side_stream(rng, streams.PHLEBOLITHS), cfg.p_phleboliths
        ),
        gallstones=organs.draw_gallstones(side_stream(rng, streams.GALLSTONES), cfg.p_gallstones),
        dish=vshape.draw_dish(side_stream(rng, streams.DISH), geo.labels, cfg.p_dish),
        haemangiomas=vshape.draw_haemangiomas(
            side_stream(rng, streams.HAEMANGIOMAS), geo.labels, cfg.p_haemangioma
        ),
        bone_islands=bone_islands.draw_bone_islands(
            side_stream(rng, streams.BONE_ISLANDS), geo.labels, cfg.p_bone_islands
        ),
        lumbar_ribs=draw_lumbar_ribs(
            side_stream(rng, streams.LUMBAR_RIBS), geo.labels, cfg.p_lumbar_rib_l6, cfg.p_lumbar_rib
        ),
    )


def _skewed(u: float, rng_range: tuple[float, float]) -> float:
    """``lo + (hi - lo) u**2`` for ``u`` in [0, 1): values crowd towards ``lo``."""
    lo, hi = rng_range
    return float(lo + (hi - lo) * u * u)


def _params_dict(p: AnatomyParams) -> dict[str, Any]:
    d = dataclasses.asdict(p)
    d["degenerated_discs"] = list(p.degenerated_discs)
    d["vacuum_discs"] = list(p.vacuum_discs)
    d["screws"] = list(p.screws)
    return d


def _draw_grid(
    rng: np.random.Generator,
    cfg: SynthConfig,
    geo: SpineGeometry,
    params: AnatomyParams,
    z_bot: float,
    z_top: float,
    lo_label: str,
    hi_label: str,
) -> tuple[RenderGrid, tuple[int, int, int], RenderGrid]:
    """Output grid (axis-aligned, before reorientation), fine factors and the fine grid."""
    if cfg.spacing_mm is not None:
        sx, sy, sz = (float(v) for v in cfg.spacing_mm)
    else:
        sx = float(rng.uniform(*cfg.inplane_mm_range))
        sy = sx
        sz = float(rng.uniform(*cfg.slice_mm_range))
    extent_z = z_top - z_bot
    if cfg.spacing_mm is None:
        sz = max(sz, extent_z / cfg.max_slices)
    nk = max(1, math.ceil(extent_z / sz))
    # in-plane: the body at the FOV's levels, cropped around the spine when it does not fit
    i0, i1 = geo.labels.index(lo_label), geo.labels.index(hi_label)
    sel = geo.centres_mm[i0 : i1 + 1]
    x_s, y_s = float(sel[:, 0].mean()), float(sel[:, 1].mean())
    cervical_only = anatomy.region_of(hi_label) == "cervical"
    half_w = (85.0 if cervical_only else 175.0) * params.body_scale + params.fat_mm + 15.0
    if params.arms_down:  # the arms beside the body (the scanner's field of view is widened)
        half_w += ARM_FOV_MARGIN_MM * params.body_scale
    ant = (65.0 if cervical_only else 165.0) * params.body_scale + params.fat_mm + 10.0
    post = (85.0 if cervical_only else 95.0) * params.body_scale + params.fat_mm + 25.0
    spread_x = float(np.ptp(sel[:, 0])) if len(sel) > 1 else 0.0
    spread_y = float(np.ptp(sel[:, 1])) if len(sel) > 1 else 0.0
    want_x = 2 * half_w + spread_x
    want_y = ant + post + spread_y
    ni = min(cfg.max_inplane, math.ceil(want_x / sx))
    nj = min(cfg.max_inplane, math.ceil(want_y / sy))
    cx = float(sel[:, 0].min() + sel[:, 0].max()) / 2
    cy = float(sel[:, 1].min() + sel[:, 1].max()) / 2 + (post - ant) / 2
    # when cropped, keep the spine (and its posterior elements) inside, with some jitter
    fov_x, fov_y = ni * sx, nj * sy
    if fov_x < want_x:
        slack = max(0.0, fov_x / 2 - 60.0 - spread_x / 2)
        cx = x_s + float(rng.uniform(-1, 1)) * slack * 0.5
    if fov_y < want_y:
        slack = max(0.0, fov_y / 2 - 70.0 - spread_y / 2)
        cy = y_s + 20.0 + float(rng.uniform(-1, 1)) * slack * 0.5
    origin = (cx - (ni - 1) * sx / 2, cy - (nj - 1) * sy / 2, z_bot)
    out = RenderGrid(origin, (sx, sy, sz), (nk, nj, ni))
    f = [max(1, round(s / cfg.render_mm)) for s in (sz, sy, sx)]
    n_out = (nk, nj, ni)
    while np.prod([n * q for n, q in zip(n_out, f)]) > cfg.max_fine_voxels and max(f) > 1:
        f[int(np.argmax(f))] -= 1
    fk, fj, fi = f
    fine_sp = (sx / fi, sy / fj, sz / fk)
    fine_origin = (
        origin[0] - (fi - 1) / 2 * fine_sp[0],
        origin[1] - (fj - 1) / 2 * fine_sp[1],
        origin[2] - (fk - 1) / 2 * fine_sp[2],
    )
    fine = RenderGrid(fine_origin, fine_sp, (nk * fk, nj * fj, ni * fi))
    return out, (fk, fj, fi), fine
