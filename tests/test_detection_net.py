"""Tests of the learned chain model of detections (spinelab.postprocess.detection_net) and of its
torch side (spinelab.nets.detection_gru)."""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spinelab.errors import OutputExistsError, SpinelabInputError
from spinelab.evaluation.metrics import aggregate, evaluate_case
from spinelab.io.vid import VidScan, read_vid
from spinelab.postprocess.detection_net import (
    FEATURE_NAMES,
    DetectionNet,
    DetectionNetConfig,
    default_detection_net,
    node_features,
)
from spinelab.postprocess.detection_priors import default_priors, vid_split
from spinelab.postprocess.detections import (
    NET_MAX_DETECTIONS,
    NET_WEIGHT,
    STAND_INS,
    DetectionLabelConfig,
    build_problem,
    centerline_positions,
    label_detections,
)
from spinelab.structures import Centroids

sys.path.insert(0, str(Path(__file__).parent))
from test_detections import L_SCORES, PRIORS, synthetic_spine

NET = default_detection_net()


def spine_with_pedicles(
    labels: list[str], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic body points with scores, and left/right pedicles 20 mm behind and 12 mm out."""
    body, scores = synthetic_spine(labels, rng)
    left = body + np.array([12.0, 20.0, 0.0])
    right = body + np.array([-12.0, 20.0, 0.0])
    return body, scores, left, right


def test_features_shape_and_meaning() -> None:
    rng = np.random.default_rng(0)
    body, scores, left, right = spine_with_pedicles(["T11", "T12", "L1", "L2", "L3"], rng)
    scores = scores.copy()
    scores[2] = np.nan  # e.g. a body implied by pedicles
    order, z = centerline_positions(body)
    f = node_features(body[order], scores[order], left, right, z)
    assert f.shape == (5, len(FEATURE_NAMES))
    assert np.all(np.isfinite(f))
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert f[:, col["has_scores"]].tolist() == [1, 1, 0, 1, 1]
    assert f[2, col["score_L"]] == 0.0 and f[4, col["score_L"]] > 0.9
    assert f[0, col["has_prev"]] == 0 and f[1:, col["has_prev"]].all()
    np.testing.assert_allclose(f[1:, col["gap_prev_30mm"]] * 30.0, np.diff(z))
    np.testing.assert_allclose(f[:, col["pedicle_span_30mm"]] * 30.0, 24.0, atol=1e-9)
    np.testing.assert_allclose(f[:, col["body_to_pedicles_30mm"]] * 30.0, 20.0, atol=1e-9)
    assert f[:, col["arc_relative"]].tolist()[0] == 0.0 and f[-1, col["arc_relative"]] == 1.0


def test_features_do_not_depend_on_where_the_patient_lies() -> None:
    """Shifting every point (another scanner origin) changes nothing."""
    rng = np.random.default_rng(1)
    body, scores, left, right = spine_with_pedicles(["T10", "T11", "T12", "L1"], rng)
    order, z = centerline_positions(body)
    a = node_features(body[order], scores[order], left, right, z)
    shift = np.array([-120.0, 35.0, 800.0])
    b = node_features(body[order] + shift, scores[order], left + shift, right + shift, z)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_features_without_pedicles_are_zero_there() -> None:
    rng = np.random.default_rng(2)
    body, scores = synthetic_spine(["L1", "L2", "L3"], rng)
    order, z = centerline_positions(body)
    f = node_features(body[order], scores[order], None, np.zeros((0, 3)), z)
    ped = [FEATURE_NAMES.index(n) for n in FEATURE_NAMES if "pedicle" in n]
    assert np.all(f[:, ped] == 0.0)
    assert node_features(np.zeros((0, 3)), np.zeros((0, 3)), None, None, np.zeros(0)).shape == (
        0,
        len(FEATURE_NAMES),
    )


def test_bundled_net_gives_posteriors_and_says_what_it_was_trained_on() -> None:
    assert NET.labels == PRIORS.labels
    assert NET.meta["n_scans"] > 1000 and "fit" in NET.meta["split"]
    assert NET.config.n_augmented > 0  # trained with augmentation
    rng = np.random.default_rng(3)
    body, scores, left, right = spine_with_pedicles(["T12", "L1", "L2", "L3", "L4", "L5"], rng)
    order, z = centerline_positions(body)
    lp = NET.log_posteriors(node_features(body[order], scores[order], left, right, z))
    assert lp.shape == (6, len(NET.labels) + 1)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-6)
    # a clean lumbar chain down to a sacrum-free end: the lowest is most likely L5
    assert NET.labels[int(np.argmax(lp[-1, :-1]))] == "L5"


def test_save_load_round_trip_and_bad_files(tmp_path: Path) -> None:
    npz, js = NET.save(tmp_path / "net")
    back = DetectionNet.load(tmp_path / "net")
    x = np.random.default_rng(4).normal(size=(7, len(FEATURE_NAMES)))
    np.testing.assert_allclose(back.log_posteriors(x), NET.log_posteriors(x), atol=1e-5)
    assert back.config == NET.config and back.meta == NET.meta
    with pytest.raises(OutputExistsError):
        NET.save(tmp_path / "net")
    obj = json.loads(js.read_text())
    obj["feature_version"] = 99
    js.write_text(json.dumps(obj))
    with pytest.raises(SpinelabInputError, match="node features"):
        DetectionNet.load(js)
    with pytest.raises(SpinelabInputError, match="not found"):
        DetectionNet.load(tmp_path / "missing")
    js.write_text("{")
    with pytest.raises(SpinelabInputError, match=r"net\.json"):
        DetectionNet.load(npz)


def test_numpy_inference_equals_torch() -> None:
    torch = pytest.importorskip("torch", reason="torch (the train extra) is not installed")
    from spinelab.nets.detection_gru import DetectionGRU, export

    config = DetectionNetConfig(hidden=16, layers=2)
    torch.manual_seed(0)
    model = DetectionGRU(len(FEATURE_NAMES), 5, config).eval()
    net = DetectionNet(("L1", "L2", "L3", "L4"), export([model]), config)
    x = np.random.default_rng(5).normal(size=(9, len(FEATURE_NAMES)))
    with torch.no_grad():
        want = model(torch.from_numpy(x[None]).float())[0].double().numpy()
    np.testing.assert_allclose(net.logits(x), want, atol=1e-5)
    # padded batches (packed sequences) give the same outputs for the real nodes
    pad = np.zeros((1, 12, len(FEATURE_NAMES)))
    pad[0, :9] = x
    with torch.no_grad():
        got = model(torch.from_numpy(pad).float(), torch.tensor([9]))[0, :9].double().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_augment_is_deterministic_and_plausible() -> None:
    pytest.importorskip("torch", reason="torch (the train extra) is not installed")
    from spinelab.nets.detection_gru import augment, scan_sample

    rng = np.random.default_rng(6)
    labels = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    body, scores, left, right = spine_with_pedicles(labels, rng)
    det = VidScan(body, [None] * len(labels), scores, left, right)
    gt = VidScan(body, list(labels), np.full((8, 3), np.nan), left, right)
    a = augment(det, np.random.default_rng(7))
    b = augment(det, np.random.default_rng(7))
    np.testing.assert_array_equal(a.body_mm, b.body_mm)
    assert 5 <= a.body_mm.shape[0] <= 9
    config = DetectionNetConfig(n_augmented=4)
    s1 = scan_sample("x", det, gt, PRIORS.labels, config)
    s2 = scan_sample("x", det, gt, PRIORS.labels, config)
    assert s1 is not None and s2 is not None and len(s1.variants) == 5
    for (x1, y1), (x2, y2) in zip(s1.variants, s2.variants):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    _, y0 = s1.variants[0]
    assert [PRIORS.labels[i] for i in y0] == labels  # clean copy: every detection its label


def test_net_weight_enters_the_energies() -> None:
    rng = np.random.default_rng(8)
    body, scores, left, right = spine_with_pedicles(["T11", "T12", "L1", "L2"], rng)
    off = build_problem(body, scores, PRIORS, left, right, DetectionLabelConfig(net_weight=0.0))
    on = build_problem(body, scores, PRIORS, left, right, DetectionLabelConfig(), NET)
    f = node_features(body[on.order], scores[on.order], left, right, on.z_mm)
    lp = NET.log_posteriors(f)
    # a label the network lacks (the synthesized T13) takes its stand-in's column
    cols = [NET.labels.index(STAND_INS.get(x, x)) for x in on.labels]
    assert "T13" in on.labels and "T13" not in NET.labels
    np.testing.assert_allclose(on.e_label - off.e_label, -NET_WEIGHT * lp[:, cols], atol=1e-9)
    np.testing.assert_allclose(
        on.e_fp - off.e_fp, np.tile(-NET_WEIGHT * lp[:, -1], (3, 1)), atol=1e-9
    )
    # no net given: nothing added whatever the weight
    none = build_problem(body, scores, PRIORS, left, right, DetectionLabelConfig())
    np.testing.assert_allclose(none.e_label, off.e_label)
    with pytest.raises(ValueError, match="net_weight"):
        DetectionLabelConfig(net_weight=-1.0)
    with pytest.raises(ValueError, match="net must be"):
        label_detections(body, scores, PRIORS, net="bundled")


def test_long_chains_are_labelled_without_the_net() -> None:
    """Scans with more body detections than ``net_max_detections`` are labelled as without the
    network (and say so in ``extra``), with the confidence temperature fitted for that; shorter
    ones, or any with the limit off, with it."""
    rng = np.random.default_rng(5)
    whole = [f"T{i}" for i in range(1, 13)] + ["L1", "L2", "L3", "L4", "L5"]
    assert len(whole) > NET_MAX_DETECTIONS >= 7
    for labels in (whole, whole[-7:]):
        body, scores, left, right = spine_with_pedicles(labels, rng)
        args = (body, scores, PRIORS, left, right)
        default = label_detections(*args)
        unlimited = label_detections(*args, DetectionLabelConfig(net_max_detections=None))
        without = label_detections(*args, net=None)
        long = len(labels) > NET_MAX_DETECTIONS
        same = without if long else unlimited
        assert default.labels == same.labels == labels
        assert default.confidence is not None and same.confidence is not None
        np.testing.assert_allclose(default.confidence, same.confidence)
        assert default.extra is not None and default.extra["chain_model"] is not long
        assert unlimited.extra is not None and unlimited.extra["chain_model"]
        assert without.extra is not None and not without.extra["chain_model"]
        assert unlimited.confidence is not None and without.confidence is not None
        assert not np.allclose(unlimited.confidence, without.confidence)  # the net counts
        # each kind of scan has its own confidence temperature
        for field, affects in (
            ("confidence_temperature", not long),
            ("confidence_temperature_without_net", long),
        ):
            hot = label_detections(*args, replace(DetectionLabelConfig(), **{field: 20.0}))
            assert hot.labels == default.labels and hot.confidence is not None
            assert np.allclose(hot.confidence, default.confidence) is not affects
    with pytest.raises(ValueError, match="net_max_detections"):
        DetectionLabelConfig(net_max_detections=-1)
    with pytest.raises(ValueError, match="temperature"):
        DetectionLabelConfig(confidence_temperature_without_net=0.0)


@pytest.mark.shared_data
def test_whole_spine_scan_without_the_net(vid_dir: Path) -> None:
    """A real VerSe 2020 whole spine (report split, 27 body detections, C1-L5 annotated, a
    vertebra the annotation skips between T12 and L1): the network, trained mostly on
    thoraco-lumbar scans, counts up from L5 and shifts T3-T12; left out by the default limit,
    every vertebra is identified."""
    det = read_vid(vid_dir / "detections" / "L150kaW3wToW.json")
    gt = read_vid(vid_dir / "ground_truth" / "L150kaW3wToW.json")
    args = (det.body_mm, det.segment_scores, default_priors(), det.left_mm, det.right_mm)
    default = evaluate_case(label_detections(*args), gt.centroids(), protocol="spineweb")
    unlimited = label_detections(*args, DetectionLabelConfig(net_max_detections=None))
    with_net = evaluate_case(unlimited, gt.centroids(), protocol="spineweb")
    assert default.n == 24 and default.n_identified == 24
    assert with_net.n_identified <= 16


def test_missed_vertebra_and_false_detection_with_the_net() -> None:
    """A missed L2 (a double gap) and a false detection beside L1, without pedicles (unlike the
    VID detector's output, which the network was trained on; augmentation covers it)."""
    rng = np.random.default_rng(4)
    labels = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    pos, scores = synthetic_spine(labels, rng)
    keep = [i for i in range(len(labels)) if labels[i] != "L2"]
    det = np.vstack([pos[keep], [[90.0, 10.0, pos[3, 2] - 5]]])
    sc = np.vstack([scores[keep], L_SCORES])
    cents = label_detections(det, sc, PRIORS)  # the default uses the bundled network
    assert cents.labels == [labels[i] for i in keep]


def _scans(vid_dir: Path, split: str, n: int) -> list[tuple[VidScan, VidScan]]:
    return [(det, gt) for _, det, gt in itertools.islice(vid_split(vid_dir, split), n)]


@pytest.mark.shared_data
def test_net_on_real_report_scans(vid_dir: Path) -> None:
    """On 120 fixed report-split scans (never trained on) the labeller with the network
    identifies at least as many vertebrae as without it, and the network alone (argmax per
    detection, no chain constraints) is right for most detections."""
    priors = default_priors()
    with_net, without, hits, n_nodes = [], [], 0, 0
    for det, gt in _scans(vid_dir, "report", 120):
        args = (det.body_mm, det.segment_scores, priors, det.left_mm, det.right_mm)
        truth = gt.centroids()
        with_net.append(evaluate_case(label_detections(*args), truth))
        off = replace(DetectionLabelConfig(), net_weight=0.0)
        without.append(evaluate_case(label_detections(*args, off), truth))
        order, z = centerline_positions(det.body_mm)
        lp = NET.log_posteriors(
            node_features(
                det.body_mm[order], det.segment_scores[order], det.left_mm, det.right_mm, z
            )
        )
        best: dict[str, tuple[float, int]] = {}  # label -> (log-posterior, detection)
        for k, c in enumerate(lp.argmax(axis=1)):
            if c < len(NET.labels) and lp[k, c] > best.get(NET.labels[c], (-np.inf, 0))[0]:
                best[NET.labels[c]] = (float(lp[k, c]), k)
        names = sorted(best, key=NET.labels.index)
        pts = det.body_mm[order][[best[x][1] for x in names]].reshape(-1, 3)
        res = evaluate_case(Centroids(names, pts), truth)
        hits += sum(v.identified for v in res.vertebrae)
        n_nodes += len(res.vertebrae)
    a, b = aggregate(with_net), aggregate(without)
    assert a.regions["all"].id_rate >= b.regions["all"].id_rate - 0.005
    assert a.regions["all"].id_rate >= 0.93
    assert hits / n_nodes >= 0.85


@pytest.mark.shared_data
def test_bundled_net_scores_what_it_says(vid_dir: Path) -> None:
    """The held-out figures stored with the bundled weights (``meta['held_out']``, written by
    scripts/fit_detection_net.py) are what the labeller with its defaults gets on the whole
    report split now."""
    held = NET.meta["held_out"]
    priors = default_priors()
    cases = [
        evaluate_case(
            label_detections(det.body_mm, det.segment_scores, priors, det.left_mm, det.right_mm),
            gt.centroids(),
            protocol="spineweb",
        )
        for det, gt in _scans(vid_dir, "report", 10**6)
    ]
    s = aggregate(cases)
    assert held["n_scans"] == len(cases) and held["n_vertebrae"] == s.regions["all"].n
    assert held["id_rate_percent"] == round(100 * s.regions["all"].id_rate, 2)
    assert held["scans_all_correct_percent"] == round(100 * s.scans_all_correct, 1)


@pytest.mark.shared_data
def test_training_learns_from_real_scans(vid_dir: Path) -> None:
    """A small network trained briefly on 150 fit-split scans labels about half the detections
    of 100 other fit-split scans right (per-detection argmax, no chain constraints: the bundled
    ensemble reaches about 93 %), far above the share of the commonest class."""
    torch = pytest.importorskip("torch", reason="torch (the train extra) is not installed")
    from spinelab.nets.detection_gru import scan_sample, train_detection_net

    config = DetectionNetConfig(hidden=24, epochs=12, n_models=1, n_augmented=1)
    scans = _scans(vid_dir, "fit", 250)
    samples = [
        s
        for i, (det, gt) in enumerate(scans)
        if (s := scan_sample(f"s{i}", det, gt, PRIORS.labels, config)) is not None
    ]
    torch.manual_seed(0)
    net = train_detection_net(samples[:150], PRIORS.labels, config)
    ys = np.concatenate([s.variants[0][1] for s in samples[150:]])
    pred = np.concatenate([net.log_posteriors(s.variants[0][0]).argmax(1) for s in samples[150:]])
    commonest = np.bincount(ys).max() / ys.size
    assert commonest < 0.2
    assert np.mean(pred == ys) > 0.45
