"""``spinelab synth``: write synthetic spine CT cases (image, vertebra labels, centroids)."""

from __future__ import annotations

import argparse
import logging
import sys
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
        help="sub-voxel tissue boundaries (bone, fat): round the vertebrae (default), "
        "round every bone (slower), or none",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="cases made at the same time in separate processes (default 1; a process needs "
        "about 0.5-0.9 GB for 512x512x300 cases: it writes one while it makes the next); with "
        "--n 1, processes that make the one case together (Linux)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing case files")


def run(args: argparse.Namespace) -> int:
    """Generate ``--n`` cases into OUT_DIR; returns 0 on success."""
    from spinelab.errors import SpinelabInputError
    from spinelab.io.atomic import check_writable
    from spinelab.synth.arrays import retain_freed_memory
    from spinelab.synth.batch import case_paths, make_cases
    from spinelab.synth.generator import SynthConfig, case_seed

    out_dir = Path(args.out_dir)
    if args.n < 1:
        raise SpinelabInputError(None, f"--n must be at least 1, got {args.n}")
    if args.workers < 1:
        raise SpinelabInputError(None, f"--workers must be at least 1, got {args.workers}")
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
    jobs = [(i, case_seed(args.seed, i)) for i in indices]
    if args.workers == 1:
        retain_freed_memory()  # this process exists to generate: reuse pages between cases
    failed = 0
    results = make_cases(out_dir, jobs, config, args.force, args.workers)
    for count, res in enumerate(results, 1):
        if res.error is None:
            log.info("case %d/%d %s", count, len(jobs), res.summary)
            continue
        failed += 1
        if isinstance(res.error, SpinelabInputError):
            sys.stderr.write(f"spinelab: error: {res.error}\n")
        else:
            log.debug("case %d failed", res.index, exc_info=res.error)
            sys.stderr.write(
                f"spinelab: error: case {res.index} (seed {res.seed}) failed: "
                f"{type(res.error).__name__}: {res.error}\n"
            )
    if failed:
        log.error("%d of %d cases failed", failed, len(jobs))
        return 1
    print(f"wrote {args.n} case(s) to {out_dir}")
    return 0
