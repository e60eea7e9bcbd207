"""Learned priors for labelling vertebra-body detections (VID-style keypoints).

The priors are small tables fitted on ground-truth/detection pairs of a training split (see
``scripts/fit_detection_priors.py``) and shipped as ``spinelab/data/detection_priors.npz``
(arrays) plus ``detection_priors.json`` (scalars, provenance). No pickles.

What they hold (``V`` = number of labels the detector was seen to produce, chain order):
    * ``labels``: the label set (C1..L5 and L6 for the VID data; S1/S2/T13 never occur in its
      ground truth; the labeller synthesizes T13 from its neighbours, see
      :mod:`spinelab.postprocess.detections`). A vertebra the ground truth leaves unlabelled
      (:func:`unannotated_detections`) counts neither as a level nor as a false positive, and
      the gap over it is left out of the gap statistics.
    * ``gap_mean_mm`` / ``gap_sd_mm`` ``(V-1,)``: distance between consecutive levels
      ``labels[i] -> labels[i+1]`` at unit patient scale, mean and spread after removing a
      per-scan scale factor ``s`` (``gap ~ s * gap_mean``).
    * ``log_scale_sd``: spread of ``log s`` over scans (its mean is 0 by construction).
    * ``segment_hist`` ``(V + 1, 2, B)``: per level (last row: false positives), histograms of
      the two log-ratios of the detector's scores ``log(L/T)`` and ``log(C/T)`` over the bins
      :data:`SEGMENT_BIN_EDGES` (smoothed towards the pooled histogram); the two features are
      treated as independent given the level. This is what tells T12 from L1.
    * ``pedicle_table`` ``(2, 3)``: P(number of pedicle sides (0, 1, 2) found within
      ``pedicle_radius_mm`` | true body / false positive).
    * ``first_prior`` / ``last_prior`` ``(V,)``: P(label of the most cranial / most caudal true
      detection) (Laplace-smoothed; a property of the fields of view in the training data).
    * scalars: false-positive rates per detection above the first / between / below the last
      true detection, the miss rate of an interior vertebra, the prevalence of each
      transitional vertebra.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import atomic_path, write_text_atomic
from spinelab.io.jsonfile import read_stem_json
from spinelab.io.vid import VidScan, read_vid

log = logging.getLogger(__name__)

#: Format tag of the JSON half of a priors file.
PRIORS_FORMAT = "spinelab-detection-priors/1"
#: Default priors bundled with the package (fitted on the VID training split, see the JSON).
DEFAULT_PRIORS_NAME = "detection_priors"

#: Bin edges of the segment log-ratio features (inner edges; outer bins are open).
SEGMENT_BIN_EDGES = np.linspace(-7.0, 7.0, 15)
N_SEGMENT_BINS = SEGMENT_BIN_EDGES.size + 1

_ARRAYS = (
    "gap_mean_mm",
    "gap_sd_mm",
    "segment_hist",
    "pedicle_table",
    "first_prior",
    "last_prior",
)
_SCALARS = (
    "log_scale_sd",
    "fp_rate_top",
    "fp_rate_mid",
    "fp_rate_bottom",
    "miss_rate",
    "pedicle_radius_mm",
    "match_radius_mm",
)


@dataclass(frozen=True)
class DetectionPriors:
    """Learned priors (see the module docstring for the meaning of every field).

    Attributes:
        labels: ``V`` labels in chain order.
        gap_mean_mm: ``(V-1,)`` mean gap between consecutive labels at unit scale, mm.
        gap_sd_mm: ``(V-1,)`` its standard deviation, mm.
        log_scale_sd: standard deviation of the per-scan log scale factor.
        segment_hist: ``(V+1, 2, B)`` P(bin of log(L/T), log(C/T) | level); last row: false
            positives.
        pedicle_table: ``(2, 3)`` P(pedicle sides 0/1/2 | true body (row 0) / false (row 1)).
        first_prior: ``(V,)`` P(most cranial true detection has this label).
        last_prior: ``(V,)`` P(most caudal true detection has this label).
        fp_rate_top: mean number of false positives above the first true detection, per scan.
        fp_rate_mid: probability that a detection between the first and the last true one is
            false.
        fp_rate_bottom: mean number of false positives below the last true detection, per scan.
        miss_rate: probability that an interior vertebra has no detection.
        transitional_rate: ``{label: prevalence}`` for transitional labels in ``labels``.
        pedicle_radius_mm: radius used for the pedicle feature, mm.
        match_radius_mm: radius used to match detections to ground truth when fitting, mm.
        meta: provenance (split, counts, version).
    """

    labels: tuple[str, ...]
    gap_mean_mm: NDArray[np.float64]
    gap_sd_mm: NDArray[np.float64]
    log_scale_sd: float
    segment_hist: NDArray[np.float64]
    pedicle_table: NDArray[np.float64]
    first_prior: NDArray[np.float64]
    last_prior: NDArray[np.float64]
    fp_rate_top: float
    fp_rate_mid: float
    fp_rate_bottom: float
    miss_rate: float
    transitional_rate: dict[str, float]
    pedicle_radius_mm: float = 40.0
    match_radius_mm: float = 20.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = len(self.labels)
        idx = [anatomy.chain_index(x) for x in self.labels]
        if v < 2 or idx != sorted(idx) or len(set(idx)) != v:
            raise ValueError("priors need at least two unique labels in chain order")
        shapes = {
            "gap_mean_mm": (v - 1,),
            "gap_sd_mm": (v - 1,),
            "segment_hist": (v + 1, 2, N_SEGMENT_BINS),
            "pedicle_table": (2, 3),
            "first_prior": (v,),
            "last_prior": (v,),
        }
        for name, shape in shapes.items():
            arr = getattr(self, name)
            if np.shape(arr) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {np.shape(arr)}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} must be finite")

    def save(self, stem: str | os.PathLike[str], force: bool = False) -> tuple[Path, Path]:
        """Write ``STEM.npz`` (arrays) and ``STEM.json`` (labels, scalars, meta) atomically."""
        stem = Path(stem)
        npz = stem.with_suffix(".npz")
        js = stem.with_suffix(".json")
        with atomic_path(npz, force=force) as tmp:
            arrays: dict[str, Any] = {
                k: np.asarray(getattr(self, k), dtype=np.float64) for k in _ARRAYS
            }
            np.savez(tmp, **arrays)
        obj: dict[str, Any] = {"format": PRIORS_FORMAT, "labels": list(self.labels)}
        obj.update({k: float(getattr(self, k)) for k in _SCALARS})
        obj["transitional_rate"] = {k: float(x) for k, x in self.transitional_rate.items()}
        obj["arrays"] = npz.name
        obj["meta"] = self.meta
        write_text_atomic(js, json.dumps(obj, indent=1) + "\n", force=force)
        return npz, js

    @classmethod
    def load(cls, stem: str | os.PathLike[str]) -> DetectionPriors:
        """Read ``STEM.json`` + ``STEM.npz`` (``stem`` may name either file or neither suffix).

        Raises:
            SpinelabInputError: naming the file, when it is missing or malformed.
        """
        obj, js, npz = read_stem_json(stem, PRIORS_FORMAT, "priors")
        try:
            with np.load(npz, allow_pickle=False) as z:
                arrays: dict[str, Any] = {k: np.asarray(z[k], dtype=np.float64) for k in _ARRAYS}
        except FileNotFoundError:
            raise SpinelabInputError(npz, "priors arrays not found") from None
        except (KeyError, ValueError, OSError) as exc:
            raise SpinelabInputError(npz, f"unreadable priors arrays ({exc})") from None
        try:
            scalars: dict[str, Any] = {k: float(obj[k]) for k in _SCALARS}
            return cls(
                labels=tuple(anatomy.normalize_name(x) for x in obj["labels"]),
                transitional_rate={
                    anatomy.normalize_name(k): float(x)
                    for k, x in obj.get("transitional_rate", {}).items()
                },
                meta=dict(obj.get("meta", {})),
                **arrays,
                **scalars,
            )
        except (KeyError, TypeError, ValueError, anatomy.UnknownLabelError) as exc:
            raise SpinelabInputError(js, f"malformed priors ({exc})") from None


def default_priors() -> DetectionPriors:
    """The priors bundled with spinelab (``spinelab/data/detection_priors.*``)."""
    ref = resources.files("spinelab") / "data" / f"{DEFAULT_PRIORS_NAME}.json"
    with resources.as_file(ref) as p:
        return DetectionPriors.load(p)


# ----------------------------------------------------------------------------------------------
# Fitting

#: Share of scans (by hash of the scan id) used for fitting; the rest is for reporting.
FIT_SHARE_PERCENT = 70


def split_of(scan_id: str) -> str:
    """Deterministic split of a scan id: ``"fit"`` (about 70%) or ``"report"`` (about 30%).

    The split is ``int(sha256(scan_id)[:8], 16) % 100 < 70`` -> "fit", so it does not depend on
    file order, the machine or the set of files present.
    """
    import hashlib

    h = int(hashlib.sha256(scan_id.encode("utf-8")).hexdigest()[:8], 16)
    return "fit" if h % 100 < FIT_SHARE_PERCENT else "report"


def vid_split(
    vid_dir: str | os.PathLike[str], split: str
) -> Iterator[tuple[str, VidScan, VidScan]]:
    """``(scan id, detections, ground truth)`` of one split of a VID folder (``detections/`` and
    ``ground_truth/``), in scan-id order; reads each pair as it goes."""
    root = Path(vid_dir)
    for det_path in sorted((root / "detections").glob("*.json")):
        if split_of(det_path.stem) == split:
            gt_path = root / "ground_truth" / det_path.name
            yield det_path.stem, read_vid(det_path), read_vid(gt_path)


@dataclass
class FitCase:
    """One training scan: detections and the matching ground truth.

    Attributes:
        det_mm: ``(N, 3)`` detected body points, LPS mm.
        seg_scores: ``(N, 3)`` C/T/L scores of the detections (NaN when absent).
        pedicle_sides: ``(N,)`` int pedicle feature (0, 1, 2) of the detections.
        gt_labels: ``M`` ground-truth labels. gt_mm: ``(M, 3)`` their positions, LPS mm.
    """

    det_mm: NDArray[np.float64]
    seg_scores: NDArray[np.float64]
    pedicle_sides: NDArray[np.int64]
    gt_labels: list[str]
    gt_mm: NDArray[np.float64]


def match_detections(
    det_mm: NDArray[np.float64], gt_mm: NDArray[np.float64], radius_mm: float
) -> NDArray[np.int64]:
    """One-to-one match of detections to ground truth (optimal assignment within a radius).

    Returns:
        ``(N,)`` index into ``gt_mm`` per detection, -1 for an unmatched detection.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    out = np.full(det_mm.shape[0], -1, dtype=np.int64)
    if det_mm.shape[0] == 0 or gt_mm.shape[0] == 0:
        return out
    d = cdist(det_mm, gt_mm)
    cost = np.where(d <= radius_mm, d, 1e6)
    r, c = linear_sum_assignment(cost)
    ok = d[r, c] <= radius_mm
    out[r[ok]] = c[ok]
    return out


#: A gap between two consecutive annotated levels this many times longer than the gaps beside it
#: holds an unannotated vertebra (:func:`unannotated_detections`).
UNANNOTATED_GAP_RATIO = 1.6


def unannotated_gaps(
    gt_labels: Sequence[str], gt_mm: NDArray[np.float64]
) -> list[tuple[str, str, NDArray[np.float64], float]]:
    """Gaps of the ground truth that most likely hold a vertebra it leaves unlabelled.

    VID's ground truth has no T13 (VerSe's id 28): where a spine has a thirteenth thoracic
    vertebra, the annotation jumps from T12 to L1 over it; a few scans skip a vertebra elsewhere.
    Rule: two levels consecutive in the standard chain, both annotated, more than
    ``UNANNOTATED_GAP_RATIO`` times further apart than the annotated gaps beside them.

    Returns:
        ``(upper label, lower label, midpoint (3,), distance mm)`` per such gap.
    """
    pos = {x: np.asarray(gt_mm[i], dtype=np.float64) for i, x in enumerate(gt_labels)}
    chain = [v.name for v in anatomy.STANDARD_CHAIN]
    idx = sorted(chain.index(x) for x in pos if x in chain)
    full = [anatomy.chain_index(x) for x in pos]
    gaps = {
        a: float(np.linalg.norm(pos[chain[b]] - pos[chain[a]]))
        for a, b in itertools.pairwise(idx)
        if b == a + 1
        # an annotated transitional vertebra between them (T13) is no gap
        and not any(anatomy.chain_index(chain[a]) < c < anatomy.chain_index(chain[b]) for c in full)
    }
    out = []
    for a, d in gaps.items():
        side = [gaps[i] for i in (a - 1, a + 1) if i in gaps]
        if side and d > UNANNOTATED_GAP_RATIO * max(side):
            mid = 0.5 * (pos[chain[a]] + pos[chain[a + 1]])
            out.append((chain[a], chain[a + 1], mid, d))
    return out


def unannotated_detections(
    det_mm: NDArray[np.float64],
    gt_labels: Sequence[str],
    gt_mm: NDArray[np.float64],
    match: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Unmatched detections within 30 % of an :func:`unannotated_gaps` gap of its midpoint: most
    likely a vertebra the ground truth leaves unlabelled, so not a false positive (and not to
    be learned as one).

    Args:
        det_mm: ``(N, 3)`` detections. gt_labels, gt_mm: ground truth (any order).
        match: ``(N,)`` from :func:`match_detections`.

    Returns:
        ``(N,)`` bool.
    """
    return _unannotated(det_mm, gt_labels, gt_mm, match)[0]


def _unannotated(
    det_mm: NDArray[np.float64],
    gt_labels: Sequence[str],
    gt_mm: NDArray[np.float64],
    match: NDArray[np.int64],
) -> tuple[NDArray[np.bool_], set[str]]:
    """:func:`unannotated_detections`, and the upper labels of the gaps such a detection sits in."""
    out = np.zeros(det_mm.shape[0], dtype=bool)
    uppers: set[str] = set()
    free = np.flatnonzero(np.asarray(match) < 0)
    if free.size == 0:
        return out, uppers
    for upper, _, mid, d in unannotated_gaps(gt_labels, gt_mm):
        near = free[np.linalg.norm(det_mm[free] - mid, axis=1) < 0.3 * d]
        if near.size:
            out[near] = True
            uppers.add(upper)
    return out, uppers


def segment_bins(scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """``(N, 2)`` bins of ``log(L/T)`` and ``log(C/T)`` of C/T/L scores; -1 where not finite."""
    s = np.log(np.maximum(np.asarray(scores, dtype=np.float64).reshape(-1, 3), 1e-4))
    feats = np.stack([s[:, 2] - s[:, 1], s[:, 0] - s[:, 1]], axis=1)
    b = np.digitize(np.nan_to_num(feats, nan=0.0), SEGMENT_BIN_EDGES).astype(np.int64)
    b[~np.isfinite(feats)] = -1
    return b


def fit_priors(
    cases: list[FitCase],
    match_radius_mm: float = 20.0,
    pedicle_radius_mm: float = 40.0,
    meta: dict[str, Any] | None = None,
) -> DetectionPriors:
    """Fit :class:`DetectionPriors` on training scans.

    Args:
        cases: Training scans (detections + ground truth).
        match_radius_mm: Detections within this distance of a ground-truth body (optimal
            one-to-one assignment) count as true, the others as false positives.
        pedicle_radius_mm: Radius of the pedicle feature (recorded; the cases carry the feature).
        meta: Provenance to store with the priors.

    Returns:
        The fitted priors.
    """
    seen = sorted({x for c in cases for x in c.gt_labels}, key=anatomy.chain_index)
    labels = tuple(seen)
    if len(labels) < 2:
        raise ValueError("need ground truth with at least two distinct labels")
    v = len(labels)
    lab_idx = {x: i for i, x in enumerate(labels)}

    # Detections matched to the ground truth, and those a vertebra the ground truth leaves
    # unlabelled (neither a level nor a false positive; the gap over it is no level gap).
    matches, skips, overs = [], [], []
    for c in cases:
        found = match_detections(c.det_mm, c.gt_mm, match_radius_mm)
        skip, uppers = _unannotated(c.det_mm, c.gt_labels, c.gt_mm, found)
        found[skip] = -2
        matches.append(found)
        skips.append(skip)
        overs.append({lab_idx[a] for a in uppers})

    # Gaps between consecutive labels (both annotated), per scan; scale by alternation.
    gaps: list[dict[int, float]] = []
    for c, over in zip(cases, overs):
        pos = {lab_idx[x]: c.gt_mm[i] for i, x in enumerate(c.gt_labels)}
        g = {
            i: float(np.linalg.norm(pos[i + 1] - pos[i]))
            for i in pos
            if i + 1 in pos and i not in over
        }
        if g:
            gaps.append(g)
    pooled = [[g[i] for g in gaps if i in g] for i in range(v - 1)]
    mean = np.array([np.mean(p) if p else np.nan for p in pooled])
    scales = np.ones(len(gaps))
    for _ in range(5):
        m = _fill_nan(mean)
        scales = np.array([np.median([g[i] / m[i] for i in g]) for g in gaps])
        scales /= np.exp(np.mean(np.log(scales)))
        mean = np.array(
            [
                np.mean([g[i] / s for g, s in zip(gaps, scales) if i in g]) if pooled[i] else np.nan
                for i in range(v - 1)
            ]
        )
    multi = [j for j, g in enumerate(gaps) if len(g) >= 3]
    resid = [[gaps[j][i] / scales[j] for j in multi if i in gaps[j]] for i in range(v - 1)]
    sd = np.array([np.std(r, ddof=1) if len(r) >= 5 else np.nan for r in resid])
    mean = _fill_nan(mean)
    sd = _fill_nan(sd)
    log_scale_sd = float(np.std(np.log(scales[multi]))) if multi else 0.1

    seg_counts = np.zeros((v + 1, 2, N_SEGMENT_BINS))
    ped_counts = np.ones((2, 3))
    first = np.full(v, 0.5)
    last = np.full(v, 0.5)
    n_top = n_mid = n_bot = n_inside = 0
    n_interior = n_missed = 0
    trans_present = {x: 0 for x in labels if anatomy.by_name(x).transitional}
    trans_possible = {x: 0 for x in trans_present}
    for c, match, skip in zip(cases, matches, skips):
        seg = segment_bins(c.seg_scores)
        tp_levels = sorted(lab_idx[c.gt_labels[j]] for j in match if j >= 0)
        for k, j in enumerate(match):
            if j == -2:
                continue
            row = lab_idx[c.gt_labels[j]] if j >= 0 else v
            for f in range(2):
                if seg[k, f] >= 0:
                    seg_counts[row, f, seg[k, f]] += 1
            ped_counts[0 if j >= 0 else 1, int(np.clip(c.pedicle_sides[k], 0, 2))] += 1
        gt_idx = {lab_idx[x] for x in c.gt_labels}
        for t in trans_present:
            ti = lab_idx[t]
            if ti - 1 in gt_idx:  # the neighbour above is in view: the scan could show it
                trans_possible[t] += 1
                trans_present[t] += ti in gt_idx
        if not tp_levels:
            n_top += int(np.sum(match == -1))
            continue
        first[tp_levels[0]] += 1
        last[tp_levels[-1]] += 1
        # false positives by position along the spine (cranio-caudal order by matched level)
        lo, hi = tp_levels[0], tp_levels[-1]
        tp_z = [c.det_mm[k, 2] for k in range(len(match)) if match[k] >= 0]
        ztop, zbot = max(tp_z), min(tp_z)
        for kf in np.flatnonzero(match == -1):
            z = c.det_mm[kf, 2]
            if z > ztop:
                n_top += 1
            elif z < zbot:
                n_bot += 1
            else:
                n_mid += 1
        n_inside += int(np.sum((c.det_mm[:, 2] <= ztop) & (c.det_mm[:, 2] >= zbot) & ~skip))
        interior = [
            i for i in gt_idx if lo < i < hi and not anatomy.by_name(labels[i]).transitional
        ]
        n_interior += len(interior)
        n_missed += sum(i not in tp_levels for i in interior)
    # smooth each level towards the pooled histogram of its region (5 pseudo-counts), then
    # towards uniform (0.1 per bin)
    regions = [anatomy.region_of(x) for x in labels] + ["fp"]
    seg_hist = np.empty_like(seg_counts)
    for i, r in enumerate(regions):
        pool = seg_counts[[j for j, rr in enumerate(regions) if rr == r]].sum(axis=0) + 0.1
        pool /= pool.sum(axis=1, keepdims=True)
        h = seg_counts[i] + 5.0 * pool + 0.1
        seg_hist[i] = h / h.sum(axis=1, keepdims=True)
    ped_table = ped_counts / ped_counts.sum(axis=1, keepdims=True)
    return DetectionPriors(
        labels=labels,
        gap_mean_mm=mean,
        gap_sd_mm=sd,
        log_scale_sd=log_scale_sd,
        segment_hist=seg_hist,
        pedicle_table=ped_table,
        first_prior=first / first.sum(),
        last_prior=last / last.sum(),
        fp_rate_top=(n_top + 0.5) / (len(cases) + 1.0),
        fp_rate_mid=(n_mid + 0.5) / (n_inside + 1.0),
        fp_rate_bottom=(n_bot + 0.5) / (len(cases) + 1.0),
        miss_rate=(n_missed + 0.5) / max(n_interior, 1),
        transitional_rate={
            t: (trans_present[t] + 0.5) / (trans_possible[t] + 1.0) for t in trans_present
        },
        pedicle_radius_mm=float(pedicle_radius_mm),
        match_radius_mm=float(match_radius_mm),
        meta=dict(meta or {}),
    )


def _fill_nan(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Replace NaN entries by linear interpolation over the index (constant at the ends)."""
    x = np.asarray(x, dtype=np.float64).copy()
    ok = np.isfinite(x)
    if not ok.any():
        raise ValueError("no finite value to fill from")
    idx = np.arange(x.size)
    x[~ok] = np.interp(idx[~ok], idx[ok], x[ok])
    return x
