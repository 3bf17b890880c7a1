"""Rules and defaults have one home: checks that fail when a second copy appears."""
from __future__ import annotations

import re

import yaml

from tests.conftest import PROJECT_DIR

VAR_CALL = re.compile(r"""var\(\s*['"]([a-z_]+)['"]\s*(,)?""")


def _dbt_files() -> list:
    folders = ("models", "macros", "python_models")
    return [p for f in folders for p in (PROJECT_DIR / f).rglob("*") if p.suffix in (".sql", ".yml", ".py")]


def test_every_dbt_var_is_declared_once_with_its_default() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    used, inline_defaults = set(), []
    for path in _dbt_files():
        for match in VAR_CALL.finditer(path.read_text()):
            used.add(match.group(1))
            if match.group(2):
                inline_defaults.append(f"{path.relative_to(PROJECT_DIR)}: var('{match.group(1)}', ...)")
    assert sorted(used - set(declared)) == []  # used but not declared
    assert inline_defaults == []  # a default written beside the call is a second default
    assert sorted(set(declared) - used) == []  # declared but never read


def test_the_cli_defaults_are_the_dbt_vars() -> None:
    from pipeline.cli import build_parser

    declared = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    defaults = {a.dest: a.default for a in build_parser()._actions}
    assert defaults["top_k"] == declared["top_k"] and defaults["variance"] == declared["variance_target"]
    assert list(defaults["weights"]) == [declared[f"weight_{s}"] for s in ("interests", "assessments", "course_views")]
    assert defaults["recall_floor"] == declared["topk_recall_floor"]
    assert defaults["max_drop_share"] == declared["max_drop_share"]


PACKAGES = ("contracts", "simcore", "datagen", "pipeline", "evaluation", "server", "benchmarks")


def package_imports() -> dict[str, set[str]]:
    """Package -> project packages its modules import (anywhere in the file, function-level imports included)."""
    import ast

    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for package in PACKAGES:
        for path in (PROJECT_DIR / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                graph[package] |= {n.split(".")[0] for n in names if n.split(".")[0] in PACKAGES} - {package}
    return graph


def test_project_packages_import_each_other_without_cycles() -> None:
    from graphlib import CycleError, TopologicalSorter

    graph = package_imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between packages: {exc.args[1]}") from exc
    assert order.index("contracts") < order.index("pipeline") < order.index("evaluation")
    assert "pipeline" not in graph["simcore"] | graph["contracts"] | graph["datagen"]
