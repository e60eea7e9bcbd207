"""``spinelab info IMAGE [--json]``: the geometry and value range of an image."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

NAME = "info"
HELP = "show an image's shape, spacing, orientation, world geometry (LPS mm) and value range"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``info`` arguments."""
    parser.add_argument(
        "image", metavar="IMAGE", help="NIfTI, NRRD, MetaImage file or DICOM series folder"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object (shape in index order i, j, k; affine_lps maps [i, j, k, 1] "
        "to LPS mm)",
    )


def image_info(path: str) -> dict[str, Any]:
    """The ``info`` record of an image (what ``--json`` prints).

    Returns:
        ``{"image", "shape", "spacing_mm", "orientation", "affine_lps", "origin_mm", "dtype",
        "value_range", "extent_lps_mm"}``; ``extent_lps_mm`` is the LPS bounding box
        ``[[min x, y, z], [max x, y, z]]`` of the voxel centres.
    """
    import numpy as np

    from spinelab.io.images import read_image

    vol = read_image(path)
    arr = vol.array
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (None, None)
    corners = np.array(
        [[i, j, k] for i in (0, vol.shape[0] - 1) for j in (0, vol.shape[1] - 1)
         for k in (0, vol.shape[2] - 1)], dtype=np.float64,
    )  # fmt: skip
    world = vol.ijk_to_world(corners)
    return {
        "image": path,
        "shape": list(vol.shape),
        "spacing_mm": [float(s) for s in vol.spacing_mm],
        "orientation": "".join(vol.orientation_codes()),
        "affine_lps": vol.affine_lps.tolist(),
        "origin_mm": [float(v) for v in vol.affine_lps[:3, 3]],
        "dtype": str(arr.dtype),
        "value_range": [lo, hi],
        "extent_lps_mm": [world.min(axis=0).tolist(), world.max(axis=0).tolist()],
    }


def _fmt_vec(v: list[float], digits: int = 3, sep: str = " x ") -> str:
    return sep.join(f"{x:.{digits}f}".rstrip("0").rstrip(".") for x in v)


def run(args: argparse.Namespace) -> int:
    """Print the image information; 0 on success."""
    info = image_info(args.image)
    if args.json:
        sys.stdout.write(json.dumps(info, indent=1) + "\n")
        return 0
    lo, hi = info["value_range"]
    lines = [
        f"image:        {info['image']}",
        f"shape:        {' x '.join(map(str, info['shape']))} (i, j, k)",
        f"spacing:      {_fmt_vec(info['spacing_mm'])} mm",
        f"orientation:  {info['orientation']} (direction in which i, j, k increase)",
        f"origin:       {_fmt_vec(info['origin_mm'], sep=', ')} (LPS mm of voxel 0, 0, 0)",
        f"dtype:        {info['dtype']}",
        f"value range:  {lo:g} to {hi:g}" if lo is not None else "value range:  (no values)",
        "affine (LPS):",
        *("  " + "  ".join(f"{x:10.4f}" for x in row) for row in info["affine_lps"]),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
