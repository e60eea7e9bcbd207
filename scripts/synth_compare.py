"""Render synthetic spine CTs beside the real TotalSegmentator example CT, at the same windows.

Usage:
    python scripts/synth_compare.py [OUT_PNG] [--n 3] [--seed 0] [--style ct]

Writes one PNG (default ``benchmarks/figures/synth_compare.png``): one row per image (the real
CT first), columns = mid-sagittal and coronal slices in a bone window (W 1500 / L 300), the
mid-sagittal slice and an axial slice through L3 (or the middle vertebra) in a soft-tissue window
(W 400 / L 40), and a close-up axial bone-window view of that vertebra. Every image is shown in
the same LPS-aligned layout at 1 mm per display pixel (anterior left in sagittal views,
patient right on the left in coronal/axial views, superior up).

It also prints a markdown table of measured realism (:mod:`spinelab.synth.realism`): per-tissue
HU (vertebral body interior, paraspinal muscle, subcutaneous fat), noise SD, and percentiles and
L1 distance of the body-region HU histogram, for the real CT and ``--stats-n`` synthetic
thoraco-lumbar cases rendered at the real CT's 3 mm; then the bone and fat edges, the lower ribs
and the back of the lower chest (the back's outline, how far back the ribs and the lungs reach)
of the real CT and of cases made as it was. ``--no-figure`` prints only the tables.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage as ndi
from numpy.typing import NDArray

from spinelab.synth.pelvis import hip_centres_mm
from spinelab.synth.realism import (
    LIKE_REAL_EXAMPLE,
    PERCENTILES,
    RealismStats,
    VertebraHU,
    back_outline,
    bone_edge_phase,
    canonical,
    fat_edge_phase,
    histogram_l1,
    lower_ribs,
    measure,
    posterior_thorax,
    rib_end_levels,
    rib_lowest_points,
    vascular_calcification,
    vertebra_hu,
)

ROOT = Path(__file__).resolve().parents[1]
REAL_CT = ROOT.parent / "shared" / "data" / "ct" / "totalsegmentator_example" / "ct.nii.gz"
REAL_LABELS = REAL_CT.parent / "vertebra_labels_model.nii.gz"
REAL_SLAB = REAL_CT.parent / "dicom_slab"
#: The spine in the real DICOM slab's canonical array (voxels: the vertebra, its arch and the
#: crura; as in tests/test_synth_realism.py).
SLAB_SPINE_BOX = (slice(195, 320), slice(270, 410), slice(None))
# TotalSegmentator's own ids in that file: 29 = L3 (see ../shared/data/README.md)
REAL_L3_ID = 29
REAL_T11_ID = 33
REAL_SACRUM_ID = 26
#: L1-L4 in the real label map (TotalSegmentator ids) and in synthetic ones (VerSe ids).
REAL_L1_L4 = (31, 30, 29, 28)
SYNTH_L1_L4 = (20, 21, 22, 23)
#: T11-L3 (TotalSegmentator ids, VerSe ids): the lower ribs' table.
REAL_T11_L3 = (33, 32, 31, 30, 29)
SYNTH_T11_L3 = (18, 19, 20, 21, 22)

BONE = (-450.0, 1050.0)
SOFT = (-160.0, 240.0)

log = logging.getLogger("synth_compare")


def _iso(img2d: NDArray[Any], sp_rows: float, sp_cols: float, order: int = 1) -> NDArray[Any]:
    """Resample a 2-D slice to 1 mm pixels."""
    return ndi.zoom(img2d.astype(np.float32), (sp_rows, sp_cols), order=order)


def views(
    array: NDArray[Any],
    affine: NDArray[np.float64],
    centre_mm: NDArray[np.float64],
    rib_mm: NDArray[np.float64] | None = None,
    hip_mm: NDArray[np.float64] | None = None,
) -> dict[str, NDArray[np.float32]]:
    """Sagittal, coronal, axial and close-up axial slices through ``centre_mm`` (LPS), an
    axial slice through ``rib_mm`` (ribs) and a coronal one through ``hip_mm`` (hip joints)."""
    arr, sp, org = canonical(array, affine)

    def index(p: NDArray[np.float64]) -> NDArray[np.int64]:
        return np.clip(np.rint((p - org) / sp).astype(int), 0, np.array(arr.shape) - 1)

    ijk = index(centre_mm)
    sag = arr[ijk[0], :, :].T[::-1, :]  # rows z (superior up), cols y (anterior left)
    cor = arr[:, ijk[1], :].T[::-1, :]  # rows z, cols x (patient right on the left)
    ax = arr[:, :, ijk[2]].T  # rows y (anterior up), cols x
    out = {
        "sag": _iso(sag, sp[2], sp[1]),
        "cor": _iso(cor, sp[2], sp[0]),
        "ax": _iso(ax, sp[1], sp[0]),
    }
    r = np.rint(40.0 / sp[:2]).astype(int)
    i0, i1 = max(ijk[0] - r[0], 0), ijk[0] + r[0]
    j0, j1 = max(ijk[1] - r[1], 0), ijk[1] + int(1.6 * r[1])
    out["zoom"] = _iso(ax[j0:j1, i0:i1], sp[1], sp[0])
    blank = np.full((8, 8), -1000.0, dtype=np.float32)
    if rib_mm is not None:
        k = index(rib_mm)[2]
        out["ax_rib"] = _iso(arr[:, :, k].T, sp[1], sp[0])
    if hip_mm is not None:
        j = index(hip_mm)[1]
        out["cor_hip"] = _iso(arr[:, j, :].T[::-1, :], sp[2], sp[0])
    out.setdefault("ax_rib", blank)
    out.setdefault("cor_hip", blank)
    return out


#: Hip joint centres relative to the sacrum's centroid in the real label map (its whole
#: sacrum, about S2-S3): in front of and below it (an estimate, for the coronal hip view).
REAL_HIP_FROM_SACRUM_MM = np.array([0.0, -45.0, -75.0])
#: The synthetic cases' hip joint centres are the renderer's own
#: (:func:`spinelab.synth.pelvis.hip_centres_mm`); the coronal hip view goes through their
#: mean. Where a case's field of view stops above them (it ends 20-110 mm below S2's centre,
#: the femoral heads' lower poles lie 80-100 mm below it), the hip view shows the same seed
#: (same spine and anatomy) rendered down to SYNTH_HIP_VIEW_BELOW_MM below the hip centres.
SYNTH_HIP_VIEW_BELOW_MM = 45.0

Row = tuple[
    NDArray[Any],
    NDArray[np.float64],
    NDArray[np.float64],
    str,
    NDArray[Any] | None,
    NDArray[Any] | None,
]


def real_case() -> Row:
    from spinelab.io.images import read_image

    ct = read_image(REAL_CT)
    lab = read_image(REAL_LABELS)

    def centre(label_id: int) -> NDArray[np.float64] | None:
        ijk = np.argwhere(lab.array == label_id)
        return lab.ijk_to_world(ijk.mean(axis=0)) if len(ijk) else None

    sacrum = centre(REAL_SACRUM_ID)
    l3 = centre(REAL_L3_ID)
    if l3 is None:
        raise SystemExit(f"{REAL_LABELS}: no L3 (label {REAL_L3_ID})")
    return (
        ct.array,
        ct.affine_lps,
        l3,
        "real CT (TotalSegmentator example, 3 mm)",
        centre(REAL_T11_ID),
        None if sacrum is None else sacrum + REAL_HIP_FROM_SACRUM_MM,
    )


def hip_case(
    case: Any, cfg: Any, seed: int, hips: NDArray[np.float64]
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """Image and affine for the coronal hip view of a synthetic case: the case itself when its
    field of view reaches SYNTH_HIP_VIEW_BELOW_MM below the hip centres (``hips`` (2, 3) LPS mm),
    else the same seed rendered with the pelvis down to there (the spine, the anatomy and the
    draws before the image's z extent are the same; only the field of view grows downwards)."""
    import dataclasses

    from spinelab.synth.generator import generate_cases

    arr, aff = case.ct.array, case.ct.affine_lps
    org = canonical(arr, aff)[2]
    want_z = float(hips[:, 2].min()) - SYNTH_HIP_VIEW_BELOW_MM
    geo = case.geometry
    if org[2] <= want_z or "S2" not in geo.labels or case.meta["fov_labels"][1] != "S2":
        return arr, aff
    below = float(geo.centres_mm[geo.labels.index("S2"), 2]) - want_z
    big = dataclasses.replace(cfg, pelvis_mm_range=(below, below))
    ext = next(iter(generate_cases(1, seed, big)))  # as main() draws the case itself
    return ext.ct.array, ext.ct.affine_lps


def stats_row(name: str, st: RealismStats, ref: RealismStats | None) -> str:
    """One markdown table row of :func:`stats_table`."""
    l1 = "-" if ref is None else f"{histogram_l1(st.hist, ref.hist):.2f}"
    pct = " / ".join(f"{p:.0f}" for p in st.percentiles)
    fr = st.fractions
    return (
        f"| {name} | {st.body_median:.0f} | {st.muscle_median:.0f} | {st.fat_median:.0f} | "
        f"{st.noise_fat:.1f} | {st.noise_muscle:.1f} | {pct} | "
        f"{fr['fat (<-30)']:.2f} / {fr['soft (-30..150)']:.2f} / {fr['bone (>=150)']:.3f} | {l1} |"
    )


def vertebra_row(name: str, v: VertebraHU) -> str:
    """One markdown row of the vertebra HU table (percentiles of body, core, posterior)."""

    def pct(t: tuple[float, ...]) -> str:
        return " / ".join(f"{x:.0f}" for x in t)

    return f"| {name} | {pct(v.body)} | {pct(v.core)} | {pct(v.posterior)} |"


def vertebra_table_header() -> str:
    ps = "/".join(str(p) for p in PERCENTILES)
    return (
        f"| image | L1-L4 body HU {ps} | cancellous core (6 mm in) HU {ps} "
        f"| posterior elements HU {ps} |\n" + "|---" * 4 + "|"
    )


def stats_table(n: int, seed: int, fov: str) -> str:
    """Measured realism of the real CT and ``n`` synthetic cases at 3 mm, as markdown."""
    from spinelab.io.images import read_image
    from spinelab.synth.generator import SynthConfig, generate_cases

    header = (
        "| image | body interior median HU | paraspinal muscle median HU | subcut. fat median HU "
        "| noise SD in fat | SD in muscle | body-region HU percentiles "
        + "/".join(str(p) for p in PERCENTILES)
        + " | fraction fat / soft / bone | histogram L1 to real |\n"
        + "|---" * 9
        + "|"
    )
    lines = [header]
    vlines = [vertebra_table_header()]
    ref = None
    if REAL_CT.exists():
        ct, lab = read_image(REAL_CT), read_image(REAL_LABELS)
        ref = measure(ct.array, lab.array, ct.affine_lps, REAL_L1_L4)
        lines.append(stats_row("real CT (3 mm)", ref, None))
        vlines.append(
            vertebra_row(
                "real CT (3 mm)", vertebra_hu(ct.array, lab.array, ct.affine_lps, REAL_L1_L4)
            )
        )
    # soft reconstruction kernels only: the real CT is a soft one (its DICOM slab: Br38f)
    cfg = SynthConfig(fov=fov, spacing_mm=(3.0, 3.0, 3.0), p_sharp_kernel=0.0)
    sts = []
    vts = []
    for i, case in enumerate(generate_cases(n, seed, cfg)):
        st = measure(case.ct.array, case.labels.array, case.ct.affine_lps, SYNTH_L1_L4)
        sts.append(st)
        lines.append(stats_row(f"synthetic {seed}/{i} (3 mm)", st, ref))
        vt = vertebra_hu(case.ct.array, case.labels.array, case.ct.affine_lps, SYNTH_L1_L4)
        vts.append(vt)
        vlines.append(vertebra_row(f"synthetic {seed}/{i} (3 mm)", vt))
    if sts:
        mean = RealismStats(
            body_median=float(np.mean([s.body_median for s in sts])),
            body_mean=float(np.mean([s.body_mean for s in sts])),
            muscle_median=float(np.mean([s.muscle_median for s in sts])),
            fat_median=float(np.mean([s.fat_median for s in sts])),
            noise_fat=float(np.mean([s.noise_fat for s in sts])),
            noise_muscle=float(np.mean([s.noise_muscle for s in sts])),
            percentiles=tuple(np.mean([s.percentiles for s in sts], axis=0)),
            hist=np.mean([s.hist for s in sts], axis=0),
            fractions={k: float(np.mean([s.fractions[k] for s in sts])) for k in sts[0].fractions},
        )
        lines.append(stats_row(f"synthetic mean of {len(sts)}", mean, ref))
        vmean = VertebraHU(
            body=tuple(np.mean([v.body for v in vts], axis=0)),
            core=tuple(np.mean([v.core for v in vts], axis=0)),
            posterior=tuple(np.mean([v.posterior for v in vts], axis=0)),
            core_medians=(),
            posterior_medians=(),
            n_voxels=(0, 0, 0),
        )
        vlines.append(vertebra_row(f"synthetic mean of {len(vts)}", vmean))
    return (
        "\n".join(lines)
        + "\n\nVertebrae (:func:`spinelab.synth.realism.vertebra_hu`):\n\n"
        + ("\n".join(vlines))
    )


def edge_table(n: int, seed: int) -> str:
    """Bone- and fat-edge phase (:func:`spinelab.synth.realism.bone_edge_phase`,
    :func:`~spinelab.synth.realism.fat_edge_phase`) of the real 0.98 mm DICOM slab around the
    spine and of ``n`` lumbar cases at its pixels (2 mm slices, kernel and PSF drawn as usual)
    around their vertebrae, with the default anti-aliasing and without."""
    import dataclasses

    from spinelab.io.images import read_image
    from spinelab.synth.generator import SynthConfig, generate_case

    lines = [
        "| image | kernel, PSF sigma mm | bone-edge non-uniformity | crossings "
        "| fat-edge non-uniformity | crossings |",
        "|---|---|---|---|---|---|",
    ]
    if REAL_SLAB.exists():
        slab = read_image(REAL_SLAB)
        p = bone_edge_phase(slab.array, slab.affine_lps, SLAB_SPINE_BOX)
        f = fat_edge_phase(slab.array, slab.affine_lps, SLAB_SPINE_BOX)
        lines.append(
            f"| real DICOM slab (0.98 mm) | soft | {p.nonuniformity:.3f} | {p.n} "
            f"| {f.nonuniformity:.3f} | {f.n} |"
        )
    cfg = SynthConfig(fov="lumbar", spacing_mm=(0.98, 0.98, 2.0))
    for i in range(n):
        for mode in ("spine", "off"):
            case = generate_case(seed + i, dataclasses.replace(cfg, antialias=mode))
            lab, _, _ = canonical(case.labels.array, case.ct.affine_lps)
            idx = np.argwhere(lab > 0)
            box = tuple(slice(int(lo), int(hi)) for lo, hi in zip(idx.min(0), idx.max(0)))
            p = bone_edge_phase(case.ct.array, case.ct.affine_lps, box)
            f = fat_edge_phase(case.ct.array, case.ct.affine_lps, box)
            ph = case.meta["physics"]
            lines.append(
                f"| synthetic {seed + i}, antialias {mode} | {ph['kernel']}, {ph['blur_mm']:.2f} "
                f"| {p.nonuniformity:.3f} | {p.n} | {f.nonuniformity:.3f} | {f.n} |"
            )
    return "\n".join(lines)


def rib_row(name: str, hu: NDArray[Any], labels: NDArray[Any], aff: NDArray[Any], ids: Any) -> str:
    """One row of the ribs table (:func:`thoracolumbar_tables`)."""
    r = lower_ribs(hu, labels, aff, ids[1])
    front, tips = rib_end_levels(rib_lowest_points(hu, labels, aff, ids))
    return (
        f"| {name} | {r.core_hu:.0f} | {r.bone_mm3_per_mm:.0f} | {r.n_sections} | "
        f"{r.area_mm2:.0f} | {r.major_mm:.1f} x {r.minor_mm:.1f} | {r.peak_hu:.0f} | "
        f"{r.slope_front_deg:.1f} / {r.slope_side_deg:.1f} | {front:.2f} | {tips:.2f} |"
    )


def back_row(name: str, hu: NDArray[Any], labels: NDArray[Any], aff: NDArray[Any], ids: Any) -> str:
    """One row of the back table (:func:`thoracolumbar_tables`): ``ids`` T11..L3's ids."""
    falls = [back_outline(hu, labels, aff, vid).falls_mm for vid in ids[1:3]]
    p = posterior_thorax(hu, labels, aff, ids[1], ids[2])
    ribs = " / ".join(f"{v:.1f}" for v in p.ribs_behind_mm)
    return (
        f"| {name} | "
        + " | ".join(" / ".join(f"{v:.0f}" for v in f) for f in falls)
        + f" | {ribs} | {100 * p.lung_share:.2f} | {100 * p.lung_behind_share:.2f}"
        + f" | {p.lung_behind_hu:.0f} |"
    )


def calcification_row(
    name: str, hu: NDArray[Any], lab: NDArray[Any], aff: NDArray[Any], l3: int
) -> str:
    """One row of the calcified-spots table (:func:`spinelab.synth.realism.
    vascular_calcification` between L3's and S1's centres; S1 is 26 in both label maps)."""
    try:
        m = vascular_calcification(hu, lab, aff, l3, 26)
    except ValueError:
        return f"| {name} | - | - | - |"
    peak = "-" if not np.isfinite(m.max_hu) else f"{m.max_hu:.0f}"
    return f"| {name} | {m.spots} | {m.volume_mm3:.0f} | {peak} |"


def thoracolumbar_tables(n: int, seed: int) -> tuple[str, str, str]:
    """The lower ribs (:func:`spinelab.synth.realism.lower_ribs`, :func:`rib_lowest_points`),
    the back of the lower chest (:func:`back_outline`, :func:`posterior_thorax`) and the
    calcified spots in front of L3-S1 (:func:`vascular_calcification`) of the real CT and
    ``n`` thoraco-lumbar cases at 3 mm made as it was (soft kernel, no contrast, arms raised),
    as three markdown tables."""
    from spinelab.io.images import read_image
    from spinelab.synth.generator import SynthConfig, generate_cases

    ribs = [
        "| image | T12 interior HU | bone > 200 HU beside T12 mm3/mm | sections | median mm2 "
        "| axes mm | peak HU | slopes front / side deg | lowest front end | 12th ribs' tips |",
        "|---" * 10 + "|",
    ]
    back = [
        "| image | T12 back falls mm (0.5 / 0.65 / 0.8 / 0.9 half-width) | L1 back falls mm "
        "| ribs behind the spine T12-L1 mm (40-60 / 60-80 / 80-100 / 100-120 beside) "
        "| lung % at T12 | lung behind T12's centre % | its HU (median) |",
        "|---" * 7 + "|",
    ]
    images: list[tuple[str, NDArray[Any], NDArray[Any], NDArray[Any], Any]] = []
    if REAL_CT.exists():
        ct, lab = read_image(REAL_CT), read_image(REAL_LABELS)
        images.append(("real CT (3 mm)", ct.array, lab.array, ct.affine_lps, REAL_T11_L3))
    cfg = SynthConfig(fov="thoracolumbar", **LIKE_REAL_EXAMPLE)
    for i, case in enumerate(generate_cases(n, seed, cfg)):
        name = f"synthetic {seed}/{i} (3 mm)"
        images.append((name, case.ct.array, case.labels.array, case.ct.affine_lps, SYNTH_T11_L3))
    calc = [
        "| image | calcified spots, L3-S1 | their volume mm3 | brightest HU |",
        "|---" * 4 + "|",
    ]
    for image in images:
        ribs.append(rib_row(*image))
        back.append(back_row(*image))
        calc.append(calcification_row(*image[:4], image[4][-1]))
    return "\n".join(ribs), "\n".join(back), "\n".join(calc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", nargs="?", default=str(ROOT / "benchmarks" / "figures" / "synth_compare.png")
    )
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", default="ct", choices=("ct", "randomized"))
    parser.add_argument("--fov", default="thoracolumbar")
    parser.add_argument("--stats-n", type=int, default=6, help="synthetic cases measured")
    parser.add_argument("--no-figure", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.stats_n > 0 and args.style == "ct":
        print(stats_table(args.stats_n, args.seed, args.fov))
        print("\nBone and fat edges at 0.98 mm (:func:`spinelab.synth.realism.edge_phase`):\n")
        print(edge_table(3, args.seed))
        rib_tab, back_tab, calc_tab = thoracolumbar_tables(args.stats_n, args.seed)
        print("\nLower ribs beside T12 and the ribs' lowest points (levels, T11 = 0):\n")
        print(rib_tab)
        print("\nThe back of the lower chest (the back's outline, the ribs and lungs behind):\n")
        print(back_tab)
        print("\nCalcified plaques in front of L3-S1 (isolated spots over 300 HU):\n")
        print(calc_tab)
    if args.no_figure:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spinelab.synth.generator import SynthConfig, generate_cases

    rows: list[Row] = []
    hip_cases: dict[int, tuple[NDArray[Any], NDArray[np.float64]]] = {}
    if REAL_CT.exists():
        rows.append(real_case())
    else:
        log.warning("real CT not found at %s; showing synthetic cases only", REAL_CT)
    spacings = [(0.8, 0.8, 3.0), (3.0, 3.0, 3.0), (0.6, 0.6, 1.0), (1.0, 1.0, 2.0)]
    for i in range(args.n):
        cfg = SynthConfig(style=args.style, fov=args.fov, spacing_mm=spacings[i % len(spacings)])
        case = next(iter(generate_cases(1, args.seed + i, cfg)))
        c = case.centroids
        mid = "L3" if "L3" in c.labels else c.labels[len(c) // 2]
        sp = "x".join(f"{s:.1f}" for s in case.ct.spacing_mm)
        hips = hip_centres_mm(case.geometry, case.meta["anatomy"]["body_scale"])
        hip_mm = None if hips is None else hips.mean(axis=0)
        if hips is not None:
            hip_cases[len(rows)] = hip_case(case, cfg, args.seed + i, hips)
        rows.append(
            (
                case.ct.array,
                case.ct.affine_lps,
                c.position(mid),
                f"synthetic seed {args.seed + i} ({sp} mm, {case.meta['orientation']})",
                c.position("T11") if "T11" in c.labels else None,
                hip_mm,
            )
        )
        log.info("case %d: %s", i, rows[-1][3])
    cols = [
        ("sag", BONE, "sagittal, bone W1500/L300"),
        ("cor", BONE, "coronal, bone"),
        ("sag", SOFT, "sagittal, soft W400/L40"),
        ("ax", SOFT, "axial at L3, soft"),
        ("zoom", BONE, "L3 close-up, bone"),
        ("ax_rib", BONE, "axial at T11 (ribs), bone"),
        ("cor_hip", BONE, "coronal through the hips, bone"),
    ]
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(3.2 * len(cols), 3.4 * len(rows)), squeeze=False
    )
    for r, (arr, aff, centre, title, rib, hip) in enumerate(rows):
        v = views(arr, aff, centre, rib, hip)
        if r in hip_cases and hip is not None:
            v["cor_hip"] = views(*hip_cases[r], hip, None, hip)["cor_hip"]
        for c, (key, win, name) in enumerate(cols):
            ax = axes[r, c]
            ax.imshow(v[key], cmap="gray", vmin=win[0], vmax=win[1], interpolation="bilinear")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=70)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
