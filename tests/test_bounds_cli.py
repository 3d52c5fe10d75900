"""CLI tests for `python -m bounds.table` and `python -m bounds.bench` (subprocess, from the repo root)."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bounds import PRESETS

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {"model", "d", "vocab", "radius", "eps", "prompt_length", "log2_prompts", "tokens_per_vector",
                 "threshold_tokens", "log2_log2_meanfield", "tokens_per_vector_cone",
                 "empirical_tokens_per_vector", "ratio"}


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def table_json(*args):
    result = run("bounds.table", "--format", "json", "--digits", "15", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_default_table_lists_every_preset():
    result = run("bounds.table")
    assert result.returncode == 0 and result.stderr == ""
    for name in PRESETS:
        assert f"| {name} |" in result.stdout
    assert "2^-10" in result.stdout and "fp16" in result.stdout


def test_json_rows_have_the_keys_and_values_where_facts_are_known():
    rows = table_json("--preset", "all")
    assert len(rows) == len(PRESETS)
    for row in rows:
        assert REQUIRED_KEYS <= set(row)
        preset = PRESETS[row["model"]]
        assert (row["log2_log2_meanfield"] is None) == (preset.radius is None)
        assert (row["tokens_per_vector_cone"] is None) == (preset.theta is None)
        assert (row["ratio"] is None) == (preset.slope is None)
        assert row["eps"] == 2.0 ** -10
        if preset.radius is not None:
            by_hand = preset.d * math.log(1 + 2 * preset.radius / 2.0 ** -10) / math.log(preset.vocab)
            assert row["tokens_per_vector"] == pytest.approx(by_hand, rel=1e-12)
            assert row["ratio"] == pytest.approx(by_hand / preset.slope, rel=1e-12)
            assert row["threshold_tokens"] == pytest.approx(row["tokens_per_vector"], rel=1e-14)


def test_bits_per_value_semantics():
    rows = table_json("--preset", "pythia-160m", "--preset", "smollm2-135m", "--bits-per-value", "16",
                      "--prompt-length", "1,3")
    assert len(rows) == 4
    for row in rows:
        assert row["log2_prompts"] == 16 * row["d"] * row["prompt_length"]
        assert row["tokens_per_vector"] == pytest.approx(16 * row["d"] / math.log2(row["vocab"]), rel=1e-13)
        assert row["threshold_tokens"] == pytest.approx(row["tokens_per_vector"] * row["prompt_length"], rel=1e-13)


def test_prompt_length_range_is_inclusive():
    rows = table_json("--preset", "gemma-3-270m", "--prompt-length", "1:8")
    assert [row["prompt_length"] for row in rows] == list(range(1, 9))
    slope = rows[0]["log2_prompts"]
    for row in rows:
        assert row["log2_prompts"] == pytest.approx(slope * row["prompt_length"], rel=1e-13)   # linear in m
        assert row["log2_log2_meanfield"] == rows[0]["log2_log2_meanfield"]                    # T2: no m


def test_custom_architecture_and_eps_spellings_agree():
    base = ["--d", "768", "--vocab", "50304", "--radius", "63.62", "--theta", "1.96", "--slope", "90.4"]
    spelled = [table_json(*base, "--eps", eps)[0] for eps in ("2^-10", "2**-10", "fp16", "0.0009765625")]
    assert all(row == {**spelled[0], "precision": row["precision"]} for row in spelled)
    preset = table_json("--preset", "pythia-160m")[0]
    assert spelled[0]["tokens_per_vector"] == preset["tokens_per_vector"]
    assert spelled[0]["tokens_per_vector_cone"] == preset["tokens_per_vector_cone"]


@pytest.mark.parametrize("fmt, marker", [("markdown", "| model |"), ("csv", "model,d,vocab"),
                                         ("latex", "\\toprule"), ("json", "[")])
def test_every_format_prints(fmt, marker):
    result = run("bounds.table", "--preset", "pythia-1b", "--format", fmt, "--digits", "4")
    assert result.returncode == 0 and marker in result.stdout


BAD_INPUTS = [
    ["--preset", "gpt-5"], ["--d", "0", "--vocab", "100"], ["--d", "-3", "--vocab", "100"],
    ["--d", "abc", "--vocab", "100"], ["--d", "1.5", "--vocab", "100"], ["--d", "10", "--vocab", "1"],
    ["--d", "10", "--vocab", "0"], ["--d", "10"], ["--radius", "3"], ["--eps", "0"], ["--eps", "-1e-3"],
    ["--eps", "abc"], ["--eps", "2^"], ["--prompt-length", "3:1"], ["--prompt-length", "1:"],
    ["--prompt-length", "a:b"], ["--prompt-length", "0"], ["--prompt-length", "1:2:3:4"], ["--q", "0.5"],
    ["--theta", "4", "--d", "5", "--vocab", "9"], ["--format", "yaml"], ["--digits", "0"], ["--bogus"],
    ["--bits-per-value", "-16"],
    # refused before any work, one line, exit 2
    ["--prompt-length", "1:2000000000"], ["--prompt-length", "1:20000,1:20000"], ["--dps", "1000000"],
    ["--dps", "5"], ["--dps", "0"], ["--dps", "2.5"], ["--digits", "60"], ["--digits", "20", "--dps", "15"],
    ["--d", "768", "--vocab", "50304", "--radius", "nan"], ["--d", "768", "--vocab", "50304", "--radius", "inf"],
    ["--d", "768", "--vocab", "50304", "--radius", "1", "--theta", "nan"], ["--q", "nan"], ["--q", "inf"],
    ["--eps", "nan"], ["--eps", "inf"], ["--d", "nan", "--vocab", "100"], ["--d", "1e-400", "--vocab", "100"],
    ["--vocab", "inf", "--d", "10"], ["--bits-per-value", "nan"], ["--slope", "-1", "--d", "5", "--vocab", "9"],
    ["--d", "1", "--vocab", "9", "--radius", "1", "--theta", "1"],
]


@pytest.mark.parametrize("args", BAD_INPUTS)
def test_bad_input_gives_one_stderr_line_and_exit_2_in_process(args, capsys):
    from bounds import table
    assert table.main(args) == 2               # any exception fails here
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""


@pytest.mark.parametrize("args", [BAD_INPUTS[0], BAD_INPUTS[1], BAD_INPUTS[5], BAD_INPUTS[9], BAD_INPUTS[13],
                                  ["--prompt-length", "1:2000000000"], ["--dps", "1000000"]])
def test_bad_input_gives_one_stderr_line_and_exit_2(args):
    result = run("bounds.table", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_preset_lists_the_known_ones():
    stderr = run("bounds.table", "--preset", "gpt-5").stderr
    assert all(name in stderr for name in PRESETS)


def test_bench_runs_small_and_reports_rates_ratio_and_agreement():
    result = run("bounds.bench", "--points", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "points/s" in result.stdout and "speed ratio" in result.stdout
    assert "all fast values finite: True" in result.stdout
    assert "bounds.bench: mpmath" in result.stderr  # progress while it runs
    bad = run("bounds.bench", "--points", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "1.5"], ["--points", "1000000000"], ["--points", "1e9"],
                                  ["--points", "0"], ["--points", "nan"], ["--dps", "1000000"], ["--dps", "5"]])
def test_bench_bad_input_gives_one_stderr_line_and_exit_2_before_any_work(args, capsys):
    from bounds import bench
    assert bench.main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1


def test_help_points_to_the_theory_reference():
    for module in ("bounds.table", "bounds.bench"):
        result = run(module, "--help")
        assert result.returncode == 0 and "docs/theory.md" in result.stdout and "THEORY.md" not in result.stdout
