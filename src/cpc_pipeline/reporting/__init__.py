"""Plots and the Markdown report, from plain tables and tensors (no Kedro)."""
