"""Make and write batches of synthetic cases (what ``spinelab synth`` runs).

Each case ``index`` is written as ``case_<index>_ct.nii.gz`` (int16 HU),
``case_<index>_labels.nii.gz`` (VerSe ids) and ``case_<index>_centroids.json`` (native format).
One process writes each case's files in a thread while it makes the next (gzip compression
releases the GIL, so the two share the cores; at most two cases are held); ``workers`` > 1
makes cases in worker processes instead. Either way the files are the same, and a case that
fails is returned as a :class:`CaseResult` with its error while the others go on.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from spinelab.synth import generator
from spinelab.synth.arrays import retain_freed_memory
from spinelab.synth.generator import SynthCase, SynthConfig


@dataclass
class CaseResult:
    """One case of a batch: its summary line, or the error that stopped it."""

    index: int
    seed: int
    summary: str | None = None
    error: BaseException | None = None


def case_paths(out_dir: Path, index: int) -> tuple[Path, Path, Path]:
    """The three files of case ``index``: CT, label map, centroids."""
    stem = out_dir / f"case_{index:04d}"
    return (
        Path(f"{stem}_ct.nii.gz"),
        Path(f"{stem}_labels.nii.gz"),
        Path(f"{stem}_centroids.json"),
    )


def write_case(out_dir: Path, index: int, case: SynthCase, force: bool, t0: float) -> str:
    """Write case ``index``'s CT, label map and centroids (atomically; existing files only with
    ``force``); returns its summary line (seconds since ``t0``, a ``time.perf_counter``
    reading taken when its generation began)."""
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


def make_case(out_dir: Path, index: int, seed: int, config: SynthConfig, force: bool) -> str:
    """Generate case ``index`` from ``seed`` and write its files; returns its summary line
    (module-level so that worker processes can run it)."""
    t0 = time.perf_counter()
    return write_case(out_dir, index, generator.generate_case(seed, config), force, t0)


def _result(index: int, seed: int, summary: Callable[[], str]) -> CaseResult:
    try:
        return CaseResult(index, seed, summary=summary())
    except Exception as exc:  # one case's failure must not stop the batch
        return CaseResult(index, seed, error=exc)


def _raise(exc: BaseException) -> str:
    raise exc


def make_cases(
    out_dir: Path,
    jobs: Sequence[tuple[int, int]],
    config: SynthConfig,
    force: bool = False,
    workers: int = 1,
) -> Iterator[CaseResult]:
    """Make and write the cases ``jobs`` (``(index, seed)`` pairs), yielding their results in
    order as they finish.

    Args:
        out_dir: Existing folder for the files.
        jobs: Case index (file name) and seed of each case.
        config: Generator configuration.
        force: Overwrite existing files.
        workers: Processes making cases at the same time (1: this process, writing each case
            in a thread while it makes the next; more: worker processes, forked where the
            platform has it, that keep freed memory for reuse). A single case is made by this
            process with ``workers`` render processes instead
            (:func:`spinelab.synth.generator.generate_case`).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1 or len(jobs) == 1:
        yield from _in_process(out_dir, jobs, config, force, workers if len(jobs) == 1 else 1)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        min(workers, len(jobs)), mp_context=ctx, initializer=retain_freed_memory
    ) as pool:
        futures = [pool.submit(make_case, out_dir, i, seed, config, force) for i, seed in jobs]
        for (i, seed), fut in zip(jobs, futures):
            yield _result(i, seed, fut.result)


def _in_process(
    out_dir: Path,
    jobs: Sequence[tuple[int, int]],
    config: SynthConfig,
    force: bool,
    render_workers: int = 1,
) -> Iterator[CaseResult]:
    """:func:`make_cases` in this process: case ``n``'s files are written by a thread while
    case ``n + 1`` is generated (by ``render_workers`` processes: the writer's thread keeps
    the second core busy from the second case on, and forking stops while it runs)."""
    pending: tuple[int, int, Callable[[], str]] | None = None
    with ThreadPoolExecutor(max_workers=1) as writer:
        for i, seed in jobs:
            t0 = time.perf_counter()
            made: Callable[[], str]
            try:
                case = generator.generate_case(seed, config, workers=render_workers)
            except Exception as exc:  # reported in order, after the case before it
                made = functools.partial(_raise, exc)
            else:
                made = writer.submit(write_case, out_dir, i, case, force, t0).result
                del case
            if pending is not None:
                yield _result(*pending)
            pending = (i, seed, made)
        if pending is not None:
            yield _result(*pending)
