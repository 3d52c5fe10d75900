"""The bounds library as the figures use it: :func:`api` returns the module with the mpmath evaluators.

``bounds`` exports them at top level (``from bounds import log2_prompts_ball``); this indirection only keeps
figures working from ``bounds.evaluate`` in a tree where ``bounds/__init__.py`` does not re-export them.

Example:
    >>> round(float(api().log2_prompts_grid(16, 1, 2)), 6)
    16.0
"""
from __future__ import annotations


def api():
    """The module holding log2_prompts_ball, log2_prompts_grid, tokens_per_vector, ... (mpmath, 50 digits)."""
    try:
        import bounds

        if hasattr(bounds, "log2_prompts_ball"):
            return bounds
    except ImportError:
        pass
    from bounds import evaluate

    return evaluate


def presets() -> dict:
    """``bounds.PRESETS`` (published models), or {} when the bounds library does not define it."""
    try:
        import bounds
    except ImportError:
        return {}
    return dict(getattr(bounds, "PRESETS", {}) or {})
