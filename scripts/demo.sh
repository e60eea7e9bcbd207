#!/usr/bin/env bash
# `make demo`: the end-to-end paths spinelab has today, on a bundled default.
#  1. synthesize one CT with its vertebra labels and centroids (deterministic seed),
#  2. inspect it and convert its centroids to the other formats,
#  3. label real vertebra detections (VID dataset in ../shared/data, when present) with the
#     Wang 2021 constrained optimization and evaluate them against the experts' ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
SL=".venv/bin/spinelab"
OUT="demo_out"
mkdir -p "$OUT"

echo "== 1. synthetic CT (seed 7, lumbar field of view) -> $OUT/synth"
$SL synth "$OUT/synth" --n 1 --seed 7 --fov lumbar --force
CT="$OUT/synth/case_0000_ct.nii.gz"

echo "== 2. spinelab info $CT"
$SL info "$CT"
$SL convert "$OUT/synth/case_0000_centroids.json" -o "$OUT/synth/case_0000_ctd.json" --to verse --reference "$CT" --force
$SL convert "$OUT/synth/case_0000_centroids.json" -o "$OUT/synth/case_0000_centroids.csv" --force
echo "centroids (CSV, LPS mm):"
cat "$OUT/synth/case_0000_centroids.csv"

VID="../shared/data/vid"
if [ -d "$VID/detections" ]; then
  echo "== 3. label 100 real detection files from $VID and evaluate (SpineWeb protocol)"
  rm -rf "$OUT/vid_in" "$OUT/vid_gt" "$OUT/vid_pred"
  mkdir -p "$OUT/vid_in" "$OUT/vid_gt"
  for f in $(ls "$VID/detections" | sort | tail -n 100); do
    ln -s "$(cd "$VID/detections" && pwd)/$f" "$OUT/vid_in/$f"
    ln -s "$(cd "$VID/ground_truth" && pwd)/$f" "$OUT/vid_gt/$f"
  done
  $SL label-detections "$OUT/vid_in" -o "$OUT/vid_pred" --force
  $SL evaluate "$OUT/vid_pred" "$OUT/vid_gt" --json "$OUT/vid_eval.json" --force
else
  echo "== 3. skipped: $VID not found (the real detection benchmark needs ../shared/data beside the project)"
fi
echo "demo outputs are in $OUT/"
