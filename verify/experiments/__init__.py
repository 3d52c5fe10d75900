"""Experiments of ``python -m verify.all``: one module per experiment; none imports another."""
