"""CLI subcommands; see :mod:`spinelab.cli`."""
