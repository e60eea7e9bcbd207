"""The heatmap network (spinelab.nets.heatmap): grids, targets, inference, training, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from spinelab.errors import OutputExistsError  # noqa: E402
from spinelab.nets.heatmap import (  # noqa: E402
    HeatmapNet,
    HeatmapNetConfig,
    TrainingCase,
    crop_targets,
    intensity_levels,
    load_checkpoint,
    output_affine,
    predict_heatmaps,
    save_checkpoint,
    train,
)
from spinelab.structures import Centroids, Volume  # noqa: E402

TINY = HeatmapNetConfig(stem_channels=4, channels=(8, 16), res_units=1, crop_vox=32, batch_size=2)


def _toy_case() -> TrainingCase:
    """Three bright 'bodies' (cubes of 1000 HU) in water on a 4 mm LPS grid, labelled L3-L5."""
    ct = np.zeros((40, 40, 48), dtype=np.int16)
    affine = np.diag([4.0, 4.0, 4.0, 1.0])
    affine[:3, 3] = (-80.0, -80.0, 0.0)
    centres = []
    for k in (12, 24, 36):
        ct[17:23, 17:23, k - 3 : k + 3] = 1000
        centres.append(affine[:3, :3] @ np.array([19.5, 19.5, k - 0.5]) + affine[:3, 3])
    # cranial first: L3 at the largest z
    return TrainingCase(ct, affine, Centroids(["L3", "L4", "L5"], np.array(centres[::-1])))


def test_output_affine_maps_the_half_grid() -> None:
    a = np.diag([4.0, 4.0, 4.0, 1.0])
    a[:3, 3] = (10.0, 20.0, 30.0)
    o = output_affine(a)
    # output voxel 0 is the centre of input voxels 0 and 1; voxel 1 that of 2 and 3
    assert np.allclose(o @ [0, 0, 0, 1], [12.0, 22.0, 32.0, 1.0])
    assert np.allclose(o @ [1, 1, 1, 1], [20.0, 30.0, 40.0, 1.0])


def test_crop_targets_peak_at_the_centres() -> None:
    case = _toy_case()
    origin = np.array([4, 4, 8])
    x, t = crop_targets(case, origin, TINY)
    assert x.shape == (32, 32, 32) and t.shape == (26, 16, 16, 16)
    assert x.min() >= -1.0 and x.max() <= 1.0
    crop_affine = case.affine_lps.copy()
    crop_affine[:3, 3] += crop_affine[:3, :3] @ origin
    out = output_affine(crop_affine)
    for name, pos in case.centroids:
        ch = TINY.labels.index(name)
        ijk = np.unravel_index(int(np.argmax(t[ch])), t[ch].shape)
        world = out[:3, :3] @ np.array(ijk) + out[:3, 3]
        assert np.linalg.norm(world - pos) <= np.sqrt(3) * 4.0 + 1e-6, name
        assert t[ch].max() > 0.5
    # channels of vertebrae not in the case stay empty; outside the case the crop is air
    assert t[TINY.labels.index("C1")].max() == 0.0
    x2, _ = crop_targets(case, np.array([-20, 0, 0]), TINY)
    assert np.all(x2[:10] == -1.0)  # air, clipped to the range's floor


def test_predict_heatmaps_shape_and_grid() -> None:
    torch.manual_seed(0)
    net = HeatmapNet(TINY)
    # an odd-sized, RAS-ordered volume: resampled, padded, cropped back
    vol = Volume(np.zeros((37, 29, 45), dtype=np.int16), np.diag([-3.0, -3.0, 3.0, 1.0]))
    maps, affine = predict_heatmaps(net, vol)
    grid_shape = [int(np.floor((n - 1) * 3.0 / 4.0 + 1e-6)) + 1 for n in (37, 29, 45)]
    assert maps.shape == (26, *[(n + 1) // 2 for n in grid_shape])
    assert maps.dtype == np.float32 and maps.min() >= 0.0
    assert np.allclose(affine[:3, :3], np.diag([8.0, 8.0, 8.0]))


def test_image_intensity_reads_other_units_the_same_way() -> None:
    """``intensity="image"``: a case and the same case in other units (a linear map, as the
    randomized synthetic style makes) give the same network input and the same maps; the fixed
    HU window does not."""
    image_cfg = HeatmapNetConfig(**{**TINY.__dict__, "intensity": "image"})
    case = _toy_case()
    rng = np.random.default_rng(0)
    ct = case.ct.astype(np.float32) + rng.normal(0.0, 20.0, case.ct.shape).astype(np.float32)
    units = 0.4 * ct + 700.0  # water at 700, the 'bodies' at 1100
    a, b = (
        TrainingCase(ct, case.affine_lps, case.centroids),
        TrainingCase(units, case.affine_lps, case.centroids),
    )
    lo, hi = intensity_levels(ct, image_cfg)
    assert lo == pytest.approx(np.percentile(ct, 1.0)) and hi == pytest.approx(1000.0, abs=60)
    origin = np.array([2, 2, 6])
    assert np.allclose(crop_targets(a, origin, image_cfg)[0], crop_targets(b, origin, image_cfg)[0])
    assert not np.allclose(crop_targets(a, origin, TINY)[0], crop_targets(b, origin, TINY)[0])
    torch.manual_seed(0)
    net = HeatmapNet(image_cfg)
    m1, _ = predict_heatmaps(net, Volume(ct, case.affine_lps))
    m2, _ = predict_heatmaps(net, Volume(units, case.affine_lps))
    assert np.allclose(m1, m2, atol=1e-5)
    # values at or below AIR_HU (padding, a scanner's outside) do not move the levels
    padded = np.concatenate([np.full((10, 40, 48), -3024.0, np.float32), ct])
    assert intensity_levels(padded, image_cfg) == pytest.approx((lo, hi))
    with pytest.raises(ValueError, match="intensity must be one of"):
        HeatmapNetConfig(intensity="zscore")


def test_training_lowers_the_loss_and_checkpoints_round_trip(tmp_path: Path) -> None:
    case = _toy_case()
    torch.manual_seed(0)
    net = HeatmapNet(TINY)
    losses = train(net, [case], seconds=120.0, seed=1, max_iterations=60, log_every=0)
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    maps, _ = predict_heatmaps(net, Volume(case.ct, case.affine_lps))
    # a checkpoint gives the same network back, with its settings and info
    path = save_checkpoint(net, tmp_path / "net.pt", {"trained_on": "toy"})
    again, info = load_checkpoint(path)
    assert info == {"trained_on": "toy"} and again.config == TINY
    maps2, _ = predict_heatmaps(again, Volume(case.ct, case.affine_lps))
    assert np.allclose(maps, maps2)
    with pytest.raises(OutputExistsError):
        save_checkpoint(net, path, {})


def test_load_refuses_other_files(tmp_path: Path) -> None:
    p = tmp_path / "x.pt"
    torch.save({"format": "something else"}, p)
    with pytest.raises(ValueError, match="not a spinelab-heatmap-net"):
        load_checkpoint(p)
