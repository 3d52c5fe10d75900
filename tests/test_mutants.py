"""The mutation harness: every mutant still applies to the code, and the cheap ones turn checks red."""
from __future__ import annotations

import dataclasses
import json

import pytest

from verify import mutants


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=lambda m: m.name)
def test_every_mutant_applies_once_to_the_current_code(mutant, tmp_path):
    mutants.scratch_copy(mutant, tmp_path)
    changed = [rel for rel, _, _ in mutant.edits if (tmp_path / rel).read_text() != (mutants.ROOT / rel).read_text()]
    assert len(changed) == len(mutant.edits)


def test_a_stale_mutant_is_an_error(tmp_path):
    stale = dataclasses.replace(mutants.MUTANTS[0], edits=(("bounds/evaluate.py", "text that is not there", "x"),))
    with pytest.raises(ValueError, match="not once"):
        mutants.scratch_copy(stale, tmp_path)


def test_unknown_mutant_is_usage_error(capsys):
    assert mutants.main(["--only", "no_such_bug"]) == 2
    assert "unknown mutant" in capsys.readouterr().err


def test_cheap_mutants_turn_checks_red(tmp_path):
    """The t2_vocab and contexts bugs (tiny float64 models): each is caught by its min_red checks."""
    rc = mutants.main(["--profile", "quick", "--only", "meanfield_vocab_div3", "--only", "nope_positional_leak",
                       "--out", str(tmp_path)])
    rows = {r["name"]: r for r in json.loads((tmp_path / "mutants.json").read_text())["mutants"]}
    assert rc == 0
    assert len(rows["meanfield_vocab_div3"]["red"]) >= 2
    assert all(n.startswith("t2_vocab_bound_") for n in rows["meanfield_vocab_div3"]["red"])
    assert rows["nope_positional_leak"]["red"]
