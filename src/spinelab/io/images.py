"""Reading and writing 3-D images as :class:`~spinelab.structures.Volume` (array + LPS affine).

Supported inputs: NIfTI (``.nii``, ``.nii.gz``, ``.hdr``/``.img`` pairs), NRRD (``.nrrd``, ``.nhdr``), MetaImage
(``.mha``, ``.mhd``) and DICOM series (a folder of slices, or one slice file of a series).

Conventions:
    * ``Volume.array`` keeps the file's own index order ``[i, j, k]`` (NIfTI's i, j, k; ITK's
      x, y, z; DICOM's column, row, slice). SimpleITK arrays come out z, y, x and are transposed
      here, and only here.
    * ``Volume.affine_lps`` maps ``[i, j, k, 1]`` to LPS world mm (the DICOM patient frame).
      NIfTI stores RAS, so ``affine_lps = diag(-1, -1, 1, 1) @ affine_ras``.

Why NIfTI is read with nibabel, not SimpleITK: nibabel applies the NIfTI rule for choosing the
affine (sform when ``sform_code > 0``, else qform) exactly and keeps a sheared sform as it is, so
spinelab can refuse it with a clear message; ITK silently prefers the qform in some of those
cases or fails with a generic exception. nibabel also reads the header without touching the
pixel data, which makes :func:`read_image_header` cheap. For ordinary (orthonormal) files both
libraries give the same world geometry, which the tests check. NRRD and MetaImage are read with
SimpleITK.

DICOM series: slice headers are read with pydicom (no pixel data) to group the files of the
folder and its subfolders by ``SeriesInstanceUID``; when there are several series the one with
the most slices is used and a warning names it. The slices are ordered along the slice normal ``row x column`` of
ImageOrientationPatient; the pixels (with RescaleSlope/Intercept applied) are read with
SimpleITK from that ordered file list. The geometry is checked and refused with a clear error
when it cannot be represented by an affine:

    * gantry tilt (slice positions not along the slice normal, e.g. tilted-gantry CT): resample
      the series first (e.g. with the scanner's or dcm2niix's tilt correction);
    * non-uniform slice spacing (missing slices) or inconsistent orientations within a series.

Any orientation or spacing is accepted, including oblique (rotated) grids. Affines whose axes
are not orthogonal (sheared) are refused, since ITK-based tools and the VerSe conventions cannot
represent them. Images with fewer than 3 dimensions, or with a single slice along an axis, are
refused as 2-D.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import atomic_path, check_writable
from spinelab.structures import Volume

log = logging.getLogger(__name__)

#: Largest accepted angle (degrees) between the slice-position steps and the slice normal.
TILT_TOLERANCE_DEG = 0.05
#: Largest accepted relative deviation of a slice step from the mean step.
SPACING_TOLERANCE = 0.01
#: Largest accepted deviation from orthonormality of the direction cosines.
ORTHO_TOLERANCE = 1e-4

RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])

_NIFTI = (".nii", ".nii.gz", ".hdr", ".img")
_ITK = (".nrrd", ".nhdr", ".mha", ".mhd")
_WRITE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in (".nii.gz", *_NIFTI, *_ITK, ".dcm"):
        if name.endswith(s):
            return s
    return path.suffix.lower()


# --------------------------------------------------------------------------------------------
# SimpleITK errors: one clean phrase, and no native output on the terminal


@contextlib.contextmanager
def _native_stderr_to_log(path: Path) -> Iterator[None]:
    """Route what native libraries (ITK's MetaIO, GDCM) print on file descriptor 2 to the log.

    Some ITK readers write diagnostics straight to the C++ ``std::cerr`` (e.g. MetaIO's
    "data not read completely"), which would put extra lines on the terminal beside spinelab's
    own one-line error. The text is kept and logged at debug level instead.
    """
    fd = 2  # native code writes to descriptor 2 whatever Python's sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:  # no usable descriptor 2: nothing to redirect
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace").strip()
            if text:
                log.debug("%s: native library output: %s", path, " | ".join(text.splitlines()))


_ITK_PREFIX = re.compile(
    r"^(?:ITK ERROR|sitk::ERROR|ITK Error):\s*(?:\w+\(0x[0-9a-fA-F]+\):\s*)?|^\[nrrd\] \w+:\s*"
)


def _itk_problem(exc: BaseException, default: str) -> str:
    """A short phrase for a SimpleITK/ITK exception.

    ITK messages start with the source location and the reader object's address, and ITK may
    append ``Reason:`` with the last OS error, which is often unrelated (e.g. "No such file or
    directory" for a truncated file that exists). The innermost message (the last line once
    those are dropped) says what is wrong.
    """
    lines = [ln.strip() for ln in str(exc).strip().splitlines()]
    keep = [
        _ITK_PREFIX.sub("", ln).strip()
        for ln in lines
        if ln and not ln.startswith(("Exception thrown in SimpleITK", "Reason:"))
    ]
    keep = [ln.rstrip(":") for ln in keep if ln.rstrip(":")]
    if not keep:
        return default
    last = keep[-1]
    low = last.lower()
    if "cannot be read" in low or "cannot read requested file" in low:
        return f"{default}: truncated or corrupt file"
    if "unable to determine imageio reader" in low:
        return f"{default}: not a known image format, or a corrupt file"
    return f"{default} ({last})"


# --------------------------------------------------------------------------------------------
# geometry checks


def _check_geometry(path: Path, shape: Sequence[int], affine_lps: NDArray[np.float64]) -> None:
    if len(shape) < 3 or min(shape[:3]) < 2:
        dims = "x".join(str(int(s)) for s in shape if int(s) > 1) or "1"
        raise SpinelabInputError(path, f"image is 2-D ({dims}); a 3-D CT volume is needed")
    m = affine_lps[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    if not np.all(np.isfinite(m)) or np.any(spacing < 1e-6):
        raise SpinelabInputError(path, "image has an invalid (singular) affine")
    d = m / spacing
    dev = float(np.max(np.abs(d.T @ d - np.eye(3))))
    if dev > ORTHO_TOLERANCE:
        angle = float(np.degrees(np.arcsin(min(1.0, dev))))
        raise SpinelabInputError(
            path,
            f"image axes are not orthogonal (sheared by about {angle:.2f} degrees, e.g. gantry "
            "tilt); resample it to an orthogonal grid first",
        )


def _squeeze_to_3d(path: Path, arr_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The 3-D shape after dropping trailing singleton dimensions (4-D/5-D NIfTI)."""
    shape = tuple(int(s) for s in arr_shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise SpinelabInputError(
            path, f"image is {len(shape)}-D ({'x'.join(map(str, shape))}); a 3-D volume is needed"
        )
    return shape


# --------------------------------------------------------------------------------------------
# NIfTI (nibabel)


def _load_nifti(path: Path) -> Any:
    import nibabel as nib

    try:
        img = nib.load(str(path))
    except FileNotFoundError:
        raise SpinelabInputError(path, "file not found") from None
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise SpinelabInputError(path, f"cannot read NIfTI header ({exc})") from None
    return img


def _nifti_affine_lps(img: Any) -> NDArray[np.float64]:
    return np.asarray(RAS_FROM_LPS @ np.asarray(img.affine, dtype=np.float64), dtype=np.float64)


def _read_nifti(path: Path, header_only: bool) -> Volume:
    img = _load_nifti(path)
    shape = _squeeze_to_3d(path, img.shape)
    affine = _nifti_affine_lps(img)
    _check_geometry(path, shape, affine)
    hdr = img.header
    if "sform_code" in hdr and int(hdr["sform_code"]) == 0 and int(hdr["qform_code"]) == 0:
        log.warning(
            "%s: the NIfTI header stores no orientation (sform and qform codes are 0); "
            "assuming nibabel's default (%s, no origin)",
            path,
            "".join(Volume(np.zeros((1, 1, 1)), affine).orientation_codes()),
        )
    if header_only:
        return Volume(np.broadcast_to(np.zeros((), dtype=img.get_data_dtype()), shape), affine)
    try:
        arr = np.asanyarray(img.dataobj)
    except Exception as exc:  # truncated or corrupt data (EOFError, zlib.error, ...)
        raise SpinelabInputError(path, f"cannot read NIfTI data ({exc})") from None
    return Volume(arr.reshape(shape), affine)


def _write_nifti(volume: Volume, path: Path) -> None:
    import nibabel as nib

    affine_ras = RAS_FROM_LPS @ volume.affine_lps
    arr = np.asarray(volume.array)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        # NIfTI tools rarely read 64-bit integers: store int32 when the values fit
        info = np.iinfo(np.int32)
        if arr.size == 0 or (int(arr.min()) >= info.min and int(arr.max()) <= info.max):
            arr = arr.astype(np.int32)
    img = nib.Nifti1Image(arr, affine_ras, dtype=arr.dtype)
    img.set_sform(affine_ras, code=1)
    img.set_qform(affine_ras, code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(path))


# --------------------------------------------------------------------------------------------
# SimpleITK (NRRD, MetaImage, DICOM pixels)


def _sitk_affine_lps(size: Sequence[int], spacing: Sequence[float], origin: Sequence[float],
                     direction: Sequence[float]) -> NDArray[np.float64]:  # fmt: skip
    n = len(size)
    d = np.asarray(direction, dtype=np.float64).reshape(n, n)[:3, :3]
    a = np.eye(4)
    a[:3, :3] = d @ np.diag(np.asarray(spacing, dtype=np.float64)[:3])
    a[:3, 3] = np.asarray(origin, dtype=np.float64)[:3]
    return a


def _sitk_to_volume(path: Path, image: Any) -> Volume:
    import SimpleITK as sitk

    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SpinelabInputError(path, "image has vector (multi-component) pixels")
    size = image.GetSize()
    if len(size) < 3:
        _check_geometry(path, size, np.eye(4))
    affine = _sitk_affine_lps(size, image.GetSpacing(), image.GetOrigin(), image.GetDirection())
    shape = _squeeze_to_3d(path, tuple(size))
    _check_geometry(path, shape, affine)
    arr = sitk.GetArrayFromImage(image)  # (..., z, y, x)
    arr = arr.reshape(tuple(reversed(shape)))
    return Volume(arr.transpose(2, 1, 0), affine)  # a view: no second copy of the voxels


def _read_itk(path: Path, header_only: bool) -> Volume:
    if not path.is_file():
        raise SpinelabInputError(path, "file not found")
    try:
        with _native_stderr_to_log(path):
            return _read_itk_file(path, header_only)
    except RuntimeError as exc:
        raise SpinelabInputError(path, _itk_problem(exc, "cannot read image")) from None


def _read_itk_file(path: Path, header_only: bool) -> Volume:
    import SimpleITK as sitk

    if header_only:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        size = reader.GetSize()
        shape = _squeeze_to_3d(path, tuple(size)) if len(size) >= 3 else tuple(size)
        affine = _sitk_affine_lps(
            size, reader.GetSpacing(), reader.GetOrigin(), reader.GetDirection()
        ) if len(size) >= 3 else np.eye(4)  # fmt: skip
        _check_geometry(path, shape, affine)
        dtype = sitk.GetArrayViewFromImage(sitk.Image([1] * 3, reader.GetPixelID())).dtype
        return Volume(np.broadcast_to(np.zeros((), dtype=dtype), shape), affine)
    return _sitk_to_volume(path, sitk.ReadImage(str(path)))


def _write_itk(volume: Volume, path: Path) -> None:
    import SimpleITK as sitk

    arr = volume.array
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(arr).transpose(2, 1, 0)))
    image.SetSpacing([float(s) for s in volume.spacing_mm])
    image.SetOrigin([float(v) for v in volume.affine_lps[:3, 3]])
    image.SetDirection([float(v) for v in volume.direction.reshape(-1)])
    with _native_stderr_to_log(path):
        sitk.WriteImage(image, str(path), True)


# --------------------------------------------------------------------------------------------
# DICOM series (pydicom headers + SimpleITK pixels)


@dataclass(frozen=True)
class DicomSeries:
    """One DICOM series found in a folder, slices sorted along the slice normal.

    Attributes:
        uid: SeriesInstanceUID.
        description: SeriesDescription ("" when absent).
        files: Slice files, sorted by position along the normal (increasing k).
        shape: ``(I, J, K)``: columns, rows, slices.
        affine_lps: ``(4, 4)`` voxel -> LPS mm, from ImagePositionPatient,
            ImageOrientationPatient and PixelSpacing.
    """

    uid: str
    description: str
    files: tuple[Path, ...]
    shape: tuple[int, int, int]
    affine_lps: NDArray[np.float64]


def _dicom_headers(folder: Path) -> dict[str, list[tuple[Path, Any]]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    series: dict[str, list[tuple[Path, Any]]] = {}
    files = sorted(
        f
        for f in folder.rglob("*")
        if not any(part.startswith(".") for part in f.relative_to(folder).parts)
    )
    for f in files:
        if not f.is_file():
            continue
        try:
            ds = pydicom.dcmread(str(f), stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            log.debug("%s: not a DICOM file; ignored", f)
            continue
        if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds:
            log.debug("%s: no image position/orientation; ignored", f)
            continue
        uid = str(ds.get("SeriesInstanceUID", ""))
        series.setdefault(uid, []).append((f, ds))
    return series


def _series_geometry(folder: Path, uid: str, items: list[tuple[Path, Any]]) -> DicomSeries:
    first = items[0][1]
    iop = np.array([float(v) for v in first.ImageOrientationPatient], dtype=np.float64)
    for f, ds in items:
        other = np.array([float(v) for v in ds.ImageOrientationPatient])
        if np.max(np.abs(other - iop)) > 1e-4:
            raise SpinelabInputError(
                folder, f"slices of series {uid} have different orientations (e.g. {f.name})"
            )
    row, col = iop[:3], iop[3:]
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    if abs(float(row @ col)) > ORTHO_TOLERANCE * 10:
        raise SpinelabInputError(folder, "ImageOrientationPatient row/column are not orthogonal")
    normal = np.cross(row, col)
    ipp = np.array([[float(v) for v in ds.ImagePositionPatient] for _, ds in items])
    order = np.argsort(ipp @ normal, kind="stable")
    ipp = ipp[order]
    files = tuple(items[i][0] for i in order)
    n = len(files)
    if n == 1 and int(first.get("NumberOfFrames", 1) or 1) > 1:
        raise SpinelabInputError(
            folder,
            "a single multi-frame (enhanced) DICOM file is not supported; convert it to NIfTI "
            "first (e.g. with dcm2niix)",
        )
    if n < 2:
        raise SpinelabInputError(
            folder, "the DICOM series has a single slice, so the image is 2-D; a 3-D CT is needed"
        )
    steps = np.diff(ipp, axis=0)
    dist = steps @ normal
    if np.any(np.abs(dist) < 1e-6):
        raise SpinelabInputError(
            folder, f"series {uid} has several slices at the same position (mixed series?)"
        )
    cosines = dist / np.linalg.norm(steps, axis=1)
    tilt = float(np.degrees(np.arccos(np.clip(np.min(cosines), -1.0, 1.0))))
    if tilt > TILT_TOLERANCE_DEG:
        raise SpinelabInputError(
            folder,
            f"gantry tilt of {tilt:.2f} degrees (slice positions are not along the slice "
            "normal); resample the series to an orthogonal grid first (e.g. dcm2niix)",
        )
    mean = float(np.mean(dist))
    if np.max(np.abs(dist - mean)) > SPACING_TOLERANCE * mean:
        raise SpinelabInputError(
            folder,
            f"non-uniform slice spacing ({np.min(dist):.3f} to {np.max(dist):.3f} mm; "
            "missing slices?)",
        )
    try:
        dr, dc = (float(v) for v in first.PixelSpacing)  # row spacing, column spacing
        rows, cols = int(first.Rows), int(first.Columns)
    except (AttributeError, TypeError, ValueError):
        raise SpinelabInputError(folder, "DICOM slices lack PixelSpacing/Rows/Columns") from None
    affine = np.eye(4)
    affine[:3, 0] = row * dc
    affine[:3, 1] = col * dr
    affine[:3, 2] = (ipp[-1] - ipp[0]) / (n - 1)
    affine[:3, 3] = ipp[0]
    return DicomSeries(uid, str(first.get("SeriesDescription", "")), files, (cols, rows, n), affine)


def find_dicom_series(folder: str | os.PathLike[str]) -> list[DicomSeries]:
    """All image series in a DICOM folder and its subfolders, largest first.

    Series that cannot be read as a volume (gantry tilt, missing slices, a single slice) are
    left out with a debug message, except the largest, whose problem is raised.

    Raises:
        SpinelabInputError: if the folder holds no DICOM image, or the largest series has
            gantry tilt, non-uniform spacing or a single slice.
    """
    return _find_series(Path(folder))[0]


def _find_series(d: Path) -> tuple[list[DicomSeries], int]:
    groups = _dicom_headers(d)
    if not groups:
        raise SpinelabInputError(d, "folder holds no DICOM image slices")
    ranked = sorted(groups.items(), key=lambda kv: len(kv[1]), reverse=True)
    out = [_series_geometry(d, ranked[0][0], ranked[0][1])]
    for uid, items in ranked[1:]:
        try:
            out.append(_series_geometry(d, uid, items))
        except SpinelabInputError as exc:
            log.debug("%s: series %s skipped (%s)", d, uid, exc.problem)
    return out, len(groups)


def _pick_series(folder: Path) -> DicomSeries:
    found, n_series = _find_series(folder)
    best = found[0]
    if n_series > 1:
        log.warning(
            "%s: %d DICOM series found; using the largest, %s (%d slices%s)",
            folder,
            n_series,
            best.uid or "(no SeriesInstanceUID)",
            best.shape[2],
            f", '{best.description}'" if best.description else "",
        )
    return best


def _unreadable_slice(files: Sequence[Path]) -> tuple[Path | None, str]:
    """The first slice whose pixel data SimpleITK cannot read, and why (None if all read)."""
    import SimpleITK as sitk

    for f in files:
        try:
            with _native_stderr_to_log(f):
                sitk.ReadImage(str(f))
        except RuntimeError as exc:
            return f, _itk_problem(exc, "cannot read DICOM pixel data")
    return None, ""


def _read_dicom(folder: Path, header_only: bool) -> Volume:
    series = _pick_series(folder)
    if header_only:
        return Volume(
            np.broadcast_to(np.zeros((), dtype=np.int16), series.shape), series.affine_lps
        )
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in series.files])
    try:
        with _native_stderr_to_log(folder):
            image = reader.Execute()
    except RuntimeError as exc:
        culprit, problem = _unreadable_slice(series.files)
        if culprit is None:
            problem = _itk_problem(exc, "cannot read DICOM pixel data")
        raise SpinelabInputError(culprit or folder, problem) from None
    vol = _sitk_to_volume(folder, image)
    if vol.shape != series.shape or not np.allclose(vol.affine_lps, series.affine_lps, atol=1e-3):
        log.warning(
            "%s: SimpleITK's geometry differs from the slice headers; using the headers", folder
        )
        vol = Volume(vol.array, series.affine_lps) if vol.shape == series.shape else vol
    return vol


# --------------------------------------------------------------------------------------------
# public API


def _is_dicom_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


_NHDR_KEYS = ("data file", "datafile")


def _check_pair(path: Path, suffix: str) -> None:
    """Refuse a header without its data file (or data without its header)."""
    partner: Path | None = None
    if suffix in (".hdr", ".img"):
        partner = path.with_suffix(".img" if suffix == ".hdr" else ".hdr")
    elif suffix in (".mhd", ".nhdr"):
        # MetaImage "ElementDataFile = x.raw"; detached NRRD "data file: x.raw" (or "datafile:")
        sep, keys = ("=", ("ElementDataFile",)) if suffix == ".mhd" else (":", _NHDR_KEYS)
        try:
            with open(path, encoding="latin-1", errors="replace") as fh:
                head = fh.read(65536)
        except OSError:
            return
        for line in head.splitlines():
            key, _, value = line.partition(sep)
            if key.strip() in keys:
                name = value.strip()
                if name and name not in ("LOCAL", "LIST") and "%" not in name and " " not in name:
                    partner = path.parent / name  # an absolute name replaces the folder
                break
    if partner is not None and not partner.is_file():
        raise SpinelabInputError(
            path,
            f"unpaired file: its {'header' if suffix == '.img' else 'data'} file "
            f"{partner.name} is missing",
        )


def _read(path: str | os.PathLike[str], header_only: bool) -> Volume:
    p = Path(path)
    try:
        return _read_any(p, header_only)
    except OSError as exc:  # permissions, I/O errors: name the file, no stack trace
        raise SpinelabInputError(
            exc.filename or p, f"cannot read ({exc.strerror or exc})"
        ) from None


def _read_any(p: Path, header_only: bool) -> Volume:
    if p.is_dir():
        return _read_dicom(p, header_only)
    if not p.exists():
        raise SpinelabInputError(p, "file not found")
    suffix = _suffix(p)
    _check_pair(p, suffix)
    if suffix in _NIFTI:
        return _read_nifti(p, header_only)
    if suffix in _ITK:
        return _read_itk(p, header_only)
    if suffix == ".dcm" or _is_dicom_file(p):
        log.info("%s: a DICOM slice; reading the series in its folder", p)
        return _read_dicom(p.parent, header_only)
    raise SpinelabInputError(
        p, "unknown image type (expected .nii, .nii.gz, .nrrd, .mha, .mhd or a DICOM folder)"
    )


def read_image(path: str | os.PathLike[str]) -> Volume:
    """Read a 3-D image (NIfTI, NRRD, MetaImage or a DICOM series folder).

    Args:
        path: An image file, a DICOM folder, or one slice file of a DICOM series (its folder is
            read).

    Returns:
        The volume: array ``(I, J, K)`` in the file's index order (CT in HU; DICOM rescale
        applied), ``affine_lps`` mapping ``[i, j, k, 1]`` to LPS mm.

    Raises:
        SpinelabInputError: for a missing, corrupt, 2-D, sheared or gantry-tilted image.
    """
    return _read(path, header_only=False)


def read_image_header(path: str | os.PathLike[str]) -> Volume:
    """The geometry of an image without reading its pixel data.

    Returns:
        A Volume whose ``array`` is a read-only broadcast view of zeros (no memory) with the
        image's shape and on-disk dtype, and whose ``affine_lps`` is the image's. Use it where
        only the geometry matters (reference images for voxel-based centroid files).
    """
    return _read(path, header_only=True)


def write_image(volume: Volume, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write a volume as NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``) or MetaImage (``.mha``,
    ``.mhd``), chosen by the suffix; atomically, never overwriting without ``force``.

    NIfTI gets ``affine_ras = diag(-1, -1, 1, 1) @ affine_lps`` as sform and qform (code 1,
    scanner). NRRD and MetaImage store the LPS geometry as ITK origin, spacing and direction.

    Returns:
        The path written.
    """
    p = Path(path)
    suffix = _suffix(p)
    if suffix not in _WRITE_SUFFIXES:
        raise SpinelabInputError(
            p, "cannot write this image type (use .nii, .nii.gz, .nrrd, .mha or .mhd)"
        )
    _check_geometry(p, volume.shape, volume.affine_lps)
    if p.is_dir():
        raise SpinelabInputError(p, "is a folder; give the output a file name")
    try:
        if suffix == ".mhd":
            return _write_mhd(volume, p, force)
        with atomic_path(p, force) as tmp:
            if suffix in _NIFTI:
                _write_nifti(volume, tmp)
            else:
                _write_itk(volume, tmp)
    except OSError as exc:
        raise SpinelabInputError(
            exc.filename or p, f"cannot write ({exc.strerror or exc})"
        ) from None
    except RuntimeError as exc:  # SimpleITK
        raise SpinelabInputError(p, _itk_problem(exc, "cannot write")) from None
    return p


def _write_mhd(volume: Volume, path: Path, force: bool) -> Path:
    """MetaImage header + separate data file: write both in a temporary folder, then rename."""
    data = path.with_suffix(".zraw")
    check_writable(path, force)
    check_writable(data, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _write_itk(volume, tmpdir / path.name)
        os.replace(tmpdir / data.name, data)
        os.replace(tmpdir / path.name, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path
