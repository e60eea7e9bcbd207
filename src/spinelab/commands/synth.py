"""``spinelab synth``: write synthetic spine CT cases (image, vertebra labels, centroids)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

NAME = "synth"
HELP = "generate synthetic spine CTs with vertebra label maps and centroids"

log = logging.getLogger(__name__)

_FOVS = ("random", "whole", "cervical", "thoracic", "lumbar", "thoracolumbar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the case files")
    parser.add_argument("--n", type=int, default=1, help="number of cases (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--style",
        choices=("ct", "randomized"),
        default="ct",
        help="CT physics in HU, or SynthSeg-style random intensities",
    )
    parser.add_argument("--fov", choices=_FOVS, default="random", help="field of view")
    parser.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="fixed voxel spacing in mm (in-plane x, y, slice); default random",
    )
    parser.add_argument(
        "--start", type=int, default=0, help="index of the first case (to extend an existing set)"
    )
    parser.add_argument(
        "--render-mm",
        type=float,
        default=1.0,
        help="fine render grid size in mm before partial-volume averaging (default 1.0; "
        "larger is faster and coarser)",
    )
    parser.add_argument(
        "--antialias",
        choices=("spine", "bone", "off"),
        default="spine",
        help="sub-voxel bone boundaries: the vertebrae (default), every bone (slower), or none",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing case files")


def case_paths(out_dir: Path, index: int) -> tuple[Path, Path, Path]:
    """The three files of case ``index``: CT, label map, centroids."""
    stem = out_dir / f"case_{index:04d}"
    return (
        Path(f"{stem}_ct.nii.gz"),
        Path(f"{stem}_labels.nii.gz"),
        Path(f"{stem}_centroids.json"),
    )


def run(args: argparse.Namespace) -> int:
    """Generate ``--n`` cases into OUT_DIR; returns 0 on success."""
    from spinelab.errors import SpinelabInputError
    from spinelab.io.atomic import check_writable
    from spinelab.io.images import write_image
    from spinelab.io.native import write_native
    from spinelab.synth.arrays import retain_freed_memory
    from spinelab.synth.generator import SynthConfig, case_seed, generate_case

    out_dir = Path(args.out_dir)
    if args.n < 1:
        raise SpinelabInputError(None, f"--n must be at least 1, got {args.n}")
    if args.start < 0:
        raise SpinelabInputError(None, f"--start must be non-negative, got {args.start}")
    if out_dir.exists() and not out_dir.is_dir():
        raise SpinelabInputError(out_dir, "exists and is not a folder")
    try:
        config = SynthConfig(
            style=args.style,
            fov=args.fov,
            spacing_mm=None if args.spacing is None else tuple(args.spacing),
            render_mm=args.render_mm,
            antialias=args.antialias,
        )
    except ValueError as exc:
        raise SpinelabInputError(None, str(exc)) from None
    indices = range(args.start, args.start + args.n)
    # refuse before any work when a file exists and --force is not given
    for i in indices:
        for p in case_paths(out_dir, i):
            check_writable(p, args.force)
    out_dir.mkdir(parents=True, exist_ok=True)
    retain_freed_memory()  # this process exists to generate: reuse pages between cases
    for count, i in enumerate(indices, 1):
        t0 = time.perf_counter()
        case = generate_case(case_seed(args.seed, i), config)
        ct_path, lab_path, ctd_path = case_paths(out_dir, i)
        write_image(case.ct, ct_path, force=args.force)
        write_image(case.labels, lab_path, force=args.force)
        cen = case.centroids
        cen.source = {
            "image": ct_path.name,
            "shape": list(case.ct.shape),
            "affine_lps": case.ct.affine_lps.tolist(),
            "synth": case.meta,
        }
        write_native(cen, ctd_path, force=args.force)
        log.info(
            "case %d/%d (%s): %s, %d vertebrae, %s voxels at %s mm, %.1f s",
            count,
            args.n,
            ct_path.name,
            case.meta["fov"],
            len(cen),
            "x".join(str(s) for s in case.ct.shape),
            "x".join(f"{s:.2f}" for s in case.ct.spacing_mm),
            time.perf_counter() - t0,
        )
    print(f"wrote {args.n} case(s) to {out_dir}")
    return 0
