"""verify.fit: sigmoid and line fits, the adaptive n50 search (fast, seeded)."""
import math

import numpy as np

from verify.fit import find_n50, fit_linear, fit_sigmoid


def test_sigmoid_fit_recovers_parameters_from_binomial_counts():
    rng = np.random.default_rng(0)
    x0, k = 23.5, 0.4
    n = np.arange(5, 45, 3)
    trials = np.full(n.shape, 400)
    successes = rng.binomial(trials, 1 / (1 + np.exp(k * (n - x0))))
    fit = fit_sigmoid(n, successes, trials)
    assert fit.bracketed
    assert abs(fit.n50 - x0) < 0.5 and abs(fit.k - k) < 0.08


def test_sigmoid_fit_of_a_step_lies_between_the_last_success_and_first_failure():
    fit = fit_sigmoid([5, 10, 11, 20], [20, 20, 0, 0], [20, 20, 20, 20])
    assert 10 < fit.n50 < 11


def test_linear_fit_recovers_slope_and_r2():
    m = np.arange(1, 6)
    fit = fit_linear(m, 12.5 * m + 3.0)
    assert math.isclose(fit.slope, 12.5) and math.isclose(fit.intercept, 3.0, abs_tol=1e-9)
    assert math.isclose(fit.r2, 1.0)
    noisy = fit_linear(m, 12.5 * m + np.array([0.5, -0.5, 0.3, -0.2, 0.1]))
    assert 0.95 < noisy.r2 < 1.0
    assert fit_linear([1, 2, 3], [1, 4, 9]).r2 < 1.0


def test_find_n50_uses_fewer_trainings_than_a_linear_sweep():
    rng = np.random.default_rng(1)

    def measure(n):  # a noisy sigmoid crossing at 57
        return int(rng.binomial(32, 1 / (1 + np.exp(0.3 * (n - 57))))), 32

    search = find_n50(measure, n_start=10)
    assert search.trainings < search.linear_sweep_trainings / 3
    assert abs(search.n50 - 57) < 4
    assert search.lo < search.hi


def test_find_n50_threshold_one_gives_largest_all_success():
    search = find_n50(lambda n: (8 if n <= 13 else 7, 8), n_start=3, threshold=1.0)
    assert search.lo == 13 and search.hi == 14
