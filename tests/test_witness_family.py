"""verify.witness_family: the sign reader emits its prompts' sign patterns, and prompt tuning finds them."""
import torch


def test_sign_reader_emits_the_sign_patterns_of_its_prompts():
    from verify import witness_family

    for m in (1, 2, 3):
        model = witness_family.build(m)
        prompts = torch.randint(0, 2, (64, m, 16), generator=torch.Generator().manual_seed(m)).float() * 2 - 1
        expected = torch.tensor([[witness_family.sign_token(p) for p in row] for row in prompts])
        assert torch.equal(model.generate_greedy(prompts, m), expected)


def test_sign_reader_attention_peaks_at_offset_m_minus_1():
    from verify import witness_family
    from verify.model import apply_rotary

    model = witness_family.build(3)
    q, k, _ = model.blocks[0].attn.qkv.bias.split(16)
    T = 8
    qs = apply_rotary(q.expand(1, 1, T, 16).contiguous())[0, 0]
    ks = apply_rotary(k.expand(1, 1, T, 16).contiguous())[0, 0]
    scores = (qs @ ks.T) / 4.0
    for t in range(2, T):
        s = scores[t, : t + 1]
        top = torch.topk(s, 2).values
        assert int(s.argmax()) == t - 2 and float(top[0] - top[1]) > 30  # nats


def test_prompt_tuning_finds_every_sign_reader_target():
    from verify import witness_family
    from verify.engine import TuneConfig, tune

    model = witness_family.build(2)
    targets = torch.randint(1, 2 ** 16 - 1, (16, 2), generator=torch.Generator().manual_seed(0))
    r = tune(model, targets, 2, config=TuneConfig(steps=60, patience=20, radius=1.0, levels=2, init_std=0.1))
    assert r.n_success == 16
