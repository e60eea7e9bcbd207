"""Image I/O: orientations checked against hand-computed world positions, format round trips,
nibabel vs SimpleITK, the real DICOM slab, series selection and refused geometries."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from spinelab.errors import OutputExistsError, SpinelabInputError
from spinelab.io.images import find_dicom_series, read_image, read_image_header, write_image
from spinelab.structures import Volume

MARK_IJK = (2, 3, 4)
SHAPE = (6, 7, 8)
C30, S30 = math.sqrt(3) / 2, 0.5

# name -> (RAS affine written with nibabel, expected codes, hand-computed LPS mm of MARK_IJK)
CASES: dict[str, tuple[list[list[float]], tuple[str, str, str], tuple[float, float, float]]] = {
    # RAS, spacing (0.8, 0.9, 2.5), origin RAS (-100, 50, 20):
    # RAS of (2,3,4) = (-100 + 1.6, 50 + 2.7, 20 + 10) -> LPS (98.4, -52.7, 30)
    "RAS": (
        [[0.8, 0, 0, -100], [0, 0.9, 0, 50], [0, 0, 2.5, 20], [0, 0, 0, 1]],
        ("R", "A", "S"),
        (98.4, -52.7, 30.0),
    ),
    # LPS: RAS of (2,3,4) = (100 - 1.6, -50 - 2.7, 30) -> LPS (-98.4, 52.7, 30)
    "LPS": (
        [[-0.8, 0, 0, 100], [0, -0.9, 0, -50], [0, 0, 2.5, 20], [0, 0, 0, 1]],
        ("L", "P", "S"),
        (-98.4, 52.7, 30.0),
    ),
    # PIR, 1.5 mm, origin RAS (10, 20, 30): i -> -y, j -> -z, k -> +x
    # RAS = (10 + 4*1.5, 20 - 2*1.5, 30 - 3*1.5) = (16, 17, 25.5) -> LPS (-16, -17, 25.5)
    "PIR": (
        [[0, 0, 1.5, 10], [-1.5, 0, 0, 20], [0, -1.5, 0, 30], [0, 0, 0, 1]],
        ("P", "I", "R"),
        (-16.0, -17.0, 25.5),
    ),
    # PSR, spacing (1.2, 0.7, 3.0), origin RAS (-5, 40, -60): i -> -y, j -> +z, k -> +x
    # RAS = (-5 + 12, 40 - 2.4, -60 + 2.1) = (7, 37.6, -57.9) -> LPS (-7, -37.6, -57.9)
    "PSR": (
        [[0, 0, 3.0, -5], [-1.2, 0, 0, 40], [0, 0.7, 0, -60], [0, 0, 0, 1]],
        ("P", "S", "R"),
        (-7.0, -37.6, -57.9),
    ),
    # oblique: 30 degrees about z, spacing (1, 2, 3), origin 0:
    # RAS = 2*(c, s, 0) + 3*2*(-s, c, 0) + 4*3*(0, 0, 1) = (2c - 6s, 2s + 6c, 12)
    "oblique": (
        [[C30, -2 * S30, 0, 0], [S30, 2 * C30, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]],
        ("R", "A", "S"),
        (-(2 * C30 - 6 * S30), -(2 * S30 + 6 * C30), 12.0),
    ),
}


def _marked_array() -> np.ndarray:
    arr = np.zeros(SHAPE, dtype=np.int16)
    arr[MARK_IJK] = 1000
    arr[0, 0, 0] = -1000
    return arr


def _write_nib(path: Path, affine_ras: list[list[float]], arr: np.ndarray | None = None) -> Path:
    img = nib.Nifti1Image(_marked_array() if arr is None else arr, np.array(affine_ras))
    img.set_sform(np.array(affine_ras), code=1)
    nib.save(img, str(path))
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_nifti_orientation_matches_hand_computed_world(tmp_path: Path, case: str) -> None:
    affine_ras, codes, expected_lps = CASES[case]
    vol = read_image(_write_nib(tmp_path / f"{case}.nii.gz", affine_ras))
    assert vol.shape == SHAPE
    ijk = np.unravel_index(int(np.argmax(vol.array)), vol.shape)
    assert tuple(int(x) for x in ijk) == MARK_IJK  # the file's index order is kept
    np.testing.assert_allclose(vol.ijk_to_world(MARK_IJK), expected_lps, atol=1e-4)
    np.testing.assert_allclose(vol.world_to_ijk(expected_lps), MARK_IJK, atol=1e-4)
    assert vol.orientation_codes() == codes
    assert nib.aff2axcodes(np.array(affine_ras)) == codes  # same convention as nibabel


@pytest.mark.parametrize("case", sorted(CASES))
def test_nibabel_and_simpleitk_agree_on_nifti_geometry(tmp_path: Path, case: str) -> None:
    path = _write_nib(tmp_path / f"{case}.nii.gz", CASES[case][0])
    vol = read_image(path)
    img = sitk.ReadImage(str(path))
    d = np.array(img.GetDirection()).reshape(3, 3)
    affine_itk = np.eye(4)
    affine_itk[:3, :3] = d * np.array(img.GetSpacing())
    affine_itk[:3, 3] = img.GetOrigin()
    np.testing.assert_allclose(vol.affine_lps, affine_itk, atol=1e-4)
    np.testing.assert_array_equal(vol.array, sitk.GetArrayFromImage(img).transpose(2, 1, 0))


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
@pytest.mark.parametrize("case", ["PIR", "oblique"])
def test_itk_formats_written_by_simpleitk(tmp_path: Path, suffix: str, case: str) -> None:
    affine_ras, codes, expected_lps = CASES[case]
    affine_lps = np.diag([-1.0, -1, 1, 1]) @ np.array(affine_ras)
    spacing = np.linalg.norm(affine_lps[:3, :3], axis=0)
    img = sitk.GetImageFromArray(_marked_array().transpose(2, 1, 0).copy())
    img.SetSpacing(spacing.tolist())
    img.SetOrigin(affine_lps[:3, 3].tolist())
    img.SetDirection((affine_lps[:3, :3] / spacing).ravel().tolist())
    path = tmp_path / f"x{suffix}"
    sitk.WriteImage(img, str(path))
    vol = read_image(path)
    assert vol.shape == SHAPE
    assert tuple(int(x) for x in np.unravel_index(int(np.argmax(vol.array)), SHAPE)) == MARK_IJK
    np.testing.assert_allclose(vol.ijk_to_world(MARK_IJK), expected_lps, atol=1e-4)
    assert vol.orientation_codes() == codes


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd", ".mha", ".mhd"])
@pytest.mark.parametrize("case", ["LPS", "PSR", "oblique"])
def test_write_read_round_trip(tmp_path: Path, suffix: str, case: str) -> None:
    affine_lps = np.diag([-1.0, -1, 1, 1]) @ np.array(CASES[case][0])
    affine_lps[:3, 3] += [123.456, -78.9, 300.25]
    vol = Volume(np.random.default_rng(0).normal(size=SHAPE).astype(np.float32), affine_lps)
    out = write_image(vol, tmp_path / f"x{suffix}")
    back = read_image(out)
    np.testing.assert_array_equal(back.array, vol.array)
    assert back.array.dtype == np.float32
    np.testing.assert_allclose(back.affine_lps, vol.affine_lps, atol=1e-4)
    np.testing.assert_allclose(read_image_header(out).affine_lps, back.affine_lps)
    assert read_image_header(out).shape == SHAPE
    assert read_image_header(out).array.dtype == np.float32
    # no temporary files are left behind
    leftovers = {p.name for p in tmp_path.iterdir()} - {f"x{suffix}", "x.zraw"}
    assert not leftovers


def test_int64_and_bool_arrays_are_written_as_common_types(tmp_path: Path) -> None:
    labels = Volume(np.arange(6 * 7 * 8, dtype=np.int64).reshape(SHAPE), np.eye(4))
    back = read_image(write_image(labels, tmp_path / "labels.nii.gz"))
    assert back.array.dtype == np.int32
    np.testing.assert_array_equal(back.array, labels.array)
    mask = Volume(_marked_array() > 0, np.eye(4))
    back = read_image(write_image(mask, tmp_path / "mask.nrrd"))
    assert back.array.dtype == np.uint8 and int(back.array.sum()) == 1


def test_nifti_written_with_ras_affine(tmp_path: Path) -> None:
    vol = Volume(_marked_array(), np.diag([-1.0, -1, 1, 1]) @ np.array(CASES["PIR"][0]))
    out = write_image(vol, tmp_path / "x.nii.gz")
    img = nib.load(str(out))
    np.testing.assert_allclose(img.affine, CASES["PIR"][0], atol=1e-5)
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1


def test_write_image_does_not_overwrite_without_force(tmp_path: Path) -> None:
    vol = Volume(_marked_array(), np.eye(4))
    out = write_image(vol, tmp_path / "x.nii.gz")
    with pytest.raises(OutputExistsError):
        write_image(Volume(_marked_array() * 2, np.eye(4)), out)
    assert read_image(out).array.max() == 1000
    write_image(Volume(_marked_array() * 2, np.eye(4)), out, force=True)
    assert read_image(out).array.max() == 2000


def test_nifti_without_orientation_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    img = nib.Nifti1Image(_marked_array(), None)
    img.header.set_zooms((2.0, 2.0, 2.0))
    path = tmp_path / "bare.nii"
    nib.save(img, str(path))
    with caplog.at_level(logging.WARNING, logger="spinelab.io.images"):
        vol = read_image(path)
    assert "no orientation" in caplog.text
    np.testing.assert_allclose(vol.spacing_mm, 2.0)


def test_sheared_affine_is_refused(tmp_path: Path) -> None:
    sheared = [[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    path = _write_nib(tmp_path / "shear.nii.gz", sheared)
    with pytest.raises(SpinelabInputError, match="not orthogonal") as exc:
        read_image(path)
    assert exc.value.path == str(path)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 1)])
def test_two_d_image_is_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), np.eye(4)), str(path))
    with pytest.raises(SpinelabInputError, match="2-D"):
        read_image(path)


def test_corrupt_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not an image at all" * 10)
    with pytest.raises(SpinelabInputError, match="cannot read"):
        read_image(bad)
    with pytest.raises(SpinelabInputError, match="file not found"):
        read_image(tmp_path / "absent.nii.gz")
    truncated = tmp_path / "trunc.nii"
    nib.save(nib.Nifti1Image(np.zeros((20, 20, 20), np.int16), np.eye(4)), str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(SpinelabInputError, match="cannot read"):
        read_image(truncated)


@pytest.mark.parametrize("suffix", [".hdr", ".nhdr"])
def test_header_and_data_pairs(tmp_path: Path, suffix: str) -> None:
    """NIfTI .hdr/.img pairs (written by nibabel) and detached NRRD headers (by SimpleITK)."""
    affine_ras, codes, expected_lps = CASES["PIR"]
    path = tmp_path / f"pair{suffix}"
    if suffix == ".hdr":
        img = nib.Nifti1Pair(_marked_array(), np.array(affine_ras))
        img.set_sform(np.array(affine_ras), code=1)
        nib.save(img, str(path))
        data = tmp_path / "pair.img"
    else:
        affine_lps = np.diag([-1.0, -1, 1, 1]) @ np.array(affine_ras)
        spacing = np.linalg.norm(affine_lps[:3, :3], axis=0)
        itk = sitk.GetImageFromArray(_marked_array().transpose(2, 1, 0).copy())
        itk.SetSpacing(spacing.tolist())
        itk.SetOrigin(affine_lps[:3, 3].tolist())
        itk.SetDirection((affine_lps[:3, :3] / spacing).ravel().tolist())
        sitk.WriteImage(itk, str(path))
        data = next(p for p in tmp_path.iterdir() if p != path)
    vol = read_image(path)
    assert tuple(int(x) for x in np.unravel_index(int(np.argmax(vol.array)), SHAPE)) == MARK_IJK
    np.testing.assert_allclose(vol.ijk_to_world(MARK_IJK), expected_lps, atol=1e-4)
    assert vol.orientation_codes() == codes
    data.unlink()
    with pytest.raises(SpinelabInputError, match=f"unpaired file: its data file {data.name}"):
        read_image(path)


def test_unpaired_header_is_refused(tmp_path: Path) -> None:
    out = write_image(Volume(_marked_array(), np.eye(4)), tmp_path / "x.mhd")
    (tmp_path / "x.zraw").unlink()
    with pytest.raises(SpinelabInputError, match=r"unpaired.*x\.zraw"):
        read_image(out)
    nib.save(nib.Nifti1Pair(_marked_array(), np.eye(4)), str(tmp_path / "pair.img"))
    (tmp_path / "pair.img").unlink()
    with pytest.raises(SpinelabInputError, match="unpaired"):
        read_image(tmp_path / "pair.hdr")


# --------------------------------------------------------------------------------------------
# DICOM


@pytest.fixture(scope="module")
def slab_dir(request: pytest.FixtureRequest) -> Path:
    shared: Path = request.getfixturevalue("shared_data")
    d = shared / "ct" / "totalsegmentator_example" / "dicom_slab"
    if not d.is_dir():
        pytest.skip(f"DICOM slab not found at {d}")
    return d


@pytest.fixture(scope="module")
def slab_volume(slab_dir: Path) -> Volume:
    return read_image(slab_dir)


def _pydicom_affine(folder: Path) -> tuple[np.ndarray, int]:
    """The slab's affine computed directly from the headers (independent of spinelab)."""
    dss = [pydicom.dcmread(str(f), stop_before_pixels=True) for f in sorted(folder.iterdir())]
    iop = np.array(dss[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda ds: float(np.dot(np.array(ds.ImagePositionPatient, float), normal)))
    p0 = np.array(dss[0].ImagePositionPatient, float)
    p1 = np.array(dss[1].ImagePositionPatient, float)
    row_sp, col_sp = (float(v) for v in dss[0].PixelSpacing)
    a = np.eye(4)
    a[:3, 0] = iop[:3] * col_sp
    a[:3, 1] = iop[3:] * row_sp
    a[:3, 2] = p1 - p0
    a[:3, 3] = p0
    return a, len(dss)


@pytest.mark.shared_data
def test_dicom_slab_geometry(slab_dir: Path, slab_volume: Volume) -> None:
    vol = slab_volume
    expected, n = _pydicom_affine(slab_dir)
    assert vol.shape == (512, 512, n) == (512, 512, 20)
    # 0.98 mm pixels; the slices are 3 mm thick but reconstructed 2 mm apart (ImagePositionPatient)
    np.testing.assert_allclose(vol.spacing_mm, [0.9765625, 0.9765625, 2.0], atol=1e-6)
    np.testing.assert_allclose(vol.affine_lps, expected, atol=1e-6)
    assert vol.orientation_codes() == ("L", "P", "S")
    assert -1100 < vol.array.min() < -900 and vol.array.max() > 1000  # HU after rescale
    # pixel (row 100, column 200) of the lowest slice is array[200, 100, 0]
    lowest = max(
        slab_dir.iterdir(),
        key=lambda f: (
            -float(pydicom.dcmread(str(f), stop_before_pixels=True).ImagePositionPatient[2])
        ),
    )
    ds = pydicom.dcmread(str(lowest))
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert vol.array[200, 100, 0] == hu[100, 200]
    np.testing.assert_allclose(read_image_header(slab_dir).affine_lps, vol.affine_lps)
    # one slice file stands for its whole series
    assert read_image_header(lowest).shape == vol.shape


@pytest.mark.shared_data
def test_dicom_slab_as_nifti_keeps_world_geometry(slab_volume: Volume, tmp_path: Path) -> None:
    vol = slab_volume
    out = write_image(vol, tmp_path / "slab.nii.gz")
    back = read_image(out)
    np.testing.assert_allclose(back.affine_lps, vol.affine_lps, atol=1e-4)
    np.testing.assert_array_equal(back.array, vol.array)
    ijk = np.array([[0, 0, 0], [511, 0, 19], [100, 200, 7]])
    np.testing.assert_allclose(back.ijk_to_world(ijk), vol.ijk_to_world(ijk), atol=1e-3)
    # and nibabel sees the same (RAS) world positions
    np.testing.assert_allclose(
        nib.affines.apply_affine(nib.load(str(out)).affine, ijk),
        vol.ijk_to_world(ijk) * [-1, -1, 1],
        atol=1e-3,
    )


def _copy_series(src: Path, dst: Path, files: list[Path], uid: str | None = None,
                 shift_per_slice: tuple[float, float, float] | None = None) -> None:  # fmt: skip
    dst.mkdir(parents=True, exist_ok=True)
    for n, f in enumerate(files):
        ds = pydicom.dcmread(str(f))
        if uid is not None:
            ds.SeriesInstanceUID = uid
            ds.SOPInstanceUID = f"{uid}.{n}"
        if shift_per_slice is not None:
            z = float(ds.ImagePositionPatient[2])
            k = (-766.5 - z) / 2.0  # slice number
            pos = [float(v) + k * s for v, s in zip(ds.ImagePositionPatient, shift_per_slice)]
            ds.ImagePositionPatient = pos
        ds.save_as(str(dst / f"{uid or dst.name}_{n:03d}.dcm"))


@pytest.mark.shared_data
def test_dicom_folder_with_two_series_uses_the_larger(
    slab_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = sorted(slab_dir.iterdir())
    mixed = tmp_path / "mixed"
    _copy_series(slab_dir, mixed / "a", files[:12], uid="1.2.3.4.1")  # subfolders are searched
    _copy_series(slab_dir, mixed, files[12:], uid="1.2.3.4.2")
    (mixed / "notes.txt").write_text("not DICOM")
    with caplog.at_level(logging.WARNING, logger="spinelab.io.images"):
        vol = read_image(mixed)
    assert vol.shape == (512, 512, 12)
    assert "2 DICOM series" in caplog.text and "1.2.3.4.1" in caplog.text
    series = find_dicom_series(mixed)
    assert [s.uid for s in series] == ["1.2.3.4.1", "1.2.3.4.2"]
    assert [len(s.files) for s in series] == [12, 8]


@pytest.mark.shared_data
def test_dicom_gantry_tilt_is_refused(slab_dir: Path, tmp_path: Path) -> None:
    tilted = tmp_path / "tilted"
    # each 2 mm slice step also moves 0.35 mm along y: a tilt of atan(0.35/2) = 9.9 degrees
    _copy_series(slab_dir, tilted, sorted(slab_dir.iterdir()), shift_per_slice=(0.0, 0.35, 0.0))
    with pytest.raises(SpinelabInputError, match=r"gantry tilt of 9\.9\d degrees") as exc:
        read_image(tilted)
    assert exc.value.path == str(tilted)


@pytest.mark.shared_data
def test_dicom_missing_slice_and_empty_folder(slab_dir: Path, tmp_path: Path) -> None:
    files = sorted(slab_dir.iterdir())
    gap = tmp_path / "gap"
    _copy_series(slab_dir, gap, files[:5] + files[6:])
    with pytest.raises(SpinelabInputError, match="non-uniform slice spacing"):
        read_image(gap)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing here")
    with pytest.raises(SpinelabInputError, match="no DICOM"):
        read_image(empty)
    single = tmp_path / "single"
    _copy_series(slab_dir, single, files[:1])
    with pytest.raises(SpinelabInputError, match="2-D"):
        read_image(single)
    multi = tmp_path / "multi"
    _copy_series(slab_dir, multi, files[:1])
    f = next(multi.iterdir())
    ds = pydicom.dcmread(str(f))
    ds.NumberOfFrames = 2
    ds.save_as(str(f))
    with pytest.raises(SpinelabInputError, match="multi-frame"):
        read_image(multi)


@pytest.mark.shared_data
def test_real_nifti_files(shared_data: Path) -> None:
    ct = read_image(shared_data / "ct" / "totalsegmentator_example" / "ct.nii.gz")
    assert ct.shape == (122, 101, 112)
    assert ct.orientation_codes() == ("R", "A", "S")
    np.testing.assert_allclose(ct.spacing_mm, 3.0, atol=1e-4)
    crop = read_image(shared_data / "ct" / "tptbox_l3_crop" / "sub-ct_label-22_ct.nii.gz")
    assert crop.shape == (73, 47, 73)
    assert crop.orientation_codes() == ("P", "I", "R")
    np.testing.assert_allclose(crop.spacing_mm, 1.5, atol=1e-4)


def test_write_image_refuses_folder_and_unknown_suffix(tmp_path: Path) -> None:
    vol = Volume(_marked_array(), np.eye(4))
    (tmp_path / "out.nii.gz").mkdir()
    with pytest.raises(SpinelabInputError, match="is a folder"):
        write_image(vol, tmp_path / "out.nii.gz", force=True)
    with pytest.raises(SpinelabInputError, match="cannot write this image type"):
        write_image(vol, tmp_path / "out.png")


# --------------------------------------------------------------------------------------------
# synthetic DICOM series (no shared data needed): any orientation, anisotropic pixels

SYN_UID = "1.2.826.0.1.3680043.8.498.4242"


def _write_dicom_series(
    folder: Path,
    iop: list[float],
    ipp0: tuple[float, float, float],
    pixel_spacing: tuple[float, float],
    step_mm: float,
    rows: int,
    cols: int,
    n: int,
    mark: tuple[int, int, int],
) -> list[Path]:
    """Write an uncompressed CT series; pixel (row, col) of slice ``mark[2]`` is 2024 (1000 HU).

    Slice ``s`` lies at ``ipp0 + s * step_mm * (row x col)``; files are named in *reverse*
    slice order, so the reader must sort by position, not by name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    row, col = np.array(iop[:3]), np.array(iop[3:])
    normal = np.cross(row, col)
    files = []
    for s in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
        meta.MediaStorageSOPInstanceUID = f"{SYN_UID}.{s + 1}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = f"{SYN_UID}.0"
        ds.SeriesInstanceUID = SYN_UID
        ds.Modality = "CT"
        ds.PatientID = "phantom"
        ds.InstanceNumber = s + 1
        ds.ImageOrientationPatient = [f"{v:.10f}" for v in iop]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in np.asarray(ipp0) + s * step_mm * normal]
        ds.PixelSpacing = [str(v) for v in pixel_spacing]  # [row spacing, column spacing]
        ds.SliceThickness = str(step_mm)
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
        px = np.zeros((rows, cols), np.int16)
        if s == mark[2]:
            px[mark[0], mark[1]] = 2024
        ds.PixelData = px.tobytes()
        f = folder / f"im{n - s:03d}.dcm"
        ds.save_as(str(f), enforce_file_format=True)
        files.append(f)
    return files


# name -> (ImageOrientationPatient, expected codes). Sagittal: columns run P, rows run I, the
# slice normal (row x col) is (0,1,0) x (0,0,-1) = (-1,0,0), i.e. R. Coronal: L, I and normal
# (1,0,0) x (0,0,-1) = (0,1,0), P. Oblique: the coronal grid turned 30 degrees about z.
DICOM_CASES: dict[str, tuple[list[float], tuple[str, str, str]]] = {
    "sagittal": ([0, 1, 0, 0, 0, -1], ("P", "I", "R")),
    "coronal": ([1, 0, 0, 0, 0, -1], ("L", "I", "P")),
    "oblique": ([C30, S30, 0, 0, 0, -1], ("L", "I", "P")),
}


@pytest.mark.parametrize("case", sorted(DICOM_CASES))
def test_dicom_orientation_matches_hand_computed_world(tmp_path: Path, case: str) -> None:
    iop, codes = DICOM_CASES[case]
    ipp0, pixel_spacing, step = (10.0, -20.0, 30.0), (0.7, 1.3), 2.5
    mark = (3, 1, 2)  # row, column, slice
    _write_dicom_series(tmp_path / case, iop, ipp0, pixel_spacing, step, 5, 4, 6, mark)
    vol = read_image(tmp_path / case)
    # DICOM PS3.3 C.7.6.2.1.1: P = IPP + column * col_spacing * row_cosine
    #                                  + row * row_spacing * column_cosine
    row, col = np.array(iop[:3]), np.array(iop[3:])
    expected = (
        np.array(ipp0)
        + mark[2] * step * np.cross(row, col)
        + mark[1] * pixel_spacing[1] * row
        + mark[0] * pixel_spacing[0] * col
    )
    assert vol.shape == (4, 5, 6)  # columns, rows, slices
    ijk = tuple(int(x) for x in np.unravel_index(int(np.argmax(vol.array)), vol.shape))
    assert ijk == (mark[1], mark[0], mark[2])
    assert vol.array.max() == 1000 and vol.array.min() == -1024  # rescale applied
    np.testing.assert_allclose(vol.ijk_to_world(ijk), expected, atol=1e-4)
    np.testing.assert_allclose(vol.spacing_mm, [1.3, 0.7, 2.5], atol=1e-6)
    assert vol.orientation_codes() == codes
    np.testing.assert_allclose(read_image_header(tmp_path / case).affine_lps, vol.affine_lps)


def test_dicom_unreadable_slice_is_named(tmp_path: Path) -> None:
    files = _write_dicom_series(
        tmp_path / "s", [1, 0, 0, 0, 1, 0], (0, 0, 0), (1.0, 1.0), 2.0, 8, 8, 5, (1, 1, 1)
    )
    bad = files[2]
    bad.write_bytes(bad.read_bytes()[:-60])  # pixel data cut short; the header still reads
    with pytest.raises(SpinelabInputError, match="cannot read DICOM pixel data") as exc:
        read_image(tmp_path / "s")
    assert exc.value.path == str(bad)
    assert "0x" not in exc.value.problem and "ITK" not in exc.value.problem


@pytest.mark.parametrize("suffix", [".mha", ".nrrd"])
def test_truncated_itk_file_gives_a_clean_problem(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 30, 40), np.int16)), str(path), True)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(SpinelabInputError, match="cannot read image") as exc:
        read_image(path)
    problem = exc.value.problem
    # no ITK source locations, object addresses or the stale errno ITK appends
    for noise in ("Exception thrown", "0x", ".cxx", "Reason", "No such file"):
        assert noise not in problem, problem
    assert "truncated" in problem or "expected" in problem, problem


def test_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spinelab.io.images as images

    out = write_image(Volume(_marked_array(), np.eye(4)), tmp_path / "x.nii.gz")
    before = out.read_bytes()

    def half_written(volume: Volume, path: Path) -> None:
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "_write_nifti", half_written)
    with pytest.raises(SpinelabInputError, match="No space left"):
        write_image(Volume(_marked_array() * 2, np.eye(4)), out, force=True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.nii.gz"]
