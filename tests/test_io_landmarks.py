"""Centroid formats: every format in both directions, voxel formats against hand-computed
positions, format detection, and bad input."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinelab.errors import OutputExistsError, SpinelabInputError
from spinelab.io.landmarks import (
    FORMATS,
    WRITE_FORMATS,
    detect_format,
    read_centroids,
    write_centroids,
)
from spinelab.structures import Centroids, Volume

SUFFIX = {
    "native": "c.json",
    "verse": "c_ctd.json",
    "lml": "c.lml",
    "slicer": "c.mrk.json",
    "csv": "c.csv",
}


def _ras_to_lps(a: list[list[float]]) -> np.ndarray:
    return np.diag([-1.0, -1, 1, 1]) @ np.array(a, dtype=float)


# reference grids of shape (40, 50, 60)
C30, S30 = math.sqrt(3) / 2, 0.5
REFS = {
    "RAS": _ras_to_lps([[0.8, 0, 0, -20], [0, 0.9, 0, 10], [0, 0, 2.5, -40], [0, 0, 0, 1]]),
    "LPS": _ras_to_lps([[-0.8, 0, 0, 20], [0, -0.9, 0, 10], [0, 0, 2.5, -40], [0, 0, 0, 1]]),
    "PIR": _ras_to_lps([[0, 0, 1.5, -40], [-1.5, 0, 0, 30], [0, -1.5, 0, 40], [0, 0, 0, 1]]),
    "PSR": _ras_to_lps([[0, 0, 1.2, -30], [-0.7, 0, 0, 20], [0, 3.0, 0, -80], [0, 0, 0, 1]]),
    "oblique": _ras_to_lps(
        [[C30, -2 * S30, 0, 5], [S30, 2 * C30, 0, -5], [0, 0, 3.0, -60], [0, 0, 0, 1]]
    ),
}
REF_SHAPE = (40, 50, 60)


def _ref(name: str) -> Volume:
    return Volume(np.zeros(REF_SHAPE, dtype=np.int16), REFS[name])


def _spine(vol: Volume, with_confidence: bool = False) -> Centroids:
    """T12..S2 at fractional voxel positions inside the reference grid (LPS mm)."""
    labels = ["T12", "L1", "L2", "L3", "L4", "L5", "L6", "S1", "S2"]
    rng = np.random.default_rng(3)
    ijk = np.column_stack(
        [
            np.linspace(10.3, 30.7, len(labels)),
            np.linspace(12.1, 40.9, len(labels)),
            np.linspace(5.5, 55.25, len(labels)),
        ]
    )
    conf = rng.uniform(0.5, 1.0, len(labels)) if with_confidence else None
    return Centroids(labels, vol.ijk_to_world(ijk), conf)


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
@pytest.mark.parametrize("ref", sorted(REFS))
def test_round_trip_every_format(tmp_path: Path, fmt: str, ref: str) -> None:
    vol = _ref(ref)
    c = _spine(vol)
    out = write_centroids(c, tmp_path / SUFFIX[fmt], reference=vol)
    assert detect_format(out) == fmt
    back = read_centroids(out, reference=vol)
    expected = c.subset([x for x in c.labels if x != "S2"]) if fmt == "verse" else c
    assert back.labels == expected.labels
    np.testing.assert_allclose(back.positions_mm, expected.positions_mm, atol=0.01)
    assert np.max(np.abs(back.positions_mm - expected.positions_mm)) < 1e-6


@pytest.mark.parametrize("fmt", ["native", "csv"])
def test_confidence_survives_round_trip(tmp_path: Path, fmt: str) -> None:
    c = _spine(_ref("RAS"), with_confidence=True)
    back = read_centroids(write_centroids(c, tmp_path / SUFFIX[fmt]))
    assert back.confidence is not None and c.confidence is not None
    np.testing.assert_allclose(back.confidence, c.confidence, atol=1e-12)


def test_formats_lists() -> None:
    assert FORMATS == ("native", "verse", "lml", "slicer", "csv", "vid")
    assert "vid" not in WRITE_FORMATS


# --------------------------------------------------------------------------------------------
# VerSe


def test_verse_read_with_other_direction_hand_computed(tmp_path: Path) -> None:
    # Reference: RAS, shape (40, 50, 60), spacing (0.8, 0.9, 2.5), origin RAS (-20, 10, -40).
    # A VerSe file in PIR: X runs P (original j reversed), Y runs I (original k reversed),
    # Z runs R (original i). So (X, Y, Z) = (20, 30, 7) is ijk = (7, 49 - 20, 59 - 30) =
    # (7, 29, 29); RAS = (-20 + 5.6, 10 + 26.1, -40 + 72.5) = (-14.4, 36.1, 32.5);
    # LPS = (14.4, -36.1, 32.5).
    path = tmp_path / "sub_ctd.json"
    entries = [
        {"direction": ["P", "I", "R"]},
        {"label": 20, "X": 20.0, "Y": 30.0, "Z": 7.0},
        {"label": 21, "X": float("nan"), "Y": float("nan"), "Z": float("nan")},
    ]
    path.write_text(json.dumps(entries))
    c = read_centroids(path, reference=_ref("RAS"))
    assert c.labels == ["L1"]  # the NaN entry is skipped
    np.testing.assert_allclose(c.position("L1"), [14.4, -36.1, 32.5], atol=1e-9)
    assert c.source is not None and c.source["shape"] == list(REF_SHAPE)


def test_verse_any_direction_gives_same_world(tmp_path: Path) -> None:
    vol = _ref("oblique")
    c = _spine(vol).subset(["L1", "L2", "L3"])
    ijk = vol.world_to_ijk(c.positions_mm)
    # the same points written in the grid reoriented to A-S-L, computed by hand: the oblique
    # grid's own codes are R, A, S (30 degrees off), so A = j, S = k and L = i reversed (39 - i).
    assert vol.orientation_codes() == ("R", "A", "S")
    entries: list[dict[str, object]] = [{"direction": ["A", "S", "L"]}]
    for label, p in zip(c.labels, ijk):
        vid = {"L1": 20, "L2": 21, "L3": 22}[label]
        entries.append({"label": vid, "X": p[1], "Y": p[2], "Z": 39 - p[0]})
    path = tmp_path / "asl_ctd.json"
    path.write_text(json.dumps(entries))
    back = read_centroids(path, reference=vol)
    np.testing.assert_allclose(back.positions_mm, c.positions_mm, atol=1e-9)


def test_verse_written_direction_is_reference_codes(tmp_path: Path) -> None:
    vol = _ref("PIR")
    c = _spine(vol)
    out = write_centroids(c, tmp_path / "x_ctd.json", reference=vol)
    data = json.loads(out.read_text())
    assert data[0] == {"direction": ["P", "I", "R"]}
    ijk = vol.world_to_ijk(c.position("L1"))
    l1 = next(e for e in data[1:] if e["label"] == 20)
    np.testing.assert_allclose([l1["X"], l1["Y"], l1["Z"]], ijk, atol=1e-9)
    assert [e["label"] for e in data[1:]] == [19, 20, 21, 22, 23, 24, 25, 26]


def test_verse_s2_and_coccyx_are_skipped_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vol = _ref("LPS")
    with caplog.at_level(logging.WARNING):
        out = write_centroids(_spine(vol), tmp_path / "x_ctd.json", reference=vol)
    assert "S2" in caplog.text
    data = json.loads(out.read_text())
    data.append({"label": 27, "X": 1.0, "Y": 2.0, "Z": 3.0})
    out.write_text(json.dumps(data))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        back = read_centroids(out, reference=vol)
    assert "coccyx" in caplog.text
    assert "S2" not in back.labels and back.labels[-1] == "S1"


def test_verse_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "x_ctd.json"
    path.write_text(
        json.dumps([{"direction": ["P", "I", "R"]}, {"label": 20, "X": 1, "Y": 2, "Z": 3}])
    )
    with pytest.raises(SpinelabInputError, match="reference") as exc:
        read_centroids(path)
    assert exc.value.path == str(path)
    with pytest.raises(SpinelabInputError, match="reference"):
        write_centroids(_spine(_ref("RAS")), tmp_path / "y_ctd.json")
    path.write_text(
        json.dumps([{"direction": ["P", "I", "R"]}, {"label": 31, "X": 1, "Y": 2, "Z": 3}])
    )
    with pytest.raises(SpinelabInputError, match="unknown VerSe label 31"):
        read_centroids(path, reference=_ref("RAS"))
    path.write_text(json.dumps([{"direction": ["P", "I", "P"]}]))
    with pytest.raises(SpinelabInputError, match="direction"):
        read_centroids(path, reference=_ref("RAS"))


# --------------------------------------------------------------------------------------------
# .lml


def test_lml_is_voxel_index_times_spacing(tmp_path: Path) -> None:
    vol = _ref("oblique")  # spacing (1, 2, 3): origin and direction play no part
    c = Centroids(["L1"], vol.ijk_to_world([[2.0, 3.0, 4.0]]))
    out = write_centroids(c, tmp_path / "x.lml", reference=vol)
    lines = out.read_text().splitlines()
    parts = lines[1].split("\t")
    assert parts[:2] == ["200", "L1_center"]
    np.testing.assert_allclose([float(v) for v in parts[2:]], [2.0, 6.0, 12.0], atol=1e-9)
    # a file as SpineWeb ships it: header, then tab-separated rows
    src = tmp_path / "scan.lml"
    src.write_text("#Landmarks v1\n200\tL1_center\t2.0\t6.0\t12.0\n210\tL2_center\t4\t8\t15\n")
    back = read_centroids(src, reference=vol)
    np.testing.assert_allclose(back.position("L1"), vol.ijk_to_world([2, 3, 4]), atol=1e-9)
    np.testing.assert_allclose(back.position("L2"), vol.ijk_to_world([4, 4, 5]), atol=1e-9)


def test_lml_bad_rows_and_missing_reference(tmp_path: Path) -> None:
    src = tmp_path / "scan.lml"
    src.write_text("header\n200\tL1_center\t2.0\t6.0\t12.0\n")
    with pytest.raises(SpinelabInputError, match="reference"):
        read_centroids(src)
    src.write_text("header\n200\tL1_center\t2.0\t6.0\n")
    with pytest.raises(SpinelabInputError, match="line 2"):
        read_centroids(src, reference=_ref("RAS"))
    src.write_text("header\n200\tQ7_center\t2.0\t6.0\t1\n")
    with pytest.raises(SpinelabInputError, match="unknown vertebra label"):
        read_centroids(src, reference=_ref("RAS"))


# --------------------------------------------------------------------------------------------
# Slicer, CSV, native, VID


def test_slicer_written_schema_and_ras_read(tmp_path: Path) -> None:
    c = _spine(_ref("LPS"))
    out = write_centroids(c, tmp_path / "x.mrk.json")
    doc = json.loads(out.read_text())
    assert "markups-schema-v1.0" in doc["@schema"]
    m = doc["markups"][0]
    assert m["type"] == "Fiducial" and m["coordinateSystem"] == "LPS"
    assert [p["label"] for p in m["controlPoints"]] == c.labels
    np.testing.assert_allclose(m["controlPoints"][0]["position"], c.positions_mm[0])
    # the same file in RAS gives the same LPS points
    m["coordinateSystem"] = "RAS"
    for p in m["controlPoints"]:
        p["position"] = [-p["position"][0], -p["position"][1], p["position"][2]]
    m["controlPoints"].append({"label": "C1", "position": [0, 0, 0], "positionStatus": "undefined"})
    ras = tmp_path / "ras.mrk.json"
    ras.write_text(json.dumps(doc))
    back = read_centroids(ras)
    assert back.labels == c.labels
    np.testing.assert_allclose(back.positions_mm, c.positions_mm, atol=1e-12)


def test_csv_hand_written_and_bad_labels(tmp_path: Path) -> None:
    src = tmp_path / "pts.csv"
    src.write_text("label,x,y,z\nL2, 1.5, -2, 3\nl1,4,5,6\n20,7,8,9\n")
    with pytest.raises(SpinelabInputError, match="duplicate"):
        read_centroids(src)
    src.write_text("label,x,y,z\nL2, 1.5, -2, 3\nl1,4,5,6\n")
    c = read_centroids(src)
    assert c.labels == ["L1", "L2"]  # chain order
    np.testing.assert_allclose(c.position("L2"), [1.5, -2, 3])
    src.write_text("label,x,y,z\nL2,1,2,3\nX9,4,5,6\n")
    with pytest.raises(SpinelabInputError, match=r"line 3: unknown vertebra label 'X9'"):
        read_centroids(src)
    src.write_text("label,x,y,z\nL2,1,two,3\n")
    with pytest.raises(SpinelabInputError, match="line 2"):
        read_centroids(src)


def test_native_file_keeps_source(tmp_path: Path) -> None:
    vol = _ref("PSR")
    c = _spine(vol)
    c.source = {
        "image": "scan.nii.gz",
        "shape": list(REF_SHAPE),
        "affine_lps": REFS["PSR"].tolist(),
    }
    c.method = "test"
    back = read_centroids(write_centroids(c, tmp_path / "c.json"))
    assert back.source == c.source and back.method == "test"


def test_overwrite_needs_force(tmp_path: Path) -> None:
    c = _spine(_ref("RAS"))
    out = write_centroids(c, tmp_path / "c.csv")
    with pytest.raises(OutputExistsError):
        write_centroids(c.subset(["L1"]), out)
    assert len(read_centroids(out)) == len(c)
    write_centroids(c.subset(["L1"]), out, force=True)
    assert read_centroids(out).labels == ["L1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]  # no temporary files left


def test_detect_format_by_content(tmp_path: Path) -> None:
    c = _spine(_ref("RAS"))
    vol = _ref("RAS")
    for fmt, name in [("native", "a.json"), ("verse", "b.json"), ("slicer", "d.json")]:
        tmp = write_centroids(c, tmp_path / ("tmp_" + SUFFIX[fmt]), reference=vol)
        p = tmp_path / name
        p.write_text(tmp.read_text())
        assert detect_format(p) == fmt
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": 1}')
    with pytest.raises(SpinelabInputError, match="not a known centroid format"):
        detect_format(odd)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SpinelabInputError, match="not valid JSON"):
        read_centroids(bad)
    with pytest.raises(SpinelabInputError, match="file not found"):
        read_centroids(tmp_path / "absent.csv")
    with pytest.raises(SpinelabInputError, match="unknown centroid file type"):
        detect_format(write_centroids(c, tmp_path / "x.txt", fmt="csv"))


@pytest.mark.shared_data
def test_vid_ground_truth_and_detections(vid_dir: Path, tmp_path: Path) -> None:
    gt = sorted((vid_dir / "ground_truth").glob("*.json"))[:5]
    for f in gt:
        raw = json.loads(f.read_text())
        body = {
            k["type"]["spine_level"]: k["coordinates"]["world_space"]
            for k in raw
            if k["type"]["keypoint_type"] == "body"
        }
        assert detect_format(f) == "vid"
        c = read_centroids(f)
        assert set(c.labels) == set(body)
        for label, pos in body.items():
            np.testing.assert_allclose(c.position(label), pos, atol=1e-12)
        # VID -> every writable format -> back, lossless
        ref = _ref("PIR")
        for fmt in WRITE_FORMATS:
            out = write_centroids(c, tmp_path / f"{f.stem}_{SUFFIX[fmt]}", reference=ref)
            np.testing.assert_allclose(
                read_centroids(out, reference=ref).positions_mm, c.positions_mm, atol=0.01
            )
    det = sorted((vid_dir / "detections").glob("*.json"))[0]
    assert detect_format(det) == "vid"
    with pytest.raises(SpinelabInputError, match="no spine_level"):
        read_centroids(det)


@pytest.mark.shared_data
def test_verse_and_lml_with_real_reference_files(shared_data: Path, tmp_path: Path) -> None:
    ref_path = shared_data / "ct" / "tptbox_l3_crop" / "sub-ct_label-22_ct.nii.gz"
    img = nib.load(str(ref_path))
    # L3 at the centre voxel of the crop; its world position computed with nibabel (RAS -> LPS)
    ijk = np.array([36.0, 23.0, 36.0])
    lps = nib.affines.apply_affine(img.affine, ijk) * [-1, -1, 1]
    c = Centroids(["L3"], lps[None])
    out = write_centroids(c, tmp_path / "crop_ctd.json", reference=ref_path)
    data = json.loads(out.read_text())
    assert data[0] == {"direction": ["P", "I", "R"]}
    np.testing.assert_allclose([data[1][k] for k in "XYZ"], ijk, atol=1e-3)
    back = read_centroids(out, reference=ref_path)
    np.testing.assert_allclose(back.positions_mm, c.positions_mm, atol=0.01)
    assert back.source is not None and back.source["image"] == str(ref_path)
    lml = write_centroids(c, tmp_path / "crop.lml", reference=ref_path)
    np.testing.assert_allclose(
        [float(v) for v in lml.read_text().splitlines()[1].split("\t")[2:]], ijk * 1.5, atol=1e-3
    )
    np.testing.assert_allclose(
        read_centroids(lml, reference=ref_path).positions_mm, c.positions_mm, atol=0.01
    )


@pytest.mark.shared_data
def test_verse_pir_file_on_ras_image_matches_nibabel_reorientation(
    shared_data: Path, tmp_path: Path
) -> None:
    ct_path = shared_data / "ct" / "totalsegmentator_example" / "ct.nii.gz"
    img = nib.load(str(ct_path))
    assert nib.aff2axcodes(img.affine) == ("R", "A", "S")
    # nibabel's own reorientation of the image to PIR gives the grid VerSe coordinates live in
    pir = img.as_reoriented(
        nib.orientations.ornt_transform(
            nib.orientations.io_orientation(img.affine), nib.orientations.axcodes2ornt("PIR")
        )
    )
    vox = np.array([[10.25, 20.5, 30.75], [50.0, 60.0, 70.0]])
    expected_lps = nib.affines.apply_affine(pir.affine, vox) * [-1, -1, 1]
    path = tmp_path / "ct_ctd.json"
    path.write_text(
        json.dumps(
            [{"direction": ["P", "I", "R"]}]
            + [{"label": lab, "X": x, "Y": y, "Z": z} for lab, (x, y, z) in zip((22, 23), vox)]
        )
    )
    c = read_centroids(path, reference=ct_path)
    assert c.labels == ["L3", "L4"]
    np.testing.assert_allclose(c.positions_mm, expected_lps, atol=1e-6)


def test_output_folder_and_unreadable_input(tmp_path: Path) -> None:
    c = _spine(_ref("RAS"))
    folder = tmp_path / "out.json"
    folder.mkdir()
    with pytest.raises(SpinelabInputError, match="is a folder"):
        write_centroids(c, folder, force=True)
    with pytest.raises(SpinelabInputError, match="is a folder"):
        read_centroids(folder)


@pytest.mark.parametrize("fmt", ["verse", "lml"])
def test_reading_against_a_too_small_reference_warns(
    tmp_path: Path, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    big = _ref("RAS")
    out = write_centroids(_spine(big).subset(["L1", "L5"]), tmp_path / SUFFIX[fmt], reference=big)
    with caplog.at_level(logging.WARNING, logger="spinelab.io.landmarks"):
        read_centroids(out, reference=big)
    assert "outside" not in caplog.text
    small = Volume(np.zeros((20, 20, 20), np.int16), REFS["RAS"])  # L5 lies beyond its grid
    with caplog.at_level(logging.WARNING, logger="spinelab.io.landmarks"):
        read_centroids(out, reference=small)
    assert "1 of 2 points lie outside the reference image (L5)" in caplog.text


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write_centroids(_spine(_ref("RAS")), tmp_path / "c.json")
    before = out.read_text()
    real_write_text = Path.write_text

    def half_written(self: Path, text: str, *args: object, **kwargs: object) -> int:
        real_write_text(self, text[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_written)
    with pytest.raises(SpinelabInputError, match="No space left"):
        write_centroids(_spine(_ref("RAS")).subset(["L1"]), out, force=True)
    monkeypatch.undo()
    assert out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
