"""Sympy symbols (with declared assumptions) shared by every result, and the `Result` record.

sympy can declare positive / integer / nonnegative, but not "greater than 1". Where a result needs
|V| >= 2, |A| >= 2 or q >= 1 the tests substitute the shifted forms below (`vocab -> vocab_excess + 2`,
`q -> q_excess + 1`), so that the proofs use exactly those assumptions.

>>> from bounds.symbols import d, m, vocab
>>> d.is_integer and d.is_positive and vocab.is_integer
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

# Architecture and prompt.
d = sp.Symbol("d", integer=True, positive=True)            # width of the model (and of each prompt vector)
m = sp.Symbol("m", integer=True, positive=True)            # number of soft-prompt vectors
n = sp.Symbol("n", integer=True, positive=True)            # length of the generated / context sequence
k = sp.Symbol("k", integer=True, positive=True)            # output tokens per memorized input (consequence B)
vocab = sp.Symbol("V", integer=True, positive=True)        # |V|; the results need |V| >= 2
alphabet = sp.Symbol("A", integer=True, positive=True)     # |A|, target alphabet; needs |A| >= 2
vocab_excess = sp.Symbol("V_0", integer=True, nonnegative=True)     # |V| = V_0 + 2 encodes |V| >= 2
alphabet_excess = sp.Symbol("A_0", integer=True, nonnegative=True)  # |A| = A_0 + 2 encodes |A| >= 2

# Geometry and precision.
r = sp.Symbol("r", positive=True)                          # radius of the support ball (l_inf by default)
eps = sp.Symbol("epsilon", positive=True)                  # precision: side of the eps-cubes
q = sp.Symbol("q", positive=True)                          # Wasserstein order; T2 needs q >= 1
q_excess = sp.Symbol("q_0", nonnegative=True)              # q = q_0 + 1 encodes q >= 1
theta = sp.Symbol("theta", positive=True)                  # cone opening angle, 0 < theta <= pi
p = sp.Symbol("p", integer=True, positive=True)            # bits stored per prompt value
levels = sp.Symbol("Q", integer=True, positive=True)       # quantization levels per coordinate (Q >= 2 in use)
float_count = sp.Symbol("N_fmt", integer=True, positive=True)  # representable values of a float format in [-r, r]
log2_packing = sp.Symbol("ell", positive=True)             # log2 Npr(m), used where only the count matters
side = sp.IndexedBase("l", positive=True)                  # per-coordinate ranges of the box refinement
i = sp.Symbol("i", integer=True, positive=True)            # coordinate index

ASSUMPTION_SUBS_VOCAB = {vocab: vocab_excess + 2}
ASSUMPTION_SUBS_ALPHABET = {alphabet: alphabet_excess + 2}
ASSUMPTION_SUBS_Q = {q: q_excess + 1}


def log2(x):
    """sympy log base 2 (kept as log(x)/log(2) so that simplification works).

    >>> log2(8).evalf()
    3.00000000000000
    """
    return sp.log(x, 2)


_LOG2 = sp.Function("log_2")


def _with_log2(expr):
    """Rewrite each product containing 1/log(2) and a log(x) as one containing log_2(x), for printing."""
    inverse_ln2 = sp.Pow(sp.log(2), -1)

    def is_log2_product(e):
        return e.is_Mul and inverse_ln2 in e.args and any(isinstance(a, sp.log) for a in e.args)

    def rewrite(e):
        args = list(e.args)
        args.remove(inverse_ln2)
        index = next(i for i, a in enumerate(args) if isinstance(a, sp.log))
        args[index] = _LOG2(args[index].args[0])
        return sp.Mul(*args, evaluate=False)

    return expr.replace(is_log2_product, rewrite)


@dataclass(frozen=True)
class Column:
    """A column of the bound table (`python -m bounds.table`) that shows a result: its key in the table's rows
    (and JSON), its markdown header, its LaTeX header, and its place (columns are shown in increasing place).

    >>> Column("log2_prompts", "log2 Npr (bits)", r"$\\log_2 N_{pr}$", 100).place
    100
    """

    key: str
    header: str
    latex: str
    place: int


DIRECTIONS = ("upper", "lower")


@dataclass(frozen=True)
class Result:
    """One result of the theory (docs/theory.md): its sympy expression, where it comes from, what it assumes,
    the function that evaluates it, whether it bounds from above or below, and the table columns showing it.

    >>> from bounds.t1 import T1_BALL
    >>> "epsilon" in T1_BALL.latex(), T1_BALL.evaluator.__name__, T1_BALL.direction
    (True, 'log2_prompts_ball', 'upper')
    """

    name: str
    expr: sp.Expr
    source: str
    assumptions: tuple[str, ...]
    meaning: str = ""
    # The function that evaluates expr (mpmath; exported by `bounds` under its own name), and its arguments as
    # names of expr's symbols in call order ('radius=r' for a keyword). tests/test_bounds_symbolic.py evaluates
    # both at random points.
    evaluator: Callable | None = None
    arguments: tuple[str, ...] = ()
    # 'upper' or 'lower': printing rounds the value outward in this direction (bounds.rounding).
    direction: str = "upper"
    columns: tuple[Column, ...] = ()

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.name}: direction must be 'upper' or 'lower', got {self.direction!r}")
        if self.evaluator is not None and not callable(self.evaluator):
            raise ValueError(f"{self.name}: evaluator must be a function, got {self.evaluator!r}")

    def latex(self) -> str:
        """LaTeX rendering of the expression, with log(x)/log(2) written as log_2(x)."""
        return sp.latex(_with_log2(self.expr)).replace(r"\operatorname{log}_{2}", r"\log_{2}")

    def evaluate(self, **values):
        """The evaluator at values given by symbol name: T1_BALL.evaluate(d=2, m=3, r=0.5, epsilon=1) == 6.

        >>> from bounds.t1 import T1_BALL
        >>> T1_BALL.evaluate(d=2, m=3, r=0.5, epsilon=1) == 6
        True
        """
        if self.evaluator is None:
            raise ValueError(f"{self.name} has no evaluator")
        positional, keywords = [], {}
        for argument in self.arguments:
            keyword, _, symbol = argument.rpartition("=")
            if keyword:
                keywords[keyword] = values[symbol]
            else:
                positional.append(values[symbol])
        return self.evaluator(*positional, **keywords)

    def call(self) -> str:
        """The evaluator call as text, for the docs: 'bounds.log2_prompts_ball(d, m, r, epsilon)'.

        >>> from bounds.t1 import T1_BITS
        >>> T1_BITS.call()
        'bounds.log2_prompts_bits(d, m, p)'
        """
        if self.evaluator is None:
            return ""
        return f"bounds.{self.evaluator.__name__}({', '.join(self.arguments)})"

    def describe(self) -> str:
        """Plain-text summary: name, meaning, source, assumptions and the formula."""
        lines = [f"{self.name}: {self.meaning}", f"  source: {self.source}"]
        lines += [f"  assumes: {a}" for a in self.assumptions]
        lines.append(f"  formula: {self.expr}")
        return "\n".join(lines)
