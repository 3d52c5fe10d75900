"""Every registered result against an independent high-precision evaluation, and every printed or written
bound on the safe side of it, at the extremes of the valid inputs.

The formulas below are written here from docs/theory.md, not taken from bounds: mpmath at 120 digits,
exact integers and fractions where the quantity is a count. Points are drawn with a seeded generator.
"""
import csv
import io
import itertools
import json
import math
import random
import re
import subprocess
import sys
import warnings
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import bounds
from bounds import evaluate, fast, precision, rounding, table

HIGH = 120          # digits of the independent evaluation
TOL = mpmath.mpf("1e-12")
SEED = 20261202


def hp(x):
    """An input as an exact mpf of mpmath's global context at HIGH digits (floats and ints are exact in binary)."""
    if precision.is_mpf(x):
        return mpmath.mp.make_mpf(x._mpf_)
    with mpmath.workdps(HIGH):
        if isinstance(x, str):
            with evaluate.with_precision(HIGH):          # decimal text read at HIGH digits
                return mpmath.mp.make_mpf(precision.parse_eps(x)._mpf_)
        return mpmath.mpf(Fraction(x).numerator) / mpmath.mpf(Fraction(x).denominator)


def rel_close(got, want, tol=TOL):
    with mpmath.workdps(HIGH):
        got, want = mpmath.mpf(got), mpmath.mpf(want)
        if want == 0:
            return abs(got) <= tol
        return abs(got - want) <= tol * abs(want)


# ----------------------------------------------------------------------------------------- independent formulas
def ind_log2_1p(radius, eps):
    with mpmath.workdps(HIGH):
        return mpmath.log(1 + 2 * hp(radius) / hp(eps)) / mpmath.log(2)


def ind_ball(d, m, radius, eps):
    with mpmath.workdps(HIGH):
        return d * m * ind_log2_1p(radius, eps)


def ind_log2_log2_meanfield(d, radius, eps, q):
    with mpmath.workdps(HIGH):
        x = 2 * hp(radius) / hp(eps)
        return d * mpmath.log(1 + x, 2) + mpmath.log(mpmath.log(mpmath.e + mpmath.e * x ** hp(q), 2), 2)


def ind_meanfield(d, radius, eps, q):
    with mpmath.workdps(HIGH):
        x = 2 * hp(radius) / hp(eps)
        return (1 + x) ** d * mpmath.log(mpmath.e + mpmath.e * x ** hp(q), 2)


def ind_vocab(vocab, radius, eps, q):
    with mpmath.workdps(HIGH):
        x = (2 * hp(radius) / hp(eps)) ** hp(q)
        return mpmath.log(mpmath.e, 2) + (vocab - 1) * mpmath.log(mpmath.e + mpmath.e * x / 4, 2)


def ind_net_size(vocab, radius, eps, q):
    """log2 C(K + N - 1, N - 1) = sum_{j=1}^{N-1} log2((K + j)/j), K an exact integer."""
    with mpmath.workdps(HIGH + 200):                 # enough for K's own digits (K <= 10^300 here)
        x = (2 * hp(radius) / hp(eps)) ** hp(q)
        k = int(mpmath.ceil(Fraction((vocab // 2) * ((vocab + 1) // 2), vocab).numerator * x
                            / Fraction((vocab // 2) * ((vocab + 1) // 2), vocab).denominator))
    with mpmath.workdps(HIGH):
        return mpmath.fsum(mpmath.log1p(mpmath.mpf(k) / j) for j in range(1, vocab)) / mpmath.log(2)


def ind_cone_fraction(d, theta):
    with mpmath.workdps(HIGH):
        x = mpmath.sin(hp(theta) / 2) ** 2
        return mpmath.log(mpmath.betainc((d - 1) / mpmath.mpf(2), mpmath.mpf(1) / 2, 0, x, regularized=True) / 2, 2)


def ind_cone_per_vector(d, radius, eps, theta):
    with mpmath.workdps(HIGH):
        floor = mpmath.log(1 + hp(radius) / hp(eps), 2)
        return max(d * ind_log2_1p(radius, eps) + ind_cone_fraction(d, theta), floor)


def ind_float_count(dtype, radius):
    """Values of the format in [-r, r], by walking the bit patterns with numpy (fp16 only: 2^15 patterns)."""
    assert dtype == "fp16"
    values = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    return 2 * int(np.count_nonzero(values <= radius)) - 1


def uniform_log(rng, low, high):
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def eps_text(rng):
    return rng.choice([f"2^-{rng.randint(0, 200)}", "fp16", "bf16", "fp64", repr(uniform_log(rng, 1e-30, 10.0))])


# each entry: registered key -> (draw inputs, module value, independent value)
def _points():
    rng = random.Random(SEED)
    out = {}
    out["t1_ball"] = [(lambda d, m, r, e: (bounds.log2_prompts_ball(d, m, r, e), ind_ball(d, m, r, e)))(
        rng.choice([1, 2, rng.randint(1, 10 ** 6), 2 ** 60 + 1]), rng.randint(1, 10 ** 6),
        uniform_log(rng, 1e-20, 1e20), eps_text(rng)) for _ in range(12)]
    out["t1_bits"] = [(lambda d, m, p: (bounds.log2_prompts_bits(d, m, p), hp(p) * d * m))(
        rng.randint(1, 10 ** 9), rng.randint(1, 10 ** 9), rng.choice([16, 0.5, uniform_log(rng, 1e-3, 64)]))
        for _ in range(8)]
    out["t1_grid"] = [(lambda d, m, qq: (bounds.log2_prompts_grid(d, m, qq), d * m * mpmath.log(hp(qq), 2)))(
        rng.randint(1, 10 ** 6), rng.randint(1, 1000), rng.choice([2, 3, 256, rng.randint(2, 10 ** 15)]))
        for _ in range(8)]
    out["t1_float"] = [(lambda d, m, r: (bounds.log2_prompts_float(d, m, r, "fp16"),
                                        d * m * mpmath.log(ind_float_count("fp16", r), 2)))(
        rng.randint(1, 5000), rng.randint(1, 100), rng.choice([1e-9, 1.0, 63.62, 65504.0, 1e6])) for _ in range(5)]
    vals = []
    for _ in range(10):
        d, v, r, e = rng.randint(1, 10 ** 6), rng.choice([2, 50304, rng.randint(2, 10 ** 7)]), uniform_log(rng, 1e-10, 1e10), eps_text(rng)
        vals.append((bounds.tokens_per_vector(d, v, radius=r, eps=e), ind_ball(d, 1, r, e) / mpmath.log(hp(v), 2)))
    out["tokens_per_vector"] = vals
    out["tokens_per_vector_bits"] = [(lambda d, v, p: (bounds.tokens_per_vector(d, v, bits=p),
                                                      hp(p) * d / mpmath.log(hp(v), 2)))(
        rng.randint(1, 10 ** 6), rng.randint(2, 10 ** 7), rng.choice([16, 8, 0.25])) for _ in range(6)]
    out["threshold_tokens"] = [(bounds.tokens_per_vector(768, 50304, radius=63.62, eps="fp16") * m,
                                ind_ball(768, 1, 63.62, "fp16") / mpmath.log(hp(50304), 2) * m) for m in (1, 7, 10 ** 9)]
    vals = []
    for _ in range(10):
        n, v = rng.randint(1, 10 ** 6), rng.choice([2, 3, 50304, 10 ** 7])
        with mpmath.workdps(HIGH):
            exact = n * mpmath.log(hp(v), 2)
        # log2 Npr just above and below n log2|V|: the difference cancels to a few digits of its inputs
        ell = float(exact) * (1 + rng.choice([-1, 1]) * 10.0 ** -rng.randint(3, 14))
        with mpmath.workdps(HIGH):
            want = min(mpmath.mpf(0), hp(ell) - exact)
            floor_want = exact - hp(ell)
        vals.append(("acc", bounds.log2_accessible_fraction(ell, n, v), want))
        vals.append(("ce", bounds.cross_entropy_floor_bits(ell, n, v), floor_want))
    out["log2_accessible_fraction"] = [(a, b) for kind, a, b in vals if kind == "acc"]
    out["cross_entropy_floor"] = [(a, b) for kind, a, b in vals if kind == "ce"]
    vals = []
    for _ in range(10):
        ell, k, a = uniform_log(rng, 1, 1e12), rng.randint(1, 100), rng.choice([2, 4, 26, 50304])
        with mpmath.workdps(HIGH):
            want = int(mpmath.floor(hp(ell) / (k * mpmath.log(hp(a), 2))))
        vals.append((bounds.n_max_dataset(ell, k, a), want))
    vals.append((bounds.n_max_dataset(1024, 2, 4), 256))                      # an exact power of two
    out["n_max_dataset"] = vals
    vals = []
    for _ in range(8):
        d, r, e, q = rng.choice([1, 2, 768, 10 ** 5]), uniform_log(rng, 1e-6, 1e6), eps_text(rng), rng.choice([1, 2, 2.5, 8])
        vals.append((bounds.log2_log2_meanfield(d, r, e, q), ind_log2_log2_meanfield(d, r, e, q)))
    out["log2_log2_meanfield"] = vals
    out["log2_meanfield"] = [(lambda d, r, e, q: (bounds.log2_meanfield(d, r, e, q), ind_meanfield(d, r, e, q)))(
        rng.randint(1, 300), uniform_log(rng, 1e-6, 1e6), eps_text(rng), rng.choice([1, 2, 3.5])) for _ in range(8)]
    vals, toks = [], []
    for _ in range(10):
        v, r, e, q = rng.choice([2, 3, 50304, 10 ** 7]), uniform_log(rng, 1e-8, 1e8), eps_text(rng), rng.choice([1, 2, 2.5, 8])
        want = ind_vocab(v, r, e, q)
        vals.append((bounds.log2_meanfield_vocab(v, r, e, q), want))
        toks.append((bounds.tokens_meanfield_vocab(v, r, e, q), want / mpmath.log(hp(v), 2)))
    out["log2_meanfield_vocab"] = vals
    out["tokens_meanfield_vocab"] = toks
    vals = []
    for _ in range(8):
        d, m, r, e = rng.choice([2, 3, 768, 5000]), rng.randint(1, 1000), uniform_log(rng, 1e-3, 1e3), eps_text(rng)
        theta = rng.choice([math.pi, uniform_log(rng, 1e-9, math.pi)])
        vals.append((bounds.log2_prompts_cone(d, m, r, e, theta), m * ind_cone_per_vector(d, r, e, theta)))
    out["cone"] = vals
    vals = []
    for _ in range(6):
        sides = [uniform_log(rng, 1e-12, 1e12) for _ in range(rng.randint(1, 20))]
        m, e = rng.randint(1, 1000), eps_text(rng)
        with mpmath.workdps(HIGH):
            want = m * mpmath.fsum(mpmath.log(1 + hp(s) / hp(e), 2) for s in sides)
        vals.append((bounds.log2_prompts_box(sides, m, e), want))
    out["box"] = vals
    vals = []
    for _ in range(6):
        v, log2_pk = rng.choice([2, 16, 50304]), rng.uniform(1, 200)
        with mpmath.workdps(HIGH):
            want = int(mpmath.floor(hp(log2_pk) / mpmath.log(hp(v), 2))) + 1
        vals.append((bounds.refinements.nonuniform_threshold([1 / v] * 4, log2_pk), want))
    out["nonuniform"] = vals
    return out


POINTS = _points()
def test_every_registered_result_of_these_modules_has_independent_points():
    from bounds import consequences, refinements, t1, t2
    keys = set(t1.RESULTS) | set(consequences.RESULTS) | set(t2.RESULTS) | set(refinements.RESULTS)
    assert keys <= set(POINTS), sorted(keys - set(POINTS))


@pytest.mark.parametrize("key", sorted(POINTS))
def test_agrees_with_the_independent_evaluation_to_1e_12(key):
    worst = mpmath.mpf(0)
    for got, want in POINTS[key]:
        assert rel_close(got, want), (key, got, want)
        with mpmath.workdps(HIGH):
            if want != 0:
                worst = max(worst, abs(mpmath.mpf(got) - want) / abs(want))
    assert worst <= TOL, worst


# ----------------------------------------------------------------------------------------- cancellation at the extremes
@pytest.mark.parametrize("args", [(2, 0.5, 1e-30, 2), (1000, 0.5, 2.0 ** -64, 8), (3, 0.5, "2^-300", 3),
                                  (5003, 63.62, "fp16", 1), (7, 1e6, 1e-40, 8)])
def test_net_size_keeps_every_digit_when_its_log_gammas_cancel(args):
    assert rel_close(bounds.log2_vocab_net_size(*args), ind_net_size(*args)), args


def test_net_size_at_random_valid_points():
    rng = random.Random(SEED + 1)
    for _ in range(40):
        args = (rng.choice([2, 3, rng.randint(2, 1000)]), uniform_log(rng, 1e-3, 1e3),
                2.0 ** -rng.randint(0, 64), rng.choice([1, 2, 8]))
        assert rel_close(bounds.log2_vocab_net_size(*args), ind_net_size(*args)), args
        assert bounds.log2_vocab_net_size(*args) <= bounds.log2_meanfield_vocab(*args)   # the closed form is above


def test_a_narrow_cone_cancels_and_keeps_its_digits():
    # d*log2(1 + 2r/eps) and the log2 cone fraction nearly cancel: the estimate is a few bits
    d, r, e = 5000, 1.0, 1.0
    theta = 2 * math.asin(2.0 ** (-math.log2(3.0)) * 1.01)      # sin(theta/2) just above 1/3 = 1/(1 + 2r/eps)
    assert rel_close(bounds.log2_prompts_cone(d, 1, r, e, theta), ind_cone_per_vector(d, r, e, theta), mpmath.mpf("1e-30"))


# ----------------------------------------------------------------------------------------- what is printed and written
def _cell_fraction(text):
    """A printed or written number as an exact fraction: decimal text, '2^k', or LaTeX math."""
    text = text.strip()
    if text.startswith("$") and text.endswith("$"):
        inner = text[1:-1]
        match = re.fullmatch(r"(.*) \\times 10\^\{(-?\d+)\}", inner)
        if match:
            return Fraction(match.group(1)) * Fraction(10) ** int(match.group(2))
        text = inner.replace("{", "").replace("}", "")
    if text.startswith("2^"):
        return Fraction(2) ** int(text[2:])
    return Fraction(text)


def _cells(form, out):
    """{column key: exact value} for the one row the table printed or wrote (None where unknown)."""
    keys = [key for key, _ in table.COLUMNS]
    if form == "json":
        row = json.loads(out)[0]
        return {k: None if v is None or isinstance(v, str) else
                _cell_fraction(v["value"]) if isinstance(v, dict) else Fraction(repr(v)) if isinstance(v, float) else Fraction(v)
                for k, v in row.items()}
    if form == "csv":
        row = next(csv.DictReader(io.StringIO(out)))
        result = {}
        for k, v in row.items():
            try:
                result[k] = _cell_fraction(v) if v else None
            except (ValueError, ZeroDivisionError):
                result[k] = None
        return result
    if form == "markdown":
        cells = [c.strip() for c in out.splitlines()[2].strip().strip("|").split(" | ")]
    else:
        lines = out.splitlines()
        cells = [c.strip() for c in lines[lines.index(r"\midrule") + 1].removesuffix(r" \\").split(" & ")]
    result = {}
    for key, cell in zip(keys, cells):
        try:
            result[key] = None if cell in ("-", "--") else _cell_fraction(cell)
        except (ValueError, ZeroDivisionError):
            result[key] = None
    return result


def _independent_row(d, vocab, radius, eps, theta, slope, m, q):
    with mpmath.workdps(HIGH):
        lv = mpmath.log(hp(vocab), 2)
        ball = ind_ball(d, 1, radius, eps)
        c = ball / lv
        half = hp(eps) / 2
        vocab_bits = {wq: min(ind_vocab(vocab, radius, eps, wq),
                              ind_meanfield(d, radius, half, wq) if d * ind_log2_1p(radius, half) < 4000 else mpmath.inf)
                      for wq in (1, 2)}
        row = {"log2_prompts": ball * m, "tokens_per_vector": c, "threshold_tokens": c * m,
               "log2_log2_meanfield": ind_log2_log2_meanfield(d, radius, eps, q),
               "tokens_per_vector_16bit": 16 * d / lv, "ratio": c / hp(slope)}
        for wq in (1, 2):
            row[f"log2_meanfield_vocab_q{wq}"] = vocab_bits[wq]
            row[f"tokens_meanfield_vocab_q{wq}"] = vocab_bits[wq] / lv
        row["tokens_per_vector_cone"] = ind_cone_per_vector(d, radius, eps, theta) / lv
        return row


def _draw_table_cases(count):
    rng = random.Random(SEED + 2)
    for _ in range(count):
        d = rng.choice([2, 6, 768, rng.randint(2, 5000)])
        vocab = rng.choice([2, 152, 50304, rng.randint(2, 10 ** 6)])
        radius = uniform_log(rng, 1e-3, 1e4)
        eps = rng.choice([f"2^-{rng.randint(0, 120)}", "fp16", repr(uniform_log(rng, 1e-12, 1.0))])
        theta = rng.choice([math.pi, uniform_log(rng, 1e-6, math.pi)])
        slope = uniform_log(rng, 1e-3, 1e4)
        m, q = rng.randint(1, 10 ** 6), rng.choice([1, 2, 2.5])
        dps = rng.choice(list(range(10, 21)) + [30, 50, 200, 1000])
        digits = rng.randint(1, min(20, dps))
        form = rng.choice(["markdown", "latex", "json", "csv"])
        yield d, vocab, radius, eps, theta, slope, m, q, dps, digits, form


@pytest.mark.parametrize("case", list(_draw_table_cases(48)), ids=lambda c: f"{c[-1]}-dps{c[-3]}-digits{c[-2]}")
def test_printed_and_written_bounds_are_on_the_safe_side(case, capsys):
    d, vocab, radius, eps, theta, slope, m, q, dps, digits, form = case
    argv = ["--d", str(d), "--vocab", str(vocab), "--radius", repr(radius), "--eps", eps, "--theta", repr(theta),
            "--slope", repr(slope), "--prompt-length", str(m), "--q", str(q), "--dps", str(dps),
            "--digits", str(digits), "--format", form]
    assert table.main(argv) == 0
    cells = _cells(form, capsys.readouterr().out)
    exact = _independent_row(d, vocab, radius, eps, theta, slope, m, q)
    checked = 0
    for key, want in exact.items():
        if want == mpmath.inf or table.direction(key) != "upper":
            continue
        got = cells[key]
        with mpmath.workdps(HIGH):
            assert got is not None and got >= precision._exact_fraction(want * (1 - mpmath.mpf(10) ** -80)), (key, got, want)
            # and not far above: within one unit of the printed digits (two in JSON/CSV's last place)
            assert got <= precision._exact_fraction(want * (1 + mpmath.mpf(10) ** (1 - min(digits, 15)) * 2)), (key, got, want)
        checked += 1
    assert checked >= 10


# ----------------------------------------------------------------------------------------- the reviewed cases
def test_net_size_examples():
    assert rel_close(bounds.log2_vocab_net_size(2, 0.5, 1e-30, 2), ind_net_size(2, 0.5, 1e-30, 2))
    assert bounds.log2_vocab_net_size(2, 0.5, 1e-30, 2) > 198
    assert rel_close(bounds.log2_vocab_net_size(1000, 0.5, 2 ** -64, 8), ind_net_size(1000, 0.5, 2 ** -64, 8))


def test_rounding_up_a_value_just_above_an_integer(capsys):
    # log2(1 + 2^100) = 100 + 1.1e-30: rounded up, it is not 100
    assert table.main(["--d", "1", "--vocab", "2", "--radius", "0.5", "--eps", "2^-100", "--format", "markdown"]) == 0
    cells = _cells("markdown", capsys.readouterr().out)
    assert cells["log2_prompts"] > 100 and cells["tokens_per_vector"] > 100


def test_decimal_text_of_values_just_off_a_decimal():
    rng = random.Random(SEED + 3)
    wrong = 0
    with mpmath.workdps(60):
        for _ in range(2000):
            digits = rng.randint(1, 20)
            grid = mpmath.mpf(rng.randint(10 ** (digits - 1), 10 ** digits - 1)) * mpmath.mpf(10) ** rng.randint(-30, 30)
            x = grid * (1 + rng.choice([-1, 1]) * mpmath.mpf(10) ** -rng.randint(digits + 5, 58))
            exact = precision._exact_fraction(x)
            up, down = rounding.decimal_text(x, digits, "upper"), rounding.decimal_text(x, digits, "lower")
            wrong += Fraction(up) < exact or Fraction(down) > exact
    assert wrong == 0


@pytest.mark.parametrize("dps", range(10, 18))
def test_json_at_low_dps_is_not_below_the_bound(dps, capsys):
    assert table.main(["--preset", "pythia-160m", "--dps", str(dps), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert Fraction(repr(row["log2_prompts"])) >= precision._exact_fraction(ind_ball(768, 1, 63.62, "fp16"))
    assert Fraction(repr(row["log2_meanfield_vocab_q1"])) >= precision._exact_fraction(ind_vocab(50304, 63.62, "fp16", 1))


def test_fifteen_digits_at_fifteen_dps_are_not_below_the_bound(capsys):
    assert table.main(["--preset", "pythia-1b", "--dps", "15", "--digits", "15", "--q", "2"]) == 0
    cells = _cells("markdown", capsys.readouterr().out)
    assert cells["log2_meanfield_vocab_q2"] >= precision._exact_fraction(ind_vocab(50304, 65.68, "fp16", 2))
    assert cells["log2_prompts"] >= precision._exact_fraction(ind_ball(2048, 1, 65.68, "fp16"))


def test_csv_text_read_as_a_decimal_is_not_below_the_bound(capsys):
    argv = ["--d", "6", "--vocab", "152", "--radius", "3.5900302873633465", "--eps", "2^-12", "--format", "csv"]
    assert table.main(argv) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    want = ind_vocab(152, 3.5900302873633465, "2^-12", 1)
    with mpmath.workdps(HIGH):
        assert Fraction(row["tokens_meanfield_vocab_q1"]) >= precision._exact_fraction(want / mpmath.log(152, 2))
        assert Fraction(row["log2_meanfield_vocab_q1"]) >= precision._exact_fraction(want)


def _run(*argv):
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)


def _one_line_exit_2(result):
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr


def test_a_custom_row_named_like_a_preset_is_refused(capsys):
    assert table.main(["--preset", "pythia-160m", "--name", "pythia-160m", "--d", "10", "--vocab", "3"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pythia-160m" in err


def test_a_300_character_out_name_is_one_line_exit_2(tmp_path):
    _one_line_exit_2(_run("-m", "bounds.theory_doc", "--out", str(tmp_path / ("a" * 300 + ".md"))))


def test_bad_api_input_is_a_value_error():
    for sides in (None, 5, "abc"):
        with pytest.raises(ValueError):
            bounds.log2_prompts_box(sides, 1, 1)
    with pytest.raises(ValueError):
        bounds.latex("nope")
    with pytest.raises(ValueError):
        bounds.log2_meanfield_vocab(3, 1, 1, 1, last_token="yes")


def test_a_radius_below_the_double_range_is_kept(capsys):
    assert table.main(["--d", "4", "--vocab", "10", "--radius", "1e-400", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["radius"]["value"].startswith("1.0e-400") or row["radius"]["value"].startswith("1e-400")
    with mpmath.workdps(HIGH):
        want = 4 * mpmath.log(1 + 2 * mpmath.mpf("1e-400") * 1024, 2)
    assert Fraction(row["log2_prompts"]["value"]) >= precision._exact_fraction(want * (1 - mpmath.mpf(10) ** -40))


def test_fast_path_refuses_integers_a_double_would_round_and_never_warns():
    with pytest.raises(ValueError, match="2\\^53"):
        fast.log2_prompts_ball(2 ** 60 + 1, 1, 0.5, 1.0)
    with pytest.raises(ValueError, match="2\\^53"):
        fast.log2_meanfield_vocab(np.array([2 ** 60 + 1], dtype=np.int64), 1.0, 1.0, 1)
    rng = np.random.default_rng(SEED)
    extremes = [1e-308, 1e-300, 1.0, 1e300, 1.7e308]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # a numpy warning would fail here
        for _ in range(200):
            name = rng.choice(["log2_prompts_ball", "tokens_per_vector_cone", "log2_meanfield_vocab",
                               "log2_log2_meanfield", "log2_cone_fraction", "tokens_per_vector"])
            d = int(rng.choice([2, 2 ** 53])); v = int(rng.choice([2, 2 ** 53]))
            r, e = float(rng.choice(extremes)), float(rng.choice(extremes))
            theta, q = float(rng.choice([1e-300, 1e-5, math.pi])), float(rng.choice([1, 8, 1e300]))
            args = {"log2_prompts_ball": (d, 2 ** 53, r, e), "tokens_per_vector_cone": (d, v, r, e, theta),
                    "log2_meanfield_vocab": (v, r, e, q), "log2_log2_meanfield": (d, r, e, q),
                    "log2_cone_fraction": (d, theta), "tokens_per_vector": (d, v, r, e)}[name]
            try:
                value = getattr(fast, name)(*args)
            except ValueError as error:
                assert "\n" not in str(error)
                continue
            assert np.all(np.isfinite(value)), (name, args)
    assert float(fast.log2_prompts_ball(2 ** 53, 1, 0.5, 1.0)) == 2.0 ** 53


# ----------------------------------------------------------------------------------------- the rounding constant
def _largest_remainder_tv(counts, total, grid):
    """TV between w = counts/total and its largest-remainder rounding to multiples of 1/grid (exact)."""
    scaled = [Fraction(c * grid, total) for c in counts]
    floors = [math.floor(s) for s in scaled]
    raise_count = grid - sum(floors)
    order = sorted(range(len(counts)), key=lambda v: scaled[v] - floors[v], reverse=True)
    rounded = list(floors)
    for v in order[:raise_count]:
        rounded[v] += 1
    return sum(abs(Fraction(r, grid) - Fraction(c, total)) for r, c in zip(rounded, counts)) / 2


@pytest.mark.parametrize("n_tokens", [2, 3, 4, 5])
def test_rounding_constant_by_brute_force(n_tokens):
    # every w with denominator N*K (it holds the worst cases: fractional parts all s/N): max TV is at most
    # floor(N/2)*ceil(N/2)/(N*K) (about N/(4K)), exactly that once K >= floor(N/2); floor(N/2)/K is looser
    for grid in range(1, 5):
        total = n_tokens * grid
        worst = Fraction(0)
        for cut in itertools.combinations(range(total + n_tokens - 1), n_tokens - 1):
            counts = [b - a - 1 for a, b in zip((-1,) + cut, cut + (total + n_tokens - 1,))]
            worst = max(worst, _largest_remainder_tv(counts, total, grid))
        bound = Fraction((n_tokens // 2) * ((n_tokens + 1) // 2), n_tokens * grid)
        assert worst <= bound, (n_tokens, grid, worst, bound)
        if grid >= n_tokens // 2:                      # sharp once K can hold floor(N/2) raised coordinates
            assert worst == bound, (n_tokens, grid, worst, bound)
        assert bound <= Fraction(n_tokens, 4 * grid) and bound <= Fraction(n_tokens // 2, grid)


def test_rounding_constant_holds_at_random_weights():
    rng = random.Random(SEED + 4)
    for _ in range(300):
        n_tokens, grid = rng.randint(2, 12), rng.randint(1, 50)
        total = rng.randint(1, 10 ** 6)
        cuts = sorted(rng.randint(0, total) for _ in range(n_tokens - 1))
        counts = [b - a for a, b in zip([0] + cuts, cuts + [total])]
        bound = Fraction((n_tokens // 2) * ((n_tokens + 1) // 2), n_tokens * grid)
        assert _largest_remainder_tv(counts, total, grid) <= bound


def test_the_net_grid_steps_follow_the_constant():
    assert evaluate.net_grid_steps(4, 0.5, 1, 1) == 1      # floor(2)*ceil(2)/4 * 1
    assert evaluate.net_grid_steps(5, 0.5, 0.5, 2) == math.ceil(Fraction(6, 5) * 4)


def test_last_token_adds_log2_vocab():
    plain = bounds.log2_meanfield_vocab(50304, 63.62, "fp16", 1)
    causal = bounds.log2_meanfield_vocab(50304, 63.62, "fp16", 1, last_token=True)
    with mpmath.workdps(HIGH):
        log2_vocab = mpmath.log(50304, 2)
    assert rel_close(causal - plain, log2_vocab, mpmath.mpf("1e-40"))
    assert float(fast.log2_meanfield_vocab(50304, 63.62, 2.0 ** -10, 1, last_token=True)) == pytest.approx(float(causal), rel=1e-13)


def test_machine_values_read_as_decimals_are_on_the_safe_side_both_ways():
    rng = random.Random(SEED + 5)
    with mpmath.workdps(60):
        for _ in range(3000):
            x = mpmath.mpf(rng.choice([-1, 1])) * mpmath.mpf(10) ** rng.uniform(-300, 300) * (1 + mpmath.rand())
            exact = precision._exact_fraction(x)
            up, down = rounding.machine_value(x, "upper"), rounding.machine_value(x, "lower")
            assert Fraction(repr(up)) >= exact >= Fraction(repr(down)), x
            assert abs(up - down) <= 4 * math.ulp(float(x))
        for exponent in (-2000, -1000, 700, 5000):                 # outside the double range: exact text
            x = mpmath.mpf(3) ** exponent
            up, down = rounding.machine_value(x, "upper"), rounding.machine_value(x, "lower")
            exact = precision._exact_fraction(x)
            assert _cell_fraction(up["value"]) >= exact >= _cell_fraction(down["value"])


def test_an_exact_cancellation_is_zero_and_fast():
    import time
    start = time.perf_counter()
    assert bounds.cross_entropy_floor_bits(30, 10, 8) == 0 and bounds.log2_accessible_fraction(30, 10, 8) == 0
    assert bounds.cross_entropy_floor_bits(3 * 10 ** 6, 10 ** 6, 8) == 0
    assert time.perf_counter() - start < 2.0
    # a float next to n*log2|V| is not an exact cancellation: its few remaining digits are kept
    ell = 10 ** 6 * math.log2(10)
    with mpmath.workdps(HIGH):
        want = 10 ** 6 * mpmath.log(10, 2) - hp(ell)
    assert want != 0 and rel_close(bounds.cross_entropy_floor_bits(ell, 10 ** 6, 10), want)
