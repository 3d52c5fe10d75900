"""Tests of verify/experiments/copying.py and verify/training/copy.py: the task format, the metrics, the committed model."""
import json

import pytest
import torch

from verify.experiments import copying
from verify import tasks
from verify.training import copy as train_copy
from verify.all import Context
from verify.fit import fit_sigmoid
from verify.model import Transformer


pytestmark = pytest.mark.usefixtures("one_thread")


def test_copy_batch_matches_encode_and_masks_the_second_copy():
    g = torch.Generator().manual_seed(0)
    tokens, mask = tasks.copy_batch(torch.tensor([3, 1, 5]), g)
    for row, n in zip(range(3), (3, 1, 5)):
        s = tokens[row, 1:n + 1].tolist()
        assert torch.equal(tokens[row], tasks.encode(s, total=tokens.shape[1]))
        # the masked logits predict exactly the second copy
        assert tokens[row, 1:][mask[row, :-1]].tolist() == s


class _Oracle(torch.nn.Module):
    """Predicts the true next token except, optionally, from the k-th copied character on."""

    def __init__(self, tokens, wrong_from=None):
        super().__init__()
        self.tokens, self.wrong_from = tokens, wrong_from

    def forward(self, x):
        nxt = self.tokens[:, 1:x.shape[1] + 1].clone()
        if self.wrong_from is not None:
            n = (self.tokens.shape[1] - 2) // 2
            nxt[:, n + 1 + self.wrong_from] = (nxt[:, n + 1 + self.wrong_from] + 1) % 26
        return torch.nn.functional.one_hot(nxt, 29).double()


def test_metrics_on_an_oracle_and_on_an_oracle_that_errs():
    n, samples = 6, 4
    tokens, _ = tasks.copy_batch(torch.full((samples,), n), torch.Generator().manual_seed(3))
    perfect = copying.evaluate_copy(_Oracle(tokens), n, samples, torch.Generator().manual_seed(3))
    assert perfect == dict(exact=1.0, char=1.0, prefix=float(n), exact_count=samples)
    wrong = copying.evaluate_copy(_Oracle(tokens, wrong_from=2), n, samples, torch.Generator().manual_seed(3))
    assert wrong["exact"] == 0.0 == wrong["exact_count"] and wrong["prefix"] == 2.0 and abs(wrong["char"] - 5 / 6) < 1e-12


def test_sigmoid_threshold_of_a_known_curve():
    lengths = list(range(1, 41))
    acc = [1 / (1 + 2.718281828 ** (0.8 * (n - 17.3))) for n in lengths]
    fit = fit_sigmoid(lengths, [round(a * 10000) for a in acc], 10000)
    n0, k, r2 = fit.x0, fit.k, fit.r2(lengths, acc)
    assert abs(n0 - 17.3) < 0.2 and abs(k - 0.8) < 0.1 and r2 > 0.99


def test_order_blind_ceiling_matches_brute_force():
    import itertools
    from fractions import Fraction
    from math import factorial, prod
    from collections import Counter

    for letters, n in [(2, 3), (3, 3), (4, 2)]:
        total = Fraction(0)
        for s in itertools.product(range(letters), repeat=n):
            total += Fraction(prod(factorial(c) for c in Counter(s).values()), factorial(n))
        assert copying.order_blind_ceiling(n, letters) == total / letters ** n


def test_committed_model_copies_within_and_fails_beyond_its_training_lengths():
    model = Transformer.load(copying.WEIGHTS).freeze()
    g = torch.Generator().manual_seed(7)
    assert copying.evaluate_copy(model, 12, 32, g)["exact"] >= 0.9
    assert copying.evaluate_copy(model, 40, 32, g)["exact"] <= 0.1


def test_training_script_writes_a_loadable_model(tmp_path):
    out = tmp_path / "c.pt"
    rc = train_copy.main(["--steps", "3", "--d-model", "8", "--n-head", "2", "--max-train-len", "4",
                          "--batch", "4", "--out", str(out)])
    assert rc == 0
    model = Transformer.load(out)  # weights_only loading: the stored facts must be plain types
    assert model.cfg.facts["steps"] == 3 and json.loads(out.with_suffix(".json").read_text())["seed"] == 0


def test_training_script_rejects_bad_arguments(capsys):
    assert train_copy.main(["--out", "x.pt", "--positional", "alibi"]) == 2
    assert train_copy.main(["--out", "x.pt", "--steps", "many"]) == 2


def test_run_passes(tmp_path):
    checks = copying.run(Context.of(copying.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None, confidence=0.9999))
    assert all(c.passed for c in checks), [c.name for c in checks if not c.passed]
    assert all(c.kind in ("bound", "phenomenon", "instrument") for c in checks)
    # every check is on random strings: each is statistical, in the family-wise budget
    assert len(checks) == copying.EXPERIMENT.statistical_checks["quick"] and {c.confidence for c in checks} == {0.9999}
    data = json.loads((tmp_path / "data" / "copying.json").read_text())
    bits = next(c for c in checks if c.name == "copying_bits_bounded")  # against one length, not the maximum
    assert bits.params["bits_at_train_len"] == pytest.approx(data["bits_reproduced"][19])
    assert bits.bound < data["bits_reproduced"][19]  # the Hoeffding lower bound of it
    assert 15 < data["sigmoid"]["n0"] < 30 and data["peak_bits"] > 50
    assert data["nope"]["sigmoid"]["n0"] < data["sigmoid"]["n0"]  # NoPE, same budget: copies less


def test_bits_bounded_fails_when_the_tail_reproduces_as_much_and_degrades_when_copying_does_not():
    lengths = list(range(1, 61))
    flat = [min(n, 20) * copying.LOG2_26 for n in lengths]  # 20 characters reproduced at every length >= 20
    assert not copying.bits_bounded(flat, lengths, 20, 4096, 0.999, {}).passed
    assert copying.bits_bounded([b if n <= 20 else 0.0 for n, b in zip(lengths, flat)], lengths, 20, 4096, 0.999, {}).passed
    assert not copying.degrades(model_name="rotary", exact_at_max=200, samples=256, max_len=60, confidence=0.999,
                                params={}).passed
