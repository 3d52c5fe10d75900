"""Benchmark: the numpy fast path against the 50-digit mpmath evaluators on a grid of parameter points.

`python -m bounds.bench` takes 10^5 points of a log-spaced grid over the supported ranges
(d <= 1e5, m <= 1e6, 2^-64 <= eps <= 1, 1 <= q <= 8, 2 <= |V| <= 1e7, 1e-3 <= r <= 1e3), evaluates
T1 (log2 Npr), consequence A (C) and T2 (log2 log2 Bw) at every point both ways, and prints both rates
(points per second, all three quantities per point), their ratio and the largest relative difference.

>>> points = sample_points(3, seed=0)
>>> sorted(points)
['d', 'eps', 'm', 'q', 'radius', 'vocab']
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from . import evaluate, fast, validate
from .cli import ArgumentParser, entry_point
from .precision import MP

MAX_POINTS = 1_000_000   # the mpmath side does 2000-8000 points/s on a laptop core: 10^6 points take minutes

RANGES = {"d": (1, 1e5), "m": (1, 1e6), "radius": (1e-3, 1e3), "eps": (2.0 ** -64, 1.0), "q": (1.0, 8.0),
          "vocab": (2, 1e7)}
INTEGER_KEYS = ("d", "m", "vocab")


def sample_points(count: int, seed: int = 0) -> dict:
    """`count` parameter points from a log-spaced grid over RANGES, as float64 arrays.

    Each of the 6 axes gets k = ceil(count^(1/6)) log-spaced values (integers rounded); `count` points are
    taken evenly from the k^6 grid (first and last corners included), in an order shuffled by `seed`.
    """
    axes_count = math.ceil(count ** (1 / len(RANGES)) - 1e-9)
    axes = []
    for key, (low, high) in RANGES.items():
        values = np.geomspace(low, high, axes_count)
        axes.append(np.clip(np.rint(values), low, high) if key in INTEGER_KEYS else values)
    grid_size = axes_count ** len(RANGES)
    flat = np.unique(np.linspace(0, grid_size - 1, count).round().astype(np.int64))
    flat = np.random.default_rng(seed).permutation(flat)
    indices = np.unravel_index(flat, (axes_count,) * len(RANGES))
    return {key: axis[index] for key, axis, index in zip(RANGES, axes, indices)}


def run_fast(points: dict) -> tuple[np.ndarray, float]:
    """Fast path on every point: array (3, count) of [log2 Npr, C, log2 log2 Bw] and seconds taken.

    >>> run_fast(sample_points(4))[0].shape
    (3, 4)
    """
    start = time.perf_counter()
    out = np.stack([
        fast.log2_prompts_ball(points["d"], points["m"], points["radius"], points["eps"]),
        fast.tokens_per_vector(points["d"], points["vocab"], points["radius"], points["eps"]),
        fast.log2_log2_meanfield(points["d"], points["radius"], points["eps"], points["q"]),
    ])
    return out, time.perf_counter() - start


def run_mpmath(points: dict, dps: int, log=None) -> tuple[list, float]:
    """mpmath evaluators on every point (one call per quantity and point) and seconds taken;
    ``log`` (a function of one string) hears of each tenth done.

    >>> len(run_mpmath(sample_points(4), 50)[0])
    4
    """
    columns = [points[key].tolist() for key in ("d", "m", "radius", "eps", "q", "vocab")]
    results = []
    start = time.perf_counter()
    with evaluate.with_precision(dps):
        for index, (d, m, radius, eps, q, vocab) in enumerate(zip(*columns)):
            if log is not None and index and index % max(1, len(columns[0]) // 10) == 0:
                log(f"bounds.bench: mpmath {index}/{len(columns[0])} points, {time.perf_counter() - start:.1f}s")
            results.append((evaluate.log2_prompts_ball(d, m, radius, eps),
                            evaluate.tokens_per_vector(d, vocab, radius=radius, eps=eps),
                            evaluate.log2_log2_meanfield(d, radius, eps, q)))
    return results, time.perf_counter() - start


def max_relative_difference(fast_values: np.ndarray, exact: list) -> list[float]:
    """Largest |fast - exact|/|exact| per quantity, computed in mpmath.

    >>> points = sample_points(5)
    >>> max(max_relative_difference(run_fast(points)[0], run_mpmath(points, 50)[0])) < 1e-12
    True
    """
    worst = [MP.mpf(0)] * fast_values.shape[0]
    for index, row in enumerate(exact):
        for quantity, value in enumerate(row):
            worst[quantity] = max(worst[quantity], abs((MP.mpf(fast_values[quantity, index]) - value) / value))
    return [float(w) for w in worst]


@entry_point("python -m bounds.bench")
def main(argv=None) -> int:
    """Run the benchmark and print it; exit 1 if the paths disagree beyond 1e-12 or a value is not finite.
    (Example: `python -m bounds.bench --points 1000`; timings vary, so no doctest.)"""
    parser = ArgumentParser(
        prog="python -m bounds.bench",
        description="fast path (numpy) vs mpmath on T1, consequence A and T2 (docs/theory.md): rates, ratio "
                    "and agreement; exit 1 if they differ beyond 1e-12 relative")
    parser.add_argument("--points", type=validate.cli_type(validate.integer_at_least, "--points", 1),
                        default=100_000, help=f"grid points, 1 to {MAX_POINTS} (default 1e5)")
    parser.add_argument("--seed", type=validate.cli_type(validate.integer_at_least, "--seed", 0), default=0,
                        help="shuffles the order of the grid points (an integer >= 0, default 0)")
    parser.add_argument("--dps", type=validate.cli_type(validate.dps, "--dps"), default=evaluate.DEFAULT_DPS,
                        help=f"mpmath digits, {validate.MIN_DPS} to {validate.MAX_DPS} (default {evaluate.DEFAULT_DPS})")
    args = parser.parse_args(argv)
    if args.points > MAX_POINTS:
        parser.error(f"--points must be at most {MAX_POINTS}, got {args.points}")
    points = sample_points(args.points, args.seed)
    progress = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    progress(f"bounds.bench: fast path on {args.points} points...")
    fast_values, fast_seconds = run_fast(points)
    progress(f"bounds.bench: mpmath ({args.dps} digits) on {args.points} points, the slow part...")
    exact, mp_seconds = run_mpmath(points, args.dps, log=progress)
    worst = max_relative_difference(fast_values, exact)
    finite = bool(np.all(np.isfinite(fast_values)))
    fast_rate, mp_rate = len(points['d']) / fast_seconds, len(points['d']) / mp_seconds
    print(f"points: {len(points['d'])} of a log-spaced grid over d, m, r, eps, q, |V|; "
          "quantities per point: log2 Npr, C, log2 log2 Bw")
    print(f"fast path (numpy float64): {fast_seconds:.4f} s, {fast_rate:.4g} points/s")
    print(f"mpmath ({args.dps} digits):      {mp_seconds:.4f} s, {mp_rate:.4g} points/s")
    print(f"speed ratio fast/mpmath: {fast_rate / mp_rate:.4g}")
    print("max relative difference: " + ", ".join(
        f"{name} {value:.3g}" for name, value in zip(("log2 Npr", "C", "log2 log2 Bw"), worst)))
    print(f"all fast values finite: {finite}")
    return 0 if finite and max(worst) <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
