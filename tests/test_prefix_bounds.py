"""Prefix tuning's bounds (bounds/prefix.py): symbolic facts, the float form, the inverse m_min, validation."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import bounds
from bounds import fast, precision, prefix, t1
from bounds.symbols import d, eps, log2, m, r

pytestmark = pytest.mark.usefixtures("default_dps_arithmetic")


def test_prefix_bound_is_linear_in_m_and_is_t1_in_2_L_d_kv_dimensions():
    ball = prefix.LOG2_PREFIXES_BALL
    assert sp.diff(ball, m, 2) == 0 and ball.subs(m, 0) == 0
    # T1's ball form in dimension 2*L*d_kv (r -> r_kv) is the prefix bound, exactly
    as_t1 = t1.LOG2_PROMPTS_BALL.subs({d: 2 * prefix.layers * prefix.d_kv, r: prefix.r_kv})
    assert sp.simplify(ball - as_t1) == 0
    # slope ratio to prompt tuning at equal radius: 2*L*d_kv/d
    ratio = sp.simplify(sp.diff(ball, m).subs(prefix.r_kv, r) / sp.diff(t1.LOG2_PROMPTS_BALL, m))
    assert sp.simplify(ratio - 2 * prefix.layers * prefix.d_kv / d) == 0


def test_llama_3_1_8b_prefix_slope_is_16_times_the_prompt_slope():
    # L = 32, n_kv = 8, head_dim = 128, d = 4096 (HF config meta-llama/Llama-3.1-8B)
    ratio = bounds.log2_prefixes_ball(32, 1, 8 * 128, 3.0, "fp16") / bounds.log2_prompts_ball(4096, 1, 3.0, "fp16")
    assert abs(ratio - 16) < mpmath.mpf(10) ** -40


def test_prefix_float_is_2_L_m_d_kv_log2_of_the_float_count():
    rng = np.random.default_rng(5)
    for dtype in ("fp16", "bf16", "fp32", "fp64"):
        layers, mm, dkv = int(rng.integers(1, 64)), int(rng.integers(1, 1000)), int(rng.integers(1, 4096))
        radius = float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3))))
        count = precision.count_representable(dtype, radius)
        expected = 2 * layers * mm * dkv * mpmath.log(count, 2)                      # by hand
        value = bounds.all_results()["prefix_float"].evaluate(L=layers, m=mm, d_kv=dkv, r_kv=radius, dtype=dtype)
        assert abs(value - expected) <= mpmath.mpf(10) ** -40 * expected
        expr = prefix.LOG2_PREFIXES_FLOAT.subs({prefix.layers: layers, m: mm, prefix.d_kv: dkv,
                                                sp.Symbol("N_fmt", integer=True, positive=True): count})
        assert abs(mpmath.mpf(str(expr.evalf(60))) - value) <= mpmath.mpf(10) ** -40 * value
        # the float form never exceeds the p-bit count 2*L*m*d_kv*p
        assert value <= 2 * layers * mm * dkv * precision.bits_per_value(dtype)


def test_grid_form_is_the_exact_count():
    assert bounds.log2_prefixes_grid(3, 2, 5, 2) == 2 * 3 * 2 * 5
    # evaluated with guard digits beyond the default 50: equal to the default's last digits
    assert abs(bounds.log2_prefixes_grid(1, 1, 1, 7) - 2 * mpmath.log(7, 2)) <= mpmath.mpf(10) ** -45


@pytest.mark.parametrize("seed", range(5))
def test_m_min_is_the_smallest_length_whose_count_holds_the_dataset(seed):
    rng = np.random.default_rng(seed)
    n_examples, k, alphabet = int(rng.integers(1, 10 ** 5)), int(rng.integers(1, 20)), int(rng.integers(2, 10 ** 5))
    width, layers, dkv = int(rng.integers(2, 4096)), int(rng.integers(1, 48)), int(rng.integers(1, 2048))
    radius, epsilon = float(rng.uniform(0.1, 100)), 2.0 ** -10
    bits = n_examples * k * mpmath.log(alphabet, 2)
    m_prompt = bounds.min_virtual_tokens_prompt(n_examples, k, alphabet, width, radius, epsilon)
    m_prefix = bounds.min_virtual_tokens_prefix(n_examples, k, alphabet, layers, dkv, radius, epsilon)
    for m_min, count in ((m_prompt, lambda mm: bounds.log2_prompts_ball(width, mm, radius, epsilon)),
                         (m_prefix, lambda mm: bounds.log2_prefixes_ball(layers, mm, dkv, radius, epsilon))):
        assert isinstance(m_min, int) and m_min >= 1
        assert count(m_min) >= bits                                   # consequence B holds at m_min ...
        if m_min > 1:
            assert count(m_min - 1) < bits                            # ... and fails one virtual token earlier
    # consequence B's N_max at m_min admits the dataset
    assert bounds.n_max_dataset(bounds.log2_prompts_ball(width, m_prompt, radius, epsilon), k, alphabet) >= n_examples


def test_m_min_of_an_exact_multiple_is_not_rounded_up():
    # 2*L*d_kv*log2(1 + 2r/eps) = 2*1*2*log2(4) = 8 bits per virtual token; 64 one-bit labels need exactly 8
    assert bounds.min_virtual_tokens_prefix(64, 1, 2, 1, 2, 1.5, 1) == 8
    assert bounds.min_virtual_tokens_prefix(65, 1, 2, 1, 2, 1.5, 1) == 9
    assert bounds.min_virtual_tokens(3 * mpmath.log(3, 2), mpmath.log(3, 2)) == 3


def test_tokens_per_virtual_token_is_the_per_token_count_over_log2_vocab():
    value = bounds.tokens_per_virtual_token_prefix(30, 192, 49152, 4.0, "fp32")
    by_hand = 2 * 30 * 192 * math.log2(1 + 2 * 4.0 / 2.0 ** -23) / math.log2(49152)
    assert abs(float(value) - by_hand) < 1e-9 * by_hand


def test_fast_path_matches_mpmath_on_arrays():
    layers, dkv = np.array([1, 30, 80]), np.array([64, 192, 1024])
    got = fast.log2_prefixes_ball(layers, 7, dkv, 3.5, 2.0 ** -10)
    want = [float(bounds.log2_prefixes_ball(int(a), 7, int(b), 3.5, 2.0 ** -10)) for a, b in zip(layers, dkv)]
    assert np.allclose(got, want, rtol=1e-12, atol=0)
    assert float(fast.min_virtual_tokens_prefix(1000, 4, 49152, 30, 192, 4.0, 2.0 ** -23)) == \
        bounds.min_virtual_tokens_prefix(1000, 4, 49152, 30, 192, 4.0, 2.0 ** -23)


@pytest.mark.parametrize("call", [
    lambda: bounds.log2_prefixes_ball(0, 1, 1, 1, 1),
    lambda: bounds.log2_prefixes_ball(1, 1, 1.5, 1, 1),
    lambda: bounds.log2_prefixes_ball(1, 1, 1, -1, 1),
    lambda: bounds.log2_prefixes_float(1, 1, 1, 1, "fp12"),
    lambda: bounds.log2_prefixes_grid(1, 1, 1, 1),
    lambda: bounds.min_virtual_tokens_prefix(10, 1, 1, 1, 1, 1, 1),
    lambda: bounds.min_virtual_tokens(0, 1),
    lambda: bounds.min_virtual_tokens(float("nan"), 1),
    lambda: fast.log2_prefixes_ball(1, 1, np.array([1, 0]), 1, 1),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_sympy_stays_lazy_and_results_carry_their_source():
    results = bounds.all_results()
    for key in ("prefix_ball", "prefix_float", "prefix_grid", "prefix_tokens_per_vector", "m_min_prompt", "m_min_prefix"):
        assert "derived here" in results[key].source, key
    assert r"d_{kv}" in bounds.latex("prefix_ball") and r"\lceil" in bounds.latex("m_min_prefix")
    assert prefix.M_MIN_PROMPT == sp.ceiling(sp.Symbol("N", integer=True, positive=True) * sp.Symbol("k", integer=True, positive=True)
                                             * log2(sp.Symbol("A", integer=True, positive=True)) / (d * log2(1 + 2 * r / eps)))


def test_table_prefix_columns_use_kv_heads_times_head_dim():
    from bounds import table
    from bounds.presets import PRESETS

    row = table.build_rows([PRESETS["llama-3.1-8b"]], [20], eps_text="fp32", radius_kv=3.0)[0]
    assert row["prefix_values_per_token"] == 2 * 32 * 8 * 128
    by_hand = 20 * 2 * 32 * 8 * 128 * math.log2(1 + 2 * 3.0 / 2.0 ** -23)
    assert float(row["log2_prefixes"]) == pytest.approx(by_hand, rel=1e-12)
    assert float(row["prefix_tokens_per_vector"]) == pytest.approx(by_hand / 20 / math.log2(128256), rel=1e-12)
    plain = table.build_rows([PRESETS["llama-3.1-8b"]], [1])[0]
    assert plain["log2_prefixes"] is None and plain["prefix_values_per_token"] == 65536   # no r_kv: no count
    assert table.direction("log2_prefixes") == "upper"
