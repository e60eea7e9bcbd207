"""Shared by the benchmark scripts: each owns one section of ``benchmarks/RESULTS.md``.

A section starts with its ``## `` heading and runs to the next ``## `` heading; rerunning a
benchmark replaces its section and leaves the others as they are.
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import numpy as np

from spinelab.io.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_line() -> str:
    """``2026-11-22 02:09 UTC, 2 cores, no GPU (Python 3.11.7, numpy 2.4.6)``."""
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, 2 cores, no GPU (Python {platform.python_version()}, numpy {np.__version__})"


def replace_section(text: str, section: str, heading: str) -> str:
    """``text`` with the section starting with ``heading`` replaced by ``section`` (or appended)."""
    start = text.find(heading)
    if start < 0:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + section
    end = text.find("\n## ", start + len(heading))
    tail = "" if end < 0 else text[end + 1 :]
    return text[:start] + section + ("\n" + tail if tail else "")


def update_results(section: str, heading: str, path: Path = RESULTS) -> Path:
    """Replace (or append) the section headed ``heading`` of RESULTS.md, atomically."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    write_text_atomic(path, replace_section(old, section, heading), force=True)
    return path
