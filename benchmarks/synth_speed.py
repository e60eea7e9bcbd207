"""Seconds per synthetic case (``spinelab.synth.generator.generate_case``).

Scenarios:
    * ``512x512x300``: 0.78 mm pixels, slices fitted so the thoraco-lumbar FOV has 300 slices
      (about 1.3 mm); rendered at the output resolution (no supersampling needed).
    * ``3 mm slices``: the same in-plane grid with 3 mm slices, rendered on a 1 mm fine grid
      along z and block-averaged (partial volume), like thick clinical reconstructions.
    * ``training 2 mm``: a random FOV on a 2 mm isotropic grid (what on-the-fly training uses).

The process keeps freed memory for reuse (``spinelab.synth.arrays.retain_freed_memory``), as
``spinelab synth`` does; the first scenario is timed again in a fresh process with glibc's
default allocator (``--allocator default`` runs the whole table that way). Each scenario is
timed in one process (CPU time ``time.process_time`` and wall time) and, for the 5 s target
("on 2 cores"), with each case made by two processes (``generate_case(..., workers=2)``: wall
time, and the CPU time of both); wall times grow with whatever else runs on the machine. A
further run of the first scenario's seed 0 splits its CPU time by stage. Last,
a batch of the first scenario's cases is made by two worker processes (``spinelab synth
--workers 2``, one case per core), and made and written as ``spinelab synth`` does (gzip-
compressed NIfTI; in one process each case is written by a thread while the next is made) in
one process and in two, each timed by the wall clock over the batch.

Prints the figures and replaces this script's section of ``benchmarks/RESULTS.md``.
Run: ``.venv/bin/python benchmarks/synth_speed.py [--repeats N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from _results import machine_line, update_results
from spinelab.synth import antialias, generator, pelvis, render
from spinelab.synth import ct as ctphys
from spinelab.synth.arrays import retain_freed_memory
from spinelab.synth.batch import make_cases
from spinelab.synth.generator import SynthConfig, generate_case

SECTION = "## Synthetic CT generator speed (benchmarks/synth_speed.py)"
TARGET_S = 5.0
#: Stages of the profile note: label -> (module or class, function name) timed in place.
STAGES: dict[str, tuple[object, str]] = {
    "rendering the fine maps": (generator, "render_labels"),
    "of which per-slice soft tissue": (render, "_paint_soft_tissue"),
    "of which ribs": (render, "_paint_ribs"),
    "of which pelvis": (pelvis, "paint_pelvis"),
    "of which vertebrae": (render, "_paint_vertebra"),
    "anti-aliasing the tissue boundaries round the spine": (antialias, "edge_blend"),
    "HU look-up": (ctphys, "block_mean_lut"),
    "scanner maps and noise fields": (ctphys, "prepare_noise_and_blur"),
    "in-plane blur, noise and rounding": (ctphys, "blur_inplane"),
    "writing the reoriented int16 + uint8 arrays": (ctphys, "copy_tiled"),
}

#: The first scenario's row with each case made by two processes
#: (``generate_case(..., workers=2)``, :mod:`spinelab.synth.parallel`): the 5 s target's row.
TWO_CORES = "512x512x300, 0.78 mm, ct, two processes"

SCENARIOS: dict[str, SynthConfig] = {
    "512x512x300, 0.78 mm, ct": SynthConfig(
        fov="thoracolumbar",
        inplane_mm_range=(0.78, 0.78),
        slice_mm_range=(0.5, 0.5),
        max_slices=300,
        random_orientation=True,
    ),
    "512x512x300, 0.78 mm, randomized": SynthConfig(
        style="randomized",
        fov="thoracolumbar",
        inplane_mm_range=(0.78, 0.78),
        slice_mm_range=(0.5, 0.5),
        max_slices=300,
    ),
    "512x512, 3 mm slices, ct": SynthConfig(
        fov="thoracolumbar",
        inplane_mm_range=(0.78, 0.78),
        slice_mm_range=(3.0, 3.0),
    ),
    "training 2 mm iso, random FOV, ct": SynthConfig(spacing_mm=(2.0, 2.0, 2.0)),
}


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have been waited for (the
    render workers that ``generate_case(..., workers=2)`` forks)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(
    repeats: int, names: list[str] | None = None
) -> list[tuple[str, str, float, float, float, float]]:
    """Time every scenario (or those ``names``) on seeds ``0..repeats-1``, and the first one
    made by two processes (:data:`TWO_CORES`); rows of (name, shape, median wall, min wall,
    max wall, median CPU) in seconds."""
    rows = []
    first = next(iter(SCENARIOS))
    runs = [(name, cfg, 1) for name, cfg in SCENARIOS.items()]
    runs.insert(1, (TWO_CORES, SCENARIOS[first], 2))
    for name, cfg, workers in runs:
        if names is not None and name not in names:
            continue
        times, cpu, shapes = [], [], []
        for seed in range(repeats):
            t0, c0 = time.perf_counter(), cpu_seconds()
            case = generate_case(seed, cfg, workers=workers)
            times.append(time.perf_counter() - t0)
            cpu.append(cpu_seconds() - c0)
            shapes.append("x".join(str(s) for s in sorted(case.ct.shape, reverse=True)))
        t = np.array(times)
        c = float(np.median(cpu))
        rows.append((name, shapes[0], float(np.median(t)), float(t.min()), float(t.max()), c))
        print(
            f"{name:38s} {shapes[0]:>12s}  median {np.median(t):6.2f} s  "
            f"(min {t.min():.2f}, max {t.max():.2f}, n={repeats}); CPU {c:.2f} s",
            flush=True,
        )
    return rows


def profile_stages(cfg: SynthConfig, seed: int = 0) -> tuple[float, dict[str, float]]:
    """CPU seconds of one case and of its stages.

    Each stage's function is wrapped with a ``time.process_time`` timer for the run (cProfile
    would inflate the thousands of small per-slice calls of the soft-tissue painting).
    """
    spent = dict.fromkeys(STAGES, 0.0)
    patched: list[tuple[object, str, Any]] = []
    for label, (owner, name) in STAGES.items():
        func = getattr(owner, name)

        def timed(*args: Any, _f: Any = func, _label: str = label, **kwargs: Any) -> Any:
            c0 = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_label] += time.process_time() - c0

        setattr(owner, name, timed)
        patched.append((owner, name, func))
    try:
        c0 = time.process_time()
        generate_case(seed, cfg)
        total = time.process_time() - c0
    finally:
        for owner, name, func in patched:
            setattr(owner, name, func)
    return total, spent


def _generate(seed: int) -> None:
    """Make (and drop) case ``seed`` of the first scenario; nothing goes back to the parent."""
    generate_case(seed, next(iter(SCENARIOS.values())))


def batch_seconds(workers: int, n: int, write: bool) -> float:
    """Wall seconds per case of making ``n`` cases of the first scenario with ``workers``
    processes (as ``spinelab synth --workers``); with ``write``, written as ``spinelab synth``
    writes them (:func:`spinelab.synth.batch.make_cases`: gzip-compressed NIfTI image and label
    map, centroid file; one process writes each case in a thread while it makes the next)."""
    cfg = next(iter(SCENARIOS.values()))
    with tempfile.TemporaryDirectory(prefix="synth_speed_") as tmp:
        t0 = time.perf_counter()
        if write:
            jobs = [(seed, seed) for seed in range(n)]
            for res in make_cases(Path(tmp), jobs, cfg, workers=workers):
                if res.error is not None:
                    raise res.error
        elif workers == 1:
            for seed in range(n):
                _generate(seed)
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=retain_freed_memory
            ) as pool:
                list(pool.map(_generate, range(n)))
        return (time.perf_counter() - t0) / n


def write_section(
    rows: list[tuple[str, str, float, float, float, float]],
    repeats: int,
    load: float,
    profile: tuple[float, dict[str, float]],
    default_cpu: float | None = None,
    batch: tuple[int, float, float, float] | None = None,
) -> None:
    """Replace this benchmark's section of RESULTS.md."""
    lines = [
        SECTION,
        "",
        f"{machine_line()}; seeds 0..{repeats - 1}, other developers' jobs sharing the 2 cores; "
        f"load average at start {load:.1f}.",
        "",
        "| scenario | shape (largest first) | median wall s/case | min | max | median CPU s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {s} | {m:.2f} | {lo:.2f} | {hi:.2f} | {c:.2f} |" for n, s, m, lo, hi, c in rows
    ]
    one = rows[0]
    two = next((r for r in rows if r[0] == TWO_CORES), None)
    total, stages = profile
    split = ", ".join(f"{label} {sec:.2f} s" for label, sec in stages.items())
    if two is not None:
        target = (
            f"- Target: under {TARGET_S:.0f} s per 512x512x300 case on 2 cores: "
            f"{'met' if two[2] < TARGET_S else 'NOT met'} ({two[2]:.2f} s median wall time "
            f"with each case made by two processes, `generate_case(..., workers=2)`: the soft "
            "tissue, the couch, the muscles' fat septa and the image's slabs are shared out "
            f"slice by slice, `spinelab.synth.parallel`; {two[5]:.2f} s of CPU time in both "
            f"together). In one process: {one[2]:.2f} s wall, {one[5]:.2f} s CPU. The wall "
            "times grow with whatever else runs on the machine (see the load average)."
        )
    else:
        target = (
            f"- Target: not judged (the two-process row was not run); one process {one[2]:.2f} s."
        )
    lines += [
        "",
        target,
        "- Allocator: the table's process keeps freed memory for reuse "
        "(`spinelab.synth.arrays.retain_freed_memory`, as `spinelab synth` does), so later "
        "cases are spared the kernel's page faults on fresh arrays."
        + (
            f" The first scenario in a fresh process with glibc's default settings (a library "
            f"user who does not call it): {default_cpu:.2f} s median CPU "
            f"({'under' if default_cpu < TARGET_S else 'NOT under'} the target)."
            if default_cpu is not None
            else ""
        ),
        *(
            [
                f"- Batches ({batch[0]} cases of the first scenario, seeds 0..{batch[0] - 1}, "
                "wall clock over the batch): made by two worker processes at a time "
                f"(`spinelab synth --workers 2`, one case per core) {batch[3]:.2f} s per case; "
                "made and written as `spinelab synth` writes them (gzip-compressed NIfTI image "
                f"and label map, centroid file) {batch[1]:.2f} s per case in one process (each "
                f"case written by a thread while the next is made), {batch[2]:.2f} s with "
                "`--workers 2`."
            ]
            if batch is not None
            else []
        ),
        f"- Where the CPU time goes (seed 0 of the first scenario, {total:.2f} s, stages timed "
        f"separately): {split}.",
        "- Seeds differ in axis permutation, field of view and pathologies (metal streaks in 8 % "
        "of cases); every scenario's slowest run is listed under max. The randomized style costs "
        "more (two class look-ups, 3-D blur, bias field, gamma).",
        "",
    ]
    update_results("\n".join(lines), SECTION)


def default_allocator_cpu(repeats: int) -> float:
    """Median CPU seconds of the first scenario in a fresh process with glibc's default
    allocator settings (a library user who does not call ``retain_freed_memory``)."""
    first = next(iter(SCENARIOS))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--allocator",
            "default",
            "--repeats",
            str(repeats),
            "--first-only",
            "--no-write",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith(first):
            return float(line.rsplit("CPU", 1)[1].split()[0])
    raise RuntimeError(f"no timing line in the subprocess output:\n{out.stdout}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-write", action="store_true")
    p.add_argument(
        "--allocator",
        choices=("retain", "default"),
        default="retain",
        help="keep freed memory for reuse, as spinelab synth does (default), or glibc's defaults",
    )
    p.add_argument("--first-only", action="store_true", help="time the first scenario only")
    p.add_argument(
        "--batch",
        type=int,
        default=4,
        help="cases for the written-batch timing, one process and two (0: skip)",
    )
    a = p.parse_args()
    if a.allocator == "retain":
        retain_freed_memory()
    load = os.getloadavg()[0]
    rows = run(a.repeats, [next(iter(SCENARIOS))] if a.first_only else None)
    if a.first_only:
        return 0
    profile = profile_stages(next(iter(SCENARIOS.values())))
    print(
        f"profile of seed 0 ({profile[0]:.2f} s CPU): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in profile[1].items()),
        flush=True,
    )
    default_cpu = default_allocator_cpu(a.repeats) if a.allocator == "retain" else None
    if default_cpu is not None:
        print(f"first scenario with the default allocator: CPU {default_cpu:.2f} s", flush=True)
    batch = None
    if a.batch > 0:
        batch = (
            a.batch,
            batch_seconds(1, a.batch, write=True),
            batch_seconds(2, a.batch, write=True),
            batch_seconds(2, a.batch, write=False),
        )
        print(
            f"batch of {a.batch}: written {batch[1]:.2f} s per case in one process, "
            f"{batch[2]:.2f} s with 2 workers; not written, 2 workers {batch[3]:.2f} s",
            flush=True,
        )
    if not a.no_write:
        write_section(rows, a.repeats, load, profile, default_cpu, batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
