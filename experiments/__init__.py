"""Reproducible experiments: ``python -m experiments.default_model`` (the shipped model) and
``python -m experiments.paper_table`` (the paper's experiment grid)."""
