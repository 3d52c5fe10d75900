"""scripts/compare_reports.py: shared checks compared by measured value and verdict."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_reports.py"


def _write(path, checks):
    path.write_text(json.dumps({"checks": checks}))
    return str(path)


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_equal_within_tolerance_passes_and_bound_change_is_listed(tmp_path):
    old = _write(tmp_path / "a.json", [{"name": "x", "empirical": 1.0, "bound": 2.0, "passed": True}])
    new = _write(tmp_path / "b.json", [{"name": "x", "empirical": 1.0 + 1e-13, "bound": 1.5, "passed": True},
                                       {"name": "y", "empirical": 3.0, "bound": 4.0, "passed": True}])
    done = _run(old, new)
    assert done.returncode == 0, done.stdout
    assert "bound     x" in done.stdout and "added     y" in done.stdout


def test_changed_measurement_or_verdict_fails(tmp_path):
    old = _write(tmp_path / "a.json", [{"name": "x", "empirical": 1.0, "bound": 2.0, "passed": True}])
    new = _write(tmp_path / "b.json", [{"name": "x", "empirical": 1.01, "bound": 2.0, "passed": True}])
    assert _run(old, new).returncode == 1
    flipped = _write(tmp_path / "c.json", [{"name": "x", "empirical": 1.0, "bound": 2.0, "passed": False}])
    assert _run(old, flipped).returncode == 1


def test_unreadable_file_is_exit_2(tmp_path):
    done = _run(str(tmp_path / "missing.json"), str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "cannot read" in done.stderr and "Traceback" not in done.stderr
