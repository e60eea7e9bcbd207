"""``spinelab convert IN -o OUT``: convert vertebra centroid files between formats.

Formats (see :mod:`spinelab.io.landmarks`): ``native`` (spinelab-centroids/1 JSON, LPS mm),
``verse`` (``*_ctd.json``, voxel coordinates, needs ``--reference``), ``lml`` (SpineWeb/Glocker:
voxel index * spacing in the reference's grid, no origin or direction; needs ``--reference``),
``slicer`` (``*.mrk.json``, LPS), ``csv`` (``label,x,y,z`` LPS mm) and, as input only, ``vid``
(VID keypoint JSON, labelled body points).
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from spinelab.io.landmarks import FORMATS, WRITE_FORMATS

if TYPE_CHECKING:
    from spinelab.structures import Volume

NAME = "convert"
HELP = "convert vertebra centroid files (native, VerSe, SpineWeb .lml, Slicer, CSV, VID)"

log = logging.getLogger(__name__)

DESCRIPTION = """\
Convert vertebra centroid files. Positions are LPS world mm in memory; each format's own
convention is applied on reading and writing. Round trips are lossless (well under 0.01 mm).

formats:
  native  spinelab-centroids/1 JSON (LPS mm)
  verse   VerSe *_ctd.json: voxel coordinates in the reference image reoriented to the file's
          "direction" codes; written with the reference's own codes (needs --reference;
          S2 cannot be written, VerSe label 27 (coccyx) is skipped on reading)
  lml     SpineWeb/Glocker .lml: voxel index * voxel spacing in the reference image's own grid
          (mm, but no origin and no direction; needs --reference)
  slicer  3D Slicer markups *.mrk.json (written in LPS; LPS and RAS files are read)
  csv     label,x,y,z in LPS mm (optional confidence column)
  vid     VID keypoint JSON, labelled body points (input only)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``convert`` arguments."""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("input", metavar="IN", help="centroid file to read")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="file to write")
    parser.add_argument(
        "--from",
        dest="from_fmt",
        choices=FORMATS,
        default=None,
        help="input format (default: detected from IN's name and content)",
    )
    parser.add_argument(
        "--to",
        choices=WRITE_FORMATS,
        default=None,
        help="output format (default: from OUT's suffix: .mrk.json slicer, _ctd.json verse, "
        ".lml lml, .csv csv, else native)",
    )
    parser.add_argument(
        "--reference",
        metavar="IMAGE",
        default=None,
        help="the image voxel coordinates refer to (needed to read or write verse and lml; "
        "lml coordinates are voxel index * spacing in this image's grid)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def _check_source_matches(path: str, source: dict[str, Any] | None, reference: Volume) -> None:
    """Warn when the input says it was made on an image with another geometry than --reference."""
    if not source or "affine_lps" not in source:
        return
    import numpy as np

    same_shape = list(source.get("shape", reference.shape)) == list(reference.shape)
    try:
        same_affine = np.allclose(source["affine_lps"], reference.affine_lps, atol=1e-3)
    except (TypeError, ValueError):
        same_affine = False
    if not (same_shape and same_affine):
        log.warning(
            "%s: its source image (%s) has another geometry than --reference; is it the right "
            "image?",
            path,
            source.get("image", "unnamed"),
        )


def run(args: argparse.Namespace) -> int:
    """Read IN, write OUT; 0 on success."""
    from spinelab.io.atomic import check_writable
    from spinelab.io.landmarks import (
        NEEDS_REFERENCE,
        detect_format,
        format_from_suffix,
        read_centroids,
        write_centroids,
    )

    out_fmt = args.to or format_from_suffix(args.output) or "native"
    check_writable(args.output, args.force)  # fail before reading anything
    in_fmt = args.from_fmt or detect_format(args.input)
    if args.reference is None and (in_fmt in NEEDS_REFERENCE or out_fmt in NEEDS_REFERENCE):
        from spinelab.errors import SpinelabInputError

        culprit = args.input if in_fmt in NEEDS_REFERENCE else args.output
        fmt = in_fmt if in_fmt in NEEDS_REFERENCE else out_fmt
        raise SpinelabInputError(
            culprit, f"{fmt} coordinates are in voxels; give the image with --reference"
        )
    reference = None
    if args.reference is not None:
        from spinelab.io.images import read_image_header

        reference = read_image_header(args.reference)
    centroids = read_centroids(args.input, reference=reference, fmt=in_fmt)
    if reference is not None:
        _check_source_matches(args.input, centroids.source, reference)
        centroids.source = {
            **(centroids.source or {}),
            "image": args.reference,
            "shape": list(reference.shape),
            "affine_lps": reference.affine_lps.tolist(),
        }
    path = write_centroids(
        centroids, args.output, fmt=out_fmt, reference=reference, force=args.force
    )
    log.info("%s: %d vertebrae written (%s)", path, len(centroids), out_fmt)
    return 0
