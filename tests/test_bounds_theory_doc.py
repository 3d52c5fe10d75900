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
