"""verify.all: usage errors, bad model files, resume after interruption, crash isolation, exit codes."""
import json
import subprocess
import sys
import types

import pytest

from verify import all as verify_all
from verify import zoo
from verify.report import compare


def _fake_experiment(monkeypatch, name, run):
    module = types.ModuleType(f"verify_test_fake.{name}")
    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@pytest.mark.parametrize("argv", [["--profile", "bogus"], ["--only", "nope"], ["--seed", "x"], ["--device", "tpu"]])
def test_bad_usage_is_one_line_exit_2(argv, capsys):
    assert verify_all.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("verify.all: error:")


def test_bad_usage_subprocess_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "verify.all", "--profile", "huge"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_model_file_exit_2(damage, tmp_path, monkeypatch, capsys):
    for f in zoo.WEIGHTS_DIR.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    if damage == "missing":
        (tmp_path / "witness.pt").unlink()
    else:
        (tmp_path / "witness.pt").write_bytes(b"not a torch file")
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert verify_all.main(["--only", "precision", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "witness.pt" in err[0]


def test_resume_reuses_finished_experiments_and_retries_crashes(tmp_path, monkeypatch):
    calls = {"good": 0, "bad": 0}

    def good(ctx):
        calls["good"] += 1
        return [compare("good", "x <= 2", bound=2, empirical=1)]

    def bad(ctx):
        calls["bad"] += 1
        raise RuntimeError("boom")

    names = [_fake_experiment(monkeypatch, "good", good), _fake_experiment(monkeypatch, "bad", bad)]
    monkeypatch.setattr(verify_all, "EXPERIMENTS", tuple(names))
    out = str(tmp_path / "out")
    assert verify_all.main(["--out", out]) == 1  # the crash is a failed check; the other still ran
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [c["passed"] for c in report["checks"]] == [True, False]
    assert "boom" in report["checks"][1]["params"]["error"]
    assert verify_all.main(["--out", out]) == 1
    assert calls == {"good": 1, "bad": 2}  # finished work kept, the crash retried
    assert verify_all.main(["--out", out, "--seed", "1"]) == 1
    assert calls == {"good": 2, "bad": 3}  # another seed is another run
    assert verify_all.main(["--out", out, "--fresh"]) == 1
    assert calls["good"] == 3


def test_exit_0_when_all_pass(tmp_path, monkeypatch, capsys):
    name = _fake_experiment(monkeypatch, "ok", lambda ctx: [compare("ok", "1 <= 2", bound=2, empirical=1)])
    monkeypatch.setattr(verify_all, "EXPERIMENTS", (name,))
    assert verify_all.main(["--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "verify: 1 passed, 0 failed"
