"""A small 3-D U-Net that regresses the 26 vertebra heatmaps (torch; MONAI's ``UNet``).

The input is a CT resampled onto an LPS-aligned isotropic grid
(:func:`spinelab.preprocess.resample_lps`, ``HeatmapNetConfig.spacing_mm``), its intensities
clipped and scaled to [-1, 1] (:func:`intensity_levels`: a fixed HU window, or each image's own
percentiles for networks trained on domain-randomized images as in SynthSeg). A strided stem
halves the grid, MONAI's residual U-Net works on the half-resolution grid, and a 1x1x1 head
gives one map per standard label (:data:`spinelab.anatomy.STANDARD_LABELS`, C1..S2) on that
half-resolution grid: Gaussians of ``sigma_mm`` at the vertebral-body centres, as in Yang et
al. 2017 (T13 and L6 answer at half strength in both neighbours' channels,
:func:`spinelab.postprocess.simulate.gaussian_heatmaps`).
:func:`output_affine` maps the output's voxels to world mm, so the maps go straight into
:func:`spinelab.postprocess.wang.label_heatmaps`.

This is the network of ``benchmarks/synth_to_real.py`` (a probe of the synthetic data's
realism), sized for CPU training; the settings travel inside every checkpoint
(:func:`save_checkpoint`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.networks.nets import UNet
from numpy.typing import NDArray
from torch import nn

from spinelab import anatomy
from spinelab.io.atomic import atomic_path
from spinelab.postprocess.simulate import gaussian_heatmaps
from spinelab.preprocess import resample_lps
from spinelab.structures import Centroids, Volume, apply_affine

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "spinelab-heatmap-net-v1"
#: HU outside the scan (padding).
AIR_HU = -1024.0
#: Values of ``HeatmapNetConfig.intensity``.
INTENSITY_MODES = ("hu", "image")


@dataclass(frozen=True)
class HeatmapNetConfig:
    """Architecture, preprocessing and training settings (saved inside checkpoints).

    Attributes:
        spacing_mm: Input grid (isotropic, LPS-aligned); the maps come out at twice this.
        intensity: How an image is scaled to [-1, 1] (:func:`intensity_levels`): ``"hu"``
            clips HU to ``hu_range``; ``"image"`` clips each image to its own
            ``image_percentiles`` (of the voxels above :data:`AIR_HU`, i.e. inside the scan),
            so intensities in arbitrary units (``SynthConfig(style="randomized")``) and CT in
            HU are read the same way.
        hu_range: HU window of ``intensity="hu"``.
        image_percentiles: Percentiles of ``intensity="image"``.
        sigma_mm: Sigma of the target Gaussians.
        stem_channels: Channels of the strided stem (and of the U-Net's output).
        channels: Channels of the U-Net's levels (each but the last halves the grid again).
        res_units: Residual units per U-Net block.
        crop_vox: Training crops are this many input voxels along each axis.
        batch_size, learning_rate, weight_decay: AdamW.
        foreground_weight: The squared error of a voxel is weighted ``1 + foreground_weight *
            t`` where ``t`` is its largest target value (the maps are mostly zero).
        spine_crop_share: Share of training crops centred near a vertebra (the others anywhere).
        labels: The maps' channels, in order (C1..S2).
    """

    spacing_mm: float = 4.0
    intensity: str = "hu"
    hu_range: tuple[float, float] = (-1000.0, 2000.0)
    image_percentiles: tuple[float, float] = (1.0, 99.5)
    sigma_mm: float = 8.0
    stem_channels: int = 16
    channels: tuple[int, ...] = (32, 64, 128, 256)
    res_units: int = 2
    crop_vox: int = 64
    batch_size: int = 4
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    foreground_weight: float = 100.0
    spine_crop_share: float = 0.85
    labels: tuple[str, ...] = field(default=anatomy.STANDARD_LABELS)

    def __post_init__(self) -> None:
        if self.intensity not in INTENSITY_MODES:
            raise ValueError(
                f"intensity must be one of {', '.join(INTENSITY_MODES)}, not {self.intensity!r}"
            )

    @property
    def multiple(self) -> int:
        """Input sizes must be multiples of this (the stem and the U-Net's strides)."""
        return 2 ** len(self.channels)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeatmapNetConfig:
        """The inverse of ``dataclasses.asdict`` (tuples restored)."""
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kwargs)


class HeatmapNet(nn.Module):  # type: ignore[misc]
    """Stem (2x2x2 convolution, stride 2) -> MONAI residual U-Net -> 1x1x1 head."""

    def __init__(self, config: HeatmapNetConfig = HeatmapNetConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.stem_channels
        self.stem = nn.Sequential(nn.Conv3d(1, c, kernel_size=2, stride=2), nn.PReLU())
        self.unet = UNet(
            spatial_dims=3,
            in_channels=c,
            out_channels=c,
            channels=config.channels,
            strides=(2,) * (len(config.channels) - 1),
            num_res_units=config.res_units,
        )
        self.head = nn.Sequential(nn.PReLU(), nn.Conv3d(c, len(config.labels), kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, X, Y, Z)`` normalized CT -> ``(B, 26, X/2, Y/2, Z/2)`` maps."""
        return self.head(self.unet(self.stem(x)))  # type: ignore[no-any-return]


def intensity_levels(image: NDArray[Any], config: HeatmapNetConfig) -> tuple[float, float]:
    """The intensities that become -1 and 1 for ``image`` (a whole case, not a crop):
    ``config.hu_range``, or with ``config.intensity == "image"`` the image's own
    ``config.image_percentiles`` over its voxels above :data:`AIR_HU` (padding and the outside
    of a scanner's field of view, often -2048 or -3024 HU, do not count)."""
    if config.intensity == "hu":
        return float(config.hu_range[0]), float(config.hu_range[1])
    a = np.asarray(image)
    inside = a[a > AIR_HU]
    if inside.size == 0:
        return AIR_HU, AIR_HU + 1.0
    lo, hi = np.percentile(inside, config.image_percentiles)
    return float(lo), float(max(hi, lo + 1.0))


def normalize(x: NDArray[Any], levels: tuple[float, float]) -> NDArray[np.float32]:
    """``x`` clipped to ``levels`` and scaled linearly to [-1, 1]."""
    lo, hi = levels
    y = np.clip(np.asarray(x, dtype=np.float32), lo, hi)
    return ((y - lo) * (2.0 / (hi - lo)) - 1.0).astype(np.float32)


def output_affine(input_affine: NDArray[np.float64]) -> NDArray[np.float64]:
    """Affine of the network's output grid given its input's: output voxel ``o`` covers input
    voxels ``2o`` and ``2o + 1`` along each axis (centre ``2o + 0.5``)."""
    s = np.eye(4)
    s[:3, :3] *= 2.0
    s[:3, 3] = 0.5
    return np.asarray(input_affine, dtype=np.float64) @ s


def predict_heatmaps(
    net: HeatmapNet, volume: Volume, device: str = "cpu"
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """The network's maps for a whole CT.

    Args:
        net: A trained network (its config says the grid and the intensity scaling).
        volume: CT in HU, any voxel orientation and spacing.
        device: Torch device.

    Returns:
        ``(26, X, Y, Z)`` non-negative float32 maps and their ``(4, 4)`` LPS affine.
    """
    cfg = net.config
    grid = resample_lps(volume, cfg.spacing_mm, cval=AIR_HU)
    x = normalize(grid.array, intensity_levels(grid.array, cfg))
    m = cfg.multiple
    pad = [(0, (-n) % m) for n in x.shape]
    x = np.pad(x, pad, constant_values=-1.0)
    net.eval()
    with torch.no_grad():
        y = net(torch.from_numpy(x)[None, None].to(device))[0].float().cpu().numpy()
    out_shape = [math.ceil(n / 2) for n in grid.shape]
    y = y[:, : out_shape[0], : out_shape[1], : out_shape[2]]
    return np.maximum(y, 0.0).astype(np.float32), output_affine(grid.affine_lps)


def save_checkpoint(
    net: HeatmapNet, path: str | Path, info: dict[str, Any], force: bool = False
) -> Path:
    """Write the weights with the config and ``info`` (what it was trained on, how long,
    its scores), atomically."""
    with atomic_path(path, force=force) as tmp:
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "config": asdict(net.config),
                "state_dict": net.state_dict(),
                "info": info,
            },
            tmp,
        )
    return Path(path)


def load_checkpoint(path: str | Path) -> tuple[HeatmapNet, dict[str, Any]]:
    """A network and its ``info`` from :func:`save_checkpoint`."""
    ck = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint")
    net = HeatmapNet(HeatmapNetConfig.from_dict(ck["config"]))
    net.load_state_dict(ck["state_dict"])
    return net, dict(ck["info"])


# ----------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainingCase:
    """A CT on the network's input grid with its vertebra centres.

    Attributes:
        ct: ``(X, Y, Z)`` HU on an LPS-aligned grid of ``config.spacing_mm``.
        affine_lps: Its affine.
        centroids: Vertebral-body centres, LPS mm.
    """

    ct: NDArray[Any]
    affine_lps: NDArray[np.float64]
    centroids: Centroids
    _levels: dict[tuple[Any, ...], tuple[float, float]] = field(
        default_factory=dict, init=False, repr=False
    )

    def levels(self, config: HeatmapNetConfig) -> tuple[float, float]:
        """:func:`intensity_levels` of the whole case (computed once per setting)."""
        key = (config.intensity, config.hu_range, config.image_percentiles)
        if key not in self._levels:
            self._levels[key] = intensity_levels(self.ct, config)
        return self._levels[key]


def crop_targets(
    case: TrainingCase, origin: NDArray[np.int64], config: HeatmapNetConfig
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The normalized CT crop of ``config.crop_vox`` voxels from input index ``origin`` (air
    outside the case) and its ``(26, n/2, n/2, n/2)`` target maps."""
    n = config.crop_vox
    x = np.full((n, n, n), AIR_HU, dtype=np.float32)
    lo = np.maximum(origin, 0)
    hi = np.minimum(origin + n, case.ct.shape)
    if np.all(hi > lo):
        x[
            lo[0] - origin[0] : hi[0] - origin[0],
            lo[1] - origin[1] : hi[1] - origin[1],
            lo[2] - origin[2] : hi[2] - origin[2],
        ] = case.ct[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    affine = np.asarray(case.affine_lps, dtype=np.float64).copy()
    affine[:3, 3] += affine[:3, :3] @ origin.astype(np.float64)
    t = gaussian_heatmaps(case.centroids, (n // 2,) * 3, output_affine(affine), config.sigma_mm)
    return normalize(x, case.levels(config)), t


def sample_crop(
    case: TrainingCase, config: HeatmapNetConfig, rng: np.random.Generator
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A random training crop: centred near a random vertebra (``spine_crop_share``; up to a
    quarter crop off) or anywhere in the case; mirrored left-right half the time."""
    n = config.crop_vox
    shape = np.array(case.ct.shape)
    pos = case.centroids.positions_mm
    if len(pos) and rng.random() < config.spine_crop_share:
        c = pos[int(rng.integers(len(pos)))]
        centre = apply_affine(np.linalg.inv(case.affine_lps), c) + rng.uniform(-n / 4, n / 4, 3)
    else:
        centre = rng.uniform(0, shape)
    origin = np.rint(centre - n / 2).astype(np.int64)
    x, t = crop_targets(case, origin, config)
    if rng.random() < 0.5:
        x, t = x[::-1], t[:, ::-1]
    return np.ascontiguousarray(x), np.ascontiguousarray(t)


def heatmap_loss(
    pred: torch.Tensor, target: torch.Tensor, config: HeatmapNetConfig
) -> torch.Tensor:
    """Foreground-weighted mean squared error (see ``HeatmapNetConfig.foreground_weight``)."""
    w = 1.0 + config.foreground_weight * target.amax(dim=1, keepdim=True)
    return (w * (pred - target) ** 2).mean()


def train(
    net: HeatmapNet,
    cases: list[TrainingCase],
    seconds: float,
    seed: int = 0,
    max_iterations: int | None = None,
    log_every: int = 50,
    device: str = "cpu",
) -> list[float]:
    """Train on random crops of ``cases`` for ``seconds`` (or ``max_iterations``), AdamW with
    a cosine schedule over the time budget; returns the loss of every iteration."""
    cfg = net.config
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    t0 = time.perf_counter()
    losses: list[float] = []
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds or (max_iterations is not None and len(losses) >= max_iterations):
            break
        frac = elapsed / seconds
        for g in opt.param_groups:
            g["lr"] = cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * frac))
        batch = [
            sample_crop(cases[int(rng.integers(len(cases)))], cfg, rng)
            for _ in range(cfg.batch_size)
        ]
        x = torch.from_numpy(np.stack([b[0] for b in batch])[:, None]).to(device)
        t = torch.from_numpy(np.stack([b[1] for b in batch])).to(device)
        loss = heatmap_loss(net(x), t, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if log_every and len(losses) % log_every == 0:
            log.info(
                "iteration %d, %.0f s: loss %.5f (mean of the last %d)",
                len(losses),
                time.perf_counter() - t0,
                float(np.mean(losses[-log_every:])),
                log_every,
            )
    net.eval()
    return losses
