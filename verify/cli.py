"""What every command line of ``verify`` and ``figures`` shares: one-line usage errors, thread limits and
the allocator setting of long runs.

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

__all__ = ["ArgumentParser", "UsageError", "entry_point", "usage_failure", "torch_threads", "keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, glibc's malloc.h
_TRIM_AT = 2 ** 31 - 1                    # the largest an int may say: freed memory is kept up to 2 GiB


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


def keep_freed_memory() -> bool:
    """Make this process (and the processes it forks) keep the memory it frees for its next allocations
    (glibc: no ``mmap`` per large block, no trimming of the heap); True if the setting took.

    Torch allocates every tensor with ``malloc``; by default each one above the mmap threshold (128 KiB,
    rising to 32 MiB as such blocks are freed) is a fresh ``mmap`` whose pages the kernel zeroes on first
    touch and unmaps on free. The sign reader's 65536-token logits
    make that most of the CPU time spent in the kernel (docs/design.md, "Both cores"). The values computed
    are the same: only where the memory comes from changes. Elsewhere than glibc it does nothing.

    Example:
        >>> keep_freed_memory() in (True, False)
        True
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_AT))
    except (OSError, AttributeError):
        return False
