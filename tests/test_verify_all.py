"""verify.all: usage errors, bad model files, selection by name and result, the family-wise budget, the cache
key, resume after interruption, crash isolation, side-by-side runs, the registry read without imports, exit codes,
the grouped report."""
import json
import subprocess
import sys
import types
from dataclasses import dataclass

import pytest

from verify import all as verify_all
from verify import zoo
from verify.registry import Experiment
from verify.report import compare


@dataclass(frozen=True)
class S:
    size: int


def _fake(monkeypatch, name, run, *, statistical=0, results=(), profiles=("quick", "full")):
    module = types.ModuleType(f"verify_test_fake.{name}")
    module.run = run
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return Experiment(name=name, order=1, results=results, profiles=profiles, module=module.__name__,
                      settings={p: S(len(name)) for p in profiles}, statistical_checks={p: statistical for p in profiles})


def _use(monkeypatch, *experiments):
    monkeypatch.setattr(verify_all, "catalogue", lambda: list(experiments))


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("verify.all: error:"), err
    assert all(n in err[0] for n in needles), err[0]


@pytest.mark.parametrize("argv", [["--profile", "bogus"], ["--only", "nope"], ["--seed", "x"], ["--device", "tpu"],
                                  ["--seed", "-1"], ["--seed", "99999999999999999999"], ["--seed", str(2 ** 63)],
                                  ["--gguf", "x.gguf"], ["--profile", "real", "--gguf", "a", "--model-dir", "b"]])
def test_bad_usage_is_one_line_exit_2(argv, capsys):
    assert verify_all.main(argv) == 2
    _one_line_error(capsys)


def test_bad_usage_subprocess_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "verify.all", "--seed", "99999999999999999999"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_out_that_is_a_file_or_under_a_file_is_exit_2(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert verify_all.main(["--only", "meanfield", "--out", str(tmp_path / "f")]) == 2
    _one_line_error(capsys, "not a folder")
    assert verify_all.main(["--only", "meanfield", "--out", str(tmp_path / "f" / "sub")]) == 2
    _one_line_error(capsys, "is a file")


@pytest.mark.parametrize("argv,needle", [(["--only", "real_cramming"], "runs only under --profile real"),
                                         (["--profile", "real", "--only", "meanfield"], "not real"),
                                         (["--profile", "real", "--only", "t1_grid"], "no experiment checks")])
def test_only_that_selects_nothing_under_the_profile_is_exit_2(argv, needle, capsys, tmp_path):
    assert verify_all.main(argv + ["--out", str(tmp_path)]) == 2
    _one_line_error(capsys, needle)
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize("option,value,needle", [("--gguf", "missing.gguf", "not found"),
                                                 ("--gguf", "README.md", "not a GGUF file"),
                                                 ("--model-dir", "missing_dir", "not found"),
                                                 ("--model-dir", "verify", "no config.json")])
def test_bad_real_model_is_exit_2_before_any_work(option, value, needle, capsys, tmp_path, monkeypatch):
    ran = []
    _use(monkeypatch, _fake(monkeypatch, "lm", lambda ctx: ran.append(1) or [], profiles=("real",)))
    assert verify_all.main(["--profile", "real", option, value, "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, needle)
    assert not ran and not (tmp_path / "o").exists()


def test_measure_is_for_the_real_profile_only(capsys, tmp_path):
    assert verify_all.main(["--profile", "quick", "--measure", "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "are for --profile real")


def test_a_good_gguf_option_reaches_the_experiment(tmp_path, monkeypatch):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(16))
    seen = {}

    def run(ctx):
        seen["model"] = ctx.model
        return [compare("lm", "1 <= 2", bound=2, empirical=1, kind="phenomenon")]

    _use(monkeypatch, _fake(monkeypatch, "lm", run, profiles=("real",)))
    assert verify_all.main(["--profile", "real", "--gguf", str(gguf), "--out", str(tmp_path / "o")]) == 0
    assert seen["model"] == {"gguf": str(gguf)}  # through the run's context, no environment variable
    assert verify_all.main(["--profile", "real", "--gguf", str(gguf), "--measure", "--out", str(tmp_path / "p")]) == 0
    assert seen["model"] == {"gguf": str(gguf), "measure": True}


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_model_file_exit_2(damage, tmp_path, monkeypatch, capsys):
    for f in zoo.WEIGHTS_DIR.iterdir():
        if f.is_file():
            (tmp_path / f.name).write_bytes(f.read_bytes())
    if damage == "missing":
        (tmp_path / "witness.pt").unlink()
    else:
        (tmp_path / "witness.pt").write_bytes(b"not a torch file")
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert verify_all.main(["--only", "dataset", "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "witness.pt")


def test_committed_models_outside_the_zoo_are_preflighted(tmp_path, monkeypatch, capsys):
    for f in zoo.WEIGHTS_DIR.iterdir():
        if f.is_file():
            (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "copy_nope.pt").write_bytes(b"broken")
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert verify_all.main(["--only", "copying", "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "copy_nope.pt")


def test_only_selects_by_name_or_by_result_key():
    cat = verify_all.catalogue()
    assert [e.name for e in verify_all.select(cat, "quick", ["contexts"])] == ["contexts"]
    by_key = {e.name for e in verify_all.select(cat, "quick", ["log2_meanfield"])}
    assert {"meanfield", "contexts", "copying"} <= by_key
    assert all("log2_meanfield" in e.results for e in verify_all.select(cat, "quick", ["log2_meanfield"]))
    assert {e.name for e in verify_all.select(cat, "real", None)} == {e.name for e in cat if "real" in e.profiles}


def test_every_declared_result_is_a_key_of_bounds():
    from bounds import all_results

    for e in map(verify_all.load, verify_all.catalogue()):
        assert set(e.results) <= set(all_results()), e.name
        assert set(e.settings) == set(e.profiles) or not e.settings, e.name
        assert all(isinstance(e.statistical_count(p), int) for p in e.profiles), e.name


def test_family_wise_budget_is_bonferroni_over_declared_statistical_checks(tmp_path, monkeypatch):
    seen = []

    def run(ctx):
        seen.append((ctx.settings, ctx.confidence))
        return [compare(f"s{len(seen)}_{i}", "c", bound=1, empirical=0.5, direction="upper", kind="instrument",
                        confidence=ctx.confidence) for i in range(3)]

    a, b = _fake(monkeypatch, "alpha", run, statistical=3), _fake(monkeypatch, "beta", run, statistical=3)
    _use(monkeypatch, a, b)
    assert verify_all.main(["--out", str(tmp_path), "--jobs", "1"]) == 0  # in this process: `seen` fills
    assert seen == [(S(5), 1 - 1e-3 / 6), (S(4), 1 - 1e-3 / 6)]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["statistics"] == {"family_wise_error": 1e-3, "method": "bonferroni", "checks": 6,
                                    "per_check_confidence": 1 - 1e-3 / 6}
    assert all(c["confidence"] == 1 - 1e-3 / 6 and c["kind"] == "instrument" for c in report["checks"])
    seen.clear()  # --only runs the same checks at the same level as the whole profile
    assert verify_all.main(["--out", str(tmp_path / "b"), "--only", "beta"]) == 0
    assert seen == [(S(4), 1 - 1e-3 / 6)]


def test_an_experiment_that_makes_more_statistical_checks_than_declared_fails(tmp_path, monkeypatch):
    run = lambda ctx: [compare("x", "c", bound=1, empirical=0.5, kind="instrument", confidence=ctx.confidence)]
    _use(monkeypatch, _fake(monkeypatch, "liar", run, statistical=0))
    assert verify_all.main(["--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert [c["name"] for c in report["checks"] if not c["passed"]] == ["liar_statistical_checks"]


def test_resume_reuses_finished_experiments_and_retries_crashes(tmp_path, monkeypatch):
    calls = {"good": 0, "bad": 0}

    def good(ctx):
        calls["good"] += 1
        return [compare("good", "x <= 2", bound=2, empirical=1, kind="phenomenon")]

    def bad(ctx):
        calls["bad"] += 1
        raise RuntimeError("boom")

    _use(monkeypatch, _fake(monkeypatch, "good", good), _fake(monkeypatch, "bad", bad))
    out = str(tmp_path / "out")
    serial = ["--jobs", "1"]  # in this process, so that `calls` counts
    assert verify_all.main(["--out", out] + serial) == 1  # the crash is a failed check; the other still ran
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [c["passed"] for c in report["checks"]] == [True, False]
    assert "boom" in report["checks"][1]["params"]["error"]
    assert verify_all.main(["--out", out] + serial) == 1
    assert calls == {"good": 1, "bad": 2}  # finished work kept, the crash retried
    assert verify_all.main(["--out", out, "--seed", "1"] + serial) == 1
    assert calls == {"good": 2, "bad": 3}  # another seed is another run
    assert verify_all.main(["--out", out, "--fresh"] + serial) == 1
    assert calls["good"] == 3


def test_cache_is_not_reused_when_code_settings_or_versions_change(tmp_path, monkeypatch):
    calls = []
    exp = _fake(monkeypatch, "good", lambda ctx: calls.append(1) or [compare("g", "c", bound=2, empirical=1,
                                                                           kind="phenomenon")])
    _use(monkeypatch, exp)
    monkeypatch.setattr(verify_all, "code_hash", lambda e: "code-1")
    out = ["--out", str(tmp_path)]
    assert verify_all.main(out) == 0 and verify_all.main(out) == 0 and len(calls) == 1
    monkeypatch.setattr(verify_all, "code_hash", lambda e: "code-2")  # the code changed
    assert verify_all.main(out) == 0 and len(calls) == 2
    _use(monkeypatch, Experiment(**{**exp.__dict__, "settings": {"quick": S(99), "full": S(99)}}))
    assert verify_all.main(out) == 0 and len(calls) == 3  # the settings changed
    env = verify_all.environment()
    monkeypatch.setattr(verify_all, "environment", lambda: {**env, "torch": "0.0-other"})
    assert verify_all.main(out) == 0 and len(calls) == 4  # a library version changed
    assert verify_all.main(out) == 0 and len(calls) == 4


def test_code_hash_covers_the_module_and_the_core(tmp_path, monkeypatch):
    by_name = {e.name: e for e in verify_all.catalogue()}
    before = verify_all.code_hash(by_name["meanfield"])
    assert len(before) == 16 and before != verify_all.code_hash(by_name["contexts"])  # its own module counts
    for pattern in ("verify/*.py", "verify/training/*.py", "verify/sweeps/*.py", "bounds/**/*.py"):
        for f in verify_all.ROOT.glob(pattern):
            copy = tmp_path / f.relative_to(verify_all.ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(f.read_bytes())
    monkeypatch.setattr(verify_all, "ROOT", tmp_path)
    before = verify_all.code_hash(by_name["meanfield"])
    assert verify_all.code_hash(by_name["meanfield"]) == before  # the content counts, nothing else
    with (tmp_path / "verify" / "engine.py").open("a") as f:
        f.write("\n# changed\n")
    assert verify_all.code_hash(by_name["meanfield"]) != before  # the core counts


def test_side_by_side_gives_the_checks_of_a_serial_run_in_run_order(tmp_path, monkeypatch):
    import os
    import time

    def make(name, pause):
        def run(ctx):
            time.sleep(pause)  # the first finishes last
            return [compare(f"{name}_{i}", "c", bound=2, empirical=1 + (ctx.seed + i + len(name)) % 7 / 10,
                            kind="phenomenon", params={"pid": os.getpid()}) for i in range(3)]
        return _fake(monkeypatch, name, run)

    def crash(ctx):
        os._exit(3)  # a worker that dies without an answer

    _use(monkeypatch, make("slow", 0.5), make("fast", 0.0), _fake(monkeypatch, "dies", crash))
    assert verify_all.main(["--out", str(tmp_path / "p"), "--jobs", "3", "--seed", "4"]) == 1
    _use(monkeypatch, make("slow", 0.0), make("fast", 0.0))
    assert verify_all.main(["--out", str(tmp_path / "s"), "--jobs", "1", "--seed", "4"]) == 0
    side, serial = (json.loads((tmp_path / d / "report.json").read_text())["checks"] for d in ("p", "s"))
    strip = lambda checks: [{k: v for k, v in c.items() if k != "params"} for c in checks]
    assert strip(side[:6]) == strip(serial)  # same checks, same values, in run order though "slow" ended last
    assert os.getpid() not in {c["params"]["pid"] for c in side[:6]}  # they ran in other processes
    assert side[6]["name"] == "dies" and not side[6]["passed"] and "exited with code 3" in json.dumps(side[6])
    assert not (tmp_path / "p" / "checks" / "dies.json").exists()  # retried next time


def test_side_by_side_starts_the_longest_first_and_reports_in_run_order(tmp_path, monkeypatch):
    from dataclasses import replace

    def make(name, seconds):
        run = lambda ctx: [compare(f"{name}_check", "c", bound=2, empirical=1, kind="phenomenon")]
        return replace(_fake(monkeypatch, name, run), seconds={"quick": seconds} if seconds else {})

    started = []

    def in_this_process(todo, jobs, done):  # the scheduler's start order, without forking
        started.extend(e.name for e, _ in todo)
        for k, (e, ctx) in reversed(list(enumerate(todo))):  # finishing in any order
            done(k, verify_all.run_experiment(e, ctx), 0.0)

    monkeypatch.setattr(verify_all, "_run_side_by_side", in_this_process)
    _use(monkeypatch, make("short", 1), make("unknown", None), make("long", 9), make("middle", 5))
    assert verify_all.main(["--out", str(tmp_path), "--jobs", "2"]) == 0
    assert started == ["long", "middle", "short", "unknown"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert [c["name"] for c in report["checks"]] == ["short_check", "unknown_check", "long_check", "middle_check"]


def test_keep_freed_memory_changes_no_value():
    import platform

    import torch

    from verify.cli import keep_freed_memory

    x = torch.randn(64, 4096, generator=torch.Generator().manual_seed(0))
    before = torch.log_softmax(x @ x.T, dim=-1)
    assert keep_freed_memory() or platform.libc_ver()[0] != "glibc"
    assert torch.equal(torch.log_softmax(x @ x.T, dim=-1), before)


def test_jobs_below_one_is_exit_2(capsys):
    assert verify_all.main(["--jobs", "0"]) == 2
    _one_line_error(capsys, "--jobs")


def test_help_imports_no_torch():
    for module in ("verify.all", "figures.all"):
        code = f"import sys, runpy; sys.argv = ['{module}', '--help']\ntry:\n    runpy.run_module('{module}', " \
               f"run_name='__main__')\nexcept SystemExit:\n    pass\nprint(sorted(m for m in sys.modules " \
               f"if m.split('.')[0] in ('torch', 'matplotlib') or m.startswith('verify.experiments.')))"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert "--profile" in proc.stdout, module
        assert proc.stdout.strip().splitlines()[-1] == "[]", (module, proc.stdout.splitlines()[-1])


def test_registry_reads_each_declaration_as_its_module_declares_it():
    from verify import registry

    for entry in verify_all.catalogue():
        experiment = verify_all.load(entry)  # raises DeclarationError if the source reading differs
        registry.check_entry(entry, experiment)
        assert experiment.module == entry.module
    assert [e.name for e in verify_all.catalogue()] == sorted(
        (e.name for e in verify_all.catalogue()), key=lambda n: next(e.order for e in verify_all.catalogue()
                                                                     if e.name == n))


def test_a_declaration_read_from_source_that_differs_from_the_import_is_refused():
    from dataclasses import replace

    from verify import registry

    entry = verify_all.catalogue()[0]
    with pytest.raises(registry.DeclarationError, match="order"):
        registry.check_entry(replace(entry, order=entry.order + 1), verify_all.load(entry))


def test_statistical_checks_may_be_computed_from_the_settings(tmp_path, monkeypatch):
    def run(ctx):
        return [compare(f"s{i}", "c", bound=1, empirical=0.5, kind="instrument", confidence=ctx.confidence)
                for i in range(ctx.settings.size)]

    exp = _fake(monkeypatch, "four", run)
    _use(monkeypatch, Experiment(**{**exp.__dict__, "statistical_checks": lambda s: s.size}))
    assert verify_all.main(["--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["statistics"]["checks"] == 4
    _use(monkeypatch, Experiment(**{**exp.__dict__, "statistical_checks": lambda s: s.size + 1}))
    assert verify_all.main(["--out", str(tmp_path / "b")]) == 1  # a count that disagrees with the run fails


def test_exit_0_when_all_pass_and_report_grouped_by_theorem_and_kind(tmp_path, monkeypatch, capsys):
    run = lambda ctx: [compare("ok", "1 <= 2", bound=2, empirical=1, kind="bound", theorem="t1_grid"),
                       compare("loose", "1 <= 100", bound=100, empirical=1, kind="bound", theorem="t1_grid"),
                       compare("prem", "err <= tol", bound=1e-12, empirical=1e-16, kind="premise",
                               theorem="log2_meanfield"),
                       compare("inst", "sees", bound=0.5, empirical=0.9, direction="lower", kind="instrument")]
    _use(monkeypatch, _fake(monkeypatch, "ok", run))
    assert verify_all.main(["--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "verify: 4 passed, 0 failed"
    md = (tmp_path / "report.md").read_text()
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads == ["# Verification report", "## Tightness per theorem", "## t1_grid: T1 (exact grid form)", "### bound",
                     "## log2_meanfield: T2 (mean-field bound, log2)", "### premise", "## no theorem", "### instrument"]
    assert "room >= 1 iff the claim holds" in md and "| loose | 1 <= 100 | 100 | 1 | 100 | pass (weak) |" in md
    assert "| prem |" in md and "pass (weak)" not in md.split("| prem |")[1].splitlines()[0]  # premises never weak
    report = json.loads((tmp_path / "report.json").read_text())
    assert {c["name"]: (c["kind"], c["theorem"]) for c in report["checks"]}["prem"] == ("premise", "log2_meanfield")
    assert {"checks", "environment", "profile", "seed", "seconds", "statistics", "tightness"} <= set(report)
    assert [(r["theorem"], r["check"], r["point_room"]) for r in report["tightness"]] == [("t1_grid", "ok", 2.0)]
    assert "| t1_grid | 2 | ok | 2 | 2 | not stated |" in md  # room 2 > 1.5 and nothing said what limits it


def test_every_experiment_module_declares_itself():
    import pkgutil

    from verify import experiments

    modules = {info.name for info in pkgutil.iter_modules(experiments.__path__)}
    assert modules == {e.name for e in verify_all.catalogue()}  # a module without EXPERIMENT would never run


def test_measuring_without_any_model_is_exit_2(capsys, tmp_path, monkeypatch):
    from verify import real

    _use(monkeypatch, _fake(monkeypatch, "lm", lambda ctx: [], profiles=("real",)))
    monkeypatch.setattr(real, "smollm2_gguf", lambda: None)
    assert verify_all.main(["--profile", "real", "--measure", "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "--gguf PATH or --model-dir DIR")
