"""Tests of the centerline / rectification and of the Wang 2021 pipeline and its ablations."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.postprocess import simulate, wang
from spinelab.postprocess.centerline import (
    CenterlineConfig,
    centerline_from_points,
    compute_centerline,
    long_axis,
    rectified_grid_mm,
    rectify,
    unrectify,
    world_to_rectified,
)
from spinelab.structures import Centroids

VOXEL_MM = 3.0
#: Default settings with a 4 mm cross-section grid (4x cheaper rectification) for the tests
#: that are about labelling rather than sub-voxel accuracy.
FAST = replace(
    wang.WangConfig(), centerline=replace(wang.WangConfig().centerline, inplane_step_mm=4.0)
)


def _curved_spine(labels: list[str], gap_mm: float = 26.0) -> Centroids:
    """Centroids on a curved (scoliotic + lordotic) spine, cranial first, LPS mm."""
    pts = []
    z = 0.0
    for _ in labels:
        pts.append([12.0 * np.sin(z / 90.0), 25.0 * np.cos(z / 110.0), z])
        z -= gap_mm
    return Centroids(labels, np.array(pts))


def _rotation(deg_x: float, deg_z: float) -> np.ndarray:
    ax, az = np.radians(deg_x), np.radians(deg_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


def _grid(
    points: np.ndarray, codes: str, oblique: bool = False
) -> tuple[tuple[int, int, int], np.ndarray]:
    shape, aff = simulate.grid_around(points, VOXEL_MM, 45.0, codes)
    if oblique:  # rotate the grid about the points' centre by a few degrees
        c = points.mean(axis=0)
        r = _rotation(8.0, 12.0)
        aff = aff.copy()
        aff[:3, :3] = r @ aff[:3, :3]
        aff[:3, 3] = r @ (aff[:3, 3] - c) + c
    return shape, aff


AFFINES = [("LPS", False), ("RAS", False), ("PIR", False), ("SRA", False), ("ILP", True)]


def test_long_axis_follows_the_affine() -> None:
    pts = np.array([[0.0, 0, 0], [0, 0, -100]])
    assert long_axis(simulate.grid_around(pts, 2.0, 10.0, "LPS")[1]) == 2
    assert long_axis(simulate.grid_around(pts, 2.0, 10.0, "PIR")[1]) == 1
    assert long_axis(simulate.grid_around(pts, 2.0, 10.0, "SRA")[1]) == 0


def test_frame_is_orthonormal_and_anterior() -> None:
    gt = _curved_spine(list(anatomy.STANDARD_LABELS[8:20]))
    cl = centerline_from_points(gt.positions_mm, 2.0)
    for e in (cl.e1, cl.e2, cl.e3):
        assert np.allclose(np.linalg.norm(e, axis=1), 1.0)
    assert np.allclose(np.sum(cl.e1 * cl.e2, axis=1), 0.0, atol=1e-9)
    assert np.allclose(np.sum(cl.e2 * cl.e3, axis=1), 0.0, atol=1e-9)
    assert np.allclose(np.cross(cl.e1, cl.e2), cl.e3)
    assert np.all(cl.e2[:, 1] < -0.9)  # anterior is -y in LPS
    assert np.all(cl.e3[:, 2] < 0)  # cranial to caudal
    assert np.allclose(np.linalg.norm(np.diff(cl.points_mm, axis=0), axis=1), 2.0, atol=0.05)


def test_world_to_rectified_inverts_unrectify() -> None:
    gt = _curved_spine(list(anatomy.STANDARD_LABELS[8:20]))
    cl = centerline_from_points(gt.positions_mm, 2.0)
    rng = np.random.default_rng(0)
    length = cl.t_mm[-1]
    rect = np.column_stack(
        [rng.uniform(-30, 30, 60), rng.uniform(-30, 30, 60), rng.uniform(1, length - 1, 60)]
    )
    world = unrectify(cl, rect)
    back = world_to_rectified(cl, world)
    assert np.max(np.abs(back - rect)) < 1e-3
    assert np.allclose(unrectify(cl, back), world, atol=1e-3)


@pytest.mark.parametrize(("codes", "oblique"), AFFINES)
def test_rectify_then_unrectify_within_half_a_voxel(codes: str, oblique: bool) -> None:
    labels = list(anatomy.STANDARD_LABELS[10:19])  # T4..T12
    gt = _curved_spine(labels)
    shape, aff = _grid(gt.positions_mm, codes, oblique)
    maps = simulate.gaussian_heatmaps(gt, shape, aff, sigma_mm=6.0)
    cfg = CenterlineConfig(step_mm=1.0, inplane_step_mm=1.0, half_width_mm=20.0)
    cl = compute_centerline(maps.sum(axis=0), aff, cfg)
    assert cl is not None
    off = rectified_grid_mm(cfg)
    std = list(anatomy.STANDARD_LABELS)
    for name, true_mm in list(gt)[::2]:
        rect = rectify(maps[std.index(name)], aff, cl, cfg)  # (N, N, T)
        i, j, t = np.unravel_index(int(np.argmax(rect)), rect.shape)
        # activation-weighted centroid of the peak's neighbourhood, in rectified mm
        win = rect[max(i - 3, 0) : i + 4, max(j - 3, 0) : j + 4, max(t - 3, 0) : t + 4]
        xs = off[max(i - 3, 0) : i + 4]
        ys = off[max(j - 3, 0) : j + 4]
        ts = cl.t_mm[max(t - 3, 0) : t + 4]
        m = win.sum()
        est = np.array(
            [
                (win.sum(axis=(1, 2)) * xs).sum() / m,
                (win.sum(axis=(0, 2)) * ys).sum() / m,
                (win.sum(axis=(0, 1)) * ts).sum() / m,
            ]
        )
        assert np.linalg.norm(unrectify(cl, est) - true_mm) < 0.5 * VOXEL_MM, name


@pytest.mark.parametrize(("codes", "oblique"), AFFINES)
def test_full_method_recovers_clean_spine_exactly(codes: str, oblique: bool) -> None:
    labels = list(anatomy.STANDARD_LABELS[14:26])  # T8..S2
    gt = _curved_spine(labels, gap_mm=30.0)
    shape, aff = _grid(gt.positions_mm, codes, oblique)
    maps = simulate.gaussian_heatmaps(gt, shape, aff)
    base = wang.WangConfig()
    cfg = replace(base, centerline=replace(base.centerline, inplane_step_mm=VOXEL_MM))
    pred = wang.label_heatmaps(maps * 37.0, aff, config=cfg)  # arbitrary scale
    assert pred.labels == labels
    assert np.max(np.linalg.norm(pred.positions_mm - gt.positions_mm, axis=1)) < 0.5 * VOXEL_MM
    assert pred.method == "wang2021:base+rect+optim"
    assert pred.confidence is not None and np.all(pred.confidence > 0.5)


def _labels_consecutive(labels: list[str]) -> bool:
    idx = [anatomy.chain_index(x) for x in labels]
    return all(
        b > a and all(v.transitional for v in anatomy.CHAIN[a + 1 : b])
        for a, b in itertools.pairwise(idx)
    )


@pytest.fixture(scope="module")
def corrupted() -> tuple[Centroids, np.ndarray, np.ndarray]:
    labels = list(anatomy.STANDARD_LABELS[15:24])  # T9..L5
    gt = _curved_spine(labels, gap_mm=28.0)
    shape, aff = simulate.grid_around(gt.positions_mm, 4.0, 25.0, "RAS")
    maps = simulate.gaussian_heatmaps(
        gt, shape, aff, corruption=simulate.LEVELS["moderate"], rng=np.random.default_rng(1)
    )
    return gt, maps, aff


@pytest.mark.parametrize("method", wang.METHODS)
def test_each_ablation_runs_on_a_corrupted_spine(
    method: str, corrupted: tuple[Centroids, np.ndarray, np.ndarray]
) -> None:
    gt, maps, aff = corrupted
    pred = wang.label_heatmaps(maps, aff, method, FAST)
    assert pred.method == f"wang2021:{method}"
    assert len(pred) > 0 and pred.confidence is not None
    assert np.all((pred.confidence >= 0) & (pred.confidence <= 1))
    if "order" in method or "optim" in method:
        assert _labels_consecutive(pred.labels)
    n_ok = sum(lab in pred and np.linalg.norm(pred.position(lab) - p) < 10.0 for lab, p in gt)
    assert n_ok >= len(gt) // 2  # every method finds most of a moderately corrupted spine


@pytest.mark.parametrize("seed", range(2))
def test_optim_beats_base_under_neighbour_responses(seed: int) -> None:
    labels = list(anatomy.STANDARD_LABELS[12:25])  # T6..S1
    gt = _curved_spine(labels, gap_mm=28.0)
    shape, aff = simulate.grid_around(gt.positions_mm, 4.0, 30.0, "LPS")
    corr = simulate.Corruption(p_neighbour=0.5, neighbour_amplitude=(0.9, 1.2), p_missing=0.1)
    maps = simulate.gaussian_heatmaps(
        gt, shape, aff, corruption=corr, rng=np.random.default_rng(seed)
    )
    sig = wang.rectify_heatmaps(maps, aff, FAST)

    def n_ok(pred: Centroids) -> int:
        return sum(lab in pred and np.linalg.norm(pred.position(lab) - p) < 10.0 for lab, p in gt)

    optim = wang.label_signals(sig, "base+rect+optim", FAST)
    assert _labels_consecutive(optim.labels)
    assert n_ok(optim) >= n_ok(wang.label_heatmaps(maps, aff, "base", FAST))
    assert n_ok(optim) >= n_ok(wang.label_signals(sig, "base+rect", FAST))
    assert n_ok(optim) >= len(labels) - 4


def test_transitional_l6_is_labelled() -> None:
    labels = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "L6", "S1"]
    gt = _curved_spine(labels, gap_mm=30.0)
    shape, aff = _grid(gt.positions_mm, "LPS")
    maps = simulate.gaussian_heatmaps(gt, shape, aff)
    pred = wang.label_heatmaps(maps, aff, config=FAST)
    assert pred.labels == labels
    assert np.max(np.linalg.norm(pred.positions_mm - gt.positions_mm, axis=1)) < 3.0


def test_bad_inputs_and_empty_maps() -> None:
    aff = np.eye(4)
    with pytest.raises(ValueError, match=r"\(26, X, Y, Z\)"):
        wang.label_heatmaps(np.zeros((25, 4, 4, 4)), aff)
    with pytest.raises(ValueError, match="unknown method"):
        wang.label_heatmaps(np.zeros((26, 4, 4, 4)), aff, "magic")
    with pytest.raises(ValueError, match="invertible"):
        wang.label_heatmaps(np.zeros((26, 4, 4, 4)), np.zeros((4, 4)))
    for m in wang.METHODS:
        assert len(wang.label_heatmaps(np.zeros((26, 4, 4, 4)), aff, m)) == 0


def test_postprocess_never_imports_torch() -> None:
    code = (
        "import sys, spinelab.postprocess, spinelab.postprocess.wang, "
        "spinelab.postprocess.chain, spinelab.postprocess.centerline, "
        "spinelab.postprocess.simulate, spinelab.postprocess.peaks\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paper_settings_also_recover_a_clean_spine() -> None:
    labels = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "T1", "T2"]
    gt = _curved_spine(labels, gap_mm=18.0)
    shape, aff = simulate.grid_around(gt.positions_mm, VOXEL_MM, 30.0, "RAS")
    maps = simulate.gaussian_heatmaps(gt, shape, aff, sigma_mm=4.0)
    cfg = wang.WangConfig.paper()
    assert cfg.floor == 0 and not cfg.chain.contraction and not cfg.chain.expand_ends
    for method in ("base+rect+order", "base+rect+optim"):
        pred = wang.label_heatmaps(maps, aff, method, cfg)
        assert pred.labels == labels
        assert np.max(np.linalg.norm(pred.positions_mm - gt.positions_mm, axis=1)) < VOXEL_MM


@pytest.mark.shared_data
def test_full_method_on_real_vid_spines(vid_dir) -> None:  # type: ignore[no-untyped-def]
    from spinelab.io.vid import read_vid

    files = sorted((vid_dir / "ground_truth").glob("*.json"))
    rng = np.random.default_rng(7)
    done = 0
    for i in rng.permutation(len(files)):
        gt = read_vid(files[int(i)]).centroids()
        if len(gt) < 6 or any(anatomy.by_name(x).transitional for x in gt.labels):
            continue
        shape, aff = simulate.grid_around(gt.positions_mm, 4.0, 30.0, "PIR")
        pred = wang.label_heatmaps(simulate.gaussian_heatmaps(gt, shape, aff), aff, config=FAST)
        assert pred.labels == gt.labels, files[int(i)].name
        assert np.max(np.linalg.norm(pred.positions_mm - gt.positions_mm, axis=1)) < 2.0
        done += 1
        if done == 3:
            break
    assert done == 3
