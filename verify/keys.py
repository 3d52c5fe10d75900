"""Stable keys from sha256: of files, of JSON-able values, of bytes as an integer. One home for the hashes
that name stored results (cache keys, point and trial keys, seeds), so each keeps its exact form.

Example:
    >>> json_digest({"m": 1, "model": "tiny"}) == json_digest({"model": "tiny", "m": 1})
    True
    >>> len(file_digest(__file__)), int_digest(b"x", bits=8) < 256
    (12, True)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def file_digest(*paths, length: int = 12, named: bool = False) -> str:
    """First ``length`` hex digits of the sha256 of the files' bytes, in the order given; ``named``: each
    file's name goes in before its bytes (a file renamed is then another key).

    Example:
        >>> file_digest(__file__) == hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
        True
    """
    h = hashlib.sha256()
    for path in paths:
        path = Path(path)
        if named:
            h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:length]


def json_digest(value, length: int = 20) -> str:
    """First ``length`` hex digits of the sha256 of ``value`` as canonical JSON (sorted keys, no spaces,
    anything else by ``str``).

    Example:
        >>> json_digest([1, "a"], length=8)
        '20109453'
    """
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def int_digest(blob: bytes, bits: int = 63) -> int:
    """The first ``bits`` bits of the sha256 of ``blob``, as a non-negative integer (a seed).

    Example:
        >>> int_digest(b"seed") < 2 ** 63 and int_digest(b"seed") == int_digest(b"seed")
        True
    """
    digest = int.from_bytes(hashlib.sha256(blob).digest(), "big")
    return digest >> (256 - bits)
