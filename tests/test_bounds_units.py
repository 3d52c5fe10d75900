"""Unit tests: precision conventions, float counts, evaluators, consequences, refinements, presets."""
import importlib
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest

import bounds
from bounds import evaluate, fast, precision, presets, refinements

pytestmark = pytest.mark.usefixtures("default_dps_arithmetic")


# ----------------------------------------------------------------------------------------- precision
@pytest.mark.parametrize("name, exponent, bits", [("fp64", -52, 64), ("fp32", -23, 32), ("bf16", -7, 16),
                                                   ("fp16", -10, 16)])
def test_dtype_conventions(name, exponent, bits):
    assert bounds.parse_eps(name) == mpmath.ldexp(1, exponent)
    assert bounds.bits_per_value(name) == bits


def test_parse_eps_forms_agree():
    assert bounds.parse_eps("2^-10") == bounds.parse_eps("2**-10") == bounds.parse_eps("fp16") == mpmath.mpf(2) ** -10
    assert bounds.parse_eps("2^(-10)") == mpmath.mpf(2) ** -10
    assert bounds.parse_eps(" 1e-3 ") == mpmath.mpf("1e-3")
    assert bounds.parse_eps(0.5) == 0.5 and bounds.parse_eps(mpmath.mpf(3)) == 3


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "-2^-3", "2^", "inf", "nan", "fp8", "", "0^-1", 0, -1.0,
                                 float("inf"), float("nan"), None, True])
def test_parse_eps_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        bounds.parse_eps(bad)


def _largest_not_above(radius: float, float_type, int_type) -> int:
    """Non-negative values of a numpy float type in [0, r], by the bit pattern of the largest one <= r."""
    with np.errstate(over="ignore"):             # radii above the format's maximum become inf
        value = float_type(radius)
    if float(value) > radius:
        value = np.nextafter(value, float_type(0))
    if np.isinf(value):
        value = np.finfo(float_type).max
    return int(np.array(value).view(int_type)) + 1


def test_count_representable_matches_enumeration_of_fp16_and_bf16():
    fp16 = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(float)
    bf16 = (np.arange(0, 0x7F80, dtype=np.uint32) << 16).view(np.float32).astype(float)
    rng = np.random.default_rng(0)
    radii = np.concatenate([[1e-9, 6e-8, 6.1e-5, 1.0, 1.5, 63.62, 65504.0, 7e4, 3e38, 1e300],
                            np.exp(rng.uniform(-20, 12, 40))])
    for radius in radii:
        assert bounds.count_representable("fp16", radius) == 2 * np.sum(fp16 <= radius) - 1
        assert bounds.count_representable("bf16", radius) == 2 * np.sum(bf16 <= radius) - 1


def test_count_representable_matches_bit_patterns_of_fp32_and_fp64():
    rng = np.random.default_rng(1)
    for radius in np.concatenate([[1e-45, 1.0, 3.4e38, 1e39], np.exp(rng.uniform(-100, 80, 40))]):
        assert precision.count_nonnegative("fp32", radius) == _largest_not_above(radius, np.float32, np.uint32)
    for radius in np.concatenate([[5e-324, 1.0, 1.7e308], np.exp(rng.uniform(-700, 700, 40))]):
        assert precision.count_nonnegative("fp64", radius) == _largest_not_above(radius, np.float64, np.uint64)


def test_float_form_is_below_the_p_bit_form():
    for dtype in ("fp16", "bf16", "fp32"):
        for radius in (0.5, 63.62, 1e30):
            assert bounds.log2_prompts_float(768, 3, radius, dtype) < bounds.log2_prompts_bits(768, 3, bounds.bits_per_value(dtype))


# ----------------------------------------------------------------------------------------- evaluators
def test_evaluators_return_mpf_at_fifty_digits_by_default():
    value = bounds.log2_prompts_ball(768, 1, 63.62, "fp16")
    assert precision.is_mpf(value) and isinstance(value, precision.MP.mpf) and not isinstance(value, mpmath.mpf)
    assert bounds.current_dps() == bounds.DEFAULT_DPS == precision.MP.dps == 50
    with mpmath.workdps(60):
        exact = 768 * mpmath.log(1 + 2 * mpmath.mpf(63.62) * 1024, 2)
        assert abs(value - exact) < mpmath.mpf(10) ** -45


def test_with_precision_and_dps_keyword_change_the_digits():
    outer = mpmath.mp.prec
    with bounds.with_precision(120):
        high = bounds.log2_log2_meanfield(1000, 1.0, "2^-20", 2)
        assert bounds.current_dps() == precision.MP.dps == 120 and mpmath.mp.prec == outer
    assert bounds.current_dps() == precision.MP.dps == 50 and mpmath.mp.prec == outer
    low = bounds.log2_log2_meanfield(1000, 1.0, "2^-20", 2, dps=20)
    with bounds.with_precision(120):
        assert 0 < abs(high - low) < mpmath.mpf(10) ** -15 * high
        assert abs(high - bounds.log2_log2_meanfield(1000, 1.0, "2^-20", 2, dps=120)) == 0


def test_t2_log2_is_two_to_the_log2_log2():
    with bounds.with_precision(50):
        log2_bw = bounds.log2_meanfield(50, 3.0, 0.01, 2)
        assert abs(mpmath.log(log2_bw, 2) - bounds.log2_log2_meanfield(50, 3.0, 0.01, 2)) < mpmath.mpf(10) ** -45


def test_tokens_per_vector_forms_and_argument_checks():
    c = bounds.tokens_per_vector(768, 50304, radius=63.62, eps="fp16")
    assert abs(c - bounds.log2_prompts_ball(768, 1, 63.62, "fp16") / mpmath.log(50304, 2)) < 1e-40
    assert bounds.tokens_per_vector(768, 2 ** 16, bits=16) == 768
    with pytest.raises(ValueError):
        bounds.tokens_per_vector(768, 50304)
    with pytest.raises(ValueError):
        bounds.tokens_per_vector(768, 50304, radius=1, eps=1, bits=16)


@pytest.mark.parametrize("call", [
    lambda: bounds.log2_prompts_ball(0, 1, 1, 1), lambda: bounds.log2_prompts_ball(1, 0, 1, 1),
    lambda: bounds.log2_prompts_ball(1.5, 1, 1, 1), lambda: bounds.log2_prompts_ball(1, 1, -1, 1),
    lambda: bounds.log2_prompts_ball(1, 1, 1, 0), lambda: bounds.tokens_per_vector(5, 1, bits=16),
    lambda: bounds.log2_log2_meanfield(5, 1, 1, 0.5), lambda: bounds.log2_cone_fraction(5, 4.0),
    lambda: bounds.log2_cone_fraction(1, 1.0), lambda: bounds.log2_prompts_grid(2, 2, 1),
    lambda: bounds.n_max_dataset(10, 1, 1), lambda: bounds.log2_prompts_ball("x", 1, 1, 1),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_consequences():
    assert bounds.log2_accessible_fraction(100, 10, 4) == 0                    # below the threshold
    assert bounds.log2_accessible_fraction(100, 60, 4) == -20
    assert bounds.cross_entropy_floor_bits(100, 60, 4) == 20
    assert bounds.cross_entropy_floor_bits(100, 10, 4) == -80                 # may be negative
    assert bounds.n_max_dataset(100, 2, 4) == 25 and bounds.n_max_dataset(101, 2, 4) == 25
    assert bounds.n_max_dataset(1, 2, 4) == 0
    rng = np.random.default_rng(0)
    for _ in range(200):
        log2_prompts, k, alphabet = rng.uniform(0, 1e6), int(rng.integers(1, 50)), int(rng.integers(2, 10 ** 6))
        n_max = bounds.n_max_dataset(log2_prompts, k, alphabet)
        per_input = k * math.log2(alphabet)
        assert n_max * per_input <= log2_prompts * (1 + 1e-12) and (n_max + 1) * per_input > log2_prompts


def test_cone_closed_forms_numerically():
    for theta in (1e-6, 0.3, 1.96, math.pi / 2, 3.0):
        two = bounds.log2_cone_fraction(2, theta)
        three = bounds.log2_cone_fraction(3, theta)
        with mpmath.workdps(50):
            t = mpmath.mpf(theta)
            assert abs(two - mpmath.log(t / (2 * mpmath.pi), 2)) < mpmath.mpf(10) ** -40
            assert abs(three - mpmath.log((1 - mpmath.cos(t / 2)) / 2, 2)) < mpmath.mpf(10) ** -38


def test_cone_and_box_refine_the_ball():
    for d in (2, 768, 4096):
        cone = bounds.log2_prompts_cone(d, 3, 63.62, "fp16", 1.96)
        assert cone < bounds.log2_prompts_ball(d, 3, 63.62, "fp16")
        per_token = bounds.tokens_per_vector_cone(d, 50304, 63.62, "fp16", 1.96) * 3 * mpmath.log(50304, 2)
        assert abs(per_token - cone) < mpmath.mpf(10) ** -40 * cone
    box = bounds.log2_prompts_box([2 * 63.62] * 5, 2, "fp16")
    assert abs(box - bounds.log2_prompts_ball(5, 2, 63.62, "fp16")) < mpmath.mpf(10) ** -40 * box
    assert bounds.log2_prompts_box([1.0, 200.0], 1, "fp16") < bounds.log2_prompts_ball(2, 1, 100.0, "fp16")


# ----------------------------------------------------------------------------------------- non-uniform cells
def test_nonuniform_threshold_with_equal_cells_is_t1_threshold():
    for vocab, log2_pk in ((16, 10.0), (50304, 13049.41), (2, 7.5)):
        expected = math.floor(log2_pk / math.log2(vocab)) + 1
        assert bounds.nonuniform_threshold([1 / vocab] * vocab, log2_pk, bin_bits=1 / 1024) == expected


def test_nonuniform_median_matches_monte_carlo():
    rng = np.random.default_rng(0)
    volumes = rng.dirichlet(np.full(200, 0.3))           # unequal next-token cells
    n = 25
    draws = np.log2(rng.choice(volumes, size=(20000, n))).sum(axis=1)
    lattice = bounds.median_log2_volume_product(volumes, n, bin_bits=1 / 256)
    assert abs(lattice - np.median(draws)) < 0.05 * abs(np.median(draws))
    # unequal cells reach a given 1/Pk sooner than equal ones (median of log-volumes below log 1/|V|)
    n_star = bounds.nonuniform_threshold(volumes, 100.0)
    assert 1 <= n_star <= math.floor(100.0 / math.log2(200)) + 1
    assert bounds.median_log2_volume_product(volumes, n_star) < -100.0
    assert n_star == 1 or bounds.median_log2_volume_product(volumes, n_star - 1) >= -100.0


def test_nonuniform_threshold_matches_a_linear_scan():
    rng = np.random.default_rng(3)
    for _ in range(5):
        volumes = rng.dirichlet(np.full(30, rng.uniform(0.1, 2.0)))
        log2_pk = float(rng.uniform(0.0, 80.0))
        n = 1
        while bounds.median_log2_volume_product(volumes, n) >= -log2_pk:
            n += 1
        assert bounds.nonuniform_threshold(volumes, log2_pk) == n


@pytest.mark.parametrize("bad", [[], [0.0, 0.5], [1.5], [float("nan")]])
def test_nonuniform_rejects_bad_volumes(bad):
    with pytest.raises(ValueError):
        refinements.nonuniform_threshold(bad, 10.0)


def test_cone_is_never_below_a_packing_of_its_axis():
    # a cone narrower than eps/r gave -463.3 bits (and C = -29.66)
    floor = bounds.evaluate.log2_cone_floor(63.62, "fp16")
    with mpmath.workdps(60):
        assert abs(floor - mpmath.log(1 + mpmath.mpf(63.62) * 1024, 2)) < mpmath.mpf(10) ** -45
        assert floor >= mpmath.log(mpmath.ceil(mpmath.mpf(63.62) * 1024), 2)   # ceil(r/eps) points on the axis
    assert bounds.log2_prompts_cone(768, 1, 63.62, "fp16", 1e-5) == floor
    assert abs(bounds.log2_prompts_cone(768, 3, 63.62, "fp16", 1e-5) / (3 * floor) - 1) < 1e-45
    assert abs(bounds.tokens_per_vector_cone(768, 50304, 63.62, "fp16", 1e-5) / (floor / mpmath.log(50304, 2)) - 1) < 1e-45
    rng = np.random.default_rng(0)
    for _ in range(100):
        d, theta = int(rng.integers(2, 5000)), float(np.exp(rng.uniform(np.log(1e-9), np.log(math.pi))))
        radius, eps = float(np.exp(rng.uniform(-7, 7))), float(2.0 ** -rng.uniform(0, 60))
        cone = bounds.log2_prompts_cone(d, 1, radius, eps, theta)
        assert bounds.evaluate.log2_cone_floor(radius, eps) <= cone <= bounds.log2_prompts_ball(d, 1, radius, eps)
        assert cone > 0
        assert fast.tokens_per_vector_cone(d, 2, radius, eps, theta) == pytest.approx(float(cone), rel=1e-11)


# ----------------------------------------------------------------------------------------- validation
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("call", [
    lambda: bounds.log2_accessible_fraction(NAN, 10, 4), lambda: bounds.log2_accessible_fraction(INF, 10, 4),
    lambda: bounds.log2_accessible_fraction(-INF, 10, 4), lambda: bounds.cross_entropy_floor_bits(NAN, 10, 4),
    lambda: bounds.n_max_dataset(INF, 1, 4), lambda: bounds.log2_prompts_ball(NAN, 1, 1, 1),
    lambda: bounds.log2_prompts_ball(1, INF, 1, 1), lambda: bounds.log2_prompts_ball(1, 1, NAN, 1),
    lambda: bounds.log2_prompts_ball(1, 1, 1, INF), lambda: bounds.log2_prompts_ball(1, 1, 1, NAN),
    lambda: bounds.log2_log2_meanfield(5, 1, 1, NAN), lambda: bounds.log2_cone_fraction(5, NAN),
    lambda: bounds.log2_prompts_cone(768, 1, 63.62, "fp16", INF), lambda: bounds.tokens_per_vector(5, INF, bits=16),
    lambda: bounds.tokens_per_vector(5, 100, bits=NAN), lambda: bounds.log2_prompts_ball(True, 1, 1, 1),
    lambda: bounds.log2_prompts_ball(1, 0.5, 1, 1), lambda: bounds.log2_prompts_ball(1, -2, 1, 1),
    lambda: bounds.log2_prompts_box([1.0, NAN], 1, 1), lambda: bounds.log2_cone_fraction(5, 0),
])
def test_nan_inf_and_non_integers_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("dps", [0, -5, 5, 9, 1001, 10 ** 6, 2.5, True, "fifty", NAN, None])
def test_dps_keyword_and_with_precision_share_one_rule(dps):
    if dps is not None:
        with pytest.raises(ValueError, match="dps must be an integer from 10 to 1000"):
            bounds.log2_prompts_ball(768, 1, 63.62, "fp16", dps=dps)
    with pytest.raises(ValueError, match="dps must be an integer from 10 to 1000"):
        with bounds.with_precision(dps):
            pass


def test_importing_bounds_leaves_mpmath_precision_alone():
    code = ("import mpmath; before = mpmath.mp.dps; import bounds, bounds.table, bounds.fast, bounds.bench; "
            "bounds.all_results(); assert mpmath.mp.dps == before == 15, mpmath.mp.dps")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_bounds_and_printing_the_table_import_neither_sympy_nor_scipy():
    # the theorem modules build their sympy Results on first use, and the cone's fast form imports scipy then
    code = ("import contextlib, io, runpy, sys\nimport bounds, bounds.fast, bounds.evaluate\n"
            "bounds.evaluate.log2_prompts_ball, bounds.fast.log2_prompts_ball, bounds.t1.__all__\n"
            "sys.argv = ['bounds.table']\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        runpy.run_module('bounds.table', run_name='__main__')\n"
            "    except SystemExit:\n        pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sympy', 'scipy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


# One call of every exported mpmath evaluator (bounds.__all__ less the precision controls and the registry).
_EVALUATOR_CALLS = {
    "log2_prompts_ball": (768, 3, 63.62, "fp16"), "log2_prompts_bits": (768, 2, 16),
    "log2_prompts_grid": (4, 2, 255), "log2_prompts_float": (3, 2, 1.5, "bf16"),
    "tokens_per_vector": (768, 50304, 63.62, "1e-3"), "log2_accessible_fraction": (100.5, 20, 32),
    "n_max_dataset": (12345.678, 3, 50304), "cross_entropy_floor_bits": (15.999999, 8, 4),
    "log2_meanfield": (3, 0.5, 1e-3, 1), "log2_log2_meanfield": (768, 63.62, "fp16", 2),
    "log2_meanfield_vocab": (50304, 63.62, "fp16", 2), "tokens_meanfield_vocab": (50304, 63.62, "fp16", 1),
    "log2_vocab_net_size": (50, 3.0, "2^-10", 2), "log2_cone_fraction": (768, 1.96),
    "tokens_per_vector_cone": (768, 50304, 63.62, "fp16", 1e-5), "log2_prompts_cone": (768, 4, 63.62, "fp16", 2.2),
    "log2_prompts_box": ([1, 3, 0.25], 2, "1e-3"), "log2_prefixes_ball": (24, 3, 1024, 4.0, "fp16"),
    "log2_prefixes_float": (24, 3, 1024, 4.0, "fp16"), "log2_prefixes_grid": (24, 3, 1024, 255),
    "tokens_per_virtual_token_prefix": (24, 1024, 50304, 4.0, "fp16"), "min_virtual_tokens": (100, 16),
    "min_virtual_tokens_prompt": (1000, 2, 4, 768, 63.62, "fp16"),
    "min_virtual_tokens_prefix": (1000, 2, 4, 24, 1024, 4.0, "fp16"),
}
_NOT_EVALUATORS = {"DEFAULT_DPS", "current_dps", "with_precision", "PRESETS", "Preset", "all_results",
                   "bits_per_value", "count_representable", "eps_of_dtype", "get_preset", "latex",
                   "median_log2_volume_product", "nonuniform_threshold", "parse_eps"}


def test_bounds_computes_in_its_own_context_and_leaves_mpmath_precision_alone():
    from bounds import table
    assert set(bounds.__all__) - _NOT_EVALUATORS == set(_EVALUATOR_CALLS)
    for global_dps in (15, 33):
        with mpmath.workdps(global_dps):
            prec = mpmath.mp.prec
            for name, args in _EVALUATOR_CALLS.items():
                value = getattr(bounds, name)(*args)
                assert mpmath.mp.prec == prec, name
                if name in ("n_max_dataset", "min_virtual_tokens", "min_virtual_tokens_prompt",
                            "min_virtual_tokens_prefix"):
                    assert isinstance(value, int), name
                else:
                    assert precision.is_mpf(value) and isinstance(value, precision.MP.mpf), name
                getattr(bounds, name)(*args, **({} if name.startswith("min_") or name == "n_max_dataset"
                                                 else {"dps": 80}))
                assert mpmath.mp.prec == prec and precision.MP.dps == bounds.DEFAULT_DPS, name
            with bounds.with_precision(120):
                assert mpmath.mp.prec == prec and precision.MP.dps == bounds.current_dps() == 120
                rows = table.build_rows(list(table.PRESETS.values()), [1, 4], eps_text="1e-3", q=2, radius_kv=2.5)
                assert mpmath.mp.prec == prec
            assert mpmath.mp.prec == prec and precision.MP.dps == bounds.current_dps() == bounds.DEFAULT_DPS
            for format_rows in table.FORMATTERS.values():
                format_rows(rows, 6)
            assert mpmath.mp.prec == prec


def test_no_module_of_bounds_uses_mpmaths_global_context():
    import pathlib
    import re
    for path in sorted(pathlib.Path(bounds.__file__).parent.glob("*.py")):
        text = path.read_text()
        for pattern in (r"mpmath\.mp\.", r"mp\.workdps", r"mpmath\.workdps", r"(?<![\w.])mp\.\w", r"import mp\b"):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"


def test_values_keep_their_digits_in_arithmetic_and_inputs_are_taken_exactly():
    with mpmath.workdps(15):
        bound = bounds.log2_prompts_ball(768, 1, 63.62, "fp16")
        exact = bounds.log2_prompts_ball(768, 1, 63.62, "fp16", dps=100)
        with bounds.with_precision(100):
            assert abs((bound - 13049) - (exact - 13049)) < mpmath.mpf(10) ** -45   # 50 digits, not 15
        assert bound > 13049 and bound < 13050.0 and bound > mpmath.mpf(13049) and float(bound) == float(exact)
    with mpmath.workdps(40):
        eps = mpmath.mpf(1) / 1000                   # a global mpf of 40 digits, not rounded on the way in
    with bounds.with_precision(20):
        assert precision.parse_eps(eps)._mpf_ == eps._mpf_
        assert bounds.log2_prompts_ball(1, 1, 0.5, eps) == bounds.log2_prompts_ball(1, 1, 0.5, "1e-3")
    assert precision.is_mpf(mpmath.mpf(1)) and precision.is_mpf(bound) and not precision.is_mpf(1.5)


def test_nested_evaluators_ask_for_the_callers_digits():
    with bounds.with_precision(30):
        inner = bounds.log2_meanfield_vocab(50304, 63.62, "fp16", 1)
        outer = bounds.tokens_meanfield_vocab(50304, 63.62, "fp16", 1)
        assert abs(outer * precision.MP.log(50304, 2) - inner) < mpmath.mpf(10) ** -25 * inner
    assert bounds.tokens_meanfield_vocab(50304, 63.62, "fp16", 1, dps=30) == outer   # dps= is with_precision
    seen = []                                    # the working digits of every evaluation inside
    original = evaluate.MP.workdps

    def spy(digits):
        seen.append(digits)
        return original(digits)
    evaluate.MP.workdps = spy
    try:
        bounds.tokens_meanfield_vocab(50304, 63.62, "fp16", 1)
    finally:
        del evaluate.MP.workdps
    assert max(seen) == bounds.DEFAULT_DPS + evaluate.GUARD_DIGITS, seen


def test_mpmath_working_precision_is_not_a_precision_source():
    with mpmath.workdps(200):
        inside = bounds.log2_prompts_ball(768, 1, 63.62, "fp16")
    assert inside == bounds.log2_prompts_ball(768, 1, 63.62, "fp16", dps=50)
    with mpmath.workdps(5):
        assert bounds.log2_prompts_ball(768, 1, 63.62, "fp16") == inside


def test_dps_keyword_inside_the_range_is_honoured():
    low = bounds.log2_prompts_ball(768, 1, 63.62, "fp16", dps=10)
    high = bounds.log2_prompts_ball(768, 1, 63.62, "fp16", dps=100)
    with mpmath.workdps(100), bounds.with_precision(100):
        assert 0 < abs(high - low) < mpmath.mpf(10) ** -6 * high      # 10 digits, not 0 or 5
        assert abs(high - 768 * mpmath.log(1 + 2 * mpmath.mpf(63.62) * 1024, 2)) < mpmath.mpf(10) ** -95


@pytest.mark.parametrize("call", [
    lambda: fast.log2_prompts_ball(-5, 1, 1.0, 1.0), lambda: fast.log2_prompts_ball(2.5, 1, 1.0, 1.0),
    lambda: fast.log2_cone_fraction(10, 4.0), lambda: fast.log2_cone_fraction(1, 1.0),
    lambda: fast.tokens_per_vector_cone(768, 50304, 63.62, 2.0 ** -10, 4),
    lambda: fast.tokens_per_vector(768, 1, bits=16), lambda: fast.tokens_per_vector(768, 1.5, bits=16),
    lambda: fast.log2_accessible_fraction(NAN, 10, 4), lambda: fast.log2_accessible_fraction(INF, 10, 4),
    lambda: fast.cross_entropy_floor_bits(1.0, 0, 4), lambda: fast.log2_log2_meanfield(5, 1.0, 1.0, 0.5),
    lambda: fast.log2_prompts_ball(2, np.array([1, np.inf]), 1.0, 1.0),
    lambda: fast.log2_prompts_ball(2, 1, 1.0, "2^-2000"),      # not a double: use bounds.evaluate
    lambda: fast.log2_prompts_bits(1e300, 1e300, 16),           # overflows float64: never silently inf
    lambda: fast.log2_prompts_grid(2, 2, 1), lambda: fast.log2_prompts_ball("x", 1, 1.0, 1.0),
    lambda: fast.log2_meanfield_vocab(1, 1.0, 1.0, 1), lambda: fast.log2_meanfield_vocab(10, NAN, 1.0, 1),
    lambda: fast.tokens_meanfield_vocab(10, 1.0, 1.0, 0.5), lambda: fast.tokens_meanfield_vocab(2.5, 1.0, 1.0, 1),
])
def test_fast_path_rejects_what_the_mpmath_side_rejects(call):
    with pytest.raises(ValueError):
        with np.errstate(over="ignore"):
            call()


@pytest.mark.parametrize("vocab, log2_pk", [(3, 1000), (7, 500), (5, 2000), (2, 7.5), (16, 10.0), (4, 8.0),
                                            (50304, 13049.41), (10, 33.3)])
def test_nonuniform_threshold_is_exact_on_equal_cells_at_the_default_lattice(vocab, log2_pk):
    expected = math.floor(log2_pk / math.log2(vocab)) + 1
    assert bounds.nonuniform_threshold([1 / vocab] * vocab, log2_pk) == expected


@pytest.mark.parametrize("bin_bits", [0, 0.0, -1 / 64, NAN, INF, "x"])
def test_nonuniform_rejects_a_bad_lattice_step(bin_bits):
    with pytest.raises(ValueError, match="bin_bits"):
        bounds.nonuniform_threshold([1 / 3] * 3, 1000, bin_bits=bin_bits)
    with pytest.raises(ValueError, match="bin_bits"):
        bounds.median_log2_volume_product([1 / 3] * 3, 5, bin_bits=bin_bits)


def _exact_upper_median(volumes, n):
    """Upper median of sum of n iid log2 volumes (uniform over `volumes`), by exact enumeration (mpmath)."""
    from itertools import product
    with mpmath.workdps(40):
        logs = [mpmath.log(mpmath.mpf(v), 2) for v in volumes]
        sums = sorted(mpmath.fsum(draw) for draw in product(logs, repeat=n))
    return sums[len(sums) // 2]   # smallest value with more than half the mass at or below it


def test_nonuniform_lattice_error_only_makes_the_median_and_threshold_larger():
    rng = np.random.default_rng(7)
    for trial in range(15):
        size = int(rng.integers(2, 5))
        volumes = rng.dirichlet(np.full(size, rng.uniform(0.3, 3.0)))
        bin_bits = float(rng.choice([1 / 64, 1 / 8, 0.5]))
        exact_medians = {}
        for n in range(1, 7):
            exact_medians[n] = _exact_upper_median(volumes.tolist(), n)
            lattice = bounds.median_log2_volume_product(volumes, n, bin_bits=bin_bits)
            assert exact_medians[n] <= lattice <= exact_medians[n] + n * bin_bits + 1e-9, (trial, n)
        log2_pk = float(rng.uniform(0.5, float(-exact_medians[6]) - 0.01))
        exact_threshold = next(n for n in range(1, 7) if exact_medians[n] < -log2_pk)
        assert bounds.nonuniform_threshold(volumes, log2_pk, bin_bits=bin_bits) >= exact_threshold


# ----------------------------------------------------------------------------------------- presets
HMDO_TABLE_2 = {  # HMDO Table 2 as quoted in the presets: d, |V|, r, theta, slope
    "pythia-160m": (768, 50304, 63.62, 1.96, 90.4), "pythia-410m": (1024, 50304, 54.90, 1.87, 112.4),
    "pythia-1b": (2048, 50304, 65.68, 2.22, 287.4), "qwen2.5-0.5b": (896, 151936, 309.00, 2.23, 71.0),
    "qwen2.5-1.5b": (1536, 151936, 153.62, 2.34, 79.6), "llama-3.2-1b": (2048, 128256, 41.06, 1.73, 137.8),
    "gemma-3-270m": (640, 262144, 10.74, 1.82, 44.54),
}


def test_presets_hold_table_2_and_config_models_with_sources():
    for name, facts in HMDO_TABLE_2.items():
        preset = bounds.PRESETS[name]
        assert (preset.d, preset.vocab, preset.radius, preset.theta, preset.slope) == facts
    for name in ("pythia-1.4b", "pythia-2.8b", "llama-3.2-3b", "llama-3.1-8b", "smollm2-135m"):
        assert bounds.PRESETS[name].radius is None
    smol = bounds.PRESETS["smollm2-135m"]
    assert (smol.d, smol.vocab, smol.layers, smol.heads) == (576, 49152, 30, 9)
    for preset in bounds.PRESETS.values():
        assert preset.layers and preset.heads
        for fact in ("d", "vocab", "layers", "heads", "radius", "theta", "slope"):
            if getattr(preset, fact) is not None:
                assert preset.sources.get(fact), (preset.name, fact)
    with pytest.raises(ValueError, match="known: pythia-160m"):
        presets.get_preset("gpt-5")


def test_pythia_160m_row_by_hand():
    # C = d ln(1 + 2r/eps)/ln|V| with d = 768, r = 63.62, eps = 2^-10, |V| = 50304
    by_hand = 768 * math.log(1 + 2 * 63.62 * 1024) / math.log(50304)
    assert abs(float(bounds.tokens_per_vector(768, 50304, radius=63.62, eps="fp16")) - by_hand) < 1e-9
    assert round(by_hand, 2) == 835.52 and round(by_hand / 90.4, 3) == 9.242
