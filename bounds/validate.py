"""Argument checks shared by the mpmath evaluators, the numpy fast path and the command lines.

One rule per quantity, in one place: d, m, n, k (positive integers), |V| and |A| and Q (integers >= 2),
r, eps, bits (finite, > 0), theta (in (0, pi]), q (>= 1), a log2 count (finite), dps (MIN_DPS..MAX_DPS).
Scalars come back as mpf of the bounds context (bounds.precision.MP; exact: integers stay integers, an mpf
of any context keeps every bit), arrays as float64 arrays. Anything else,
including NaN, inf, bool and non-integral counts, raises ValueError with one line naming the argument.
`cli_type` turns a check into an argparse type, so a command line reports the same message and exits 2.

>>> positive_integer("d", 768)
mpf('768.0')
>>> positive_integer("m", 0.5)
Traceback (most recent call last):
...
ValueError: m must be a positive integer, got 0.5
>>> angle("theta", 4)
Traceback (most recent call last):
...
ValueError: theta must be in (0, pi], got 4
"""
from __future__ import annotations

import argparse
import math
import numbers
from fractions import Fraction

import numpy as np

from . import precision
from .precision import MP

# 10 digits is the least that keeps a 6-digit table exact after rounding; at 1000 digits the cone's
# continued fraction takes 0.25 s per row (2000: 5 s for the preset table, 5000: 99 s), so larger is refused.
MIN_DPS, MAX_DPS = 10, 1000


def _scalar(name: str, value, what: str) -> MP.mpf:
    value = precision.plain_number(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            with precision.reading_precision():
                x = MP.mpf(int(text)) if text.lstrip("+-").isdigit() else MP.mpf(text)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {what}, got {value!r}") from None
    elif precision.is_mpf(value):
        x = precision.exact_mpf(value)           # every bit, whatever context or precision it came from
    else:
        try:
            x = MP.mpf(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not MP.isfinite(x):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return x


def finite(name: str, value) -> MP.mpf:
    """A finite real number (a log2 count may be negative), as mpf.

    >>> finite("log2_prompts", -3)
    mpf('-3.0')
    """
    return _scalar(name, value, "a finite number")


def positive(name: str, value) -> MP.mpf:
    """A finite number > 0, as mpf.

    >>> positive("radius", "63.62") > 63
    True
    """
    x = _scalar(name, value, "a positive finite number")
    if x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return x


def integer_at_least(name: str, value, low: int) -> MP.mpf:
    """A finite integer >= low (integral floats such as 3.0 are accepted), as an exact mpf.

    >>> integer_at_least("vocab", 50304, 2)
    mpf('50304.0')
    """
    what = "a positive integer" if low == 1 else f"an integer >= {low}"
    if isinstance(precision.plain_number(value), numbers.Integral) and not isinstance(value, bool):
        x = MP.mpf(int(precision.plain_number(value)))   # exact, whatever the size
    else:
        x = _scalar(name, value, what)
    if x != MP.floor(x) or x < low:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return x


def positive_integer(name: str, value) -> MP.mpf:
    """A finite integer >= 1, as an exact mpf (see `integer_at_least`)."""
    return integer_at_least(name, value, 1)


def size(name: str, value) -> MP.mpf:
    """A set size |V|, |A| or Q: an integer >= 2 (log2 of it must be > 0).

    >>> size("vocab", 1)
    Traceback (most recent call last):
    ...
    ValueError: vocab must be an integer >= 2, got 1
    """
    return integer_at_least(name, value, 2)


def angle(name: str, value) -> MP.mpf:
    """A cone opening angle in radians, 0 < theta <= pi (pi itself is the half space)."""
    x = _scalar(name, value, "in (0, pi]")
    if not 0 < x <= MP.pi:
        raise ValueError(f"{name} must be in (0, pi], got {value!r}")
    return x


def order(name: str, value) -> MP.mpf:
    """A Wasserstein order q >= 1.

    >>> order("q", 2)
    mpf('2.0')
    """
    x = _scalar(name, value, "a number >= 1")
    if x < 1:
        raise ValueError(f"{name} must be a number >= 1 (Wasserstein-q), got {value!r}")
    return x


def eps(value) -> MP.mpf:
    """Precision eps: a dtype name, 'B^E', a decimal or a number; finite and > 0 (precision.parse_eps)."""
    return precision.parse_eps(value)


def dps(value, *, name: str = "dps") -> int:
    """Digits asked of the bounds context (with_precision, dps=, --dps), an integer in [MIN_DPS, MAX_DPS].

    >>> dps(50)
    50
    >>> dps(0)
    Traceback (most recent call last):
    ...
    ValueError: dps must be an integer from 10 to 1000, got 0
    """
    message = f"{name} must be an integer from {MIN_DPS} to {MAX_DPS}, got {value!r}"
    value = precision.plain_number(value)
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float, str)):
        raise ValueError(message)
    try:
        number = float(value)
    except ValueError:
        raise ValueError(message) from None
    if not math.isfinite(number) or number != int(number) or not MIN_DPS <= number <= MAX_DPS:
        raise ValueError(message)
    return int(number)


# ----------------------------------------------------------------------------------------- arrays (fast path)
def _array(name: str, value, what: str) -> np.ndarray:
    if isinstance(value, str):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be {what}, got {_first_bad(value, ~np.isfinite(x))}")
    return x


def _first_bad(value, bad) -> str:
    flat = np.asarray(value).ravel()
    return repr(flat[int(np.argmax(np.asarray(bad).ravel()))].item()) if flat.size else repr(value)


def array_positive(name: str, value) -> np.ndarray:
    """float64 array, every entry finite and > 0.

    >>> array_positive("radius", [1.0, 2.0]).tolist()
    [1.0, 2.0]
    """
    x = _array(name, value, "a positive finite number")
    if np.any(x <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {_first_bad(value, x <= 0)}")
    return x


EXACT_INTEGER_LIMIT = 2 ** 53   # float64 holds every integer up to here, and not all beyond


def array_integer_at_least(name: str, value, low: int) -> np.ndarray:
    """float64 array of integers >= low, at most 2^53 (above, float64 would round them: refused).

    >>> array_integer_at_least("d", 2 ** 60 + 1, 1)
    Traceback (most recent call last):
    ...
    ValueError: d must be an integer from 1 to 2^53 on the fast path (float64), got 1152921504606846977: use bounds.evaluate (mpmath)
    """
    what = "a positive integer" if low == 1 else f"an integer >= {low}"
    exact = np.asarray(value, dtype=object) if not isinstance(value, str) else None
    if exact is not None and exact.dtype == object:
        for item in exact.ravel():
            item = precision.plain_number(item)
            if isinstance(item, numbers.Integral) and not isinstance(item, bool) and abs(int(item)) > EXACT_INTEGER_LIMIT:
                raise ValueError(f"{name} must be an integer from {low} to 2^53 on the fast path (float64), "
                                 f"got {int(item)}: use bounds.evaluate (mpmath)")
    x = _array(name, value, what)
    if np.any(x > EXACT_INTEGER_LIMIT):
        raise ValueError(f"{name} must be an integer from {low} to 2^53 on the fast path (float64), got "
                         f"{_first_bad(value, x > EXACT_INTEGER_LIMIT)}: use bounds.evaluate (mpmath)")
    bad = (x != np.floor(x)) | (x < low)
    if np.any(bad):
        raise ValueError(f"{name} must be {what}, got {_first_bad(value, bad)}")
    return x


def array_angle(name: str, value) -> np.ndarray:
    """float64 array of angles in (0, pi]."""
    x = _array(name, value, "in (0, pi]")
    bad = (x <= 0) | (x > np.pi)
    if np.any(bad):
        raise ValueError(f"{name} must be in (0, pi], got {_first_bad(value, bad)}")
    return x


def array_order(name: str, value) -> np.ndarray:
    """float64 array of Wasserstein orders q >= 1."""
    x = _array(name, value, "a number >= 1")
    if np.any(x < 1):
        raise ValueError(f"{name} must be a number >= 1 (Wasserstein-q), got {_first_bad(value, x < 1)}")
    return x


def array_finite(name: str, value) -> np.ndarray:
    """float64 array of finite numbers."""
    return _array(name, value, "a finite number")


def array_eps(value) -> np.ndarray:
    """eps as a float64 array: strings through precision.parse_eps; it must be a normal double > 0."""
    if isinstance(value, str):
        parsed = precision.parse_eps(value)
        if not np.finfo(float).tiny <= parsed <= np.finfo(float).max:
            raise ValueError(f"eps = {value} is outside the double range: use bounds.evaluate (mpmath)")
        return np.asarray(float(parsed))
    return array_positive("eps", value)


def finite_result(name: str, value: np.ndarray) -> np.ndarray:
    """A fast-path result, refused if any entry overflowed (floats never overflow silently)."""
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} overflows float64 at these inputs: use bounds.evaluate (mpmath, log space)")
    return value


# ----------------------------------------------------------------------------------------- command lines
def cli_type(check, name: str, *extra):
    """An argparse type from a check: returns check(name, text, *extra) converted back to int/float where
    exact, and reports a ValueError as an argparse error (one line, exit 2).

    >>> cli_type(positive_integer, "--d")("12")
    12
    >>> cli_type(angle, "--theta")("1.96")
    1.96
    """
    integer = check in (positive_integer, size, integer_at_least)

    def parse(text: str):
        try:
            if integer:      # exactly as typed: '1e3' is 1000, '10000000000000000000001' keeps its last digit
                try:
                    exact = Fraction(text.strip())
                except (ValueError, ZeroDivisionError):
                    exact = None
                if exact is not None and exact.denominator == 1:
                    check(name, int(exact), *extra)
                    return int(exact)
            value = check(text, name=name) if check is dps else check(name, text, *extra)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        if not precision.is_mpf(value):
            return value
        if integer:
            return int(value)
        as_float = float(value)
        # outside the double range (1e-400, 1e400) the exact mpf is kept: a float would be 0 or inf
        return as_float if as_float != 0 and math.isfinite(as_float) else value
    parse.__name__ = name.lstrip("-").replace("-", "_")   # argparse names the type in its messages
    return parse
