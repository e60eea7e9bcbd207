"""Choosing detection-labeller weights without touching the report split: 2-fold cross-validation.

Usage::

    .venv/bin/python benchmarks/detection_weights_cv.py [--vid ../shared/data/vid]
        [--region 0 1 2 3] [--no-write]

The VID scans of the fit split (:func:`spinelab.postprocess.detection_priors.split_of`) are cut
in two halves by a hash of the scan id; priors are fitted on one half and the labeller (dp) is
scored on the other, both ways round, so that no scan is labelled with priors fitted on itself
(the bundled priors are fitted on the whole fit split, which makes in-sample figures
optimistic). Each setting of ``DetectionLabelConfig.region_weight`` is scored this way; the
report split is only labelled afterwards, with the bundled priors, for reference. The learned
chain model is left out here (it was trained on the whole fit split; its weight is chosen in
``benchmarks/detection_net_cv.py``), so these figures are the labeller without it.

Prints the table and replaces this script's section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from _results import machine_line, update_results
from spinelab.evaluation.metrics import EvaluationSummary, aggregate, evaluate_case
from spinelab.io.vid import VidScan
from spinelab.postprocess.detection_net import DetectionNet
from spinelab.postprocess.detection_priors import (
    DetectionPriors,
    FitCase,
    default_priors,
    fit_priors,
    vid_split,
)
from spinelab.postprocess.detections import DetectionLabelConfig, label_detections, pedicle_sides

ROOT = Path(__file__).resolve().parents[1]
HEADING = (
    "## Detection labeller weights: 2-fold cross-validation (benchmarks/detection_weights_cv.py)"
)
Scan = tuple[str, VidScan, VidScan]
log = logging.getLogger("detection_weights_cv")


def half_of(scan_id: str) -> int:
    """0 or 1, from a hash of the scan id (independent of the fit/report split's hash)."""
    return int(hashlib.md5(scan_id.encode("utf-8")).hexdigest()[:6], 16) % 2


def load_splits(vid: Path) -> tuple[list[Scan], list[Scan], list[list[Scan]]]:
    """VID scans (detections, ground truth) of the fit and report splits, and the fit split's
    two halves."""
    fit_scans, report = list(vid_split(vid, "fit")), list(vid_split(vid, "report"))
    halves = [[s for s in fit_scans if half_of(s[0]) == h] for h in (0, 1)]
    return fit_scans, report, halves


def fit_on(scans: list[Scan], pedicle_radius_mm: float = 40.0) -> DetectionPriors:
    """Priors fitted on ``scans`` (as ``scripts/fit_detection_priors.py`` does)."""
    cases = []
    for _, det, gt in scans:
        sides = pedicle_sides(det.body_mm, det.left_mm, det.right_mm, pedicle_radius_mm)
        labels = [x for x in gt.body_levels if x is not None]
        cases.append(FitCase(det.body_mm, det.segment_scores, sides, labels, gt.body_mm))
    return fit_priors(cases, pedicle_radius_mm=pedicle_radius_mm)


def score(
    scans: list[Scan],
    priors: DetectionPriors,
    config: DetectionLabelConfig,
    net: DetectionNet | None = None,
) -> list:
    """Per-scan SpineWeb results of the labeller on ``scans`` (``net``: the learned chain
    model, None to leave it out: the bundled one has seen the whole fit split)."""
    out = []
    for name, det, gt in scans:
        pred = label_detections(
            det.body_mm, det.segment_scores, priors, det.left_mm, det.right_mm, config, net=net
        )
        out.append(evaluate_case(pred, gt.centroids(), protocol="spineweb", name=name))
    return out


def row(name: str, s: EvaluationSummary, extra_labels: bool = False) -> str:
    """A table row; ``extra_labels`` adds the count of labels output that the truth lacks."""
    r = s.regions
    text = (
        f"| {name} | {r['all'].n} | {100 * r['all'].id_rate:.2f} | {100 * r['thoracic'].id_rate:.2f} "
        f"| {100 * r['lumbar'].id_rate:.2f} | {100 * s.scans_all_correct:.1f} |"
    )
    if extra_labels:
        text += f" {sum(len(c.extra_labels) for c in s.cases)} |"
    return text


def cv_tables(
    settings: list[tuple[str, DetectionLabelConfig]],
    halves: list[list[Scan]],
    priors: list[DetectionPriors],
    report: list[Scan],
    bundled: DetectionPriors,
    nets: tuple[DetectionNet | None, DetectionNet | None] = (None, None),
    bundled_net: DetectionNet | None = None,
    extra_labels: bool = False,
) -> list[str]:
    """Score every setting on the held-out halves (priors/nets of the other half) and on the
    report split (bundled priors/net); returns the two markdown tables (``extra_labels``: with
    a column counting the labels output that the ground truth lacks)."""
    cv_rows, report_rows = [], []
    for tag, config in settings:
        held_out = score(halves[1], priors[0], config, nets[0]) + score(
            halves[0], priors[1], config, nets[1]
        )
        cv = aggregate(held_out)
        rep = aggregate(score(report, bundled, config, bundled_net))
        cv_rows.append(row(tag, cv, extra_labels))
        report_rows.append(row(tag, rep, extra_labels))
        log.info(
            "%s: cv id %.2f%%, report id %.2f%%",
            tag,
            100 * cv.regions["all"].id_rate,
            100 * rep.regions["all"].id_rate,
        )
    header = [
        "| setting | N | id rate % | thoracic % | lumbar % | all correct % |",
        "|---|---|---|---|---|---|",
    ]
    if extra_labels:
        header = [header[0] + " labels not in truth |", header[1] + "---|"]
    return [
        "**held-out halves of the fit split** (what the weight is chosen on)",
        "",
        *header,
        *cv_rows,
        "",
        "**report split** (reference)",
        "",
        *header,
        *report_rows,
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vid", type=Path, default=ROOT.parent / "shared" / "data" / "vid")
    ap.add_argument("--region", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0])
    ap.add_argument(
        "--transitional",
        type=float,
        nargs="+",
        default=[0.0, 0.1, 0.25, 0.5],
        help="transitional_rate values (0: the learned prevalence)",
    )
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    det_dir = args.vid / "detections"
    if not det_dir.is_dir():
        log.error("VID data not found at %s", args.vid)
        return 2
    fit_scans, report, halves = load_splits(args.vid)
    t0 = time.perf_counter()
    priors = [fit_on(h) for h in halves]
    log.info(
        "fit split %d scans (halves %d / %d), report %d; priors fitted in %.1f s",
        len(fit_scans),
        len(halves[0]),
        len(halves[1]),
        len(report),
        time.perf_counter() - t0,
    )
    bundled = default_priors()
    base = DetectionLabelConfig()
    settings = [
        (
            f"region_weight {w:g}" + (" (default)" if w == base.region_weight else ""),
            replace(base, region_weight=w),
        )
        for w in args.region
    ]
    for t in args.transitional:
        rate = t or None
        if rate == base.transitional_rate:
            continue  # the default row above
        name = "learned" if rate is None else f"{t:g}"
        settings.append((f"transitional_rate {name}", replace(base, transitional_rate=rate)))
    tables = cv_tables(settings, halves, priors, report, bundled)
    lines = [
        HEADING,
        "",
        machine_line(),
        "",
        "dp labeller, SpineWeb protocol (20 mm). Fit split cut in two halves by "
        "`int(md5(scan id)[:6], 16) % 2`; priors fitted on one half, scored on the other, both "
        f"ways ({len(halves[0])} + {len(halves[1])} scans). The report split "
        f"({len(report)} scans) is labelled afterwards with the bundled priors (fitted on the "
        "whole fit split), for reference only. Other settings are the defaults of "
        f"`DetectionLabelConfig` (region_weight {base.region_weight:g}, transitional_rate "
        f"{base.transitional_rate}); 'transitional_rate learned' uses the prevalence fitted with "
        "the priors (L6: 2.65 %). The learned chain model is left out here, in both halves and "
        "on the report split (it was trained on the whole fit split; its weight is chosen in "
        "the next section), so these figures are the labeller without it.",
        "",
        *tables,
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        log.info("updated %s", update_results(text, HEADING))
    return 0


if __name__ == "__main__":
    sys.exit(main())
