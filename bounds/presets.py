"""Named architectures with their facts and, per fact, where it comes from.

The seven models of [HMDO] Table 2 carry d, |V|, the l_inf radius r of last-layer states, the opening
angle theta (rad) and the measured cramming slope (n50 per prompt vector on PG19 text). The others carry
only facts from their public Hugging Face configs (no measured radius: the ball-form columns are empty
for them unless a bit budget is used). Precision is not a fact of the model: tables use fp16's
eps = 2^-10 unless told otherwise.

>>> PRESETS["pythia-160m"].d, PRESETS["pythia-160m"].sources["radius"]
(768, 'HMDO Table 2')
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

HMDO_TABLE = "HMDO Table 2"
HMDO_SLOPE = "HMDO (measured cramming slope, n50 per prompt vector on PG19)"


@dataclass(frozen=True)
class Preset:
    """One architecture: width d, vocabulary size, depth, heads, support radius r (l_inf), cone angle
    theta (rad), measured slope (tokens per prompt vector), and a source string per fact.

    >>> PRESETS["smollm2-135m"].radius is None
    True
    """

    name: str
    d: int
    vocab: int
    layers: int | None = None
    heads: int | None = None
    radius: float | None = None
    theta: float | None = None
    slope: float | None = None
    sources: dict = field(default_factory=dict)
    context_window: int | None = None   # tokens (max_position_embeddings of the public config); None if unsure
    kv_heads: int | None = None         # key/value heads (num_key_value_heads; = heads without GQA)
    head_dim: int | None = None         # width of one head (head_dim, else hidden_size / num_attention_heads)


def _hf(repo: str) -> str:
    return f"HF config {repo} (hidden_size, vocab_size, num_hidden_layers, num_attention_heads)"


def _measured(name, d, vocab, radius, theta, slope, layers, heads, repo) -> Preset:
    sources = {"d": HMDO_TABLE, "vocab": HMDO_TABLE, "radius": HMDO_TABLE, "theta": HMDO_TABLE,
               "slope": HMDO_SLOPE, "layers": _hf(repo), "heads": _hf(repo)}
    return Preset(name, d, vocab, layers, heads, radius, theta, slope, sources)


def _config_only(name, d, vocab, layers, heads, repo) -> Preset:
    sources = {key: _hf(repo) for key in ("d", "vocab", "layers", "heads")}
    return Preset(name, d, vocab, layers, heads, None, None, None, sources)


_ALL = [
    _measured("pythia-160m", 768, 50304, 63.62, 1.96, 90.4, 12, 12, "EleutherAI/pythia-160m"),
    _measured("pythia-410m", 1024, 50304, 54.90, 1.87, 112.4, 24, 16, "EleutherAI/pythia-410m"),
    _measured("pythia-1b", 2048, 50304, 65.68, 2.22, 287.4, 16, 8, "EleutherAI/pythia-1b"),
    _measured("qwen2.5-0.5b", 896, 151936, 309.00, 2.23, 71.0, 24, 14, "Qwen/Qwen2.5-0.5B"),
    _measured("qwen2.5-1.5b", 1536, 151936, 153.62, 2.34, 79.6, 28, 12, "Qwen/Qwen2.5-1.5B"),
    _measured("llama-3.2-1b", 2048, 128256, 41.06, 1.73, 137.8, 16, 32, "meta-llama/Llama-3.2-1B"),
    _measured("gemma-3-270m", 640, 262144, 10.74, 1.82, 44.54, 18, 4, "google/gemma-3-270m"),
    _config_only("pythia-1.4b", 2048, 50304, 24, 16, "EleutherAI/pythia-1.4b"),
    _config_only("pythia-2.8b", 2560, 50304, 32, 32, "EleutherAI/pythia-2.8b"),
    _config_only("llama-3.2-3b", 3072, 128256, 28, 24, "meta-llama/Llama-3.2-3B"),
    _config_only("llama-3.1-8b", 4096, 128256, 32, 32, "meta-llama/Llama-3.1-8B"),
    _config_only("smollm2-135m", 576, 49152, 30, 9, "HuggingFaceTB/SmolLM2-135M"),
]
# Context windows: max_position_embeddings of each model's public Hugging Face config.json (only the values
# we are sure of; Qwen2.5-1.5B and Gemma-3-270m are left unknown).
_CONTEXT_WINDOWS = {
    **{name: (2048, f"HF config EleutherAI/{name} (max_position_embeddings)")
       for name in ("pythia-160m", "pythia-410m", "pythia-1b", "pythia-1.4b", "pythia-2.8b")},
    "qwen2.5-0.5b": (32768, "HF config Qwen/Qwen2.5-0.5B (max_position_embeddings)"),
    "llama-3.2-1b": (131072, "HF config meta-llama/Llama-3.2-1B (max_position_embeddings)"),
    "llama-3.2-3b": (131072, "HF config meta-llama/Llama-3.2-3B (max_position_embeddings)"),
    "llama-3.1-8b": (131072, "HF config meta-llama/Llama-3.1-8B (max_position_embeddings)"),
    "smollm2-135m": (8192, "HF config HuggingFaceTB/SmolLM2-135M (max_position_embeddings)"),
}
_ALL = [replace(p, context_window=_CONTEXT_WINDOWS[p.name][0],
                sources={**p.sources, "context_window": _CONTEXT_WINDOWS[p.name][1]})
        if p.name in _CONTEXT_WINDOWS else p for p in _ALL]
# Key/value heads and head_dim (prefix tuning's d_kv = kv_heads*head_dim, bounds/prefix.py): num_key_value_heads
# and head_dim of each public HF config.json (GPT-NeoX has no GQA: kv_heads = heads, head_dim = d/heads).
_KV = {"pythia-160m": (12, 64), "pythia-410m": (16, 64), "pythia-1b": (8, 256), "pythia-1.4b": (16, 128),
       "pythia-2.8b": (32, 80), "qwen2.5-0.5b": (2, 64), "qwen2.5-1.5b": (2, 128), "llama-3.2-1b": (8, 64),
       "llama-3.2-3b": (8, 128), "llama-3.1-8b": (8, 128), "gemma-3-270m": (1, 256), "smollm2-135m": (3, 64)}
_ALL = [replace(p, kv_heads=_KV[p.name][0], head_dim=_KV[p.name][1],
                sources={**p.sources, "kv_heads": "HF config (num_key_value_heads; num_attention_heads for GPT-NeoX)",
                         "head_dim": "HF config (head_dim, else hidden_size / num_attention_heads)"})
        if p.name in _KV else p for p in _ALL]
PRESETS: dict[str, Preset] = {preset.name: preset for preset in _ALL}


def get_preset(name: str) -> Preset:
    """Look a preset up by name (case-insensitive); unknown names raise ValueError listing the known ones.

    >>> get_preset("Pythia-410M").layers
    24
    """
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[key]
