"""Plain-text tables of evaluation results, laid out as in Yang et al. 2017 and Wang et al. 2021.

Example output (rates in percent, distances in mm, "-" where there is nothing to report)::

    Protocol: spineweb (max. distance 20.0 mm), 2 scans
    Region       N  Mean (mm)  Std (mm)  Id rate
    All         10       3.10      1.20    90.0%
    Cervical     0          -         -        -
    Thoracic     5       2.90      1.10   100.0%
    Lumbar       5       3.30      1.25    80.0%
"""

from __future__ import annotations

import math

from spinelab.evaluation.metrics import SUMMARY_REGIONS, CaseResult, EvaluationSummary


def _num(x: float, width: int, digits: int = 2) -> str:
    return f"{'-':>{width}}" if not math.isfinite(x) else f"{x:>{width}.{digits}f}"


def _pct(x: float, width: int) -> str:
    return f"{'-':>{width}}" if not math.isfinite(x) else f"{100.0 * x:>{width - 1}.1f}%"


def format_region_table(summary: EvaluationSummary) -> str:
    """The region table: All, Cervical, Thoracic, Lumbar with N, mean, std and id rate."""
    lines = [f"{'Region':<10}{'N':>5}{'Mean (mm)':>11}{'Std (mm)':>10}{'Id rate':>9}"]
    for region in SUMMARY_REGIONS:
        g = summary.regions[region]
        lines.append(
            f"{region.capitalize():<10}{g.n:>5}{_num(g.mean_mm, 11)}{_num(g.std_mm, 10)}"
            f"{_pct(g.id_rate, 9)}"
        )
    return "\n".join(lines)


def format_per_vertebra(summary: EvaluationSummary) -> str:
    """Per-vertebra table: label, N, identified, id rate (labels present in some ground truth)."""
    lines = [f"{'Label':<7}{'N':>5}{'Ident.':>8}{'Id rate':>9}"]
    for label, g in summary.per_vertebra.items():
        lines.append(f"{label:<7}{g.n:>5}{g.n_identified:>8}{_pct(g.id_rate, 9)}")
    return "\n".join(lines)


def format_case_line(case: CaseResult) -> str:
    """One line for a scan: name, identified / n, and the missed labels."""
    missed = case.missed
    tail = f"  missed: {' '.join(missed)}" if missed else ""
    extra = f"  extra: {' '.join(case.extra_labels)}" if case.extra_labels else ""
    return f"{case.name or '<case>'}: {case.n_identified}/{case.n} identified{tail}{extra}"


def format_table(summary: EvaluationSummary, per_vertebra: bool = True) -> str:
    """The full report: header, region table, per-vertebra id rates and the all-correct share.

    Args:
        summary: Result of :func:`spinelab.evaluation.metrics.aggregate`.
        per_vertebra: Include the per-vertebra table.

    Returns:
        Multi-line text without a trailing newline.
    """
    scans = f"{summary.n_scans} scan{'s' if summary.n_scans != 1 else ''}"
    parts = [
        f"Protocol: {summary.protocol} (max. distance {summary.max_dist_mm:.1f} mm), {scans}",
        format_region_table(summary),
    ]
    if per_vertebra and summary.per_vertebra:
        parts.append("Per vertebra:\n" + format_per_vertebra(summary))
    share = summary.scans_all_correct
    share_txt = "-" if not math.isfinite(share) else f"{100.0 * share:.1f}%"
    parts.append(
        "Scans with every vertebra identified: "
        f"{summary.n_scans_all_correct}/{summary.n_scans} ({share_txt})"
    )
    return "\n\n".join(parts)
