import pytest

from verify.cli import torch_threads


@pytest.fixture
def one_thread():
    """Tiny models run on one torch thread (a second one only spins on shared cores)."""
    with torch_threads(1):
        yield
