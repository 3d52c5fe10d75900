"""Printing a bound so that it stays a bound: outward (directed) rounding, and machine formats that keep
every digit.

- `decimal_text(x, digits, direction)`: `digits` significant digits, rounded up for an upper bound,
  down for a lower bound, to nearest for anything else (an input, a fact). The rounding is exact: the
  mpf is converted to a fraction and rounded with integers, so no decimal grid point is crossed by error.
- `double(x, direction)`: the nearest double in the safe direction (the least double >= x for an upper
  bound): within one unit in the last place of x, and still a bound.
- `machine_value(x, direction)`: what JSON and CSV carry: that double, or, outside the range of normal
  doubles (or for an eps such as 2^-2000), {"value": exact text, "log2": log2|x|}. Never inf or nan.
- `latex_escape(text)`: every character special to LaTeX escaped.

The value rounded is the mpf the evaluators return (or one of any mpmath context), taken exactly as it is
(every bit, never first cut to a working precision or to the printed digits). The evaluators work at least
10 digits beyond the requested ones and add digits where their terms cancel, and `bounds.table` evaluates
at least --digits + 10 digits (20 for JSON and CSV), so the value's own error sits far below any printed
digit: rounding it outward rounds the bound outward. JSON and CSV write `safe_double`: a double whose
shortest text, read as a decimal, is itself on the safe side.

>>> decimal_text(MP.mpf(2) / 3, 3, "upper"), decimal_text(MP.mpf(2) / 3, 3, "lower")
('0.667', '0.666')
>>> machine_value(MP.mpf(2) ** -2000, None)
{'value': '2^-2000', 'log2': -2000.0}
"""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath

from . import precision
from .precision import MP

DIRECTIONS = ("upper", "lower", None)
_SMALLEST_NORMAL = MP.ldexp(MP.mpf(1), -1022)
_LARGEST_DOUBLE = MP.mpf(float.fromhex("0x1.fffffffffffffp+1023"))


def _exact_mpf(value) -> MP.mpf:
    """`value` as an mpf of the bounds context without rounding it: an mpf (of any context) keeps every bit,
    a float or an integer is converted exactly."""
    value = precision.plain_number(value)
    if precision.is_mpf(value):
        return precision.exact_mpf(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return MP.make_mpf(mpmath.libmp.from_int(value))           # exact, whatever its size
    return MP.mpf(value)                                           # a float is exact in an mpf; text is read


def _check_direction(direction):
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'upper', 'lower' or None, got {direction!r}")


def _floor_log10(a: Fraction) -> int:
    """floor(log10 a) for a > 0, exactly (integer arithmetic; no string conversion of huge integers)."""
    e = math.floor((a.numerator.bit_length() - a.denominator.bit_length()) * math.log10(2))
    while a >= _pow10(e + 1):
        e += 1
    while a < _pow10(e):
        e -= 1
    return e


def _pow10(e: int) -> Fraction:
    return Fraction(10) ** e


# Below 2^4096 in magnitude (either way) the rounding is exact with Python fractions; beyond (eps = 2^-1e11
# gives log2 counts near 2^-1e11) the fractions would have billions of bits, so `_round_far` is used.
_EXACT_EXPONENTS = 4096


def _round_far(magnitude: MP.mpf, digits: int, away_from_zero: bool) -> tuple[int, int]:
    """(integer, scale) with integer * 10^scale the `digits`-digit rounding of magnitude, away from zero or
    towards it; computed with 30 guard digits and nudged by 10^-20 in the rounding direction, so that it is
    never on the wrong side (at worst one unit further out)."""
    with MP.workdps(digits + 30):
        scale = int(MP.floor(MP.log10(magnitude))) - digits + 1
        scaled = magnitude / MP.mpf(10) ** scale
        if scaled < 10 ** (digits - 1):                          # log10 landed one too high
            scale, scaled = scale - 1, scaled * 10
        elif scaled >= 10 ** digits:
            scale, scaled = scale + 1, scaled / 10
        nudge = MP.mpf(10) ** -20
        integer = int(MP.ceil(scaled + nudge)) if away_from_zero else int(MP.floor(scaled - nudge))
    return integer, scale


def _power_of_two(x: MP.mpf):
    """k if x == 2^k exactly, else None."""
    sign, man, exp, _ = x._mpf_
    return int(exp) if not sign and man == 1 else None


def decimal_text(value, digits: int, direction=None) -> str:
    """`value` with `digits` significant digits, rounded up ('upper'), down ('lower') or to nearest (None).

    >>> decimal_text(3.2157258, 6, "upper"), decimal_text(3.2157258, 6, "lower"), decimal_text(12288, 6, "upper")
    ('3.21573', '3.21572', '12288.0')
    >>> decimal_text(-0.5, 1, "upper"), decimal_text(9.99, 2, "upper")
    ('-0.5', '10.0')
    """
    _check_direction(direction)
    if isinstance(digits, bool) or int(digits) != digits or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    digits = int(digits)
    x = _exact_mpf(value)
    if not MP.isfinite(x):
        raise ValueError(f"cannot print {x} as a bound")
    with MP.workdps(digits + 20):
        if x == 0 or direction is None:
            return MP.nstr(x, digits)
        away_from_zero = (direction == "upper") == (x > 0)      # up for a positive upper bound, a negative lower one
        if abs(x._mpf_[2]) < _EXACT_EXPONENTS:
            magnitude = abs(precision._exact_fraction(x))
            scale = _floor_log10(magnitude) - digits + 1        # magnitude / 10^scale in [10^(digits-1), 10^digits)
            scaled = magnitude / _pow10(scale)
            integer = math.ceil(scaled) if away_from_zero else math.floor(scaled)
        else:
            integer, scale = _round_far(abs(x), digits, away_from_zero)
        if integer == 10 ** digits:                              # 9.99 -> 10.0: one digit more, same value
            integer, scale = integer // 10, scale + 1
        text = f"{'-' if x < 0 else ''}{integer}e{scale}"
        # the decimal is exact at digits + 20 binary-converted digits, so nstr to `digits` gives it back
        return MP.nstr(MP.mpf(text), digits)


def double(value, direction=None) -> float:
    """The double nearest to `value` on the safe side: >= it for 'upper', <= for 'lower', nearest for None.

    >>> x = MP.mpf(1) / 3
    >>> double(x, "upper") > x > double(x, "lower")
    True
    """
    _check_direction(direction)
    x = _exact_mpf(value)
    nearest = float(x)
    if direction == "upper" and MP.mpf(nearest) < x:
        return math.nextafter(nearest, math.inf)
    if direction == "lower" and MP.mpf(nearest) > x:
        return math.nextafter(nearest, -math.inf)
    return nearest


def safe_double(value, direction=None) -> float:
    """A double whose shortest text (`repr`, what JSON and CSV write), read as an exact decimal, is on the
    safe side of `value`: >= it for 'upper', <= for 'lower' (nearest for None). `double(x)`'s own text
    can fall on the wrong side (the shortest round-trip text may lie below an upper double); then the next
    double out is taken, whose text is beyond `double(x)` itself.

    >>> x = MP.mpf("318.67700863119420745")
    >>> repr(double(x, "upper")), repr(safe_double(x, "upper"))
    ('318.6770086311942', '318.67700863119427')
    """
    x = _exact_mpf(value)
    result = double(x, direction)
    if direction is None or result == 0 and x == 0:
        return result
    text = Fraction(repr(result))
    exact = precision._exact_fraction(x)
    if direction == "upper" and text < exact:
        result = math.nextafter(result, math.inf)
    elif direction == "lower" and text > exact:
        result = math.nextafter(result, -math.inf)
    return result


def in_double_range(value) -> bool:
    """True if `value` is 0 or a normal double's magnitude: a double then carries it to full precision.

    >>> in_double_range(2.0 ** -1000), in_double_range(MP.mpf(2) ** -1030), in_double_range(MP.mpf(10) ** 400)
    (True, False, False)
    """
    x = abs(_exact_mpf(value))
    return x == 0 or _SMALLEST_NORMAL <= x <= _LARGEST_DOUBLE


def exact_text(value, direction=None, digits: int | None = None) -> str:
    """Text for a value outside the double range: '2^k' for a power of two (exact), else every digit the
    evaluators computed (the bounds context's precision, MP.dps), rounded in `direction`.

    >>> exact_text(MP.mpf(2) ** 99999)
    '2^99999'
    """
    x = _exact_mpf(value)
    k = _power_of_two(x)
    if k is not None:
        return f"2^{k}"
    return decimal_text(x, digits or MP.dps, direction)


def machine_value(value, direction=None, *, digits: int | None = None):
    """JSON/CSV value: a double (directed, see `double`) in range; otherwise {'value': text, 'log2': float},
    the text exact for a power of two, else `digits` digits (default: the bounds context's precision).

    >>> x = MP.mpf("3.2157258")
    >>> machine_value(x, None), machine_value(x, "upper")
    (3.2157258, 3.2157258000000004)
    """
    x = _exact_mpf(value)
    if not MP.isfinite(x):
        raise ValueError(f"cannot write {x} as a bound (not finite)")
    if in_double_range(x) and math.isfinite(safe_double(x, direction)):
        return safe_double(x, direction)
    return {"value": exact_text(x, direction, digits), "log2": float(MP.log(abs(x), 2))}


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "\n": " ", "\r": " "}


def latex_escape(text: str) -> str:
    r"""Text safe inside a LaTeX table cell: & % $ # _ { } ~ ^ \ escaped, line breaks as spaces.

    >>> print(latex_escape("a&b%c_d$"))
    a\&b\%c\_d\$
    """
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


def latex_number(text: str) -> str:
    r"""A printed number as LaTeX math: '1.5e+20' -> '$1.5 \times 10^{20}$', '2^-10' -> '$2^{-10}$'.

    >>> latex_number("1.5e+20"), latex_number("835.52"), latex_number("2^-10")
    ('$1.5 \\times 10^{20}$', '835.52', '$2^{-10}$')
    """
    if text.startswith("2^"):
        return f"$2^{{{text[2:]}}}$"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"${mantissa} \\times 10^{{{int(exponent)}}}$"
    return text
