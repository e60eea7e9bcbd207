"""A hand-built, gently curved whole spine (C1..S2) with typical adult sizes, for renderer tests.

Test-only: the generator itself samples spines from the fitted shape model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.synth.generator import SynthCase, SynthConfig, case_seed, generate_case
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.realism import canonical
from spinelab.synth.render import AnatomyParams, RenderGrid, RenderResult, render_labels


def _sizes(name: str) -> tuple[float, float, float, float]:
    """(height, width, depth, disc below) in mm, typical adult values."""
    region = anatomy.region_of(name)
    if region == "cervical":
        return 14.0, 18.0 + anatomy.chain_index(name), 16.0, 5.0
    if region == "thoracic":
        t = min(int(name[1:]), 12) / 12.0
        return 17.0 + 8.0 * t, 26.0 + 16.0 * t, 18.0 + 13.0 * t, 4.0 + 3.0 * t
    if region == "lumbar":
        return 27.0, 45.0, 34.0, 10.0
    return 28.0, 48.0, 34.0, 0.0


def curved_spine(
    transitional: str | None = None, shift_mm: tuple[float, float, float] = (0, 0, 0)
) -> SpineGeometry:
    """A whole spine stacked from S2 upwards along a sagittal S-curve (LPS, anterior = -y)."""
    names = [v.name for v in anatomy.CHAIN if not v.transitional or v.name == transitional]
    sizes = [_sizes(n) for n in names]
    centres = np.zeros((len(names), 3))
    frames = np.zeros((len(names), 3, 3))
    z = -80.0
    for idx in range(len(names) - 1, -1, -1):
        h, _, _, disc = sizes[idx]
        z += h / 2
        # lordosis/kyphosis: lumbar forward (-y), thoracic backward, cervical forward
        y = -25.0 * np.sin((z - 20.0) / 260.0 * np.pi)
        x = 3.0 * np.sin(z / 200.0)
        centres[idx] = (x, y, z)
        z += h / 2 + (disc if idx > 0 else 0.0)
        if idx > 0:
            z += sizes[idx - 1][3] * 0.0
    for idx in range(len(names)):
        lo, hi = max(idx - 1, 0), min(idx + 1, len(names) - 1)
        up = centres[lo] - centres[hi]
        up /= np.linalg.norm(up)
        left = np.array([1.0, 0.0, 0.0])
        left -= up * (left @ up)
        left /= np.linalg.norm(left)
        post = np.cross(up, left)
        frames[idx] = np.stack([left, post, up], axis=1)
    h = np.array([s[0] for s in sizes])
    w = np.array([s[1] for s in sizes])
    d = np.array([s[2] for s in sizes])
    disc = np.array([s[3] for s in sizes[:-1]])
    disc[0] = 0.0  # C1-C2
    return SpineGeometry(
        names, centres + np.asarray(shift_mm), frames, h, w, d, disc, {"fixture": "curved_spine"}
    )


def centre_of(spine: SpineGeometry, label: str) -> NDArray[np.float64]:
    """The body centre of ``label`` (LPS mm)."""
    return spine.centres_mm[spine.labels.index(label)]


def local_coords(
    spine: SpineGeometry, res: RenderResult, name: str, mask: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """``(M, 3)`` local (a, b, e) mm of the voxels of ``mask`` in ``name``'s vertebra frame."""
    n = spine.labels.index(name)
    kji = np.argwhere(mask)
    g = res.grid
    xyz = np.asarray(g.origin_mm) + kji[:, ::-1] * np.asarray(g.spacing_mm)
    return np.asarray((xyz - spine.centres_mm[n]) @ spine.frames[n])


def render_t5_l4(spine: SpineGeometry, seed: int = 0, sp: float = 2.0) -> RenderResult:
    """The spine's T5-L4 trunk (+-20 mm) rendered on a ``sp`` mm grid, 360 x 420 mm in-plane,
    default anatomy, ``seed`` for the renderer's random draws (seed 0 draws a stomach with gas)."""
    c = spine.centres_mm
    z_top = c[spine.labels.index("T5"), 2] + 20.0
    z_bot = c[spine.labels.index("L4"), 2] - 20.0
    n = (int((z_top - z_bot) / sp) + 1, int(360 / sp), int(420 / sp))
    y0 = float(c[:, 1].mean()) - 250.0
    grid = RenderGrid((-210.0, y0, float(z_bot)), (sp, sp, sp), n)
    return render_labels(spine, grid, AnatomyParams(), np.random.default_rng(seed))


def chest_grid(spine: SpineGeometry, z_top: float, z_bot: float, sp: float = 1.5) -> RenderGrid:
    """A grid from ``z_bot`` to ``z_top`` (mm) over the chest's cross-section (360 x 300 mm
    round the spine's mean y), ``sp`` mm voxels."""
    c = spine.centres_mm
    n = (int((z_top - z_bot) / sp) + 1, int(300 / sp), int(360 / sp))
    return RenderGrid((-180.0, float(c[:, 1].mean()) - 220.0, float(z_bot)), (sp,) * 3, n)


def assert_share(hits: int, n: int, p: float) -> None:
    """``hits`` of ``n`` independent draws are within four binomial standard deviations of
    the share ``p`` (a prevalence test; the draws' other properties are the caller's)."""
    assert abs(hits / n - p) < 4.0 * float(np.sqrt(p * (1.0 - p) / n)), (hits / n, p)


def assert_sides_drawn(
    draws: list[tuple[float, float]], p: float, p_both: float, lo: float, hi: float
) -> None:
    """Draws of a finding on the left and the right (``(left, right)`` sizes, 0 where
    absent; :func:`spinelab.synth.vertebra_shape.draw_sides`): present at the share ``p``,
    on both sides in ``p_both`` of those (checked where at least 500 have it), every size
    within ``lo..hi``."""
    some = [d for d in draws if d != (0.0, 0.0)]
    assert_share(len(some), len(draws), p)
    if len(some) >= 500:
        both = float(np.mean([d[0] > 0 and d[1] > 0 for d in some]))
        assert abs(both - p_both) < 0.03, (both, p_both)
    sizes = [v for d in some for v in d if v > 0]
    assert min(sizes) >= lo and max(sizes) <= hi


def render_with_and_without(
    spine: SpineGeometry,
    grid: RenderGrid,
    base: AnatomyParams | None = None,
    **finding: Any,
) -> tuple[RenderResult, RenderResult]:
    """The spine rendered on ``grid`` (``base``: no bowel gas by default; the renderer's seed
    0) without and with ``finding`` (:class:`AnatomyParams` fields): the maps differ by the
    finding alone."""
    params = AnatomyParams(bowel_gas=0) if base is None else base
    plain = render_labels(spine, grid, params, np.random.default_rng(0))
    changed = render_labels(
        spine, grid, dataclasses.replace(params, **finding), np.random.default_rng(0)
    )
    return plain, changed


def generate_with_and_without(
    seed: int, knobs: tuple[str, ...], **cfg: Any
) -> tuple[SynthCase, SynthCase]:
    """Case ``case_seed(0, seed)`` generated (``cfg``: the other :class:`SynthConfig` fields)
    with the finding knobs ``knobs`` all at 0 and all at 1: each finding draws from its own
    side stream, so the two differ by the finding alone."""
    plain = generate_case(case_seed(0, seed), SynthConfig(**cfg, **dict.fromkeys(knobs, 0.0)))
    found = generate_case(case_seed(0, seed), SynthConfig(**cfg, **dict.fromkeys(knobs, 1.0)))
    return plain, found


def render_l2_l4(spine: SpineGeometry) -> RenderResult:
    """L2-L4 of ``spine`` on a 1 mm grid around the spine only (no bowel gas, seed 0)."""
    c = spine.centres_mm
    n2, n4 = spine.labels.index("L2"), spine.labels.index("L4")
    z_bot, z_top = c[n4, 2] - 25.0, c[n2, 2] + 25.0
    y0 = float(c[n2 : n4 + 1, 1].min()) - 40.0
    grid = RenderGrid((-60.0, y0, z_bot), (1.0, 1.0, 1.0), (int(z_top - z_bot), 150, 120))
    return render_labels(spine, grid, AnatomyParams(bowel_gas=0), np.random.default_rng(0))


def abdomen_grid(spine: SpineGeometry, sp: float = 2.0) -> RenderGrid:
    """A grid over L2-L5 of ``spine`` (10 mm beyond their centres) and the whole abdomen's
    cross-section (420 x 360 mm), ``sp`` mm voxels."""
    c = spine.centres_mm
    z_top = c[spine.labels.index("L2"), 2] + 10.0
    z_bot = c[spine.labels.index("L5"), 2] - 10.0
    n = (int((z_top - z_bot) / sp) + 1, int(360 / sp), int(420 / sp))
    return RenderGrid((-210.0, float(c[:, 1].mean()) - 250.0, z_bot), (sp, sp, sp), n)


def hips_config() -> SynthConfig:
    """A lumbar field of view at 3 mm (1.5 mm render) reaching 150 mm below S2, past both hips,
    without metal, contrast (intravenous or oral), osteoporosis, fractures or arms beside the
    pelvis."""
    return SynthConfig(
        fov="lumbar",
        spacing_mm=(3.0, 3.0, 3.0),
        render_mm=1.5,
        random_orientation=False,
        extend_levels=0,
        pelvis_mm_range=(150.0, 150.0),
        p_metal=0.0,
        p_contrast=0.0,
        p_oral_contrast=0.0,
        p_osteoporosis=0.0,
        p_fracture=0.0,
        p_arms_down=0.0,
    )


def _real_3mm_config(**kwargs: Any) -> SynthConfig:
    """A lumbar case at the real example CT's 3 mm (1.5 mm render) with, like it (Siemens
    Br38f), a soft kernel, no metal and no fractures; ``kwargs`` set the rest."""
    return SynthConfig(
        fov="lumbar",
        spacing_mm=(3.0, 3.0, 3.0),
        render_mm=1.5,
        p_sharp_kernel=0.0,
        p_metal=0.0,
        p_fracture=0.0,
        **kwargs,
    )


def bone_3mm_config() -> SynthConfig:
    """:func:`_real_3mm_config` without contrast (intravenous or oral), osteoporosis or
    vertebral haemangiomas (the bone tests' cases, which measure the bodies' normal texture;
    the field of view they were written on: the noise draws follow its size)."""
    return _real_3mm_config(
        p_contrast=0.0,
        p_oral_contrast=0.0,
        p_osteoporosis=0.0,
        p_haemangioma=0.0,
        pelvis_mm_range=(20.0, 110.0),
    )


def bowel_3mm_config() -> SynthConfig:
    """:func:`_real_3mm_config` with the real CT's noise (28 HU) (the bowel tests' cases)."""
    return _real_3mm_config(noise_hu_range=(28.0, 28.0))


def lumbar_slab(
    hu: NDArray[Any], labels: NDArray[Any], affine: NDArray[np.float64], ids: tuple[int, ...]
) -> tuple[NDArray[np.float32], NDArray[Any], NDArray[np.float64]]:
    """The canonical (LPS-aligned) image and label map between the centres of the vertebrae
    ``ids`` (axial slices from the lowest centre's to the highest's), and the spacing (mm)."""
    arr, sp, _ = canonical(np.asarray(hu, dtype=np.float32), affine)
    lab, _, _ = canonical(np.asarray(labels), affine)
    cz = [np.argwhere(lab == i)[:, 2].mean() for i in ids]
    z0, z1 = int(np.floor(min(cz))), int(np.ceil(max(cz))) + 1
    return arr[:, :, z0:z1], lab[:, :, z0:z1], sp


def thin_slice_config(fov: str, antialias: str, **kwargs: Any) -> SynthConfig:
    """The real DICOM slab's 0.98 mm pixels (2 mm slices), a narrow soft-kernel PSF (0.45 mm),
    no metal: where painted bone edges show their pixel stair-steps."""
    return SynthConfig(
        fov=fov,
        spacing_mm=(0.98, 0.98, 2.0),
        p_sharp_kernel=0.0,
        blur_mm_range=(0.45, 0.45),
        p_metal=0.0,
        antialias=antialias,
        **kwargs,
    )
