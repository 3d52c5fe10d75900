"""Symbolic facts of the theory (docs/theory.md) proved by sympy, and every sympy expression of the registry
tied to its mpmath evaluator at random valid points (sympy's evalf and lambdify against bounds.*)."""
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import bounds
from bounds import consequences, fast, precision, refinements, t1, t2, table
from bounds.symbols import (ASSUMPTION_SUBS_VOCAB, _LOG2, _with_log2, alphabet, d, eps, k, levels, log2,
                            log2_packing, m, n, p, q, r, theta, vocab)

pytestmark = pytest.mark.usefixtures("default_dps_arithmetic")

DPS = 60
REL = mpmath.mpf(10) ** -40


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
    # the registry's log2 form (ell = log2 Npr from any T1 form), with ell = T1 ball, is log2 of that fraction
    # while it is below 1
    with_ball = consequences.LOG2_ACCESSIBLE_FRACTION.subs(log2_packing, t1.LOG2_PROMPTS_BALL)
    log2_fraction = sp.expand_log(sp.log(consequences.ACCESSIBLE_FRACTION, 2), force=True)
    assert sp.simplify(with_ball.args[1] - log2_fraction) == 0 or sp.simplify(with_ball.args[0] - log2_fraction) == 0


def test_p_bit_consequence_is_the_p_bit_t1_form_per_token():
    # two expressions written separately: C (p-bit) * m * log2|V| must be T1's p-bit count
    assert sp.simplify(consequences.TOKENS_PER_VECTOR_BITS * m * log2(vocab) - t1.LOG2_PROMPTS_BITS) == 0
    # and the table's "C 16-bit" column (Kuratov et al.'s capacity) is that expression at p = 16
    row = table.build_rows([bounds.PRESETS["pythia-160m"]], [1])[0]
    at_16 = consequences.TOKENS_PER_VECTOR_BITS.subs({p: 16, d: 768, vocab: 50304}).evalf(DPS)
    assert abs(row["tokens_per_vector_16bit"] - mpmath.mpf(str(at_16))) <= REL * row["tokens_per_vector_16bit"]


def test_threshold_is_where_t1_count_equals_vocab_to_the_n():
    # C*m*log2|V| = log2 Npr(m): at n = C*m the count Npr(m) equals |V|^n exactly
    assert sp.simplify(consequences.THRESHOLD_TOKENS * log2(vocab) - t1.LOG2_PROMPTS_BALL) == 0
    at_threshold = consequences.ACCESSIBLE_FRACTION.subs(n, consequences.THRESHOLD_TOKENS)
    assert sp.simplify(sp.expand_log(sp.log(at_threshold), force=True)) == 0


def test_cross_entropy_floor_is_zero_exactly_at_the_dataset_capacity():
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


def test_cone_floor_is_below_the_ball_form_and_positive():
    # the floor log2(1 + r/eps) never exceeds the ball form d*log2(1 + 2r/eps), d >= 1: the refinement stays
    # a refinement; and it is > 0 bits (one cell at least)
    gap = t1.LOG2_PROMPTS_BALL.subs(m, 1) - refinements.LOG2_CONE_FLOOR
    assert sp.simplify(gap.subs(d, 1) - log2((1 + 2 * r / eps) / (1 + r / eps))) == 0
    assert sp.simplify((1 + 2 * r / eps) / (1 + r / eps) - 1).is_positive       # so the gap at d = 1 is > 0
    assert sp.diff(gap, d).is_positive and refinements.LOG2_CONE_FLOOR.is_positive


def test_box_with_equal_sides_is_the_ball_form():
    box = refinements.LOG2_PROMPTS_BOX.subs(d, 3).doit()
    box = box.subs({refinements.side[1]: 2 * r, refinements.side[2]: 2 * r, refinements.side[3]: 2 * r})
    assert sp.simplify(box - t1.LOG2_PROMPTS_BALL.subs(d, 3)) == 0


# ----------------------------------------------------------------------------------------- LaTeX
def test_every_result_has_source_assumptions_and_faithful_latex():
    results = bounds.all_results()
    assert len(results) >= 17
    for key, result in results.items():
        assert result.source and result.assumptions and result.meaning, key
        text = bounds.latex(key)
        for symbol in result.expr.free_symbols:          # every quantity of the formula is printed
            name = sp.latex(symbol.base if isinstance(symbol, sp.Indexed) else symbol)
            assert name in text, (key, name, text)
        # the log_2 rewriting used for printing does not change the expression
        restored = _with_log2(result.expr).replace(_LOG2, lambda x: sp.log(x) / sp.log(2))
        assert restored == result.expr, key
    assert r"\log_{2}" in bounds.latex("t1_ball") and r"\theta" in bounds.latex("cone")
    with pytest.raises(KeyError, match="known: "):
        bounds.latex("t3")


# ----------------------------------------------------------------------------------------- sympy == evaluator
SAMPLERS = {   # valid values of each symbol, by name (floats are exact binary numbers: both sides see the same)
    "d": lambda rng: int(np.exp(rng.uniform(np.log(2), np.log(5000)))),
    "m": lambda rng: int(np.exp(rng.uniform(0, np.log(1e6)))),
    "n": lambda rng: int(np.exp(rng.uniform(0, np.log(1e5)))),
    "k": lambda rng: int(rng.integers(1, 50)),
    "V": lambda rng: int(np.exp(rng.uniform(np.log(2), np.log(1e6)))),
    "A": lambda rng: int(rng.integers(2, 10 ** 4)),
    "p": lambda rng: int(rng.integers(1, 65)),
    "Q": lambda rng: int(rng.integers(2, 2 ** 16)),
    "r": lambda rng: float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3)))),
    "epsilon": lambda rng: float(2.0 ** -rng.uniform(0, 64)),
    "q": lambda rng: float(rng.uniform(1, 8)),
    "theta": lambda rng: float(np.exp(rng.uniform(np.log(1e-8), np.log(math.pi)))),
    "ell": lambda rng: float(rng.uniform(0, 1e6)),
    "L": lambda rng: int(rng.integers(1, 129)), "d_kv": lambda rng: int(rng.integers(1, 16385)),   # bounds/prefix.py
    "r_kv": lambda rng: float(np.exp(rng.uniform(np.log(1e-3), np.log(1e3)))), "N": lambda rng: int(rng.integers(1, 10 ** 6)),
}
# Results whose evaluator takes something other than the expression's symbols: tied by their own tests below.
SPECIAL = {"t1_float", "threshold_tokens", "box", "nonuniform", "prefix_float"}   # prefix_float: tests/test_prefix_bounds.py
# sympy's lambdify maps betainc_regularized to mpmath.betainc WITHOUT regularized=True (sympy 1.14): the cone
# would be off by log2 B((d-1)/2, 1/2) bits. The mapping below is the regularized function.
LAMBDIFY_MODULES = [{"betainc_regularized": lambda a, b, x1, x2: mpmath.betainc(a, b, x1, x2, regularized=True)},
                    "mpmath"]


def _generic_keys():
    keys = []
    for key, result in bounds.all_results().items():
        names = {argument.rpartition("=")[2] for argument in result.arguments}
        if result.evaluator and names == {s.name for s in result.expr.free_symbols}:
            keys.append(key)
    return keys


def _exact(value):
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(*Fraction(value).as_integer_ratio())


def _relative_gap(a, b) -> mpmath.mpf:
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    return abs(a - b) / max(abs(a), abs(b)) if a != b else mpmath.mpf(0)


def tie(result, points: int = 12, seed: int = 0) -> mpmath.mpf:
    """Largest relative gap between sympy (evalf and lambdify) and the evaluator over random valid points."""
    rng = np.random.default_rng(seed)
    symbols = sorted(result.expr.free_symbols, key=lambda s: s.name)
    numeric = sp.lambdify(symbols, result.expr, modules=LAMBDIFY_MODULES)
    worst = mpmath.mpf(0)
    with mpmath.workdps(DPS):
        for _ in range(points):
            values = {s.name: SAMPLERS[s.name](rng) for s in symbols}
            evaluated = result.evaluate(**values)
            by_evalf = result.expr.subs({s: _exact(values[s.name]) for s in symbols}).evalf(DPS)
            by_lambdify = numeric(*(mpmath.mpf(values[s.name]) for s in symbols))
            worst = max(worst, _relative_gap(evaluated, mpmath.mpf(str(by_evalf))),
                        _relative_gap(evaluated, by_lambdify))
    return worst


def test_every_result_is_tied_to_an_evaluator():
    generic, results = set(_generic_keys()), bounds.all_results()
    assert generic | SPECIAL == set(results), set(results) - generic - SPECIAL
    assert not generic & SPECIAL
    for key in generic:
        missing = {s.name for s in results[key].expr.free_symbols} - set(SAMPLERS)
        assert not missing, f"{key}: add a sampler for {missing}"


@pytest.mark.parametrize("key", _generic_keys())
def test_sympy_expression_equals_its_evaluator(key):
    assert tie(bounds.all_results()[key]) <= REL, key


def test_a_wrong_expression_is_caught():
    # the tie can fail: T1 with r instead of 2r, C with log2 instead of ln, a cone without its floor
    wrong = [(bounds.all_results()["t1_ball"], t1.LOG2_PROMPTS_BALL.subs(r, r / 2)),
             (bounds.all_results()["tokens_per_vector"], consequences.TOKENS_PER_VECTOR * sp.log(2)),
             (bounds.all_results()["cone"], m * (d * log2(1 + 2 * r / eps) + refinements.LOG2_CONE_FRACTION))]
    for result, expr in wrong:
        mutated = type(result)(**{**result.__dict__, "expr": expr})
        assert tie(mutated, points=30) > 1e-6, result.name


@pytest.mark.parametrize("key", [key for key in _generic_keys() if hasattr(fast, bounds.all_results()[key].evaluator.__name__)])
def test_fast_path_equals_the_sympy_expression(key):
    result, rng = bounds.all_results()[key], np.random.default_rng(1)
    symbols = sorted(result.expr.free_symbols, key=lambda s: s.name)
    for _ in range(10):
        values = {s.name: SAMPLERS[s.name](rng) for s in symbols}
        positional = [values[a] for a in result.arguments if "=" not in a]
        keywords = {a.split("=")[0]: values[a.split("=")[1]] for a in result.arguments if "=" in a}
        value = float(getattr(fast, result.evaluator.__name__)(*positional, **keywords))
        exact = mpmath.mpf(str(result.expr.subs({s: _exact(values[s.name]) for s in symbols}).evalf(DPS)))
        assert abs(mpmath.mpf(value) - exact) <= 1e-12 * abs(exact) + 1e-300, (key, values)


def test_special_t1_float_is_d_m_log2_of_the_float_count():
    rng = np.random.default_rng(2)
    for dtype in ("fp16", "bf16", "fp32", "fp64"):
        dd, mm, radius = SAMPLERS["d"](rng), SAMPLERS["m"](rng), SAMPLERS["r"](rng)
        count = precision.count_representable(dtype, radius)
        expr = t1.LOG2_PROMPTS_FLOAT.subs({d: dd, m: mm, sp.Symbol("N_fmt", integer=True, positive=True): count})
        value = bounds.all_results()["t1_float"].evaluate(d=dd, m=mm, r=radius, dtype=dtype)
        assert _relative_gap(value, mpmath.mpf(str(expr.evalf(DPS)))) <= REL


def test_special_threshold_tokens_is_c_times_m_and_the_table_column():
    rng = np.random.default_rng(3)
    for _ in range(10):
        values = {name: SAMPLERS[name](rng) for name in ("d", "m", "V", "r", "epsilon")}
        symbols = {s: _exact(values[s.name]) for s in consequences.THRESHOLD_TOKENS.free_symbols}
        expr_value = mpmath.mpf(str(consequences.THRESHOLD_TOKENS.subs(symbols).evalf(DPS)))
        evaluator = bounds.tokens_per_vector(values["d"], values["V"], radius=values["r"], eps=values["epsilon"])
        assert _relative_gap(expr_value, evaluator * values["m"]) <= REL
    preset = bounds.PRESETS["pythia-410m"]
    row = table.build_rows([preset], [7])[0]
    expr = consequences.THRESHOLD_TOKENS.subs({d: preset.d, m: 7, vocab: preset.vocab, eps: sp.Rational(1, 1024),
                                               r: _exact(preset.radius)})
    assert _relative_gap(row["threshold_tokens"], mpmath.mpf(str(expr.evalf(DPS)))) <= REL


def test_special_box_is_its_evaluator():
    rng = np.random.default_rng(4)
    for dims in (1, 3, 7):
        sides, mm, epsilon = [SAMPLERS["r"](rng) for _ in range(dims)], SAMPLERS["m"](rng), SAMPLERS["epsilon"](rng)
        expr = refinements.LOG2_PROMPTS_BOX.subs(d, dims).doit()
        expr = expr.subs({refinements.side[i + 1]: _exact(s) for i, s in enumerate(sides)})
        expr = expr.subs({m: mm, eps: _exact(epsilon)})
        value = bounds.all_results()["box"].evaluate(sides=sides, m=mm, epsilon=epsilon)
        assert _relative_gap(value, mpmath.mpf(str(expr.evalf(DPS)))) <= REL


def test_special_nonuniform_condition_with_equal_cells_is_its_evaluator():
    # with all volumes 1/|V| the median of log2 prod is n*log2(1/|V|) exactly: the condition's least n
    condition = refinements.NONUNIFORM_CONDITION
    ell_pk = sp.Symbol("ell_Pk", positive=True)
    for size, log2_pk in ((3, 1000), (7, 500), (5, 2000), (2, 7.5), (16, 10), (50304, 13049.41)):
        exact_median = condition.lhs.func   # M(n)
        holds = lambda count: bool(condition.subs(exact_median(n), n * log2(sp.Rational(1, size)))
                                   .subs({n: count, ell_pk: _exact(float(log2_pk))}))
        low, high = 0, 10 ** 4                  # holds is monotone in n: bisect for the least n where it holds
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if holds(middle) else (middle, high)
        expected = high
        assert bounds.all_results()["nonuniform"].evaluate(cell_volumes=[1 / size] * size, ell_Pk=log2_pk) == expected
