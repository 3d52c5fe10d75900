"""The registry of experiments and figures: each module declares itself once, as data, read without importing it.

An experiment module under ``verify/experiments/`` defines ``EXPERIMENT = Experiment(...)`` and
``run(ctx) -> list[Check]``; a figure module under ``figures/`` defines ``FIGURE = FigureSpec(...)``.
:func:`declarations` reads such a top-level declaration from the module's source (``ast``; literal values and
names bound to literals at the module's top level), so listing names, run order, profiles, result keys and
models imports neither the module nor torch. What only the module itself can compute (typed settings, drawing
functions) is read by importing it, which the layer above does (``verify.all``, ``figures.all``): the core
never imports the experiments.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     count: int
    >>> e = Experiment(name="demo", order=99, results=("t1_grid",), settings={"quick": S(8), "full": S(64)},
    ...                statistical_checks=lambda s: s.count // 8)
    >>> e.settings_for("quick").count, e.runs_under("real"), e.statistical_count("full")
    (8, False, 8)
    >>> [d.name for d in experiment_entries()][:2]
    ['meanfield', 'contexts']
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

PROFILES = ("quick", "full", "real")
EXPERIMENTS_DIR = Path(__file__).resolve().parent / "experiments"
STATIC = ("name", "order", "results", "models", "profiles", "threads")  # what an entry knows without an import


@dataclass(frozen=True)
class Experiment:
    """One experiment's declaration (see the module docstring).

    ``statistical_checks`` is either a mapping profile -> count or a function of the profile's settings that
    computes the count (so a count that follows from the settings is never kept by hand)."""

    name: str                                  # short name, as given to ``--only``
    order: int                                 # run order: cheap, exact experiments first
    results: tuple[str, ...] = ()              # keys of bounds.all_results() its bound/premise checks test
    models: tuple[str, ...] = ()               # committed zoo models it loads (checked before any work)
    profiles: tuple[str, ...] = ("quick", "full")
    settings: Mapping[str, Any] = field(default_factory=dict)   # profile -> typed settings (a dataclass)
    statistical_checks: Mapping[str, int] | Callable[[Any], int] = field(default_factory=dict)
    threads: int = 1                           # torch threads it runs with on CPU
    # profile -> seconds one run takes, as measured (only their ratios matter): side by side, the longest start
    # first (docs/design.md, "Both cores")
    seconds: Mapping[str, float] = field(default_factory=dict)
    module: str = ""                           # dotted module path (filled in by the loader)

    @property
    def module_path(self) -> str:
        """Dotted path of the module that declares this experiment."""
        return self.module or f"verify.experiments.{self.name}"

    def runs_under(self, profile: str) -> bool:
        return profile in self.profiles

    def settings_for(self, profile: str):
        return self.settings[profile]

    def statistical_count(self, profile: str) -> int | None:
        """How many statistical checks the experiment makes under ``profile`` (None: not declared)."""
        if callable(self.statistical_checks):
            return int(self.statistical_checks(self.settings.get(profile))) if profile in self.profiles else None
        return self.statistical_checks.get(profile)


@dataclass(frozen=True)
class Entry:
    """What a module's declaration says without importing it: the static fields of :data:`STATIC`, the
    dotted module path and its file. ``verify.all`` imports ``module`` for the rest."""

    name: str
    order: int
    module: str
    path: Path
    results: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ("quick", "full")
    threads: int = 1

    @property
    def module_path(self) -> str:
        return self.module

    def runs_under(self, profile: str) -> bool:
        return profile in self.profiles


class DeclarationError(ValueError):
    """A declaration whose static fields are not literals (the registry could not read it without an import)."""


def _literals(tree: ast.Module) -> dict:
    """Top-level names bound to literals (``THEOREM = "t1_grid"``), for declarations that use them."""
    known = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                known[node.targets[0].id] = _evaluate(node.value, known)
            except ValueError:
                pass
    return known


def _evaluate(node: ast.AST, known: dict):
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_evaluate(e, known) for e in node.elts)
    return ast.literal_eval(node)


def declarations(folder: Path, package: str, variable: str) -> list[dict]:
    """The ``variable = Call(...)`` declaration of every module in ``folder``: its literal keyword arguments
    (the first positional argument counts as ``name``), plus ``module`` and ``path``; modules without one are
    left out. Keyword arguments that are not literals are left out too (only the import knows them).

    Example:
        >>> [d["name"] for d in declarations(EXPERIMENTS_DIR, "verify.experiments", "EXPERIMENT")][:1]
        ['contexts']
    """
    found = []
    for path in sorted(Path(folder).glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        call = next((n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                     and any(isinstance(t, ast.Name) and t.id == variable for t in n.targets)), None)
        if call is None:
            continue
        known = _literals(tree)
        values = {"module": f"{package}.{path.stem}", "path": path}
        if call.args:
            values["name"] = _evaluate(call.args[0], known)
        for kw in call.keywords:
            if kw.arg is None:
                continue
            try:
                values[kw.arg] = _evaluate(kw.value, known)
            except ValueError:
                pass
        found.append(values)
    return found


def experiment_entries(folder: Path = EXPERIMENTS_DIR, package: str = "verify.experiments") -> list[Entry]:
    """Every experiment declared under ``folder``, in run order, read without importing any of them.

    Raises :class:`DeclarationError` for a declaration whose name or order is not a literal.

    Example:
        >>> entries = experiment_entries()
        >>> len({e.name for e in entries}) == len(entries) and all(e.module.startswith("verify.") for e in entries)
        True
    """
    names = {f.name for f in fields(Entry)}
    out = []
    for d in declarations(folder, package, "EXPERIMENT"):
        if not isinstance(d.get("name"), str) or not isinstance(d.get("order"), int):
            raise DeclarationError(f"{d['path'].name}: EXPERIMENT's name and order must be literals")
        out.append(Entry(**{k: v for k, v in d.items() if k in names}))
    return sorted(out, key=lambda e: (e.order, e.name))


def check_entry(entry: Entry, experiment: Experiment) -> None:
    """Raise :class:`DeclarationError` if what was read from the source differs from the imported declaration."""
    for key in STATIC:
        if getattr(entry, key) != getattr(experiment, key):
            raise DeclarationError(f"{entry.module}: EXPERIMENT.{key} read from the source "
                                   f"({getattr(entry, key)!r}) differs from the imported one "
                                   f"({getattr(experiment, key)!r}); write it as a literal")


def module_of(experiment) -> str:
    """Dotted path of the module that declares ``experiment``."""
    return experiment.module_path
