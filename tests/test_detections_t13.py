"""A thirteenth thoracic vertebra in the detection labeller (spinelab.postprocess.detections).

The VID ground truth has no T13: the labeller synthesizes it from T12's neighbours' tables
(``STAND_INS``), and the priors/chain model leave a vertebra the ground truth skips out of their
statistics (``unannotated_detections``)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from spinelab.evaluation.metrics import evaluate_case
from spinelab.io.vid import read_vid
from spinelab.postprocess.detection_priors import (
    FitCase,
    fit_priors,
    match_detections,
    unannotated_detections,
    unannotated_gaps,
)
from spinelab.postprocess.detections import (
    DetectionLabelConfig,
    build_problem,
    label_detections,
    pair_gap_tables,
    problem_labels,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_detections import L_SCORES, PRIORS, T_SCORES


def gap(a: str, b: str) -> float:
    i = PRIORS.labels.index(a)
    assert PRIORS.labels[i + 1] == b
    return float(PRIORS.gap_mean_mm[i])


def spine(labels: list[str], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points down a gently curved line with the priors' mean gaps (T13: T11->T12 above it,
    T12->L1 below it); thoracic or lumbar segment scores by label."""
    steps = []
    for a, b in itertools.pairwise(labels):
        if b == "T13":
            steps.append(gap("T11", "T12"))
        elif a == "T13":
            steps.append(gap("T12", "L1"))
        else:
            steps.append(gap(a, b))
    z = 300.0 - np.concatenate([[0.0], np.cumsum(steps)])
    pos = np.stack([5 + 10 * np.sin(z / 200), 80 + 15 * np.cos(z / 150), z], axis=1)
    pos += rng.normal(0, 0.5, pos.shape)
    scores = np.array([L_SCORES if x.startswith("L") else T_SCORES for x in labels])
    return pos, scores


def test_labels_include_a_synthesized_t13() -> None:
    labels = problem_labels(PRIORS, DetectionLabelConfig())
    assert "T13" not in PRIORS.labels
    assert labels[labels.index("T12") + 1] == "T13" and labels[labels.index("T13") + 1] == "L1"
    assert "T13" not in problem_labels(PRIORS, DetectionLabelConfig(synthesize_t13=False))
    assert "T13" not in problem_labels(PRIORS, DetectionLabelConfig(allow_transitional=False))


def test_gap_tables_leave_an_absent_transitional_vertebra_out() -> None:
    labels = problem_labels(PRIORS, DetectionLabelConfig())
    mean, var = pair_gap_tables(PRIORS, labels)
    i = {x: labels.index(x) for x in ("T11", "T12", "T13", "L1", "L2", "L5", "L6")}
    # T12 -> L1 without T13 is the plain T12 -> L1 gap, not the detour over T13
    assert mean[i["T12"], i["L1"]] == pytest.approx(gap("T12", "L1"))
    assert mean[i["T12"], i["T13"]] == pytest.approx(gap("T11", "T12"))
    assert mean[i["T13"], i["L1"]] == pytest.approx(gap("T12", "L1"))
    assert mean[i["T11"], i["L2"]] == pytest.approx(
        gap("T11", "T12") + gap("T12", "L1") + gap("L1", "L2")
    )
    assert mean[i["L5"], i["L6"]] == pytest.approx(gap("L5", "L6"))
    assert var[i["T11"], i["L1"]] == pytest.approx(
        float(np.sum(PRIORS.gap_sd_mm[PRIORS.labels.index("T11") :][:2] ** 2))
    )
    assert np.isnan(mean[i["L1"], i["T12"]])
    # the problem carries the same tables
    pos, scores = spine(["T11", "T12", "L1"], np.random.default_rng(0))
    prob = build_problem(pos, scores, PRIORS)
    assert np.allclose(prob.gap_mean_mm, mean, equal_nan=True)


@pytest.mark.parametrize("solver", ["dp", "wang"])
def test_thirteen_thoracic_vertebrae_are_labelled_with_t13(solver: str) -> None:
    labels = [f"T{i}" for i in range(1, 14)] + ["L1", "L2", "L3", "L4", "L5"]
    pos, scores = spine(labels, np.random.default_rng(1))
    cfg = DetectionLabelConfig(solver=solver, net_weight=0.0)
    out = label_detections(pos, scores, PRIORS, config=cfg)
    assert out.labels == labels
    # without T13 the same detections must be labelled otherwise (one level off somewhere)
    no13 = label_detections(
        pos,
        scores,
        PRIORS,
        config=DetectionLabelConfig(solver=solver, net_weight=0.0, synthesize_t13=False),
    )
    assert no13.labels != labels


def test_a_standard_spine_gets_no_t13() -> None:
    labels = [f"T{i}" for i in range(1, 13)] + ["L1", "L2", "L3", "L4", "L5"]
    for seed in range(5):
        pos, scores = spine(labels, np.random.default_rng(seed))
        assert label_detections(pos, scores, PRIORS).labels == labels


def test_unannotated_gap_and_detection() -> None:
    labels = [f"T{i}" for i in range(8, 14)] + ["L1", "L2", "L3"]
    pos, _ = spine(labels, np.random.default_rng(2))
    keep = [i for i, x in enumerate(labels) if x != "T13"]
    gt_labels = [labels[i] for i in keep]  # the annotation jumps from T12 to L1
    gaps = unannotated_gaps(gt_labels, pos[keep])
    assert [(a, b) for a, b, *_ in gaps] == [("T12", "L1")]
    det = pos + np.array([1.0, 0.0, 0.0])
    m = match_detections(det, pos[keep], 20.0)
    flag = unannotated_detections(det, gt_labels, pos[keep], m)
    assert flag.tolist() == [x == "T13" for x in labels]
    # with the T13 annotated nothing is flagged
    assert unannotated_gaps(labels, pos) == []
    full = unannotated_detections(det, labels, pos, match_detections(det, pos, 20.0))
    assert not full.any()


def test_fit_priors_leaves_an_unannotated_vertebra_out() -> None:
    rng = np.random.default_rng(3)
    labels = ["T10", "T11", "T12", "T13", "L1", "L2", "L3"]
    cases = []
    for i in range(40):
        lab = labels if i % 8 == 0 else [x for x in labels if x != "T13"]
        pos, scores = spine(lab, rng)
        gt = [j for j, x in enumerate(lab) if x != "T13"]
        cases.append(FitCase(pos, scores, np.full(len(lab), 2), [lab[j] for j in gt], pos[gt]))
    p = fit_priors(cases)
    j = p.labels.index("T12")
    assert p.gap_mean_mm[j] == pytest.approx(gap("T12", "L1"), abs=1.5)
    assert p.gap_sd_mm[j] < 3.0
    assert p.fp_rate_mid < 0.01  # the five T13 detections are not false positives


@pytest.mark.shared_data
@pytest.mark.parametrize("scan_id", ["i5FG8DBxwsBz"])
def test_real_spine_with_an_unannotated_t13(vid_dir: Path, scan_id: str) -> None:
    """A real VerSe spine (VID report split, C2-L5) whose annotation jumps from T12 to L1 over a
    vertebra the detector found: labelled T13, every annotated vertebra identified (without
    T13 the thoracic spine above it was labelled one level too high)."""
    det = read_vid(vid_dir / "detections" / f"{scan_id}.json")
    gt = read_vid(vid_dir / "ground_truth" / f"{scan_id}.json")
    out = label_detections(det.body_mm, det.segment_scores, PRIORS, det.left_mm, det.right_mm)
    res = evaluate_case(out, gt.centroids(), protocol="spineweb")
    assert "T13" in out.labels
    assert all(v.identified for v in res.vertebrae)


def test_priors_fitted_with_an_annotated_t13_skip_it_with_the_direct_gap() -> None:
    """Training data that labels T13 (VerSe's id 28): the priors hold T12 -> T13 and T13 -> L1
    but no direct T12 -> L1 gap; the gap tables stay finite (the gap below T13 stands in) and
    spines with and without a T13 are both labelled right."""
    rng = np.random.default_rng(5)
    with13 = ["T10", "T11", "T12", "T13", "L1", "L2", "L3"]
    cases = []
    for i in range(40):
        lab = with13 if i % 4 == 0 else [x for x in with13 if x != "T13"]
        pos, scores = spine(lab, rng)
        cases.append(FitCase(pos, scores, np.full(len(lab), 2), lab, pos))
    p = fit_priors(cases)
    assert "T13" in p.labels
    labels = problem_labels(p, DetectionLabelConfig())
    mean, _ = pair_gap_tables(p, labels)
    i12, i13, i1 = labels.index("T12"), labels.index("T13"), labels.index("L1")
    assert np.isfinite(mean[i12, i1]) and np.isfinite(mean[i12, i13])
    assert mean[i12, i1] == pytest.approx(mean[i13, i1])
    cfg = DetectionLabelConfig(net_weight=0.0, transitional_rate=None)
    for lab in (with13, [x for x in with13 if x != "T13"]):
        pos, scores = spine(lab, np.random.default_rng(6))
        assert label_detections(pos, scores, p, config=cfg).labels == lab
