"""verify.seeds: the seed list, usage errors, one verify.all run per seed with failures per check."""
import json


def test_seeds_parser_and_usage(capsys, tmp_path):
    from verify import seeds

    assert seeds.parse_seeds("0-2,5") == [0, 1, 2, 5]
    assert seeds.main(["--seeds", "3-1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("verify.seeds: error:")


def test_seeds_runs_each_seed_and_reports_failures(tmp_path):
    from verify import seeds

    assert seeds.main(["--seeds", "0-1", "--only", "meanfield", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "seeds.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [0, 1] and summary["failed_checks"] == {}
    assert all(r["returncode"] == 0 and r["checks"] == 10 for r in summary["runs"])
    assert seeds.main(["--seeds", "0", "--only", "real_cramming", "--out", str(tmp_path / "x")]) == 2
