"""Labelling candidate vertebra-body detections (Wang et al. 2021, applied to keypoint detections).

Input: unlabelled body detections (LPS mm) with the detector's C/T/L segment scores and, when
available, pedicle points; some detections are false and some vertebrae are missed. Output:
labelled :class:`~spinelab.structures.Centroids` (labels consecutive in chain order, a
transitional vertebra allowed), false detections dropped, with a confidence per vertebra.

The 1-D problem (:func:`build_problem`):
    * centerline: a robust cubic through the detections, parameterized along their principal
      axis (oriented cranial -> caudal); ``z_mm[k]`` is the arc length of detection ``k`` on it;
    * unary energies ``e[k, v] = -log P(segment scores, pedicles of k | level v)`` and
      ``e_fp[k] = -log P(... | false positive) - log(false-positive rate)``, from the learned
      :class:`~spinelab.postprocess.detection_priors.DetectionPriors`; the method's signals
      are ``Q_v(k) = e_fp[k] - e[k, v]`` (the log-likelihood ratio of "k is vertebra v" against
      "k is false") and ``Q̂(k) = max_v Q_v(k)``;
    * regularizer (the learned replacement of the paper's R): the gaps between consecutive
      chosen detections are Gaussian around ``s * (sum of mean level gaps)`` with a per-scan
      scale ``s`` (log-normal prior, minimized over a grid), each skipped vertebra costs
      ``-log miss_rate``, a transitional vertebra costs ``-log p`` when present and
      ``-log(1 - p)`` when absent (``p``: ``DetectionLabelConfig.transitional_rate``, 0.5 by
      default, or the learned prevalence; for a T13 the priors lack, ``t13_rate``), the first
      and last labels have learned priors, and false positives above the first / below the
      last true detection have their own rates.

Transitional vertebrae: L6 comes from the priors (VerSe marks it); T13, which VID's ground
truth never labels, is synthesized between T12 and L1 (``DetectionLabelConfig.synthesize_t13``)
with tables borrowed from its neighbours; a gap over an absent transitional vertebra is the
direct one, not the sum of the two gaps around it (:func:`pair_gap_tables`). A spine may
also lack T12 (eleven thoracic vertebrae, annotated T1-T11 then L1 by VerSe and VID): a
transition over T12 is then either T12 missed by the detector or T12 absent with L1 one level
gap below T11, the gap energy a mixture of the two (``t12_absent_rate``,
:meth:`DetectionProblem.transition_energy`).

The energy of a labelling is ``E = sum_k e_fp[k] - sum_chosen Q_v(k) + regularizer``. Two
solvers minimize it:
    * ``"wang"``: :func:`spinelab.postprocess.chain.optimize_chain` (the paper's Algorithm 1:
      offset search, hill climbing, expansion) with the signals above and the learned
      regularizer plugged into its hook. The paper's chain has no label skips, so a missed
      vertebra forces a wrong run there.
    * ``"dp"`` (default): exact minimization by dynamic programming over (detection, label)
      states with a false-detection state, label skips for misses and a scale grid. It also gives
      posterior marginals (forward-backward at the best scale): the confidence of a vertebra is
      the posterior probability that its detection carries that label. By default it reports
      not the minimum-energy labelling but the consistent labelling with the most expected
      right labels under those marginals (``DetectionLabelConfig.decoder``, :func:`decode_expected`).

Pedicle-implied candidates (default on): a left/right pedicle pair that no detected body claims
adds a candidate body (:func:`pedicle_body_candidates`) with no segment information and an extra
energy ``candidate_energy``; the solver decides whether it is a vertebra the body detector
missed.

Region consistency (``region_weight``): a label whose region (C/T/L) is not the one the
detector ranks first costs extra energy, on top of the binned segment likelihoods. Those treat
detections as independent, which over-counts weak evidence at the junctions (see
:class:`DetectionLabelConfig`).

Learned chain model (``net_weight``, default on): the log-posteriors of a bidirectional GRU run
along the detections in chain order (:mod:`~spinelab.postprocess.detection_net`; message passing
along the chain as in Yang et al. 2017 and the VID authors' graph network) are added to each
detection's label and false-detection energies. The optimizer and the gap model stay, so the
labelling stays consecutive and consistent with the spacing priors.

The weights in :class:`DetectionLabelConfig` (``gap_weight``, ``end_prior_weight``,
``end_fp_offset``, ``candidate_energy``) were chosen by a small coordinate search on the fit
split of the VID data, ``region_weight`` by 2-fold cross-validation within it (priors fitted on
one half, scored on the other); never on the report split. With all weights 1, offsets 0 and
``region_weight`` 0 the energy is the plain negative log-likelihood of the learned model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.postprocess.detection_net import DetectionNet, default_detection_net, node_features
from spinelab.postprocess.detection_priors import DetectionPriors, segment_bins
from spinelab.structures import Centroids

log = logging.getLogger(__name__)

#: Solvers accepted by :class:`DetectionLabelConfig`.
SOLVERS: tuple[str, ...] = ("dp", "wang")
#: The weight of the learned chain model when it is used (2-fold cross-validation, see
#: :class:`DetectionLabelConfig`).
NET_WEIGHT = 1.0
#: Default ``DetectionLabelConfig.net_max_detections`` (see there).
NET_MAX_DETECTIONS = 16
#: Default ``DetectionLabelConfig.t12_absent_rate`` (off; 0.005 is the VID fit split's
#: prevalence, see there).
T12_ABSENT_RATE = 0.0
#: Temperature of the confidences (:class:`DetectionLabelConfig`): the lowest held-out
#: negative log-likelihood in 2-fold cross-validation on the fit split (2026-12-02: 0.584 nats
#: per vertebra at 1, 0.203 at 4, 0.187 at 5, 0.190 at 6, 0.235 at 8; rerun 2026-12-06 with
#: the 80-epoch chain model: 0.541, 0.195, 0.178, 0.179, 0.216; with the whole-spine scans
#: labelled without it, on the other scans' vertebrae: 0.507, 0.184, 0.168, 0.170, 0.209;
#: ``benchmarks/detection_confidence.py``). Fitted for the dp solver; the wang solver's margin
#: uses the same value, not fitted separately.
CONFIDENCE_TEMPERATURE = 5.0
#: Temperature of the confidences of scans labelled without the chain model (more body
#: detections than ``net_max_detections``, or no network): the energy lacks the network's
#: log-posteriors and is less sharp. Lowest held-out NLL in the same cross-validation, on the
#: vertebrae of its 72 scans with more than 16 detections (2026-12-06 04:10 UTC: 0.221 nats per
#: vertebra at 3, 0.232 at 4, 0.290 at 5, 0.277 at 2). Fitted on those scans, not on short
#: chains labelled with the network left out (``--no-net``), which use it too.
CONFIDENCE_TEMPERATURE_WITHOUT_NET = 3.0
#: Decoders accepted by :class:`DetectionLabelConfig` (dp solver).
DECODERS: tuple[str, ...] = ("expected", "map")
#: Default ``DetectionLabelConfig.decode_temperature`` and ``decode_price`` (see there).
DECODE_TEMPERATURE = 2.0
DECODE_PRICE = 0.3
#: ``method`` written into the output centroids, per solver.
METHOD_NAMES = {"dp": "wang2021-detections-dp", "wang": "wang2021-detections"}

_INF = 1e12


@dataclass(frozen=True)
class DetectionLabelConfig:
    """Settings of the detection labeller.

    Attributes:
        solver: "dp" (exact, default) or "wang" (the paper's Algorithm 1).
        max_skip: Most consecutive missed vertebrae between two chosen detections (dp).
        n_scales: Points of the per-scan scale grid (odd; spans +-3 prior standard deviations).
        measurement_sd_mm: Detection position noise added to every gap's spread, mm.
        use_pedicles: Use the pedicle feature when the input has pedicle points.
        use_end_priors: Use the learned priors on the first and last label.
        allow_transitional: Allow the transitional labels of the priors (L6; T13 if fitted)
            and the synthesized T13 (``synthesize_t13``).
        empty_energy: Extra energy of labelling nothing (every detection false).
        gap_sd_factor: Multiplies the learned gap spreads (the per-level spreads are measured
            after removing each scan's own scale, which makes them optimistic).
        end_prior_weight: Weight of the first/last label priors.
        segment_weight: Weight of the segment-score log-likelihoods.
        gap_weight: Weight of the gap energies (and of the scale prior).
        end_fp_offset: Added to the energy of a false positive above the first or below the
            last chosen detection.
        pedicle_candidates: Add a candidate body for every left/right pedicle pair that no
            body detection claims (:func:`pedicle_body_candidates`), to recover vertebrae the
            body detector missed.
        candidate_energy: Extra energy of such a candidate being a vertebra.
        region_weight: Extra energy of giving a detection a cervical, thoracic or lumbar label
            when its segment scores rank another region first (:func:`region_mismatch`). The
            binned segment likelihoods treat detections as independent; at the junctions the
            detector's errors are not, and adding up weak per-detection evidence there (a T12
            that looks a little lumbar, an L1 that looks a little thoracic) shifts whole
            labellings by one level. The weight was chosen by 2-fold cross-validation on the
            fit split (``benchmarks/RESULTS.md``); 0 turns the term off.
        transitional_rate: Probability that a transitional vertebra (L6; T13 where the priors
            have it) is present when the chain reaches its place; None uses the prevalence
            learned with the priors. The collections behind the VID data disagree on
            transitional anatomy: VerSe marks L6 (42 of 193 verse20 scans), CT Colonography
            never does (0 of 1,540) and calls the top one of six lumbar-looking vertebrae T12,
            so the learned 2.65 % mixes two conventions. 0.5 (no preference, the segment
            scores and gaps decide) was chosen by 2-fold cross-validation on the fit split
            (``benchmarks/detection_weights_cv.py``).
        net_weight: Weight of the learned chain model's log-posteriors
            (:mod:`~spinelab.postprocess.detection_net`), added to every detection's label and
            false-detection energies; 0 leaves it out. ``NET_WEIGHT`` (1.0, the default) was
            the best weight in 2-fold cross-validation on the fit split when chosen; weights
            0.75-1.25 have been within the spread of retraining since
            (``benchmarks/detection_net_cv.py``). The model was trained on the VID detector's
            output with augmentation (misses, false detections, missing pedicles, body size,
            score noise); for a detector unlike it, compare with 0 on your own annotated scans.
        net_max_detections: The chain model is used only for scans with at most this many body
            detections (pedicle-implied candidates not counted); None: always. Longer chains
            are whole-spine scans, rare in its training data (46 of the 1,349 fit-split scans
            have more than 18 detections, VID being mostly colonography), and there its
            counting goes wrong: in 2-fold cross-validation on the fit split the held-out id
            rate of the 46 scans with more than 18 detections was 93.70 % without the model and
            89.50 / 88.62 % with it (seeds 0 / 1), while it lifts the others from 93.89 to
            95.56 / 95.46 %. ``NET_MAX_DETECTIONS`` (16) had the best mean held-out id rate of
            the limits 14 / 16 / 18 / 20 over the two seeds (95.42 / 95.47 % at 16, against
            95.11 / 94.95 % without a limit; ``benchmarks/RESULTS.md``, 2026-12-06).
        synthesize_t13: When the priors have no T13 (VID's ground truth never labels one),
            add it between T12 and L1 anyway: a thirteenth thoracic vertebra then gets its own
            label instead of shifting T1-T12 or L1-L5 by one. Its tables are borrowed
            (:data:`STAND_INS`): the segment likelihood, end priors and chain-model column of
            T11 (the lowest level the detector nearly always scores thoracic; T12's own are
            half lumbar-looking, which let T13 take the place of L6 in six-lumbar spines), the
            T11->T12 gap above it and the T12->L1 gap below it. When it is absent the T12->L1
            gap is the direct one (:func:`pair_gap_tables`).
        t13_rate: Probability of the synthesized T13 where the chain passes T12->L1 (its
            presence costs ``-log p``, its absence ``-log(1 - p)``). 0.01: six of the 1,947
            VID spines show a detected vertebra the annotation skips between T12 and L1 (four
            of them among the 193 verse20 scans, which cover the whole thoracic spine); 0.01
            and 0.1 gave the same labels on both VID splits.
        t12_absent_rate: Probability that a spine has eleven thoracic vertebrae, so that L1
            follows T11 one level gap below it (VerSe and VID then annotate T1-T11 and L1: no
            T12). The gap from a label above T12 to one below it is then a mixture: T12 missed
            by the detector (``-log(miss rate)``, the gaps over T12 counted) or absent
            (``-log p``, the T11 -> T12 gap left out); every labelling through T12 pays
            ``-log(1 - p)``. 0 (``T12_ABSENT_RATE``, the default) turns it off. Five of the
            1,226 fit-split VID spines that reach from T11 to L1 have no T12 (0.4 %; all VerSe
            2020, five of its 104 there), three of the 535 on the report split; 0.005 labels
            such spines right, but the reading also lets the labeller reconcile a chain model
            that counts the thoracic levels one off with the lumbar ones, and calls normal
            spines eleven-thoracic: with the bundled model it gained 0.07 points in 2-fold
            cross-validation and lost 0.33 on the report split (``benchmarks/RESULTS.md``,
            2026-12-06); since whole-spine scans are labelled without the chain model
            (``net_max_detections``) it gains 0.04 points in both, within the spread of
            training, so it stays off. Worth turning on where eleven-thoracic spines are
            expected and the top of the thoracic spine is in view (VerSe-like data), checked on
            such scans.
        confidence_temperature: The confidences are posteriors of the Gibbs distribution
            ``exp(-E / T)`` over labellings (dp) or ``sigmoid(margin / T)`` (wang). The energy's
            weights were tuned for the labels, not as calibrated log-likelihoods: at ``T = 1``
            the dp posteriors are over-confident (VID report split: vertebrae given >= 0.99 were
            right in 95.6 % of cases). ``T`` changes the confidences only, never the labels;
            ``CONFIDENCE_TEMPERATURE`` was fitted by the negative log-likelihood of held-out
            correctness in 2-fold cross-validation on the fit split
            (``benchmarks/detection_confidence.py``).
        confidence_temperature_without_net: The same for scans labelled without the chain
            model (``CONFIDENCE_TEMPERATURE_WITHOUT_NET``).
        decoder: Which labelling the dp solver returns. "map": the one of lowest energy.
            "expected" (default): among the consistent labellings (labels increasing along the
            chain, only the label transitions the energy allows), the one with the most
            expected right labels, ``sum(P(detection k is v)) - decode_price * (number
            labelled)``, with the posterior marginals of ``exp(-E / decode_temperature)`` at the
            minimum-energy labelling's scale (:func:`decode_expected`). The identification
            rate counts right labels, and where the energy's probability mass is split between
            readings the single lowest-energy one need not have the most of them. 2-fold
            cross-validation on the VID fit split (``benchmarks/RESULTS.md``, 2026-12-06): held-out
            id rate 95.42 % with "map", 95.53 % with "expected" (temperature 2, price 0.3; four
            scans better, none worse; with networks trained from another seed 95.47 and 95.57
            %). The wang solver always returns its own minimum.
        decode_temperature: Temperature of the marginals "expected" decodes with
            (``DECODE_TEMPERATURE``; 1, 2, 3, 5 were compared, 2 best).
        decode_price: What labelling a detection costs, in expected right labels: a detection
            is labelled only where that adds more than this (``DECODE_PRICE``). 0 labels every
            detection with any chance of being a vertebra (held out: 95.58 %, but 28 % more
            labels that the ground truth lacks); 0.5 labels only more-likely-right-than-wrong
            ones (95.46 %); 0.3 gave 282 labels that the truth lacks, "map" 274 (of about
            12,280 labels).
    """

    solver: str = "dp"
    max_skip: int = 3
    n_scales: int = 9
    measurement_sd_mm: float = 2.0
    use_pedicles: bool = True
    use_end_priors: bool = True
    allow_transitional: bool = True
    empty_energy: float = 10.0
    gap_sd_factor: float = 1.0
    end_prior_weight: float = 0.5
    segment_weight: float = 1.0
    gap_weight: float = 0.5
    end_fp_offset: float = 3.0
    pedicle_candidates: bool = True
    candidate_energy: float = 2.0
    region_weight: float = 2.0
    transitional_rate: float | None = 0.5
    net_weight: float = NET_WEIGHT
    net_max_detections: int | None = NET_MAX_DETECTIONS
    synthesize_t13: bool = True
    t13_rate: float = 0.01
    t12_absent_rate: float = T12_ABSENT_RATE
    confidence_temperature: float = CONFIDENCE_TEMPERATURE
    confidence_temperature_without_net: float = CONFIDENCE_TEMPERATURE_WITHOUT_NET
    decoder: str = "expected"
    decode_temperature: float = DECODE_TEMPERATURE
    decode_price: float = DECODE_PRICE

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose one of {', '.join(SOLVERS)}")
        if self.decoder not in DECODERS:
            raise ValueError(
                f"unknown decoder {self.decoder!r}; choose one of {', '.join(DECODERS)}"
            )
        if not (self.decode_temperature > 0.0 and self.decode_price >= 0.0):
            raise ValueError("decode_temperature must be > 0 and decode_price >= 0")
        if self.max_skip < 0 or self.n_scales < 1:
            raise ValueError("max_skip must be >= 0 and n_scales >= 1")
        if not (self.confidence_temperature > 0.0 and self.confidence_temperature_without_net > 0):
            raise ValueError("confidence_temperature(_without_net) must be > 0")
        if self.transitional_rate is not None and not 0.0 < self.transitional_rate < 1.0:
            raise ValueError("transitional_rate must be in (0, 1) or None")
        if self.net_weight < 0:
            raise ValueError("net_weight must be >= 0")
        if self.net_max_detections is not None and self.net_max_detections < 0:
            raise ValueError("net_max_detections must be >= 0 or None")
        if not 0.0 <= self.t12_absent_rate < 1.0:
            raise ValueError("t12_absent_rate must be in [0, 1)")


@dataclass
class DetectionProblem:
    """The 1-D labelling problem of one scan (detections sorted cranial -> caudal).

    Attributes:
        order: ``(K,)`` index of each sorted detection in the input.
        z_mm: ``(K,)`` arc length along the centerline, mm, non-decreasing.
        labels: ``V`` labels that may be assigned (chain order).
        e_label: ``(K, V)`` energy of detection k being vertebra v.
        e_fp: ``(3, K)`` energy of detection k being false when above the first / between /
            below the last chosen detection.
        first_cost: ``(V,)`` energy of v being the first (most cranial) label.
        last_cost: ``(V,)`` energy of v being the last label.
        present_cost: ``(V,)`` extra energy when v is present (transitional labels).
        skip_cost: ``(V,)`` energy when v lies strictly between two chosen labels but is absent.
        gap_mean_mm: ``(V, V)`` mean distance from label a to label b (a < b), unit scale, mm:
            the sum of the level gaps between them, transitional labels in between left out.
        gap_var_mm2: ``(V, V)`` its variance, unit scale, mm^2.
        log_scales: ``(S,)`` scale grid (log). scale_cost: ``(S,)`` its prior energy.
        measurement_var_mm2: Noise variance added to every gap, mm^2.
        max_skip: Most missed vertebrae between two chosen ones.
        empty_energy: Extra energy of choosing nothing.
        gap_weight: Multiplies every gap energy.
        alt_pair_cost: ``(V, V)`` energy of the other reading of a transition (a label missing
            from the spine, not missed by the detector: ``t12_absent_rate``) in place of
            :meth:`pair_matrix`'s, inf where there is none; None: no such transitions.
        alt_gap_mean_mm, alt_gap_var_mm2: ``(V, V)`` its gap mean and variance at unit scale.
    """

    order: NDArray[np.int64]
    z_mm: NDArray[np.float64]
    labels: tuple[str, ...]
    e_label: NDArray[np.float64]
    e_fp: NDArray[np.float64]
    first_cost: NDArray[np.float64]
    last_cost: NDArray[np.float64]
    present_cost: NDArray[np.float64]
    skip_cost: NDArray[np.float64]
    gap_mean_mm: NDArray[np.float64]
    gap_var_mm2: NDArray[np.float64]
    log_scales: NDArray[np.float64]
    scale_cost: NDArray[np.float64]
    measurement_var_mm2: float
    max_skip: int
    empty_energy: float
    gap_weight: float = 1.0
    alt_pair_cost: NDArray[np.float64] | None = None
    alt_gap_mean_mm: NDArray[np.float64] | None = None
    alt_gap_var_mm2: NDArray[np.float64] | None = None

    @property
    def n(self) -> int:
        """Number of detections K."""
        return int(self.z_mm.shape[0])

    def pair_matrix(self) -> NDArray[np.float64]:
        """``(V, V)`` label-transition energy (skips, presence of the later label); inf if invalid."""
        cached = self.__dict__.get("_pair")
        if cached is None:
            cached = self.__dict__["_pair"] = self._pair_matrix()
        return cached

    def _pair_matrix(self) -> NDArray[np.float64]:
        return pair_costs(
            self.labels, self.skip_cost, self.present_cost, self.gap_mean_mm, self.max_skip
        )

    def gap_energy(
        self,
        d_mm: NDArray[np.float64],
        a: NDArray[np.int64],
        b: NDArray[np.int64],
        alternative: bool = False,
    ) -> NDArray[np.float64]:
        """``(S, ...)`` energy of gaps ``d_mm`` between labels ``a`` -> ``b`` at every scale
        (``alternative``: with the other reading's gap, :attr:`alt_gap_mean_mm`)."""
        mean, var0 = self.gap_mean_mm, self.gap_var_mm2
        if alternative:
            assert self.alt_gap_mean_mm is not None and self.alt_gap_var_mm2 is not None
            mean, var0 = self.alt_gap_mean_mm, self.alt_gap_var_mm2
        s = np.exp(self.log_scales).reshape((-1,) + (1,) * np.ndim(d_mm))
        mu = mean[a, b]
        var = s**2 * var0[a, b] + self.measurement_var_mm2
        e = 0.5 * (d_mm - s * mu) ** 2 / var + 0.5 * np.log(2 * np.pi * var)
        return np.asarray(self.gap_weight * e)

    def transition_energy(
        self, d_mm: NDArray[np.float64], a: NDArray[np.int64], b: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """``(S, ...)`` energy of label ``a`` followed by label ``b`` ``d_mm`` further down the
        chain at every scale: the gap and :meth:`pair_matrix`'s skips and presence, summed over
        the two readings where a transition has an alternative (:attr:`alt_pair_cost`). The
        labels ``a``, ``b`` may vary along the last axis only (as in the solvers)."""
        e = self.gap_energy(d_mm, a, b) + self.pair_matrix()[a, b]
        if self.alt_pair_cost is None:
            return e
        # the few label pairs with a second reading; labels vary along the last axis only
        alt_cost = self.alt_pair_cost[a, b]
        cols = np.flatnonzero(np.isfinite(alt_cost).reshape(-1, alt_cost.shape[-1]).any(axis=0))
        if cols.size == 0:
            return e
        d = np.asarray(d_mm)
        d_sub = d[..., cols] if d.shape[-1] > 1 else d
        alt = self.gap_energy(d_sub, a[..., cols], b[..., cols], alternative=True)
        alt = alt + alt_cost[..., cols]
        e[..., cols] = -np.logaddexp(-e[..., cols], -alt)
        return e

    def energy(self, k: Sequence[int], labels: Sequence[str]) -> float:
        """Total energy of a labelling: detections ``k`` (sorted indices, ascending) get ``labels``.

        Every other detection is false. Minimized over the scale grid. An empty labelling has
        energy ``sum(e_fp[1]) + empty_energy``.
        """
        kk = np.asarray(k, dtype=np.int64).reshape(-1)
        if kk.size == 0:
            return float(self.e_fp[1].sum() + self.empty_energy)
        idx = np.array([self.labels.index(anatomy.normalize_name(x)) for x in labels])
        if np.any(np.diff(kk) <= 0) or np.any(np.diff(idx) <= 0):
            return math.inf
        e = float(self.e_label[kk, idx].sum())
        e += float(self.first_cost[idx[0]] + self.last_cost[idx[-1]] + self.present_cost[idx[0]])
        fp = np.ones(self.n, dtype=bool)
        fp[kk] = False
        pos = np.arange(self.n)
        e += float(self.e_fp[0, fp & (pos < kk[0])].sum())
        e += float(self.e_fp[1, fp & (pos > kk[0]) & (pos < kk[-1])].sum())
        e += float(self.e_fp[2, fp & (pos > kk[-1])].sum())
        gap = self.scale_cost.copy()
        if kk.size > 1:
            d = np.diff(self.z_mm[kk])
            gap = gap + self.transition_energy(d, idx[:-1], idx[1:]).sum(axis=1)
        return e + float(gap.min())


# ----------------------------------------------------------------------------------------------
# Signals


def centerline_positions(
    points_mm: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Order points along the spine and give their arc length on a smooth centerline.

    The principal axis of the points (robustly: refitted without points more than 30 mm, or 2.5
    median distances, off the line; oriented so that it points caudally, -z in LPS) gives the
    parameter t; the perpendicular coordinates are fitted as cubics in t on the inliers (one
    refit without points more than 15 mm off the curve), and each point's position is the arc
    length of the fitted curve from the most cranial point to its own t.

    Args:
        points_mm: ``(N, 3)`` LPS mm.

    Returns:
        ``order`` ``(N,)`` (cranial first) and ``z_mm`` ``(N,)`` non-decreasing arc lengths.
    """
    p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    n = p.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if n == 1:
        return np.zeros(1, dtype=np.int64), np.zeros(1)
    # robust principal axis: refit without points far from the current line
    inl = np.ones(n, dtype=bool)
    for _ in range(3):
        center = p[inl].mean(axis=0)
        _, _, vt = np.linalg.svd(p[inl] - center, full_matrices=False)
        c = p - center
        t_all = c @ vt[0]
        off = np.linalg.norm(c - t_all[:, None] * vt[0][None, :], axis=1)
        new = off <= max(30.0, 2.5 * float(np.median(off[inl])))
        if new.sum() < 3 or np.array_equal(new, inl):
            break
        inl = new
    axis = vt[0] if vt[0, 2] <= 0 else -vt[0]
    t = c @ axis
    order = np.argsort(t, kind="stable")
    t = t[order]
    inl = inl[order]
    perp = c[order] - t[:, None] * axis[None, :]
    deg = min(3, int(inl.sum()) - 2)
    if deg < 1 or t[-1] - t[0] < 1e-6:
        return order.astype(np.int64), t - t[0]
    coef = np.polyfit(t[inl], perp[inl], deg)
    fit = np.stack([np.polyval(coef[:, j], t) for j in range(3)], 1)
    keep = inl & (np.linalg.norm(perp - fit, axis=1) < 15.0)
    if keep.sum() >= deg + 2:
        coef = np.polyfit(t[keep], perp[keep], deg)
    grid = np.linspace(t[0], t[-1], 256)
    curve = grid[:, None] * axis[None, :] + np.stack(
        [np.polyval(coef[:, j], grid) for j in range(3)], 1
    )
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    z = np.interp(t, grid, arc)
    return order.astype(np.int64), z


def pedicle_sides(
    body_mm: NDArray[np.float64],
    left_mm: NDArray[np.float64],
    right_mm: NDArray[np.float64],
    radius_mm: float,
) -> NDArray[np.int64]:
    """``(N,)`` number of sides (0, 1, 2) with a pedicle point within ``radius_mm`` of each body."""
    body = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
    out = np.zeros(body.shape[0], dtype=np.int64)
    for side in (left_mm, right_mm):
        s = np.asarray(side, dtype=np.float64).reshape(-1, 3)
        if s.shape[0] == 0 or body.shape[0] == 0:
            continue
        d = np.linalg.norm(body[:, None, :] - s[None, :, :], axis=2).min(axis=1)
        out += (d <= radius_mm).astype(np.int64)
    return out


def region_mismatch(
    segment_scores: NDArray[np.float64], labels: Sequence[str]
) -> NDArray[np.float64]:
    """``(N, V)``: 1 where label ``v`` is cervical, thoracic or lumbar and detection ``n``'s
    segment scores rank another of these regions first (C/T/L argmax), else 0 (also for
    sacral labels and for rows without scores).

    >>> region_mismatch(np.array([[0.1, 0.6, 0.9]]), ["T12", "L1", "S1"]).tolist()
    [[1.0, 0.0, 0.0]]
    """
    scores = np.asarray(segment_scores, dtype=np.float64).reshape(-1, 3)
    out = np.zeros((scores.shape[0], len(labels)))
    ok = np.all(np.isfinite(scores), axis=1)
    if not ok.any():
        return out
    first = np.full(scores.shape[0], -1)
    first[ok] = np.argmax(scores[ok], axis=1)  # 0 C, 1 T, 2 L
    code = {"cervical": 0, "thoracic": 1, "lumbar": 2}
    for j, x in enumerate(labels):
        region = anatomy.region_of(x)
        if region in code:
            out[:, j] = ok & (first != code[region])
    return out


def pedicle_body_candidates(
    body_mm: NDArray[np.float64],
    left_mm: NDArray[np.float64],
    right_mm: NDArray[np.float64],
    pair_mm: float = 60.0,
    claim_mm: float = 45.0,
) -> NDArray[np.float64]:
    """Body positions implied by pedicle pairs that no detected body claims.

    Left and right pedicles are paired one-to-one (optimal assignment, at most ``pair_mm``
    apart); each detected body claims one pair (optimal assignment, midpoint within
    ``claim_mm``). An unclaimed pair implies a body at its midpoint plus the scan's median
    body - midpoint offset of the claimed pairs (at least two are needed).

    Returns:
        ``(M, 3)`` LPS mm (M may be 0).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    body = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
    left = np.asarray(left_mm, dtype=np.float64).reshape(-1, 3)
    right = np.asarray(right_mm, dtype=np.float64).reshape(-1, 3)
    none = np.zeros((0, 3))
    if left.shape[0] == 0 or right.shape[0] == 0 or body.shape[0] < 2:
        return none
    d = cdist(left, right)
    r, c = linear_sum_assignment(np.where(d <= pair_mm, d, 1e6))
    ok = d[r, c] <= pair_mm
    mids = (left[r[ok]] + right[c[ok]]) / 2.0
    if mids.shape[0] == 0:
        return none
    d = cdist(body, mids)
    r, c = linear_sum_assignment(np.where(d <= claim_mm, d, 1e6))
    ok = d[r, c] <= claim_mm
    if ok.sum() < 2:
        return none
    offset = np.median(body[r[ok]] - mids[c[ok]], axis=0)
    free = np.setdiff1d(np.arange(mids.shape[0]), c[ok])
    return np.asarray(mids[free] + offset, dtype=np.float64).reshape(-1, 3)


def with_pedicle_candidates(
    body_mm: NDArray[np.float64],
    segment_scores: NDArray[np.float64],
    left_mm: NDArray[np.float64] | None,
    right_mm: NDArray[np.float64] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Body detections followed by the candidates implied by unclaimed pedicle pairs
    (:func:`pedicle_body_candidates`; their segment scores are NaN).

    Returns:
        ``(M, 3)`` body points, ``(M, 3)`` scores, and N, the number of real detections (the
        first N rows).
    """
    body = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
    scores = np.asarray(segment_scores, dtype=np.float64).reshape(-1, 3)
    n_det = body.shape[0]
    if left_mm is None or right_mm is None:
        return body, scores, n_det
    cand = pedicle_body_candidates(body, left_mm, right_mm)
    if cand.shape[0]:
        body = np.vstack([body, cand])
        scores = np.vstack([scores, np.full((cand.shape[0], 3), np.nan)])
    return body, scores, n_det


#: Stand-ins for labels that priors fitted on data without them do not have (VID's ground truth
#: has no T13: a thirteenth thoracic vertebra is left unlabelled there, see
#: ``DetectionLabelConfig.synthesize_t13``): the label borrows the segment likelihood, the end
#: priors and the chain model's column of this label; its gaps are in :func:`pair_gap_tables`.
STAND_INS: dict[str, str] = {"T13": "T11"}


def _prior_row(priors: DetectionPriors, label: str) -> str:
    """The priors' label whose tables ``label`` uses (itself, or its stand-in)."""
    return label if label in priors.labels else STAND_INS[label]


def problem_labels(priors: DetectionPriors, config: DetectionLabelConfig) -> tuple[str, ...]:
    """Labels the labeller may assign: the priors' ones (transitional ones when allowed), plus a
    T13 synthesized from T12 (:data:`STAND_INS`) when allowed and the priors lack it."""
    out = [
        x for x in priors.labels if config.allow_transitional or not anatomy.by_name(x).transitional
    ]
    if (
        config.allow_transitional
        and config.synthesize_t13
        and "T13" not in out
        and {"T11", "T12", "L1"} <= set(priors.labels)
    ):
        out.append("T13")
    return tuple(sorted(out, key=anatomy.chain_index))


def pair_gap_tables(
    priors: DetectionPriors, labels: Sequence[str], sd_factor: float = 1.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(V, V)`` mean and variance of the distance between labels a < b at unit scale.

    The distance is the sum of the consecutive level gaps on the way from a to b; transitional
    labels strictly between a and b are absent (their own gaps are not counted, the direct gap
    over them is). Gaps come from the priors (``gap_mean_mm``, ``gap_sd_mm * sd_factor``); a
    synthesized T13 (:data:`STAND_INS`) has T11->T12's gap above it and T12->L1's below it.
    """
    pl = list(priors.labels)
    gm = {(pl[i], pl[i + 1]): float(priors.gap_mean_mm[i]) for i in range(len(pl) - 1)}
    gv = {
        (pl[i], pl[i + 1]): float((sd_factor * priors.gap_sd_mm[i]) ** 2)
        for i in range(len(pl) - 1)
    }
    # a direct gap over an interior transitional label the priors hold (T12 -> L1 over a T13
    # annotated in the training data): fit_priors learns T12 -> T13 and T13 -> L1 but not the
    # direct gap (its scans with T13 have no T12 -> L1 pair, the others no consecutive one); the
    # sum of the two is wrong when T13 is absent, so the gap below it stands in for the direct one
    for i in range(1, len(pl) - 1):
        if anatomy.by_name(pl[i]).transitional and (pl[i - 1], pl[i + 1]) not in gm:
            gm[(pl[i - 1], pl[i + 1])] = gm[(pl[i], pl[i + 1])]
            gv[(pl[i - 1], pl[i + 1])] = gv[(pl[i], pl[i + 1])]
    if "T13" not in pl and {"T11", "T12", "L1"} <= set(pl):
        gm[("T12", "T13")], gv[("T12", "T13")] = gm[("T11", "T12")], gv[("T11", "T12")]
        gm[("T13", "L1")], gv[("T13", "L1")] = gm[("T12", "L1")], gv[("T12", "L1")]
    v = len(labels)
    mean = np.full((v, v), np.nan)
    var = np.full((v, v), np.nan)
    trans = [anatomy.by_name(x).transitional for x in labels]
    for a in range(v):
        mu, s2, prev = 0.0, 0.0, labels[a]
        for b in range(a + 1, v):
            if trans[b]:
                key = (prev, labels[b])
                if key in gm:
                    mean[a, b], var[a, b] = mu + gm[key], s2 + gv[key]
                continue
            key = (prev, labels[b])
            if key not in gm:
                break
            mu, s2, prev = mu + gm[key], s2 + gv[key], labels[b]
            mean[a, b], var[a, b] = mu, s2
    return mean, var


def build_problem(
    body_mm: NDArray[np.float64],
    segment_scores: NDArray[np.float64],
    priors: DetectionPriors,
    left_mm: NDArray[np.float64] | None = None,
    right_mm: NDArray[np.float64] | None = None,
    config: DetectionLabelConfig = DetectionLabelConfig(),
    net: DetectionNet | None = None,
) -> DetectionProblem:
    """The 1-D problem for one scan's detections (see the module docstring).

    Args:
        body_mm: ``(N, 3)`` detected body points, LPS mm.
        segment_scores: ``(N, 3)`` unnormalized C/T/L scores (NaN rows: no segment information).
        priors: Learned priors.
        left_mm, right_mm: ``(L, 3)``/``(R, 3)`` pedicle points, LPS mm, or None.
        config: Settings.
        net: Learned chain model whose log-posteriors are added with ``config.net_weight``
            (None: not used). Used as given: :func:`label_detections` decides whether a scan
            gets it (``config.net_max_detections``) and picks the confidence temperature to
            match.
    """
    body = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
    scores = np.asarray(segment_scores, dtype=np.float64).reshape(-1, 3)
    if scores.shape[0] != body.shape[0]:
        raise ValueError("segment_scores must have one row per body point")
    order, z = centerline_positions(body)
    body, scores = body[order], scores[order]
    labels = problem_labels(priors, config)
    rows = np.array([priors.labels.index(_prior_row(priors, x)) for x in labels])
    rows = np.append(rows, len(priors.labels))
    hist = np.log(priors.segment_hist[rows])  # (V+1, 2, B)

    # segment evidence: two binned log-ratio features, independent given the level
    bins = segment_bins(scores)  # (K, 2)
    lik = np.zeros((body.shape[0], rows.size))
    for f in range(2):
        ok = bins[:, f] >= 0
        lik[ok] += config.segment_weight * hist[:, f, bins[ok, f]].T
    # region consistency: a label whose region is not the one the detector ranks first
    if config.region_weight:
        lik[:, :-1] -= config.region_weight * region_mismatch(scores, labels)
    # pedicle evidence, only when the scan has pedicle points at all
    lp = np.zeros((body.shape[0], 2))
    has_ped = any(x is not None and np.size(x) > 0 for x in (left_mm, right_mm))
    if config.use_pedicles and has_ped:
        empty = np.zeros((0, 3))
        sides = pedicle_sides(
            body,
            empty if left_mm is None else left_mm,
            empty if right_mm is None else right_mm,
            priors.pedicle_radius_mm,
        )
        lp = np.log(priors.pedicle_table[:, sides].T)  # (K, 2)
    # false positives: per-scan rates above/below the chain, a per-detection share inside it
    fp_rates = np.array([priors.fp_rate_top, priors.fp_rate_mid, priors.fp_rate_bottom])
    e_label = -(lik[:, :-1] + lp[:, :1]) - math.log(1.0 - priors.fp_rate_mid)
    e_fp = -(lik[:, -1] + lp[:, 1])[None, :] - np.log(np.minimum(fp_rates, 0.99))[:, None]
    e_fp[[0, 2]] += config.end_fp_offset
    if net is not None and config.net_weight > 0 and body.shape[0]:
        lp = net.log_posteriors(node_features(body, scores, left_mm, right_mm, z))
        floor = float(lp.min())
        cols = [
            lp[:, net.labels.index(y)]
            if (y := _prior_row(priors, x)) in net.labels
            # a label the network does not know: the floor of its log-posteriors
            else np.full(lp.shape[0], floor)
            for x in labels
        ]
        e_label -= config.net_weight * np.stack(cols, axis=1)
        e_fp -= config.net_weight * lp[:, -1][None, :]

    v = len(labels)
    if config.use_end_priors:
        first = -config.end_prior_weight * np.log(priors.first_prior[rows[:-1]])
        last = -config.end_prior_weight * np.log(priors.last_prior[rows[:-1]])
    else:
        first = np.zeros(v)
        last = np.zeros(v)
    present = np.zeros(v)
    skip = np.full(v, -math.log(priors.miss_rate))
    for i, x in enumerate(labels):
        if x == "T13" and "T13" not in priors.labels:
            p = config.t13_rate
            present[i] = -math.log(p)
            skip[i] = -math.log(1.0 - p)
        elif anatomy.by_name(x).transitional:
            p = config.transitional_rate or float(priors.transitional_rate.get(x, 1e-3))
            present[i] = -math.log(p)
            skip[i] = -math.log(1.0 - p)
        elif x == "T12" and config.t12_absent_rate > 0.0:
            # present, or missed by the detector, in a spine that has it
            present[i] = -math.log(1.0 - config.t12_absent_rate)
            skip[i] -= math.log(1.0 - config.t12_absent_rate)
    gm, gv = pair_gap_tables(priors, labels, config.gap_sd_factor)
    alt = _t12_absent(labels, present, skip, gm, gv, config, priors)
    half = (config.n_scales - 1) // 2
    ls = priors.log_scale_sd * np.linspace(-3.0, 3.0, 2 * half + 1) if half else np.zeros(1)
    scale_cost = config.gap_weight * 0.5 * (ls / max(priors.log_scale_sd, 1e-6)) ** 2
    return DetectionProblem(
        order=order,
        z_mm=z,
        labels=labels,
        e_label=e_label,
        e_fp=e_fp,
        first_cost=first,
        last_cost=last,
        present_cost=present,
        skip_cost=skip,
        gap_mean_mm=gm,
        gap_var_mm2=gv,
        log_scales=ls,
        scale_cost=scale_cost,
        measurement_var_mm2=config.measurement_sd_mm**2,
        max_skip=config.max_skip,
        empty_energy=config.empty_energy,
        gap_weight=config.gap_weight,
        alt_pair_cost=None if alt is None else alt[0],
        alt_gap_mean_mm=None if alt is None else alt[1],
        alt_gap_var_mm2=None if alt is None else alt[2],
    )


def pair_costs(
    labels: Sequence[str],
    skip_cost: NDArray[np.float64],
    present_cost: NDArray[np.float64],
    gap_mean_mm: NDArray[np.float64],
    max_skip: int,
) -> NDArray[np.float64]:
    """``(V, V)`` energy of label ``a`` followed by label ``b``: the skip costs of the labels
    between them and the presence cost of ``b``; inf where ``b <= a``, more than ``max_skip``
    standard labels are skipped or no gap is known (:meth:`DetectionProblem.pair_matrix`)."""
    v = len(labels)
    a = np.arange(v)[:, None]
    b = np.arange(v)[None, :]
    cs = np.concatenate([[0.0], np.cumsum(skip_cost)])
    between = cs[np.maximum(b, a + 1)] - cs[np.minimum(a + 1, b)]  # sum over a < i < b
    std = np.array([not anatomy.by_name(x).transitional for x in labels], dtype=float)
    cstd = np.concatenate([[0.0], np.cumsum(std)])
    n_std_skipped = cstd[np.maximum(b, a + 1)] - cstd[np.minimum(a + 1, b)]
    ok = (b > a) & (n_std_skipped <= max_skip) & np.isfinite(gap_mean_mm)
    return np.asarray(np.where(ok, between + present_cost[None, :], np.inf))


def _t12_absent(
    labels: tuple[str, ...],
    present: NDArray[np.float64],
    skip: NDArray[np.float64],
    gm: NDArray[np.float64],
    gv: NDArray[np.float64],
    config: DetectionLabelConfig,
    priors: DetectionPriors,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None:
    """The eleven-thoracic reading of transitions over T12 (``config.t12_absent_rate``):
    ``(alt_pair_cost, alt_gap_mean_mm, alt_gap_var_mm2)`` for :class:`DetectionProblem`, or
    None. A transition from above T12 to a standard label below it costs what
    :func:`pair_costs` gives with T12's skip cost replaced by ``-log p``; its gap leaves out
    T11 -> T12 (L1 one level gap below T11)."""
    p = config.t12_absent_rate
    if p <= 0.0 or not {"T11", "T12", "L1"} <= set(labels):
        return None
    t12 = labels.index("T12")
    std = np.array([not anatomy.by_name(x).transitional for x in labels])
    idx = np.arange(len(labels))
    span = (idx < t12)[:, None] & ((idx > t12) & std)[None, :]
    base = pair_costs(labels, skip, present, gm, config.max_skip)
    cost = np.where(span, base - skip[t12] - math.log(p), np.inf)
    row = priors.labels.index("T11")
    drop_mean = float(priors.gap_mean_mm[row])
    drop_var = float((config.gap_sd_factor * priors.gap_sd_mm[row]) ** 2)
    return cost, gm - drop_mean, np.maximum(gv - drop_var, 1e-6)


# ----------------------------------------------------------------------------------------------
# Solvers


@dataclass
class DetectionSolution:
    """A labelling of the sorted detections of a :class:`DetectionProblem`.

    Attributes:
        k: ``(n,)`` ascending indices of the chosen (true) detections in sorted order.
        labels: ``n`` labels, consecutive in chain order up to skips for missed vertebrae.
        energy: Total energy (:meth:`DetectionProblem.energy`).
        confidence: ``(n,)`` in [0, 1] (see the solvers), or None.
        log_scale: Log of the chosen per-scan scale.
    """

    k: NDArray[np.int64]
    labels: list[str]
    energy: float
    confidence: NDArray[np.float64] | None = None
    log_scale: float = 0.0


def _prefix_fp(prob: DetectionProblem) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Energies of detections before k (top FPs) and after k (bottom FPs), relative to mid."""
    top = prob.e_fp[0] - prob.e_fp[1]
    bot = prob.e_fp[2] - prob.e_fp[1]
    before = np.concatenate([[0.0], np.cumsum(top)])[:-1]
    after = np.concatenate([np.cumsum(bot[::-1])[::-1][1:], [0.0]])
    return before, after


def solve_dp(
    prob: DetectionProblem,
    temperature: float = 1.0,
    decode_temperature: float | None = None,
    decode_price: float = DECODE_PRICE,
) -> DetectionSolution:
    """Exact dynamic programming over the energy: its minimum (or, with ``decode_temperature``,
    the labelling with the most expected right labels), with posterior confidences.

    States are (detection, label); a chosen detection follows the previous chosen one with a
    higher label (skipping at most ``max_skip`` standard vertebrae), detections in between are
    false. The scale grid is searched exhaustively. Confidence: the posterior probability
    (forward-backward over all labellings of ``exp(-E / temperature)``, at the best scale) that
    the detection carries its label.

    Args:
        prob: The problem.
        temperature: Temperature of the confidences.
        decode_temperature: None: return the minimum-energy labelling. Else: the labelling
            with the most expected right labels under the marginals at this temperature
            (:func:`decode_expected` with ``decode_price``), at the minimum's scale.
        decode_price: See :func:`decode_expected`.

    Returns:
        The :class:`DetectionSolution` (empty when labelling nothing is cheapest, or when no
        detection is worth its price).
    """
    k_n, v = prob.n, len(prob.labels)
    base = float(prob.e_fp[1].sum())
    empty = DetectionSolution(np.zeros(0, dtype=np.int64), [], base + prob.empty_energy)
    if k_n == 0 or v == 0:
        return empty
    before, after = _prefix_fp(prob)
    pair = prob.pair_matrix()  # (V, V)
    a_idx, b_idx = np.nonzero(np.isfinite(pair))
    s_n = prob.log_scales.shape[0]
    el = prob.e_label - prob.e_fp[1][:, None]  # relative to the base "everything false"
    start = el + prob.first_cost[None, :] + prob.present_cost[None, :] + before[:, None]
    fwd = np.full((s_n, k_n, v), np.inf)
    back_k = np.full((s_n, k_n, v), -1, dtype=np.int64)
    back_a = np.full((s_n, k_n, v), -1, dtype=np.int64)
    dz = prob.z_mm[None, :] - prob.z_mm[:, None]  # (K', K)
    # (S, K', K, P): gap, skips and presence of every valid label pair
    step = prob.transition_energy(dz[:, :, None], a_idx[None, None, :], b_idx[None, None, :])
    dense = np.full((s_n, k_n, v, v), np.inf)
    for k in range(k_n):
        fwd[:, k, :] = start[k][None, :]
        if k == 0 or a_idx.size == 0:
            continue
        # (S, k, P): from (k', a) to (k, b) over the valid label pairs
        cand = fwd[:, :k, a_idx] + step[:, :k, k, :] + el[k, b_idx]
        sub = dense[:, :k]
        sub[:, :, a_idx, b_idx] = cand
        flat = sub.reshape(s_n, k * v, v)
        arg = np.argmin(flat, axis=1)  # (S, V): flat index of (k', a) per b
        best = np.take_along_axis(flat, arg[:, None, :], axis=1)[:, 0, :]
        better = best < fwd[:, k, :]
        fwd[:, k, :] = np.where(better, best, fwd[:, k, :])
        kp, ap = np.divmod(arg, v)
        back_k[:, k, :] = np.where(better, kp, -1)
        back_a[:, k, :] = np.where(better, ap, -1)
    total = (
        fwd
        + (prob.last_cost[None, None, :] + after[None, :, None])
        + prob.scale_cost[:, None, None]
    )
    si, ki, vi = np.unravel_index(int(np.argmin(total)), total.shape)
    best_e = base + float(total[si, ki, vi])
    if not best_e < empty.energy:
        return empty
    ks, vs = [int(ki)], [int(vi)]
    while back_k[si, ks[-1], vs[-1]] >= 0:
        pk, pa = back_k[si, ks[-1], vs[-1]], back_a[si, ks[-1], vs[-1]]
        ks.append(int(pk))
        vs.append(int(pa))
    ks.reverse()
    vs.reverse()
    k_arr, v_arr = np.array(ks, dtype=np.int64), np.array(vs, dtype=np.int64)
    if decode_temperature is not None:
        marg = _marginals(prob, int(si), pair, start, el, after, decode_temperature)
        k_arr, v_arr = decode_expected(marg, pair, decode_price)
        if k_arr.size == 0:
            return empty
        best_e = prob.energy(k_arr.tolist(), [prob.labels[i] for i in v_arr])
    conf = _marginals(prob, int(si), pair, start, el, after, temperature)[k_arr, v_arr]
    return DetectionSolution(
        k_arr,
        [prob.labels[i] for i in v_arr],
        best_e,
        np.clip(conf, 0.0, 1.0),
        float(prob.log_scales[si]),
    )


def decode_expected(
    marginals: NDArray[np.float64], pair: NDArray[np.float64], price: float = DECODE_PRICE
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The consistent labelling with the most expected right labels (minimum Bayes risk).

    Maximizes ``sum(marginals[k_i, v_i] - price)`` over chains ``k_1 < k_2 < ...`` (sorted
    detections) with labels ``v_1 < v_2 < ...`` whose every transition ``v_i -> v_i+1`` is
    allowed (``pair`` finite), by dynamic programming. Unlike the minimum-energy labelling this
    weighs every reading by its probability: the identification rate counts right labels.

    Args:
        marginals: ``(K, V)`` posterior probability that sorted detection k is label v.
        pair: ``(V, V)`` transition energies (:meth:`DetectionProblem.pair_matrix`); only
            whether they are finite matters.
        price: Cost of labelling a detection, in expected right labels (>= 0).

    Returns:
        ``(k, v)``: ascending detection indices and their label indices; empty when no
        detection's marginal exceeds ``price``.
    """
    m = np.asarray(marginals, dtype=np.float64)
    k_n, v = m.shape
    allowed = np.isfinite(pair)
    gain = m - price
    best = gain.copy()  # best total of a chain ending with (k, v)
    back = np.full((k_n, v, 2), -1, dtype=np.int64)
    for k in range(1, k_n):
        # (k', a, b): extend the best chain ending at (k', a) by (k, b)
        cand = np.where(allowed[None], best[:k, :, None], -np.inf).reshape(k * v, v)
        arg = np.argmax(cand, axis=0)
        val = cand[arg, np.arange(v)]
        better = val > 0.0
        best[k] = np.where(better, val + gain[k], gain[k])
        back[k, better, 0], back[k, better, 1] = np.divmod(arg[better], v)
    ki, vi = np.unravel_index(int(np.argmax(best)), best.shape)
    if not best[ki, vi] > 0.0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ks, vs = [int(ki)], [int(vi)]
    while back[ks[-1], vs[-1], 0] >= 0:
        prev = back[ks[-1], vs[-1]]
        ks.append(int(prev[0]))
        vs.append(int(prev[1]))
    return np.array(ks[::-1], dtype=np.int64), np.array(vs[::-1], dtype=np.int64)


def logsumexp(
    x: NDArray[np.float64], axis: int | tuple[int, ...] | None = None
) -> NDArray[np.float64]:
    """log(sum(exp(x))) over ``axis``; -inf where every term is -inf (a lean scipy equivalent)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return np.asarray(np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))


def _marginals(
    prob: DetectionProblem,
    si: int,
    pair: NDArray[np.float64],
    start: NDArray[np.float64],
    el: NDArray[np.float64],
    after: NDArray[np.float64],
    temperature: float = 1.0,
) -> NDArray[np.float64]:
    """``(K, V)`` posterior P(sorted detection k has label v) at scale index ``si``
    (forward-backward over ``exp(-E / temperature)``)."""
    k_n, v = prob.n, len(prob.labels)
    ls = prob.log_scales[si : si + 1]
    sub = replace(prob, log_scales=ls, scale_cost=np.zeros(1))
    # trans[k', k, a, b]: energy of moving from (k', a) to (k, b), excluding e_label[k, b]
    d = prob.z_mm[None, :] - prob.z_mm[:, None]  # (K', K)
    ar = np.arange(v)
    a2, b2 = np.meshgrid(ar, ar, indexing="ij")
    valid = np.isfinite(pair)
    g = np.full((k_n, k_n, v, v), np.inf)
    g[:, :, valid] = sub.transition_energy(
        d[:, :, None], a2[valid][None, None, :], b2[valid][None, None, :]
    )[0]
    trans = g
    upper = np.triu(np.ones((k_n, k_n), dtype=bool), 1)
    trans = np.where(upper[:, :, None, None], trans, np.inf)
    trans = np.where(np.isfinite(trans), trans, np.inf)
    t = float(temperature)
    neg = -trans / t
    start, el, after = start / t, el / t, after / t
    alpha = np.full((k_n, v), -np.inf)  # log-sum over paths ending at (k, v), incl. e_label
    for k in range(k_n):
        inc = logsumexp(alpha[:k, :, None] + neg[:k, k], axis=(0, 1)) if k else np.full(v, -np.inf)
        alpha[k] = np.logaddexp(-start[k], inc - el[k])
    end = -(prob.last_cost[None, :] / t + after[:, None])  # (K, V)
    beta = np.full((k_n, v), -np.inf)  # log-sum over continuations from (k, v), excl. e_label[k]
    for k in range(k_n - 1, -1, -1):
        nxt = beta[k + 1 :] - el[k + 1 :]  # (K-k-1, V)
        cont = (
            logsumexp(neg[k, k + 1 :] + nxt[:, None, :], axis=(0, 2))
            if k + 1 < k_n
            else np.full(v, -np.inf)
        )
        beta[k] = np.logaddexp(end[k], cont)
    log_z = np.logaddexp(logsumexp(alpha + end), -prob.empty_energy / t)
    return np.asarray(np.exp(alpha + beta - log_z))


def solve_wang(prob: DetectionProblem, temperature: float = 1.0) -> DetectionSolution:
    """The paper's Algorithm 1 (:func:`~spinelab.postprocess.chain.optimize_chain`) on this energy.

    The signals are ``Q_v(k) = e_fp_mid[k] - e_label[k, v]`` (lambda off: every label counts the
    same, the learned end priors take the anchors' role) and the regularizer hook returns the
    rest of :meth:`DetectionProblem.energy` (gaps with the scale, end priors, skip/presence
    costs, end false positives), so the optimizer minimizes the same energy as :func:`solve_dp`
    but without skips and by local search. Confidence: ``exp(-(E_2 - E_1))``-based margin
    against the best labelling shifted by one level, ``1 / (1 + exp(-(E_shift - E) / T))``
    (``T`` = ``temperature``).
    """
    from spinelab.postprocess.chain import ChainConfig, optimize_chain

    k_n = prob.n
    base = float(prob.e_fp[1].sum())
    if k_n == 0:
        return DetectionSolution(np.zeros(0, dtype=np.int64), [], base + prob.empty_energy)
    # chain.py wants strictly ascending z; break ties by a negligible amount
    z = prob.z_mm + 1e-6 * np.arange(k_n)
    q = (prob.e_fp[1][None, :] - prob.e_label.T).copy()  # (V, K)
    q_hat = q.max(axis=0)
    labels = list(prob.labels)
    # transitional labels that the priors do not have: forbid (chain.py would derive them)
    for t in ("T13", "L6"):
        if t not in labels:
            prev = [x for x in labels if anatomy.chain_index(x) < anatomy.chain_index(t)]
            labels.insert(len(prev), t)
            q = np.insert(q, len(prev), -1e3, axis=0)
    zpos = {float(x): i for i, x in enumerate(z)}

    def regularizer(pos: NDArray[np.float64], names: Sequence[str]) -> float:
        kk = [zpos[float(x)] for x in pos]
        if any(x not in prob.labels for x in names):
            return 1e6
        data = sum(
            prob.e_fp[1][k] - prob.e_label[k, prob.labels.index(x)] for k, x in zip(kk, names)
        )
        return prob.energy(kk, names) - base + data

    cfg = ChainConfig(use_lambda=False, allow_transitional=True, init_min_height=-np.inf)
    init = np.flatnonzero(q_hat > 0)
    if init.size == 0:
        init = np.array([int(np.argmax(q_hat))])
    sol = optimize_chain(q, q_hat, z, labels, cfg, regularizer=regularizer, init_k=init)
    energy = base + sol.energy
    empty_e = base + prob.empty_energy
    if not energy < empty_e or len(sol.labels) == 0:
        return DetectionSolution(np.zeros(0, dtype=np.int64), [], empty_e)
    # margin-based confidence against the same detections shifted by one level either way
    idx = [prob.labels.index(x) for x in sol.labels]
    alts = []
    for sh in (-1, 1):
        j = [i + sh for i in idx]
        if min(j) >= 0 and max(j) < len(prob.labels):
            alts.append(prob.energy(sol.k.tolist(), [prob.labels[i] for i in j]))
    alt = min(alts) if alts else math.inf
    margin = (alt - energy) / temperature
    c = 1.0 / (1.0 + math.exp(-min(margin, 50.0))) if math.isfinite(alt) else 1.0
    return DetectionSolution(
        np.asarray(sol.k, dtype=np.int64), list(sol.labels), energy, np.full(len(idx), c)
    )


# ----------------------------------------------------------------------------------------------
# Entry point


def label_detections(
    body_mm: NDArray[np.float64],
    segment_scores: NDArray[np.float64],
    priors: DetectionPriors,
    left_mm: NDArray[np.float64] | None = None,
    right_mm: NDArray[np.float64] | None = None,
    config: DetectionLabelConfig = DetectionLabelConfig(),
    source: dict[str, object] | None = None,
    net: DetectionNet | str | None = "default",
) -> Centroids:
    """Label vertebra-body detections; false ones are dropped.

    Args:
        body_mm: ``(N, 3)`` body detections, LPS mm.
        segment_scores: ``(N, 3)`` unnormalized C/T/L scores (NaN where absent).
        priors: Learned priors (:func:`~spinelab.postprocess.detection_priors.default_priors`).
        left_mm, right_mm: Pedicle points ``(L, 3)``, ``(R, 3)`` LPS mm, or None.
        config: Settings (solver, ...).
        source: Stored as the centroids' ``source``.
        net: The learned chain model (:mod:`~spinelab.postprocess.detection_net`): "default"
            (the bundled one), a :class:`DetectionNet`, or None (not used; as with
            ``config.net_weight = 0``). Left out for scans with more body detections than
            ``config.net_max_detections``.

    Returns:
        Centroids at the positions of the detections judged true, labels consecutive in chain
        order (up to missed vertebrae), confidence per vertebra (see the solver), ``method``
        naming the solver, ``extra`` with the energy, the scale, the dropped detections and
        whether the chain model was used (``chain_model``) and the decoder (``decoder``).
    """
    if isinstance(net, str):
        if net != "default":
            raise ValueError(f"net must be 'default', a DetectionNet or None, not {net!r}")
        net = default_detection_net() if config.net_weight > 0 else None
    if config.pedicle_candidates:
        body, scores, n_det = with_pedicle_candidates(body_mm, segment_scores, left_mm, right_mm)
    else:
        body = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
        scores = np.asarray(segment_scores, dtype=np.float64).reshape(-1, 3)
        n_det = body.shape[0]
    if config.net_max_detections is not None and n_det > config.net_max_detections:
        net = None  # a whole-spine chain: outside most of the chain model's training data
    prob = build_problem(body, scores, priors, left_mm, right_mm, config, net)
    if body.shape[0] > n_det:
        is_cand = prob.order >= n_det
        prob.e_label[is_cand] += config.candidate_energy
    use_net = net is not None and config.net_weight > 0
    t = config.confidence_temperature if use_net else config.confidence_temperature_without_net
    if config.solver == "dp":
        expected = config.decoder == "expected"
        sol = solve_dp(
            prob, t, config.decode_temperature if expected else None, config.decode_price
        )
    else:
        sol = solve_wang(prob, t)
    idx = prob.order[sol.k] if sol.k.size else np.zeros(0, dtype=np.int64)
    dropped = sorted(set(range(n_det)) - {int(i) for i in idx})
    return Centroids(
        list(sol.labels),
        body[idx],
        sol.confidence,
        dict(source) if source is not None else None,
        METHOD_NAMES[config.solver],
        {
            "energy": sol.energy,
            "scale": math.exp(sol.log_scale),
            "dropped_detections": dropped,
            "n_detections": n_det,
            "from_pedicles": int(np.sum(idx >= n_det)),
            "chain_model": use_net,
            "decoder": config.decoder if config.solver == "dp" else "map",
        },
    )
