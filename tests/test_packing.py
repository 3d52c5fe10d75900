"""verify.packing: the three orders of a context, and greedy packings that are packings."""
import torch

from verify.packing import extend_packing, orders, scan_packing


def test_orders_are_permutations_of_each_row():
    tokens = torch.tensor([[0, 0, 1, 2], [2, 2, 2, 1]])
    three = orders(tokens, seed=3)
    assert three.shape == (6, 4) and torch.equal(three[:2], tokens) and torch.equal(three[2:4], tokens.flip(1))
    assert all(sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(three[4:], tokens))


def test_a_greedy_packing_is_pairwise_farther_than_eps_and_grows_with_new_points():
    pts = torch.rand(400, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    centers = extend_packing(pts[:0], pts, 0.2)
    d = torch.cdist(centers, centers) + torch.eye(len(centers)) * 10
    assert bool((d > 0.2).all()) and len(centers) == scan_packing(pts, 0.2)
    more = extend_packing(centers, pts + 5.0, 0.2)  # far away: every old center stays, new ones join
    assert torch.equal(more[:len(centers)], centers) and len(more) > len(centers)
