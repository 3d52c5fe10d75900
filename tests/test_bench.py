"""verify.bench: one-line usage errors (exit 2), a missing or corrupt model (exit 2), progress on stderr and
the JSON ratio while it runs, own models accepted."""
from __future__ import annotations

import json
import math

import pytest

from verify import bench, zoo
from verify.bench import main


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "--threads must be >= 1, got 0"),
    (["--targets", "0"], "--targets must be >= 1"),
    (["--m", "0"], "--m must be >= 1"),
    (["--model", "gpt5"], "unknown model 'gpt5'; use tiny, natural, witness, random, gguf:PATH or hf:DIR"),
    (["--model", "gguf:/nonexistent/model.gguf"], "GGUF file not found"),
    (["--steps", "x"], "invalid int value"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_zoo_model_run_prints_progress_and_json(capsys, one_thread):
    assert main(["--model", "random", "--targets", "2", "--steps", "20", "--patience", "10", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["targets"] == 2 and result["model"] == "random" and result["ratio"] > 0
    for key in ("engine_targets_per_s", "baseline_targets_per_s", "engine_success_rate", "baseline_success_rate"):
        assert isinstance(result[key], float)
    assert math.isclose(result["ratio"], result["engine_targets_per_s"] / result["baseline_targets_per_s"])
    for line in ("baseline: target 1/2", "baseline: target 2/2", "engine: tuning all 2 targets", "engine: done"):
        assert line in captured.err


def test_own_model_folder_is_accepted_as_by_the_sweep(tmp_path, capsys, one_thread):
    pytest.importorskip("transformers")
    from verify.real import tiny_llama

    tiny_llama(tmp_path / "llama", seed=0)
    assert main(["--model", f"hf:{tmp_path / 'llama'}", "--targets", "2", "--steps", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == f"hf:{tmp_path / 'llama'}" and result["n"] == 4 and result["targets"] == 2


@pytest.mark.parametrize("content", [None, b"not a torch file"])
def test_bench_missing_or_corrupt_model_exits_2(content, tmp_path, monkeypatch, capsys):
    if content is not None:
        (tmp_path / "natural.pt").write_bytes(content)
        (tmp_path / "natural.json").write_text(json.dumps({"radius": 1.0, "prompt_radius": 1.0}))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert bench.main(["--targets", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "natural" in err and "\n" not in err
