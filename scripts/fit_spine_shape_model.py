"""Rebuild the shipped spine shape model from the VID ground truth (deterministic).

Usage:
    .venv/bin/python scripts/fit_spine_shape_model.py [--vid ../shared/data/vid/ground_truth]
        [--out src/spinelab/data/spine_shape_model] [--force]

Writes ``OUT.npz`` and ``OUT.json`` (see :mod:`spinelab.synth.shape_model`) and prints the
per-link sample counts and gap means.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from spinelab.errors import SpinelabInputError
from spinelab.synth.shape_model import BLOCKS, LINKS, SpineShapeModel

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    """Fit and save the model; returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vid", type=Path, default=ROOT.parent / "shared/data/vid/ground_truth")
    p.add_argument("--out", type=Path, default=ROOT / "src/spinelab/data/spine_shape_model")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        model = SpineShapeModel.fit(args.vid)
        model.save(args.out, force=args.force)
    except SpinelabInputError as exc:
        print(f"fit_spine_shape_model: error: {exc}", file=sys.stderr)
        return 2
    g0 = BLOCKS["gap"][0]
    print(f"{'link':8s} {'scans':>6s} {'VID mean':>9s} {'model':>7s}")
    for k, (a, b) in enumerate(LINKS):
        n = int(model.counts[g0 + k])
        vid = f"{math.exp(model.data_mean[g0 + k]):9.1f}" if n else f"{'-':>9s}"
        print(f"{a + '-' + b:8s} {n:6d} {vid} {math.exp(model.mean[g0 + k]):7.1f}")
    print(
        f"P(L6) = {model.p_l6:.4f}, P(T13) = {model.p_t13:.4f}, "
        f"patient log-scale sigma = {model.log_scale_sigma:.3f}"
    )
    print(f"wrote {args.out}.npz and {args.out}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
