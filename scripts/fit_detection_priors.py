"""Fit the detection-labelling priors on the fit split of the VID dataset.

Usage::

    .venv/bin/python scripts/fit_detection_priors.py [--vid ../shared/data/vid]
        [--out src/spinelab/data/detection_priors] [--force]

Reads every ``detections/<id>.json`` with its ``ground_truth/<id>.json``, keeps the scans whose
id falls in the "fit" split (:func:`spinelab.postprocess.detection_priors.split_of`, ~70% by a
hash of the id) and writes ``OUT.npz`` + ``OUT.json`` (see
:mod:`spinelab.postprocess.detection_priors`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from spinelab import __version__
from spinelab.errors import SpinelabInputError
from spinelab.postprocess.detection_priors import (
    FIT_SHARE_PERCENT,
    FitCase,
    fit_priors,
    vid_split,
)
from spinelab.postprocess.detections import pedicle_sides

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("fit_detection_priors")


def load_cases(vid: Path, split: str, pedicle_radius_mm: float) -> tuple[list[FitCase], list[str]]:
    """The (detections, ground truth) pairs of one split, and their ids (sorted)."""
    cases, ids = [], []
    for scan_id, det, gt in vid_split(vid, split):
        sides = pedicle_sides(det.body_mm, det.left_mm, det.right_mm, pedicle_radius_mm)
        labels = [x for x in gt.body_levels if x is not None]
        cases.append(FitCase(det.body_mm, det.segment_scores, sides, labels, gt.body_mm))
        ids.append(scan_id)
    return cases, ids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vid", type=Path, default=ROOT.parent / "shared" / "data" / "vid")
    ap.add_argument("--out", type=Path, default=ROOT / "src/spinelab/data/detection_priors")
    ap.add_argument("--pedicle-radius-mm", type=float, default=40.0)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cases, _ids = load_cases(args.vid, "fit", args.pedicle_radius_mm)
        if not cases:
            raise SpinelabInputError(args.vid, "no VID scans of the fit split found")
        meta = {
            "dataset": "VID (Buergin et al. 2023) training annotations, CC BY-SA 4.0",
            "split": f"sha256(scan id)[:8] as int % 100 < {FIT_SHARE_PERCENT} -> fit",
            "n_scans": len(cases),
            "n_ground_truth_vertebrae": sum(len(c.gt_labels) for c in cases),
            "n_detections": sum(len(c.det_mm) for c in cases),
            "spinelab_version": __version__,
        }
        priors = fit_priors(cases, pedicle_radius_mm=args.pedicle_radius_mm, meta=meta)
        npz, js = priors.save(args.out, force=args.force)
        for f in (npz, js):  # package data: readable by everyone (temporary files are 0600)
            f.chmod(0o644)
    except SpinelabInputError as exc:
        sys.stderr.write(f"fit_detection_priors: error: {exc}\n")
        return 2
    log.info("fitted on %d scans; wrote %s and %s", len(cases), npz, js)
    log.info("labels %s", " ".join(priors.labels))
    log.info("gap mean mm %s", " ".join(f"{x:.1f}" for x in priors.gap_mean_mm))
    log.info("gap sd mm   %s", " ".join(f"{x:.1f}" for x in priors.gap_sd_mm))
    log.info(
        "log-scale sd %.3f; fp rates top/mid/bottom %.4f/%.4f/%.4f; miss %.4f; transitional %s",
        priors.log_scale_sd,
        priors.fp_rate_top,
        priors.fp_rate_mid,
        priors.fp_rate_bottom,
        priors.miss_rate,
        priors.transitional_rate,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
