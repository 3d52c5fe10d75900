"""The sign-reader witness family: frozen transformers, built by hand, on which T1's grid form is attained.

For a prompt length m, ``build(m)`` returns a :class:`verify.model.Transformer` (width d = 16, one layer,
one head, rotary positions, vocabulary 2^d) whose greedy output is, token by token, the sign pattern of
the prompt vectors: the token emitted at target position j (j = 0..m-1) is the integer whose binary digits
are the signs of prompt vector j. With prompts on the Q = 2 grid {-r, r}^(d x m), every target of length m
except those containing the two constant sign patterns is reached by exactly one prompt, so the model is
steerable by ``m*log2(2^d - 2)`` bits, 99.999% of T1's ``d*m*log2(Q)``: the constructive side of T1.
Prompt tuning (:mod:`verify.engine`, without any encoder) then has to find those prompts.

How the weights do it (everything else is zero):

- attention: query and key are constant biases (their weight matrices are zero), so with rotary positions
  the score depends only on the offset t - s; the biases put the peak at offset m - 1 (so target position
  j, which sits at sequence position m-1+j, attends to prompt vector j) with a margin of about 40 nats;
- value = ``VALUE_GAIN * LayerNorm(p_s)``, output projection the identity: the attended prompt, whose
  coordinates keep their signs through LayerNorm unless the pattern is constant, dominates the residual
  (the prompt or token embedding already there has coordinates of size 1);
- the MLP is zero, the final LayerNorm keeps signs (the residual's mean is far below its coordinates),
  and the head's row for token c is c's sign pattern, so the argmax is the sign pattern of the residual.
  Token embeddings are tied to the head (the generated tokens' inputs), which the attention never reads.

Example (the greedy output spells the prompts' signs):
    >>> import torch
    >>> model = build(2)
    >>> p = torch.tensor([[[1.0] * 15 + [-1.0], [-1.0, 1.0] * 8]])
    >>> model.generate_greedy(p, 2).tolist() == [[sign_token(p[0, 0]), sign_token(p[0, 1])]]
    True
"""
from __future__ import annotations

import math

import torch

from verify.model import ModelConfig, Transformer

D_MODEL = 16
PROMPT_RADIUS = 1.0
LEVELS = 2
VALUE_GAIN = 100.0  # LayerNorm(p) has coordinates >= 0.258 in size for a non-constant sign pattern of width 16
SCORE_SCALE = 400.0  # attention score amplitude: margin 0.46 * 400 / sqrt(16) = 46 nats between offsets


def sign_token(vector: torch.Tensor) -> int:
    """The token whose binary digits are the signs of ``vector`` (digit i = 1 iff coordinate i > 0).

    Example:
        >>> sign_token(torch.tensor([1.0, -1.0, 1.0]))
        5
    """
    return int(((vector > 0).long() << torch.arange(len(vector))).sum())


def codes(d: int = D_MODEL) -> torch.Tensor:
    """The 2^d sign patterns in {-1, 1}^d, row c being the pattern of token c.

    Example:
        >>> codes(2).tolist()
        [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
    """
    bits = (torch.arange(2 ** d)[:, None] >> torch.arange(d)[None, :]) & 1
    return 2.0 * bits.float() - 1.0


@torch.no_grad()
def build(m: int, d: int = D_MODEL) -> Transformer:
    """The frozen sign reader for prompt length m (targets of up to m tokens come from the prompt).

    Example:
        >>> build(1).cfg.vocab_size, build(3).cfg.positional
        (65536, 'rotary')
    """
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"prompt length m must be an integer >= 1, got {m!r}")
    cfg = ModelConfig(vocab_size=2 ** d, d_model=d, n_layer=1, n_head=1, block_size=4 * m + 8,
                      positional="rotary", mlp_ratio=1, tie_embeddings=True,
                      facts={"name": f"witness_signs_m{m}", "construction": "verify.witness_family.build"})
    model = Transformer(cfg)
    for p in model.parameters():
        p.zero_()
    for ln in (model.blocks[0].ln1, model.blocks[0].ln2, model.ln_f):
        ln.weight.fill_(1.0)
    attn = model.blocks[0].attn
    half = d // 2
    # rotary pair i rotates channels (i, i + half) by angle position * 10000^(-i/half); with q = a*(1, 0) and
    # k = a*(cos phi, sin phi) on a pair, q_t . k_s = a^2 cos(angle_t - angle_s - phi) (checked in the tests)
    delta = m - 1
    amplitudes = {0: 1.0, 1: 0.5}  # frequencies 1 and 10^-0.5: the second breaks the first's 2*pi period
    qkv_bias = torch.zeros(3 * d)
    for i, weight in amplitudes.items():
        freq = 10000.0 ** (-i / half)
        a = math.sqrt(SCORE_SCALE * weight)
        qkv_bias[i] = a
        qkv_bias[d + i] = a * math.cos(freq * delta)
        qkv_bias[d + i + half] = a * math.sin(freq * delta)
    attn.qkv.bias.copy_(qkv_bias)
    attn.qkv.weight[2 * d:].copy_(VALUE_GAIN * torch.eye(d))
    attn.proj.weight.copy_(torch.eye(d))
    model.head.weight.copy_(codes(d))  # tied: token embeddings are the codes too
    return model.freeze()
