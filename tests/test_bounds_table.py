"""Printing bounds so that they stay bounds: outward rounding at any --digits, every digit in JSON/CSV,
exact text outside the double range, LaTeX escaping, and the table's inputs checked before any work."""
import csv
import io
import json
from fractions import Fraction
import math

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import bounds
from bounds import PRESETS, precision, rounding, table
from bounds.presets import Preset

pytestmark = pytest.mark.usefixtures("default_dps_arithmetic")

CUSTOM = ["--d", "768", "--vocab", "50304", "--radius", "63.62", "--theta", "1.96", "--slope", "90.4"]
INVOCATIONS = [   # the documented invocations and a few more: presets, bit form, extreme eps, narrow cone
    [], ["--preset", "all", "--bits-per-value", "16", "--prompt-length", "1,3"],
    CUSTOM + ["--theta", "1e-5"], ["--d", "2", "--vocab", "2", "--radius", "1e-3", "--eps", "2^-10"],
    ["--d", "768", "--vocab", "1000", "--radius", "63.62", "--eps", "2^-52", "--prompt-length", "1000"],
    CUSTOM + ["--eps", "2^-2000"], CUSTOM + ["--eps", "2^99999"], CUSTOM + ["--eps", "1e-3", "--q", "2.5"],
]


def rows_of(args):
    parser = table.make_parser()
    parsed = parser.parse_args(args)
    return table.build_rows(table.select_models(parsed, parser), parsed.prompt_length, parsed.eps,
                            parsed.bits_per_value, parsed.q, parsed.dps)


def printed(args, capsys):
    assert table.main(args) == 0
    return capsys.readouterr().out


def from_text(text: str) -> mpmath.mpf:
    """The value of an exact text of bounds.rounding: '2^k' or a decimal."""
    with mpmath.workdps(120):
        return mpmath.mpf(2) ** int(text[2:]) if text.startswith("2^") else mpmath.mpf(text)


def numeric(value) -> bool:
    return value is not None and not isinstance(value, (bool, str, int))


# ----------------------------------------------------------------------------------------- directions
def test_every_computed_column_says_whether_it_is_an_upper_or_lower_bound():
    for args in INVOCATIONS:
        for row in rows_of(args):
            for key, value in row.items():
                if numeric(value):
                    assert table.direction(key) in ("upper", "lower", None), key
    bounds_columns = {key for key, way in table.DIRECTION.items() if way}
    assert {"log2_prompts", "tokens_per_vector", "threshold_tokens", "log2_log2_meanfield",
            "tokens_per_vector_cone"} <= bounds_columns
    with pytest.raises(KeyError, match="DIRECTION"):
        table.direction("a_new_column")


# ----------------------------------------------------------------------------------------- directed rounding
def test_examples_round_outward():
    assert rounding.decimal_text(mpmath.mpf("3.2157258056624705"), 6, "upper") == "3.21573"
    assert rounding.decimal_text(mpmath.mpf("3.2157258056624705"), 6, "lower") == "3.21572"
    assert rounding.decimal_text(mpmath.mpf("45305401.70247536"), 6, "upper") == "4.53055e+7"    # not 45305400
    assert rounding.decimal_text(mpmath.mpf("45305401.70247536"), 8, "upper") == "45305402.0"
    assert rounding.decimal_text(12288, 6, "upper") == "12288.0"           # exact values stay exact
    assert rounding.decimal_text(3 * 10 ** 500, 3, "upper") == "3.0e+500"      # an exact integer
    assert rounding.decimal_text(mpmath.mpf(10) ** 500 * 3, 3, "upper") == "3.01e+500"   # its mpf is above it


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.floats(-1e300, 1e300, allow_nan=False).filter(lambda x: x != 0), st.integers(-60, 60), st.integers(1, 40))
def test_decimal_text_rounds_up_and_down_within_one_unit_of_the_last_digit(x, shift, digits):
    with mpmath.workdps(80):
        value = mpmath.mpf(x) * mpmath.mpf(10) ** shift / 3         # not a short decimal: rounding happens
        up = mpmath.mpf(rounding.decimal_text(value, digits, "upper"))
        down = mpmath.mpf(rounding.decimal_text(value, digits, "lower"))
        assert down <= value <= up
        unit = mpmath.mpf(10) ** (mpmath.floor(mpmath.log10(abs(value))) - digits + 1)
        assert up - down <= unit * 1.000001
        nearest = mpmath.mpf(rounding.decimal_text(value, digits, None))
        assert abs(nearest - value) <= unit / 2 * 1.000001


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != 0), st.integers(-2000, 2000))
def test_double_is_a_bound_within_one_ulp(x, shift):
    with mpmath.workdps(60):
        value = mpmath.mpf(x) * mpmath.mpf(3) ** shift
        if not rounding.in_double_range(value):
            carried = rounding.machine_value(value, "upper")
            assert isinstance(carried, dict) and from_text(carried["value"]) >= value
            assert carried["log2"] == pytest.approx(float(mpmath.log(abs(value), 2)), rel=1e-15)
            return
        up, down = rounding.double(value, "upper"), rounding.double(value, "lower")
        assert mpmath.mpf(down) <= value <= mpmath.mpf(up)
        assert up == down or math.nextafter(down, math.inf) == up        # adjacent doubles: one ulp


@pytest.mark.parametrize("digits", [1, 2, 3, 6, 15, 40])
def test_markdown_bounds_are_rounded_outward_at_any_digits(digits, capsys):
    for args in (CUSTOM, CUSTOM + ["--theta", "1e-5", "--eps", "2^-52", "--prompt-length", "7"]):
        rows = rows_of(args)
        lines = printed(args + ["--digits", str(digits)], capsys).splitlines()
        cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
        for (key, _), cell in zip(table.COLUMNS, cells):
            value = rows[0][key]
            if not numeric(value) or key == "eps":
                continue
            shown = mpmath.mpf(cell)
            way = table.direction(key)
            assert (shown >= value) if way == "upper" else (shown <= value) if way == "lower" else True, (key, cell)
            with mpmath.workdps(60):
                unit = mpmath.mpf(10) ** (mpmath.floor(mpmath.log10(abs(value))) - digits + 1)
                assert abs(shown - value) <= unit, (key, cell, value)


# ----------------------------------------------------------------------------------------- JSON and CSV
@pytest.mark.parametrize("args", INVOCATIONS)
def test_json_is_valid_and_within_two_ulps_on_the_safe_side_read_as_decimal(args, capsys):
    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")
    data = json.loads(printed(args + ["--format", "json"], capsys), parse_constant=no_constants)
    rows = rows_of(args)
    assert len(data) == len(rows)
    for row, parsed in zip(rows, data):
        assert set(parsed) == set(row)
        for key, value in row.items():
            if not numeric(value):
                assert parsed[key] == value
                continue
            carried, way = parsed[key], table.direction(key)
            if isinstance(carried, dict):                             # outside the double range
                assert not rounding.in_double_range(value)
                assert carried["log2"] == pytest.approx(float(mpmath.log(abs(value), 2)), rel=1e-15)
                exact = from_text(carried["value"])
                assert (exact >= value) if way == "upper" else (exact <= value) if way == "lower" else True
                continue
            assert isinstance(carried, float) and math.isfinite(carried)
            gap = abs(mpmath.mpf(carried) - value)
            assert gap <= 2 * mpmath.mpf(math.ulp(carried)), (key, carried, value)
            assert (carried >= value) if way == "upper" else (carried <= value) if way == "lower" else True
            text = Fraction(repr(carried))                            # the text JSON holds, read as a decimal
            exact_value = precision._exact_fraction(value)
            assert (text >= exact_value) if way == "upper" else (text <= exact_value) if way == "lower" else True


def test_the_issue_json_values_keep_every_digit(capsys):
    small = json.loads(printed(["--d", "2", "--vocab", "2", "--radius", "1e-3", "--eps", "2^-10", "--format",
                                "json"], capsys))[0]
    assert small["log2_prompts"] == pytest.approx(3.21572580566247, rel=1e-15)   # was 3.21573
    big = json.loads(printed(["--d", "768", "--vocab", "1000", "--radius", "63.62", "--eps", "2^-52",
                              "--prompt-length", "1000", "--format", "json"], capsys))[0]
    assert big["log2_prompts"] == pytest.approx(45305401.70247536, rel=1e-15)    # was 45305400.0
    tiny = json.loads(printed(CUSTOM + ["--eps", "2^-2000", "--format", "json"], capsys))[0]
    assert tiny["eps"] == {"value": "2^-2000", "log2": -2000.0}                    # was 0.0
    huge = json.loads(printed(CUSTOM + ["--eps", "2^99999", "--format", "json"], capsys))[0]
    assert huge["eps"] == {"value": "2^99999", "log2": 99999.0}                    # was Infinity
    assert huge["log2_prompts"]["log2"] == pytest.approx(math.log2(768 * 2 * 63.62 / math.log(2)) - 99999, abs=1e-9)


def test_csv_carries_the_json_values_and_log2_columns_outside_the_double_range(capsys):
    args = CUSTOM + ["--eps", "2^-2000", "--prompt-length", "1,2"]
    data = json.loads(printed(args + ["--format", "json"], capsys))
    records = list(csv.DictReader(io.StringIO(printed(args + ["--format", "csv"], capsys))))
    assert len(records) == len(data) == 2
    for record, row in zip(records, data):
        assert record["eps"] == "2^-2000" and float(record["eps_log2"]) == -2000.0
        for key, value in row.items():
            if isinstance(value, float):
                assert float(record[key]) == value                    # repr: the same double
            elif value is None:
                assert record[key] == ""


# ----------------------------------------------------------------------------------------- LaTeX and notes
def test_latex_escapes_every_special_character(capsys):
    name = "a&b%c_d$e#f{g}h~i^j\\k"
    out = printed(CUSTOM + ["--name", name, "--format", "latex"], capsys)
    model_cell = next(line for line in out.splitlines() if line.startswith("a")).split(" & ")[0]
    assert model_cell == rounding.latex_escape(name)
    stripped = model_cell
    for escaped in (r"\textasciitilde{}", r"\textasciicircum{}", r"\textbackslash{}", r"\&", r"\%", r"\$", r"\#",
                    r"\_", r"\{", r"\}"):
        stripped = stripped.replace(escaped, "")
    assert not set(stripped) & set("&%$#_{}~^\\")


def test_the_note_names_eps_once(capsys):
    assert "eps = 2^-10;" in printed(CUSTOM + ["--eps", "2^-10"], capsys)       # was "eps = 2^-10 (2^-10)"
    assert "(2^-10)" not in printed(CUSTOM + ["--eps", "2^-10", "--format", "latex"], capsys)
    assert "eps = 2^-10 (fp16 convention, the default)" in printed(CUSTOM, capsys)
    assert "eps = 2^-7 (bf16)" in printed(CUSTOM + ["--eps", "bf16"], capsys)


# ----------------------------------------------------------------------------------------- inputs
@pytest.mark.parametrize("change", [
    {"lengths": [-2]}, {"lengths": [0.5]}, {"lengths": [0]}, {"lengths": [float("nan")]},
    {"models": [Preset("one-token", 768, 1, radius=63.62)]}, {"models": [Preset("x", 0, 100)]},
    {"models": [Preset("x", 768, 100, radius=float("nan"))]}, {"models": [Preset("x", 768, 100, radius=1.0, theta=4.0)]},
    {"models": [Preset("x", 1, 100, radius=1.0, theta=1.0)]}, {"q": 0.5}, {"q": float("inf")}, {"bits": -16},
    {"bits": float("nan")}, {"dps": 0}, {"dps": 10 ** 6}, {"eps_text": "2^"},
])
def test_build_rows_rejects_bad_input_with_value_error(change):
    arguments = {"models": [PRESETS["pythia-160m"]], "lengths": [1], **change}
    models, lengths = arguments.pop("models"), arguments.pop("lengths")
    with pytest.raises(ValueError):
        table.build_rows(models, lengths, **arguments)


def test_narrow_cone_in_the_table_is_a_packing_count(capsys):
    row = json.loads(printed(CUSTOM + ["--theta", "1e-5", "--format", "json"], capsys))[0]
    floor = math.log2(1 + 63.62 * 1024) / math.log2(50304)
    assert row["tokens_per_vector_cone"] >= floor > 1            # was -29.66
    assert row["tokens_per_vector_cone"] == pytest.approx(floor, rel=1e-15)


# ----------------------------------------------------------------------------------------- columns from results
def test_bound_columns_come_from_the_results_that_they_show():
    declared = {column.key: result for result in bounds.all_results().values() for column in result.columns}
    facts = {key for key, way in table.DIRECTION.items() if way is None}
    for key, _ in table.COLUMNS:
        assert (key in declared) != (key in facts | {"ratio"}), key
        if key in declared:
            assert table.direction(key) == declared[key].direction, key
            header = next(c for c in declared[key].columns if c.key == key)
            assert (key, header.header) in table.COLUMNS and table.LATEX_HEADERS[key] == header.latex
    places = [next(c.place for c in declared[key].columns if c.key == key) for key, _ in table.COLUMNS if key in declared]
    assert places == sorted(places)


def test_the_columns_read_from_the_sources_are_those_of_the_results():
    assert table.declared_columns() == table.declared_columns(bounds.all_results())


def test_a_result_with_a_column_is_a_table_column(monkeypatch):
    from bounds.symbols import Column, Result

    extra = Result(name="a lower bound", expr=sympy.Integer(1), source="a test", assumptions=(),
                   evaluator=bounds.log2_prompts_bits, arguments=("d", "m", "p"), direction="lower",
                   columns=(Column("extra_bound", "extra", r"$x$", 101),))
    registry = {**bounds.all_results(), "extra": extra}
    read = table.declared_columns
    monkeypatch.setattr(table, "declared_columns", lambda: read(registry))
    table._layout.cache_clear()
    try:
        keys = [key for key, _ in table.COLUMNS]
        assert keys.index("extra_bound") == keys.index("log2_prompts") + 1
        assert table.direction("extra_bound") == "lower" and table.LATEX_HEADERS["extra_bound"] == "$x$"
        registry["clash"] = Result(name="a clash", expr=sympy.Integer(1), source="a test", assumptions=(),
                                   columns=(Column("log2_prompts", "again", "again", 999),))
        table._layout.cache_clear()
        with pytest.raises(ValueError, match="share a key or a place"):
            table.direction("log2_prompts")
    finally:
        table._layout.cache_clear()


@pytest.mark.parametrize("fields", [{"direction": "sideways"}, {"evaluator": "log2_prompts_bits"}])
def test_a_result_states_its_direction_and_a_function(fields):
    from bounds.symbols import Result

    with pytest.raises(ValueError):
        Result(name="bad", expr=sympy.Integer(1), source="a test", assumptions=(), **fields)
