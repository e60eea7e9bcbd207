"""Identification metrics on hand-made cases whose answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.evaluation.metrics import (
    VERSE_MAX_ID,
    CaseResult,
    aggregate,
    evaluate_case,
)
from spinelab.evaluation.tables import format_case_line, format_table
from spinelab.structures import Centroids

SPACING_MM = 30.0


def spine(labels: list[str], spacing_mm: float = SPACING_MM) -> Centroids:
    """A straight spine along -z (LPS: caudal is -z), ``labels`` (chain order) ``spacing_mm`` apart."""
    idx = np.arange(len(labels), dtype=np.float64)
    pos = np.zeros((len(labels), 3))
    pos[:, 0] = 5.0
    pos[:, 1] = 120.0
    pos[:, 2] = -spacing_mm * idx
    return Centroids(labels, pos)


def moved(c: Centroids, shifts: dict[str, tuple[float, float, float]]) -> Centroids:
    """``c`` with some labels moved by the given LPS mm offsets."""
    pos = c.positions_mm.copy()
    for label, d in shifts.items():
        pos[c.labels.index(label)] += d
    return Centroids(list(c.labels), pos)


def by_label(res: CaseResult) -> dict[str, tuple[bool, float]]:
    return {v.label: (v.identified, v.error_mm) for v in res.vertebrae}


LUMBAR = ["L1", "L2", "L3", "L4", "L5"]


@pytest.mark.parametrize("protocol", ["spineweb", "verse"])
def test_perfect_prediction(protocol: str) -> None:
    gt = spine(["T11", "T12", *LUMBAR])
    res = evaluate_case(gt, gt, protocol)
    assert res.n == 7 and res.n_identified == 7 and res.all_correct
    assert res.id_rate == 1.0 and res.missed == [] and res.extra_labels == ()
    s = aggregate([res])
    assert s.regions["all"].id_rate == 1.0
    assert s.regions["all"].mean_mm == 0.0 and s.regions["all"].std_mm == 0.0
    assert s.scans_all_correct == 1.0


@pytest.mark.parametrize("protocol", ["spineweb", "verse"])
def test_shift_19_mm_identified_21_mm_not(protocol: str) -> None:
    gt = spine(LUMBAR)
    # Lateral shifts keep the own truth the nearest one (neighbours are 30 mm away in z).
    pred = moved(gt, {"L2": (19.0, 0, 0), "L4": (0, 21.0, 0)})
    got = by_label(evaluate_case(pred, gt, protocol))
    assert got["L2"] == (True, pytest.approx(19.0))
    assert got["L4"][0] is False and got["L4"][1] == pytest.approx(21.0)
    assert got["L1"] == (True, 0.0)
    res = evaluate_case(pred, gt, protocol)
    assert res.id_rate == pytest.approx(4 / 5) and not res.all_correct
    assert res.missed == ["L4"]


def test_exactly_20_mm_counts_as_identified() -> None:
    gt = spine(LUMBAR)
    pred = moved(gt, {"L3": (12.0, 16.0, 0.0)})  # |(12, 16, 0)| = 20 exactly
    assert by_label(evaluate_case(pred, gt))["L3"][0] is True
    assert by_label(evaluate_case(pred, gt, max_dist_mm=19.9))["L3"][0] is False


def test_nearest_truth_rule_rejects_prediction_closer_to_neighbour() -> None:
    # L2 predicted 16 mm cranial of its truth: within 20 mm of L2, but 14 mm from L1's truth.
    gt = spine(LUMBAR)
    pred = moved(gt, {"L2": (0, 0, 16.0)})
    res = evaluate_case(pred, gt, "spineweb")
    v = {x.label: x for x in res.vertebrae}["L2"]
    assert v.error_mm == pytest.approx(16.0)
    assert v.identified is False and v.nearest_truth == "L1"
    assert res.n_identified == 4
    # 14 mm off (nearer its own truth than L1's at 16 mm): identified.
    ok = evaluate_case(moved(gt, {"L2": (0, 0, 14.0)}), gt)
    assert by_label(ok)["L2"] == (True, pytest.approx(14.0))


def test_labels_one_level_off_identify_nothing() -> None:
    # Every prediction carries the label of the vertebra below it: each lies on a wrong truth.
    gt = spine(["T12", *LUMBAR])
    shifted = Centroids(["L1", "L2", "L3", "L4", "L5", "S1"], gt.positions_mm)
    for protocol in ("spineweb", "verse"):
        res = evaluate_case(shifted, gt, protocol)
        assert res.n_identified == 0, protocol
        assert res.missed == gt.labels
        assert res.extra_labels == ("S1",)
    # Errors are one level (30 mm) for every label that has a prediction, NaN for T12.
    errs = by_label(evaluate_case(shifted, gt))
    assert math.isnan(errs["T12"][1])
    assert all(errs[x][1] == pytest.approx(SPACING_MM) for x in LUMBAR)


def test_one_level_off_with_small_spacing_needs_nearest_rule() -> None:
    # Cervical-like 15 mm spacing: a one-level-off prediction lies within 20 mm of its own
    # label's truth, so only the nearest-truth rule rejects it.
    gt = spine(["C3", "C4", "C5", "C6"], spacing_mm=15.0)
    pred = Centroids(["C4", "C5", "C6", "C7"], gt.positions_mm)
    res = evaluate_case(pred, gt)
    assert [v.error_mm for v in res.vertebrae][1:] == pytest.approx([15.0, 15.0, 15.0])
    assert res.n_identified == 0


def test_missing_vertebrae_count_in_denominator() -> None:
    gt = spine(["T12", *LUMBAR])
    pred = gt.subset(["L1", "L2", "L3"])
    res = evaluate_case(pred, gt)
    assert res.n == 6 and res.n_identified == 3 and res.id_rate == 0.5
    assert res.missed == ["T12", "L4", "L5"]
    assert math.isnan(by_label(res)["T12"][1])


def test_extra_prediction_labels_do_not_add_to_denominator() -> None:
    gt = spine(LUMBAR)
    more = np.array([[5.0, 120.0, 60.0], [5.0, 120.0, 30.0], [5.0, 120.0, -150.0]])
    extra = Centroids([*LUMBAR, "T11", "T12", "S1"], np.vstack([gt.positions_mm, more]))
    res = evaluate_case(extra, gt)
    assert res.n == 5 and res.id_rate == 1.0 and res.all_correct
    assert res.extra_labels == ("T11", "T12", "S1")


def test_prediction_with_foreign_label_on_a_truth_is_no_identification() -> None:
    # GT L1 is not predicted; a T13 (absent from GT) sits exactly on L1's truth.
    gt = spine(["T12", *LUMBAR])
    pred = Centroids(
        ["T12", "T13", "L2", "L3", "L4", "L5"],
        np.vstack([gt.positions_mm[:1], gt.position("L1"), gt.positions_mm[2:]]),
    )
    for protocol in ("spineweb", "verse"):
        res = evaluate_case(pred, gt, protocol)
        assert res.missed == ["L1"], protocol
        assert res.extra_labels == ("T13",)


def test_empty_prediction() -> None:
    gt = spine(LUMBAR)
    res = evaluate_case(Centroids.empty(), gt)
    assert res.n == 5 and res.n_identified == 0 and not res.all_correct
    s = aggregate([res])
    assert s.regions["all"].id_rate == 0.0
    assert math.isnan(s.regions["all"].mean_mm) and math.isnan(s.regions["all"].std_mm)
    d = s.to_dict()
    assert d["all"] == {"n": 5, "id_rate": 0.0, "mean_mm": None, "std_mm": None}
    json.dumps(d, allow_nan=False)  # valid JSON: no NaN literals


def test_empty_ground_truth_is_vacuously_all_correct() -> None:
    res = evaluate_case(spine(LUMBAR), Centroids.empty())
    assert res.n == 0 and res.all_correct and math.isnan(res.id_rate)
    assert res.extra_labels == tuple(LUMBAR)


def test_non_finite_prediction_is_missing_non_finite_truth_is_error() -> None:
    gt = spine(LUMBAR)
    pos = gt.positions_mm.copy()
    pos[2, 1] = np.nan
    res = evaluate_case(Centroids(list(gt.labels), pos), gt)
    assert res.missed == ["L3"] and math.isnan(by_label(res)["L3"][1])
    with pytest.raises(ValueError, match="L3"):
        evaluate_case(gt, Centroids(list(gt.labels), pos))


def test_bad_arguments() -> None:
    gt = spine(LUMBAR)
    with pytest.raises(ValueError, match="protocol"):
        evaluate_case(gt, gt, "glocker")
    with pytest.raises(ValueError, match="max_dist_mm"):
        evaluate_case(gt, gt, max_dist_mm=0.0)
    with pytest.raises(ValueError, match="different protocols"):
        aggregate([evaluate_case(gt, gt, "spineweb"), evaluate_case(gt, gt, "verse")])


def test_per_region_figures_and_transitional_labels() -> None:
    labels = ["C6", "C7", "T1", "T12", "T13", "L1", "L5", "L6", "S1"]
    gt = spine(labels)
    # Fail C6 (missed), T13 (25 mm off) and L6 (missed); others 3 mm off laterally, S1 4 mm.
    pred = moved(
        gt.subset([x for x in labels if x not in ("C6", "L6")]),
        {
            "C7": (3.0, 0, 0),
            "T1": (3.0, 0, 0),
            "T12": (3.0, 0, 0),
            "T13": (25.0, 0, 0),
            "L1": (3.0, 0, 0),
            "L5": (3.0, 0, 0),
            "S1": (0, 4.0, 0),
        },
    )
    s = aggregate([evaluate_case(pred, gt)])
    r = s.regions
    assert (r["cervical"].n, r["cervical"].n_identified) == (2, 1)
    assert (r["thoracic"].n, r["thoracic"].n_identified) == (3, 2)  # T13 is thoracic
    assert (r["lumbar"].n, r["lumbar"].n_identified) == (3, 2)  # L6 is lumbar
    assert (r["all"].n, r["all"].n_identified) == (9, 6)  # S1 only in "all"
    assert r["thoracic"].mean_mm == pytest.approx(3.0) and r["thoracic"].std_mm == 0.0
    errs = [3.0] * 5 + [4.0]
    assert r["all"].mean_mm == pytest.approx(np.mean(errs))
    assert r["all"].std_mm == pytest.approx(np.std(errs))
    assert list(s.per_vertebra) == labels  # chain order, only labels seen in GT
    assert s.per_vertebra["T13"].id_rate == 0.0 and s.per_vertebra["S1"].id_rate == 1.0
    assert s.to_dict()["per_vertebra"]["L6"] == {"n": 1, "id_rate": 0.0}
    assert s.to_dict()["cervical"]["id_rate"] == 0.5


def test_std_of_one_sample_is_zero_and_pooling_is_over_vertebrae() -> None:
    gt = spine(["L1", "L2"])
    one = evaluate_case(moved(gt.subset(["L1"]), {"L1": (0, 3.0, 0)}), gt)
    two = evaluate_case(moved(gt, {"L1": (4.0, 0, 0), "L2": (0, 0, -8.0)}), gt)
    s1 = aggregate([one])
    assert s1.regions["all"].mean_mm == 3.0 and s1.regions["all"].std_mm == 0.0
    s = aggregate([one, two])
    # Pooled: 3 of 4 vertebrae identified (not the mean of 0.5 and 1.0 per scan).
    assert s.regions["all"].id_rate == pytest.approx(0.75)
    assert s.regions["all"].mean_mm == pytest.approx(5.0)
    assert s.regions["all"].std_mm == pytest.approx(np.std([3.0, 4.0, 8.0]))


def test_scans_all_correct_share() -> None:
    gt = spine(LUMBAR)
    cases = [
        evaluate_case(gt, gt, name="a"),
        evaluate_case(moved(gt, {"L5": (0, 0, -25.0)}), gt, name="b"),
        evaluate_case(gt.subset(LUMBAR[:4]), gt, name="c"),
        evaluate_case(moved(gt, {"L1": (2.0, 0, 0)}), gt, name="d"),
    ]
    s = aggregate(cases)
    assert s.n_scans == 4 and s.n_scans_all_correct == 2
    assert s.to_dict()["scans_all_correct"] == 0.5 and s.to_dict()["n_scans"] == 4
    assert format_case_line(cases[2]) == "c: 4/5 identified  missed: L5"


def test_to_dict_has_exactly_the_documented_shape() -> None:
    gt = spine(LUMBAR)
    d = aggregate([evaluate_case(gt, gt)]).to_dict()
    assert set(d) == {
        "all",
        "cervical",
        "thoracic",
        "lumbar",
        "per_vertebra",
        "scans_all_correct",
        "n_scans",
    }
    for region in ("all", "cervical", "thoracic", "lumbar"):
        assert set(d[region]) == {"n", "id_rate", "mean_mm", "std_mm"}
    assert d["cervical"] == {"n": 0, "id_rate": None, "mean_mm": None, "std_mm": None}
    assert list(d["per_vertebra"]) == LUMBAR
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_aggregate_of_nothing() -> None:
    s = aggregate([])
    d = s.to_dict()
    assert d["n_scans"] == 0 and d["scans_all_correct"] is None and d["all"]["n"] == 0
    assert "0/0" in format_table(s)


# ---- VerSe protocol -------------------------------------------------------------------------


def test_verse_differs_from_spineweb_when_the_nearer_truth_was_not_predicted() -> None:
    # L2 predicted 16 mm towards L1 (14 mm from L1's truth); L1 itself was not predicted.
    gt = spine(LUMBAR)
    pred = moved(gt, {"L2": (0, 0, 16.0)}).subset(["L2", "L3", "L4", "L5"])
    sw = evaluate_case(pred, gt, "spineweb")
    vs = evaluate_case(pred, gt, "verse")
    assert by_label(sw)["L2"][0] is False  # L1's truth is nearest of all truths
    assert by_label(vs)["L2"][0] is True  # L1 not predicted, so not a candidate in VerSe
    assert sw.n_identified == 3 and vs.n_identified == 4
    # With L1 predicted too, both protocols reject L2.
    both = moved(gt, {"L2": (0, 0, 16.0)})
    assert by_label(evaluate_case(both, gt, "verse"))["L2"][0] is False


def test_verse_localization_over_all_predicted_spineweb_over_identified() -> None:
    gt = spine(LUMBAR)
    pred = moved(gt, {"L1": (2.0, 0, 0), "L3": (0, 25.0, 0)})  # L3 not identified
    sw = aggregate([evaluate_case(pred, gt, "spineweb")]).regions["all"]
    vs = aggregate([evaluate_case(pred, gt, "verse")]).regions["all"]
    assert sw.id_rate == vs.id_rate == pytest.approx(0.8)
    assert sw.mean_mm == pytest.approx(2.0 / 4)
    assert vs.mean_mm == pytest.approx(27.0 / 5)


def test_ties_spineweb_favours_own_label_verse_lower_id() -> None:
    gt = spine(["L1", "L2"])
    mid = gt.positions_mm.mean(axis=0)
    pred = Centroids(["L1", "L2"], np.vstack([mid, mid]))  # each 15 mm from both truths
    sw = by_label(evaluate_case(pred, gt, "spineweb"))
    vs = by_label(evaluate_case(pred, gt, "verse"))
    assert sw["L1"][0] and sw["L2"][0]
    assert vs["L1"][0] and not vs["L2"][0]  # VerSe's argmin picks id 20 (L1) over 21 (L2)


def test_verse_drops_s2_which_it_has_no_id_for() -> None:
    gt = spine(["L4", "L5", "S1", "S2"])
    assert anatomy.by_name("S2").verse_id > VERSE_MAX_ID
    assert evaluate_case(gt, gt, "verse").labels == ["L4", "L5", "S1"]
    assert evaluate_case(gt, gt, "spineweb").labels == ["L4", "L5", "S1", "S2"]


def _official_verse_hits(gt: Centroids, pred: Centroids) -> dict[str, bool]:
    """Independent statement of the VerSe rule with a distance matrix over VerSe ids 1-28."""
    g = np.full((VERSE_MAX_ID, 3), np.nan)
    p = np.full((VERSE_MAX_ID, 3), np.nan)
    for c, arr in ((gt, g), (pred, p)):
        for label, pos in c:
            vid = anatomy.by_name(label).verse_id
            if vid <= VERSE_MAX_ID:
                arr[vid - 1] = pos
    in_gt = np.flatnonzero(~np.isnan(g[:, 0]))
    common = np.intersect1d(in_gt, np.flatnonzero(~np.isnan(p[:, 0])))
    hits = {anatomy.by_verse_id(i + 1).name: False for i in in_gt}
    if common.size:
        d = np.linalg.norm(p[common][:, None, :] - g[common][None, :, :], axis=2)
        for row, vid0 in enumerate(common):
            if np.argmin(d[row]) == row and d[row, row] <= 20.0:
                hits[anatomy.by_verse_id(vid0 + 1).name] = True
    return hits


def test_verse_matches_matrix_statement_on_random_cases() -> None:
    rng = np.random.default_rng(7)
    pool = ["T10", "T11", "T12", "T13", "L1", "L2", "L3", "L4", "L5", "L6", "S1"]
    n_diff = 0
    for _ in range(200):
        labels = sorted(
            rng.choice(pool, size=int(rng.integers(1, len(pool))), replace=False).tolist(),
            key=anatomy.chain_index,
        )
        gt = spine(labels, spacing_mm=float(rng.uniform(15, 35)))
        keep = [x for x in labels if rng.random() > 0.25]
        pred = Centroids(
            keep, gt.subset(keep).positions_mm + rng.normal(0, 9.0, size=(len(keep), 3))
        )
        got = {v.label: v.identified for v in evaluate_case(pred, gt, "verse").vertebrae}
        assert got == _official_verse_hits(gt, pred)
        sw = {v.label: v.identified for v in evaluate_case(pred, gt, "spineweb").vertebrae}
        n_diff += sw != got
    assert n_diff > 0  # the random cases do exercise the difference between the protocols


def test_format_table_layout() -> None:
    gt = spine(["C7", "T1", *LUMBAR])
    pred = moved(gt.subset(["T1", *LUMBAR]), {"L1": (0, 3.0, 0), "L2": (0, 0, -4.0)})
    text = format_table(aggregate([evaluate_case(pred, gt, name="x")]))
    lines = text.splitlines()
    assert lines[0].startswith("Protocol: spineweb (max. distance 20.0 mm), 1 scan")
    row = {ln.split()[0]: ln.split() for ln in lines if ln.split()}
    assert row["All"] == ["All", "7", "1.17", "1.67", "85.7%"]
    assert row["Cervical"] == ["Cervical", "1", "-", "-", "0.0%"]
    assert row["Lumbar"] == ["Lumbar", "5", "1.40", "1.74", "100.0%"]
    assert row["C7"] == ["C7", "1", "0", "0.0%"]
    assert lines[-1] == "Scans with every vertebra identified: 0/1 (0.0%)"


# ---- real spines (VID ground truth) ---------------------------------------------------------


@pytest.mark.shared_data
def test_real_spines_self_perfect_and_relabelled_fail(vid_dir: Path) -> None:
    from spinelab.io.vid import read_vid

    files = sorted((vid_dir / "ground_truth").glob("*.json"))[:40]
    assert files
    perfect, relabelled = [], []
    for f in files:
        gt = read_vid(f).centroids()
        perfect.append(evaluate_case(gt, gt, name=f.stem))
        # Relabel every vertebra as its caudal neighbour in the standard chain.
        idx = [anatomy.STANDARD_LABELS.index(x) for x in gt.labels if x in anatomy.STANDARD_LABELS]
        keep = [i for i in idx if i + 1 < anatomy.N_STANDARD]
        names = [anatomy.STANDARD_LABELS[i] for i in keep]
        off = Centroids(
            [anatomy.STANDARD_LABELS[i + 1] for i in keep], gt.subset(names).positions_mm
        )
        relabelled.append(evaluate_case(off, gt, name=f.stem))
    s = aggregate(perfect)
    assert s.regions["all"].id_rate == 1.0 and s.scans_all_correct == 1.0
    assert s.regions["all"].n == sum(c.n for c in perfect)
    # Real inter-vertebral distances are far above half of 20 mm: shifted labels never count.
    assert aggregate(relabelled).regions["all"].id_rate == 0.0


@pytest.mark.parametrize("protocol", ["spineweb", "verse"])
def test_small_noise_is_always_identified(protocol: str) -> None:
    # Regression: the own distance and the nearest-truth distances must come from one formula,
    # else rounding made ~5% of noisy-but-correct predictions "not nearest to their own truth".
    rng = np.random.default_rng(3)
    gt = spine(["T9", "T10", "T11", "T12", *LUMBAR])
    for _ in range(300):
        pred = Centroids(list(gt.labels), gt.positions_mm + rng.normal(0, 3.0, (9, 3)))
        res = evaluate_case(pred, gt, protocol)
        assert res.all_correct, [(v.label, v.error_mm, v.nearest_truth) for v in res.vertebrae]
