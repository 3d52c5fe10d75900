"""What every command line of ``verify`` and ``figures`` shares: one-line usage errors and thread limits.

The parser, its error and the entry-point wrapper have one home, :mod:`bounds.cli`; they are named here
too so that the commands above ``bounds`` import them from the layer they live in.

Example:
    >>> p = ArgumentParser(prog="demo")
    >>> _ = p.add_argument("--m", type=int)
    >>> try:
    ...     p.parse_args(["--m", "x"])
    ... except UsageError as exc:
    ...     print(exc)
    argument --m: invalid int value: 'x'
"""
from __future__ import annotations

from contextlib import contextmanager

from bounds.cli import ArgumentParser, UsageError, entry_point, usage_failure

__all__ = ["ArgumentParser", "UsageError", "entry_point", "usage_failure", "torch_threads"]


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch threads, then restore the previous number.

    Tiny models run faster on one thread: a second one only spins when the cores are shared.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
