"""Vertebra labelling metrics: identification rate and localization error.

Two protocols are implemented. Both compare a prediction and a ground truth given as
:class:`~spinelab.structures.Centroids` (LPS world mm) and judge every ground-truth vertebra.

``"spineweb"`` (the default; Glocker et al. 2012/2013, used by Yang et al. 2017 and Wang et al. 2021)
    A ground-truth vertebra ``v`` is *identified* when the prediction labelled ``v`` exists, lies
    within ``max_dist_mm`` (20 mm) of ``v``'s truth, and ``v``'s truth is the nearest of **all**
    ground-truth centroids of the scan to that prediction. The localization error (mean and std)
    is taken over the identified vertebrae only.

``"verse"`` (the VerSe 2019/2020 challenge, Sekuboyina et al. 2021; the ``get_hits`` rule of the
challenge's public evaluation utilities)
    Only labels present in *both* the ground truth and the prediction take part in the
    nearest-truth search: ``v`` is identified when the prediction labelled ``v`` is within
    ``max_dist_mm`` of ``v``'s truth and ``v``'s truth is the nearest of the ground-truth centroids
    whose labels were also predicted. The localization distance is the mean over *every*
    ground-truth vertebra that has a prediction with its label (identified or not), as the
    challenge's dataset-level "localisation distance" is. VerSe knows only ids 1-28, so spinelab's
    S2 (id 29) is dropped from both sides. Exact ties in the nearest-truth search go to the
    lower VerSe id (the challenge takes ``argmin`` over ids in ascending order).

Differences in short: VerSe ignores ground-truth vertebrae that were not predicted when deciding
which truth is nearest (so a prediction that drifted towards a missed neighbour can still count),
averages distances over all predicted vertebrae rather than identified ones, and has no S2.

Choices common to both protocols (documented because the papers are silent on them):
    * The denominator is the number of ground-truth vertebrae; missed ones count as failures.
      Predicted labels absent from the ground truth add nothing to the denominator (they are
      listed in :attr:`CaseResult.extra_labels`).
    * "Within 20 mm" is ``distance <= max_dist_mm`` (VerSe's code rejects only ``> 20``).
    * Spineweb ties (the prediction exactly as far from ``v``'s truth as from another truth) are
      resolved in favour of ``v``: the own truth must be *a* nearest truth.
    * A predicted position with a non-finite coordinate is treated as missing; a ground-truth
      position with a non-finite coordinate is an error (:class:`ValueError`).
    * std is the population standard deviation (``ddof=0``, numpy's default), so one sample gives
      0.0; with no sample, mean and std are NaN in memory and ``null`` in JSON.
    * A scan is "all correct" when every ground-truth vertebra is identified (an empty ground
      truth is vacuously all correct and contributes nothing else).

Example:
    >>> import numpy as np
    >>> from spinelab.structures import Centroids
    >>> gt = Centroids(["L1", "L2"], np.array([[0, 0, 0], [0, 0, -30.0]]))
    >>> pred = Centroids(["L1", "L2"], np.array([[0, 0, 3.0], [0, 0, -55.0]]))
    >>> res = evaluate_case(pred, gt)
    >>> [(v.label, v.identified) for v in res.vertebrae]
    [('L1', True), ('L2', False)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.structures import Centroids

log = logging.getLogger(__name__)

#: Protocol names accepted by :func:`evaluate_case`.
PROTOCOLS: tuple[str, ...] = ("spineweb", "verse")
#: Regions reported in summaries, in table order ("all" counts every label, sacral included).
SUMMARY_REGIONS: tuple[str, ...] = ("all", "cervical", "thoracic", "lumbar")
#: Largest label id the VerSe evaluation knows (28 = T13), from the anatomy table.
VERSE_MAX_ID = anatomy.VERSE_MAX_ID


@dataclass(frozen=True)
class VertebraResult:
    """The verdict on one ground-truth vertebra.

    Attributes:
        label: Canonical vertebra name ("L1").
        identified: True when the vertebra counts as identified under the protocol.
        error_mm: Distance (mm) from the prediction with this label to the truth; NaN when the
            prediction has no such label.
        localized: True when ``error_mm`` enters the localization statistics (spineweb: the
            identified vertebrae; verse: every vertebra with a prediction of its label).
        nearest_truth: Label of the ground-truth centroid nearest to the prediction among the
            candidates of the protocol, None when there is no prediction.
    """

    label: str
    identified: bool
    error_mm: float
    localized: bool
    nearest_truth: str | None = None


@dataclass(frozen=True)
class CaseResult:
    """The evaluation of one scan.

    Attributes:
        vertebrae: One :class:`VertebraResult` per ground-truth vertebra, in chain order.
        protocol: "spineweb" or "verse".
        max_dist_mm: The identification distance used (mm).
        extra_labels: Predicted labels that the ground truth does not have (chain order).
        name: Optional name of the scan (file stem), for reports.
    """

    vertebrae: tuple[VertebraResult, ...]
    protocol: str
    max_dist_mm: float
    extra_labels: tuple[str, ...] = ()
    name: str = ""

    @property
    def labels(self) -> list[str]:
        """Ground-truth labels in chain order."""
        return [v.label for v in self.vertebrae]

    @property
    def n(self) -> int:
        """Number of ground-truth vertebrae."""
        return len(self.vertebrae)

    @property
    def n_identified(self) -> int:
        """Number of identified ground-truth vertebrae."""
        return sum(v.identified for v in self.vertebrae)

    @property
    def id_rate(self) -> float:
        """Identified / ground-truth vertebrae (NaN for an empty ground truth)."""
        return self.n_identified / self.n if self.n else math.nan

    @property
    def all_correct(self) -> bool:
        """True when every ground-truth vertebra is identified."""
        return all(v.identified for v in self.vertebrae)

    @property
    def missed(self) -> list[str]:
        """Ground-truth labels that were not identified, in chain order."""
        return [v.label for v in self.vertebrae if not v.identified]


def _finite_rows(pos: NDArray[np.float64]) -> NDArray[np.bool_]:
    return np.all(np.isfinite(pos), axis=1)


def evaluate_case(
    pred: Centroids,
    gt: Centroids,
    protocol: str = "spineweb",
    max_dist_mm: float = 20.0,
    name: str = "",
) -> CaseResult:
    """Judge every ground-truth vertebra of one scan (see the module docstring for the rules).

    Args:
        pred: Predicted centroids, LPS mm; may be empty.
        gt: Ground-truth centroids, LPS mm, finite.
        protocol: "spineweb" (default) or "verse".
        max_dist_mm: Identification distance in mm (20 in both protocols); must be > 0.
        name: Optional scan name kept in the result.

    Returns:
        The :class:`CaseResult`.

    Raises:
        ValueError: unknown protocol, non-positive distance, or a non-finite ground truth.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not (max_dist_mm > 0 and math.isfinite(max_dist_mm)):
        raise ValueError(f"max_dist_mm must be a positive number, got {max_dist_mm!r}")
    gt_labels = list(gt.labels)
    gt_pos = np.asarray(gt.positions_mm, dtype=np.float64).reshape(-1, 3)
    bad = ~_finite_rows(gt_pos)
    if np.any(bad):
        raise ValueError(
            "ground truth has non-finite positions for "
            + ", ".join(gt_labels[i] for i in np.flatnonzero(bad))
        )
    pred_pos_all = np.asarray(pred.positions_mm, dtype=np.float64).reshape(-1, 3)
    ok = _finite_rows(pred_pos_all)
    if not np.all(ok):
        log.debug(
            "%s: ignoring predictions with non-finite positions: %s",
            name or "case",
            ", ".join(lbl for lbl, good in zip(pred.labels, ok) if not good),
        )
    pred_map = {lbl: pred_pos_all[i] for i, lbl in enumerate(pred.labels) if ok[i]}

    if protocol == "verse":
        known = {v.name for v in anatomy.CHAIN if v.verse_id <= VERSE_MAX_ID}
        keep = [i for i, lbl in enumerate(gt_labels) if lbl in known]
        gt_labels = [gt_labels[i] for i in keep]
        gt_pos = gt_pos[keep]
        pred_map = {k: p for k, p in pred_map.items() if k in known}

    gt_set = set(gt_labels)
    extra = tuple(anatomy.sort_labels([k for k in pred_map if k not in gt_set]))

    if protocol == "spineweb":
        cand_idx = np.arange(len(gt_labels))
    else:
        # Candidates: labels in both; ordered by VerSe id so argmin breaks ties as VerSe does.
        both = [i for i, lbl in enumerate(gt_labels) if lbl in pred_map]
        cand_idx = np.array(
            sorted(both, key=lambda i: anatomy.by_name(gt_labels[i]).verse_id), dtype=int
        )
    cand_pos = gt_pos[cand_idx]
    cand_row = {int(i): r for r, i in enumerate(cand_idx)}

    results: list[VertebraResult] = []
    for i, label in enumerate(gt_labels):
        p = pred_map.get(label)
        if p is None:
            results.append(VertebraResult(label, False, math.nan, False, None))
            continue
        # One distance computation for all candidates: the own distance is an entry of ``d``,
        # so comparing it with ``d.min()`` is exact (no rounding difference between formulas).
        d = np.sqrt(np.sum((cand_pos - p) ** 2, axis=1))
        own = cand_row[i]  # the own truth is always a candidate (it is in both GT and pred)
        err = float(d[own])
        if protocol == "spineweb":
            own_is_nearest = bool(d[own] <= d.min())  # ties go to the prediction's own label
            nearest = label if own_is_nearest else gt_labels[int(cand_idx[int(np.argmin(d))])]
        else:
            nearest = gt_labels[int(cand_idx[int(np.argmin(d))])]  # ties: lower VerSe id
            own_is_nearest = nearest == label
        identified = own_is_nearest and err <= max_dist_mm
        localized = identified if protocol == "spineweb" else True
        results.append(VertebraResult(label, identified, err, localized, nearest))
    return CaseResult(tuple(results), protocol, float(max_dist_mm), extra, name)


@dataclass(frozen=True)
class GroupStats:
    """Figures for a group of ground-truth vertebrae (a region, or all).

    Attributes:
        n: Number of ground-truth vertebrae.
        n_identified: Number identified.
        errors_mm: ``(M,)`` localization errors that enter mean/std (see ``VertebraResult.localized``).
    """

    n: int
    n_identified: int
    errors_mm: NDArray[np.float64]

    @property
    def id_rate(self) -> float:
        """Identified / n (NaN when n is 0)."""
        return self.n_identified / self.n if self.n else math.nan

    @property
    def mean_mm(self) -> float:
        """Mean localization error in mm (NaN without samples)."""
        return float(np.mean(self.errors_mm)) if self.errors_mm.size else math.nan

    @property
    def std_mm(self) -> float:
        """Population std (ddof=0) of the localization error in mm; 0.0 for one sample."""
        return float(np.std(self.errors_mm)) if self.errors_mm.size else math.nan

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "id_rate", "mean_mm", "std_mm"}`` with NaN written as None."""
        return {
            "n": self.n,
            "id_rate": _json_float(self.id_rate),
            "mean_mm": _json_float(self.mean_mm),
            "std_mm": _json_float(self.std_mm),
        }


def _json_float(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _group(results: Sequence[VertebraResult]) -> GroupStats:
    errs = np.array([v.error_mm for v in results if v.localized], dtype=np.float64)
    return GroupStats(len(results), sum(v.identified for v in results), errs)


@dataclass(frozen=True)
class EvaluationSummary:
    """Figures over a set of scans.

    Attributes:
        protocol: The protocol of every case.
        max_dist_mm: The identification distance of every case (mm).
        regions: ``{"all"|"cervical"|"thoracic"|"lumbar": GroupStats}`` ("all" includes the
            sacral and transitional labels; T13 is thoracic, L6 lumbar).
        per_vertebra: ``{label: GroupStats}`` for every label present in some ground truth, in
            chain order.
        n_scans: Number of scans.
        n_scans_all_correct: Scans with every ground-truth vertebra identified.
        cases: The per-scan results the summary was made from.
    """

    protocol: str
    max_dist_mm: float
    regions: dict[str, GroupStats]
    per_vertebra: dict[str, GroupStats]
    n_scans: int
    n_scans_all_correct: int
    cases: tuple[CaseResult, ...] = field(default=(), repr=False)

    @property
    def scans_all_correct(self) -> float:
        """Share (0-1) of scans with every vertebra identified; NaN without scans."""
        return self.n_scans_all_correct / self.n_scans if self.n_scans else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)::

        {"all": {"n", "id_rate", "mean_mm", "std_mm"}, "cervical": {...}, "thoracic": {...},
         "lumbar": {...}, "per_vertebra": {"L1": {"n", "id_rate"}, ...},
         "scans_all_correct": float | None, "n_scans": int}

        Rates are fractions in [0, 1]; distances are mm.
        """
        out: dict[str, Any] = {k: self.regions[k].to_dict() for k in SUMMARY_REGIONS}
        out["per_vertebra"] = {
            k: {"n": g.n, "id_rate": _json_float(g.id_rate)} for k, g in self.per_vertebra.items()
        }
        out["scans_all_correct"] = _json_float(self.scans_all_correct)
        out["n_scans"] = self.n_scans
        return out


def aggregate(cases: Sequence[CaseResult]) -> EvaluationSummary:
    """Pool per-scan results into dataset figures.

    Vertebrae are pooled over all scans (an identification rate over vertebrae, not a mean of
    per-scan rates), as in both papers and the VerSe challenge.

    Args:
        cases: Results of :func:`evaluate_case`, all with the same protocol and distance.

    Returns:
        The :class:`EvaluationSummary` (for no cases: zero counts and NaN figures).

    Raises:
        ValueError: if the cases mix protocols or distances.
    """
    cases = tuple(cases)
    protocols = {c.protocol for c in cases}
    dists = {c.max_dist_mm for c in cases}
    if len(protocols) > 1 or len(dists) > 1:
        raise ValueError(
            f"cannot aggregate cases with different protocols/distances: {protocols}, {dists}"
        )
    protocol = protocols.pop() if protocols else "spineweb"
    max_dist = dists.pop() if dists else 20.0
    allv = [v for c in cases for v in c.vertebrae]
    regions = {"all": _group(allv)}
    for region in SUMMARY_REGIONS[1:]:
        regions[region] = _group([v for v in allv if anatomy.region_of(v.label) == region])
    by_label: dict[str, list[VertebraResult]] = {}
    for v in allv:
        by_label.setdefault(v.label, []).append(v)
    per_vertebra = {k: _group(by_label[k]) for k in anatomy.sort_labels(list(by_label))}
    return EvaluationSummary(
        protocol=protocol,
        max_dist_mm=max_dist,
        regions=regions,
        per_vertebra=per_vertebra,
        n_scans=len(cases),
        n_scans_all_correct=sum(c.all_correct for c in cases),
        cases=cases,
    )
