"""Hypothesis property tests: fast path vs 50-digit mpmath (1e-12 relative), monotonicity, extremes."""
import itertools
import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bounds import evaluate, fast, precision

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)
REL = 1e-12

widths = st.integers(1, 10 ** 5)
lengths = st.integers(1, 10 ** 6)
radii = st.floats(1e-3, 1e3)
eps_exponents = st.floats(-64.0, 0.0)            # eps = 2^e, down to 2^-64
orders = st.floats(1.0, 8.0)
vocabs = st.integers(2, 10 ** 7)
angles = st.floats(1e-8, math.pi)


def close(fast_value, exact) -> bool:
    exact = mpmath.mpf(exact)
    return bool(np.isfinite(fast_value)) and abs(mpmath.mpf(float(fast_value)) - exact) <= REL * abs(exact)


@SETTINGS
@given(widths, lengths, radii, eps_exponents)
def test_t1_ball_fast_matches_mpmath(d, m, radius, e):
    eps = 2.0 ** e
    assert close(fast.log2_prompts_ball(d, m, radius, eps), evaluate.log2_prompts_ball(d, m, radius, eps))


@SETTINGS
@given(widths, lengths, st.integers(1, 64), st.integers(2, 2 ** 16))
def test_t1_bits_and_grid_fast_match_mpmath(d, m, bits, levels):
    assert close(fast.log2_prompts_bits(d, m, bits), evaluate.log2_prompts_bits(d, m, bits))
    assert close(fast.log2_prompts_grid(d, m, levels), evaluate.log2_prompts_grid(d, m, levels))


@SETTINGS
@given(widths, vocabs, radii, eps_exponents, st.integers(1, 64))
def test_tokens_per_vector_fast_matches_mpmath(d, vocab, radius, e, bits):
    eps = 2.0 ** e
    assert close(fast.tokens_per_vector(d, vocab, radius, eps),
                 evaluate.tokens_per_vector(d, vocab, radius=radius, eps=eps))
    assert close(fast.tokens_per_vector(d, vocab, bits=bits), evaluate.tokens_per_vector(d, vocab, bits=bits))


@SETTINGS
@given(widths, radii, eps_exponents, orders)
def test_t2_fast_matches_mpmath(d, radius, e, q):
    eps = 2.0 ** e
    assert close(fast.log2_log2_meanfield(d, radius, eps, q), evaluate.log2_log2_meanfield(d, radius, eps, q))


@SETTINGS
@given(st.integers(2, 10 ** 5), angles)
def test_cone_fast_matches_mpmath(d, theta):
    assert close(fast.log2_cone_fraction(d, theta), evaluate.log2_cone_fraction(d, theta))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(2, 60), st.floats(0.05, 3.1))
def test_cone_continued_fraction_matches_mpmath_betainc(d, theta):
    # evaluate uses its own continued fraction; mpmath.betainc is an independent route where it converges
    with mpmath.workdps(50):
        x = mpmath.sin(mpmath.mpf(theta) / 2) ** 2
        reference = mpmath.log(mpmath.betainc((d - 1) / mpmath.mpf(2), 0.5, 0, x, regularized=True) / 2, 2)
        assert abs(evaluate.log2_cone_fraction(d, theta) - reference) <= mpmath.mpf(10) ** -40 * abs(reference)


@SETTINGS
@given(widths, lengths, radii, eps_exponents, orders)
def test_monotone_in_m_d_and_one_over_eps(d, m, radius, e, q):
    eps, finer = 2.0 ** e, 2.0 ** (e - 1)
    with evaluate.with_precision(50):
        base = evaluate.log2_prompts_ball(d, m, radius, eps)
        assert evaluate.log2_prompts_ball(d, m + 1, radius, eps) > base
        assert evaluate.log2_prompts_ball(d + 1, m, radius, eps) > base
        assert evaluate.log2_prompts_ball(d, m, radius, finer) > base
        t2 = evaluate.log2_log2_meanfield(d, radius, eps, q)
        assert evaluate.log2_log2_meanfield(d + 1, radius, eps, q) > t2
        assert evaluate.log2_log2_meanfield(d, radius, finer, q) > t2
    fast_base = fast.log2_prompts_ball(d, m, radius, eps)
    assert fast.log2_prompts_ball(d, m + 1, radius, eps) > fast_base
    assert fast.log2_prompts_ball(d + 1, m, radius, eps) > fast_base
    assert fast.log2_prompts_ball(d, m, radius, finer) > fast_base
    assert fast.log2_log2_meanfield(d, radius, finer, q) > fast.log2_log2_meanfield(d, radius, eps, q)


@SETTINGS
@given(widths, vocabs, radii, eps_exponents, lengths)
def test_tokens_per_vector_times_log2_vocab_is_t1_per_vector(d, vocab, radius, e, m):
    eps = 2.0 ** e
    with evaluate.with_precision(50):
        c = evaluate.tokens_per_vector(d, vocab, radius=radius, eps=eps)
        lhs = c * m * precision.MP.log(vocab, 2)     # the bounds context, at with_precision's 50 digits
        rhs = evaluate.log2_prompts_ball(d, m, radius, eps)
        assert abs(lhs - rhs) <= mpmath.mpf(10) ** -45 * rhs


def test_no_inf_or_nan_at_the_extremes_of_the_ranges():
    corners = list(itertools.product((1, 10 ** 5), (1, 10 ** 6), (1e-3, 1e3), (2.0 ** -64, 1.0), (1.0, 8.0),
                                     (2, 10 ** 7), (1e-8, math.pi)))
    d, m, radius, eps, q, vocab, theta = (np.array(column, dtype=float) for column in zip(*corners))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # any overflow / invalid warning fails the test
        with np.errstate(all="raise"):
            values = [fast.log2_prompts_ball(d, m, radius, eps), fast.tokens_per_vector(d, vocab, radius, eps),
                      fast.log2_log2_meanfield(d, radius, eps, q), fast.log2_prompts_bits(d, m, 16),
                      fast.tokens_per_vector_cone(np.maximum(d, 2), vocab, radius, eps, theta)]
    for value in values:
        assert np.all(np.isfinite(value))
    for i in range(0, len(corners), 7):         # and the mpmath side agrees at the corners
        assert close(values[2][i], evaluate.log2_log2_meanfield(int(d[i]), radius[i], eps[i], q[i]))
        assert close(values[4][i], evaluate.tokens_per_vector_cone(max(int(d[i]), 2), int(vocab[i]), radius[i],
                                                                   eps[i], theta[i]))


def test_cone_at_theta_pi_is_half_the_ball():
    for d in (2, 3, 100, 10 ** 5):
        assert abs(evaluate.log2_cone_fraction(d, mpmath.pi) + 1) < mpmath.mpf(10) ** -45
        assert fast.log2_cone_fraction(d, np.pi) == pytest.approx(-1.0, rel=1e-13)
