"""``spinelab info``: text and JSON output, NIfTI vs DICOM geometry, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinelab.cli import main
from spinelab.io.images import read_image, write_image

# PIR grid, 1.5 mm, origin RAS (10, 20, 30)
AFFINE_RAS = np.array([[0, 0, 1.5, 10], [-1.5, 0, 0, 20], [0, -1.5, 0, 30], [0, 0, 0, 1.0]])


@pytest.fixture()
def pir_image(tmp_path: Path) -> Path:
    arr = np.full((6, 7, 8), -1000, dtype=np.int16)
    arr[2, 3, 4] = 1500
    path = tmp_path / "pir.nii.gz"
    nib.save(nib.Nifti1Image(arr, AFFINE_RAS), str(path))
    return path


def _one_error_line(err: str, path: Path | str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"spinelab: error: {path}: "), err
    assert "Traceback" not in err
    return lines[0]


def test_info_text(pir_image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(pir_image)]) == 0
    out = capsys.readouterr().out
    assert "6 x 7 x 8" in out
    assert "1.5 x 1.5 x 1.5 mm" in out
    assert "PIR" in out
    assert "-1000 to 1500" in out
    # origin RAS (10, 20, 30) is LPS (-10, -20, 30); a position, not "a x b x c" like sizes
    assert "origin:       -10, -20, 30 (LPS mm of voxel 0, 0, 0)" in out


def test_info_json(pir_image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(pir_image), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [6, 7, 8]
    expected_lps = np.diag([-1.0, -1, 1, 1]) @ AFFINE_RAS
    np.testing.assert_allclose(info["affine_lps"], expected_lps, atol=1e-6)
    # the affine maps the marked voxel [2, 3, 4, 1] to LPS: RAS (16, 17, 25.5) -> (-16, -17, 25.5)
    np.testing.assert_allclose(np.array(info["affine_lps"]) @ [2, 3, 4, 1], [-16, -17, 25.5, 1])
    assert info["orientation"] == "PIR"
    assert info["value_range"] == [-1000, 1500]
    np.testing.assert_allclose(info["spacing_mm"], [1.5, 1.5, 1.5])


def test_info_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.nii.gz"
    assert main(["info", str(missing)]) == 2
    assert "file not found" in _one_error_line(capsys.readouterr().err, missing)

    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b garbage" * 50)
    assert main(["info", str(corrupt)]) == 2
    assert "cannot read" in _one_error_line(capsys.readouterr().err, corrupt)

    flat = tmp_path / "flat.nii"
    nib.save(nib.Nifti1Image(np.zeros((64, 48), np.int16), np.eye(4)), str(flat))
    assert main(["info", str(flat)]) == 2
    line = _one_error_line(capsys.readouterr().err, flat)
    assert "image is 2-D (64x48); a 3-D CT volume is needed" in line

    pair = tmp_path / "pair.hdr"
    nib.save(nib.Nifti1Pair(np.zeros((4, 4, 4), np.int16), np.eye(4)), str(pair))
    pair.with_suffix(".img").unlink()
    assert main(["info", str(pair)]) == 2
    assert "unpaired" in _one_error_line(capsys.readouterr().err, pair)

    sheared = tmp_path / "sheared.nii.gz"
    aff = np.eye(4)
    aff[0, 1] = 0.5
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), aff), str(sheared))
    assert main(["info", str(sheared)]) == 2
    assert "not orthogonal" in _one_error_line(capsys.readouterr().err, sheared)

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert main(["info", str(text)]) == 2
    assert "unknown image type" in _one_error_line(capsys.readouterr().err, text)


def test_truncated_metaimage_prints_one_line_only(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """ITK's MetaIO writes its own diagnostics to descriptor 2; they must not reach the user."""
    import SimpleITK as sitk

    path = tmp_path / "cut.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 30, 40), np.int16)), str(path), True)
    path.write_bytes(path.read_bytes()[:-30])
    assert main(["info", str(path)]) == 2
    line = _one_error_line(capfd.readouterr().err, path)
    assert line.endswith("cannot read image: truncated or corrupt file"), line


_IMPORT_PROBE = """
import sys
from spinelab.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "SimpleITK", "nibabel",
               "pydicom", "scipy", "matplotlib"})
print("HEAVY:" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["info", "--help"], ["evaluate", "--help"]]
)
def test_version_and_help_are_instant_and_import_no_heavy_library(argv: list[str]) -> None:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    elapsed = time.perf_counter() - t0
    assert res.stdout.strip().splitlines()[-1] == "HEAVY:", res.stdout
    if argv == ["--version"]:
        assert res.stdout.startswith("spinelab 0.1.0")
    else:
        assert "usage: spinelab" in res.stdout
    assert elapsed < 10.0  # generous for a loaded 2-core machine; torch alone takes longer


@pytest.mark.shared_data
@pytest.mark.parametrize("writer", ["spinelab", "simpleitk"])
def test_info_same_geometry_for_dicom_and_nifti(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    """The same scan as DICOM and as NIfTI gives the same world geometry. The NIfTI is written
    by spinelab, or (independently of spinelab's reader and writer) by SimpleITK's own DICOM
    reader with GDCM's sorting and geometry; spinelab reads it back through nibabel."""
    slab = shared_data / "ct" / "totalsegmentator_example" / "dicom_slab"
    nifti = tmp_path / f"slab_by_{writer}.nii.gz"
    if writer == "spinelab":
        write_image(read_image(slab), nifti)
    else:
        import SimpleITK as sitk

        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(slab)))
        sitk.WriteImage(reader.Execute(), str(nifti))
    assert main(["info", str(slab), "--json"]) == 0
    from_dicom = json.loads(capsys.readouterr().out)
    assert main(["info", str(nifti), "--json"]) == 0
    from_nifti = json.loads(capsys.readouterr().out)
    assert from_dicom["shape"] == from_nifti["shape"] == [512, 512, 20]
    np.testing.assert_allclose(from_dicom["affine_lps"], from_nifti["affine_lps"], atol=1e-4)
    assert from_dicom["orientation"] == from_nifti["orientation"] == "LPS"
    assert from_dicom["value_range"] == from_nifti["value_range"]
    np.testing.assert_array_equal(read_image(slab).array, read_image(nifti).array)


def test_nibabel_header_fixups_stay_quiet_without_verbose(tmp_path: Path) -> None:
    """nibabel reports a fixed-up qfac at INFO through its own handler; at spinelab's default
    level it would reach the terminal twice. Only -v shows it."""
    path = tmp_path / "qfac0.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.eye(4)), str(path))
    raw = bytearray(path.read_bytes())
    raw[76:80] = np.float32(0.0).tobytes()  # pixdim[0] (qfac) = 0, which nibabel fixes to 1
    path.write_bytes(bytes(raw))
    cmd = [sys.executable, "-m", "spinelab"]
    quiet = subprocess.run([*cmd, "info", str(path)], capture_output=True, text=True, check=True)
    assert quiet.stderr == "" and "4 x 5 x 6" in quiet.stdout
    loud = subprocess.run([*cmd, "-v", "info", str(path)], capture_output=True, text=True)
    assert "qfac" in loud.stderr
