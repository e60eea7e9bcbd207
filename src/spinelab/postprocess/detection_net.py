"""A learned chain model of vertebra detections: message passing along the spine (numpy inference).

The binned segment likelihoods of :mod:`~spinelab.postprocess.detection_priors` look at one
detection at a time. Along the thoraco-lumbar junction that is not enough: whether a vertebra
is T12 or L1 shows in the pattern of its neighbours' segment scores, gaps, pedicle spans and
the curve's bend together. Like the message passing of Yang et al. 2017 (a bidirectional
ConvLSTM along the vertebra chain) and the graph network of the VID dataset's authors (Bürgin
et al. 2023), a small bidirectional GRU runs along the detections in chain order and gives,
for every detection, the posterior over the labels and "false detection".

Its log-posteriors enter the labeller's energy as an extra unary term (``net_weight`` in
:class:`~spinelab.postprocess.detections.DetectionLabelConfig`); the optimizer, the gap model
and the consecutiveness constraint stay as they are, so the labelling stays consistent.

This module is pure numpy: the weights (trained with torch by ``scripts/fit_detection_net.py``
on the fit split of the VID data, see :mod:`spinelab.nets.detection_gru`) are stored in
``spinelab/data/detection_net.npz`` + ``.json`` with the training settings and provenance.

Node features (:func:`node_features`, ``FEATURE_NAMES``), per detection in chain order:
segment evidence (log L/T and log C/T score ratios, the normalized scores, whether there are
any: candidates implied by pedicles have none), the gaps to the previous and next detection
(mm, and relative to the scan's median gap), the position in the chain (arc length from the
first and to the last detection, relative position, number of detections, median gap),
pedicles (left/right found within ``PEDICLE_RADIUS_MM``, their span, relative to the scan's
median span, the distance from the body point to the pedicles' midpoint and its component
along the chain), the bend of the chain (second difference of the positions along LPS x and y),
its direction (the chain's unit tangent in LPS: how the patient lies and how the spine curves
there), the offset from the straight line through the first and last detection (LPS x and y:
where in the lordosis or kyphosis it lies), the detector's largest score (its confidence) and
the distance to the nearest other body detection (double detections).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import atomic_path, write_text_atomic
from spinelab.io.jsonfile import read_stem_json

#: ``format`` field of the JSON file.
NET_FORMAT = "spinelab-detection-net-v1"
#: Stem of the bundled weights in ``spinelab/data``.
DEFAULT_NET_NAME = "detection_net"
#: Pedicle points within this distance of a body point belong to it (mm).
PEDICLE_RADIUS_MM = 40.0
#: Version of :func:`node_features`; stored with the weights, checked on load.
FEATURE_VERSION = 2
FEATURE_NAMES: tuple[str, ...] = (
    "log_L_over_T",
    "log_C_over_T",
    "has_scores",
    "score_C",
    "score_T",
    "score_L",
    "gap_prev_30mm",
    "log_gap_prev_over_median",
    "gap_next_30mm",
    "log_gap_next_over_median",
    "has_prev",
    "has_next",
    "arc_from_first_100mm",
    "arc_to_last_100mm",
    "arc_relative",
    "n_detections_20",
    "median_gap_30mm",
    "left_pedicle",
    "right_pedicle",
    "pedicle_span_30mm",
    "log_pedicle_span_over_median",
    "body_to_pedicles_30mm",
    "bend_y_10mm",
    "bend_x_10mm",
    "tangent_x",
    "tangent_y",
    "tangent_z",
    "offset_x_from_chord_30mm",
    "offset_y_from_chord_30mm",
    "pedicles_along_axis_10mm",
    "log_max_score",
    "nearest_other_body_30mm",
)


def node_features(
    body_mm: NDArray[np.float64],
    segment_scores: NDArray[np.float64],
    left_mm: NDArray[np.float64] | None,
    right_mm: NDArray[np.float64] | None,
    z_mm: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``(K, F)`` features of detections already sorted in chain order (see the module doc).

    Args:
        body_mm: ``(K, 3)`` body points in chain order (cranial first), LPS mm.
        segment_scores: ``(K, 3)`` their C/T/L scores (NaN rows: none).
        left_mm, right_mm: Pedicle points ``(L, 3)``/``(R, 3)``, LPS mm, or None.
        z_mm: ``(K,)`` arc lengths along the centerline (non-decreasing).
    """
    b = np.asarray(body_mm, dtype=np.float64).reshape(-1, 3)
    s = np.asarray(segment_scores, dtype=np.float64).reshape(-1, 3)
    z = np.asarray(z_mm, dtype=np.float64).reshape(-1)
    k = b.shape[0]
    f = np.zeros((k, len(FEATURE_NAMES)))
    if k == 0:
        return f
    ok = np.all(np.isfinite(s), axis=1)
    ls = np.log(np.maximum(np.where(np.isfinite(s), s, 1.0), 1e-4))
    f[:, 0] = np.where(ok, np.clip(ls[:, 2] - ls[:, 1], -10.0, 10.0) / 5.0, 0.0)
    f[:, 1] = np.where(ok, np.clip(ls[:, 0] - ls[:, 1], -10.0, 10.0) / 5.0, 0.0)
    f[:, 2] = ok
    e = np.exp(ls - ls.max(axis=1, keepdims=True))
    f[:, 3:6] = np.where(ok[:, None], e / e.sum(axis=1, keepdims=True), 0.0)
    dz = np.diff(z)
    med = float(np.median(dz[dz > 5.0])) if np.any(dz > 5.0) else 30.0
    prev = np.concatenate([[np.nan], dz])
    nxt = np.concatenate([dz, [np.nan]])
    for j, g in ((6, prev), (8, nxt)):
        has = np.isfinite(g)
        f[:, j] = np.where(has, g / 30.0, 0.0)
        f[:, j + 1] = np.where(has, np.log(np.maximum(np.nan_to_num(g), 1.0) / med), 0.0)
    f[:, 10] = np.isfinite(prev)
    f[:, 11] = np.isfinite(nxt)
    f[:, 12] = (z - z[0]) / 100.0
    f[:, 13] = (z[-1] - z) / 100.0
    f[:, 14] = (z - z[0]) / max(float(z[-1] - z[0]), 1.0)
    f[:, 15] = k / 20.0
    f[:, 16] = med / 30.0
    sides: list[tuple[NDArray[np.float64], NDArray[np.bool_]] | None] = []
    for col, pts in ((17, left_mm), (18, right_mm)):
        p = np.zeros((0, 3)) if pts is None else np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        if p.shape[0] == 0:
            sides.append(None)
            continue
        d = np.linalg.norm(b[:, None, :] - p[None, :, :], axis=2)
        j = d.argmin(axis=1)
        near = d[np.arange(k), j] < PEDICLE_RADIUS_MM
        f[:, col] = near
        sides.append((p[j], near))
    left_side, right_side = sides
    if left_side is not None and right_side is not None:
        (pl, nl), (pr, nr) = left_side, right_side
        both = nl & nr
        span = np.linalg.norm(pl - pr, axis=1)
        mid = (pl + pr) / 2.0
        med_span = float(np.median(span[both])) if both.any() else 1.0
        f[:, 19] = np.where(both, span / 30.0, 0.0)
        f[:, 20] = np.where(both, np.log(np.maximum(span, 1.0) / max(med_span, 1.0)), 0.0)
        f[:, 21] = np.where(both, np.linalg.norm(mid - b, axis=1) / 30.0, 0.0)
    if k >= 3:
        bend = np.zeros((k, 3))
        bend[1:-1] = b[2:] - 2.0 * b[1:-1] + b[:-2]
        f[:, 22] = bend[:, 1] / 10.0
        f[:, 23] = bend[:, 0] / 10.0
    if k >= 2:
        tangent = np.gradient(b, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-6)
        f[:, 24:27] = tangent
        chord = b[-1] - b[0]
        chord /= max(float(np.linalg.norm(chord)), 1e-6)
        c = b - b[0]
        off = c - (c @ chord)[:, None] * chord[None, :]
        f[:, 27] = off[:, 0] / 30.0
        f[:, 28] = off[:, 1] / 30.0
        if left_side is not None and right_side is not None:
            along = np.sum(((pl + pr) / 2.0 - b) * tangent, axis=1)
            f[:, 29] = np.where(both, along / 10.0, 0.0)
        d = np.linalg.norm(b[:, None, :] - b[None, :, :], axis=2)
        np.fill_diagonal(d, np.inf)
        f[:, 31] = np.minimum(d.min(axis=1), 90.0) / 30.0
    f[:, 30] = np.where(ok, ls.max(axis=1), 0.0)
    return f


# ----------------------------------------------------------------------------------------------
# The network


@dataclass(frozen=True)
class DetectionNetConfig:
    """Architecture and training settings (stored with the weights).

    Attributes:
        hidden: Width of the input layer and of each GRU direction.
        layers: Number of bidirectional GRU layers.
        dropout: Dropout between GRU layers and before the output layer (training only).
        epochs, learning_rate, weight_decay, batch_size: AdamW with a cosine schedule. 80
            epochs: in 2-fold cross-validation on the fit split (benchmarks/RESULTS.md,
            2026-12-06) the labeller's held-out id rate was 94.77 / 94.88 % after 40 epochs,
            95.18 / 95.16 % after 80 (seeds 0 / 1) and 95.00 % after 160 (seed 0), with
            ``t12_absent_rate`` 0.005 in the labeller then.
        n_models: Ensemble size (seeds ``seed .. seed + n_models - 1``); posteriors averaged.
        seed: First seed.
        match_radius_mm: A detection is the ground-truth vertebra it is matched to within this
            distance (optimal one-to-one), otherwise a false detection (training targets).
        n_augmented: Augmented copies per training scan (misses, false detections, missing
            pedicles, body size, score noise: :func:`spinelab.nets.detection_gru.augment`).
        clean_share: Probability that an epoch shows a scan as it is rather than a copy.
    """

    hidden: int = 64
    layers: int = 2
    dropout: float = 0.1
    epochs: int = 80
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    n_models: int = 3
    seed: int = 0
    match_radius_mm: float = 20.0
    n_augmented: int = 7
    clean_share: float = 0.5


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)))


def _gru_direction(
    x: NDArray[np.float64],
    w_ih: NDArray[np.float64],
    w_hh: NDArray[np.float64],
    b_ih: NDArray[np.float64],
    b_hh: NDArray[np.float64],
    reverse: bool,
) -> NDArray[np.float64]:
    """One GRU direction over ``x`` ``(T, I)`` -> ``(T, H)`` (PyTorch's gate order r, z, n)."""
    t_n = x.shape[0]
    h_n = w_hh.shape[1]
    gi = x @ w_ih.T + b_ih  # (T, 3H), all input projections at once
    h = np.zeros(h_n)
    out = np.zeros((t_n, h_n))
    steps = range(t_n - 1, -1, -1) if reverse else range(t_n)
    for t in steps:
        gh = w_hh @ h + b_hh
        r = _sigmoid(gi[t, :h_n] + gh[:h_n])
        u = _sigmoid(gi[t, h_n : 2 * h_n] + gh[h_n : 2 * h_n])
        n = np.tanh(gi[t, 2 * h_n :] + r * gh[2 * h_n :])
        h = (1.0 - u) * n + u * h
        out[t] = h
    return out


@dataclass(frozen=True)
class DetectionNet:
    """Weights of an ensemble of bidirectional-GRU chain models, with numpy inference.

    Attributes:
        labels: Output classes in chain order; one more output, the last, is "false detection".
        weights: ``n_models`` dicts of arrays named as PyTorch's ``state_dict`` of
            :class:`spinelab.nets.detection_gru.DetectionGRU` (``inp.0.weight``,
            ``gru.weight_ih_l0``, ``gru.weight_ih_l0_reverse``, ..., ``out.weight``).
        config: Architecture and training settings.
        meta: Provenance (data, split, scans, date, versions, measured accuracy).
    """

    labels: tuple[str, ...]
    weights: tuple[dict[str, NDArray[np.float64]], ...]
    config: DetectionNetConfig = DetectionNetConfig()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        idx = [anatomy.chain_index(x) for x in self.labels]
        if not self.labels or idx != sorted(idx) or len(set(idx)) != len(idx):
            raise ValueError("labels must be unique and in chain order")
        if not self.weights:
            raise ValueError("a DetectionNet needs at least one set of weights")
        for w in self.weights:
            for name in self._names():
                if name not in w:
                    raise ValueError(f"missing weight {name}")
            if w["out.weight"].shape[0] != len(self.labels) + 1:
                raise ValueError("output layer does not match the labels (+1 false detection)")
            if w["inp.0.weight"].shape[1] != len(FEATURE_NAMES):
                raise ValueError("input layer does not match the node features")

    def _names(self) -> list[str]:
        names = ["inp.0.weight", "inp.0.bias", "out.weight", "out.bias"]
        for layer in range(self.config.layers):
            for sfx in ("", "_reverse"):
                names += [
                    f"gru.{k}_l{layer}{sfx}"
                    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
        return names

    def logits(self, features: NDArray[np.float64], model: int = 0) -> NDArray[np.float64]:
        """``(K, C)`` output logits of ensemble member ``model`` for ``(K, F)`` node features."""
        w = self.weights[model]
        h = np.maximum(
            np.asarray(features, dtype=np.float64) @ w["inp.0.weight"].T + w["inp.0.bias"], 0.0
        )
        for layer in range(self.config.layers):
            outs = []
            for sfx, rev in (("", False), ("_reverse", True)):
                outs.append(
                    _gru_direction(
                        h,
                        w[f"gru.weight_ih_l{layer}{sfx}"],
                        w[f"gru.weight_hh_l{layer}{sfx}"],
                        w[f"gru.bias_ih_l{layer}{sfx}"],
                        w[f"gru.bias_hh_l{layer}{sfx}"],
                        rev,
                    )
                )
            h = np.concatenate(outs, axis=1)
        return np.asarray(h @ w["out.weight"].T + w["out.bias"])

    def log_posteriors(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(K, len(labels) + 1)`` log of the ensemble's mean posterior (last column: false)."""
        x = np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
        if x.shape[0] == 0:
            return np.zeros((0, len(self.labels) + 1))
        p = np.zeros((x.shape[0], len(self.labels) + 1))
        for m in range(len(self.weights)):
            z = self.logits(x, m)
            z = np.exp(z - z.max(axis=1, keepdims=True))
            p += z / z.sum(axis=1, keepdims=True)
        return np.asarray(np.log(np.maximum(p / len(self.weights), 1e-12)))

    # -- files --------------------------------------------------------------------------------

    def save(self, stem: str | os.PathLike[str], force: bool = False) -> tuple[Path, Path]:
        """Write ``STEM.npz`` (weights) and ``STEM.json`` (labels, config, meta) atomically."""
        stem = Path(stem)
        npz, js = stem.with_suffix(".npz"), stem.with_suffix(".json")
        with atomic_path(npz, force=force) as tmp:
            arrays = {
                f"m{i}/{k}": np.asarray(v, dtype=np.float32)
                for i, w in enumerate(self.weights)
                for k, v in w.items()
            }
            np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
        obj = {
            "format": NET_FORMAT,
            "feature_version": FEATURE_VERSION,
            "features": list(FEATURE_NAMES),
            "labels": list(self.labels),
            "n_models": len(self.weights),
            "config": asdict(self.config),
            "arrays": npz.name,
            "meta": self.meta,
        }
        write_text_atomic(js, json.dumps(obj, indent=1) + "\n", force=force)
        return npz, js

    @classmethod
    def load(cls, stem: str | os.PathLike[str]) -> DetectionNet:
        """Read ``STEM.json`` + ``STEM.npz``.

        Raises:
            SpinelabInputError: naming the file, when it is missing, malformed or made for
                other node features.
        """
        obj, js, npz = read_stem_json(stem, NET_FORMAT, "detection-net")
        if obj.get("feature_version") != FEATURE_VERSION:
            raise SpinelabInputError(
                js, f"made for node features v{obj.get('feature_version')}, not v{FEATURE_VERSION}"
            )
        try:
            n_models = int(obj["n_models"])
            with np.load(npz, allow_pickle=False) as z:
                weights = tuple(
                    {
                        k.split("/", 1)[1]: np.asarray(z[k], dtype=np.float64)
                        for k in z.files
                        if k.startswith(f"m{i}/")
                    }
                    for i in range(n_models)
                )
        except FileNotFoundError:
            raise SpinelabInputError(npz, "detection-net weights not found") from None
        except (KeyError, ValueError, OSError) as exc:
            raise SpinelabInputError(npz, f"unreadable detection-net weights ({exc})") from None
        try:
            return cls(
                labels=tuple(anatomy.normalize_name(x) for x in obj["labels"]),
                weights=weights,
                config=DetectionNetConfig(**obj["config"]),
                meta=dict(obj.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError, anatomy.UnknownLabelError) as exc:
            raise SpinelabInputError(js, f"malformed detection net ({exc})") from None


@lru_cache(maxsize=1)
def default_detection_net() -> DetectionNet:
    """The network bundled with spinelab (``spinelab/data/detection_net.*``; read once)."""
    ref = resources.files("spinelab") / "data" / f"{DEFAULT_NET_NAME}.json"
    with resources.as_file(ref) as p:
        return DetectionNet.load(p)
