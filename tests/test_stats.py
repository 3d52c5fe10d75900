"""verify.stats: exact binomial bounds, the Bonferroni budget and the bootstrap (fast, seeded)."""
import numpy as np
import pytest
from scipy.stats import binom

from verify import stats


@pytest.mark.parametrize("successes,trials", [(0, 10), (3, 10), (10, 10), (8, 64), (63, 64)])
def test_clopper_pearson_bounds_are_exact_tail_inversions(successes, trials):
    conf = 0.999
    lo, hi = stats.clopper_pearson_lower(successes, trials, conf), stats.clopper_pearson_upper(successes, trials, conf)
    assert 0 <= lo <= successes / trials <= hi <= 1
    if successes > 0:  # at p = lo, seeing this many or more has probability exactly 1 - conf
        assert binom.sf(successes - 1, trials, lo) == pytest.approx(1 - conf, rel=1e-6)
    if successes < trials:
        assert binom.cdf(successes, trials, hi) == pytest.approx(1 - conf, rel=1e-6)


def test_lower_bound_covers_the_truth_at_least_at_its_level():
    rng = np.random.default_rng(0)
    p, trials, conf = 0.3, 40, 0.9
    misses = sum(stats.clopper_pearson_lower(int(k), trials, conf) > p for k in rng.binomial(trials, p, 2000))
    assert misses / 2000 <= 0.1 + 0.02


def test_the_witness_of_issue_9_no_longer_fails_under_the_budget():
    # 8/64 at a bound of 1/16: 95% alone says the rate exceeds 1/16; at the Bonferroni level it does not
    assert stats.clopper_pearson_lower(8, 64, 0.95) > 1 / 16
    assert stats.clopper_pearson_lower(8, 64, stats.per_check_confidence(checks=30)) < 1 / 16


@pytest.mark.parametrize("bad", [(-1, 10), (11, 10), (0, 0)])
def test_binomial_bounds_reject_bad_counts(bad):
    with pytest.raises(ValueError):
        stats.clopper_pearson_lower(*bad)
    with pytest.raises(ValueError):
        stats.clopper_pearson_upper(*bad)


def test_bonferroni_keeps_the_family_wise_error():
    for k in (1, 7, 40):
        conf = stats.per_check_confidence(checks=k)
        assert k * (1 - conf) == pytest.approx(stats.FAMILY_WISE_ERROR)
    with pytest.raises(ValueError):
        stats.per_check_confidence(checks=-1)


def test_bootstrap_bound_is_seeded_and_on_the_right_side():
    x = np.random.default_rng(1).exponential(2.0, 300)
    lo = stats.bootstrap_bound(x, np.median, confidence=0.95, seed=3)
    assert lo == stats.bootstrap_bound(x, np.median, confidence=0.95, seed=3)
    assert lo < np.median(x) < stats.bootstrap_bound(x, np.median, confidence=0.95, side="upper", seed=3)
    with pytest.raises(ValueError):
        stats.bootstrap_bound([], confidence=0.9)
    with pytest.raises(ValueError):
        stats.bootstrap_bound(x, side="middle")


def test_mean_upper_bound():
    assert stats.mean_upper_bound([2.0]) == 2.0
    assert stats.mean_upper_bound([1.0, 2.0, 3.0], 0.99) > stats.mean_upper_bound([1.0, 2.0, 3.0], 0.9) > 2.0
