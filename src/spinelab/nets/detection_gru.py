"""The chain model of vertebra detections (torch side): architecture, training, export.

Inference is numpy (:class:`spinelab.postprocess.detection_net.DetectionNet`); this module
defines the same network in torch, trains it on VID scans (detections with their ground truth)
and exports its weights. ``scripts/fit_detection_net.py`` runs it on the fit split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from spinelab.io.vid import VidScan
from spinelab.postprocess.detection_net import (
    FEATURE_NAMES,
    DetectionNet,
    DetectionNetConfig,
    node_features,
)
from spinelab.postprocess.detection_priors import match_detections, unannotated_detections
from spinelab.postprocess.detections import centerline_positions, with_pedicle_candidates

log = logging.getLogger(__name__)


class DetectionGRU(nn.Module):
    """Linear + ReLU, a bidirectional GRU stack, dropout, linear to the classes."""

    def __init__(self, n_features: int, n_classes: int, config: DetectionNetConfig) -> None:
        super().__init__()
        h = config.hidden
        self.inp = nn.Sequential(nn.Linear(n_features, h), nn.ReLU())
        self.gru = nn.GRU(
            h,
            h,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(2 * h, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, F)`` features (padded at the end; ``lengths`` per sequence) -> logits."""
        h = self.inp(x)
        if lengths is None:
            o = self.gru(h)[0]
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                h, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            o = nn.utils.rnn.pad_packed_sequence(
                self.gru(packed)[0], batch_first=True, total_length=x.shape[1]
            )[0]
        return self.out(self.drop(o))


@dataclass
class ChainSample:
    """One training scan as the labeller sees it, clean and augmented.

    Attributes:
        name: Scan id.
        variants: ``(x, y)`` pairs: ``(K, F)`` node features and ``(K,)`` class targets; the
            first is the scan as it is, the others augmented (:func:`augment`).
    """

    name: str
    variants: list[tuple[NDArray[np.float32], NDArray[np.int64]]]


#: Target of a node without a label (padding, a vertebra the ground truth leaves unlabelled).
IGNORE = -100


def augment(det: VidScan, rng: np.random.Generator) -> VidScan:
    """A plausible other detector output for the same scan, so that the network does not learn
    the VID detector's habits too closely (it rarely misses an interior vertebra and nearly
    always finds pedicles): positions scaled by 0.9-1.1 about their centre (body size), one or
    two interior body detections dropped (p 0.4), all pedicles dropped (p 0.2) or each one
    with p 0.3 (p 0.2), a false body detection 25-70 mm from a true one with another
    detection's scores (p 0.3), segment scores multiplied by log-normal noise (sd 0.3)."""
    body = det.body_mm.copy()
    scores = det.segment_scores.copy()
    left, right = det.left_mm.copy(), det.right_mm.copy()
    n = body.shape[0]
    center = body.mean(axis=0) if n else np.zeros(3)
    scale = rng.uniform(0.9, 1.1)
    body, left, right = (center + scale * (p - center) for p in (body, left, right))
    if n > 3 and rng.random() < 0.4:
        order = np.argsort(-body[:, 2])
        drop = rng.choice(order[1:-1], size=min(n - 3, int(rng.integers(1, 3))), replace=False)
        keep = np.setdiff1d(np.arange(n), drop)
        body, scores = body[keep], scores[keep]
    u = rng.random()
    if u < 0.2:
        left, right = left[:0], right[:0]
    elif u < 0.4:
        left = left[rng.random(left.shape[0]) > 0.3]
        right = right[rng.random(right.shape[0]) > 0.3]
    if body.shape[0] and rng.random() < 0.3:
        d = rng.normal(size=3)
        fp = body[rng.integers(body.shape[0])] + d / np.linalg.norm(d) * rng.uniform(25, 70)
        body = np.vstack([body, fp])
        scores = np.vstack([scores, scores[rng.integers(scores.shape[0])]])
    scores = scores * np.exp(rng.normal(0.0, 0.3, scores.shape))
    return VidScan(body, [None] * body.shape[0], scores, left, right)


def _sequence(
    det: VidScan, gt: VidScan, labels: Sequence[str], match_radius_mm: float
) -> tuple[NDArray[np.float32], NDArray[np.int64]] | None:
    body, scores, _ = with_pedicle_candidates(
        det.body_mm, det.segment_scores, det.left_mm, det.right_mm
    )
    if body.shape[0] == 0:
        return None
    order, z = centerline_positions(body)
    x = node_features(body[order], scores[order], det.left_mm, det.right_mm, z)
    m = match_detections(body[order], gt.body_mm, match_radius_mm)
    false = len(labels)
    y = np.array(
        [
            labels.index(gt.body_levels[j])  # type: ignore[arg-type]
            if j >= 0 and gt.body_levels[j] in labels
            else false
            for j in m
        ],
        dtype=np.int64,
    )
    # a vertebra the ground truth leaves unlabelled (e.g. T13): no target (ignored by the loss)
    named = [i for i, x in enumerate(gt.body_levels) if x is not None]
    gt_levels = [str(gt.body_levels[i]) for i in named]
    # match indices refer to all ground-truth points; only "unmatched" matters here
    y[unannotated_detections(body[order], gt_levels, gt.body_mm[named], m)] = IGNORE
    return x.astype(np.float32), y


def scan_sample(
    name: str,
    det: VidScan,
    gt: VidScan,
    labels: Sequence[str],
    config: DetectionNetConfig,
) -> ChainSample | None:
    """Node features of a scan's detections (as the labeller sees them: with the bodies implied
    by pedicles, in chain order) and their targets: the matched ground-truth label's class, or
    ``len(labels)`` (false detection), or ``IGNORE`` for a vertebra the ground truth leaves
    unlabelled (:func:`~spinelab.postprocess.detection_priors.unannotated_detections`); plus ``config.n_augmented`` augmented copies (seeded by
    the scan id and ``config.seed``). None when the scan has no detection."""
    clean = _sequence(det, gt, labels, config.match_radius_mm)
    if clean is None:
        return None
    rng = np.random.default_rng([config.seed, *name.encode("utf-8")])
    variants = [clean]
    while len(variants) < 1 + config.n_augmented:
        v = _sequence(augment(det, rng), gt, labels, config.match_radius_mm)
        if v is not None:
            variants.append(v)
    return ChainSample(name, variants)


def _batches(
    items: list[ChainSample], size: int, clean_share: float, rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Shuffled padded batches; each scan clean with probability ``clean_share``, else one of
    its augmented copies."""
    idx = rng.permutation(len(items))
    for i in range(0, len(idx), size):
        sel = []
        for j in idx[i : i + size]:
            v = items[j].variants
            pick = 0 if len(v) == 1 or rng.random() < clean_share else rng.integers(1, len(v))
            sel.append(v[pick])
        t = max(len(y) for _, y in sel)
        x = np.zeros((len(sel), t, len(FEATURE_NAMES)), np.float32)
        y = np.full((len(sel), t), IGNORE, np.int64)
        for b, (xs, ys) in enumerate(sel):
            x[b, : len(ys)] = xs
            y[b, : len(ys)] = ys
        yield torch.from_numpy(x), torch.from_numpy(y), torch.tensor([len(ys) for _, ys in sel])


def train_one(
    items: list[ChainSample], n_classes: int, config: DetectionNetConfig, seed: int
) -> DetectionGRU:
    """Train one network (cross-entropy over all nodes, AdamW, cosine schedule)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = DetectionGRU(len(FEATURE_NAMES), n_classes, config)
    opt = torch.optim.AdamW(
        net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    for epoch in range(config.epochs):
        net.train()
        total = 0.0
        for x, y, lengths in _batches(items, config.batch_size, config.clean_share, rng):
            opt.zero_grad()
            out = net(x, lengths)
            loss = loss_fn(out.reshape(-1, n_classes), y.reshape(-1))
            loss.backward()
            opt.step()
            total += float(loss.item())
        sched.step()
        log.debug("seed %d epoch %d loss %.4f", seed, epoch, total)
    net.eval()
    return net


def export(nets: Sequence[DetectionGRU]) -> tuple[dict[str, NDArray[np.float64]], ...]:
    """Weights of trained networks as numpy dicts (the ``state_dict`` names)."""
    return tuple(
        {k: v.detach().cpu().numpy().astype(np.float64) for k, v in n.state_dict().items()}
        for n in nets
    )


def train_detection_net(
    items: list[ChainSample],
    labels: Sequence[str],
    config: DetectionNetConfig | None = None,
    meta: dict[str, object] | None = None,
) -> DetectionNet:
    """Train the ensemble on ``items`` (``config``: defaults when None) and return it as a
    numpy :class:`DetectionNet`."""
    config = config or DetectionNetConfig()
    n_classes = len(labels) + 1
    nets = [train_one(items, n_classes, config, config.seed + i) for i in range(config.n_models)]
    return DetectionNet(tuple(labels), export(nets), config, dict(meta or {}))
