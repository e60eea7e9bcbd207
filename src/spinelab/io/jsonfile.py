"""Reading a JSON file with the one-line errors spinelab gives for bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spinelab.errors import SpinelabInputError


def read_json(path: str | os.PathLike[str], missing: str = "file not found") -> Any:
    """The parsed content of a UTF-8 JSON file.

    Raises:
        SpinelabInputError: naming the file, with ``missing`` when it does not exist, or saying
            that it is not valid JSON.
    """
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpinelabInputError(p, missing) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SpinelabInputError(p, f"not valid JSON ({exc})") from None


def read_stem_json(
    stem: str | os.PathLike[str], fmt: str, what: str
) -> tuple[dict[str, Any], Path, Path]:
    """Read the JSON half of a ``STEM.json`` + ``STEM.npz`` pair (``stem`` may name either file
    or neither suffix) and check its ``format`` field.

    Returns:
        The JSON object, the JSON path and the ``.npz`` path.

    Raises:
        SpinelabInputError: naming the file, when it is missing, not JSON or not ``fmt``.
    """
    base = Path(stem)
    if base.suffix in (".json", ".npz"):
        base = base.with_suffix("")
    js, npz = base.with_suffix(".json"), base.with_suffix(".npz")
    obj = read_json(js, f"{what} file not found")
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise SpinelabInputError(js, f"not a {fmt} file")
    return obj, js, npz
