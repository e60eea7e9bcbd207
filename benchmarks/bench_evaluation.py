"""Benchmark of the evaluation metrics on the 1,947 real VID ground-truth spines.

Prints, and writes into ``benchmarks/RESULTS.md`` (replacing its own section):
    * sanity figures with known answers on real geometry (perfect, Gaussian noise, labels one
      level off), for both protocols;
    * how much the spineweb and VerSe protocols differ on degraded predictions;
    * the time per scan of :func:`evaluate_case` and of ``spinelab evaluate`` on a folder.

Run: ``.venv/bin/python benchmarks/bench_evaluation.py [--limit N]`` (needs ../shared/data).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _results import machine_line, update_results
from spinelab import anatomy
from spinelab.cli import main as cli_main
from spinelab.evaluation.metrics import EvaluationSummary, aggregate, evaluate_case
from spinelab.io.native import write_native
from spinelab.io.vid import read_vid
from spinelab.structures import Centroids

ROOT = Path(__file__).resolve().parents[1]
VID_GT = ROOT.parent / "shared" / "data" / "vid" / "ground_truth"
SECTION = "## Evaluation metrics (benchmarks/bench_evaluation.py)"


def noisy(c: Centroids, sigma_mm: float, rng: np.random.Generator) -> Centroids:
    """``c`` with isotropic Gaussian noise (per-axis sigma, mm)."""
    return Centroids(list(c.labels), c.positions_mm + rng.normal(0, sigma_mm, c.positions_mm.shape))


def one_level_down(c: Centroids) -> Centroids:
    """Every standard label renamed as its caudal neighbour (positions kept)."""
    std = anatomy.STANDARD_LABELS
    keep = [x for x in c.labels if x in std and std.index(x) + 1 < len(std)]
    return Centroids([std[std.index(x) + 1] for x in keep], c.subset(keep).positions_mm)


def degrade(c: Centroids, rng: np.random.Generator) -> Centroids:
    """Drop ~20% of the vertebrae and add 8 mm per-axis noise."""
    keep = [x for x in c.labels if rng.random() > 0.2]
    return noisy(c.subset(keep), 8.0, rng)


def _f(x: float, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if not math.isfinite(x) else f"{scale * x:.{digits}f}"


def fmt_row(name: str, protocol: str, s: EvaluationSummary) -> str:
    a = s.regions["all"]
    return (
        f"| {name} | {protocol} | {a.n} | {_f(a.id_rate, 100)} | {_f(a.mean_mm)} | "
        f"{_f(a.std_mm)} | {_f(s.scans_all_correct, 100, 1)} |"
    )


def run(limit: int | None) -> str:
    files = sorted(VID_GT.glob("*.json"))
    if limit:
        files = files[:limit]
    t0 = time.perf_counter()
    gts = [(f.stem, read_vid(f).centroids()) for f in files]
    t_read = time.perf_counter() - t0
    n_vert = sum(len(c) for _, c in gts)
    rng = np.random.default_rng(2017)
    scenarios = {
        "perfect": [c for _, c in gts],
        "noise 3 mm/axis": [noisy(c, 3.0, rng) for _, c in gts],
        "labels one level down": [one_level_down(c) for _, c in gts],
        "20% dropped + noise 8 mm/axis": [degrade(c, rng) for _, c in gts],
    }
    rows = []
    timings = {}
    for name, preds in scenarios.items():
        for protocol in ("spineweb", "verse"):
            t0 = time.perf_counter()
            cases = [
                evaluate_case(p, g, protocol, name=n) for p, (n, g) in zip(preds, gts, strict=True)
            ]
            timings[(name, protocol)] = (time.perf_counter() - t0) / len(cases)
            s = aggregate(cases)
            rows.append(fmt_row(name, protocol, s))
            print(rows[-1])

    with tempfile.TemporaryDirectory() as tmp:
        pred_dir, gt_dir = Path(tmp) / "pred", Path(tmp) / "gt"
        pred_dir.mkdir()
        gt_dir.mkdir()
        for (n, g), p in zip(gts, scenarios["noise 3 mm/axis"], strict=True):
            write_native(g, gt_dir / f"{n}.json")
            write_native(p, pred_dir / f"{n}.json")
        out = Path(tmp) / "eval.json"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the table is not wanted here
            rc = cli_main(["-q", "evaluate", str(pred_dir), str(gt_dir), "--json", str(out)])
        t_cli = time.perf_counter() - t0
        assert rc == 0
        cli_id = json.loads(out.read_text())["all"]["id_rate"]

    per_case_us = 1e6 * float(np.mean(list(timings.values())))
    lines = [
        SECTION,
        "",
        machine_line(),
        "",
        f"Data: {len(gts)} VID ground-truth spines, {n_vert} vertebrae (read in {t_read:.1f} s). "
        "Predictions are the ground truth altered as named; id rates and errors are pooled over "
        "vertebrae; 'all correct' is the share of scans with every vertebra identified.",
        "",
        "| prediction | protocol | N | id rate % | mean mm | std mm | all correct % |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- `evaluate_case`: {per_case_us:.0f} µs per scan (mean over all runs above).",
        f"- `spinelab evaluate PRED_DIR GT_DIR --json` on {len(gts)} native-JSON pairs: "
        f"{t_cli:.1f} s end to end (reading included); id rate {100 * cli_id:.2f}% "
        "(the noise 3 mm/axis scenario).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N scans (quick look)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args(argv)
    if not VID_GT.is_dir():
        print(f"VID ground truth not found at {VID_GT}", file=sys.stderr)
        return 2
    section = run(args.limit)
    print(section)
    if not args.no_write and not args.limit:
        print(f"wrote {os.path.relpath(update_results(section, SECTION))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
