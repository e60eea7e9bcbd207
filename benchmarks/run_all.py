"""Run every benchmark in turn (``make bench``); each prints its figures and updates RESULTS.md.

Usage: ``.venv/bin/python benchmarks/run_all.py [--only NAME ...] [--no-write]``

The Wang ablation takes about 15 minutes on 2 cores (843 s on 2026-11-22), the two
cross-validations that train chain models (detection_net_cv, detection_confidence) about 6 and 5
(2026-12-06, 80-epoch models), synth_to_real about 55 (the sum of its parts measured on
2026-12-05 from an empty cache: its 510 synthetic cases, cached in /tmp, took 849 s for the
first 390 and 258 s for 120 more on 2 cores, then 35 minutes of training and under a minute of
evaluation), the others a few minutes together. One failing benchmark does not stop the
others; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (name, script, extra arguments), cheapest first.
BENCHMARKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("evaluation", "bench_evaluation.py", ()),
    ("io", "bench_io.py", ()),
    ("shape_model", "shape_model_realism.py", ()),
    ("label_detections", "label_detections.py", ()),
    ("detection_weights_cv", "detection_weights_cv.py", ()),
    ("detection_net_cv", "detection_net_cv.py", ()),
    ("detection_confidence", "detection_confidence.py", ()),
    ("synth_speed", "synth_speed.py", ()),
    ("synth_compare", "../scripts/synth_compare.py", ()),
    ("wang_ablation", "wang_ablation.py", ()),
    ("synth_to_real", "synth_to_real.py", ()),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[b[0] for b in BENCHMARKS])
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for name, script, extra in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, str((HERE / script).resolve()), *extra]
        if args.no_write and name != "synth_compare":
            cmd.append("--no-write")
        sys.stdout.write(f"== {name}: {' '.join(cmd[1:])}\n")
        sys.stdout.flush()
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=ROOT)
        sys.stdout.write(f"== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s\n")
        if rc != 0:
            failed.append(name)
    if failed:
        sys.stdout.write(f"failed: {', '.join(failed)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
