"""Metrics (SpineWeb and VerSe protocols) and result tables."""
