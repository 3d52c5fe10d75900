"""Symbolic facts of THEORY.md proved by sympy (identities and limits, not sampling)."""
import sympy as sp

from bounds import consequences, refinements, t1, t2
from bounds.symbols import (ASSUMPTION_SUBS_VOCAB, d, eps, levels, log2, m, n, p, r, theta, vocab)


def test_t1_is_linear_in_m_with_slope_d_log2_one_plus_2r_over_eps():
    expr = t1.LOG2_PROMPTS_BALL
    assert sp.diff(expr, m, 2) == 0
    assert sp.simplify(sp.diff(expr, m) - d * log2(1 + 2 * r / eps)) == 0
    assert expr.subs(m, 0) == 0  # linear, not affine: no memory without a prompt


def test_every_t1_form_is_linear_in_m():
    for expr in (t1.LOG2_PROMPTS_BITS, t1.LOG2_PROMPTS_GRID, t1.LOG2_PROMPTS_FLOAT, refinements.LOG2_PROMPTS_CONE):
        assert sp.diff(expr, m, 2) == 0
        assert sp.simplify(expr.subs(m, 0)) == 0
    assert sp.simplify(t1.slope_in_m(t1.LOG2_PROMPTS_GRID) - d * log2(levels)) == 0


def test_t1_grows_with_d_and_with_one_over_eps():
    assert sp.diff(t1.LOG2_PROMPTS_BALL, d).is_positive
    assert sp.diff(t1.LOG2_PROMPTS_BALL, eps).is_negative
    assert sp.diff(t1.LOG2_PROMPTS_BALL, r).is_positive


def test_t2_depends_on_neither_n_nor_m():
    for expr in (t2.LOG2_MEANFIELD, t2.LOG2_LOG2_MEANFIELD):
        assert not ({n, m} & expr.free_symbols)
        assert sp.diff(expr, n) == 0 and sp.diff(expr, m) == 0


def test_t2_log2_log2_is_log2_of_log2_bw():
    difference = sp.expand_log(sp.log(t2.LOG2_MEANFIELD, 2), force=True) - t2.LOG2_LOG2_MEANFIELD
    assert sp.simplify(difference) == 0


def test_accessible_fraction_bound_tends_to_zero_as_n_grows():
    fraction = consequences.ACCESSIBLE_FRACTION.subs(ASSUMPTION_SUBS_VOCAB)   # |V| >= 2
    assert sp.limit(fraction, n, sp.oo) == 0
    exponent = (t1.LOG2_PROMPTS_BALL - n * log2(vocab)).subs(ASSUMPTION_SUBS_VOCAB)
    assert sp.limit(exponent, n, sp.oo) == -sp.oo
    # the log2 form of consequence A is log2 of that fraction (before capping at 0)
    assert sp.simplify(sp.expand_log(sp.log(consequences.ACCESSIBLE_FRACTION, 2), force=True)
                       - (t1.LOG2_PROMPTS_BALL - n * log2(vocab))) == 0


def test_p16_gives_kuratov_capacity_d_16_over_log2_vocab():
    per_vector = t1.LOG2_PROMPTS_BITS.subs({p: 16, m: 1}) / log2(vocab)
    assert sp.simplify(per_vector - 16 * d / log2(vocab)) == 0
    assert sp.simplify(consequences.TOKENS_PER_VECTOR_BITS.subs(p, 16) - 16 * d / log2(vocab)) == 0


def test_threshold_is_where_t1_count_equals_vocab_to_the_n():
    # C*m*log2|V| = log2 Npr(m): at n = C*m the count Npr(m) equals |V|^n exactly
    assert sp.simplify(consequences.THRESHOLD_TOKENS * log2(vocab) - t1.LOG2_PROMPTS_BALL) == 0
    at_threshold = consequences.ACCESSIBLE_FRACTION.subs(n, consequences.THRESHOLD_TOKENS)
    assert sp.simplify(sp.expand_log(sp.log(at_threshold), force=True)) == 0


def test_cross_entropy_floor_is_zero_exactly_at_the_dataset_capacity():
    from bounds.symbols import alphabet, log2_packing
    floor = consequences.CROSS_ENTROPY_FLOOR
    assert sp.solve(sp.Eq(floor, 0), n) == [log2_packing / log2(alphabet)]


def test_cone_fraction_matches_closed_forms_in_two_and_three_dimensions():
    two = refinements.CONE_FRACTION.subs(d, 2).rewrite(sp.Integral).doit()
    assert sp.simplify(two.subs(theta, sp.pi / 3) - sp.Rational(1, 6)) == 0          # theta/(2 pi)
    three = refinements.CONE_FRACTION.subs(d, 3).rewrite(sp.Integral).doit()
    # theta = 2 asin(s), s in (0, 1], covers 0 < theta <= pi, where cos(theta/2) = sqrt(1 - s^2)
    s = sp.Symbol("s", positive=True)
    cap = (1 - sp.sqrt(1 - s ** 2)) / 2                                              # spherical cap
    assert sp.simplify(three.subs(theta, 2 * sp.asin(s)) - cap) == 0
    assert refinements.CONE_FRACTION.subs({d: 3, theta: sp.pi}).rewrite(sp.Integral).doit() == sp.Rational(1, 2)


def test_box_with_equal_sides_is_the_ball_form():
    box = refinements.LOG2_PROMPTS_BOX.subs(d, 3).doit()
    box = box.subs({refinements.side[1]: 2 * r, refinements.side[2]: 2 * r, refinements.side[3]: 2 * r})
    assert sp.simplify(box - t1.LOG2_PROMPTS_BALL.subs(d, 3)) == 0


def test_every_result_has_source_assumptions_and_latex():
    import bounds
    results = bounds.all_results()
    assert len(results) >= 14
    for key, result in results.items():
        assert result.source and result.assumptions, key
        assert isinstance(result.latex(), str) and result.latex(), key
        assert bounds.latex(key) == result.latex()
