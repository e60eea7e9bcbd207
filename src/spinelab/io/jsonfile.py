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
