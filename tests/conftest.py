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
def default_dps_arithmetic():
    """The test's own mpmath arithmetic (on the evaluators' mpf, or reading their printed digits) at
    bounds.DEFAULT_DPS digits, as a caller keeps the digits of a bound: importing bounds leaves mpmath's
    working precision at its 15 digits."""
    import mpmath

    from bounds import DEFAULT_DPS

    with mpmath.workdps(DEFAULT_DPS):
        yield
