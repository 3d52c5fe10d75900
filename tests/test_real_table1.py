"""verify.experiments.real_table1: the Table 1 row on a tiny Llama, its checks, the committed row read back."""
from types import SimpleNamespace

import pytest

from verify.experiments import real_table1
from verify.experiments.real_table1 import main, measure_table1
from verify.report import SOURCE_KEYS


def test_table1_row_on_a_tiny_llama(lm):
    res = measure_table1(lm, samples=2, max_length=16, cells=400, seed=0, batch=2)
    for name in ("fp32", "fp16", "hmdo_rel"):
        row = res["rows"][name]
        assert row["cone"] <= row["ball"] and row["box"] > 0 and 0 <= row["nonuniform"]
    assert res["rows"]["fp32"]["ball"] > res["rows"]["fp16"]["ball"]
    assert [c["samples"] for c in res["convergence"]] == [100, 200, 400] and res["cells"]["hit"] >= 1
    assert len(res["sides"]) == 32 and min(res["sides"]) > 0


def test_real_cli_usage(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for option in ("--gguf", "--model-dir", "--device", "--samples", "--max-length", "--cells", "--seed", "--out"):
        assert option in out
    assert out.count("(default:") >= 8
    assert main(["--device", "tpu"]) == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["--cells", "0"]) == 2


def test_checks_fail_when_the_measurement_is_unsound():
    res = {"model": {"name": "m"}, "geometry": {"settled": False},
           "convergence": [{"samples": 50, "nonuniform": 100.0}, {"samples": 100, "nonuniform": 80.0}]}
    assert [c.passed for c in real_table1.checks_from(res)] == [False, False]


def test_the_committed_row_is_read_back_with_its_source(tmp_path):
    ctx = SimpleNamespace(profile="real", model={}, out=tmp_path, log=lambda m: None, device="cpu", settings=None)
    checks = real_table1.run(ctx)
    assert [c.name for c in checks] == ["real_table1_geometry_settled", "real_table1_nonuniform_converged"]
    assert all(c.passed and sorted(c.source) == sorted(SOURCE_KEYS) for c in checks)
    assert checks[0].source["file"].endswith("results/real_table1/real_table1.json")
