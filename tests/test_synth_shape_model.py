"""Tests of the statistical spine shape model (spinelab.synth.shape_model)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.errors import OutputExistsError, SpinelabInputError
from spinelab.io.vid import read_vid
from spinelab.synth.geometry import SpineGeometry
from spinelab.synth.shape_model import (
    BLOCKS,
    LINKS,
    ShapeFitConfig,
    SpineShapeModel,
    cobb_angle_deg,
)


@pytest.fixture(scope="module")
def model() -> SpineShapeModel:
    return SpineShapeModel.load_default()


@pytest.fixture(scope="module")
def samples(model: SpineShapeModel) -> list[SpineGeometry]:
    rng = np.random.default_rng(1234)
    out = [model.sample(rng) for _ in range(200)]
    out += [model.sample(rng, transitional="T13") for _ in range(10)]
    out += [model.sample(rng, transitional="L6", scoliosis_deg=60.0) for _ in range(10)]
    out += [model.sample(rng, scale=0.8, scoliosis_deg=90.0) for _ in range(10)]
    return out


def _link_lengths(s: SpineGeometry) -> dict[tuple[str, str], float]:
    d = np.linalg.norm(np.diff(s.centres_mm, axis=0), axis=1)
    return {(a, b): float(x) for a, b, x in zip(s.labels[:-1], s.labels[1:], d)}


# ------------------------------------------------------------------------ fitted on real data
@pytest.mark.shared_data
def test_shipped_model_reproduces_vid_gap_means(model: SpineShapeModel, vid_dir: Path) -> None:
    """Mean distance of each standard link in samples is within 10 % of the VID mean."""
    vid: dict[tuple[str, str], list[float]] = defaultdict(list)
    for f in sorted((vid_dir / "ground_truth").glob("*.json")):
        c = read_vid(f).centroids()
        pos = dict(zip(c.labels, c.positions_mm))
        for a, b in LINKS:
            if a in pos and b in pos:
                vid[(a, b)].append(float(np.linalg.norm(pos[a] - pos[b])))
    rng = np.random.default_rng(7)
    sampled: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(100):
        for k, v in _link_lengths(model.sample(rng, transitional=None)).items():
            sampled[k].append(v)
    checked = 0
    for link, values in vid.items():
        if len(values) < 50:
            continue
        ref, got = float(np.mean(values)), float(np.mean(sampled[link]))
        assert abs(got - ref) / ref < 0.10, (link, ref, got)
        checked += 1
    assert checked == 23  # C1-C2 .. L4-L5 all have >= 60 scans in VID


def test_shipped_model_counts_and_l6_frequency(model: SpineShapeModel) -> None:
    """Per-level counts are recorded; P(L6) uses the scans that show L5 as denominator."""
    g0 = BLOCKS["gap"][0]
    counts = {f"{a}-{b}": int(model.counts[g0 + k]) for k, (a, b) in enumerate(LINKS)}
    assert counts["L1-L2"] > 1500 and counts["C1-C2"] >= 50 and counts["L5-S1"] == 0
    assert model.info["l6_scans"] == 46 and model.info["n_files"] == 1947
    assert model.info["level_scans"]["L6"] == 46 and model.info["level_scans"]["T13"] == 0
    assert model.info["level_scans"]["C1"] >= 50
    assert model.p_l6 == pytest.approx(46 / model.info["scans_with_l5"])
    assert 1700 <= model.info["scans_with_l5"] <= 1947


def test_l6_and_t13_draw_frequency(model: SpineShapeModel) -> None:
    rng = np.random.default_rng(3)
    draws = np.array([model.draw_transitional(rng) for _ in range(40000)])
    for col, p in ((0, model.p_t13), (1, model.p_l6)):
        se = math.sqrt(p * (1 - p) / len(draws))
        assert abs(draws[:, col].mean() - p) < 4 * se
    assert abs(model.p_l6 - 46 / 1947) < 0.01


def test_random_transitional_in_samples(model: SpineShapeModel) -> None:
    """sample(transitional="random") inserts L6/T13 exactly when draw_transitional says so."""
    for seed in range(40):
        t13, l6 = model.draw_transitional(np.random.default_rng([seed, 0]))
        assert isinstance(t13, bool) and isinstance(l6, bool)
    n_l6 = 0
    rng = np.random.default_rng(11)
    for _ in range(200):
        s = model.sample(rng, scoliosis_deg=0)
        n_l6 += "L6" in s.labels
        assert s.attributes["transitional"] == [v for v in s.labels if v in ("T13", "L6")]
    # 200 * 0.0265 = 5.3 expected; a generous binomial window
    assert 1 <= n_l6 <= 14


# ------------------------------------------------------------------------- sample invariants
def test_samples_whole_chain_neighbours_and_order(samples: list[SpineGeometry]) -> None:
    for s in samples:
        assert s.labels[0] == "C1" and s.labels[-1] == "S2"
        core = [v for v in s.labels if not anatomy.by_name(v).transitional]
        assert core == list(anatomy.STANDARD_LABELS)
        assert [anatomy.chain_index(v) for v in s.labels] == sorted(
            anatomy.chain_index(v) for v in s.labels
        )
        step = s.centres_mm[:-1] - s.centres_mm[1:]  # from each vertebra down to the next
        dist = np.linalg.norm(step, axis=1)
        assert np.all(dist >= 8.0) and np.all(dist <= 60.0), dist
        # chain order along the local cranial axis of both neighbours
        assert np.all(np.einsum("ij,ij->i", step, s.frames[:-1, :, 2]) > 0)
        assert np.all(np.einsum("ij,ij->i", step, s.frames[1:, :, 2]) > 0)


def test_frames_orthonormal_right_handed(samples: list[SpineGeometry]) -> None:
    for s in samples:
        f = s.frames
        eye = np.einsum("nji,njk->nik", f, f)
        assert np.allclose(eye, np.eye(3), atol=1e-9)
        assert np.allclose(np.linalg.det(f), 1.0, atol=1e-9)


def test_upright_centred_facing_anterior(samples: list[SpineGeometry]) -> None:
    for s in samples:
        c = s.centres_mm
        assert np.linalg.norm(c.mean(axis=0)) < 1e-6
        c2, s1 = c[s.labels.index("C2")], c[s.labels.index("S1")]
        axis = (c2 - s1) / np.linalg.norm(c2 - s1)
        assert axis[2] > 0.999
        # seen from above, the posterior axes point +y and the left axes +x
        post = np.mean(s.frames[:, :2, 1], axis=0)
        left = np.mean(s.frames[:, :2, 0], axis=0)
        assert post[1] / np.linalg.norm(post) > 0.98
        assert left[0] / np.linalg.norm(left) > 0.98


def test_body_sizes_and_discs_consistent(samples: list[SpineGeometry]) -> None:
    for s in samples:
        h, d = s.body_height_mm, s.disc_height_mm
        gaps = np.linalg.norm(np.diff(s.centres_mm, axis=0), axis=1)
        assert np.allclose((h[:-1] + h[1:]) / 2 + d, gaps, atol=0.05)
        assert np.all(h > 5) and np.all(s.body_width_mm > 10) and np.all(s.body_depth_mm > 5)
        pairs = list(zip(s.labels[:-1], s.labels[1:]))
        for (a, b), disc in zip(pairs, d):
            if (a, b) in (("C1", "C2"), ("S1", "S2")):
                assert disc == 0.0
            else:
                assert disc >= 1.0
        i = {v: k for k, v in enumerate(s.labels)}
        for arr in (h, s.body_width_mm, s.body_depth_mm):
            assert arr[i["C4"]] < arr[i["T6"]] < arr[i["L3"]]
        d_c = np.mean([d[i[f"C{k}"]] for k in range(3, 7)])
        d_l = np.mean([d[i[f"L{k}"]] for k in range(1, 5)])
        assert d_l > d_c


def test_sagittal_curvature_realistic(samples: list[SpineGeometry]) -> None:
    """Medians: cervical and lumbar lordosis, thoracic kyphosis, a forward-tilted sacrum."""
    med = {
        k: float(np.median([s.attributes[k] for s in samples]))
        for k in (
            "cervical_lordosis_deg",
            "thoracic_kyphosis_deg",
            "lumbar_lordosis_deg",
            "sacral_slope_deg",
        )
    }
    assert 0 < med["cervical_lordosis_deg"] < 45, med
    assert 15 < med["thoracic_kyphosis_deg"] < 55, med
    assert 30 < med["lumbar_lordosis_deg"] < 70, med
    # adults standing: about 40 +- 8 degrees (Roussouly et al. 2005); the priors at L5 and S1
    # (15 and 10 degrees of turning) gave a median of 28, now 35
    assert 32 < med["sacral_slope_deg"] < 45, med
    # in the sagittal plane the lumbar spine bulges anteriorly (-y), the thorax posteriorly
    s = samples[0]
    y = {v: s.centres_mm[k, 1] for k, v in enumerate(s.labels)}
    assert y["L3"] < (y["L1"] + y["L5"]) / 2
    assert y["T7"] > (y["T2"] + y["T12"]) / 2


def test_transitional_forced(model: SpineShapeModel) -> None:
    rng = np.random.default_rng(5)
    t13 = model.sample(rng, transitional="T13")
    assert t13.labels[t13.labels.index("T12") + 1] == "T13"
    assert t13.labels[t13.labels.index("T13") + 1] == "L1" and len(t13) == 27
    l6 = model.sample(rng, transitional="L6")
    assert l6.labels[-4:] == ["L5", "L6", "S1", "S2"] and len(l6) == 27
    assert len(model.sample(rng, transitional=None)) == 26
    with pytest.raises(ValueError, match="transitional"):
        model.sample(rng, transitional="L7")


@pytest.mark.parametrize("target", [8.0, 15.0, 30.0, 50.0, 70.0])
def test_scoliosis_cobb_close_to_request(model: SpineShapeModel, target: float) -> None:
    rng = np.random.default_rng(int(target))
    for _ in range(4):
        s = model.sample(rng, scoliosis_deg=target)
        cobb, upper, lower = cobb_angle_deg(s.labels, s.frames)
        assert cobb == pytest.approx(s.attributes["cobb_deg"])
        assert abs(cobb - target) < 2.0, (cobb, s.attributes)
        curve = s.attributes["scoliosis_curve"]
        # the apex of the main curve lies on the convex side of the line joining its ends
        iu, il = s.labels.index(curve["upper"]), s.labels.index(curve["lower"])
        seg = s.centres_mm[iu : il + 1]
        t = np.linspace(0, 1, len(seg))
        dev_x = seg[:, 0] - ((1 - t) * seg[0, 0] + t * seg[-1, 0])
        apex = int(np.argmax(np.abs(dev_x)))
        convex = 1 if curve["convex"] == "left" else -1
        assert np.sign(dev_x[apex]) == convex
        if target >= 30:  # the apical body turns towards the convex side
            anterior = -s.frames[iu + apex][:, 1]
            assert np.sign(anterior[0]) == convex
        assert chain_between(upper, lower)


def chain_between(upper: str, lower: str) -> bool:
    return anatomy.chain_index(upper) < anatomy.chain_index(lower)


def test_scoliosis_rotation_grows_with_cobb(model: SpineShapeModel) -> None:
    """Apical axial rotation is larger in a 60-degree curve than without a curve."""

    def max_rotation(deg: float) -> float:
        s = model.sample(np.random.default_rng(9), scoliosis_deg=deg, transitional=None)
        left = s.frames[:, :, 0]
        return float(np.degrees(np.max(np.abs(np.arctan2(left[:, 1], left[:, 0])))))

    assert max_rotation(60.0) > max_rotation(0.0) + 8.0


def test_scale(model: SpineShapeModel) -> None:
    a = model.sample(np.random.default_rng(2), scale=1.0, scoliosis_deg=0)
    b = model.sample(np.random.default_rng(2), scale=1.2, scoliosis_deg=0)
    assert a.labels == b.labels and b.attributes["scale"] == 1.2
    ga = np.linalg.norm(np.diff(a.centres_mm, axis=0), axis=1)
    gb = np.linalg.norm(np.diff(b.centres_mm, axis=0), axis=1)
    assert np.allclose(gb / ga, 1.2)
    assert np.allclose(b.body_height_mm / a.body_height_mm, 1.2)
    assert np.allclose(b.body_width_mm / a.body_width_mm, 1.2)
    assert np.allclose(b.frames, a.frames)
    with pytest.raises(ValueError, match="scale"):
        model.sample(np.random.default_rng(2), scale=0.0)


def test_determinism(model: SpineShapeModel) -> None:
    a = model.sample(np.random.default_rng(42))
    b = model.sample(np.random.default_rng(42))
    c = model.sample(np.random.default_rng(43))
    assert a.labels == b.labels and a.attributes == b.attributes
    for name in ("centres_mm", "frames", "body_height_mm", "body_width_mm", "disc_height_mm"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.centres_mm[: len(c)], c.centres_mm[: len(a)])
    json.dumps(a.attributes)  # JSON-serializable


# ---------------------------------------------------------------------------- fit, save, load
@pytest.mark.shared_data
def test_fit_subset_save_load_round_trip(vid_dir: Path, tmp_path: Path) -> None:
    m = SpineShapeModel.fit(vid_dir / "ground_truth", ShapeFitConfig(max_files=80))
    assert m.info["n_files"] == 80
    again = SpineShapeModel.fit(vid_dir / "ground_truth", ShapeFitConfig(max_files=80))
    assert np.array_equal(again.corr, m.corr) and np.array_equal(again.mean, m.mean)
    assert np.all(np.isfinite(m.mean)) and np.all(m.std > 0)
    assert np.allclose(np.diag(m.corr), 1.0)
    assert np.all(np.linalg.eigvalsh(m.corr) > 0)
    stem = tmp_path / "model"
    m.save(stem)
    assert (tmp_path / "model.npz").is_file() and (tmp_path / "model.json").is_file()
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["per_link"]["L1-L2"]["scans"] > 50
    back = SpineShapeModel.load(stem)
    for name in ("mean", "std", "corr", "counts", "body_prior_mm", "gap_l5_l6_log"):
        assert np.array_equal(getattr(back, name), getattr(m, name))
    assert back.p_l6 == m.p_l6 and back.log_scale_sigma == m.log_scale_sigma
    s1 = m.sample(np.random.default_rng(0))
    s2 = back.sample(np.random.default_rng(0))
    assert np.array_equal(s1.centres_mm, s2.centres_mm)
    with pytest.raises(OutputExistsError):
        m.save(stem)
    npz_before = (tmp_path / "model.npz").read_bytes()
    m.save(stem, force=True)
    assert (tmp_path / "model.npz").read_bytes() == npz_before  # byte-reproducible


def test_fit_and_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SpinelabInputError, match="folder"):
        SpineShapeModel.fit(tmp_path / "missing")
    with pytest.raises(SpinelabInputError, match=r"no \*\.json"):
        SpineShapeModel.fit(tmp_path)
    with pytest.raises(SpinelabInputError, match="not found"):
        SpineShapeModel.load(tmp_path / "none")
    (tmp_path / "bad.json").write_text('{"format": "something-else"}')
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SpinelabInputError, match="spinelab-spine-shape-model"):
        SpineShapeModel.load(tmp_path / "bad")
    good = SpineShapeModel.load_default()
    good.save(tmp_path / "ok")
    (tmp_path / "ok.npz").write_bytes(b"not a zip")
    with pytest.raises(SpinelabInputError, match=r"ok\.npz"):
        SpineShapeModel.load(tmp_path / "ok")


@pytest.mark.shared_data
def test_fit_rejects_detection_files(vid_dir: Path, tmp_path: Path) -> None:
    src = sorted((vid_dir / "detections").glob("*.json"))[0]
    (tmp_path / src.name).write_text(src.read_text())
    with pytest.raises(SpinelabInputError, match="spine_level"):
        SpineShapeModel.fit(tmp_path)
