"""``spinelab synth``: write synthetic spine CT cases (image, vertebra labels, centroids)."""

from __future__ import annotations

import argparse
import functools
import logging
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spinelab.synth.generator import SynthCase, SynthConfig

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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="cases made at the same time in separate processes (default 1; a process needs "
        "about 0.5-0.9 GB for 512x512x300 cases: it writes one while it makes the next)",
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
    from spinelab.synth.arrays import retain_freed_memory
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
    failed = 0
    if args.workers == 1 or len(jobs) == 1:
        retain_freed_memory()  # this process exists to generate: reuse pages between cases
        failed += make_cases_in_process(out_dir, jobs, config, args.force)
    else:
        # fork where the platform has it: the workers start at once and see the parent's state
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(
            min(args.workers, len(jobs)), mp_context=ctx, initializer=retain_freed_memory
        ) as pool:
            futures: list[Future[str]] = [
                pool.submit(make_case, out_dir, i, seed, config, args.force) for i, seed in jobs
            ]
            for count, ((i, seed), fut) in enumerate(zip(jobs, futures), 1):
                failed += _report(count, len(jobs), i, seed, fut.result)
    if failed:
        log.error("%d of %d cases failed", failed, len(jobs))
        return 1
    print(f"wrote {args.n} case(s) to {out_dir}")
    return 0


def make_cases_in_process(
    out_dir: Path, jobs: list[tuple[int, int]], config: SynthConfig, force: bool
) -> int:
    """Make the cases ``jobs`` ((index, seed) pairs) one after another, each case's files
    written by a thread while the next case is generated (compression releases the GIL, so the
    two share the cores; at most two cases are held); returns the number that failed."""
    from spinelab.synth.generator import generate_case

    failed = 0
    total = len(jobs)
    pending: tuple[int, int, int, int, Callable[[], str]] | None = None
    with ThreadPoolExecutor(max_workers=1) as writer:
        for count, (i, seed) in enumerate(jobs, 1):
            t0 = time.perf_counter()
            made: Callable[[], str]
            try:
                case = generate_case(seed, config)
            except Exception as exc:  # reported in order, after the case before it
                made = functools.partial(_raise, exc)
            else:
                made = writer.submit(write_case, out_dir, i, case, force, t0).result
                del case
            if pending is not None:
                failed += _report(*pending)
            pending = (count, total, i, seed, made)
        if pending is not None:
            failed += _report(*pending)
    return failed


def _raise(exc: BaseException) -> str:
    raise exc


def _report(count: int, total: int, index: int, seed: int, result: Callable[[], str]) -> int:
    """Log case ``index``'s line from ``result()``; 1 (and a one-line error) if it raised."""
    from spinelab.errors import SpinelabInputError

    try:
        log.info("case %d/%d %s", count, total, result())
    except SpinelabInputError as exc:
        sys.stderr.write(f"spinelab: error: {exc}\n")
        return 1
    except Exception as exc:  # one case's failure must not stop the batch
        log.debug("case %d failed", index, exc_info=True)
        sys.stderr.write(
            f"spinelab: error: case {index} (seed {seed}) failed: {type(exc).__name__}: {exc}\n"
        )
        return 1
    return 0


def make_case(out_dir: Path, index: int, seed: int, config: SynthConfig, force: bool) -> str:
    """Generate case ``index`` from ``seed`` and write its three files; returns a summary line.

    Module-level so that worker processes can run it.
    """
    from spinelab.synth.generator import generate_case

    t0 = time.perf_counter()
    return write_case(out_dir, index, generate_case(seed, config), force, t0)


def write_case(out_dir: Path, index: int, case: SynthCase, force: bool, t0: float) -> str:
    """Write case ``index``'s CT, label map and centroids; returns its summary line (seconds
    since ``t0``, a ``time.perf_counter`` reading when its generation began)."""
    from spinelab.io.images import write_image
    from spinelab.io.native import write_native

    ct_path, lab_path, ctd_path = case_paths(out_dir, index)
    write_image(case.ct, ct_path, force=force)
    write_image(case.labels, lab_path, force=force)
    cen = case.centroids
    cen.source = {
        "image": ct_path.name,
        "shape": list(case.ct.shape),
        "affine_lps": case.ct.affine_lps.tolist(),
        "synth": case.meta,
    }
    write_native(cen, ctd_path, force=force)
    shape = "x".join(str(n) for n in case.ct.shape)
    spacing = "x".join(f"{mm:.2f}" for mm in case.ct.spacing_mm)
    return (
        f"({ct_path.name}): {case.meta['fov']}, {len(cen)} vertebrae, {shape} voxels at "
        f"{spacing} mm, {time.perf_counter() - t0:.1f} s"
    )
