"""Train the learned chain model of vertebra detections on the fit split of the VID dataset.

Usage::

    .venv/bin/python scripts/fit_detection_net.py [--vid ../shared/data/vid]
        [--out src/spinelab/data/detection_net] [--force]

Needs torch (``pip install spinelab[train]``; CPU is enough: about a minute per ensemble member
on 2 cores, 187 s for the three on 2026-12-06). Reads every ``detections/<id>.json`` with its
``ground_truth/<id>.json`` of the "fit" split
(:func:`spinelab.postprocess.detection_priors.split_of`, the split the detection priors are
fitted on), trains the ensemble of :class:`spinelab.nets.detection_gru.DetectionGRU` (settings:
:class:`spinelab.postprocess.detection_net.DetectionNetConfig` defaults) and writes ``OUT.npz``
+ ``OUT.json`` with the settings and provenance. The report split is read only after training,
to score the new weights: the labeller with its defaults (bundled priors, this network) on the
report split, SpineWeb protocol, stored in the provenance as ``held_out`` (the figures of
``benchmarks/label_detections.py``'s 'dp' row).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spinelab import __version__
from spinelab.errors import SpinelabInputError
from spinelab.evaluation.metrics import aggregate, evaluate_case
from spinelab.nets.detection_gru import ChainSample, scan_sample, train_detection_net
from spinelab.postprocess.detection_net import DetectionNet, DetectionNetConfig
from spinelab.postprocess.detection_priors import FIT_SHARE_PERCENT, default_priors, vid_split
from spinelab.postprocess.detections import label_detections

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("fit_detection_net")


def load_samples(
    vid: Path, split: str, labels: tuple[str, ...], config: DetectionNetConfig
) -> list[ChainSample]:
    """Training sequences of one split (sorted by scan id; scans without detections left out)."""
    return [
        s
        for scan_id, det, gt in vid_split(vid, split)
        if (s := scan_sample(scan_id, det, gt, labels, config)) is not None
    ]


def held_out_scores(vid: Path, net: DetectionNet) -> dict[str, object]:
    """The labeller's figures on the report split with ``net`` (defaults otherwise)."""
    priors = default_priors()
    cases = []
    for scan_id, det, gt in vid_split(vid, "report"):
        pred = label_detections(
            det.body_mm, det.segment_scores, priors, det.left_mm, det.right_mm, net=net
        )
        cases.append(evaluate_case(pred, gt.centroids(), protocol="spineweb", name=scan_id))
    s = aggregate(cases)
    return {
        "what": "label-detections with its defaults, report split (the other scans), SpineWeb "
        "protocol, 20 mm",
        "n_scans": len(cases),
        "n_vertebrae": s.regions["all"].n,
        "id_rate_percent": round(100 * s.regions["all"].id_rate, 2),
        "scans_all_correct_percent": round(100 * s.scans_all_correct, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vid", type=Path, default=ROOT.parent / "shared" / "data" / "vid")
    ap.add_argument("--out", type=Path, default=ROOT / "src/spinelab/data/detection_net")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)  # tiny sequences: threads only add overhead
    config = DetectionNetConfig()
    labels = default_priors().labels  # the labels the labeller's priors know, chain order
    try:
        t0 = time.perf_counter()
        samples = load_samples(args.vid, "fit", labels, config)
        if not samples:
            raise SpinelabInputError(args.vid, "no VID scans of the fit split found")
        log.info("%d fit-split scans read in %.1f s", len(samples), time.perf_counter() - t0)
        n_nodes = sum(len(s.variants[0][1]) for s in samples)
        n_false = sum(int(np.sum(s.variants[0][1] == len(labels))) for s in samples)
        meta = {
            "dataset": "VID (Buergin et al. 2023) training annotations, CC BY-SA 4.0",
            "split": f"sha256(scan id)[:8] as int % 100 < {FIT_SHARE_PERCENT} -> fit",
            "n_scans": len(samples),
            "n_nodes": n_nodes,
            "n_false_detections": n_false,
            "targets": "ground-truth label of the detection matched within match_radius_mm "
            "(optimal one-to-one), else false detection; no target for a detection in a gap "
            "the ground truth skips (unannotated_detections: e.g. a T13)",
            "trained": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "torch_version": torch.__version__,
            "python": platform.python_version(),
            "spinelab_version": __version__,
        }
        t0 = time.perf_counter()
        net = train_detection_net(samples, labels, config, meta)
        secs = time.perf_counter() - t0
        hits = sum(
            int(np.sum(net.log_posteriors(x).argmax(axis=1) == y))
            for x, y in (s.variants[0] for s in samples)
        )
        net.meta["train_node_accuracy"] = round(hits / n_nodes, 4)
        net.meta["train_seconds"] = round(secs, 1)
        net.meta["held_out"] = held_out_scores(args.vid, net)
        npz, js = net.save(args.out, force=args.force)
        for f in (npz, js):  # package data: readable by everyone (temporary files are 0600)
            f.chmod(0o644)
    except SpinelabInputError as exc:
        sys.stderr.write(f"fit_detection_net: error: {exc}\n")
        return 2
    log.info(
        "trained %d models on %d scans (%d nodes) in %.0f s; node accuracy on the training "
        "scans %.2f%%; wrote %s and %s",
        config.n_models,
        len(samples),
        n_nodes,
        secs,
        100 * hits / n_nodes,
        npz,
        js,
    )
    log.info("held out (report split): %s", net.meta["held_out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
