"""The prefix_tuning experiment and the model's prefix key/value path (verify/model.py kv_prefix)."""
import tempfile
from dataclasses import replace

import pytest
import torch

from verify.all import Context
from verify.experiments import prefix_tuning as e
from verify.model import ModelConfig, Transformer, scaled_init


def _model(causal=True):
    cfg = ModelConfig(vocab_size=5, d_model=8, n_layer=2, n_head=2, causal=causal, positional="learned")
    return scaled_init(Transformer(cfg), gain=2.0, seed=1).freeze()


def _reference(model, tokens, kv):
    """Attention written out by hand with the prefix keys/values prepended (per layer, per head)."""
    x = model.embed(tokens)
    for block, (pk, pv) in zip(model.blocks, kv):
        h = block.ln1(x)
        B, T, C = h.shape
        q, k, v = block.attn.qkv(h).split(C, dim=2)
        k, v = torch.cat([pk, k], 1), torch.cat([pv, v], 1)
        H, m = block.attn.n_head, pk.shape[1]
        heads = []
        for i in range(H):
            sl = slice(i * C // H, (i + 1) * C // H)
            scores = q[..., sl] @ k[..., sl].transpose(1, 2) / (C // H) ** 0.5
            mask = torch.ones(T, m + T, dtype=torch.bool)
            mask[:, m:] = torch.ones(T, T, dtype=torch.bool).tril()
            heads.append(scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v[..., sl])
        x = x + block.attn.proj(torch.cat(heads, -1))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))


def test_kv_prefix_is_attention_over_prepended_keys_and_values():
    model, g = _model(), torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 5, (3, 4), generator=g)
    kv = [(torch.randn(3, 2, 8, generator=g), torch.randn(3, 2, 8, generator=g)) for _ in range(2)]
    assert torch.allclose(model(tokens, kv_prefix=kv), _reference(model, tokens, kv), atol=1e-5)
    assert not torch.allclose(model(tokens, kv_prefix=kv), model(tokens), atol=1e-3)   # the prefix is read
    with pytest.raises(ValueError, match="layers"):
        model(tokens, kv_prefix=kv[:1])


def test_quick_profile_passes_with_room_and_is_fast(tmp_path):
    import time

    t0 = time.time()
    ctx = Context.of(e.EXPERIMENT, profile="quick", seed=0, device="cpu", out=tmp_path, log=None, confidence=0.999)
    checks = {c.name: c for c in e.run(ctx)}
    assert time.time() - t0 < 20
    count = checks["prefix_count"]
    assert count.passed and count.kind == "bound" and count.theorem == "prefix_grid" and count.confidence is not None
    assert float(count.bound) == 2 * 1 * 1 * 4 * 1          # 2*L*m*d_kv*log2 Q with Q = 2
    assert float(count.empirical) > 3                        # not vacuous: within a factor ~2 of the bound
    assert checks["prefix_grid_levels"].passed and checks["prefix_is_read"].passed


def test_the_count_check_fails_when_the_bound_forgets_the_values(tmp_path, monkeypatch):
    # a bound that counted the keys only (L*m*d_kv*log2 Q, half the prefix) is caught by the quick profile
    import bounds
    monkeypatch.setattr(bounds, "log2_prefixes_grid", lambda L, m, d, Q: bounds.prefix.log2_prefixes_grid(L, m, d, Q) / 2)
    ctx = Context.of(e.EXPERIMENT, profile="quick", seed=0, device="cpu", out=tmp_path, log=None, confidence=0.999)
    checks = {c.name: c for c in e.run(ctx)}
    assert not checks["prefix_count"].passed, (checks["prefix_count"].bound, checks["prefix_count"].empirical)
