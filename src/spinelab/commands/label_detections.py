"""``spinelab label-detections IN -o OUT``: label vertebra-body detections (VID keypoint files).

IN is a VID keypoint JSON file (unlabelled body detections with C/T/L segment scores, pedicle
points) or a folder of them (``*.json``, sub-folders not searched). The detections are labelled
with the Wang 2021 constrained optimization using priors learned from training ground truth
(:mod:`spinelab.postprocess.detections`); detections judged false are dropped. A vertebra whose
body was missed but whose left/right pedicles were detected may be added at the body position
implied by them (``extra.from_pedicles`` counts them; ``--no-pedicles`` turns this off).
A learned chain model (:mod:`spinelab.postprocess.detection_net`, a bidirectional GRU along the
detections) adds its evidence to the energy (``--net STEM`` for other weights, ``--no-net`` to
leave it out); scans with more body detections than ``--net-max-detections`` (whole spines) are
labelled without it. ``--t12-absent-rate P`` lets a spine have eleven thoracic vertebrae (off by
default; see ``DetectionLabelConfig.t12_absent_rate``).

OUT is a ``spinelab-centroids/1`` JSON file (file mode) or a folder that receives one JSON per
input file, of the same file name (folder mode). Outputs are written atomically; existing ones
are never overwritten without ``--force`` (checked for every output before anything is
computed). In folder mode a file that cannot be read is reported (one line naming it) and
skipped; the exit code is then 1. An unusable IN or OUT gives exit code 2.

Each vertebra's ``confidence`` is the posterior probability that its detection carries that
label (``--solver dp``), or a margin against the labelling shifted by one level (``wang``).
The dp solver reports the consistent labelling with the most expected right labels under that
posterior (``--decoder expected``, the default) or the single lowest-energy one (``map``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from spinelab.errors import OutputExistsError, SpinelabInputError

if TYPE_CHECKING:
    from spinelab.postprocess.detection_net import DetectionNet
    from spinelab.postprocess.detection_priors import DetectionPriors
    from spinelab.postprocess.detections import DetectionLabelConfig

NAME = "label-detections"
HELP = "label vertebra-body detections (VID keypoint files) with the Wang 2021 optimization"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``label-detections`` arguments to ``parser``."""
    parser.add_argument("input", metavar="IN", help="VID detection JSON file, or a folder of them")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help="output JSON file (folder for IN folder)",
    )
    parser.add_argument(
        "--solver",
        choices=("dp", "wang"),
        default="dp",
        help="dp: exact global minimum with false-detection and missed-vertebra states (default); "
        "wang: the paper's Algorithm 1 (local search) on the same energy",
    )
    parser.add_argument(
        "--decoder",
        choices=("expected", "map"),
        default="expected",
        help="dp: expected (default): the consistent labelling with the most expected right "
        "labels under the posterior; map: the single lowest-energy labelling",
    )
    parser.add_argument(
        "--priors",
        metavar="STEM",
        help="priors STEM.json + STEM.npz (default: the bundled ones, fitted on VID)",
    )
    parser.add_argument(
        "--no-pedicles",
        action="store_true",
        help="ignore pedicle points (no pedicle evidence, no bodies implied by pedicle pairs)",
    )
    parser.add_argument(
        "--net",
        metavar="STEM",
        help="learned chain model STEM.json + STEM.npz (default: the bundled one, trained on "
        "VID's fit split)",
    )
    parser.add_argument(
        "--no-net",
        action="store_true",
        help="leave out the learned chain model's evidence (priors and optimization only)",
    )
    parser.add_argument(
        "--net-max-detections",
        metavar="N",
        default=None,
        help="use the chain model only for scans with at most N body detections, or 'none' for "
        "every scan (default: DetectionLabelConfig.net_max_detections, 16; longer, whole-spine "
        "chains are rare in its training data and it miscounts them)",
    )
    parser.add_argument(
        "--t12-absent-rate",
        metavar="P",
        type=float,
        default=None,
        help="probability that a spine has eleven thoracic vertebrae (T11 then L1, no T12), "
        "e.g. 0.005 for VerSe-like data; default 0: off (DetectionLabelConfig.t12_absent_rate)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _limit(text: str) -> int | None:
    """``--net-max-detections``: a count >= 0, or 'none' (a bad value: one-line input error)."""
    if text.strip().lower() == "none":
        return None
    if not text.strip().isdigit():
        problem = f"--net-max-detections {text}: give a whole number >= 0 or 'none'"
        raise SpinelabInputError(None, problem)
    return int(text)


def _label_one(
    path: Path,
    out: Path,
    priors: DetectionPriors,
    config: DetectionLabelConfig,
    force: bool,
    net: DetectionNet | None = None,
) -> str:
    from spinelab.io.native import write_native
    from spinelab.io.vid import read_vid
    from spinelab.postprocess.detections import label_detections

    scan = read_vid(path)
    if scan.body_mm.shape[0] and scan.is_labelled:
        log.warning("%s: body points already carry levels; they are ignored", path)
    cents = label_detections(
        scan.body_mm,
        scan.segment_scores,
        priors,
        scan.left_mm,
        scan.right_mm,
        config,
        source={"file": path.name, "format": "vid-keypoints"},
        net=net,
    )
    write_native(cents, out, force=force)
    n_det = scan.body_mm.shape[0]
    if len(cents) == 0:
        return f"{path.name}: {n_det} detections, none labelled"
    dropped = len(cents.extra.get("dropped_detections", [])) if cents.extra else 0
    added = int(cents.extra.get("from_pedicles", 0)) if cents.extra else 0
    notes = [f"{dropped} dropped"] + ([f"{added} from pedicles only"] if added else [])
    if net is not None and cents.extra and not cents.extra.get("chain_model", True):
        notes.append("without the chain model: more detections than --net-max-detections")
    return (
        f"{path.name}: {n_det} detections -> {len(cents)} vertebrae "
        f"{cents.labels[0]}..{cents.labels[-1]} ({', '.join(notes)})"
    )


def run(args: argparse.Namespace) -> int:
    """Label one file or a folder; returns 0, 1 (some files failed) or 2 (unusable input)."""
    from spinelab.postprocess.detection_net import DetectionNet, default_detection_net
    from spinelab.postprocess.detection_priors import DetectionPriors, default_priors
    from spinelab.postprocess.detections import NET_WEIGHT, DetectionLabelConfig

    src = Path(args.input)
    dst = Path(args.output)
    if not src.exists():
        raise SpinelabInputError(src, "not found")
    priors = DetectionPriors.load(args.priors) if args.priors else default_priors()
    use_ped = not args.no_pedicles
    net = None
    if not args.no_net:
        net = DetectionNet.load(args.net) if args.net else default_detection_net()
    config = DetectionLabelConfig(
        solver=args.solver,
        decoder=args.decoder,
        use_pedicles=use_ped,
        pedicle_candidates=use_ped,
        net_weight=NET_WEIGHT if net is not None else 0.0,
    )
    if args.net_max_detections is not None:
        config = replace(config, net_max_detections=_limit(args.net_max_detections))
    if args.t12_absent_rate is not None:
        try:  # the config checks the range
            config = replace(config, t12_absent_rate=args.t12_absent_rate)
        except ValueError as exc:
            problem = f"--t12-absent-rate {args.t12_absent_rate}: {exc}"
            raise SpinelabInputError(None, problem) from None

    if src.is_file():
        if dst.is_dir():
            raise SpinelabInputError(dst, "is a folder; give an output file for one input file")
        if dst.exists() and not args.force:
            raise OutputExistsError(dst)
        print(_label_one(src, dst, priors, config, args.force, net))
        return 0

    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() == ".json")
    files = [p for p in files if not p.name.startswith(".")]
    if not files:
        raise SpinelabInputError(src, "no .json files in this folder")
    if dst.exists() and not dst.is_dir():
        raise SpinelabInputError(dst, "exists and is not a folder (IN is a folder)")
    if not args.force:
        for p in files:
            if (dst / p.name).exists():
                raise OutputExistsError(dst / p.name)
    dst.mkdir(parents=True, exist_ok=True)
    failed = 0
    for p in files:
        try:
            print(_label_one(p, dst / p.name, priors, config, args.force, net))
        except SpinelabInputError as exc:
            failed += 1
            sys.stderr.write(f"spinelab: error: {exc}\n")
    if failed:
        log.error("%d of %d files failed", failed, len(files))
        return 1
    return 0
