"""Precision conventions: dtype names -> eps and bits per value; parsing eps; counting float values.

Conventions (docs/theory.md, machine epsilon as [HMDO]'s tables use for fp16):
fp64 2^-52, fp32 2^-23, bf16 2^-7, fp16 2^-10; bits per value 64, 32, 16, 16.

>>> parse_eps("fp16") == parse_eps("2^-10") == parse_eps("2**-10")
True
>>> bits_per_value("bf16")
16
>>> count_representable("fp16", 1)   # all fp16 values in [-1, 1]
30721
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import mpmath
from mpmath.ctx_mp_python import _constant

DEFAULT_DPS = 50   # the evaluators' digits by default (bounds.evaluate); decimal text is read with at least these

# The one mpmath context every module of `bounds` computes in. Its precision (MP.dps) is the one source of the
# digits asked for: `bounds.with_precision(dps)` sets it for a block, an evaluator's `dps=` for one call.
# mpmath's global context (mpmath.mp) is never read or changed by `bounds`.
MP = mpmath.MPContext()
MP.dps = DEFAULT_DPS


def is_mpf(x) -> bool:
    """True for a real mpf of any mpmath context (bounds' MP, mpmath's global one, another), constants
    such as mpmath.pi included; False for plain numbers.

    >>> is_mpf(MP.mpf(1)), is_mpf(mpmath.mpf(1)), is_mpf(mpmath.pi), is_mpf(1.0), is_mpf("1")
    (True, True, True, False, False)
    """
    return hasattr(x, "_mpf_") and not isinstance(x, (int, float, complex, str, Fraction))


def exact_mpf(x):
    """An mpf of any context as an mpf of MP, every bit kept (never rounded to MP's or mpmath's precision);
    a constant (mpmath.pi) is evaluated at MP's precision.

    >>> tenth = mpmath.mpf("0.1", dps=40)   # 40 digits, mpmath's global context
    >>> with MP.workdps(20):
    ...     exact_mpf(tenth)._mpf_ == tenth._mpf_, MP.mpf(tenth)._mpf_ == tenth._mpf_
    (True, False)
    """
    if isinstance(x, _constant):
        return MP.make_mpf(x.func(MP.prec, "n"))   # to nearest, as MP rounds
    return MP.make_mpf(x._mpf_)


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754-style binary format: mantissa (fraction) bits, exponent range, storage bits."""

    name: str
    mantissa_bits: int   # explicit fraction bits; machine epsilon is 2^-mantissa_bits
    min_exponent: int    # exponent of the smallest normal number, 2^min_exponent
    max_exponent: int    # exponent of the largest binade
    storage_bits: int

    @property
    def eps_exponent(self) -> int:
        return -self.mantissa_bits


FORMATS = {
    "fp64": FloatFormat("fp64", 52, -1022, 1023, 64),
    "fp32": FloatFormat("fp32", 23, -126, 127, 32),
    "bf16": FloatFormat("bf16", 7, -126, 127, 16),
    "fp16": FloatFormat("fp16", 10, -14, 15, 16),
}
ALIASES = {"float64": "fp64", "double": "fp64", "float32": "fp32", "float": "fp32", "bfloat16": "bf16",
           "float16": "fp16", "half": "fp16"}
DEFAULT_DTYPE = "fp16"

_POWER = re.compile(r"^\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(?:\^|\*\*)\s*\(?\s*([-+]?[0-9]+)\s*\)?\s*$")
_NUMBER = re.compile(r"^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$")


def dtype_format(name: str) -> FloatFormat:
    """The FloatFormat for a dtype name (fp64/fp32/bf16/fp16 or an alias such as 'float16').

    >>> dtype_format("half").mantissa_bits
    10
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(f"unknown dtype {name!r}; known: {', '.join(FORMATS)}")
    return FORMATS[key]


def eps_of_dtype(name: str):
    """Machine epsilon of a dtype, exactly (a power of two).

    >>> eps_of_dtype("fp32") == MP.mpf(2) ** -23
    True
    """
    return MP.ldexp(MP.mpf(1), dtype_format(name).eps_exponent)


def bits_per_value(dtype_name: str) -> int:
    """Storage bits per value of a dtype: fp64 64, fp32 32, bf16 16, fp16 16.

    >>> bits_per_value("fp64")
    64
    """
    return dtype_format(dtype_name).storage_bits


def is_dtype_name(text) -> bool:
    """True when `text` names a dtype (fp16, bfloat16, ...).

    >>> is_dtype_name("bf16"), is_dtype_name("1e-3")
    (True, False)
    """
    if not isinstance(text, str):
        return False
    key = text.strip().lower()
    return ALIASES.get(key, key) in FORMATS


def parse_eps(text_or_number):
    """Precision eps from a dtype name, 'B^E' / 'B**E', a decimal literal or a number; must be > 0.

    Powers are exact; decimal strings are read with `reading_precision`; an mpf is taken exactly.

    >>> parse_eps("2^-10") == MP.mpf(1) / 1024
    True
    >>> float(parse_eps("1e-3"))
    0.001
    """
    value = _parse_positive(text_or_number, "eps")
    return value


def plain_number(value):
    """numpy scalars (np.int64, np.float32, 0-d arrays) as Python numbers; anything else unchanged.

    >>> import numpy as np
    >>> type(plain_number(np.int64(3)))
    <class 'int'>
    """
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    return value


def reading_precision():
    """The bounds context's precision (MP.dps), raised to DEFAULT_DPS digits if below: decimal text ('1e-400',
    '0.1') is read with it, so that a value typed once keeps its digits whatever precision is asked for.

    >>> with reading_precision():
    ...     MP.mpf("0.1") == MP.mpf(1) / 10
    True
    """
    return MP.workdps(max(MP.dps, DEFAULT_DPS))


def _parse_positive(text_or_number, what: str):
    text_or_number = plain_number(text_or_number)
    if isinstance(text_or_number, bool):
        raise ValueError(f"{what} must be a positive number, got {text_or_number!r}")
    if isinstance(text_or_number, str):
        text = text_or_number.strip()
        if is_dtype_name(text):
            return eps_of_dtype(text)
        power = _POWER.match(text)
        if power:
            with reading_precision():
                base, exponent = MP.mpf(power.group(1)), int(power.group(2))
                if base <= 0:
                    raise ValueError(f"{what} must be a positive number, got {text_or_number!r}")
                value = base ** exponent
        elif _NUMBER.match(text):
            with reading_precision():
                value = MP.mpf(text)
        else:
            raise ValueError(f"{what} must be a positive number, a power such as 2^-10, or a dtype "
                             f"({', '.join(FORMATS)}); got {text_or_number!r}")
    elif is_mpf(text_or_number):
        value = exact_mpf(text_or_number)
    else:
        try:
            value = MP.mpf(text_or_number)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a positive number, got {text_or_number!r}") from None
    if not MP.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {text_or_number!r}")
    return value


def _exact_fraction(x) -> Fraction:
    """Exact rational value of an int, float, Fraction or mpf (mpf is binary: man * 2^exp)."""
    x = plain_number(x)
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, float):
        return Fraction(x)
    value = exact_mpf(x) if is_mpf(x) else MP.mpf(x)   # an mpf as it is: never rounded first
    sign, man, exp, _ = value._mpf_
    frac = Fraction(int(man)) * (Fraction(2) ** exp)
    return -frac if sign else frac


def count_nonnegative(dtype_name: str, radius) -> int:
    """Number of representable values of a float format in [0, r] (zero counted once).

    Bit patterns of non-negative finite floats are ordered like their values, so the count is the index of
    the largest float <= r, plus one: 2^mb patterns below the smallest normal (zero and subnormals), 2^mb per
    full binade, and the part of r's binade up to r.

    >>> count_nonnegative("fp16", 1)   # patterns 0x0000..0x3C00
    15361
    """
    fmt = dtype_format(dtype_name)
    r = _exact_fraction(radius)
    if r < 0:
        raise ValueError("radius must be >= 0")
    per_binade = 1 << fmt.mantissa_bits
    smallest_subnormal = Fraction(2) ** (fmt.min_exponent - fmt.mantissa_bits)
    if r < Fraction(2) ** fmt.min_exponent:  # zero and the subnormals k * 2^(emin - mb), k < 2^mb
        return int(r / smallest_subnormal) + 1
    max_finite = (2 - Fraction(1, per_binade)) * Fraction(2) ** fmt.max_exponent
    if r >= max_finite:
        return per_binade * (fmt.max_exponent - fmt.min_exponent + 2)
    exponent = r.numerator.bit_length() - r.denominator.bit_length()  # floor(log2 r), corrected below
    if Fraction(2) ** exponent > r:
        exponent -= 1
    in_binade = math.floor((r / Fraction(2) ** exponent - 1) * per_binade)  # 2^E (1 + k/2^mb) <= r
    return per_binade * (1 + exponent - fmt.min_exponent) + in_binade + 1


def count_representable(dtype_name: str, radius) -> int:
    """Number of distinct values of a float format in [-r, r] (+0 and -0 counted once).

    >>> count_representable("bf16", 2.0**200)   # every finite bf16 value
    65279
    """
    return 2 * count_nonnegative(dtype_name, radius) - 1
