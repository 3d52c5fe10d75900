"""docs/theory.md is generated from the registry (bounds.all_results()) and must match it."""
from pathlib import Path

import bounds
from bounds import theory_doc

ROOT = Path(__file__).resolve().parents[1]


def test_docs_theory_md_is_up_to_date_with_the_registry(capsys):
    # if this fails: python -m bounds.theory_doc (then commit docs/theory.md)
    assert theory_doc.main(["--check"]) == 0, capsys.readouterr().err


def test_every_result_is_documented_with_its_statement_latex_assumptions_and_source():
    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    for key, result in bounds.all_results().items():
        start = text.index(f"### `{key}`: {result.name}\n")
        block = text[start:text.find("\n### ", start + 1)]
        assert result.meaning in block and result.latex() in block and result.source in block, key
        assert all(f"- {assumption}" in block for assumption in result.assumptions), key
        if result.evaluator:
            assert f"`{result.call()}`" in block, key


def test_check_fails_on_a_stale_or_missing_file(tmp_path, capsys):
    stale = tmp_path / "theory.md"
    stale.write_text(theory_doc.render().replace("T1 (ball form)", "T1 (old name)"), encoding="utf-8")
    assert theory_doc.main(["--check", "--out", str(stale)]) == 1
    assert theory_doc.main(["--check", "--out", str(tmp_path / "missing.md")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("out of date" in line for line in err)
    assert theory_doc.main(["--out", str(stale)]) == 0 and theory_doc.main(["--check", "--out", str(stale)]) == 0


def test_readme_points_to_the_theory_reference_in_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/theory.md" in readme and "THEORY.md" not in readme.replace("docs/theory.md", "")


def test_t2_finite_vocabulary_prints_upper_bounds_rounded_up():
    import mpmath
    from fractions import Fraction
    from bounds import PRESETS, precision
    from bounds.table import build_rows
    doc = (Path(__file__).resolve().parents[1] / "docs" / "t2_finite_vocabulary.md").read_text(encoding="utf-8")
    lines = [line for line in doc.splitlines() if line.startswith("| ")]
    columns = ["log2_log2_meanfield", "log2_meanfield_vocab_q1", "tokens_meanfield_vocab_q1",
               "log2_meanfield_vocab_q2", "tokens_meanfield_vocab_q2"]
    rows = {row["model"]: row for row in build_rows([p for p in PRESETS.values() if p.radius is not None], [1])}
    checked = 0
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] not in rows:
            continue
        for key, text in zip(columns, cells[4:9]):
            printed = Fraction(text.replace(",", ""))
            exact = precision._exact_fraction(rows[cells[0]][key])
            assert exact <= printed <= exact * (1 + Fraction(1, 10 ** 4)), (cells[0], key, text, float(exact))
            checked += 1
    assert checked == 5 * len(rows)
