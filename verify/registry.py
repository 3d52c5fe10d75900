"""The experiment registry: each experiment module declares itself once, as data.

An experiment module under :mod:`verify.experiments` defines ``EXPERIMENT = Experiment(...)`` and
``run(ctx) -> list[Check]``. ``verify.all`` reads run order, the results each experiment checks (for
``--only KEY``), the committed models to preflight, the profiles it runs under and its typed settings from
these declarations, so adding an experiment touches one file.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     count: int
    >>> e = Experiment(name="demo", order=99, results=("t1_grid",), settings={"quick": S(8), "full": S(64)})
    >>> e.settings_for("quick").count, e.runs_under("real")
    (8, False)
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

PROFILES = ("quick", "full", "real")


@dataclass(frozen=True)
class Experiment:
    """One experiment's declaration (see the module docstring)."""

    name: str                                  # short name, as given to ``--only``
    order: int                                 # run order: cheap, exact experiments first
    results: tuple[str, ...] = ()              # keys of bounds.all_results() its bound/premise checks test
    models: tuple[str, ...] = ()               # committed zoo models it loads (checked before any work)
    profiles: tuple[str, ...] = ("quick", "full")
    settings: Mapping[str, Any] = field(default_factory=dict)   # profile -> typed settings (a dataclass)
    statistical_checks: Mapping[str, int] = field(default_factory=dict)  # profile -> number of statistical checks
    threads: int = 1                           # torch threads it runs with on CPU
    module: str = ""                           # dotted module path (filled in by experiments())

    @property
    def module_path(self) -> str:
        """Dotted path of the module that declares this experiment."""
        return self.module or f"verify.experiments.{self.name}"

    def runs_under(self, profile: str) -> bool:
        return profile in self.profiles

    def settings_for(self, profile: str):
        return self.settings[profile]


def experiments() -> list[Experiment]:
    """Every experiment of :mod:`verify.experiments`, in run order (imports each module once).

    Example:
        >>> names = [e.name for e in experiments()]
        >>> len(names) == len(set(names))
        True
    """
    from verify import experiments as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared = getattr(module, "EXPERIMENT", None)
        if isinstance(declared, Experiment):
            found.append(replace(declared, module=module.__name__))
    return sorted(found, key=lambda e: (e.order, e.name))


def module_of(experiment: Experiment) -> str:
    """Dotted path of the module that declares ``experiment``."""
    return experiment.module_path
