"""Bound table for named or custom architectures: `python -m bounds.table`.

Each row is one (model, prompt length m): T1's log2 Npr(m), consequence A's C and C*m, T2's
log2 log2 Bw, the cone-refined C, and the measured slope with the ratio bound/measured where known.
Evaluated with mpmath at 50 digits (`--dps`; at least --digits + 10, and 20 for JSON and CSV: `working_dps`).
Markdown and LaTeX print `--digits` significant digits, every bound rounded outward from the exact mpf (an
upper bound up, a lower bound down: `direction`, declared with each result); JSON and CSV carry every value at full double precision,
as a text that read as a decimal is on the safe side too, or as exact text plus log2 outside the double
range. A custom row may not take the name of another row (exit 2).
The results, their assumptions and sources: docs/theory.md.

Examples:
    python -m bounds.table                                  # every preset, m = 1, fp16 eps
    python -m bounds.table --preset pythia-160m --prompt-length 1:8 --format json
    python -m bounds.table --d 768 --vocab 50304 --radius 63.62 --eps 2^-10 --theta 1.96 --format latex
    python -m bounds.table --preset all --bits-per-value 16   # Kuratov et al.'s p-bit capacity

>>> rows = build_rows([PRESETS["pythia-160m"]], [1], eps_text="fp16")
>>> round(rows[0]["tokens_per_vector"], 2)
835.52
"""
from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import math
import sys

from . import evaluate, precision, rounding, validate
from .cli import ArgumentParser, entry_point
from .precision import MP
from .presets import PRESETS, Preset, get_preset

DEFAULT_PRECISION = precision.DEFAULT_DTYPE
DEFAULT_Q = 1

# Columns of the markdown and LaTeX tables (the JSON row holds every key). A column that shows a result is
# declared with it (`Result.columns`, bounds/symbols.py: key, header, LaTeX header, place; its direction is the
# result's); the table adds the columns that show an input or a fact of the model, rounded to nearest, and the
# ratio of a bound over a measured figure. `COLUMNS`, `LATEX_HEADERS` and `DIRECTION` are built from these.
_FACTS = (   # (key, header, LaTeX header, place)
    ("model", "model", "model", 10), ("d", "d", r"$d$", 20), ("vocab", "vocab", r"$|V|$", 30),
    ("radius", "r", r"$r$", 40), ("eps", "eps", r"$\varepsilon$", 50), ("prompt_length", "m", r"$m$", 60),
    ("context_window", "context", "context", 180), ("empirical_tokens_per_vector", "measured", "measured", 210),
    ("prefix_values_per_token", "prefix 2*L*d_kv", r"$2Ld_{kv}$", 230),                # bounds/prefix.py
)
_RATIO = ("ratio", "C/measured", r"$C$/measured", 220)     # an upper bound over an exact measured figure
_UNSHOWN_FACTS = ("layers", "heads", "theta", "q", "bits_per_value", "kv_heads", "head_dim", "radius_kv")


def declared_columns(results=None) -> list[tuple]:
    r"""(key, header, LaTeX header, place, direction) of every column a result declares.

    With `results` (a dict of `Result`, such as `bounds.all_results()`), read from them; without, read from the
    sources of the modules that declare them (`bounds.RESULT_MODULES`) with `ast`, so that printing a table does
    not import sympy: `Column(...)` literals and the `direction=` literal (default 'upper') of each `Result(...)`,
    in source order (each module builds its results in `_build_results`, in the order of its RESULTS).
    tests/test_bounds_table.py checks that both readings agree.

    >>> declared_columns()[0]
    ('log2_prompts', 'log2 Npr (bits)', '$\\log_2 N_{pr}$', 100, 'upper')
    """
    if results is not None:
        return [(column.key, column.header, column.latex, column.place, result.direction)
                for result in results.values() for column in result.columns]
    import ast
    import pathlib

    import bounds
    found = []
    for name in bounds.RESULT_MODULES:
        tree = ast.parse((pathlib.Path(__file__).parent / f"{name}.py").read_text())
        calls = [node for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Result"]
        for node in sorted(calls, key=lambda node: (node.lineno, node.col_offset)):   # in source order
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            way = ast.literal_eval(keywords["direction"]) if "direction" in keywords else "upper"
            for column in getattr(keywords.get("columns"), "elts", ()):
                found.append((*(ast.literal_eval(arg) for arg in column.args), way))
    return found


@functools.cache
def _layout() -> tuple[list, dict, dict]:
    """(COLUMNS, LATEX_HEADERS, DIRECTION) from the results' columns and the table's facts."""
    shown = [(*fact, None) for fact in _FACTS] + [(*_RATIO, "upper")] + declared_columns()
    keys = [entry[0] for entry in shown]
    places = [entry[3] for entry in shown]
    if len(set(keys)) != len(keys) or len(set(places)) != len(places):
        raise ValueError(f"two table columns share a key or a place: {sorted(zip(places, keys))}")
    shown.sort(key=lambda entry: entry[3])
    columns = [(key, header) for key, header, _, _, _ in shown]
    latex_headers = {key: latex for key, _, latex, _, _ in shown}
    directions = {key: way for key, _, _, _, way in shown}
    directions.update(dict.fromkeys(_UNSHOWN_FACTS))
    return columns, latex_headers, directions


def __getattr__(name):
    """COLUMNS ((key, header) in table order), LATEX_HEADERS and DIRECTION (key -> 'upper', 'lower' or None),
    built on first use from the results' declarations (`declared_columns`) and the table's facts.

    >>> from bounds import table
    >>> table.COLUMNS[6], table.LATEX_HEADERS["tokens_per_vector"], table.DIRECTION["log2_prompts"]
    (('log2_prompts', 'log2 Npr (bits)'), '$C$', 'upper')
    """
    names = ("COLUMNS", "LATEX_HEADERS", "DIRECTION")
    if name in names:
        return _layout()[names.index(name)]
    raise AttributeError(f"module 'bounds.table' has no attribute {name!r}")


# ----------------------------------------------------------------------------------------- argument types
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1.

    >>> positive_int("12")
    12
    """
    return validate.cli_type(validate.positive_integer, "value")(text)


def vocab_size(text: str) -> int:
    """argparse type: an integer >= 2.

    >>> vocab_size("50304")
    50304
    """
    return validate.cli_type(validate.size, "vocab")(text)


def positive_number(text: str) -> float:
    """argparse type: a finite number > 0.

    >>> positive_number("63.62")
    63.62
    """
    return validate.cli_type(validate.positive, "value")(text)


def eps_text(text: str) -> str:
    """argparse type: anything `precision.parse_eps` accepts (fp16, 2^-10, 2**-10, 1e-3), kept as text.

    >>> eps_text("2**-10")
    '2**-10'
    """
    try:
        precision.parse_eps(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def bits_value(text: str) -> float:
    """argparse type: bits per stored value, a positive number or a dtype name (fp16 -> 16).

    >>> bits_value("bf16"), bits_value("8"), bits_value("2.5")
    (16, 8, 2.5)
    """
    if precision.is_dtype_name(text):
        return precision.bits_per_value(text)
    value = positive_number(text)
    return int(value) if value == int(value) else value


def angle(text: str) -> float:
    """argparse type: a cone opening angle in radians, 0 < theta <= pi.

    >>> angle("1.96")
    1.96
    """
    return validate.cli_type(validate.angle, "theta")(text)


def wasserstein_order(text: str) -> float:
    """argparse type: q >= 1.

    >>> wasserstein_order("2")
    2.0
    """
    return validate.cli_type(validate.order, "q")(text)


MAX_PROMPT_LENGTHS = 10_000   # values of --prompt-length; more is refused before any work
MAX_ROWS = 100_000            # rows of one table (models x prompt lengths)


def prompt_lengths(text: str) -> list[int]:
    """argparse type: prompt lengths as a list and/or inclusive ranges: '1,2,4', '1:8', '1:16:3'.
    At most MAX_PROMPT_LENGTHS values, counted before a range is expanded.

    >>> prompt_lengths("1:4,8")
    [1, 2, 3, 4, 8]
    """
    ranges = []
    for part in text.split(","):
        try:
            pieces = [int(piece) for piece in part.strip().split(":")]
            if len(pieces) == 1:
                pieces *= 2
            if len(pieces) not in (2, 3) or pieces[0] < 1 or pieces[1] < pieces[0] or (len(pieces) == 3 and pieces[2] < 1):
                raise ValueError
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"prompt lengths must be positive integers or ranges a:b[:step] with 1 <= a <= b, got {text!r}"
            ) from None
        ranges.append(range(pieces[0], pieces[1] + 1, pieces[2] if len(pieces) == 3 else 1))
    count = sum(len(lengths) for lengths in ranges)          # len(range) is computed, not enumerated
    if count > MAX_PROMPT_LENGTHS:
        raise argparse.ArgumentTypeError(f"{text!r} gives {count} prompt lengths; at most {MAX_PROMPT_LENGTHS} are printed")
    return list(dict.fromkeys(value for lengths in ranges for value in lengths))


# ----------------------------------------------------------------------------------------- rows
def _eps_label(eps_given: str | None) -> str:
    if eps_given is None:
        return DEFAULT_PRECISION
    return precision.dtype_format(eps_given).name if precision.is_dtype_name(eps_given) else eps_given


def _checked(model: Preset) -> Preset:
    """The model, its facts checked (the rules of bounds/validate.py) before any work."""
    def optional(check, name, value):
        return None if value is None else check(f"{model.name}: {name}", value)
    validate.positive_integer(f"{model.name}: d", model.d)
    validate.size(f"{model.name}: vocab", model.vocab)
    optional(validate.positive, "radius", model.radius)
    optional(validate.angle, "theta", model.theta)
    optional(validate.positive, "slope", model.slope)
    if model.theta is not None and model.d < 2:
        raise ValueError(f"{model.name}: the cone refinement (theta) needs d >= 2")
    return model


def build_rows(models: list[Preset], lengths: list[int], eps_text: str | None = None, bits: float | None = None,
               q: float = DEFAULT_Q, dps: int = evaluate.DEFAULT_DPS, radius_kv: float | None = None) -> list[dict]:
    """Rows of mpmath values (mpf) and facts, one per (model, prompt length); None where a fact is missing.

    >>> rows = build_rows([PRESETS["smollm2-135m"]], [2], bits=16)
    >>> float(rows[0]["log2_prompts"]) == 16 * 576 * 2
    True
    """
    lengths = [int(validate.positive_integer("prompt length m", m)) for m in lengths]
    validate.order("q", q)
    if bits is not None:
        validate.positive("bits", bits)
    models = [_checked(model) for model in models]
    rows = []
    if not (isinstance(dps, int) and validate.MIN_DPS <= dps <= validate.MAX_DPS + 10):
        validate.dps(dps)                  # --dps, or working_dps(--dps, ...), which may add 10 digits
    with evaluate._precision_block(dps):
        eps = precision.parse_eps(eps_text if eps_text is not None else DEFAULT_PRECISION)
        label = _eps_label(eps_text)
        for model in models:
            has_radius = model.radius is not None
            log2_vocab = MP.log(model.vocab, 2)
            if bits is not None:
                per_vector = MP.mpf(bits) * model.d                           # p-bit form
            elif has_radius:
                per_vector = evaluate.log2_prompts_ball(model.d, 1, model.radius, eps)
            else:
                per_vector = None
            meanfield = evaluate.log2_log2_meanfield(model.d, model.radius, eps, q) if has_radius else None
            # T2 with a finite vocabulary at q = 1 and 2, never above the support-net form at the same covering
            # radius: the support net plus the weight grid reaches (1 + 2^(-1/q)) eps, so it is taken at eps/2
            vocab_bits = {wq: min(evaluate.log2_meanfield_vocab(model.vocab, model.radius, eps, wq),
                                  evaluate.log2_meanfield(model.d, model.radius, eps / 2, wq)) if has_radius else None
                          for wq in (1, 2)}
            cone = (evaluate.tokens_per_vector_cone(model.d, model.vocab, model.radius, eps, model.theta)
                    if has_radius and model.theta is not None else None)
            for m in lengths:
                c = per_vector / log2_vocab if per_vector is not None else None
                rows.append({
                    "model": model.name,
                    "d": model.d,
                    "vocab": model.vocab,
                    "layers": model.layers,
                    "heads": model.heads,
                    "radius": model.radius,
                    "theta": model.theta,
                    "eps": eps,
                    "precision": label,
                    "form": "bits" if bits is not None else "ball",
                    "bits_per_value": bits,
                    "q": q,
                    "prompt_length": m,
                    "log2_prompts": per_vector * m if per_vector is not None else None,
                    "tokens_per_vector": c,
                    "threshold_tokens": c * m if c is not None else None,
                    "log2_log2_meanfield": meanfield,
                    "tokens_per_vector_cone": cone,
                    **{f"log2_meanfield_vocab_q{wq}": bits_v for wq, bits_v in vocab_bits.items()},
                    **{f"tokens_meanfield_vocab_q{wq}": bits_v / log2_vocab if bits_v is not None else None
                       for wq, bits_v in vocab_bits.items()},
                    "context_window": model.context_window,
                    "tokens_per_vector_16bit": 16 * model.d / log2_vocab,
                    "empirical_tokens_per_vector": model.slope,
                    "ratio": c / model.slope if c is not None and model.slope is not None else None,
                    **_prefix_columns(model, m, eps, bits, radius_kv, log2_vocab),
                })
    return rows


def _prefix_columns(model: Preset, m: int, eps, bits, radius_kv, log2_vocab) -> dict:
    """Prefix tuning (bounds/prefix.py) where L, kv_heads and head_dim are known: values per virtual token
    2*L*d_kv, and with --radius-kv (ball form) or --bits-per-value (p-bit form) its count and C."""
    from . import prefix
    known = None not in (model.layers, model.kv_heads, model.head_dim)
    values = 2 * model.layers * model.kv_heads * model.head_dim if known else None
    if not known or (bits is None and radius_kv is None):
        per_token = None
    elif bits is not None:
        per_token = MP.mpf(bits) * values
    else:
        per_token = prefix.log2_prefixes_ball(model.layers, 1, model.kv_heads * model.head_dim, radius_kv, eps)
    return {"kv_heads": model.kv_heads, "head_dim": model.head_dim, "radius_kv": radius_kv,
            "prefix_values_per_token": values, "log2_prefixes": per_token * m if per_token is not None else None,
            "prefix_tokens_per_vector": per_token / log2_vocab if per_token is not None else None}


# ----------------------------------------------------------------------------------------- formatting
def direction(key: str):
    """'upper', 'lower' or None (an input or fact) for a table column: printing rounds an upper bound up, a
    lower bound down, anything else to nearest. A column that computes a float must be declared (printing it
    otherwise raises, and tests/test_bounds_table.py checks every key).

    >>> direction("tokens_per_vector"), direction("radius")
    ('upper', None)
    """
    directions = _layout()[2]
    if key not in directions:
        raise KeyError(f"table column {key!r} does not say whether it is an upper bound, a lower bound or "
                       "an input: declare it among its Result's columns (bounds.symbols.Column), or as a fact "
                       "of bounds.table; see bounds.table.DIRECTION")
    return directions[key]


def _is_text_or_exact(value) -> bool:
    return value is None or isinstance(value, (bool, str, int))


def _machine(key: str, value):
    """A JSON value: None, text and integers as they are; every other number at full double precision,
    rounded outward for a bound, or {'value': exact text, 'log2': ...} outside the double range."""
    if _is_text_or_exact(value):
        return value
    return rounding.machine_value(value, direction(key))


def _text(key: str, value, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, (str, int)):
        return str(value)
    if key == "eps":
        exponent = MP.log(value, 2)
        if exponent == MP.nint(exponent):
            return f"2^{int(MP.nint(exponent))}"
    return rounding.decimal_text(value, digits, direction(key))


def format_json(rows: list[dict], digits: int) -> str:
    """JSON array of row objects (every key of `build_rows`); `digits` is not used: every digit of a double
    is kept. Always valid JSON (no NaN or Infinity).

    >>> json.loads(format_json(build_rows([PRESETS["pythia-1b"]], [1]), 6))[0]["d"]
    2048
    """
    return json.dumps([{key: _machine(key, value) for key, value in row.items()} for row in rows], indent=2,
                      allow_nan=False)


def format_csv(rows: list[dict], digits: int) -> str:
    """CSV with every key of the rows as header (empty cells where a value is unknown), values as in JSON:
    full double precision (repr), and for a column holding a value outside the double range the exact
    text in its cell and log2 of every value in an extra column KEY_log2. `digits` is not used.

    >>> format_csv(build_rows([PRESETS["pythia-1b"]], [1]), 4).splitlines()[0].startswith("model,d,vocab")
    True
    """
    keys = list(rows[0].keys()) if rows else [key for key, _ in _layout()[0]]
    cells = [{key: _machine(key, value) for key, value in row.items()} for row in rows]
    wide = {key for row in cells for key, value in row.items() if isinstance(value, dict)}
    header = [name for key in keys for name in ((key, f"{key}_log2") if key in wide else (key,))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row, original in zip(cells, rows):
        line = []
        for key in keys:
            line.append(_csv_cell(row[key]))
            if key in wide:
                line.append(_csv_log2(row[key], original[key]))
        writer.writerow(line)
    return out.getvalue().rstrip("\n")


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return value["value"]
    return repr(value) if isinstance(value, float) else str(value)


def _csv_log2(value, original) -> str:
    if isinstance(value, dict):
        return repr(value["log2"])
    if value is None or value == 0:
        return ""
    return repr(float(MP.log(abs(MP.mpf(original)), 2)))


def format_markdown(rows: list[dict], digits: int) -> str:
    """Markdown table of the main columns, with a note on the precision convention.

    >>> format_markdown(build_rows([PRESETS["pythia-1b"]], [1]), 4).splitlines()[0].startswith("| model |")
    True
    """
    columns = _layout()[0]
    header = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---" if key == "model" else "---:" for key, _ in columns) + "|"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_one_line(_text(key, row[key], digits)).replace("|", "\\|")
                                       for key, _ in columns) + " |")
    lines += ["", _one_line(_note(rows))]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _note(rows: list[dict]) -> str:
    if not rows:
        return ""
    row = rows[0]
    form = (f"p-bit form, p = {MP.nstr(row['bits_per_value'], 6)} bits per value (eps is used only by T2 "
            f"and the ball-form C cone)" if row["form"] == "bits" else "ball form d*m*log2(1 + 2r/eps)")
    eps_name = (f" ({row['precision']}{' convention, the default' if row['precision'] == DEFAULT_PRECISION else ''})"
                if precision.is_dtype_name(row["precision"]) else "")     # a dtype names eps; a number is eps
    return (f"T1 {form}; eps = {_text('eps', row['eps'], 6)}{eps_name}; "
            f"T2 with Wasserstein q = {MP.nstr(row['q'], 6)}; Bw_V = T2 with a finite vocabulary "
            f"(docs/t2_finite_vocabulary.md) at q = 1 and 2, in bits and in tokens' worth (bits/log2|V|); "
            f"context = max_position_embeddings of the model's config; r = l_inf radius of last-layer states "
            f"(HMDO Table 2), '-' where unknown; C 16-bit = 16*d/log2|V| (Kuratov et al.'s capacity); "
            f"measured = cramming slope n50 per prompt vector; C/measured = bound over measured; prefix columns: "
            f"prefix tuning's 2*L*d_kv values per virtual token (d_kv = kv_heads*head_dim), its count at --radius-kv "
            f"or --bits-per-value and C prefix in tokens per virtual token (bounds/prefix.py).")


def format_latex(rows: list[dict], digits: int) -> str:
    r"""booktabs LaTeX table of the main columns.

    >>> "\\toprule" in format_latex(build_rows([PRESETS["pythia-1b"]], [1]), 4)
    True
    """
    def cell(key, value):
        text = _text(key, value, digits)
        if text == "-":
            return "--"
        if isinstance(value, str):
            return rounding.latex_escape(text)
        return rounding.latex_number(text)

    columns, latex_headers, _ = _layout()
    spec = "l" + "r" * (len(columns) - 1)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(latex_headers[key] for key, _ in columns) + r" \\", r"\midrule"]
    for row in rows:
        lines.append(" & ".join(cell(key, row[key]) for key, _ in columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", "% " + _one_line(_note(rows))]
    return "\n".join(lines)


FORMATTERS = {"markdown": format_markdown, "csv": format_csv, "json": format_json, "latex": format_latex}


# ----------------------------------------------------------------------------------------- CLI
def make_parser() -> ArgumentParser:
    """The argument parser of `python -m bounds.table`.

    >>> make_parser().parse_args(["--preset", "pythia-1b", "--prompt-length", "1:3"]).prompt_length
    [1, 2, 3]
    """
    parser = ArgumentParser(
        prog="python -m bounds.table",
        description="Bounds of docs/theory.md (T1, consequence A, T2, cone) for named or custom architectures. "
                    f"Default: every preset, prompt length 1, eps = 2^-10 (fp16 convention), q = {DEFAULT_Q}. "
                    "Printed bounds are rounded outward (upper bounds up); JSON and CSV keep every digit. "
                    "Statements, assumptions and sources: docs/theory.md.",
    )
    parser.add_argument("--preset", action="append", metavar="NAME",
                        help=f"architecture (repeatable) or 'all'; known: {', '.join(PRESETS)}")
    parser.add_argument("--d", type=positive_int, help="custom architecture: width")
    parser.add_argument("--vocab", type=vocab_size, help="custom architecture: vocabulary size (>= 2)")
    parser.add_argument("--radius", type=positive_number, help="custom architecture: support radius r (l_inf)")
    parser.add_argument("--theta", type=angle, help="custom architecture: cone opening angle in rad, (0, pi]")
    parser.add_argument("--slope", type=positive_number,
                        help="custom architecture: measured tokens per prompt vector (adds ratio)")
    parser.add_argument("--name", default="custom", help="custom architecture: its row label")
    parser.add_argument("--eps", type=eps_text,
                        help="precision: fp64/fp32/bf16/fp16, 2^-10, 2**-10 or 1e-3 (default fp16 = 2^-10)")
    parser.add_argument("--bits-per-value", type=bits_value, metavar="P",
                        help="use T1's p-bit form: log2 Npr = P*d*m, C = P*d/log2|V| (P a number or dtype)")
    parser.add_argument("--radius-kv", type=positive_number,
                        help="radius r_kv of prefix keys/values: adds prefix tuning's ball-form count (bounds/prefix.py)")
    parser.add_argument("--q", type=wasserstein_order, default=DEFAULT_Q, help="Wasserstein order for T2 (>= 1)")
    parser.add_argument("--prompt-length", type=prompt_lengths, default=[1], metavar="LIST",
                        help="prompt lengths m: '1,2,4', '1:8' (inclusive) or '1:16:3' (default 1)")
    parser.add_argument("--format", choices=sorted(FORMATTERS), default="markdown")
    parser.add_argument("--digits", type=positive_int, default=6,
                        help="significant digits in markdown and LaTeX, at most --dps (default 6); bounds are "
                             "rounded outward, JSON and CSV keep every digit")
    parser.add_argument("--dps", type=validate.cli_type(validate.dps, "--dps"), default=evaluate.DEFAULT_DPS,
                        help=f"mpmath working digits, {validate.MIN_DPS} to {validate.MAX_DPS} "
                             f"(default {evaluate.DEFAULT_DPS})")
    return parser


def select_models(args, parser) -> list[Preset]:
    """Presets named by --preset plus the custom architecture of --d/--vocab/... (all presets if neither).

    >>> parser = make_parser()
    >>> [p.name for p in select_models(parser.parse_args(["--d", "64", "--vocab", "100"]), parser)]
    ['custom']
    """
    custom_given = args.d is not None or args.vocab is not None
    if not custom_given:
        for option in ("radius", "theta", "slope"):
            if getattr(args, option) is not None:
                parser.error(f"--{option} describes a custom architecture: give --d and --vocab too")
    models: list[Preset] = []
    for name in args.preset or ([] if custom_given else ["all"]):
        if name.strip().lower() == "all":
            models.extend(PRESETS.values())
            continue
        try:
            models.append(get_preset(name))
        except ValueError as error:
            parser.error(str(error))
    if custom_given:
        if args.d is None or args.vocab is None:
            parser.error("a custom architecture needs both --d and --vocab")
        if args.d < 2 and args.theta is not None:
            parser.error("the cone refinement (--theta) needs d >= 2")
        models.append(Preset(args.name, args.d, args.vocab, None, None, args.radius, args.theta, args.slope,
                             {"d": "command line", "vocab": "command line"}))
    unique: dict[str, Preset] = {}
    for model in models:
        if model.name in unique and unique[model.name] != model:
            parser.error(f"two rows would be named {model.name!r}: give the custom architecture another --name")
        unique[model.name] = model
    return list(unique.values())  # a preset named twice gives one row


MACHINE_MIN_DPS = 20   # JSON and CSV carry doubles (17 digits): evaluated with at least this many digits


def working_dps(dps: int, digits: int, form: str) -> int:
    """Digits the table is evaluated with: at least --dps, at least --digits + 10 (the printed digits are
    then decided by digits far below them), and at least MACHINE_MIN_DPS for JSON and CSV. The evaluators
    add their own guard digits (bounds.evaluate.GUARD_DIGITS) and raise precision where terms cancel.

    >>> working_dps(10, 6, "json"), working_dps(15, 15, "markdown"), working_dps(80, 6, "csv")
    (20, 25, 80)
    """
    return max(dps, digits + 10, MACHINE_MIN_DPS if form in ("json", "csv") else 0)


@entry_point("python -m bounds.table")
def main(argv=None) -> int:
    """Print the table; bad input exits 2 with one line on stderr.

    >>> main(["--preset", "pythia-1b", "--format", "csv"])  # doctest: +ELLIPSIS
    model,d,vocab,...
    pythia-1b,2048,50304,16,8,65.68,2.22,0.0009765625,fp16,ball,,1,1,34892.5807560959,2234.070912838591,...
    0
    """
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.digits > args.dps:
        parser.error(f"--digits ({args.digits}) must be at most --dps ({args.dps})")
    models = select_models(args, parser)
    if len(models) * len(args.prompt_length) > MAX_ROWS:
        parser.error(f"{len(models)} models x {len(args.prompt_length)} prompt lengths: at most {MAX_ROWS} rows")
    work_dps = working_dps(args.dps, args.digits, args.format)
    try:
        rows = build_rows(models, args.prompt_length, args.eps, args.bits_per_value, args.q, work_dps, args.radius_kv)
    except ValueError as error:
        parser.error(str(error))
    with evaluate.with_precision(args.dps):     # out-of-range values are written with --dps digits
        text = FORMATTERS[args.format](rows, args.digits)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
