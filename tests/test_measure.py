"""verify.measure: capacities with intervals, and a bound check on them that can fail."""
from verify.report import compare


def test_capacity_interval_and_its_bound_check_can_fail():
    from verify.measure import capacity

    past = [{"n": 4, "successes": 64, "trials": 64}, {"n": 5, "successes": 64, "trials": 64}]  # 20 bits on 16
    cap = capacity(past, 4.0, 0.999, max_points=3)
    assert cap["n"] == 5 and cap["bits_lower"] < cap["bits"] == cap["bits_upper"] == 20.0
    assert not compare("x", "c", bound=16, empirical=cap["bits_lower"], kind="bound", theorem="t1_grid").passed
    chance = [{"n": 4, "successes": 64, "trials": 64}, {"n": 5, "successes": 4, "trials": 64}]  # 1/16: a free token
    assert capacity(chance, 4.0, 0.999, max_points=3)["bits_lower"] <= 16
