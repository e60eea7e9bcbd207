"""``spinelab evaluate PRED GT``: identification rate and localization error of predicted centroids.

PRED and GT are both files (one scan) or both folders (many scans). Folders are paired by file
name: two files pair when their names are equal or their stems are, once a landmark suffix
(``_ctd.json``, ``.mrk.json``, ``.json``, ``.lml``, ``.csv``) is removed, so ``scan1.json`` pairs
with ``scan1_ctd.json``. Only files with those suffixes are considered (images and notes beside
them are ignored); sub-folders are not searched. Every file of one folder must pair with a file
of the other, and every file must be readable: an unpaired or unreadable file stops the command
with exit code 2 before anything is computed, because figures over a silently partial set would
be wrong.

``--reference`` names the image that VerSe and ``.lml`` coordinates refer to: an image file for
single files, or a folder holding ``<stem>.nii.gz`` (or ``.nii``, ``.nrrd``, ``.mha``, ``.mhd``)
per scan in folder mode.

Output: the paper-style table (All, Cervical, Thoracic, Lumbar: N, mean and std of the
localization error in mm, id rate), per-vertebra id rates and the share of scans with every
vertebra identified, on stdout. ``--json OUT`` writes
:meth:`~spinelab.evaluation.metrics.EvaluationSummary.to_dict` (rates as fractions, ``null``
where there is nothing to report) plus ``protocol``, ``max_dist_mm``, ``spinelab_version`` and
``cases`` (per scan: name, n, n_identified, all_correct, missed and extra labels), atomically and
never over an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from spinelab.errors import SpinelabInputError
from spinelab.evaluation.metrics import PROTOCOLS
from spinelab.structures import Centroids

NAME = "evaluate"
HELP = "identification rate and localization error of predicted centroids against ground truth"

log = logging.getLogger(__name__)

#: Landmark-file suffixes removed to pair files by stem, longest first.
LANDMARK_SUFFIXES: tuple[str, ...] = ("_ctd.json", ".mrk.json", ".json", ".lml", ".csv")
#: Image suffixes looked for in a ``--reference`` folder.
IMAGE_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``evaluate`` arguments to ``parser``."""
    parser.add_argument("pred", metavar="PRED", help="predicted centroids: a file or a folder")
    parser.add_argument("gt", metavar="GT", help="ground-truth centroids: a file or a folder")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="spineweb",
        help="spineweb (default; nearest of all truths, error over identified vertebrae) or "
        "verse (the VerSe challenge: nearest among labels in both, error over predicted ones)",
    )
    parser.add_argument(
        "--max-dist",
        type=float,
        default=20.0,
        metavar="MM",
        help="identification distance in mm (default 20, as in both protocols)",
    )
    parser.add_argument(
        "--reference",
        metavar="IMAGE",
        help="image the VerSe/.lml coordinates refer to (a folder of <stem>.nii.gz in folder mode)",
    )
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json OUT")
    parser.add_argument(
        "--per-scan", action="store_true", help="also print one line per scan (missed labels)"
    )


def landmark_stem(name: str) -> str | None:
    """The pairing key of a file name, or None when it has no landmark suffix.

    >>> landmark_stem("sub-verse004_seg-subreg_ctd.json"), landmark_stem("a.mrk.json")
    ('sub-verse004_seg-subreg', 'a')
    >>> landmark_stem("ct.nii.gz") is None
    True
    """
    low = name.lower()
    for suffix in LANDMARK_SUFFIXES:
        if low.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _index_folder(folder: Path) -> dict[str, Path]:
    """``{stem: file}`` for the landmark files of ``folder``; a stem used twice is an error."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        stem = landmark_stem(p.name)
        if stem is None:
            log.debug("ignoring %s (not a landmark file)", p)
            continue
        if stem in out:
            raise SpinelabInputError(
                p, f"ambiguous: pairs by name '{stem}' like {out[stem].name}; keep one of them"
            )
        out[stem] = p
    if not out:
        raise SpinelabInputError(
            folder, f"no landmark files ({', '.join(LANDMARK_SUFFIXES)}) in this folder"
        )
    return out


def pair_files(pred: Path, gt: Path) -> list[tuple[str, Path, Path]]:
    """Pair the files of two folders (or two files) as ``(name, pred_file, gt_file)``.

    Raises:
        SpinelabInputError: a path is missing, one is a folder and the other not, a folder has no
            landmark files or two files with the same stem, or some file has no partner.
    """
    for p in (pred, gt):
        if not p.exists():
            raise SpinelabInputError(p, "file not found")
    if pred.is_dir() != gt.is_dir():
        folder, other = (pred, gt) if pred.is_dir() else (gt, pred)
        raise SpinelabInputError(
            other, f"is a file but {folder} is a folder; give two files or two folders"
        )
    if not pred.is_dir():
        name = landmark_stem(gt.name) or gt.name
        return [(name, pred, gt)]
    pred_idx, gt_idx = _index_folder(pred), _index_folder(gt)
    for side, mine, theirs, other_dir in (
        ("prediction", pred_idx, gt_idx, gt),
        ("ground truth", gt_idx, pred_idx, pred),
    ):
        lonely = [mine[k] for k in sorted(mine) if k not in theirs]
        if lonely:
            more = f" (and {len(lonely) - 1} more: {', '.join(p.name for p in lonely[1:6])}" + (
                ", ...)" if len(lonely) > 6 else ")"
            )
            raise SpinelabInputError(
                lonely[0],
                f"unpaired {side} file: no file of the same name in {other_dir}"
                + (more if len(lonely) > 1 else ""),
            )
    return [(k, pred_idx[k], gt_idx[k]) for k in sorted(gt_idx)]


def _reference_for(reference: Path | None, stem: str, folder_mode: bool) -> Path | None:
    if reference is None:
        return None
    if not folder_mode:
        if reference.is_dir():
            raise SpinelabInputError(reference, "--reference must be an image file for two files")
        return reference
    if not reference.is_dir():
        raise SpinelabInputError(
            reference, "--reference must be a folder of <name>.nii.gz images in folder mode"
        )
    for suffix in IMAGE_SUFFIXES:
        cand = reference / f"{stem}{suffix}"
        if cand.is_file():
            return cand
    return None


def _check_no_reference_needed(reference: Path, stem: str, files: tuple[Path, Path]) -> None:
    """Refuse voxel-based files whose image is missing from the ``--reference`` folder."""
    from spinelab.io.landmarks import NEEDS_REFERENCE, detect_format

    for f in files:
        if detect_format(f) in NEEDS_REFERENCE:
            raise SpinelabInputError(
                f,
                f"its coordinates are in voxels, but {reference} has no image {stem}"
                f"{IMAGE_SUFFIXES[0]} (or {', '.join(IMAGE_SUFFIXES[1:])})",
            )


def _read(path: Path, reference: Path | None) -> Centroids:
    from spinelab.io.landmarks import read_centroids

    return read_centroids(path, reference=reference)


def run(args: argparse.Namespace) -> int:
    """Evaluate PRED against GT, print the tables, optionally write JSON; returns 0."""
    from spinelab import __version__
    from spinelab.evaluation.metrics import aggregate, evaluate_case
    from spinelab.evaluation.tables import format_case_line, format_table
    from spinelab.io.atomic import check_writable, write_text_atomic

    if not (args.max_dist > 0):
        raise SpinelabInputError(None, f"--max-dist must be positive, got {args.max_dist}")
    if args.json:
        if Path(args.json).is_dir():
            raise SpinelabInputError(args.json, "is a folder; --json needs a file name")
        check_writable(args.json, args.force)  # fail before any work
    pred, gt = Path(args.pred), Path(args.gt)
    pairs = pair_files(pred, gt)
    folder_mode = pred.is_dir()
    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.exists():
        raise SpinelabInputError(reference, "reference image not found")

    loaded = []
    for name, p_file, g_file in pairs:  # read everything first: one bad file stops the run
        ref = _reference_for(reference, name, folder_mode)
        if ref is None and reference is not None:
            _check_no_reference_needed(reference, name, (p_file, g_file))
        loaded.append((name, g_file, _read(p_file, ref), _read(g_file, ref)))
    cases = []
    for name, g_file, p_ctd, g_ctd in loaded:
        try:
            case = evaluate_case(p_ctd, g_ctd, args.protocol, args.max_dist, name=name)
        except ValueError as exc:
            raise SpinelabInputError(g_file, str(exc)) from None
        if case.n == 0:
            log.warning("%s: the ground truth has no vertebrae to evaluate", g_file)
        cases.append(case)
    summary = aggregate(cases)

    if args.per_scan:
        for case in cases:
            sys.stdout.write(format_case_line(case) + "\n")
        sys.stdout.write("\n")
    sys.stdout.write(format_table(summary) + "\n")

    if args.json:
        out: dict[str, Any] = summary.to_dict()
        out["protocol"] = summary.protocol
        out["max_dist_mm"] = summary.max_dist_mm
        out["spinelab_version"] = __version__
        out["cases"] = [
            {
                "name": c.name,
                "n": c.n,
                "n_identified": c.n_identified,
                "all_correct": c.all_correct,
                "missed": c.missed,
                "extra": list(c.extra_labels),
            }
            for c in cases
        ]
        text = json.dumps(out, indent=1, allow_nan=False) + "\n"
        write_text_atomic(args.json, text, force=args.force)
        log.info("wrote %s", args.json)
    return 0
