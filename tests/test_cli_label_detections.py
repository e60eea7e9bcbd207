"""Tests of ``spinelab label-detections``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spinelab import anatomy
from spinelab.cli import main
from spinelab.io.native import read_native
from spinelab.postprocess.detection_priors import default_priors

PRIORS = default_priors()


def write_vid(
    path: Path, labels: list[str], fp: bool = False, missed: str | None = None
) -> np.ndarray:
    """A synthetic VID detection file for ``labels`` (plus a false positive; the body point of
    ``missed`` left out, its pedicles kept); returns bodies."""
    idx = [PRIORS.labels.index(x) for x in labels]
    z = 200.0 - np.concatenate([[0.0], np.cumsum(PRIORS.gap_mean_mm)])[idx]
    body = np.stack([np.full_like(z, 3.0), np.full_like(z, 90.0), z], axis=1)
    points = []
    for lab, p in zip(labels, body):
        for side, dx in (("left", 20.0), ("right", -20.0)):
            q = p + np.array([dx, 25.0, 0.0])
            points.append(
                {"coordinates": {"world_space": q.tolist()}, "type": {"keypoint_type": side}}
            )
        if lab == missed:
            continue
        seg = "L" if anatomy.region_of(lab) == "lumbar" else "T"
        probs = [0.02, 0.03, 0.98] if seg == "L" else [0.02, 0.98, 0.03]
        points.append(
            {
                "coordinates": {"world_space": p.tolist()},
                "type": {
                    "keypoint_type": "body",
                    "spine_segment": seg,
                    "spine_segment_probabilities": probs,
                },
            }
        )
    if fp:
        q = body[-1] + np.array([80.0, 0.0, -10.0])
        points.append(
            {
                "coordinates": {"world_space": q.tolist()},
                "type": {"keypoint_type": "body", "spine_segment_probabilities": [0.3, 0.3, 0.4]},
            }
        )
    path.write_text(json.dumps(points))
    return body


LUMBAR = ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]


def test_file_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = write_vid(tmp_path / "scan.json", LUMBAR, fp=True)
    out = tmp_path / "out.json"
    assert main(["label-detections", str(tmp_path / "scan.json"), "-o", str(out)]) == 0
    cents = read_native(out)
    assert cents.labels == LUMBAR
    assert np.allclose(cents.positions_mm, body)
    assert cents.confidence is not None and np.all(cents.confidence > 0.5)
    assert cents.method == "wang2021-detections-dp"
    assert cents.source == {"file": "scan.json", "format": "vid-keypoints"}
    assert "7 vertebrae T11..L5 (1 dropped)" in capsys.readouterr().out
    out_map = tmp_path / "out_map.json"
    args = ["label-detections", str(tmp_path / "scan.json"), "-o", str(out_map)]
    assert main([*args, "--decoder", "map"]) == 0
    assert read_native(out_map).labels == LUMBAR


def test_summary_counts_vertebrae_found_from_pedicles_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_vid(tmp_path / "scan.json", LUMBAR, missed="L3")
    out = tmp_path / "out.json"
    assert main(["label-detections", str(tmp_path / "scan.json"), "-o", str(out)]) == 0
    assert read_native(out).labels == LUMBAR
    text = capsys.readouterr().out
    assert "6 detections -> 7 vertebrae T11..L5 (0 dropped, 1 from pedicles only)" in text


def test_no_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_vid(tmp_path / "scan.json", LUMBAR)
    out = tmp_path / "out.json"
    out.write_text("keep me")
    assert main(["label-detections", str(tmp_path / "scan.json"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "--force" in err[0]
    assert out.read_text() == "keep me"
    args = ["label-detections", str(tmp_path / "scan.json"), "-o", str(out), "--force"]
    assert main([*args, "--solver", "wang"]) == 0
    assert read_native(out).method == "wang2021-detections"
    assert read_native(out).labels == LUMBAR


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1}', "not a VID keypoint file"),
        ('[{"type": {"keypoint_type": "body"}}]', "world_space"),
    ],
)
def test_bad_input_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out.json"
    assert main(["label-detections", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"spinelab: error: {bad}") and problem in err[0]
    assert not out.exists()


def test_missing_input_and_bad_priors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["label-detections", str(missing), "-o", str(tmp_path / "o.json")]) == 2
    assert str(missing) in capsys.readouterr().err
    write_vid(tmp_path / "scan.json", LUMBAR)
    args = ["label-detections", str(tmp_path / "scan.json"), "-o", str(tmp_path / "o.json")]
    assert main([*args, "--priors", str(tmp_path / "none")]) == 2
    assert "none.json" in capsys.readouterr().err


def test_folder_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_vid(src / "a.json", LUMBAR)
    write_vid(src / "b.json", ["T8", "T9", "T10", "T11", "T12", "L1"], fp=True)
    (src / "c.json").write_text("[]")  # no detections: an empty, valid result
    (src / "notes.txt").write_text("ignored")
    dst = tmp_path / "out"
    assert main(["label-detections", str(src), "-o", str(dst)]) == 0
    assert sorted(p.name for p in dst.iterdir()) == ["a.json", "b.json", "c.json"]
    assert read_native(dst / "a.json").labels == LUMBAR
    assert read_native(dst / "b.json").labels == ["T8", "T9", "T10", "T11", "T12", "L1"]
    assert len(read_native(dst / "c.json")) == 0
    capsys.readouterr()
    # outputs exist: refused before anything is written, then allowed with --force
    assert main(["label-detections", str(src), "-o", str(dst)]) == 2
    assert "a.json" in capsys.readouterr().err
    assert main(["label-detections", str(src), "-o", str(dst), "--force"]) == 0


def test_folder_with_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    write_vid(src / "a.json", LUMBAR)
    (src / "bad.json").write_text("{oops")
    write_vid(src / "z.json", LUMBAR)
    dst = tmp_path / "out"
    assert main(["label-detections", str(src), "-o", str(dst)]) == 1
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("spinelab: error")]
    assert len(err) == 1 and "bad.json" in err[0]
    assert sorted(p.name for p in dst.iterdir()) == ["a.json", "z.json"]


def test_folder_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["label-detections", str(empty), "-o", str(tmp_path / "o")]) == 2
    assert "no .json files" in capsys.readouterr().err
    src = tmp_path / "in"
    src.mkdir()
    write_vid(src / "a.json", LUMBAR)
    (tmp_path / "file").write_text("x")
    assert main(["label-detections", str(src), "-o", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err


@pytest.mark.shared_data
def test_real_vid_folder(vid_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    names = sorted(p.name for p in (vid_dir / "detections").glob("*.json"))[:5]
    for n in names:
        shutil.copy(vid_dir / "detections" / n, src / n)
    dst = tmp_path / "out"
    assert main(["-q", "label-detections", str(src), "-o", str(dst)]) == 0
    for n in names:
        cents = read_native(dst / n)
        assert len(cents) >= 2
        idx = [anatomy.chain_index(x) for x in cents.labels]
        assert idx == sorted(idx)


def test_net_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled chain model by default, --no-net leaves it out, --net STEM reads other
    weights (a missing or broken file: one line naming it, exit code 2)."""
    from spinelab.io.vid import read_vid
    from spinelab.postprocess.detection_net import default_detection_net
    from spinelab.postprocess.detections import DetectionLabelConfig, label_detections

    write_vid(tmp_path / "scan.json", LUMBAR, fp=True)
    scan = read_vid(tmp_path / "scan.json")
    args = (scan.body_mm, scan.segment_scores, PRIORS, scan.left_mm, scan.right_mm)
    base = ["label-detections", str(tmp_path / "scan.json"), "-o"]
    assert main([*base, str(tmp_path / "a.json")]) == 0
    assert main([*base, str(tmp_path / "b.json"), "--no-net"]) == 0
    default_detection_net().save(tmp_path / "copy")
    assert main([*base, str(tmp_path / "c.json"), "--net", str(tmp_path / "copy")]) == 0
    with_net = label_detections(*args)
    without = label_detections(*args, DetectionLabelConfig(net_weight=0.0))
    for name, want in (("a", with_net), ("b", without), ("c", with_net)):
        got = read_native(tmp_path / f"{name}.json")
        assert got.labels == want.labels
        assert got.confidence is not None and want.confidence is not None
        np.testing.assert_allclose(got.confidence, want.confidence, rtol=1e-6)
    assert with_net.confidence is not None and without.confidence is not None
    assert not np.allclose(with_net.confidence, without.confidence)
    capsys.readouterr()
    assert main([*base, str(tmp_path / "d.json"), "--net", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.json" in err[0]
    assert not (tmp_path / "d.json").exists()


@pytest.mark.shared_data
def test_t12_absent_rate_option(
    vid_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real VerSe 2020 spine with eleven thoracic vertebrae (annotated T11 then L1): read as
    such with ``--t12-absent-rate 0.005``, not by default; a rate outside [0, 1) is refused
    with one line."""
    src = vid_dir / "detections" / "HbWNDQy4WdRN.json"
    base = ["-q", "label-detections", str(src), "-o"]
    assert main([*base, str(tmp_path / "on.json"), "--t12-absent-rate", "0.005"]) == 0
    assert main([*base, str(tmp_path / "off.json")]) == 0
    on, off = read_native(tmp_path / "on.json"), read_native(tmp_path / "off.json")
    assert "T12" not in on.labels and on.labels[on.labels.index("T11") + 1] == "L1"
    assert "T12" in off.labels
    capsys.readouterr()
    assert main([*base, str(tmp_path / "bad.json"), "--t12-absent-rate", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--t12-absent-rate" in err[0]
    assert not (tmp_path / "bad.json").exists()


def test_net_max_detections_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 17-vertebra spine is labelled without the chain model by default (the summary says
    so), with it under ``--net-max-detections none`` or a higher limit; a bad value is refused
    with one line and nothing written."""
    from spinelab.io.vid import read_vid
    from spinelab.postprocess.detections import DetectionLabelConfig, label_detections

    labels = [f"T{i}" for i in range(1, 13)] + ["L1", "L2", "L3", "L4", "L5"]
    write_vid(tmp_path / "scan.json", labels)
    scan = read_vid(tmp_path / "scan.json")
    args = (scan.body_mm, scan.segment_scores, PRIORS, scan.left_mm, scan.right_mm)
    base = ["label-detections", str(tmp_path / "scan.json"), "-o"]
    capsys.readouterr()
    assert main([*base, str(tmp_path / "a.json")]) == 0
    assert "without the chain model" in capsys.readouterr().out
    assert main([*base, str(tmp_path / "b.json"), "--net-max-detections", "none"]) == 0
    assert main([*base, str(tmp_path / "c.json"), "--net-max-detections", "30"]) == 0
    assert "without the chain model" not in capsys.readouterr().out
    with_net = label_detections(*args, DetectionLabelConfig(net_max_detections=None))
    without = label_detections(*args, net=None)
    for name, want in (("a", without), ("b", with_net), ("c", with_net)):
        got = read_native(tmp_path / f"{name}.json")
        assert got.labels == want.labels == labels
        assert got.confidence is not None and want.confidence is not None
        np.testing.assert_allclose(got.confidence, want.confidence, rtol=1e-6)
    for bad in ("-1", "many"):
        assert main([*base, str(tmp_path / "d.json"), "--net-max-detections", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--net-max-detections {bad}" in err[0]
    assert not (tmp_path / "d.json").exists()
