"""Benchmark: does a heatmap network trained only on synthetic CT find vertebrae on real CT?

The synthetic generator (issue: "a network trained only on it works on real CT") is checked
here the direct way, at probe scale on 2 CPU cores: a small 3-D U-Net
(:mod:`spinelab.nets.heatmap`) is trained on cases of :func:`spinelab.synth.generator.
generate_case`, 240 with default settings (random field of view, grid, orientation, physics)
and 240 of the domain-randomized style (``SynthConfig(style="randomized")``, SynthSeg-like
intensities; each image scaled by its own percentiles, ``HeatmapNetConfig(intensity="image")``:
this mix beat CT-only training and the mix with 120 on the real scans, RESULTS.md), to
regress the 26 Gaussian heatmaps of Yang et al. 2017 on a 4 mm LPS grid; Wang et al. 2021's
post-processing (:func:`spinelab.postprocess.wang.label_heatmaps`) turns the maps into
labelled centroids. It is then run, unchanged, on

* held-out synthetic cases (other seeds), and
* the real torso CT of ``../shared/data/ct/totalsegmentator_example`` (3 mm, T10 to the
  pelvis): references are the body centres of T12-L5 in its model-made vertebra masks
  (:func:`spinelab.evaluation.masks.body_centroids`; T11 is cut by the scan's top and the
  sacrum's mask holds S1-S5, so neither is scored), and the real CT crop of
  ``../shared/data/ct/tptbox_l3_crop`` (L3 only, its mask's body centre).

Scored with the SpineWeb protocol (20 mm), and label-free: the distance from each reference
centre to the nearest peak of the summed maps. The network is a probe, not a shipped model: it
is far smaller and trained far shorter than a real one; the figure to read is the gap between
synthetic and real cases.

Usage::

    .venv/bin/python benchmarks/synth_to_real.py [--cache DIR] [--n-train 240] [--minutes 35]
        [--train-seed S] [--n-randomized 240] [--intensity image|hu] [--checkpoint PT]
        [--no-write]

Training cases are cached in ``--cache`` (default ``/tmp/spinelab_synth_to_real``) as
``.npz`` files (CT resampled to the network's grid, int16 HU, with the centroids), so a rerun
with the same seeds reuses them. Prints the tables and replaces this script's section of
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.io.atomic import write_text_atomic
from spinelab.preprocess import resample_lps
from spinelab.structures import Centroids, Volume, apply_affine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN = "<!-- synth_to_real:begin -->"
END = "<!-- synth_to_real:end -->"
SHARED = ROOT.parent / "shared" / "data" / "ct"
REAL_CT = SHARED / "totalsegmentator_example" / "ct.nii.gz"
REAL_LABELS = SHARED / "totalsegmentator_example" / "vertebra_labels_model.nii.gz"
#: TotalSegmentator ids of the scored vertebrae in that file (../shared/data/README.md).
REAL_IDS = {"T12": 32, "L1": 31, "L2": 30, "L3": 29, "L4": 28, "L5": 27}
CROP_CT = SHARED / "tptbox_l3_crop"
#: VerSe id of L3 in the crop's mask.
CROP_L3_ID = 22
TRAIN_SEED = 2026
TEST_SEED = 7
log = logging.getLogger("synth_to_real")


def synth_config(kind: str) -> Any:
    """The generator's settings of a case set: "default" (``SynthConfig()``) or "like_real"
    (thoraco-lumbar, made as the real example CT was: ``realism.LIKE_REAL_EXAMPLE``)."""
    from spinelab.synth.generator import SynthConfig
    from spinelab.synth.realism import LIKE_REAL_EXAMPLE

    if kind == "default":
        return SynthConfig()
    if kind == "like_real":
        return SynthConfig(fov="thoracolumbar", **LIKE_REAL_EXAMPLE)
    if kind == "randomized":
        return SynthConfig(style="randomized")
    raise ValueError(f"unknown case set {kind!r}")


def _cache_one(args: tuple[str, int, int, str, float]) -> str:
    """Make case ``index`` of run ``seed`` and store it on the network's grid."""
    from spinelab.synth.generator import case_seed, generate_case

    kind, seed, index, out, spacing = args
    stem = "case" if kind == "default" else f"case_{kind}"
    path = Path(out) / f"{stem}_{seed}_{index:04d}.npz"
    if path.is_file():
        return str(path)
    case = generate_case(case_seed(seed, index), synth_config(kind))
    vol = resample_lps(case.ct, spacing, cval=-1024.0)
    c = case.centroids
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        ct=np.clip(np.rint(vol.array), -1024, 32767).astype(np.int16),
        affine=vol.affine_lps,
        labels=np.array(c.labels),
        positions=c.positions_mm,
    )
    tmp.replace(path)
    return str(path)


def make_cache(
    seed: int, n: int, cache: Path, spacing: float, workers: int, kind: str = "default"
) -> list[Path]:
    """Cases ``0 .. n-1`` of run ``seed`` (settings ``kind``, :func:`synth_config`) in
    ``cache`` (made where missing)."""
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(kind, seed, i, str(cache), spacing) for i in range(n)]
    t0 = time.perf_counter()
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            paths = list(pool.imap(_cache_one, jobs))
    else:
        paths = [_cache_one(j) for j in jobs]
    log.info("%d %s cases of seed %d ready in %.0f s", n, kind, seed, time.perf_counter() - t0)
    return [Path(p) for p in paths]


def load_case(path: Path) -> tuple[NDArray[np.int16], NDArray[np.float64], Centroids]:
    """A cached case: CT (int16 HU on the network's grid), its affine, its centroids."""
    z = np.load(path)
    return z["ct"], z["affine"], Centroids([str(x) for x in z["labels"]], z["positions"])


def peaks_mm(
    maps: NDArray[np.float32], affine: NDArray[np.float64], rel: float = 0.3
) -> NDArray[np.float64]:
    """Local maxima (3x3x3) of the summed maps above ``rel`` times its maximum, LPS mm."""
    from scipy import ndimage

    s = maps.sum(axis=0)
    if not np.any(s > 0):
        return np.zeros((0, 3))
    peak = (s == ndimage.maximum_filter(s, size=3)) & (s > rel * s.max())
    return apply_affine(affine, np.argwhere(peak))


def strongest_channels(
    maps: NDArray[np.float32],
    affine: NDArray[np.float64],
    truth: Centroids,
    labels: tuple[str, ...],
) -> list[str]:
    """For each true centre, the two channels answering most strongly there (linear
    interpolation), e.g. ``"L2: L1 0.33, L2 0.03"``: which level the network reads it as,
    before any labelling."""
    from scipy import ndimage

    ijk = apply_affine(np.linalg.inv(affine), truth.positions_mm)
    out = []
    for (name, _), p in zip(truth, ijk, strict=True):
        v = np.array([ndimage.map_coordinates(m, p[:, None], order=1)[0] for m in maps])
        top = np.argsort(v)[::-1][:2]
        out.append(f"{name}: " + ", ".join(f"{labels[t]} {v[t]:.2f}" for t in top))
    return out


def score(
    net: Any, volume: Volume, truth: Centroids
) -> tuple[Any, NDArray[np.float64], float, Centroids, list[str]]:
    """Run the network and Wang's labelling on one CT; SpineWeb evaluation, the distance from
    each true centre to the nearest peak of the summed maps, the seconds taken, the labelling
    and :func:`strongest_channels`."""
    from spinelab.evaluation.metrics import evaluate_case
    from spinelab.nets.heatmap import predict_heatmaps
    from spinelab.postprocess.wang import label_heatmaps

    t0 = time.perf_counter()
    maps, affine = predict_heatmaps(net, volume)
    pred = label_heatmaps(maps, affine)
    sec = time.perf_counter() - t0
    pk = peaks_mm(maps, affine)
    d = np.array(
        [
            float(np.min(np.linalg.norm(pk - x, axis=1))) if len(pk) else np.inf
            for x in truth.positions_mm
        ]
    )
    reads = strongest_channels(maps, affine, truth, net.config.labels)
    return evaluate_case(pred, truth, protocol="spineweb"), d, sec, pred, reads


def sagittal_panel(
    ax: Any, net: Any, volume: Volume, truth: Centroids, pred: Centroids, title: str
) -> None:
    """The network's input grid on the sagittal plane through the true centres (bone window),
    the summed maps over it (colour), true centres (white) and labelled predictions (red)."""
    from scipy import ndimage

    from spinelab.nets.heatmap import predict_heatmaps

    grid = resample_lps(volume, net.config.spacing_mm, cval=-1024.0)
    maps, affine = predict_heatmaps(net, volume)
    x_mm = float(np.median(truth.positions_mm[:, 0]))
    i = round((x_mm - float(grid.affine_lps[0, 3])) / float(grid.affine_lps[0, 0]))
    i = min(max(i, 0), grid.shape[0] - 1)
    img = grid.array[i]  # (Y, Z)
    yy, zz = np.meshgrid(np.arange(grid.shape[1]), np.arange(grid.shape[2]), indexing="ij")
    world = grid.ijk_to_world(np.stack([np.full(yy.shape, i), yy, zz], axis=-1))
    ijk = apply_affine(np.linalg.inv(affine), world)
    heat = ndimage.map_coordinates(maps.sum(axis=0), np.moveaxis(ijk, -1, 0), order=1)
    y0, z0 = grid.affine_lps[1, 3], grid.affine_lps[2, 3]
    sp = net.config.spacing_mm
    ext = (
        y0 - sp / 2,
        y0 + sp * (grid.shape[1] - 0.5),
        z0 - sp / 2,
        z0 + sp * (grid.shape[2] - 0.5),
    )
    ax.imshow(img.T, cmap="gray", vmin=-450, vmax=1050, origin="lower", extent=ext)
    ax.imshow(
        np.ma.masked_less(heat.T, 0.1),
        cmap="autumn",
        alpha=0.45,
        origin="lower",
        extent=ext,
        vmin=0.0,
        vmax=max(float(heat.max()), 1e-6),
    )
    t = truth.positions_mm
    ax.plot(t[:, 1], t[:, 2], "o", mfc="none", mec="w", ms=7)
    for name, p in pred:
        ax.plot(p[1], p[2], "r+", ms=7)
        ax.text(p[1] + 12, p[2], name, color="r", fontsize=7, va="center")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("y (mm, posterior ->)", fontsize=7)
    ax.set_ylabel("z (mm, superior ^)", fontsize=7)
    ax.tick_params(labelsize=6)


def write_figure(
    path: Path, net: Any, panels: list[tuple[str, Volume, Centroids, Centroids]]
) -> None:
    """One sagittal panel per image (:func:`sagittal_panel`) in one PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spinelab.io.atomic import atomic_path

    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 5.2), squeeze=False)
    for ax, (title, vol, truth, pred) in zip(axes[0], panels):
        sagittal_panel(ax, net, vol, truth, pred, title)
    fig.suptitle(
        "synth_to_real probe: summed heatmaps (colour), true centres (white), "
        "labelled predictions (red)",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path, force=True) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def real_cases() -> list[tuple[str, Volume, Centroids]]:
    """The real CTs with reference body centres (empty where ../shared/data is absent)."""
    from spinelab.evaluation.masks import body_centroids
    from spinelab.io.images import read_image

    out = []
    if REAL_CT.is_file() and REAL_LABELS.is_file():
        ref = body_centroids(read_image(REAL_LABELS), {v: k for k, v in REAL_IDS.items()})
        out.append(("real torso CT (TotalSegmentator example, 3 mm)", read_image(REAL_CT), ref))
    crop_ct = CROP_CT / "sub-ct_label-22_ct.nii.gz"
    crop_lab = CROP_CT / "sub-ct_seg-vert_label-22_msk.nii.gz"
    if crop_ct.is_file() and crop_lab.is_file():
        ref = body_centroids(read_image(crop_lab), {CROP_L3_ID: "L3"})
        if ref.labels:
            out.append(("real CT crop (TPTBox L3, 1.5 mm)", read_image(crop_ct), ref))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/spinelab_synth_to_real"))
    ap.add_argument("--n-train", type=int, default=240)
    ap.add_argument("--n-test", type=int, default=20)
    ap.add_argument("--n-like-real", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=35.0, help="training time")
    ap.add_argument("--train-seed", type=int, default=0, help="torch init and crop sampling")
    ap.add_argument(
        "--n-randomized",
        type=int,
        default=240,
        help="add this many cases of the randomized style (SynthSeg-like) to the training set",
    )
    ap.add_argument(
        "--intensity",
        choices=("hu", "image"),
        default="image",
        help="HeatmapNetConfig.intensity: a fixed HU window, or each image's own percentiles",
    )
    ap.add_argument("--checkpoint", type=Path, default=None, help="evaluate this one, no training")
    ap.add_argument("--cache-only", action="store_true", help="make the cached cases and stop")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    ap.add_argument(
        "--figure",
        type=Path,
        default=ROOT / "benchmarks" / "figures" / "synth_to_real.png",
        help="sagittal views of the maps on the real CT and on a like-real synthetic case",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    from spinelab.evaluation.metrics import aggregate
    from spinelab.nets.heatmap import (
        HeatmapNet,
        HeatmapNetConfig,
        TrainingCase,
        load_checkpoint,
        save_checkpoint,
        train,
    )

    torch.set_num_threads(max(1, args.workers))
    train_paths = make_cache(TRAIN_SEED, args.n_train, args.cache, 4.0, args.workers)
    rand_paths = make_cache(
        TRAIN_SEED + 1, args.n_randomized, args.cache, 4.0, args.workers, "randomized"
    )
    test_paths = make_cache(TEST_SEED, args.n_test, args.cache, 4.0, args.workers)
    like_paths = make_cache(
        TEST_SEED + 1, args.n_like_real, args.cache, 4.0, args.workers, "like_real"
    )
    if args.cache_only:
        return 0
    t_start = time.perf_counter()
    if args.checkpoint is not None:
        net, info = load_checkpoint(args.checkpoint)
    else:
        cfg = HeatmapNetConfig(intensity=args.intensity)
        cases = [TrainingCase(*load_case(p)) for p in train_paths + rand_paths]
        torch.manual_seed(args.train_seed)
        net = HeatmapNet(cfg)
        losses = train(net, cases, seconds=60.0 * args.minutes, seed=args.train_seed)
        info = {
            "trained_on": f"{len(cases)} synthetic cases, spinelab.synth.generator.generate_case"
            f"(case_seed({TRAIN_SEED}, i), SynthConfig()), i < {len(train_paths)}"
            + (
                f", and {len(rand_paths)} of SynthConfig(style='randomized') (case_seed("
                f"{TRAIN_SEED + 1}, i))"
                if rand_paths
                else ""
            ),
            "train_seed": args.train_seed,
            "iterations": len(losses),
            "minutes": args.minutes,
            "final_loss": float(np.mean(losses[-50:])),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"),
        }
        mix = (f"_rand{len(rand_paths)}" if rand_paths else "") + (
            "_image" if args.intensity == "image" else ""
        )
        ck = args.cache / f"heatmap_probe_seed{args.train_seed}{mix}.pt"
        save_checkpoint(net, ck, info, force=True)
        log.info("checkpoint %s", ck)
    lines = [
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node() or 'host'}, "
        f"{args.workers} CPU threads, no GPU (Python {platform.python_version()}, "
        f"torch {torch.__version__})",
        "",
        f"Network: `spinelab.nets.heatmap.HeatmapNet` ({sum(p.numel() for p in net.parameters()):,} "
        f"weights), {info['trained_on']}; {info['iterations']} iterations of "
        f"{net.config.batch_size} crops of {net.config.crop_vox}^3 voxels at "
        f"{net.config.spacing_mm:g} mm, intensity scaling '{net.config.intensity}' "
        f"({info['minutes']:g} min, training seed "
        f"{info.get('train_seed', 'not recorded')}, final loss "
        f"{info['final_loss']:.5f}). Labelling: `label_heatmaps` (Wang 2021, default method). "
        "SpineWeb protocol, 20 mm; 'peak within 10 / 20 mm' = share of true centres with a local "
        "maximum of the summed maps that close (no labels needed).",
        "",
        "| test set | scans | vertebrae | id rate % | mean error mm | peak within 10 mm % "
        "| peak within 20 mm % | median distance to a peak mm | s/scan |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows: list[tuple[str, list[Any], list[NDArray[np.float64]], list[float]]] = []
    for title, paths in (
        (f"synthetic, held out (seed {TEST_SEED}, default settings)", test_paths),
        (
            f"synthetic, held out (seed {TEST_SEED + 1}), made like the real torso CT "
            "(thoraco-lumbar, 3 mm, soft kernel, no contrast)",
            like_paths,
        ),
    ):
        syn_cases, syn_d, syn_t = [], [], []
        for p in paths:
            ct, aff, truth = load_case(p)
            ev, d, sec, _, _ = score(net, Volume(ct, aff), truth)
            syn_cases.append(ev)
            syn_d.append(d)
            syn_t.append(sec)
        rows.append((title, syn_cases, syn_d, syn_t))
    panels = []
    if like_paths:
        ct, aff, truth = load_case(like_paths[0])
        _, _, _, pred, _ = score(net, Volume(ct, aff), truth)
        panels.append(
            (f"synthetic like the real CT ({like_paths[0].stem})", Volume(ct, aff), truth, pred)
        )
    per_real = []
    for name, vol, ref in real_cases():
        ev, d, sec, pred, reads = score(net, vol, ref)
        rows.append((name, [ev], [d], [sec]))
        per_real.append((name, ref, pred, ev, reads))
        if "torso" in name:
            panels.insert(0, ("real torso CT (TotalSegmentator example)", vol, ref, pred))
    for name, evs, ds, ts in rows:
        s = aggregate(evs).regions["all"]
        d = np.concatenate(ds)
        err = float(np.mean(s.errors_mm)) if len(s.errors_mm) else float("nan")
        line = (
            f"| {name} | {len(evs)} | {s.n} | {100 * s.id_rate:.1f} | {err:.1f} "
            f"| {100 * np.mean(d <= 10):.1f} | {100 * np.mean(d <= 20):.1f} "
            f"| {np.median(d):.1f} | {np.mean(ts):.1f} |"
        )
        print(line, flush=True)
        lines.append(line)
    lines.append("")
    for name, _ref, pred, ev, reads in per_real:
        got = ", ".join(
            f"{v.label} {'identified' if v.identified else 'missed'}"
            + (f" ({v.error_mm:.1f} mm)" if np.isfinite(v.error_mm) else "")
            for v in ev.vertebrae
        )
        labels = " ".join(pred.labels) or "none"
        line = (
            f"- {name}: predicted {labels}; reference {got}. Strongest channels at the "
            f"reference centres: {'; '.join(reads)}."
        )
        print(line, flush=True)
        lines.append(line)
    if panels and not args.no_write:
        write_figure(args.figure, net, panels)
        lines.append(f"- Figure: `{args.figure.relative_to(ROOT)}` (sagittal views).")
    lines.append(f"- Total run time {time.perf_counter() - t_start:.0f} s.")
    if not args.no_write:
        replace_section(lines)
    return 0


def replace_section(lines: list[str]) -> None:
    """Replace (or append) this script's section of RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else ""
    body = "\n".join(
        [
            "## Synthetic to real: a probe network (benchmarks/synth_to_real.py)",
            "",
            BEGIN,
            *lines,
            END,
        ]
    )
    if BEGIN in text and END in text:
        head = text[: text.index(BEGIN)]
        head = head[: head.rindex("## ")]
        tail = text[text.index(END) + len(END) :]
        text = head + body + tail
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    write_text_atomic(RESULTS, text, force=True)


if __name__ == "__main__":
    sys.exit(main())
