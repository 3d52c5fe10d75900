"""A whole decoder-only transformer in one readable file, with room for a soft prompt.

The frozen models of the verification zoo are all instances of :class:`Transformer`. A soft prompt is a
tensor ``prefix`` of shape ``(batch, m, d)`` placed before the token embeddings, exactly the setting of
docs/theory.md ("Soft prompt P in R^{d x m}"). Positional encoding is a choice (``none``, ``learned``,
``sinusoidal``, ``rotary``) because T2's mean-field premise holds only without it.

Example:
    >>> import torch
    >>> cfg = ModelConfig(vocab_size=16, d_model=8, n_layer=1, n_head=2, block_size=32)
    >>> model = Transformer(cfg).eval()
    >>> logits = model(torch.zeros(3, 5, dtype=torch.long), prefix=torch.zeros(3, 2, 8))
    >>> tuple(logits.shape)
    (3, 7, 16)
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

POSITIONAL_ENCODINGS = ("none", "learned", "sinusoidal", "rotary")


class ModelFileError(ValueError):
    """A model file is missing, unreadable or not one of ours (the CLIs turn this into exit code 2)."""


@dataclass
class ModelConfig:
    """Architecture of a :class:`Transformer`.

    Example:
        >>> ModelConfig(vocab_size=256, d_model=64).n_head
        4
    """

    vocab_size: int
    d_model: int
    n_layer: int = 2
    n_head: int = 4
    block_size: int = 256
    positional: str = "learned"
    causal: bool = True
    mlp_ratio: int = 4
    bias: bool = True
    tie_embeddings: bool = False
    facts: dict = field(default_factory=dict)  # measured constants (radius, ...) stored with the weights

    def __post_init__(self):
        if self.positional not in POSITIONAL_ENCODINGS:
            raise ValueError(f"positional must be one of {POSITIONAL_ENCODINGS}, got {self.positional!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not a multiple of n_head={self.n_head}")


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """The fixed sine/cosine position table of Vaswani et al., shape ``(length, dim)``.

    Example:
        >>> sinusoidal_table(4, 6).shape
        torch.Size([4, 6])
    """
    position = torch.arange(length, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : dim // 2]
    return table


def apply_rotary(x: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of ``x`` (batch, heads, T, head_dim) by position-dependent angles (RoPE).

    Example:
        >>> apply_rotary(torch.ones(1, 1, 3, 4)).shape
        torch.Size([1, 1, 3, 4])
    """
    T, hd = x.shape[-2], x.shape[-1]
    half = hd // 2
    freq = 1.0 / (10000 ** (torch.arange(half, dtype=x.dtype, device=x.device) / half))
    angle = torch.arange(T, dtype=x.dtype, device=x.device)[:, None] * freq[None, :]
    cos, sin = angle.cos(), angle.sin()
    x1, x2 = x[..., :half], x[..., half : 2 * half]
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return torch.cat([rotated, x[..., 2 * half :]], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.causal, self.rotary = cfg.n_head, cfg.causal, cfg.positional == "rotary"
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)

    def forward(self, x: torch.Tensor, kv_prefix=None) -> torch.Tensor:
        """``kv_prefix``: optional (K, V), each (batch, m, d): prefix-tuning keys and values placed before
        this layer's own (every position attends to all m of them; they are not rotated)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.rotary:
            q, k = apply_rotary(q), apply_rotary(k)
        if kv_prefix is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            pk, pv = (t.view(B, -1, self.n_head, C // self.n_head).transpose(1, 2).to(q.dtype) for t in kv_prefix)
            m = pk.shape[2]
            mask = torch.ones(T, m + T, dtype=torch.bool, device=x.device)
            if self.causal:
                mask[:, m:] = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            y = F.scaled_dot_product_attention(q, torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2), attn_mask=mask)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model, bias=cfg.bias),
            nn.GELU(),
            nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model, bias=cfg.bias),
        )

    def forward(self, x: torch.Tensor, kv_prefix=None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), kv_prefix)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Decoder-only transformer; ``forward(tokens, prefix)`` returns next-token logits at every position.

    ``prefix`` (batch, m, d) is the soft prompt; either argument may be None. ``hidden(...)`` returns the
    last-layer states after the final LayerNorm (the "final representations" whose radius the bounds use).

    Example:
        >>> cfg = ModelConfig(vocab_size=10, d_model=8, n_layer=1, n_head=2, positional="none")
        >>> m = Transformer(cfg)
        >>> m.hidden(torch.tensor([[1, 2, 3]])).shape
        torch.Size([1, 3, 8])
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        if cfg.positional == "learned":
            self.pos_emb = nn.Embedding(cfg.block_size, cfg.d_model)
        elif cfg.positional == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(cfg.block_size, cfg.d_model).float(), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    @property
    def d(self) -> int:
        return self.cfg.d_model

    def embed(self, tokens: torch.Tensor | None, prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Input sequence ``[prefix; token embeddings]`` with positions added (prefix occupies 0..m-1)."""
        parts = [p for p in (prefix, None if tokens is None else self.tok_emb(tokens)) if p is not None]
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        T = x.shape[1]
        if T > self.cfg.block_size and self.cfg.positional in ("learned", "sinusoidal"):
            raise ValueError(f"sequence of length {T} exceeds block_size {self.cfg.block_size}")
        if self.cfg.positional == "learned":
            x = x + self.pos_emb(torch.arange(T, device=x.device))
        elif self.cfg.positional == "sinusoidal":
            x = x + self.pos_table[:T].to(x.dtype)
        return x

    def trunk(self, x: torch.Tensor, kv_prefix=None) -> torch.Tensor:
        """Run the blocks and the final LayerNorm on an already embedded sequence.

        ``kv_prefix``: optional prefix tuning, one (K, V) pair per layer, each (batch, m, d).
        """
        if kv_prefix is not None and len(kv_prefix) != len(self.blocks):
            raise ValueError(f"kv_prefix has {len(kv_prefix)} layers, the model {len(self.blocks)}")
        for index, block in enumerate(self.blocks):
            x = block(x, None if kv_prefix is None else kv_prefix[index])
        return self.ln_f(x)

    def hidden(self, tokens: torch.Tensor | None = None, prefix: torch.Tensor | None = None, kv_prefix=None) -> torch.Tensor:
        return self.trunk(self.embed(tokens, prefix), kv_prefix)

    def forward(self, tokens: torch.Tensor | None = None, prefix: torch.Tensor | None = None, kv_prefix=None) -> torch.Tensor:
        return self.head(self.hidden(tokens, prefix, kv_prefix))

    @torch.no_grad()
    def generate_greedy(self, prefix: torch.Tensor, n: int, tokens: torch.Tensor | None = None, kv_prefix=None) -> torch.Tensor:
        """Greedy continuation of length ``n`` from ``[prefix; tokens]``; returns (batch, n) token ids.

        The first generated token is predicted from the prompt alone (the last prefix position), so a
        target counts as reproduced only if its first token is too.
        """
        out = []
        cur = tokens
        for _ in range(n):
            logits = self(cur, prefix, kv_prefix)[:, -1, :]
            nxt = logits.argmax(dim=-1, keepdim=True)
            out.append(nxt)
            cur = nxt if cur is None else torch.cat([cur, nxt], dim=1)
        return torch.cat(out, dim=1)

    def freeze(self) -> "Transformer":
        """Freeze every weight (prompt tuning trains only the prompt) and switch to eval mode."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def save(self, path: str | Path) -> None:
        """Save config and weights to one ``.pt`` file (small enough to commit for the zoo's models)."""
        torch.save({"format": "prompt-memory-limits/transformer/v1", "config": asdict(self.cfg),
                    "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | Path, map_location: str = "cpu") -> "Transformer":
        """Load a model saved by :meth:`save`; raise :class:`ModelFileError` with a one-line reason otherwise."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        try:
            blob = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt files
            raise ModelFileError(f"model file {path} is corrupt or unreadable ({type(exc).__name__})") from None
        if not isinstance(blob, dict) or blob.get("format") != "prompt-memory-limits/transformer/v1":
            raise ModelFileError(f"{path} is not a prompt-memory-limits model file")
        try:
            model = cls(ModelConfig(**blob["config"]))
            model.load_state_dict(blob["state_dict"])
        except Exception as exc:
            raise ModelFileError(f"model file {path} does not match its config ({exc.__class__.__name__})") from None
        return model


def scaled_init(model: Transformer, *, gain: float, seed: int) -> Transformer:
    """Re-initialise ``model`` in place so that its outputs depend strongly on its input; return it.

    Linear weights ~ N(0, gain^2/fan_in), embeddings and learned positions ~ N(0, 1), biases ~ N(0, 0.1^2),
    all from one generator seeded with ``seed``. GPT's N(0, 0.02) init makes a tiny model's attention
    near-uniform and its greedy output nearly constant (the exact experiments on tiny models use this).

    Example:
        >>> m = scaled_init(Transformer(ModelConfig(vocab_size=4, d_model=4, n_layer=1, n_head=1)), gain=2.0, seed=0)
        >>> float(m.tok_emb.weight.detach().std()) > 0.5
        True
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                std = gain / math.sqrt(module.in_features)
                module.weight.copy_(torch.randn(module.weight.shape, generator=g) * std)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.1)
            elif isinstance(module, nn.Embedding):
                module.weight.copy_(torch.randn(module.weight.shape, generator=g))
    return model


def load_config_json(path: str | Path) -> dict:
    """Read a JSON sidecar (facts about a zoo model) with a one-line error on failure."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read {path}: {exc.__class__.__name__}") from None
