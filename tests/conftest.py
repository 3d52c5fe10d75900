import pytest

from verify.cli import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one torch thread: tiny models are faster so, and a second thread only spins on
    shared cores. A test that needs more asks with ``verify.cli.torch_threads(n)`` itself."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A tiny seeded Llama checkpoint on disk (verify.real.tiny_llama): what the real-model tests load."""
    from verify.real import tiny_llama

    path = tmp_path_factory.mktemp("tiny_llama")
    tiny_llama(path, seed=0)
    return path


@pytest.fixture(scope="session")
def lm(tiny_dir):
    """The tiny checkpoint loaded frozen through verify.real.load (tests must not change it)."""
    from verify.real import load

    with torch_threads(1):
        return load(model_dir=tiny_dir)


@pytest.fixture
def stand_in_zoo(monkeypatch):
    """Replace the zoo by tiny models with the same API, so the zoo experiments run in a second."""
    import torch

    from verify import zoo
    from verify.model import ModelConfig, Transformer

    def make(name, device="cpu", weights_dir=None):
        torch.manual_seed({"natural": 0, "witness": 1, "random": 2}[name])
        vocab, d = (8, 8) if name == "witness" else (12, 16)
        model = Transformer(ModelConfig(vocab_size=vocab, d_model=d, n_layer=1, n_head=2, block_size=48)).freeze()
        return zoo.ZooModel(name=name, model=model, d=d, vocab=vocab, layers=1, heads=2, dtype="fp32", radius=1.0,
                            prompt_radius=0.5, levels=2 if name == "witness" else None,
                            alphabet=tuple(range(vocab)) if name == "witness" else tuple(range(4)), facts={})

    def natural_targets(count, n, seed, weights_dir=None):
        return torch.randint(0, 12, (count, n), generator=torch.Generator().manual_seed(seed))

    monkeypatch.setattr(zoo, "load", make)
    monkeypatch.setattr(zoo, "natural_targets", natural_targets)


@pytest.fixture
def default_dps_arithmetic():
    """The test's own arithmetic in mpmath's global context (its reference values, reading printed digits)
    at bounds.DEFAULT_DPS digits: bounds computes in its own context (bounds.precision.MP) and leaves the
    global one at its 15 digits."""
    import mpmath

    from bounds import DEFAULT_DPS

    with mpmath.workdps(DEFAULT_DPS):
        yield


@pytest.fixture
def run_resumed():
    """Run an experiment module twice on the same output folder (quick profile, seed 0, confidence 0.999) and
    check what every run must show: the declared number of statistical checks, a kind, a verdict and both
    numbers on every check, and the second run (its points from the store) identical to the first."""
    def run(module, settings, out, *, statistical: int):
        from verify.all import Context

        ctx = Context(profile="quick", seed=0, device="cpu", out=out, log=lambda msg: None, settings=settings,
                      confidence=0.999)
        checks = module.run(ctx)
        assert sum(c.confidence is not None for c in checks) == statistical  # as many statistical checks as declared
        for c in checks:  # every check has a kind, a verdict and, unless it failed to evaluate, both numbers
            assert c.kind in ("bound", "premise", "phenomenon", "instrument") and isinstance(c.passed, bool)
            assert c.kind not in ("bound", "premise") or c.theorem
            assert "error" in c.params or (c.bound is not None and c.empirical is not None)
        again = module.run(ctx)  # every point comes from the point store: same checks, same numbers
        assert [(c.name, c.passed, c.empirical) for c in again] == [(c.name, c.passed, c.empirical) for c in checks]
        return checks
    return run
