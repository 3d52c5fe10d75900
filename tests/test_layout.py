"""The import direction of the layers (docs/design.md, "Layers"), checked on the source with ``ast``.

    bounds  <-  verify core  <-  verify.experiments, verify.training, verify.sweeps  <-  verify.all  <-  figures

- nothing in ``bounds`` imports ``verify`` or ``figures``;
- the verify core (``verify/*.py`` but ``verify/all.py``) imports no experiment, training script or sweep,
  not even the package ``verify.experiments``: ``verify.registry`` reads the declarations from the sources
  and ``verify.all`` imports the experiments;
- no experiment imports another experiment, a training script or a sweep; the one exception is the results
  store ``verify.sweeps.store`` (a trial store, used by the real-model experiment to resume);
- training scripts import no experiment and no sweep; sweeps import no experiment and no training script;
- figures read data: from ``verify`` they import only ``verify.fit``, ``verify.stats`` (pure math on the
  data), ``verify.report`` (reading a report), ``verify.cli`` (the shared command line), ``verify.registry``
  (finding the figure modules as experiments are found) and ``verify.all``
  (``figures.all`` runs verify first when given no report); never ``torch``.

Every import counts, function-local ones included, and so does ``importlib.import_module("...")`` with a
literal name. Direct imports only: what an allowed module imports in turn is that module's own layer's rule.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bounds", "verify", "figures")
FIGURES_MAY_IMPORT = ("verify.fit", "verify.stats", "verify.report", "verify.cli", "verify.registry", "verify.all")
FIGURES_NEVER_IMPORT = ("torch",)
EXPERIMENTS_MAY_IMPORT = ("verify.sweeps.store",)


def layer(module: str) -> str | None:
    """The layer of a dotted module name (None: not ours).

    Example:
        >>> [layer(m) for m in ("bounds.t1", "verify.engine", "verify.experiments.cramming", "verify.all", "numpy")]
        ['bounds', 'core', 'experiments', 'all', None]
    """
    parts = module.split(".")
    if parts[0] in ("bounds", "figures"):
        return parts[0]
    if parts[0] != "verify":
        return None
    if len(parts) > 1 and parts[1] in ("experiments", "training", "sweeps"):
        return parts[1]
    if module == "verify.all":
        return "all"
    return "core"


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, root: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports (dotted names, relative imports resolved), with line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # "from pkg import mod" imports the module pkg.mod when there is one
                is_module = (root / Path(*sub.split("."))).with_suffix(".py").is_file() or \
                    (root / Path(*sub.split(".")) / "__init__.py").is_file()
                found.append((sub if is_module else base, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.args[0].value, node.lineno))
    return found


def allowed(source: str, target: str) -> bool:
    """Whether module ``source`` may import module ``target`` (see the module docstring)."""
    src, dst = layer(source), layer(target)
    if src == "figures":
        if target.split(".")[0] in FIGURES_NEVER_IMPORT:
            return False
        if dst == "figures" or dst == "bounds" or dst is None:
            return True
        return any(target == m or target.startswith(m + ".") for m in FIGURES_MAY_IMPORT)
    if dst is None:
        return True
    if src == "bounds":
        return dst == "bounds"
    if src == "core":
        return dst in ("bounds", "core")
    if src == "experiments":
        if dst == "experiments":
            return target in ("verify.experiments", source) or source == "verify.experiments"
        return dst in ("bounds", "core") or target in EXPERIMENTS_MAY_IMPORT
    if src == "training":
        return dst in ("bounds", "core", "training")
    if src == "sweeps":
        return dst in ("bounds", "core", "sweeps")
    if src == "all":
        return dst != "figures"
    return True


def violations(root: Path) -> list[str]:
    """One line per import that goes against the layers, for every ``.py`` file of the packages under ``root``."""
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            source = module_name(path, root)
            for target, line in imports(path, root):
                if not allowed(source, target):
                    out.append(f"{path.relative_to(root)}:{line}: {source} ({layer(source)}) imports {target}")
    return out


def test_the_tree_follows_the_layers():
    found = violations(ROOT)
    assert not found, "imports against the layers (docs/design.md):\n" + "\n".join(found)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


CLEAN = {
    "bounds/__init__.py": "from .evaluate import f\n",
    "bounds/evaluate.py": "import mpmath\n",
    "verify/__init__.py": "",
    "verify/engine.py": "import torch\nfrom bounds import evaluate\n",
    "verify/zoo.py": "from verify.engine import quantize\n",
    "verify/registry.py": "import ast\nfrom pathlib import Path\n",
    "verify/all.py": "from verify.experiments import a\nfrom verify import registry\n",
    "verify/experiments/__init__.py": "",
    "verify/experiments/a.py": "from verify.engine import tune\nfrom verify.sweeps.store import Store\n",
    "verify/experiments/b.py": "from verify import engine\n",
    "verify/training/__init__.py": "",
    "verify/training/t.py": "from verify.engine import tune\n",
    "verify/sweeps/__init__.py": "",
    "verify/sweeps/store.py": "import sqlite3\n",
    "verify/sweeps/sweep.py": "from verify.sweeps.store import Store\nfrom verify import engine\n",
    "figures/__init__.py": "",
    "figures/f.py": "import numpy\nfrom verify.fit import sigmoid\nfrom verify.registry import declarations\nfrom figures.source import Report\nimport bounds\n",
    "figures/source.py": "import json\n",
}


def test_a_clean_synthetic_tree_passes(tmp_path):
    _write(tmp_path, CLEAN)
    assert violations(tmp_path) == []


@pytest.mark.parametrize("rel, text, says", [
    ("verify/experiments/b.py", "from verify.experiments.a import helper\n", "verify.experiments.b (experiments) imports verify.experiments.a"),
    ("verify/experiments/b.py", "def f():\n    from verify.experiments import a\n", "imports verify.experiments.a"),  # function-local
    ("verify/experiments/b.py", "from verify.training.t import x\n", "imports verify.training.t"),
    ("verify/experiments/b.py", "from verify.sweeps.sweep import versions\n", "imports verify.sweeps.sweep"),
    ("figures/f.py", "from verify.engine import tune\n", "figures.f (figures) imports verify.engine"),
    ("figures/f.py", "def draw():\n    from verify import zoo\n", "imports verify.zoo"),
    ("figures/f.py", "import torch\n", "imports torch"),
    ("figures/f.py", "from verify.experiments.a import x\n", "imports verify.experiments.a"),
    ("bounds/evaluate.py", "from verify.report import compare\n", "bounds.evaluate (bounds) imports verify.report"),
    ("verify/registry.py", "def find():\n    from verify import experiments\n", "verify.registry (core) imports verify.experiments"),
    ("verify/engine.py", "from verify.sweeps import sweep\n", "verify.engine (core) imports verify.sweeps.sweep"),
    ("verify/engine.py", "import importlib\nimportlib.import_module('verify.experiments.a')\n", "imports verify.experiments.a"),
    ("verify/training/t.py", "from verify.experiments import b\n", "verify.training.t (training) imports verify.experiments.b"),
    ("verify/sweeps/sweep.py", "from ..experiments import a\n", "verify.sweeps.sweep (sweeps) imports verify.experiments.a"),
])
def test_a_violation_in_a_synthetic_tree_is_reported(tmp_path, rel, text, says):
    _write(tmp_path, {**CLEAN, rel: text})
    found = violations(tmp_path)
    assert len(found) == 1 and says in found[0], found
    assert found[0].startswith(rel + ":")
