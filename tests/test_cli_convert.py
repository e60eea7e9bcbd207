"""``spinelab convert``: every format through the CLI, defaults, --force and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinelab.cli import main
from spinelab.io.landmarks import read_centroids, write_centroids
from spinelab.structures import Centroids, Volume

AFFINE_RAS = np.array([[0, 0, 1.2, -30], [-0.7, 0, 0, 20], [0, 3.0, 0, -80], [0, 0, 0, 1.0]])
SHAPE = (60, 70, 50)


@pytest.fixture()
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "ref.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.int16), AFFINE_RAS), str(path))
    return path


@pytest.fixture()
def spine(tmp_path: Path) -> tuple[Path, Centroids]:
    vol = Volume(np.zeros(SHAPE, np.int8), np.diag([-1.0, -1, 1, 1]) @ AFFINE_RAS)
    ijk = np.column_stack([np.linspace(10.2, 50.1, 6), np.linspace(5.5, 60.3, 6), np.full(6, 25.7)])
    c = Centroids(["T12", "L1", "L2", "L3", "L4", "L5"], vol.ijk_to_world(ijk))
    return write_centroids(c, tmp_path / "spine.json"), c


def _one_error_line(err: str, path: Path | str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"spinelab: error: {path}: "), err
    assert "Traceback" not in err
    return lines[0]


def test_chain_through_every_format(
    tmp_path: Path, reference: Path, spine: tuple[Path, Centroids]
) -> None:
    src, c = spine
    chain = ["a_ctd.json", "b.lml", "c.mrk.json", "d.csv", "e.json", "f_ctd.json", "g.csv"]
    prev = src
    for name in chain:
        out = tmp_path / name
        assert main(["convert", str(prev), "-o", str(out), "--reference", str(reference)]) == 0
        back = read_centroids(out, reference=reference)
        assert back.labels == c.labels
        np.testing.assert_allclose(back.positions_mm, c.positions_mm, atol=0.01)
        prev = out
    assert json.loads((tmp_path / "a_ctd.json").read_text())[0] == {"direction": ["P", "S", "R"]}
    assert json.loads((tmp_path / "e.json").read_text())["source"]["image"] == str(reference)


def test_warns_when_reference_differs_from_source(
    tmp_path: Path, reference: Path, spine: tuple[Path, Centroids], caplog: pytest.LogCaptureFixture
) -> None:
    src, c = spine
    c.source = {"image": "other.nii.gz", "shape": [10, 10, 10], "affine_lps": np.eye(4).tolist()}
    other = write_centroids(c, tmp_path / "other.json")
    with caplog.at_level("WARNING"):
        assert (
            main(
                ["convert", str(src), "-o", str(tmp_path / "a.json"), "--reference", str(reference)]
            )
            == 0
        )
    assert "another geometry" not in caplog.text
    with caplog.at_level("WARNING"):
        assert (
            main(
                [
                    "convert",
                    str(other),
                    "-o",
                    str(tmp_path / "b.json"),
                    "--reference",
                    str(reference),
                ]
            )
            == 0
        )
    assert "another geometry" in caplog.text


def test_to_overrides_suffix_and_default_is_native(
    tmp_path: Path, spine: tuple[Path, Centroids]
) -> None:
    src, c = spine
    out = tmp_path / "points.txt"
    assert main(["convert", str(src), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["format"] == "spinelab-centroids/1"
    out2 = tmp_path / "points2.txt"
    assert main(["convert", str(src), "-o", str(out2), "--to", "csv"]) == 0
    assert out2.read_text().startswith("label,x,y,z\n")
    assert read_centroids(out2, fmt="csv").labels == c.labels


def test_force(
    tmp_path: Path, spine: tuple[Path, Centroids], capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = spine
    out = tmp_path / "x.csv"
    out.write_text("keep me\n")
    assert main(["convert", str(src), "-o", str(out)]) == 2
    assert "use --force" in _one_error_line(capsys.readouterr().err, out)
    assert out.read_text() == "keep me\n"
    assert main(["convert", str(src), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("label,x,y,z")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spine.json", "x.csv"]


def test_verse_without_reference(
    tmp_path: Path,
    reference: Path,
    spine: tuple[Path, Centroids],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, _ = spine
    out = tmp_path / "x_ctd.json"
    assert main(["convert", str(src), "-o", str(out)]) == 2
    assert "--reference" in _one_error_line(capsys.readouterr().err, out)
    assert not out.exists()
    assert main(["convert", str(src), "-o", str(out), "--reference", str(reference)]) == 0
    back = tmp_path / "back.json"
    assert main(["convert", str(out), "-o", str(back)]) == 2
    assert "--reference" in _one_error_line(capsys.readouterr().err, out)
    lml = tmp_path / "y.lml"
    assert main(["convert", str(src), "-o", str(lml)]) == 2
    assert "--reference" in _one_error_line(capsys.readouterr().err, lml)


def test_bad_inputs(
    tmp_path: Path, spine: tuple[Path, Centroids], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.json"
    assert main(["convert", str(missing), "-o", str(tmp_path / "o.csv")]) == 2
    assert "file not found" in _one_error_line(capsys.readouterr().err, missing)

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "spinelab-centroids/1", "vertebrae": [')
    assert main(["convert", str(corrupt), "-o", str(tmp_path / "o.csv")]) == 2
    assert "not valid JSON" in _one_error_line(capsys.readouterr().err, corrupt)

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("label,x,y,z\nL1,1,2,3\nL9,4,5,6\n")
    assert main(["convert", str(unknown), "-o", str(tmp_path / "o.json")]) == 2
    assert "unknown vertebra label 'L9'" in _one_error_line(capsys.readouterr().err, unknown)

    src, _ = spine
    bad_ref = tmp_path / "absent_ct.nii.gz"
    out = tmp_path / "o_ctd.json"
    assert main(["convert", str(src), "-o", str(out), "--reference", str(bad_ref)]) == 2
    assert "file not found" in _one_error_line(capsys.readouterr().err, bad_ref)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.json").exists()


@pytest.mark.shared_data
def test_vid_input(vid_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = sorted((vid_dir / "ground_truth").glob("*.json"))[0]
    out = tmp_path / "gt.mrk.json"
    assert main(["convert", str(gt), "-o", str(out)]) == 0
    raw = json.loads(gt.read_text())
    body = {
        k["type"]["spine_level"]: k["coordinates"]["world_space"]
        for k in raw
        if k["type"]["keypoint_type"] == "body"
    }
    c = read_centroids(out)
    for label, pos in body.items():
        np.testing.assert_allclose(c.position(label), pos, atol=0.01)
    det = sorted((vid_dir / "detections").glob("*.json"))[0]
    assert main(["convert", str(det), "-o", str(tmp_path / "det.json")]) == 2
    assert "spine_level" in _one_error_line(capsys.readouterr().err, det)


@pytest.mark.shared_data
def test_dicom_and_nifti_references_agree(shared_data: Path, tmp_path: Path) -> None:
    from spinelab.io.images import read_image, write_image

    slab = shared_data / "ct" / "totalsegmentator_example" / "dicom_slab"
    nifti = write_image(read_image(slab), tmp_path / "slab.nii.gz")
    vol = read_image(nifti)
    c = Centroids(["L1", "L2"], vol.ijk_to_world([[256.3, 240.1, 4.5], [250.0, 250.0, 15.25]]))
    src = write_centroids(c, tmp_path / "c.json")
    out = tmp_path / "c_ctd.json"
    assert main(["convert", str(src), "-o", str(out), "--reference", str(slab)]) == 0
    back = tmp_path / "back.csv"
    assert main(["convert", str(out), "-o", str(back), "--reference", str(nifti)]) == 0
    np.testing.assert_allclose(read_centroids(back).positions_mm, c.positions_mm, atol=0.01)
