"""Ablation of the Wang et al. 2021 post-processing on activation maps built from real spines.

For a fixed, seeded subset of the VID ground-truth spines (``../shared/data/vid/ground_truth``),
26-channel activation maps are rendered on a 4 mm grid (Gaussians, sigma 6 mm, at the true
centres; a grid orientation drawn per scan from several voxel orientations), then corrupted at
four levels with the failure modes the post-processing is meant to fix
(:data:`spinelab.postprocess.simulate.LEVELS`: responses on neighbouring vertebrae, missing
responses, false activations far away, smooth background noise). Every ablation of
:mod:`spinelab.postprocess.wang` labels the same maps; the SpineWeb protocol
(:func:`spinelab.evaluation.metrics.evaluate_case`, 20 mm) gives the identification rate and the
mean localization error of the identified vertebrae.

Prints the table per level and writes it into ``benchmarks/RESULTS.md`` (its own section).

Run: ``.venv/bin/python benchmarks/wang_ablation.py [--n-scans 100] [--seed 0] [--no-write]``
(about 15 min on 2 shared cores), and ``... --additions --n-scans 30 --levels moderate severe``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from _results import machine_line, update_results
from spinelab.evaluation.metrics import CaseResult, aggregate, evaluate_case
from spinelab.io.vid import read_vid
from spinelab.postprocess import simulate, wang

ROOT = Path(__file__).resolve().parents[1]
VID_GT = ROOT.parent / "shared" / "data" / "vid" / "ground_truth"
SECTION = "## Wang 2021 post-processing ablation (benchmarks/wang_ablation.py)"

#: Methods in the table (the -nolambda variants of base and base+rect are identical to them).
TABLE_METHODS = (
    "base",
    "base+rect",
    "base+rect+order-nolambda",
    "base+rect+order",
    "base+rect+optim-nolambda",
    "base+rect+optim",
    "base+rect+order [paper]",
    "base+rect+optim [paper]",
)
#: Rows marked [paper] use WangConfig.paper(): no activation floor, no centerline outlier rules,
#: Algorithm 1 without end expansion or contraction (the signal normalization is kept).
PAPER = " [paper]"
ORIENTATIONS = ("LPS", "RAS", "PIR", "LAS", "SPR")
SPACING_MM = 4.0
SIGMA_MM = 6.0
MARGIN_MM = 60.0


def config(paper: bool = False) -> wang.WangConfig:
    """The pipeline settings of the benchmark (defaults or the paper's, 4 mm cross-section grid)."""
    base = wang.WangConfig.paper() if paper else wang.WangConfig()
    return replace(base, centerline=replace(base.centerline, inplane_step_mm=SPACING_MM))


def run(
    n_scans: int, seed: int, levels: list[str]
) -> tuple[str, dict[str, dict[str, tuple[float, float]]]]:
    """Run the benchmark; returns the Markdown section and ``{level: {method: (id%, mm)}}``."""
    files = sorted(VID_GT.glob("*.json"))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=min(n_scans, len(files)), replace=False))
    cfg = config()
    cfg_paper = config(paper=True)
    cases: dict[tuple[str, str], list[CaseResult]] = {}
    timing: dict[str, list[float]] = {m: [] for m in TABLE_METHODS}
    t_rect: list[float] = []
    n_vert = 0
    t_start = time.perf_counter()
    for n, fi in enumerate(chosen):
        path = files[int(fi)]
        gt = read_vid(path).centroids()
        n_vert += len(gt)
        codes = ORIENTATIONS[int(fi) % len(ORIENTATIONS)]
        shape, affine = simulate.grid_around(gt.positions_mm, SPACING_MM, MARGIN_MM, codes)
        for level in levels:
            li = list(simulate.LEVELS).index(level)
            scan_rng = np.random.default_rng([seed, int(fi), li])
            maps = simulate.gaussian_heatmaps(
                gt, shape, affine, SIGMA_MM, simulate.LEVELS[level], scan_rng
            )
            t0 = time.perf_counter()
            sig = wang.rectify_heatmaps(maps, affine, cfg)
            t_rect.append(time.perf_counter() - t0)
            sig_paper = wang.rectify_heatmaps(maps, affine, cfg_paper)
            for m in TABLE_METHODS:
                t0 = time.perf_counter()
                if m == "base":
                    pred = wang.label_heatmaps(maps, affine, m, cfg)
                elif m.endswith(PAPER):
                    pred = wang.label_signals(sig_paper, m[: -len(PAPER)], cfg_paper)
                else:
                    pred = wang.label_signals(sig, m, cfg)
                timing[m].append(time.perf_counter() - t0)
                cases.setdefault((level, m), []).append(
                    evaluate_case(pred, gt, "spineweb", name=path.stem)
                )
        if (n + 1) % 20 == 0:
            print(
                f"  {n + 1}/{len(chosen)} scans, {time.perf_counter() - t_start:.0f} s",
                file=sys.stderr,
            )
    figures: dict[str, dict[str, tuple[float, float]]] = {}
    lines = [
        SECTION,
        "",
        machine_line(),
        "",
        f"Data: {len(chosen)} VID ground-truth spines drawn with seed {seed} "
        f"({n_vert} vertebrae); maps on a {SPACING_MM:g} mm grid (orientation per scan from "
        f"{', '.join(ORIENTATIONS)}), Gaussians sigma {SIGMA_MM:g} mm; T13/L6 answer at half "
        "strength in both neighbouring channels. Corruption levels: "
        + "; ".join(f"{lv}: {_describe(simulate.LEVELS[lv])}" for lv in levels)
        + ". SpineWeb protocol, 20 mm: id rate over all ground-truth vertebrae, mean error "
        "over the identified ones.",
        "",
        "| method | " + " | ".join(f"{lv} id % | {lv} mm" for lv in levels) + " |",
        "|---|" + "---|---|" * len(levels),
    ]
    for m in TABLE_METHODS:
        row = [m]
        for lv in levels:
            s = aggregate(cases[(lv, m)])
            idr, mm = 100.0 * s.regions["all"].id_rate, s.regions["all"].mean_mm
            figures.setdefault(lv, {})[m] = (idr, mm)
            row += [f"{idr:.1f}", f"{mm:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"- Rectification (centerline + rectified maps + signals): "
        f"{1000 * float(np.mean(t_rect)):.0f} ms per scan; labelling after it: "
        + ", ".join(f"{m} {1000 * float(np.mean(timing[m])):.1f} ms" for m in TABLE_METHODS)
        + " (base includes its 3-D argmax).",
        f"- Total run time {time.perf_counter() - t_start:.0f} s.",
    ]
    lines += [
        "- Paper ordering (base ≈ base+rect < base+rect+order < base+rect+optim), id rate %, "
        "spinelab defaults | paper settings:"
    ]
    for lv in levels:
        f = figures[lv]
        parts = []
        for suffix in ("", PAPER):
            order = ["base", "base+rect", "base+rect+order" + suffix, "base+rect+optim" + suffix]
            ok = (
                f[order[1]][0] <= f[order[2]][0] <= f[order[3]][0]
                and f[order[0]][0] <= f[order[3]][0]
            )
            parts.append(
                " / ".join(f"{f[m][0]:.1f}" for m in order)
                + (" (holds)" if ok else " (does not hold)")
            )
        lines.append(f"  - {lv}: " + " | ".join(parts))
    return "\n".join(lines) + "\n", figures


ADDITIONS_SECTION = "## Wang 2021: what each spinelab addition contributes (benchmarks/wang_ablation.py --additions)"


def additions_configs() -> dict[str, wang.WangConfig]:
    """The paper's settings, then spinelab's additions switched on one after the other."""
    paper = config(paper=True)
    full = config()
    floor = replace(paper, floor=full.floor)
    init = replace(floor, init_min_signal=full.init_min_signal)
    centre = replace(init, centerline=full.centerline)
    contract = replace(centre, chain=replace(paper.chain, contraction=True))
    return {
        "paper settings": paper,
        "+ activation floor": floor,
        "+ init threshold": init,
        "+ centerline run/outlier rules": centre,
        "+ contraction": contract,
        "+ end expansion (= defaults)": full,
    }


def run_additions(n_scans: int, seed: int, levels: list[str]) -> str:
    """base+rect+optim under the settings of :func:`additions_configs`; a Markdown section."""
    files = sorted(VID_GT.glob("*.json"))
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(files), size=min(n_scans, len(files)), replace=False))
    cfgs = additions_configs()
    cases: dict[tuple[str, str], list[CaseResult]] = {}
    t_start = time.perf_counter()
    for fi in chosen:
        path = files[int(fi)]
        gt = read_vid(path).centroids()
        codes = ORIENTATIONS[int(fi) % len(ORIENTATIONS)]
        shape, affine = simulate.grid_around(gt.positions_mm, SPACING_MM, MARGIN_MM, codes)
        for level in levels:
            li = list(simulate.LEVELS).index(level)
            maps = simulate.gaussian_heatmaps(
                gt,
                shape,
                affine,
                SIGMA_MM,
                simulate.LEVELS[level],
                np.random.default_rng([seed, int(fi), li]),
            )
            for name, cfg in cfgs.items():
                sig = wang.rectify_heatmaps(maps, affine, cfg)
                pred = wang.label_signals(sig, "base+rect+optim", cfg)
                cases.setdefault((level, name), []).append(evaluate_case(pred, gt, "spineweb"))
    lines = [
        ADDITIONS_SECTION,
        "",
        machine_line(),
        "",
        f"base+rect+optim on the first benchmark's maps (the same seed, levels and rendering; "
        f"{len(chosen)} spines drawn with seed {seed}), starting from WangConfig.paper() and "
        "switching spinelab's additions on one after the other. SpineWeb protocol, 20 mm.",
        "",
        "| settings | " + " | ".join(f"{lv} id % | {lv} mm" for lv in levels) + " |",
        "|---|" + "---|---|" * len(levels),
    ]
    for name in cfgs:
        row = [name]
        for lv in levels:
            s = aggregate(cases[(lv, name)])
            row += [f"{100 * s.regions['all'].id_rate:.1f}", f"{s.regions['all'].mean_mm:.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += _single_modes(chosen, files, seed)
    lines += ["", f"- Total run time {time.perf_counter() - t_start:.0f} s."]
    return "\n".join(lines) + "\n"


#: One failure mode at a time, for explaining the ablation ordering.
SINGLE_MODES: dict[str, simulate.Corruption] = {
    "missing p=0.2": simulate.Corruption(p_missing=0.2),
    "strong neighbour p=0.4, amplitude 0.9-1.3": simulate.Corruption(
        p_neighbour=0.4, neighbour_amplitude=(0.9, 1.3)
    ),
    "false blobs 3/scan": simulate.Corruption(n_false=3.0),
    "noise 0.07": simulate.Corruption(noise=0.07),
}


def _single_modes(chosen: NDArray[np.int64], files: list[Path], seed: int) -> list[str]:
    """Table lines: the four ablations under one failure mode at a time (default settings)."""
    cfg = config()
    methods = ("base", "base+rect", "base+rect+order", "base+rect+optim")
    cases: dict[tuple[str, str], list[CaseResult]] = {}
    for mi, (mode, corr) in enumerate(SINGLE_MODES.items()):
        for fi in chosen:
            gt = read_vid(files[int(fi)]).centroids()
            codes = ORIENTATIONS[int(fi) % len(ORIENTATIONS)]
            shape, affine = simulate.grid_around(gt.positions_mm, SPACING_MM, MARGIN_MM, codes)
            maps = simulate.gaussian_heatmaps(
                gt, shape, affine, SIGMA_MM, corr, np.random.default_rng([seed, int(fi), 10 + mi])
            )
            sig = wang.rectify_heatmaps(maps, affine, cfg)
            for m in methods:
                if m == "base":
                    pred = wang.label_heatmaps(maps, affine, m, cfg)
                else:
                    pred = wang.label_signals(sig, m, cfg)
                cases.setdefault((mode, m), []).append(evaluate_case(pred, gt, "spineweb"))
    lines = [
        "",
        "One failure mode at a time (default settings, same spines), id rate % / mean mm:",
        "",
        "| failure mode | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for mode in SINGLE_MODES:
        row = [mode]
        for m in methods:
            s = aggregate(cases[(mode, m)])
            row.append(f"{100 * s.regions['all'].id_rate:.1f} / {s.regions['all'].mean_mm:.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _describe(c: simulate.Corruption) -> str:
    if c == simulate.Corruption():
        return "clean"
    return (
        f"neighbour p={c.p_neighbour:g}, missing p={c.p_missing:g}, "
        f"false blobs {c.n_false:g}/scan, noise {c.noise:g}, amplitude ±{c.amplitude_jitter:g}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n-scans", type=int, default=100, help="number of spines (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="subset and corruption seed")
    parser.add_argument(
        "--levels", nargs="+", default=list(simulate.LEVELS), choices=list(simulate.LEVELS)
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument(
        "--additions",
        action="store_true",
        help="instead, the table of spinelab's additions (base+rect+optim, paper settings first)",
    )
    args = parser.parse_args(argv)
    if not VID_GT.is_dir():
        print(f"VID ground truth not found at {VID_GT}", file=sys.stderr)
        return 2
    if args.additions:
        section, heading = run_additions(args.n_scans, args.seed, args.levels), ADDITIONS_SECTION
    else:
        section, heading = run(args.n_scans, args.seed, args.levels)[0], SECTION
    print(section)
    if not args.no_write:
        print(f"wrote {os.path.relpath(update_results(section, heading))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
