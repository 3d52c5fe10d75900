"""scripts/gpu_bundle.py: the model packed in two parts rebuilds byte for byte; missing parts are one line, exit 2."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_bundle.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_bundle", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundle_round_trip(tmp_path):
    pytest.importorskip("gguf", reason="the GGUF path needs the optional gguf package")
    bundle = _script()
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(range(256)) * 41)
    manifest = bundle.make_bundle(tmp_path / "bundle", fake, fetch_wheel=False)
    assert manifest["bytes"] == fake.stat().st_size
    got = bundle.assemble_bundle([tmp_path / "bundle" / "a", tmp_path / "bundle" / "b"], work=tmp_path / "work")
    assert got["gguf"].read_bytes() == fake.read_bytes() and got["text"].name == "natural.txt"
    (tmp_path / "bundle" / "b" / "model.gguf.part1").unlink()
    with pytest.raises(FileNotFoundError, match=r"run .*bundle: no model.gguf.part1 there"):
        bundle.assemble_bundle([tmp_path / "bundle"], work=tmp_path / "work2")


def test_missing_parts_are_one_line_and_exit_2(capsys, tmp_path):
    assert _script().main(["run", str(tmp_path / "nothing"), "--", "--m", "1"]) == 2
    err = capsys.readouterr().err
    assert "no model.gguf.part0" in err and err.count("\n") == 1 and "Traceback" not in err
