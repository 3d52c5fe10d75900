"""Fig. 1: a plane cut of a model's final-representation space, coloured by the argmax next token.

The last-layer states (after the final LayerNorm, before the unembedding) of three prompts span an affine
plane; every point ``x`` of a grid on that plane is sent through the unembedding and coloured by
``argmax(head(x))``. The three final states are marked: each lies in the cell of the token the model
actually predicts after that prompt. The picture shows what the bounds count: the representation space is
cut into next-token cells, and a prompt can only choose which cell its final state falls in.

Drawn from ``data/geometry.json`` (``plane_cut``, measured by ``verify.experiments.geometry`` on the first
zoo model that loads: natural, else witness, else random).

Example (the fixture report the tests use):
    >>> from figures.source import FIXTURE
    >>> fig, series = draw(Report(FIXTURE))
    >>> series["points_argmax"] == series["predicted"]
    True
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import Report, need
from figures.spec import FigureSpec

def token_label(token: int, byte_level: bool) -> str:
    """A short printable label for a token id (the character for byte models).

    Example:
        >>> token_label(101, True), token_label(32, True), token_label(3, False)
        ('e', '␣', '3')
    """
    if not byte_level:
        return str(token)
    if token == 32:
        return "␣"
    if token == 10:
        return "\\n"
    ch = chr(token)
    return ch if ch.isprintable() else f"{token:02x}"


def plane_data(report: Report) -> dict:
    """The plane cut of ``data/geometry.json`` with the three contexts as text (MissingData if absent)."""
    cut = dict(need(report.data("geometry"), "plane_cut", where="data/geometry.json"))
    byte_level = cut.get("byte_level", False)
    cut["prompts"] = ["".join(token_label(t, byte_level) if t != 32 else " " for t in c) for c in cut.get("contexts", [])]
    return cut


def draw(report: Report):
    """Draw Fig. 1 from ``data/geometry.json``; return (figure, the series it plotted)."""
    cut = plane_data(report)
    tokens = np.asarray(cut["tokens"])
    u, v = np.asarray(cut["axis_u"]), np.asarray(cut["axis_v"])
    # gray level by cell area rank, so neighbours differ; boundaries and labels carry the information
    ids, counts = np.unique(tokens, return_counts=True)
    order = ids[np.argsort(-counts)]
    rank = {t: i for i, t in enumerate(order)}
    shade = np.vectorize(lambda t: 0.93 - 0.5 * ((rank[t] * 0.37) % 1.0))(tokens)
    fig, ax = style.new_figure(width=4.6, height=4.2)
    ax.grid(False)
    extent = (u[0], u[-1], v[0], v[-1])
    ax.imshow(shade, origin="lower", extent=extent, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    edges = (np.diff(tokens, axis=0, prepend=tokens[:1]) != 0) | (np.diff(tokens, axis=1, prepend=tokens[:, :1]) != 0)
    overlay = np.zeros(tokens.shape + (4,))
    overlay[edges] = (0, 0, 0, 1)  # cell boundaries in black: the cells read without any colour
    ax.imshow(overlay, origin="lower", extent=extent, interpolation="nearest")
    byte_level = cut.get("byte_level", False)
    labelled = []
    for t in order[:12]:  # label the largest cells at their centroid
        jj, ii = np.nonzero(tokens == t)
        if len(ii) < tokens.size * 0.004:
            continue
        ax.text(u[int(np.median(ii))], v[int(np.median(jj))], token_label(int(t), byte_level), ha="center",
                va="center", fontsize=8, fontweight="bold", color="0.0",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7))
        labelled.append(int(t))
    for k, (pt, pred) in enumerate(zip(cut["points"], cut["predicted"])):
        s = style.series_style(k)
        prompt = cut.get("prompts", [""] * 3)[k]
        ax.plot(pt[0], pt[1], marker=s["marker"], color="white", markeredgecolor="0.0", markersize=8,
                markeredgewidth=1.4, linestyle="none",
                label=f"…{prompt[-14:]!r} → {token_label(int(pred), byte_level)!r}")
    ax.set_xlabel("plane coordinate 1")
    ax.set_ylabel("plane coordinate 2")
    ax.set_title(f"Next-token cells on a plane of final states ({cut.get('model', '?')} model)")
    style.legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    series = {k: cut[k] for k in ("model", "axis_u", "axis_v", "tokens", "points", "predicted", "points_argmax")
              if k in cut}
    series["labelled_tokens"] = labelled
    return fig, series


FIGURE = FigureSpec(
    name="fig1_plane",
    theorems=("t1_ball",),
    order=10,
    title="Fig. 1 - next-token cells on a plane cut of the final-representation space",
    caption=("Plane through the last-layer states (after the final LayerNorm, before the unembedding) of three "
             "prompts; each grid point is shaded by the argmax of the logits there, cells are outlined and the "
             "largest labelled with their token. Markers: the three final states, each inside the cell of the "
             "token the model predicts after that prompt."),
    shows="the geometry behind T1: the representation space is cut into next-token cells, a prompt only picks a cell",
    data=("geometry",),
    draw=draw,
)
