"""``spinelab evaluate``: files, folders, JSON output and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spinelab.cli import main
from spinelab.commands.evaluate import landmark_stem, pair_files
from spinelab.io.landmarks import write_centroids
from spinelab.io.native import write_native
from spinelab.structures import Centroids, Volume

LUMBAR = ["L1", "L2", "L3", "L4", "L5"]


def spine(labels: list[str], dz_mm: float = -32.0) -> Centroids:
    """A straight spine, one vertebra every 32 mm along -z (caudal), LPS mm."""
    pos = np.array([[4.0, 150.0, -300.0 + dz_mm * i] for i in range(len(labels))])
    return Centroids(labels, pos)


def shifted(c: Centroids, label: str, d: tuple[float, float, float]) -> Centroids:
    pos = c.positions_mm.copy()
    pos[c.labels.index(label)] += d
    return Centroids(list(c.labels), pos)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.startswith("spinelab: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture()
def case_files(tmp_path: Path) -> tuple[Path, Path]:
    """pred.json (L3 21 mm off, L5 missing) and gt.json (L1-L5)."""
    gt = spine(LUMBAR)
    pred = shifted(shifted(gt, "L3", (21.0, 0, 0)), "L1", (0, 3.0, 4.0)).subset(LUMBAR[:4])
    p, g = tmp_path / "pred.json", tmp_path / "gt.json"
    write_native(pred, p)
    write_native(gt, g)
    return p, g


def test_files_table_on_stdout(case_files: tuple[Path, Path], capsys) -> None:
    p, g = case_files
    rc, out, err = run_cli(capsys, str(p), str(g))
    assert rc == 0, err
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.split()}
    # Identified: L1 (5 mm), L2, L4 (0 mm); L3 21 mm off; L5 missing -> 3/5.
    assert rows["All"] == ["All", "5", "1.67", "2.36", "60.0%"]
    assert rows["Lumbar"] == ["Lumbar", "5", "1.67", "2.36", "60.0%"]
    assert rows["Thoracic"] == ["Thoracic", "0", "-", "-", "-"]
    assert rows["L3"] == ["L3", "1", "0", "0.0%"]
    assert "Scans with every vertebra identified: 0/1 (0.0%)" in out


def test_json_output_content(case_files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    p, g = case_files
    out_json = tmp_path / "res" / "eval.json"
    rc, _, err = run_cli(capsys, str(p), str(g), "--json", str(out_json))
    assert rc == 0, err
    d = json.loads(out_json.read_text())
    assert d["all"]["n"] == 5 and d["all"]["id_rate"] == pytest.approx(0.6)
    assert d["all"]["mean_mm"] == pytest.approx(5.0 / 3)
    assert d["all"]["std_mm"] == pytest.approx(np.std([5.0, 0.0, 0.0]))
    assert d["cervical"] == {"n": 0, "id_rate": None, "mean_mm": None, "std_mm": None}
    assert d["per_vertebra"]["L5"] == {"n": 1, "id_rate": 0.0}
    assert list(d["per_vertebra"]) == LUMBAR
    assert d["scans_all_correct"] == 0.0 and d["n_scans"] == 1
    assert d["protocol"] == "spineweb" and d["max_dist_mm"] == 20.0
    assert d["cases"] == [
        {
            "name": "gt",
            "n": 5,
            "n_identified": 3,
            "all_correct": False,
            "missed": ["L3", "L5"],
            "extra": [],
        }
    ]
    assert "NaN" not in out_json.read_text()
    # --max-dist 25 turns the 21 mm L3 into an identification.
    out2 = tmp_path / "eval25.json"
    assert main(["evaluate", str(p), str(g), "--max-dist", "25", "--json", str(out2)]) == 0
    assert json.loads(out2.read_text())["all"]["id_rate"] == pytest.approx(0.8)


def test_json_never_overwritten_without_force(
    case_files: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    p, g = case_files
    out_json = tmp_path / "eval.json"
    out_json.write_text("keep me")
    rc, out, err = run_cli(capsys, str(p), str(g), "--json", str(out_json))
    assert rc == 2 and out == ""
    assert_one_line_error(err, str(out_json), "--force")
    assert out_json.read_text() == "keep me"
    rc, _, err = run_cli(capsys, str(p), str(g), "--json", str(out_json), "--force")
    assert rc == 0, err
    assert json.loads(out_json.read_text())["n_scans"] == 1
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".")] == []  # no temp left


def test_verse_protocol_flag(tmp_path: Path, capsys) -> None:
    # L2 drifted 17 mm towards L1, and L1 was not predicted: VerSe counts L2, spineweb not.
    gt = spine(LUMBAR)
    pred = shifted(gt, "L2", (0, 0, 17.0)).subset(LUMBAR[1:])
    write_native(pred, tmp_path / "p.json")
    write_native(gt, tmp_path / "g.json")
    outs = {}
    for protocol in ("spineweb", "verse"):
        js = tmp_path / f"{protocol}.json"
        rc, _, err = run_cli(
            capsys,
            str(tmp_path / "p.json"),
            str(tmp_path / "g.json"),
            "--protocol",
            protocol,
            "--json",
            str(js),
        )
        assert rc == 0, err
        outs[protocol] = json.loads(js.read_text())
    assert outs["spineweb"]["per_vertebra"]["L2"]["id_rate"] == 0.0
    assert outs["verse"]["per_vertebra"]["L2"]["id_rate"] == 1.0
    assert outs["verse"]["protocol"] == "verse"


def _write_folders(tmp_path: Path) -> tuple[Path, Path]:
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    gt_a, gt_b = spine(LUMBAR), spine(["T11", "T12", "L1"])
    write_native(gt_a, gt_dir / "a.json")
    write_native(gt_b, gt_dir / "b.json")
    write_native(gt_a, pred_dir / "a.json")  # perfect
    # b as CSV (pairs by stem "b"); T12 one level off onto L1's truth.
    wrong = Centroids(["T11", "T12"], gt_b.positions_mm[[0, 2]])
    write_centroids(wrong, pred_dir / "b.csv")
    (gt_dir / "notes.txt").write_text("ignored: not a landmark file")
    return pred_dir, gt_dir


def test_folders_paired_by_name(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _write_folders(tmp_path)
    js = tmp_path / "out.json"
    rc, out, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--json", str(js), "--per-scan")
    assert rc == 0, err
    assert "a: 5/5 identified" in out
    assert "b: 1/3 identified  missed: T12 L1" in out
    d = json.loads(js.read_text())
    assert d["n_scans"] == 2 and d["scans_all_correct"] == 0.5
    assert d["all"]["n"] == 8 and d["all"]["id_rate"] == pytest.approx(6 / 8)
    assert d["thoracic"]["n"] == 2 and d["thoracic"]["id_rate"] == 0.5
    assert [c["name"] for c in d["cases"]] == ["a", "b"]


def test_landmark_stems_and_pairing(tmp_path: Path) -> None:
    assert landmark_stem("sub-verse004_seg-subreg_ctd.json") == "sub-verse004_seg-subreg"
    assert landmark_stem("scan7.mrk.json") == "scan7"
    assert landmark_stem("scan7.LML") == "scan7"
    assert landmark_stem("scan7.csv") == "scan7"
    assert landmark_stem("scan7.nii.gz") is None
    pred_dir, gt_dir = tmp_path / "p", tmp_path / "g"
    pred_dir.mkdir()
    gt_dir.mkdir()
    for name in ("s1.json", "s2.mrk.json"):
        (pred_dir / name).write_text("{}")
    for name in ("s1_ctd.json", "s2.csv", "s2.nii.gz"):
        (gt_dir / name).write_text("")
    got = [(n, p.name, g.name) for n, p, g in pair_files(pred_dir, gt_dir)]
    assert got == [("s1", "s1.json", "s1_ctd.json"), ("s2", "s2.mrk.json", "s2.csv")]


def test_unpaired_folder_files(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _write_folders(tmp_path)
    write_native(spine(LUMBAR), gt_dir / "c.json")
    write_native(spine(LUMBAR), gt_dir / "d.json")
    js = tmp_path / "out.json"
    rc, out, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--json", str(js))
    assert rc == 2 and out == ""
    assert_one_line_error(err, str(gt_dir / "c.json"), "unpaired ground truth", "d.json")
    assert not js.exists()
    # An unpaired prediction is named too.
    (gt_dir / "c.json").unlink()
    (gt_dir / "d.json").unlink()
    write_native(spine(LUMBAR), pred_dir / "zz.json")
    rc, _, err = run_cli(capsys, str(pred_dir), str(gt_dir))
    assert rc == 2
    assert_one_line_error(err, str(pred_dir / "zz.json"), "unpaired prediction")


def test_ambiguous_stems_in_a_folder(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _write_folders(tmp_path)
    write_centroids(spine(LUMBAR), gt_dir / "a.csv")
    rc, _, err = run_cli(capsys, str(pred_dir), str(gt_dir))
    assert rc == 2
    assert_one_line_error(err, "ambiguous", "a.json")


def test_one_unreadable_case_stops_the_folder(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _write_folders(tmp_path)
    (pred_dir / "b.csv").unlink()
    (pred_dir / "b.json").write_text("{not json")
    js = tmp_path / "out.json"
    rc, out, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--json", str(js))
    assert rc == 2 and out == ""
    assert_one_line_error(err, str(pred_dir / "b.json"), "not valid JSON")
    assert not js.exists()


def test_missing_file(case_files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    p, _ = case_files
    missing = tmp_path / "nope.json"
    rc, _, err = run_cli(capsys, str(p), str(missing))
    assert rc == 2
    assert_one_line_error(err, str(missing), "not found")


def test_file_against_folder(case_files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    p, _ = case_files
    rc, _, err = run_cli(capsys, str(p), str(tmp_path))
    assert rc == 2
    assert_one_line_error(err, str(p), "two files or two folders")


def test_empty_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rc, _, err = run_cli(capsys, str(tmp_path / "a"), str(tmp_path / "b"))
    assert rc == 2
    assert_one_line_error(err, "no landmark files")


def test_unknown_label(case_files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    p, g = case_files
    obj = json.loads(g.read_text())
    obj["vertebrae"][2]["label"] = "L9"
    del obj["vertebrae"][2]["verse_id"]
    bad = tmp_path / "bad_gt.json"
    bad.write_text(json.dumps(obj))
    rc, _, err = run_cli(capsys, str(p), str(bad))
    assert rc == 2
    assert_one_line_error(err, str(bad), "L9")
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text("label,x,y,z\nL1,0,0,0\nQ7,1,2,3\n")
    rc, _, err = run_cli(capsys, str(csv_bad), str(g))
    assert rc == 2
    assert_one_line_error(err, str(csv_bad), "Q7")


def test_corrupt_file(case_files: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    _, g = case_files
    bad = tmp_path / "pred.json"
    bad.write_text('{"format": "spinelab-centroids/1", "vertebrae": [{"label": "L1"}]}')
    rc, _, err = run_cli(capsys, str(bad), str(g))
    assert rc == 2
    assert_one_line_error(err, str(bad), "position_mm")


def _reference_image(tmp_path: Path) -> tuple[Path, Volume]:
    from spinelab.io.images import write_image

    affine = np.array(
        [[-1.5, 0, 0, 40.0], [0, -1.5, 0, 200.0], [0, 0, 2.0, -420.0], [0, 0, 0, 1.0]]
    )
    vol = Volume(np.zeros((40, 50, 90), dtype=np.int16), affine)
    path = tmp_path / "sub-01_ct.nii.gz"
    write_image(vol, path)
    return path, vol


def test_verse_file_needs_reference_and_works_with_it(tmp_path: Path, capsys) -> None:
    ref, vol = _reference_image(tmp_path)
    ijk = np.array([[20.0, 25.0, 70.0], [20.0, 26.0, 55.0], [21.0, 27.0, 40.0]])
    gt = Centroids(["L1", "L2", "L3"], vol.ijk_to_world(ijk))
    gt_file = tmp_path / "sub-01_ctd.json"
    write_centroids(gt, gt_file, reference=vol)
    pred = tmp_path / "sub-01.json"
    write_native(shifted(gt, "L2", (0, 0, 2.0)), pred)
    rc, _, err = run_cli(capsys, str(pred), str(gt_file))
    assert rc == 2
    assert_one_line_error(err, str(gt_file), "--reference")
    js = tmp_path / "out.json"
    rc, _, err = run_cli(
        capsys, str(pred), str(gt_file), "--reference", str(ref), "--json", str(js)
    )
    assert rc == 0, err
    d = json.loads(js.read_text())
    assert d["all"]["id_rate"] == 1.0
    assert d["all"]["mean_mm"] == pytest.approx(2.0 / 3, abs=1e-6)


def test_verse_folder_with_reference_folder(tmp_path: Path, capsys) -> None:
    ref, vol = _reference_image(tmp_path)
    ref_dir = tmp_path / "images"
    ref_dir.mkdir()
    ref.rename(ref_dir / "sub-01.nii.gz")
    gt = Centroids(["L1", "L2"], vol.ijk_to_world(np.array([[20.0, 25.0, 70.0], [20, 25, 55]])))
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    pred_dir.mkdir()
    gt_dir.mkdir()
    write_centroids(gt, gt_dir / "sub-01_ctd.json", reference=vol)
    write_native(gt, pred_dir / "sub-01.json")
    rc, out, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--reference", str(ref_dir))
    assert rc == 0, err
    assert "Scans with every vertebra identified: 1/1 (100.0%)" in out
    rc, _, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--reference", str(tmp_path / "x"))
    assert rc == 2
    assert_one_line_error(err, "reference image not found")
    # the reference folder lacks this scan's image: say which image is missing
    (ref_dir / "sub-01.nii.gz").rename(ref_dir / "other.nii.gz")
    rc, _, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--reference", str(ref_dir))
    assert rc == 2
    assert_one_line_error(
        err, str(gt_dir / "sub-01_ctd.json"), f"{ref_dir} has no image sub-01.nii.gz"
    )


def test_bad_max_dist(case_files: tuple[Path, Path], capsys) -> None:
    p, g = case_files
    rc, _, err = run_cli(capsys, str(p), str(g), "--max-dist", "-1")
    assert rc == 2
    assert_one_line_error(err, "--max-dist")


@pytest.mark.shared_data
def test_real_vid_ground_truth_folder(vid_dir: Path, tmp_path: Path, capsys) -> None:
    """Real spines: GT files against themselves (perfect) and with one vertebra dropped."""
    from spinelab.io.vid import read_vid

    files = sorted((vid_dir / "ground_truth").glob("*.json"))[:12]
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    n_total = 0
    for f in files:
        (gt_dir / f.name).write_bytes(f.read_bytes())
        c = read_vid(f).centroids()
        n_total += len(c)
        write_native(c.subset(c.labels[1:]), pred_dir / f.name)  # drop the most cranial one
    js = tmp_path / "out.json"
    rc, _, err = run_cli(capsys, str(pred_dir), str(gt_dir), "--json", str(js))
    assert rc == 0, err
    d = json.loads(js.read_text())
    assert d["n_scans"] == len(files) and d["all"]["n"] == n_total
    assert d["all"]["id_rate"] == pytest.approx((n_total - len(files)) / n_total)
    assert d["all"]["mean_mm"] == 0.0 and d["scans_all_correct"] == 0.0


def test_json_into_a_folder_is_refused(case_files: tuple[Path, Path], tmp_path: Path, capsys):
    p, g = case_files
    rc, _, err = run_cli(capsys, str(p), str(g), "--json", str(tmp_path), "--force")
    assert rc == 2
    assert_one_line_error(err, str(tmp_path), "folder")
