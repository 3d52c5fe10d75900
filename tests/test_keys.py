"""verify.keys: each key keeps the exact form of the helper it stands for (stored results stay valid)."""
import hashlib
import json

from verify import keys
from verify.measure import file_hash
from verify.rng import derive_seed
from verify.sweeps.store import trial_key


def test_keys_equal_the_stored_forms(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    assert keys.file_digest(a, b) == file_hash(a, b) != keys.file_digest(b, a)
    assert keys.file_digest(a, named=True) != keys.file_digest(a)
    spec = {"model": "tiny", "m": 2, "lr": 0.1}
    assert keys.json_digest(spec) == trial_key(spec) != keys.json_digest({**spec, "m": 3})
    parts = ("init", "tiny", 1)
    assert keys.int_digest(json.dumps(parts, sort_keys=True, default=str).encode()) == derive_seed(*parts)
    legacy = int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)  # real_cramming's trial seeds
    assert keys.int_digest(repr(parts).encode(), bits=32) == legacy
