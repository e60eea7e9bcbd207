"""The ``spinelab`` command line: a thin layer over the library.

Each subcommand lives in :mod:`spinelab.commands` as a module with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Modules import heavy dependencies (torch,
SimpleITK) inside ``run`` so that ``spinelab --help`` stays instant.

Errors for bad input (:class:`spinelab.errors.SpinelabInputError`) print one line on stderr,
``spinelab: error: FILE: PROBLEM``, and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from spinelab import __version__
from spinelab.errors import SpinelabInputError

#: Subcommand modules under spinelab.commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "info",
    "convert",
    "evaluate",
    "synth",
    "label_detections",
)

log = logging.getLogger("spinelab")


def _get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spinelab",
        description="Find and name the vertebrae in 3-D CT scans.",
    )
    parser.add_argument("--version", action="version", version=f"spinelab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        mod = importlib.import_module(f"spinelab.commands.{name}")
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 0 else logging.INFO)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # nibabel logs header fix-ups (e.g. "pixdim[0] (qfac) should be 1") at INFO through a
    # handler of its own, so at spinelab's INFO level they would be printed twice: keep them
    # for -v.
    logging.getLogger("nibabel").setLevel(logging.DEBUG if verbose > 0 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 failure, 2 bad input)."""
    parser = _get_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args._run(args))
    except SpinelabInputError as exc:
        sys.stderr.write(f"spinelab: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("spinelab: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
