"""verify.checks: T1's count form over measured points, and the grid premise on prompts."""
import math

import torch

from verify.checks import count_check, grid_deviation, grid_premise
from verify.report import compare


def test_count_check_fails_when_capacity_exceeds_the_bound():
    points = [{"n": 10, "successes": 32, "trials": 32}]  # 10 letters of 26 always reproduced: ~46 bits
    assert not count_check("x", "c", points, log2_npr=40, log2_alphabet=math.log2(26), confidence=0.95).passed
    ok = count_check("x", "c", points, log2_npr=60, log2_alphabet=math.log2(26), confidence=0.95)
    assert ok.passed and ok.ratio > 1 and ok.confidence == 0.95
    # one success in 32 gives a tiny f_lower: the same n now fits under 40 bits
    assert count_check("x", "c", [{"n": 10, "successes": 1, "trials": 32}], 40, math.log2(26), confidence=0.95).passed


def test_requirement_checks_fail_when_unmet():
    assert not compare("r2", "R^2 >= 0.95", bound=0.95, empirical=0.9, direction="lower").passed
    assert not compare("n50", "n50 >= 8", bound=8, empirical=7.5, direction="lower").passed
    assert not compare("cap", "capacity >= half", bound=8, empirical=7.9, direction="lower").passed


def test_grid_deviation_uses_linspace_not_the_quantizer():
    from verify.engine import quantize

    x = torch.randn(500, generator=torch.Generator().manual_seed(0)) * 2
    for q in (2, 3, 4, 16, 256):
        on = grid_deviation(quantize(x, levels=q, radius=1.5), q, 1.5)
        assert on["off_grid"] == on["outside"] == 0 and on["distinct"] <= q
    # the interior points of a Q+1 grid are off the Q grid (only the endpoints are shared)
    wrong = grid_deviation(torch.linspace(-1.5, 1.5, 5), 4, 1.5)
    assert wrong["off_grid"] == 3 and wrong["outside"] == 0
    box = grid_deviation(torch.tensor([-1.5, 0.3, 1.5 + 1e-3]), None, 1.5)
    assert box["off_grid"] == 0 and box["outside"] == 1


def test_grid_premise_sums_over_points_and_refuses_mixed_grids():
    a, b = grid_deviation(torch.tensor([-1.0, 1.0]), 2, 1.0), grid_deviation(torch.tensor([0.0, 2.0]), 2, 1.0)
    c = grid_premise("g", [a, b], theorem="t1_grid")
    assert not c.passed and c.empirical == 3 and c.kind == "premise" and c.params["coordinates"] == 4
    try:
        grid_premise("g", [a, grid_deviation(torch.tensor([1.0]), 4, 1.0)], theorem="t1_grid")
    except ValueError as exc:
        assert "different grids" in str(exc)
    else:
        raise AssertionError("mixed grids accepted")
