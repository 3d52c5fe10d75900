"""Seeds: one derivation for every random draw of a run, so no module writes its own seed formula.

A run has one user seed (``--seed``, ``ctx.seed``); every draw gets its own seed from that seed and the
names of what it draws, e.g. ``derive_seed(seed, "cramming", "target", kind, m, n)``. Two draws with
different names are independent, and the same names give the same draw in any process, order or batch
(``hash`` would differ between processes). Draws take a fresh :func:`generator`, never global state.

Example:
    >>> derive_seed(0, "target", 3) == derive_seed(0, "target", 3) != derive_seed(1, "target", 3)
    True
    >>> import torch
    >>> torch.randint(0, 10, (3,), generator=generator(0, "demo")).tolist() == \\
    ...     torch.randint(0, 10, (3,), generator=generator(0, "demo")).tolist()
    True
"""
from __future__ import annotations

import hashlib
import json


def derive_seed(*parts) -> int:
    """A 63-bit seed from any JSON-able parts (stable across processes and machines, unlike ``hash``).

    Example:
        >>> derive_seed("init", "tiny", 1) < 2 ** 63
        True
    """
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


def generator(*parts):
    """A CPU ``torch.Generator`` seeded with ``derive_seed(*parts)``.

    Example:
        >>> generator(0, "x").initial_seed() == derive_seed(0, "x")
        True
    """
    import torch

    return torch.Generator().manual_seed(derive_seed(*parts))
