"""Post-processing of heatmaps and detections: pure numpy/scipy, never torch."""
