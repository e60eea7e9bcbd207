"""Synthetic spine CT generator: a spine geometry model fitted on real spines, and a renderer."""
