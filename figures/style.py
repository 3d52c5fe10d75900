"""One figure style for the whole project: readable in grayscale, vector PDF plus PNG.

Series are told apart by marker and line style first and by gray level second, never by colour alone,
so every figure survives a black-and-white printer. Use :func:`series_style` for the k-th series of a
plot, :func:`new_figure` for a figure, and :func:`save` to write ``NAME.png`` and ``NAME.pdf``.

Example:
    >>> s = series_style(1)
    >>> sorted(s) == ["color", "linestyle", "marker"]
    True
    >>> series_style(0)["marker"] != series_style(1)["marker"]
    True
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display: works headless in CI
import matplotlib.pyplot as plt  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))
# Gray levels dark to mid: light grays vanish on white paper.
GRAYS = ("0.0", "0.35", "0.55", "0.2", "0.45", "0.65", "0.1", "0.5")
BOUND_STYLE = {"color": "0.0", "linestyle": "--", "linewidth": 1.6}  # every theorem's bound line
ENVELOPE_STYLE = {"color": "0.4", "linestyle": ":", "linewidth": 1.4}
FIT_STYLE = {"linewidth": 1.0}

RC = {
    "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "legend.fontsize": 7.5, "xtick.labelsize": 8, "ytick.labelsize": 8, "lines.markersize": 4.5,
    "lines.linewidth": 1.3, "axes.grid": True, "grid.alpha": 0.25, "grid.linestyle": ":",
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "pdf.fonttype": 3,  # matplotlib's default; Type 42 subsetting (fontTools) costs seconds per PDF
    "image.cmap": "gray",
}


def series_style(k: int) -> dict:
    """Marker, line style and gray level of the k-th series (k >= 0); cycles after 6-8 series.

    Example:
        >>> series_style(0)["linestyle"]
        '-'
    """
    return {"marker": MARKERS[k % len(MARKERS)], "linestyle": LINESTYLES[k % len(LINESTYLES)],
            "color": GRAYS[k % len(GRAYS)]}


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 3.4, height: float = 2.6):
    """A figure with ``nrows x ncols`` axes of ``width x height`` inches each, in the project style.

    Example:
        >>> fig, axes = new_figure(2)
        >>> len(axes)
        2
        >>> plt.close(fig)
    """
    plt.rcParams.update(RC)  # figures are drawn one by one, all in this style
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.ravel():
        _apply_axes_style(ax)
    flat = list(axes.ravel())
    return fig, (flat[0] if len(flat) == 1 else flat)


def _apply_axes_style(ax) -> None:
    ax.grid(True, alpha=RC["grid.alpha"], linestyle=RC["grid.linestyle"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def save(fig, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``out_dir/NAME.png`` and the vector ``out_dir/NAME.pdf``; close the figure; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.tight_layout()
    for p in paths:
        # bbox_inches="tight" so legends placed below the axes are kept (it costs one extra layout pass)
        fig.savefig(p)
    plt.close(fig)
    return paths


def legend(ax, **kw) -> None:
    """A legend in the project style (only if something is labelled)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(**{"fontsize": RC["legend.fontsize"], "frameon": False, **kw})
