"""How far the detection labeller's confidences can be trusted, and their temperature.

Usage::

    .venv/bin/python benchmarks/detection_confidence.py [--vid ../shared/data/vid]
        [--temperatures 1 2 3 4 5 6 7 8 10] [--no-write]

Needs torch (the chain models of the cross-validation are trained here). Every labelled vertebra
gets a confidence (:func:`spinelab.postprocess.detections.label_detections`; dp: the posterior
probability of its label under ``exp(-E / T)``). A labelled vertebra counts as right when the
ground truth has its label and identifies it (SpineWeb protocol, 20 mm); a label the ground
truth lacks counts as wrong. The temperature changes the confidences, never the labels.

Temperature: the fit split's two halves as in ``benchmarks/detection_net_cv.py`` (priors and
chain model fitted on one half, labels and confidences on the other, both ways); the temperature
with the lowest negative log-likelihood of the held-out outcomes is the one to ship as
``CONFIDENCE_TEMPERATURE``, fitted on the vertebrae of scans labelled with the chain model, and
as ``CONFIDENCE_TEMPERATURE_WITHOUT_NET`` on those of scans labelled without it (more body
detections than ``net_max_detections``). The report split is then scored with the bundled
priors and network at T = 1 and at the shipped temperatures: reliability per confidence bin,
expected calibration error (ECE, bins weighted by their counts), how well the confidences rank
right above wrong (AUROC), and a per-scan triage (flag the scans whose lowest confidence is
lowest).

Prints the tables and replaces this script's section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from _results import machine_line, update_results
from detection_net_cv import train_halves
from detection_weights_cv import Scan, load_splits
from spinelab.evaluation.metrics import evaluate_case
from spinelab.postprocess.detection_net import (
    DetectionNet,
    DetectionNetConfig,
    default_detection_net,
)
from spinelab.postprocess.detection_priors import DetectionPriors, default_priors
from spinelab.postprocess.detections import (
    CONFIDENCE_TEMPERATURE,
    CONFIDENCE_TEMPERATURE_WITHOUT_NET,
    DetectionLabelConfig,
    label_detections,
)

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Detection labeller confidences: calibration (benchmarks/detection_confidence.py)"
log = logging.getLogger("detection_confidence")
#: Confidence bins of the reliability tables (lower edges; the last bin ends at 1 inclusive).
BINS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
#: Scan triage: the share of scans flagged for review, those with the lowest confidences.
FLAGGED = (0.05, 0.1, 0.2, 0.3)
EPS = 1e-6


@dataclass
class Outcomes:
    """Per labelled vertebra: confidence, whether it is right and whether its scan was labelled
    with the chain model; per scan: lowest confidence and whether every ground-truth vertebra
    was identified."""

    conf: np.ndarray
    right: np.ndarray
    scan_min: np.ndarray
    scan_ok: np.ndarray
    with_net: np.ndarray

    def vertebrae(self, with_net: bool) -> Outcomes:
        """The vertebrae of the scans labelled with (or without) the chain model (no scans)."""
        m = self.with_net == with_net
        return Outcomes(
            self.conf[m], self.right[m], np.zeros(0), np.zeros(0, bool), self.with_net[m]
        )


Fold = tuple[list[Scan], DetectionPriors, DetectionNet]


def outcomes(folds: list[Fold], config: DetectionLabelConfig) -> Outcomes:
    """Label the scans of every fold with its priors and chain model; the outcomes together."""
    conf: list[float] = []
    right: list[bool] = []
    scan_min: list[float] = []
    scan_ok: list[bool] = []
    with_net: list[bool] = []
    for name, det, gt, priors, net in (
        (*scan, priors, net) for scans, priors, net in folds for scan in scans
    ):
        pred = label_detections(
            det.body_mm, det.segment_scores, priors, det.left_mm, det.right_mm, config, net=net
        )
        res = evaluate_case(pred, gt.centroids(), protocol="spineweb", name=name)
        ok = {v.label: v.identified for v in res.vertebrae}
        c = np.ones(len(pred.labels)) if pred.confidence is None else np.asarray(pred.confidence)
        conf.extend(c.tolist())
        right.extend(bool(ok.get(x, False)) for x in pred.labels)
        scan_min.append(float(c.min()) if c.size else 0.0)
        scan_ok.append(all(ok.values()))
        with_net.extend([bool(pred.extra and pred.extra.get("chain_model"))] * c.size)
    return Outcomes(*(np.asarray(x) for x in (conf, right, scan_min, scan_ok, with_net)))


def nll(o: Outcomes) -> float:
    """Mean negative log-likelihood of the outcomes under the confidences (nats)."""
    c = np.clip(o.conf, EPS, 1.0 - EPS)
    return float(-np.mean(np.where(o.right, np.log(c), np.log1p(-c))))


def bin_index(conf: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(BINS), conf, side="right") - 1


def ece(o: Outcomes) -> float:
    """Expected calibration error over :data:`BINS` (weighted by the bins' counts)."""
    b = bin_index(o.conf)
    total = 0.0
    for i in range(len(BINS)):
        m = b == i
        if m.any():
            total += m.sum() * abs(o.conf[m].mean() - o.right[m].mean())
    return float(total / max(len(o.conf), 1))


def reliability_rows(o: Outcomes) -> list[str]:
    b = bin_index(o.conf)
    rows = []
    for i, lo in enumerate(BINS):
        hi = BINS[i + 1] if i + 1 < len(BINS) else 1.0
        m = b == i
        if not m.any():
            rows.append(f"| [{lo:g}, {hi:g}{']' if hi == 1.0 else ')'} | 0 | - | - |")
            continue
        rows.append(
            f"| [{lo:g}, {hi:g}{']' if hi == 1.0 else ')'} | {int(m.sum())} | "
            f"{100 * o.conf[m].mean():.1f} | {100 * o.right[m].mean():.1f} |"
        )
    return rows


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half)."""
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inv, counts = np.unique(score, return_inverse=True, return_counts=True)
    # mid-ranks of tied values: the ranks below the value plus half of its ties plus a half
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks = (below + (counts + 1) / 2.0)[inv]
    r_pos = ranks[positive].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def triage_rows(o: Outcomes) -> list[str]:
    """Flag the scans with the lowest ``scan_min`` (ties broken by scan order)."""
    rows = []
    failed = ~o.scan_ok
    order = np.argsort(o.scan_min, kind="stable")
    for share in FLAGGED:
        n_flag = round(share * len(order))
        flag = np.zeros(len(order), dtype=bool)
        flag[order[:n_flag]] = True
        caught = (flag & failed).sum() / max(failed.sum(), 1)
        kept = o.scan_ok[~flag].mean() if (~flag).any() else float("nan")
        first = float(o.scan_min[order[min(n_flag, len(order) - 1)]])
        rows.append(f"| {100 * share:.0f} | {first:.3f} | {100 * caught:.1f} | {100 * kept:.1f} |")
    return rows


def report_block(title: str, o: Outcomes) -> list[str]:
    return [
        f"**{title}**: {len(o.conf)} labelled vertebrae, {100 * o.right.mean():.2f} % right; "
        f"NLL {nll(o):.3f}, ECE {100 * ece(o):.2f} points; {len(o.scan_ok)} scans, "
        f"{100 * o.scan_ok.mean():.1f} % fully right; AUROC of the confidence for right vs "
        f"wrong vertebrae {auroc(o.conf, o.right):.3f}, of a scan's lowest confidence for fully "
        f"right vs failed scans {auroc(o.scan_min, o.scan_ok):.3f}",
        "",
        "| confidence | vertebrae | mean confidence % | right % |",
        "|---|---|---|---|",
        *reliability_rows(o),
        "",
        "| scans flagged for review (lowest confidences) % | lowest confidence of the first "
        "scan not flagged | failed scans flagged % | fully right among the others % |",
        "|---|---|---|---|",
        *triage_rows(o),
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vid", type=Path, default=ROOT.parent / "shared" / "data" / "vid")
    ap.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0],
    )
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    if not (args.vid / "detections").is_dir():
        log.error("VID data not found at %s", args.vid)
        return 2
    _, report, halves = load_splits(args.vid)
    bundled_priors = default_priors()
    priors, nets = train_halves(halves, bundled_priors.labels, DetectionNetConfig())
    base = DetectionLabelConfig()
    cv_rows, best = [], {True: (np.inf, 1.0), False: (np.inf, 1.0)}
    for t in args.temperatures:
        cfg = replace(base, confidence_temperature=t, confidence_temperature_without_net=t)
        o = outcomes([(halves[1], priors[0], nets[0]), (halves[0], priors[1], nets[1])], cfg)
        cells = []
        for with_net, shipped_t in (
            (True, CONFIDENCE_TEMPERATURE),
            (False, CONFIDENCE_TEMPERATURE_WITHOUT_NET),
        ):
            g = o.vertebrae(with_net)
            n = nll(g)
            best[with_net] = min(best[with_net], (n, t))
            mark = " (shipped)" if t == shipped_t else ""
            cells.append(f"{n:.4f}{mark} | {100 * ece(g):.2f} | {len(g.conf)}")
            log.info(
                "T %g, chain model %s: held-out NLL %.4f, ECE %.2f points",
                t,
                with_net,
                n,
                100 * ece(g),
            )
        cv_rows.append(f"| {t:g} | {' | '.join(cells)} |")
    bundled_net = default_detection_net()
    bundled = [(report, bundled_priors, bundled_net)]
    rep1 = outcomes(
        bundled, replace(base, confidence_temperature=1.0, confidence_temperature_without_net=1.0)
    )
    rep_t = outcomes(bundled, base)
    text = "\n".join(
        [
            HEADING,
            "",
            machine_line(),
            "",
            "dp labeller, defaults of `DetectionLabelConfig` but the temperatures. A labelled "
            "vertebra is right when the ground truth has its label and identifies it (SpineWeb, "
            "20 mm). Temperature chosen on the held-out halves of the fit split (priors and "
            f"chain model of the other half; {len(halves[0])} + {len(halves[1])} scans) by the "
            "negative log-likelihood (NLL, nats per vertebra) of the outcomes, separately for "
            "the vertebrae of scans labelled with the chain model and of those labelled "
            f"without it (more than {base.net_max_detections} body detections); ECE in "
            "percentage points over the bins of the tables below.",
            "",
            "| temperature | NLL, with chain model | ECE | vertebrae | NLL, without | ECE | "
            "vertebrae |",
            "|---|---|---|---|---|---|---|",
            *cv_rows,
            "",
            f"Lowest held-out NLL with the chain model at T = {best[True][1]:g}, without it at "
            f"T = {best[False][1]:g}; shipped `CONFIDENCE_TEMPERATURE` = "
            f"{CONFIDENCE_TEMPERATURE:g}, `CONFIDENCE_TEMPERATURE_WITHOUT_NET` = "
            f"{CONFIDENCE_TEMPERATURE_WITHOUT_NET:g}.",
            "",
            *report_block(f"report split, T = 1 ({len(report)} scans)", rep1),
            *report_block(
                f"report split, T = {CONFIDENCE_TEMPERATURE:g} / "
                f"{CONFIDENCE_TEMPERATURE_WITHOUT_NET:g} (shipped)",
                rep_t,
            ),
        ]
    )
    print(text)
    if not args.no_write:
        log.info("updated %s", update_results(text, HEADING))
    return 0


if __name__ == "__main__":
    sys.exit(main())
