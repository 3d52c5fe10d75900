"""Fig. 1: a plane cut of a model's final-representation space, coloured by the argmax next token.

The last-layer states (after the final LayerNorm, before the unembedding) of three prompts span an affine
plane; every point ``x`` of a grid on that plane is sent through the unembedding and coloured by
``argmax(head(x))``. The three final states are marked: each lies in the cell of the token the model
actually predicts after that prompt. The picture shows what the bounds count: the representation space is
cut into next-token cells, and a prompt can only choose which cell its final state falls in.

Computed from the zoo model directly (``natural`` when its weights are there, else ``witness``, else
``random``); a ``data/plane_cut.json`` in the report with the same keys as :func:`plane_cut` is used instead
when present.

Example:
    >>> import torch
    >>> from verify.model import ModelConfig, Transformer
    >>> model = Transformer(ModelConfig(vocab_size=6, d_model=8, n_layer=1, n_head=2)).eval()
    >>> cut = plane_cut(model, torch.tensor([[1, 2], [3, 4], [5, 0]]), resolution=5)
    >>> len(cut["axis_u"]), len(cut["tokens"]), len(cut["points"])
    (5, 5, 3)
"""
from __future__ import annotations

import numpy as np
import torch

from figures import style
from figures.source import Report
from figures.spec import FigureSpec



def plane_basis(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Origin (centroid) and orthonormal basis (2, d) of the affine plane through three states (3, d).

    Example:
        >>> o, b = plane_basis(torch.eye(3, dtype=torch.float64))
        >>> torch.allclose(b @ b.T, torch.eye(2, dtype=torch.float64))
        True
    """
    s = states.double()
    origin = s.mean(0)
    u = s[1] - s[0]
    u = u / u.norm()
    v = s[2] - s[0]
    v = v - (v @ u) * u  # Gram-Schmidt: the plane is exactly the one through the three points
    if v.norm() < 1e-12:
        raise ValueError("the three final states are collinear: no plane through them")
    return origin, torch.stack([u, v / v.norm()])


@torch.no_grad()
def plane_cut(model, contexts: torch.Tensor, resolution: int = 160, margin: float = 1.6) -> dict:
    """Argmax next token on a square grid of the plane through the final states of ``contexts`` (3, T).

    Returns lists (JSON-able): ``axis_u``/``axis_v`` grid coordinates, ``tokens[j][i]`` the argmax at
    (axis_u[i], axis_v[j]), ``points`` the plane coordinates of the three final states, ``predicted`` the
    model's own next token after each context, and ``points_argmax`` the grid rule evaluated at the points.
    """
    model = model.float().eval()
    states = model.hidden(contexts)[:, -1, :].double()
    origin, basis = plane_basis(states)
    coords = (states - origin) @ basis.T  # exact: the states lie in the plane
    half = margin * float(coords.abs().max())
    axis = torch.linspace(-half, half, resolution, dtype=torch.float64)
    uu, vv = torch.meshgrid(axis, axis, indexing="xy")
    grid = origin + uu.reshape(-1, 1) * basis[0] + vv.reshape(-1, 1) * basis[1]
    head = model.head
    tokens = head(grid.float()).argmax(-1).reshape(resolution, resolution)
    back = (origin + coords @ basis).float()
    return {
        "axis_u": axis.tolist(), "axis_v": axis.tolist(), "tokens": tokens.tolist(),
        "points": coords.tolist(), "predicted": model(contexts)[:, -1, :].argmax(-1).tolist(),
        "points_argmax": head(back).argmax(-1).tolist(),
    }


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


@torch.no_grad()
def spread_contexts(model, contexts: torch.Tensor, k: int = 3) -> torch.Tensor:
    """``k`` of ``contexts`` whose final states are far apart and, where possible, predict different tokens
    (greedy farthest-point choice), so the plane shows several cells around well-separated states.

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> m = Transformer(ModelConfig(vocab_size=5, d_model=8, n_layer=1, n_head=2)).eval()
        >>> spread_contexts(m, torch.randint(0, 5, (6, 4), generator=torch.Generator().manual_seed(0))).shape
        torch.Size([3, 4])
    """
    states = model.hidden(contexts)[:, -1, :].double()
    predicted = model.head(states.float()).argmax(-1)
    chosen = [int(states.norm(dim=1).argmax())]
    while len(chosen) < k:
        dist = torch.cdist(states, states[chosen]).min(dim=1).values
        fresh = torch.tensor([int(p) not in {int(predicted[c]) for c in chosen} for p in predicted])
        dist[~fresh] *= 1e-3  # prefer a new predicted token; fall back to distance alone
        dist[chosen] = -1
        chosen.append(int(dist.argmax()))
    return contexts[chosen]


def compute(report: Report) -> dict:
    """The plane cut from the first zoo model that loads (see the module docstring)."""
    if report.has("plane_cut"):
        return report.data("plane_cut")
    from figures import geometry

    name, zm = geometry.first_loadable()
    ctx = spread_contexts(zm.model, geometry.contexts(name, zm, count=32, length=24, seed=3))
    byte_level = zm.vocab == 256
    texts = ["".join(token_label(t, byte_level) if t != 32 else " " for t in c.tolist()) for c in ctx]
    cut = plane_cut(zm.model, ctx, resolution=200 if report.profile == "full" else 120)
    cut.update(model=name, prompts=texts, byte_level=byte_level)
    return cut


def draw(report: Report):
    """Draw Fig. 1 from the first zoo model that loads; return (figure, the series it plotted).

    Example (loads a zoo model and runs its Monte Carlo: seconds; tests/test_figures.py checks the data):
        >>> fig, series = draw(Report(None))  # doctest: +SKIP
    """
    cut = compute(report)
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
    title="Fig. 1 - next-token cells on a plane cut of the final-representation space",
    caption=("Plane through the last-layer states (after the final LayerNorm, before the unembedding) of three "
             "prompts; each grid point is shaded by the argmax of the logits there, cells are outlined and the "
             "largest labelled with their token. Markers: the three final states, each inside the cell of the "
             "token the model predicts after that prompt."),
    shows="the geometry behind T1: the representation space is cut into next-token cells, a prompt only picks a cell",
    computed="computed from the zoo model (natural, else witness, else random) with verify.zoo",
    draw=draw,
)
