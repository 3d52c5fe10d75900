"""What every command line of ``verify`` and ``figures`` shares: one-line usage errors and thread limits.

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

import argparse
from contextlib import contextmanager


class UsageError(ValueError):
    """Bad command-line input: the entry point prints it in one line and exits with code 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing a usage block and exiting."""

    def error(self, message: str):
        raise UsageError(message)


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
