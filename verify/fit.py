"""Fits for the cramming curves: a sigmoid through f(n) for n50, a line through n50(m), an adaptive n50 search.

- :func:`fit_sigmoid`: binomial maximum likelihood of ``f(n) = 1/(1 + exp(k*(n - x0)))`` (k > 0, falling in
  n; the anchors' ``1/(1 + exp(-k(n - x0)))`` with the sign made explicit). n50 = x0, the crossing of 1/2.
  Maximum likelihood on the counts, not least squares on the fractions, so a point measured on 20 targets
  weighs what 20 Bernoulli trials weigh.
- :func:`fit_linear`: least-squares line with slope, intercept and R^2 (n50 on m, docs/theory.md).
- :func:`r_squared`: the coefficient of determination of any fitted curve (a sigmoid's against the fractions).
- :func:`curvature`: how a curve in m bends (slopes over the two halves of the m range, a quadratic term),
  for n50(m) on the natural model and the greedy prefix on a real LM alike.
- :func:`find_n50`: brackets the crossing by geometric steps from a guess, then bisects on integers, so it
  trains O(log n) batches instead of the O(n) of a linear sweep (the anchors sweep n in steps of 10-100).

Example:
    >>> fit = fit_sigmoid([4, 8, 12, 16], [20, 17, 3, 0], [20, 20, 20, 20])
    >>> 9 < fit.n50 < 11
    True
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


def sigmoid(n, x0: float, k: float) -> np.ndarray:
    """The falling sigmoid ``1/(1 + exp(k*(n - x0)))`` of every fit here (exponent clipped: never overflows).

    Example:
        >>> float(sigmoid(10.0, x0=10.0, k=1.0))
        0.5
    """
    return 1.0 / (1.0 + np.exp(np.clip(k * (np.asarray(n, dtype=float) - x0), -60, 60)))


@dataclass
class SigmoidFit:
    """``f(n) = 1/(1 + exp(k*(n - x0)))``; ``n50 = x0``. ``bracketed``: data on both sides of 1/2."""

    x0: float
    k: float
    bracketed: bool
    log_likelihood: float

    @property
    def n50(self) -> float:
        return self.x0

    def __call__(self, n):
        return sigmoid(n, self.x0, self.k)

    def r2(self, n_values, fractions) -> float:
        """R^2 of the fitted curve against measured fractions (1 for a perfect fit).

        Example:
            >>> SigmoidFit(x0=2.0, k=20.0, bracketed=True, log_likelihood=0.0).r2([1, 3], [1.0, 0.0])
            1.0
        """
        return r_squared(fractions, self(n_values))

    def to_json(self) -> dict:
        return {**asdict(self), "n50": self.n50}


@dataclass
class LinearFit:
    """``y = slope*x + intercept`` with coefficient of determination ``r2``."""

    slope: float
    intercept: float
    r2: float

    def to_json(self) -> dict:
        return asdict(self)


def r_squared(y, predicted) -> float:
    """Coefficient of determination ``1 - SS_res/SS_tot`` of ``predicted`` against ``y`` (1 when y is constant).

    Example:
        >>> r_squared([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), r_squared([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
        (1.0, 0.0)
    """
    y, p = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / ss_tot if ss_tot > 0 else 1.0


def fit_sigmoid(n_values, successes, trials, k_max: float = 20.0) -> SigmoidFit:
    """Binomial maximum-likelihood sigmoid through success counts ``successes[i]`` of ``trials[i]`` at ``n_values[i]``
    (``trials`` may be one number for all points).

    ``k`` is kept in [1e-3, k_max] so that perfectly separated data (a step) give a finite fit whose x0
    lies between the last point above 1/2 and the first below.

    Example:
        >>> import numpy as np
        >>> n = np.arange(2, 30, 2); p = 1 / (1 + np.exp(0.5 * (n - 14.0)))
        >>> fit = fit_sigmoid(n, np.round(p * 1000), [1000] * len(n))
        >>> round(fit.x0, 1), round(fit.k, 2)
        (14.0, 0.5)
    """
    from scipy.optimize import minimize

    n = np.asarray(n_values, dtype=float)
    s = np.asarray(successes, dtype=float)
    t = np.broadcast_to(np.asarray(trials, dtype=float), n.shape)  # one number: the same trials everywhere
    if n.size == 0 or n.shape != s.shape or n.shape != t.shape or np.any(t <= 0) or np.any(s < 0) or np.any(s > t):
        raise ValueError("need matching non-empty n_values, successes, trials with 0 <= successes <= trials > 0")
    frac = s / t
    bracketed = bool(np.any(frac >= 0.5) and np.any(frac < 0.5))

    def nll(theta):
        x0, logk = theta
        z = math.exp(logk) * (n - x0)
        # log f = -softplus(z), log(1-f) = -softplus(-z)
        return float(np.sum(s * np.logaddexp(0, z) + (t - s) * np.logaddexp(0, -z)))

    order = np.argsort(n)
    above = n[order][frac[order] >= 0.5]
    below = n[order][frac[order] < 0.5]
    if bracketed:
        x_init = 0.5 * (above.max() + below.min())
    else:
        x_init = float(n.max() + 1) if below.size == 0 else float(n.min() - 1)
    span = max(float(n.max() - n.min()), 1.0)
    bounds = [(float(n.min()) - 2 * span, float(n.max()) + 2 * span), (math.log(1e-3), math.log(k_max))]
    best = None
    for logk0 in (math.log(0.3), math.log(2.0)):
        res = minimize(nll, x0=[x_init, logk0], method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    return SigmoidFit(x0=float(best.x[0]), k=float(math.exp(best.x[1])), bracketed=bracketed,
                      log_likelihood=-float(best.fun))


def fit_linear(x, y) -> LinearFit:
    """Least-squares line through (x, y) with R^2 (R^2 = 1 for exactly collinear points).

    Example:
        >>> f = fit_linear([1, 2, 3], [10, 20, 30.0])
        >>> round(f.slope, 6), round(f.intercept, 6), round(f.r2, 6)
        (10.0, 0.0, 1.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.size < 2 or x.shape != y.shape:
        raise ValueError("need at least two matching points for a line")
    slope, intercept = np.polyfit(x, y, 1)
    return LinearFit(slope=float(slope), intercept=float(intercept), r2=r_squared(y, slope * x + intercept))


@dataclass
class N50Search:
    """Result of :func:`find_n50`: every point measured and the sigmoid through them."""

    points: list = field(default_factory=list)  # [(n, successes, trials), ...] in measuring order
    fit: SigmoidFit | None = None
    lo: int | None = None  # largest n measured with f >= 1/2
    hi: int | None = None  # smallest n above lo measured with f < 1/2
    linear_sweep_trainings: int = 0  # batches a step-1 sweep from n_min to hi would have trained

    @property
    def trainings(self) -> int:
        return len(self.points)

    @property
    def n50(self) -> float:
        if self.fit is not None and self.fit.bracketed:
            return self.fit.n50
        if self.lo is not None and self.hi is not None:
            return 0.5 * (self.lo + self.hi)
        return float("nan")

    def to_json(self) -> dict:
        return {"points": [list(p) for p in self.points], "fit": None if self.fit is None else self.fit.to_json(),
                "lo": self.lo, "hi": self.hi, "n50": self.n50, "trainings": self.trainings,
                "linear_sweep_trainings": self.linear_sweep_trainings}


def halves(ms) -> tuple[list, list]:
    """Lower and upper half of the m range (sharing the middle m when their number is odd).

    Example:
        >>> halves([1, 2, 3]), halves([1, 2, 3, 4, 5, 6])
        (([1, 2], [2, 3]), ([1, 2, 3], [4, 5, 6]))
    """
    ms = list(ms)
    k = (len(ms) + 1) // 2
    return ms[:k], ms[-k:]


def curvature(ms, y) -> dict:
    """How a curve y(m) bends: slopes over the lower and upper halves of the m range (:func:`halves`), their
    difference and ratio, and the quadratic coefficient of a degree-2 fit (ratio 1, difference and
    quadratic 0 for exactly linear growth; ratio < 1: concave). A half of fewer than 2 points gives nan.

    Example:
        >>> round(curvature([1, 2, 3], [10.0, 18.0, 24.0])["slope_ratio"], 3)
        0.75
        >>> round(curvature([1, 2, 3, 4], [10.0, 20.0, 30.0, 40.0])["slope_ratio"], 6)
        1.0
    """
    ms, y = np.asarray(ms, dtype=float), np.asarray(y, dtype=float)
    lo, hi = halves(range(len(ms)))
    s_lo = np.polyfit(ms[lo], y[lo], 1)[0] if len(lo) >= 2 else float("nan")
    s_hi = np.polyfit(ms[hi], y[hi], 1)[0] if len(hi) >= 2 else float("nan")
    quad = np.polyfit(ms, y, 2)[0] if len(ms) >= 3 else float("nan")
    ratio = float(s_hi / s_lo) if s_lo != 0 and math.isfinite(s_lo) else float("nan")
    return {"slope_lower_half": float(s_lo), "slope_upper_half": float(s_hi), "slope_difference": float(s_hi - s_lo),
            "slope_ratio": ratio, "quadratic": float(quad)}


def find_n50(measure, n_start: int, *, n_min: int = 1, n_max: int = 10_000, growth: float = 1.6,
             tol: int = 1, threshold: float = 0.5) -> N50Search:
    """Find where ``measure(n) -> (successes, trials)`` crosses 1/2 with few calls, then fit a sigmoid.

    Bracket: step from ``n_start`` geometrically (factor ``growth``) up while f >= 1/2 or down while
    f < 1/2; then bisect on integers until ``hi - lo <= tol``. Each distinct n is measured once.
    Noise may make f non-monotone: the bracket uses the last crossing seen, the sigmoid uses all points.
    ``threshold`` replaces 1/2 in the bracketing (1.0: the largest n at which every trial succeeds, as
    dataset memorization's N_max asks); the sigmoid's x0 is still the crossing of 1/2.

    Example (a noiseless step at 37: 10 calls instead of 38):
        >>> s = find_n50(lambda n: (10 if n <= 37 else 0, 10), n_start=8)
        >>> s.lo, s.hi, s.trainings, s.linear_sweep_trainings, round(s.n50)
        (37, 38, 10, 38, 38)
    """
    if n_min < 1 or not n_min <= n_start <= n_max:
        raise ValueError(f"need 1 <= n_min <= n_start <= n_max, got {n_min}, {n_start}, {n_max}")
    search = N50Search()
    seen: dict[int, tuple[int, int]] = {}

    def f(n: int) -> float:
        if n not in seen:
            s, t = measure(n)
            seen[n] = (int(s), int(t))
            search.points.append((n, int(s), int(t)))
        s, t = seen[n]
        return s / t

    lo = hi = None
    n = n_start
    if f(n) >= threshold:
        lo = n
        while hi is None and n < n_max:
            n = min(n_max, max(n + 1, int(math.ceil(n * growth))))
            if f(n) >= threshold:
                lo = n
            else:
                hi = n
    else:
        hi = n
        while lo is None and n > n_min:
            n = max(n_min, min(n - 1, int(math.floor(n / growth))))
            if f(n) >= threshold:
                lo = n
            else:
                hi = n
    if lo is not None and hi is not None:
        while hi - lo > tol:
            mid = (lo + hi) // 2
            if f(mid) >= threshold:
                lo = mid
            else:
                hi = mid
    search.lo, search.hi = lo, hi
    search.linear_sweep_trainings = (hi if hi is not None else max(seen)) - n_min + 1
    pts = sorted(search.points)
    search.fit = fit_sigmoid([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])
    return search


def bootstrap_n50(points, *, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """n50 of the sigmoid refitted to ``resamples`` bootstrap copies of the targets: (resamples,) array.

    ``points`` are ``(n, successes, trials)``; resampling the targets of a point with replacement draws its
    successes from Binomial(trials, successes/trials), independently across points (each n has its own
    targets). Seeded, so reproducible. The spread of the result is the n50's sampling error.

    Example:
        >>> pts = [(4, 20, 20), (8, 15, 20), (12, 4, 20), (16, 0, 20)]
        >>> b = bootstrap_n50(pts, resamples=200)
        >>> b.shape, 8 < float(np.median(b)) < 12
        ((200,), True)
    """
    n = np.array([p[0] for p in points], dtype=float)
    s = np.array([p[1] for p in points], dtype=float)
    t = np.array([p[2] for p in points], dtype=float)
    rng = np.random.default_rng(seed)
    return _batched_n50(n, rng.binomial(t.astype(int), s / t, size=(resamples, len(n))).astype(float), t)


def _batched_n50(n, s, t, k_max: float = 20.0, iterations: int = 40) -> np.ndarray:
    """Maximum-likelihood x0 of ``1/(1 + exp(k*(n - x0)))`` for every row of successes ``s`` at once.

    Newton steps on the logistic regression ``logit f = a + b*z`` (z = standardized n), with k kept in
    [1e-3, k_max] as in :func:`fit_sigmoid` (separated data: x0 between the last point above 1/2 and the first
    below). Many small fits in one array pass: the bootstrap needs thousands.
    """
    mu, sd = n.mean(), max(n.std(), 1e-9)
    z = (n - mu) / sd
    a = np.zeros(len(s))
    b = np.full(len(s), -1.0)
    b_min, b_max = -k_max * sd, -1e-3 * sd  # b = -k*sd
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a[:, None] + b[:, None] * z, -60, 60)))
        r = s - t * p
        w = t * p * (1 - p) + 1e-9
        g = np.stack([r.sum(1), (r * z).sum(1)], 1)
        h00, h01, h11 = w.sum(1), (w * z).sum(1), (w * z * z).sum(1)
        det = h00 * h11 - h01 ** 2 + 1e-12
        da = (h11 * g[:, 0] - h01 * g[:, 1]) / det
        db = (-h01 * g[:, 0] + h00 * g[:, 1]) / det
        a = a + np.clip(da, -5, 5)
        b = np.clip(b + np.clip(db, -5, 5), b_min, b_max)
        # with b pinned at a bound, the intercept alone: a 1-d Newton step keeps x0 at its likelihood maximum
        pinned = (b == b_min) | (b == b_max)
        a[pinned] += np.clip(g[pinned, 0] / h00[pinned], -5, 5)
    # logit f = a + b*z = 0 at z = -a/b, i.e. n = mu - sd*a/b
    return mu - sd * a / b
