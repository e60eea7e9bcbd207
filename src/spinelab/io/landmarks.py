"""Reading and writing vertebra centroid files in every format spinelab knows.

In memory, centroids are always :class:`~spinelab.structures.Centroids` in LPS world millimetres.
The formats and the conventions each file uses on disk:

``native``
    ``spinelab-centroids/1`` JSON (LPS mm), see :mod:`spinelab.io.native`.
``verse``
    VerSe subject centroid JSON (``*_ctd.json``): a list whose first entry is
    ``{"direction": ["P", "I", "R"]}`` (nibabel axis codes: each names the world direction in
    which that voxel index increases), followed by ``{"label": 20, "X": .., "Y": .., "Z": ..}``
    entries in *voxel* units of the reference image reoriented to those codes. Needs the
    reference image. Reading accepts any codes; a flipped axis maps voxel ``x`` to
    ``shape - 1 - x`` (nibabel's exact reorientation, also what TPTBox uses; the VerSe
    challenge's ``data_utilities.reorient_centroids_to`` uses ``shape - x``, one voxel apart
    along flipped axes). Entries with NaN coordinates are skipped; label 27
    (coccyx, not a vertebra of spinelab's chain) is skipped with a warning. Writing uses the
    reference image's own axis codes, so coordinates are plain voxel indices of that image;
    S2 (spinelab id 29, outside VerSe's 1-28) cannot be written and is skipped with a warning.
``lml``
    SpineWeb / Glocker landmark list: a header line, then ``<id>\\t<name>_center\\tx\\ty\\tz``.
    The coordinates are ``voxel index * voxel spacing`` in the reference image's own grid (mm,
    but with no origin and no direction), which is how public readers use these files. Needs
    the reference image. The id written is ``10 * VerSe id`` (L1 -> 200); reading uses the name.
``slicer``
    3D Slicer markups JSON (``*.mrk.json``, schema markups-schema-v1.0.3): one ``Fiducial``
    markup with ``coordinateSystem`` ``"LPS"`` and one control point per vertebra. Reading
    accepts ``"LPS"`` and ``"RAS"`` files (and skips points whose position is undefined).
``csv``
    ``label,x,y,z`` in LPS mm, one vertebra per row, with a header row; an optional
    ``confidence`` column is written when the centroids carry confidences. Labels are names
    ("L1", case-insensitive) or VerSe ids ("20").
``vid`` (read only)
    VID keypoint JSON (Bürgin et al. 2023): the labelled body points (``spine_level``) of a
    ground-truth file, LPS mm. See :mod:`spinelab.io.vid`.

Example:
    >>> from spinelab.io.landmarks import read_centroids, write_centroids
    >>> c = read_centroids("sub-01_ctd.json", reference="sub-01_ct.nii.gz")  # doctest: +SKIP
    >>> write_centroids(c, "sub-01.mrk.json")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import check_writable, write_text_atomic
from spinelab.io.native import FORMAT as NATIVE_FORMAT
from spinelab.io.native import from_json_dict, to_json_dict
from spinelab.structures import Centroids, Volume

log = logging.getLogger(__name__)

#: Every centroid format spinelab reads; all but ``vid`` can also be written.
FORMATS: tuple[str, ...] = ("native", "verse", "lml", "slicer", "csv", "vid")
#: Formats that :func:`write_centroids` can write.
WRITE_FORMATS: tuple[str, ...] = ("native", "verse", "lml", "slicer", "csv")
#: Formats whose coordinates are voxel based and so need a reference image.
NEEDS_REFERENCE: tuple[str, ...] = ("verse", "lml")

#: The Slicer markups schema written into ``.mrk.json`` files.
SLICER_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
#: VerSe label ids that are known but are not vertebrae of spinelab's chain (27 = coccyx).
VERSE_SKIPPED_IDS: frozenset[int] = frozenset({27})

_LPS_FROM_RAS = np.array([-1.0, -1.0, 1.0])

Reference = str | os.PathLike[str] | Volume | None


# --------------------------------------------------------------------------------------------
# format detection


def format_from_suffix(path: str | os.PathLike[str]) -> str | None:
    """The format implied by a file name alone, or None when the name says nothing.

    ``*.mrk.json`` -> slicer, ``*_ctd.json`` -> verse, ``*.lml`` -> lml, ``*.csv`` -> csv,
    any other ``*.json`` -> native.
    """
    name = Path(path).name.lower()
    if name.endswith(".mrk.json"):
        return "slicer"
    if name.endswith("_ctd.json"):
        return "verse"
    if name.endswith(".lml"):
        return "lml"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "native"
    return None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpinelabInputError(path, "file not found") from None
    except IsADirectoryError:
        raise SpinelabInputError(path, "is a folder, not a centroid file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpinelabInputError(path, f"not valid JSON ({exc})") from None


def _json_kind(obj: Any) -> str | None:
    if isinstance(obj, dict):
        if obj.get("format") == NATIVE_FORMAT:
            return "native"
        if "markups" in obj:
            return "slicer"
        return None
    if isinstance(obj, list) and obj:
        first = obj[0]
        if isinstance(first, dict) and "direction" in first:
            return "verse"
        if isinstance(first, dict) and "coordinates" in first:
            return "vid"
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of an existing centroid file, by suffix and (for JSON) by content.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        SpinelabInputError: if the file is missing or its format cannot be recognised.
    """
    p = Path(path)
    if p.is_dir():
        raise SpinelabInputError(p, "is a folder, not a centroid file")
    if not p.exists():
        raise SpinelabInputError(p, "file not found")
    by_name = format_from_suffix(p)
    if by_name in ("lml", "csv"):
        return by_name
    if by_name is None:
        raise SpinelabInputError(
            p, "unknown centroid file type (expected .json, _ctd.json, .mrk.json, .lml or .csv)"
        )
    kind = _json_kind(_load_json(p))
    if kind is not None:
        return kind
    if by_name in ("verse", "slicer"):
        return by_name  # the reader will say what is wrong with the content
    raise SpinelabInputError(
        p,
        "JSON is not a known centroid format (spinelab-centroids/1, VerSe, Slicer markups "
        "or VID keypoints)",
    )


# --------------------------------------------------------------------------------------------
# reference images


def _reference_volume(reference: Reference, fmt: str, path: Path) -> tuple[Volume, str | None]:
    """The reference as a Volume (header only when read from a file) and its file name."""
    if reference is None:
        raise SpinelabInputError(
            path, f"{fmt} coordinates are in voxels; the reference image is needed (--reference)"
        )
    if isinstance(reference, Volume):
        return reference, None
    from spinelab.io.images import read_image_header

    return read_image_header(reference), os.fspath(reference)


def _warn_outside(path: Path, vol: Volume, labels: list[str], ijk: NDArray[np.float64]) -> None:
    """Log a warning for points outside the reference grid (likely the wrong reference).

    Used on writing and on reading voxel-based files: read against another image's grid, a
    VerSe or .lml file gives wrong world positions without any other sign.
    """
    hi = np.array(vol.shape, dtype=np.float64) - 0.5
    out = [lab for lab, p in zip(labels, ijk) if np.any(p < -0.5) or np.any(p > hi)]
    if out:
        log.warning(
            "%s: %d of %d points lie outside the reference image (%s); is it the right image?",
            path,
            len(out),
            len(labels),
            ", ".join(out),
        )


def _source(vol: Volume, name: str | None) -> dict[str, Any]:
    src: dict[str, Any] = {
        "shape": list(vol.shape),
        "affine_lps": vol.affine_lps.tolist(),
    }
    if name is not None:
        src["image"] = name
    return src


# --------------------------------------------------------------------------------------------
# native and VID


def _read_native(path: Path) -> Centroids:
    return from_json_dict(_load_json(path), path)


def _write_native(c: Centroids, path: Path, force: bool) -> Path:
    return write_text_atomic(path, json.dumps(to_json_dict(c), indent=1) + "\n", force=force)


def _read_vid(path: Path) -> Centroids:
    from spinelab.io.vid import read_vid

    scan = read_vid(path)
    if len(scan.body_levels) and not any(x is not None for x in scan.body_levels):
        raise SpinelabInputError(
            path,
            "VID detections file: its body points carry no spine_level labels "
            "(label them with 'spinelab label_detections')",
        )
    try:
        return scan.centroids()
    except ValueError as exc:
        raise SpinelabInputError(path, str(exc)) from None


# --------------------------------------------------------------------------------------------
# CSV


def _fmt(x: float) -> str:
    return repr(float(x))


def _read_csv(path: Path) -> Centroids:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpinelabInputError(path, "file not found") from None
    except UnicodeDecodeError:
        raise SpinelabInputError(path, "not a text CSV file") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return Centroids.empty()
    head = [c.strip().lower() for c in rows[0]]
    if head[:4] == ["label", "x", "y", "z"]:
        has_conf = len(head) > 4 and head[4] == "confidence"
        body = rows[1:]
        first_line = 2
    else:
        has_conf = False
        body = rows
        first_line = 1
    labels: list[str] = []
    pos: list[list[float]] = []
    conf: list[float] = []
    for n, row in enumerate(body):
        line = first_line + n
        if len(row) < 4:
            raise SpinelabInputError(path, f"line {line}: expected label,x,y,z")
        try:
            label = anatomy.lookup(row[0].strip()).name
        except anatomy.UnknownLabelError as exc:
            raise SpinelabInputError(path, f"line {line}: {exc}") from None
        try:
            xyz = [float(v) for v in row[1:4]]
            c = float(row[4]) if has_conf and len(row) > 4 and row[4].strip() else math.nan
        except ValueError:
            raise SpinelabInputError(path, f"line {line}: x, y, z must be numbers") from None
        if not all(math.isfinite(v) for v in xyz):
            raise SpinelabInputError(path, f"line {line} ({label}): x, y, z must be finite")
        labels.append(label)
        pos.append(xyz)
        conf.append(c)
    confidence = np.array(conf) if has_conf and not np.all(np.isnan(conf)) else None
    return _centroids(path, labels, pos, confidence)


def _write_csv(c: Centroids, path: Path, force: bool) -> Path:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    head = ["label", "x", "y", "z"] + (["confidence"] if c.confidence is not None else [])
    w.writerow(head)
    for i, (label, p) in enumerate(c):
        row = [label, *(_fmt(v) for v in p)]
        if c.confidence is not None:
            row.append(_fmt(c.confidence[i]))
        w.writerow(row)
    return write_text_atomic(path, out.getvalue(), force=force)


# --------------------------------------------------------------------------------------------
# VerSe


def _ras_affine(vol: Volume) -> NDArray[np.float64]:
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ vol.affine_lps


def _verse_to_grid(codes: tuple[str, ...], vol: Volume) -> NDArray[np.float64]:
    """4x4 affine mapping voxel coordinates of the grid reoriented to ``codes`` to ``vol``'s grid."""
    from nibabel import orientations as nio

    ref_ornt = nio.io_orientation(_ras_affine(vol))
    file_ornt = nio.axcodes2ornt(codes)
    transform = nio.ornt_transform(ref_ornt, file_ornt)
    return np.asarray(nio.inv_ornt_aff(transform, vol.shape), dtype=np.float64)


def _axis_codes(raw: Any) -> tuple[str, str, str] | None:
    """Validated axis codes (one of L/R, one of A/P, one of S/I), or None."""
    if not isinstance(raw, list) or len(raw) != 3:
        return None
    codes = tuple(str(c).strip().upper() for c in raw)
    axes = sorted("LRPASI".find(c) // 2 if len(c) == 1 and c in "LRPASI" else -1 for c in codes)
    if axes != [0, 1, 2]:
        return None
    return (codes[0], codes[1], codes[2])


def _read_verse(path: Path, reference: Reference) -> Centroids:
    obj = _load_json(path)
    if not isinstance(obj, list) or not obj or not isinstance(obj[0], dict):
        raise SpinelabInputError(path, "not a VerSe centroid file (expected a JSON list)")
    codes = _axis_codes(obj[0].get("direction"))
    if codes is None:
        raise SpinelabInputError(
            path, 'first entry must be {"direction": [3 axis codes]}, e.g. ["P", "I", "R"]'
        )
    vol, ref_name = _reference_volume(reference, "VerSe", path)
    to_grid = _verse_to_grid(codes, vol)
    labels: list[str] = []
    vox: list[list[float]] = []
    for n, entry in enumerate(obj[1:], start=1):
        try:
            vid = int(entry["label"])
            xyz = [float(entry[k]) for k in ("X", "Y", "Z")]
        except (KeyError, TypeError, ValueError):
            raise SpinelabInputError(
                path, f"entry {n}: needs 'label' and 'X', 'Y', 'Z' numbers"
            ) from None
        if not all(math.isfinite(v) for v in xyz):
            log.debug("%s: entry %d (label %d) has no position; skipped", path, n, vid)
            continue
        if vid in VERSE_SKIPPED_IDS:
            log.warning(
                "%s: VerSe label %d (coccyx) is not a vertebra of the chain; skipped", path, vid
            )
            continue
        if not 1 <= vid <= anatomy.VERSE_MAX_ID:
            raise SpinelabInputError(
                path, f"entry {n}: unknown VerSe label {vid} (expected 1-{anatomy.VERSE_MAX_ID})"
            )
        labels.append(anatomy.by_verse_id(vid).name)
        vox.append(xyz)
    v = np.array(vox, dtype=np.float64).reshape(-1, 3)
    ijk = v @ to_grid[:3, :3].T + to_grid[:3, 3]
    _warn_outside(path, vol, labels, ijk)
    c = _centroids(path, labels, vol.ijk_to_world(ijk), None)
    c.source = _source(vol, ref_name)
    return c


def _write_verse(c: Centroids, path: Path, reference: Reference, force: bool) -> Path:
    vol, _ = _reference_volume(reference, "VerSe", path)
    from nibabel.orientations import aff2axcodes

    # nibabel's codes (equal to Volume.orientation_codes(); for near-45-degree oblique grids
    # nibabel's choice is what the reader, which uses nibabel too, expects)
    codes = tuple(str(code) for code in aff2axcodes(_ras_affine(vol)))
    entries: list[dict[str, Any]] = [{"direction": list(codes)}]
    ijk = vol.world_to_ijk(c.positions_mm)
    _warn_outside(path, vol, c.labels, ijk)
    for label, p in zip(c.labels, ijk):
        vid = anatomy.by_name(label).verse_id
        if vid > anatomy.VERSE_MAX_ID:
            log.warning("%s: %s has no VerSe label (VerSe ids are 1-28); not written", path, label)
            continue
        entries.append({"label": vid, "X": float(p[0]), "Y": float(p[1]), "Z": float(p[2])})
    text = "[\n" + ",\n".join(json.dumps(e) for e in entries) + "\n]\n"
    return write_text_atomic(path, text, force=force)


# --------------------------------------------------------------------------------------------
# SpineWeb .lml


def _read_lml(path: Path, reference: Reference) -> Centroids:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpinelabInputError(path, "file not found") from None
    except UnicodeDecodeError:
        raise SpinelabInputError(path, "not a text .lml file") from None
    vol, ref_name = _reference_volume(reference, "SpineWeb .lml", path)
    labels: list[str] = []
    scaled: list[list[float]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        parsed = _parse_lml_row(parts)
        if parsed is None:
            if n == 1:  # the header line
                continue
            raise SpinelabInputError(path, f"line {n}: expected '<id> <name>_center <x> <y> <z>'")
        name, xyz = parsed
        try:
            labels.append(anatomy.normalize_name(name))
        except anatomy.UnknownLabelError as exc:
            raise SpinelabInputError(path, f"line {n}: {exc}") from None
        scaled.append(xyz)
    ijk = np.array(scaled, dtype=np.float64).reshape(-1, 3) / vol.spacing_mm
    _warn_outside(path, vol, labels, ijk)
    c = _centroids(path, labels, vol.ijk_to_world(ijk), None)
    c.source = _source(vol, ref_name)
    return c


def _parse_lml_row(parts: list[str]) -> tuple[str, list[float]] | None:
    if len(parts) != 5:
        return None
    try:
        xyz = [float(v) for v in parts[2:5]]
        int(float(parts[0]))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in xyz):
        return None
    name = parts[1]
    if name.lower().endswith("_center"):
        name = name[: -len("_center")]
    return name, xyz


def _write_lml(c: Centroids, path: Path, reference: Reference, force: bool) -> Path:
    vol, _ = _reference_volume(reference, "SpineWeb .lml", path)
    ijk = vol.world_to_ijk(c.positions_mm)
    _warn_outside(path, vol, c.labels, ijk)
    scaled = ijk * vol.spacing_mm
    lines = ["#spinelab landmarks: voxel index * spacing (mm) in the reference image's grid"]
    for label, p in zip(c.labels, scaled):
        vid = anatomy.by_name(label).verse_id
        lines.append("\t".join([str(10 * vid), f"{label}_center", *(_fmt(v) for v in p)]))
    return write_text_atomic(path, "\n".join(lines) + "\n", force=force)


# --------------------------------------------------------------------------------------------
# 3D Slicer markups


def _read_slicer(path: Path) -> Centroids:
    obj = _load_json(path)
    markups = obj.get("markups") if isinstance(obj, dict) else None
    if not isinstance(markups, list) or not markups:
        raise SpinelabInputError(path, "not a Slicer markups file (no 'markups' list)")
    labels: list[str] = []
    pos: list[list[float]] = []
    for m, markup in enumerate(markups):
        if not isinstance(markup, dict):
            raise SpinelabInputError(path, f"markup {m} is not an object")
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise SpinelabInputError(
                path, f"markup {m}: coordinateSystem {system!r} (expected LPS or RAS)"
            )
        flip = _LPS_FROM_RAS if system == "RAS" else np.ones(3)
        for n, cp in enumerate(markup.get("controlPoints") or []):
            if not isinstance(cp, dict):
                raise SpinelabInputError(path, f"markup {m}, point {n} is not an object")
            if cp.get("positionStatus", "defined") != "defined":
                continue
            try:
                xyz = [float(v) for v in cp["position"]]
            except (KeyError, TypeError, ValueError):
                raise SpinelabInputError(
                    path, f"markup {m}, point {n}: needs a 'position' [x, y, z]"
                ) from None
            if len(xyz) != 3 or not all(math.isfinite(v) for v in xyz):
                raise SpinelabInputError(
                    path, f"markup {m}, point {n}: position must be 3 finite numbers"
                )
            try:
                labels.append(anatomy.lookup(str(cp.get("label", ""))).name)
            except anatomy.UnknownLabelError as exc:
                raise SpinelabInputError(path, f"markup {m}, point {n}: {exc}") from None
            pos.append(list(np.asarray(xyz) * flip))
    return _centroids(path, labels, pos, None)


def _write_slicer(c: Centroids, path: Path, force: bool) -> Path:
    points = []
    for i, (label, p) in enumerate(c):
        desc = "" if c.confidence is None else f"confidence={float(c.confidence[i]):.6g}"
        points.append(
            {
                "id": str(i + 1),
                "label": label,
                "description": desc,
                "associatedNodeID": "",
                "position": [float(v) for v in p],
                "orientation": [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0],
                "selected": True,
                "locked": False,
                "visibility": True,
                "positionStatus": "defined",
            }
        )
    doc = {
        "@schema": SLICER_SCHEMA,
        "markups": [
            {
                "type": "Fiducial",
                "coordinateSystem": "LPS",
                "coordinateUnits": "mm",
                "locked": False,
                "fixedNumberOfControlPoints": False,
                "labelFormat": "%N-%d",
                "lastUsedControlPointNumber": len(points),
                "controlPoints": points,
                "measurements": [],
            }
        ],
    }
    return write_text_atomic(path, json.dumps(doc, indent=2) + "\n", force=force)


# --------------------------------------------------------------------------------------------
# public API


def _centroids(
    path: Path,
    labels: list[str],
    pos: Any,
    confidence: NDArray[np.float64] | None,
) -> Centroids:
    try:
        return Centroids(labels, np.asarray(pos, dtype=np.float64).reshape(-1, 3), confidence)
    except ValueError as exc:  # duplicate labels
        raise SpinelabInputError(path, str(exc)) from None


def _check_fmt(fmt: str, allowed: tuple[str, ...], what: str) -> str:
    f = fmt.lower()
    if f not in allowed:
        raise SpinelabInputError(
            None, f"cannot {what} centroid format {fmt!r} (choose from {', '.join(allowed)})"
        )
    return f


def read_centroids(
    path: str | os.PathLike[str],
    reference: Reference = None,
    fmt: str | None = None,
) -> Centroids:
    """Read a centroid file of any supported format into LPS world mm.

    Args:
        path: The centroid file.
        reference: The image the voxel coordinates of ``verse`` and ``lml`` files refer to: a
            path (file or DICOM folder; only its header is read where possible) or a Volume.
            Ignored by the other formats.
        fmt: One of :data:`FORMATS`; detected with :func:`detect_format` when None.

    Returns:
        The centroids, in chain order. For ``verse``/``lml``, ``source`` describes the reference.

    Raises:
        SpinelabInputError: for a missing or malformed file, an unknown label, duplicate
            labels, or a missing reference; the message names the file.
    """
    p = Path(path)
    try:
        return _read_centroids(p, reference, fmt)
    except OSError as exc:  # permissions, I/O errors: name the file, no stack trace
        raise SpinelabInputError(
            exc.filename or p, f"cannot read ({exc.strerror or exc})"
        ) from None


def _read_centroids(p: Path, reference: Reference, fmt: str | None) -> Centroids:
    if fmt is None:
        fmt = detect_format(p)
    fmt = _check_fmt(fmt, FORMATS, "read")
    if not p.exists():
        raise SpinelabInputError(p, "file not found")
    if fmt == "native":
        return _read_native(p)
    if fmt == "vid":
        return _read_vid(p)
    if fmt == "csv":
        return _read_csv(p)
    if fmt == "slicer":
        return _read_slicer(p)
    if fmt == "verse":
        return _read_verse(p, reference)
    return _read_lml(p, reference)


def write_centroids(
    centroids: Centroids,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    reference: Reference = None,
    force: bool = False,
) -> Path:
    """Write centroids atomically in one of :data:`WRITE_FORMATS`.

    Args:
        centroids: LPS world mm.
        path: The output file; never overwritten unless ``force``.
        fmt: Output format; from ``path``'s suffix when None (see :func:`format_from_suffix`),
            else native.
        reference: The image that ``verse`` and ``lml`` voxel coordinates refer to (path or
            Volume); ignored by the other formats.
        force: Overwrite an existing ``path``.

    Returns:
        The path written.

    Raises:
        SpinelabInputError: if the output exists without ``force``, the format is unknown or
            a needed reference is missing.
    """
    p = Path(path)
    fmt = _check_fmt(fmt or format_from_suffix(p) or "native", WRITE_FORMATS, "write")
    if p.is_dir():
        raise SpinelabInputError(p, "is a folder; give the output a file name")
    check_writable(p, force)
    try:
        return _write_centroids(centroids, p, fmt, reference, force)
    except OSError as exc:
        raise SpinelabInputError(
            exc.filename or p, f"cannot write ({exc.strerror or exc})"
        ) from None


def _write_centroids(
    centroids: Centroids, p: Path, fmt: str, reference: Reference, force: bool
) -> Path:
    if fmt == "native":
        return _write_native(centroids, p, force)
    if fmt == "csv":
        return _write_csv(centroids, p, force)
    if fmt == "slicer":
        return _write_slicer(centroids, p, force)
    if fmt == "verse":
        return _write_verse(centroids, p, reference, force)
    return _write_lml(centroids, p, reference, force)
