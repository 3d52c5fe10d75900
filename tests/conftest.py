import pytest

from verify.cli import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs on one torch thread: tiny models are faster so, and a second thread only spins on
    shared cores. A test that needs more asks with ``verify.cli.torch_threads(n)`` itself."""
    with torch_threads(1):
        yield
