"""Errors that users can act on.

Every error raised for bad input is a :class:`SpinelabInputError`: it names the file and the
problem, and the CLI prints it as one line (``spinelab: error: FILE: PROBLEM``) with exit code 2.
"""

from __future__ import annotations

import os


class SpinelabError(Exception):
    """Base class of spinelab's own errors."""


class SpinelabInputError(SpinelabError):
    """Bad input: a missing, corrupt or unsuitable file, or an unusable argument.

    Args:
        path: The file (or folder) at fault, or None when no file is involved.
        problem: What is wrong, as a short phrase users can act on.
    """

    def __init__(self, path: str | os.PathLike[str] | None, problem: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class OutputExistsError(SpinelabInputError):
    """An output exists and ``--force`` was not given."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, "output exists; use --force to overwrite it")
