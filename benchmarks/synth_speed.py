"""Seconds per synthetic case (``spinelab.synth.generator.generate_case``).

Scenarios:
    * ``512x512x300``: 0.78 mm pixels, slices fitted so the thoraco-lumbar FOV has 300 slices
      (about 1.3 mm); rendered at the output resolution (no supersampling needed).
    * ``3 mm slices``: the same in-plane grid with 3 mm slices, rendered on a 1 mm fine grid
      along z and block-averaged (partial volume), like thick clinical reconstructions.
    * ``training 2 mm``: a random FOV on a 2 mm isotropic grid (what on-the-fly training uses).

Prints the figures and replaces this script's section of ``benchmarks/RESULTS.md``.
Run: ``.venv/bin/python benchmarks/synth_speed.py [--repeats N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

from spinelab.synth.generator import SynthConfig, generate_case

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Synthetic CT generator speed (benchmarks/synth_speed.py)"

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


def run(repeats: int) -> list[tuple[str, str, float, float, float, float]]:
    rows = []
    for name, cfg in SCENARIOS.items():
        times, cpu, shapes = [], [], []
        for seed in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            case = generate_case(seed, cfg)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
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


def write_section(rows: list[tuple[str, str, float, float, float, float]], repeats: int) -> None:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"{now}, 2 cores, no GPU (Python {platform.python_version()}, numpy {np.__version__}); "
        f"seeds 0..{repeats - 1}, other developers' jobs sharing the 2 cores; "
        f"load average at start {os.getloadavg()[0]:.1f}.",
        "",
        "| scenario | shape (largest first) | median wall s/case | min | max | median CPU s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {s} | {m:.2f} | {lo:.2f} | {hi:.2f} | {c:.2f} |" for n, s, m, lo, hi, c in rows
    ]
    wall, cpu = rows[0][2], rows[0][5]
    shared = (
        " the wall time is inflated by the other jobs sharing the 2 cores (see the load average)."
        if wall > 1.2 * cpu
        else ""
    )
    lines += [
        "",
        f"- Target: under 5 s per 512x512x300 case on 2 cores: "
        f"{'met' if wall < 5.0 else 'NOT met'} for this scenario ({wall:.2f} s median wall "
        f"clock, {cpu:.2f} s CPU; the generator is single-threaded).{shared}",
        "- Every scenario's slowest run is listed under max; the randomized style costs more "
        "(two class look-ups, 3-D blur, bias field, gamma).",
        "",
    ]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    block = "\n".join(lines)
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\n<!-- |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block.rstrip() + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + block
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    rows = run(a.repeats)
    if not a.no_write:
        write_section(rows, a.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
