"""spinelab's native centroid format, ``spinelab-centroids/1`` (JSON, LPS world mm).

Example file::

    {"format": "spinelab-centroids/1", "space": "LPS", "units": "mm",
     "source": {"image": "scan.nii.gz", "shape": [512, 512, 300], "affine_lps": [[...], ...]},
     "method": "wang2021", "spinelab_version": "0.1.0",
     "vertebrae": [{"label": "L1", "verse_id": 20, "position_mm": [12.3, 140.2, -310.5],
                    "confidence": 0.97}]}

``source``, ``method`` and ``confidence`` are optional; ``vertebrae`` is in chain order.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from spinelab import anatomy
from spinelab.errors import SpinelabInputError
from spinelab.io.atomic import write_text_atomic
from spinelab.io.jsonfile import read_json
from spinelab.structures import Centroids

FORMAT = "spinelab-centroids/1"


def to_json_dict(centroids: Centroids) -> dict[str, Any]:
    """The native JSON object for ``centroids``."""
    from spinelab import __version__

    out: dict[str, Any] = {"format": FORMAT, "space": "LPS", "units": "mm"}
    if centroids.source is not None:
        out["source"] = centroids.source
    if centroids.method is not None:
        out["method"] = centroids.method
    out["spinelab_version"] = __version__
    rows = []
    for i, (label, pos) in enumerate(centroids):
        row: dict[str, Any] = {
            "label": label,
            "verse_id": anatomy.by_name(label).verse_id,
            "position_mm": [float(x) for x in pos],
        }
        if centroids.confidence is not None:
            row["confidence"] = float(centroids.confidence[i])
        rows.append(row)
    out["vertebrae"] = rows
    return out


def from_json_dict(obj: Any, path: str | os.PathLike[str] = "<json>") -> Centroids:
    """Parse a native JSON object; :class:`SpinelabInputError` names ``path`` on any problem."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise SpinelabInputError(path, f"not a {FORMAT} file (missing or wrong 'format')")
    if obj.get("space", "LPS") != "LPS" or obj.get("units", "mm") != "mm":
        raise SpinelabInputError(path, "only space 'LPS' and units 'mm' are supported")
    rows = obj.get("vertebrae")
    if not isinstance(rows, list):
        raise SpinelabInputError(path, "'vertebrae' must be a list")
    labels: list[str] = []
    pos: list[list[float]] = []
    conf: list[float] = []
    for n, row in enumerate(rows):
        try:
            label = anatomy.normalize_name(row["label"])
            p = [float(x) for x in row["position_mm"]]
        except anatomy.UnknownLabelError as exc:
            raise SpinelabInputError(path, f"vertebra {n}: {exc}") from None
        except (KeyError, TypeError, ValueError):
            raise SpinelabInputError(
                path, f"vertebra {n}: needs 'label' and 'position_mm' [x, y, z]"
            ) from None
        if len(p) != 3 or not all(math.isfinite(x) for x in p):
            raise SpinelabInputError(
                path, f"vertebra {n} ({label}): position_mm must be 3 finite numbers"
            )
        if "verse_id" in row and row["verse_id"] != anatomy.by_name(label).verse_id:
            raise SpinelabInputError(
                path, f"vertebra {n}: verse_id {row['verse_id']} does not match label {label}"
            )
        labels.append(label)
        pos.append(p)
        if "confidence" in row:
            conf.append(float(row["confidence"]))
    if conf and len(conf) != len(labels):
        raise SpinelabInputError(path, "confidence must be given for all vertebrae or none")
    try:
        return Centroids(
            labels,
            np.array(pos, dtype=np.float64).reshape(-1, 3),
            np.array(conf) if conf else None,
            obj.get("source"),
            obj.get("method"),
        )
    except ValueError as exc:
        raise SpinelabInputError(path, str(exc)) from None


def read_native(path: str | os.PathLike[str]) -> Centroids:
    """Read a ``spinelab-centroids/1`` JSON file."""
    p = Path(path)
    obj = read_json(p)
    return from_json_dict(obj, p)


def write_native(centroids: Centroids, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``centroids`` as ``spinelab-centroids/1`` JSON, atomically; no overwrite without force."""
    text = json.dumps(to_json_dict(centroids), indent=1) + "\n"
    return write_text_atomic(path, text, force=force)
